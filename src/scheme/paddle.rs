//! [Paddle Billing](https://developer.paddle.com/webhooks/signature-verification)
//! webhooks.

use std::sync::OnceLock;
use std::time::Duration;

use crate::scheme::{
    any_hex_mac_matches, hmac_sha256, json_string, key_values, only_value, static_pointer,
    Delivery, EventName, EventNameError, JsonPointer, Message, Request, Scheme, Signer,
};
use crate::secret::{Secret, SecretError, Secrets};
use crate::verify::{parse_timestamp, Tolerance, VerifyError};

const SIGNATURE: &str = "Paddle-Signature";

/// The replay window of Paddle's SDKs.
const DEFAULT_TOLERANCE: Duration = Duration::from_secs(5); // 5 seconds

/// Paddle Billing's webhook scheme ([docs](https://developer.paddle.com/webhooks/signature-verification)).
///
/// Reads one header, `Paddle-Signature: ts=<unix>;h1=<hex>[;h1=<hex>...]`.
/// Each `h1` is the hex HMAC-SHA256 of `ts:body`, keyed with the
/// notification destination's secret key as given (`pdl_ntfset_...`). Any
/// one `h1` matching any secret is enough, in any order (Paddle sends one per
/// active secret while a key is rotated); other keys are ignored. The
/// timestamp must be within **5 seconds**, the default of Paddle's SDKs
/// (configurable: loosen it if your clock or queue lags).
///
/// The delivery id is the body's `event_id` and the event name its
/// `event_type` (`transaction.completed`).
///
/// A header without exactly one `ts=<digits>` or without any `h1` is
/// `malformed_signature`, as Paddle's SDKs refuse it ("Invalid webhook
/// signature") before computing anything.
///
/// ```
/// use std::time::Duration;
/// use actix_webhook::{scheme::Paddle, verify::Tolerance};
///
/// let scheme = Paddle::new("pdl_ntfset_01gkpjp8bkm3tm53kdgkx6sms7_6h3qd3uFSi9YCD3OLYAShQI90XTI5vEI")?
///     .tolerance(Tolerance::new(Duration::from_secs(30)));
/// # Ok::<(), actix_webhook::SecretError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Paddle {
    secrets: Secrets,
    tolerance: Tolerance,
}

impl Paddle {
    /// The scheme with the destination's secret key.
    ///
    /// # Errors
    ///
    /// [`SecretError::Empty`] for an empty secret.
    pub fn new(secret_key: &str) -> Result<Self, SecretError> {
        Ok(Self::with_secrets(Secret::new(secret_key)?))
    }

    /// The scheme with several secret keys, newest first.
    pub fn with_secrets(secrets: impl Into<Secrets>) -> Self {
        Self {
            secrets: secrets.into(),
            tolerance: Tolerance::new(DEFAULT_TOLERANCE),
        }
    }

    /// How far `ts` may be from now (default 5 seconds, as Paddle's SDKs).
    #[must_use]
    pub fn tolerance(mut self, tolerance: Tolerance) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// The `Paddle-Signature` value for `body` at `timestamp`, signed with
    /// the first secret: `ts=<timestamp>;h1=<hex>`.
    #[must_use]
    pub fn signature(&self, timestamp: i64, body: &[u8]) -> String {
        let ts = timestamp.to_string();
        let mac = hmac_sha256(self.secrets.primary().expose(), [ts.as_bytes(), b":", body]);
        format!("ts={ts};h1={}", hex::encode(mac))
    }
}

