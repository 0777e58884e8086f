//! [Xero](https://developer.xero.com/documentation/guides/webhooks/overview/)
//! webhooks: a batch of events per request, and the "intent to receive"
//! handshake.

use std::sync::OnceLock;

use serde::de::IgnoredAny;

use crate::payload::PayloadError;
use crate::scheme::{
    required_field, split_batch, static_pointer, Answers, BatchEvent, Delivery, Encoding,
    EventNameError, JsonPointer, Message, Reply, Request, Scheme, SignatureHeader, Signer,
};
use crate::secret::{Secret, SecretError, Secrets};
use crate::verify::VerifyError;

const SIGNATURE: &str = "x-xero-signature";

/// The base64 HMAC-SHA256 of the body.
const HMAC: SignatureHeader = SignatureHeader::bare(SIGNATURE, Encoding::Base64);

/// Where the events are in the body.
const EVENTS: &str = "/events";

/// The answer to an "intent to receive" request: 200 and no body.
const HANDSHAKE_TYPE: &str = "text/plain; charset=utf-8";

/// Xero's webhook scheme ([docs](https://developer.xero.com/documentation/guides/webhooks/configuring-your-server/)).
///
/// Reads the header `x-xero-signature`: the base64 HMAC-SHA256 of the body,
/// keyed with the app's webhook key as given (the key text itself, not its
/// base64 decoding). Xero signs no timestamp and sends no delivery id, so
/// there is no replay window: the request is recognised by the SHA-256 of
/// its body, and each event by the SHA-256 of its JSON, the same on every
/// retry.
///
/// **A batch.** The body is
/// `{"events":[...],"firstEventSequence":..,"lastEventSequence":..,"entropy":".."}`;
/// the router routes, claims and answers each event on its own
/// ([`Scheme::batch`]). An event's name is its `eventCategory`, `.` and its
/// `eventType`, as sent (`INVOICE.UPDATE`, `CONTACT.CREATE`); every event
/// must have both. The request as a whole has no event name.
///
/// **Intent to receive.** Before it sends events, Xero checks the URL with
/// correctly and wrongly signed requests whose `events` is empty, and
/// expects 200 for the former and 401 for the latter. A wrong signature is
/// refused (401) before anything else; a verified body whose `events` is an
/// empty array (or `null`) is answered by itself ([`Scheme::signed_reply`]):
/// 200 with an empty body.
///
/// ```
/// use actix_webhook::scheme::{Request, Scheme, Xero};
///
/// let scheme = Xero::new("webhook-key")?;
/// let body = br#"{"events":[{"resourceId":"7b5f3f4c","eventCategory":"INVOICE","eventType":"UPDATE","tenantId":"c2cc9b6e"}],"firstEventSequence":1,"lastEventSequence":1,"entropy":"CVMXBDCHWQ"}"#;
/// let signature = scheme.signature(body);
/// let headers = [("x-xero-signature", signature.as_str())];
/// let request = Request::new("POST", "/xero", &headers, body);
/// let delivery = scheme.verify(&request, scheme.secrets(), 0)?;
/// assert_eq!(delivery.id, None);
///
/// let events = scheme.batch(&request).expect("a batch")?;
/// assert_eq!(events[0].name, "INVOICE.UPDATE");
///
/// // The intent to receive is answered 200 once verified.
/// let itr = br#"{"events":[],"firstEventSequence":0,"lastEventSequence":0,"entropy":"S0m3r4Nd0m"}"#;
/// let signature = scheme.signature(itr);
/// let headers = [("x-xero-signature", signature.as_str())];
/// let request = Request::new("POST", "/xero", &headers, itr);
/// assert!(scheme.verify(&request, scheme.secrets(), 0).is_ok());
/// let reply = scheme.signed_reply(&request, scheme.secrets().primary()).unwrap();
/// assert_eq!((reply.status, reply.body.len()), (200, 0));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Xero {
    secrets: Secrets,
}

impl Xero {
    /// The scheme with the app's webhook key.
    ///
    /// # Errors
    ///
    /// [`SecretError::Empty`] for an empty key.
    pub fn new(webhook_key: &str) -> Result<Self, SecretError> {
        Ok(Self::with_secrets(Secret::new(webhook_key)?))
    }

    /// The scheme with several webhook keys, newest first (while the key is
    /// regenerated).
    pub fn with_secrets(secrets: impl Into<Secrets>) -> Self {
        Self {
            secrets: secrets.into(),
        }
    }

    /// The `x-xero-signature` value for `body`, signed with the first key:
    /// base64.
    #[must_use]
    pub fn signature(&self, body: &[u8]) -> String {
        HMAC.sign_hmac_sha256(&self.secrets, [body])
    }
}

