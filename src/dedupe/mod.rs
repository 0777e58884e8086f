//! Handling each delivery once: the [`Store`] where delivery ids are claimed,
//! and its in-memory implementation [`MemoryStore`].
//!
//! Before a handler runs, the router claims the delivery (its signed id, or
//! the fingerprint of what was signed and its event name). A fresh claim
//! runs the handler; success marks the id done for a time to live (default
//! 72 hours), so a repeat is answered `duplicate`; failure or a panic releases
//! it, so the sender's retry runs the handler again. A claim is a lease
//! (default 60 s): a claim left behind by a crashed process can be taken again
//! once it runs out.
//!
//! ```
//! use std::time::Duration;
//! use actix_webhook::dedupe::{Claim, MemoryStore, Store};
//!
//! # actix_web::rt::System::new().block_on(async {
//! let store = MemoryStore::new(10_000);
//! let Claim::Fresh(token) = store.claim("orders:msg_1", Duration::from_secs(60)).await? else {
//!     unreachable!("first claim")
//! };
//! assert_eq!(store.claim("orders:msg_1", Duration::from_secs(60)).await?, Claim::InFlight);
//! store.complete("orders:msg_1", &token, Duration::from_secs(3600)).await?;
//! assert_eq!(store.claim("orders:msg_1", Duration::from_secs(60)).await?, Claim::Done);
//! # Ok::<(), actix_webhook::dedupe::StoreError>(())
//! # }).unwrap();
//! ```

use std::fmt;
use std::time::Duration;

use futures_util::future::BoxFuture;

pub(crate) mod claims;
mod memory;
#[cfg(feature = "redis")]
mod redis;

#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use self::redis::RedisStore;
pub(crate) use memory::later;
pub use memory::MemoryStore;

/// How long a claim is held before another process may take it over.
pub(crate) const DEFAULT_LEASE: Duration = Duration::from_secs(60);

/// How long a done delivery id is remembered.
pub(crate) const DEFAULT_DONE_TTL: Duration = Duration::from_secs(72 * 60 * 60); // 72 hours

/// The result of claiming a delivery id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// Nobody holds or finished it: run the handler, then complete or
    /// release with this token.
    Fresh(Token),
    /// Someone is handling it right now (answered 409 with `Retry-After`).
    InFlight,
    /// It was handled before (answered 200 `duplicate`).
    Done,
}

/// Proof of holding a claim: completing or releasing with a stale token
/// (after the lease ran out and someone else claimed) does nothing.
#[derive(Clone)]
pub struct Token(Text);

/// A token's text: a number written in place (what [`MemoryStore`] hands
/// out, without allocating), or any text.
#[derive(Clone)]
enum Text {
    Digits { digits: [u8; 20], len: u8 },
    Any(String),
}

impl Token {
    /// A token from its text.
    pub fn new(text: impl Into<String>) -> Self {
        Self(Text::Any(text.into()))
    }

    /// A token for a number, its decimal digits kept in place.
    pub(crate) fn from_number(mut number: u64) -> Self {
        let mut digits = [0u8; 20];
        let mut start = digits.len();
        loop {
            start -= 1;
            // A digit: below 10.
            digits[start] = b'0' + (number % 10) as u8;
            number /= 10;
            if number == 0 {
                break;
            }
        }
        digits.copy_within(start.., 0);
        Self(Text::Digits {
            digits,
            // At most 20 digits.
            len: (digits.len() - start) as u8,
        })
    }

    /// The token's text.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Text::Digits { digits, len } => {
                std::str::from_utf8(&digits[..usize::from(*len)]).unwrap_or_default()
            }
            Text::Any(text) => text,
        }
    }
}

impl PartialEq for Token {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Token {}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Token({})", self.as_str())
    }
}

/// The store cannot be reached or answered nonsense. The router answers 503
/// with `Retry-After` and does not run the handler.
#[derive(Debug, thiserror::Error)]
#[error("idempotency store unavailable: {message}")]
pub struct StoreError {
    message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
    pending_claim: Option<Token>,
}

impl StoreError {
    /// An error with a message and an optional cause.
    pub fn new(
        message: impl Into<String>,
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self {
            message: message.into(),
            source,
            pending_claim: None,
        }
    }

    /// Says that a failed [`Store::claim`] may have been applied under
    /// `token` all the same (the command went out, its reply was lost). The
    /// router then releases it with that token as soon as the store answers
    /// again: otherwise the sender's retry would get 409 for a whole lease.
    #[must_use]
    pub fn with_pending_claim(mut self, token: Token) -> Self {
        self.pending_claim = Some(token);
        self
    }

    /// The token of a claim that may have been applied, if any.
    pub fn pending_claim(&self) -> Option<&Token> {
        self.pending_claim.as_ref()
    }
}

/// Where delivery ids are claimed. Implement it to keep them elsewhere; the
/// semantics are those of [`MemoryStore`].
///
/// Keys arrive namespaced by the router: `<namespace>:<delivery id>`, with
/// `@<tenant>` after the namespace for per-tenant routers (both escaped, so
/// no two deliveries share a key), and `content-sha256:<hex>` in place of
/// the id for deliveries recognised by what was signed.
pub trait Store: Send + Sync + fmt::Debug + 'static {
    /// Claims `key` for `lease`, unless it is held (and the lease has not run
    /// out) or done.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store cannot be reached, or has no room left.
    /// When the claim may have been applied though its answer was lost,
    /// attach its token with [`StoreError::with_pending_claim`].
    fn claim<'a>(
        &'a self,
        key: &'a str,
        lease: Duration,
    ) -> BoxFuture<'a, Result<Claim, StoreError>>;

    /// Marks `key` done for `ttl`, if `token` still holds the claim.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store cannot be reached.
    fn complete<'a>(
        &'a self,
        key: &'a str,
        token: &'a Token,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Gives `key` up, if `token` still holds the claim, so a retry can claim
    /// it.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store cannot be reached.
    fn release<'a>(
        &'a self,
        key: &'a str,
        token: &'a Token,
    ) -> BoxFuture<'a, Result<(), StoreError>>;
}
