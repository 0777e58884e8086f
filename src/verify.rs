//! What every scheme shares around its signature check: the error type,
//! timestamp parsing and the replay window, the clock, and
//! [`constant_time_eq`] for a [`Scheme`](crate::scheme::Scheme) of your own.
//! The MACs, signature decoding and the one routine that matches a request's
//! signatures against the secrets are the schemes' own, in
//! [`scheme`](crate::scheme).
//!
//! Nothing here depends on actix-web, so the command line and other frameworks
//! reuse it.
//!
//! ```
//! use std::time::Duration;
//! use actix_webhook::verify::{parse_timestamp, Tolerance};
//!
//! let now = 1_700_000_000;
//! let sent = parse_timestamp(b"1699999900").unwrap();
//! assert!(Tolerance::default().check(sent, now).is_ok());         // 100 s old
//! assert!(Tolerance::new(Duration::from_secs(60)).check(sent, now).is_err());
//! assert!(Tolerance::disabled().check(0, now).is_ok());           // replaying a capture
//! assert!(parse_timestamp(b"1e9").is_none());
//! ```

use std::borrow::Cow;
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The replay window of most providers' SDKs.
const DEFAULT_TOLERANCE: Duration = Duration::from_secs(5 * 60); // 5 minutes

/// Longest accepted unix timestamp: 19 digits covers every `i64`.
const MAX_TIMESTAMP_DIGITS: usize = 19;

/// Why a request did not verify.
///
/// The machine code of each variant ([`VerifyError::code`]) is what a sender
/// sees in the problem+json body; the fields are for logs and never hold a
/// secret or a signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// A header the scheme needs (signature, timestamp or delivery id) is absent.
    #[error("missing header `{header}`")]
    MissingSignature {
        /// The header's name.
        header: Cow<'static, str>,
    },
    /// A header the scheme needs cannot be parsed, is repeated, or is not ASCII.
    #[error("malformed header `{header}`")]
    MalformedSignature {
        /// The header's name.
        header: Cow<'static, str>,
    },
    /// No signature in the request matches any configured secret.
    #[error("no signature matches")]
    InvalidSignature,
    /// The timestamp is further from now than the tolerance, in the past or
    /// the future.
    #[error("timestamp {timestamp} is outside the tolerance at {now}")]
    TimestampOutOfTolerance {
        /// The request's timestamp, unix seconds.
        timestamp: i64,
        /// The receiver's clock, unix seconds.
        now: i64,
    },
    /// An unsigned handshake (Meta's subscription challenge) with a wrong
    /// or missing token, or a mode other than `subscribe`.
    #[error("handshake refused")]
    HandshakeRefused,
}

impl VerifyError {
    /// The stable machine code, e.g. `"invalid_signature"`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingSignature { .. } => "missing_signature",
            Self::MalformedSignature { .. } => "malformed_signature",
            Self::InvalidSignature => "invalid_signature",
            Self::TimestampOutOfTolerance { .. } => "timestamp_out_of_tolerance",
            Self::HandshakeRefused => "handshake_refused",
        }
    }

    /// A [`VerifyError::MissingSignature`] for `header`.
    pub fn missing(header: impl Into<Cow<'static, str>>) -> Self {
        Self::MissingSignature {
            header: header.into(),
        }
    }

    /// A [`VerifyError::MalformedSignature`] for `header`.
    pub fn malformed(header: impl Into<Cow<'static, str>>) -> Self {
        Self::MalformedSignature {
            header: header.into(),
        }
    }
}

/// How far a request's timestamp may be from the receiver's clock, in either
/// direction. The default is 5 minutes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tolerance {
    window: Option<Duration>,
}

impl Tolerance {
    /// Accept timestamps at most `window` away from now.
    pub const fn new(window: Duration) -> Self {
        Self {
            window: Some(window),
        }
    }

    /// Accept any timestamp, e.g. to replay captured deliveries in tests.
    /// The signature is still checked.
    pub const fn disabled() -> Self {
        Self { window: None }
    }

    /// The window, or `None` when disabled.
    pub const fn window(self) -> Option<Duration> {
        self.window
    }

    /// Checks `timestamp` against `now` (both unix seconds).
    ///
    /// # Errors
    ///
    /// [`VerifyError::TimestampOutOfTolerance`] when the distance exceeds the
    /// window. Absurd values cannot overflow: the distance saturates.
    pub fn check(self, timestamp: i64, now: i64) -> Result<(), VerifyError> {
        let Some(window) = self.window else {
            return Ok(());
        };
        let distance = i128::from(now).abs_diff(i128::from(timestamp));
        if distance <= u128::from(window.as_secs()) {
            Ok(())
        } else {
            Err(VerifyError::TimestampOutOfTolerance { timestamp, now })
        }
    }
}

impl Default for Tolerance {
    fn default() -> Self {
        Self::new(DEFAULT_TOLERANCE)
    }
}

