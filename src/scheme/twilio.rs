//! [Twilio](https://www.twilio.com/docs/usage/webhooks/webhooks-security)
//! webhooks: voice, messaging and status callbacks.

use std::borrow::Cow;

mod form;
mod url;

use form::{canonical_order, form_params, is_form, lossy_form, parse_form, Param};

use crate::scheme::public_url::{public_base, requested_url};
use crate::scheme::{
    any_mac_matches, decode_hex, hmac_sha1, optional_utf8, query_pairs, Delivery, Encoding,
    EventNameError, Message, Request, Scheme, SignatureHeader, Signer,
};
use crate::secret::{Secret, SecretError, Secrets};
use crate::verify::{ct_eq_words, VerifyError};

const SIGNATURE: &str = "X-Twilio-Signature";
/// The base64 HMAC-SHA1 of the URL and the form parameters.
const HMAC: SignatureHeader = SignatureHeader::bare(SIGNATURE, Encoding::Base64);
const IDEMPOTENCY_TOKEN: &str = "I-Twilio-Idempotency-Token";
const CONTENT_TYPE: &str = "Content-Type";
const FORM: &str = "application/x-www-form-urlencoded";
const BODY_SHA256: &str = "bodySHA256";
/// What a `malformed_signature` names when a form has more parameters than
/// the bound: the body cannot carry a signature this scheme will check.
const FORM_PARAMETERS: &str = "form parameters";
/// Form parameters checked by default; Twilio's callbacks send well under
/// 100.
const DEFAULT_MAX_PARAMS: usize = 1_000;
/// The form parameters that name an event, in order of preference.
const EVENT_PARAMS: [&str; 2] = ["EventType", "StatusCallbackEvent"];
/// The event name when the request names none.
const DEFAULT_EVENT: &str = "twilio";

/// Twilio's request validation ([docs](https://www.twilio.com/docs/usage/webhooks/webhooks-security)),
/// following twilio-python's `RequestValidator`.
///
/// Reads the header `X-Twilio-Signature`: the base64 HMAC-SHA1, keyed with
/// the account's auth token, of the full URL Twilio requested followed by,
/// for an `application/x-www-form-urlencoded` body, each parameter's name
/// and value, sorted by name (then value). A JSON body is not in the
/// signature; instead the URL carries `bodySHA256=<hex SHA-256 of the body>`,
/// which must match. Any other non-empty body without `bodySHA256` is
/// refused (`invalid_signature`): nothing would vouch for it. As Twilio's
/// SDKs do, the URL is tried both with and without its port (`:443` for
/// `https`, `:80` for `http`).
///
/// **The URL.** The scheme sees the request target (`/twilio/sms?x=1`), not
/// the public URL Twilio called. Set the public origin (and any path prefix
/// a proxy strips) with [`Twilio::public_url`]: the URL signed is then that
/// base followed by the request target. Without it, the URL is
/// `https://` + the `Host` header + the target, which fits a server reached
/// directly over HTTPS; behind a proxy that changes the host, scheme or path,
/// set `public_url`. **Production should set `public_url`**: `Host` is
/// whatever the client sent. A `Host` that is not a plain `host[:port]` (a
/// DNS name or IPv4 address, or a bracketed IPv6 address, with an optional
/// numeric port) is refused with `malformed_signature`, so it cannot smuggle
/// a path or query into the signed URL (`Host: a.example/sms?next=`).
///
/// **Bounded work.** The parameters of a form body are decoded and sorted
/// before the MAC can be computed, so their number is bounded first: a form
/// with more than [`Twilio::max_params`] parameters (1,000 by default) is
/// refused with `malformed_signature` (401) after one pass over its bytes,
/// without decoding or sorting anything. Its size is bounded by the body
/// limit of the router or extractor (1 MiB by default). Names and values
/// are signed as the bytes they decode to: UTF-8 from Twilio, and bytes
/// that are not UTF-8 as they are (U+FFFD in their place would let one bad
/// byte stand for another, and triple what is hashed).
///
/// **Repeated parameters.** As Twilio's SDKs do (twilio-python's
/// `RequestValidator.compute_signature`), each name's values are signed
/// sorted, and a `name=value` pair sent twice is signed once.
///
/// Twilio signs no timestamp. The delivery id is `I-Twilio-Idempotency-Token`
/// when sent. The event name is the form's `EventType` (TaskRouter,
/// Conversations) or `StatusCallbackEvent` (conference, participant and
/// recording callbacks) when present, else `twilio`: route on the path, or
/// with `*`, for the rest.
///
/// ```
/// use actix_webhook::scheme::{Request, Scheme, Twilio};
///
/// // twilio-python's test vector (tests/unit/test_request_validator.py).
/// let scheme = Twilio::new("12345")?.public_url("https://mycompany.com");
/// let body = b"CallSid=CA1234567890ABCDE&Caller=%2B14158675309&Digits=1234&From=%2B14158675309&To=%2B18005551212";
/// let headers = [
///     ("X-Twilio-Signature", "RSOYDt4T1cUTdK1PDd93/VVr8B8="),
///     ("Content-Type", "application/x-www-form-urlencoded"),
/// ];
/// let request = Request::new("POST", "/myapp.php?foo=1&bar=2", &headers, body);
/// assert!(scheme.verify(&request, scheme.secrets(), 0).is_ok());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Twilio {
    secrets: Secrets,
    public_url: Option<String>,
    max_params: usize,
}

