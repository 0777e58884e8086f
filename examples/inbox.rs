//! Inbox mode: deliveries are stored and answered 202 at once, then handled
//! by 4 workers in the same process, with retries and dead letters.
//!
//! ```text
//! cargo run --example inbox --features sqlite
//! ```
//!
//! - `PORT`: the port on 127.0.0.1 (default 8080).
//! - `INBOX`: the inbox file (default `webhook-inbox.db`), or a Redis URL
//!   (`redis://127.0.0.1:6379`, feature `redis`): copies of this example
//!   on different `PORT`s with one Redis form a cluster, sharing the
//!   deliveries and their runs.
//! - `NAMESPACE`: the Redis inbox's namespace (default `webhook-inbox`).
//! - `LEASE_SECS`: how long a killed process's runs wait before they run
//!   again (default 30).
//! - `QUIET=1`: no `handled` line per run (for load tests).
//! - `INLINE=1`: the same handler mounted without the inbox: each delivery
//!   runs inside its request and is answered after it, no file and no
//!   workers (`scripts/inbox_load.sh` compares the two).
//! - `UNSYNCED=1`: open the inbox with `Inbox::sqlite_unsynced` (no sync
//!   per commit; survives a crash of the process, not a power loss).
//! - `CONCURRENCY`: handlers run at once by the workers (default 4; 0 runs
//!   no workers, so deliveries are only stored).
//!
//! It receives Standard Webhooks deliveries signed with the quickstart's
//! demo secret, for any event. The handler does what the payload's `data`
//! asks: `"sleep_ms": n` sleeps n ms, `"fail_times": n` fails the first n
//! attempts. Each successful run prints one line to stdout:
//! `handled <delivery-id> attempt=<n>`.
//!
//! ```text
//! echo '{"type":"order_paid","data":{"fail_times":2}}' | webhook send --scheme standard \
//!   --secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw --url http://127.0.0.1:8080/webhooks -
//! webhook inbox --db webhook-inbox.db stats
//! ```

use std::io::Write as _;
use std::time::Duration;

use actix_web::{App, HttpServer};
use actix_webhook::inbox::{Backoff, Inbox};
use actix_webhook::scheme::StandardWebhooks;
use actix_webhook::{webhook, Event, WebhookRouter};

/// The quickstart's demo secret; a real one comes from the sender.
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

#[webhook(event = "*")]
async fn every_event(event: Event<serde_json::Value>) -> Result<(), String> {
    let attempt = event.attempt().unwrap_or(1);
    let data = &event["data"];
    if let Some(ms) = data["sleep_ms"].as_u64() {
        actix_web::rt::time::sleep(Duration::from_millis(ms)).await;
    }
    let fail_times = data["fail_times"].as_u64().unwrap_or(0);
    if u64::from(attempt) <= fail_times {
        return Err(format!(
            "failing as asked, attempt {attempt} of {fail_times}"
        ));
    }
    if quiet() {
        return Ok(());
    }
    // One line per successful run, written at once (a test counts them).
    let mut out = std::io::stdout().lock();
    let id = event.delivery_id().unwrap_or("-");
    writeln!(out, "handled {id} attempt={attempt}")
        .and_then(|()| out.flush())
        .map_err(|e| e.to_string())
}

/// Whether `QUIET=1` asked for no line per run.
fn quiet() -> bool {
    static QUIET: std::sync::LazyLock<bool> =
        std::sync::LazyLock::new(|| std::env::var("QUIET").is_ok_and(|v| v == "1"));
    *QUIET
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[cfg(feature = "redis")]
async fn open_redis(url: &str) -> std::io::Result<Inbox> {
    let namespace: String = env_or("NAMESPACE", "webhook-inbox".to_owned());
    Inbox::redis(url, &namespace)
        .await
        .map_err(std::io::Error::other)
}

#[cfg(not(feature = "redis"))]
async fn open_redis(_url: &str) -> std::io::Result<Inbox> {
    Err(std::io::Error::other(
        "a Redis inbox needs the `redis` feature: --features sqlite,redis",
    ))
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    // Store outages, dead letters, failed records: on stderr (RUST_LOG).
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    let port: u16 = env_or("PORT", 8080);
    let path: String = env_or("INBOX", "webhook-inbox.db".to_owned());
    let lease = Duration::from_secs(env_or("LEASE_SECS", 30));

    let hooks = WebhookRouter::new(StandardWebhooks::new(SECRET).expect("the demo secret"))
        .handler(every_event);
    if std::env::var("INLINE").is_ok_and(|v| v == "1") {
        eprintln!("inline (no inbox); POST deliveries to http://127.0.0.1:{port}/webhooks");
        return HttpServer::new(move || App::new().service(hooks.scope("/webhooks")))
            .bind(("127.0.0.1", port))?
            .run()
            .await;
    }

    let inbox = if path.starts_with("redis://") || path.starts_with("rediss://") {
        open_redis(&path).await
    } else if std::env::var("UNSYNCED").is_ok_and(|v| v == "1") {
        Inbox::sqlite_unsynced(&path).map_err(std::io::Error::other)
    } else {
        Inbox::sqlite(&path).map_err(std::io::Error::other)
    };
    let hooks = hooks.inbox(inbox?);
    let concurrency: usize = env_or("CONCURRENCY", 4);
    if concurrency > 0 {
        let workers = hooks
            .workers()
            .concurrency(concurrency)
            .lease(lease)
            .backoff(Backoff::exponential(
                Duration::from_millis(200),
                Duration::from_secs(10),
            ));
        actix_web::rt::spawn(workers.run());
    }

    let shown = if path.contains("://") { "Redis" } else { &path };
    eprintln!("inbox at {shown}; POST deliveries to http://127.0.0.1:{port}/webhooks");
    HttpServer::new(move || App::new().service(hooks.scope("/webhooks")))
        .bind(("127.0.0.1", port))?
        .run()
        .await
}
