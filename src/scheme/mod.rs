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
//! [`Twilio`] and, with the `ed25519` feature, `Discord`; [`GenericHmac`]
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

use crate::payload::PayloadError;
#[cfg(any(test, doc))]
use crate::secret::Secret;
use crate::secret::Secrets;
use crate::verify::VerifyError;

#[cfg(feature = "ed25519")]
mod discord;
mod generic;
mod github;
mod gitlab;
mod meta;
mod paddle;
mod pointer;
mod shopify;
mod slack;
mod standard;
mod stripe;
mod twilio;

#[cfg(feature = "ed25519")]
#[cfg_attr(docsrs, doc(cfg(feature = "ed25519")))]
pub use discord::Discord;
pub use generic::{Encoding, GenericHmac, SignedContent, TemplateError};
pub use github::GitHub;
pub use gitlab::GitLab;
pub use meta::Meta;
pub use paddle::Paddle;
pub use pointer::{InvalidPointer, JsonPointer};
pub use shopify::Shopify;
pub use slack::Slack;
pub use standard::StandardWebhooks;
pub use stripe::Stripe;
pub use twilio::Twilio;

/// A delivery as a scheme sees it: borrowed pieces of the HTTP request.
#[derive(Clone, Copy)]
pub struct Request<'a> {
    method: &'a str,
    path_and_query: &'a str,
    headers: &'a dyn Headers,
    body: &'a [u8],
}

impl<'a> Request<'a> {
    /// A request from its parts. `path_and_query` is the request target as
    /// received, e.g. `/webhooks?x=1`.
    pub fn new(
        method: &'a str,
        path_and_query: &'a str,
        headers: &'a dyn Headers,
        body: &'a [u8],
    ) -> Self {
        Self {
            method,
            path_and_query,
            headers,
            body,
        }
    }

    /// The HTTP method, e.g. `POST`.
    pub fn method(&self) -> &'a str {
        self.method
    }

    /// The request target as received, e.g. `/webhooks?x=1`.
    pub fn path_and_query(&self) -> &'a str {
        self.path_and_query
    }

    /// The body, as received.
    pub fn body(&self) -> &'a [u8] {
        self.body
    }

    /// The header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Header<'a> {
        self.headers.header(name)
    }

    /// The header `name`, present exactly once.
    ///
    /// # Errors
    ///
    /// [`VerifyError::MissingSignature`] when absent,
    /// [`VerifyError::MalformedSignature`] when repeated.
    pub fn require(&self, name: &'static str) -> Result<&'a [u8], VerifyError> {
        match self.header(name) {
            Header::One(value) => Ok(value),
            Header::Absent => Err(VerifyError::missing(name)),
            Header::Repeated => Err(VerifyError::malformed(name)),
        }
    }

    /// The first of `names` that is present, exactly once; `names[0]` is
    /// reported when none is.
    ///
    /// # Errors
    ///
    /// As [`Request::require`].
    pub fn require_any(&self, names: &[&'static str]) -> Result<&'a [u8], VerifyError> {
        for name in names {
            match self.header(name) {
                Header::One(value) => return Ok(value),
                Header::Repeated => return Err(VerifyError::malformed(*name)),
                Header::Absent => {}
            }
        }
        Err(VerifyError::missing(names.first().copied().unwrap_or("")))
    }
}

impl fmt::Debug for Request<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("path_and_query", &self.path_and_query)
            .field("body_len", &self.body.len())
            .finish_non_exhaustive()
    }
}

/// One header of a request, as a scheme sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Header<'a> {
    /// Not sent.
    Absent,
    /// Sent exactly once, with these bytes.
    One(&'a [u8]),
    /// Sent more than once. Schemes reject a repeated signature header rather
    /// than guess which copy counts.
    Repeated,
}

impl<'a> Header<'a> {
    /// The value when sent exactly once.
    pub fn one(self) -> Option<&'a [u8]> {
        match self {
            Self::One(value) => Some(value),
            Self::Absent | Self::Repeated => None,
        }
    }
}

/// Read access to request headers by case-insensitive name.
///
/// Implemented for actix-web's header map and for slices of `(name, value)`
/// pairs (handy in tests and the command line).
pub trait Headers {
    /// The header `name`.
    fn header(&self, name: &str) -> Header<'_>;
}

impl<N: AsRef<str>, V: AsRef<[u8]>> Headers for [(N, V)] {
    fn header(&self, name: &str) -> Header<'_> {
        let mut found = Header::Absent;
        for (n, v) in self {
            if n.as_ref().eq_ignore_ascii_case(name) {
                found = match found {
                    Header::Absent => Header::One(v.as_ref()),
                    Header::One(_) | Header::Repeated => Header::Repeated,
                };
            }
        }
        found
    }
}

