//! [Dropbox](https://www.dropbox.com/developers/reference/webhooks)
//! webhooks: file change notifications.

use crate::scheme::{
    query_pairs, Delivery, Encoding, EventNameError, Message, Reply, Request, Scheme,
    SignatureHeader, Signer,
};
use crate::secret::{Secret, SecretError, Secrets};
use crate::verify::VerifyError;

const SIGNATURE: &str = "X-Dropbox-Signature";

/// The hex HMAC-SHA256 of the body.
const HMAC: SignatureHeader = SignatureHeader::bare(SIGNATURE, Encoding::Hex);

/// The event name of every notification.
const EVENT: &str = "list_folder";

/// The query parameter of the verification request.
const CHALLENGE: &str = "challenge";

/// The longest challenge echoed, in bytes; Dropbox's are far shorter.
const MAX_CHALLENGE: usize = 256;

/// Dropbox's webhook scheme ([docs](https://www.dropbox.com/developers/reference/webhooks)).
///
/// Reads the header `X-Dropbox-Signature`: the hex HMAC-SHA256 of the body,
/// keyed with the app secret. Dropbox signs no timestamp.
///
/// **No id, no deduplication.** A notification only says that some accounts
/// have changes (`{"list_folder":{"accounts":[...]},"delta":{"users":[...]}}`)
/// and carries no id; two real notifications for the same account have the
/// same body. So the [`Delivery`] has no id and no
/// [fingerprint](Delivery::fingerprint): every notification runs its
/// handler, as a fingerprint would take the second real one for a repeat
/// and drop it. Dropbox asks the handler only to fetch each account's
/// changes with its cursor (`/files/list_folder/continue`), which is
/// idempotent: a notification handled twice, or a captured one sent again,
/// only makes the app look for changes again.
///
/// The event name is always `list_folder`.
///
/// **The verification request** is answered by itself
/// ([`Scheme::unsigned_reply`]): a `GET` with `?challenge=<token>` gets 200
/// with the challenge as `text/plain` (the router adds
/// `X-Content-Type-Options: nosniff`, as Dropbox asks). The challenge is
/// echoed only when it is sent once, is 1 to 256 bytes and holds only
/// letters, digits, `-`, `_`, `.` and `~` (after percent-decoding); any other
/// `GET` is refused with [`VerifyError::HandshakeRefused`] (403
/// `handshake_refused`). The method must be exactly `GET`; other methods are
/// verified as notifications (`POST`) or get 405.
///
/// ```
/// use actix_webhook::scheme::{Dropbox, Request, Scheme};
///
/// let scheme = Dropbox::new("app-secret")?;
/// let body = br#"{"list_folder":{"accounts":["dbid:AAH4f99T0taONIb-OurWxbNQ6ywGRopQngc"]}}"#;
/// let signature = scheme.signature(body);
/// let headers = [("X-Dropbox-Signature", signature.as_str())];
/// let request = Request::new("POST", "/dropbox", &headers, body);
/// let delivery = scheme.verify(&request, scheme.secrets(), 0)?;
/// assert_eq!((delivery.id, delivery.fingerprint), (None, None));
/// assert_eq!(scheme.event_name(&request)?.as_deref(), Some("list_folder"));
///
/// let no_headers: [(&str, &str); 0] = [];
/// let verification = Request::new("GET", "/dropbox?challenge=abc123", &no_headers, b"");
/// let reply = scheme.unsigned_reply(&verification, scheme.secrets()).unwrap()?;
/// assert_eq!((reply.status, reply.body), (200, b"abc123".to_vec()));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Dropbox {
    secrets: Secrets,
}

impl Dropbox {
    /// The scheme with the app secret.
    ///
    /// # Errors
    ///
    /// [`SecretError::Empty`] for an empty secret.
    pub fn new(app_secret: &str) -> Result<Self, SecretError> {
        Ok(Self::with_secrets(Secret::new(app_secret)?))
    }

    /// The scheme with several app secrets, newest first (e.g. while the app
    /// secret is regenerated).
    pub fn with_secrets(secrets: impl Into<Secrets>) -> Self {
        Self {
            secrets: secrets.into(),
        }
    }

