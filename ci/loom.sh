#!/usr/bin/env bash
# Model-checks the hub's cross-thread wakeup protocol (crates/grove/src/hub/gate.rs) with
# loom: every interleaving of a remote waker and a hub going to sleep, for a wake that must
# arrive and for a token dropped unused (which must end in deadlock detection, not a hang).
set -euo pipefail
cd "$(dirname "$0")/.."
RUSTFLAGS="--cfg loom" cargo test --release --target-dir target/loom -p grove --lib gate::model_tests -- --nocapture
