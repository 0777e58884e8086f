//! Per-tenant secrets: an open platform's receiver where each tenant signs
//! with its own secret, chosen per request by a [`Resolver`].
//!
//! ```no_run
//! use std::time::Duration;
//! use actix_web::{App, HttpServer};
//! use actix_webhook::scheme::StandardWebhooks;
//! use actix_webhook::tenant::{ResolveError, Tenants};
//! use actix_webhook::{Secret, Secrets, WebhookRouter};
//!
//! async fn lookup(tenant: String) -> Result<Option<Secrets>, ResolveError> {
//!     // e.g. a database query; `Ok(None)` for an unknown tenant (404).
//!     if tenant != "acme" {
//!         return Ok(None);
//!     }
//!     // An empty secret is an error (500 `not_configured`), never a match.
//!     Ok(Some(Secret::new("acme's secret")?.into()))
//! }
//!
//! # async fn run() -> std::io::Result<()> {
//! let default = StandardWebhooks::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
//! let hooks = WebhookRouter::new(default)
//!     .tenants(Tenants::new("tenant", lookup).cache_for(Duration::from_secs(60)));
//! HttpServer::new(move || App::new().service(hooks.scope("/webhooks/{tenant}")))
//!     .bind(("127.0.0.1", 8080))?
//!     .run()
//!     .await
//! # }
//! ```

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::future::LocalBoxFuture;

use crate::secret::{SecretError, Secrets};

/// How long a resolved tenant is cached by default.
const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(60);

/// Tenants cached at most.
const CACHE_CAPACITY: usize = 1024;

/// The resolver could not answer (database down, ...). The router answers 503
/// with `Retry-After`, so the sender retries; when the cause is a
/// [`SecretError`] (the tenant's stored secret is empty or not valid), it
/// answers 500 `not_configured` instead: the configuration needs fixing.
#[derive(Debug, thiserror::Error)]
#[error("resolving the tenant's secrets failed: {0}")]
pub struct ResolveError(#[source] pub Box<dyn std::error::Error + Send + Sync>);

impl ResolveError {
    /// Wraps any error.
    pub fn new(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self(error.into())
    }

    /// Whether the tenant's secret itself is unusable.
    pub(crate) fn is_bad_secret(&self) -> bool {
        self.0.is::<SecretError>()
    }
}

impl From<SecretError> for ResolveError {
    fn from(error: SecretError) -> Self {
        Self::new(error)
    }
}

/// Chooses the secrets of one tenant: `Ok(None)` for an unknown tenant.
///
/// Implemented for async functions and closures
/// `Fn(String) -> impl Future<Output = Result<Option<Secrets>, ResolveError>>`.
pub trait Resolver: Send + Sync + 'static {
    /// The secrets of `tenant`.
    fn resolve(
        &self,
        tenant: String,
    ) -> LocalBoxFuture<'static, Result<Option<Secrets>, ResolveError>>;
}

impl<F, Fut> Resolver for F
where
    F: Fn(String) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Option<Secrets>, ResolveError>> + 'static,
{
    fn resolve(
        &self,
        tenant: String,
    ) -> LocalBoxFuture<'static, Result<Option<Secrets>, ResolveError>> {
        Box::pin(self(tenant))
    }
}

/// Where the tenant is in the path, how its secrets are found, and how long
/// they are cached. Give it to
/// [`WebhookRouter::tenants`](crate::WebhookRouter::tenants).
///
/// Both known and unknown tenants are cached; a failed lookup is not.
#[derive(Clone)]
pub struct Tenants {
    param: Arc<str>,
    resolver: Arc<dyn Resolver>,
    ttl: Duration,
    cache: Arc<Mutex<Cache>>,
}

/// Answers by tenant, with the instant they go stale.
type Cache = HashMap<String, (Option<Secrets>, Instant)>;

impl Tenants {
    /// Tenants named by the path parameter `param` (as in
    /// `scope("/webhooks/{tenant}")`), resolved by `resolver`.
    pub fn new(param: &str, resolver: impl Resolver) -> Self {
        Self {
            param: param.into(),
            resolver: Arc::new(resolver),
            ttl: DEFAULT_CACHE_TTL,
            cache: Arc::default(),
        }
    }

    /// How long an answer is cached (default 60 s; zero turns caching off).
    #[must_use]
    pub fn cache_for(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// The path parameter naming the tenant.
    pub(crate) fn param(&self) -> &str {
        &self.param
    }

    /// The secrets of `tenant`, from the cache when fresh.
    pub(crate) async fn secrets(&self, tenant: &str) -> Result<Option<Secrets>, ResolveError> {
        let now = Instant::now();
        if let Some((secrets, until)) = self.lock().get(tenant) {
            if *until > now {
                return Ok(secrets.clone());
            }
        }
        let secrets = self.resolver.resolve(tenant.to_owned()).await?;
        if !self.ttl.is_zero() {
            let mut cache = self.lock();
            if cache.len() >= CACHE_CAPACITY {
                cache.retain(|_, (_, until)| *until > now);
                if cache.len() >= CACHE_CAPACITY {
                    cache.clear();
                }
            }
            cache.insert(tenant.to_owned(), (secrets.clone(), now + self.ttl));
        }
        Ok(secrets)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl fmt::Debug for Tenants {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tenants")
            .field("param", &self.param)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}
