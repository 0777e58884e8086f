//! [`WebhookRouter`]: verifies each delivery, claims it, picks the handler
//! by event name and answers the sender.
//!
//! ```no_run
//! use actix_web::{web, App, HttpServer};
//! use actix_webhook::{scheme::StandardWebhooks, webhook, Ack, Event, WebhookRouter};
//! use serde::Deserialize;
//!
//! #[derive(Deserialize)]
//! struct OrderPaid { order_id: String }
//!
//! #[webhook(event = "order_paid")]
//! async fn order_paid(event: Event<OrderPaid>) -> Ack {
//!     println!("order {} paid", event.order_id);
//!     Ack::processed()
//! }
//!
//! #[webhook(event = "order.*")]
//! async fn other_order_events(event: Event<serde_json::Value>) {
//!     println!("{}: {}", event.name(), *event);
//! }
//!
//! # async fn run() -> std::io::Result<()> {
//! let scheme = StandardWebhooks::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
//! // Built once, outside the server factory; cloning it is cheap.
//! let hooks = WebhookRouter::new(scheme)
//!     .handler(order_paid)
//!     .handler(other_order_events);
//!
//! HttpServer::new(move || App::new().service(hooks.scope("/webhooks")))
//!     .bind(("127.0.0.1", 8080))?
//!     .run()
//!     .await
//! # }
//! ```

use std::collections::HashMap;
use std::fmt;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use actix_web::body::{BodySize, MessageBody};
use actix_web::http::Method;
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse, ResponseError as _};
use futures_util::FutureExt as _;
use tracing::field::Empty;
use tracing::Instrument as _;

use crate::ack::{Ack, Rejection, DEFAULT_RETRY_AFTER};
use crate::dedupe::{Claim, MemoryStore, Store, Token, DEFAULT_DONE_TTL, DEFAULT_LEASE};
use crate::extract::{read_body, request_view, DEFAULT_BODY_LIMIT, DEFAULT_BODY_TIMEOUT};
use crate::handler::{Failure, Handler, Incoming};
use crate::payload::PayloadError;
use crate::scheme::{EventName, JsonPointer, Reply, Scheme};
use crate::standalone::{check_signed, check_unsigned, Checked};
use crate::tenant::Tenants;
use crate::verify::{Clock, SystemClock};

/// What the router answers when a delivery's JSON does not fit its
/// handler's type: after a provider adds or changes a field, say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum PayloadMismatch {
    /// 400 `invalid_payload`: the sender gives up on the delivery. Right
    /// when the body is the sender's mistake.
    #[default]
    Reject,
    /// 500 `invalid_payload`: the sender retries on its own schedule (and
    /// may disable an endpoint that keeps failing), so a delivery that no
    /// longer fits waits for the fixed handler instead of being dropped.
    Retry,
}

/// Routes verified deliveries to `#[webhook]` handlers by event name.
///
/// For each request it: reads the body (413 past the limit), verifies it with
/// the scheme (401), finds the event name, claims the delivery in the
/// [`Store`](crate::dedupe::Store) (200 `duplicate` / 409 when taken, 503 when
/// the store is down or full of claims in flight), runs the most specific
/// handler and answers with its [`Ack`]. A handler error or panic is a 500
/// and releases the claim. A delivery is claimed by its id where the sender
/// signs it, else by the [fingerprint](crate::scheme::Delivery::fingerprint)
/// of what was signed together with its event name.
///
/// Patterns, most specific first: an exact name (`order_paid`, or
/// GitHub-style `issues.opened`), then the longest prefix (`order.*`, or a
/// bare name's actions: `issues` matches `issues` and every
/// `issues.<action>`, as `on("issues")` does in `@octokit/webhooks`), then
/// `*`, then the [fallback](Self::fallback). Events nothing matches get the
/// [unhandled](Self::unhandled) answer, 200 `ignored` by default (see
/// [`strict`](Self::strict)).
///
/// A body that does not fit the handler's type is 400 `invalid_payload`
/// with the JSON path and reason in the answer and the log (see
/// [`payload_mismatch`](Self::payload_mismatch) to have it retried).
///
/// Build it once, outside `HttpServer::new(move || ...)`, and call
/// [`scope`](Self::scope) in the factory: cloning is cheap (one `Arc`).
#[derive(Clone)]
pub struct WebhookRouter {
    inner: Arc<Inner>,
}

#[derive(Clone)]
struct Inner {
    scheme: Arc<dyn Scheme>,
    routes: Routes,
    unhandled: Ack,
    strict: bool,
    payload_mismatch: PayloadMismatch,
    store: Arc<dyn Store>,
    namespace: Arc<str>,
    lease: Duration,
    done_ttl: Duration,
    retry_after: Duration,
    body_limit: usize,
    body_timeout: Duration,
    clock: Arc<dyn Clock>,
    event_name: Option<EventName>,
    payload_at: Option<Arc<JsonPointer>>,
    tenants: Option<Tenants>,
}

