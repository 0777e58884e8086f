#!/usr/bin/env bash
# End-to-end load test: the quickstart router (examples/quickstart.rs) against
# the same endpoint written by hand (examples/hand_written.rs) on 127.0.0.1,
# driven by wrk (scripts/loadtest.lua) at 64 connections with signed 1 KiB
# `order_paid` deliveries, each a distinct delivery id. Two modes:
#
# - pinned: each server with one actix worker (WORKERS=1), pinned to CPU 0
#   (`taskset -c 0`), and wrk with one thread pinned to CPU 1: server and
#   client do not compete for a core;
# - shared: each server with two workers, wrk with THREADS threads, all
#   sharing the machine's cores.
#
# Every round signs REQUESTS fresh deliveries, then runs each mode in turn;
# within a mode the two servers take turns (which goes first alternates from
# round to round), and each run starts a fresh server.
#
#   scripts/loadtest.sh
#   MODES=shared ROUNDS=3 scripts/loadtest.sh
#
# Prints, per mode, requests per second, p50 and p99 latency and peak RSS of
# each side per round (and each server's RSS before the load; after it, its
# anonymous memory, which leaves out the executable's pages that RSS counts
# too, its thread count and the CPUs it may run on), their medians and the
# ratios (framework / hand-written). Writes to $OUT/MODE/ the runs
# (results.txt), a summary (summary.txt), an SVG chart (loadtest.svg) and
# the server logs, and all the modes' summaries to $OUT/summary.txt.
#
# Settings (environment): MODES to run, in order ("pinned shared"), ROUNDS
# (5), DURATION seconds per run (3), CONNECTIONS (64), THREADS of wrk in the
# shared mode (2; the pinned mode uses 1), REQUESTS signed per round
# (400000; a run that sends them all stops early and is flagged), OUT
# (target/loadtest), PORT_FRAMEWORK (18080), PORT_HAND (18081). The pinned
# mode needs CPUs 0 and 1 and installs taskset (util-linux) with apt-get if
# it is missing.
set -euo pipefail

MODES=${MODES:-pinned shared}
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-3}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
REQUESTS=${REQUESTS:-400000}
OUT=${OUT:-target/loadtest}
PORT_FRAMEWORK=${PORT_FRAMEWORK:-18080}
PORT_HAND=${PORT_HAND:-18081}

# The workers of each server in the shared mode.
SHARED_WORKERS=2

cd "$(dirname "$0")/.."

read -ra modes <<<"$MODES"
if ((${#modes[@]} == 0)); then
    echo "MODES is empty: name pinned, shared or both" >&2
    exit 1
fi
pinned=0
for mode in "${modes[@]}"; do
    case $mode in
    pinned) pinned=1 ;;
    shared) ;;
    *)
        echo "unknown mode '$mode' in MODES: use pinned and/or shared" >&2
        exit 1
        ;;
    esac
done

if ! command -v wrk >/dev/null; then
    echo "installing wrk" >&2
    apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi
if ((pinned)); then
    if ! command -v taskset >/dev/null; then
        echo "installing taskset (util-linux)" >&2
        apt-get update -qq && apt-get install -y -qq util-linux >/dev/null
    fi
    if ! taskset -c 0,1 true 2>/dev/null; then
        echo "the pinned mode needs CPUs 0 and 1; run MODES=shared" >&2
        exit 1
    fi
fi

echo "building (release)" >&2
cargo build --release --quiet --example quickstart --example hand_written
bin=target/release/examples

server_pid=""
stop_server() {
    if [[ -n $server_pid ]]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
        server_pid=""
    fi
}
trap 'stop_server; rm -f "$OUT/requests.txt"' EXIT

