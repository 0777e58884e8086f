//! The default store: bounded in entries and in time, in this process only.

use std::collections::VecDeque;
use std::fmt;
use std::hash::BuildHasher as _;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, TryLockError};
use std::time::{Duration, Instant};

use futures_util::future::{self, BoxFuture};
use hashbrown::HashTable;

use super::{Claim, Store, StoreError, Token};

/// Ids remembered by [`MemoryStore::default`].
const DEFAULT_CAPACITY: usize = 100_000;

/// Independent locks, so concurrent deliveries rarely wait on each other.
const SHARDS: usize = 16;

/// A fast keyed hash: keys are delivery ids from verified requests, which
/// only a sender holding the secret can choose.
type Hasher = foldhash::fast::RandomState;

/// Delivery ids claimed in this process's memory.
///
/// Holds at most `capacity` ids: when full, each new id pushes out the one
/// claimed longest ago (whose time is up first when all have the same time to
/// live) that is not in flight; until then an id whose time is up stays until
/// it is claimed anew. A claim in flight is never pushed out (a retry during
/// a slow handler must get 409, not run it concurrently): when every id held
/// is in flight, a new claim fails and the router answers 503. An id pushed
/// out early can run again if the sender repeats it, so size the store for
/// the deliveries of your longest retry window.
/// For several replicas use a shared store (Redis, feature `redis`).
///
/// Ids are spread over 16 independently locked shards; one atomic count over
/// all of them keeps the store to its capacity without a global lock. Each
/// operation hashes its key once.
pub struct MemoryStore {
    shards: Box<[Mutex<Shard>]>,
    capacity: usize,
    /// Ids in all shards, plus claims making room at this instant.
    len: AtomicUsize,
    tokens: AtomicU64,
    hasher: Hasher,
}

#[derive(Default)]
struct Shard {
    table: HashTable<Entry>,
    /// `(hash, generation)` of each claim, in the order claimed; a
    /// generation no entry has any more means the key was claimed again or
    /// removed since.
    order: VecDeque<(u64, u64)>,
}

struct Entry {
    key: Box<str>,
    /// Unique per claim: the claim's token while in flight, and how its
    /// order record finds it.
    generation: u64,
    done: bool,
    until: Instant,
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field("capacity", &self.capacity)
            .field("len", &self.len.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl MemoryStore {
    /// A store remembering at most `capacity` ids (at least one).
    pub fn new(capacity: usize) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            capacity: capacity.max(1),
            len: AtomicUsize::new(0),
            tokens: AtomicU64::new(1),
            hasher: Hasher::default(),
        }
    }

