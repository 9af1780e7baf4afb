//! `grove demo`: the seed scenarios of gevent/greenlet, run for real on loopback.
//!
//! Scenario 5 (grove-patch) runs in a child process, `grove demo --patched-child`: the hooks
//! are process-wide once enabled, and the rest of the demo shows grove's own API unpatched.

use std::cell::RefCell;
use std::io::Write;
use std::rc::Rc;
use std::time::{Duration, Instant};

use grove::sync::AsyncResult;
use grove::{Generator, GeneratorState, Greenlet};
use grove_http::{Body, Response, Server};

use crate::args::DemoArgs;

/// How long the embedded server takes to answer each request.
const SERVER_DELAY: Duration = Duration::from_millis(300);

pub(crate) fn run(args: DemoArgs) -> Result<(), String> {
    if args.patched_child {
        return patched();
    }
    grove::run(|| {
        println!("grove demo: gevent-style green threads, all on one OS thread\n");
        fetches()?;
        ping_pong();
        producer_consumer();
        patched_in_child()?;
        future_callbacks()?;
        let s = grove::stats();
        println!(
            "   hub counters so far: {} greenlets spawned, {} switches, {} loop turns, {} stacks \
             pooled\n",
            s.spawned, s.switches, s.turns, s.stacks_pooled
        );
        Ok::<(), String>(())
    })?;
    several_hubs()
}

/// The embedded HTTP server: every request takes SERVER_DELAY (a slow backend), written as a
/// plain blocking handler; grove-http runs each connection in its own greenlet.
fn start_server() -> Result<(String, grove_http::ShutdownHandle, grove::JoinHandle<()>), String> {
    let server = Server::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
    let base = format!("http://{}", server.local_addr().map_err(|e| e.to_string())?);
    let stop = server.shutdown_handle();
    let h = grove::Builder::new().name("demo-http-server").spawn(move || {
        let _ = server.serve(|req| {
            grove::sleep(SERVER_DELAY);
            let path = req.uri().path().to_string();
            Response::new(Body::from(format!("{path} has {} bytes", path.len())))
        });
    });
    Ok((base, stop, h))
}

fn fetch(url: &str) -> Result<String, String> {
    let r = grove_http::get(url).map_err(|e| format!("GET {url}: {e}"))?;
    Ok(String::from_utf8_lossy(r.body()).into_owned())
}

fn fetches() -> Result<(), String> {
    println!("1. Three slow HTTP fetches, spawned and joined with joinall");
    let (base, stop, server) = start_server()?;
    println!("   embedded HTTP server on {base} answers each request after {SERVER_DELAY:?}");
    let start = Instant::now();
    let handles: Vec<_> = ["/index.html", "/about", "/api/items"]
        .into_iter()
        .map(|p| {
            let url = format!("{base}{p}");
            grove::spawn(move || {
                let t = Instant::now();
                (p, fetch(&url), t.elapsed())
            })
        })
        .collect();
    for r in grove::joinall(handles) {
        let (p, reply, took) = r.map_err(|e| e.to_string())?;
        println!("   GET {p:<12} -> {:<28} ({} ms)", reply?, took.as_millis());
    }
    println!(
        "   all three in {} ms: about one request's time, not three ({} ms sequentially)\n",
        start.elapsed().as_millis(),
        3 * SERVER_DELAY.as_millis()
    );

    println!("2. Pool(2).map over three URLs: at most two fetches at a time");
    let pool = grove::pool::Pool::new(2);
    let t0 = Instant::now();
    let b = base.clone();
    let results = pool.map(["/a", "/b", "/c"], move |p| {
        let started = t0.elapsed().as_millis();
        let reply = fetch(&format!("{b}{p}"));
        (p, started, t0.elapsed().as_millis(), reply)
    });
    for r in results {
        let (p, from, to, reply) = r.map_err(|e| e.to_string())?;
        println!("   {p}: {from:>4} ms -> {to:>4} ms  {}", reply?);
    }
    println!("   /c waited for a free slot: two rounds, {} ms in all\n", t0.elapsed().as_millis());
    stop.shutdown();
    server.join().map_err(|e| e.to_string())?;
    Ok(())
}

