//! The hub: one per OS thread, lazily created. It owns the ready queue, the timers, the poller
//! and the table of live greenlets, and its scheduler runs on the thread's own stack whenever
//! the main greenlet blocks.
//!
//! One loop turn:
//!
//! ```text
//!   +--> run the greenlets that are ready (at most BUDGET before the next turn)
//!   |      each runs until it parks (waits on a token) or switches
//!   |    turn:
//!   |      run callbacks queued before this turn (add_callback)
//!   |      drain wakeups sent from other threads
//!   |      poll mio: timeout 0 if anything is ready, else until the next timer;
//!   |                nothing can ever wake main?  -> main gets "would block forever"
//!   |      fire due timers (wake sleepers, start spawn_later greenlets)
//!   +------+
//! ```
//!
//! Polling for I/O with timeout 0 costs a system call, so while greenlets stay ready it happens
//! only every POLL_EVERY turns (and never when no fd is registered); no greenlet can starve
//! I/O polling or timers for longer than that.

mod gate;
mod remote;
pub(crate) mod timers;

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::panic::{self, AssertUnwindSafe, Location};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use slab::Slab;

use crate::ctx::overflow;
use crate::ctx::{StackPool, DEFAULT_STACK_SIZE};
use crate::greenlet::fiber::{Fiber, FiberRef, Input, Kind, Message, Output, State, Wake};
use crate::greenlet::GreenletExit;
use timers::{TimerId, Timers};

pub use remote::RemoteToken;
pub(crate) use remote::{Remote, RemoteMsg};

/// Greenlets run back to back before the hub takes a loop turn.
const BUDGET: u32 = 64;
/// While greenlets stay ready, poll for I/O with timeout 0 on every Nth turn...
const POLL_EVERY: u32 = 8;
/// ...or as soon as this much time has passed since the last poll (turns whose greenlets do
/// system calls are long: counting turns alone let readiness wait for milliseconds).
const POLL_INTERVAL: Duration = Duration::from_micros(100);
/// mio token of the cross-thread waker.
const WAKER_TOKEN: mio::Token = mio::Token(usize::MAX - 1);
/// Key standing for the main greenlet in remote messages.
const MAIN_KEY: usize = usize::MAX;

static NEXT_HUB: AtomicU64 = AtomicU64::new(1);

/// What a timer does when it fires.
pub(crate) enum TimerAction {
    /// Wake a parked greenlet with `Wake::TimedOut`.
    Wake(Token),
    /// Put a not-yet-started greenlet on the ready queue (`spawn_later`).
    Start(FiberRef),
    /// Run a callback on the hub (must not block).
    Call(Box<dyn FnOnce()>),
}

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

/// Per-hub counters, readable through [`stats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HubStats {
    /// Switches into greenlets.
    pub switches: u64,
    /// Loop turns taken.
    pub turns: u64,
    /// Greenlets spawned on this hub.
    pub spawned: u64,
    /// Greenlets alive (spawned or created, not yet dead), main excluded.
    pub alive: usize,
    /// Free stacks in the pool.
    pub stacks_pooled: usize,
    /// Stacks mapped by the pool (in use + pooled).
    pub stacks_allocated: usize,
    /// Armed timers.
    pub timers: usize,
    /// fds registered with the poller.
    pub io_sources: usize,
}

/// A wakeup token for one park of one greenlet on this hub (not `Send`; see
/// [`Token::to_remote`]). Using a token after the greenlet has been resumed for any other
/// reason does nothing.
#[derive(Clone)]
pub struct Token {
    pub(crate) fiber: FiberRef,
    pub(crate) seq: u64,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Token({:?} seq {})", self.fiber, self.seq)
    }
}

impl Token {
    /// Wakes the greenlet if it is still parked for this token. Returns whether it did.
    #[inline]
    pub fn wake(&self) -> bool {
        self.wake_with(Wake::Normal)
    }

    #[inline]
    pub(crate) fn wake_with(&self, how: Wake) -> bool {
        let f = &self.fiber;
        if f.seq.get() != self.seq || f.state.get() != State::Parked {
            return false;
        }
        // At thread exit the hub may already be gone (a destructor run while it is torn
        // down wakes a waiter): nothing can run the greenlet any more.
        let queued =
            try_with(|hub| hub.ready.borrow_mut().push_back((f.clone(), Input::Wake(how))));
        if queued.is_some() {
            f.state.set(State::Ready);
        }
        queued.is_some()
    }

