//! Monkey-patching, Rust style: code that knows nothing about grove — `std::net`,
//! `std::thread::sleep`, a `std::sync::Mutex` — runs as cooperative greenlets once
//! `grove_patch::enable()` has been called. The `legacy` module below stands for any
//! unmodified sync crate. First the same calls run unpatched (each blocks the whole
//! thread), then patched (they overlap); everything stays on 127.0.0.1.
//!
//! Mirrors: gevent's `from gevent import monkey; monkey.patch_all()` before importing a
//! blocking library, and eventlet's `eventlet.monkey_patch()`.
//!
//! Run: `cargo run -p grove-patch --example patch_std`

use std::time::{Duration, Instant};

/// Plain blocking code, as a sync client library would write it: no grove anywhere.
mod legacy {
    use std::io::{BufRead, BufReader, Write};
    use std::net::{SocketAddr, TcpListener, TcpStream};
    use std::sync::Mutex;
    use std::time::Duration;

    /// A library-wide lock, held across a sleep (say, a rate limiter).
    static RATE_LIMIT: Mutex<u32> = Mutex::new(0);

    /// Waits its turn, then "works" for a while.
    pub(crate) fn rate_limited_work(ms: u64) -> u32 {
        let mut calls = RATE_LIMIT.lock().unwrap();
        std::thread::sleep(Duration::from_millis(ms));
        *calls += 1;
        *calls
    }

    /// Slow work that needs no lock.
    pub(crate) fn slow_work(ms: u64) {
        std::thread::sleep(Duration::from_millis(ms));
    }

    /// Answers one line per connection, after thinking for `think`.
    pub(crate) fn handle(conn: TcpStream, think: Duration) -> std::io::Result<()> {
        let mut line = String::new();
        BufReader::new(&conn).read_line(&mut line)?;
        std::thread::sleep(think);
        (&conn).write_all(format!("quote for {}\n", line.trim()).as_bytes())
    }

    /// A client call: connect, ask, read the answer.
    pub(crate) fn ask(addr: SocketAddr, what: &str) -> std::io::Result<String> {
        let conn = TcpStream::connect(addr)?;
        writeln!(&conn, "{what}")?;
        let mut answer = String::new();
        BufReader::new(&conn).read_line(&mut answer)?;
        Ok(answer.trim().to_string())
    }

    pub(crate) fn listen() -> std::io::Result<TcpListener> {
        TcpListener::bind("127.0.0.1:0")
    }
}

/// Five greenlets each doing 100 ms of `legacy::slow_work`; how long all five take.
fn five_sleepers() -> Duration {
    let t = Instant::now();
    let hs: Vec<_> = (0..5).map(|_| grove::spawn(|| legacy::slow_work(100))).collect();
    grove::joinall(hs);
    t.elapsed()
}

fn main() {
    grove::run(|| {
        // Unpatched: std::thread::sleep blocks the hub's thread, so greenlets run one by one.
        println!(
            "unpatched: 5 x 100 ms of std::thread::sleep took {} ms",
            five_sleepers().as_millis()
        );
    });

    // From here on, libc calls made on a thread that runs a grove hub park the greenlet.
    grove_patch::enable();

    grove::run(|| {
        println!(
            "patched:   5 x 100 ms of std::thread::sleep took {} ms",
            five_sleepers().as_millis()
        );

        // An unmodified std::net server and client, a greenlet per connection.
        let listener = legacy::listen().expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = grove::spawn(move || {
            // A kill makes the parked accept fail (ECANCELED): the loop ends.
            while let Ok((conn, _)) = listener.accept() {
                grove::spawn(move || legacy::handle(conn, Duration::from_millis(200)));
            }
        });
        let t = Instant::now();
        let clients: Vec<_> = ["GRV", "GVT", "EVT", "TRN"]
            .into_iter()
            .map(|sym| grove::spawn(move || legacy::ask(addr, sym)))
            .collect();
        for r in grove::joinall(clients) {
            println!("  std::net client: {}", r.expect("greenlet").expect("ask"));
        }
        println!(
            "patched:   4 std::net requests of 200 ms each took {} ms",
            t.elapsed().as_millis()
        );
        let _ = server.kill();

        // A std Mutex held across a patched sleep: waiting greenlets park on the futex
        // instead of blocking the thread, and the lock still serialises them.
        let t = Instant::now();
        let ticker = grove::spawn(|| {
            let mut ticks = 0;
            while ticks < 5 {
                grove::sleep(Duration::from_millis(10));
                ticks += 1;
            }
            ticks
        });
        let workers: Vec<_> =
            (0..3).map(|_| grove::spawn(|| legacy::rate_limited_work(30))).collect();
        let order: Vec<u32> =
            grove::joinall(workers).into_iter().map(|r| r.expect("worker")).collect();
        println!(
            "patched:   3 callers of a Mutex-guarded 30 ms call: turns {order:?} in {} ms, while \
             another greenlet ticked {} times",
            t.elapsed().as_millis(),
            ticker.join().expect("ticker")
        );
    });
}
