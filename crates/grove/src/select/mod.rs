//! Waiting for the first of several things (Go's `select`, gevent's `wait(objects, count=1)`):
//! an item in a queue or a channel, room in a bounded queue, an event being set, a greenlet
//! finishing, an [`AsyncResult`] being set (from any thread), a semaphore permit, a socket or
//! fd becoming readable or writable — or a deadline.
//!
//! ```
//! use grove::select::Select;
//! use grove::sync::{Event, Queue};
//! use std::time::Duration;
//!
//! let jobs: Queue<u32> = Queue::unbounded();
//! let stop = Event::new();
//! let (j, s) = (jobs.clone(), stop.clone());
//! let worker = grove::spawn(move || {
//!     let mut done = 0;
//!     loop {
//!         let mut sel = Select::new();
//!         let job = sel.recv(&j);
//!         let quit = sel.event(&s);
//!         match sel.wait_timeout(Duration::from_secs(5)) {
//!             Ok(i) if i == job => done += j.try_get().unwrap(),
//!             Ok(i) if i == quit => return done,
//!             _ => return done,
//!         }
//!     }
//! });
//! jobs.put(2).unwrap();
//! jobs.put(3).unwrap();
//! grove::yield_now();
//! stop.set();
//! assert_eq!(worker.join().unwrap(), 5);
//! ```
//!
//! `wait` returns the index of an operation that would not block now; the caller then does it
//! with the non-blocking call (`try_get`, `try_put`, `join`, ...). Greenlets are cooperative,
//! so nothing else runs between the two: the readiness `wait` saw still holds. When several
//! are ready, the first registered wins.
//!
//! A semaphore `acquire` is the one operation the select performs itself: when it is
//! reported, the select holds the permit ([`Select::take_permit`]).
//!
//! Underneath, one wakeup token of the waiting greenlet sits in the wait list of every
//! operation; the first wakeup wins (a token wakes a park once), the others find it stale and
//! move on to their next waiter. The token records which list's notification woke it, so when
//! the select reports another operation, or leaves (timeout, kill, scope expiry), it gives
//! back exactly what that list handed it: the notification goes to the list's next waiter, a
//! permit reserved for it is released to the next waiter (or the pool). No getter is left
//! asleep with an item queued, and no permit is lost or kept.

mod joins;
mod sources;

use std::cell::{Cell, RefCell};
use std::fmt;
use std::time::{Duration, Instant};

use crate::hub::{self, Token, WaitError};
use crate::sync::{AsyncResult, Channel, Event, Queue, Semaphore, SemaphorePermit, Store};
use crate::JoinHandle;
pub use joins::{try_joinall, wait_n, wait_n_deadline, wait_n_timeout};
pub use sources::Pollable;
pub(crate) use sources::{pollable, sealed, watch_registered};
use sources::{Acquire, Async, EventOp, Fd, Join, List, SendOp, Source};

/// A set of operations to wait on; each `recv`/`send`/`event`/`join` returns the index `wait`
/// reports when that operation is the ready one.
///
/// # Examples
///
/// ```
/// use grove::select::Select;
/// use grove::sync::{Event, Queue};
/// let jobs: Queue<u32> = Queue::unbounded();
/// let stop = Event::new();
/// let mut sel = Select::new();
/// let job = sel.recv(&jobs);
/// let stopped = sel.event(&stop);
/// jobs.put(7).unwrap();
/// let ready = sel.wait().unwrap(); // the index of a ready operation
/// if ready == job {
///     assert_eq!(jobs.try_get(), Ok(7));
/// } else {
///     assert_eq!(ready, stopped);
/// }
/// ```
#[derive(Default)]
pub struct Select<'a> {
    ops: Vec<Box<dyn Source + 'a>>,
}

impl fmt::Debug for Select<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Select({} operations)", self.ops.len())
    }
}

