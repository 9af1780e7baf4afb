//! Primitives shared between hubs (threads): [`Queue`] and [`Event`]. `Send + Sync`; waits
//! are cooperative on every side (a greenlet parks on its own hub; a plain thread's main
//! greenlet waits in its own hub). They cost a mutex per operation, so prefer the hub-local
//! primitives of [`sync`](crate::sync) inside one hub.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::{RecvError, SendError, TryRecvError, TrySendError};
use crate::hub::{self, RemoteToken, WaitError};

/// FIFO waiters that may live on any hub (also used by `AsyncResult` and the runtime).
///
/// Each waiter holds a [`RemoteToken`]. A counted token tells its hub that another thread may
/// still wake it; while the primitive's only handle is the waiter's own (`lonely`), nobody else
/// can, so registrations stay uncounted and a main greenlet waiting alone gets the hub's
/// Deadlock error instead of hanging.
pub(crate) struct Waiters {
    list: VecDeque<(u64, RemoteToken)>,
    next: u64,
    lonely: bool,
}

impl Default for Waiters {
    /// Waiters of something another thread may always complete (counted tokens).
    fn default() -> Self {
        Waiters { list: VecDeque::new(), next: 0, lonely: false }
    }
}

impl Waiters {
    /// Waiters of a primitive that has a single handle so far.
    pub(crate) fn single_handle() -> Self {
        Waiters { lonely: true, ..Waiters::default() }
    }

    pub(crate) fn register(&mut self, mut tok: RemoteToken) -> u64 {
        tok.set_counted(!self.lonely);
        let id = self.next;
        self.next += 1;
        self.list.push_back((id, tok));
        id
    }

    /// Removes waiter `id`; false if a waker already took it (it was notified).
    pub(crate) fn withdraw(&mut self, id: u64) -> bool {
        match self.list.iter().position(|(i, _)| *i == id) {
            Some(p) => {
                self.list.remove(p);
                true
            }
            None => false,
        }
    }

    pub(crate) fn wake_one(&mut self) {
        if let Some((_, t)) = self.list.pop_front() {
            t.wake();
        }
    }

    pub(crate) fn wake_all(&mut self) {
        for (_, t) in self.list.drain(..) {
            t.wake();
        }
    }

    /// Takes every waiter out (to be woken after the lock is released).
    pub(crate) fn take_all(&mut self) -> Vec<RemoteToken> {
        self.list.drain(..).map(|(_, t)| t).collect()
    }

    /// The primitive's handle count went to one (`true`) or above one (`false`).
    pub(crate) fn set_lonely(&mut self, lonely: bool) {
        self.lonely = lonely;
        for (_, t) in &mut self.list {
            t.set_counted(!lonely);
        }
    }
}

/// Handle bookkeeping shared by the primitives: how many handles exist, and their waiters.
pub(crate) trait Handles {
    fn handles(&mut self) -> &mut usize;
    fn each_waiters(&mut self, f: &mut dyn FnMut(&mut Waiters));
}

/// A handle was cloned: waiters can now be woken by someone else.
pub(crate) fn handle_cloned<S: Handles>(lock: &Mutex<S>) {
    let mut s = lock.lock().unwrap_or_else(|e| e.into_inner());
    *s.handles() += 1;
    if *s.handles() == 2 {
        s.each_waiters(&mut |w| w.set_lonely(false));
    }
}

/// A handle was dropped: if one is left, only its holder can still complete the primitive.
pub(crate) fn handle_dropped<S: Handles>(lock: &Mutex<S>) {
    let mut s = lock.lock().unwrap_or_else(|e| e.into_inner());
    *s.handles() -= 1;
    if *s.handles() == 1 {
        s.each_waiters(&mut |w| w.set_lonely(true));
    }
}

/// Registers in the waiter list chosen by `pick` under the lock and parks. However the wait
/// ends abnormally — its deadline, the Deadlock error, or an unwind out of the park (a kill, an
/// expired `timeout` scope) — the waiter withdraws, and passes on a notification it consumed
/// without using, so a wakeup is never spent on a waiter that left.
pub(crate) fn wait<S>(
    lock: &Mutex<S>,
    mut guard: MutexGuard<'_, S>,
    pick: impl Fn(&mut S) -> &mut Waiters,
    deadline: Option<Instant>,
    what: &'static str,
) -> Result<(), WaitError> {
    hub::with(|h| {
        let id = pick(&mut guard).register(h.token().to_remote());
        drop(guard);
        let mut leave = Leave { lock, pick: &pick, id: Some(id) };
        let r = h.park(deadline, what).result();
        if r.is_ok() {
            // Notified: nothing to withdraw.
            leave.id = None;
        }
        r
    })
}

/// Withdraws a waiter that leaves without its notification (also while unwinding).
struct Leave<'a, S, P: Fn(&mut S) -> &mut Waiters> {
    lock: &'a Mutex<S>,
    pick: &'a P,
    id: Option<u64>,
}

impl<S, P: Fn(&mut S) -> &mut Waiters> Drop for Leave<'_, S, P> {
    fn drop(&mut self) {
        let Some(id) = self.id.take() else { return };
        let mut g = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        let w = (self.pick)(&mut g);
        if !w.withdraw(id) {
            // A notifier picked us just before we left: the next waiter gets the wakeup.
            w.wake_one();
        }
    }
}

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

