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

use std::cell::{Cell, RefCell};
use std::fmt;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::time::{Duration, Instant};

use crate::hub::{self, Token, WaitError};
use crate::io::{Direction, FdWatch};
use crate::sync::{
    AsyncResult, Channel, Event, Queue, Semaphore, SemaphorePermit, Store, WaitList,
};
use crate::JoinHandle;

/// One thing a [`Select`] can wait for.
trait Source {
    /// Whether the operation would not block now (an `acquire` takes its permit then).
    fn ready(&self) -> bool;
    /// Queues `tok` where the operation's waiters wait; `false` if it became ready meanwhile
    /// (a result set from another thread), so the select must not park.
    fn register(&self, tok: &Token) -> bool;
    /// Takes `tok` back; `false` if a notifier had already popped it.
    fn withdraw(&self, tok: &Token) -> bool;
    /// The wait list whose notifications this operation's waiters get, if it hands out
    /// notifications one at a time (see `Token::notified_by`).
    fn list_id(&self) -> Option<u32> {
        None
    }
    /// That list spent a notification on the select's park.
    fn notified(&self) {}
    /// The select reports this operation: what it was handed is the caller's now.
    fn used(&self) {}
    /// The select leaves without this operation: give back what it was handed (pass the
    /// notification on to the next waiter, release a permit).
    fn give_back(&self) {}
    /// Waits on fd readiness (the hub must not call the wait a deadlock).
    fn is_io(&self) -> bool {
        false
    }
    /// The permit an `acquire` holds.
    fn take_permit(&self) -> Option<SemaphorePermit> {
        None
    }
}

/// An operation whose waiters wait in a hub-local [`WaitList`].
struct List<'a> {
    ready: Box<dyn Fn() -> bool + 'a>,
    list: &'a WaitList,
    /// A notification from `list` this select holds.
    owed: Cell<bool>,
}

impl<'a> List<'a> {
    fn new(list: &'a WaitList, ready: impl Fn() -> bool + 'a) -> List<'a> {
        List { ready: Box::new(ready), list, owed: Cell::new(false) }
    }
}

impl Source for List<'_> {
    fn ready(&self) -> bool {
        (self.ready)()
    }
    fn register(&self, tok: &Token) -> bool {
        self.list.register(tok.clone());
        true
    }
    fn withdraw(&self, tok: &Token) -> bool {
        self.list.withdraw(tok)
    }
    fn list_id(&self) -> Option<u32> {
        Some(self.list.id())
    }
    fn notified(&self) {
        self.owed.set(true);
    }
    fn used(&self) {
        self.owed.set(false);
    }
    fn give_back(&self) {
        if self.owed.replace(false) {
            self.list.notify_one();
        }
    }
}

/// A semaphore `acquire`: ready holding a permit.
struct Acquire<'a> {
    sem: &'a Semaphore,
    permit: RefCell<Option<SemaphorePermit>>,
}

impl Source for Acquire<'_> {
    fn ready(&self) -> bool {
        let mut p = self.permit.borrow_mut();
        if p.is_none() {
            *p = self.sem.try_acquire();
        }
        p.is_some()
    }
    fn register(&self, tok: &Token) -> bool {
        self.sem.wait_list().register(tok.clone());
        true
    }
    fn withdraw(&self, tok: &Token) -> bool {
        self.sem.wait_list().withdraw(tok)
    }
    fn list_id(&self) -> Option<u32> {
        Some(self.sem.wait_list().id())
    }
    fn notified(&self) {
        // `release` reserved a permit for this park: take it.
        let p = self.sem.claim_reserved();
        *self.permit.borrow_mut() = Some(p);
    }
    fn give_back(&self) {
        // Dropped: released, so handed to the next waiter if there is one.
        let p = self.permit.borrow_mut().take();
        drop(p);
    }
    fn take_permit(&self) -> Option<SemaphorePermit> {
        self.permit.borrow_mut().take()
    }
}

struct Join<'a, T> {
    h: &'a JoinHandle<T>,
}

impl<T: 'static> Source for Join<'_, T> {
    fn ready(&self) -> bool {
        self.h.is_finished()
    }
    fn register(&self, tok: &Token) -> bool {
        self.h.fiber().joiners.borrow_mut().push(tok.clone());
        true
    }
    fn withdraw(&self, tok: &Token) -> bool {
        let mut j = self.h.fiber().joiners.borrow_mut();
        match j.iter().position(|t| t.same(tok)) {
            Some(i) => {
                j.remove(i);
                true
            }
            None => false,
        }
    }
}

/// An [`AsyncResult`] being set (possibly from another thread).
struct Async<'a, T> {
    r: &'a AsyncResult<T>,
    id: Cell<Option<u64>>,
}

