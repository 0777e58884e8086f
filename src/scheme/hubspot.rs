//! [HubSpot](https://developers.hubspot.com/docs/apps/developer-platform/build-apps/authentication/request-validation)
//! webhooks: a batch of CRM events per request, signed with the v3
//! signature.

use std::borrow::Cow;
use std::sync::OnceLock;

use crate::payload::PayloadError;
use crate::scheme::public_url::{public_base, requested_url};
use crate::scheme::{
    check_mac, event_field, required_field, split_batch, static_pointer, BatchEvent, Delivery,
    Encoding, EventNameError, JsonPointer, Message, Request, Scheme, SignatureHeader, Signer,
};
use crate::secret::{Secret, SecretError, Secrets};
use crate::verify::{parse_timestamp, Tolerance, VerifyError};

const SIGNATURE: &str = "X-HubSpot-Signature-v3";
const TIMESTAMP: &str = "X-HubSpot-Request-Timestamp";

/// The base64 HMAC-SHA256 of the method, the URI, the body and the
/// timestamp.
const HMAC: SignatureHeader = SignatureHeader::bare(SIGNATURE, Encoding::Base64);

/// The method HubSpot sends webhooks with.
const POST: &str = "POST";

/// What an event's id is made of, in this order, joined by `:`; an event
/// without an `eventId` has none.
const ID_FIELDS: [&str; 7] = [
    "/eventId",
    "/portalId",
    "/subscriptionId",
    "/subscriptionType",
    "/objectId",
    "/propertyName",
    "/occurredAt",
];

/// The percent-encoded characters HubSpot decodes in the URI before
/// signing it, and no others.
const DECODED: &str = ":/?@!$'()*,;";

/// HubSpot's v3 request signature ([docs](https://developers.hubspot.com/docs/apps/developer-platform/build-apps/authentication/request-validation)),
/// for webhook subscriptions (CRM object events).
///
/// Reads the headers `X-HubSpot-Signature-v3` (base64) and
/// `X-HubSpot-Request-Timestamp` (unix **milliseconds**). The signature is
/// the HMAC-SHA256, keyed with the app's client secret as given, of the
/// HTTP method (`POST`), the full URL HubSpot requested, the body and the
/// timestamp as sent, concatenated. As HubSpot's docs say, the URL is
/// signed with these percent-encodings decoded (either hex case), and no
/// others: `%3A` `:`, `%2F` `/`, `%3F` `?`, `%40` `@`, `%21` `!`, `%24` `$`,
/// `%27` `'`, `%28` `(`, `%29` `)`, `%2A` `*`, `%2C` `,`, `%3B` `;`. The
/// older `X-HubSpot-Signature` (v1, v2) carries no timestamp and is not
/// read.
///
/// **Freshness.** HubSpot's docs and SDKs refuse a timestamp older than 5
/// minutes; this scheme also refuses one more than 5 minutes ahead, to the
/// second (configurable with [`HubSpot::tolerance`]). Each attempt is signed
/// afresh, so a retry a day later still passes.
///
/// **The URL.** Set the public origin (and any path prefix a proxy strips)
/// with [`HubSpot::public_url`]: the URL signed is then that base followed by
/// the request target. Without it, the URL is `https://`, the `Host`
/// header and the target; **production should set `public_url`**, as `Host`
/// is whatever the client sent. A `Host` that is not a plain `host[:port]` is
/// refused with `malformed_signature`.
///
/// **A batch.** The body is a JSON array of up to 100 events; the router
/// routes, claims and answers each on its own ([`Scheme::batch`]). An
/// event's id is its `eventId` followed by its `portalId`,
/// `subscriptionId`, `subscriptionType`, `objectId`, `propertyName` and
/// `occurredAt`, joined by `:` (empty where absent): HubSpot says an
/// `eventId` is not guaranteed to be unique, and one change gives several
/// events. Every part is the same on each attempt and signed with the body
/// (the event's JSON could not recognise a retry: `attemptNumber` grows).
/// An event without an `eventId` is recognised by its JSON. Its name
/// is its `subscriptionType`
/// (`contact.creation`, `object.propertyChange`, `deal.deletion`), which
/// every event must have. The request as a whole has no event name, and no
/// delivery id: it is recognised by the SHA-256 of what was signed.
///
/// ```
/// use actix_webhook::scheme::{HubSpot, Request, Scheme};
///
/// let scheme = HubSpot::new("client-secret")?.public_url("https://example.com");
/// let body = br#"[{"eventId":1,"subscriptionType":"contact.creation","objectId":123},
///                 {"eventId":2,"subscriptionType":"deal.deletion","objectId":456}]"#;
/// let millis = 1_700_000_000_000;
/// let signature = scheme.signature("POST", "https://example.com/hubspot", body, millis);
/// let headers = [
///     ("X-HubSpot-Signature-v3", signature.as_str()),
///     ("X-HubSpot-Request-Timestamp", "1700000000000"),
/// ];
/// let request = Request::new("POST", "/hubspot", &headers, body);
/// let delivery = scheme.verify(&request, scheme.secrets(), 1_700_000_060)?;
/// assert_eq!(delivery.timestamp, Some(1_700_000_000));
///
/// let events = scheme.batch(&request).expect("a batch")?;
/// let names: Vec<_> = events.iter().map(|e| (e.id.as_deref(), e.name.as_str())).collect();
/// assert_eq!(
///     names,
///     [
///         (Some("1:::contact.creation:123::"), "contact.creation"),
///         (Some("2:::deal.deletion:456::"), "deal.deletion"),
///     ]
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct HubSpot {
    secrets: Secrets,
    tolerance: Tolerance,
    public_url: Option<String>,
}

