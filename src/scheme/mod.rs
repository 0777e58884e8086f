//! Schemes: how a provider signs its deliveries, and where it puts the
//! delivery id, the timestamp and the event name.
//!
//! A [`Scheme`] sees a delivery as a [`Request`] (method, path and query,
//! headers, body) and never touches actix-web types, so the command line and
//! other frameworks use the same code. Each provider lives in its own file and
//! holds only what differs.
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

use crate::secret::Secrets;
use crate::verify::VerifyError;

mod generic;
mod pointer;
mod standard;

pub use generic::{Encoding, GenericHmac, SignedContent, TemplateError};
pub use pointer::{InvalidPointer, JsonPointer};
pub use standard::StandardWebhooks;

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

/// What a verified request says about its delivery.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Delivery {
    /// The sender's id for this delivery, the same on every retry; used to
    /// handle it once.
    pub id: Option<String>,
    /// When the sender signed it, unix seconds.
    pub timestamp: Option<i64>,
}

impl Delivery {
    /// A delivery with an id and a timestamp, when the scheme has them.
    pub fn new(id: Option<String>, timestamp: Option<i64>) -> Self {
        Self { id, timestamp }
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
    /// The event name of `request`, `Ok(None)` when it has none.
    ///
    /// # Errors
    ///
    /// The parse error when the name is in the body and the body is not JSON.
    pub fn find(&self, request: &Request<'_>) -> Result<Option<String>, serde_json::Error> {
        let header = |name: &str| {
            request
                .header(name)
                .one()
                .and_then(|v| std::str::from_utf8(v).ok())
                .map(str::to_owned)
        };
        match self {
            Self::Header(name) => Ok(header(name)),
            Self::Json(pointer) => pointer.string_in(request.body()),
            Self::HeaderAndJson(name, pointer) => {
                let Some(mut event) = header(name) else {
                    return Ok(None);
                };
                // A body that is not JSON still has the header's name.
                if let Ok(Some(action)) = pointer.string_in(request.body()) {
                    event.push('.');
                    event.push_str(&action);
                }
                Ok(Some(event))
            }
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
    /// `now` (unix seconds), and reads its delivery id and timestamp.
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
    /// The parse error when the name is in the body and the body is not JSON.
    fn event_name(&self, request: &Request<'_>) -> Result<Option<String>, serde_json::Error> {
        static TYPE: std::sync::OnceLock<EventName> = std::sync::OnceLock::new();
        TYPE.get_or_init(|| EventName::Json(JsonPointer::new("/type").expect("valid pointer")))
            .find(request)
    }

    /// Answers a request that carries no signature to check, such as Meta's
    /// `GET` subscription challenge. `None` (the default) means the request
    /// is verified as usual.
    fn unsigned_reply(&self, request: &Request<'_>, secrets: &Secrets) -> Option<Reply> {
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
    fn event_name(&self, request: &Request<'_>) -> Result<Option<String>, serde_json::Error> {
        (**self).event_name(request)
    }
    fn unsigned_reply(&self, request: &Request<'_>, secrets: &Secrets) -> Option<Reply> {
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
/// Used by the `webhook` command line and [`crate::testing`]-style helpers.
pub trait Signer {
    /// The headers, `(name, value)`, to send with `message`.
    fn sign(&self, message: &Message<'_>) -> Vec<(String, String)>;
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

/// Decodes a hex signature of `N` bytes (either case); see [`decode_base64`].
pub(crate) fn decode_hex<const N: usize>(value: &[u8]) -> Result<Option<[u8; N]>, ()> {
    if !value.iter().all(u8::is_ascii_hexdigit) || value.len() % 2 != 0 {
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