/// Parses a unix timestamp in seconds as senders write it: 1 to 19 ASCII
/// digits, nothing else (no sign, space, fraction or exponent).
///
/// Returns `None` for anything else, including values past `i64::MAX`; the
/// caller turns that into [`VerifyError::MalformedSignature`] naming its header.
pub fn parse_timestamp(value: &[u8]) -> Option<i64> {
    if value.is_empty()
        || value.len() > MAX_TIMESTAMP_DIGITS
        || !value.iter().all(u8::is_ascii_digit)
    {
        return None;
    }
    value.iter().try_fold(0i64, |number, digit| {
        number.checked_mul(10)?.checked_add(i64::from(digit - b'0'))
    })
}

/// The receiver's notion of now, in unix seconds. Injected so tests can move
/// time; [`SystemClock`] is the default.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// Now, unix seconds.
    fn now(&self) -> i64;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(since) => i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
            Err(before) => i64::try_from(before.duration().as_secs()).map_or(i64::MIN, |s| -s),
        }
    }
}

/// A signed timestamp as a date, when it is a representable one: what
/// `timestamp()` gives on [`Event`](crate::Event),
/// [`Verified`](crate::Verified) and
/// [`VerifiedEvent`](crate::standalone::VerifiedEvent).
pub(crate) fn signed_at(timestamp: Option<i64>) -> Option<chrono::DateTime<chrono::Utc>> {
    timestamp.and_then(|t| chrono::DateTime::from_timestamp(t, 0))
}

/// A clock stopped at one instant, for tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixedClock(pub i64);

impl Clock for FixedClock {
    fn now(&self) -> i64 {
        self.0
    }
}

/// Compares two byte strings in time that depends only on their lengths,
/// as the presets compare MACs: for a [`Scheme`](crate::scheme::Scheme) of
/// your own. Strings of different lengths are unequal.
///
/// ```
/// use actix_webhook::verify::constant_time_eq;
///
/// assert!(constant_time_eq(b"v1=abc", b"v1=abc"));
/// assert!(!constant_time_eq(b"v1=abc", b"v1=abd"));
/// assert!(!constant_time_eq(b"v1=abc", b"v1=ab"));
/// ```
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    bool::from(ct_eq_words(a, b))
}

/// `a == b` in constant time (for a given length): the differences of all
/// eight-byte words are OR-ed together without a branch, then `subtle`
/// compares the result with zero behind one optimisation barrier (instead
/// of one per byte, as `<[u8]>::ct_eq` has). A compiler could in principle
/// stop the loop once the OR is non-zero; none does for an OR reduction,
/// and the constant-time crates that compare this way rely on the same.
/// Unequal lengths are unequal.
pub(crate) fn ct_eq_words(a: &[u8], b: &[u8]) -> subtle::Choice {
    use subtle::ConstantTimeEq as _;
    if a.len() != b.len() {
        return subtle::Choice::from(0);
    }
    let (a_words, a_rest) = a.as_chunks::<8>();
    let (b_words, b_rest) = b.as_chunks::<8>();
    let mut difference = 0u64;
    for (x, y) in a_words.iter().zip(b_words) {
        difference |= u64::from_ne_bytes(*x) ^ u64::from_ne_bytes(*y);
    }
    for (x, y) in a_rest.iter().zip(b_rest) {
        difference |= u64::from(x ^ y);
    }
    difference.ct_eq(&0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_parse_digits_only() {
        assert_eq!(parse_timestamp(b"1700000000"), Some(1_700_000_000));
        assert_eq!(parse_timestamp(b"0"), Some(0));
        assert_eq!(parse_timestamp(b"9223372036854775807"), Some(i64::MAX));
        for bad in [
            &b""[..],
            b"-1",
            b"+1",
            b" 1",
            b"1 ",
            b"1.5",
            b"1e9",
            b"9223372036854775808",
            b"123456789012345678901234567890",
            b"\xff\xfe",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn tolerance_is_two_sided_and_saturating() {
        let t = Tolerance::default();
        let now = 1_700_000_000;
        assert!(t.check(now - 300, now).is_ok());
        assert!(t.check(now + 300, now).is_ok());
        assert!(t.check(now - 301, now).is_err());
        assert!(t.check(now + 301, now).is_err());
        assert!(t.check(i64::MAX, now).is_err());
        assert!(t.check(i64::MIN, now).is_err());
        assert!(t.check(i64::MAX, i64::MIN).is_err());
        assert!(Tolerance::disabled().check(i64::MIN, i64::MAX).is_ok());
    }

    #[test]
    fn word_comparison_finds_every_difference() {
        for len in 0..=41 {
            let a: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            assert!(bool::from(ct_eq_words(&a, &a.clone())), "len {len}");
            for at in 0..len {
                for bit in [0x01, 0x80] {
                    let mut b = a.clone();
                    b[at] ^= bit;
                    assert!(!bool::from(ct_eq_words(&a, &b)), "len {len} at {at}");
                }
            }
            assert!(!bool::from(ct_eq_words(&a, &a[..len.saturating_sub(1)])) || len == 0);
        }
    }

    #[test]
    fn system_clock_is_after_2020() {
        assert!(SystemClock.now() > 1_577_836_800);
    }
}
