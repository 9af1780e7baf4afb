//! Cross-thread primitives (`sync::mt`, `AsyncResult`) on their unhappy paths: waiters that are
//! killed or whose timeout scope expires mid-wait, waits that nothing can ever end (Deadlock),
//! set-then-clear pulses.
//!
//! Bounds on waiting are for liveness only (a hang fails the test instead of blocking the
//! suite); nothing here depends on timing to pass.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::mpsc;
use std::time::Duration;

use grove::sync::mt;
use grove::sync::{AsyncError, AsyncResult, RecvError, SendError, WaitError};

/// Generous: only a hang takes this long.
const LIVENESS: Duration = Duration::from_secs(30);

/// Runs `f` as the main greenlet of a fresh thread; fails if it does not return in time.
fn on_fresh_thread<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(grove::run(f));
    });
    rx.recv_timeout(LIVENESS).expect("the wait hung (or panicked) instead of ending")
}

/// Yields until `n` greenlets of this hub are blocked on `what`.
fn until_blocked(n: usize, what: &str) {
    let want = format!("blocked on {what}");
    for _ in 0..10_000 {
        if grove::run_info().iter().filter(|g| g.state == want).count() >= n {
            return;
        }
        grove::yield_now();
    }
    panic!("{n} greenlets never blocked on {what}");
}

// ---- 12.6: a waiter that leaves abnormally withdraws (or passes its wakeup on) ----

#[test]
fn a_killed_getter_does_not_swallow_the_next_item() {
    on_fresh_thread(|| {
        let q = mt::Queue::<u32>::unbounded();
        let (q1, q2) = (q.clone(), q.clone());
        let first = grove::spawn(move || q1.get());
        let second = grove::spawn(move || q2.get());
        until_blocked(2, "mt::Queue::get");
        first.kill().unwrap();
        q.put(7).unwrap();
        assert_eq!(second.wait_timeout(LIVENESS), Ok(()), "a live getter hung with an item queued");
        assert_eq!(second.join().unwrap(), Ok(7));
    });
}

#[test]
fn a_killed_putter_does_not_swallow_the_room() {
    on_fresh_thread(|| {
        let q = mt::Queue::<u32>::bounded(1);
        q.put(0).unwrap();
        let (q1, q2) = (q.clone(), q.clone());
        let first = grove::spawn(move || q1.put(1).is_ok());
        let second = grove::spawn(move || q2.put(2).is_ok());
        until_blocked(2, "mt::Queue::put");
        first.kill().unwrap();
        assert_eq!(q.get(), Ok(0));
        assert_eq!(
            second.wait_timeout(LIVENESS),
            Ok(()),
            "a live putter hung with room in the queue"
        );
        assert!(second.join().unwrap());
        assert_eq!(q.try_get(), Ok(2));
    });
}

#[test]
fn a_getter_killed_after_being_notified_passes_the_wakeup_on() {
    on_fresh_thread(|| {
        let q = mt::Queue::<u32>::unbounded();
        let (q1, q2) = (q.clone(), q.clone());
        let first = grove::spawn(move || q1.get());
        let second = grove::spawn(move || q2.get());
        until_blocked(2, "mt::Queue::get");
        // The put picks `first` (its wakeup is queued to the hub) ...
        q.put(7).unwrap();
        // ... which is killed before it runs: the wakeup must reach `second`.
        first.kill().unwrap();
        assert!(first.join().unwrap_err().is_killed());
        assert_eq!(second.wait_timeout(LIVENESS), Ok(()), "the wakeup died with the killed getter");
        assert_eq!(second.join().unwrap(), Ok(7));
    });
}

#[test]
fn a_getter_whose_timeout_scope_expires_leaves_the_queue_clean() {
    on_fresh_thread(|| {
        let q = mt::Queue::<u32>::unbounded();
        let (q1, q2) = (q.clone(), q.clone());
        // Today the scope makes the wait return TimedOut; with scope unwinding it unwinds out
        // of the wait. Either way the registration must go.
        let first = grove::spawn(move || {
            let _ = grove::timeout(Duration::from_millis(5), || q1.get());
        });
        let second = grove::spawn(move || q2.get());
        first.join().unwrap();
        until_blocked(1, "mt::Queue::get");
        q.put(9).unwrap();
        assert_eq!(second.wait_timeout(LIVENESS), Ok(()), "the expired waiter took the wakeup");
        assert_eq!(second.join().unwrap(), Ok(9));
        // Explicit timeouts too.
        let q3 = q.clone();
        let timed = grove::spawn(move || q3.get_timeout(Duration::from_millis(5)));
        assert_eq!(timed.join().unwrap(), Err(RecvError::Wait(WaitError::TimedOut)));
        let q4 = q.clone();
        let third = grove::spawn(move || q4.get());
        until_blocked(1, "mt::Queue::get");
        q.put(10).unwrap();
        assert_eq!(third.wait_timeout(LIVENESS), Ok(()));
        assert_eq!(third.join().unwrap(), Ok(10));
    });
}

