//! A value that arrives later, waitable from any greenlet on any hub and from plain threads
//! (gevent's `AsyncResult`, Tornado's `Future`).

use std::error::Error;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::mt::{handle_cloned, handle_dropped, wait, Handles, Waiters};
use crate::hub::{self, Remote, RemoteMsg, WaitError};
use crate::loom::{self, Mutex, MutexGuard};

/// The error a producer reported with [`AsyncResult::set_error`].
///
/// # Examples
///
/// ```
/// use grove::sync::{AsyncError, AsyncResult};
/// let r: AsyncResult<u8> = AsyncResult::new();
/// r.set_error("no route to host");
/// let Err(AsyncError::Failed(e)) = r.get() else { unreachable!() };
/// assert_eq!(e.to_string(), "no route to host");
/// ```
pub type SharedError = Arc<dyn Error + Send + Sync>;

/// Why [`AsyncResult::get`] has no value.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use grove::sync::{AsyncError, AsyncResult, WaitError};
/// let r: AsyncResult<u8> = AsyncResult::new();
/// let e = r.get_timeout(Duration::from_millis(1)).unwrap_err();
/// assert!(matches!(e, AsyncError::Wait(WaitError::TimedOut)));
/// r.set_error("failed");
/// assert!(matches!(r.get(), Err(AsyncError::Failed(_))));
/// ```
#[derive(Debug, Clone)]
pub enum AsyncError {
    /// The producer reported this error.
    Failed(SharedError),
    /// The wait ended first: the call's own deadline, a deadlock (a main greenlet waiting on
    /// the only handle: nothing can ever set the result, gevent's `LoopExit`), or the caller
    /// unwinding.
    Wait(WaitError),
}

impl From<WaitError> for AsyncError {
    fn from(e: WaitError) -> AsyncError {
        AsyncError::Wait(e)
    }
}

impl fmt::Display for AsyncError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AsyncError::Failed(e) => write!(f, "{e}"),
            AsyncError::Wait(WaitError::Deadlock) => f.write_str(
                "this operation would block forever: no other handle to this AsyncResult \
                 exists, so nothing can set it (clone it for the producer)",
            ),
            AsyncError::Wait(e) => write!(f, "waiting for the result: {e}"),
        }
    }
}

impl Error for AsyncError {}

type Callback<T> = Box<dyn FnOnce(&Result<T, SharedError>) + Send>;

struct State<T> {
    value: Option<Result<T, SharedError>>,
    waiters: Waiters,
    callbacks: Vec<(Arc<Remote>, Callback<T>)>,
    wakers: Vec<std::task::Waker>,
    handles: usize,
}

impl<T> Handles for State<T> {
    fn handles(&mut self) -> &mut usize {
        &mut self.handles
    }
    fn each_waiters(&mut self, f: &mut dyn FnMut(&mut Waiters)) {
        f(&mut self.waiters);
    }
}

/// A write-once result shared between producers and any number of waiters, on any threads.
/// Cloning gives another handle. `Send + Sync` when `T: Send`.
///
/// ```
/// use grove::sync::AsyncResult;
/// let r = AsyncResult::new();
/// let producer = r.clone();
/// std::thread::spawn(move || producer.set(42));
/// assert_eq!(r.get().unwrap(), 42); // a greenlet (here main) waits cooperatively
/// ```
///
/// A main greenlet waiting on the only handle (nobody else can set it) gets
/// `AsyncError::Wait(WaitError::Deadlock)` once its hub has nothing else to do. Give the producer its own
/// clone: a handle shared by reference (`&AsyncResult`, `Arc<AsyncResult>`, a `static`)
/// counts once.
pub struct AsyncResult<T> {
    inner: loom::Arc<Mutex<State<T>>>,
}

impl<T> Clone for AsyncResult<T> {
    fn clone(&self) -> Self {
        handle_cloned(&self.inner);
        AsyncResult { inner: self.inner.clone() }
    }
}

impl<T> Drop for AsyncResult<T> {
    fn drop(&mut self) {
        handle_dropped(&self.inner);
    }
}

impl<T> fmt::Debug for AsyncResult<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AsyncResult(ready: {})", self.is_ready())
    }
}

