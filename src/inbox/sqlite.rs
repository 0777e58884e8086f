//! The inbox in an SQLite file: one writer thread per process that shares
//! commits between the writes arriving together (group commit).
//!
//! Every operation is a closure run on the writer's connection inside a
//! savepoint of the current batch's transaction; its result is handed back
//! only once the batch is committed, so a delivery is acknowledged only
//! when it is on disk. Several processes may open one file: SQLite's lock
//! serialises their transactions (`BEGIN IMMEDIATE`, with a busy timeout).

use std::fmt;
use std::path::Path;
use std::sync::{mpsc, Arc, Mutex, PoisonError};
use std::time::Duration;

use rusqlite::types::ValueRef;
use rusqlite::{named_params, params, Connection, OpenFlags, Row};
use tokio::sync::oneshot;

use super::admin::{next_run, time_of, Attempt, Details, Filter, Selection, State, Stats, Summary};
use super::store::{Claim, Claimed, Outcome};
use super::stored::{now_ms, shown_headers, NewDelivery, RawDelivery};
use super::InboxError;

/// Marks an SQLite file as an inbox (`PRAGMA application_id`): "WHIB".
const APPLICATION_ID: i64 = 0x5748_4942;

/// Most operations committed together.
const MAX_BATCH: usize = 1024;

/// How long a transaction waits for another process's lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS inbox_deliveries (
    seq INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    id TEXT NOT NULL,
    id_assigned INTEGER NOT NULL,
    tenant TEXT,
    event TEXT NOT NULL,
    scheme TEXT NOT NULL,
    method TEXT NOT NULL,
    target TEXT NOT NULL,
    headers BLOB NOT NULL,
    params TEXT NOT NULL,
    body BLOB NOT NULL,
    signed_at INTEGER,
    received_at INTEGER NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    -- `attempts` when it was last replayed: max attempts count from here.
    replayed_at_attempt INTEGER NOT NULL DEFAULT 0,
    -- When it runs next; for done and dead deliveries, when they ended
    -- (so that pruning walks the same index).
    run_at INTEGER NOT NULL,
    owner INTEGER,
    lease_until INTEGER,
    started_at INTEGER,
    finished_at INTEGER,
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS inbox_due ON inbox_deliveries (state, run_at);
CREATE INDEX IF NOT EXISTS inbox_by_id ON inbox_deliveries (id);
CREATE TABLE IF NOT EXISTS inbox_attempts (
    seq INTEGER NOT NULL,
    number INTEGER NOT NULL,
    started_at INTEGER NOT NULL,
    finished_at INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    error TEXT,
    PRIMARY KEY (seq, number)
) WITHOUT ROWID;
";

/// How hard a commit is pushed to disk.
#[derive(Debug, Clone, Copy)]
pub(super) enum Durability {
    /// `synchronous=FULL`: every commit is synced; survives power loss.
    Full,
    /// `synchronous=NORMAL`: survives a crash of the process only.
    Normal,
}

/// The inbox file: writes through its writer thread, reads on a connection
/// of their own, which does not hold up writes (WAL).
pub(super) struct Sqlite {
    path: String,
    jobs: mpsc::Sender<Box<dyn Job>>,
    reader: Arc<Mutex<Connection>>,
}

impl fmt::Debug for Sqlite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sqlite").field("path", &self.path).finish()
    }
}

