//! The providers' sample payloads (see `fixtures/README.md`), signed the way
//! GitHub and Stripe sign them and sent to this crate's routers on a real
//! actix service: each reaches its handler, whose octocrab or async-stripe
//! type reads the fields; fields added later are skipped; values the types do
//! not know yet go where the crate's docs say.

use actix_web::http::StatusCode;
use actix_web::{test, web, App};
use actix_webhook::scheme::{GitHub, Signer, Stripe};
use actix_webhook::testing::TestDelivery;
use actix_webhook::{webhook, Ack, Event, WebhookRouter};
use octocrab::models::webhook_events::payload::IssuesWebhookEventPayload;
use serde_json::{json, Value};
use typed_payloads::{github, stripe, Ledger, Record};

const GITHUB_SECRET: &str = "It's a Secret to Everybody";
const STRIPE_SECRET: &str = "whsec_demo_stripe_signing_secret";

const ISSUES_OPENED: &str = include_str!("fixtures/github-issues-opened.json");
const PUSH: &str = include_str!("fixtures/github-push.json");
const PAYMENT_INTENT_SUCCEEDED: &str =
    include_str!("fixtures/stripe-payment-intent-succeeded.json");

/// Sends `delivery`, signed by `signer`, to `router` mounted at `/webhooks`:
/// the status, the acknowledgement and what the handlers recorded.
async fn send(
    router: WebhookRouter,
    signer: &impl Signer,
    delivery: TestDelivery,
) -> (StatusCode, Value, Vec<Record>) {
    let ledger = web::Data::new(Ledger::default());
    let app = test::init_service(
        App::new()
            .app_data(ledger.clone())
            .service(router.scope("/webhooks")),
    )
    .await;
    let request = delivery.uri("/webhooks").sign(signer).to_request();
    let response = test::call_service(&app, request).await;
    let status = response.status();
    let body = test::read_body_json(response).await;
    (status, body, ledger.take())
}

/// A GitHub delivery of `body` for `event` (`issues.opened` sends
/// `X-GitHub-Event: issues`, the action being in the body).
async fn send_github(event: &str, body: impl Into<web::Bytes>) -> (StatusCode, Value, Vec<Record>) {
    let scheme = GitHub::new(GITHUB_SECRET).unwrap();
    let router = github(GITHUB_SECRET).unwrap();
    send(router, &scheme, TestDelivery::new(body).event(event)).await
}

async fn send_stripe(body: impl Into<web::Bytes>) -> (StatusCode, Value, Vec<Record>) {
    let scheme = Stripe::new(STRIPE_SECRET).unwrap();
    let router = stripe(STRIPE_SECRET).unwrap();
    send(router, &scheme, TestDelivery::new(body)).await
}

fn issue_opened() -> Record {
    Record::IssueOpened {
        number: 1,
        title: "Add option to remove the notification".into(),
        author: "gagbo".into(),
    }
}

fn pushed() -> Record {
    Record::Pushed {
        repository: Some("gagbo/app-test-repo".into()),
        git_ref: "refs/tags/v0.2.1".into(),
        head: Some("bd7a63727468ca899e6a43e40fe9d76b3501f3f4".into()),
    }
}

fn payment_succeeded(status: &str) -> Record {
    Record::PaymentSucceeded {
        event_id: Some("evt_1NG8Du2eZvKYlo2CUI79vXWy".into()),
        intent: "pi_3MtwBwLkdIwHu7ix28a3tqPa".into(),
        amount: 2000,
        currency: "usd".into(),
        status: status.into(),
    }
}

fn assert_processed(status: StatusCode, body: &Value, event: &str) {
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "processed", "{body}");
    assert_eq!(body["event"], event, "{body}");
}

/// `body` with `value` set at each of `paths` (`/`-separated keys).
fn with(body: &str, paths: &[&str], value: &Value) -> String {
    let mut json: Value = serde_json::from_str(body).unwrap();
    for path in paths {
        let (parent, key) = path.rsplit_once('/').unwrap();
        let target = json.pointer_mut(parent).unwrap();
        target[key] = value.clone();
    }
    json.to_string()
}

#[actix_web::test]
async fn github_issues_opened_sample_reaches_its_octocrab_typed_handler() {
    let (status, body, records) = send_github("issues.opened", ISSUES_OPENED).await;
    assert_processed(status, &body, "issues.opened");
    assert_eq!(records, [issue_opened()]);
}

#[actix_web::test]
async fn github_push_sample_is_read_as_octocrabs_webhook_event() {
    let (status, body, records) = send_github("push", PUSH).await;
    assert_processed(status, &body, "push");
    assert_eq!(records, [pushed()]);
}

#[actix_web::test]
async fn stripe_payment_intent_succeeded_sample_reaches_its_async_stripe_typed_handler() {
    let (status, body, records) = send_stripe(PAYMENT_INTENT_SUCCEEDED).await;
    assert_processed(status, &body, "payment_intent.succeeded");
    assert_eq!(body["id"], "evt_1NG8Du2eZvKYlo2CUI79vXWy");
    assert_eq!(records, [payment_succeeded("succeeded")]);
}

