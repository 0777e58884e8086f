//! [Zoom](https://developers.zoom.us/docs/api/webhooks/) webhooks.

use std::sync::{LazyLock, OnceLock};

use crate::scheme::{
    static_pointer, Answers, Delivery, EventName, EventNameError, JsonPointer, Message, Reply,
    Request, Scheme, Signer, V0,
};
use crate::secret::{Secret, SecretError, Secrets};
use crate::verify::{Tolerance, VerifyError};

const SIGNATURE: &str = "x-zm-signature";
const TIMESTAMP: &str = "x-zm-request-timestamp";

/// `v0=<hex HMAC-SHA256 of v0:timestamp:body>`.
const HMAC: V0 = V0::new(SIGNATURE, TIMESTAMP);

/// The body's `event`.
static EVENT_NAME: LazyLock<EventName> = LazyLock::new(|| EventName::json_at("/event"));

/// The event Zoom validates an endpoint with.
const URL_VALIDATION: &str = "endpoint.url_validation";

/// The longest `plainToken` answered, in bytes (Zoom's are 22 characters).
const MAX_PLAIN_TOKEN: usize = 256;

/// Zoom's webhook scheme ([docs](https://developers.zoom.us/docs/api/webhooks/#verify-webhook-events)).
///
/// Reads the headers `x-zm-signature` (`v0=<hex>`) and
/// `x-zm-request-timestamp` (unix seconds). The signature is the
/// HMAC-SHA256 of `v0:{timestamp}:{body}`, keyed with the app's secret token
/// as given. The timestamp must be within 5 minutes of now, either way
/// (configurable).
///
/// - Delivery id: Zoom sends none. A delivery is recognised by a
///   [fingerprint](Delivery::fingerprint) of its body alone, not of what was
///   signed: the body carries the event's `event_ts` (milliseconds), and a
///   retry may be signed again at a new timestamp, so the signed content
///   differs from one attempt to the next while the body does not.
/// - Event name: the body's `event`, e.g. `meeting.started`,
///   `recording.completed`.
/// - Endpoint validation is answered by itself ([`Scheme::signed_reply`]):
///   a verified `endpoint.url_validation` gets 200 with
///   `{"plainToken":"...","encryptedToken":"..."}`, the hex HMAC-SHA256 of
///   `payload.plainToken` under the secret that verified the request. One
///   without a string `plainToken` (or one over 256 bytes) is routed like
///   any event.
///
/// ```
/// use actix_webhook::scheme::{Request, Scheme, Zoom};
///
/// let scheme = Zoom::new("secret-token")?;
/// let body = br#"{"event":"meeting.started","event_ts":1700000000123,"payload":{}}"#;
/// let signature = scheme.signature(1_700_000_000, body);
/// let headers = [
///     ("x-zm-signature", signature.as_str()),
///     ("x-zm-request-timestamp", "1700000000"),
/// ];
/// let request = Request::new("POST", "/zoom", &headers, body);
/// let delivery = scheme.verify(&request, scheme.secrets(), 1_700_000_010)?;
/// assert_eq!(delivery.id, None);
/// assert!(delivery.fingerprint.is_some());
/// assert_eq!(scheme.event_name(&request)?.as_deref(), Some("meeting.started"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Zoom {
    secrets: Secrets,
    tolerance: Tolerance,
}

impl Zoom {
    /// The scheme with the app's secret token.
    ///
    /// # Errors
    ///
    /// [`SecretError::Empty`] for an empty secret.
    pub fn new(secret_token: &str) -> Result<Self, SecretError> {
        Ok(Self::with_secrets(Secret::new(secret_token)?))
    }

    /// The scheme with several secret tokens, newest first (e.g. while the
    /// secret token is regenerated).
    pub fn with_secrets(secrets: impl Into<Secrets>) -> Self {
        Self {
            secrets: secrets.into(),
            tolerance: Tolerance::default(),
        }
    }

    /// How far `x-zm-request-timestamp` may be from now (default 5
    /// minutes).
    #[must_use]
    pub fn tolerance(mut self, tolerance: Tolerance) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// The `x-zm-signature` value for `body` at `timestamp`, signed with the
    /// first secret: `v0=<hex>`.
    #[must_use]
    pub fn signature(&self, timestamp: i64, body: &[u8]) -> String {
        HMAC.sign(&self.secrets, timestamp, body)
    }
}