impl Sqlite {
    /// Opens (or creates) the file and starts its writer thread. A file
    /// that is neither empty nor an inbox is refused, untouched.
    pub(super) fn open(path: &Path, durability: Durability) -> Result<Self, InboxError> {
        let shown = path.display().to_string();
        let failed = |source: Box<dyn std::error::Error + Send + Sync>| InboxError::Open {
            path: shown.clone(),
            source,
        };
        let sql = |e: rusqlite::Error| failed(Box::new(e));
        let conn = Connection::open(path).map_err(sql)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(sql)?;
        let is_ours = |conn: &Connection| -> rusqlite::Result<Option<bool>> {
            let id: i64 = conn.query_row("PRAGMA application_id", [], |row| row.get(0))?;
            let objects: i64 =
                conn.query_row("SELECT COUNT(*) FROM sqlite_schema", [], |row| row.get(0))?;
            Ok(match (id == APPLICATION_ID, objects) {
                (true, _) => Some(true),
                (false, 0) => None, // empty: made an inbox below
                (false, _) => Some(false),
            })
        };
        if is_ours(&conn).map_err(sql)? == Some(false) {
            return Err(failed(
                "the file is an SQLite database, not an inbox".into(),
            ));
        }
        let mode: String = conn
            .query_row("PRAGMA journal_mode=WAL", [], |row| row.get(0))
            .map_err(sql)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(failed(
                format!("the file cannot be in WAL mode (it is in `{mode}`)").into(),
            ));
        }
        let synchronous = match durability {
            Durability::Full => "FULL",
            Durability::Normal => "NORMAL",
        };
        conn.execute_batch(&format!(
            "PRAGMA synchronous={synchronous}; BEGIN IMMEDIATE;"
        ))
        .map_err(sql)?;
        // Again under the lock: another process may have made it meanwhile.
        let made = match is_ours(&conn) {
            Ok(Some(false)) => Err(failed(
                "the file is an SQLite database, not an inbox".into(),
            )),
            Ok(_) => conn
                .execute_batch(&format!(
                    "PRAGMA application_id = {APPLICATION_ID}; {SCHEMA} COMMIT;"
                ))
                .map_err(sql),
            Err(e) => Err(sql(e)),
        };
        if let Err(error) = made {
            let _ = conn.execute_batch("ROLLBACK");
            return Err(error);
        }
        let reader = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
            .and_then(|reader| reader.busy_timeout(BUSY_TIMEOUT).map(|()| reader))
            .map_err(sql)?;
        let (jobs, queue) = mpsc::channel();
        std::thread::Builder::new()
            .name("webhook-inbox".into())
            .spawn(move || write_batches(&conn, &queue))
            .map_err(|e| failed(Box::new(e)))?;
        Ok(Self {
            path: shown,
            jobs,
            reader: Arc::new(Mutex::new(reader)),
        })
    }

    /// Runs `read` in a transaction of the read connection, on a blocking
    /// thread: a long listing holds up neither the runtime nor the writes.
    async fn read<R, F>(&self, read: F) -> Result<R, InboxError>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<R> + Send + 'static,
    {
        let reader = self.reader.clone();
        actix_web::rt::task::spawn_blocking(move || {
            let mut conn = reader.lock().unwrap_or_else(PoisonError::into_inner);
            let tx = conn.transaction()?;
            let value = read(&tx)?;
            tx.finish()?;
            Ok(value)
        })
        .await
        .map_err(|_| storage("a read of the inbox panicked"))?
        .map_err(|e: rusqlite::Error| InboxError::Storage(Box::new(e)))
    }

    /// Runs `work`, one statement, in the next batch; its result once the
    /// batch is committed.
    async fn write<R, F>(&self, work: F) -> Result<R, InboxError>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<R> + Send + 'static,
    {
        self.submit(false, work).await
    }

    /// Like [`write`](Self::write), for work of several statements: in a
    /// savepoint of its own, so that it applies whole or not at all.
    async fn write_atomic<R, F>(&self, work: F) -> Result<R, InboxError>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<R> + Send + 'static,
    {
        self.submit(true, work).await
    }

    async fn submit<R, F>(&self, atomic: bool, work: F) -> Result<R, InboxError>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<R> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job = Op {
            work: Some(work),
            atomic,
            result: None,
            reply,
        };
        self.jobs
            .send(Box::new(job))
            .map_err(|_| storage("the inbox's writer thread has stopped"))?;
        answer
            .await
            .map_err(|_| storage("the inbox's writer thread has stopped"))?
    }

    /// Stores `delivery` as queued; `false` when its key is already there.
    pub(super) async fn insert(&self, delivery: NewDelivery) -> Result<bool, InboxError> {
        self.write(move |conn| {
            let d = delivery;
            let changed = conn
                .prepare_cached(
                    "INSERT INTO inbox_deliveries (key, id, id_assigned, tenant, event, scheme,
                        method, target, headers, params, body, signed_at, received_at, state, run_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, 'queued', ?13)
                     ON CONFLICT (key) DO NOTHING",
                )?
                .execute(params![
                    d.key,
                    d.id,
                    d.id_assigned,
                    d.tenant,
                    d.event,
                    d.scheme,
                    d.method,
                    d.target,
                    d.headers,
                    d.params,
                    &d.body[..],
                    d.signed_at,
                    d.received_at,
                ])?;
            Ok(changed == 1)
        })
        .await
    }

    /// Takes up to `n` due deliveries for `owner` for a lease of `lease_ms`,
    /// looking at the first `limit` (the same on every call: SQLite plans
    /// the query again whenever the value bound to a `LIMIT` changes). A
    /// delivery whose lease ran out while running is taken over; its
    /// unfinished run is recorded as `interrupted`.
    pub(super) async fn claim(
        &self,
        owner: i64,
        n: usize,
        limit: usize,
        lease_ms: i64,
    ) -> Result<Claimed, InboxError> {
        self.write_atomic(move |conn| {
            let now = now_ms();
            let due: Vec<(i64, String)> = conn
                // One walk of the (state, run_at) index per state, each
                // stopping at the limit, however long the backlog.
                .prepare_cached(
                    "SELECT seq, state FROM (
                        SELECT * FROM (SELECT seq, state, run_at FROM inbox_deliveries
                            WHERE state = 'queued' AND run_at <= ?1 ORDER BY run_at LIMIT ?2)
                        UNION ALL
                        SELECT * FROM (SELECT seq, state, run_at FROM inbox_deliveries
                            WHERE state = 'retry' AND run_at <= ?1 ORDER BY run_at LIMIT ?2)
                        UNION ALL
                        SELECT * FROM (SELECT seq, state, lease_until FROM inbox_deliveries
                            WHERE state = 'running' AND lease_until <= ?1 LIMIT ?2))
                     ORDER BY run_at, seq LIMIT ?2",
                )?
                .query_map(params![now, limit as i64], |row| Ok((row.get(0)?, row.get(1)?)))?
                .take(n)
                .collect::<Result<_, _>>()?;
            let mut claimed = Claimed {
                runs: Vec::with_capacity(due.len()),
                damaged: Vec::new(),
                next_due: None,
            };
            for (seq, state) in due {
                if state == "running" {
                    conn.prepare_cached(
                        "INSERT OR IGNORE INTO inbox_attempts (seq, number, started_at, finished_at, outcome, error)
                         SELECT seq, attempts, COALESCE(started_at, ?2), ?2, 'interrupted',
                                'the run did not finish: its lease ran out'
                         FROM inbox_deliveries WHERE seq = ?1",
                    )?
                    .execute(params![seq, now])?;
                }
                let run = conn
                    .prepare_cached(
                        "UPDATE inbox_deliveries
                         SET state = 'running', owner = ?2, lease_until = ?3, started_at = ?4,
                             attempts = attempts + 1
                         WHERE seq = ?1
                         RETURNING attempts, attempts - replayed_at_attempt,
                             id, event, method, target, headers, params, body, signed_at",
                    )?
                    .query_row(params![seq, owner, now.saturating_add(lease_ms), now], |row| {
                        Ok(claim_of(row, seq, now))
                    })?;
                match run {
                    Ok(run) => claimed.runs.push(run),
                    Err(why) => {
                        // A row written by hand or by another program: a
                        // dead letter, not a stopped worker.
                        conn.prepare_cached(
                            "UPDATE inbox_deliveries SET state = 'dead', owner = NULL,
                                 lease_until = NULL, finished_at = ?2, last_error = ?3
                             WHERE seq = ?1",
                        )?
                        .execute(params![seq, now, why])?;
                        claimed.damaged.push((seq, why));
                    }
                }
            }
            if claimed.runs.len() + claimed.damaged.len() < n {
                claimed.next_due = conn
                    .prepare_cached(
                        "SELECT MIN(at) FROM (
                            SELECT MIN(run_at) AS at FROM inbox_deliveries WHERE state = 'queued'
                            UNION ALL
                            SELECT MIN(run_at) FROM inbox_deliveries WHERE state = 'retry'
                            UNION ALL
                            SELECT MIN(lease_until) FROM inbox_deliveries WHERE state = 'running')",
                    )?
                    .query_row([], |row| Ok(integer(row, 0)))?
                    .map(|due| due.saturating_sub(now).max(0));
            }
            Ok(claimed)
        })
        .await
    }

    pub(super) async fn renew(
        &self,
        seq: i64,
        owner: i64,
        attempt: u32,
        lease_ms: i64,
    ) -> Result<(), InboxError> {
        self.write(move |conn| {
            let until = now_ms().saturating_add(lease_ms);
            conn.prepare_cached(
                "UPDATE inbox_deliveries SET lease_until = ?4
                 WHERE seq = ?1 AND owner = ?2 AND attempts = ?3 AND state = 'running'",
            )?
            .execute(params![seq, owner, attempt, until])?;
            Ok(())
        })
        .await
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
        self.write_atomic(move |conn| {
            let now = now_ms();
            let (state, run_at, error) = match outcome {
                Outcome::Done => (State::Done, now, None),
                Outcome::Retry { after, error } => (
                    State::Retry,
                    now.saturating_add(i64::try_from(after.as_millis()).unwrap_or(i64::MAX)),
                    Some(error),
                ),
                Outcome::Dead { error } => (State::Dead, now, Some(error)),
            };
            let finished_at = (state != State::Retry).then_some(now);
            let changed = conn
                .prepare_cached(
                    "UPDATE inbox_deliveries
                     SET state = :state, run_at = :run_at, finished_at = :finished_at,
                         last_error = :error, owner = NULL, lease_until = NULL
                     WHERE seq = :seq AND owner = :owner AND state = 'running' AND attempts = :attempt",
                )?
                .execute(named_params! {
                    ":state": state.as_str(),
                    ":run_at": run_at,
                    ":finished_at": finished_at,
                    ":error": error,
                    ":seq": seq,
                    ":owner": owner,
                    ":attempt": attempt,
                })?;
            if changed == 1 {
                conn.prepare_cached(
                    "INSERT OR REPLACE INTO inbox_attempts (seq, number, started_at, finished_at, outcome, error)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?
                .execute(params![seq, attempt, started_at, now, state.as_str(), error])?;
            }
            Ok(changed == 1)
        })
        .await
    }

    /// Deletes up to `chunk` done deliveries finished before `before` (unix
    /// ms); how many. In chunks, so that acknowledgements are not held up
    /// behind a week of done rows.
    pub(super) async fn prune(&self, before: i64, chunk: u32) -> Result<u64, InboxError> {
        self.write(move |conn| {
            let seqs: Vec<i64> = conn
                .prepare_cached(
                    "SELECT seq FROM inbox_deliveries
                     WHERE state = 'done' AND run_at < ?1 LIMIT ?2",
                )?
                .query_map(params![before, chunk], |row| row.get(0))?
                .collect::<Result<_, _>>()?;
            for seq in &seqs {
                conn.prepare_cached("DELETE FROM inbox_attempts WHERE seq = ?1")?
                    .execute([seq])?;
                conn.prepare_cached("DELETE FROM inbox_deliveries WHERE seq = ?1")?
                    .execute([seq])?;
            }
            Ok(seqs.len() as u64)
        })
        .await
    }

    pub(super) async fn stats(&self) -> Result<Stats, InboxError> {
        self.read(|conn| {
            let mut stats = Stats::default();
            let mut rows = conn.prepare_cached(
                "SELECT state, event, COUNT(*) FROM inbox_deliveries GROUP BY state, event",
            )?;
            let mut rows = rows.query([])?;
            while let Some(row) = rows.next()? {
                let Ok(state) = text(row, 0).parse::<State>() else {
                    continue;
                };
                stats.add(state, text(row, 1), row.get::<_, i64>(2)?.unsigned_abs());
            }
            stats.restarted_runs = conn
                .query_row(
                    "SELECT COUNT(*) FROM inbox_attempts WHERE outcome = 'interrupted'",
                    [],
                    |row| row.get::<_, i64>(0),
                )?
                .unsigned_abs();
            Ok(stats)
        })
        .await
    }

    pub(super) async fn list(&self, filter: Filter) -> Result<Vec<Summary>, InboxError> {
        self.read(move |conn| {
            let mut statement = conn.prepare_cached(&format!(
                "SELECT {SUMMARY} FROM inbox_deliveries
                 WHERE (?1 IS NULL OR state = ?1) AND (?2 IS NULL OR event = ?2)
                   AND (?3 IS NULL OR received_at >= ?3)
                 ORDER BY seq DESC LIMIT ?4"
            ))?;
            let rows = statement.query_map(
                params![
                    filter.state.map(State::as_str),
                    filter.event,
                    filter.since.map(|t| t.timestamp_millis()),
                    filter.limit,
                ],
                summary,
            )?;
            rows.collect()
        })
        .await
    }

    pub(super) async fn show(&self, id: String) -> Result<Vec<Details>, InboxError> {
        self.read(move |conn| {
            let mut statement = conn.prepare_cached(&format!(
                "SELECT {SUMMARY}, seq, scheme, method, target, headers, body
                 FROM inbox_deliveries WHERE id = ?1 ORDER BY seq"
            ))?;
            let found: Vec<(i64, Details)> = statement
                .query_map([&id], |row| {
                    let headers = shown_headers(&any_bytes(row, 14)?);
                    Ok((
                        row.get(10)?,
                        Details {
                            summary: summary(row)?,
                            scheme: text(row, 11),
                            method: text(row, 12),
                            target: text(row, 13),
                            headers,
                            body: any_bytes(row, 15)?.into(),
                            attempts: Vec::new(),
                        },
                    ))
                })?
                .collect::<Result<_, _>>()?;
            let mut attempts = conn.prepare_cached(
                "SELECT number, started_at, finished_at, outcome, error FROM inbox_attempts
                 WHERE seq = ?1 ORDER BY number",
            )?;
            found
                .into_iter()
                .map(|(seq, mut details)| {
                    details.attempts = attempts
                        .query_map([seq], |row| {
                            Ok(Attempt {
                                number: count(row, 0),
                                started_at: time_of(integer(row, 1).unwrap_or_default()),
                                finished_at: time_of(integer(row, 2).unwrap_or_default()),
                                outcome: text(row, 3),
                                error: optional_text(row, 4),
                            })
                        })?
                        .collect::<Result<_, _>>()?;
                    Ok(details)
                })
                .collect()
        })
        .await
    }

    pub(super) async fn replay(
        &self,
        selection: Selection,
        dry_run: bool,
    ) -> Result<Vec<Summary>, InboxError> {
        self.write_atomic(move |conn| {
            let filter = format!("{} AND {SELECTED}", in_states(selection.replay_states()));
            let selected = Selected::new(&selection);
            let picked: Vec<Summary> = conn
                .prepare(&format!(
                    "SELECT {SUMMARY} FROM inbox_deliveries WHERE {filter} ORDER BY seq"
                ))?
                .query_map(selected.params().as_slice(), summary)?
                .collect::<Result<_, _>>()?;
            if !dry_run {
                let mut values = selected.params();
                let now = now_ms();
                values.push((":now", &now));
                conn.prepare(&format!(
                    "UPDATE inbox_deliveries
                     SET state = 'queued', run_at = :now, replayed_at_attempt = attempts,
                         finished_at = NULL
                     WHERE {filter}"
                ))?
                .execute(values.as_slice())?;
            }
            Ok(picked)
        })
        .await
    }

    pub(super) async fn purge(&self, selection: Selection) -> Result<u64, InboxError> {
        self.write_atomic(move |conn| {
            let filter = format!("{} AND {SELECTED}", in_states(selection.purge_states()));
            delete_where(conn, &filter, Selected::new(&selection).params().as_slice())
        })
        .await
    }
}

