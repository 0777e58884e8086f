//! One of several replicas behind a load balancer, sharing delivery ids in
//! Redis so that each delivery is handled once between them.
//!
//! ```text
//! redis-server --port 6379 &
//! PORT=8081 cargo run --example redis_replicas --features redis &
//! PORT=8082 cargo run --example redis_replicas --features redis &
//! ```
//!
//! `REDIS_URL` picks the Redis (default `redis://127.0.0.1:6379`), `PORT`
//! the port (default 8080); the server listens on 127.0.0.1. While Redis is
//! down, deliveries are answered 503 with `Retry-After` (the sender retries);
//! they are handled again as soon as it is back.

use actix_web::{App, HttpServer};
use actix_webhook::dedupe::RedisStore;
use actix_webhook::scheme::StandardWebhooks;
use actix_webhook::{webhook, Ack, Event, WebhookRouter};

/// A demo secret; a real one comes from the sender's dashboard.
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

#[webhook(event = "*")]
async fn print_event(event: Event<serde_json::Value>) -> Ack {
    println!(
        "[pid {}] {} {}: {}",
        std::process::id(),
        event.delivery_id().unwrap_or("-"),
        event.name(),
        *event
    );
    Ack::processed()
}

#[actix_web::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let redis_url =
        std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let port: u16 = match std::env::var("PORT") {
        Ok(port) => port.parse()?,
        Err(_) => 8080,
    };

    let store = RedisStore::connect(&redis_url).await?;
    let hooks = WebhookRouter::new(StandardWebhooks::new(SECRET)?)
        .store(store)
        .handler(print_event);

    println!(
        "listening on http://127.0.0.1:{port}/webhooks (pid {})",
        std::process::id()
    );
    HttpServer::new(move || App::new().service(hooks.scope("/webhooks")))
        .bind(("127.0.0.1", port))?
        .run()
        .await?;
    Ok(())
}
