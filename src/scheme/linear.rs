//! [Linear](https://linear.app/developers/webhooks#securing-webhooks)
//! webhooks.

use std::ops::Range;
use std::sync::OnceLock;
use std::time::Duration;

use crate::payload::PayloadError;
use crate::scheme::{
    optional_utf8, place_in, static_pointer, Answers, Delivery, Encoding, EventNameError,
    JsonPointer, Message, Request, Scheme, SignatureHeader, Signer,
};
use crate::secret::{Secret, SecretError, Secrets};
use crate::verify::{parse_timestamp, Tolerance, VerifyError};

const SIGNATURE: &str = "Linear-Signature";
const DELIVERY: &str = "Linear-Delivery";
/// The body's field holding when Linear sent the delivery, unix
/// milliseconds; named in errors about it.
const TIMESTAMP_FIELD: &str = "webhookTimestamp";

/// The hex HMAC-SHA256 of the body.
const HMAC: SignatureHeader = SignatureHeader::bare(SIGNATURE, Encoding::Hex);

/// One minute, as `@linear/sdk`'s `LinearWebhookClient.verify` allows.
const DEFAULT_TOLERANCE: Tolerance = Tolerance::new(Duration::from_secs(60));

/// Linear's webhook scheme ([docs](https://linear.app/developers/webhooks#securing-webhooks)),
/// following `@linear/sdk`'s `LinearWebhookClient`.
///
/// Reads the header `Linear-Signature`: the hex HMAC-SHA256 of the body,
/// keyed with the webhook's signing secret. Freshness is the body's
/// `webhookTimestamp` (unix milliseconds, signed with the body), which must
/// be within 1 minute of now in either direction, as the SDK checks
/// (configurable with [`Linear::tolerance`]); it is compared to the second.
/// It is read only once the signature matches; a verified body without a
/// `webhookTimestamp` of digits is refused (`missing_signature` or
/// `malformed_signature` naming `webhookTimestamp`), as the SDK refuses one.
/// A `Linear-Timestamp` header is not read: it is not signed.
/// [`Delivery::timestamp`] is in seconds.
///
/// The delivery id is the header `Linear-Delivery`. It is not signed, so the
/// delivery is also [fingerprinted](Delivery::fingerprint) by its body
/// without the `webhookTimestamp`'s value: Linear stamps each retry afresh
/// (or a retry a minute later would be stale), and the fingerprint must
/// recognise it; a replay is refused by the window or recognised by the
/// fingerprint. The event name is the body's `type`,
/// then `.` and its `action` when it has one: `Issue.create`,
/// `Comment.update`, `IssueLabel.remove`; a body without a `type` is refused
/// (400 `invalid_payload`). Route `Issue.*` to take every action.
///
/// ```
/// use actix_webhook::scheme::{Linear, Request, Scheme};
///
/// let scheme = Linear::new("lin_wh_secret")?;
/// let body = br#"{"action":"create","type":"Issue","data":{},"webhookTimestamp":1700000000123}"#;
/// let signature = scheme.signature(body);
/// let headers = [
///     ("Linear-Signature", signature.as_str()),
///     ("Linear-Delivery", "234d1a4e-b617-4388-90fe-adc3633d6b72"),
/// ];
/// let request = Request::new("POST", "/linear", &headers, body);
/// let delivery = scheme.verify(&request, scheme.secrets(), 1_700_000_030)?;
/// assert_eq!(delivery.id.as_deref(), Some("234d1a4e-b617-4388-90fe-adc3633d6b72"));
/// assert_eq!(delivery.timestamp, Some(1_700_000_000));
/// assert_eq!(scheme.event_name(&request)?.as_deref(), Some("Issue.create"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Linear {
    secrets: Secrets,
    tolerance: Tolerance,
}

impl Linear {
    /// The scheme with the webhook's signing secret.
    ///
    /// # Errors
    ///
    /// [`SecretError::Empty`] for an empty secret.
    pub fn new(secret: &str) -> Result<Self, SecretError> {
        Ok(Self::with_secrets(Secret::new(secret)?))
    }

