//! The inbox in Redis, shared by every replica: sorted sets for what is due
//! and what is leased, one hash per delivery, and Lua scripts for every
//! change of state.
//!
//! Why sorted sets and scripts, not streams with consumer groups: a stream
//! hands out entries in arrival order and takes over idle ones
//! (`XAUTOCLAIM`), but a retry must wait for its backoff, a replay must
//! requeue a finished delivery, and a run's outcome must be recorded only
//! while its run still holds the lease. With a stream each of those needs a
//! second structure beside it, and the two are not changed atomically.
//! Here the state of a delivery lives in its hash and in exactly one index;
//! every change moves both in one script, which Redis runs atomically (and
//! writes to its append-only file as one transaction).
//!
//! Keys, all under `{<namespace>}:` (one hash tag: a namespace may hold no
//! brace):
//!
//! | key | type | holds |
//! |---|---|---|
//! | `seq` | string | the last sequence number given |
//! | `d:<seq>` | hash | the delivery: request, state, attempts, lease |
//! | `a:<seq>` | hash | its runs, by number |
//! | `keys` | hash | delivery key → seq: what recognises a delivery sent again |
//! | `id:<id>` | set | the seqs stored with that id |
//! | `due` | sorted set | queued and retrying seqs, by when they run |
//! | `leases` | sorted set | running seqs, by when their lease ends |
//! | `done`, `dead` | sorted set | finished seqs, by when they finished |
//! | `all` | sorted set | every seq, for listing newest first |
//! | `counts` | hash | deliveries per state and event |
//! | `restarted` | string | runs that were taken over |
//! | `alive` | string | set by every claim and renewal, expiring after a lease |
//!
//! Times that decide between replicas (leases, what is due, retries, when
//! a run ended) are Redis's clock (`TIME`), so replicas whose clocks differ
//! still agree: a replica sends durations (a lease, a retry's wait), and
//! is told how long until the next delivery is due, never a time of its
//! own. Only `received_at` is the receiving replica's, and only shown.
//!
//! Redis's clock goes on while Redis is down (or frozen), so every lease
//! may run out during an outage, through no fault of its holder. A claim
//! or renewal that finds no `alive` key (no claim or renewal reached Redis for a
//! lease) first gives the leases that ran out one more lease, so that
//! their holders, which keep trying, renew them or record their outcome
//! before anyone takes them over. The cost: after every replica was down
//! for longer than a lease, their runs are taken over one lease later.
//!
//! Needs Redis 5 or later (`TIME` and writes in one script, scripts
//! replicated by effects); tested with Redis 7.0.15. One Redis server (with
//! replicas for failover, if wanted): Redis Cluster is not supported.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{FromRedisValue, Script};

use super::admin::{next_run, time_of, Attempt, Details, Filter, Selection, State, Stats, Summary};
use super::store::{Claim, Claimed, Outcome};
use super::stored::{shown_headers, NewDelivery, RawDelivery};
use super::InboxError;

#[cfg(test)]
#[path = "redis_tests.rs"]
mod tests;

/// The longest one operation may take, reconnecting included.
const TIMEOUT: Duration = Duration::from_secs(2);

/// Deliveries read per round trip when listing or selecting.
const PAGE: usize = 500;

/// How far apart the replicas' clocks may be, for listing by time.
const CLOCK_SLACK_MS: i64 = 60_000;

/// Helpers every script starts with. `P` is the key prefix, `KEYS[1]`.
const PRELUDE: &str = r"
local P = KEYS[1]
local function now()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function int(x) return string.format('%.0f', x) end
local INDEX = {queued = 'due', retry = 'due', running = 'leases', done = 'done', dead = 'dead'}
local function count(state, event, by)
  if not state or not event then return end
  local field = state .. '\n' .. event
  if redis.call('HINCRBY', P .. 'counts', field, by) <= 0 then
    redis.call('HDEL', P .. 'counts', field)
  end
end
-- Moves `seq` from state `from` to `to`, its index score `score`.
local function move(seq, from, to, event, score)
  if INDEX[from] then redis.call('ZREM', P .. INDEX[from], seq) end
  redis.call('ZADD', P .. INDEX[to], int(score), seq)
  redis.call('HSET', P .. 'd:' .. seq, 'state', to)
  count(from, event, -1)
  count(to, event, 1)
end
local function attempt(seq, number, started, finished, outcome, err)
  local record = started .. '\n' .. int(finished) .. '\n' .. outcome
  if err then record = record .. '\n' .. err end
  return record
