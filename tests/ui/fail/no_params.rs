use actix_webhook::scheme::StandardWebhooks;
use actix_webhook::{webhook, WebhookRouter};

#[webhook(event = "order_paid")]
async fn order_paid() {}

fn main() {
    let scheme = StandardWebhooks::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
    let _ = WebhookRouter::new(scheme).handler(order_paid);
}
