//! The URL Twilio signs (built by [`requested_url`]) is tried with and
//! without its port.
//!
//! [`requested_url`]: crate::scheme::public_url::requested_url

use std::borrow::Cow;

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
