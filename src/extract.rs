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

use std::cell::RefCell;
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Payload;
use actix_web::http::header::{HeaderMap, HeaderName, CONTENT_LENGTH};
use actix_web::web::{self, Bytes, BytesMut};
use actix_web::{FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use futures_util::StreamExt as _;
use serde::de::DeserializeOwned;

use crate::ack::Rejection;
use crate::scheme::{Delivery, Header, Headers, Request, Scheme};
use crate::secret::Secrets;
use crate::verify::{Clock, SystemClock};

/// Bodies larger than this are refused with 413.
pub(crate) const DEFAULT_BODY_LIMIT: usize = 1 << 20; // 1 MiB

/// How long a body may take to arrive, from when reading starts.
pub(crate) const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30); // 30 s

/// Largest buffer reserved up front from a `Content-Length`.
const MAX_PREALLOCATION: usize = 256 << 10; // 256 KiB

/// How [`Verified`] checks requests: the scheme (with its secrets), the body
/// limit and the clock.
///
/// Put it in the app data, as it is or as `web::Data<WebhookConfig>`. Cloning
/// is cheap. Without one, `Verified` answers 500 `not_configured` and accepts
/// nothing.
#[derive(Clone)]
pub struct WebhookConfig {
    scheme: Arc<dyn Scheme>,
    body_limit: usize,
    body_timeout: Duration,
    clock: Arc<dyn Clock>,
}

impl WebhookConfig {
    /// Verifies with `scheme`, a 1 MiB body limit and the system clock.
    pub fn new(scheme: impl Scheme) -> Self {
        Self {
            scheme: Arc::new(scheme),
            body_limit: DEFAULT_BODY_LIMIT,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            clock: Arc::new(SystemClock),
        }
    }

    /// The largest body accepted, in bytes (default 1 MiB). Larger ones get
    /// 413 without being read to their end; see
    /// [`WebhookRouter::body_limit`](crate::WebhookRouter::body_limit).
    #[must_use]
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// How long the body may take to arrive once reading starts (default
    /// 30 s). A slower one gets 408 `body_timeout` and the connection is
    /// closed: actix-web bounds the time to receive a request's head
    /// (`HttpServer::client_request_timeout`), not its body.
    #[must_use]
    pub fn body_timeout(mut self, timeout: Duration) -> Self {
        self.body_timeout = timeout;
        self
    }

    /// The clock timestamps are checked against (default the system clock).
    #[must_use]
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    fn from_req(req: &HttpRequest) -> Option<&Self> {
        req.app_data::<Self>()
            .or_else(|| req.app_data::<web::Data<Self>>().map(|d| d.get_ref()))
    }
}

impl fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("scheme", &self.scheme.name())
            .field("body_limit", &self.body_limit)
            .field("body_timeout", &self.body_timeout)
            .field("clock", &self.clock)
            .finish()
    }
}

/// A request body whose signature and timestamp were checked, with the
/// delivery's id and timestamp.
///
/// - `Verified<Bytes>`: the raw body.
/// - `Verified<web::Json<T>>`: the body parsed as `T`; 400 `invalid_payload`
///   when it does not fit.
///
/// It derefs to the inner value. On failure it is a [`Rejection`] (401, 400,
/// 413, or 500 `not_configured`), rendered as problem+json; take
/// `Result<Verified<_>, Rejection>` to handle it yourself.
pub struct Verified<T> {
    inner: T,
    delivery: Delivery,
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

    /// When the sender signed the delivery (unix seconds), when the scheme
    /// signs a timestamp.
    pub fn timestamp(&self) -> Option<i64> {
        self.delivery.timestamp
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
            .finish()
    }
}

impl FromRequest for Verified<Bytes> {
    type Error = Rejection;
    type Future = LocalBoxFuture<'static, Result<Self, Rejection>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let mut payload = payload.take();
        Box::pin(async move {
            let (body, delivery) = read_verified(&req, &mut payload).await?;
            Ok(Self {
                inner: body,
                delivery,
            })
        })
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for Verified<web::Json<T>> {
    type Error = Rejection;
    type Future = LocalBoxFuture<'static, Result<Self, Rejection>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let mut payload = payload.take();
        Box::pin(async move {
            let (body, delivery) = read_verified(&req, &mut payload).await?;
            match crate::PayloadError::parse(&body) {
                Ok(value) => Ok(Self {
                    inner: web::Json(value),
                    delivery,
                }),
                Err(error) => {
                    let rejection = Rejection::InvalidPayload(error);
                    rejection.log(
                        delivery
                            .id
                            .as_deref()
                            .map(crate::router::shown_id)
                            .as_deref(),
                    );
                    Err(rejection)
                }
            }
        })
    }
}

