//! `WebhookRouter` and `#[webhook]` handlers on a real actix service: pattern
//! routing and specificity, fallback, typed payloads, extractors, every `Ack`,
//! errors and panics, and handling each delivery once.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{test, web, App, HttpRequest};
use actix_webhook::scheme::{JsonPointer, StandardWebhooks};
use actix_webhook::verify::FixedClock;
use actix_webhook::{webhook, Ack, Event, WebhookRouter};
use serde::Deserialize;
use serde_json::{json, Value};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const NOW: i64 = 1_700_000_000;

/// Which handlers ran, in order, with what they saw.
#[derive(Default)]
struct Log {
    calls: Mutex<Vec<String>>,
    failures_left: AtomicUsize,
}

impl Log {
    fn push(&self, entry: impl Into<String>) {
        self.calls.lock().unwrap().push(entry.into());
    }
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.calls.lock().unwrap())
    }
}

#[derive(Deserialize)]
struct OrderPaid {
    order_id: String,
    amount_cents: u64,
}

#[webhook(event = "order.paid")]
async fn order_paid(event: Event<OrderPaid>, log: web::Data<Log>) -> Ack {
    log.push(format!(
        "order_paid {} {}",
        event.order_id, event.amount_cents
    ));
    Ack::processed()
}

#[webhook(event = "order.*")]
async fn any_order(event: Event<Value>, log: web::Data<Log>) {
    log.push(format!("any_order {}", event.name()));
}

#[webhook(event = "order.item.*")]
async fn order_item(event: Event<Value>, log: web::Data<Log>) {
    log.push(format!("order_item {}", event.name()));
}

#[webhook(event = "issues.opened")]
async fn issue_opened(event: Event<Value>, log: web::Data<Log>) {
    log.push(format!("issue_opened {}", event.name()));
}

#[webhook(event = "*")]
async fn everything(event: Event<web::Bytes>, log: web::Data<Log>) {
    log.push(format!("everything {} {}", event.name(), event.len()));
}

#[webhook(events = ["ack.processed", "ack.accepted", "ack.retry", "ack.gone", "ack.json"])]
async fn acks(event: Event<Value>) -> Ack {
    match event.name() {
        "ack.processed" => Ack::processed(),
        "ack.accepted" => Ack::accepted(),
        "ack.retry" => Ack::retry_after(Duration::from_secs(42)),
        "ack.gone" => Ack::gone(),
        _ => Ack::json(StatusCode::CREATED, json!({"custom": true})),
    }
}

#[webhook(event = "fails")]
async fn fails(event: Event<Value>, log: web::Data<Log>) -> Result<Ack, std::io::Error> {
    log.push(format!("fails {}", event.delivery_id().unwrap_or("-")));
    if log
        .failures_left
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
    {
        return Err(std::io::Error::other("database password=hunter2 refused"));
    }
    Ok(Ack::processed())
}

#[webhook(event = "panics")]
async fn panics(_event: Event<Value>) {
    panic!("handler bug");
}

#[webhook(event = "request.info")]
async fn request_info(event: Event<Value>, req: HttpRequest, log: web::Data<Log>) {
    log.push(format!(
        "request_info {} {} {}",
        req.path(),
        event.scheme(),
        event.timestamp().map(|t| t.timestamp()).unwrap_or_default()
    ));
}

#[webhook(event = "slow")]
async fn slow(_event: Event<Value>, log: web::Data<Log>) {
    log.push("slow");
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
}

fn scheme() -> StandardWebhooks {
    StandardWebhooks::new(SECRET).unwrap()
}

fn router() -> WebhookRouter {
    WebhookRouter::new(scheme())
        .clock(FixedClock(NOW))
        .handler(order_paid)
        .handler(any_order)
        .handler(order_item)
        .handler(issue_opened)
        .handler(acks)
        .handler(fails)
        .handler(panics)
        .handler(request_info)
        .handler(slow)
}

