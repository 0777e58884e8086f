//! A header holding one encoded signature, maybe after a prefix
//! (GitHub's `sha256=<hex>`, Slack's `v0=<hex>`, Shopify's bare base64): how
//! the presets read it and write it.

use crate::scheme::{check_mac, decode_base64, decode_hex, Request};
use crate::secret::Secrets;
use crate::verify::{parse_timestamp, Tolerance, VerifyError};

/// How the signature bytes are written in the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Encoding {
    /// Hexadecimal, either case.
    Hex,
    /// Standard base64, padding optional.
    Base64,
}

/// What [`SignatureHeader::read_timestamped`] reads.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct SignedAt<'r, const N: usize> {
    /// The signature, as [`SignatureHeader::read`] gives it.
    pub(crate) signature: Option<[u8; N]>,
    /// The timestamp as sent, which the sender signs.
    pub(crate) raw_timestamp: &'r [u8],
    /// The timestamp, unix seconds.
    pub(crate) timestamp: i64,
}

/// A header carrying one signature: its name, the prefix its value starts
/// with, if any, and how the signature is encoded after it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SignatureHeader {
    /// The header's name, e.g. `X-Hub-Signature-256`.
    pub(crate) name: &'static str,
    /// `Some`: the value must start with it and have something after it.
    prefix: Option<&'static str>,
    encoding: Encoding,
}

impl SignatureHeader {
    /// A header holding the encoded signature alone (Shopify, Twilio).
    pub(crate) const fn bare(name: &'static str, encoding: Encoding) -> Self {
        Self {
            name,
            prefix: None,
            encoding,
        }
    }

    /// A header holding `prefix` and then the encoded signature (GitHub's
    /// `sha256=`). A value without the prefix, or with nothing after it, is
    /// malformed, even for an empty prefix.
    pub(crate) const fn prefixed(
        name: &'static str,
        prefix: &'static str,
        encoding: Encoding,
    ) -> Self {
        Self {
            name,
            prefix: Some(prefix),
            encoding,
        }
    }

    /// The signature `request` carries: `N` bytes, or `None` when it decodes
    /// to another length (a candidate that cannot match).
    ///
    /// # Errors
    ///
    /// [`VerifyError::MissingSignature`] when the header is absent,
    /// [`VerifyError::MalformedSignature`] when it is repeated or its value
    /// is not [readable](Self::decode).
    pub(crate) fn read<const N: usize>(
        &self,
        request: &Request<'_>,
    ) -> Result<Option<[u8; N]>, VerifyError> {
        self.decode(request.require(self.name)?)
    }

    /// The signature in `value`, the header's value already read; see
    /// [`read`](Self::read).
    ///
    /// # Errors
    ///
    /// [`VerifyError::MalformedSignature`] when `value` lacks the prefix, has
    /// nothing after it, or is not in the encoding.
    pub(crate) fn decode<const N: usize>(
        &self,
        value: &[u8],
    ) -> Result<Option<[u8; N]>, VerifyError> {
        let malformed = || VerifyError::malformed(self.name);
        let encoded = match self.prefix {
            Some(prefix) => value
                .strip_prefix(prefix.as_bytes())
                .filter(|rest| !rest.is_empty())
                .ok_or_else(malformed)?,
            None => value,
        };
        match self.encoding {
            Encoding::Hex => decode_hex::<N>(encoded),
            Encoding::Base64 => decode_base64::<N>(encoded),
        }
        .map_err(|()| malformed())
    }

    /// The header's value for `signature`: the prefix, then the signature
    /// encoded.
    pub(crate) fn write(&self, signature: &[u8]) -> String {
        use base64::Engine as _;
        let encoded = match self.encoding {
            Encoding::Hex => hex::encode(signature),
            Encoding::Base64 => base64::engine::general_purpose::STANDARD.encode(signature),
        };
        format!("{}{encoded}", self.prefix.unwrap_or_default())
    }

    /// The signature `request` carries, as [`read`](Self::read), with the
    /// unix timestamp in the header `timestamp` that senders sign with it
    /// (Slack, Discord), as sent and parsed, checked to be within `tolerance`
    /// of `now`. Both headers must be there before either is read.
    ///
    /// # Errors
    ///
    /// [`VerifyError::MissingSignature`] when either header is absent;
    /// [`VerifyError::MalformedSignature`] when either is repeated or
    /// unreadable, the signature's first;
    /// [`VerifyError::TimestampOutOfTolerance`] when it is out of the window.
    pub(crate) fn read_timestamped<'r, const N: usize>(
        &self,
        request: &Request<'r>,
        timestamp: &'static str,
        tolerance: Tolerance,
        now: i64,
    ) -> Result<SignedAt<'r, N>, VerifyError> {
        let value = request.require(self.name)?;
        let raw_timestamp = request.require(timestamp)?;
        let signature = self.decode(value)?;
        let parsed =
            parse_timestamp(raw_timestamp).ok_or_else(|| VerifyError::malformed(timestamp))?;
        tolerance.check(parsed, now)?;
        Ok(SignedAt {
            signature,
            raw_timestamp,
            timestamp: parsed,
        })
    }

    /// Checks that `request` carries the HMAC-SHA256 of `signed` under one
    /// of `secrets`.
    ///
    /// # Errors
    ///
    /// As [`read`](Self::read); [`VerifyError::InvalidSignature`] when no
    /// secret gives the signature.
    pub(crate) fn check_hmac_sha256<'a>(
        &self,
        request: &Request<'_>,
        secrets: &Secrets,
        signed: impl IntoIterator<Item = &'a [u8]> + Clone,
    ) -> Result<usize, VerifyError> {
        let candidate = self.read::<32>(request)?;
        check_mac(secrets, candidate.into_iter(), |secret| {
            secret.hmac_sha256(signed.clone())
        })
    }

    /// The header's value for the HMAC-SHA256 of `signed` under the first of
    /// `secrets`.
    pub(crate) fn sign_hmac_sha256<'a>(
        &self,
        secrets: &Secrets,
        signed: impl IntoIterator<Item = &'a [u8]> + Clone,
    ) -> String {
        self.write(&secrets.primary().hmac_sha256(signed))
    }
}

