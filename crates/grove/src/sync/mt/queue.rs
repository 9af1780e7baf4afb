//! The cross-thread queue.

#[allow(clippy::wildcard_imports)] // a split of the parent module: same names
use super::*;

// User code runs under a queue's lock: the store's methods and the items' `Ord` (`Priority`).
// If it uses a queue again — or blocks, so that another greenlet of this thread does — the
// thread would lock a mutex it holds and hang for good. A flag per thread turns that into a
// panic naming the cause. (It is per thread, not per queue: an `Ord` locking another queue
// under this one's lock could deadlock against a thread doing the reverse.)
#[cfg(not(loom))]
std::thread_local! {
    static LOCKED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}
#[cfg(loom)]
loom::thread_local! {
    static LOCKED: std::cell::Cell<bool> = std::cell::Cell::new(false);
}

/// Panics if this thread holds an `mt::Queue`'s lock (see `LOCKED`).
fn not_locked_here(what: &str) {
    if LOCKED.with(std::cell::Cell::get) {
        panic!(
            "grove: mt::Queue {what} on a thread that holds an mt::Queue's lock: a queue's \
             store or its items' Ord (which run under the lock) used a queue, or blocked"
        );
    }
}

/// A queue's state, locked by this thread, which is marked as holding it until the guard
/// drops.
struct Locked<'a, T, S> {
    guard: MutexGuard<'a, QState<T, S>>,
    mark: Mark,
}

struct Mark;

impl Drop for Mark {
    fn drop(&mut self) {
        LOCKED.with(|l| l.set(false));
    }
}

impl<'a, T, S> Locked<'a, T, S> {
    /// The plain guard, for `wait` (which unlocks before parking): the thread is no longer
    /// marked.
    fn into_guard(self) -> MutexGuard<'a, QState<T, S>> {
        let Locked { guard, mark } = self;
        drop(mark);
        guard
    }
}

impl<T, S> std::ops::Deref for Locked<'_, T, S> {
    type Target = QState<T, S>;
    fn deref(&self) -> &QState<T, S> {
        &self.guard
    }
}

impl<T, S> std::ops::DerefMut for Locked<'_, T, S> {
    fn deref_mut(&mut self) -> &mut QState<T, S> {
        &mut self.guard
    }
}

struct QState<T, S> {
    items: Items<T, S>,
    getters: Waiters,
    putters: Waiters,
    handles: usize,
}

impl<T, S> Handles for QState<T, S> {
    fn handles(&mut self) -> &mut usize {
        &mut self.handles
    }
    fn each_waiters(&mut self, f: &mut dyn FnMut(&mut Waiters)) {
        f(&mut self.getters);
        f(&mut self.putters);
    }
}

/// A queue between greenlets on any hubs and plain threads. Cloning gives another handle.
///
/// FIFO by default; the store `S` changes the order as for the hub-local
/// [`Queue`](crate::sync::Queue) (the two share their state and blocking logic, and differ
/// only in locking and in how waiters park).
///
/// ```
/// let q = grove::sync::mt::Queue::bounded(4);
/// let tx = q.clone();
/// let producer = std::thread::spawn(move || {
///     for i in 0..10 {
///         tx.put(i).unwrap();
///     }
///     tx.close();
/// });
/// let got: Vec<i32> = std::iter::from_fn(|| q.get().ok()).collect();
/// assert_eq!(got, (0..10).collect::<Vec<_>>());
/// producer.join().unwrap();
/// ```
///
/// # Deadlock
/// A wait on a thread's main greenlet whose handle is the only one left (nobody else can put
/// or take) fails with `Deadlock` once that hub has nothing else to do, like the hub-local
/// queue. Give every thread its own clone: a handle shared by reference (`&Queue`,
/// `Arc<Queue>`, a `static`) counts once.
pub struct Queue<T, S: Store<T> = Fifo<T>> {
    inner: Arc<Mutex<QState<T, S>>>,
}

impl<T, S: Store<T>> Clone for Queue<T, S> {
    fn clone(&self) -> Self {
        not_locked_here("clone");
        handle_cloned(&self.inner);
        Queue { inner: self.inner.clone() }
    }
}

impl<T, S: Store<T>> Drop for Queue<T, S> {
    fn drop(&mut self) {
        not_locked_here("drop");
        handle_dropped(&self.inner);
    }
}

impl<T, S: Store<T>> fmt::Debug for Queue<T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Read under the lock, write after it (the formatter's writer is someone's code).
        let (len, capacity, closed) = {
            let s = self.lock();
            (s.items.len(), s.items.capacity(), s.items.is_closed())
        };
        write!(f, "mt::Queue(len: {len}, capacity: {capacity:?}, closed: {closed})")
    }
}

impl<T> Queue<T> {
    /// An unbounded queue.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = grove::sync::mt::Queue::unbounded();
    /// q.put("never blocks").unwrap();
    /// assert_eq!(q.len(), 1);
    /// ```
    pub fn unbounded() -> Self {
        Self::with_bound(None)
    }

