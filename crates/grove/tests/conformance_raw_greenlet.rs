//! Conformance: the `greenlet` package's raw greenlets — switch, parent, throw, collection
//! (greenlet `tests/test_greenlet.py`, `tests/test_throw.py`) against `grove::greenlet`.

#[path = "util/conform.rs"]
mod conform;

use std::any::Any;
use std::panic::{self, AssertUnwindSafe};

use conform::*;
use grove::greenlet::{getcurrent, Greenlet, GreenletExit, Value};

fn take<T: Any>(v: Value) -> T {
    match v.downcast::<T>() {
        Ok(b) => *b,
        Err(_) => panic!("switch value of an unexpected type"),
    }
}

fn to_parent<V: Any>(v: V) -> Value {
    // Bound first: a temporary `getcurrent()` handle would live on this stack across the
    // switch and keep the greenlet from being collected (a handle to itself is a cycle).
    let parent = getcurrent().parent().expect("a parent");
    parent.switch(v)
}

fn unit() -> Value {
    Box::new(())
}

// mirrors greenlet tests/test_greenlet.py: TestGreenlet.test_simple
#[test]
fn simple_switch_back_and_forth() {
    conform(|| {
        let lst = Log::new();
        let l = lst.clone();
        let g = Greenlet::new(move |_| {
            l.push(1);
            to_parent(());
            l.push(3);
            unit()
        });
        lst.push(0);
        g.switch(());
        lst.push(2);
        g.switch(());
        lst.push(4);
        assert_eq!(lst.get(), [0, 1, 2, 3, 4]);
    });
}

// mirrors greenlet tests/test_greenlet.py: TestGreenlet.test_parent_equals_None
#[test]
fn new_greenlet_parent_is_its_creator() {
    conform(|| {
        let g = Greenlet::new(|v| v);
        assert_eq!(g.parent(), Some(getcurrent()));
        let inner = Greenlet::new(|_| {
            let child = Greenlet::new(|v| v);
            Box::new(child.parent() == Some(getcurrent()))
        });
        assert!(take::<bool>(inner.switch(())));
    });
}

// mirrors greenlet tests/test_greenlet.py: TestGreenlet.test_two_children
#[test]
fn two_children_interleave() {
    conform(|| {
        let lst = Log::new();
        let make = |l: Log<u8>| {
            Greenlet::new(move |_| {
                l.push(1);
                to_parent(());
                l.push(1);
                l.push(1);
                unit()
            })
        };
        let g = make(lst.clone());
        let h = make(lst.clone());
        g.switch(());
        assert_eq!(lst.len(), 1);
        h.switch(());
        assert_eq!(lst.len(), 2);
        h.switch(());
        assert_eq!(lst.len(), 4);
        assert!(h.is_finished());
        g.switch(());
        assert_eq!(lst.len(), 6);
        assert!(g.is_finished());
    });
}

// mirrors greenlet tests/test_greenlet.py: TestGreenlet.test_two_recursive_children
#[test]
fn two_recursive_children() {
    conform(|| {
        let lst = Log::new();
        let l = lst.clone();
        let g = Greenlet::new(move |_| {
            l.push('a');
            let l2 = l.clone();
            let f = Greenlet::new(move |_| {
                l2.push('b');
                to_parent(());
                unit()
            });
            f.switch(());
            l.push('c');
            unit()
        });
        g.switch(());
        assert_eq!(lst.get(), ['a', 'b', 'c']);
    });
}

/// greenlet's `fmain`: waits in a switch to its parent, records what interrupted it and lets
/// it continue; if resumed normally it fails with "SomeError".
fn fmain(seen: Log<String>) -> impl FnOnce(Value) -> Value {
    move |_| {
        let r = panic::catch_unwind(AssertUnwindSafe(|| to_parent(())));
        match r {
            Err(p) => {
                let what = if p.is::<GreenletExit>() {
                    "GreenletExit".to_string()
                } else {
                    panic_text(&*p)
                };
                seen.push(what);
                panic::resume_unwind(p)
            }
            Ok(_) => panic!("SomeError"),
        }
    }
}

