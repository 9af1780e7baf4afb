//! What a run of a program is observed to do: each greenlet's trace of op outcomes (with the
//! virtual time they happened at) and how each greenlet ended. The model and the real hub
//! produce the same structure; they must be equal.

use std::fmt::Write as _;

use super::program::{Slot, G};

/// Why an op has no value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fail {
    /// `try_get` on an empty queue.
    Empty,
    /// `try_put` on a full queue.
    Full,
    /// `try_acquire` without a free permit.
    Busy,
    /// The call's own deadline passed.
    TimedOut,
    /// Main waited for something nothing can cause.
    Deadlock,
    /// The queue was closed (never, in these programs).
    Closed,
    /// The caller was unwinding (never, in these programs).
    Interrupted,
}

/// One completed op (an op cut short by a kill or a scope leaves no event of its own).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Ev {
    Spawned(G),
    /// A kill/join of a greenlet that has not been spawned (yet).
    NoHandle(G),
    /// `kill()` returned.
    Killed(G),
    /// `kill_nowait()` returned.
    KillSent(G),
    Joined(G, Result<(), Fail>),
    JoinedUntil(G, bool),
    Slept,
    Yielded,
    ScopeOk(u32),
    ScopeElapsed(u32),
    Got(usize, Result<u32, Fail>),
    Put(usize, u32, Result<(), Fail>),
    Waited(usize, bool),
    Acquired(usize, Result<(), Fail>),
    Released(usize, bool),
    PermitAdded(usize),
    Set(usize),
    Cleared(usize),
    /// Main, after its script: about to kill a greenlet still alive.
    Cleanup(G),
    /// The greenlet's body ended: `true` returned, `false` unwound (killed).
    Exit(bool),
}

/// How a greenlet ended, as `join` reports it after the run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum End {
    Main,
    NotSpawned,
    Value(u32),
    Killed,
    Panicked(String),
    Other(String),
}

/// Everything compared between the model and the real hub.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Outcome {
    /// Per greenlet: (virtual time, event).
    pub traces: Vec<Vec<(Slot, Ev)>>,
    pub ends: Vec<End>,
    /// A panic that escaped main's script (real hub only).
    pub main_panic: Option<String>,
    /// Resources not back at rest after the run (real hub only).
    pub leaks: Vec<String>,
}

impl Outcome {
    /// Readable dump, one greenlet per block.
    pub(crate) fn render(&self) -> String {
        let mut s = String::new();
        for (g, t) in self.traces.iter().enumerate() {
            let end = self.ends.get(g).map_or("?".into(), |e| format!("{e:?}"));
            let _ = writeln!(s, "  g{g} ({end}):");
            for (vt, ev) in t {
                let _ = writeln!(s, "    t{vt} {ev:?}");
            }
        }
        if let Some(p) = &self.main_panic {
            let _ = writeln!(s, "  main panicked: {p}");
        }
        for l in &self.leaks {
            let _ = writeln!(s, "  leak: {l}");
        }
        s
    }
}

/// The first difference between the model's outcome and the real one, described.
pub(crate) fn diff(model: &Outcome, real: &Outcome) -> Option<String> {
    if model.main_panic != real.main_panic {
        return Some(format!(
            "main panicked: model {:?}, real {:?}",
            model.main_panic, real.main_panic
        ));
    }
    for g in 0..model.traces.len().max(real.traces.len()) {
        let (m, r) = (model.traces.get(g), real.traces.get(g));
        let (m, r) = (m.map_or(&[][..], |v| v), r.map_or(&[][..], |v| v));
        if m != r {
            let i = m.iter().zip(r).take_while(|(a, b)| a == b).count();
            return Some(format!(
                "g{g} event #{i}: model {:?}, real {:?}",
                m.get(i).map(|(t, e)| format!("t{t} {e:?}")),
                r.get(i).map(|(t, e)| format!("t{t} {e:?}")),
            ));
        }
    }
    if model.ends != real.ends {
        return Some(format!("ends: model {:?}, real {:?}", model.ends, real.ends));
    }
    if !real.leaks.is_empty() {
        return Some(format!("not back at rest: {}", real.leaks.join("; ")));
    }
    None
}
