//! The inbox: acknowledge a delivery as soon as it is stored, run its
//! handler after.
//!
//! Providers wait a few seconds for an answer (Slack 3 s, Shopify 5 s,
//! GitHub 10 s) and switch off endpoints that keep timing out. A router with
//! an [`Inbox`] verifies each delivery as usual, writes it durably and
//! answers `202 {"status":"queued"}`; [`Workers`] in the same process then
//! run the same `#[webhook]` handlers from the inbox, with leases, retries
//! with backoff, and dead letters.
//!
//! ```no_run
//! use actix_web::{web, App, HttpServer};
//! use actix_webhook::inbox::Inbox;
//! use actix_webhook::{scheme::StandardWebhooks, webhook, Event, WebhookRouter};
//!
//! struct Db;
//!
//! #[webhook(event = "order_paid")]
//! async fn order_paid(event: Event<serde_json::Value>, _db: web::Data<Db>) -> Result<(), String> {
//!     // The id is the same on every run: use it to make the work idempotent.
//!     println!("{:?} attempt {:?}", event.delivery_id(), event.attempt());
//!     Ok(())
//! }
//!
//! #[actix_web::main]
//! async fn main() -> std::io::Result<()> {
//!     let scheme = StandardWebhooks::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
//!     let inbox = Inbox::sqlite("webhook-inbox.db").expect("the inbox file");
//!     let hooks = WebhookRouter::new(scheme).handler(order_paid).inbox(inbox);
//!
//!     let db = web::Data::new(Db);
//!     // Four handlers at a time, next to the server, on the same runtime.
//!     actix_web::rt::spawn(hooks.workers().concurrency(4).app_data(db.clone()).run());
//!
//!     HttpServer::new(move || App::new().app_data(db.clone()).service(hooks.scope("/webhooks")))
//!         .bind(("127.0.0.1", 8080))?
//!         .run()
//!         .await
//! }
//! ```
//!
//! # Two stores
//!
//! - [`Inbox::sqlite`]: one file on the host, nothing to run beside the
//!   application. Several processes on one host may share it.
//! - [`Inbox::redis`]: one Redis shared by every replica behind a load
//!   balancer: any replica accepts a delivery, any replica's workers run
//!   it, and a replica that dies has its runs taken over by the others.
//!
//! Both keep the promises below (one test suite runs against each).
//!
//! # What is promised
//!
//! - A delivery answered 202 is stored. With SQLite it is on disk
//!   (`synchronous=FULL` in WAL mode: it survives a crash of the process
//!   and a power loss; with [`Inbox::sqlite_unsynced`], a crash of the
//!   process only). With Redis it is in Redis's memory and, when Redis runs
//!   with `appendonly yes` and `appendfsync always`, in its append-only
//!   file: it survives Redis being killed (with `everysec`, Redis may lose
//!   the last second). A delivery whose id is already in the inbox is
//!   answered `200 duplicate` and not stored again. When the inbox cannot
//!   be written (the disk is full, Redis is down) the answer is 503 with
//!   `Retry-After` and nothing is accepted.
//! - Each stored delivery runs until a handler run succeeds or it is a dead
//!   letter; nothing accepted is dropped. A run holds a lease, renewed while
//!   it runs; a process killed mid-run loses it and the delivery runs again
//!   once the lease runs out (default 30 s). While the store cannot be
//!   reached, workers start nothing new and keep trying to write the
//!   outcomes of finished runs (for up to 10 minutes); they go on by
//!   themselves once it is back. Redis gives the leases that ran out
//!   during its outage one more lease, so that their holders record
//!   their outcomes before anyone takes them over.
//! - No new run after a success is recorded, and never two runs of one
//!   delivery at once as long as each run's process renews its lease (every
//!   third of it): a handler that blocks the runtime's thread, or a process
//!   paused or cut off from the store for longer than the lease, lets
//!   another worker start the delivery again while the first run goes on
//!   (only the newer run's outcome is recorded). **The window:** a process
//!   killed after a handler succeeded and before that success is written
//!   (one write: a commit shared with the other writes of the moment, or
//!   one Redis script) runs the delivery again, and so does a success that
//!   cannot be written for 10 minutes. So do runs killed mid-way. Make
//!   handlers idempotent, keyed by
//!   [`Event::delivery_id`](crate::Event::delivery_id), which is the same on
//!   every run.
//!
//! # Outcomes of a run
//!
//! | the handler | the delivery |
//! |---|---|
//! | returns `Ok`, `()` or an [`Ack`](crate::Ack) below 500 | done (pruned after [`keep_done`](Inbox::keep_done), default 7 days) |
//! | returns an error, panics, or an [`Ack`](crate::Ack) of 500 or more | retried after the [`Backoff`] |
//! | returns [`Ack::retry_after(d)`](crate::Ack::retry_after) | retried after `d` |
//! | cannot take the body (not JSON, not its type) | dead at once, with the serde error and its path: only a code change helps |
//! | failed [`max_attempts`](Backoff::max_attempts) times | dead, with the last error |
//! | no handler for its event any more | what the router answers unhandled events ([`unhandled`](crate::WebhookRouter::unhandled)): done as `ignored` by default |
//!
//! Dead letters stay until replayed or purged (`webhook inbox replay`,
//! [`Inbox::replay`]).
//!
//! # Ids
//!
//! A delivery is known by its id, per tenant, as the router's claims are;
//! where the scheme signs no id it is known by the fingerprint of what was
//! signed (see [`Delivery`](crate::scheme::Delivery)). A delivery with
//! neither gets an id assigned (`wh_` and 32 hex digits): it cannot be
//! recognised when it is sent again, so each copy is stored and run.
//! An id is remembered as long as its delivery is in the inbox: after a done
//! delivery is pruned, the same id is stored again.

