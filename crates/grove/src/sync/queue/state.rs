//! One queue, two faces. The hub-local [`Queue`](super::Queue) and the cross-thread
//! [`mt::Queue`](crate::sync::mt::Queue) hold the same state ([`Items`]: a store, a bound, a
//! closed flag) and block by the same loops ([`put_loop`], [`get_loop`]). They differ only in
//! their policies: the local face keeps the state in a `RefCell` and parks on
//! [`WaitList`](crate::sync::waitlist::WaitList)s (one hub, no locks); the cross-thread face
//! keeps it behind a `Mutex` and parks on [`Waiters`](crate::sync::mt::Waiters) whose tokens
//! wake any hub. (async-executor's `LocalExecutor` is `Executor` plus `!Send` the same way.)

use std::cell::Cell;
use std::marker::PhantomData;
use std::panic::{self, AssertUnwindSafe};

use super::{RecvError, SendError, Store, TryRecvError, TrySendError};
use crate::hub::WaitError;

/// A queue's items and the rules every face applies to them.
pub(crate) struct Items<T, S> {
    store: S,
    capacity: Option<usize>,
    /// A `Cell`: the local face closes through a shared borrow (from a `peek` closure too).
    closed: Cell<bool>,
    _t: PhantomData<T>,
}

impl<T, S: Store<T>> Items<T, S> {
    /// An empty, open queue state; `capacity` must not be `Some(0)`.
    pub(crate) fn new(capacity: Option<usize>) -> Self {
        assert_ne!(
            capacity,
            Some(0),
            "grove: a queue needs a capacity of at least 1 (a rendezvous between greenlets of \
             one hub is sync::Channel)"
        );
        Items { store: S::default(), capacity, closed: Cell::new(false), _t: PhantomData }
    }

    pub(crate) fn len(&self) -> usize {
        self.store.len()
    }

    pub(crate) fn capacity(&self) -> Option<usize> {
        self.capacity
    }

    pub(crate) fn is_full(&self) -> bool {
        self.capacity.is_some_and(|c| self.store.len() >= c)
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.get()
    }

    pub(crate) fn close(&self) {
        self.closed.set(true);
    }

    pub(crate) fn peek(&self) -> Option<&T> {
        self.store.peek()
    }

    /// Whether a put would not wait: room, or closed (it fails at once).
    pub(crate) fn put_would_proceed(&self) -> bool {
        self.is_closed() || !self.is_full()
    }

    /// Whether a get would not wait: an item, or closed and drained (it fails at once).
    pub(crate) fn get_would_proceed(&self) -> bool {
        self.is_closed() || self.store.len() > 0
    }

    /// The rule of every `try_put`: a closed queue refuses (that comes first), a full one says
    /// `Full`; otherwise the item is stored.
    pub(crate) fn try_push(&mut self, item: T) -> Result<(), TrySendError<T>> {
        if self.is_closed() {
            return Err(TrySendError::Closed(item));
        }
        if self.is_full() {
            return Err(TrySendError::Full(item));
        }
        self.store.push(item);
        Ok(())
    }

    /// `try_push` where the store's `push` (or the item's `Ord`) may panic: if it unwinds
    /// having kept the item (`BinaryHeap` keeps it), `kept` runs before the panic goes on, so
    /// the face counts the item and wakes a getter as for any stored item — no getter sleeps
    /// beside a queued item, and `task_done` finds it counted.
    #[inline]
    pub(crate) fn try_push_or(
        &mut self,
        item: T,
        kept: impl FnOnce(),
    ) -> Result<(), TrySendError<T>> {
        if !S::PUSH_MAY_PANIC {
            return self.try_push(item);
        }
        let before = self.store.len();
        match panic::catch_unwind(AssertUnwindSafe(|| self.try_push(item))) {
            Ok(r) => r,
            Err(p) => {
                if self.store.len() > before {
                    kept();
                }
                panic::resume_unwind(p)
            }
        }
    }

    /// The rule of every `try_get`: the next item; `Empty`, or `Closed` once closed and
    /// drained (a closed queue still hands out what it holds).
    pub(crate) fn try_pop(&mut self) -> Result<T, TryRecvError> {
        match self.store.pop() {
            Some(t) => Ok(t),
            None if self.is_closed() => Err(TryRecvError::Closed),
            None => Err(TryRecvError::Empty),
        }
    }
}

/// The put side of every queue face: `try_put` first; while full, `wait` for room, then
/// `put_woken` (a face may let a woken putter skip the line it was woken from). A failed wait
/// hands the item back.
///
/// The first try is matched apart from the loop on purpose: a put that does not wait (the
/// common case) then runs straight through; folding both into one loop costs 13 more
/// instructions per put-and-get handoff (callgrind, `pingpong`).
pub(crate) fn put_loop<T>(
    item: T,
    try_put: impl FnOnce(T) -> Result<(), TrySendError<T>>,
    mut wait: impl FnMut() -> Result<(), WaitError>,
    mut put_woken: impl FnMut(T) -> Result<(), TrySendError<T>>,
) -> Result<(), SendError<T>> {
    let mut item = match try_put(item) {
        Ok(()) => return Ok(()),
        Err(TrySendError::Closed(t)) => return Err(SendError::Closed(t)),
        Err(TrySendError::Full(t)) => t,
    };
    loop {
        if let Err(e) = wait() {
            return Err(SendError::Wait(e, item));
        }
        item = match put_woken(item) {
            Ok(()) => return Ok(()),
            Err(TrySendError::Closed(t)) => return Err(SendError::Closed(t)),
            Err(TrySendError::Full(t)) => t,
        };
    }
}

/// The get side of every queue face (and of `Channel`): `try_get`, waiting while empty.
pub(crate) fn get_loop<T>(
    mut try_get: impl FnMut() -> Result<T, TryRecvError>,
    mut wait: impl FnMut() -> Result<(), WaitError>,
) -> Result<T, RecvError> {
    loop {
        match try_get() {
            Ok(t) => return Ok(t),
            Err(TryRecvError::Closed) => return Err(RecvError::Closed),
            Err(TryRecvError::Empty) => {}
        }
        wait()?;
    }
}