end
-- Called by every claim and renewal, at `t`, with their lease. When none
-- reached Redis for a lease (no `alive` key), Redis was away (or every
-- worker was): the leases that ran out meanwhile did so because their
-- holders could not renew them, not because they died, and get one more.
local function wake(t, lease)
  if redis.call('EXISTS', P .. 'alive') == 0 then
    for _, seq in ipairs(redis.call('ZRANGEBYSCORE', P .. 'leases', '-inf', t)) do
      redis.call('ZADD', P .. 'leases', int(t + lease), seq)
      redis.call('HSET', P .. 'd:' .. seq, 'lease_until', int(t + lease))
    end
  end
  redis.call('SET', P .. 'alive', 1, 'PX', lease)
end
-- Deletes `seq`, its runs, and what points at it.
local function delete(seq)
  local d = P .. 'd:' .. seq
  local f = redis.call('HMGET', d, 'key', 'id', 'state', 'event')
  if f[1] then redis.call('HDEL', P .. 'keys', f[1]) end
  if f[2] then redis.call('SREM', P .. 'id:' .. f[2], seq) end
  if f[3] and INDEX[f[3]] then redis.call('ZREM', P .. INDEX[f[3]], seq) end
  redis.call('ZREM', P .. 'all', seq)
  count(f[3], f[4], -1)
  for _, run in ipairs(redis.call('HVALS', P .. 'a:' .. seq)) do
    if string.match(run, '^[^\n]*\n[^\n]*\ninterrupted') then
      redis.call('DECR', P .. 'restarted')
    end
  end
  redis.call('DEL', d, P .. 'a:' .. seq)
end
";

/// ARGV: key, id, id_assigned, tenant (`=` before it, or empty), event,
/// scheme, method, target, headers, params, body, signed_at (or empty),
/// received_at (the replica's clock: shown, never used to decide). 1
/// stored, 0 already there. It is due now, in Redis's time.
const INSERT: &str = r"
if redis.call('HEXISTS', P .. 'keys', ARGV[1]) == 1 then return 0 end
local t = now()
local seq = redis.call('INCR', P .. 'seq')
local d = P .. 'd:' .. seq
redis.call('HSET', d, 'key', ARGV[1], 'id', ARGV[2], 'id_assigned', ARGV[3], 'event', ARGV[5],
  'scheme', ARGV[6], 'method', ARGV[7], 'target', ARGV[8], 'headers', ARGV[9], 'params', ARGV[10],
  'body', ARGV[11], 'received_at', ARGV[13], 'attempts', 0, 'replayed_at', 0, 'run_at', int(t))
if ARGV[4] ~= '' then redis.call('HSET', d, 'tenant', string.sub(ARGV[4], 2)) end
if ARGV[12] ~= '' then redis.call('HSET', d, 'signed_at', ARGV[12]) end
redis.call('HSET', P .. 'keys', ARGV[1], seq)
redis.call('SADD', P .. 'id:' .. ARGV[2], seq)
redis.call('ZADD', P .. 'all', seq, seq)
move(seq, nil, 'queued', ARGV[5], t)
return 1
";

/// ARGV: owner, n, lease ms. Returns {ms until the next delivery is due
/// (0 when it is overdue; -1 when there is none or `n` were taken),
/// runs...}, each run
/// {seq, attempt, tries, started, {id, event, method, target, headers,
/// params, body, signed_at}}.
const CLAIM: &str = r"
local t = now()
local n = tonumber(ARGV[2])
local runs = {}
local function take(seq, index, expected)
  local d = P .. 'd:' .. seq
  local f = redis.call('HMGET', d, 'state', 'event', 'started_at')
  if not expected[f[1] or ''] then
    -- An index entry that disagrees with its delivery (or has none).
    redis.call('ZREM', P .. index, seq)
    return
  end
  -- A count HINCRBY refuses ('many', '1.5', '1e3', one that would
  -- overflow) would fail the whole script, on every claim; one out of a
  -- run number's range would never be recorded. Either is a dead letter.
  local number = redis.pcall('HINCRBY', d, 'attempts', 1)
  if type(number) ~= 'number' or number < 1 or number > 4294967295 then
    move(seq, f[1], 'dead', f[2], t)
    redis.call('HDEL', d, 'owner', 'lease_until')
    redis.call('HSET', d, 'run_at', int(t), 'finished_at', int(t),
      'last_error', 'the stored attempt count is not a count of runs')
    return
  end
  if f[1] == 'running' then
    -- Counted only when recorded: `delete` counts down what it finds.
    if redis.call('HSETNX', P .. 'a:' .. seq, number - 1, attempt(seq, number - 1, f[3] or int(t), t,
      'interrupted', 'the run did not finish: its lease ran out')) == 1 then
      redis.call('INCR', P .. 'restarted')
    end
  end
  move(seq, f[1], 'running', f[2], t + tonumber(ARGV[3]))
  redis.call('HSET', d, 'owner', ARGV[1], 'lease_until', int(t + tonumber(ARGV[3])), 'started_at', int(t))
  local replayed = tonumber(redis.call('HGET', d, 'replayed_at') or '0') or 0
  runs[#runs + 1] = {tonumber(seq), number, number - replayed, t,
    redis.call('HMGET', d, 'id', 'event', 'method', 'target', 'headers', 'params', 'body', 'signed_at')}
