//! [Razorpay](https://razorpay.com/docs/webhooks/validate-test/) webhooks.

use std::sync::LazyLock;

use crate::scheme::{
    optional_utf8, Delivery, Encoding, EventName, EventNameError, Message, Request, Scheme,
    SignatureHeader, Signer,
};
use crate::secret::{Secret, SecretError, Secrets};
use crate::verify::VerifyError;

const SIGNATURE: &str = "X-Razorpay-Signature";
const EVENT_ID: &str = "X-Razorpay-Event-Id";

/// The hex HMAC-SHA256 of the body.
const HMAC: SignatureHeader = SignatureHeader::bare(SIGNATURE, Encoding::Hex);

/// The body's `event`, e.g. `payment.captured`.
static EVENT_NAME: LazyLock<EventName> = LazyLock::new(|| EventName::json_at("/event"));

/// Razorpay's webhook scheme ([docs](https://razorpay.com/docs/webhooks/validate-test/)),
/// following the SDKs' `validateWebhookSignature`.
///
/// Reads the header `X-Razorpay-Signature`: the hex HMAC-SHA256 of the body,
/// keyed with the webhook secret entered when the webhook was set up in the
/// Dashboard (not the API key secret). Razorpay signs no timestamp, so there
/// is no replay window: handling each delivery once is the defence.
///
/// The delivery id is the header `X-Razorpay-Event-Id`, the same on every
/// retry. It is not signed, so the delivery is also
/// [fingerprinted](Delivery::fingerprint) by its body: a captured delivery
/// sent again under fresh ids is still recognised. The event name is the
/// body's `event` (`payment.captured`, `order.paid`, `refund.processed`).
///
/// ```
/// use actix_webhook::scheme::{Razorpay, Request, Scheme};
///
/// let scheme = Razorpay::new("webhook-secret")?;
/// let body = br#"{"entity":"event","event":"payment.captured","payload":{}}"#;
/// let signature = scheme.signature(body);
/// let headers = [
///     ("X-Razorpay-Signature", signature.as_str()),
///     ("X-Razorpay-Event-Id", "NEvPnpBmk4TXHv"),
/// ];
/// let request = Request::new("POST", "/razorpay", &headers, body);
/// let delivery = scheme.verify(&request, scheme.secrets(), 0)?;
/// assert_eq!(delivery.id.as_deref(), Some("NEvPnpBmk4TXHv"));
/// assert_eq!(scheme.event_name(&request)?.as_deref(), Some("payment.captured"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Razorpay {
    secrets: Secrets,
}

impl Razorpay {
    /// The scheme with the webhook secret.
    ///
    /// # Errors
    ///
    /// [`SecretError::Empty`] for an empty secret.
    pub fn new(secret: &str) -> Result<Self, SecretError> {
        Ok(Self::with_secrets(Secret::new(secret)?))
    }

    /// The scheme with several webhook secrets, newest first (e.g. while the
    /// secret is changed in the Dashboard).
    pub fn with_secrets(secrets: impl Into<Secrets>) -> Self {
        Self {
            secrets: secrets.into(),
        }
    }

    /// The `X-Razorpay-Signature` value for `body`, signed with the first
    /// secret: hex.
    #[must_use]
    pub fn signature(&self, body: &[u8]) -> String {
        HMAC.sign_hmac_sha256(&self.secrets, [body])
    }
}

impl Scheme for Razorpay {
    fn name(&self) -> &'static str {
        "razorpay"
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
        let id = optional_utf8(request, EVENT_ID)?;
        // The id is not signed: a repeat is recognised by its body.
        Ok(Delivery::new(id, None)
            .fingerprint_of([request.body()])
            .verified_by(secret))
    }

    /// The body's `event`.
    fn event_name(&self, request: &Request<'_>) -> Result<Option<String>, EventNameError> {
        EVENT_NAME.find(request)
    }
}

