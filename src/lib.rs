//! Verified, routed, exactly-once webhook deliveries for actix-web.
//!
//! A platform (Stripe, GitHub, Slack, Shopify, any Standard Webhooks / Svix
//! sender, or your own) POSTs events to your service. This crate checks that
//! each request really comes from that platform and is fresh, and answers the
//! sender with the status codes it acts on.
//!
//! # Quickstart
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
//! | situation | status | body |
//! |---|---|---|
//! | delivery verified and handled | 200 | `{"status":"processed",..}` ([`Ack`]) |
//! | missing / malformed signature headers | 401 | `missing_signature` / `malformed_signature` |
//! | signature does not match | 401 | `invalid_signature` |
//! | timestamp outside tolerance (past or future) | 401 | `timestamp_out_of_tolerance` |
//! | body not valid JSON / not the handler's type | 400 | `invalid_payload` |
//! | body over the limit | 413 | `payload_too_large`, before it is read to its end |
//! | body not received within the timeout (30 s) | 408 | `body_timeout` |
//! | no [`WebhookConfig`] in the app | 500 | `not_configured` |
//!
//! Errors are `application/problem+json` with a stable `code` ([`Rejection`]);
//! they never echo a secret or an expected signature.
//!
//! # Modules
//!
//! - [`scheme`]: providers' signing schemes ([`scheme::StandardWebhooks`],
//!   [`scheme::GenericHmac`]) and the [`scheme::Scheme`] trait for your own.
//! - [`verify`]: tolerance, clock and constant-time helpers shared by schemes.
//! - [`Secret`] / [`Secrets`]: keys, several at once during a rotation.
//! - [`Verified`] / [`WebhookConfig`]: the actix-web extractor.
//! - [`Ack`] / [`Rejection`]: what the sender gets back.
//! - [`testing`]: correctly signed `TestRequest`s for testing your handlers.
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod ack;
pub mod dedupe;
mod extract;
pub mod handler;
mod router;
pub mod scheme;
mod secret;
pub mod tenant;
pub mod testing;
pub mod verify;

pub use ack::{Ack, Rejection};
pub use actix_webhook_macros::webhook;
pub use extract::{Verified, WebhookConfig};
#[doc(inline)]
pub use handler::Event;
pub use router::WebhookRouter;
pub use secret::{Secret, SecretError, Secrets};
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
