//! Regression tests for the core's unhappy paths: each test is one defect from the
//! core-correctness review (numbered as in that issue) and failed before its fix. Defects that
//! crashed the process (SIGSEGV, abort) run in a child process, so a regression fails one test
//! instead of killing the test binary.

mod util;

use std::cell::{Cell, RefCell};
use std::process::{Command, Stdio};
use std::rc::Rc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use grove::greenlet::{getcurrent, Greenlet};
use grove::pool::{Group, Pool};
use grove::sync::{Event, Lock, Queue, Semaphore};
use grove::{Generator, JoinError, WaitError};

/// Liveness bound for scenarios that used to hang: generous, never a speed claim.
const LIVENESS: Duration = Duration::from_secs(30);

/// Runs `f` on its own thread (with its own hub) and fails the test if it does not finish in
/// [`LIVENESS`], instead of hanging the test binary.
fn must_finish<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(LIVENESS).unwrap_or_else(|_| panic!("{what}: did not finish (hang)"))
}

/// Runs the child side of `test` (this binary re-executed) with stderr sent to `stderr`, and
/// checks that it exited normally after printing `done`.
fn child_succeeds(test: &str, scenario: &str, stderr: Stdio) {
    let exe = std::env::current_exe().unwrap();
    let mut cmd = Command::new(exe);
    if scenario == "thread-exit" {
        // Greenlets left suspended at thread exit without `grove::run` are abandoned with
        // their stacks (documented): under ci/asan.sh, LeakSanitizer must not count that.
        let asan = std::env::var("ASAN_OPTIONS").unwrap_or_default();
        cmd.env("ASAN_OPTIONS", format!("{asan}:detect_leaks=0"));
    }
    let out = cmd
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(util::CHILD_ENV, scenario)
        .env("RUST_BACKTRACE", "0")
        .stderr(stderr)
        .stdout(Stdio::piped())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("child done"),
        "child scenario {scenario} failed: {:?}\n{stdout}",
        out.status
    );
}

fn in_child(scenario: &str) -> bool {
    util::child_scenario().as_deref() == Some(scenario)
}

/// Sets a flag when dropped.
struct SetOnDrop(Rc<Cell<bool>>);
impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.set(true);
    }
}

// ---- 1. memory safety: panics escaping a greenlet's catch ----

grove::local! {
    static PANICS_ON_DROP: RefCell<Option<PanicOnDrop>> = RefCell::new(None);
    static BLOCKS_ON_DROP: RefCell<Option<SleepOnDrop>> = RefCell::new(None);
}

struct PanicOnDrop;
impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        panic!("greenlet-local destructor panics");
    }
}

struct SleepOnDrop(Rc<Cell<u32>>);
impl Drop for SleepOnDrop {
    fn drop(&mut self) {
        grove::sleep(Duration::from_millis(20));
        self.0.set(self.0.get() + 1);
    }
}

/// Hub still healthy: a sleep on main, a spawn and a join, a queue hand-off.
fn hub_is_healthy() {
    grove::sleep(Duration::from_millis(2));
    let q = Queue::unbounded();
    let q2 = q.clone();
    let h = grove::spawn(move || q2.get().unwrap() * 2);
    grove::yield_now();
    q.put(21).unwrap();
    assert_eq!(h.join().unwrap(), 42);
}

#[test]
fn d01_panicking_local_destructor_does_not_corrupt_the_hub() {
    if in_child("local-panic") {
        grove::run(|| {
            let h = grove::spawn(|| {
                PANICS_ON_DROP.with(|v| *v.borrow_mut() = Some(PanicOnDrop));
                7
            });
            // The function returned: its value stands, the destructor's panic is reported.
            assert_eq!(h.join().unwrap(), 7);
            hub_is_healthy();
        });
        println!("child done");
        return;
    }
    child_succeeds(
        "d01_panicking_local_destructor_does_not_corrupt_the_hub",
        "local-panic",
        Stdio::null(),
    );
}

