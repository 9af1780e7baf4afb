//! Structured concurrency: `Group::scope` kills what is left when the scope ends, however it
//! ends; `Group::scope_deadline` gives everything in it one deadline (issue 13.4).

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use grove::pool::Group;
use grove::JoinError;

struct SetOnDrop(Rc<Cell<bool>>);
impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.set(true);
    }
}

const LONG: Duration = Duration::from_secs(3600);

#[test]
fn leftovers_are_killed_when_the_scope_returns() {
    grove::run(|| {
        let base = grove::stats().alive;
        let dropped = Rc::new(Cell::new(false));
        let d = dropped.clone();
        let v = Group::scope(|g| {
            let quick = g.spawn(|| 7);
            g.spawn(move || {
                let _guard = SetOnDrop(d);
                grove::sleep(LONG);
            });
            quick.join().unwrap()
        });
        assert_eq!(v, 7);
        assert!(dropped.get(), "the leftover was unwound when the scope ended");
        assert_eq!(grove::stats().alive, base, "nothing outlives the scope");
    });
}

#[test]
fn leftovers_are_killed_when_the_scope_panics() {
    grove::run(|| {
        let base = grove::stats().alive;
        let dropped = Rc::new(Cell::new(false));
        let d = dropped.clone();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            Group::scope(|g| {
                g.spawn(move || {
                    let _guard = SetOnDrop(d);
                    grove::sleep(LONG);
                });
                grove::yield_now();
                panic!("the scope's own code fails");
            })
        }));
        assert!(r.is_err());
        // Killed while the scope unwound; it unwinds when the hub next runs it.
        grove::sleep(Duration::from_millis(1));
        assert!(dropped.get());
        assert_eq!(grove::stats().alive, base);
    });
}

#[test]
fn children_inherit_the_scope_deadline() {
    grove::run(|| {
        let base = grove::stats().alive;
        let deadline = Instant::now() + Duration::from_millis(20);
        let (child_result, outer) = {
            let seen = Rc::new(Cell::new(None));
            let s = seen.clone();
            let outer = Group::scope_deadline(deadline, |g| {
                let slow = g.spawn(|| grove::sleep(LONG));
                // The child is killed at the deadline; so is this wait (it unwinds).
                let r = slow.join();
                s.set(Some(matches!(r, Err(JoinError::Killed))));
            });
            (seen.get(), outer)
        };
        assert!(outer.is_err(), "the deadline cut the scope short");
        // Whether the scope's own join saw the child die first is a race at the same instant:
        // either it did (Killed) or it was unwound before it could see it (None).
        assert!(child_result != Some(false), "a child was reported as anything but killed");
        assert!(Instant::now() >= deadline);
        assert_eq!(grove::stats().alive, base);

        // Before the deadline, children finish normally.
        let r = Group::scope_deadline(Instant::now() + LONG, |g| {
            let a = g.spawn(|| 1);
            let b = g.spawn(|| 2);
            a.join().unwrap() + b.join().unwrap()
        });
        assert_eq!(r, Ok(3));
    });
}