use std::fmt;
#[cfg(feature = "sqlite")]
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

#[cfg(not(any(feature = "sqlite", feature = "redis")))]
compile_error!(
    "the inbox needs a store: enable the `sqlite` or the `redis` feature, not `inbox` alone"
);

mod admin;
#[cfg(feature = "redis")]
mod redis;
#[cfg(feature = "sqlite")]
mod sqlite;
mod store;
mod stored;
mod worker;

pub use admin::{Attempt, Details, Filter, Selection, State, Stats, Summary};
pub use worker::{Backoff, Workers};

pub(crate) use stored::{AppData, NewDelivery, StoredDelivery};
pub(crate) use worker::RunStored;

#[cfg(feature = "sqlite")]
use sqlite::{Durability, Sqlite};
use store::Store;

/// Done deliveries are kept this long unless told otherwise.
const DEFAULT_KEEP_DONE: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// Where verified deliveries wait for their handlers: an SQLite file or a
/// Redis shared by replicas.
///
/// Besides receiving, it answers an operator's questions, as `webhook
/// inbox` does:
///
/// ```
/// # async fn run(inbox: actix_webhook::inbox::Inbox) -> Result<(), actix_webhook::inbox::InboxError> {
/// use actix_webhook::inbox::{Filter, Selection, State};
///
/// let stats = inbox.stats().await?;
/// println!("{} dead letters", stats.by_state.get(&State::Dead).unwrap_or(&0));
/// for dead in inbox.list(Filter::default().state(State::Dead)).await? {
///     println!("{} {}: {:?}", dead.id, dead.event, dead.last_error);
/// }
/// // The handler is fixed: run them again.
/// let replayed = inbox.replay(Selection::dead(), false).await?;
/// # Ok(()) }
/// ```
///
/// Open it with [`Inbox::sqlite`] or [`Inbox::redis`], give it to
/// [`WebhookRouter::inbox`](crate::WebhookRouter::inbox), and run the
/// router's [`workers`](crate::WebhookRouter::workers). Several processes
/// may share one inbox (each with its own workers); the `webhook inbox`
/// command opens it while they run. Cloning is cheap: clones share one
/// connection (and, for SQLite, one writer thread).
#[derive(Clone)]
pub struct Inbox {
    store: Store,
    keep_done: Duration,
    /// Wakes this process's workers when a delivery is stored.
    arrived: Arc<tokio::sync::Notify>,
}

