//! Primitives shared between hubs (threads): [`Queue`] and [`Event`]. `Send + Sync`; waits
//! are cooperative on every side (a greenlet parks on its own hub; a plain thread's main
//! greenlet waits in its own hub). They cost a mutex per operation, so prefer the hub-local
//! primitives of [`sync`](crate::sync) inside one hub.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::{RecvError, SendError, TryRecvError, TrySendError};
use crate::greenlet::fiber::Wake;
use crate::hub::{self, RemoteToken};

/// FIFO waiters that may live on any hub (also used by `AsyncResult`).
#[derive(Default)]
pub(crate) struct Waiters {
    list: VecDeque<(u64, RemoteToken)>,
    next: u64,
}

impl Waiters {
    fn register(&mut self, tok: RemoteToken) -> u64 {
        let id = self.next;
        self.next += 1;
        self.list.push_back((id, tok));
        id
    }

    /// Removes waiter `id`; false if a waker already took it (it was notified).
    fn withdraw(&mut self, id: u64) -> bool {
        match self.list.iter().position(|(i, _)| *i == id) {
            Some(p) => {
                self.list.remove(p);
                true
            }
            None => false,
        }
    }

    fn wake_one(&mut self) {
        if let Some((_, t)) = self.list.pop_front() {
            t.wake();
        }
    }

    pub(crate) fn wake_all(&mut self) {
        for (_, t) in self.list.drain(..) {
            t.wake();
        }
    }
}

/// How a wait ended.
pub(crate) enum Waited {
    Notified,
    TimedOut,
    Interrupted,
}

/// Registers in the waiter list chosen by `pick` under the lock, parks, and on an abnormal
/// end withdraws — passing on a notification it consumed without using.
pub(crate) fn wait<S>(
    lock: &Mutex<S>,
    mut guard: MutexGuard<'_, S>,
    pick: impl Fn(&mut S) -> &mut Waiters,
    deadline: Option<Instant>,
    what: &'static str,
) -> Waited {
    hub::with(|h| {
        let id = pick(&mut guard).register(h.token().to_remote());
        drop(guard);
        let w = h.park(deadline, what);
        if w == Wake::Normal {
            return Waited::Notified;
        }
        let mut g = lock.lock().unwrap_or_else(|e| e.into_inner());
        if !pick(&mut g).withdraw(id) {
            pick(&mut g).wake_one();
        }
        if w == Wake::Unwinding {
            Waited::Interrupted
        } else {
            Waited::TimedOut
        }
    })
}

struct QState<T> {
    items: VecDeque<T>,
    capacity: Option<usize>,
    closed: bool,
    getters: Waiters,
    putters: Waiters,
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
pub struct Queue<T> {
    inner: Arc<Mutex<QState<T>>>,
}

impl<T> Clone for Queue<T> {
    fn clone(&self) -> Self {
        Queue { inner: self.inner.clone() }
    }
}

impl<T> fmt::Debug for Queue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.lock();
        write!(f, "mt::Queue(len: {}, closed: {})", s.items.len(), s.closed)
    }
}

impl<T> Queue<T> {
    fn with_capacity(capacity: Option<usize>) -> Self {
        assert_ne!(capacity, Some(0), "grove: a queue needs capacity of at least 1");
        Queue {
            inner: Arc::new(Mutex::new(QState {
                items: VecDeque::new(),
                capacity,
                closed: false,
                getters: Waiters::default(),
                putters: Waiters::default(),
            })),
        }
    }

    /// An unbounded queue.
    pub fn unbounded() -> Self {
        Self::with_capacity(None)
    }

    /// A queue holding at most `capacity` items.
    ///
    /// # Panics
    /// If `capacity` is 0.
    pub fn bounded(capacity: usize) -> Self {
        Self::with_capacity(Some(capacity))
    }

    fn lock(&self) -> MutexGuard<'_, QState<T>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Items waiting.
    pub fn len(&self) -> usize {
        self.lock().items.len()
    }

