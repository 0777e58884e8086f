//! Every provider preset on one server: a router per provider at
//! `/webhooks/<name>`, each with a `*` handler that acknowledges any genuine
//! delivery with 200, so anything forged or stale gets 401.
//!
//! ```text
//! cargo run --example providers
//! webhook send --scheme github --secret "It's a Secret to Everybody" \
//!     --event issues.opened --url http://127.0.0.1:8080/webhooks/github body.json
//! ```
//!
//! `PORT` sets the port (default 8080); the server listens on 127.0.0.1. Each
//! route's secret comes from its environment variable (see [`PROVIDERS`]), with
//! a demo default that is printed at start; a secret taken from the
//! environment is never printed. The `discord` route needs the `ed25519`
//! feature, which the crate's examples always have. Twilio, HubSpot and
//! Square sign the URL they call: each has a `*_PUBLIC_URL` variable (default
//! this server's own address). Logs go to stderr
//! (`RUST_LOG`, default `info`).

use std::collections::HashMap;
use std::net::TcpListener;

use actix_web::dev::Server;
use actix_web::web::{self, Bytes};
use actix_web::{App, HttpServer};
#[cfg(feature = "ed25519")]
use actix_webhook::scheme::Discord;
use actix_webhook::scheme::{
    Clerk, Dropbox, GitHub, GitLab, HubSpot, Linear, Meta, Paddle, Razorpay, Resend, Shopify,
    Slack, Square, StandardWebhooks, Stripe, Twilio, Twitch, Xero, Zoom,
};
use actix_webhook::{webhook, Ack, Event, SecretError, WebhookRouter};

/// One route: its name (also the `webhook` command line's `--scheme`), the
/// environment variable with its secret, the demo default, and how its
/// router is built from the secret.
#[derive(Debug, Clone, Copy)]
pub struct Provider {
    /// The route is `/webhooks/<name>`.
    pub name: &'static str,
    /// The environment variable holding the secret.
    pub env: &'static str,
    /// The secret used when the variable is not set.
    pub demo: &'static str,
    /// The router for a secret and the other settings.
    pub router: fn(&str, &Settings) -> Result<WebhookRouter, SecretError>,
}

