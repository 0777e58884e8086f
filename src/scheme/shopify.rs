//! [Shopify](https://shopify.dev/docs/apps/build/webhooks/subscribe/https#step-5-verify-the-webhook)
//! webhooks.

use std::sync::LazyLock;

use crate::scheme::{
    first_optional_utf8, Delivery, Encoding, EventName, EventNameError, Message, Request, Scheme,
    SignError, SignatureHeader, Signer,
};
use crate::secret::{Secret, SecretError, Secrets};
use crate::verify::VerifyError;

const SIGNATURE: &str = "X-Shopify-Hmac-Sha256";
const TOPIC: &str = "X-Shopify-Topic";
const EVENT_ID: &str = "X-Shopify-Event-Id";
const WEBHOOK_ID: &str = "X-Shopify-Webhook-Id";

/// The base64 HMAC-SHA256 of the body.
const HMAC: SignatureHeader = SignatureHeader::bare(SIGNATURE, Encoding::Base64);

/// `X-Shopify-Topic`.
static EVENT_NAME: LazyLock<EventName> = LazyLock::new(|| EventName::Header(TOPIC));

/// Shopify's webhook scheme ([docs](https://shopify.dev/docs/apps/build/webhooks/subscribe/https#step-5-verify-the-webhook)).
///
/// Reads the headers `X-Shopify-Hmac-Sha256` (the base64 HMAC-SHA256 of the
/// body, keyed with the app's client secret as given), `X-Shopify-Topic` (the
/// event name, e.g. `orders/create`), and `X-Shopify-Event-Id` for the
/// delivery id, or `X-Shopify-Webhook-Id` from shops that do not send it.
/// Shopify signs no timestamp, so there is no replay window: handling each
/// delivery id once is the defence.
///
/// ```
/// use actix_webhook::scheme::{Request, Scheme, Shopify};
///
/// let scheme = Shopify::new("shpss_client_secret")?;
/// let body = br#"{"id":820982911946154508}"#;
/// let signature = scheme.signature(body);
/// let headers = [
///     ("X-Shopify-Hmac-Sha256", signature.as_str()),
///     ("X-Shopify-Topic", "orders/create"),
///     ("X-Shopify-Event-Id", "98880550-7158-44d4-b7cd-2c97c8a091b5"),
/// ];
/// let request = Request::new("POST", "/shopify", &headers, body);
/// let delivery = scheme.verify(&request, scheme.secrets(), 0)?;
/// assert_eq!(delivery.id.as_deref(), Some("98880550-7158-44d4-b7cd-2c97c8a091b5"));
/// assert_eq!(scheme.event_name(&request)?.as_deref(), Some("orders/create"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Shopify {
    secrets: Secrets,
}

impl Shopify {
    /// The scheme with the app's client secret.
    ///
    /// # Errors
    ///
    /// [`SecretError::Empty`] for an empty secret.
    pub fn new(secret: &str) -> Result<Self, SecretError> {
        Ok(Self::with_secrets(Secret::new(secret)?))
    }

    /// The scheme with several secrets, newest first (e.g. while the client
    /// secret is rotated).
    pub fn with_secrets(secrets: impl Into<Secrets>) -> Self {
        Self {
            secrets: secrets.into(),
        }
    }

    /// The `X-Shopify-Hmac-Sha256` value for `body`, signed with the first
    /// secret: base64.
    #[must_use]
    pub fn signature(&self, body: &[u8]) -> String {
        HMAC.sign_hmac_sha256(&self.secrets, [body])
    }
}

impl Scheme for Shopify {
    fn name(&self) -> &'static str {
        "shopify"
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
        let secret = HMAC.check_hmac_sha256(request, secrets, [request.body()])?;
        let id = first_optional_utf8(request, &[EVENT_ID, WEBHOOK_ID])?;
        // The ids are not signed: a repeat is recognised by its body.
        Ok(Delivery::new(id, None)
            .fingerprint_of([request.body()])
            .verified_by(secret))
    }

    fn event_name(&self, request: &Request<'_>) -> Result<Option<String>, EventNameError> {
        EVENT_NAME.find(request)
    }
}

