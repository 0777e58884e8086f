//! [`Workers`]: run the router's handlers on the deliveries in its inbox,
//! with leases, retries after a [`Backoff`], and dead letters.

use std::cell::Cell;
use std::fmt;
use std::rc::Rc;
use std::time::Duration;

use actix_web::test::TestRequest;
use futures_util::future::{select, LocalBoxFuture};
use tracing::Instrument as _;

use super::store::{Claim, Outcome, Store};
use super::stored::{now_ms, random_bytes, AppData, StoredDelivery};
use super::Inbox;
use crate::ack::Ack;
use crate::handler::Failure;
use crate::metrics::{self, StoreKind};

/// What runs a stored delivery's handler: the router, which knows the
/// routes. A trait so that the inbox does not depend on the router.
pub(crate) trait RunStored {
    /// Runs the handler for `stored` on run `attempt`, its extractors seeing
    /// the stored request and `app_data`.
    fn run_stored<'a>(
        &'a self,
        stored: StoredDelivery,
        attempt: u32,
        app_data: &'a [AppData],
    ) -> LocalBoxFuture<'a, Result<Ack, Failure>>;

    /// What a delivery stored as `event` is counted under in the metrics:
    /// its route (see `crate::metrics`).
    fn event_label<'a>(&'a self, event: &'a str) -> &'a str;
}

/// How often done deliveries are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(10 * 60);

/// The longest lease [`Workers::lease`] gives.
const MAX_LEASE: Duration = Duration::from_secs(24 * 60 * 60);

/// How often claims that keep failing are logged as an error again.
const OUTAGE_LOGGED_EVERY: Duration = Duration::from_secs(60);

/// When failed runs are tried again: exponential backoff with jitter, up to
/// a number of attempts.
///
/// After the `n`th failed attempt a delivery waits between half of and the
/// whole of `base × 2ⁿ⁻¹`, at most `cap` (the jitter spreads the retries of
/// deliveries that failed together). Defaults: `base` 5 s, `cap` 1 hour, 12
/// attempts: the eleven waits add up to between 1.2 and 2.4 hours before a
/// delivery that keeps failing is a dead letter. An [`Ack::retry_after(d)`](crate::Ack::retry_after) waits `d`
/// instead; it still counts as an attempt.
///
/// ```
/// use std::time::Duration;
/// use actix_webhook::inbox::Backoff;
///
/// let backoff = Backoff::exponential(Duration::from_secs(1), Duration::from_secs(60))
///     .max_attempts(5);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    max_attempts: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(5),
            cap: Duration::from_secs(60 * 60),
            max_attempts: 12,
        }
    }
}

impl Backoff {
    /// Waits of `base`, doubling after each failure, at most `cap`, with the
    /// default 12 attempts.
    pub fn exponential(base: Duration, cap: Duration) -> Self {
        Self {
            base,
            cap,
            ..Self::default()
        }
    }

    /// Runs a delivery at most `attempts` times (at least once) before it is
    /// a dead letter.
    #[must_use]
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// The wait after the `failures`th failure in a row.
    fn delay(&self, failures: u32) -> Duration {
        let doubled = self
            .base
            .checked_mul(
                1_u32
                    .checked_shl(failures.saturating_sub(1))
                    .unwrap_or(u32::MAX),
            )
            .unwrap_or(self.cap);
        let full = doubled.min(self.cap);
        let half = full / 2;
        half + half.mul_f64(random_fraction())
    }
}

