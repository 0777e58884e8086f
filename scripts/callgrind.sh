# Sourced by the scripts that count instructions with callgrind
# (instructions.sh, metrics_cost.sh): installs valgrind when missing, and
# `per_call BIN CASE` prints the instructions per iteration of CASE in the
# bench binary BIN (`benches/instructions.rs`), from runs of 0 and N
# iterations.

if ! command -v valgrind >/dev/null; then
    apt-get update -qq && apt-get install -y -qq valgrind >/dev/null
fi

# Instructions of one run of BIN with CASE and ITERATIONS.
count() {
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$1" "$2" "$3" 2>&1 |
        sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}

per_call() {
    local base full
    base=$(count "$1" "$2" 0)
    full=$(count "$1" "$2" "$N")
    echo $(((full - base) / N))
}
