//! Hub-level semantics: spawn order, join, kill, panics, sleep, timers, callbacks, deadlock.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use grove::{JoinError, JoinHandle, WaitError};
use rand::{Rng, SeedableRng};

#[test]
fn spawn_returns_at_once_and_runs_fifo() {
    grove::run(|| {
        let log = Rc::new(RefCell::new(Vec::new()));
        let hs: Vec<_> = (0..5)
            .map(|i| {
                let l = log.clone();
                grove::spawn(move || l.borrow_mut().push(i))
            })
            .collect();
        // Nothing ran yet: the parent keeps running until it blocks.
        assert!(log.borrow().is_empty());
        grove::yield_now();
        assert_eq!(*log.borrow(), [0, 1, 2, 3, 4]);
        for r in grove::joinall(hs) {
            r.unwrap();
        }
    });
}

#[test]
fn join_returns_value_and_waits() {
    grove::run(|| {
        let h = grove::spawn(|| {
            grove::sleep(Duration::from_millis(20));
            String::from("done")
        });
        assert!(!h.is_finished());
        assert_eq!(h.join().unwrap(), "done");
    });
}

struct Drops(Rc<Cell<u32>>);
impl Drop for Drops {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
    }
}

#[test]
fn kill_unwinds_blocked_greenlet_and_runs_destructors() {
    grove::run(|| {
        let drops = Rc::new(Cell::new(0));
        let reached = Rc::new(Cell::new(false));
        let (d, r) = (drops.clone(), reached.clone());
        let h = grove::spawn(move || {
            let _guard = Drops(d);
            grove::sleep(Duration::from_secs(3600));
            r.set(true);
        });
        grove::yield_now(); // let it start and block
        assert_eq!(drops.get(), 0);
        h.kill().unwrap();
        assert!(h.is_finished());
        assert_eq!(drops.get(), 1, "destructor ran during the kill");
        assert!(!reached.get());
        assert!(h.join().unwrap_err().is_killed());
        // The hour-long sleep's timer is gone with it.
        assert_eq!(grove::stats().timers, 0);
    });
}

#[test]
fn killing_a_not_started_greenlet_means_it_never_runs() {
    grove::run(|| {
        let ran = Rc::new(Cell::new(false));
        let drops = Rc::new(Cell::new(0));
        let (r, guard) = (ran.clone(), Drops(drops.clone()));
        let h = grove::spawn(move || {
            let _g = guard;
            r.set(true);
        });
        h.kill().unwrap();
        assert_eq!(drops.get(), 1, "its closure was dropped");
        grove::sleep(Duration::from_millis(5));
        assert!(!ran.get());
        assert!(matches!(h.join(), Err(JoinError::Killed)));

        // The same for spawn_later.
        let ran2 = Rc::new(Cell::new(false));
        let r2 = ran2.clone();
        let h2 = grove::spawn_later(Duration::from_millis(5), move || r2.set(true));
        h2.kill_nowait();
        grove::sleep(Duration::from_millis(20));
        assert!(!ran2.get());
        assert!(h2.join().unwrap_err().is_killed());
    });
}

#[test]
fn kill_nowait_then_join() {
    grove::run(|| {
        let h = grove::spawn(|| grove::sleep(Duration::from_secs(3600)));
        grove::yield_now();
        h.kill_nowait();
        assert!(!h.is_finished(), "kill_nowait only schedules the unwind");
        assert!(h.join().unwrap_err().is_killed());
    });
}

#[test]
fn a_greenlet_can_kill_itself() {
    grove::run(|| {
        let slot: Rc<RefCell<Option<JoinHandle<()>>>> = Rc::default();
        let s = slot.clone();
        let after = Rc::new(Cell::new(false));
        let a = after.clone();
        let h = grove::spawn(move || {
            grove::yield_now();
            let me = s.borrow_mut().take().unwrap();
            me.kill_nowait();
            a.set(true);
        });
        *slot.borrow_mut() = None;
        // Give the handle to the greenlet itself through the slot.
        let id = h.id();
        *slot.borrow_mut() = Some(h);
        grove::sleep(Duration::from_millis(5));
        assert!(!after.get(), "greenlet {id} unwound at its own kill");
    });
}

