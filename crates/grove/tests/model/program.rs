//! Programs for the model test: their operations, a seeded generator, a text form that reads
//! back (so a minimized failing program can be pasted into `REGRESSION_PROGRAMS`), and a
//! greedy shrinker.

use std::fmt::{self, Write as _};

/// Index of a greenlet; 0 is the main greenlet (the thread's own stack).
pub(crate) type G = usize;
/// A point on the virtual time grid: slot `s` is `base + s * SLOT` in real time.
pub(crate) type Slot = u32;

/// One step of a greenlet's script. `Option<Slot>` is the call's own deadline (none: wait
/// without one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    /// `grove::spawn` the greenlet's script (each greenlet is spawned by one op at most).
    Spawn(G),
    /// `JoinHandle::kill` (waits for death).
    Kill(G),
    /// `JoinHandle::kill_nowait`.
    KillNowait(G),
    /// `JoinHandle::wait`.
    Join(G),
    /// `JoinHandle::wait_timeout` up to the slot.
    JoinUntil(G, Slot),
    /// `grove::sleep_until(slot)`.
    Sleep(Slot),
    /// `grove::sleep(Duration::MAX)`: until killed (or a scope expires).
    SleepForever,
    /// `grove::yield_now`.
    Yield,
    /// `grove::timeout_at(slot, body)`, or `grove::timeout(Duration::MAX, body)` for `None`.
    /// The id names the scope in traces.
    Scope(u32, Option<Slot>, Vec<Op>),
    /// `Queue::get` / `get_deadline`.
    Get(usize, Option<Slot>),
    /// `Queue::put` / `put_deadline` of a value unique in the program.
    Put(usize, u32, Option<Slot>),
    /// `Queue::try_get`.
    TryGet(usize),
    /// `Queue::try_put`.
    TryPut(usize, u32),
    /// `Event::set`.
    Set(usize),
    /// `Event::clear`.
    Clear(usize),
    /// `Event::wait` / `wait_timeout` up to the slot.
    Wait(usize, Option<Slot>),
    /// `Semaphore::acquire_deadline`; the permit is held by the enclosing frame (the greenlet
    /// body or a scope body) and released when the frame ends or unwinds.
    Acquire(usize, Option<Slot>),
    /// `Semaphore::try_acquire`, held like `Acquire`'s.
    TryAcquire(usize),
    /// Drops the most recently acquired held permit of the semaphore (innermost frame first).
    Release(usize),
    /// `Semaphore::release` without a permit (adds one).
    AddPermit(usize),
}

/// A whole program: shared primitives and one script per greenlet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Program {
    /// Capacity of each queue (`None`: unbounded).
    pub queues: Vec<Option<usize>>,
    /// Number of events.
    pub events: usize,
    /// Initial permits of each semaphore.
    pub sems: Vec<usize>,
    /// `scripts[0]` is main's; greenlet `g > 0` runs `scripts[g]` once spawned.
    pub scripts: Vec<Vec<Op>>,
}

impl Program {
    /// Number of greenlets, main included.
    pub(crate) fn greenlets(&self) -> usize {
        self.scripts.len()
    }

    /// Whether any op uses a slot (the program then takes real time to run).
    pub(crate) fn timed(&self) -> bool {
        self.max_slot() > 0
    }

    /// The latest slot used (0 if none).
    pub(crate) fn max_slot(&self) -> Slot {
        fn walk(ops: &[Op], m: &mut Slot) {
            for op in ops {
                let s = match op {
                    Op::JoinUntil(_, s) | Op::Sleep(s) => Some(*s),
                    Op::Get(_, d) | Op::Put(_, _, d) | Op::Wait(_, d) | Op::Acquire(_, d) => *d,
                    Op::Scope(_, d, body) => {
                        walk(body, m);
                        *d
                    }
                    _ => None,
                };
                *m = (*m).max(s.unwrap_or(0));
            }
        }
        let mut m = 0;
        for s in &self.scripts {
            walk(s, &mut m);
        }
        m
    }