/// The workers of a router in inbox mode: they take due deliveries from its
/// [`Inbox`], run their handlers and record the outcome. Made by
/// [`WebhookRouter::workers`](crate::WebhookRouter::workers).
///
/// Spawn [`run`](Self::run) on the actix runtime of the process, next to the
/// `HttpServer` (`actix_web::rt::spawn(workers.run())` in an
/// `#[actix_web::main]`); it runs until the runtime stops or the task is
/// dropped. Handlers run on that thread, [`concurrency`](Self::concurrency)
/// at a time; their extractors see the stored method, path, query, headers
/// and path parameters, and the app data given with
/// [`app_data`](Self::app_data).
///
/// Several `Workers`, in one process or in several processes sharing the
/// inbox file, share the work: each delivery is leased to one run at a time.
///
/// ```no_run
/// # async fn run(hooks: actix_webhook::WebhookRouter) {
/// use std::time::Duration;
/// use actix_web::web;
/// use actix_webhook::inbox::Backoff;
///
/// struct Db;
///
/// let workers = hooks
///     .workers()
///     .concurrency(8)
///     .lease(Duration::from_secs(60))
///     .backoff(Backoff::exponential(Duration::from_secs(1), Duration::from_secs(600)).max_attempts(20))
///     .app_data(web::Data::new(Db)); // for `web::Data<Db>` parameters
/// actix_web::rt::spawn(workers.run());
/// # }
/// ```
pub struct Workers {
    router: Box<dyn RunStored>,
    inbox: Inbox,
    concurrency: usize,
    lease: Duration,
    backoff: Backoff,
    poll: Duration,
    app_data: Vec<AppData>,
    /// How often the inbox's counts are read for the metrics.
    #[cfg(feature = "metrics")]
    depth_every: Duration,
}

impl Workers {
    pub(crate) fn new(router: Box<dyn RunStored>, inbox: Inbox) -> Self {
        Self {
            router,
            inbox,
            concurrency: 4,
            lease: Duration::from_secs(30),
            backoff: Backoff::default(),
            poll: Duration::from_secs(1),
            app_data: Vec::new(),
            #[cfg(feature = "metrics")]
            depth_every: Duration::from_secs(10),
        }
    }

    /// How many handlers run at once (default 4, at least 1).
    #[must_use]
    pub fn concurrency(mut self, runs: usize) -> Self {
        self.concurrency = runs.max(1);
        self
    }

