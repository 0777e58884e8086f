//! The Redis store against a real `redis-server`: claim semantics (fresh, in
//! flight, done, stale tokens, lease and TTL expiry), several stores sharing
//! one Redis, and failing closed while Redis is down, then recovering alone.
#![cfg(feature = "redis")]

#[path = "support/redis_server.rs"]
mod redis_server;

use std::time::{Duration, Instant};

use actix_webhook::dedupe::{Claim, RedisStore, Store, StoreError, Token};
use futures_util::future::join_all;
use redis_server::RedisServer;

const LEASE: Duration = Duration::from_secs(60);
const TTL: Duration = Duration::from_secs(3600);

/// Short enough to wait for in a test, long enough to act within.
const SHORT: Duration = Duration::from_millis(300);

async fn store(server: &RedisServer) -> RedisStore {
    RedisStore::connect(&server.url())
        .await
        .expect("connect to the test redis-server")
}

fn fresh(claim: Result<Claim, StoreError>) -> Token {
    match claim {
        Ok(Claim::Fresh(token)) => token,
        other => panic!("expected a fresh claim, got {other:?}"),
    }
}

async fn claim(store: &RedisStore, key: &str, lease: Duration) -> Claim {
    store.claim(key, lease).await.expect("claim")
}

#[actix_rt::test]
async fn claim_is_fresh_then_in_flight_then_done() {
    let server = RedisServer::start();
    let a = store(&server).await;
    let b = store(&server).await; // another replica

    let token = fresh(a.claim("hooks:msg_1", LEASE).await);
    assert_eq!(claim(&a, "hooks:msg_1", LEASE).await, Claim::InFlight);
    assert_eq!(claim(&b, "hooks:msg_1", LEASE).await, Claim::InFlight);

    a.complete("hooks:msg_1", &token, TTL).await.unwrap();
    assert_eq!(claim(&a, "hooks:msg_1", LEASE).await, Claim::Done);
    assert_eq!(claim(&b, "hooks:msg_1", LEASE).await, Claim::Done);

    // What Redis holds: `done` for the TTL.
    let mut conn = server.connection().await;
    let value: String = redis::cmd("GET")
        .arg("hooks:msg_1")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(value, "done");
    let pttl: i64 = redis::cmd("PTTL")
        .arg("hooks:msg_1")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(
        pttl > (TTL - Duration::from_secs(60)).as_millis() as i64 && pttl <= TTL.as_millis() as i64,
        "done marker expiry {pttl} ms"
    );

    // Other keys are untouched.
    fresh(b.claim("hooks:msg_2", LEASE).await);
}

#[actix_rt::test]
async fn a_stale_token_can_neither_complete_nor_release() {
    let server = RedisServer::start();
    let store = store(&server).await;

    let token = fresh(store.claim("k", LEASE).await);
    let stale = Token::new("0123456789abcdef0123456789abcdef");
    store.complete("k", &stale, TTL).await.unwrap();
    assert_eq!(claim(&store, "k", LEASE).await, Claim::InFlight);
    store.release("k", &stale).await.unwrap();
    assert_eq!(claim(&store, "k", LEASE).await, Claim::InFlight);

    store.complete("k", &token, TTL).await.unwrap();
    assert_eq!(claim(&store, "k", LEASE).await, Claim::Done);
    // Once done, even the holder's token no longer releases it.
    store.release("k", &token).await.unwrap();
    assert_eq!(claim(&store, "k", LEASE).await, Claim::Done);
}

#[actix_rt::test]
async fn release_lets_a_retry_claim() {
    let server = RedisServer::start();
    let a = store(&server).await;
    let b = store(&server).await;

    let first = fresh(a.claim("k", LEASE).await);
    a.release("k", &first).await.unwrap();
    // The retry lands on another replica.
    let second = fresh(b.claim("k", LEASE).await);
    assert_ne!(first, second, "tokens are unique across stores");
    // The first holder's token is stale now.
    a.complete("k", &first, TTL).await.unwrap();
    assert_eq!(claim(&a, "k", LEASE).await, Claim::InFlight);
    b.complete("k", &second, TTL).await.unwrap();
    assert_eq!(claim(&a, "k", LEASE).await, Claim::Done);
}

