//! A sustained-load check of a webhook receiver, in two halves that
//! `scripts/soak.sh` runs as separate processes:
//!
//! ```text
//! cargo run --release --example soak -- serve 8090
//! cargo run --release --example soak -- drive http://127.0.0.1:8090 60 256
//! ```
//!
//! `serve` is a Standard Webhooks receiver on 127.0.0.1 (a 64 KiB body
//! limit, the in-memory store) whose handler counts what it runs; `GET
//! /stats` returns the count. `drive` sends deliveries for the given seconds
//! over the given number of connections, a mix of valid ones (each a new
//! id), duplicates (a valid one sent again), tampered ones (the body changed
//! after signing) and oversized ones (one byte over the limit), and prints
//! the answers per kind and status, transport errors, and whether the
//! handler ran exactly once per valid delivery.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use actix_web::{web, App, HttpResponse, HttpServer};
use actix_webhook::scheme::StandardWebhooks;
use actix_webhook::{webhook, Ack, Event, WebhookRouter};
use serde::Deserialize;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const BODY_LIMIT: usize = 64 << 10; // 64 KiB

#[derive(Deserialize)]
struct OrderPaid {
    order_id: String,
    amount_cents: u64,
}

/// Deliveries handled, shared with `/stats`.
#[derive(Default)]
struct Handled(AtomicU64);

#[webhook(event = "order_paid")]
async fn order_paid(event: Event<OrderPaid>, handled: web::Data<Handled>) -> Ack {
    if event.order_id.is_empty() || event.amount_cents == 0 {
        return Ack::gone();
    }
    handled.0.fetch_add(1, Ordering::Relaxed);
    Ack::processed()
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("serve") => serve(args.get(1).and_then(|p| p.parse().ok()).unwrap_or(8090)),
        Some("drive") => {
            let url = args
                .get(1)
                .cloned()
                .unwrap_or("http://127.0.0.1:8090".into());
            let seconds = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(60);
            let connections = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(256);
            drive(url, Duration::from_secs(seconds), connections)
        }
        _ => {
            eprintln!("usage: soak serve [PORT] | soak drive [URL] [SECONDS] [CONNECTIONS]");
            std::process::exit(2)
        }
    }
}

#[actix_web::main]
async fn serve(port: u16) -> std::io::Result<()> {
    let handled = web::Data::new(Handled::default());
    let hooks = WebhookRouter::new(StandardWebhooks::new(SECRET).expect("a whsec_ secret"))
        .body_limit(BODY_LIMIT)
        .handler(order_paid);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(handled.clone())
            .service(hooks.scope("/webhooks"))
            .route(
                "/stats",
                web::get().to(|handled: web::Data<Handled>| async move {
                    HttpResponse::Ok().body(handled.0.load(Ordering::Relaxed).to_string())
                }),
            )
    })
    .backlog(1024)
    .bind(("127.0.0.1", port))?;
    println!("soak server on 127.0.0.1:{port}");
    server.run().await
}

/// What a driver connection sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Valid,
    Duplicate,
    Tampered,
    Oversized,
}