impl Signer for Razorpay {
    /// `X-Razorpay-Signature`, and the id, when not empty, as
    /// `X-Razorpay-Event-Id`: the event name travels in the body.
    fn sign(&self, message: &Message<'_>) -> Vec<(String, String)> {
        let mut headers = vec![(SIGNATURE.into(), self.signature(message.body))];
        if !message.id.is_empty() {
            headers.push((EVENT_ID.into(), message.id.into()));
        }
        headers
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheme::test_support::assert_refuses_absurd_headers;

    // razorpay-node's fixed vector (test/utils/razorpay-utils.spec.js,
    // `validateWebhookSignature`, https://github.com/razorpay/razorpay-node).
    const NODE_SECRET: &str = "123456";
    const NODE_BODY: &[u8] = br#"{"a":1,"b":2,"c":{"d":3}}"#;
    const NODE_SIGNATURE: &str = "2fe04e22977002e6c7cb553adab8b460cb9e2a4970d5953cb27a8472752e3bbc";

    // razorpay-python's fixed vector (tests/test_client_utility.py,
    // `test_verify_webhook_signature`, https://github.com/razorpay/razorpay-python):
    // the client's secret "key_secret" (tests/helpers.py) and
    // tests/mocks/fake_payment_authorized_webhook.json, final newline included.
    const PYTHON_SECRET: &str = "key_secret";
    const PYTHON_BODY: &str = r#"{
  "event": "payment.authorized",
  "entity": "event",
  "contains": [
    "payment"
  ],
  "payload": {
    "payment": {
      "entity": {
        "id": "pay_6koWN7bvxujzxM",
        "entity": "payment",
        "amount": 1000000,
        "currency": "INR",
        "status": "captured",
        "order_id": "order_100000000order",
        "international": false,
        "method": "card",
        "amount_refunded": 0,
        "refund_status": null,
        "captured": true,
        "description": "random description",
        "card_id": "card_6koWNAT6LASUqy",
        "bank": null,
        "wallet": null,
        "vpa": null,
        "email": "a@b.com",
        "contact": "+919999999999",
        "notes": {
          "merchant_order_id": "random order id"
        },
        "fee": 23000,
        "service_tax": 3000,
        "error_code": null,
        "error_description": null,
        "created_at": 1479978483
      }
    }
  },
  "created_at": 1400826760
}
"#;
    const PYTHON_SIGNATURE: &str =
        "d60e67fd884556c045e9be7dad57903e33efc7172c17c6e3ef77db42d2b366e9";

    fn headers(signature: &str) -> Vec<(String, String)> {
        vec![
            (SIGNATURE.into(), signature.into()),
            (EVENT_ID.into(), "NEvPnpBmk4TXHv".into()),
        ]
    }

