//! How deliveries are recognised and claimed: replays under fresh unsigned
//! ids, claims in flight in a full store, tenant keys, store answers lost
//! after the store applied a claim, and ids too long to echo.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::web::Bytes;
use actix_web::{test, web, App};
use actix_webhook::dedupe::{Claim, MemoryStore, Store, StoreError, Token};
use actix_webhook::scheme::{
    GitHub, GitLab, Meta, Scheme, Shopify, Signer, Slack, StandardWebhooks, Twilio,
};
use actix_webhook::tenant::Tenants;
use actix_webhook::testing::TestDelivery;
use actix_webhook::verify::FixedClock;
use actix_webhook::{webhook, Event, Secret, Secrets, WebhookRouter};
use futures_util::future::BoxFuture;
use serde_json::Value;

#[path = "support/capture.rs"]
mod capture;
use capture::Capture;

#[path = "support/memory_calls.rs"]
mod memory_calls;
use memory_calls::{claim_now, complete, fresh, store_key};

const NOW: i64 = 1_700_000_000;
const STANDARD_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// Handler runs, shared with the test through `app_data`.
#[derive(Default)]
struct Runs(AtomicUsize);

#[webhook(event = "*")]
async fn count(_event: Event<Bytes>, runs: web::Data<Runs>) {
    runs.0.fetch_add(1, Ordering::SeqCst);
}

fn router(scheme: impl Scheme) -> WebhookRouter {
    WebhookRouter::new(scheme)
        .clock(FixedClock(NOW))
        .handler(count)
}

