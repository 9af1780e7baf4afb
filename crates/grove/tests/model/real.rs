//! Runs a program on the real hub of the calling thread and records the same observations as
//! the model: each greenlet's op outcomes with the virtual time they happened at (real time
//! since the start, in slots), how each greenlet ended, and whether the hub is back at rest.

use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;
use std::time::{Duration, Instant};

use grove::sync::{Event, Queue, RecvError, Semaphore, SemaphorePermit, SendError};
use grove::{JoinError, JoinHandle, WaitError};

use super::program::{Op, Program, Slot, G};
use super::trace::{End, Ev, Fail, Outcome};

/// The outcome, plus how late (after its slot began) the latest event happened: a run whose
/// events drift towards the next slot may have let two timers race.
#[derive(Debug)]
pub(crate) struct RealRun {
    pub outcome: Outcome,
    pub lateness: Duration,
}

/// Per greenlet, a stack of frames (body, scopes), each holding its permits.
type Frames = Vec<Vec<Vec<(usize, SemaphorePermit)>>>;

struct Rt {
    p: Program,
    base: Instant,
    slot: Duration,
    timed: bool,
    handles: RefCell<Vec<Option<Rc<JoinHandle<u32>>>>>,
    traces: RefCell<Vec<Vec<(Slot, Ev)>>>,
    frames: RefCell<Frames>,
    qs: Vec<Queue<u32>>,
    evs: Vec<Event>,
    sems: Vec<Semaphore>,
    lateness: Cell<Duration>,
}

impl Rt {
    fn at(&self, s: Slot) -> Instant {
        self.base + self.slot * s
    }

    fn rec(&self, g: G, ev: Ev) {
        let vt = if self.timed {
            let off = self.base.elapsed();
            let vt = (off.as_nanos() / self.slot.as_nanos()) as Slot;
            self.lateness.set(self.lateness.get().max(off - self.slot * vt));
            vt
        } else {
            0
        };
        self.traces.borrow_mut()[g].push((vt, ev));
    }

    fn handle(&self, c: G) -> Option<Rc<JoinHandle<u32>>> {
        self.handles.borrow()[c].clone()
    }

    /// Whether the slot's instant has passed by the hub's clock (the clock the hub itself
    /// uses to decide that a deadline has passed).
    fn past(&self, s: Slot) -> bool {
        self.at(s) <= grove::hub::now()
    }

    fn until(&self, s: Slot) -> Duration {
        self.at(s).saturating_duration_since(Instant::now())
    }
}

fn wait_fail(e: WaitError) -> Fail {
    match e {
        WaitError::TimedOut => Fail::TimedOut,
        WaitError::Deadlock => Fail::Deadlock,
        WaitError::Interrupted => Fail::Interrupted,
    }
}

fn recv(e: RecvError) -> Fail {
    match e {
        RecvError::Closed => Fail::Closed,
        RecvError::Wait(e) => wait_fail(e),
    }
}

fn send<T>(e: SendError<T>) -> Fail {
    match e {
        SendError::Closed(_) => Fail::Closed,
        SendError::Wait(e, _) => wait_fail(e),
    }
}

/// A `_deadline` call when the op has a deadline, the plain call otherwise.
fn by_deadline<R>(
    d: Option<Instant>,
    plain: impl FnOnce() -> R,
    at: impl FnOnce(Instant) -> R,
) -> R {
    match d {
        None => plain(),
        Some(i) => at(i),
    }
}

fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "<non-string panic>".into())
}

/// A greenlet's body: its script, then its value.
fn body(rt: &Rc<Rt>, g: G) -> u32 {
    struct Exit<'a> {
        rt: &'a Rt,
        g: G,
        normal: bool,
    }
    impl Drop for Exit<'_> {
        fn drop(&mut self) {
            self.rt.rec(self.g, Ev::Exit(self.normal));
        }
    }
    let mut exit = Exit { rt, g, normal: false };
    exec_frame(rt, g, &rt.p.scripts[g]);
    exit.normal = true;
    drop(exit);
    100 + g as u32
}

/// Runs `ops` in a new frame; the frame's permits are released when it ends or unwinds.
fn exec_frame(rt: &Rc<Rt>, g: G, ops: &[Op]) {
    struct Frame<'a> {
        rt: &'a Rt,
        g: G,
    }
    impl Drop for Frame<'_> {
        fn drop(&mut self) {
            let permits = self.rt.frames.borrow_mut()[self.g].pop();
            drop(permits); // in acquisition order
        }
    }
    rt.frames.borrow_mut()[g].push(Vec::new());
    let _frame = Frame { rt, g };
    for op in ops {
        exec_op(rt, g, op);
    }
}

