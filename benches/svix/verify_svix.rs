//! `benches/verify.rs` with the `svix` crate's `Webhook::verify` added to the
//! Standard Webhooks group, so this crate, the bare HMAC and svix are
//! measured in one run on the same requests.
//!
//! ```text
//! cargo bench --manifest-path benches/svix/Cargo.toml
//! ```

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion};

#[path = "../verify.rs"]
#[allow(dead_code)] // its `main` is this file's
mod ours;

/// The same three headers in `http` 1.x, as svix takes them.
fn svix_headers(case: &ours::Case) -> http::HeaderMap {
    let mut headers = http::HeaderMap::new();
    for (name, value) in [
        ("webhook-id", case.id.clone()),
        ("webhook-timestamp", case.timestamp.to_string()),
        ("webhook-signature", case.signature.clone()),
    ] {
        headers.insert(
            http::HeaderName::from_static(name),
            http::HeaderValue::from_str(&value).expect("ASCII"),
        );
    }
    headers
}

fn benches(c: &mut Criterion) {
    let webhook = svix::webhooks::Webhook::new(ours::SECRET).expect("valid secret");
    ours::standard_webhooks(c, |group, label, case| {
        let headers = svix_headers(case);
        group.bench_with_input(BenchmarkId::new("svix", label), case, |b, case| {
            b.iter(|| {
                webhook
                    .verify(black_box(&case.body), black_box(&headers))
                    .expect("verifies");
            });
        });
    });
    ours::other_schemes(c);
}

criterion::criterion_group! {
    name = group;
    config = ours::config();
    targets = benches
}
criterion::criterion_main!(group);
