//! The GitHub and Stripe routers of this crate on one server:
//! `/webhooks/github` and `/webhooks/stripe` on 127.0.0.1 (`PORT`, default
//! 8080). The secrets come from `GITHUB_WEBHOOK_SECRET` and
//! `STRIPE_WEBHOOK_SECRET`, or are the demo ones of the `providers` example
//! (printed only then). Each handled delivery is logged with what its
//! handler read (`RUST_LOG`, default `info`).

use std::io;

use actix_web::{web, App, HttpServer};
use typed_payloads::{github, stripe, Ledger};

/// The secret in `var`, or `demo` (then printed, as it is no secret).
fn secret(var: &str, demo: &'static str) -> String {
    std::env::var(var).unwrap_or_else(|_| {
        println!("{var} not set: using the demo secret {demo:?}");
        demo.to_owned()
    })
}

#[actix_web::main]
async fn main() -> io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(io::stderr)
        .init();

    let port: u16 = match std::env::var("PORT") {
        Ok(port) => port.parse().map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("PORT must be a port number, not {port:?}"),
            )
        })?,
        Err(_) => 8080,
    };
    let invalid = |error| io::Error::new(io::ErrorKind::InvalidInput, error);
    let github = github(&secret(
        "GITHUB_WEBHOOK_SECRET",
        "It's a Secret to Everybody",
    ))
    .map_err(invalid)?;
    let stripe = stripe(&secret(
        "STRIPE_WEBHOOK_SECRET",
        "whsec_demo_stripe_signing_secret",
    ))
    .map_err(invalid)?;
    let ledger = web::Data::new(Ledger::default());

    println!("typed payloads on http://127.0.0.1:{port}/webhooks/{{github,stripe}}");
    HttpServer::new(move || {
        App::new()
            .app_data(ledger.clone())
            .service(github.scope("/webhooks/github"))
            .service(stripe.scope("/webhooks/stripe"))
    })
    .workers(2)
    .bind(("127.0.0.1", port))?
    .run()
    .await
}
