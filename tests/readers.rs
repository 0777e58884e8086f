//! Every reader of a delivery sees the same thing, on a real actix service:
//! a body that repeats a key the router reads is refused instead of being
//! routed on one copy and parsed on another, and Meta's handshake is
//! answered for `GET` only, its refusal problem+json like every other.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::sync::Mutex;
use std::time::Duration;

use actix_web::http::{Method, StatusCode};
use actix_web::{test as actix_test, web, App};
use actix_webhook::scheme::{GitHub, Meta, Scheme, Signer, Slack, StandardWebhooks, Stripe};
use actix_webhook::testing::TestDelivery;
use actix_webhook::{webhook, Ack, Event, WebhookRouter};
use serde::Deserialize;
use serde_json::Value;

#[path = "support/serve.rs"]
mod support;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const SLACK_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
const META_TOKEN: &str = "meta-verify-token";

/// What the handlers saw, in order.
#[derive(Default)]
struct Log(Mutex<Vec<String>>);

impl Log {
    fn push(&self, entry: String) {
        self.0.lock().unwrap().push(entry);
    }
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

/// Any event, seen as `serde_json::Value` (a repeated key: the last counts).
#[webhook(event = "*")]
async fn any_value(event: Event<Value>, log: web::Data<Log>) -> Ack {
    log.push(format!(
        "{} id={} data={}",
        event.name(),
        event.delivery_id().unwrap_or("-"),
        event["data"]
    ));
    Ack::processed()
}

/// Any event, as bytes (for form bodies).
#[webhook(event = "*")]
async fn any_bytes(event: Event<web::Bytes>, log: web::Data<Log>) -> Ack {
    log.push(format!("{} {} bytes", event.name(), event.len()));
    Ack::processed()
}

#[derive(Deserialize)]
struct Order {
    data: OrderData,
}

#[derive(Deserialize)]
struct OrderData {
    order_id: String,
}

/// `order.paid`, typed (a repeated field: serde's derive refuses it).
#[webhook(event = "order.paid")]
async fn order_paid(event: Event<Order>, log: web::Data<Log>) -> Ack {
    log.push(format!("order.paid {}", event.data.order_id));
    Ack::processed()
}

/// Sends `req` to `router` mounted at `/hooks`; status, content type, JSON
/// body (or null) and what the handlers saw.
async fn send(
    router: WebhookRouter,
    req: actix_test::TestRequest,
) -> (u16, String, Value, Vec<String>) {
    let log = web::Data::new(Log::default());
    let app = actix_test::init_service(
        App::new()
            .app_data(log.clone())
            .service(router.scope("/hooks")),
    )
    .await;
    let response = actix_test::call_service(&app, req.to_request()).await;
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = actix_test::read_body(response).await;
    let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
    (status, content_type, json, log.take())
}

/// `body` signed by `scheme`, to `/hooks`.
fn signed(scheme: &(impl Signer + ?Sized), body: &'static str) -> actix_test::TestRequest {
    TestDelivery::new(body).uri("/hooks").sign(scheme)
}

/// 400 `invalid_payload` as problem+json, and no handler ran.
#[track_caller]
fn assert_invalid_payload(got: &(u16, String, Value, Vec<String>), what: &str) {
    let (status, content_type, json, log) = got;
    assert_eq!(*status, 400, "{what}: {json}");
    assert_eq!(content_type, "application/problem+json", "{what}");
    assert_eq!(json["code"], "invalid_payload", "{what}");
    assert!(log.is_empty(), "{what}: {log:?}");
}

#[actix_web::test]
async fn slack_body_with_two_types_is_invalid_payload_not_a_handshake_or_an_event() {
    let slack = Slack::new(SLACK_SECRET).unwrap();
    let router = || WebhookRouter::new(slack.clone()).handler(any_value);
    for (what, body) in [
        (
            "handshake type first",
            r#"{"type":"url_verification","type":"event_callback","challenge":"c","event_id":"Ev1","event":{"type":"app_mention"}}"#,
        ),
        (
            "event type first",
            r#"{"type":"event_callback","type":"url_verification","challenge":"c","event_id":"Ev1","event":{"type":"app_mention"}}"#,
        ),
        (
            "escaped spelling",
            r#"{"type":"url_verification","typ\u0065":"event_callback","challenge":"c","event_id":"Ev1","event":{"type":"app_mention"}}"#,
        ),
        (
            "inner type twice",
            r#"{"type":"event_callback","event_id":"Ev1","event":{"type":"app_mention","type":"message"}}"#,
        ),
        (
            "event_id twice",
            r#"{"type":"event_callback","event_id":"Ev1","event_id":"Ev2","event":{"type":"app_mention"}}"#,
        ),
    ] {
        let got = send(router(), signed(&slack, body)).await;
        assert_invalid_payload(&got, what);
    }
    // A form body naming itself twice, to a handler of raw bytes.
    let form = |body: &'static str| {
        TestDelivery::new(body)
            .uri("/hooks")
            .header("content-type", "application/x-www-form-urlencoded")
            .sign(&slack)
    };
    let bytes_router = || WebhookRouter::new(slack.clone()).handler(any_bytes);
    for body in [
        "command=%2Fdeploy&text=x&command=%2Frollback",
        "payload=%7B%22type%22%3A%22a%22%7D&payload=%7B%22type%22%3A%22b%22%7D",
    ] {
        assert_invalid_payload(&send(bytes_router(), form(body)).await, body);
    }
    let (status, _, _, log) = send(bytes_router(), form("command=%2Fdeploy&text=x")).await;
    assert_eq!(
        (status, &log[..]),
        (200, &["/deploy 24 bytes".to_owned()][..])
    );