impl<T: Clone + Send + 'static> Source for Async<'_, T> {
    fn ready(&self) -> bool {
        self.r.is_ready()
    }
    fn register(&self, tok: &Token) -> bool {
        let id = self.r.register_waiter(tok.to_remote());
        self.id.set(id);
        id.is_some()
    }
    fn withdraw(&self, _tok: &Token) -> bool {
        // Every waiter is woken at once: there is never a notification to pass on.
        if let Some(id) = self.id.take() {
            self.r.withdraw_waiter(id);
        }
        true
    }
}

/// Readiness of an fd in one direction.
struct Fd {
    watch: FdWatch,
}

impl Source for Fd {
    fn ready(&self) -> bool {
        self.watch.ready()
    }
    fn register(&self, tok: &Token) -> bool {
        self.watch.register(tok);
        true
    }
    fn withdraw(&self, tok: &Token) -> bool {
        // Edges wake every waiter: nothing to pass on.
        self.watch.withdraw(tok);
        true
    }
    fn is_io(&self) -> bool {
        true
    }
}

/// Something whose I/O readiness a [`Select`] can wait for: grove's sockets, and any other fd
/// as a [`BorrowedFd`] (one grove has not registered itself, as for
/// [`io::wait_readable`](crate::io::wait_readable)).
pub trait Pollable: sealed::Watch {}

// Sealed: the trait and its types are public in a private module, so no other crate can
// name them to implement `Pollable`.
#[allow(unreachable_pub)]
pub(crate) mod sealed {
    /// A watch on an fd's readiness, opaque outside grove.
    pub struct Watcher(pub(crate) crate::io::FdWatch);

    impl std::fmt::Debug for Watcher {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("Watcher")
        }
    }

    /// How a [`Pollable`](super::Pollable) is watched.
    pub trait Watch {
        /// Watches the readiness of `self`'s fd in direction `read` (else write).
        fn watch(&self, read: bool) -> std::io::Result<Watcher>;
    }
}


pub(crate) fn direction(read: bool) -> Direction {
    if read {
        Direction::Read
    } else {
        Direction::Write
    }
}

impl sealed::Watch for BorrowedFd<'_> {
    fn watch(&self, read: bool) -> std::io::Result<sealed::Watcher> {
        FdWatch::foreign(self.as_raw_fd(), direction(read)).map(sealed::Watcher)
    }
}
impl Pollable for BorrowedFd<'_> {}

/// Implements [`Pollable`] for a grove socket type from its `Registered` source.
macro_rules! pollable {
    ($($ty:ty => |$s:ident| $reg:expr;)*) => {$(
        impl crate::select::sealed::Watch for $ty {
            fn watch(&self, read: bool) -> std::io::Result<crate::select::sealed::Watcher> {
                let $s = self;
                let fd: std::os::fd::RawFd = std::os::fd::AsRawFd::as_raw_fd(self);
                Ok(crate::select::sealed::Watcher(
                    $reg.watch(fd, crate::select::direction(read)),
                ))
            }
        }
        impl crate::select::Pollable for $ty {}
    )*};
}
pub(crate) use pollable;

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

    /// Ready when `q.try_put(..)` would not say `Full` (room, or closed).
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
        let (_, list) = q.send_readiness();
        self.add(Box::new(List::new(list, move || q.send_readiness().0)))
    }

    /// Ready when the event is set.
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
        let (_, list) = ev.readiness();
        self.add(Box::new(List::new(list, move || ev.readiness().0)))
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
    /// fd as a [`BorrowedFd`], which must then be non-blocking for that read.
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
                for op in &self.ops {
                    if !op.register(&tok) {
                        leave.normal = true;
                        return Ok(()); // became ready meanwhile: look again
                    }
                }
                let _io = self.ops.iter().any(|op| op.is_io()).then(|| crate::io::awaiting_io(h));
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

