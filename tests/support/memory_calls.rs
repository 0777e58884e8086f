//! `MemoryStore` called through the `Store` trait, for tests that fill it:
//! its futures are ready at once.

use std::time::Duration;

use actix_webhook::dedupe::{Claim, MemoryStore, Store, Token};
use futures_util::FutureExt as _;

/// A store key as the router writes it, for delivery `i`.
pub(crate) fn store_key(i: usize) -> String {
    format!("webhook:msg_{i:012}_2KWPBgLlAfxdpx2AI54pPJ85f4W")
}

/// Claims `key` for a minute.
pub(crate) fn claim_now(store: &MemoryStore, key: &str) -> Claim {
    store
        .claim(key, Duration::from_secs(60))
        .now_or_never()
        .expect("the memory store answers at once")
        .expect("room in the store")
}

/// Claims `key`, which must be fresh.
pub(crate) fn fresh(store: &MemoryStore, key: &str) -> Token {
    match claim_now(store, key) {
        Claim::Fresh(token) => token,
        other => panic!("{key}: expected a fresh claim, got {other:?}"),
    }
}

/// Marks `key` done for 72 hours.
pub(crate) fn complete(store: &MemoryStore, key: &str, token: &Token) {
    store
        .complete(key, token, Duration::from_secs(72 * 60 * 60))
        .now_or_never()
        .expect("the memory store answers at once")
        .expect("complete");
}
