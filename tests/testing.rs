//! `actix_webhook::testing`: a `TestDelivery` signed by each preset passes
//! a router with `#[webhook]` handlers, runs the right handler once, and the
//! same request tampered or stale is refused.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use actix_web::test::{call_service, init_service, read_body_json};
use actix_web::{web, App};
#[cfg(feature = "ed25519")]
use actix_webhook::scheme::Discord;
use actix_webhook::scheme::{
    EventName, GenericHmac, GitHub, GitLab, Meta, Paddle, Scheme, Shopify, Signer, Slack,
    StandardWebhooks, Stripe, Twilio,
};
use actix_webhook::testing::{SigningScheme, TestDelivery};
use actix_webhook::{webhook, Ack, Event, Secret, WebhookRouter};
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
struct OrderPaid {
    order_id: String,
    amount_cents: u64,
}

/// How many times each handler ran.
#[derive(Default)]
struct Calls {
    order_paid: AtomicUsize,
    issues_opened: AtomicUsize,
    other: AtomicUsize,
}

#[webhook(event = "order_paid")]
async fn order_paid(event: Event<OrderPaid>, calls: web::Data<Calls>) -> Ack {
    assert_eq!(event.order_id, "ord_1");
    assert_eq!(event.amount_cents, 1250);
    calls.order_paid.fetch_add(1, Ordering::SeqCst);
    Ack::processed()
}

#[webhook(event = "issues.opened")]
async fn issues_opened(event: Event<Value>, calls: web::Data<Calls>) -> Ack {
    assert_eq!(event["action"], "opened");
    calls.issues_opened.fetch_add(1, Ordering::SeqCst);
    Ack::processed()
}

#[webhook(event = "*")]
async fn other(_event: Event<web::Bytes>, calls: web::Data<Calls>) -> Ack {
    calls.other.fetch_add(1, Ordering::SeqCst);
    Ack::processed()
}

const ORDER: &str = r#"{"id":"evt_1","event_id":"evt_1","type":"order_paid","object":"order_paid","event_type":"order_paid","order_id":"ord_1","amount_cents":1250}"#;

/// A test service: `scheme`'s router at `/webhooks` with the handlers above,
/// counting their runs in `calls`.
macro_rules! app {
    ($scheme:expr, $calls:expr) => {
        init_service(
            App::new().app_data($calls.clone()).service(
                WebhookRouter::new($scheme)
                    .handler(order_paid)
                    .handler(issues_opened)
                    .handler(other)
                    .scope("/webhooks"),
            ),
        )
        .await
    };
}