// mirrors greenlet tests/test_greenlet.py: TestGreenlet.test_exception
#[test]
fn child_failure_continues_in_the_parent_chain() {
    conform(|| {
        let seen = Log::new();
        let g1 = Greenlet::new(fmain(seen.clone()));
        let g2 = Greenlet::new(fmain(seen.clone()));
        g1.switch(());
        g2.switch(());
        g2.set_parent(&g1);
        assert!(seen.is_empty());
        // g2 resumes and fails; its failure continues in g1 (its parent), which records it
        // and lets it continue into main.
        let r = panic::catch_unwind(AssertUnwindSafe(|| g2.switch(())));
        assert_eq!(panic_text(&*r.unwrap_err()), "SomeError");
        assert_eq!(seen.get(), ["SomeError"]);
        // Switching to the dead g2 hands the value straight back.
        take::<()>(g2.switch(()));
        assert_eq!(take::<i32>(g2.switch(25)), 25);
        assert_eq!(seen.get(), ["SomeError"]);
    });
}

// mirrors greenlet tests/test_greenlet.py: TestGreenlet.test_send_exception
#[test]
fn failure_of_a_child_parented_to_a_waiting_greenlet() {
    conform(|| {
        let seen = Log::new();
        let g1 = Greenlet::new(fmain(seen.clone()));
        g1.switch(());
        let crasher = Greenlet::new(|_| panic!("KeyError"));
        crasher.set_parent(&g1);
        let r = panic::catch_unwind(AssertUnwindSafe(|| crasher.switch(())));
        assert_eq!(panic_text(&*r.unwrap_err()), "KeyError");
        assert_eq!(seen.get(), ["KeyError"]);
        assert!(g1.is_finished());
    });
}

// mirrors greenlet tests/test_greenlet.py: TestGreenlet.test_dealloc
#[test]
fn dropping_the_last_handle_of_a_suspended_greenlet_unwinds_it() {
    isolated(|| {
        let seen = Log::new();
        let g1 = Greenlet::new(fmain(seen.clone()));
        let g2 = Greenlet::new(fmain(seen.clone()));
        g1.switch(());
        g2.switch(());
        assert!(seen.is_empty());
        drop(g1);
        grove::yield_now();
        assert_eq!(seen.get(), ["GreenletExit"]);
        drop(g2);
        grove::yield_now();
        assert_eq!(seen.get(), ["GreenletExit", "GreenletExit"]);
    });
}

// mirrors greenlet tests/test_greenlet.py: TestGreenlet.test_dealloc_catches_GreenletExit_throws_other
#[test]
fn dropped_greenlet_that_fails_while_unwinding_is_contained() {
    isolated(|| {
        let g = Greenlet::new(|_| {
            let r = panic::catch_unwind(AssertUnwindSafe(|| to_parent(())));
            if r.is_err() {
                panic!("SomeError instead of GreenletExit");
            }
            unit()
        });
        g.switch(());
        drop(g);
        grove::yield_now();
        assert_eq!(grove::spawn(|| 1).join().unwrap(), 1);
    });
}

// mirrors greenlet tests/test_greenlet.py: TestGreenlet.test_switch_kwargs
#[test]
fn first_switch_value_is_the_argument() {
    conform(|| {
        let g = Greenlet::new(|v| {
            let (a, b) = take::<(i32, i32)>(v);
            assert_eq!((a, b), (4, 2));
            Box::new(42)
        });
        assert_eq!(take::<i32>(g.switch((4, 2))), 42);
    });
}

// mirrors greenlet tests/test_greenlet.py: TestGreenlet.test_switch_kwargs_to_parent
#[test]
fn values_switched_to_the_parent() {
    conform(|| {
        let g = Greenlet::new(|v| {
            let x = take::<i32>(v);
            to_parent(("x", x));
            to_parent((2, ("x", 3)));
            Box::new((x, x * x))
        });
        assert_eq!(take::<(&str, i32)>(g.switch(3)), ("x", 3));
        assert_eq!(take::<(i32, (&str, i32))>(g.switch(())), (2, ("x", 3)));
        assert_eq!(take::<(i32, i32)>(g.switch(())), (3, 9));
    });
}

