//! The cross-thread queue.

#[allow(clippy::wildcard_imports)] // a split of the parent module: same names
use super::*;

struct QState<T> {
    items: VecDeque<T>,
    capacity: Option<usize>,
    closed: bool,
    getters: Waiters,
    putters: Waiters,
    handles: usize,
}

impl<T> Handles for QState<T> {
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
pub struct Queue<T> {
    inner: Arc<Mutex<QState<T>>>,
}

impl<T> Clone for Queue<T> {
    fn clone(&self) -> Self {
        handle_cloned(&self.inner);
        Queue { inner: self.inner.clone() }
    }
}

impl<T> Drop for Queue<T> {
    fn drop(&mut self) {
        handle_dropped(&self.inner);
    }
}

impl<T> fmt::Debug for Queue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.lock();
        write!(f, "mt::Queue(len: {}, closed: {})", s.items.len(), s.closed)
    }
}

impl<T> Queue<T> {
    fn with_bound(capacity: Option<usize>) -> Self {
        assert_ne!(capacity, Some(0), "grove: a queue needs capacity of at least 1");
        Queue {
            inner: Arc::new(Mutex::new(QState {
                items: VecDeque::new(),
                capacity,
                closed: false,
                getters: Waiters::single_handle(),
                putters: Waiters::single_handle(),
                handles: 1,
            })),
        }
    }

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

    fn lock(&self) -> MutexGuard<'_, QState<T>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
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
        s.closed = true;
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
        if s.closed {
            return Err(TrySendError::Closed(item));
        }
        if s.capacity.is_some_and(|c| s.items.len() >= c) {
            return Err(TrySendError::Full(item));
        }
        s.items.push_back(item);
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

    fn put_until(&self, mut item: T, deadline: Option<Instant>) -> Result<(), SendError<T>> {
        loop {
            match self.try_put(item) {
                Ok(()) => return Ok(()),
                Err(TrySendError::Closed(t)) => return Err(SendError::Closed(t)),
                Err(TrySendError::Full(t)) => item = t,
            }
            let g = self.lock();
            // Room appeared (or the queue closed) since try_put: retry without waiting.
            if g.capacity.is_none_or(|c| g.items.len() < c) || g.closed {
                continue;
            }
            if let Err(e) = wait(&self.inner, g, |s| &mut s.putters, deadline, "mt::Queue::put") {
                return Err(SendError::Wait(e, item));
            }
        }
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
        match s.items.pop_front() {
            Some(t) => {
                s.putters.wake_one();
                Ok(t)
            }
            None if s.closed => Err(TryRecvError::Closed),
            None => Err(TryRecvError::Empty),
        }
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
        loop {
            let mut g = self.lock();
            if let Some(t) = g.items.pop_front() {
                g.putters.wake_one();
                return Ok(t);
            }
            if g.closed {
                return Err(RecvError::Closed);
            }
            wait(&self.inner, g, |s| &mut s.getters, deadline, "mt::Queue::get")?;
        }
    }
}
