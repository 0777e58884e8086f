//! [Twitch EventSub](https://dev.twitch.tv/docs/eventsub/handling-webhook-events/)
//! webhooks.

use std::sync::OnceLock;
use std::time::Duration;

use crate::payload::PayloadError;
use crate::scheme::{
    check_mac, static_pointer, utf8, Delivery, Encoding, EventNameError, Header, JsonPointer,
    Message, Reply, Request, Scheme, SignError, SignatureHeader, Signer,
};
use crate::secret::{Secret, SecretError, Secrets};
use crate::verify::{Tolerance, VerifyError};

const ID: &str = "Twitch-Eventsub-Message-Id";
const TIMESTAMP: &str = "Twitch-Eventsub-Message-Timestamp";
const SIGNATURE: &str = "Twitch-Eventsub-Message-Signature";
const MESSAGE_TYPE: &str = "Twitch-Eventsub-Message-Type";
const SUBSCRIPTION_TYPE: &str = "Twitch-Eventsub-Subscription-Type";

/// `sha256=<hex HMAC-SHA256 of id, timestamp and body>`.
const HMAC: SignatureHeader = SignatureHeader::prefixed(SIGNATURE, "sha256=", Encoding::Hex);

/// Where the signed body names a notification's subscription type.
const SUBSCRIPTION_TYPE_IN_BODY: &str = "/subscription/type";

/// The message type of an event.
const NOTIFICATION: &[u8] = b"notification";
/// The message type of a revoked subscription.
const REVOCATION: &[u8] = b"revocation";
/// The message type of the challenge sent when a subscription is created.
const VERIFICATION: &[u8] = b"webhook_callback_verification";

/// Twitch's replay window: "make sure the value in the
/// `Twitch-Eventsub-Message-Timestamp` header isn't older than 10 minutes".
const DEFAULT_TOLERANCE: Duration = Duration::from_secs(10 * 60); // 10 minutes

/// The longest timestamp read, in bytes: `2023-07-19T10:11:12.123456789Z`
/// is 30, an offset adds 5.
const MAX_TIMESTAMP_LEN: usize = 64;

/// The longest `challenge` answered, in bytes.
const MAX_CHALLENGE: usize = 1024;

/// Twitch's EventSub webhook transport ([docs](https://dev.twitch.tv/docs/eventsub/handling-webhook-events/#verifying-the-event-message)).
///
/// Reads the headers `Twitch-Eventsub-Message-Id`,
/// `Twitch-Eventsub-Message-Timestamp` (RFC 3339, up to nanoseconds, e.g.
/// `2023-07-19T10:11:12.123456789Z`) and `Twitch-Eventsub-Message-Signature`
/// (`sha256=<hex>`). The signature is the HMAC-SHA256 of the id, the
/// timestamp and the body, concatenated as sent, keyed with the
/// subscription's secret as given. The timestamp must be within 10 minutes
/// of now, either way, as Twitch's docs ask (configurable); one that is not
/// RFC 3339 is `malformed_signature`.
///
/// - Delivery id: `Twitch-Eventsub-Message-Id`, signed, the same when
///   Twitch resends a message.
/// - Event name: a `notification` (`Twitch-Eventsub-Message-Type`) is named
///   by its signed body's `subscription.type` (`channel.follow`,
///   `stream.online`); a `revocation` is named `revocation` (the body's
///   `subscription` says which one, and its `status` why, e.g.
///   `authorization_revoked`). The type headers are not signed, so they
///   must agree with the signed body, or the request is refused
///   (`malformed_signature`): a notification has an `event`, a revocation
///   none and a `subscription.status` other than `enabled`, and
///   `Twitch-Eventsub-Subscription-Type`, when sent, is the body's
///   `subscription.type`. A captured notification cannot be sent again under
///   another type. Any other message type is refused the same way.
/// - The `webhook_callback_verification` challenge sent when a subscription
///   is created is answered by itself ([`Scheme::signed_reply`]), after the
///   signature is checked: 200 with the body's `challenge` as `text/plain`.
///   One without a string `challenge` (or one over 1024 bytes) is routed.
///
/// ```
/// use actix_webhook::scheme::{Message, Request, Scheme, Signer, Twitch};
///
/// let scheme = Twitch::new("subscription-secret")?;
/// let body = br#"{"subscription":{"type":"channel.follow"},"event":{"user_login":"cool_user"}}"#;
/// let message = Message { id: "befa7b53-d79d-478f-86b9-120f112b044e", timestamp: 1_700_000_000, event: "channel.follow", url: "", body };
/// let headers = scheme.try_sign(&message)?;
/// let request = Request::new("POST", "/twitch", &headers, body);
/// let delivery = scheme.verify(&request, scheme.secrets(), 1_700_000_010)?;
/// assert_eq!(delivery.id.as_deref(), Some("befa7b53-d79d-478f-86b9-120f112b044e"));
/// assert_eq!(delivery.timestamp, Some(1_700_000_000));
/// assert_eq!(scheme.event_name(&request)?.as_deref(), Some("channel.follow"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Twitch {
    secrets: Secrets,
    tolerance: Tolerance,
}