// mirrors greenlet tests/test_greenlet.py: TestGreenlet.test_falling_off_end_switches_to_unstarted_parent_works
#[test]
fn child_return_starts_an_unstarted_parent_with_its_value() {
    conform(|| {
        let parent_never_started = Greenlet::new(|v| Box::new((take::<i32>(v), 24)));
        let child = Greenlet::new(|_| Box::new(42));
        child.set_parent(&parent_never_started);
        assert_eq!(take::<(i32, i32)>(child.switch(())), (42, 24));
        assert!(parent_never_started.is_finished());
    });
}

// mirrors greenlet tests/test_greenlet.py: TestGreenlet.test_switch_to_dead_greenlet_reparent
#[test]
fn switch_to_a_dead_greenlet_returns_the_value_at_once() {
    conform(|| {
        let seen = Log::new();
        let s = seen.clone();
        let parent_never_started = Greenlet::new(move |_| {
            s.push(24);
            unit()
        });
        let s = seen.clone();
        let child = Greenlet::new(move |_| {
            s.push(42);
            unit()
        });
        child.switch(());
        assert_eq!(seen.get(), [42]);
        child.set_parent(&parent_never_started);
        assert_eq!(take::<i32>(child.switch(7)), 7);
        assert_eq!(seen.get(), [42], "grove does not run the new parent of a dead greenlet");
    });
}

// mirrors greenlet tests/test_greenlet.py: TestGreenlet.test_main_greenlet_parent_is_none
#[test]
fn main_greenlet_has_no_parent() {
    conform(|| {
        assert!(getcurrent().is_main());
        assert!(getcurrent().parent().is_none());
    });
}

// mirrors greenlet tests/test_greenlet.py: TestGreenlet.test_trivial_cycle
#[test]
fn parent_cycle_of_one_is_refused() {
    conform(|| {
        let g = Greenlet::new(|v| v);
        assert!(panic::catch_unwind(AssertUnwindSafe(|| g.set_parent(&g))).is_err());
    });
}

// mirrors greenlet tests/test_greenlet.py: TestGreenlet.test_deeper_cycle
#[test]
fn deeper_parent_cycle_is_refused() {
    conform(|| {
        let g1 = Greenlet::new(|v| v);
        let g2 = Greenlet::new(|v| v);
        let g3 = Greenlet::new(|v| v);
        g1.set_parent(&g2);
        g2.set_parent(&g3);
        assert!(panic::catch_unwind(AssertUnwindSafe(|| g3.set_parent(&g1))).is_err());
        assert_eq!(g3.parent(), Some(getcurrent()));
    });
}

// mirrors greenlet tests/test_greenlet.py: TestRepr.test_initial / test_dead
#[test]
fn state_of_new_running_and_dead_greenlets() {
    conform(|| {
        let g = Greenlet::new(|_| {
            let me = getcurrent();
            Box::new((me.is_active(), me.is_finished()))
        });
        assert!(!g.is_active());
        assert!(!g.is_finished());
        assert_eq!(take::<(bool, bool)>(g.switch(())), (true, false));
        assert!(!g.is_active());
        assert!(g.is_finished());
    });
}

// mirrors greenlet tests/test_greenlet.py: TestRepr.test_main_in_background
#[test]
fn main_greenlet_seen_from_a_child_is_active_not_dead() {
    conform(|| {
        let main = getcurrent();
        let g = Greenlet::new(move |_| Box::new((main.is_main(), main.is_finished())));
        assert_eq!(take::<(bool, bool)>(g.switch(())), (true, false));
    });
}

// mirrors greenlet tests/test_throw.py: ThrowTests.test_class (caught and switched back)
#[test]
fn throw_caught_by_the_target_which_switches_back() {
    conform(|| {
        let g = Greenlet::new(|_| {
            let r = panic::catch_unwind(AssertUnwindSafe(|| to_parent("ok")));
            match r {
                Err(p) if p.is::<GreenletExit>() => {
                    to_parent("ok");
                    unit()
                }
                _ => {
                    to_parent("fail");
                    unit()
                }
            }
        });
        assert_eq!(take::<&str>(g.switch(())), "ok");
        let back = g.throw().expect("the target switched back");
        assert_eq!(take::<&str>(back), "ok");
    });
}

