//! Blocking work that has no cooperative form — file reads, name resolution, a CPU-heavy
//! function — runs on grove's pool of OS threads while the calling greenlet waits
//! cooperatively: a ticker greenlet on the same hub keeps ticking throughout.
//!
//! Mirrors: gevent's `threadpool.spawn(f)` / `get_hub().threadpool.apply(f)`, gevent's
//! threaded resolver, and eventlet's `tpool.execute(f)`.
//!
//! Run: `cargo run -p grove --example thread_pool_fs`

use std::time::{Duration, Instant};

fn main() {
    grove::run(|| {
        let start = Instant::now();
        let ticker = grove::spawn(move || {
            let mut ticks = 0;
            loop {
                grove::sleep(Duration::from_millis(20));
                ticks += 1;
                if start.elapsed() > Duration::from_millis(300) {
                    return ticks;
                }
            }
        });

        // Files: grove::fs runs std::fs on the pool.
        let path = std::env::temp_dir().join(format!("grove-example-{}.txt", std::process::id()));
        grove::fs::write(&path, "written from a greenlet\n").expect("write");
        let text = grove::fs::read_to_string(&path).expect("read");
        grove::fs::remove_file(&path).expect("remove");
        println!("{:>4} ms  file round trip: {:?}", start.elapsed().as_millis(), text.trim());

        // Names: getaddrinfo on the pool (localhost only: no network needed).
        let addrs = grove::dns::resolve("localhost", 8080).expect("resolve localhost");
        println!("{:>4} ms  localhost:8080 resolves to {addrs:?}", start.elapsed().as_millis());

        // Any blocking closure: 200 ms of a blocking sleep, then a result.
        let n = grove::thread_pool::spawn_blocking(|| {
            std::thread::sleep(Duration::from_millis(200));
            (1..=20u64).product::<u64>()
        })
        .expect("thread pool");
        println!("{:>4} ms  20! = {n}, computed on a pool thread", start.elapsed().as_millis());

        println!(
            "meanwhile the ticker greenlet ticked {} times (about one per 20 ms)",
            ticker.join().unwrap()
        );
    });
}