    // Each once: the handshake is answered, the event routed.
    let handshake = r#"{"type":"url_verification","challenge":"c"}"#;
    let (status, _, json, log) = send(router(), signed(&slack, handshake)).await;
    assert_eq!(
        (status, &json),
        (200, &serde_json::json!({"challenge": "c"}))
    );
    assert!(log.is_empty());
    let event = r#"{"type":"event_callback","event_id":"Ev1","event":{"type":"app_mention"}}"#;
    let (status, _, json, log) = send(router(), signed(&slack, event)).await;
    assert_eq!((status, &json["status"]), (200, &Value::from("processed")));
    assert_eq!(log, ["app_mention id=Ev1 data=null"]);
}

#[actix_web::test]
async fn standard_webhooks_body_with_two_types_is_invalid_payload() {
    let scheme = StandardWebhooks::new(SECRET).unwrap();
    let router = || {
        WebhookRouter::new(scheme.clone())
            .handler(order_paid)
            .handler(any_value)
    };
    for (what, body) in [
        (
            "typed route first",
            r#"{"type":"order.paid","type":"order.refunded","data":{"order_id":"o1"}}"#,
        ),
        (
            "typed route last",
            r#"{"type":"order.refunded","type":"order.paid","data":{"order_id":"o1"}}"#,
        ),
        (
            "escaped spelling",
            r#"{"type":"order.paid","typ\u0065":"order.paid","data":{"order_id":"o1"}}"#,
        ),
    ] {
        assert_invalid_payload(&send(router(), signed(&scheme, body)).await, what);
    }
}

