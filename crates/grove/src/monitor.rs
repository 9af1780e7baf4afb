//! The monitor: a background thread that notices a hub stuck in one greenlet (computing or
//! calling a blocking OS function instead of a grove one) for longer than `max_blocking_time`,
//! and reports which greenlet holds it (gevent's monitor thread).
//!
//! Each hub publishes, per switch, a switch counter, the running greenlet's id and its spawn
//! location (a few relaxed atomic stores). The monitor samples every hub four times per
//! `max_blocking_time`; the same greenlet under the same counter for the whole window is a
//! blocked hub. Reports go to stderr, or to a hook ([`set_hook`]).
//!
//! ```no_run
//! use std::time::Duration;
//! grove::monitor::enable(Duration::from_millis(100));
//! grove::Builder::new().name("cruncher").spawn(|| {
//!     std::thread::sleep(Duration::from_millis(300)); // blocks the hub: reported
//! });
//! grove::sleep(Duration::from_millis(400));
//! ```

use std::collections::HashMap;
use std::fmt;
use std::panic::Location;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use crate::ctx::AtomicStaticRef;

/// What a hub publishes for the monitor (part of its cross-thread state).
#[derive(Debug)]
pub(crate) struct Slot {
    pub(crate) hub: u64,
    pub(crate) epoch: AtomicU64,
    pub(crate) current: AtomicU64,
    pub(crate) location: AtomicStaticRef<Location<'static>>,
    /// Live greenlets besides main: main holding a hub that has none blocks nobody.
    pub(crate) others: AtomicUsize,
    /// Names of this hub's named greenlets (unnamed ones cost nothing here).
    pub(crate) names: Mutex<HashMap<u64, String>>,
}

impl Slot {
    pub(crate) fn new(hub: u64) -> Arc<Slot> {
        let s = Arc::new(Slot {
            hub,
            epoch: AtomicU64::new(0),
            current: AtomicU64::new(0),
            location: AtomicStaticRef::empty(),
            others: AtomicUsize::new(0),
            names: Mutex::new(HashMap::new()),
        });
        registry().lock().unwrap_or_else(|e| e.into_inner()).push(Arc::downgrade(&s));
        s
    }

    /// Called by the hub thread only: a greenlet starts running (id 0: the hub's own loop).
    #[inline]
    pub(crate) fn enter(&self, id: u64, location: Option<&'static Location<'static>>) {
        self.epoch.store(self.epoch.load(Relaxed).wrapping_add(1), Relaxed);
        self.current.store(id, Relaxed);
        self.location.store(location);
    }
}

/// A hub found stuck in one greenlet.
#[derive(Debug, Clone)]
pub struct BlockingReport {
    /// The hub (thread) that is blocked.
    pub hub: u64,
    /// The greenlet holding it.
    pub greenlet: u64,
    /// Its name, if it has one.
    pub name: Option<String>,
    /// Where it was spawned.
    pub location: Option<String>,
    /// How long it has held the hub so far (at least).
    pub blocked_for: Duration,
}

impl fmt::Display for BlockingReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "grove monitor: hub {} has been running greenlet #{}", self.hub, self.greenlet)?;
        if let Some(n) = &self.name {
            write!(f, " '{n}'")?;
        }
        if let Some(l) = &self.location {
            write!(f, " (spawned at {l})")?;
        }
        write!(
            f,
            " for {:.0?} without switching: it blocks every other greenlet of that hub",
            self.blocked_for
        )
    }
}

type Hook = Box<dyn Fn(&BlockingReport) + Send + Sync>;

struct Config {
    max_blocking: Option<Duration>,
    hook: Option<Arc<Hook>>,
    started: bool,
    /// `enable` or `disable` was called: a runtime's default no longer applies.
    configured: bool,
}

fn registry() -> &'static Mutex<Vec<Weak<Slot>>> {
    static R: OnceLock<Mutex<Vec<Weak<Slot>>>> = OnceLock::new();
    R.get_or_init(|| Mutex::new(Vec::new()))
}

fn config() -> &'static Mutex<Config> {
    static C: OnceLock<Mutex<Config>> = OnceLock::new();
    C.get_or_init(|| {
        Mutex::new(Config { max_blocking: None, hook: None, started: false, configured: false })
    })
}

/// Starts (or reconfigures) the monitor: report any hub held by one greenlet for longer than
/// `max_blocking_time` (gevent's default: 100 ms). Applies to every hub in the process.
pub fn enable(max_blocking_time: Duration) {
    start(max_blocking_time, true);
}

/// A runtime's default (debug builds): applies only while nobody called [`enable`] or
/// [`disable`], so building a runtime never overrides an explicit choice.
pub(crate) fn enable_default(max_blocking_time: Duration) {
    start(max_blocking_time, false);
}

fn start(max_blocking_time: Duration, explicit: bool) {
    let mut c = config().lock().unwrap_or_else(|e| e.into_inner());
    if !explicit && c.configured {
        return;
    }
    c.configured |= explicit;
    c.max_blocking = Some(max_blocking_time.max(Duration::from_millis(1)));
    if !c.started {
        c.started = true;
        let _ = std::thread::Builder::new().name("grove-monitor".into()).spawn(run);
    }
}

/// Stops reporting (the thread idles).
pub fn disable() {
    let mut c = config().lock().unwrap_or_else(|e| e.into_inner());
    c.configured = true;
    c.max_blocking = None;
}

/// Sends reports to `hook` instead of stderr.
pub fn set_hook(hook: impl Fn(&BlockingReport) + Send + Sync + 'static) {
    config().lock().unwrap_or_else(|e| e.into_inner()).hook = Some(Arc::new(Box::new(hook)));
}

fn run() {
    // Per hub: (epoch, greenlet) last seen, when first seen, already reported.
    let mut seen: HashMap<u64, (u64, u64, Instant, bool)> = HashMap::new();
    loop {
        let (max, hook) = {
            let c = config().lock().unwrap_or_else(|e| e.into_inner());
            (c.max_blocking, c.hook.clone())
        };
        let Some(max) = max else {
            std::thread::sleep(Duration::from_millis(100));
            continue;
        };
        std::thread::sleep(max / 4);
        let now = Instant::now();
        let slots: Vec<Arc<Slot>> = {
            let mut r = registry().lock().unwrap_or_else(|e| e.into_inner());
            r.retain(|w| w.strong_count() > 0);
            r.iter().filter_map(Weak::upgrade).collect()
        };
        for s in slots {
            let (epoch, cur) = (s.epoch.load(Relaxed), s.current.load(Relaxed));
            let e = seen.entry(s.hub).or_insert((epoch, cur, now, false));
            // The main greenlet (id: hub index << 40) running plain code on a hub with no
            // other greenlet keeps nobody waiting: the thread is simply not using grove.
            let idle_main = cur & ((1 << 40) - 1) == 0 && s.others.load(Relaxed) == 0;
            if cur == 0 || idle_main || e.0 != epoch || e.1 != cur {
                *e = (epoch, cur, now, false);
                continue;
            }
            let blocked_for = now - e.2;
            if blocked_for >= max && !e.3 {
                e.3 = true;
                let report = BlockingReport {
                    hub: s.hub,
                    greenlet: cur,
                    name: s.names.lock().unwrap_or_else(|e| e.into_inner()).get(&cur).cloned(),
                    location: s.location.load().map(|l| l.to_string()),
                    blocked_for,
                };
                match &hook {
                    Some(h) => h(&report),
                    None => eprintln!("{report}"),
                }
            }
        }
    }
}
