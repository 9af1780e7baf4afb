//! One generator produces work items; two consumer greenlets, one fast and one slow, pull
//! from it. Whoever is free takes the next item, so the fast consumer handles more of them,
//! and the producer's code is a plain loop that `yield_`s.
//!
//! Mirrors: a Python generator shared by two gevent greenlets (`next(gen)` in each), and
//! greenlet-based producer/consumer pipelines; `Generator::resume(value)` is Python's
//! `gen.send(value)` (shown last).
//!
//! Run: `cargo run -p grove --example generator_consumers`

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use grove::{Generator, GeneratorState};

fn main() {
    grove::run(|| {
        // The producer: a loop on its own stack, suspended at each `yield_`.
        let producer = Rc::new(RefCell::new(Generator::new(|co, ()| {
            for n in 1..=8 {
                println!("producer: making item {n}");
                co.yield_(format!("item {n}"));
            }
            println!("producer: done");
        })));

        let consumer = |name: &'static str, work: Duration| {
            let producer = producer.clone();
            grove::spawn(move || {
                let mut got = Vec::new();
                loop {
                    // The borrow ends here, before `sleep`, so the other consumer can pull
                    // meanwhile (`while let` would hold it for the whole loop body).
                    let next = producer.borrow_mut().next();
                    let Some(item) = next else { break };
                    println!("  {name} consumer took {item}");
                    grove::sleep(work);
                    got.push(item);
                }
                got.len()
            })
        };
        let fast = consumer("fast", Duration::from_millis(20));
        let slow = consumer("slow", Duration::from_millis(70));
        let (f, s) = (fast.join().unwrap(), slow.join().unwrap());
        println!("fast handled {f} items, slow {s}: {} in all\n", f + s);
        assert_eq!(f + s, 8);

        // Values can also go in: `resume(v)` is Python's `gen.send(v)`.
        let mut averager = Generator::new(|co, first: f64| {
            let (mut sum, mut n, mut x) = (0.0, 0.0, first);
            loop {
                sum += x;
                n += 1.0;
                x = co.yield_(sum / n);
            }
        });
        for x in [10.0, 20.0, 60.0] {
            if let GeneratorState::Yielded(avg) = averager.resume(x) {
                println!("sent {x}, running average {avg}");
            }
        }
    });
}
