//! Conformance: generators built on greenlets (greenlet `tests/test_generator.py`) against
//! `grove::Generator`.

#[path = "util/conform.rs"]
mod conform;

use std::panic::{self, AssertUnwindSafe};

use conform::*;
use grove::{Co, Generator, GeneratorState};

// mirrors greenlet tests/test_generator.py: GeneratorTests.test_generator
#[test]
fn generator_interleaves_with_its_consumer() {
    conform(|| {
        let seen = Log::new();
        for _ in 0..3 {
            let s = seen.clone();
            let g = Generator::new(move |co: &Co<(), u32>, ()| {
                for i in 0..5 {
                    s.push(i);
                    co.yield_(i);
                }
            });
            for j in g {
                seen.push(j);
            }
        }
        let once = [0, 0, 1, 1, 2, 2, 3, 3, 4, 4];
        assert_eq!(seen.get(), once.repeat(3));
    });
}

fn yield_from_deep_inside(co: &Co<(), u32>, depth: u32) {
    if depth == 0 {
        co.yield_(7);
    } else {
        yield_from_deep_inside(co, depth - 1);
    }
}

// mirrors greenlet tests/test_generator.py: GeneratorTests.test_generator (Yield from a nested call)
#[test]
fn generator_yields_from_a_nested_call() {
    conform(|| {
        let g = Generator::new(|co: &Co<(), u32>, ()| {
            yield_from_deep_inside(co, 50);
            yield_from_deep_inside(co, 3);
        });
        assert_eq!(g.collect::<Vec<_>>(), [7, 7]);
    });
}

// mirrors greenlet tests/test_generator.py: GeneratorTests.test_generator (values sent in)
#[test]
fn generator_receives_values_and_returns_a_result() {
    conform(|| {
        let mut g = Generator::new(|co: &Co<i32, i32>, first: i32| {
            let mut total = first;
            loop {
                let v = co.yield_(total);
                if v < 0 {
                    return total * 10;
                }
                total += v;
            }
        });
        assert_eq!(g.resume(1), GeneratorState::Yielded(1));
        assert_eq!(g.resume(2), GeneratorState::Yielded(3));
        assert!(!g.is_finished());
        assert_eq!(g.resume(-1), GeneratorState::Complete(30));
        assert!(g.is_finished());
    });
}

// mirrors greenlet tests/test_generator.py: GeneratorTests (a failing body continues in the consumer)
#[test]
fn generator_body_panic_continues_in_the_resumer() {
    conform(|| {
        let mut g = Generator::new(|co: &Co<(), u32>, ()| {
            co.yield_(1);
            panic!("body failed");
        });
        assert_eq!(g.resume(()), GeneratorState::Yielded(1));
        let r = panic::catch_unwind(AssertUnwindSafe(|| g.resume(())));
        assert_eq!(panic_text(&*r.unwrap_err()), "body failed");
        assert!(g.is_finished());
        assert_eq!(g.next(), None);
    });
}

// mirrors greenlet tests/test_generator.py: GeneratorTests (StopIteration: resuming a finished generator)
#[test]
fn generator_resumed_after_completion_panics() {
    conform(|| {
        let mut g = Generator::new(|_co: &Co<(), ()>, ()| 5);
        assert_eq!(g.resume(()), GeneratorState::Complete(5));
        assert!(panic::catch_unwind(AssertUnwindSafe(|| g.resume(()))).is_err());
    });
}

// mirrors greenlet tests/test_greenlet.py: TestGreenlet.test_dealloc (a dropped suspended generator)
#[test]
fn dropping_a_suspended_generator_unwinds_its_body() {
    isolated(|| {
        let (dropped, after) = (Flag::new(), Flag::new());
        let (d, a) = (dropped.clone(), after.clone());
        let mut g = Generator::new(move |co: &Co<(), u32>, ()| {
            let _guard = SetOnDrop(d);
            co.yield_(1);
            a.set();
        });
        assert_eq!(g.resume(()), GeneratorState::Yielded(1));
        drop(g);
        assert!(dropped.get());
        assert!(!after.get());
    });
}

