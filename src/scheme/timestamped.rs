//! The scheme [`Stripe`] and [`Paddle`] share: one header listing a
//! timestamp and hex HMAC-SHA256 entries (`t=..,v1=..`, `ts=..;h1=..`)
//! over the timestamp, a joiner and the body, with the delivery id and the
//! event name in the body. Each preset is a [`Format`] and its docs.
//!
//! [`Stripe`]: crate::scheme::Stripe
//! [`Paddle`]: crate::scheme::Paddle

use std::fmt;
use std::sync::LazyLock;

use crate::scheme::{
    any_hex_mac_matches, json_string, key_values, only_value, Delivery, EventName, EventNameError,
    JsonPointer, Message, Request, Scheme, Signer,
};
use crate::secret::Secrets;
use crate::verify::{parse_timestamp, Tolerance, VerifyError};

/// What differs between the providers that sign this way.
#[derive(Debug)]
pub(crate) struct Format {
    /// [`Scheme::name`], e.g. `stripe`.
    pub(crate) name: &'static str,
    /// The preset's type, as `Debug` shows it.
    pub(crate) type_name: &'static str,
    /// The signature header, e.g. `Stripe-Signature`.
    pub(crate) header: &'static str,
    /// Between its entries, e.g. `,`.
    pub(crate) separator: u8,
    /// The key of the timestamp entry, which must be there once, e.g. `t`.
    pub(crate) timestamp: &'static str,
    /// The key of the MAC entries, e.g. `v1`; entries of other keys are
    /// ignored.
    pub(crate) mac: &'static str,
    /// What is signed between the timestamp and the body, e.g. `.`.
    pub(crate) joiner: &'static str,
    /// What a header without a MAC entry is.
    pub(crate) without_mac: WithoutMac,
    /// Where the body holds the delivery id, e.g. `/id`.
    pub(crate) id: LazyLock<JsonPointer>,
    /// Where the body holds the event name, e.g. `/type`.
    pub(crate) event_name: LazyLock<EventName>,
    /// The replay window of the provider's SDKs.
    pub(crate) tolerance: Tolerance,
}

/// How a header that lists no (non-empty) MAC entry is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WithoutMac {
    /// As no match (`invalid_signature`), after the timestamp is checked:
    /// the header is readable, it carries no signature this receiver takes.
    Invalid,
    /// As `malformed_signature`, before the timestamp is checked.
    Malformed,
}

/// A scheme of one [`Format`], with its secrets and tolerance. A preset is
/// a newtype around it, made a scheme with [`timestamped_preset!`].
#[derive(Clone)]
pub(crate) struct TimestampedHmac {
    format: &'static Format,
    secrets: Secrets,
    tolerance: Tolerance,
}

impl TimestampedHmac {
    /// The scheme of `format` with `secrets`, at the format's tolerance.
    pub(crate) fn new(format: &'static Format, secrets: Secrets) -> Self {
        Self {
            format,
            secrets,
            tolerance: format.tolerance,
        }
    }

    /// The same scheme with another tolerance.
    #[must_use]
    pub(crate) fn tolerance(self, tolerance: Tolerance) -> Self {
        Self { tolerance, ..self }
    }

    /// The header's value for `body` at `timestamp`, signed with the first
    /// secret, e.g. `t=<timestamp>,v1=<hex>`.
    pub(crate) fn signature(&self, timestamp: i64, body: &[u8]) -> String {
        let Format {
            timestamp: ts_key,
            separator,
            mac: mac_key,
            joiner,
            ..
        } = self.format;
        let ts = timestamp.to_string();
        let signed = [ts.as_bytes(), joiner.as_bytes(), body];
        let mac = self.secrets.primary().hmac_sha256(signed);
        let separator = char::from(*separator);
        format!("{ts_key}={ts}{separator}{mac_key}={}", hex::encode(mac))
    }
}

impl fmt::Debug for TimestampedHmac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(self.format.type_name)
            .field("secrets", &self.secrets)
            .field("tolerance", &self.tolerance)
            .finish()
    }
}

