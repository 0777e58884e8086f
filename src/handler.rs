//! The handler side: [`Event<T>`], what a `#[webhook]` function receives, and
//! the traits behind the macro.
//!
//! `#[webhook]` implements [`Handler`] for the function, which
//! [`WebhookRouter::handler`](crate::WebhookRouter::handler) accepts. The
//! other traits are how it checks the function's types, and what the
//! compiler names when one does not fit: [`FromDelivery`] for the first
//! parameter (`Event<T>`), [`Extractor`] for the others (actix-web
//! extractors), [`IntoAck`] for the return type. You do not implement them
//! by hand.
//!
//! ```
//! use actix_web::web;
//! use actix_webhook::{webhook, Ack, Event};
//! use serde::Deserialize;
//!
//! #[derive(Deserialize)]
//! struct OrderPaid { order_id: String }
//!
//! struct Db;
//!
//! /// Marks the order paid.
//! #[webhook(event = "order_paid")]
//! async fn order_paid(event: Event<OrderPaid>, _db: web::Data<Db>) -> Ack {
//!     println!("{} ({:?})", event.order_id, event.delivery_id());
//!     Ack::processed()
//! }
//! ```

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use actix_web::http::header::HeaderMap;
use actix_web::web::Bytes;
use actix_web::{FromRequest, HttpRequest};
use chrono::{DateTime, Utc};
use futures_util::future::LocalBoxFuture;
use futures_util::{FutureExt as _, TryFutureExt as _};
use serde::de::DeserializeOwned;

use crate::ack::Ack;
use crate::payload::PayloadError;
use crate::rejection::Rejection;
use crate::scheme::JsonPointer;

/// A verified delivery with its payload parsed as `T`.
///
/// Derefs to `T`. Besides the payload it carries the delivery id, the event
/// name, the timestamp, the scheme's name, the raw body and the headers.
/// `T` is any `serde::de::DeserializeOwned` type, `serde_json::Value`, or
/// `Bytes` for the raw payload.
pub struct Event<T> {
    payload: T,
    meta: Meta,
}

/// Everything about a delivery but its typed payload.
#[derive(Clone)]
struct Meta {
    request: HttpRequest,
    body: Bytes,
    id: Option<Arc<str>>,
    name: Arc<str>,
    timestamp: Option<i64>,
    scheme: &'static str,
    attempt: Option<u32>,
}

impl<T> Event<T> {
    /// The payload.
    pub fn into_inner(self) -> T {
        self.payload
    }

    /// The sender's id of this delivery, the same on every retry (when the
    /// scheme has one).
    pub fn delivery_id(&self) -> Option<&str> {
        self.meta.id.as_deref()
    }

    /// The event name the delivery was routed by, e.g. `order_paid` or
    /// `issues.opened`.
    pub fn name(&self) -> &str {
        &self.meta.name
    }

    /// When the sender signed the delivery, when the scheme signs a
    /// timestamp (and it is a representable date).
    pub fn timestamp(&self) -> Option<DateTime<Utc>> {
        crate::verify::signed_at(self.meta.timestamp)
    }

    /// Which run of the delivery this is, from 1, when it runs from an
    /// inbox (`WebhookRouter::inbox`, feature `sqlite`); `None` when it runs
    /// inside the sender's request. A run killed mid-way counts: the same
    /// delivery may reach a handler again after it did part of its work.
    ///
    /// ```
    /// use actix_webhook::{webhook, Event};
    ///
    /// #[webhook(event = "order_paid")]
    /// async fn order_paid(event: Event<serde_json::Value>) -> Result<(), String> {
    ///     if event.attempt() > Some(1) {
    ///         println!("{:?} again: the work must be idempotent", event.delivery_id());
    ///     }
    ///     Ok(())
    /// }
    /// ```
    pub fn attempt(&self) -> Option<u32> {
        self.meta.attempt
    }

    /// The scheme that verified it, e.g. `"standard-webhooks"`.
    pub fn scheme(&self) -> &'static str {
        self.meta.scheme
    }

    /// The body as received (the signed bytes).
    pub fn raw_body(&self) -> &Bytes {
        &self.meta.body
    }

    /// The request headers.
    pub fn headers(&self) -> &HeaderMap {
        self.meta.request.headers()
    }

    /// The request, for anything else (path parameters, peer address).
    pub fn request(&self) -> &HttpRequest {
        &self.meta.request
    }
}

