use std::cell::Cell;
use std::fmt;
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::waitlist::WaitList;
use crate::hub::WaitError;

/// A counting semaphore with FIFO hand-off (gevent's `Semaphore`): a released permit goes to
/// the longest waiter, never to a greenlet that arrives later. Cloning gives another handle.
/// Hub-local: not `Send`.
///
/// # Examples
///
/// ```
/// use grove::sync::Semaphore;
/// // At most two "downloads" at a time.
/// let sem = Semaphore::new(2);
/// let hs: Vec<_> = (0..5)
///     .map(|_| {
///         let s = sem.clone();
///         grove::spawn(move || {
///             let _permit = s.acquire().unwrap(); // released when dropped
///             grove::sleep(std::time::Duration::from_millis(5));
///         })
///     })
///     .collect();
/// grove::joinall(hs);
/// assert_eq!(sem.available(), 2);
/// ```
#[derive(Clone)]
pub struct Semaphore {
    inner: Rc<SemInner>,
}

struct SemInner {
    permits: Cell<usize>,
    /// Permits handed to woken waiters that have not picked them up yet.
    reserved: Cell<usize>,
    /// For BoundedSemaphore: releasing past this is an error.
    bound: Option<usize>,
    waiters: WaitList,
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Semaphore(available: {}, waiting: {})", self.available(), self.waiting())
    }
}

impl Semaphore {
    /// A semaphore with `permits` permits.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = grove::sync::Semaphore::new(3);
    /// assert_eq!(sem.available(), 3);
    /// ```
    pub fn new(permits: usize) -> Semaphore {
        Semaphore::make(permits, None)
    }

    fn make(permits: usize, bound: Option<usize>) -> Semaphore {
        Semaphore {
            inner: Rc::new(SemInner {
                permits: Cell::new(permits),
                reserved: Cell::new(0),
                bound,
                waiters: WaitList::new(),
            }),
        }
    }

    /// Permits free right now (not counting ones promised to woken waiters).
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = grove::sync::Semaphore::new(2);
    /// let _p = sem.acquire().unwrap();
    /// assert_eq!(sem.available(), 1);
    /// ```
    pub fn available(&self) -> usize {
        self.inner.permits.get()
    }

    /// Greenlets waiting for a permit.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = grove::sync::Semaphore::new(0);
    /// let s = sem.clone();
    /// let _h = grove::spawn(move || s.acquire().map(|_| ()));
    /// grove::yield_now(); // the greenlet queues for a permit
    /// assert_eq!(sem.waiting(), 1);
    /// ```
    pub fn waiting(&self) -> usize {
        self.inner.waiters.len()
    }

    /// Takes a permit if one is free and nobody is queued before us.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = grove::sync::Semaphore::new(1);
    /// let p = sem.try_acquire().expect("a permit is free");
    /// assert!(sem.try_acquire().is_none());
    /// drop(p);
    /// assert!(sem.try_acquire().is_some());
    /// ```
    pub fn try_acquire(&self) -> Option<SemaphorePermit> {
        let i = &self.inner;
        // Permits reserved for woken waiters are not in `permits`: a free one can be taken as
        // long as nobody queues before us.
        if i.permits.get() > 0 && i.waiters.is_empty() {
            i.permits.set(i.permits.get() - 1);
            return Some(SemaphorePermit { sem: Some(self.clone()) });
        }
        None
    }

    /// Waits for a permit (FIFO: a released permit goes to the longest waiter). Inside an
    /// expiring `timeout` scope it unwinds to the scope.
    ///
    /// # Errors
    /// [`WaitError::Deadlock`] when the main greenlet waits and no other greenlet can ever
    /// release; [`WaitError::Interrupted`] when the caller is unwinding.
    ///
    /// # Examples
    ///
    /// ```
    /// use grove::sync::{Semaphore, WaitError};
    /// let sem = Semaphore::new(1);
    /// let permit = sem.acquire().unwrap();
    /// // Nobody else can release, so the main greenlet's second acquire cannot succeed:
    /// assert_eq!(sem.acquire().unwrap_err(), WaitError::Deadlock);
    /// drop(permit);
    /// ```
    pub fn acquire(&self) -> Result<SemaphorePermit, WaitError> {
        self.acquire_until(None)
    }

