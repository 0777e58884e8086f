//! The default store: bounded in entries and in time, in this process only.

use std::collections::hash_map::{DefaultHasher, Entry as MapEntry};
use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use futures_util::future::{self, BoxFuture};

use super::{Claim, Store, StoreError, Token};

/// Ids remembered by [`MemoryStore::default`].
const DEFAULT_CAPACITY: usize = 100_000;

/// Independent locks, so concurrent deliveries rarely wait on each other.
const SHARDS: usize = 16;

/// Delivery ids claimed in this process's memory.
///
/// Holds at most `capacity` ids: when full, the ones whose time is up go
/// first, then the oldest. An id pushed out early can run again if the sender
/// repeats it, so size it for the deliveries of your longest retry window.
/// For several replicas use a shared store (Redis, feature `redis`).
#[derive(Debug)]
pub struct MemoryStore {
    shards: Box<[Mutex<Shard>]>,
    per_shard: usize,
    tokens: AtomicU64,
}

#[derive(Debug, Default)]
struct Shard {
    map: HashMap<Arc<str>, Entry>,
    /// Keys in the order they were written, with the generation written;
    /// a stale generation means the key was rewritten or removed since.
    order: VecDeque<(Arc<str>, u64)>,
}

#[derive(Debug)]
struct Entry {
    state: State,
    until: Instant,
    generation: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    InFlight(u64),
    Done,
}

impl MemoryStore {
    /// A store remembering at most `capacity` ids (at least one per shard).
    pub fn new(capacity: usize) -> Self {
        let per_shard = capacity.div_ceil(SHARDS).max(1);
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            per_shard,
            tokens: AtomicU64::new(1),
        }
    }

    /// The most ids it remembers.
    pub fn capacity(&self) -> usize {
        self.per_shard * SHARDS
    }

    /// How many ids it remembers now (in flight or done, expired or not).
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| lock(s).map.len()).sum()
    }

    /// Whether it remembers no id.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn shard(&self, key: &str) -> MutexGuard<'_, Shard> {
        let mut hasher = DefaultHasher::new();
        key.hash(&mut hasher);
        // The remainder is below SHARDS, so it fits in usize.
        let index = (hasher.finish() % SHARDS as u64) as usize;
        lock(&self.shards[index])
    }

    fn claim_now(&self, key: &str, lease: Duration, now: Instant) -> Claim {
        let token = self.tokens.fetch_add(1, Ordering::Relaxed);
        let mut shard = self.shard(key);
        if let Some(entry) = shard.map.get(key) {
            if entry.until > now {
                return match entry.state {
                    State::InFlight(_) => Claim::InFlight,
                    State::Done => Claim::Done,
                };
            }
        }
        shard.write(
            key,
            State::InFlight(token),
            later(now, lease),
            token,
            self.per_shard,
            now,
        );
        Claim::Fresh(Token::new(token.to_string()))
    }

    fn settle(&self, key: &str, token: &Token, done_for: Option<Duration>, now: Instant) {
        let Ok(token) = token.as_str().parse::<u64>() else {
            return;
        };
        let mut shard = self.shard(key);
        let held = matches!(
            shard.map.get(key),
            Some(Entry { state: State::InFlight(t), .. }) if *t == token
        );
        if !held {
            return;
        }
        match done_for {
            Some(ttl) => {
                let generation = self.tokens.fetch_add(1, Ordering::Relaxed);
                shard.write(
                    key,
                    State::Done,
                    later(now, ttl),
                    generation,
                    self.per_shard,
                    now,
                );
            }
            None => {
                shard.map.remove(key);
            }
        }
    }
}

impl Shard {
    fn write(
        &mut self,
        key: &str,
        state: State,
        until: Instant,
        generation: u64,
        capacity: usize,
        now: Instant,
    ) {
        let key: Arc<str> = match self.map.get_key_value(key) {
            Some((existing, _)) => existing.clone(),
            None => {
                self.make_room(capacity, now);
                key.into()
            }
        };
        self.order.push_back((key.clone(), generation));
        match self.map.entry(key) {
            MapEntry::Occupied(mut slot) => {
                *slot.get_mut() = Entry {
                    state,
                    until,
                    generation,
                };
            }
            MapEntry::Vacant(slot) => {
                slot.insert(Entry {
                    state,
                    until,
                    generation,
                });
            }
        }
    }

