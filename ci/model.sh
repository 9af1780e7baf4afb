#!/usr/bin/env bash
# The randomized model test at scale: random programs of spawn / kill / join / sleep / yield /
# timeout scopes / queue / event / semaphore operations, run on the real hub and on the
# reference model (crates/grove/tests/model.rs), in release.
#
#   ci/model.sh [SEEDS] [START]     (default 1000000 seeds from a start derived from the date)
#
# Untimed programs (80%) run on GROVE_MODEL_THREADS threads (default: the number of CPUs)
# at tens of thousands per second; timed ones mostly sleep on a 20 ms grid and run on
# GROVE_MODEL_TIMED_THREADS threads (default 64) at once. Every other GROVE_MODEL_* knob of
# the test applies (GROVE_MODEL_ALLOW_KNOWN=1 to fail only on disagreements that no listed
# item explains). A failing seed is printed with its program, the difference and a
# minimized program; rerun one with GROVE_MODEL_SEED=<seed>.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000000}
start=${2:-$(( $(date +%s) / 86400 * 1000000000 ))}
export GROVE_MODEL_SEEDS=$n GROVE_MODEL_SEED_START=$start
export GROVE_MODEL_THREADS=${GROVE_MODEL_THREADS:-$(nproc)}
export GROVE_MODEL_TIMED_THREADS=${GROVE_MODEL_TIMED_THREADS:-64}
export GROVE_MODEL_MAX_FAILURES=${GROVE_MODEL_MAX_FAILURES:-50}
echo "model: ${n} seeds from ${start} (GROVE_MODEL_SEED_START=${start})"
t0=$(date +%s)
cargo test --release -p grove --test model -- --nocapture model_random_seeds model_regressions 2>&1 \
    | grep -vE "^(running|test |$)"
echo "model: ${n} seeds in $(( $(date +%s) - t0 )) s (release, including the build)"
