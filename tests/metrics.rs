//! The metrics, as an operator scrapes them: a real actix service with the
//! Prometheus exporter serving `/metrics`, a known mix of deliveries, and
//! every counter and label read back from the scrape. Also a secret
//! rotation watched through the labels of its secrets.
//!
//! The recorder is global, so each test here uses its own scheme or events
//! and counts only what it sent.

#![cfg(all(feature = "metrics", feature = "sqlite"))]

use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::Duration;

use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::{test, web, App, HttpResponse};
use actix_webhook::dedupe::{Claim, Store, StoreError, Token};
use actix_webhook::inbox::{Backoff, Inbox};
use actix_webhook::scheme::{GitHub, GitLab, Paddle, Shopify, StandardWebhooks, Stripe};
use actix_webhook::testing::TestDelivery;
use actix_webhook::{webhook, Ack, Event, Secret, Secrets, WebhookConfig, WebhookRouter};
use futures_util::future::BoxFuture;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use serde_json::{json, Value};

#[cfg(feature = "redis")]
#[path = "support/redis_server.rs"]
mod redis_server;

#[path = "support/inbox_backend.rs"]
#[allow(dead_code)] // only the temporary file
mod inbox_backend;
use inbox_backend::TempInbox;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// The process's one Prometheus recorder, installed before any delivery.
fn prometheus() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let handle = PrometheusBuilder::new().install_recorder().unwrap();
            actix_webhook::metrics::describe();
            handle
        })
        .clone()
}

/// `GET /metrics`, as the example serves it.
async fn scrape_handler(handle: web::Data<PrometheusHandle>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(handle.render())
}

/// A scrape: each sample by its name and sorted labels.
#[derive(Debug)]
struct Scrape(BTreeMap<String, f64>);

impl Scrape {
    fn parse(text: &str) -> Self {
        let mut samples = BTreeMap::new();
        for line in text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            let (series, value) = line.rsplit_once(' ').unwrap();
            let (name, labels) = match series.split_once('{') {
                Some((name, labels)) => (name, labels.trim_end_matches('}')),
                None => (series, ""),
            };
            let mut labels: Vec<&str> = labels.split(',').filter(|l| !l.is_empty()).collect();
            labels.sort_unstable();
            samples.insert(
                format!("{name}{{{}}}", labels.join(",")),
                value.parse().unwrap(),
            );
        }
        Self(samples)
    }

    /// The sample of `name` with exactly `labels` (0 when absent).
    fn get(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let mut labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
        labels.sort_unstable();
        let key = format!("{name}{{{}}}", labels.join(","));
        self.0.get(&key).copied().unwrap_or(0.0)
    }

    /// The sum of the samples of `name` whose labels include `labels`.
    fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let wanted: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
        self.0
            .iter()
            .filter(|(key, _)| {
                key.split_once('{').is_some_and(|(n, rest)| {
                    n == name
                        && wanted
                            .iter()
                            .all(|w| rest.trim_end_matches('}').split(',').any(|l| l == w))
                })
            })
            .map(|(_, v)| v)
            .sum()
    }
}

/// A real actix service serving `/metrics` from `handle`, with what
/// `configure` mounts. Install the recorder (`prometheus()`) before building
/// the routers: they register their secrets' labels when built.
async fn service(
    handle: PrometheusHandle,
    configure: impl FnOnce(&mut web::ServiceConfig),
) -> impl Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error> {
    test::init_service(
        App::new()
            .app_data(web::Data::new(handle))
            .route("/metrics", web::get().to(scrape_handler))
            .configure(configure),
    )
    .await
}

async fn scrape<S>(app: &S) -> Scrape
where
    S: Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error>,
{
    let response =
        test::call_service(app, test::TestRequest::get().uri("/metrics").to_request()).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = test::read_body(response).await;
    Scrape::parse(std::str::from_utf8(&body).unwrap())
}

#[webhook(event = "mix.paid")]
async fn mix_paid(_: Event<Value>) -> Ack {
    Ack::processed()
}

