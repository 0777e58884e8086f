//! MACs, digests, signature decoding, and the one routine that matches
//! what a request carries against the configured secrets in constant time.

use crate::secret::Secrets;
use crate::verify::{ct_eq_words, VerifyError};

/// Decodes a base64 signature of `N` bytes (padding optional).
///
/// `Err(())` when it is not base64, `Ok(None)` when it is but has another
/// length (a candidate that cannot match).
pub(crate) fn decode_base64<const N: usize>(value: &[u8]) -> Result<Option<[u8; N]>, ()> {
    use base64::Engine as _;
    const ENGINE: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    // Room for one byte more than N, so a longer value is seen as such.
    let mut buf = [0u8; 96];
    if value.len() > 128 {
        return ENGINE.decode(value).map(|_| None).map_err(|_| ());
    }
    match ENGINE.decode_slice(value, &mut buf) {
        Ok(len) if len == N => {
            let mut out = [0u8; N];
            out.copy_from_slice(&buf[..N]);
            Ok(Some(out))
        }
        Ok(_) => Ok(None),
        Err(_) => Err(()),
    }
}

/// The `key=value` entries of a signature header that lists them separated
/// by `separator` (Stripe's `t=..,v1=..`, Paddle's `ts=..;h1=..`), trimmed;
/// entries without `=` are skipped.
pub(crate) fn key_values(
    header: &[u8],
    separator: u8,
) -> impl Iterator<Item = (&[u8], &[u8])> + Clone {
    header.split(move |b| *b == separator).filter_map(|entry| {
        let entry = entry.trim_ascii();
        let eq = entry.iter().position(|b| *b == b'=')?;
        Some((&entry[..eq], &entry[eq + 1..]))
    })
}

/// The value of the one entry named `key` in such a header; `None` when it
/// has none or several.
pub(crate) fn only_value<'h>(header: &'h [u8], separator: u8, key: &[u8]) -> Option<&'h [u8]> {
    let mut values = key_values(header, separator).filter(|(k, _)| *k == key);
    match (values.next(), values.next()) {
        (Some((_, value)), None) => Some(value),
        _ => None,
    }
}

/// Whether any `key` entry of such a header is the hex HMAC-SHA256 of
/// `signed` under any of `secrets`, checking every pair. An entry that is
/// not 32 bytes of hex cannot match and is skipped, as the providers' SDKs
/// do.
pub(crate) fn any_hex_mac_matches(
    header: &[u8],
    separator: u8,
    key: &[u8],
    secrets: &Secrets,
    signed: [&[u8]; 3],
) -> bool {
    let candidates = key_values(header, separator)
        .filter(move |(k, _)| *k == key)
        .filter_map(|(_, value)| decode_hex::<32>(value).ok().flatten());
    any_mac_matches(secrets, candidates, |secret| hmac_sha256(secret, signed))
}

/// Decodes a hex signature of `N` bytes (either case); see [`decode_base64`].
pub(crate) fn decode_hex<const N: usize>(value: &[u8]) -> Result<Option<[u8; N]>, ()> {
    if !value.iter().all(u8::is_ascii_hexdigit) || !value.len().is_multiple_of(2) {
        return Err(());
    }
    let mut out = [0u8; N];
    match hex::decode_to_slice(value, &mut out) {
        Ok(()) => Ok(Some(out)),
        Err(_) => Ok(None),
    }
}

