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

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use actix_web::web;
use actix_web::HttpRequest;

use crate::ack::Ack;
use crate::dedupe::claims::Claims;
use crate::dedupe::Store;
use crate::handler::Handler;
use crate::pipeline::WebhookConfig;
use crate::scheme::{EventName, JsonPointer, Scheme};
use crate::tenant::Tenants;
use crate::verify::Clock;

mod batch;
mod dispatch;
mod routes;

use routes::Routes;

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
    config: WebhookConfig,
    routes: Routes,
    unhandled: Ack,
    strict: bool,
    payload_mismatch: PayloadMismatch,
    claims: Claims,
    payload_at: Option<Arc<JsonPointer>>,
    #[cfg(feature = "inbox")]
    inbox: Option<crate::inbox::Inbox>,
}

impl WebhookRouter {
    /// A router verifying with `scheme`, with no handler yet, an in-memory
    /// store of 100,000 ids, and a 1 MiB body limit.
    pub fn new(scheme: impl Scheme) -> Self {
        Self::from_config(WebhookConfig::new(scheme))
    }

    /// A router receiving as `config` says (scheme, body limits, clock,
    /// event name, tenants), e.g. the one a [`Verified`](crate::Verified)
    /// endpoint of the same app uses.
    pub fn from_config(config: WebhookConfig) -> Self {
        Self {
            inner: Arc::new(Inner {
                config,
                routes: Routes::default(),
                unhandled: Ack::ignored(),
                strict: false,
                payload_mismatch: PayloadMismatch::Reject,
                claims: Claims::default(),
                payload_at: None,
                #[cfg(feature = "inbox")]
                inbox: None,
            }),
        }
    }

    fn config(self, change: impl FnOnce(WebhookConfig) -> WebhookConfig) -> Self {
        self.with(|inner| inner.config = change(inner.config.clone()))
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

    /// Where delivery ids are claimed (default
    /// [`MemoryStore::default`](crate::dedupe::MemoryStore::default)).
    #[must_use]
    pub fn store(self, store: impl Store) -> Self {
        self.with(|inner| inner.claims.store = Arc::new(store))
    }

    /// Prefix of this router's keys in the store (default `webhook`), so
    /// routers sharing a store do not see each other's ids.
    #[must_use]
    pub fn namespace(self, namespace: &str) -> Self {
        self.with(|inner| inner.claims.namespace = namespace.into())
    }

    /// How long a claim is held before another replica may take it over
    /// (default 60 s). Make it longer than your slowest handler.
    #[must_use]
    pub fn lease(self, lease: Duration) -> Self {
        self.with(|inner| inner.claims.lease = lease)
    }

    /// How long a handled delivery id is remembered (default 72 hours).
    #[must_use]
    pub fn remember_for(self, ttl: Duration) -> Self {
        self.with(|inner| inner.claims.done_ttl = ttl)
    }

    /// The `Retry-After` of 409 and 503 answers (default 5 s).
    #[must_use]
    pub fn retry_after(self, after: Duration) -> Self {
        self.config(|config| config.retry_after(after))
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
        self.config(|config| config.body_limit(bytes))
    }

    /// How long the body may take to arrive once reading starts (default
    /// 30 s). A slower one gets 408 `body_timeout` and the connection is
    /// closed: actix-web bounds the time to receive a request's head
    /// (`HttpServer::client_request_timeout`), not its body, so without this
    /// a sender trickling bytes would hold a connection for ever.
    #[must_use]
    pub fn body_timeout(self, timeout: Duration) -> Self {
        self.config(|config| config.body_timeout(timeout))
    }

    /// The clock timestamps are checked against (default the system clock).
    #[must_use]
    pub fn clock(self, clock: impl Clock) -> Self {
        self.config(|config| config.clock(clock))
    }

    /// Where the event name is, instead of where the scheme says.
    #[must_use]
    pub fn event_name(self, event_name: EventName) -> Self {
        self.config(|config| config.event_name(event_name))
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
        self.config(|config| config.tenants(tenants))
    }

    /// Inbox mode: each verified delivery with a handler is stored in
    /// `inbox` and answered `202 {"status":"queued","id":..,"event":..}`
    /// at once; the router's [`workers`](Self::workers) run the handler
    /// later. One already in the inbox is answered `200 duplicate`; an
    /// event without a handler gets the [unhandled](Self::unhandled) answer
    /// and is not stored; an inbox that cannot be written gets 503
    /// `unavailable` with `Retry-After`. The [`store`](Self::store) is not
    /// used: the inbox recognises deliveries sent again. See
    /// [`inbox`](crate::inbox) for what is promised.
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("inbox-router-doc-{}.db", std::process::id()));
    /// use actix_webhook::{inbox::Inbox, scheme::GitHub, WebhookRouter};
    ///
    /// let inbox = Inbox::sqlite(&path)?;
    /// let hooks = WebhookRouter::new(GitHub::new("It's a Secret to Everybody").unwrap()).inbox(inbox);
    /// let workers = hooks.workers().concurrency(8); // spawn `workers.run()` next to the server
    /// # Ok::<(), actix_webhook::inbox::InboxError>(())
    /// ```
    #[cfg(feature = "inbox")]
    #[cfg_attr(docsrs, doc(cfg(any(feature = "sqlite", feature = "redis"))))]
    #[must_use]
    pub fn inbox(self, inbox: crate::inbox::Inbox) -> Self {
        self.with(|inner| inner.inbox = Some(inbox))
    }

    /// The workers that run this router's handlers on the deliveries in its
    /// [inbox](Self::inbox); spawn their [`run`](crate::inbox::Workers::run)
    /// next to the server.
    ///
    /// # Panics
    ///
    /// When the router has no inbox.
    #[cfg(feature = "inbox")]
    #[cfg_attr(docsrs, doc(cfg(any(feature = "sqlite", feature = "redis"))))]
    pub fn workers(&self) -> crate::inbox::Workers {
        let inbox = self
            .inner
            .inbox
            .clone()
            .expect("WebhookRouter::workers needs an inbox: call .inbox(..) first");
        crate::inbox::Workers::new(Box::new(self.clone()), inbox)
    }

    /// A scope at `path` answering deliveries, for `App::service`.
    pub fn scope(&self, path: &str) -> actix_web::Scope {
        let resource = |pattern: &str| {
            let router = self.clone();
            web::resource(pattern).to(move |req: HttpRequest, body: web::Payload| {
                let router = router.clone();
                async move { router.respond(req, body).await }
            })
        };
        // Two resources, not one with two patterns: actix-web matches a
        // resource of several patterns with a regex set on every request,
        // and one pattern by comparing it.
        web::scope(path)
            .service(resource(""))
            .service(resource("/"))
    }

    /// The same as [`scope`](Self::scope), for `App::configure`.
    pub fn configure(&self, path: &str) -> impl FnOnce(&mut web::ServiceConfig) {
        let scope = self.scope(path);
        move |config| {
            config.service(scope);
        }
    }
}

impl WebhookRouter {
    fn has_inbox(&self) -> bool {
        #[cfg(feature = "inbox")]
        return self.inner.inbox.is_some();
        #[cfg(not(feature = "inbox"))]
        false
    }
}

impl fmt::Debug for WebhookRouter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &*self.inner;
        let mut events: Vec<&str> = inner.routes.exact.keys().map(|k| &**k).collect();
        events.sort_unstable();
        f.debug_struct("WebhookRouter")
            .field("config", &inner.config)
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
            .field("store", &inner.claims.store)
            .field("namespace", &inner.claims.namespace)
            .field("inbox", &self.has_inbox())
            .finish_non_exhaustive()
    }
}