fn hold(rt: &Rt, g: G, s: usize, p: SemaphorePermit) {
    rt.frames.borrow_mut()[g].last_mut().expect("no frame").push((s, p));
}

fn exec_op(rt: &Rc<Rt>, g: G, op: &Op) {
    match *op {
        Op::Spawn(c) => {
            let rt2 = Rc::clone(rt);
            let h = grove::spawn(move || body(&rt2, c));
            rt.handles.borrow_mut()[c] = Some(Rc::new(h));
            rt.rec(g, Ev::Spawned(c));
        }
        Op::Kill(c) => match rt.handle(c) {
            None => rt.rec(g, Ev::NoHandle(c)),
            Some(h) => {
                // The victim always dies: waiting for it cannot fail.
                h.kill().expect("kill waits for the death");
                rt.rec(g, Ev::Killed(c));
            }
        },
        Op::KillNowait(c) => match rt.handle(c) {
            None => rt.rec(g, Ev::NoHandle(c)),
            Some(h) => {
                h.kill_nowait();
                rt.rec(g, Ev::KillSent(c));
            }
        },
        Op::Join(c) => match rt.handle(c) {
            None => rt.rec(g, Ev::NoHandle(c)),
            Some(h) => {
                let r = h.wait().map_err(|e| match e {
                    WaitError::Deadlock => Fail::Deadlock,
                    _ => Fail::Interrupted,
                });
                rt.rec(g, Ev::Joined(c, r));
            }
        },
        Op::JoinUntil(c, s) => match rt.handle(c) {
            None => rt.rec(g, Ev::NoHandle(c)),
            Some(h) => {
                let r =
                    if rt.past(s) { h.is_finished() } else { h.wait_timeout(rt.until(s)).is_ok() };
                rt.rec(g, Ev::JoinedUntil(c, r));
            }
        },
        Op::Sleep(s) => {
            grove::sleep_until(rt.at(s));
            rt.rec(g, Ev::Slept);
        }
        Op::SleepForever => {
            grove::sleep(Duration::MAX);
            rt.rec(g, Ev::Slept);
        }
        Op::Yield => {
            grove::yield_now();
            rt.rec(g, Ev::Yielded);
        }
        Op::Scope(id, d, ref ops) => {
            let f = || exec_frame(rt, g, ops);
            let r = match d {
                Some(s) => grove::timeout_at(rt.at(s), f),
                None => grove::timeout(Duration::MAX, f),
            };
            rt.rec(g, if r.is_ok() { Ev::ScopeOk(id) } else { Ev::ScopeElapsed(id) });
        }
        Op::Get(q, d) => {
            let qq = &rt.qs[q];
            let r = by_deadline(d.map(|s| rt.at(s)), || qq.get(), |i| qq.get_deadline(i));
            rt.rec(g, Ev::Got(q, r.map_err(recv)));
        }
        Op::TryGet(q) => {
            let r = rt.qs[q].try_get().map_err(|e| match e {
                grove::sync::TryRecvError::Empty => Fail::Empty,
                grove::sync::TryRecvError::Closed => Fail::Closed,
            });
            rt.rec(g, Ev::Got(q, r));
        }
        Op::Put(q, v, d) => {
            let qq = &rt.qs[q];
            let r = by_deadline(d.map(|s| rt.at(s)), || qq.put(v), |i| qq.put_deadline(v, i));
            rt.rec(g, Ev::Put(q, v, r.map_err(send)));
        }
        Op::TryPut(q, v) => {
            let r = rt.qs[q].try_put(v).map_err(|e| match e {
                grove::sync::TrySendError::Full(_) => Fail::Full,
                grove::sync::TrySendError::Closed(_) => Fail::Closed,
            });
            rt.rec(g, Ev::Put(q, v, r));
        }
        Op::Set(e) => {
            rt.evs[e].set();
            rt.rec(g, Ev::Set(e));
        }
        Op::Clear(e) => {
            rt.evs[e].clear();
            rt.rec(g, Ev::Cleared(e));
        }
        Op::Wait(e, d) => {
            let ev = &rt.evs[e];
            let r = match d {
                None => ev.wait().is_ok(),
                // Polled when the deadline has passed (see the model's docs).
                Some(s) if rt.past(s) => ev.is_set() && ev.wait().is_ok(),
                Some(s) => ev.wait_timeout(rt.until(s)).is_ok(),
            };
            rt.rec(g, Ev::Waited(e, r));
        }
        Op::Acquire(s, d) => {
            let sem = &rt.sems[s];
            let r = by_deadline(d.map(|x| rt.at(x)), || sem.acquire(), |i| sem.acquire_deadline(i));
            let r = match r {
                Ok(p) => {
                    hold(rt, g, s, p);
                    Ok(())
                }
                Err(e) => Err(wait_fail(e)),
            };
            rt.rec(g, Ev::Acquired(s, r));
        }
        Op::TryAcquire(s) => {
            let r = match rt.sems[s].try_acquire() {
                Some(p) => {
                    hold(rt, g, s, p);
                    Ok(())
                }
                None => Err(Fail::Busy),
            };
            rt.rec(g, Ev::Acquired(s, r));
        }
        Op::Release(s) => {
            let permit = {
                let mut frames = rt.frames.borrow_mut();
                frames[g].iter_mut().rev().find_map(|f| {
                    let i = f.iter().rposition(|(x, _)| *x == s)?;
                    Some(f.remove(i))
                })
            };
            let found = permit.is_some();
            drop(permit);
            rt.rec(g, Ev::Released(s, found));
        }
        Op::AddPermit(s) => {
            rt.sems[s].release();
            rt.rec(g, Ev::PermitAdded(s));
        }
    }
}

