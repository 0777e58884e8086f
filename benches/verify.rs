//! What verifying a delivery costs: Standard Webhooks verification by this
//! crate next to a bare HMAC-SHA256 over the same signed content (`hmac` +
//! `sha2`, the floor) at 256 B, 1 KiB, 16 KiB and 1 MiB; GitHub and Stripe
//! verification at 1 KiB, each next to its own floor.
//!
//! ```text
//! cargo bench --bench verify
//! ```
//!
//! The same run with the `svix` crate's `Webhook::verify` added to the
//! Standard Webhooks group lives in `benches/svix/`, a crate of its own so
//! that svix (and the TLS client it brings) stays out of this workspace:
//!
//! ```text
//! cargo bench --manifest-path benches/svix/Cargo.toml
//! ```
//!
//! That crate compiles this file as a module, so both measure the same
//! requests the same way.

use std::hint::black_box;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_webhook::scheme::{GitHub, Request, Scheme, StandardWebhooks, Stripe};
use base64::Engine as _;
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, BenchmarkId, Criterion, Throughput};
use hmac::Mac as _;

/// A demo Standard Webhooks secret (the key is the base64 after `whsec_`).
pub(crate) const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// A GitHub or Stripe secret: the whole string is the key.
const PLAIN_SECRET: &str = "whsec_plain_secret_used_as_is_0123456789";

/// Body sizes of the Standard Webhooks group, with their labels.
pub(crate) const SIZES: [(usize, &str); 4] = [
    (256, "256 B"),
    (1 << 10, "1 KiB"),
    (16 << 10, "16 KiB"),
    (1 << 20, "1 MiB"),
];

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// A JSON event of exactly `size` bytes (at least 96): a `type`, an `id` and
/// a `data` object padded with a note.
pub(crate) fn event_body(size: usize) -> Vec<u8> {
    let head = r#"{"type":"order_paid","id":"evt_2KWPBgLlAfxdpx2AI54pPJ85f4W","data":{"note":""#;
    let tail = r#""}}"#;
    let pad = size.saturating_sub(head.len() + tail.len());
    let mut body = Vec::with_capacity(size);
    body.extend_from_slice(head.as_bytes());
    body.extend((0..pad).map(|i| b'a' + (i % 26) as u8));
    body.extend_from_slice(tail.as_bytes());
    body
}

/// Now, unix seconds: svix checks timestamps against the system clock.
pub(crate) fn unix_now() -> i64 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    i64::try_from(secs).unwrap_or(i64::MAX)
}

/// One signed Standard Webhooks delivery.
pub(crate) struct Case {
    pub(crate) id: String,
    pub(crate) timestamp: i64,
    pub(crate) body: Vec<u8>,
    /// `webhook-signature`: `v1,<base64>`.
    pub(crate) signature: String,
    /// The three headers as actix-web (`http` 0.2) holds them.
    pub(crate) headers: HeaderMap,
}

impl Case {
    /// A delivery of `size` bytes signed now.
    pub(crate) fn new(scheme: &StandardWebhooks, size: usize) -> Self {
        let id = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W".to_owned();
        let timestamp = unix_now();
        let body = event_body(size);
        let signature = scheme.signature(&id, timestamp, &body);
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("webhook-id", id.clone()),
            ("webhook-timestamp", timestamp.to_string()),
            ("webhook-signature", signature.clone()),
        ] {
            headers.insert(
                HeaderName::from_static(name),
                HeaderValue::from_str(&value).expect("ASCII"),
            );
        }
        Self {
            id,
            timestamp,
            body,
            signature,
            headers,
        }
    }
}

/// The floor: HMAC-SHA256 keyed per call, fed `parts`, compared with
/// `expected` in constant time (`Mac::verify_slice`).
fn bare_hmac(key: &[u8], parts: &[&[u8]], expected: &[u8]) -> bool {
    let mut mac = HmacSha256::new_from_slice(key).expect("any key length");
    for part in parts {
        mac.update(part);
    }
    mac.verify_slice(expected).is_ok()
}