#[test]
fn d01_unjoined_panic_report_with_stderr_full_does_not_corrupt_the_hub() {
    if in_child("dev-full") {
        grove::run(|| {
            // Nobody joins: the panic is reported on stderr, which is /dev/full.
            drop(grove::spawn(|| panic!("nobody joins this")));
            let h = grove::spawn(|| panic!("joined later"));
            grove::sleep(Duration::from_millis(5));
            drop(h);
            hub_is_healthy();
        });
        println!("child done");
        return;
    }
    let full = std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
    child_succeeds(
        "d01_unjoined_panic_report_with_stderr_full_does_not_corrupt_the_hub",
        "dev-full",
        Stdio::from(full),
    );
}

#[test]
fn d01_blocking_local_destructor_of_a_killed_greenlet() {
    if in_child("local-block") {
        let drops = Rc::new(Cell::new(0));
        grove::run(|| {
            let d = drops.clone();
            let h = grove::spawn(move || {
                BLOCKS_ON_DROP.with(|v| *v.borrow_mut() = Some(SleepOnDrop(d)));
                grove::sleep(Duration::from_secs(3600));
            });
            grove::yield_now();
            h.kill().unwrap();
            assert!(h.join().unwrap_err().is_killed());
            hub_is_healthy();
            // One more whose local destructor is still blocked when `run` ends: shutdown
            // kills it inside the destructor.
            let d = drops.clone();
            drop(grove::spawn(move || {
                BLOCKS_ON_DROP.with(|v| *v.borrow_mut() = Some(SleepOnDrop(d)));
            }));
            grove::yield_now();
        });
        assert!(drops.get() >= 1);
        grove::run(hub_is_healthy);
        println!("child done");
        return;
    }
    child_succeeds(
        "d01_blocking_local_destructor_of_a_killed_greenlet",
        "local-block",
        Stdio::null(),
    );
}

// ---- 2. dropping a generator whose body is blocked in the hub ----

#[test]
fn d02_dropping_a_generator_blocked_in_the_hub_unwinds_its_body() {
    if in_child("gen-drop") {
        grove::run(|| {
            let unwound = Rc::new(Cell::new(false));
            let u = unwound.clone();
            let owner = grove::spawn(move || {
                let mut g = Generator::new(move |co, ()| {
                    let _guard = SetOnDrop(u);
                    co.yield_(1);
                    grove::sleep(Duration::from_secs(3600));
                    co.yield_(2);
                });
                assert_eq!(g.next(), Some(1));
                // Blocks in the hub inside the body's sleep; the owner is killed meanwhile
                // and drops the generator while unwinding.
                g.next()
            });
            grove::yield_now();
            grove::yield_now();
            owner.kill().unwrap();
            assert!(owner.join().unwrap_err().is_killed());
            // The body is unwound when the hub next runs it.
            let start = Instant::now();
            while !unwound.get() && start.elapsed() < LIVENESS {
                grove::sleep(Duration::from_millis(1));
            }
            assert!(unwound.get(), "generator body was never unwound");

            // Dropped while the owner runs normally, body sleeping: same.
            let unwound = Rc::new(Cell::new(false));
            let u = unwound.clone();
            let g: Rc<RefCell<Option<Generator<(), u32, ()>>>> = Rc::default();
            let g2 = g.clone();
            *g.borrow_mut() = Some(Generator::new(move |co, ()| {
                let _guard = SetOnDrop(u);
                co.yield_(1);
            }));
            assert_eq!(g.borrow_mut().as_mut().unwrap().next(), Some(1));
            drop(g2);
            drop(g.borrow_mut().take());
            assert!(unwound.get(), "a suspended generator is unwound by its drop");
            hub_is_healthy();
        });
        println!("child done");
        return;
    }
    child_succeeds(
        "d02_dropping_a_generator_blocked_in_the_hub_unwinds_its_body",
        "gen-drop",
        Stdio::null(),
    );
}

// ---- 3. thread exit without grove::run ----

