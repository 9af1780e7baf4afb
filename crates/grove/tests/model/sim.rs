//! The reference model: a discrete-event simulator of the semantics in
//! `notes/semantics.md` and DESIGN.md, written from the spec and sharing no code with grove.
//!
//! - Virtual time `now` (a slot number) moves only when nothing is ready: the earliest armed
//!   timer fires (slots are unique per program, so there is never a tie between greenlets).
//! - One FIFO ready queue. `spawn`, wakeups and `yield` queue at the back; a kill of a
//!   greenlet blocked in the hub queues it at the FRONT (grove's choice: the victim unwinds
//!   before anything else runs, so `kill()` returns soon).
//! - Explicit wait lists per primitive, holding only greenlets that are blocked there. A
//!   killed waiter leaves its list at once (it takes no notification on its way out); a waiter
//!   that was handed a notification, an item slot or a permit and is killed before it runs
//!   passes it to the next waiter (a permit nobody waits for becomes free again).
//! - Timeout scopes (item 1): a blocking call whose scope deadline passes (or has passed when
//!   it would block) unwinds to the scope owning the earliest deadline (with equal deadlines,
//!   the outer one); a call's own deadline not later than the scope's wins and returns the
//!   call's own TimedOut. Calls that complete without blocking never notice a deadline.
//! - Event (item 3): a waiter woken by `set` returns true even if the event is cleared before
//!   it runs; a `wait` that finds the event set yields once first if waiters woken by a `set`
//!   have not run yet (a yield that, like any, unwinds in an expired scope).
//! - Semaphore: FIFO hand-off; a release with waiters grants the permit to the first; a free
//!   permit exists only while nobody waits, so an acquire with a free permit never blocks.
//! - Queue: grove's documented algorithm (waiters are notified, then retake the item or the
//!   room; a newcomer finding an item or room takes it; bounded `put` queues behind blocked
//!   putters).
//! - Deadlock (item 7): when nothing is ready, no timer is armed and main is blocked, main's
//!   call fails with its Deadlock error.
//!
//! Two calls take a `Duration` (`Event::wait_timeout`, `JoinHandle::wait_timeout`); with a
//! deadline already past, the harness polls (`is_set`/`is_finished`) instead of asking for a
//! zero timeout, whose outcome depends on how fresh the hub's clock is.

use std::collections::{BTreeMap, VecDeque};

use super::program::{Op, Program, Slot, G};
use super::trace::{End, Ev, Fail, Outcome};

