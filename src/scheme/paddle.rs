//! [Paddle Billing](https://developer.paddle.com/webhooks/signature-verification)
//! webhooks.

use std::sync::LazyLock;
use std::time::Duration;

use crate::scheme::{pointer, timestamped_preset, EventName, Format, TimestampedHmac, WithoutMac};
use crate::verify::Tolerance;

const SIGNATURE: &str = "Paddle-Signature";

/// How Paddle signs; see [`Paddle`].
static FORMAT: Format = Format {
    name: "paddle",
    type_name: "Paddle",
    header: SIGNATURE,
    separator: b';',
    timestamp: "ts",
    mac: "h1",
    joiner: ":",
    without_mac: WithoutMac::Malformed,
    id: LazyLock::new(|| pointer::constant("/event_id")),
    event_name: LazyLock::new(|| EventName::json_at("/event_type")),
    // The replay window of Paddle's SDKs.
    tolerance: Tolerance::new(Duration::from_secs(5)), // 5 seconds
};

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
#[derive(Clone)]
pub struct Paddle(TimestampedHmac);

timestamped_preset! {
    Paddle {
        /// The scheme with the destination's secret key.
        new;
        /// The scheme with several secret keys, newest first.
        with_secrets;
        /// How far `ts` may be from now (default 5 seconds, as Paddle's SDKs).
        tolerance;
        /// The `Paddle-Signature` value for `body` at `timestamp`, signed with
        /// the first secret: `ts=<timestamp>;h1=<hex>`.
        signature;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheme::test_support::assert_refuses_absurd_headers;
    use crate::scheme::{Delivery, Message, Request, Scheme, Signer};
    use crate::secret::{Secret, Secrets};
    use crate::verify::VerifyError;

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
        crate::scheme::test_support::verify(scheme, &[(SIGNATURE, header)], body, now)
    }

    #[test]
    fn sdk_vectors() {
        let scheme = Paddle::new(SECRET).unwrap();
        assert_eq!(scheme.signature(TS, BODY), HEADER);
        // "Valid signature", and the SDK's time cases: +1 s, +5 s, +6 s, days.
        assert_eq!(
            verify(&scheme, HEADER, BODY, TS),
            Ok(Delivery::new(None, Some(TS))
                .fingerprint_of([TS.to_string().as_bytes(), b":", BODY])
                .verified_by(0))
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
        // The old secret, second in the set.
        assert_eq!(
            verify(&scheme, HEADER, BODY, TS).map(|d| d.secret),
            Ok(Some(1))
        );
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
            Ok(Delivery::new(Some("evt_01h".into()), Some(TS)).verified_by(0))
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
