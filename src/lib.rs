//! Verified, routed, exactly-once webhook deliveries for actix-web.
//!
//! A platform (Stripe, GitHub, Slack, Shopify, any Standard Webhooks / Svix
//! sender, or your own) POSTs events to your service. This crate checks that
//! each request really comes from that platform and is fresh, hands it to the
//! `async fn` written for its event, makes sure a redelivered event does not
//! run twice, and answers the sender with the status codes it acts on.
//!
//! # Quickstart
//!
//! Write one `async fn` per event and mark it with
//! [`#[webhook(event = "...")]`](macro@webhook): its first parameter is the
//! typed [`Event<T>`], the others any actix-web extractor that does not read
//! the body (`web::Data<_>`, `HttpRequest`, ...). Give the functions to a
//! [`WebhookRouter`] built with the provider's [scheme] and mount it
//! with [`WebhookRouter::scope`]:
//!
//! ```no_run
//! use std::sync::atomic::{AtomicU64, Ordering};
//!
//! use actix_web::{web, App, HttpServer};
//! use actix_webhook::scheme::{JsonPointer, StandardWebhooks};
//! use actix_webhook::{webhook, Ack, Event, WebhookRouter};
//! use serde::Deserialize;
//!
//! /// The application's own state (a database pool, in a real service).
//! #[derive(Default)]
//! struct Shop {
//!     revenue_cents: AtomicU64,
//! }
//!
//! /// What the sender puts under `data`:
//! /// `{"type":"order_paid","timestamp":"..","data":{"order_id":"ord_1","amount_cents":4200}}`.
//! #[derive(Deserialize)]
//! struct OrderPaid {
//!     order_id: String,
//!     amount_cents: u64,
//! }
//!
//! #[webhook(event = "order_paid")]
//! async fn order_paid(event: Event<OrderPaid>, shop: web::Data<Shop>) -> Ack {
//!     shop.revenue_cents.fetch_add(event.amount_cents, Ordering::Relaxed);
//!     println!("order {} paid", event.order_id);
//!     Ack::processed()
//! }
//!
//! #[actix_web::main]
//! async fn main() -> std::io::Result<()> {
//!     let secret = std::env::var("WEBHOOK_SECRET").expect("whsec_... from the sender");
//!     let scheme = StandardWebhooks::new(&secret).expect("a whsec_ secret");
//!     // Built once, outside the server factory; cloning it is cheap.
//!     let hooks = WebhookRouter::new(scheme)
//!         .payload_at(JsonPointer::new("/data").expect("a JSON pointer")) // handlers get `data`
//!         .handler(order_paid);
//!     let shop = web::Data::new(Shop::default());
//!
//!     HttpServer::new(move || {
//!         App::new()
//!             .app_data(shop.clone())
//!             .service(hooks.scope("/webhooks"))
//!     })
//!     .bind(("127.0.0.1", 8080))?
//!     .run()
//!     .await
//! }
//! ```
//!
//! A handler may also return `()` (200 `processed`) or `Result<Ack, E>` for
//! any error `E: Display`: an `Err` is answered 500 and the sender retries.
//! Patterns other than an exact name (`*`, `order.*`, several with
//! `events = [...]`) are described with the [macro](macro@webhook).
//!
//! # Testing a handler
//!
//! [`testing::TestDelivery`] signs a request the way the provider does, for
//! `actix_web::test`. With `Shop` and `order_paid` from the quickstart:
//!
//! ```
//! # use std::sync::atomic::{AtomicU64, Ordering};
//! # use actix_web::web;
//! # use actix_webhook::{webhook, Ack, Event};
//! # use serde::Deserialize;
//! # #[derive(Default)]
//! # struct Shop { revenue_cents: AtomicU64 }
//! # #[derive(Deserialize)]
//! # struct OrderPaid { order_id: String, amount_cents: u64 }
//! # #[webhook(event = "order_paid")]
//! # async fn order_paid(event: Event<OrderPaid>, shop: web::Data<Shop>) -> Ack {
//! #     shop.revenue_cents.fetch_add(event.amount_cents, Ordering::Relaxed);
//! #     let _ = &event.order_id;
//! #     Ack::processed()
//! # }
//! use actix_web::{test, App};
//! use actix_webhook::scheme::{JsonPointer, StandardWebhooks};
//! use actix_webhook::testing::TestDelivery;
//! use actix_webhook::WebhookRouter;
//!
//! # actix_web::rt::System::new().block_on(async {
//! let scheme = StandardWebhooks::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?;
//! let hooks = WebhookRouter::new(scheme.clone())
//!     .payload_at(JsonPointer::new("/data")?)
//!     .handler(order_paid);
//! let shop = web::Data::new(Shop::default());
//! let app = test::init_service(
//!     App::new().app_data(shop.clone()).service(hooks.scope("/webhooks")),
//! )
//! .await;
//!
//! let delivery = TestDelivery::new(
//!     r#"{"type":"order_paid","data":{"order_id":"ord_1","amount_cents":4200}}"#,
//! )
//! .uri("/webhooks");
//! let response = test::call_service(&app, delivery.sign(&scheme).to_request()).await;
//! assert_eq!(response.status(), 200);
//! let body: serde_json::Value = test::read_body_json(response).await;
//! assert_eq!(body["status"], "processed");
//! assert_eq!(shop.revenue_cents.load(Ordering::Relaxed), 4200); // the handler ran
//!
//! // Signed with another secret: refused, and the handler does not run.
//! let forger = StandardWebhooks::new("whsec_b2xkIHNlY3JldA==")?;
//! let forged = TestDelivery::new(
//!     r#"{"type":"order_paid","data":{"order_id":"ord_2","amount_cents":100}}"#,
//! )
//! .uri("/webhooks");
//! let response = test::call_service(&app, forged.sign(&forger).to_request()).await;
//! assert_eq!(response.status(), 401);
//! assert_eq!(shop.revenue_cents.load(Ordering::Relaxed), 4200);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Without the router: the `Verified` extractor
//!
//! In an ordinary actix-web handler, [`Verified<T>`](Verified) runs the
//! router's receiving pipeline with a [`WebhookConfig`] from the app data
//! (body limits, tenant secrets, verification, handshakes) before `T`
//! (e.g. `web::Json<_>` or `web::Bytes`) sees the body. It does not route by
//! event name or claim the delivery: each delivery once is then up to you.
//!
//! ```no_run
//! use actix_web::{post, web, App, HttpServer, Responder};
//! use actix_webhook::{scheme::StandardWebhooks, Ack, Verified, WebhookConfig};
//! use serde::Deserialize;
//!
//! #[derive(Deserialize)]
//! struct OrderPaid {
//!     order_id: String,
//!     amount_cents: u64,
//! }
//!
//! #[post("/webhooks")]
//! async fn order_paid(event: Verified<web::Json<OrderPaid>>) -> impl Responder {
//!     println!("order {} paid: {} cents", event.order_id, event.amount_cents);
//!     Ack::processed()
//! }
//!
//! #[actix_web::main]
//! async fn main() -> std::io::Result<()> {
//!     let secret = std::env::var("WEBHOOK_SECRET").expect("WEBHOOK_SECRET");
//!     let config = WebhookConfig::new(StandardWebhooks::new(&secret).expect("a whsec_ secret"));
//!     HttpServer::new(move || App::new().app_data(config.clone()).service(order_paid))
//!         .bind(("127.0.0.1", 8080))?
//!         .run()
//!         .await
//! }
//! ```
//!
//! # The HTTP contract
//!
//! Senders retry on anything but 2xx, so status codes are the contract.
//! Every answer the crate sends, from the router (R) or the extractor (V):
//!
//! | situation | status | body / code | from |
//! |---|---|---|---|
//! | handler succeeded ([`Ack::processed`], or `()`) | 200 | `{"status":"processed","id":..,"event":..}` | R |
//! | handler queued it for later ([`Ack::accepted`]) | 202 | `{"status":"accepted",..}` | R |
//! | inbox mode: stored durably, the handler runs later (feature `sqlite`) | 202 | `{"status":"queued","id":..,"event":..}` | R |
//! | delivery already handled | 200 | `{"status":"duplicate",..}`, handler not run again | R |
//! | no handler for the event | 200 ([configurable](WebhookRouter::unhandled), [strict](WebhookRouter::strict)) | `{"status":"ignored",..}` | R |
//! | handshake: Slack `url_verification`, Discord PING, Meta `GET` challenge | 200 | the challenge, as the provider expects it | R, V |
//! | handler asks the sender to stop ([`Ack::gone`]) | 410 | `{"status":"gone",..}` | R |
//! | handler's own answer ([`Ack::json`]) | any | its JSON | R |
//! | missing / malformed signature, timestamp or id header | 401 | `missing_signature` / `malformed_signature` | R, V |
//! | a missing, repeated, empty or non-UTF-8 event header | 401 | `missing_signature` / `malformed_signature` | R |
//! | signature does not match | 401 | `invalid_signature` | R, V |
//! | timestamp outside tolerance (past or future) | 401 | `timestamp_out_of_tolerance` | R, V |
//! | Meta handshake with a wrong verify token | 403 | `handshake_refused` | R, V |
//! | no id where the sender always puts one (Stripe, Paddle) | 400 | `invalid_payload` | R, V |
//! | body not JSON or not the handler's type (`Verified<web::Json<T>>` for V) | 400 | `invalid_payload`, `detail` says where and why | R, V |
//! | no event name in the body | 400 | `invalid_payload` | R |
//! | body not the handler's type, with [`PayloadMismatch::Retry`] | 500 | `invalid_payload` | R |
//! | body cut off before its end | 400 | `incomplete_body` | R, V |
//! | unknown tenant ([`tenant`]) | 404 | `unknown_tenant` | R, V |
//! | a method other than `POST` that is not a handshake | 405 | `method_not_allowed`, `Allow: POST` | R, V |
//! | body not received within the timeout (default 30 s) | 408 | `body_timeout`, connection closed | R, V |
//! | same delivery being handled right now | 409 | `in_flight`, `Retry-After` | R |
//! | body over the limit (default 1 MiB) | 413 | `payload_too_large`, before it is read to its end | R, V |
//! | no [`WebhookConfig`] for the extractor; a tenant's secret empty or invalid | 500 | `not_configured` | R, V |
//! | handler returned an error or panicked | 500 | `handler_failed`; the server keeps serving | R |
//! | handler asked to retry ([`Ack::retry_after`]) | 503 | `{"status":"retry",..}`, `Retry-After` | R |
//! | delivery store, inbox or secret resolver unreachable or saturated | 503 | `unavailable`, `Retry-After` | R, V |
//!
//! Errors are `application/problem+json` (RFC 9457) with a stable `code`
//! ([`Rejection`]); they never echo a secret, an expected signature, a
//! body's values, or which key failed.
//!
//! # Modules
//!
//! How a request flows through them, step by step, and which file holds
//! each step: `docs/ARCHITECTURE.md` in the repository.
//!
//! - [`WebhookRouter`], [`macro@webhook`], [`Event`]: handlers by event name,
//!   each delivery handled once; [`PayloadMismatch`] says what a body that
//!   no longer fits its type gets.
//! - [`handler`]: the traits `#[webhook]` implements ([`handler::Handler`])
//!   and what a handler may take and return.
//! - [`Verified`] / [`WebhookConfig`]: the extractor, and the receiving
//!   configuration it shares with the router.
//! - [`scheme`]: providers' signing schemes ([`scheme::StandardWebhooks`],
//!   [`scheme::GitHub`], [`scheme::Stripe`], ..., [`scheme::GenericHmac`]),
//!   the request view they read, and the [`scheme::Scheme`] trait for your
//!   own.
//! - [`verify`]: [`VerifyError`], tolerance, clock and constant-time
//!   comparison shared by schemes.
//! - [`Secret`] / [`Secrets`]: keys, several at once during a rotation.
//! - [`Ack`] / [`Rejection`]: what the sender gets back;
//!   [`PayloadError`]: where and why a body does not fit.
//! - [`dedupe`]: where deliveries are claimed ([`dedupe::MemoryStore`], or
//!   Redis for several replicas).
//! - `inbox` (feature `sqlite` or `redis`): acknowledge at once, run the
//!   handlers from a durable inbox with retries, dead letters and replay.
//! - [`tenant`]: a secret per tenant, looked up per request.
//! - [`testing`]: correctly signed `TestRequest`s for testing your handlers.
//! - [`standalone`]: [`construct_event`], one call that verifies a delivery
//!   and parses its payload without actix-web, for other frameworks.
//!
//! # Features
//!
//! - `ed25519`: ed25519 signatures (Standard Webhooks `v1a`,
//!   `scheme::Discord`).
//! - `redis`: for several replicas: `dedupe::RedisStore` (delivery ids) and
//!   `inbox::Inbox::redis` (the inbox in Redis).
//! - `sqlite`: the `inbox` module, `WebhookRouter::inbox` and `workers`:
//!   deliveries stored in an SQLite file (compiled in) and handled after
//!   the answer.
//! - `bench`: `WebhookRouter::dispatch_verified`, for the crate's benches;
//!   not part of the stable API.
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod ack;
mod body;
pub mod dedupe;
mod extract;
pub mod handler;
mod ids;
#[cfg(feature = "metrics")]
#[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
pub mod metrics;
// Without the feature, the recording calls are empty and the names unused.
#[cfg(feature = "inbox")]
#[cfg_attr(docsrs, doc(cfg(any(feature = "sqlite", feature = "redis"))))]
pub mod inbox;
#[cfg(not(feature = "metrics"))]
#[allow(dead_code, unreachable_pub)]
mod metrics;
mod payload;
mod pipeline;
mod rejection;
mod router;
pub mod scheme;
mod secret;
pub mod standalone;
pub mod tenant;
pub mod testing;
pub mod verify;

pub use ack::Ack;
pub use actix_webhook_macros::webhook;
pub use extract::Verified;
#[doc(inline)]
pub use handler::Event;
pub use payload::PayloadError;
pub use pipeline::WebhookConfig;
pub use rejection::Rejection;
pub use router::{PayloadMismatch, WebhookRouter};
pub use secret::{Secret, SecretError, Secrets};
pub use standalone::construct_event;
pub use verify::VerifyError;

/// What the `#[webhook]` macro's generated code names. Not public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::handler::{
        raw_event, Extractor, Failure, FromDelivery, Handler, Incoming, IntoAck,
    };
    pub use futures_util::future::LocalBoxFuture;
}

// Every Rust block in the README is compiled (and run, unless `no_run`) with
// the doc tests, so the README cannot show code that does not build.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
