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

cargo bench --quiet --features bench --bench instructions --no-run 2>/dev/null
bin=$(ls -t target/release/deps/instructions-* | grep -v '\.d$' | head -1)
# shellcheck source=callgrind.sh
. scripts/callgrind.sh

verify=$(per_call "$bin" verify)
floor=$(per_call "$bin" floor)
dispatch=$(per_call "$bin" dispatch)
parse=$(per_call "$bin" parse)
printf '%-44s %10s\n' "instructions per operation (N=$N)" "count"
printf '%-44s %10d\n' "Standard Webhooks verify, 256 B" "$verify"
printf '%-44s %10d\n' "bare HMAC-SHA256 over the same content" "$floor"
printf '%-44s %10d\n' "  verification overhead" "$((verify - floor))"
printf '%-44s %10d\n' "router work, 1 KiB order_paid" "$dispatch"
printf '%-44s %10d\n' "serde_json::from_slice::<OrderPaid> alone" "$parse"
printf '%-44s %10d  (%s x)\n' "  router overhead" "$((dispatch - parse))" \
    "$(awk -v d="$dispatch" -v p="$parse" 'BEGIN { printf "%.2f", d / p }')"
