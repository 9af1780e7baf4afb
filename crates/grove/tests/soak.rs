//! Soak: many greenlets spawned and joined over time, on one hub and then on two, each doing a
//! different kind of work (plain return, sleeps, queues with a child, timeouts, semaphore, a
//! TCP echo round trip, killing a child, panicking). At every tenth of the run, once the hubs
//! are quiet, it takes a checkpoint: live heap allocations and bytes (a counting global
//! allocator), open fds, the hubs' live greenlets, timers, registered fds and mapped stacks,
//! and RSS. Everything must stay flat from the first checkpoint on — none of it may grow with
//! the number of greenlets run — and the blocking monitor must stay quiet.
//!
//! `GROVE_SOAK` sets the greenlets per phase (default 40,000 so CI stays quick; `ci/soak.sh`
//! runs 1,000,000 in release), `GROVE_SOAK_MONITOR_MS` the monitor threshold (default
//! 2,000 ms: a noisy CI machine must not fail it; the script uses gevent's 100 ms).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::{Cell, OnceCell};
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use grove::net::{TcpListener, TcpStream};
use grove::sync::{Event, Queue, Semaphore};
use grove::{HubStats, JoinError, Runtime, WaitError};

/// The system allocator, counting live allocations and bytes.
struct Counting;

static LIVE_ALLOCS: AtomicI64 = AtomicI64::new(0);
static LIVE_BYTES: AtomicI64 = AtomicI64::new(0);

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so
// `System`'s guarantees carry over; the counters are only statistics.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as is; the caller upholds `alloc`'s contract.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            LIVE_ALLOCS.fetch_add(1, Relaxed);
            LIVE_BYTES.fetch_add(layout.size() as i64, Relaxed);
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as is; the caller upholds `alloc_zeroed`'s contract.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            LIVE_ALLOCS.fetch_add(1, Relaxed);
            LIVE_BYTES.fetch_add(layout.size() as i64, Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_ALLOCS.fetch_sub(1, Relaxed);
        LIVE_BYTES.fetch_sub(layout.size() as i64, Relaxed);
        // SAFETY: `ptr` came from this allocator (i.e. `System`) with this `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded as is; `ptr` came from `System` with `layout`.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE_BYTES.fetch_add(new_size as i64 - layout.size() as i64, Relaxed);
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const KINDS: u64 = 8;
const BATCH: u64 = 1000;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

thread_local! {
    /// This hub's echo server (started on first use, lives until the hub shuts down).
    static ECHO: OnceCell<SocketAddr> = const { OnceCell::new() };
    /// This hub's semaphore (few permits, so greenlets queue on it).
    static SEM: Semaphore = Semaphore::new(8);
}

fn echo_addr() -> SocketAddr {
    ECHO.with(|e| {
        *e.get_or_init(|| {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = l.local_addr().unwrap();
            grove::spawn(move || loop {
                let (s, _) = l.accept().unwrap();
                grove::spawn(move || {
                    let mut buf = [0u8; 64];
                    loop {
                        match (&s).read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => (&s).write_all(&buf[..n]).unwrap(),
                        }
                    }
                });
            });
            addr
        })
    })
}

/// Sets a flag when dropped: proves a killed greenlet's destructors ran.
struct SetOnDrop(Rc<Cell<bool>>);
impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.set(true);
    }
}

/// Greenlet number `i`'s work; returns `i` (kind 7 panics instead).
fn work(i: u64) -> u64 {
    match i % KINDS {
        0 => {}
        1 => grove::sleep(Duration::from_micros(i % 2000)),
        2 => {
            let q = Rc::new(Queue::bounded(1));
            let q2 = q.clone();
            let producer = grove::spawn(move || {
                for k in 0..3 {
                    q2.put(i + k).unwrap();
                }
            });
            for k in 0..3 {
                assert_eq!(q.get().unwrap(), i + k);
            }
            producer.join().unwrap();
        }
        3 => {
            assert_eq!(
                Event::new().wait_timeout(Duration::from_millis(1)),
                Err(WaitError::TimedOut)
            );
            let r =
                grove::timeout(Duration::from_millis(1), || grove::sleep(Duration::from_secs(60)));
            assert!(r.is_err());
        }
        4 => {
            let permit = SEM.with(|s| s.acquire()).unwrap();
            grove::yield_now();
            drop(permit);
        }
        5 => {
            let s = TcpStream::connect(echo_addr()).unwrap();
            let msg = i.to_le_bytes();
            (&s).write_all(&msg).unwrap();
            let mut back = [0u8; 8];
            (&s).read_exact(&mut back).unwrap();
            assert_eq!(back, msg);
        }
        6 => {
            let dropped = Rc::new(Cell::new(false));
            let guard = SetOnDrop(dropped.clone());
            let child = grove::spawn(move || {
                let _g = guard;
                grove::sleep(Duration::from_secs(60));
            });
            grove::yield_now();
            child.kill().unwrap();
            assert!(matches!(child.join(), Err(JoinError::Killed)));
            assert!(dropped.get(), "the killed child's destructors did not run");
        }
        _ => panic!("soak panic {i}"),
    }
    i
}