    /// Drops stale bookkeeping and expired ids from the front, then the
    /// oldest ids while full.
    fn make_room(&mut self, capacity: usize, now: Instant) {
        while let Some((key, generation)) = self.order.front() {
            let live = match self.map.get(key) {
                Some(entry) if entry.generation == *generation => Some(entry.until > now),
                _ => None, // rewritten or removed since: only bookkeeping
            };
            match live {
                None => {}
                Some(true) if self.map.len() < capacity => break,
                Some(_) => {
                    let key = key.clone();
                    self.map.remove(&key);
                }
            }
            self.order.pop_front();
        }
        // Rewrites leave stale pairs behind; keep the queue proportional.
        if self.order.len() > capacity.saturating_mul(4) {
            let map = &self.map;
            self.order.retain(|(key, generation)| {
                map.get(key).is_some_and(|e| e.generation == *generation)
            });
        }
    }
}

/// `now + after`, saturating: a duration past what an `Instant` holds (such
/// as `Duration::MAX` for "forever") is a century.
pub(crate) fn later(now: Instant, after: Duration) -> Instant {
    const CENTURY: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);
    now.checked_add(after)
        .or_else(|| now.checked_add(CENTURY))
        .unwrap_or(now)
}

fn lock(shard: &Mutex<Shard>) -> MutexGuard<'_, Shard> {
    // A panic while holding the lock leaves a consistent map: keep using it.
    shard
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Default for MemoryStore {
    /// 100,000 ids.
    fn default() -> Self {
        Self::new(DEFAULT_CAPACITY)
    }
}

impl Store for MemoryStore {
    fn claim<'a>(
        &'a self,
        key: &'a str,
        lease: Duration,
    ) -> BoxFuture<'a, Result<Claim, StoreError>> {
        Box::pin(future::ready(Ok(self.claim_now(
            key,
            lease,
            Instant::now(),
        ))))
    }

    fn complete<'a>(
        &'a self,
        key: &'a str,
        token: &'a Token,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.settle(key, token, Some(ttl), Instant::now());
        Box::pin(future::ready(Ok(())))
    }

    fn release<'a>(
        &'a self,
        key: &'a str,
        token: &'a Token,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.settle(key, token, None, Instant::now());
        Box::pin(future::ready(Ok(())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEASE: Duration = Duration::from_secs(60);
    const TTL: Duration = Duration::from_secs(3600);

    fn fresh(claim: Claim) -> Token {
        match claim {
            Claim::Fresh(token) => token,
            other => panic!("expected a fresh claim, got {other:?}"),
        }
    }

    #[test]
    fn claim_complete_release() {
        let store = MemoryStore::new(100);
        let now = Instant::now();
        let token = fresh(store.claim_now("a", LEASE, now));
        assert_eq!(store.claim_now("a", LEASE, now), Claim::InFlight);
        store.settle("a", &token, None, now);
        let token = fresh(store.claim_now("a", LEASE, now));
        store.settle("a", &Token::new("999999"), Some(TTL), now);
        assert_eq!(
            store.claim_now("a", LEASE, now),
            Claim::InFlight,
            "stale token ignored"
        );
        store.settle("a", &token, Some(TTL), now);
        assert_eq!(store.claim_now("a", LEASE, now), Claim::Done);
        // Forgotten after its time to live.
        fresh(store.claim_now("a", LEASE, now + TTL + LEASE));
    }

    #[test]
    fn lease_runs_out() {
        let store = MemoryStore::new(100);
        let now = Instant::now();
        let first = fresh(store.claim_now("a", LEASE, now));
        assert_eq!(
            store.claim_now("a", LEASE, now + LEASE - Duration::from_millis(1)),
            Claim::InFlight
        );
        let second = fresh(store.claim_now("a", LEASE, now + LEASE));
        store.settle("a", &first, Some(TTL), now + LEASE);
        assert_eq!(
            store.claim_now("a", LEASE, now + LEASE),
            Claim::InFlight,
            "the crashed holder cannot complete"
        );
        store.settle("a", &second, Some(TTL), now + LEASE);
        assert_eq!(store.claim_now("a", LEASE, now + LEASE), Claim::Done);
    }

    #[test]
    fn stays_within_capacity() {
        let store = MemoryStore::new(1_000);
        let now = Instant::now();
        for i in 0..20_000 {
            let key = format!("k{i}");
            let token = fresh(store.claim_now(&key, LEASE, now));
            store.settle(&key, &token, Some(TTL), now);
        }
        assert!(
            store.len() <= store.capacity(),
            "{} > {}",
            store.len(),
            store.capacity()
        );
        assert!(store.len() >= store.capacity() / 2);
        // The newest are remembered.
        assert_eq!(store.claim_now("k19999", LEASE, now), Claim::Done);
        let total_queue: usize = store.shards.iter().map(|s| lock(s).order.len()).sum();
        assert!(total_queue <= store.capacity() * 5);
    }
}
