//! Metrics, with the `metrics` feature: what the router, the extractor and
//! the inbox workers record through the [`metrics`]
//! facade. Install the exporter of your choice (Prometheus, StatsD, ...)
//! before the server starts: handles are taken on the first delivery a
//! worker thread sees, and a recorder installed after that is not seen.
//!
//! | name | kind | labels | what |
//! |---|---|---|---|
//! | `webhook_deliveries_total` | counter | `scheme`, `event`, `outcome`, `status` | every answer the router gives |
//! | `webhook_verification_seconds` | histogram | `scheme` | checking a request's signature and timestamp, passed or not |
//! | `webhook_secret_matches_total` | counter | `scheme`, `secret` | verified requests, by the [label](crate::Secret::labeled) of the secret that matched |
//! | `webhook_handler_seconds` | histogram | `scheme`, `event` | handlers run inline by the router |
//! | `webhook_claims_in_flight` | gauge | `scheme` | deliveries whose handler runs inline, claimed and not yet settled, in this process (a settle retried in the background after a store error is no longer counted; inbox runs are not counted) |
//! | `webhook_store_errors_total` | counter | `store`, `operation` | failed calls to the delivery-id store (`store="dedupe"`: `claim`, `settle`) or the inbox (`store="inbox"`: `enqueue`, `claim`, `renew`, `record`, `prune`, `stats`) |
//! | `webhook_inbox_deliveries` | gauge | `state` | deliveries in the inbox by state (`queued`, `running`, `retry`, `done`, `dead`), read by the workers every 10 s ([`Workers::depth_every`](crate::inbox::Workers::depth_every)): the whole inbox, the same on every replica; one inbox per process (with two, the last one read shows) |
//! | `webhook_inbox_restarted_runs` | gauge | | runs that did not finish (their process died or stalled) and were started again, read with the depth |
//! | `webhook_inbox_run_seconds` | histogram | `event`, `outcome` | runs of stored deliveries by the workers; `outcome` is `done`, `retry` or `dead` |
//! | `webhook_inbox_retries_total` | counter | `event` | runs that failed and are to run again |
//! | `webhook_inbox_dead_letters_total` | counter | `event` | deliveries that became dead letters (failed every attempt, a payload that does not fit, or unreadable) |
//!
//! Labels stay bounded whatever senders send:
//!
//! - `scheme` is the scheme's [name](crate::scheme::Scheme::name).
//! - `event` is the route, not the name a request carries: the exact name a
//!   handler is registered for, a pattern (`order.*`, `*`),
//!   [`FALLBACK`] for the fallback handler, [`UNROUTED`] for names no route
//!   takes, [`NO_EVENT`] for requests refused before their event name is
//!   read (and for handshakes), and [`BATCH`] for a request holding a batch
//!   of events (counted once, its handlers' time added up).
//! - `outcome` is the acknowledgement's word (`processed`, `accepted`,
//!   `queued`, `duplicate`, `ignored`, `retry`, `gone`; `custom` for an
//!   [`Ack::json`](crate::Ack::json)), `reply` for a handshake the scheme
//!   answers, or the rejection's code (`invalid_signature`,
//!   `timestamp_out_of_tolerance`, `handler_failed`, ... as in the
//!   problem+json body).
//! - `status` is the HTTP status sent, e.g. `"200"`.
//! - `secret` is the secret's label, [`UNLABELED`] for a secret without one,
//!   or [`UNKNOWN_SECRET`] when the scheme does not say which secret
//!   matched. Never the secret. Each labeled secret of a scheme shows as 0
//!   from the moment the router (or `WebhookConfig`) is built, if the
//!   recorder is installed by then; tenants' secrets show from their first
//!   match.
//!
//! The [`Verified`](crate::Verified) extractor records verification and
//! secret matches, and its refusals in `webhook_deliveries_total` (with
//! `event` [`NO_EVENT`]); what its handler answers is the handler's.
//! [`construct_event`](crate::construct_event) and
//! [`Verifier`](crate::standalone::Verifier) record verification and secret
//! matches.

use std::time::{Duration, Instant};