/// How often each interesting situation occurred (to show the generator reaches them).
pub(crate) type Coverage = BTreeMap<String, u64>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum St {
    Unspawned,
    /// Spawned, never run.
    New,
    Ready,
    Running,
    Parked,
    Dead,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Input {
    Start,
    Normal,
    OwnTimeout,
    /// The deadline of the scope in frame `.0` passed.
    ScopeTimeout(usize),
    Deadlock,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Wait {
    Get(usize),
    Put(usize, u32),
    Event(usize),
    /// Found the event set, yielding behind waiters that were woken and have not run.
    EventYield(usize),
    Acquire(usize),
    Join(G),
    JoinUntil(G),
    Kill(G),
    Sleep,
    Forever,
    Yield,
}

impl Wait {
    fn name(self) -> &'static str {
        match self {
            Wait::Get(_) => "get",
            Wait::Put(..) => "put",
            Wait::Event(_) => "wait",
            Wait::EventYield(_) => "wait_yield",
            Wait::Acquire(_) => "acquire",
            Wait::Join(_) => "join",
            Wait::JoinUntil(_) => "join_until",
            Wait::Kill(_) => "kill",
            Wait::Sleep => "sleep",
            Wait::Forever => "sleep_forever",
            Wait::Yield => "yield",
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Park {
    wait: Wait,
    own: Option<Slot>,
}

struct Frame<'p> {
    ops: &'p [Op],
    pc: usize,
    /// Scope id and deadline; `None` for the greenlet's body.
    scope: Option<(u32, Option<Slot>)>,
    /// Semaphores of the permits held by this frame, in acquisition order.
    permits: Vec<usize>,
    /// Legacy scopes: the enclosing hit flag, the enclosing deadline, this scope's effective
    /// deadline.
    saved: (bool, Option<Slot>, Slot),
}

struct Gl<'p> {
    st: St,
    kill_pending: bool,
    frames: Vec<Frame<'p>>,
    /// The call it is blocked in (parked, or woken and not yet run).
    park: Option<Park>,
    timer: Option<(Slot, Input)>,
    /// Holds a notification (queue) or a granted permit (semaphore) it has not used yet.
    notified: bool,
    /// Woken by `set` of this event and not run since.
    woken_by: Option<usize>,
    end: End,
    /// Greenlets blocked joining (or killing) this one, in order.
    joiners: Vec<G>,
    /// Main only: its script is done and it is killing what is left.
    cleanup: bool,
    /// Legacy scopes: a blocking call was cut short by the current scope deadline.
    hit: bool,
    /// Legacy killed waiters: woken by a notification passed on by a killed waiter.
    spurious: bool,
    /// Legacy killed waiters: killed while blocked; its entry may still be in the list.
    killed_parked: bool,
}

struct MQueue {
    cap: Option<usize>,
    items: VecDeque<u32>,
    getters: VecDeque<G>,
    putters: VecDeque<G>,
}

impl MQueue {
    fn full(&self) -> bool {
        self.cap.is_some_and(|c| self.items.len() >= c)
    }
}

struct MEvent {
    set: bool,
    waiters: VecDeque<G>,
}

struct MSem {
    permits: usize,
    /// Permits granted to woken waiters, not picked up yet.
    reserved: usize,
    waiters: VecDeque<G>,
}

/// Switches back to today's behaviour for items of `notes/semantics.md`, for triage only: a
/// disagreement that disappears with a switch on is explained by that item.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Legacy {
    /// Item 3: a waiter woken by `set` that finds the event cleared waits again.
    pub event_clear: bool,
    /// Item 3: `wait` on a set event returns at once, even ahead of woken waiters.
    pub event_yield: bool,
    /// Item 1: a scope's deadline makes blocking calls return their own timed-out result (a
    /// join reports success, a kill returns, a sleep ends) and every later blocking call in
    /// the scope returns at once; the scope returns `Err(Elapsed)` if a call was cut short
    /// (an inner scope also when the outer's deadline did it, which then marks the outer);
    /// `yield_now` ignores deadlines. Needs `GROVE_MODEL_EXCLUDE=scope_forever,sleep_forever`
    /// (`Duration::MAX` overflows today).
    pub scopes: bool,
    /// Item 1: `timeout(Duration::MAX, ..)` and `sleep(Duration::MAX)` panic (`Instant`
    /// overflow).
    pub duration_max: bool,
    /// Today's wait lists: a killed waiter's token stays queued; a wakeup skips (and drops)
    /// it; the victim, unwinding, finds its token gone and passes on a notification it never
    /// got (for a semaphore with nobody left to take it: it frees a permit reserved for a
    /// woken waiter, which then waits again).
    pub killed_waiters: bool,
    /// Today's semaphore: a free permit is refused (`try_acquire` fails, `acquire` blocks)
    /// while a permit granted to a woken waiter has not been picked up.
    pub sem_reserved: bool,
}

impl Legacy {
    pub(crate) fn parse(s: &str) -> Legacy {
        let mut l = Legacy::default();
        for w in s.split(',').map(str::trim).filter(|w| !w.is_empty()) {
            match w {
                "event_clear" => l.event_clear = true,
                "event_yield" => l.event_yield = true,
                "scopes" => l.scopes = true,
                "duration_max" => l.duration_max = true,
                "killed_waiters" => l.killed_waiters = true,
                "sem_reserved" => l.sem_reserved = true,
                _ => panic!("GROVE_MODEL_LEGACY: unknown switch {w:?}"),
            }
        }
        l
    }
}

/// The model's verdict on a program.
pub(crate) struct ModelRun {
    pub outcome: Outcome,
    pub coverage: Coverage,
    /// Set when the program hits a corner the spec leaves open; it is then not compared.
    pub ambiguous: Option<String>,
}

pub(crate) struct Sim<'p> {
    p: &'p Program,
    legacy: Legacy,
    now: Slot,
    ready: VecDeque<(G, Input)>,
    gs: Vec<Gl<'p>>,
    qs: Vec<MQueue>,
    evs: Vec<MEvent>,
    sems: Vec<MSem>,
    traces: Vec<Vec<(Slot, Ev)>>,
    cov: Coverage,
    ambiguous: Option<String>,
    steps: usize,
    main_panic: Option<String>,
}

/// Runs `p` on the model.
pub(crate) fn run(p: &Program, legacy: Legacy) -> ModelRun {
    let n = p.greenlets();
    let mut sim = Sim {
        p,
        legacy,
        now: 0,
        ready: VecDeque::new(),
        gs: (0..n)
            .map(|_| Gl {
                st: St::Unspawned,
                kill_pending: false,
                frames: Vec::new(),
                park: None,
                timer: None,
                notified: false,
                woken_by: None,
                end: End::NotSpawned,
                joiners: Vec::new(),
                cleanup: false,
                hit: false,
                spurious: false,
                killed_parked: false,
            })
            .collect(),
        qs: p
            .queues
            .iter()
            .map(|&cap| MQueue {
                cap,
                items: VecDeque::new(),
                getters: VecDeque::new(),
                putters: VecDeque::new(),
            })
            .collect(),
        evs: (0..p.events).map(|_| MEvent { set: false, waiters: VecDeque::new() }).collect(),
        sems: p
            .sems
            .iter()
            .map(|&permits| MSem { permits, reserved: 0, waiters: VecDeque::new() })
            .collect(),
        traces: vec![Vec::new(); n],
        cov: Coverage::new(),
        ambiguous: None,
        steps: 0,
        main_panic: None,
    };
    sim.gs[0].st = St::Ready;
    sim.gs[0].end = End::Main;
    sim.ready.push_back((0, Input::Start));
    sim.main_loop();
    let ends = sim.gs.iter().map(|g| g.end.clone()).collect();
    ModelRun {
        outcome: Outcome {
            traces: sim.traces,
            ends,
            main_panic: sim.main_panic,
            leaks: Vec::new(),
        },
        coverage: sim.cov,
        ambiguous: sim.ambiguous,
    }
}