#[derive(Clone, Default)]
struct Routes {
    exact: HashMap<Arc<str>, Arc<dyn Handler>, foldhash::fast::RandomState>,
    /// `(prefix with its dot, pattern as written, handler)`, longest first:
    /// `order.*` gives `order.`, and so does the bare name `order`.
    prefixes: Vec<(Box<str>, &'static str, Arc<dyn Handler>)>,
    any: Option<Arc<dyn Handler>>,
    fallback: Option<Arc<dyn Handler>>,
}

/// An event pattern as the router uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern<'a> {
    /// A name with a dot, `issues.opened`, `invoice.paid`: that name only.
    Exact(&'a str),
    /// A bare name (no dot), `issues`: the name and its `issues.<action>`
    /// forms, as GitHub names them.
    Family(&'a str),
    /// `order.*`, kept as `order.`.
    Prefix(&'a str),
    /// `*`.
    Any,
}

impl<'a> Pattern<'a> {
    /// Parses a pattern with the rules the `#[webhook]` macro checks at
    /// compile time.
    fn parse(pattern: &'a str) -> Result<Self, &'static str> {
        if pattern == "*" {
            return Ok(Self::Any);
        }
        let (name, prefix) = match pattern.strip_suffix(".*") {
            Some(head) => (head, true),
            None => (pattern, false),
        };
        if name.is_empty() {
            return Err("the pattern is empty");
        }
        if name.contains('*') {
            return Err("`*` may only end a pattern, as `order.*`, or stand alone");
        }
        if !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b':' | b'/'))
        {
            return Err("use letters, digits and `._-:/`");
        }
        if name.starts_with('.') || name.ends_with('.') || name.contains("..") {
            return Err("empty segment between dots");
        }
        Ok(if prefix {
            Self::Prefix(&pattern[..pattern.len() - 1])
        } else if name.contains('.') {
            Self::Exact(name)
        } else {
            Self::Family(name)
        })
    }
}

impl Routes {
    fn add(&mut self, handler: Arc<dyn Handler>) {
        for &pattern in handler.events() {
            let parsed = Pattern::parse(pattern).unwrap_or_else(|why| {
                panic!(
                    "handler `{}`: invalid event pattern `{pattern}`: {why}",
                    handler.name()
                )
            });
            let taken = match parsed {
                Pattern::Any => self.any.replace(handler.clone()).map(|h| (h, "*")),
                Pattern::Exact(name) => self.add_exact(name, &handler),
                Pattern::Family(name) => self
                    .add_exact(name, &handler)
                    .or_else(|| self.add_prefix(format!("{name}."), pattern, &handler)),
                Pattern::Prefix(prefix) => self.add_prefix(prefix.into(), pattern, &handler),
            };
            if let Some((previous, as_pattern)) = taken {
                let (as_, hint) = if as_pattern == pattern {
                    (String::new(), "")
                } else {
                    (
                        format!(" (as `{as_pattern}`)"),
                        "; a bare name such as `issues` also matches `issues.<action>`",
                    )
                };
                panic!(
                    "event pattern `{pattern}` is handled twice: by `{}`{as_} and by `{}`{hint}",
                    previous.name(),
                    handler.name(),
                );
            }
        }
    }

    /// Routes `name` to `handler`; the handler and pattern that had it.
    fn add_exact(
        &mut self,
        name: &'static str,
        handler: &Arc<dyn Handler>,
    ) -> Option<(Arc<dyn Handler>, &'static str)> {
        let previous = self.exact.insert(name.into(), handler.clone());
        previous.map(|previous| (previous, name))
    }

    /// Routes names starting with `prefix` (dot included) to `handler`; the
    /// handler and pattern that had it.
    fn add_prefix(
        &mut self,
        prefix: String,
        pattern: &'static str,
        handler: &Arc<dyn Handler>,
    ) -> Option<(Arc<dyn Handler>, &'static str)> {
        if let Some((_, other, previous)) = self.prefixes.iter().find(|(p, ..)| **p == *prefix) {
            return Some((previous.clone(), *other));
        }
        self.prefixes
            .push((prefix.into_boxed_str(), pattern, handler.clone()));
        self.prefixes
            .sort_by_key(|(p, ..)| std::cmp::Reverse(p.len()));
        None
    }

    /// The handler for `event`, with the registered name when it is an
    /// exact match.
    fn find(&self, event: &str) -> (Option<&Arc<str>>, Option<&Arc<dyn Handler>>) {
        if let Some((name, handler)) = self.exact.get_key_value(event) {
            return (Some(name), Some(handler));
        }
        let handler = self
            .prefixes
            .iter()
            .find(|(prefix, ..)| event.starts_with(&**prefix))
            .map(|(.., h)| h)
            .or(self.any.as_ref())
            .or(self.fallback.as_ref());
        (None, handler)
    }
}

impl Inner {
    /// Settles a claim made at `claimed_at` in the background, retrying
    /// until its lease runs out (see [`settle_later`]).
    fn settle_later(
        &self,
        key: String,
        token: Token,
        done_for: Option<Duration>,
        claimed_at: Instant,
    ) {
        let deadline = crate::dedupe::later(claimed_at, self.lease);
        let settle = settle_later(self.store.clone(), key, token, done_for, deadline);
        actix_web::rt::spawn(settle.in_current_span());
    }
}

impl WebhookRouter {
    /// A router verifying with `scheme`, with no handler yet, an in-memory
    /// store of 100,000 ids, and a 1 MiB body limit.
    pub fn new(scheme: impl Scheme) -> Self {
        Self {
            inner: Arc::new(Inner {
                scheme: Arc::new(scheme),
                routes: Routes::default(),
                unhandled: Ack::ignored(),
                strict: false,
                payload_mismatch: PayloadMismatch::Reject,
                store: Arc::new(MemoryStore::default()),
                namespace: "webhook".into(),
                lease: DEFAULT_LEASE,
                done_ttl: DEFAULT_DONE_TTL,
                retry_after: DEFAULT_RETRY_AFTER,
                body_limit: DEFAULT_BODY_LIMIT,
                body_timeout: DEFAULT_BODY_TIMEOUT,
                clock: Arc::new(SystemClock),
                event_name: None,
                payload_at: None,
                tenants: None,
            }),
        }
    }

    fn with(mut self, change: impl FnOnce(&mut Inner)) -> Self {
        change(Arc::make_mut(&mut self.inner));
        self
    }

    /// Adds a `#[webhook]` handler for the patterns it names.
    ///
    /// # Panics
    ///
    /// When a pattern is already handled (the message names both handlers),
    /// or is invalid (only possible for hand-written [`Handler`]s).
    #[must_use]
    pub fn handler(self, handler: impl Handler) -> Self {
        self.with(|inner| inner.routes.add(Arc::new(handler)))
    }

    /// The handler for events no pattern matches, whatever it declares.
    #[must_use]
    pub fn fallback(self, handler: impl Handler) -> Self {
        self.with(|inner| inner.routes.fallback = Some(Arc::new(handler)))
    }

    /// The answer for events nothing handles (default 200 `ignored`; e.g.
    /// [`Ack::gone`] tells Standard Webhooks senders to stop). Each one is
    /// logged at debug level with its event name, on the target
    /// `actix_webhook::router`.
    #[must_use]
    pub fn unhandled(self, ack: Ack) -> Self {
        self.with(|inner| inner.unhandled = ack)
    }

    /// Strict routing: an event nothing handles is logged at warn level
    /// (not debug) and answered `ack`, so a handler that never runs shows
    /// in the log and, with a non-2xx `ack`, in the sender's dashboard.
    ///
    /// ```
    /// use std::time::Duration;
    /// use actix_webhook::{scheme::GitHub, Ack, WebhookRouter};
    ///
    /// let scheme = GitHub::new("It's a Secret to Everybody").unwrap();
    /// // Senders retry until a handler for the event is deployed.
    /// let hooks = WebhookRouter::new(scheme).strict(Ack::retry_after(Duration::from_secs(600)));
    /// ```
    #[must_use]
    pub fn strict(self, ack: Ack) -> Self {
        self.with(|inner| {
            inner.strict = true;
            inner.unhandled = ack;
        })
    }

    /// What a delivery gets when its body is JSON that does not fit the
    /// handler's type (default [`PayloadMismatch::Reject`], 400). Either way
    /// the problem's `detail` and the log say where and why (`at
    /// `data.amount`: invalid type: string, expected u64`), never the body's
    /// values. A body that is not JSON at all is always 400.
    #[must_use]
    pub fn payload_mismatch(self, answer: PayloadMismatch) -> Self {
        self.with(|inner| inner.payload_mismatch = answer)
    }

    /// Where delivery ids are claimed (default [`MemoryStore::default`]).
    #[must_use]
    pub fn store(self, store: impl Store) -> Self {
        self.with(|inner| inner.store = Arc::new(store))
    }

    /// Prefix of this router's keys in the store (default `webhook`), so
    /// routers sharing a store do not see each other's ids.
    #[must_use]
    pub fn namespace(self, namespace: &str) -> Self {
        self.with(|inner| inner.namespace = namespace.into())
    }

    /// How long a claim is held before another replica may take it over
    /// (default 60 s). Make it longer than your slowest handler.
    #[must_use]
    pub fn lease(self, lease: Duration) -> Self {
        self.with(|inner| inner.lease = lease)
    }

    /// How long a handled delivery id is remembered (default 72 hours).
    #[must_use]
    pub fn remember_for(self, ttl: Duration) -> Self {
        self.with(|inner| inner.done_ttl = ttl)
    }

    /// The `Retry-After` of 409 and 503 answers (default 5 s).
    #[must_use]
    pub fn retry_after(self, after: Duration) -> Self {
        self.with(|inner| inner.retry_after = after)
    }

    /// The largest body accepted, in bytes (default 1 MiB).
    ///
    /// A larger body gets 413 `payload_too_large`: at once when its
    /// `Content-Length` says so, else as soon as the bytes read pass the
    /// limit. The connection is then closed rather than drained; actix-web
    /// still reads and discards for up to `HttpServer::client_disconnect_timeout`
    /// (default 1 s) so that the sender sees the 413 and not a reset.
    #[must_use]
    pub fn body_limit(self, bytes: usize) -> Self {
        self.with(|inner| inner.body_limit = bytes)
    }

    /// How long the body may take to arrive once reading starts (default
    /// 30 s). A slower one gets 408 `body_timeout` and the connection is
    /// closed: actix-web bounds the time to receive a request's head
    /// (`HttpServer::client_request_timeout`), not its body, so without this
    /// a sender trickling bytes would hold a connection for ever.
    #[must_use]
    pub fn body_timeout(self, timeout: Duration) -> Self {
        self.with(|inner| inner.body_timeout = timeout)
    }

    /// The clock timestamps are checked against (default the system clock).
    #[must_use]
    pub fn clock(self, clock: impl Clock) -> Self {
        self.with(|inner| inner.clock = Arc::new(clock))
    }

    /// Where the event name is, instead of where the scheme says.
    #[must_use]
    pub fn event_name(self, event_name: EventName) -> Self {
        self.with(|inner| inner.event_name = Some(event_name))
    }

    /// Hands handlers the value at `pointer` (e.g. `/data`) instead of the
    /// whole body.
    #[must_use]
    pub fn payload_at(self, pointer: JsonPointer) -> Self {
        self.with(|inner| inner.payload_at = Some(Arc::new(pointer)))
    }

    /// Verifies each request with the secrets of the tenant named in the
    /// path instead of the scheme's own: mount the router with the
    /// parameter, e.g. `scope("/webhooks/{tenant}")`. An unknown tenant gets
    /// 404 `unknown_tenant`, a failing resolver 503. Delivery ids are
    /// claimed per tenant.
    #[must_use]
    pub fn tenants(self, tenants: Tenants) -> Self {
        self.with(|inner| inner.tenants = Some(tenants))
    }

    /// A scope at `path` answering deliveries, for `App::service`.
    pub fn scope(&self, path: &str) -> actix_web::Scope {
        let router = self.clone();
        web::scope(path).service(web::resource(["", "/"]).to(
            move |req: HttpRequest, body: web::Payload| {
                let router = router.clone();
                async move { router.respond(req, body).await }
            },
        ))
    }

    /// The same as [`scope`](Self::scope), for `App::configure`.
    pub fn configure(&self, path: &str) -> impl FnOnce(&mut web::ServiceConfig) {
        let scope = self.scope(path);
        move |config| {
            config.service(scope);
        }
    }

    /// The router's work for a delivery that is already verified: event
    /// name, claim of `id`, handler, acknowledgement. Not public API: it
    /// lets `benches/dispatch.rs` measure that work without HTTP around it.
    #[doc(hidden)]
    pub async fn __dispatch(&self, req: &HttpRequest, body: &Bytes, id: &str) -> HttpResponse {
        let identity = Identity::new(&self.inner.namespace, None, Some(id.into()), None);
        match self.dispatch(req, body, identity, None).await {
            Ok(answer) => answer.into_response().0,
            Err((rejection, _)) => rejection.error_response(),
        }
    }

    /// Answers one request: the whole pipeline, inside a tracing span.
    async fn respond(self, req: HttpRequest, mut payload: web::Payload) -> HttpResponse {
        let span = tracing::info_span!(
            "webhook",
            scheme = self.inner.scheme.name(),
            id = Empty,
            event = Empty,
            outcome = Empty,
        );
        async {
            let (response, outcome) = match self.deliver(&req, &mut payload).await {
                Ok(answer) => answer.into_response(),
                Err((rejection, id)) => {
                    rejection.log(id.as_deref());
                    let response = rejection.error_response();
                    let response = match rejection {
                        // Keep the rest of the body unread until the answer
                        // is out, so the connection is closed instead of
                        // drained.
                        Rejection::PayloadTooLarge { .. } | Rejection::BodyTimeout { .. } => {
                            hold_until_sent(response, payload)
                        }
                        _ => response,
                    };
                    (response, rejection.code())
                }
            };
            tracing::Span::current().record("outcome", outcome);
            tracing::debug!(status = response.status().as_u16(), "webhook answered");
            response
        }
        .instrument(span)
        .await
    }

    async fn deliver(
        &self,
        req: &HttpRequest,
        payload: &mut web::Payload,
    ) -> Result<Answer, (Rejection, Option<Arc<str>>)> {
        let inner = &*self.inner;
        let scheme = &*inner.scheme;
        let fail = |rejection: Rejection| (rejection, None);

        let (tenant, secrets) = match &inner.tenants {
            None => (None, scheme.secrets().clone()),
            Some(tenants) => {
                let tenant = req
                    .match_info()
                    .get(tenants.param())
                    .ok_or_else(|| fail(Rejection::UnknownTenant))?;
                match tenants.secrets(tenant).await {
                    Ok(Some(secrets)) => (Some(tenant), secrets),
                    Ok(None) => return Err(fail(Rejection::UnknownTenant)),
                    Err(error) if error.is_bad_secret() => {
                        tracing::error!(target: "actix_webhook::tenant", %error, tenant = shown(tenant), "the tenant's secret is not usable");
                        return Err(fail(Rejection::NotConfigured));
                    }
                    Err(error) if error.is_busy() => {
                        // Made-up names from anyone: a warning, not an error.
                        tracing::warn!(target: "actix_webhook::tenant", tenant = shown(tenant), "every tenant lookup is taken");
                        return Err(fail(Rejection::Unavailable {
                            retry_after: inner.retry_after,
                        }));
                    }
                    Err(error) => {
                        tracing::error!(target: "actix_webhook::tenant", %error, tenant = shown(tenant), "resolving secrets failed");
                        return Err(fail(Rejection::Unavailable {
                            retry_after: inner.retry_after,
                        }));
                    }
                }
            }
        };
        let secrets = &secrets;

        if req.method() != Method::POST {
            // The body is not read: a handshake carries none.
            return check_unsigned(scheme, &request_view(req, &[]), secrets)
                .map(Answer::Reply)
                .map_err(|e| fail(e.into()));
        }
        let body: Bytes = read_body(req, payload, inner.body_limit, inner.body_timeout)
            .await
            .map_err(fail)?;
        let view = request_view(req, &body);
        let delivery = match check_signed(scheme, &view, secrets, inner.clock.now()) {
            Ok(Checked::Delivery(delivery)) => delivery,
            Ok(Checked::Reply(reply)) => return Ok(Answer::Reply(reply)),
            Err(error) => return Err(fail(error.into())),
        };
        let identity = Identity::new(&inner.namespace, tenant, delivery.id, delivery.fingerprint);
        if let Some(shown) = &identity.shown {
            tracing::Span::current().record("id", &**shown);
        }
        self.dispatch(req, &body, identity, delivery.timestamp)
            .await
    }

    /// The router's work for a verified delivery: finds the event name and
    /// the handler, claims the delivery, runs the handler and settles the
    /// claim.
    async fn dispatch(
        &self,
        req: &HttpRequest,
        body: &Bytes,
        identity: Identity,
        timestamp: Option<i64>,
    ) -> Result<Answer, (Rejection, Option<Arc<str>>)> {
        let inner = &*self.inner;
        let scheme = &*inner.scheme;
        let view = request_view(req, body);
        let span = tracing::Span::current();
        let Identity { id, shown, key } = identity;
        let with_id = |rejection: Rejection| (rejection, shown.clone());

        let name = match &inner.event_name {
            Some(location) => location.find(&view),
            None => scheme.event_name(&view),
        }
        .map_err(|e| with_id(e.into()))?;
        // `None`: a scheme whose deliveries may carry no event name (Twilio's
        // messages), routed to `*` or the fallback only.
        let name = match name {
            Some(name) if name.is_empty() => {
                return Err(with_id(Rejection::InvalidPayload(PayloadError::missing(
                    "event name (it is empty)",
                ))))
            }
            name => name.unwrap_or_default(),
        };
        let (exact, handler) = inner.routes.find(&name);
        // A name routed exactly shares the route's copy.
        let name: Arc<str> = exact.cloned().unwrap_or_else(|| name.into());
        span.record("event", &*name);

        let Some(handler) = handler else {
            // "Why does my handler not run?" is answered here.
            let status = inner.unhandled.status().as_u16();
            if inner.strict {
                tracing::warn!(target: "actix_webhook::router", event = &*name, status, "no handler for the event");
            } else {
                tracing::debug!(target: "actix_webhook::router", event = &*name, status, "no handler for the event");
            }
            return Ok(Answer::Ack(inner.unhandled.clone(), shown, Some(name)));
        };

        // Claim the delivery so the handler runs once; nothing to recognise
        // it by, no claim.
        let claimed_at = Instant::now();
        let claim = match key.map(|key| key.for_event(&name)) {
            Some(key) => match inner.store.claim(&key, inner.lease).await {
                Ok(Claim::Fresh(token)) => Some((key, token)),
                Ok(Claim::InFlight) => {
                    return Err(with_id(Rejection::InFlight {
                        retry_after: inner.retry_after,
                    }))
                }
                Ok(Claim::Done) => return Ok(Answer::Ack(Ack::duplicate(), shown, Some(name))),
                Err(error) => {
                    tracing::error!(target: "actix_webhook::store", %error, "claiming a delivery failed");
                    if let Some(token) = error.pending_claim() {
                        // Applied with its answer lost, perhaps: give it up as
                        // soon as the store answers, or the sender's retry
                        // would get 409 for a whole lease.
                        inner.settle_later(key, token.clone(), None, claimed_at);
                    }
                    return Err(with_id(Rejection::Unavailable {
                        retry_after: inner.retry_after,
                    }));
                }
            },
            None => None,
        };

        let incoming = Incoming::new(
            req.clone(),
            body.clone(),
            id,
            name.clone(),
            timestamp,
            scheme.name(),
            inner.payload_at.clone(),
        );
        let outcome = match std::panic::catch_unwind(AssertUnwindSafe(|| handler.call(incoming))) {
            Ok(future) => AssertUnwindSafe(future)
                .catch_unwind()
                .await
                .unwrap_or_else(|_| Err(Failure::Error("the handler panicked".into()))),
            Err(_) => Err(Failure::Error("the handler panicked".into())),
        };

        let settled = match &outcome {
            Ok(ack) => ack.is_final(),
            Err(_) => false,
        };
        if let Some((key, token)) = claim {
            let done_for = settled.then_some(inner.done_ttl);
            if let Err(error) = settle(&*inner.store, &key, &token, done_for).await {
                // Done, the handler must not run again once the lease runs
                // out; released, the sender's retry must not wait for it.
                tracing::warn!(target: "actix_webhook::store", %error, "settling a claim failed; retrying until the lease runs out");
                inner.settle_later(key, token, done_for, claimed_at);
            }
        }

        match outcome {
            Ok(ack) => Ok(Answer::Ack(ack, shown, Some(name))),
            Err(Failure::Rejected(Rejection::InvalidPayload(error)))
                if error.is_mismatch() && inner.payload_mismatch == PayloadMismatch::Retry =>
            {
                Err(with_id(Rejection::PayloadMismatch(error)))
            }
            Err(Failure::Rejected(rejection)) => Err(with_id(rejection)),
            Err(Failure::Error(message)) => {
                tracing::error!(
                    target: "actix_webhook::handler",
                    handler = handler.name(),
                    delivery_id = shown.as_deref().unwrap_or("-"),
                    event = &*name,
                    error = %message,
                    "webhook handler failed"
                );
                Err(with_id(Rejection::HandlerFailed))
            }
        }
    }
}

/// Longest delivery id stored, shown and logged as it is; longer ones are
/// stored, shown and logged as their digest.
const MAX_ID: usize = 128;

/// What marks a digest of an id; ids that start with it, or with
/// [`CONTENT_PREFIX`], are hashed too, so a digest and an id can never be
/// mistaken for each other.
const DIGEST_PREFIX: &str = "sha256:";

/// What marks a delivery recognised by the digest of what its sender signed.
const CONTENT_PREFIX: &str = "content-sha256:";

/// How a verified delivery is known: the id as sent (for the handler), the
/// id as shown in the answer and logs (bounded: unsigned ids are anyone's
/// to make 100 KB long), and what it is claimed by.
struct Identity {
    id: Option<Arc<str>>,
    shown: Option<Arc<str>>,
    key: Option<Key>,
}

/// The store key of a delivery, once its event name is known.
enum Key {
    /// `scope` + the signed id: the event name adds nothing.
    Id(String),
    /// What was signed, and the event it is routed as: one body sent as two
    /// events (Shopify's `orders/paid` and `orders/updated`) is two
    /// deliveries.
    Fingerprint {
        scope: String,
        fingerprint: [u8; 32],
    },
}

impl Identity {
    fn new(
        namespace: &str,
        tenant: Option<&str>,
        id: Option<String>,
        fingerprint: Option<[u8; 32]>,
    ) -> Self {
        let id: Option<Arc<str>> = id.map(Into::into);
        let shown = id.as_ref().map(|id| match shown_id(id) {
            std::borrow::Cow::Borrowed(_) => id.clone(),
            std::borrow::Cow::Owned(digest) => digest.into(),
        });
        let key = match (fingerprint, &id) {
            (Some(fingerprint), _) => Some(Key::Fingerprint {
                scope: scope(namespace, tenant, CONTENT_PREFIX.len() + 64),
                fingerprint,
            }),
            (None, Some(id)) => {
                let id = stored_id(id);
                let mut key = scope(namespace, tenant, id.len());
                key.push_str(&id);
                Some(Key::Id(key))
            }
            (None, None) => None,
        };
        Self { id, shown, key }
    }
}

impl Key {
    /// The key of the delivery routed as `event`.
    fn for_event(self, event: &str) -> String {
        match self {
            Self::Id(key) => key,
            Self::Fingerprint {
                mut scope,
                fingerprint,
            } => {
                use sha2::Digest as _;
                let digest = sha2::Sha256::new()
                    .chain_update(fingerprint)
                    .chain_update(event)
                    .finalize();
                scope.push_str(CONTENT_PREFIX);
                scope.push_str(&hex::encode(digest));
                scope
            }
        }
    }
}

/// The first [`MAX_ID`] bytes of a name from the request path, for logs.
fn shown(name: &str) -> &str {
    let mut end = name.len().min(MAX_ID);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    &name[..end]
}

/// An id as answered and logged: itself, or its digest past [`MAX_ID`]
/// bytes.
pub(crate) fn shown_id(id: &str) -> std::borrow::Cow<'_, str> {
    if id.len() > MAX_ID {
        id_digest(id).into()
    } else {
        id.into()
    }
}

/// `sha256:<hex>` of `id`.
fn id_digest(id: &str) -> String {
    use sha2::Digest as _;
    format!("{DIGEST_PREFIX}{}", hex::encode(sha2::Sha256::digest(id)))
}

/// An id as stored: itself, or its digest when it is long or could be
/// taken for a digest. Ids come from requests (GitHub's, Shopify's and
/// Twilio's are not even signed) and the store bounds how many it keeps, not
/// how long they are.
fn stored_id(id: &str) -> std::borrow::Cow<'_, str> {
    if id.len() > MAX_ID || id.starts_with(DIGEST_PREFIX) || id.starts_with(CONTENT_PREFIX) {
        id_digest(id).into()
    } else {
        id.into()
    }
}

