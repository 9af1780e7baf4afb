//! The switch between std and the loom model checker for cross-thread code (tokio's
//! `src/loom` pattern). Code shared between threads — the hub's wakeup gate, `sync::mt`,
//! `AsyncResult`, the runtime's admission — takes its atomics, `Arc` and `Mutex` from here and
//! parks through `sync::mt::park`, so under `RUSTFLAGS="--cfg loom"` (ci/loom.sh) the same code runs
//! against loom's types and every interleaving of its threads is explored.
//!
//! What loom cannot run is the hub itself (stack switching, epoll): under loom a waiter parks
//! its loom thread instead of its greenlet, with a token that wakes that thread. The protocol
//! being checked — register under the lock, park, withdraw or pass the notification on when
//! the wait ends without it — is the code production runs; only the last step (how a parked
//! waiter sleeps) is swapped.

#[cfg(loom)]
pub(crate) use loom::sync::{atomic, Arc, Mutex, MutexGuard};
#[cfg(not(loom))]
pub(crate) use std::sync::{atomic, Arc, Mutex, MutexGuard};
