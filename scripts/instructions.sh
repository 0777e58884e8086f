#!/usr/bin/env bash
# Instructions per operation, counted by callgrind (reproducible on a busy
# machine): Standard Webhooks verification of 256 bytes against a bare HMAC,
# and the router's work for a 1 KiB event against the typed parse alone.
# Each case runs with 0 and N iterations; the difference over N is printed.
#
#   scripts/instructions.sh            # N = 10000
#   N=2000 scripts/instructions.sh
#
# Needs valgrind (installed with apt-get when missing).
set -euo pipefail
N=${N:-10000}
cd "$(dirname "$0")/.."

if ! command -v valgrind >/dev/null; then
    apt-get update -qq && apt-get install -y -qq valgrind >/dev/null
fi

cargo bench --quiet --features bench --bench instructions --no-run 2>/dev/null
bin=$(ls -t target/release/deps/instructions-* | grep -v '\.d$' | head -1)

count() {
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$1" "$2" 2>&1 |
        sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}

per_call() {
    local base full
    base=$(count "$1" 0)
    full=$(count "$1" "$N")
    echo $(((full - base) / N))
}

verify=$(per_call verify)
floor=$(per_call floor)
dispatch=$(per_call dispatch)
parse=$(per_call parse)
printf '%-44s %10s\n' "instructions per operation (N=$N)" "count"
printf '%-44s %10d\n' "Standard Webhooks verify, 256 B" "$verify"
printf '%-44s %10d\n' "bare HMAC-SHA256 over the same content" "$floor"
printf '%-44s %10d\n' "  verification overhead" "$((verify - floor))"
printf '%-44s %10d\n' "router work, 1 KiB order_paid" "$dispatch"
printf '%-44s %10d\n' "serde_json::from_slice::<OrderPaid> alone" "$parse"
printf '%-44s %10d  (%s x)\n' "  router overhead" "$((dispatch - parse))" \
    "$(awk -v d="$dispatch" -v p="$parse" 'BEGIN { printf "%.2f", d / p }')"