    /// Whether no item waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Closes the queue: puts fail, gets drain what is left then fail with `Closed`.
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
    /// See [`SendError`] (never `Deadlock`: another thread may always make room).
    pub fn put(&self, item: T) -> Result<(), SendError<T>> {
        self.put_deadline(item, None)
    }

    /// Adds an item, waiting at most `timeout`.
    ///
    /// # Errors
    /// See [`SendError`].
    pub fn put_timeout(&self, item: T, timeout: Duration) -> Result<(), SendError<T>> {
        self.put_deadline(item, Some(Instant::now() + timeout))
    }

    fn put_deadline(&self, mut item: T, deadline: Option<Instant>) -> Result<(), SendError<T>> {
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
            match wait(&self.inner, g, |s| &mut s.putters, deadline, "mt::Queue::put") {
                Waited::Notified => {}
                Waited::TimedOut => return Err(SendError::TimedOut(item)),
                Waited::Interrupted => return Err(SendError::Interrupted(item)),
            }
        }
    }

    /// Takes an item without waiting.
    ///
    /// # Errors
    /// `Empty`, or `Closed` once closed and drained.
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
    /// See [`RecvError`] (never `Deadlock`).
    pub fn get(&self) -> Result<T, RecvError> {
        self.get_deadline(None)
    }

    /// Takes an item, waiting at most `timeout`.
    ///
    /// # Errors
    /// See [`RecvError`].
    pub fn get_timeout(&self, timeout: Duration) -> Result<T, RecvError> {
        self.get_deadline(Some(Instant::now() + timeout))
    }

    fn get_deadline(&self, deadline: Option<Instant>) -> Result<T, RecvError> {
        loop {
            let mut g = self.lock();
            if let Some(t) = g.items.pop_front() {
                g.putters.wake_one();
                return Ok(t);
            }
            if g.closed {
                return Err(RecvError::Closed);
            }
            match wait(&self.inner, g, |s| &mut s.getters, deadline, "mt::Queue::get") {
                Waited::Notified => {}
                Waited::TimedOut => return Err(RecvError::TimedOut),
                Waited::Interrupted => return Err(RecvError::Interrupted),
            }
        }
    }
}

struct EState {
    set: bool,
    waiters: Waiters,
}

/// A flag greenlets on any hub (and plain threads) can wait for. Cloning gives another handle.
#[derive(Clone)]
pub struct Event {
    inner: Arc<Mutex<EState>>,
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "mt::Event(set: {})", self.is_set())
    }
}

impl Default for Event {
    fn default() -> Self {
        Self::new()
    }
}

impl Event {
    /// An unset event.
    pub fn new() -> Event {
        Event { inner: Arc::new(Mutex::new(EState { set: false, waiters: Waiters::default() })) }
    }

    fn lock(&self) -> MutexGuard<'_, EState> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets the flag and wakes every waiter.
    pub fn set(&self) {
        let mut s = self.lock();
        s.set = true;
        s.waiters.wake_all();
    }

    /// Clears the flag.
    pub fn clear(&self) {
        self.lock().set = false;
    }

    /// Whether the flag is set.
    pub fn is_set(&self) -> bool {
        self.lock().set
    }

    /// Waits until set; returns the flag (false if a `timeout` scope expired or unwinding).
    pub fn wait(&self) -> bool {
        self.wait_deadline(None)
    }

    /// Waits at most `timeout`; returns the flag.
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        self.wait_deadline(Some(Instant::now() + timeout))
    }

    fn wait_deadline(&self, deadline: Option<Instant>) -> bool {
        loop {
            let g = self.lock();
            if g.set {
                return true;
            }
            if !matches!(
                wait(&self.inner, g, |s| &mut s.waiters, deadline, "mt::Event::wait"),
                Waited::Notified
            ) {
                return self.is_set();
            }
        }
    }
}