#[test]
fn killed_waiters_of_events_and_results_leave_nothing_behind() {
    // A stale registration would keep the hub believing another thread may wake it: the
    // lone wait below would hang instead of reporting the deadlock.
    on_fresh_thread(|| {
        let ev = mt::Event::new();
        let e = ev.clone();
        let w = grove::spawn(move || e.wait());
        until_blocked(1, "mt::Event::wait");
        w.kill().unwrap();
        assert_eq!(ev.wait(), Err(WaitError::Deadlock), "nothing can set the event any more");

        let r = AsyncResult::<u8>::new();
        let r2 = r.clone();
        let w = grove::spawn(move || r2.get());
        until_blocked(1, "AsyncResult::get");
        w.kill().unwrap();
        assert!(matches!(r.get(), Err(AsyncError::Wait(WaitError::Deadlock))));
    });
}

#[test]
fn a_killed_waiter_on_another_hub_does_not_swallow_the_item() {
    let rt = grove::Runtime::builder().hubs(2).monitor(None).build().unwrap();
    let q = mt::Queue::<u32>::unbounded();
    let (q1, q2) = (q.clone(), q.clone());
    let (tx, rx) = mpsc::channel();
    let go = mt::Event::new();
    let g = go.clone();
    // The doomed getter registers first, on hub 0; the live one then on hub 1.
    let doomed = rt.spawn_on(0, move || {
        let me = grove::spawn(move || q1.get());
        until_blocked(1, "mt::Queue::get");
        tx.send(()).unwrap();
        g.wait().unwrap();
        me.kill().unwrap();
    });
    rx.recv_timeout(LIVENESS).unwrap();
    let live = rt.spawn_on(1, move || q2.get_timeout(LIVENESS));
    let blocked = || {
        let info = rt.handle().run_info();
        info.iter().filter(|(_, g)| g.state == "blocked on mt::Queue::get").count()
    };
    for _ in 0..10_000 {
        if blocked() == 2 {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    go.set();
    doomed.join().unwrap();
    q.put(5).unwrap();
    assert_eq!(live.join().unwrap(), Ok(5), "the live getter on hub 1 missed the item");
}

// ---- 12.11: a main greenlet waiting on the only handle gets the Deadlock error ----

#[test]
fn lone_waits_on_main_end_with_deadlock() {
    on_fresh_thread(|| {
        assert!(matches!(
            AsyncResult::<u8>::new().get(),
            Err(AsyncError::Wait(WaitError::Deadlock))
        ));
        assert_eq!(mt::Event::new().wait(), Err(WaitError::Deadlock));
        assert_eq!(mt::Queue::<u8>::unbounded().get(), Err(RecvError::Wait(WaitError::Deadlock)));
        let full = mt::Queue::bounded(1);
        full.put(1).unwrap();
        assert!(matches!(full.put(2), Err(SendError::Wait(WaitError::Deadlock, 2))));
        // The error says what happened.
        let e = AsyncResult::<u8>::new().get().unwrap_err();
        assert!(e.to_string().contains("block forever"), "{e}");
    });
    // A plain thread's main greenlet (no grove::run) too.
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || tx.send(AsyncResult::<u8>::new().get().is_err()));
    assert!(rx.recv_timeout(LIVENESS).unwrap());
}

#[test]
fn a_lone_wait_in_a_greenlet_makes_mains_join_a_deadlock() {
    on_fresh_thread(|| {
        let g = grove::spawn(|| AsyncResult::<u8>::new().get().is_ok());
        let e = mt::Event::new();
        let h = grove::spawn(move || e.wait());
        assert!(g.join().unwrap_err().to_string().contains("block forever"));
        assert!(h.join().is_err());
    });
}

#[test]
fn waits_with_another_handle_elsewhere_still_work() {
    on_fresh_thread(|| {
        // Another thread holds a handle and sets it later.
        let r = AsyncResult::new();
        let p = r.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            p.set(5u8);
        });
        assert_eq!(r.get().unwrap(), 5);
        t.join().unwrap();

        let ev = mt::Event::new();
        let e = ev.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            e.set();
        });
        assert_eq!(ev.wait(), Ok(()));
        t.join().unwrap();

        let q = mt::Queue::unbounded();
        let p = q.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            p.put(3u8).unwrap();
        });
        assert_eq!(q.get(), Ok(3));
        t.join().unwrap();

        // Another greenlet of this hub sets it (sharing one handle through an Rc).
        let r = Rc::new(AsyncResult::new());
        let r2 = r.clone();
        grove::spawn(move || {
            grove::sleep(Duration::from_millis(5));
            r2.set(8u8);
        });
        assert_eq!(r.get().unwrap(), 8);
        let r = Rc::new(AsyncResult::new());
        let r2 = r.clone();
        grove::spawn(move || r2.set(9u8));
        assert_eq!(r.get().unwrap(), 9);
    });
}

