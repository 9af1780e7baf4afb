//! The monitor: a background thread that notices a hub stuck in one greenlet (computing or
//! calling a blocking OS function instead of a grove one) for longer than `max_blocking_time`,
//! and reports which greenlet holds it (gevent's monitor thread).
//!
//! Each hub publishes, per switch, a switch counter, the running greenlet's id and its spawn
//! location (a few relaxed atomic stores). The monitor samples every hub four times per
//! `max_blocking_time`; the same greenlet under the same counter for the whole window is a
//! blocked hub. Reports go to [`diag`](crate::diag) (the log facade, or stderr without a
//! logger), or to a hook ([`set_hook`]).
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
use std::panic::{self, AssertUnwindSafe, Location};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::{Duration, Instant};

use crate::ctx::AtomicStaticRef;

/// Reports delivered per second at most, unless [`set_rate_limit`] says otherwise.
const DEFAULT_RATE_LIMIT: u32 = 10;

/// What a hub publishes for the monitor (part of its cross-thread state).
#[derive(Debug)]
pub(crate) struct Slot {
    pub(crate) hub: u64,
    /// The hub thread's name, if it has one.
    thread: Option<String>,
    pub(crate) epoch: AtomicU64,
    pub(crate) current: AtomicU64,
    pub(crate) location: AtomicStaticRef<Location<'static>>,
    /// Live greenlets besides main: main holding a hub that has none blocks nobody.
    pub(crate) others: AtomicUsize,
    /// Names of this hub's named greenlets (unnamed ones cost nothing here).
    pub(crate) names: Mutex<HashMap<u64, String>>,
}

impl Slot {
    /// Called on the hub's own thread, when the hub is created.
    pub(crate) fn new(hub: u64) -> Arc<Slot> {
        let s = Arc::new(Slot {
            hub,
            thread: std::thread::current().name().map(String::from),
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

    /// The name reports give greenlet `id`: its own, or "main" for the hub's main greenlet
    /// (the thread's own stack).
    fn name_of(&self, id: u64) -> Option<String> {
        if is_main(id) {
            return Some("main".into());
        }
        self.names.lock().unwrap_or_else(|e| e.into_inner()).get(&id).cloned()
    }
}

/// Whether greenlet `id` is its hub's main greenlet (id: hub id << 40).
fn is_main(id: u64) -> bool {
    id & ((1 << 40) - 1) == 0
}

/// A hub found stuck in one greenlet.
///
/// Hubs are identified by their process-wide id (`hub`, also the high bits of their
/// greenlets' ids: `greenlet >> 40`) and their thread's name; a
/// [`Runtime`](crate::Runtime)'s hub with index `i` runs on thread `{thread_name}-{i}` and
/// [`Handle::hub_ids`](crate::Handle::hub_ids) maps its indexes to these ids.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// grove::monitor::set_hook(|r| {
///     eprintln!(
///         "hub {} held {:?} by greenlet {} ({:?}, spawned at {:?})",
///         r.hub, r.blocked_for, r.greenlet, r.name, r.location
///     );
/// });
/// grove::monitor::enable(Duration::from_millis(100));
/// # grove::monitor::disable();
/// ```
#[derive(Debug, Clone)]
pub struct BlockingReport {
    /// The process-wide id of the hub (thread) that is blocked.
    pub hub: u64,
    /// The hub's thread name, if it has one.
    pub thread: Option<String>,
    /// The greenlet holding it.
    pub greenlet: u64,
    /// Its name, if it has one ("main" for the thread's main greenlet).
    pub name: Option<String>,
    /// Where it was spawned.
    pub location: Option<String>,
    /// How long it has held the hub so far (at least).
    pub blocked_for: Duration,
    /// Reports dropped by the rate limit ([`set_rate_limit`]) since the previous one.
    pub suppressed: u64,
}

impl fmt::Display for BlockingReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "monitor: hub {}", self.hub)?;
        if let Some(t) = &self.thread {
            write!(f, " (thread '{t}')")?;
        }
        write!(f, " has been running greenlet #{}", self.greenlet)?;
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
        )?;
        if self.suppressed > 0 {
            write!(f, " [{} earlier report(s) suppressed by the rate limit]", self.suppressed)?;
        }
        Ok(())
    }
}

type Hook = Box<dyn Fn(&BlockingReport) + Send + Sync>;

struct Config {
    max_blocking: Option<Duration>,
    hook: Option<Arc<Hook>>,
    /// The monitor thread is running.
    started: bool,
    /// `enable` or `disable` was called: a runtime's default no longer applies.
    configured: bool,
    rate_limit: u32,
}