/// The routes, in the order they are mounted.
pub const PROVIDERS: &[Provider] = &[
    Provider {
        name: "standard",
        env: "STANDARD_WEBHOOK_SECRET",
        demo: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        router: standard,
    },
    Provider {
        name: "svix",
        env: "SVIX_WEBHOOK_SECRET",
        demo: "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
        router: standard,
    },
    Provider {
        name: "github",
        env: "GITHUB_WEBHOOK_SECRET",
        demo: "It's a Secret to Everybody",
        router: |secret, _| Ok(WebhookRouter::new(GitHub::new(secret)?)),
    },
    Provider {
        name: "stripe",
        env: "STRIPE_WEBHOOK_SECRET",
        demo: "whsec_demo_stripe_signing_secret",
        router: |secret, _| Ok(WebhookRouter::new(Stripe::new(secret)?)),
    },
    Provider {
        name: "slack",
        env: "SLACK_SIGNING_SECRET",
        demo: "8f742231b10e8888abcd99yyyzzz85a5",
        router: |secret, _| Ok(WebhookRouter::new(Slack::new(secret)?)),
    },
    Provider {
        name: "shopify",
        env: "SHOPIFY_WEBHOOK_SECRET",
        demo: "demo-shopify-client-secret",
        router: |secret, _| Ok(WebhookRouter::new(Shopify::new(secret)?)),
    },
    Provider {
        name: "gitlab",
        env: "GITLAB_WEBHOOK_TOKEN",
        // A `whsec_` signing token signs the body; a plain secret token
        // only proves the sender knows it.
        demo: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        router: |secret, _| {
            let scheme = if secret.starts_with("whsec_") {
                GitLab::with_signing_token(secret)?
            } else {
                GitLab::new(secret)?
            };
            Ok(WebhookRouter::new(scheme))
        },
    },
    Provider {
        name: "paddle",
        env: "PADDLE_WEBHOOK_SECRET",
        demo: "pdl_ntfset_demo_paddle_secret_key",
        router: |secret, _| Ok(WebhookRouter::new(Paddle::new(secret)?)),
    },
    Provider {
        name: "meta",
        env: "META_APP_SECRET",
        demo: "demo-meta-app-secret",
        router: |secret, settings| {
            let meta = Meta::new(secret)?.verify_token(settings.get(META_VERIFY_TOKEN));
            Ok(WebhookRouter::new(meta))
        },
    },
    Provider {
        name: "twilio",
        env: "TWILIO_AUTH_TOKEN",
        demo: "demo-twilio-auth-token",
        router: |secret, settings| {
            let twilio = Twilio::new(secret)?.public_url(settings.get(TWILIO_PUBLIC_URL));
            Ok(WebhookRouter::new(twilio))
        },
    },
    #[cfg(feature = "ed25519")]
    Provider {
        name: "discord",
        env: "DISCORD_PUBLIC_KEY",
        demo: DISCORD_DEMO_PUBLIC_KEY,
        router: |secret, _| Ok(WebhookRouter::new(Discord::new(secret)?)),
    },
    Provider {
        name: "zoom",
        env: "ZOOM_WEBHOOK_SECRET_TOKEN",
        demo: "demo-zoom-secret-token",
        router: |secret, _| Ok(WebhookRouter::new(Zoom::new(secret)?)),
    },
    Provider {
        name: "twitch",
        env: "TWITCH_EVENTSUB_SECRET",
        demo: "demo-twitch-eventsub-secret",
        router: |secret, _| Ok(WebhookRouter::new(Twitch::new(secret)?)),
    },
    Provider {
        name: "hubspot",
        env: "HUBSPOT_CLIENT_SECRET",
        demo: "demo-hubspot-client-secret",
        router: |secret, settings| {
            let hubspot = HubSpot::new(secret)?.public_url(settings.get(HUBSPOT_PUBLIC_URL));
            Ok(WebhookRouter::new(hubspot))
        },
    },
    Provider {
        name: "xero",
        env: "XERO_WEBHOOK_KEY",
        demo: "demo-xero-webhook-key",
        router: |secret, _| Ok(WebhookRouter::new(Xero::new(secret)?)),
    },
    Provider {
        name: "dropbox",
        env: "DROPBOX_APP_SECRET",
        demo: "demo-dropbox-app-secret",
        router: |secret, _| Ok(WebhookRouter::new(Dropbox::new(secret)?)),
    },
    Provider {
        name: "square",
        env: "SQUARE_SIGNATURE_KEY",
        demo: "demo-square-signature-key",
        router: |secret, settings| {
            let square = Square::new(secret)?.public_url(settings.get(SQUARE_PUBLIC_URL));
            Ok(WebhookRouter::new(square))
        },
    },
    Provider {
        name: "linear",
        env: "LINEAR_WEBHOOK_SECRET",
        demo: "demo-linear-webhook-secret",
        router: |secret, _| Ok(WebhookRouter::new(Linear::new(secret)?)),
    },
    Provider {
        name: "razorpay",
        env: "RAZORPAY_WEBHOOK_SECRET",
        demo: "demo-razorpay-webhook-secret",
        router: |secret, _| Ok(WebhookRouter::new(Razorpay::new(secret)?)),
    },
    Provider {
        name: "clerk",
        env: "CLERK_WEBHOOK_SIGNING_SECRET",
        demo: "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
        router: |secret, _| Ok(WebhookRouter::new(Clerk::new(secret)?)),
    },
    Provider {
        name: "resend",
        env: "RESEND_WEBHOOK_SECRET",
        demo: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        router: |secret, _| Ok(WebhookRouter::new(Resend::new(secret)?)),
    },
];

