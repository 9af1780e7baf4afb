//! A pool of two greenlets mapping a slow function over five inputs: at most two calls run
//! at once, results come back in input order, and the pool never holds more than two
//! greenlets (the rest wait for a free slot).
//!
//! Mirrors: gevent's `Pool(2).map(func, items)` (and `imap_unordered`, shown second).
//!
//! Run: `cargo run -p grove --example pool_map`

use std::time::{Duration, Instant};

use grove::pool::Pool;

/// A stand-in for a slow call (a query, a fetch): sleeps, then answers.
fn lookup(n: u64) -> String {
    grove::sleep(Duration::from_millis(100));
    format!("item {n} -> {}", n * n)
}

fn main() {
    grove::run(|| {
        let pool = Pool::new(2);
        let start = Instant::now();
        let results = pool.map(1..=5, move |n| {
            let began = start.elapsed().as_millis();
            let answer = lookup(n);
            format!("{answer:<16} (ran {began:>3} ms -> {:>3} ms)", start.elapsed().as_millis())
        });
        for r in results {
            println!("{}", r.unwrap());
        }
        // 5 calls of 100 ms, two at a time: three rounds, about 300 ms.
        println!("map: {} ms for 5 calls, 2 at a time\n", start.elapsed().as_millis());

        // imap_unordered: results as they finish, whatever the input order.
        let start = Instant::now();
        let sizes = [300u64, 100, 200];
        for r in pool.imap_unordered(sizes, |ms| {
            grove::sleep(Duration::from_millis(ms));
            ms
        }) {
            println!(
                "imap_unordered: the {}-ms call finished at {} ms",
                r.unwrap(),
                start.elapsed().as_millis()
            );
        }
    });
}
