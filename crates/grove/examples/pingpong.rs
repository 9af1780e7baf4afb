//! Two greenlets hand a counter back and forth through two queues (a profiling target).
//! `cargo run --release -p grove --example pingpong -- 1000000`
fn main() {
    let n: u64 = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(1_000_000);
    grove::run(|| {
        let (ping, pong) = (grove::sync::Queue::unbounded(), grove::sync::Queue::unbounded());
        let (p2, q2) = (ping.clone(), pong.clone());
        let echo = grove::spawn(move || {
            while let Ok(v) = p2.get() {
                q2.put(v).unwrap();
            }
        });
        let t = std::time::Instant::now();
        for i in 0..n {
            ping.put(i).unwrap();
            pong.get().unwrap();
        }
        let e = t.elapsed();
        ping.close();
        echo.join().unwrap();
        println!("{:.1} ns per one-way handoff", e.as_nanos() as f64 / (2 * n) as f64);
    });
}