/// Sets the event when dropped.
struct SetEventOnDrop(Event);
impl Drop for SetEventOnDrop {
    fn drop(&mut self) {
        self.0.set();
    }
}

#[test]
fn d03_thread_exit_without_run_drops_unstarted_closures_quietly() {
    if in_child("thread-exit") {
        std::thread::spawn(|| {
            let ev = Event::new();
            let e = ev.clone();
            let _waiter = grove::spawn(move || e.wait());
            grove::yield_now();
            // Never runs: the thread ends first, and the hub drops the closure, whose
            // destructor wakes the waiter.
            let guard = SetEventOnDrop(ev.clone());
            drop(grove::spawn(move || drop(guard)));
            let sem = Semaphore::new(1);
            let permit = sem.acquire().unwrap();
            drop(grove::spawn(move || drop(permit)));
            let mut gen = Generator::new(|co, ()| co.yield_(1u8));
            assert_eq!(gen.next(), Some(1));
            drop(grove::spawn(move || drop(gen)));
        })
        .join()
        .unwrap();
        println!("child done");
        return;
    }
    child_succeeds(
        "d03_thread_exit_without_run_drops_unstarted_closures_quietly",
        "thread-exit",
        Stdio::null(),
    );
}

// ---- 4. switching from a hub callback ----

#[test]
fn d04_switch_inside_a_callback_is_refused_and_main_is_unaffected() {
    if in_child("cb-switch") {
        grove::run(|| {
            let g = Greenlet::new(|v| v);
            let refused = Rc::new(Cell::new(0));
            let r = refused.clone();
            let g2 = g.clone();
            grove::add_callback(move || {
                let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| g2.switch(1u8)));
                let msg = grove_msg(res.err());
                assert!(msg.contains("callback"), "unexpected: {msg}");
                r.set(r.get() + 1);
            });
            let r = refused.clone();
            grove::add_callback(move || {
                let mut gen = Generator::new(|co, ()| co.yield_(1u8));
                let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| gen.next()));
                assert!(grove_msg(res.err()).contains("callback"));
                r.set(r.get() + 1);
            });
            // A callback that panics without catching: reported, the hub goes on.
            let g3 = g.clone();
            grove::add_callback(move || {
                g3.switch(2u8);
            });
            grove::sleep(Duration::from_millis(5));
            assert_eq!(refused.get(), 2);
            assert!(!g.is_finished());
            // The greenlet can still be switched to normally.
            assert_eq!(*g.switch(5u8).downcast::<u8>().unwrap(), 5);
            hub_is_healthy();
        });
        println!("child done");
        return;
    }
    child_succeeds(
        "d04_switch_inside_a_callback_is_refused_and_main_is_unaffected",
        "cb-switch",
        Stdio::null(),
    );
}

