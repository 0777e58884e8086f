#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ for a bounded time and prints the
# executions per target. Needs the nightly toolchain and cargo-fuzz (both
# installed when missing).
#
#     scripts/fuzz.sh            # 60 s per target
#     scripts/fuzz.sh 10         # 10 s per target
#     scripts/fuzz.sh 60 roundtrip header_values
#
# Exits non-zero when a target crashes; the input is kept under
# fuzz/artifacts/<target>/ (reproduce with `cargo +nightly fuzz run <target> <file>`).
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

seconds="${1:-60}"
shift || true
targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
  targets=(verify_arbitrary header_values event_name twilio_canonical roundtrip)
fi

rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
cargo fuzz --version >/dev/null 2>&1 || cargo install cargo-fuzz --locked

cargo +nightly fuzz build -O

status=0
summary=()
for target in "${targets[@]}"; do
  mkdir -p "corpus/$target"
  log="$(mktemp)"
  echo "== $target: ${seconds}s"
  if cargo +nightly fuzz run -O "$target" "corpus/$target" -- \
      -max_total_time="$seconds" -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1; then
    result="ok"
  else
    result="CRASH"
    status=1
    tail -40 "$log"
  fi
  execs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)"
  corpus="$(ls "corpus/$target" | wc -l)"
  summary+=("$(printf '%-18s %8ss %14s execs %8s corpus  %s' "$target" "$seconds" "${execs:-?}" "$corpus" "$result")")
  rm -f "$log"
done

echo
echo "target               time     executions        corpus  result"
printf '%s\n' "${summary[@]}"
exit "$status"