/// A repeated member the router does not route on: refused as well when it
/// is in an object the router reads (the top level), since `Value` would
/// keep the last copy and a derived type refuse it; left to the handler's
/// parse when it is deeper, which then decides as serde does.
#[actix_web::test]
async fn a_repeated_member_that_is_not_routed_is_handled_as_serde_would() {
    let scheme = StandardWebhooks::new(SECRET).unwrap();
    let router = || {
        WebhookRouter::new(scheme.clone())
            .handler(order_paid)
            .handler(any_value)
    };
    // Two `data` at the top level: 400 for the typed and the `Value` handler.
    for body in [
        r#"{"type":"order.paid","data":{"order_id":"o1"},"data":{"order_id":"o2"}}"#,
        r#"{"type":"order.shipped","data":{"order_id":"o1"},"data":{"order_id":"o2"}}"#,
    ] {
        assert_invalid_payload(&send(router(), signed(&scheme, body)).await, body);
    }
    // Inside `data`, which the router does not read: serde decides. The
    // derived type refuses the repeated field...
    let body = r#"{"type":"order.paid","data":{"order_id":"o1","order_id":"o2"}}"#;
    assert_invalid_payload(&send(router(), signed(&scheme, body)).await, body);
    // ...and `Value` keeps the last copy.
    let body = r#"{"type":"order.shipped","data":{"order_id":"o1","order_id":"o2"}}"#;
    let (status, _, _, log) = send(router(), signed(&scheme, body)).await;
    assert_eq!(status, 200);
    let [entry] = &log[..] else { panic!("{log:?}") };
    assert!(entry.ends_with(r#"data={"order_id":"o2"}"#), "{entry}");
}

#[actix_web::test]
async fn a_repeated_delivery_id_or_action_is_invalid_payload() {
    // Stripe reads the delivery id from the body: two would mean the store
    // claims one while the handler sees the other.
    let stripe = Stripe::new("whsec_stripe_review").unwrap();
    let body = r#"{"id":"evt_1","type":"order.shipped","id":"evt_2","data":{}}"#;
    let router = WebhookRouter::new(stripe.clone()).handler(any_value);
    assert_invalid_payload(
        &send(router, signed(&stripe, body)).await,
        "stripe id twice",
    );

    // GitHub routes on `X-GitHub-Event` and the body's `action`.
    let github = GitHub::new("github-review").unwrap();
    let body = r#"{"action":"opened","number":1,"action":"closed"}"#;
    let req = TestDelivery::new(body)
        .uri("/hooks")
        .event("issues")
        .sign(&github);
    let router = WebhookRouter::new(github.clone()).handler(any_value);
    assert_invalid_payload(&send(router, req).await, "github action twice");
    // Once: routed with it.
    let req = TestDelivery::new(r#"{"action":"opened","number":1}"#)
        .uri("/hooks")
        .event("issues")
        .sign(&github);
    let router = WebhookRouter::new(github).handler(any_value);
    let (status, _, _, log) = send(router, req).await;
    assert_eq!(status, 200);
    assert!(log[0].starts_with("issues.opened "), "{log:?}");
}

fn meta() -> Meta {
    Meta::new("meta-app-secret")
        .unwrap()
        .verify_token(META_TOKEN)
}

fn handshake(token: &str) -> String {
    format!("/hooks?hub.mode=subscribe&hub.verify_token={token}&hub.challenge=1158201444")
}

#[actix_web::test]
async fn meta_refused_handshake_is_problem_json_with_its_code() {
    let router = || WebhookRouter::new(meta()).handler(any_value);
    for target in [
        handshake("guess"),
        handshake(""),
        "/hooks?hub.mode=subscribe&hub.challenge=1158201444".to_owned(),
        format!("/hooks?hub.mode=unsubscribe&hub.verify_token={META_TOKEN}&hub.challenge=1"),
    ] {
        let req = actix_test::TestRequest::get().uri(&target);
        let (status, content_type, json, _) = send(router(), req).await;
        assert_eq!(status, 403, "{target}");
        assert_eq!(content_type, "application/problem+json", "{target}");
        assert_eq!(json["code"], "handshake_refused", "{target}");
        assert_eq!(json["status"], 403, "{target}");
        assert!(!json.to_string().contains(META_TOKEN), "{json}");
    }
    // The right token still gets the challenge.
    let req = actix_test::TestRequest::get().uri(&handshake(META_TOKEN));
    let log = web::Data::new(Log::default());
    let app =
        actix_test::init_service(App::new().app_data(log).service(router().scope("/hooks"))).await;
    let response = actix_test::call_service(&app, req.to_request()).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(actix_test::read_body(response).await, "1158201444");
}

#[actix_web::test]
async fn meta_handshake_with_lowercase_get_is_not_answered() {
    let router = || WebhookRouter::new(meta()).handler(any_value);
    for method in ["get", "Get"] {
        let req = actix_test::TestRequest::default()
            .method(Method::from_bytes(method.as_bytes()).unwrap())
            .uri(&handshake(META_TOKEN));
        let (status, content_type, json, log) = send(router(), req).await;
        assert_eq!(status, 405, "{method}: {json}");
        assert_eq!(content_type, "application/problem+json", "{method}");
        assert_eq!(json["code"], "method_not_allowed", "{method}");
        assert!(log.is_empty());
    }
}

/// The same over a socket: actix-web keeps the method as sent, so `get` on
/// the wire is not `GET` either.
#[test]
fn meta_handshake_with_lowercase_get_on_the_wire_is_not_answered() {
    let router = WebhookRouter::new(meta());
    let (addr, handle) = support::serve(move || App::new().service(router.scope("/hooks")));
    let exchange = |method: &str| {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let request = format!(
            "{method} {} HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n",
            handshake(META_TOKEN)
        );
        stream.write_all(request.as_bytes()).unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response
    };
    let lower = exchange("get");
    assert!(lower.starts_with("HTTP/1.1 405"), "{lower}");
    assert!(
        lower
            .to_ascii_lowercase()
            .contains("content-type: application/problem+json"),
        "{lower}"
    );
    assert!(!lower.contains("1158201444"), "{lower}");
    let upper = exchange("GET");
    assert!(upper.starts_with("HTTP/1.1 200"), "{upper}");
    assert!(upper.ends_with("\r\n\r\n1158201444"), "{upper}");
    actix_rt::System::new().block_on(handle.stop(false));
}

/// The scheme's own answer agrees with what the router sends.
#[test]
fn meta_unsigned_reply_refuses_with_the_verify_error() {
    use actix_webhook::scheme::Request;
    use actix_webhook::VerifyError;
    let scheme = meta();
    let headers: [(&str, &str); 0] = [];
    let target = handshake("guess");
    let request = Request::new("GET", &target, &headers, b"");
    assert_eq!(
        scheme.unsigned_reply(&request, scheme.secrets()),
        Some(Err(VerifyError::HandshakeRefused))
    );
    assert_eq!(VerifyError::HandshakeRefused.code(), "handshake_refused");
}
