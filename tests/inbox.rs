//! Inbox mode against a real SQLite file and a real actix service: what is
//! answered, what runs, when, and what ends in dead letters.
#![cfg(feature = "sqlite")]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_http::Request;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::header::HeaderMap;
use actix_web::http::StatusCode;
use actix_web::web::{self, Bytes};
use actix_web::{test, App};
use actix_webhook::inbox::{Backoff, Inbox, Selection, State};
use actix_webhook::scheme::{EventName, GenericHmac, StandardWebhooks};
use actix_webhook::standalone::{Received, Verifier};
use actix_webhook::testing::TestDelivery;
use actix_webhook::{webhook, Event, Secret, WebhookRouter};
use serde::Deserialize;
use serde_json::json;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// What the handlers saw, and how they are told to behave.
#[derive(Default)]
struct Runs {
    seen: Mutex<Vec<Run>>,
    /// Fail attempts up to this number.
    fail_first: AtomicU32,
    /// Fail every attempt.
    always_fail: AtomicBool,
    /// Sleep this long first.
    sleep_ms: AtomicU64,
}

struct Run {
    id: String,
    attempt: u32,
    ok: bool,
    at: Instant,
    body: Bytes,
    headers: HeaderMap,
    target: String,
    source: Option<String>,
}

impl Runs {
    fn record(&self, event: &Event<impl Sized>, ok: bool, body: Bytes, source: Option<String>) {
        self.seen.lock().unwrap().push(Run {
            id: event.delivery_id().unwrap_or_default().to_owned(),
            attempt: event.attempt().expect("runs from the inbox are numbered"),
            ok,
            at: Instant::now(),
            body,
            headers: event.headers().clone(),
            target: event.request().uri().to_string(),
            source,
        });
    }

    fn successes(&self, id: &str) -> usize {
        let seen = self.seen.lock().unwrap();
        seen.iter().filter(|r| r.id == id && r.ok).count()
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
    let sleep = runs.sleep_ms.load(Ordering::SeqCst);
    if sleep > 0 {
        actix_web::rt::time::sleep(Duration::from_millis(sleep)).await;
    }
    let attempt = event.attempt().unwrap_or(0);
    let fail = runs.always_fail.load(Ordering::SeqCst)
        || attempt <= runs.fail_first.load(Ordering::SeqCst);
    runs.record(&event, !fail, event.raw_body().clone(), None);
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
    runs.record(&event, true, Bytes::new(), None);
}

/// A fresh inbox file, removed (with its WAL files) on drop.
struct TempInbox(PathBuf);

impl TempInbox {
    fn new(name: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let path = std::env::temp_dir().join(format!(
            "actix-webhook-inbox-{name}-{}-{nanos}.db",
            std::process::id()
        ));
        Self(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempInbox {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut file = self.0.clone().into_os_string();
            file.push(suffix);
            let _ = std::fs::remove_file(file);
        }
    }
}

fn router(inbox: Inbox) -> WebhookRouter {
    WebhookRouter::new(StandardWebhooks::new(SECRET).unwrap())
        .handler(order_paid)
        .handler(refund)
        .inbox(inbox)
}

/// Starts the router's workers: short backoff, 3 attempts, 1 s lease.
fn start_workers(
    router: &WebhookRouter,
    runs: &web::Data<Runs>,
) -> actix_web::rt::task::JoinHandle<()> {
    let workers = router
        .workers()
        .app_data(runs.clone())
        .backoff(
            Backoff::exponential(Duration::from_millis(40), Duration::from_millis(400))
                .max_attempts(3),
        )
        .lease(Duration::from_secs(1));
    actix_web::rt::spawn(workers.run())
}

fn delivery(id: &str, body: serde_json::Value) -> Request {
    TestDelivery::json(&body)
        .id(id)
        .uri("/webhooks")
        .sign(&StandardWebhooks::new(SECRET).unwrap())
        .to_request()
}

async fn send<S>(app: &S, request: Request) -> (StatusCode, serde_json::Value)
where
    S: Service<Request, Response = ServiceResponse, Error = actix_web::Error>,
{
    let response = test::call_service(app, request).await;
    let status = response.status();
    let body = test::read_body(response).await;
    (status, serde_json::from_slice(&body).unwrap_or_default())
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
    found.first().map(|d| d.summary.state)
}

#[actix_web::test]
async fn a_slow_handler_still_has_its_deliveries_answered_at_once() {
    let file = TempInbox::new("slow");
    let inbox = Inbox::sqlite(file.path()).unwrap();
    let runs = web::Data::new(Runs::default());
    runs.sleep_ms.store(10_000, Ordering::SeqCst);
    let hooks = router(inbox.clone());
    let workers = start_workers(&hooks, &runs);
    let app = test::init_service(App::new().service(hooks.scope("/webhooks"))).await;

    let started = Instant::now();
    for n in 0..20 {
        let id = format!("msg_slow_{n}");
        let (status, body) = send(&app, delivery(&id, json!({"type": "order_paid"}))).await;
        assert_eq!(status, StatusCode::ACCEPTED);
        assert_eq!(
            body,
            json!({"status": "queued", "id": id, "event": "order_paid"})
        );
    }
    let answered = started.elapsed();
    // Each answer waited for its write to be on disk, not for a handler
    // that takes 10 s.
    assert!(
        answered < Duration::from_secs(5),
        "20 answers took {answered:?}"
    );
    eventually("the workers to take 4 deliveries", async || {
        inbox.stats().await.unwrap().by_state.get(&State::Running) == Some(&4)
    })
    .await;
    assert!(
        runs.seen.lock().unwrap().is_empty(),
        "no handler has finished yet"
    );
    println!("20 deliveries answered 202 in {answered:?} while their handler sleeps 10 s");
    workers.abort();
}

#[actix_web::test]
async fn a_delivery_sent_again_is_handled_once() {
    let file = TempInbox::new("twice");
    let inbox = Inbox::sqlite(file.path()).unwrap();
    let runs = web::Data::new(Runs::default());
    let hooks = router(inbox.clone());
    let app = test::init_service(App::new().service(hooks.scope("/webhooks"))).await;

    let body = json!({"type": "order_paid", "data": {"n": 1}});
    let (status, _) = send(&app, delivery("msg_twice", body.clone())).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    // Queued, not run yet: a retry of the sender is a duplicate.
    let (status, answer) = send(&app, delivery("msg_twice", body.clone())).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["status"], "duplicate");

