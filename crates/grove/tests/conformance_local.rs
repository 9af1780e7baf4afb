//! Conformance: greenlet-local storage (gevent `tests/test__local.py`) against `grove::local!`.

#[path = "util/conform.rs"]
mod conform;

use std::cell::{Cell, RefCell};

use conform::*;

grove::local! {
    static PATH: RefCell<String> = RefCell::new(String::new());
    static OTHER: RefCell<String> = RefCell::new(String::new());
    static NUMBER: Cell<u32> = Cell::new(0);
}

// mirrors gevent tests/test__local.py: TestGeventLocal.test_local_opts_not_subclassed
#[test]
fn local_value_set_and_read_back() {
    conform(|| {
        NUMBER.with(|n| n.set(1));
        assert_eq!(NUMBER.with(Cell::get), 1);
    });
}

// mirrors gevent tests/test__local.py: TestGeventLocal.test_objects
#[test]
fn two_locals_are_independent() {
    conform(|| {
        PATH.with(|p| *p.borrow_mut() = "123".into());
        OTHER.with(|p| *p.borrow_mut() = "123".into());
        assert_eq!(PATH.with(|p| p.borrow().clone()), OTHER.with(|p| p.borrow().clone()));
        OTHER.with(|p| *p.borrow_mut() = "321".into());
        assert_ne!(PATH.with(|p| p.borrow().clone()), OTHER.with(|p| p.borrow().clone()));
    });
}

// mirrors gevent tests/test__local.py: TestGeventLocal.test_attribute_error
#[test]
fn value_set_in_another_greenlet_is_not_seen_here() {
    conform(|| {
        assert_eq!(NUMBER.with(Cell::get), 0);
        let other = grove::spawn(|| {
            NUMBER.with(|n| n.set(42));
            NUMBER.with(Cell::get)
        });
        assert_eq!(other.join().unwrap(), 42);
        assert_eq!(NUMBER.with(Cell::get), 0);
    });
}

// mirrors gevent tests/test__local.py: TestGeventLocal.test_slot_and_type_attributes (fresh per greenlet)
#[test]
fn every_greenlet_starts_from_the_initial_value() {
    conform(|| {
        let hs: Vec<_> = (0..5u32)
            .map(|i| {
                grove::spawn(move || {
                    let before = NUMBER.with(Cell::get);
                    NUMBER.with(|n| n.set(i));
                    grove::yield_now(); // the others write theirs meanwhile
                    (before, NUMBER.with(Cell::get))
                })
            })
            .collect();
        for (i, r) in grove::joinall(hs).into_iter().enumerate() {
            assert_eq!(r.unwrap(), (0, i as u32));
        }
    });
}

thread_local! {
    static CREATED: Cell<usize> = const { Cell::new(0) };
    static DELETED: Cell<usize> = const { Cell::new(0) };
}

struct Sentinel;

impl Sentinel {
    fn new() -> Sentinel {
        CREATED.with(|c| c.set(c.get() + 1));
        Sentinel
    }
}

impl Drop for Sentinel {
    fn drop(&mut self) {
        DELETED.with(|c| c.set(c.get() + 1));
    }
}

grove::local! {
    static SENTINEL: Sentinel = Sentinel::new();
}

// mirrors gevent tests/test__local.py: TestGeventLocal.test_locals_collected_when_greenlet_dead_but_still_referenced
#[test]
fn local_values_are_dropped_when_their_greenlet_ends() {
    conform(|| {
        let hs: Vec<_> = (0..5).map(|_| grove::spawn(|| SENTINEL.with(|_| ()))).collect();
        grove::yield_now();
        assert_eq!(CREATED.with(Cell::get), 5);
        for h in hs {
            assert!(h.is_finished());
        }
        assert_eq!(DELETED.with(Cell::get), 5);
    });
}

// mirrors gevent tests/test__local.py: TestGeventLocal.test_locals_collected_when_unreferenced_even_in_running_greenlet (lazily created)
#[test]
fn local_value_is_created_only_on_first_access() {
    conform(|| {
        let h = grove::spawn(|| {
            let before = CREATED.with(Cell::get);
            grove::yield_now();
            let unchanged = CREATED.with(Cell::get) == before;
            SENTINEL.with(|_| ());
            SENTINEL.with(|_| ());
            (unchanged, CREATED.with(Cell::get) - before)
        });
        assert_eq!(h.join().unwrap(), (true, 1));
    });
}

// mirrors gevent tests/test__local.py: TestGeventLocal.test_locals_collected_when_greenlet_dead (killed)
#[test]
fn local_values_of_a_killed_greenlet_are_dropped() {
    conform(|| {
        let h = grove::spawn(|| {
            SENTINEL.with(|_| ());
            grove::sleep(FOREVER);
        });
        grove::yield_now();
        assert_eq!(CREATED.with(Cell::get), 1);
        assert_eq!(DELETED.with(Cell::get), 0);
        h.kill().unwrap();
        assert_eq!(DELETED.with(Cell::get), 1);
    });
}

struct SleepsInDrop(Flag);

impl Drop for SleepsInDrop {
    fn drop(&mut self) {
        grove::sleep(ms(1));
        self.0.set();
    }
}

grove::local! {
    static SLOW: RefCell<Option<SleepsInDrop>> = RefCell::new(None);
}

// mirrors gevent tests/test__local.py: TestGeventLocal.test_locals_collected_when_greenlet_dead (destructor that blocks)
#[test]
fn local_destructor_may_block() {
    isolated(|| {
        let done = Flag::new();
        let d = done.clone();
        let h = grove::spawn(move || SLOW.with(|s| *s.borrow_mut() = Some(SleepsInDrop(d))));
        h.join().unwrap();
        assert!(done.get());
    });
}

struct PanicsInDrop;

impl Drop for PanicsInDrop {
    fn drop(&mut self) {
        panic!("local destructor failure");
    }
}

grove::local! {
    static BAD: RefCell<Option<PanicsInDrop>> = RefCell::new(None);
}

// mirrors gevent tests/test__local.py: TestGeventLocal (a failing local destructor is contained)
#[test]
fn panicking_local_destructor_leaves_the_hub_usable() {
    isolated(|| {
        let h = grove::spawn(|| {
            BAD.with(|b| *b.borrow_mut() = Some(PanicsInDrop));
            5
        });
        let _ = h.join();
        let g = grove::spawn(|| {
            NUMBER.with(|n| n.set(9));
            grove::yield_now();
            NUMBER.with(Cell::get)
        });
        assert_eq!(g.join().unwrap(), 9);
        grove::sleep(ms(1));
    });
}

// mirrors gevent tests/test__local.py: TestGeventLocal (raw greenlets have their own values)
#[test]
fn raw_greenlet_has_its_own_local_values() {
    conform(|| {
        NUMBER.with(|n| n.set(1));
        let g = grove::greenlet::Greenlet::new(|_| {
            let seen = NUMBER.with(Cell::get);
            NUMBER.with(|n| n.set(2));
            Box::new(seen)
        });
        let seen = *g.switch(()).downcast::<u32>().unwrap();
        assert_eq!(seen, 0);
        assert_eq!(NUMBER.with(Cell::get), 1);
    });
}
