//! `webhook inbox` against the inbox a running server writes to, an SQLite
//! file (`--db`) or a real `redis-server` (`--redis`, `--namespace`): a real
//! actix server on 127.0.0.1 with a router in inbox mode (Standard Webhooks)
//! and its workers keeps receiving deliveries while the real binary runs
//! each subcommand. The same checks run on both stores: counts, filters,
//! bytes shown, replays and purges against what was sent. A missing file,
//! an unreachable Redis and argument mistakes are refused, and a password in
//! a Redis URL is never printed.

// The crash and restart helpers, and the connection (behind the library's
// `redis` feature), are for the library's tests.
#[allow(unused, unexpected_cfgs)]
#[path = "../../tests/support/redis_server.rs"]
mod redis_server;
mod support;

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::web::{self, Bytes};
use actix_web::{App, HttpServer};
use actix_webhook::inbox::{Backoff, Inbox};
use actix_webhook::scheme::{EventName, StandardWebhooks};
use actix_webhook::testing::TestDelivery;
use actix_webhook::{webhook, Event, WebhookRouter};
use redis_server::RedisServer;
use support::Run;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// How the handlers behave, switched by the test.
#[derive(Debug, Default)]
struct Switches {
    /// The refund service is back: `refund` succeeds.
    refunds_fixed: AtomicBool,
    /// `slow` may finish.
    slow_released: AtomicBool,
}

#[webhook(event = "order_paid")]
async fn order_paid(_event: Event<Bytes>) {}

#[webhook(event = "refund")]
async fn refund(event: Event<Bytes>, switches: web::Data<Switches>) -> Result<(), String> {
    if switches.refunds_fixed.load(Ordering::SeqCst) {
        Ok(())
    } else {
        Err(format!(
            "the refund service is down (run {})",
            event.attempt().unwrap_or(0)
        ))
    }
}

