//! Generators: send, iteration, panics, dropping a suspended generator, blocking bodies.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use grove::{Generator, GeneratorState};

/// The seed producer/consumer: a consumer generator receives items with `send` (resume).
#[test]
fn producer_consumer_with_send() {
    let mut consumer = Generator::new(|co, first: Option<String>| {
        let mut seen = Vec::new();
        let mut item = first;
        while let Some(s) = item {
            seen.push(s.to_uppercase());
            item = co.yield_(seen.len());
        }
        seen
    });
    let mut acks = Vec::new();
    for word in ["alpha", "beta", "gamma"] {
        match consumer.resume(Some(word.to_string())) {
            GeneratorState::Yielded(n) => acks.push(n),
            GeneratorState::Complete(_) => panic!("finished early"),
        }
    }
    assert_eq!(acks, [1, 2, 3]);
    assert_eq!(
        consumer.resume(None),
        GeneratorState::Complete(vec!["ALPHA".into(), "BETA".into(), "GAMMA".into()])
    );
    assert!(consumer.is_finished());
}

#[test]
fn iterator_of_fibonacci() {
    let fib = Generator::new(|co, ()| {
        let (mut a, mut b) = (0u64, 1u64);
        loop {
            co.yield_(a);
            (a, b) = (b, a + b);
        }
    });
    let v: Vec<u64> = fib.take(10).collect();
    assert_eq!(v, [0, 1, 1, 2, 3, 5, 8, 13, 21, 34]);
}

#[test]
fn panic_propagates_to_the_resumer() {
    let mut g: Generator<(), u32, ()> = Generator::new(|co, ()| {
        co.yield_(1);
        panic!("generator broke");
    });
    assert_eq!(g.resume(()), GeneratorState::Yielded(1));
    let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| g.resume(()))).unwrap_err();
    assert_eq!(*err.downcast::<&str>().unwrap(), "generator broke");
    assert!(g.is_finished());
    assert_eq!(g.next(), None);
}

struct Drops(Rc<Cell<u32>>);
impl Drop for Drops {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
    }
}

#[test]
fn dropping_a_suspended_generator_unwinds_it() {
    let drops = Rc::new(Cell::new(0));
    let d = drops.clone();
    let mut g = Generator::new(move |co, ()| {
        let _guard = Drops(d);
        loop {
            co.yield_(());
        }
    });
    g.resume(());
    g.resume(());
    assert_eq!(drops.get(), 0);
    drop(g);
    assert_eq!(drops.get(), 1);
    assert_eq!(grove::stats().alive, 0);
}

#[test]
fn dropping_an_unstarted_generator_drops_its_closure() {
    let drops = Rc::new(Cell::new(0));
    let guard = Drops(drops.clone());
    let g: Generator<(), (), ()> = Generator::new(move |_, ()| drop(guard));
    drop(g);
    assert_eq!(drops.get(), 1);
}

#[test]
fn generator_body_may_block_and_others_keep_running() {
    grove::run(|| {
        let ticks = Rc::new(Cell::new(0));
        let t = ticks.clone();
        let ticker = grove::spawn(move || {
            for _ in 0..5 {
                grove::sleep(Duration::from_millis(2));
                t.set(t.get() + 1);
            }
        });
        let slow = Generator::new(|co, ()| {
            for i in 0..3 {
                grove::sleep(Duration::from_millis(10));
                co.yield_(i);
            }
        });
        assert_eq!(slow.collect::<Vec<_>>(), [0, 1, 2]);
        ticker.join().unwrap();
        assert_eq!(ticks.get(), 5);
    });
}

#[test]
fn generators_inside_spawned_greenlets() {
    grove::run(|| {
        let hs: Vec<_> = (0..50u64)
            .map(|k| {
                grove::spawn(move || {
                    let g = Generator::new(move |co, ()| {
                        for i in 0..10 {
                            grove::yield_now();
                            co.yield_(i * k);
                        }
                    });
                    g.sum::<u64>()
                })
            })
            .collect();
        let sums: Vec<u64> = grove::joinall(hs).into_iter().map(Result::unwrap).collect();
        for (k, s) in sums.iter().enumerate() {
            assert_eq!(*s, 45 * k as u64);
        }
    });
}
