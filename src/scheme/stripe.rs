//! [Stripe](https://docs.stripe.com/webhooks#verify-events) webhooks.

use std::sync::LazyLock;
use std::time::Duration;

use crate::scheme::{pointer, timestamped_preset, EventName, Format, TimestampedHmac, WithoutMac};
use crate::verify::Tolerance;

const SIGNATURE: &str = "Stripe-Signature";

/// How Stripe signs; see [`Stripe`].
static FORMAT: Format = Format {
    name: "stripe",
    type_name: "Stripe",
    header: SIGNATURE,
    separator: b',',
    timestamp: "t",
    mac: "v1",
    joiner: ".",
    without_mac: WithoutMac::Invalid,
    id: LazyLock::new(|| pointer::constant("/id")),
    event_name: LazyLock::new(|| EventName::json_at("/type")),
    tolerance: Tolerance::new(Duration::from_secs(5 * 60)), // 5 minutes
};

/// Stripe's webhook scheme ([docs](https://docs.stripe.com/webhooks#verify-events)).
///
/// Reads one header, `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>...]`.
/// Each `v1` is the hex HMAC-SHA256 of `t.body`, keyed with the endpoint's
/// signing secret **as the whole string** (`whsec_...` used as is, not
/// base64-decoded as [`StandardWebhooks`](crate::scheme::StandardWebhooks)
/// does). Any one `v1` matching any secret is enough, in any order; other
/// schemes (the test-mode `v0`) are ignored, as Stripe asks, to prevent
/// downgrade attacks. The timestamp must be within 5 minutes, the default of
/// Stripe's SDKs (configurable).
///
/// The delivery id is the body's `id` (`evt_...`, the same on every retry)
/// and the event name its `type` (`payment_intent.succeeded`).
///
/// Errors: no header is `missing_signature`; a header without exactly one
/// `t=<digits>` is `malformed_signature` (Stripe's SDKs: "Unable to extract
/// timestamp and signatures from header"). A header with no `v1` at all
/// (Stripe's SDKs: "No signatures found with expected scheme") is
/// `invalid_signature`, as stripe-dotnet reports it: the header is readable,
/// it just carries no signature this receiver accepts.
///
/// ```
/// use actix_webhook::scheme::{Request, Scheme, Stripe};
///
/// let scheme = Stripe::new("whsec_test_secret")?;
/// let body = br#"{"id":"evt_1","type":"invoice.paid"}"#;
/// let header = scheme.signature(1_700_000_000, body);
/// let headers = [("Stripe-Signature", header.as_str())];
/// let request = Request::new("POST", "/stripe", &headers, body);
/// let delivery = scheme.verify(&request, scheme.secrets(), 1_700_000_030)?;
/// assert_eq!(delivery.id.as_deref(), Some("evt_1"));
/// assert_eq!(scheme.event_name(&request)?.as_deref(), Some("invoice.paid"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Stripe(TimestampedHmac);