/// The answer to an endpoint validation.
#[derive(serde::Serialize)]
struct UrlValidation<'a> {
    #[serde(rename = "plainToken")]
    plain_token: &'a str,
    #[serde(rename = "encryptedToken")]
    encrypted_token: String,
}

impl Scheme for Zoom {
    /// Success as 200 only: Zoom takes 200 or 204.
    fn answers(&self) -> Answers {
        Answers::ANY.only_200()
    }

    fn name(&self) -> &'static str {
        "zoom"
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
        let (read, secret) = HMAC.check(request, secrets, self.tolerance, now)?;
        // No id; a retry may be signed at a new timestamp: a repeat is
        // recognised by its body.
        Ok(Delivery::new(None, Some(read.timestamp))
            .fingerprint_of([request.body()])
            .verified_by(secret))
    }

    fn event_name(&self, request: &Request<'_>) -> Result<Option<String>, EventNameError> {
        EVENT_NAME.find(request)
    }

    /// Answers `endpoint.url_validation` with its `plainToken` and the hex
    /// HMAC-SHA256 of it under `secret`. Reads `event` as
    /// [`event_name`](Scheme::event_name) does, so a body that repeats a key
    /// on the way is neither answered here nor routed (400).
    fn signed_reply(&self, request: &Request<'_>, secret: &Secret) -> Option<Reply> {
        static EVENT: OnceLock<JsonPointer> = OnceLock::new();
        static PLAIN_TOKEN: OnceLock<JsonPointer> = OnceLock::new();
        let body = request.body();
        let event = static_pointer(&EVENT, "/event").string_in(body).ok()??;
        if event != URL_VALIDATION {
            return None;
        }
        let raw = static_pointer(&PLAIN_TOKEN, "/payload/plainToken")
            .raw_in(body)
            .ok()??;
        // A bounded read: the raw JSON is at least as long as the string.
        if raw.get().len() > 2 + 6 * MAX_PLAIN_TOKEN {
            return None;
        }
        let plain_token: String = serde_json::from_str(raw.get()).ok()?;
        if plain_token.len() > MAX_PLAIN_TOKEN {
            return None;
        }
        let encrypted_token = hex::encode(secret.hmac_sha256([plain_token.as_bytes()]));
        let answer = UrlValidation {
            plain_token: &plain_token,
            encrypted_token,
        };
        Some(Reply::ok(
            "application/json",
            serde_json::to_vec(&answer).ok()?,
        ))
    }
}

