//! What the inbox asks of its storage, and the two stores that do it: an
//! SQLite file ([`Sqlite`]) or a Redis server ([`Redis`]). The workers and
//! the admin calls see only [`Store`].

use std::fmt;
use std::sync::Arc;

use super::admin::{Details, Filter, Selection, Stats, Summary};
#[cfg(feature = "redis")]
use super::redis::Redis;
#[cfg(feature = "sqlite")]
use super::sqlite::Sqlite;
use super::stored::{NewDelivery, RawDelivery, StoredDelivery};
use super::InboxError;

/// What a run ended with, as recorded.
#[derive(Debug, Clone)]
pub(super) enum Outcome {
    Done,
    /// Run again `after` this from when it is recorded, by the store's
    /// clock (Redis's, for the Redis store).
    Retry {
        after: std::time::Duration,
        error: String,
    },
    Dead {
        error: String,
    },
}

/// A delivery a worker claimed for one run.
pub(super) struct Claim {
    pub(super) seq: i64,
    /// This run's number, from 1.
    pub(super) attempt: u32,
    /// Runs since it was stored or last replayed, this one included.
    pub(super) tries: u32,
    pub(super) started_at: i64,
    pub(super) delivery: StoredDelivery,
}

impl Claim {
    /// Run `attempt` of `seq` (`tries` since stored or replayed) of the
    /// delivery read as `raw`, or why what was read is no run.
    pub(super) fn new(
        seq: i64,
        attempt: i64,
        tries: i64,
        started_at: i64,
        raw: RawDelivery,
    ) -> Result<Self, String> {
        let count = |n: i64| u32::try_from(n).map_err(|_| "the stored attempt count is not one");
        Ok(Self {
            seq,
            attempt: count(attempt)?,
            tries: count(tries)?,
            started_at,
            delivery: StoredDelivery::try_from(raw)
                .map_err(|e| format!("the stored delivery does not parse: {e}"))?,
        })
    }
}

/// What a claim took: the runs to start, the deliveries that no longer read
/// as one (made dead letters on the spot), and, when fewer than asked for
/// were due, in how many milliseconds the next one is due (0 when it is
/// already): a delay, so that a replica whose clock is off by the store's
/// does not sleep too long or spin.
pub(super) struct Claimed {
    pub(super) runs: Vec<Claim>,
    pub(super) damaged: Vec<(i64, String)>,
    pub(super) next_due: Option<i64>,
}

/// Where an [`Inbox`](super::Inbox) keeps its deliveries. Both stores keep
/// the same promises; the conformance tests run against each.
#[derive(Clone)]
pub(super) enum Store {
    #[cfg(feature = "sqlite")]
    Sqlite(Arc<Sqlite>),
    #[cfg(feature = "redis")]
    Redis(Arc<Redis>),
}

/// Calls `$call` on whichever store `$store` is.
macro_rules! each {
    ($store:expr, $s:ident => $call:expr) => {
        match $store {
            #[cfg(feature = "sqlite")]
            Store::Sqlite($s) => $call,
            #[cfg(feature = "redis")]
            Store::Redis($s) => $call,
        }
    };
}

impl Store {
    /// Stores `delivery` as queued; `false` when its key is already there.
    pub(super) async fn insert(&self, delivery: NewDelivery) -> Result<bool, InboxError> {
        each!(self, s => s.insert(delivery).await)
    }

    /// Takes up to `n` due deliveries for `owner`, each for a lease of
    /// `lease_ms` (`limit`: how many SQLite looks at, the same on every
    /// call; Redis needs none). A delivery whose lease ran out while
    /// running is taken over; its unfinished run is recorded `interrupted`.
    pub(super) async fn claim(
        &self,
        owner: i64,
        n: usize,
        limit: usize,
        lease_ms: i64,
    ) -> Result<Claimed, InboxError> {
        each!(self, s => s.claim(owner, n, limit, lease_ms).await)
    }

    /// Extends the lease of run `attempt` of `seq` to `lease_ms` from now,
    /// while `owner` holds it.
    pub(super) async fn renew(
        &self,
        seq: i64,
        owner: i64,
        attempt: u32,
        lease_ms: i64,
    ) -> Result<(), InboxError> {
        each!(self, s => s.renew(seq, owner, attempt, lease_ms).await)
    }

    /// Records how run `attempt` of `seq` ended; `false` when `owner` no
    /// longer held it (its lease ran out and another run took it over).
    pub(super) async fn finish(
        &self,
        seq: i64,
        owner: i64,
        attempt: u32,
        started_at: i64,
        outcome: Outcome,
    ) -> Result<bool, InboxError> {
        each!(self, s => s.finish(seq, owner, attempt, started_at, outcome).await)
    }

    /// Deletes up to `chunk` done deliveries finished before `before` (unix
    /// ms); how many.
    pub(super) async fn prune(&self, before: i64, chunk: u32) -> Result<u64, InboxError> {
        each!(self, s => s.prune(before, chunk).await)
    }

    pub(super) async fn stats(&self) -> Result<Stats, InboxError> {
        each!(self, s => s.stats().await)
    }

    pub(super) async fn list(&self, filter: Filter) -> Result<Vec<Summary>, InboxError> {
        each!(self, s => s.list(filter).await)
    }

    pub(super) async fn show(&self, id: String) -> Result<Vec<Details>, InboxError> {
        each!(self, s => s.show(id).await)
    }

    pub(super) async fn replay(
        &self,
        selection: Selection,
        dry_run: bool,
    ) -> Result<Vec<Summary>, InboxError> {
        each!(self, s => s.replay(selection, dry_run).await)
    }

    pub(super) async fn purge(&self, selection: Selection) -> Result<u64, InboxError> {
        each!(self, s => s.purge(selection).await)
    }
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        each!(self, s => fmt::Debug::fmt(s, f))
    }
}
