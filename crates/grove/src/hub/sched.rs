//! Scheduling and the greenlet life cycle: parking and waking, yielding, explicit switches,
//! running a greenlet until control comes back, finishing, killing, collecting, shutdown.

use std::panic::{self, AssertUnwindSafe};
use std::time::Instant;

use super::fiber::{
    panic_message, FiberRef, GreenletExit, Input, Kind, Message, Output, State, Wake,
};
use super::*;

impl Hub {
    /// Parks the running greenlet until one of its tokens is used, its own `deadline` passes
    /// (`Wake::TimedOut`), or it is killed (it unwinds from here). When the deadline of an
    /// enclosing `timeout` scope passes first (or has already passed), it unwinds from here to
    /// that scope instead of returning (see [`ScopeExpired`]).
    pub(crate) fn park(&self, deadline: Option<Instant>, what: &'static str) -> Wake {
        let cur = self.current.borrow().clone();
        if std::thread::panicking() {
            // Blocking while unwinding could interleave two unwinds on one thread (std's
            // panic count is per thread); destructors get an immediate return instead.
            cur.seq.set(cur.seq.get() + 1);
            return Wake::Unwinding;
        }
        if self.in_callback.get() {
            panic!(
                "grove: a hub callback or timer action tried to block ({what}); callbacks run \
                 on the hub and must not block: spawn a greenlet instead"
            );
        }
        // Not unwinding: any kill delivered earlier has been caught, so it may be killed again.
        cur.killed.set(false);
        if cur.kill_pending.get() && !cur.is_main() {
            // A kill deferred by `defer_kill`: deliver it at this blocking point.
            cur.kill_pending.set(false);
            cur.killed.set(true);
            panic::resume_unwind(Box::new(GreenletExit));
        }
        let scope = cur.deadline.get();
        let (eff, from_scope) = match (deadline, scope) {
            (Some(d), Some(s)) if s < d => (Some(s), true),
            (None, Some(s)) => (Some(s), true),
            (d, _) => (d, false),
        };
        let mut timer = None;
        if let Some(d) = eff {
            // The turn's clock may be slightly behind; a deadline it misses fires at once.
            if d <= self.clock() {
                cur.seq.set(cur.seq.get() + 1);
                if from_scope {
                    Self::expire_scope(&cur);
                }
                return Wake::TimedOut;
            }
            let tok = Token { fiber: cur.clone(), seq: cur.seq.get() };
            timer = Some(self.arm_timer(d, TimerAction::Wake(tok)));
        }
        cur.state.set(State::Parked);
        cur.waiting_on.set(what);
        let input = if cur.is_main() { self.schedule() } else { cur.suspend(Output::Park) };
        self.resumed(&cur, timer);
        match input {
            Input::Wake(Wake::TimedOut) if from_scope => Self::expire_scope(&cur),
            Input::Wake(w) => w,
            Input::Message => Self::take_throw(&cur),
            Input::Start => unreachable!("grove: a parked greenlet was resumed as new"),
        }
    }

    /// The deadline of an enclosing `timeout` scope has passed: unwind to that scope.
    pub(super) fn expire_scope(cur: &FiberRef) -> ! {
        panic::resume_unwind(Box::new(ScopeExpired(cur.deadline_owner.get())))
    }

    /// Resumed with a message while waiting in the hub: it can only be a kill. Unwinds.
    pub(super) fn take_throw(cur: &FiberRef) -> ! {
        let msg = cur.take_inbox();
        match msg {
            Some(Message::Throw(p)) => panic::resume_unwind(p),
            _ => unreachable!("grove: a greenlet waiting in the hub was resumed by a switch"),
        }
    }

    pub(super) fn resumed(&self, cur: &FiberRef, timer: Option<TimerId>) {
        cur.seq.set(cur.seq.get() + 1);
        cur.state.set(State::Running);
        cur.waiting_on.set("");
        if let Some(t) = timer {
            self.cancel_timer(t);
        }
    }