    /// Like [`acquire`](Self::acquire), giving up after `timeout`.
    ///
    /// # Errors
    /// [`WaitError::TimedOut`], or as [`acquire`](Self::acquire).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use grove::sync::{Semaphore, WaitError};
    /// let sem = Semaphore::new(1);
    /// let _held = sem.acquire().unwrap();
    /// let r = sem.acquire_timeout(Duration::from_millis(5));
    /// assert_eq!(r.unwrap_err(), WaitError::TimedOut);
    /// ```
    pub fn acquire_timeout(&self, timeout: Duration) -> Result<SemaphorePermit, WaitError> {
        self.acquire_until(crate::time::deadline_after(timeout))
    }

    /// Like [`acquire`](Self::acquire), giving up at `deadline`.
    ///
    /// # Errors
    /// [`WaitError::TimedOut`], or as [`acquire`](Self::acquire).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let sem = grove::sync::Semaphore::new(1);
    /// let permit = sem.acquire_deadline(Instant::now() + Duration::from_millis(5)).unwrap();
    /// drop(permit);
    /// ```
    pub fn acquire_deadline(&self, deadline: Instant) -> Result<SemaphorePermit, WaitError> {
        self.acquire_until(Some(deadline))
    }

    fn acquire_until(&self, deadline: Option<Instant>) -> Result<SemaphorePermit, WaitError> {
        if let Some(p) = self.try_acquire() {
            return Ok(p);
        }
        self.wait_for_grant(deadline)?;
        Ok(SemaphorePermit { sem: Some(self.clone()) })
    }

    /// Queues until a releaser hands this greenlet a permit.
    fn wait_for_grant(&self, deadline: Option<Instant>) -> Result<(), WaitError> {
        let i = &self.inner;
        loop {
            // A grant is a reserved permit plus a notification; if the notified waiter leaves
            // without it (timeout, kill, scope expiry), the wait list forwards the notification
            // and the reservation stays for the next waiter.
            let unclaimed = || {
                // Woken with a reserved permit but leaving without it, with nobody to pass it
                // to: the permit becomes free again.
                if i.reserved.get() > 0 {
                    i.reserved.set(i.reserved.get() - 1);
                    self.add_permit();
                }
            };
            i.waiters.wait_or(deadline, "Semaphore::acquire", &unclaimed)?;
            if i.reserved.get() > 0 {
                i.reserved.set(i.reserved.get() - 1);
                return Ok(());
            }
        }
    }

    /// Returns a permit: handed straight to the longest waiter if there is one.
    ///
    /// # Panics
    /// For a [`BoundedSemaphore`] released more times than acquired.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = grove::sync::Semaphore::new(1);
    /// sem.acquire().unwrap().forget(); // keep the permit past the guard
    /// assert_eq!(sem.available(), 0);
    /// sem.release();
    /// assert_eq!(sem.available(), 1);
    /// ```
    pub fn release(&self) {
        let i = &self.inner;
        if i.waiters.notify_one() {
            i.reserved.set(i.reserved.get() + 1);
        } else {
            self.add_permit();
        }
    }

    fn add_permit(&self) {
        let i = &self.inner;
        let n = i.permits.get() + 1;
        if let Some(b) = i.bound {
            assert!(n + i.reserved.get() <= b, "grove: BoundedSemaphore released too many times");
        }
        i.permits.set(n);
    }

    /// For `select`: its waiters' list.
    pub(crate) fn wait_list(&self) -> &WaitList {
        &self.inner.waiters
    }

    /// For `select`: a `release` handed this park (woken by this list's notification) a
    /// reserved permit; it becomes the caller's. `None` if there is none (cannot happen while
    /// wakeups are never stale; a permit is never made up).
    pub(crate) fn claim_reserved(&self) -> Option<SemaphorePermit> {
        let i = &self.inner;
        debug_assert!(i.reserved.get() > 0, "grove: no reserved permit to claim");
        let r = i.reserved.get().checked_sub(1)?;
        i.reserved.set(r);
        Some(SemaphorePermit { sem: Some(self.clone()) })
    }

