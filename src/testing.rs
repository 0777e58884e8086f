//! Signed requests for testing your own handlers: a [`TestDelivery`] signed
//! the way the provider signs it, as an [`actix_web::test::TestRequest`].
//!
//! The signature comes from the scheme's [`Signer`], the code the `webhook`
//! command line signs with, so a request that passes here passes the same
//! way when the provider sends it. Assert what the handler did, not only the
//! status: a delivery no handler matches is answered 200 `ignored` too.
//!
//! ```
//! use std::sync::Mutex;
//!
//! use actix_web::{test, web, App};
//! use actix_webhook::scheme::GitHub;
//! use actix_webhook::testing::TestDelivery;
//! use actix_webhook::{webhook, Ack, Event, WebhookRouter};
//! use serde::Deserialize;
//!
//! #[derive(Deserialize)]
//! struct IssueEvent {
//!     issue: Issue,
//! }
//!
//! #[derive(Deserialize)]
//! struct Issue {
//!     number: u64,
//! }
//!
//! /// The issues the handler saw.
//! #[derive(Default)]
//! struct Seen(Mutex<Vec<u64>>);
//!
//! #[webhook(event = "issues.opened")]
//! async fn issue_opened(event: Event<IssueEvent>, seen: web::Data<Seen>) -> Ack {
//!     seen.0.lock().unwrap().push(event.issue.number);
//!     Ack::processed()
//! }
//!
//! # actix_web::rt::System::new().block_on(async {
//! let scheme = GitHub::new("It's a Secret to Everybody").unwrap();
//! let seen = web::Data::new(Seen::default());
//! let hooks = WebhookRouter::new(scheme.clone()).handler(issue_opened);
//! let app = test::init_service(App::new().app_data(seen.clone()).service(hooks.scope("/github"))).await;
//!
//! // Sent as `X-GitHub-Event: issues`; the action is the body's.
//! let delivery = TestDelivery::new(r#"{"action":"opened","issue":{"number":7}}"#)
//!     .event("issues.opened")
//!     .uri("/github");
//! let response = test::call_service(&app, delivery.sign(&scheme).to_request()).await;
//! let answer: serde_json::Value = test::read_body_json(response).await;
//! assert_eq!(answer["status"], "processed");
//! assert_eq!(answer["event"], "issues.opened");
//! assert_eq!(*seen.0.lock().unwrap(), [7]);
//!
//! // The same delivery again (same id) is acknowledged, not handled twice.
//! let again = test::call_service(&app, delivery.sign(&scheme).to_request()).await;
//! let answer: serde_json::Value = test::read_body_json(again).await;
//! assert_eq!(answer["status"], "duplicate");
//! assert_eq!(seen.0.lock().unwrap().len(), 1);
//! # });
//! ```
//!
//! Schemes that send the event name in a header (GitHub, Shopify, GitLab,
//! [`GenericHmac`](crate::scheme::GenericHmac) configured so) need
//! [`TestDelivery::event`], as the provider always sends it: without one,
//! [`TestDelivery::sign`] panics, naming the header. Other schemes read the
//! event name from the body.
//!
//! Schemes that sign with a key pair (Discord, Standard Webhooks `v1a`, with
//! the `ed25519` feature) sign with a scheme built from the private key, e.g.
//! `Discord::with_signing_key`; the app under test verifies with the public
//! key as in production.

use std::sync::atomic::{AtomicU64, Ordering};

use actix_web::test::TestRequest;
use actix_web::web::Bytes;

use crate::scheme::{Message, Scheme, SignError, Signer};
use crate::verify::{Clock as _, SystemClock};

/// The address a delivery goes to unless [`TestDelivery::url`] says
/// otherwise. HTTPS, as Twilio assumes when it has no public URL.
const DEFAULT_BASE: &str = "https://localhost";