    /// The scheme with several signing secrets, newest first (e.g. while the
    /// secret is rotated).
    pub fn with_secrets(secrets: impl Into<Secrets>) -> Self {
        Self {
            secrets: secrets.into(),
            tolerance: DEFAULT_TOLERANCE,
        }
    }

    /// How far the body's `webhookTimestamp` may be from now (default 1
    /// minute, as `@linear/sdk`). [`Tolerance::disabled`] accepts any time,
    /// but the body must still carry one.
    #[must_use]
    pub fn tolerance(mut self, tolerance: Tolerance) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// The `Linear-Signature` value for `body`, signed with the first
    /// secret: hex.
    #[must_use]
    pub fn signature(&self, body: &[u8]) -> String {
        HMAC.sign_hmac_sha256(&self.secrets, [body])
    }
}

/// `/webhookTimestamp`.
fn timestamp_pointer() -> &'static JsonPointer {
    static POINTER: OnceLock<JsonPointer> = OnceLock::new();
    static_pointer(&POINTER, "/webhookTimestamp")
}

/// When a verified body says Linear sent it, unix seconds, and where the
/// value is in the body.
///
/// # Errors
///
/// [`VerifyError::MissingSignature`] when the body has no
/// `webhookTimestamp`, [`VerifyError::MalformedSignature`] when it is not
/// JSON or the field is not a non-negative integer of at most 19 digits.
fn sent_at(body: &[u8]) -> Result<(i64, Range<usize>), VerifyError> {
    let malformed = || VerifyError::malformed(TIMESTAMP_FIELD);
    let raw = timestamp_pointer()
        .raw_in(body)
        .map_err(|_| malformed())?
        .ok_or_else(|| VerifyError::missing(TIMESTAMP_FIELD))?
        .get()
        .as_bytes();
    // A JSON integer: digits only (no sign, fraction, exponent or quotes).
    let millis = parse_timestamp(raw).ok_or_else(malformed)?;
    let at = place_in(body, raw).ok_or_else(malformed)?;
    Ok((millis.div_euclid(1000), at))
}

impl Scheme for Linear {
    /// Success as 200 only: Linear retries any other status.
    fn answers(&self) -> Answers {
        Answers::ANY.only_200()
    }

    fn name(&self) -> &'static str {
        "linear"
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
        let secret = HMAC.check_hmac_sha256(request, secrets, [request.body()])?;
        // Only a genuine body is parsed for its timestamp.
        let body = request.body();
        let (timestamp, at) = sent_at(body)?;
        self.tolerance.check(timestamp, now)?;
        let id = optional_utf8(request, DELIVERY)?;
        // The id is not signed: a repeat is recognised by its body, without
        // the time, which Linear sets afresh on each retry (a retry a
        // minute later would be stale otherwise).
        Ok(Delivery::new(id, Some(timestamp))
            .fingerprint_of([&body[..at.start], &body[at.end..]])
            .verified_by(secret))
    }

    /// `type`, then `.` and `action` when the body has one.
    fn event_name(&self, request: &Request<'_>) -> Result<Option<String>, EventNameError> {
        static TYPE: OnceLock<JsonPointer> = OnceLock::new();
        static ACTION: OnceLock<JsonPointer> = OnceLock::new();
        let body = request.body();
        let Some(mut name) = static_pointer(&TYPE, "/type")
            .string_in(body)?
            .filter(|name| !name.is_empty())
        else {
            return Err(EventNameError::Payload(PayloadError::missing(
                "event name: no string at `/type`",
            )));
        };
        if let Some(action) = static_pointer(&ACTION, "/action")
            .string_in(body)?
            .filter(|action| !action.is_empty())
        {
            name.push('.');
            name.push_str(&action);
        }
        Ok(Some(name))
    }
}

