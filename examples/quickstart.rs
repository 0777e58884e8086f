//! A webhook endpoint in one file: Standard Webhooks deliveries, verified and
//! routed to typed handlers that share application state.
//!
//! ```text
//! cargo run --example quickstart            # a round of demo deliveries, then serve
//! cargo run --example quickstart -- --serve # only serve
//! cargo run --example quickstart -- --once  # only the demo round, then exit
//! cargo run --example quickstart -- --serve --quiet  # no line per delivery (load tests)
//! ```
//!
//! `PORT` sets the port (default 8080); the server listens on 127.0.0.1.
//! `WORKERS` sets the number of actix workers (default 2; a positive
//! integer, anything else is refused).

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use actix_web::{web, App, HttpServer};
use actix_webhook::scheme::StandardWebhooks;
use actix_webhook::{webhook, Ack, Event, WebhookRouter};
use serde::Deserialize;

/// A demo secret; a real one comes from the sender's dashboard.
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// `--quiet`: handlers print nothing (a line per delivery would dominate a
/// load test).
static QUIET: AtomicBool = AtomicBool::new(false);

/// The application's own state, shared with handlers as `web::Data`.
#[derive(Default)]
struct Shop {
    users: AtomicU64,
    revenue_cents: AtomicU64,
}

#[derive(Deserialize)]
struct UserRegistered {
    data: User,
}

#[derive(Deserialize)]
struct User {
    email: String,
}

#[derive(Deserialize)]
struct OrderPaid {
    data: Order,
}

#[derive(Deserialize)]
struct Order {
    order_id: String,
    amount_cents: u64,
}

#[webhook(event = "user_registered")]
async fn user_registered(event: Event<UserRegistered>, shop: web::Data<Shop>) -> Ack {
    let total = shop.users.fetch_add(1, Ordering::Relaxed) + 1;
    if !QUIET.load(Ordering::Relaxed) {
        println!("  -> handler: welcome {} (user #{total})", event.data.email);
    }
    Ack::processed()
}

#[webhook(event = "order_paid")]
async fn order_paid(event: Event<OrderPaid>, shop: web::Data<Shop>) -> Ack {
    let order = &event.data;
    let revenue = shop
        .revenue_cents
        .fetch_add(order.amount_cents, Ordering::Relaxed)
        + order.amount_cents;
    if QUIET.load(Ordering::Relaxed) {
        return Ack::processed();
    }
    println!(
        "  -> handler: order {} paid, {} cents (revenue {revenue} cents, delivery {})",
        order.order_id,
        order.amount_cents,
        event.delivery_id().unwrap_or("-"),
    );
    Ack::processed()
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(8080);
    let workers = workers();
    let mode = std::env::args().nth(1).unwrap_or_default();
    QUIET.store(
        std::env::args().any(|arg| arg == "--quiet"),
        Ordering::Relaxed,
    );

    // The crate logs through `tracing`: rejections with their reason (a
    // 401's `invalid_signature`, a 400's JSON path), ignored events at debug.
    // `RUST_LOG` overrides the default.
    let default_filter = if QUIET.load(Ordering::Relaxed) {
        "warn"
    } else {
        "info,actix_webhook=debug"
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| default_filter.into()),
        )
        .with_target(true)
        .init();

    let scheme = StandardWebhooks::new(SECRET).expect("the demo secret is valid");
    let hooks = WebhookRouter::new(scheme.clone())
        .handler(user_registered)
        .handler(order_paid);
    let shop = web::Data::new(Shop::default());

    let server = HttpServer::new(move || {
        App::new()
            .app_data(shop.clone())
            .service(hooks.scope("/webhooks"))
    })
    .workers(workers)
    .bind(("127.0.0.1", port))?
    .run();
    let handle = server.handle();
    let server = actix_web::rt::spawn(server);
    let url = format!("http://127.0.0.1:{port}/webhooks");

    println!("actix-webhook quickstart: Standard Webhooks deliveries at {url}");
    println!("demo secret: {SECRET}");

    if mode != "--serve" {
        demo_round(&scheme, &url).await;
    }
    if mode == "--once" {
        handle.stop(true).await;
        return Ok(());
    }

    println!("\nsend it a signed delivery yourself (the timestamp is good for 5 minutes):\n");
    println!("{}", curl_command(&scheme, &url));
    println!("\nserving; Ctrl-C to stop");
    server.await.expect("server task")
}

