//! [GitHub](https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries)
//! webhooks.

use std::sync::LazyLock;

use crate::scheme::{
    optional_utf8, pointer, Delivery, Encoding, EventName, EventNameError, Message, Request,
    Scheme, SignError, SignatureHeader, Signer,
};
use crate::secret::{Secret, SecretError, Secrets};
use crate::verify::VerifyError;

const SIGNATURE: &str = "X-Hub-Signature-256";
const DELIVERY: &str = "X-GitHub-Delivery";
const EVENT: &str = "X-GitHub-Event";

/// `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>`, which Meta
/// sends too.
pub(crate) const HUB_SIGNATURE: SignatureHeader =
    SignatureHeader::prefixed(SIGNATURE, "sha256=", Encoding::Hex);

/// `X-GitHub-Event`, then `.` and the body's `action` when it has one.
static EVENT_NAME: LazyLock<EventName> =
    LazyLock::new(|| EventName::HeaderAndJson(EVENT, pointer::constant("/action")));

/// GitHub's webhook scheme ([docs](https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries)).
///
/// Reads the headers `X-Hub-Signature-256` (`sha256=<hex HMAC-SHA256 of the
/// body>`, keyed with the webhook secret as given), `X-GitHub-Delivery` (the
/// delivery id, the same on redelivery) and `X-GitHub-Event`. The legacy
/// SHA-1 `X-Hub-Signature` is ignored. GitHub signs no timestamp, so there is
/// no replay window: handling each delivery id once is the defence.
///
/// The event name is `X-GitHub-Event`, followed by `.` and the body's
/// `action` when it has one: `issues.opened`, `pull_request.closed`, `push`.
///
/// ```
/// use actix_webhook::scheme::{GitHub, Request, Scheme};
/// use actix_webhook::{Secret, Secrets};
///
/// let scheme = GitHub::new("It's a Secret to Everybody")?;
/// // GitHub's own example (docs.github.com, "Validating webhook deliveries").
/// let headers = [
///     ("X-Hub-Signature-256", "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"),
///     ("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958"),
///     ("X-GitHub-Event", "ping"),
/// ];
/// let request = Request::new("POST", "/github", &headers, b"Hello, World!");
/// let delivery = scheme.verify(&request, scheme.secrets(), 0)?;
/// assert_eq!(delivery.id.as_deref(), Some("72d3162e-cc78-11e3-81ab-4c9367dc0958"));
///
/// // During a rotation, accept both secrets.
/// let rotating = GitHub::with_secrets(Secrets::new([Secret::new("new")?, Secret::new("old")?])?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct GitHub {
    secrets: Secrets,
}

impl GitHub {
    /// The scheme with one webhook secret.
    ///
    /// # Errors
    ///
    /// [`SecretError::Empty`] for an empty secret.
    pub fn new(secret: &str) -> Result<Self, SecretError> {
        Ok(Self::with_secrets(Secret::new(secret)?))
    }

    /// The scheme with several secrets, newest first.
    pub fn with_secrets(secrets: impl Into<Secrets>) -> Self {
        Self {
            secrets: secrets.into(),
        }
    }

    /// The `X-Hub-Signature-256` value for `body`, signed with the first
    /// secret: `sha256=<hex>`.
    #[must_use]
    pub fn signature(&self, body: &[u8]) -> String {
        HUB_SIGNATURE.sign_hmac_sha256(&self.secrets, [body])
    }
}

impl Scheme for GitHub {
    fn name(&self) -> &'static str {
        "github"
    }

    fn secrets(&self) -> &Secrets {
        &self.secrets
    }

    fn verify(
        &self,
        request: &Request<'_>,
        secrets: &Secrets,
        _now: i64,
    ) -> Result<Delivery, VerifyError> {
        let secret = HUB_SIGNATURE.check_hmac_sha256(request, secrets, [request.body()])?;
        // The delivery id is not signed: a repeat is recognised by its body.
        let id = optional_utf8(request, DELIVERY)?;
        Ok(Delivery::new(id, None)
            .fingerprint_of([request.body()])
            .verified_by(secret))
    }

    fn event_name(&self, request: &Request<'_>) -> Result<Option<String>, EventNameError> {
        EVENT_NAME.find(request)
    }
}

impl Signer for GitHub {
    /// `X-Hub-Signature-256`, `X-GitHub-Delivery` (the id) and
    /// `X-GitHub-Event`: the part of the event name before its first `.`, the
    /// rest being the body's `action`.
    fn sign(&self, message: &Message<'_>) -> Vec<(String, String)> {
        let event = EVENT_NAME
            .header_to_send(message.event)
            .map_or(message.event, |(_, value)| value);
        vec![
            (SIGNATURE.into(), self.signature(message.body)),
            (DELIVERY.into(), message.id.into()),
            (EVENT.into(), event.into()),
        ]
    }