impl<'p> Sim<'p> {
    fn cover(&mut self, what: impl Into<String>) {
        *self.cov.entry(what.into()).or_default() += 1;
    }

    fn rec(&mut self, g: G, ev: Ev) {
        self.traces[g].push((self.now, ev));
    }

    fn main_loop(&mut self) {
        loop {
            self.steps += 1;
            assert!(self.steps < 100_000, "model: no progress (model bug)");
            if let Some((g, input)) = self.ready.pop_front() {
                self.step(g, input);
                continue;
            }
            if self.gs[0].st == St::Dead {
                return;
            }
            // Nothing ready: the earliest timer fires.
            let next = (0..self.gs.len())
                .filter(|&g| self.gs[g].st == St::Parked)
                .filter_map(|g| self.gs[g].timer.map(|(s, i)| (s, g, i)))
                .min_by_key(|&(s, g, _)| (s, g));
            if let Some((slot, g, input)) = next {
                let ties = (0..self.gs.len())
                    .filter(|&h| {
                        self.gs[h].st == St::Parked && self.gs[h].timer.is_some_and(|t| t.0 == slot)
                    })
                    .count();
                if ties > 1 {
                    self.ambiguous.get_or_insert_with(|| format!("two timers at slot {slot}"));
                }
                assert!(slot > self.now, "model: timer in the past (model bug)");
                self.now = slot;
                self.wake(g, input);
                continue;
            }
            assert_eq!(self.gs[0].st, St::Parked, "model: main neither ready, blocked nor done");
            let what = self.gs[0].park.map_or("?", |p| p.wait.name());
            self.cover(format!("main_deadlock:{what}"));
            self.wake(0, Input::Deadlock);
        }
    }

    /// Runs greenlet `g` from the ready queue until it blocks, yields or ends.
    fn step(&mut self, g: G, input: Input) {
        if self.gs[g].st == St::Dead {
            return; // a stale entry (killed before it started)
        }
        self.gs[g].st = St::Running;
        self.gs[g].woken_by = None;
        if self.gs[g].kill_pending {
            self.gs[g].kill_pending = false;
            self.unwind_kill(g);
            return;
        }
        let go = match input {
            Input::Start => {
                self.gs[g].frames = vec![Frame {
                    ops: &self.p.scripts[g],
                    pc: 0,
                    scope: None,
                    permits: Vec::new(),
                    saved: (false, None, 0),
                }];
                true
            }
            _ => {
                let park = self.gs[g].park.take().expect("model: resumed without a park");
                if matches!(input, Input::ScopeTimeout(_)) && !self.legacy.scopes {
                    self.cover(format!("scope_expired_in:{}", park.wait.name()));
                }
                self.complete(g, park, input)
            }
        };
        if go {
            self.exec(g);
        }
    }

    /// Executes `g`'s script from where it is until it blocks or ends.
    fn exec(&mut self, g: G) {
        loop {
            let gl = &mut self.gs[g];
            let Some(top) = gl.frames.last_mut() else {
                debug_assert_eq!(g, 0);
                if !self.cleanup_step() {
                    return;
                }
                continue;
            };
            if top.pc == top.ops.len() {
                let f = gl.frames.pop().unwrap();
                self.drop_permits(&f.permits);
                match f.scope {
                    Some((id, _)) if self.legacy.scopes => {
                        let gl = &mut self.gs[g];
                        let hit = gl.hit;
                        let (outer_hit, outer, mine) = f.saved;
                        gl.hit = outer_hit || (hit && outer.is_some_and(|o| o <= mine));
                        self.rec(g, if hit { Ev::ScopeElapsed(id) } else { Ev::ScopeOk(id) });
                    }
                    Some((id, _)) => self.rec(g, Ev::ScopeOk(id)),
                    None if g == 0 => self.gs[0].cleanup = true,
                    None => {
                        self.rec(g, Ev::Exit(true));
                        self.die(g, End::Value(100 + g as u32));
                        return;
                    }
                }
                continue;
            }
            let op = &top.ops[top.pc];
            top.pc += 1;
            if !self.op(g, op) {
                return;
            }
        }
    }

    /// Main after its script: kills the first greenlet still alive. False when main blocks
    /// or is done.
    fn cleanup_step(&mut self) -> bool {
        debug_assert!(self.gs[0].cleanup);
        let next = (1..self.gs.len()).find(|&c| !matches!(self.gs[c].st, St::Unspawned | St::Dead));
        let Some(c) = next else {
            self.gs[0].st = St::Dead;
            return false;
        };
        self.rec(0, Ev::Cleanup(c));
        self.kill(c);
        if self.gs[c].st == St::Dead {
            self.rec(0, Ev::Killed(c));
            return true;
        }
        self.park(0, Wait::Kill(c), None)
    }

