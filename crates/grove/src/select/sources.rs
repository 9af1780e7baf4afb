//! The operations a `Select` waits on, each over its primitive's wait list.

use std::cell::{Cell, RefCell};
use std::os::fd::{AsRawFd, BorrowedFd};

use crate::hub::Token;
use crate::io::{Direction, FdWatch};
use crate::sync::{AsyncResult, Event, Queue, Semaphore, SemaphorePermit, Store, WaitList};
use crate::JoinHandle;

/// One thing a [`Select`] can wait for.
pub(super) trait Source {
    /// Whether the operation would not block now (an `acquire` takes its permit then).
    fn ready(&self) -> bool;
    /// Queues `tok` where the operation's waiters wait; `false` if it became ready meanwhile
    /// (a result set from another thread), so the select must not park.
    fn register(&self, tok: &Token) -> bool;
    /// Takes `tok` back; `false` if a notifier had already popped it.
    fn withdraw(&self, tok: &Token) -> bool;
    /// The wait list whose notifications this operation's waiters get, if it hands out
    /// notifications one at a time (see `Token::notified_by`).
    fn list_id(&self) -> Option<u32> {
        None
    }
    /// That list spent a notification on the select's park.
    fn notified(&self) {}
    /// The select reports this operation: what it was handed is the caller's now.
    fn used(&self) {}
    /// The select leaves without this operation: give back what it was handed (pass the
    /// notification on to the next waiter, release a permit).
    fn give_back(&self) {}
    /// Waits on fd readiness (the hub must not call the wait a deadlock).
    fn is_io(&self) -> bool {
        false
    }
    /// The permit an `acquire` holds.
    fn take_permit(&self) -> Option<SemaphorePermit> {
        None
    }
}

/// An operation whose waiters wait in a hub-local [`WaitList`].
pub(super) struct List<'a> {
    ready: Box<dyn Fn() -> bool + 'a>,
    list: &'a WaitList,
    /// A notification from `list` this select holds.
    owed: Cell<bool>,
}

impl<'a> List<'a> {
    pub(super) fn new(list: &'a WaitList, ready: impl Fn() -> bool + 'a) -> List<'a> {
        List { ready: Box::new(ready), list, owed: Cell::new(false) }
    }
}

impl Source for List<'_> {
    fn ready(&self) -> bool {
        (self.ready)()
    }
    fn register(&self, tok: &Token) -> bool {
        self.list.register(tok.clone());
        true
    }
    fn withdraw(&self, tok: &Token) -> bool {
        self.list.withdraw(tok)
    }
    fn list_id(&self) -> Option<u32> {
        Some(self.list.id())
    }
    fn notified(&self) {
        self.owed.set(true);
    }
    fn used(&self) {
        self.owed.set(false);
    }
    fn give_back(&self) {
        if self.owed.replace(false) {
            self.list.notify_one();
        }
    }
}

/// Room in a bounded queue: ready when `try_put` would not say `Full`. A select notified as
/// the head of the putters' line is granted the put (queued putters behind it do not stop its
/// `try_put`); a grant it reports but nobody uses is revoked, and the room handed on, when the
/// select waits again or is dropped.
pub(super) struct SendOp<'a, T, S: Store<T>> {
    pub(super) q: &'a Queue<T, S>,
    pub(super) owed: Cell<bool>,
    /// The queue's push count when the grant was made.
    pub(super) grant: Cell<Option<u64>>,
}

impl<T, S: Store<T>> SendOp<'_, T, S> {
    fn revoke(&self) {
        if let Some(p) = self.grant.take() {
            self.q.revoke_put(p);
        }
    }
}

