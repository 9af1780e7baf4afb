//! Groups of greenlets (gevent's `Group` and `Pool`): spawn into a set, wait for all, kill
//! all, and with `Pool(size)` never run more than `size` at once.
//!
//! ```
//! use grove::pool::Pool;
//! use std::time::Duration;
//!
//! // Pool(2).map over three jobs: two run at a time, results come back in input order.
//! let pool = Pool::new(2);
//! let out = pool.map(["a", "bb", "ccc"], |s| {
//!     grove::sleep(Duration::from_millis(5));
//!     s.len()
//! });
//! assert_eq!(out.into_iter().map(Result::unwrap).collect::<Vec<_>>(), [1, 2, 3]);
//! ```

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;
use std::time::{Duration, Instant};

use slab::Slab;

use crate::hub::fiber::FiberRef;
use crate::sync::{Event, Queue, RecvError, Semaphore, SemaphorePermit, WaitError};
use crate::{hub, Builder, GreenletExit, JoinError, JoinHandle};

mod sized;
mod unordered;

pub use sized::Pool;
use unordered::{CloseOnDrop, Fed, ImapUnordered, Report};

/// A set of greenlets that can be waited for and killed together.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use grove::pool::Group;
/// let group = Group::new();
/// for i in 0..3 {
///     group.spawn(move || grove::sleep(Duration::from_millis(5 * i)));
/// }
/// assert_eq!(group.len(), 3);
/// group.join().unwrap();
/// assert!(group.is_empty());
/// ```
#[derive(Clone, Default)]
pub struct Group {
    inner: Rc<GroupInner>,
}

#[derive(Default)]
struct GroupInner {
    /// Live members, keyed so that each can remove itself, whoever drops its membership.
    members: RefCell<Slab<FiberRef>>,
    /// A deadline every member inherits (see [`Group::scope_deadline`]).
    deadline: Cell<Option<Instant>>,
    running: Cell<usize>,
    empty: Event,
}

impl std::fmt::Debug for Group {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Group(running: {})", self.len())
    }
}

/// A greenlet's place in a group, released when its closure is dropped: when the greenlet
/// finishes, is killed, panics — or is killed before it ever ran, in which case the drop
/// happens in the killer's context (so the member is named by its key, not by "current").
struct Membership {
    group: Rc<GroupInner>,
    key: usize,
    permit: Option<SemaphorePermit>,
}

impl Membership {
    /// Reserves a place; the member is recorded with [`Membership::record`] once spawned.
    fn enter(group: &Rc<GroupInner>, permit: Option<SemaphorePermit>) -> Membership {
        let key = group.members.borrow().vacant_key();
        group.running.set(group.running.get() + 1);
        group.empty.clear();
        Membership { group: group.clone(), key, permit }
    }

    fn record(group: &GroupInner, key: usize, fiber: &FiberRef) {
        let k = group.members.borrow_mut().insert(fiber.clone());
        debug_assert_eq!(k, key, "grove: group slot taken between reserve and spawn");
    }
}

impl Drop for Membership {
    fn drop(&mut self) {
        let g = &self.group;
        g.running.set(g.running.get() - 1);
        g.members.borrow_mut().try_remove(self.key);
        if g.running.get() == 0 {
            g.empty.set();
        }
        drop(self.permit.take());
    }
}

impl Group {
    /// An empty group.
    ///
    /// # Examples
    ///
    /// ```
    /// let group = grove::pool::Group::new();
    /// assert!(group.is_empty());
    /// ```
    pub fn new() -> Group {
        Group::default()
    }

