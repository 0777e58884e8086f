//! [Slack](https://api.slack.com/authentication/verifying-requests-from-slack)
//! Events API, slash commands and interactivity requests.

use std::sync::OnceLock;

use crate::payload::PayloadError;
use crate::scheme::{
    json_string, static_pointer, Delivery, EventNameError, Headers, JsonPointer, Message, Reply,
    Request, Scheme, Signer, V0,
};
use crate::secret::{Secret, SecretError, Secrets};
use crate::verify::{Tolerance, VerifyError};

const SIGNATURE: &str = "X-Slack-Signature";
const TIMESTAMP: &str = "X-Slack-Request-Timestamp";
const RETRY_NUM: &str = "X-Slack-Retry-Num";
const RETRY_REASON: &str = "X-Slack-Retry-Reason";

/// `v0=<hex HMAC-SHA256 of v0:timestamp:body>`.
const HMAC: V0 = V0::new(SIGNATURE, TIMESTAMP);

/// Slack's request signing ([docs](https://api.slack.com/authentication/verifying-requests-from-slack)),
/// for the Events API, slash commands and interactivity.
///
/// Reads the headers `X-Slack-Signature` (`v0=<hex>`) and
/// `X-Slack-Request-Timestamp`. The signature is the HMAC-SHA256 of
/// `v0:{timestamp}:{body}` keyed with the app's signing secret as given; the
/// timestamp must be within 5 minutes, as Slack's SDKs check (configurable).
///
/// - Delivery id: the body's `event_id` (Events API); slash commands and
///   interactions have none.
/// - Event name: for an `event_callback`, the inner event's type
///   (`event.type`: `app_mention`, `message`); for other JSON bodies the
///   top-level `type`. Form bodies: an interaction's `payload` type
///   (`block_actions`, `view_submission`) or a slash command's `command`
///   (`/weather`).
/// - The `url_verification` challenge Slack sends when the request URL is
///   set is answered by itself ([`Scheme::signed_reply`]): 200 with
///   `{"challenge":"..."}`, after the signature is checked.
/// - Retries carry `X-Slack-Retry-Num` and `X-Slack-Retry-Reason`; read
///   them with [`Slack::retry_num`] and [`Slack::retry_reason`], e.g. from
///   `req.headers()` in an actix handler. The delivery id already makes a
///   retry a duplicate.
///
/// ```
/// use actix_webhook::scheme::{Request, Scheme, Slack};
///
/// // Slack's own example ("Verifying requests from Slack").
/// let scheme = Slack::new("8f742231b10e8888abcd99yyyzzz85a5")?
///     .tolerance(actix_webhook::verify::Tolerance::disabled()); // an old capture
/// let body = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
/// let headers = [
///     ("X-Slack-Request-Timestamp", "1531420618"),
///     ("X-Slack-Signature", "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"),
/// ];
/// let request = Request::new("POST", "/slack", &headers, body);
/// assert!(scheme.verify(&request, scheme.secrets(), 1_700_000_000).is_ok());
/// assert_eq!(scheme.event_name(&request)?.as_deref(), Some("/webhook-collect"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Slack {
    secrets: Secrets,
    tolerance: Tolerance,
}

impl Slack {
    /// The scheme with the app's signing secret.
    ///
    /// # Errors
    ///
    /// [`SecretError::Empty`] for an empty secret.
    pub fn new(signing_secret: &str) -> Result<Self, SecretError> {
        Ok(Self::with_secrets(Secret::new(signing_secret)?))
    }

    /// The scheme with several signing secrets, newest first.
    pub fn with_secrets(secrets: impl Into<Secrets>) -> Self {
        Self {
            secrets: secrets.into(),
            tolerance: Tolerance::default(),
        }
    }

    /// How far the timestamp may be from now (default 5 minutes).
    #[must_use]
    pub fn tolerance(mut self, tolerance: Tolerance) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// The `X-Slack-Signature` value for `body` at `timestamp`, signed with
    /// the first secret: `v0=<hex>`.
    #[must_use]
    pub fn signature(&self, timestamp: i64, body: &[u8]) -> String {
        HMAC.sign(&self.secrets, timestamp, body)
    }

    /// Which retry this request is (`X-Slack-Retry-Num`, 1 for the first
    /// retry), `None` on a first attempt or an unreadable value.
    ///
    /// ```
    /// use actix_webhook::scheme::Slack;
    ///
    /// assert_eq!(Slack::retry_num(&[("X-Slack-Retry-Num", "2")][..]), Some(2));
    /// ```
    pub fn retry_num(headers: &(impl Headers + ?Sized)) -> Option<u32> {
        std::str::from_utf8(headers.header(RETRY_NUM).one()?)
            .ok()?
            .parse()
            .ok()
    }