/// `webhook_deliveries_total`: every answer the router gives.
pub const DELIVERIES: &str = "webhook_deliveries_total";
/// `webhook_verification_seconds`: time spent checking signatures.
pub const VERIFICATION_SECONDS: &str = "webhook_verification_seconds";
/// `webhook_secret_matches_total`: verified requests by secret label.
pub const SECRET_MATCHES: &str = "webhook_secret_matches_total";
/// `webhook_handler_seconds`: handlers run inline.
pub const HANDLER_SECONDS: &str = "webhook_handler_seconds";
/// `webhook_claims_in_flight`: claims held, in this process.
pub const CLAIMS_IN_FLIGHT: &str = "webhook_claims_in_flight";
/// `webhook_store_errors_total`: failed store calls.
pub const STORE_ERRORS: &str = "webhook_store_errors_total";
/// `webhook_inbox_deliveries`: the inbox's deliveries by state.
pub const INBOX_DELIVERIES: &str = "webhook_inbox_deliveries";
/// `webhook_inbox_restarted_runs`: runs started again after their process
/// died or stalled.
pub const INBOX_RESTARTED_RUNS: &str = "webhook_inbox_restarted_runs";
/// `webhook_inbox_run_seconds`: runs of stored deliveries.
pub const INBOX_RUN_SECONDS: &str = "webhook_inbox_run_seconds";
/// `webhook_inbox_retries_total`: failed runs to run again.
pub const INBOX_RETRIES: &str = "webhook_inbox_retries_total";
/// `webhook_inbox_dead_letters_total`: deliveries that became dead letters.
pub const INBOX_DEAD_LETTERS: &str = "webhook_inbox_dead_letters_total";

/// The `event` label of a name no route takes.
pub const UNROUTED: &str = "(unrouted)";
/// The `event` label of a name the fallback handler takes.
pub const FALLBACK: &str = "(fallback)";
/// The `event` label of a request answered before its event name is read.
pub const NO_EVENT: &str = "(none)";
/// The `event` label of a request holding a batch of events (HubSpot,
/// Xero), counted once for the whole request.
pub const BATCH: &str = "(batch)";
/// The `secret` label of a secret without a label.
pub const UNLABELED: &str = crate::secret::UNLABELED;
/// The `secret` label when the scheme does not say which secret matched
/// (a scheme of your own that does not set
/// [`Delivery::secret`](crate::scheme::Delivery::secret)).
pub const UNKNOWN_SECRET: &str = crate::secret::UNKNOWN;

/// Gives the installed recorder each metric's description and unit, which
/// exporters print (`# HELP` lines for Prometheus). Call it once, after
/// installing the recorder.
#[cfg(feature = "metrics")]
pub fn describe() {
    use ::metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!(DELIVERIES, "Answers given to webhook deliveries.");
    describe_histogram!(
        VERIFICATION_SECONDS,
        Unit::Seconds,
        "Time spent checking signatures and timestamps."
    );
    describe_counter!(
        SECRET_MATCHES,
        "Verified deliveries by the label of the secret that matched."
    );
    describe_histogram!(
        HANDLER_SECONDS,
        Unit::Seconds,
        "Time spent in handlers run inline."
    );
    describe_gauge!(CLAIMS_IN_FLIGHT, "Deliveries claimed and not settled.");
    describe_counter!(
        STORE_ERRORS,
        "Failed calls to the delivery-id store or the inbox."
    );
    describe_gauge!(INBOX_DELIVERIES, "Deliveries in the inbox by state.");
    describe_gauge!(
        INBOX_RESTARTED_RUNS,
        "Inbox runs started again after their process died or stalled."
    );
    describe_histogram!(
        INBOX_RUN_SECONDS,
        Unit::Seconds,
        "Runs of stored deliveries by the inbox workers."
    );
    describe_counter!(
        INBOX_RETRIES,
        "Inbox runs that failed and are to run again."
    );
    describe_counter!(INBOX_DEAD_LETTERS, "Deliveries that became dead letters.");
}

/// Which store a store error is from.
#[derive(Debug, Clone, Copy)]
pub(crate) enum StoreKind {
    Dedupe,
    #[cfg(feature = "inbox")]
    Inbox,
}

/// A start time when metrics are recorded; nothing to read otherwise.
pub(crate) fn start() -> Option<Instant> {
    #[cfg(feature = "metrics")]
    return Some(Instant::now());
    #[cfg(not(feature = "metrics"))]
    None
}

/// The time since `start`.
pub(crate) fn since(start: Option<Instant>) -> Option<Duration> {
    start.map(|start| start.elapsed())
}

/// An answer of the router (or a refusal of `Verified`), and how long its
/// handler ran when one did.
pub(crate) fn answered(
    scheme: &'static str,
    event: &str,
    outcome: &'static str,
    status: u16,
    handler: Option<Duration>,
) {
    #[cfg(feature = "metrics")]
    recorded::answered(scheme, event, outcome, status, handler);
    #[cfg(not(feature = "metrics"))]
    let _ = (scheme, event, outcome, status, handler);
}