/// Numbers the default delivery ids: `msg_test_1`, `msg_test_2`, ...
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A delivery to send to your app in a test, signed like the provider does.
///
/// Build it from a body, adjust what the test is about (the id, the
/// timestamp, the event name for schemes that send it in a header, the
/// path), then turn it into a [`TestRequest`] with
/// [`sign`](Self::sign). Defaults: a fresh id per delivery
/// (`msg_test_<n>`), the current time, no event name, the path `/` on
/// `https://localhost`, and `Content-Type: application/json` unless the
/// scheme or [`header`](Self::header) sets another.
///
/// The id is fixed when the delivery is built, so signing it twice gives
/// the same delivery twice: a retry, as the sender makes it.
#[derive(Debug, Clone)]
pub struct TestDelivery {
    body: Bytes,
    id: String,
    timestamp: Option<i64>,
    event: String,
    base: String,
    path: String,
    headers: Vec<(String, String)>,
}

impl TestDelivery {
    /// A delivery of `body`, as sent (JSON text, form parameters, any bytes).
    pub fn new(body: impl Into<Bytes>) -> Self {
        let n = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        Self {
            body: body.into(),
            id: format!("msg_test_{n}"),
            timestamp: None,
            event: String::new(),
            base: DEFAULT_BASE.to_owned(),
            path: "/".to_owned(),
            headers: Vec::new(),
        }
    }

    /// A delivery of `value` as JSON.
    ///
    /// # Panics
    ///
    /// When `value` cannot be written as JSON (a map with keys that are not
    /// strings, or a `Serialize` impl that fails).
    pub fn json(value: &impl serde::Serialize) -> Self {
        Self::new(serde_json::to_vec(value).expect("the test payload serializes as JSON"))
    }

    /// The delivery id, where the scheme sends one in a header (Standard
    /// Webhooks, Clerk, Resend, GitHub, Shopify, GitLab, Twilio, Twitch,
    /// Linear, Razorpay). Stripe, Slack, Paddle, Discord and Square take it
    /// from the body, HubSpot from each event of the batch; Zoom, Xero and
    /// Dropbox send none.
    #[must_use]
    pub fn id(mut self, id: &str) -> Self {
        self.id = id.to_owned();
        self
    }

    /// When it is signed, unix seconds (default: the time of signing). Use
    /// an old one to test that stale deliveries are refused.
    #[must_use]
    pub fn timestamp(mut self, unix_seconds: i64) -> Self {
        self.timestamp = Some(unix_seconds);
        self
    }

    /// The event name, for schemes that send it in a header, which then
    /// need it (see [`sign`](Self::sign)): GitHub (`issues.opened` sends
    /// `X-GitHub-Event: issues` and needs a body whose `action` is
    /// `opened`; `issues` or `push` is sent as it is), Shopify
    /// (`orders/create`), GitLab (`Push Hook`), Twitch (`channel.follow`;
    /// `webhook_callback_verification` and `revocation` send those message
    /// types). Other schemes read it from the body and do not use this.
    #[must_use]
    pub fn event(mut self, name: &str) -> Self {
        self.event = name.to_owned();
        self
    }

    /// The path (and query) the request goes to, e.g. `/webhooks`.
    #[must_use]
    pub fn uri(mut self, path_and_query: &str) -> Self {
        self.path = if path_and_query.starts_with('/') {
            path_and_query.to_owned()
        } else {
            format!("/{path_and_query}")
        };
        self
    }

    /// The full URL, for schemes that sign it (Twilio, HubSpot, Square): its
    /// path becomes the request's path and its host the `Host` header. Give
    /// the URL your scheme's public URL names, e.g.
    /// `https://example.com/webhooks/twilio`
    /// for `Twilio::new(token)?.public_url("https://example.com")`.
    /// Something without `://` is taken as a path, as [`uri`](Self::uri).
    #[must_use]
    pub fn url(mut self, url: &str) -> Self {
        let Some((origin, path_and_query)) = split_url(url) else {
            return self.uri(url);
        };
        self.base = origin.to_owned();
        self.uri(&path_and_query)
    }

    /// An extra header, added after the signed ones: a content type, or a
    /// changed signature header to test a rejection (a header the scheme
    /// already set is then sent twice).
    #[must_use]
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// The body as it is sent.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// The full URL the delivery goes to, as a signing scheme sees it.
    pub fn full_url(&self) -> String {
        format!("{}{}", self.base, self.path)
    }

