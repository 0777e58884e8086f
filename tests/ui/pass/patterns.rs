//! `event` and `events`, exact names, GitHub-style actions, prefixes and `*`.

use actix_webhook::scheme::StandardWebhooks;
use actix_webhook::{webhook, Event, WebhookRouter};
use serde_json::Value;

#[webhook(event = "order_paid")]
async fn exact(_event: Event<Value>) {}

#[webhook(event = "issues.opened")]
async fn action(_event: Event<Value>) {}

#[webhook(event = "order.*")]
async fn prefix(_event: Event<Value>) {}

#[webhook(event = "*")]
async fn everything(_event: Event<Value>) {}

#[webhook(events = ["orders/create", "app:uninstalled", "user-deleted", "invoice.payment.*",])]
async fn several(_event: Event<Value>) {}

#[webhook(events = ["refund.created"])]
async fn one_in_a_list(_event: Event<Value>) {}

fn main() {
    #[webhook(event = "local")]
    async fn local(_event: Event<Value>) {}

    let scheme = StandardWebhooks::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
    let _ = WebhookRouter::new(scheme)
        .handler(exact)
        .handler(action)
        .handler(prefix)
        .handler(everything)
        .handler(several)
        .handler(one_in_a_list)
        .handler(local);

    use actix_webhook::__private::Handler;
    assert_eq!(several.events(), ["orders/create", "app:uninstalled", "user-deleted", "invoice.payment.*"]);
    assert_eq!(several.name(), "several");
    assert_eq!(everything.events(), ["*"]);
}
