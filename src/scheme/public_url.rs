//! The URL a sender signs along with the body (Twilio, Square, HubSpot): the public
//! URL configured with the scheme, or `https://` and the `Host` header, then
//! the request target.

use std::borrow::Cow;

use crate::scheme::Request;
use crate::verify::VerifyError;

/// The header the URL's host is taken from when no public URL is set.
pub(crate) const HOST: &str = "Host";

/// `url` as a scheme's `public_url` keeps it: without its final `/`, as the
/// request target (which starts with `/`) is appended to it.
pub(crate) fn public_base(url: &str) -> String {
    url.trim_end_matches('/').to_owned()
}

/// The full URL the sender requested: `public_url` (the public origin with
/// any path prefix a proxy strips, set on the scheme) or `https://` and the
/// `Host` header, then the request target.
///
/// # Errors
///
/// [`VerifyError::MissingSignature`] without `public_url` or `Host`,
/// [`VerifyError::MalformedSignature`] when `Host` is repeated or not a
/// plain `host[:port]`.
pub(crate) fn requested_url(
    public_url: Option<&str>,
    request: &Request<'_>,
) -> Result<String, VerifyError> {
    let base = match public_url {
        Some(base) => Cow::Borrowed(base),
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn the_url_is_the_base_or_the_host_then_the_target() {
        let url = |public_url, headers: &[(&str, &str)]| {
            requested_url(
                public_url,
                &Request::new("POST", "/hook?x=1", &headers, b""),
            )
        };
        assert_eq!(
            url(Some("https://a.example/api"), &[(HOST, "evil.example")]).as_deref(),
            Ok("https://a.example/api/hook?x=1")
        );
        assert_eq!(
            url(None, &[(HOST, "a.example:8443")]).as_deref(),
            Ok("https://a.example:8443/hook?x=1")
        );
        assert_eq!(url(None, &[]), Err(VerifyError::missing(HOST)));
        assert_eq!(
            url(None, &[(HOST, "a.example"), (HOST, "a.example")]),
            Err(VerifyError::malformed(HOST))
        );
        assert_eq!(
            url(None, &[(HOST, "a.example/x?")]),
            Err(VerifyError::malformed(HOST))
        );
        assert_eq!(public_base("https://a.example/"), "https://a.example");
    }
}