impl<N: AsRef<str>, V: AsRef<[u8]>, const K: usize> Headers for [(N, V); K] {
    fn header(&self, name: &str) -> Header<'_> {
        self.as_slice().header(name)
    }
}

impl<N: AsRef<str>, V: AsRef<[u8]>> Headers for Vec<(N, V)> {
    fn header(&self, name: &str) -> Header<'_> {
        self.as_slice().header(name)
    }
}

impl<H: Headers + ?Sized> Headers for &H {
    fn header(&self, name: &str) -> Header<'_> {
        (**self).header(name)
    }
}

/// What a verified request says about its delivery.
///
/// The router handles a delivery once by claiming its [`fingerprint`] when
/// it has one, else its [`id`]. A scheme gives a fingerprint whenever the id
/// is not signed or absent (GitHub, Shopify, GitLab, Meta, Twilio, Slack
/// forms): an attacker holding one captured delivery could otherwise send it
/// again under fresh ids and have it handled each time.
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
        }
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

/// Where a scheme finds the event name.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventName {
    /// A header, e.g. `X-GitHub-Event`.
    Header(&'static str),
    /// A string in the JSON body, e.g. `/type`.
    Json(JsonPointer),
    /// A header, then `.` and a string in the body when it has one: GitHub's
    /// `issues` + `action: "opened"` gives `issues.opened`.
    HeaderAndJson(&'static str, JsonPointer),
}

impl EventName {
    /// The event name of `request`.
    ///
    /// A name in the body is read as [`JsonPointer::string_in`] reads it.
    /// [`EventName::HeaderAndJson`] gives the header's name alone when the
    /// body has no string at the pointer (GitHub's `push` has no `action`).
    ///
    /// # Errors
    ///
    /// [`EventNameError::Header`] when the name's header is absent, repeated,
    /// empty or not UTF-8: the header is unsigned, so the crate never guesses
    /// which copy routes the delivery. [`EventNameError::Payload`] when the
    /// name is in the body and the body is not JSON, has no non-empty string
    /// there, or repeats a key on the way to the name (also for
    /// [`EventName::HeaderAndJson`], whose body may otherwise be any bytes).
    pub fn find(&self, request: &Request<'_>) -> Result<Option<String>, EventNameError> {
        let header = |name: &'static str| -> Result<String, VerifyError> {
            let value = request.require(name)?;
            match std::str::from_utf8(value) {
                Ok(text) if !text.is_empty() => Ok(text.to_owned()),
                _ => Err(VerifyError::malformed(name)),
            }
        };
        match self {
            Self::Header(name) => Ok(Some(header(name)?)),
            // A delivery is never routed as the empty name.
            Self::Json(pointer) => match pointer.string_in(request.body())? {
                Some(name) if !name.is_empty() => Ok(Some(name)),
                _ => Err(EventNameError::Payload(PayloadError::missing(
                    format_args!("event name: no string at `{pointer}`"),
                ))),
            },
            Self::HeaderAndJson(name, pointer) => {
                let mut event = header(name)?;
                // A body that is not JSON still has the header's name; one
                // that repeats the action would be routed on one of them.
                match pointer.string_in(request.body()) {
                    Ok(Some(action)) => {
                        event.push('.');
                        event.push_str(&action);
                    }
                    Err(error) if pointer::is_repeated_key(&error) => return Err(error.into()),
                    Ok(None) | Err(_) => {}
                }
                Ok(Some(event))
            }
        }
    }
}

impl EventName {
    /// The sender's side of [`find`](Self::find): the header and value a
    /// sender puts on a delivery of `event`, `None` when the name is in the
    /// body. For [`EventName::HeaderAndJson`] the header gets the part
    /// before the first `.` (`issues.opened` sends `issues`), the rest being
    /// the body's.
    pub(crate) fn header_to_send<'e>(&self, event: &'e str) -> Option<(&'static str, &'e str)> {
        match self {
            Self::Header(header) => Some((*header, event)),
            Self::HeaderAndJson(header, _) => Some((
                *header,
                event.split_once('.').map_or(event, |(head, _)| head),
            )),
            Self::Json(_) => None,
        }
    }

    /// Whether a delivery of `message.event` with `message.body` is one a
    /// sender routing by this location sends, so that [`find`](Self::find)
    /// reads `message.event` back: a name in a header must be given, and a
    /// name's part after the first `.` must be what the body holds for
    /// [`EventName::HeaderAndJson`]. A name in the body is not checked.
    ///
    /// # Errors
    ///
    /// [`SignError::MissingEvent`] or [`SignError::EventMismatch`].
    pub(crate) fn check_message(&self, message: &Message<'_>) -> Result<(), SignError> {
        let (header, pointer) = match self {
            Self::Json(_) => return Ok(()),
            Self::Header(header) => (*header, None),
            Self::HeaderAndJson(header, pointer) => (*header, Some(pointer)),
        };
        if message.event.is_empty() {
            return Err(SignError::MissingEvent { header });
        }
        let (Some(pointer), Some((_, action))) = (pointer, message.event.split_once('.')) else {
            return Ok(());
        };
        let found = pointer.string_in(message.body).ok().flatten();
        if found.as_deref() == Some(action) {
            Ok(())
        } else {
            Err(SignError::EventMismatch {
                event: message.event.to_owned(),
                pointer: pointer.as_str().to_owned(),
                found,
            })
        }
    }
}