/// The variable with Meta's `hub.verify_token` for the subscription handshake.
pub const META_VERIFY_TOKEN: &str = "META_VERIFY_TOKEN";
/// Meta's demo verify token.
pub const META_VERIFY_TOKEN_DEMO: &str = "demo-meta-verify-token";
/// The variable with the base URL Twilio signs (the public address in front
/// of this server); the demo default is this server's own address.
pub const TWILIO_PUBLIC_URL: &str = "TWILIO_PUBLIC_URL";
/// The same for HubSpot, which signs the URL too.
pub const HUBSPOT_PUBLIC_URL: &str = "HUBSPOT_PUBLIC_URL";
/// The same for Square, which signs its notification URL.
pub const SQUARE_PUBLIC_URL: &str = "SQUARE_PUBLIC_URL";
/// The demo Discord application key pair: the private key (hex seed) signs,
/// the public key verifies. RFC 8032, section 7.1, TEST 1.
pub const DISCORD_DEMO_PRIVATE_KEY: &str =
    "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
/// The public half of [`DISCORD_DEMO_PRIVATE_KEY`].
pub const DISCORD_DEMO_PUBLIC_KEY: &str =
    "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";

/// Every setting of the server, by environment variable name.
#[derive(Clone)]
pub struct Settings {
    values: HashMap<&'static str, String>,
    /// The variables whose value came from the environment (never printed).
    from_env: Vec<&'static str>,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("variables", &self.values.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Settings {
    /// Every demo default, for a server on 127.0.0.1 at `port`.
    pub fn demo(port: u16) -> Self {
        let mut values: HashMap<&'static str, String> = PROVIDERS
            .iter()
            .map(|p| (p.env, p.demo.to_owned()))
            .collect();
        values.insert(META_VERIFY_TOKEN, META_VERIFY_TOKEN_DEMO.to_owned());
        for url in [TWILIO_PUBLIC_URL, HUBSPOT_PUBLIC_URL, SQUARE_PUBLIC_URL] {
            values.insert(url, format!("http://127.0.0.1:{port}"));
        }
        Self {
            values,
            from_env: Vec::new(),
        }
    }

    /// The demo defaults, overridden by the environment variables that are set.
    pub fn from_env(port: u16) -> Self {
        let mut settings = Self::demo(port);
        let names: Vec<&'static str> = settings.values.keys().copied().collect();
        for name in names {
            if let Ok(value) = std::env::var(name) {
                settings.values.insert(name, value);
                settings.from_env.push(name);
            }
        }
        settings
    }

    /// Sets the variable `name` (one of [`PROVIDERS`]' `env`,
    /// [`META_VERIFY_TOKEN`] or a `*_PUBLIC_URL`).
    #[must_use]
    pub fn set(mut self, name: &'static str, value: &str) -> Self {
        self.values.insert(name, value.to_owned());
        self
    }

    fn get(&self, name: &str) -> &str {
        self.values.get(name).map_or("", String::as_str)
    }

    /// Where a variable's value comes from, for the start-up message: the
    /// demo value itself, or only the variable's name when it was set.
    fn describe(&self, name: &'static str) -> String {
        if self.from_env.contains(&name) {
            format!("from ${name}")
        } else {
            format!("{} (demo; set ${name})", self.get(name))
        }
    }
}

/// Acknowledges every verified delivery, whatever its event and payload.
#[webhook(event = "*")]
async fn acknowledge(event: Event<Bytes>) -> Ack {
    tracing::info!(
        scheme = event.scheme(),
        event = event.name(),
        id = event.delivery_id().unwrap_or("-"),
        bytes = event.raw_body().len(),
        "delivery accepted"
    );
    Ack::processed()
}