    let workers = start_workers(&hooks, &runs);
    eventually("the run", async || {
        state_of(&inbox, "msg_twice").await == Some(State::Done)
    })
    .await;
    // Done: still a duplicate, and not run again.
    let (status, answer) = send(&app, delivery("msg_twice", body)).await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (StatusCode::OK, Some("duplicate"))
    );
    actix_web::rt::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(runs.successes("msg_twice"), 1);
    assert_eq!(inbox.show("msg_twice").await.unwrap().len(), 1);

    // An event nothing handles is answered as before and not stored.
    let (status, answer) = send(&app, delivery("msg_nobody", json!({"type": "nobody"}))).await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (StatusCode::OK, Some("ignored"))
    );
    assert!(inbox.show("msg_nobody").await.unwrap().is_empty());
    workers.abort();
}

#[actix_web::test]
async fn a_failing_handler_is_retried_with_backoff_until_it_succeeds() {
    let file = TempInbox::new("retry");
    let inbox = Inbox::sqlite(file.path()).unwrap();
    let runs = web::Data::new(Runs::default());
    runs.fail_first.store(2, Ordering::SeqCst);
    let hooks = router(inbox.clone());
    let workers = start_workers(&hooks, &runs);
    let app = test::init_service(App::new().service(hooks.scope("/webhooks"))).await;

    let (status, _) = send(&app, delivery("msg_retry", json!({"type": "order_paid"}))).await;
    assert_eq!(status, StatusCode::ACCEPTED);
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
    let outcomes: Vec<_> = details
        .attempts
        .iter()
        .map(|a| a.outcome.as_str())
        .collect();
    assert_eq!(outcomes, ["retry", "retry", "done"]);
    assert!(details.attempts[0]
        .error
        .as_deref()
        .unwrap()
        .contains("database is down"));
    workers.abort();
}

#[actix_web::test]
async fn a_payload_of_the_wrong_type_is_a_dead_letter_on_its_first_attempt() {
    let file = TempInbox::new("mismatch");
    let inbox = Inbox::sqlite(file.path()).unwrap();
    let runs = web::Data::new(Runs::default());
    let hooks = router(inbox.clone());
    let workers = start_workers(&hooks, &runs);
    let app = test::init_service(App::new().service(hooks.scope("/webhooks"))).await;

    let body = json!({"type": "refund", "data": {"amount": "ten"}});
    let (status, _) = send(&app, delivery("msg_mismatch", body)).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    eventually("the dead letter", async || {
        state_of(&inbox, "msg_mismatch").await == Some(State::Dead)
    })
    .await;

    let details = inbox.show("msg_mismatch").await.unwrap().remove(0);
    assert_eq!(details.summary.attempts, 1);
    let error = details.summary.last_error.unwrap();
    assert!(
        error.contains("data.amount") && error.contains("invalid type"),
        "{error}"
    );
    assert!(runs.seen.lock().unwrap().is_empty());
    workers.abort();
}

#[actix_web::test]
async fn a_handler_that_always_fails_ends_in_dead_letters_and_a_replay_runs_it_again() {
    let file = TempInbox::new("dead");
    let inbox = Inbox::sqlite(file.path()).unwrap();
    let runs = web::Data::new(Runs::default());
    runs.always_fail.store(true, Ordering::SeqCst);
    let hooks = router(inbox.clone());
    let workers = start_workers(&hooks, &runs);
    let app = test::init_service(App::new().service(hooks.scope("/webhooks"))).await;

    let (status, _) = send(&app, delivery("msg_dead", json!({"type": "order_paid"}))).await;
    assert_eq!(status, StatusCode::ACCEPTED);
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

    // The handler is fixed; the dead letter is replayed and succeeds.
    runs.always_fail.store(false, Ordering::SeqCst);
    let dead = Selection::dead();
    let would = inbox.replay(dead.clone(), true).await.unwrap();
    assert_eq!(would.len(), 1);
    assert_eq!(
        state_of(&inbox, "msg_dead").await,
        Some(State::Dead),
        "a dry run changes nothing"
    );
    let replayed = inbox.replay(dead, false).await.unwrap();
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
    assert_eq!(attempts.last().map(|a| (a.0, a.1)), Some((4, true)));
    workers.abort();
}