/// The columns [`summary`] reads, in its order.
const SUMMARY: &str =
    "id, id_assigned, tenant, event, state, attempts, received_at, run_at, lease_until, last_error";

/// The conditions of a [`Selection`], over [`selection_params`].
const SELECTED: &str = "(:id IS NULL OR id = :id) AND (:event IS NULL OR event = :event)
    AND (:since IS NULL OR received_at >= :since)
    AND (:before IS NULL OR finished_at < :before)";

/// The SQL condition: a state among `states`.
fn in_states(states: &[State]) -> String {
    let names: Vec<String> = states.iter().map(|s| format!("'{s}'")).collect();
    format!("state IN ({})", names.join(", "))
}

/// A [`Selection`]'s values as SQL parameters.
struct Selected {
    id: Option<String>,
    event: Option<String>,
    since: Option<i64>,
    before: Option<i64>,
}

impl Selected {
    fn new(selection: &Selection) -> Self {
        Self {
            id: selection.id.clone(),
            event: selection.event.clone(),
            since: selection.since.map(|t| t.timestamp_millis()),
            before: selection.finished_before.map(|t| t.timestamp_millis()),
        }
    }

    fn params(&self) -> Vec<(&'static str, &dyn rusqlite::ToSql)> {
        vec![
            (":id", &self.id),
            (":event", &self.event),
            (":since", &self.since),
            (":before", &self.before),
        ]
    }
}

