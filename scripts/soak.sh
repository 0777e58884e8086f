#!/usr/bin/env bash
# Sustained load, bounded: a release build of examples/soak.rs serves on
# 127.0.0.1 while its driver sends valid, duplicate, tampered and oversized
# deliveries for SECONDS (default 60) over CONNECTIONS (default 256). Prints
# the answers per kind and status, transport errors, the server's RSS at the
# start, every 10 s and at the end, and fails when a valid delivery is not
# answered 2xx, anything gets a 5xx, the handler did not run exactly once per
# processed delivery, or the server panicked.
#
#     scripts/soak.sh            # 60 s, 256 connections
#     scripts/soak.sh 10 64
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-60}"
connections="${2:-256}"
port="${PORT:-18090}"

cargo build --release --example soak
bin=target/release/examples/soak

log="$(mktemp)"
"$bin" serve "$port" >"$log" 2>&1 &
server=$!
sampler=""
cleanup() {
  [ -n "$sampler" ] && kill "$sampler" 2>/dev/null || true
  kill "$server" 2>/dev/null || true
  rm -f "$log"
}
trap cleanup EXIT

for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1
done

rss() { awk '/^VmRSS/ {print $2, $3}' "/proc/$server/status"; }

echo "server pid $server on 127.0.0.1:$port, ${seconds}s at $connections connections"
echo "RSS at start: $(rss)"
(
  t=0
  while sleep 10; do
    t=$((t + 10))
    echo "RSS after ${t}s: $(rss)"
  done
) &
sampler=$!

status=0
"$bin" drive "http://127.0.0.1:$port" "$seconds" "$connections" || status=$?
kill "$sampler" 2>/dev/null || true
sampler=""
sleep 1
echo "RSS at end: $(rss)"

if grep -q "panicked" "$log"; then
  echo "the server panicked:"
  grep -A5 "panicked" "$log" | head -20
  status=1
fi
kill -0 "$server" 2>/dev/null || { echo "the server is gone"; status=1; }
echo "server log lines: $(wc -l <"$log")"
exit "$status"