impl Twitch {
    /// The scheme with the secret given when the subscriptions were
    /// created.
    ///
    /// # Errors
    ///
    /// [`SecretError::Empty`] for an empty secret.
    pub fn new(secret: &str) -> Result<Self, SecretError> {
        Ok(Self::with_secrets(Secret::new(secret)?))
    }

    /// The scheme with several secrets, newest first (e.g. while
    /// subscriptions are recreated with a new secret).
    pub fn with_secrets(secrets: impl Into<Secrets>) -> Self {
        Self {
            secrets: secrets.into(),
            tolerance: Tolerance::new(DEFAULT_TOLERANCE),
        }
    }

    /// How far `Twitch-Eventsub-Message-Timestamp` may be from now (default
    /// 10 minutes).
    #[must_use]
    pub fn tolerance(mut self, tolerance: Tolerance) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// The `Twitch-Eventsub-Message-Signature` value for `body` with the
    /// message `id` and `timestamp` as sent (RFC 3339), signed with the
    /// first secret: `sha256=<hex>`.
    #[must_use]
    pub fn signature(&self, id: &str, timestamp: &str, body: &[u8]) -> String {
        HMAC.sign_hmac_sha256(&self.secrets, [id.as_bytes(), timestamp.as_bytes(), body])
    }
}

/// The unix seconds of an RFC 3339 timestamp as Twitch writes it; `None`
/// for anything else.
fn parse_rfc3339(value: &[u8]) -> Option<i64> {
    if value.len() > MAX_TIMESTAMP_LEN {
        return None;
    }
    let text = std::str::from_utf8(value).ok()?;
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|time| time.timestamp())
}

/// `timestamp` (unix seconds) as Twitch writes it, with nanoseconds.
fn rfc3339(timestamp: i64) -> String {
    chrono::DateTime::from_timestamp(timestamp, 0).map_or_else(String::new, |time| {
        time.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
    })
}