fn grove_msg(p: Option<Box<dyn std::any::Any + Send>>) -> String {
    let p = p.expect("expected a panic");
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

// ---- 7. a kill while blocked on socket I/O keeps deadlock detection on ----

#[test]
fn d07_killing_an_io_waiter_keeps_deadlock_detection() {
    let deadlocked = must_finish("d07", || {
        grove::run(|| {
            let l = grove::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = l.local_addr().unwrap();
            let client = grove::net::TcpStream::connect(addr).unwrap();
            let (server, _) = l.accept().unwrap();
            let reader = grove::spawn(move || {
                use std::io::Read;
                let mut s = server;
                let mut b = [0u8; 8];
                let _ = s.read(&mut b);
            });
            grove::yield_now();
            reader.kill().unwrap();
            drop(client);
            // Nothing can ever set this event.
            Event::new().wait()
        })
    });
    assert_eq!(
        deadlocked,
        Err(WaitError::Deadlock),
        "Event::wait on main should fail with a deadlock"
    );
}

// ---- 9. Group::kill after a member killed an unstarted sibling ----

#[test]
fn d09_group_kill_when_a_member_killed_an_unstarted_sibling() {
    must_finish("d09", || {
        grove::run(|| {
            let group = Group::new();
            let sibling: Rc<RefCell<Option<grove::JoinHandle<()>>>> = Rc::default();
            let s = sibling.clone();
            let killer = group.spawn(move || {
                s.borrow().as_ref().unwrap().kill().unwrap();
                grove::sleep(Duration::from_secs(3600));
            });
            *sibling.borrow_mut() = Some(group.spawn(|| unreachable!("killed before it ran")));
            grove::yield_now();
            assert_eq!(group.len(), 1);
            group.kill().unwrap();
            assert!(group.is_empty());
            assert!(killer.join().unwrap_err().is_killed());
        })
    });
}

// ---- 10. a greenlet that caught GreenletExit can be killed again ----

#[test]
fn d10_greenlet_that_caught_greenlet_exit_can_be_killed_again() {
    must_finish("d10", || {
        grove::run(|| {
            let caught = Rc::new(Cell::new(0));
            let c = caught.clone();
            let h = grove::spawn(move || {
                for _ in 0..2 {
                    let r = std::panic::catch_unwind(|| grove::sleep(Duration::from_secs(3600)));
                    assert!(r.unwrap_err().is::<grove::GreenletExit>());
                    c.set(c.get() + 1);
                }
                grove::sleep(Duration::from_secs(3600));
            });
            grove::yield_now();
            for _ in 0..3 {
                h.kill_nowait();
                grove::yield_now();
                grove::yield_now();
            }
            assert_eq!(caught.get(), 2);
            assert!(h.join().unwrap_err().is_killed());
        })
    });
}

// ---- 12. imap_unordered with an input iterator that panics ----

struct Faulty(u32);
impl Iterator for Faulty {
    type Item = u32;
    fn next(&mut self) -> Option<u32> {
        self.0 += 1;
        assert!(self.0 <= 3, "input iterator failed");
        Some(self.0)
    }
}

fn imap_with_faulty_input() -> (Vec<u32>, String) {
    let pool = Pool::new(2);
    let mut got = Vec::new();
    let it = pool.imap_unordered(Faulty(0), |i| i * 10);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        for v in it {
            got.push(v.unwrap());
        }
    }));
    got.sort();
    (got, grove_msg(r.err()))
}

#[test]
fn d12_imap_unordered_input_panic_reaches_the_consumer() {
    let (got, msg) = must_finish("d12 main", || grove::run(imap_with_faulty_input));
    assert!(msg.contains("input iterator failed"), "{msg}");
    assert!(got.iter().all(|v| [10, 20, 30].contains(v)), "{got:?}");
    let (got, msg) = must_finish("d12 greenlet", || {
        grove::run(|| grove::spawn(imap_with_faulty_input).join().unwrap())
    });
    assert!(msg.contains("input iterator failed"), "{msg}");
    assert!(got.len() <= 3);
}

// ---- 13. an expired scope unwinds its blocking calls ----

#[test]
fn d13_retry_loop_in_an_expired_scope_cannot_spin() {
    let (r, tries, ticks) = must_finish("d13", || {
        grove::run(|| {
            let ticks = Rc::new(Cell::new(0u32));
            let t = ticks.clone();
            let ticker = grove::spawn(move || loop {
                grove::sleep(Duration::from_millis(2));
                t.set(t.get() + 1);
            });
            let q: Queue<u8> = Queue::unbounded();
            let tries = Cell::new(0u32);
            let r = grove::timeout(Duration::from_millis(20), || loop {
                tries.set(tries.get() + 1);
                // Each try ends by its own timeout; the scope's expiry ends the loop.
                let _ = q.get_timeout(Duration::from_millis(1));
            });
            // Sleeping again after the scope works normally.
            let before = ticks.get();
            grove::sleep(Duration::from_millis(10));
            assert!(ticks.get() > before, "the ticker runs after the scope");
            ticker.kill().unwrap();
            (r, tries.get(), ticks.get())
        })
    });
    assert!(r.is_err());
    // Each try blocked for its 1 ms: a spinning loop makes hundreds of thousands.
    assert!(tries < 10_000, "{tries} tries: the loop spun");
    assert!(ticks > 0);
}

