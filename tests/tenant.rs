//! Per-tenant secrets: each tenant's deliveries verify with its own secret,
//! unknown tenants get 404, a failing resolver 503, and answers are cached
//! without made-up names pushing known tenants out.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

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

/// Lookups by tenant name.
#[derive(Clone, Default)]
struct Lookups(Arc<Mutex<HashMap<String, usize>>>);

impl Lookups {
    fn count(&self, tenant: &str) {
        *self.0.lock().unwrap().entry(tenant.to_owned()).or_default() += 1;
    }
    fn of(&self, tenant: &str) -> usize {
        self.0.lock().unwrap().get(tenant).copied().unwrap_or(0)
    }
    fn total(&self) -> usize {
        self.0.lock().unwrap().values().sum()
    }
}

/// Knows `acme` and `globex`, fails for `broken`, counts every lookup.
fn counting_resolver(
    lookups: &Lookups,
) -> impl Fn(String) -> std::future::Ready<Result<Option<Secrets>, ResolveError>> + Send + Sync {
    let lookups = lookups.clone();
    move |tenant: String| {
        lookups.count(&tenant);
        std::future::ready(match tenant.as_str() {
            "acme" | "globex" => Ok(Some(Secrets::from(secret_of(&tenant)))),
            "broken" => Err(ResolveError::new("database down")),
            _ => Ok(None),
        })
    }
}

fn fallback() -> StandardWebhooks {
    StandardWebhooks::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap()
}

/// Sends and returns the status and the problem or ack's code/status word.
macro_rules! send {
    ($app:expr, $req:expr) => {{
        let res = test::call_service(&$app, $req.to_request()).await;
        let status = res.status();
        let retry_after = res.headers().contains_key("retry-after");
        let json: Value =
            serde_json::from_slice(&test::read_body(res).await).unwrap_or(Value::Null);
        let word = json["status"]
            .as_str()
            .or(json["code"].as_str())
            .unwrap_or("")
            .to_owned();
        (status, word, retry_after)
    }};
}

#[actix_web::test]
async fn duration_max_in_any_setting_with_tenants() {
    // `cache_for(Duration::MAX)` used to overflow `now + ttl` on every
    // request, before verification: a panic and no answer.
    type Setting = fn(WebhookRouter, Tenants) -> WebhookRouter;
    let settings: [(&str, Setting); 2] = [
        ("cache_for", |r, t| r.tenants(t.cache_for(Duration::MAX))),
        ("all together", |r, t| {
            r.lease(Duration::MAX)
                .remember_for(Duration::MAX)
                .retry_after(Duration::MAX)
                .body_timeout(Duration::MAX)
                .tenants(t.cache_for(Duration::MAX))
        }),
    ];
    for (setting, set) in settings {
        let lookups = Lookups::default();
        let tenants = Tenants::new("tenant", counting_resolver(&lookups));
        let hooks = set(
            WebhookRouter::new(fallback()).clock(FixedClock(NOW)),
            tenants,
        )
        .handler(any);
        let app = test::init_service(App::new().service(hooks.scope("/webhooks/{tenant}"))).await;

        // Uncached, then cached.
        let (ok, duplicate, unknown, unavailable) = (
            (StatusCode::OK, "processed", false),
            (StatusCode::OK, "duplicate", false),
            (StatusCode::NOT_FOUND, "unknown_tenant", false),
            (StatusCode::SERVICE_UNAVAILABLE, "unavailable", true),
        );
        for (tenant, id, (status, code, retry_after)) in [
            ("acme", "m1", ok),
            ("acme", "m1", duplicate),
            ("acme", "m2", ok),
            ("globex", "m1", ok),
            ("globex", "m1", duplicate),
            ("initech", "m1", unknown),
            ("initech", "m2", unknown),
            ("broken", "m1", unavailable),
        ] {
            assert_eq!(
                send!(app, delivery(tenant, &secret_of(tenant), id)),
                (status, code.to_owned(), retry_after),
                "{setting}: {tenant}/{id}"
            );
        }
        for tenant in ["acme", "globex", "initech", "broken"] {
            assert_eq!(lookups.of(tenant), 1, "{setting}: {tenant}");
        }
    }
}