impl<'a> Select<'a> {
    /// An empty set.
    ///
    /// # Examples
    ///
    /// ```
    /// use grove::select::Select;
    /// use grove::WaitError;
    /// let sel = Select::new();
    /// assert_eq!(sel.try_ready(), None);
    /// assert_eq!(sel.wait(), Err(WaitError::Deadlock)); // an empty set never becomes ready
    /// ```
    pub fn new() -> Select<'a> {
        Select::default()
    }

    fn add(&mut self, op: Box<dyn Source + 'a>) -> usize {
        self.ops.push(op);
        self.ops.len() - 1
    }

    /// Ready when `q.try_get()` would not say `Empty` (an item, or closed and drained).
    ///
    /// # Examples
    ///
    /// ```
    /// use grove::sync::Queue;
    /// let (a, b): (Queue<&str>, Queue<&str>) = (Queue::unbounded(), Queue::unbounded());
    /// let mut sel = grove::select::Select::new();
    /// let ia = sel.recv(&a);
    /// let ib = sel.recv(&b);
    /// b.put("b").unwrap();
    /// assert_eq!(sel.wait(), Ok(ib));
    /// assert_ne!(ia, ib);
    /// ```
    pub fn recv<T: 'a, S: Store<T> + 'a>(&mut self, q: &'a Queue<T, S>) -> usize {
        let (_, list) = q.recv_readiness();
        self.add(Box::new(List::new(list, move || q.recv_readiness().0)))
    }

    /// Ready when `q.try_put(..)` would not say `Full` (room and no putter queued first, or
    /// closed). A select woken as the head of the putters' line is granted the put: its
    /// `try_put` goes ahead of putters queued behind it, as a woken `put` would. Do the
    /// `try_put` right after `wait` returns (before blocking on anything): a grant nobody used
    /// is taken back, and the room handed on, when the select waits again or is dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = grove::sync::Queue::bounded(1);
    /// let mut sel = grove::select::Select::new();
    /// let i = sel.send(&q);
    /// assert_eq!(sel.try_ready(), Some(i)); // room for one
    /// q.put(1).unwrap();
    /// assert_eq!(sel.try_ready(), None); // full
    /// ```
    pub fn send<T: 'a, S: Store<T> + 'a>(&mut self, q: &'a Queue<T, S>) -> usize {
        self.add(Box::new(SendOp { q, owed: Cell::new(false), grant: Cell::new(None) }))
    }

    /// Ready when the event is set, or was set while the select waited (a `set` and `clear`
    /// before the selector ran still wake it, as they wake [`Event::wait`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let ev = grove::sync::Event::new();
    /// let e = ev.clone();
    /// let _h = grove::spawn(move || e.set());
    /// let mut sel = grove::select::Select::new();
    /// let i = sel.event(&ev);
    /// assert_eq!(sel.wait_timeout(Duration::from_secs(1)), Ok(i));
    /// ```
    pub fn event(&mut self, ev: &'a Event) -> usize {
        self.add(Box::new(EventOp { ev, since: Cell::new(None) }))
    }

    /// Ready when the greenlet has finished (`join` returns at once).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let fast = grove::spawn(|| grove::sleep(Duration::from_millis(1)));
    /// let slow = grove::spawn(|| grove::sleep(Duration::from_secs(10)));
    /// let mut sel = grove::select::Select::new();
    /// let f = sel.join(&fast);
    /// sel.join(&slow);
    /// assert_eq!(sel.wait(), Ok(f));
    /// slow.kill().unwrap();
    /// ```
    pub fn join<T: 'static>(&mut self, h: &'a JoinHandle<T>) -> usize {
        self.add(Box::new(Join { h }))
    }

    /// Ready when `ch.try_get()` would not say `Empty` (a putter is offering, or closed).
    ///
    /// A rendezvous send has no counterpart here: a put completes only when a getter takes
    /// the item, so it cannot be "ready" before it is done. Select on a bounded
    /// [`Queue`]'s [`send`](Self::send) for that.
    ///
    /// # Examples
    ///
    /// ```
    /// use grove::sync::Channel;
    /// let ch = Channel::new();
    /// let tx = ch.clone();
    /// let putter = grove::spawn(move || tx.put("hi"));
    /// let mut sel = grove::select::Select::new();
    /// let i = sel.recv_channel(&ch);
    /// assert_eq!(sel.wait(), Ok(i));
    /// assert_eq!(ch.try_get(), Ok("hi"));
    /// putter.join().unwrap().unwrap();
    /// ```
    pub fn recv_channel<T: 'a>(&mut self, ch: &'a Channel<T>) -> usize {
        let (_, list) = ch.recv_readiness();
        self.add(Box::new(List::new(list, move || ch.recv_readiness().0)))
    }

    /// Ready when the result is set (or failed), possibly from another thread: `r.get()`
    /// returns at once.
    ///
    /// # Examples
    ///
    /// ```
    /// use grove::sync::AsyncResult;
    /// let r = AsyncResult::new();
    /// let producer = r.clone();
    /// std::thread::spawn(move || producer.set(42));
    /// let mut sel = grove::select::Select::new();
    /// let i = sel.result(&r);
    /// assert_eq!(sel.wait(), Ok(i));
    /// assert_eq!(r.get().unwrap(), 42);
    /// ```
    pub fn result<T: Clone + Send + 'static>(&mut self, r: &'a AsyncResult<T>) -> usize {
        self.add(Box::new(Async { r, id: Cell::new(None) }))
    }

    /// Ready holding a permit of `sem`: when [`wait`](Self::wait) (or
    /// [`try_ready`](Self::try_ready)) reports this operation, the select has acquired the
    /// permit; take it with [`take_permit`](Self::take_permit). A permit the caller does not
    /// take is released when the select is dropped. Waiting here keeps the semaphore's FIFO
    /// order: a permit released to this select while another operation wins is handed on to
    /// the next waiter.
    ///
    /// # Examples
    ///
    /// ```
    /// use grove::sync::Semaphore;
    /// let sem = Semaphore::new(0);
    /// let s = sem.clone();
    /// let _h = grove::spawn(move || s.release());
    /// let mut sel = grove::select::Select::new();
    /// let i = sel.acquire(&sem);
    /// assert_eq!(sel.wait(), Ok(i));
    /// let permit = sel.take_permit(i).unwrap();
    /// assert_eq!(sem.available(), 0);
    /// drop(permit);
    /// assert_eq!(sem.available(), 1);
    /// ```
    pub fn acquire(&mut self, sem: &'a Semaphore) -> usize {
        self.add(Box::new(Acquire { sem, permit: RefCell::new(None) }))
    }

    /// The permit an [`acquire`](Self::acquire) operation holds (`None` for any other
    /// operation, or once taken).
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = grove::sync::Semaphore::new(1);
    /// let mut sel = grove::select::Select::new();
    /// let i = sel.acquire(&sem);
    /// assert_eq!(sel.try_ready(), Some(i));
    /// assert!(sel.take_permit(i).is_some());
    /// assert!(sel.take_permit(i).is_none());
    /// ```
    pub fn take_permit(&self, i: usize) -> Option<SemaphorePermit> {
        self.ops.get(i).and_then(|op| op.take_permit())
    }

    /// Ready when `io` is readable (data, a connection to accept, end of stream or an error:
    /// the next read or accept does not block). `io` is one of grove's sockets, or any other
    /// fd as a [`BorrowedFd`](std::os::fd::BorrowedFd), which must then be non-blocking for
    /// that read.
    ///
    /// # Errors
    /// Registering a foreign fd with the hub's poller failed (e.g. `EPERM` for a regular
    /// file, which is always ready).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Write;
    /// use grove::net::UnixStream;
    /// let (a, b) = UnixStream::pair()?;
    /// let mut sel = grove::select::Select::new();
    /// let i = sel.readable(&b)?;
    /// assert_eq!(sel.try_ready(), None);
    /// (&a).write_all(b"ping")?;
    /// assert_eq!(sel.wait(), Ok(i));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn readable(&mut self, io: &'a impl Pollable) -> std::io::Result<usize> {
        let w = io.watch(true)?;
        Ok(self.add(Box::new(Fd { watch: w.0 })))
    }

    /// Ready when `io` is writable (room in the send buffer, or an error); see
    /// [`readable`](Self::readable).
    ///
    /// # Errors
    /// As [`readable`](Self::readable).
    ///
    /// # Examples
    ///
    /// ```
    /// use grove::net::UnixStream;
    /// let (a, _b) = UnixStream::pair()?;
    /// let mut sel = grove::select::Select::new();
    /// let i = sel.writable(&a)?;
    /// assert_eq!(sel.wait(), Ok(i)); // an empty send buffer has room
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn writable(&mut self, io: &'a impl Pollable) -> std::io::Result<usize> {
        let w = io.watch(false)?;
        Ok(self.add(Box::new(Fd { watch: w.0 })))
    }

    /// Waits until one operation is ready and returns its index. Inside an expiring `timeout`
    /// scope it unwinds to the scope.
    ///
    /// # Errors
    /// [`WaitError::Deadlock`] on the main greenlet when nothing can ever make one ready (an
    /// empty set included); [`WaitError::Interrupted`] when the caller is unwinding.
    ///
    /// # Examples
    ///
    /// ```
    /// use grove::sync::Queue;
    /// let q = Queue::unbounded();
    /// let tx = q.clone();
    /// let _h = grove::spawn(move || tx.put(1).unwrap());
    /// let mut sel = grove::select::Select::new();
    /// let i = sel.recv(&q);
    /// assert_eq!(sel.wait(), Ok(i)); // blocks until the greenlet has put
    /// ```
    pub fn wait(&self) -> Result<usize, WaitError> {
        self.wait_until(None)
    }

    /// Like [`wait`](Self::wait), giving up after `timeout` ([`WaitError::TimedOut`]).
    ///
    /// # Errors
    /// As [`wait`](Self::wait).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use grove::WaitError;
    /// let q: grove::sync::Queue<u8> = grove::sync::Queue::unbounded();
    /// let mut sel = grove::select::Select::new();
    /// sel.recv(&q);
    /// assert_eq!(sel.wait_timeout(Duration::from_millis(5)), Err(WaitError::TimedOut));
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> Result<usize, WaitError> {
        self.wait_until(crate::time::deadline_after(timeout))
    }

    /// Like [`wait`](Self::wait), giving up at `deadline`.
    ///
    /// # Errors
    /// As [`wait`](Self::wait).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let ev = grove::sync::Event::new();
    /// ev.set();
    /// let mut sel = grove::select::Select::new();
    /// let i = sel.event(&ev);
    /// assert_eq!(sel.wait_deadline(Instant::now() + Duration::from_millis(5)), Ok(i));
    /// ```
    pub fn wait_deadline(&self, deadline: Instant) -> Result<usize, WaitError> {
        self.wait_until(Some(deadline))
    }

    /// The index of the first operation that is ready now, without waiting.
    ///
    /// # Examples
    ///
    /// ```
    /// let ev = grove::sync::Event::new();
    /// let mut sel = grove::select::Select::new();
    /// let i = sel.event(&ev);
    /// assert_eq!(sel.try_ready(), None);
    /// ev.set();
    /// assert_eq!(sel.try_ready(), Some(i));
    /// ```
    pub fn try_ready(&self) -> Option<usize> {
        self.ops.iter().position(|op| op.ready())
    }

    fn wait_until(&self, deadline: Option<Instant>) -> Result<usize, WaitError> {
        loop {
            if let Some(i) = self.try_ready() {
                for (j, op) in self.ops.iter().enumerate() {
                    if j == i {
                        op.used();
                    } else {
                        op.give_back();
                    }
                }
                return Ok(i);
            }
            hub::with(|h| {
                let tok = h.token();
                // Runs however the park ends (woken, timed out, killed, scope expired).
                let mut leave = Leave { ops: &self.ops, tok: tok.clone(), normal: false };
                for (k, op) in self.ops.iter().enumerate() {
                    // One registration per wait list (two operations on one semaphore or queue
                    // are one waiter there, and `waiting()` says so).
                    let id = op.list_id();
                    if id.is_some() && self.ops[..k].iter().any(|o| o.list_id() == id) {
                        continue;
                    }
                    if !op.register(&tok) {
                        // Became ready meanwhile (a result set on another thread): look again.
                        // A waker on another thread may already hold this park's token: retire
                        // it, so its wakeup cannot reach the greenlet's next park.
                        tok.retire();
                        leave.normal = true;
                        return Ok(());
                    }
                }
                let _io = self.ops.iter().any(|op| op.is_io()).then(|| h.reactor().awaiting_io());
                let r = h.park(deadline, "select").result();
                leave.normal = r.is_ok();
                r
            })?;
        }
    }
}

impl Drop for Select<'_> {
    fn drop(&mut self) {
        // Permits and notifications held for operations the caller did not take.
        for op in &self.ops {
            op.give_back();
        }
    }
}

/// Takes the select's token back from every list and records which list's notification (if
/// any) woke it; when the select leaves abnormally, gives everything back.
struct Leave<'s, 'a> {
    ops: &'s [Box<dyn Source + 'a>],
    tok: Token,
    /// The park ended normally: the select looks again and gives back what it does not use.
    normal: bool,
}

impl Drop for Leave<'_, '_> {
    fn drop(&mut self) {
        let mut by = self.tok.notified_by();
        for op in self.ops {
            // Popped by the list whose notification woke us: this operation holds it (the
            // first such one, should two operations share the list).
            if !op.withdraw(&self.tok) && by.is_some() && op.list_id() == by {
                op.notified();
                by = None;
            }
        }
        if !self.normal {
            for op in self.ops {
                op.give_back();
            }
        }
    }
}
