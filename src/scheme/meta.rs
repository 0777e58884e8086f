//! [Meta](https://developers.facebook.com/docs/graph-api/webhooks/getting-started)
//! webhooks: WhatsApp Business, Messenger, Instagram and other Graph API
//! subscriptions.

use std::fmt;
use std::sync::OnceLock;

use crate::payload::PayloadError;
use crate::scheme::github::HUB_SIGNATURE;
use crate::scheme::{
    query_pairs, static_pointer, token_matches, Delivery, EventNameError, JsonPointer, Message,
    Reply, Request, Scheme, Signer,
};
use crate::secret::{Secret, SecretError, Secrets};
use crate::verify::VerifyError;

/// Meta's webhook scheme for WhatsApp Business, Messenger, Instagram and
/// other Graph API objects ([docs](https://developers.facebook.com/docs/graph-api/webhooks/getting-started)).
///
/// Reads one header, `X-Hub-Signature-256`: `sha256=<hex HMAC-SHA256 of the
/// body>` keyed with the app secret. Meta signs no timestamp and sends no
/// delivery id, so [`Delivery::id`] is `None`: a notification may batch
/// several `entry` items, and handlers that must act once deduplicate on the
/// ids inside them (a WhatsApp message's `wamid`, a Messenger `mid`).
///
/// The event name is the body's `object` (`whatsapp_business_account`,
/// `page`, `instagram`), followed by `.` and `entry[0].changes[0].field`
/// when the body has one: `whatsapp_business_account.messages`, `page.feed`.
/// Messenger's `entry[0].messaging` bodies have no field and are named
/// `page`. Route `whatsapp_business_account.*` to take every field.
///
/// The subscription handshake is answered by itself
/// ([`Scheme::unsigned_reply`]): a `GET` with `hub.mode=subscribe`,
/// `hub.verify_token` and `hub.challenge` gets 200 with the challenge as
/// `text/plain` when the token equals the one set with
/// [`Meta::verify_token`] (compared in constant time), and otherwise
/// [`VerifyError::HandshakeRefused`] (403 `handshake_refused`,
/// problem+json). The method must be exactly `GET` (a lowercase `get` is
/// another method): other requests are verified as deliveries (`POST`) or
/// get 405.
///
/// ```
/// use actix_webhook::scheme::{Meta, Request, Scheme};
///
/// let scheme = Meta::new("app-secret")?.verify_token("my-verify-token");
///
/// let target = "/meta?hub.mode=subscribe&hub.verify_token=my-verify-token&hub.challenge=1158201444";
/// let reply = scheme.unsigned_reply(&Request::new("GET", target, &[("a", "b")], b""), scheme.secrets());
/// let reply = reply.unwrap().unwrap();
/// assert_eq!((reply.status, reply.body), (200, b"1158201444".to_vec()));
/// # Ok::<(), actix_webhook::SecretError>(())
/// ```
#[derive(Clone)]
pub struct Meta {
    secrets: Secrets,
    verify_token: Option<Secret>,
}

impl fmt::Debug for Meta {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Meta")
            .field("secrets", &self.secrets)
            .field("verify_token", &self.verify_token)
            .finish()
    }
}

impl Meta {
    /// The scheme with the app secret.
    ///
    /// # Errors
    ///
    /// [`SecretError::Empty`] for an empty secret.
    pub fn new(app_secret: &str) -> Result<Self, SecretError> {
        Ok(Self::with_secrets(Secret::new(app_secret)?))
    }

    /// The scheme with several app secrets, newest first.
    pub fn with_secrets(secrets: impl Into<Secrets>) -> Self {
        Self {
            secrets: secrets.into(),
            verify_token: None,
        }
    }

    /// The verify token entered with the callback URL in the app dashboard.
    /// Without one, every subscription handshake is refused (403
    /// `handshake_refused`); an empty token is no token.
    #[must_use]
    pub fn verify_token(mut self, token: &str) -> Self {
        self.verify_token = Secret::new(token).ok();
        self
    }

    /// The `X-Hub-Signature-256` value for `body`, signed with the first
    /// secret: `sha256=<hex>`.
    #[must_use]
    pub fn signature(&self, body: &[u8]) -> String {
        HUB_SIGNATURE.sign_hmac_sha256(&self.secrets, [body])
    }
}