/// A signed delivery to `/hooks`.
fn delivery(id: &str, body: &Value) -> test::TestRequest {
    let body = serde_json::to_vec(body).unwrap();
    let signature = scheme().signature(id, NOW, &body);
    test::TestRequest::post()
        .uri("/hooks")
        .insert_header(("webhook-id", id))
        .insert_header(("webhook-timestamp", NOW.to_string()))
        .insert_header(("webhook-signature", signature))
        .set_payload(body)
}

macro_rules! app {
    ($router:expr, $log:expr) => {
        test::init_service(
            App::new()
                .app_data($log.clone())
                .service($router.scope("/hooks")),
        )
        .await
    };
}

/// Sends and returns status, headers and JSON body.
macro_rules! send {
    ($app:expr, $req:expr) => {{
        let res = test::call_service(&$app, $req.to_request()).await;
        let status = res.status();
        let headers = res.headers().clone();
        let body = test::read_body(res).await;
        let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        (status, headers, json, body)
    }};
}

#[actix_web::test]
async fn each_pattern_kind_routes_to_its_typed_handler() {
    let log = web::Data::new(Log::default());
    let app = app!(router().handler(everything), log);
    let cases = [
        (
            json!({"type":"order.paid","order_id":"o1","amount_cents":5}),
            "order_paid o1 5",
        ),
        (json!({"type":"order.refunded"}), "any_order order.refunded"),
        (
            json!({"type":"order.item.added"}),
            "order_item order.item.added",
        ),
        (
            json!({"type":"issues.opened"}),
            "issue_opened issues.opened",
        ),
        (json!({"type":"user.created"}), "everything user.created 23"),
    ];
    for (i, (body, expected)) in cases.iter().enumerate() {
        let (status, _, json, _) = send!(app, delivery(&format!("msg_{i}"), body));
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(json["status"], "processed");
        assert_eq!(json["id"], format!("msg_{i}"));
        assert_eq!(json["event"], body["type"]);
        assert_eq!(log.take(), [*expected], "{body}");
    }
}

#[actix_web::test]
async fn fallback_and_unhandled() {
    let log = web::Data::new(Log::default());
    // Default: 200 ignored, nothing runs.
    let app = app!(router(), log);
    let (status, _, json, _) = send!(app, delivery("m1", &json!({"type":"user.created"})));
    assert_eq!(
        (status, json["status"].as_str()),
        (StatusCode::OK, Some("ignored"))
    );
    assert!(log.take().is_empty());

    // Configured: 410 gone.
    let app = app!(router().unhandled(Ack::gone()), log);
    let (status, _, json, _) = send!(app, delivery("m2", &json!({"type":"user.created"})));
    assert_eq!(
        (status, json["status"].as_str()),
        (StatusCode::GONE, Some("gone"))
    );

    // A fallback takes what no pattern matches, and only that.
    let app = app!(router().fallback(everything), log);
    send!(app, delivery("m3", &json!({"type":"user.created"})));
    send!(app, delivery("m4", &json!({"type":"order.refunded"})));
    assert_eq!(
        log.take(),
        ["everything user.created 23", "any_order order.refunded"]
    );
}

#[actix_web::test]
async fn a_payload_that_does_not_fit_is_400() {
    let log = web::Data::new(Log::default());
    let app = app!(router(), log);
    let (status, headers, json, _) = send!(
        app,
        delivery("m1", &json!({"type":"order.paid","order_id":7}))
    );
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        headers.get("content-type").unwrap(),
        "application/problem+json"
    );
    assert_eq!(json["code"], "invalid_payload");
    assert!(log.take().is_empty());
}

#[actix_web::test]
async fn a_nested_payload_location() {
    let log = web::Data::new(Log::default());
    let app = app!(router().payload_at(JsonPointer::new("/data").unwrap()), log);
    let body = json!({"type":"order.paid","data":{"order_id":"o9","amount_cents":1}});
    assert_eq!(send!(app, delivery("m1", &body)).0, StatusCode::OK);
    assert_eq!(log.take(), ["order_paid o9 1"]);
}

