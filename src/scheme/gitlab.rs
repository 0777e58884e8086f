//! [GitLab](https://docs.gitlab.com/user/project/integrations/webhooks/) webhooks.

use std::sync::LazyLock;

use crate::scheme::{
    first_optional_utf8, token_matches, Delivery, EventName, EventNameError, Header, Message,
    Request, Scheme, SignError, Signer, StandardWebhooks,
};
use crate::secret::{Secret, SecretError, Secrets};
use crate::verify::{Tolerance, VerifyError};

const TOKEN: &str = "X-Gitlab-Token";
const EVENT: &str = "X-Gitlab-Event";
const IDEMPOTENCY_KEY: &str = "Idempotency-Key";
const EVENT_UUID: &str = "X-Gitlab-Event-UUID";
const SIGNATURE: &str = "webhook-signature";

/// `X-Gitlab-Event`.
static EVENT_NAME: LazyLock<EventName> = LazyLock::new(|| EventName::Header(EVENT));

/// How a [`GitLab`] scheme signs, for [`Signer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    /// `X-Gitlab-Token` carries the secret token.
    Token,
    /// Standard Webhooks headers signed with the signing token.
    SigningToken,
}

/// GitLab's webhook scheme ([docs](https://docs.gitlab.com/user/project/integrations/webhooks/)),
/// in both of its forms; a request is checked in the form it carries.
///
/// - **Secret token**: `X-Gitlab-Token` holds the token set on the webhook,
///   in clear. It is compared with every secret in constant time (by
///   SHA-256 digest, so the length does not show either). Nothing is signed
///   and there is no timestamp: use HTTPS, and handle each id once.
/// - **Signing token** (newer GitLab): a `whsec_<base64>` key (32 bytes) with
///   which GitLab signs [Standard Webhooks](StandardWebhooks)-style:
///   `webhook-id`, `webhook-timestamp` and `webhook-signature: v1,<base64>`
///   over `id.timestamp.body`, the timestamp within 5 minutes
///   (configurable). A request carrying `webhook-signature` is checked this
///   way only, even when it also has `X-Gitlab-Token`.
///
/// Both kinds of secret may sit in one [`Secrets`]: `Secret::new(token)` and
/// `Secret::from_standard(signing_token)`. The delivery id is
/// `Idempotency-Key` (the same on retries; for signed requests, the signed
/// `webhook-id`, which equals it), else `X-Gitlab-Event-UUID`. The event name
/// is `X-Gitlab-Event`, e.g. `Push Hook`, `Merge Request Hook`.
///
/// ```
/// use actix_webhook::scheme::GitLab;
/// use actix_webhook::{Secret, Secrets};
///
/// let token = GitLab::new("my-secret-token")?;
/// let signed = GitLab::with_signing_token("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?;
///
/// // Moving from the token to the signing token: accept either.
/// let both = GitLab::with_secrets(Secrets::new([
///     Secret::from_standard("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?,
///     Secret::new("my-secret-token")?,
/// ])?);
/// # Ok::<(), actix_webhook::SecretError>(())
/// ```
#[derive(Debug, Clone)]
pub struct GitLab {
    secrets: Secrets,
    signing: StandardWebhooks,
    tolerance: Tolerance,
    form: Form,
}

impl GitLab {
    /// The scheme with one secret token (`X-Gitlab-Token`).
    ///
    /// # Errors
    ///
    /// [`SecretError::Empty`] for an empty token.
    pub fn new(token: &str) -> Result<Self, SecretError> {
        Ok(Self::with_secrets(Secret::new(token)?))
    }

    /// The scheme with one `whsec_<base64>` signing token; it signs the
    /// Standard Webhooks way.
    ///
    /// # Errors
    ///
    /// As [`Secret::from_standard`].
    pub fn with_signing_token(signing_token: &str) -> Result<Self, SecretError> {
        Ok(Self {
            form: Form::SigningToken,
            ..Self::with_secrets(Secret::from_standard(signing_token)?)
        })
    }

    /// The scheme with several secrets, newest first: tokens as
    /// `Secret::new`, signing tokens as `Secret::from_standard`. It signs with
    /// the first as a secret token.
    pub fn with_secrets(secrets: impl Into<Secrets>) -> Self {
        let secrets = secrets.into();
        let tolerance = Tolerance::default();
        Self {
            signing: StandardWebhooks::with_secrets(secrets.clone()).tolerance(tolerance),
            secrets,
            tolerance,
            form: Form::Token,
        }
    }