    fn verify(
        scheme: &Razorpay,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<Delivery, VerifyError> {
        crate::scheme::test_support::verify(scheme, headers, body, 0)
    }

    #[test]
    fn sdk_vectors_verify() {
        let node = Razorpay::new(NODE_SECRET).unwrap();
        assert_eq!(node.signature(NODE_BODY), NODE_SIGNATURE);
        assert_eq!(
            verify(&node, &headers(NODE_SIGNATURE), NODE_BODY),
            Ok(Delivery::new(Some("NEvPnpBmk4TXHv".into()), None)
                .fingerprint_of([NODE_BODY])
                .verified_by(0))
        );
        // Either case of hex.
        let upper = NODE_SIGNATURE.to_uppercase();
        assert!(verify(&node, &headers(&upper), NODE_BODY).is_ok());

        let python = Razorpay::new(PYTHON_SECRET).unwrap();
        let body = PYTHON_BODY.as_bytes();
        assert_eq!(python.signature(body), PYTHON_SIGNATURE);
        // Without `X-Razorpay-Event-Id`: no id, still fingerprinted.
        let bare = [(SIGNATURE, PYTHON_SIGNATURE)];
        assert_eq!(
            crate::scheme::test_support::verify(&python, &bare, body, 0),
            Ok(Delivery::new(None, None)
                .fingerprint_of([body])
                .verified_by(0))
        );
        let request = Request::new("POST", "/", &bare, body);
        assert_eq!(
            python.event_name(&request).unwrap().as_deref(),
            Some("payment.authorized")
        );
        // The final newline is signed.
        assert_eq!(
            verify(
                &python,
                &headers(PYTHON_SIGNATURE),
                body.strip_suffix(b"\n").unwrap()
            ),
            Err(VerifyError::InvalidSignature)
        );
    }

    #[test]
    fn round_trip_tampering_rotation_and_absurd_values() {
        let scheme = Razorpay::with_secrets(
            Secrets::new([
                Secret::new("next").unwrap(),
                Secret::new(NODE_SECRET).unwrap(),
            ])
            .unwrap(),
        );
        // The old secret still verifies, and says so.
        assert_eq!(
            verify(&scheme, &headers(NODE_SIGNATURE), NODE_BODY).map(|d| d.secret),
            Ok(Some(1))
        );
        let body = br#"{"entity":"event","event":"order.paid","payload":{}}"#;
        let signed = scheme.sign(&Message {
            id: "evt-7",
            timestamp: 0,
            event: "",
            url: "",
            body,
        });
        let request = Request::new("POST", "/", &signed, body);
        let delivery = scheme.verify(&request, scheme.secrets(), 0).unwrap();
        assert_eq!(
            (delivery.id.as_deref(), delivery.secret),
            (Some("evt-7"), Some(0))
        );
        assert_eq!(
            scheme.event_name(&request).unwrap().as_deref(),
            Some("order.paid")
        );
        let unnamed = scheme.sign(&Message {
            id: "",
            timestamp: 0,
            event: "",
            url: "",
            body,
        });
        assert_eq!(unnamed.len(), 1);

        // One byte changed in the body or the signature.
        let mut tampered = NODE_BODY.to_vec();
        tampered[5] ^= 1;
        assert_eq!(
            verify(&scheme, &headers(NODE_SIGNATURE), &tampered),
            Err(VerifyError::InvalidSignature)
        );
        let flipped = NODE_SIGNATURE.replacen('2', "3", 1);
        assert_eq!(
            verify(&scheme, &headers(&flipped), NODE_BODY),
            Err(VerifyError::InvalidSignature)
        );
        let stranger = Razorpay::new("stranger").unwrap().signature(NODE_BODY);
        assert_eq!(
            verify(&scheme, &headers(&stranger), NODE_BODY),
            Err(VerifyError::InvalidSignature)
        );
        // Base64 is not Razorpay's encoding.
        let base64 = SignatureHeader::bare(SIGNATURE, Encoding::Base64)
            .sign_hmac_sha256(scheme.secrets(), [NODE_BODY]);
        assert_eq!(
            verify(&scheme, &headers(&base64), NODE_BODY),
            Err(VerifyError::malformed(SIGNATURE))
        );
        // A repeated or non-UTF-8 id header is refused, not guessed.
        let mut twice = headers(NODE_SIGNATURE);
        twice.push((EVENT_ID.into(), "other".into()));
        assert_eq!(
            verify(&scheme, &twice, NODE_BODY),
            Err(VerifyError::malformed(EVENT_ID))
        );
        let bad_id = [
            (SIGNATURE, NODE_SIGNATURE.as_bytes()),
            (EVENT_ID, &b"\xff"[..]),
        ];
        assert_eq!(
            crate::scheme::test_support::verify(&scheme, &bad_id, NODE_BODY, 0),
            Err(VerifyError::malformed(EVENT_ID))
        );
        assert_refuses_absurd_headers(
            &scheme,
            &headers(NODE_SIGNATURE),
            &[SIGNATURE],
            NODE_BODY,
            0,
        );
    }

    #[test]
    fn event_names_and_redaction() {
        let scheme = Razorpay::new(NODE_SECRET).unwrap();
        let name = |body: &[u8]| {
            let headers: [(&str, &str); 0] = [];
            scheme.event_name(&Request::new("POST", "/", &headers, body))
        };
        assert_eq!(
            name(br#"{"event":"refund.processed"}"#).unwrap().as_deref(),
            Some("refund.processed")
        );
        assert!(name(br#"{"entity":"event"}"#).is_err());
        assert!(name(br#"{"event":""}"#).is_err());
        assert!(name(br#"{"event":"a","event":"b"}"#).is_err());
        assert!(name(b"not json").is_err());
        assert!(!format!("{scheme:?}").contains(NODE_SECRET));
    }
}
