//! Typed, untyped and raw payloads.

use actix_web::web;
use actix_webhook::scheme::StandardWebhooks;
use actix_webhook::{webhook, Event, WebhookRouter};
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
struct OrderPaid {
    order_id: String,
    amount_cents: u64,
}

#[webhook(event = "typed")]
async fn typed(event: Event<OrderPaid>) {
    let _: (&str, u64) = (&event.order_id, event.amount_cents);
}

#[webhook(event = "json")]
async fn json(event: Event<Value>) {
    let _: Option<&Value> = event.get("id");
}

#[webhook(event = "raw")]
async fn raw(event: Event<web::Bytes>) {
    let _: usize = event.len();
}

#[webhook(event = "raw_bytes_crate")]
async fn raw_bytes_crate(event: Event<bytes::Bytes>) {
    let _: &[u8] = &event;
}

#[webhook(event = "vec")]
async fn vec(event: Event<Vec<String>>) {
    let _: usize = event.into_inner().len();
}

fn main() {
    let scheme = StandardWebhooks::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
    let _ = WebhookRouter::new(scheme)
        .handler(typed)
        .handler(json)
        .handler(raw)
        .handler(raw_bytes_crate)
        .handler(vec);
}
