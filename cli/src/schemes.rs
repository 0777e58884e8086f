//! The providers by their command-line names, built from a secret with the
//! library's presets, so what `webhook` signs is what the library verifies.

use std::fmt;

#[cfg(feature = "ed25519")]
use actix_webhook::scheme::Discord;
use actix_webhook::scheme::{
    Clerk, Dropbox, GitHub, GitLab, HubSpot, Linear, Meta, Paddle, Razorpay, Resend, Shopify,
    Slack, Square, StandardWebhooks, Stripe, Twilio, Twitch, Xero, Zoom,
};
use actix_webhook::testing::SigningScheme;
use actix_webhook::verify::Tolerance;
use actix_webhook::SecretError;
use clap::ValueEnum;

/// A provider, named as its route in the providers example.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum SchemeName {
    /// Standard Webhooks: `whsec_` secret (`v1`), or `whsk_` / `whpk_`
    /// ed25519 keys (`v1a`).
    Standard,
    /// Svix: Standard Webhooks with `svix-*` headers.
    Svix,
    /// GitHub: `X-Hub-Signature-256`.
    Github,
    /// Stripe: `Stripe-Signature`; the whole `whsec_...` string is the key.
    Stripe,
    /// Slack: `X-Slack-Signature` and `X-Slack-Request-Timestamp`.
    Slack,
    /// Shopify: `X-Shopify-Hmac-Sha256`.
    Shopify,
    /// GitLab: the `X-Gitlab-Token` secret token, or Standard Webhooks headers
    /// for a `whsec_` signing token.
    Gitlab,
    /// Paddle: `Paddle-Signature`.
    Paddle,
    /// Meta (WhatsApp, Messenger, Instagram): `X-Hub-Signature-256`.
    Meta,
    /// Twilio: `X-Twilio-Signature` over the URL and form parameters (needs
    /// --url).
    Twilio,
    /// Discord interactions: ed25519 `X-Signature-Ed25519`; hex keys.
    Discord,
    /// Zoom: `x-zm-signature` and `x-zm-request-timestamp`.
    Zoom,
    /// Twitch EventSub: `Twitch-Eventsub-Message-Signature` over the
    /// message id, timestamp and body (--event is the subscription type).
    Twitch,
    /// HubSpot (v3): `X-HubSpot-Signature-v3` over the method, URL, body and
    /// timestamp (needs --url); the body is a batch of events.
    Hubspot,
    /// Xero: `x-xero-signature`; the body is a batch (`events`).
    Xero,
    /// Dropbox: `X-Dropbox-Signature`.
    Dropbox,
    /// Square: `x-square-hmacsha256-signature` over the notification URL and
    /// body (needs --url).
    Square,
    /// Linear: `Linear-Signature`; `webhookTimestamp` in the body.
    Linear,
    /// Razorpay: `X-Razorpay-Signature`.
    Razorpay,
    /// Clerk: Standard Webhooks with `svix-*` headers.
    Clerk,
    /// Resend: Standard Webhooks with `svix-*` headers.
    Resend,
}

impl fmt::Display for SchemeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value = self.to_possible_value().map(|v| v.get_name().to_owned());
        f.write_str(value.as_deref().unwrap_or("?"))
    }
}

impl SchemeName {
    /// Whether the signature covers the URL (so `--url` is needed).
    pub(crate) fn signs_url(self) -> bool {
        matches!(self, Self::Twilio | Self::Hubspot | Self::Square)
    }

    /// The headers as this provider names them: Svix sends the Standard
    /// Webhooks headers as `svix-id`, `svix-timestamp`, `svix-signature`.
    pub(crate) fn rename(self, headers: Vec<(String, String)>) -> Vec<(String, String)> {
        if self != Self::Svix {
            return headers;
        }
        headers
            .into_iter()
            .map(|(name, value)| match name.strip_prefix("webhook-") {
                Some(rest) => (format!("svix-{rest}"), value),
                None => (name, value),
            })
            .collect()
    }
}

/// What the scheme is built for.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Purpose<'a> {
    /// Signing: ed25519 schemes need the private key.
    Sign,
    /// Verifying, with the tolerance (`None`: the provider's default) and
    /// the base URL a Twilio request was sent to.
    Verify {
        tolerance: Option<Tolerance>,
        public_url: &'a str,
    },
}

