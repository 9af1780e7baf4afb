//! Running blocking work on OS threads while the calling greenlet waits cooperatively (gevent's
//! threadpool). Used by [`fs`](crate::fs) and [`dns`](crate::dns).
//!
//! One process-wide pool: threads start on demand up to a maximum (default 64), extra jobs wait
//! in a FIFO queue, and threads idle for 10 s exit. The calling greenlet parks on a cross-thread
//! token, so other greenlets of its hub keep running meanwhile.

use std::collections::VecDeque;
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::hub;
use crate::hub::fiber::Wake;

type Job = Box<dyn FnOnce() + Send>;

struct Pool {
    queue: Mutex<PoolState>,
    available: Condvar,
    max: AtomicUsize,
}

struct PoolState {
    jobs: VecDeque<Job>,
    threads: usize,
    idle: usize,
}

const IDLE_EXIT: Duration = Duration::from_secs(10);

fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| Pool {
        queue: Mutex::new(PoolState { jobs: VecDeque::new(), threads: 0, idle: 0 }),
        available: Condvar::new(),
        max: AtomicUsize::new(64),
    })
}

/// Sets the most OS threads the pool runs at once (default 64). Jobs beyond wait in a queue.
pub fn set_max_threads(n: usize) {
    pool().max.store(n.max(1), Ordering::Relaxed);
}

/// Threads currently in the pool (busy or idle).
pub fn threads() -> usize {
    pool().queue.lock().unwrap_or_else(|e| e.into_inner()).threads
}

fn submit(job: Job) -> io::Result<()> {
    let p = pool();
    let mut st = p.queue.lock().unwrap_or_else(|e| e.into_inner());
    st.jobs.push_back(job);
    if st.idle == 0 && st.threads < p.max.load(Ordering::Relaxed) {
        st.threads += 1;
        drop(st);
        let r = std::thread::Builder::new().name("grove-blocking".into()).spawn(worker);
        if let Err(e) = r {
            let mut st = p.queue.lock().unwrap_or_else(|e| e.into_inner());
            st.threads -= 1;
            if st.threads == 0 {
                // Nobody will ever run the job: take it back out and report.
                st.jobs.pop_back();
                return Err(e);
            }
        }
    } else {
        p.available.notify_one();
    }
    Ok(())
}

fn worker() {
    let p = pool();
    let mut st = p.queue.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        if let Some(job) = st.jobs.pop_front() {
            drop(st);
            job();
            st = p.queue.lock().unwrap_or_else(|e| e.into_inner());
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
/// `TimedOut` if an enclosing `timeout` scope expires first (`f` still runs to completion on
/// its thread; its value is dropped); `Interrupted` if the caller is unwinding; the OS error
/// if no thread can be started.
pub fn spawn_blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> io::Result<T> {
    spawn_blocking_deadline(None, f)
}

/// [`spawn_blocking`], giving up waiting after `timeout`.
///
/// # Errors
/// As [`spawn_blocking`].
pub fn spawn_blocking_timeout<T: Send + 'static>(
    timeout: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> io::Result<T> {
    spawn_blocking_deadline(Some(Instant::now() + timeout), f)
}

fn spawn_blocking_deadline<T: Send + 'static>(
    deadline: Option<Instant>,
    f: impl FnOnce() -> T + Send + 'static,
) -> io::Result<T> {
    let slot: Arc<Mutex<Option<std::thread::Result<T>>>> = Arc::new(Mutex::new(None));
    hub::with(|h| {
        let tok = h.token().to_remote();
        let s = slot.clone();
        submit(Box::new(move || {
            let r = panic::catch_unwind(AssertUnwindSafe(f));
            *s.lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
            tok.wake();
        }))?;
        loop {
            let w = h.park(deadline, "spawn_blocking");
            if let Some(r) = slot.lock().unwrap_or_else(|e| e.into_inner()).take() {
                return r.map_err(|p| panic::resume_unwind(p));
            }
            match w {
                Wake::Normal => {}
                Wake::TimedOut => {
                    return Err(io::Error::new(io::ErrorKind::TimedOut, "blocking call timed out"))
                }
                Wake::Unwinding | Wake::Deadlock => {
                    return Err(io::Error::new(
                        io::ErrorKind::Interrupted,
                        "greenlet is unwinding: cannot wait for the blocking call",
                    ))
                }
            }
        }
    })
}
