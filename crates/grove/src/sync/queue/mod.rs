//! Queues between greenlets (gevent's `Queue`, `JoinableQueue`, `LifoQueue`,
//! `PriorityQueue`) and the rendezvous [`Channel`].

use std::cell::{Cell, Ref, RefCell, RefMut};
use std::fmt;
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::waitlist::WaitList;

mod channel;
mod errors;
mod joinable;
mod state;
mod store;

pub use channel::Channel;
pub use errors::{RecvError, SendError, TryRecvError, TrySendError};
pub(crate) use state::{get_loop, put_loop, Items};
pub use store::{Fifo, Lifo, Priority, Store};

const REENTERED: &str = "grove: a Queue was used while its items are borrowed: from its store or \
     an item's Ord while it stores or takes, or to put or take from a peek closure (or while \
     such code blocked)";

struct Inner<T, S> {
    items: RefCell<Items<T, S>>,
    getters: WaitList,
    putters: WaitList,
    /// Items put and not yet marked done (`task_done`), for `join`.
    unfinished: Cell<usize>,
    all_done: WaitList,
    /// Puts granted to a `select` that was at the head of the putters' line when it reported
    /// its send ready: the next `try_put` may go ahead of queued putters.
    granted: Cell<usize>,
    /// Items ever pushed (tells a select whether its grant was used).
    pushes: Cell<u64>,
}

/// A queue between greenlets (gevent's `Queue` / `JoinableQueue`), bounded or unbounded, FIFO by
/// default ([`LifoQueue`] and [`PriorityQueue`] change the order). Cloning gives another handle
/// to the same queue, so any number of greenlets can put and get. Hub-local: not `Send`.
///
/// ```
/// let q = grove::sync::Queue::bounded(2);
/// let tx = q.clone();
/// let producer = grove::spawn(move || {
///     for i in 0..5 {
///         tx.put(i).unwrap(); // blocks while 2 items wait
///     }
///     tx.close();
/// });
/// let got: Vec<i32> = q.iter().collect(); // ends when closed and drained
/// assert_eq!(got, [0, 1, 2, 3, 4]);
/// producer.join().unwrap();
/// ```
pub struct Queue<T, S: Store<T> = Fifo<T>> {
    inner: Rc<Inner<T, S>>,
}

/// A queue handing out the most recently put item first.
///
/// # Examples
///
/// ```
/// let q = grove::sync::LifoQueue::with_bound(None);
/// q.put("a").unwrap();
/// q.put("b").unwrap();
/// assert_eq!(q.get(), Ok("b"));
/// ```
pub type LifoQueue<T> = Queue<T, Lifo<T>>;
/// A queue handing out the greatest item first.
///
/// # Examples
///
/// ```
/// let q = grove::sync::PriorityQueue::with_bound(Some(10));
/// for (prio, job) in [(1, "low"), (5, "high"), (3, "mid")] {
///     q.put((prio, job)).unwrap();
/// }
/// assert_eq!(q.get(), Ok((5, "high")));
/// ```
pub type PriorityQueue<T> = Queue<T, Priority<T>>;

impl<T, S: Store<T>> Clone for Queue<T, S> {
    fn clone(&self) -> Self {
        Queue { inner: self.inner.clone() }
    }
}

impl<T, S: Store<T>> fmt::Debug for Queue<T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Queue(len: {}, capacity: {:?}, closed: {})",
            self.len(),
            self.capacity(),
            self.is_closed()
        )
    }
}

impl<T> Queue<T> {
    /// An unbounded FIFO queue: `put` never blocks.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = grove::sync::Queue::unbounded();
    /// for i in 0..1000 {
    ///     q.put(i).unwrap(); // never blocks
    /// }
    /// assert_eq!(q.len(), 1000);
    /// ```
    pub fn unbounded() -> Self {
        Self::with_bound(None)
    }

    /// A FIFO queue holding at most `capacity` items: `put` blocks while it is full.
    ///
    /// # Panics
    /// If `capacity` is 0: use [`Channel`] for a rendezvous.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = grove::sync::Queue::bounded(2);
    /// q.put(1).unwrap();
    /// q.put(2).unwrap();
    /// assert!(q.is_full()); // a third `put` would block until a `get`
    /// assert_eq!(q.capacity(), Some(2));
    /// ```
    pub fn bounded(capacity: usize) -> Self {
        Self::with_bound(Some(capacity))
    }
}

