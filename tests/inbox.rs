//! The inbox's conformance suite: the same tests run against an SQLite file
//! (`sqlite::*`) and against a real `redis-server` started by the test
//! (`redis::*`, feature `redis`), each through a real actix server on
//! 127.0.0.1: what is answered, what runs, when and how often, what ends in
//! dead letters, and what an operator sees and changes. Then what only one
//! store can be asked (`sqlite_only::*`: a file that is not an inbox, rows
//! damaged in the file, a locked file; `redis_only::*`: a delivery damaged
//! by hand, a Redis that is shut down, killed or frozen, namespaces).
#![cfg(feature = "sqlite")]

#[cfg(feature = "redis")]
#[path = "support/redis_server.rs"]
mod redis_server;

#[path = "support/inbox_backend.rs"]
mod inbox_backend;

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::dev::ServerHandle;
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};
use actix_web::http::StatusCode;
use actix_web::web::{self, Bytes};
use actix_web::{App, HttpServer};
use actix_webhook::inbox::{Backoff, Filter, Inbox, Selection, State};
use actix_webhook::scheme::{EventName, GenericHmac, Signer, StandardWebhooks};
use actix_webhook::standalone::{Received, Verifier};
use actix_webhook::tenant::Tenants;
use actix_webhook::testing::{split_url, TestDelivery};
use actix_webhook::{webhook, Ack, Event, Secret, Secrets, WebhookRouter};
use chrono::{DateTime, Utc};
use futures_util::future::join_all;
use inbox_backend::{Backend, TempInbox};
use serde::Deserialize;
use serde_json::{json, Value};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// The lease [`start_workers`] gives: short, for tests that wait for one to
/// run out.
const LEASE: Duration = Duration::from_secs(1);

// ---------------------------------------------------------------------------
// Handlers, and what they saw
// ---------------------------------------------------------------------------

/// What the handlers saw, and how they are told to behave.
#[derive(Default)]
struct Runs {
    seen: Mutex<Vec<Run>>,
    /// Runs of `order_paid` begun (before its sleep).
    started: AtomicU32,
    /// Fail attempts up to this number.
    fail_first: AtomicU32,
    /// Fail every attempt.
    always_fail: AtomicBool,
    /// Sleep this long first.
    sleep_ms: AtomicU64,
    /// Block the thread this long first (as a handler that does blocking
    /// work: nothing else runs on its runtime meanwhile, leases are not
    /// renewed).
    block_ms: AtomicU64,
}

struct Run {
    id: String,
    event: String,
    attempt: u32,
    ok: bool,
    at: Instant,
    body: Bytes,
    headers: HeaderMap,
    target: String,
    params: Vec<(String, String)>,
    signed_at: Option<DateTime<Utc>>,
}

impl Runs {
    fn new() -> web::Data<Self> {
        web::Data::new(Self::default())
    }

    fn record(&self, event: &Event<impl Sized>, ok: bool) {
        let params = event
            .request()
            .match_info()
            .iter()
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
            .collect();
        self.seen.lock().unwrap().push(Run {
            id: event.delivery_id().unwrap_or_default().to_owned(),
            event: event.name().to_owned(),
            attempt: event.attempt().expect("runs from the inbox are numbered"),
            ok,
            at: Instant::now(),
            body: event.raw_body().clone(),
            headers: event.headers().clone(),
            target: event.request().uri().to_string(),
            params,
            signed_at: event.timestamp(),
        });
    }

    fn successes(&self, id: &str) -> usize {
        let seen = self.seen.lock().unwrap();
        seen.iter().filter(|r| r.id == id && r.ok).count()
    }

    fn all_successes(&self) -> usize {
        self.seen.lock().unwrap().iter().filter(|r| r.ok).count()
    }

    fn attempts(&self, id: &str) -> Vec<(u32, bool, Instant)> {
        let seen = self.seen.lock().unwrap();
        seen.iter()
            .filter(|r| r.id == id)
            .map(|r| (r.attempt, r.ok, r.at))
            .collect()
    }
}

#[webhook(event = "order_paid")]
async fn order_paid(event: Event<Bytes>, runs: web::Data<Runs>) -> Result<(), String> {
    runs.started.fetch_add(1, Ordering::SeqCst);
    let sleep = runs.sleep_ms.load(Ordering::SeqCst);
    if sleep > 0 {
        actix_web::rt::time::sleep(Duration::from_millis(sleep)).await;
    }
    let block = runs.block_ms.load(Ordering::SeqCst);
    if block > 0 {
        std::thread::sleep(Duration::from_millis(block));
    }
    let attempt = event.attempt().unwrap_or(0);
    let fail = runs.always_fail.load(Ordering::SeqCst)
        || attempt <= runs.fail_first.load(Ordering::SeqCst);
    runs.record(&event, !fail);
    if fail {
        return Err(format!("the database is down (attempt {attempt})"));
    }
    Ok(())
}

#[derive(Deserialize)]
struct Refund {
    #[allow(dead_code)]
    data: RefundData,
}

#[derive(Deserialize)]
struct RefundData {
    #[allow(dead_code)]
    amount: u64,
}

#[webhook(event = "refund")]
async fn refund(event: Event<Refund>, runs: web::Data<Runs>) {
    runs.record(&event, true);
}

/// Asks for its first run to be tried again in an hour.
#[webhook(event = "later")]
async fn later(event: Event<Bytes>, runs: web::Data<Runs>) -> Ack {
    let first = event.attempt() == Some(1);
    runs.record(&event, !first);
    if first {
        Ack::retry_after(Duration::from_secs(3600))
    } else {
        Ack::processed()
    }
}

#[webhook(event = "blob")]
async fn blob(event: Event<Bytes>, runs: web::Data<Runs>) {
    runs.record(&event, true);
}

fn router(inbox: Inbox) -> WebhookRouter {
    WebhookRouter::new(StandardWebhooks::new(SECRET).unwrap())
        .handler(order_paid)
        .handler(refund)
        .handler(later)
        .inbox(inbox)
}

/// The router's workers: short backoff, 3 attempts, a [`LEASE`] of 1 s.
fn workers(router: &WebhookRouter, runs: &web::Data<Runs>) -> actix_webhook::inbox::Workers {
    router
        .workers()
        .app_data(runs.clone())
        .backoff(
            Backoff::exponential(Duration::from_millis(40), Duration::from_millis(400))
                .max_attempts(3),
        )
        .lease(LEASE)
}

/// Starts [`workers`] on this runtime.
fn start_workers(
    router: &WebhookRouter,
    runs: &web::Data<Runs>,
) -> actix_web::rt::task::JoinHandle<()> {
    actix_web::rt::spawn(workers(router, runs).run())
}

// ---------------------------------------------------------------------------
// A real server, and deliveries sent to it
// ---------------------------------------------------------------------------

/// A request to send: path and query, headers, body.
#[derive(Clone)]
struct Outgoing {
    target: String,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Bytes,
}

/// What came back.
#[derive(Debug)]
struct Answer {
    status: StatusCode,
    retry_after: Option<String>,
    body: Value,
}

/// `delivery` as `signer` sends it, with a JSON content type.
fn signed(delivery: &TestDelivery, signer: &impl Signer) -> Outgoing {
    let (_, target) = split_url(&delivery.full_url()).expect("a full URL");
    let mut headers = vec![(CONTENT_TYPE, HeaderValue::from_static("application/json"))];
    for (name, value) in delivery.headers(signer) {
        headers.push((
            HeaderName::try_from(name).unwrap(),
            HeaderValue::try_from(value).unwrap(),
        ));
    }
    Outgoing {
        target,
        headers,
        body: delivery.body().clone(),
    }
}

/// A Standard Webhooks delivery of `body` with id `id` to `/webhooks`.
fn delivery(id: &str, body: Value) -> Outgoing {
    let scheme = StandardWebhooks::new(SECRET).unwrap();
    signed(&TestDelivery::json(&body).id(id).uri("/webhooks"), &scheme)
}

/// The router served by a real actix server on a port of 127.0.0.1 (one
/// HTTP worker thread), and a client for it. Stopped when dropped.
struct Served {
    base: String,
    handle: ServerHandle,
    client: awc::Client,
}

impl Served {
    fn new(hooks: &WebhookRouter, path: &'static str) -> Self {
        let hooks = hooks.clone();
        let server = HttpServer::new(move || App::new().service(hooks.scope(path)))
            .workers(1)
            .disable_signals()
            .bind(("127.0.0.1", 0))
            .expect("a port on 127.0.0.1");
        let addr = server.addrs()[0];
        let server = server.run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        Self {
            base: format!("http://{addr}"),
            handle,
            client: awc::Client::builder()
                .timeout(Duration::from_secs(30))
                .finish(),
        }
    }

    async fn send(&self, request: &Outgoing) -> Answer {
        let mut out = self.client.post(format!("{}{}", self.base, request.target));
        for header in &request.headers {
            out = out.append_header(header.clone());
        }
        let mut response = out
            .send_body(request.body.clone())
            .await
            .expect("the server answers");
        let body = response
            .body()
            .limit(1 << 20)
            .await
            .expect("the answer's body");
        Answer {
            status: response.status(),
            retry_after: response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            body: serde_json::from_slice(&body).unwrap_or_default(),
        }
    }

    /// Sends `request` as a sender does after a 503: again, until it is
    /// answered otherwise (at most 10 s). The answer, and how many 503s.
    #[cfg(feature = "redis")]
    async fn send_until_taken(&self, request: &Outgoing) -> (Answer, u32) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut refused = 0;
        loop {
            let answer = self.send(request).await;
            if answer.status != StatusCode::SERVICE_UNAVAILABLE {
                return (answer, refused);
            }
            refused += 1;
            assert!(
                Instant::now() < deadline,
                "still 503 after 10 s: {answer:?}"
            );
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        // The command is sent at once; nothing to wait for.
        drop(self.handle.stop(false));
    }
}