/// Slack's and Zoom's signature: a `v0=<hex>` header holding the
/// HMAC-SHA256 of `v0:{timestamp}:{body}`, the unix timestamp in a header of
/// its own.
#[derive(Debug, Clone, Copy)]
pub(crate) struct V0 {
    header: SignatureHeader,
    timestamp: &'static str,
}

impl V0 {
    /// The signature in the header `signature`, the timestamp in `timestamp`.
    pub(crate) const fn new(signature: &'static str, timestamp: &'static str) -> Self {
        Self {
            header: SignatureHeader::prefixed(signature, "v0=", Encoding::Hex),
            timestamp,
        }
    }

    /// What is signed: `v0:{timestamp}:{body}`, in pieces.
    pub(crate) fn signed<'a>(timestamp: &'a [u8], body: &'a [u8]) -> [&'a [u8]; 4] {
        [b"v0:", timestamp, b":", body]
    }

    /// Reads both headers, checks the timestamp against `tolerance` and the
    /// signature against `secrets`: the timestamp read, and which secret
    /// matched.
    ///
    /// # Errors
    ///
    /// As [`SignatureHeader::read_timestamped`];
    /// [`VerifyError::InvalidSignature`] when no secret gives the signature.
    pub(crate) fn check<'r>(
        &self,
        request: &Request<'r>,
        secrets: &Secrets,
        tolerance: Tolerance,
        now: i64,
    ) -> Result<(SignedAt<'r, 32>, usize), VerifyError> {
        let read = self
            .header
            .read_timestamped::<32>(request, self.timestamp, tolerance, now)?;
        let signed = Self::signed(read.raw_timestamp, request.body());
        let secret = check_mac(secrets, read.signature.into_iter(), |secret| {
            secret.hmac_sha256(signed)
        })?;
        Ok((read, secret))
    }

    /// The signature header's value for `body` at `timestamp`, signed with
    /// the first of `secrets`.
    pub(crate) fn sign(&self, secrets: &Secrets, timestamp: i64, body: &[u8]) -> String {
        let ts = timestamp.to_string();
        self.header
            .sign_hmac_sha256(secrets, Self::signed(ts.as_bytes(), body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_and_encodings_round_trip() {
        let hub = SignatureHeader::prefixed("X-Sig", "sha256=", Encoding::Hex);
        let bare = SignatureHeader::bare("X-Sig", Encoding::Base64);
        let signature = [7u8; 32];
        for header in [hub, bare] {
            let value = header.write(&signature);
            assert_eq!(header.decode::<32>(value.as_bytes()), Ok(Some(signature)));
            // Another length cannot match, but is readable.
            assert_eq!(header.decode::<20>(value.as_bytes()), Ok(None));
        }
        assert!(hub.write(&signature).starts_with("sha256=0707"));
        let malformed = Err(VerifyError::malformed("X-Sig"));
        for bad in [&b"0707"[..], b"sha256=", b"sha256=zz", b"sha1=0707"] {
            assert_eq!(hub.decode::<32>(bad), malformed, "{bad:?}");
        }
        // A bare header may be empty: nothing to match.
        assert_eq!(bare.decode::<32>(b""), Ok(None));
        assert_eq!(bare.decode::<32>(b"!!"), malformed);
        // An empty prefix still needs a signature after it.
        let generic = SignatureHeader::prefixed("X-Sig", "", Encoding::Hex);
        assert_eq!(generic.decode::<32>(b""), malformed);
    }

    #[test]
    fn a_timestamped_signature_reads_both_headers_first() {
        let v0 = SignatureHeader::prefixed("X-Sig", "v0=", Encoding::Hex);
        let good = v0.write(&[1; 32]);
        let read = |headers: &[(&str, &str)]| {
            let request = Request::new("POST", "/", &headers, b"");
            v0.read_timestamped::<32>(&request, "X-Ts", Tolerance::default(), 1000)
                .map(|read| (read.signature, read.raw_timestamp.to_vec(), read.timestamp))
        };
        assert_eq!(
            read(&[("X-Sig", &good), ("X-Ts", "990")]),
            Ok((Some([1; 32]), b"990".to_vec(), 990))
        );
        assert_eq!(read(&[]), Err(VerifyError::missing("X-Sig")));
        // A bad signature is not read before the timestamp is there.
        assert_eq!(read(&[("X-Sig", "bad")]), Err(VerifyError::missing("X-Ts")));
        assert_eq!(
            read(&[("X-Sig", "bad"), ("X-Ts", "x")]),
            Err(VerifyError::malformed("X-Sig"))
        );
        assert_eq!(
            read(&[("X-Sig", &good), ("X-Ts", "x")]),
            Err(VerifyError::malformed("X-Ts"))
        );
        assert!(matches!(
            read(&[("X-Sig", &good), ("X-Ts", "1301")]),
            Err(VerifyError::TimestampOutOfTolerance { .. })
        ));
    }
}