#[test]
fn the_other_handle_going_away_mid_wait_ends_it_with_deadlock() {
    on_fresh_thread(|| {
        let r = AsyncResult::<u8>::new();
        let p = r.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            drop(p);
        });
        assert!(matches!(r.get(), Err(AsyncError::Wait(WaitError::Deadlock))));
        t.join().unwrap();

        let q = mt::Queue::<u8>::unbounded();
        let p = q.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            drop(p);
        });
        assert_eq!(q.get(), Err(RecvError::Wait(WaitError::Deadlock)));
        t.join().unwrap();
    });
}

#[test]
fn a_handle_cloned_while_a_lone_waiter_waits_makes_it_wakeable_again() {
    on_fresh_thread(|| {
        // The greenlet waits on the only handle (shared through an Rc) ...
        let r = Rc::new(AsyncResult::<u8>::new());
        let r2 = r.clone();
        let waiter = grove::spawn(move || r2.get().ok());
        until_blocked(1, "AsyncResult::get");
        // ... then a clone goes to a thread that sets it later: main's join must wait for it,
        // not report a deadlock.
        let p = (*r).clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            p.set(4);
        });
        assert_eq!(waiter.join().unwrap(), Some(4));
        t.join().unwrap();
    });
}

// ---- 20.9: set(); clear() releases every greenlet that was waiting ----

#[test]
fn a_set_then_clear_pulse_releases_waiters() {
    on_fresh_thread(|| {
        let ev = mt::Event::new();
        let woke = Rc::new(Cell::new(0));
        let ws: Vec<_> = (0..3)
            .map(|i| {
                let (e, w) = (ev.clone(), woke.clone());
                grove::spawn(move || {
                    let r = if i == 0 { e.wait_timeout(LIVENESS) } else { e.wait() };
                    w.set(w.get() + 1);
                    r
                })
            })
            .collect();
        until_blocked(3, "mt::Event::wait");
        ev.set();
        ev.clear();
        for w in ws {
            assert_eq!(w.wait_timeout(LIVENESS), Ok(()), "a waiter missed the pulse");
            assert_eq!(w.join().unwrap(), Ok(()), "the pulse ended the wait with an error");
        }
        assert_eq!(woke.get(), 3);
        assert!(!ev.is_set());
    });
}

#[test]
fn a_pulse_from_another_thread_releases_a_waiter_on_a_runtime_hub() {
    let rt = grove::Runtime::builder().hubs(1).monitor(None).build().unwrap();
    let ev = mt::Event::new();
    let e = ev.clone();
    let w = rt.spawn(move || e.wait());
    for _ in 0..10_000 {
        if rt.handle().run_info().iter().any(|(_, g)| g.state == "blocked on mt::Event::wait") {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    ev.set();
    ev.clear();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || tx.send(w.join().map_err(|e| e.to_string())));
    assert_eq!(rx.recv_timeout(LIVENESS).expect("the waiter missed the pulse"), Ok(Ok(())));
}

/// The cross-thread queue shares the hub-local queue's state, so it takes a store too: a
/// bounded LIFO between a plain thread and a hub keeps its order and its bound, and a putter
/// waiting on the full queue from another thread is let in by a `get`.
#[test]
fn a_bounded_lifo_between_threads_keeps_its_order_and_bound() {
    on_fresh_thread(|| {
        let q: mt::Queue<u32, grove::sync::Lifo<u32>> = mt::Queue::with_bound(Some(2));
        let tx = q.clone();
        let (done_tx, done_rx) = mpsc::channel();
        let t = std::thread::spawn(move || {
            tx.put(1).unwrap();
            tx.put(2).unwrap();
            done_tx.send(()).unwrap();
            tx.put(3).unwrap(); // waits: the queue holds 2
        });
        done_rx.recv_timeout(LIVENESS).unwrap();
        assert!(q.is_full());
        assert_eq!(q.get(), Ok(2)); // last in, first out; frees room for 3
        t.join().unwrap();
        assert_eq!(q.get(), Ok(3));
        assert_eq!(q.get(), Ok(1));
        assert_eq!(q.capacity(), Some(2));
        q.close();
        assert!(q.is_closed());
        assert_eq!(q.get(), Err(RecvError::Closed));
    });
}