impl Twilio {
    /// The scheme with the account's auth token.
    ///
    /// # Errors
    ///
    /// [`SecretError::Empty`] for an empty token.
    pub fn new(auth_token: &str) -> Result<Self, SecretError> {
        Ok(Self::with_secrets(Secret::new(auth_token)?))
    }

    /// The scheme with several auth tokens, newest first (the primary and
    /// secondary token while one is promoted).
    pub fn with_secrets(secrets: impl Into<Secrets>) -> Self {
        Self {
            secrets: secrets.into(),
            public_url: None,
            max_params: DEFAULT_MAX_PARAMS,
        }
    }

    /// The public origin Twilio calls, with any path prefix a proxy strips:
    /// `https://example.com` or `https://example.com/api`. A final `/` is
    /// dropped; the request target is appended to it. Set it in production:
    /// without it the URL is built from the `Host` header, which the client
    /// chooses.
    #[must_use]
    pub fn public_url(mut self, url: &str) -> Self {
        self.public_url = Some(public_base(url));
        self
    }

    /// The most form parameters a request may carry (default 1,000); a form
    /// with more is refused with `malformed_signature` before any parameter
    /// is decoded. Empty pieces (`a=1&&b=2`) are not parameters.
    #[must_use]
    pub fn max_params(mut self, max: usize) -> Self {
        self.max_params = max;
        self
    }

    /// The `X-Twilio-Signature` value for a request to `url` with `params`
    /// (form parameters, empty for a JSON body or a `GET`), signed with the
    /// first token.
    #[must_use]
    pub fn signature(&self, url: &str, params: &[(&str, &str)]) -> String {
        let mut params: Vec<Param<'_>> = params
            .iter()
            .map(|(n, v)| (Cow::Borrowed(n.as_bytes()), Cow::Borrowed(v.as_bytes())))
            .collect();
        canonical_order(&mut params);
        HMAC.write(&mac(self.secrets.primary().expose(), url, &params))
    }
}

/// HMAC-SHA1 of `url` followed by each (sorted) name and value.
fn mac(key: &[u8], url: &str, params: &[Param<'_>]) -> [u8; 20] {
    hmac_sha1(key, signed_content(url, params))
}

/// What Twilio signs: `url`, then each (sorted) name and value.
fn signed_content<'a>(url: &'a str, params: &'a [Param<'_>]) -> impl Iterator<Item = &'a [u8]> {
    std::iter::once(url.as_bytes())
        .chain(params.iter().flat_map(|(name, value)| [&**name, &**value]))
}

