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

pub(crate) mod fiber;
mod gate;
mod info;
mod reactor;
mod remote;
mod sched;
pub(crate) mod timers;
mod token;
mod turn;

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
use crate::hub::fiber::{Fiber, FiberRef, Input, Kind, State, Wake};
use timers::{TimerId, Timers};

pub use info::{run_info, stats, GreenletInfo, HubStats};
pub(crate) use reactor::{IoState, Reactor};
#[doc(hidden)]
pub use remote::RemoteToken;
pub(crate) use remote::{Remote, RemoteMsg};
pub(crate) use token::ScopeExpired;
pub(crate) use token::Token;
pub use token::{is_scope_expiry, WaitError};

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
    /// The deadline of a `timeout` scope passed while its greenlet waits in a `switch`: make
    /// it unwind to the scope (if it still waits in that switch).
    Expire(Token),
}

/// The per-thread hub.
pub(crate) struct Hub {
    index: u64,
    main: FiberRef,
    current: RefCell<FiberRef>,
    /// Where a greenlet that suspended with `Output::Switch` wants to go.
    switch_target: RefCell<Option<FiberRef>>,
    next_id: Cell<u64>,
    ready: RefCell<VecDeque<(FiberRef, Input)>>,
    callbacks: RefCell<VecDeque<Box<dyn FnOnce()>>>,
    timers: RefCell<Timers<TimerAction>>,
    fibers: RefCell<Slab<FiberRef>>,
    pool: RefCell<StackPool>,
    reactor: Reactor,
    remote: Arc<Remote>,
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
#[doc(hidden)]
pub fn is_cooperative() -> bool {
    // The running greenlet is `Running` while its own code runs; the scheduler runs on the
    // main greenlet's stack while main is parked (or ready, or in a switch), and must never
    // park.
    !std::thread::panicking()
        && with_existing(|h| {
            !h.in_callback.get()
                && h.current.try_borrow().is_ok_and(|c| c.state.get() == State::Running)
        })
        .unwrap_or(false)
}

/// The instant `dur` from now, or `None` ("never") when that is past what `Instant` can
/// represent (`Duration::MAX` and the like).
pub(crate) fn deadline_after(dur: Duration) -> Option<Instant> {
    Instant::now().checked_add(dur)
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

/// Runs `f` with this thread's hub if it has one (never creates it).
pub(crate) fn with_existing<R>(f: impl FnOnce(&Hub) -> R) -> Option<R> {
    if ALIVE.try_with(Cell::get).unwrap_or(false) {
        try_with(f)
    } else {
        None
    }
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
            reactor: Reactor::new(poll, WAKER_TOKEN),
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

    /// This hub's cross-thread side (wakeups, remote calls, load).
    pub(crate) fn remote(&self) -> &Arc<Remote> {
        &self.remote
    }

    /// The hub's process-wide number.
    pub(crate) fn index(&self) -> u64 {
        self.index
    }

    /// Arms a timer that runs `action` at `at`.
    pub(crate) fn arm_timer(&self, at: Instant, action: TimerAction) -> TimerId {
        self.timers.borrow_mut().insert(at, action)
    }

    /// Disarms a timer; returns whether it had not fired yet.
    pub(crate) fn cancel_timer(&self, id: TimerId) -> bool {
        // The action is dropped after the borrow ends: its destructor may use the hub.
        let action = self.timers.borrow_mut().cancel(id);
        action.is_some()
    }

    pub(crate) fn next_id(&self) -> u64 {
        let n = self.next_id.get();
        self.next_id.set(n + 1);
        (self.index << 40) | n
    }

    /// Records a new greenlet in the live table.
    pub(crate) fn adopt(&self, f: &FiberRef) {
        let mut fibers = self.fibers.borrow_mut();
        f.set_key(fibers.insert(f.clone()));
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

    /// The fd readiness table.
    pub(crate) fn reactor(&self) -> &Reactor {
        &self.reactor
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
                    // Leaked with its stack (the pool goes with the hub: no count to fix).
                    std::mem::forget(c);
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

/// Re-arms a kill that the running greenlet could not take where it happened (for example
/// inside an `extern "C"` function, which must not unwind): it unwinds at its next blocking
/// point instead. No effect on the main greenlet.
#[doc(hidden)]
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
    with_existing(|h| h.current.try_borrow().is_ok_and(|c| !c.is_main() && c.kill_pending.get()))
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
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// let deadline = grove::hub::now() + Duration::from_millis(10);
/// grove::sleep_until(deadline);
/// ```
pub fn now() -> Instant {
    with(|h| h.clock())
}

/// Runs `f` on this thread's hub at the start of its next loop turn (Tornado's
/// `IOLoop.add_callback`). Callbacks run in the order added, on the hub, and must not block:
/// a blocking call inside one panics with a clear message. A panicking callback is reported
/// on stderr and does not affect the hub.
///
/// # Examples
///
/// ```
/// use std::cell::Cell;
/// use std::rc::Rc;
/// let ran = Rc::new(Cell::new(false));
/// let r = ran.clone();
/// grove::add_callback(move || r.set(true));
/// grove::yield_now(); // the hub takes a loop turn
/// assert!(ran.get());
/// ```
pub fn add_callback(f: impl FnOnce() + 'static) {
    with(|h| h.add_callback(Box::new(f)))
}

/// Runs `f` on the hub after `delay` (Tornado's `call_later`); same rules as [`add_callback`].
/// Returns a handle whose `cancel` disarms it.
///
/// # Examples
///
/// ```
/// use std::cell::Cell;
/// use std::rc::Rc;
/// use std::time::Duration;
/// let fired = Rc::new(Cell::new(false));
/// let f = fired.clone();
/// let _timer = grove::call_later(Duration::from_millis(5), move || f.set(true));
/// grove::sleep(Duration::from_millis(20));
/// assert!(fired.get());
/// ```
pub fn call_later(delay: Duration, f: impl FnOnce() + 'static) -> TimerHandle {
    // A delay too large for `Instant` never comes: no timer at all.
    let id =
        deadline_after(delay).map(|d| with(|h| h.arm_timer(d, TimerAction::Call(Box::new(f)))));
    TimerHandle { id }
}

/// A timer armed with [`call_later`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// let timer = grove::call_later(Duration::from_secs(60), || println!("too late"));
/// assert!(timer.cancel()); // disarmed before it fired
/// ```
#[derive(Debug)]
pub struct TimerHandle {
    id: Option<TimerId>,
}

impl TimerHandle {
    /// Disarms the timer; returns whether it had not fired yet.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let timer = grove::call_later(Duration::from_millis(1), || ());
    /// grove::sleep(Duration::from_millis(10));
    /// assert!(!timer.cancel()); // it already fired
    /// ```
    pub fn cancel(self) -> bool {
        let Some(id) = self.id else { return true };
        with(|h| h.cancel_timer(id))
    }
}

/// Sets the usable stack size of greenlets spawned on this thread's hub from now on (rounded up
/// to whole pages). Spawns can still override it with [`Builder::stack_size`](crate::Builder).
///
/// # Examples
///
/// ```
/// grove::hub::set_stack_size(512 * 1024);
/// assert_eq!(grove::hub::stack_size(), 512 * 1024);
/// ```
pub fn set_stack_size(bytes: usize) {
    with(|h| h.pool.borrow_mut().set_stack_size(bytes))
}

/// The usable stack size greenlets get by default on this thread's hub.
///
/// # Examples
///
/// ```
/// let bytes = grove::hub::stack_size();
/// assert!(bytes >= 64 * 1024);
/// ```
pub fn stack_size() -> usize {
    with(|h| h.pool.borrow().stack_size())
}

/// Gives the pages of the running greenlet's stack below its current depth back to the kernel:
/// for a greenlet that once ran deep and is about to wait for a long time (an idle keep-alive
/// connection between requests keeps only the pages its waiting frames use). Costs one system
/// call; the pages come back, zeroed, when the greenlet runs deep again. Does nothing on a
/// thread's own stack.
///
/// # Examples
///
/// ```
/// let h = grove::spawn(|| {
///     let deep = [1u8; 32 * 1024]; // touches eight pages of this greenlet's stack
///     let sum: u32 = std::hint::black_box(&deep).iter().map(|&b| u32::from(b)).sum();
///     grove::hub::release_unused_stack(); // before a long wait
///     grove::sleep(std::time::Duration::from_millis(1));
///     sum
/// });
/// assert_eq!(h.join().unwrap(), 32 * 1024);
/// ```
pub fn release_unused_stack() {
    let _ = try_with(|h| {
        if let Some((lo, size)) = h.current.borrow().overflow.usable() {
            crate::ctx::release_below_current(lo, size);
        }
    });
}

/// For tests: every stack mapped from now on (process-wide) gets a `PROT_NONE` guard page,
/// as on kernels without guard regions (before Linux 6.13). Not part of grove's API.
#[doc(hidden)]
pub fn force_mprotect_guards() {
    crate::ctx::force_mprotect_guards();
}

/// Kernel mappings each live greenlet stack may take (1 with guard regions, 2 with
/// `PROT_NONE` guard pages). Not part of grove's API.
#[doc(hidden)]
pub fn maps_per_stack() -> usize {
    crate::ctx::maps_per_stack()
}

/// Sets how many free stacks this thread's hub keeps for reuse (default 16,384). While more
/// greenlets than that were alive at once within the last 10–20 s, the hub keeps that many
/// (so bursts larger than the cap reuse their stacks instead of re-mapping them); 0 turns
/// stack reuse off.
///
/// # Examples
///
/// ```
/// // Keep at most 100 finished greenlets' stacks mapped for reuse.
/// grove::hub::set_stack_pool_max(100);
/// ```
pub fn set_stack_pool_max(max: usize) {
    with(|h| h.pool.borrow_mut().set_max(max))
}
