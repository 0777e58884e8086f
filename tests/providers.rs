//! Every provider preset behind the `Verified<Bytes>` extractor on a real actix
//! service: a delivery signed the provider's way is accepted with its id, and a
//! tampered body, a missing signature or a stale timestamp get 401 problem+json.

use actix_web::http::StatusCode;
use actix_web::{test, web, App, HttpResponse};
#[cfg(feature = "ed25519")]
use actix_webhook::scheme::Discord;
use actix_webhook::scheme::Request;
use actix_webhook::scheme::{
    Clerk, Dropbox, GitHub, GitLab, HubSpot, Linear, Message, Meta, Paddle, Razorpay, Resend,
    Scheme, Shopify, Signer, Slack, Square, StandardWebhooks, Stripe, Twilio, Twitch, Xero, Zoom,
};
use actix_webhook::verify::FixedClock;
use actix_webhook::{Secret, Secrets, Verified, WebhookConfig};
use serde_json::Value;

const NOW: i64 = 1_700_000_000;

use std::sync::Arc;

async fn receive(event: Verified<web::Bytes>) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({
        "id": event.delivery_id(),
        "timestamp": event.timestamp().map(|t| t.timestamp()),
        "bytes": event.len(),
    }))
}

/// One preset, with a delivery signed its way.
struct Case {
    name: &'static str,
    scheme: Arc<dyn Scheme>,
    config: WebhookConfig,
    headers: Vec<(String, String)>,
    /// The signature header, removed for the `missing_signature` case.
    signature_header: &'static str,
    body: &'static str,
    /// The delivery id the preset reads from the request.
    id: Option<&'static str>,
    /// Whether the preset signs a timestamp (and so refuses a stale one).
    timestamped: bool,
    /// Whether the signature covers the body: GitLab's secret token is a
    /// shared password sent in clear and does not.
    signs_body: bool,
    /// The same delivery signed an hour earlier.
    stale_headers: Vec<(String, String)>,
}

const JSON_BODY: &str = r#"{"id":"evt_1","event_id":"evt_1","type":"order.paid","event_type":"order.paid","amount":1250}"#;
const FORM_BODY: &str = "MessageSid=SM1&Body=paid+1250&EventType=order.paid";
/// HubSpot's batch of one event.
const HUBSPOT_BODY: &str =
    r#"[{"eventId":1250,"subscriptionType":"contact.creation","objectId":7}]"#;
/// Xero's batch of one event.
const XERO_BODY: &str = r#"{"events":[{"resourceId":"1250","eventCategory":"INVOICE","eventType":"UPDATE"}],"firstEventSequence":1,"lastEventSequence":1,"entropy":"X"}"#;
/// Linear signs the time in the body: `NOW`, in milliseconds.
const LINEAR_BODY: &str =
    r#"{"type":"Issue","action":"create","amount":1250,"webhookTimestamp":1700000000000}"#;
const URL: &str = "https://example.com/hook";

fn case<S: Scheme + Signer>(
    name: &'static str,
    scheme: S,
    signature_header: &'static str,
    body: &'static str,
    id: Option<&'static str>,
    timestamped: bool,
) -> Case {
    let message = |timestamp| Message {
        id: "evt_1",
        timestamp,
        event: "order.paid",
        url: URL,
        body: body.as_bytes(),
    };
    let headers = scheme.sign(&message(NOW));
    let stale_headers = scheme.sign(&message(NOW - 3600));
    let scheme = Arc::new(scheme);
    Case {
        name,
        scheme: scheme.clone(),
        config: WebhookConfig::new(scheme)
            .clock(FixedClock(NOW))
            .body_limit(4096),
        headers,
        signature_header,
        body,
        id,
        timestamped,
        signs_body: name != "gitlab (token)",
        stale_headers,
    }
}

