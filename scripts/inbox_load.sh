#!/usr/bin/env bash
# Load test of the inbox: the same `*` handler of examples/inbox.rs mounted
# inline (INLINE=1: run inside the request, answered after it) and in inbox
# mode (stored durably, answered 202, run by 4 workers after): in SQLite,
# and in Redis with one replica or two sharing it. Everything runs on
# 127.0.0.1 with actix-web's default workers (one per core), driven by wrk
# at 64 connections with signed 1 KiB Standard Webhooks deliveries, each a
# distinct delivery id. The sides take turns over several rounds; each run
# starts a fresh server (and a fresh inbox file, or a fresh Redis).
#
# wrk runs a Lua script written here (to $OUT/inbox_load.lua), not
# scripts/loadtest.lua: that one loads the whole requests file in each
# thread's init, and wrk starts each thread as soon as its init returns but
# its clock only after the last one, so the first thread sends for seconds
# before the clock starts and the rate comes out too high. This one reads
# each request from the file as it sends it.
#
#   scripts/inbox_load.sh
#   SIDES="inline inbox redis redis2" scripts/inbox_load.sh
#
# Prints, per run and as medians: acknowledgements per second, ack p50 and
# p99, each side's rate as a ratio of the inline side's; for inbox runs,
# deliveries per second the workers finish while the load runs and after it
# (until the backlog is drained), how many were stored, and the CPU seconds
# each server thread used during the load and spent waiting for a CPU
# (/proc schedstat); for Redis runs, Redis's own CPU seconds during the load
# (its process, its threads and their waits for a CPU, and its append-only
# file rewrites, from /proc), its script calls and the time it spent in them
# (INFO commandstats), the bytes it took in per read from its clients, and
# the memory it holds per delivery stored; the
# machine's load average at each run. Writes everything to $OUT.
#
# Sides (SIDES, default `inline inbox`):
# - inline: the router without an inbox;
# - inbox: Inbox::sqlite (durable before the 202);
# - unsynced: Inbox::sqlite_unsynced;
# - store: Inbox::sqlite without workers (only stored);
# - redis: Inbox::redis on a redis-server this script starts on 127.0.0.1
#   (REDIS_PORT) in a temporary directory of its own, with
#   `--appendonly yes --appendfsync always` (durable before the 202, like
#   SQLite's FULL) and `--save ''`, started afresh for every run (its files
#   deleted); redis-server is installed with apt-get if missing;
# - redis2: two copies of the example (PORT and PORT + 1) sharing that
#   Redis, as two replicas: two wrk processes, each with half the
#   connections and half the wrk threads (at least one), each on its own
#   half of the signed requests (so every delivery id is sent once). The
#   acks/s is their sum, p50 and p99 the worse of the two; both replicas'
#   workers drain.
# Redis sides are not in the default: each adds a drain and a Redis to
# every round (see docs/PERFORMANCE.md, "Redis inbox").
#
# Settings (environment): ROUNDS (3), DURATION seconds per run (3),
# CONNECTIONS (64), THREADS of wrk (2), REQUESTS signed per round (400000;
# a run that sends them all stops early and is flagged), OUT
# (target/inbox-load), PORT (18090; redis2 uses PORT + 1 too), REDIS_PORT
# (18190), DRAIN_TIMEOUT seconds to wait for the backlog (300), SIDES (see
# above), CONCURRENCY (handlers the inbox workers run at once per process;
# the example's default 4; at 0 no worker runs and nothing is drained),
# APPENDFSYNC (Redis's appendfsync, `always`; `everysec` or `no` show what
# the sync per write costs). SYNCS=1 counts the fsync/fdatasync calls
# during the load of the process that syncs (the server for SQLite,
# redis-server for Redis) with perf's syscall tracepoints (linux-perf
# installed if missing; they cost the traced process nothing measurable),
# so that commits per second can be read off.
# PROFILE=1 records Redis during the load of each Redis run (`perf record
# --call-graph dwarf`, 499 Hz) into $OUT/perf-SIDE-ROUND.data, for `perf
# report -i`; it costs Redis CPU, so the figures of those runs are not for
# the tables.
set -euo pipefail

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-3}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
REQUESTS=${REQUESTS:-400000}
OUT=${OUT:-target/inbox-load}
PORT=${PORT:-18090}
REDIS_PORT=${REDIS_PORT:-18190}
APPENDFSYNC=${APPENDFSYNC:-always}
DRAIN_TIMEOUT=${DRAIN_TIMEOUT:-300}
SIDES=${SIDES:-inline inbox}
SYNCS=${SYNCS:-0}
PROFILE=${PROFILE:-0}
# The example's workers: CONCURRENCY is passed on to it (default 4); at 0
# there is nothing to drain.
WORKERS=${CONCURRENCY:-4}

