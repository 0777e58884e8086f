//! The Redis store against a real `redis-server` (started by the tests, as
//! in `tests/inbox.rs`), below the workers: what the conformance tests
//! cannot set up from outside, such as a replica whose clock is off, a
//! delivery that changes between a page being listed and acted on, or an
//! index damaged by hand.

#[path = "../../tests/support/redis_server.rs"]
mod redis_server;

#[path = "../../tests/support/capture.rs"]
mod capture;

use std::sync::Arc;
use std::time::Duration;

use actix_web::http::header::HeaderMap;
use actix_web::web::Bytes;
use redis_server::RedisServer;

use super::super::admin::{Selection, State};
use super::super::store::{Claimed, Outcome, Store};
use super::super::stored::{encode_headers, now_ms, NewDelivery, CLOCK_SKEW_MS};
use super::super::worker::{outcome_of, Backoff};
use super::Redis;
use crate::Ack;

const LEASE_MS: i64 = 30_000;
const OWNER: i64 = 7;

async fn open(server: &RedisServer, namespace: &str) -> Arc<Redis> {
    Arc::new(Redis::connect(&server.url(), namespace).await.unwrap())
}

/// This thread's clock (the replica's) off by `ms` until dropped.
struct Skew;

impl Skew {
    fn by(ms: i64) -> Self {
        CLOCK_SKEW_MS.with(|skew| skew.set(ms));
        Self
    }
}

impl Drop for Skew {
    fn drop(&mut self) {
        CLOCK_SKEW_MS.with(|skew| skew.set(0));
    }
}

/// A delivery of `id` as a replica whose clock reads `now_ms()` stores it.
fn delivery(id: &str) -> NewDelivery {
    NewDelivery {
        key: format!("test:{id}"),
        id: id.to_owned(),
        id_assigned: false,
        tenant: None,
        event: "order_paid".to_owned(),
        scheme: "test",
        method: "POST".to_owned(),
        target: "/webhooks".to_owned(),
        headers: encode_headers(&HeaderMap::new()),
        params: "[]".to_owned(),
        body: Bytes::from_static(b"{}"),
        signed_at: None,
        received_at: now_ms(),
    }
}

async fn claim(store: &Store, lease_ms: i64) -> Claimed {
    store.claim(OWNER, 10, 10, lease_ms).await.unwrap()
}

/// Claims the one delivery due and records `outcome` for its run.
async fn run_once(store: &Store, outcome: impl FnOnce() -> Outcome) {
    let claimed = claim(store, LEASE_MS).await;
    let [run] = &claimed.runs[..] else {
        panic!("{} runs claimed", claimed.runs.len());
    };
    let recorded = store
        .finish(run.seq, OWNER, run.attempt, run.started_at, outcome())
        .await
        .unwrap();
    assert!(recorded);
}

/// What a replica's workers record when the handler asks to be retried
/// after `after`.
fn retry_after(after: Duration) -> Outcome {
    outcome_of(Ok(Ack::retry_after(after)), 1, &Backoff::default())
}

#[actix_web::test]
async fn a_replica_whose_clock_is_ahead_has_its_deliveries_run_at_once() {
    let server = RedisServer::start();
    let store = Store::Redis(open(&server, "ahead").await);
    let skew = Skew::by(3_600_000);
    let stored = delivery("msg_ahead");
    let received_at = stored.received_at;
    assert!(store.insert(stored).await.unwrap());
    drop(skew);
    let claimed = claim(&store, LEASE_MS).await;
    assert_eq!(claimed.runs.len(), 1, "due now, in Redis's time");
    // What the replica said stays, for the operator.
    let shown = store.show("msg_ahead".to_owned()).await.unwrap();
    assert_eq!(shown[0].summary.received_at.timestamp_millis(), received_at);
}

