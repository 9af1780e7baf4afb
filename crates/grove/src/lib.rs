//! gevent-style green threads for Rust.
//!
//! Write plain blocking code — `sleep`, `join`, (soon) socket `read`/`write` — and run it as
//! thousands of cheap cooperative greenlets on one OS thread. Each greenlet has its own stack
//! (so it can block anywhere, deep in ordinary code); a per-thread *hub* switches between them
//! whenever one blocks.
//!
//! ```
//! use std::time::{Duration, Instant};
//!
//! grove::run(|| {
//!     let start = Instant::now();
//!     // Three slow "fetches" run concurrently: total time is that of one.
//!     let fetches: Vec<_> = (1..=3u64)
//!         .map(|i| grove::spawn(move || { grove::sleep(Duration::from_millis(50)); i * 10 }))
//!         .collect();
//!     let results: Vec<u64> = grove::joinall(fetches).into_iter().map(|r| r.unwrap()).collect();
//!     assert_eq!(results, [10, 20, 30]);
//!     assert!(start.elapsed() < Duration::from_millis(140));
//! });
//! ```
//!
//! # How it works
//!
//! - A **greenlet** is a [corosensei](https://docs.rs/corosensei) coroutine on an mmap'd stack
//!   with a guard page (128 KiB reserved by default, touched lazily, pooled for reuse).
//! - The thread's own stack is the **main greenlet**. When it blocks, the hub's scheduler runs
//!   right there on the thread stack: it resumes ready greenlets one after another, and between
//!   batches takes a *loop turn* — callbacks, cross-thread wakeups, an epoll poll (mio), timers.
//!   See [`hub`] for the loop.
//! - A greenlet that blocks registers a one-shot **token** (greenlet + park generation) wherever
//!   it waits and switches to the hub; using the token puts it back on the FIFO ready queue.
//!   Stale tokens (from a wait that already ended by timeout or kill) do nothing.
//! - Greenlets are **pinned** to their hub's thread and never migrate, so thread-locals, `Rc`
//!   and other `!Send` data are sound inside them, and [`spawn`] takes closures that need not
//!   be `Send`.
//! - Scheduling is **cooperative**: only blocking calls switch. A greenlet that computes for a
//!   long time without blocking holds its thread.
//! - **Kill** unwinds the victim from the call it is blocked in (destructors run); a panic is
//!   caught at the greenlet's base and handed to [`JoinHandle::join`].
//! - When the main greenlet waits for something that nothing can ever cause (no ready
//!   greenlets, no timers, no awaited I/O, no cross-thread wakeups pending), the wait fails
//!   instead of hanging ([`WaitError::Deadlock`]), like gevent's `LoopExit`.

#![deny(missing_docs)]
#![doc(test(attr(deny(warnings))))]

pub(crate) mod ctx;
pub mod diag;
pub mod dns;
pub mod fs;
mod future;
pub mod generator;
pub mod greenlet;
pub mod hub;
pub mod io;
mod loom;
pub mod monitor;
pub mod net;
pub mod pool;
pub mod process;
pub mod runtime;
pub mod select;
pub mod signal;
pub mod sync;
mod task;
pub mod thread_pool;
mod time;
#[cfg(feature = "tls")]
pub mod tls;

pub use future::block_on;
pub use generator::{Co, Generator, GeneratorState};
pub use greenlet::{getcurrent, Greenlet, GreenletExit};
pub use hub::{add_callback, call_later, run_info, stats, GreenletInfo, HubStats, WaitError};
pub use runtime::{Handle, Runtime, SendJoinHandle};
pub use select::{try_joinall, wait_n, wait_n_deadline, wait_n_timeout};
pub use task::{
    joinall, spawn, spawn_later, try_spawn, wait_all, wait_all_timeout, Builder, JoinError,
    JoinHandle,
};
pub use time::{current_deadline, sleep, sleep_until, timeout, timeout_at, yield_now, Elapsed};

/// Runs `f` as this thread's main greenlet, then kills every greenlet still alive on the
/// thread's hub (their destructors run) and returns `f`'s value.
///
/// The hub exists without `run` too — [`spawn`] and blocking calls create it on first use —
/// but `run` gives it a defined end: without it, greenlets still alive when the thread exits
/// are abandoned (their stacks leak) rather than unwound.
///
/// # Panics
/// If called from inside a greenlet (greenlets are already inside a hub), or if `f` panics
/// (after the cleanup).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// let n = grove::run(|| {
///     let _forgotten = grove::spawn(|| grove::sleep(Duration::from_secs(3600)));
///     grove::spawn(|| 40 + 2).join().unwrap()
/// }); // the sleeper is killed here, not leaked
/// assert_eq!(n, 42);
/// ```
pub fn run<T>(f: impl FnOnce() -> T) -> T {
    assert!(
        hub::current().is_main(),
        "grove::run called from inside a greenlet; it must be called on a thread's own stack"
    );
    struct Shutdown;
    impl Drop for Shutdown {
        fn drop(&mut self) {
            hub::with(|h| h.shutdown());
        }
    }
    let _shutdown = Shutdown;
    f()
}

/// Hooks for `grove-patch` (the libc-level patching layer), which needs to park and unwind
/// from C-called code in ways an application never should. Not part of grove's API: they may
/// change in any release.
#[doc(hidden)]
pub mod patch_support {
    pub use crate::hub::{
        defer_kill, is_cooperative, is_scope_expiry, kill_deferred, park_remote, shielded,
        RemoteToken,
    };
}

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
mod readme {}