#[actix_web::test]
async fn unknown_names_do_not_push_out_known_tenants() {
    let lookups = Lookups::default();
    let hooks = WebhookRouter::new(fallback())
        .clock(FixedClock(NOW))
        .tenants(Tenants::new("tenant", counting_resolver(&lookups)))
        .handler(any);
    let app = test::init_service(App::new().service(hooks.scope("/webhooks/{tenant}"))).await;
    let acme = |id: &str| delivery("acme", &secret_of("acme"), id);

    assert_eq!(send!(app, acme("m0")).0, StatusCode::OK);
    assert_eq!(lookups.of("acme"), 1);

    let unknown = |i: usize| format!("made-up-{i}");
    for i in 0..5_000 {
        let (status, code, _) = send!(app, delivery(&unknown(i), &secret_of("x"), "m1"));
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::NOT_FOUND, "unknown_tenant"),
            "{i}"
        );
    }
    assert_eq!(send!(app, acme("m1")).1, "processed");
    assert_eq!(lookups.of("acme"), 1, "acme is still cached");

    // One lookup per unknown name; the last 1,024 are cached, so their
    // repeats cost none, while the oldest were pushed out.
    assert_eq!(lookups.total(), 1 + 5_000);
    for i in 5_000 - 1_024..5_000 {
        assert_eq!(
            send!(app, delivery(&unknown(i), &secret_of("x"), "m2")).0,
            StatusCode::NOT_FOUND
        );
    }
    assert_eq!(lookups.total(), 1 + 5_000);
    assert_eq!(
        send!(app, delivery(&unknown(0), &secret_of("x"), "m2")).0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(lookups.of(&unknown(0)), 2);

    // Names too long to cache cost a lookup each time.
    let long = "x".repeat(129);
    for _ in 0..2 {
        assert_eq!(
            send!(app, delivery(&long, &secret_of("x"), "m1")).0,
            StatusCode::NOT_FOUND
        );
    }
    assert_eq!(lookups.of(&long), 2);
    assert_eq!(send!(app, acme("m2")).1, "processed");
    assert_eq!(lookups.of("acme"), 1);
}

#[actix_web::test]
async fn lookups_at_once_are_bounded() {
    const MAX: usize = 4;
    const FLOOD: usize = 20;
    let lookups = Lookups::default();
    let open = Arc::new(AtomicBool::new(true));
    let resolver = {
        let (lookups, open) = (lookups.clone(), open.clone());
        move |tenant: String| {
            lookups.count(&tenant);
            let open = open.clone();
            async move {
                // Held until the test opens the gate.
                while !open.load(Ordering::SeqCst) {
                    tokio::task::yield_now().await;
                }
                Ok((tenant == "acme").then(|| Secrets::from(secret_of("acme"))))
            }
        }
    };
    let hooks = WebhookRouter::new(fallback())
        .clock(FixedClock(NOW))
        .tenants(
            Tenants::new("tenant", resolver)
                .max_lookups(MAX)
                .cache_for(Duration::from_millis(50)),
        )
        .handler(any);
    let app = test::init_service(App::new().service(hooks.scope("/webhooks/{tenant}"))).await;
    assert_eq!(
        send!(app, delivery("acme", &secret_of("acme"), "m0")).0,
        StatusCode::OK
    );
    // Acme's answer goes stale.
    actix_web::rt::time::sleep(Duration::from_millis(100)).await;

    open.store(false, Ordering::SeqCst);
    let flood = (0..FLOOD).map(|i| {
        test::call_service(
            &app,
            delivery(&format!("made-up-{i}"), &secret_of("x"), "m1").to_request(),
        )
    });
    let while_held = async {
        for _ in 0..10_000 {
            // Acme's lookup, then `MAX` held.
            if lookups.total() > MAX {
                break;
            }
            tokio::task::yield_now().await;
        }
        // A known tenant keeps its stale answer while lookups are held.
        let cached = send!(app, delivery("acme", &secret_of("acme"), "m1"));
        open.store(true, Ordering::SeqCst);
        cached
    };
    let (responses, cached) =
        futures_util::future::join(futures_util::future::join_all(flood), while_held).await;

    assert_eq!(cached.1, "processed");
    let count = |status| responses.iter().filter(|r| r.status() == status).count();
    assert_eq!(count(StatusCode::NOT_FOUND), MAX);
    assert_eq!(count(StatusCode::SERVICE_UNAVAILABLE), FLOOD - MAX);
    assert_eq!(
        lookups.total(),
        1 + MAX,
        "refused lookups never reach the resolver"
    );
    for res in responses {
        if res.status() == StatusCode::SERVICE_UNAVAILABLE {
            assert!(res.headers().contains_key("retry-after"));
            let json: Value = test::read_body_json(res).await;
            assert_eq!(json["code"], "unavailable");
        }
    }

    // Finished lookups free their places.
    for i in 0..MAX * 2 {
        let (status, code, _) = send!(app, delivery(&format!("later-{i}"), &secret_of("x"), "m1"));
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::NOT_FOUND, "unknown_tenant")
        );
    }
    assert_eq!(lookups.of("acme"), 1);
}

