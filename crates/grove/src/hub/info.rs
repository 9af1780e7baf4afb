//! Introspection: per-hub counters and the run info of live greenlets.

use std::time::{Duration, Instant};

use super::fiber::{FiberRef, State};
use super::*;

/// Per-hub counters, readable through [`stats`].
///
/// # Examples
///
/// ```
/// let s = grove::stats();
/// println!("{} switches, {} greenlets alive", s.switches, s.alive);
/// ```
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

impl Hub {
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
            io_sources: self.reactor.sources(),
        }
    }

    /// Snapshot of every live greenlet (main first).
    pub(crate) fn live(&self) -> Vec<FiberRef> {
        let mut v = vec![self.main.clone()];
        v.extend(self.fibers.borrow().iter().map(|(_, f)| f.clone()));
        v
    }
}

/// One live greenlet as reported by [`run_info`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// let _h = grove::Builder::new().name("sleeper").spawn(|| grove::sleep(Duration::from_secs(1)));
/// grove::yield_now();
/// let infos = grove::run_info();
/// let info = infos.iter().find(|g| g.name.as_deref() == Some("sleeper")).unwrap();
/// assert!(info.state.starts_with("blocked"), "{}", info.state);
/// ```
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
        write!(f, "{} ", super::fiber::Id(self.id))?;
        if let Some(n) = &self.name {
            write!(f, "'{n}' ")?;
        }
        write!(f, "{} (spawned at {}, age {:.3?})", self.state, self.location, self.age)
    }
}

/// Every live greenlet of this thread's hub, main first (gevent's `format_run_info`).
///
/// # Examples
///
/// ```
/// let _h = grove::spawn(|| ());
/// for g in grove::run_info() {
///     println!("{} {:?} {} (spawned at {})", g.id, g.name, g.state, g.location);
/// }
/// ```
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

/// Counters of this thread's hub.
///
/// # Examples
///
/// ```
/// let before = grove::stats().spawned;
/// grove::spawn(|| ()).join().unwrap();
/// assert_eq!(grove::stats().spawned, before + 1);
/// ```
pub fn stats() -> HubStats {
    with(|h| h.stats())
}
