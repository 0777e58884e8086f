//! [Standard Webhooks](https://www.standardwebhooks.com/), also what Svix sends.

use crate::scheme::{decode_base64, hmac_sha256, utf8, Delivery, Message, Request, Scheme, Signer};
use crate::secret::{Secret, SecretError, Secrets};
use crate::verify::{parse_timestamp, Tolerance, VerifyError};

const ID: [&str; 2] = ["webhook-id", "svix-id"];
const TIMESTAMP: [&str; 2] = ["webhook-timestamp", "svix-timestamp"];
const SIGNATURE: [&str; 2] = ["webhook-signature", "svix-signature"];

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
#[derive(Debug, Clone)]
pub struct StandardWebhooks {
    secrets: Secrets,
    tolerance: Tolerance,
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
    #[must_use]
    pub fn signature(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        signature(self.secrets.primary(), id, timestamp, body)
    }
}

/// The `webhook-signature` value for `body` under `secret`: `v1,<base64>`.
#[must_use]
pub(crate) fn signature(secret: &Secret, id: &str, timestamp: i64, body: &[u8]) -> String {
    use base64::Engine as _;
    let ts = timestamp.to_string();
    let mac = hmac_sha256(
        secret.expose(),
        [id.as_bytes(), b".", ts.as_bytes(), b".", body],
    );
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac)
    )
}

/// The `version,value` entries of a `webhook-signature` value; entries
/// without a comma are skipped.
fn entries(header: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
    header.split(|b| *b == b' ').filter_map(|entry| {
        let comma = entry.iter().position(|b| *b == b',')?;
        Some((&entry[..comma], &entry[comma + 1..]))
    })
}

/// The decoded `v1` signatures of a `webhook-signature` value.
fn v1_signatures(header: &[u8]) -> impl Iterator<Item = Result<Option<[u8; 32]>, ()>> + '_ {
    entries(header)
        .filter(|(version, _)| *version == b"v1")
        .map(|(_, value)| decode_base64::<32>(value))
}

impl Scheme for StandardWebhooks {
    fn name(&self) -> &'static str {
        "standard-webhooks"
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
        // `v1` the value base64. Entries of other versions are skipped.
        let well_formed = entries(signature)
            .any(|(version, value)| version != b"v1" || decode_base64::<32>(value).is_ok());
        if !well_formed {
            return Err(VerifyError::malformed(SIGNATURE[0]));
        }

        self.tolerance.check(timestamp, now)?;

        let mut matched = subtle::Choice::from(0);
        for secret in secrets {
            let expected = hmac_sha256(
                secret.expose(),
                [id.as_bytes(), b".", raw_timestamp, b".", request.body()],
            );
            for candidate in v1_signatures(signature).flatten().flatten() {
                matched |= subtle::ConstantTimeEq::ct_eq(&expected[..], &candidate[..]);
            }
        }
        if bool::from(matched) {
            Ok(Delivery::new(Some(id), Some(timestamp)))
        } else {
            Err(VerifyError::InvalidSignature)
        }
    }
}

impl Signer for StandardWebhooks {
    fn sign(&self, message: &Message<'_>) -> Vec<(String, String)> {
        vec![
            ("webhook-id".into(), message.id.into()),
            ("webhook-timestamp".into(), message.timestamp.to_string()),
            (
                "webhook-signature".into(),
                self.signature(message.id, message.timestamp, message.body),
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The cross-language test vector of the Standard Webhooks reference
    // libraries (standard-webhooks/standard-webhooks, libraries/*/ tests, e.g.
    // javascript/src/index.test.ts and python/standardwebhooks/tests):
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TIMESTAMP: i64 = 1_614_265_330;
    const PAYLOAD: &[u8] = br#"{"test": 2432232314}"#;
    const EXPECTED: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn request<'a>(headers: &'a dyn crate::scheme::Headers, body: &'a [u8]) -> Request<'a> {
        Request::new("POST", "/", headers, body)
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
        assert_eq!(delivery, Delivery::new(Some(ID.into()), Some(TIMESTAMP)));
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
}
