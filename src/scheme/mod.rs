//! Schemes: how a provider signs its deliveries, and where it puts the
//! delivery id, the timestamp and the event name.
//!
//! A [`Scheme`] sees a delivery as a [`Request`] (method, path and query,
//! headers, body) and never touches actix-web types, so the command line and
//! other frameworks use the same code. Each provider lives in its own file and
//! holds only what differs.
//!
//! Presets, each named by the user (two use `whsec_` secrets differently, so
//! a scheme is never guessed): [`StandardWebhooks`] (and Svix), [`GitHub`],
//! [`Stripe`], [`Slack`], [`Shopify`], [`GitLab`], [`Paddle`], [`Meta`],
//! [`Twilio`], [`Razorpay`], [`Square`], [`Linear`], [`Dropbox`],
//! [`Zoom`], [`Twitch`], [`Clerk`], [`Resend`], [`HubSpot`], [`Xero`]
//! and, with the `ed25519` feature, `Discord`; [`GenericHmac`]
//! for other HMAC senders, or implement [`Scheme`].
//!
//! ```
//! use actix_webhook::scheme::{Request, Scheme, StandardWebhooks};
//!
//! let scheme = StandardWebhooks::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?;
//! let body = br#"{"type":"order_paid","data":{}}"#;
//! let signature = scheme.signature("msg_1", 1_700_000_000, body);
//!
//! let headers = [
//!     ("webhook-id", "msg_1"),
//!     ("webhook-timestamp", "1700000000"),
//!     ("webhook-signature", signature.as_str()),
//! ];
//! let request = Request::new("POST", "/webhooks", &headers, body);
//! let delivery = scheme.verify(&request, scheme.secrets(), 1_700_000_010)?;
//! assert_eq!(delivery.id.as_deref(), Some("msg_1"));
//! assert_eq!(scheme.event_name(&request)?.as_deref(), Some("order_paid"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::sync::LazyLock;

use crate::payload::PayloadError;
use crate::secret::{Secret, Secrets};
use crate::verify::VerifyError;

// One concept per file. Here: the `Scheme` trait, `Delivery`, `Reply`.
//   request.rs      the request view (`Request`, `Header`, `Headers`), header readers
//   event_name.rs   where the event name is (`EventName`), and the sender's side of it
//   batch.rs        senders that put several events in one request (`BatchEvent`)
//   signer.rs       the sender's side of a scheme (`Message`, `Signer`, `SignError`)
//   pointer.rs      `JsonPointer`: one value of a JSON body, without a `Value`
//   mac.rs          MACs, digests, decoding, and `any_secret_matches`: the one loop
//                   that matches what a request carries against the secrets
//   signature.rs    `SignatureHeader`: a header holding one encoded signature
//   public_url.rs   the URL a sender signs (Twilio, Square, HubSpot): public URL or `Host`
//   ed25519.rs      ed25519 keys and checks (`v1a`, Discord)
//   timestamped.rs  the scheme Stripe and Paddle share (`t=..,v1=..` headers)
//   test_support.rs helpers for the unit tests
//   the rest        one preset each, holding only what differs

mod batch;
mod clerk;
#[cfg(feature = "ed25519")]
mod discord;
mod dropbox;
#[cfg(feature = "ed25519")]
pub(crate) mod ed25519;
mod event_name;
mod generic;
mod github;
mod gitlab;
mod hubspot;
mod linear;
pub(crate) mod mac;
mod meta;
mod paddle;
mod pointer;
mod public_url;
mod razorpay;
mod request;
mod resend;
mod shopify;
mod signature;
mod signer;
mod slack;
mod square;
mod standard;
mod stripe;
#[cfg(test)]
pub(crate) mod test_support;
mod timestamped;
mod twilio;
mod twitch;
mod xero;
mod zoom;

