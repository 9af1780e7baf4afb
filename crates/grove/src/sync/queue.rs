use std::cell::{Cell, RefCell};
use std::collections::{BinaryHeap, VecDeque};
use std::fmt;
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::waitlist::WaitList;
use crate::hub::WaitError;

/// Why a blocking `put` did not deliver; the item is handed back.
///
/// # Examples
///
/// ```
/// use grove::sync::{Queue, SendError};
/// let q = Queue::unbounded();
/// q.close();
/// assert_eq!(q.put(1), Err(SendError::Closed(1)));
/// ```
#[derive(PartialEq, Eq)]
pub enum SendError<T> {
    /// The queue was closed.
    Closed(T),
    /// The wait for room ended: the call's own deadline, a deadlock of the main greenlet, or
    /// the caller unwinding.
    Wait(WaitError, T),
}

impl<T> SendError<T> {
    /// The item that was not delivered.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let q = grove::sync::Queue::bounded(1);
    /// q.put("first").unwrap();
    /// let err = q.put_timeout("second", Duration::from_millis(1)).unwrap_err();
    /// assert_eq!(err.into_inner(), "second"); // the item comes back
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            SendError::Closed(t) | SendError::Wait(_, t) => t,
        }
    }

    /// Why the wait ended, if the queue was not closed.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use grove::sync::{Queue, WaitError};
    /// let q = Queue::bounded(1);
    /// q.put(1).unwrap();
    /// let err = q.put_timeout(2, Duration::from_millis(1)).unwrap_err();
    /// assert_eq!(err.wait_error(), Some(WaitError::TimedOut));
    /// ```
    pub fn wait_error(&self) -> Option<WaitError> {
        match self {
            SendError::Closed(_) => None,
            SendError::Wait(e, _) => Some(*e),
        }
    }
}

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Closed(_) => f.write_str("Closed(..)"),
            SendError::Wait(e, _) => write!(f, "Wait({e:?}, ..)"),
        }
    }
}

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Closed(_) => f.write_str("queue closed"),
            SendError::Wait(e, _) => write!(f, "waiting for room in the queue: {e}"),
        }
    }
}

impl<T> std::error::Error for SendError<T> {}

/// Why a non-blocking `try_put` did not deliver; the item is handed back.
///
/// # Examples
///
/// ```
/// use grove::sync::{Queue, TrySendError};
/// let q = Queue::bounded(1);
/// q.try_put(1).unwrap();
/// assert_eq!(q.try_put(2), Err(TrySendError::Full(2)));
/// ```
#[derive(PartialEq, Eq)]
pub enum TrySendError<T> {
    /// The queue is at capacity.
    Full(T),
    /// The queue was closed.
    Closed(T),
}

impl<T> TrySendError<T> {
    /// The item that was not delivered.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = grove::sync::Queue::bounded(1);
    /// q.try_put(String::from("a")).unwrap();
    /// let back = q.try_put(String::from("b")).unwrap_err().into_inner();
    /// assert_eq!(back, "b");
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            TrySendError::Full(t) | TrySendError::Closed(t) => t,
        }
    }
}

impl<T> fmt::Debug for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TrySendError::Full(_) => "Full(..)",
            TrySendError::Closed(_) => "Closed(..)",
        })
    }
}

impl<T> fmt::Display for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TrySendError::Full(_) => "queue full",
            TrySendError::Closed(_) => "queue closed",
        })
    }
}

impl<T> std::error::Error for TrySendError<T> {}

/// Why a blocking `get` returned no item.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use grove::sync::{Queue, RecvError, WaitError};
/// let q: Queue<u8> = Queue::unbounded();
/// assert_eq!(q.get_timeout(Duration::from_millis(1)), Err(RecvError::Wait(WaitError::TimedOut)));
/// q.close();
/// assert_eq!(q.get(), Err(RecvError::Closed));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecvError {
    /// The queue was closed and is drained.
    Closed,
    /// The wait for an item ended: the call's own deadline, a deadlock of the main greenlet,
    /// or the caller unwinding.
    Wait(WaitError),
}

impl From<WaitError> for RecvError {
    fn from(e: WaitError) -> RecvError {
        RecvError::Wait(e)
    }
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvError::Closed => f.write_str("queue closed"),
            RecvError::Wait(e) => write!(f, "waiting for an item: {e}"),
        }
    }
}

impl std::error::Error for RecvError {}

