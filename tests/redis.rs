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

async fn raw(server: &RedisServer) -> redis::aio::MultiplexedConnection {
    redis::Client::open(server.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
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
    let mut conn = raw(&server).await;
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

    let mut conn = raw(&server).await;
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
    let mut conn = raw(&server).await;
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