impl Signer for Shopify {
    /// `X-Shopify-Hmac-Sha256`, `X-Shopify-Topic` (the event) and the id as
    /// both `X-Shopify-Event-Id` and `X-Shopify-Webhook-Id`.
    fn sign(&self, message: &Message<'_>) -> Vec<(String, String)> {
        vec![
            (SIGNATURE.into(), self.signature(message.body)),
            (TOPIC.into(), message.event.into()),
            (EVENT_ID.into(), message.id.into()),
            (WEBHOOK_ID.into(), message.id.into()),
        ]
    }

    /// Shopify always sends `X-Shopify-Topic`, so the message needs an
    /// event name, e.g. `orders/create`.
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

    // Shopify publishes no signed example (its docs and shopify-api-js /
    // shopify-api-ruby tests compute signatures at run time). This body and
    // signature were computed with Python's hmac and base64 modules, an
    // independent implementation of the documented algorithm.
    const SECRET: &str = "hush";
    const BODY: &[u8] =
        br#"{"id":820982911946154508,"email":"jon@example.com","total_price":"403.00"}"#;
    const EXPECTED: &str = "U1ccMjH2FYDvXHngNSLFAi0QhStcm696l5sTvIkdLr8=";

    fn headers(signature: &str) -> Vec<(String, String)> {
        vec![
            (SIGNATURE.into(), signature.into()),
            (TOPIC.into(), "orders/create".into()),
            (WEBHOOK_ID.into(), "wh-1".into()),
        ]
    }

    fn verify(
        scheme: &Shopify,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<Delivery, VerifyError> {
        crate::scheme::test_support::verify(scheme, headers, body, 0)
    }

    #[test]
    fn cross_checked_example_verifies() {
        let scheme = Shopify::new(SECRET).unwrap();
        assert_eq!(scheme.signature(BODY), EXPECTED);
        // Without `X-Shopify-Event-Id`, the webhook id is the delivery id.
        assert_eq!(
            verify(&scheme, &headers(EXPECTED), BODY),
            Ok(Delivery::new(Some("wh-1".into()), None)
                .fingerprint_of([BODY])
                .verified_by(0))
        );
        let mut with_event_id = headers(EXPECTED);
        with_event_id.push((EVENT_ID.into(), "ev-1".into()));
        assert_eq!(
            verify(&scheme, &with_event_id, BODY).unwrap().id.as_deref(),
            Some("ev-1")
        );
        // Padding is optional.
        assert!(verify(&scheme, &headers(EXPECTED.trim_end_matches('=')), BODY).is_ok());
    }

    #[test]
    fn round_trip_tampering_rotation_and_absurd_values() {
        let scheme = Shopify::with_secrets(
            Secrets::new([Secret::new("next").unwrap(), Secret::new(SECRET).unwrap()]).unwrap(),
        );
        assert!(verify(&scheme, &headers(EXPECTED), BODY).is_ok());
        let signed = scheme.sign(&Message {
            id: "e-7",
            timestamp: 0,
            event: "products/update",
            url: "",
            body: BODY,
        });
        let request = Request::new("POST", "/", &signed, BODY);
        assert_eq!(
            scheme
                .verify(&request, scheme.secrets(), 0)
                .unwrap()
                .id
                .as_deref(),
            Some("e-7")
        );
        assert_eq!(
            scheme.event_name(&request).unwrap().as_deref(),
            Some("products/update")
        );
        assert_eq!(
            verify(&scheme, &headers(EXPECTED), &BODY[1..]),
            Err(VerifyError::InvalidSignature)
        );
        let flipped = EXPECTED.replacen('U', "V", 1);
        assert_eq!(
            verify(&scheme, &headers(&flipped), BODY),
            Err(VerifyError::InvalidSignature)
        );
        let stranger = Shopify::new("stranger").unwrap().signature(BODY);
        assert_eq!(
            verify(&scheme, &headers(&stranger), BODY),
            Err(VerifyError::InvalidSignature)
        );
        assert_eq!(
            verify(&scheme, &headers("not base64!"), BODY),
            Err(VerifyError::malformed(SIGNATURE))
        );
        // Hex is not Shopify's encoding: it decodes to another length.
        let hex = hex::encode(hmac_sha256(SECRET.as_bytes(), [BODY]));
        assert_eq!(
            verify(&scheme, &headers(&hex), BODY),
            Err(VerifyError::InvalidSignature)
        );
        assert_refuses_absurd_headers(&scheme, &headers(EXPECTED), &[SIGNATURE], BODY, 0);
    }
}