#[test]
fn d13_yield_now_in_an_expired_scope_leaves_it() {
    must_finish("d13 yield", || {
        grove::run(|| {
            let r = grove::timeout(Duration::from_millis(5), || loop {
                grove::yield_now();
            });
            assert!(r.is_err());
            let r = grove::timeout(Duration::from_millis(5), || loop {
                grove::sleep(Duration::ZERO);
            });
            assert!(r.is_err());
        })
    });
}

#[test]
fn d13_scope_expiry_unwinds_through_inner_scopes_and_destructors() {
    grove::run(|| {
        let dropped = Rc::new(Cell::new(false));
        let d = dropped.clone();
        let mut inner_returned = false;
        let r = grove::timeout(Duration::from_millis(5), || {
            let _g = SetOnDrop(d);
            let inner = grove::timeout(Duration::from_secs(3600), || {
                grove::sleep(Duration::from_secs(3600));
            });
            inner_returned = true;
            inner
        });
        assert!(r.is_err(), "the outer scope's deadline unwinds to the outer scope");
        assert!(!inner_returned, "the inner scope is passed through");
        assert!(dropped.get());
        // Inner shorter: it catches; the outer goes on.
        let r = grove::timeout(Duration::from_secs(3600), || {
            grove::timeout(Duration::from_millis(2), || grove::sleep(Duration::from_secs(3600)))
        });
        assert_eq!(r, Ok(Err(grove::Elapsed::default_for_tests())));
    });
}

/// `Elapsed` has no public constructor: get one from a scope that expires.
trait ElapsedForTests {
    fn default_for_tests() -> Self;
}
impl ElapsedForTests for grove::Elapsed {
    fn default_for_tests() -> Self {
        grove::timeout(Duration::ZERO, || grove::sleep(Duration::from_millis(1))).unwrap_err()
    }
}

#[test]
fn d13_equal_deadlines_unwind_to_the_outer_scope() {
    grove::run(|| {
        let at = Instant::now() + Duration::from_millis(3);
        let mut after_inner = false;
        let r = grove::timeout_at(at, || {
            let _ = grove::timeout_at(at, || grove::sleep(Duration::from_secs(3600)));
            after_inner = true;
        });
        assert!(r.is_err());
        assert!(!after_inner);
    });
}

#[test]
fn d13_own_timeout_earlier_than_the_scope_is_returned_not_unwound() {
    grove::run(|| {
        let q: Queue<u8> = Queue::unbounded();
        let r =
            grove::timeout(Duration::from_secs(3600), || q.get_timeout(Duration::from_millis(2)));
        assert_eq!(r, Ok(Err(grove::sync::RecvError::Wait(WaitError::TimedOut))));
        // Code that finishes without blocking after the deadline keeps its value.
        let r = grove::timeout(Duration::from_millis(1), || {
            let start = Instant::now();
            while start.elapsed() < Duration::from_millis(3) {}
            5
        });
        assert_eq!(r, Ok(5));
    });
}

// ---- 14. a timed-out join never reports an ending ----

#[test]
fn d14_join_and_wait_in_an_expiring_scope_do_not_report_an_ending() {
    grove::run(|| {
        let h = grove::spawn(|| {
            grove::sleep(Duration::from_millis(30));
            9
        });
        // Whatever `wait`/`join` returned inside the scope is recorded: they must not return.
        let waited = Cell::new(None);
        assert!(grove::timeout(Duration::from_millis(2), || waited.set(Some(h.wait()))).is_err());
        assert!(waited.take().is_none(), "wait returned although the greenlet is alive");
        assert!(!h.is_finished());
        assert_eq!(h.wait_timeout(Duration::from_millis(1)), Err(WaitError::TimedOut));
        let joined = RefCell::new(None);
        let slot = RefCell::new(Some(h));
        let r = grove::timeout(Duration::from_millis(2), || {
            let h = slot.borrow_mut().take().unwrap();
            *joined.borrow_mut() = Some(h.join());
        });
        assert!(r.is_err());
        assert!(joined.borrow().is_none(), "join returned {:?} for a live greenlet", joined);
    });
}

