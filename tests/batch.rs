//! Batch senders (HubSpot, Xero): each event of a request is routed,
//! claimed and run on its own; the request gets 200 only when every event
//! is done, and 503 `batch_incomplete` otherwise, so that the sender's
//! resend runs only what was not done. In inbox mode each event is queued
//! on its own.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::{test, web, App};
use actix_webhook::scheme::{HubSpot, Xero};
use actix_webhook::testing::{SigningScheme, TestDelivery};
use actix_webhook::{webhook, Ack, Event, WebhookRouter};
use serde::Deserialize;
use serde_json::{json, Value};

const HUBSPOT_SECRET: &str = "hubspot-client-secret";
const XERO_KEY: &str = "xero-webhook-key";

/// How often each event ran, by its object id, and whether the handler
/// fails for object 25.
#[derive(Default)]
struct Runs {
    attempts: Mutex<HashMap<u64, u32>>,
    broken: AtomicBool,
}

impl Runs {
    fn attempts(&self, object: u64) -> u32 {
        self.attempts
            .lock()
            .unwrap()
            .get(&object)
            .copied()
            .unwrap_or(0)
    }

    fn total(&self) -> u32 {
        self.attempts.lock().unwrap().values().sum()
    }

    /// Counts a run of `object`; fails it when it is 25 and the handler is
    /// broken.
    fn run(&self, object: u64) -> Result<Ack, String> {
        *self.attempts.lock().unwrap().entry(object).or_default() += 1;
        if object == 25 && self.broken.load(Ordering::SeqCst) {
            return Err(format!("object {object}: the database is down"));
        }
        Ok(Ack::processed())
    }
}

#[derive(Deserialize)]
struct HubSpotEvent {
    #[serde(rename = "objectId")]
    object_id: u64,
}

#[webhook(event = "contact.creation")]
async fn contact_created(event: Event<HubSpotEvent>, runs: web::Data<Runs>) -> Result<Ack, String> {
    runs.run(event.object_id)
}

#[derive(Deserialize)]
struct XeroEvent {
    #[serde(rename = "resourceId")]
    resource_id: String,
}

#[webhook(event = "INVOICE.*")]
async fn invoice(event: Event<XeroEvent>, runs: web::Data<Runs>) -> Result<Ack, String> {
    let object = event.resource_id.parse().map_err(|_| "not a number")?;
    runs.run(object)
}

/// HubSpot's body: an array of events, 1 to `n`.
fn hubspot_batch(n: u64) -> Value {
    let events: Vec<Value> = (1..=n)
        .map(|i| {
            json!({
                "eventId": 1_000 + i,
                "subscriptionId": 42,
                "portalId": 62515,
                "occurredAt": 1_700_000_000_000_u64 + i,
                "subscriptionType": "contact.creation",
                "attemptNumber": 0,
                "objectId": i,
                "changeSource": "CRM",
            })
        })
        .collect();
    Value::Array(events)
}

/// Xero's body: events 1 to `n` in `events`, without ids.
fn xero_batch(n: u64) -> Value {
    let events: Vec<Value> = (1..=n)
        .map(|i| {
            json!({
                "resourceUrl": format!("https://api.xero.com/api.xro/2.0/Invoices/{i}"),
                "resourceId": i.to_string(),
                "eventDateUtc": "2026-12-03T08:00:00.000",
                "eventType": "UPDATE",
                "eventCategory": "INVOICE",
                "tenantId": "c2cc9b6e-9458-4c7d-93cc-f02b81b0594f",
                "tenantType": "ORGANISATION",
            })
        })
        .collect();
    json!({"events": events, "firstEventSequence": 1, "lastEventSequence": n, "entropy": "S0MEENTR0PY"})
}

async fn answer(response: ServiceResponse) -> (StatusCode, Value, Option<String>) {
    let status = response.status();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = test::read_body(response).await;
    let json = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&body).unwrap()
    };
    (status, json, retry_after)
}