/// Waits (at most 10 s) until `done` holds.
async fn eventually(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        actix_web::rt::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn state_of(inbox: &Inbox, id: &str) -> Option<State> {
    let found = inbox.show(id).await.unwrap();
    assert!(found.len() <= 1, "{id} is stored {} times", found.len());
    found.first().map(|d| d.summary.state)
}

async fn count(inbox: &Inbox, state: State) -> u64 {
    let stats = inbox.stats().await.unwrap();
    stats.by_state.get(&state).copied().unwrap_or_default()
}

fn outcomes(details: &actix_webhook::inbox::Details) -> Vec<&str> {
    details
        .attempts
        .iter()
        .map(|a| a.outcome.as_str())
        .collect()
}

/// Emits each test twice: `sqlite::name` on a fresh SQLite file and
/// `redis::name` on a fresh `redis-server`.
macro_rules! conformance {
    ($($test:ident),* $(,)?) => {
        /// The conformance tests on an SQLite file.
        mod sqlite {
            $(
                #[actix_web::test]
                async fn $test() {
                    super::$test(super::Backend::sqlite(stringify!($test))).await;
                }
            )*
        }

        /// The conformance tests on a real `redis-server`.
        #[cfg(feature = "redis")]
        mod redis {
            $(
                #[actix_web::test]
                async fn $test() {
                    super::$test(super::Backend::redis(stringify!($test))).await;
                }
            )*
        }
    };
}

conformance! {
    a_slow_handler_still_has_its_deliveries_answered_at_once,
    a_delivery_sent_again_is_handled_once,
    a_failing_handler_is_retried_with_backoff_until_it_succeeds,
    a_payload_of_the_wrong_type_is_a_dead_letter_on_its_first_attempt,
    a_handler_that_always_fails_ends_in_dead_letters_and_a_replay_runs_it_again,
    an_event_no_longer_handled_is_done_as_the_router_answers_unhandled,
    pruning_removes_done_deliveries_only_and_their_ids_are_stored_again,
    odd_deliveries_are_stored_and_replayed_byte_for_byte,
    a_retry_the_handler_asks_for_waits_and_a_replay_by_id_runs_it_now,
    listing_and_selecting_walk_every_page_with_their_filters,
    purge_takes_finished_deliveries_by_time_and_never_one_still_to_run,
    a_run_whose_worker_died_is_taken_over_after_its_lease,
    a_run_that_outlived_its_lease_is_not_recorded_over_the_run_that_took_over,
    tenants_events_and_signed_times_survive_the_trip,
    two_replicas_share_the_work_and_run_each_delivery_once,
}

// ---------------------------------------------------------------------------
// The conformance tests
// ---------------------------------------------------------------------------

#[actix_web::test]
async fn a_lease_is_at_most_a_day() {
    let file = TempInbox::new("lease");
    let hooks = router(Inbox::sqlite(file.path()).unwrap());
    let runs = Runs::new();
    let long = workers(&hooks, &runs).lease(Duration::MAX);
    assert!(format!("{long:?}").contains("lease: 86400s"), "{long:?}");
    let short = workers(&hooks, &runs).lease(Duration::ZERO);
    assert!(format!("{short:?}").contains("lease: 1s"), "{short:?}");
}

async fn a_slow_handler_still_has_its_deliveries_answered_at_once(backend: Backend) {
    let inbox = backend.open().await;
    let runs = Runs::new();
    runs.sleep_ms.store(10_000, Ordering::SeqCst);
    let hooks = router(inbox.clone());
    let workers = start_workers(&hooks, &runs);
    let served = Served::new(&hooks, "/webhooks");

    let started = Instant::now();
    for n in 0..20 {
        let id = format!("msg_slow_{n}");
        let answer = served
            .send(&delivery(&id, json!({"type": "order_paid"})))
            .await;
        assert_eq!(answer.status, StatusCode::ACCEPTED);
        assert_eq!(
            answer.body,
            json!({"status": "queued", "id": id, "event": "order_paid"})
        );
    }
    let answered = started.elapsed();
    // Each answer waited for its write, not for a handler that takes 10 s.
    assert!(
        answered < Duration::from_secs(5),
        "20 answers took {answered:?}"
    );
    eventually("the workers to take 4 deliveries", async || {
        count(&inbox, State::Running).await == 4
    })
    .await;
    assert_eq!(runs.started.load(Ordering::SeqCst), 4, "concurrency 4");
    assert!(
        runs.seen.lock().unwrap().is_empty(),
        "no handler has finished yet"
    );
    assert_eq!(count(&inbox, State::Queued).await, 16);

    // A running delivery shows when its lease ends (renewed while it runs),
    // and a replay by id leaves it alone.
    let running = inbox
        .list(Filter::default().state(State::Running))
        .await
        .unwrap();
    assert_eq!(running.len(), 4);
    let now = Utc::now();
    for summary in &running {
        assert_eq!(summary.attempts, 1);
        let lease_end = summary.next_run.expect("a running delivery's lease");
        let ahead = lease_end - now;
        assert!(
            ahead > chrono::Duration::milliseconds(-100)
                && ahead <= chrono::Duration::milliseconds(1100),
            "lease ends {ahead:?} from now"
        );
    }
    let replayed = inbox
        .replay(Selection::id(&running[0].id), false)
        .await
        .unwrap();
    assert!(replayed.is_empty(), "a running delivery is not replayed");
    assert_eq!(state_of(&inbox, &running[0].id).await, Some(State::Running));
    println!("20 deliveries answered 202 in {answered:?} while their handler sleeps 10 s");
    workers.abort();
}

async fn a_delivery_sent_again_is_handled_once(backend: Backend) {
    let inbox = backend.open().await;
    let runs = Runs::new();
    let hooks = router(inbox.clone());
    let served = Served::new(&hooks, "/webhooks");

    // An id with what means something in Redis keys and patterns.
    const TWICE: &str = "msg:{twice}* ?";
    let twice = delivery(TWICE, json!({"type": "order_paid", "data": {"n": 1}}));
    assert_eq!(served.send(&twice).await.status, StatusCode::ACCEPTED);
    // Queued, not run yet: a retry of the sender is a duplicate.
    let answer = served.send(&twice).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.body,
        json!({"status": "duplicate", "id": TWICE, "event": "order_paid"})
    );
    // Sent several times at once: still stored once.
    let copies: Vec<_> = (0..8).map(|_| served.send(&twice)).collect();
    for answer in join_all(copies).await {
        assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    }

    let workers = start_workers(&hooks, &runs);
    eventually("the run", async || {
        state_of(&inbox, TWICE).await == Some(State::Done)
    })
    .await;
    // Done: still a duplicate, and not run again.
    let answer = served.send(&twice).await;
    assert_eq!(
        (answer.status, answer.body["status"].as_str()),
        (StatusCode::OK, Some("duplicate"))
    );
    actix_web::rt::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(runs.successes(TWICE), 1);
    assert_eq!(inbox.show(TWICE).await.unwrap().len(), 1);

    // An event nothing handles is answered as before and not stored.
    let answer = served
        .send(&delivery("msg_nobody", json!({"type": "nobody"})))
        .await;
    assert_eq!(
        (answer.status, answer.body["status"].as_str()),
        (StatusCode::OK, Some("ignored"))
    );
    assert!(inbox.show("msg_nobody").await.unwrap().is_empty());
    // Nor is one that does not verify.
    let mut forged = delivery("msg_forged", json!({"type": "order_paid"}));
    forged.body = Bytes::from_static(br#"{"type":"order_paid","forged":true}"#);
    assert_eq!(served.send(&forged).await.status, StatusCode::UNAUTHORIZED);
    assert!(inbox.show("msg_forged").await.unwrap().is_empty());

    let stats = inbox.stats().await.unwrap();
    assert_eq!(
        stats.by_state.into_iter().collect::<Vec<_>>(),
        [(State::Done, 1)]
    );
    workers.abort();
}

async fn a_failing_handler_is_retried_with_backoff_until_it_succeeds(backend: Backend) {
    let inbox = backend.open().await;
    let runs = Runs::new();
    runs.fail_first.store(2, Ordering::SeqCst);
    let hooks = router(inbox.clone());
    let workers = start_workers(&hooks, &runs);
    let served = Served::new(&hooks, "/webhooks");

    let answer = served
        .send(&delivery("msg_retry", json!({"type": "order_paid"})))
        .await;
    assert_eq!(answer.status, StatusCode::ACCEPTED);
    eventually("the third attempt", async || {
        runs.successes("msg_retry") == 1
    })
    .await;

    let attempts = runs.attempts("msg_retry");
    let numbers: Vec<_> = attempts.iter().map(|(n, ok, _)| (*n, *ok)).collect();
    assert_eq!(numbers, [(1, false), (2, false), (3, true)]);
    // Base 40 ms, doubling, with jitter down to half: at least 20 ms, then
    // at least 40 ms.
    let first_wait = attempts[1].2 - attempts[0].2;
    let second_wait = attempts[2].2 - attempts[1].2;
    assert!(first_wait >= Duration::from_millis(20), "{first_wait:?}");
    assert!(second_wait >= Duration::from_millis(40), "{second_wait:?}");

    eventually("the record", async || {
        state_of(&inbox, "msg_retry").await == Some(State::Done)
    })
    .await;
    let details = inbox.show("msg_retry").await.unwrap().remove(0);
    assert_eq!(outcomes(&details), ["retry", "retry", "done"]);
    assert_eq!(
        details
            .attempts
            .iter()
            .map(|a| a.number)
            .collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert!(details.attempts[0]
        .error
        .as_deref()
        .unwrap()
        .contains("database is down (attempt 1)"));
    for attempt in &details.attempts {
        assert!(attempt.started_at <= attempt.finished_at, "{attempt:?}");
    }
    // Done: no error left, nothing to run.
    assert_eq!(details.summary.last_error, None);
    assert_eq!(details.summary.next_run, None);
    assert_eq!(details.summary.attempts, 3);
    println!("waits between attempts: {first_wait:?}, {second_wait:?}");
    workers.abort();
}

async fn a_payload_of_the_wrong_type_is_a_dead_letter_on_its_first_attempt(backend: Backend) {
    let inbox = backend.open().await;
    let runs = Runs::new();
    let hooks = router(inbox.clone());
    let workers = start_workers(&hooks, &runs);
    let served = Served::new(&hooks, "/webhooks");

    let body = json!({"type": "refund", "data": {"amount": "ten"}});
    let answer = served.send(&delivery("msg_mismatch", body)).await;
    assert_eq!(answer.status, StatusCode::ACCEPTED);
    eventually("the dead letter", async || {
        state_of(&inbox, "msg_mismatch").await == Some(State::Dead)
    })
    .await;

    let details = inbox.show("msg_mismatch").await.unwrap().remove(0);
    assert_eq!(details.summary.attempts, 1);
    assert_eq!(outcomes(&details), ["dead"]);
    let error = details.summary.last_error.unwrap();
    assert!(
        error.contains("data.amount") && error.contains("invalid type"),
        "{error}"
    );
    assert!(runs.seen.lock().unwrap().is_empty());
    workers.abort();
}

async fn a_handler_that_always_fails_ends_in_dead_letters_and_a_replay_runs_it_again(
    backend: Backend,
) {
    let inbox = backend.open().await;
    let runs = Runs::new();
    runs.always_fail.store(true, Ordering::SeqCst);
    let hooks = router(inbox.clone());
    let workers = start_workers(&hooks, &runs);
    let served = Served::new(&hooks, "/webhooks");

    let answer = served
        .send(&delivery("msg_dead", json!({"type": "order_paid"})))
        .await;
    assert_eq!(answer.status, StatusCode::ACCEPTED);
    eventually("the dead letter", async || {
        state_of(&inbox, "msg_dead").await == Some(State::Dead)
    })
    .await;
    let details = inbox.show("msg_dead").await.unwrap().remove(0);
    assert_eq!(details.summary.attempts, 3, "max attempts");
    let error = details.summary.last_error.unwrap();
    assert!(
        error.contains("the database is down (attempt 3)") && error.contains("attempt 3 of 3"),
        "{error}"
    );
    assert_eq!(
        inbox
            .list(Filter::default().state(State::Dead))
            .await
            .unwrap()
            .iter()
            .map(|s| &*s.id)
            .collect::<Vec<_>>(),
        ["msg_dead"]
    );

    // Replayed while the handler still fails: a fresh max attempts, then
    // dead again.
    let dead = Selection::dead();
    let would = inbox.replay(dead.clone(), true).await.unwrap();
    assert_eq!(would.len(), 1);
    assert_eq!(would[0].state, State::Dead);
    assert_eq!(
        state_of(&inbox, "msg_dead").await,
        Some(State::Dead),
        "a dry run changes nothing"
    );
    assert_eq!(inbox.replay(dead.clone(), false).await.unwrap().len(), 1);
    eventually("three more attempts", async || {
        runs.attempts("msg_dead").len() == 6
            && state_of(&inbox, "msg_dead").await == Some(State::Dead)
    })
    .await;
    let details = inbox.show("msg_dead").await.unwrap().remove(0);
    assert_eq!(details.summary.attempts, 6);
    assert!(
        details
            .summary
            .last_error
            .as_deref()
            .unwrap()
            .contains("(attempt 6) (attempt 3 of 3)"),
        "{:?}",
        details.summary.last_error
    );

    // The handler is fixed; the dead letter is replayed and succeeds.
    runs.always_fail.store(false, Ordering::SeqCst);
    let replayed = inbox.replay(dead.clone(), false).await.unwrap();
    assert_eq!(
        replayed.iter().map(|s| &*s.id).collect::<Vec<_>>(),
        ["msg_dead"]
    );
    eventually("the replayed run", async || {
        state_of(&inbox, "msg_dead").await == Some(State::Done)
    })
    .await;
    assert_eq!(runs.successes("msg_dead"), 1);
    let attempts = runs.attempts("msg_dead");
    assert_eq!(attempts.last().map(|a| (a.0, a.1)), Some((7, true)));
    let details = inbox.show("msg_dead").await.unwrap().remove(0);
    assert_eq!(
        outcomes(&details),
        ["retry", "retry", "dead", "retry", "retry", "dead", "done"]
    );
    // Done now: no longer a dead letter to replay.
    assert!(inbox.replay(dead, true).await.unwrap().is_empty());
    let stats = inbox.stats().await.unwrap();
    assert_eq!(
        stats.by_state.into_iter().collect::<Vec<_>>(),
        [(State::Done, 1)]
    );
    workers.abort();
}

async fn an_event_no_longer_handled_is_done_as_the_router_answers_unhandled(backend: Backend) {
    let inbox = backend.open().await;
    let runs = Runs::new();
    let hooks = router(inbox.clone());
    let served = Served::new(&hooks, "/webhooks");
    let answer = served
        .send(&delivery("msg_orphaned", json!({"type": "order_paid"})))
        .await;
    assert_eq!(answer.status, StatusCode::ACCEPTED);

    // The next version of the service no longer handles `order_paid`.
    let next_version = WebhookRouter::new(StandardWebhooks::new(SECRET).unwrap())
        .handler(refund)
        .inbox(inbox.clone());
    let workers = start_workers(&next_version, &runs);
    eventually("the delivery's end", async || {
        state_of(&inbox, "msg_orphaned").await == Some(State::Done)
    })
    .await;
    let details = inbox.show("msg_orphaned").await.unwrap().remove(0);
    assert_eq!(outcomes(&details), ["done"]);
    assert_eq!(runs.started.load(Ordering::SeqCst), 0, "no handler ran");
    workers.abort();
}

async fn pruning_removes_done_deliveries_only_and_their_ids_are_stored_again(backend: Backend) {
    let inbox = backend.open().await;
    let runs = Runs::new();
    let hooks = router(inbox.clone());
    let served = Served::new(&hooks, "/webhooks");
    let done = delivery("msg_done", json!({"type": "order_paid"}));
    served.send(&done).await;
    served
        .send(&delivery("msg_bad", json!({"type": "refund", "data": {}})))
        .await;
    let workers = start_workers(&hooks, &runs);
    eventually("a done and a dead delivery", async || {
        state_of(&inbox, "msg_done").await == Some(State::Done)
            && state_of(&inbox, "msg_bad").await == Some(State::Dead)
    })
    .await;
    workers.abort();
    // Queued while no worker runs.
    served
        .send(&delivery("msg_waiting", json!({"type": "order_paid"})))
        .await;
    actix_web::rt::time::sleep(Duration::from_millis(5)).await;

    // Workers prune when they start: keep nothing done.
    let hooks = router(inbox.clone().keep_done(Duration::ZERO));
    let workers = start_workers(&hooks, &runs);
    eventually("the waiting delivery's run", async || {
        runs.successes("msg_waiting") == 1
    })
    .await;
    assert_eq!(state_of(&inbox, "msg_done").await, None, "pruned");
    assert_eq!(
        state_of(&inbox, "msg_bad").await,
        Some(State::Dead),
        "dead letters stay"
    );
    eventually("the record", async || {
        state_of(&inbox, "msg_waiting").await == Some(State::Done)
    })
    .await;
    let stats = inbox.stats().await.unwrap();
    assert_eq!(
        stats.by_state.into_iter().collect::<Vec<_>>(),
        [(State::Done, 1), (State::Dead, 1)],
        "the pruned delivery is no longer counted"
    );

    // Pruned, its id is forgotten: sent again, it is stored and runs again.
    let answer = served.send(&done).await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{answer:?}");
    eventually("the second run", async || runs.successes("msg_done") == 2).await;
    workers.abort();
}

async fn odd_deliveries_are_stored_and_replayed_byte_for_byte(backend: Backend) {
    const LIMIT: usize = 1024 * 1024;
    let inbox = backend.open().await;
    let runs = Runs::new();
    let scheme = || {
        GenericHmac::new("x-signature", Secret::new("a shared secret").unwrap())
            .id_header("x-delivery")
            .event_name(EventName::Header("x-event"))
    };
    let hooks = WebhookRouter::new(scheme())
        .handler(blob)
        .body_limit(LIMIT)
        .inbox(inbox.clone());
    let served = Served::new(&hooks, "/hooks/{source}");

    // A body of exactly the limit, most of it not UTF-8; an id of 200
    // bytes; a header value that is not UTF-8; a header sent twice.
    let body: Vec<u8> = (0..LIMIT).map(|i| (i % 251) as u8).collect();
    let id = "i".repeat(200);
    let odd = b"caf\xe9 \xff\xfe".as_slice();
    let header = |name: &'static str, value: &[u8]| {
        (
            HeaderName::from_static(name),
            HeaderValue::from_bytes(value).unwrap(),
        )
    };
    let request = Outgoing {
        target: "/hooks/shop-7?region=eu".into(),
        headers: vec![
            header("x-signature", scheme().signature(&id, 0, &body).as_bytes()),
            header("x-delivery", id.as_bytes()),
            header("x-event", b"blob"),
            header("x-odd", odd),
            header("x-twice", b"1"),
            header("x-twice", b"2"),
        ],
        body: Bytes::from(body.clone()),
    };
    let answer = served.send(&request).await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{answer:?}");
    assert_eq!(
        served.send(&request).await.status,
        StatusCode::OK,
        "the same content again is a duplicate"
    );

    // What an operator is shown is what came.
    let shown = inbox.show(&id).await.unwrap().remove(0);
    assert_eq!(shown.summary.id, id);
    assert!(!shown.summary.id_assigned);
    assert_eq!(shown.summary.event, "blob");
    assert_eq!(shown.summary.state, State::Queued);
    assert_eq!(shown.method, "POST");
    assert_eq!(shown.target, "/hooks/shop-7?region=eu");
    assert!(shown.body == body, "the body shown, byte for byte");
    let shown_header = |name: &str| -> Vec<&[u8]> {
        shown
            .headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| &v[..])
            .collect()
    };
    assert_eq!(shown_header("x-odd"), [odd]);
    assert_eq!(shown_header("x-twice"), [b"1".as_slice(), b"2"]);

    let workers = start_workers(&hooks, &runs);
    eventually("the run", async || runs.successes(&id) == 1).await;
    eventually("the record", async || {
        state_of(&inbox, &id).await == Some(State::Done)
    })
    .await;
    inbox.replay(Selection::id(&id), false).await.unwrap();
    eventually("the replayed run", async || runs.successes(&id) == 2).await;

    let seen = runs.seen.lock().unwrap();
    for run in seen.iter() {
        assert_eq!(run.id, id, "the whole id, not its digest");
        assert!(run.body == body, "the body, byte for byte");
        assert_eq!(run.headers.get("x-odd").unwrap().as_bytes(), odd);
        let twice: Vec<_> = run.headers.get_all("x-twice").collect();
        assert_eq!(twice, ["1", "2"]);
        assert_eq!(run.target, "/hooks/shop-7?region=eu");
        assert_eq!(
            run.params,
            [("source".to_owned(), "shop-7".to_owned())],
            "path parameters"
        );
        // The stored copy still verifies.
        let verified = Verifier::new(&scheme()).verify(&run.headers, &run.body);
        let Ok(Received::Delivery(verified)) = verified else {
            panic!("the stored copy does not verify: {verified:?}");
        };
        assert_eq!(verified.delivery_id(), Some(id.as_str()));
    }
    assert_eq!(seen.iter().map(|r| r.attempt).collect::<Vec<_>>(), [1, 2]);
    drop(seen);
    workers.abort();
}

