//! The default store: bounded in entries and in time, in this process only.

use std::collections::VecDeque;
use std::fmt;
use std::hash::{BuildHasher as _, RandomState};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, TryLockError};
use std::time::{Duration, Instant};

use futures_util::future::{self, BoxFuture};
use hashbrown::HashTable;

use super::{Claim, Store, StoreError, Token};

/// Ids remembered by [`MemoryStore::default`].
const DEFAULT_CAPACITY: usize = 100_000;

/// The most ids any store remembers: positions in a shard are `u32`.
const MAX_CAPACITY: usize = 1 << 30;

/// Independent locks, so concurrent deliveries rarely wait on each other.
const SHARDS: usize = 16;

/// Most slots reserved per shard up front, so a filling store does not
/// reallocate and copy: the queue's pages are touched only when used, the
/// index writes one control byte per slot at once.
const MAX_RESERVED: usize = 1 << 16;

/// A claim's state is one word: when it runs out, in milliseconds since
/// the store was made (42 bits: 139 years, so any longer time is
/// "forever"), whether it is done, and 21 bits of a store-wide claim
/// counter. The word is the claim's token, so a stale token (the lease ran
/// out and the id was claimed again, or it was released and claimed again
/// in the same millisecond) never matches. 0 marks a slot left empty.
const GENERATION_BITS: u32 = 21;
const DONE: u64 = 1 << GENERATION_BITS;
const UNTIL_SHIFT: u32 = GENERATION_BITS + 1;
const MAX_MILLIS: u64 = (1 << (64 - UNTIL_SHIFT)) - 1;

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
/// # What it keeps
///
/// Not the key: a 64-bit fingerprint of it (std's `RandomState`, SipHash
/// under a 128-bit key each thread draws from the operating system's random
/// source, so senders cannot aim two ids at one fingerprint) and one word of
/// state, 16 bytes, plus a 4-byte position in a hash index: about 28 bytes
/// per id, 2.7 MiB for the default 100,000. Releases and claims made anew
/// leave empty slots behind until the queue is tidied, up to as many as
/// there are ids (about 44 bytes per id at worst).
/// Two keys with the same fingerprint are one delivery to the store, so the
/// second would be answered as a duplicate of the first: with `n` ids
/// remembered, a new id is taken for one of them with a probability of
/// `n / 2^64`, about 1 in 2 · 10^14 at the default capacity (a billion
/// deliveries a day would see one such false duplicate in about 500 years).
/// Times are kept to the millisecond; a time to live beyond 139 years is
/// forever. At most 2^30 ids (a larger capacity is that).
///
/// Ids are spread over 16 independently locked shards; one atomic count over
/// all of them keeps the store to its capacity without a global lock.
pub struct MemoryStore {
    shards: Box<[Mutex<Shard>]>,
    capacity: usize,
    /// Ids in all shards, plus claims making room at this instant.
    len: AtomicUsize,
    /// Claims made, for the generation in each claim's state.
    claims: AtomicU64,
    fingerprints: RandomState,
    /// Where the store's milliseconds count from.
    epoch: Instant,
}

/// The ids of one shard, in the order claimed.
#[derive(Default)]
struct Shard {
    /// Each id's position in `order`, found by its fingerprint.
    index: HashTable<u32>,
    /// Ids in the order claimed, with empty slots (state 0) where ids were
    /// released or claimed anew since; dropped from the front.
    order: VecDeque<Slot>,
    /// The position of `order[0]`: each slot pushed takes the next one
    /// (wrapping; the queue never holds 2^32 slots).
    front: u32,
}