impl Signer for Zoom {
    /// `x-zm-signature` and `x-zm-request-timestamp`: the event name
    /// travels in the body.
    fn sign(&self, message: &Message<'_>) -> Vec<(String, String)> {
        vec![
            (
                SIGNATURE.into(),
                self.signature(message.timestamp, message.body),
            ),
            (TIMESTAMP.into(), message.timestamp.to_string()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheme::test_support::{assert_refuses_absurd_headers, verify};

    // Zoom publishes no signed delivery: its docs ("Verify webhook events",
    // developers.zoom.us/docs/api/webhooks/#verify-webhook-events) and
    // zoom/webhook-sample (index.js) compute the signature at run time. This
    // one was computed with Python's hmac module, an independent
    // implementation of the documented algorithm:
    // "v0=" + hmac.new(b"zoom-secret-token", b"v0:1700000000:" + BODY,
    // sha256).hexdigest().
    const SECRET: &str = "zoom-secret-token";
    const TS: i64 = 1_700_000_000;
    const BODY: &[u8] = br#"{"event":"meeting.started","event_ts":1700000000123,"payload":{"account_id":"AAAAAA","object":{"id":"85746065432","uuid":"4444AAAiAAAAAiAiAiiAii==","topic":"Standup"}}}"#;
    const EXPECTED: &str = "v0=c7a7a9340a7e9dbda590974787386995566a303ec599c86ae81263d86762fff5";

    // Zoom's endpoint validation example ("Validate your webhook endpoint",
    // developers.zoom.us/docs/api/webhooks/#validate-your-webhook-endpoint)
    // gives the request body below but not the secret behind its
    // `encryptedToken`. Elastic's Zoom CRC test (elastic/beats,
    // x-pack/filebeat/input/http_endpoint/handler_test.go,
    // "validate_CRC_request") answers this plainToken under the secret
    // `secretValueTest` with the token below, checked with Python's hmac.
    const VALIDATION: &[u8] = br#"{"payload":{"plainToken":"qgg8vlvZRS6UYooatFL8Aw"},"event_ts":1654503849680,"event":"endpoint.url_validation"}"#;
    const CRC_SECRET: &str = "secretValueTest";
    const ENCRYPTED: &str = "70c1f2e2e6ca2d39297490d1f9142c7d701415ea8e6151f6562a08fa657a40ff";

    fn headers(signature: &str, ts: i64) -> Vec<(String, String)> {
        vec![
            (SIGNATURE.into(), signature.into()),
            (TIMESTAMP.into(), ts.to_string()),
        ]
    }

    fn answer(scheme: &Zoom, body: &[u8], secret: &Secret) -> Option<Reply> {
        let signed = scheme.sign(&Message {
            id: "",
            timestamp: TS,
            event: "",
            url: "",
            body,
        });
        let request = Request::new("POST", "/", &signed, body);
        scheme.verify(&request, scheme.secrets(), TS).ok()?;
        scheme.signed_reply(&request, secret)
    }

    #[test]
    fn cross_checked_example_verifies() {
        let scheme = Zoom::new(SECRET).unwrap();
        assert_eq!(scheme.signature(TS, BODY), EXPECTED);
        assert_eq!(
            verify(&scheme, &headers(EXPECTED, TS), BODY, TS + 10),
            Ok(Delivery::new(None, Some(TS))
                .fingerprint_of([BODY])
                .verified_by(0))
        );
        let sent = headers(EXPECTED, TS);
        let request = Request::new("POST", "/", &sent, BODY);
        assert_eq!(
            scheme.event_name(&request).unwrap().as_deref(),
            Some("meeting.started")
        );
        // Upper-case hex is the same signature.
        let upper = format!("v0={}", EXPECTED[3..].to_uppercase());
        assert!(verify(&scheme, &headers(&upper, TS), BODY, TS).is_ok());
        // Not a handshake: routed.
        assert_eq!(
            scheme.signed_reply(&request, scheme.secrets().primary()),
            None
        );
    }

    #[test]
    fn a_retry_signed_again_is_the_same_delivery() {
        let scheme = Zoom::new(SECRET).unwrap();
        let later = scheme.signature(TS + 60, BODY);
        let first = verify(&scheme, &headers(EXPECTED, TS), BODY, TS).unwrap();
        let retry = verify(&scheme, &headers(&later, TS + 60), BODY, TS + 60).unwrap();
        assert_eq!(first.fingerprint, retry.fingerprint);
        assert_ne!(first.timestamp, retry.timestamp);
    }

    #[test]
    fn tampering_rotation_freshness_and_absurd_values() {
        let scheme = Zoom::with_secrets(
            Secrets::new([
                Secret::new("regenerated").unwrap(),
                Secret::new(SECRET).unwrap(),
            ])
            .unwrap(),
        );
        assert_eq!(
            verify(&scheme, &headers(EXPECTED, TS), BODY, TS).map(|d| d.secret),
            Ok(Some(1))
        );
        let invalid = Err(VerifyError::InvalidSignature);
        let mut tampered = BODY.to_vec();
        tampered[12] ^= 1;
        assert_eq!(
            verify(&scheme, &headers(EXPECTED, TS), &tampered, TS),
            invalid
        );
        let mut flipped = EXPECTED.to_owned().into_bytes();
        flipped[3] = if flipped[3] == b'0' { b'1' } else { b'0' };
        let flipped = String::from_utf8(flipped).unwrap();
        assert_eq!(verify(&scheme, &headers(&flipped, TS), BODY, TS), invalid);
        assert_eq!(
            verify(&scheme, &headers(EXPECTED, TS + 1), BODY, TS),
            invalid
        );
        let stranger = Zoom::new("stranger").unwrap().signature(TS, BODY);
        assert_eq!(verify(&scheme, &headers(&stranger, TS), BODY, TS), invalid);
        for bad in [&EXPECTED[3..], "v1=ab", "v0=", "v0=zz", "sha256=ab"] {
            assert_eq!(
                verify(&scheme, &headers(bad, TS), BODY, TS),
                Err(VerifyError::malformed(SIGNATURE)),
                "{bad}"
            );
        }
        // Freshness, both ways; then disabled for an old capture.
        for now in [TS - 301, TS + 301] {
            assert!(matches!(
                verify(&scheme, &headers(EXPECTED, TS), BODY, now),
                Err(VerifyError::TimestampOutOfTolerance { .. })
            ));
        }
        assert!(verify(&scheme, &headers(EXPECTED, TS), BODY, TS - 300).is_ok());
        let relaxed = scheme.clone().tolerance(Tolerance::disabled());
        assert!(verify(&relaxed, &headers(EXPECTED, TS), BODY, TS + 86_400).is_ok());
        // Milliseconds are not seconds.
        let ms = scheme.signature(TS * 1000, BODY);
        assert!(matches!(
            verify(&scheme, &headers(&ms, TS * 1000), BODY, TS),
            Err(VerifyError::TimestampOutOfTolerance { .. })
        ));
        assert_refuses_absurd_headers(
            &scheme,
            &headers(EXPECTED, TS),
            &[SIGNATURE, TIMESTAMP],
            BODY,
            TS,
        );
    }

    #[test]
    fn sign_round_trip() {
        let scheme = Zoom::new(SECRET).unwrap();
        let body = br#"{"event":"recording.completed","event_ts":1,"payload":{}}"#;
        let message = Message {
            id: "ignored",
            timestamp: TS,
            event: "recording.completed",
            url: "",
            body,
        };
        let signed = scheme.try_sign(&message).unwrap();
        assert_eq!(
            verify(&scheme, &signed, body, TS),
            Ok(Delivery::new(None, Some(TS))
                .fingerprint_of([&body[..]])
                .verified_by(0))
        );
        let request = Request::new("POST", "/", &signed, body);
        assert_eq!(
            scheme.event_name(&request).unwrap().as_deref(),
            Some("recording.completed")
        );
    }

    #[test]
    fn endpoint_validation_is_answered_under_the_verifying_secret() {
        let scheme = Zoom::new(CRC_SECRET).unwrap();
        let reply = answer(&scheme, VALIDATION, scheme.secrets().primary()).unwrap();
        assert_eq!(reply.status, 200);
        assert_eq!(reply.content_type, "application/json");
        assert_eq!(
            std::str::from_utf8(&reply.body).unwrap(),
            format!(r#"{{"plainToken":"qgg8vlvZRS6UYooatFL8Aw","encryptedToken":"{ENCRYPTED}"}}"#)
        );
        // During a rotation, the answer is keyed with the secret given:
        // the one that verified the request.
        let old = Secret::new("old-token").unwrap();
        let other = answer(&scheme, VALIDATION, &old).unwrap();
        let expected = hex::encode(crate::scheme::hmac_sha256(
            b"old-token",
            [&b"qgg8vlvZRS6UYooatFL8Aw"[..]],
        ));
        assert!(std::str::from_utf8(&other.body)
            .unwrap()
            .contains(&expected));
        // The token is escaped as JSON.
        let quoted =
            br#"{"event":"endpoint.url_validation","payload":{"plainToken":"a\"b\\c\u00e9"}}"#;
        let reply = answer(&scheme, quoted, scheme.secrets().primary()).unwrap();
        let parsed: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
        assert_eq!(parsed["plainToken"], "a\"b\\c\u{e9}");
        let expected = hex::encode(crate::scheme::hmac_sha256(
            CRC_SECRET.as_bytes(),
            ["a\"b\\c\u{e9}".as_bytes()],
        ));
        assert_eq!(parsed["encryptedToken"], expected.as_str());
    }

    #[test]
    fn validations_without_a_usable_token_are_routed() {
        let scheme = Zoom::new(CRC_SECRET).unwrap();
        let secret = scheme.secrets().primary();
        let validation = |token: &str| {
            format!(r#"{{"event":"endpoint.url_validation","payload":{{"plainToken":"{token}"}}}}"#)
        };
        let just_right = validation(&"a".repeat(MAX_PLAIN_TOKEN));
        let long = validation(&"a".repeat(MAX_PLAIN_TOKEN + 1));
        assert!(answer(&scheme, just_right.as_bytes(), secret).is_some());
        for body in [
            br#"{"event":"endpoint.url_validation","payload":{}}"#.as_slice(),
            br#"{"event":"endpoint.url_validation"}"#,
            br#"{"event":"endpoint.url_validation","payload":{"plainToken":42}}"#,
            br#"{"event":"endpoint.url_validation","payload":{"plainToken":null}}"#,
            br#"{"event":"endpoint.url_validation","event":"meeting.started","payload":{"plainToken":"x"}}"#,
            br#"{"event":"endpoint.url_validation","payload":{"plainToken":"x","plainToken":"y"}}"#,
            br#"{"event":"meeting.started","payload":{"plainToken":"x"}}"#,
            b"not json",
            long.as_bytes(),
        ] {
            assert_eq!(
                answer(&scheme, body, secret),
                None,
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }
}
