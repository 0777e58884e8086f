//! [Twilio](https://www.twilio.com/docs/usage/webhooks/webhooks-security)
//! webhooks: voice, messaging and status callbacks.

use std::borrow::Cow;

use crate::scheme::{
    any_mac_matches, ct_eq_words, decode_hex, hmac_sha1, optional_utf8, query_pairs, Delivery,
    Encoding, EventNameError, Message, Request, Scheme, SignatureHeader, Signer,
};
use crate::secret::{Secret, SecretError, Secrets};
use crate::verify::VerifyError;

const SIGNATURE: &str = "X-Twilio-Signature";
/// The base64 HMAC-SHA1 of the URL and the form parameters.
const HMAC: SignatureHeader = SignatureHeader::bare(SIGNATURE, Encoding::Base64);
const IDEMPOTENCY_TOKEN: &str = "I-Twilio-Idempotency-Token";
const HOST: &str = "Host";
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

/// A decoded form parameter, name and value, as signed.
type Param<'a> = (Cow<'a, [u8]>, Cow<'a, [u8]>);

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
        self.public_url = Some(url.trim_end_matches('/').to_owned());
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

    /// The full URL Twilio requested.
    fn url(&self, request: &Request<'_>) -> Result<String, VerifyError> {
        let base = match &self.public_url {
            Some(base) => Cow::Borrowed(base.as_str()),
            None => {
                let host = request.require(HOST)?;
                // Only `host[:port]`: anything else would move the path or
                // query of the URL signed.
                let host = std::str::from_utf8(host)
                    .ok()
                    .filter(|host| is_authority(host.as_bytes()))
                    .ok_or_else(|| VerifyError::malformed(HOST))?;
                Cow::Owned(format!("https://{host}"))
            }
        };
        Ok(format!("{base}{}", request.path_and_query()))
    }
}

/// Whether `host` is what a `Host` header may carry: a name of letters,
/// digits, `-`, `.` and `_` (DNS names, IPv4 addresses) or a bracketed IPv6
/// address, then optionally `:` and a port of at most five digits.
fn is_authority(host: &[u8]) -> bool {
    let (name_ok, rest) = if let Some(inner) = host.strip_prefix(b"[") {
        let Some(close) = inner.iter().position(|b| *b == b']') else {
            return false;
        };
        let ip = std::str::from_utf8(&inner[..close])
            .ok()
            .and_then(|ip| ip.parse::<std::net::Ipv6Addr>().ok());
        (ip.is_some(), &inner[close + 1..])
    } else {
        let end = host.iter().position(|b| *b == b':').unwrap_or(host.len());
        let name = &host[..end];
        let ok = !name.is_empty()
            && name
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
        (ok, &host[end..])
    };
    let port_ok = match rest.strip_prefix(b":") {
        None => rest.is_empty(),
        Some(port) => (1..=5).contains(&port.len()) && port.iter().all(u8::is_ascii_digit),
    };
    name_ok && port_ok
}

/// How many parameters a form body holds: its non-empty `&`-separated
/// pieces, counted without decoding anything.
fn param_count(body: &[u8]) -> usize {
    // A piece starts at a byte other than `&` that opens the body or follows
    // a `&`. Counted over pairs of bytes, which the compiler compares many
    // at a time: a body of half a million separators costs one quick pass.
    let after_separator = body
        .iter()
        .zip(body.iter().skip(1))
        .filter(|(before, byte)| **before == b'&' && **byte != b'&')
        .count();
    after_separator + usize::from(body.first().is_some_and(|byte| *byte != b'&'))
}

/// The non-empty `&`-separated pieces of a form body. `memchr` finds the
/// separators many bytes at a time: a 1 MiB form is read several times
/// before its MAC can be checked.
fn pieces(body: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut start = 0;
    memchr::memchr_iter(b'&', body)
        .chain(std::iter::once(body.len()))
        .filter_map(move |end| {
            let piece = &body[start..end];
            start = end + 1;
            (!piece.is_empty()).then_some(piece)
        })
}

/// The parameters of a form body, decoded as `form_urlencoded::parse`
/// decodes them (split at the first `=`, `+` as a space, `%XX` as a byte)
/// but left as bytes. A name or value with no `%` or `+` is borrowed.
fn parse_form(body: &[u8]) -> impl Iterator<Item = Param<'_>> {
    pieces(body).map(|piece| {
        let (name, value) = match memchr::memchr(b'=', piece) {
            Some(eq) => (&piece[..eq], &piece[eq + 1..]),
            None => (piece, &b""[..]),
        };
        (decode(name), decode(value))
    })
}