# Starts a server (with the mode's workers and CPUs) and waits (at most
# 10 s) until its port answers.
start_server() {
    local mode=$1 port=$2
    shift 2
    local workers=$SHARED_WORKERS pin=()
    if [[ $mode == pinned ]]; then
        workers=1
        pin=(taskset -c 0)
    fi
    # taskset execs the server, so $! is the server's pid.
    PORT=$port WORKERS=$workers "${pin[@]}" "$@" >"$OUT/$mode/server-$port.log" 2>&1 &
    server_pid=$!
    for _ in $(seq 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            return 0
        fi
        if ! kill -0 "$server_pid" 2>/dev/null; then
            break
        fi
        sleep 0.1
    done
    echo "server on port $port did not start; see $OUT/$mode/server-$port.log" >&2
    exit 1
}

# Runs one side in one mode: fresh server, wrk, peak RSS. Appends a line to
# the mode's results.
run_side() {
    local mode=$1 side=$2 round=$3 port
    if [[ $side == framework ]]; then
        port=$PORT_FRAMEWORK
        start_server "$mode" "$port" "$bin/quickstart" --serve --quiet
    else
        port=$PORT_HAND
        start_server "$mode" "$port" "$bin/hand_written"
    fi
    local rss_start_kib
    rss_start_kib=$(awk '/^VmRSS:/ {print $2}' "/proc/$server_pid/status")
    local threads=$THREADS pin=()
    if [[ $mode == pinned ]]; then
        threads=1
        pin=(taskset -c 1)
    fi
    local result
    result=$("${pin[@]}" wrk -t"$threads" -c"$CONNECTIONS" -d"${DURATION}s" --timeout 10s \
        -s scripts/loadtest.lua "http://127.0.0.1:$port/webhooks" \
        -- "$OUT/requests.txt" "$threads" | grep '^RESULT')
    local rss_kib anon_kib server_threads cpus
    rss_kib=$(awk '/^VmHWM:/ {print $2}' "/proc/$server_pid/status")
    # What the process allocated (heap, stacks), without the pages of its
    # executable that RSS also counts.
    anon_kib=$(awk '/^RssAnon:/ {print $2}' "/proc/$server_pid/status")
    server_threads=$(awk '/^Threads:/ {print $2}' "/proc/$server_pid/status")
    cpus=$(awk '/^Cpus_allowed_list:/ {print $2}' "/proc/$server_pid/status")
    stop_server
    local exhausted=0
    local done_requests
    done_requests=$(sed -E 's/.*requests=([0-9]+).*/\1/' <<<"$result")
    if ((done_requests >= REQUESTS - CONNECTIONS)); then
        exhausted=1
        echo "warning: $mode $side round $round sent every signed request before" \
            "${DURATION}s; its req/s is understated: raise REQUESTS" >&2
    fi
    local extra="rss_kib=$rss_kib rss_start_kib=$rss_start_kib anon_kib=$anon_kib"
    extra+=" threads=$server_threads cpus=$cpus"
    echo "$side $round ${result#RESULT } $extra exhausted=$exhausted" >>"$OUT/$mode/results.txt"
    echo "  $mode $side: ${result#RESULT } $extra" >&2
}

# Writes a mode's summary and SVG chart from its results: medians per side
# and ratios.
summarize() {
    local mode=$1 subtitle
    if [[ $mode == pinned ]]; then
        subtitle="pinned: 1 worker each on CPU 0, wrk (1 thread) on CPU 1"
    else
        subtitle="shared: $SHARED_WORKERS workers each, wrk ($THREADS threads), $(nproc) cores shared"
    fi
    subtitle+=", $CONNECTIONS connections, $DURATION s per run, 1 KiB signed deliveries"
    awk -v out="$OUT/$mode" -v rounds="$ROUNDS" -v mode="$mode" -v subtitle="$subtitle" '
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
            if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
    return (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
}
{
    side = $1
    n = ++count[side]
    values[side, "rps", n] = field("rps")
    values[side, "p50", n] = field("p50_us") / 1000
    values[side, "p99", n] = field("p99_us") / 1000
    values[side, "rss", n] = field("rss_kib") / 1024
    values[side, "rss0", n] = field("rss_start_kib") / 1024
    values[side, "anon", n] = field("anon_kib") / 1024
    errors[side] += field("errors")
}
END {
    split("rps p50 p99 rss rss0 anon", metrics, " ")
    split("req/s|p50 latency (ms)|p99 latency (ms)|peak RSS (MiB)|RSS at start (MiB)|anon. at end (MiB)", labels, "|")
    split("higher is better|lower is better|lower is better|lower is better", better, "|")
    summary = out "/summary.txt"
    printf "mode %s\n", subtitle > summary
    printf "%-18s %14s %14s %8s\n", "median of " rounds, "framework", "hand-written", "ratio" > summary
    for (m = 1; m <= 6; m++) {
        f[m] = median("framework", metrics[m])
        h[m] = median("hand", metrics[m])
        r[m] = h[m] > 0 ? f[m] / h[m] : 0
        printf "%-18s %14.2f %14.2f %7.3fx\n", labels[m], f[m], h[m], r[m] > summary
    }
    printf "errors: framework %d, hand-written %d\n", errors["framework"], errors["hand"] > summary
    close(summary)

    svg = out "/loadtest.svg"
    w = 780; h0 = 300
    printf "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" font-size=\"12\">\n", w, h0 > svg
    printf "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n" > svg
    printf "<text x=\"%d\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">actix-webhook router vs hand-written endpoint, %s (median of %d rounds)</text>\n", w / 2, mode, rounds > svg
    printf "<text x=\"%d\" y=\"40\" text-anchor=\"middle\" font-size=\"11\" fill=\"#555\">%s</text>\n", w / 2, subtitle > svg
    for (m = 1; m <= 4; m++) {
        x0 = 30 + (m - 1) * 185
        top = 70; base = 240; height = base - top
        max = f[m] > h[m] ? f[m] : h[m]
        if (max <= 0) max = 1
        fh = height * f[m] / max; hh = height * h[m] / max
        printf "<rect x=\"%d\" y=\"%.1f\" width=\"55\" height=\"%.1f\" fill=\"#3b6ea5\"/>\n", x0 + 20, base - fh, fh > svg
        printf "<rect x=\"%d\" y=\"%.1f\" width=\"55\" height=\"%.1f\" fill=\"#b0b0b0\"/>\n", x0 + 85, base - hh, hh > svg
        fmt = (m == 1) ? "%.0f" : "%.2f"
        printf "<text x=\"%d\" y=\"%.1f\" text-anchor=\"middle\">" fmt "</text>\n", x0 + 47, base - fh - 5, f[m] > svg
        printf "<text x=\"%d\" y=\"%.1f\" text-anchor=\"middle\">" fmt "</text>\n", x0 + 112, base - hh - 5, h[m] > svg
        printf "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>\n", x0 + 10, base, x0 + 150, base > svg
        printf "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-weight=\"bold\">%s</text>\n", x0 + 80, base + 18, labels[m] > svg
        printf "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-size=\"11\">ratio %.3fx (%s)</text>\n", x0 + 80, base + 34, r[m], better[m] > svg
    }
    printf "<rect x=\"%d\" y=\"280\" width=\"12\" height=\"12\" fill=\"#3b6ea5\"/><text x=\"%d\" y=\"290\">framework (quickstart router)</text>\n", 220, 236 > svg
    printf "<rect x=\"%d\" y=\"280\" width=\"12\" height=\"12\" fill=\"#b0b0b0\"/><text x=\"%d\" y=\"290\">hand-written (hmac + sha2 + subtle)</text>\n", 430, 446 > svg
    printf "</svg>\n" > svg
}' "$OUT/$mode/results.txt"
}

for mode in "${modes[@]}"; do
    mkdir -p "$OUT/$mode"
    : >"$OUT/$mode/results.txt"
done
for round in $(seq "$ROUNDS"); do
    echo "round $round/$ROUNDS: signing $REQUESTS deliveries" >&2
    "$bin/hand_written" --requests "$REQUESTS" >"$OUT/requests.txt"
    # Alternate which side goes first.
    if ((round % 2)); then
        sides="framework hand"
    else
        sides="hand framework"
    fi
    for mode in "${modes[@]}"; do
        for side in $sides; do
            run_side "$mode" "$side" "$round"
        done
    done
done

: >"$OUT/summary.txt"
for mode in "${modes[@]}"; do
    summarize "$mode"
    {
        cat "$OUT/$mode/summary.txt"
        echo
    } >>"$OUT/summary.txt"
done

for mode in "${modes[@]}"; do
    echo
    echo "$mode, per run:"
    column -t "$OUT/$mode/results.txt"
    echo
    cat "$OUT/$mode/summary.txt"
    echo "chart: $OUT/$mode/loadtest.svg"
done