/// Checks one joined result; returns whether it was a (wanted) panic.
fn check(i: u64, r: Result<u64, JoinError>) -> bool {
    match r {
        Ok(v) => {
            assert_eq!(v, i, "greenlet {i} returned {v}");
            assert_ne!(i % KINDS, 7, "greenlet {i} should have panicked");
            false
        }
        Err(JoinError::Panicked(_)) if i % KINDS == 7 => true,
        Err(e) => panic!("greenlet {i}: {e:?}"),
    }
}

#[derive(Debug, Clone, Copy)]
struct Checkpoint {
    done: u64,
    allocs: i64,
    bytes: i64,
    fds: usize,
    rss_kib: u64,
    alive: usize,
    timers: usize,
    io_sources: usize,
    stacks: usize,
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map(|d| d.count()).unwrap_or(0)
}

/// What the process's fds point at (for the report when their count moves).
fn fd_targets() -> Vec<String> {
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else { return Vec::new() };
    let mut v: Vec<String> = dir
        .flatten()
        .map(|e| format!("{:?}", std::fs::read_link(e.path()).unwrap_or_default()))
        .collect();
    v.sort();
    v
}

/// The fd count once it stops moving: the smallest of a few samples 20 ms apart (`pause`
/// lets the hubs run meanwhile). An fd that is only in flight at one instant (a connection
/// the kernel completed that the hub has not yet accepted, say) is not counted; a leaked one
/// is in every sample.
fn settled_fds(pause: &dyn Fn(Duration)) -> usize {
    let mut min = open_fds();
    for _ in 0..4 {
        pause(Duration::from_millis(20));
        let n = open_fds();
        if n != min {
            eprintln!("soak: fd count moved {min} -> {n}: {:?}", fd_targets());
        }
        min = min.min(n);
    }
    min
}

fn rss_kib() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm.split_whitespace().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
    pages * 4
}

fn checkpoint(done: u64, hubs: &[HubStats], pause: &dyn Fn(Duration)) -> Checkpoint {
    Checkpoint {
        done,
        allocs: LIVE_ALLOCS.load(Relaxed),
        bytes: LIVE_BYTES.load(Relaxed),
        fds: settled_fds(pause),
        rss_kib: rss_kib(),
        alive: hubs.iter().map(|h| h.alive).sum(),
        timers: hubs.iter().map(|h| h.timers).sum(),
        io_sources: hubs.iter().map(|h| h.io_sources).sum(),
        stacks: hubs.iter().map(|h| h.stacks_allocated).sum(),
    }
}

/// Waits (bounded generously: liveness only) until the hubs are back to their resting state:
/// at most one greenlet per hub (its echo server's accept loop) owning its one registered
/// listener, and no timers.
fn settle(stats: &dyn Fn() -> Vec<HubStats>, sleep: &dyn Fn()) -> Vec<HubStats> {
    let start = Instant::now();
    loop {
        let s = stats();
        if s.iter().all(|h| h.alive <= 1 && h.io_sources == h.alive && h.timers == 0) {
            return s;
        }
        assert!(start.elapsed() < Duration::from_secs(120), "hubs never settled: {s:?}");
        sleep();
    }
}

