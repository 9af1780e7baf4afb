#!/usr/bin/env bash
# Miri over the code that does not switch stacks (Miri cannot run corosensei's inline asm):
# the hub's wakeup gate model on real threads (data races, weak memory), the timer heap
# against its reference model, AtomicStaticRef publication, the chunked decoder's unit tests,
# and a sample (1 in 100) of the fuzz corpus through the request-head and chunked parsers.
# The response-head replay is left out: under Miri ten of its inputs took over 10 minutes
# (natively the whole corpus takes milliseconds); not investigated yet.
#
# Needs the nightly toolchain with the miri and rust-src components.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo +nightly miri test -p grove --lib -- hub::gate hub::timers ctx::tests
cargo +nightly miri test -p grove-http --lib
# The corpus is read from disk: isolation off for that binary only.
MIRIFLAGS="-Zmiri-disable-isolation" cargo +nightly miri test -p grove-http --test fuzz_corpus -- \
    --skip server_conn --skip response_head