    /// Number of ops, scopes' bodies included.
    pub(crate) fn size(&self) -> usize {
        fn walk(ops: &[Op]) -> usize {
            ops.iter().map(|op| 1 + if let Op::Scope(_, _, b) = op { walk(b) } else { 0 }).sum()
        }
        self.scripts.iter().map(|s| walk(s)).sum()
    }
}

// ---------------------------------------------------------------------------------------------
// PRNG

/// SplitMix64: tiny, seedable, good enough to pick program shapes.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x005e_ed0f_9a0e_u64.wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (`n > 0`).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    /// Uniform in `lo..=hi`.
    pub(crate) fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }
    /// True with probability `pct` percent.
    pub(crate) fn chance(&mut self, pct: u32) -> bool {
        self.below(100) < pct as usize
    }
    /// An index chosen by weight.
    pub(crate) fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u32 = weights.iter().sum();
        let mut x = self.below(total as usize) as u32;
        for (i, &w) in weights.iter().enumerate() {
            if x < w {
                return i;
            }
            x -= w;
        }
        unreachable!()
    }
}

// ---------------------------------------------------------------------------------------------
// Generator

/// What the generator may produce.
#[derive(Debug, Clone)]
pub(crate) struct GenConfig {
    /// Percentage of programs that use timers.
    pub timed_pct: u32,
    /// Op kinds to leave out (names as in the text form: `get`, `scope_forever`, `sleep_forever`,
    /// `clear`, ...), for triage.
    pub exclude: Vec<String>,
}

impl Default for GenConfig {
    fn default() -> Self {
        GenConfig { timed_pct: 20, exclude: Vec::new() }
    }
}

struct Gen<'a> {
    r: Rng,
    cfg: &'a GenConfig,
    timed: bool,
    n: usize,
    queues: usize,
    sems: usize,
    next_value: u32,
    next_scope: u32,
    /// Unused slots, in random order; every greenlet takes its own (no two greenlets ever arm
    /// timers for the same instant).
    slots: Vec<Slot>,
}

