use actix_web::web;
use actix_webhook::scheme::StandardWebhooks;
use actix_webhook::{webhook, Event, WebhookRouter};
use serde_json::Value;

struct Config;

#[webhook(event = "config.updated")]
async fn config(_event: Event<Value>, config: web::Data<Config>) {
    let _: &Config = &config;
}

fn main() {
    let scheme = StandardWebhooks::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
    let _ = WebhookRouter::new(scheme).handler(config);
}