// ---- 15. lock / acquire / pool spawn in an expiring scope ----

#[test]
fn d15_lock_acquire_and_pool_spawn_in_an_expiring_scope_do_not_panic() {
    grove::run(|| {
        let lock = Lock::new(0);
        let _held = lock.lock().unwrap();
        let l2 = lock.clone();
        let r = grove::timeout(Duration::from_millis(2), move || {
            *l2.lock().unwrap() += 1;
        });
        assert!(r.is_err());
        let sem = Semaphore::new(0);
        assert!(
            grove::timeout(Duration::from_millis(2), || sem.acquire().unwrap().forget()).is_err()
        );
        assert_eq!(sem.waiting(), 0);
        sem.release();
        assert!(sem.try_acquire().is_some(), "the timed-out waiter left no reservation");
        let pool = Pool::new(1);
        pool.spawn(|| grove::sleep(Duration::from_secs(3600))).unwrap();
        assert!(grove::timeout(Duration::from_millis(2), || pool.spawn(|| ()).unwrap()).is_err());
        assert_eq!(pool.len(), 1);
        pool.kill().unwrap();
        assert!(pool.is_empty());
    });
}

// ---- 16. Event set then clear wakes every waiter ----

#[test]
fn d16_event_set_then_clear_wakes_every_waiter() {
    grove::run(|| {
        let ev = Event::new();
        let waiters: Vec<_> = (0..3)
            .map(|_| {
                let e = ev.clone();
                grove::spawn(move || e.wait())
            })
            .collect();
        grove::yield_now();
        ev.set();
        ev.clear();
        for w in waiters {
            assert_eq!(w.join().unwrap(), Ok(()), "a waiter woken by set() reports success");
        }
        // With a timeout too.
        let e = ev.clone();
        let w = grove::spawn(move || e.wait_timeout(Duration::from_secs(3600)));
        grove::yield_now();
        ev.set();
        ev.clear();
        assert_eq!(w.join().unwrap(), Ok(()));
    });
}

// ---- 17. a main greenlet looping on yield does not starve the loop ----

#[test]
fn d17_main_yield_loop_runs_callbacks_and_timers() {
    must_finish("d17", || {
        grove::run(|| {
            let cb = Rc::new(Cell::new(false));
            let c = cb.clone();
            grove::add_callback(move || c.set(true));
            grove::yield_now();
            assert!(cb.get(), "a callback queued before yield_now has run when it returns");
            let fired = Rc::new(Cell::new(false));
            let f = fired.clone();
            let _t = grove::call_later(Duration::from_millis(1), move || f.set(true));
            let start = Instant::now();
            while !fired.get() {
                assert!(start.elapsed() < LIVENESS, "timer starved by a yield loop");
                grove::sleep(Duration::ZERO);
            }
        })
    });
}

// ---- 18. Duration::MAX means no deadline ----

#[test]
fn d18_duration_max_means_no_deadline() {
    grove::run(|| {
        assert_eq!(grove::timeout(Duration::MAX, || 5), Ok(5));
        assert_eq!(
            grove::timeout(Duration::MAX, || grove::sleep(Duration::from_millis(1))),
            Ok(())
        );
        let q = Queue::unbounded();
        q.put(1).unwrap();
        assert_eq!(q.get_timeout(Duration::MAX), Ok(1));
        let ev = Event::new();
        ev.set();
        assert_eq!(ev.wait_timeout(Duration::MAX), Ok(()));
        let sem = Semaphore::new(1);
        assert!(sem.acquire_timeout(Duration::MAX).is_ok());
        let h = grove::spawn(|| 3);
        assert_eq!(h.wait_timeout(Duration::MAX), Ok(()));
        let t = grove::call_later(Duration::MAX, || unreachable!());
        assert!(t.cancel());
        let later = grove::spawn_later(Duration::MAX, || unreachable!());
        let sleeper = grove::spawn(|| grove::sleep(Duration::MAX));
        grove::yield_now();
        assert!(!sleeper.is_finished());
        sleeper.kill().unwrap();
        later.kill().unwrap();
        assert!(later.join().unwrap_err().is_killed());
    });
}

