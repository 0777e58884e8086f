//! The `Verified` extractor on a real actix service: Standard Webhooks
//! deliveries accepted, tampered, stale, rotated, malformed and oversized.

use actix_web::http::StatusCode;
use actix_web::{test, web, App, HttpResponse};
use actix_webhook::scheme::StandardWebhooks;
use actix_webhook::verify::FixedClock;
use actix_webhook::{Rejection, Secret, Secrets, Verified, WebhookConfig};
use serde_json::Value;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const NOW: i64 = 1_700_000_000;
const BODY: &str = r#"{"type":"order_paid","data":{"order_id":"o_1","amount_cents":1250}}"#;

async fn receive(event: Verified<web::Json<Value>>) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({
        "id": event.delivery_id(),
        "timestamp": event.timestamp().map(|t| t.timestamp()),
        "type": event["type"],
    }))
}

async fn receive_result(event: Result<Verified<web::Bytes>, Rejection>) -> HttpResponse {
    match event {
        Ok(body) => HttpResponse::Ok().body(body.into_inner()),
        Err(rejection) => HttpResponse::build(StatusCode::IM_A_TEAPOT).body(rejection.code()),
    }
}

fn config(scheme: StandardWebhooks) -> WebhookConfig {
    WebhookConfig::new(scheme)
        .clock(FixedClock(NOW))
        .body_limit(4096)
}

fn scheme() -> StandardWebhooks {
    StandardWebhooks::new(SECRET).unwrap()
}

/// A signed delivery's headers, as `(name, value)`.
fn signed(scheme: &StandardWebhooks, id: &str, ts: i64, body: &str) -> Vec<(String, String)> {
    vec![
        ("webhook-id".into(), id.into()),
        ("webhook-timestamp".into(), ts.to_string()),
        (
            "webhook-signature".into(),
            scheme.signature(id, ts, body.as_bytes()),
        ),
    ]
}

macro_rules! service {
    ($config:expr) => {
        test::init_service(
            App::new()
                .app_data($config)
                .route("/hook", web::post().to(receive))
                .route("/raw", web::post().to(receive_result)),
        )
        .await
    };
}

/// Sends `body` with `headers`; returns status, content type and JSON body.
async fn send<S>(
    app: &S,
    headers: &[(String, String)],
    body: impl Into<web::Bytes>,
) -> (StatusCode, String, Value)
where
    S: actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse,
        Error = actix_web::Error,
    >,
{
    let mut req = test::TestRequest::post().uri("/hook");
    for (name, value) in headers {
        req = req.insert_header((name.as_str(), value.as_str()));
    }
    let res = test::call_service(app, req.set_payload(body.into()).to_request()).await;
    let status = res.status();
    let content_type = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let bytes = test::read_body(res).await;
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, content_type, json)
}

fn assert_problem(got: &(StatusCode, String, Value), status: u16, code: &str, case: &str) {
    assert_eq!(got.0.as_u16(), status, "{case}: {got:?}");
    assert_eq!(got.1, "application/problem+json", "{case}");
    assert_eq!(got.2["code"], code, "{case}: {got:?}");
    assert_eq!(got.2["status"], status, "{case}");
}

fn set(headers: &mut [(String, String)], name: &str, value: &str) {
    headers.iter_mut().find(|(n, _)| n == name).unwrap().1 = value.to_owned();
}

/// Changes one byte of `s`, keeping it ASCII.
fn flip_one_byte(s: &str, at: usize) -> String {
    let mut bytes = s.as_bytes().to_vec();
    bytes[at] = if bytes[at] == b'1' { b'2' } else { b'1' };
    String::from_utf8(bytes).unwrap()
}

#[actix_web::test]
async fn a_valid_delivery_is_accepted() {
    let app = service!(config(scheme()));
    let (status, _, json) = send(&app, &signed(&scheme(), "msg_1", NOW, BODY), BODY).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        json,
        serde_json::json!({"id": "msg_1", "timestamp": NOW, "type": "order_paid"})
    );
}