/// Runs until released (at most 20 s), so its delivery stays `running`.
#[webhook(event = "slow")]
async fn slow(_event: Event<Bytes>, switches: web::Data<Switches>) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !switches.slow_released.load(Ordering::SeqCst) && Instant::now() < deadline {
        actix_web::rt::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The background traffic.
#[webhook(event = "tick")]
async fn tick(_event: Event<Bytes>) {}

/// Deliveries sent in the background while the commands run.
#[derive(Debug, Default)]
struct Ticks {
    /// How many were answered 202.
    queued: AtomicU64,
    stop: AtomicBool,
}

/// The most background deliveries sent, and how far apart.
const MAX_TICKS: u64 = 3_000;
const TICK_EVERY: Duration = Duration::from_millis(20);

/// Where a server keeps its inbox, and how `webhook inbox` names it.
#[derive(Debug, Clone)]
enum Store {
    /// An SQLite file, removed when the server is dropped.
    File(PathBuf),
    /// A Redis inbox (the Redis outlives the server).
    Redis { url: String, namespace: String },
}

impl Store {
    async fn open(&self) -> std::io::Result<Inbox> {
        match self {
            Self::File(db) => Inbox::sqlite(db),
            Self::Redis { url, namespace } => Inbox::redis(url, namespace).await,
        }
        .map_err(std::io::Error::other)
    }

    /// `webhook inbox` and the arguments that name this inbox.
    fn args(&self) -> Vec<&str> {
        match self {
            Self::File(db) => vec!["inbox", "--db", db.to_str().expect("a UTF-8 path")],
            Self::Redis { url, namespace } => {
                vec!["inbox", "--redis", url, "--namespace", namespace]
            }
        }
    }
}

/// A server in inbox mode on a free 127.0.0.1 port, in its own thread, its
/// workers next to it and a sender of `tick` deliveries; stopped (and its
/// file removed) when dropped.
struct Served {
    url: String,
    store: Store,
    switches: web::Data<Switches>,
    ticks: Arc<Ticks>,
    handle: actix_web::dev::ServerHandle,
    thread: Option<std::thread::JoinHandle<std::io::Result<()>>>,
}

impl Served {
    /// A server whose inbox is a new file.
    fn start_file(name: &str) -> Self {
        Self::start(Store::File(temp_db(name)))
    }

    /// A server whose inbox is in `redis` under `namespace`.
    fn start_redis(redis: &RedisServer, namespace: &str) -> Self {
        Self::start(Store::Redis {
            url: redis.url(),
            namespace: namespace.to_owned(),
        })
    }

    fn start(store: Store) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let url = format!(
            "http://127.0.0.1:{}/webhooks",
            listener.local_addr().unwrap().port()
        );
        let switches = web::Data::new(Switches::default());
        let ticks = Arc::new(Ticks::default());
        let (sender, receiver) = std::sync::mpsc::channel();
        let thread = {
            let (store, url, switches, ticks) =
                (store.clone(), url.clone(), switches.clone(), ticks.clone());
            std::thread::spawn(move || {
                actix_web::rt::System::new().block_on(async move {
                    let inbox = store.open().await?;
                    let hooks = WebhookRouter::new(StandardWebhooks::new(SECRET).unwrap())
                        // The event name in a header, so a body may be any bytes.
                        .event_name(EventName::Header("x-event"))
                        .handler(order_paid)
                        .handler(refund)
                        .handler(slow)
                        .handler(tick)
                        .inbox(inbox);
                    let workers = hooks
                        .workers()
                        .app_data(switches)
                        .backoff(
                            Backoff::exponential(
                                Duration::from_millis(10),
                                Duration::from_millis(50),
                            )
                            .max_attempts(2),
                        )
                        // Replays come from another process: notice them soon.
                        .poll_interval(Duration::from_millis(50));
                    actix_web::rt::spawn(workers.run());
                    let server =
                        HttpServer::new(move || App::new().service(hooks.scope("/webhooks")))
                            .workers(1)
                            .listen(listener)?
                            .run();
                    sender.send(server.handle()).expect("the test waits");
                    actix_web::rt::spawn(send_ticks(url, ticks));
                    server.await
                })
            })
        };
        let handle = match receiver.recv() {
            Ok(handle) => handle,
            Err(_) => panic!("the server did not start: {:?}", thread.join()),
        };
        let served = Self {
            url,
            store,
            switches,
            ticks,
            handle,
            thread: Some(thread),
        };
        served.wait_for("the first background deliveries", |s| s.ticks() >= 3);
        served
    }

    /// POSTs a signed delivery; the answer's status.
    fn send(&self, id: &str, event: &str, body: &[u8], extra: &[(&str, &[u8])]) -> u16 {
        let extra: Vec<(HeaderName, HeaderValue)> = extra
            .iter()
            .map(|(name, value)| {
                (
                    HeaderName::from_bytes(name.as_bytes()).unwrap(),
                    HeaderValue::from_bytes(value).unwrap(),
                )
            })
            .collect();
        actix_web::rt::System::new().block_on(post(&self.url, id, event, body.to_vec(), extra))
    }

    /// Background deliveries answered 202 so far.
    fn ticks(&self) -> u64 {
        self.ticks.queued.load(Ordering::SeqCst)
    }

    /// `webhook inbox --db FILE args...`, or `--redis URL --namespace NS`.
    fn inbox(&self, args: &[&str]) -> Run {
        self.inbox_with(args, &[])
    }

    /// [`inbox`](Self::inbox) with `env` set.
    fn inbox_with(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut all = self.store.args();
        all.extend(args);
        cli(&all, env)
    }

    /// `webhook inbox ... args` that must succeed; its standard output.
    fn ok(&self, args: &[&str]) -> String {
        let run = self.inbox(args);
        run.assert_exit(0, &args.join(" "));
        run.stdout
    }

    /// What `show` says `id`'s state is.
    fn state(&self, id: &str) -> String {
        field(&self.ok(&["show", id]), "state")
    }

    /// Waits (at most 15 s) until `done` holds.
    fn wait_for(&self, what: &str, done: impl Fn(&Self) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(15);
        while !done(self) {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn wait_for_state(&self, id: &str, state: &str) {
        self.wait_for(&format!("{id} {state}"), |s| s.state(id) == state);
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.ticks.stop.store(true, Ordering::SeqCst);
        self.switches.slow_released.store(true, Ordering::SeqCst);
        actix_web::rt::System::new().block_on(self.handle.stop(false));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        if let Store::File(db) = &self.store {
            remove_db(db);
        }
    }
}

/// Sends `tick` deliveries until told to stop (or `MAX_TICKS`), counting
/// those queued.
async fn send_ticks(url: String, ticks: Arc<Ticks>) {
    for n in 0..MAX_TICKS {
        if ticks.stop.load(Ordering::SeqCst) {
            break;
        }
        let id = format!("tick_{n}");
        if post(&url, &id, "tick", b"{}".to_vec(), Vec::new()).await == 202 {
            ticks.queued.fetch_add(1, Ordering::SeqCst);
        }
        actix_web::rt::time::sleep(TICK_EVERY).await;
    }
}

/// POSTs `body` as delivery `id` of `event`, signed the Standard Webhooks
/// way, with `extra` headers; the status (0 when it could not be sent).
async fn post(
    url: &str,
    id: &str,
    event: &str,
    body: Vec<u8>,
    extra: Vec<(HeaderName, HeaderValue)>,
) -> u16 {
    let signed = TestDelivery::new(body.clone())
        .id(id)
        .headers(&StandardWebhooks::new(SECRET).unwrap());
    let mut request = awc::Client::default()
        .post(url)
        .insert_header(("x-event", event))
        .insert_header(("content-type", "application/json"));
    for header in signed {
        request = request.insert_header(header);
    }
    for header in extra {
        request = request.insert_header(header);
    }
    match request.send_body(body).await {
        Ok(response) => response.status().as_u16(),
        Err(_) => 0,
    }
}

/// A path for an inbox file in the target's temporary folder.
fn temp_db(name: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("inbox-cli-{name}-{}.db", std::process::id()));
    remove_db(&path);
    path
}

/// Removes an inbox file and its WAL files.
fn remove_db(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut file = path.as_os_str().to_owned();
        file.push(suffix);
        let _ = std::fs::remove_file(file);
    }
}