#[actix_web::test]
async fn a_handler_error_is_500_without_its_text_and_the_retry_runs() {
    let log = web::Data::new(Log::default());
    log.failures_left.store(1, Ordering::SeqCst);
    let app = app!(router(), log);
    let (status, _, json, raw) = send!(app, delivery("m1", &json!({"type":"fails"})));
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(json["code"], "handler_failed");
    let text = String::from_utf8_lossy(&raw);
    assert!(
        !text.contains("hunter2") && !text.contains("refused"),
        "{text}"
    );

    // The claim was released: the sender's retry runs the handler again.
    let (status, _, json, _) = send!(app, delivery("m1", &json!({"type":"fails"})));
    assert_eq!(
        (status, json["status"].as_str()),
        (StatusCode::OK, Some("processed"))
    );
    assert_eq!(log.take(), ["fails m1", "fails m1"]);
}

#[actix_web::test]
async fn a_panic_is_500_and_the_next_request_is_served() {
    let server = actix_web::HttpServer::new(|| {
        App::new()
            .app_data(web::Data::new(Log::default()))
            .service(router().scope("/hooks"))
    })
    .workers(1)
    // No lingering read after the answer: actix-web's default (1 s) keeps
    // reading and discarding what the client still sends, so that the
    // client sees the 413 rather than a reset.
    .client_disconnect_timeout(Duration::ZERO)
    .bind(("127.0.0.1", 0))
    .unwrap();
    let addr = server.addrs()[0];
    let server = server.run();
    let handle = server.handle();
    actix_web::rt::spawn(server);

    let client = awc::Client::new();
    let send = |id: &'static str, body: Value| {
        let body = serde_json::to_vec(&body).unwrap();
        let signature = scheme().signature(id, NOW, &body);
        client
            .post(format!("http://{addr}/hooks"))
            .insert_header(("webhook-id", id))
            .insert_header(("webhook-timestamp", NOW.to_string()))
            .insert_header(("webhook-signature", signature))
            .send_body(body)
    };
    for round in 0..3 {
        let mut res = send("p1", json!({"type":"panics"})).await.unwrap();
        assert_eq!(
            res.status(),
            StatusCode::INTERNAL_SERVER_ERROR,
            "round {round}"
        );
        let json: Value = res.json().await.unwrap();
        assert_eq!(json["code"], "handler_failed");
    }
    let res = send("ok1", json!({"type":"order.refunded"})).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    handle.stop(false).await;
}

#[actix_web::test]
async fn http_request_and_data_parameters() {
    let log = web::Data::new(Log::default());
    let app = app!(router(), log);
    assert_eq!(
        send!(app, delivery("m1", &json!({"type":"request.info"}))).0,
        StatusCode::OK
    );
    assert_eq!(
        log.take(),
        [format!("request_info /hooks standard-webhooks {NOW}")]
    );

    // Without the `web::Data<Log>` the handler asks for: 500, not a panic.
    let app = test::init_service(App::new().service(router().scope("/hooks"))).await;
    let (status, _, json, _) = send!(app, delivery("m1", &json!({"type":"request.info"})));
    assert_eq!(
        (status, json["code"].as_str()),
        (StatusCode::INTERNAL_SERVER_ERROR, Some("handler_failed"))
    );
}

#[actix_web::test]
async fn every_ack_form() {
    let log = web::Data::new(Log::default());
    let app = app!(router(), log);
    let cases = [
        ("ack.processed", 200, Some("processed"), None),
        ("ack.accepted", 202, Some("accepted"), None),
        ("ack.retry", 503, Some("retry"), Some("42")),
        ("ack.gone", 410, Some("gone"), None),
    ];
    for (event, status, word, retry_after) in cases {
        let (got, headers, json, _) = send!(app, delivery(event, &json!({"type": event})));
        assert_eq!(got.as_u16(), status, "{event}");
        assert_eq!(json["status"].as_str(), word, "{event}");
        assert_eq!(json["event"], event);
        assert_eq!(
            headers.get("retry-after").map(|v| v.to_str().unwrap()),
            retry_after,
            "{event}"
        );
        assert_eq!(headers.get("content-type").unwrap(), "application/json");
    }
    let (got, _, json, _) = send!(app, delivery("ack.json", &json!({"type": "ack.json"})));
    assert_eq!((got, json), (StatusCode::CREATED, json!({"custom": true})));

    // A retry ack releases the claim; a gone ack settles it.
    let (got, _, _, _) = send!(app, delivery("ack.retry", &json!({"type": "ack.retry"})));
    assert_eq!(got, StatusCode::SERVICE_UNAVAILABLE);
    let (_, _, json, _) = send!(app, delivery("ack.gone", &json!({"type": "ack.gone"})));
    assert_eq!(json["status"], "duplicate");
}

