//! The receiving pipeline shared by [`WebhookRouter`](crate::WebhookRouter)
//! and the [`Verified`](crate::Verified) extractor, and its configuration,
//! [`WebhookConfig`].
//!
//! For each request: resolve the tenant's secrets, read the body within its
//! limits, view the request once, verify it, let the scheme answer a
//! handshake, refuse a body without the id its sender always puts there, and
//! read the event name once. What happens next (routing, claiming, parsing)
//! is the caller's.

use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use actix_web::http::header::{HeaderMap, HeaderName};
use actix_web::http::Method;
use actix_web::web::{self, Bytes};
use actix_web::HttpRequest;

use crate::body::{read_body, DEFAULT_BODY_LIMIT, DEFAULT_BODY_TIMEOUT};
use crate::ids::shown_name;
use crate::rejection::{Rejection, DEFAULT_RETRY_AFTER};
use crate::scheme::{Delivery, EventName, EventNameError, Header, Headers, Reply, Request, Scheme};
use crate::secret::Secrets;
use crate::standalone::{check, Checked};
use crate::tenant::Tenants;
use crate::verify::{Clock, SystemClock};

/// How deliveries are received: the scheme (with its secrets, or a tenant's),
/// the body's limits, the clock and where the event name is. One type for
/// the [`Verified`](crate::Verified) extractor and, inside it, the
/// [`WebhookRouter`](crate::WebhookRouter).
///
/// For `Verified`, put it in the app data, as it is or as
/// `web::Data<WebhookConfig>`. Cloning is cheap. Without one, `Verified`
/// answers 500 `not_configured` and accepts nothing.
#[derive(Clone)]
pub struct WebhookConfig {
    scheme: Arc<dyn Scheme>,
    body_limit: usize,
    body_timeout: Duration,
    clock: Arc<dyn Clock>,
    event_name: Option<EventName>,
    tenants: Option<Tenants>,
    retry_after: Duration,
}

impl WebhookConfig {
    /// Verifies with `scheme`, a 1 MiB body limit and the system clock.
    pub fn new(scheme: impl Scheme) -> Self {
        crate::metrics::secrets_configured(scheme.name(), scheme.secrets());
        Self {
            scheme: Arc::new(scheme),
            body_limit: DEFAULT_BODY_LIMIT,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            clock: Arc::new(SystemClock),
            event_name: None,
            tenants: None,
            retry_after: DEFAULT_RETRY_AFTER,
        }
    }

    /// The largest body accepted, in bytes (default 1 MiB).
    ///
    /// A larger body gets 413 `payload_too_large`: at once when its
    /// `Content-Length` says so, else as soon as the bytes read pass the
    /// limit. The router then closes the connection rather than drain it;
    /// actix-web still reads and discards for up to
    /// `HttpServer::client_disconnect_timeout` (default 1 s) so that the
    /// sender sees the 413 and not a reset.
    #[must_use]
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// How long the body may take to arrive once reading starts (default
    /// 30 s). A slower one gets 408 `body_timeout` and the connection is
    /// closed: actix-web bounds the time to receive a request's head
    /// (`HttpServer::client_request_timeout`), not its body, so without this
    /// a sender trickling bytes would hold a connection for ever.
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

    /// Where the event name is, instead of where the scheme says.
    #[must_use]
    pub fn event_name(mut self, event_name: EventName) -> Self {
        self.event_name = Some(event_name);
        self
    }

    /// Verifies each request with the secrets of the tenant named in the
    /// path instead of the scheme's own: mount the handler with the
    /// parameter, e.g. `/webhooks/{tenant}`. An unknown tenant gets 404
    /// `unknown_tenant`, a failing resolver 503.
    #[must_use]
    pub fn tenants(mut self, tenants: Tenants) -> Self {
        self.tenants = Some(tenants);
        self
    }

    /// The `Retry-After` of 409 and 503 answers (default 5 s).
    #[must_use]
    pub fn retry_after(mut self, after: Duration) -> Self {
        self.retry_after = after;
        self
    }

    pub(crate) fn scheme(&self) -> &dyn Scheme {
        &*self.scheme
    }

    pub(crate) fn retry_delay(&self) -> Duration {
        self.retry_after
    }