fn cases() -> Vec<Case> {
    #[cfg_attr(not(feature = "ed25519"), allow(unused_mut))]
    let mut cases = vec![
        case(
            "standard-webhooks",
            StandardWebhooks::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap(),
            "webhook-signature",
            JSON_BODY,
            Some("evt_1"),
            true,
        ),
        case(
            "github",
            GitHub::new("It's a Secret to Everybody").unwrap(),
            "X-Hub-Signature-256",
            JSON_BODY,
            Some("evt_1"),
            false,
        ),
        case(
            "stripe",
            Stripe::new("whsec_test_secret").unwrap(),
            "Stripe-Signature",
            JSON_BODY,
            Some("evt_1"),
            true,
        ),
        case(
            "slack",
            Slack::new("8f742231b10e8888abcd99yyyzzz85a5").unwrap(),
            "X-Slack-Signature",
            JSON_BODY,
            Some("evt_1"),
            true,
        ),
        case(
            "shopify",
            Shopify::new("shopify-client-secret").unwrap(),
            "X-Shopify-Hmac-Sha256",
            JSON_BODY,
            Some("evt_1"),
            false,
        ),
        case(
            "gitlab (token)",
            GitLab::new("gitlab-secret-token").unwrap(),
            "X-Gitlab-Token",
            JSON_BODY,
            Some("evt_1"),
            false,
        ),
        case(
            "gitlab (signing token)",
            GitLab::with_signing_token("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap(),
            "webhook-signature",
            JSON_BODY,
            Some("evt_1"),
            true,
        ),
        case(
            "paddle",
            Paddle::new("pdl_ntfset_01gkpjp8bkm3tm53kdgkx6sms7_secret").unwrap(),
            "Paddle-Signature",
            JSON_BODY,
            Some("evt_1"),
            true,
        ),
        case(
            "meta",
            Meta::new("meta-app-secret")
                .unwrap()
                .verify_token("verify-me"),
            "X-Hub-Signature-256",
            JSON_BODY,
            None,
            false,
        ),
        case(
            "twilio",
            Twilio::new("twilio-auth-token")
                .unwrap()
                .public_url("https://example.com"),
            "X-Twilio-Signature",
            FORM_BODY,
            Some("evt_1"),
            false,
        ),
        case(
            "zoom",
            Zoom::new("zoom-secret-token").unwrap(),
            "x-zm-signature",
            JSON_BODY,
            None,
            true,
        ),
        case(
            "twitch",
            Twitch::new("twitch-eventsub-secret").unwrap(),
            "Twitch-Eventsub-Message-Signature",
            JSON_BODY,
            Some("evt_1"),
            true,
        ),
        case(
            "hubspot",
            HubSpot::new("hubspot-client-secret")
                .unwrap()
                .public_url("https://example.com"),
            "X-HubSpot-Signature-v3",
            HUBSPOT_BODY,
            None,
            true,
        ),
        case(
            "xero",
            Xero::new("xero-webhook-key").unwrap(),
            "x-xero-signature",
            XERO_BODY,
            None,
            false,
        ),
        case(
            "dropbox",
            Dropbox::new("dropbox-app-secret").unwrap(),
            "X-Dropbox-Signature",
            JSON_BODY,
            None,
            false,
        ),
        case(
            "square",
            Square::new("square-signature-key")
                .unwrap()
                .public_url("https://example.com"),
            "x-square-hmacsha256-signature",
            JSON_BODY,
            Some("evt_1"),
            false,
        ),
        // The time is in the body: `a_stale_timestamp_is_rejected_where_signed`
        // sends a stale body.
        case(
            "linear",
            Linear::new("linear-webhook-secret").unwrap(),
            "Linear-Signature",
            LINEAR_BODY,
            Some("evt_1"),
            true,
        ),
        case(
            "razorpay",
            Razorpay::new("razorpay-webhook-secret").unwrap(),
            "X-Razorpay-Signature",
            JSON_BODY,
            Some("evt_1"),
            false,
        ),
        case(
            "clerk",
            Clerk::new("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD").unwrap(),
            "svix-signature",
            JSON_BODY,
            Some("evt_1"),
            true,
        ),
        case(
            "resend",
            Resend::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap(),
            "svix-signature",
            JSON_BODY,
            Some("evt_1"),
            true,
        ),
    ];
    #[cfg(feature = "ed25519")]
    cases.extend([
        case(
            "standard-webhooks v1a",
            StandardWebhooks::with_signing_key("whsk_nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=")
                .unwrap(),
            "webhook-signature",
            JSON_BODY,
            Some("evt_1"),
            true,
        ),
        case(
            "discord",
            Discord::with_signing_key(
                "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
            )
            .unwrap(),
            "X-Signature-Ed25519",
            JSON_BODY,
            Some("evt_1"),
            true,
        ),
    ]);
    cases
}

/// Sends `body` with `headers` to a fresh app configured for `config`;
/// returns status, content type and JSON body.
async fn send(
    config: &WebhookConfig,
    headers: &[(String, String)],
    body: &str,
) -> (StatusCode, String, Value) {
    let app = test::init_service(
        App::new()
            .app_data(config.clone())
            .route("/hook", web::post().to(receive)),
    )
    .await;
    let mut req = test::TestRequest::post().uri("/hook");
    for (name, value) in headers {
        req = req.insert_header((name.as_str(), value.as_str()));
    }
    let res = test::call_service(&app, req.set_payload(body.to_owned()).to_request()).await;
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

fn assert_problem(got: &(StatusCode, String, Value), code: &str, case: &str) {
    assert_eq!(got.0, StatusCode::UNAUTHORIZED, "{case}: {got:?}");
    assert_eq!(got.1, "application/problem+json", "{case}");
    assert_eq!(got.2["code"], code, "{case}: {got:?}");
}

#[actix_web::test]
async fn a_delivery_signed_the_providers_way_is_accepted() {
    for case in cases() {
        let (status, _, json) = send(&case.config, &case.headers, case.body).await;
        assert_eq!(status, StatusCode::OK, "{}: {json}", case.name);
        assert_eq!(json["id"], serde_json::json!(case.id), "{}", case.name);
        assert_eq!(json["bytes"], case.body.len(), "{}", case.name);
        let timestamp = if case.timestamped {
            serde_json::json!(NOW)
        } else {
            Value::Null
        };
        assert_eq!(json["timestamp"], timestamp, "{}", case.name);
    }
}

#[actix_web::test]
async fn a_tampered_body_is_rejected() {
    // Every preset but GitLab's secret-token form, which signs nothing.
    for case in cases().into_iter().filter(|case| case.signs_body) {
        let tampered = case.body.replace("1250", "1251");
        assert_ne!(tampered, case.body);
        let got = send(&case.config, &case.headers, &tampered).await;
        assert_problem(&got, "invalid_signature", case.name);
    }
}

#[actix_web::test]
async fn a_missing_signature_is_rejected() {
    for case in cases() {
        let headers: Vec<_> = case
            .headers
            .iter()
            .filter(|(name, _)| !name.eq_ignore_ascii_case(case.signature_header))
            .cloned()
            .collect();
        assert!(headers.len() < case.headers.len(), "{}", case.name);
        let got = send(&case.config, &headers, case.body).await;
        assert_problem(&got, "missing_signature", case.name);
    }
}

#[actix_web::test]
async fn a_garbled_signature_is_rejected() {
    for case in cases() {
        let headers: Vec<_> = case
            .headers
            .iter()
            .map(|(name, value)| {
                if name.eq_ignore_ascii_case(case.signature_header) {
                    (name.clone(), format!("{value}!"))
                } else {
                    (name.clone(), value.clone())
                }
            })
            .collect();
        let got = send(&case.config, &headers, case.body).await;
        assert_eq!(got.0, StatusCode::UNAUTHORIZED, "{}: {got:?}", case.name);
        assert_eq!(got.1, "application/problem+json", "{}", case.name);
        let code = got.2["code"].as_str().unwrap_or_default();
        assert!(
            [
                "malformed_signature",
                "invalid_signature",
                "missing_signature"
            ]
            .contains(&code),
            "{}: {code}",
            case.name
        );
    }
}

#[actix_web::test]
async fn a_signature_that_is_not_utf8_is_rejected() {
    use actix_web::http::header::HeaderValue;
    for case in cases() {
        let app = test::init_service(
            App::new()
                .app_data(case.config.clone())
                .route("/hook", web::post().to(receive)),
        )
        .await;
        let mut req = test::TestRequest::post().uri("/hook");
        for (name, value) in &case.headers {
            let value = if name.eq_ignore_ascii_case(case.signature_header) {
                HeaderValue::from_bytes(b"\xff\xfe\x80sig").unwrap()
            } else {
                HeaderValue::from_str(value).unwrap()
            };
            req = req.insert_header((name.as_str(), value));
        }
        let res = test::call_service(&app, req.set_payload(case.body).to_request()).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{}", case.name);
        let json: Value = serde_json::from_slice(&test::read_body(res).await).unwrap();
        let code = json["code"].as_str().unwrap_or_default();
        assert!(
            ["malformed_signature", "invalid_signature"].contains(&code),
            "{}: {code}",
            case.name
        );
    }
}

#[actix_web::test]
async fn a_stale_timestamp_is_rejected_where_signed() {
    for case in cases().into_iter().filter(|case| case.timestamped) {
        let got = if case.name == "linear" {
            // Linear signs the time in the body: an hour-old one, signed.
            let stale = LINEAR_BODY.replace("1700000000000", "1699996400000");
            let headers = Linear::new("linear-webhook-secret")
                .unwrap()
                .sign(&Message {
                    id: "evt_1",
                    timestamp: NOW,
                    event: "",
                    url: URL,
                    body: stale.as_bytes(),
                });
            send(&case.config, &headers, &stale).await
        } else {
            send(&case.config, &case.stale_headers, case.body).await
        };
        assert_problem(&got, "timestamp_out_of_tolerance", case.name);
    }
}

/// Every preset says which of several secrets verified a delivery, by its
/// position: what the metrics and the span name by the secret's label.
#[actix_web::test]
async fn each_preset_reports_which_secret_verified() {
    for case in cases() {
        let signer = case.scheme.secrets().primary().clone();
        let decoy = || Secret::new("a decoy secret, 32 bytes long....").unwrap();
        let request = Request::new("POST", "/hook", &case.headers, case.body.as_bytes());
        for (secrets, position) in [
            (vec![signer.clone()], 0),
            (vec![decoy(), signer.clone()], 1),
            (vec![decoy(), decoy(), signer.clone(), decoy()], 2),
        ] {
            let secrets = Secrets::new(secrets).unwrap();
            let delivery = case.scheme.verify(&request, &secrets, NOW);
            let secret = delivery.map(|d| d.secret);
            assert_eq!(secret, Ok(Some(position)), "{}", case.name);
        }
    }
}

#[actix_web::test]
async fn a_delivery_signed_with_another_secret_is_rejected() {
    let other = GitHub::new("another secret").unwrap();
    let headers = other.sign(&Message {
        id: "d-1",
        timestamp: NOW,
        event: "push",
        url: "",
        body: JSON_BODY.as_bytes(),
    });
    let config = WebhookConfig::new(GitHub::new("It's a Secret to Everybody").unwrap())
        .clock(FixedClock(NOW));
    let got = send(&config, &headers, JSON_BODY).await;
    assert_problem(&got, "invalid_signature", "github, other secret");
}