impl Scheme for Paddle {
    fn name(&self) -> &'static str {
        "paddle"
    }

    fn secrets(&self) -> &Secrets {
        &self.secrets
    }

    fn id_in_body(&self) -> Option<&'static str> {
        Some("/event_id")
    }

    fn verify(
        &self,
        request: &Request<'_>,
        secrets: &Secrets,
        now: i64,
    ) -> Result<Delivery, VerifyError> {
        let header = request.require(SIGNATURE)?;
        let malformed = || VerifyError::malformed(SIGNATURE);

        let raw_timestamp = only_value(header, b';', b"ts").ok_or_else(malformed)?;
        let timestamp = parse_timestamp(raw_timestamp).ok_or_else(malformed)?;
        if !key_values(header, b';').any(|(key, value)| key == b"h1" && !value.is_empty()) {
            return Err(malformed());
        }
        self.tolerance.check(timestamp, now)?;

        let signed = [raw_timestamp, b":", request.body()];
        if !any_hex_mac_matches(header, b';', b"h1", secrets, signed) {
            return Err(VerifyError::InvalidSignature);
        }
        static EVENT_ID: OnceLock<JsonPointer> = OnceLock::new();
        let id = json_string(request.body(), static_pointer(&EVENT_ID, "/event_id"));
        Ok(Delivery::new(id, Some(timestamp)).fingerprint_if_no_id(signed))
    }

    fn event_name(&self, request: &Request<'_>) -> Result<Option<String>, EventNameError> {
        static EVENT_TYPE: OnceLock<JsonPointer> = OnceLock::new();
        EventName::Json(static_pointer(&EVENT_TYPE, "/event_type").clone()).find(request)
    }
}