    /// Adds `n` permits (as `n` releases).
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = grove::sync::Semaphore::new(0);
    /// sem.add_permits(2);
    /// assert_eq!(sem.available(), 2);
    /// ```
    pub fn add_permits(&self, n: usize) {
        for _ in 0..n {
            self.release();
        }
    }
}

/// A permit; released when dropped (or kept with [`forget`](SemaphorePermit::forget)).
///
/// # Examples
///
/// ```
/// let sem = grove::sync::Semaphore::new(1);
/// {
///     let _permit = sem.acquire().unwrap();
///     assert_eq!(sem.available(), 0);
/// } // dropped: released
/// assert_eq!(sem.available(), 1);
/// ```
#[must_use = "the permit is released when dropped"]
pub struct SemaphorePermit {
    /// `None` once forgotten.
    sem: Option<Semaphore>,
}

impl fmt::Debug for SemaphorePermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SemaphorePermit")
    }
}

impl SemaphorePermit {
    /// Keeps the permit taken (release it later with [`Semaphore::release`]). Only the permit
    /// stays out: the handle to the semaphore is dropped, not leaked.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = grove::sync::Semaphore::new(1);
    /// sem.acquire().unwrap().forget();
    /// assert_eq!(sem.available(), 0); // still taken
    /// sem.release();
    /// ```
    pub fn forget(mut self) {
        self.sem = None;
    }
}

impl Drop for SemaphorePermit {
    fn drop(&mut self) {
        if let Some(sem) = self.sem.take() {
            sem.release();
        }
    }
}

/// A semaphore that panics when released more times than acquired (gevent's
/// `BoundedSemaphore`).
///
/// # Examples
///
/// ```
/// use std::panic::AssertUnwindSafe;
/// use grove::sync::BoundedSemaphore;
/// let sem = BoundedSemaphore::new(1);
/// let p = sem.acquire().unwrap(); // all `Semaphore` methods, through `Deref`
/// drop(p);
/// let r = std::panic::catch_unwind(AssertUnwindSafe(|| sem.release())); // one too many
/// assert!(r.is_err());
/// ```
#[derive(Clone, Debug)]
pub struct BoundedSemaphore(Semaphore);

impl BoundedSemaphore {
    /// A bounded semaphore with `permits` permits (also its ceiling).
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = grove::sync::BoundedSemaphore::new(2);
    /// assert_eq!(sem.available(), 2);
    /// ```
    pub fn new(permits: usize) -> BoundedSemaphore {
        BoundedSemaphore(Semaphore::make(permits, Some(permits)))
    }
}

impl std::ops::Deref for BoundedSemaphore {
    type Target = Semaphore;
    fn deref(&self) -> &Semaphore {
        &self.0
    }
}

/// A greenlet mutex owning its data (a `Semaphore(1)` with a guard), FIFO like the semaphore.
/// Holding the guard across blocking calls is fine: other greenlets wait their turn. Cloning
/// gives another handle to the same lock. Hub-local: not `Send`.
///
/// ```
/// use grove::sync::Lock;
/// let lock = Lock::new(Vec::new());
/// let hs: Vec<_> = (0..3)
///     .map(|i| {
///         let l = lock.clone();
///         grove::spawn(move || {
///             let mut g = l.lock().unwrap();
///             grove::yield_now(); // others queue up meanwhile
///             g.push(i);
///         })
///     })
///     .collect();
/// grove::joinall(hs);
/// assert_eq!(*lock.lock().unwrap(), [0, 1, 2]);
/// ```
pub struct Lock<T> {
    sem: Semaphore,
    data: Rc<std::cell::RefCell<T>>,
}

impl<T> Clone for Lock<T> {
    fn clone(&self) -> Self {
        Lock { sem: self.sem.clone(), data: self.data.clone() }
    }
}

impl<T> fmt::Debug for Lock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Lock(locked: {})", self.is_locked())
    }
}