    pub(crate) fn from_req(req: &HttpRequest) -> Option<&Self> {
        req.app_data::<Self>()
            .or_else(|| req.app_data::<web::Data<Self>>().map(|d| d.get_ref()))
    }

    /// Steps 1 to 7 of the pipeline (see the module docs and
    /// `docs/ARCHITECTURE.md`) for `req`, whose body is read from `payload`
    /// when it is a `POST`.
    pub(crate) async fn receive<S, E>(
        &self,
        req: &HttpRequest,
        payload: &mut S,
    ) -> Result<Received, Rejection>
    where
        S: futures_core::Stream<Item = Result<Bytes, E>> + Unpin,
    {
        let (tenant, secrets) = self.secrets_for(req).await?;
        // Only a `POST` has a body to read: a handshake carries none.
        let body = if req.method() == Method::POST {
            read_body(req, payload, self.body_limit, self.body_timeout).await?
        } else {
            Bytes::new()
        };
        let view = request_view(req, &body);
        let now = self.clock.now();
        match check(
            &*self.scheme,
            &view,
            &secrets,
            now,
            self.event_name.as_ref(),
        )? {
            Checked::Reply(reply) => Ok(Received::Reply(reply)),
            Checked::Delivery(delivery, event) => Ok(Received::Delivery(Arrival {
                body,
                delivery,
                tenant,
                event,
            })),
        }
    }

    /// The event name of a verified `request`, read where this configuration
    /// says.
    #[cfg(feature = "bench")]
    pub(crate) fn find_event_name(
        &self,
        request: &Request<'_>,
    ) -> Result<Option<String>, EventNameError> {
        crate::standalone::event_name_of(self.scheme(), self.event_name.as_ref(), request)
    }

    /// The tenant named in the path and its secrets, or the scheme's own.
    async fn secrets_for(
        &self,
        req: &HttpRequest,
    ) -> Result<(Option<String>, Cow<'_, Secrets>), Rejection> {
        let Some(tenants) = &self.tenants else {
            return Ok((None, Cow::Borrowed(self.scheme.secrets())));
        };
        let tenant = req
            .match_info()
            .get(tenants.param())
            .ok_or(Rejection::UnknownTenant)?;
        let unavailable = Rejection::Unavailable {
            retry_after: self.retry_after,
        };
        match tenants.secrets(tenant).await {
            Ok(Some(secrets)) => Ok((Some(tenant.to_owned()), Cow::Owned(secrets))),
            Ok(None) => Err(Rejection::UnknownTenant),
            Err(error) if error.is_bad_secret() => {
                tracing::error!(target: "actix_webhook::tenant", %error, tenant = shown_name(tenant), "the tenant's secret is not usable");
                Err(Rejection::NotConfigured)
            }
            Err(error) if error.is_busy() => {
                // Made-up names from anyone: a warning, not an error.
                tracing::warn!(target: "actix_webhook::tenant", tenant = shown_name(tenant), "every tenant lookup is taken");
                Err(unavailable)
            }
            Err(error) => {
                tracing::error!(target: "actix_webhook::tenant", %error, tenant = shown_name(tenant), "resolving secrets failed");
                Err(unavailable)
            }
        }
    }
}

impl fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("scheme", &self.scheme.name())
            .field("body_limit", &self.body_limit)
            .field("body_timeout", &self.body_timeout)
            .field("clock", &self.clock)
            .field("event_name", &self.event_name)
            .field("tenants", &self.tenants.is_some())
            .finish_non_exhaustive()
    }
}

/// What the pipeline makes of a request it does not refuse.
pub(crate) enum Received {
    /// A handshake the scheme answers by itself.
    Reply(Reply),
    /// A verified delivery.
    Delivery(Arrival),
}

/// A verified delivery, as the pipeline hands it over.
pub(crate) struct Arrival {
    pub(crate) body: Bytes,
    pub(crate) delivery: Delivery,
    /// The tenant it is for, when the configuration has tenants.
    pub(crate) tenant: Option<String>,
    /// Its event name, read once: what a missing or unreadable one means is
    /// the caller's to say (the router refuses it, `Verified` does not need
    /// one).
    pub(crate) event: Result<Option<String>, EventNameError>,
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
