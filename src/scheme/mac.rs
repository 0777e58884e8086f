//! MACs, digests, signature decoding, and the one routine that matches
//! what a request carries against the configured secrets in constant time.

use zeroize::Zeroizing;

use crate::secret::{Secret, Secrets};
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

/// Which secret, by position, any `key` entry of such a header is the hex
/// HMAC-SHA256 of `signed` under, checking every pair. An entry that is
/// not 32 bytes of hex cannot match and is skipped, as the providers' SDKs
/// do.
pub(crate) fn any_hex_mac_matches(
    header: &[u8],
    separator: u8,
    key: &[u8],
    secrets: &Secrets,
    signed: [&[u8]; 3],
) -> Option<usize> {
    let candidates = key_values(header, separator)
        .filter(move |(k, _)| *k == key)
        .filter_map(|(_, value)| decode_hex::<32>(value).ok().flatten());
    any_mac_matches(secrets, candidates, |secret| secret.hmac_sha256(signed))
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

/// The longest message (in bytes) that [`HmacSha256Key::mac`] runs from its
/// precomputed blocks: past it, feeding `sha2` one block per call costs more
/// than the two blocks saved, and the `hmac` crate (keyed per call) is used.
const MIDSTATE_MAX: usize = 1280;

/// The SHA-256 state after one block, from the start.
const SHA256_START: [u32; 8] = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];

type Block = sha2::digest::generic_array::GenericArray<u8, sha2::digest::consts::U64>;

/// HMAC-SHA256 under one key with the key's two padded blocks compressed
/// once, when the key is made, instead of on every MAC: for a 256-byte body
/// they are a quarter of the work. The two states are as secret as the key
/// and are wiped on drop with it.
pub(crate) struct HmacSha256Key {
    inner: Zeroizing<[u32; 8]>,
    outer: Zeroizing<[u32; 8]>,
}

impl HmacSha256Key {
    pub(crate) fn new(key: &[u8]) -> Self {
        // RFC 2104: a key longer than a block is hashed first.
        let mut padded = Zeroizing::new([0u8; 64]);
        if key.len() > padded.len() {
            padded[..32].copy_from_slice(&*Zeroizing::new(sha256([key])));
        } else {
            padded[..key.len()].copy_from_slice(key);
        }
        let state_after = |pad: u8| {
            let mut block = Zeroizing::new([0u8; 64]);
            for (b, k) in block.iter_mut().zip(padded.iter()) {
                *b = k ^ pad;
            }
            let mut state = Zeroizing::new(SHA256_START);
            compress(&mut state, &block[..]);
            state
        };
        Self {
            inner: state_after(0x36),
            outer: state_after(0x5c),
        }
    }

    /// The MAC of `parts`, fed one by one; `key` is the key this was made
    /// from, for messages past [`MIDSTATE_MAX`].
    pub(crate) fn mac<'a, I>(&self, key: &[u8], parts: I) -> [u8; 32]
    where
        I: IntoIterator<Item = &'a [u8]> + Clone,
    {
        let len: usize = parts.clone().into_iter().map(<[u8]>::len).sum();
        if len > MIDSTATE_MAX {
            return hmac_sha256(key, parts);
        }
        let mut inner = Midstate::after_block(&self.inner);
        for part in parts {
            inner.update(part);
        }
        let mut outer = Midstate::after_block(&self.outer);
        outer.update(&inner.finish());
        outer.finish()
    }
}

/// SHA-256 resumed after one block, fed piece by piece.
struct Midstate {
    state: [u32; 8],
    block: [u8; 64],
    filled: usize,
    /// Bytes hashed, the first block included.
    len: u64,
}

impl Midstate {
    fn after_block(state: &[u32; 8]) -> Self {
        Self {
            state: *state,
            block: [0; 64],
            filled: 0,
            len: 64,
        }
    }