fn ping_pong() {
    println!("3. Two greenlets switching explicitly (greenlet's test1/test2)");
    let out = Rc::new(RefCell::new(Vec::new()));
    let other: Rc<RefCell<Option<Greenlet>>> = Rc::default();
    let (o1, o2, other1) = (out.clone(), out.clone(), other.clone());
    let gr1 = Greenlet::new(move |_| {
        o1.borrow_mut().push(1);
        let gr2 = other1.borrow().clone().expect("gr2 set");
        gr2.switch(());
        o1.borrow_mut().push(3);
        gr2.switch(());
        Box::new(())
    });
    let g1 = gr1.clone();
    let gr2 = Greenlet::new(move |_| {
        o2.borrow_mut().push(2);
        g1.switch(());
        o2.borrow_mut().push(4);
        Box::new(())
    });
    *other.borrow_mut() = Some(gr2);
    gr1.switch(());
    let printed: Vec<String> = out.borrow().iter().map(|n| n.to_string()).collect();
    println!("   printed: {}", printed.join(" "));
    println!("   gr1 prints 1, switches to gr2 (2), back to gr1 (3), to gr2 (4)\n");
}

fn producer_consumer() {
    println!("4. Producer/consumer with a generator and send (resume)");
    let mut consumer = Generator::new(|co, first: Option<&'static str>| {
        let mut count = 0;
        let mut item = first;
        while let Some(it) = item {
            count += 1;
            println!("   consumer got {it:?}");
            item = co.yield_(format!("ack {count}"));
        }
        count
    });
    for item in ["bread", "milk", "eggs"] {
        println!("   producer sends {item:?}");
        match consumer.resume(Some(item)) {
            GeneratorState::Yielded(ack) => println!("   producer received {ack:?}"),
            GeneratorState::Complete(_) => unreachable!(),
        }
    }
    if let GeneratorState::Complete(n) = consumer.resume(None) {
        println!("   consumer finished after {n} items\n");
    }
}

/// How long the unmodified server of scenario 5 "thinks" before answering.
const THINK: Duration = Duration::from_millis(200);

/// Plain blocking code that knows nothing about grove: std::net and std::thread::sleep, as
/// in any sync crate. grove-patch makes it cooperative without a change.
mod unmodified {
    use std::io::{BufRead, BufReader, Write};
    use std::net::{TcpListener, TcpStream};

    /// Answers one line per connection after thinking for a while.
    pub(super) fn handle(conn: TcpStream) -> std::io::Result<()> {
        let mut line = String::new();
        BufReader::new(&conn).read_line(&mut line)?;
        std::thread::sleep(super::THINK);
        (&conn).write_all(format!("you said {}", line.trim()).as_bytes())
    }

    /// Sends one line and reads the whole answer.
    pub(super) fn ask(addr: std::net::SocketAddr, msg: &str) -> std::io::Result<String> {
        let mut c = TcpStream::connect(addr)?;
        writeln!(c, "{msg}")?;
        c.shutdown(std::net::Shutdown::Write)?;
        std::io::read_to_string(c)
    }

    pub(super) fn listener() -> std::io::Result<TcpListener> {
        TcpListener::bind("127.0.0.1:0")
    }
}

fn patched_in_child() -> Result<(), String> {
    println!(
        "5. Unmodified blocking code made cooperative (grove-patch: gevent's monkey.patch_all)"
    );
    println!(
        "   in a child process (`grove demo --patched-child`): the libc hooks are process-wide"
    );
    std::io::stdout().flush().map_err(|e| e.to_string())?;
    let exe = std::env::current_exe().map_err(|e| format!("cannot find the grove binary: {e}"))?;
    // grove::process waits on the child's pidfd: only this greenlet waits, not the hub.
    let mut child = grove::process::Command::new(exe)
        .args(["demo", "--patched-child"])
        .stdin(std::process::Stdio::null())
        .spawn()
        .map_err(|e| format!("starting the grove-patch child: {e}"))?;
    match child.wait_timeout(Duration::from_secs(30)) {
        Ok(s) if s.success() => Ok(()),
        Ok(s) => Err(format!("the grove-patch scenario failed: {s}")),
        Err(e) => {
            let _ = child.kill();
            let _ = child.wait();
            Err(format!("the grove-patch scenario: {e}"))
        }
    }
}

