//! No delivery is dropped without a trace: bare names match their actions,
//! deliveries without an event name are refused with what is missing, an
//! unhandled event is logged, and a payload that does not fit its handler's
//! type says where and why (and can be retried).

use std::sync::Mutex;
use std::time::Duration;

use actix_web::{test, web, App};
use actix_webhook::scheme::{GitHub, StandardWebhooks, Stripe};
use actix_webhook::testing::TestDelivery;
use actix_webhook::{webhook, Ack, Event, PayloadMismatch, WebhookRouter};
use serde::Deserialize;
use serde_json::{json, Value};

#[path = "support/capture.rs"]
mod capture;
use capture::Capture;

/// Which handler ran, for which event name.
#[derive(Default)]
struct Runs(Mutex<Vec<(&'static str, String)>>);

impl Runs {
    fn take(&self) -> Vec<(&'static str, String)> {
        std::mem::take(&mut self.0.lock().unwrap())
    }
}

#[webhook(event = "issues")]
async fn any_issue_event(event: Event<Value>, runs: web::Data<Runs>) -> Ack {
    runs.0.lock().unwrap().push(("issues", event.name().into()));
    Ack::processed()
}

#[webhook(event = "issues.opened")]
async fn issue_opened(event: Event<Value>, runs: web::Data<Runs>) -> Ack {
    runs.0
        .lock()
        .unwrap()
        .push(("issues.opened", event.name().into()));
    Ack::processed()
}

#[webhook(event = "pull_request.*")]
async fn pull_request_actions(event: Event<Value>, runs: web::Data<Runs>) -> Ack {
    runs.0
        .lock()
        .unwrap()
        .push(("pull_request.*", event.name().into()));
    Ack::processed()
}

#[webhook(event = "*")]
async fn anything(event: Event<Value>, runs: web::Data<Runs>) -> Ack {
    runs.0.lock().unwrap().push(("*", event.name().into()));
    Ack::processed()
}

const GITHUB_SECRET: &str = "It's a Secret to Everybody";
const STANDARD_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

macro_rules! app {
    ($router:expr, $runs:expr) => {
        test::init_service(
            App::new()
                .app_data($runs.clone())
                .service($router.scope("/webhooks")),
        )
        .await
    };
}

async fn answer(response: actix_web::dev::ServiceResponse) -> (u16, Value) {
    let status = response.status().as_u16();
    let body = test::read_body(response).await;
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

#[actix_web::test]
async fn a_bare_name_handles_every_action_and_the_most_specific_pattern_wins() {
    let scheme = GitHub::new(GITHUB_SECRET).unwrap();
    let runs = web::Data::new(Runs::default());
    let router = WebhookRouter::new(scheme.clone())
        .handler(any_issue_event)
        .handler(issue_opened)
        .handler(pull_request_actions)
        .handler(anything);
    let app = app!(router, runs);

    // GitHub's header names the event, the body's `action` the action.
    let cases = [
        ("issues", Some("opened"), "issues.opened", "issues.opened"),
        ("issues", Some("closed"), "issues", "issues.closed"),
        ("issues", Some("labeled"), "issues", "issues.labeled"),
        ("issues", None, "issues", "issues"),
        (
            "pull_request",
            Some("opened"),
            "pull_request.*",
            "pull_request.opened",
        ),
        // Only the dotted form: `issues` is no prefix of `issues_x`, and a
        // prefix pattern does not match its bare name.
        ("issues_x", Some("opened"), "*", "issues_x.opened"),
        ("pull_request", None, "*", "pull_request"),
        ("push", None, "*", "push"),
    ];
    for (i, (header, action, handler, name)) in cases.into_iter().enumerate() {
        let mut body = json!({"n": i});
        if let Some(action) = action {
            body["action"] = action.into();
        }
        let request = TestDelivery::json(&body)
            .uri("/webhooks")
            .event(header)
            .sign(&scheme);
        let (status, ack) = answer(test::call_service(&app, request.to_request()).await).await;
        assert_eq!(
            (status, &ack["status"]),
            (200, &json!("processed")),
            "{name}: {ack}"
        );
        assert_eq!(ack["event"], name);
        assert_eq!(runs.take(), [(handler, name.to_owned())], "{name}");
    }
}

#[::core::prelude::v1::test]
#[should_panic(
    expected = "event pattern `issues.*` is handled twice: by `any_issue_event` (as `issues`) and by `issues_actions`; a bare name such as `issues` also matches `issues.<action>`"
)]
fn a_bare_name_and_its_prefix_in_two_handlers_conflict() {
    #[webhook(event = "issues.*")]
    async fn issues_actions(_event: Event<Value>) {}

    let _ = WebhookRouter::new(GitHub::new(GITHUB_SECRET).unwrap())
        .handler(any_issue_event)
        .handler(issues_actions);
}

#[actix_web::test]
async fn deliveries_without_an_event_name_or_id_are_refused_with_what_is_missing() {
    let runs = web::Data::new(Runs::default());
    let standard = StandardWebhooks::new(STANDARD_SECRET).unwrap();
    let app = app!(WebhookRouter::new(standard.clone()).handler(anything), runs);
    let cases = [
        (json!({"data": {}}), "no string at `/type`"),
        (json!({"type": ""}), "no string at `/type`"),
        (json!({"type": {"name": "x"}}), "no string at `/type`"),
    ];
    for (body, missing) in cases {
        let request = TestDelivery::json(&body).uri("/webhooks").sign(&standard);
        let (status, problem) = answer(test::call_service(&app, request.to_request()).await).await;
        assert_eq!(status, 400, "{body}: {problem}");
        assert_eq!(problem["code"], "invalid_payload");
        let detail = problem["detail"].as_str().unwrap();
        assert!(
            detail.contains("the body has no event name") && detail.contains(missing),
            "{detail}"
        );
    }

    let stripe = Stripe::new("whsec_stripe").unwrap();
    let app = app!(WebhookRouter::new(stripe.clone()).handler(anything), runs);
    let cases = [
        (
            json!({"id": "evt_1"}),
            "the body has no event name: no string at `/type`",
        ),
        (
            json!({"type": "invoice.paid"}),
            "the body has no delivery id: no string at `/id`",
        ),
        (
            json!({"id": "", "type": "invoice.paid"}),
            "the body has no delivery id: no string at `/id`",
        ),
    ];
    for (body, detail) in cases {
        let request = TestDelivery::json(&body).uri("/webhooks").sign(&stripe);
        let (status, problem) = answer(test::call_service(&app, request.to_request()).await).await;
        assert_eq!(status, 400, "{body}: {problem}");
        assert_eq!(
            problem["detail"],
            format!("The body is not valid for this event: {detail}."),
            "{body}"
        );
    }
    assert_eq!(runs.take(), []);
}

#[actix_web::test]
async fn unhandled_events_are_logged_and_strict_routers_answer_as_told() {
    let scheme = StandardWebhooks::new(STANDARD_SECRET).unwrap();
    let runs = web::Data::new(Runs::default());
    let (logs, _guard) = Capture::start();

    let app = app!(
        WebhookRouter::new(scheme.clone()).handler(issue_opened),
        runs
    );
    let request = TestDelivery::json(&json!({"type": "order.paid"}))
        .uri("/webhooks")
        .sign(&scheme);
    let (status, ack) = answer(test::call_service(&app, request.to_request()).await).await;
    assert_eq!((status, &ack["status"]), (200, &json!("ignored")));
    let text = logs.text();
    let line = text
        .lines()
        .find(|l| l.contains("no handler for the event"))
        .unwrap_or_else(|| panic!("nothing logged for the ignored event:\n{text}"));
    assert!(
        line.contains("DEBUG") && line.contains("event=\"order.paid\""),
        "{line}"
    );
    logs.clear();

    let strict = WebhookRouter::new(scheme.clone())
        .handler(issue_opened)
        .strict(Ack::retry_after(Duration::from_secs(600)));
    let app = app!(strict, runs);
    let request = TestDelivery::json(&json!({"type": "order.paid"}))
        .uri("/webhooks")
        .sign(&scheme);
    let response = test::call_service(&app, request.to_request()).await;
    assert_eq!(response.headers().get("retry-after").unwrap(), "600");
    let (status, _) = answer(response).await;
    assert_eq!(status, 503);
    let text = logs.text();
    let line = text
        .lines()
        .find(|l| l.contains("no handler for the event"))
        .unwrap_or_else(|| panic!("nothing logged for the unhandled event:\n{text}"));
    assert!(
        line.contains("WARN") && line.contains("event=\"order.paid\""),
        "{line}"
    );
    assert_eq!(runs.take(), []);
}

#[derive(Deserialize)]
struct OrderPaid {
    #[allow(dead_code)]
    order_id: String,
    #[allow(dead_code)]
    amount_cents: u64,
}

#[webhook(event = "order_paid")]
async fn order_paid(_event: Event<OrderPaid>, runs: web::Data<Runs>) -> Ack {
    runs.0
        .lock()
        .unwrap()
        .push(("order_paid", "order_paid".into()));
    Ack::processed()
}

#[actix_web::test]
async fn a_payload_that_does_not_fit_says_where_and_why_and_can_be_retried() {
    let scheme = StandardWebhooks::new(STANDARD_SECRET).unwrap();
    let runs = web::Data::new(Runs::default());
    let (logs, _guard) = Capture::start();
    // A provider's schema change: the amount is now a string.
    let body = json!({"type": "order_paid", "data": {"order_id": "ord_1", "amount_cents": "12.50 EUR, card of Jane Doe"}});
    let pointer = actix_webhook::scheme::JsonPointer::new("/data").unwrap();
    let expected = "The body is not valid for this event: at `amount_cents`: invalid type: string, expected u64.";

    let router = WebhookRouter::new(scheme.clone())
        .payload_at(pointer.clone())
        .handler(order_paid);
    let app = app!(router, runs);
    let delivery = TestDelivery::json(&body).uri("/webhooks");
    let (status, problem) =
        answer(test::call_service(&app, delivery.sign(&scheme).to_request()).await).await;
    assert_eq!(status, 400, "{problem}");
    assert_eq!(problem["code"], "invalid_payload");
    assert_eq!(problem["detail"], expected);
    let text = logs.text();
    assert!(!text.contains("Jane Doe"), "{text}");
    let line = text
        .lines()
        .find(|l| l.contains("webhook rejected"))
        .unwrap_or_else(|| panic!("the rejection is not logged:\n{text}"));
    assert!(
        line.contains("WARN")
            && line.contains("at `amount_cents`: invalid type: string, expected u64"),
        "{line}"
    );

    // Told to, the router answers 500 so that the sender retries, and
    // releases the delivery: each retry runs the handler again.
    let router = WebhookRouter::new(scheme.clone())
        .payload_at(pointer)
        .payload_mismatch(PayloadMismatch::Retry)
        .handler(order_paid);
    let app = app!(router, runs);
    for _ in 0..2 {
        let (status, problem) =
            answer(test::call_service(&app, delivery.sign(&scheme).to_request()).await).await;
        assert_eq!(status, 500, "{problem}");
        assert_eq!(problem["code"], "invalid_payload");
        assert_eq!(problem["detail"], expected);
    }
    // A body that is not JSON at all is the sender's mistake: still 400.
    let request = TestDelivery::new("not json").uri("/webhooks").sign(&scheme);
    let (status, _) = answer(test::call_service(&app, request.to_request()).await).await;
    assert_eq!(status, 400);
    assert_eq!(runs.take(), []);
}