/// A resolver reading an unset variable gets an error building the secret,
/// never a secret anyone can sign with: 500 `not_configured`, even for a
/// delivery signed with an empty key.
#[actix_web::test]
async fn an_empty_tenant_secret_is_not_configured() {
    let resolver = |tenant: String| async move {
        let stored = if tenant == "acme" {
            format!("secret of {tenant}")
        } else {
            // e.g. `std::env::var(..).unwrap_or_default()` of an unset variable.
            String::new()
        };
        Ok(Some(Secrets::from(Secret::new(stored)?)))
    };
    let fallback = StandardWebhooks::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
    let hooks = WebhookRouter::new(fallback)
        .clock(FixedClock(NOW))
        .tenants(Tenants::new("tenant", resolver))
        .handler(any);
    let app = test::init_service(App::new().service(hooks.scope("/webhooks/{tenant}"))).await;

    // A forgery: HMAC-SHA256 under an empty key, which anyone can compute.
    let body = br#"{"type":"ping"}"#;
    let signed = format!("msg_1.{NOW}.{}", std::str::from_utf8(body).unwrap());
    let forged = {
        use base64::Engine as _;
        use hmac::Mac as _;
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"").unwrap();
        mac.update(signed.as_bytes());
        format!(
            "v1,{}",
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
        )
    };
    let req = test::TestRequest::post()
        .uri("/webhooks/globex")
        .insert_header(("webhook-id", "msg_1"))
        .insert_header(("webhook-timestamp", NOW.to_string()))
        .insert_header(("webhook-signature", forged))
        .set_payload(&body[..])
        .to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        res.headers().get("content-type").unwrap(),
        "application/problem+json"
    );
    let json: Value = test::read_body_json(res).await;
    assert_eq!(json["code"], "not_configured");

    let res = test::call_service(
        &app,
        delivery("acme", &secret_of("acme"), "m1").to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
}

/// The `Verified` extractor with tenants: one `WebhookConfig` serves an
/// ordinary actix-web handler and, through `WebhookRouter::from_config`, a
/// router; both verify with the tenant's secret and refuse unknown tenants
/// and a failing resolver alike.
#[actix_web::test]
async fn verified_and_a_router_from_the_same_config_verify_per_tenant() {
    use actix_web::{web, HttpResponse};
    use actix_webhook::{Verified, WebhookConfig};

    async fn receive(event: Verified<web::Bytes>) -> HttpResponse {
        HttpResponse::Ok().body(event.delivery_id().unwrap_or("-").to_owned())
    }

    let lookups = Lookups::default();
    let config = WebhookConfig::new(fallback())
        .clock(FixedClock(NOW))
        .tenants(Tenants::new("tenant", counting_resolver(&lookups)))
        .retry_after(Duration::from_secs(9));
    let hooks = WebhookRouter::from_config(config.clone()).handler(any);
    let app = test::init_service(
        App::new()
            .service(hooks.scope("/webhooks/{tenant}"))
            .service(
                web::resource("/verified/{tenant}")
                    .app_data(config)
                    .route(web::post().to(receive)),
            ),
    )
    .await;
    // `delivery` posts to `/webhooks/<tenant>`; send it to `path` instead.
    let to = |path: &str, req: test::TestRequest| req.uri(path);

    for prefix in ["/webhooks", "/verified"] {
        let path = |tenant: &str| format!("{prefix}/{tenant}");
        let (status, _, _) = send!(
            app,
            to(&path("acme"), delivery("acme", &secret_of("acme"), "m1"))
        );
        assert_eq!(status, StatusCode::OK, "{prefix}");
        let (status, word, _) = send!(
            app,
            to(&path("acme"), delivery("acme", &secret_of("globex"), "m2"))
        );
        assert_eq!(
            (status, word.as_str()),
            (StatusCode::UNAUTHORIZED, "invalid_signature"),
            "{prefix}: another tenant's secret"
        );
        let (status, word, _) = send!(
            app,
            to(
                &path("initech"),
                delivery("initech", &secret_of("initech"), "m3")
            )
        );
        assert_eq!(
            (status, word.as_str()),
            (StatusCode::NOT_FOUND, "unknown_tenant"),
            "{prefix}"
        );
        let res = test::call_service(
            &app,
            to(
                &path("broken"),
                delivery("broken", &secret_of("broken"), "m4"),
            )
            .to_request(),
        )
        .await;
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE, "{prefix}");
        assert_eq!(res.headers().get("retry-after").unwrap(), "9", "{prefix}");
    }
    // Both share the config's tenant cache: acme and initech once each,
    // broken (not cached) once per receiver.
    assert_eq!(lookups.of("acme"), 1);
    assert_eq!(lookups.of("initech"), 1);
    assert_eq!(lookups.of("broken"), 2);
}