impl Gen<'_> {
    fn allowed(&self, kind: &str) -> bool {
        !self.cfg.exclude.iter().any(|e| e == kind)
    }

    /// A slot no other op uses, if any is left (the grid is short so that programs are).
    fn slot(&mut self) -> Option<Slot> {
        self.slots.pop()
    }

    /// A deadline for a blocking op: none in untimed programs. `scope` is the innermost
    /// enclosing scope's slot, which a deadline may deliberately equal (a tie: the call's
    /// own deadline wins). `tie_ok` is false for calls that take a `Duration` (their deadline
    /// lands a few ns after the slot, so a tie would not be one).
    fn deadline(&mut self, pct: u32, scope: Option<Slot>, tie_ok: bool) -> Option<Slot> {
        if !self.timed || !self.r.chance(pct) {
            return None;
        }
        if tie_ok && scope.is_some() && self.r.chance(15) {
            return scope;
        }
        self.slot()
    }

    fn target(&mut self) -> G {
        1 + self.r.below(self.n)
    }

    fn value(&mut self) -> u32 {
        self.next_value += 1;
        self.next_value
    }

    fn script(
        &mut self,
        g: G,
        len: usize,
        children: &[G],
        depth: u32,
        scope: Option<Slot>,
    ) -> Vec<Op> {
        let mut ops = Vec::new();
        for _ in 0..len {
            self.op(g, depth, scope, &mut ops);
        }
        // Spawns of this greenlet's children at random places (main: mostly early, so that
        // the children have work to race with).
        for &c in children {
            let at = if g == 0 && self.r.chance(60) {
                self.r.below(ops.len().min(2) + 1)
            } else {
                self.r.below(ops.len() + 1)
            };
            ops.insert(at, Op::Spawn(c));
            if self.allowed("kill") && self.r.chance(8) {
                // Killing a greenlet that has not started yet.
                ops.insert(at + 1, Op::Kill(c));
            }
        }
        ops
    }

    fn op(&mut self, g: G, depth: u32, scope: Option<Slot>, ops: &mut Vec<Op>) {
        const KINDS: [(&str, u32); 23] = [
            ("get", 12),
            ("put", 12),
            ("try_get", 2),
            ("try_put", 2),
            ("set", 5),
            ("clear", 3),
            ("wait", 9),
            ("acquire", 9),
            ("try_acquire", 2),
            ("release", 7),
            ("add_permit", 3),
            ("yield", 6),
            ("join", 5),
            ("kill", 4),
            ("kill_nowait", 4),
            ("scope", 7),
            ("sleep_forever", 2),
            ("sleep", 7),
            ("join_until", 3),
            ("hand_and_kill", 6),
            ("scope_forever", 1),
            ("yield_kill", 3),
            ("kill_and_hand", 5),
        ];
        let weights: Vec<u32> = KINDS
            .iter()
            .map(|&(k, w)| {
                let ok = self.allowed(k)
                    && match k {
                        "sleep" | "join_until" => self.timed,
                        "sleep_forever" => g != 0,
                        "scope" | "scope_forever" => depth < 2,
                        _ => true,
                    };
                match (ok, k) {
                    (false, _) => 0,
                    // Scopes are where timed programs find the hard cases.
                    (true, "scope") if self.timed => 2 * w,
                    _ => w,
                }
            })
            .collect();
        if weights.iter().all(|&w| w == 0) {
            ops.push(Op::Yield);
            return;
        }
        let q = self.r.below(self.queues);
        let s = self.r.below(self.sems);
        match KINDS[self.r.weighted(&weights)].0 {
            "get" => ops.push(Op::Get(q, self.deadline(40, scope, true))),
            "put" => {
                let v = self.value();
                ops.push(Op::Put(q, v, self.deadline(40, scope, true)));
            }
            "try_get" => ops.push(Op::TryGet(q)),
            "try_put" => {
                let v = self.value();
                ops.push(Op::TryPut(q, v));
            }
            "set" => ops.push(Op::Set(0)),
            "clear" => ops.push(Op::Clear(0)),
            "wait" => ops.push(Op::Wait(0, self.deadline(40, scope, false))),
            "acquire" => ops.push(Op::Acquire(s, self.deadline(40, scope, true))),
            "try_acquire" => ops.push(Op::TryAcquire(s)),
            "release" => ops.push(Op::Release(s)),
            "add_permit" => ops.push(Op::AddPermit(s)),
            "yield" => ops.push(Op::Yield),
            "join" => ops.push(Op::Join(self.target())),
            "kill" => ops.push(Op::Kill(self.target())),
            "kill_nowait" => ops.push(Op::KillNowait(self.target())),
            "sleep_forever" => ops.push(Op::SleepForever),
            "sleep" => {
                let d = if scope.is_some() && self.r.chance(15) { scope } else { self.slot() };
                ops.push(d.map_or(Op::Yield, Op::Sleep));
            }
            "join_until" => {
                let t = self.target();
                ops.push(self.slot().map_or(Op::Join(t), |d| Op::JoinUntil(t, d)));
            }
            "scope" | "scope_forever" => {
                let forever = !self.timed || self.r.chance(15);
                let d = if forever {
                    None
                } else if scope.is_some() && self.r.chance(30) {
                    scope // equal deadlines: the outer scope catches
                } else {
                    self.slot() // none left: no deadline
                };
                if d.is_none() && !self.allowed("scope_forever") {
                    return self.op(g, depth + 1, scope, ops);
                }
                let inner = match (scope, d) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                let id = self.next_scope;
                self.next_scope += 1;
                let len = self.r.range(1, 3);
                let mut body = Vec::new();
                for _ in 0..len {
                    self.op(g, depth + 1, inner, &mut body);
                }
                ops.push(Op::Scope(id, d, body));
            }
            "hand_and_kill" => {
                // Wake a waiter, then kill someone (perhaps that waiter) before it runs: what
                // it was handed must go to the next waiter.
                ops.push(match self.r.below(5) {
                    0 => Op::Put(q, self.value(), None),
                    1 => Op::Release(s),
                    2 => Op::AddPermit(s),
                    3 => Op::Set(0),
                    _ => Op::Get(q, None),
                });
                if self.allowed("clear") && self.r.chance(50) {
                    ops.push(Op::Clear(0));
                }
                let t = self.target();
                ops.push(if self.r.chance(60) { Op::KillNowait(t) } else { Op::Kill(t) });
            }
            "kill_and_hand" => {
                // Kill a waiter, then wake its wait list before the victim has unwound: the
                // victim must not take (or pass on) what it no longer waits for.
                let t = self.target();
                ops.push(Op::KillNowait(t));
                for _ in 0..self.r.range(1, 2) {
                    ops.push(match self.r.below(4) {
                        0 => Op::Put(q, self.value(), None),
                        1 => Op::Release(s),
                        2 => Op::AddPermit(s),
                        _ => Op::Get(q, None),
                    });
                }
            }
            "yield_kill" => {
                // Let the others block, then kill one of them where it waits.
                ops.push(Op::Yield);
                let t = self.target();
                ops.push(if self.r.chance(50) { Op::KillNowait(t) } else { Op::Kill(t) });
            }
            k => unreachable!("{k}"),
        }
    }
}