#[actix_web::test]
async fn a_retry_waits_its_delay_in_redis_time_whatever_the_replica_clock() {
    let server = RedisServer::start();
    let store = Store::Redis(open(&server, "retry").await);
    store.insert(delivery("msg_retry")).await.unwrap();

    // A replica an hour ahead asks for a retry in 50 ms: it runs then, not
    // in an hour.
    let skew = Skew::by(3_600_000);
    run_once(&store, || retry_after(Duration::from_millis(50))).await;
    drop(skew);
    actix_web::rt::time::sleep(Duration::from_millis(150)).await;
    let claimed = claim(&store, LEASE_MS).await;
    assert_eq!(claimed.runs.len(), 1, "the retry is due");
    let run = &claimed.runs[0];
    store
        .finish(run.seq, OWNER, run.attempt, run.started_at, {
            // A replica an hour behind asks for a retry in 10 s: not at once.
            let _skew = Skew::by(-3_600_000);
            retry_after(Duration::from_secs(10))
        })
        .await
        .unwrap();
    let claimed = claim(&store, LEASE_MS).await;
    assert!(claimed.runs.is_empty(), "the retry waits its 10 s");
}

/// `next_due` is how long until the next delivery is due, whatever the
/// clock of the replica asking.
async fn next_due_is_a_delay(store: Store) {
    store.insert(delivery("msg_later")).await.unwrap();
    run_once(&store, || retry_after(Duration::from_secs(5))).await;
    for skew in [0, 3_600_000, -3_600_000] {
        let _skew = Skew::by(skew);
        let claimed = claim(&store, LEASE_MS).await;
        assert!(claimed.runs.is_empty());
        let due = claimed.next_due.expect("a delivery to come");
        assert!(
            (3_000..=5_000).contains(&due),
            "due in {due} ms, skew {skew}"
        );
    }
}

#[actix_web::test]
async fn next_due_is_the_time_until_the_next_delivery_is_due() {
    let server = RedisServer::start();
    next_due_is_a_delay(Store::Redis(open(&server, "next").await)).await;
    #[cfg(feature = "sqlite")]
    {
        use super::super::sqlite::{Durability, Sqlite};
        let file = std::env::temp_dir().join(format!(
            "actix-webhook-next-due-{}-{}.db",
            std::process::id(),
            now_ms()
        ));
        let sqlite = Sqlite::open(&file, Durability::Normal).unwrap();
        next_due_is_a_delay(Store::Sqlite(Arc::new(sqlite))).await;
        for suffix in ["", "-wal", "-shm"] {
            let mut path = file.clone().into_os_string();
            path.push(suffix);
            let _ = std::fs::remove_file(path);
        }
    }
}

#[actix_web::test]
async fn a_delivery_finished_again_after_its_page_was_listed_is_left_alone() {
    let server = RedisServer::start();
    let redis = open(&server, "stale").await;
    let store = Store::Redis(redis.clone());
    store.insert(delivery("msg_stale")).await.unwrap();
    let dead = || Outcome::Dead {
        error: "it failed".to_owned(),
    };
    run_once(&store, dead).await;
    actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    let selection = Selection::dead().finished_before(chrono::Utc::now());
    let states = selection.replay_states();
    let picked = redis.select(&selection, states).await.unwrap();
    assert_eq!(picked.len(), 1, "dead before the bound, when listed");

    // Before the page is acted on, someone replays it and it dies again:
    // after the bound now, so neither replayed nor purged.
    actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    let again = store.replay(Selection::id("msg_stale"), false).await;
    assert_eq!(again.unwrap().len(), 1);
    run_once(&store, dead).await;
    for script in [&redis.scripts.replay, &redis.scripts.purge] {
        let acted = redis
            .each_page(script, &selection, states, &picked)
            .await
            .unwrap();
        assert!(acted.is_empty(), "{acted:?}");
    }
    let shown = store.show("msg_stale".to_owned()).await.unwrap();
    assert_eq!(shown[0].summary.state, State::Dead);
    assert_eq!(shown[0].attempts.len(), 2);

    // What still matches is acted on, with every check of the selection.
    let late = Selection::dead().finished_before(chrono::Utc::now() + chrono::Duration::hours(1));
    for (selection, acts) in [
        (late.clone().event("refund"), false),
        (
            late.clone()
                .since(chrono::Utc::now() + chrono::Duration::hours(1)),
            false,
        ),
        (late.clone().event("order_paid"), true),
    ] {
        let acted = redis
            .each_page(&redis.scripts.replay, &selection, states, &picked)
            .await
            .unwrap();
        assert_eq!(!acted.is_empty(), acts, "{selection:?}");
    }
}

