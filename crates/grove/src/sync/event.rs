use std::cell::{Cell, RefCell};
use std::fmt;
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::waitlist::WaitList;
use crate::hub::{Token, WaitError};

/// A flag greenlets can wait for (gevent's `Event`). Cloning gives another handle to the same
/// event. Hub-local: not `Send` (see [`AsyncResult`](super::AsyncResult) across threads).
///
/// ```
/// let ev = grove::sync::Event::new();
/// let e = ev.clone();
/// let waiter = grove::spawn(move || e.wait());
/// grove::yield_now();
/// ev.set();
/// assert!(waiter.join().unwrap().is_ok());
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
    /// Waiters the last `set` woke, weakly (a finished waiter's record, and its result, are not
    /// kept alive by the event); a newcomer finding the flag set lets those that have not run
    /// yet go first (gevent issue 1520).
    woken: RefCell<Vec<WeakToken>>,
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Event(set: {})", self.inner.set.get())
    }
}

impl Event {
    /// A new, unset event.
    ///
    /// # Examples
    ///
    /// ```
    /// let ev = grove::sync::Event::new();
    /// assert!(!ev.is_set());
    /// ```
    pub fn new() -> Event {
        Event::default()
    }

    /// Sets the flag and wakes every waiter. Each of them returns `Ok(())` from its wait, even
    /// if the flag is cleared again before it runs (as with `threading.Event`).
    ///
    /// # Examples
    ///
    /// ```
    /// let ev = grove::sync::Event::new();
    /// let e = ev.clone();
    /// let waiter = grove::spawn(move || e.wait());
    /// grove::yield_now(); // the waiter blocks in `wait`
    /// ev.set();
    /// assert_eq!(waiter.join().unwrap(), Ok(()));
    /// ```
    pub fn set(&self) {
        let i = &self.inner;
        i.set.set(true);
        i.generation.set(i.generation.get() + 1);
        let woken = i.waiters.notify_all_tokens();
        // Waiters an earlier `set` woke and that have not run yet stay in the list: a
        // newcomer must still go after them.
        let mut list = i.woken.borrow_mut();
        list.retain(WeakToken::is_scheduled);
        list.extend(woken.iter().map(WeakToken::new));
    }

    /// Clears the flag; later waiters block until it is set again.
    ///
    /// # Examples
    ///
    /// ```
    /// let ev = grove::sync::Event::new();
    /// ev.set();
    /// ev.clear();
    /// assert!(!ev.is_set());
    /// ```
    pub fn clear(&self) {
        self.inner.set.set(false);
    }

    /// Whether the flag is set.
    ///
    /// # Examples
    ///
    /// ```
    /// let ev = grove::sync::Event::new();
    /// ev.set();
    /// assert!(ev.is_set());
    /// ev.wait().unwrap(); // returns at once
    /// ```
    pub fn is_set(&self) -> bool {
        self.inner.set.get()
    }

    /// Blocks until the flag is set (or was set while this call waited, even if it was
    /// cleared again before it ran). Inside an expiring `timeout` scope it unwinds to the scope.
    ///
    /// # Errors
    /// [`WaitError::Deadlock`] when the main greenlet waits and nothing can ever set it;
    /// [`WaitError::Interrupted`] when the caller is unwinding.
    ///
    /// # Examples
    ///
    /// ```
    /// use grove::sync::{Event, WaitError};
    /// let ev = Event::new();
    /// let e = ev.clone();
    /// let _setter = grove::spawn(move || e.set());
    /// ev.wait().unwrap();
    /// // On the main greenlet, a wait nothing can ever end fails instead of hanging:
    /// assert_eq!(Event::new().wait(), Err(WaitError::Deadlock));
    /// ```
    pub fn wait(&self) -> Result<(), WaitError> {
        self.wait_until(None)
    }

    /// Like [`wait`](Self::wait), giving up after `timeout`.
    ///
    /// # Errors
    /// [`WaitError::TimedOut`], or as [`wait`](Self::wait).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use grove::sync::{Event, WaitError};
    /// let ev = Event::new();
    /// assert_eq!(ev.wait_timeout(Duration::from_millis(5)), Err(WaitError::TimedOut));
    /// ev.set();
    /// assert_eq!(ev.wait_timeout(Duration::from_millis(5)), Ok(()));
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> Result<(), WaitError> {
        self.wait_until(crate::time::deadline_after(timeout))
    }

    /// Like [`wait`](Self::wait), giving up at `deadline`.
    ///
    /// # Errors
    /// [`WaitError::TimedOut`], or as [`wait`](Self::wait).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use grove::sync::{Event, WaitError};
    /// let ev = Event::new();
    /// let r = ev.wait_deadline(Instant::now() + Duration::from_millis(5));
    /// assert_eq!(r, Err(WaitError::TimedOut));
    /// ```
    pub fn wait_deadline(&self, deadline: Instant) -> Result<(), WaitError> {
        self.wait_until(Some(deadline))
    }

    pub(crate) fn wait_until(&self, deadline: Option<Instant>) -> Result<(), WaitError> {
        let i = &self.inner;
        if i.set.get() {
            self.after_woken();
            return Ok(());
        }
        let generation = i.generation.get();
        loop {
            let r = i.waiters.wait(deadline, "Event::wait");
            if i.generation.get() != generation {
                return Ok(());
            }
            r?;
        }
    }

    /// For `select`: how many times the event was set (a `set` then `clear` still moves it).
    pub(crate) fn generation(&self) -> u64 {
        self.inner.generation.get()
    }

    /// For `select`: whether a `wait` would not wait, and its waiters.
    pub(crate) fn readiness(&self) -> (bool, &WaitList) {
        (self.inner.set.get(), &self.inner.waiters)
    }

    /// Found the flag set: if waiters woken by the `set` have not run yet, queue behind them.
    fn after_woken(&self) {
        let mut woken = self.inner.woken.borrow_mut();
        woken.retain(WeakToken::is_scheduled);
        let behind = !woken.is_empty();
        drop(woken);
        if behind {
            crate::yield_now();
        }
    }
}

/// A token that does not keep its greenlet's record alive.
struct WeakToken(std::rc::Weak<crate::hub::fiber::Fiber>, u64);

impl WeakToken {
    fn new(t: &Token) -> WeakToken {
        WeakToken(std::rc::Rc::downgrade(&t.fiber.0), t.seq)
    }

    /// Whether the greenlet was woken for this token and has not run since.
    fn is_scheduled(&self) -> bool {
        self.0.upgrade().is_some_and(|f| {
            Token { fiber: crate::hub::fiber::FiberRef(f), seq: self.1 }.is_scheduled()
        })
    }
}