/// HMAC-SHA256 keyed with `key` over `parts`, fed one by one (no copy of
/// the body is built).
pub(crate) fn hmac_sha256<'a>(key: &[u8], parts: impl IntoIterator<Item = &'a [u8]>) -> [u8; 32] {
    use hmac::Mac as _;
    let mut mac =
        <hmac::Hmac<sha2::Sha256>>::new_from_slice(key).expect("HMAC accepts keys of any length");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// SHA-256 of `parts`, fed one by one.
pub(crate) fn sha256<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> [u8; 32] {
    use sha2::Digest as _;
    let mut digest = sha2::Sha256::new();
    for part in parts {
        digest.update(part);
    }
    digest.finalize().into()
}

/// HMAC-SHA1 keyed with `key` over `parts`, fed one by one (Twilio).
pub(crate) fn hmac_sha1<'a>(key: &[u8], parts: impl IntoIterator<Item = &'a [u8]>) -> [u8; 20] {
    use hmac::Mac as _;
    let mut mac =
        <hmac::Hmac<sha1::Sha1>>::new_from_slice(key).expect("HMAC accepts keys of any length");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// Checks that one of `candidates` is the MAC that `mac` computes under one
/// of `secrets`, as [`any_mac_matches`] does.
///
/// # Errors
///
/// [`VerifyError::InvalidSignature`] when none is.
pub(crate) fn check_mac<const N: usize>(
    secrets: &Secrets,
    candidates: impl Iterator<Item = [u8; N]> + Clone,
    mac: impl Fn(&[u8]) -> [u8; N],
) -> Result<(), VerifyError> {
    if any_mac_matches(secrets, candidates, mac) {
        Ok(())
    } else {
        Err(VerifyError::InvalidSignature)
    }
}

/// Whether any of `candidates` is the MAC that `mac` computes under any of
/// `secrets`, through [`any_secret_matches`].
pub(crate) fn any_mac_matches<const N: usize>(
    secrets: &Secrets,
    candidates: impl Iterator<Item = [u8; N]> + Clone,
    mac: impl Fn(&[u8]) -> [u8; N],
) -> bool {
    any_secret_matches(secrets, candidates, mac, |expected, candidate| {
        ct_eq_words(expected, candidate)
    })
}

/// Whether any of `candidates` matches under any of `secrets`: the one loop
/// over secrets. Every MAC, token and ed25519 check of the presets goes
/// through it. `expect` turns a key into what a genuine candidate must match
/// (its MAC over the signed content, or a parsed public key), once per key;
/// `matches` compares one candidate with that.
///
/// Every secret is tried against every candidate and the results are
/// combined without branching, so the timing shows neither which secret or
/// candidate matched nor, with a constant-time `matches`, where a candidate
/// differs. A secret with no bytes never matches: its MAC is anyone's to
/// compute. [`Secret`](crate::secret::Secret) cannot hold one; this holds
/// even so.
pub(crate) fn any_secret_matches<E, C>(
    secrets: &Secrets,
    candidates: impl Iterator<Item = C> + Clone,
    expect: impl Fn(&[u8]) -> E,
    matches: impl Fn(&E, &C) -> subtle::Choice,
) -> bool {
    let mut matched = subtle::Choice::from(0);
    for secret in secrets {
        let key = secret.expose();
        let usable = subtle::Choice::from(u8::from(!key.is_empty()));
        let expected = expect(key);
        for candidate in candidates.clone() {
            matched |= matches(&expected, &candidate) & usable;
        }
    }
    matched.into()
}

/// Whether `token` equals one of `secrets`, comparing SHA-256 digests in
/// constant time over every secret, so neither the content nor the length of
/// a secret shows in the timing.
pub(crate) fn token_matches(token: &[u8], secrets: &Secrets) -> bool {
    use sha2::Digest as _;
    let sent: [u8; 32] = sha2::Sha256::digest(token).into();
    any_mac_matches(secrets, std::iter::once(sent), |key| {
        sha2::Sha256::digest(key).into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    #[test]
    fn the_shared_matching_routine_never_matches_under_an_empty_key() {
        let mac = |key: &[u8]| hmac_sha256(key, [&b"body"[..]]);
        let real = Secrets::new([Secret::new("k").unwrap()]).unwrap();
        let forged = mac(b"");
        assert!(any_mac_matches(&real, std::iter::once(mac(b"k")), mac));
        assert!(!any_mac_matches(&real, std::iter::once(forged), mac));
        // Even a set smuggling in an empty secret (no public path builds
        // one) refuses the MAC anyone can compute under it.
        let smuggled =
            Secrets::new([Secret::empty_for_tests(), Secret::new("k").unwrap()]).unwrap();
        assert!(!any_mac_matches(&smuggled, std::iter::once(forged), mac));
        assert!(any_mac_matches(&smuggled, std::iter::once(mac(b"k")), mac));
        assert!(!token_matches(b"", &smuggled));
        assert!(token_matches(b"k", &smuggled));
        // Any candidate of several may match; none is no match.
        assert!(any_mac_matches(&real, [forged, mac(b"k")].into_iter(), mac));
        assert!(!any_mac_matches(&real, std::iter::empty(), mac));
    }

    #[test]
    fn base64_signatures_decode_padded_or_not_and_strictly() {
        use base64::Engine as _;
        let engine = base64::engine::general_purpose::STANDARD;
        let bytes: Vec<u8> = (0..32).map(|i| (i * 37 + 11) as u8).collect();
        let text = engine.encode(&bytes);
        assert_eq!(
            decode_base64::<32>(text.as_bytes()).unwrap().unwrap()[..],
            bytes
        );
        let unpadded = text.trim_end_matches('=');
        assert_eq!(
            decode_base64::<32>(unpadded.as_bytes()).unwrap().unwrap()[..],
            bytes
        );
        let mut loose = text.clone().into_bytes();
        loose[42] = b'd'; // unused low bits set: not canonical
        assert_eq!(decode_base64::<32>(&loose), Err(()));
        let mut url_safe = text.into_bytes();
        url_safe[0] = b'-';
        assert_eq!(decode_base64::<32>(&url_safe), Err(()));
    }
}
