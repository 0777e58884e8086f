//! Every `Rejection` and `Ack` as the sender sees it: status, content type,
//! stable code, headers, and no secret or expected signature in any body.

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{test, web, App, HttpResponse, ResponseError};
use actix_webhook::scheme::StandardWebhooks;
use actix_webhook::verify::FixedClock;
use actix_webhook::{Ack, PayloadError, Rejection, Verified, WebhookConfig};
use serde_json::Value;

fn invalid_json() -> PayloadError {
    PayloadError::parse::<Value>(b"{").unwrap_err()
}

fn mismatch() -> PayloadError {
    PayloadError::parse::<Vec<u64>>(br#"[1,"two"]"#).unwrap_err()
}

#[actix_web::test]
async fn each_rejection_has_its_status_code_and_problem_body() {
    // (rejection, status, code, a header it must carry)
    type Case = (
        Rejection,
        u16,
        &'static str,
        Option<(&'static str, &'static str)>,
    );
    let cases: Vec<Case> = vec![
        (
            Rejection::MissingSignature {
                header: "webhook-id".into(),
            },
            401,
            "missing_signature",
            None,
        ),
        (
            Rejection::MalformedSignature {
                header: "webhook-signature".into(),
            },
            401,
            "malformed_signature",
            None,
        ),
        (Rejection::InvalidSignature, 401, "invalid_signature", None),
        (
            Rejection::TimestampOutOfTolerance {
                timestamp: 1,
                now: 2,
            },
            401,
            "timestamp_out_of_tolerance",
            None,
        ),
        (Rejection::HandshakeRefused, 403, "handshake_refused", None),
        (
            Rejection::InvalidPayload(invalid_json()),
            400,
            "invalid_payload",
            None,
        ),
        (
            Rejection::PayloadMismatch(mismatch()),
            500,
            "invalid_payload",
            None,
        ),
        (Rejection::IncompleteBody, 400, "incomplete_body", None),
        (
            Rejection::PayloadTooLarge { limit: 10 },
            413,
            "payload_too_large",
            Some(("connection", "close")),
        ),
        (
            Rejection::BodyTimeout {
                timeout: Duration::from_secs(30),
            },
            408,
            "body_timeout",
            Some(("connection", "close")),
        ),
        (Rejection::NotConfigured, 500, "not_configured", None),
        (
            Rejection::MethodNotAllowed,
            405,
            "method_not_allowed",
            Some(("allow", "POST")),
        ),
        (
            Rejection::InFlight {
                retry_after: Duration::from_secs(7),
            },
            409,
            "in_flight",
            Some(("retry-after", "7")),
        ),
        (Rejection::HandlerFailed, 500, "handler_failed", None),
        (
            Rejection::Unavailable {
                retry_after: Duration::from_millis(10),
            },
            503,
            "unavailable",
            Some(("retry-after", "1")),
        ),
    ];
    for (rejection, status, code, header) in cases {
        assert_eq!(rejection.status().as_u16(), status, "{code}");
        assert_eq!(rejection.code(), code);
        let response = rejection.error_response();
        assert_eq!(response.status().as_u16(), status);
        assert_eq!(
            response.headers().get("content-type").unwrap(),
            "application/problem+json"
        );
        if let Some((name, value)) = header {
            if name == "connection" {
                assert_eq!(
                    response.head().connection_type(),
                    actix_web::http::ConnectionType::Close
                );
            } else {
                assert_eq!(response.headers().get(name).unwrap(), value, "{code}");
            }
        }
        let body = actix_web::body::to_bytes(response.into_body())
            .await
            .unwrap();
        let json: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["code"], code);
        assert_eq!(json["status"], status);
        assert_eq!(json["type"], "about:blank");
        assert!(json["title"].is_string() && json["detail"].is_string());
        if code == "invalid_payload" {
            // Where and why the body does not fit; never its values.
            let detail = json["detail"].as_str().unwrap();
            assert!(
                [
                    "The body is not valid for this event: not JSON: EOF while parsing an object at line 1 column 1.",
                    "The body is not valid for this event: at `[1]`: invalid type: string, expected u64.",
                ]
                .contains(&detail),
                "{detail}"
            );
            assert!(!detail.contains("two"));
            continue;
        }
        // Only the fixed text: no header names, numbers or parser messages.
        let text = String::from_utf8_lossy(&body);
        for leak in ["webhook-", "EOF", "limit", "10 bytes"] {
            assert!(!text.contains(leak), "{code}: {text}");
        }
    }
}

#[actix_web::test]
async fn a_rejection_never_carries_the_secret_or_the_expected_signature() {
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const DECODED_HEX: &str = "31f290f6bf06298aab4f08d43c3f082cf648a362da2da4b0";
    let scheme = StandardWebhooks::new(SECRET).unwrap();
    let body = br#"{"type":"t"}"#;
    let expected = scheme.signature("m1", 100, body);

    async fn hook(_: Verified<web::Bytes>) -> HttpResponse {
        HttpResponse::Ok().finish()
    }
    let app = test::init_service(
        App::new()
            .app_data(WebhookConfig::new(scheme.clone()).clock(FixedClock(100)))
            .route("/", web::post().to(hook)),
    )
    .await;
    let wrong_sigs = ["v1,AAAA", "v1,bm90IGl0", "garbage", ""];
    for (case, sig, ts) in
        wrong_sigs
            .iter()
            .map(|s| ("wrong", *s, 100))
            .chain([("stale", expected.as_str(), 1)])
    {
        let req = test::TestRequest::post()
            .uri("/")
            .insert_header(("webhook-id", "m1"))
            .insert_header(("webhook-timestamp", ts.to_string()))
            .insert_header(("webhook-signature", sig))
            .set_payload(&body[..]);
        let res = test::call_service(&app, req.to_request()).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{case} {sig}");
        let headers = format!("{:?}", res.headers());
        let text = String::from_utf8_lossy(&test::read_body(res).await).into_owned();
        let expected_b64 = expected.trim_start_matches("v1,");
        for leak in [SECRET, &SECRET[6..], DECODED_HEX, expected_b64] {
            assert!(
                !text.contains(leak) && !headers.contains(leak),
                "{case}: {text} {headers}"
            );
        }
    }
    assert!(!format!("{scheme:?}").contains(&SECRET[6..]));
}

#[actix_web::test]
async fn an_ack_is_a_responder_in_plain_handlers() {
    async fn hook() -> Ack {
        Ack::retry_after(Duration::from_secs(30))
    }
    let app = test::init_service(App::new().route("/", web::post().to(hook))).await;
    let res = test::call_service(&app, test::TestRequest::post().uri("/").to_request()).await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(res.headers().get("retry-after").unwrap(), "30");
    let json: Value = test::read_body_json(res).await;
    assert_eq!(json, serde_json::json!({"status": "retry"}));
    assert!(Ack::gone().is_final() && !Ack::retry_after(Duration::ZERO).is_final());
}