/// Why a request's event name cannot be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EventNameError {
    /// The header naming the event is absent, repeated, empty or not UTF-8
    /// (answered like any bad header: 401 `missing_signature` or
    /// `malformed_signature`).
    #[error(transparent)]
    Header(#[from] VerifyError),
    /// The body is not JSON, has no event name where the scheme reads it
    /// (or an empty one), or repeats a key on the way to it; or a Slack form
    /// repeats its `payload` or `command` (400 `invalid_payload`).
    #[error(transparent)]
    Payload(PayloadError),
}

impl From<serde_json::Error> for EventNameError {
    fn from(error: serde_json::Error) -> Self {
        Self::Payload(PayloadError::from_json(&error))
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
        static TYPE: std::sync::OnceLock<EventName> = std::sync::OnceLock::new();
        TYPE.get_or_init(|| EventName::Json(JsonPointer::new("/type").expect("valid pointer")))
            .find(request)
    }

    /// Where the sender always puts the delivery id in the body, e.g. `/id`
    /// for Stripe: the router refuses such a scheme's verified body without
    /// one (400 `invalid_payload`) rather than handle it unrecognised.
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
    /// Slack's `url_verification`. `None` (the default) routes it.
    fn signed_reply(&self, request: &Request<'_>) -> Option<Reply> {
        let _ = request;
        None
    }
}

impl<S: Scheme + ?Sized> Scheme for std::sync::Arc<S> {
    fn name(&self) -> &'static str {
        (**self).name()
    }
    fn secrets(&self) -> &Secrets {
        (**self).secrets()
    }
    fn verify(
        &self,
        request: &Request<'_>,
        secrets: &Secrets,
        now: i64,
    ) -> Result<Delivery, VerifyError> {
        (**self).verify(request, secrets, now)
    }
    fn event_name(&self, request: &Request<'_>) -> Result<Option<String>, EventNameError> {
        (**self).event_name(request)
    }
    fn id_in_body(&self) -> Option<&'static str> {
        (**self).id_in_body()
    }
    fn unsigned_reply(
        &self,
        request: &Request<'_>,
        secrets: &Secrets,
    ) -> Option<Result<Reply, VerifyError>> {
        (**self).unsigned_reply(request, secrets)
    }
    fn signed_reply(&self, request: &Request<'_>) -> Option<Reply> {
        (**self).signed_reply(request)
    }
}

/// A delivery to sign, as a sender would send it.
#[derive(Debug, Clone, Copy)]
pub struct Message<'a> {
    /// The delivery id.
    pub id: &'a str,
    /// When it is signed, unix seconds.
    pub timestamp: i64,
    /// The event name, for schemes that send it in a header.
    pub event: &'a str,
    /// The full URL it is sent to, for schemes that sign it (Twilio).
    pub url: &'a str,
    /// The body.
    pub body: &'a [u8],
}

