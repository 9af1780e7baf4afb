//! The echo benchmark client, the same for every server: CONNS greenlets on one grove hub,
//! each sending a 64-byte message and waiting for its echo, for SECONDS. Prints
//! `messages msgs_per_sec p50_us p99_us`.
use std::cell::RefCell;
use std::io::{Read, Write};
use std::rc::Rc;
use std::time::{Duration, Instant};

fn main() {
    let mut a = std::env::args().skip(1);
    let addr = a.next().unwrap_or_else(|| "127.0.0.1:8080".into());
    let conns: usize = a.next().and_then(|v| v.parse().ok()).unwrap_or(100);
    let secs: u64 = a.next().and_then(|v| v.parse().ok()).unwrap_or(10);
    grove::run(|| {
        let hist = Rc::new(RefCell::new(hdrhistogram::Histogram::<u64>::new(3).unwrap()));
        let end = Instant::now() + Duration::from_secs(secs);
        let start = Instant::now();
        let hs: Vec<_> = (0..conns)
            .map(|_| {
                let (hist, addr) = (hist.clone(), addr.clone());
                grove::spawn(move || {
                    let s = grove::net::TcpStream::connect(addr.as_str()).unwrap();
                    s.set_nodelay(true).unwrap();
                    let msg = [7u8; 64];
                    let mut back = [0u8; 64];
                    let mut n = 0u64;
                    while Instant::now() < end {
                        let t = Instant::now();
                        (&s).write_all(&msg).unwrap();
                        (&s).read_exact(&mut back).unwrap();
                        let _ = hist.borrow_mut().record(t.elapsed().as_micros() as u64);
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        let total: u64 = grove::joinall(hs).into_iter().map(Result::unwrap).sum();
        let el = start.elapsed().as_secs_f64();
        let h = hist.borrow();
        println!(
            "{total} {:.0} {} {}",
            total as f64 / el,
            h.value_at_quantile(0.5),
            h.value_at_quantile(0.99)
        );
    });
}
