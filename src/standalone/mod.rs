//! Verifying a delivery without actix-web, in one call: [`construct_event`]
//! takes the headers as name/value pairs, the raw body and a scheme built
//! with the secret, and gives the verified delivery with its typed payload,
//! or an error saying why not. For services on another framework (axum,
//! hyper, a Lambda function) or a queue consumer; the router and the
//! [`Verified`](crate::Verified) extractor run the same scheme calls.
//!
//! ```
//! use actix_webhook::construct_event;
//! use actix_webhook::scheme::Stripe;
//! use actix_webhook::standalone::{ConstructError, Received};
//! use serde::Deserialize;
//!
//! #[derive(Deserialize)]
//! struct StripeEvent {
//!     data: Data,
//! }
//!
//! #[derive(Deserialize)]
//! struct Data {
//!     object: Invoice,
//! }
//!
//! #[derive(Deserialize)]
//! struct Invoice {
//!     amount_paid: u64,
//! }
//!
//! let scheme = Stripe::new("whsec_test_secret")?;
//! let body = br#"{"id":"evt_1","type":"invoice.paid","data":{"object":{"amount_paid":1250}}}"#;
//! # let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs() as i64;
//! # let signature = scheme.signature(now, body);
//! // The headers as your framework gives them: (name, value) pairs.
//! let headers = vec![("Stripe-Signature".to_owned(), signature)];
//!
//! match construct_event::<StripeEvent>(&scheme, &headers, body) {
//!     Ok(Received::Delivery(event)) => {
//!         assert_eq!(event.name(), "invoice.paid");
//!         assert_eq!(event.delivery_id(), Some("evt_1"));
//!         assert_eq!(event.data.object.amount_paid, 1250);
//!     }
//!     // Slack's url_verification, Discord's PING, Meta's GET challenge.
//!     Ok(Received::Handshake(reply)) => unreachable!("Stripe has no handshake: {reply:?}"),
//!     Err(error) => panic!("answer {} {}: {error}", error.status(), error.code()),
//! }
//!
//! // Another secret: not verified, 401 `invalid_signature`.
//! let other = Stripe::new("whsec_other")?;
//! let Err(error) = construct_event::<StripeEvent>(&other, &headers, body) else {
//!     panic!("verified with another secret");
//! };
//! assert!(matches!(error, ConstructError::Unverified(_)));
//! assert_eq!((error.status(), error.code()), (401, "invalid_signature"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [`Verifier`] is the same call with its options: a [`Clock`] other than
//! the system's, the secrets of one tenant, the method and path for the
//! schemes that need them (Twilio signs the URL, Meta's handshake is a
//! `GET`), and the event name's location.
//!
//! What it leaves to you: reading the body (bound its size), answering
//! (with [`ConstructError::status`] and [`code`](ConstructError::code), the
//! router's statuses and codes), and handling each delivery once (by the
//! [`Delivery`]'s fingerprint when it has one, else its id, as the router
//! claims it).

use std::fmt;

use serde::de::DeserializeOwned;

use crate::payload::PayloadError;
use crate::scheme::{
    require_body_id, Delivery, EventName, EventNameError, Headers, Reply, Request, Scheme,
};
use crate::secret::Secrets;
use crate::verify::{Clock, SystemClock};

mod error;
mod received;

pub use error::ConstructError;
pub use received::{Received, VerifiedEvent};