#[actix_web::test]
async fn the_svix_header_aliases_are_accepted() {
    let app = service!(config(scheme()));
    let headers: Vec<_> = signed(&scheme(), "msg_1", NOW, BODY)
        .into_iter()
        .map(|(n, v)| (n.replace("webhook-", "svix-"), v))
        .collect();
    assert_eq!(send(&app, &headers, BODY).await.0, StatusCode::OK);
}

#[actix_web::test]
async fn each_tampered_byte_is_rejected() {
    let app = service!(config(scheme()));
    let good = signed(&scheme(), "msg_1", NOW, BODY);

    let body = BODY.replace("1250", "1251");
    assert_problem(
        &send(&app, &good, body).await,
        401,
        "invalid_signature",
        "body",
    );

    let mut h = good.clone();
    set(&mut h, "webhook-id", "msg_2");
    assert_problem(&send(&app, &h, BODY).await, 401, "invalid_signature", "id");

    let mut h = good.clone();
    set(&mut h, "webhook-timestamp", &(NOW + 1).to_string());
    assert_problem(
        &send(&app, &h, BODY).await,
        401,
        "invalid_signature",
        "timestamp",
    );

    let mut h = good.clone();
    let sig = h[2].1.clone();
    // Position 5 is inside the base64 of the MAC ("v1,xx...").
    set(&mut h, "webhook-signature", &flip_one_byte(&sig, 5));
    assert_problem(
        &send(&app, &h, BODY).await,
        401,
        "invalid_signature",
        "signature",
    );
}

#[actix_web::test]
async fn stale_and_future_timestamps_are_rejected() {
    let app = service!(config(scheme()));
    for (case, ts) in [("stale", NOW - 301), ("future", NOW + 301)] {
        let h = signed(&scheme(), "msg_1", ts, BODY);
        assert_problem(
            &send(&app, &h, BODY).await,
            401,
            "timestamp_out_of_tolerance",
            case,
        );
    }
    for (case, ts) in [("299 s old", NOW - 299), ("299 s ahead", NOW + 299)] {
        let h = signed(&scheme(), "msg_1", ts, BODY);
        assert_eq!(send(&app, &h, BODY).await.0, StatusCode::OK, "{case}");
    }
}

#[actix_web::test]
async fn rotation_accepts_old_and_new_secrets_only() {
    let new = Secret::from_standard(SECRET).unwrap();
    let old = Secret::from_standard("whsec_b2xkIHNlY3JldCBmb3Igcm90YXRpb24=").unwrap();
    let third = StandardWebhooks::new("whsec_dGhpcmQgc2VjcmV0IG5vdCBjb25maWd1cmVk").unwrap();
    let rotating =
        StandardWebhooks::with_secrets(Secrets::new([new.clone(), old.clone()]).unwrap());
    let app = service!(config(rotating));

    for (case, signer) in [
        ("new", StandardWebhooks::with_secrets(new)),
        ("old", StandardWebhooks::with_secrets(old)),
    ] {
        let h = signed(&signer, "msg_1", NOW, BODY);
        assert_eq!(send(&app, &h, BODY).await.0, StatusCode::OK, "{case}");
    }
    let h = signed(&third, "msg_1", NOW, BODY);
    assert_problem(
        &send(&app, &h, BODY).await,
        401,
        "invalid_signature",
        "third",
    );
}

#[actix_web::test]
async fn each_missing_header_is_named_by_its_code() {
    let app = service!(config(scheme()));
    for missing in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
        let h: Vec<_> = signed(&scheme(), "msg_1", NOW, BODY)
            .into_iter()
            .filter(|(n, _)| n != missing)
            .collect();
        assert_problem(
            &send(&app, &h, BODY).await,
            401,
            "missing_signature",
            missing,
        );
    }
    assert_problem(
        &send(&app, &[], BODY).await,
        401,
        "missing_signature",
        "none",
    );
}