/// The preset `name` with `secret`, for `purpose`.
///
/// # Errors
///
/// A message saying what is wrong with the secret (never the secret itself).
pub(crate) fn build(
    name: SchemeName,
    secret: &str,
    purpose: Purpose<'_>,
) -> Result<Box<dyn SigningScheme>, String> {
    let tolerance = match purpose {
        Purpose::Verify { tolerance, .. } => tolerance,
        Purpose::Sign => None,
    };
    let signing = matches!(purpose, Purpose::Sign);
    let bad = |error: SecretError| format!("--secret for {name}: {error}");
    let scheme: Box<dyn SigningScheme> = match name {
        SchemeName::Standard | SchemeName::Svix => {
            let scheme = standard(name, secret, signing)?;
            Box::new(with(scheme, tolerance, StandardWebhooks::tolerance))
        }
        SchemeName::Github => Box::new(GitHub::new(secret).map_err(bad)?),
        SchemeName::Stripe => {
            let scheme = Stripe::new(secret).map_err(bad)?;
            Box::new(with(scheme, tolerance, Stripe::tolerance))
        }
        SchemeName::Slack => {
            let scheme = Slack::new(secret).map_err(bad)?;
            Box::new(with(scheme, tolerance, Slack::tolerance))
        }
        SchemeName::Shopify => Box::new(Shopify::new(secret).map_err(bad)?),
        SchemeName::Gitlab => {
            let scheme = if secret.starts_with("whsec_") {
                GitLab::with_signing_token(secret)
            } else {
                GitLab::new(secret)
            }
            .map_err(bad)?;
            Box::new(with(scheme, tolerance, GitLab::tolerance))
        }
        SchemeName::Paddle => {
            let scheme = Paddle::new(secret).map_err(bad)?;
            Box::new(with(scheme, tolerance, Paddle::tolerance))
        }
        SchemeName::Meta => Box::new(Meta::new(secret).map_err(bad)?),
        SchemeName::Twilio => {
            let scheme = Twilio::new(secret).map_err(bad)?;
            match purpose {
                Purpose::Verify { public_url, .. } => Box::new(scheme.public_url(public_url)),
                Purpose::Sign => Box::new(scheme),
            }
        }
        SchemeName::Discord => discord(secret, signing, tolerance)?,
        SchemeName::Zoom => {
            let scheme = Zoom::new(secret).map_err(bad)?;
            Box::new(with(scheme, tolerance, Zoom::tolerance))
        }
        SchemeName::Twitch => {
            let scheme = Twitch::new(secret).map_err(bad)?;
            Box::new(with(scheme, tolerance, Twitch::tolerance))
        }
        SchemeName::Hubspot => {
            let scheme = with(
                HubSpot::new(secret).map_err(bad)?,
                tolerance,
                HubSpot::tolerance,
            );
            match purpose {
                Purpose::Verify { public_url, .. } => Box::new(scheme.public_url(public_url)),
                Purpose::Sign => Box::new(scheme),
            }
        }
        SchemeName::Xero => Box::new(Xero::new(secret).map_err(bad)?),
        SchemeName::Dropbox => Box::new(Dropbox::new(secret).map_err(bad)?),
        SchemeName::Square => {
            let scheme = Square::new(secret).map_err(bad)?;
            match purpose {
                Purpose::Verify { public_url, .. } => Box::new(scheme.public_url(public_url)),
                Purpose::Sign => Box::new(scheme),
            }
        }
        SchemeName::Linear => {
            let scheme = Linear::new(secret).map_err(bad)?;
            Box::new(with(scheme, tolerance, Linear::tolerance))
        }
        SchemeName::Razorpay => Box::new(Razorpay::new(secret).map_err(bad)?),
        SchemeName::Clerk => {
            let scheme = Clerk::new(secret).map_err(bad)?;
            Box::new(with(scheme, tolerance, Clerk::tolerance))
        }
        SchemeName::Resend => {
            let scheme = Resend::new(secret).map_err(bad)?;
            Box::new(with(scheme, tolerance, Resend::tolerance))
        }
    };
    Ok(scheme)
}

/// `scheme` with `tolerance` when one is given.
fn with<S>(scheme: S, tolerance: Option<Tolerance>, set: fn(S, Tolerance) -> S) -> S {
    match tolerance {
        Some(tolerance) => set(scheme, tolerance),
        None => scheme,
    }
}

/// Standard Webhooks (or Svix) from a `whsec_` secret, or an ed25519 key.
fn standard(name: SchemeName, secret: &str, signing: bool) -> Result<StandardWebhooks, String> {
    let bad = |error: SecretError| format!("--secret for {name}: {error}");
    #[cfg(feature = "ed25519")]
    {
        if secret.starts_with("whsk_") {
            return StandardWebhooks::with_signing_key(secret).map_err(bad);
        }
        if secret.starts_with("whpk_") {
            if signing {
                return Err(format!(
                    "--secret for {name}: a whpk_ public key cannot sign; pass the whsk_ secret key"
                ));
            }
            return StandardWebhooks::with_public_keys([secret]).map_err(bad);
        }
    }
    #[cfg(not(feature = "ed25519"))]
    if secret.starts_with("whsk_") || secret.starts_with("whpk_") {
        let _ = signing;
        return Err(format!(
            "--secret for {name}: ed25519 keys need the `ed25519` feature of actix-webhook-cli"
        ));
    }
    StandardWebhooks::new(secret).map_err(bad)
}

/// Discord from the application's hex private key (signing), or its public
/// key or private key pair (verifying).
#[cfg(feature = "ed25519")]
fn discord(
    secret: &str,
    signing: bool,
    tolerance: Option<Tolerance>,
) -> Result<Box<dyn SigningScheme>, String> {
    let bad = |error: SecretError| {
        let key = if signing {
            "the private key: 64 hex digits (or 128 for seed and public key)"
        } else {
            "the public key: 64 hex digits"
        };
        format!("--secret for discord must be {key} ({error})")
    };
    // 128 hex digits: the seed and the public key, which signs and verifies.
    let scheme = if signing || secret.trim().len() == 128 {
        Discord::with_signing_key(secret.trim())
    } else {
        Discord::new(secret)
    }
    .map_err(bad)?;
    Ok(Box::new(with(scheme, tolerance, Discord::tolerance)))
}

#[cfg(not(feature = "ed25519"))]
fn discord(
    _secret: &str,
    _signing: bool,
    _tolerance: Option<Tolerance>,
) -> Result<Box<dyn SigningScheme>, String> {
    Err("discord needs the `ed25519` feature of actix-webhook-cli".to_owned())
}
