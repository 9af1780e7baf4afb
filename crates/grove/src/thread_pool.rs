//! Running blocking work on OS threads while the calling greenlet waits cooperatively (gevent's
//! threadpool). Used by [`fs`](crate::fs) and [`dns`](crate::dns).
//!
//! One process-wide pool: threads start on demand up to a maximum (default 64), extra jobs wait
//! in a FIFO queue, and threads idle for 10 s exit. While the pool is below its maximum a job
//! never waits behind a running one: a submitted job starts a thread unless an idle thread is
//! left over for it. The calling greenlet parks on a cross-thread token, so other greenlets of
//! its hub keep running meanwhile.
//!
//! # When the caller stops waiting
//! A wait cut short (its own timeout, an enclosing `timeout` scope, a kill) cannot stop an OS
//! thread in the middle of a system call. What happens to the work depends on how far it got:
//! - not started yet (still queued): it is taken off the queue and never runs;
//! - running: it runs to completion on its thread and its value is dropped there;
//! - called while the greenlet is already unwinding (a destructor during a kill) or after the
//!   deadline has passed: nothing is submitted at all.

use std::collections::VecDeque;
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use crate::hub::fiber::Wake;
use crate::hub::{self, RemoteToken};

pub(crate) type Job = Box<dyn FnOnce() + Send>;

struct Queued {
    id: u64,
    run: Job,
}

struct Pool {
    queue: Mutex<PoolState>,
    available: Condvar,
    max: AtomicUsize,
    next_id: AtomicU64,
}

struct PoolState {
    jobs: VecDeque<Queued>,
    /// Threads alive (starting, busy or idle).
    threads: usize,
    /// Threads started that have not yet looked at the queue: each will take a job.
    starting: usize,
    /// Threads waiting on the condvar. A notified thread stays counted here until it wakes,
    /// which is why `submit` compares this with the queue length instead of trusting it alone.
    idle: usize,
}

const IDLE_EXIT: Duration = Duration::from_secs(10);

fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| Pool {
        queue: Mutex::new(PoolState { jobs: VecDeque::new(), threads: 0, starting: 0, idle: 0 }),
        available: Condvar::new(),
        max: AtomicUsize::new(64),
        next_id: AtomicU64::new(0),
    })
}

/// Locks `m`, going on past a poisoned lock.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Sets the most OS threads the pool runs at once (default 64). Jobs beyond wait in a queue.
///
/// # Examples
///
/// ```
/// grove::thread_pool::set_max_threads(16);
/// assert_eq!(grove::thread_pool::spawn_blocking(|| 1 + 1)?, 2);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn set_max_threads(n: usize) {
    pool().max.store(n.max(1), Ordering::Relaxed);
}

/// Threads currently in the pool (busy or idle).
///
/// # Examples
///
/// ```
/// grove::thread_pool::spawn_blocking(|| ())?;
/// assert!(grove::thread_pool::threads() >= 1); // the idle thread stays for a while
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn threads() -> usize {
    lock(&pool().queue).threads
}

/// Queues `job` for a pool thread, starting one if no thread is left over to take it.
pub(crate) fn submit(job: Job) -> io::Result<()> {
    let p = pool();
    let id = p.next_id.fetch_add(1, Ordering::Relaxed);
    let mut st = lock(&p.queue);
    st.jobs.push_back(Queued { id, run: job });
    if st.idle > 0 {
        p.available.notify_one();
    }
    // Each queued job needs its own taker: an idle thread (notified or not) or a starting one.
    if st.jobs.len() <= st.idle + st.starting || st.threads >= p.max.load(Ordering::Relaxed) {
        return Ok(());
    }
    st.threads += 1;
    st.starting += 1;
    drop(st);
    let r = match start_hook() {
        Some(hook) => hook(),
        None => Ok(()),
    };
    let r = r.and_then(|()| {
        std::thread::Builder::new().name("grove-blocking".into()).spawn(worker).map(drop)
    });
    let Err(e) = r else { return Ok(()) };
    let mut st = lock(&p.queue);
    st.threads -= 1;
    st.starting -= 1;
    if st.threads > 0 {
        return Ok(()); // the threads there are drain the queue, this job included
    }
    // No thread at all, none starting: nobody would ever run what is queued. Every queued
    // job is taken back out; ours reports the failure, the others (queued by callers that
    // counted on this thread) report theirs through their dropped completers.
    let stranded = std::mem::take(&mut st.jobs);
    drop(st);
    let ours = stranded.iter().any(|q| q.id == id);
    drop(stranded); // outside the lock: dropping a job wakes its waiter
    if ours {
        Err(e)
    } else {
        Ok(()) // already taken by a thread that has since exited
    }
}