# The example's Redis namespace, and so the prefix of its keys.
NAMESPACE=webhook-inbox
KEYS="{$NAMESPACE}:"

cd "$(dirname "$0")/.."
mkdir -p "$OUT"
read -ra sides <<<"$SIDES"
uses_redis=0
for side in "${sides[@]}"; do
    case $side in
    inline | inbox | unsynced | store) ;;
    redis | redis2) uses_redis=1 ;;
    *)
        echo "unknown side $side" >&2
        exit 1
        ;;
    esac
done

if ! command -v wrk >/dev/null; then
    echo "installing wrk" >&2
    apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi
if [[ $uses_redis == 1 ]] && ! command -v redis-server >/dev/null; then
    echo "installing redis-server" >&2
    apt-get update -qq && apt-get install -y -qq redis-server >/dev/null
fi
if [[ $SYNCS == 1 || $PROFILE == 1 ]] && ! command -v perf >/dev/null; then
    echo "installing perf" >&2
    apt-get update -qq && apt-get install -y -qq linux-perf >/dev/null
fi

# The wrk script (see its header for why not scripts/loadtest.lua).
cat >"$OUT/inbox_load.lua" <<'LUA'
-- wrk script of scripts/inbox_load.sh (written by it): replays pre-signed
-- requests, each a distinct delivery, and prints one machine-readable line
-- at the end.
--
--   wrk -s inbox_load.lua URL -- REQUESTS_FILE FIRST COUNT THREADS
--
-- REQUESTS_FILE (from `hand_written --requests N`): a line "LENGTH TOTAL",
-- then TOTAL raw requests of LENGTH bytes. This wrk sends requests FIRST
-- to FIRST + COUNT - 1, thread k of THREADS a contiguous k-th part, and a
-- thread stops when it has sent its part, so no delivery id is sent twice.
-- Each request is read from the file when it is sent: init reads nothing,
-- so the first thread does not send while the next ones load the file
-- (wrk starts each thread as soon as its init returns, and its clock only
-- after the last one).

local next_thread = 0

function setup(thread)
  thread:set("thread_index", next_thread)
  next_thread = next_thread + 1
end