#[actix_web::test]
async fn pruning_removes_done_deliveries_only() {
    let file = TempInbox::new("prune");
    let inbox = Inbox::sqlite(file.path()).unwrap();
    let runs = web::Data::new(Runs::default());
    let hooks = router(inbox.clone());
    let app = test::init_service(App::new().service(hooks.scope("/webhooks"))).await;
    send(&app, delivery("msg_done", json!({"type": "order_paid"}))).await;
    send(
        &app,
        delivery("msg_bad", json!({"type": "refund", "data": {}})),
    )
    .await;
    let workers = start_workers(&hooks, &runs);
    eventually("a done and a dead delivery", async || {
        state_of(&inbox, "msg_done").await == Some(State::Done)
            && state_of(&inbox, "msg_bad").await == Some(State::Dead)
    })
    .await;
    workers.abort();
    // Queued while no worker runs.
    send(&app, delivery("msg_waiting", json!({"type": "order_paid"}))).await;
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
    workers.abort();
}

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
    let runs = web::Data::new(Runs::default());
    let hooks = router(inbox.clone());
    let workers = start_workers(&hooks, &runs);
    let app = test::init_service(App::new().service(hooks.scope("/webhooks"))).await;
    send(&app, delivery("msg_good", json!({"type": "order_paid"}))).await;

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

#[webhook(event = "blob")]
async fn blob(event: Event<Bytes>, source: web::Path<String>, runs: web::Data<Runs>) {
    let body = event.raw_body().clone();
    runs.record(&event, true, body, Some(source.into_inner()));
}

#[actix_web::test]
async fn odd_deliveries_are_stored_and_replayed_byte_for_byte() {
    const LIMIT: usize = 1024 * 1024;
    let file = TempInbox::new("bytes");
    let inbox = Inbox::sqlite(file.path()).unwrap();
    let runs = web::Data::new(Runs::default());
    let scheme = || {
        GenericHmac::new("x-signature", Secret::new("a shared secret").unwrap())
            .id_header("x-delivery")
            .event_name(EventName::Header("x-event"))
    };
    let hooks = WebhookRouter::new(scheme())
        .handler(blob)
        .body_limit(LIMIT)
        .inbox(inbox.clone());
    let app = test::init_service(App::new().service(hooks.scope("/hooks/{source}"))).await;

    // A body of exactly the limit, most of it not UTF-8; an id of 200
    // bytes; a header value that is not UTF-8.
    let body: Vec<u8> = (0..LIMIT).map(|i| (i % 251) as u8).collect();
    let id = "i".repeat(200);
    let odd = b"caf\xe9 \xff\xfe".as_slice();
    let request = || {
        test::TestRequest::post()
            .uri("/hooks/shop-7?region=eu")
            .insert_header(("x-signature", scheme().signature(&id, 0, &body)))
            .insert_header(("x-delivery", id.as_str()))
            .insert_header(("x-event", "blob"))
            .insert_header((
                "x-odd",
                actix_web::http::header::HeaderValue::from_bytes(odd).unwrap(),
            ))
            .set_payload(body.clone())
            .to_request()
    };
    let (status, answer) = send(&app, request()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    let (status, _) = send(&app, request()).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the same content again is a duplicate"
    );

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
        assert_eq!(run.target, "/hooks/shop-7?region=eu");
        assert_eq!(run.source.as_deref(), Some("shop-7"), "path parameters");
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

#[actix_web::test]
async fn an_inbox_that_cannot_be_written_gets_503_and_accepts_nothing() {
    let file = TempInbox::new("locked");
    let inbox = Inbox::sqlite(file.path()).unwrap();
    let hooks = router(inbox.clone());
    let app = test::init_service(App::new().service(hooks.scope("/webhooks"))).await;

    // Another process holds the write lock past the busy timeout (5 s).
    let conn = rusqlite::Connection::open(file.path()).unwrap();
    conn.execute_batch("BEGIN IMMEDIATE").unwrap();
    let (status, answer) = send(&app, delivery("msg_locked", json!({"type": "order_paid"}))).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(answer["code"], "unavailable");
    conn.execute_batch("ROLLBACK").unwrap();

    assert_eq!(
        state_of(&inbox, "msg_locked").await,
        None,
        "nothing accepted"
    );
    let (status, _) = send(&app, delivery("msg_locked", json!({"type": "order_paid"}))).await;
    assert_eq!(status, StatusCode::ACCEPTED, "the sender's retry is");
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