/// The program for `seed`.
pub(crate) fn generate(seed: u64, cfg: &GenConfig) -> Program {
    let mut r = Rng::new(seed);
    let timed = r.chance(cfg.timed_pct);
    let n = r.range(1, 5);
    let nq = r.range(1, 2);
    let queues = (0..nq).map(|_| if r.chance(40) { None } else { Some(r.range(1, 2)) }).collect();
    let ns = r.range(1, 2);
    let sems = (0..ns).map(|_| [0, 1, 1, 2][r.below(4)]).collect();
    let mut slots: Vec<Slot> = (1..=10).collect();
    for i in (1..slots.len()).rev() {
        let j = r.below(i + 1);
        slots.swap(i, j);
    }
    // Spawn tree: a parent always has a smaller index than its children (main spawns most).
    let mut children = vec![Vec::new(); n + 1];
    for c in 1..=n {
        let parent = if r.chance(55) { 0 } else { r.below(c) };
        children[parent].push(c);
    }
    let mut gen =
        Gen { r, cfg, timed, n, queues: nq, sems: ns, next_value: 0, next_scope: 0, slots };
    let mut scripts = Vec::new();
    for (g, kids) in children.iter().enumerate() {
        let len = if g == 0 { gen.r.range(2, 8) } else { gen.r.range(1, 5) };
        scripts.push(gen.script(g, len, kids, 0, None));
    }
    Program { queues, events: 1, sems, scripts }
}

// ---------------------------------------------------------------------------------------------
// Text form

fn deadline(d: Option<Slot>) -> String {
    d.map_or(String::new(), |s| format!(" @{s}"))
}

fn write_ops(out: &mut String, ops: &[Op], indent: usize) {
    for op in ops {
        let pad = "  ".repeat(indent);
        let line = match op {
            Op::Spawn(g) => format!("spawn g{g}"),
            Op::Kill(g) => format!("kill g{g}"),
            Op::KillNowait(g) => format!("kill_nowait g{g}"),
            Op::Join(g) => format!("join g{g}"),
            Op::JoinUntil(g, s) => format!("join g{g} @{s}"),
            Op::Sleep(s) => format!("sleep @{s}"),
            Op::SleepForever => "sleep forever".into(),
            Op::Yield => "yield".into(),
            Op::Scope(id, d, body) => {
                let d = d.map_or(" forever".into(), |s| format!(" @{s}"));
                let _ = writeln!(out, "{pad}scope#{id}{d} {{");
                write_ops(out, body, indent + 1);
                "}".to_string()
            }
            Op::Get(q, d) => format!("get q{q}{}", deadline(*d)),
            Op::Put(q, v, d) => format!("put q{q} {v}{}", deadline(*d)),
            Op::TryGet(q) => format!("try_get q{q}"),
            Op::TryPut(q, v) => format!("try_put q{q} {v}"),
            Op::Set(e) => format!("set e{e}"),
            Op::Clear(e) => format!("clear e{e}"),
            Op::Wait(e, d) => format!("wait e{e}{}", deadline(*d)),
            Op::Acquire(s, d) => format!("acquire s{s}{}", deadline(*d)),
            Op::TryAcquire(s) => format!("try_acquire s{s}"),
            Op::Release(s) => format!("release s{s}"),
            Op::AddPermit(s) => format!("add_permit s{s}"),
        };
        let _ = writeln!(out, "{pad}{line}");
    }
}