pub use batch::BatchEvent;
pub use clerk::Clerk;
#[cfg(feature = "ed25519")]
#[cfg_attr(docsrs, doc(cfg(feature = "ed25519")))]
pub use discord::Discord;
pub use dropbox::Dropbox;
pub use event_name::{EventName, EventNameError};
pub use generic::{GenericHmac, SignedContent, TemplateError};
pub use github::GitHub;
pub use gitlab::GitLab;
pub use hubspot::HubSpot;
pub use linear::Linear;
pub use meta::Meta;
pub use paddle::Paddle;
pub use pointer::{InvalidPointer, JsonPointer};
pub use razorpay::Razorpay;
pub use request::{Header, Headers, Request};
pub use resend::Resend;
pub use shopify::Shopify;
pub use signature::Encoding;
pub use signer::{Message, SignError, Signer};
pub use slack::Slack;
pub use square::Square;
pub use standard::StandardWebhooks;
pub use stripe::Stripe;
pub use twilio::Twilio;
pub use twitch::Twitch;
pub use xero::Xero;
pub use zoom::Zoom;

// Crate-internal helpers, at the paths the rest of the crate uses.
pub(crate) use mac::{
    any_hex_mac_matches, any_mac_matches, check_mac, decode_base64, decode_hex, hmac_sha1,
    key_values, only_value, sha256, token_matches,
};
// Signing and verifying go through `Secret::hmac_sha256`; tests check it
// against this.
pub(crate) use batch::{event_field, required_field, split_batch};
#[cfg(test)]
pub(crate) use mac::hmac_sha256;
pub(crate) use pointer::{json_string, place_in, static_pointer};
pub(crate) use request::{first_optional_utf8, optional_utf8, query_pairs, utf8};
pub(crate) use signature::{SignatureHeader, V0};
pub(crate) use timestamped::{timestamped_preset, Format, TimestampedHmac, WithoutMac};

/// What a verified request says about its delivery.
///
/// The router handles a delivery once by claiming its [`fingerprint`] when
/// it has one, else its [`id`]. A scheme gives a fingerprint whenever the id
/// is not signed or absent (GitHub, Shopify, GitLab, Meta, Twilio, Slack
/// forms, Zoom, Linear, Razorpay): an attacker holding one captured delivery
/// could otherwise send it again under fresh ids and have it handled each
/// time. Dropbox alone gives neither, on purpose: two real notifications
/// for one account have the same body, and both must run (see
/// [`Dropbox`]).
///
/// [`fingerprint`]: Delivery::fingerprint
/// [`id`]: Delivery::id
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Delivery {
    /// The sender's id for this delivery, the same on every retry.
    pub id: Option<String>,
    /// When the sender signed it, unix seconds.
    pub timestamp: Option<i64>,
    /// SHA-256 of the content the sender signed, when the id is not signed
    /// (or absent): what recognises a repeat, whatever id it carries. Keyed
    /// by no secret, so it stays the same across a rotation.
    pub fingerprint: Option<[u8; 32]>,
    /// Which of the secrets given to [`Scheme::verify`] verified it, by its
    /// position in the [`Secrets`]: what the pipeline records by the
    /// secret's [label](crate::Secret::labeled). `None` when the scheme does
    /// not say. Found without branching on which secret matched, as the
    /// match itself is.
    pub secret: Option<usize>,
}

impl Delivery {
    /// A delivery with an id and a timestamp, when the scheme has them.
    ///
    /// Use this form only when the sender signs the id; otherwise add a
    /// [`fingerprint`](Self::fingerprint_of).
    pub fn new(id: Option<String>, timestamp: Option<i64>) -> Self {
        Self {
            id,
            timestamp,
            fingerprint: None,
            secret: None,
        }
    }

    /// The same delivery, verified by the secret at `index` of the
    /// [`Secrets`] given to [`Scheme::verify`].
    #[must_use]
    pub fn verified_by(mut self, index: usize) -> Self {
        self.secret = Some(index);
        self
    }

    /// The same delivery recognised by the SHA-256 of `signed`, the content
    /// the sender signed, fed piece by piece (no copy of the body is built).
    #[must_use]
    pub fn fingerprint_of<'a>(mut self, signed: impl IntoIterator<Item = &'a [u8]>) -> Self {
        self.fingerprint = Some(sha256(signed));
        self
    }

    /// Fingerprinted by `signed` when the (signed) id is absent, as when a
    /// Stripe body has no `id`.
    pub(crate) fn fingerprint_if_no_id<'a>(
        self,
        signed: impl IntoIterator<Item = &'a [u8]>,
    ) -> Self {
        if self.id.is_some() {
            self
        } else {
            self.fingerprint_of(signed)
        }
    }
}