    /// Whether the greenlet is still parked for this token.
    #[inline]
    pub fn is_pending(&self) -> bool {
        self.fiber.seq.get() == self.seq && self.fiber.state.get() == State::Parked
    }

    /// Whether the greenlet was woken for this token and has not run since.
    #[inline]
    pub(crate) fn is_scheduled(&self) -> bool {
        self.fiber.seq.get() == self.seq && self.fiber.state.get() == State::Ready
    }

    /// A `Send` version of this token for waking from another thread.
    pub fn to_remote(&self) -> RemoteToken {
        with(|hub| {
            let key = if self.fiber.is_main() { MAIN_KEY } else { self.fiber.key.get() };
            RemoteToken::new(hub.remote.clone(), key, self.fiber.id, self.seq)
        })
    }
}

/// The payload a blocking call unwinds with when the deadline of an enclosing `timeout`
/// scope passes: the depth of the scope that owns the deadline, which catches it.
pub(crate) struct ScopeExpired(pub(crate) u32);

/// Whether a caught panic payload is a `timeout` scope's expiry unwinding to its scope (for
/// code that must stop unwinds at an FFI boundary, like `grove-patch`'s hooks: it fails the
/// call with `ETIMEDOUT` instead, and the next blocking call in Rust code unwinds again, since
/// the scope's deadline stays passed).
#[doc(hidden)]
pub fn is_scope_expiry(payload: &(dyn std::any::Any + Send)) -> bool {
    payload.is::<ScopeExpired>()
}

/// The per-thread hub.
pub(crate) struct Hub {
    pub(crate) index: u64,
    main: FiberRef,
    current: RefCell<FiberRef>,
    /// Where a greenlet that suspended with `Output::Switch` wants to go.
    switch_target: RefCell<Option<FiberRef>>,
    next_id: Cell<u64>,
    pub(crate) ready: RefCell<VecDeque<(FiberRef, Input)>>,
    callbacks: RefCell<VecDeque<Box<dyn FnOnce()>>>,
    pub(crate) timers: RefCell<Timers<TimerAction>>,
    fibers: RefCell<Slab<FiberRef>>,
    pub(crate) pool: RefCell<StackPool>,
    poll: RefCell<mio::Poll>,
    events: RefCell<mio::Events>,
    pub(crate) sources: RefCell<Slab<Rc<IoState>>>,
    pub(crate) io_waiters: Cell<usize>,
    pub(crate) remote: Arc<Remote>,
    /// Running callbacks or timer actions: blocking is forbidden.
    in_callback: Cell<bool>,
    /// Greenlets (main included) that may still run before the next loop turn.
    budget: Cell<u32>,
    turns_since_poll: Cell<u32>,
    last_poll: Cell<Instant>,
    switches: Cell<u64>,
    turns: Cell<u64>,
    spawned: Cell<u64>,
    /// The hub's clock (see [`now`]): read at most once per loop turn, on first use.
    now: Cell<Instant>,
    /// Whether `now` was read during the current turn.
    now_fresh: Cell<bool>,
}

thread_local! {
    static HUB: Rc<Hub> = Rc::new(Hub::new());
    /// Whether this thread's hub exists (checked without creating it).
    static ALIVE: Cell<bool> = const { Cell::new(false) };
}

/// Whether a blocking call made now on this thread can wait cooperatively: the thread already
/// has a hub, the caller is not a hub callback, and it is not unwinding. Never creates a hub.
/// (Used by `grove-patch` to decide whether to park or to fall back to libc behaviour.)
pub fn is_cooperative() -> bool {
    // The running greenlet is `Running` while its own code runs; the scheduler runs on the
    // main greenlet's stack while main is parked (or ready, or in a switch), and must never
    // park.
    ALIVE.try_with(Cell::get).unwrap_or(false)
        && !std::thread::panicking()
        && try_with(|h| {
            !h.in_callback.get()
                && h.current.try_borrow().is_ok_and(|c| c.state.get() == State::Running)
        })
        .unwrap_or(false)
}