/// The body's `events`, as raw JSON, when the body has them once.
fn events_pointer() -> &'static JsonPointer {
    static POINTER: OnceLock<JsonPointer> = OnceLock::new();
    static_pointer(&POINTER, EVENTS)
}

impl Scheme for Xero {
    /// 200 with no body, as Xero asks of every answer ("It responds within
    /// 5 seconds with a 200 O.K status code; there is no body in the
    /// response"): anything else is retried, and after 24 hours the webhook
    /// is disabled.
    fn answers(&self) -> Answers {
        Answers::ANY.only_200().without_body()
    }

    fn name(&self) -> &'static str {
        "xero"
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
        // No delivery id: a repeat is recognised by its body, each event by
        // its JSON.
        Ok(Delivery::new(None, None)
            .fingerprint_of([request.body()])
            .verified_by(secret))
    }

    /// `None`: each event of the batch has its name ([`Scheme::batch`]).
    fn event_name(&self, _request: &Request<'_>) -> Result<Option<String>, EventNameError> {
        Ok(None)
    }

    /// Answers the "intent to receive": a verified body whose `events` is
    /// an empty array (or `null`) gets 200 and an empty body. A body that
    /// repeats a top-level key is not answered here (nor routed: 400).
    fn signed_reply(&self, request: &Request<'_>, _secret: &Secret) -> Option<Reply> {
        let events = events_pointer().raw_in(request.body()).ok()??;
        let empty = match serde_json::from_str::<Option<Vec<IgnoredAny>>>(events.get()) {
            Ok(None) => true,
            Ok(Some(events)) => events.is_empty(),
            Err(_) => false,
        };
        empty.then(|| Reply::ok(HANDSHAKE_TYPE, Vec::new()))
    }

    /// The events of the body's `events` array: each one named
    /// `eventCategory.eventType`, without an id.
    fn batch(&self, request: &Request<'_>) -> Option<Result<Vec<BatchEvent>, PayloadError>> {
        static CATEGORY: OnceLock<JsonPointer> = OnceLock::new();
        static TYPE: OnceLock<JsonPointer> = OnceLock::new();
        Some(split_batch(request.body(), events_pointer(), |event| {
            let category = required_field(event, static_pointer(&CATEGORY, "/eventCategory"))?;
            let type_ = required_field(event, static_pointer(&TYPE, "/eventType"))?;
            Ok((None, format!("{category}.{type_}")))
        }))
    }
}