    /// The lease a run holds on its delivery (default 30 s, at least 1 s,
    /// at most 24 hours: a longer one is taken as 24 hours). It is renewed
    /// every third of it while the handler runs, so it bounds how long a
    /// delivery waits after its process was killed, not how long a handler
    /// may take.
    #[must_use]
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease.clamp(Duration::from_secs(1), MAX_LEASE);
        self
    }

    /// When failed runs are tried again (see [`Backoff`]).
    #[must_use]
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// How often the inbox is looked at for deliveries stored by other
    /// processes (default 1 s). Deliveries this process stores, and retries
    /// coming due, are run without waiting for it.
    #[must_use]
    pub fn poll_interval(mut self, every: Duration) -> Self {
        self.poll = every.max(Duration::from_millis(10));
        self
    }

    /// How often the inbox's counts by state are read for the
    /// `webhook_inbox_deliveries` gauge (default 10 s, at least 100 ms).
    /// Each read counts the whole inbox (a `GROUP BY` in SQLite, one call
    /// in Redis); every replica reports the same counts.
    #[cfg(feature = "metrics")]
    #[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
    #[must_use]
    pub fn depth_every(mut self, every: Duration) -> Self {
        self.depth_every = every.max(Duration::from_millis(100));
        self
    }

    /// App data for the handlers' extractors, as `App::app_data` takes it:
    /// `web::Data<T>` for a `web::Data<T>` parameter.
    #[must_use]
    pub fn app_data<T: Clone + Send + Sync + 'static>(mut self, data: T) -> Self {
        self.app_data
            .push(std::sync::Arc::new(move |request: TestRequest| {
                request.app_data(data.clone())
            }));
        self
    }

    /// Runs deliveries until the task is dropped. Store errors are logged
    /// and retried; they never end it. Runs already started when it is
    /// dropped go on to their end (renewing their leases) and record their
    /// outcome, as long as the runtime runs.
    pub async fn run(self) {
        let shared = Rc::new(Shared {
            workers: self,
            owner: random_owner(),
            running: Cell::new(0),
            freed: tokio::sync::Notify::new(),
        });
        let workers = &shared.workers;
        let mut next_prune = now_ms();
        #[cfg(feature = "metrics")]
        let mut next_depth = now_ms();
        // While claims fail: logged as an error at first and once a minute,
        // retried every poll until the store answers.
        let mut outage = Outage::default();
        tracing::info!(target: "actix_webhook::inbox", concurrency = workers.concurrency, "inbox workers started");
        loop {
            let now = now_ms();
            if now >= next_prune {
                prune(&workers.inbox).await;
                next_prune = now.saturating_add(millis(PRUNE_EVERY));
            }
            #[cfg(feature = "metrics")]
            if now >= next_depth {
                match workers.inbox.stats().await {
                    Ok(stats) => metrics::inbox_depth(&stats),
                    Err(error) => {
                        tracing::warn!(target: "actix_webhook::inbox", %error, "reading the inbox's counts failed");
                        metrics::store_error(StoreKind::Inbox, "stats");
                    }
                }
                next_depth = now.saturating_add(millis(workers.depth_every));
            }

            // At least four looks per lease: the Redis inbox takes a
            // lease-long silence of every worker for an outage of Redis.
            let poll = workers.poll.min(workers.lease / 4);
            let mut wake_at = now.saturating_add(millis(poll));
            let free = workers.concurrency.saturating_sub(shared.running.get());
            if free > 0 {
                let lease = millis(workers.lease);
                let claim =
                    workers
                        .inbox
                        .store
                        .claim(shared.owner, free, workers.concurrency, lease);
                match claim.await {
                    Ok(claimed) => {
                        if outage.ended() {
                            tracing::info!(target: "actix_webhook::inbox", "the inbox answers again; the workers go on");
                        }
                        for (seq, error) in claimed.damaged {
                            tracing::error!(target: "actix_webhook::inbox", seq, %error, "a stored delivery cannot be read; it is a dead letter");
                            metrics::inbox_unreadable();
                        }
                        for run in claimed.runs {
                            shared.running.set(shared.running.get() + 1);
                            actix_web::rt::spawn(run_one(shared.clone(), run));
                        }
                        if let Some(due_in) = claimed.next_due {
                            wake_at = wake_at.min(now_ms().saturating_add(due_in));
                        }
                    }
                    Err(error) => {
                        metrics::store_error(StoreKind::Inbox, "claim");
                        match outage.failed(now_ms()) {
                            Some(0) => {
                                tracing::error!(target: "actix_webhook::inbox", %error, "taking deliveries from the inbox failed; the workers wait and try again every poll interval");
                            }
                            Some(failing_ms) => {
                                let failing_s = failing_ms / 1000;
                                tracing::error!(target: "actix_webhook::inbox", %error, failing_s, "taking deliveries from the inbox still fails; the workers wait and try again every poll interval");
                            }
                            None => {
                                tracing::debug!(target: "actix_webhook::inbox", %error, "taking deliveries from the inbox failed again");
                            }
                        }
                    }
                }
            }
            let wake_at = wake_at.min(next_prune);
            #[cfg(feature = "metrics")]
            let wake_at = wake_at.min(next_depth);
            let sleep = Duration::from_millis(u64::try_from(wake_at - now_ms()).unwrap_or(0));
            // A delivery stored, a slot freed, or a timer (a retry, the poll,
            // pruning) due.
            let woken = select(
                Box::pin(workers.inbox.arrived.notified()),
                Box::pin(shared.freed.notified()),
            );
            select(woken, Box::pin(actix_web::rt::time::sleep(sleep))).await;
        }
    }
}

/// Claims failing one after another: when they began and when that was last
/// logged as an error (unix ms, the replica's clock).
#[derive(Debug, Default)]
struct Outage(Option<(i64, i64)>);

impl Outage {
    /// A claim failed at `now`: how long claims have been failing, when it
    /// is to be logged as an error (the first failure, then one a
    /// [minute](OUTAGE_LOGGED_EVERY)); `None` when not.
    fn failed(&mut self, now: i64) -> Option<i64> {
        match &mut self.0 {
            None => {
                self.0 = Some((now, now));
                Some(0)
            }
            Some((since, logged)) => {
                if now < *logged {
                    // The clock was set back: a minute from now.
                    *logged = now;
                    return None;
                }
                (now.saturating_sub(*logged) >= millis(OUTAGE_LOGGED_EVERY)).then(|| {
                    *logged = now;
                    now.saturating_sub(*since).max(1)
                })
            }
        }
    }