/// Asserts nothing grew between the first checkpoint and the later ones.
fn assert_flat(phase: &str, hubs: usize, cps: &[Checkpoint], total: u64) {
    for c in cps {
        eprintln!("soak {phase}: {c:?}");
    }
    let base = cps[0];
    let last = cps[cps.len() - 1];
    for c in &cps[1..] {
        assert_eq!(c.fds, base.fds, "{phase}: fds grew");
        assert_eq!(c.alive, base.alive, "{phase}: greenlets left alive");
        assert_eq!(c.timers, 0, "{phase}: timers left armed");
        assert_eq!(c.io_sources, base.io_sources, "{phase}: registrations left behind");
        // Pooled stacks follow the peak number of greenlets alive at once, which the batches
        // bound (a batch, its children and server-side connections: < 1.5 batches per hub).
        let peak = hubs * (BATCH as usize * 3 / 2);
        assert!(c.stacks <= peak, "{phase}: {} stacks mapped, more than {peak}", c.stacks);
        // Live heap: a leak of one allocation per greenlet would add `total * 0.9` here.
        // Buffers that settle at their high-water mark after the first tenth may still move
        // a little; 256 allocations / 1 MiB is far below one per hundred greenlets.
        assert!(c.allocs - base.allocs <= 256, "{phase}: live allocations grew: {c:?} vs {base:?}");
        assert!(c.bytes - base.bytes <= 1 << 20, "{phase}: live heap grew: {c:?} vs {base:?}");
    }
    eprintln!(
        "soak {phase}: {total} greenlets; live allocations {:+}, heap {:+} B, RSS {:+} KiB, \
         fds {:+} from greenlet {} to {}",
        last.allocs - base.allocs,
        last.bytes - base.bytes,
        last.rss_kib as i64 - base.rss_kib as i64,
        last.fds as i64 - base.fds as i64,
        base.done,
        last.done,
    );
}

fn expected_panics(total: u64) -> u64 {
    (0..total).filter(|k| k % KINDS == 7).count() as u64
}

fn one_hub(total: u64) -> Vec<Checkpoint> {
    grove::run(|| {
        let mut cps = Vec::new();
        let mut panics = 0;
        let step = (total / 10).max(BATCH);
        let mut i = 0;
        while i < total {
            let n = BATCH.min(total - i);
            let handles: Vec<_> = (i..i + n).map(|k| (k, grove::spawn(move || work(k)))).collect();
            for (k, h) in handles {
                panics += u64::from(check(k, h.join()));
            }
            i += n;
            if i % step == 0 || i == total {
                let s =
                    settle(&|| vec![grove::stats()], &|| grove::sleep(Duration::from_millis(1)));
                cps.push(checkpoint(i, &s, &grove::sleep));
            }
        }
        assert_eq!(panics, expected_panics(total));
        cps
    })
}

fn two_hubs(total: u64) -> Vec<Checkpoint> {
    let rt = Runtime::builder().hubs(2).build().unwrap();
    // Every hub starts its echo server now: placement by load may leave a hub without a
    // greenlet that needs it for the whole first batch, and a server started later would
    // look like a leak (one more greenlet, registration and fd) against the first checkpoint.
    for hub in 0..2 {
        rt.handle().spawn_on(hub, echo_addr).join().unwrap();
    }
    let mut cps = Vec::new();
    let step = (total / 10).max(BATCH);
    let mut i = 0;
    let mut panics = 0;
    while i < total {
        let n = BATCH.min(total - i);
        let handles: Vec<_> = (i..i + n).map(|k| (k, rt.spawn(move || work(k)))).collect();
        for (k, h) in handles {
            panics += u64::from(check(k, h.join()));
        }
        i += n;
        if i % step == 0 || i == total {
            let s =
                settle(&|| rt.handle().stats(), &|| std::thread::sleep(Duration::from_millis(1)));
            cps.push(checkpoint(i, &s, &std::thread::sleep));
        }
    }
    assert_eq!(panics, expected_panics(total));
    rt.shutdown();
    cps
}

#[test]
fn soak_one_hub_then_two() {
    let total = env_u64("GROVE_SOAK", 40_000);
    let monitor_ms = env_u64("GROVE_SOAK_MONITOR_MS", 2000);
    let reports = Arc::new(AtomicUsize::new(0));
    let r = reports.clone();
    grove::monitor::set_hook(move |rep| {
        eprintln!("soak: monitor report: {rep:?}");
        r.fetch_add(1, Relaxed);
    });
    grove::monitor::enable(Duration::from_millis(monitor_ms));
    // Panicking greenlets are part of the workload: keep their messages out of the log.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let expected =
            info.payload().downcast_ref::<String>().is_some_and(|s| s.starts_with("soak panic"));
        if !expected {
            default_hook(info);
        }
    }));

    let cps = one_hub(total);
    assert_flat("1 hub", 1, &cps, total);
    let cps = two_hubs(total);
    assert_flat("2 hubs", 2, &cps, total);

    grove::monitor::disable();
    assert_eq!(reports.load(Relaxed), 0, "the monitor reported a blocked hub");
}