impl Signer for Paddle {
    /// `Paddle-Signature` only: the id and event name travel in the body.
    fn sign(&self, message: &Message<'_>) -> Vec<(String, String)> {
        vec![(
            SIGNATURE.into(),
            self.signature(message.timestamp, message.body),
        )]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheme::test_support::assert_refuses_absurd_headers;
    use crate::secret::Secret;

    // paddle-node-sdk's fixed vectors (src/__tests__/notifications/
    // webhooks-validator.test.ts, https://github.com/PaddleHQ/paddle-node-sdk):
    // secret "VALID_SECRET", ts=1698796800 (2023-11-01T00:00:00Z).
    const SECRET: &str = "VALID_SECRET";
    const TS: i64 = 1_698_796_800;
    const BODY: &[u8] = br#"{"data": ["1", "2"]}"#;
    const HEADER: &str =
        "ts=1698796800;h1=a300428748dce5c70e4da19bffd60769591ea969c99dea3105d0ec9612cf43f9";
    const BODY_2: &[u8] = br#"{"data": "value"}"#;
    const HEADER_2: &str = "ts=1698796800;h1=28981e941fae76e53db32f3d2a83cb69db41476595e84e1970a1b5d98f62b261;h1=28981e941fae76e53db32f3d2a83cb69db41476595e84e1970a1b5d98f62b261;h2=RANDOM_HASH";

    fn verify(
        scheme: &Paddle,
        header: &str,
        body: &[u8],
        now: i64,
    ) -> Result<Delivery, VerifyError> {
        let headers = [(SIGNATURE, header)];
        scheme.verify(
            &Request::new("POST", "/", &headers, body),
            scheme.secrets(),
            now,
        )
    }

    #[test]
    fn sdk_vectors() {
        let scheme = Paddle::new(SECRET).unwrap();
        assert_eq!(scheme.signature(TS, BODY), HEADER);
        // "Valid signature", and the SDK's time cases: +1 s, +5 s, +6 s, days.
        assert_eq!(
            verify(&scheme, HEADER, BODY, TS),
            Ok(Delivery::new(None, Some(TS)).fingerprint_of([
                TS.to_string().as_bytes(),
                b":",
                BODY
            ]))
        );
        assert!(verify(&scheme, HEADER, BODY, TS + 1).is_ok());
        assert!(verify(&scheme, HEADER, BODY, TS + 5).is_ok());
        for late in [TS + 6, TS + 4 * 86_400] {
            assert!(matches!(
                verify(&scheme, HEADER, BODY, late),
                Err(VerifyError::TimestampOutOfTolerance { .. })
            ));
        }
        // "Valid signature with multiple hashes".
        assert!(verify(&scheme, HEADER_2, BODY_2, TS).is_ok());
        // "Invalid secret", "Invalid data - has more space".
        let wrong = Paddle::new("INVALID_VALID_SECRET").unwrap();
        assert_eq!(
            verify(&wrong, HEADER, BODY, TS),
            Err(VerifyError::InvalidSignature)
        );
        assert_eq!(
            verify(&scheme, HEADER, br#"{ "data": [ "1", "2" ]}"#, TS),
            Err(VerifyError::InvalidSignature)
        );
        // "Invalid signature": not hex, cannot match.
        assert_eq!(
            verify(&scheme, "ts=1698796800;h1=invalid_signature", BODY, TS),
            Err(VerifyError::InvalidSignature)
        );
        // "validate header": Missing TS and H1, Missing TS, Missing H1.
        for bad in [
            "invalid_header",
            "h1=invalid_header",
            "ts=1234;h2=invalid_header",
        ] {
            assert_eq!(
                verify(&scheme, bad, BODY, TS),
                Err(VerifyError::malformed(SIGNATURE)),
                "{bad}"
            );
        }
    }

    #[test]
    fn round_trip_tampering_rotation_and_absurd_values() {
        let scheme = Paddle::with_secrets(
            Secrets::new([
                Secret::new("pdl_new").unwrap(),
                Secret::new(SECRET).unwrap(),
            ])
            .unwrap(),
        );
        assert!(verify(&scheme, HEADER, BODY, TS).is_ok());
        let body = br#"{"event_id":"evt_01h","event_type":"transaction.completed","data":{}}"#;
        let header = scheme
            .sign(&Message {
                id: "",
                timestamp: TS,
                event: "",
                url: "",
                body,
            })
            .remove(0)
            .1;
        let headers = [(SIGNATURE, header.as_str())];
        let request = Request::new("POST", "/", &headers, body);
        assert_eq!(
            scheme.verify(&request, scheme.secrets(), TS),
            Ok(Delivery::new(Some("evt_01h".into()), Some(TS)))
        );
        assert_eq!(
            scheme.event_name(&request).unwrap().as_deref(),
            Some("transaction.completed")
        );
        // Rotation: the old key's h1 after a stranger's, spaces allowed.
        let old = Paddle::new(SECRET).unwrap().signature(TS, body);
        let stranger = Paddle::new("stranger").unwrap().signature(TS, body);
        let both = format!("{stranger}; {}", &old[old.find("h1").unwrap()..]);
        assert!(verify(&scheme, &both, body, TS).is_ok());
        assert_eq!(
            verify(&scheme, &stranger, body, TS),
            Err(VerifyError::InvalidSignature)
        );
        assert_eq!(
            verify(&scheme, &header, &body[..body.len() - 1], TS),
            Err(VerifyError::InvalidSignature)
        );
        let moved = header.replacen(&TS.to_string(), &(TS + 1).to_string(), 1);
        assert_eq!(
            verify(&scheme, &moved, body, TS),
            Err(VerifyError::InvalidSignature)
        );
        let flipped = format!(
            "{}{}",
            &header[..header.len() - 1],
            if header.ends_with('0') { '1' } else { '0' }
        );
        assert_eq!(
            verify(&scheme, &flipped, body, TS),
            Err(VerifyError::InvalidSignature)
        );
        assert_eq!(
            verify(&scheme, &format!("{header};ts=1"), body, TS),
            Err(VerifyError::malformed(SIGNATURE))
        );
        assert!(matches!(
            verify(&scheme, &header, body, TS - 6),
            Err(VerifyError::TimestampOutOfTolerance { .. })
        ));
        let headers = vec![(SIGNATURE.to_owned(), header)];
        assert_refuses_absurd_headers(&scheme, &headers, &[SIGNATURE], body, TS);
    }
}
