//! spawn+join batches, per-batch timing (a profiling target).
fn main() {
    let batch: u64 = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(10_000);
    grove::run(|| {
        for round in 0..30 {
            let t = std::time::Instant::now();
            let hs: Vec<_> = (0..batch).map(|_| grove::spawn(|| ())).collect();
            for h in hs {
                h.join().unwrap();
            }
            let e = t.elapsed();
            let s = grove::stats();
            println!(
                "round {round}: {:.0} ns per spawn+join (pooled {}, allocated {})",
                e.as_nanos() as f64 / batch as f64,
                s.stacks_pooled,
                s.stacks_allocated
            );
        }
    });
}
