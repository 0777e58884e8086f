//! What the inbox tells its operator, and how an operator picks deliveries:
//! the types behind `webhook inbox stats|list|show|replay|purge`.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use actix_web::web::Bytes;
use chrono::{DateTime, Utc};

/// Where a stored delivery is in its life.
///
/// ```
/// use actix_webhook::inbox::State;
///
/// assert_eq!("dead".parse::<State>(), Ok(State::Dead));
/// assert_eq!(State::Retry.to_string(), "retry");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum State {
    /// Waiting for its first run (or queued again by a replay).
    Queued,
    /// A worker holds its lease and runs it.
    Running,
    /// A run failed; it runs again at its next time.
    Retry,
    /// A run succeeded.
    Done,
    /// A dead letter: its payload does not fit its handler, or it failed
    /// every attempt. Waits for a replay.
    Dead,
}

impl State {
    /// Every state, in their order.
    pub const ALL: [State; 5] = [
        State::Queued,
        State::Running,
        State::Retry,
        State::Done,
        State::Dead,
    ];

    /// The name stored and shown: `queued`, `running`, `retry`, `done`,
    /// `dead`.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Queued => "queued",
            State::Running => "running",
            State::Retry => "retry",
            State::Done => "done",
            State::Dead => "dead",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for State {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        State::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| format!("`{s}` is not a state (queued, running, retry, done, dead)"))
    }
}

/// Counts of the deliveries in an inbox.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Deliveries per state.
    pub by_state: BTreeMap<State, u64>,
    /// Deliveries per event name and state.
    pub by_event: BTreeMap<String, BTreeMap<State, u64>>,
    /// Runs that did not finish (the process died or stalled holding the
    /// lease) and were started again.
    pub restarted_runs: u64,
}

/// Which deliveries [`Inbox::list`](super::Inbox::list) shows.
///
/// ```
/// use actix_webhook::inbox::{Filter, State};
///
/// let recent_failures = Filter::default().state(State::Retry).event("order_paid").limit(20);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Filter {
    /// Only in this state.
    pub state: Option<State>,
    /// Only of this event.
    pub event: Option<String>,
    /// Only received at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// At most this many (default 100).
    pub limit: u32,
}

impl Default for Filter {
    fn default() -> Self {
        Self {
            state: None,
            event: None,
            since: None,
            limit: 100,
        }
    }
}

/// Which deliveries [`Inbox::replay`](super::Inbox::replay) and
/// [`Inbox::purge`](super::Inbox::purge) act on: those matching every field
/// set. A replay takes done and dead deliveries, and queued or retrying ones
/// named by id (run now); a purge only done and dead ones.
///
/// ```
/// use actix_webhook::inbox::Selection;
///
/// let failed_orders = Selection::dead().event("order_paid");
/// let one = Selection::id("msg_2Lx8");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Selection {
    /// Only the deliveries with this id.
    pub id: Option<String>,
    /// Only dead letters.
    pub dead: bool,
    /// Only of this event.
    pub event: Option<String>,
    /// Only received at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Only finished (done or dead) before this time.
    pub finished_before: Option<DateTime<Utc>>,
}

impl Filter {
    /// Only deliveries in `state`.
    #[must_use]
    pub fn state(mut self, state: State) -> Self {
        self.state = Some(state);
        self
    }

    /// Only deliveries of `event`.
    #[must_use]
    pub fn event(mut self, event: &str) -> Self {
        self.event = Some(event.to_owned());
        self
    }

    /// Only deliveries received at or after `time`.
    #[must_use]
    pub fn since(mut self, time: DateTime<Utc>) -> Self {
        self.since = Some(time);
        self
    }

    /// At most `limit` deliveries.
    #[must_use]
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = limit;
        self
    }
}

impl Selection {
    /// The deliveries with id `id`.
    pub fn id(id: &str) -> Self {
        Self {
            id: Some(id.to_owned()),
            ..Self::default()
        }
    }

    /// Every dead letter.
    pub fn dead() -> Self {
        Self {
            dead: true,
            ..Self::default()
        }
    }