impl Scheme for Twilio {
    fn name(&self) -> &'static str {
        "twilio"
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
        let candidate = HMAC.read::<20>(request)?;
        let url = requested_url(self.public_url.as_deref(), request)?;
        let body = request.body();

        // What vouches for the body: the `bodySHA256` in the URL, or the
        // signed form parameters.
        let body_hash = query_pairs(request.path_and_query())
            .find(|(name, _)| name == BODY_SHA256)
            .map(|(_, value)| value);
        let mut params: Vec<Param<'_>> = Vec::new();
        let mut body_ok = subtle::Choice::from(1);
        if let Some(expected) = body_hash {
            use sha2::Digest as _;
            let actual: [u8; 32] = sha2::Sha256::digest(body).into();
            body_ok = match decode_hex::<32>(expected.as_bytes()) {
                Ok(Some(expected)) => ct_eq_words(&actual, &expected),
                Ok(None) | Err(()) => subtle::Choice::from(0),
            };
        } else if is_form(request) {
            params = form_params(body, self.max_params)
                .ok_or_else(|| VerifyError::malformed(FORM_PARAMETERS))?;
        } else if !body.is_empty() {
            return Err(VerifyError::InvalidSignature);
        }

        // The URL (with or without its port) is no secret: trying both
        // forms shows nothing.
        let variants = url::url_variants(&url);
        let matched = variants.iter().fold(None, |matched, url| {
            let here = any_mac_matches(secrets, candidate.into_iter(), |secret| {
                mac(secret.expose(), url, &params)
            });
            matched.or(here)
        });
        let genuine = subtle::Choice::from(u8::from(matched.is_some())) & body_ok;
        let Some(secret) = matched.filter(|_| bool::from(genuine)) else {
            return Err(VerifyError::InvalidSignature);
        };
        // The idempotency token is not signed: a repeat is recognised by
        // what was signed.
        let id = optional_utf8(request, IDEMPOTENCY_TOKEN)?;
        // Over the URL without its port: `Host: example.com:1`, `:2`, ... all
        // verify a signature made for `example.com`.
        let [portless, _] = &variants;
        Ok(Delivery::new(id, None)
            .fingerprint_of(signed_content(portless, &params))
            .verified_by(secret))
    }

    /// `EventType`, else `StatusCallbackEvent`, from the form body (or the
    /// query string of a body-less request), else `twilio`.
    fn event_name(&self, request: &Request<'_>) -> Result<Option<String>, EventNameError> {
        let pairs: Vec<_> = if is_form(request) {
            lossy_form(request.body()).collect()
        } else if request.body().is_empty() {
            query_pairs(request.path_and_query()).collect()
        } else {
            Vec::new()
        };
        for wanted in EVENT_PARAMS {
            if let Some((_, value)) = pairs.iter().find(|(name, _)| name == wanted) {
                return Ok(Some(value.clone().into_owned()));
            }
        }
        Ok(Some(DEFAULT_EVENT.to_owned()))
    }
}