#[actix_web::test]
async fn a_run_taken_over_whose_record_is_there_is_not_counted_restarted() {
    let server = RedisServer::start();
    let store = Store::Redis(open(&server, "again").await);
    store.insert(delivery("msg_again")).await.unwrap();
    assert_eq!(claim(&store, 100).await.runs.len(), 1);
    // Its first run is already recorded (by hand here), and Redis was not
    // away: when its lease runs out it is taken over, and nothing new is
    // recorded, nor counted.
    let mut redis = server.connection().await;
    let _: () = redis::pipe()
        .cmd("HSET")
        .arg("{again}:a:1")
        .arg(1)
        .arg("0\n0\ndone")
        .ignore()
        .cmd("SET")
        .arg("{again}:alive")
        .arg(1)
        .arg("PX")
        .arg(60_000)
        .ignore()
        .query_async(&mut redis)
        .await
        .unwrap();
    actix_web::rt::time::sleep(Duration::from_millis(200)).await;
    let claimed = claim(&store, LEASE_MS).await;
    assert_eq!(claimed.runs.len(), 1, "taken over");
    assert_eq!(claimed.runs[0].attempt, 2);
    assert_eq!(store.stats().await.unwrap().restarted_runs, 0);
}

#[actix_web::test]
async fn pruning_deletes_only_what_is_done_whatever_the_index_says() {
    let server = RedisServer::start();
    let store = Store::Redis(open(&server, "prune").await);
    store.insert(delivery("msg_done")).await.unwrap();
    run_once(&store, || Outcome::Done).await;
    store.insert(delivery("msg_queued")).await.unwrap();
    // An index entry that disagrees with its delivery (written by hand).
    let mut redis = server.connection().await;
    let _: i64 = redis::cmd("ZADD")
        .arg("{prune}:done")
        .arg(0)
        .arg(2)
        .query_async(&mut redis)
        .await
        .unwrap();
    let pruned = store.prune(now_ms() + 60_000, 500).await.unwrap();
    assert_eq!(pruned, 1);
    assert!(store.show("msg_done".to_owned()).await.unwrap().is_empty());
    let shown = store.show("msg_queued".to_owned()).await.unwrap();
    assert_eq!(shown[0].summary.state, State::Queued);
    let score: Option<f64> = redis::cmd("ZSCORE")
        .arg("{prune}:done")
        .arg(2)
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(score, None, "the stray entry is gone");
    assert_eq!(claim(&store, LEASE_MS).await.runs.len(), 1);
}

/// Runs nothing: the workers of [`an_outage_is_logged_as_an_error_again_every_minute`]
/// never claim a delivery.
struct NoRoutes;

impl super::super::RunStored for NoRoutes {
    fn run_stored<'a>(
        &'a self,
        _stored: super::super::StoredDelivery,
        _attempt: u32,
        _app_data: &'a [super::super::AppData],
    ) -> futures_util::future::LocalBoxFuture<'a, Result<Ack, crate::handler::Failure>> {
        Box::pin(async { Ok(Ack::processed()) })
    }

    fn event_label<'a>(&'a self, event: &'a str) -> &'a str {
        event
    }
}

#[actix_web::test]
async fn an_outage_is_logged_as_an_error_again_every_minute() {
    let mut server = RedisServer::start();
    let inbox = super::super::Inbox::on(Store::Redis(open(&server, "outage").await));
    server.stop();
    let (logs, _guard) = capture::Capture::start();
    let errors = || {
        logs.text()
            .lines()
            .filter(|line| line.contains("ERROR") && line.contains("taking deliveries"))
            .count()
    };
    let workers = super::super::Workers::new(Box::new(NoRoutes), inbox)
        .poll_interval(Duration::from_millis(20))
        .run();
    let workers = actix_web::rt::spawn(workers);
    actix_web::rt::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(errors(), 1, "{}", logs.text());
    // A minute later (on this replica's clock) it still fails: said again.
    let _skew = Skew::by(61_000);
    actix_web::rt::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(errors(), 2, "{}", logs.text());
    workers.abort();
}