/// Joins every greenlet; the first that fails — panics or is killed — makes the others be
/// killed, and its error is returned (Go's `errgroup`, gevent's `joinall(raise_error=True)`).
/// Results come back in input order when all succeed. Failures are seen as they happen, in
/// any order, not in input order.
///
/// ```
/// let ok = grove::try_joinall([grove::spawn(|| 1), grove::spawn(|| 2)]);
/// assert_eq!(ok.unwrap(), [1, 2]);
/// let slow = grove::spawn(|| { grove::sleep(std::time::Duration::from_secs(3600)); 0 });
/// let failing = grove::spawn(|| -> i32 { panic!("boom") });
/// assert!(grove::try_joinall([slow, failing]).unwrap_err().is_panic());
/// ```
///
/// # Errors
/// The first failure's [`JoinError`](crate::JoinError); `JoinError::Wait` if the wait itself ended (the
/// others are killed then too).
pub fn try_joinall<T: 'static>(
    handles: impl IntoIterator<Item = JoinHandle<T>>,
) -> Result<Vec<T>, crate::JoinError> {
    let mut pending: Vec<Option<JoinHandle<T>>> = handles.into_iter().map(Some).collect();
    let mut values: Vec<Option<T>> = pending.iter().map(|_| None).collect();
    /// Kills what is still pending however this function is left (a failure, an unwind).
    struct KillRest<'p, T: 'static>(&'p mut Vec<Option<JoinHandle<T>>>);
    impl<T: 'static> Drop for KillRest<'_, T> {
        fn drop(&mut self) {
            for h in self.0.iter().flatten() {
                h.kill_nowait();
            }
            for h in self.0.iter().flatten() {
                let _ = h.wait();
            }
        }
    }
    let rest = KillRest(&mut pending);
    loop {
        for (slot, value) in rest.0.iter_mut().zip(values.iter_mut()) {
            if slot.as_ref().is_some_and(JoinHandle::is_finished) {
                let h = slot.take().expect("checked");
                *value = Some(h.join()?);
            }
        }
        if rest.0.iter().all(Option::is_none) {
            return Ok(values.into_iter().map(|v| v.expect("joined")).collect());
        }
        first_to_finish(rest.0.iter().flatten(), None)?;
    }
}

/// Waits until one of `handles` finishes; returns its position in the iteration.
fn first_to_finish<'h, T: 'static>(
    handles: impl Iterator<Item = &'h JoinHandle<T>>,
    deadline: Option<Instant>,
) -> Result<usize, WaitError> {
    let mut sel = Select::new();
    for h in handles {
        sel.join(h);
    }
    sel.wait_until(deadline)
}

/// Waits until `n` of the greenlets have finished (all of them if `n` is larger) and returns
/// their indices in the order they were seen to finish; those already finished come first, in
/// index order (gevent's `wait(greenlets, count=n)`; `n == 1` is "wait for any"). Results stay
/// in the handles. Each wakeup costs a pass over the unfinished handles, so prefer
/// [`wait_all`](crate::wait_all) to wait for every one of a large set.
///
/// # Errors
/// As [`JoinHandle::wait`]: [`WaitError::Deadlock`] on the main greenlet when nothing can make
/// enough of them finish, [`WaitError::Interrupted`] when the caller is unwinding.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// let hs = [
///     grove::spawn(|| grove::sleep(Duration::from_secs(10))),
///     grove::spawn(|| ()),
/// ];
/// assert_eq!(grove::wait_n(&hs, 1), Ok(vec![1])); // the first to finish
/// hs[0].kill().unwrap();
/// ```
pub fn wait_n<T: 'static>(handles: &[JoinHandle<T>], n: usize) -> Result<Vec<usize>, WaitError> {
    wait_n_until(handles, n, None)
}

/// Like [`wait_n`], giving up after `timeout` ([`WaitError::TimedOut`]; the greenlets go on,
/// and `is_finished` tells which ended).
///
/// # Errors
/// As [`wait_n`], and `TimedOut`.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use grove::WaitError;
/// let hs = [grove::spawn(|| ()), grove::spawn(|| grove::sleep(Duration::from_secs(10)))];
/// assert_eq!(grove::wait_n_timeout(&hs, 2, Duration::from_millis(5)), Err(WaitError::TimedOut));
/// assert!(hs[0].is_finished() && !hs[1].is_finished());
/// hs[1].kill().unwrap();
/// ```
pub fn wait_n_timeout<T: 'static>(
    handles: &[JoinHandle<T>],
    n: usize,
    timeout: Duration,
) -> Result<Vec<usize>, WaitError> {
    wait_n_until(handles, n, crate::time::deadline_after(timeout))
}

/// Like [`wait_n`], giving up at `deadline`.
///
/// # Errors
/// As [`wait_n_timeout`].
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
/// let hs: Vec<_> = (0..3).map(|_| grove::spawn(|| ())).collect();
/// let first_two = grove::wait_n_deadline(&hs, 2, Instant::now() + Duration::from_secs(5));
/// assert_eq!(first_two.unwrap().len(), 2);
/// ```
pub fn wait_n_deadline<T: 'static>(
    handles: &[JoinHandle<T>],
    n: usize,
    deadline: Instant,
) -> Result<Vec<usize>, WaitError> {
    wait_n_until(handles, n, Some(deadline))
}

fn wait_n_until<T: 'static>(
    handles: &[JoinHandle<T>],
    n: usize,
    deadline: Option<Instant>,
) -> Result<Vec<usize>, WaitError> {
    let n = n.min(handles.len());
    let mut seen = vec![false; handles.len()];
    let mut done = Vec::with_capacity(n);
    loop {
        for (i, h) in handles.iter().enumerate() {
            if done.len() < n && !seen[i] && h.is_finished() {
                seen[i] = true;
                done.push(i);
            }
        }
        if done.len() == n {
            return Ok(done);
        }
        let pending = handles.iter().enumerate().filter(|(i, _)| !seen[*i]);
        let k = first_to_finish(pending.clone().map(|(_, h)| h), deadline)?;
        let (i, _) = pending.clone().nth(k).expect("a pending handle finished");
        seen[i] = true;
        done.push(i);
    }
}