#[webhook(event = "mix.failed")]
async fn mix_failed(_: Event<Value>) -> Result<Ack, String> {
    Err("the database is down".into())
}

#[webhook(event = "mix.queued")]
async fn mix_queued(_: Event<Value>) -> Ack {
    Ack::processed()
}

/// A store that is down: every claim fails.
#[derive(Debug)]
struct Down;

impl Store for Down {
    fn claim<'a>(&'a self, _: &'a str, _: Duration) -> BoxFuture<'a, Result<Claim, StoreError>> {
        Box::pin(async { Err(StoreError::new("connection refused", None)) })
    }

    fn complete<'a>(
        &'a self,
        _: &'a str,
        _: &'a Token,
        _: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async { Err(StoreError::new("connection refused", None)) })
    }

    fn release<'a>(&'a self, _: &'a str, _: &'a Token) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async { Err(StoreError::new("connection refused", None)) })
    }
}

fn event(name: &str) -> Value {
    json!({"type": name, "timestamp": "2026-12-03T00:00:00Z", "data": {}})
}

/// A known mix of deliveries, each counted under its route, outcome and
/// status; verification and handler times, claims in flight and store
/// errors alongside.
#[actix_web::test]
async fn each_answer_is_counted_under_its_route_outcome_and_status() {
    let handle = prometheus();
    let scheme = StandardWebhooks::new(SECRET).unwrap();
    let inline = WebhookRouter::new(scheme.clone())
        .handler(mix_paid)
        .handler(mix_failed);
    let file = TempInbox::new("metrics");
    let queued = WebhookRouter::new(scheme.clone())
        .handler(mix_queued)
        .inbox(Inbox::sqlite(file.path()).unwrap());
    let store_down = WebhookRouter::new(scheme.clone())
        .handler(mix_paid)
        .store(Down);
    let app = service(handle, |config| {
        config.service(inline.scope("/inline"));
        config.service(queued.scope("/queued"));
        config.service(store_down.scope("/down"));
    })
    .await;
    let before = scrape(&app).await;

    let now = chrono::Utc::now().timestamp();
    let valid = TestDelivery::json(&event("mix.paid"))
        .id("mix_1")
        .uri("/inline");
    // The signature of one body sent with another.
    let tampered = {
        let mut forged = test::TestRequest::post().uri("/inline");
        for header in valid.headers(&scheme) {
            forged = forged.insert_header(header);
        }
        let other = TestDelivery::json(&event("mix.failed"));
        forged.set_payload(other.body().clone()).to_request()
    };
    let sent = [
        (valid.sign(&scheme).to_request(), StatusCode::OK), // processed
        (valid.sign(&scheme).to_request(), StatusCode::OK), // duplicate
        (tampered, StatusCode::UNAUTHORIZED),
        (
            TestDelivery::json(&event("mix.paid"))
                .id("mix_stale")
                .timestamp(now - 3600)
                .uri("/inline")
                .sign(&scheme)
                .to_request(),
            StatusCode::UNAUTHORIZED,
        ),
        (
            TestDelivery::json(&event("mix.made-up-by-the-sender"))
                .uri("/inline")
                .sign(&scheme)
                .to_request(),
            StatusCode::OK,
        ),
        (
            TestDelivery::json(&event("mix.failed"))
                .uri("/inline")
                .sign(&scheme)
                .to_request(),
            StatusCode::INTERNAL_SERVER_ERROR,
        ),
        (
            TestDelivery::json(&event("mix.queued"))
                .uri("/queued")
                .sign(&scheme)
                .to_request(),
            StatusCode::ACCEPTED,
        ),
        (
            TestDelivery::json(&event("mix.paid"))
                .uri("/down")
                .sign(&scheme)
                .to_request(),
            StatusCode::SERVICE_UNAVAILABLE,
        ),
    ];
    for (i, (request, status)) in sent.into_iter().enumerate() {
        let response = test::call_service(&app, request).await;
        assert_eq!(response.status(), status, "delivery {i}");
    }

    let after = scrape(&app).await;
    let delta =
        |name: &str, labels: &[(&str, &str)]| after.get(name, labels) - before.get(name, labels);
    let deliveries = |event: &str, outcome: &str, status: &str| {
        let labels = [
            ("scheme", "standard-webhooks"),
            ("event", event),
            ("outcome", outcome),
            ("status", status),
        ];
        delta("webhook_deliveries_total", &labels)
    };
    assert_eq!(deliveries("mix.paid", "processed", "200"), 1.0);
    assert_eq!(deliveries("mix.paid", "duplicate", "200"), 1.0);
    // Refused before the event name is read: no route yet.
    assert_eq!(deliveries("(none)", "invalid_signature", "401"), 1.0);
    assert_eq!(
        deliveries("(none)", "timestamp_out_of_tolerance", "401"),
        1.0
    );
    // The name as sent is not a label: unrouted names share one.
    assert_eq!(deliveries("(unrouted)", "ignored", "200"), 1.0);
    assert_eq!(
        after.sum(
            "webhook_deliveries_total",
            &[("event", "mix.made-up-by-the-sender")]
        ),
        0.0
    );
    assert_eq!(deliveries("mix.failed", "handler_failed", "500"), 1.0);
    assert_eq!(deliveries("mix.queued", "queued", "202"), 1.0);
    assert_eq!(deliveries("mix.paid", "unavailable", "503"), 1.0);
    let mix_total: f64 = ["mix.paid", "mix.failed", "mix.queued"]
        .iter()
        .map(|event| after.sum("webhook_deliveries_total", &[("event", event)]))
        .sum();
    assert_eq!(mix_total, 5.0, "{after:#?}");

    // Every request was verified (the tampered and the stale one too);
    // every one that passed was matched by the one (unlabeled) secret.
    let scheme_label = [("scheme", "standard-webhooks")];
    assert_eq!(
        delta("webhook_verification_seconds_count", &scheme_label),
        8.0
    );
    assert_eq!(
        delta(
            "webhook_secret_matches_total",
            &[("scheme", "standard-webhooks"), ("secret", "unlabeled")]
        ),
        6.0
    );
    // Handlers ran for the processed and the failed delivery only (the
    // queued one waits for the workers).
    for event in ["mix.paid", "mix.failed"] {
        let labels = [("scheme", "standard-webhooks"), ("event", event)];
        assert_eq!(
            delta("webhook_handler_seconds_count", &labels),
            1.0,
            "{event}"
        );
    }
    assert_eq!(after.get("webhook_claims_in_flight", &scheme_label), 0.0);
    // Handler times only for routes whose handler ran: no empty histogram
    // for requests refused before routing or routed nowhere.
    for event in ["(none)", "(unrouted)"] {
        let label = format!("event=\"{event}\"");
        let histograms = after
            .0
            .keys()
            .filter(|k| k.starts_with("webhook_handler_seconds"));
        assert!(
            !histograms.clone().any(|k| k.contains(&label)),
            "{event}: {after:#?}"
        );
    }
    let claim_errors = [("store", "dedupe"), ("operation", "claim")];
    assert_eq!(delta("webhook_store_errors_total", &claim_errors), 1.0);
}