    /// Only those of `event`.
    #[must_use]
    pub fn event(mut self, event: &str) -> Self {
        self.event = Some(event.to_owned());
        self
    }

    /// Only those received at or after `time`.
    #[must_use]
    pub fn since(mut self, time: DateTime<Utc>) -> Self {
        self.since = Some(time);
        self
    }

    /// Only those finished (done or dead) before `time`.
    #[must_use]
    pub fn finished_before(mut self, time: DateTime<Utc>) -> Self {
        self.finished_before = Some(time);
        self
    }
}

/// One delivery, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Summary {
    /// The sender's delivery id, or the one assigned.
    pub id: String,
    /// Whether the id was assigned (the delivery carried none).
    pub id_assigned: bool,
    /// The tenant it came for.
    pub tenant: Option<String>,
    /// Its event name.
    pub event: String,
    /// Where it is.
    pub state: State,
    /// Runs started so far.
    pub attempts: u32,
    /// When it was stored.
    pub received_at: DateTime<Utc>,
    /// When it runs next (queued and retrying deliveries), or when the
    /// current run's lease ends (running ones).
    pub next_run: Option<DateTime<Utc>>,
    /// The last failure, for retrying and dead deliveries.
    pub last_error: Option<String>,
}

/// One delivery with everything stored about it.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Details {
    /// What the list shows.
    pub summary: Summary,
    /// The scheme that verified it.
    pub scheme: String,
    /// The request's method.
    pub method: String,
    /// The path and query, as received (a secret put in the URL's query by
    /// the sender is stored with it).
    pub target: String,
    /// The headers, byte for byte (credentials such as `Authorization` are
    /// never stored).
    pub headers: Vec<(String, Bytes)>,
    /// The body, byte for byte.
    pub body: Bytes,
    /// Every run, oldest first.
    pub attempts: Vec<Attempt>,
}

impl fmt::Debug for Details {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Details")
            .field("summary", &self.summary)
            .field("scheme", &self.scheme)
            .field("target", &self.target)
            .field("headers", &self.headers.len())
            .field("body", &self.body.len())
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

/// One run of a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Attempt {
    /// Its number, from 1.
    pub number: u32,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it ended (or was found abandoned).
    pub finished_at: DateTime<Utc>,
    /// `done`, `retry`, `dead`, or `interrupted` (the run never finished).
    pub outcome: String,
    /// What failed.
    pub error: Option<String>,
}

impl Selection {
    /// The states a replay takes: done and dead deliveries (dead ones only
    /// with [`dead`](Self::dead)); named by id, queued and retrying ones too
    /// (run now).
    pub(crate) fn replay_states(&self) -> &'static [State] {
        if self.id.is_some() && !self.dead {
            &[State::Queued, State::Retry, State::Done, State::Dead]
        } else {
            self.purge_states()
        }
    }

    /// The states a purge takes: dead letters, or done ones too.
    pub(crate) fn purge_states(&self) -> &'static [State] {
        if self.dead {
            &[State::Dead]
        } else {
            &[State::Done, State::Dead]
        }
    }
}

impl Stats {
    /// Counts `count` deliveries of `event` in `state`.
    pub(crate) fn add(&mut self, state: State, event: String, count: u64) {
        *self.by_state.entry(state).or_default() += count;
        *self
            .by_event
            .entry(event)
            .or_default()
            .entry(state)
            .or_default() += count;
    }
}

/// When a delivery in `state` runs next, from its stored run time and
/// lease end (unix ms): for queued and retrying ones, and running ones.
pub(crate) fn next_run(
    state: State,
    run_at: Option<i64>,
    lease_until: Option<i64>,
) -> Option<DateTime<Utc>> {
    match state {
        State::Queued | State::Retry => run_at.map(time_of),
        State::Running => lease_until.map(time_of),
        State::Done | State::Dead => None,
    }
}

/// A time from unix milliseconds (the epoch for one out of range).
pub(crate) fn time_of(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}