    /// A claim went through: whether claims had been failing.
    fn ended(&mut self) -> bool {
        self.0.take().is_some()
    }
}

/// Deletes the done deliveries older than the inbox keeps them, a chunk at
/// a time.
async fn prune(inbox: &Inbox) {
    const CHUNK: u32 = 500;
    let before = now_ms().saturating_sub(millis(inbox.keep_done));
    let mut pruned = 0;
    loop {
        match inbox.store.prune(before, CHUNK).await {
            Ok(n) => {
                pruned += n;
                if n < u64::from(CHUNK) {
                    break;
                }
            }
            Err(error) => {
                tracing::error!(target: "actix_webhook::inbox", %error, "pruning the inbox failed");
                metrics::store_error(StoreKind::Inbox, "prune");
                break;
            }
        }
    }
    if pruned > 0 {
        tracing::info!(target: "actix_webhook::inbox", pruned, "pruned done deliveries");
    }
}

impl fmt::Debug for Workers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Workers")
            .field("inbox", &self.inbox)
            .field("concurrency", &self.concurrency)
            .field("lease", &self.lease)
            .field("backoff", &self.backoff)
            .field("poll", &self.poll)
            .finish_non_exhaustive()
    }
}

/// What the runs of one [`Workers::run`] share.
struct Shared {
    workers: Workers,
    /// Who holds the leases taken by this `run`.
    owner: i64,
    running: Cell<usize>,
    /// Told when a run ends and its slot is free.
    freed: tokio::sync::Notify,
}

/// One run of a claimed delivery and its record, holding the lease (renewed
/// every third of it) until the record is written.
async fn run_one(shared: Rc<Shared>, claim: Claim) {
    let _slot = Slot(&shared);
    let Claim {
        seq,
        attempt,
        tries,
        started_at,
        delivery,
    } = claim;
    let workers = &shared.workers;
    let store = &workers.inbox.store;
    let owner = shared.owner;
    let work = async {
        let span = tracing::info_span!("webhook_run", id = %crate::ids::shown_id(&delivery.id), event = %delivery.event, attempt);
        let event = delivery.event.clone();
        let started = metrics::start();
        let ran = workers
            .router
            .run_stored(delivery, attempt, &workers.app_data)
            .instrument(span.clone())
            .await;
        let outcome = span.in_scope(|| outcome_of(ran, tries, &workers.backoff));
        let ended = match &outcome {
            Outcome::Done => "done",
            Outcome::Retry { .. } => "retry",
            Outcome::Dead { .. } => "dead",
        };
        let took = metrics::since(started);
        let run = Run {
            seq,
            owner,
            attempt,
            started_at,
        };
        // Counted once recorded: a run that lost its lease is the other
        // run's to count.
        if record(store, &run, outcome).await {
            metrics::inbox_run(workers.router.event_label(&event), ended, took);
        }
    };
    let renew = async {
        loop {
            actix_web::rt::time::sleep(workers.lease / 3).await;
            let lease = millis(workers.lease);
            if let Err(error) = store.renew(seq, owner, attempt, lease).await {
                tracing::error!(target: "actix_webhook::inbox", seq, %error, "renewing a lease failed");
                metrics::store_error(StoreKind::Inbox, "renew");
            }
        }
    };
    select(Box::pin(work), Box::pin(renew)).await;
}

/// Which run a record is for.
struct Run {
    seq: i64,
    owner: i64,
    attempt: u32,
    started_at: i64,
}

/// How long a run's outcome is retried while the store fails.
const RECORD_PATIENCE: Duration = Duration::from_secs(10 * 60);

