//! Signing secrets: one [`Secret`], or several at once in [`Secrets`] while a
//! key is being rotated.
//!
//! A secret never shows up in logs: `Debug` prints `[REDACTED]`, there is no
//! `Display`, and the bytes are zeroed when the last copy is dropped.
//!
//! ```
//! use actix_webhook::{Secret, Secrets};
//!
//! // Standard Webhooks / Svix secrets are base64 after a `whsec_` prefix.
//! let current = Secret::from_standard("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?;
//! // Other providers use the string as it is, e.g. a GitHub webhook secret.
//! let previous = Secret::new("It's a Secret to Everybody")?;
//! assert_eq!(format!("{current:?}"), "Secret([REDACTED])");
//!
//! // During a rotation both are accepted.
//! let both = Secrets::new([current, previous])?;
//! assert_eq!(both.len(), 2);
//! # Ok::<(), actix_webhook::SecretError>(())
//! ```

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use zeroize::Zeroizing;

use crate::scheme::mac::HmacSha256Key;

/// What a secret without a [label](Secret::labeled) is recorded as.
pub(crate) const UNLABELED: &str = "unlabeled";
/// What is recorded when the scheme does not say which secret matched.
pub(crate) const UNKNOWN: &str = "(unknown)";

/// The prefix of Standard Webhooks (and Svix) secrets.
const STANDARD_PREFIX: &str = "whsec_";

/// One signing key (or, for ed25519 schemes, one public key), as raw bytes.
///
/// Never empty: anyone can compute a MAC under an empty key, so every way to
/// build a `Secret` refuses one. An environment variable read with
/// `unwrap_or_default()` therefore fails at start-up instead of accepting
/// forgeries.
///
/// Cloning is cheap (the bytes are shared); the bytes are zeroed when the last
/// clone is dropped. `Debug` never prints them.
#[derive(Clone)]
pub struct Secret {
    key: Arc<Key>,
    /// The name it is known by in metrics and logs, e.g. `2026-11`.
    label: Option<Arc<str>>,
}

/// A secret's bytes, and its HMAC-SHA256 key blocks computed once.
struct Key {
    bytes: Zeroizing<Vec<u8>>,
    hmac_sha256: HmacSha256Key,
}

impl Key {
    fn new(bytes: Zeroizing<Vec<u8>>) -> Self {
        Self {
            hmac_sha256: HmacSha256Key::new(&bytes),
            bytes,
        }
    }
}

impl Secret {
    /// A secret used exactly as given, e.g. a GitHub, Stripe, Slack or Shopify
    /// webhook secret: those providers key the HMAC with the string's bytes.
    ///
    /// Note that a Stripe secret (`whsec_...`) is used whole, while a Standard
    /// Webhooks secret with the same prefix must go through
    /// [`Secret::from_standard`].
    ///
    /// # Errors
    ///
    /// [`SecretError::Empty`] when `bytes` is empty.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<Self, SecretError> {
        let bytes = Zeroizing::new(bytes.into());
        if bytes.is_empty() {
            return Err(SecretError::Empty);
        }
        Ok(Self {
            key: Arc::new(Key::new(bytes)),
            label: None,
        })
    }

    /// Parses a Standard Webhooks / Svix secret: base64 after an optional
    /// `whsec_` prefix. The key is the decoded bytes.
    ///
    /// # Errors
    ///
    /// [`SecretError::Empty`] when nothing follows the prefix,
    /// [`SecretError::InvalidBase64`] when what follows is not base64.
    pub fn from_standard(secret: &str) -> Result<Self, SecretError> {
        let encoded = secret.strip_prefix(STANDARD_PREFIX).unwrap_or(secret);
        if encoded.is_empty() {
            return Err(SecretError::Empty);
        }
        let decoded = Zeroizing::new(
            base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .map_err(|_| SecretError::InvalidBase64)?,
        );
        Self::new(decoded.to_vec())
    }

    /// The same secret under a label, e.g. the month it was made: which
    /// secret verified a delivery is recorded by its label in the tracing
    /// span (`secret`) and, with the `metrics` feature, in
    /// `webhook_secret_matches_total`, so that a rotation can be finished
    /// once the old label stops matching. The label is shown as it is: never
    /// make it from the secret itself.
    ///
    /// ```
    /// use actix_webhook::{Secret, Secrets};
    ///
    /// let rotating = Secrets::new([
    ///     Secret::new("new secret")?.labeled("2026-12"),
    ///     Secret::new("old secret")?.labeled("2026-11"),
    /// ])?;
    /// assert_eq!(rotating.primary().label(), Some("2026-12"));
    /// assert_eq!(format!("{:?}", rotating.primary()), r#"Secret("2026-12", [REDACTED])"#);
    /// # Ok::<(), actix_webhook::SecretError>(())
    /// ```
    #[must_use]
    pub fn labeled(mut self, label: impl Into<Arc<str>>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// The label given with [`labeled`](Self::labeled).
    pub fn label(&self) -> Option<&str> {
        self.label.as_deref()
    }

    /// The secret's bytes, for implementing a [`Scheme`](crate::scheme::Scheme).
    ///
    /// Keep them out of logs, errors and responses.
    pub fn expose(&self) -> &[u8] {
        &self.key.bytes
    }

    /// The HMAC-SHA256 under this secret of `parts`, fed one by one.
    pub(crate) fn hmac_sha256<'a, I>(&self, parts: I) -> [u8; 32]
    where
        I: IntoIterator<Item = &'a [u8]> + Clone,
    {
        self.key.hmac_sha256.mac(&self.key.bytes, parts)
    }

    /// An empty secret, which no public path can build: for checking that
    /// the matching routine refuses one all the same.
    #[cfg(test)]
    pub(crate) fn empty_for_tests() -> Self {
        Self {
            key: Arc::new(Key::new(Zeroizing::default())),
            label: None,
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.label {
            Some(label) => write!(f, "Secret({label:?}, [REDACTED])"),
            None => f.write_str("Secret([REDACTED])"),
        }
    }
}

impl TryFrom<&str> for Secret {
    type Error = SecretError;

    fn try_from(value: &str) -> Result<Self, SecretError> {
        Self::new(value)
    }
}

impl TryFrom<String> for Secret {
    type Error = SecretError;

    fn try_from(value: String) -> Result<Self, SecretError> {
        Self::new(value)
    }
}

impl TryFrom<Vec<u8>> for Secret {
    type Error = SecretError;

    fn try_from(value: Vec<u8>) -> Result<Self, SecretError> {
        Self::new(value)
    }
}

/// One or more secrets that are all accepted, newest first.
///
/// During a rotation a sender may sign with the old or the new key; a delivery
/// matching any of them verifies. Schemes compute the signature for *every*
/// secret and combine the results without branching, so the response time does
/// not reveal which secret matched. Signing uses the first one.
#[derive(Clone)]
pub struct Secrets {
    list: Arc<[Secret]>,
}

impl Secrets {
    /// A set from one or more secrets, newest first.
    ///
    /// # Errors
    ///
    /// [`SecretError::Empty`] when `secrets` yields nothing.
    pub fn new(secrets: impl IntoIterator<Item = Secret>) -> Result<Self, SecretError> {
        let list: Arc<[Secret]> = secrets.into_iter().collect();
        if list.is_empty() {
            return Err(SecretError::Empty);
        }
        Ok(Self { list })
    }

    /// The label of the secret at `index` (as a scheme reports it in
    /// [`Delivery::secret`](crate::scheme::Delivery::secret)): its label,
    /// [`UNLABELED`], or [`UNKNOWN`] when the scheme did not say.
    pub(crate) fn label_of(&self, index: Option<usize>) -> &str {
        match index.and_then(|index| self.list.get(index)) {
            Some(secret) => secret.label().unwrap_or(UNLABELED),
            None => UNKNOWN,
        }
    }

    /// The secrets, newest first.
    pub fn iter(&self) -> std::slice::Iter<'_, Secret> {
        self.list.iter()
    }

    /// The secret used to sign: the first one.
    pub fn primary(&self) -> &Secret {
        // `new` refuses an empty list, and `From<Secret>` holds one.
        &self.list[0]
    }

    /// How many secrets are accepted.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Always false: a set holds at least one secret.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

impl From<Secret> for Secrets {
    fn from(secret: Secret) -> Self {
        Self {
            list: Arc::from([secret]),
        }
    }
}

impl<'a> IntoIterator for &'a Secrets {
    type Item = &'a Secret;
    type IntoIter = std::slice::Iter<'a, Secret>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secrets([REDACTED; {}])", self.list.len())
    }
}