/// Runs `f` with this thread's hub (created on first use).
#[inline]
pub(crate) fn with<R>(f: impl FnOnce(&Hub) -> R) -> R {
    HUB.with(|h| f(h))
}

/// Like [`with`], but `None` once the thread's hub has been destroyed (thread exit).
pub(crate) fn try_with<R>(f: impl FnOnce(&Hub) -> R) -> Option<R> {
    HUB.try_with(|h| f(h)).ok()
}

/// The running greenlet.
#[inline]
pub(crate) fn current() -> FiberRef {
    with(|h| h.current.borrow().clone())
}

impl Hub {
    fn new() -> Hub {
        overflow::install();
        overflow::ensure_altstack();
        let index = NEXT_HUB.fetch_add(1, Ordering::Relaxed);
        let poll = mio::Poll::new().expect("grove: cannot create the hub's epoll instance");
        let waker = mio::Waker::new(poll.registry(), WAKER_TOKEN)
            .expect("grove: cannot create the hub's eventfd waker");
        let (loc, created) = (Location::caller(), Instant::now());
        let main_fiber = Fiber::new(index << 40, Kind::Main, None, loc, (0, 0), 0, created);
        main_fiber.set_name("main".into());
        let main = FiberRef(Rc::new(main_fiber));
        let hub = Hub {
            index,
            current: RefCell::new(main.clone()),
            switch_target: RefCell::new(None),
            main,
            next_id: Cell::new(1),
            ready: RefCell::new(VecDeque::new()),
            callbacks: RefCell::new(VecDeque::new()),
            timers: RefCell::new(Timers::new()),
            fibers: RefCell::new(Slab::new()),
            pool: RefCell::new(StackPool::new(DEFAULT_STACK_SIZE, 16_384)),
            poll: RefCell::new(poll),
            events: RefCell::new(mio::Events::with_capacity(1024)),
            sources: RefCell::new(Slab::new()),
            io_waiters: Cell::new(0),
            remote: Arc::new(Remote::new(waker, index)),
            in_callback: Cell::new(false),
            budget: Cell::new(BUDGET),
            turns_since_poll: Cell::new(0),
            last_poll: Cell::new(Instant::now()),
            switches: Cell::new(0),
            turns: Cell::new(0),
            spawned: Cell::new(0),
            now: Cell::new(Instant::now()),
            now_fresh: Cell::new(false),
        };
        // Only now: until the hub is built and stored, `is_cooperative` must say no without
        // touching `HUB` (a hooked call made while building it — grove-patch's futex hook on a
        // contended lock — would otherwise initialise it again, re-entrantly, and the
        // replaced copy's drop would clear this flag for good).
        let _ = ALIVE.try_with(|a| a.set(true));
        hub
    }

    /// The hub's clock for the current loop turn (see [`now`]): the first use in a turn reads
    /// the system clock, later ones reuse it, and turns that never ask pay nothing.
    pub(crate) fn clock(&self) -> Instant {
        if !self.now_fresh.replace(true) {
            self.now.set(Instant::now());
        }
        self.now.get()
    }

    pub(crate) fn next_id(&self) -> u64 {
        let n = self.next_id.get();
        self.next_id.set(n + 1);
        (self.index << 40) | n
    }

    /// Records a new greenlet in the live table.
    pub(crate) fn adopt(&self, f: &FiberRef) {
        let mut fibers = self.fibers.borrow_mut();
        f.key.set(fibers.insert(f.clone()));
        self.remote.monitor.others.store(fibers.len(), Ordering::Relaxed);
        drop(fibers);
        self.spawned.set(self.spawned.get() + 1);
    }

    /// A token for the running greenlet's next park.
    #[inline]
    pub(crate) fn token(&self) -> Token {
        let fiber = self.current.borrow().clone();
        let seq = fiber.seq.get();
        Token { fiber, seq }
    }

    pub(crate) fn registry<R>(&self, f: impl FnOnce(&mio::Registry) -> R) -> R {
        f(self.poll.borrow().registry())
    }

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
            timer = Some(self.timers.borrow_mut().insert(d, TimerAction::Wake(tok)));
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
    fn expire_scope(cur: &FiberRef) -> ! {
        panic::resume_unwind(Box::new(ScopeExpired(cur.deadline_owner.get())))
    }