    /// The `X-Dropbox-Signature` value for `body`, signed with the first
    /// secret: hex.
    #[must_use]
    pub fn signature(&self, body: &[u8]) -> String {
        HMAC.sign_hmac_sha256(&self.secrets, [body])
    }
}

/// Whether `challenge` may be echoed: 1 to [`MAX_CHALLENGE`] bytes of URL
/// unreserved characters (RFC 3986), so the echo can carry no markup.
fn echoable(challenge: &str) -> bool {
    (1..=MAX_CHALLENGE).contains(&challenge.len())
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~'))
}

impl Scheme for Dropbox {
    fn name(&self) -> &'static str {
        "dropbox"
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
        // No id, and deliberately no fingerprint: two real notifications for
        // one account have the same body, and both must run.
        Ok(Delivery::new(None, None).verified_by(secret))
    }

    /// Always `list_folder`.
    fn event_name(&self, _request: &Request<'_>) -> Result<Option<String>, EventNameError> {
        Ok(Some(EVENT.to_owned()))
    }

    /// Answers the verification request: any `GET`.
    fn unsigned_reply(
        &self,
        request: &Request<'_>,
        _secrets: &Secrets,
    ) -> Option<Result<Reply, VerifyError>> {
        // Methods are case-sensitive: `get` is another (extension) method.
        if request.method() != "GET" {
            return None;
        }
        let mut challenges = query_pairs(request.path_and_query())
            .filter(|(name, _)| name == CHALLENGE)
            .map(|(_, value)| value);
        Some(match (challenges.next(), challenges.next()) {
            (Some(challenge), None) if echoable(&challenge) => {
                Ok(Reply::ok("text/plain", challenge.into_owned().into_bytes()))
            }
            _ => Err(VerifyError::HandshakeRefused),
        })
    }
}