/// Runs `p` on this thread's hub (inside `grove::run`, whose shutdown is a safety net for a
/// failed run: it kills whatever the program left alive).
pub(crate) fn run(p: &Program, slot: Duration) -> RealRun {
    let n = p.greenlets();
    grove::run(|| {
        let before = grove::stats();
        let rt = Rc::new(Rt {
            p: p.clone(),
            base: Instant::now(),
            slot,
            timed: p.timed(),
            handles: RefCell::new(vec![None; n]),
            traces: RefCell::new(vec![Vec::new(); n]),
            frames: RefCell::new((0..n).map(|_| Vec::new()).collect()),
            qs: p.queues.iter().map(|&c| c.map_or_else(Queue::unbounded, Queue::bounded)).collect(),
            evs: (0..p.events).map(|_| Event::new()).collect(),
            sems: p.sems.iter().map(|&k| Semaphore::new(k)).collect(),
            lateness: Cell::new(Duration::ZERO),
        });
        let main = panic::catch_unwind(AssertUnwindSafe(|| exec_frame(&rt, 0, &rt.p.scripts[0])));
        let main_panic = main.err().map(|p| panic_text(&*p));
        // Main's cleanup: kill whatever is still alive, lowest index first.
        loop {
            let next = (1..n).find(|&c| rt.handle(c).is_some_and(|h| !h.is_finished()));
            let Some(c) = next else { break };
            rt.rec(0, Ev::Cleanup(c));
            rt.handle(c).unwrap().kill().expect("kill waits for the death");
            rt.rec(0, Ev::Killed(c));
        }
        let mut ends = vec![End::Main];
        for c in 1..n {
            let h = rt.handles.borrow_mut()[c].take();
            ends.push(match h.map(Rc::try_unwrap) {
                None => End::NotSpawned,
                Some(Err(_)) => End::Other("handle still shared".into()),
                Some(Ok(h)) => match h.join() {
                    Ok(v) => End::Value(v),
                    Err(JoinError::Killed) => End::Killed,
                    Err(JoinError::Panicked(p)) => End::Panicked(panic_text(&*p)),
                    Err(e) => End::Other(format!("{e:?}")),
                },
            });
        }
        let after = grove::stats();
        let mut leaks = Vec::new();
        if after.alive != before.alive {
            leaks.push(format!("alive {} -> {}", before.alive, after.alive));
        }
        if after.timers != before.timers {
            leaks.push(format!("timers {} -> {}", before.timers, after.timers));
        }
        if after.io_sources != before.io_sources {
            leaks.push(format!("io_sources {} -> {}", before.io_sources, after.io_sources));
        }
        let in_use = |s: grove::HubStats| s.stacks_allocated as i64 - s.stacks_pooled as i64;
        if in_use(after) != in_use(before) {
            leaks.push(format!("stacks in use {} -> {}", in_use(before), in_use(after)));
        }
        if Rc::strong_count(&rt) != 1 {
            leaks.push(format!("{} greenlet closures never dropped", Rc::strong_count(&rt) - 1));
        }
        let lateness = rt.lateness.get();
        let traces = std::mem::take(&mut *rt.traces.borrow_mut());
        RealRun { outcome: Outcome { traces, ends, main_panic, leaks }, lateness }
    })
}