/// One router per provider, ready to mount; cloning is cheap.
#[derive(Debug, Clone)]
pub struct Routes {
    routers: Vec<(&'static str, WebhookRouter)>,
}

impl Routes {
    /// A router per entry of [`PROVIDERS`], configured from `settings`.
    ///
    /// # Errors
    ///
    /// A message naming the variable whose value is not a usable secret.
    pub fn new(settings: &Settings) -> Result<Self, String> {
        let mut routers = Vec::new();
        for provider in PROVIDERS {
            let secret = settings.get(provider.env);
            let router = (provider.router)(secret, settings)
                .map_err(|error| format!("${}: {error}", provider.env))?;
            routers.push((provider.name, router.handler(acknowledge)));
        }
        Ok(Self { routers })
    }

    /// Mounts each router at `/webhooks/<name>`, for `App::configure`.
    pub fn configure(&self, config: &mut web::ServiceConfig) {
        for (name, router) in &self.routers {
            config.service(router.scope(&format!("/webhooks/{name}")));
        }
    }
}

/// A Standard Webhooks (or Svix) router: `whsec_` secrets check `v1`
/// (HMAC) signatures; with the `ed25519` feature a `whpk_` public key checks
/// `v1a` (ed25519) signatures instead.
fn standard(secret: &str, _: &Settings) -> Result<WebhookRouter, SecretError> {
    #[cfg(feature = "ed25519")]
    if secret.starts_with("whpk_") {
        return Ok(WebhookRouter::new(StandardWebhooks::with_public_keys([
            secret,
        ])?));
    }
    Ok(WebhookRouter::new(StandardWebhooks::new(secret)?))
}

/// The server for `routes` on `listener`, not yet awaited.
///
/// # Errors
///
/// When the listener cannot be used.
pub fn serve(routes: Routes, listener: TcpListener) -> std::io::Result<Server> {
    Ok(HttpServer::new(move || {
        let routes = routes.clone();
        App::new().configure(move |config| routes.configure(config))
    })
    .workers(2)
    .listen(listener)?
    .run())
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();

    let port: u16 = match std::env::var("PORT") {
        Ok(port) => port.parse().map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("PORT must be a port number, not {port:?}"),
            )
        })?,
        Err(_) => 8080,
    };
    let listener = TcpListener::bind(("127.0.0.1", port))?;
    let port = listener.local_addr()?.port();
    let settings = Settings::from_env(port);
    let routes = Routes::new(&settings)
        .map_err(|error| std::io::Error::new(std::io::ErrorKind::InvalidInput, error))?;

    println!("actix-webhook providers: a route per provider on http://127.0.0.1:{port}\n");
    for provider in PROVIDERS {
        println!(
            "  /webhooks/{:<9} {}",
            provider.name,
            settings.describe(provider.env)
        );
    }
    println!(
        "\n  meta verify token: {}",
        settings.describe(META_VERIFY_TOKEN)
    );
    for (name, url) in [
        ("twilio", TWILIO_PUBLIC_URL),
        ("hubspot", HUBSPOT_PUBLIC_URL),
        ("square", SQUARE_PUBLIC_URL),
    ] {
        println!("  {name} signs URLs under: {}", settings.describe(url));
    }
    #[cfg(feature = "ed25519")]
    if !settings.from_env.contains(&"DISCORD_PUBLIC_KEY") {
        println!(
            "  discord demo private key (to sign with `webhook send`): {DISCORD_DEMO_PRIVATE_KEY}"
        );
    }
    #[cfg(not(feature = "ed25519"))]
    println!("  (no /webhooks/discord: run with `--features ed25519`)");
    println!(
        "\ntry: echo '{{\"zen\":\"hi\"}}' | cargo run -q -p actix-webhook-cli -- send \\\n  \
         --scheme github --secret \"It's a Secret to Everybody\" --event ping \\\n  \
         --url http://127.0.0.1:{port}/webhooks/github -"
    );
    println!("serving; Ctrl-C to stop");

    serve(routes, listener)?.await
}
