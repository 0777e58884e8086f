//! Per-tenant secrets: each tenant's deliveries verify with its own secret,
//! unknown tenants get 404, a failing resolver 503, and answers are cached.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{test, App};
use actix_webhook::scheme::StandardWebhooks;
use actix_webhook::tenant::{ResolveError, Tenants};
use actix_webhook::verify::FixedClock;
use actix_webhook::{webhook, Event, Secret, Secrets, WebhookRouter};
use serde_json::Value;

const NOW: i64 = 1_700_000_000;

#[webhook(event = "*")]
async fn any(_event: Event<Value>) {}

fn secret_of(tenant: &str) -> Secret {
    Secret::new(format!("secret of {tenant}")).unwrap()
}

fn delivery(tenant_path: &str, signer: &Secret, id: &str) -> test::TestRequest {
    let body = br#"{"type":"ping"}"#;
    let signature = StandardWebhooks::with_secrets(signer.clone()).signature(id, NOW, body);
    test::TestRequest::post()
        .uri(&format!("/webhooks/{tenant_path}"))
        .insert_header(("webhook-id", id))
        .insert_header(("webhook-timestamp", NOW.to_string()))
        .insert_header(("webhook-signature", signature))
        .set_payload(&body[..])
}

#[actix_web::test]
async fn each_tenant_verifies_with_its_own_secret() {
    let lookups = Arc::new(AtomicUsize::new(0));
    let counter = lookups.clone();
    let resolver = move |tenant: String| {
        counter.fetch_add(1, Ordering::SeqCst);
        async move {
            match tenant.as_str() {
                "acme" | "globex" => Ok(Some(Secrets::from(secret_of(&tenant)))),
                "broken" => Err(ResolveError::new("database down")),
                _ => Ok(None),
            }
        }
    };
    let fallback = StandardWebhooks::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
    let hooks = WebhookRouter::new(fallback)
        .clock(FixedClock(NOW))
        .tenants(Tenants::new("tenant", resolver))
        .handler(any);
    let app = test::init_service(App::new().service(hooks.scope("/webhooks/{tenant}"))).await;

    let status = |res: actix_web::dev::ServiceResponse| res.status();
    let call = |req: test::TestRequest| test::call_service(&app, req.to_request());

    assert_eq!(
        status(call(delivery("acme", &secret_of("acme"), "m1")).await),
        StatusCode::OK
    );
    assert_eq!(
        status(call(delivery("globex", &secret_of("globex"), "m1")).await),
        StatusCode::OK,
        "ids are per tenant"
    );
    let res = call(delivery("acme", &secret_of("globex"), "m2")).await;
    assert_eq!(
        res.status(),
        StatusCode::UNAUTHORIZED,
        "another tenant's secret"
    );

    let res = call(delivery("initech", &secret_of("initech"), "m3")).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        res.headers().get("content-type").unwrap(),
        "application/problem+json"
    );
    let json: Value = test::read_body_json(res).await;
    assert_eq!(json["code"], "unknown_tenant");

    let res = call(delivery("broken", &secret_of("broken"), "m4")).await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(res.headers().contains_key("retry-after"));

    // acme, globex, initech and broken were each looked up once; broken
    // failed and is not cached, the others are.
    let before = lookups.load(Ordering::SeqCst);
    assert_eq!(before, 4);
    call(delivery("acme", &secret_of("acme"), "m5")).await;
    call(delivery("initech", &secret_of("initech"), "m6")).await;
    call(delivery("broken", &secret_of("broken"), "m7")).await;
    assert_eq!(lookups.load(Ordering::SeqCst), before + 1);
}