impl Inbox {
    /// Opens the inbox at `path`, creating the file (and its tables) on
    /// first use. Writes are durable before they are acknowledged: each
    /// commit is synced to disk, and commits of deliveries arriving together
    /// are shared (one sync for many).
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("inbox-doc-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// use actix_webhook::inbox::Inbox;
    ///
    /// let inbox = Inbox::sqlite(dir.join("webhook-inbox.db"))?;
    /// # Ok::<(), actix_webhook::inbox::InboxError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`InboxError`] when the file cannot be opened, or is an SQLite
    /// database that is not an inbox (it is left untouched).
    #[cfg(feature = "sqlite")]
    #[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
    pub fn sqlite(path: impl AsRef<Path>) -> Result<Self, InboxError> {
        Self::open(path.as_ref(), Durability::Full)
    }

    /// Like [`sqlite`](Self::sqlite), trading durability for speed: commits
    /// are not synced one by one (SQLite `synchronous=NORMAL`). A crash of
    /// the process loses nothing; a power loss or an OS crash may lose the
    /// deliveries acknowledged in the last moments before it, which their
    /// senders will not send again.
    ///
    /// # Errors
    ///
    /// [`InboxError`] when the file cannot be opened or is not an inbox.
    #[cfg(feature = "sqlite")]
    #[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
    pub fn sqlite_unsynced(path: impl AsRef<Path>) -> Result<Self, InboxError> {
        Self::open(path.as_ref(), Durability::Normal)
    }

    /// Opens the inbox kept in the Redis at `url`
    /// (`redis://[:password@]host[:port][/db]`) under `namespace`, shared by
    /// every replica that opens it so: any replica may accept a delivery,
    /// and any replica's workers may run it. Different applications on one
    /// Redis use different namespaces; a namespace is not empty and holds
    /// no `{` or `}` (its keys are under `{<namespace>}:`).
    ///
    /// Needs Redis 5 or later (tested with 7.0.15), one server (Redis
    /// Cluster is not supported). Decisions between replicas (what is due,
    /// leases, retries) use Redis's clock, never a replica's. The
    /// connection is plain TCP: TLS (`rediss://`) is not built in, so reach
    /// Redis over loopback, a private network, or a TLS tunnel.
    ///
    /// A delivery is acknowledged once Redis has answered its write: run
    /// Redis with `appendonly yes` and `appendfsync always` so that the
    /// write is on disk by then (a warning is logged at opening when Redis
    /// says otherwise). While Redis cannot be reached, deliveries are
    /// answered 503 with `Retry-After` and the workers wait; the connection
    /// is re-established by itself.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), actix_webhook::inbox::InboxError> {
    /// use actix_webhook::inbox::Inbox;
    ///
    /// let inbox = Inbox::redis("redis://127.0.0.1:6379", "shop").await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`InboxError::Open`] when the namespace is empty or holds a brace,
    /// the URL is not one, or Redis cannot be reached now. The message
    /// never holds the URL (it may hold a password).
    #[cfg(feature = "redis")]
    #[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
    pub async fn redis(url: &str, namespace: &str) -> Result<Self, InboxError> {
        let store = redis::Redis::connect(url, namespace).await?;
        Ok(Self::on(Store::Redis(Arc::new(store))))
    }

    #[cfg(feature = "sqlite")]
    fn open(path: &Path, durability: Durability) -> Result<Self, InboxError> {
        Ok(Self::on(Store::Sqlite(Arc::new(Sqlite::open(
            path, durability,
        )?))))
    }

    fn on(store: Store) -> Self {
        Self {
            store,
            keep_done: DEFAULT_KEEP_DONE,
            arrived: Arc::new(tokio::sync::Notify::new()),
        }
    }

    /// How long done deliveries are kept before the workers prune them
    /// (default 7 days). Their ids are remembered as long: a delivery sent
    /// again after that is stored and run again. Dead letters are kept
    /// until replayed or purged.
    #[must_use]
    pub fn keep_done(mut self, keep: Duration) -> Self {
        self.keep_done = keep;
        self
    }

    /// Stores a verified delivery, durably; `false` when one with its key
    /// is already in the inbox.
    pub(crate) async fn enqueue(&self, delivery: NewDelivery) -> Result<bool, InboxError> {
        let stored = self.store.insert(delivery).await?;
        if stored {
            self.arrived.notify_one();
        }
        Ok(stored)
    }

    /// Counts by state and by event, and how many runs were restarted.
    ///
    /// # Errors
    ///
    /// [`InboxError`] when the inbox cannot be read.
    pub async fn stats(&self) -> Result<Stats, InboxError> {
        self.store.stats().await
    }

    /// The deliveries `filter` selects, newest first.
    ///
    /// # Errors
    ///
    /// [`InboxError`] when the inbox cannot be read.
    pub async fn list(&self, filter: Filter) -> Result<Vec<Summary>, InboxError> {
        self.store.list(filter).await
    }

    /// Everything about the deliveries with id `id` (one per tenant or
    /// event it was stored for): headers, body, attempts.
    ///
    /// # Errors
    ///
    /// [`InboxError`] when the inbox cannot be read.
    pub async fn show(&self, id: &str) -> Result<Vec<Details>, InboxError> {
        self.store.show(id.to_owned()).await
    }

    /// Queues the deliveries `selection` names to run again now, with a
    /// fresh [`max_attempts`](Backoff::max_attempts), and returns them; with
    /// `dry_run` it only returns them. Deliveries running now are left
    /// alone. Done deliveries match too, unless the selection asks for
    /// [dead ones](Selection::dead): a replay by event or time runs their
    /// handlers again.
    ///
    /// # Errors
    ///
    /// [`InboxError`] when the inbox cannot be written.
    pub async fn replay(
        &self,
        selection: Selection,
        dry_run: bool,
    ) -> Result<Vec<Summary>, InboxError> {
        let replayed = self.store.replay(selection, dry_run).await?;
        if !dry_run && !replayed.is_empty() {
            self.arrived.notify_one();
        }
        Ok(replayed)
    }

    /// Deletes the done and dead deliveries `selection` names (never one
    /// still to run) and returns how many.
    ///
    /// # Errors
    ///
    /// [`InboxError`] when the inbox cannot be written.
    pub async fn purge(&self, selection: Selection) -> Result<u64, InboxError> {
        self.store.purge(selection).await
    }
}

impl fmt::Debug for Inbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inbox")
            .field("store", &self.store)
            .field("keep_done", &self.keep_done)
            .finish_non_exhaustive()
    }
}

/// Why the inbox could not be opened, read or written.
///
/// ```
/// # let dir = std::env::temp_dir().join(format!("inbox-err-doc-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir).unwrap();
/// use actix_webhook::inbox::{Inbox, InboxError};
///
/// // A directory is no inbox.
/// let error = Inbox::sqlite(&dir).unwrap_err();
/// assert!(matches!(error, InboxError::Open { .. }));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InboxError {
    /// The file or Redis could not be opened or set up as an inbox.
    #[error("cannot open the inbox at {path}: {source}")]
    Open {
        /// The file, or `Redis (...)` (never the URL: it may hold a
        /// password).
        path: String,
        /// What failed.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A read or write failed (the disk is full, Redis is down, the file is locked for
    /// longer than the busy timeout, ...).
    #[error("the inbox storage failed: {0}")]
    Storage(#[source] Box<dyn std::error::Error + Send + Sync>),
}