timestamped_preset! {
    Stripe {
        /// The scheme with one signing secret, e.g. `whsec_...`.
        new;
        /// The scheme with several secrets, newest first: during a roll of the
        /// endpoint secret Stripe signs with both and sends a `v1` for each.
        with_secrets;
        /// How far `t` may be from now (default 5 minutes, as Stripe's SDKs).
        tolerance;
        /// The `Stripe-Signature` value for `body` at `timestamp`, signed with
        /// the first secret: `t=<timestamp>,v1=<hex>`.
        signature;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheme::test_support::assert_refuses_absurd_headers;
    use crate::scheme::{hmac_sha256, Delivery, Message, Request, Scheme, Signer};
    use crate::secret::{Secret, Secrets};
    use crate::verify::VerifyError;

    // stripe-dotnet's fixed vector (src/StripeTests/Services/Events/
    // EventUtilityTest.cs with src/StripeTests/Resources/event_test_signature.json,
    // https://github.com/stripe/stripe-dotnet): secret "webhook_secret",
    // t=1533204620, the JSON file below including its final newline.
    const DOTNET_SECRET: &str = "webhook_secret";
    const DOTNET_TIMESTAMP: i64 = 1_533_204_620;
    const DOTNET_HEADER: &str = "t=1533204620,v1=2220f87ef101a04665f11cdf770523143f875572008577fa0f20882ddb9cc3c7,v0=63f3a72374a733066c4be69ed7f8e5ac85c22c9f0a6a612ab9a025a9e4ee7eef";
    const DOTNET_BODY: &str = r#"{
  "id": "evt_123",
  "object": "event",
  "account": "acct_123",
  "api_version": "2017-05-25",
  "created": 1533204620,
  "data": {
    "object": {
      "id": "cus_123",
      "object": "customer",
      "created": 123456789,
      "email": "test@stripe.com",
      "livemode": false,
      "metadata": {}
    }
  },
  "livemode": false,
  "pending_webhooks": 1,
  "request": {
    "id": "req_123",
    "idempotency_key": "idempotency-key-123"
  },
  "type": "customer.created"
}
"#;

    fn verify(
        scheme: &Stripe,
        header: &str,
        body: &[u8],
        now: i64,
    ) -> Result<Delivery, VerifyError> {
        crate::scheme::test_support::verify(scheme, &[(SIGNATURE, header)], body, now)
    }

    #[test]
    fn stripe_dotnet_vector_verifies() {
        let scheme = Stripe::new(DOTNET_SECRET).unwrap();
        let body = DOTNET_BODY.as_bytes();
        let delivery = verify(&scheme, DOTNET_HEADER, body, DOTNET_TIMESTAMP + 100).unwrap();
        assert_eq!(
            delivery,
            Delivery::new(Some("evt_123".into()), Some(DOTNET_TIMESTAMP)).verified_by(0)
        );
        assert!(DOTNET_HEADER.starts_with(&scheme.signature(DOTNET_TIMESTAMP, body)));
        let headers = [(SIGNATURE, DOTNET_HEADER)];
        assert_eq!(
            scheme
                .event_name(&Request::new("POST", "/", &headers, body))
                .unwrap()
                .as_deref(),
            Some("customer.created")
        );
        // stripe-dotnet's RejectOutdatedTimestamp: 400 s later, tolerance 300.
        assert!(matches!(
            verify(&scheme, DOTNET_HEADER, body, DOTNET_TIMESTAMP + 400),
            Err(VerifyError::TimestampOutOfTolerance { .. })
        ));
        // RejectIncorrectSignature: the body changed.
        let changed = format!("{DOTNET_BODY}this_changes_the_json");
        assert_eq!(
            verify(&scheme, DOTNET_HEADER, changed.as_bytes(), DOTNET_TIMESTAMP),
            Err(VerifyError::InvalidSignature)
        );
    }

    #[test]
    fn whsec_secrets_are_used_whole() {
        // The same `whsec_` string a Standard Webhooks scheme would decode.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let scheme = Stripe::new(secret).unwrap();
        let header = scheme.signature(1000, b"{}");
        let expected = hmac_sha256(secret.as_bytes(), [&b"1000.{}"[..]]);
        assert_eq!(header, format!("t=1000,v1={}", hex::encode(expected)));
        assert!(verify(&scheme, &header, b"{}", 1000).is_ok());
    }

    #[test]
    fn signatures_in_any_order_and_other_schemes() {
        let scheme = Stripe::new(DOTNET_SECRET).unwrap();
        let body = DOTNET_BODY.as_bytes();
        let good = "2220f87ef101a04665f11cdf770523143f875572008577fa0f20882ddb9cc3c7";
        let now = DOTNET_TIMESTAMP;
        for header in [
            format!("v1=bad_signature,t=1533204620,v1={good}"),
            format!("t=1533204620, v0=00, v1={}, v1={good}", "ab".repeat(32)),
            format!("t=1533204620,v2=xyz,v1={good},junk"),
        ] {
            assert!(verify(&scheme, &header, body, now).is_ok(), "{header}");
        }
        // Only the test-mode `v0` (with the right MAC): not accepted.
        assert_eq!(
            verify(&scheme, &format!("t=1533204620,v0={good}"), body, now),
            Err(VerifyError::InvalidSignature)
        );
        assert_eq!(
            verify(&scheme, "t=1533204620", body, now),
            Err(VerifyError::InvalidSignature)
        );
        // stripe-dotnet's ValidateSignatureHandlesIncorrectHeaderValues.
        for bad in [
            "t=,v1=2220f87ef101a04665f11cdf770523143f875572008577fa0f20882ddb9cc3c7",
            "t,v1=,v0=",
            "t,v1=,v0",
            "t,v1=,",
            "t,,",
            ",,",
            "t",
            "i'm not even a real signature header",
            "t=1533204620,t=1533204620,v1=00",
            "t=-5,v1=00",
            "t=1e9,v1=00",
        ] {
            assert_eq!(
                verify(&scheme, bad, body, now),
                Err(VerifyError::malformed(SIGNATURE)),
                "{bad}"
            );
        }
    }

    #[test]
    fn round_trip_tampering_and_rotation() {
        let scheme = Stripe::with_secrets(
            Secrets::new([
                Secret::new("whsec_new").unwrap(),
                Secret::new("whsec_old").unwrap(),
            ])
            .unwrap(),
        );
        let body = br#"{"id":"evt_9","type":"charge.refunded"}"#;
        let message = Message {
            id: "ignored",
            timestamp: 2000,
            event: "",
            url: "",
            body,
        };
        let header = scheme.sign(&message).remove(0).1;
        assert_eq!(
            verify(&scheme, &header, body, 2000),
            Ok(Delivery::new(Some("evt_9".into()), Some(2000)).verified_by(0))
        );
        let old = Stripe::new("whsec_old").unwrap().signature(2000, body);
        assert_eq!(
            verify(&scheme, &old, body, 2000).map(|d| d.secret),
            Ok(Some(1))
        );
        // Both signatures in one header, as Stripe sends during a roll: the
        // newer secret is the one reported.
        let both = format!("{header},v1={}", &old[old.find("v1=").unwrap() + 3..]);
        assert_eq!(
            verify(&scheme, &both, body, 2000).map(|d| d.secret),
            Ok(Some(0))
        );
        let stranger = Stripe::new("whsec_other").unwrap().signature(2000, body);
        assert_eq!(
            verify(&scheme, &stranger, body, 2000),
            Err(VerifyError::InvalidSignature)
        );

        assert_eq!(
            verify(
                &scheme,
                &header,
                br#"{"id":"evt_9","type":"charge.refunded "}"#,
                2000
            ),
            Err(VerifyError::InvalidSignature)
        );
        let moved = header.replace("t=2000", "t=2001");
        assert_eq!(
            verify(&scheme, &moved, body, 2000),
            Err(VerifyError::InvalidSignature)
        );
        let flipped = format!("{}0", &header[..header.len() - 1]);
        let flipped = if flipped == header {
            format!("{}1", &header[..header.len() - 1])
        } else {
            flipped
        };
        assert_eq!(
            verify(&scheme, &flipped, body, 2000),
            Err(VerifyError::InvalidSignature)
        );
        assert!(matches!(
            verify(&scheme, &header, body, 2301),
            Err(VerifyError::TimestampOutOfTolerance { .. })
        ));
        assert!(Stripe::new("whsec_new")
            .unwrap()
            .tolerance(Tolerance::disabled())
            .verify(
                &Request::new("POST", "/", &[(SIGNATURE, header.as_str())], body),
                &Secrets::from(Secret::new("whsec_new").unwrap()),
                i64::MAX
            )
            .is_ok());
        // Not JSON: still genuine, just without an id.
        let plain = scheme.signature(2000, b"plain");
        assert_eq!(
            verify(&scheme, &plain, b"plain", 2000),
            Ok(Delivery::new(None, Some(2000))
                .fingerprint_of([&b"2000.plain"[..]])
                .verified_by(0))
        );
        let headers = vec![(SIGNATURE.to_owned(), header)];
        assert_refuses_absurd_headers(&scheme, &headers, &[SIGNATURE], body, 2000);
    }
}