/// The done-when of batches, for one sender: 50 events where one handler
/// fails get 503; resent, the 49 are duplicates and the failed one runs
/// again; with the handler fixed the batch gets 200. Xero's answers have no
/// body, as Xero asks: their statuses say it all.
async fn one_failure_is_retried_alone(scheme: impl SigningScheme + Clone, body: Value) {
    let bare = scheme.answers().no_body;
    let runs = web::Data::new(Runs::default());
    runs.broken.store(true, Ordering::SeqCst);
    let hooks = WebhookRouter::new(scheme.clone())
        .handler(contact_created)
        .handler(invoice);
    let app = test::init_service(
        App::new()
            .app_data(runs.clone())
            .service(hooks.scope("/webhooks")),
    )
    .await;
    let delivery = TestDelivery::json(&body).uri("/webhooks");
    let send =
        || async { answer(app.call(delivery.sign(&scheme).to_request()).await.unwrap()).await };

    let (status, problem, retry_after) = send().await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{problem}");
    if bare {
        assert_eq!(problem, Value::Null);
    } else {
        assert_eq!(problem["code"], "batch_incomplete");
        let detail = problem["detail"].as_str().unwrap();
        assert!(detail.starts_with("1 of the 50 events"), "{problem}");
    }
    assert!(retry_after.is_some());
    assert_eq!(runs.total(), 50);

    // The sender resends the whole batch: only object 25 runs again.
    let (status, problem, _) = send().await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{problem}");
    assert_eq!(runs.total(), 51);
    assert_eq!(runs.attempts(25), 2);
    assert!((1..=50).filter(|&i| i != 25).all(|i| runs.attempts(i) == 1));

    runs.broken.store(false, Ordering::SeqCst);
    let (status, body, _) = send().await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let counts = json!({"status": "processed", "events": 50, "processed": 1, "queued": 0, "duplicate": 49, "ignored": 0, "rejected": 0});
    assert_eq!(body, if bare { Value::Null } else { counts });
    assert_eq!(runs.attempts(25), 3);

    // Once more: every event is a duplicate, and nothing runs.
    let (status, body, _) = send().await;
    assert_eq!(status, StatusCode::OK);
    if !bare {
        assert_eq!(
            (&body["status"], &body["duplicate"]),
            (&json!("duplicate"), &json!(50))
        );
    }
    assert_eq!(runs.total(), 52);
}

#[actix_web::test]
async fn a_hubspot_batch_with_one_failure_is_resent_until_it_is_done() {
    one_failure_is_retried_alone(HubSpot::new(HUBSPOT_SECRET).unwrap(), hubspot_batch(50)).await;
}

#[actix_web::test]
async fn a_xero_batch_with_one_failure_is_resent_until_it_is_done() {
    one_failure_is_retried_alone(Xero::new(XERO_KEY).unwrap(), xero_batch(50)).await;
}

/// `body` signed by `signer`, sent to a fresh app whose router takes
/// HubSpot's `contact.creation` with [`contact_created`].
async fn to_hubspot(runs: &web::Data<Runs>, body: &Value, signer: &HubSpot) -> (StatusCode, Value) {
    let hooks = WebhookRouter::new(HubSpot::new(HUBSPOT_SECRET).unwrap()).handler(contact_created);
    let app =
        test::init_service(App::new().app_data(runs.clone()).service(hooks.scope("/h"))).await;
    let delivery = TestDelivery::json(body).uri("/h");
    let (status, body, _) =
        answer(app.call(delivery.sign(signer).to_request()).await.unwrap()).await;
    (status, body)
}

#[actix_web::test]
async fn events_no_handler_takes_are_ignored_and_the_rest_run() {
    let runs = web::Data::new(Runs::default());
    let scheme = HubSpot::new(HUBSPOT_SECRET).unwrap();
    let mut body = hubspot_batch(3);
    body[1]["subscriptionType"] = json!("deal.creation");
    let (status, body) = to_hubspot(&runs, &body, &scheme).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (body["processed"].clone(), body["ignored"].clone()),
        (json!(2), json!(1))
    );
    assert_eq!(
        (runs.attempts(1), runs.attempts(2), runs.attempts(3)),
        (1, 0, 1)
    );
}

