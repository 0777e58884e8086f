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

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::future::LocalBoxFuture;

use crate::dedupe::later;
use crate::secret::{SecretError, Secrets};

/// How long a resolved tenant is cached by default.
const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(60);

/// Known tenants cached at most.
const KNOWN_CAPACITY: usize = 10_000;

/// Unknown tenant names cached at most.
const UNKNOWN_CAPACITY: usize = 1_024;

/// Longest unknown name cached, in bytes: names come from the path, and a
/// cache of long made-up names would hold megabytes.
const MAX_CACHED_UNKNOWN_NAME: usize = 128;

/// Lookups running at once by default, for all workers together.
const DEFAULT_MAX_LOOKUPS: usize = 64;

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

    /// Whether the lookup was not tried: `max_lookups` were running.
    pub(crate) fn is_busy(&self) -> bool {
        self.0.is::<Busy>()
    }
}

/// Every lookup slot is taken ([`Tenants::max_lookups`]).
#[derive(Debug, thiserror::Error)]
#[error("too many tenant lookups at once")]
struct Busy;

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
/// The resolver's answers are cached for [`cache_for`](Self::cache_for)
/// (default 60 s), known and unknown tenants apart, so that made-up names
/// cannot push known tenants out:
///
/// - known tenants (`Ok(Some(_))`): up to 10,000, the oldest answer out
///   first. Only the resolver adds to them, never a sender.
/// - unknown tenants (`Ok(None)`, answered 404 `unknown_tenant`): up to
///   1,024 names of at most 128 bytes, the oldest out first. A repeat of a
///   recent unknown name costs no lookup.
/// - a failed lookup (`Err`, answered 503) is not cached.
///
/// A name not in the cache costs one lookup; at most
/// [`max_lookups`](Self::max_lookups) (default 64) run at once, for all
/// workers together. Past that, a delivery for a tenant not in the cache is
/// answered 503 `unavailable` with `Retry-After` without a lookup, so a flood
/// of made-up names loads the resolver with at most that many lookups at a
/// time, while cached tenants are served as usual: a known tenant whose
/// answer went stale keeps it until a lookup is free.
///
/// Cloning is cheap and clones share the cache.
#[derive(Clone)]
pub struct Tenants {
    param: Arc<str>,
    resolver: Arc<dyn Resolver>,
    ttl: Duration,
    max_lookups: usize,
    in_flight: Arc<AtomicUsize>,
    cache: Arc<Mutex<Cache>>,
}

/// The resolver's answers, known and unknown tenants apart.
struct Cache {
    known: Answers<Secrets>,
    unknown: Answers<()>,
}

impl Default for Cache {
    fn default() -> Self {
        Self {
            known: Answers::new(KNOWN_CAPACITY),
            unknown: Answers::new(UNKNOWN_CAPACITY),
        }
    }
}

/// Answers by tenant name with the instant they go stale; past `capacity`,
/// the oldest answer is pushed out.
struct Answers<V> {
    capacity: usize,
    entries: HashMap<String, Answer<V>>,
    /// Names in the order they were answered, with the answer's generation:
    /// a record whose answer was since replaced or removed is skipped.
    order: VecDeque<(String, u64)>,
    generation: u64,
}

struct Answer<V> {
    value: V,
    until: Instant,
    generation: u64,
}

impl<V> Answers<V> {
    fn new(capacity: usize) -> Self {
        Self {
            capacity,
            entries: HashMap::new(),
            order: VecDeque::new(),
            generation: 0,
        }
    }

    /// The answer for `name` while it is fresh.
    /// The answer for `name`, fresh or not.
    fn get(&self, name: &str) -> Option<&V> {
        self.entries.get(name).map(|answer| &answer.value)
    }

    fn fresh(&self, name: &str, now: Instant) -> Option<&V> {
        self.entries
            .get(name)
            .filter(|answer| answer.until > now)
            .map(|answer| &answer.value)
    }

    fn insert(&mut self, name: &str, value: V, until: Instant) {
        self.generation = self.generation.wrapping_add(1);
        let generation = self.generation;
        if let Some(answer) = self.entries.get_mut(name) {
            *answer = Answer {
                value,
                until,
                generation,
            };
        } else {
            while self.entries.len() >= self.capacity {
                let Some((oldest, generation)) = self.order.pop_front() else {
                    break;
                };
                if self.entries.get(&oldest).map(|a| a.generation) == Some(generation) {
                    self.entries.remove(&oldest);
                }
            }
            self.entries.insert(
                name.to_owned(),
                Answer {
                    value,
                    until,
                    generation,
                },
            );
        }
        self.order.push_back((name.to_owned(), generation));
        // Answers replaced or removed leave records behind: drop them before
        // the order grows past twice the cache.
        if self.order.len() > self.capacity.saturating_mul(2) {
            let entries = &self.entries;
            self.order.retain(|(name, generation)| {
                entries.get(name).map(|a| a.generation) == Some(*generation)
            });
        }
    }