// ---- 19. a new wait on a set event goes after the woken waiters ----

#[test]
fn d19_new_wait_on_a_set_event_runs_after_woken_waiters() {
    grove::run(|| {
        let log = Rc::new(RefCell::new(Vec::new()));
        let ev = Event::new();
        let (e, l) = (ev.clone(), log.clone());
        let w = grove::spawn(move || {
            e.wait().unwrap();
            l.borrow_mut().push("waiter");
        });
        grove::yield_now();
        ev.set();
        ev.wait().unwrap();
        log.borrow_mut().push("newcomer");
        w.join().unwrap();
        assert_eq!(*log.borrow(), ["waiter", "newcomer"]);
    });
}

// ---- 20. the last handle of a suspended raw greenlet ----

#[test]
fn d20_dropping_the_last_handle_of_a_suspended_greenlet_unwinds_it() {
    grove::run(|| {
        let unwound = Rc::new(Cell::new(false));
        let u = unwound.clone();
        let g = Greenlet::new(move |_| {
            let _guard = SetOnDrop(u);
            // (A handle to itself on its own stack would keep it alive: a cycle.)
            let parent = getcurrent().parent().unwrap();
            parent.switch(());
            unreachable!("nothing switches back");
        });
        g.switch(());
        assert!(!unwound.get());
        let g2 = g.clone();
        drop(g);
        assert!(!unwound.get(), "another handle still exists");
        drop(g2);
        assert!(unwound.get(), "the last handle's drop unwinds it");

        // Never started: its function is dropped unrun.
        let dropped = Rc::new(Cell::new(false));
        let guard = SetOnDrop(dropped.clone());
        let g = Greenlet::new(move |v| {
            drop(guard);
            v
        });
        drop(g);
        assert!(dropped.get());

        // A child whose parent link points at a suspended greenlet keeps it alive.
        let unwound = Rc::new(Cell::new(false));
        let u = unwound.clone();
        let parent = Greenlet::new(move |_| {
            let _guard = SetOnDrop(u);
            let child = Greenlet::new(|v| v);
            drop(child);
            let parent = getcurrent().parent().unwrap();
            parent.switch(());
            Box::new(())
        });
        parent.switch(());
        drop(parent);
        assert!(unwound.get());
    });
}

// ---- 21. imap_unordered's work belongs to the pool ----

#[test]
fn d21_imap_unordered_workers_belong_to_the_pool() {
    must_finish("d21", || {
        grove::run(|| {
            let pool = Pool::new(2);
            let mut it = pool.imap_unordered(0..10u32, |i| {
                if i > 0 {
                    grove::sleep(Duration::from_secs(3600));
                }
                i
            });
            assert_eq!(it.next().unwrap().unwrap(), 0);
            grove::yield_now();
            assert!(pool.len() >= 2, "workers (and the feeder) are pool members");
            pool.kill().unwrap();
            assert!(pool.is_empty());
            let rest: Vec<_> = it.collect();
            assert!(rest.iter().all(|r| matches!(r, Err(JoinError::Killed))), "{rest:?}");

            // Dropping the iterator cancels the rest.
            let started = Rc::new(Cell::new(0));
            let s = started.clone();
            let pool = Pool::new(2);
            let mut it = pool.imap_unordered(0..100u32, move |i| {
                s.set(s.get() + 1);
                grove::sleep(Duration::from_millis(1));
                i
            });
            it.next().unwrap().unwrap();
            drop(it);
            assert!(pool.is_empty());
            let n = started.get();
            grove::sleep(Duration::from_millis(5));
            assert_eq!(started.get(), n, "no more items start after the drop");
            assert!(n < 100);
        })
    });
}
