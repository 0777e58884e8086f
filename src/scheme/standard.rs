//! [Standard Webhooks](https://www.standardwebhooks.com/), also what Svix sends.

use std::fmt;

use crate::scheme::{check_mac, decode_base64, utf8, Delivery, Message, Request, Scheme, Signer};
use crate::secret::{Secret, SecretError, Secrets};
use crate::verify::{parse_timestamp, Tolerance, VerifyError};

const ID: [&str; 2] = ["webhook-id", "svix-id"];
const TIMESTAMP: [&str; 2] = ["webhook-timestamp", "svix-timestamp"];
const SIGNATURE: [&str; 2] = ["webhook-signature", "svix-signature"];

/// The headers a scheme signs with: id, timestamp, signature.
type HeaderNames = [&'static str; 3];
/// The Standard Webhooks names.
const STANDARD_HEADERS: HeaderNames = [ID[0], TIMESTAMP[0], SIGNATURE[0]];
/// The names Svix sends (Clerk, Resend).
pub(crate) const SVIX_HEADERS: HeaderNames = [ID[1], TIMESTAMP[1], SIGNATURE[1]];

/// The prefix of Standard Webhooks ed25519 public keys.
#[cfg(feature = "ed25519")]
const PUBLIC_KEY_PREFIX: &str = "whpk_";
/// The prefix of Standard Webhooks ed25519 secret keys.
#[cfg(feature = "ed25519")]
const SECRET_KEY_PREFIX: &str = "whsk_";

/// The [Standard Webhooks](https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md)
/// scheme, which Svix and many open platforms use.
///
/// Reads the headers `webhook-id`, `webhook-timestamp` and `webhook-signature`,
/// or their Svix aliases `svix-id`, `svix-timestamp` and `svix-signature`.
/// The signature header holds space-separated `v1,<base64>` entries; any one
/// matching any secret is enough, and entries of other versions are skipped.
/// The signed content is `id.timestamp.body`, keyed with the base64-decoded
/// part of the `whsec_...` secret. The timestamp must be within 5 minutes
/// (configurable), the delivery id is `webhook-id` and the event name is the
/// body's `type` field.
///
/// ```
/// use std::time::Duration;
/// use actix_webhook::{scheme::StandardWebhooks, verify::Tolerance, Secret, Secrets};
///
/// let scheme = StandardWebhooks::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?
///     .tolerance(Tolerance::new(Duration::from_secs(60)));
///
/// // During a rotation, accept the new and the old secret.
/// let rotating = StandardWebhooks::with_secrets(Secrets::new([
///     Secret::from_standard("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?,
///     Secret::from_standard("whsec_b2xkIHNlY3JldA==")?,
/// ])?);
/// # Ok::<(), actix_webhook::SecretError>(())
/// ```
///
/// # Asymmetric signatures (`v1a`, feature `ed25519`)
///
/// A sender may sign with an ed25519 key pair instead: `v1a,<base64>` entries
/// over the same `id.timestamp.body`, checked against its `whpk_<base64>`
/// public keys. Build the scheme with [`StandardWebhooks::with_public_keys`]
/// (receiver) or [`StandardWebhooks::with_signing_key`] (sender, `whsk_...`).
/// A scheme checks one kind of entry: `v1` with `whsec_` secrets, or `v1a`
/// with public keys; a public key is never used as an HMAC key, since anyone
/// could compute that MAC. Without the feature, `v1a` entries are skipped like
/// any unknown version. A header with more than 2 `v1a` entries (one, two
/// while the sender rotates keys) is `malformed_signature`: each one costs an
/// ed25519 verification over the whole body.
///
#[cfg_attr(
    feature = "ed25519",
    doc = "[`StandardWebhooks::with_public_keys`]: StandardWebhooks::with_public_keys"
)]
#[cfg_attr(
    feature = "ed25519",
    doc = "[`StandardWebhooks::with_signing_key`]: StandardWebhooks::with_signing_key"
)]
#[cfg_attr(
    not(feature = "ed25519"),
    doc = "[`StandardWebhooks::with_public_keys`]: StandardWebhooks#asymmetric-signatures-v1a-feature-ed25519"
)]
#[cfg_attr(
    not(feature = "ed25519"),
    doc = "[`StandardWebhooks::with_signing_key`]: StandardWebhooks#asymmetric-signatures-v1a-feature-ed25519"
)]
#[derive(Clone)]
pub struct StandardWebhooks {
    secrets: Secrets,
    tolerance: Tolerance,
    /// [`Scheme::name`]: `standard-webhooks`, or the preset's wrapping it.
    name: &'static str,
    /// The headers [`Signer::sign`] sends; both kinds are read.
    headers: &'static HeaderNames,
    #[cfg(feature = "ed25519")]
    keys: Keys,
}

/// What a [`StandardWebhooks`] scheme's secrets are.
#[cfg(feature = "ed25519")]
#[derive(Clone)]
enum Keys {
    /// HMAC keys: `v1` entries are checked.
    Hmac,
    /// Ed25519 public keys: `v1a` entries are checked. The signing key, when
    /// the scheme also signs.
    Ed25519(Option<std::sync::Arc<ed25519_dalek::SigningKey>>),
}