#[webhook(event = "charge.succeeded")]
async fn charge_succeeded(_: Event<Value>) -> Ack {
    Ack::processed()
}

/// A rotation watched through the secrets' labels: while the sender signs
/// with the old secret its label grows; once it switches, only the new one
/// does, and the old secret can go.
#[actix_web::test]
async fn a_rotation_shows_which_secret_matches_until_the_old_label_stops() {
    let handle = prometheus();
    let (old, new) = ("whsec_rotation_old", "whsec_rotation_new");
    let receiver = Stripe::with_secrets(
        Secrets::new([
            Secret::new(new).unwrap().labeled("2026-12"),
            Secret::new(old).unwrap().labeled("2026-11"),
        ])
        .unwrap(),
    );
    let hooks = WebhookRouter::new(receiver).handler(charge_succeeded);
    let app = service(handle, |config| {
        config.service(hooks.scope("/stripe"));
    })
    .await;
    // Both labels show from the start, at 0: an operator can tell a label
    // that matches nothing from a misspelled one.
    let start = scrape(&app).await;
    for label in ["2026-11", "2026-12"] {
        let series = format!(r#"webhook_secret_matches_total{{scheme="stripe",secret="{label}"}}"#);
        assert_eq!(start.0.get(&series), Some(&0.0), "{start:#?}");
    }
    let matches = |scrape: &Scrape, label: &str| {
        scrape.get(
            "webhook_secret_matches_total",
            &[("scheme", "stripe"), ("secret", label)],
        )
    };
    let mut n = 0;
    let mut send = |signer: &str| {
        n += 1;
        let body =
            json!({"id": format!("evt_rotation_{n}"), "type": "charge.succeeded", "data": {}});
        TestDelivery::json(&body)
            .uri("/stripe")
            .sign(&Stripe::new(signer).unwrap())
            .to_request()
    };

    // Before the switch: the sender signs with the old secret.
    for _ in 0..3 {
        let response = test::call_service(&app, send(old)).await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    let before_switch = scrape(&app).await;
    assert_eq!(matches(&before_switch, "2026-11"), 3.0);
    assert_eq!(matches(&before_switch, "2026-12"), 0.0);

    // The sender switches; the old label stops growing.
    for _ in 0..4 {
        let response = test::call_service(&app, send(new)).await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    let after_switch = scrape(&app).await;
    assert_eq!(matches(&after_switch, "2026-11"), 3.0);
    assert_eq!(matches(&after_switch, "2026-12"), 4.0);

    // A forgery matches no secret and counts under neither.
    let forged = test::call_service(&app, send("whsec_someone_else")).await;
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
    let end = scrape(&app).await;
    assert_eq!(
        end.sum("webhook_secret_matches_total", &[("scheme", "stripe")]),
        7.0
    );
    // The labels only: no secret shows anywhere in the scrape.
    let text = prometheus().render();
    assert!(text.contains("# HELP webhook_secret_matches_total Verified deliveries by the label"));
    for secret in [old, new] {
        assert!(!text.contains(secret));
    }
}

#[webhook(event = "push")]
async fn push(_: Event<Value>) -> Ack {
    Ack::processed()
}

/// The tracing span of a delivery names the secret that matched.
#[actix_web::test]
async fn the_span_names_the_matching_secret() {
    let _ = prometheus();
    let scheme = GitHub::with_secrets(
        Secrets::new([
            Secret::new("gh-new").unwrap().labeled("gh-2026-12"),
            Secret::new("gh-old").unwrap().labeled("gh-2026-11"),
        ])
        .unwrap(),
    );
    let hooks = WebhookRouter::new(scheme).handler(push);
    let app = test::init_service(App::new().service(hooks.scope("/github"))).await;
    // One delivery first, so that every callsite on the way is registered
    // before this thread's subscriber arrives: `tracing` may otherwise keep
    // the interest a callsite got when another test's thread reached it
    // first, at the same time.
    let warm_up = TestDelivery::json(&json!({"ref": "warm-up"}))
        .event("push")
        .uri("/github")
        .sign(&GitHub::new("gh-new").unwrap())
        .to_request();
    assert_eq!(
        test::call_service(&app, warm_up).await.status(),
        StatusCode::OK
    );
    let (logs, _guard) = capture::Capture::start();
    let request = TestDelivery::json(&json!({"ref": "main"}))
        .event("push")
        .uri("/github")
        .sign(&GitHub::new("gh-old").unwrap())
        .to_request();
    assert_eq!(
        test::call_service(&app, request).await.status(),
        StatusCode::OK
    );
    let text = logs.text();
    assert!(text.contains(r#"secret="gh-2026-11""#), "{text}");
    assert!(
        !text.contains("gh-old") && !text.contains("gh-new"),
        "{text}"
    );
}

#[webhook(event = "inbox.ok")]
async fn inbox_ok(_: Event<Value>) -> Ack {
    Ack::processed()
}

#[webhook(event = "inbox.fails")]
async fn inbox_fails(_: Event<Value>) -> Result<Ack, String> {
    Err("the database is down".into())
}

/// The inbox as an operator watches it: depth by state, runs by outcome,
/// retries and dead letters, from the workers of a router in inbox mode.
#[actix_web::test]
async fn the_inbox_reports_its_depth_runs_retries_and_dead_letters() {
    let handle = prometheus();
    let scheme = GitLab::new("inbox-metrics-token").unwrap();
    let file = TempInbox::new("metrics-workers");
    let hooks = WebhookRouter::new(scheme.clone())
        .handler(inbox_ok)
        .handler(inbox_fails)
        .inbox(Inbox::sqlite(file.path()).unwrap());
    let workers = hooks
        .workers()
        .poll_interval(Duration::from_millis(10))
        .depth_every(Duration::from_millis(100))
        .backoff(
            Backoff::exponential(Duration::from_millis(10), Duration::from_millis(10))
                .max_attempts(2),
        );
    let app = service(handle, |config| {
        config.service(hooks.scope("/gitlab"));
    })
    .await;
    for event in ["inbox.ok", "inbox.fails"] {
        let request = TestDelivery::json(&json!({"object_kind": event}))
            .event(event)
            .uri("/gitlab")
            .sign(&scheme)
            .to_request();
        assert_eq!(
            test::call_service(&app, request).await.status(),
            StatusCode::ACCEPTED
        );
    }
    let depth =
        |scrape: &Scrape, state: &str| scrape.get("webhook_inbox_deliveries", &[("state", state)]);

    let running = actix_web::rt::spawn(workers.run());
    let mut seen = scrape(&app).await;
    for _ in 0..100 {
        if depth(&seen, "done") == 1.0 && depth(&seen, "dead") == 1.0 {
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        seen = scrape(&app).await;
    }
    running.abort();
    assert_eq!(depth(&seen, "done"), 1.0, "{seen:#?}");
    assert_eq!(depth(&seen, "dead"), 1.0, "{seen:#?}");
    for state in ["queued", "running", "retry"] {
        assert_eq!(depth(&seen, state), 0.0, "{state}");
    }
    let runs = |event: &str, outcome: &str| {
        seen.get(
            "webhook_inbox_run_seconds_count",
            &[("event", event), ("outcome", outcome)],
        )
    };
    assert_eq!(runs("inbox.ok", "done"), 1.0);
    assert_eq!(runs("inbox.fails", "retry"), 1.0);
    assert_eq!(runs("inbox.fails", "dead"), 1.0);
    assert_eq!(
        seen.get("webhook_inbox_retries_total", &[("event", "inbox.fails")]),
        1.0
    );
    assert_eq!(
        seen.get(
            "webhook_inbox_dead_letters_total",
            &[("event", "inbox.fails")]
        ),
        1.0
    );
    assert_eq!(seen.sum("webhook_inbox_dead_letters_total", &[]), 1.0);
    assert_eq!(seen.get("webhook_inbox_restarted_runs", &[]), 0.0);
    // Queued by the router, under the route.
    let queued = [
        ("scheme", "gitlab"),
        ("event", "inbox.fails"),
        ("outcome", "queued"),
        ("status", "202"),
    ];
    assert_eq!(seen.get("webhook_deliveries_total", &queued), 1.0);
}

/// A handler behind the `Verified` extractor.
async fn verified_shop(order: actix_webhook::Verified<web::Bytes>) -> HttpResponse {
    HttpResponse::Ok().body(order.into_inner())
}

/// `Verified` counts what it refuses (its handler answers the rest) and
/// every verification, with the secret that matched.
#[actix_web::test]
async fn the_extractor_counts_its_refusals_and_verifications() {
    let handle = prometheus();
    let scheme = Shopify::with_secrets(Secret::new("shop-secret").unwrap().labeled("shop-1"));
    let app = service(handle, |config| {
        config.app_data(WebhookConfig::new(scheme.clone()));
        config.route("/shop", web::post().to(verified_shop));
    })
    .await;
    let genuine = TestDelivery::json(&json!({"id": 1}))
        .event("orders/create")
        .uri("/shop");
    let forged = genuine.sign(&Shopify::new("guess").unwrap()).to_request();
    assert_eq!(
        test::call_service(&app, genuine.sign(&scheme).to_request())
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        test::call_service(&app, forged).await.status(),
        StatusCode::UNAUTHORIZED
    );

    let seen = scrape(&app).await;
    let refused = [
        ("scheme", "shopify"),
        ("event", "(none)"),
        ("outcome", "invalid_signature"),
        ("status", "401"),
    ];
    assert_eq!(seen.get("webhook_deliveries_total", &refused), 1.0);
    assert_eq!(
        seen.sum("webhook_deliveries_total", &[("scheme", "shopify")]),
        1.0
    );
    assert_eq!(
        seen.get(
            "webhook_verification_seconds_count",
            &[("scheme", "shopify")]
        ),
        2.0
    );
    let matched = [("scheme", "shopify"), ("secret", "shop-1")];
    assert_eq!(seen.get("webhook_secret_matches_total", &matched), 1.0);
}

/// Whether the handler of `paddle.slow` has started, and may end.
#[derive(Default)]
struct Gate {
    entered: std::sync::atomic::AtomicBool,
    open: std::sync::atomic::AtomicBool,
}

#[webhook(event = "paddle.slow")]
async fn paddle_slow(_: Event<Value>, gate: web::Data<Gate>) -> Ack {
    use std::sync::atomic::Ordering;
    gate.entered.store(true, Ordering::SeqCst);
    for _ in 0..1000 {
        if gate.open.load(Ordering::SeqCst) {
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(5)).await;
    }
    Ack::processed()
}

/// A claim counts in `webhook_claims_in_flight` while its handler runs, and
/// stops counting when it is settled or its request is dropped halfway.
#[actix_web::test]
async fn claims_in_flight_rise_while_a_handler_runs_and_fall_after() {
    use std::sync::atomic::Ordering;
    let handle = prometheus();
    let scheme = Paddle::new("paddle-in-flight").unwrap();
    let hooks = WebhookRouter::new(scheme.clone()).handler(paddle_slow);
    let gate = web::Data::new(Gate::default());
    let app = service(handle, |config| {
        config.app_data(gate.clone());
        config.service(hooks.scope("/paddle"));
    })
    .await;
    let in_flight =
        |scrape: &Scrape| scrape.get("webhook_claims_in_flight", &[("scheme", "paddle")]);
    let delivery = |n: u32| {
        let body =
            json!({"event_id": format!("evt_slow_{n}"), "event_type": "paddle.slow", "data": {}});
        TestDelivery::json(&body)
            .uri("/paddle")
            .sign(&scheme)
            .to_request()
    };
    let entered = || async {
        for _ in 0..1000 {
            if gate.entered.load(Ordering::SeqCst) {
                return;
            }
            actix_web::rt::time::sleep(Duration::from_millis(2)).await;
        }
        panic!("the handler never started");
    };

    // Settled: 1 while the handler runs, 0 after.
    let call = test::call_service(&app, delivery(1));
    let watch = async {
        entered().await;
        let during = in_flight(&scrape(&app).await);
        gate.open.store(true, Ordering::SeqCst);
        during
    };
    let (response, during) = futures_util::join!(call, watch);
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(during, 1.0);
    assert_eq!(in_flight(&scrape(&app).await), 0.0);

    // Dropped halfway (the sender hung up): 0 as well.
    gate.entered.store(false, Ordering::SeqCst);
    gate.open.store(false, Ordering::SeqCst);
    {
        let call = std::pin::pin!(test::call_service(&app, delivery(2)));
        let watch = std::pin::pin!(entered());
        match futures_util::future::select(call, watch).await {
            futures_util::future::Either::Right(_) => {} // running, held here
            futures_util::future::Either::Left(_) => panic!("the handler did not wait"),
        }
        assert_eq!(in_flight(&scrape(&app).await), 1.0);
    } // the request's future is dropped here
    assert_eq!(in_flight(&scrape(&app).await), 0.0);
}

#[path = "support/capture.rs"]
mod capture;