struct EState {
    set: bool,
    /// Bumped by every `set`: a waiter that saw the flag unset returns `Ok` once this moved,
    /// even if the flag was cleared again before it ran (a set-then-clear pulse).
    generation: u64,
    waiters: Waiters,
    handles: usize,
}

impl Handles for EState {
    fn handles(&mut self) -> &mut usize {
        &mut self.handles
    }
    fn each_waiters(&mut self, f: &mut dyn FnMut(&mut Waiters)) {
        f(&mut self.waiters);
    }
}

/// A flag greenlets on any hub (and plain threads) can wait for. Cloning gives another handle.
///
/// Like `threading.Event`: `set(); clear()` still releases every greenlet that was waiting.
/// A main greenlet waiting on the only handle (nobody else can set it) gets `Deadlock` once its
/// hub has nothing else to do, instead of hanging (see [`Queue`]'s Deadlock note).
///
/// # Examples
///
/// ```
/// let ev = grove::sync::mt::Event::new();
/// let e = ev.clone();
/// let t = std::thread::spawn(move || e.wait()); // a plain thread waits
/// ev.set();
/// assert_eq!(t.join().unwrap(), Ok(()));
/// ```
pub struct Event {
    inner: Arc<Mutex<EState>>,
}

impl Clone for Event {
    fn clone(&self) -> Self {
        handle_cloned(&self.inner);
        Event { inner: self.inner.clone() }
    }
}

impl Drop for Event {
    fn drop(&mut self) {
        handle_dropped(&self.inner);
    }
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
    ///
    /// # Examples
    ///
    /// ```
    /// let ev = grove::sync::mt::Event::new();
    /// assert!(!ev.is_set());
    /// ```
    pub fn new() -> Event {
        Event {
            inner: Arc::new(Mutex::new(EState {
                set: false,
                generation: 0,
                waiters: Waiters::single_handle(),
                handles: 1,
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, EState> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets the flag and wakes every waiter.
    ///
    /// # Examples
    ///
    /// ```
    /// let ev = grove::sync::mt::Event::new();
    /// let e = ev.clone();
    /// std::thread::spawn(move || e.set());
    /// ev.wait().unwrap();
    /// assert!(ev.is_set());
    /// ```
    pub fn set(&self) {
        let mut s = self.lock();
        s.set = true;
        s.generation = s.generation.wrapping_add(1);
        s.waiters.wake_all();
    }

    /// Clears the flag. Greenlets already waiting when it was last set still return `Ok(())`.
    ///
    /// # Examples
    ///
    /// ```
    /// let ev = grove::sync::mt::Event::new();
    /// ev.set();
    /// ev.clear();
    /// assert!(!ev.is_set());
    /// ```
    pub fn clear(&self) {
        self.lock().set = false;
    }

    /// Whether the flag is set.
    ///
    /// # Examples
    ///
    /// ```
    /// let ev = grove::sync::mt::Event::new();
    /// ev.set();
    /// assert!(ev.is_set());
    /// ```
    pub fn is_set(&self) -> bool {
        self.lock().set
    }

    /// Waits until set (or set while this call waited, even if cleared again since).
    ///
    /// # Errors
    /// [`WaitError::Deadlock`] on a main greenlet holding the only handle when its hub has
    /// nothing else to do; [`WaitError::Interrupted`] when the caller is unwinding.
    ///
    /// # Examples
    ///
    /// ```
    /// use grove::sync::{mt::Event, WaitError};
    /// let ev = Event::new();
    /// let e = ev.clone();
    /// let rt = grove::Runtime::builder().hubs(1).build()?;
    /// rt.spawn(move || e.set()); // a greenlet on another hub
    /// ev.wait().unwrap();
    /// // The only handle, on a main greenlet with nothing else to do: it can never be set.
    /// assert_eq!(Event::new().wait(), Err(WaitError::Deadlock));
    /// # Ok::<(), std::io::Error>(())
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
    /// use grove::sync::{mt::Event, WaitError};
    /// let ev = Event::new();
    /// assert_eq!(ev.wait_timeout(Duration::from_millis(5)), Err(WaitError::TimedOut));
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
    /// let ev = grove::sync::mt::Event::new();
    /// ev.set();
    /// ev.wait_deadline(Instant::now() + Duration::from_millis(5)).unwrap();
    /// ```
    pub fn wait_deadline(&self, deadline: Instant) -> Result<(), WaitError> {
        self.wait_until(Some(deadline))
    }

    fn wait_until(&self, deadline: Option<Instant>) -> Result<(), WaitError> {
        let start = {
            let g = self.lock();
            if g.set {
                return Ok(());
            }
            g.generation
        };
        loop {
            let g = self.lock();
            if g.set || g.generation != start {
                return Ok(());
            }
            if let Err(e) = wait(&self.inner, g, |s| &mut s.waiters, deadline, "mt::Event::wait") {
                let g = self.lock();
                return if g.set || g.generation != start { Ok(()) } else { Err(e) };
            }
        }
    }
}
