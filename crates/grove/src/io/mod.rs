//! Cooperative I/O readiness: waiting on file descriptors through the hub's poller.
//!
//! Every grove socket owns a `Registered` source: its fd is non-blocking and registered with
//! the hub's epoll once, edge-triggered, for both directions. An operation first just tries the
//! system call (no extra syscall when data is ready); on `WouldBlock` it clears the direction's
//! readiness flag and parks until the poller reports an edge. Any number of greenlets may wait
//! on one source in the same direction: an edge wakes them all and each retries.
//!
//! [`wait_readable`] / [`wait_writable`] do the same for any fd a third-party library owns
//! (gevent's `wait_read` / `wait_write`).

use std::cell::RefCell;
use std::collections::HashMap;
use std::io;
use std::os::fd::{FromRawFd, RawFd};
use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::hub::fiber::Wake;
use crate::hub::{self, IoState};

/// A direction of readiness.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    /// Readable (or peer closed, or error).
    Read,
    /// Writable (or error).
    Write,
}

/// A mio source registered with this thread's hub; deregistered on drop.
pub(crate) struct Registered<S: mio::event::Source> {
    /// Always `Some` until `into_inner` takes it.
    source: Option<S>,
    key: usize,
    state: Rc<IoState>,
}

impl<S: mio::event::Source + std::fmt::Debug> std::fmt::Debug for Registered<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.get().fmt(f)
    }
}

impl<S: mio::event::Source> Registered<S> {
    /// Registers `source` (already non-blocking) with the current hub.
    pub(crate) fn new(mut source: S) -> io::Result<Self> {
        let (key, state) = register(&mut source)?;
        Ok(Registered { source: Some(source), key, state })
    }

    pub(crate) fn get(&self) -> &S {
        self.source.as_ref().expect("grove: source taken")
    }

    /// Runs `op` until it stops failing with `WouldBlock`, parking on `dir` in between, with
    /// an optional per-operation timeout (plus any enclosing `timeout` scope). When the cached
    /// readiness says the direction is not ready, it parks first instead of paying for a
    /// system call that would return `EAGAIN`.
    pub(crate) fn io<R>(
        &self,
        dir: Direction,
        timeout: Option<Duration>,
        op: impl FnMut(&S) -> io::Result<R>,
    ) -> io::Result<R> {
        self.io_inner(dir, timeout, op, |_| false)
    }

    /// Like `io` for a byte-stream read or write of `len` bytes: a transfer shorter than
    /// asked means the kernel queue was drained (read) or filled (write) at that moment, so
    /// the direction is marked not ready; with edge-triggered epoll the next change of state
    /// produces a fresh event. Saves the `EAGAIN` round trip per request on keep-alive
    /// connections. Only valid for stream sockets (a short datagram read says nothing).
    pub(crate) fn io_stream(
        &self,
        dir: Direction,
        timeout: Option<Duration>,
        len: usize,
        op: impl FnMut(&S) -> io::Result<usize>,
    ) -> io::Result<usize> {
        self.io_inner(dir, timeout, op, |n| *n > 0 && *n < len)
    }

