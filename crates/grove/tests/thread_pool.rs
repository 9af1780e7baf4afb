//! The blocking-call thread pool: head-of-line blocking, abandoned calls, unwinding callers.
//! (Own binary: the pool is process-wide, so other tests' jobs would blur the counts.)

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use grove::thread_pool::{spawn_blocking, spawn_blocking_timeout};

mod util;

/// Generous liveness bound: only a broken pool takes this long.
const LIVE: Duration = Duration::from_secs(20);

/// A barrier with a timeout: true when all `n` arrived within `t`.
struct Rendezvous {
    n: usize,
    count: Mutex<usize>,
    cv: Condvar,
}

impl Rendezvous {
    fn new(n: usize) -> Arc<Rendezvous> {
        Arc::new(Rendezvous { n, count: Mutex::new(0), cv: Condvar::new() })
    }
    fn arrive(&self, t: Duration) -> bool {
        let mut c = self.count.lock().unwrap();
        *c += 1;
        self.cv.notify_all();
        let (c, _) = self.cv.wait_timeout_while(c, t, |c| *c < self.n).unwrap();
        *c >= self.n
    }
}

/// A one-shot gate the test opens from the hub thread.
#[derive(Clone, Default)]
struct Gate(Arc<(Mutex<bool>, Condvar)>);

impl Gate {
    fn open(&self) {
        *self.0 .0.lock().unwrap() = true;
        self.0 .1.notify_all();
    }
    /// Blocks the pool thread until opened (or `t`, so a failing test still ends).
    fn wait(&self, t: Duration) {
        let g = self.0 .0.lock().unwrap();
        let _ = self.0 .1.wait_timeout_while(g, t, |o| !*o).unwrap();
    }
}

#[test]
fn submitted_jobs_never_wait_behind_running_ones_below_the_maximum() {
    // Rounds of n jobs that can only finish if all n run at once. From round 2 on, idle threads
    // left by the previous round are being notified while more jobs arrive: a notified thread
    // that had not woken yet used to count as free, so a job queued behind a running one and
    // the rendezvous never completed.
    grove::run(|| {
        for n in [4usize, 12, 24, 40] {
            let r = Rendezvous::new(n);
            let hs: Vec<_> = (0..n)
                .map(|_| {
                    let r = r.clone();
                    grove::spawn(move || spawn_blocking(move || r.arrive(LIVE)).unwrap())
                })
                .collect();
            for (i, h) in grove::joinall(hs).into_iter().enumerate() {
                assert!(h.unwrap(), "round of {n}: job {i} never met the others (it was queued)");
            }
        }
    });
}

#[test]
fn a_trivial_job_does_not_wait_behind_a_long_one() {
    grove::run(|| {
        // Warm the pool so that an idle thread exists (the case that used to go wrong).
        spawn_blocking(|| ()).unwrap();
        for round in 0..20 {
            let gate = Gate::default();
            let g = gate.clone();
            let long = grove::spawn(move || spawn_blocking(move || g.wait(LIVE)).unwrap());
            grove::yield_now(); // the long job is submitted first
            let t = Instant::now();
            let r = spawn_blocking_timeout(LIVE / 2, || 1);
            gate.open();
            long.join().unwrap();
            assert_eq!(r.unwrap(), 1, "round {round}: the trivial job waited {:?}", t.elapsed());
        }
    });
}

#[test]
fn a_job_abandoned_before_it_started_never_runs() {
    grove::run(|| {
        // A call made after the scope's deadline submits nothing.
        let ran = Arc::new(AtomicBool::new(false));
        let r2 = ran.clone();
        let res = grove::timeout(Duration::from_millis(20), move || {
            // The deadline passes without a blocking call (a blocking one would end the
            // scope right there): the call below is made after it.
            std::thread::sleep(Duration::from_millis(40));
            spawn_blocking(move || r2.store(true, Ordering::SeqCst))
        });
        assert!(res.is_err(), "the scope expired");
        // Whatever the pool does next, the job was never submitted.
        spawn_blocking(|| ()).unwrap();
        assert!(!ran.load(Ordering::SeqCst), "a call after the deadline ran anyway");
    });
}

#[test]
fn a_destructor_during_a_kill_does_not_start_work_it_cannot_wait_for() {
    grove::run(|| {
        let ran = Arc::new(AtomicUsize::new(0));
        struct Cleanup(Arc<AtomicUsize>, Arc<Mutex<Option<std::io::ErrorKind>>>);
        impl Drop for Cleanup {
            fn drop(&mut self) {
                let r = self.0.clone();
                let e = spawn_blocking(move || r.fetch_add(1, Ordering::SeqCst));
                *self.1.lock().unwrap() = e.err().map(|e| e.kind());
            }
        }
        let err = Arc::new(Mutex::new(None));
        let (r2, e2) = (ran.clone(), err.clone());
        let g = grove::spawn(move || {
            let _c = Cleanup(r2, e2);
            grove::sleep(Duration::from_secs(3600));
        });
        grove::sleep(Duration::from_millis(5));
        g.kill().unwrap();
        assert_eq!(*err.lock().unwrap(), Some(std::io::ErrorKind::Interrupted));
        spawn_blocking(|| ()).unwrap();
        assert_eq!(ran.load(Ordering::SeqCst), 0, "reported Interrupted, yet the job ran");
    });
}