/// The sender's side of a scheme: the headers a provider puts on a delivery.
/// Used by the `webhook` command line and [`crate::testing`].
///
/// [`sign`](Self::sign) signs any message, even one the provider never
/// sends (handy to test a rejection); [`try_sign`](Self::try_sign) first
/// [checks](Self::check) that the provider could send it.
///
/// ```
/// use actix_webhook::scheme::{GitHub, Message, SignError, Signer};
///
/// let scheme = GitHub::new("It's a Secret to Everybody")?;
/// let body = br#"{"action":"opened","issue":{"number":1}}"#;
/// let message = Message { id: "d1", timestamp: 0, event: "issues.opened", url: "", body };
/// let headers = scheme.try_sign(&message)?;
/// assert!(headers.contains(&("X-GitHub-Event".into(), "issues".into())));
///
/// // GitHub always names the event in `X-GitHub-Event`.
/// let unnamed = Message { event: "", ..message };
/// assert_eq!(
///     scheme.try_sign(&unnamed),
///     Err(SignError::MissingEvent { header: "X-GitHub-Event" })
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait Signer {
    /// The headers, `(name, value)`, to send with `message`, as given.
    fn sign(&self, message: &Message<'_>) -> Vec<(String, String)>;

    /// Checks that the provider could send `message`, so that the receiving
    /// scheme reads back its event name. By default every message passes;
    /// schemes that send the event name in a header (GitHub, Shopify,
    /// GitLab, [`GenericHmac`] configured so) need one.
    ///
    /// # Errors
    ///
    /// A [`SignError`] saying what the message lacks.
    fn check(&self, message: &Message<'_>) -> Result<(), SignError> {
        let _ = message;
        Ok(())
    }

    /// [`check`](Self::check), then [`sign`](Self::sign).
    ///
    /// # Errors
    ///
    /// As [`check`](Self::check).
    fn try_sign(&self, message: &Message<'_>) -> Result<Vec<(String, String)>, SignError> {
        self.check(message)?;
        Ok(self.sign(message))
    }
}

/// Why a [`Message`] is not one the provider would send.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignError {
    /// The scheme routes deliveries by a header naming the event, and the
    /// message has no event name: the receiver would refuse it (401
    /// `missing_signature`) or route it as something else.
    #[error("no event name: the provider always sends one in the `{header}` header")]
    MissingEvent {
        /// The header that carries the event name, e.g. `X-GitHub-Event`.
        header: &'static str,
    },
    /// The event name has an action after its first `.` (GitHub's
    /// `issues.opened`), which the receiver reads from the body, and the
    /// body says otherwise: the delivery would be routed as another event.
    #[error(
        "event `{event}` names an action the body does not have: its `{pointer}` is {}",
        found.as_deref().map_or_else(|| "absent".to_owned(), |found| format!("`{found}`"))
    )]
    EventMismatch {
        /// The event name given.
        event: String,
        /// Where the body holds the action, e.g. `/action`.
        pointer: String,
        /// What the body holds there (`None`: nothing, or not a string).
        found: Option<String>,
    },
}

/// Reads a header as UTF-8 text, for ids and other values that become strings.
///
/// # Errors
///
/// [`VerifyError::MalformedSignature`] naming `header` when it is not UTF-8.
pub(crate) fn utf8(header: &'static str, value: &[u8]) -> Result<String, VerifyError> {
    std::str::from_utf8(value)
        .map(str::to_owned)
        .map_err(|_| VerifyError::malformed(header))
}

/// An optional header read as UTF-8 text, such as a delivery id: `None` when
/// absent.
///
/// # Errors
///
/// [`VerifyError::MalformedSignature`] naming `header` when it is repeated
/// (which copy names the delivery would be a guess, and a guess could let a
/// repeat run twice) or not UTF-8.
pub(crate) fn optional_utf8(
    request: &Request<'_>,
    header: &'static str,
) -> Result<Option<String>, VerifyError> {
    match request.header(header) {
        Header::Absent => Ok(None),
        Header::One(raw) => utf8(header, raw).map(Some),
        Header::Repeated => Err(VerifyError::malformed(header)),
    }
}

/// Decodes a base64 signature of `N` bytes (padding optional).
///
/// `Err(())` when it is not base64, `Ok(None)` when it is but has another
/// length (a candidate that cannot match).
pub(crate) fn decode_base64<const N: usize>(value: &[u8]) -> Result<Option<[u8; N]>, ()> {
    use base64::Engine as _;
    const ENGINE: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    // Room for one byte more than N, so a longer value is seen as such.
    let mut buf = [0u8; 96];
    if value.len() > 128 {
        return ENGINE.decode(value).map(|_| None).map_err(|_| ());
    }
    match ENGINE.decode_slice(value, &mut buf) {
        Ok(len) if len == N => {
            let mut out = [0u8; N];
            out.copy_from_slice(&buf[..N]);
            Ok(Some(out))
        }
        Ok(_) => Ok(None),
        Err(_) => Err(()),
    }
}

/// The `key=value` entries of a signature header that lists them separated
/// by `separator` (Stripe's `t=..,v1=..`, Paddle's `ts=..;h1=..`), trimmed;
/// entries without `=` are skipped.
pub(crate) fn key_values(
    header: &[u8],
    separator: u8,
) -> impl Iterator<Item = (&[u8], &[u8])> + Clone {
    header.split(move |b| *b == separator).filter_map(|entry| {
        let entry = entry.trim_ascii();
        let eq = entry.iter().position(|b| *b == b'=')?;
        Some((&entry[..eq], &entry[eq + 1..]))
    })
}

/// The value of the one entry named `key` in such a header; `None` when it
/// has none or several.
pub(crate) fn only_value<'h>(header: &'h [u8], separator: u8, key: &[u8]) -> Option<&'h [u8]> {
    let mut values = key_values(header, separator).filter(|(k, _)| *k == key);
    match (values.next(), values.next()) {
        (Some((_, value)), None) => Some(value),
        _ => None,
    }
}