    /// The headers `signer` puts on this delivery, without the extra ones.
    ///
    /// # Panics
    ///
    /// When the provider would not send this delivery, as
    /// [`sign`](Self::sign) says.
    #[must_use]
    pub fn headers(&self, signer: &(impl Signer + ?Sized)) -> Vec<(String, String)> {
        let url = self.full_url();
        let message = Message {
            id: &self.id,
            timestamp: self.timestamp.unwrap_or_else(|| SystemClock.now()),
            event: &self.event,
            url: &url,
            body: &self.body,
        };
        match signer.try_sign(&message) {
            Ok(headers) => headers,
            Err(error) => panic!(
                "this TestDelivery is not one the provider sends: {error}; {}",
                hint(&error)
            ),
        }
    }

    /// A `POST` request carrying this delivery signed by `signer`: the
    /// scheme's headers, the extra headers, a content type and the body.
    /// Pass it on with [`TestRequest::to_request`] (or `to_http_request`,
    /// `send_request`...).
    ///
    /// # Panics
    ///
    /// - When the provider would not send this delivery
    ///   ([`Signer::check`]): the scheme names the event in a header
    ///   (GitHub, Shopify, GitLab) and no [`event`](Self::event) is set, or
    ///   a GitHub event's action (`issues.opened`) is not the body's
    ///   `action`. The provider always sends the header, and without it the
    ///   app under test answers 401 or routes the delivery elsewhere, which
    ///   a test would take for the handler's doing. This is a panic rather
    ///   than an error to handle: it is a mistake in the test, and a panic
    ///   fails the test at this line with the message, as `TestRequest`
    ///   does for a bad header, while `delivery.sign(&scheme)` stays one
    ///   call.
    /// - When an extra header's name or value is not a valid HTTP header, as
    ///   [`TestRequest::append_header`] does.
    #[must_use]
    pub fn sign(&self, signer: &(impl Signer + ?Sized)) -> TestRequest {
        let mut headers = self.headers(signer);
        headers.extend(self.headers.iter().cloned());
        let mut request = TestRequest::post().uri(&self.path);
        if let Some(host) = self.base.split_once("://").map(|(_, host)| host) {
            if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
                request = request.insert_header(("host", host));
            }
        }
        if !headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
        {
            request = request.insert_header(("content-type", "application/json"));
        }
        for (name, value) in headers {
            request = request.append_header((name, value));
        }
        request.set_payload(self.body.clone())
    }
}

/// How to fix a delivery `error` refuses, in a test.
fn hint(error: &SignError) -> &'static str {
    match error {
        SignError::MissingEvent { .. } => {
            "name the event with `.event(..)`, e.g. `.event(\"issues.opened\")` for GitHub"
        }
        SignError::EventMismatch { .. } => {
            "make the action after the `.` in `.event(..)` the body's, or give the event without it"
        }
    }
}

/// Splits a full URL into its origin and its path and query, as a request
/// line carries them: `https://example.com:8443/hook?x=1` gives
/// `("https://example.com:8443", "/hook?x=1")`. An empty path is `/`:
/// `http://example.com` gives `/`, and `http://example.com?a=b` gives
/// `/?a=b`.
///
/// `None` when `url` has no `://`. The host is not checked: `https:///hook`
/// gives the origin `https://`; a caller that needs a host checks for one.
/// This is how [`TestDelivery::url`] reads a URL, and how the `webhook`
/// command line reads the URL a captured delivery was sent to.
///
/// ```
/// use actix_webhook::testing::split_url;
///
/// assert_eq!(
///     split_url("https://example.com/webhooks/twilio?x=1"),
///     Some(("https://example.com", "/webhooks/twilio?x=1".to_owned()))
/// );
/// assert_eq!(
///     split_url("http://127.0.0.1:8080"),
///     Some(("http://127.0.0.1:8080", "/".to_owned()))
/// );
/// assert_eq!(split_url("/webhooks"), None);
/// ```
pub fn split_url(url: &str) -> Option<(&str, String)> {
    let scheme_end = url.find("://")? + 3;
    let rest = &url[scheme_end..];
    let path_start = rest.find(['/', '?']).unwrap_or(rest.len());
    let path = &rest[path_start..];
    let path = if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("/{path}")
    };
    Some((&url[..scheme_end + path_start], path))
}