/// An answer a scheme gives by itself, without a handler: Slack's
/// `url_verification`, Discord's PING, Meta's subscription challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// HTTP status code.
    pub status: u16,
    /// The `Content-Type` of `body`.
    pub content_type: &'static str,
    /// The response body.
    pub body: Vec<u8>,
}

impl Reply {
    /// A 200 answer with `body` of type `content_type`.
    pub(crate) fn ok(content_type: &'static str, body: Vec<u8>) -> Self {
        Self {
            status: 200,
            content_type,
            body,
        }
    }
}

/// What a sender takes as an answer ([`Scheme::answers`]).
///
/// ```
/// use actix_webhook::scheme::{Answers, Scheme, Xero};
///
/// let xero = Xero::new("webhook-key")?;
/// assert_eq!(xero.answers(), Answers::ANY.only_200().without_body());
/// # Ok::<(), actix_webhook::SecretError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Answers {
    /// Success is 200 only: a 202 (`queued` in inbox mode, `accepted`) is
    /// sent as 200, which such a sender would otherwise retry.
    pub only_200: bool,
    /// No body, whatever the status (the status says it all).
    pub no_body: bool,
}

impl Answers {
    /// Any answer the router gives, as it gives it.
    pub const ANY: Self = Self {
        only_200: false,
        no_body: false,
    };

    /// The same, with success sent as 200 only.
    #[must_use]
    pub const fn only_200(self) -> Self {
        Self {
            only_200: true,
            ..self
        }
    }

    /// The same, without bodies.
    #[must_use]
    pub const fn without_body(self) -> Self {
        Self {
            no_body: true,
            ..self
        }
    }
}

/// How one provider signs deliveries and where it puts their metadata.
///
/// Implement it for a sender this crate has no preset for; only [`name`],
/// [`secrets`] and [`verify`] are required. Verification must compare in
/// constant time ([`crate::verify::constant_time_eq`]) and must not return,
/// log or format a secret or an expected signature.
///
/// [`name`]: Scheme::name
/// [`secrets`]: Scheme::secrets
/// [`verify`]: Scheme::verify
pub trait Scheme: Send + Sync + fmt::Debug + 'static {
    /// A short stable name, e.g. `"standard-webhooks"`, shown in logs and on
    /// [`Event`](crate::Event).
    fn name(&self) -> &'static str;

    /// The secrets configured with the scheme.
    fn secrets(&self) -> &Secrets;

    /// Checks the signature and freshness of `request` against `secrets` at
    /// `now` (unix seconds), and reads its delivery id and timestamp. Where
    /// the id is not signed, or absent, also give the delivery a
    /// [fingerprint](Delivery::fingerprint_of) of what was signed, or a
    /// captured delivery sent under fresh ids runs each time.
    ///
    /// # Errors
    ///
    /// A [`VerifyError`] saying why the request is not genuine or not fresh.
    fn verify(
        &self,
        request: &Request<'_>,
        secrets: &Secrets,
        now: i64,
    ) -> Result<Delivery, VerifyError>;

    /// The event name of a verified request. By default the body's `type`
    /// field, as Standard Webhooks and Stripe send it.
    ///
    /// # Errors
    ///
    /// As [`EventName::find`].
    fn event_name(&self, request: &Request<'_>) -> Result<Option<String>, EventNameError> {
        static TYPE: LazyLock<EventName> = LazyLock::new(|| EventName::json_at("/type"));
        TYPE.find(request)
    }

    /// Where the sender always puts the delivery id in the body, e.g. `/id`
    /// for Stripe: the router, `Verified` and `Verifier` refuse such a
    /// scheme's verified body without one (400 `invalid_payload`) rather than
    /// handle it unrecognised.
    /// `None` (the default) when the id is in a header or may be absent.
    fn id_in_body(&self) -> Option<&'static str> {
        None
    }

    /// Answers a request that carries no signature to check, such as Meta's
    /// `GET` subscription challenge: `Some(Ok(reply))` to answer it,
    /// `Some(Err(error))` to refuse it (sent as any other rejection, e.g.
    /// [`VerifyError::HandshakeRefused`]). `None` (the default) means it is
    /// not such a request: a `POST` is verified as usual, any other method
    /// gets 405.
    fn unsigned_reply(
        &self,
        request: &Request<'_>,
        secrets: &Secrets,
    ) -> Option<Result<Reply, VerifyError>> {
        let _ = (request, secrets);
        None
    }

    /// Answers a verified request by itself instead of routing it, such as
    /// Slack's `url_verification` or Zoom's `endpoint.url_validation`, whose
    /// answer is keyed with `secret`: the one that verified the request.
    /// `None` (the default) routes it.
    fn signed_reply(&self, request: &Request<'_>, secret: &Secret) -> Option<Reply> {
        let _ = (request, secret);
        None
    }

    /// What the sender takes as an answer, for senders that are strict about
    /// it: the router fits every answer to it (Xero's 200 with no body).
    /// By default any answer.
    fn answers(&self) -> Answers {
        Answers::ANY
    }

    /// For a sender that puts several events in one request (HubSpot, Xero):
    /// the events of a verified `request`, each routed, claimed and answered
    /// on its own (see [`BatchEvent`]). `None` (the default): the request is
    /// one delivery.
    ///
    /// # Errors
    ///
    /// A [`PayloadError`] when the body is not such a batch, or an event in
    /// it lacks its name: the whole request is refused (400), as nothing in
    /// it could be routed safely.
    fn batch(&self, request: &Request<'_>) -> Option<Result<Vec<BatchEvent>, PayloadError>> {
        let _ = request;
        None
    }
}