/// Reads and verifies the body with the app's [`WebhookConfig`], logging a
/// rejection.
async fn read_verified(
    req: &HttpRequest,
    payload: &mut Payload,
) -> Result<(Bytes, Delivery), Rejection> {
    let Some(config) = WebhookConfig::from_req(req) else {
        tracing::error!(
            target: "actix_webhook::rejection",
            path = req.path(),
            "`Verified` used without a `WebhookConfig` in app_data; rejecting"
        );
        return Err(Rejection::NotConfigured);
    };
    let result = async {
        let body = read_body(req, payload, config.body_limit, config.body_timeout).await?;
        let delivery = verify(
            req,
            &body,
            &*config.scheme,
            config.scheme.secrets(),
            &*config.clock,
        )?;
        Ok::<_, Rejection>((body, delivery))
    }
    .await;
    if let Err(rejection) = &result {
        rejection.log(None);
    }
    result
}

/// Reads the whole body, refusing it as soon as it is known to pass `limit`:
/// from `Content-Length` before reading, or from the bytes read so far; and
/// refusing it when it has not all arrived within `timeout`.
pub(crate) async fn read_body<S, E>(
    req: &HttpRequest,
    payload: &mut S,
    limit: usize,
    timeout: Duration,
) -> Result<Bytes, Rejection>
where
    S: futures_core::Stream<Item = Result<Bytes, E>> + Unpin,
{
    let too_large = Rejection::PayloadTooLarge { limit };
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(declared) = declared {
        if usize::try_from(declared).map_or(true, |n| n > limit) {
            return Err(too_large);
        }
    }
    let capacity = declared
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(0)
        .min(MAX_PREALLOCATION);
    let read = async {
        // A body that arrives in one chunk is kept as it is, not copied.
        let mut first: Option<Bytes> = None;
        let mut body = BytesMut::new();
        while let Some(chunk) = payload.next().await {
            let chunk = chunk.map_err(|_| Rejection::IncompleteBody)?;
            let read = first.as_ref().map_or(0, Bytes::len) + body.len();
            if read.saturating_add(chunk.len()) > limit {
                return Err(too_large);
            }
            if read == 0 && first.is_none() {
                first = Some(chunk);
                continue;
            }
            if let Some(first) = first.take() {
                body.reserve(capacity.max(first.len() + chunk.len()));
                body.extend_from_slice(&first);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(first.unwrap_or_else(|| body.freeze()))
    };
    // `timeout` saturates: `Duration::MAX` waits for ever.
    actix_web::rt::time::timeout(timeout, read)
        .await
        .unwrap_or(Err(Rejection::BodyTimeout { timeout }))
}

/// Verifies a request whose body has been read.
pub(crate) fn verify(
    req: &HttpRequest,
    body: &[u8],
    scheme: &dyn Scheme,
    secrets: &Secrets,
    clock: &dyn Clock,
) -> Result<Delivery, Rejection> {
    let request = request_view(req, body);
    Ok(scheme.verify(&request, secrets, clock.now())?)
}

/// The scheme's view of an actix request.
pub(crate) fn request_view<'a>(req: &'a HttpRequest, body: &'a [u8]) -> Request<'a> {
    let target = req.uri().path_and_query().map_or("/", |pq| pq.as_str());
    Request::new(req.method().as_str(), target, req.headers(), body)
}

/// Most header names remembered per thread by `Headers for HeaderMap`.
const MAX_CACHED_NAMES: usize = 64;

thread_local! {
    /// Header names as schemes ask for them, parsed once per worker thread.
    /// `HeaderMap::get_all(&str)` would parse the name, and allocate it when
    /// it is not a standard one, on every lookup. Names come from schemes and
    /// their configuration, never from requests, so the list stays short.
    static HEADER_NAMES: RefCell<Vec<(Box<str>, Option<HeaderName>)>> =
        const { RefCell::new(Vec::new()) };
}

impl Headers for HeaderMap {
    fn header(&self, name: &str) -> Header<'_> {
        let find = |key: &Option<HeaderName>| {
            let Some(key) = key else {
                return Header::Absent; // not a valid header name: never sent
            };
            let mut values = self.get_all(key);
            match (values.next(), values.next()) {
                (None, _) => Header::Absent,
                (Some(value), None) => Header::One(value.as_bytes()),
                (Some(_), Some(_)) => Header::Repeated,
            }
        };
        HEADER_NAMES.with_borrow_mut(|names| {
            if let Some((_, key)) = names.iter().find(|(known, _)| **known == *name) {
                return find(key);
            }
            let key = HeaderName::from_bytes(name.as_bytes()).ok();
            let found = find(&key);
            if names.len() < MAX_CACHED_NAMES {
                names.push((name.into(), key));
            }
            found
        })
    }
}