impl<T> Deref for Event<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.payload
    }
}

impl<T> DerefMut for Event<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.payload
    }
}

impl<T: fmt::Debug> fmt::Debug for Event<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("name", &self.meta.name)
            .field("delivery_id", &self.meta.id)
            .field("timestamp", &self.meta.timestamp)
            .field("scheme", &self.meta.scheme)
            .field("payload", &self.payload)
            .finish()
    }
}

/// A verified delivery on its way to a handler. Built by the router; the
/// macro's generated code turns it into the handler's arguments.
pub struct Incoming {
    meta: Meta,
    payload_at: Option<Arc<JsonPointer>>,
}

impl Incoming {
    pub(crate) fn new(
        request: HttpRequest,
        body: Bytes,
        id: Option<Arc<str>>,
        name: Arc<str>,
        timestamp: Option<i64>,
        scheme: &'static str,
        payload_at: Option<Arc<JsonPointer>>,
    ) -> Self {
        Self {
            meta: Meta {
                request,
                body,
                id,
                name,
                timestamp,
                scheme,
                attempt: None,
            },
            payload_at,
        }
    }

    /// The same delivery, on run `attempt` from an inbox.
    #[cfg(feature = "inbox")]
    pub(crate) fn on_attempt(mut self, attempt: u32) -> Self {
        self.meta.attempt = Some(attempt);
        self
    }

    /// The request, for extracting further handler arguments.
    pub fn request(&self) -> &HttpRequest {
        &self.meta.request
    }

    /// The raw payload: the body, or the part of it the router was told to
    /// hand over (e.g. `/data`).
    fn payload_bytes(&self) -> Result<Bytes, Rejection> {
        let Some(pointer) = &self.payload_at else {
            return Ok(self.meta.body.clone());
        };
        let raw = pointer
            .raw_in(&self.meta.body)
            .map_err(|e| Rejection::InvalidPayload(PayloadError::from_json(&e)))?
            .ok_or_else(|| {
                Rejection::InvalidPayload(PayloadError::missing(format_args!(
                    "payload: no value at `{pointer}`"
                )))
            })?;
        Ok(self.meta.body.slice_ref(raw.get().as_bytes()))
    }
}

impl fmt::Debug for Incoming {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Incoming")
            .field("name", &self.meta.name)
            .field("delivery_id", &self.meta.id)
            .finish_non_exhaustive()
    }
}

/// Runs `handler` on `incoming`; a panic, while the future is made or while
/// it runs, is a [`Failure::Error`].
pub(crate) async fn run(handler: &dyn Handler, incoming: Incoming) -> Result<Ack, Failure> {
    let panicked = || Err(Failure::Error("the handler panicked".into()));
    match std::panic::catch_unwind(AssertUnwindSafe(|| handler.call(incoming))) {
        Ok(future) => AssertUnwindSafe(future)
            .catch_unwind()
            .await
            .unwrap_or_else(|_| panicked()),
        Err(_) => panicked(),
    }
}

/// Builds a `#[webhook]` handler's first argument from the delivery:
/// implemented by [`Event<T>`] for any `T: DeserializeOwned`.
#[diagnostic::on_unimplemented(
    message = "the first parameter of a `#[webhook]` handler must be `Event<T>`",
    label = "expected `Event<T>`, found `{Self}`"
)]
pub trait FromDelivery: Sized {
    /// Parses the payload.
    ///
    /// # Errors
    ///
    /// [`Rejection::InvalidPayload`] when it does not fit.
    fn from_delivery(incoming: Incoming) -> Result<Self, Rejection>;
}

impl<T: DeserializeOwned> FromDelivery for Event<T> {
    fn from_delivery(incoming: Incoming) -> Result<Self, Rejection> {
        let bytes = incoming.payload_bytes()?;
        let payload = PayloadError::parse(&bytes).map_err(Rejection::InvalidPayload)?;
        Ok(Self {
            payload,
            meta: incoming.meta,
        })
    }
}