/// Implements [`Scheme`] for `$ty` by forwarding every method, the provided
/// ones included, to the scheme that `$inner` gives for `$this`: for
/// `Arc<S>`, and for presets that wrap another scheme.
macro_rules! forward_scheme {
    ([$($generics:tt)*] $ty:ty, |$this:ident| $inner:expr) => {
        impl<$($generics)*> $crate::scheme::Scheme for $ty {
            fn name(&self) -> &'static str {
                let $this = self;
                $inner.name()
            }
            fn secrets(&self) -> &$crate::secret::Secrets {
                let $this = self;
                $inner.secrets()
            }
            fn verify(
                &self,
                request: &$crate::scheme::Request<'_>,
                secrets: &$crate::secret::Secrets,
                now: i64,
            ) -> Result<$crate::scheme::Delivery, $crate::verify::VerifyError> {
                let $this = self;
                $inner.verify(request, secrets, now)
            }
            fn event_name(
                &self,
                request: &$crate::scheme::Request<'_>,
            ) -> Result<Option<String>, $crate::scheme::EventNameError> {
                let $this = self;
                $inner.event_name(request)
            }
            fn id_in_body(&self) -> Option<&'static str> {
                let $this = self;
                $inner.id_in_body()
            }
            fn unsigned_reply(
                &self,
                request: &$crate::scheme::Request<'_>,
                secrets: &$crate::secret::Secrets,
            ) -> Option<Result<$crate::scheme::Reply, $crate::verify::VerifyError>> {
                let $this = self;
                $inner.unsigned_reply(request, secrets)
            }
            fn signed_reply(
                &self,
                request: &$crate::scheme::Request<'_>,
                secret: &$crate::secret::Secret,
            ) -> Option<$crate::scheme::Reply> {
                let $this = self;
                $inner.signed_reply(request, secret)
            }
            fn answers(&self) -> $crate::scheme::Answers {
                let $this = self;
                $inner.answers()
            }
            fn batch(
                &self,
                request: &$crate::scheme::Request<'_>,
            ) -> Option<Result<Vec<$crate::scheme::BatchEvent>, $crate::payload::PayloadError>> {
                let $this = self;
                $inner.batch(request)
            }
        }
    };
}
pub(crate) use forward_scheme;

forward_scheme!([S: Scheme + ?Sized] std::sync::Arc<S>, |this| **this);

/// Refuses a verified delivery without the id its sender always puts in the
/// body ([`Scheme::id_in_body`]): it is not one of theirs, and would be
/// handled unrecognised.
pub(crate) fn require_body_id(scheme: &dyn Scheme, id: Option<&str>) -> Result<(), PayloadError> {
    match scheme.id_in_body() {
        Some(pointer) if id.is_none_or(str::is_empty) => Err(PayloadError::missing(format_args!(
            "delivery id: no string at `{pointer}`"
        ))),
        _ => Ok(()),
    }
}