    /// The most ids it remembers.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// How many ids it remembers now (in flight or done, expired or not).
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| lock(s).table.len()).sum()
    }

    /// Whether it remembers no id.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The key's hash and its shard.
    fn locate(&self, key: &str) -> (u64, usize) {
        let hash = self.hasher.hash_one(key);
        // Bits the tables leave alone: they index with the low bits and tag
        // with the top seven.
        (hash, (hash >> 32) as usize % SHARDS)
    }

    fn claim_now(&self, key: &str, lease: Duration, now: Instant) -> Result<Claim, StoreError> {
        let token = self.tokens.fetch_add(1, Ordering::Relaxed);
        let until = later(now, lease);
        let (hash, index) = self.locate(key);
        let mut shard = lock(&self.shards[index]);
        if let Some(entry) = shard.table.find_mut(hash, |e| *e.key == *key) {
            if entry.until > now {
                return Ok(if entry.done {
                    Claim::Done
                } else {
                    Claim::InFlight
                });
            }
            // Its time is up: claimed anew, in the same place in the table.
            entry.generation = token;
            entry.done = false;
            entry.until = until;
        } else {
            // Count the new id first: each claim that finds the store full
            // pushes out one id, so concurrent claims cannot pass the
            // capacity together.
            if self.len.fetch_add(1, Ordering::Relaxed) >= self.capacity {
                let room = if shard.drop_oldest(now) {
                    Room::Made
                } else {
                    self.drop_oldest_elsewhere(index, now)
                };
                match room {
                    // One id pushed out for this one.
                    Room::Made => {
                        self.len.fetch_sub(1, Ordering::Relaxed);
                    }
                    // Shards busy right now may have room: over capacity by
                    // the few claims racing, rather than a spurious 503.
                    Room::Busy => {}
                    Room::None => {
                        self.len.fetch_sub(1, Ordering::Relaxed);
                        return Err(StoreError::new(
                            "the memory store is full of deliveries in flight",
                            None,
                        ));
                    }
                }
            }
            let entry = Entry {
                key: key.into(),
                generation: token,
                done: false,
                until,
            };
            shard
                .table
                .insert_unique(hash, entry, |e| self.hasher.hash_one(&*e.key));
        }
        shard.order.push_back((hash, token));
        shard.compact();
        Ok(Claim::Fresh(Token::from_number(token)))
    }

    /// Pushes out the oldest id of another shard than `index` that is not
    /// in flight, skipping shards that are busy: this shard's lock is held,
    /// so waiting could deadlock.
    fn drop_oldest_elsewhere(&self, index: usize, now: Instant) -> Room {
        let mut room = Room::None;
        for offset in 1..SHARDS {
            let other = &self.shards[(index + offset) % SHARDS];
            let mut other = match other.try_lock() {
                Ok(guard) => guard,
                Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
                Err(TryLockError::WouldBlock) => {
                    room = Room::Busy;
                    continue;
                }
            };
            if other.drop_oldest(now) {
                return Room::Made;
            }
        }
        room
    }

    fn settle(&self, key: &str, token: &Token, done_for: Option<Duration>, now: Instant) {
        let Ok(token) = token.as_str().parse::<u64>() else {
            return;
        };
        let (hash, index) = self.locate(key);
        let mut shard = lock(&self.shards[index]);
        // The generation is the claim's token: a stale token finds nothing.
        let held = |e: &Entry| e.generation == token && !e.done && *e.key == *key;
        let Ok(entry) = shard.table.find_entry(hash, held) else {
            return;
        };
        match done_for {
            // Done: it keeps its place in the order it was claimed in.
            Some(ttl) => {
                let entry = entry.into_mut();
                entry.done = true;
                entry.until = later(now, ttl);
            }
            None => {
                entry.remove();
                self.len.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }
}

/// Whether a full store made room for a new id.
enum Room {
    /// It pushed one out.
    Made,
    /// It could not look at every shard: some were busy.
    Busy,
    /// Every id it holds is in flight.
    None,
}

impl Shard {
    /// Drops the id claimed longest ago that is not in flight at `now`;
    /// false when the shard has none.
    fn drop_oldest(&mut self, now: Instant) -> bool {
        // Each record is looked at once at most: claims in flight go to the
        // back, in the order they were met.
        for _ in 0..self.order.len() {
            let Some((hash, generation)) = self.order.pop_front() else {
                break;
            };
            let Ok(entry) = self.table.find_entry(hash, |e| e.generation == generation) else {
                // Claimed again or removed since: only bookkeeping.
                continue;
            };
            let in_flight = !entry.get().done && entry.get().until > now;
            if in_flight {
                self.order.push_back((hash, generation));
            } else {
                entry.remove();
                return true;
            }
        }
        false
    }

    /// Keeps the order proportional to the table: releases and claims anew
    /// leave stale records behind.
    fn compact(&mut self) {
        if self.order.len() > self.table.len().saturating_mul(4).max(64) {
            let table = &self.table;
            self.order.retain(|(hash, generation)| {
                table.find(*hash, |e| e.generation == *generation).is_some()
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
        Box::pin(future::ready(self.claim_now(key, lease, Instant::now())))
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

    fn claim(store: &MemoryStore, key: &str, lease: Duration, now: Instant) -> Claim {
        store.claim_now(key, lease, now).expect("room in the store")
    }

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
        let token = fresh(claim(&store, "a", LEASE, now));
        assert_eq!(claim(&store, "a", LEASE, now), Claim::InFlight);
        store.settle("a", &token, None, now);
        let token = fresh(claim(&store, "a", LEASE, now));
        store.settle("a", &Token::new("999999"), Some(TTL), now);
        assert_eq!(
            claim(&store, "a", LEASE, now),
            Claim::InFlight,
            "stale token ignored"
        );
        store.settle("a", &token, Some(TTL), now);
        assert_eq!(claim(&store, "a", LEASE, now), Claim::Done);
        // Forgotten after its time to live.
        fresh(claim(&store, "a", LEASE, now + TTL + LEASE));
    }

    #[test]
    fn number_tokens_read_as_their_digits() {
        for number in [0, 7, 10, 1_234_567, u64::MAX] {
            let token = Token::from_number(number);
            assert_eq!(token.as_str(), number.to_string());
            assert_eq!(token, Token::new(number.to_string()));
            assert_eq!(format!("{token:?}"), format!("Token({number})"));
        }
    }

    #[test]
    fn a_token_settles_only_its_own_key() {
        let store = MemoryStore::new(100);
        let now = Instant::now();
        let a = fresh(claim(&store, "a", LEASE, now));
        let b = fresh(claim(&store, "b", LEASE, now));
        store.settle("a", &b, Some(TTL), now);
        store.settle("b", &a, None, now);
        assert_eq!(claim(&store, "a", LEASE, now), Claim::InFlight);
        assert_eq!(claim(&store, "b", LEASE, now), Claim::InFlight);
        store.settle("a", &a, Some(TTL), now);
        store.settle("b", &b, None, now);
        assert_eq!(claim(&store, "a", LEASE, now), Claim::Done);
        fresh(claim(&store, "b", LEASE, now));
    }

    #[test]
    fn lease_runs_out() {
        let store = MemoryStore::new(100);
        let now = Instant::now();
        let first = fresh(claim(&store, "a", LEASE, now));
        assert_eq!(
            claim(&store, "a", LEASE, now + LEASE - Duration::from_millis(1)),
            Claim::InFlight
        );
        let second = fresh(claim(&store, "a", LEASE, now + LEASE));
        store.settle("a", &first, Some(TTL), now + LEASE);
        assert_eq!(
            claim(&store, "a", LEASE, now + LEASE),
            Claim::InFlight,
            "the crashed holder cannot complete"
        );
        store.settle("a", &second, Some(TTL), now + LEASE);
        assert_eq!(claim(&store, "a", LEASE, now + LEASE), Claim::Done);
    }

    #[test]
    fn a_full_store_keeps_its_whole_capacity() {
        let store = MemoryStore::new(1_000);
        let now = Instant::now();
        for i in 0..5_000 {
            let key = format!("k{i}");
            let token = fresh(claim(&store, &key, LEASE, now));
            store.settle(&key, &token, Some(TTL), now);
            assert_eq!(store.len(), (i + 1).min(1_000));
        }
        assert_eq!(store.len.load(Ordering::Relaxed), 1_000);
        // A release frees its place: the next claim pushes nothing out.
        let token = fresh(claim(&store, "released", LEASE, now));
        store.settle("released", &token, None, now);
        assert_eq!(store.len(), 999);
        assert_eq!(claim(&store, "k4999", LEASE, now), Claim::Done);
        fresh(claim(&store, "another", LEASE, now));
        assert_eq!(store.len(), 1_000);
        assert_eq!(claim(&store, "k4999", LEASE, now), Claim::Done);
        // A claim once every id's time is up still fits.
        fresh(claim(&store, "late", LEASE, now + TTL + LEASE));
        assert!(store.len() <= 1_000);
        assert_eq!(store.len.load(Ordering::Relaxed), store.len());
    }

    #[test]
    fn a_tiny_store_pushes_out_ids_of_other_shards() {
        let store = MemoryStore::new(1);
        let now = Instant::now();
        for i in 0..100 {
            let key = format!("k{i}");
            let token = fresh(claim(&store, &key, LEASE, now));
            store.settle(&key, &token, Some(TTL), now);
            assert_eq!(store.len(), 1);
            assert_eq!(claim(&store, &key, LEASE, now), Claim::Done);
        }
    }

    #[test]
    fn claims_in_flight_are_never_pushed_out() {
        let store = MemoryStore::new(3);
        let now = Instant::now();
        let slow = fresh(claim(&store, "slow", LEASE, now));
        for i in 0..100 {
            let key = format!("k{i}");
            let token = fresh(claim(&store, &key, LEASE, now));
            store.settle(&key, &token, Some(TTL), now);
            // The oldest claim, still in flight, holds its place.
            assert_eq!(claim(&store, "slow", LEASE, now), Claim::InFlight, "{i}");
            assert_eq!(store.len(), (i + 2).min(3));
        }
        // A store full of claims in flight refuses a new one.
        let busy = fresh(claim(&store, "busy", LEASE, now));
        let _ = fresh(claim(&store, "busier", LEASE, now));
        assert!(store.claim_now("one too many", LEASE, now).is_err());
        assert_eq!(store.len(), 3);
        assert_eq!(store.len.load(Ordering::Relaxed), 3);
        // Settling one makes room again; a lease that ran out is not in
        // flight any more.
        store.settle("busy", &busy, Some(TTL), now);
        fresh(claim(&store, "one too many", LEASE, now));
        assert_eq!(claim(&store, "slow", LEASE, now), Claim::InFlight);
        fresh(claim(&store, "after the leases", LEASE, now + LEASE));
        store.settle("slow", &slow, Some(TTL), now);
    }

    #[test]
    fn stays_within_capacity() {
        let store = MemoryStore::new(1_000);
        let now = Instant::now();
        for i in 0..20_000 {
            let key = format!("k{i}");
            let token = fresh(claim(&store, &key, LEASE, now));
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
        assert_eq!(claim(&store, "k19999", LEASE, now), Claim::Done);
        let total_queue: usize = store.shards.iter().map(|s| lock(s).order.len()).sum();
        assert!(total_queue <= store.capacity() * 5);
    }
}
