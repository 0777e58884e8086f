//! How ids and names that come from requests are shown in answers and
//! logs: bounded, since an unsigned id is anyone's to make 100 KB long.

use std::borrow::Cow;

/// Longest delivery id stored, shown and logged as it is; longer ones are
/// stored, shown and logged as their digest.
pub(crate) const MAX_ID: usize = 128;

/// What marks a digest of an id. Stored ids that start with it (or with the
/// fingerprint's prefix) are hashed too, so a digest and an id can never be
/// mistaken for each other.
pub(crate) const DIGEST_PREFIX: &str = "sha256:";

/// The first [`MAX_ID`] bytes of a name from the request path, for logs.
pub(crate) fn shown_name(name: &str) -> &str {
    let mut end = name.len().min(MAX_ID);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    &name[..end]
}

/// An id as answered and logged: itself, or its digest past [`MAX_ID`]
/// bytes.
pub(crate) fn shown_id(id: &str) -> Cow<'_, str> {
    if id.len() > MAX_ID {
        id_digest(id).into()
    } else {
        id.into()
    }
}

/// `sha256:<hex>` of `id`.
pub(crate) fn id_digest(id: &str) -> String {
    use sha2::Digest as _;
    format!("{DIGEST_PREFIX}{}", hex::encode(sha2::Sha256::digest(id)))
}