impl Scheme for Twitch {
    fn name(&self) -> &'static str {
        "twitch"
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
        let raw_id = request.require(ID)?;
        let raw_timestamp = request.require(TIMESTAMP)?;
        let candidate = HMAC.read::<32>(request)?;
        let timestamp =
            parse_rfc3339(raw_timestamp).ok_or_else(|| VerifyError::malformed(TIMESTAMP))?;
        let id = utf8(ID, raw_id)?;
        self.tolerance.check(timestamp, now)?;
        let signed = [raw_id, raw_timestamp, request.body()];
        let secret = check_mac(secrets, candidate.into_iter(), |secret| {
            secret.hmac_sha256(signed)
        })?;
        // The id is signed: it recognises a repeat.
        Ok(Delivery::new(Some(id), Some(timestamp)).verified_by(secret))
    }

    /// The body's `subscription.type` for a `notification`, `revocation`
    /// for a revocation, each checked against the unsigned type headers.
    fn event_name(&self, request: &Request<'_>) -> Result<Option<String>, EventNameError> {
        static EVENT: OnceLock<JsonPointer> = OnceLock::new();
        static TYPE: OnceLock<JsonPointer> = OnceLock::new();
        static STATUS: OnceLock<JsonPointer> = OnceLock::new();
        let body = request.body();
        let malformed = |header| EventNameError::Header(VerifyError::malformed(header));
        let message_type = request.require(MESSAGE_TYPE)?;
        let has_event = matches!(static_pointer(&EVENT, "/event").raw_in(body), Ok(Some(_)));
        if message_type == NOTIFICATION && has_event {
            let name = static_pointer(&TYPE, SUBSCRIPTION_TYPE_IN_BODY)
                .string_in(body)?
                .filter(|name| !name.is_empty())
                .ok_or_else(|| {
                    EventNameError::Payload(PayloadError::missing(format_args!(
                        "event name: no string at `{SUBSCRIPTION_TYPE_IN_BODY}`"
                    )))
                })?;
            return match request.header(SUBSCRIPTION_TYPE) {
                Header::Absent => Ok(Some(name)),
                Header::One(sent) if sent == name.as_bytes() => Ok(Some(name)),
                _ => Err(malformed(SUBSCRIPTION_TYPE)),
            };
        }
        let status = static_pointer(&STATUS, "/subscription/status").string_in(body)?;
        if message_type == REVOCATION && !has_event && status.is_some_and(|s| s != "enabled") {
            return Ok(Some("revocation".to_owned()));
        }
        Err(malformed(MESSAGE_TYPE))
    }

    /// Answers `webhook_callback_verification` with its `challenge`, as
    /// text.
    fn signed_reply(&self, request: &Request<'_>, _secret: &Secret) -> Option<Reply> {
        static CHALLENGE: OnceLock<JsonPointer> = OnceLock::new();
        if request.header(MESSAGE_TYPE).one()? != VERIFICATION {
            return None;
        }
        let raw = static_pointer(&CHALLENGE, "/challenge")
            .raw_in(request.body())
            .ok()??;
        // A bounded read: the raw JSON is at least as long as the string.
        if raw.get().len() > 2 + 6 * MAX_CHALLENGE {
            return None;
        }
        let challenge: String = serde_json::from_str(raw.get()).ok()?;
        if challenge.len() > MAX_CHALLENGE {
            return None;
        }
        Some(Reply::ok(
            "text/plain; charset=utf-8",
            challenge.into_bytes(),
        ))
    }
}

impl Signer for Twitch {
    /// `Twitch-Eventsub-Message-Id`, `Twitch-Eventsub-Message-Timestamp`
    /// (RFC 3339, with nanoseconds), `Twitch-Eventsub-Message-Signature`,
    /// `Twitch-Eventsub-Message-Type` and `Twitch-Eventsub-Subscription-Type`
    /// (the event). The type is `notification`, or the event itself when it
    /// is `webhook_callback_verification` or `revocation`, so that the
    /// command line and tests can send those too.
    fn sign(&self, message: &Message<'_>) -> Vec<(String, String)> {
        let timestamp = rfc3339(message.timestamp);
        let signature = self.signature(message.id, &timestamp, message.body);
        let message_type = match message.event {
            "webhook_callback_verification" | "revocation" => message.event,
            _ => "notification",
        };
        vec![
            (ID.into(), message.id.into()),
            (TIMESTAMP.into(), timestamp),
            (SIGNATURE.into(), signature),
            (MESSAGE_TYPE.into(), message_type.into()),
            (SUBSCRIPTION_TYPE.into(), message.event.into()),
        ]
    }