async fn a_retry_the_handler_asks_for_waits_and_a_replay_by_id_runs_it_now(backend: Backend) {
    let inbox = backend.open().await;
    let runs = Runs::new();
    let hooks = router(inbox.clone());
    let served = Served::new(&hooks, "/webhooks");
    for (id, event) in [("msg_later", "later"), ("msg_queued", "order_paid")] {
        let answer = served.send(&delivery(id, json!({"type": event}))).await;
        assert_eq!(answer.status, StatusCode::ACCEPTED);
    }

    // No worker runs yet. A queued delivery named by id is queued again
    // (to run now), not changed otherwise; as a dead letter it is not
    // selected.
    let would = inbox
        .replay(Selection::id("msg_queued"), true)
        .await
        .unwrap();
    assert_eq!(would.len(), 1);
    assert_eq!((would[0].state, would[0].attempts), (State::Queued, 0));
    let replayed = inbox
        .replay(Selection::id("msg_queued"), false)
        .await
        .unwrap();
    assert_eq!(replayed.len(), 1);
    assert_eq!(state_of(&inbox, "msg_queued").await, Some(State::Queued));
    let mut dead_only = Selection::id("msg_queued");
    dead_only.dead = true;
    assert!(inbox.replay(dead_only, false).await.unwrap().is_empty());
    assert!(inbox
        .replay(Selection::id("msg_unknown"), false)
        .await
        .unwrap()
        .is_empty());

    let workers = start_workers(&hooks, &runs);
    eventually("the queued delivery's run", async || {
        state_of(&inbox, "msg_queued").await == Some(State::Done)
    })
    .await;
    assert_eq!(runs.successes("msg_queued"), 1);
    eventually("the first run of msg_later", async || {
        state_of(&inbox, "msg_later").await == Some(State::Retry)
    })
    .await;
    // It waits the hour it asked for, not the backoff's 40 ms.
    let retrying = inbox
        .list(Filter::default().state(State::Retry))
        .await
        .unwrap();
    assert_eq!(retrying.len(), 1);
    let summary = &retrying[0];
    assert_eq!((&*summary.id, summary.attempts), ("msg_later", 1));
    let wait = summary.next_run.expect("a retry's time") - Utc::now();
    assert!(
        wait > chrono::Duration::minutes(59) && wait <= chrono::Duration::minutes(60),
        "runs again in {wait:?}"
    );
    let error = summary.last_error.as_deref().unwrap();
    assert!(error.contains("503"), "{error}");
    actix_web::rt::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        runs.attempts("msg_later").len(),
        1,
        "not run before its time"
    );

    // Named by id, it runs now.
    let replayed = inbox
        .replay(Selection::id("msg_later"), false)
        .await
        .unwrap();
    assert_eq!(replayed.len(), 1);
    assert_eq!(replayed[0].state, State::Retry, "as it was");
    eventually("the replayed run", async || {
        state_of(&inbox, "msg_later").await == Some(State::Done)
    })
    .await;
    let attempts: Vec<_> = runs
        .attempts("msg_later")
        .into_iter()
        .map(|(n, ok, _)| (n, ok))
        .collect();
    assert_eq!(attempts, [(1, false), (2, true)]);
    let details = inbox.show("msg_later").await.unwrap().remove(0);
    assert_eq!(outcomes(&details), ["retry", "done"]);
    workers.abort();
}