    /// Greenlets of the group still running (or not yet started).
    ///
    /// # Examples
    ///
    /// ```
    /// let group = grove::pool::Group::new();
    /// let h = group.spawn(|| ());
    /// assert_eq!(group.len(), 1);
    /// h.join().unwrap();
    /// assert_eq!(group.len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.inner.running.get()
    }

    /// Whether no greenlet of the group is running.
    ///
    /// # Examples
    ///
    /// ```
    /// let group = grove::pool::Group::new();
    /// group.spawn(|| ());
    /// assert!(!group.is_empty());
    /// group.join().unwrap();
    /// assert!(group.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Structured concurrency: runs `f` with a new group, and when `f` returns — or unwinds
    /// (a panic, a kill, an expired scope) — kills whatever it spawned into the group that is
    /// still running and waits for it (tokio's `JoinSet` on drop, Go's errgroup; gevent's
    /// `Group` with a `finally: group.kill()`). Nothing spawned in the scope outlives it.
    ///
    /// ```
    /// use std::time::Duration;
    /// let fast = grove::pool::Group::scope(|g| {
    ///     let fast = g.spawn(|| 1);
    ///     g.spawn(|| grove::sleep(Duration::from_secs(3600))); // killed when the scope ends
    ///     fast.join().unwrap()
    /// });
    /// assert_eq!(fast, 1);
    /// ```
    pub fn scope<R>(f: impl FnOnce(&Group) -> R) -> R {
        let group = Group::new();
        let _kill_rest = KillOnExit(&group);
        f(&group)
    }

    /// [`scope`](Self::scope) with a deadline that everything in it inherits (Go's context
    /// deadline): `f` runs inside [`timeout_at`](crate::timeout_at)`(deadline)`, and every
    /// greenlet spawned into the group is killed when the deadline passes (its `join` says
    /// [`JoinError::Killed`]).
    ///
    /// # Errors
    /// [`Elapsed`](crate::Elapsed) when the deadline cut `f` short.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use grove::pool::Group;
    /// let deadline = Instant::now() + Duration::from_millis(20);
    /// let r = Group::scope_deadline(deadline, |g| {
    ///     let slow = g.spawn(|| grove::sleep(Duration::from_secs(10)));
    ///     slow.join() // cut short by the deadline
    /// });
    /// assert!(r.is_err());
    /// ```
    pub fn scope_deadline<R>(
        deadline: Instant,
        f: impl FnOnce(&Group) -> R,
    ) -> Result<R, crate::Elapsed> {
        let group = Group::new();
        group.inner.deadline.set(Some(deadline));
        let _kill_rest = KillOnExit(&group);
        crate::timeout_at(deadline, || f(&group))
    }

    /// Spawns `f` into the group.
    ///
    /// # Examples
    ///
    /// ```
    /// let group = grove::pool::Group::new();
    /// let h = group.spawn(|| "member");
    /// assert_eq!(h.join().unwrap(), "member");
    /// ```
    #[track_caller]
    pub fn spawn<T: 'static>(&self, f: impl FnOnce() -> T + 'static) -> JoinHandle<T> {
        self.spawn_with(None, None, f)
    }

    /// Spawns `f` into this group (and into `also`, when given), holding `permit` until it
    /// ends.
    #[track_caller]
    fn spawn_with<T: 'static>(
        &self,
        also: Option<&Group>,
        permit: Option<SemaphorePermit>,
        f: impl FnOnce() -> T + 'static,
    ) -> JoinHandle<T> {
        let mine = Membership::enter(&self.inner, permit);
        let other = also.map(|g| Membership::enter(&g.inner, None));
        let keys = (mine.key, other.as_ref().map(|m| m.key));
        let deadline = self.inner.deadline.get();
        let h = Builder::new().spawn(move || {
            let _m = (mine, other);
            match deadline {
                None => f(),
                // The group's deadline passing ends the member as a kill would.
                Some(d) => crate::timeout_at(d, f)
                    .unwrap_or_else(|_| panic::resume_unwind(Box::new(GreenletExit))),
            }
        });
        Membership::record(&self.inner, keys.0, h.fiber());
        if let (Some(g), Some(k)) = (also, keys.1) {
            Membership::record(&g.inner, k, h.fiber());
        }
        h
    }

    /// Waits until every greenlet of the group has finished. Inside an expiring `timeout`
    /// scope it unwinds to the scope.
    ///
    /// # Errors
    /// [`WaitError::Deadlock`] on the main greenlet when nothing can ever finish them;
    /// [`WaitError::Interrupted`] when the caller is unwinding.
    ///
    /// # Examples
    ///
    /// ```
    /// let group = grove::pool::Group::new();
    /// let hs: Vec<_> = (0..3).map(|i| group.spawn(move || i)).collect();
    /// group.join().unwrap();
    /// assert!(hs.iter().all(|h| h.is_finished()));
    /// ```
    pub fn join(&self) -> Result<(), WaitError> {
        self.join_until(None)
    }

    /// Like [`join`](Self::join), giving up after `timeout` ([`WaitError::TimedOut`]).
    ///
    /// # Errors
    /// As [`join`](Self::join).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use grove::WaitError;
    /// let group = grove::pool::Group::new();
    /// group.spawn(|| grove::sleep(Duration::from_secs(10)));
    /// assert_eq!(group.join_timeout(Duration::from_millis(5)), Err(WaitError::TimedOut));
    /// group.kill().unwrap();
    /// ```
    pub fn join_timeout(&self, timeout: Duration) -> Result<(), WaitError> {
        self.join_until(crate::time::deadline_after(timeout))
    }

    /// Like [`join`](Self::join), giving up at `deadline`.
    ///
    /// # Errors
    /// As [`join`](Self::join).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let group = grove::pool::Group::new();
    /// group.spawn(|| grove::sleep(Duration::from_millis(1)));
    /// group.join_deadline(Instant::now() + Duration::from_secs(5)).unwrap();
    /// ```
    pub fn join_deadline(&self, deadline: Instant) -> Result<(), WaitError> {
        self.join_until(Some(deadline))
    }

    fn join_until(&self, deadline: Option<Instant>) -> Result<(), WaitError> {
        while !self.is_empty() {
            let r = self.inner.empty.wait_until(deadline);
            if let Err(e) = r {
                return if self.is_empty() { Ok(()) } else { Err(e) };
            }
        }
        Ok(())
    }

    /// Kills every greenlet of the group and waits until they are gone. A member calling
    /// this kills the others first, then itself (it unwinds from here).
    ///
    /// # Errors
    /// As [`join`](Self::join): the kills are requested either way.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let group = grove::pool::Group::new();
    /// let h = group.spawn(|| grove::sleep(Duration::from_secs(60)));
    /// group.kill().unwrap();
    /// assert!(group.is_empty());
    /// assert!(h.join().unwrap_err().is_killed());
    /// ```
    pub fn kill(&self) -> Result<(), WaitError> {
        let members: Vec<FiberRef> =
            self.inner.members.borrow().iter().map(|(_, f)| f.clone()).collect();
        let me = hub::current();
        hub::with(|h| {
            for f in members.iter().filter(|f| !f.same(&me)) {
                h.kill(f);
            }
            if members.iter().any(|f| f.same(&me)) {
                h.kill(&me);
            }
        });
        self.join()
    }

    /// Runs `f` on every item concurrently and returns the results in input order.
    ///
    /// # Examples
    ///
    /// ```
    /// let group = grove::pool::Group::new();
    /// let lens: Vec<usize> = group
    ///     .map(["a", "bb", "ccc"], |s: &str| s.len())
    ///     .into_iter()
    ///     .map(Result::unwrap)
    ///     .collect();
    /// assert_eq!(lens, [1, 2, 3]);
    /// ```
    pub fn map<I, T, R>(&self, items: I, f: impl Fn(T) -> R + 'static) -> Vec<Result<R, JoinError>>
    where
        I: IntoIterator<Item = T>,
        T: 'static,
        R: 'static,
    {
        map_by(items, f, |job| Ok(self.spawn(job)))
    }
}

/// Kills what is left of a scope's group when the scope ends, however it ends.
struct KillOnExit<'a>(&'a Group);

impl Drop for KillOnExit<'_> {
    fn drop(&mut self) {
        // While unwinding the wait for the deaths returns at once; the kills still happen.
        let _ = self.0.kill();
    }
}

/// Spawns `f(item)` for every item with `spawn` and joins them in input order. An item whose
/// spawn could not wait (for a pool slot) gets that wait's error.
fn map_by<I, T, R>(
    items: I,
    f: impl Fn(T) -> R + 'static,
    spawn: impl Fn(Box<dyn FnOnce() -> R>) -> Result<JoinHandle<R>, WaitError>,
) -> Vec<Result<R, JoinError>>
where
    I: IntoIterator<Item = T>,
    T: 'static,
    R: 'static,
{
    let f = Rc::new(f);
    let handles: Vec<_> = items
        .into_iter()
        .map(|item| {
            let f = f.clone();
            spawn(Box::new(move || f(item)))
        })
        .collect();
    handles.into_iter().map(|h| h.map_err(JoinError::from).and_then(JoinHandle::join)).collect()
}