/// Whether any `key` entry of such a header is the hex HMAC-SHA256 of
/// `signed` under any of `secrets`, checking every pair. An entry that is
/// not 32 bytes of hex cannot match and is skipped, as the providers' SDKs
/// do.
pub(crate) fn any_hex_mac_matches(
    header: &[u8],
    separator: u8,
    key: &[u8],
    secrets: &Secrets,
    signed: [&[u8]; 3],
) -> bool {
    let candidates = key_values(header, separator)
        .filter(move |(k, _)| *k == key)
        .filter_map(|(_, value)| decode_hex::<32>(value).ok().flatten());
    any_mac_matches(secrets, candidates, |secret| hmac_sha256(secret, signed))
}

/// Decodes a hex signature of `N` bytes (either case); see [`decode_base64`].
pub(crate) fn decode_hex<const N: usize>(value: &[u8]) -> Result<Option<[u8; N]>, ()> {
    if !value.iter().all(u8::is_ascii_hexdigit) || !value.len().is_multiple_of(2) {
        return Err(());
    }
    let mut out = [0u8; N];
    match hex::decode_to_slice(value, &mut out) {
        Ok(()) => Ok(Some(out)),
        Err(_) => Ok(None),
    }
}

/// HMAC-SHA256 keyed with `key` over `parts`, fed one by one (no copy of
/// the body is built).
pub(crate) fn hmac_sha256<'a>(key: &[u8], parts: impl IntoIterator<Item = &'a [u8]>) -> [u8; 32] {
    use hmac::Mac as _;
    let mut mac =
        <hmac::Hmac<sha2::Sha256>>::new_from_slice(key).expect("HMAC accepts keys of any length");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// SHA-256 of `parts`, fed one by one.
pub(crate) fn sha256<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> [u8; 32] {
    use sha2::Digest as _;
    let mut digest = sha2::Sha256::new();
    for part in parts {
        digest.update(part);
    }
    digest.finalize().into()
}

/// HMAC-SHA1 keyed with `key` over `parts`, fed one by one (Twilio).
pub(crate) fn hmac_sha1<'a>(key: &[u8], parts: impl IntoIterator<Item = &'a [u8]>) -> [u8; 20] {
    use hmac::Mac as _;
    let mut mac =
        <hmac::Hmac<sha1::Sha1>>::new_from_slice(key).expect("HMAC accepts keys of any length");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// Whether any of `candidates` is the MAC that `mac` computes under any of
/// `secrets`. Every MAC and token comparison of the presets goes through
/// this one routine (ed25519 signatures are checked against public keys).
///
/// Every secret is tried against every candidate and the results are
/// combined without branching, so the timing shows neither which secret or
/// candidate matched nor where a candidate differs. A secret with no bytes
/// never matches: its MAC is anyone's to compute. [`Secret`] cannot hold
/// one; this holds even so.
pub(crate) fn any_mac_matches<const N: usize>(
    secrets: &Secrets,
    candidates: impl Iterator<Item = [u8; N]> + Clone,
    mac: impl Fn(&[u8]) -> [u8; N],
) -> bool {
    let mut matched = subtle::Choice::from(0);
    for secret in secrets {
        let key = secret.expose();
        let usable = subtle::Choice::from(u8::from(!key.is_empty()));
        let expected = mac(key);
        for candidate in candidates.clone() {
            matched |= ct_eq_words(&expected, &candidate) & usable;
        }
    }
    matched.into()
}

/// `a == b` in constant time (for a given length), with `subtle` comparing
/// eight bytes at a time: one optimisation barrier per word instead of one
/// per byte, as `<[u8]>::ct_eq` has.
fn ct_eq_words(a: &[u8], b: &[u8]) -> subtle::Choice {
    use subtle::ConstantTimeEq as _;
    if a.len() != b.len() {
        return subtle::Choice::from(0);
    }
    let (a_words, a_rest) = a.as_chunks::<8>();
    let (b_words, b_rest) = b.as_chunks::<8>();
    let mut equal = a_rest.ct_eq(b_rest);
    for (x, y) in a_words.iter().zip(b_words) {
        equal &= u64::from_ne_bytes(*x).ct_eq(&u64::from_ne_bytes(*y));
    }
    equal
}

/// Whether `token` equals one of `secrets`, comparing SHA-256 digests in
/// constant time over every secret, so neither the content nor the length of
/// a secret shows in the timing.
pub(crate) fn token_matches(token: &[u8], secrets: &Secrets) -> bool {
    use sha2::Digest as _;
    let sent: [u8; 32] = sha2::Sha256::digest(token).into();
    any_mac_matches(secrets, std::iter::once(sent), |key| {
        sha2::Sha256::digest(key).into()
    })
}

/// A pointer parsed once, for schemes that read fixed fields of the body.
pub(crate) fn static_pointer(
    cell: &'static std::sync::OnceLock<JsonPointer>,
    pointer: &'static str,
) -> &'static JsonPointer {
    cell.get_or_init(|| JsonPointer::new(pointer).expect("valid pointer"))
}