/// A form name or value, decoded: `+` is a space, `%XX` a byte, and a `%`
/// without two hex digits stays as it is, as `form_urlencoded` decodes.
///
/// Written out rather than through `percent_encoding::percent_decode`,
/// which costs about 7 ns per escape: a 1 MiB form of `%78` values took 5x
/// an HMAC of the same size to refuse, against 2.6x this way
/// (`benches/worst_request.rs`). `forms_decode_as_form_urlencoded_does`
/// checks it against `form_urlencoded` on arbitrary bodies.
fn decode(raw: &[u8]) -> Cow<'_, [u8]> {
    let Some(first) = memchr::memchr2(b'%', b'+', raw) else {
        return Cow::Borrowed(raw);
    };
    let mut out = Vec::with_capacity(raw.len());
    out.extend_from_slice(&raw[..first]);
    let mut i = first;
    while let Some(&byte) = raw.get(i) {
        if byte == b'%' {
            let high = raw.get(i + 1).map_or(INVALID_HEX, |b| HEX[usize::from(*b)]);
            let low = raw.get(i + 2).map_or(INVALID_HEX, |b| HEX[usize::from(*b)]);
            if high != INVALID_HEX && low != INVALID_HEX {
                out.push(high << 4 | low);
                i += 3;
                continue;
            }
        }
        out.push(if byte == b'+' { b' ' } else { byte });
        i += 1;
    }
    Cow::Owned(out)
}

/// [`HEX`]'s mark for a byte that is not a hex digit.
const INVALID_HEX: u8 = 0xff;