// mirrors greenlet tests/test_generator.py: GeneratorTests (a body that blocks in the hub)
#[test]
fn generator_body_may_block_in_the_hub() {
    conform(|| {
        let g = Generator::new(|co: &Co<(), u32>, ()| {
            for i in 0..3 {
                grove::sleep(ms(1));
                co.yield_(i);
            }
        });
        assert_eq!(g.collect::<Vec<_>>(), [0, 1, 2]);
    });
}

// mirrors greenlet tests/test_generator.py: GeneratorTests (consumed by a spawned greenlet)
#[test]
fn generator_consumed_from_a_spawned_greenlet() {
    conform(|| {
        let h = grove::spawn(|| {
            Generator::new(|co: &Co<(), u32>, ()| {
                for i in 1..=3 {
                    co.yield_(i * i);
                    grove::yield_now();
                }
            })
            .sum::<u32>()
        });
        assert_eq!(h.join().unwrap(), 14);
    });
}

// mirrors greenlet tests/test_greenlet.py: TestGreenlet.test_dealloc (generator dropped while its body sleeps)
#[test]
fn killing_the_consumer_while_the_body_sleeps_unwinds_the_body() {
    isolated(|| {
        let dropped = Flag::new();
        let d = dropped.clone();
        let consumer = grove::spawn(move || {
            let mut g = Generator::new(move |co: &Co<(), u32>, ()| {
                let _guard = SetOnDrop(d);
                grove::sleep(FOREVER);
                co.yield_(1);
            });
            g.resume(())
        });
        grove::sleep(ms(1));
        consumer.kill().unwrap();
        assert!(consumer.join().unwrap_err().is_killed());
        assert!(dropped.get(), "the body's destructors did not run");
        assert_eq!(grove::spawn(|| 1).join().unwrap(), 1);
    });
}

// mirrors greenlet tests/test_generator.py: GeneratorTests (resume refused inside a hub callback)
#[test]
fn generator_resume_inside_a_hub_callback_is_refused_and_contained() {
    isolated(|| {
        let ran = Flag::new();
        let r = ran.clone();
        let g = std::rc::Rc::new(std::cell::RefCell::new(Generator::new(
            move |co: &Co<(), u32>, ()| {
                r.set();
                co.yield_(1);
            },
        )));
        let g2 = g.clone();
        grove::add_callback(move || {
            let _ = g2.borrow_mut().resume(());
        });
        grove::sleep(ms(1));
        assert!(!ran.get(), "a callback resumed a generator");
        assert_eq!(g.borrow_mut().resume(()), GeneratorState::Yielded(1));
    });
}

// mirrors greenlet tests/test_generator.py: GeneratorTests.test_generator (a generator inside a generator)
#[test]
fn nested_generators_yield_to_their_own_consumer() {
    conform(|| {
        let outer = Generator::new(|co: &Co<(), u32>, ()| {
            let inner = Generator::new(|ci: &Co<(), u32>, ()| {
                for i in 1..=3 {
                    ci.yield_(i);
                }
            });
            for v in inner {
                co.yield_(v * 10);
            }
        });
        assert_eq!(outer.collect::<Vec<_>>(), [10, 20, 30]);
    });
}

// mirrors greenlet tests/test_generator.py: GeneratorTests (the body waits for a spawned greenlet)
#[test]
fn generator_body_joins_a_spawned_greenlet() {
    conform(|| {
        let g = Generator::new(|co: &Co<(), u32>, ()| {
            let h = grove::spawn(|| {
                grove::sleep(ms(1));
                5
            });
            co.yield_(h.join().unwrap());
        });
        assert_eq!(g.collect::<Vec<_>>(), [5]);
    });
}
