//! [Square](https://developer.squareup.com/docs/webhooks/step3validate)
//! webhooks.

use std::sync::LazyLock;

use crate::scheme::public_url::{public_base, requested_url};
use crate::scheme::{
    check_mac, json_string, pointer, Delivery, Encoding, JsonPointer, Message, Request, Scheme,
    SignatureHeader, Signer,
};
use crate::secret::{Secret, SecretError, Secrets};
use crate::verify::VerifyError;

const SIGNATURE: &str = "x-square-hmacsha256-signature";

/// The base64 HMAC-SHA256 of the notification URL and the body.
const HMAC: SignatureHeader = SignatureHeader::bare(SIGNATURE, Encoding::Base64);

/// Where the delivery id is: the body's `event_id`.
const EVENT_ID: &str = "/event_id";
static EVENT_ID_POINTER: LazyLock<JsonPointer> = LazyLock::new(|| pointer::constant(EVENT_ID));

/// Square's webhook scheme ([docs](https://developer.squareup.com/docs/webhooks/step3validate)),
/// following the SDKs' `WebhooksHelper`.
///
/// Reads the header `x-square-hmacsha256-signature`: the base64 HMAC-SHA256,
/// keyed with the subscription's signature key, of the notification URL
/// configured in Square (the full `https://` URL) followed by the body.
/// Square signs no timestamp, so there is no replay window: handling each
/// event once is the defence.
///
/// **The URL.** The scheme sees the request target (`/square?x=1`), not the
/// URL Square called. Set the public origin (and any path prefix a proxy
/// strips) with [`Square::public_url`]: the URL signed is then that base
/// followed by the request target, and must be the notification URL
/// configured for the subscription (`https://example.com/square` for
/// `public_url("https://example.com")` and a route at `/square`). Without
/// it, the URL is `https://` + the `Host` header + the target, which fits a
/// server reached directly over HTTPS. **Production should set
/// `public_url`**: `Host` is whatever the client sent. A `Host` that is not a
/// plain `host[:port]` is refused with `malformed_signature`, so it cannot
/// smuggle a path or query into the signed URL.
///
/// The delivery id is the body's `event_id`, the same on every retry and
/// signed with the body; the router refuses a verified body without one
/// ([`Scheme::id_in_body`]). The event name is the body's `type`
/// (`payment.updated`, `webhooks.test_notification`).
///
/// ```
/// use actix_webhook::scheme::{Request, Scheme, Square};
///
/// let scheme = Square::new("signature-key")?.public_url("https://example.com");
/// let body = br#"{"merchant_id":"M1","type":"payment.updated","event_id":"e-1","data":{}}"#;
/// let signature = scheme.signature("https://example.com/square", body);
/// let headers = [("x-square-hmacsha256-signature", signature.as_str())];
/// let request = Request::new("POST", "/square", &headers, body);
/// let delivery = scheme.verify(&request, scheme.secrets(), 0)?;
/// assert_eq!(delivery.id.as_deref(), Some("e-1"));
/// assert_eq!(scheme.event_name(&request)?.as_deref(), Some("payment.updated"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Square {
    secrets: Secrets,
    public_url: Option<String>,
}

impl Square {
    /// The scheme with the subscription's signature key.
    ///
    /// # Errors
    ///
    /// [`SecretError::Empty`] for an empty key.
    pub fn new(signature_key: &str) -> Result<Self, SecretError> {
        Ok(Self::with_secrets(Secret::new(signature_key)?))
    }

    /// The scheme with several signature keys, newest first (e.g. while the
    /// key is rotated).
    pub fn with_secrets(secrets: impl Into<Secrets>) -> Self {
        Self {
            secrets: secrets.into(),
            public_url: None,
        }
    }

    /// The public origin Square calls, with any path prefix a proxy strips:
    /// `https://example.com` or `https://example.com/api`. A final `/` is
    /// dropped; the request target is appended to it, and the result must be
    /// the notification URL configured in Square. Set it in production:
    /// without it the URL is built from the `Host` header, which the client
    /// chooses.
    #[must_use]
    pub fn public_url(mut self, url: &str) -> Self {
        self.public_url = Some(public_base(url));
        self
    }

    /// The `x-square-hmacsha256-signature` value for `body` sent to
    /// `notification_url` (the full URL), signed with the first key: base64.
    #[must_use]
    pub fn signature(&self, notification_url: &str, body: &[u8]) -> String {
        HMAC.sign_hmac_sha256(&self.secrets, [notification_url.as_bytes(), body])
    }
}

impl Scheme for Square {
    fn name(&self) -> &'static str {
        "square"
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
        let candidate = HMAC.read::<32>(request)?;
        let url = requested_url(self.public_url.as_deref(), request)?;
        let signed = [url.as_bytes(), request.body()];
        let secret = check_mac(secrets, candidate.into_iter(), |secret| {
            secret.hmac_sha256(signed)
        })?;
        // The id is signed with the body; without one, a repeat is
        // recognised by what was signed.
        let id = json_string(request.body(), &EVENT_ID_POINTER);
        Ok(Delivery::new(id, None)
            .fingerprint_if_no_id(signed)
            .verified_by(secret))
    }

    // The event name is the body's `type`: the default.

    fn id_in_body(&self) -> Option<&'static str> {
        Some(EVENT_ID)
    }
}

