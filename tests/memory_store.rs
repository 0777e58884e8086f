//! The memory `MemoryStore` takes per id: every byte it allocates for
//! 1,000,000 ids, counted by the allocator. Alone in its test binary, so no
//! other test's allocations are counted.

use std::alloc::System;
use std::time::Duration;

use actix_webhook::dedupe::{Claim, MemoryStore, Store};
use futures_util::FutureExt as _;
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};

#[global_allocator]
static ALLOCATOR: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const LEASE: Duration = Duration::from_secs(60);
const TTL: Duration = Duration::from_secs(72 * 60 * 60);

/// A key as the router writes it.
fn key(i: usize) -> String {
    format!("webhook:msg_{i:012}_2KWPBgLlAfxdpx2AI54pPJ85f4W")
}

fn claim(store: &MemoryStore, key: &str) -> Claim {
    store
        .claim(key, LEASE)
        .now_or_never()
        .expect("the memory store answers at once")
        .expect("room in the store")
}

#[test]
fn a_million_ids_take_at_most_32_bytes_each() {
    const IDS: usize = 1_000_000;
    let region = Region::new(ALLOCATOR);
    let store = MemoryStore::new(IDS);
    let mut key = String::new();
    for i in 0..IDS {
        // One key buffer, reused: only the store's memory is counted.
        key.clear();
        key.push_str(&self::key(i));
        let Claim::Fresh(token) = claim(&store, &key) else {
            panic!("{key}: not a fresh claim");
        };
        store
            .complete(&key, &token, TTL)
            .now_or_never()
            .expect("the memory store answers at once")
            .expect("complete");
    }
    let change = region.change();
    let held = change.bytes_allocated as isize - change.bytes_deallocated as isize
        + change.bytes_reallocated
        - key.capacity() as isize;
    let per_id = held as f64 / IDS as f64;
    println!("{IDS} ids: {held} bytes held by the store, {per_id:.1} per id");
    assert_eq!(store.len(), IDS, "a store at its capacity keeps every id");
    assert!(per_id <= 32.0, "{per_id:.1} bytes per id");
    // Each id is still known.
    for i in (0..IDS).step_by(997) {
        assert_eq!(claim(&store, &self::key(i)), Claim::Done, "{i}");
    }
}
