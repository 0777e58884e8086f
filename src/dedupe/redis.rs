//! [`RedisStore`]: delivery ids claimed in Redis, shared by every replica.

use std::fmt;
use std::time::Duration;

use futures_util::future::BoxFuture;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{RedisError, Script};

use super::{Claim, Store, StoreError, Token};

/// The longest one store operation may take, reconnecting included, before
/// it fails with [`StoreError`] (and the router answers 503).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);

/// How long one command may wait for Redis's answer.
const RESPONSE_TIMEOUT: Duration = Duration::from_millis(500);

/// How long one attempt to open a connection may take.
const CONNECTION_TIMEOUT: Duration = Duration::from_millis(500);

/// Expiry times are capped at 100 years (in milliseconds), well inside what
/// Redis accepts for `PX`.
const MAX_EXPIRY_MS: u64 = 100 * 365 * 24 * 60 * 60 * 1000;

/// The value of a claim in flight is this prefix followed by its token.
const IN_FLIGHT: &str = "inflight:";

/// Claims `KEYS[1]` for `ARGV[2]` ms with `ARGV[1]` (`inflight:<token>`)
/// when it is absent (an expired lease or done marker is absent too).
/// Returns 0 fresh, 1 in flight, 2 done.
const CLAIM: &str = r"
local value = redis.call('GET', KEYS[1])
if not value then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 0
end
if string.sub(value, 1, 4) == 'done' then
  return 2
end
return 1
";

/// Marks `KEYS[1]` done for `ARGV[2]` ms if it still holds `ARGV[1]`.
/// Returns 1 when it did.
const COMPLETE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], 'done', 'PX', ARGV[2])
  return 1
end
return 0
";

/// Deletes `KEYS[1]` if it still holds `ARGV[1]`. Returns 1 when it did.
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
";

/// Delivery ids claimed in Redis, so that several replicas behind a load
/// balancer handle each delivery once between them (feature `redis`).
///
/// The semantics are those of [`MemoryStore`](super::MemoryStore), across
/// processes. Each key is one Redis string:
///
/// - claim: `inflight:<token>` with the lease as its expiry (`PX`), written
///   only if the key is absent, in one atomic script and one round trip. A
///   claim left behind by a crashed replica expires with its lease and can
///   then be taken again.
/// - complete: `done` with the done TTL as its expiry, only if the key still
///   holds the caller's token (checked atomically in a script).
/// - release: the key deleted, under the same check.
///
/// Tokens are 128 random bits from the operating system, so two processes
/// never hold the same one.
///
/// # Fail closed
///
/// When Redis cannot be reached or does not answer within the
/// [timeout](Self::timeout) (1 s by default), every operation returns a
/// [`StoreError`]: the router answers `503 Service Unavailable` with
/// `Retry-After` and does not run the handler, so the sender retries later
/// and nothing is lost or run twice. The connection is re-established on its
/// own: once Redis is back, deliveries are handled again without restarting
/// or rebuilding anything.
///
/// Claims in flight when Redis loses its data (a restart without
/// persistence) are forgotten, as are done markers: configure Redis's
/// persistence for the guarantee you need.
///
/// # Examples
///
/// ```no_run
/// use actix_web::{App, HttpServer};
/// use actix_webhook::dedupe::RedisStore;
/// use actix_webhook::{scheme::StandardWebhooks, WebhookRouter};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let store = RedisStore::connect("redis://127.0.0.1:6379").await?;
/// let hooks = WebhookRouter::new(StandardWebhooks::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?)
///     .store(store);
/// HttpServer::new(move || App::new().service(hooks.scope("/webhooks")))
///     .bind(("0.0.0.0", 8080))?
///     .run()
///     .await?;
/// # Ok(())
/// # }
/// ```
///
/// With a connection of your own (for example to start while Redis is still
/// down, lazily):
///
/// ```no_run
/// use actix_webhook::dedupe::RedisStore;
/// use redis::aio::ConnectionManager;
///
/// # fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let client = redis::Client::open("redis://127.0.0.1:6379")?;
/// let manager = ConnectionManager::new_lazy_with_config(client, RedisStore::connection_config())?;
/// let store = RedisStore::new(manager).prefix("shop-a:");
/// # Ok(())
/// # }
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
#[derive(Clone)]
pub struct RedisStore {
    connection: ConnectionManager,
    prefix: String,
    timeout: Duration,
    scripts: Scripts,
}

#[derive(Clone)]
struct Scripts {
    claim: Script,
    complete: Script,
    release: Script,
}

impl RedisStore {
    /// A store on `connection`, with no key prefix and a 1 s timeout.
    ///
    /// Build the manager with [`connection_config`](Self::connection_config)
    /// (or short timeouts of your own): the manager's defaults wait for an
    /// answer forever and retry connecting for several seconds, which the
    /// store's own [timeout](Self::timeout) then cuts short.
    pub fn new(connection: ConnectionManager) -> Self {
        Self {
            connection,
            prefix: String::new(),
            timeout: DEFAULT_TIMEOUT,
            scripts: Scripts {
                claim: Script::new(CLAIM),
                complete: Script::new(COMPLETE),
                release: Script::new(RELEASE),
            },
        }
    }