impl Scheme for TimestampedHmac {
    fn name(&self) -> &'static str {
        self.format.name
    }

    fn secrets(&self) -> &Secrets {
        &self.secrets
    }

    fn id_in_body(&self) -> Option<&'static str> {
        Some(self.format.id.as_str())
    }

    fn verify(
        &self,
        request: &Request<'_>,
        secrets: &Secrets,
        now: i64,
    ) -> Result<Delivery, VerifyError> {
        let format = self.format;
        let (separator, mac) = (format.separator, format.mac.as_bytes());
        let header = request.require(format.header)?;
        let malformed = || VerifyError::malformed(format.header);

        let raw_timestamp =
            only_value(header, separator, format.timestamp.as_bytes()).ok_or_else(malformed)?;
        let timestamp = parse_timestamp(raw_timestamp).ok_or_else(malformed)?;
        if format.without_mac == WithoutMac::Malformed
            && !key_values(header, separator).any(|(key, value)| key == mac && !value.is_empty())
        {
            return Err(malformed());
        }
        self.tolerance.check(timestamp, now)?;

        // Any MAC entry may match; entries of other keys are ignored.
        let signed = [raw_timestamp, format.joiner.as_bytes(), request.body()];
        let secret = any_hex_mac_matches(header, separator, mac, secrets, signed)
            .ok_or(VerifyError::InvalidSignature)?;
        let id = json_string(request.body(), &self.format.id);
        Ok(Delivery::new(id, Some(timestamp))
            .fingerprint_if_no_id(signed)
            .verified_by(secret))
    }

    fn event_name(&self, request: &Request<'_>) -> Result<Option<String>, EventNameError> {
        self.format.event_name.find(request)
    }
}

impl Signer for TimestampedHmac {
    /// The signature header only: the id and event name travel in the body.
    fn sign(&self, message: &Message<'_>) -> Vec<(String, String)> {
        vec![(
            self.format.header.into(),
            self.signature(message.timestamp, message.body),
        )]
    }
}

/// Gives `$preset`, a newtype around a [`TimestampedHmac`], its
/// constructors, each with the docs written before its name, and makes it a
/// [`Scheme`], a [`Signer`] and `Debug` as the scheme it wraps. The format
/// is the preset's `FORMAT`.
macro_rules! timestamped_preset {
    (
        $preset:ident {
            $(#[$new:meta])* new;
            $(#[$with_secrets:meta])* with_secrets;
            $(#[$tolerance:meta])* tolerance;
            $(#[$signature:meta])* signature;
        }
    ) => {
        impl $preset {
            $(#[$new])*
            ///
            /// # Errors
            ///
            /// [`SecretError::Empty`](crate::SecretError::Empty) for an empty
            /// secret.
            pub fn new(secret: &str) -> Result<Self, $crate::secret::SecretError> {
                Ok(Self::with_secrets($crate::secret::Secret::new(secret)?))
            }

            $(#[$with_secrets])*
            pub fn with_secrets(secrets: impl Into<$crate::secret::Secrets>) -> Self {
                Self($crate::scheme::TimestampedHmac::new(&FORMAT, secrets.into()))
            }

            $(#[$tolerance])*
            #[must_use]
            pub fn tolerance(self, tolerance: $crate::verify::Tolerance) -> Self {
                Self(self.0.tolerance(tolerance))
            }

            $(#[$signature])*
            #[must_use]
            pub fn signature(&self, timestamp: i64, body: &[u8]) -> String {
                self.0.signature(timestamp, body)
            }
        }

        $crate::scheme::forward_scheme!([] $preset, |this| this.0);

        impl $crate::scheme::Signer for $preset {
            /// The signature header only: the id and event name travel in
            /// the body.
            fn sign(&self, message: &$crate::scheme::Message<'_>) -> Vec<(String, String)> {
                self.0.sign(message)
            }
        }

        impl ::std::fmt::Debug for $preset {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}
pub(crate) use timestamped_preset;