/// The string at `pointer` in `body`; `None` when the body is not JSON, has
/// no such string or repeats a key on the way (the event name's read then
/// refuses the body). Used for delivery ids, which never fail a request.
pub(crate) fn json_string(body: &[u8], pointer: &JsonPointer) -> Option<String> {
    pointer.string_in(body).ok().flatten()
}

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

/// The `key=value` parameters of a request target's query string, decoded.
pub(crate) fn query_pairs(path_and_query: &str) -> form_urlencoded::Parse<'_> {
    let query = path_and_query
        .split_once('?')
        .map_or("", |(_, query)| query);
    let query = query.split_once('#').map_or(query, |(query, _)| query);
    form_urlencoded::parse(query.as_bytes())
}

/// Ed25519 pieces shared by [`StandardWebhooks`] `v1a` and [`Discord`].
#[cfg(feature = "ed25519")]
pub(crate) mod ed25519 {
    use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};

    use crate::secret::{Secret, SecretError};

    /// The error for a key that is not a usable ed25519 key.
    pub(crate) const INVALID: SecretError = SecretError::InvalidKey("ed25519");

    /// A public key from its 32 bytes: a valid point that is not of small
    /// order (a weak key would accept forged signatures).
    pub(crate) fn verifying_key(bytes: &[u8]) -> Option<VerifyingKey> {
        let bytes: &[u8; 32] = bytes.try_into().ok()?;
        VerifyingKey::from_bytes(bytes)
            .ok()
            .filter(|key| !key.is_weak())
    }

    /// A [`Secret`] holding a checked public key's 32 bytes.
    ///
    /// # Errors
    ///
    /// [`SecretError::InvalidKey`] when `bytes` is not a usable public key.
    pub(crate) fn public_key_secret(bytes: &[u8]) -> Result<Secret, SecretError> {
        verifying_key(bytes).ok_or(INVALID)?;
        Secret::new(bytes)
    }

    /// A signing key from a 32-byte seed, or a 64-byte seed and public key
    /// (libsodium's layout), whose public half must match.
    ///
    /// # Errors
    ///
    /// [`SecretError::InvalidKey`] for another length or a mismatched pair.
    pub(crate) fn signing_key(bytes: &[u8]) -> Result<SigningKey, SecretError> {
        match bytes.len() {
            32 => {
                let seed: &[u8; 32] = bytes.try_into().map_err(|_| INVALID)?;
                Ok(SigningKey::from_bytes(seed))
            }
            64 => {
                let pair: &[u8; 64] = bytes.try_into().map_err(|_| INVALID)?;
                SigningKey::from_keypair_bytes(pair).map_err(|_| INVALID)
            }
            _ => Err(INVALID),
        }
    }

    /// Whether `signature` is `public_key`'s signature of the concatenated
    /// `parts`, fed one by one (no copy of the body is built). A `public_key`
    /// that is not a usable key never verifies.
    pub(crate) fn verify<'a>(
        public_key: &[u8],
        signature: &[u8; 64],
        parts: impl IntoIterator<Item = &'a [u8]>,
    ) -> bool {
        let Some(key) = verifying_key(public_key) else {
            return false;
        };
        let Ok(mut verifier) = key.verify_stream(&Signature::from_bytes(signature)) else {
            return false;
        };
        for part in parts {
            verifier.update(part);
        }
        verifier.finalize_and_verify().is_ok()
    }

    /// Signs the concatenated `parts` (the sender's side; it builds the
    /// message once).
    pub(crate) fn sign<'a>(
        key: &SigningKey,
        parts: impl IntoIterator<Item = &'a [u8]>,
    ) -> [u8; 64] {
        let message: Vec<u8> = parts.into_iter().flatten().copied().collect();
        key.sign(&message).to_bytes()
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        // RFC 8032, section 7.1, TEST 1 (empty message), TEST 2 (one byte
        // 0x72) and TEST 3 (0xaf82): https://www.rfc-editor.org/rfc/rfc8032#section-7.1
        const VECTORS: [(&str, &str, &str, &str); 3] = [
            (
                "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
                "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
                "",
                "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155\
                 5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
            ),
            (
                "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
                "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
                "72",
                "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da\
                 085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
            ),
            (
                "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
                "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
                "af82",
                "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac\
                 18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
            ),
        ];

        fn bytes(text: &str) -> Vec<u8> {
            hex::decode(text).unwrap()
        }

        #[test]
        fn rfc_8032_vectors_sign_and_verify() {
            for (secret, public, message, signature) in VECTORS {
                let key = signing_key(&bytes(secret)).unwrap();
                assert_eq!(key.verifying_key().to_bytes().to_vec(), bytes(public));
                let message = bytes(message);
                let signature: [u8; 64] = bytes(signature).try_into().unwrap();
                assert_eq!(sign(&key, [&message[..]]), signature);
                assert!(verify(&bytes(public), &signature, [&message[..]]));
                // The same bytes split anywhere verify the same.
                if message.len() == 2 {
                    assert!(verify(
                        &bytes(public),
                        &signature,
                        [&message[..1], &message[1..]]
                    ));
                }
                let mut tampered = message.clone();
                tampered.push(0);
                assert!(!verify(&bytes(public), &signature, [&tampered[..]]));
                let mut bad = signature;
                bad[10] ^= 1;
                assert!(!verify(&bytes(public), &bad, [&message[..]]));
            }
        }

        #[test]
        fn keys_are_checked() {
            let (secret, public, _, _) = VECTORS[0];
            let mut pair = bytes(secret);
            pair.extend(bytes(public));
            assert!(signing_key(&pair).is_ok());
            let mut mismatched = bytes(secret);
            mismatched.extend(bytes(VECTORS[1].1));
            assert_eq!(signing_key(&mismatched).unwrap_err(), INVALID);
            assert_eq!(signing_key(&[1; 31]).unwrap_err(), INVALID);
            assert!(public_key_secret(&bytes(public)).is_ok());
            // The identity point has small order: a weak key.
            let mut identity = [0u8; 32];
            identity[0] = 1;
            assert_eq!(public_key_secret(&identity).unwrap_err(), INVALID);
            assert!(!verify(&identity, &[0; 64], [&b""[..]]));
            assert!(!verify(b"short", &[0; 64], [&b""[..]]));
        }
    }
}