    /// Why Slack retried (`X-Slack-Retry-Reason`, e.g. `http_timeout`).
    pub fn retry_reason(headers: &(impl Headers + ?Sized)) -> Option<&str> {
        std::str::from_utf8(headers.header(RETRY_REASON).one()?).ok()
    }
}

/// Whether `body` looks like a JSON document rather than a form.
fn is_json(body: &[u8]) -> bool {
    body.trim_ascii_start().first() == Some(&b'{')
}

impl Scheme for Slack {
    fn name(&self) -> &'static str {
        "slack"
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
        let signed = V0::signed(read.raw_timestamp, request.body());
        static EVENT_ID: OnceLock<JsonPointer> = OnceLock::new();
        let id = if is_json(request.body()) {
            json_string(request.body(), static_pointer(&EVENT_ID, "/event_id"))
        } else {
            None
        };
        // Forms (slash commands, interactivity) carry no `event_id`: a
        // repeat is recognised by what was signed.
        Ok(Delivery::new(id, Some(read.timestamp))
            .fingerprint_if_no_id(signed)
            .verified_by(secret))
    }

    fn event_name(&self, request: &Request<'_>) -> Result<Option<String>, EventNameError> {
        static TYPE: OnceLock<JsonPointer> = OnceLock::new();
        static INNER: OnceLock<JsonPointer> = OnceLock::new();
        let body = request.body();
        let type_ = static_pointer(&TYPE, "/type");
        if !is_json(body) {
            // A slash command or an interaction, form-encoded: the first of
            // `payload` and `command` names it. Either one repeated is
            // refused, as a repeated JSON key is: readers of the form would
            // disagree on which counts.
            let (mut payload_seen, mut command_seen) = (false, false);
            let mut first = None;
            for (name, value) in form_urlencoded::parse(body) {
                let seen = match &*name {
                    "payload" => &mut payload_seen,
                    "command" => &mut command_seen,
                    _ => continue,
                };
                if std::mem::replace(seen, true) {
                    return Err(<serde_json::Error as serde::de::Error>::custom(
                        "a form field is repeated",
                    )
                    .into());
                }
                first.get_or_insert((name, value));
            }
            return match first {
                Some((name, payload)) if name == "payload" => {
                    match type_.string_in(payload.as_bytes())? {
                        Some(name) => Ok(Some(name)),
                        None => Err(EventNameError::Payload(PayloadError::missing(
                            "event name: no string at `/type` in the `payload`",
                        ))),
                    }
                }
                Some((_, command)) => Ok(Some(command.into_owned())),
                None => Err(EventNameError::Payload(PayloadError::missing(
                    "event name: neither `payload` nor `command` in the form",
                ))),
            };
        }
        match type_.string_in(body)? {
            Some(outer) if outer == "event_callback" => Ok(static_pointer(&INNER, "/event/type")
                .string_in(body)?
                .or(Some(outer))),
            Some(other) => Ok(Some(other)),
            None => Err(EventNameError::Payload(PayloadError::missing(
                "event name: no string at `/type`",
            ))),
        }
    }

    /// Answers `url_verification` with its challenge. Reads `type` as
    /// [`event_name`](Scheme::event_name) does, so a body that repeats a
    /// top-level key is neither answered here nor routed (400).
    fn signed_reply(&self, request: &Request<'_>, _secret: &Secret) -> Option<Reply> {
        static TYPE: OnceLock<JsonPointer> = OnceLock::new();
        static CHALLENGE: OnceLock<JsonPointer> = OnceLock::new();
        let body = request.body();
        if !is_json(body) {
            return None;
        }
        let type_ = static_pointer(&TYPE, "/type").string_in(body).ok()??;
        if type_ != "url_verification" {
            return None;
        }
        let challenge = static_pointer(&CHALLENGE, "/challenge")
            .raw_in(body)
            .ok()??;
        let challenge: String = serde_json::from_str(challenge.get()).ok()?;
        let body = serde_json::to_vec(&serde_json::json!({ "challenge": challenge })).ok()?;
        Some(Reply::ok("application/json", body))
    }
}

impl Signer for Slack {
    /// `X-Slack-Signature` and `X-Slack-Request-Timestamp`.
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
    use crate::scheme::test_support::assert_refuses_absurd_headers;
    use crate::scheme::test_support::verify;
    use crate::secret::Secret;

    // Slack's published example ("Verifying requests from Slack",
    // https://api.slack.com/authentication/verifying-requests-from-slack):
    const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
    const TS: i64 = 1_531_420_618;
    const BODY: &[u8] = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    const EXPECTED: &str = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

