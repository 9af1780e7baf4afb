#!/usr/bin/env bash
# Model-checks grove's cross-thread code with loom (the switch is crates/grove/src/loom.rs):
# - the hub's wakeup gate (hub/gate.rs): every interleaving of a remote waker and a hub going
#   to sleep, for a wake that must arrive and for a token dropped unused (which must end in
#   deadlock detection, not a hang);
# - sync::mt's waiting protocol (Queue, Event, AsyncResult): handovers between threads, timed
#   waits racing notifiers, the pass-on of a notification a leaving waiter consumed, close, and
#   the Deadlock error of a wait whose primitive lost its last other handle.
set -euo pipefail
cd "$(dirname "$0")/.."
RUSTFLAGS="--cfg loom" cargo test --release --target-dir target/loom -p grove --lib model_tests -- --nocapture