    /// Puts the running greenlet at the back of the ready queue and runs the others. Callbacks
    /// queued before the call have run when it returns (gevent's `sleep(0)` queues itself
    /// behind them); inside an expired `timeout` scope it unwinds to the scope.
    pub(crate) fn yield_now(&self) {
        let cur = self.current.borrow().clone();
        if std::thread::panicking() || self.in_callback.get() {
            return;
        }
        cur.killed.set(false);
        if cur.deadline.get().is_some_and(|d| d <= self.clock()) {
            Self::expire_scope(&cur);
        }
        if !self.callbacks.borrow().is_empty() {
            // Take a loop turn before this greenlet runs again.
            self.budget.set(0);
        }
        cur.state.set(State::Ready);
        self.ready.borrow_mut().push_back((cur.clone(), Input::Wake(Wake::Normal)));
        let input = if cur.is_main() { self.schedule() } else { cur.suspend(Output::Park) };
        self.resumed(&cur, None);
        if input == Input::Message {
            Self::take_throw(&cur);
        }
    }

    /// Explicit transfer of `msg` to `target` (greenlet switch). Returns what the current
    /// greenlet is switched back with; `None` if it is main and nothing can switch back.
    pub(crate) fn switch_to(&self, target: FiberRef, msg: Message) -> Option<Message> {
        self.check_can_switch();
        let cur = self.current.borrow().clone();
        if target.same(&cur) {
            return Some(msg);
        }
        match target.state.get() {
            State::New | State::Suspended => {}
            State::Dead => return Some(msg),
            s => panic!(
                "grove: cannot switch to {target:?}: it is {} (only a new greenlet or one \
                 waiting in switch() can be switched to)",
                match s {
                    State::Parked => "blocked in the hub",
                    State::Ready => "scheduled by the hub",
                    _ => "running",
                }
            ),
        }
        target.put_inbox(msg);
        // Switching away while the thread unwinds (from a destructor): this greenlet may be
        // the one unwinding, and a kill thrown into it here would be a panic escaping a
        // destructor. Kills wait for its next blocking point instead (see `kill`).
        let unwinding = std::thread::panicking();
        if !unwinding {
            // Not unwinding: any kill delivered earlier has been caught.
            cur.killed.set(false);
        }
        cur.suspended_unwinding.set(unwinding);
        // Waiting in a switch is waiting too: an enclosing scope's deadline ends it (gevent
        // throws its Timeout into a greenlet wherever it waits).
        let expiry = cur.deadline.get().filter(|_| !unwinding).map(|d| {
            let tok = Token { fiber: cur.clone(), seq: cur.seq.get() };
            self.arm_timer(d, TimerAction::Expire(tok))
        });
        cur.state.set(State::Suspended);
        let back = if cur.is_main() {
            target.state.set(State::Ready);
            self.ready.borrow_mut().push_front((target, Input::Message));
            self.schedule()
        } else {
            *self.switch_target.borrow_mut() = Some(target);
            cur.suspend(Output::Switch)
        };
        cur.state.set(State::Running);
        cur.suspended_unwinding.set(false);
        if let Some(t) = expiry {
            // A new generation: an expiry armed for this switch no longer matches.
            cur.seq.set(cur.seq.get() + 1);
            self.cancel_timer(t);
        }
        match back {
            Input::Message => cur.take_inbox(),
            _ => None,
        }
    }

    /// A scope's deadline passed while `tok`'s greenlet waits in a switch: it is resumed with
    /// the scope's unwind payload (`Greenlet::switch` raises it).
    pub(super) fn expire_switch(&self, tok: Token) {
        let f = tok.fiber;
        if f.seq.get() != tok.seq
            || f.state.get() != State::Suspended
            || f.suspended_unwinding.get()
        {
            return;
        }
        let expired = Message::Throw(Box::new(ScopeExpired(f.deadline_owner.get())));
        self.deliver(f, expired);
    }

    /// Hands a suspended greenlet `msg` and schedules it (main first: it resumes the loop).
    fn deliver(&self, f: FiberRef, msg: Message) {
        f.put_inbox(msg);
        f.state.set(State::Ready);
        let mut ready = self.ready.borrow_mut();
        if f.is_main() {
            ready.push_front((f, Input::Message));
        } else {
            ready.push_back((f, Input::Message));
        }
    }

    /// Panics with a clear message inside a hub callback, which cannot switch greenlets.
    pub(crate) fn check_can_switch(&self) {
        if self.in_callback.get() {
            panic!(
                "grove: a hub callback or timer action tried to switch greenlets; callbacks \
                 run on the hub's own stack and cannot switch: spawn a greenlet instead"
            );
        }
    }