/// A verification that took `took`, and the label of the secret that
/// matched when it passed.
pub(crate) fn verified(scheme: &'static str, took: Option<Duration>, secret: Option<&str>) {
    #[cfg(feature = "metrics")]
    recorded::verified(scheme, took, secret);
    #[cfg(not(feature = "metrics"))]
    let _ = (scheme, took, secret);
}

/// Registers `webhook_secret_matches_total` at 0 for each labeled secret of
/// a scheme being configured, so that a label that has matched nothing yet
/// shows as 0 rather than not at all.
pub(crate) fn secrets_configured(scheme: &'static str, secrets: &crate::Secrets) {
    #[cfg(feature = "metrics")]
    for label in secrets.iter().filter_map(crate::Secret::label) {
        ::metrics::counter!(SECRET_MATCHES, "scheme" => scheme, "secret" => label.to_owned())
            .increment(0);
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (scheme, secrets);
}

/// A claim held, counted in `webhook_claims_in_flight` until dropped
/// (settled, or the request given up).
pub(crate) struct ClaimInFlight {
    #[cfg(feature = "metrics")]
    gauge: ::metrics::Gauge,
}

impl ClaimInFlight {
    pub(crate) fn new(scheme: &'static str) -> Self {
        #[cfg(feature = "metrics")]
        {
            let gauge = recorded::claims_in_flight(scheme);
            gauge.increment(1.0);
            Self { gauge }
        }
        #[cfg(not(feature = "metrics"))]
        {
            let _ = scheme;
            Self {}
        }
    }
}

impl Drop for ClaimInFlight {
    fn drop(&mut self) {
        #[cfg(feature = "metrics")]
        self.gauge.decrement(1.0);
    }
}

/// A failed call to a store.
pub(crate) fn store_error(store: StoreKind, operation: &'static str) {
    #[cfg(feature = "metrics")]
    {
        let store = match store {
            StoreKind::Dedupe => "dedupe",
            #[cfg(feature = "inbox")]
            StoreKind::Inbox => "inbox",
        };
        ::metrics::counter!(STORE_ERRORS, "store" => store, "operation" => operation).increment(1);
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (store, operation);
}

/// The inbox's deliveries in each state.
#[cfg(feature = "inbox")]
pub(crate) fn inbox_depth(stats: &crate::inbox::Stats) {
    #[cfg(feature = "metrics")]
    for state in crate::inbox::State::ALL {
        let count = stats.by_state.get(&state).copied().unwrap_or(0);
        ::metrics::gauge!(INBOX_DELIVERIES, "state" => state.as_str()).set(count as f64);
    }
    #[cfg(feature = "metrics")]
    ::metrics::gauge!(INBOX_RESTARTED_RUNS).set(stats.restarted_runs as f64);
    #[cfg(not(feature = "metrics"))]
    let _ = stats;
}

/// A run of a stored delivery routed as `event`, and what it ended as:
/// `done`, `retry` or `dead`.
#[cfg(feature = "inbox")]
pub(crate) fn inbox_run(event: &str, outcome: &'static str, took: Option<Duration>) {
    #[cfg(feature = "metrics")]
    {
        let event = event.to_owned();
        if let Some(took) = took {
            ::metrics::histogram!(INBOX_RUN_SECONDS, "event" => event.clone(), "outcome" => outcome)
                .record(took);
        }
        match outcome {
            "retry" => ::metrics::counter!(INBOX_RETRIES, "event" => event).increment(1),
            "dead" => ::metrics::counter!(INBOX_DEAD_LETTERS, "event" => event).increment(1),
            _ => {}
        }
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (event, outcome, took);
}

/// A stored delivery that cannot be read, made a dead letter.
#[cfg(feature = "inbox")]
pub(crate) fn inbox_unreadable() {
    #[cfg(feature = "metrics")]
    ::metrics::counter!(INBOX_DEAD_LETTERS, "event" => NO_EVENT).increment(1);
}

/// Handles kept per worker thread: registering a metric with its labels
/// costs a recorder about 250 ns, a kept handle a few.
#[cfg(feature = "metrics")]
mod recorded {
    use std::cell::RefCell;
    use std::hash::{BuildHasher as _, Hash};
    use std::time::Duration;

    use hashbrown::HashTable;
    use metrics::{Counter, Gauge, Histogram};

    use super::*;

    /// Handles by their labels. Label values are bounded and chosen by the
    /// application, not by senders, so a fixed seed is enough.
    struct Kept<K, V> {
        state: foldhash::fast::FixedState,
        table: HashTable<(K, V)>,
    }

    impl<K: Hash, V> Default for Kept<K, V> {
        fn default() -> Self {
            Self {
                state: foldhash::fast::FixedState::default(),
                table: HashTable::new(),
            }
        }
    }

    impl<K: Hash, V> Kept<K, V> {
        /// Uses the handle for `query` (hashed as its key is), registered on
        /// first use.
        fn with<R>(
            &mut self,
            query: &impl Hash,
            is: impl Fn(&K) -> bool,
            new: impl FnOnce() -> (K, V),
            use_handle: impl FnOnce(&mut V) -> R,
        ) -> R {
            let hash = self.state.hash_one(query);
            if let Some((_, handle)) = self.table.find_mut(hash, |(key, _)| is(key)) {
                return use_handle(handle);
            }
            let state = &self.state;
            let mut entry = self
                .table
                .insert_unique(hash, new(), |(key, _)| state.hash_one(key));
            use_handle(&mut entry.get_mut().1)
        }
    }

    /// Whether two labels are the same: the same static string, most of the
    /// time, which spares comparing the bytes.
    fn same(a: &str, b: &str) -> bool {
        std::ptr::eq(a, b) || a == b
    }

    /// `scheme`, `event`, `outcome`, `status`; hashed as the same tuple of
    /// borrowed values.
    type AnswerKey = (&'static str, Box<str>, &'static str, u16);

    thread_local! {
        /// The deliveries counter of an answer, and the handler-time
        /// histogram of its route once a handler ran: registered only then,
        /// so that routes without a handler show no empty histogram.
        static ANSWERS: RefCell<Kept<AnswerKey, (Counter, Option<Histogram>)>> = RefCell::default();
        static SECRETS: RefCell<Kept<(&'static str, Box<str>), Counter>> = RefCell::default();
        static SCHEMES: RefCell<Kept<&'static str, (Histogram, Gauge)>> = RefCell::default();
    }

    pub(super) fn answered(
        scheme: &'static str,
        event: &str,
        outcome: &'static str,
        status: u16,
        handler: Option<Duration>,
    ) {
        let register = || {
            let labels = [
                ("scheme", scheme.to_owned()),
                ("event", event.to_owned()),
                ("outcome", outcome.to_owned()),
                ("status", status.to_string()),
            ];
            let deliveries = ::metrics::counter!(DELIVERIES, &labels);
            ((scheme, event.into(), outcome, status), (deliveries, None))
        };
        ANSWERS.with_borrow_mut(|kept| {
            kept.with(
                &(scheme, event, outcome, status),
                |key| {
                    same(key.0, scheme)
                        && same(&key.1, event)
                        && same(key.2, outcome)
                        && key.3 == status
                },
                register,
                |(deliveries, handler_seconds)| {
                    deliveries.increment(1);
                    if let Some(took) = handler {
                        handler_seconds
                            .get_or_insert_with(|| {
                                let event = event.to_owned();
                                ::metrics::histogram!(HANDLER_SECONDS, "scheme" => scheme, "event" => event)
                            })
                            .record(took);
                    }
                },
            );
        });
    }

    /// Uses the handles kept for `scheme`.
    fn per_scheme<R>(
        scheme: &'static str,
        use_handles: impl FnOnce(&(Histogram, Gauge)) -> R,
    ) -> R {
        SCHEMES.with_borrow_mut(|kept| {
            kept.with(
                &scheme,
                |key| same(key, scheme),
                || {
                    let handles = (
                        ::metrics::histogram!(VERIFICATION_SECONDS, "scheme" => scheme),
                        ::metrics::gauge!(CLAIMS_IN_FLIGHT, "scheme" => scheme),
                    );
                    (scheme, handles)
                },
                |handles| use_handles(handles),
            )
        })
    }

    pub(super) fn verified(scheme: &'static str, took: Option<Duration>, secret: Option<&str>) {
        if let Some(took) = took {
            per_scheme(scheme, |(verification, _)| verification.record(took));
        }
        let Some(secret) = secret else { return };
        SECRETS.with_borrow_mut(|kept| {
            kept.with(
                &(scheme, secret),
                |key| same(key.0, scheme) && same(&key.1, secret),
                || {
                    let counter = ::metrics::counter!(SECRET_MATCHES, "scheme" => scheme, "secret" => secret.to_owned());
                    ((scheme, secret.into()), counter)
                },
                |matches| matches.increment(1),
            );
        });
    }

    /// The `webhook_claims_in_flight` gauge of `scheme`.
    pub(super) fn claims_in_flight(scheme: &'static str) -> Gauge {
        per_scheme(scheme, |(_, in_flight)| in_flight.clone())
    }
}
