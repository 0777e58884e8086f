use actix_webhook::scheme::StandardWebhooks;
use actix_webhook::{Event, WebhookRouter};
use serde_json::Value;

/// No `#[webhook(event = "...")]`.
async fn order_paid(_event: Event<Value>) {}

fn main() {
    let scheme = StandardWebhooks::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
    let _ = WebhookRouter::new(scheme).handler(order_paid);
}