async fn status_of(res: ServiceResponse) -> (StatusCode, Value) {
    let status = res.status();
    let body = test::read_body(res).await;
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

/// One scheme whose delivery id is unsigned (or absent), mounted at `path`,
/// and a genuine delivery for it carrying the id `id`.
struct Unsigned {
    path: &'static str,
    id_header: Option<&'static str>,
    router: WebhookRouter,
    delivery: Box<dyn Fn(&str) -> test::TestRequest>,
}

fn unsigned_schemes() -> Vec<Unsigned> {
    fn signed<S: Signer + 'static>(
        signer: S,
        path: &'static str,
        body: &'static [u8],
        event: &'static str,
        extra: &'static [(&'static str, &'static str)],
    ) -> Box<dyn Fn(&str) -> test::TestRequest> {
        Box::new(move |id: &str| {
            let mut delivery = TestDelivery::new(body)
                .id(id)
                .timestamp(NOW)
                .event(event)
                .url(&format!("https://example.com{path}"));
            for (name, value) in extra {
                delivery = delivery.header(name, value);
            }
            delivery.sign(&signer)
        })
    }
    let github = GitHub::new("github secret").unwrap();
    let shopify = Shopify::new("shopify secret").unwrap();
    let gitlab = GitLab::new("gitlab token").unwrap();
    let meta = Meta::new("meta app secret").unwrap();
    let slack = Slack::new("slack signing secret").unwrap();
    let twilio = Twilio::new("twilio auth token")
        .unwrap()
        .public_url("https://example.com");
    vec![
        Unsigned {
            path: "/github",
            id_header: Some("X-GitHub-Delivery"),
            router: router(github.clone()),
            delivery: signed(github, "/github", br#"{"action":"opened"}"#, "issues", &[]),
        },
        Unsigned {
            path: "/shopify",
            id_header: Some("X-Shopify-Event-Id"),
            router: router(shopify.clone()),
            delivery: signed(shopify, "/shopify", br#"{"id":1}"#, "orders/paid", &[]),
        },
        Unsigned {
            path: "/gitlab",
            id_header: Some("Idempotency-Key"),
            router: router(gitlab.clone()),
            delivery: signed(gitlab, "/gitlab", br#"{"ref":"main"}"#, "Push Hook", &[]),
        },
        Unsigned {
            path: "/meta",
            id_header: None,
            router: router(meta.clone()),
            delivery: signed(
                meta,
                "/meta",
                br#"{"object":"page","entry":[{"id":"1","time":1}]}"#,
                "page",
                &[],
            ),
        },
        Unsigned {
            path: "/slack",
            id_header: None,
            router: router(slack.clone()),
            delivery: signed(
                slack,
                "/slack",
                b"command=%2Fdeploy&text=prod&user_id=U1",
                "",
                &[("Content-Type", "application/x-www-form-urlencoded")],
            ),
        },
        Unsigned {
            path: "/twilio",
            id_header: Some("I-Twilio-Idempotency-Token"),
            router: router(twilio.clone()),
            delivery: signed(
                twilio,
                "/twilio",
                b"MessageSid=SM1&MessageStatus=delivered",
                "",
                &[],
            ),
        },
    ]
}

/// A captured delivery sent again under fresh values of its unsigned id
/// header (or, with no id, as it is) is a duplicate: the handler runs once.
#[actix_web::test]
async fn replays_under_fresh_unsigned_ids_are_duplicates() {
    for scheme in unsigned_schemes() {
        let runs = web::Data::new(Runs::default());
        let app = test::init_service(
            App::new()
                .app_data(runs.clone())
                .service(scheme.router.scope(scheme.path)),
        )
        .await;
        let res = test::call_service(&app, (scheme.delivery)("genuine-1").to_request()).await;
        let (status, json) = status_of(res).await;
        assert_eq!(status, StatusCode::OK, "{}: {json}", scheme.path);
        assert_eq!(json["status"], "processed", "{}", scheme.path);

        for copy in 0..50 {
            let mut replay = (scheme.delivery)("genuine-1");
            if let Some(header) = scheme.id_header {
                replay = replay.insert_header((header, format!("forged-{copy}")));
            }
            let res = test::call_service(&app, replay.to_request()).await;
            let (status, json) = status_of(res).await;
            assert_eq!(
                status,
                StatusCode::OK,
                "{} copy {copy}: {json}",
                scheme.path
            );
            assert_eq!(
                json["status"], "duplicate",
                "{} copy {copy}: {json}",
                scheme.path
            );
        }
        assert_eq!(runs.0.load(Ordering::SeqCst), 1, "{}", scheme.path);
    }
}

/// Replays cannot flush the store either: after a thousand forged copies of
/// one captured delivery, a genuine redelivery of another is still known.
#[actix_web::test]
async fn replays_do_not_push_genuine_ids_out_of_the_store() {
    let github = GitHub::new("github secret").unwrap();
    let runs = web::Data::new(Runs::default());
    let hooks = router(github.clone()).store(MemoryStore::new(100));
    let app = test::init_service(
        App::new()
            .app_data(runs.clone())
            .service(hooks.scope("/github")),
    )
    .await;
    let delivery = |body: &'static [u8], id: &str| {
        TestDelivery::new(body)
            .id(id)
            .event("issues")
            .uri("/github")
            .sign(&github)
            .to_request()
    };
    let genuine = br#"{"action":"opened","issue":{"number":1}}"#;
    let captured = br#"{"action":"opened","issue":{"number":2}}"#;
    let (_, json) = status_of(test::call_service(&app, delivery(genuine, "a")).await).await;
    assert_eq!(json["status"], "processed");
    for copy in 0..1_000 {
        let res = test::call_service(&app, delivery(captured, &format!("forged-{copy}"))).await;
        let (status, _) = status_of(res).await;
        assert_eq!(status, StatusCode::OK);
    }
    let (_, json) = status_of(test::call_service(&app, delivery(genuine, "a")).await).await;
    assert_eq!(json["status"], "duplicate", "the genuine id was pushed out");
    assert_eq!(runs.0.load(Ordering::SeqCst), 2);
}

/// Lets the first run of the `slow` handler wait until the test opens it.
#[derive(Default)]
struct Gate {
    runs: AtomicUsize,
    open: tokio::sync::Notify,
}

#[webhook(event = "slow")]
async fn slow(_event: Event<Value>, gate: web::Data<Gate>) {
    if gate.runs.fetch_add(1, Ordering::SeqCst) == 0 {
        gate.open.notified().await;
    }
}

#[webhook(event = "fast")]
async fn fast(_event: Event<Value>) {}

/// A full store pushes out ids that are done, never a claim in flight: a
/// provider's retry during a slow handler gets 409, not a second run.
#[actix_web::test]
async fn a_claim_in_flight_is_never_pushed_out() {
    let scheme = StandardWebhooks::new(STANDARD_SECRET).unwrap();
    let gate = web::Data::new(Gate::default());
    let hooks = WebhookRouter::new(scheme.clone())
        .clock(FixedClock(NOW))
        .store(MemoryStore::new(4))
        .handler(slow)
        .handler(fast);
    let app = test::init_service(
        App::new()
            .app_data(gate.clone())
            .service(hooks.scope("/hooks")),
    )
    .await;
    let delivery = |event: &str, id: &str| {
        TestDelivery::json(&serde_json::json!({ "type": event }))
            .id(id)
            .timestamp(NOW)
            .uri("/hooks")
            .sign(&scheme)
            .to_request()
    };

    let first = app.call(delivery("slow", "slow-1"));
    let rest = async {
        // Until the slow handler has started.
        for _ in 0..1_000 {
            if gate.runs.load(Ordering::SeqCst) > 0 {
                break;
            }
            actix_web::rt::task::yield_now().await;
        }
        assert_eq!(gate.runs.load(Ordering::SeqCst), 1);
        for i in 0..20 {
            let res = app
                .call(delivery("fast", &format!("fast-{i}")))
                .await
                .unwrap();
            let (status, json) = status_of(res).await;
            assert_eq!(status, StatusCode::OK, "fast-{i}: {json}");
        }
        let retry = app.call(delivery("slow", "slow-1")).await.unwrap();
        let retried = retry.status();
        gate.open.notify_one();
        retried
    };
    let (first, retried) = futures_util::join!(first, rest);
    assert_eq!(
        retried,
        StatusCode::CONFLICT,
        "the claim in flight was pushed out"
    );
    assert_eq!(first.unwrap().status(), StatusCode::OK);
    assert_eq!(gate.runs.load(Ordering::SeqCst), 1);
}

/// Tenant `acme` with id `x:evt_1` and tenant `acme:x` with id `evt_1` are
/// two deliveries.
#[actix_web::test]
async fn tenant_keys_do_not_collide() {
    let secret = Secret::new("one secret for every tenant").unwrap();
    let resolver = {
        let secret = secret.clone();
        move |_tenant: String| {
            let secret = secret.clone();
            async move { Ok(Some(Secrets::from(secret))) }
        }
    };
    let runs = web::Data::new(Runs::default());
    let hooks = router(StandardWebhooks::new(STANDARD_SECRET).unwrap())
        .tenants(Tenants::new("tenant", resolver));
    let app = test::init_service(
        App::new()
            .app_data(runs.clone())
            .service(hooks.scope("/hooks/{tenant}")),
    )
    .await;
    let signer = StandardWebhooks::with_secrets(secret);
    for (tenant, id) in [
        ("acme", "x:evt_1"),
        ("acme:x", "evt_1"),
        ("acme@x", "evt_1"),
    ] {
        let req = TestDelivery::new(&br#"{"type":"ping"}"#[..])
            .id(id)
            .timestamp(NOW)
            .uri(&format!("/hooks/{tenant}"))
            .sign(&signer)
            .to_request();
        let (status, json) = status_of(test::call_service(&app, req).await).await;
        assert_eq!(status, StatusCode::OK, "{tenant}/{id}: {json}");
        assert_eq!(json["status"], "processed", "{tenant}/{id}: {json}");
    }
    assert_eq!(runs.0.load(Ordering::SeqCst), 3);
}

/// A store that applies the next claim, then loses its answer, as a Redis
/// that dies between running the command and replying.
#[derive(Debug, Default)]
struct LosesAnswers {
    inner: MemoryStore,
    lose_next: Mutex<bool>,
}

impl Store for LosesAnswers {
    fn claim<'a>(
        &'a self,
        key: &'a str,
        lease: Duration,
    ) -> BoxFuture<'a, Result<Claim, StoreError>> {
        Box::pin(async move {
            let claim = self.inner.claim(key, lease).await?;
            let lose = std::mem::take(&mut *self.lose_next.lock().unwrap());
            match claim {
                Claim::Fresh(token) if lose => {
                    Err(StoreError::new("connection reset", None).with_pending_claim(token))
                }
                claim => Ok(claim),
            }
        })
    }

    fn complete<'a>(
        &'a self,
        key: &'a str,
        token: &'a Token,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.inner.complete(key, token, ttl)
    }

    fn release<'a>(
        &'a self,
        key: &'a str,
        token: &'a Token,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.inner.release(key, token)
    }
}

