//! `grove load`: an HTTP load generator built on greenlets — one greenlet per connection, each
//! a keep-alive client looping over plain blocking requests.

use std::cell::{Cell, RefCell};
use std::io::Write;
use std::rc::Rc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::args::{duration, Args};

pub(crate) fn run(mut args: Args) -> Result<(), String> {
    let conns: usize = args.parsed("-c")?.unwrap_or(10);
    let total: Option<u64> = args.parsed("-n")?;
    let dur = args.value("-d")?.map(|d| duration(&d)).transpose()?;
    let quiet = args.flag("--quiet");
    let url = args.positional().ok_or("usage: grove load URL -c CONN (-n REQS | -d DURATION)")?;
    args.finish()?;
    if conns == 0 {
        return Err("-c must be at least 1".into());
    }
    let (total, dur) = match (total, dur) {
        (None, None) => (Some(1000), None),
        other => other,
    };
    grove::run(|| {
        let hist = Rc::new(RefCell::new(
            Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).map_err(|e| e.to_string())?,
        ));
        let (issued, done, errors) =
            (Rc::new(Cell::new(0u64)), Rc::new(Cell::new(0u64)), Rc::new(Cell::new(0u64)));
        let first_error: Rc<RefCell<Option<String>>> = Rc::default();
        let start = Instant::now();
        let stop_at = dur.map(|d| start + d);
        let workers: Vec<_> = (0..conns)
            .map(|_| {
                let (hist, issued, done, errors, first_error, url) = (
                    hist.clone(),
                    issued.clone(),
                    done.clone(),
                    errors.clone(),
                    first_error.clone(),
                    url.clone(),
                );
                grove::spawn(move || {
                    let client = grove_http::Client::new().with_max_idle_per_host(1);
                    loop {
                        if total.is_some_and(|t| issued.get() >= t)
                            || stop_at.is_some_and(|s| Instant::now() >= s)
                        {
                            return;
                        }
                        issued.set(issued.get() + 1);
                        let t = Instant::now();
                        match client.get(&url) {
                            Ok(r) if r.status().is_success() => {
                                let us = t.elapsed().as_micros().max(1) as u64;
                                let _ = hist.borrow_mut().record(us.min(60_000_000));
                                done.set(done.get() + 1);
                            }
                            Ok(r) => {
                                errors.set(errors.get() + 1);
                                first_error
                                    .borrow_mut()
                                    .get_or_insert(format!("HTTP {}", r.status()));
                            }
                            Err(e) => {
                                errors.set(errors.get() + 1);
                                first_error.borrow_mut().get_or_insert(e.to_string());
                            }
                        }
                    }
                })
            })
            .collect();
        let (d2, e2) = (done.clone(), errors.clone());
        let progress = grove::spawn(move || loop {
            grove::sleep(Duration::from_millis(250));
            if quiet {
                continue;
            }
            let el = start.elapsed().as_secs_f64();
            let n = d2.get() + e2.get();
            let frac = match (total, dur) {
                (Some(t), _) => n as f64 / t as f64,
                (None, Some(d)) => el / d.as_secs_f64(),
                _ => 0.0,
            }
            .min(1.0);
            let bar = "=".repeat((frac * 30.0) as usize);
            eprint!(
                "\r[{bar:<30}] {n} requests, {:.0} req/s, {} errors ",
                n as f64 / el.max(1e-9),
                e2.get()
            );
            let _ = std::io::stderr().flush();
        });
        grove::joinall(workers);
        let _ = progress.kill();
        if !quiet {
            eprintln!();
        }
        let elapsed = start.elapsed();
        let h = hist.borrow();
        println!(
            "{} requests in {:.2}s over {conns} connections, {} errors",
            done.get(),
            elapsed.as_secs_f64(),
            errors.get()
        );
        if let Some(e) = &*first_error.borrow() {
            println!("first error: {e}");
        }
        println!("throughput: {:.0} requests/s", done.get() as f64 / elapsed.as_secs_f64());
        if h.is_empty() {
            return Err("no successful requests".to_string());
        }
        println!("latency (µs): min {} mean {:.0} max {}", h.min(), h.mean(), h.max());
        for q in [50.0, 75.0, 90.0, 99.0, 99.9] {
            println!("  p{q:<5} {:>9}", h.value_at_quantile(q / 100.0));
        }
        println!("histogram (µs upper bound: count):");
        let mut lo = 0u64;
        let mut bound = 100u64;
        while lo <= h.max() {
            let c = h.count_between(lo, bound);
            if c > 0 {
                println!(
                    "  <= {bound:>9}: {c:>9} {}",
                    "#".repeat(((c as f64 / h.len() as f64) * 50.0).ceil() as usize)
                );
            }
            lo = bound + 1;
            bound *= 2;
        }
        if errors.get() > 0 && done.get() == 0 {
            return Err("every request failed".into());
        }
        Ok(())
    })
}