impl<T, S: Store<T>> Queue<T, S> {
    /// A queue with this store, bounded if `bound` is `Some` (which must not be 0). (A bound,
    /// not a capacity hint: `put` waits while that many items are queued.)
    ///
    /// # Examples
    ///
    /// ```
    /// use grove::sync::{Fifo, Queue};
    /// let q: Queue<u8, Fifo<u8>> = Queue::with_bound(Some(4));
    /// assert_eq!(q.capacity(), Some(4));
    /// ```
    pub fn with_bound(bound: Option<usize>) -> Self {
        Queue {
            inner: Rc::new(Inner {
                items: RefCell::new(Items::new(bound)),
                getters: WaitList::new(),
                putters: WaitList::new(),
                unfinished: Cell::new(0),
                all_done: WaitList::new(),
                granted: Cell::new(0),
                pushes: Cell::new(0),
            }),
        }
    }

    /// Items waiting.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = grove::sync::Queue::unbounded();
    /// q.put('x').unwrap();
    /// assert_eq!(q.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.items().len()
    }

    /// Whether no item is waiting.
    ///
    /// # Examples
    ///
    /// ```
    /// let q: grove::sync::Queue<()> = grove::sync::Queue::unbounded();
    /// assert!(q.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether a bounded queue is at capacity.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = grove::sync::Queue::bounded(1);
    /// assert!(!q.is_full());
    /// q.put(()).unwrap();
    /// assert!(q.is_full());
    /// ```
    pub fn is_full(&self) -> bool {
        self.items().is_full()
    }

    /// The bound, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// use grove::sync::Queue;
    /// assert_eq!(Queue::<u8>::bounded(3).capacity(), Some(3));
    /// assert_eq!(Queue::<u8>::unbounded().capacity(), None);
    /// ```
    pub fn capacity(&self) -> Option<usize> {
        self.items().capacity()
    }

    /// Closes the queue: puts fail from now on; gets drain what is queued, then fail with
    /// `Closed`. Every waiter wakes.
    ///
    /// # Examples
    ///
    /// ```
    /// use grove::sync::{Queue, RecvError};
    /// let q = Queue::unbounded();
    /// q.put(1).unwrap();
    /// q.close();
    /// assert!(q.put(2).is_err());
    /// assert_eq!(q.get(), Ok(1)); // drains what is queued
    /// assert_eq!(q.get(), Err(RecvError::Closed));
    /// ```
    pub fn close(&self) {
        self.items().close();
        self.inner.getters.notify_all();
        self.inner.putters.notify_all();
    }

    /// Whether [`close`](Self::close) was called.
    ///
    /// # Examples
    ///
    /// ```
    /// let q: grove::sync::Queue<u8> = grove::sync::Queue::unbounded();
    /// q.close();
    /// assert!(q.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.items().is_closed()
    }

    /// Adds an item if there is room, without blocking.
    ///
    /// # Errors
    /// [`TrySendError::Full`] or [`TrySendError::Closed`], with the item.
    ///
    /// # Examples
    ///
    /// ```
    /// use grove::sync::{Queue, TrySendError};
    /// let q = Queue::bounded(1);
    /// assert_eq!(q.try_put(1), Ok(()));
    /// assert_eq!(q.try_put(2), Err(TrySendError::Full(2)));
    /// ```
    pub fn try_put(&self, item: T) -> Result<(), TrySendError<T>> {
        let i = &self.inner;
        // Queued putters go first (unless a select at the head of their line was granted
        // this put); a closed queue refuses before that.
        if !i.putters.is_empty() && i.granted.get() == 0 {
            let it = i.items.borrow();
            if it.capacity().is_some() && !it.is_closed() {
                return Err(TrySendError::Full(item));
            }
        }
        self.push(item, true)
    }

    /// Stores the item if the queue is open and has room (using up a select's grant when
    /// `grant`), counts it and tells the next getter — also when the store keeps the item and
    /// then panics (an item's `Ord`).
    #[inline]
    fn push(&self, item: T, grant: bool) -> Result<(), TrySendError<T>> {
        let i = &self.inner;
        let stored = || {
            if grant {
                i.granted.set(i.granted.get().saturating_sub(1));
            }
            i.pushes.set(i.pushes.get() + 1);
            i.unfinished.set(i.unfinished.get() + 1);
            i.getters.notify_one();
        };
        self.items_mut().try_push_or(item, stored)?;
        stored();
        Ok(())
    }

    /// The items. The store and the items' `Ord` run with them borrowed (mutably while
    /// storing or taking; shared while a `peek` closure runs).
    fn items(&self) -> Ref<'_, Items<T, S>> {
        self.inner.items.try_borrow().expect(REENTERED)
    }

    fn items_mut(&self) -> RefMut<'_, Items<T, S>> {
        self.inner.items.try_borrow_mut().expect(REENTERED)
    }

    /// Adds an item, waiting while a bounded queue is full.
    ///
    /// # Errors
    /// See [`SendError`]; the item is handed back.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = grove::sync::Queue::bounded(1);
    /// let tx = q.clone();
    /// let producer = grove::spawn(move || {
    ///     tx.put(1).unwrap();
    ///     tx.put(2).unwrap(); // blocks until the consumer takes 1
    /// });
    /// assert_eq!(q.get(), Ok(1));
    /// assert_eq!(q.get(), Ok(2));
    /// producer.join().unwrap();
    /// ```
    pub fn put(&self, item: T) -> Result<(), SendError<T>> {
        self.put_until(item, None)
    }

    /// Adds an item, waiting at most `timeout` for room.
    ///
    /// # Errors
    /// See [`SendError`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use grove::sync::{Queue, SendError, WaitError};
    /// let q = Queue::bounded(1);
    /// q.put(1).unwrap();
    /// let r = q.put_timeout(2, Duration::from_millis(1));
    /// assert_eq!(r, Err(SendError::Wait(WaitError::TimedOut, 2)));
    /// ```
    pub fn put_timeout(&self, item: T, timeout: Duration) -> Result<(), SendError<T>> {
        self.put_until(item, crate::time::deadline_after(timeout))
    }

    /// Adds an item, waiting until `deadline` for room.
    ///
    /// # Errors
    /// See [`SendError`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let q = grove::sync::Queue::bounded(1);
    /// q.put_deadline(1, Instant::now() + Duration::from_millis(5)).unwrap(); // room: at once
    /// ```
    pub fn put_deadline(&self, item: T, deadline: Instant) -> Result<(), SendError<T>> {
        self.put_until(item, Some(deadline))
    }

    fn put_until(&self, item: T, deadline: Option<Instant>) -> Result<(), SendError<T>> {
        let putters = &self.inner.putters;
        put_loop(
            item,
            |item| self.try_put(item),
            || putters.wait(deadline, "Queue::put"),
            // Woken as the head of the putters' line: no queued putter goes first.
            |item| {
                self.push(item, false)?;
                // Room may remain for the next putter.
                if !self.is_full() {
                    putters.notify_one();
                }
                Ok(())
            },
        )
    }

    /// Takes the next item if there is one, without blocking.
    ///
    /// # Errors
    /// [`TryRecvError::Empty`], or [`TryRecvError::Closed`] once closed and drained.
    ///
    /// # Examples
    ///
    /// ```
    /// use grove::sync::{Queue, TryRecvError};
    /// let q = Queue::unbounded();
    /// assert_eq!(q.try_get(), Err(TryRecvError::Empty));
    /// q.put(5).unwrap();
    /// assert_eq!(q.try_get(), Ok(5));
    /// ```
    pub fn try_get(&self) -> Result<T, TryRecvError> {
        let item = self.items_mut().try_pop()?;
        self.inner.putters.notify_one();
        Ok(item)
    }

    /// Takes the next item, waiting while the queue is empty.
    ///
    /// # Errors
    /// See [`RecvError`].
    ///
    /// # Examples
    ///
    /// ```
    /// use grove::sync::{Queue, RecvError, WaitError};
    /// let q = Queue::unbounded();
    /// let tx = q.clone();
    /// let _p = grove::spawn(move || tx.put("job").unwrap());
    /// assert_eq!(q.get(), Ok("job")); // blocks until the producer has run
    /// // On the main greenlet, a get nothing can ever satisfy fails instead of hanging:
    /// assert_eq!(q.get(), Err(RecvError::Wait(WaitError::Deadlock)));
    /// ```
    pub fn get(&self) -> Result<T, RecvError> {
        self.get_until(None)
    }

    /// Takes the next item, waiting at most `timeout`.
    ///
    /// # Errors
    /// See [`RecvError`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use grove::sync::{Queue, RecvError, WaitError};
    /// let q: Queue<u8> = Queue::unbounded();
    /// let r = q.get_timeout(Duration::from_millis(5));
    /// assert_eq!(r, Err(RecvError::Wait(WaitError::TimedOut)));
    /// ```
    pub fn get_timeout(&self, timeout: Duration) -> Result<T, RecvError> {
        self.get_until(crate::time::deadline_after(timeout))
    }

    /// Takes the next item, waiting until `deadline`.
    ///
    /// # Errors
    /// See [`RecvError`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let q = grove::sync::Queue::unbounded();
    /// q.put(1).unwrap();
    /// assert_eq!(q.get_deadline(Instant::now() + Duration::from_millis(5)), Ok(1));
    /// ```
    pub fn get_deadline(&self, deadline: Instant) -> Result<T, RecvError> {
        self.get_until(Some(deadline))
    }

    fn get_until(&self, deadline: Option<Instant>) -> Result<T, RecvError> {
        get_loop(|| self.try_get(), || self.inner.getters.wait(deadline, "Queue::get"))
    }

    /// Calls `f` with the next item without removing it.
    ///
    /// # Panics
    /// If `f` puts into or takes from this queue (the item is borrowed while `f` runs);
    /// read what you need and act after `peek` returns. (Closing from `f` is fine.)
    ///
    /// # Examples
    ///
    /// ```
    /// let q = grove::sync::Queue::unbounded();
    /// q.put(String::from("next")).unwrap();
    /// assert_eq!(q.peek(|item| item.map(|s| s.len())), Some(4));
    /// assert_eq!(q.len(), 1); // still queued
    /// ```
    pub fn peek<R>(&self, f: impl FnOnce(Option<&T>) -> R) -> R {
        f(self.items().peek())
    }

    /// For `select`: whether a `get` would not wait (an item, or closed), and its waiters.
    pub(crate) fn recv_readiness(&self) -> (bool, &WaitList) {
        (self.items().get_would_proceed(), &self.inner.getters)
    }

    /// For `select`: whether `try_put` would not say `Full` (room and no putter queued
    /// before, or closed); `head` says the select was notified as the head of the putters'
    /// line, so queued putters do not count.
    pub(crate) fn send_ready(&self, head: bool) -> bool {
        let i = &self.inner;
        let queued = self.capacity().is_some() && !i.putters.is_empty() && i.granted.get() == 0;
        self.is_closed() || (!self.is_full() && (head || !queued))
    }

    /// The putters' wait list.
    pub(crate) fn putters(&self) -> &WaitList {
        &self.inner.putters
    }

    /// A select at the head of the putters' line reports its send: the next `try_put` may go
    /// ahead of the putters queued behind it. Returns the push count, for `revoke_put`.
    pub(crate) fn grant_put(&self) -> u64 {
        let i = &self.inner;
        i.granted.set(i.granted.get() + 1);
        i.pushes.get()
    }

    /// Takes back a grant nobody used (no push since `grant_put` returned `pushes`), and
    /// hands the room on to the next queued putter.
    pub(crate) fn revoke_put(&self, pushes: u64) {
        let i = &self.inner;
        if i.pushes.get() == pushes && i.granted.get() > 0 {
            i.granted.set(i.granted.get() - 1);
            if !self.is_full() {
                i.putters.notify_one();
            }
        }
    }

    /// An iterator of items from `get`, ending when the queue is closed and drained (or a get
    /// fails).
    ///
    /// # Examples
    ///
    /// ```
    /// let q = grove::sync::Queue::unbounded();
    /// q.put(1).unwrap();
    /// q.put(2).unwrap();
    /// q.close();
    /// assert_eq!(q.iter().collect::<Vec<_>>(), [1, 2]);
    /// ```
    pub fn iter(&self) -> Iter<'_, T, S> {
        Iter { q: self }
    }
}

/// Iterator returned by [`Queue::iter`].
///
/// # Examples
///
/// ```
/// let q = grove::sync::Queue::unbounded();
/// for w in ["a", "b"] {
///     q.put(w).unwrap();
/// }
/// q.close();
/// let words: Vec<&str> = q.iter().collect();
/// assert_eq!(words, ["a", "b"]);
/// ```
#[derive(Debug)]
pub struct Iter<'a, T, S: Store<T>> {
    q: &'a Queue<T, S>,
}

impl<T, S: Store<T>> Iterator for Iter<'_, T, S> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.q.get().ok()
    }
}