impl fmt::Display for Program {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        let qs: Vec<String> = self
            .queues
            .iter()
            .map(|c| c.map_or("unbounded".into(), |c| format!("bounded{c}")))
            .collect();
        let _ = writeln!(out, "queues {}", qs.join(" "));
        let _ = writeln!(out, "events {}", self.events);
        let ss: Vec<String> = self.sems.iter().map(|p| p.to_string()).collect();
        let _ = writeln!(out, "sems {}", ss.join(" "));
        for (g, ops) in self.scripts.iter().enumerate() {
            let _ = writeln!(out, "g{g}:");
            write_ops(&mut out, ops, 1);
        }
        f.write_str(&out)
    }
}

/// Reads the text form back (see `Display`).
pub(crate) fn parse(text: &str) -> Result<Program, String> {
    let mut p = Program { queues: Vec::new(), events: 0, sems: Vec::new(), scripts: Vec::new() };
    // Stack of open op lists: the script, then open scopes (id, deadline, body).
    let mut open: Vec<(u32, Option<Slot>, Vec<Op>)> = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with("//") {
            continue;
        }
        let err = |m: &str| format!("line {}: {m}: {raw:?}", n + 1);
        let w: Vec<&str> = line.split_whitespace().collect();
        let num = |s: &str, prefix: &str| -> Result<usize, String> {
            s.strip_prefix(prefix).and_then(|x| x.parse().ok()).ok_or_else(|| err("bad operand"))
        };
        let dl = |rest: &[&str]| -> Result<Option<Slot>, String> {
            match rest {
                [] => Ok(None),
                [d] => d
                    .strip_prefix('@')
                    .and_then(|x| x.parse().ok())
                    .map(Some)
                    .ok_or_else(|| err("bad deadline")),
                _ => Err(err("trailing words")),
            }
        };
        match w[0] {
            "queues" => {
                for q in &w[1..] {
                    p.queues.push(if *q == "unbounded" { None } else { Some(num(q, "bounded")?) });
                }
                continue;
            }
            "events" => {
                p.events = w.get(1).and_then(|x| x.parse().ok()).ok_or_else(|| err("events"))?;
                continue;
            }
            "sems" => {
                for s in &w[1..] {
                    p.sems.push(s.parse().map_err(|_| err("sems"))?);
                }
                continue;
            }
            _ => {}
        }
        if let Some(g) = line.strip_suffix(':') {
            if !open.is_empty() {
                return Err(err("unclosed scope"));
            }
            let g: usize = num(g, "g")?;
            if g != p.scripts.len() {
                return Err(err("greenlets must be listed in order"));
            }
            p.scripts.push(Vec::new());
            continue;
        }
        if p.scripts.is_empty() {
            return Err(err("op before the first greenlet"));
        }
        if line == "}" {
            let (id, d, body) = open.pop().ok_or_else(|| err("unmatched }"))?;
            let target = match open.last_mut() {
                Some(o) => &mut o.2,
                None => p.scripts.last_mut().unwrap(),
            };
            target.push(Op::Scope(id, d, body));
            continue;
        }
        let op = match w[0] {
            "spawn" => Op::Spawn(num(w.get(1).ok_or_else(|| err("spawn"))?, "g")?),
            "kill" => Op::Kill(num(w[1], "g")?),
            "kill_nowait" => Op::KillNowait(num(w[1], "g")?),
            "join" => match dl(&w[2..])? {
                None => Op::Join(num(w[1], "g")?),
                Some(s) => Op::JoinUntil(num(w[1], "g")?, s),
            },
            "sleep" if w.get(1) == Some(&"forever") => Op::SleepForever,
            "sleep" => Op::Sleep(dl(&w[1..])?.ok_or_else(|| err("sleep needs @slot"))?),
            "yield" => Op::Yield,
            "get" => Op::Get(num(w[1], "q")?, dl(&w[2..])?),
            "put" => {
                Op::Put(num(w[1], "q")?, w[2].parse().map_err(|_| err("value"))?, dl(&w[3..])?)
            }
            "try_get" => Op::TryGet(num(w[1], "q")?),
            "try_put" => Op::TryPut(num(w[1], "q")?, w[2].parse().map_err(|_| err("value"))?),
            "set" => Op::Set(num(w[1], "e")?),
            "clear" => Op::Clear(num(w[1], "e")?),
            "wait" => Op::Wait(num(w[1], "e")?, dl(&w[2..])?),
            "acquire" => Op::Acquire(num(w[1], "s")?, dl(&w[2..])?),
            "try_acquire" => Op::TryAcquire(num(w[1], "s")?),
            "release" => Op::Release(num(w[1], "s")?),
            "add_permit" => Op::AddPermit(num(w[1], "s")?),
            s if s.starts_with("scope#") => {
                if w.last() != Some(&"{") || w.len() != 3 {
                    return Err(err("scope#ID @slot|forever {"));
                }
                let id: u32 = s[6..].parse().map_err(|_| err("scope id"))?;
                let d = if w[1] == "forever" { None } else { dl(&w[1..2])? };
                open.push((id, d, Vec::new()));
                continue;
            }
            _ => return Err(err("unknown op")),
        };
        match open.last_mut() {
            Some(o) => o.2.push(op),
            None => p.scripts.last_mut().unwrap().push(op),
        }
    }
    if !open.is_empty() {
        return Err("unclosed scope at the end".into());
    }
    validate(&p)?;
    Ok(p)
}

