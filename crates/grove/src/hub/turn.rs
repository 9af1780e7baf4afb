//! One loop turn: callbacks, cross-thread wakeups, the I/O poll, due timers, and the deadlock
//! check when nothing can ever wake the main greenlet (see the loop diagram in `hub`).

use std::panic::{self, AssertUnwindSafe};
use std::time::{Duration, Instant};

use super::fiber::{Input, State, Wake};
use super::*;

impl Hub {
    /// Queues a callback for the next loop turn.
    pub(crate) fn add_callback(&self, f: Box<dyn FnOnce()>) {
        self.callbacks.borrow_mut().push_back(f);
    }

    /// One loop turn: callbacks, remote wakeups, I/O poll, timers. See the module docs.
    pub(super) fn turn(&self) {
        self.turns.set(self.turns.get() + 1);
        self.now_fresh.set(false);
        self.remote.load.store(self.fibers.borrow().len(), Ordering::Relaxed);
        self.run_callbacks();
        if self.remote.pending() {
            self.drain_remote();
        }
        let busy = !self.ready.borrow().is_empty() || !self.callbacks.borrow().is_empty();
        let has_timers = !self.timers.borrow().is_empty();
        if busy {
            let n = self.turns_since_poll.get() + 1;
            let has_sources = self.reactor.sources() > 0;
            let due = n >= POLL_EVERY
                || (has_sources
                    && self.clock().duration_since(self.last_poll.get()) >= POLL_INTERVAL);
            if due && has_sources {
                self.poll_io(Some(Duration::ZERO));
            } else {
                self.turns_since_poll.set(n);
            }
        } else {
            let timeout = if has_timers {
                let next = self.timers.borrow_mut().next_deadline();
                next.map(|d| d.saturating_duration_since(self.clock()))
            } else if self.reactor.io_waiting() || !self.remote.gate.deadlocked() {
                // Also when a token queued its wake and went away since the check above:
                // the wake is drained after the poll below.
                None
            } else {
                self.deadlock();
                return;
            };
            if timeout != Some(Duration::ZERO) {
                self.trim_when_idle();
            }
            if self.remote.going_to_sleep() {
                self.poll_io(timeout);
            } else {
                self.poll_io(Some(Duration::ZERO));
            }
            self.remote.awake();
            if self.remote.pending() {
                self.drain_remote();
            }
        }
        if has_timers {
            self.fire_timers(self.clock());
        }
    }

    pub(super) fn run_callbacks(&self) {
        let n = self.callbacks.borrow().len();
        for _ in 0..n {
            let cb = self.callbacks.borrow_mut().pop_front();
            let Some(cb) = cb else { break };
            self.guarded(cb);
        }
    }

    /// Runs hub-side code (callback, timer action, remote call) with blocking forbidden; a
    /// panic is reported and does not take the hub down.
    pub(super) fn guarded(&self, f: impl FnOnce()) {
        self.in_callback.set(true);
        let r = panic::catch_unwind(AssertUnwindSafe(f));
        self.in_callback.set(false);
        if let Err(p) = r {
            let msg = crate::hub::fiber::panic_message(&*p);
            crate::diag::report(
                crate::diag::Kind::Panic,
                format_args!("a hub callback panicked: {msg}"),
            );
        }
    }

    pub(super) fn fire_timers(&self, now: Instant) {
        loop {
            let due = self.timers.borrow_mut().pop_due(now);
            match due {
                None => break,
                Some(TimerAction::Wake(t)) => {
                    t.wake_with(Wake::TimedOut);
                }
                Some(TimerAction::Start(f)) => {
                    if f.state.get() == State::New && !f.killed.get() {
                        self.schedule_new(f);
                    }
                }
                Some(TimerAction::Call(cb)) => self.guarded(cb),
                Some(TimerAction::Expire(t)) => self.expire_switch(t),
            }
        }
    }

    pub(super) fn poll_io(&self, timeout: Option<Duration>) {
        self.turns_since_poll.set(0);
        let r = self.reactor.poll(timeout);
        // Time passed while polling (possibly blocked): the clock must be read again.
        self.now_fresh.set(false);
        self.last_poll.set(self.clock());
        if let Err(e) = r {
            if e.kind() != std::io::ErrorKind::Interrupted {
                crate::diag::report(crate::diag::Kind::Io, format_args!("epoll_wait failed: {e}"));
            }
        }
    }

    pub(super) fn drain_remote(&self) {
        for msg in self.remote.take() {
            match msg {
                RemoteMsg::Wake { key, id, seq } => self.wake_key(key, id, seq),
                RemoteMsg::Call(f) => self.guarded(f),
            }
        }
    }

    /// Uses the wakeup token a `RemoteToken` stands for.
    pub(crate) fn wake_key(&self, key: usize, id: u64, seq: u64) {
        let f = if key == MAIN_KEY {
            Some(self.main.clone())
        } else {
            self.fibers.borrow().get(key).cloned()
        };
        if let Some(f) = f.filter(|f| f.id == id) {
            Token { fiber: f, seq }.wake();
        }
    }

    /// Kills the greenlet at `key` if it is still the one with `id` (a kill from another
    /// thread: `SendJoinHandle::kill`).
    pub(crate) fn kill_key(&self, key: usize, id: u64) {
        let f = self.fibers.borrow().get(key).cloned();
        if let Some(f) = f.filter(|f| f.id == id) {
            self.kill(&f);
        }
    }

    /// Nothing can ever wake the main greenlet: make its blocking call fail.
    pub(super) fn deadlock(&self) {
        let m = &self.main;
        match m.state.get() {
            State::Parked | State::Suspended => {
                m.state.set(State::Ready);
                self.ready.borrow_mut().push_back((m.clone(), Input::Wake(Wake::Deadlock)));
            }
            s => unreachable!("grove: scheduler running while main is {s:?}"),
        }
    }

    /// Gives deep pages of recently freed stacks back to the kernel when the hub goes idle.
    pub(super) fn trim_when_idle(&self) {
        if let Ok(mut pool) = self.pool.try_borrow_mut() {
            pool.trim();
        }
    }
}