    fn headers(signature: &str, ts: i64) -> Vec<(String, String)> {
        vec![
            (SIGNATURE.into(), signature.into()),
            (TIMESTAMP.into(), ts.to_string()),
        ]
    }

    const NO_HEADERS: [(&str, &str); 0] = [];

    fn request(body: &[u8]) -> Request<'_> {
        Request::new("POST", "/", &NO_HEADERS, body)
    }

    #[test]
    fn published_example_verifies() {
        let scheme = Slack::new(SECRET).unwrap();
        assert_eq!(scheme.signature(TS, BODY), EXPECTED);
        assert_eq!(
            verify(&scheme, &headers(EXPECTED, TS), BODY, TS + 10),
            // A form has no `event_id`: recognised by what was signed.
            Ok(Delivery::new(None, Some(TS))
                .fingerprint_of([&b"v0:"[..], TS.to_string().as_bytes(), b":", BODY])
                .verified_by(0))
        );
        assert!(matches!(
            verify(&scheme, &headers(EXPECTED, TS), BODY, TS + 301),
            Err(VerifyError::TimestampOutOfTolerance { .. })
        ));
    }

    #[test]
    fn tampering_rotation_and_absurd_values() {
        let scheme = Slack::with_secrets(
            Secrets::new([
                Secret::new("rotated-in").unwrap(),
                Secret::new(SECRET).unwrap(),
            ])
            .unwrap(),
        );
        // The old secret, second in the set.
        assert_eq!(
            verify(&scheme, &headers(EXPECTED, TS), BODY, TS).map(|d| d.secret),
            Ok(Some(1))
        );
        let body = br#"{"type":"event_callback","event_id":"Ev01","event":{"type":"app_mention"}}"#;
        let signed = scheme.sign(&Message {
            id: "",
            timestamp: TS,
            event: "",
            url: "",
            body,
        });
        assert_eq!(
            verify(&scheme, &signed, body, TS),
            Ok(Delivery::new(Some("Ev01".into()), Some(TS)).verified_by(0))
        );
        let mut tampered = body.to_vec();
        tampered[30] ^= 1;
        assert_eq!(
            verify(&scheme, &signed, &tampered, TS),
            Err(VerifyError::InvalidSignature)
        );
        assert_eq!(
            verify(&scheme, &headers(&signed[0].1, TS + 1), body, TS),
            Err(VerifyError::InvalidSignature)
        );
        let flipped = EXPECTED.replace("v0=a2", "v0=a3");
        assert_eq!(
            verify(&scheme, &headers(&flipped, TS), BODY, TS),
            Err(VerifyError::InvalidSignature)
        );
        let stranger = Slack::new("stranger").unwrap().signature(TS, BODY);
        assert_eq!(
            verify(&scheme, &headers(&stranger, TS), BODY, TS),
            Err(VerifyError::InvalidSignature)
        );
        for bad in [&EXPECTED[3..], "v1=ab", "v0=", "v0=zz"] {
            assert_eq!(
                verify(&scheme, &headers(bad, TS), BODY, TS),
                Err(VerifyError::malformed(SIGNATURE)),
                "{bad}"
            );
        }
        let mut bad_ts = headers(EXPECTED, TS);
        bad_ts[1].1 = "15314206l8".into();
        assert_eq!(
            verify(&scheme, &bad_ts, BODY, TS),
            Err(VerifyError::malformed(TIMESTAMP))
        );
        assert_refuses_absurd_headers(
            &scheme,
            &headers(EXPECTED, TS),
            &[SIGNATURE, TIMESTAMP],
            BODY,
            TS,
        );
    }

    #[test]
    fn event_names() {
        let scheme = Slack::new(SECRET).unwrap();
        let name = |body: &[u8]| scheme.event_name(&request(body)).unwrap();
        assert_eq!(
            name(br#"{"type":"event_callback","event":{"type":"app_mention","text":"hi"}}"#)
                .as_deref(),
            Some("app_mention")
        );
        assert_eq!(
            name(br#"{"type":"event_callback"}"#).as_deref(),
            Some("event_callback")
        );
        assert_eq!(
            name(br#" {"type":"app_rate_limited"}"#).as_deref(),
            Some("app_rate_limited")
        );
        assert_eq!(name(BODY).as_deref(), Some("/webhook-collect"));
        assert_eq!(
            name(b"payload=%7B%22type%22%3A%22block_actions%22%7D").as_deref(),
            Some("block_actions")
        );
        // Never routed as no name: each is 400 with what is missing.
        for body in [
            &b"a=b"[..],
            b"{not json",
            br#"{"event":{}}"#,
            b"payload=%7B%7D",
        ] {
            assert!(
                matches!(
                    scheme.event_name(&request(body)),
                    Err(EventNameError::Payload(_))
                ),
                "{body:?}"
            );
        }
    }

    #[test]
    fn url_verification_is_answered() {
        let scheme = Slack::new(SECRET).unwrap();
        let body = br#"{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}"#;
        let reply = scheme
            .signed_reply(&request(body), scheme.secrets().primary())
            .unwrap();
        assert_eq!(reply.status, 200);
        assert_eq!(reply.content_type, "application/json");
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&reply.body).unwrap(),
            serde_json::json!({"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"})
        );
        let escaped = br#"{"type":"url_verification","challenge":"a\"b\u00e9"}"#;
        let reply = scheme
            .signed_reply(&request(escaped), scheme.secrets().primary())
            .unwrap();
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&reply.body).unwrap()["challenge"],
            "a\"b\u{e9}"
        );
        for other in [
            &br#"{"type":"event_callback","challenge":"x"}"#[..],
            br#"{"type":"url_verification"}"#,
            BODY,
            b"",
            b"{",
        ] {
            assert_eq!(
                scheme.signed_reply(&request(other), scheme.secrets().primary()),
                None
            );
        }
    }

    #[test]
    fn repeated_members_are_refused_not_read_one_way() {
        let scheme = Slack::new(SECRET).unwrap();
        let name = |body: &[u8]| {
            scheme
                .event_name(&request(body))
                .map_err(|e| matches!(e, EventNameError::Payload(e) if e.is_mismatch()))
        };
        // Which `type`, `event`, `event_id` or `challenge` counts depends on
        // the reader: no answer, no route.
        for body in [
            &br#"{"type":"url_verification","type":"event_callback","challenge":"c","event":{"type":"app_mention"}}"#[..],
            br#"{"type":"event_callback","type":"url_verification","challenge":"c"}"#,
            br#"{"type":"url_verification","typ\u0065":"event_callback","challenge":"c"}"#,
            br#"{"type":"event_callback","event":{"type":"a"},"event":{"type":"b"}}"#,
            br#"{"type":"event_callback","event":{"type":"a","type":"b"}}"#,
            br#"{"type":"event_callback","event_id":"Ev1","event":{"type":"a"},"event_id":"Ev2"}"#,
            br#"{"type":"url_verification","challenge":"a","challenge":"b"}"#,
        ] {
            let text = String::from_utf8_lossy(body);
            assert_eq!(name(body), Err(true), "{text}");
            assert_eq!(scheme.signed_reply(&request(body), scheme.secrets().primary()), None, "{text}");
        }
        // The delivery id of a body that repeats it is not read.
        let body =
            br#"{"type":"event_callback","event_id":"Ev1","event_id":"Ev2","event":{"type":"a"}}"#;
        let signed = scheme.sign(&Message {
            id: "",
            timestamp: TS,
            event: "",
            url: "",
            body,
        });
        assert_eq!(verify(&scheme, &signed, body, TS).map(|d| d.id), Ok(None));
        // Form bodies: `payload` or `command` twice.
        for body in [
            &b"payload=%7B%22type%22%3A%22a%22%7D&payload=%7B%22type%22%3A%22b%22%7D"[..],
            b"command=%2Fa&text=x&command=%2Fb",
            b"command=%2Fa&payload=%7B%22type%22%3A%22a%22%7D&command=%2Fa",
            b"payload=%7B%22type%22%3A%22a%22%2C%22type%22%3A%22b%22%7D",
        ] {
            assert_eq!(name(body), Err(true), "{}", String::from_utf8_lossy(body));
        }
        // Each once: the first of them names it, as before.
        assert_eq!(
            name(b"command=%2Fa&payload=%7B%22type%22%3A%22b%22%7D"),
            Ok(Some("/a".to_owned()))
        );
        assert_eq!(
            name(b"payload=%7B%22type%22%3A%22b%22%7D&command=%2Fa"),
            Ok(Some("b".to_owned()))
        );
    }

    #[test]
    fn retry_headers() {
        let headers = [
            ("X-Slack-Retry-Num", "1"),
            ("X-Slack-Retry-Reason", "http_timeout"),
        ];
        assert_eq!(Slack::retry_num(&headers[..]), Some(1));
        assert_eq!(Slack::retry_reason(&headers[..]), Some("http_timeout"));
        let none: [(&str, &str); 0] = [];
        assert_eq!(Slack::retry_num(&none[..]), None);
        assert_eq!(Slack::retry_num(&[("X-Slack-Retry-Num", "-1")][..]), None);
        assert_eq!(Slack::retry_num(&[(RETRY_NUM, &b"\xff"[..])][..]), None);
    }
}