    fn update(&mut self, mut data: &[u8]) {
        self.len = self.len.wrapping_add(data.len() as u64);
        if self.filled > 0 {
            let take = (64 - self.filled).min(data.len());
            self.block[self.filled..self.filled + take].copy_from_slice(&data[..take]);
            self.filled += take;
            data = &data[take..];
            if self.filled < 64 {
                return;
            }
            compress(&mut self.state, &self.block);
            self.filled = 0;
        }
        let mut blocks = data.chunks_exact(64);
        for block in &mut blocks {
            compress(&mut self.state, block);
        }
        let rest = blocks.remainder();
        self.block[..rest.len()].copy_from_slice(rest);
        self.filled = rest.len();
    }

    fn finish(mut self) -> [u8; 32] {
        let bits = self.len.wrapping_mul(8);
        self.block[self.filled] = 0x80;
        self.block[self.filled + 1..].fill(0);
        if self.filled >= 56 {
            compress(&mut self.state, &self.block);
            self.block.fill(0);
        }
        self.block[56..].copy_from_slice(&bits.to_be_bytes());
        compress(&mut self.state, &self.block);
        let mut digest = [0u8; 32];
        for (out, word) in digest.chunks_exact_mut(4).zip(self.state) {
            out.copy_from_slice(&word.to_be_bytes());
        }
        digest
    }
}