/// A test hook run in place of nothing before each pool thread starts: an error it returns
/// stands for the OS refusing the thread.
type StartHook = fn() -> io::Result<()>;

static START_HOOK: Mutex<Option<StartHook>> = Mutex::new(None);

fn start_hook() -> Option<StartHook> {
    *lock(&START_HOOK)
}

/// Fault injection for tests: `hook` runs before each pool thread starts, and an error it
/// returns is handled as the OS refusing to start the thread. `None` removes it.
#[doc(hidden)]
pub fn set_thread_start_hook(hook: Option<fn() -> io::Result<()>>) {
    *lock(&START_HOOK) = hook;
}

/// Jobs queued and not yet taken by a pool thread. For tests.
#[doc(hidden)]
pub fn queued_jobs() -> usize {
    lock(&pool().queue).jobs.len()
}

fn worker() {
    let p = pool();
    let mut st = lock(&p.queue);
    st.starting -= 1;
    loop {
        if let Some(job) = st.jobs.pop_front() {
            drop(st);
            // Jobs catch their own panics; this only keeps the thread count right if one doesn't.
            let _ = panic::catch_unwind(AssertUnwindSafe(job.run));
            st = lock(&p.queue);
            continue;
        }
        st.idle += 1;
        let (g, t) = p.available.wait_timeout(st, IDLE_EXIT).unwrap_or_else(|e| e.into_inner());
        st = g;
        st.idle -= 1;
        if t.timed_out() && st.jobs.is_empty() {
            st.threads -= 1;
            return;
        }
    }
}

/// Where a pool job stands, seen by the greenlet waiting for it.
enum Phase<T> {
    Queued,
    Running,
    Done(std::thread::Result<T>),
    /// The job was dropped without running (its runner went away).
    Lost,
    /// The waiter gave up before the job started: it must not run.
    Cancelled,
    /// The waiter gave up while the job ran: its value goes to the job's own orphan handling.
    Orphaned,
    /// The waiter took the value.
    Taken,
}

struct CallState<T> {
    phase: Phase<T>,
    /// The waiting greenlet's token for its current park (one waiter per call).
    waiter: Option<RemoteToken>,
}

fn new_call<T>() -> (Call<T>, Completer<T>) {
    let s = Arc::new(Mutex::new(CallState { phase: Phase::Queued, waiter: None }));
    (Call { s: s.clone() }, Completer { s, finished: false })
}

/// The pool side of a call: the job reports through it.
pub(crate) struct Completer<T> {
    s: Arc<Mutex<CallState<T>>>,
    finished: bool,
}

impl<T> Completer<T> {
    /// Marks the job running; false if the waiter already gave up (then the job must not run).
    pub(crate) fn begin(&self) -> bool {
        let mut st = lock(&self.s);
        match st.phase {
            Phase::Queued => {
                st.phase = Phase::Running;
                true
            }
            _ => false,
        }
    }

