//! Sleeping, yielding and deadline scopes.

use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::time::{Duration, Instant};

use crate::hub::fiber::Wake;
use crate::hub::{self, ScopeExpired};

pub(crate) use crate::hub::deadline_after;

/// Blocks the running greenlet for `dur`; other greenlets run meanwhile. `sleep(ZERO)` is
/// [`yield_now`]; a duration too large for `Instant` sleeps until killed. Returns at once if
/// the greenlet is unwinding; inside a [`timeout`] scope whose deadline passes first, unwinds
/// to that scope.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
/// let start = Instant::now();
/// grove::sleep(Duration::from_millis(20));
/// assert!(start.elapsed() >= Duration::from_millis(20));
/// ```
pub fn sleep(dur: Duration) {
    if dur.is_zero() {
        return yield_now();
    }
    match deadline_after(dur) {
        Some(d) => sleep_until(d),
        None => hub::with(|h| while h.park(None, "sleep") == Wake::Normal {}),
    }
}

/// Blocks the running greenlet until `deadline` (see [`sleep`]).
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
/// let deadline = Instant::now() + Duration::from_millis(20);
/// grove::sleep_until(deadline);
/// assert!(Instant::now() >= deadline);
/// ```
pub fn sleep_until(deadline: Instant) {
    hub::with(|h| loop {
        match h.park(Some(deadline), "sleep") {
            Wake::Normal if Instant::now() < deadline => continue,
            _ => return,
        }
    })
}

/// Lets every other ready greenlet run once, then continues (gevent's `sleep(0)`). Callbacks
/// added before the call have run when it returns. Inside an expired [`timeout`] scope it
/// unwinds to the scope, like every blocking call.
///
/// # Examples
///
/// ```
/// use std::cell::Cell;
/// use std::rc::Rc;
/// let ran = Rc::new(Cell::new(false));
/// let r = ran.clone();
/// let _h = grove::spawn(move || r.set(true));
/// assert!(!ran.get()); // spawned greenlets start only when the caller blocks or yields
/// grove::yield_now();
/// assert!(ran.get());
/// ```
pub fn yield_now() {
    hub::with(|h| h.yield_now())
}

/// The deadline of a [`timeout`] scope passed while its closure was blocked.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// let err = grove::timeout(Duration::from_millis(5), || grove::sleep(Duration::from_secs(5)))
///     .unwrap_err();
/// assert_eq!(err.to_string(), "deadline has elapsed");
/// let io: std::io::Error = err.into(); // `?` in functions returning io::Result
/// assert_eq!(io.kind(), std::io::ErrorKind::TimedOut);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed(());

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deadline has elapsed")
    }
}

impl std::error::Error for Elapsed {}

impl From<Elapsed> for std::io::Error {
    fn from(_: Elapsed) -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::TimedOut, "deadline has elapsed")
    }
}

/// Runs `f` with a deadline `dur` from now (gevent's `Timeout`): when the deadline passes
/// while `f` is blocked — in any blocking call, however deep — that call does not return: it
/// unwinds to this scope (destructors run, as for a kill) and `timeout` returns
/// `Err(Elapsed)`. A blocking call made after the deadline unwinds at once, so code inside an
/// expired scope can never spin.
///
/// - `f` that finishes without blocking past the deadline returns `Ok` with its value, even
///   if the deadline has passed meanwhile (like gevent, the deadline is noticed only at
///   blocking points).
/// - Scopes nest: the earliest deadline wins, and its expiry unwinds to the scope that set
///   it, through any inner scope (with equal deadlines, to the outer one).
/// - A call's own timeout (`get_timeout`, `wait_timeout`, a socket's read timeout) that is
///   not later than the scope's still ends that call with its own timed-out result.
/// - Code that catches panics inside a scope should let the scope's payload continue
///   (`std::panic::resume_unwind`), as with a kill's `GreenletExit`; if it does not, the next
///   blocking call unwinds again.
/// - A `dur` too large for `Instant` (`Duration::MAX`) means no deadline.
///
/// ```
/// use std::time::Duration;
/// let r = grove::timeout(Duration::from_millis(10), || grove::sleep(Duration::from_secs(10)));
/// assert!(r.is_err());
/// ```
pub fn timeout<T>(dur: Duration, f: impl FnOnce() -> T) -> Result<T, Elapsed> {
    match deadline_after(dur) {
        Some(d) => timeout_at(d, f),
        None => Ok(f()),
    }
}

/// [`timeout`] with an absolute deadline.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
/// let deadline = Instant::now() + Duration::from_millis(50);
/// assert_eq!(grove::timeout_at(deadline, || 7), Ok(7));
/// let r = grove::timeout_at(deadline, || grove::sleep(Duration::from_secs(10)));
/// assert!(r.is_err());
/// ```
pub fn timeout_at<T>(deadline: Instant, f: impl FnOnce() -> T) -> Result<T, Elapsed> {
    /// Restores the enclosing scope's deadline when `f` returns or unwinds.
    struct Scope {
        fiber: crate::hub::fiber::FiberRef,
        outer: (Option<Instant>, u16),
        depth: u16,
    }
    impl Drop for Scope {
        fn drop(&mut self) {
            self.fiber.deadline.set(self.outer.0);
            self.fiber.deadline_owner.set(self.outer.1);
            self.fiber.scope_depth.set(self.depth - 1);
        }
    }
    let fiber = hub::current();
    let outer = (fiber.deadline.get(), fiber.deadline_owner.get());
    // A stack overflows long before 65,535 nested scopes; saturating keeps it defined anyway.
    let depth = fiber.scope_depth.get().saturating_add(1);
    fiber.scope_depth.set(depth);
    if outer.0.is_none_or(|o| deadline < o) {
        fiber.deadline.set(Some(deadline));
        fiber.deadline_owner.set(depth);
    }
    let scope = Scope { fiber, outer, depth };
    let r = panic::catch_unwind(AssertUnwindSafe(f));
    drop(scope);
    match r {
        Ok(v) => Ok(v),
        Err(p) => match p.downcast::<ScopeExpired>() {
            Ok(e) if e.0 == depth => Err(Elapsed(())),
            Ok(e) => panic::resume_unwind(e),
            Err(p) => panic::resume_unwind(p),
        },
    }
}

/// The deadline of the innermost enclosing [`timeout`] scope of the running greenlet.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// assert_eq!(grove::current_deadline(), None);
/// grove::timeout(Duration::from_secs(1), || {
///     assert!(grove::current_deadline().is_some());
/// })
/// .unwrap();
/// ```
pub fn current_deadline() -> Option<Instant> {
    hub::current().deadline.get()
}