fn registry() -> &'static Mutex<Vec<Weak<Slot>>> {
    static R: OnceLock<Mutex<Vec<Weak<Slot>>>> = OnceLock::new();
    R.get_or_init(|| Mutex::new(Vec::new()))
}

fn config() -> MutexGuard<'static, Config> {
    static C: OnceLock<Mutex<Config>> = OnceLock::new();
    C.get_or_init(|| {
        Mutex::new(Config {
            max_blocking: None,
            hook: None,
            started: false,
            configured: false,
            rate_limit: DEFAULT_RATE_LIMIT,
        })
    })
    .lock()
    .unwrap_or_else(|e| e.into_inner())
}

/// Reports dropped by the rate limit since the process started.
static SUPPRESSED: AtomicU64 = AtomicU64::new(0);

/// Starts (or reconfigures) the monitor: report any hub held by one greenlet for longer than
/// `max_blocking_time` (gevent's default: 100 ms). Applies to every hub in the process.
/// Also restarts the monitor thread if it ever stopped.
///
/// # Examples
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use std::time::Duration;
/// let names = Arc::new(Mutex::new(Vec::new()));
/// let n = names.clone();
/// grove::monitor::set_hook(move |r| n.lock().unwrap().push(r.name.clone()));
/// grove::monitor::enable(Duration::from_millis(50));
/// let h = grove::Builder::new().name("cruncher").spawn(|| {
///     std::thread::sleep(Duration::from_millis(300)); // holds the hub: reported
/// });
/// h.join().unwrap();
/// grove::monitor::disable();
/// assert!(names.lock().unwrap().contains(&Some("cruncher".to_string())));
/// ```
pub fn enable(max_blocking_time: Duration) {
    start(max_blocking_time, true);
}

/// A runtime's default (debug builds): applies only while nobody called [`enable`] or
/// [`disable`], so building a runtime never overrides an explicit choice.
pub(crate) fn enable_default(max_blocking_time: Duration) {
    start(max_blocking_time, false);
}

fn start(max_blocking_time: Duration, explicit: bool) {
    let mut c = config();
    if !explicit && c.configured {
        return;
    }
    c.configured |= explicit;
    c.max_blocking = Some(max_blocking_time.max(Duration::from_millis(1)));
    ensure_thread(&mut c);
}

/// Starts the monitor thread unless it runs.
fn ensure_thread(c: &mut Config) {
    if !c.started {
        c.started = std::thread::Builder::new().name("grove-monitor".into()).spawn(run).is_ok();
    }
}

/// Stops reporting (the thread idles).
///
/// # Examples
///
/// ```
/// grove::monitor::enable(std::time::Duration::from_millis(100));
/// grove::monitor::disable(); // e.g. around a known CPU-bound phase
/// ```
pub fn disable() {
    let mut c = config();
    c.configured = true;
    c.max_blocking = None;
}

/// Sends reports to `hook` instead of [`diag`](crate::diag) (the log facade or stderr). A
/// hook that panics loses that report (the panic is reported on stderr); monitoring goes on.
///
/// # Examples
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// static BLOCKED: AtomicU64 = AtomicU64::new(0);
/// // Count episodes as a metric instead of logging them.
/// grove::monitor::set_hook(|_report| {
///     BLOCKED.fetch_add(1, Ordering::Relaxed);
/// });
/// ```
pub fn set_hook(hook: impl Fn(&BlockingReport) + Send + Sync + 'static) {
    let mut c = config();
    c.hook = Some(Arc::new(Box::new(hook)));
    if c.max_blocking.is_some() {
        ensure_thread(&mut c);
    }
}

/// Delivers at most `max_reports_per_second` reports per second, process-wide (default 10;
/// 0 means no limit). Each hub's blocking episode is reported once; reports beyond the limit
/// are counted ([`suppressed_reports`], and the next delivered report's
/// [`suppressed`](BlockingReport::suppressed)) instead of delivered.
///
/// # Examples
///
/// ```
/// grove::monitor::set_rate_limit(1); // at most one report per second
/// println!("{} reports dropped so far", grove::monitor::suppressed_reports());
/// ```
pub fn set_rate_limit(max_reports_per_second: u32) {
    config().rate_limit = max_reports_per_second;
}

