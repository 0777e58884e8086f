//! The `Verified` extractor runs the router's pipeline: the handshakes a
//! scheme answers by itself (Slack's `url_verification`, Meta's `GET`
//! challenge, Discord's PING) are answered through it too, without running
//! the handler; a body without the id its sender always sends is refused;
//! another method than `POST` is 405, as from the router.

use std::sync::atomic::{AtomicUsize, Ordering};

use actix_web::test::{call_service, init_service, read_body, TestRequest};
use actix_web::web::{self, Bytes};
use actix_web::{App, HttpResponse};
use actix_webhook::scheme::{Meta, Slack, Stripe};
use actix_webhook::testing::TestDelivery;
use actix_webhook::{Verified, WebhookConfig};
use serde_json::Value;

/// How many times `receive` ran, per app.
type Calls = web::Data<AtomicUsize>;

async fn receive(event: Verified<Bytes>, calls: Calls) -> HttpResponse {
    calls.fetch_add(1, Ordering::SeqCst);
    HttpResponse::Ok().body(format!("handled {}", event.event_name().unwrap_or("-")))
}

/// One resource per scheme, each answering every method with `receive`.
fn endpoint(path: &str, config: WebhookConfig) -> actix_web::Resource {
    web::resource(path)
        .app_data(config)
        .route(web::route().to(receive))
}

#[actix_web::test]
async fn handshakes_are_answered_through_verified() {
    let slack = Slack::new("slack-signing-secret").unwrap();
    let meta = Meta::new("meta-app-secret").unwrap().verify_token("tok");
    let calls = Calls::default();
    let app = init_service(
        App::new()
            .app_data(calls.clone())
            .service(endpoint("/slack", WebhookConfig::new(slack.clone())))
            .service(endpoint("/meta", WebhookConfig::new(meta.clone())))
            .service(endpoint(
                "/stripe",
                WebhookConfig::new(Stripe::new("whsec_stripe").unwrap()),
            )),
    )
    .await;

    // Slack's url_verification, signed: the challenge comes back.
    let challenge = r#"{"type":"url_verification","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","token":"Jhj5dZrVaK7ZwHHjRyZWjbDl"}"#;
    let request = TestDelivery::new(challenge).uri("/slack").sign(&slack);
    let response = call_service(&app, request.to_request()).await;
    assert_eq!(response.status(), 200);
    let answer: Value = serde_json::from_slice(&read_body(response).await).unwrap();
    assert_eq!(
        answer["challenge"],
        "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    );
    // Unsigned, it is refused like any delivery.
    let unsigned = TestRequest::post()
        .uri("/slack")
        .set_payload(challenge)
        .to_request();
    assert_eq!(call_service(&app, unsigned).await.status(), 401);

    // Meta's GET challenge: the challenge comes back as text.
    let get = TestRequest::get()
        .uri("/meta?hub.mode=subscribe&hub.verify_token=tok&hub.challenge=1158201444")
        .to_request();
    let response = call_service(&app, get).await;
    assert_eq!(response.status(), 200);
    assert_eq!(read_body(response).await, "1158201444");
    // With another token it is refused.
    let guess = TestRequest::get()
        .uri("/meta?hub.mode=subscribe&hub.verify_token=guess&hub.challenge=1")
        .to_request();
    assert_eq!(call_service(&app, guess).await.status(), 403);

    // A scheme without a GET handshake: 405, as from the router.
    let get = TestRequest::get().uri("/stripe").to_request();
    let response = call_service(&app, get).await;
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers().get("allow").unwrap(), "POST");

    assert_eq!(calls.load(Ordering::SeqCst), 0, "no handler ran");

    // A genuine delivery still reaches the handler, with its event name.
    let message = r#"{"type":"event_callback","event_id":"Ev1","event":{"type":"app_mention"}}"#;
    let request = TestDelivery::new(message).uri("/slack").sign(&slack);
    let response = call_service(&app, request.to_request()).await;
    assert_eq!(response.status(), 200);
    assert_eq!(read_body(response).await, "handled app_mention");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[actix_web::test]
async fn a_stripe_body_without_its_id_is_refused_through_verified() {
    let stripe = Stripe::new("whsec_stripe").unwrap();
    let calls = Calls::default();
    let app = init_service(
        App::new()
            .app_data(calls.clone())
            .service(endpoint("/stripe", WebhookConfig::new(stripe.clone()))),
    )
    .await;
    let no_id = TestDelivery::new(r#"{"type":"invoice.paid","data":{}}"#)
        .uri("/stripe")
        .sign(&stripe);
    let response = call_service(&app, no_id.to_request()).await;
    assert_eq!(response.status(), 400);
    let problem: Value = serde_json::from_slice(&read_body(response).await).unwrap();
    assert_eq!(problem["code"], "invalid_payload");
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[cfg(feature = "ed25519")]
#[actix_web::test]
async fn discord_ping_is_answered_through_verified() {
    use actix_webhook::scheme::Discord;

    let signer = Discord::with_signing_key(
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
    )
    .unwrap();
    let receiver =
        Discord::new("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a").unwrap();
    let calls = Calls::default();
    let app = init_service(
        App::new()
            .app_data(calls.clone())
            .service(endpoint("/discord", WebhookConfig::new(receiver))),
    )
    .await;
    let ping = TestDelivery::new(r#"{"type":1,"id":"1"}"#)
        .uri("/discord")
        .sign(&signer);
    let response = call_service(&app, ping.to_request()).await;
    assert_eq!(response.status(), 200);
    let answer: Value = serde_json::from_slice(&read_body(response).await).unwrap();
    assert_eq!(answer, serde_json::json!({"type": 1}));
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}