impl<T> Lock<T> {
    /// A new, unlocked lock around `value`.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = grove::sync::Lock::new(0);
    /// *lock.lock().unwrap() += 1;
    /// assert_eq!(*lock.lock().unwrap(), 1);
    /// ```
    pub fn new(value: T) -> Lock<T> {
        Lock { sem: Semaphore::new(1), data: Rc::new(std::cell::RefCell::new(value)) }
    }

    /// Whether some greenlet holds the lock.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = grove::sync::Lock::new(());
    /// let g = lock.lock().unwrap();
    /// assert!(lock.is_locked());
    /// drop(g);
    /// assert!(!lock.is_locked());
    /// ```
    pub fn is_locked(&self) -> bool {
        self.sem.available() == 0
    }

    /// Waits for the lock (FIFO). Inside an expiring `timeout` scope it unwinds to the scope.
    ///
    /// # Errors
    /// As [`Semaphore::acquire`]: [`WaitError::Deadlock`] on the main greenlet when nobody can
    /// ever unlock, [`WaitError::Interrupted`] when the caller is unwinding.
    ///
    /// # Examples
    ///
    /// ```
    /// use grove::sync::{Lock, WaitError};
    /// let lock = Lock::new(String::new());
    /// let mut g = lock.lock().unwrap();
    /// g.push_str("mine");
    /// // The main greenlet holds it and nobody else can unlock: a second lock fails.
    /// assert_eq!(lock.lock().unwrap_err(), WaitError::Deadlock);
    /// ```
    pub fn lock(&self) -> Result<LockGuard<'_, T>, WaitError> {
        self.sem.acquire().map(|p| self.guard(p))
    }

    /// Like [`lock`](Self::lock), giving up after `timeout`.
    ///
    /// # Errors
    /// [`WaitError::TimedOut`], or as [`lock`](Self::lock).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use grove::sync::{Lock, WaitError};
    /// let lock = Lock::new(0);
    /// let _g = lock.lock().unwrap();
    /// let r = lock.lock_timeout(Duration::from_millis(5));
    /// assert_eq!(r.unwrap_err(), WaitError::TimedOut);
    /// ```
    pub fn lock_timeout(&self, timeout: Duration) -> Result<LockGuard<'_, T>, WaitError> {
        self.sem.acquire_timeout(timeout).map(|p| self.guard(p))
    }

    /// Like [`lock`](Self::lock), giving up at `deadline`.
    ///
    /// # Errors
    /// [`WaitError::TimedOut`], or as [`lock`](Self::lock).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let lock = grove::sync::Lock::new(1);
    /// let g = lock.lock_deadline(Instant::now() + Duration::from_millis(5)).unwrap();
    /// assert_eq!(*g, 1);
    /// ```
    pub fn lock_deadline(&self, deadline: Instant) -> Result<LockGuard<'_, T>, WaitError> {
        self.sem.acquire_deadline(deadline).map(|p| self.guard(p))
    }

    /// Takes the lock if it is free and nobody waits for it.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = grove::sync::Lock::new(5);
    /// let g = lock.try_lock().unwrap();
    /// assert!(lock.try_lock().is_none());
    /// drop(g);
    /// ```
    pub fn try_lock(&self) -> Option<LockGuard<'_, T>> {
        self.sem.try_acquire().map(|p| self.guard(p))
    }

    fn guard(&self, permit: SemaphorePermit) -> LockGuard<'_, T> {
        LockGuard { data: self.data.borrow_mut(), _permit: permit }
    }
}

/// Access to a [`Lock`]'s data; unlocks when dropped.
///
/// # Examples
///
/// ```
/// let lock = grove::sync::Lock::new(vec![1]);
/// {
///     let mut guard = lock.lock().unwrap(); // derefs to the data
///     guard.push(2);
/// } // unlocked here
/// assert_eq!(*lock.lock().unwrap(), [1, 2]);
/// ```
pub struct LockGuard<'a, T> {
    // Field order: the borrow ends before the permit goes to the next greenlet.
    data: std::cell::RefMut<'a, T>,
    _permit: SemaphorePermit,
}

impl<T: fmt::Debug> fmt::Debug for LockGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (*self.data).fmt(f)
    }
}

impl<T> std::ops::Deref for LockGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.data
    }
}

impl<T> std::ops::DerefMut for LockGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.data
    }
}