/// Runs `webhook args...` with `env` set (and no `COLUMNS` or
/// `WEBHOOK_INBOX_REDIS` otherwise).
fn cli(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_webhook"));
    command
        .args(args)
        .env_remove("COLUMNS")
        .env_remove("WEBHOOK_INBOX_REDIS")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, value) in env {
        command.env(name, value);
    }
    let Output {
        status,
        stdout,
        stderr,
    } = command.output().expect("the webhook binary runs");
    Run {
        code: status.code(),
        stdout: String::from_utf8(stdout).expect("UTF-8 stdout: bytes are shown escaped"),
        stderr: String::from_utf8(stderr).expect("UTF-8 stderr"),
    }
}

/// The value of `show`'s `name:` line.
fn field(show: &str, name: &str) -> String {
    let prefix = format!("{name}:");
    show.lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {name} in {show}"))
        .trim()
        .to_owned()
}

/// One row of `list`'s table.
#[derive(Debug)]
struct Row {
    id: String,
    event: String,
    state: String,
    attempts: u32,
    last_error: String,
}

/// The rows of the table in `out` (the header skipped, notes ignored).
fn rows(out: &str) -> Vec<Row> {
    let mut lines = out.lines();
    match lines.next() {
        Some(header) if header.starts_with("id ") => {}
        _ => return Vec::new(),
    }
    lines
        .take_while(|line| {
            !line.starts_with('(') && !line.starts_with("queued ") && !line.starts_with("would ")
        })
        .map(|line| {
            let cells: Vec<&str> = line.split_whitespace().collect();
            assert!(cells.len() >= 7, "a row of 7 columns: {line:?}");
            Row {
                id: cells[0].to_owned(),
                event: cells[1].to_owned(),
                state: cells[2].to_owned(),
                attempts: cells[3].parse().expect("attempts"),
                last_error: cells[6..].join(" "),
            }
        })
        .collect()
}

fn ids(rows: &[Row]) -> Vec<&str> {
    rows.iter().map(|r| r.id.as_str()).collect()
}

/// What `stats` printed.
#[derive(Debug)]
struct Counts {
    by_state: BTreeMap<String, u64>,
    /// Per event: queued, running, retry, done, dead, total.
    by_event: BTreeMap<String, [u64; 6]>,
    restarted: u64,
}

impl Counts {
    fn event(&self, event: &str) -> [u64; 6] {
        self.by_event.get(event).copied().unwrap_or_default()
    }
}

fn stats(out: &str) -> Counts {
    let mut blocks = out.split("\n\n");
    let states = blocks.next().expect("the states");
    let events = blocks.next().expect("the events");
    let restarted = blocks.next().expect("the restarted runs");
    let by_state = states
        .lines()
        .skip(1)
        .map(|line| {
            let (state, n) = line.split_once(' ').expect("state and count");
            (state.to_owned(), n.trim().parse().expect("a count"))
        })
        .collect();
    if events == "no events" {
        return Counts {
            by_state,
            by_event: BTreeMap::new(),
            restarted: restarted_runs(restarted),
        };
    }
    let mut lines = events.lines();
    assert_eq!(
        lines
            .next()
            .map(|l| l.split_whitespace().collect::<Vec<_>>()),
        Some(vec![
            "event", "queued", "running", "retry", "done", "dead", "total"
        ]),
        "{out}"
    );
    let by_event = lines
        .map(|line| {
            let cells: Vec<&str> = line.split_whitespace().collect();
            let mut counts = [0; 6];
            for (count, cell) in counts.iter_mut().zip(&cells[1..]) {
                *count = cell.parse().expect("a count");
            }
            (cells[0].to_owned(), counts)
        })
        .collect();
    Counts {
        by_state,
        by_event,
        restarted: restarted_runs(restarted),
    }
}

fn restarted_runs(line: &str) -> u64 {
    line.trim()
        .strip_prefix("restarted runs: ")
        .expect("restarted runs")
        .parse()
        .expect("a count")
}