/// Operands in range, each greenlet spawned by one op at most, never main.
pub(crate) fn validate(p: &Program) -> Result<(), String> {
    fn walk(p: &Program, ops: &[Op], spawned: &mut [bool]) -> Result<(), String> {
        let n = p.scripts.len();
        for op in ops {
            let bad = match op {
                Op::Spawn(g) => {
                    if *g == 0 || *g >= n || spawned[*g] {
                        return Err(format!("{op:?}: bad or repeated spawn"));
                    }
                    spawned[*g] = true;
                    false
                }
                Op::Kill(g) | Op::KillNowait(g) | Op::Join(g) | Op::JoinUntil(g, _) => {
                    *g == 0 || *g >= n
                }
                Op::Get(q, _) | Op::Put(q, _, _) | Op::TryGet(q) | Op::TryPut(q, _) => {
                    *q >= p.queues.len()
                }
                Op::Set(e) | Op::Clear(e) | Op::Wait(e, _) => *e >= p.events,
                Op::Acquire(s, _) | Op::TryAcquire(s) | Op::Release(s) | Op::AddPermit(s) => {
                    *s >= p.sems.len()
                }
                Op::Scope(_, _, body) => {
                    walk(p, body, spawned)?;
                    false
                }
                Op::Sleep(_) | Op::SleepForever | Op::Yield => false,
            };
            if bad {
                return Err(format!("{op:?}: operand out of range"));
            }
        }
        Ok(())
    }
    if p.scripts.is_empty() {
        return Err("no main script".into());
    }
    if p.queues.contains(&Some(0)) {
        return Err("a queue of capacity 0".into());
    }
    let mut spawned = vec![false; p.scripts.len()];
    for s in &p.scripts {
        walk(p, s, &mut spawned)?;
    }
    if p.scripts[0].contains(&Op::SleepForever) {
        return Err("main cannot sleep forever outside a scope".into());
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Shrinking

/// Every program one simplification away from `p`: a greenlet's script emptied, one op
/// removed, a scope replaced by its body, a deadline dropped, trailing greenlets and unused
/// primitives removed.
pub(crate) fn simplifications(p: &Program) -> Vec<Program> {
    let mut out = Vec::new();
    // Drop a greenlet with an empty script that nothing mentions, renumbering the others.
    for g in 1..p.scripts.len() {
        if p.scripts[g].is_empty() && !p.scripts.iter().any(|s| mentions(s, g)) {
            let mut q = p.clone();
            q.scripts.remove(g);
            for s in &mut q.scripts {
                renumber(s, g);
            }
            out.push(q);
        }
    }
    for g in 0..p.scripts.len() {
        if g > 0 && !p.scripts[g].is_empty() {
            let mut q = p.clone();
            q.scripts[g].clear();
            out.push(q);
        }
        let mut paths = Vec::new();
        collect_paths(&p.scripts[g], &mut Vec::new(), &mut paths);
        for path in paths {
            let mut q = p.clone();
            edit_at(&mut q.scripts[g], &path, |ops, i| {
                ops.remove(i);
            });
            out.push(q);
            let mut q = p.clone();
            let mut changed = false;
            edit_at(&mut q.scripts[g], &path, |ops, i| {
                if let Op::Scope(_, _, body) = ops[i].clone() {
                    ops.splice(i..=i, body);
                    changed = true;
                }
            });
            if changed {
                out.push(q);
            }
            let mut q = p.clone();
            let mut changed = false;
            edit_at(&mut q.scripts[g], &path, |ops, i| {
                let d = match &mut ops[i] {
                    // Not a scope's: `scope forever` is a feature of its own (and excludable).
                    Op::Get(_, d) | Op::Put(_, _, d) | Op::Wait(_, d) | Op::Acquire(_, d) => d,
                    _ => return,
                };
                if d.is_some() {
                    *d = None;
                    changed = true;
                }
            });
            if changed && validate(&q).is_ok() {
                out.push(q);
            }
        }
    }
    out
}

fn mentions(ops: &[Op], g: G) -> bool {
    ops.iter().any(|op| match op {
        Op::Spawn(x) | Op::Kill(x) | Op::KillNowait(x) | Op::Join(x) | Op::JoinUntil(x, _) => {
            *x == g
        }
        Op::Scope(_, _, b) => mentions(b, g),
        _ => false,
    })
}

/// Greenlet `gone` was removed: the ones after it move down by one.
fn renumber(ops: &mut [Op], gone: G) {
    for op in ops {
        match op {
            Op::Spawn(x) | Op::Kill(x) | Op::KillNowait(x) | Op::Join(x) | Op::JoinUntil(x, _)
                if *x > gone =>
            {
                *x -= 1;
            }
            Op::Scope(_, _, b) => renumber(b, gone),
            _ => {}
        }
    }
}

fn collect_paths(ops: &[Op], prefix: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
    for (i, op) in ops.iter().enumerate() {
        prefix.push(i);
        out.push(prefix.clone());
        if let Op::Scope(_, _, body) = op {
            collect_paths(body, prefix, out);
        }
        prefix.pop();
    }
}

fn edit_at(ops: &mut Vec<Op>, path: &[usize], f: impl FnOnce(&mut Vec<Op>, usize)) {
    if path.len() == 1 {
        f(ops, path[0]);
    } else if let Op::Scope(_, _, body) = &mut ops[path[0]] {
        edit_at(body, &path[1..], f);
    }
}

/// Greedy shrinking: applies the first simplification that keeps `fails` true, until none
/// does or `budget` candidate runs are spent.
pub(crate) fn shrink(
    p: &Program,
    mut budget: usize,
    mut fails: impl FnMut(&Program) -> bool,
) -> Program {
    let mut best = p.clone();
    'outer: loop {
        for cand in simplifications(&best) {
            if budget == 0 {
                break 'outer;
            }
            budget -= 1;
            if fails(&cand) {
                best = cand;
                continue 'outer;
            }
        }
        break;
    }
    best
}