impl fmt::Debug for StandardWebhooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("StandardWebhooks");
        debug
            .field("secrets", &self.secrets)
            .field("tolerance", &self.tolerance);
        #[cfg(feature = "ed25519")]
        debug.field(
            "keys",
            &match &self.keys {
                Keys::Hmac => "hmac",
                Keys::Ed25519(None) => "ed25519 public keys",
                Keys::Ed25519(Some(_)) => "ed25519 key pair [REDACTED]",
            },
        );
        debug.finish()
    }
}

impl StandardWebhooks {
    /// The scheme with one `whsec_<base64>` secret.
    ///
    /// # Errors
    ///
    /// As [`Secret::from_standard`].
    pub fn new(secret: &str) -> Result<Self, SecretError> {
        Ok(Self::with_secrets(Secret::from_standard(secret)?))
    }

    /// The scheme with already decoded secrets, newest first.
    pub fn with_secrets(secrets: impl Into<Secrets>) -> Self {
        Self {
            secrets: secrets.into(),
            tolerance: Tolerance::default(),
            name: "standard-webhooks",
            headers: &STANDARD_HEADERS,
            #[cfg(feature = "ed25519")]
            keys: Keys::Hmac,
        }
    }

    /// The same scheme under another name, sending `headers`: for a
    /// provider's preset that wraps it ([`svix_preset!`]).
    pub(crate) fn branded(self, name: &'static str, headers: &'static HeaderNames) -> Self {
        Self {
            name,
            headers,
            ..self
        }
    }

    /// How far the timestamp may be from now (default 5 minutes).
    #[must_use]
    pub fn tolerance(mut self, tolerance: Tolerance) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// The `webhook-signature` value a sender puts on `body`: `v1,<base64>`,
    /// signed with the first secret.
    ///
    /// A scheme built with [`StandardWebhooks::with_signing_key`] (feature
    /// `ed25519`) gives `v1a,<base64>` instead, and one built with only public
    /// keys cannot sign: it gives an empty string.
    ///
    #[cfg_attr(
        feature = "ed25519",
        doc = "[`StandardWebhooks::with_signing_key`]: StandardWebhooks::with_signing_key"
    )]
    #[cfg_attr(
        not(feature = "ed25519"),
        doc = "[`StandardWebhooks::with_signing_key`]: StandardWebhooks#asymmetric-signatures-v1a-feature-ed25519"
    )]
    #[must_use]
    pub fn signature(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        #[cfg(feature = "ed25519")]
        if let Keys::Ed25519(key) = &self.keys {
            return key
                .as_deref()
                .map_or_else(String::new, |key| v1a_signature(key, id, timestamp, body));
        }
        signature(self.secrets.primary(), id, timestamp, body)
    }

    /// The version of the entries this scheme checks.
    fn version(&self) -> &'static [u8] {
        #[cfg(feature = "ed25519")]
        if let Keys::Ed25519(_) = self.keys {
            return b"v1a";
        }
        b"v1"
    }
}

