use std::cell::{Cell, RefCell};
use std::fmt;
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::waitlist::{WaitList, WaitResult};
use crate::hub::Token;

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
    /// Bumped by every `set`: a waiter that sees it change was released by that `set`, even
    /// if the flag was cleared again before it ran.
    generation: Cell<u64>,
    waiters: WaitList,
    /// Waiters the last `set` woke; a newcomer finding the flag set lets those that have not
    /// run yet go first (gevent issue 1520).
    woken: RefCell<Vec<Token>>,
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

    /// Sets the flag and wakes every waiter. Each of them returns `true` from its wait, even
    /// if the flag is cleared again before it runs (as with `threading.Event`).
    pub fn set(&self) {
        let i = &self.inner;
        i.set.set(true);
        i.generation.set(i.generation.get() + 1);
        let woken = i.waiters.notify_all_tokens();
        *i.woken.borrow_mut() = woken;
    }

    /// Clears the flag; later waiters block until it is set again.
    pub fn clear(&self) {
        self.inner.set.set(false);
    }

    /// Whether the flag is set.
    pub fn is_set(&self) -> bool {
        self.inner.set.get()
    }

    /// Blocks until the flag is set. Returns `true` once it was; `false` only if the main
    /// greenlet would block forever or the caller is unwinding. Inside an expiring `timeout`
    /// scope it unwinds to the scope.
    pub fn wait(&self) -> bool {
        self.wait_deadline(None)
    }

    /// Blocks until the flag is set or `timeout` passes; returns whether it was set.
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        self.wait_deadline(crate::time::deadline_after(timeout))
    }

    fn wait_deadline(&self, deadline: Option<Instant>) -> bool {
        let i = &self.inner;
        if i.set.get() {
            self.after_woken();
            return true;
        }
        let generation = i.generation.get();
        loop {
            let r = i.waiters.wait(deadline, "Event::wait");
            if i.generation.get() != generation {
                return true;
            }
            if r != WaitResult::Notified {
                return false;
            }
        }
    }

    /// Found the flag set: if waiters woken by the `set` have not run yet, queue behind them.
    fn after_woken(&self) {
        let mut woken = self.inner.woken.borrow_mut();
        woken.retain(Token::is_scheduled);
        let behind = !woken.is_empty();
        drop(woken);
        if behind {
            crate::yield_now();
        }
    }
}