// mirrors greenlet tests/test_throw.py: ThrowTests.test_kill
#[test]
fn throw_kills_and_the_parent_receives_greenlet_exit() {
    conform(|| {
        let dropped = Flag::new();
        let d = dropped.clone();
        let g = Greenlet::new(move |_| {
            let _guard = SetOnDrop(d);
            to_parent("ok");
            to_parent("fail");
            unit()
        });
        assert_eq!(take::<&str>(g.switch(())), "ok");
        let res = g.throw().expect("the parent (main) receives the result");
        assert!(res.downcast_ref::<GreenletExit>().is_some());
        assert!(g.is_finished());
        assert!(dropped.get());
        // Throwing into a dead greenlet does nothing.
        assert!(g.throw().is_none());
    });
}

// mirrors greenlet tests/test_throw.py: ThrowTests.test_throw_goes_to_original_parent (unstarted target)
#[test]
fn throw_into_an_unstarted_greenlet_just_kills_it() {
    conform(|| {
        let ran = Flag::new();
        let r = ran.clone();
        let g1 = Greenlet::new(|_| Box::new("normal exit"));
        let g2 = Greenlet::new(move |_| {
            r.set();
            unit()
        });
        g2.set_parent(&g1);
        assert!(g2.throw().is_none());
        assert!(g2.is_finished());
        assert!(!ran.get());
        assert!(
            !g1.is_finished(),
            "grove: the parent of an unstarted thrown greenlet is not involved"
        );
    });
}

// mirrors greenlet tests/test_throw.py: ThrowTests.test_throw_goes_to_original_parent (started target)
#[test]
fn throw_result_goes_to_the_original_parent() {
    conform(|| {
        let main = getcurrent();
        let m1 = main.clone();
        let g1 = Greenlet::new(move |_| {
            let v = m1.switch("f1 ready to catch");
            if v.downcast_ref::<GreenletExit>().is_some() {
                Box::new("caught")
            } else {
                Box::new("normal exit")
            }
        });
        let m2 = main.clone();
        let g2 = Greenlet::new(move |_| {
            m2.switch("from f2");
            unit()
        });
        g2.set_parent(&g1);
        assert_eq!(take::<&str>(g1.switch(())), "f1 ready to catch");
        assert_eq!(take::<&str>(g2.switch(())), "from f2");
        // g2 dies; its GreenletExit result goes to g1 (its parent), which returns to main.
        let res = g2.throw().expect("control comes back to main");
        assert_eq!(take::<&str>(res), "caught");
        assert!(g2.is_finished());
        assert!(g1.is_finished());
    });
}

// mirrors greenlet tests/test_greenlet.py: TestGreenlet (switch refused inside a hub callback)
#[test]
fn switch_inside_a_hub_callback_is_refused_and_contained() {
    isolated(|| {
        let ran = Flag::new();
        let r = ran.clone();
        let g = Greenlet::new(move |_| {
            r.set();
            unit()
        });
        let g2 = g.clone();
        grove::add_callback(move || {
            g2.switch(());
        });
        grove::sleep(ms(1));
        assert!(!ran.get(), "a callback switched into a greenlet");
        assert!(!g.is_finished());
        g.switch(());
        assert!(ran.get());
    });
}

// mirrors greenlet tests/test_throw.py: ThrowTests (throw refused inside a hub callback)
#[test]
fn throw_inside_a_hub_callback_is_refused_and_contained() {
    isolated(|| {
        let g = Greenlet::new(|_| {
            to_parent("started");
            Box::new("finished")
        });
        assert_eq!(take::<&str>(g.switch(())), "started");
        let g2 = g.clone();
        grove::add_callback(move || {
            g2.throw();
        });
        grove::sleep(ms(1));
        assert!(!g.is_finished(), "a callback threw into a greenlet");
        assert_eq!(take::<&str>(g.switch(())), "finished");
    });
}

// mirrors greenlet tests/test_greenlet.py: TestGreenlet (a raw greenlet may block in the hub)
#[test]
fn raw_greenlet_blocking_in_the_hub_then_returning() {
    conform(|| {
        let g = Greenlet::new(|_| {
            grove::sleep(ms(1));
            Box::new("slept")
        });
        assert_eq!(take::<&str>(g.switch(())), "slept");
    });
}
