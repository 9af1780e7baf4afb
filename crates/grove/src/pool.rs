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

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use crate::greenlet::fiber::FiberRef;
use crate::sync::{Event, Queue, Semaphore};
use crate::{hub, Builder, JoinError, JoinHandle};

/// A set of greenlets that can be waited for and killed together.
#[derive(Clone, Default)]
pub struct Group {
    inner: Rc<GroupInner>,
}

#[derive(Default)]
struct GroupInner {
    members: RefCell<Vec<FiberRef>>,
    running: Cell<usize>,
    empty: Event,
}

impl std::fmt::Debug for Group {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Group(running: {})", self.len())
    }
}

/// Removes a finished greenlet from its group, also when it was killed or panicked.
struct Membership {
    group: Rc<GroupInner>,
    permit: Option<crate::sync::SemaphorePermit>,
}

impl Drop for Membership {
    fn drop(&mut self) {
        let g = &self.group;
        g.running.set(g.running.get() - 1);
        let me = hub::current();
        g.members.borrow_mut().retain(|f| !f.same(&me));
        if g.running.get() == 0 {
            g.empty.set();
        }
        drop(self.permit.take());
    }
}

impl Group {
    /// An empty group.
    pub fn new() -> Group {
        Group::default()
    }

    /// Greenlets of the group still running (or not yet started).
    pub fn len(&self) -> usize {
        self.inner.running.get()
    }

    /// Whether no greenlet of the group is running.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Spawns `f` into the group.
    #[track_caller]
    pub fn spawn<T: 'static>(&self, f: impl FnOnce() -> T + 'static) -> JoinHandle<T> {
        self.spawn_with(Builder::new(), None, f)
    }

    #[track_caller]
    fn spawn_with<T: 'static>(
        &self,
        b: Builder,
        permit: Option<crate::sync::SemaphorePermit>,
        f: impl FnOnce() -> T + 'static,
    ) -> JoinHandle<T> {
        let g = &self.inner;
        g.running.set(g.running.get() + 1);
        g.empty.clear();
        let membership = Membership { group: g.clone(), permit };
        let h = b.spawn(move || {
            let _m = membership;
            f()
        });
        g.members.borrow_mut().push(h.fiber().clone());
        h
    }

    /// Waits until every greenlet of the group has finished. Returns `false` if the wait was
    /// cut short (a `timeout` scope, a deadlock of the main greenlet, unwinding).
    pub fn join(&self) -> bool {
        while !self.is_empty() {
            if !self.inner.empty.wait() {
                return self.is_empty();
            }
        }
        true
    }

    /// Waits at most `timeout`; returns whether the group is empty.
    pub fn join_timeout(&self, timeout: Duration) -> bool {
        crate::timeout(timeout, || self.join()).unwrap_or(false) || self.is_empty()
    }

    /// Kills every greenlet of the group and waits until they are gone.
    pub fn kill(&self) {
        let members: Vec<FiberRef> = self.inner.members.borrow().clone();
        hub::with(|h| {
            for f in &members {
                h.kill(f);
            }
        });
        self.join();
    }

    /// Runs `f` on every item concurrently and returns the results in input order.
    pub fn map<I, T, R>(&self, items: I, f: impl Fn(T) -> R + 'static) -> Vec<Result<R, JoinError>>
    where
        I: IntoIterator<Item = T>,
        T: 'static,
        R: 'static,
    {
        map_by(items, f, |job| self.spawn(job))
    }
}

/// Spawns `f(item)` for every item with `spawn` and joins them in input order.
fn map_by<I, T, R>(
    items: I,
    f: impl Fn(T) -> R + 'static,
    spawn: impl Fn(Box<dyn FnOnce() -> R>) -> JoinHandle<R>,
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
    crate::joinall(handles)
}

/// A [`Group`] that runs at most `size` greenlets at once: `spawn` waits for a free slot.
#[derive(Clone)]
pub struct Pool {
    group: Group,
    slots: Semaphore,
    size: usize,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pool(size: {}, running: {})", self.size, self.group.len())
    }
}

impl Pool {
    /// A pool of `size` slots.
    ///
    /// # Panics
    /// If `size` is 0.
    pub fn new(size: usize) -> Pool {
        assert!(size > 0, "grove: a Pool needs at least one slot");
        Pool { group: Group::new(), slots: Semaphore::new(size), size }
    }

    /// The pool's size.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Free slots right now.
    pub fn free_count(&self) -> usize {
        self.slots.available()
    }

    /// Waits until at least one slot is free.
    pub fn wait_available(&self) {
        drop(self.slots.acquire());
    }

    /// Waits for a free slot, then spawns `f` into it.
    ///
    /// # Panics
    /// As [`Semaphore::acquire`] (a deadlock of the main greenlet) and as [`crate::spawn`].
    #[track_caller]
    pub fn spawn<T: 'static>(&self, f: impl FnOnce() -> T + 'static) -> JoinHandle<T> {
        let permit = self.slots.acquire();
        self.group.spawn_with(Builder::new(), Some(permit), f)
    }

    /// Runs `f` on every item, at most `size` at a time; results in input order.
    pub fn map<I, T, R>(&self, items: I, f: impl Fn(T) -> R + 'static) -> Vec<Result<R, JoinError>>
    where
        I: IntoIterator<Item = T>,
        T: 'static,
        R: 'static,
    {
        map_by(items, f, |job| self.spawn(job))
    }

    /// Runs `f` on every item, at most `size` at a time, yielding results as they complete
    /// (gevent's `imap_unordered`). Items are fed lazily as slots free up.
    pub fn imap_unordered<I, T, R>(
        &self,
        items: I,
        f: impl Fn(T) -> R + 'static,
    ) -> impl Iterator<Item = Result<R, JoinError>>
    where
        I: IntoIterator<Item = T>,
        I::IntoIter: 'static,
        T: 'static,
        R: 'static,
    {
        let results: Queue<Result<R, JoinError>> = Queue::unbounded();
        let f = Rc::new(f);
        let (pool, out) = (self.clone(), results.clone());
        let mut items = items.into_iter();
        // A feeder greenlet spawns each item when a slot frees, and each worker pushes its
        // own result; the queue closes when everything is in.
        let feeder = crate::spawn(move || {
            let group = Group::new();
            for item in items.by_ref() {
                let (f, out) = (f.clone(), out.clone());
                let permit = pool.slots.acquire();
                let inner = group.clone();
                inner.spawn_with(Builder::new(), Some(permit), move || {
                    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(item)));
                    let _ = out.put(r.map_err(|p| {
                        if p.is::<crate::GreenletExit>() {
                            std::panic::resume_unwind(p)
                        }
                        JoinError::Panicked(p)
                    }));
                });
            }
            group.join();
            out.close();
        });
        ImapUnordered { results, _feeder: feeder }
    }

    /// Waits until every greenlet of the pool has finished.
    pub fn join(&self) -> bool {
        self.group.join()
    }

    /// Kills every greenlet of the pool and waits until they are gone.
    pub fn kill(&self) {
        self.group.kill()
    }

    /// Greenlets running in the pool.
    pub fn len(&self) -> usize {
        self.group.len()
    }

    /// Whether no greenlet is running in the pool.
    pub fn is_empty(&self) -> bool {
        self.group.is_empty()
    }
}

struct ImapUnordered<R> {
    results: Queue<Result<R, JoinError>>,
    _feeder: JoinHandle<()>,
}

impl<R> Iterator for ImapUnordered<R> {
    type Item = Result<R, JoinError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.results.get().ok()
    }
}
