//! The URL Twilio signs: built from the public URL or the `Host` header,
//! and tried with and without its port.

use std::borrow::Cow;

use super::HOST;
use crate::scheme::Request;
use crate::verify::VerifyError;

/// The full URL Twilio requested: `public_url` (see [`Twilio::public_url`])
/// or `https://` and the `Host` header, then the request target.
///
/// # Errors
///
/// [`VerifyError::MissingSignature`] without `public_url` or `Host`,
/// [`VerifyError::MalformedSignature`] when `Host` is not a plain
/// `host[:port]`.
///
/// [`Twilio::public_url`]: super::Twilio::public_url
pub(super) fn requested_url(
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

/// `url` without its port and with it (twilio-python's `remove_port` and
/// `add_port`: `:443` for `https`, else `:80`, when it has none).
pub(super) fn url_variants(url: &str) -> [Cow<'_, str>; 2] {
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
}