/// Deletes the deliveries matching `filter`, and their attempts.
fn delete_where(
    conn: &Connection,
    filter: &str,
    values: impl rusqlite::Params + Clone,
) -> rusqlite::Result<u64> {
    conn.prepare(&format!(
        "DELETE FROM inbox_attempts WHERE seq IN (SELECT seq FROM inbox_deliveries WHERE {filter})"
    ))?
    .execute(values.clone())?;
    let deleted = conn
        .prepare(&format!("DELETE FROM inbox_deliveries WHERE {filter}"))?
        .execute(values)?;
    Ok(deleted as u64)
}

/// A listed delivery from the [`SUMMARY`] columns, whatever a damaged row
/// holds (an unknown state is shown as dead: nothing runs it).
fn summary(row: &Row<'_>) -> rusqlite::Result<Summary> {
    let state = text(row, 4).parse().unwrap_or(State::Dead);
    Ok(Summary {
        id: text(row, 0),
        id_assigned: integer(row, 1).is_some_and(|n| n != 0),
        tenant: optional_text(row, 2),
        event: text(row, 3),
        state,
        attempts: count(row, 5),
        received_at: time_of(integer(row, 6).unwrap_or_default()),
        next_run: next_run(state, integer(row, 7), integer(row, 8)),
        last_error: optional_text(row, 9),
    })
}