    /// How far a signed request's timestamp may be from now (default 5
    /// minutes). Token requests have no timestamp.
    #[must_use]
    pub fn tolerance(mut self, tolerance: Tolerance) -> Self {
        self.tolerance = tolerance;
        self.signing = self.signing.tolerance(tolerance);
        self
    }
}

impl Scheme for GitLab {
    fn name(&self) -> &'static str {
        "gitlab"
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
        if request.header(SIGNATURE) != Header::Absent {
            return self.signing.verify(request, secrets, now);
        }
        let token = request.require(TOKEN)?;
        let secret = token_matches(token, secrets).ok_or(VerifyError::InvalidSignature)?;
        let id = first_optional_utf8(request, &[IDEMPOTENCY_KEY, EVENT_UUID])?;
        // The token signs nothing: a repeat is recognised by its body.
        Ok(Delivery::new(id, None)
            .fingerprint_of([request.body()])
            .verified_by(secret))
    }

    fn event_name(&self, request: &Request<'_>) -> Result<Option<String>, EventNameError> {
        EVENT_NAME.find(request)
    }
}

impl Signer for GitLab {
    /// `X-Gitlab-Event`, `Idempotency-Key` and `X-Gitlab-Event-UUID` (the
    /// id), and either `X-Gitlab-Token` (the first secret, in clear, as GitLab
    /// sends it) or, for a scheme made with [`GitLab::with_signing_token`],
    /// the Standard Webhooks headers.
    fn sign(&self, message: &Message<'_>) -> Vec<(String, String)> {
        let mut headers = match self.form {
            Form::Token => vec![(
                TOKEN.to_owned(),
                String::from_utf8_lossy(self.secrets.primary().expose()).into_owned(),
            )],
            Form::SigningToken => self.signing.sign(message),
        };
        headers.extend([
            (EVENT.to_owned(), message.event.to_owned()),
            (IDEMPOTENCY_KEY.to_owned(), message.id.to_owned()),
            (EVENT_UUID.to_owned(), message.id.to_owned()),
        ]);
        headers
    }