impl Scheme for Meta {
    fn name(&self) -> &'static str {
        "meta"
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
        let secret = HUB_SIGNATURE.check_hmac_sha256(request, secrets, [request.body()])?;
        // No id and no timestamp: a repeat is recognised by its body.
        Ok(Delivery::new(None, None)
            .fingerprint_of([request.body()])
            .verified_by(secret))
    }

    /// `object`, then `.` and `entry[0].changes[0].field` when present.
    fn event_name(&self, request: &Request<'_>) -> Result<Option<String>, EventNameError> {
        static OBJECT: OnceLock<JsonPointer> = OnceLock::new();
        static FIELD: OnceLock<JsonPointer> = OnceLock::new();
        let Some(mut name) = static_pointer(&OBJECT, "/object").string_in(request.body())? else {
            return Err(EventNameError::Payload(PayloadError::missing(
                "event name: no string at `/object`",
            )));
        };
        if let Some(field) =
            static_pointer(&FIELD, "/entry/0/changes/0/field").string_in(request.body())?
        {
            name.push('.');
            name.push_str(&field);
        }
        Ok(Some(name))
    }

    /// Answers the subscription handshake: a `GET` carrying `hub.mode`.
    fn unsigned_reply(
        &self,
        request: &Request<'_>,
        _secrets: &Secrets,
    ) -> Option<Result<Reply, VerifyError>> {
        // Methods are case-sensitive: `get` is another (extension) method.
        if request.method() != "GET" {
            return None;
        }
        let (mut mode, mut token, mut challenge) = (None, None, None);
        for (name, value) in query_pairs(request.path_and_query()) {
            let slot = match &*name {
                "hub.mode" => &mut mode,
                "hub.verify_token" => &mut token,
                "hub.challenge" => &mut challenge,
                _ => continue,
            };
            slot.get_or_insert(value);
        }
        mode.as_ref()?;
        let expected = self.verify_token.clone().map(Secrets::from);
        let accepted = mode.as_deref() == Some("subscribe")
            && match (&token, &expected) {
                (Some(token), Some(expected)) => {
                    token_matches(token.as_bytes(), expected).is_some()
                }
                _ => false,
            };
        Some(match (accepted, challenge) {
            (true, Some(challenge)) => Ok(Reply::ok(
                "text/plain; charset=utf-8",
                challenge.into_owned().into_bytes(),
            )),
            _ => Err(VerifyError::HandshakeRefused),
        })
    }
}

