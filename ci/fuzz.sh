#!/usr/bin/env bash
# Runs every cargo-fuzz target for SECONDS each (two at a time, one per core), then minimises
# each corpus in place. Crashes are copied to fuzz/regressions/<target>/, which the stable
# test `crates/grove-http/tests/fuzz_corpus.rs` replays, and make the script fail.
#
#   ci/fuzz.sh [SECONDS] [TARGET...]       (default 300 s, all targets)
#
# Needs a nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`); builds with
# AddressSanitizer (cargo-fuzz's default).
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
secs=${1:-300}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cargo +nightly fuzz list)
fi
cargo +nightly fuzz build
log=$(mktemp -d)
run() {
    local t=$1
    mkdir -p "corpus/$t" "artifacts/$t"
    if cargo +nightly fuzz run "$t" "corpus/$t" -- -max_total_time="$secs" -max_len=4096 \
        -timeout=30 -print_final_stats=1 >"$log/$t.log" 2>&1; then
        echo "$t: $(grep -E '^Done [0-9]+ runs' "$log/$t.log" || echo done), corpus $(ls "corpus/$t" | wc -l)"
    else
        echo "$t: FAILED, see $log/$t.log"
        return 1
    fi
}
status=0
for ((i = 0; i < ${#targets[@]}; i += 2)); do
    pids=()
    for t in "${targets[@]:i:2}"; do
        run "$t" & pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p" || status=1; done
done
for t in "${targets[@]}"; do
    if compgen -G "artifacts/$t/*" >/dev/null; then
        mkdir -p "regressions/$t"
        cp artifacts/$t/* "regressions/$t/"
        echo "$t: crash inputs copied to fuzz/regressions/$t/"
        status=1
    fi
    # Keep the corpus small: only inputs that add coverage.
    cargo +nightly fuzz cmin "$t" "corpus/$t" >"$log/$t.cmin.log" 2>&1 || true
    echo "$t: corpus after cmin $(ls "corpus/$t" | wc -l)"
done
exit $status