impl HubSpot {
    /// The scheme with the app's client secret.
    ///
    /// # Errors
    ///
    /// [`SecretError::Empty`] for an empty secret.
    pub fn new(client_secret: &str) -> Result<Self, SecretError> {
        Ok(Self::with_secrets(Secret::new(client_secret)?))
    }

    /// The scheme with several client secrets, newest first (while the
    /// secret is rotated).
    pub fn with_secrets(secrets: impl Into<Secrets>) -> Self {
        Self {
            secrets: secrets.into(),
            tolerance: Tolerance::default(),
            public_url: None,
        }
    }

    /// How far the timestamp may be from now, either way (default 5
    /// minutes, HubSpot's window).
    #[must_use]
    pub fn tolerance(mut self, tolerance: Tolerance) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// The public origin HubSpot calls, with any path prefix a proxy strips:
    /// `https://example.com` or `https://example.com/api`. A final `/` is
    /// dropped; the request target is appended to it, and the result must be
    /// the target URL configured for the app. Set it in production: without
    /// it the URL is built from the `Host` header, which the client chooses.
    #[must_use]
    pub fn public_url(mut self, url: &str) -> Self {
        self.public_url = Some(public_base(url));
        self
    }

    /// The `X-HubSpot-Signature-v3` value for a `method` request to `url`
    /// (the full URL, as requested) with `body` at `timestamp_ms` (unix
    /// milliseconds), signed with the first secret: base64. The URL is
    /// signed with the characters HubSpot decodes decoded.
    #[must_use]
    pub fn signature(&self, method: &str, url: &str, body: &[u8], timestamp_ms: i64) -> String {
        let timestamp = timestamp_ms.to_string();
        let uri = signed_uri(url);
        HMAC.sign_hmac_sha256(
            &self.secrets,
            [
                method.as_bytes(),
                uri.as_bytes(),
                body,
                timestamp.as_bytes(),
            ],
        )
    }
}

/// `url` as HubSpot signs it: each percent-encoding of a character of
/// [`DECODED`] (either hex case) replaced by the character, everything else
/// as it is (`%20` stays `%20`, `%253A` stays `%253A`).
fn signed_uri(url: &str) -> Cow<'_, str> {
    if !url.contains('%') {
        return Cow::Borrowed(url);
    }
    let bytes = url.as_bytes();
    let mut decoded = String::with_capacity(url.len());
    let (mut copied, mut at) = (0, 0);
    while at < bytes.len() {
        let escaped = (bytes[at] == b'%')
            .then(|| bytes.get(at + 1..at + 3))
            .flatten()
            .and_then(decoded_char);
        match escaped {
            Some(c) => {
                // `%` and two hex digits are ASCII: `at` and `at + 3` are
                // character boundaries.
                decoded.push_str(&url[copied..at]);
                decoded.push(c);
                at += 3;
                copied = at;
            }
            None => at += 1,
        }
    }
    decoded.push_str(&url[copied..]);
    Cow::Owned(decoded)
}

