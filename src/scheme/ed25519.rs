//! Ed25519 pieces shared by [`StandardWebhooks`] `v1a` and [`Discord`].
//!
//! [`StandardWebhooks`]: crate::scheme::StandardWebhooks
//! [`Discord`]: crate::scheme::Discord

use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};

use crate::scheme::mac::any_secret_matches;
use crate::secret::{Secret, SecretError, Secrets};

/// The error for a key that is not a usable ed25519 key.
pub(crate) const INVALID: SecretError = SecretError::InvalidKey("ed25519");

/// A public key from its 32 bytes: a valid point that is not of small
/// order (a weak key would accept forged signatures).
pub(crate) fn verifying_key(bytes: &[u8]) -> Option<VerifyingKey> {
    let bytes: &[u8; 32] = bytes.try_into().ok()?;
    VerifyingKey::from_bytes(bytes)
        .ok()
        .filter(|key| !key.is_weak())
}

/// A [`Secret`] holding a checked public key's 32 bytes.
///
/// # Errors
///
/// [`SecretError::InvalidKey`] when `bytes` is not a usable public key.
pub(crate) fn public_key_secret(bytes: &[u8]) -> Result<Secret, SecretError> {
    verifying_key(bytes).ok_or(INVALID)?;
    Secret::new(bytes)
}

/// A signing key from a 32-byte seed, or a 64-byte seed and public key
/// (libsodium's layout), whose public half must match.
///
/// # Errors
///
/// [`SecretError::InvalidKey`] for another length or a mismatched pair.
pub(crate) fn signing_key(bytes: &[u8]) -> Result<SigningKey, SecretError> {
    match bytes.len() {
        32 => {
            let seed: &[u8; 32] = bytes.try_into().map_err(|_| INVALID)?;
            Ok(SigningKey::from_bytes(seed))
        }
        64 => {
            let pair: &[u8; 64] = bytes.try_into().map_err(|_| INVALID)?;
            SigningKey::from_keypair_bytes(pair).map_err(|_| INVALID)
        }
        _ => Err(INVALID),
    }
}

/// Which of `public_keys`, by position, any of `signatures` is the
/// signature of the concatenated `parts` under, through the presets' one matching routine
/// ([`any_secret_matches`]): every key is parsed once and tried against
/// every signature. Public keys hide nothing, so that ed25519 verification
/// is not constant time shows nothing either.
pub(crate) fn any_key_verifies<'a>(
    public_keys: &Secrets,
    signatures: impl Iterator<Item = [u8; 64]> + Clone,
    parts: impl IntoIterator<Item = &'a [u8]> + Clone,
) -> Option<usize> {
    let parse = |key: &Secret| verifying_key(key.expose());
    any_secret_matches(public_keys, signatures, parse, |key, signature| {
        let valid = key
            .as_ref()
            .is_some_and(|key| verify_with(key, signature, parts.clone()));
        subtle::Choice::from(u8::from(valid))
    })
}

/// Whether `signature` is `public_key`'s signature of the concatenated
/// `parts`, fed one by one (no copy of the body is built). A `public_key`
/// that is not a usable key never verifies.
#[cfg(test)]
fn verify<'a>(
    public_key: &[u8],
    signature: &[u8; 64],
    parts: impl IntoIterator<Item = &'a [u8]>,
) -> bool {
    verifying_key(public_key).is_some_and(|key| verify_with(&key, signature, parts))
}

/// Whether `signature` is `key`'s signature of the concatenated `parts`.
fn verify_with<'a>(
    key: &VerifyingKey,
    signature: &[u8; 64],
    parts: impl IntoIterator<Item = &'a [u8]>,
) -> bool {
    let Ok(mut verifier) = key.verify_stream(&Signature::from_bytes(signature)) else {
        return false;
    };
    for part in parts {
        verifier.update(part);
    }
    verifier.finalize_and_verify().is_ok()
}