impl Signer for Square {
    /// `x-square-hmacsha256-signature` for `message.body` sent to
    /// `message.url`: the id and event name travel in the body.
    fn sign(&self, message: &Message<'_>) -> Vec<(String, String)> {
        vec![(SIGNATURE.into(), self.signature(message.url, message.body))]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheme::public_url::HOST;
    use crate::scheme::test_support::assert_refuses_absurd_headers;

    // Square's published vector, the same in each SDK's `WebhooksHelper`
    // tests: square-python-sdk tests/integration/test_webhooks_helper.py
    // (https://github.com/square/square-python-sdk), also square-nodejs-sdk,
    // square-java-sdk, square-php-sdk and square-go-sdk.
    const KEY: &str = "Ibxx_5AKakO-3qeNVR61Dw";
    const URL: &str = "https://webhook.site/679a4f3a-dcfa-49ee-bac5-9d0edad886b9";
    const ORIGIN: &str = "https://webhook.site";
    const TARGET: &str = "/679a4f3a-dcfa-49ee-bac5-9d0edad886b9";
    const BODY: &[u8] = br#"{"merchant_id":"MLEFBHHSJGVHD","type":"webhooks.test_notification","event_id":"ac3ac95b-f97d-458c-a6e6-18981597e05f","created_at":"2022-07-13T20:30:59.037339943Z","data":{"type":"webhooks","id":"bc368e64-01aa-407e-b46e-3231809b1129"}}"#;
    const EXPECTED: &str = "GF4YkrJgGBDZ9NIYbNXBnMzqb2HoL4RW/S6vkZ9/2N4=";
    // The same tests' `>id<` body ("escaped characters"): signed as sent.
    const ESCAPED_KEY: &str = "signature-key";
    const ESCAPED_TARGET: &str = "/webhooks";
    const ESCAPED_BODY: &[u8] = br#"{"data":{"type":"webhooks","id":">id<"}}"#;
    const ESCAPED_EXPECTED: &str = "Cxt7+aTi4rKgcA0bC4g9EHdVtLSDWdqccmL5MvihU4U=";

    fn verify(
        scheme: &Square,
        target: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Delivery, VerifyError> {
        crate::scheme::test_support::verify_post(scheme, target, headers, body, 0)
    }

    fn published() -> Square {
        Square::new(KEY).unwrap().public_url(ORIGIN)
    }

    #[test]
    fn published_vector_verifies() {
        let scheme = published();
        assert_eq!(scheme.signature(URL, BODY), EXPECTED);
        assert_eq!(
            verify(&scheme, TARGET, &[(SIGNATURE, EXPECTED)], BODY),
            Ok(
                Delivery::new(Some("ac3ac95b-f97d-458c-a6e6-18981597e05f".into()), None)
                    .verified_by(0)
            )
        );
        let headers = [(SIGNATURE, EXPECTED)];
        let request = Request::new("POST", TARGET, &headers, BODY);
        assert_eq!(
            scheme.event_name(&request).unwrap().as_deref(),
            Some("webhooks.test_notification")
        );
        // A final `/` on the base is dropped; the header name is any case.
        let slash = Square::new(KEY)
            .unwrap()
            .public_url("https://webhook.site/");
        assert!(verify(
            &slash,
            TARGET,
            &[("X-Square-HmacSha256-Signature", EXPECTED)],
            BODY
        )
        .is_ok());
        // From the `Host` header when no public URL is set.
        let by_host = Square::new(KEY).unwrap();
        assert!(verify(
            &by_host,
            TARGET,
            &[(SIGNATURE, EXPECTED), (HOST, "webhook.site")],
            BODY
        )
        .is_ok());

        let escaped = Square::new(ESCAPED_KEY).unwrap().public_url(ORIGIN);
        assert!(verify(
            &escaped,
            ESCAPED_TARGET,
            &[(SIGNATURE, ESCAPED_EXPECTED)],
            ESCAPED_BODY
        )
        .is_ok());
        // Without `event_id`: fingerprinted by what was signed.
        let delivery = verify(
            &escaped,
            ESCAPED_TARGET,
            &[(SIGNATURE, ESCAPED_EXPECTED)],
            ESCAPED_BODY,
        )
        .unwrap();
        let url = format!("{ORIGIN}{ESCAPED_TARGET}");
        assert_eq!(
            delivery,
            Delivery::new(None, None)
                .fingerprint_of([url.as_bytes(), ESCAPED_BODY])
                .verified_by(0)
        );
        assert_eq!(scheme.id_in_body(), Some("/event_id"));
    }

    #[test]
    fn the_url_is_signed() {
        let scheme = published();
        let headers = [(SIGNATURE, EXPECTED)];
        // The SDK tests' `url_mismatch`: one character of the URL dropped.
        assert_eq!(
            verify(
                &scheme,
                "/79a4f3a-dcfa-49ee-bac5-9d0edad886b9",
                &headers,
                BODY
            ),
            Err(VerifyError::InvalidSignature)
        );
        for target in [&format!("{TARGET}?x=1")[..], "/other", "/"] {
            assert_eq!(
                verify(&scheme, target, &headers, BODY),
                Err(VerifyError::InvalidSignature),
                "{target}"
            );
        }
        let http = Square::new(KEY).unwrap().public_url("http://webhook.site");
        assert_eq!(
            verify(&http, TARGET, &headers, BODY),
            Err(VerifyError::InvalidSignature)
        );
        // `Host`: required without a public URL, a plain host only, and
        // another host is another URL.
        let by_host = Square::new(KEY).unwrap();
        assert_eq!(
            verify(&by_host, TARGET, &headers, BODY),
            Err(VerifyError::missing(HOST))
        );
        assert_eq!(
            verify(
                &by_host,
                TARGET,
                &[(SIGNATURE, EXPECTED), (HOST, "evil.example")],
                BODY
            ),
            Err(VerifyError::InvalidSignature)
        );
        // The path smuggled into `Host`, the rest in the target.
        assert_eq!(
            verify(
                &by_host,
                "/9d0edad886b9",
                &[
                    (SIGNATURE, EXPECTED),
                    (HOST, "webhook.site/679a4f3a-dcfa-49ee-bac5-")
                ],
                BODY
            ),
            Err(VerifyError::malformed(HOST))
        );
        // With a public URL, `Host` is ignored.
        assert!(verify(
            &scheme,
            TARGET,
            &[(SIGNATURE, EXPECTED), (HOST, "evil.example")],
            BODY
        )
        .is_ok());
    }

    #[test]
    fn round_trip_tampering_rotation_and_absurd_values() {
        let scheme = Square::with_secrets(
            Secrets::new([Secret::new("next").unwrap(), Secret::new(KEY).unwrap()]).unwrap(),
        )
        .public_url(ORIGIN);
        assert_eq!(
            verify(&scheme, TARGET, &[(SIGNATURE, EXPECTED)], BODY).map(|d| d.secret),
            Ok(Some(1))
        );
        let body = br#"{"merchant_id":"M1","type":"payment.updated","event_id":"e-7","data":{}}"#;
        let signed = scheme.sign(&Message {
            id: "",
            timestamp: 0,
            event: "",
            url: "https://webhook.site/square",
            body,
        });
        let request = Request::new("POST", "/square", &signed, body);
        let delivery = scheme.verify(&request, scheme.secrets(), 0).unwrap();
        assert_eq!(
            (delivery.id.as_deref(), delivery.secret),
            (Some("e-7"), Some(0))
        );
        assert_eq!(
            scheme.event_name(&request).unwrap().as_deref(),
            Some("payment.updated")
        );

        let headers = [(SIGNATURE, EXPECTED)];
        // One byte of the body, of the signed id, of the signature.
        let mut tampered = BODY.to_vec();
        tampered[20] ^= 1;
        assert_eq!(
            verify(&scheme, TARGET, &headers, &tampered),
            Err(VerifyError::InvalidSignature)
        );
        let other_id = String::from_utf8(BODY.to_vec())
            .unwrap()
            .replace("ac3ac95b", "ac3ac95c");
        assert_eq!(
            verify(&scheme, TARGET, &headers, other_id.as_bytes()),
            Err(VerifyError::InvalidSignature)
        );
        let flipped = EXPECTED.replacen('G', "H", 1);
        assert_eq!(
            verify(&scheme, TARGET, &[(SIGNATURE, &flipped)], BODY),
            Err(VerifyError::InvalidSignature)
        );
        // The SDK tests' wrong key.
        let wrong = Square::new("MCmhFRxGX82xMwg5FsaoQA")
            .unwrap()
            .public_url(ORIGIN);
        assert_eq!(
            verify(&wrong, TARGET, &headers, BODY),
            Err(VerifyError::InvalidSignature)
        );
        // The SDK tests' wrong header: base64, but of 20 bytes.
        assert_eq!(
            verify(
                &scheme,
                TARGET,
                &[(SIGNATURE, "1z2n3DEJJiUPKcPzQo1ftvbxGdw=")],
                BODY
            ),
            Err(VerifyError::InvalidSignature)
        );
        assert_eq!(
            verify(&scheme, TARGET, &[(SIGNATURE, "not base64!")], BODY),
            Err(VerifyError::malformed(SIGNATURE))
        );
        let owned = vec![(SIGNATURE.to_owned(), EXPECTED.to_owned())];
        assert_refuses_absurd_headers(&published(), &owned, &[SIGNATURE], BODY, 0);
        let by_host = vec![
            (SIGNATURE.to_owned(), EXPECTED.to_owned()),
            (HOST.to_owned(), "webhook.site".to_owned()),
        ];
        assert_refuses_absurd_headers(
            &Square::new(KEY).unwrap(),
            &by_host,
            &[SIGNATURE, HOST],
            BODY,
            0,
        );
        assert!(!format!("{scheme:?}").contains(KEY));
    }
}
