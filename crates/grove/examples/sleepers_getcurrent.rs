//! Three greenlets sleep for different times and print who they are: each `sleep` parks
//! only the calling greenlet, so they wake in order of their deadlines, not of their spawn,
//! and the whole run takes as long as the longest sleep.
//!
//! Mirrors: gevent's `gevent.spawn(f)`, `gevent.sleep(s)`, `gevent.getcurrent()` and
//! `gevent.joinall([...])`.
//!
//! Run: `cargo run -p grove --example sleepers_getcurrent`

use std::time::{Duration, Instant};

fn main() {
    grove::run(|| {
        let start = Instant::now();
        let sleepers: Vec<_> = [("slow", 300), ("fast", 100), ("medium", 200)]
            .into_iter()
            .map(|(name, ms)| {
                grove::Builder::new().name(name).spawn(move || {
                    let me = grove::getcurrent();
                    println!(
                        "{:>4} ms  greenlet #{} ({name}) goes to sleep for {ms} ms",
                        start.elapsed().as_millis(),
                        me.id()
                    );
                    grove::sleep(Duration::from_millis(ms));
                    let me = grove::getcurrent();
                    println!(
                        "{:>4} ms  woke up: getcurrent() is #{} named {:?}",
                        start.elapsed().as_millis(),
                        me.id(),
                        me.name().unwrap_or_default()
                    );
                    ms
                })
            })
            .collect();
        let slept: u64 = grove::joinall(sleepers).into_iter().map(|r| r.unwrap()).sum();
        println!(
            "main greenlet ({:?}, is_main: {}): {slept} ms of sleeping took {} ms",
            grove::getcurrent().name(),
            grove::getcurrent().is_main(),
            start.elapsed().as_millis()
        );
    });
}