async fn listing_and_selecting_walk_every_page_with_their_filters(backend: Backend) {
    // More deliveries than a store reads in one page (Redis: 500), older
    // and newer than a time, in three states and two events.
    const OLD: usize = 900;
    const NEW: usize = 300;
    let inbox = backend.open().await;
    let runs = Runs::new();
    let hooks = router(inbox.clone());
    let served = Served::new(&hooks, "/webhooks");
    let old_refund = |n: usize| n.is_multiple_of(3);
    let new_refund = |n: usize| n.is_multiple_of(5);
    let body = |dead: bool| {
        if dead {
            // Not what the handler takes: a dead letter at once.
            json!({"type": "refund", "data": {}})
        } else {
            json!({"type": "order_paid"})
        }
    };

    let started = Instant::now();
    let old: Vec<_> = (0..OLD)
        .map(|n| delivery(&format!("old_{n}"), body(old_refund(n))))
        .collect();
    for chunk in old.chunks(50) {
        for answer in join_all(chunk.iter().map(|d| served.send(d))).await {
            assert_eq!(answer.status, StatusCode::ACCEPTED, "{answer:?}");
        }
    }
    let stored_old = started.elapsed();
    let workers = start_workers(&hooks, &runs);
    eventually("every old delivery's end", async || {
        count(&inbox, State::Done).await + count(&inbox, State::Dead).await == OLD as u64
    })
    .await;
    workers.abort();
    let drained_old = started.elapsed();
    actix_web::rt::time::sleep(Duration::from_millis(5)).await;
    let cut = Utc::now();
    actix_web::rt::time::sleep(Duration::from_millis(5)).await;
    // One at a time, so that their order is known.
    let new_ids: Vec<String> = (0..NEW).map(|n| format!("new_{n}")).collect();
    for (n, id) in new_ids.iter().enumerate() {
        let answer = served.send(&delivery(id, body(new_refund(n)))).await;
        assert_eq!(answer.status, StatusCode::ACCEPTED, "{answer:?}");
    }
    let newest_first =
        |ids: Vec<&String>| -> Vec<String> { ids.into_iter().rev().cloned().collect() };
    let ids = |list: Vec<actix_webhook::inbox::Summary>| -> Vec<String> {
        list.into_iter().map(|s| s.id).collect()
    };
    let sorted = |mut ids: Vec<String>| {
        ids.sort();
        ids
    };
    let list = |filter: Filter| inbox.list(filter);
    let old_dead = (OLD as u64).div_ceil(3);
    let new_refunds = (NEW as u64).div_ceil(5);

    let listing = Instant::now();
    // The default: the 100 newest.
    let all: Vec<&String> = new_ids.iter().collect();
    assert_eq!(
        ids(list(Filter::default()).await.unwrap()),
        newest_first(all.clone())[..100]
    );
    // Every delivery, newest first, across pages.
    let everything = list(Filter::default().limit(5000)).await.unwrap();
    assert_eq!(everything.len(), OLD + NEW);
    assert_eq!(ids(everything[..NEW].to_vec()), newest_first(all.clone()));
    let mut every_id = ids(everything);
    every_id.sort();
    every_id.dedup();
    assert_eq!(every_id.len(), OLD + NEW, "each once");
    // By state: the dead ones are all older than a page.
    let dead = list(Filter::default().state(State::Dead).limit(5000))
        .await
        .unwrap();
    assert_eq!(dead.len() as u64, old_dead);
    assert!(dead.iter().all(|s| s.state == State::Dead
        && s.event == "refund"
        && s.attempts == 1
        && s.next_run.is_none()
        && s.last_error.is_some()));
    let expected_dead: Vec<String> = (0..OLD)
        .filter(|&n| old_refund(n))
        .map(|n| format!("old_{n}"))
        .collect();
    assert_eq!(sorted(ids(dead)), sorted(expected_dead));
    // A limit below what matches, met across pages.
    assert_eq!(
        list(Filter::default().state(State::Dead).limit(250))
            .await
            .unwrap()
            .len(),
        250
    );
    assert_eq!(
        list(
            Filter::default()
                .state(State::Done)
                .event("order_paid")
                .limit(5000)
        )
        .await
        .unwrap()
        .len() as u64,
        OLD as u64 - old_dead
    );
    // By state and event, newest first.
    let new_refund_ids: Vec<&String> = new_ids
        .iter()
        .enumerate()
        .filter(|(n, _)| new_refund(*n))
        .map(|(_, id)| id)
        .collect();
    let queued_refunds = list(
        Filter::default()
            .state(State::Queued)
            .event("refund")
            .limit(5000),
    )
    .await
    .unwrap();
    assert!(queued_refunds
        .iter()
        .all(|s| s.next_run.is_some() && s.attempts == 0));
    assert_eq!(ids(queued_refunds), newest_first(new_refund_ids.clone()));
    assert_eq!(
        ids(list(Filter::default().event("refund").limit(7))
            .await
            .unwrap()),
        newest_first(new_refund_ids)[..7]
    );
    // By time: only the new ones, however many pages the old ones fill.
    assert_eq!(
        ids(list(Filter::default().since(cut).limit(5000))
            .await
            .unwrap()),
        newest_first(all.clone())
    );
    assert!(list(Filter::default().since(cut).state(State::Dead))
        .await
        .unwrap()
        .is_empty());
    assert!(
        list(Filter::default().since(Utc::now() + chrono::Duration::hours(1)))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(list(Filter::default().limit(0)).await.unwrap().is_empty());
    assert!(list(Filter::default().event("nobody"))
        .await
        .unwrap()
        .is_empty());
    let listed = listing.elapsed();

    // Counts agree.
    let stats = inbox.stats().await.unwrap();
    assert_eq!(
        stats.by_state.into_iter().collect::<Vec<_>>(),
        [
            (State::Queued, NEW as u64),
            (State::Done, OLD as u64 - old_dead),
            (State::Dead, old_dead)
        ]
    );
    let by_event: Vec<(String, Vec<(State, u64)>)> = stats
        .by_event
        .into_iter()
        .map(|(event, states)| (event, states.into_iter().collect()))
        .collect();
    assert_eq!(
        by_event,
        [
            (
                "order_paid".to_owned(),
                vec![
                    (State::Queued, NEW as u64 - new_refunds),
                    (State::Done, OLD as u64 - old_dead)
                ]
            ),
            (
                "refund".to_owned(),
                vec![(State::Queued, new_refunds), (State::Dead, old_dead)]
            )
        ]
    );
    assert_eq!(stats.restarted_runs, 0);

    // Selections take the same deliveries, across pages.
    let selected = |s: Selection| inbox.replay(s, true);
    assert_eq!(
        selected(Selection::dead()).await.unwrap().len() as u64,
        old_dead
    );
    assert_eq!(
        selected(Selection::dead().event("order_paid"))
            .await
            .unwrap()
            .len(),
        0
    );
    assert_eq!(
        selected(Selection::default().event("order_paid"))
            .await
            .unwrap()
            .len() as u64,
        OLD as u64 - old_dead,
        "a replay by event takes the done ones too, never the queued"
    );
    assert!(selected(Selection::default().since(cut))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        selected(Selection::default().finished_before(cut))
            .await
            .unwrap()
            .len(),
        OLD
    );
    assert_eq!(inbox.purge(Selection::dead().since(cut)).await.unwrap(), 0);
    // Replaying the dead ones queues them all at once.
    assert_eq!(
        inbox.replay(Selection::dead(), false).await.unwrap().len() as u64,
        old_dead
    );
    assert_eq!(count(&inbox, State::Queued).await, NEW as u64 + old_dead);
    assert_eq!(count(&inbox, State::Dead).await, 0);
    println!(
        "{OLD} deliveries stored in {stored_old:?} (50 at a time), run by {drained_old:?}; \
         the listings and counts over {} took {listed:?}",
        OLD + NEW
    );
}

async fn purge_takes_finished_deliveries_by_time_and_never_one_still_to_run(backend: Backend) {
    let inbox = backend.open().await;
    let runs = Runs::new();
    let hooks = router(inbox.clone());
    let served = Served::new(&hooks, "/webhooks");
    let workers = start_workers(&hooks, &runs);
    let send_all = async |sent: &[(&str, Value)]| {
        for (id, body) in sent {
            let answer = served.send(&delivery(id, body.clone())).await;
            assert_eq!(answer.status, StatusCode::ACCEPTED, "{answer:?}");
        }
    };
    let paid = json!({"type": "order_paid"});
    send_all(&[
        ("p1", paid.clone()),
        ("p2", paid.clone()),
        ("p3", paid.clone()),
    ])
    .await;
    eventually("the first three", async || {
        count(&inbox, State::Done).await == 3
    })
    .await;
    actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    let cut = Utc::now();
    actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    send_all(&[
        ("p4", paid.clone()),
        ("p5", paid.clone()),
        ("p6", json!({"type": "refund", "data": {}})),
    ])
    .await;
    eventually("the next three", async || {
        count(&inbox, State::Done).await == 5 && count(&inbox, State::Dead).await == 1
    })
    .await;
    workers.abort();
    send_all(&[("p7", paid.clone())]).await;

    // Finished before the cut: the first three only.
    assert_eq!(
        inbox
            .purge(Selection::default().finished_before(cut))
            .await
            .unwrap(),
        3
    );
    for id in ["p1", "p2", "p3"] {
        assert_eq!(state_of(&inbox, id).await, None, "{id} purged");
    }
    assert_eq!(state_of(&inbox, "p4").await, Some(State::Done));
    // Dead letters only.
    assert_eq!(inbox.purge(Selection::dead()).await.unwrap(), 1);
    assert_eq!(state_of(&inbox, "p6").await, None);
    // Nothing still to run, even named.
    assert_eq!(inbox.purge(Selection::id("p7")).await.unwrap(), 0);
    assert_eq!(
        inbox
            .purge(Selection::default().event("refund"))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        inbox
            .purge(Selection::id("p4").event("refund"))
            .await
            .unwrap(),
        0
    );
    // By id, then by time received.
    assert_eq!(inbox.purge(Selection::id("p4")).await.unwrap(), 1);
    assert_eq!(
        inbox.purge(Selection::default().since(cut)).await.unwrap(),
        1
    );
    assert_eq!(state_of(&inbox, "p5").await, None);
    assert_eq!(state_of(&inbox, "p7").await, Some(State::Queued));

    let stats = inbox.stats().await.unwrap();
    assert_eq!(
        stats.by_state.into_iter().collect::<Vec<_>>(),
        [(State::Queued, 1)]
    );
    assert_eq!(
        stats
            .by_event
            .into_iter()
            .map(|(e, s)| (e, s.into_iter().collect::<Vec<_>>()))
            .collect::<Vec<_>>(),
        [("order_paid".to_owned(), vec![(State::Queued, 1)])]
    );
    assert_eq!(ids_listed(&inbox).await, ["p7"]);

    // A purged id is forgotten.
    let answer = served.send(&delivery("p1", paid)).await;
    assert_eq!(answer.status, StatusCode::ACCEPTED);
}

async fn ids_listed(inbox: &Inbox) -> Vec<String> {
    let listed = inbox.list(Filter::default()).await.unwrap();
    listed.into_iter().map(|s| s.id).collect()
}

async fn a_run_whose_worker_died_is_taken_over_after_its_lease(backend: Backend) {
    let inbox = backend.open().await;
    let hooks = router(inbox.clone());
    let served = Served::new(&hooks, "/webhooks");
    let answer = served
        .send(&delivery("msg_orphan", json!({"type": "order_paid"})))
        .await;
    assert_eq!(answer.status, StatusCode::ACCEPTED);

    // Another replica, with its own connection to the inbox, takes the
    // delivery and dies mid-run: its runtime is dropped with everything on
    // it, as a process killed.
    let place = backend.place();
    let died = std::thread::spawn(move || {
        actix_rt::System::new().block_on(async move {
            let inbox = place.open().await;
            let runs = Runs::new();
            runs.sleep_ms.store(60_000, Ordering::SeqCst);
            let hooks = router(inbox);
            actix_web::rt::spawn(workers(&hooks, &runs).run());
            let deadline = Instant::now() + Duration::from_secs(10);
            while runs.started.load(Ordering::SeqCst) == 0 {
                assert!(Instant::now() < deadline, "the doomed run did not start");
                actix_web::rt::time::sleep(Duration::from_millis(5)).await;
            }
        });
    });
    died.join().expect("the replica that dies");
    let died_at = Instant::now();
    assert_eq!(state_of(&inbox, "msg_orphan").await, Some(State::Running));

    // This replica's workers take it over once the lease ran out.
    let runs = Runs::new();
    let workers = start_workers(&hooks, &runs);
    eventually("the run taken over", async || {
        state_of(&inbox, "msg_orphan").await == Some(State::Done)
    })
    .await;
    let took_over = died_at.elapsed();
    assert!(
        took_over >= LEASE - Duration::from_millis(400),
        "taken over after {took_over:?}, before its lease of {LEASE:?} ran out"
    );
    let attempts: Vec<_> = runs
        .attempts("msg_orphan")
        .into_iter()
        .map(|(n, ok, _)| (n, ok))
        .collect();
    assert_eq!(attempts, [(2, true)]);
    let details = inbox.show("msg_orphan").await.unwrap().remove(0);
    assert_eq!(outcomes(&details), ["interrupted", "done"]);
    assert!(
        details.attempts[0]
            .error
            .as_deref()
            .unwrap()
            .contains("lease ran out"),
        "{:?}",
        details.attempts[0]
    );
    let stats = inbox.stats().await.unwrap();
    assert_eq!(stats.restarted_runs, 1);
    assert_eq!(
        stats.by_state.into_iter().collect::<Vec<_>>(),
        [(State::Done, 1)]
    );

    // Purged, its runs are no longer counted.
    assert_eq!(inbox.purge(Selection::id("msg_orphan")).await.unwrap(), 1);
    assert_eq!(inbox.stats().await.unwrap().restarted_runs, 0);
    println!("a dead replica's run was taken over {took_over:?} after it died (lease {LEASE:?})");
    workers.abort();
}

async fn a_run_that_outlived_its_lease_is_not_recorded_over_the_run_that_took_over(
    backend: Backend,
) {
    let inbox = backend.open().await;
    let hooks = router(inbox.clone());
    let served = Served::new(&hooks, "/webhooks");
    let answer = served
        .send(&delivery("msg_stalled", json!({"type": "order_paid"})))
        .await;
    assert_eq!(answer.status, StatusCode::ACCEPTED);

    // Another replica runs it with a handler that blocks its thread past
    // the lease (no renewal), then fails.
    let place = backend.place();
    let stalled = std::thread::spawn(move || {
        actix_rt::System::new().block_on(async move {
            let inbox = place.open().await;
            let runs = Runs::new();
            runs.block_ms.store(2500, Ordering::SeqCst);
            runs.always_fail.store(true, Ordering::SeqCst);
            let hooks = router(inbox);
            actix_web::rt::spawn(workers(&hooks, &runs).run());
            let deadline = Instant::now() + Duration::from_secs(10);
            while runs.seen.lock().unwrap().is_empty() {
                assert!(Instant::now() < deadline, "the stalled run did not end");
                actix_web::rt::time::sleep(Duration::from_millis(5)).await;
            }
            // Its failure is written (or refused) meanwhile.
            actix_web::rt::time::sleep(Duration::from_millis(500)).await;
        });
    });
    eventually("the other replica's run", async || {
        state_of(&inbox, "msg_stalled").await == Some(State::Running)
    })
    .await;

    let runs = Runs::new();
    let workers = start_workers(&hooks, &runs);
    eventually("the run taken over and recorded", async || {
        state_of(&inbox, "msg_stalled").await == Some(State::Done)
    })
    .await;
    // This thread keeps serving its runtime while the other replica ends.
    eventually("the stalled run's end", async || stalled.is_finished()).await;
    stalled.join().expect("the stalled replica");
    let details = inbox.show("msg_stalled").await.unwrap().remove(0);
    assert_eq!(details.summary.state, State::Done, "{details:?}");
    assert_eq!(details.summary.last_error, None);
    assert_eq!(details.summary.attempts, 2);
    assert_eq!(outcomes(&details), ["interrupted", "done"]);
    assert_eq!(inbox.stats().await.unwrap().restarted_runs, 1);
    // Nothing is left to run.
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(runs.attempts("msg_stalled").len(), 1);
    workers.abort();
}

fn secret_of(tenant: &str) -> Secret {
    Secret::new(format!("secret of {tenant}")).unwrap()
}

async fn tenants_events_and_signed_times_survive_the_trip(backend: Backend) {
    let inbox = backend.open().await;
    let runs = Runs::new();
    let resolver = |tenant: String| async move {
        match tenant.as_str() {
            "acme" | "globex" => Ok(Some(Secrets::from(secret_of(&tenant)))),
            _ => Ok(None),
        }
    };
    let hooks = WebhookRouter::new(StandardWebhooks::new(SECRET).unwrap())
        .tenants(Tenants::new("tenant", resolver))
        .handler(order_paid)
        .handler(refund)
        .inbox(inbox.clone());
    let served = Served::new(&hooks, "/webhooks/{tenant}");
    let signed_at = Utc::now().timestamp() - 90;
    let served = &served;
    let send = |tenant: &str, id: &str, body: Value| {
        let scheme = StandardWebhooks::with_secrets(secret_of(tenant));
        let delivery = TestDelivery::json(&body)
            .id(id)
            .timestamp(signed_at)
            .uri(&format!("/webhooks/{tenant}"));
        let request = signed(&delivery, &scheme);
        async move { served.send(&request).await }
    };
    let paid = json!({"type": "order_paid"});
    let refunded = json!({"type": "refund", "data": {"amount": 5}});

    // One id, two tenants: two deliveries. Another event under an id
    // already stored is the same delivery (the id names it, as the
    // router's claims have it).
    let taken = [
        ("acme", "msg_shared", &paid),
        ("globex", "msg_shared", &paid),
        ("acme", "msg_refund", &refunded),
    ];
    for (tenant, id, body) in taken {
        let answer = send(tenant, id, body.clone()).await;
        assert_eq!(answer.status, StatusCode::ACCEPTED, "{tenant} {id}");
    }
    for (tenant, id, body) in taken.into_iter().chain([("acme", "msg_shared", &refunded)]) {
        let answer = send(tenant, id, body.clone()).await;
        assert_eq!(
            (answer.status, answer.body["status"].as_str()),
            (StatusCode::OK, Some("duplicate")),
            "{tenant} {id} {body}"
        );
    }
    let shown = inbox.show("msg_shared").await.unwrap();
    let stored: Vec<_> = shown
        .iter()
        .map(|d| (d.summary.tenant.as_deref(), &*d.summary.event))
        .collect();
    assert_eq!(
        stored,
        [(Some("acme"), "order_paid"), (Some("globex"), "order_paid")]
    );

    let workers = start_workers(&hooks, &runs);
    eventually("three runs", async || runs.all_successes() == 3).await;
    eventually("their records", async || {
        count(&inbox, State::Done).await == 3
    })
    .await;
    let mut ran: Vec<_> = runs
        .seen
        .lock()
        .unwrap()
        .iter()
        .map(|run| {
            let expected = if run.event == "refund" {
                "msg_refund"
            } else {
                "msg_shared"
            };
            assert_eq!(run.id, expected);
            assert_eq!(run.attempt, 1);
            assert_eq!(
                run.signed_at.map(|t| t.timestamp()),
                Some(signed_at),
                "the signed time"
            );
            assert_eq!(run.params.len(), 1);
            assert_eq!(run.params[0].0, "tenant");
            (run.params[0].1.clone(), run.event.clone())
        })
        .collect();
    ran.sort();
    assert_eq!(
        ran,
        [
            ("acme".to_owned(), "order_paid".to_owned()),
            ("acme".to_owned(), "refund".to_owned()),
            ("globex".to_owned(), "order_paid".to_owned())
        ]
    );
    let mut tenants: Vec<_> = inbox
        .list(Filter::default())
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.tenant)
        .collect();
    tenants.sort();
    assert_eq!(
        tenants,
        [
            Some("acme".to_owned()),
            Some("acme".to_owned()),
            Some("globex".to_owned())
        ]
    );
    workers.abort();
}

