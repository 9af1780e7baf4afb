//! The cross-thread event.

#[allow(clippy::wildcard_imports)] // a split of the parent module: same names
use super::*;

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