impl Signer for Dropbox {
    /// `X-Dropbox-Signature` only: Dropbox sends no id or event header.
    fn sign(&self, message: &Message<'_>) -> Vec<(String, String)> {
        vec![(SIGNATURE.into(), self.signature(message.body))]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheme::test_support::assert_refuses_absurd_headers;

    // Dropbox publishes no signed example (its docs and the dropbox_hook
    // test tool, https://github.com/dropbox/dropbox_hook, compute signatures
    // at run time). This body, shaped like the docs' example notification,
    // was signed with Python's hmac module, an independent implementation of
    // the documented algorithm.
    const SECRET: &str = "dropbox-app-secret";
    const BODY: &[u8] = br#"{"list_folder":{"accounts":["dbid:AAH4f99T0taONIb-OurWxbNQ6ywGRopQngc"]},"delta":{"users":[12345842]}}"#;
    const EXPECTED: &str = "66800b59dd3eb25db0b92a296aaee005a3edfd896feb694801c0f1a30d04542d";

    fn verify(scheme: &Dropbox, signature: &str, body: &[u8]) -> Result<Delivery, VerifyError> {
        crate::scheme::test_support::verify_post(
            scheme,
            "/dropbox",
            &[(SIGNATURE, signature)],
            body,
            0,
        )
    }

    fn handshake(
        scheme: &Dropbox,
        method: &str,
        target: &str,
    ) -> Option<Result<Reply, VerifyError>> {
        let headers: [(&str, &str); 0] = [];
        scheme.unsigned_reply(
            &Request::new(method, target, &headers, b""),
            scheme.secrets(),
        )
    }

    #[test]
    fn cross_checked_example_verifies_without_id_or_fingerprint() {
        let scheme = Dropbox::new(SECRET).unwrap();
        assert_eq!(scheme.signature(BODY), EXPECTED);
        let delivery = verify(&scheme, EXPECTED, BODY).unwrap();
        assert_eq!(delivery, Delivery::new(None, None).verified_by(0));
        // The same notification again is a new one: nothing to recognise it by.
        assert_eq!(verify(&scheme, EXPECTED, BODY), Ok(delivery));
        let headers = [(SIGNATURE, EXPECTED)];
        for body in [BODY, b"{}", b"not json"] {
            let request = Request::new("POST", "/", &headers, body);
            assert_eq!(
                scheme.event_name(&request).unwrap().as_deref(),
                Some("list_folder")
            );
        }
        // Either case of hex.
        assert!(verify(&scheme, &EXPECTED.to_uppercase(), BODY).is_ok());
    }

    #[test]
    fn round_trip_tampering_rotation_and_absurd_values() {
        let scheme = Dropbox::with_secrets(
            Secrets::new([Secret::new("next").unwrap(), Secret::new(SECRET).unwrap()]).unwrap(),
        );
        assert_eq!(
            verify(&scheme, EXPECTED, BODY).map(|d| d.secret),
            Ok(Some(1))
        );
        let signed = scheme.sign(&Message {
            id: "ignored",
            timestamp: 0,
            event: "",
            url: "",
            body: BODY,
        });
        assert_eq!(signed.len(), 1);
        assert_eq!(
            verify(&scheme, &signed[0].1, BODY).map(|d| d.secret),
            Ok(Some(0))
        );
        let mut tampered = BODY.to_vec();
        tampered[30] ^= 1;
        assert_eq!(
            verify(&scheme, EXPECTED, &tampered),
            Err(VerifyError::InvalidSignature)
        );
        let flipped = EXPECTED.replacen('6', "7", 1);
        assert_eq!(
            verify(&scheme, &flipped, BODY),
            Err(VerifyError::InvalidSignature)
        );
        let stranger = Dropbox::new("stranger").unwrap().signature(BODY);
        assert_eq!(
            verify(&scheme, &stranger, BODY),
            Err(VerifyError::InvalidSignature)
        );
        assert_eq!(
            verify(&scheme, "sha256=00", BODY),
            Err(VerifyError::malformed(SIGNATURE))
        );
        let headers = vec![(SIGNATURE.to_owned(), EXPECTED.to_owned())];
        assert_refuses_absurd_headers(&scheme, &headers, &[SIGNATURE], BODY, 0);
        assert!(!format!("{scheme:?}").contains(SECRET));
    }

    #[test]
    fn verification_request() {
        let scheme = Dropbox::new(SECRET).unwrap();
        let ok = handshake(&scheme, "GET", "/dropbox?challenge=abc123")
            .unwrap()
            .unwrap();
        assert_eq!(
            (ok.status, ok.content_type, ok.body),
            (200, "text/plain", b"abc123".to_vec())
        );
        // dropbox_hook's default, unreserved punctuation, percent-decoding,
        // other parameters, and the longest accepted.
        let longest = "a".repeat(256);
        for (target, echoed) in [
            ("/dropbox?challenge=challenge123", "challenge123"),
            ("/dropbox?challenge=a-b_c.d~e", "a-b_c.d~e"),
            ("/dropbox?challenge=%61bc", "abc"),
            ("/dropbox?x=1&challenge=Zz09&y=2", "Zz09"),
            (&format!("/dropbox?challenge={longest}")[..], &longest[..]),
        ] {
            let reply = handshake(&scheme, "GET", target).unwrap().unwrap();
            assert_eq!(reply.body, echoed.as_bytes(), "{target}");
        }
        let too_long = format!("/dropbox?challenge={}", "a".repeat(257));
        for target in [
            "/dropbox",
            "/dropbox?",
            "/dropbox?x=1",
            "/dropbox?challenge=",
            "/dropbox?challenge",
            "/dropbox?challenge=a&challenge=b",
            "/dropbox?challenge=a&challenge=a",
            "/dropbox?challenge=%3Cscript%3E",
            "/dropbox?challenge=<b>",
            "/dropbox?challenge=a+b",
            "/dropbox?challenge=a%20b",
            "/dropbox?challenge=a%0D%0Ab",
            "/dropbox?challenge=%FF",
            "/dropbox?challenge=caf%C3%A9",
            "/dropbox?challenge=a/b",
            "/dropbox?challenge=a%00",
            &too_long,
        ] {
            assert_eq!(
                handshake(&scheme, "GET", target),
                Some(Err(VerifyError::HandshakeRefused)),
                "{target}"
            );
        }
        // Only `GET`, spelled exactly: methods are case-sensitive.
        for method in ["POST", "get", "Get", "HEAD", "PUT", "GET "] {
            assert_eq!(
                handshake(&scheme, method, "/dropbox?challenge=abc123"),
                None,
                "{method}"
            );
        }
    }
}
