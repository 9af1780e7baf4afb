//! Primitives shared between hubs (threads): [`Queue`] and [`Event`]. `Send + Sync`; waits
//! are cooperative on every side (a greenlet parks on its own hub; a plain thread's main
//! greenlet waits in its own hub). They cost a mutex per operation, so prefer the hub-local
//! primitives of [`sync`](crate::sync) inside one hub.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::queue::{get_loop, put_loop, Items};
use super::{Fifo, RecvError, SendError, Store, TryRecvError, TrySendError};
use crate::hub::{self, RemoteToken, WaitError};

mod event;
mod queue;

pub use event::Event;
pub use queue::Queue;

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