/// The character of [`DECODED`] that the two hex digits `hex` encode.
fn decoded_char(hex: &[u8]) -> Option<char> {
    let digit = |b: u8| char::from(b).to_digit(16);
    let [high, low] = hex else { return None };
    let byte = u8::try_from(digit(*high)? * 16 + digit(*low)?).ok()?;
    let c = char::from(byte);
    DECODED.contains(c).then_some(c)
}

impl Scheme for HubSpot {
    fn name(&self) -> &'static str {
        "hubspot"
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
        // Both headers must be there before either is read.
        let value = request.require(SIGNATURE)?;
        let raw_timestamp = request.require(TIMESTAMP)?;
        let candidate = HMAC.decode::<32>(value)?;
        let millis =
            parse_timestamp(raw_timestamp).ok_or_else(|| VerifyError::malformed(TIMESTAMP))?;
        let timestamp = millis / 1000;
        self.tolerance.check(timestamp, now)?;

        let url = requested_url(self.public_url.as_deref(), request)?;
        let uri = signed_uri(&url);
        let signed = [
            request.method().as_bytes(),
            uri.as_bytes(),
            request.body(),
            raw_timestamp,
        ];
        let secret = check_mac(secrets, candidate.into_iter(), |secret| {
            secret.hmac_sha256(signed)
        })?;
        // No delivery id: each event of the batch has its own.
        Ok(Delivery::new(None, Some(timestamp))
            .fingerprint_of(signed)
            .verified_by(secret))
    }

    /// `None`: each event of the batch has its name ([`Scheme::batch`]).
    fn event_name(&self, _request: &Request<'_>) -> Result<Option<String>, EventNameError> {
        Ok(None)
    }

    /// The events of the body, a JSON array: each one's id (see the type's
    /// docs) and its `subscriptionType`.
    fn batch(&self, request: &Request<'_>) -> Option<Result<Vec<BatchEvent>, PayloadError>> {
        static EVENTS: OnceLock<JsonPointer> = OnceLock::new();
        static SUBSCRIPTION_TYPE: OnceLock<JsonPointer> = OnceLock::new();
        static ID_PARTS: OnceLock<[JsonPointer; 7]> = OnceLock::new();
        let events = static_pointer(&EVENTS, "");
        let parts = ID_PARTS
            .get_or_init(|| ID_FIELDS.map(|field| JsonPointer::new(field).expect("valid pointer")));
        Some(split_batch(request.body(), events, |event| {
            let [event_id, rest @ ..] = parts;
            let mut id = event_field(event, event_id)?.filter(|id| !id.is_empty());
            if let Some(id) = &mut id {
                for part in rest {
                    id.push(':');
                    id.push_str(&event_field(event, part)?.unwrap_or_default());
                }
            }
            let name = required_field(
                event,
                static_pointer(&SUBSCRIPTION_TYPE, "/subscriptionType"),
            )?;
            Ok((id, name))
        }))
    }
}

