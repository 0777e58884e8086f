//! Shared pieces of the fuzz targets: every preset, configured as a receiver
//! that can also sign (so a target can build a genuine delivery and tamper
//! with it), and helpers to turn fuzz input into requests.

use actix_webhook::scheme::{
    Discord, Encoding, EventName, GenericHmac, GitHub, GitLab, JsonPointer, Meta, Paddle, Shopify,
    SignedContent, Slack, StandardWebhooks, Stripe, Twilio,
};
use actix_webhook::testing::SigningScheme;
use actix_webhook::verify::Tolerance;
use actix_webhook::Secret;

/// One preset under test.
pub struct Preset {
    /// A short name, for messages.
    pub name: &'static str,
    pub scheme: Box<dyn SigningScheme>,
    /// Whether the signature covers every byte of the body. False for
    /// GitLab's clear-text token, and for Twilio form posts, which are
    /// signed over their decoded, sorted parameters.
    pub signs_body_bytes: bool,
    /// The header that carries the signature (or GitLab's token).
    pub signature_header: &'static str,
}

/// The URL Twilio deliveries are sent to in the targets.
pub const TWILIO_URL: &str = "https://example.com";

/// Every preset, with fixed secrets.
pub fn presets() -> Vec<Preset> {
    let preset = |name, scheme: Box<dyn SigningScheme>, signs_body_bytes| Preset {
        name,
        scheme,
        signs_body_bytes,
        signature_header: signature_header(name),
    };
    vec![
        preset(
            "standard-webhooks",
            Box::new(StandardWebhooks::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap()),
            true,
        ),
        preset(
            "standard-webhooks-v1a",
            Box::new(
                StandardWebhooks::with_signing_key(
                    "whsk_nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=",
                )
                .unwrap(),
            ),
            true,
        ),
        preset(
            "github",
            Box::new(GitHub::new("It's a Secret to Everybody").unwrap()),
            true,
        ),
        preset("stripe", Box::new(Stripe::new("whsec_test").unwrap()), true),
        preset(
            "slack",
            Box::new(Slack::new("slack-signing-secret").unwrap()),
            true,
        ),
        preset(
            "shopify",
            Box::new(Shopify::new("shopify-secret").unwrap()),
            true,
        ),
        preset(
            "gitlab",
            Box::new(GitLab::new("gitlab-token").unwrap()),
            false,
        ),
        preset(
            "gitlab-signing",
            Box::new(GitLab::with_signing_token("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap()),
            true,
        ),
        preset(
            "paddle",
            Box::new(Paddle::new("pdl_ntfset_secret").unwrap()),
            true,
        ),
        preset(
            "meta",
            Box::new(Meta::new("meta-app-secret").unwrap().verify_token("vt")),
            true,
        ),
        preset(
            "twilio",
            Box::new(
                // No bound on form parameters: fuzzed bodies may hold more
                // than the default 1,000, which is refused by design.
                Twilio::new("twilio-auth-token")
                    .unwrap()
                    .public_url(TWILIO_URL)
                    .max_params(usize::MAX),
            ),
            false,
        ),
        preset(
            "discord",
            Box::new(
                Discord::with_signing_key(
                    "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
                )
                .unwrap(),
            ),
            true,
        ),
        preset(
            "generic-hex",
            Box::new(
                GenericHmac::new("X-Signature", Secret::new("generic-secret").unwrap())
                    .prefix("sha256=")
                    .timestamp_header("X-Timestamp", Tolerance::default())
                    .id_header("X-Id")
                    .event_name(EventName::HeaderAndJson(
                        "X-Event",
                        JsonPointer::new("/action").unwrap(),
                    ))
                    .signed_content(SignedContent::new("{id}:{timestamp}:{body}").unwrap()),
            ),
            true,
        ),
        preset(
            "generic-base64",
            Box::new(
                GenericHmac::new("X-Signature", Secret::new("generic-secret").unwrap())
                    .encoding(Encoding::Base64),
            ),
            true,
        ),
    ]
}

fn signature_header(preset: &str) -> &'static str {
    match preset {
        "standard-webhooks" | "standard-webhooks-v1a" | "gitlab-signing" => "webhook-signature",
        "github" | "meta" => "X-Hub-Signature-256",
        "stripe" => "Stripe-Signature",
        "slack" => "X-Slack-Signature",
        "shopify" => "X-Shopify-Hmac-Sha256",
        "gitlab" => "X-Gitlab-Token",
        "paddle" => "Paddle-Signature",
        "twilio" => "X-Twilio-Signature",
        "discord" => "X-Signature-Ed25519",
        _ => "X-Signature",
    }
}

/// A genuine delivery of `preset`: its headers, the request target and the
/// body, signed at `timestamp`.
pub fn genuine(
    preset: &Preset,
    id: &str,
    timestamp: i64,
    event: &str,
    body: &[u8],
) -> (Vec<(String, Vec<u8>)>, String) {
    let target = "/hook?a=1&b=2";
    let url = format!("{TWILIO_URL}{target}");
    let headers = preset.scheme.sign(&actix_webhook::scheme::Message {
        id,
        timestamp,
        event,
        url: &url,
        body,
    });
    let headers = headers
        .into_iter()
        .map(|(name, value)| (name, value.into_bytes()))
        .collect();
    (headers, target.to_owned())
}

/// The longest run of base64/hex characters in `value`: the signature
/// itself, without prefixes, versions, timestamps or padding.
pub fn signature_core(value: &[u8]) -> Vec<u8> {
    value
        .split(|b| !(b.is_ascii_alphanumeric() || *b == b'+' || *b == b'/'))
        .max_by_key(|run| run.len())
        .unwrap_or_default()
        .to_ascii_lowercase()
}

/// Header names the presets read, so arbitrary input often hits them.
pub const HEADER_NAMES: &[&str] = &[
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "svix-id",
    "svix-timestamp",
    "svix-signature",
    "X-Hub-Signature-256",
    "X-GitHub-Delivery",
    "X-GitHub-Event",
    "Stripe-Signature",
    "X-Slack-Signature",
    "X-Slack-Request-Timestamp",
    "X-Shopify-Hmac-Sha256",
    "X-Shopify-Topic",
    "X-Shopify-Event-Id",
    "X-Gitlab-Token",
    "X-Gitlab-Event",
    "Idempotency-Key",
    "Paddle-Signature",
    "X-Twilio-Signature",
    "I-Twilio-Idempotency-Token",
    "Host",
    "Content-Type",
    "X-Signature-Ed25519",
    "X-Signature-Timestamp",
    "X-Signature",
    "X-Timestamp",
    "X-Id",
    "X-Event",
];