#[actix_web::test]
async fn a_signed_delivery_runs_its_handler_once() {
    let scheme = StandardWebhooks::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
    let calls = web::Data::new(Calls::default());
    let app = app!(scheme.clone(), calls);

    let delivery = TestDelivery::new(ORDER).uri("/webhooks");
    let response = call_service(&app, delivery.sign(&scheme).to_request()).await;
    assert_eq!(response.status(), 200);
    let body: Value = read_body_json(response).await;
    assert_eq!(body["status"], "processed");
    assert_eq!(body["event"], "order_paid");
    assert!(body["id"].as_str().unwrap().starts_with("msg_test_"));
    assert_eq!(calls.order_paid.load(Ordering::SeqCst), 1);

    // Signed again, it is the same delivery: acknowledged, not run again.
    let response = call_service(&app, delivery.sign(&scheme).to_request()).await;
    let body: Value = read_body_json(response).await;
    assert_eq!(body["status"], "duplicate");
    assert_eq!(calls.order_paid.load(Ordering::SeqCst), 1);

    // A new delivery of the same body is a new id.
    let response = call_service(
        &app,
        TestDelivery::new(ORDER)
            .uri("/webhooks")
            .sign(&scheme)
            .to_request(),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(calls.order_paid.load(Ordering::SeqCst), 2);
}

#[actix_web::test]
async fn tampered_stale_or_wrongly_signed_deliveries_are_refused() {
    let scheme = StandardWebhooks::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
    let calls = web::Data::new(Calls::default());
    let app = app!(scheme.clone(), calls);

    let tampered = TestDelivery::new(ORDER)
        .uri("/webhooks")
        .sign(&scheme)
        .set_payload(ORDER.replace("1250", "1"));
    let stale = TestDelivery::new(ORDER)
        .uri("/webhooks")
        .timestamp(1_600_000_000)
        .sign(&scheme);
    let other_secret = StandardWebhooks::new("whsec_b2xkIHNlY3JldA==").unwrap();
    let forged = TestDelivery::new(ORDER)
        .uri("/webhooks")
        .sign(&other_secret);
    for (what, request, code) in [
        ("tampered", tampered, "invalid_signature"),
        ("stale", stale, "timestamp_out_of_tolerance"),
        ("forged", forged, "invalid_signature"),
    ] {
        let response = call_service(&app, request.to_request()).await;
        assert_eq!(response.status(), 401, "{what}");
        let body: Value = read_body_json(response).await;
        assert_eq!(body["code"], code, "{what}");
    }
    assert_eq!(calls.order_paid.load(Ordering::SeqCst), 0);
}

#[actix_web::test]
async fn header_events_route_by_the_event_set_on_the_delivery() {
    let scheme = GitHub::new("It's a Secret to Everybody").unwrap();
    let calls = web::Data::new(Calls::default());
    let app = app!(scheme.clone(), calls);

    let opened = TestDelivery::new(r#"{"action":"opened","issue":{"number":1}}"#)
        .uri("/webhooks")
        .event("issues");
    let response = call_service(&app, opened.sign(&scheme).to_request()).await;
    let body: Value = read_body_json(response).await;
    assert_eq!(body["event"], "issues.opened");
    assert_eq!(calls.issues_opened.load(Ordering::SeqCst), 1);

    let push = TestDelivery::new(r#"{"ref":"refs/heads/main"}"#)
        .uri("/webhooks")
        .event("push")
        .id("72d3162e-cc78-11e3-81ab-4c9367dc0958");
    let response = call_service(&app, push.sign(&scheme).to_request()).await;
    let body: Value = read_body_json(response).await;
    assert_eq!(body["event"], "push");
    assert_eq!(body["id"], "72d3162e-cc78-11e3-81ab-4c9367dc0958");
    assert_eq!(calls.other.load(Ordering::SeqCst), 1);
}

#[actix_web::test]
async fn a_github_event_with_its_action_runs_the_handler_of_that_action() {
    let scheme = GitHub::new("It's a Secret to Everybody").unwrap();
    let calls = web::Data::new(Calls::default());
    let app = app!(scheme.clone(), calls);

    let opened = TestDelivery::new(r#"{"action":"opened","issue":{"number":1}}"#)
        .uri("/webhooks")
        .event("issues.opened");
    // Sent as GitHub sends it: the header names the event, the body the action.
    let headers = opened.headers(&scheme);
    assert!(headers.contains(&("X-GitHub-Event".into(), "issues".into())));
    let response = call_service(&app, opened.sign(&scheme).to_request()).await;
    let body: Value = read_body_json(response).await;
    assert_eq!(body["status"], "processed");
    assert_eq!(body["event"], "issues.opened");
    assert_eq!(calls.issues_opened.load(Ordering::SeqCst), 1);
    assert_eq!(calls.other.load(Ordering::SeqCst), 0);
}

/// The panic message of `f`.
fn panic_message(f: impl FnOnce()) -> String {
    let payload =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).expect_err("expected a panic");
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_default()
}

/// Header-routed providers always send their event header: a delivery
/// without an event name is not one they send, and signing it panics with
/// the header's name instead of producing a request the app answers 401 or
/// 200 `ignored`.
#[test]
fn header_routed_schemes_need_an_event_name() {
    let generic = GenericHmac::new("X-Signature", Secret::new("generic-secret").unwrap())
        .event_name(EventName::Header("X-Event"));
    let schemes: [(&str, Box<dyn Signer>, &str); 4] = [
        (
            "X-GitHub-Event",
            Box::new(GitHub::new("github-secret").unwrap()),
            "push",
        ),
        (
            "X-Shopify-Topic",
            Box::new(Shopify::new("shopify-secret").unwrap()),
            "orders/create",
        ),
        (
            "X-Gitlab-Event",
            Box::new(GitLab::new("gitlab-token").unwrap()),
            "Push Hook",
        ),
        ("X-Event", Box::new(generic), "order_paid"),
    ];
    for (header, scheme, event) in &schemes {
        let unnamed = TestDelivery::new(ORDER).uri("/webhooks");
        let message = panic_message(|| drop(unnamed.sign(&**scheme)));
        assert!(message.contains(&format!("`{header}`")), "{message}");
        assert!(message.contains(".event("), "{message}");
        // `headers` is `sign` without the request: the same check.
        let message = panic_message(|| drop(unnamed.headers(&**scheme)));
        assert!(message.contains(&format!("`{header}`")), "{message}");

        let named = unnamed.event(event);
        assert!(named
            .headers(&**scheme)
            .contains(&((*header).to_owned(), (*event).to_owned())));
    }
    // Body-routed schemes need none.
    let stripe = Stripe::new("whsec_stripe").unwrap();
    assert!(!TestDelivery::new(ORDER).headers(&stripe).is_empty());
}

/// `issues.opened` is `X-GitHub-Event: issues` and the body's action
/// `opened`; a body with another action (or none) would be routed as
/// another event, so signing it panics.
#[test]
fn a_github_action_the_body_does_not_have_is_refused() {
    let scheme = GitHub::new("github-secret").unwrap();
    for (body, found) in [
        (r#"{"action":"closed"}"#, "`closed`"),
        (r#"{"ref":"refs/heads/main"}"#, "absent"),
    ] {
        let delivery = TestDelivery::new(body).event("issues.opened");
        let message = panic_message(|| drop(delivery.sign(&scheme)));
        assert!(
            message.contains(&format!("its `/action` is {found}")),
            "{message}"
        );
    }
    // The bare event is sent as it is, whatever the action.
    let closed = TestDelivery::new(r#"{"action":"closed"}"#).event("issues");
    assert!(closed
        .headers(&scheme)
        .contains(&("X-GitHub-Event".into(), "issues".into())));
}

#[actix_web::test]
async fn twilio_signs_the_url_the_delivery_names() {
    let form = "MessageSid=SM1&Body=hello&EventType=order_paid_sms";
    // With a public URL, the delivery is signed for that URL.
    let scheme = Twilio::new("twilio-auth-token")
        .unwrap()
        .public_url("https://example.com");
    let calls = web::Data::new(Calls::default());
    let app = app!(scheme.clone(), calls);
    let delivery = TestDelivery::new(form).url("https://example.com/webhooks");
    let response = call_service(&app, delivery.sign(&scheme).to_request()).await;
    assert_eq!(response.status(), 200);
    // Signed for another URL, it is refused.
    let elsewhere = TestDelivery::new(form).url("https://attacker.example/webhooks");
    let response = call_service(&app, elsewhere.sign(&scheme).to_request()).await;
    assert_eq!(response.status(), 401);

    // Without one, Twilio's URL is https:// and the Host header: the
    // default `https://localhost`.
    let scheme = Twilio::new("twilio-auth-token").unwrap();
    let app = app!(scheme.clone(), calls);
    let delivery = TestDelivery::new(form).uri("/webhooks?source=sms");
    let response = call_service(&app, delivery.sign(&scheme).to_request()).await;
    assert_eq!(response.status(), 200);
    assert_eq!(calls.other.load(Ordering::SeqCst), 2);
}

/// A delivery signed by `scheme` passes its router and runs one handler;
/// the same headers on another body are refused.
async fn check_preset<S: Scheme + Signer + Clone>(name: &str, scheme: S) {
    let calls = web::Data::new(Calls::default());
    let app = app!(scheme.clone(), calls);
    let delivery = TestDelivery::new(ORDER)
        .uri("/webhooks")
        .event("order_paid");
    let response = call_service(&app, delivery.sign(&scheme).to_request()).await;
    assert_eq!(response.status(), 200, "{name}");
    let body: Value = read_body_json(response).await;
    assert_eq!(body["status"], "processed", "{name}: {body}");
    let handled = calls.order_paid.load(Ordering::SeqCst) + calls.other.load(Ordering::SeqCst);
    assert_eq!(handled, 1, "{name}");

    // GitLab's secret token signs nothing; every other preset refuses the
    // same headers on another body.
    if name != "gitlab" {
        let tampered = TestDelivery::new(ORDER)
            .uri("/webhooks")
            .event("order_paid")
            .sign(&scheme)
            .set_payload(ORDER.replace("1250", "1"));
        let response = call_service(&app, tampered.to_request()).await;
        assert_eq!(response.status(), 401, "{name}");
        let body: Value = read_body_json(response).await;
        assert_eq!(body["code"], "invalid_signature", "{name}");
    }
}

#[actix_web::test]
async fn every_preset_signs_deliveries_its_router_accepts() {
    let standard = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    check_preset("standard", StandardWebhooks::new(standard).unwrap()).await;
    check_preset("github", GitHub::new("It's a Secret to Everybody").unwrap()).await;
    check_preset("stripe", Stripe::new("whsec_stripe").unwrap()).await;
    check_preset("slack", Slack::new("slack-signing-secret").unwrap()).await;
    check_preset("shopify", Shopify::new("shopify-client-secret").unwrap()).await;
    check_preset("gitlab", GitLab::new("gitlab-token").unwrap()).await;
    check_preset(
        "gitlab signing token",
        GitLab::with_signing_token(standard).unwrap(),
    )
    .await;
    check_preset("paddle", Paddle::new("pdl_secret").unwrap()).await;
    check_preset("meta", Meta::new("meta-app-secret").unwrap()).await;
    #[cfg(feature = "ed25519")]
    {
        let v1a = "whsk_nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=";
        check_preset(
            "standard v1a",
            StandardWebhooks::with_signing_key(v1a).unwrap(),
        )
        .await;
        let discord = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
        check_preset("discord", Discord::with_signing_key(discord).unwrap()).await;
    }
}

/// Providers held as `Arc<dyn SigningScheme>`, as the `webhook` command line
/// holds them: each one, boxed, signs deliveries its router (built from the
/// same value) verifies and hands to the handler.
#[actix_web::test]
async fn presets_held_as_signing_schemes_sign_what_their_routers_accept() {
    let standard = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let providers: Vec<(&str, Arc<dyn SigningScheme>)> = vec![
        (
            "standard",
            Arc::new(StandardWebhooks::new(standard).unwrap()),
        ),
        (
            "github",
            Arc::new(GitHub::new("It's a Secret to Everybody").unwrap()),
        ),
        ("stripe", Arc::new(Stripe::new("whsec_stripe").unwrap())),
        (
            "shopify",
            Arc::new(Shopify::new("shopify-client-secret").unwrap()),
        ),
    ];
    for (name, scheme) in providers {
        let calls = web::Data::new(Calls::default());
        let app = app!(scheme.clone(), calls);
        let delivery = TestDelivery::new(ORDER)
            .uri("/webhooks")
            .event("order_paid");
        let response = call_service(&app, delivery.sign(&*scheme).to_request()).await;
        assert_eq!(response.status(), 200, "{name}");
        let body: Value = read_body_json(response).await;
        assert_eq!(body["status"], "processed", "{name}: {body}");
        assert_eq!(calls.order_paid.load(Ordering::SeqCst), 1, "{name}");
    }
}

/// The app under test verifies ed25519 deliveries with the public key only,
/// as in production; the test signs with the private key.
#[cfg(feature = "ed25519")]
#[actix_web::test]
async fn key_pair_schemes_sign_with_the_private_key_and_verify_with_the_public_one() {
    let signer = Discord::with_signing_key(
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
    )
    .unwrap();
    let receiver =
        Discord::new("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a").unwrap();
    let calls = web::Data::new(Calls::default());
    let app = app!(receiver, calls);
    let response = call_service(
        &app,
        TestDelivery::new(ORDER)
            .uri("/webhooks")
            .sign(&signer)
            .to_request(),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(calls.order_paid.load(Ordering::SeqCst), 1);

    // Discord's PING is answered by the scheme, no handler runs.
    let ping = TestDelivery::new(r#"{"type":1,"id":"1"}"#)
        .uri("/webhooks")
        .sign(&signer);
    let response = call_service(&app, ping.to_request()).await;
    let body: Value = read_body_json(response).await;
    assert_eq!(body, serde_json::json!({"type": 1}));
    assert_eq!(calls.other.load(Ordering::SeqCst), 0);
}