    /// GitLab always sends `X-Gitlab-Event`, so the message needs an event
    /// name, e.g. `Push Hook`.
    fn check(&self, message: &Message<'_>) -> Result<(), SignError> {
        EVENT_NAME.check_message(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheme::test_support::assert_refuses_absurd_headers;
    use crate::scheme::test_support::verify;

    // GitLab's signing token follows Standard Webhooks and is verified with the
    // `standardwebhooks` library (gitlab-org/gitlab merge requests 230944 and
    // 231325: HMAC-SHA256 over `{webhook-id}.{timestamp}.{body}`, `v1,<base64>`,
    // key `whsec_<base64>` of 32 bytes). GitLab publishes no signed example;
    // the Standard Webhooks reference vector (standard-webhooks/standard-webhooks
    // libraries' tests) checks the same code path:
    const SIGNING_TOKEN: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TS: i64 = 1_614_265_330;
    const PAYLOAD: &[u8] = br#"{"test": 2432232314}"#;
    const V1: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn token_headers(token: &str) -> Vec<(String, String)> {
        vec![
            (TOKEN.into(), token.into()),
            (EVENT.into(), "Push Hook".into()),
            (EVENT_UUID.into(), "uuid-1".into()),
        ]
    }

    fn signed_headers(signature: &str) -> Vec<(String, String)> {
        vec![
            ("webhook-id".into(), ID.into()),
            ("webhook-timestamp".into(), TS.to_string()),
            ("webhook-signature".into(), signature.into()),
            (IDEMPOTENCY_KEY.into(), ID.into()),
            (EVENT.into(), "Push Hook".into()),
        ]
    }

    #[test]
    fn token_form() {
        let scheme = GitLab::new("s3cret-token").unwrap();
        let delivery = verify(&scheme, &token_headers("s3cret-token"), b"{}", 0).unwrap();
        assert_eq!(
            delivery,
            Delivery::new(Some("uuid-1".into()), None)
                .fingerprint_of([&b"{}"[..]])
                .verified_by(0)
        );
        let mut with_key = token_headers("s3cret-token");
        with_key.push((IDEMPOTENCY_KEY.into(), "idem-1".into()));
        assert_eq!(
            verify(&scheme, &with_key, b"{}", 0).unwrap().id.as_deref(),
            Some("idem-1")
        );
        for wrong in ["s3cret-tokeN", "s3cret-token ", "", "s3cret"] {
            assert_eq!(
                verify(&scheme, &token_headers(wrong), b"{}", 0),
                Err(VerifyError::InvalidSignature),
                "{wrong:?}"
            );
        }
        let request = Request::new("POST", "/", &with_key, b"{}");
        assert_eq!(
            scheme.event_name(&request).unwrap().as_deref(),
            Some("Push Hook")
        );
        assert_eq!(
            verify(&scheme, &token_headers("x")[1..], b"{}", 0),
            Err(VerifyError::missing(TOKEN))
        );
        assert_refuses_absurd_headers(&scheme, &token_headers("s3cret-token"), &[TOKEN], b"{}", 0);
    }

    #[test]
    fn signing_form_with_the_reference_vector() {
        let scheme = GitLab::with_signing_token(SIGNING_TOKEN).unwrap();
        assert_eq!(
            verify(&scheme, &signed_headers(V1), PAYLOAD, TS),
            Ok(Delivery::new(Some(ID.into()), Some(TS)).verified_by(0))
        );
        let signed = scheme.sign(&Message {
            id: ID,
            timestamp: TS,
            event: "Push Hook",
            url: "",
            body: PAYLOAD,
        });
        assert!(signed.contains(&("webhook-signature".to_owned(), V1.to_owned())));
        assert!(!signed.iter().any(|(n, _)| n == TOKEN));
        assert!(verify(&scheme, &signed, PAYLOAD, TS).is_ok());

        assert_eq!(
            verify(&scheme, &signed_headers(V1), b"{}", TS),
            Err(VerifyError::InvalidSignature)
        );
        let mut id = signed_headers(V1);
        id[0].1 = "msg_other".into();
        assert_eq!(
            verify(&scheme, &id, PAYLOAD, TS),
            Err(VerifyError::InvalidSignature)
        );
        let mut ts = signed_headers(V1);
        ts[1].1 = (TS + 1).to_string();
        assert_eq!(
            verify(&scheme, &ts, PAYLOAD, TS),
            Err(VerifyError::InvalidSignature)
        );
        assert!(matches!(
            verify(&scheme, &signed_headers(V1), PAYLOAD, TS + 301),
            Err(VerifyError::TimestampOutOfTolerance { .. })
        ));
        assert!(scheme
            .clone()
            .tolerance(Tolerance::disabled())
            .verify(
                &Request::new("POST", "/", &signed_headers(V1), PAYLOAD),
                scheme.secrets(),
                0
            )
            .is_ok());
        // A signed request is judged by its signature alone, even with a
        // correct-looking token beside it.
        let mut both = signed_headers("v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=");
        both.push((TOKEN.into(), SIGNING_TOKEN.into()));
        assert_eq!(
            verify(&scheme, &both, PAYLOAD, TS),
            Err(VerifyError::InvalidSignature)
        );
        assert_refuses_absurd_headers(
            &scheme,
            &signed_headers(V1),
            &["webhook-id", "webhook-timestamp", "webhook-signature"],
            PAYLOAD,
            TS,
        );
    }

    #[test]
    fn mixed_secrets_accept_either_form() {
        let scheme = GitLab::with_secrets(
            Secrets::new([
                Secret::from_standard(SIGNING_TOKEN).unwrap(),
                Secret::new("legacy-token").unwrap(),
            ])
            .unwrap(),
        );
        assert!(verify(&scheme, &signed_headers(V1), PAYLOAD, TS).is_ok());
        assert!(verify(&scheme, &token_headers("legacy-token"), PAYLOAD, TS).is_ok());
        assert_eq!(
            verify(&scheme, &token_headers("other"), PAYLOAD, TS),
            Err(VerifyError::InvalidSignature)
        );
        // A token-form signer puts the first secret in the header.
        let token = GitLab::with_secrets(
            Secrets::new([
                Secret::new("new-token").unwrap(),
                Secret::new("legacy-token").unwrap(),
            ])
            .unwrap(),
        );
        let signed = token.sign(&Message {
            id: "u-1",
            timestamp: 0,
            event: "Tag Push Hook",
            url: "",
            body: b"{}",
        });
        assert!(signed.contains(&(TOKEN.to_owned(), "new-token".to_owned())));
        assert_eq!(
            verify(&token, &signed, b"{}", 0).unwrap().id.as_deref(),
            Some("u-1")
        );
        assert!(verify(&token, &token_headers("legacy-token"), b"{}", 0).is_ok());
    }

    #[test]
    fn empty_tokens_match_nothing() {
        assert_eq!(GitLab::new("").unwrap_err(), SecretError::Empty);
        let scheme = GitLab::with_secrets(Secret::empty_for_tests());
        assert_eq!(
            verify(&scheme, &token_headers(""), b"{}", 0),
            Err(VerifyError::InvalidSignature)
        );
    }
}