/// One SHA-256 compression of a 64-byte `block` into `state`.
fn compress(state: &mut [u32; 8], block: &[u8]) {
    sha2::compress256(state, std::slice::from_ref(Block::from_slice(block)));
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
/// of `secrets`, as [`any_mac_matches`] does: the position of the secret.
///
/// # Errors
///
/// [`VerifyError::InvalidSignature`] when none is.
pub(crate) fn check_mac<const N: usize>(
    secrets: &Secrets,
    candidates: impl Iterator<Item = [u8; N]> + Clone,
    mac: impl Fn(&Secret) -> [u8; N],
) -> Result<usize, VerifyError> {
    any_mac_matches(secrets, candidates, mac).ok_or(VerifyError::InvalidSignature)
}

/// Which secret, by position, any of `candidates` is the MAC that `mac`
/// computes under, through [`any_secret_matches`].
pub(crate) fn any_mac_matches<const N: usize>(
    secrets: &Secrets,
    candidates: impl Iterator<Item = [u8; N]> + Clone,
    mac: impl Fn(&Secret) -> [u8; N],
) -> Option<usize> {
    any_secret_matches(secrets, candidates, mac, |expected, candidate| {
        ct_eq_words(expected, candidate)
    })
}

/// Which secret, by position, any of `candidates` matches under: the one
/// loop over secrets. Every MAC, token and ed25519 check of the presets goes
/// through it. `expect` turns a key into what a genuine candidate must match
/// (its MAC over the signed content, or a parsed public key), once per key;
/// `matches` compares one candidate with that. When several secrets match,
/// the first.
///
/// Every secret is tried against every candidate and the results (the
/// position included) are combined without branching, so the timing shows
/// neither which secret or candidate matched nor, with a constant-time
/// `matches`, where a candidate differs. A secret with no bytes never
/// matches: its MAC is anyone's to compute. [`Secret`](crate::secret::Secret)
/// cannot hold one; this holds even so.
pub(crate) fn any_secret_matches<E, C>(
    secrets: &Secrets,
    candidates: impl Iterator<Item = C> + Clone,
    expect: impl Fn(&Secret) -> E,
    matches: impl Fn(&E, &C) -> subtle::Choice,
) -> Option<usize> {
    use subtle::ConditionallySelectable as _;
    let mut found = subtle::Choice::from(0);
    let mut position = 0_u64;
    for (index, secret) in secrets.iter().enumerate() {
        let usable = subtle::Choice::from(u8::from(!secret.expose().is_empty()));
        let expected = expect(secret);
        let mut matched = subtle::Choice::from(0);
        for candidate in candidates.clone() {
            matched |= matches(&expected, &candidate) & usable;
        }
        position.conditional_assign(&(index as u64), matched & !found);
        found |= matched;
    }
    bool::from(found).then_some(position as usize)
}

/// Which of `secrets`, by position, `token` equals, comparing SHA-256
/// digests in constant time over every secret, so neither the content nor
/// the length of a secret shows in the timing.
pub(crate) fn token_matches(token: &[u8], secrets: &Secrets) -> Option<usize> {
    use sha2::Digest as _;
    let sent: [u8; 32] = sha2::Sha256::digest(token).into();
    any_mac_matches(secrets, std::iter::once(sent), |secret| {
        sha2::Sha256::digest(secret.expose()).into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    use proptest::prelude::*;

    proptest! {
        /// The precomputed key gives the `hmac` crate's MAC for any key
        /// (shorter than, as long as, and longer than a block) and any
        /// split of any message, across the block and padding boundaries.
        #[test]
        fn precomputed_keys_give_the_hmac_crates_mac(
            key in proptest::collection::vec(any::<u8>(), 0..150),
            message in proptest::collection::vec(any::<u8>(), 0..1400),
            split in (0usize..1400, 0usize..1400),
        ) {
            let (a, b) = (split.0.min(message.len()), split.1.min(message.len()));
            let (first, second) = (a.min(b), a.max(b));
            let parts = [&message[..first], &message[first..second], &message[second..]];
            let expected = hmac_sha256(&key, parts);
            prop_assert_eq!(HmacSha256Key::new(&key).mac(&key, parts), expected);
            prop_assert_eq!(HmacSha256Key::new(&key).mac(&key, [&message[..]]), expected);
        }
    }

    #[test]
    fn precomputed_keys_match_at_every_length_around_the_blocks() {
        let key = b"a key";
        let message: Vec<u8> = (0..MIDSTATE_MAX + 2).map(|i| i as u8).collect();
        let precomputed = HmacSha256Key::new(key);
        for len in 0..message.len() {
            let expected = hmac_sha256(key, [&message[..len]]);
            assert_eq!(precomputed.mac(key, [&message[..len]]), expected, "{len}");
        }
    }

    #[test]
    fn the_shared_matching_routine_never_matches_under_an_empty_key() {
        let mac = |secret: &Secret| secret.hmac_sha256([&b"body"[..]]);
        let real = Secrets::new([Secret::new("k").unwrap()]).unwrap();
        let forged = hmac_sha256(b"", [&b"body"[..]]);
        let genuine = hmac_sha256(b"k", [&b"body"[..]]);
        assert_eq!(
            any_mac_matches(&real, std::iter::once(genuine), mac),
            Some(0)
        );
        assert_eq!(any_mac_matches(&real, std::iter::once(forged), mac), None);
        // Even a set smuggling in an empty secret (no public path builds
        // one) refuses the MAC anyone can compute under it.
        let smuggled =
            Secrets::new([Secret::empty_for_tests(), Secret::new("k").unwrap()]).unwrap();
        assert_eq!(
            any_mac_matches(&smuggled, std::iter::once(forged), mac),
            None
        );
        assert_eq!(
            any_mac_matches(&smuggled, std::iter::once(genuine), mac),
            Some(1)
        );
        assert_eq!(token_matches(b"", &smuggled), None);
        assert_eq!(token_matches(b"k", &smuggled), Some(1));
        // Any candidate of several may match; none is no match.
        assert_eq!(
            any_mac_matches(&real, [forged, genuine].into_iter(), mac),
            Some(0)
        );
        assert_eq!(any_mac_matches(&real, std::iter::empty(), mac), None);
    }

    #[test]
    fn the_matching_secret_is_found_by_position_and_the_first_wins() {
        let mac = |secret: &Secret| secret.hmac_sha256([&b"body"[..]]);
        let set =
            Secrets::new(["new", "old", "older", "old"].map(|k| Secret::new(k).unwrap())).unwrap();
        for (key, position) in [("new", 0), ("old", 1), ("older", 2)] {
            let sent = hmac_sha256(key.as_bytes(), [&b"body"[..]]);
            assert_eq!(
                any_mac_matches(&set, std::iter::once(sent), mac),
                Some(position)
            );
            assert_eq!(token_matches(key.as_bytes(), &set), Some(position), "{key}");
        }
        // Two candidates, each matching a secret: the earlier secret.
        let [new, older] = ["new", "older"].map(|k| hmac_sha256(k.as_bytes(), [&b"body"[..]]));
        assert_eq!(
            any_mac_matches(&set, [older, new].into_iter(), mac),
            Some(0)
        );
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