#[cfg(feature = "ed25519")]
#[cfg_attr(docsrs, doc(cfg(feature = "ed25519")))]
impl StandardWebhooks {
    /// A receiver of `v1a` (ed25519) signatures from the sender's
    /// `whpk_<base64>` public keys, newest first.
    ///
    /// Needs the `ed25519` feature.
    ///
    /// ```
    /// use actix_webhook::scheme::StandardWebhooks;
    ///
    /// let scheme = StandardWebhooks::with_public_keys([
    ///     "whpk_11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
    /// ])?;
    /// # Ok::<(), actix_webhook::SecretError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`StandardWebhooks::public_key`], for the first key that fails;
    /// [`SecretError::Empty`] when `keys` is empty.
    #[cfg_attr(docsrs, doc(cfg(feature = "ed25519")))]
    pub fn with_public_keys<K: AsRef<str>>(
        keys: impl IntoIterator<Item = K>,
    ) -> Result<Self, SecretError> {
        let keys = keys
            .into_iter()
            .map(|key| Self::public_key(key.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self::with_public_key_secrets(Secrets::new(keys)?))
    }

    /// A receiver of `v1a` signatures from public keys already parsed with
    /// [`StandardWebhooks::public_key`], e.g. by a per-tenant resolver.
    ///
    /// Needs the `ed25519` feature.
    #[cfg_attr(docsrs, doc(cfg(feature = "ed25519")))]
    pub fn with_public_key_secrets(public_keys: impl Into<Secrets>) -> Self {
        Self {
            keys: Keys::Ed25519(None),
            ..Self::with_secrets(public_keys)
        }
    }

    /// A sender of `v1a` signatures from its `whsk_<base64>` secret key: a
    /// 32-byte seed, or the seed followed by the public key (64 bytes). It
    /// also verifies, with the matching public key.
    ///
    /// Needs the `ed25519` feature.
    ///
    /// ```
    /// use actix_webhook::scheme::{Message, Request, Scheme, Signer, StandardWebhooks};
    ///
    /// let sender = StandardWebhooks::with_signing_key(
    ///     "whsk_nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=",
    /// )?;
    /// let body = br#"{"type":"order_paid"}"#;
    /// let headers = sender.sign(&Message { id: "msg_1", timestamp: 1_700_000_000, event: "", url: "", body });
    /// assert!(headers[2].1.starts_with("v1a,"));
    ///
    /// let receiver = StandardWebhooks::with_public_keys([
    ///     "whpk_11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
    /// ])?;
    /// let request = Request::new("POST", "/", &headers, body);
    /// assert!(receiver.verify(&request, receiver.secrets(), 1_700_000_000).is_ok());
    /// # Ok::<(), actix_webhook::SecretError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`SecretError::Empty`] or [`SecretError::InvalidBase64`] as for
    /// [`Secret::from_standard`]; [`SecretError::InvalidKey`] for another
    /// length or a seed that does not match the public key after it.
    #[cfg_attr(docsrs, doc(cfg(feature = "ed25519")))]
    pub fn with_signing_key(secret_key: &str) -> Result<Self, SecretError> {
        let bytes = zeroize::Zeroizing::new(decode_key(secret_key, SECRET_KEY_PREFIX)?);
        let key = crate::scheme::ed25519::signing_key(&bytes)?;
        let public = Secret::new(key.verifying_key().to_bytes().to_vec())?;
        Ok(Self {
            keys: Keys::Ed25519(Some(std::sync::Arc::new(key))),
            ..Self::with_secrets(public)
        })
    }

    /// Parses a `whpk_<base64>` public key (the prefix is optional) into a
    /// [`Secret`] holding its 32 bytes.
    ///
    /// Needs the `ed25519` feature.
    ///
    /// # Errors
    ///
    /// [`SecretError::Empty`] or [`SecretError::InvalidBase64`] as for
    /// [`Secret::from_standard`]; [`SecretError::InvalidKey`] when it is not
    /// 32 bytes or not a usable ed25519 public key.
    #[cfg_attr(docsrs, doc(cfg(feature = "ed25519")))]
    pub fn public_key(public_key: &str) -> Result<Secret, SecretError> {
        crate::scheme::ed25519::public_key_secret(&decode_key(public_key, PUBLIC_KEY_PREFIX)?)
    }
}

/// The bytes of a `whpk_` / `whsk_` key: base64 after an optional prefix.
#[cfg(feature = "ed25519")]
fn decode_key(key: &str, prefix: &str) -> Result<Vec<u8>, SecretError> {
    use base64::Engine as _;
    let encoded = key.strip_prefix(prefix).unwrap_or(key);
    if encoded.is_empty() {
        return Err(SecretError::Empty);
    }
    base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|_| SecretError::InvalidBase64)
}

/// The `webhook-signature` value for `body` under `secret`: `v1,<base64>`.
#[must_use]
pub(crate) fn signature(secret: &Secret, id: &str, timestamp: i64, body: &[u8]) -> String {
    use base64::Engine as _;
    let ts = timestamp.to_string();
    let mac = secret.hmac_sha256([id.as_bytes(), b".", ts.as_bytes(), b".", body]);
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac)
    )
}

/// The `webhook-signature` value for `body` under an ed25519 `key`:
/// `v1a,<base64>`.
#[cfg(feature = "ed25519")]
fn v1a_signature(key: &ed25519_dalek::SigningKey, id: &str, timestamp: i64, body: &[u8]) -> String {
    use base64::Engine as _;
    let ts = timestamp.to_string();
    let signature =
        crate::scheme::ed25519::sign(key, [id.as_bytes(), b".", ts.as_bytes(), b".", body]);
    format!(
        "v1a,{}",
        base64::engine::general_purpose::STANDARD.encode(signature)
    )
}

/// The `version,value` entries of a `webhook-signature` value; entries
/// without a comma are skipped.
fn entries(header: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> + Clone + '_ {
    // `memchr` looks at a word or more at a time; the value is mostly one
    // base64 signature without a space.
    let mut rest = Some(header);
    std::iter::from_fn(move || loop {
        let current = rest?;
        let entry = match memchr::memchr(b' ', current) {
            Some(space) => {
                rest = Some(&current[space + 1..]);
                &current[..space]
            }
            None => {
                rest = None;
                current
            }
        };
        if let Some(comma) = memchr::memchr(b',', entry) {
            return Some((&entry[..comma], &entry[comma + 1..]));
        }
    })
}

/// The decoded `v1` signatures of a `webhook-signature` value.
fn v1_signatures(header: &[u8]) -> impl Iterator<Item = Result<Option<[u8; 32]>, ()>> + Clone + '_ {
    entries(header)
        .filter(|(version, _)| *version == b"v1")
        .map(|(_, value)| decode_base64::<32>(value))
}