    fn spawned(&self, c: G) -> bool {
        self.gs[c].st != St::Unspawned
    }

    fn dead(&self, c: G) -> bool {
        self.gs[c].st == St::Dead
    }

    /// Executes one op; false if `g` stopped running (blocked, yielded, died).
    fn op(&mut self, g: G, op: &'p Op) -> bool {
        match *op {
            Op::Spawn(c) => {
                assert_eq!(self.gs[c].st, St::Unspawned, "model: spawned twice");
                self.gs[c].st = St::New;
                self.gs[c].end = End::Killed; // until it returns
                self.ready.push_back((c, Input::Start));
                self.rec(g, Ev::Spawned(c));
                true
            }
            Op::Kill(c) | Op::KillNowait(c) => {
                let wait = matches!(op, Op::Kill(_));
                if !self.spawned(c) {
                    self.rec(g, Ev::NoHandle(c));
                    return true;
                }
                if c == g {
                    self.cover("kill_self");
                    self.unwind_kill(g);
                    return false;
                }
                self.kill(c);
                if !wait {
                    self.rec(g, Ev::KillSent(c));
                    true
                } else if self.dead(c) {
                    self.rec(g, Ev::Killed(c));
                    true
                } else {
                    self.park(g, Wait::Kill(c), None)
                }
            }
            Op::Join(c) => {
                if !self.spawned(c) {
                    self.rec(g, Ev::NoHandle(c));
                    true
                } else if self.dead(c) {
                    self.rec(g, Ev::Joined(c, Ok(())));
                    true
                } else {
                    self.park(g, Wait::Join(c), None)
                }
            }
            Op::JoinUntil(c, s) => {
                if !self.spawned(c) {
                    self.rec(g, Ev::NoHandle(c));
                    true
                } else if self.dead(c) {
                    self.rec(g, Ev::JoinedUntil(c, true));
                    true
                } else if s <= self.now {
                    self.rec(g, Ev::JoinedUntil(c, false)); // polled (see the module docs)
                    true
                } else {
                    self.check_duration_tie(g, s);
                    self.park(g, Wait::JoinUntil(c), Some(s))
                }
            }
            Op::Sleep(s) => self.park(g, Wait::Sleep, Some(s)),
            Op::SleepForever if self.legacy.duration_max => self.overflow(g),
            Op::SleepForever => self.park(g, Wait::Forever, None),
            Op::Yield => self.yield_(g, Wait::Yield),
            Op::Scope(_, None, _) if self.legacy.duration_max => self.overflow(g),
            Op::Scope(id, d, ref body) => {
                let outer = self.scope_deadline(g).map(|(o, _)| o);
                let mine = match (outer, d) {
                    (Some(o), Some(d)) => o.min(d),
                    (o, d) => o.or(d).unwrap_or(Slot::MAX),
                };
                let saved = (std::mem::take(&mut self.gs[g].hit), outer, mine);
                let frame =
                    Frame { ops: body, pc: 0, scope: Some((id, d)), permits: Vec::new(), saved };
                self.gs[g].frames.push(frame);
                true
            }
            Op::Get(q, d) => {
                if let Some(v) = self.take_item(q) {
                    self.rec(g, Ev::Got(q, Ok(v)));
                    true
                } else {
                    self.park(g, Wait::Get(q), d)
                }
            }
            Op::TryGet(q) => {
                let r = self.take_item(q).ok_or(Fail::Empty);
                self.rec(g, Ev::Got(q, r));
                true
            }
            Op::Put(q, v, d) => {
                if self.put_fast(q) {
                    self.push_item(q, v);
                    self.rec(g, Ev::Put(q, v, Ok(())));
                    true
                } else {
                    self.park(g, Wait::Put(q, v), d)
                }
            }
            Op::TryPut(q, v) => {
                if self.put_fast(q) {
                    self.push_item(q, v);
                    self.rec(g, Ev::Put(q, v, Ok(())));
                } else {
                    self.rec(g, Ev::Put(q, v, Err(Fail::Full)));
                }
                true
            }
            Op::Set(e) => {
                if self.killed_waiter_pending(Wait::Event(e)) {
                    self.cover("wake_after_kill:wait");
                }
                self.evs[e].set = true;
                let waiters = std::mem::take(&mut self.evs[e].waiters);
                for w in waiters {
                    if self.gs[w].st == St::Parked {
                        self.wake(w, Input::Normal);
                        self.gs[w].woken_by = Some(e);
                    }
                }
                self.rec(g, Ev::Set(e));
                true
            }
            Op::Clear(e) => {
                self.evs[e].set = false;
                self.rec(g, Ev::Cleared(e));
                true
            }
            Op::Wait(e, d) => {
                if self.evs[e].set {
                    let behind = !self.legacy.event_yield
                        && self.gs.iter().any(|w| w.st == St::Ready && w.woken_by == Some(e));
                    if behind {
                        self.cover("event_wait_yields_to_woken");
                        return self.yield_(g, Wait::EventYield(e));
                    }
                    self.rec(g, Ev::Waited(e, true));
                    true
                } else if d.is_some_and(|s| s <= self.now) {
                    self.rec(g, Ev::Waited(e, false)); // polled (see the module docs)
                    true
                } else {
                    if let Some(s) = d {
                        self.check_duration_tie(g, s);
                    }
                    self.park(g, Wait::Event(e), d)
                }
            }
            Op::Acquire(s, d) => {
                if self.acquire_fast(s) {
                    self.sems[s].permits -= 1;
                    self.hold(g, s);
                    self.rec(g, Ev::Acquired(s, Ok(())));
                    true
                } else {
                    self.park(g, Wait::Acquire(s), d)
                }
            }
            Op::TryAcquire(s) => {
                if self.acquire_fast(s) {
                    self.sems[s].permits -= 1;
                    self.hold(g, s);
                    self.rec(g, Ev::Acquired(s, Ok(())));
                } else {
                    self.rec(g, Ev::Acquired(s, Err(Fail::Busy)));
                }
                true
            }
            Op::Release(s) => {
                let mut found = false;
                for f in self.gs[g].frames.iter_mut().rev() {
                    if let Some(i) = f.permits.iter().rposition(|&x| x == s) {
                        f.permits.remove(i);
                        found = true;
                        break;
                    }
                }
                if found {
                    self.release(s);
                }
                self.rec(g, Ev::Released(s, found));
                true
            }
            Op::AddPermit(s) => {
                self.release(s);
                self.rec(g, Ev::PermitAdded(s));
                true
            }
        }
    }

