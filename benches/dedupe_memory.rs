//! The in-memory dedupe store at its size limit: time to claim and complete
//! 1,000,000 distinct delivery ids in `MemoryStore::new(1_000_000)`, and the
//! memory those ids take (resident set growth, printed once).
//!
//! ```text
//! cargo bench --bench dedupe_memory
//! ```

use std::hint::black_box;
use std::time::Duration;

use actix_webhook::dedupe::{Claim, MemoryStore, Store};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use futures_util::FutureExt as _;

const IDS: usize = 1_000_000;
const LEASE: Duration = Duration::from_secs(60);
const TTL: Duration = Duration::from_secs(72 * 60 * 60);

/// Keys as the router writes them, built before any measurement.
fn keys() -> Vec<String> {
    (0..IDS)
        .map(|i| format!("webhook:msg_{i:012}_2KWPBgLlAfxdpx2AI54pPJ85f4W"))
        .collect()
}

/// Claims and completes every key; the memory store answers at once.
fn fill(store: &MemoryStore, keys: &[String]) {
    for key in keys {
        let claim = store.claim(key, LEASE).now_or_never().expect("ready");
        let Ok(Claim::Fresh(token)) = claim else {
            panic!("{key}: expected a fresh claim, got {claim:?}");
        };
        store
            .complete(key, &token, TTL)
            .now_or_never()
            .expect("ready")
            .expect("complete");
    }
}

/// This process's resident set size in bytes, from `/proc/self/status`
/// (`None` off Linux).
fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn report_memory(keys: &[String]) {
    let before = resident_bytes();
    let store = MemoryStore::new(IDS);
    fill(&store, keys);
    let after = resident_bytes();
    // Not asserted: ids are spread over shards by hash, and a full shard
    // pushes out its oldest ids even while others have room.
    let remembered = store.len();
    match (before, after) {
        (Some(before), Some(after)) => {
            let grown = after.saturating_sub(before);
            println!(
                "memory: MemoryStore::new({IDS}) after {IDS} ids, remembering {remembered}: \
                 {:.1} MiB resident ({} bytes per id, keys of {} bytes)",
                grown as f64 / (1024.0 * 1024.0),
                grown / IDS as u64,
                keys[0].len(),
            );
        }
        _ => println!("memory: resident set size unavailable on this platform"),
    }
    drop(black_box(store));
}

fn claim_and_complete(c: &mut Criterion) {
    let keys = keys();
    report_memory(&keys);

    c.bench_function(
        "memory store: claim + complete 1,000,000 distinct ids",
        |b| {
            b.iter_batched(
                || MemoryStore::new(IDS),
                |store| {
                    fill(&store, &keys);
                    store // dropped outside the measurement
                },
                BatchSize::PerIteration,
            );
        },
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(10));
    targets = claim_and_complete
}
criterion_main!(benches);