/// Most `v1a` entries one header may carry: senders send one, two while
/// rotating keys. Each costs an ed25519 verification, which hashes the whole
/// body again (SHA-512 over 1 MiB costs about 3.5 HMAC-SHA256 checks of it),
/// so every entry allowed past two multiplies what an unauthenticated
/// request may cost.
#[cfg(feature = "ed25519")]
const MAX_V1A_ENTRIES: usize = 2;

/// The decoded `v1a` signatures of a `webhook-signature` value.
#[cfg(feature = "ed25519")]
fn v1a_signatures(
    header: &[u8],
) -> impl Iterator<Item = Result<Option<[u8; 64]>, ()>> + Clone + '_ {
    entries(header)
        .filter(|(version, _)| *version == b"v1a")
        .map(|(_, value)| decode_base64::<64>(value))
}

/// Whether `value` is a well-formed signature of `version`.
fn decodes(version: &[u8], value: &[u8]) -> bool {
    if version == b"v1a" {
        decode_base64::<64>(value).is_ok()
    } else {
        decode_base64::<32>(value).is_ok()
    }
}

/// `v1` signatures kept from the one pass over the header; a header with
/// more is decoded again for the rest (senders send one, two while rotating).
const KEPT: usize = 4;

/// What one pass over a `webhook-signature` value finds: whether any entry
/// is well-formed (of another version, or of `wanted` and base64), and the
/// decoded 32-byte `v1` signatures, each decoded once.
struct Scan {
    well_formed: bool,
    kept: [[u8; 32]; KEPT],
    /// How many 32-byte `v1` signatures the header holds (may pass `KEPT`).
    count: usize,
}

impl Scan {
    fn new(header: &[u8], wanted: &[u8]) -> Self {
        let mut scan = Self {
            well_formed: false,
            kept: [[0; 32]; KEPT],
            count: 0,
        };
        for (version, value) in entries(header) {
            if version != wanted {
                scan.well_formed = true;
            } else if version == b"v1" {
                if let Ok(candidate) = decode_base64::<32>(value) {
                    scan.well_formed = true;
                    if let Some(candidate) = candidate {
                        if let Some(slot) = scan.kept.get_mut(scan.count) {
                            *slot = candidate;
                        }
                        scan.count += 1;
                    }
                }
            } else if decodes(version, value) {
                scan.well_formed = true;
            }
        }
        scan
    }

    /// The `v1` signatures of `header`: those kept, then the rest decoded
    /// again.
    fn candidates<'h>(&'h self, header: &'h [u8]) -> impl Iterator<Item = [u8; 32]> + Clone + 'h {
        let rest = if self.count > KEPT { usize::MAX } else { 0 };
        self.kept[..self.count.min(KEPT)].iter().copied().chain(
            v1_signatures(header)
                .flatten()
                .flatten()
                .skip(KEPT)
                .take(rest),
        )
    }
}

impl Scheme for StandardWebhooks {
    fn name(&self) -> &'static str {
        self.name
    }

    fn secrets(&self) -> &Secrets {
        &self.secrets
    }

    fn verify(
        &self,
        request: &Request<'_>,
        secrets: &Secrets,
        now: i64,
    ) -> Result<Delivery, VerifyError> {
        let id = request.require_any(&ID)?;
        let raw_timestamp = request.require_any(&TIMESTAMP)?;
        let signature = request.require_any(&SIGNATURE)?;

        let id = utf8(ID[0], id)?;
        let timestamp =
            parse_timestamp(raw_timestamp).ok_or_else(|| VerifyError::malformed(TIMESTAMP[0]))?;

        // At least one entry must be well-formed: `version,value`, and for
        // the version this scheme checks the value base64. Entries of other
        // versions are skipped.
        let scan = Scan::new(signature, self.version());
        if !scan.well_formed {
            return Err(VerifyError::malformed(SIGNATURE[0]));
        }

        self.tolerance.check(timestamp, now)?;

        let signed = [id.as_bytes(), b".", raw_timestamp, b".", request.body()];
        #[cfg(feature = "ed25519")]
        if let Keys::Ed25519(_) = self.keys {
            if v1a_signatures(signature).count() > MAX_V1A_ENTRIES {
                return Err(VerifyError::malformed(SIGNATURE[0]));
            }
            let candidates = v1a_signatures(signature).flatten().flatten();
            return crate::scheme::ed25519::any_key_verifies(secrets, candidates, signed)
                .map(|key| Delivery::new(Some(id), Some(timestamp)).verified_by(key))
                .ok_or(VerifyError::InvalidSignature);
        }
        let secret = check_mac(secrets, scan.candidates(signature), |secret| {
            secret.hmac_sha256(signed)
        })?;
        Ok(Delivery::new(Some(id), Some(timestamp)).verified_by(secret))
    }
}

impl Signer for StandardWebhooks {
    fn sign(&self, message: &Message<'_>) -> Vec<(String, String)> {
        let [id, timestamp, signature_header] = *self.headers;
        let mut headers = vec![
            (id.into(), message.id.into()),
            (timestamp.into(), message.timestamp.to_string()),
        ];
        let signature = self.signature(message.id, message.timestamp, message.body);
        if !signature.is_empty() {
            headers.push((signature_header.into(), signature));
        }
        headers
    }
}