/// Where a router's keys start: `namespace:`, or `namespace@tenant:` with
/// the id (or fingerprint) after it, with room for `rest` more bytes.
/// Namespace and tenant are escaped (`%`, `:` and `@` as `%25`, `%3A`,
/// `%40`), so the first `:` ends them and no two (tenant, id) pairs share a
/// key, whatever the names. Built by hand, in one allocation: `format!`
/// costs more than the rest of the claim.
fn scope(namespace: &str, tenant: Option<&str>, rest: usize) -> String {
    let tenant_len = tenant.map_or(0, |tenant| tenant.len() + 1);
    let mut scope = String::with_capacity(namespace.len() + tenant_len + 1 + rest);
    push_escaped(&mut scope, namespace);
    if let Some(tenant) = tenant {
        scope.push('@');
        push_escaped(&mut scope, tenant);
    }
    scope.push(':');
    scope
}

fn push_escaped(key: &mut String, part: &str) {
    if !part.contains(['%', ':', '@']) {
        key.push_str(part);
        return;
    }
    for c in part.chars() {
        match c {
            '%' => key.push_str("%25"),
            ':' => key.push_str("%3A"),
            '@' => key.push_str("%40"),
            c => key.push(c),
        }
    }
}

/// What a delivery gets when it is not rejected.
enum Answer {
    Ack(Ack, Option<Arc<str>>, Option<Arc<str>>),
    Reply(Reply),
}

