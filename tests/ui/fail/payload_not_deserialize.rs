use actix_webhook::scheme::StandardWebhooks;
use actix_webhook::{webhook, Event, WebhookRouter};

/// No `#[derive(Deserialize)]`.
struct OrderPaid {
    order_id: String,
}

#[webhook(event = "order_paid")]
async fn order_paid(event: Event<OrderPaid>) {
    println!("{}", event.order_id);
}

fn main() {
    let scheme = StandardWebhooks::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
    let _ = WebhookRouter::new(scheme).handler(order_paid);
}
