//! `grove bench`: the headline micro-benchmarks as a table, grove next to tokio
//! (current_thread) measured in the same run. Criterion (`cargo bench -p grove`) gives the
//! careful numbers; this is the quick look.

use std::sync::Arc;
use std::time::{Duration, Instant};

struct Row {
    name: &'static str,
    grove: f64,
    tokio: f64,
}

/// Best of `reps` runs of `f`, which returns nanoseconds per operation.
fn best(reps: usize, mut f: impl FnMut() -> f64) -> f64 {
    (0..reps).map(|_| f()).fold(f64::INFINITY, f64::min)
}

fn per_op(d: Duration, ops: u64) -> f64 {
    d.as_nanos() as f64 / ops as f64
}

fn grove_handoff(rounds: u64) -> f64 {
    let (ping, pong) = (grove::sync::Queue::unbounded(), grove::sync::Queue::unbounded());
    let (p2, q2) = (ping.clone(), pong.clone());
    let echo = grove::spawn(move || {
        while let Ok(v) = p2.get() {
            if q2.put(v).is_err() {
                break;
            }
        }
    });
    let t = Instant::now();
    for i in 0..rounds {
        let _ = ping.put(i);
        let _ = pong.get();
    }
    let d = t.elapsed();
    ping.close();
    let _ = echo.join();
    per_op(d, 2 * rounds)
}

fn tokio_handoff(rt: &tokio::runtime::Runtime, rounds: u64) -> f64 {
    rt.block_on(async move {
        let (a, b) = (Arc::new(tokio::sync::Notify::new()), Arc::new(tokio::sync::Notify::new()));
        let (a2, b2) = (a.clone(), b.clone());
        let echo = tokio::spawn(async move {
            for _ in 0..rounds {
                a2.notified().await;
                b2.notify_one();
            }
        });
        let t = Instant::now();
        for _ in 0..rounds {
            a.notify_one();
            b.notified().await;
        }
        let d = t.elapsed();
        let _ = echo.await;
        per_op(d, 2 * rounds)
    })
}

fn grove_spawn_join(batch: u64) -> f64 {
    let t = Instant::now();
    let hs: Vec<_> = (0..batch).map(|_| grove::spawn(|| ())).collect();
    for h in hs {
        let _ = h.join();
    }
    per_op(t.elapsed(), batch)
}

fn tokio_spawn_join(rt: &tokio::runtime::Runtime, batch: u64) -> f64 {
    rt.block_on(async move {
        let t = Instant::now();
        let hs: Vec<_> = (0..batch).map(|_| tokio::spawn(async {})).collect();
        for h in hs {
            let _ = h.await;
        }
        per_op(t.elapsed(), batch)
    })
}

pub(crate) fn run(quick: bool) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    let (reps, rounds) = if quick { (3, 20_000) } else { (10, 200_000) };
    let rows = grove::run(|| {
        vec![
            Row {
                name: "one-way handoff (queue ping-pong / Notify)",
                grove: best(reps, || grove_handoff(rounds)),
                tokio: best(reps, || tokio_handoff(&rt, rounds)),
            },
            Row {
                name: "spawn + join, batch 1,000",
                grove: best(reps, || grove_spawn_join(1_000)),
                tokio: best(reps, || tokio_spawn_join(&rt, 1_000)),
            },
            Row {
                name: "spawn + join, batch 10,000",
                grove: best(reps, || grove_spawn_join(10_000)),
                tokio: best(reps, || tokio_spawn_join(&rt, 10_000)),
            },
        ]
    });
    println!(
        "{:<44} {:>10} {:>10} {:>8}",
        "benchmark (ns per op, best of runs)", "grove", "tokio", "ratio"
    );
    for r in &rows {
        println!("{:<44} {:>10.1} {:>10.1} {:>7.2}x", r.name, r.grove, r.tokio, r.tokio / r.grove);
    }
    println!("\nratio = tokio / grove (above 1: grove is faster). 1 OS thread each.");
    Ok(())
}