/// Helpers for the schemes' unit tests.
#[cfg(test)]
pub(crate) mod test_support {
    use super::{Request, Scheme};
    use crate::verify::VerifyError;

    /// Header values an attacker may send instead of a real one.
    pub(crate) fn absurd_values() -> Vec<Vec<u8>> {
        vec![
            Vec::new(),
            b" ".to_vec(),
            vec![b'a'; 10_000],
            vec![b'0'; 10_000],
            vec![b'='; 10_000],
            b",".repeat(5_000),
            b";".repeat(5_000),
            b"\xff\xfe\x00\x80".to_vec(),
            b"sha256=\xff\xfe".to_vec(),
            b"v0=\xc3\x28".to_vec(),
            b"t=\xff,v1=\xff".to_vec(),
            b"ts=\xff;h1=\xff".to_vec(),
            b"t=99999999999999999999999,v1=00".to_vec(),
            b"ts=-1;h1=00".to_vec(),
            "\u{e9}t=\u{1F600}".as_bytes().to_vec(),
        ]
    }

    /// Checks that every absurd value of each header in `targets`, and each
    /// of them sent twice, is refused with `missing_signature`,
    /// `malformed_signature` or `invalid_signature`, without panicking.
    pub(crate) fn assert_refuses_absurd_headers(
        scheme: &dyn Scheme,
        headers: &[(String, String)],
        targets: &[&str],
        body: &[u8],
        now: i64,
    ) {
        let check = |headers: &Vec<(String, Vec<u8>)>, case: &str| {
            let request = Request::new("POST", "/hook", headers, body);
            match scheme.verify(&request, scheme.secrets(), now) {
                Err(
                    VerifyError::MissingSignature { .. }
                    | VerifyError::MalformedSignature { .. }
                    | VerifyError::InvalidSignature,
                ) => {}
                other => panic!("{} {case}: {other:?}", scheme.name()),
            }
        };
        let base: Vec<(String, Vec<u8>)> = headers
            .iter()
            .map(|(n, v)| (n.clone(), v.clone().into_bytes()))
            .collect();
        for target in targets {
            let position = base
                .iter()
                .position(|(n, _)| n.eq_ignore_ascii_case(target))
                .expect("target header present");
            for value in absurd_values() {
                let mut mutated = base.clone();
                mutated[position].1.clone_from(&value);
                check(
                    &mutated,
                    &format!(
                        "{target}={:?}",
                        String::from_utf8_lossy(&value[..value.len().min(20)])
                    ),
                );
            }
            let mut repeated = base.clone();
            repeated.push(base[position].clone());
            check(&repeated, &format!("{target} repeated"));
            let mut removed = base.clone();
            removed.remove(position);
            check(&removed, &format!("{target} removed"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_must_name_its_event_where_a_header_carries_it() {
        let message = |event, body| Message {
            id: "d1",
            timestamp: 0,
            event,
            url: "",
            body,
        };
        let action = || JsonPointer::new("/action").unwrap();
        let header = EventName::Header("X-Topic");
        let github = EventName::HeaderAndJson("X-GitHub-Event", action());
        let body = EventName::Json(JsonPointer::new("/type").unwrap());
        let opened = br#"{"action":"opened"}"#;

        for location in [&header, &github] {
            let error = location.check_message(&message("", opened)).unwrap_err();
            assert!(matches!(error, SignError::MissingEvent { .. }), "{error}");
        }
        assert_eq!(
            header.check_message(&message("", b"")),
            Err(SignError::MissingEvent { header: "X-Topic" })
        );
        // A name in the body is the body's business.
        assert_eq!(body.check_message(&message("", b"{}")), Ok(()));
        assert_eq!(body.header_to_send("order_paid"), None);
        // A header name is sent whole, dots and all.
        assert_eq!(header.check_message(&message("orders.create", b"")), Ok(()));
        assert_eq!(
            header.header_to_send("orders.create"),
            Some(("X-Topic", "orders.create"))
        );

        // GitHub: the header, then the body's action.
        assert_eq!(github.check_message(&message("issues", opened)), Ok(()));
        assert_eq!(
            github.check_message(&message("issues.opened", opened)),
            Ok(())
        );
        assert_eq!(
            github.header_to_send("issues.opened"),
            Some(("X-GitHub-Event", "issues"))
        );
        let closed = github
            .check_message(&message("issues.closed", opened))
            .unwrap_err();
        assert_eq!(
            closed.to_string(),
            "event `issues.closed` names an action the body does not have: its `/action` is `opened`"
        );
        let none = github
            .check_message(&message("issues.opened", b"{}"))
            .unwrap_err();
        assert_eq!(
            none,
            SignError::EventMismatch {
                event: "issues.opened".into(),
                pointer: "/action".into(),
                found: None,
            }
        );
        assert!(none.to_string().ends_with("is absent"), "{none}");
        assert!(github
            .check_message(&message("issues.opened", b"not json"))
            .is_err());
    }

    #[test]
    fn word_comparison_finds_every_difference() {
        for len in 0..=41 {
            let a: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            assert!(bool::from(ct_eq_words(&a, &a.clone())), "len {len}");
            for at in 0..len {
                for bit in [0x01, 0x80] {
                    let mut b = a.clone();
                    b[at] ^= bit;
                    assert!(!bool::from(ct_eq_words(&a, &b)), "len {len} at {at}");
                }
            }
            assert!(!bool::from(ct_eq_words(&a, &a[..len.saturating_sub(1)])) || len == 0);
        }
    }

    #[test]
    fn the_shared_matching_routine_never_matches_under_an_empty_key() {
        let mac = |key: &[u8]| hmac_sha256(key, [&b"body"[..]]);
        let real = Secrets::new([Secret::new("k").unwrap()]).unwrap();
        let forged = mac(b"");
        assert!(any_mac_matches(&real, std::iter::once(mac(b"k")), mac));
        assert!(!any_mac_matches(&real, std::iter::once(forged), mac));
        // Even a set smuggling in an empty secret (no public path builds
        // one) refuses the MAC anyone can compute under it.
        let smuggled =
            Secrets::new([Secret::empty_for_tests(), Secret::new("k").unwrap()]).unwrap();
        assert!(!any_mac_matches(&smuggled, std::iter::once(forged), mac));
        assert!(any_mac_matches(&smuggled, std::iter::once(mac(b"k")), mac));
        assert!(!token_matches(b"", &smuggled));
        assert!(token_matches(b"k", &smuggled));
        // Any candidate of several may match; none is no match.
        assert!(any_mac_matches(&real, [forged, mac(b"k")].into_iter(), mac));
        assert!(!any_mac_matches(&real, std::iter::empty(), mac));
    }

    #[test]
    fn base64_signatures_decode_padded_or_not_and_strictly() {
        use base64::Engine as _;
        let engine = base64::engine::general_purpose::STANDARD;
        let bytes: Vec<u8> = (0..32).map(|i| (i * 37 + 11) as u8).collect();
        let text = engine.encode(&bytes);
        assert_eq!(
            decode_base64::<32>(text.as_bytes()).unwrap().unwrap()[..],
            bytes
        );
        let unpadded = text.trim_end_matches('=');
        assert_eq!(
            decode_base64::<32>(unpadded.as_bytes()).unwrap().unwrap()[..],
            bytes
        );
        let mut loose = text.clone().into_bytes();
        loose[42] = b'd'; // unused low bits set: not canonical
        assert_eq!(decode_base64::<32>(&loose), Err(()));
        let mut url_safe = text.into_bytes();
        url_safe[0] = b'-';
        assert_eq!(decode_base64::<32>(&url_safe), Err(()));
    }
}