    /// Main only: runs the scheduler until main is resumed; returns what it is resumed with.
    pub(super) fn schedule(&self) -> Input {
        self.remote.monitor.enter(0, None);
        let input = self.schedule_loop();
        self.remote.monitor.enter(self.main.id, Some(self.main.location));
        input
    }

    pub(super) fn schedule_loop(&self) -> Input {
        loop {
            // The budget outlives this call: main resumed over and over (a `yield_now` loop)
            // spends it like any greenlet, so turns still come.
            while self.budget.get() > 0 {
                let next = self.ready.borrow_mut().pop_front();
                let Some((f, input)) = next else { break };
                self.budget.set(self.budget.get() - 1);
                if f.is_main() {
                    return input;
                }
                self.run(f, input);
            }
            self.budget.set(BUDGET);
            self.turn();
        }
    }

    /// Resumes `f` and follows any chain of explicit switches until control is back here.
    pub(super) fn run(&self, f: FiberRef, input: Input) {
        let mut next = Some((f, input));
        while let Some((f, mut input)) = next.take() {
            if f.state.get() == State::Dead {
                continue;
            }
            // A greenlet that switched away while unwinding takes its kill at its next
            // blocking point, not inside the switch (that would be in a destructor).
            if !f.suspended_unwinding.get() && f.kill_pending.replace(false) {
                f.killed.set(true);
                if !f.started() {
                    self.finish_unstarted(&f);
                    continue;
                }
                f.put_inbox(Message::Throw(Box::new(GreenletExit)));
                input = Input::Message;
            }
            f.state.set(State::Running);
            overflow::set_current(&f.overflow);
            self.remote.monitor.enter(f.id, Some(f.location));
            // Move `f` into `current` and back out: no reference-count traffic per switch.
            let main = self.current.replace(f);
            // The greenlet base catches everything, but should a panic still escape the
            // coroutine, the hub's record of who runs must be restored before anything else.
            let out = panic::catch_unwind(AssertUnwindSafe(|| {
                let cur = self.current.borrow();
                let mut coro = cur.coro.borrow_mut();
                coro.as_mut().expect("grove: resumed a greenlet with no coroutine").resume(input)
            }));
            let f = self.current.replace(main);
            overflow::set_current(std::ptr::null());
            self.remote.monitor.enter(0, None);
            self.switches.set(self.switches.get() + 1);
            let out = match out {
                Ok(out) => out,
                Err(p) => {
                    self.escaped(&f, p);
                    continue;
                }
            };
            match out {
                corosensei::CoroutineResult::Yield(Output::Park) => {}
                corosensei::CoroutineResult::Yield(Output::Switch) => {
                    let t = self.switch_target.borrow_mut().take();
                    next = self.route(t.expect("grove: switch without a target"));
                }
                corosensei::CoroutineResult::Return(to_parent) => {
                    self.finish(&f);
                    match (to_parent, self.receiving_parent(&f)) {
                        (Some(msg), Some(p)) => {
                            p.put_inbox(msg);
                            next = self.route(p);
                        }
                        (Some(Message::Throw(p)), None) => {
                            crate::diag::report(
                                crate::diag::Kind::Panic,
                                format_args!(
                                    "greenlet {} (spawned at {}) panicked and no parent can \
                                 receive it: {}",
                                    super::fiber::Id(f.id),
                                    f.location,
                                    crate::hub::fiber::panic_message(&*p)
                                ),
                            );
                        }
                        _ => {}
                    }
                }
            }
        }
    }

    /// Where control goes after a switch to `t` (its message is in its inbox): main is
    /// resumed through the ready queue, another greenlet directly.
    pub(super) fn route(&self, t: FiberRef) -> Option<(FiberRef, Input)> {
        if t.is_main() {
            t.state.set(State::Ready);
            self.ready.borrow_mut().push_front((t, Input::Message));
            None
        } else {
            Some((t, Input::Message))
        }
    }

    /// The nearest ancestor of a finished raw greenlet that is waiting in switch().
    pub(super) fn receiving_parent(&self, f: &FiberRef) -> Option<FiberRef> {
        let mut p = f.parent();
        f.retire_parent();
        while let Some(cand) = p {
            match cand.state.get() {
                State::Suspended | State::New => return Some(cand),
                State::Dead => p = cand.parent_or_last(),
                // The parent is busy in the hub: it cannot receive the value.
                _ => return None,
            }
        }
        None
    }