/// The mix, out of 20: 12 valid, 4 duplicates, 3 tampered, 1 oversized.
fn kind(n: u64) -> Kind {
    match n % 20 {
        0..=11 => Kind::Valid,
        12..=15 => Kind::Duplicate,
        16..=18 => Kind::Tampered,
        _ => Kind::Oversized,
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Counts per (kind, status or error).
type Tally = BTreeMap<(Kind, String), u64>;

#[actix_web::main]
async fn drive(url: String, duration: Duration, connections: usize) -> std::io::Result<()> {
    let scheme = StandardWebhooks::new(SECRET).expect("a whsec_ secret");
    let client = awc::Client::builder()
        .connector(awc::Connector::new().limit(connections))
        .timeout(Duration::from_secs(30))
        .finish();
    let started = Instant::now();
    let ids = std::rc::Rc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for connection in 0..connections {
        let client = client.clone();
        let scheme = scheme.clone();
        let url = format!("{url}/webhooks");
        let ids = ids.clone();
        tasks.push(actix_web::rt::spawn(async move {
            let mut tally = Tally::new();
            let mut processed = 0u64;
            let mut last_valid: Option<(String, i64, Vec<u8>)> = None;
            let mut n = connection as u64;
            while started.elapsed() < duration {
                n += 1;
                let mut kind = kind(n);
                if kind == Kind::Duplicate && last_valid.is_none() {
                    kind = Kind::Valid;
                }
                let (id, ts, body, sent) = match kind {
                    Kind::Duplicate => {
                        let (id, ts, body) = last_valid.clone().expect("a valid one first");
                        let sent = body.clone();
                        (id, ts, body, sent)
                    }
                    _ => {
                        let id = format!("msg_{}", ids.fetch_add(1, Ordering::Relaxed));
                        let body = format!(
                            r#"{{"type":"order_paid","order_id":"o_{id}","amount_cents":1250}}"#
                        )
                        .into_bytes();
                        let sent = match kind {
                            Kind::Tampered => body.replace_amount(),
                            Kind::Oversized => {
                                let mut big = body.clone();
                                big.resize(BODY_LIMIT + 1, b' ');
                                big
                            }
                            _ => body.clone(),
                        };
                        let signed = if kind == Kind::Oversized {
                            &sent
                        } else {
                            &body
                        };
                        (id, now(), signed.clone(), sent)
                    }
                };
                let signature = scheme.signature(&id, ts, &body);
                let response = client
                    .post(&url)
                    .insert_header(("webhook-id", id.as_str()))
                    .insert_header(("webhook-timestamp", ts.to_string()))
                    .insert_header(("webhook-signature", signature))
                    .insert_header(("content-type", "application/json"))
                    .send_body(sent)
                    .await;
                let outcome = match response {
                    Ok(mut response) => {
                        let status = response.status().as_u16();
                        let word = response
                            .json::<serde_json::Value>()
                            .await
                            .ok()
                            .and_then(|v| {
                                v.get("status")
                                    .and_then(|s| s.as_str())
                                    .or_else(|| v.get("code").and_then(|s| s.as_str()))
                                    .map(str::to_owned)
                            })
                            .unwrap_or_default();
                        if word == "processed" {
                            processed += 1;
                        }
                        if kind == Kind::Valid && status == 200 {
                            last_valid = Some((id, ts, body));
                        }
                        format!("{status} {word}")
                    }
                    Err(error) => format!("error: {}", error_kind(&error)),
                };
                *tally.entry((kind, outcome)).or_default() += 1;
            }
            (tally, processed)
        }));
    }
    let mut tally = Tally::new();
    let mut processed = 0;
    for task in tasks {
        let (t, p) = task.await.expect("driver task");
        processed += p;
        for (key, count) in t {
            *tally.entry(key).or_default() += count;
        }
    }
    let elapsed = started.elapsed();
    let total: u64 = tally.values().sum();
    println!(
        "{total} deliveries in {:.1} s over {connections} connections ({:.0}/s)",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64()
    );
    println!("{:<10} {:<34} {:>9}", "kind", "answer", "count");
    for ((kind, outcome), count) in &tally {
        println!("{:<10} {:<34} {:>9}", format!("{kind:?}"), outcome, count);
    }
    let valid_not_2xx: u64 = tally
        .iter()
        .filter(|((kind, outcome), _)| {
            matches!(kind, Kind::Valid | Kind::Duplicate) && !outcome.starts_with('2')
        })
        .map(|(_, count)| count)
        .sum();
    let server_errors: u64 = tally
        .iter()
        .filter(|((_, outcome), _)| outcome.starts_with('5'))
        .map(|(_, count)| count)
        .sum();
    let handled = fetch_stats(&client, &url).await;
    println!("valid or duplicate deliveries not answered 2xx: {valid_not_2xx}");
    println!("5xx answers: {server_errors}");
    println!("handler runs: {handled}; answers \"processed\": {processed}");
    if valid_not_2xx > 0 || server_errors > 0 || handled != processed {
        println!("SOAK FAILED");
        std::process::exit(1);
    }
    println!("SOAK OK");
    Ok(())
}

/// The handler's run count, from the server's `/stats` (`u64::MAX` when unreadable).
async fn fetch_stats(client: &awc::Client, url: &str) -> u64 {
    let mut response = match client.get(format!("{url}/stats")).send().await {
        Ok(response) => response,
        Err(_) => return u64::MAX,
    };
    match response.body().await {
        Ok(body) => String::from_utf8_lossy(&body).parse().unwrap_or(u64::MAX),
        Err(_) => u64::MAX,
    }
}

/// A short name for a transport error.
fn error_kind(error: &awc::error::SendRequestError) -> String {
    let text = error.to_string();
    text.split(':')
        .next()
        .unwrap_or(&text)
        .chars()
        .take(30)
        .collect()
}

trait ReplaceAmount {
    /// The body with its amount changed: a tampered delivery.
    fn replace_amount(&self) -> Vec<u8>;
}

impl ReplaceAmount for Vec<u8> {
    fn replace_amount(&self) -> Vec<u8> {
        String::from_utf8_lossy(self)
            .replace("1250", "9999")
            .into_bytes()
    }
}