#[derive(Clone, Copy)]
struct Slot {
    fingerprint: u64,
    state: u64,
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
    /// A store remembering at most `capacity` ids (at least one, at most
    /// 2^30).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.clamp(1, MAX_CAPACITY);
        // A shard's share and some (ids do not spread evenly), up to a
        // bound: beyond it a large store grows as it fills.
        let reserved = (capacity / SHARDS + capacity / SHARDS / 8).min(MAX_RESERVED);
        Self {
            shards: (0..SHARDS)
                .map(|_| Mutex::new(Shard::with_capacity(reserved)))
                .collect(),
            capacity,
            len: AtomicUsize::new(0),
            claims: AtomicU64::new(0),
            fingerprints: RandomState::new(),
            epoch: Instant::now(),
        }
    }

    /// The most ids it remembers.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// How many ids it remembers now (in flight or done, expired or not).
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| lock(s).index.len()).sum()
    }

    /// Whether it remembers no id.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The key's fingerprint and its shard.
    fn locate(&self, key: &str) -> (u64, usize) {
        let fingerprint = self.fingerprints.hash_one(key);
        // Bits the index leaves alone: it places with the low bits and tags
        // with the top seven.
        (fingerprint, (fingerprint >> 32) as usize % SHARDS)
    }

    /// Nanoseconds from the store's epoch to `at` (584 years; later
    /// saturates).
    fn nanos(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.epoch).as_nanos()).unwrap_or(u64::MAX)
    }

    /// Milliseconds from the store's epoch to `at`.
    #[cfg(test)]
    fn millis(&self, at: Instant) -> u64 {
        self.nanos(at) / 1_000_000
    }

    /// The state of a new claim (or a completion) at `now_ns` (from
    /// [`nanos`](Self::nanos)) that runs out `after` it: rounded up to the
    /// next millisecond and compared with times rounded down, so it never
    /// runs out early.
    fn state(now_ns: u64, after: Duration, generation: u64, done: bool) -> u64 {
        let after = u64::try_from(after.as_nanos()).unwrap_or(u64::MAX);
        let until = now_ns
            .saturating_add(after)
            .div_ceil(1_000_000)
            .min(MAX_MILLIS);
        let generation = generation & (DONE - 1);
        until << UNTIL_SHIFT | if done { DONE } else { 0 } | generation
    }

    fn claim_now(&self, key: &str, lease: Duration, now: Instant) -> Result<Claim, StoreError> {
        // Never 0 in the low bits: the state of a claim is never 0.
        let generation = self.claims.fetch_add(1, Ordering::Relaxed) % (DONE - 1) + 1;
        let now_ns = self.nanos(now);
        let now_ms = now_ns / 1_000_000;
        let state = Self::state(now_ns, lease, generation, false);
        let (fingerprint, index) = self.locate(key);
        let mut shard = lock(&self.shards[index]);
        if let Some(position) = shard.find(fingerprint) {
            let held = shard.slot(position).state;
            if until(held) > now_ms {
                return Ok(if held & DONE != 0 {
                    Claim::Done
                } else {
                    Claim::InFlight
                });
            }
            // Its time is up: claimed anew, at the back.
            shard.slot(position).state = 0;
            let moved = shard.push(Slot { fingerprint, state });
            shard.repoint(fingerprint, position, moved);
        } else {
            // Count the new id first: each claim that finds the store full
            // pushes out one id, so concurrent claims cannot pass the
            // capacity together.
            if self.len.fetch_add(1, Ordering::Relaxed) >= self.capacity {
                let room = if shard.drop_oldest(now_ms) {
                    Room::Made
                } else {
                    self.drop_oldest_elsewhere(index, now_ms)
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
            shard.insert(Slot { fingerprint, state });
        }
        shard.tidy();
        Ok(Claim::Fresh(Token::from_number(state)))
    }

    /// Pushes out the oldest id of another shard than `index` that is not
    /// in flight, skipping shards that are busy: this shard's lock is held,
    /// so waiting could deadlock.
    fn drop_oldest_elsewhere(&self, index: usize, now_ms: u64) -> Room {
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
            if other.drop_oldest(now_ms) {
                other.tidy();
                return Room::Made;
            }
        }
        room
    }

    fn settle(&self, key: &str, token: &Token, done_for: Option<Duration>, now: Instant) {
        let Ok(token) = token.as_str().parse::<u64>() else {
            return;
        };
        if token == 0 || token & DONE != 0 {
            return;
        }
        let (fingerprint, index) = self.locate(key);
        let mut shard = lock(&self.shards[index]);
        let Some(position) = shard.find(fingerprint) else {
            return;
        };
        // The state is the claim's token: a stale token finds another.
        if shard.slot(position).state != token {
            return;
        }
        match done_for {
            // Done: it keeps its place in the order it was claimed in.
            Some(ttl) => {
                let done = Self::state(self.nanos(now), ttl, token, true);
                shard.slot(position).state = done;
            }
            None => {
                shard.slot(position).state = 0;
                shard.remove(fingerprint, position);
                shard.tidy();
                self.len.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }
}

/// When a claim's state runs out, in the store's milliseconds.
fn until(state: u64) -> u64 {
    state >> UNTIL_SHIFT
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
    fn with_capacity(slots: usize) -> Self {
        Self {
            index: HashTable::with_capacity(slots),
            order: VecDeque::with_capacity(slots),
            front: 0,
        }
    }

    /// Where `position` is in `order`.
    fn offset(&self, position: u32) -> usize {
        position.wrapping_sub(self.front) as usize
    }

    fn slot(&mut self, position: u32) -> &mut Slot {
        let offset = self.offset(position);
        &mut self.order[offset]
    }

    /// The position of the id with this fingerprint.
    fn find(&self, fingerprint: u64) -> Option<u32> {
        let order = &self.order;
        let front = self.front;
        self.index
            .find(fingerprint, |&position| {
                order
                    .get(position.wrapping_sub(front) as usize)
                    .is_some_and(|slot| slot.fingerprint == fingerprint)
            })
            .copied()
    }

    /// Pushes a slot at the back; its position.
    fn push(&mut self, slot: Slot) -> u32 {
        // Fewer than 2^32 slots: at most twice the ids (2^30), and 64.
        let position = self.front.wrapping_add(self.order.len() as u32);
        self.order.push_back(slot);
        position
    }

    /// Adds a new id at the back.
    fn insert(&mut self, slot: Slot) {
        let position = self.push(slot);
        let Self {
            index,
            order,
            front,
        } = self;
        index.insert_unique(slot.fingerprint, position, |&p| {
            order[p.wrapping_sub(*front) as usize].fingerprint
        });
    }

    /// Points the id at `fingerprint` from position `from` to `to`.
    fn repoint(&mut self, fingerprint: u64, from: u32, to: u32) {
        if let Some(position) = self.index.find_mut(fingerprint, |&p| p == from) {
            *position = to;
        }
    }

    fn remove(&mut self, fingerprint: u64, position: u32) {
        if let Ok(entry) = self.index.find_entry(fingerprint, |&p| p == position) {
            entry.remove();
        }
    }

    /// Drops the id claimed longest ago that is not in flight at `now_ms`;
    /// false when the shard has none.
    fn drop_oldest(&mut self, now_ms: u64) -> bool {
        // Each slot is looked at once at most: claims in flight go to the
        // back, in the order they were met.
        for _ in 0..self.order.len() {
            let position = self.front;
            let Some(slot) = self.order.pop_front() else {
                break;
            };
            self.front = self.front.wrapping_add(1);
            if slot.state == 0 {
                continue;
            }
            let in_flight = slot.state & DONE == 0 && until(slot.state) > now_ms;
            if in_flight {
                let moved = self.push(slot);
                self.repoint(slot.fingerprint, position, moved);
            } else {
                self.remove(slot.fingerprint, position);
                return true;
            }
        }
        false
    }

    /// Drops the empty slots at the front, and all of them when they
    /// outnumber the ids (releases and claims anew leave them behind
    /// the ids still held).
    fn tidy(&mut self) {
        while self.order.front().is_some_and(|slot| slot.state == 0) {
            self.order.pop_front();
            self.front = self.front.wrapping_add(1);
        }
        if self.order.len() > self.index.len().saturating_mul(2).max(64) {
            self.order.retain(|slot| slot.state != 0);
            self.front = 0;
            self.index.clear();
            for position in 0..self.order.len() {
                let fingerprint = self.order[position].fingerprint;
                let Self { index, order, .. } = &mut *self;
                // Fewer than 2^32 slots (see `push`).
                index.insert_unique(fingerprint, position as u32, |&p| {
                    order[p as usize].fingerprint
                });
            }
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
    /// How late a lease or time to live may run out: its end is rounded up
    /// to the millisecond.
    const TICK: Duration = Duration::from_millis(1);

    fn claim(store: &MemoryStore, key: &str, lease: Duration, now: Instant) -> Claim {
        store.claim_now(key, lease, now).expect("room in the store")
    }

    /// Claims `key` fresh and marks it done, as a handled delivery.
    fn handle(store: &MemoryStore, key: &str, now: Instant) {
        let token = fresh(claim(store, key, LEASE, now));
        store.settle(key, &token, Some(TTL), now);
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
        let second = fresh(claim(&store, "a", LEASE, now + LEASE + TICK));
        store.settle("a", &first, Some(TTL), now + LEASE + TICK);
        assert_eq!(
            claim(&store, "a", LEASE, now + LEASE + TICK),
            Claim::InFlight,
            "the crashed holder cannot complete"
        );
        store.settle("a", &second, Some(TTL), now + LEASE + TICK);
        assert_eq!(claim(&store, "a", LEASE, now + LEASE + TICK), Claim::Done);
    }

    #[test]
    fn a_full_store_keeps_its_whole_capacity() {
        let store = MemoryStore::new(1_000);
        let now = Instant::now();
        for i in 0..5_000 {
            let key = format!("k{i}");
            handle(&store, &key, now);
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
            handle(&store, &key, now);
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
            handle(&store, &key, now);
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
        fresh(claim(&store, "after the leases", LEASE, now + LEASE + TICK));
        store.settle("slow", &slow, Some(TTL), now);
    }

    #[test]
    fn stays_within_capacity() {
        let store = MemoryStore::new(1_000);
        let now = Instant::now();
        for i in 0..20_000 {
            let key = format!("k{i}");
            handle(&store, &key, now);
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
    }

    #[test]
    fn an_id_claimed_anew_goes_to_the_back() {
        let store = MemoryStore::new(100);
        let now = Instant::now();
        let later = now + TTL + LEASE;
        // `b`: a key in `a`'s shard.
        let (_, shard) = store.locate("a");
        let b = (0..)
            .map(|i| format!("b{i}"))
            .find(|b| store.locate(b).1 == shard)
            .unwrap_or_default();
        for key in ["a", &b] {
            handle(&store, key, now);
        }
        // `a`'s time is up: claimed anew, it leaves an empty slot behind.
        let again = fresh(claim(&store, "a", LEASE, later));
        assert_eq!(claim(&store, "a", LEASE, later), Claim::InFlight);
        store.settle("a", &again, Some(TTL), later);
        assert_eq!(claim(&store, "a", LEASE, later), Claim::Done);
        // The first claim of `a` was the oldest; now `b` is.
        assert!(lock(&store.shards[shard]).drop_oldest(store.millis(later)));
        assert_eq!(claim(&store, "a", LEASE, later), Claim::Done);
        assert_eq!(store.len(), 1);
        fresh(claim(&store, &b, LEASE, later));
    }

    #[test]
    fn a_stale_token_from_the_same_millisecond_settles_nothing() {
        let store = MemoryStore::new(100);
        let now = Instant::now();
        let first = fresh(claim(&store, "a", LEASE, now));
        store.settle("a", &first, None, now);
        let second = fresh(claim(&store, "a", LEASE, now));
        assert_ne!(first, second);
        store.settle("a", &first, Some(TTL), now);
        assert_eq!(claim(&store, "a", LEASE, now), Claim::InFlight);
        // Completing twice, or with the done state, changes nothing either.
        store.settle("a", &second, Some(TTL), now);
        store.settle("a", &second, None, now);
        assert_eq!(claim(&store, "a", LEASE, now), Claim::Done);
        for junk in ["", "0", "x", "99999999999999999999999"] {
            store.settle("a", &Token::new(junk), None, now);
        }
        assert_eq!(claim(&store, "a", LEASE, now), Claim::Done);
    }

    #[test]
    fn times_beyond_the_clock_are_forever() {
        let store = MemoryStore::new(100);
        let now = Instant::now();
        let token = fresh(claim(&store, "a", Duration::MAX, now));
        assert_eq!(claim(&store, "a", LEASE, now + TTL * 1000), Claim::InFlight);
        store.settle("a", &token, Some(Duration::MAX), now);
        assert_eq!(claim(&store, "a", LEASE, now + TTL * 1000), Claim::Done);
        // A lease under a millisecond still holds until it is over, when
        // the millisecond it ends in is.
        fresh(claim(&store, "b", Duration::from_nanos(1), now));
        assert_eq!(claim(&store, "b", LEASE, now), Claim::InFlight);
    }

    #[test]
    fn a_lease_never_runs_out_early_whatever_the_millisecond() {
        let store = MemoryStore::new(100);
        let lease = Duration::from_millis(1);
        for offset in [0, 1, 500, 999, 1_000, 1_001, 1_999] {
            let at = store.epoch + Duration::from_micros(offset);
            let key = format!("k{offset}");
            fresh(claim(&store, &key, lease, at));
            assert_eq!(
                claim(&store, &key, LEASE, at + lease - Duration::from_nanos(1)),
                Claim::InFlight,
                "{offset} µs"
            );
            // At most a millisecond late.
            fresh(claim(&store, &key, LEASE, at + lease * 2));
        }
    }

    #[test]
    fn released_slots_do_not_pile_up() {
        let store = MemoryStore::new(1_000);
        let now = Instant::now();
        // Held at the front of every shard it lands in.
        let held = fresh(claim(&store, "held", LEASE, now));
        for i in 0..20_000 {
            let key = format!("k{i}");
            let token = fresh(claim(&store, &key, LEASE, now));
            store.settle(&key, &token, None, now);
            if i % 100 == 0 {
                handle(&store, &key, now);
            }
        }
        assert_eq!(store.len(), 201);
        for shard in store.shards.iter() {
            let shard = lock(shard);
            assert!(shard.order.len() <= (shard.index.len() * 2).max(64) + 1);
        }
        store.settle("held", &held, Some(TTL), now);
        assert_eq!(claim(&store, "held", LEASE, now), Claim::Done);
        assert_eq!(claim(&store, "k19900", LEASE, now), Claim::Done);
    }
}
