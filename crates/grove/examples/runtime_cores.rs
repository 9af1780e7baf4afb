//! Using every core: a `Runtime` runs one hub per OS thread. Greenlets are pinned to the
//! hub they were spawned on (so closures sent to a hub must be `Send`), CPU-bound work is
//! spread by spawning on each hub, and a server uses all hubs by binding one SO_REUSEPORT
//! listener per hub: the kernel spreads the connections.
//!
//! Mirrors: gunicorn's `--workers N` with gevent workers (one hub per process), done with
//! threads in one process; Go's GOMAXPROCS.
//!
//! Run: `cargo run --release -p grove --example runtime_cores`

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::time::Instant;

use grove::net::{TcpListener, TcpStream};

/// Deliberately CPU-bound: how many of `numbers` are prime (trial division).
fn primes(numbers: impl Iterator<Item = u64>) -> usize {
    numbers.filter(|&n| n >= 2 && (2..).take_while(|d| d * d <= n).all(|d| n % d != 0)).count()
}

fn main() -> std::io::Result<()> {
    let hubs = std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(2, 8);
    // The monitor would (rightly) report the long computations below; they are the point.
    let rt = grove::Runtime::builder().hubs(hubs).monitor(None).build()?;
    println!("runtime with {hubs} hubs");

    // 1. CPU-bound work, one share per hub (blocks of 10,000 dealt round-robin).
    const LIMIT: u64 = 300_000;
    let t = Instant::now();
    let shares: Vec<_> = (0..hubs)
        .map(|i| {
            rt.spawn_on(i, move || {
                let thread = std::thread::current().name().unwrap_or("?").to_string();
                (thread, primes((0..LIMIT).filter(|n| (n / 10_000) as usize % hubs == i)))
            })
        })
        .collect();
    let mut total = 0;
    for h in shares {
        let (thread, n) = h.join().expect("share");
        println!("  {thread}: {n} primes");
        total += n;
    }
    println!("{total} primes below {LIMIT} in {} ms on {hubs} hubs", t.elapsed().as_millis());
    assert_eq!(total, primes(0..LIMIT));

    // 2. An echo server on every hub, sharing one port through SO_REUSEPORT. The listeners
    // are bound here, before any client connects, and each is handed to its hub as a std
    // listener (`Send`); port 0 is resolved by the first.
    let mut listeners = vec![TcpListener::bind_reuseport("127.0.0.1:0".parse().unwrap())?];
    let addr = listeners[0].local_addr()?;
    for _ in 1..hubs {
        listeners.push(TcpListener::bind_reuseport(addr)?);
    }
    let servers: Vec<_> = listeners
        .into_iter()
        .enumerate()
        .map(|(i, l)| {
            let l = l.into_std()?;
            Ok(rt.spawn_on(i, move || -> std::io::Result<()> {
                let listener = TcpListener::from_std(l)?;
                loop {
                    let (mut conn, _) = listener.accept()?;
                    grove::spawn(move || {
                        let mut buf = [0u8; 64];
                        while let Ok(n @ 1..) = conn.read(&mut buf) {
                            // Answer with the hub's index, so the client sees who served it.
                            let reply = format!("hub {i}: {}", String::from_utf8_lossy(&buf[..n]));
                            if conn.write_all(reply.as_bytes()).is_err() {
                                break;
                            }
                        }
                    });
                }
            }))
        })
        .collect::<std::io::Result<_>>()?;
    // Clients from this thread's own hub (grove::run), 40 connections at once.
    let served: BTreeMap<String, usize> = grove::run(|| {
        let clients: Vec<_> = (0..40)
            .map(|n| {
                grove::spawn(move || {
                    let mut c = TcpStream::connect(addr).expect("connect");
                    c.write_all(format!("ping {n}").as_bytes()).expect("send");
                    let mut buf = [0u8; 64];
                    let len = c.read(&mut buf).expect("read");
                    let reply = String::from_utf8_lossy(&buf[..len]).to_string();
                    reply.split(':').next().unwrap_or_default().to_string()
                })
            })
            .collect();
        let mut served = BTreeMap::new();
        for r in grove::joinall(clients) {
            *served.entry(r.expect("client")).or_insert(0) += 1;
        }
        served
    });
    println!("40 connections served by: {served:?} (the kernel picks a listener per connection)");
    for s in &servers {
        s.kill().expect("stop a server");
    }
    rt.shutdown();
    Ok(())
}