/// A scheme that both verifies and signs, as every preset does, so that a
/// table of different providers can be held as `Box<dyn SigningScheme>` or
/// `Arc<dyn SigningScheme>`: each signs a [`TestDelivery`] and verifies it,
/// its provider's way. The `webhook` command line holds its providers so.
///
/// Implemented for every [`Scheme`] that is a [`Signer`]; nothing to
/// implement by hand.
///
/// ```
/// use std::sync::Arc;
///
/// use actix_web::{test, App};
/// use actix_webhook::scheme::{GitHub, Slack, Stripe};
/// use actix_webhook::testing::{SigningScheme, TestDelivery};
/// use actix_webhook::WebhookRouter;
///
/// # actix_web::rt::System::new().block_on(async {
/// let providers: [(&str, Arc<dyn SigningScheme>); 3] = [
///     ("github", Arc::new(GitHub::new("It's a Secret to Everybody").unwrap())),
///     ("stripe", Arc::new(Stripe::new("whsec_test").unwrap())),
///     ("slack", Arc::new(Slack::new("slack-signing-secret").unwrap())),
/// ];
/// for (name, scheme) in providers {
///     let hooks = WebhookRouter::new(scheme.clone());
///     let app = test::init_service(App::new().service(hooks.scope("/hooks"))).await;
///     let delivery = TestDelivery::new(r#"{"id":"evt_1","type":"push"}"#)
///         .event("push")
///         .uri("/hooks");
///     let response = test::call_service(&app, delivery.sign(&*scheme).to_request()).await;
///     // No handler: verified, then acknowledged as ignored.
///     assert_eq!(response.status(), 200, "{name}");
/// }
/// # });
/// ```
pub trait SigningScheme: Scheme + Signer {}

impl<T: Scheme + Signer> SigningScheme for T {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheme::GitHub;

    #[test]
    fn urls_split_into_base_and_path() {
        let d = TestDelivery::new("").url("https://example.com:8443/hook?x=1");
        assert_eq!(d.base, "https://example.com:8443");
        assert_eq!(d.path, "/hook?x=1");
        assert_eq!(d.full_url(), "https://example.com:8443/hook?x=1");
        let d = TestDelivery::new("").url("http://example.com");
        assert_eq!(d.full_url(), "http://example.com/");
        let d = TestDelivery::new("").url("webhooks");
        assert_eq!(d.full_url(), "https://localhost/webhooks");
    }

    #[test]
    fn urls_split_into_origin_and_path_and_query() {
        let split = |url| split_url(url).map(|(origin, path)| (origin.to_owned(), path));
        let pair = |origin: &str, path: &str| Some((origin.to_owned(), path.to_owned()));
        assert_eq!(
            split("https://example.com/hook?x=1"),
            pair("https://example.com", "/hook?x=1")
        );
        assert_eq!(
            split("http://127.0.0.1:8080"),
            pair("http://127.0.0.1:8080", "/")
        );
        assert_eq!(split("http://h?a=b"), pair("http://h", "/?a=b"));
        assert_eq!(split("http://h/"), pair("http://h", "/"));
        assert_eq!(split("https:///hook"), pair("https://", "/hook"));
        assert_eq!(split("example.com/hook"), None);
        assert_eq!(split(""), None);
    }

    #[test]
    fn ids_are_fresh_per_delivery_and_kept_when_signed_again() {
        let scheme = GitHub::new("secret").unwrap();
        let a = TestDelivery::new("{}").event("push");
        let b = TestDelivery::new("{}").event("push");
        let id = |d: &TestDelivery| {
            d.headers(&scheme)
                .into_iter()
                .find(|(n, _)| n == "X-GitHub-Delivery")
                .unwrap()
                .1
        };
        assert_ne!(id(&a), id(&b));
        assert_eq!(id(&a), id(&a));
        assert_eq!(id(&a.clone().id("d1")), "d1");
    }
}
