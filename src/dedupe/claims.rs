//! The claim lifecycle of one router: the key a delivery is claimed by, the
//! lease, how long a handled delivery is remembered, and settling a claim
//! after its handler ran (retried in the background while the store is
//! unreachable).

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::Instrument as _;

use crate::ids::{id_digest, shown_id, DIGEST_PREFIX, MAX_ID};

use super::{later, Claim, MemoryStore, Store, StoreError, Token, DEFAULT_DONE_TTL, DEFAULT_LEASE};

/// What marks a delivery recognised by the digest of what its sender signed.
const CONTENT_PREFIX: &str = "content-sha256:";

/// Where a router claims deliveries, and for how long.
#[derive(Clone, Debug)]
pub(crate) struct Claims {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) namespace: Arc<str>,
    pub(crate) lease: Duration,
    pub(crate) done_ttl: Duration,
}

impl Default for Claims {
    fn default() -> Self {
        Self {
            store: Arc::new(MemoryStore::default()),
            namespace: "webhook".into(),
            lease: DEFAULT_LEASE,
            done_ttl: DEFAULT_DONE_TTL,
        }
    }
}

/// What claiming a delivery gave.
pub(crate) enum Claimed {
    /// Ours: run the handler, then [settle](Claims::settle) it.
    Fresh(Held),
    /// Someone is handling it now.
    InFlight,
    /// Handled before.
    Done,
    /// The store failed (logged); the claim may be left to retry later.
    Unavailable,
}

/// A claim held while its handler runs.
pub(crate) struct Held {
    key: String,
    token: Token,
    at: Instant,
}

impl Claims {
    /// How a verified delivery of `tenant` is known.
    pub(crate) fn identity(
        &self,
        tenant: Option<String>,
        id: Option<String>,
        fingerprint: Option<[u8; 32]>,
    ) -> Identity {
        let mut identity = Identity::new(&self.namespace, tenant.as_deref(), id, fingerprint);
        identity.tenant = tenant;
        identity
    }

    /// Claims `key` for the lease.
    pub(crate) async fn claim(&self, key: String) -> Claimed {
        let at = Instant::now();
        match self.store.claim(&key, self.lease).await {
            Ok(Claim::Fresh(token)) => Claimed::Fresh(Held { key, token, at }),
            Ok(Claim::InFlight) => Claimed::InFlight,
            Ok(Claim::Done) => Claimed::Done,
            Err(error) => {
                tracing::error!(target: "actix_webhook::store", %error, "claiming a delivery failed");
                store_error("claim");
                if let Some(token) = error.pending_claim() {
                    // Applied with its answer lost, perhaps: give it up as
                    // soon as the store answers, or the sender's retry
                    // would get 409 for a whole lease.
                    self.settle_later(key, token.clone(), None, at);
                }
                Claimed::Unavailable
            }
        }
    }

    /// Marks a held claim done (`handled`) or releases it, so that a handled
    /// delivery is answered `duplicate` and a failed one runs again. When
    /// the store is unreachable it keeps trying in the background until the
    /// lease runs out.
    pub(crate) async fn settle(&self, held: Held, handled: bool) {
        let Held { key, token, at } = held;
        let done_for = handled.then_some(self.done_ttl);
        if let Err(error) = settle(&*self.store, &key, &token, done_for).await {
            // Done, the handler must not run again once the lease runs
            // out; released, the sender's retry must not wait for it.
            tracing::warn!(target: "actix_webhook::store", %error, "settling a claim failed; retrying until the lease runs out");
            store_error("settle");
            self.settle_later(key, token, done_for, at);
        }
    }

    /// Settles a claim made at `claimed_at` in the background, retrying
    /// until its lease runs out (see [`settle_later`]).
    fn settle_later(
        &self,
        key: String,
        token: Token,
        done_for: Option<Duration>,
        claimed_at: Instant,
    ) {
        let deadline = later(claimed_at, self.lease);
        let settle = settle_later(self.store.clone(), key, token, done_for, deadline);
        actix_web::rt::spawn(settle.in_current_span());
    }
}

/// Counts a failed call to the store in the metrics.
fn store_error(operation: &'static str) {
    crate::metrics::store_error(crate::metrics::StoreKind::Dedupe, operation);
}

/// Marks a claim done for `done_for`, or releases it when `None`.
async fn settle(
    store: &dyn Store,
    key: &str,
    token: &Token,
    done_for: Option<Duration>,
) -> Result<(), StoreError> {
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
    while later(Instant::now(), pause) < deadline {
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

/// How a verified delivery is known: the id as sent (for the handler), the
/// id as shown in the answer and logs (bounded: unsigned ids are anyone's
/// to make 100 KB long), what it is claimed by, and the tenant it is for.
pub(crate) struct Identity {
    pub(crate) id: Option<Arc<str>>,
    pub(crate) shown: Option<Arc<str>>,
    pub(crate) key: Option<Key>,
    pub(crate) tenant: Option<String>,
}

/// The store key of a delivery, once its event name is known.
pub(crate) enum Key {
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
            Cow::Borrowed(_) => id.clone(),
            Cow::Owned(digest) => digest.into(),
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
        Self {
            id,
            shown,
            key,
            tenant: None,
        }
    }
}

impl Key {
    /// The key of the delivery routed as `event`.
    pub(crate) fn for_event(self, event: &str) -> String {
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

/// An id as stored: itself, or its digest when it is long or could be
/// taken for a digest. Ids come from requests (GitHub's, Shopify's and
/// Twilio's are not even signed) and the store bounds how many it keeps, not
/// how long they are.
fn stored_id(id: &str) -> Cow<'_, str> {
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
}
