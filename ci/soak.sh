#!/usr/bin/env bash
# The full soak: 1,000,000 greenlets spawned and joined over time on one hub, then 1,000,000
# on two, with live heap allocations, fds, greenlets, timers, registrations and mapped stacks
# checked flat at every tenth, and the blocking monitor at gevent's 100 ms threshold. The same
# test runs with 40,000 per phase in `cargo test` (CI).
#
#   ci/soak.sh [GREENLETS_PER_PHASE]        (default 1000000)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000000}
start=$(date +%s)
GROVE_SOAK=$n GROVE_SOAK_MONITOR_MS=100 \
    cargo test --release -p grove --test soak -- --nocapture 2>&1 | grep -E "^soak|test result|panicked"
echo "soak: ${n} per phase in $(( $(date +%s) - start )) s (release, including the build)"
