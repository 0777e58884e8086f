//! [`Workers`]: run the router's handlers on the deliveries in its inbox,
//! with leases, retries after a [`Backoff`], and dead letters.

use std::cell::Cell;
use std::fmt;
use std::rc::Rc;
use std::time::Duration;

use actix_web::test::TestRequest;
use futures_util::future::{select, LocalBoxFuture};
use tracing::Instrument as _;

use super::sqlite::{Claim, Outcome};
use super::stored::{now_ms, AppData, StoredDelivery};
use super::Inbox;
use crate::ack::Ack;
use crate::handler::Failure;

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
}

/// How often done deliveries are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(10 * 60);

/// When failed runs are tried again: exponential backoff with jitter, up to
/// a number of attempts.
///
/// After the `n`th failed attempt a delivery waits between half of and the
/// whole of `base × 2ⁿ⁻¹`, at most `cap` (the jitter spreads the retries of
/// deliveries that failed together). Defaults: `base` 5 s, `cap` 1 hour, 12
/// attempts, so a delivery is retried for about 4 hours before it is a dead
/// letter. An [`Ack::retry_after(d)`](crate::Ack::retry_after) waits `d`
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
pub struct Workers {
    router: Box<dyn RunStored>,
    inbox: Inbox,
    concurrency: usize,
    lease: Duration,
    backoff: Backoff,
    poll: Duration,
    app_data: Vec<AppData>,
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
        }
    }

    /// How many handlers run at once (default 4, at least 1).
    #[must_use]
    pub fn concurrency(mut self, runs: usize) -> Self {
        self.concurrency = runs.max(1);
        self
    }

    /// The lease a run holds on its delivery (default 30 s, at least 1 s).
    /// It is renewed every third of it while the handler runs, so it bounds
    /// how long a delivery waits after its process was killed, not how long
    /// a handler may take.
    #[must_use]
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease.max(Duration::from_secs(1));
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
    /// and retried; they never end it.
    pub async fn run(self) {
        let owner = random_owner();
        let shared = Rc::new(Shared {
            workers: self,
            owner,
            running: Cell::new(0),
            freed: tokio::sync::Notify::new(),
        });
        let workers = &shared.workers;
        let lease_ms = i64::try_from(workers.lease.as_millis()).unwrap_or(i64::MAX);
        let renew_every = workers.lease / 3;
        let mut next_renew = now_ms();
        let mut next_prune = now_ms();
        tracing::info!(target: "actix_webhook::inbox", concurrency = workers.concurrency, "inbox workers started");
        loop {
            let now = now_ms();
            if now >= next_prune {
                let keep = i64::try_from(workers.inbox.keep_done.as_millis()).unwrap_or(i64::MAX);
                match workers.inbox.store.prune(now.saturating_sub(keep)).await {
                    Ok(0) => {}
                    Ok(pruned) => {
                        tracing::info!(target: "actix_webhook::inbox", pruned, "pruned done deliveries")
                    }
                    Err(error) => {
                        tracing::error!(target: "actix_webhook::inbox", %error, "pruning the inbox failed")
                    }
                }
                next_prune = now + millis(PRUNE_EVERY);
            }
            if now >= next_renew {
                if shared.running.get() > 0 {
                    if let Err(error) = workers.inbox.store.renew(owner, now + lease_ms).await {
                        tracing::error!(target: "actix_webhook::inbox", %error, "renewing leases failed");
                    }
                }
                next_renew = now + millis(renew_every);
            }

            let mut wake_at = now + millis(workers.poll);
            let free = workers.concurrency.saturating_sub(shared.running.get());
            if free > 0 {
                match workers.inbox.store.claim(owner, free, lease_ms).await {
                    Ok((claims, next_due)) => {
                        for claim in claims {
                            shared.running.set(shared.running.get() + 1);
                            actix_web::rt::spawn(run_one(shared.clone(), claim));
                        }
                        if let Some(due) = next_due {
                            wake_at = wake_at.min(due);
                        }
                    }
                    Err(error) => {
                        tracing::error!(target: "actix_webhook::inbox", %error, "taking deliveries from the inbox failed");
                    }
                }
            }
            let wake_at = wake_at.min(next_renew).min(next_prune);
            let sleep = Duration::from_millis(u64::try_from(wake_at - now_ms()).unwrap_or(0));
            // A delivery stored, a slot freed, or a timer (a retry, a lease,
            // the poll) due.
            let woken = select(
                Box::pin(workers.inbox.arrived.notified()),
                Box::pin(shared.freed.notified()),
            );
            select(woken, Box::pin(actix_web::rt::time::sleep(sleep))).await;
        }
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

/// One run of a claimed delivery, and its record.
async fn run_one(shared: Rc<Shared>, claim: Claim) {
    let Claim {
        seq,
        attempt,
        tries,
        started_at,
        delivery,
    } = claim;
    let workers = &shared.workers;
    let outcome = match delivery {
        Err(why) => {
            tracing::error!(target: "actix_webhook::inbox", seq, error = %why, "a stored delivery cannot be read; it is a dead letter");
            Outcome::Dead { error: why }
        }
        Ok(stored) => {
            let span = tracing::info_span!("webhook_run", id = %crate::ids::shown_id(&stored.id), event = %stored.event, attempt);
            let ran = workers
                .router
                .run_stored(stored, attempt, &workers.app_data)
                .instrument(span.clone())
                .await;
            let _entered = span.enter();
            outcome_of(ran, tries, &workers.backoff)
        }
    };
    match workers
        .inbox
        .store
        .finish(seq, shared.owner, attempt, started_at, outcome)
        .await
    {
        Ok(true) => {}
        Ok(false) => {
            tracing::warn!(target: "actix_webhook::inbox", seq, attempt, "a run outlived its lease; its outcome is not recorded, the run that took over counts")
        }
        Err(error) => {
            tracing::error!(target: "actix_webhook::inbox", seq, %error, "recording a run failed; the delivery runs again after its lease")
        }
    }
    shared.running.set(shared.running.get() - 1);
    shared.freed.notify_one();
}

/// What a run's result means for its delivery, after `tries` runs.
fn outcome_of(ran: Result<crate::Ack, Failure>, tries: u32, backoff: &Backoff) -> Outcome {
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
    Outcome::Retry {
        at: now_ms().saturating_add(millis(wait)),
        error,
    }
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// A random number in `[0, 1)`, for jitter.
fn random_fraction() -> f64 {
    let mut bytes = [0_u8; 8];
    let _ = getrandom::fill(&mut bytes);
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1_u64 << 53) as f64
}

/// A token for the leases of one [`Workers::run`].
fn random_owner() -> i64 {
    let mut bytes = [0_u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        bytes = now_ms().to_le_bytes();
        bytes[0] ^= std::process::id() as u8;
    }
    i64::from_le_bytes(bytes)
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
}