/// Undoes the escaping `show` applies to header values and bodies that
/// are not text: `\\` and `\xHH`.
fn unescape(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match (bytes[i], bytes.get(i + 1)) {
            (b'\\', Some(b'\\')) => {
                out.push(b'\\');
                i += 2;
            }
            (b'\\', Some(b'x')) => {
                let hex = std::str::from_utf8(&bytes[i + 2..i + 4]).unwrap();
                out.push(u8::from_str_radix(hex, 16).expect("two hex digits"));
                i += 4;
            }
            (b'\\', _) => panic!("a lone backslash in {text:?}"),
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// The `count` bytes of a text body after `show`'s `body:` line.
fn text_body(show: &str, count: usize) -> &str {
    let start = show.find("\nbody: ").expect("a body line") + 1;
    let line_end = start + show[start..].find('\n').unwrap() + 1;
    assert_eq!(
        &show[start..line_end],
        format!("body: {count} bytes, text:\n"),
        "{show}"
    );
    let body = &show[line_end..line_end + count];
    assert_eq!(&show[line_end + count..line_end + count + 1], "\n");
    body
}

#[test]
fn inbox_commands_on_the_file_a_running_server_writes() {
    commands_on(&Served::start_file("commands"));
}

#[test]
fn inbox_commands_on_a_redis_inbox_running_servers_share() {
    let redis = RedisServer::start();
    // Two applications on one Redis: `shop` is operated; the other, in the
    // default namespace, receives its own deliveries all along.
    let other = Served::start_redis(&redis, "webhook-inbox");
    let shop = Served::start_redis(&redis, "shop");
    commands_on(&shop);

    // Without --namespace, the default one (the inbox example's).
    let url = redis.url();
    assert_eq!(other.send("ord_default", "order_paid", b"{}", &[]), 202);
    other.wait_for_state("ord_default", "done");
    let default = cli(&["inbox", "--redis", &url, "show", "ord_default"], &[]);
    default.assert_exit(0, "show in the default namespace");
    assert_eq!(field(&default.stdout, "state"), "done", "{default:?}");
    assert_eq!(
        default.stdout,
        other.ok(&["show", "ord_default"]),
        "--namespace webhook-inbox is the default"
    );
    // Each namespace holds only its own deliveries.
    shop.inbox(&["show", "ord_default"])
        .assert_exit(1, "another namespace's delivery");
    other
        .inbox(&["show", "ord_1"])
        .assert_exit(1, "another namespace's delivery");
    let counts = stats(&other.ok(&["stats"]));
    assert_eq!(counts.event("order_paid"), [0, 0, 0, 1, 0, 1]);
    assert_eq!(counts.event("refund"), [0; 6]);
    assert!(counts.event("tick")[5] >= 3);
    let empty = cli(
        &["inbox", "--redis", &url, "--namespace", "nobody", "stats"],
        &[],
    );
    empty.assert_exit(0, "an empty namespace");
    assert_eq!(stats(&empty.stdout).by_state["total"], 0, "{empty:?}");
    assert!(empty.stdout.contains("\nno events\n"), "{empty:?}");
}

/// Every subcommand against `served`'s inbox while it runs: what is shown
/// is checked against what was sent, and must be the same for each store.
fn commands_on(served: &Served) {
    // What is sent: four orders (one twice), one with a header value that is
    // not UTF-8 and a text body, one with a body that is not text; a refund
    // that fails until the service is fixed.
    let order = br#"{"order":"o_1"}"#;
    let odd_header: &[u8] = b"caf\xe9 \xff|\\x41";
    let odd_text = r#"{"order":"o_3","note":"café ☕ \\ done"}"#;
    let binary: &[u8] = b"\x00\x01 raw \\ \xfe\xff\x1b[2J\n";
    assert_eq!(served.send("ord_1", "order_paid", order, &[]), 202);
    assert_eq!(served.send("ord_2", "order_paid", order, &[]), 202);
    assert_eq!(
        served.send(
            "ord_odd",
            "order_paid",
            odd_text.as_bytes(),
            &[("x-trace", odd_header)]
        ),
        202
    );
    assert_eq!(served.send("ord_bin", "order_paid", binary, &[]), 202);
    assert_eq!(
        served.send("ord_1", "order_paid", order, &[]),
        200,
        "a duplicate"
    );
    assert_eq!(served.send("ref_1", "refund", b"{}", &[]), 202);
    for id in ["ord_1", "ord_2", "ord_odd", "ord_bin"] {
        served.wait_for_state(id, "done");
    }
    served.wait_for_state("ref_1", "dead");

    // stats: the counts of what was sent, while ticks keep arriving.
    let before = served.ticks();
    let out = served.ok(&["stats"]);
    let after = served.ticks();
    let counts = stats(&out);
    assert_eq!(counts.event("order_paid"), [0, 0, 0, 4, 0, 4], "{out}");
    assert_eq!(counts.event("refund"), [0, 0, 0, 0, 1, 1], "{out}");
    let ticks = counts.event("tick");
    // One tick may be stored and not yet answered when the file is read.
    assert!(
        (before..=after + 1).contains(&ticks[5]),
        "{before} <= {} <= {after} + 1: {out}",
        ticks[5]
    );
    assert!(ticks[5] >= 3, "{out}");
    let total: u64 = ["queued", "running", "retry", "done", "dead"]
        .iter()
        .map(|s| counts.by_state[*s])
        .sum();
    assert_eq!(counts.by_state["total"], total, "{out}");
    assert_eq!(total, 5 + ticks[5], "{out}");
    assert_eq!(counts.by_state["dead"], 1, "{out}");
    assert_eq!(counts.by_state["done"], 4 + ticks[3], "{out}");
    assert_eq!(counts.restarted, 0, "{out}");

    // list: newest first, filtered by state, event, time, limit.
    let dead = rows(&served.ok(&["list", "--state", "dead"]));
    assert_eq!(ids(&dead), ["ref_1"]);
    assert_eq!(
        (
            dead[0].event.as_str(),
            dead[0].state.as_str(),
            dead[0].attempts
        ),
        ("refund", "dead", 2)
    );
    assert!(
        dead[0]
            .last_error
            .starts_with("the refund service is down (run 2)"),
        "{dead:?}"
    );
    let orders = rows(&served.ok(&["list", "--event", "order_paid"]));
    assert_eq!(ids(&orders), ["ord_bin", "ord_odd", "ord_2", "ord_1"]);
    assert!(
        orders
            .iter()
            .all(|r| r.state == "done" && r.attempts == 1 && r.last_error == "-"),
        "{orders:?}"
    );
    let out = served.ok(&["list", "--event", "order_paid", "--limit", "2"]);
    assert_eq!(ids(&rows(&out)), ["ord_bin", "ord_odd"]);
    assert!(
        out.contains("(the newest 2; --limit N shows more)"),
        "{out}"
    );
    let done = rows(&served.ok(&["list", "--state", "done", "--limit", "1000"]));
    assert!(done.len() >= 4 + 3, "{done:?}");
    assert!(done.iter().all(|r| r.state == "done"), "{done:?}");
    assert!(!ids(&done).contains(&"ref_1"));
    assert_eq!(
        served.ok(&["list", "--state", "done", "--event", "refund"]),
        "no deliveries match\n"
    );
    let tick_rows = rows(&served.ok(&[
        "list", "--event", "tick", "--since", "10m", "--limit", "1000",
    ]));
    assert!(
        tick_rows.len() >= 3 && tick_rows.iter().all(|r| r.event == "tick"),
        "{tick_rows:?}"
    );
    assert_eq!(
        ids(&rows(
            &served.ok(&["list", "--event", "refund", "--since", "1h"])
        )),
        ["ref_1"]
    );
    let future = (chrono::Utc::now() + chrono::TimeDelta::hours(1)).to_rfc3339();
    assert_eq!(
        served.ok(&["list", "--since", &future]),
        "no deliveries match\n"
    );
    // The last error is shortened to fit the terminal.
    let narrow = served.inbox_with(&["list", "--state", "dead"], &[("COLUMNS", "100")]);
    narrow.assert_exit(0, "list in 100 columns");
    let line = narrow.stdout.lines().nth(1).expect("a row");
    assert!(line.ends_with('…'), "{narrow:?}");
    assert!(line.starts_with("ref_1 "), "{narrow:?}");
    assert_eq!(line.chars().count(), 100, "{narrow:?}");

    // show: headers and body byte for byte (escaped where not text), runs.
    let out = served.ok(&["show", "ord_odd"]);
    assert_eq!(field(&out, "id"), "ord_odd");
    assert_eq!(field(&out, "event"), "order_paid");
    assert_eq!(field(&out, "state"), "done");
    assert_eq!(field(&out, "scheme"), "standard-webhooks");
    assert_eq!(field(&out, "request"), "POST /webhooks");
    let header = |name: &str| -> Vec<u8> {
        let prefix = format!("  {name}: ");
        let line = out
            .lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .unwrap_or_else(|| panic!("no {name} header in {out}"));
        unescape(line)
    };
    assert_eq!(header("x-trace"), odd_header, "{out}");
    assert!(out.contains("  x-trace: caf\\xe9 \\xff|\\\\x41\n"), "{out}");
    assert_eq!(header("webhook-id"), b"ord_odd");
    // Headers by name, so that every reading prints the same.
    let names: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.starts_with("headers: "))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .map(|l| l.trim_start().split(':').next().unwrap())
        .collect();
    assert!(names.len() >= 5, "{out}");
    assert!(names.is_sorted(), "{out}");
    assert_eq!(out, served.ok(&["show", "ord_odd"]), "the same twice");
    assert_eq!(header("x-event"), b"order_paid");
    assert_eq!(text_body(&out, odd_text.len()), odd_text);
    assert!(out.contains("runs: 1\n  #1  "), "{out}");
    assert!(out.trim_end().ends_with("  done"), "{out}");

    let out = served.ok(&["show", "ord_bin"]);
    let (_, rest) = out
        .split_once(&format!("body: {} bytes, not text", binary.len()))
        .expect("a body that is not text");
    let escaped = rest.lines().nth(1).expect("the escaped body");
    assert_eq!(unescape(escaped), binary, "{out}");
    assert!(
        !out.contains('\u{1b}'),
        "no escape sequence reaches the terminal"
    );

    let out = served.ok(&["show", "ref_1"]);
    assert_eq!(field(&out, "state"), "dead");
    assert_eq!(field(&out, "attempts"), "2");
    assert!(
        field(&out, "last error").starts_with("the refund service is down (run 2)"),
        "{out}"
    );
    assert!(out.contains("runs: 2\n"), "{out}");
    assert!(
        out.contains("  retry: the refund service is down (run 1)"),
        "{out}"
    );
    assert!(
        out.contains("  dead: the refund service is down (run 2)"),
        "{out}"
    );

    let missing = served.inbox(&["show", "nope"]);
    missing.assert_exit(1, "show of an unknown id");
    assert!(
        missing.stderr.contains("no delivery with id nope"),
        "{missing:?}"
    );

    // replay --dry-run lists and changes nothing.
    let out = served.ok(&["replay", "--dead", "--dry-run"]);
    assert_eq!(ids(&rows(&out)), ["ref_1"], "{out}");
    assert!(
        out.ends_with("would queue 1 delivery (dry run: nothing changed)\n"),
        "{out}"
    );
    let out = served.ok(&["replay", "--event", "refund", "--since", "1h", "--dry-run"]);
    assert_eq!(ids(&rows(&out)), ["ref_1"], "{out}");
    std::thread::sleep(Duration::from_millis(300));
    let out = served.ok(&["show", "ref_1"]);
    assert_eq!(
        (
            field(&out, "state").as_str(),
            field(&out, "attempts").as_str()
        ),
        ("dead", "2"),
        "{out}"
    );
    let unknown = served.inbox(&["replay", "nope"]);
    unknown.assert_exit(1, "replay of an unknown id");
    assert!(
        unknown.stderr.contains("no delivery with id nope"),
        "{unknown:?}"
    );

    // replay --dead, the handler fixed: it ends done.
    served.switches.refunds_fixed.store(true, Ordering::SeqCst);
    let out = served.ok(&["replay", "--dead"]);
    assert_eq!(ids(&rows(&out)), ["ref_1"], "{out}");
    assert!(out.ends_with("queued 1 delivery to run again\n"), "{out}");
    served.wait_for_state("ref_1", "done");
    let out = served.ok(&["show", "ref_1"]);
    assert_eq!(field(&out, "attempts"), "3", "{out}");
    assert!(out.contains("runs: 3\n"), "{out}");
    assert!(out.trim_end().ends_with("  done"), "{out}");

    // replay ID runs a done delivery again.
    let out = served.ok(&["replay", "ord_1"]);
    assert!(out.ends_with("queued 1 delivery to run again\n"), "{out}");
    served.wait_for("ord_1's second run", |s| {
        field(&s.ok(&["show", "ord_1"]), "attempts") == "2"
    });
    served.wait_for_state("ord_1", "done");

    // A delivery still running: listed as running, left alone by replay and
    // purge.
    assert_eq!(served.send("slow_1", "slow", b"{}", &[]), 202);
    served.wait_for_state("slow_1", "running");
    // (A tick may be running too, briefly.)
    let running = rows(&served.ok(&["list", "--state", "running"]));
    assert!(
        running
            .iter()
            .all(|r| r.state == "running" && (r.id == "slow_1" || r.event == "tick")),
        "{running:?}"
    );
    assert!(ids(&running).contains(&"slow_1"), "{running:?}");
    assert_eq!(
        ids(&rows(
            &served.ok(&["list", "--state", "running", "--event", "slow"])
        )),
        ["slow_1"]
    );
    assert_eq!(
        stats(&served.ok(&["stats"])).event("slow"),
        [0, 1, 0, 0, 0, 1]
    );
    let out = served.ok(&["replay", "slow_1"]);
    assert_eq!(
        out,
        "slow_1 is running: not taken\nqueued 0 deliveries to run again\n"
    );

    // purge --dead deletes only the dead letters.
    served.switches.refunds_fixed.store(false, Ordering::SeqCst);
    assert_eq!(served.send("ref_2", "refund", b"{}", &[]), 202);
    served.wait_for_state("ref_2", "dead");
    let out = served.ok(&["purge", "--dead"]);
    assert_eq!(out, "deleted 1 delivery\n");
    served
        .inbox(&["show", "ref_2"])
        .assert_exit(1, "the purged dead letter");
    assert_eq!(served.state("ref_1"), "done");
    assert_eq!(served.state("slow_1"), "running");
    let counts = stats(&served.ok(&["stats"]));
    assert_eq!(counts.by_state["dead"], 0);
    assert_eq!(counts.event("refund"), [0, 0, 0, 1, 0, 1]);
    assert_eq!(counts.event("order_paid"), [0, 0, 0, 4, 0, 4]);
    assert_eq!(counts.event("slow"), [0, 1, 0, 0, 0, 1]);

    // purge --older-than: only what finished before then, never one to run.
    assert_eq!(
        served.ok(&["purge", "--older-than", "1h"]),
        "deleted 0 deliveries\n"
    );
    assert_eq!(
        served.ok(&["purge", "--older-than", "0s", "--event", "order_paid"]),
        "deleted 4 deliveries\n"
    );
    assert_eq!(
        served.ok(&["purge", "--older-than", "0s", "--event", "slow"]),
        "deleted 0 deliveries\n"
    );
    let counts = stats(&served.ok(&["stats"]));
    assert_eq!(counts.event("order_paid"), [0; 6]);
    assert_eq!(counts.event("refund"), [0, 0, 0, 1, 0, 1]);
    assert_eq!(counts.event("slow"), [0, 1, 0, 0, 0, 1]);
    assert!(counts.event("tick")[5] >= tick_rows.len() as u64);
    assert_eq!(counts.restarted, 0);

    served.switches.slow_released.store(true, Ordering::SeqCst);
    served.wait_for_state("slow_1", "done");
    assert!(
        served.ticks() > after,
        "deliveries kept arriving throughout"
    );
}

#[test]
fn a_missing_inbox_file_is_an_error_and_is_not_created() {
    let db = temp_db("missing");
    let path = db.to_str().unwrap();
    for command in [
        &["stats"][..],
        &["list"],
        &["show", "msg_1"],
        &["replay", "--dead"],
        &["purge", "--dead"],
    ] {
        let mut args = vec!["inbox", "--db", path];
        args.extend(command);
        let run = cli(&args, &[]);
        run.assert_exit(1, &command.join(" "));
        assert!(run.stdout.is_empty(), "{run:?}");
        assert!(
            run.stderr
                .contains(&format!("no inbox at {path}: the file does not exist")),
            "{run:?}"
        );
        assert!(!db.exists(), "{command:?} created the file");
    }
    // A folder is no inbox either.
    let dir = env!("CARGO_TARGET_TMPDIR");
    let run = cli(&["inbox", "--db", dir, "stats"], &[]);
    run.assert_exit(1, "a folder");
    assert!(run.stderr.contains("is not a file"), "{run:?}");
}

#[test]
fn argument_mistakes_exit_2_with_a_clear_message() {
    let db = temp_db("usage");
    Inbox::sqlite(&db).expect("an empty inbox");
    let path = db.to_str().unwrap();
    let cases: &[(&[&str], &str)] = &[
        (&["inbox", "stats"], "needs --db PATH"),
        (
            &["inbox", "--db", path, "replay"],
            "<ID|--dead|--event <EVENT>|--since <T>>",
        ),
        (
            &["inbox", "--db", path, "replay", "--dry-run"],
            "<ID|--dead|--event <EVENT>|--since <T>>",
        ),
        (
            &["inbox", "--db", path, "purge"],
            "<--dead|--older-than <D>>",
        ),
        (
            &["inbox", "--db", path, "purge", "--event", "x"],
            "<--dead|--older-than <D>>",
        ),
        (
            &["inbox", "--db", path, "purge", "--older-than", "10"],
            "expected a duration such as 30s",
        ),
        (
            &["inbox", "--db", path, "list", "--state", "lost"],
            "[possible values: queued, running, retry, done, dead]",
        ),
        (
            &["inbox", "--db", path, "list", "--since", "yesterday"],
            "expected an RFC 3339 time",
        ),
        (&["inbox", "--db", path, "list", "--limit", "0"], "--limit"),
        (&["inbox", "--db", path, "show"], "<ID>"),
    ];
    for (args, message) in cases {
        let run = cli(args, &[]);
        run.assert_exit(2, &args.join(" "));
        assert!(run.stderr.contains(message), "{args:?}: {run:?}");
        assert!(run.stdout.is_empty(), "{args:?}: {run:?}");
    }
    // `--db` also goes after the command; an empty inbox is counted.
    let run = cli(&["inbox", "stats", "--db", path], &[]);
    run.assert_exit(0, "--db after the command");
    let counts = stats(&run.stdout);
    assert_eq!(counts.by_state["total"], 0, "{run:?}");
    assert!(run.stdout.contains("no events"), "{run:?}");
    assert_eq!(
        cli(&["inbox", "--db", path, "list"], &[]).stdout,
        "no deliveries match\n"
    );
    remove_db(&db);
}

/// A port on 127.0.0.1 that nothing listens on.
fn closed_port() -> u16 {
    let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
    listener.local_addr().unwrap().port()
}

/// Sends `command` to the Redis at `port` as an inline command; its
/// answer's first line.
fn redis_command(port: u16, command: &str) -> String {
    use std::io::{BufRead as _, Write as _};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream
        .write_all(format!("{command}\r\n").as_bytes())
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(stream)
        .read_line(&mut line)
        .unwrap();
    line
}

/// The port of a `redis://127.0.0.1:PORT/` URL.
fn port_of(url: &str) -> u16 {
    url.trim_end_matches('/')
        .rsplit(':')
        .next()
        .and_then(|port| port.parse().ok())
        .expect("a port")
}

#[test]
fn a_password_in_a_redis_url_is_never_printed() {
    const PASSWORD: &str = "s3cret-Pa55";
    let commands: [&[&str]; 5] = [
        &["stats"],
        &["list", "--state", "dead"],
        &["show", "msg_1"],
        &["replay", "--dead"],
        &["purge", "--dead"],
    ];
    let leaks = |run: &Run| {
        [PASSWORD, "s3cret%2DPa55", "webhook-user"]
            .iter()
            .any(|secret| run.stdout.contains(secret) || run.stderr.contains(secret))
    };

    // Redis unreachable: each command fails without the URL, from the
    // flag or from the environment.
    let unreachable = format!(
        "redis://webhook-user:{PASSWORD}@127.0.0.1:{}/",
        closed_port()
    );
    for command in commands {
        for from_env in [false, true] {
            let mut args = vec!["inbox"];
            let mut env = Vec::new();
            if from_env {
                env.push(("WEBHOOK_INBOX_REDIS", unreachable.as_str()));
            } else {
                args.extend(["--redis", &unreachable]);
            }
            args.extend(["--namespace", "shop"]);
            args.extend(command);
            let started = Instant::now();
            let run = cli(&args, &env);
            run.assert_exit(1, &command.join(" "));
            assert!(run.stdout.is_empty(), "{run:?}");
            assert!(
                run.stderr
                    .starts_with("error: cannot open the inbox at Redis (cannot connect): "),
                "{run:?}"
            );
            assert!(!leaks(&run), "{run:?}");
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "an unreachable Redis fails soon: {:?}",
                started.elapsed()
            );
        }
    }

    // URLs that do not parse, a usage error, the help.
    for url in [
        format!("redis//webhook-user:{PASSWORD}@127.0.0.1/"),
        format!("http://webhook-user:{PASSWORD}@127.0.0.1/"),
        format!("redis://webhook-user:{PASSWORD}@127.0.0.1/not-a-db"),
    ] {
        let run = cli(&["inbox", "--redis", &url, "stats"], &[]);
        run.assert_exit(1, &format!("the URL {}", url.replace(PASSWORD, "***")));
        assert!(
            run.stderr
                .starts_with("error: cannot open the inbox at Redis (invalid URL): "),
            "{run:?}"
        );
        assert!(!leaks(&run), "{run:?}");
        let run = cli(&["inbox", "--db", "x.db", "--redis", &url, "stats"], &[]);
        run.assert_exit(2, "--db and --redis");
        assert!(!leaks(&run), "{run:?}");
    }
    let help = cli(
        &["inbox", "--help"],
        &[("WEBHOOK_INBOX_REDIS", unreachable.as_str())],
    );
    help.assert_exit(0, "inbox --help");
    assert!(help.stdout.contains("WEBHOOK_INBOX_REDIS"), "{help:?}");
    assert!(!leaks(&help), "{help:?}");

    // A Redis that asks for the password: a wrong one is refused without
    // showing either; the right one opens the inbox.
    let redis = RedisServer::start();
    let port = port_of(&redis.url());
    assert_eq!(
        redis_command(port, &format!("CONFIG SET requirepass {PASSWORD}")),
        "+OK\r\n"
    );
    let wrong = format!("redis://:wrong-{PASSWORD}@127.0.0.1:{port}/");
    for command in commands {
        let mut args = vec!["inbox", "--redis", &wrong];
        args.extend(command);
        let run = cli(&args, &[]);
        run.assert_exit(1, &command.join(" "));
        assert!(run.stdout.is_empty(), "{run:?}");
        assert!(
            run.stderr
                .starts_with("error: cannot open the inbox at Redis"),
            "{run:?}"
        );
        assert!(!leaks(&run), "{run:?}");
    }
    let right = format!("redis://:{PASSWORD}@127.0.0.1:{port}/");
    let run = cli(&["inbox", "--redis", &right, "stats"], &[]);
    run.assert_exit(0, "the right password");
    assert!(run.stdout.contains("\nno events\n"), "{run:?}");
    assert!(!leaks(&run), "{run:?}");
    let run = cli(
        &["inbox", "replay", "--dead", "--dry-run"],
        &[("WEBHOOK_INBOX_REDIS", right.as_str())],
    );
    run.assert_exit(0, "the right password from the environment");
    assert_eq!(
        run.stdout,
        "would queue 0 deliveries (dry run: nothing changed)\n"
    );
}