/// Gives `$preset`, a newtype around a [`StandardWebhooks`] named `$name`
/// that sends the `svix-` headers (a provider that signs with Svix: Clerk,
/// Resend), its constructors, and makes it a [`Scheme`] and a [`Signer`] as
/// the scheme it wraps. The preset derives `Debug` (the secrets redact).
macro_rules! svix_preset {
    ($preset:ident, $name:literal) => {
        impl $preset {
            /// The scheme with the endpoint's `whsec_<base64>` signing secret.
            ///
            /// # Errors
            ///
            /// As [`Secret::from_standard`](crate::Secret::from_standard).
            pub fn new(secret: &str) -> Result<Self, $crate::secret::SecretError> {
                Ok(Self::with_secrets($crate::secret::Secret::from_standard(
                    secret,
                )?))
            }

            /// The scheme with secrets already decoded (with
            /// [`Secret::from_standard`](crate::Secret::from_standard)),
            /// newest first: while the signing secret is rotated.
            pub fn with_secrets(secrets: impl Into<$crate::secret::Secrets>) -> Self {
                Self(
                    $crate::scheme::StandardWebhooks::with_secrets(secrets)
                        .branded($name, &$crate::scheme::standard::SVIX_HEADERS),
                )
            }

            /// How far `svix-timestamp` may be from now (default 5 minutes,
            /// as the Svix libraries check).
            #[must_use]
            pub fn tolerance(self, tolerance: $crate::verify::Tolerance) -> Self {
                Self(self.0.tolerance(tolerance))
            }

            /// The `svix-signature` value for `body` with `id` at
            /// `timestamp`: `v1,<base64>`, signed with the first secret.
            #[must_use]
            pub fn signature(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
                self.0.signature(id, timestamp, body)
            }
        }

        $crate::scheme::forward_scheme!([] $preset, |this| this.0);

        impl $crate::scheme::Signer for $preset {
            /// `svix-id`, `svix-timestamp` and `svix-signature`, as the
            /// provider sends them; the event name travels in the body.
            fn sign(&self, message: &$crate::scheme::Message<'_>) -> Vec<(String, String)> {
                self.0.sign(message)
            }
        }
    };
}
pub(crate) use svix_preset;

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    // The cross-language test vector of the Standard Webhooks reference
    // libraries (standard-webhooks/standard-webhooks, libraries/*/ tests, e.g.
    // javascript/src/index.test.ts and python/standardwebhooks/tests):
    pub(crate) const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    pub(crate) const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    pub(crate) const TIMESTAMP: i64 = 1_614_265_330;
    pub(crate) const PAYLOAD: &[u8] = br#"{"test": 2432232314}"#;
    pub(crate) const EXPECTED: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn request<'a>(headers: &'a dyn crate::scheme::Headers, body: &'a [u8]) -> Request<'a> {
        Request::new("POST", "/", headers, body)
    }

    /// The checks every preset wrapping this scheme for a Svix sender
    /// (Clerk, Resend) passes, built with its `new` and `with_secrets`:
    /// the reference vector above verifies under the `svix-` names and
    /// signs `body` (of event `event`) with them, and the scheme keeps
    /// this scheme's refusals.
    pub(crate) mod preset {
        use super::*;
        use crate::scheme::test_support::assert_refuses_absurd_headers;

        const SVIX: [&str; 3] = SVIX_HEADERS;

        fn headers(id: &str, timestamp: i64, signature: &str) -> Vec<(String, String)> {
            vec![
                (SVIX[0].into(), id.into()),
                (SVIX[1].into(), timestamp.to_string()),
                (SVIX[2].into(), signature.into()),
            ]
        }

        pub(crate) fn assert_svix_preset<S: Scheme + Signer>(
            new: fn(&str) -> Result<S, SecretError>,
            with_secrets: fn(Secrets) -> S,
            tolerance: fn(S, Tolerance) -> S,
            name: &str,
            body: &[u8],
            event: &str,
        ) {
            let verify = |scheme: &S, headers: &Vec<(String, String)>, body: &[u8], now| {
                scheme.verify(&request(headers, body), scheme.secrets(), now)
            };
            // The reference vector, under the names Svix sends.
            let scheme = new(SECRET).unwrap();
            assert_eq!(scheme.name(), name);
            assert!(!format!("{scheme:?}").contains("MfKQ9r8"));
            let published = headers(ID, TIMESTAMP, EXPECTED);
            assert_eq!(
                verify(&scheme, &published, PAYLOAD, TIMESTAMP),
                Ok(Delivery::new(Some(ID.into()), Some(TIMESTAMP)).verified_by(0))
            );

            // Signed as the provider does: the `svix-` names.
            let message = Message {
                id: "msg_2",
                timestamp: TIMESTAMP,
                event,
                url: "",
                body,
            };
            let signed = scheme.try_sign(&message).unwrap();
            let names: Vec<&str> = signed.iter().map(|(n, _)| n.as_str()).collect();
            assert_eq!(names, SVIX);
            assert_eq!(
                verify(&scheme, &signed, body, TIMESTAMP + 10),
                Ok(Delivery::new(Some("msg_2".into()), Some(TIMESTAMP)).verified_by(0))
            );
            let request = request(&signed, body);
            assert_eq!(scheme.event_name(&request).unwrap().as_deref(), Some(event));

            // One byte changed anywhere signed.
            let invalid = Err(VerifyError::InvalidSignature);
            let mut tampered = body.to_vec();
            tampered[1] ^= 1;
            assert_eq!(verify(&scheme, &signed, &tampered, TIMESTAMP), invalid);
            let flipped = EXPECTED.replacen("g0hM", "g1hM", 1);
            let sig = headers(ID, TIMESTAMP, &flipped);
            assert_eq!(verify(&scheme, &sig, PAYLOAD, TIMESTAMP), invalid);
            let ts = headers(ID, TIMESTAMP + 1, EXPECTED);
            assert_eq!(verify(&scheme, &ts, PAYLOAD, TIMESTAMP), invalid);
            let id = headers("msg_p5jXN8AQM9LWM0D4loKWxJel", TIMESTAMP, EXPECTED);
            assert_eq!(verify(&scheme, &id, PAYLOAD, TIMESTAMP), invalid);

            // Rotation: the old secret, second, still verifies.
            let rotating = with_secrets(
                Secrets::new([
                    Secret::from_standard("whsec_bmV3IHNpZ25pbmcgc2VjcmV0").unwrap(),
                    Secret::from_standard(SECRET).unwrap(),
                ])
                .unwrap(),
            );
            assert_eq!(
                verify(&rotating, &published, PAYLOAD, TIMESTAMP),
                Ok(Delivery::new(Some(ID.into()), Some(TIMESTAMP)).verified_by(1))
            );

            // Freshness: 5 minutes either way.
            for now in [TIMESTAMP - 301, TIMESTAMP + 301] {
                assert!(matches!(
                    verify(&scheme, &published, PAYLOAD, now),
                    Err(VerifyError::TimestampOutOfTolerance { .. })
                ));
            }
            assert!(verify(&scheme, &published, PAYLOAD, TIMESTAMP + 300).is_ok());
            // A capture replayed later verifies once freshness is relaxed.
            let relaxed = tolerance(
                new(SECRET).unwrap(),
                Tolerance::new(std::time::Duration::from_secs(3600)),
            );
            assert!(verify(&relaxed, &published, PAYLOAD, TIMESTAMP + 3000).is_ok());

            assert_refuses_absurd_headers(&scheme, &published, &SVIX, PAYLOAD, TIMESTAMP);
        }
    }

    #[test]
    fn reference_vector_signs_and_verifies() {
        let scheme = StandardWebhooks::new(SECRET).unwrap();
        assert_eq!(scheme.signature(ID, TIMESTAMP, PAYLOAD), EXPECTED);
        let ts = TIMESTAMP.to_string();
        let headers = [
            ("webhook-id", ID),
            ("webhook-timestamp", ts.as_str()),
            ("webhook-signature", EXPECTED),
        ];
        let delivery = scheme
            .verify(&request(&headers, PAYLOAD), scheme.secrets(), TIMESTAMP)
            .unwrap();
        assert_eq!(
            delivery,
            Delivery::new(Some(ID.into()), Some(TIMESTAMP)).verified_by(0)
        );
    }

    #[test]
    fn several_entries_unknown_versions_and_garbage() {
        let scheme = StandardWebhooks::new(SECRET).unwrap();
        let ts = TIMESTAMP.to_string();
        let verify = |sig: &str| {
            let headers = [
                ("svix-id", ID),
                ("svix-timestamp", ts.as_str()),
                ("svix-signature", sig),
            ];
            scheme.verify(&request(&headers, PAYLOAD), scheme.secrets(), TIMESTAMP)
        };
        let wrong = "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=";
        assert!(verify(&format!("{wrong} v2,abc {EXPECTED}")).is_ok());
        assert!(verify(&format!("v1a,xyz  {EXPECTED}")).is_ok());
        assert!(verify(&format!("v1,!!!! {EXPECTED}")).is_ok());
        assert_eq!(verify(wrong), Err(VerifyError::InvalidSignature));
        assert_eq!(verify("v2,abc"), Err(VerifyError::InvalidSignature));
        assert_eq!(verify("v1,dGVzdA=="), Err(VerifyError::InvalidSignature));
        for malformed in ["", "   ", "v1", "v1,!!!!", "garbage"] {
            assert_eq!(
                verify(malformed),
                Err(VerifyError::malformed("webhook-signature")),
                "{malformed:?}"
            );
        }
    }

    #[test]
    fn rotation_and_tampering() {
        let old = Secret::from_standard("whsec_b2xkIHNlY3JldCBmb3Igcm90YXRpb24=").unwrap();
        let scheme = StandardWebhooks::with_secrets(
            Secrets::new([Secret::from_standard(SECRET).unwrap(), old.clone()]).unwrap(),
        );
        let old_signer = StandardWebhooks::with_secrets(old);
        let message = Message {
            id: ID,
            timestamp: TIMESTAMP,
            event: "",
            url: "",
            body: PAYLOAD,
        };
        for signer in [&scheme, &old_signer] {
            let headers = signer.sign(&message);
            assert!(scheme
                .verify(&request(&headers, PAYLOAD), scheme.secrets(), TIMESTAMP)
                .is_ok());
        }
        let headers = scheme.sign(&message);
        let verify = |headers: &Vec<(String, String)>, body: &[u8]| {
            scheme.verify(&request(headers, body), scheme.secrets(), TIMESTAMP)
        };
        assert_eq!(
            verify(&headers, b"{\"test\": 2432232315}"),
            Err(VerifyError::InvalidSignature)
        );
        let mut id = headers.clone();
        id[0].1 = "msg_other".into();
        assert_eq!(verify(&id, PAYLOAD), Err(VerifyError::InvalidSignature));
        let mut ts = headers.clone();
        ts[1].1 = (TIMESTAMP + 1).to_string();
        assert_eq!(verify(&ts, PAYLOAD), Err(VerifyError::InvalidSignature));
        let mut stale = scheme.sign(&Message {
            timestamp: TIMESTAMP - 301,
            ..message
        });
        assert!(matches!(
            verify(&stale, PAYLOAD),
            Err(VerifyError::TimestampOutOfTolerance { .. })
        ));
        stale[1].1 = "x".into();
        assert_eq!(
            verify(&stale, PAYLOAD),
            Err(VerifyError::malformed("webhook-timestamp"))
        );
        crate::scheme::test_support::assert_refuses_absurd_headers(
            &scheme,
            &headers,
            &["webhook-id", "webhook-timestamp", "webhook-signature"],
            PAYLOAD,
            TIMESTAMP,
        );
    }

    #[test]
    fn v1a_entries_are_skipped_by_an_hmac_scheme() {
        let scheme = StandardWebhooks::new(SECRET).unwrap();
        let ts = TIMESTAMP.to_string();
        let headers = [
            ("webhook-id", ID),
            ("webhook-timestamp", ts.as_str()),
            ("webhook-signature", V1A),
        ];
        assert_eq!(
            scheme.verify(&request(&headers, PAYLOAD), scheme.secrets(), TIMESTAMP),
            Err(VerifyError::InvalidSignature)
        );
    }

    // The Standard Webhooks reference libraries publish no `v1a` vector. This
    // one signs the reference payload above with the RFC 8032 TEST 1 key pair
    // (https://www.rfc-editor.org/rfc/rfc8032#section-7.1), computed with
    // Python's `cryptography` (OpenSSL) as an independent implementation
    // (keys `whsk_`/`whpk_` in the `v1a` module below).
    const V1A: &str = "v1a,fldxM4gAKugP6nnt1hdz3sgGfZ6d99nzrMFnZOELIxbzEHoVmAb2ADpkJK7zgPePmPsle0zV9jSeGlHFG2NVAw==";

    #[cfg(feature = "ed25519")]
    mod v1a {
        use super::*;

        const SECRET_KEY: &str = "whsk_nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=";
        const PUBLIC_KEY: &str = "whpk_11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";

        #[test]
        fn cross_checked_vector_signs_and_verifies() {
            let signer = StandardWebhooks::with_signing_key(SECRET_KEY).unwrap();
            assert_eq!(signer.signature(ID, TIMESTAMP, PAYLOAD), V1A);
            let receiver = StandardWebhooks::with_public_keys([PUBLIC_KEY]).unwrap();
            let ts = TIMESTAMP.to_string();
            for sig in [
                V1A.to_owned(),
                format!("v1,abc {V1A} v2,x"),
                format!("v1a,AAAA {V1A}"),
            ] {
                let headers = [
                    ("webhook-id", ID),
                    ("webhook-timestamp", ts.as_str()),
                    ("webhook-signature", sig.as_str()),
                ];
                let delivery = receiver
                    .verify(&request(&headers, PAYLOAD), receiver.secrets(), TIMESTAMP)
                    .unwrap();
                assert_eq!(
                    delivery,
                    Delivery::new(Some(ID.into()), Some(TIMESTAMP)).verified_by(0)
                );
            }
            assert!(!format!("{signer:?}").contains("nWGx"));
        }

        #[test]
        fn at_most_two_v1a_entries_are_checked() {
            // Each entry costs an ed25519 verification: a header packed with
            // them is refused before any is checked.
            let receiver = StandardWebhooks::with_public_keys([PUBLIC_KEY]).unwrap();
            let junk = "v1a,AAAA";
            let ts = TIMESTAMP.to_string();
            for (junk_entries, expected) in [
                (
                    1,
                    Ok(Delivery::new(Some(ID.into()), Some(TIMESTAMP)).verified_by(0)),
                ),
                (2, Err(VerifyError::malformed("webhook-signature"))),
                (1000, Err(VerifyError::malformed("webhook-signature"))),
            ] {
                let sig = format!("{} {V1A} v1,AAAA", vec![junk; junk_entries].join(" "));
                let headers = [
                    ("webhook-id", ID),
                    ("webhook-timestamp", ts.as_str()),
                    ("webhook-signature", sig.as_str()),
                ];
                assert_eq!(
                    receiver.verify(&request(&headers, PAYLOAD), receiver.secrets(), TIMESTAMP),
                    expected,
                    "{junk_entries} junk entries"
                );
            }
        }

        #[test]
        fn public_keys_never_act_as_hmac_keys() {
            // A `v1` entry made with the public key's bytes as HMAC key is
            // what an attacker could forge: it must not verify.
            let receiver = StandardWebhooks::with_public_keys([PUBLIC_KEY]).unwrap();
            let forged = signature(receiver.secrets().primary(), ID, TIMESTAMP, PAYLOAD);
            let ts = TIMESTAMP.to_string();
            let headers = [
                ("webhook-id", ID),
                ("webhook-timestamp", ts.as_str()),
                ("webhook-signature", forged.as_str()),
            ];
            assert_eq!(
                receiver.verify(&request(&headers, PAYLOAD), receiver.secrets(), TIMESTAMP),
                Err(VerifyError::InvalidSignature)
            );
            // And a receiver without a signing key signs nothing.
            assert_eq!(receiver.signature(ID, TIMESTAMP, PAYLOAD), "");
            let message = Message {
                id: ID,
                timestamp: TIMESTAMP,
                event: "",
                url: "",
                body: PAYLOAD,
            };
            assert_eq!(receiver.sign(&message).len(), 2);
        }

        #[test]
        fn rotation_tampering_and_absurd_values() {
            let old = StandardWebhooks::with_signing_key(
                "whsk_TM0Imyj/ltqdtsNG7BFOD1uKMZ81q6Yk2oz27U+4pvs=",
            )
            .unwrap();
            let new = StandardWebhooks::with_signing_key(SECRET_KEY).unwrap();
            let receiver = StandardWebhooks::with_public_key_secrets(
                Secrets::new([
                    StandardWebhooks::public_key(PUBLIC_KEY).unwrap(),
                    old.secrets().primary().clone(),
                ])
                .unwrap(),
            );
            let stranger = StandardWebhooks::with_signing_key(
                "whsk_xaqN9D+fg3vtt0QvMdy3sWbThTUHbwlLhc46LgtEWPc=",
            )
            .unwrap();
            let message = Message {
                id: ID,
                timestamp: TIMESTAMP,
                event: "",
                url: "",
                body: PAYLOAD,
            };
            let verify = |headers: &Vec<(String, String)>, body: &[u8]| {
                receiver.verify(&request(headers, body), receiver.secrets(), TIMESTAMP)
            };
            assert!(verify(&new.sign(&message), PAYLOAD).is_ok());
            assert!(verify(&old.sign(&message), PAYLOAD).is_ok());
            assert_eq!(
                verify(&stranger.sign(&message), PAYLOAD),
                Err(VerifyError::InvalidSignature)
            );
            let headers = new.sign(&message);
            assert_eq!(verify(&headers, b"{}"), Err(VerifyError::InvalidSignature));
            let mut id = headers.clone();
            id[0].1 = "msg_x".into();
            assert_eq!(verify(&id, PAYLOAD), Err(VerifyError::InvalidSignature));
            let mut ts = headers.clone();
            ts[1].1 = (TIMESTAMP - 1).to_string();
            assert_eq!(verify(&ts, PAYLOAD), Err(VerifyError::InvalidSignature));
            let mut sig = headers.clone();
            sig[2].1 = sig[2].1.replacen('A', "B", 1).replacen("v1a,f", "v1a,g", 1);
            assert_eq!(verify(&sig, PAYLOAD), Err(VerifyError::InvalidSignature));
            let mut bad = headers.clone();
            bad[2].1 = "v1a,!!!!".into();
            assert_eq!(
                verify(&bad, PAYLOAD),
                Err(VerifyError::malformed("webhook-signature"))
            );
            crate::scheme::test_support::assert_refuses_absurd_headers(
                &receiver,
                &headers,
                &["webhook-id", "webhook-timestamp", "webhook-signature"],
                PAYLOAD,
                TIMESTAMP,
            );
        }

        #[test]
        fn bad_keys_are_refused() {
            use crate::secret::SecretError;
            assert_eq!(
                StandardWebhooks::with_public_keys(["whpk_"]).unwrap_err(),
                SecretError::Empty
            );
            assert_eq!(
                StandardWebhooks::with_public_keys(["whpk_!!"]).unwrap_err(),
                SecretError::InvalidBase64
            );
            assert!(matches!(
                StandardWebhooks::with_public_keys(["whpk_aGVsbG8="]).unwrap_err(),
                SecretError::InvalidKey(_)
            ));
            assert_eq!(
                StandardWebhooks::with_public_keys(Vec::<&str>::new()).unwrap_err(),
                SecretError::Empty
            );
            assert!(matches!(
                StandardWebhooks::with_signing_key("whsk_aGVsbG8=").unwrap_err(),
                SecretError::InvalidKey(_)
            ));
        }
    }
}