async fn two_replicas_share_the_work_and_run_each_delivery_once(backend: Backend) {
    const N: usize = 200;
    // Two replicas: each its own connection, server and workers.
    let (a, b) = (backend.open().await, backend.open().await);
    let runs = Runs::new();
    let (hooks_a, hooks_b) = (router(a.clone()), router(b));
    let (served_a, served_b) = (
        Served::new(&hooks_a, "/webhooks"),
        Served::new(&hooks_b, "/webhooks"),
    );
    let workers_a = start_workers(&hooks_a, &runs);
    let workers_b = start_workers(&hooks_b, &runs);

    // Each delivery sent to both at once.
    let started = Instant::now();
    let sent: Vec<_> = (0..N)
        .map(|n| delivery(&format!("msg_{n}"), json!({"type": "order_paid"})))
        .collect();
    let answers = join_all(
        sent.iter()
            .flat_map(|d| [served_a.send(d), served_b.send(d)]),
    )
    .await;
    let acked = started.elapsed();
    for (n, pair) in answers.chunks(2).enumerate() {
        let mut statuses = [pair[0].status, pair[1].status];
        statuses.sort();
        assert_eq!(
            statuses,
            [StatusCode::OK, StatusCode::ACCEPTED],
            "msg_{n}: {pair:?}"
        );
    }
    eventually("every run", async || runs.all_successes() >= N).await;
    eventually("every record", async || {
        count(&a, State::Done).await == N as u64
    })
    .await;
    let drained = started.elapsed();
    for n in 0..N {
        let id = format!("msg_{n}");
        assert_eq!(runs.attempts(&id).len(), 1, "{id} ran once");
    }
    assert_eq!(runs.all_successes(), N);
    assert_eq!(a.stats().await.unwrap().restarted_runs, 0);
    println!(
        "{N} deliveries each sent to two replicas at once: acknowledged in {acked:?}, all run once by {drained:?}"
    );
    workers_a.abort();
    workers_b.abort();
}