impl Signer for Linear {
    /// `Linear-Signature`, and the id, when not empty, as `Linear-Delivery`.
    /// The event name and the `webhookTimestamp` travel in the body, which
    /// must carry them as Linear's do (`message.timestamp` is not used).
    fn sign(&self, message: &Message<'_>) -> Vec<(String, String)> {
        let mut headers = vec![(SIGNATURE.into(), self.signature(message.body))];
        if !message.id.is_empty() {
            headers.push((DELIVERY.into(), message.id.into()));
        }
        headers
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheme::test_support::assert_refuses_absurd_headers;

    // @linear/sdk's webhook fixture (packages/sdk/src/_tests/LinearWebhooks.test.ts,
    // https://github.com/linear/linear): secret "SECRET" and this body, as
    // `JSON.stringify` writes it, sent at webhookTimestamp 1677611643000.
    // The SDK computes its signatures at run time and publishes none; this
    // one was computed with Python's hmac module.
    const SECRET: &str = "SECRET";
    const BODY: &[u8] = br#"{"action":"create","data":{"id":"2174add1-f7c8-44e3-bbf3-2d60b5ea8bc9","createdAt":"2020-01-23T12:53:18.084Z","updatedAt":"2020-01-23T12:53:18.084Z","archivedAt":null,"body":"Indeed, I think this is definitely an improvement over the previous version.","edited":false,"issueId":"539068e2-ae88-4d09-bd75-22eb4a59612f","userId":"aacdca22-6266-4c0a-ab3c-8fa70a26765c"},"type":"Comment","url":"https://linear.app/issue/LIN-1778/foo-bar#comment-77217de3-fb52-4dad-bb9a-b356beb93de8","createdAt":"2020-01-23T12:53:18.084Z","webhookTimestamp":1677611643000}"#;
    const EXPECTED: &str = "8790fcbbea809950be9198408593c2a13f7591bba6c61adb589f709b5e1b186a";
    /// The fixture's webhookTimestamp, in seconds.
    const SENT: i64 = 1_677_611_643;
    const DELIVERY_ID: &str = "234d1a4e-b617-4388-90fe-adc3633d6b72";

    fn headers(signature: &str) -> Vec<(String, String)> {
        vec![
            (SIGNATURE.into(), signature.into()),
            (DELIVERY.into(), DELIVERY_ID.into()),
        ]
    }

    fn verify(
        scheme: &Linear,
        headers: &[(String, String)],
        body: &[u8],
        now: i64,
    ) -> Result<Delivery, VerifyError> {
        crate::scheme::test_support::verify(scheme, headers, body, now)
    }

    /// `body` without the digits of its `webhookTimestamp`, found by text.
    fn without_time(body: &[u8]) -> Vec<u8> {
        let text = std::str::from_utf8(body).unwrap();
        let key = r#""webhookTimestamp":"#;
        let start = text.find(key).unwrap() + key.len();
        let end = start + text[start..].find(|c: char| !c.is_ascii_digit()).unwrap();
        [&body[..start], &body[end..]].concat()
    }

    /// `body` signed with `secret`, and its headers.
    fn signed(scheme: &Linear, body: &[u8]) -> Vec<(String, String)> {
        scheme.sign(&Message {
            id: DELIVERY_ID,
            timestamp: 0,
            event: "",
            url: "",
            body,
        })
    }

    #[test]
    fn sdk_fixture_verifies() {
        let scheme = Linear::new(SECRET).unwrap();
        assert_eq!(scheme.signature(BODY), EXPECTED);
        assert_eq!(
            verify(&scheme, &headers(EXPECTED), BODY, SENT + 30),
            Ok(Delivery::new(Some(DELIVERY_ID.into()), Some(SENT))
                .fingerprint_of([without_time(BODY).as_slice()])
                .verified_by(0))
        );
        let only_signature = [(SIGNATURE, EXPECTED)];
        let request = Request::new("POST", "/", &only_signature, BODY);
        assert_eq!(
            scheme.event_name(&request).unwrap().as_deref(),
            Some("Comment.create")
        );
        // No `Linear-Delivery`: no id, still fingerprinted.
        assert_eq!(
            verify(&scheme, &headers(EXPECTED)[..1], BODY, SENT),
            Ok(Delivery::new(None, Some(SENT))
                .fingerprint_of([without_time(BODY).as_slice()])
                .verified_by(0))
        );
        // The SDK test's "incorrect signature": signed with another secret.
        let wrong = Linear::new("WRONG_SECRET").unwrap().signature(BODY);
        assert_eq!(
            verify(&scheme, &headers(&wrong), BODY, SENT),
            Err(VerifyError::InvalidSignature)
        );
        // Its "correct signature, incorrect timestamp": checked long after.
        assert_eq!(
            verify(&scheme, &headers(EXPECTED), BODY, 1_700_000_000),
            Err(VerifyError::TimestampOutOfTolerance {
                timestamp: SENT,
                now: 1_700_000_000
            })
        );
    }

    #[test]
    fn freshness_is_one_minute_either_way_by_default() {
        let scheme = Linear::new(SECRET).unwrap();
        for now in [SENT - 60, SENT, SENT + 60] {
            assert!(
                verify(&scheme, &headers(EXPECTED), BODY, now).is_ok(),
                "{now}"
            );
        }
        for now in [SENT - 61, SENT + 61, i64::MIN, i64::MAX, 0] {
            assert!(
                matches!(
                    verify(&scheme, &headers(EXPECTED), BODY, now),
                    Err(VerifyError::TimestampOutOfTolerance { .. })
                ),
                "{now}"
            );
        }
        let wide = Linear::new(SECRET)
            .unwrap()
            .tolerance(Tolerance::new(Duration::from_secs(600)));
        assert!(verify(&wide, &headers(EXPECTED), BODY, SENT + 600).is_ok());
        assert!(verify(&wide, &headers(EXPECTED), BODY, SENT + 601).is_err());
        let any = Linear::new(SECRET)
            .unwrap()
            .tolerance(Tolerance::disabled());
        assert_eq!(
            verify(&any, &headers(EXPECTED), BODY, i64::MAX).map(|d| d.timestamp),
            Ok(Some(SENT))
        );
    }

    #[test]
    fn the_timestamp_must_be_in_the_signed_body() {
        let scheme = Linear::new(SECRET).unwrap();
        let check = |body: &[u8]| verify(&scheme, &signed(&scheme, body), body, SENT);
        // A fresh unsigned header does not help a stale or absent body field.
        let mut fresh_header = headers(EXPECTED);
        fresh_header.push(("Linear-Timestamp".into(), "1700000000000".into()));
        assert!(matches!(
            verify(&scheme, &fresh_header, BODY, 1_700_000_000),
            Err(VerifyError::TimestampOutOfTolerance { .. })
        ));
        assert_eq!(
            check(br#"{"type":"Issue","action":"create"}"#),
            Err(VerifyError::missing(TIMESTAMP_FIELD))
        );
        for body in [
            &br#"{"type":"Issue","webhookTimestamp":"soon"}"#[..],
            br#"{"type":"Issue","webhookTimestamp":"1677611643000"}"#,
            br#"{"type":"Issue","webhookTimestamp":null}"#,
            br#"{"type":"Issue","webhookTimestamp":-1}"#,
            br#"{"type":"Issue","webhookTimestamp":1.677611643e12}"#,
            br#"{"type":"Issue","webhookTimestamp":99999999999999999999999}"#,
            br#"{"webhookTimestamp":1677611643000,"webhookTimestamp":1677611643000}"#,
            b"not json",
            b"",
        ] {
            assert_eq!(
                check(body),
                Err(VerifyError::malformed(TIMESTAMP_FIELD)),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        // Milliseconds are rounded down to the second.
        assert_eq!(
            check(br#"{"type":"Issue","webhookTimestamp":1677611643999}"#).map(|d| d.timestamp),
            Ok(Some(SENT))
        );
        // A forged body is refused before it is parsed.
        assert_eq!(
            verify(&scheme, &headers(EXPECTED), b"not json", SENT),
            Err(VerifyError::InvalidSignature)
        );
    }

    #[test]
    fn round_trip_tampering_rotation_and_absurd_values() {
        let scheme = Linear::with_secrets(
            Secrets::new([Secret::new("next").unwrap(), Secret::new(SECRET).unwrap()]).unwrap(),
        );
        assert_eq!(
            verify(&scheme, &headers(EXPECTED), BODY, SENT).map(|d| d.secret),
            Ok(Some(1))
        );
        let body =
            br#"{"type":"Issue","action":"update","data":{},"webhookTimestamp":1700000000000}"#;
        let headers_signed = signed(&scheme, body);
        let request = Request::new("POST", "/", &headers_signed, body);
        let delivery = scheme
            .verify(&request, scheme.secrets(), 1_700_000_000)
            .unwrap();
        assert_eq!(
            (delivery.id.as_deref(), delivery.timestamp, delivery.secret),
            (Some(DELIVERY_ID), Some(1_700_000_000), Some(0))
        );
        assert_eq!(
            scheme.event_name(&request).unwrap().as_deref(),
            Some("Issue.update")
        );

        // One byte of the body, of the signed timestamp, of the signature.
        let mut tampered = BODY.to_vec();
        tampered[12] ^= 1;
        assert_eq!(
            verify(&scheme, &headers(EXPECTED), &tampered, SENT),
            Err(VerifyError::InvalidSignature)
        );
        let later = String::from_utf8(BODY.to_vec())
            .unwrap()
            .replace("1677611643000", "1677611644000");
        assert_eq!(
            verify(&scheme, &headers(EXPECTED), later.as_bytes(), SENT),
            Err(VerifyError::InvalidSignature)
        );
        let flipped = EXPECTED.replacen('8', "9", 1);
        assert_eq!(
            verify(&scheme, &headers(&flipped), BODY, SENT),
            Err(VerifyError::InvalidSignature)
        );
        // The unsigned delivery id may change; the fingerprint does not.
        let mut other_id = headers(EXPECTED);
        other_id[1].1 = "another".into();
        let first = verify(&scheme, &headers(EXPECTED), BODY, SENT).unwrap();
        let second = verify(&scheme, &other_id, BODY, SENT).unwrap();
        assert_eq!(first.fingerprint, second.fingerprint);
        // Linear's retry a minute later, stamped afresh: the same delivery.
        let retry = String::from_utf8_lossy(BODY).replace("1677611643000", "1677611703000");
        let retried = verify(
            &scheme,
            &signed(&scheme, retry.as_bytes()),
            retry.as_bytes(),
            SENT + 60,
        )
        .unwrap();
        assert_eq!(first.fingerprint, retried.fingerprint);
        // Another body is another delivery.
        let other = String::from_utf8_lossy(BODY).replacen("create", "update", 1);
        let another = verify(
            &scheme,
            &signed(&scheme, other.as_bytes()),
            other.as_bytes(),
            SENT,
        )
        .unwrap();
        assert_ne!(first.fingerprint, another.fingerprint);
        let mut twice = headers(EXPECTED);
        twice.push((DELIVERY.into(), "again".into()));
        assert_eq!(
            verify(&scheme, &twice, BODY, SENT),
            Err(VerifyError::malformed(DELIVERY))
        );
        assert_refuses_absurd_headers(&scheme, &headers(EXPECTED), &[SIGNATURE], BODY, SENT);
        assert!(!format!("{scheme:?}").contains(SECRET));
    }

    #[test]
    fn event_names() {
        let scheme = Linear::new(SECRET).unwrap();
        let name = |body: &[u8]| {
            let headers: [(&str, &str); 0] = [];
            scheme.event_name(&Request::new("POST", "/", &headers, body))
        };
        assert_eq!(
            name(br#"{"type":"IssueLabel","action":"remove"}"#)
                .unwrap()
                .as_deref(),
            Some("IssueLabel.remove")
        );
        // No action, or an empty one: the type alone.
        assert_eq!(
            name(br#"{"type":"OAuthApp"}"#).unwrap().as_deref(),
            Some("OAuthApp")
        );
        assert_eq!(
            name(br#"{"type":"OAuthApp","action":""}"#)
                .unwrap()
                .as_deref(),
            Some("OAuthApp")
        );
        for body in [
            &br#"{"action":"create"}"#[..],
            br#"{"type":"","action":"create"}"#,
            br#"{"type":{"name":"Issue"}}"#,
        ] {
            assert!(
                matches!(
                    name(body),
                    Err(EventNameError::Payload(e)) if e.to_string() == "the body has no event name: no string at `/type`"
                ),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        assert!(name(br#"{"type":"Issue","action":"a","action":"b"}"#).is_err());
        assert!(name(b"not json").is_err());
    }
}
