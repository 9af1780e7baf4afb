//! Shared helpers for the `conformance_*` suites: gevent's and greenlet's behavioural tests
//! re-expressed against grove's public API.
//!
//! Include with `#[path = "util/conform.rs"] mod conform;`.
#![allow(dead_code)]

use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long one conformance case may take before it counts as hung. Only a liveness bound:
/// no case needs anywhere near this on a healthy machine.
pub(crate) const HANG: Duration = Duration::from_secs(20);

/// A deadline meant to expire: nothing in the case can finish before it.
pub(crate) const SHORT: Duration = Duration::from_millis(20);

/// A deadline meant never to be reached in a passing run (ordering comes from scheduling).
pub(crate) const LONG: Duration = Duration::from_secs(10);

/// "Forever" for greenlets that are killed (or unwound at the end of `grove::run`).
pub(crate) const FOREVER: Duration = Duration::from_secs(3600);

/// Milliseconds.
pub(crate) fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Runs `f` as the main greenlet of a fresh thread inside `grove::run` (greenlets left alive
/// are unwound at its end) and returns its value. A case that does not finish within [`HANG`]
/// fails with a message instead of stalling the whole test binary; a panic continues here.
pub(crate) fn conform<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let name = std::thread::current().name().unwrap_or("conformance").to_string();
    let (tx, rx) = mpsc::channel();
    let thread = std::thread::Builder::new()
        .name(name.clone())
        .spawn(move || {
            let r = panic::catch_unwind(AssertUnwindSafe(|| grove::run(f)));
            let _ = tx.send(r);
        })
        .expect("spawn a test thread");
    match rx.recv_timeout(HANG) {
        Ok(Ok(v)) => {
            let _ = thread.join();
            v
        }
        Ok(Err(p)) => {
            let _ = thread.join();
            panic::resume_unwind(p)
        }
        Err(_) => panic!("{name}: hung (not finished within {HANG:?})"),
    }
}

/// Environment variable marking a child process started by [`isolated`].
const ISOLATED_ENV: &str = "GROVE_CONFORMANCE_ISOLATED";

/// Like [`conform`], but runs the case in a child process (this test binary, re-run with only
/// the current test): for cases whose failure mode may abort the process (a panic while
/// panicking), so that such a failure fails this one test instead of the whole binary.
pub(crate) fn isolated<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) {
    if std::env::var_os(ISOLATED_ENV).is_some() {
        conform(f);
        return;
    }
    let name = std::thread::current().name().expect("a libtest thread name").to_string();
    let exe = std::env::current_exe().expect("test binary path");
    let out = std::process::Command::new(exe)
        .args([name.as_str(), "--exact", "--nocapture", "--test-threads=1"])
        .env(ISOLATED_ENV, "1")
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("re-run the test binary");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{name} failed in its own process ({}):\n{}{}",
        out.status,
        stdout,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// An ordered record of what happened, shared between greenlets of one hub.
#[derive(Debug)]
pub(crate) struct Log<T>(Rc<RefCell<Vec<T>>>);

impl<T> Clone for Log<T> {
    fn clone(&self) -> Self {
        Log(self.0.clone())
    }
}

impl<T> Default for Log<T> {
    fn default() -> Self {
        Log(Rc::default())
    }
}

impl<T: Clone> Log<T> {
    pub(crate) fn new() -> Self {
        Self::default()
    }
    pub(crate) fn push(&self, v: T) {
        self.0.borrow_mut().push(v);
    }
    pub(crate) fn get(&self) -> Vec<T> {
        self.0.borrow().clone()
    }
    pub(crate) fn len(&self) -> usize {
        self.0.borrow().len()
    }
    pub(crate) fn is_empty(&self) -> bool {
        self.0.borrow().is_empty()
    }
}

/// A shared flag.
#[derive(Debug, Clone, Default)]
pub(crate) struct Flag(Rc<Cell<bool>>);

impl Flag {
    pub(crate) fn new() -> Self {
        Self::default()
    }
    pub(crate) fn set(&self) {
        self.0.set(true);
    }
    pub(crate) fn get(&self) -> bool {
        self.0.get()
    }
}

/// A shared counter.
#[derive(Debug, Clone, Default)]
pub(crate) struct Counter(Rc<Cell<usize>>);

impl Counter {
    pub(crate) fn new() -> Self {
        Self::default()
    }
    pub(crate) fn incr(&self) {
        self.0.set(self.0.get() + 1);
    }
    pub(crate) fn get(&self) -> usize {
        self.0.get()
    }
}

/// Sets its flag when dropped (to observe that an unwind ran destructors).
#[derive(Debug)]
pub(crate) struct SetOnDrop(pub(crate) Flag);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.set();
    }
}

/// Asserts that at least `min` passed since `start` (a lower bound only: never an upper one).
#[track_caller]
pub(crate) fn assert_took_at_least(start: Instant, min: Duration) {
    let took = start.elapsed();
    assert!(took >= min, "returned after {took:?}, before the {min:?} it should wait");
}

/// The text of a panic payload.
pub(crate) fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "<non-string panic>".to_string()
    }
}

/// Runs `f` inside a `grove::timeout(dur, ..)` scope and checks the scope's deadline unwound
/// the blocking call in `f` to the scope boundary: `timeout` returned `Err(Elapsed)` and the
/// code after the blocking call (which must call `after()` when reached) never ran.
#[track_caller]
pub(crate) fn assert_scope_unwinds<R>(dur: Duration, f: impl FnOnce(&dyn Fn()) -> R) {
    let reached = Flag::new();
    let r2 = reached.clone();
    let after = move || r2.set();
    let start = Instant::now();
    let r = grove::timeout(dur, || f(&after));
    assert!(r.is_err(), "timeout scope did not report Elapsed");
    assert!(
        !reached.get(),
        "the blocking call returned inside the expired scope instead of unwinding"
    );
    assert_took_at_least(start, dur);
}