function init(args)
  local path, first, count, threads = args[1], tonumber(args[2]), tonumber(args[3]), tonumber(args[4])
  file = assert(io.open(path, "rb"))
  local header = file:read("*l")
  local size, total = header:match("^(%d+) (%d+)$")
  length = tonumber(size)
  assert(count >= threads and first + count <= tonumber(total), "not enough signed requests")
  local from = first + math.floor(count * thread_index / threads)
  left = first + math.floor(count * (thread_index + 1) / threads) - from
  assert(file:seek("set", #header + 1 + from * length))
  last = nil
end

function request()
  if left > 0 then
    left = left - 1
    last = file:read(length)
  end
  if left == 0 then
    wrk.thread:stop()
  end
  return last
end

function done(summary, latency, requests)
  local seconds = summary.duration / 1e6
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout
  io.write(string.format("RESULT rps=%.1f p50_us=%d p99_us=%d requests=%d errors=%d seconds=%.2f\n",
    summary.requests / seconds, latency:percentile(50), latency:percentile(99),
    summary.requests, errors, seconds))
end
LUA

echo "building (release)" >&2
cargo build --release --quiet --features sqlite,redis --example inbox --example hand_written
bin=target/release/examples

server_pids=()
wrk_pids=()
tracer_pids=()
redis_pid=""
redis_dir=""
stop_tracers() {
    local pid
    for pid in "${tracer_pids[@]}"; do
        kill -INT "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    tracer_pids=()
}
stop_servers() {
    stop_tracers
    local pid
    for pid in "${server_pids[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    server_pids=()
}
stop_redis() {
    if [[ -n $redis_pid ]]; then
        kill "$redis_pid" 2>/dev/null || true
        wait "$redis_pid" 2>/dev/null || true
        redis_pid=""
    fi
    if [[ -n $redis_dir ]]; then
        rm -rf "$redis_dir"
        redis_dir=""
    fi
}
cleanup() {
    local pid
    for pid in "${wrk_pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    stop_servers
    stop_redis
    rm -f "$OUT/requests.txt" "$OUT"/inbox.db*
}
trap cleanup EXIT

# Whether something answers at 127.0.0.1:$1.
answers() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Starts the example on port $1 with the rest as its environment and waits
# (at most 10 s) until its port answers.
start_server() {
    local port=$1
    shift
    if answers "$port"; then
        echo "something already listens on port $port: set PORT" >&2
        exit 1
    fi
    env PORT="$port" QUIET=1 "$@" "$bin/inbox" >"$OUT/server-$port.log" 2>&1 &
    server_pids+=($!)
    for _ in $(seq 100); do
        if answers "$port"; then
            return 0
        fi
        sleep 0.1
    done
    echo "the server did not start; see $OUT/server-$port.log" >&2
    exit 1
}

# Starts a fresh redis-server (empty, in a new temporary directory) and
# waits (at most 10 s) until it answers PING.
start_redis() {
    stop_redis
    if answers "$REDIS_PORT"; then
        echo "something already listens on port $REDIS_PORT: set REDIS_PORT" >&2
        exit 1
    fi
    redis_dir=$(mktemp -d "${TMPDIR:-/tmp}/inbox-load-redis.XXXXXX")
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$redis_dir" \
        --appendonly yes --appendfsync "$APPENDFSYNC" --save '' \
        --logfile "$redis_dir/redis.log" &
    redis_pid=$!
    for _ in $(seq 100); do
        if [[ $(redis-cli -p "$REDIS_PORT" PING 2>/dev/null) == PONG ]]; then
            return 0
        fi
        sleep 0.1
    done
    echo "redis-server did not start; see $redis_dir/redis.log" >&2
    exit 1
}

# CPU seconds (user + system) used so far by each thread of the processes
# $@, summed by thread name: "name=seconds ...".
thread_cpu() {
    local tick pid task
    tick=$(getconf CLK_TCK)
    for pid in "$@"; do
        for task in /proc/"$pid"/task/*; do
            # comm may hold spaces; the fields after it are counted from its ')'.
            local stat comm
            stat=$(<"$task/stat") || continue
            comm=${stat#*(}
            comm=${comm%)*}
            comm=${comm//[^A-Za-z0-9_-]/_}
            local fields
            read -ra fields <<<"${stat##*) }"
            # utime and stime: fields 14 and 15 of the whole line.
            echo "$comm ${fields[11]} ${fields[12]}"
        done
    done | awk -v tick="$tick" '{ cpu[$1] += ($2 + $3) / tick }
        END { for (n in cpu) printf "%s=%.2f ", n, cpu[n] }'
}

# Seconds each thread of the processes $@ has spent so far runnable but
# waiting for a CPU (the second field of its schedstat), summed by thread
# name: "name=seconds ...".
thread_wait() {
    local pid task
    for pid in "$@"; do
        for task in /proc/"$pid"/task/*; do
            local comm times
            comm=$(<"$task/comm") || continue
            times=$(<"$task/schedstat") || continue
            echo "${comm//[^A-Za-z0-9_-]/_} $times"
        done
    done | awk '{ wait[$1] += $3 / 1e9 } END { for (n in wait) printf "%s=%.2f ", n, wait[n] }'
}

# CPU seconds of process $1 as a whole: "own children", where children is
# what its children used, finished or running (Redis's append-only file
# rewrites).
process_cpu() {
    local stat fields child children=0
    stat=$(<"/proc/$1/stat")
    read -ra fields <<<"${stat##*) }"
    # utime, stime, cutime, cstime: fields 14 to 17 of the whole line.
    children=$((fields[13] + fields[14]))
    for child in $(ps -o pid= --ppid "$1" || true); do
        local own
        own=$(<"/proc/$child/stat") || continue
        read -ra own <<<"${own##*) }"
        children=$((children + own[11] + own[12]))
    done
    awk -v tick="$(getconf CLK_TCK)" -v u="${fields[11]}" -v s="${fields[12]}" -v c="$children" \
        'BEGIN { printf "%.2f %.2f", (u + s) / tick, c / tick }'
}

# The differences between two "name=value ..." lists, as "prefix_name=d ...".
cpu_delta() {
    awk -v before="$1" -v after="$2" -v prefix="$3" 'BEGIN {
        n = split(before, b, " "); for (i = 1; i <= n; i++) { split(b[i], kv, "="); was[kv[1]] = kv[2] }
        n = split(after, a, " ")
        for (i = 1; i <= n; i++) { split(a[i], kv, "="); printf "%s_%s=%.2f ", prefix, kv[1], kv[2] - was[kv[1]] }
    }'
}

# Redis's script calls so far and the microseconds it spent in them, the
# reads from its clients and the bytes they brought: "calls usec reads
# bytes" (INFO commandstats, EVAL and EVALSHA together; INFO stats).
redis_scripts() {
    redis-cli -p "$REDIS_PORT" INFO all | tr -d '\r' | awk -F'[:,=]' '
        $1 == "cmdstat_evalsha" || $1 == "cmdstat_eval" { calls += $3; usec += $5 }
        $1 == "total_reads_processed" { reads = $2 }
        $1 == "total_net_input_bytes" { bytes = $2 }
        END { printf "%d %d %d %d", calls, usec, reads, bytes }'
}

# Field $2 of Redis's INFO section $1.
redis_info() {
    redis-cli -p "$REDIS_PORT" INFO "$1" | tr -d '\r' | awk -F: -v f="$2" '$1 == f { print $2 }'
}

# The machine's CPU counters: "busy idle iowait" in ticks, all cores.
machine_cpu() {
    awk '/^cpu / { busy = $2 + $3 + $4 + $7 + $8 + $9; print busy, $5, $6 }' /proc/stat
}

# Counts the deliveries of the inbox file $1 by state, and with `drain`
# waits until none is left to run (or DRAIN_TIMEOUT) and prints how fast
# they were done.
sqlite_counts() {
    python3 - "$@" <<'PY'
import sqlite3, sys, time

db, mode = sys.argv[1], sys.argv[2]
conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)

def counts():
    rows = dict(conn.execute(
        "SELECT state, COUNT(*) FROM inbox_deliveries GROUP BY state").fetchall())
    done = rows.get("done", 0)
    dead = rows.get("dead", 0)
    total = sum(rows.values())
    return total, done, dead, total - done - dead

if mode == "now":
    total, done, dead, pending = counts()
    print(f"{time.time():.3f} {total} {done} {dead} {pending}")
else:
    # drain: argv[3] = the time the load ended, argv[4] = done then,
    # argv[5] = the timeout in seconds.
    ended, done_then, timeout = float(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
    while True:
        total, done, dead, pending = counts()
        now = time.time()
        if pending == 0 or now - ended > timeout:
            break
        time.sleep(0.1)
    seconds = max(now - ended, 1e-3)
    print(f"stored={total} done={done} dead={dead} left={pending} "
          f"drain_s={seconds:.2f} drain_after={(done - done_then) / seconds:.1f}")
PY
}

# The Redis inbox's deliveries by state, as sqlite_counts does: with `now`,
# "time total done dead pending" (pending: due or leased); with `drain`
# (and the time the load ended, done then), waits until none is pending (or
# DRAIN_TIMEOUT) and prints how fast they were done.
redis_counts() {
    local mode=$1 now counts total finished dead pending
    while :; do
        now=$(date +%s.%N)
        mapfile -t counts < <(printf 'ZCARD %s\n' "${KEYS}all" "${KEYS}done" "${KEYS}dead" \
            "${KEYS}due" "${KEYS}leases" | redis-cli -p "$REDIS_PORT" | tr -d '\r')
        total=${counts[0]} finished=${counts[1]} dead=${counts[2]}
        pending=$((counts[3] + counts[4]))
        if [[ $mode == now ]]; then
            echo "$now $total $finished $dead $pending"
            return 0
        fi
        if ((pending == 0)) || awk -v now="$now" -v ended="$2" -v t="$DRAIN_TIMEOUT" \
            'BEGIN { exit !(now - ended > t) }'; then
            break
        fi
        sleep 0.1
    done
    awk -v now="$now" -v ended="$2" -v then="$3" -v total="$total" -v finished="$finished" \
        -v dead="$dead" -v left="$pending" 'BEGIN {
        seconds = now - ended; if (seconds < 1e-3) seconds = 1e-3
        # unindexed: stored but in the index of no state (0 unless one was lost).
        printf "stored=%d done=%d dead=%d left=%d unindexed=%d drain_s=%.2f drain_after=%.1f",
            total, finished, dead, left, total - finished - dead - left, seconds, (finished - then) / seconds
    }'
}

# Runs wrk on port $1 with $2 connections and $3 threads, sending signed
# requests $4 to $4 + $5 - 1; prints its RESULT line.
run_wrk() {
    wrk -t"$3" -c"$2" -d"${DURATION}s" --timeout 10s \
        -s "$OUT/inbox_load.lua" "http://127.0.0.1:$1/webhooks" \
        -- "$OUT/requests.txt" "$4" "$5" "$3" | grep '^RESULT'
}

# Runs one side: fresh server(s) (and inbox), wrk, (inbox) drain. Appends a
# line to results.
run_side() {
    local side=$1 round=$2
    local env_args=() replicas=1 store=sqlite inbox_at
    case $side in
    inline) env_args=(INLINE=1) ;;
    inbox) ;;
    unsynced) env_args=(UNSYNCED=1) ;;
    store) env_args=(CONCURRENCY=0) ;;
    redis) store=redis ;;
    redis2) store=redis replicas=2 ;;
    esac
    if [[ $store == redis ]]; then
        start_redis
        inbox_at="redis://127.0.0.1:$REDIS_PORT/"
    else
        rm -f "$OUT"/inbox.db*
        inbox_at="$OUT/inbox.db"
    fi
    local r
    for ((r = 0; r < replicas; r++)); do
        start_server $((PORT + r)) INBOX="$inbox_at" NAMESPACE="$NAMESPACE" "${env_args[@]}"
    done
    # The 1-minute load average (this script's own runs count in it) and
    # how many compilers are running beside it.
    local load builds
    load=$(cut -d' ' -f1 /proc/loadavg)
    # shellcheck disable=SC2009 # pgrep refuses patterns over 15 characters
    builds=$(ps -eo comm= | grep -cxE 'rustc|cargo|cc|cc1|ld|rust-lld|clippy-driver|rustdoc' || true)
    if [[ $SYNCS == 1 ]]; then
        # The process that syncs: Redis, or the server's inbox writer.
        local traced=${server_pids[0]}
        if [[ $store == redis ]]; then traced=$redis_pid; fi
        perf stat -x, -e syscalls:sys_enter_fsync,syscalls:sys_enter_fdatasync \
            -p "$traced" -o "$OUT/syncs.txt" &
        tracer_pids+=($!)
    fi
    if [[ $PROFILE == 1 && $store == redis ]]; then
        perf record -q -F 499 --call-graph dwarf -p "$redis_pid" \
            -o "$OUT/perf-$side-$round.data" 2>/dev/null &
        tracer_pids+=($!)
    fi
    if ((${#tracer_pids[@]} > 0)); then
        sleep 0.5
    fi
    local cpu_before wait_before machine_before redis_before="" scripts_before=""
    local redis_wait_before="" window_start
    window_start=$(date +%s.%N)
    cpu_before=$(thread_cpu "${server_pids[@]}")
    wait_before=$(thread_wait "${server_pids[@]}")
    machine_before=$(machine_cpu)
    if [[ $store == redis ]]; then
        redis_before="$(process_cpu "$redis_pid") $(thread_cpu "$redis_pid")"
        redis_wait_before=$(thread_wait "$redis_pid")
        scripts_before=$(redis_scripts)
    fi
    local started
    started=$(date +%s.%N)
    local result
    if ((replicas == 1)); then
        result=$(run_wrk "$PORT" "$CONNECTIONS" "$THREADS" 0 "$REQUESTS")
    else
        # Half the connections and threads each, on disjoint halves.
        local half_threads=$((THREADS / 2)) half=$((REQUESTS / 2))
        ((half_threads >= 1)) || half_threads=1
        run_wrk "$PORT" $((CONNECTIONS / 2)) "$half_threads" 0 "$half" >"$OUT/wrk-1.txt" &
        wrk_pids=($!)
        run_wrk $((PORT + 1)) $((CONNECTIONS - CONNECTIONS / 2)) "$half_threads" \
            "$half" $((REQUESTS - half)) >"$OUT/wrk-2.txt" &
        wrk_pids+=($!)
        wait "${wrk_pids[0]}"
        wait "${wrk_pids[1]}"
        wrk_pids=()
        result=$(cat "$OUT/wrk-1.txt" "$OUT/wrk-2.txt" | awk '
            function field(name,    i, kv) {
                for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == name) return kv[2] }
            }
            {
                rps += field("rps"); each = each sep sprintf("%.0f", field("rps")); sep = "+"
                if (field("p50_us") > p50) p50 = field("p50_us")
                if (field("p99_us") > p99) p99 = field("p99_us")
                requests += field("requests"); errors += field("errors")
                if (field("seconds") > seconds) seconds = field("seconds")
            }
            END {
                printf "RESULT rps=%.1f p50_us=%d p99_us=%d requests=%d errors=%d seconds=%.2f replica_rps=%s\n",
                    rps, p50, p99, requests, errors, seconds, each
            }')
    fi
    local ended cpu_after wait_after
    ended=$(date +%s.%N)
    cpu_after=$(thread_cpu "${server_pids[@]}")
    wait_after=$(thread_wait "${server_pids[@]}")
    local redis=""
    if [[ $store == redis ]]; then
        local redis_after redis_wait_after scripts_after
        redis_after="$(process_cpu "$redis_pid") $(thread_cpu "$redis_pid")"
        redis_wait_after=$(thread_wait "$redis_pid")
        scripts_after=$(redis_scripts)
        redis=$(awk -v before="$redis_before" -v after="$redis_after" \
            -v sb="$scripts_before" -v sa="$scripts_after" 'BEGIN {
            split(before, b, " "); split(after, a, " "); split(sb, x, " "); split(sa, y, " ")
            printf " redis_cpu=%.2f redis_child_cpu=%.2f evals=%d eval_s=%.2f reads=%d read_bytes=%d", \
                a[1] - b[1], a[2] - b[2], y[1] - x[1], (y[2] - x[2]) / 1e6, y[3] - x[3], y[4] - x[4]
        }')
        redis+=" aof_rewrites=$(redis_info persistence aof_rewrites) appendfsync=$APPENDFSYNC"
        redis+=" $(cpu_delta "${redis_before#* * }" "${redis_after#* * }" rcpu)"
        redis+="$(cpu_delta "$redis_wait_before" "$redis_wait_after" rwait)"
    fi
    # The time between the two readings of the CPU counters.
    local window
    window=$(awk -v a="$window_start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
    local machine
    machine=$(awk -v before="$machine_before" -v after="$(machine_cpu)" 'BEGIN {
        split(before, b, " "); split(after, a, " ")
        busy = a[1] - b[1]; idle = a[2] - b[2]; io = a[3] - b[3]; all = busy + idle + io
        printf "busy_pct=%.0f iowait_pct=%.0f", 100 * busy / all, 100 * io / all
    }')
    stop_tracers
    local syncs=""
    if [[ $SYNCS == 1 ]]; then
        local calls
        calls=$(awk -F, '/sys_enter_f/ { n += $1 } END { print n + 0 }' "$OUT/syncs.txt")
        syncs=" syncs=$calls syncs_per_s=$(awk -v n="$calls" -v a="$started" -v b="$ended" \
            'BEGIN { printf "%.0f", n / (b - a) }')"
    fi
    local cpu
    cpu=$(cpu_delta "$cpu_before" "$cpu_after" cpu)
    cpu+=$(cpu_delta "$wait_before" "$wait_after" wait)
    local inbox=""
    if [[ $side != inline ]]; then
        local now total done_now rest
        if [[ $store == redis ]]; then
            read -r now total done_now rest < <(redis_counts now)
        else
            read -r now total done_now rest < <(sqlite_counts "$OUT/inbox.db" now)
        fi
        local during
        during=$(awk -v d="$done_now" -v a="$started" -v b="$now" 'BEGIN { printf "%.1f", d / (b - a) }')
        inbox=" stored_at_end=$total done_at_end=$done_now drain_load=$during"
        if [[ $side == store || $WORKERS == 0 ]]; then
            inbox+=" stored=$total"
        elif [[ $store == redis ]]; then
            inbox+=" $(redis_counts drain "$now" "$done_now")"
        else
            inbox+=" $(sqlite_counts "$OUT/inbox.db" drain "$now" "$done_now" "$DRAIN_TIMEOUT")"
        fi
    fi
    if [[ $store == redis ]]; then
        # What Redis holds in memory, all deliveries stored (done or not).
        inbox+=" redis_memory=$(redis_info memory used_memory)"
    fi
    stop_servers
    stop_redis
    local exhausted=0
    local done_requests
    done_requests=$(sed -E 's/.*requests=([0-9]+).*/\1/' <<<"$result")
    if ((done_requests >= REQUESTS - CONNECTIONS)); then
        exhausted=1
        echo "warning: $side round $round sent every signed request before ${DURATION}s;" \
            "its req/s is understated: raise REQUESTS" >&2
    fi
    echo "$side $round ${result#RESULT } window_s=$window load=$load builds=$builds $machine exhausted=$exhausted$inbox$syncs$redis $cpu" \
        >>"$OUT/results.txt"
    echo "  $side: ${result#RESULT } load=$load builds=$builds $machine$inbox$syncs" >&2
    echo "    threads' CPU and CPU-wait s: $cpu" >&2
    if [[ -n $redis ]]; then
        echo "    Redis:$redis" >&2
    fi
}

: >"$OUT/results.txt"
echo "uptime before: $(uptime)" | tee "$OUT/uptime.txt" >&2
for round in $(seq "$ROUNDS"); do
    echo "round $round/$ROUNDS: signing $REQUESTS deliveries" >&2
    "$bin/hand_written" --requests "$REQUESTS" >"$OUT/requests.txt"
    # Alternate which side goes first.
    order=("${sides[@]}")
    if ((round % 2 == 0)); then
        order=()
        for ((i = ${#sides[@]} - 1; i >= 0; i--)); do order+=("${sides[i]}"); done
    fi
    for side in "${order[@]}"; do
        run_side "$side" "$round"
    done
done
echo "uptime after: $(uptime)" | tee -a "$OUT/uptime.txt" >&2

# Medians per side, and each side's rate and p99 as ratios of inline's.
awk -v out="$OUT" -v rounds="$ROUNDS" '
function field(name,    i, kv) {
    for (i = 3; i <= NF; i++) {
        split($i, kv, "=")
        if (kv[1] == name) return kv[2]
    }
    return ""
}
function median(side, metric,    n, i, j, t, v) {
    n = count[side]
    for (i = 1; i <= n; i++) v[i] = values[side, metric, i]
    for (i = 1; i <= n; i++)
        for (j = i + 1; j <= n; j++)
            if (v[j] + 0 < v[i] + 0) { t = v[i]; v[i] = v[j]; v[j] = t }
    return (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
}
{
    side = $1
    if (!(side in count)) order[++sides] = side
    n = ++count[side]
    values[side, "rps", n] = field("rps")
    values[side, "p50", n] = field("p50_us") / 1000
    values[side, "p99", n] = field("p99_us") / 1000
    values[side, "drain_load", n] = field("drain_load")
    values[side, "drain_after", n] = field("drain_after")
    if (field("drain_after") != "") drains[side] = 1
    values[side, "load", n] = field("load")
    values[side, "busy", n] = field("busy_pct")
    # Server CPU per request on the HTTP threads, and (SQLite) on the
    # writer thread per delivery stored while the load ran.
    values[side, "http_us", n] = 1e6 * field("cpu_actix-rt_system") / field("requests")
    stored = field("stored_at_end")
    values[side, "writer_us", n] = stored > 0 ? 1e6 * field("cpu_webhook-inbox") / stored : 0
    values[side, "per_sync", n] = field("syncs") > 0 ? stored / field("syncs") : 0
    # Seconds per second the server threads spent runnable, waiting for a CPU.
    waited = 0
    for (i = 3; i <= NF; i++) if (substr($i, 1, 5) == "wait_") { split($i, kv, "="); waited += kv[2] }
    values[side, "waiting", n] = waited / field("window_s")
    # Redis: its CPU per delivery stored while the load ran (the process,
    # and the share of that spent in scripts), its main thread busy share,
    # its script calls per delivery.
    if (field("redis_cpu") != "") {
        redis[side] = 1
        values[side, "redis_us", n] = stored > 0 ? 1e6 * field("redis_cpu") / stored : 0
        values[side, "script_us", n] = stored > 0 ? 1e6 * field("eval_s") / stored : 0
        values[side, "evals", n] = stored > 0 ? field("evals") / stored : 0
        values[side, "redis_main", n] = 100 * field("rcpu_redis-server") / field("window_s")
        values[side, "redis_wait", n] = 100 * field("rwait_redis-server") / field("window_s")
        values[side, "child", n] = field("redis_child_cpu")
        values[side, "rewrites", n] = field("aof_rewrites")
        values[side, "memory", n] = field("redis_memory") / field("stored")
        values[side, "per_read", n] = field("reads") > 0 ? field("read_bytes") / field("reads") : 0
    }
    errors[side] += field("errors")
}
END {
    summary = out "/summary.txt"
    printf "%-10s %10s %9s %9s %11s %12s %13s %6s %7s\n", "median of " rounds, "acks/s", "p50 ms", \
        "p99 ms", "vs inline", "drained/s", "drained/s", "load", "errors" > summary
    printf "%-10s %10s %9s %9s %11s %12s %13s %6s %7s\n", "", "", "", "", "(acks/s)", \
        "under load", "after load", "", "" > summary
    base = ("inline" in count) ? median("inline", "rps") : 0
    for (s = 1; s <= sides; s++) {
        side = order[s]
        rps = median(side, "rps")
        ratio = base > 0 ? sprintf("%.3fx", rps / base) : "-"
        dl = side == "inline" ? "-" : sprintf("%.0f", median(side, "drain_load"))
        da = (side in drains) ? sprintf("%.0f", median(side, "drain_after")) : "-"
        printf "%-10s %10.0f %9.2f %9.2f %11s %12s %13s %6.2f %7d\n", side, rps, median(side, "p50"), \
            median(side, "p99"), ratio, dl, da, median(side, "load"), errors[side] > summary
    }
    printf "\n%-10s %16s %18s %16s %9s %15s\n", "median of " rounds, "HTTP threads", "writer thread", \
        "deliveries", "machine", "server threads" > summary
    printf "%-10s %16s %18s %16s %9s %15s\n", "", "CPU us/request", "CPU us/delivery", "per fsync", \
        "busy %", "waiting s/s" > summary
    for (s = 1; s <= sides; s++) {
        side = order[s]
        w = (side == "inline" || side in redis) ? "-" : sprintf("%.1f", median(side, "writer_us"))
        p = (side == "inline" || median(side, "per_sync") == 0) ? "-" : sprintf("%.1f", median(side, "per_sync"))
        printf "%-10s %16.1f %18s %16s %9.0f %15.2f\n", side, median(side, "http_us"), w, p, \
            median(side, "busy"), median(side, "waiting") > summary
    }
    if (length(redis) > 0) {
        printf "\n%-10s %12s %12s %13s %12s %12s %11s %9s %10s %9s\n", "median of " rounds, "Redis CPU", \
            "in scripts", "scripts", "main thread", "main thread", "rewrites'"'"'", "AOF", \
            "memory", "bytes" > summary
        printf "%-10s %12s %12s %13s %12s %12s %11s %9s %10s %9s\n", "", "us/delivery", "us/delivery", \
            "per delivery", "busy %", "waiting %", "CPU s", "rewrites", "B/delivery", "per read" > summary
        for (s = 1; s <= sides; s++) {
            side = order[s]
            if (!(side in redis)) continue
            printf "%-10s %12.1f %12.1f %13.2f %12.0f %12.0f %11.2f %9d %10.0f %9.0f\n", side, \
                median(side, "redis_us"), median(side, "script_us"), median(side, "evals"), \
                median(side, "redis_main"), median(side, "redis_wait"), median(side, "child"), \
                median(side, "rewrites"), median(side, "memory"), median(side, "per_read") > summary
        }
    }
    close(summary)
}' "$OUT/results.txt"

echo
echo "per run:"
cat "$OUT/results.txt"
echo
cat "$OUT/summary.txt"