impl<T, S: Store<T>> Source for SendOp<'_, T, S> {
    fn ready(&self) -> bool {
        self.q.send_ready(self.owed.get())
    }
    fn register(&self, tok: &Token) -> bool {
        self.q.putters().register(tok.clone());
        true
    }
    fn withdraw(&self, tok: &Token) -> bool {
        self.q.putters().withdraw(tok)
    }
    fn list_id(&self) -> Option<u32> {
        Some(self.q.putters().id())
    }
    fn notified(&self) {
        self.owed.set(true);
    }
    fn used(&self) {
        self.revoke();
        if self.owed.replace(false) && !self.q.is_closed() {
            self.grant.set(Some(self.q.grant_put()));
        }
    }
    fn give_back(&self) {
        self.revoke();
        if self.owed.replace(false) {
            self.q.putters().notify_one();
        }
    }
}

/// An event being set: ready when it is set, or was set since the select started waiting (a
/// `set` then `clear` in one turn still wakes it, as it wakes `Event::wait`).
pub(super) struct EventOp<'a> {
    pub(super) ev: &'a Event,
    /// The event's generation when the select registered.
    pub(super) since: Cell<Option<u64>>,
}

impl Source for EventOp<'_> {
    fn ready(&self) -> bool {
        self.ev.readiness().0 || self.since.get().is_some_and(|g| g != self.ev.generation())
    }
    fn register(&self, tok: &Token) -> bool {
        self.since.set(Some(self.ev.generation()));
        self.ev.readiness().1.register(tok.clone());
        true
    }
    fn withdraw(&self, tok: &Token) -> bool {
        // A `set` wakes every waiter at once: nothing to pass on.
        self.ev.readiness().1.withdraw(tok);
        true
    }
    fn used(&self) {
        self.since.set(None);
    }
    fn give_back(&self) {
        self.since.set(None);
    }
}

/// A semaphore `acquire`: ready holding a permit.
pub(super) struct Acquire<'a> {
    pub(super) sem: &'a Semaphore,
    pub(super) permit: RefCell<Option<SemaphorePermit>>,
}

impl Source for Acquire<'_> {
    fn ready(&self) -> bool {
        let mut p = self.permit.borrow_mut();
        if p.is_none() {
            *p = self.sem.try_acquire();
        }
        p.is_some()
    }
    fn register(&self, tok: &Token) -> bool {
        self.sem.wait_list().register(tok.clone());
        true
    }
    fn withdraw(&self, tok: &Token) -> bool {
        self.sem.wait_list().withdraw(tok)
    }
    fn list_id(&self) -> Option<u32> {
        Some(self.sem.wait_list().id())
    }
    fn notified(&self) {
        // `release` reserved a permit for this park: take it.
        if let Some(p) = self.sem.claim_reserved() {
            *self.permit.borrow_mut() = Some(p);
        }
    }
    fn give_back(&self) {
        // Dropped: released, so handed to the next waiter if there is one.
        let p = self.permit.borrow_mut().take();
        drop(p);
    }
    fn take_permit(&self) -> Option<SemaphorePermit> {
        self.permit.borrow_mut().take()
    }
}

pub(super) struct Join<'a, T> {
    pub(super) h: &'a JoinHandle<T>,
}

impl<T: 'static> Source for Join<'_, T> {
    fn ready(&self) -> bool {
        self.h.is_finished()
    }
    fn register(&self, tok: &Token) -> bool {
        self.h.fiber().joiners.borrow_mut().push(tok.clone());
        true
    }
    fn withdraw(&self, tok: &Token) -> bool {
        let mut j = self.h.fiber().joiners.borrow_mut();
        match j.iter().position(|t| t.same(tok)) {
            Some(i) => {
                j.remove(i);
                true
            }
            None => false,
        }
    }
}

/// An [`AsyncResult`] being set (possibly from another thread).
pub(super) struct Async<'a, T> {
    pub(super) r: &'a AsyncResult<T>,
    pub(super) id: Cell<Option<u64>>,
}

impl<T: Clone + Send + 'static> Source for Async<'_, T> {
    fn ready(&self) -> bool {
        self.r.is_ready()
    }
    fn register(&self, tok: &Token) -> bool {
        let id = self.r.register_waiter(tok.to_remote());
        self.id.set(id);
        id.is_some()
    }
    fn withdraw(&self, _tok: &Token) -> bool {
        // Every waiter is woken at once: there is never a notification to pass on.
        if let Some(id) = self.id.take() {
            self.r.withdraw_waiter(id);
        }
        true
    }
}