/// Scenario 5 itself, in the child: enable the hooks, then run the unmodified code in
/// greenlets.
fn patched() -> Result<(), String> {
    grove_patch::enable();
    grove::run(|| {
        let listener = unmodified::listener().map_err(|e| format!("bind: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let server = grove::spawn(move || {
            // A killed accept fails (ECANCELED): the loop ends.
            while let Ok((conn, _)) = listener.accept() {
                grove::spawn(move || unmodified::handle(conn));
            }
        });
        let t = Instant::now();
        let clients: Vec<_> = ["alpha", "beta", "gamma", "delta", "epsilon"]
            .into_iter()
            .map(|name| grove::spawn(move || unmodified::ask(addr, name)))
            .collect();
        for r in grove::joinall(clients) {
            let reply = r.map_err(|e| e.to_string())?.map_err(|e| format!("ask: {e}"))?;
            println!("   std::net client got {reply:?}");
        }
        println!(
            "   5 std::net clients, a std::net server that std::thread::sleeps {} ms per request: \
             {} ms in all, on one thread ({} ms if each call blocked the thread)\n",
            THINK.as_millis(),
            t.elapsed().as_millis(),
            5 * THINK.as_millis()
        );
        let _ = server.kill();
        Ok(())
    })
}

fn future_callbacks() -> Result<(), String> {
    println!(
        "6. Future callbacks on the hub (Tornado's Future.add_done_callback, IOLoop.add_callback)"
    );
    let t0 = Instant::now();
    let ms = move || t0.elapsed().as_millis();
    // A backend on a plain OS thread completes the future later.
    let result: AsyncResult<String> = AsyncResult::new();
    let producer = result.clone();
    let backend = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        producer.set("row 42".to_string());
    });
    result.on_ready(move |r| {
        println!("   {:>4} ms  done callback: {:?} (on the hub, the loop turn after set)", ms(), r)
    });
    grove::add_callback(move || {
        println!("   {:>4} ms  add_callback ran at the start of the next loop turn", ms())
    });
    let _timer = grove::call_later(Duration::from_millis(50), move || {
        println!("   {:>4} ms  call_later(50 ms) fired", ms())
    });
    println!(
        "   {:>4} ms  callbacks registered; the main greenlet goes on (nothing ran yet)",
        ms()
    );
    let value = result.get().map_err(|e| e.to_string())?;
    println!("   {:>4} ms  main greenlet's get() returned {value:?}", ms());
    backend.join().map_err(|_| "the backend thread panicked".to_string())?;
    grove::yield_now(); // let the done callback's turn come if get() woke first
    println!("   callbacks run between greenlets, in order, and must not block\n");
    Ok(())
}

/// Counts the primes among `numbers` by trial division: deliberately CPU-bound.
fn count_primes(numbers: impl Iterator<Item = u64>) -> u64 {
    numbers.filter(|&n| n >= 2 && (2..).take_while(|d| d * d <= n).all(|d| n % d != 0)).count()
        as u64
}

fn several_hubs() -> Result<(), String> {
    println!("7. Several hubs on several cores (grove::Runtime: one hub per OS thread)");
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let hubs = cores.clamp(2, 8);
    const LIMIT: u64 = 1_000_000;
    let t = Instant::now();
    let one = count_primes(0..LIMIT);
    let sequential = t.elapsed();
    // The monitor would rightly report these greenlets: each computes for a long time
    // without blocking, holding its hub. That is the point here, so it is off.
    let rt =
        grove::Runtime::builder().hubs(hubs).monitor(None).build().map_err(|e| e.to_string())?;
    let t = Instant::now();
    let parts: Vec<_> = (0..hubs)
        .map(|i| {
            rt.spawn_on(i, move || {
                let thread = std::thread::current().name().unwrap_or("?").to_string();
                // Blocks of 10,000 numbers dealt round-robin: every hub gets as many large ones.
                let mine = (0..LIMIT).filter(|n| (n / 10_000) as usize % hubs == i);
                (thread, count_primes(mine))
            })
        })
        .collect();
    let mut total = 0;
    for (i, p) in parts.into_iter().enumerate() {
        let (thread, n) = p.join().map_err(|e| e.to_string())?;
        println!("   hub {i} on thread {thread:<12} counted {n} primes in its share");
        total += n;
    }
    let parallel = t.elapsed();
    rt.shutdown();
    if total != one {
        return Err(format!("the hubs counted {total} primes, one thread {one}"));
    }
    println!(
        "   {total} primes below {LIMIT}: {} ms on {hubs} hubs, {} ms on one thread ({cores} \
         cores here)",
        parallel.as_millis(),
        sequential.as_millis()
    );
    println!("   greenlets never migrate: closures sent to a hub must be Send, results too");
    Ok(())
}
