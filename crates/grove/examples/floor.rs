//! The floor of a root-driven scheduler: alternately resume two coroutines (no bookkeeping).
fn main() {
    use corosensei::{Coroutine, Yielder};
    let n = 20_000_000u64;
    let mk = || {
        Coroutine::new(|y: &Yielder<u64, u64>, mut v: u64| loop {
            v = y.suspend(v + 1);
        })
    };
    let (mut a, mut b) = (mk(), mk());
    let t = std::time::Instant::now();
    let mut v = 0u64;
    for _ in 0..n {
        v = a.resume(v).as_yield().unwrap();
        v = b.resume(v).as_yield().unwrap();
    }
    let e = t.elapsed();
    println!(
        "{v} {:.2} ns per handoff (resume+suspend of one coroutine)",
        e.as_nanos() as f64 / (2 * n) as f64
    );
}