#[actix_web::test]
async fn a_duplicate_is_answered_without_running_the_handler() {
    let log = web::Data::new(Log::default());
    let app = app!(router(), log);
    let body = json!({"type":"order.paid","order_id":"o1","amount_cents":5});
    let (_, _, first, _) = send!(app, delivery("m1", &body));
    let (status, _, second, _) = send!(app, delivery("m1", &body));
    assert_eq!(first["status"], "processed");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        second,
        json!({"status":"duplicate","id":"m1","event":"order.paid"})
    );
    assert_eq!(log.take().len(), 1);

    // Another namespace is another set of ids.
    let app = app!(router().namespace("other"), log);
    assert_eq!(send!(app, delivery("m1", &body)).2["status"], "processed");
}

#[actix_web::test]
async fn twenty_concurrent_repeats_run_the_handler_once() {
    let log = web::Data::new(Log::default());
    let app = app!(router(), log);
    let requests = (0..20)
        .map(|_| test::call_service(&app, delivery("same", &json!({"type":"slow"})).to_request()));
    let responses = futures_util::future::join_all(requests).await;
    let mut statuses: Vec<u16> = responses.iter().map(|r| r.status().as_u16()).collect();
    statuses.sort_unstable();
    assert_eq!(log.take(), ["slow"]);
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        19,
        "{statuses:?}"
    );
    let in_flight = responses
        .iter()
        .find(|r| r.status() == StatusCode::CONFLICT)
        .unwrap();
    assert_eq!(in_flight.headers().get("retry-after").unwrap(), "5");

    // Retried after the first finished: duplicate.
    let (_, _, json, _) = send!(app, delivery("same", &json!({"type":"slow"})));
    assert_eq!(json["status"], "duplicate");
}

#[actix_web::test]
async fn signatures_are_checked_before_anything_runs() {
    let log = web::Data::new(Log::default());
    let app = app!(router(), log);
    let req = delivery("m1", &json!({"type":"order.refunded"})).insert_header((
        "webhook-signature",
        "v1,bm90IHRoZSBzaWduYXR1cmUgYXQgYWxsIQ==",
    ));
    let (status, headers, json, _) = send!(app, req);
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        headers.get("content-type").unwrap(),
        "application/problem+json"
    );
    assert_eq!(json["code"], "invalid_signature");
    assert!(log.take().is_empty());

    let (status, headers, json, _) = send!(app, test::TestRequest::get().uri("/hooks"));
    assert_eq!(
        (status, json["code"].as_str()),
        (StatusCode::METHOD_NOT_ALLOWED, Some("method_not_allowed"))
    );
    assert_eq!(headers.get("allow").unwrap(), "POST");
}

#[actix_web::test]
async fn configure_form_and_trailing_slash() {
    let log = web::Data::new(Log::default());
    let hooks = router();
    let app = test::init_service(
        App::new()
            .app_data(log.clone())
            .configure(hooks.configure("/hooks")),
    )
    .await;
    let req = delivery("m1", &json!({"type":"order.refunded"})).uri("/hooks/");
    assert_eq!(send!(app, req).0, StatusCode::OK);
    assert_eq!(log.take(), ["any_order order.refunded"]);
}

#[::core::prelude::v1::test]
#[should_panic(
    expected = "event pattern `order.paid` is handled twice: by `order_paid` and by `order_paid`"
)]
fn registering_an_exact_event_twice_panics() {
    let _ = WebhookRouter::new(scheme())
        .handler(order_paid)
        .handler(order_paid);
}

