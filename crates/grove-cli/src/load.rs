//! `grove load`: an HTTP load generator built on greenlets — one greenlet per connection, each
//! a keep-alive client looping over plain blocking requests.

use std::cell::{Cell, RefCell};
use std::fmt::Write as _;
use std::io::{IsTerminal, Write};
use std::rc::Rc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::args::LoadArgs;

pub(crate) fn run(args: LoadArgs) -> Result<(), String> {
    let LoadArgs { url, connections: conns, requests: total, duration: dur, timeout, quiet } = args;
    let (total, dur) = match (total, dur) {
        (None, None) => (Some(1000), None),
        other => other,
    };
    // A progress bar is for a person watching; in a pipe or a log file it is noise.
    let progress_bar = !quiet && std::io::stderr().is_terminal();
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
                    let client = grove_http::Client::new()
                        .with_max_idle_per_host(1)
                        .with_timeout(Some(timeout));
                    let requests = || loop {
                        if total.is_some_and(|t| issued.get() >= t) {
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
                                let msg = if e.kind() == std::io::ErrorKind::TimedOut {
                                    format!("{e} (--timeout {timeout:?})")
                                } else {
                                    e.to_string()
                                };
                                first_error.borrow_mut().get_or_insert(msg);
                            }
                        }
                    };
                    match stop_at {
                        // The run's end cuts the requests in flight short (like wrk's -d):
                        // they count neither as done nor as errors.
                        Some(end) => {
                            let _ = grove::timeout_at(end, requests);
                        }
                        None => requests(),
                    }
                })
            })
            .collect();
        let (d2, e2) = (done.clone(), errors.clone());
        let progress = progress_bar.then(|| {
            grove::spawn(move || loop {
                grove::sleep(Duration::from_millis(250));
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
            })
        });
        grove::joinall(workers);
        if let Some(p) = progress {
            let _ = p.kill();
            eprintln!();
        }
        let elapsed = start.elapsed();
        let mut out = String::new();
        let h = hist.borrow();
        let _ = writeln!(
            out,
            "{} requests in {:.2}s over {conns} connections, {} errors",
            done.get(),
            elapsed.as_secs_f64(),
            errors.get()
        );
        if let Some(e) = &*first_error.borrow() {
            eprintln!("grove: first error: {e}");
        }
        let _ = writeln!(
            out,
            "throughput: {:.0} requests/s",
            done.get() as f64 / elapsed.as_secs_f64()
        );
        if h.is_empty() {
            print_out(&out);
            return Err(match errors.get() {
                0 => "no request completed".to_string(),
                n => format!("every request failed ({n} errors)"),
            });
        }
        let _ = writeln!(out, "latency (µs): min {} mean {:.0} max {}", h.min(), h.mean(), h.max());
        for q in [50.0, 75.0, 90.0, 99.0, 99.9] {
            let _ = writeln!(out, "  p{q:<5} {:>9}", h.value_at_quantile(q / 100.0));
        }
        let _ = writeln!(out, "histogram (µs upper bound: count):");
        let mut lo = 0u64;
        let mut bound = 100u64;
        while lo <= h.max() {
            let c = h.count_between(lo, bound);
            if c > 0 {
                let _ = writeln!(
                    out,
                    "  <= {bound:>9}: {c:>9} {}",
                    "#".repeat(((c as f64 / h.len() as f64) * 50.0).ceil() as usize)
                );
            }
            lo = bound + 1;
            bound *= 2;
        }
        print_out(&out);
        Ok(())
    })
}

/// Prints the report; a closed stdout (`grove load ... | head`) is not an error.
fn print_out(out: &str) {
    let _ = std::io::stdout().write_all(out.as_bytes());
}
