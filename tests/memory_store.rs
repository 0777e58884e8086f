//! The memory `MemoryStore` takes per id: every byte it allocates for
//! 1,000,000 ids, counted by the allocator. Alone in its test binary, so no
//! other test's allocations are counted.

use std::alloc::System;

use actix_webhook::dedupe::{Claim, MemoryStore};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};

#[path = "support/memory_calls.rs"]
mod memory_calls;
use memory_calls::{claim_now, complete, fresh, store_key};

#[global_allocator]
static ALLOCATOR: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

#[test]
fn a_million_ids_take_at_most_32_bytes_each() {
    const IDS: usize = 1_000_000;
    let region = Region::new(ALLOCATOR);
    let store = MemoryStore::new(IDS);
    let mut key = String::new();
    for i in 0..IDS {
        // One key buffer, reused: only the store's memory is counted.
        key.clear();
        key.push_str(&store_key(i));
        let token = fresh(&store, &key);
        complete(&store, &key, &token);
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
        assert_eq!(claim_now(&store, &store_key(i)), Claim::Done, "{i}");
    }
}