/// A claim applied with its answer lost is released once the store answers:
/// the sender's retry is handled soon after, not 409 for a whole lease.
#[actix_web::test]
async fn a_claim_whose_answer_was_lost_is_released() {
    let scheme = StandardWebhooks::new(STANDARD_SECRET).unwrap();
    let store = LosesAnswers {
        lose_next: Mutex::new(true),
        ..LosesAnswers::default()
    };
    let runs = web::Data::new(Runs::default());
    let hooks = router(scheme.clone())
        .store(store)
        .lease(Duration::from_secs(3600));
    let app = test::init_service(
        App::new()
            .app_data(runs.clone())
            .service(hooks.scope("/hooks")),
    )
    .await;
    let delivery = || {
        TestDelivery::new(&br#"{"type":"ping"}"#[..])
            .id("msg_lost")
            .timestamp(NOW)
            .uri("/hooks")
            .sign(&scheme)
            .to_request()
    };
    let (status, _) = status_of(test::call_service(&app, delivery()).await).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);

    // The release is retried in the background; the lease is an hour.
    let started = Instant::now();
    let mut answers = Vec::new();
    while started.elapsed() < Duration::from_secs(10) {
        let (status, json) = status_of(test::call_service(&app, delivery()).await).await;
        answers.push(status);
        if status == StatusCode::OK {
            assert_eq!(json["status"], "processed");
            break;
        }
        assert_eq!(status, StatusCode::CONFLICT, "{json}");
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(answers.last(), Some(&StatusCode::OK), "{answers:?}");
    assert_eq!(runs.0.load(Ordering::SeqCst), 1);
}

/// An unsigned id of 120 KB is echoed and logged as its 71-byte digest.
#[actix_web::test]
async fn long_unsigned_ids_are_echoed_and_logged_bounded() {
    let (capture, _guard) = Capture::start();

    let github = GitHub::new("github secret").unwrap();
    #[webhook(event = "*")]
    async fn fails(_event: Event<Value>) -> Result<(), std::io::Error> {
        Err(std::io::Error::other("database down"))
    }
    let app = test::init_service(
        App::new()
            .app_data(web::Data::new(Runs::default()))
            .service(router(github.clone()).scope("/github"))
            .service(
                WebhookRouter::new(github.clone())
                    .handler(fails)
                    .scope("/failing"),
            ),
    )
    .await;
    let long_id = "d".repeat(120_000);
    for (path, status) in [("/github", 200), ("/failing", 500)] {
        capture.clear();
        let req = TestDelivery::new(&br#"{"action":"opened"}"#[..])
            .id(&long_id)
            .event("issues")
            .uri(path)
            .sign(&github)
            .to_request();
        let res = test::call_service(&app, req).await;
        assert_eq!(res.status().as_u16(), status);
        let body = test::read_body(res).await;
        assert!(body.len() < 400, "{path}: a {}-byte answer", body.len());
        if status == 200 {
            let json: Value = serde_json::from_slice(&body).unwrap();
            let shown = json["id"].as_str().unwrap();
            assert!(shown.starts_with("sha256:") && shown.len() == 71, "{shown}");
        }
        let logged = capture.text().len();
        assert!(logged < 8_000, "{path}: {logged} bytes of log");
    }
}

/// Without `public_url`, Twilio's signed URL comes from `Host`, and a port
/// is tried with and without: `Host: example.com:1`, `:2`, ... all verify a
/// delivery signed for `example.com`. They are one delivery.
#[actix_web::test]
async fn twilio_replays_under_other_host_ports_are_duplicates() {
    let twilio = Twilio::new("twilio auth token").unwrap();
    let runs = web::Data::new(Runs::default());
    let app = test::init_service(
        App::new()
            .app_data(runs.clone())
            .service(router(twilio.clone()).scope("/twilio")),
    )
    .await;
    let delivery = || {
        TestDelivery::new(&b"MessageSid=SM1&MessageStatus=delivered"[..])
            .url("https://example.com/twilio")
            .sign(&twilio)
    };
    let (status, json) = status_of(test::call_service(&app, delivery().to_request()).await).await;
    assert_eq!(
        (status, json["status"].as_str()),
        (StatusCode::OK, Some("processed")),
        "{json}"
    );
    for port in ["1", "2", "80", "443", "0443", "65535", "99999"] {
        let replay = delivery()
            .insert_header(("Host", format!("example.com:{port}")))
            .to_request();
        let (status, json) = status_of(test::call_service(&app, replay).await).await;
        assert_eq!(status, StatusCode::OK, "port {port}: {json}");
        assert_eq!(json["status"], "duplicate", "port {port}: {json}");
    }
    assert_eq!(runs.0.load(Ordering::SeqCst), 1);
}

/// One body sent under two event names (Shopify's `orders/paid` and
/// `orders/updated` for the same order) is two deliveries; each of them
/// again is a duplicate.
#[actix_web::test]
async fn one_body_under_two_event_names_is_two_deliveries() {
    let shopify = Shopify::new("shopify secret").unwrap();
    let runs = web::Data::new(Runs::default());
    let app = test::init_service(
        App::new()
            .app_data(runs.clone())
            .service(router(shopify.clone()).scope("/shopify")),
    )
    .await;
    let delivery = |topic: &str, id: &str| {
        TestDelivery::new(&br#"{"id":820982911946154508,"financial_status":"paid"}"#[..])
            .id(id)
            .event(topic)
            .uri("/shopify")
            .sign(&shopify)
            .to_request()
    };
    for (topic, id, expected) in [
        ("orders/paid", "e1", "processed"),
        ("orders/updated", "e2", "processed"),
        ("orders/paid", "e3", "duplicate"),
        ("orders/updated", "e4", "duplicate"),
    ] {
        let (status, json) = status_of(test::call_service(&app, delivery(topic, id)).await).await;
        assert_eq!(status, StatusCode::OK, "{topic}: {json}");
        assert_eq!(json["status"], expected, "{topic} {id}: {json}");
    }
    assert_eq!(runs.0.load(Ordering::SeqCst), 2);
}

/// A full store: kept at its capacity, the oldest ids pushed out first,
/// claims in flight never.
#[actix_web::test]
async fn a_full_store_keeps_the_newest_and_never_what_is_in_flight() {
    const CAPACITY: usize = 20_000;
    let store = MemoryStore::new(CAPACITY);
    // Claimed first and still running when everything after is claimed.
    let held: Vec<(String, Token)> = (0..1_000)
        .map(|i| {
            let key = format!("held-{i}");
            let token = fresh(&store, &key);
            (key, token)
        })
        .collect();
    for i in 0..3 * CAPACITY {
        let key = store_key(i);
        let token = fresh(&store, &key);
        complete(&store, &key, &token);
        assert!(store.len() <= CAPACITY);
    }
    assert_eq!(store.len(), CAPACITY, "kept at its capacity");
    for (key, token) in &held {
        assert_eq!(claim_now(&store, key), Claim::InFlight, "{key} pushed out");
        complete(&store, key, token);
        assert_eq!(claim_now(&store, key), Claim::Done, "{key}");
    }
    // Each shard pushes out its oldest: the newest half are all there,
    // the oldest third all gone.
    for i in (5 * CAPACITY / 2)..3 * CAPACITY {
        assert_eq!(
            claim_now(&store, &store_key(i)),
            Claim::Done,
            "{i} pushed out"
        );
    }
    let mut claimed_anew = 0;
    for i in 0..CAPACITY {
        if matches!(claim_now(&store, &store_key(i)), Claim::Fresh(_)) {
            claimed_anew += 1;
        }
    }
    assert_eq!(claimed_anew, CAPACITY, "the oldest were pushed out first");
}

#[webhook(event = "*")]
async fn any(_event: Event<Bytes>) {}

/// Through a router in a store of 1,000: the newest deliveries answered as
/// duplicates, the oldest run again.
#[actix_web::test]
async fn a_router_remembers_its_newest_deliveries() {
    const CAPACITY: usize = 1_000;
    let scheme = StandardWebhooks::new(STANDARD_SECRET).expect("secret");
    let hooks = WebhookRouter::new(scheme.clone())
        .clock(FixedClock(NOW))
        .store(MemoryStore::new(CAPACITY))
        .handler(any);
    let app = test::init_service(App::new().service(hooks.scope("/webhooks"))).await;
    let status = |i: usize| {
        let request = TestDelivery::json(&serde_json::json!({ "type": "order_paid", "n": i }))
            .id(&format!("msg_{i}"))
            .timestamp(NOW)
            .uri("/webhooks")
            .sign(&scheme)
            .to_request();
        let app = &app;
        async move {
            let res = test::call_service(app, request).await;
            assert_eq!(res.status(), StatusCode::OK, "{i}");
            let json: serde_json::Value = test::read_body_json(res).await;
            json["status"].as_str().unwrap_or_default().to_owned()
        }
    };
    for i in 0..3 * CAPACITY {
        assert_eq!(status(i).await, "processed", "{i}");
    }
    assert_eq!(status(3 * CAPACITY - 1).await, "duplicate");
    assert_eq!(status(0).await, "processed", "the oldest was pushed out");
}