/// Reports dropped by the rate limit since the process started.
///
/// # Examples
///
/// ```
/// grove::monitor::set_rate_limit(0); // no limit: nothing is dropped from now on
/// let dropped_before = grove::monitor::suppressed_reports();
/// assert_eq!(grove::monitor::suppressed_reports(), dropped_before);
/// ```
pub fn suppressed_reports() -> u64 {
    SUPPRESSED.load(Relaxed)
}

/// Marks the thread as stopped however it ends, so [`enable`] or [`set_hook`] start another.
struct Running;

impl Drop for Running {
    fn drop(&mut self) {
        config().started = false;
    }
}

/// The process-wide rate limit: a one-second window.
struct RateLimit {
    window: Instant,
    sent: u32,
    /// Suppressed since the last delivered report.
    pending: u64,
}

impl RateLimit {
    /// Whether a report may go out now; if so, how many were suppressed before it.
    fn admit(&mut self, now: Instant, limit: u32) -> Option<u64> {
        if now.duration_since(self.window) >= Duration::from_secs(1) {
            self.window = now;
            self.sent = 0;
        }
        if limit != 0 && self.sent >= limit {
            self.pending += 1;
            SUPPRESSED.fetch_add(1, Relaxed);
            return None;
        }
        self.sent += 1;
        Some(std::mem::take(&mut self.pending))
    }
}

/// Delivers one report; a panicking hook or a failing stderr never ends the monitor.
fn deliver(report: &BlockingReport, hook: Option<&Arc<Hook>>) {
    let r = panic::catch_unwind(AssertUnwindSafe(|| match hook {
        Some(h) => h(report),
        None => crate::diag::report(crate::diag::Kind::Blocking, format_args!("{report}")),
    }));
    if r.is_err() {
        crate::diag::report(
            crate::diag::Kind::Panic,
            format_args!("monitor: the report hook panicked; monitoring goes on"),
        );
    }
}

fn run() {
    let _running = Running;
    // Per hub: (epoch, greenlet) last seen, when first seen, already reported.
    let mut seen: HashMap<u64, (u64, u64, Instant, bool)> = HashMap::new();
    let mut rate = RateLimit { window: Instant::now(), sent: 0, pending: 0 };
    loop {
        let (max, hook, limit) = {
            let c = config();
            (c.max_blocking, c.hook.clone(), c.rate_limit)
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
        seen.retain(|hub, _| slots.iter().any(|s| s.hub == *hub));
        for s in slots {
            let (epoch, cur) = (s.epoch.load(Relaxed), s.current.load(Relaxed));
            let e = seen.entry(s.hub).or_insert((epoch, cur, now, false));
            // The main greenlet running plain code on a hub with no other greenlet keeps
            // nobody waiting: the thread is simply not using grove.
            let idle_main = is_main(cur) && s.others.load(Relaxed) == 0;
            if cur == 0 || idle_main || e.0 != epoch || e.1 != cur {
                *e = (epoch, cur, now, false);
                continue;
            }
            let blocked_for = now - e.2;
            if blocked_for >= max && !e.3 {
                // One report per blocking episode, delivered or suppressed.
                e.3 = true;
                let Some(suppressed) = rate.admit(now, limit) else { continue };
                let report = BlockingReport {
                    hub: s.hub,
                    thread: s.thread.clone(),
                    greenlet: cur,
                    name: s.name_of(cur),
                    // Main has no spawn site (its recorded one is inside grove).
                    location: (!is_main(cur))
                        .then(|| s.location.load().map(|l| l.to_string()))
                        .flatten(),
                    blocked_for,
                    suppressed,
                };
                deliver(&report, hook.as_ref());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::RateLimit;
    use std::time::{Duration, Instant};

    #[test]
    fn rate_limit_delivers_at_most_the_cap_per_second_and_counts_the_rest() {
        let t0 = Instant::now();
        let mut r = RateLimit { window: t0, sent: 0, pending: 0 };
        let ms = |n| t0 + Duration::from_millis(n);
        assert_eq!(r.admit(ms(0), 2), Some(0));
        assert_eq!(r.admit(ms(10), 2), Some(0));
        assert_eq!(r.admit(ms(20), 2), None);
        assert_eq!(r.admit(ms(999), 2), None);
        // A new window: the next report carries what was suppressed before it.
        assert_eq!(r.admit(ms(1000), 2), Some(2));
        assert_eq!(r.admit(ms(1001), 2), Some(0));
        assert_eq!(r.admit(ms(1002), 2), None);
        // 0: no limit.
        for i in 0..100 {
            assert_eq!(r.admit(ms(1003 + i), 0), Some(u64::from(i == 0)));
        }
    }
}