impl Signer for Twilio {
    /// `X-Twilio-Signature` for a request to `message.url`, with a
    /// `Content-Type`: when the URL carries `bodySHA256` the body is sent as
    /// `application/json` and only the URL is signed; otherwise the body is
    /// taken as form parameters (`application/x-www-form-urlencoded`). The id,
    /// when not empty, goes in `I-Twilio-Idempotency-Token`.
    fn sign(&self, message: &Message<'_>) -> Vec<(String, String)> {
        let has_body_hash = query_pairs(message.url).any(|(name, _)| name == BODY_SHA256);
        let (content_type, params): (_, Vec<Param<'_>>) = if has_body_hash {
            ("application/json", Vec::new())
        } else {
            (FORM, parse_form(message.body).collect())
        };
        let mut params = params;
        canonical_order(&mut params);
        let mac = mac(self.secrets.primary().expose(), message.url, &params);
        let mut headers = vec![
            (SIGNATURE.to_owned(), HMAC.write(&mac)),
            (CONTENT_TYPE.to_owned(), content_type.to_owned()),
        ];
        if !message.id.is_empty() {
            headers.push((IDEMPOTENCY_TOKEN.to_owned(), message.id.to_owned()));
        }
        headers
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheme::public_url::HOST;
    use crate::scheme::test_support::assert_refuses_absurd_headers;
    use crate::secret::Secret;

    // twilio-python's fixed vectors (tests/unit/test_request_validator.py,
    // https://github.com/twilio/twilio-python): token "12345", URI
    // https://mycompany.com/myapp.php?foo=1&bar=2 and these parameters.
    const TOKEN: &str = "12345";
    const TARGET: &str = "/myapp.php?foo=1&bar=2";
    const PARAMS: [(&str, &str); 5] = [
        ("CallSid", "CA1234567890ABCDE"),
        ("Digits", "1234"),
        ("From", "+14158675309"),
        ("To", "+18005551212"),
        ("Caller", "+14158675309"),
    ];
    const FORM_BODY: &[u8] = b"CallSid=CA1234567890ABCDE&Digits=1234&From=%2B14158675309&To=%2B18005551212&Caller=%2B14158675309";
    const EXPECTED: &str = "RSOYDt4T1cUTdK1PDd93/VVr8B8=";
    /// The same over `http://mycompany.com:1234/...`.
    const HTTP_PORT_1234: &str = "Zmvh+3yNM1Phv2jhDCwEM3q5ebU=";
    /// The same over `https://mycompany.com:443/...`.
    const HTTPS_PORT_443: &str = "kvajT1Ptam85bY51eRf/AJRuM3w=";
    /// The same over `http://mycompany.com:80/...`.
    const HTTP_PORT_80: &str = "0ZXoZLH/DfblKGATFgpif+LLRf4=";
    /// Sid=CA123, SidAccount=AC123, Digits=5678 and Digits=1234.
    const DUPLICATES: &str = "IK+Dwps556ElfBT0I3Rgjkr1wJU=";
    /// A JSON body and its `bodySHA256`, signed over the URL with it.
    const JSON_BODY: &[u8] = br#"{"property": "value", "boolean": true}"#;
    const JSON_HASH: &str = "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620";
    const JSON_SIGNATURE: &str = "a9nBmqA0ju/hNViExpshrM61xv4=";

    fn verify(
        scheme: &Twilio,
        target: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Delivery, VerifyError> {
        crate::scheme::test_support::verify_post(scheme, target, headers, body, 0)
    }

    fn form(signature: &str) -> [(&'static str, String); 2] {
        [
            (SIGNATURE, signature.to_owned()),
            (CONTENT_TYPE, FORM.to_owned()),
        ]
    }

    fn check(
        scheme: &Twilio,
        target: &str,
        signature: &str,
        body: &[u8],
    ) -> Result<Delivery, VerifyError> {
        let headers = form(signature);
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        verify(scheme, target, &headers, body)
    }

    #[test]
    fn python_sdk_vectors() {
        let scheme = Twilio::new(TOKEN)
            .unwrap()
            .public_url("https://mycompany.com/");
        assert_eq!(
            scheme.signature("https://mycompany.com/myapp.php?foo=1&bar=2", &PARAMS),
            EXPECTED
        );
        assert_eq!(
            check(&scheme, TARGET, EXPECTED, FORM_BODY).map(|d| (d.id, d.fingerprint.is_some())),
            Ok((None, true))
        );
        // test_validation_adds_port_on_https.
        assert!(check(&scheme, TARGET, HTTPS_PORT_443, FORM_BODY).is_ok());
        // test_validation_removes_port_on_https.
        let with_port = Twilio::new(TOKEN)
            .unwrap()
            .public_url("https://mycompany.com:1234");
        assert!(check(&with_port, TARGET, EXPECTED, FORM_BODY).is_ok());
        // test_validation_removes_port_on_http / adds_port_on_http.
        let http_port = Twilio::new(TOKEN)
            .unwrap()
            .public_url("http://mycompany.com:1234");
        assert!(check(&http_port, TARGET, HTTP_PORT_1234, FORM_BODY).is_ok());
        let http = Twilio::new(TOKEN)
            .unwrap()
            .public_url("http://mycompany.com");
        assert!(check(&http, TARGET, HTTP_PORT_80, FORM_BODY).is_ok());
        // test_compute_signature_duplicate_multi_dict.
        let body = b"Sid=CA123&SidAccount=AC123&Digits=5678&Digits=1234";
        assert!(check(&scheme, TARGET, DUPLICATES, body).is_ok());
        // test_validation_of_body_succeeds.
        let target = format!("{TARGET}&bodySHA256={JSON_HASH}");
        let headers = [
            (SIGNATURE, JSON_SIGNATURE),
            (CONTENT_TYPE, "application/json"),
        ];
        assert!(verify(&scheme, &target, &headers, JSON_BODY).is_ok());
        // The same with the body changed: the hash no longer matches.
        assert_eq!(
            verify(
                &scheme,
                &target,
                &headers,
                br#"{"property": "value", "boolean": false}"#
            ),
            Err(VerifyError::InvalidSignature)
        );
    }

    #[test]
    fn a_pair_sent_twice_is_signed_once_as_the_sdks_do() {
        // twilio-python, tests/unit/test_request_validator.py,
        // test_compute_signature_duplicate_multi_dict and
        // test_compute_signature_duplicate_query_dict
        // (https://github.com/twilio/twilio-python): token "12345", URI
        // https://mycompany.com/myapp.php?foo=1&bar=2, parameters
        // Sid=CA123&SidAccount=AC123&Digits=5678&Digits=1234, signature
        // "IK+Dwps556ElfBT0I3Rgjkr1wJU=" (DUPLICATES). Its
        // `compute_signature` signs `sorted(set(values))` for each name, so
        // the same parameters with `Digits=1234` sent again, in any order,
        // carry the same signature.
        let scheme = Twilio::new(TOKEN)
            .unwrap()
            .public_url("https://mycompany.com");
        for body in [
            &b"Sid=CA123&SidAccount=AC123&Digits=5678&Digits=1234"[..],
            b"Sid=CA123&SidAccount=AC123&Digits=5678&Digits=1234&Digits=1234",
            b"Digits=1234&Digits=1234&Sid=CA123&Digits=5678&SidAccount=AC123&Sid=CA123",
            b"Digits=1234&&Sid=CA123&Digits=5678&SidAccount=AC123&Digits=%31234",
        ] {
            assert_eq!(
                check(&scheme, TARGET, DUPLICATES, body).map(|d| d.id),
                Ok(None),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        let twice = [
            ("Sid", "CA123"),
            ("Digits", "1234"),
            ("SidAccount", "AC123"),
            ("Digits", "5678"),
            ("Digits", "1234"),
        ];
        assert_eq!(scheme.signature(url, &twice), DUPLICATES);
        // Another value is another signature.
        let other = b"Sid=CA123&SidAccount=AC123&Digits=5678&Digits=1234&Digits=1235";
        assert_eq!(
            check(&scheme, TARGET, DUPLICATES, other),
            Err(VerifyError::InvalidSignature)
        );
    }

    #[test]
    fn bytes_that_are_not_utf8_are_signed_as_they_are() {
        let scheme = Twilio::new(TOKEN)
            .unwrap()
            .public_url("https://mycompany.com");
        let url = "https://mycompany.com/sms";
        let sign = |body: &[u8]| {
            scheme.sign(&Message {
                id: "",
                timestamp: 0,
                event: "",
                url,
                body,
            })
        };
        let send = |headers: &[(String, String)], body: &[u8]| {
            let headers: Vec<(&str, &str)> = headers
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect();
            verify(&scheme, "/sms", &headers, body)
        };
        let body = b"Body=caf\xe9&From=%FF%2B1";
        let headers = sign(body);
        assert!(send(&headers, body).is_ok());
        // Another byte that is not UTF-8 either is another parameter: with
        // U+FFFD in place of both, these would verify.
        for other in [
            &b"Body=caf\xe8&From=%FF%2B1"[..],
            b"Body=caf\xe9&From=%FE%2B1",
        ] {
            assert_eq!(send(&headers, other), Err(VerifyError::InvalidSignature));
        }
        // Escaped or not, the same bytes are the same parameter.
        assert!(send(&headers, b"Body=caf%E9&From=\xff%2b1").is_ok());
    }

    #[test]
    fn forms_over_the_bound_are_refused_before_decoding() {
        let scheme = Twilio::new(TOKEN)
            .unwrap()
            .public_url("https://mycompany.com")
            .max_params(5);
        // Five parameters (the published vector) and empty pieces verify.
        assert!(check(&scheme, TARGET, EXPECTED, FORM_BODY).is_ok());
        let mut spaced = b"&&".to_vec();
        spaced.extend_from_slice(FORM_BODY);
        spaced.extend_from_slice(b"&&");
        assert!(check(&scheme, TARGET, EXPECTED, &spaced).is_ok());
        // A sixth, even one repeating a pair, is refused whatever the
        // signature says.
        let mut six = FORM_BODY.to_vec();
        six.extend_from_slice(b"&Digits=1234");
        assert_eq!(
            check(&scheme, TARGET, EXPECTED, &six),
            Err(VerifyError::malformed(FORM_PARAMETERS))
        );
        assert_eq!(form_params(&six, 5), None);
        assert_eq!(form_params(&six, 6).map(|p| p.len()), Some(5));
        // A JSON body vouched for by `bodySHA256` has no parameters to count.
        let tight = Twilio::new(TOKEN)
            .unwrap()
            .public_url("https://mycompany.com")
            .max_params(0);
        let target = format!("{TARGET}&bodySHA256={JSON_HASH}");
        let headers = [
            (SIGNATURE, JSON_SIGNATURE),
            (CONTENT_TYPE, "application/json"),
        ];
        assert!(verify(&tight, &target, &headers, JSON_BODY).is_ok());
    }

    #[test]
    fn host_header_without_public_url() {
        let scheme = Twilio::new(TOKEN).unwrap();
        let headers = [
            (SIGNATURE, EXPECTED),
            (
                CONTENT_TYPE,
                "application/x-www-form-urlencoded; charset=utf-8",
            ),
            (HOST, "mycompany.com"),
        ];
        assert!(verify(&scheme, TARGET, &headers, FORM_BODY).is_ok());
        assert_eq!(
            verify(&scheme, TARGET, &headers[..2], FORM_BODY),
            Err(VerifyError::missing(HOST))
        );
        let other_host = [headers[0], headers[1], (HOST, "evil.example")];
        assert_eq!(
            verify(&scheme, TARGET, &other_host, FORM_BODY),
            Err(VerifyError::InvalidSignature)
        );
        // A signature for https://mycompany.com/myapp.php?foo=1&bar=2,
        // replayed to `/php?foo=1&bar=2` with the rest of that URL in `Host`.
        let smuggled = [headers[0], headers[1], (HOST, "mycompany.com/myapp.")];
        assert_eq!(
            verify(&scheme, "/php?foo=1&bar=2", &smuggled, FORM_BODY),
            Err(VerifyError::malformed(HOST))
        );
    }

    #[test]
    fn round_trip_tampering_rotation_and_absurd_values() {
        let scheme = Twilio::with_secrets(
            Secrets::new([
                Secret::new("secondary").unwrap(),
                Secret::new(TOKEN).unwrap(),
            ])
            .unwrap(),
        )
        .public_url("https://mycompany.com");
        assert!(check(&scheme, TARGET, EXPECTED, FORM_BODY).is_ok());
        let url = "https://mycompany.com/sms";
        let body = b"MessageSid=SM1&Body=hello+world&EventType=onMessageAdded";
        let signed = scheme.sign(&Message {
            id: "idem-1",
            timestamp: 0,
            event: "",
            url,
            body,
        });
        let headers: Vec<(&str, &str)> = signed
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            verify(&scheme, "/sms", &headers, body).map(|d| (d.id, d.fingerprint.is_some())),
            Ok((Some("idem-1".into()), true))
        );
        let request = Request::new("POST", "/sms", &headers, body);
        assert_eq!(
            scheme.event_name(&request).unwrap().as_deref(),
            Some("onMessageAdded")
        );
        assert_eq!(
            verify(
                &scheme,
                "/sms",
                &headers,
                b"MessageSid=SM1&Body=hello+there&EventType=onMessageAdded"
            ),
            Err(VerifyError::InvalidSignature)
        );
        // An added parameter, a changed URL.
        assert_eq!(
            verify(
                &scheme,
                "/sms",
                &headers,
                b"MessageSid=SM1&Body=hello+world&EventType=onMessageAdded&X=1"
            ),
            Err(VerifyError::InvalidSignature)
        );
        assert_eq!(
            verify(&scheme, "/sms?x=1", &headers, body),
            Err(VerifyError::InvalidSignature)
        );
        let stranger = Twilio::new("stranger").unwrap().signature(url, &[]);
        assert_eq!(
            check(&scheme, "/sms", &stranger, b""),
            Err(VerifyError::InvalidSignature)
        );
        let flipped = EXPECTED.replacen('R', "S", 1);
        assert_eq!(
            check(&scheme, TARGET, &flipped, FORM_BODY),
            Err(VerifyError::InvalidSignature)
        );
        assert_eq!(
            check(&scheme, TARGET, "not base64!", FORM_BODY),
            Err(VerifyError::malformed(SIGNATURE))
        );
        // A JSON body without `bodySHA256` is not covered by the signature.
        let unsigned_json = [(SIGNATURE, EXPECTED), (CONTENT_TYPE, "application/json")];
        assert_eq!(
            verify(&scheme, TARGET, &unsigned_json, b"{}"),
            Err(VerifyError::InvalidSignature)
        );
        // A `bodySHA256` that is not hex cannot match.
        let bad_hash = "/sms?bodySHA256=zz";
        let json_url = format!("https://mycompany.com{bad_hash}");
        let sig = scheme.signature(&json_url, &[]);
        let json = [
            (SIGNATURE, sig.as_str()),
            (CONTENT_TYPE, "application/json"),
        ];
        assert_eq!(
            verify(&scheme, bad_hash, &json, b"{}"),
            Err(VerifyError::InvalidSignature)
        );

        // JSON round trip through the signer.
        let json_target = format!("/hook?bodySHA256={JSON_HASH}");
        let json_url = format!("https://mycompany.com{json_target}");
        let signed = scheme.sign(&Message {
            id: "",
            timestamp: 0,
            event: "",
            url: &json_url,
            body: JSON_BODY,
        });
        let headers: Vec<(&str, &str)> = signed
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        assert!(verify(&scheme, &json_target, &headers, JSON_BODY).is_ok());
        let request = Request::new("POST", &json_target, &headers, JSON_BODY);
        assert_eq!(
            scheme.event_name(&request).unwrap().as_deref(),
            Some("twilio")
        );

        let owned: Vec<(String, String)> = form(EXPECTED).map(|(n, v)| (n.to_owned(), v)).into();
        let scheme_plain = Twilio::new(TOKEN)
            .unwrap()
            .public_url("https://mycompany.com");
        assert_refuses_absurd_headers(&scheme_plain, &owned, &[SIGNATURE], FORM_BODY, 0);
    }

    #[test]
    fn event_names() {
        let scheme = Twilio::new(TOKEN).unwrap();
        let name = |target: &str, content_type: &str, body: &[u8]| {
            let headers = [(CONTENT_TYPE, content_type)];
            scheme
                .event_name(&Request::new("POST", target, &headers, body))
                .unwrap()
        };
        assert_eq!(
            name(
                "/",
                FORM,
                b"StatusCallbackEvent=participant-join&CallSid=CA1"
            )
            .as_deref(),
            Some("participant-join")
        );
        assert_eq!(name("/", FORM, FORM_BODY).as_deref(), Some("twilio"));
        assert_eq!(
            name("/?EventType=task.created", "", b"").as_deref(),
            Some("task.created")
        );
    }
}