#[actix_web::test]
async fn malformed_headers_get_4xx_codes_never_500() {
    let app = service!(config(scheme()));
    let long = "a".repeat(10_000);
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "webhook-signature",
            "v1,!!!not-base64!!!".into(),
            "malformed_signature",
        ),
        ("webhook-signature", "".into(), "malformed_signature"),
        ("webhook-signature", long.clone(), "malformed_signature"),
        (
            "webhook-signature",
            format!("v1,{long}"),
            "invalid_signature",
        ),
        (
            "webhook-signature",
            "v2,c2lnbmF0dXJl".into(),
            "invalid_signature",
        ),
        ("webhook-timestamp", "".into(), "malformed_signature"),
        ("webhook-timestamp", long.clone(), "malformed_signature"),
        (
            "webhook-timestamp",
            i64::MAX.to_string(),
            "timestamp_out_of_tolerance",
        ),
        (
            "webhook-timestamp",
            "-1700000000".into(),
            "malformed_signature",
        ),
        ("webhook-timestamp", "1".repeat(30), "malformed_signature"),
        (
            "webhook-timestamp",
            "1700000000.5".into(),
            "malformed_signature",
        ),
        (
            "webhook-timestamp",
            " 1700000000".into(),
            "malformed_signature",
        ),
        (
            "webhook-timestamp",
            "1700000000 ".into(),
            "malformed_signature",
        ),
        ("webhook-timestamp", "1.7e9".into(), "malformed_signature"),
        ("webhook-id", "".into(), "invalid_signature"),
        ("webhook-id", long.clone(), "invalid_signature"),
    ];
    for (header, value, code) in cases {
        let mut h = signed(&scheme(), "msg_1", NOW, BODY);
        set(&mut h, header, &value);
        let got = send(&app, &h, BODY).await;
        let case = format!("{header}: {value:.40}");
        assert_problem(&got, 401, code, &case);
    }
}