/// Verifies a `POST` delivery with `scheme` at the system clock's time, and
/// parses its body as `T`: Stripe's `constructEvent` for any scheme.
///
/// `headers` are the request's headers as name/value pairs (a `Vec`, a
/// slice or an array of `(name, value)`, or actix-web's `HeaderMap`), names
/// in any case; `body` the raw bytes as received, before any parsing. The
/// request is taken to be a `POST` to `/`: for Twilio, which signs the URL,
/// and Meta's `GET` handshake use [`Verifier`] with the method and path.
///
/// ```
/// use actix_webhook::construct_event;
/// use actix_webhook::scheme::GitHub;
/// use actix_webhook::standalone::{ConstructError, Received};
///
/// let scheme = GitHub::new("It's a Secret to Everybody")?;
/// let body = br#"{"action":"opened","issue":{"number":7}}"#;
/// let signature = scheme.signature(body);
/// let headers = [
///     ("X-Hub-Signature-256", signature.as_str()),
///     ("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958"),
///     ("X-GitHub-Event", "issues"),
/// ];
/// let Received::Delivery(event) = construct_event::<serde_json::Value>(&scheme, &headers, body)?
/// else {
///     unreachable!("GitHub has no handshake")
/// };
/// assert_eq!(event.name(), "issues.opened");
/// assert_eq!(event["issue"]["number"], 7);
///
/// // The payload does not fit the type: the JSON path says where.
/// #[derive(serde::Deserialize, Debug)]
/// struct Issue { issue: Number }
/// #[derive(serde::Deserialize, Debug)]
/// struct Number { number: String }
/// let error = construct_event::<Issue>(&scheme, &headers, body).unwrap_err();
/// let ConstructError::InvalidPayload(why) = &error else { panic!("{error}") };
/// assert_eq!(why.path(), Some("issue.number"));
/// assert_eq!((error.status(), error.code()), (400, "invalid_payload"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// As [`Verifier::construct`].
pub fn construct_event<T: DeserializeOwned>(
    scheme: &dyn Scheme,
    headers: &(impl Headers + ?Sized),
    body: &[u8],
) -> Result<Received<T>, ConstructError> {
    Verifier::new(scheme).construct(headers, body)
}

/// [`construct_event`] with options: the clock, the secrets, the request's
/// method and path, and where the event name is.
///
/// It borrows everything and costs nothing to build, so build one per
/// request:
///
/// ```
/// use actix_webhook::scheme::StandardWebhooks;
/// use actix_webhook::standalone::{ConstructError, Verifier};
/// use actix_webhook::verify::FixedClock;
///
/// // Standard Webhooks' published example, checked at its own time.
/// let scheme = StandardWebhooks::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?;
/// let headers = [
///     ("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek"),
///     ("webhook-timestamp", "1614265330"),
///     ("webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="),
/// ];
/// let body = br#"{"test": 2432232314}"#;
/// let clock = FixedClock(1_614_265_330);
/// let verifier = Verifier::new(&scheme).clock(&clock);
/// // Genuine, but this body has no `type`: nothing to route it by.
/// let error = verifier.verify(&headers, body).unwrap_err();
/// assert!(matches!(error, ConstructError::InvalidPayload(_)));
/// assert_eq!(error.to_string(), "invalid payload: the body has no event name: no string at `/type`");
/// // With another secret it is not genuine at all.
/// let other = StandardWebhooks::new("whsec_dGVzdA==")?;
/// let error = Verifier::new(&other).clock(&clock).verify(&headers, body).unwrap_err();
/// assert_eq!(error.code(), "invalid_signature");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// What each scheme needs besides the headers and the body:
///
/// - Twilio signs the URL: give [`path`](Self::path) the request target as
///   received (`/sms?x=1`), and build the scheme with `public_url`, or pass
///   the `Host` header.
/// - Meta's subscription challenge is a `GET` with the token in the query:
///   give [`method`](Self::method) and [`path`](Self::path), and answer the
///   [`Received::Handshake`].
/// - The others sign the headers and the body only.
#[derive(Clone, Copy)]
pub struct Verifier<'a> {
    scheme: &'a dyn Scheme,
    secrets: Option<&'a Secrets>,
    clock: &'a dyn Clock,
    method: &'a str,
    path_and_query: &'a str,
    event_name: Option<&'a EventName>,
}

