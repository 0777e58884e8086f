//! Twilio's form bodies: counted, decoded to bytes and put in signing order
//! as its SDKs do.

use std::borrow::Cow;

use super::{CONTENT_TYPE, FORM};
use crate::scheme::Request;

/// A decoded form parameter, name and value, as signed.
pub(super) type Param<'a> = (Cow<'a, [u8]>, Cow<'a, [u8]>);

/// How many parameters a form body holds: its non-empty `&`-separated
/// pieces, counted without decoding anything.
pub(super) fn param_count(body: &[u8]) -> usize {
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
pub(super) fn parse_form(body: &[u8]) -> impl Iterator<Item = Param<'_>> {
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
pub(super) fn lossy_form(body: &[u8]) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> {
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
pub(super) fn canonical_order(params: &mut Vec<Param<'_>>) {
    params.sort_unstable();
    params.dedup();
}

/// The decoded parameters of a form `body` in signing order, or `None`
/// when it has more than `max`: counted before anything is decoded, so a
/// body of half a million parameters costs one quick pass. A name or value
/// that needs no decoding is borrowed, not copied.
pub(super) fn form_params(body: &[u8], max: usize) -> Option<Vec<Param<'_>>> {
    let count = param_count(body);
    if count > max {
        return None;
    }
    let mut params = Vec::with_capacity(count);
    params.extend(parse_form(body));
    canonical_order(&mut params);
    Some(params)
}

/// Whether the request's `Content-Type` is a form.
pub(super) fn is_form(request: &Request<'_>) -> bool {
    request.header(CONTENT_TYPE).one().is_some_and(|value| {
        let essence = value
            .split(|b| *b == b';')
            .next()
            .unwrap_or_default()
            .trim_ascii();
        essence.eq_ignore_ascii_case(FORM.as_bytes())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