/// The value of each byte as a hex digit, [`INVALID_HEX`] when it is not one.
const HEX: [u8; 256] = {
    let mut table = [INVALID_HEX; 256];
    let mut i = 0;
    while i < 10 {
        table[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        table[b'a' as usize + i] = 10 + i as u8;
        table[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    table
};

/// The parameters of a form body as text, with U+FFFD for bytes that are
/// not UTF-8, as `form_urlencoded::parse` gives them. For the event name of
/// a verified request.
fn lossy_form(body: &[u8]) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> {
    parse_form(body).map(|(name, value)| (lossy(name), lossy(value)))
}

/// `bytes` as text, with U+FFFD for bytes that are not UTF-8.
fn lossy(bytes: Cow<'_, [u8]>) -> Cow<'_, str> {
    match bytes {
        Cow::Borrowed(bytes) => String::from_utf8_lossy(bytes),
        Cow::Owned(bytes) => Cow::Owned(String::from_utf8_lossy(&bytes).into_owned()),
    }
}

/// Sorts parameters by name, then value, and keeps each `(name, value)` pair
/// once: twilio-python signs `sorted(set(names))`, and for each name
/// `sorted(set(values))`.
fn canonical_order(params: &mut Vec<Param<'_>>) {
    params.sort_unstable();
    params.dedup();
}

/// The decoded parameters of a form `body` in signing order, or `None`
/// when it has more than `max`: counted before anything is decoded, so a
/// body of half a million parameters costs one quick pass. A name or value
/// that needs no decoding is borrowed, not copied.
fn form_params(body: &[u8], max: usize) -> Option<Vec<Param<'_>>> {
    let count = param_count(body);
    if count > max {
        return None;
    }
    let mut params = Vec::with_capacity(count);
    params.extend(parse_form(body));
    canonical_order(&mut params);
    Some(params)
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

/// `url` without its port and with it (twilio-python's `remove_port` and
/// `add_port`: `:443` for `https`, else `:80`, when it has none).
fn url_variants(url: &str) -> [Cow<'_, str>; 2] {
    let Some(scheme_end) = url.find("://") else {
        return [Cow::Borrowed(url), Cow::Borrowed(url)];
    };
    let authority_start = scheme_end + 3;
    let authority_end = url[authority_start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| authority_start + i);
    let authority = &url[authority_start..authority_end];
    // The port follows the last `:` after any `]` of an IPv6 literal.
    let host_start = authority.rfind(']').unwrap_or(0);
    let port = authority[host_start..]
        .rfind(':')
        .map(|i| host_start + i)
        .filter(|&colon| {
            let digits = &authority[colon + 1..];
            !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
        });
    match port {
        Some(colon) => {
            let without = format!(
                "{}{}",
                &url[..authority_start + colon],
                &url[authority_end..]
            );
            [Cow::Owned(without), Cow::Borrowed(url)]
        }
        None => {
            let default = if url[..scheme_end].eq_ignore_ascii_case("https") {
                "443"
            } else {
                "80"
            };
            let with = format!(
                "{}:{default}{}",
                &url[..authority_end],
                &url[authority_end..]
            );
            [Cow::Borrowed(url), Cow::Owned(with)]
        }
    }
}

/// Whether the request's `Content-Type` is a form.
fn is_form(request: &Request<'_>) -> bool {
    request.header(CONTENT_TYPE).one().is_some_and(|value| {
        let essence = value
            .split(|b| *b == b';')
            .next()
            .unwrap_or_default()
            .trim_ascii();
        essence.eq_ignore_ascii_case(FORM.as_bytes())
    })
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
        let url = self.url(request)?;
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
        let variants = url_variants(&url);
        let matched = variants.iter().fold(false, |matched, url| {
            matched | any_mac_matches(secrets, candidate.into_iter(), |key| mac(key, url, &params))
        });
        if !bool::from(subtle::Choice::from(u8::from(matched)) & body_ok) {
            return Err(VerifyError::InvalidSignature);
        }
        // The idempotency token is not signed: a repeat is recognised by
        // what was signed.
        let id = optional_utf8(request, IDEMPOTENCY_TOKEN)?;
        // Over the URL without its port: `Host: example.com:1`, `:2`, ... all
        // verify a signature made for `example.com`.
        let [portless, _] = &variants;
        Ok(Delivery::new(id, None).fingerprint_of(signed_content(portless, &params)))
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
        let headers = headers.to_vec();
        scheme.verify(
            &Request::new("POST", target, &headers, body),
            scheme.secrets(),
            0,
        )
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
    fn parameters_are_counted_as_the_parser_yields_them() {
        for body in [
            &b""[..],
            b"&",
            b"&&&",
            b"a",
            b"a=1",
            b"&a=1",
            b"a=1&",
            b"a=1&&b=2",
            b"&&a&&b&&",
            b"=&=",
            b"a=%26&b=&",
            b"\xff&\xfe",
        ] {
            assert_eq!(
                param_count(body),
                form_urlencoded::parse(body).count(),
                "{}",
                String::from_utf8_lossy(body)
            );
            assert_eq!(
                param_count(body),
                parse_form(body).count(),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn forms_decode_as_form_urlencoded_does() {
        use proptest::prelude::*;
        let expected = |body: &[u8]| -> Vec<(String, String)> {
            form_urlencoded::parse(body)
                .map(|(n, v)| (n.into_owned(), v.into_owned()))
                .collect()
        };
        let actual = |body: &[u8]| -> Vec<(String, String)> {
            lossy_form(body)
                .map(|(n, v)| (n.into_owned(), v.into_owned()))
                .collect()
        };
        for body in [
            &b"a=1&b=%41%4a%4A%zz%4&c=%&d=%%41+x&=&e"[..],
            b"%2B=+%2b&\xff=\xc3\x28&%ff%fe=%C3%A9&n=caf%C3%A9",
            b"a==b&&&=c=",
        ] {
            assert_eq!(
                actual(body),
                expected(body),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        // Bytes from an alphabet dense in the characters that matter.
        let alphabet = prop::sample::select(&b"&=%+aF09g\xff\xc3\xa9"[..]);
        proptest!(|(body in prop::collection::vec(alphabet, 0..200))| {
            prop_assert_eq!(actual(&body), expected(&body));
            prop_assert_eq!(param_count(&body), expected(&body).len());
        });
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
    fn only_a_plain_host_and_port_is_taken_from_host() {
        for good in [
            "mycompany.com",
            "mycompany.com:8443",
            "a-b_c.example.",
            "127.0.0.1:80",
            "[::1]",
            "[2001:db8::1]:443",
            "[::ffff:192.0.2.1]",
        ] {
            assert!(is_authority(good.as_bytes()), "{good}");
        }
        for bad in [
            "",
            ":443",
            "a.example:",
            "a.example:123456",
            "a.example:44x",
            "a.example/sms?next=",
            "a.example?x=1",
            "a.example#x",
            "user@a.example",
            "a.example:443/x",
            "a example",
            "a%2eexample",
            "a.example:1:2",
            "[::1",
            "[::1]x",
            "[::1]:",
            "[not-ip]",
            "[fe80::1%25eth0]",
            "é.example",
        ] {
            assert!(!is_authority(bad.as_bytes()), "{bad}");
        }
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
    fn url_variants_follow_twilio_python() {
        let v = |url| url_variants(url).map(Cow::into_owned);
        assert_eq!(
            v("https://a.com/x?y=1"),
            ["https://a.com/x?y=1", "https://a.com:443/x?y=1"]
        );
        assert_eq!(v("http://a.com"), ["http://a.com", "http://a.com:80"]);
        assert_eq!(
            v("https://a.com:8443/x"),
            ["https://a.com/x", "https://a.com:8443/x"]
        );
        assert_eq!(
            v("https://[::1]:8443/x"),
            ["https://[::1]/x", "https://[::1]:8443/x"]
        );
        assert_eq!(
            v("https://[::1]/x"),
            ["https://[::1]/x", "https://[::1]:443/x"]
        );
        assert_eq!(v("no-scheme"), ["no-scheme", "no-scheme"]);
        assert_eq!(
            v("https://a.com/p:1"),
            ["https://a.com/p:1", "https://a.com:443/p:1"]
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