    /// Hands the job's outcome to the waiter, or back (`Err`) if the waiter gave up meanwhile.
    pub(crate) fn finish(
        mut self,
        r: std::thread::Result<T>,
    ) -> Result<(), std::thread::Result<T>> {
        self.finished = true;
        let mut st = lock(&self.s);
        if matches!(st.phase, Phase::Orphaned) {
            return Err(r);
        }
        st.phase = Phase::Done(r);
        let w = st.waiter.take();
        drop(st);
        if let Some(w) = w {
            w.wake();
        }
        Ok(())
    }
}

impl<T> Drop for Completer<T> {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let mut st = lock(&self.s);
        if matches!(st.phase, Phase::Queued | Phase::Running) {
            st.phase = Phase::Lost;
        }
        let w = st.waiter.take();
        drop(st);
        if let Some(w) = w {
            w.wake();
        }
    }
}

/// What a call left behind when its waiter gave up.
pub(crate) enum Abandoned<T> {
    /// It never ran and never will (or it was lost).
    NotRun,
    /// It is running; its value goes to the job's orphan handling.
    Running,
    /// It had finished: here is the value nobody took.
    Done(std::thread::Result<T>),
}

/// The greenlet side of a call to a pool job.
pub(crate) struct Call<T> {
    s: Arc<Mutex<CallState<T>>>,
}

impl<T> Call<T> {
    /// Waits (cooperatively) for the job's outcome.
    ///
    /// Errors: `TimedOut` at `deadline` or the scope's deadline (which may also unwind, per
    /// the scope's semantics), `Interrupted` when the greenlet is unwinding, `Other` when the
    /// job was dropped without running. The call stays valid after an error: wait again or
    /// [`abandon`](Self::abandon) it.
    pub(crate) fn wait(
        &self,
        deadline: Option<Instant>,
        what: &'static str,
    ) -> io::Result<std::thread::Result<T>> {
        hub::with(|h| loop {
            {
                let mut st = lock(&self.s);
                match std::mem::replace(&mut st.phase, Phase::Taken) {
                    Phase::Done(r) => return Ok(r),
                    Phase::Lost => {
                        st.phase = Phase::Lost;
                        return Err(io::Error::other("the blocking call was dropped unrun"));
                    }
                    p => st.phase = p,
                }
                st.waiter = Some(h.token().to_remote());
            }
            match h.park(deadline, what) {
                Wake::Normal => {}
                w => return Err(wake_error(w)),
            }
        })
    }

    /// Gives up waiting: a queued job is cancelled, a running one orphaned.
    pub(crate) fn abandon(self) -> Abandoned<T> {
        let mut st = lock(&self.s);
        // Drop our token: an outstanding remote token keeps the hub from detecting deadlocks.
        let w = st.waiter.take();
        let r = match std::mem::replace(&mut st.phase, Phase::Taken) {
            Phase::Queued => {
                st.phase = Phase::Cancelled;
                Abandoned::NotRun
            }
            Phase::Running => {
                st.phase = Phase::Orphaned;
                Abandoned::Running
            }
            Phase::Done(r) => Abandoned::Done(r),
            _ => Abandoned::NotRun,
        };
        drop(st);
        drop(w);
        r
    }
}

/// Abandons its call when dropped: on an error return and when the wait unwinds (a kill, or
/// a `timeout` scope that unwinds its blocking call).
pub(crate) struct CallGuard<T> {
    call: Option<Call<T>>,
}

impl<T> CallGuard<T> {
    pub(crate) fn new(call: Call<T>) -> CallGuard<T> {
        CallGuard { call: Some(call) }
    }

    pub(crate) fn call(&self) -> &Call<T> {
        self.call.as_ref().expect("grove: call present until dropped")
    }

    /// The call completed and its value was taken: nothing to abandon.
    pub(crate) fn completed(mut self) {
        self.call = None;
    }
}

impl<T> Drop for CallGuard<T> {
    fn drop(&mut self) {
        if let Some(c) = self.call.take() {
            drop(c.abandon());
        }
    }
}