    /// A notification always names its subscription type, so the message
    /// needs an event name, e.g. `channel.follow`, which must be the body's
    /// `subscription.type` (not checked for `webhook_callback_verification`
    /// and `revocation`).
    fn check(&self, message: &Message<'_>) -> Result<(), SignError> {
        static TYPE: OnceLock<JsonPointer> = OnceLock::new();
        if message.event.is_empty() {
            return Err(SignError::MissingEvent {
                header: SUBSCRIPTION_TYPE,
            });
        }
        if matches!(
            message.event,
            "webhook_callback_verification" | "revocation"
        ) {
            return Ok(());
        }
        let found = static_pointer(&TYPE, SUBSCRIPTION_TYPE_IN_BODY)
            .string_in(message.body)
            .ok()
            .flatten();
        if found.as_deref() == Some(message.event) {
            Ok(())
        } else {
            Err(SignError::EventMismatch {
                event: message.event.to_owned(),
                pointer: SUBSCRIPTION_TYPE_IN_BODY.to_owned(),
                found,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheme::test_support::assert_refuses_absurd_headers;

    // Twitch's docs publish no signed example. This vector is Twitch4J's
    // (twitch4j/twitch4j, eventsub-common/src/test/java/com/github/twitch4j/
    // eventsub/util/EventSubVerifierTest.java, `validateSignature`),
    // checked with Python's hmac module.
    const SECRET: &str = "Twitch4J";
    const ID_VALUE: &str = "7d4c39a4-10b3-4166-b1fb-56130d1f693b";
    const TS: &str = "2020-12-13T14:15:16.1718Z";
    const TS_SECONDS: i64 = 1_607_868_916;
    const BODY: &[u8] = br#"{"hello":"world"}"#;
    const EXPECTED: &str =
        "sha256=2ac8d26bf60837663d8969f3cb4f22f685c8fa0a4b99d533c8bf622ed4596cc6";

    fn headers(id: &str, ts: &str, signature: &str) -> Vec<(String, String)> {
        vec![
            (ID.into(), id.into()),
            (TIMESTAMP.into(), ts.into()),
            (SIGNATURE.into(), signature.into()),
            (MESSAGE_TYPE.into(), "notification".into()),
            (SUBSCRIPTION_TYPE.into(), "channel.follow".into()),
        ]
    }

    fn verify(
        scheme: &Twitch,
        headers: &[(String, String)],
        body: &[u8],
        now: i64,
    ) -> Result<Delivery, VerifyError> {
        crate::scheme::test_support::verify(scheme, headers, body, now)
    }

    fn published() -> Vec<(String, String)> {
        headers(ID_VALUE, TS, EXPECTED)
    }

    #[test]
    fn twitch4j_vector_verifies() {
        let scheme = Twitch::new(SECRET).unwrap();
        assert_eq!(scheme.signature(ID_VALUE, TS, BODY), EXPECTED);
        assert_eq!(
            verify(&scheme, &published(), BODY, TS_SECONDS + 60),
            Ok(Delivery::new(Some(ID_VALUE.into()), Some(TS_SECONDS)).verified_by(0))
        );
        // Upper-case hex is the same signature.
        let upper = format!("sha256={}", EXPECTED[7..].to_uppercase());
        let upper = headers(ID_VALUE, TS, &upper);
        assert!(verify(&scheme, &upper, BODY, TS_SECONDS).is_ok());
    }

    #[test]
    fn timestamps_are_rfc3339_to_the_nanosecond() {
        assert_eq!(parse_rfc3339(TS.as_bytes()), Some(TS_SECONDS));
        assert_eq!(
            parse_rfc3339(b"2023-07-19T10:11:12.123456789Z"),
            Some(1_689_761_472)
        );
        assert_eq!(
            parse_rfc3339(b"2023-07-19T12:11:12+02:00"),
            Some(1_689_761_472)
        );
        for bad in [
            &b""[..],
            b"1689761472",
            b"2023-07-19",
            b"2023-07-19T10:11:12",
            b"2023-13-19T10:11:12Z",
            b"2023-07-19T10:11:12.Z",
            b"\xff2023-07-19T10:11:12Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{}", String::from_utf8_lossy(bad));
        }
        let long = format!("2023-07-19T10:11:12.{}Z", "1".repeat(60));
        assert_eq!(parse_rfc3339(long.as_bytes()), None);
        assert_eq!(rfc3339(1_689_761_472), "2023-07-19T10:11:12.000000000Z");
        assert_eq!(rfc3339(i64::MAX), "");

        let scheme = Twitch::new(SECRET).unwrap();
        let unparsable = headers(ID_VALUE, "2020-12-13 14:15:16", EXPECTED);
        assert_eq!(
            verify(&scheme, &unparsable, BODY, TS_SECONDS),
            Err(VerifyError::malformed(TIMESTAMP))
        );
    }

    #[test]
    fn tampering_rotation_and_freshness() {
        let scheme = Twitch::with_secrets(
            Secrets::new([
                Secret::new("recreated").unwrap(),
                Secret::new(SECRET).unwrap(),
            ])
            .unwrap(),
        );
        assert_eq!(
            verify(&scheme, &published(), BODY, TS_SECONDS).map(|d| d.secret),
            Ok(Some(1))
        );
        let invalid = Err(VerifyError::InvalidSignature);
        assert_eq!(
            verify(&scheme, &published(), br#"{"hello":"World"}"#, TS_SECONDS),
            invalid
        );
        let flipped = EXPECTED.replace("2ac8", "2ac9");
        let flipped = headers(ID_VALUE, TS, &flipped);
        assert_eq!(verify(&scheme, &flipped, BODY, TS_SECONDS), invalid);
        // The timestamp as sent is signed: the same instant written
        // otherwise is another message.
        let ts = headers(ID_VALUE, "2020-12-13T14:15:16.1719Z", EXPECTED);
        assert_eq!(verify(&scheme, &ts, BODY, TS_SECONDS), invalid);
        let same_instant = headers(ID_VALUE, "2020-12-13T14:15:16.17180Z", EXPECTED);
        assert_eq!(verify(&scheme, &same_instant, BODY, TS_SECONDS), invalid);
        let id = headers("7d4c39a4-10b3-4166-b1fb-56130d1f693c", TS, EXPECTED);
        assert_eq!(verify(&scheme, &id, BODY, TS_SECONDS), invalid);
        for bad in [
            &EXPECTED[7..],
            "sha1=ab",
            "sha256=",
            "sha256=zz",
            "SHA256=ab",
        ] {
            assert_eq!(
                verify(&scheme, &headers(ID_VALUE, TS, bad), BODY, TS_SECONDS),
                Err(VerifyError::malformed(SIGNATURE)),
                "{bad}"
            );
        }
        // 10 minutes either way, then configurable.
        for now in [TS_SECONDS - 601, TS_SECONDS + 601] {
            assert!(matches!(
                verify(&scheme, &published(), BODY, now),
                Err(VerifyError::TimestampOutOfTolerance { .. })
            ));
        }
        assert!(verify(&scheme, &published(), BODY, TS_SECONDS + 600).is_ok());
        let strict = scheme
            .clone()
            .tolerance(Tolerance::new(Duration::from_secs(60)));
        assert!(verify(&strict, &published(), BODY, TS_SECONDS + 61).is_err());
        assert_refuses_absurd_headers(
            &scheme,
            &published(),
            &[SIGNATURE, TIMESTAMP, ID],
            BODY,
            TS_SECONDS,
        );
    }

    #[test]
    fn round_trip_and_event_names() {
        let scheme = Twitch::new("s3cret-for-subscriptions").unwrap();
        let body = br#"{"subscription":{"type":"stream.online"},"event":{}}"#;
        let message = Message {
            id: "msg-1",
            timestamp: 1_689_761_472,
            event: "stream.online",
            url: "",
            body,
        };
        let signed = scheme.try_sign(&message).unwrap();
        assert!(signed.contains(&(TIMESTAMP.into(), "2023-07-19T10:11:12.000000000Z".into())));
        let request = Request::new("POST", "/", &signed, body);
        assert_eq!(
            scheme.verify(&request, scheme.secrets(), 1_689_761_472),
            Ok(Delivery::new(Some("msg-1".into()), Some(1_689_761_472)).verified_by(0))
        );
        assert_eq!(
            scheme.event_name(&request).unwrap().as_deref(),
            Some("stream.online")
        );
        assert_eq!(
            scheme.try_sign(&Message {
                event: "",
                ..message
            }),
            Err(SignError::MissingEvent {
                header: SUBSCRIPTION_TYPE
            })
        );

        // What each message type's body is, by Twitch's examples' shapes.
        let notification = br#"{"subscription":{"type":"channel.follow","status":"enabled"},"event":{"user_login":"a"}}"#;
        let revocation =
            br#"{"subscription":{"type":"channel.follow","status":"authorization_revoked"}}"#;
        let verification = br#"{"challenge":"x","subscription":{"type":"channel.follow","status":"webhook_callback_verification_pending"}}"#;
        let name = |headers: &[(&str, &str)], body: &[u8]| {
            scheme
                .event_name(&Request::new("POST", "/", &headers, body))
                .map_err(|error| error.to_string())
        };
        let notify = (MESSAGE_TYPE, "notification");
        let follow = (SUBSCRIPTION_TYPE, "channel.follow");
        assert_eq!(
            name(&[notify, follow], notification),
            Ok(Some("channel.follow".into()))
        );
        assert_eq!(
            name(&[notify], notification),
            Ok(Some("channel.follow".into()))
        );
        let revoke = (MESSAGE_TYPE, "revocation");
        assert_eq!(
            name(&[revoke, follow], revocation),
            Ok(Some("revocation".into()))
        );
        // The type headers are not signed: a captured notification sent
        // again under another type, or the other way round, is refused.
        let malformed = |header: &str| Err(format!("malformed header `{header}`"));
        assert_eq!(
            name(&[revoke, follow], notification),
            malformed(MESSAGE_TYPE)
        );
        assert_eq!(name(&[notify, follow], revocation), malformed(MESSAGE_TYPE));
        assert_eq!(
            name(&[notify, (SUBSCRIPTION_TYPE, "channel.ban")], notification),
            malformed(SUBSCRIPTION_TYPE)
        );
        let verify = (MESSAGE_TYPE, "webhook_callback_verification");
        assert_eq!(
            name(&[verify, follow], notification),
            malformed(MESSAGE_TYPE)
        );
        // An unanswered challenge is not routed either, nor an unknown type.
        assert_eq!(
            name(&[verify, follow], verification),
            malformed(MESSAGE_TYPE)
        );
        assert_eq!(
            name(&[(MESSAGE_TYPE, "other"), follow], notification),
            malformed(MESSAGE_TYPE)
        );
        // A revocation whose subscription is still enabled is not one.
        let enabled = br#"{"subscription":{"type":"channel.follow","status":"enabled"}}"#;
        assert_eq!(name(&[revoke], enabled), malformed(MESSAGE_TYPE));
        assert!(name(&[notify], br#"{"event":{}}"#).is_err());
        assert!(name(&[follow], notification).is_err());
        assert!(name(&[(MESSAGE_TYPE, "")], notification).is_err());
        // The sender's side: the event must be the body's subscription type.
        assert!(matches!(
            scheme.try_sign(&Message {
                event: "channel.ban",
                ..message
            }),
            Err(SignError::EventMismatch { .. })
        ));
    }

    #[test]
    fn the_challenge_is_answered_as_text() {
        let scheme = Twitch::new("s3cret-for-subscriptions").unwrap();
        let secret = scheme.secrets().primary();
        let answer = |message_type: &str, body: &[u8]| {
            let mut headers = scheme.sign(&Message {
                id: "msg-2",
                timestamp: 1_689_761_472,
                event: "channel.follow",
                url: "",
                body,
            });
            headers[3].1 = message_type.into();
            let request = Request::new("POST", "/", &headers, body);
            scheme
                .verify(&request, scheme.secrets(), 1_689_761_472)
                .ok()?;
            scheme.signed_reply(&request, secret)
        };
        // The shape of Twitch's example ("Responding to a challenge
        // request").
        let body = br#"{"challenge":"pogchamp-kappa-360noscope-vohiyo","subscription":{"id":"f1c2a387-161a-49f9-a165-0f21d7a4e1c4","status":"webhook_callback_verification_pending","type":"channel.follow","version":"1"}}"#;
        let reply = answer("webhook_callback_verification", body).unwrap();
        assert_eq!(reply.status, 200);
        assert_eq!(reply.content_type, "text/plain; charset=utf-8");
        assert_eq!(reply.body, b"pogchamp-kappa-360noscope-vohiyo");
        assert_eq!(answer("notification", body), None);
        assert_eq!(answer("revocation", body), None);
        let at_most = format!(r#"{{"challenge":"{}"}}"#, "c".repeat(MAX_CHALLENGE));
        assert!(answer("webhook_callback_verification", at_most.as_bytes()).is_some());
        let long = format!(r#"{{"challenge":"{}"}}"#, "c".repeat(MAX_CHALLENGE + 1));
        for body in [
            long.as_bytes(),
            br#"{"challenge":42}"#,
            br#"{"subscription":{}}"#,
            br#"{"challenge":"a","challenge":"b"}"#,
            b"not json",
        ] {
            assert_eq!(
                answer("webhook_callback_verification", body),
                None,
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }
}