    /// A panic escaped a greenlet's coroutine (its base lets none through; this is the last
    /// line of defence): the greenlet is finished and the panic goes to its joiner, or is
    /// reported.
    #[cold]
    pub(super) fn escaped(&self, f: &FiberRef, p: Box<dyn std::any::Any + Send>) {
        crate::diag::report(
            crate::diag::Kind::Panic,
            format_args!(
                "a panic escaped greenlet {} (spawned at {}): {}",
                super::fiber::Id(f.id),
                f.location,
                crate::hub::fiber::panic_message(&*p)
            ),
        );
        if f.kind == Kind::Task && !p.is::<GreenletExit>() && f.result.borrow().is_none() {
            f.set_panic(p);
        }
        self.finish(f);
    }

    /// Bookkeeping when a greenlet's function has returned.
    pub(super) fn finish(&self, f: &FiberRef) {
        f.state.set(State::Dead);
        let coro = f.coro.borrow_mut().take();
        if let Some(c) = coro {
            self.pool.borrow_mut().put(c.into_stack());
        }
        self.forget(f);
        Self::notify_joiners(f);
    }

    /// A greenlet killed before it ran: it never runs; its closure is dropped.
    pub(crate) fn finish_unstarted(&self, f: &FiberRef) {
        f.killed.set(true);
        let coro = f.coro.borrow_mut().take();
        if let Some(mut c) = coro {
            // Not started: this drops the closure without running it.
            c.force_unwind();
            self.pool.borrow_mut().put(c.into_stack());
        }
        f.state.set(State::Dead);
        // A raw greenlet that was switched to but killed before it ran (a callback killed it
        // in between): whoever waits in that switch — its parent — gets `GreenletExit` back
        // as the greenlet's value, as if it had run and been killed.
        let switched_to = f.kind == Kind::Raw && f.take_inbox().is_some();
        let parent = f.parent();
        f.retire_parent();
        self.forget(f);
        Self::notify_joiners(f);
        match parent {
            Some(p) if switched_to && p.state.get() == State::Suspended => {
                self.deliver(p, Message::Value(Box::new(GreenletExit)));
            }
            // Its last child gone after its last handle: the parent can never be switched to
            // again (greenlet's collection).
            Some(p) if p.state.get() == State::Suspended && p.unreachable() => self.collect(&p),
            _ => {}
        }
    }

    pub(super) fn notify_joiners(f: &FiberRef) {
        let joiners = std::mem::take(&mut *f.joiners.borrow_mut());
        for t in joiners {
            t.wake();
        }
        let wakers = f.take_wakers();
        for w in wakers {
            w.wake();
        }
        let callbacks = f.take_on_done();
        if !callbacks.is_empty() {
            // Run as hub callbacks at the next turn (contained, must not block), not here:
            // this may run inside the dying greenlet or the scheduler.
            let _ = super::try_with(|h| {
                for cb in callbacks {
                    h.add_callback(cb);
                }
            });
        }
    }

    pub(super) fn forget(&self, f: &FiberRef) {
        if f.has_name() {
            self.remote.monitor.names.lock().unwrap_or_else(|e| e.into_inner()).remove(&f.id);
        }
        if let Some(key) = f.take_key() {
            let mut fibers = self.fibers.borrow_mut();
            fibers.try_remove(key);
            self.remote.monitor.others.store(fibers.len(), Ordering::Relaxed);
        }
    }

    /// Queues a new or woken greenlet at the back of the ready queue.
    pub(crate) fn schedule_new(&self, f: FiberRef) {
        f.state.set(State::Ready);
        self.ready.borrow_mut().push_back((f, Input::Start));
    }

    /// Requests that `f` unwind from wherever it waits (or never run, if new).
    pub(crate) fn kill(&self, f: &FiberRef) {
        if f.is_main() {
            panic!("grove: the main greenlet cannot be killed");
        }
        match f.state.get() {
            State::Dead => {}
            _ if f.killed.get() || f.kill_pending.get() => {}
            State::New | State::Ready if !f.started() => {
                // Spawned but not run yet (in the ready queue or a spawn_later timer), or a
                // raw greenlet never switched to: it must never run. A stale ready-queue entry
                // is skipped because the greenlet is dead.
                self.finish_unstarted(f);
            }
            State::New | State::Ready => f.kill_pending.set(true),
            // Suspended in a switch made from a destructor during an unwind: delivered at its
            // next blocking point (`park` checks `kill_pending`).
            State::Suspended if f.suspended_unwinding.get() => f.kill_pending.set(true),
            State::Parked | State::Suspended => {
                f.kill_pending.set(true);
                f.state.set(State::Ready);
                self.ready.borrow_mut().push_front((f.clone(), Input::Wake(Wake::Normal)));
            }
            // Killing yourself while unwinding (a destructor): raising now would abort; if the
            // unwind is caught, the kill lands at the next blocking point.
            State::Running if std::thread::panicking() => f.kill_pending.set(true),
            State::Running => {
                // Killing yourself: unwind right here.
                f.killed.set(true);
                panic::resume_unwind(Box::new(GreenletExit));
            }
        }
    }