#[actix_rt::test]
async fn done_expires_after_its_ttl() {
    let server = RedisServer::start();
    let store = store(&server).await;

    let token = fresh(store.claim("k", LEASE).await);
    store.complete("k", &token, SHORT).await.unwrap();
    assert_eq!(claim(&store, "k", LEASE).await, Claim::Done);
    actix_rt::time::sleep(SHORT + Duration::from_millis(150)).await;
    fresh(store.claim("k", LEASE).await);
}

#[actix_rt::test]
async fn an_abandoned_claim_can_be_taken_after_its_lease_and_not_before() {
    let server = RedisServer::start();
    let crashed = store(&server).await;
    let survivor = store(&server).await;

    let started = Instant::now();
    let abandoned = fresh(crashed.claim("k", SHORT).await);
    actix_rt::time::sleep(SHORT / 2).await;
    let before = claim(&survivor, "k", SHORT).await;
    assert!(started.elapsed() < SHORT, "the test machine is too slow");
    assert_eq!(before, Claim::InFlight, "taken before the lease ran out");

    actix_rt::time::sleep(SHORT).await;
    let token = fresh(survivor.claim("k", LEASE).await);
    // The crashed holder comes back: its token is stale.
    crashed.complete("k", &abandoned, TTL).await.unwrap();
    crashed.release("k", &abandoned).await.unwrap();
    assert_eq!(claim(&survivor, "k", LEASE).await, Claim::InFlight);
    survivor.complete("k", &token, TTL).await.unwrap();
    assert_eq!(claim(&crashed, "k", LEASE).await, Claim::Done);
}

#[actix_rt::test]
async fn concurrent_claims_from_two_stores_have_one_winner() {
    let server = RedisServer::start();
    let stores = [store(&server).await, store(&server).await];

    for key in ["a", "b", "c", "d", "e"] {
        let claims = join_all((0..100).map(|i| stores[i % 2].claim(key, LEASE))).await;
        let fresh = claims
            .iter()
            .filter(|c| matches!(c, Ok(Claim::Fresh(_))))
            .count();
        let in_flight = claims
            .iter()
            .filter(|c| matches!(c, Ok(Claim::InFlight)))
            .count();
        assert_eq!((fresh, in_flight), (1, 99), "key {key}: {claims:?}");
    }
}

#[actix_rt::test]
async fn a_prefix_separates_applications() {
    let server = RedisServer::start();
    let shop = store(&server).await.prefix("shop:");
    let blog = store(&server).await.prefix("blog:");

    let token = fresh(shop.claim("hooks:1", LEASE).await);
    shop.complete("hooks:1", &token, TTL).await.unwrap();
    assert_eq!(claim(&shop, "hooks:1", LEASE).await, Claim::Done);
    fresh(blog.claim("hooks:1", LEASE).await);

    let mut conn = server.connection().await;
    let value: String = redis::cmd("GET")
        .arg("shop:hooks:1")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(value, "done");
}

#[actix_rt::test]
async fn a_key_of_another_type_is_an_error_not_a_panic() {
    let server = RedisServer::start();
    let store = store(&server).await;
    let mut conn = server.connection().await;
    let _: i64 = redis::cmd("LPUSH")
        .arg("k")
        .arg("x")
        .query_async(&mut conn)
        .await
        .unwrap();

    assert!(store.claim("k", LEASE).await.is_err());
    assert!(store.complete("k", &Token::new("t"), TTL).await.is_err());
    assert!(store.release("k", &Token::new("t")).await.is_err());
}

