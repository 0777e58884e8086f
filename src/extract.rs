//! The [`Verified`] extractor, for ordinary actix-web handlers, and its
//! [`WebhookConfig`].
//!
//! ```no_run
//! use actix_web::{post, web, App, HttpServer, Responder};
//! use actix_webhook::{scheme::StandardWebhooks, Ack, Verified, WebhookConfig};
//! use serde::Deserialize;
//!
//! #[derive(Deserialize)]
//! struct OrderPaid { order_id: String }
//!
//! #[post("/webhooks")]
//! async fn receive(event: Verified<web::Json<OrderPaid>>) -> impl Responder {
//!     println!("order {} paid (delivery {:?})", event.order_id, event.delivery_id());
//!     Ack::processed()
//! }
//!
//! # async fn run() -> std::io::Result<()> {
//! let config = WebhookConfig::new(StandardWebhooks::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap());
//! HttpServer::new(move || App::new().app_data(config.clone()).service(receive))
//!     .bind(("127.0.0.1", 8080))?
//!     .run()
//!     .await
//! # }
//! ```

use std::fmt;
use std::ops::{Deref, DerefMut};

use actix_web::dev::Payload;
use actix_web::web::{self, Bytes};
use actix_web::{FromRequest, HttpRequest};
use chrono::{DateTime, Utc};
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;

use crate::ids::shown_id;
use crate::metrics::NO_EVENT;
use crate::payload::PayloadError;
use crate::pipeline::{Arrival, Received, WebhookConfig};
use crate::rejection::Rejection;
use crate::scheme::Delivery;

/// A request body whose signature and timestamp were checked, with the
/// delivery's id, timestamp and event name.
///
/// - `Verified<Bytes>`: the raw body.
/// - `Verified<web::Json<T>>`: the body parsed as `T`; 400 `invalid_payload`
///   when it does not fit.
///
/// It runs the router's pipeline with the app's [`WebhookConfig`] (without
/// the router's routing and claims: each delivery once is up to you). It
/// derefs to the inner value. On failure it is a [`Rejection`] (401, 400,
/// 403, 404, 405, 408, 413, 503, or 500 `not_configured`), rendered as
/// problem+json; take `Result<Verified<_>, Rejection>` to handle it
/// yourself.
///
/// Handshakes are answered as the router answers them, and the handler does
/// not run: Slack's `url_verification` and Discord's PING (`POST`s), and
/// Meta's subscription challenge, a `GET`: route `GET` to the handler too
/// (`web::route()`, or `#[route("/webhooks", method = "GET", method = "POST")]`).
/// They arrive as [`Rejection::Handshake`], whose response is the reply:
/// an error to actix-web, so middleware that counts `response.error()` (an
/// access log, tracing) sees it as one, and a handler taking
/// `Option<Verified<_>>` would swallow it; take `Result` and return the
/// rejection as it is.
pub struct Verified<T> {
    inner: T,
    delivery: Delivery,
    event: Option<String>,
}

impl<T> Verified<T> {
    /// The inner value.
    pub fn into_inner(self) -> T {
        self.inner
    }

    /// The sender's delivery id, when the scheme has one.
    pub fn delivery_id(&self) -> Option<&str> {
        self.delivery.id.as_deref()
    }

    /// When the sender signed the delivery, when the scheme signs a
    /// timestamp (and it is a representable date), as on
    /// [`Event::timestamp`](crate::Event::timestamp).
    pub fn timestamp(&self) -> Option<DateTime<Utc>> {
        crate::verify::signed_at(self.delivery.timestamp)
    }

    /// What the scheme read, as on
    /// [`VerifiedEvent::delivery`](crate::standalone::VerifiedEvent::delivery).
    pub fn delivery(&self) -> &Delivery {
        &self.delivery
    }

    /// The event name, where the scheme (or
    /// [`WebhookConfig::event_name`]) says it is; `None` when the delivery
    /// has none that can be read.
    pub fn event_name(&self) -> Option<&str> {
        self.event.as_deref()
    }
}

impl<T> Deref for Verified<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.inner
    }
}

impl<T> DerefMut for Verified<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.inner
    }
}

impl<T: fmt::Debug> fmt::Debug for Verified<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verified")
            .field("inner", &self.inner)
            .field("delivery", &self.delivery)
            .field("event", &self.event)
            .finish()
    }
}

impl FromRequest for Verified<Bytes> {
    type Error = Rejection;
    type Future = LocalBoxFuture<'static, Result<Self, Rejection>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let mut payload = payload.take();
        Box::pin(async move { read_verified(&req, &mut payload).await })
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for Verified<web::Json<T>> {
    type Error = Rejection;
    type Future = LocalBoxFuture<'static, Result<Self, Rejection>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let mut payload = payload.take();
        Box::pin(async move {
            let verified = read_verified(&req, &mut payload).await?;
            match PayloadError::parse(&verified.inner) {
                Ok(value) => Ok(Self {
                    inner: web::Json(value),
                    delivery: verified.delivery,
                    event: verified.event,
                }),
                Err(error) => {
                    let rejection = Rejection::InvalidPayload(error);
                    rejection.log(verified.delivery_id().map(shown_id).as_deref());
                    Err(rejection)
                }
            }
        })
    }
}

/// Runs the pipeline with the app's [`WebhookConfig`], logging a
/// rejection: a handshake the scheme answers is [`Rejection::Handshake`].
async fn read_verified(
    req: &HttpRequest,
    payload: &mut Payload,
) -> Result<Verified<Bytes>, Rejection> {
    let Some(config) = WebhookConfig::from_req(req) else {
        tracing::error!(
            target: "actix_webhook::rejection",
            path = req.path(),
            "`Verified` used without a `WebhookConfig` in app_data; rejecting"
        );
        return Err(Rejection::NotConfigured);
    };
    let rejection = match config.receive(req, payload).await {
        Ok(Received::Delivery(Arrival {
            body,
            delivery,
            event,
            ..
        })) => {
            return Ok(Verified {
                inner: body,
                delivery,
                // `Verified` needs no event name: one that cannot be read is
                // none.
                event: event.ok().flatten(),
            });
        }
        Ok(Received::Reply(reply)) => Rejection::Handshake(reply),
        Err(rejection) => rejection,
    };
    rejection.log(None);
    let outcome = match &rejection {
        Rejection::Handshake(_) => "reply",
        other => other.code(),
    };
    let status = rejection.status().as_u16();
    crate::metrics::answered(config.scheme().name(), NO_EVENT, outcome, status, None);
    Err(rejection)
}