/// A run of `seq` from the columns a claim returns, or why they do not read
/// as one.
fn claim_of(row: &Row<'_>, seq: i64, now: i64) -> Result<Claim, String> {
    let read = || -> rusqlite::Result<(i64, i64, RawDelivery)> {
        let raw = RawDelivery {
            id: row.get(2)?,
            event: row.get(3)?,
            method: row.get(4)?,
            target: row.get(5)?,
            headers: row.get(6)?,
            params: row.get(7)?,
            body: row.get(8)?,
            signed_at: row.get(9)?,
        };
        Ok((row.get(0)?, row.get(1)?, raw))
    };
    let (attempt, tries, raw) =
        read().map_err(|e| format!("the stored delivery does not read: {e}"))?;
    Claim::new(seq, attempt, tries, now, raw)
}

/// Column `index` as bytes whatever its type, so that a damaged row can
/// still be shown.
fn any_bytes(row: &Row<'_>, index: usize) -> rusqlite::Result<Vec<u8>> {
    Ok(match row.get_ref(index)? {
        ValueRef::Blob(bytes) | ValueRef::Text(bytes) => bytes.to_vec(),
        ValueRef::Integer(n) => n.to_string().into_bytes(),
        ValueRef::Real(x) => x.to_string().into_bytes(),
        ValueRef::Null => Vec::new(),
    })
}