impl<T> Default for AsyncResult<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> AsyncResult<T> {
    /// A result not set yet.
    ///
    /// # Examples
    ///
    /// ```
    /// let r = grove::sync::AsyncResult::new();
    /// assert!(!r.is_ready());
    /// r.set(1);
    /// ```
    pub fn new() -> Self {
        AsyncResult {
            inner: loom::Arc::new(Mutex::new(State {
                value: None,
                waiters: Waiters::single_handle(),
                callbacks: Vec::new(),
                wakers: Vec::new(),
                handles: 1,
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether a value or error has been set.
    ///
    /// # Examples
    ///
    /// ```
    /// let r = grove::sync::AsyncResult::new();
    /// r.set("done");
    /// assert!(r.is_ready());
    /// ```
    pub fn is_ready(&self) -> bool {
        self.lock().value.is_some()
    }
}

impl<T: Clone + Send + 'static> AsyncResult<T> {
    /// Sets the value and wakes every waiter; callbacks are queued to their hubs. Returns
    /// `false` (and drops `value`) if a value or error was already set.
    ///
    /// # Examples
    ///
    /// ```
    /// let r = grove::sync::AsyncResult::new();
    /// assert!(r.set(1));
    /// assert!(!r.set(2)); // the first value stays
    /// assert_eq!(r.get().unwrap(), 1);
    /// ```
    pub fn set(&self, value: T) -> bool {
        self.complete(Ok(value))
    }

    /// Sets an error and wakes every waiter. Returns `false` if already set.
    ///
    /// # Examples
    ///
    /// ```
    /// use grove::sync::{AsyncError, AsyncResult};
    /// let r: AsyncResult<u32> = AsyncResult::new();
    /// let producer = r.clone();
    /// std::thread::spawn(move || producer.set_error("backend down"));
    /// assert!(matches!(r.get(), Err(AsyncError::Failed(e)) if e.to_string() == "backend down"));
    /// ```
    pub fn set_error(&self, err: impl Into<Box<dyn Error + Send + Sync>>) -> bool {
        self.complete(Err(Arc::from(err.into())))
    }

    fn complete(&self, r: Result<T, SharedError>) -> bool {
        let (waiters, callbacks, wakers) = {
            let mut st = self.lock();
            if st.value.is_some() {
                return false;
            }
            st.value = Some(r.clone());
            (
                st.waiters.take_all(),
                std::mem::take(&mut st.callbacks),
                std::mem::take(&mut st.wakers),
            )
        };
        for w in wakers {
            w.wake();
        }
        for w in waiters {
            w.wake();
        }
        for (remote, cb) in callbacks {
            let v = r.clone();
            remote.send(RemoteMsg::Call(Box::new(move || cb(&v))));
        }
        true
    }

    /// The value if set, without waiting.
    ///
    /// # Examples
    ///
    /// ```
    /// let r = grove::sync::AsyncResult::new();
    /// assert!(r.peek().is_none());
    /// r.set(3);
    /// assert_eq!(r.peek().unwrap().unwrap(), 3);
    /// ```
    pub fn peek(&self) -> Option<Result<T, SharedError>> {
        self.lock().value.clone()
    }

    /// Waits for the value (cooperatively: other greenlets of this hub keep running). Inside
    /// an expiring `timeout` scope it unwinds to the scope.
    ///
    /// # Errors
    /// [`AsyncError::Failed`] with the producer's error; [`AsyncError::Wait`] with
    /// `Deadlock` on a main greenlet holding the only handle, `Interrupted` if the caller is
    /// unwinding.
    ///
    /// # Examples
    ///
    /// ```
    /// use grove::sync::{AsyncError, AsyncResult, WaitError};
    /// let r = AsyncResult::new();
    /// let producer = r.clone();
    /// let _h = grove::spawn(move || producer.set("value"));
    /// assert_eq!(r.get().unwrap(), "value");
    /// // A main greenlet waiting on the only handle can never be answered:
    /// let lonely: AsyncResult<u8> = AsyncResult::new();
    /// assert!(matches!(lonely.get(), Err(AsyncError::Wait(WaitError::Deadlock))));
    /// ```
    pub fn get(&self) -> Result<T, AsyncError> {
        self.get_until(None)
    }

    /// Like [`get`](Self::get), giving up after `timeout` (`Wait(TimedOut)`).
    ///
    /// # Errors
    /// As [`get`](Self::get).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use grove::sync::{AsyncError, AsyncResult, WaitError};
    /// let r: AsyncResult<u8> = AsyncResult::new();
    /// let _keep = r.clone(); // someone could still set it
    /// let e = r.get_timeout(Duration::from_millis(5)).unwrap_err();
    /// assert!(matches!(e, AsyncError::Wait(WaitError::TimedOut)));
    /// ```
    pub fn get_timeout(&self, timeout: Duration) -> Result<T, AsyncError> {
        self.get_until(crate::time::deadline_after(timeout))
    }

    /// Like [`get`](Self::get), giving up at `deadline` (`Wait(TimedOut)`).
    ///
    /// # Errors
    /// As [`get`](Self::get).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let r = grove::sync::AsyncResult::new();
    /// let producer = r.clone();
    /// std::thread::spawn(move || producer.set(9));
    /// assert_eq!(r.get_deadline(Instant::now() + Duration::from_secs(5)).unwrap(), 9);
    /// ```
    pub fn get_deadline(&self, deadline: Instant) -> Result<T, AsyncError> {
        self.get_until(Some(deadline))
    }

    /// For `select`: queues a wakeup for when the result is set; `None` if it already is.
    pub(crate) fn register_waiter(&self, tok: crate::hub::RemoteToken) -> Option<u64> {
        let mut st = self.lock();
        if st.value.is_some() {
            return None;
        }
        Some(st.waiters.register(super::mt::park::hub_token(tok)))
    }

    /// For `select`: takes back a wakeup queued by `register_waiter` (a no-op once woken:
    /// every waiter is woken at once, so there is nothing to pass on).
    pub(crate) fn withdraw_waiter(&self, id: u64) {
        self.lock().waiters.withdraw(id);
    }

    pub(crate) fn get_until(&self, deadline: Option<Instant>) -> Result<T, AsyncError> {
        loop {
            let st = self.lock();
            if let Some(v) = &st.value {
                return v.clone().map_err(AsyncError::Failed);
            }
            let Err(err) = wait(&self.inner, st, |s| &mut s.waiters, deadline, "AsyncResult::get")
            else {
                continue;
            };
            // Set just as the wait ended: the value wins.
            if let Some(v) = &self.lock().value {
                return v.clone().map_err(AsyncError::Failed);
            }
            return Err(AsyncError::Wait(err));
        }
    }

    /// Runs `f` with the result on this thread's hub, at its next loop turn after the result
    /// is set (at once on the next turn if it already is). `f` must not block.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use std::sync::Arc;
    /// let r = grove::sync::AsyncResult::new();
    /// let seen = Arc::new(AtomicBool::new(false));
    /// let s = seen.clone();
    /// r.set(1);
    /// r.on_ready(move |res| s.store(res.is_ok(), Ordering::SeqCst));
    /// grove::yield_now(); // the callback runs at the hub's next loop turn
    /// assert!(seen.load(Ordering::SeqCst));
    /// ```
    pub fn on_ready(&self, f: impl FnOnce(&Result<T, SharedError>) + Send + 'static) {
        let mut st = self.lock();
        if let Some(v) = st.value.clone() {
            drop(st);
            hub::add_callback(move || f(&v));
        } else {
            let remote = hub::with(|h| h.remote().clone());
            st.callbacks.push((remote, Box::new(f)));
        }
    }
}

/// Awaiting an `AsyncResult` from async code (any executor, any thread) yields the value or the
/// producer's error.
impl<T: Clone + Send + 'static> std::future::Future for AsyncResult<T> {
    type Output = Result<T, SharedError>;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        let mut st = self.lock();
        match &st.value {
            Some(v) => std::task::Poll::Ready(v.clone()),
            None => {
                if !st.wakers.iter().any(|w| w.will_wake(cx.waker())) {
                    st.wakers.push(cx.waker().clone());
                }
                std::task::Poll::Pending
            }
        }
    }
}
