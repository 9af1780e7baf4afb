//! The first N spawns of a fresh process, in one batch, next to tokio's `current_thread`
//! (issue 15's "first 30,000 spawns" row): nothing is pooled yet, so every greenlet stack is
//! mapped for the first time. Run each side in its own fresh process:
//!
//! ```sh
//! cargo build --release -p grove --example first_spawns
//! for i in 1 2 3; do for rt in grove tokio; do
//!     taskset -c 1 target/release/examples/first_spawns $rt 30000; done; done
//! ```
//!
//! With a third argument `sleep`, each of the N sleeps 0–50 ms (`i % 51` ms) before it
//! returns, and the figure is the batch's wall time (issue 15's "30,000 sleepers" row: stack
//! mapping plus the timer heap).
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let rt = args.next().unwrap_or_else(|| "grove".into());
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(30_000);
    let sleep = args.next().as_deref() == Some("sleep");
    let nap =
        move |i: usize| std::time::Duration::from_millis(if sleep { (i % 51) as u64 } else { 0 });
    let per = match rt.as_str() {
        "grove" => grove::run(move || {
            let t = Instant::now();
            let hs: Vec<_> = (0..n)
                .map(|i| {
                    grove::spawn(move || {
                        if sleep {
                            grove::sleep(nap(i));
                        }
                        i
                    })
                })
                .collect();
            let sum: usize = hs.into_iter().map(|h| h.join().unwrap()).sum();
            assert_eq!(sum, n * (n - 1) / 2);
            t.elapsed()
        }),
        "tokio" => {
            let r = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
            r.block_on(async move {
                let t = Instant::now();
                let hs: Vec<_> = (0..n)
                    .map(|i| {
                        tokio::spawn(async move {
                            if sleep {
                                tokio::time::sleep(nap(i)).await;
                            }
                            i
                        })
                    })
                    .collect();
                let mut sum = 0;
                for h in hs {
                    sum += h.await.unwrap();
                }
                assert_eq!(sum, n * (n - 1) / 2);
                t.elapsed()
            })
        }
        other => panic!("first_spawns: unknown runtime '{other}' (grove or tokio)"),
    };
    if sleep {
        println!("{rt} {n} sleepers (0-50 ms): {:.1} ms wall", per.as_secs_f64() * 1e3);
    } else {
        println!(
            "{rt} first {n} spawns: {:.0} ns per spawn+join",
            per.as_nanos() as f64 / n as f64
        );
    }
}