    /// A call that takes a `Duration` lands a few ns after its slot: equal to a scope's
    /// deadline, the scope would win in reality and the call in the model.
    fn check_duration_tie(&mut self, g: G, s: Slot) {
        if self.scope_deadline(g).is_some_and(|(d, _)| d == s) {
            self.ambiguous.get_or_insert_with(|| "Duration-based wait ties with a scope".into());
        }
    }

    /// Legacy: `Instant + Duration::MAX` panics; main's panic is caught by the harness,
    /// which then cleans up.
    fn overflow(&mut self, g: G) -> bool {
        const MSG: &str = "overflow when adding duration to instant";
        while let Some(f) = self.gs[g].frames.pop() {
            self.drop_permits(&f.permits);
        }
        if g == 0 {
            self.main_panic = Some(MSG.into());
            self.gs[0].cleanup = true;
            return true;
        }
        self.rec(g, Ev::Exit(false));
        self.die(g, End::Panicked(MSG.into()));
        false
    }

    fn hold(&mut self, g: G, s: usize) {
        self.gs[g].frames.last_mut().expect("model: no frame").permits.push(s);
    }

    fn take_item(&mut self, q: usize) -> Option<u32> {
        let v = self.qs[q].items.pop_front()?;
        self.notify_one(Which::Putters(q));
        Some(v)
    }

    fn has_parked(&self, list: &VecDeque<G>) -> bool {
        list.iter().any(|&w| self.gs[w].st == St::Parked)
    }

    fn put_fast(&self, q: usize) -> bool {
        let mq = &self.qs[q];
        !(mq.full() || (mq.cap.is_some() && self.has_parked(&mq.putters)))
    }

    /// Whether an acquire takes a permit without waiting.
    fn acquire_fast(&self, s: usize) -> bool {
        let sem = &self.sems[s];
        if sem.permits == 0 {
            return false;
        }
        if self.legacy.sem_reserved {
            return sem.reserved == 0 && !self.has_parked(&sem.waiters);
        }
        if !self.legacy.killed_waiters {
            assert!(!self.has_parked(&sem.waiters), "model: free permit with waiters");
        }
        true
    }

