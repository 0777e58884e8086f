//! The inbox survives its process being killed. The `inbox` example runs as
//! a server process and receives 1,000 deliveries, some sent two or three
//! times, over several connections, while it is SIGKILLed and restarted;
//! once the inbox drains, every delivery answered 202 or `duplicate` has
//! run to success, none is lost or dead, and a delivery ran successfully a
//! second time only where a kill fell between its success and the record
//! of it.
//!
//! `cargo test` builds the example; when only this test is built, build it
//! first: `cargo build --example inbox --features sqlite`.
#![cfg(feature = "sqlite")]

#[path = "support/crash.rs"]
mod crash;

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use actix_webhook::scheme::StandardWebhooks;
use actix_webhook::testing::TestDelivery;
use crash::{example_binary, free_port, handled, handled_ids, temp_dir, Handled, Server};
use rusqlite::{Connection, OpenFlags};

/// The example's secret (the quickstart's demo secret).
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
/// Distinct deliveries sent.
const DELIVERIES: u32 = 1000;
/// Connections sending at once, as a provider's senders do.
const CONNECTIONS: usize = 8;
/// Time between the first sends of two deliveries: about 4 s of sending.
const SEND_EVERY: Duration = Duration::from_millis(4);
/// Requests for one delivery before the sender gives up on it.
const SEND_TRIES: u32 = 100;
/// Re-sent after each restart: the last deliveries accepted before it.
const RESEND_AFTER_RESTART: usize = 16;
/// Kills while sending, when this many deliveries have been accepted.
const KILL_WHILE_SENDING: [usize; 4] = [150, 350, 550, 800];
/// Kills after the sending, spread over the drain.
const KILL_WHILE_DRAINING: usize = 2;
/// The example's lease: a killed run is taken over after at most this.
const LEASE_SECS: u64 = 1;
/// Runs at once in the example's workers.
const CONCURRENCY: usize = 4;
/// A server is killed only once it has run this long.
const MIN_UPTIME: Duration = Duration::from_millis(300);
/// Bound on the wait for the inbox to drain after the sending.
const DRAIN_LIMIT: Duration = Duration::from_secs(60);
/// Bound on the killer's work, should progress stall.
const KILLER_LIMIT: Duration = Duration::from_secs(120);

/// The delivery id of delivery `n`.
fn delivery_id(n: u32) -> String {
    format!("msg_crash_{n:04}")
}

/// How many times delivery `n` asks to fail before it succeeds.
fn fail_times(n: u32) -> u32 {
    u32::from(n % 40 == 17)
}

/// The body of delivery `n`: a short handler run (10 to 40 ms) so that
/// kills land mid-run, and a failed first attempt for a few.
fn body(n: u32) -> String {
    let sleep_ms = 10 + n * 7 % 31;
    let fail = fail_times(n);
    format!(
        r#"{{"type":"crash.test","data":{{"n":{n},"sleep_ms":{sleep_ms},"fail_times":{fail}}}}}"#
    )
}

/// What the sender and the killer tell each other.
#[derive(Default)]
struct Progress {
    /// Distinct deliveries answered 202 or `duplicate`.
    accepted: AtomicUsize,
    /// Restarts done by the killer.
    restarts: AtomicUsize,
    sending_done: AtomicBool,
    /// The test is ending (or failed): the killer stops at once.
    stop: AtomicBool,
}

/// A kill, as it happened.
#[derive(Debug)]
struct Kill {
    /// Since the first start.
    at: Duration,
    /// The incarnation killed.
    incarnation: usize,
    while_sending: bool,
}

/// Kills and restarts the server when the sending or the draining reaches
/// the planned points, each at least [`MIN_UPTIME`] after the last start.
fn kill_and_restart(
    mut server: Server,
    progress: &Progress,
    began: Instant,
) -> (Server, Vec<Kill>) {
    let _stop = StopOnPanic(progress);
    let planned = KILL_WHILE_SENDING.len() + KILL_WHILE_DRAINING;
    let deadline = Instant::now() + KILLER_LIMIT;
    let mut kills: Vec<Kill> = Vec::new();
    let mut drain_points: Option<Vec<usize>> = None;
    while kills.len() < planned && Instant::now() < deadline {
        if progress.stop.load(Ordering::SeqCst) {
            break;
        }
        thread::sleep(Duration::from_millis(10));
        if server.started.elapsed() < MIN_UPTIME {
            continue;
        }
        let k = kills.len();
        let sending_done = progress.sending_done.load(Ordering::SeqCst);
        let due = if let Some(&point) = KILL_WHILE_SENDING.get(k) {
            sending_done || progress.accepted.load(Ordering::SeqCst) >= point
        } else if sending_done {
            let done = handled_ids(&server.outputs).len();
            let points = drain_points.get_or_insert_with(|| {
                let left = progress
                    .accepted
                    .load(Ordering::SeqCst)
                    .saturating_sub(done);
                (1..=KILL_WHILE_DRAINING)
                    .map(|j| done + left * j / (KILL_WHILE_DRAINING + 1))
                    .collect()
            });
            done >= points[k - KILL_WHILE_SENDING.len()]
        } else {
            false
        };
        if due {
            let incarnation = server.outputs.len() - 1;
            server.kill();
            kills.push(Kill {
                at: began.elapsed(),
                incarnation,
                while_sending: !sending_done,
            });
            server.start();
            progress.restarts.fetch_add(1, Ordering::SeqCst);
        }
    }
    (server, kills)
}