#[actix_web::test]
async fn fields_the_provider_adds_later_are_skipped() {
    let added = json!({"a_field_added_later": [1, {"nested": true}], "and_another": null});
    let issues = with(
        ISSUES_OPENED,
        &[
            "/field_added_later",
            "/issue/field_added_later",
            "/issue/user/field_added_later",
        ],
        &added,
    );
    let (status, body, records) = send_github("issues.opened", issues).await;
    assert_processed(status, &body, "issues.opened");
    assert_eq!(records, [issue_opened()]);

    let push = with(
        PUSH,
        &[
            "/field_added_later",
            "/head_commit/field_added_later",
            "/repository/field_added_later",
        ],
        &added,
    );
    let (status, body, records) = send_github("push", push).await;
    assert_processed(status, &body, "push");
    assert_eq!(records, [pushed()]);

    let payment = with(
        PAYMENT_INTENT_SUCCEEDED,
        &[
            "/field_added_later",
            "/data/field_added_later",
            "/data/object/field_added_later",
        ],
        &added,
    );
    let (status, body, records) = send_stripe(payment).await;
    assert_processed(status, &body, "payment_intent.succeeded");
    assert_eq!(records, [payment_succeeded("succeeded")]);
}

#[actix_web::test]
async fn a_stripe_value_async_stripe_does_not_know_parses_as_unknown() {
    let payment = with(
        PAYMENT_INTENT_SUCCEEDED,
        &["/data/object/status"],
        &json!("a_status_added_later"),
    );
    let (status, body, records) = send_stripe(payment).await;
    assert_processed(status, &body, "payment_intent.succeeded");
    assert_eq!(records, [payment_succeeded("a_status_added_later")]);
}

#[actix_web::test]
async fn an_issues_action_octocrab_does_not_know_goes_to_the_json_handler() {
    // GitHub sends `typed` when an issue gets an issue type; octocrab 0.54.9's
    // `IssuesWebhookEventAction` has no such variant.
    let typed = with(ISSUES_OPENED, &["/action"], &json!("typed"));
    assert!(serde_json::from_str::<IssuesWebhookEventPayload>(&typed).is_err());

    let (status, body, records) = send_github("issues.typed", typed).await;
    assert_processed(status, &body, "issues.typed");
    assert_eq!(
        records,
        [Record::IssueEvent {
            event: "issues.typed".into(),
            number: Some(1),
        }]
    );
}

/// Types every `issues` action with octocrab: what the crate's docs advise
/// against.
#[webhook(event = "issues")]
async fn every_issue_action(_event: Event<IssuesWebhookEventPayload>) -> Ack {
    Ack::processed()
}

#[actix_web::test]
async fn a_typed_handler_for_the_whole_family_refuses_an_action_it_does_not_know() {
    let scheme = GitHub::new(GITHUB_SECRET).unwrap();
    let router = WebhookRouter::new(scheme.clone()).handler(every_issue_action);

    let (status, body, _) = send(
        router.clone(),
        &scheme,
        TestDelivery::new(ISSUES_OPENED).event("issues.opened"),
    )
    .await;
    assert_processed(status, &body, "issues.opened");

    let typed = with(ISSUES_OPENED, &["/action"], &json!("typed"));
    let (status, body, _) = send(
        router,
        &scheme,
        TestDelivery::new(typed).event("issues.typed"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["code"], "invalid_payload", "{body}");
}

/// The README's `rust,ignore` block in its "Typed provider payloads" section.
fn readme_block() -> String {
    let readme = include_str!("../../../README.md");
    let section = &readme[readme
        .find("## Typed provider payloads")
        .expect("the README has the section")..];
    let start = section.find("```rust,ignore\n").expect("a Rust block") + "```rust,ignore\n".len();
    let end = section[start..].find("\n```\n").expect("the block ends") + 1;
    section[start..start + end].to_owned()
}

#[actix_web::test]
async fn the_readme_shows_src_readme_rs_as_it_is() {
    assert_eq!(readme_block(), include_str!("../src/readme.rs"));
}

#[actix_web::test]
async fn the_readme_routers_handle_the_samples() {
    let (github_router, stripe_router) =
        typed_payloads::readme::routers(GITHUB_SECRET, STRIPE_SECRET).unwrap();
    let github_scheme = GitHub::new(GITHUB_SECRET).unwrap();
    let stripe_scheme = Stripe::new(STRIPE_SECRET).unwrap();

    let opened = TestDelivery::new(ISSUES_OPENED).event("issues.opened");
    let (status, body, _) = send(github_router.clone(), &github_scheme, opened).await;
    assert_processed(status, &body, "issues.opened");

    let typed = with(ISSUES_OPENED, &["/action"], &json!("typed"));
    let typed = TestDelivery::new(typed).event("issues.typed");
    let (status, body, _) = send(github_router, &github_scheme, typed).await;
    assert_processed(status, &body, "issues.typed");

    let paid = TestDelivery::new(PAYMENT_INTENT_SUCCEEDED);
    let (status, body, _) = send(stripe_router, &stripe_scheme, paid).await;
    assert_processed(status, &body, "payment_intent.succeeded");
}