/// Column `index` as text whatever its type (lossy).
fn text(row: &Row<'_>, index: usize) -> String {
    optional_text(row, index).unwrap_or_default()
}

fn optional_text(row: &Row<'_>, index: usize) -> Option<String> {
    match row.get_ref(index) {
        Ok(ValueRef::Null) | Err(_) => None,
        Ok(_) => any_bytes(row, index)
            .ok()
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned()),
    }
}

/// Column `index` when it holds an integer.
fn integer(row: &Row<'_>, index: usize) -> Option<i64> {
    match row.get_ref(index) {
        Ok(ValueRef::Integer(n)) => Some(n),
        _ => None,
    }
}

fn count(row: &Row<'_>, index: usize) -> u32 {
    integer(row, index)
        .and_then(|n| u32::try_from(n).ok())
        .unwrap_or_default()
}

fn storage(message: &'static str) -> InboxError {
    InboxError::Storage(message.into())
}

/// The writer thread: takes the operations waiting, runs them in one
/// transaction, commits once, answers each. Ends when every [`Sqlite`]
/// handle is dropped.
fn write_batches(conn: &Connection, queue: &mpsc::Receiver<Box<dyn Job>>) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let committed = run_batch(conn, &mut batch).map_err(|error| {
            if !conn.is_autocommit() {
                let _ = conn.execute_batch("ROLLBACK");
            }
            tracing::error!(target: "actix_webhook::inbox", %error, "an inbox write failed");
            error
        });
        for job in batch {
            job.answer(committed.clone());
        }
    }
}

