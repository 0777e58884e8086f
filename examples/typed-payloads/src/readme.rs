use actix_webhook::scheme::{GitHub, JsonPointer, Stripe};
use actix_webhook::{webhook, Ack, Event, WebhookRouter};
use octocrab::models::webhook_events::payload::IssuesWebhookEventPayload;
use stripe_shared::PaymentIntent;

/// GitHub `issues` with action `opened`, typed by octocrab.
#[webhook(event = "issues.opened")]
async fn issue_opened(event: Event<IssuesWebhookEventPayload>) -> Ack {
    println!(
        "issue #{} opened: {}",
        event.issue.number, event.issue.title
    );
    Ack::processed()
}

/// The other `issues` actions, also those octocrab does not know yet.
#[webhook(event = "issues")]
async fn other_issue_actions(event: Event<serde_json::Value>) -> Ack {
    println!("{} on issue {}", event.name(), event["issue"]["number"]);
    Ack::processed()
}

/// A Stripe PaymentIntent that succeeded, typed by async-stripe.
#[webhook(event = "payment_intent.succeeded")]
async fn payment_succeeded(event: Event<PaymentIntent>) -> Ack {
    println!(
        "{}: {} {} received",
        event.id.as_str(),
        event.amount,
        event.currency
    );
    Ack::processed()
}

/// The GitHub router and the Stripe router.
pub fn routers(
    github_secret: &str,
    stripe_secret: &str,
) -> Result<(WebhookRouter, WebhookRouter), Box<dyn std::error::Error>> {
    let github = WebhookRouter::new(GitHub::new(github_secret)?)
        .handler(issue_opened)
        .handler(other_issue_actions);
    let stripe = WebhookRouter::new(Stripe::new(stripe_secret)?)
        .payload_at(JsonPointer::new("/data/object")?) // handlers get the event's object
        .handler(payment_succeeded);
    Ok((github, stripe))
}