// ---------------------------------------------------------------------------
// SQLite only
// ---------------------------------------------------------------------------

mod sqlite_only {
    use super::*;

    #[actix_web::test]
    async fn rows_that_no_longer_read_are_dead_letters_and_the_workers_go_on() {
        let file = TempInbox::new("garbage");
        let inbox = Inbox::sqlite(file.path()).unwrap();
        {
            let conn = rusqlite::Connection::open(file.path()).unwrap();
            let insert = "INSERT INTO inbox_deliveries (key, id, id_assigned, event, scheme, method,
                    target, headers, params, body, received_at, state, run_at)
                 VALUES (?1, ?1, 0, 'order_paid', 'standard-webhooks', ?2, '/webhooks', ?3, '[]', ?4, 0, 'queued', 0)";
            let headers: &[u8] = b"no separator here\n";
            conn.execute(
                insert,
                rusqlite::params!["garbage_headers", "POST", headers, b"{}".as_slice()],
            )
            .unwrap();
            conn.execute(
                insert,
                rusqlite::params!["garbage_body", "POST", b"".as_slice(), 42],
            )
            .unwrap();
            conn.execute(
                insert,
                rusqlite::params![
                    "garbage_method",
                    "NOT A METHOD",
                    b"".as_slice(),
                    b"{}".as_slice()
                ],
            )
            .unwrap();
            conn.execute(
                insert,
                rusqlite::params!["garbage_count", "POST", b"".as_slice(), b"{}".as_slice()],
            )
            .unwrap();
            conn.execute(
                "UPDATE inbox_deliveries SET replayed_at_attempt = 5 WHERE id = 'garbage_count'",
                [],
            )
            .unwrap();
        }
        let runs = Runs::new();
        let hooks = router(inbox.clone());
        let workers = start_workers(&hooks, &runs);
        let served = Served::new(&hooks, "/webhooks");
        served
            .send(&delivery("msg_good", json!({"type": "order_paid"})))
            .await;