    /// GitHub always sends `X-GitHub-Event`, so the message needs an event
    /// name: `push`, `issues`, or `issues.opened` when the body's `action`
    /// is `opened` (the action is read from the body, so a name whose part
    /// after the `.` differs from it would be routed as another event).
    fn check(&self, message: &Message<'_>) -> Result<(), SignError> {
        EVENT_NAME.check_message(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheme::hmac_sha256;
    use crate::scheme::test_support::assert_refuses_absurd_headers;
    use crate::secret::Secret;

    // GitHub's published example (docs.github.com/en/webhooks/using-webhooks/
    // validating-webhook-deliveries, "Testing the webhook payload validation"):
    const SECRET: &str = "It's a Secret to Everybody";
    const BODY: &[u8] = b"Hello, World!";
    const SIGNATURE_VALUE: &str =
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

    fn check(
        scheme: &GitHub,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<Delivery, VerifyError> {
        crate::scheme::test_support::verify(scheme, headers, body, 0)
    }

    fn headers(signature: &str) -> Vec<(String, String)> {
        vec![
            (SIGNATURE.into(), signature.into()),
            (DELIVERY.into(), "d-1".into()),
            (EVENT.into(), "issues".into()),
        ]
    }

    #[test]
    fn published_example_verifies() {
        let scheme = GitHub::new(SECRET).unwrap();
        assert_eq!(scheme.signature(BODY), SIGNATURE_VALUE);
        let delivery = check(&scheme, &headers(SIGNATURE_VALUE), BODY).unwrap();
        assert_eq!(
            delivery,
            Delivery::new(Some("d-1".into()), None)
                .fingerprint_of([BODY])
                .verified_by(0)
        );
        // Upper-case hex is the same signature.
        let upper = format!("sha256={}", SIGNATURE_VALUE[7..].to_uppercase());
        assert!(check(&scheme, &headers(&upper), BODY).is_ok());
    }

    #[test]
    fn round_trip_and_event_name() {
        let scheme = GitHub::new("s3cret").unwrap();
        let body = br#"{"action":"opened","issue":{}}"#;
        let signed = scheme.sign(&Message {
            id: "d-2",
            timestamp: 0,
            event: "issues.opened",
            url: "",
            body,
        });
        let request = Request::new("POST", "/", &signed, body);
        assert_eq!(
            scheme
                .verify(&request, scheme.secrets(), 0)
                .unwrap()
                .id
                .as_deref(),
            Some("d-2")
        );
        assert_eq!(
            scheme.event_name(&request).unwrap().as_deref(),
            Some("issues.opened")
        );
        let push = [(EVENT, "push")];
        let request = Request::new("POST", "/", &push, br#"{"ref":"refs/heads/main"}"#);
        assert_eq!(
            scheme.event_name(&request).unwrap().as_deref(),
            Some("push")
        );
    }

    #[test]
    fn tampering_is_rejected() {
        let scheme = GitHub::new(SECRET).unwrap();
        assert_eq!(
            check(&scheme, &headers(SIGNATURE_VALUE), b"Hello, World?"),
            Err(VerifyError::InvalidSignature)
        );
        let flipped = SIGNATURE_VALUE.replace("757107", "757108");
        assert_eq!(
            check(&scheme, &headers(&flipped), BODY),
            Err(VerifyError::InvalidSignature)
        );
        let wrong_key = GitHub::new("It's a Secret to Everybody!").unwrap();
        assert_eq!(
            check(&wrong_key, &headers(SIGNATURE_VALUE), BODY),
            Err(VerifyError::InvalidSignature)
        );
        for malformed in [
            &SIGNATURE_VALUE[7..],
            "sha256=",
            "sha1=abcd",
            "sha256=xyz",
            "SHA256=ab",
        ] {
            assert_eq!(
                check(&scheme, &headers(malformed), BODY),
                Err(VerifyError::malformed(SIGNATURE)),
                "{malformed}"
            );
        }
        let no_signature = vec![(DELIVERY.to_owned(), "d".to_owned())];
        assert_eq!(
            check(&scheme, &no_signature, BODY),
            Err(VerifyError::missing(SIGNATURE))
        );
    }

    #[test]
    fn several_secrets_are_accepted() {
        let scheme = GitHub::with_secrets(
            Secrets::new([Secret::new("newer").unwrap(), Secret::new(SECRET).unwrap()]).unwrap(),
        );
        assert!(check(&scheme, &headers(SIGNATURE_VALUE), BODY).is_ok());
        let newer = GitHub::new("newer").unwrap().signature(BODY);
        assert!(check(&scheme, &headers(&newer), BODY).is_ok());
        let other = GitHub::new("other").unwrap().signature(BODY);
        assert_eq!(
            check(&scheme, &headers(&other), BODY),
            Err(VerifyError::InvalidSignature)
        );
    }

    #[test]
    fn empty_secrets_match_nothing() {
        assert_eq!(GitHub::new("").unwrap_err(), SecretError::Empty);
        let scheme = GitHub::with_secrets(Secret::empty_for_tests());
        let forged = format!("sha256={}", hex::encode(hmac_sha256(b"", [BODY])));
        assert_eq!(
            check(&scheme, &headers(&forged), BODY),
            Err(VerifyError::InvalidSignature)
        );
    }

    #[test]
    fn absurd_headers_are_refused() {
        let scheme = GitHub::new(SECRET).unwrap();
        assert_refuses_absurd_headers(&scheme, &headers(SIGNATURE_VALUE), &[SIGNATURE], BODY, 0);
        // A delivery id that is not UTF-8 is malformed, not a panic.
        let mut bad_id: Vec<(String, Vec<u8>)> = headers(SIGNATURE_VALUE)
            .into_iter()
            .map(|(n, v)| (n, v.into_bytes()))
            .collect();
        bad_id[1].1 = b"\xff".to_vec();
        assert_eq!(
            scheme.verify(
                &Request::new("POST", "/", &bad_id, BODY),
                scheme.secrets(),
                0
            ),
            Err(VerifyError::malformed(DELIVERY))
        );
    }
}
