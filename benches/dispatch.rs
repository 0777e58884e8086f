//! What the router adds to a handler's own parse, for a verified 1 KiB
//! `order_paid` event: finding the event name in the body, picking the
//! handler, claiming the delivery id in the in-memory store, parsing the
//! typed payload, running the handler, marking the id done and building the
//! acknowledgement — next to `serde_json::from_slice::<T>` alone.
//!
//! Two payload types: the whole order (every field the handler might use)
//! and the quickstart's two fields (the cheapest parse, so the router's share
//! is largest). Every iteration claims a new delivery id, so the default
//! store (100,000 ids) fills and then pushes out the oldest id on each
//! claim, as in a long-running server; once more with a 1,000-id store, whose
//! table stays in the CPU's caches, to show what the large table costs.
//!
//! ```text
//! cargo bench --features bench --bench dispatch
//! cargo bench --features bench,metrics --bench dispatch   # with a Prometheus recorder
//! ```

use std::hint::black_box;
use std::time::Duration;

use actix_web::test::TestRequest;
use actix_web::web::Bytes;
use actix_webhook::dedupe::MemoryStore;
use actix_webhook::scheme::StandardWebhooks;
use actix_webhook::{webhook, Ack, Event, WebhookRouter};
use criterion::{BatchSize, Criterion, Throughput};
use futures_util::FutureExt as _;
use serde::Deserialize;

#[path = "support/order.rs"]
mod order;
use order::{OrderPaid, BODY};

/// The quickstart's payload: two fields of `data`.
#[derive(Deserialize)]
struct OrderPaidBrief {
    data: OrderBrief,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct OrderBrief {
    order_id: String,
    amount_cents: u64,
}

#[webhook(event = "order_paid")]
async fn order_paid(event: Event<OrderPaid>) -> Ack {
    black_box(&event.data);
    Ack::processed()
}

#[webhook(event = "order_paid")]
async fn order_paid_brief(event: Event<OrderPaidBrief>) -> Ack {
    black_box(&event.data);
    Ack::processed()
}

fn router() -> WebhookRouter {
    WebhookRouter::new(
        StandardWebhooks::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("valid secret"),
    )
}

/// A new delivery id per iteration, made outside the measurement.
fn ids() -> impl FnMut() -> String {
    let mut next = 0u64;
    move || {
        next += 1;
        format!("msg_{next:012}_2KWPBgLlAfxdpx2AI54pPJ85f4W")
    }
}

fn dispatch(c: &mut Criterion) {
    // Built with the `metrics` feature, every metric goes to a Prometheus
    // recorder (`scripts/metrics_cost.sh` compares the two builds), whose
    // histogram samples are folded every second, as a server's upkeep task
    // (or scrape) does.
    #[cfg(feature = "metrics")]
    {
        let prometheus = metrics_exporter_prometheus::PrometheusBuilder::new()
            .install_recorder()
            .expect("the only recorder");
        std::thread::spawn(move || loop {
            std::thread::sleep(Duration::from_secs(1));
            prometheus.run_upkeep();
        });
    }
    let req = TestRequest::post().uri("/webhooks").to_http_request();
    let body = Bytes::from_static(BODY);
    let mut group = c.benchmark_group("dispatch/1 KiB");
    group.throughput(Throughput::Bytes(BODY.len() as u64));

    group.bench_function("typed parse alone: whole order", |b| {
        b.iter(|| black_box(serde_json::from_slice::<OrderPaid>(black_box(BODY)).expect("parses")));
    });
    group.bench_function("typed parse alone: two fields", |b| {
        b.iter(|| {
            black_box(serde_json::from_slice::<OrderPaidBrief>(black_box(BODY)).expect("parses"))
        });
    });
    let mut id = ids();
    for (name, hooks) in [
        ("router: whole order", router().handler(order_paid)),
        (
            "router, 1,000-id store: whole order",
            router().store(MemoryStore::new(1_000)).handler(order_paid),
        ),
        ("router: two fields", router().handler(order_paid_brief)),
    ] {
        group.bench_function(name, |b| {
            b.iter_batched(
                &mut id,
                |id| {
                    let response = hooks
                        .dispatch_verified(&req, &body, &id)
                        .now_or_never()
                        .expect("the memory store answers at once");
                    assert!(response.status().is_success());
                    response
                },
                BatchSize::SmallInput,
            );
        });
    }
    group.finish();
}

criterion::criterion_group! {
    name = group;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = dispatch
}
criterion::criterion_main!(group);
