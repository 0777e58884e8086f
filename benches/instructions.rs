//! A fixed amount of work for counting instructions with callgrind, which
//! counts the same on a busy machine as on an idle one (wall-clock benches
//! do not). `scripts/instructions.sh` runs each case with 0 and N iterations
//! under `valgrind --tool=callgrind` and prints the difference per iteration.
//!
//! ```text
//! scripts/instructions.sh
//! ```
//!
//! Run directly, it takes a case and an iteration count; without them (as
//! under `cargo bench`) it does nothing.
//!
//! Note: valgrind does not report the SHA extensions to programs, so under
//! callgrind `sha2` takes its portable path and the MAC costs far more
//! instructions than it takes time on a CPU with SHA-NI. Compare the
//! overhead (this crate minus the bare HMAC), not the ratio.

use std::hint::black_box;

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::test::TestRequest;
use actix_web::web::Bytes;
use actix_webhook::dedupe::MemoryStore;
use actix_webhook::scheme::{Request, Scheme, StandardWebhooks};
use actix_webhook::{webhook, Ack, Event, WebhookRouter};
use futures_util::FutureExt as _;
use hmac::Mac as _;
#[path = "support/order.rs"]
mod order;
use order::{OrderPaid, BODY};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

#[webhook(event = "order_paid")]
async fn order_paid(event: Event<OrderPaid>) -> Ack {
    black_box(&event.data);
    Ack::processed()
}

/// Standard Webhooks verification of a 256-byte body, by this crate
/// (`verify`) or as a bare HMAC (`floor`).
fn verification(case: &str, iterations: usize) {
    use base64::Engine as _;
    let scheme = StandardWebhooks::new(SECRET).expect("valid secret");
    let (id, timestamp) = ("msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", 1_700_000_000_i64);
    let body = vec![b'a'; 256];
    let signature = scheme.signature(id, timestamp, &body);
    let mut headers = HeaderMap::new();
    for (name, value) in [
        ("webhook-id", id.to_owned()),
        ("webhook-timestamp", timestamp.to_string()),
        ("webhook-signature", signature.clone()),
        ("content-type", "application/json".to_owned()),
        ("content-length", body.len().to_string()),
    ] {
        headers.insert(
            HeaderName::from_static(name),
            HeaderValue::from_str(&value).expect("ASCII"),
        );
    }
    let engine = base64::engine::general_purpose::STANDARD;
    let key = engine.decode(&SECRET["whsec_".len()..]).expect("base64");
    let expected = engine.decode(&signature["v1,".len()..]).expect("base64");
    let ts = timestamp.to_string();
    for _ in 0..iterations {
        if case == "verify" {
            let request = Request::new("POST", "/webhooks", &headers, &body);
            let delivery = scheme.verify(black_box(&request), scheme.secrets(), timestamp);
            black_box(delivery.expect("verifies"));
        } else {
            let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).expect("any key");
            for part in [id.as_bytes(), b".", ts.as_bytes(), b".", black_box(&body)] {
                mac.update(part);
            }
            assert!(mac.verify_slice(&expected).is_ok());
        }
    }
}

/// The router's work for the 1 KiB event (`dispatch`), each iteration a new
/// delivery id in a store that does not fill up, or the typed parse alone
/// (`parse`). The ids are made before the loop in both cases.
fn dispatch(case: &str, iterations: usize) {
    let req = TestRequest::post().uri("/webhooks").to_http_request();
    let body = Bytes::from_static(BODY);
    let hooks = WebhookRouter::new(StandardWebhooks::new(SECRET).expect("valid secret"))
        .store(MemoryStore::new(iterations.max(1)))
        .handler(order_paid);
    let ids: Vec<String> = (0..iterations)
        .map(|i| format!("msg_{i:012}_2KWPBgLlAfxdpx2AI54pPJ85f4W"))
        .collect();
    for id in &ids {
        if case == "dispatch" {
            let response = hooks.dispatch_verified(&req, &body, id).now_or_never();
            black_box(response.expect("ready"));
        } else {
            let parsed = serde_json::from_slice::<OrderPaid>(black_box(BODY));
            black_box(parsed.expect("parses"));
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(case), Some(iterations)) = (
        args.first(),
        args.get(1).and_then(|n| n.parse::<usize>().ok()),
    ) else {
        return; // `cargo bench` runs every bench: nothing to do here
    };
    match case.as_str() {
        "verify" | "floor" => verification(case, iterations),
        "dispatch" | "parse" => dispatch(case, iterations),
        // The router's work with a Prometheus recorder taking every metric;
        // `dispatch` in a build without the feature is the baseline
        // (`scripts/metrics_cost.sh`).
        #[cfg(feature = "metrics")]
        "dispatch-metrics" => {
            metrics_exporter_prometheus::PrometheusBuilder::new()
                .install_recorder()
                .expect("the only recorder");
            dispatch("dispatch", iterations);
        }
        other => {
            eprintln!("unknown case {other}: verify, floor, dispatch, dispatch-metrics or parse")
        }
    }
}