/// Readiness of an fd in one direction.
pub(super) struct Fd {
    pub(super) watch: FdWatch,
}

impl Source for Fd {
    fn ready(&self) -> bool {
        self.watch.ready()
    }
    fn register(&self, tok: &Token) -> bool {
        self.watch.register(tok);
        true
    }
    fn withdraw(&self, tok: &Token) -> bool {
        // Edges wake every waiter: nothing to pass on.
        self.watch.withdraw(tok);
        true
    }
    fn is_io(&self) -> bool {
        true
    }
}

/// Something whose I/O readiness a [`Select`](super::Select) can wait for: grove's sockets,
/// and any other fd as a [`BorrowedFd`] (a pipe, another library's socket; it should be
/// non-blocking for the read that follows).
///
/// # Examples
///
/// ```
/// use std::io::Write;
/// use std::os::fd::AsFd;
/// let (mut tx, rx) = std::os::unix::net::UnixStream::pair()?; // not grove's
/// rx.set_nonblocking(true)?;
/// let (a, b) = grove::net::UnixStream::pair()?;
/// let fd = rx.as_fd();
/// let mut sel = grove::select::Select::new();
/// let from_std = sel.readable(&fd)?;
/// let from_grove = sel.readable(&b)?;
/// tx.write_all(b"x")?;
/// assert_eq!(sel.wait(), Ok(from_std));
/// (&a).write_all(b"y")?;
/// assert_eq!(sel.try_ready(), Some(from_std)); // still readable: the first ready wins
/// assert_ne!(from_std, from_grove);
/// # Ok::<(), std::io::Error>(())
/// ```
pub trait Pollable: sealed::Watch {}

// Sealed: the trait and its types are public in a private module, so no other crate can
// name them to implement `Pollable`.
#[allow(unreachable_pub)]
pub(crate) mod sealed {
    /// A watch on an fd's readiness, opaque outside grove.
    pub struct Watcher(pub(crate) crate::io::FdWatch);

    impl std::fmt::Debug for Watcher {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("Watcher")
        }
    }

    /// How a [`Pollable`](super::Pollable) is watched.
    pub trait Watch {
        /// Watches the readiness of `self`'s fd in direction `read` (else write).
        fn watch(&self, read: bool) -> std::io::Result<Watcher>;
    }
}

fn direction(read: bool) -> Direction {
    if read {
        Direction::Read
    } else {
        Direction::Write
    }
}

/// How a grove socket is watched: through its own registration `reg` of `fd`.
pub(crate) fn watch_registered<S: mio::event::Source>(
    reg: &crate::io::Registered<S>,
    fd: std::os::fd::RawFd,
    read: bool,
) -> sealed::Watcher {
    sealed::Watcher(reg.watch(fd, direction(read)))
}

impl sealed::Watch for BorrowedFd<'_> {
    fn watch(&self, read: bool) -> std::io::Result<sealed::Watcher> {
        FdWatch::foreign(self.as_raw_fd(), direction(read)).map(sealed::Watcher)
    }
}
impl Pollable for BorrowedFd<'_> {}

/// Implements [`Pollable`] for a grove socket type from its `Registered` source.
macro_rules! pollable {
    ($($ty:ty => |$s:ident| $reg:expr;)*) => {$(
        impl crate::select::sealed::Watch for $ty {
            fn watch(&self, read: bool) -> std::io::Result<crate::select::sealed::Watcher> {
                let $s = self;
                let fd = std::os::fd::AsRawFd::as_raw_fd(self);
                Ok(crate::select::watch_registered(&$reg, fd, read))
            }
        }
        impl crate::select::Pollable for $ty {}
    )*};
}
pub(crate) use pollable;