/// Why a handler did not produce an [`Ack`].
#[derive(Debug)]
#[non_exhaustive]
pub enum Failure {
    /// The payload does not fit the handler's type (400).
    Rejected(Rejection),
    /// The handler or one of its extractors returned an error (500); the
    /// message, with its causes, goes to the log, never to the sender.
    Error(String),
}

/// A webhook handler: what `#[webhook(event = "...")]` generates, and what
/// [`WebhookRouter::handler`](crate::WebhookRouter::handler) takes.
///
/// Not meant to be implemented by hand; annotate an `async fn` instead.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a webhook handler",
    note = "annotate the function with `#[webhook(event = \"...\")]`"
)]
pub trait Handler: Send + Sync + 'static {
    /// The event patterns it handles.
    fn events(&self) -> &'static [&'static str];

    /// The function's name, for logs and registration errors.
    fn name(&self) -> &'static str;

    /// Runs the handler on a verified delivery.
    fn call(&self, incoming: Incoming) -> LocalBoxFuture<'static, Result<Ack, Failure>>;
}

/// What a `#[webhook]` function may return: `()`, [`Ack`], or
/// `Result<(), E>` / `Result<Ack, E>` with `E: Display`.
#[diagnostic::on_unimplemented(
    message = "a `#[webhook]` handler must return `()`, `Ack`, or `Result<_, E>` with `E: Display`",
    label = "`{Self}` cannot be turned into an acknowledgement"
)]
pub trait IntoAck {
    /// The acknowledgement, or the failure to log.
    ///
    /// # Errors
    ///
    /// [`Failure::Error`] with the error's text (and its causes, as `{:#}`
    /// writes them) for an `Err`.
    fn into_ack(self) -> Result<Ack, Failure>;
}

impl IntoAck for () {
    fn into_ack(self) -> Result<Ack, Failure> {
        Ok(Ack::processed())
    }
}

impl IntoAck for Ack {
    fn into_ack(self) -> Result<Ack, Failure> {
        Ok(self)
    }
}

impl<T: IntoAck, E: fmt::Display> IntoAck for Result<T, E> {
    fn into_ack(self) -> Result<Ack, Failure> {
        match self {
            Ok(value) => value.into_ack(),
            // `{:#}`: `anyhow` and `eyre` write the whole chain of causes.
            Err(error) => Err(Failure::Error(format!("{error:#}"))),
        }
    }
}

/// A `#[webhook]` handler's parameter after the `Event<T>`: any actix-web
/// extractor ([`FromRequest`]), such as `web::Data<T>`, `HttpRequest`,
/// `web::Path<T>` or `web::Query<T>`. Extractors that read the body
/// (`web::Json`, `web::Bytes`, `String`, ...) are refused by the macro: the
/// router has already read it, and the `Event<T>` holds it.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a parameter of a `#[webhook]` handler",
    label = "not an actix-web extractor (`FromRequest`)",
    note = "parameters after the `Event<T>` are actix-web extractors that do not read the body, e.g. `web::Data<T>`, `HttpRequest`, `web::Path<T>`"
)]
pub trait Extractor: Sized {
    /// Extracts the argument from the request.
    ///
    /// # Errors
    ///
    /// [`Failure::Error`] with the extractor's error text.
    fn extract_from(req: &HttpRequest) -> LocalBoxFuture<'static, Result<Self, Failure>>;
}

impl<T: FromRequest + 'static> Extractor for T {
    fn extract_from(req: &HttpRequest) -> LocalBoxFuture<'static, Result<Self, Failure>> {
        Box::pin(<T as FromRequest>::extract(req).map_err(extract_failed::<T>))
    }
}

/// The failure of extractor `T`: its error's text, for the log.
fn extract_failed<T: FromRequest>(error: T::Error) -> Failure {
    let error: actix_web::Error = error.into();
    Failure::Error(format!(
        "extracting `{}`: {error}",
        std::any::type_name::<T>()
    ))
}

/// Builds an `Event<Bytes>`.
///
/// # Errors
///
/// [`Failure::Rejected`] when the configured payload location is missing.
#[doc(hidden)]
pub fn raw_event(incoming: Incoming) -> Result<Event<Bytes>, Failure> {
    Ok(Event {
        payload: incoming.payload_bytes().map_err(Failure::Rejected)?,
        meta: incoming.meta,
    })
}