#[test]
fn panic_is_delivered_to_join_and_hub_survives() {
    grove::run(|| {
        let h = grove::spawn(|| -> u32 { panic!("boom") });
        let other = grove::spawn(|| 5);
        let err = h.join().unwrap_err();
        assert!(err.is_panic());
        assert_eq!(*err.into_panic().unwrap().downcast::<&str>().unwrap(), "boom");
        assert_eq!(other.join().unwrap(), 5);
    });
}

#[test]
fn ten_thousand_greenlets_sleeping_random_times_all_finish() {
    grove::run(|| {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let done = Rc::new(Cell::new(0u32));
        let hs: Vec<_> = (0..10_000)
            .map(|_| {
                let ms = rng.random_range(0..50);
                let d = done.clone();
                grove::spawn(move || {
                    grove::sleep(Duration::from_millis(ms));
                    d.set(d.get() + 1);
                })
            })
            .collect();
        for r in grove::joinall(hs) {
            r.unwrap();
        }
        assert_eq!(done.get(), 10_000);
        assert_eq!(grove::stats().alive, 0);
    });
}

#[test]
fn timers_fire_in_deadline_order() {
    grove::run(|| {
        let log = Rc::new(RefCell::new(Vec::new()));
        let delays = [30u64, 10, 50, 0, 20, 40, 10];
        let hs: Vec<_> = delays
            .iter()
            .enumerate()
            .map(|(i, &ms)| {
                let l = log.clone();
                grove::spawn(move || {
                    grove::sleep(Duration::from_millis(ms));
                    l.borrow_mut().push(i);
                })
            })
            .collect();
        grove::joinall(hs);
        // Sorted by delay; equal delays keep spawn order.
        assert_eq!(*log.borrow(), [3, 1, 6, 4, 0, 5, 2]);
    });
}

#[test]
fn sleep_waits_at_least_the_duration() {
    grove::run(|| {
        let t = Instant::now();
        grove::sleep(Duration::from_millis(30));
        assert!(t.elapsed() >= Duration::from_millis(30));
    });
}

#[test]
fn callbacks_run_on_next_turn_in_order() {
    grove::run(|| {
        let log = Rc::new(RefCell::new(Vec::new()));
        for i in 0..3 {
            let l = log.clone();
            grove::add_callback(move || l.borrow_mut().push(i));
        }
        assert!(log.borrow().is_empty(), "not inline");
        grove::yield_now();
        grove::sleep(Duration::from_millis(1));
        assert_eq!(*log.borrow(), [0, 1, 2]);

        let l = log.clone();
        let t = grove::call_later(Duration::from_millis(5), move || l.borrow_mut().push(9));
        let l2 = log.clone();
        let cancelled =
            grove::call_later(Duration::from_millis(1), move || l2.borrow_mut().push(8));
        assert!(cancelled.cancel());
        grove::sleep(Duration::from_millis(20));
        assert_eq!(*log.borrow(), [0, 1, 2, 9]);
        assert!(!t.cancel(), "already fired");
    });
}

#[test]
fn a_callback_that_blocks_is_reported_and_the_hub_goes_on() {
    grove::run(|| {
        let after = Rc::new(Cell::new(false));
        let a = after.clone();
        grove::add_callback(|| grove::sleep(Duration::from_millis(1)));
        grove::add_callback(move || a.set(true));
        grove::sleep(Duration::from_millis(2));
        assert!(after.get());
    });
}

#[test]
fn deadlock_is_detected_instead_of_hanging() {
    grove::run(|| {
        // A greenlet that waits for itself to finish: nothing can ever wake it, so the main
        // greenlet waiting for it would hang forever. Instead its wait fails.
        let slot: Rc<RefCell<Option<Rc<JoinHandle<()>>>>> = Rc::default();
        let s = slot.clone();
        let h = Rc::new(grove::Builder::new().name("self-waiter").spawn(move || {
            let me = s.borrow().clone().unwrap();
            let _ = me.wait();
        }));
        *slot.borrow_mut() = Some(h.clone());
        let err = h.wait().unwrap_err();
        assert_eq!(err, WaitError::Deadlock, "{err:?}");
        assert!(err.to_string().contains("would block forever"));
        slot.borrow_mut().take();
    });
}

#[test]
fn pending_timer_is_not_a_deadlock() {
    grove::run(|| {
        let h = grove::spawn(|| {
            grove::sleep(Duration::from_millis(30));
            1
        });
        assert_eq!(h.join().unwrap(), 1);
    });
}