impl Answer {
    /// The response, and the outcome recorded on the span.
    fn into_response(self) -> (HttpResponse, &'static str) {
        match self {
            Self::Ack(ack, id, event) => {
                let response = ack.to_response(id.as_deref(), event.as_deref());
                (response, ack.word().unwrap_or("custom"))
            }
            Self::Reply(reply) => (reply_response(reply), "reply"),
        }
    }
}

/// Marks a claim done for `done_for`, or releases it when `None`.
async fn settle(
    store: &dyn Store,
    key: &str,
    token: &Token,
    done_for: Option<Duration>,
) -> Result<(), crate::dedupe::StoreError> {
    match done_for {
        Some(ttl) => store.complete(key, token, ttl).await,
        None => store.release(key, token).await,
    }
}

/// Keeps trying to settle a claim while it still holds, for a store that
/// was briefly unreachable: a handled delivery must not run again once the
/// lease runs out, and a released one (or one whose claim's answer was lost)
/// must not keep the sender's retries at 409 until then.
async fn settle_later(
    store: Arc<dyn Store>,
    key: String,
    token: Token,
    done_for: Option<Duration>,
    deadline: Instant,
) {
    let mut pause = Duration::from_millis(50);
    while crate::dedupe::later(Instant::now(), pause) < deadline {
        actix_web::rt::time::sleep(pause).await;
        if settle(&*store, &key, &token, done_for).await.is_ok() {
            tracing::info!(target: "actix_webhook::store", "settled a claim after retrying");
            return;
        }
        pause = (pause * 2).min(Duration::from_secs(2));
    }
    if done_for.is_some() {
        tracing::error!(target: "actix_webhook::store", "a handled delivery could not be marked done before its lease ran out; a retry may run it again");
    }
}

