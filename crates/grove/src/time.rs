//! Sleeping, yielding and deadline scopes.

use std::fmt;
use std::time::{Duration, Instant};

use crate::greenlet::fiber::Wake;
use crate::hub;

/// Blocks the running greenlet for `dur`; other greenlets run meanwhile. `sleep(ZERO)` is
/// [`yield_now`]. Returns early if an enclosing [`timeout`] scope expires first, or at once if
/// the greenlet is unwinding.
pub fn sleep(dur: Duration) {
    if dur.is_zero() {
        return yield_now();
    }
    sleep_until(Instant::now() + dur);
}

/// Blocks the running greenlet until `deadline` (see [`sleep`]).
pub fn sleep_until(deadline: Instant) {
    hub::with(|h| loop {
        match h.park(Some(deadline), "sleep") {
            Wake::Normal if Instant::now() < deadline => continue,
            _ => return,
        }
    })
}

/// Lets every other ready greenlet run once, then continues (gevent's `sleep(0)`).
pub fn yield_now() {
    hub::with(|h| h.yield_now())
}

/// The deadline of a [`timeout`] scope passed while its closure ran.
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

/// Runs `f` with a deadline `dur` from now (gevent's `Timeout` / `with_timeout`): every
/// blocking call inside returns early once the deadline passes (I/O fails with
/// `ErrorKind::TimedOut`, sleeps end, joins and waits give up). Scopes nest; the earliest
/// deadline wins.
///
/// Returns `Err(Elapsed)` when a blocking call inside was cut short by this scope's deadline
/// (whatever `f` then returned is dropped), else `f`'s value.
///
/// ```
/// use std::time::Duration;
/// let r = grove::timeout(Duration::from_millis(10), || grove::sleep(Duration::from_secs(10)));
/// assert!(r.is_err());
/// ```
pub fn timeout<T>(dur: Duration, f: impl FnOnce() -> T) -> Result<T, Elapsed> {
    timeout_at(Instant::now() + dur, f)
}

/// [`timeout`] with an absolute deadline.
pub fn timeout_at<T>(deadline: Instant, f: impl FnOnce() -> T) -> Result<T, Elapsed> {
    /// Restores the enclosing scope, also when `f` unwinds. If the deadline that cut a call
    /// short is the outer scope's (not later than ours), the outer scope has expired too.
    struct Scope {
        fiber: crate::greenlet::fiber::FiberRef,
        outer: Option<Instant>,
        outer_hit: bool,
        mine: Instant,
    }
    impl Drop for Scope {
        fn drop(&mut self) {
            let hit = self.fiber.deadline_hit.get();
            let outer_expired = hit && self.outer.is_some_and(|o| o <= self.mine);
            self.fiber.deadline.set(self.outer);
            self.fiber.deadline_hit.set(self.outer_hit || outer_expired);
        }
    }
    let fiber = hub::current();
    let outer = fiber.deadline.get();
    let mine = outer.map_or(deadline, |o| o.min(deadline));
    let outer_hit = fiber.deadline_hit.replace(false);
    fiber.deadline.set(Some(mine));
    let scope = Scope { fiber, outer, outer_hit, mine };
    let v = f();
    let hit = scope.fiber.deadline_hit.get();
    drop(scope);
    if hit {
        Err(Elapsed(()))
    } else {
        Ok(v)
    }
}

/// The deadline of the innermost enclosing [`timeout`] scope of the running greenlet.
pub fn current_deadline() -> Option<Instant> {
    hub::current().deadline.get()
}