pub(crate) fn wake_error(w: Wake) -> io::Error {
    match w {
        Wake::TimedOut | Wake::Normal => {
            io::Error::new(io::ErrorKind::TimedOut, "blocking call timed out")
        }
        Wake::Unwinding | Wake::Deadlock => io::Error::new(
            io::ErrorKind::Interrupted,
            "greenlet is unwinding: cannot wait for the blocking call",
        ),
    }
}

/// Refuses to start work nobody can wait for: when the greenlet is unwinding (a destructor
/// during a kill) or its deadline (`deadline` or the enclosing scope's) has passed. In the
/// latter case the hub reports the expiry as for any blocking call (an expired scope may
/// unwind from here).
pub(crate) fn check_can_wait(deadline: Option<Instant>, what: &'static str) -> io::Result<()> {
    if std::thread::panicking() {
        return Err(wake_error(Wake::Unwinding));
    }
    let scope = crate::time::current_deadline();
    let eff = match (deadline, scope) {
        (Some(d), Some(s)) => Some(d.min(s)),
        (d, s) => d.or(s),
    };
    if eff.is_some_and(|d| d <= Instant::now()) {
        // Nobody holds a token for this park: it ends at the (past) deadline.
        let w = hub::with(|h| h.park(deadline, what));
        return Err(wake_error(w));
    }
    Ok(())
}

/// Runs `f` on a pool thread; the calling greenlet waits cooperatively (other greenlets keep
/// running) and gets `f`'s value. A panic in `f` continues in the caller.
///
/// ```
/// let n = grove::thread_pool::spawn_blocking(|| {
///     std::thread::sleep(std::time::Duration::from_millis(5)); // would block the hub
///     7
/// })
/// .unwrap();
/// assert_eq!(n, 7);
/// ```
///
/// # Errors
/// `TimedOut` if an enclosing `timeout` scope expires first; `Interrupted` if the caller is
/// killed while waiting or calls this while unwinding; the OS error if no thread can be
/// started. After `TimedOut`/`Interrupted`, `f` either never ran (it was still queued, or was
/// never submitted) or ran to completion on its thread with its value dropped: see the
/// [module docs](self).
pub fn spawn_blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> io::Result<T> {
    spawn_blocking_deadline(None, f)
}

/// [`spawn_blocking`], giving up waiting after `timeout`.
///
/// # Errors
/// As [`spawn_blocking`].
///
/// # Examples
///
/// ```
/// use std::io::ErrorKind;
/// use std::time::Duration;
/// let slow = || std::thread::sleep(Duration::from_millis(200));
/// let r = grove::thread_pool::spawn_blocking_timeout(Duration::from_millis(5), slow);
/// let err = r.unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::TimedOut); // the thread finishes the call on its own
/// ```
pub fn spawn_blocking_timeout<T: Send + 'static>(
    timeout: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> io::Result<T> {
    spawn_blocking_deadline(crate::time::deadline_after(timeout), f)
}

fn spawn_blocking_deadline<T: Send + 'static>(
    deadline: Option<Instant>,
    f: impl FnOnce() -> T + Send + 'static,
) -> io::Result<T> {
    check_can_wait(deadline, "spawn_blocking")?;
    let (call, done) = new_call();
    submit(Box::new(move || {
        if done.begin() {
            let r = panic::catch_unwind(AssertUnwindSafe(f));
            // An orphaned value (the caller gave up) is dropped here, on the pool thread.
            drop(done.finish(r));
        }
    }))?;
    let guard = CallGuard::new(call);
    let r = guard.call().wait(deadline, "spawn_blocking")?;
    guard.completed();
    r.map_err(|p| panic::resume_unwind(p))
}

/// A new call and its completer, for jobs that submit themselves (see `fs`).
pub(crate) fn call<T>() -> (Call<T>, Completer<T>) {
    new_call()
}