end
wake(t, tonumber(ARGV[3]))
for _, seq in ipairs(redis.call('ZRANGEBYSCORE', P .. 'leases', '-inf', t, 'LIMIT', 0, n)) do
  take(seq, 'leases', {running = true})
end
if #runs < n then
  for _, seq in ipairs(redis.call('ZRANGEBYSCORE', P .. 'due', '-inf', t, 'LIMIT', 0, n - #runs)) do
    take(seq, 'due', {queued = true, retry = true})
  end
end
local next_due = -1
if #runs < n then
  for _, index in ipairs({'due', 'leases'}) do
    local first = redis.call('ZRANGE', P .. index, 0, 0, 'WITHSCORES')
    if first[2] and (next_due < 0 or tonumber(first[2]) < next_due) then next_due = tonumber(first[2]) end
  end
end
if next_due >= 0 then next_due = math.max(0, next_due - t) end
return {next_due, runs}
";

/// ARGV: seq, owner, attempt, lease ms. 1 renewed.
const RENEW: &str = r"
local d = P .. 'd:' .. ARGV[1]
local t = now()
wake(t, tonumber(ARGV[4]))
local f = redis.call('HMGET', d, 'state', 'owner', 'attempts')
if f[1] ~= 'running' or f[2] ~= ARGV[2] or f[3] ~= ARGV[3] then return 0 end
local until_ = t + tonumber(ARGV[4])
redis.call('HSET', d, 'lease_until', int(until_))
redis.call('ZADD', P .. 'leases', int(until_), ARGV[1])
return 1
";

/// ARGV: seq, owner, attempt, started, state (done, retry, dead), ms until
/// it runs again (retry: from now, in Redis's time), error (`=` before it, or empty). 1 recorded, 0 when the run no
/// longer holds its lease.
const FINISH: &str = r"
local seq = ARGV[1]
local d = P .. 'd:' .. seq
local f = redis.call('HMGET', d, 'state', 'owner', 'attempts', 'event')
if f[1] ~= 'running' or f[2] ~= ARGV[2] or f[3] ~= ARGV[3] then return 0 end
local t = now()
local to = ARGV[5]
local err = nil
if ARGV[7] ~= '' then err = string.sub(ARGV[7], 2) end
redis.call('HDEL', d, 'owner', 'lease_until', 'finished_at', 'last_error')
if to == 'retry' then
  local at = t + tonumber(ARGV[6])
  move(seq, 'running', 'retry', f[4], at)
  redis.call('HSET', d, 'run_at', int(at))
else
  move(seq, 'running', to, f[4], t)
  redis.call('HSET', d, 'run_at', int(t), 'finished_at', int(t))
end
if err then redis.call('HSET', d, 'last_error', err) end
redis.call('HSET', P .. 'a:' .. seq, ARGV[3], attempt(seq, ARGV[3], ARGV[4], t, to, err))
return 1
";

/// ARGV: before, chunk. How many done deliveries were deleted (an index
/// entry whose delivery is not done is dropped from the index, and the
/// delivery kept).
const PRUNE: &str = r"
local seqs = redis.call('ZRANGEBYSCORE', P .. 'done', '-inf', '(' .. ARGV[1], 'LIMIT', 0, ARGV[2])
local deleted = 0
for _, seq in ipairs(seqs) do
  if redis.call('HGET', P .. 'd:' .. seq, 'state') == 'done' then
    delete(seq)
    deleted = deleted + 1
  else
    redis.call('ZREM', P .. 'done', seq)
  end
end
return deleted
";

/// What REPLAY and PURGE start with: the selection, checked again on each
/// seq when it is acted on, since it may have changed after its page was
/// listed (replayed and finished again, after `before`). ARGV[1..4]: the
/// states a seq may be in (`,`-joined), finished before (ms, or empty),
/// received since (ms, or empty), the event (`=` before it, or empty).
const SELECTED: &str = r"
local allowed = {}
for state in string.gmatch(ARGV[1], '[^,]+') do allowed[state] = true end
local before, since = tonumber(ARGV[2]), tonumber(ARGV[3])
local event = nil
if ARGV[4] ~= '' then event = string.sub(ARGV[4], 2) end
local FIRST = 5
-- Whether the delivery in hash `d` is selected now; its state and event.
local function selected(d)
  local f = redis.call('HMGET', d, 'state', 'event', 'received_at', 'finished_at')
  if not (f[1] and allowed[f[1]]) then return false end
  if event and f[2] ~= event then return false end
  local received, finished = tonumber(f[3] or ''), tonumber(f[4] or '')
  if since and not (received and received >= since) then return false end
  if before and not (finished and finished < before) then return false end
  return true, f[1], f[2]
end
";

/// [`SELECTED`]'s ARGV, then seqs... Queues each still selected to run
/// now; returns those.
const REPLAY: &str = r"
local t = now()
local replayed = {}
for i = FIRST, #ARGV do
  local seq = ARGV[i]
  local d = P .. 'd:' .. seq
  local ok, state, event = selected(d)
  if ok then
    move(seq, state, 'queued', event, t)
    redis.call('HSET', d, 'run_at', int(t), 'replayed_at', redis.call('HGET', d, 'attempts') or '0')
    redis.call('HDEL', d, 'finished_at')
    replayed[#replayed + 1] = tonumber(seq)
  end
end
return replayed
";

/// [`SELECTED`]'s ARGV, then seqs... Deletes each still selected; returns
/// those.
const PURGE: &str = r"
local purged = {}
for i = FIRST, #ARGV do
  if selected(P .. 'd:' .. ARGV[i]) then
    delete(ARGV[i])
    purged[#purged + 1] = tonumber(ARGV[i])
  end
end
return purged
";

/// The fields a [`Summary`] is read from, in [`summary`]'s order.
const SUMMARY: [&str; 11] = [
    "id",
    "id_assigned",
    "tenant",
    "event",
    "state",
    "attempts",
    "received_at",
    "run_at",
    "lease_until",
    "last_error",
    "finished_at",
];

struct Scripts {
    insert: Script,
    claim: Script,
    renew: Script,
    finish: Script,
    prune: Script,
    replay: Script,
    purge: Script,
}

/// An inbox in Redis under one namespace.
pub(super) struct Redis {
    connection: ConnectionManager,
    /// `{<namespace>}:`
    prefix: String,
    scripts: Scripts,
}

impl fmt::Debug for Redis {
    // The connection is left out: its address may carry a password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redis")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// What a row of fields read back holds: bytes, or nothing.
type Fields = Vec<Option<Vec<u8>>>;

impl Redis {
    /// Connects to `url` and keeps the inbox under `namespace`. The
    /// connection is re-established by itself after Redis went away.
    pub(super) async fn connect(url: &str, namespace: &str) -> Result<Self, InboxError> {
        // The URL may hold a password: it is never shown.
        let failed = |what: &str, source: redis::RedisError| InboxError::Open {
            path: format!("Redis ({what})"),
            source: Box::new(source),
        };
        if let Some(why) = namespace_fault(namespace) {
            return Err(InboxError::Open {
                path: "Redis".into(),
                source: why.into(),
            });
        }
        let client = redis::Client::open(url).map_err(|e| failed("invalid URL", e))?;
        let connection = ConnectionManager::new_with_config(client, connection_config())
            .await
            .map_err(|e| failed("cannot connect", e))?;
        let redis = Self {
            connection,
            prefix: format!("{{{namespace}}}:"),
            scripts: Scripts {
                insert: script(INSERT),
                claim: script(CLAIM),
                renew: script(RENEW),
                finish: script(FINISH),
                prune: script(PRUNE),
                replay: script(&format!("{SELECTED}{REPLAY}")),
                purge: script(&format!("{SELECTED}{PURGE}")),
            },
        };
        redis.check_persistence().await;
        Ok(redis)
    }

    /// Warns when Redis would lose acknowledged deliveries in a crash (when
    /// its configuration can be read at all: managed services often hide
    /// it).
    async fn check_persistence(&self) {
        let mut connection = self.connection.clone();
        let mut get = redis::cmd("CONFIG");
        get.arg("GET").arg("append*");
        let asked = get.query_async::<BTreeMap<String, String>>(&mut connection);
        let Ok(Ok(config)) = tokio::time::timeout(TIMEOUT, asked).await else {
            return;
        };
        let aof = config.get("appendonly").map(String::as_str);
        let fsync = config.get("appendfsync").map(String::as_str);
        if aof != Some("yes") || fsync != Some("always") {
            tracing::warn!(
                target: "actix_webhook::inbox",
                appendonly = aof.unwrap_or("?"),
                appendfsync = fsync.unwrap_or("?"),
                "Redis may lose acknowledged deliveries when it crashes: run it with `appendonly yes` and `appendfsync always`"
            );
        }
    }

    /// Runs `script` with `args`, within the timeout.
    async fn run<T: FromRedisValue>(
        &self,
        script: &Script,
        args: &[&[u8]],
    ) -> Result<T, InboxError> {
        let mut invocation = script.key(&self.prefix);
        for arg in args {
            invocation.arg(*arg);
        }
        let mut connection = self.connection.clone();
        within(invocation.invoke_async(&mut connection)).await
    }

    /// Sends `pipe` within the timeout.
    async fn query<T: FromRedisValue>(&self, pipe: &redis::Pipeline) -> Result<T, InboxError> {
        let mut connection = self.connection.clone();
        within(pipe.query_async(&mut connection)).await
    }

    fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    pub(super) async fn insert(&self, d: NewDelivery) -> Result<bool, InboxError> {
        let tenant = d
            .tenant
            .as_ref()
            .map(|t| format!("={t}"))
            .unwrap_or_default();
        let signed_at = d.signed_at.map(|t| t.to_string()).unwrap_or_default();
        let stored: i64 = self
            .run(
                &self.scripts.insert,
                &[
                    d.key.as_bytes(),
                    d.id.as_bytes(),
                    if d.id_assigned { b"1" } else { b"0" },
                    tenant.as_bytes(),
                    d.event.as_bytes(),
                    d.scheme.as_bytes(),
                    d.method.as_bytes(),
                    d.target.as_bytes(),
                    &d.headers,
                    d.params.as_bytes(),
                    &d.body,
                    signed_at.as_bytes(),
                    d.received_at.to_string().as_bytes(),
                ],
            )
            .await?;
        Ok(stored == 1)
    }

    pub(super) async fn claim(
        &self,
        owner: i64,
        n: usize,
        _limit: usize,
        lease_ms: i64,
    ) -> Result<Claimed, InboxError> {
        type Run = (i64, i64, i64, i64, Fields);
        let (next_due, runs): (i64, Vec<Run>) = self
            .run(
                &self.scripts.claim,
                &[
                    owner.to_string().as_bytes(),
                    n.to_string().as_bytes(),
                    lease_ms.to_string().as_bytes(),
                ],
            )
            .await?;
        let mut claimed = Claimed {
            runs: Vec::with_capacity(runs.len()),
            damaged: Vec::new(),
            next_due: (next_due >= 0).then_some(next_due),
        };
        for (seq, attempt, tries, started_at, fields) in runs {
            match claim_of(seq, attempt, tries, started_at, fields) {
                Ok(run) => claimed.runs.push(run),
                Err(why) => {
                    // Written by hand or by another program: a dead letter,
                    // not a stopped worker.
                    let attempt = u32::try_from(attempt).unwrap_or_default();
                    let dead = Outcome::Dead { error: why.clone() };
                    if let Err(error) = self.finish(seq, owner, attempt, started_at, dead).await {
                        // Taken over after its lease, and tried again.
                        tracing::error!(target: "actix_webhook::inbox", seq, %error, "a damaged delivery could not be made a dead letter");
                    }
                    claimed.damaged.push((seq, why));
                }
            }
        }
        Ok(claimed)
    }

    pub(super) async fn renew(
        &self,
        seq: i64,
        owner: i64,
        attempt: u32,
        lease_ms: i64,
    ) -> Result<(), InboxError> {
        let args = [
            seq.to_string(),
            owner.to_string(),
            attempt.to_string(),
            lease_ms.to_string(),
        ];
        let _: i64 = self.run(&self.scripts.renew, &bytes(&args)).await?;
        Ok(())
    }

    pub(super) async fn finish(
        &self,
        seq: i64,
        owner: i64,
        attempt: u32,
        started_at: i64,
        outcome: Outcome,
    ) -> Result<bool, InboxError> {
        let (state, after, error) = match outcome {
            Outcome::Done => (State::Done, 0, None),
            Outcome::Retry { after, error } => (State::Retry, millis(after), Some(error)),
            Outcome::Dead { error } => (State::Dead, 0, Some(error)),
        };
        let args = [
            seq.to_string(),
            owner.to_string(),
            attempt.to_string(),
            started_at.to_string(),
            state.as_str().to_owned(),
            after.to_string(),
            error.map(|e| format!("={e}")).unwrap_or_default(),
        ];
        let recorded: i64 = self.run(&self.scripts.finish, &bytes(&args)).await?;
        Ok(recorded == 1)
    }

    pub(super) async fn prune(&self, before: i64, chunk: u32) -> Result<u64, InboxError> {
        let args = [before.to_string(), chunk.to_string()];
        let pruned: u64 = self.run(&self.scripts.prune, &bytes(&args)).await?;
        Ok(pruned)
    }

    pub(super) async fn stats(&self) -> Result<Stats, InboxError> {
        let (counts, restarted): (BTreeMap<String, i64>, Option<i64>) = self
            .query(
                redis::pipe()
                    .cmd("HGETALL")
                    .arg(self.key("counts"))
                    .cmd("GET")
                    .arg(self.key("restarted")),
            )
            .await?;
        let mut stats = Stats::default();
        for (field, count) in counts {
            let count = count.unsigned_abs();
            let Some((state, event)) = field.split_once('\n') else {
                continue;
            };
            let Ok(state) = state.parse::<State>() else {
                continue;
            };
            stats.add(state, event.to_owned(), count);
        }
        stats.restarted_runs = u64::try_from(restarted.unwrap_or_default()).unwrap_or(0);
        Ok(stats)
    }

    /// Reads the summaries of `seqs` (those still there), in their order.
    async fn summaries(
        &self,
        seqs: &[i64],
    ) -> Result<Vec<(i64, Summary, Option<i64>)>, InboxError> {
        let mut pipe = redis::pipe();
        for seq in seqs {
            pipe.cmd("HMGET")
                .arg(self.key(&format!("d:{seq}")))
                .arg(&SUMMARY[..]);
        }
        let rows: Vec<Fields> = self.query(&pipe).await?;
        Ok(seqs
            .iter()
            .zip(rows)
            .filter(|(_, row)| row.iter().any(Option::is_some))
            .map(|(&seq, row)| {
                let finished_at = number(&row[10]);
                (seq, summary(&row), finished_at)
            })
            .collect())
    }

    pub(super) async fn list(&self, filter: Filter) -> Result<Vec<Summary>, InboxError> {
        let limit = filter.limit as usize;
        let since = filter.since.map(|t| t.timestamp_millis());
        let mut found = Vec::new();
        // Newest first, a page at a time, from below the last seq seen.
        let mut below = String::from("+inf");
        while found.len() < limit {
            let mut connection = self.connection.clone();
            let page: Vec<i64> = within(
                redis::cmd("ZREVRANGEBYSCORE")
                    .arg(self.key("all"))
                    .arg(&below)
                    .arg("-inf")
                    .arg("LIMIT")
                    .arg(0)
                    .arg(PAGE)
                    .query_async(&mut connection),
            )
            .await?;
            let Some(&last) = page.last() else { break };
            below = format!("({last}");
            let mut newest = None;
            for (_, summary, _) in self.summaries(&page).await? {
                let received = summary.received_at.timestamp_millis();
                newest = newest.max(Some(received));
                if filter.state.is_some_and(|state| state != summary.state)
                    || filter.event.as_ref().is_some_and(|e| *e != summary.event)
                    || since.is_some_and(|t| received < t)
                {
                    continue;
                }
                found.push(summary);
                if found.len() == limit {
                    break;
                }
            }
            // Older seqs were received earlier (give or take the replicas'
            // clocks): past a page received wholly before `since`, nothing
            // more matches.
            if let (Some(since), Some(newest)) = (since, newest) {
                if newest < since.saturating_sub(CLOCK_SLACK_MS) {
                    break;
                }
            }
        }
        Ok(found)
    }

    pub(super) async fn show(&self, id: String) -> Result<Vec<Details>, InboxError> {
        let mut seqs: Vec<i64> = self
            .query(
                redis::pipe()
                    .cmd("SMEMBERS")
                    .arg(self.key(&format!("id:{id}"))),
            )
            .await
            .map(|(seqs,): (Vec<i64>,)| seqs)?;
        if seqs.is_empty() {
            return Ok(Vec::new());
        }
        seqs.sort_unstable();
        let mut pipe = redis::pipe();
        for seq in &seqs {
            pipe.cmd("HMGET")
                .arg(self.key(&format!("d:{seq}")))
                .arg(&SUMMARY[..])
                .arg(&["scheme", "method", "target", "headers", "body"][..]);
            pipe.cmd("HGETALL").arg(self.key(&format!("a:{seq}")));
        }
        let rows: Vec<redis::Value> = self.query(&pipe).await?;
        let mut shown = Vec::new();
        for pair in rows.chunks(2) {
            let [row, runs] = pair else { continue };
            let row = Fields::from_redis_value(row.clone()).map_err(|e| storage(Box::new(e)))?;
            if row.iter().all(Option::is_none) {
                continue;
            }
            let runs: BTreeMap<u32, Vec<u8>> =
                FromRedisValue::from_redis_value(runs.clone()).map_err(|e| storage(Box::new(e)))?;
            let field = |i: usize| row.get(i).cloned().flatten().unwrap_or_default();
            let headers = shown_headers(&field(14));
            shown.push(Details {
                summary: summary(&row),
                scheme: lossy(&field(11)),
                method: lossy(&field(12)),
                target: lossy(&field(13)),
                headers,
                body: field(15).into(),
                attempts: runs
                    .into_iter()
                    .map(|(number, record)| attempt_of(number, &record))
                    .collect(),
            });
        }
        Ok(shown)
    }

    /// The deliveries `selection` picks in `states`, oldest first.
    async fn select(
        &self,
        selection: &Selection,
        states: &[State],
    ) -> Result<Vec<(i64, Summary)>, InboxError> {
        let candidates: Vec<i64> = if let Some(id) = &selection.id {
            let (seqs,): (Vec<i64>,) = self
                .query(
                    redis::pipe()
                        .cmd("SMEMBERS")
                        .arg(self.key(&format!("id:{id}"))),
                )
                .await?;
            seqs
        } else {
            let before = selection
                .finished_before
                .map_or("+inf".to_owned(), |t| format!("({}", t.timestamp_millis()));
            let mut pipe = redis::pipe();
            for state in states {
                pipe.cmd("ZRANGEBYSCORE")
                    .arg(self.key(state.as_str()))
                    .arg("-inf")
                    .arg(&before);
            }
            let found: Vec<Vec<i64>> = self.query(&pipe).await?;
            found.into_iter().flatten().collect()
        };
        let mut candidates = candidates;
        candidates.sort_unstable();
        let since = selection.since.map(|t| t.timestamp_millis());
        let before = selection.finished_before.map(|t| t.timestamp_millis());
        let mut picked = Vec::new();
        for page in candidates.chunks(PAGE) {
            for (seq, summary, finished_at) in self.summaries(page).await? {
                let keep = states.contains(&summary.state)
                    && selection.event.as_ref().is_none_or(|e| *e == summary.event)
                    && since.is_none_or(|t| summary.received_at.timestamp_millis() >= t)
                    && before.is_none_or(|t| finished_at.is_some_and(|f| f < t));
                if keep {
                    picked.push((seq, summary));
                }
            }
        }
        Ok(picked)
    }

    pub(super) async fn replay(
        &self,
        selection: Selection,
        dry_run: bool,
    ) -> Result<Vec<Summary>, InboxError> {
        let states = selection.replay_states();
        let picked = self.select(&selection, states).await?;
        if dry_run {
            return Ok(picked.into_iter().map(|(_, summary)| summary).collect());
        }
        let done = self
            .each_page(&self.scripts.replay, &selection, states, &picked)
            .await?;
        Ok(picked
            .into_iter()
            .filter(|(seq, _)| done.contains(seq))
            .map(|(_, summary)| summary)
            .collect())
    }

    pub(super) async fn purge(&self, selection: Selection) -> Result<u64, InboxError> {
        let states = selection.purge_states();
        let picked = self.select(&selection, states).await?;
        let purged = self
            .each_page(&self.scripts.purge, &selection, states, &picked)
            .await?;
        Ok(purged.len() as u64)
    }

    /// Runs `script` (REPLAY or PURGE) on the `picked` deliveries that
    /// `selection` still selects in `states` (checked again in the script:
    /// one may have finished again since it was listed), a page at a time;
    /// the seqs it acted on.
    async fn each_page(
        &self,
        script: &Script,
        selection: &Selection,
        states: &[State],
        picked: &[(i64, Summary)],
    ) -> Result<std::collections::HashSet<i64>, InboxError> {
        let ms = |t: Option<chrono::DateTime<chrono::Utc>>| {
            t.map(|t| t.timestamp_millis().to_string())
                .unwrap_or_default()
        };
        let selected = [
            joined(states),
            ms(selection.finished_before),
            ms(selection.since),
            selection
                .event
                .as_ref()
                .map(|e| format!("={e}"))
                .unwrap_or_default(),
        ];
        let mut done = std::collections::HashSet::new();
        for page in picked.chunks(PAGE) {
            let mut args = selected.to_vec();
            args.extend(page.iter().map(|(seq, _)| seq.to_string()));
            let acted: Vec<i64> = self.run(script, &bytes(&args)).await?;
            done.extend(acted);
        }
        Ok(done)
    }
}

/// The connection settings: short timeouts, so that a dead Redis shows as
/// an error (and a 503) quickly, and reconnecting by itself.
fn connection_config() -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_response_timeout(Some(Duration::from_millis(1500)))
        .set_connection_timeout(Some(Duration::from_millis(500)))
        .set_number_of_retries(1)
        .set_min_delay(Duration::from_millis(50))
        .set_max_delay(Duration::from_millis(500))
}

/// What is wrong with `namespace`, if anything: it is empty, or holds a
/// brace, which would make Redis hash only part of the key prefix (another
/// namespace's keys could then share it, or a script's keys lie in several
/// slots).
fn namespace_fault(namespace: &str) -> Option<&'static str> {
    if namespace.is_empty() {
        Some("the namespace is empty")
    } else if namespace.contains(['{', '}']) {
        Some("the namespace holds `{` or `}`: use one without braces")
    } else {
        None
    }
}

fn script(body: &str) -> Script {
    Script::new(&format!("{PRELUDE}{body}"))
}

async fn within<T>(
    work: impl std::future::Future<Output = redis::RedisResult<T>>,
) -> Result<T, InboxError> {
    match tokio::time::timeout(TIMEOUT, work).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(storage(Box::new(error))),
        Err(_) => Err(storage(
            format!("Redis did not answer within {TIMEOUT:?}").into(),
        )),
    }
}

fn storage(error: Box<dyn std::error::Error + Send + Sync>) -> InboxError {
    InboxError::Storage(error)
}

fn bytes(args: &[String]) -> Vec<&[u8]> {
    args.iter().map(String::as_bytes).collect()
}

fn joined(states: &[State]) -> String {
    states
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// Milliseconds, at most as many as Lua's numbers hold exactly (a century
/// and more).
fn millis(duration: Duration) -> i64 {
    const MAX: i64 = 1 << 52;
    i64::try_from(duration.as_millis()).map_or(MAX, |ms| ms.min(MAX))
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn number(field: &Option<Vec<u8>>) -> Option<i64> {
    std::str::from_utf8(field.as_deref()?).ok()?.parse().ok()
}

/// A listed delivery from the [`SUMMARY`] fields, whatever they hold (an
/// unknown state is shown as dead: nothing runs it).
fn summary(row: &[Option<Vec<u8>>]) -> Summary {
    let get = |i: usize| row.get(i).and_then(Option::as_ref);
    let text = |i: usize| get(i).map(|b| lossy(b));
    let int = |i: usize| row.get(i).and_then(number);
    let state = text(4).and_then(|s| s.parse().ok()).unwrap_or(State::Dead);
    Summary {
        id: text(0).unwrap_or_default(),
        id_assigned: get(1).is_some_and(|b| b.as_slice() == b"1"),
        tenant: text(2),
        event: text(3).unwrap_or_default(),
        state,
        attempts: int(5)
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or_default(),
        received_at: time_of(int(6).unwrap_or_default()),
        next_run: next_run(state, int(7), int(8)),
        last_error: text(9),
    }
}

/// A run of `seq` from what the claim script returned, or why it does not
/// read as one.
fn claim_of(
    seq: i64,
    attempt: i64,
    tries: i64,
    started_at: i64,
    fields: Fields,
) -> Result<Claim, String> {
    let mut fields = fields.into_iter();
    let mut next = |name: &str| {
        fields
            .next()
            .flatten()
            .ok_or_else(|| format!("the stored delivery has no {name}"))
    };
    let text = |bytes: Vec<u8>, name: &str| {
        String::from_utf8(bytes).map_err(|_| format!("the stored {name} is not UTF-8"))
    };
    let id = text(next("id")?, "id")?;
    let event = text(next("event")?, "event")?;
    let method = text(next("method")?, "method")?;
    let target = text(next("target")?, "target")?;
    let headers = next("headers")?;
    let params = text(next("params")?, "params")?;
    let body = next("body")?;
    let signed_at = match next("signed_at") {
        Ok(t) => Some(
            text(t, "signed time")?
                .parse()
                .map_err(|_| "the stored signed time is not a number")?,
        ),
        Err(_) => None,
    };
    let raw = RawDelivery {
        id,
        event,
        method,
        target,
        headers,
        params,
        body,
        signed_at,
    };
    Claim::new(seq, attempt, tries, started_at, raw)
}

/// A run as the scripts record it: `started\nfinished\noutcome[\nerror]`.
fn attempt_of(number: u32, record: &[u8]) -> Attempt {
    let record = String::from_utf8_lossy(record);
    let mut parts = record.splitn(4, '\n');
    let mut time = || {
        time_of(
            parts
                .next()
                .and_then(|t| t.parse().ok())
                .unwrap_or_default(),
        )
    };
    let started_at = time();
    let finished_at = time();
    Attempt {
        number,
        started_at,
        finished_at,
        outcome: parts.next().unwrap_or_default().to_owned(),
        error: parts.next().map(str::to_owned),
    }
}