/// Runs `batch` in one transaction and commits it.
fn run_batch(conn: &Connection, batch: &mut [Box<dyn Job>]) -> Result<(), String> {
    conn.execute_batch("BEGIN IMMEDIATE")
        .map_err(|e| e.to_string())?;
    for job in batch {
        // SQLite ends the whole transaction on some errors (a full disk, an
        // I/O error); the jobs after it must not commit on their own.
        if conn.is_autocommit() {
            return Err("the transaction was rolled back by SQLite".into());
        }
        job.run(conn);
    }
    conn.execute_batch("COMMIT").map_err(|e| e.to_string())
}

/// An operation waiting for the writer thread.
trait Job: Send {
    /// Runs it inside the open transaction.
    fn run(&mut self, conn: &Connection);
    /// Hands its result over once the transaction's fate is known.
    fn answer(self: Box<Self>, committed: Result<(), String>);
}

struct Op<R, F> {
    work: Option<F>,
    /// In a savepoint of its own.
    atomic: bool,
    result: Option<rusqlite::Result<R>>,
    reply: oneshot::Sender<Result<R, InboxError>>,
}

impl<R, F> Job for Op<R, F>
where
    R: Send,
    F: FnOnce(&Connection) -> rusqlite::Result<R> + Send,
{
    fn run(&mut self, conn: &Connection) {
        let Some(work) = self.work.take() else { return };
        if !self.atomic {
            // One statement: SQLite applies it whole or not at all.
            self.result = Some(work(conn));
            return;
        }
        let sql = |statement: &str| conn.prepare_cached(statement)?.execute([]).map(|_| ());
        let result = sql("SAVEPOINT op").and_then(|()| {
            let result = work(conn);
            if result.is_err() {
                sql("ROLLBACK TO op")?;
            }
            sql("RELEASE op")?;
            result
        });
        self.result = Some(result);
    }

    fn answer(self: Box<Self>, committed: Result<(), String>) {
        let result = match (committed, self.result) {
            (Ok(()), Some(Ok(value))) => Ok(value),
            (Ok(()), Some(Err(error))) => Err(InboxError::Storage(Box::new(error))),
            (Err(error), _) => Err(InboxError::Storage(error.into())),
            (Ok(()), None) => Err(storage("the operation did not run")),
        };
        let _ = self.reply.send(result);
    }
}
