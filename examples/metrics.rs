//! A receiver an operator can watch: Prometheus metrics at `/metrics`, and a
//! secret rotation in progress, each secret under a label.
//!
//! ```text
//! cargo run --example metrics
//! webhook send --scheme standard --secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw \
//!     --url http://127.0.0.1:8080/webhooks body.json
//! curl -s http://127.0.0.1:8080/metrics | grep '^webhook_'
//! webhook rotation --metrics http://127.0.0.1:8080/metrics --label 2026-11 --wait 60s
//! ```
//!
//! Deliveries to `/webhooks` are Standard Webhooks, signed with the new
//! secret (`WEBHOOK_SECRET`, label `2026-12`) or, while the sender has not
//! switched yet, the old one (`WEBHOOK_OLD_SECRET`, label `2026-11`); demo
//! secrets are used when the variables are not set. `PORT` sets the port
//! (default 8080); the server listens on 127.0.0.1.

use std::net::TcpListener;

use actix_web::{web, App, HttpResponse, HttpServer};
use actix_webhook::scheme::StandardWebhooks;
use actix_webhook::{webhook, Ack, Event, Secret, Secrets, WebhookRouter};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use serde_json::Value;

/// The demo secrets: the new one first.
const DEMO_NEW: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const DEMO_OLD: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";

/// Histogram buckets for the `_seconds` metrics: from 50 µs (a verification)
/// to 10 s (a slow handler).
const BUCKETS: &[f64] = &[
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0, 10.0,
];

#[webhook(event = "*")]
async fn acknowledge(event: Event<Value>) -> Ack {
    tracing::info!(event = event.name(), "delivery accepted");
    Ack::processed()
}

/// The Prometheus text of every metric recorded so far.
async fn metrics(handle: web::Data<PrometheusHandle>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(handle.render())
}

/// A secret from `variable`, or the demo one.
fn secret(variable: &str, demo: &str) -> std::io::Result<Secret> {
    let value = std::env::var(variable).unwrap_or_else(|_| demo.to_owned());
    Secret::from_standard(&value).map_err(|error| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("${variable}: {error}"),
        )
    })
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();

    // Installed before the routers are built: they show their secrets'
    // labels at 0 from then on, and take their metric handles on the first
    // delivery.
    let prometheus = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), BUCKETS)
        .and_then(PrometheusBuilder::install_recorder)
        .map_err(std::io::Error::other)?;
    // Descriptions for the `# HELP` lines.
    actix_webhook::metrics::describe();

    // Histogram samples are kept until folded: by a scrape, or by this.
    let upkeep = prometheus.clone();
    actix_web::rt::spawn(async move {
        let mut every = actix_web::rt::time::interval(std::time::Duration::from_secs(5));
        loop {
            every.tick().await;
            upkeep.run_upkeep();
        }
    });

    // The rotation: the new secret first (it signs test deliveries), the
    // old one still accepted until its label stops matching.
    let secrets = Secrets::new([
        secret("WEBHOOK_SECRET", DEMO_NEW)?.labeled("2026-12"),
        secret("WEBHOOK_OLD_SECRET", DEMO_OLD)?.labeled("2026-11"),
    ])
    .map_err(|error| std::io::Error::new(std::io::ErrorKind::InvalidInput, error))?;
    let hooks = WebhookRouter::new(StandardWebhooks::with_secrets(secrets)).handler(acknowledge);

    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|port| port.parse().ok())
        .unwrap_or(8080);
    let listener = TcpListener::bind(("127.0.0.1", port))?;
    let port = listener.local_addr()?.port();
    println!(
        "webhooks at http://127.0.0.1:{port}/webhooks, metrics at http://127.0.0.1:{port}/metrics"
    );

    let prometheus = web::Data::new(prometheus);
    HttpServer::new(move || {
        App::new()
            .app_data(prometheus.clone())
            .route("/metrics", web::get().to(metrics))
            .service(hooks.scope("/webhooks"))
    })
    .listen(listener)?
    .run()
    .await
}