impl Signer for HubSpot {
    /// `X-HubSpot-Signature-v3` for a `POST` of `message.body` to
    /// `message.url` (the full URL), and `X-HubSpot-Request-Timestamp`:
    /// `message.timestamp` in milliseconds. The ids and event names travel
    /// in the body.
    fn sign(&self, message: &Message<'_>) -> Vec<(String, String)> {
        let millis = message.timestamp.saturating_mul(1000);
        vec![
            (
                SIGNATURE.into(),
                self.signature(POST, message.url, message.body, millis),
            ),
            (TIMESTAMP.into(), millis.to_string()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::scheme::public_url::HOST;
    use crate::scheme::test_support::assert_refuses_absurd_headers;

    // The v3 vector of HubSpot's official SDKs: hubspot-api-python
    // tests/spec/utils/test_signature.py (test_get_signature__v3) and
    // hubspot-api-ruby spec/helpers/signature_spec.rb
    // (https://github.com/HubSpot/hubspot-api-python,
    // https://github.com/HubSpot/hubspot-api-ruby); checked with Python's
    // hmac module. Its timestamp, 15000000 ms, is 15000 s after the epoch.
    const SECRET: &str = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy";
    const ORIGIN: &str = "https://www.example.com";
    const TARGET: &str = "/webhook_uri";
    const BODY: &[u8] = b"{'example_field':'example_value'}";
    const TS: &str = "15000000";
    const NOW: i64 = 15_000;
    const EXPECTED: &str = "HPW73RUtKmcYoEDADG0s6MmGFWUzWJKAW07r8RDgcQw=";

    /// The request body of HubSpot's published v1 example (docs "Validating
    /// requests" and every SDK's signature test): one `contact.creation`.
    const DOCS_BATCH: &[u8] = br#"[{"eventId":1,"subscriptionId":12345,"portalId":62515,"occurredAt":1564113600000,"subscriptionType":"contact.creation","attemptNumber":0,"objectId":123,"changeSource":"CRM","changeFlag":"NEW","appId":54321}]"#;

    fn headers(signature: &str, timestamp: &str) -> Vec<(String, String)> {
        vec![
            (SIGNATURE.into(), signature.into()),
            (TIMESTAMP.into(), timestamp.into()),
        ]
    }

    fn verify(
        scheme: &HubSpot,
        target: &str,
        headers: &[(String, String)],
        body: &[u8],
        now: i64,
    ) -> Result<Delivery, VerifyError> {
        crate::scheme::test_support::verify_post(scheme, target, headers, body, now)
    }

    fn published() -> HubSpot {
        HubSpot::new(SECRET).unwrap().public_url(ORIGIN)
    }

    fn batch(body: &[u8]) -> Result<Vec<BatchEvent>, PayloadError> {
        let none: [(&str, &str); 0] = [];
        published()
            .batch(&Request::new("POST", "/", &none, body))
            .expect("a batch scheme")
    }

    #[test]
    fn sdk_vector_verifies() {
        let scheme = published();
        let url = format!("{ORIGIN}{TARGET}");
        assert_eq!(scheme.signature("POST", &url, BODY, 15_000_000), EXPECTED);
        let signed = [&b"POST"[..], url.as_bytes(), BODY, TS.as_bytes()];
        assert_eq!(
            verify(&scheme, TARGET, &headers(EXPECTED, TS), BODY, NOW),
            Ok(Delivery::new(None, Some(15_000))
                .fingerprint_of(signed)
                .verified_by(0))
        );
        // The URL from `Host`, without a public URL.
        let mut with_host = headers(EXPECTED, TS);
        with_host.push((HOST.into(), "www.example.com".into()));
        let plain = HubSpot::new(SECRET).unwrap();
        assert!(verify(&plain, TARGET, &with_host, BODY, NOW).is_ok());
        assert_eq!(
            verify(&plain, TARGET, &headers(EXPECTED, TS), BODY, NOW),
            Err(VerifyError::missing(HOST))
        );
        // Padding is optional.
        let unpadded = EXPECTED.trim_end_matches('=');
        assert!(verify(&scheme, TARGET, &headers(unpadded, TS), BODY, NOW).is_ok());
        // The request has no name of its own.
        let request = Request::new("POST", TARGET, &with_host, BODY);
        assert!(matches!(scheme.event_name(&request), Ok(None)));
    }

    #[test]
    fn the_uri_is_signed_with_the_documented_characters_decoded() {
        // No published vector signs a URL with escapes: this one was
        // computed with Python's hmac module over the URL with HubSpot's
        // table applied (`re.sub` of each `%XX` in the table, either case).
        let target = "/hooks/a%3Ab%2fc?next=%2Fx%2a%20y&at=%40me%253A";
        let body = DOCS_BATCH;
        let ts = "1700000000123";
        let now = 1_700_000_000;
        let decoded = "NeaphoR4zAsWBYqgQN3sFObBllXpNsPDz/uIdoAVNfo=";
        let undecoded = "2aTArXAIuwEI+C3qWbJWTbB7uFjxNd841DQcdccclhM=";
        let scheme = published();
        assert!(verify(&scheme, target, &headers(decoded, ts), body, now).is_ok());
        assert_eq!(
            verify(&scheme, target, &headers(undecoded, ts), body, now),
            Err(VerifyError::InvalidSignature)
        );
        // The same URL written with the characters themselves, or other
        // hex cases, is the same URI.
        for same in [
            "/hooks/a:b/c?next=/x*%20y&at=@me%253A",
            "/hooks/a%3ab%2Fc?next=%2fx*%20y&at=%40me%253A",
        ] {
            assert!(verify(&scheme, same, &headers(decoded, ts), body, now).is_ok());
        }
        // An escape outside the table is another URI.
        assert_eq!(
            verify(
                &scheme,
                "/hooks/a%3Ab%2fc?next=%2Fx%2a y&at=%40me%253A",
                &headers(decoded, ts),
                body,
                now
            ),
            Err(VerifyError::InvalidSignature)
        );
        let url = format!("{ORIGIN}{target}");
        assert_eq!(
            scheme.signature("POST", &url, body, 1_700_000_000_123),
            decoded
        );
    }

    #[test]
    fn signed_uri_decodes_only_the_table() {
        assert_eq!(
            signed_uri("%3A%2F%3F%40%21%24%27%28%29%2A%2C%3B"),
            ":/?@!$'()*,;"
        );
        assert_eq!(
            signed_uri("%3a%2f%3f%40%21%24%27%28%29%2a%2c%3b"),
            ":/?@!$'()*,;"
        );
        for kept in [
            "%20%26%3D%23%5B%5D%2B%25%41",
            "%253A",
            "%",
            "%3",
            "a%",
            "%%3A",
            "%zz",
            "%+3A",
            "%-1",
            "%é3A",
            "é%3",
        ] {
            let expected = kept.replace("%%3A", "%:");
            assert_eq!(signed_uri(kept), expected, "{kept}");
        }
        assert!(matches!(
            signed_uri("https://a.example/x"),
            Cow::Borrowed(_)
        ));
        assert_eq!(signed_uri("é%3Aé%2C"), "é:é,");
    }

    #[test]
    fn tampering_is_refused() {
        let scheme = published();
        let ok = headers(EXPECTED, TS);
        assert!(verify(&scheme, TARGET, &ok, BODY, NOW).is_ok());
        assert_eq!(
            verify(
                &scheme,
                TARGET,
                &ok,
                b"{'example_field':'example_valuE'}",
                NOW
            ),
            Err(VerifyError::InvalidSignature)
        );
        let flipped = EXPECTED.replacen('H', "I", 1);
        assert_eq!(
            verify(&scheme, TARGET, &headers(&flipped, TS), BODY, NOW),
            Err(VerifyError::InvalidSignature)
        );
        // A timestamp one millisecond off, still fresh.
        assert_eq!(
            verify(&scheme, TARGET, &headers(EXPECTED, "15000001"), BODY, NOW),
            Err(VerifyError::InvalidSignature)
        );
        // The URL and the method are signed.
        assert_eq!(
            verify(&scheme, "/webhook_urj", &ok, BODY, NOW),
            Err(VerifyError::InvalidSignature)
        );
        assert_eq!(
            verify(&scheme, "/webhook_uri/", &ok, BODY, NOW),
            Err(VerifyError::InvalidSignature)
        );
        let http = HubSpot::new(SECRET)
            .unwrap()
            .public_url("http://www.example.com");
        assert_eq!(
            verify(&http, TARGET, &ok, BODY, NOW),
            Err(VerifyError::InvalidSignature)
        );
        let get = Request::new("GET", TARGET, &ok, BODY);
        assert_eq!(
            scheme.verify(&get, scheme.secrets(), NOW),
            Err(VerifyError::InvalidSignature)
        );
        let stranger = HubSpot::new("stranger").unwrap().signature(
            "POST",
            &format!("{ORIGIN}{TARGET}"),
            BODY,
            15_000_000,
        );
        assert_eq!(
            verify(&scheme, TARGET, &headers(&stranger, TS), BODY, NOW),
            Err(VerifyError::InvalidSignature)
        );
        assert_eq!(
            verify(&scheme, TARGET, &headers("not base64!", TS), BODY, NOW),
            Err(VerifyError::malformed(SIGNATURE))
        );
        // Hex is not HubSpot's encoding (v1 and v2 are): another length.
        let hex = hex::encode([7u8; 32]);
        assert_eq!(
            verify(&scheme, TARGET, &headers(&hex, TS), BODY, NOW),
            Err(VerifyError::InvalidSignature)
        );
        for bad_ts in [
            "15000000.0",
            "-15000000",
            "1.5e7",
            " 15000000",
            "99999999999999999999",
        ] {
            assert_eq!(
                verify(&scheme, TARGET, &headers(EXPECTED, bad_ts), BODY, NOW),
                Err(VerifyError::malformed(TIMESTAMP)),
                "{bad_ts}"
            );
        }
    }

    #[test]
    fn stale_and_future_timestamps_are_refused() {
        let scheme = published();
        let ok = headers(EXPECTED, TS);
        for now in [NOW - 300, NOW + 300] {
            assert!(verify(&scheme, TARGET, &ok, BODY, now).is_ok(), "{now}");
        }
        for now in [NOW - 301, NOW + 301, 1_700_000_000, 0] {
            assert_eq!(
                verify(&scheme, TARGET, &ok, BODY, now),
                Err(VerifyError::TimestampOutOfTolerance {
                    timestamp: 15_000,
                    now
                })
            );
        }
        // Milliseconds are cut to the second.
        let signed = scheme.signature("POST", &format!("{ORIGIN}{TARGET}"), BODY, 15_300_999);
        assert!(verify(&scheme, TARGET, &headers(&signed, "15300999"), BODY, NOW).is_ok());
        let tight = published().tolerance(Tolerance::new(Duration::from_secs(60)));
        assert!(matches!(
            verify(&tight, TARGET, &ok, BODY, NOW + 61),
            Err(VerifyError::TimestampOutOfTolerance { .. })
        ));
        let replay = published().tolerance(Tolerance::disabled());
        assert!(verify(&replay, TARGET, &ok, BODY, 1_700_000_000).is_ok());
    }

    #[test]
    fn round_trip_rotation_and_absurd_values() {
        let scheme = HubSpot::with_secrets(
            Secrets::new([Secret::new("next").unwrap(), Secret::new(SECRET).unwrap()]).unwrap(),
        )
        .public_url("https://www.example.com/");
        assert_eq!(
            verify(&scheme, TARGET, &headers(EXPECTED, TS), BODY, NOW).map(|d| d.secret),
            Ok(Some(1))
        );
        let now = 1_700_000_000;
        let signed = scheme.sign(&Message {
            id: "",
            timestamp: now,
            event: "",
            url: "https://www.example.com/hubspot?portal=%3A1",
            body: DOCS_BATCH,
        });
        assert!(signed.contains(&(TIMESTAMP.into(), "1700000000000".into())));
        let delivery = verify(
            &scheme,
            "/hubspot?portal=%3A1",
            &signed,
            DOCS_BATCH,
            now + 5,
        );
        assert_eq!(
            delivery.map(|d| (d.id, d.timestamp, d.secret, d.fingerprint.is_some())),
            Ok((None, Some(now), Some(0), true))
        );
        assert_eq!(
            verify(
                &scheme,
                "/hubspot?portal=%3A1",
                &signed,
                &DOCS_BATCH[1..],
                now
            ),
            Err(VerifyError::InvalidSignature)
        );
        // The same content gives the same fingerprint, escaped or not.
        let fingerprint =
            |target| verify(&scheme, target, &signed, DOCS_BATCH, now).map(|d| d.fingerprint);
        assert_eq!(
            fingerprint("/hubspot?portal=:1"),
            fingerprint("/hubspot?portal=%3A1")
        );
        // An absurd timestamp saturates instead of overflowing.
        let far = scheme.sign(&Message {
            id: "",
            timestamp: i64::MAX,
            event: "",
            url: "https://www.example.com/x",
            body: b"[]",
        });
        assert!(far.contains(&(TIMESTAMP.into(), i64::MAX.to_string())));

        let plain = published();
        assert_refuses_absurd_headers(
            &plain,
            &headers(EXPECTED, TS),
            &[SIGNATURE, TIMESTAMP],
            BODY,
            NOW,
        );
    }

    #[test]
    fn debug_shows_no_secret() {
        let shown = format!("{:?}", published());
        assert!(!shown.contains(SECRET), "{shown}");
    }

    #[test]
    fn batch_finds_each_event() {
        let events = batch(DOCS_BATCH).unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(
            &DOCS_BATCH[events[0].range.clone()],
            &DOCS_BATCH[1..DOCS_BATCH.len() - 1]
        );
        assert_eq!(
            events[0].id.as_deref(),
            Some("1:62515:12345:contact.creation:123::1564113600000")
        );
        assert_eq!(events[0].name, "contact.creation");

        let body = br#" [
            {"eventId": 3029365631, "subscriptionType": "contact.propertyChange",
             "propertyName": "email", "propertyValue": "a@example.com", "attemptNumber": 0},
            {"subscriptionType":"object.creation","objectTypeId":"0-1","eventId":"77"} ,
            {"subscriptionType":"deal.deletion"}
        ] "#;
        let events = batch(body).unwrap();
        let seen: Vec<_> = events
            .iter()
            .map(|e| (e.id.as_deref(), e.name.as_str()))
            .collect();
        assert_eq!(
            seen,
            [
                (
                    Some("3029365631:::contact.propertyChange::email:"),
                    "contact.propertyChange"
                ),
                (Some("77:::object.creation:::"), "object.creation"),
                (None, "deal.deletion"),
            ]
        );
        let texts: Vec<&[u8]> = events.iter().map(|e| &body[e.range.clone()]).collect();
        assert!(texts[0].starts_with(br#"{"eventId": 3029365631"#) && texts[0].ends_with(b"0}"));
        assert_eq!(
            texts[1],
            br#"{"subscriptionType":"object.creation","objectTypeId":"0-1","eventId":"77"}"#
        );
        assert_eq!(texts[2], br#"{"subscriptionType":"deal.deletion"}"#);

        assert_eq!(batch(b"[]"), Ok(Vec::new()));
        assert_eq!(batch(b" [ ] "), Ok(Vec::new()));
        // An empty id is no id.
        let events = batch(br#"[{"eventId":"","subscriptionType":"a.b"}]"#).unwrap();
        assert_eq!(events[0].id, None);
    }

    #[test]
    fn events_sharing_an_event_id_have_ids_of_their_own() {
        // One save: a creation and two property changes under one eventId.
        let body = br#"[
            {"eventId":9,"portalId":1,"subscriptionId":5,"subscriptionType":"contact.creation","objectId":3,"occurredAt":7,"attemptNumber":0},
            {"eventId":9,"portalId":1,"subscriptionId":6,"subscriptionType":"contact.propertyChange","objectId":3,"propertyName":"email","occurredAt":7,"attemptNumber":0},
            {"eventId":9,"portalId":1,"subscriptionId":6,"subscriptionType":"contact.propertyChange","objectId":3,"propertyName":"phone","occurredAt":7,"attemptNumber":0}
        ]"#;
        let ids: Vec<_> = batch(body).unwrap().into_iter().map(|e| e.id).collect();
        assert!(ids.iter().all(Option::is_some));
        assert!(
            ids[0] != ids[1] && ids[1] != ids[2] && ids[0] != ids[2],
            "{ids:?}"
        );
        // A later attempt of the same events has the same ids.
        let retried =
            String::from_utf8_lossy(body).replace(r#""attemptNumber":0"#, r#""attemptNumber":3"#);
        let again: Vec<_> = batch(retried.as_bytes())
            .unwrap()
            .into_iter()
            .map(|e| e.id)
            .collect();
        assert_eq!(ids, again);
    }

    #[test]
    fn batch_refuses_what_cannot_be_routed() {
        for body in [
            // An event without its name, or with an empty one.
            &br#"[{"eventId":1,"subscriptionType":"contact.creation"},{"eventId":2}]"#[..],
            br#"[{"eventId":1,"subscriptionType":""}]"#,
            br#"[{"eventId":1,"subscriptionType":"a","subscriptionType":"b"}]"#,
            br#"[{"eventId":1,"eventId":2,"subscriptionType":"a"}]"#,
            br#"[1]"#,
            br#"{"eventId":1,"subscriptionType":"contact.creation"}"#,
            b"",
            b"not json",
            br#"[{"eventId":1,"subscriptionType":"a"}"#,
            BODY,
        ] {
            assert!(batch(body).is_err(), "{}", String::from_utf8_lossy(body));
        }
    }
}