impl Signer for Meta {
    /// `X-Hub-Signature-256` only: Meta sends no id or event header.
    fn sign(&self, message: &Message<'_>) -> Vec<(String, String)> {
        vec![(HUB_SIGNATURE.name.into(), self.signature(message.body))]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheme::test_support::assert_refuses_absurd_headers;

    const SIGNATURE: &str = HUB_SIGNATURE.name;

    // Meta publishes no signed example. Its `X-Hub-Signature-256` is GitHub's
    // algorithm (HMAC-SHA256 of the body, `sha256=<hex>`), so GitHub's
    // published example (docs.github.com/en/webhooks/using-webhooks/
    // validating-webhook-deliveries) checks the same code path:
    const GITHUB_SECRET: &str = "It's a Secret to Everybody";
    const GITHUB_BODY: &[u8] = b"Hello, World!";
    const GITHUB_SIGNATURE: &str =
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

    // A WhatsApp notification shaped like Meta's example payload
    // (developers.facebook.com/docs/whatsapp/cloud-api/webhooks/payload-examples),
    // signed with Python's hmac module as an independent check.
    const APP_SECRET: &str = "meta-app-secret";
    const WHATSAPP: &[u8] = br#"{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"value":{"messaging_product":"whatsapp","messages":[{"from":"16315551181","id":"wamid.ABGGFlA5Fpa","timestamp":"1504902988","text":{"body":"this is a text message"},"type":"text"}]},"field":"messages"}]}]}"#;
    const WHATSAPP_SIGNATURE: &str =
        "sha256=c4a6a9758cb8270e98366cb7275be64960dc6cb1d4e96363bf3a0e79ca154ffb";

    fn verify(scheme: &Meta, signature: &str, body: &[u8]) -> Result<Delivery, VerifyError> {
        crate::scheme::test_support::verify_post(
            scheme,
            "/meta",
            &[(SIGNATURE, signature)],
            body,
            0,
        )
    }

    fn handshake(scheme: &Meta, method: &str, target: &str) -> Option<Result<Reply, VerifyError>> {
        let headers: [(&str, &str); 0] = [];
        scheme.unsigned_reply(
            &Request::new(method, target, &headers, b""),
            scheme.secrets(),
        )
    }

    #[test]
    fn known_signatures_verify() {
        let scheme = Meta::new(GITHUB_SECRET).unwrap();
        assert_eq!(scheme.signature(GITHUB_BODY), GITHUB_SIGNATURE);
        assert_eq!(
            verify(&scheme, GITHUB_SIGNATURE, GITHUB_BODY),
            Ok(Delivery::new(None, None)
                .fingerprint_of([GITHUB_BODY])
                .verified_by(0))
        );
        let scheme = Meta::new(APP_SECRET).unwrap();
        assert_eq!(scheme.signature(WHATSAPP), WHATSAPP_SIGNATURE);
        assert!(verify(&scheme, WHATSAPP_SIGNATURE, WHATSAPP).is_ok());
    }

    #[test]
    fn event_names() {
        let scheme = Meta::new(APP_SECRET).unwrap();
        let name = |body: &[u8]| {
            let headers = [(SIGNATURE, "")];
            scheme.event_name(&Request::new("POST", "/", &headers, body))
        };
        assert_eq!(
            name(WHATSAPP).unwrap().as_deref(),
            Some("whatsapp_business_account.messages")
        );
        assert_eq!(
            name(br#"{"object":"page","entry":[{"id":"1","messaging":[{"message":{}}]}]}"#)
                .unwrap()
                .as_deref(),
            Some("page")
        );
        assert!(matches!(
            name(br#"{"entry":[]}"#),
            Err(EventNameError::Payload(e)) if e.to_string() == "the body has no event name: no string at `/object`"
        ));
        assert!(name(b"not json").is_err());
    }

    #[test]
    fn round_trip_tampering_and_rotation() {
        let scheme = Meta::with_secrets(
            Secrets::new([
                Secret::new("new-secret").unwrap(),
                Secret::new(APP_SECRET).unwrap(),
            ])
            .unwrap(),
        );
        let message = Message {
            id: "",
            timestamp: 0,
            event: "",
            url: "",
            body: WHATSAPP,
        };
        let signed = scheme.sign(&message);
        assert!(verify(&scheme, &signed[0].1, WHATSAPP).is_ok());
        assert!(verify(&scheme, WHATSAPP_SIGNATURE, WHATSAPP).is_ok());
        let mut tampered = WHATSAPP.to_vec();
        tampered[20] ^= 1;
        assert_eq!(
            verify(&scheme, &signed[0].1, &tampered),
            Err(VerifyError::InvalidSignature)
        );
        let other = Meta::new("someone-else").unwrap().signature(WHATSAPP);
        assert_eq!(
            verify(&scheme, &other, WHATSAPP),
            Err(VerifyError::InvalidSignature)
        );
        assert_eq!(
            verify(&scheme, &WHATSAPP_SIGNATURE[7..], WHATSAPP),
            Err(VerifyError::malformed(SIGNATURE))
        );
        let headers = vec![(SIGNATURE.to_owned(), signed[0].1.clone())];
        assert_refuses_absurd_headers(&scheme, &headers, &[SIGNATURE], WHATSAPP, 0);
    }

    #[test]
    fn subscription_handshake() {
        let scheme = Meta::new(APP_SECRET).unwrap().verify_token("tok3n");
        let ok = handshake(
            &scheme,
            "GET",
            "/meta?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=tok3n",
        )
        .unwrap()
        .unwrap();
        assert_eq!(ok.status, 200);
        assert_eq!(ok.body, b"1158201444");
        assert!(ok.content_type.starts_with("text/plain"));

        // Percent-encoded values are decoded.
        let encoded = handshake(
            &scheme,
            "GET",
            "/meta?hub.mode=subscribe&hub.verify_token=tok%33n&hub.challenge=a%20b",
        )
        .unwrap()
        .unwrap();
        assert_eq!((encoded.status, encoded.body), (200, b"a b".to_vec()));

        for target in [
            "/meta?hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1",
            "/meta?hub.mode=subscribe&hub.verify_token=&hub.challenge=1",
            "/meta?hub.mode=subscribe&hub.challenge=1",
            "/meta?hub.mode=unsubscribe&hub.verify_token=tok3n&hub.challenge=1",
            "/meta?hub.mode=subscribe&hub.verify_token=tok3n",
            "/meta?hub.mode=subscribe&hub.verify_token=tok3n%FF&hub.challenge=1",
        ] {
            assert_eq!(
                handshake(&scheme, "GET", target),
                Some(Err(VerifyError::HandshakeRefused)),
                "{target}"
            );
        }
        // No token configured: refused.
        let unconfigured = Meta::new(APP_SECRET).unwrap();
        assert_eq!(
            handshake(
                &unconfigured,
                "GET",
                "/meta?hub.mode=subscribe&hub.verify_token=&hub.challenge=1"
            ),
            Some(Err(VerifyError::HandshakeRefused))
        );
        let empty = Meta::new(APP_SECRET).unwrap().verify_token("");
        assert_eq!(
            handshake(
                &empty,
                "GET",
                "/meta?hub.mode=subscribe&hub.verify_token=&hub.challenge=1"
            ),
            Some(Err(VerifyError::HandshakeRefused))
        );
        // Not a handshake: verified as usual.
        assert_eq!(handshake(&scheme, "GET", "/meta"), None);
        assert_eq!(handshake(&scheme, "GET", "/meta?x=1"), None);
        // Only `GET`, spelled exactly: methods are case-sensitive.
        for method in ["POST", "get", "Get", "HEAD", "GET "] {
            assert_eq!(
                handshake(
                    &scheme,
                    method,
                    "/meta?hub.mode=subscribe&hub.verify_token=tok3n&hub.challenge=1"
                ),
                None,
                "{method}"
            );
        }
        assert!(!format!("{scheme:?}").contains("tok3n"));
    }
}
