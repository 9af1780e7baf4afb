use std::cell::Cell;
use std::fmt;
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::waitlist::{WaitList, WaitResult};

/// A flag greenlets can wait for (gevent's `Event`). Cloning gives another handle to the same
/// event. Hub-local: not `Send` (see [`AsyncResult`](super::AsyncResult) across threads).
///
/// ```
/// let ev = grove::sync::Event::new();
/// let e = ev.clone();
/// let waiter = grove::spawn(move || e.wait());
/// grove::yield_now();
/// ev.set();
/// assert!(waiter.join().unwrap());
/// ```
#[derive(Clone, Default)]
pub struct Event {
    inner: Rc<Inner>,
}

#[derive(Default)]
struct Inner {
    set: Cell<bool>,
    waiters: WaitList,
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Event(set: {})", self.inner.set.get())
    }
}

impl Event {
    /// A new, unset event.
    pub fn new() -> Event {
        Event::default()
    }

    /// Sets the flag and wakes every waiter.
    pub fn set(&self) {
        self.inner.set.set(true);
        self.inner.waiters.notify_all();
    }

    /// Clears the flag; later waiters block until it is set again.
    pub fn clear(&self) {
        self.inner.set.set(false);
    }

    /// Whether the flag is set.
    pub fn is_set(&self) -> bool {
        self.inner.set.get()
    }

    /// Blocks until the flag is set. Returns the flag: `false` only if an enclosing `timeout`
    /// scope expired, the main greenlet would block forever, or the caller is unwinding.
    pub fn wait(&self) -> bool {
        self.wait_deadline(None)
    }

    /// Blocks until the flag is set or `timeout` passes; returns the flag.
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        self.wait_deadline(Some(Instant::now() + timeout))
    }

    fn wait_deadline(&self, deadline: Option<Instant>) -> bool {
        while !self.inner.set.get() {
            if self.inner.waiters.wait(deadline, "Event::wait") != WaitResult::Notified {
                break;
            }
        }
        self.inner.set.get()
    }
}
