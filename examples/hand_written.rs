//! The quickstart's `order_paid` endpoint written by hand, without this
//! crate: the baseline `scripts/loadtest.sh` measures the router against.
//!
//! It verifies the same Standard Webhooks signature with `hmac`, `sha2` and
//! `subtle` (headers, ±5 minutes, HMAC-SHA256 over `id.timestamp.body` fed
//! piece by piece, any `v1` entry compared in constant time), parses the same
//! typed payload, updates the same state and answers with the same JSON. It
//! does not route by event name, remember delivery ids or log.
//!
//! ```text
//! cargo run --release --example hand_written                  # serve on PORT (default 8081)
//! cargo run --release --example hand_written -- --requests N  # print N signed requests
//! ```
//!
//! `WORKERS` sets the number of actix workers (default 2; a positive integer,
//! anything else is refused).
//!
//! `--requests N` writes what the load test replays: a line `LENGTH COUNT`,
//! then COUNT raw HTTP requests of LENGTH bytes each, every one a distinct
//! delivery of `benches/order_paid_1k.json` signed now (`HOST` names the
//! `Host` header, default `127.0.0.1`).

use std::io::Write as _;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use actix_web::http::header::{HeaderValue, CONTENT_TYPE};
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, Mac as _};
use serde::Deserialize;
use sha2::Sha256;
use subtle::ConstantTimeEq as _;

/// The quickstart's demo secret.
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// How far a timestamp may be from now, in seconds.
const TOLERANCE: i64 = 5 * 60;

/// The 1 KiB event the load test sends.
const BODY: &[u8] = include_bytes!("../benches/order_paid_1k.json");

/// The same state the quickstart keeps.
#[derive(Default)]
struct Shop {
    revenue_cents: AtomicU64,
}

/// The quickstart's payload type.
#[derive(Deserialize)]
struct OrderPaid {
    data: Order,
}

#[derive(Deserialize)]
struct Order {
    order_id: String,
    amount_cents: u64,
}

/// The HMAC key: the base64 after `whsec_`, decoded once.
struct Key(Vec<u8>);

async fn order_paid(
    req: HttpRequest,
    body: web::Bytes,
    key: web::Data<Key>,
    shop: web::Data<Shop>,
) -> HttpResponse {
    let header = |name: &str| req.headers().get(name).map(HeaderValue::as_bytes);
    let (Some(id), Some(timestamp), Some(signature)) = (
        header("webhook-id"),
        header("webhook-timestamp"),
        header("webhook-signature"),
    ) else {
        return HttpResponse::Unauthorized().finish();
    };
    let Some(sent) = std::str::from_utf8(timestamp)
        .ok()
        .and_then(|t| t.parse::<i64>().ok())
    else {
        return HttpResponse::Unauthorized().finish();
    };
    if unix_now().abs_diff(sent) > TOLERANCE.unsigned_abs() {
        return HttpResponse::Unauthorized().finish();
    }

    let mut mac = Hmac::<Sha256>::new_from_slice(&key.0).expect("any key length");
    for part in [id, b".", timestamp, b".", &body] {
        mac.update(part);
    }
    let expected = mac.finalize().into_bytes();
    let mut matched = subtle::Choice::from(0);
    for entry in signature.split(|b| *b == b' ') {
        if let Some(Ok(candidate)) = entry.strip_prefix(b"v1,").map(|v| STANDARD.decode(v)) {
            matched |= candidate.as_slice().ct_eq(expected.as_slice());
        }
    }
    if !bool::from(matched) {
        return HttpResponse::Unauthorized().finish();
    }

    let Ok(event) = serde_json::from_slice::<OrderPaid>(&body) else {
        return HttpResponse::BadRequest().finish();
    };
    shop.revenue_cents
        .fetch_add(event.data.amount_cents, Ordering::Relaxed);
    std::hint::black_box(&event.data.order_id);

    // The same acknowledgement the router sends.
    let id = String::from_utf8_lossy(id);
    let ack = serde_json::json!({"status": "processed", "id": id, "event": "order_paid"});
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, HeaderValue::from_static("application/json")))
        .body(ack.to_string())
}

fn unix_now() -> i64 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    i64::try_from(secs).unwrap_or(i64::MAX)
}

/// The number of actix workers: `WORKERS`, 2 if unset. Exits with a message
/// if it is set to anything but a positive integer.
fn workers() -> usize {
    let Some(value) = std::env::var_os("WORKERS") else {
        return 2;
    };
    match value.to_str().map(str::parse::<NonZeroUsize>) {
        Some(Ok(workers)) => workers.get(),
        _ => {
            eprintln!("WORKERS must be a positive integer (actix workers), not {value:?}");
            std::process::exit(2);
        }
    }
}

fn key() -> Vec<u8> {
    STANDARD
        .decode(&SECRET["whsec_".len()..])
        .expect("the demo secret is base64")
}

/// Prints `count` signed requests, all of one length, for the load test.
fn print_requests(count: usize) -> std::io::Result<()> {
    let key = key();
    let host = std::env::var("HOST").unwrap_or_else(|_| "127.0.0.1".into());
    let timestamp = unix_now().to_string();
    let run = std::process::id();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut request = Vec::new();
    for i in 0..count {
        // Fixed width: every request has the same length.
        let id = format!("msg_{run:010}_{i:010}");
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("any key length");
        for part in [id.as_bytes(), b".", timestamp.as_bytes(), b".", BODY] {
            mac.update(part);
        }
        let signature = STANDARD.encode(mac.finalize().into_bytes());
        request.clear();
        write!(
            request,
            "POST /webhooks HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nwebhook-id: {id}\r\nwebhook-timestamp: {timestamp}\r\n\
             webhook-signature: v1,{signature}\r\n\r\n",
            BODY.len()
        )?;
        request.extend_from_slice(BODY);
        if i == 0 {
            writeln!(out, "{} {count}", request.len())?;
        }
        out.write_all(&request)?;
    }
    out.flush()
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [flag, count] = args.as_slice() {
        if flag == "--requests" {
            let count = count.parse().map_err(std::io::Error::other)?;
            return print_requests(count);
        }
    }
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(8081);
    let workers = workers();
    let key = web::Data::new(Key(key()));
    let shop = web::Data::new(Shop::default());
    println!("hand-written Standard Webhooks endpoint at http://127.0.0.1:{port}/webhooks");
    HttpServer::new(move || {
        App::new()
            .app_data(key.clone())
            .app_data(shop.clone())
            .route("/webhooks", web::post().to(order_paid))
    })
    .workers(workers)
    .bind(("127.0.0.1", port))?
    .run()
    .await
}
