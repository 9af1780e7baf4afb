#!/usr/bin/env bash
# The test suites of grove, grove-http and grove-patch under AddressSanitizer (with LeakSanitizer), on the
# nightly toolchain. corosensei's `sanitizer` feature (grove's `sanitizer` feature) tells ASan
# about every stack switch so greenlet stacks are not mistaken for overflows.
#
#   ci/asan.sh [extra cargo test args...]
set -euo pipefail
cd "$(dirname "$0")/.."
export RUSTFLAGS="-Zsanitizer=address -Cforce-frame-pointers=yes"
export RUSTDOCFLAGS="$RUSTFLAGS"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=0}"
# --target keeps build scripts and proc macros uninstrumented.
cargo +nightly test --target x86_64-unknown-linux-gnu --target-dir target/asan \
    -p grove -p grove-http -p grove-patch --features grove/sanitizer --lib --tests "$@"