/// Writes a run's outcome, trying again while the store fails (for up to
/// [`RECORD_PATIENCE`]). The run's lease is renewed meanwhile, and a
/// record that comes late is still taken if no other run took the
/// delivery over; one given up on leaves the delivery to run again.
/// Whether the outcome was recorded.
async fn record(store: &Store, run: &Run, outcome: Outcome) -> bool {
    let give_up = now_ms().saturating_add(millis(RECORD_PATIENCE));
    let mut pause = Duration::from_millis(100);
    let Run {
        seq,
        owner,
        attempt,
        started_at,
    } = *run;
    let mut failures = 0_u32;
    loop {
        match store
            .finish(seq, owner, attempt, started_at, outcome.clone())
            .await
        {
            Ok(true) => return true,
            Ok(false) => {
                tracing::warn!(target: "actix_webhook::inbox", seq, attempt, "a run outlived its lease; its outcome is not recorded, the run that took over counts");
                return false;
            }
            Err(error) if now_ms() >= give_up => {
                metrics::store_error(StoreKind::Inbox, "record");
                tracing::error!(target: "actix_webhook::inbox", seq, %error, "recording a run failed; the delivery runs again after its lease");
                return false;
            }
            Err(error) => {
                metrics::store_error(StoreKind::Inbox, "record");
                failures += 1;
                if failures == 1 {
                    tracing::warn!(target: "actix_webhook::inbox", seq, %error, "recording a run failed; trying again");
                } else {
                    tracing::debug!(target: "actix_webhook::inbox", seq, %error, failures, "recording a run failed again");
                }
                actix_web::rt::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(1));
            }
        }
    }
}

/// A run's place among the `concurrency` slots, given back when the run
/// ends, however it ends.
struct Slot<'a>(&'a Shared);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.0.running.set(self.0.running.get() - 1);
        self.0.freed.notify_one();
    }
}

/// What a run's result means for its delivery, after `tries` runs.
pub(super) fn outcome_of(
    ran: Result<crate::Ack, Failure>,
    tries: u32,
    backoff: &Backoff,
) -> Outcome {
    let (error, wait) = match ran {
        Ok(ack) if ack.is_final() => return Outcome::Done,
        Ok(ack) => (
            format!("the handler answered {}", ack.status()),
            ack.retry_delay(),
        ),
        Err(Failure::Rejected(rejection)) => {
            tracing::warn!(target: "actix_webhook::inbox", error = %rejection, "the payload does not fit the handler; the delivery is a dead letter");
            return Outcome::Dead {
                error: rejection.to_string(),
            };
        }
        Err(Failure::Error(message)) => (message, None),
    };
    if tries >= backoff.max_attempts {
        tracing::warn!(target: "actix_webhook::inbox", %error, tries, "the delivery failed its last attempt; it is a dead letter");
        return Outcome::Dead {
            error: format!("{error} (attempt {tries} of {})", backoff.max_attempts),
        };
    }
    let wait = wait.unwrap_or_else(|| backoff.delay(tries));
    Outcome::Retry { after: wait, error }
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// A random number in `[0, 1)`, for jitter.
fn random_fraction() -> f64 {
    (u64::from_le_bytes(random_bytes()) >> 11) as f64 / (1_u64 << 53) as f64
}

/// A token for the leases of one [`Workers::run`].
fn random_owner() -> i64 {
    i64::from_le_bytes(random_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_up_to_its_cap() {
        let backoff = Backoff::exponential(Duration::from_secs(1), Duration::from_secs(8));
        for _ in 0..100 {
            let first = backoff.delay(1);
            assert!(first >= Duration::from_millis(500) && first <= Duration::from_secs(1));
            let third = backoff.delay(3);
            assert!(third >= Duration::from_secs(2) && third <= Duration::from_secs(4));
            let late = backoff.delay(40);
            assert!(late >= Duration::from_secs(4) && late <= Duration::from_secs(8));
        }
        assert_eq!(backoff.max_attempts(0).max_attempts, 1);
    }

    #[test]
    fn failing_claims_are_logged_as_errors_once_a_minute() {
        let mut outage = Outage::default();
        assert!(!outage.ended());
        assert_eq!(outage.failed(1_000), Some(0));
        assert_eq!(outage.failed(2_000), None);
        assert_eq!(outage.failed(60_999), None);
        assert_eq!(outage.failed(61_000), Some(60_000));
        assert_eq!(outage.failed(61_001), None);
        assert_eq!(outage.failed(121_000), Some(120_000));
        assert_eq!(outage.failed(500), None, "the clock went back");
        assert_eq!(outage.failed(60_499), None);
        assert_eq!(outage.failed(60_500), Some(59_500));
        assert!(outage.ended());
        assert_eq!(outage.failed(200_000), Some(0), "a new outage");
    }
}