#[test]
fn exactly_one_of_db_and_redis() {
    let redis = RedisServer::start();
    let url = redis.url();
    let db = temp_db("one-of");
    Inbox::sqlite(&db).expect("an empty inbox");
    let path = db.to_str().unwrap();
    let env = [("WEBHOOK_INBOX_REDIS", url.as_str())];
    // The arguments, the environment, what the error says.
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);
    let cases: &[Case<'_>] = &[
        (
            &["inbox", "stats"],
            &[],
            "needs --db PATH, the inbox file the server writes, or --redis URL",
        ),
        (
            &["inbox", "--db", path, "--redis", &url, "stats"],
            &[],
            "--db and --redis name two inboxes: give one",
        ),
        (
            &["inbox", "--redis", &url, "stats", "--db", path],
            &[],
            "--db and --redis name two inboxes: give one",
        ),
        (
            &["inbox", "--db", path, "stats"],
            &env,
            "give one (--redis may come from WEBHOOK_INBOX_REDIS)",
        ),
        (
            &["inbox", "--db", path, "--namespace", "shop", "stats"],
            &[],
            "--namespace is for a Redis inbox",
        ),
        (
            &["inbox", "--redis", &url, "--namespace", "", "stats"],
            &[],
            "the namespace is empty",
        ),
        (
            &["inbox", "--redis", &url, "--redis", &url, "stats"],
            &[],
            "cannot be used multiple times",
        ),
        (
            &["inbox", "--redis", &url, "purge"],
            &[],
            "<--dead|--older-than <D>>",
        ),
        (
            &["inbox", "--redis", &url, "list", "--state", "lost"],
            &[],
            "[possible values: queued, running, retry, done, dead]",
        ),
    ];
    for (args, env, message) in cases {
        let run = cli(args, env);
        run.assert_exit(2, &args.join(" "));
        assert!(run.stderr.contains(message), "{args:?}: {run:?}");
        assert!(run.stdout.is_empty(), "{args:?}: {run:?}");
    }
    // --redis and --namespace also go after the command, or --redis in the
    // environment; an empty inbox is counted alike.
    for (args, env) in [
        (
            &["inbox", "stats", "--redis", &url, "--namespace", "shop"][..],
            &[][..],
        ),
        (&["inbox", "--namespace", "shop", "stats"], &env),
        (&["inbox", "--db", path, "stats"], &[]),
    ] {
        let run = cli(args, env);
        run.assert_exit(0, &args.join(" "));
        assert_eq!(stats(&run.stdout).by_state["total"], 0, "{run:?}");
        assert!(run.stdout.contains("\nno events\n"), "{run:?}");
    }
    remove_db(&db);
}