impl<'a> Verifier<'a> {
    /// Verifies with `scheme` and its secrets, at the system clock's time,
    /// a `POST` to `/`.
    pub fn new(scheme: &'a dyn Scheme) -> Self {
        Self {
            scheme,
            secrets: None,
            clock: &SystemClock,
            method: "POST",
            path_and_query: "/",
            event_name: None,
        }
    }

    /// The clock timestamps are checked against (default the system clock),
    /// e.g. a [`FixedClock`](crate::verify::FixedClock) in tests.
    #[must_use]
    pub fn clock(mut self, clock: &'a dyn Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Verifies with `secrets` instead of the scheme's own, e.g. the
    /// secrets of the tenant the request is for.
    #[must_use]
    pub fn secrets(mut self, secrets: &'a Secrets) -> Self {
        self.secrets = Some(secrets);
        self
    }

    /// The request's method, as sent, e.g. `GET` (default `POST`). Another
    /// method than `POST` is a handshake the scheme answers (Meta's `GET`
    /// challenge) or [`ConstructError::MethodNotAllowed`].
    #[must_use]
    pub fn method(mut self, method: &'a str) -> Self {
        self.method = method;
        self
    }

    /// The request target as received, path and query, e.g.
    /// `/webhooks/twilio?source=sms` (default `/`).
    #[must_use]
    pub fn path(mut self, path_and_query: &'a str) -> Self {
        self.path_and_query = path_and_query;
        self
    }

    /// Where the event name is, instead of where the scheme says (as
    /// [`WebhookRouter::event_name`](crate::WebhookRouter::event_name)).
    #[must_use]
    pub fn event_name(mut self, event_name: &'a EventName) -> Self {
        self.event_name = Some(event_name);
        self
    }

    /// Verifies the request, reads its event name and parses its body as
    /// `T` (JSON), with the scheme calls the router makes: a handshake the
    /// scheme answers itself is a [`Received::Handshake`] to send back.
    ///
    /// # Errors
    ///
    /// - [`ConstructError::Unverified`] when the request is not genuine or
    ///   not fresh, a handshake is refused, or the header naming the event
    ///   is absent, repeated or empty;
    /// - [`ConstructError::MethodNotAllowed`] for a method other than
    ///   `POST` that the scheme does not answer;
    /// - [`ConstructError::InvalidPayload`] when the body is not JSON, has
    ///   no event name where the scheme reads it (a Stripe body with no
    ///   `type`), or does not fit `T`.
    pub fn construct<T: DeserializeOwned>(
        &self,
        headers: &(impl Headers + ?Sized),
        body: &[u8],
    ) -> Result<Received<T>, ConstructError> {
        let event = match self.verify(headers, body)? {
            Received::Delivery(event) => event,
            Received::Handshake(reply) => return Ok(Received::Handshake(reply)),
        };
        // A batch (HubSpot, Xero) has no name of its own: `T` is the batch.
        if event.name.is_empty() && !self.is_batch(headers, body) {
            return Err(ConstructError::InvalidPayload(PayloadError::missing(
                "event name",
            )));
        }
        let payload = PayloadError::parse(body).map_err(ConstructError::InvalidPayload)?;
        Ok(Received::Delivery(VerifiedEvent {
            delivery: event.delivery,
            name: event.name,
            payload,
        }))
    }

    /// Whether the scheme reads this body as a batch of events.
    fn is_batch(&self, headers: &(impl Headers + ?Sized), body: &[u8]) -> bool {
        let headers = &headers;
        let request = Request::new(self.method, self.path_and_query, headers, body);
        self.scheme.batch(&request).is_some()
    }

    /// As [`construct`](Self::construct), without parsing the body: for
    /// bodies that are not JSON (Twilio's and Slack's forms) or that you
    /// parse yourself. The event name is empty when the delivery has none.
    ///
    /// # Errors
    ///
    /// As [`construct`](Self::construct), but the payload is not parsed.
    pub fn verify(
        &self,
        headers: &(impl Headers + ?Sized),
        body: &[u8],
    ) -> Result<Received<()>, ConstructError> {
        // `&H` is a sized `Headers`, whatever `H` is.
        let headers = &headers;
        let request = Request::new(self.method, self.path_and_query, headers, body);
        let secrets = self.secrets.unwrap_or_else(|| self.scheme.secrets());
        let now = self.clock.now();
        match check(self.scheme, &request, secrets, now, self.event_name)? {
            Checked::Reply(reply) => Ok(Received::Handshake(reply)),
            Checked::Delivery(delivery, name) => Ok(Received::Delivery(VerifiedEvent {
                delivery,
                name: name?.unwrap_or_default(),
                payload: (),
            })),
        }
    }
}

/// What a scheme makes of a request: a handshake it answers itself, or a
/// verified delivery with its event name, read once (what a missing one
/// means is the caller's to say).
pub(crate) enum Checked {
    Reply(Reply),
    Delivery(Delivery, Result<Option<String>, EventNameError>),
}

/// The steps every receiver takes once it has the request and its body
/// (the router and the [`Verified`](crate::Verified) extractor through
/// [`WebhookConfig`](crate::WebhookConfig), and [`Verifier`]).
///
/// A method other than `POST` carries no signature: a handshake the scheme
/// answers (Meta's `GET` challenge) or refuses, else 405. A `POST` is
/// verified; then the scheme may answer it (Slack's `url_verification`), a
/// body without the id its sender always puts there is refused, and the
/// event name is read where `event_name` says, else where the scheme does.
pub(crate) fn check(
    scheme: &dyn Scheme,
    request: &Request<'_>,
    secrets: &Secrets,
    now: i64,
    event_name: Option<&EventName>,
) -> Result<Checked, ConstructError> {
    if request.method() != "POST" {
        return match scheme.unsigned_reply(request, secrets) {
            Some(Ok(reply)) => Ok(Checked::Reply(reply)),
            Some(Err(refused)) => Err(ConstructError::Unverified(refused)),
            None => Err(ConstructError::MethodNotAllowed),
        };
    }
    let started = crate::metrics::start();
    let verified = scheme.verify(request, secrets, now);
    let secret = match &verified {
        Ok(delivery) => Some(secrets.label_of(delivery.secret)),
        Err(_) => None,
    };
    // Which secret matched, by label: how a rotation is watched. Recorded
    // on the caller's span when it has a `secret` field (the router's).
    if let Some(secret) = secret {
        tracing::Span::current().record("secret", secret);
    }
    crate::metrics::verified(scheme.name(), crate::metrics::since(started), secret);
    let delivery = verified?;
    let secret = delivery
        .secret
        .and_then(|i| secrets.iter().nth(i))
        .unwrap_or_else(|| secrets.primary());
    if let Some(reply) = scheme.signed_reply(request, secret) {
        return Ok(Checked::Reply(reply));
    }
    require_body_id(scheme, delivery.id.as_deref()).map_err(ConstructError::InvalidPayload)?;
    let name = event_name_of(scheme, event_name, request);
    Ok(Checked::Delivery(delivery, name))
}

/// The event name of a verified `request`, read at `location` when given,
/// else where the scheme says.
pub(crate) fn event_name_of(
    scheme: &dyn Scheme,
    location: Option<&EventName>,
    request: &Request<'_>,
) -> Result<Option<String>, EventNameError> {
    match location {
        Some(location) => location.find(request),
        None => scheme.event_name(request),
    }
}

impl fmt::Debug for Verifier<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("scheme", &self.scheme.name())
            .field("own_secrets", &self.secrets.is_some())
            .field("clock", &self.clock)
            .field("method", &self.method)
            .field("path_and_query", &self.path_and_query)
            .field("event_name", &self.event_name)
            .finish()
    }
}