    /// Resumed with a message while waiting in the hub: it can only be a kill. Unwinds.
    fn take_throw(cur: &FiberRef) -> ! {
        let msg = cur.take_inbox();
        match msg {
            Some(Message::Throw(p)) => panic::resume_unwind(p),
            _ => unreachable!("grove: a greenlet waiting in the hub was resumed by a switch"),
        }
    }

    fn resumed(&self, cur: &FiberRef, timer: Option<TimerId>) {
        cur.seq.set(cur.seq.get() + 1);
        cur.state.set(State::Running);
        cur.waiting_on.set("");
        if let Some(t) = timer {
            self.timers.borrow_mut().cancel(t);
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
        if self.in_callback.get() {
            panic!(
                "grove: a hub callback or timer action tried to switch greenlets; callbacks \
                 run on the hub's own stack and cannot switch: spawn a greenlet instead"
            );
        }
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
        if !std::thread::panicking() {
            // Not unwinding: any kill delivered earlier has been caught.
            cur.killed.set(false);
        }
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
        match back {
            Input::Message => cur.take_inbox(),
            _ => None,
        }
    }

    /// Main only: runs the scheduler until main is resumed; returns what it is resumed with.
    fn schedule(&self) -> Input {
        self.remote.monitor.enter(0, None);
        let input = self.schedule_loop();
        self.remote.monitor.enter(self.main.id, Some(self.main.location));
        input
    }

    fn schedule_loop(&self) -> Input {
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
    fn run(&self, f: FiberRef, input: Input) {
        let mut next = Some((f, input));
        while let Some((f, mut input)) = next.take() {
            if f.state.get() == State::Dead {
                continue;
            }
            if f.kill_pending.replace(false) {
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
                            crate::diag::report(format_args!(
                                "greenlet #{} (spawned at {}) panicked and no parent can \
                                 receive it: {}",
                                f.id,
                                f.location,
                                crate::greenlet::panic_message(&*p)
                            ));
                        }
                        _ => {}
                    }
                }
            }
        }
    }

    /// Where control goes after a switch to `t` (its message is in its inbox): main is
    /// resumed through the ready queue, another greenlet directly.
    fn route(&self, t: FiberRef) -> Option<(FiberRef, Input)> {
        if t.is_main() {
            t.state.set(State::Ready);
            self.ready.borrow_mut().push_front((t, Input::Message));
            None
        } else {
            Some((t, Input::Message))
        }
    }

    /// The nearest ancestor of a finished raw greenlet that is waiting in switch().
    fn receiving_parent(&self, f: &FiberRef) -> Option<FiberRef> {
        let mut p = f.parent();
        f.set_parent(None);
        while let Some(cand) = p {
            match cand.state.get() {
                State::Suspended | State::New => return Some(cand),
                State::Dead => p = cand.parent(),
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
    fn escaped(&self, f: &FiberRef, p: Box<dyn std::any::Any + Send>) {
        crate::diag::report(format_args!(
            "a panic escaped greenlet #{} (spawned at {}): {}",
            f.id,
            f.location,
            crate::greenlet::panic_message(&*p)
        ));
        if f.kind == Kind::Task && !p.is::<GreenletExit>() && f.result.borrow().is_none() {
            f.set_panic(p);
        }
        self.finish(f);
    }

    /// Bookkeeping when a greenlet's function has returned.
    fn finish(&self, f: &FiberRef) {
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
        f.set_parent(None);
        self.forget(f);
        Self::notify_joiners(f);
    }

    fn notify_joiners(f: &FiberRef) {
        let joiners = std::mem::take(&mut *f.joiners.borrow_mut());
        for t in joiners {
            t.wake();
        }
        let wakers = f.take_wakers();
        for w in wakers {
            w.wake();
        }
    }

    fn forget(&self, f: &FiberRef) {
        if f.has_name() {
            self.remote.monitor.names.lock().unwrap_or_else(|e| e.into_inner()).remove(&f.id);
        }
        let key = f.key.replace(usize::MAX);
        if key != usize::MAX {
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
            State::Parked | State::Suspended => {
                f.kill_pending.set(true);
                f.state.set(State::Ready);
                self.ready.borrow_mut().push_front((f.clone(), Input::Wake(Wake::Normal)));
            }
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
        if self.in_callback.get() {
            f.set_parent(None);
            self.kill(f);
            return;
        }
        f.set_parent(Some(self.current.borrow().clone()));
        f.kill_pending.set(false);
        f.killed.set(true);
        let back = self.switch_to(f.clone(), Message::Throw(Box::new(GreenletExit)));
        if let Some(Message::Throw(p)) = back {
            // Raising it here would be raising from a destructor.
            crate::diag::report(format_args!(
                "greenlet #{} panicked while being unwound on collection: {}",
                f.id,
                crate::greenlet::panic_message(&*p)
            ));
        }
    }

    /// Queues a callback for the next loop turn.
    pub(crate) fn add_callback(&self, f: Box<dyn FnOnce()>) {
        self.callbacks.borrow_mut().push_back(f);
    }

    /// One loop turn: callbacks, remote wakeups, I/O poll, timers. See the module docs.
    fn turn(&self) {
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
            let has_sources = !self.sources.borrow().is_empty();
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
            } else if self.io_waiters.get() > 0 || !self.remote.gate.deadlocked() {
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

    fn run_callbacks(&self) {
        let n = self.callbacks.borrow().len();
        for _ in 0..n {
            let cb = self.callbacks.borrow_mut().pop_front();
            let Some(cb) = cb else { break };
            self.guarded(cb);
        }
    }

    /// Runs hub-side code (callback, timer action, remote call) with blocking forbidden; a
    /// panic is reported and does not take the hub down.
    fn guarded(&self, f: impl FnOnce()) {
        self.in_callback.set(true);
        let r = panic::catch_unwind(AssertUnwindSafe(f));
        self.in_callback.set(false);
        if let Err(p) = r {
            let msg = crate::greenlet::panic_message(&*p);
            crate::diag::report(format_args!("a hub callback panicked: {msg}"));
        }
    }

    fn fire_timers(&self, now: Instant) {
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
            }
        }
    }

    fn poll_io(&self, timeout: Option<Duration>) {
        self.turns_since_poll.set(0);
        let mut events = self.events.borrow_mut();
        let r = self.poll.borrow_mut().poll(&mut events, timeout);
        // Time passed while polling (possibly blocked): the clock must be read again.
        self.now_fresh.set(false);
        self.last_poll.set(self.clock());
        if let Err(e) = r {
            if e.kind() != std::io::ErrorKind::Interrupted {
                crate::diag::report(format_args!("epoll_wait failed: {e}"));
            }
            return;
        }
        let sources = self.sources.borrow();
        for ev in events.iter() {
            if ev.token() == WAKER_TOKEN {
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
    }

    fn drain_remote(&self) {
        for msg in self.remote.take() {
            match msg {
                RemoteMsg::Wake { key, id, seq } => {
                    let f = if key == MAIN_KEY {
                        Some(self.main.clone())
                    } else {
                        self.fibers.borrow().get(key).cloned()
                    };
                    if let Some(f) = f.filter(|f| f.id == id) {
                        Token { fiber: f, seq }.wake();
                    }
                }
                RemoteMsg::Call(f) => self.guarded(f),
            }
        }
    }

    /// Nothing can ever wake the main greenlet: make its blocking call fail.
    fn deadlock(&self) {
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
    fn trim_when_idle(&self) {
        if let Ok(mut pool) = self.pool.try_borrow_mut() {
            pool.trim();
        }
    }

    pub(crate) fn stats(&self) -> HubStats {
        let pool = self.pool.borrow();
        HubStats {
            switches: self.switches.get(),
            turns: self.turns.get(),
            spawned: self.spawned.get(),
            alive: self.fibers.borrow().len(),
            stacks_pooled: pool.pooled(),
            stacks_allocated: pool.allocated(),
            timers: self.timers.borrow().len(),
            io_sources: self.sources.borrow().len(),
        }
    }

    /// Snapshot of every live greenlet (main first).
    pub(crate) fn live(&self) -> Vec<FiberRef> {
        let mut v = vec![self.main.clone()];
        v.extend(self.fibers.borrow().iter().map(|(_, f)| f.clone()));
        v
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
                crate::diag::report(format_args!(
                    "{} greenlet(s) survived being killed at shutdown and were abandoned",
                    live.len()
                ));
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
        for a in self.timers.borrow_mut().drain() {
            drop(a);
        }
        self.callbacks.borrow_mut().clear();
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        let _ = ALIVE.try_with(|a| a.set(false));
        // Thread exit without `grove::run`'s orderly shutdown: greenlets still alive cannot be
        // resumed now (their code may need this very thread-local), so their stacks are leaked
        // rather than unwound. Closures of greenlets that never ran, callbacks and queued
        // remote calls are dropped; their destructors run with the hub gone (waking a waiter
        // then does nothing), and a panic among them must not escape a thread-local's
        // destructor (that aborts).
        let quietly = |f: &mut dyn FnMut()| {
            if let Err(p) = panic::catch_unwind(AssertUnwindSafe(f)) {
                std::mem::forget(p);
            }
        };
        for m in self.remote.close() {
            let mut m = Some(m);
            quietly(&mut || drop(m.take()));
        }
        let live: Vec<FiberRef> = self.fibers.get_mut().drain().collect();
        self.ready.get_mut().clear();
        for f in live {
            let coro = f.coro.borrow_mut().take();
            if let Some(c) = coro {
                if c.started() && !c.done() {
                    std::mem::forget(c);
                    self.pool.get_mut().forget_one();
                } else {
                    let mut c = Some(c);
                    quietly(&mut || drop(c.take()));
                }
            }
            f.joiners.borrow_mut().clear();
            f.set_parent(None);
        }
        let mut callbacks = std::mem::take(self.callbacks.get_mut());
        quietly(&mut || callbacks.clear());
        let mut timers = self.timers.get_mut().drain();
        quietly(&mut || timers.clear());
    }
}

/// One live greenlet as reported by [`run_info`].
#[derive(Debug, Clone)]
pub struct GreenletInfo {
    /// Process-unique id.
    pub id: u64,
    /// Name, if set.
    pub name: Option<String>,
    /// `running`, `ready`, `blocked on <what>`, `waiting in switch`, `not started`.
    pub state: String,
    /// Where it was spawned (`file:line:col`).
    pub location: String,
    /// Time since it was created (measured with the hub's per-turn clock).
    pub age: Duration,
}

impl std::fmt::Display for GreenletInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "#{} ", self.id)?;
        if let Some(n) = &self.name {
            write!(f, "'{n}' ")?;
        }
        write!(f, "{} (spawned at {}, age {:.3?})", self.state, self.location, self.age)
    }
}

/// Every live greenlet of this thread's hub, main first (gevent's `format_run_info`).
pub fn run_info() -> Vec<GreenletInfo> {
    let now = Instant::now();
    with(|h| {
        h.live()
            .iter()
            .map(|f| GreenletInfo {
                id: f.id,
                name: f.name(),
                state: match f.state.get() {
                    State::New => "not started".into(),
                    State::Ready => "ready".into(),
                    State::Running => "running".into(),
                    State::Parked => format!("blocked on {}", f.waiting_on.get()),
                    State::Suspended => "waiting in switch".into(),
                    State::Dead => "dead".into(),
                },
                location: f.location.to_string(),
                age: now.saturating_duration_since(f.created),
            })
            .collect()
    })
}

/// Re-arms a kill that the running greenlet could not take where it happened (for example
/// inside an `extern "C"` function, which must not unwind): it unwinds at its next blocking
/// point instead. No effect on the main greenlet.
pub fn defer_kill() {
    with(|h| {
        let cur = h.current.borrow().clone();
        if !cur.is_main() {
            cur.killed.set(false);
            cur.kill_pending.set(true);
        }
    })
}

/// Whether the running greenlet has a kill re-armed by [`defer_kill`] that has not landed yet
/// (for `grove-patch`: its hooked calls fail at once until the kill lands). Never for main.
#[doc(hidden)]
pub fn kill_deferred() -> bool {
    ALIVE.try_with(Cell::get).unwrap_or(false)
        && try_with(|h| h.current.try_borrow().is_ok_and(|c| !c.is_main() && c.kill_pending.get()))
            .unwrap_or(false)
}

/// Parks the running greenlet until the token handed to `arm` is used (from any thread), or
/// `deadline` passes; like every blocking call it unwinds when killed or when an enclosing
/// `timeout` scope expires. `arm` registers the token wherever the wakeup will come from; if
/// it returns false, nothing is parked. Returns `None` then, else whether the token woke it
/// (`Some(false)`: the deadline passed). For `grove-patch`'s futex hook.
#[doc(hidden)]
pub fn park_remote(
    arm: impl FnOnce(RemoteToken) -> bool,
    deadline: Option<Instant>,
    what: &'static str,
) -> Option<bool> {
    with(|h| {
        if !arm(h.token().to_remote()) {
            return None;
        }
        Some(h.park(deadline, what) == Wake::Normal)
    })
}

/// Runs `f` with the running greenlet's deferred kill (see [`defer_kill`]) and the deadline of
/// its `timeout` scopes set aside, then puts both back (also when `f` unwinds): blocking calls
/// inside `f` wait normally instead of unwinding at once. A new kill during `f` unwinds it as
/// usual. For `grove-patch`, whose hooks cannot unwind: a killed or timed-out greenlet's hooked
/// sleep or futex wait still waits cooperatively instead of returning at once and spinning.
#[doc(hidden)]
pub fn shielded<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(FiberRef, bool, Option<Instant>);
    impl Drop for Restore {
        fn drop(&mut self) {
            self.0.deadline.set(self.2);
            if self.1 {
                self.0.killed.set(false);
                self.0.kill_pending.set(true);
            }
        }
    }
    let cur = current();
    let kill = !cur.is_main() && cur.kill_pending.replace(false);
    let deadline = cur.deadline.replace(None);
    let _restore = Restore(cur, kill, deadline);
    f()
}

/// A coarse clock: read from the system at most once per loop turn of this thread's hub (on
/// the first call in that turn; later calls reuse it). It lags real time by at most one turn
/// of the loop, which is fine for timeouts measured in milliseconds or more (use
/// `Instant::now` for precise timing).
pub fn now() -> Instant {
    with(|h| h.clock())
}

/// Counters of this thread's hub.
pub fn stats() -> HubStats {
    with(|h| h.stats())
}

/// Runs `f` on this thread's hub at the start of its next loop turn (Tornado's
/// `IOLoop.add_callback`). Callbacks run in the order added, on the hub, and must not block:
/// a blocking call inside one panics with a clear message. A panicking callback is reported
/// on stderr and does not affect the hub.
pub fn add_callback(f: impl FnOnce() + 'static) {
    with(|h| h.add_callback(Box::new(f)))
}

/// Runs `f` on the hub after `delay` (Tornado's `call_later`); same rules as [`add_callback`].
/// Returns a handle whose `cancel` disarms it.
pub fn call_later(delay: Duration, f: impl FnOnce() + 'static) -> TimerHandle {
    // A delay too large for `Instant` never comes: no timer at all.
    let id = crate::time::deadline_after(delay)
        .map(|d| with(|h| h.timers.borrow_mut().insert(d, TimerAction::Call(Box::new(f)))));
    TimerHandle { id }
}

/// A timer armed with [`call_later`].
#[derive(Debug)]
pub struct TimerHandle {
    id: Option<TimerId>,
}

impl TimerHandle {
    /// Disarms the timer; returns whether it had not fired yet.
    pub fn cancel(self) -> bool {
        let Some(id) = self.id else { return true };
        with(|h| h.timers.borrow_mut().cancel(id).is_some())
    }
}

/// Sets the usable stack size of greenlets spawned on this thread's hub from now on (rounded up
/// to whole pages). Spawns can still override it with [`Builder::stack_size`](crate::Builder).
pub fn set_stack_size(bytes: usize) {
    with(|h| h.pool.borrow_mut().set_stack_size(bytes))
}

/// The usable stack size greenlets get by default on this thread's hub.
pub fn stack_size() -> usize {
    with(|h| h.pool.borrow().stack_size())
}

/// Sets how many free stacks this thread's hub keeps for reuse (default 16,384).
pub fn set_stack_pool_max(max: usize) {
    with(|h| h.pool.borrow_mut().set_max(max))
}
