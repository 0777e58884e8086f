use actix_webhook::scheme::StandardWebhooks;
use actix_webhook::{webhook, Event, WebhookRouter};

use serde::de::DeserializeOwned;

#[webhook(event = "order_paid")]
async fn order_paid<T: DeserializeOwned>(_event: Event<T>) {}

fn main() {
    let scheme = StandardWebhooks::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
    let _ = WebhookRouter::new(scheme).handler(order_paid);
}
