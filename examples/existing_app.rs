//! Webhooks mounted into an app that already has routes, middleware and
//! state: the router is one more scope.
//!
//! ```text
//! cargo run --example existing_app
//! curl -i http://127.0.0.1:8080/health
//! ```
//!
//! `PORT` sets the port (default 8080). Logs go to stderr (`RUST_LOG`).

use std::sync::Mutex;

use actix_web::middleware::Logger;
use actix_web::{get, web, App, HttpResponse, HttpServer, Responder};
use actix_webhook::scheme::StandardWebhooks;
use actix_webhook::{webhook, Ack, Event, WebhookRouter};
use serde::Deserialize;

/// The app's own state, used by ordinary routes and webhook handlers alike.
#[derive(Default)]
struct Inventory {
    reserved: Mutex<Vec<String>>,
}

#[derive(Deserialize)]
struct OrderCreated {
    data: OrderData,
}

#[derive(Deserialize)]
struct OrderData {
    sku: String,
}

#[webhook(event = "order.created")]
async fn order_created(event: Event<OrderCreated>, inventory: web::Data<Inventory>) -> Ack {
    inventory
        .reserved
        .lock()
        .expect("inventory lock")
        .push(event.data.sku.clone());
    Ack::processed()
}

/// Everything else under `order.` is acknowledged and logged.
#[webhook(event = "order.*")]
async fn other_order_events(event: Event<serde_json::Value>) {
    tracing::info!(event = event.name(), "order event");
}

#[get("/health")]
async fn health() -> impl Responder {
    HttpResponse::Ok().body("ok")
}

#[get("/inventory/reserved")]
async fn reserved(inventory: web::Data<Inventory>) -> impl Responder {
    let skus = inventory.reserved.lock().expect("inventory lock").clone();
    HttpResponse::Ok().json(skus)
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(8080);
    let secret = std::env::var("WEBHOOK_SECRET")
        .unwrap_or_else(|_| "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into());

    // Built once; each worker gets a cheap clone.
    let hooks = WebhookRouter::new(StandardWebhooks::new(&secret).expect("a whsec_ secret"))
        .handler(order_created)
        .handler(other_order_events);
    let inventory = web::Data::new(Inventory::default());

    println!("listening on http://127.0.0.1:{port} (webhooks at /api/webhooks)");
    HttpServer::new(move || {
        App::new()
            .wrap(Logger::default())
            .app_data(inventory.clone())
            .service(health)
            .service(
                web::scope("/api")
                    .service(reserved)
                    .service(hooks.scope("/webhooks")),
            )
    })
    .bind(("127.0.0.1", port))?
    .run()
    .await
}