/// Why a secret could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    /// The secret has no bytes (anyone could sign with it), or a set has no
    /// secret.
    #[error("the secret is empty")]
    Empty,
    /// A Standard Webhooks secret is not base64 after its `whsec_` prefix.
    #[error("the secret is not valid base64 after its `whsec_` prefix")]
    InvalidBase64,
    /// A key has the wrong length or form for its algorithm (ed25519 keys).
    #[error("the key is not a valid {0} key")]
    InvalidKey(&'static str),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_secret_decodes_base64_after_prefix() {
        let s = Secret::from_standard("whsec_aGVsbG8=").unwrap();
        assert_eq!(s.expose(), b"hello");
        let bare = Secret::from_standard("aGVsbG8=").unwrap();
        assert_eq!(bare.expose(), b"hello");
    }

    #[test]
    fn standard_secret_rejects_bad_input() {
        assert_eq!(
            Secret::from_standard("whsec_").unwrap_err(),
            SecretError::Empty
        );
        assert_eq!(
            Secret::from_standard("whsec_!!notbase64").unwrap_err(),
            SecretError::InvalidBase64
        );
    }

    #[test]
    fn debug_redacts() {
        let s = Secret::new("hunter2-very-secret").unwrap();
        let set = Secrets::new([s.clone(), Secret::new("other").unwrap()]).unwrap();
        assert!(!format!("{s:?}{set:?}").contains("hunter2"));
        assert_eq!(format!("{set:?}"), "Secrets([REDACTED; 2])");
    }

    #[test]
    fn empty_sets_are_refused() {
        assert_eq!(Secrets::new([]).unwrap_err(), SecretError::Empty);
    }

    #[test]
    fn empty_secrets_cannot_be_built() {
        // Every public path to a `Secret`, hence to a `Secrets`.
        assert_eq!(Secret::new("").unwrap_err(), SecretError::Empty);
        assert_eq!(Secret::new(Vec::new()).unwrap_err(), SecretError::Empty);
        assert_eq!(Secret::try_from("").unwrap_err(), SecretError::Empty);
        assert_eq!(
            Secret::try_from(String::new()).unwrap_err(),
            SecretError::Empty
        );
        assert_eq!(Secret::try_from(vec![]).unwrap_err(), SecretError::Empty);
        assert_eq!(Secret::from_standard("").unwrap_err(), SecretError::Empty);
        assert_eq!(
            Secret::from_standard("whsec_").unwrap_err(),
            SecretError::Empty
        );
        // `whsec_` followed by base64 of nothing.
        assert_eq!(
            Secret::from_standard("whsec_=").unwrap_err(),
            SecretError::InvalidBase64
        );
        assert_eq!(Secret::new([0u8]).unwrap().expose(), [0]);
    }
}
