//! The hub's fd readiness table (the reactor): epoll, which registered source each event is
//! for, each source's readiness flags and parked greenlets, and how many greenlets are parked
//! on I/O (so deadlock detection knows the poller may still wake someone). `io` registers,
//! deregisters and waits through these methods; the loop turn polls through `poll`.

use std::cell::{Cell, RefCell};
use std::io;
use std::rc::Rc;
use std::time::Duration;

use mio::{Interest, Token as MioToken};
use slab::Slab;

use super::Token;

/// The readiness state of one registered fd.
#[derive(Default)]
pub(crate) struct IoState {
    pub(crate) readable: Cell<bool>,
    pub(crate) writable: Cell<bool>,
    /// The peer closed its side or the socket has an error (sticky): a read that returns less
    /// than asked has not necessarily seen everything (EOF/error may still be pending).
    pub(crate) read_closed: Cell<bool>,
    /// The write side is closed or in error (sticky).
    pub(crate) write_closed: Cell<bool>,
    pub(crate) readers: RefCell<Vec<Token>>,
    pub(crate) writers: RefCell<Vec<Token>>,
}

pub(crate) struct Reactor {
    poll: RefCell<mio::Poll>,
    events: RefCell<mio::Events>,
    sources: RefCell<Slab<Rc<IoState>>>,
    io_waiters: Cell<usize>,
    /// The token of the hub's own waker, which carries no source.
    waker: MioToken,
}

impl Reactor {
    pub(super) fn new(poll: mio::Poll, waker: MioToken) -> Reactor {
        Reactor {
            poll: RefCell::new(poll),
            events: RefCell::new(mio::Events::with_capacity(1024)),
            sources: RefCell::new(Slab::new()),
            io_waiters: Cell::new(0),
            waker,
        }
    }

    /// Registers `source` for both directions, edge-triggered. Its state starts optimistic
    /// (ready both ways): the first operation just tries the system call.
    pub(crate) fn register(
        &self,
        source: &mut impl mio::event::Source,
    ) -> io::Result<(usize, Rc<IoState>)> {
        let state = Rc::new(IoState::default());
        state.readable.set(true);
        state.writable.set(true);
        let key = self.sources.borrow_mut().insert(state.clone());
        let r = self.poll.borrow().registry().register(
            source,
            MioToken(key),
            Interest::READABLE | Interest::WRITABLE,
        );
        match r {
            Ok(()) => Ok((key, state)),
            Err(e) => {
                self.sources.borrow_mut().remove(key);
                Err(e)
            }
        }
    }

    /// Deregisters `source` (registered as `key`); greenlets still waiting on it (through
    /// another handle) are woken, retry and get the error.
    pub(crate) fn deregister(&self, source: &mut impl mio::event::Source, key: usize) {
        let _ = self.poll.borrow().registry().deregister(source);
        let st = self.sources.borrow_mut().try_remove(key);
        if let Some(st) = st {
            for t in st.readers.borrow_mut().drain(..).chain(st.writers.borrow_mut().drain(..)) {
                t.wake();
            }
        }
    }

    /// Counts one greenlet parked on I/O while the guard lives (also while it unwinds).
    pub(crate) fn awaiting_io(&self) -> AwaitingIo<'_> {
        self.io_waiters.set(self.io_waiters.get() + 1);
        AwaitingIo(self)
    }

    /// Whether a greenlet is parked on I/O.
    pub(super) fn io_waiting(&self) -> bool {
        self.io_waiters.get() > 0
    }

    /// Registered sources.
    pub(super) fn sources(&self) -> usize {
        self.sources.borrow().len()
    }

    /// Waits up to `timeout` for events and wakes the greenlets parked on them.
    pub(super) fn poll(&self, timeout: Option<Duration>) -> io::Result<()> {
        let mut events = self.events.borrow_mut();
        self.poll.borrow_mut().poll(&mut events, timeout)?;
        let sources = self.sources.borrow();
        for ev in events.iter() {
            if ev.token() == self.waker {
                continue;
            }
            let Some(st) = sources.get(ev.token().0) else { continue };
            let closed = ev.is_error();
            if ev.is_read_closed() || closed {
                st.read_closed.set(true);
            }
            if ev.is_write_closed() || closed {
                st.write_closed.set(true);
            }
            if ev.is_readable() || ev.is_read_closed() || closed {
                st.readable.set(true);
                for t in st.readers.borrow_mut().drain(..) {
                    t.wake();
                }
            }
            if ev.is_writable() || ev.is_write_closed() || closed {
                st.writable.set(true);
                for t in st.writers.borrow_mut().drain(..) {
                    t.wake();
                }
            }
        }
        Ok(())
    }
}

/// One greenlet parked on I/O, for the reactor's count of them.
pub(crate) struct AwaitingIo<'a>(&'a Reactor);

impl Drop for AwaitingIo<'_> {
    fn drop(&mut self) {
        self.0.io_waiters.set(self.0.io_waiters.get() - 1);
    }
}