    fn remove(&mut self, name: &str) {
        self.entries.remove(name);
    }
}

/// A lookup running: counted in `in_flight` until dropped, also when the
/// request is abandoned mid-lookup.
struct Lookup<'a>(&'a AtomicUsize);

impl Drop for Lookup<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Tenants {
    /// Tenants named by the path parameter `param` (as in
    /// `scope("/webhooks/{tenant}")`), resolved by `resolver`.
    pub fn new(param: &str, resolver: impl Resolver) -> Self {
        Self {
            param: param.into(),
            resolver: Arc::new(resolver),
            ttl: DEFAULT_CACHE_TTL,
            max_lookups: DEFAULT_MAX_LOOKUPS,
            in_flight: Arc::default(),
            cache: Arc::default(),
        }
    }

    /// How long an answer is cached (default 60 s; zero turns caching off;
    /// `Duration::MAX` keeps answers until pushed out).
    #[must_use]
    pub fn cache_for(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// How many lookups may run at once, for all workers together (default
    /// 64, at least 1). A delivery for a tenant not in the cache while that
    /// many run is answered 503 `unavailable` with `Retry-After`.
    #[must_use]
    pub fn max_lookups(mut self, lookups: usize) -> Self {
        self.max_lookups = lookups.max(1);
        self
    }

    /// The path parameter naming the tenant.
    pub(crate) fn param(&self) -> &str {
        &self.param
    }

    /// The secrets of `tenant`, from the cache when fresh.
    pub(crate) async fn secrets(&self, tenant: &str) -> Result<Option<Secrets>, ResolveError> {
        let now = Instant::now();
        {
            let cache = self.lock();
            if let Some(secrets) = cache.known.fresh(tenant, now) {
                return Ok(Some(secrets.clone()));
            }
            if cache.unknown.fresh(tenant, now).is_some() {
                return Ok(None);
            }
        }
        let Some(_lookup) = self.start_lookup() else {
            // A known tenant whose answer went stale keeps it while lookups
            // are all taken (a flood of made-up names must not starve it).
            if let Some(stale) = self.lock().known.get(tenant) {
                return Ok(Some(stale.clone()));
            }
            return Err(ResolveError::new(Busy));
        };
        let secrets = self.resolver.resolve(tenant.to_owned()).await?;
        if !self.ttl.is_zero() {
            // Saturates: `Duration::MAX` must not overflow the instant.
            let until = later(now, self.ttl);
            let mut cache = self.lock();
            match &secrets {
                Some(secrets) => {
                    cache.unknown.remove(tenant);
                    cache.known.insert(tenant, secrets.clone(), until);
                }
                None => {
                    cache.known.remove(tenant);
                    if tenant.len() <= MAX_CACHED_UNKNOWN_NAME {
                        cache.unknown.insert(tenant, (), until);
                    }
                }
            }
        }
        Ok(secrets)
    }

    /// Counts a lookup in, unless `max_lookups` already run.
    fn start_lookup(&self) -> Option<Lookup<'_>> {
        self.in_flight
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max_lookups).then_some(n + 1)
            })
            .ok()
            .map(|_| Lookup(&self.in_flight))
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
            .field("max_lookups", &self.max_lookups)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_push_out_the_oldest_and_stay_bounded() {
        let now = Instant::now();
        let later = now + Duration::from_secs(60);
        let mut answers = Answers::new(3);
        for name in ["a", "b", "c"] {
            answers.insert(name, (), later);
        }
        // Refreshing `a` makes it the newest: `b` goes first.
        answers.insert("a", (), later);
        answers.insert("d", (), later);
        assert!(answers.fresh("b", now).is_none());
        for name in ["a", "c", "d"] {
            assert!(answers.fresh(name, now).is_some(), "{name}");
        }
        // Records of removed or refreshed answers are skipped: the oldest
        // live answer goes.
        answers.remove("c");
        answers.insert("e", (), later);
        answers.insert("f", (), later);
        assert_eq!(answers.entries.len(), 3);
        assert!(answers.fresh("a", now).is_none());
        for name in ["d", "e", "f"] {
            assert!(answers.fresh(name, now).is_some(), "{name}");
        }

        // Refreshes do not grow the order past twice the cache.
        for _ in 0..1_000 {
            answers.insert("f", (), later);
            assert!(answers.order.len() <= 2 * 3 + 1);
        }
        assert_eq!(answers.entries.len(), 3);
        assert!(answers.fresh("f", later).is_none(), "stale at `until`");
    }
}
