#!/usr/bin/env bash
# End-to-end load test: the quickstart router (examples/quickstart.rs) against
# the same endpoint written by hand (examples/hand_written.rs), both with two
# workers on 127.0.0.1, driven by wrk at 64 connections with signed 1 KiB
# `order_paid` deliveries, each a distinct delivery id. The two servers take
# turns over several rounds; each run starts a fresh server.
#
#   scripts/loadtest.sh
#
# Prints requests per second, p50 and p99 latency and peak RSS of each side
# per round (and each server's RSS before the load), their medians and the
# ratios (framework / hand-written), and writes a summary and an SVG chart to
# $OUT.
#
# Settings (environment): ROUNDS (5), DURATION seconds per run (3),
# CONNECTIONS (64), THREADS of wrk (2), REQUESTS signed per round (400000;
# a run that sends them all stops early and is flagged), OUT
# (target/loadtest), PORT_FRAMEWORK (18080), PORT_HAND (18081).
set -euo pipefail

ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-3}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
REQUESTS=${REQUESTS:-400000}
OUT=${OUT:-target/loadtest}
PORT_FRAMEWORK=${PORT_FRAMEWORK:-18080}
PORT_HAND=${PORT_HAND:-18081}

cd "$(dirname "$0")/.."
mkdir -p "$OUT"

if ! command -v wrk >/dev/null; then
    echo "installing wrk" >&2
    apt-get update -qq && apt-get install -y -qq wrk >/dev/null
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

# Starts a server and waits (at most 10 s) until its port answers.
start_server() {
    local port=$1
    shift
    PORT=$port "$@" >"$OUT/server-$port.log" 2>&1 &
    server_pid=$!
    for _ in $(seq 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    echo "server on port $port did not start; see $OUT/server-$port.log" >&2
    exit 1
}

# Runs one side: fresh server, wrk, peak RSS. Appends a line to results.
run_side() {
    local side=$1 round=$2 port
    if [[ $side == framework ]]; then
        port=$PORT_FRAMEWORK
        start_server "$port" "$bin/quickstart" --serve --quiet
    else
        port=$PORT_HAND
        start_server "$port" "$bin/hand_written"
    fi
    local rss_start_kib
    rss_start_kib=$(awk '/^VmRSS:/ {print $2}' "/proc/$server_pid/status")
    local result
    result=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --timeout 10s \
        -s scripts/loadtest.lua "http://127.0.0.1:$port/webhooks" \
        -- "$OUT/requests.txt" "$THREADS" | grep '^RESULT')
    local rss_kib
    rss_kib=$(awk '/^VmHWM:/ {print $2}' "/proc/$server_pid/status")
    stop_server
    local exhausted=0
    local done_requests
    done_requests=$(sed -E 's/.*requests=([0-9]+).*/\1/' <<<"$result")
    if ((done_requests >= REQUESTS - CONNECTIONS)); then
        exhausted=1
        echo "warning: $side round $round sent every signed request before ${DURATION}s;" \
            "its req/s is understated: raise REQUESTS" >&2
    fi
    echo "$side $round ${result#RESULT } rss_kib=$rss_kib rss_start_kib=$rss_start_kib" \
        "exhausted=$exhausted" >>"$OUT/results.txt"
    echo "  $side: ${result#RESULT } rss_kib=$rss_kib rss_start_kib=$rss_start_kib" >&2
}

: >"$OUT/results.txt"
for round in $(seq "$ROUNDS"); do
    echo "round $round/$ROUNDS: signing $REQUESTS deliveries" >&2
    "$bin/hand_written" --requests "$REQUESTS" >"$OUT/requests.txt"
    # Alternate which side goes first.
    if ((round % 2)); then
        sides="framework hand"
    else
        sides="hand framework"
    fi
    for side in $sides; do
        run_side "$side" "$round"
    done
done

# Medians per side and ratios, as a table and an SVG chart.
awk -v out="$OUT" -v rounds="$ROUNDS" -v duration="$DURATION" \
    -v connections="$CONNECTIONS" -v cores="$(nproc)" '
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
    errors[side] += field("errors")
}
END {
    split("rps p50 p99 rss", metrics, " ")
    split("req/s|p50 latency (ms)|p99 latency (ms)|peak RSS (MiB)", labels, "|")
    split("higher is better|lower is better|lower is better|lower is better", better, "|")
    summary = out "/summary.txt"
    printf "%-18s %14s %14s %8s\n", "median of " rounds, "framework", "hand-written", "ratio" > summary
    for (m = 1; m <= 4; m++) {
        f[m] = median("framework", metrics[m])
        h[m] = median("hand", metrics[m])
        r[m] = h[m] > 0 ? f[m] / h[m] : 0
        printf "%-18s %14.2f %14.2f %7.3fx\n", labels[m], f[m], h[m], r[m] > summary
    }
    printf "%-18s %14.2f %14.2f\n", "RSS at start (MiB)", median("framework", "rss0"), median("hand", "rss0") > summary
    printf "errors: framework %d, hand-written %d\n", errors["framework"], errors["hand"] > summary
    close(summary)

    svg = out "/loadtest.svg"
    w = 780; h0 = 300
    printf "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" font-size=\"12\">\n", w, h0 > svg
    printf "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n" > svg
    printf "<text x=\"%d\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">actix-webhook router vs hand-written endpoint (median of %d rounds)</text>\n", w / 2, rounds > svg
    printf "<text x=\"%d\" y=\"40\" text-anchor=\"middle\" fill=\"#555\">1 KiB signed deliveries, %d connections, %d s per run, 2 workers each, %d cores shared with wrk</text>\n", w / 2, connections, duration, cores > svg
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
}' "$OUT/results.txt"

echo
echo "per run:"
column -t "$OUT/results.txt"
echo
cat "$OUT/summary.txt"
echo "chart: $OUT/loadtest.svg"