#[actix_web::test]
async fn an_oversized_chunked_body_is_refused_and_not_drained() {
    use futures_util::StreamExt as _;

    let server = actix_web::HttpServer::new(|| {
        App::new().service(router().body_limit(4096).scope("/hooks"))
    })
    .workers(1)
    // No lingering read after the answer: actix-web's default (1 s) keeps
    // reading and discarding what the client still sends, so that the
    // client sees the 413 rather than a reset.
    .client_disconnect_timeout(Duration::ZERO)
    .bind(("127.0.0.1", 0))
    .unwrap();
    let addr = server.addrs()[0];
    let server = server.run();
    let handle = server.handle();
    actix_web::rt::spawn(server);

    // 64 MiB offered in 1 KiB chunks, produced only as they are written.
    let produced = Arc::new(AtomicUsize::new(0));
    let counter = produced.clone();
    let chunks = futures_util::stream::iter(0..65_536).map(move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
        Ok::<_, std::io::Error>(web::Bytes::from(vec![b'a'; 1024]))
    });
    let signature = scheme().signature("big", NOW, b"");
    let result = awc::Client::new()
        .post(format!("http://{addr}/hooks"))
        .insert_header(("webhook-id", "big"))
        .insert_header(("webhook-timestamp", NOW.to_string()))
        .insert_header(("webhook-signature", signature))
        .send_stream(chunks)
        .await;
    // The client may see the 413 or, still writing, the closed connection.
    if let Ok(res) = &result {
        assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }
    let sent = produced.load(Ordering::SeqCst);
    assert!(
        sent < 16 * 1024,
        "the server read {sent} KiB of a 4 KiB limit"
    );
    handle.stop(false).await;
}

#[actix_web::test]
async fn duration_max_in_any_setting_is_served_as_usual() {
    // "For ever" must not overflow `now + duration` on the request path.
    type Setting = fn(WebhookRouter) -> WebhookRouter;
    let settings: [(&str, Setting); 5] = [
        ("lease", |r| r.lease(Duration::MAX)),
        ("remember_for", |r| r.remember_for(Duration::MAX)),
        ("retry_after", |r| r.retry_after(Duration::MAX)),
        ("body_timeout", |r| r.body_timeout(Duration::MAX)),
        ("all together", |r| {
            r.lease(Duration::MAX)
                .remember_for(Duration::MAX)
                .retry_after(Duration::MAX)
                .body_timeout(Duration::MAX)
        }),
    ];
    let body = json!({"type":"order.paid","order_id":"o1","amount_cents":5});
    for (setting, set) in settings {
        let log = web::Data::new(Log::default());
        let app = app!(set(router()), log);

        let (status, _, first, _) = send!(app, delivery("m1", &body));
        assert_eq!(status, StatusCode::OK, "{setting}");
        assert_eq!(first["status"], "processed", "{setting}");
        let (status, _, again, _) = send!(app, delivery("m1", &body));
        assert_eq!(status, StatusCode::OK, "{setting}");
        assert_eq!(again["status"], "duplicate", "{setting}");

        // A concurrent repeat gets 409 with a `Retry-After` in seconds.
        let slow_call =
            || test::call_service(&app, delivery("s1", &json!({"type":"slow"})).to_request());
        let (a, b) = futures_util::future::join(slow_call(), slow_call()).await;
        let mut statuses = [a.status(), b.status()];
        statuses.sort_unstable();
        assert_eq!(
            statuses,
            [StatusCode::OK, StatusCode::CONFLICT],
            "{setting}"
        );
        let conflict = if a.status() == StatusCode::CONFLICT {
            a
        } else {
            b
        };
        let retry_after = conflict.headers().get("retry-after").unwrap();
        assert!(
            retry_after.to_str().unwrap().parse::<u64>().unwrap() >= 1,
            "{setting}"
        );
        assert_eq!(log.take(), ["order_paid o1 5", "slow"], "{setting}");
    }
}