    /// A queue holding at most `capacity` items.
    ///
    /// # Panics
    /// If `capacity` is 0.
    ///
    /// # Examples
    ///
    /// ```
    /// use grove::sync::{mt::Queue, TrySendError};
    /// let q = Queue::bounded(1);
    /// q.put(1).unwrap();
    /// assert_eq!(q.try_put(2), Err(TrySendError::Full(2)));
    /// ```
    pub fn bounded(capacity: usize) -> Self {
        Self::with_bound(Some(capacity))
    }
}

impl<T, S: Store<T>> Queue<T, S> {
    /// A queue with this store, bounded if `bound` is `Some` (which must not be 0).
    ///
    /// # Panics
    /// If `bound` is `Some(0)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use grove::sync::{mt::Queue, Priority};
    /// let q: Queue<u32, Priority<u32>> = Queue::with_bound(None);
    /// let tx = q.clone();
    /// std::thread::spawn(move || {
    ///     for job in [3, 9, 1] {
    ///         tx.put(job).unwrap();
    ///     }
    /// })
    /// .join()
    /// .unwrap();
    /// assert_eq!(q.get(), Ok(9)); // greatest first
    /// ```
    pub fn with_bound(bound: Option<usize>) -> Self {
        Queue {
            inner: Arc::new(Mutex::new(QState {
                items: Items::new(bound),
                getters: Waiters::single_handle(),
                putters: Waiters::single_handle(),
                handles: 1,
            })),
        }
    }