/// Why a non-blocking `try_get` returned no item.
///
/// # Examples
///
/// ```
/// use grove::sync::{Queue, TryRecvError};
/// let q: Queue<u8> = Queue::unbounded();
/// assert_eq!(q.try_get(), Err(TryRecvError::Empty));
/// q.close();
/// assert_eq!(q.try_get(), Err(TryRecvError::Closed));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TryRecvError {
    /// Nothing queued right now.
    Empty,
    /// The queue was closed and is drained.
    Closed,
}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TryRecvError::Empty => "queue empty",
            TryRecvError::Closed => "queue closed",
        })
    }
}

impl std::error::Error for TryRecvError {}

/// The order a queue hands items out in.
///
/// # Examples
///
/// ```
/// use grove::sync::{Lifo, Queue};
/// // `Queue<T, S>` takes its order from the store `S`.
/// let q: Queue<i32, Lifo<i32>> = Queue::with_bound(None);
/// q.put(1).unwrap();
/// q.put(2).unwrap();
/// assert_eq!(q.get(), Ok(2));
/// ```
pub trait Store<T>: Default {
    /// Adds an item.
    ///
    /// # Examples
    ///
    /// ```
    /// use grove::sync::{Fifo, Store};
    /// let mut s = Fifo::default();
    /// s.push('a');
    /// assert_eq!(s.len(), 1);
    /// ```
    fn push(&mut self, item: T);

    /// Removes the next item.
    ///
    /// # Examples
    ///
    /// ```
    /// use grove::sync::{Lifo, Store};
    /// let mut s = Lifo::default();
    /// s.push(1);
    /// s.push(2);
    /// assert_eq!(s.pop(), Some(2));
    /// ```
    fn pop(&mut self) -> Option<T>;

    /// The next item, without removing it.
    ///
    /// # Examples
    ///
    /// ```
    /// use grove::sync::{Priority, Store};
    /// let mut s = Priority::default();
    /// s.push(3);
    /// s.push(7);
    /// assert_eq!(s.peek(), Some(&7));
    /// ```
    fn peek(&self) -> Option<&T>;

    /// Items held.
    ///
    /// # Examples
    ///
    /// ```
    /// use grove::sync::{Fifo, Store};
    /// let mut s = Fifo::default();
    /// s.push(());
    /// s.push(());
    /// assert_eq!(s.len(), 2);
    /// ```
    fn len(&self) -> usize;