impl Signer for Xero {
    /// `x-xero-signature` only: the events travel in the body.
    fn sign(&self, message: &Message<'_>) -> Vec<(String, String)> {
        vec![(SIGNATURE.into(), self.signature(message.body))]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheme::test_support::assert_refuses_absurd_headers;

    // Xero publishes no signed example (its docs and samples, such as
    // XeroAPI/XeroWebhooksReceiver, sign at run time). These signatures were
    // computed with Python's hmac and base64 modules, an independent
    // implementation of the documented algorithm, over bodies shaped as
    // the docs' examples, with a key shaped as Xero's (made up).
    const KEY: &str =
        "J1m3vMZmFrp9cBTWNnY7fYuSzN3u0XgzmhKmGp7lPnO3xFeU4wb5XKbNh0IF4XfZ2oBS4XcSy1vMVgRJvVCbDg==";
    const INTENT: &[u8] =
        br#"{"events":[],"firstEventSequence":0,"lastEventSequence":0,"entropy":"S0m3r4Nd0mt3xt"}"#;
    const INTENT_SIGNATURE: &str = "gXPYXJ6AiRT77bddpnoHD4ybK9a4lp07cGtp7uOyvac=";
    const EVENT: &str = r#"{"resourceUrl":"https://api.xero.com/api.xro/2.0/Invoices/7b5f3f4c-0b0e-4c9c-a8a8-37e5e3b4d0f1","resourceId":"7b5f3f4c-0b0e-4c9c-a8a8-37e5e3b4d0f1","eventDateUtc":"2024-05-21T01:15:39.902","eventType":"UPDATE","eventCategory":"INVOICE","tenantId":"c2cc9b6e-9458-4c7d-93cc-f02b81b0594f","tenantType":"ORGANISATION"}"#;
    const BODY: &[u8] = br#"{"events":[{"resourceUrl":"https://api.xero.com/api.xro/2.0/Invoices/7b5f3f4c-0b0e-4c9c-a8a8-37e5e3b4d0f1","resourceId":"7b5f3f4c-0b0e-4c9c-a8a8-37e5e3b4d0f1","eventDateUtc":"2024-05-21T01:15:39.902","eventType":"UPDATE","eventCategory":"INVOICE","tenantId":"c2cc9b6e-9458-4c7d-93cc-f02b81b0594f","tenantType":"ORGANISATION"}],"lastEventSequence":1,"firstEventSequence":1,"entropy":"CVMXBDCHWQSCOKXKZWFT"}"#;
    const EXPECTED: &str = "Thr3MqOTBsK7cA+3u2zgW+ZHgZv1ammWeTziTUDD3O0=";

    fn headers(signature: &str) -> Vec<(String, String)> {
        vec![(SIGNATURE.into(), signature.into())]
    }

    fn verify(
        scheme: &Xero,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<Delivery, VerifyError> {
        crate::scheme::test_support::verify(scheme, headers, body, 0)
    }

    fn request<'a>(headers: &'a impl crate::scheme::Headers, body: &'a [u8]) -> Request<'a> {
        Request::new("POST", "/xero", headers, body)
    }

    fn batch(body: &[u8]) -> Result<Vec<BatchEvent>, PayloadError> {
        let scheme = Xero::new(KEY).unwrap();
        scheme
            .batch(&request(&headers(""), body))
            .expect("a batch scheme")
    }

    fn reply(body: &[u8]) -> Option<Reply> {
        let scheme = Xero::new(KEY).unwrap();
        scheme.signed_reply(&request(&headers(""), body), scheme.secrets().primary())
    }

    #[test]
    fn cross_checked_examples_verify() {
        let scheme = Xero::new(KEY).unwrap();
        assert_eq!(scheme.signature(BODY), EXPECTED);
        assert_eq!(scheme.signature(INTENT), INTENT_SIGNATURE);
        assert_eq!(
            verify(&scheme, &headers(EXPECTED), BODY),
            Ok(Delivery::new(None, None)
                .fingerprint_of([BODY])
                .verified_by(0))
        );
        assert!(verify(&scheme, &headers(INTENT_SIGNATURE), INTENT).is_ok());
        // Padding is optional.
        let unpadded = EXPECTED.trim_end_matches('=');
        assert!(verify(&scheme, &headers(unpadded), BODY).is_ok());
        let headers = headers(EXPECTED);
        assert!(matches!(
            scheme.event_name(&request(&headers, BODY)),
            Ok(None)
        ));
    }

    #[test]
    fn intent_to_receive() {
        let scheme = Xero::new(KEY).unwrap();
        // Correctly signed: verified, then answered 200 with no body.
        let good = headers(INTENT_SIGNATURE);
        assert!(verify(&scheme, &good, INTENT).is_ok());
        assert_eq!(
            scheme.signed_reply(&request(&good, INTENT), scheme.secrets().primary()),
            Some(Reply {
                status: 200,
                content_type: "text/plain; charset=utf-8",
                body: Vec::new(),
            })
        );
        // Wrongly signed, as Xero also sends: refused before any answer.
        let wrong = Xero::new("another key").unwrap().signature(INTENT);
        assert_eq!(
            verify(&scheme, &headers(&wrong), INTENT),
            Err(VerifyError::InvalidSignature)
        );
        assert_eq!(
            verify(&scheme, &[], INTENT),
            Err(VerifyError::missing(SIGNATURE))
        );
        // `null` or spaced out: still no event.
        for body in [
            &br#"{"events":null,"firstEventSequence":0,"lastEventSequence":0,"entropy":"X"}"#[..],
            br#"{"entropy":"X", "events" : [ ] }"#,
        ] {
            assert!(reply(body).is_some(), "{}", String::from_utf8_lossy(body));
        }
        // Events, no `events`, a repeated `events`, or not JSON: routed (or
        // refused) as a batch instead.
        for body in [
            BODY,
            br#"{"firstEventSequence":0,"lastEventSequence":0}"#,
            br#"{"events":[],"events":[{"eventCategory":"INVOICE","eventType":"UPDATE"}]}"#,
            br#"{"events":{}}"#,
            br#"{"events":""}"#,
            br#"[]"#,
            b"not json",
            b"",
        ] {
            assert_eq!(reply(body), None, "{}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn round_trip_tampering_rotation_and_absurd_values() {
        let scheme = Xero::with_secrets(
            Secrets::new([Secret::new("next").unwrap(), Secret::new(KEY).unwrap()]).unwrap(),
        );
        assert_eq!(
            verify(&scheme, &headers(EXPECTED), BODY).map(|d| d.secret),
            Ok(Some(1))
        );
        let signed = scheme.sign(&Message {
            id: "",
            timestamp: 0,
            event: "",
            url: "",
            body: BODY,
        });
        assert_eq!(
            verify(&scheme, &signed, BODY).map(|d| d.secret),
            Ok(Some(0))
        );
        assert_eq!(
            verify(&scheme, &headers(EXPECTED), &BODY[..BODY.len() - 1]),
            Err(VerifyError::InvalidSignature)
        );
        let mut changed = BODY.to_vec();
        let at = changed.len() - 3;
        changed[at] ^= 1;
        assert_eq!(
            verify(&scheme, &headers(EXPECTED), &changed),
            Err(VerifyError::InvalidSignature)
        );
        let flipped = EXPECTED.replacen('T', "U", 1);
        assert_eq!(
            verify(&scheme, &headers(&flipped), BODY),
            Err(VerifyError::InvalidSignature)
        );
        assert_eq!(
            verify(&scheme, &headers("not base64!"), BODY),
            Err(VerifyError::malformed(SIGNATURE))
        );
        // The key is used as the text it is, not base64-decoded.
        use base64::Engine as _;
        let decoded_key = base64::engine::general_purpose::STANDARD
            .decode(KEY)
            .unwrap();
        let wrong = crate::scheme::hmac_sha256(&decoded_key, [BODY]);
        assert_eq!(
            verify(&scheme, &headers(&HMAC.write(&wrong)), BODY),
            Err(VerifyError::InvalidSignature)
        );
        assert_refuses_absurd_headers(
            &Xero::new(KEY).unwrap(),
            &headers(EXPECTED),
            &[SIGNATURE],
            BODY,
            0,
        );
    }

    #[test]
    fn debug_shows_no_key() {
        let shown = format!("{:?}", Xero::new(KEY).unwrap());
        assert!(!shown.contains(KEY), "{shown}");
    }

    #[test]
    fn batch_finds_each_event() {
        let events = batch(BODY).unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(&BODY[events[0].range.clone()], EVENT.as_bytes());
        assert_eq!(
            (events[0].id.as_deref(), events[0].name.as_str()),
            (None, "INVOICE.UPDATE")
        );

        let body = br#"{"entropy":"E", "events": [
            {"eventCategory":"CONTACT","eventType":"CREATE","resourceId":"a"},
            {"resourceId":"b", "eventType":"UPDATE", "eventCategory":"CONTACT"} ,
            {"eventCategory":"SUBSCRIPTION","eventType":"update"}
        ], "firstEventSequence": 4, "lastEventSequence": 6}"#;
        let events = batch(body).unwrap();
        let seen: Vec<_> = events
            .iter()
            .map(|e| (&body[e.range.clone()], e.id.as_deref(), e.name.as_str()))
            .collect();
        assert_eq!(
            seen,
            [
                (
                    &br#"{"eventCategory":"CONTACT","eventType":"CREATE","resourceId":"a"}"#[..],
                    None,
                    "CONTACT.CREATE"
                ),
                (
                    br#"{"resourceId":"b", "eventType":"UPDATE", "eventCategory":"CONTACT"}"#,
                    None,
                    "CONTACT.UPDATE"
                ),
                (
                    br#"{"eventCategory":"SUBSCRIPTION","eventType":"update"}"#,
                    None,
                    "SUBSCRIPTION.update"
                ),
            ]
        );
        assert_eq!(batch(INTENT), Ok(Vec::new()));
    }

    #[test]
    fn batch_refuses_what_cannot_be_routed() {
        for body in [
            // An event without its category or its type, or with an empty one.
            &br#"{"events":[{"eventCategory":"INVOICE","eventType":"UPDATE"},{"eventType":"UPDATE"}]}"#[..],
            br#"{"events":[{"eventCategory":"INVOICE"}]}"#,
            br#"{"events":[{"eventCategory":"","eventType":"UPDATE"}]}"#,
            br#"{"events":[{"eventCategory":"INVOICE","eventType":""}]}"#,
            br#"{"events":[{"eventCategory":"INVOICE","eventType":"UPDATE","eventType":"CREATE"}]}"#,
            br#"{"events":[],"events":[{"eventCategory":"INVOICE","eventType":"UPDATE"}]}"#,
            br#"{"events":null}"#,
            br#"{"events":{}}"#,
            br#"{"firstEventSequence":0}"#,
            br#"[{"eventCategory":"INVOICE","eventType":"UPDATE"}]"#,
            b"not json",
            b"",
        ] {
            assert!(batch(body).is_err(), "{}", String::from_utf8_lossy(body));
        }
    }
}