/// Tells the sender to stop when the killer panics (the server is gone).
struct StopOnPanic<'a>(&'a Progress);

impl Drop for StopOnPanic<'_> {
    fn drop(&mut self) {
        if thread::panicking() {
            self.0.stop.store(true, Ordering::SeqCst);
        }
    }
}

/// The killer thread; dropped before [`Killer::finish`] (the test failed),
/// it stops the killer, which stops the server.
struct Killer {
    progress: Arc<Progress>,
    thread: Option<JoinHandle<(Server, Vec<Kill>)>>,
}

impl Killer {
    /// Waits for the planned kills and hands the running server back.
    fn finish(mut self) -> (Server, Vec<Kill>) {
        let thread = self.thread.take().expect("finished once");
        thread.join().expect("the killer thread does not panic")
    }
}

impl Drop for Killer {
    fn drop(&mut self) {
        self.progress.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// What the sender saw for one delivery.
#[derive(Debug, Default, Clone)]
struct Sent {
    /// Deliveries of it started (first send, re-sends).
    sends: u32,
    /// Answers 202 `queued`.
    queued: u32,
    /// Answers 200 `duplicate`.
    duplicate: u32,
    /// A send that ran out of tries.
    gave_up: bool,
}

/// The sender's book, shared by its connections (one thread).
struct Ledger {
    sent: Vec<Sent>,
    /// First sends and planned re-sends, by time from the start.
    schedule: Vec<(Duration, u32)>,
    next: usize,
    /// Deliveries accepted, in the order they were first accepted.
    accepted: Vec<u32>,
    /// Re-sends after restarts, waiting.
    resend: VecDeque<u32>,
    restarts_seen: usize,
    /// Requests made, and those that failed (no answer, or not 202/200).
    requests: u32,
    failed: u32,
    /// Failed requests by what happened.
    failures: BTreeMap<String, u32>,
}

/// What a sending connection does next.
enum Next {
    Send(u32),
    Wait(Duration),
    Done,
}

impl Ledger {
    fn new() -> Self {
        let mut schedule = Vec::new();
        for n in 0..DELIVERIES {
            let first = SEND_EVERY * n;
            schedule.push((first, n));
            // Every 13th three times, every other 7th twice.
            let again: &[u64] = if n % 13 == 0 {
                &[150, 500]
            } else if n % 7 == 0 {
                &[300]
            } else {
                &[]
            };
            for &ms in again {
                schedule.push((first + Duration::from_millis(ms), n));
            }
        }
        schedule.sort_unstable();
        Self {
            sent: vec![Sent::default(); DELIVERIES as usize],
            schedule,
            next: 0,
            accepted: Vec::new(),
            resend: VecDeque::new(),
            restarts_seen: 0,
            requests: 0,
            failed: 0,
            failures: BTreeMap::new(),
        }
    }

    fn next(&mut self, progress: &Progress, elapsed: Duration) -> Next {
        let restarts = progress.restarts.load(Ordering::SeqCst);
        if restarts > self.restarts_seen {
            self.restarts_seen = restarts;
            let from = self.accepted.len().saturating_sub(RESEND_AFTER_RESTART);
            self.resend.extend(&self.accepted[from..]);
        }
        if progress.stop.load(Ordering::SeqCst) {
            return Next::Done;
        }
        if let Some(n) = self.resend.pop_front() {
            return Next::Send(n);
        }
        match self.schedule.get(self.next) {
            Some(&(at, n)) if at <= elapsed => {
                self.next += 1;
                Next::Send(n)
            }
            Some(&(at, _)) => Next::Wait(at - elapsed),
            None => Next::Done,
        }
    }

    /// Records an answer for delivery `n`; `true` when it is accepted.
    fn answered(&mut self, n: u32, answer: Answer, progress: &Progress) -> bool {
        self.requests += 1;
        let sent = &mut self.sent[n as usize];
        match answer {
            Answer::Queued => sent.queued += 1,
            Answer::Duplicate => sent.duplicate += 1,
            Answer::Failed(what) => {
                self.failed += 1;
                *self.failures.entry(what).or_default() += 1;
                return false;
            }
        }
        if sent.queued + sent.duplicate == 1 {
            self.accepted.push(n);
            progress.accepted.fetch_add(1, Ordering::SeqCst);
        }
        true
    }
}

/// What one request got.
enum Answer {
    Queued,
    Duplicate,
    Failed(String),
}

async fn request(client: &awc::Client, url: &str, scheme: &StandardWebhooks, n: u32) -> Answer {
    let body = body(n);
    let headers = TestDelivery::new(body.clone())
        .id(&delivery_id(n))
        .headers(scheme);
    let mut request = client
        .post(url)
        .insert_header(("content-type", "application/json"));
    for (name, value) in headers {
        request = request.insert_header((name, value));
    }
    let mut response = match request.send_body(body).await {
        Ok(response) => response,
        Err(error) => return Answer::Failed(format!("no answer: {error}")),
    };
    let status = response.status().as_u16();
    // A 202 is sent only once the delivery is on disk: it counts even if
    // the connection breaks before the body is read.
    let body = response.body().await;
    let json: serde_json::Value = body
        .as_ref()
        .ok()
        .and_then(|b| serde_json::from_slice(b).ok())
        .unwrap_or_default();
    match (status, json["status"].as_str()) {
        (202, Some("queued") | None) => Answer::Queued,
        (200, Some("duplicate")) => Answer::Duplicate,
        (status, shown) => Answer::Failed(format!("{status} {}", shown.unwrap_or("-"))),
    }
}

/// Sends delivery `n` as a sender does: until it is answered 202 or
/// `duplicate`, with a short pause after a failure, at most [`SEND_TRIES`]
/// requests.
async fn deliver(
    client: &awc::Client,
    url: &str,
    scheme: &StandardWebhooks,
    n: u32,
    ledger: &RefCell<Ledger>,
    progress: &Progress,
) {
    ledger.borrow_mut().sent[n as usize].sends += 1;
    for tries in 1..=SEND_TRIES {
        let answer = request(client, url, scheme, n).await;
        if ledger.borrow_mut().answered(n, answer, progress) || progress.stop.load(Ordering::SeqCst)
        {
            return;
        }
        let pause = Duration::from_millis(20 * u64::from(tries.min(5)));
        actix_rt::time::sleep(pause).await;
    }
    ledger.borrow_mut().sent[n as usize].gave_up = true;
}

/// Sends every planned delivery over [`CONNECTIONS`] connections.
async fn send_all(addr: SocketAddr, progress: Arc<Progress>) -> Ledger {
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(5))
        .finish();
    let url = format!("http://{addr}/webhooks");
    let scheme = StandardWebhooks::new(SECRET).expect("the demo secret");
    let ledger = Rc::new(RefCell::new(Ledger::new()));
    let start = Instant::now();
    let connections = (0..CONNECTIONS).map(|_| {
        let (client, url, scheme, ledger, progress) = (&client, &url, &scheme, &ledger, &progress);
        async move {
            loop {
                let next = ledger.borrow_mut().next(progress, start.elapsed());
                match next {
                    Next::Send(n) => deliver(client, url, scheme, n, ledger, progress).await,
                    Next::Wait(pause) => actix_rt::time::sleep(pause).await,
                    Next::Done => break,
                }
            }
        }
    });
    futures_util::future::join_all(connections).await;
    drop(client);
    Rc::try_unwrap(ledger)
        .ok()
        .expect("the connections are done")
        .into_inner()
}

/// The inbox file's rows, read while a server may be writing to it.
struct Rows {
    /// id → (state, attempts).
    deliveries: HashMap<String, (String, u32)>,
    /// (id, attempt number) → outcome.
    attempts: HashMap<(String, u32), String>,
}

fn read_rows(db: &Connection) -> Rows {
    let mut deliveries = HashMap::new();
    let mut statement = db
        .prepare("SELECT id, state, attempts FROM inbox_deliveries")
        .unwrap();
    let rows = statement
        .query_map([], |row| Ok((row.get(0)?, (row.get(1)?, row.get(2)?))))
        .unwrap();
    for row in rows {
        let (id, value): (String, (String, u32)) = row.unwrap();
        assert!(
            deliveries.insert(id.clone(), value).is_none(),
            "{id} is in the inbox twice"
        );
    }
    let mut statement = db
        .prepare(
            "SELECT d.id, a.number, a.outcome FROM inbox_attempts a
             JOIN inbox_deliveries d ON d.seq = a.seq",
        )
        .unwrap();
    let attempts = statement
        .query_map([], |row| Ok(((row.get(0)?, row.get(1)?), row.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    Rows {
        deliveries,
        attempts,
    }
}

fn open_count(db: &Connection) -> i64 {
    db.query_row(
        "SELECT COUNT(*) FROM inbox_deliveries WHERE state IN ('queued', 'retry', 'running')",
        [],
        |row| row.get(0),
    )
    .unwrap()
}

#[test]
fn deliveries_survive_kills_and_restarts() {
    let binary = example_binary("sqlite");
    let dir = temp_dir("inbox-crash");
    let inbox = dir.join("inbox.db");
    let port = free_port();
    let env = [
        ("PORT", port.to_string().into()),
        ("INBOX", inbox.clone().into_os_string()),
        ("LEASE_SECS", LEASE_SECS.to_string().into()),
        ("CONCURRENCY", CONCURRENCY.to_string().into()),
    ];
    let mut server = Server::new(binary, &dir, "", port, &env);
    let addr = server.addr;
    let began = Instant::now();
    server.start();

    let progress = Arc::new(Progress::default());
    let killer = Killer {
        progress: progress.clone(),
        thread: Some({
            let progress = progress.clone();
            thread::spawn(move || kill_and_restart(server, &progress, began))
        }),
    };
    let ledger = actix_rt::System::new().block_on(send_all(addr, progress.clone()));
    let sending = began.elapsed();
    progress.sending_done.store(true, Ordering::SeqCst);
    let (mut server, kills) = killer.finish();

    // The last incarnation drains the inbox.
    let drain_start = Instant::now();
    let db = Connection::open_with_flags(&inbox, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .expect("the inbox file opens read-only");
    db.busy_timeout(Duration::from_secs(5)).unwrap();
    let accepted: Vec<String> = ledger.accepted.iter().map(|&n| delivery_id(n)).collect();
    loop {
        let open = open_count(&db);
        let done = handled_ids(&server.outputs);
        let missing = accepted.iter().filter(|id| !done.contains(*id)).count();
        if open == 0 && missing == 0 {
            break;
        }
        assert!(
            drain_start.elapsed() < DRAIN_LIMIT,
            "after {DRAIN_LIMIT:?} of draining, {open} deliveries are still open and {missing} \
             accepted ones have no successful run; the inbox and outputs are in {}",
            dir.display()
        );
        thread::sleep(Duration::from_millis(100));
    }
    let draining = drain_start.elapsed();
    let last_incarnation = server.outputs.len() - 1;
    server.kill();
    let lines = handled(&server.outputs);
    let rows = read_rows(&db);
    drop(db);

    // The sender: every delivery accepted, none accepted twice as new.
    let gave_up: Vec<String> = (0..DELIVERIES)
        .filter(|&n| ledger.sent[n as usize].gave_up)
        .map(delivery_id)
        .collect();
    assert!(gave_up.is_empty(), "the sender gave up on {gave_up:?}");
    assert_eq!(ledger.accepted.len(), DELIVERIES as usize);
    for (n, sent) in ledger.sent.iter().enumerate() {
        // A second 202 would mean the first stored copy was lost.
        assert!(
            sent.queued <= 1,
            "msg_crash_{n:04} was answered 202 {} times",
            sent.queued
        );
    }

    // The inbox: every accepted delivery is there and done; nothing else.
    let dead: Vec<&String> = rows
        .deliveries
        .iter()
        .filter(|(_, (state, _))| state == "dead")
        .map(|(id, _)| id)
        .collect();
    assert!(dead.is_empty(), "dead letters: {dead:?}");
    let not_done: Vec<(&String, &String)> = rows
        .deliveries
        .iter()
        .filter(|(_, (state, _))| state != "done")
        .map(|(id, (state, _))| (id, state))
        .collect();
    assert!(not_done.is_empty(), "not done: {not_done:?}");
    for id in &accepted {
        assert!(
            rows.deliveries.contains_key(id),
            "{id} was accepted and is lost"
        );
    }
    assert_eq!(
        rows.deliveries.len(),
        accepted.len(),
        "stray rows in the inbox"
    );

    // The runs: per delivery, one success recorded, as its last attempt;
    // any other success was cut off by a kill before its record.
    let mut by_id: HashMap<&str, Vec<&Handled>> = HashMap::new();
    for line in &lines {
        by_id.entry(&line.id).or_default().push(line);
    }
    let killed: HashSet<usize> = kills.iter().map(|kill| kill.incarnation).collect();
    let mut extra_by_incarnation: BTreeMap<usize, usize> = BTreeMap::new();
    for id in &accepted {
        let (_, last) = &rows.deliveries[id];
        let runs = by_id.get(id.as_str()).map_or(&[][..], Vec::as_slice);
        assert!(!runs.is_empty(), "{id} has no successful run");
        let n: u32 = id["msg_crash_".len()..].parse().unwrap();
        let mut numbers = HashSet::new();
        for run in runs {
            assert!(
                numbers.insert(run.attempt),
                "{id}: attempt {} succeeded twice",
                run.attempt
            );
            assert!(
                run.attempt > fail_times(n),
                "{id}: attempt {} succeeded though it asks to fail {} times",
                run.attempt,
                fail_times(n)
            );
            let outcome = rows.attempts.get(&(id.clone(), run.attempt));
            if run.attempt == *last {
                assert_eq!(
                    outcome.map(String::as_str),
                    Some("done"),
                    "{id}: its last run"
                );
                continue;
            }
            // A success that was not recorded: its process was killed
            // before the record, and the run that took over found it
            // unfinished.
            assert!(
                run.attempt < *last,
                "{id}: attempt {} succeeded after the recorded last attempt {last}",
                run.attempt
            );
            assert_eq!(
                outcome.map(String::as_str),
                Some("interrupted"),
                "{id}: attempt {} succeeded and was recorded as {outcome:?}, yet ran again",
                run.attempt
            );
            assert!(
                killed.contains(&run.incarnation) && run.incarnation != last_incarnation,
                "{id}: attempt {} succeeded unrecorded in incarnation {}, which was not killed",
                run.attempt,
                run.incarnation
            );
            *extra_by_incarnation.entry(run.incarnation).or_default() += 1;
        }
        assert!(
            numbers.contains(last),
            "{id}: its recorded success never printed"
        );
    }
    let extra: usize = extra_by_incarnation.values().sum();
    let restarted = rows
        .attempts
        .values()
        .filter(|outcome| *outcome == "interrupted")
        .count();
    let retried_lines = lines.iter().filter(|line| line.attempt > 1).count();
    let asked_to_fail = (0..DELIVERIES).filter(|&n| fail_times(n) > 0).count();
    let sends: u32 = ledger.sent.iter().map(|sent| sent.sends).sum();
    let queued: u32 = ledger.sent.iter().map(|sent| sent.queued).sum();
    let duplicates: u32 = ledger.sent.iter().map(|sent| sent.duplicate).sum();
    let while_sending = kills.iter().filter(|kill| kill.while_sending).count();
    let kill_times: Vec<String> = kills
        .iter()
        .map(|kill| format!("{:.1}s", kill.at.as_secs_f64()))
        .collect();
    let per_kill: Vec<usize> = kills
        .iter()
        .map(|kill| {
            extra_by_incarnation
                .get(&kill.incarnation)
                .copied()
                .unwrap_or(0)
        })
        .collect();
    println!(
        "inbox crash: {DELIVERIES} deliveries, {sends} sends in {} requests ({} failed: {:?}); \
         {queued} answered 202, {duplicates} duplicate",
        ledger.requests, ledger.failed, ledger.failures
    );
    println!(
        "inbox crash: {} kills ({while_sending} while sending, {} while draining) at {kill_times:?}; \
         {} incarnations",
        kills.len(),
        kills.len() - while_sending,
        last_incarnation + 1
    );
    println!(
        "inbox crash: restarted runs: {restarted} (attempts recorded interrupted); \
         handled lines with attempt > 1: {retried_lines} ({asked_to_fail} deliveries ask to fail once)"
    );
    println!(
        "inbox crash: extra successful runs: {extra} (per kill: {per_kill:?}); \
         sending {:.1} s, draining {:.1} s, total {:.1} s",
        sending.as_secs_f64(),
        draining.as_secs_f64(),
        began.elapsed().as_secs_f64()
    );

    assert!(kills.len() >= 5, "only {} kills: {kills:?}", kills.len());
    assert!(restarted > 0, "no kill landed on a running delivery");
    // At most every run in flight can be cut off between its success and
    // its record.
    for (incarnation, extra) in &extra_by_incarnation {
        assert!(
            *extra <= CONCURRENCY,
            "{extra} unrecorded successes in incarnation {incarnation}"
        );
    }
    assert!(
        extra <= kills.len(),
        "{extra} extra successful runs for {} kills (per kill: {per_kill:?})",
        kills.len()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