    /// Whether no item is held.
    ///
    /// # Examples
    ///
    /// ```
    /// use grove::sync::{Fifo, Store};
    /// let s: Fifo<u8> = Fifo::default();
    /// assert!(s.is_empty());
    /// ```
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// First in, first out.
///
/// # Examples
///
/// ```
/// use grove::sync::{Fifo, Queue};
/// let q: Queue<i32, Fifo<i32>> = Queue::with_bound(None); // same as Queue::unbounded()
/// q.put(1).unwrap();
/// q.put(2).unwrap();
/// assert_eq!(q.get(), Ok(1));
/// ```
#[derive(Debug)]
pub struct Fifo<T>(VecDeque<T>);
/// Last in, first out.
///
/// # Examples
///
/// ```
/// use grove::sync::{Lifo, Queue};
/// let q: Queue<i32, Lifo<i32>> = Queue::with_bound(None);
/// q.put(1).unwrap();
/// q.put(2).unwrap();
/// assert_eq!(q.get(), Ok(2));
/// ```
#[derive(Debug)]
pub struct Lifo<T>(Vec<T>);
/// Greatest first (wrap items in `std::cmp::Reverse` for smallest first).
///
/// # Examples
///
/// ```
/// use grove::sync::{Priority, Queue};
/// let q: Queue<i32, Priority<i32>> = Queue::with_bound(None);
/// for x in [3, 9, 1] {
///     q.put(x).unwrap();
/// }
/// assert_eq!(q.get(), Ok(9));
/// ```
#[derive(Debug)]
pub struct Priority<T: Ord>(BinaryHeap<T>);

impl<T> Default for Fifo<T> {
    fn default() -> Self {
        Fifo(VecDeque::new())
    }
}
impl<T> Default for Lifo<T> {
    fn default() -> Self {
        Lifo(Vec::new())
    }
}
impl<T: Ord> Default for Priority<T> {
    fn default() -> Self {
        Priority(BinaryHeap::new())
    }
}

impl<T> Store<T> for Fifo<T> {
    fn push(&mut self, item: T) {
        self.0.push_back(item)
    }
    fn pop(&mut self) -> Option<T> {
        self.0.pop_front()
    }
    fn peek(&self) -> Option<&T> {
        self.0.front()
    }
    fn len(&self) -> usize {
        self.0.len()
    }
}

impl<T> Store<T> for Lifo<T> {
    fn push(&mut self, item: T) {
        self.0.push(item)
    }
    fn pop(&mut self) -> Option<T> {
        self.0.pop()
    }
    fn peek(&self) -> Option<&T> {
        self.0.last()
    }
    fn len(&self) -> usize {
        self.0.len()
    }
}

impl<T: Ord> Store<T> for Priority<T> {
    fn push(&mut self, item: T) {
        self.0.push(item)
    }
    fn pop(&mut self) -> Option<T> {
        self.0.pop()
    }
    fn peek(&self) -> Option<&T> {
        self.0.peek()
    }
    fn len(&self) -> usize {
        self.0.len()
    }
}

struct Inner<T, S> {
    items: RefCell<S>,
    capacity: Option<usize>,
    closed: Cell<bool>,
    getters: WaitList,
    putters: WaitList,
    /// Items put and not yet marked done (`task_done`), for `join`.
    unfinished: Cell<usize>,
    all_done: WaitList,
    _t: std::marker::PhantomData<T>,
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
            self.inner.capacity,
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
        let capacity = bound;
        assert_ne!(capacity, Some(0), "grove: a queue of capacity 0 is a Channel");
        Queue {
            inner: Rc::new(Inner {
                items: RefCell::new(S::default()),
                capacity,
                closed: Cell::new(false),
                getters: WaitList::new(),
                putters: WaitList::new(),
                unfinished: Cell::new(0),
                all_done: WaitList::new(),
                _t: std::marker::PhantomData,
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
        self.inner.items.borrow().len()
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
        self.inner.capacity.is_some_and(|c| self.len() >= c)
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
        self.inner.capacity
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
        self.inner.closed.set(true);
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
        self.inner.closed.get()
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
        if i.closed.get() {
            return Err(TrySendError::Closed(item));
        }
        // Queued putters go first.
        if self.is_full() || (i.capacity.is_some() && !i.putters.is_empty()) {
            return Err(TrySendError::Full(item));
        }
        self.push(item);
        Ok(())
    }

    fn push(&self, item: T) {
        let i = &self.inner;
        i.items.borrow_mut().push(item);
        i.unfinished.set(i.unfinished.get() + 1);
        i.getters.notify_one();
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
        let i = &self.inner;
        let item = match self.try_put(item) {
            Ok(()) => return Ok(()),
            Err(TrySendError::Closed(t)) => return Err(SendError::Closed(t)),
            Err(TrySendError::Full(t)) => t,
        };
        loop {
            if let Err(e) = i.putters.wait(deadline, "Queue::put") {
                return Err(SendError::Wait(e, item));
            }
            if i.closed.get() {
                return Err(SendError::Closed(item));
            }
            if !self.is_full() {
                self.push(item);
                // Room may remain for the next putter.
                if !self.is_full() {
                    i.putters.notify_one();
                }
                return Ok(());
            }
        }
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
        let i = &self.inner;
        let item = i.items.borrow_mut().pop();
        match item {
            Some(t) => {
                i.putters.notify_one();
                Ok(t)
            }
            None if i.closed.get() => Err(TryRecvError::Closed),
            None => Err(TryRecvError::Empty),
        }
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
        get_loop(&self.inner.getters, deadline, "Queue::get", || self.try_get())
    }

    /// Calls `f` with the next item without removing it.
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
        f(self.inner.items.borrow().peek())
    }

    /// Marks one item taken with `get` as processed (JoinableQueue).
    ///
    /// # Panics
    /// If called more times than items were put.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = grove::sync::Queue::unbounded();
    /// q.put("job").unwrap();
    /// let _job = q.get().unwrap();
    /// assert_eq!(q.unfinished(), 1);
    /// q.task_done();
    /// assert_eq!(q.unfinished(), 0);
    /// ```
    pub fn task_done(&self) {
        let i = &self.inner;
        let n = i.unfinished.get();
        assert!(n > 0, "grove: task_done() called more times than items were put");
        i.unfinished.set(n - 1);
        if n == 1 {
            i.all_done.notify_all();
        }
    }

    /// Items put and not yet marked with [`task_done`](Self::task_done).
    ///
    /// # Examples
    ///
    /// ```
    /// let q = grove::sync::Queue::unbounded();
    /// q.put(1).unwrap();
    /// q.get().unwrap();
    /// assert_eq!(q.unfinished(), 1); // taken, not yet marked done
    /// ```
    pub fn unfinished(&self) -> usize {
        self.inner.unfinished.get()
    }

    /// Waits until every item put has been marked done (JoinableQueue).
    ///
    /// # Errors
    /// [`WaitError::Deadlock`] on the main greenlet when nothing can ever finish the items;
    /// [`WaitError::Interrupted`] when the caller is unwinding.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = grove::sync::Queue::unbounded();
    /// let worker_q = q.clone();
    /// let _worker = grove::spawn(move || {
    ///     while let Ok(_job) = worker_q.get() {
    ///         worker_q.task_done();
    ///     }
    /// });
    /// for job in 0..3 {
    ///     q.put(job).unwrap();
    /// }
    /// q.join().unwrap(); // every job processed
    /// q.close();
    /// ```
    pub fn join(&self) -> Result<(), WaitError> {
        self.join_until(None)
    }

    /// Like [`join`](Self::join), giving up after `timeout`.
    ///
    /// # Errors
    /// [`WaitError::TimedOut`], or as [`join`](Self::join).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use grove::sync::{Queue, WaitError};
    /// let q = Queue::unbounded();
    /// q.put(1).unwrap(); // nobody takes it
    /// assert_eq!(q.join_timeout(Duration::from_millis(5)), Err(WaitError::TimedOut));
    /// ```
    pub fn join_timeout(&self, timeout: Duration) -> Result<(), WaitError> {
        self.join_until(crate::time::deadline_after(timeout))
    }

    /// Like [`join`](Self::join), giving up at `deadline`.
    ///
    /// # Errors
    /// [`WaitError::TimedOut`], or as [`join`](Self::join).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let q: grove::sync::Queue<u8> = grove::sync::Queue::unbounded();
    /// q.join_deadline(Instant::now() + Duration::from_millis(5)).unwrap(); // nothing pending
    /// ```
    pub fn join_deadline(&self, deadline: Instant) -> Result<(), WaitError> {
        self.join_until(Some(deadline))
    }

    fn join_until(&self, deadline: Option<Instant>) -> Result<(), WaitError> {
        while self.inner.unfinished.get() > 0 {
            self.inner.all_done.wait(deadline, "Queue::join")?;
        }
        Ok(())
    }

    /// For `select`: whether a `get` would not wait (an item, or closed), and its waiters.
    pub(crate) fn recv_readiness(&self) -> (bool, &WaitList) {
        (!self.is_empty() || self.is_closed(), &self.inner.getters)
    }

    /// For `select`: whether a `put` would not wait (room, or closed), and its waiters.
    pub(crate) fn send_readiness(&self) -> (bool, &WaitList) {
        (!self.is_full() || self.is_closed(), &self.inner.putters)
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

/// Takes with `try_get`, waiting on `getters` while empty: the get side of every queue type.
fn get_loop<T>(
    getters: &WaitList,
    deadline: Option<Instant>,
    what: &'static str,
    mut try_get: impl FnMut() -> Result<T, TryRecvError>,
) -> Result<T, RecvError> {
    loop {
        match try_get() {
            Ok(t) => return Ok(t),
            Err(TryRecvError::Closed) => return Err(RecvError::Closed),
            Err(TryRecvError::Empty) => {}
        }
        getters.wait(deadline, what)?;
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

/// A rendezvous channel (capacity 0): `put` returns only when a getter has taken the item.
/// Cloning gives another handle. Hub-local: not `Send`.
///
/// ```
/// let ch = grove::sync::Channel::new();
/// let tx = ch.clone();
/// let h = grove::spawn(move || tx.put("hello").unwrap());
/// assert_eq!(ch.get().unwrap(), "hello");
/// h.join().unwrap();
/// ```
pub struct Channel<T> {
    inner: Rc<ChanInner<T>>,
}

struct ChanInner<T> {
    /// Offered items with the ticket of the putter waiting for each.
    offers: RefCell<VecDeque<(u64, T)>>,
    next_ticket: Cell<u64>,
    closed: Cell<bool>,
    getters: WaitList,
    putters: WaitList,
}

impl<T> Clone for Channel<T> {
    fn clone(&self) -> Self {
        Channel { inner: self.inner.clone() }
    }
}

impl<T> fmt::Debug for Channel<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Channel(offers: {})", self.inner.offers.borrow().len())
    }
}

impl<T> Default for Channel<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Channel<T> {
    /// A new rendezvous channel.
    ///
    /// # Examples
    ///
    /// ```
    /// let ch = grove::sync::Channel::new();
    /// let tx = ch.clone();
    /// let h = grove::spawn(move || tx.put(1).unwrap());
    /// assert_eq!(ch.get(), Ok(1));
    /// h.join().unwrap();
    /// ```
    pub fn new() -> Self {
        Channel {
            inner: Rc::new(ChanInner {
                offers: RefCell::new(VecDeque::new()),
                next_ticket: Cell::new(0),
                closed: Cell::new(false),
                getters: WaitList::new(),
                putters: WaitList::new(),
            }),
        }
    }

    fn taken(&self, ticket: u64) -> bool {
        !self.inner.offers.borrow().iter().any(|(t, _)| *t == ticket)
    }

    /// Offers `item` and waits until a getter takes it.
    ///
    /// # Errors
    /// See [`SendError`]; the item is handed back if no getter took it.
    ///
    /// # Examples
    ///
    /// ```
    /// use grove::sync::Channel;
    /// let ch = Channel::new();
    /// let tx = ch.clone();
    /// let h = grove::spawn(move || tx.put("hi")); // returns once taken
    /// assert_eq!(ch.get(), Ok("hi"));
    /// assert_eq!(h.join().unwrap(), Ok(()));
    /// ```
    pub fn put(&self, item: T) -> Result<(), SendError<T>> {
        self.put_until(item, None)
    }

    /// Offers `item`, waiting at most `timeout` for a getter.
    ///
    /// # Errors
    /// See [`SendError`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use grove::sync::{Channel, SendError, WaitError};
    /// let ch = Channel::new();
    /// let r = ch.put_timeout(1, Duration::from_millis(5)); // no getter came
    /// assert_eq!(r, Err(SendError::Wait(WaitError::TimedOut, 1)));
    /// ```
    pub fn put_timeout(&self, item: T, timeout: Duration) -> Result<(), SendError<T>> {
        self.put_until(item, crate::time::deadline_after(timeout))
    }

    /// Offers `item`, waiting until `deadline` for a getter.
    ///
    /// # Errors
    /// See [`SendError`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let ch = grove::sync::Channel::new();
    /// let rx = ch.clone();
    /// let h = grove::spawn(move || rx.get());
    /// ch.put_deadline('x', Instant::now() + Duration::from_secs(1)).unwrap();
    /// assert_eq!(h.join().unwrap(), Ok('x'));
    /// ```
    pub fn put_deadline(&self, item: T, deadline: Instant) -> Result<(), SendError<T>> {
        self.put_until(item, Some(deadline))
    }

    fn put_until(&self, item: T, deadline: Option<Instant>) -> Result<(), SendError<T>> {
        let i = &self.inner;
        if i.closed.get() {
            return Err(SendError::Closed(item));
        }
        let ticket = i.next_ticket.get();
        i.next_ticket.set(ticket + 1);
        i.offers.borrow_mut().push_back((ticket, item));
        i.getters.notify_one();
        // Withdraws the offer if we leave before it is taken (timeout, kill, close).
        struct Withdraw<'a, T> {
            ch: &'a Channel<T>,
            ticket: u64,
        }
        impl<T> Withdraw<'_, T> {
            fn take(&self) -> Option<T> {
                let mut offers = self.ch.inner.offers.borrow_mut();
                let pos = offers.iter().position(|(t, _)| *t == self.ticket)?;
                offers.remove(pos).map(|(_, item)| item)
            }
        }
        impl<T> Drop for Withdraw<'_, T> {
            fn drop(&mut self) {
                self.take();
            }
        }
        let w = Withdraw { ch: self, ticket };
        loop {
            if self.taken(ticket) {
                std::mem::forget(w);
                return Ok(());
            }
            // The scope may expire after a getter took the item but before we ran: the put
            // happened, so it must report so (a retry would deliver twice). The expiry is not
            // lost: the deadline stays passed, so the next blocking call unwinds to the scope.
            let r = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                i.putters.wait(deadline, "Channel::put")
            })) {
                Ok(r) => r,
                Err(p) if crate::hub::is_scope_expiry(&*p) && self.taken(ticket) => Ok(()),
                Err(p) => std::panic::resume_unwind(p),
            };
            if self.taken(ticket) {
                std::mem::forget(w);
                return Ok(());
            }
            let err = match r {
                Ok(()) if i.closed.get() => None,
                Ok(()) => continue,
                Err(e) => Some(e),
            };
            let item = w.take().expect("grove: offer vanished");
            std::mem::forget(w);
            return Err(match err {
                None => SendError::Closed(item),
                Some(e) => SendError::Wait(e, item),
            });
        }
    }

    /// Takes an item if a putter is offering one, without blocking.
    ///
    /// # Errors
    /// [`TryRecvError::Empty`], or [`TryRecvError::Closed`] once closed and drained.
    ///
    /// # Examples
    ///
    /// ```
    /// use grove::sync::{Channel, TryRecvError};
    /// let ch = Channel::new();
    /// assert_eq!(ch.try_get(), Err(TryRecvError::Empty));
    /// let tx = ch.clone();
    /// let _h = grove::spawn(move || tx.put(3));
    /// grove::yield_now(); // the putter is now offering
    /// assert_eq!(ch.try_get(), Ok(3));
    /// ```
    pub fn try_get(&self) -> Result<T, TryRecvError> {
        let i = &self.inner;
        let offer = i.offers.borrow_mut().pop_front();
        match offer {
            Some((_, item)) => {
                // Wake the putters: the one whose ticket was taken returns.
                i.putters.notify_all();
                Ok(item)
            }
            None if i.closed.get() => Err(TryRecvError::Closed),
            None => Err(TryRecvError::Empty),
        }
    }

    /// Waits for a putter and takes its item.
    ///
    /// # Errors
    /// See [`RecvError`].
    ///
    /// # Examples
    ///
    /// ```
    /// let ch = grove::sync::Channel::new();
    /// let tx = ch.clone();
    /// let _h = grove::spawn(move || tx.put(10));
    /// assert_eq!(ch.get(), Ok(10));
    /// ```
    pub fn get(&self) -> Result<T, RecvError> {
        self.get_until(None)
    }

    /// Waits at most `timeout` for an item.
    ///
    /// # Errors
    /// See [`RecvError`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use grove::sync::{Channel, RecvError, WaitError};
    /// let ch: Channel<u8> = Channel::new();
    /// let r = ch.get_timeout(Duration::from_millis(5));
    /// assert_eq!(r, Err(RecvError::Wait(WaitError::TimedOut)));
    /// ```
    pub fn get_timeout(&self, timeout: Duration) -> Result<T, RecvError> {
        self.get_until(crate::time::deadline_after(timeout))
    }

    /// Waits until `deadline` for an item.
    ///
    /// # Errors
    /// See [`RecvError`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let ch = grove::sync::Channel::new();
    /// let tx = ch.clone();
    /// let _h = grove::spawn(move || tx.put(1));
    /// assert_eq!(ch.get_deadline(Instant::now() + Duration::from_secs(1)), Ok(1));
    /// ```
    pub fn get_deadline(&self, deadline: Instant) -> Result<T, RecvError> {
        self.get_until(Some(deadline))
    }

    fn get_until(&self, deadline: Option<Instant>) -> Result<T, RecvError> {
        get_loop(&self.inner.getters, deadline, "Channel::get", || self.try_get())
    }

    /// For `select`: whether `try_get` would not say `Empty`, and the getters' list.
    pub(crate) fn recv_readiness(&self) -> (bool, &WaitList) {
        let i = &self.inner;
        (!i.offers.borrow().is_empty() || i.closed.get(), &i.getters)
    }

    /// Closes the channel: pending and later puts fail, gets fail once no offer is left.
    ///
    /// # Examples
    ///
    /// ```
    /// use grove::sync::{Channel, RecvError, SendError};
    /// let ch: Channel<u8> = Channel::new();
    /// ch.close();
    /// assert_eq!(ch.get(), Err(RecvError::Closed));
    /// assert_eq!(ch.put(1), Err(SendError::Closed(1)));
    /// ```
    pub fn close(&self) {
        self.inner.closed.set(true);
        self.inner.getters.notify_all();
        self.inner.putters.notify_all();
    }
}