        eventually("the good delivery's run", async || {
            runs.successes("msg_good") == 1
        })
        .await;
        for id in [
            "garbage_headers",
            "garbage_body",
            "garbage_method",
            "garbage_count",
        ] {
            eventually(id, async || state_of(&inbox, id).await == Some(State::Dead)).await;
            let details = inbox.show(id).await.unwrap().remove(0);
            let error = details.summary.last_error.unwrap();
            assert!(error.contains("stored"), "{id}: {error}");
        }
        workers.abort();
    }

    #[actix_web::test]
    async fn an_inbox_that_cannot_be_written_gets_503_and_accepts_nothing() {
        let file = TempInbox::new("locked");
        let inbox = Inbox::sqlite(file.path()).unwrap();
        let hooks = router(inbox.clone());
        let served = Served::new(&hooks, "/webhooks");

        // Another process holds the write lock past the busy timeout (5 s).
        let conn = rusqlite::Connection::open(file.path()).unwrap();
        conn.execute_batch("BEGIN IMMEDIATE").unwrap();
        let locked = delivery("msg_locked", json!({"type": "order_paid"}));
        let answer = served.send(&locked).await;
        assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(answer.body["code"], "unavailable");
        assert!(
            answer
                .retry_after
                .as_deref()
                .is_some_and(|s| s.parse::<u64>().is_ok()),
            "{answer:?}"
        );
        conn.execute_batch("ROLLBACK").unwrap();

        assert_eq!(
            state_of(&inbox, "msg_locked").await,
            None,
            "nothing accepted"
        );
        let answer = served.send(&locked).await;
        assert_eq!(answer.status, StatusCode::ACCEPTED, "the sender's retry is");
    }

    #[actix_web::test]
    async fn an_sqlite_file_that_is_not_an_inbox_is_refused_untouched() {
        let file = TempInbox::new("foreign");
        let conn = rusqlite::Connection::open(file.path()).unwrap();
        conn.execute_batch("CREATE TABLE users (id INTEGER)")
            .unwrap();
        drop(conn);

        let error = Inbox::sqlite(file.path()).unwrap_err();
        assert!(error.to_string().contains("not an inbox"), "{error}");
        let conn = rusqlite::Connection::open(file.path()).unwrap();
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |row| row.get(0))
            .unwrap();
        assert_eq!(mode, "delete", "not switched to WAL");
        let ours: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM sqlite_schema WHERE name LIKE 'inbox%'",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(ours, 0, "no inbox tables added");

        // An inbox opens again, as often as asked.
        let inbox = TempInbox::new("again");
        drop(Inbox::sqlite(inbox.path()).unwrap());
        Inbox::sqlite(inbox.path()).unwrap();
    }
}

// ---------------------------------------------------------------------------
// Redis only
// ---------------------------------------------------------------------------

#[cfg(feature = "redis")]
mod redis_only {
    use super::*;
    use crate::redis_server::RedisServer;

