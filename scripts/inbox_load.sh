#!/usr/bin/env bash
# Load test of the inbox: the same `*` handler of examples/inbox.rs mounted
# inline (INLINE=1: run inside the request, answered after it) and in inbox
# mode (stored durably in SQLite, answered 202, run by 4 workers after),
# both on 127.0.0.1 with actix-web's default workers (one per core), driven
# by wrk at 64 connections with signed 1 KiB Standard Webhooks deliveries,
# each a distinct delivery id. The sides take turns over several rounds;
# each run starts a fresh server (and, in inbox mode, a fresh inbox file).
#
#   scripts/inbox_load.sh
#
# Prints, per run and as medians: acknowledgements per second, ack p50 and
# p99, the inbox side's rate as a ratio of the inline side's; for inbox
# runs, deliveries per second the workers finish while the load runs and
# after it (until the backlog is drained), how many were stored, and the
# CPU seconds each server thread used during the load; the machine's load
# average at each run. Writes everything to $OUT.
#
# Settings (environment): ROUNDS (3), DURATION seconds per run (3),
# CONNECTIONS (64), THREADS of wrk (2), REQUESTS signed per round (400000;
# a run that sends them all stops early and is flagged), OUT
# (target/inbox-load), PORT (18090), DRAIN_TIMEOUT seconds to wait for the
# backlog (300), SIDES (`inline inbox`; also `unsynced`: inbox mode on
# Inbox::sqlite_unsynced, and `store`: inbox mode without workers),
# CONCURRENCY (handlers the inbox workers run at once; the example's
# default 4). SYNCS=1 counts the server's fsync/fdatasync calls during the
# load with perf's syscall tracepoints (linux-perf installed if missing;
# they cost the server nothing measurable), so that commits per second can
# be read off.
set -euo pipefail

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-3}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
REQUESTS=${REQUESTS:-400000}
OUT=${OUT:-target/inbox-load}
PORT=${PORT:-18090}
DRAIN_TIMEOUT=${DRAIN_TIMEOUT:-300}
SIDES=${SIDES:-inline inbox}
SYNCS=${SYNCS:-0}

cd "$(dirname "$0")/.."
mkdir -p "$OUT"

if ! command -v wrk >/dev/null; then
    echo "installing wrk" >&2
    apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi
if [[ $SYNCS == 1 ]] && ! command -v perf >/dev/null; then
    echo "installing perf" >&2
    apt-get update -qq && apt-get install -y -qq linux-perf >/dev/null
fi

echo "building (release)" >&2
cargo build --release --quiet --features sqlite --example inbox --example hand_written
bin=target/release/examples

server_pid=""
tracer_pid=""
stop_server() {
    if [[ -n $tracer_pid ]]; then
        kill -INT "$tracer_pid" 2>/dev/null || true
        wait "$tracer_pid" 2>/dev/null || true
        tracer_pid=""
    fi
    if [[ -n $server_pid ]]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
        server_pid=""
    fi
}
trap 'stop_server; rm -f "$OUT/requests.txt" "$OUT"/inbox.db*' EXIT