    /// Unwinds a raw greenlet waiting in `switch` that nothing can switch to any more (its
    /// last handle is gone): right away, with the current greenlet as its parent, or — from a
    /// hub callback, which cannot switch — the next time the hub runs it.
    pub(crate) fn collect(&self, f: &FiberRef) {
        let cur = self.current.borrow().clone();
        // A switch needs a running greenlet to come back to: not a hub callback, and not the
        // scheduler itself (a handle dropped while the hub runs on main's stack, e.g. with a
        // finished greenlet's result).
        if self.in_callback.get() || cur.state.get() != State::Running {
            f.set_parent(None);
            self.kill(f);
            return;
        }
        f.set_parent(Some(cur));
        f.kill_pending.set(false);
        f.killed.set(true);
        let back = self.switch_to(f.clone(), Message::Throw(Box::new(GreenletExit)));
        match back {
            // A kill (or scope expiry) aimed at us arrived while we waited for the victim:
            // it must not be lost. Raised now unless we are unwinding already (this runs in a
            // destructor), then it lands at the next blocking point.
            Some(Message::Throw(p)) if p.is::<GreenletExit>() || p.is::<ScopeExpired>() => {
                if std::thread::panicking() {
                    let me = self.current.borrow().clone();
                    if !me.is_main() && p.is::<GreenletExit>() {
                        me.kill_pending.set(true);
                    }
                } else {
                    panic::resume_unwind(p);
                }
            }
            Some(Message::Throw(p)) => {
                // The victim panicked while unwinding; raising it here would be raising from
                // a destructor.
                crate::diag::report(
                    crate::diag::Kind::Panic,
                    format_args!(
                        "greenlet {} panicked while being unwound on collection: {}",
                        super::fiber::Id(f.id),
                        panic_message(&*p)
                    ),
                );
            }
            _ => {}
        }
    }

    /// Kills every live greenlet and runs them until they are gone (called by `grove::run` on
    /// the main greenlet). Greenlets that refuse to die (they catch GreenletExit and block
    /// again) are abandoned after a few rounds, with a warning.
    pub(crate) fn shutdown(&self) {
        for round in 0..8 {
            let live: Vec<FiberRef> = self.fibers.borrow().iter().map(|(_, f)| f.clone()).collect();
            if live.is_empty() {
                break;
            }
            if round == 7 {
                crate::diag::report(
                    crate::diag::Kind::Shutdown,
                    format_args!(
                        "{} greenlet(s) survived being killed at shutdown and were abandoned",
                        live.len()
                    ),
                );
                break;
            }
            for f in &live {
                self.kill(f);
            }
            // Let the killed ones unwind: one pass of everything ready.
            while !self.ready.borrow().is_empty() {
                let next = self.ready.borrow_mut().pop_front();
                if let Some((f, input)) = next {
                    if f.is_main() {
                        continue;
                    }
                    self.run(f, input);
                }
            }
        }
        // Dropped after the borrows end: a closure's destructor may use the hub (and it
        // must not take the hub down if it panics).
        let actions = self.timers.borrow_mut().drain();
        let callbacks = std::mem::take(&mut *self.callbacks.borrow_mut());
        for dropped in [Box::new(actions) as Box<dyn std::any::Any>, Box::new(callbacks)] {
            if let Err(p) = panic::catch_unwind(AssertUnwindSafe(move || drop(dropped))) {
                crate::diag::report(
                    crate::diag::Kind::Panic,
                    format_args!(
                        "a destructor panicked while dropping pending timers or callbacks at \
                         shutdown: {}",
                        panic_message(&*p)
                    ),
                );
            }
        }
    }
}
