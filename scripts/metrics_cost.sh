#!/usr/bin/env bash
# What the `metrics` feature costs the router, for the 1 KiB `order_paid`
# event (issue target: at most 3 % of the router's work), measured in the
# same run against a build without the feature:
#
# - instructions per delivery, counted by callgrind (reproducible on a busy
#   machine): `dispatch` built without the feature, and built with it and a
#   Prometheus recorder taking every metric (`dispatch-metrics`);
# - wall-clock time, `benches/dispatch.rs` ("router: whole order"),
#   built both ways, ROUNDS alternating runs each on CPU 0, medians
#   compared. On a shared machine runs of one build spread by 10-15 %:
#   trust the instruction counts for a difference of a few percent.
#
#   scripts/metrics_cost.sh              # N = 10000, ROUNDS = 3
#   N=2000 ROUNDS=1 scripts/metrics_cost.sh
#
# Needs valgrind (installed with apt-get when missing).
set -euo pipefail
N=${N:-10000}
ROUNDS=${ROUNDS:-3}
cd "$(dirname "$0")/.."

# shellcheck source=callgrind.sh
. scripts/callgrind.sh

# The newest binary of bench $1 built with features $2, copied aside (the
# two builds share target/).
build() {
    cargo bench --quiet --features "$2" --bench "$1" --no-run 2>/dev/null
    local bin
    bin=$(ls -t target/release/deps/"$1"-* | grep -v '\.d$' | head -1)
    cp "$bin" "target/release/$1-$3"
    echo "target/release/$1-$3"
}

off=$(build instructions bench off)
on=$(build instructions bench,metrics on)
i_off=$(per_call "$off" dispatch)
i_on=$(per_call "$on" dispatch-metrics)

bench_off=$(build dispatch bench off)
bench_on=$(build dispatch bench,metrics on)
# Median time (ns) of "router: whole order" in one run of $1.
time_of() {
    taskset -c 0 "$1" --bench 'router: whole order' 2>/dev/null |
        awk '/time:/ { v = $4; u = $5; if (u == "µs") v *= 1000; if (u == "ms") v *= 1e6; print v; exit }'
}
median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
t_off=()
t_on=()
for _ in $(seq "$ROUNDS"); do
    t_off+=("$(time_of "$bench_off")")
    t_on+=("$(time_of "$bench_on")")
done
m_off=$(printf '%s\n' "${t_off[@]}" | median)
m_on=$(printf '%s\n' "${t_on[@]}" | median)

printf '%-52s %12s %12s %9s\n' "router work, 1 KiB order_paid" "without" "with" "cost"
printf '%-52s %12d %12d %8s%%\n' "instructions per delivery (callgrind, N=$N)" "$i_off" "$i_on" \
    "$(awk -v a="$i_off" -v b="$i_on" 'BEGIN { printf "%.2f", (b - a) * 100 / a }')"
printf '%-52s %12s %12s %8s%%\n' "ns per delivery (criterion, median of $ROUNDS)" "$m_off" "$m_on" \
    "$(awk -v a="$m_off" -v b="$m_on" 'BEGIN { printf "%.2f", (b - a) * 100 / a }')"
echo "runs without: ${t_off[*]} ns; with: ${t_on[*]} ns"