# Starts the example with the given environment and waits (at most 10 s)
# until its port answers.
start_server() {
    env PORT="$PORT" QUIET=1 "$@" "$bin/inbox" >"$OUT/server.log" 2>&1 &
    server_pid=$!
    for _ in $(seq 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    echo "the server did not start; see $OUT/server.log" >&2
    exit 1
}

# CPU seconds (user + system) used so far by each thread of the server,
# summed by thread name: "name=seconds ...".
thread_cpu() {
    local tick
    tick=$(getconf CLK_TCK)
    for task in /proc/"$server_pid"/task/*; do
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
    done | awk -v tick="$tick" '{ cpu[$1] += ($2 + $3) / tick }
        END { for (n in cpu) printf "%s=%.2f ", n, cpu[n] }'
}

# The machine's CPU counters: "busy idle iowait" in ticks, all cores.
machine_cpu() {
    awk '/^cpu / { busy = $2 + $3 + $4 + $7 + $8 + $9; print busy, $5, $6 }' /proc/stat
}

# Counts the inbox file's deliveries by state, and with `drain` waits until
# none is left to run (or DRAIN_TIMEOUT) and prints how fast they were done.
inbox_counts() {
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

# Runs one side: fresh server, wrk, (inbox) drain. Appends a line to results.
run_side() {
    local side=$1 round=$2
    local env_args=()
    case $side in
    inline) env_args=(INLINE=1) ;;
    inbox) env_args=() ;;
    unsynced) env_args=(UNSYNCED=1) ;;
    store) env_args=(CONCURRENCY=0) ;;
    *)
        echo "unknown side $side" >&2
        exit 1
        ;;
    esac
    rm -f "$OUT"/inbox.db*
    start_server INBOX="$OUT/inbox.db" "${env_args[@]}"
    # The 1-minute load average (this script's own runs count in it) and
    # how many compilers are running beside it.
    local load builds
    load=$(cut -d' ' -f1 /proc/loadavg)
    # shellcheck disable=SC2009 # pgrep refuses patterns over 15 characters
    builds=$(ps -eo comm= | grep -cxE 'rustc|cargo|cc|cc1|ld|rust-lld|clippy-driver|rustdoc' || true)
    if [[ $SYNCS == 1 ]]; then
        perf stat -x, -e syscalls:sys_enter_fsync,syscalls:sys_enter_fdatasync \
            -p "$server_pid" -o "$OUT/syncs.txt" &
        tracer_pid=$!
        sleep 0.5
    fi
    local cpu_before machine_before
    cpu_before=$(thread_cpu)
    machine_before=$(machine_cpu)
    local started
    started=$(date +%s.%N)
    local result
    result=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --timeout 10s \
        -s scripts/loadtest.lua "http://127.0.0.1:$PORT/webhooks" \
        -- "$OUT/requests.txt" "$THREADS" | grep '^RESULT')
    local ended cpu_after
    ended=$(date +%s.%N)
    cpu_after=$(thread_cpu)
    local machine
    machine=$(awk -v before="$machine_before" -v after="$(machine_cpu)" 'BEGIN {
        split(before, b, " "); split(after, a, " ")
        busy = a[1] - b[1]; idle = a[2] - b[2]; io = a[3] - b[3]; all = busy + idle + io
        printf "busy_pct=%.0f iowait_pct=%.0f", 100 * busy / all, 100 * io / all
    }')
    local syncs=""
    if [[ -n $tracer_pid ]]; then
        kill -INT "$tracer_pid" 2>/dev/null || true
        wait "$tracer_pid" 2>/dev/null || true
        tracer_pid=""
        local calls
        calls=$(awk -F, '/sys_enter_f/ { n += $1 } END { print n + 0 }' "$OUT/syncs.txt")
        syncs=" syncs=$calls syncs_per_s=$(awk -v n="$calls" -v a="$started" -v b="$ended" \
            'BEGIN { printf "%.0f", n / (b - a) }')"
    fi
    local cpu
    cpu=$(awk -v before="$cpu_before" -v after="$cpu_after" 'BEGIN {
        n = split(before, b, " "); for (i = 1; i <= n; i++) { split(b[i], kv, "="); was[kv[1]] = kv[2] }
        n = split(after, a, " ")
        for (i = 1; i <= n; i++) { split(a[i], kv, "="); printf "cpu_%s=%.2f ", kv[1], kv[2] - was[kv[1]] }
    }')
    local inbox=""
    if [[ $side != inline ]]; then
        local now total done_now rest
        read -r now total done_now rest < <(inbox_counts "$OUT/inbox.db" now)
        local during
        during=$(awk -v d="$done_now" -v a="$started" -v b="$now" 'BEGIN { printf "%.1f", d / (b - a) }')
        inbox=" stored_at_end=$total done_at_end=$done_now drain_load=$during"
        if [[ $side != store ]]; then
            inbox+=" $(inbox_counts "$OUT/inbox.db" drain "$now" "$done_now" "$DRAIN_TIMEOUT")"
        else
            inbox+=" stored=$total"
        fi
    fi
    stop_server
    local exhausted=0
    local done_requests
    done_requests=$(sed -E 's/.*requests=([0-9]+).*/\1/' <<<"$result")
    if ((done_requests >= REQUESTS - CONNECTIONS)); then
        exhausted=1
        echo "warning: $side round $round sent every signed request before ${DURATION}s;" \
            "its req/s is understated: raise REQUESTS" >&2
    fi
    echo "$side $round ${result#RESULT } load=$load builds=$builds $machine exhausted=$exhausted$inbox$syncs $cpu" \
        >>"$OUT/results.txt"
    echo "  $side: ${result#RESULT } load=$load builds=$builds $machine$inbox$syncs" >&2
    echo "    thread CPU s: $cpu" >&2
}

: >"$OUT/results.txt"
read -ra sides <<<"$SIDES"
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
    values[side, "load", n] = field("load")
    values[side, "busy", n] = field("busy_pct")
    # Server CPU per request on the HTTP threads, and (inbox) on the
    # writer thread per delivery stored while the load ran.
    values[side, "http_us", n] = 1e6 * field("cpu_actix-rt_system") / field("requests")
    stored = field("stored_at_end")
    values[side, "writer_us", n] = stored > 0 ? 1e6 * field("cpu_webhook-inbox") / stored : 0
    values[side, "per_sync", n] = field("syncs") > 0 ? stored / field("syncs") : 0
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
        da = (side == "inline" || side == "store") ? "-" : sprintf("%.0f", median(side, "drain_after"))
        printf "%-10s %10.0f %9.2f %9.2f %11s %12s %13s %6.2f %7d\n", side, rps, median(side, "p50"), \
            median(side, "p99"), ratio, dl, da, median(side, "load"), errors[side] > summary
    }
    printf "\n%-10s %16s %18s %16s %9s\n", "median of " rounds, "HTTP threads", "writer thread", \
        "deliveries", "machine" > summary
    printf "%-10s %16s %18s %16s %9s\n", "", "CPU us/request", "CPU us/delivery", "per fsync", \
        "busy %" > summary
    for (s = 1; s <= sides; s++) {
        side = order[s]
        w = side == "inline" ? "-" : sprintf("%.1f", median(side, "writer_us"))
        p = (side == "inline" || median(side, "per_sync") == 0) ? "-" : sprintf("%.1f", median(side, "per_sync"))
        printf "%-10s %16.1f %18s %16s %9.0f\n", side, median(side, "http_us"), w, p, \
            median(side, "busy") > summary
    }
    close(summary)
}' "$OUT/results.txt"

echo
echo "per run:"
cat "$OUT/results.txt"
echo
cat "$OUT/summary.txt"