    /// Connects to the Redis at `url` (`redis://[:password@]host[:port][/db]`,
    /// `rediss://` with TLS features of the `redis` crate) with
    /// [`connection_config`](Self::connection_config).
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the URL is invalid or Redis cannot be reached now.
    /// The message never contains the URL (it may hold a password).
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let client = redis::Client::open(url).map_err(|e| store_error("invalid Redis URL", e))?;
        let connection = ConnectionManager::new_with_config(client, Self::connection_config())
            .await
            .map_err(|e| store_error("cannot connect to Redis", e))?;
        Ok(Self::new(connection))
    }

    /// The connection manager settings [`connect`](Self::connect) uses: an
    /// answer within 500 ms, a connection attempt within 500 ms, and a short
    /// reconnect backoff, so that a dead Redis shows as an error quickly.
    pub fn connection_config() -> ConnectionManagerConfig {
        ConnectionManagerConfig::new()
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_connection_timeout(Some(CONNECTION_TIMEOUT))
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_millis(200))
    }

    /// Put `prefix` before every key (default none), for several
    /// applications sharing one Redis database. The router already
    /// namespaces keys per router (`<namespace>:<delivery id>`).
    #[must_use]
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The longest one operation may take, reconnecting included (default
    /// 1 s); past it the operation fails and the router answers 503.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    /// Runs `script` on `key` with `args`, within the timeout.
    async fn run(&self, script: &Script, key: &str, args: &[&str]) -> Result<i64, StoreError> {
        let mut connection = self.connection.clone();
        let mut invocation = script.key(self.key(key));
        for arg in args {
            invocation.arg(*arg);
        }
        match tokio::time::timeout(self.timeout, invocation.invoke_async(&mut connection)).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(error)) => Err(store_error("Redis command failed", error)),
            Err(elapsed) => Err(StoreError::new(
                format!("Redis did not answer within {:?}", self.timeout),
                Some(Box::new(elapsed)),
            )),
        }
    }

    async fn claim_key(&self, key: &str, lease: Duration) -> Result<Claim, StoreError> {
        let token = new_token()?;
        let value = format!("{IN_FLIGHT}{token}");
        let lease = expiry_ms(lease).to_string();
        let answer = self
            .run(&self.scripts.claim, key, &[&value, &lease])
            .await
            // The script may have run with its answer lost on the way back.
            .map_err(|error| error.with_pending_claim(Token::new(token.clone())))?;
        match answer {
            0 => Ok(Claim::Fresh(Token::new(token))),
            1 => Ok(Claim::InFlight),
            2 => Ok(Claim::Done),
            other => Err(StoreError::new(
                format!("unexpected answer {other} from the claim script"),
                None,
            )),
        }
    }
}

/// A new claim token: 16 bytes from the operating system's random source, in
/// hex. Random rather than pid + time + counter: replicas in containers often
/// share a pid (1) and clocks can step back, while 128 random bits do not
/// collide in practice.
fn new_token() -> Result<String, StoreError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| {
        StoreError::new(
            "no randomness for a claim token",
            Some(Box::new(std::io::Error::other(e.to_string()))),
        )
    })?;
    Ok(hex::encode(bytes))
}

/// A duration as a `PX` argument: at least 1 ms (Redis refuses 0), at most
/// [`MAX_EXPIRY_MS`].
fn expiry_ms(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis())
        .unwrap_or(u64::MAX)
        .clamp(1, MAX_EXPIRY_MS)
}

fn store_error(message: &str, error: RedisError) -> StoreError {
    StoreError::new(message, Some(Box::new(error)))
}

impl Store for RedisStore {
    fn claim<'a>(
        &'a self,
        key: &'a str,
        lease: Duration,
    ) -> BoxFuture<'a, Result<Claim, StoreError>> {
        Box::pin(self.claim_key(key, lease))
    }

    fn complete<'a>(
        &'a self,
        key: &'a str,
        token: &'a Token,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let value = format!("{IN_FLIGHT}{}", token.as_str());
            let ttl = expiry_ms(ttl).to_string();
            self.run(&self.scripts.complete, key, &[&value, &ttl])
                .await
                .map(drop)
        })
    }

    fn release<'a>(
        &'a self,
        key: &'a str,
        token: &'a Token,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let value = format!("{IN_FLIGHT}{}", token.as_str());
            self.run(&self.scripts.release, key, &[&value])
                .await
                .map(drop)
        })
    }
}

impl fmt::Debug for RedisStore {
    // The connection is left out: its address may carry a password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_is_clamped() {
        assert_eq!(expiry_ms(Duration::ZERO), 1);
        assert_eq!(expiry_ms(Duration::from_micros(10)), 1);
        assert_eq!(expiry_ms(Duration::from_millis(300)), 300);
        assert_eq!(expiry_ms(Duration::MAX), MAX_EXPIRY_MS);
    }

    #[test]
    fn tokens_are_random_hex() {
        let a = new_token().unwrap();
        let b = new_token().unwrap();
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