/// Signs the concatenated `parts` (the sender's side; it builds the
/// message once).
pub(crate) fn sign<'a>(key: &SigningKey, parts: impl IntoIterator<Item = &'a [u8]>) -> [u8; 64] {
    let message: Vec<u8> = parts.into_iter().flatten().copied().collect();
    key.sign(&message).to_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 8032, section 7.1, TEST 1 (empty message), TEST 2 (one byte
    // 0x72) and TEST 3 (0xaf82): https://www.rfc-editor.org/rfc/rfc8032#section-7.1
    const VECTORS: [(&str, &str, &str, &str); 3] = [
        (
            "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
            "",
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155\
             5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
        ),
        (
            "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
            "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
            "72",
            "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da\
             085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
        ),
        (
            "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
            "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
            "af82",
            "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac\
             18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
        ),
    ];

    fn bytes(text: &str) -> Vec<u8> {
        hex::decode(text).unwrap()
    }

    #[test]
    fn rfc_8032_vectors_sign_and_verify() {
        for (secret, public, message, signature) in VECTORS {
            let key = signing_key(&bytes(secret)).unwrap();
            assert_eq!(key.verifying_key().to_bytes().to_vec(), bytes(public));
            let message = bytes(message);
            let signature: [u8; 64] = bytes(signature).try_into().unwrap();
            assert_eq!(sign(&key, [&message[..]]), signature);
            assert!(verify(&bytes(public), &signature, [&message[..]]));
            // The same bytes split anywhere verify the same.
            if message.len() == 2 {
                assert!(verify(
                    &bytes(public),
                    &signature,
                    [&message[..1], &message[1..]]
                ));
            }
            let mut tampered = message.clone();
            tampered.push(0);
            assert!(!verify(&bytes(public), &signature, [&tampered[..]]));
            let mut bad = signature;
            bad[10] ^= 1;
            assert!(!verify(&bytes(public), &bad, [&message[..]]));
        }
    }

    #[test]
    fn every_key_is_tried_against_every_signature() {
        let keys = |hexes: &[&str]| {
            Secrets::new(hexes.iter().map(|h| public_key_secret(&bytes(h)).unwrap())).unwrap()
        };
        let (_, first_key, _, _) = VECTORS[0];
        let (_, second_key, message, signature) = VECTORS[1];
        let message = bytes(message);
        let good: [u8; 64] = bytes(signature).try_into().unwrap();
        let mut bad = good;
        bad[0] ^= 1;
        let parts = [&message[..1], &message[1..]];
        // The right key second, the right signature second.
        let both = keys(&[first_key, second_key]);
        assert_eq!(
            any_key_verifies(&both, [bad, good].into_iter(), parts),
            Some(1)
        );
        assert_eq!(any_key_verifies(&both, [bad, bad].into_iter(), parts), None);
        assert_eq!(any_key_verifies(&both, std::iter::empty(), parts), None);
        let first = keys(&[first_key]);
        assert_eq!(any_key_verifies(&first, [good].into_iter(), parts), None);
    }

    #[test]
    fn keys_are_checked() {
        let (secret, public, _, _) = VECTORS[0];
        let mut pair = bytes(secret);
        pair.extend(bytes(public));
        assert!(signing_key(&pair).is_ok());
        let mut mismatched = bytes(secret);
        mismatched.extend(bytes(VECTORS[1].1));
        assert_eq!(signing_key(&mismatched).unwrap_err(), INVALID);
        assert_eq!(signing_key(&[1; 31]).unwrap_err(), INVALID);
        assert!(public_key_secret(&bytes(public)).is_ok());
        // The identity point has small order: a weak key.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert_eq!(public_key_secret(&identity).unwrap_err(), INVALID);
        assert!(!verify(&identity, &[0; 64], [&b""[..]]));
        assert!(!verify(b"short", &[0; 64], [&b""[..]]));
    }
}