#[actix_rt::test]
async fn fails_closed_while_redis_is_down_and_recovers_alone() {
    let mut server = RedisServer::start();
    let store = store(&server).await;
    let token = fresh(store.claim("before", LEASE).await);

    server.stop();
    for round in 0..5 {
        let started = Instant::now();
        let result = store.claim(&format!("down-{round}"), LEASE).await;
        let took = started.elapsed();
        assert!(result.is_err(), "claim while Redis is down: {result:?}");
        assert!(took < Duration::from_secs(2), "claim took {took:?}");

        let started = Instant::now();
        assert!(store.complete("before", &token, TTL).await.is_err());
        assert!(store.release("before", &token).await.is_err());
        let took = started.elapsed();
        assert!(
            took < Duration::from_secs(4),
            "complete + release took {took:?}"
        );
    }

    // Same store, no rebuilding: it reconnects by itself.
    server.restart();
    let started = Instant::now();
    let token = loop {
        match store.claim("after", LEASE).await {
            Ok(Claim::Fresh(token)) => break token,
            Ok(other) => panic!("unexpected claim after restart: {other:?}"),
            Err(error) => {
                assert!(
                    started.elapsed() < Duration::from_secs(5),
                    "still failing 5 s after Redis came back: {error}"
                );
                actix_rt::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    assert_eq!(claim(&store, "after", LEASE).await, Claim::InFlight);
    store.complete("after", &token, TTL).await.unwrap();
    assert_eq!(claim(&store, "after", LEASE).await, Claim::Done);
}

#[actix_rt::test]
async fn a_hung_redis_is_an_error_within_the_timeout() {
    let server = RedisServer::start();
    let store = store(&server).await;
    fresh(store.claim("before", LEASE).await);

    server.pause();
    for round in 0..3 {
        let started = Instant::now();
        let result = store.claim(&format!("hung-{round}"), LEASE).await;
        let took = started.elapsed();
        assert!(result.is_err(), "claim while Redis hangs: {result:?}");
        assert!(took < Duration::from_secs(2), "claim took {took:?}");
    }

    server.resume();
    let started = Instant::now();
    loop {
        match store.claim("after", LEASE).await {
            Ok(Claim::Fresh(_)) => break,
            Ok(other) => panic!("unexpected claim after resuming: {other:?}"),
            Err(error) => {
                assert!(
                    started.elapsed() < Duration::from_secs(5),
                    "still failing 5 s after Redis resumed: {error}"
                );
                actix_rt::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    // Claims sent while it hung may have been applied late; none is lost or
    // taken twice.
    assert_eq!(claim(&store, "after", LEASE).await, Claim::InFlight);
}

#[actix_rt::test]
async fn connecting_to_a_dead_redis_fails_quickly() {
    let mut server = RedisServer::start();
    let url = server.url();
    server.stop();

    let started = Instant::now();
    let result = RedisStore::connect(&url).await;
    assert!(result.is_err());
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(RedisStore::connect("not a url").await.is_err());
}

#[actix_rt::test]
async fn debug_does_not_show_the_address() {
    let server = RedisServer::start();
    let store = store(&server).await.prefix("app:");
    let debug = format!("{store:?}");
    assert!(debug.contains("app:"), "{debug}");
    assert!(!debug.contains("127.0.0.1"), "{debug}");
}

// ---- Two replicas sharing one Redis, end to end -------------------------

mod replicas {
    use std::cell::RefCell;
    use std::collections::HashMap;
    use std::net::SocketAddr;
    use std::rc::Rc;
    use std::sync::Mutex;
    use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

    use actix_web::{web, App, HttpServer};
    use actix_webhook::dedupe::RedisStore;
    use actix_webhook::scheme::StandardWebhooks;
    use actix_webhook::{webhook, Ack, Event, WebhookRouter};
    use futures_util::stream::{self, StreamExt as _};

    use super::redis_server::RedisServer;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const DELIVERIES: usize = 500;
    const SENDS: usize = 4;
    const CONCURRENCY: usize = 64;
    /// Short, so a claim taken just as Redis went away frees up quickly.
    const LEASE: Duration = Duration::from_secs(3);

    /// How often each delivery id ran its handler, across both replicas.
    type Runs = Mutex<HashMap<String, usize>>;

    #[webhook(event = "*")]
    async fn counted(event: Event<serde_json::Value>, runs: web::Data<Runs>) -> Ack {
        let id = event.delivery_id().unwrap_or_default().to_owned();
        *runs.lock().unwrap().entry(id).or_default() += 1;
        // Stay in flight a little, so concurrent sends of one id meet.
        actix_web::rt::time::sleep(Duration::from_millis(5)).await;
        Ack::processed()
    }

    /// Starts one replica on 127.0.0.1 at a free port, with its own
    /// connection to Redis.
    async fn replica(redis: &RedisServer, runs: web::Data<Runs>) -> SocketAddr {
        let store = RedisStore::connect(&redis.url()).await.unwrap();
        let hooks = WebhookRouter::new(StandardWebhooks::new(SECRET).unwrap())
            .store(store)
            .lease(LEASE)
            .handler(counted);
        let server = HttpServer::new(move || {
            App::new()
                .app_data(runs.clone())
                .service(hooks.scope("/webhooks"))
        })
        .workers(1)
        .disable_signals()
        .bind(("127.0.0.1", 0))
        .unwrap();
        let addr = server.addrs()[0];
        actix_web::rt::spawn(server.run());
        addr
    }

    /// What the sender saw for one request.
    #[derive(Debug, Clone, PartialEq, Eq)]
    enum Answer {
        Processed,
        Duplicate,
        InFlight,
        Unavailable,
        Other(u16, String),
    }

    /// One request: when it left, when its answer came, and the answer.
    type Attempt = (Instant, Instant, Answer);

    /// Sends delivery `id`, signed the Standard Webhooks way, to `addr`.
    async fn send(client: &awc::Client, addr: SocketAddr, id: &str) -> Answer {
        let body = format!(r#"{{"type":"order.paid","data":{{"delivery":"{id}"}}}}"#);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let signature = StandardWebhooks::new(SECRET)
            .unwrap()
            .signature(id, now, body.as_bytes());
        let mut response = client
            .post(format!("http://{addr}/webhooks"))
            .insert_header(("content-type", "application/json"))
            .insert_header(("webhook-id", id))
            .insert_header(("webhook-timestamp", now.to_string()))
            .insert_header(("webhook-signature", signature))
            .send_body(body)
            .await
            .expect("the replica answers");
        let status = response.status().as_u16();
        let retry_after = response.headers().contains_key("retry-after");
        let bytes = response.body().await.unwrap_or_default();
        let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
        match (status, json["status"].as_str()) {
            (200, Some("processed")) if json["id"] == id => Answer::Processed,
            (200, Some("duplicate")) if json["id"] == id => Answer::Duplicate,
            (409, _) if retry_after => Answer::InFlight,
            (503, _) if retry_after => Answer::Unavailable,
            _ => Answer::Other(status, String::from_utf8_lossy(&bytes).into_owned()),
        }
    }

    /// Sends `id` as a sender does until the answer is final: 409 and 503
    /// are retried after a short pause, for at most 30 s. Every attempt is
    /// also counted in `attempts`.
    async fn deliver(
        client: &awc::Client,
        addr: SocketAddr,
        id: &str,
        attempts: &RefCell<usize>,
    ) -> Vec<Attempt> {
        let started = Instant::now();
        let mut seen = Vec::new();
        loop {
            let sent = Instant::now();
            let answer = send(client, addr, id).await;
            *attempts.borrow_mut() += 1;
            seen.push((sent, Instant::now(), answer.clone()));
            let pause = match answer {
                Answer::InFlight => Duration::from_millis(10),
                Answer::Unavailable => Duration::from_millis(50),
                _ => return seen,
            };
            if started.elapsed() > Duration::from_secs(30) {
                return seen;
            }
            actix_web::rt::time::sleep(pause).await;
        }
    }

    /// Sends every delivery 4 times, 64 requests at a time, alternating the
    /// replicas; returns each delivery's attempts in the order they ended.
    async fn run(
        replicas: [SocketAddr; 2],
        attempts: Rc<RefCell<usize>>,
    ) -> Vec<(usize, Vec<Attempt>)> {
        let client = awc::Client::builder()
            .timeout(Duration::from_secs(10))
            .finish();
        let sends = (0..DELIVERIES).flat_map(|d| (0..SENDS).map(move |s| (d, s)));
        stream::iter(sends)
            .map(|(d, s)| {
                let (client, attempts) = (&client, &attempts);
                async move {
                    let id = format!("msg_{d:04}");
                    (
                        d,
                        deliver(client, replicas[(d + s) % 2], &id, attempts).await,
                    )
                }
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await
    }

    /// Checks that every delivery ran its handler once, that every send
    /// ended as `processed` (once per delivery) or `duplicate`, and that
    /// nothing but 200, 409 and 503 was answered.
    fn assert_each_ran_once(runs: &Runs, sends: &[(usize, Vec<Attempt>)]) {
        let runs = runs.lock().unwrap();
        assert_eq!(runs.len(), DELIVERIES, "every delivery ran");
        let twice: Vec<_> = runs.iter().filter(|(_, n)| **n != 1).collect();
        assert!(twice.is_empty(), "ran more than once: {twice:?}");

        let mut processed = vec![0; DELIVERIES];
        for (d, attempts) in sends {
            for (_, _, answer) in attempts {
                assert!(
                    !matches!(answer, Answer::Other(..)),
                    "msg_{d:04}: {answer:?}"
                );
            }
            match attempts.last().map(|(_, _, answer)| answer) {
                Some(Answer::Processed) => processed[*d] += 1,
                Some(Answer::Duplicate) => {}
                last => panic!("msg_{d:04} ended with {last:?}"),
            }
        }
        assert!(
            processed.iter().all(|&n| n == 1),
            "each delivery answered `processed` exactly once"
        );
    }

    fn count(sends: &[(usize, Vec<Attempt>)], which: &Answer) -> usize {
        sends
            .iter()
            .flat_map(|(_, attempts)| attempts)
            .filter(|(_, _, answer)| answer == which)
            .count()
    }

    #[actix_web::test]
    async fn two_replicas_handle_each_delivery_once() {
        let redis = RedisServer::start();
        let runs = web::Data::new(Runs::default());
        let replicas = [
            replica(&redis, runs.clone()).await,
            replica(&redis, runs.clone()).await,
        ];

        let sends = run(replicas, Rc::default()).await;

        assert_each_ran_once(&runs, &sends);
        assert_eq!(count(&sends, &Answer::Unavailable), 0);
        println!(
            "{} sends over 2 replicas: {} answered 409 and retried, {} duplicate",
            DELIVERIES * SENDS,
            count(&sends, &Answer::InFlight),
            count(&sends, &Answer::Duplicate),
        );
    }

    #[actix_web::test]
    async fn a_redis_outage_is_answered_503_and_nothing_runs_twice() {
        let mut redis = RedisServer::start();
        let runs = web::Data::new(Runs::default());
        let replicas = [
            replica(&redis, runs.clone()).await,
            replica(&redis, runs.clone()).await,
        ];
        let attempts = Rc::new(RefCell::new(0));

        // Redis goes away once a third of the sends have been answered and
        // comes back after at least 200 more requests and 700 ms.
        let outage = {
            let attempts = attempts.clone();
            actix_web::rt::spawn(async move {
                let tick = Duration::from_millis(5);
                while *attempts.borrow() < DELIVERIES * SENDS / 3 {
                    actix_web::rt::time::sleep(tick).await;
                }
                redis.shutdown();
                let (down, at) = (Instant::now(), *attempts.borrow());
                while *attempts.borrow() < at + 200 || down.elapsed() < Duration::from_millis(700) {
                    actix_web::rt::time::sleep(tick).await;
                }
                let up = Instant::now();
                redis.restart();
                (down, up, redis)
            })
        };

        let sends = run(replicas, attempts).await;
        let (down, up, _redis) = outage.await.unwrap();

        // Requests sent after Redis was gone and answered before it was
        // back: every one 503, and no handler ran for them.
        let while_down: Vec<&Answer> = sends
            .iter()
            .flat_map(|(_, attempts)| attempts)
            .filter(|(sent, answered, _)| *sent > down && *answered < up)
            .map(|(_, _, answer)| answer)
            .collect();
        assert!(while_down.len() >= 100, "{} while down", while_down.len());
        assert!(
            while_down.iter().all(|a| **a == Answer::Unavailable),
            "while Redis was down: {while_down:?}"
        );

        // Retried after Redis came back, each delivery ran once.
        assert_each_ran_once(&runs, &sends);
        println!(
            "{} sends, {} requests answered while Redis was down (all 503), \
             {} answered 503 in all, {} answered 409",
            DELIVERIES * SENDS,
            while_down.len(),
            count(&sends, &Answer::Unavailable),
            count(&sends, &Answer::InFlight),
        );
    }
}