/// Standard Webhooks at every size: this crate, the floor, and whatever
/// `more` adds to the group (the svix crate, in `benches/svix/`).
pub(crate) fn standard_webhooks(
    c: &mut Criterion,
    more: impl Fn(&mut BenchmarkGroup<'_, WallTime>, &str, &Case),
) {
    let scheme = StandardWebhooks::new(SECRET).expect("valid secret");
    let key = base64::engine::general_purpose::STANDARD
        .decode(&SECRET["whsec_".len()..])
        .expect("base64");
    let mut group = c.benchmark_group("verify/standard-webhooks");
    for (size, label) in SIZES {
        let case = Case::new(&scheme, size);
        let now = case.timestamp;
        group.throughput(Throughput::Bytes(size as u64));
        if size >= 1 << 20 {
            group.sample_size(30);
        }

        group.bench_with_input(
            BenchmarkId::new("actix-webhook", label),
            &case,
            |b, case| {
                b.iter(|| {
                    let request = Request::new("POST", "/webhooks", &case.headers, &case.body);
                    let delivery = scheme.verify(black_box(&request), scheme.secrets(), now);
                    black_box(delivery.expect("verifies"))
                });
            },
        );

        let expected = base64::engine::general_purpose::STANDARD
            .decode(&case.signature["v1,".len()..])
            .expect("base64");
        let ts = case.timestamp.to_string();
        group.bench_with_input(BenchmarkId::new("hmac floor", label), &case, |b, case| {
            b.iter(|| {
                let parts: [&[u8]; 5] = [case.id.as_bytes(), b".", ts.as_bytes(), b".", &case.body];
                assert!(bare_hmac(&key, black_box(&parts), &expected));
            });
        });

        more(&mut group, label, &case);
    }
    group.finish();
}

/// GitHub and Stripe at 1 KiB, each next to its floor.
pub(crate) fn other_schemes(c: &mut Criterion) {
    let body = event_body(1 << 10);
    let now = unix_now();
    let mut group = c.benchmark_group("verify/1 KiB");
    group.throughput(Throughput::Bytes(body.len() as u64));

    let github = GitHub::new(PLAIN_SECRET).expect("valid secret");
    let headers = [
        ("X-Hub-Signature-256", github.signature(&body)),
        (
            "X-GitHub-Delivery",
            "72d3162e-cc78-11e3-81ab-4c9367dc0958".to_owned(),
        ),
    ];
    let headers = header_map(&headers);
    group.bench_function("github: actix-webhook", |b| {
        b.iter(|| {
            let request = Request::new("POST", "/github", &headers, &body);
            black_box(github.verify(black_box(&request), github.secrets(), now)).expect("verifies");
        });
    });
    let expected = hex::decode(&github.signature(&body)["sha256=".len()..]).expect("hex");
    group.bench_function("github: hmac floor", |b| {
        b.iter(|| {
            assert!(bare_hmac(
                PLAIN_SECRET.as_bytes(),
                black_box(&[&body]),
                &expected
            ))
        });
    });

    let stripe = Stripe::new(PLAIN_SECRET).expect("valid secret");
    let signature = stripe.signature(now, &body);
    let headers = header_map(&[("Stripe-Signature", signature.clone())]);
    group.bench_function("stripe: actix-webhook", |b| {
        b.iter(|| {
            let request = Request::new("POST", "/stripe", &headers, &body);
            let delivery = stripe.verify(black_box(&request), stripe.secrets(), now);
            black_box(delivery.expect("verifies"))
        });
    });
    let expected = hex::decode(signature.split_once("v1=").expect("v1").1).expect("hex");
    let ts = now.to_string();
    group.bench_function("stripe: hmac floor", |b| {
        b.iter(|| {
            let parts: [&[u8]; 3] = [ts.as_bytes(), b".", &body];
            assert!(bare_hmac(
                PLAIN_SECRET.as_bytes(),
                black_box(&parts),
                &expected
            ));
        });
    });
    group.finish();
}

fn header_map(pairs: &[(&str, String)]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in pairs {
        headers.insert(
            HeaderName::from_bytes(name.as_bytes()).expect("valid name"),
            HeaderValue::from_str(value).expect("ASCII"),
        );
    }
    headers
}

/// Criterion settings shared with `benches/svix/`: short enough for a
/// 2-core machine, long enough for stable medians.
pub(crate) fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

fn benches(c: &mut Criterion) {
    standard_webhooks(c, |_, _, _| {});
    other_schemes(c);
}

criterion::criterion_group! {
    name = group;
    config = config();
    targets = benches
}
criterion::criterion_main!(group);