/// A response whose body owns the request payload: while the payload is
/// alive, actix-web closes the connection after the response rather than
/// reading the rest of the request body to reuse the connection.
fn hold_until_sent(response: HttpResponse, payload: web::Payload) -> HttpResponse {
    response
        .map_body(|_, body| HoldPayload {
            body,
            _payload: payload,
        })
        .map_into_boxed_body()
}

struct HoldPayload<B> {
    body: B,
    _payload: web::Payload,
}

impl<B: MessageBody + Unpin> MessageBody for HoldPayload<B> {
    type Error = B::Error;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_next(cx)
    }
}

fn reply_response(reply: Reply) -> HttpResponse {
    let status = actix_web::http::StatusCode::from_u16(reply.status)
        .unwrap_or(actix_web::http::StatusCode::OK);
    HttpResponse::build(status)
        .content_type(reply.content_type)
        .body(reply.body)
}

impl fmt::Debug for WebhookRouter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &*self.inner;
        let mut events: Vec<&str> = inner.routes.exact.keys().map(|k| &**k).collect();
        events.sort_unstable();
        f.debug_struct("WebhookRouter")
            .field("scheme", &inner.scheme.name())
            .field("events", &events)
            .field(
                "prefixes",
                &inner
                    .routes
                    .prefixes
                    .iter()
                    .map(|(p, ..)| &**p)
                    .collect::<Vec<_>>(),
            )
            .field("any", &inner.routes.any.is_some())
            .field("fallback", &inner.routes.fallback.is_some())
            .field("store", &inner.store)
            .field("namespace", &inner.namespace)
            .field("body_limit", &inner.body_limit)
            .field("body_timeout", &inner.body_timeout)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(tenant: Option<&str>, id: &str) -> String {
        Identity::new("webhook", tenant, Some(id.into()), None)
            .key
            .unwrap()
            .for_event("e")
    }

    #[test]
    fn long_ids_are_stored_as_digests() {
        assert_eq!(key(None, "msg_1"), "webhook:msg_1");
        assert_eq!(key(Some("acme"), "msg_1"), "webhook@acme:msg_1");
        let long = "i".repeat(100_000);
        let long_key = key(None, &long);
        assert_eq!(long_key.len(), "webhook:sha256:".len() + 64);
        assert_eq!(long_key, key(None, &long));
        assert_ne!(long_key, key(None, &long[1..]));
        // An id that looks like a digest is hashed as well: never equal to
        // the digest of another id, nor to a fingerprint.
        let looks_like = &long_key["webhook:".len()..];
        assert_ne!(key(None, looks_like), long_key);
        let fingerprinted = Identity::new("webhook", None, None, Some([7; 32]))
            .key
            .unwrap()
            .for_event("e");
        assert_ne!(key(None, &fingerprinted["webhook:".len()..]), fingerprinted);
        assert!(key(None, &"i".repeat(128)).ends_with(&"i".repeat(128)));
        // Shown bounded too, as the digest the store uses.
        let shown = Identity::new("webhook", None, Some(long), None)
            .shown
            .unwrap();
        assert_eq!(&*shown, &long_key["webhook:".len()..]);
    }

    #[test]
    fn keys_are_unambiguous_for_any_tenant_and_id() {
        let names = [
            "", "a", "acme", "acme:x", "x:evt_1", "evt_1", "a@b", "%3A", ":", "@", "%",
        ];
        let mut seen = std::collections::HashMap::new();
        for tenant in names.iter().map(|t| Some(*t)).chain([None]) {
            for id in names {
                if let Some(other) = seen.insert(key(tenant, id), (tenant, id)) {
                    panic!("{tenant:?}/{id:?} and {other:?} share a key");
                }
            }
        }
        // The review's example: tenant `acme` with id `x:evt_1` against
        // tenant `acme:x` with id `evt_1`.
        assert_ne!(key(Some("acme"), "x:evt_1"), key(Some("acme:x"), "evt_1"));
        // Namespaces are escaped too.
        assert_ne!(
            Identity::new("a", Some("b"), Some("c".into()), None)
                .key
                .map(|k| k.for_event("e")),
            Identity::new("a@b", None, Some("c".into()), None)
                .key
                .map(|k| k.for_event("e"))
        );
    }

    #[test]
    fn patterns_parse_like_the_macro_checks_them() {
        // The same table the macro's validator is tested against.
        let table = include_str!("../tests/patterns.txt");
        let mut checked = 0;
        for line in table
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        {
            let (expect, pattern) = line.split_once('\t').expect("`valid|invalid<TAB>pattern`");
            let parsed = Pattern::parse(pattern);
            match expect {
                "valid" => assert!(parsed.is_ok(), "{pattern:?} should be valid: {parsed:?}"),
                "invalid" => assert!(parsed.is_err(), "{pattern:?} should be invalid"),
                other => panic!("unknown expectation {other:?}"),
            }
            checked += 1;
        }
        assert!(checked >= 10);
        assert_eq!(Pattern::parse("order.*"), Ok(Pattern::Prefix("order.")));
        assert_eq!(
            Pattern::parse("issues.opened"),
            Ok(Pattern::Exact("issues.opened"))
        );
        assert_eq!(Pattern::parse("*"), Ok(Pattern::Any));
        assert_eq!(Pattern::parse("issues"), Ok(Pattern::Family("issues")));
        assert_eq!(
            Pattern::parse("orders/create"),
            Ok(Pattern::Family("orders/create"))
        );
    }
}