    /// Waits (at most 10 s) until the inbox answers again.
    async fn answering(inbox: &Inbox) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while let Err(error) = inbox.stats().await {
            assert!(Instant::now() < deadline, "Redis is still away: {error}");
            actix_web::rt::time::sleep(Duration::from_millis(20)).await;
        }
    }

    #[actix_web::test]
    async fn a_delivery_damaged_by_hand_is_a_dead_letter_and_the_workers_go_on() {
        let server = RedisServer::start();
        let inbox = Inbox::redis(&server.url(), "damaged").await.unwrap();
        let runs = Runs::new();
        let hooks = router(inbox.clone());
        let served = Served::new(&hooks, "/webhooks");
        let mut redis = server.connection().await;

        // Stored as they came, then written over by hand: (id, field, value
        // or none to delete it).
        let damage: [(&str, &str, Option<&[u8]>); 8] = [
            ("garbage_method", "method", Some(b"NOT A METHOD".as_slice())),
            ("garbage_target", "target", Some(b"no slash".as_slice())),
            (
                "garbage_headers",
                "headers",
                Some(b"no separator here\n".as_slice()),
            ),
            ("garbage_params", "params", Some(b"{not json".as_slice())),
            (
                "garbage_signed_at",
                "signed_at",
                Some(b"yesterday".as_slice()),
            ),
            ("garbage_id", "id", Some(b"\xff\xfe".as_slice())),
            ("garbage_body", "body", None),
            ("garbage_count", "replayed_at", Some(b"5".as_slice())),
        ];
        for (id, field, value) in damage {
            let answer = served
                .send(&delivery(id, json!({"type": "order_paid"})))
                .await;
            assert_eq!(answer.status, StatusCode::ACCEPTED);
            let seqs: Vec<i64> = ::redis::cmd("SMEMBERS")
                .arg(format!("{{damaged}}:id:{id}"))
                .query_async(&mut redis)
                .await
                .unwrap();
            let [seq] = seqs[..] else {
                panic!("{id} is stored as {seqs:?}");
            };
            let key = format!("{{damaged}}:d:{seq}");
            let mut command = ::redis::cmd(if value.is_some() { "HSET" } else { "HDEL" });
            command.arg(&key).arg(field);
            if let Some(value) = value {
                command.arg(value);
            }
            let changed: i64 = command.query_async(&mut redis).await.unwrap();
            assert!(changed <= 1, "{key} {field}");
        }
        let workers = start_workers(&hooks, &runs);
        served
            .send(&delivery("msg_good", json!({"type": "order_paid"})))
            .await;
        eventually("the good delivery's run", async || {
            runs.successes("msg_good") == 1
        })
        .await;
        eventually("every damaged delivery's end", async || {
            count(&inbox, State::Dead).await == 8
        })
        .await;
        for dead in inbox
            .list(Filter::default().state(State::Dead))
            .await
            .unwrap()
        {
            let error = dead.last_error.as_deref().unwrap_or_default();
            assert!(error.contains("stored"), "{}: {error}", dead.id);
        }
        assert_eq!(
            runs.all_successes(),
            1,
            "no damaged delivery reached the handler"
        );
        workers.abort();
    }

    #[actix_web::test]
    async fn a_delivery_whose_attempt_count_is_damaged_is_a_dead_letter_and_the_workers_go_on() {
        let server = RedisServer::start();
        let inbox = Inbox::redis(&server.url(), "count").await.unwrap();
        let runs = Runs::new();
        let hooks = router(inbox.clone());
        let served = Served::new(&hooks, "/webhooks");
        let mut redis = server.connection().await;
        // Not a number; numbers Lua reads but HINCRBY refuses (a fraction,
        // an exponent, hex, one that would overflow); counts out of range
        // once incremented.
        let damage = [
            "many",
            "1.5",
            "1e3",
            "0x10",
            "9223372036854775807",
            "4294967295",
            "-3",
        ];
        for (n, value) in damage.iter().enumerate() {
            let id = format!("garbage_attempts_{n}");
            served
                .send(&delivery(&id, json!({"type": "order_paid"})))
                .await;
            let _: i64 = ::redis::cmd("HSET")
                .arg(format!("{{count}}:d:{}", n + 1))
                .arg("attempts")
                .arg(*value)
                .query_async(&mut redis)
                .await
                .unwrap();
        }
        let workers = start_workers(&hooks, &runs);
        served
            .send(&delivery("msg_good", json!({"type": "order_paid"})))
            .await;
        eventually("the good delivery's run", async || {
            runs.successes("msg_good") == 1
        })
        .await;
        eventually("every damaged delivery's end", async || {
            count(&inbox, State::Dead).await == damage.len() as u64
        })
        .await;
        for (n, value) in damage.iter().enumerate() {
            let details = inbox
                .show(&format!("garbage_attempts_{n}"))
                .await
                .unwrap()
                .remove(0);
            assert_eq!(details.summary.state, State::Dead, "{value}");
            let error = details.summary.last_error.unwrap_or_default();
            assert!(error.contains("stored"), "{value}: {error}");
        }
        assert_eq!(runs.all_successes(), 1);
        assert_eq!(count(&inbox, State::Running).await, 0);
        workers.abort();
    }

    #[actix_web::test]
    async fn while_redis_is_down_deliveries_get_503_and_nothing_is_stored() {
        let mut server = RedisServer::start();
        let inbox = Inbox::redis(&server.url(), "down").await.unwrap();
        let runs = Runs::new();
        let hooks = router(inbox.clone());
        let workers = start_workers(&hooks, &runs);
        let served = Served::new(&hooks, "/webhooks");
        let before = delivery("msg_before", json!({"type": "order_paid"}));
        assert_eq!(served.send(&before).await.status, StatusCode::ACCEPTED);
        eventually("the first run's record", async || {
            state_of(&inbox, "msg_before").await == Some(State::Done)
        })
        .await;

        // Shut down the orderly way: what it holds is saved and loaded again.
        server.shutdown();
        let down = delivery("msg_down", json!({"type": "order_paid"}));
        let asked = Instant::now();
        let answer = served.send(&down).await;
        let refused_in = asked.elapsed();
        assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE, "{answer:?}");
        assert_eq!(answer.body["code"], "unavailable");
        let retry_after: u64 = answer
            .retry_after
            .as_deref()
            .and_then(|s| s.parse().ok())
            .expect("a Retry-After in seconds");
        assert!(retry_after >= 1);
        assert!(inbox.stats().await.is_err(), "nothing to read either");
        // The workers meet the outage at least once.
        actix_web::rt::time::sleep(Duration::from_millis(1200)).await;
        server.restart();
        answering(&inbox).await;

        // Nothing of the refused delivery was stored; what was, still is.
        assert!(inbox.show("msg_down").await.unwrap().is_empty());
        assert_eq!(state_of(&inbox, "msg_before").await, Some(State::Done));
        let stats = inbox.stats().await.unwrap();
        assert_eq!(
            stats.by_state.into_iter().collect::<Vec<_>>(),
            [(State::Done, 1)]
        );
        let answer = served.send(&before).await;
        assert_eq!(answer.body["status"], "duplicate", "{answer:?}");

        // The sender's retry is taken and run by the same workers.
        let (answer, refused) = served.send_until_taken(&down).await;
        assert_eq!(answer.status, StatusCode::ACCEPTED, "{answer:?}");
        eventually("the retried delivery's run", async || {
            runs.successes("msg_down") == 1
        })
        .await;
        assert_eq!(runs.successes("msg_before"), 1);
        println!("Redis down: 503 after {refused_in:?}; {refused} more 503s after its restart");
        workers.abort();
    }

    #[actix_web::test]
    async fn workers_go_on_by_themselves_after_redis_was_killed_and_restarted() {
        let mut server = RedisServer::start();
        let inbox = Inbox::redis(&server.url(), "killed").await.unwrap();
        let runs = Runs::new();
        let hooks = router(inbox.clone());
        let workers = start_workers(&hooks, &runs);
        let served = Served::new(&hooks, "/webhooks");
        let before = delivery("msg_before", json!({"type": "order_paid"}));
        assert_eq!(served.send(&before).await.status, StatusCode::ACCEPTED);
        eventually("the first run", async || runs.successes("msg_before") == 1).await;

        server.stop();
        let down = delivery("msg_down", json!({"type": "order_paid"}));
        let answer = served.send(&down).await;
        assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE, "{answer:?}");
        assert!(answer.retry_after.is_some(), "{answer:?}");
        actix_web::rt::time::sleep(Duration::from_millis(1200)).await;
        // A fresh server (no persistence: what it held is lost).
        server.restart();
        let restarted = Instant::now();

        let (answer, refused) = served.send_until_taken(&down).await;
        assert_eq!(answer.status, StatusCode::ACCEPTED, "{answer:?}");
        eventually("the run after the restart", async || {
            runs.successes("msg_down") == 1
        })
        .await;
        let ran_after = restarted.elapsed();
        let after = delivery("msg_after", json!({"type": "order_paid"}));
        assert_eq!(served.send(&after).await.status, StatusCode::ACCEPTED);
        eventually("one more run", async || runs.successes("msg_after") == 1).await;
        eventually("its record", async || {
            state_of(&inbox, "msg_after").await == Some(State::Done)
        })
        .await;
        println!(
            "Redis killed and restarted: {refused} 503s after the restart, the retried delivery ran {ran_after:?} after it"
        );
        workers.abort();
    }

    #[actix_web::test]
    async fn runs_going_on_while_redis_is_frozen_are_recorded_once_it_answers() {
        let server = RedisServer::start();
        let inbox = Inbox::redis(&server.url(), "paused").await.unwrap();
        let runs = Runs::new();
        runs.sleep_ms.store(800, Ordering::SeqCst);
        let hooks = router(inbox.clone());
        // A lease longer than the freeze: no run is taken over.
        let workers =
            actix_web::rt::spawn(workers(&hooks, &runs).lease(Duration::from_secs(10)).run());
        let served = Served::new(&hooks, "/webhooks");
        let ids: Vec<String> = (0..4).map(|n| format!("msg_{n}")).collect();
        for id in &ids {
            let answer = served
                .send(&delivery(id, json!({"type": "order_paid"})))
                .await;
            assert_eq!(answer.status, StatusCode::ACCEPTED);
        }
        eventually("four runs", async || {
            count(&inbox, State::Running).await == 4
        })
        .await;

        server.pause();
        let paused = Instant::now();
        let frozen = delivery("msg_frozen", json!({"type": "order_paid"}));
        let answer = served.send(&frozen).await;
        let refused_in = paused.elapsed();
        assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE, "{answer:?}");
        assert!(answer.retry_after.is_some(), "{answer:?}");
        // The handlers end while Redis is frozen; their records wait.
        let thawed_at = paused + Duration::from_secs(3);
        actix_web::rt::time::sleep_until(thawed_at.into()).await;
        assert_eq!(runs.all_successes(), 4, "the handlers ran to their end");
        server.resume();

        eventually("the four records", async || {
            count(&inbox, State::Done).await >= 4
        })
        .await;
        let recorded_in = thawed_at.elapsed();
        // The refused delivery's write may have reached Redis when it woke
        // up: the sender's retry is then a duplicate. Either way it runs once.
        let (answer, refused) = served.send_until_taken(&frozen).await;
        assert!(
            answer.status == StatusCode::ACCEPTED || answer.body["status"] == "duplicate",
            "{answer:?}"
        );
        let after = delivery("msg_after", json!({"type": "order_paid"}));
        assert_eq!(served.send(&after).await.status, StatusCode::ACCEPTED);
        eventually("every record", async || {
            count(&inbox, State::Done).await == 6
        })
        .await;
        for id in ids
            .iter()
            .map(String::as_str)
            .chain(["msg_frozen", "msg_after"])
        {
            assert_eq!(runs.successes(id), 1, "{id} ran once");
            let details = inbox.show(id).await.unwrap().remove(0);
            assert_eq!(outcomes(&details), ["done"], "{id}");
        }
        assert_eq!(inbox.stats().await.unwrap().restarted_runs, 0);
        println!(
            "Redis frozen 3 s: 503 after {refused_in:?}, the four runs recorded {recorded_in:?} after it woke; \
             the refused delivery sent again: {} after {refused} more 503s",
            answer.body["status"]
        );
        workers.abort();
    }

    #[actix_web::test]
    async fn namespaces_on_one_redis_are_separate_inboxes() {
        let server = RedisServer::start();
        let shop = Inbox::redis(&server.url(), "shop").await.unwrap();
        let billing = Inbox::redis(&server.url(), "billing").await.unwrap();
        let runs = Runs::new();
        let (hooks_shop, hooks_billing) = (router(shop.clone()), router(billing.clone()));
        let served_shop = Served::new(&hooks_shop, "/webhooks");
        let served_billing = Served::new(&hooks_billing, "/webhooks");
        let same = delivery("msg_same", json!({"type": "order_paid"}));
        assert_eq!(served_shop.send(&same).await.status, StatusCode::ACCEPTED);
        assert_eq!(
            served_billing.send(&same).await.status,
            StatusCode::ACCEPTED
        );

        let workers = start_workers(&hooks_shop, &runs);
        eventually("the shop's run", async || {
            state_of(&shop, "msg_same").await == Some(State::Done)
        })
        .await;
        assert_eq!(state_of(&billing, "msg_same").await, Some(State::Queued));
        assert_eq!(runs.all_successes(), 1);
        workers.abort();

        // No namespace is refused, nor one with braces (they would move
        // its keys to another hash slot, or into another namespace's);
        // a URL's password is never shown.
        let error = Inbox::redis(&server.url(), "").await.unwrap_err();
        assert!(error.to_string().contains("namespace"), "{error}");
        for braced in ["shop}", "{shop", "a{b}c"] {
            let error = Inbox::redis(&server.url(), braced).await.unwrap_err();
            let shown = error.to_string();
            assert!(
                shown.contains("namespace") && shown.contains('{'),
                "{shown}"
            );
        }
        // TLS is not built in: a `rediss://` URL is refused as it is read.
        let error = Inbox::redis("rediss://127.0.0.1:1/", "shop")
            .await
            .unwrap_err();
        assert!(error.to_string().contains("invalid URL"), "{error}");
        let error = Inbox::redis("redis://:hunter2@127.0.0.1:1/", "shop")
            .await
            .unwrap_err();
        assert!(
            !format!("{error} {error:?}").contains("hunter2"),
            "{error:?}"
        );
    }
}