/// An event refused for good (its payload is not the handler's type) is
/// final, as it would be alone: the rest of the batch is done, and sending
/// it again would not help.
#[actix_web::test]
async fn an_event_that_is_not_the_handlers_type_is_rejected_and_the_batch_done() {
    let runs = web::Data::new(Runs::default());
    let scheme = HubSpot::new(HUBSPOT_SECRET).unwrap();
    let mut body = hubspot_batch(3);
    body[1]["objectId"] = json!("not a number");
    let (status, body) = to_hubspot(&runs, &body, &scheme).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (body["processed"].clone(), body["rejected"].clone()),
        (json!(2), json!(1))
    );
    assert_eq!((runs.attempts(1), runs.attempts(3)), (1, 1));
}

#[actix_web::test]
async fn a_batch_is_refused_whole_when_an_event_has_no_name_or_the_body_is_forged() {
    let runs = web::Data::new(Runs::default());
    let scheme = HubSpot::new(HUBSPOT_SECRET).unwrap();
    let mut body = hubspot_batch(3);
    body[2].as_object_mut().unwrap().remove("subscriptionType");
    let (status, problem) = to_hubspot(&runs, &body, &scheme).await;
    assert_eq!(
        (status, &problem["code"]),
        (StatusCode::BAD_REQUEST, &json!("invalid_payload"))
    );

    let other = HubSpot::new("another secret").unwrap();
    let (status, problem) = to_hubspot(&runs, &hubspot_batch(3), &other).await;
    assert_eq!(
        (status, &problem["code"]),
        (StatusCode::UNAUTHORIZED, &json!("invalid_signature"))
    );
    assert_eq!(runs.total(), 0);
}

#[cfg(feature = "redis")]
#[path = "support/redis_server.rs"]
mod redis_server;

#[cfg(feature = "sqlite")]
#[allow(dead_code)]
#[path = "support/inbox_backend.rs"]
mod inbox_backend;

/// In inbox mode each event is stored on its own and run by the workers;
/// a resent batch is a duplicate, stored once.
#[cfg(feature = "sqlite")]
#[actix_web::test]
async fn in_inbox_mode_each_event_is_queued_on_its_own() {
    use std::time::{Duration, Instant};

    use actix_webhook::inbox::Inbox;

    let file = inbox_backend::TempInbox::new("batch");
    let runs = web::Data::new(Runs::default());
    let scheme = Xero::new(XERO_KEY).unwrap();
    let inbox = Inbox::sqlite(file.path()).unwrap();
    let hooks = WebhookRouter::new(scheme.clone())
        .handler(invoice)
        .inbox(inbox.clone());
    let workers = actix_web::rt::spawn(hooks.workers().app_data(runs.clone()).run());
    let app = test::init_service(App::new().service(hooks.scope("/x"))).await;

    // Queued (202), sent as the bare 200 Xero takes.
    let delivery = TestDelivery::json(&xero_batch(5)).uri("/x");
    let (status, body, _) =
        answer(app.call(delivery.sign(&scheme).to_request()).await.unwrap()).await;
    assert_eq!((status, &body), (StatusCode::OK, &Value::Null));

    let waited = Instant::now();
    while runs.total() < 5 && waited.elapsed() < Duration::from_secs(10) {
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    assert!((1..=5).all(|i| runs.attempts(i) == 1));

    let (status, _, _) = answer(app.call(delivery.sign(&scheme).to_request()).await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    let stats = inbox.stats().await.unwrap();
    assert_eq!(stats.by_state.values().sum::<u64>(), 5, "{stats:?}");
    workers.abort();
}