/// Sends a round of deliveries and prints what each one got back.
async fn demo_round(scheme: &StandardWebhooks, url: &str) {
    let now = unix_now();
    let paid = br#"{"type":"order_paid","data":{"order_id":"ord_1001","amount_cents":4200}}"#;
    let registered = br#"{"type":"user_registered","data":{"email":"ada@example.com"}}"#;
    let unknown = br#"{"type":"invoice_voided","data":{}}"#;
    let tampered = br#"{"type":"order_paid","data":{"order_id":"ord_1001","amount_cents":1}}"#;

    // (what, delivery id, timestamp, body that was signed, body that is sent)
    type Delivery<'a> = (&'a str, &'a str, i64, &'a [u8], &'a [u8]);
    let deliveries: [Delivery<'_>; 6] = [
        (
            "valid user_registered",
            "msg_user_1",
            now,
            registered,
            registered,
        ),
        ("valid order_paid", "msg_order_1", now, paid, paid),
        ("the same delivery again", "msg_order_1", now, paid, paid),
        ("tampered body", "msg_order_2", now, paid, tampered),
        (
            "stale (10 minutes old)",
            "msg_order_3",
            now - 600,
            paid,
            paid,
        ),
        ("unknown event", "msg_invoice_1", now, unknown, unknown),
    ];

    println!("\na round of deliveries:");
    let client = awc::Client::new();
    for (what, id, timestamp, signed_body, sent_body) in deliveries {
        println!("\n{what} ({id})");
        let signature = scheme.signature(id, timestamp, signed_body);
        let response = client
            .post(url)
            .insert_header(("content-type", "application/json"))
            .insert_header(("webhook-id", id))
            .insert_header(("webhook-timestamp", timestamp.to_string()))
            .insert_header(("webhook-signature", signature))
            .send_body(sent_body.to_vec())
            .await;
        match response {
            Ok(mut response) => {
                let body = response.body().await.unwrap_or_default();
                println!(
                    "  <- {} {}",
                    response.status(),
                    String::from_utf8_lossy(&body)
                );
            }
            Err(error) => println!("  <- request failed: {error}"),
        }
    }
}

/// A curl command that sends one signed `order_paid` delivery.
fn curl_command(scheme: &StandardWebhooks, url: &str) -> String {
    let now = unix_now();
    let id = format!("msg_curl_{now}");
    let body = r#"{"type":"order_paid","data":{"order_id":"ord_2002","amount_cents":1999}}"#;
    let signature = scheme.signature(&id, now, body.as_bytes());
    format!(
        "curl -i {url} \\\n  -H 'content-type: application/json' \\\n  -H 'webhook-id: {id}' \\\n  -H 'webhook-timestamp: {now}' \\\n  -H 'webhook-signature: {signature}' \\\n  -d '{body}'"
    )
}

/// The number of actix workers: `WORKERS`, 2 if unset. Exits with a message
/// if it is set to anything but a positive integer.
fn workers() -> usize {
    let Some(value) = std::env::var_os("WORKERS") else {
        return 2;
    };
    match value.to_str().map(str::parse::<NonZeroUsize>) {
        Some(Ok(workers)) => workers.get(),
        _ => {
            eprintln!("WORKERS must be a positive integer (actix workers), not {value:?}");
            std::process::exit(2);
        }
    }
}

fn unix_now() -> i64 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    i64::try_from(secs).unwrap_or(i64::MAX)
}