    fn io_inner<R>(
        &self,
        dir: Direction,
        timeout: Option<Duration>,
        mut op: impl FnMut(&S) -> io::Result<R>,
        drained: impl Fn(&R) -> bool,
    ) -> io::Result<R> {
        let deadline = timeout.and_then(crate::hub::deadline_after);
        let source = self.get();
        let (flag, closed) = match dir {
            Direction::Read => (&self.state.readable, &self.state.read_closed),
            Direction::Write => (&self.state.writable, &self.state.write_closed),
        };
        loop {
            if !flag.get() {
                wait_state(&self.state, dir, deadline)?;
            }
            match op(source) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => flag.set(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Ok(v) => {
                    // Once the peer closed or errored there is no further edge to wait for:
                    // keep trying the system call, which reports EOF or the error.
                    if drained(&v) && !closed.get() {
                        flag.set(false);
                    }
                    return Ok(v);
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Waits until the poller reports `dir` (after clearing the cached readiness).
    pub(crate) fn wait(&self, dir: Direction, deadline: Option<Instant>) -> io::Result<()> {
        wait_state(&self.state, dir, deadline)
    }

    /// Deregisters and returns the source (for `into_std`).
    pub(crate) fn into_inner(mut self) -> S {
        let mut source = self.source.take().expect("grove: source taken");
        deregister(&mut source, self.key);
        source
    }
}

impl<S: mio::event::Source> Drop for Registered<S> {
    fn drop(&mut self) {
        if let Some(mut s) = self.source.take() {
            deregister(&mut s, self.key);
        }
    }
}

fn register(source: &mut impl mio::event::Source) -> io::Result<(usize, Rc<IoState>)> {
    hub::with(|h| h.reactor().register(source))
}

fn deregister(source: &mut impl mio::event::Source, key: usize) {
    // The hub may already be gone at thread exit: then there is nothing to deregister from.
    let _ = hub::try_with(|h| h.reactor().deregister(source, key));
}

/// Parks until `dir` is reported ready on `state`.
fn wait_state(state: &IoState, dir: Direction, deadline: Option<Instant>) -> io::Result<()> {
    let (flag, list) = match dir {
        Direction::Read => (&state.readable, &state.readers),
        Direction::Write => (&state.writable, &state.writers),
    };
    flag.set(false);
    hub::with(|h| loop {
        if flag.get() {
            return Ok(());
        }
        list.borrow_mut().push(h.token());
        let w = {
            // Counted while parked, however the park ends (it unwinds on a kill or an expired
            // scope): the count tells deadlock detection that I/O may still wake someone.
            let _awaiting = h.reactor().awaiting_io();
            h.park(deadline, if dir == Direction::Read { "read" } else { "write" })
        };
        match w {
            Wake::Normal => continue,
            Wake::TimedOut => return Err(io::Error::new(io::ErrorKind::TimedOut, "timed out")),
            Wake::Unwinding => {
                return Err(io::Error::new(io::ErrorKind::Interrupted, "greenlet is unwinding"))
            }
            Wake::Deadlock => unreachable!("an I/O waiter is never deadlocked"),
        }
    })
}

/// A foreign fd's registration: slab key, readiness state, and how many waits use it.
type ForeignEntry = (usize, Rc<IoState>, usize);

thread_local! {
    /// fds being waited on through `wait_readable`/`wait_writable`.
    static FOREIGN: RefCell<HashMap<RawFd, ForeignEntry>> = RefCell::new(HashMap::new());
}

/// Waits until `fd` is readable (gevent's `wait_read`), for fds grove does not own. The fd is
/// registered with the hub for the duration of the wait; several greenlets may wait on the same
/// fd at once (they are all woken). `timeout` adds to any enclosing `timeout` scope.
///
/// The fd should be non-blocking for the caller's next operation not to block the hub.
///
/// # Errors
/// `TimedOut` when the timeout passes; the registration error (e.g. `EPERM` for a regular file,
/// which is always ready: just read it).
///
/// # Examples
///
/// ```
/// use std::io::{ErrorKind, Write};
/// use std::os::fd::AsRawFd;
/// use std::os::unix::net::UnixStream;
/// use std::time::Duration;
/// let (mut a, b) = UnixStream::pair()?;
/// b.set_nonblocking(true)?;
/// let r = grove::io::wait_readable(b.as_raw_fd(), Some(Duration::from_millis(5)));
/// assert_eq!(r.unwrap_err().kind(), ErrorKind::TimedOut);
/// a.write_all(b"ping")?;
/// grove::io::wait_readable(b.as_raw_fd(), None)?; // now `b.read` will not block
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn wait_readable(fd: RawFd, timeout: Option<Duration>) -> io::Result<()> {
    wait_fd(fd, Direction::Read, timeout)
}

/// Waits until `fd` is writable; see [`wait_readable`].
///
/// # Errors
/// As [`wait_readable`].
///
/// # Examples
///
/// ```
/// use std::os::fd::AsRawFd;
/// use std::os::unix::net::UnixStream;
/// use std::time::Duration;
/// let (a, _b) = UnixStream::pair()?;
/// a.set_nonblocking(true)?;
/// grove::io::wait_writable(a.as_raw_fd(), Some(Duration::from_secs(1)))?; // buffer has room
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn wait_writable(fd: RawFd, timeout: Option<Duration>) -> io::Result<()> {
    wait_fd(fd, Direction::Write, timeout)
}

fn wait_fd(fd: RawFd, dir: Direction, timeout: Option<Duration>) -> io::Result<()> {
    let deadline = timeout.and_then(crate::hub::deadline_after);
    let (state, _release) = ForeignRef::take(fd)?;
    // A fresh registration reports current readiness as an edge; a shared one may have a
    // stale flag, so always wait for an event.
    wait_state(&state, dir, deadline)
}

/// One use of a foreign fd's registration (counted: the last use deregisters it).
struct ForeignRef(RawFd);

impl ForeignRef {
    /// Registers `fd` with this hub, or counts one more use of its registration.
    fn take(fd: RawFd) -> io::Result<(Rc<IoState>, ForeignRef)> {
        let state = FOREIGN.with(|m| -> io::Result<Rc<IoState>> {
            let mut m = m.borrow_mut();
            if let Some(e) = m.get_mut(&fd) {
                e.2 += 1;
                return Ok(e.1.clone());
            }
            let (key, state) = register(&mut mio::unix::SourceFd(&fd))?;
            m.insert(fd, (key, state.clone(), 1));
            Ok(state)
        })?;
        Ok((state, ForeignRef(fd)))
    }
}

impl Drop for ForeignRef {
    fn drop(&mut self) {
        let _ = FOREIGN.try_with(|m| {
            let mut m = m.borrow_mut();
            let Some(e) = m.get_mut(&self.0) else { return };
            e.2 -= 1;
            if e.2 == 0 {
                let (key, _, _) = m.remove(&self.0).expect("entry present");
                deregister(&mut mio::unix::SourceFd(&self.0), key);
            }
        });
    }
}

/// A `select`'s watch on one direction of an fd's readiness: the hub's readiness state for
/// it (a grove socket's own, or a foreign fd's registration, held while the watch lives).
pub(crate) struct FdWatch {
    fd: RawFd,
    dir: Direction,
    state: Rc<IoState>,
    _foreign: Option<OwnRegistration>,
}

/// A duplicate fd registered with the hub for one watch: deregistered, then closed, on drop.
struct OwnRegistration {
    fd: std::os::fd::OwnedFd,
    key: usize,
}

impl Drop for OwnRegistration {
    fn drop(&mut self) {
        use std::os::fd::AsRawFd;
        deregister(&mut mio::unix::SourceFd(&self.fd.as_raw_fd()), self.key);
    }
}

impl FdWatch {
    /// Watches a foreign fd (one grove has not registered itself).
    ///
    /// The watch registers a duplicate of `fd` it owns: the same open socket (so the same
    /// readiness), but an fd number of its own, so it works for fds grove has registered
    /// itself (one of its sockets passed as `BorrowedFd`) and never deregisters a number the
    /// program has since closed and reused.
    pub(crate) fn foreign(fd: RawFd, dir: Direction) -> io::Result<FdWatch> {
        // SAFETY: F_DUPFD_CLOEXEC on a caller-borrowed fd only creates a new fd; the result is
        // checked and owned below.
        let dup = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
        if dup < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `dup` was just created by fcntl and nothing else owns it.
        let owned = unsafe { std::os::fd::OwnedFd::from_raw_fd(dup) };
        let (key, state) = register(&mut mio::unix::SourceFd(&dup))?;
        Ok(FdWatch { fd: dup, dir, state, _foreign: Some(OwnRegistration { fd: owned, key }) })
    }

    /// Whether an operation in the watched direction would not block now: asked of the
    /// kernel (level-triggered), since the edge-triggered flag may be stale for a shared
    /// registration. An fd in error or hung up counts as ready (the operation reports it).
    pub(crate) fn ready(&self) -> bool {
        let events = match self.dir {
            Direction::Read => libc::POLLIN,
            Direction::Write => libc::POLLOUT,
        };
        let mut p = libc::pollfd { fd: self.fd, events, revents: 0 };
        // SAFETY: one valid pollfd on our stack, count 1, timeout 0 (never blocks).
        let n = unsafe { libc::poll(&mut p, 1, 0) };
        n != 0 // ready, or poll itself failed: let the operation report it
    }

    fn list(&self) -> &RefCell<Vec<hub::Token>> {
        match self.dir {
            Direction::Read => &self.state.readers,
            Direction::Write => &self.state.writers,
        }
    }

    /// Queues `tok` to be woken at the direction's next edge.
    pub(crate) fn register(&self, tok: &hub::Token) {
        self.list().borrow_mut().push(tok.clone());
    }

    /// Takes `tok` back if it is still queued.
    pub(crate) fn withdraw(&self, tok: &hub::Token) {
        self.list().borrow_mut().retain(|t| !t.same(tok));
    }
}

impl<S: mio::event::Source> Registered<S> {
    /// A watch on this source's readiness (its fd is `fd`) for a `select`.
    pub(crate) fn watch(&self, fd: RawFd, dir: Direction) -> FdWatch {
        FdWatch { fd, dir, state: self.state.clone(), _foreign: None }
    }
}
