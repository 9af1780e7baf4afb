#!/usr/bin/env bash
# Long differential campaigns: grove-http's server and client against hyper's
# (crates/grove-http/tests/differential.rs), in release mode. Each round runs CASES server
# cases and CASES/2 client cases from a fresh random seed, printed first so a failing round
# can be replayed; a failing case prints its own seed and its exact bytes.
#
#   ci/differential.sh [CASES] [ROUNDS]        (default 100000 cases, 3 rounds)
#   GROVE_DIFF_SEED=S ci/differential.sh ...   (the first round starts at seed S)
#
# Replay one case: GROVE_DIFF_SEED=<its seed> GROVE_DIFF_CASES=1 \
#   cargo test -p grove-http --test differential -- --nocapture
set -euo pipefail
cd "$(dirname "$0")/.."
cases=${1:-100000}
rounds=${2:-3}
first=${GROVE_DIFF_SEED:-}
cargo test --release -p grove-http --test differential --no-run
for ((r = 1; r <= rounds; r++)); do
    if [ -n "$first" ]; then
        seed=$first
        first=
    else
        seed=$(od -An -N8 -tu8 /dev/urandom | tr -d ' ')
    fi
    echo "== round $r/$rounds: GROVE_DIFF_SEED=$seed GROVE_DIFF_CASES=$cases"
    if ! GROVE_DIFF_SEED=$seed GROVE_DIFF_CASES=$cases \
        cargo test --release -q -p grove-http --test differential -- --nocapture; then
        echo "== round $r failed (GROVE_DIFF_SEED=$seed)"
        exit 1
    fi
done
echo "== $rounds rounds of $cases cases: no difference outside the table"
