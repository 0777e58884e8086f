//! [Discord](https://discord.com/developers/docs/interactions/overview#setting-up-an-endpoint-validating-security-request-headers)
//! interactions, signed with ed25519 (feature `ed25519`).

use std::fmt;
use std::sync::{Arc, OnceLock};

use ed25519_dalek::SigningKey;

use crate::scheme::ed25519;
use crate::scheme::{
    json_string, static_pointer, Delivery, Encoding, JsonPointer, Message, Reply, Request, Scheme,
    SignatureHeader, Signer,
};
use crate::secret::{Secret, SecretError, Secrets};
use crate::verify::{Tolerance, VerifyError};

const SIGNATURE: &str = "X-Signature-Ed25519";
const TIMESTAMP: &str = "X-Signature-Timestamp";

/// The hex ed25519 signature of the timestamp and the body.
const ED25519: SignatureHeader = SignatureHeader::bare(SIGNATURE, Encoding::Hex);

/// Discord's interactions endpoint ([docs](https://discord.com/developers/docs/interactions/overview#setting-up-an-endpoint-validating-security-request-headers)).
///
/// Needs the `ed25519` feature.
///
/// Reads the headers `X-Signature-Ed25519` (the hex ed25519 signature of the
/// timestamp followed by the body) and `X-Signature-Timestamp` (unix
/// seconds), and checks the signature against the application's public key
/// (hex, from the developer portal). Any of several keys may match.
///
/// Discord's own libraries (discord-interactions) check no freshness; this
/// scheme refuses timestamps more than 5 minutes from now by default, which
/// Discord's prompt deliveries always meet ([`Discord::tolerance`] changes
/// it, [`Tolerance::disabled`] turns it off).
///
/// The delivery id is the interaction's `id` and the event name its `type`
/// as text: `"1"` PING, `"2"` APPLICATION_COMMAND, `"3"`
/// MESSAGE_COMPONENT, `"4"` autocomplete, `"5"` MODAL_SUBMIT. PING is
/// answered by itself ([`Scheme::signed_reply`]) with `{"type":1}`, after the
/// signature is checked, as Discord requires to save the endpoint URL.
///
/// Only a scheme built with [`Discord::with_signing_key`] signs (for tests
/// and the command line); others give just the timestamp header.
///
/// ```
/// use actix_webhook::scheme::Discord;
///
/// let scheme = Discord::new("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")?;
/// # Ok::<(), actix_webhook::SecretError>(())
/// ```
#[derive(Clone)]
#[cfg_attr(docsrs, doc(cfg(feature = "ed25519")))]
pub struct Discord {
    secrets: Secrets,
    tolerance: Tolerance,
    signing_key: Option<Arc<SigningKey>>,
}

impl fmt::Debug for Discord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Discord")
            .field("public_keys", &self.secrets)
            .field("tolerance", &self.tolerance)
            .field(
                "signing_key",
                &self.signing_key.as_ref().map(|_| "[REDACTED]"),
            )
            .finish()
    }
}

impl Discord {
    /// The scheme with the application's public key, in hex.
    ///
    /// # Errors
    ///
    /// As [`Discord::public_key`].
    pub fn new(public_key: &str) -> Result<Self, SecretError> {
        Ok(Self::with_public_key_secrets(Self::public_key(public_key)?))
    }

    /// The scheme with several public keys in hex (e.g. several applications
    /// sharing an endpoint).
    ///
    /// # Errors
    ///
    /// As [`Discord::public_key`], for the first key that fails;
    /// [`SecretError::Empty`] when `keys` is empty.
    pub fn with_public_keys<K: AsRef<str>>(
        keys: impl IntoIterator<Item = K>,
    ) -> Result<Self, SecretError> {
        let keys = keys
            .into_iter()
            .map(|key| Self::public_key(key.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self::with_public_key_secrets(Secrets::new(keys)?))
    }

    /// The scheme with public keys already parsed by [`Discord::public_key`],
    /// e.g. by a per-tenant resolver.
    pub fn with_public_key_secrets(public_keys: impl Into<Secrets>) -> Self {
        Self {
            secrets: public_keys.into(),
            tolerance: Tolerance::default(),
            signing_key: None,
        }
    }

    /// A scheme that signs like Discord, from a 32-byte ed25519 seed in hex
    /// (or the seed followed by the public key, 64 bytes), and verifies with
    /// the matching public key. For tests and the command line.
    ///
    /// # Errors
    ///
    /// [`SecretError::InvalidKey`] when it is not hex of a usable key.
    pub fn with_signing_key(secret_key: &str) -> Result<Self, SecretError> {
        let bytes = zeroize::Zeroizing::new(hex::decode(secret_key).map_err(|_| ed25519::INVALID)?);
        let key = ed25519::signing_key(&bytes)?;
        let public = Secret::new(key.verifying_key().to_bytes().to_vec())?;
        Ok(Self {
            signing_key: Some(Arc::new(key)),
            ..Self::with_public_key_secrets(public)
        })
    }

    /// Parses a public key in hex into a [`Secret`] holding its 32 bytes.
    ///
    /// # Errors
    ///
    /// [`SecretError::InvalidKey`] when it is not 64 hex digits of a usable
    /// ed25519 public key.
    pub fn public_key(public_key: &str) -> Result<Secret, SecretError> {
        let bytes = hex::decode(public_key.trim()).map_err(|_| ed25519::INVALID)?;
        ed25519::public_key_secret(&bytes)
    }

    /// How far the timestamp may be from now (default 5 minutes).
    #[must_use]
    pub fn tolerance(mut self, tolerance: Tolerance) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// The `X-Signature-Ed25519` value for `body` at `timestamp`, in hex;
    /// `None` without a signing key.
    #[must_use]
    pub fn signature(&self, timestamp: i64, body: &[u8]) -> Option<String> {
        let key = self.signing_key.as_deref()?;
        let ts = timestamp.to_string();
        Some(ED25519.write(&ed25519::sign(key, [ts.as_bytes(), body])))
    }
}

impl Scheme for Discord {
    fn name(&self) -> &'static str {
        "discord"
    }