#[actix_web::test]
async fn non_utf8_and_repeated_headers_are_malformed() {
    let app = service!(config(scheme()));
    let h = signed(&scheme(), "msg_1", NOW, BODY);

    let mut req = test::TestRequest::post().uri("/hook");
    for (n, v) in &h[1..] {
        req = req.insert_header((n.as_str(), v.as_str()));
    }
    let id = actix_web::http::header::HeaderValue::from_bytes(b"msg_\xff\xfe").unwrap();
    let res = test::call_service(
        &app,
        req.insert_header(("webhook-id", id))
            .set_payload(BODY)
            .to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let json: Value = test::read_body_json(res).await;
    assert_eq!(json["code"], "malformed_signature");

    let mut req = test::TestRequest::post().uri("/hook");
    for (n, v) in &h {
        req = req.append_header((n.as_str(), v.as_str()));
    }
    let req = req.append_header(("webhook-signature", h[2].1.as_str()));
    let res = test::call_service(&app, req.set_payload(BODY).to_request()).await;
    let json: Value = test::read_body_json(res).await;
    assert_eq!(json["code"], "malformed_signature");
}

#[actix_web::test]
async fn a_body_over_the_limit_with_content_length_is_413() {
    let app = service!(config(scheme()));
    let body = format!(r#"{{"type":"x","pad":"{}"}}"#, "p".repeat(5000));
    let h = signed(&scheme(), "msg_1", NOW, &body);
    let got = send(&app, &h, body).await;
    assert_problem(&got, 413, "payload_too_large", "content-length");

    // Exactly at the limit is fine (the signature decides).
    let body = format!(r#"{{"type":"x","pad":"{}"}}"#, "p".repeat(4096 - 21));
    assert_eq!(body.len(), 4096);
    let h = signed(&scheme(), "msg_1", NOW, &body);
    assert_eq!(send(&app, &h, body).await.0, StatusCode::OK);
}

#[actix_web::test]
async fn a_chunked_body_over_the_limit_is_413() {
    use futures_util::StreamExt as _;

    let server = actix_web::HttpServer::new(|| {
        App::new()
            .app_data(config(scheme()))
            .route("/hook", web::post().to(receive))
    })
    .workers(1)
    .bind(("127.0.0.1", 0))
    .unwrap();
    let addr = server.addrs()[0];
    let server = server.run();
    let handle = server.handle();
    actix_web::rt::spawn(server);

    // 8 KiB in 1 KiB chunks, no Content-Length: chunked transfer encoding.
    let chunks = futures_util::stream::iter(0..8)
        .map(|_| Ok::<_, std::io::Error>(web::Bytes::from(vec![b'a'; 1024])));
    let mut req = awc::Client::new().post(format!("http://{addr}/hook"));
    for (n, v) in signed(&scheme(), "msg_1", NOW, "ignored") {
        req = req.insert_header((n, v));
    }
    let mut res = req.send_stream(chunks).await.unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let json: Value = res.json().await.unwrap();
    assert_eq!(json["code"], "payload_too_large");
    handle.stop(false).await;
}

#[actix_web::test]
async fn without_config_nothing_is_accepted() {
    let app = test::init_service(App::new().route("/hook", web::post().to(receive))).await;
    let got = send(&app, &signed(&scheme(), "msg_1", NOW, BODY), BODY).await;
    assert_problem(&got, 500, "not_configured", "no config");

    // `web::Data<WebhookConfig>` works too.
    let app = test::init_service(
        App::new()
            .app_data(web::Data::new(config(scheme())))
            .route("/hook", web::post().to(receive)),
    )
    .await;
    assert_eq!(
        send(&app, &signed(&scheme(), "msg_1", NOW, BODY), BODY)
            .await
            .0,
        StatusCode::OK
    );
}

#[actix_web::test]
async fn invalid_json_is_400_and_the_rejection_can_be_handled() {
    let app = service!(config(scheme()));
    let body = "not json";
    let got = send(&app, &signed(&scheme(), "msg_1", NOW, body), body).await;
    assert_problem(&got, 400, "invalid_payload", "not json");

    // `Result<Verified<_>, Rejection>` gives the handler the cause.
    let mut req = test::TestRequest::post().uri("/raw");
    for (n, v) in signed(&scheme(), "msg_1", NOW, body) {
        req = req.insert_header((n, v));
    }
    let res = test::call_service(&app, req.set_payload("tampered").to_request()).await;
    assert_eq!(res.status(), StatusCode::IM_A_TEAPOT);
    assert_eq!(test::read_body(res).await, "invalid_signature");
}

/// The cross-language test vector of the Standard Webhooks reference
/// libraries (github.com/standard-webhooks/standard-webhooks, e.g.
/// libraries/javascript/src/index.test.ts, libraries/python/standardwebhooks/
/// tests/test_webhooks.py): secret, id, timestamp, payload and signature.
#[actix_web::test]
async fn the_standard_webhooks_reference_vector_verifies_over_http() {
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TIMESTAMP: i64 = 1_614_265_330;
    const PAYLOAD: &str = r#"{"test": 2432232314}"#;
    const SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    let headers = vec![
        ("webhook-id".to_owned(), ID.to_owned()),
        ("webhook-timestamp".to_owned(), TIMESTAMP.to_string()),
        ("webhook-signature".to_owned(), SIGNATURE.to_owned()),
    ];
    let app = service!(WebhookConfig::new(scheme()).clock(FixedClock(TIMESTAMP)));
    let (status, _, json) = send(&app, &headers, PAYLOAD).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json["id"], ID);

    // Keying with the whole `whsec_...` string (as Stripe does) is not the
    // Standard Webhooks key: that signature does not verify.
    let whole_string_key = StandardWebhooks::with_secrets(Secret::new(SECRET).unwrap());
    let wrong = whole_string_key.signature(ID, TIMESTAMP, PAYLOAD.as_bytes());
    assert_ne!(wrong, SIGNATURE);
    let mut headers = headers;
    set(&mut headers, "webhook-signature", &wrong);
    assert_problem(
        &send(&app, &headers, PAYLOAD).await,
        401,
        "invalid_signature",
        "whole-string key",
    );
}