    fn lock(&self) -> Locked<'_, T, S> {
        not_locked_here("operation");
        let guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        LOCKED.with(|l| l.set(true));
        Locked { guard, mark: Mark }
    }

    /// Items waiting.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = grove::sync::mt::Queue::unbounded();
    /// q.put(1).unwrap();
    /// q.put(2).unwrap();
    /// assert_eq!(q.len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        self.lock().items.len()
    }

    /// Whether no item waits.
    ///
    /// # Examples
    ///
    /// ```
    /// let q: grove::sync::mt::Queue<u8> = grove::sync::mt::Queue::unbounded();
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
    /// let q = grove::sync::mt::Queue::bounded(1);
    /// q.put('a').unwrap();
    /// assert!(q.is_full());
    /// ```
    pub fn is_full(&self) -> bool {
        self.lock().items.is_full()
    }

    /// The bound, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// use grove::sync::mt::Queue;
    /// assert_eq!(Queue::<u8>::bounded(3).capacity(), Some(3));
    /// assert_eq!(Queue::<u8>::unbounded().capacity(), None);
    /// ```
    pub fn capacity(&self) -> Option<usize> {
        self.lock().items.capacity()
    }

    /// Whether [`close`](Self::close) was called.
    ///
    /// # Examples
    ///
    /// ```
    /// let q: grove::sync::mt::Queue<u8> = grove::sync::mt::Queue::unbounded();
    /// q.clone().close(); // any handle closes the queue for all
    /// assert!(q.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.lock().items.is_closed()
    }

    /// Closes the queue: puts fail, gets drain what is left then fail with `Closed`.
    ///
    /// # Examples
    ///
    /// ```
    /// use grove::sync::{mt::Queue, RecvError};
    /// let q = Queue::unbounded();
    /// q.put(1).unwrap();
    /// q.close();
    /// assert!(q.put(2).is_err());
    /// assert_eq!(q.get(), Ok(1));
    /// assert_eq!(q.get(), Err(RecvError::Closed));
    /// ```
    pub fn close(&self) {
        let mut s = self.lock();
        s.items.close();
        s.getters.wake_all();
        s.putters.wake_all();
    }

    /// Adds an item without waiting.
    ///
    /// # Errors
    /// `Full` or `Closed`, with the item.
    ///
    /// # Examples
    ///
    /// ```
    /// use grove::sync::{mt::Queue, TrySendError};
    /// let q = Queue::bounded(1);
    /// assert_eq!(q.try_put('a'), Ok(()));
    /// assert_eq!(q.try_put('b'), Err(TrySendError::Full('b')));
    /// ```
    pub fn try_put(&self, item: T) -> Result<(), TrySendError<T>> {
        let mut s = self.lock();
        let s = &mut *s;
        // A getter is woken also for an item the store kept before panicking (an `Ord`).
        s.items.try_push_or(item, || s.getters.wake_one())?;
        s.getters.wake_one();
        Ok(())
    }

    /// Adds an item, waiting while the queue is full.
    ///
    /// # Errors
    /// See [`SendError`]; `Deadlock` only on a main greenlet holding the only handle.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = grove::sync::mt::Queue::bounded(1);
    /// let rx = q.clone();
    /// let consumer = std::thread::spawn(move || (rx.get(), rx.get()));
    /// q.put(1).unwrap();
    /// q.put(2).unwrap(); // waits (cooperatively) until the thread took 1
    /// assert_eq!(consumer.join().unwrap(), (Ok(1), Ok(2)));
    /// ```
    pub fn put(&self, item: T) -> Result<(), SendError<T>> {
        self.put_until(item, None)
    }

    /// Adds an item, waiting at most `timeout`.
    ///
    /// # Errors
    /// See [`SendError`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use grove::sync::{mt::Queue, SendError, WaitError};
    /// let q = Queue::bounded(1);
    /// q.put(1).unwrap();
    /// let r = q.put_timeout(2, Duration::from_millis(5));
    /// assert_eq!(r, Err(SendError::Wait(WaitError::TimedOut, 2)));
    /// ```
    pub fn put_timeout(&self, item: T, timeout: Duration) -> Result<(), SendError<T>> {
        self.put_until(item, crate::time::deadline_after(timeout))
    }

    /// Adds an item, waiting until `deadline`.
    ///
    /// # Errors
    /// See [`SendError`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let q = grove::sync::mt::Queue::bounded(1);
    /// q.put_deadline(1, Instant::now() + Duration::from_millis(5)).unwrap();
    /// ```
    pub fn put_deadline(&self, item: T, deadline: Instant) -> Result<(), SendError<T>> {
        self.put_until(item, Some(deadline))
    }

    fn put_until(&self, item: T, deadline: Option<Instant>) -> Result<(), SendError<T>> {
        let wait_room = || {
            self.wait_unless(
                Items::put_would_proceed,
                |s| &mut s.putters,
                deadline,
                "mt::Queue::put",
            )
        };
        // A woken putter retries like any other: there is no line across threads to keep.
        put_loop(item, |t| self.try_put(t), wait_room, |t| self.try_put(t))
    }

    /// Takes an item without waiting.
    ///
    /// # Errors
    /// `Empty`, or `Closed` once closed and drained.
    ///
    /// # Examples
    ///
    /// ```
    /// use grove::sync::{mt::Queue, TryRecvError};
    /// let q = Queue::unbounded();
    /// assert_eq!(q.try_get(), Err(TryRecvError::Empty));
    /// q.put(1).unwrap();
    /// assert_eq!(q.try_get(), Ok(1));
    /// ```
    pub fn try_get(&self) -> Result<T, TryRecvError> {
        let mut s = self.lock();
        let item = s.items.try_pop()?;
        s.putters.wake_one();
        Ok(item)
    }

    /// Takes an item, waiting while the queue is empty.
    ///
    /// # Errors
    /// See [`RecvError`]; `Deadlock` only on a main greenlet holding the only handle.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = grove::sync::mt::Queue::unbounded();
    /// let tx = q.clone();
    /// std::thread::spawn(move || tx.put("from a thread").unwrap());
    /// assert_eq!(q.get(), Ok("from a thread")); // other greenlets run meanwhile
    /// ```
    pub fn get(&self) -> Result<T, RecvError> {
        self.get_until(None)
    }

    /// Takes an item, waiting at most `timeout`.
    ///
    /// # Errors
    /// See [`RecvError`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use grove::sync::{mt::Queue, RecvError, WaitError};
    /// let q: Queue<u8> = Queue::unbounded();
    /// let r = q.get_timeout(Duration::from_millis(5));
    /// assert_eq!(r, Err(RecvError::Wait(WaitError::TimedOut)));
    /// ```
    pub fn get_timeout(&self, timeout: Duration) -> Result<T, RecvError> {
        self.get_until(crate::time::deadline_after(timeout))
    }

    /// Takes an item, waiting until `deadline`.
    ///
    /// # Errors
    /// See [`RecvError`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let q = grove::sync::mt::Queue::unbounded();
    /// let tx = q.clone();
    /// std::thread::spawn(move || tx.put(5).unwrap());
    /// assert_eq!(q.get_deadline(Instant::now() + Duration::from_secs(5)), Ok(5));
    /// ```
    pub fn get_deadline(&self, deadline: Instant) -> Result<T, RecvError> {
        self.get_until(Some(deadline))
    }

    fn get_until(&self, deadline: Option<Instant>) -> Result<T, RecvError> {
        let wait_item = || {
            self.wait_unless(
                Items::get_would_proceed,
                |s| &mut s.getters,
                deadline,
                "mt::Queue::get",
            )
        };
        get_loop(|| self.try_get(), wait_item)
    }

    /// Parks in the waiter list `pick` chooses, unless `proceed` says the operation would no
    /// longer wait: room or an item appeared, or the queue closed, since its last try. Checked
    /// under the lock the wait registers under, so no wakeup falls between the two.
    fn wait_unless(
        &self,
        proceed: fn(&Items<T, S>) -> bool,
        pick: impl Fn(&mut QState<T, S>) -> &mut Waiters,
        deadline: Option<Instant>,
        what: &'static str,
    ) -> Result<(), WaitError> {
        let g = self.lock();
        if proceed(&g.items) {
            return Ok(());
        }
        wait(&self.inner, g.into_guard(), pick, deadline, what)
    }
}