    fn secrets(&self) -> &Secrets {
        &self.secrets
    }

    fn id_in_body(&self) -> Option<&'static str> {
        Some("/id")
    }

    fn verify(
        &self,
        request: &Request<'_>,
        secrets: &Secrets,
        now: i64,
    ) -> Result<Delivery, VerifyError> {
        let read = ED25519.read_timestamped::<64>(request, TIMESTAMP, self.tolerance, now)?;
        let signed = [read.raw_timestamp, request.body()];
        let key = ed25519::any_key_verifies(secrets, read.signature.into_iter(), signed)
            .ok_or(VerifyError::InvalidSignature)?;
        static ID: OnceLock<JsonPointer> = OnceLock::new();
        let id = json_string(request.body(), static_pointer(&ID, "/id"));
        Ok(Delivery::new(id, Some(read.timestamp))
            .fingerprint_if_no_id(signed)
            .verified_by(key))
    }

    /// Answers PING (`"type": 1`) with PONG.
    fn signed_reply(&self, request: &Request<'_>, _secret: &Secret) -> Option<Reply> {
        static TYPE: OnceLock<JsonPointer> = OnceLock::new();
        let type_ = static_pointer(&TYPE, "/type")
            .string_in(request.body())
            .ok()??;
        (type_ == "1").then(|| Reply::ok("application/json", br#"{"type":1}"#.to_vec()))
    }
}

impl Signer for Discord {
    /// `X-Signature-Timestamp`, and `X-Signature-Ed25519` when the scheme has
    /// a signing key.
    fn sign(&self, message: &Message<'_>) -> Vec<(String, String)> {
        let mut headers = vec![(TIMESTAMP.to_owned(), message.timestamp.to_string())];
        if let Some(signature) = self.signature(message.timestamp, message.body) {
            headers.insert(0, (SIGNATURE.to_owned(), signature));
        }
        headers
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheme::test_support::assert_refuses_absurd_headers;
    use crate::scheme::test_support::verify;

    // Discord and discord-interactions publish no fixed signature (their tests
    // generate key pairs at run time). This vector signs a PING with the
    // RFC 8032 TEST 1 key pair (https://www.rfc-editor.org/rfc/rfc8032#section-7.1),
    // computed with Python's `cryptography` (OpenSSL) as an independent
    // implementation; the key pair itself is checked against RFC 8032 in
    // `scheme::ed25519`.
    const SEED: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
    const PUBLIC_KEY: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
    const TS: i64 = 1_700_000_000;
    const PING: &[u8] = br#"{"id":"787053080478613555","type":1,"version":1,"application_id":"787053080478613554","token":"aW50ZXJhY3Rpb246ODg"}"#;
    const PING_SIGNATURE: &str = "799479b1d6856bdb04c27e9d0e04e6fa42a9765c831f717aa13b3619fcf2659bc4456472fd7b6d7ddc1b8c4128e370ae32f9c1ccbb262c1a61b4c7bb72413d0d";
    /// RFC 8032 TEST 2's seed: another application.
    const OTHER_SEED: &str = "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb";

    fn headers(signature: &str, ts: i64) -> Vec<(String, String)> {
        vec![
            (SIGNATURE.into(), signature.into()),
            (TIMESTAMP.into(), ts.to_string()),
        ]
    }

    #[test]
    fn cross_checked_vector_verifies_and_pongs() {
        let scheme = Discord::new(PUBLIC_KEY).unwrap();
        let delivery = verify(&scheme, &headers(PING_SIGNATURE, TS), PING, TS).unwrap();
        assert_eq!(
            delivery,
            Delivery::new(Some("787053080478613555".into()), Some(TS)).verified_by(0)
        );
        let signer = Discord::with_signing_key(SEED).unwrap();
        assert_eq!(signer.signature(TS, PING).as_deref(), Some(PING_SIGNATURE));
        assert_eq!(scheme.signature(TS, PING), None);

        let ping_headers = headers(PING_SIGNATURE, TS);
        let request = Request::new("POST", "/", &ping_headers, PING);
        assert_eq!(scheme.event_name(&request).unwrap().as_deref(), Some("1"));
        let reply = scheme
            .signed_reply(&request, scheme.secrets().primary())
            .unwrap();
        assert_eq!(
            (reply.status, reply.content_type),
            (200, "application/json")
        );
        assert_eq!(reply.body, br#"{"type":1}"#);
        // Upper-case hex is the same signature.
        assert!(verify(
            &scheme,
            &headers(&PING_SIGNATURE.to_uppercase(), TS),
            PING,
            TS
        )
        .is_ok());
    }

    #[test]
    fn commands_are_routed_not_answered() {
        let scheme = Discord::new(PUBLIC_KEY).unwrap();
        let body = br#"{"id":"9","type":2,"data":{"name":"blep"}}"#;
        let unsigned = headers("", TS);
        let request = Request::new("POST", "/", &unsigned, body);
        assert_eq!(scheme.event_name(&request).unwrap().as_deref(), Some("2"));
        assert_eq!(
            scheme.signed_reply(&request, scheme.secrets().primary()),
            None
        );
        let not_json = Request::new("POST", "/", &unsigned, b"type=1");
        assert_eq!(
            scheme.signed_reply(&not_json, scheme.secrets().primary()),
            None
        );
    }

    #[test]
    fn tampering_rotation_and_absurd_values() {
        let other = Discord::with_signing_key(OTHER_SEED).unwrap();
        let scheme = Discord::with_public_keys([
            PUBLIC_KEY.to_owned(),
            hex::encode(other.secrets().primary().expose()),
        ])
        .unwrap();
        // Each key is reported by its place in the set.
        assert_eq!(
            verify(&scheme, &headers(PING_SIGNATURE, TS), PING, TS).map(|d| d.secret),
            Ok(Some(0))
        );
        let body = br#"{"id":"10","type":3}"#;
        let signed = other.sign(&Message {
            id: "",
            timestamp: TS,
            event: "",
            url: "",
            body,
        });
        assert_eq!(
            verify(&scheme, &signed, body, TS),
            Ok(Delivery::new(Some("10".into()), Some(TS)).verified_by(1))
        );
        let stranger = Discord::with_signing_key(
            "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
        )
        .unwrap();
        let forged = stranger.sign(&Message {
            id: "",
            timestamp: TS,
            event: "",
            url: "",
            body,
        });
        assert_eq!(
            verify(&scheme, &forged, body, TS),
            Err(VerifyError::InvalidSignature)
        );

        assert_eq!(
            verify(&scheme, &signed, br#"{"id":"11","type":3}"#, TS),
            Err(VerifyError::InvalidSignature)
        );
        assert_eq!(
            verify(&scheme, &headers(&signed[0].1, TS + 1), body, TS),
            Err(VerifyError::InvalidSignature)
        );
        let mut flipped = signed[0].1.clone().into_bytes();
        flipped[0] = if flipped[0] == b'0' { b'1' } else { b'0' };
        let flipped = String::from_utf8(flipped).unwrap();
        assert_eq!(
            verify(&scheme, &headers(&flipped, TS), body, TS),
            Err(VerifyError::InvalidSignature)
        );
        assert!(matches!(
            verify(&scheme, &signed, body, TS + 301),
            Err(VerifyError::TimestampOutOfTolerance { .. })
        ));
        assert!(scheme
            .clone()
            .tolerance(Tolerance::disabled())
            .verify(
                &Request::new("POST", "/", &signed, body),
                scheme.secrets(),
                0
            )
            .is_ok());
        assert_eq!(
            verify(&scheme, &headers("zz", TS), body, TS),
            Err(VerifyError::malformed(SIGNATURE))
        );
        assert_eq!(
            verify(&scheme, &headers("abcd", TS), body, TS),
            Err(VerifyError::InvalidSignature)
        );
        // Without a signing key, signing yields no signature: refused as missing.
        let unsigned = scheme.sign(&Message {
            id: "",
            timestamp: TS,
            event: "",
            url: "",
            body,
        });
        assert_eq!(
            verify(&scheme, &unsigned, body, TS),
            Err(VerifyError::missing(SIGNATURE))
        );
        assert_refuses_absurd_headers(&scheme, &signed, &[SIGNATURE, TIMESTAMP], body, TS);
        assert!(!format!("{other:?}").contains(OTHER_SEED));
    }

    #[test]
    fn bad_keys_are_refused() {
        for bad in ["", "zz", "abcd", &"00".repeat(32), &PUBLIC_KEY[..62]] {
            assert!(
                matches!(Discord::new(bad), Err(SecretError::InvalidKey(_))),
                "{bad:?}"
            );
        }
        assert!(matches!(
            Discord::with_signing_key("00"),
            Err(SecretError::InvalidKey(_))
        ));
    }
}