    /// Pops the first greenlet of `list` still blocked there (skipping stale entries of
    /// killed waiters, which only the legacy mode leaves in lists).
    fn pop_parked(list: &mut VecDeque<G>, gs: &[Gl<'_>]) -> Option<G> {
        while let Some(w) = list.pop_front() {
            if gs[w].st == St::Parked {
                return Some(w);
            }
        }
        None
    }

    fn push_item(&mut self, q: usize, v: u32) {
        self.qs[q].items.push_back(v);
        self.notify_one(Which::Getters(q));
    }

    /// Whether a greenlet killed while waiting in `wait` has not unwound yet (a wakeup now
    /// must skip it).
    fn killed_waiter_pending(&self, wait: Wait) -> bool {
        self.gs.iter().any(|w| {
            w.kill_pending
                && !w.notified
                && w.woken_by.is_none()
                && w.park.is_some_and(|p| match (p.wait, wait) {
                    (Wait::Put(a, _), Wait::Put(b, _)) => a == b,
                    (a, b) => a == b,
                })
        })
    }

    fn notify_one(&mut self, which: Which) -> bool {
        let wait = match which {
            Which::Getters(q) => Wait::Get(q),
            Which::Putters(q) => Wait::Put(q, 0),
        };
        if self.killed_waiter_pending(wait) {
            self.cover(format!("wake_after_kill:{}", wait.name()));
        }
        let list = match which {
            Which::Getters(q) => &mut self.qs[q].getters,
            Which::Putters(q) => &mut self.qs[q].putters,
        };
        let Some(w) = Self::pop_parked(list, &self.gs) else { return false };
        self.wake(w, Input::Normal);
        self.gs[w].notified = true;
        true
    }

    /// Returns a permit: granted to the first waiter, or free if nobody waits.
    fn release(&mut self, s: usize) {
        if self.killed_waiter_pending(Wait::Acquire(s)) {
            self.cover("wake_after_kill:acquire");
        }
        if let Some(w) = Self::pop_parked(&mut self.sems[s].waiters, &self.gs) {
            self.wake(w, Input::Normal);
            self.gs[w].notified = true;
            self.sems[s].reserved += 1;
            self.cover("sem_grant");
        } else {
            self.sems[s].permits += 1;
        }
    }

    /// A granted permit its waiter will not pick up: to the next waiter, else free.
    fn pass_grant(&mut self, s: usize) {
        if let Some(w) = Self::pop_parked(&mut self.sems[s].waiters, &self.gs) {
            self.wake(w, Input::Normal);
            self.gs[w].notified = true;
        } else if self.sems[s].reserved > 0 {
            self.sems[s].reserved -= 1;
            self.sems[s].permits += 1;
        }
    }

    fn drop_permits(&mut self, permits: &[usize]) {
        for &s in permits {
            self.release(s);
        }
    }

    /// The earliest scope deadline of `g` and the frame owning it (the outermost among
    /// equals).
    fn scope_deadline(&self, g: G) -> Option<(Slot, usize)> {
        let mut best: Option<(Slot, usize)> = None;
        for (i, f) in self.gs[g].frames.iter().enumerate() {
            if let Some((_, Some(d))) = f.scope {
                if best.is_none_or(|(b, _)| d < b) {
                    best = Some((d, i));
                }
            }
        }
        best
    }

    /// Blocks `g` in `wait` (with its own deadline `own`). False if it blocked; true if the
    /// call ended at once (a deadline already passed) and `g` goes on.
    fn park(&mut self, g: G, wait: Wait, own: Option<Slot>) -> bool {
        let scope = self.scope_deadline(g);
        let eff = match (own, scope) {
            (Some(o), Some((d, _))) if o <= d => {
                if o == d {
                    self.cover("own_deadline_ties_scope");
                }
                Some((o, Input::OwnTimeout))
            }
            (_, Some((d, k))) => Some((d, Input::ScopeTimeout(k))),
            (Some(o), None) => Some((o, Input::OwnTimeout)),
            (None, None) => None,
        };
        let park = Park { wait, own };
        if let Some((t, input)) = eff {
            if t <= self.now {
                if matches!(input, Input::ScopeTimeout(_)) {
                    self.cover(format!("scope_expired_before:{}", wait.name()));
                }
                return self.complete(g, park, input);
            }
        }
        let gl = &mut self.gs[g];
        gl.st = St::Parked;
        gl.park = Some(park);
        gl.timer = eff;
        match wait {
            Wait::Get(q) => self.qs[q].getters.push_back(g),
            Wait::Put(q, _) => self.qs[q].putters.push_back(g),
            Wait::Event(e) => self.evs[e].waiters.push_back(g),
            Wait::Acquire(s) => self.sems[s].waiters.push_back(g),
            Wait::Join(c) | Wait::JoinUntil(c) | Wait::Kill(c) => self.gs[c].joiners.push(g),
            Wait::Sleep | Wait::Forever => {}
            Wait::Yield | Wait::EventYield(_) => unreachable!(),
        }
        false
    }

    /// `yield_now`: unwinds in an expired scope, else queues `g` at the back.
    fn yield_(&mut self, g: G, wait: Wait) -> bool {
        if let Some((d, k)) = self.scope_deadline(g).filter(|_| !self.legacy.scopes) {
            if d <= self.now {
                self.cover(format!("scope_expired_before:{}", wait.name()));
                self.unwind_scope(g, k);
                return true;
            }
        }
        let gl = &mut self.gs[g];
        gl.st = St::Ready;
        gl.park = Some(Park { wait, own: None });
        self.ready.push_back((g, Input::Normal));
        false
    }

    /// Takes `g` off whatever it waits on and queues it at the back with `input`.
    fn wake(&mut self, g: G, input: Input) {
        self.leave_lists(g);
        let gl = &mut self.gs[g];
        debug_assert_eq!(gl.st, St::Parked);
        gl.st = St::Ready;
        gl.timer = None;
        self.ready.push_back((g, input));
    }

    fn leave_lists(&mut self, g: G) {
        let Some(park) = self.gs[g].park else { return };
        let list = match park.wait {
            Wait::Get(q) => &mut self.qs[q].getters,
            Wait::Put(q, _) => &mut self.qs[q].putters,
            Wait::Event(e) => &mut self.evs[e].waiters,
            Wait::Acquire(s) => &mut self.sems[s].waiters,
            Wait::Join(c) | Wait::JoinUntil(c) | Wait::Kill(c) => {
                self.gs[c].joiners.retain(|&j| j != g);
                return;
            }
            _ => return,
        };
        list.retain(|&w| w != g);
    }

    /// Ends the call `g` was blocked in, as `input` says. True if `g` goes on running.
    fn complete(&mut self, g: G, park: Park, input: Input) -> bool {
        let wait = park.wait;
        match input {
            Input::Start => unreachable!(),
            Input::ScopeTimeout(_) if self.legacy.scopes => {
                self.gs[g].hit = true;
                self.leave(g, wait);
                let ev = match wait {
                    Wait::Get(q) => Ev::Got(q, Err(Fail::TimedOut)),
                    Wait::Put(q, v) => Ev::Put(q, v, Err(Fail::TimedOut)),
                    Wait::Event(e) => Ev::Waited(e, false),
                    Wait::Acquire(s) => Ev::Acquired(s, Err(Fail::TimedOut)),
                    Wait::Join(c) => Ev::Joined(c, Ok(())),
                    Wait::JoinUntil(c) => Ev::JoinedUntil(c, self.dead(c)),
                    Wait::Kill(c) => Ev::Killed(c),
                    Wait::Sleep => Ev::Slept,
                    w => unreachable!("model: legacy scope timeout in {w:?}"),
                };
                self.rec(g, ev);
                true
            }
            Input::ScopeTimeout(k) => {
                self.leave(g, wait);
                self.unwind_scope(g, k);
                true
            }
            Input::OwnTimeout => {
                self.cover(format!("own_timeout:{}", wait.name()));
                self.leave(g, wait);
                let ev = match wait {
                    Wait::Get(q) => Ev::Got(q, Err(Fail::TimedOut)),
                    Wait::Put(q, v) => Ev::Put(q, v, Err(Fail::TimedOut)),
                    Wait::Event(e) => Ev::Waited(e, false),
                    Wait::Acquire(s) => Ev::Acquired(s, Err(Fail::TimedOut)),
                    Wait::JoinUntil(c) => Ev::JoinedUntil(c, self.dead(c)),
                    Wait::Sleep => Ev::Slept,
                    w => unreachable!("model: own timeout in {w:?}"),
                };
                self.rec(g, ev);
                true
            }
            Input::Deadlock => {
                let ev = match wait {
                    Wait::Get(q) => Ev::Got(q, Err(Fail::Deadlock)),
                    Wait::Put(q, v) => Ev::Put(q, v, Err(Fail::Deadlock)),
                    Wait::Event(e) => Ev::Waited(e, false),
                    Wait::Acquire(s) => Ev::Acquired(s, Err(Fail::Deadlock)),
                    Wait::Join(c) => Ev::Joined(c, Err(Fail::Deadlock)),
                    w => unreachable!("model: deadlock in {w:?}"),
                };
                self.rec(g, ev);
                true
            }
            Input::Normal => match wait {
                Wait::Get(q) => {
                    self.gs[g].notified = false;
                    if let Some(v) = self.take_item(q) {
                        self.rec(g, Ev::Got(q, Ok(v)));
                        true
                    } else {
                        self.cover("getter_found_nothing");
                        self.park(g, wait, park.own)
                    }
                }
                Wait::Put(q, v) => {
                    self.gs[g].notified = false;
                    if self.qs[q].full() {
                        self.cover("putter_found_full");
                        return self.park(g, wait, park.own);
                    }
                    self.push_item(q, v);
                    if !self.qs[q].full() {
                        self.notify_one(Which::Putters(q));
                    }
                    self.rec(g, Ev::Put(q, v, Ok(())));
                    true
                }
                Wait::Event(e) => {
                    let spurious = std::mem::take(&mut self.gs[g].spurious);
                    if !self.evs[e].set {
                        if !spurious {
                            self.cover("event_woken_then_cleared");
                        }
                        if self.legacy.event_clear || spurious {
                            return self.park(g, wait, park.own);
                        }
                    }
                    self.rec(g, Ev::Waited(e, true));
                    true
                }
                Wait::EventYield(e) => {
                    self.rec(g, Ev::Waited(e, true));
                    true
                }
                Wait::Acquire(s) => {
                    self.gs[g].notified = false;
                    if self.sems[s].reserved == 0 {
                        assert!(
                            self.legacy.killed_waiters,
                            "model: acquirer woken without a permit"
                        );
                        return self.park(g, wait, park.own);
                    }
                    self.sems[s].reserved -= 1;
                    self.hold(g, s);
                    self.rec(g, Ev::Acquired(s, Ok(())));
                    true
                }
                Wait::Join(c) | Wait::JoinUntil(c) | Wait::Kill(c) => {
                    assert!(self.dead(c), "model: joiner woken before death");
                    self.rec(
                        g,
                        match wait {
                            Wait::Join(_) => Ev::Joined(c, Ok(())),
                            Wait::JoinUntil(_) => Ev::JoinedUntil(c, true),
                            _ => Ev::Killed(c),
                        },
                    );
                    true
                }
                Wait::Yield => {
                    self.rec(g, Ev::Yielded);
                    true
                }
                Wait::Sleep | Wait::Forever => unreachable!("model: sleeper woken"),
            },
        }
    }

    /// `g` leaves the call it was blocked in without using it: a notification or permit it
    /// was handed goes to the next waiter.
    fn leave(&mut self, g: G, wait: Wait) {
        if std::mem::take(&mut self.gs[g].killed_parked) {
            // Legacy: killed while blocked. Still queued: it just leaves. Dropped by a wakeup
            // meanwhile: it believes it was notified and passes that on.
            let list = match wait {
                Wait::Get(q) => Some(&mut self.qs[q].getters),
                Wait::Put(q, _) => Some(&mut self.qs[q].putters),
                Wait::Event(e) => Some(&mut self.evs[e].waiters),
                Wait::Acquire(s) => Some(&mut self.sems[s].waiters),
                _ => None,
            };
            let Some(list) = list else { return };
            if let Some(i) = list.iter().position(|&w| w == g) {
                list.remove(i);
                return;
            }
            self.cover(format!("legacy_spurious_pass_on:{}", wait.name()));
            match wait {
                Wait::Get(q) => {
                    self.notify_one(Which::Getters(q));
                }
                Wait::Put(q, _) => {
                    self.notify_one(Which::Putters(q));
                }
                Wait::Acquire(s) => self.pass_grant(s),
                Wait::Event(e) => {
                    if let Some(w) = Self::pop_parked(&mut self.evs[e].waiters, &self.gs) {
                        self.wake(w, Input::Normal);
                        self.gs[w].spurious = true;
                    }
                }
                _ => {}
            }
            return;
        }
        self.leave_lists(g);
        if !std::mem::take(&mut self.gs[g].notified) {
            return;
        }
        self.cover(format!("handed_then_left:{}", wait.name()));
        match wait {
            Wait::Get(q) => {
                self.notify_one(Which::Getters(q));
            }
            Wait::Put(q, _) => {
                self.notify_one(Which::Putters(q));
            }
            Wait::Acquire(s) => self.pass_grant(s),
            _ => {}
        }
    }

    /// Requests `c`'s death (`c` is not the running greenlet).
    fn kill(&mut self, c: G) {
        match self.gs[c].st {
            St::Unspawned | St::Dead => {}
            St::New => {
                self.cover("kill_unstarted");
                self.die(c, End::Killed);
            }
            St::Ready => {
                if !self.gs[c].kill_pending {
                    let what = self.gs[c].park.map_or("?", |p| p.wait.name());
                    let handed = if self.gs[c].notified || self.gs[c].woken_by.is_some() {
                        "handed:"
                    } else {
                        ""
                    };
                    self.cover(format!("kill_woken:{handed}{what}"));
                    self.gs[c].kill_pending = true;
                }
            }
            St::Parked => {
                let what = self.gs[c].park.map_or("?", |p| p.wait.name());
                self.cover(format!("kill_blocked:{what}"));
                if self.legacy.killed_waiters {
                    self.gs[c].killed_parked = true;
                } else {
                    self.leave_lists(c);
                }
                let gl = &mut self.gs[c];
                gl.kill_pending = true;
                gl.timer = None;
                gl.st = St::Ready;
                self.ready.push_front((c, Input::Normal));
            }
            St::Running => unreachable!("model: killing the running greenlet"),
        }
    }

    /// `g` unwinds from where it is (killed): what it was handed passes on, its frames'
    /// permits are released innermost frame first, then it is dead.
    fn unwind_kill(&mut self, g: G) {
        if let Some(park) = self.gs[g].park.take() {
            self.leave(g, park.wait);
        }
        while let Some(f) = self.gs[g].frames.pop() {
            self.drop_permits(&f.permits);
        }
        if g == 0 {
            unreachable!("model: main killed");
        }
        self.rec(g, Ev::Exit(false));
        self.die(g, End::Killed);
    }

    /// Unwinds `g` to the scope of frame `k`, which returns `Err(Elapsed)`.
    fn unwind_scope(&mut self, g: G, k: usize) {
        self.gs[g].park = None;
        if self.gs[g].frames.len() > k + 1 {
            self.cover("scope_unwinds_through_inner");
        }
        let kd = self.gs[g].frames[k].scope.and_then(|s| s.1);
        if self.gs[g].frames[k + 1..].iter().any(|f| f.scope.is_some_and(|s| s.1 == kd)) {
            self.cover("equal_deadlines_outer_catches");
        }
        let mut id = None;
        while self.gs[g].frames.len() > k {
            let f = self.gs[g].frames.pop().unwrap();
            self.drop_permits(&f.permits);
            id = f.scope.map(|s| s.0);
        }
        self.rec(g, Ev::ScopeElapsed(id.expect("model: unwound to a non-scope")));
    }

    fn die(&mut self, g: G, end: End) {
        let gl = &mut self.gs[g];
        gl.st = St::Dead;
        gl.end = end;
        gl.frames.clear();
        gl.park = None;
        gl.timer = None;
        for j in std::mem::take(&mut gl.joiners) {
            if self.gs[j].st == St::Parked {
                self.wake(j, Input::Normal);
            }
        }
    }
}

#[derive(Clone, Copy)]
enum Which {
    Getters(usize),
    Putters(usize),
}