#[test]
fn killed_and_timed_out_waits_end_and_the_pool_stays_usable() {
    grove::run(|| {
        let gate = Gate::default();
        // The call's own timeout, then an enclosing scope, cut the waits short.
        let g2 = gate.clone();
        let e = spawn_blocking_timeout(Duration::from_millis(10), move || g2.wait(LIVE));
        assert_eq!(e.unwrap_err().kind(), std::io::ErrorKind::TimedOut);
        let g3 = gate.clone();
        let r = grove::timeout(Duration::from_millis(10), move || {
            spawn_blocking(move || g3.wait(LIVE))
        });
        assert!(r.is_err(), "the scope expired: {r:?}");
        // A kill while the job runs: the job still completes, in the background.
        let (started, done) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)));
        let (s2, d2, g4) = (started.clone(), done.clone(), gate.clone());
        let h = grove::spawn(move || {
            spawn_blocking(move || {
                s2.store(true, Ordering::SeqCst);
                g4.wait(LIVE);
                d2.store(true, Ordering::SeqCst);
            })
        });
        let t = Instant::now();
        while !started.load(Ordering::SeqCst) {
            assert!(t.elapsed() < LIVE, "the job never started");
            grove::sleep(Duration::from_millis(1));
        }
        h.kill().unwrap();
        assert!(h.join().is_err(), "killed");
        gate.open();
        while !done.load(Ordering::SeqCst) {
            assert!(t.elapsed() < LIVE, "the abandoned job never finished");
            grove::sleep(Duration::from_millis(5));
        }
        // The pool serves new work.
        assert_eq!(spawn_blocking(|| 5).unwrap(), 5);
    });
}

#[test]
fn a_queued_job_whose_caller_gave_up_is_taken_off_the_queue() {
    // Own process: it shrinks the process-wide pool to one thread.
    if util::child_scenario().is_some() {
        grove::thread_pool::set_max_threads(1);
        grove::run(|| {
            let gate = Gate::default();
            let g = gate.clone();
            let busy = grove::spawn(move || spawn_blocking(move || g.wait(LIVE)).unwrap());
            grove::yield_now(); // the only thread is now taken
            let ran = Arc::new(AtomicBool::new(false));
            let r2 = ran.clone();
            let e = spawn_blocking_timeout(Duration::from_millis(10), move || {
                r2.store(true, Ordering::SeqCst)
            })
            .unwrap_err();
            assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
            let r3 = ran.clone();
            let scoped = grove::timeout(Duration::from_millis(10), move || {
                spawn_blocking(move || r3.store(true, Ordering::SeqCst))
            });
            assert!(scoped.is_err());
            gate.open();
            busy.join().unwrap();
            // FIFO: had the abandoned jobs stayed queued, they would run before this one.
            spawn_blocking(|| ()).unwrap();
            assert!(
                !ran.load(Ordering::SeqCst),
                "a job whose caller gave up while it was queued ran"
            );
        });
        println!("CHILD-OK");
        return;
    }
    let out = util::run_child("a_queued_job_whose_caller_gave_up_is_taken_off_the_queue", "1");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("CHILD-OK"), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
}

/// The one pool thread fails to start while another hub's caller has queued a job that
/// counted on it: both calls fail with an error, neither waits forever (review finding: only
/// the starting caller's job was taken back out), and the pool works afterwards.
#[test]
fn a_thread_that_fails_to_start_fails_every_job_queued_behind_it() {
    // Own process: it shrinks the process-wide pool and installs a start hook.
    if util::child_scenario().is_some() {
        type Other = std::thread::JoinHandle<std::io::Result<i32>>;
        static OTHER: Mutex<Option<Other>> = Mutex::new(None);
        /// Stands for the OS refusing the thread, after a second caller (another hub) has
        /// queued its job in the window where the thread is starting.
        fn refuse() -> std::io::Result<()> {
            grove::thread_pool::set_thread_start_hook(None);
            let other = std::thread::spawn(|| grove::run(|| spawn_blocking(|| 7)));
            let t0 = Instant::now();
            while grove::thread_pool::queued_jobs() < 2 {
                assert!(t0.elapsed() < LIVE, "the second job was never queued");
                std::thread::sleep(Duration::from_millis(1));
            }
            *OTHER.lock().unwrap() = Some(other);
            Err(std::io::Error::other("thread start refused (injected)"))
        }
        grove::thread_pool::set_max_threads(1);
        grove::thread_pool::set_thread_start_hook(Some(refuse));
        grove::run(|| {
            let e = spawn_blocking(|| 1).unwrap_err();
            assert!(e.to_string().contains("injected"), "{e}");
        });
        let other = OTHER.lock().unwrap().take().expect("the hook ran");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || tx.send(other.join().unwrap()));
        let r = rx.recv_timeout(LIVE).expect("the other caller's job was stranded");
        assert!(r.is_err(), "a job with no thread to run it reported {r:?}");
        assert_eq!(grove::thread_pool::queued_jobs(), 0);
        // The pool starts threads again.
        assert_eq!(grove::run(|| spawn_blocking(|| 3)).unwrap(), 3);
        println!("CHILD-OK");
        return;
    }
    let name = "a_thread_that_fails_to_start_fails_every_job_queued_behind_it";
    let out = util::run_child(name, "1");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("CHILD-OK"), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
}
