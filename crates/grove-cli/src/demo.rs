//! `grove demo`: the seed scenarios of gevent/greenlet, run for real on loopback.

use std::cell::RefCell;
use std::io::{BufRead, BufReader, Write};
use std::rc::Rc;
use std::time::{Duration, Instant};

use grove::net::{TcpListener, TcpStream};
use grove::{Generator, GeneratorState, Greenlet};

/// How long the embedded server takes to answer each request.
const SERVER_DELAY: Duration = Duration::from_millis(300);

pub fn run() -> Result<(), String> {
    grove::run(|| {
        println!("grove demo: gevent-style green threads, all on one OS thread\n");
        fetches()?;
        ping_pong();
        producer_consumer();
        let s = grove::stats();
        println!(
            "\nhub counters: {} greenlets spawned, {} switches, {} loop turns, {} stacks pooled",
            s.spawned, s.switches, s.turns, s.stacks_pooled
        );
        Ok(())
    })
}

/// A tiny line server: answers `GET <path>` after SERVER_DELAY with the path's length. Each
/// connection is its own greenlet, written as plain blocking code.
fn start_server() -> Result<(std::net::SocketAddr, grove::JoinHandle<()>), String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let server = grove::Builder::new().name("demo-server").spawn(move || loop {
        let Ok((conn, _)) = listener.accept() else { continue };
        grove::spawn(move || {
            let mut line = String::new();
            if BufReader::new(&conn).read_line(&mut line).is_err() {
                return;
            }
            grove::sleep(SERVER_DELAY); // a slow backend
            let path = line.trim().strip_prefix("GET ").unwrap_or("?").to_string();
            let _ = (&conn).write_all(format!("{path} has {} bytes\n", path.len()).as_bytes());
        });
    });
    Ok((addr, server))
}

fn fetch(addr: std::net::SocketAddr, path: &str) -> std::io::Result<String> {
    let conn = TcpStream::connect(addr)?;
    (&conn).write_all(format!("GET {path}\n").as_bytes())?;
    let mut reply = String::new();
    BufReader::new(&conn).read_line(&mut reply)?;
    Ok(reply.trim().to_string())
}

fn fetches() -> Result<(), String> {
    println!("1. Three slow fetches, spawned and joined with joinall");
    let (addr, server) = start_server()?;
    println!("   embedded server on {addr} answers each request after {SERVER_DELAY:?}");
    let start = Instant::now();
    let handles: Vec<_> = ["/index.html", "/about", "/api/items"]
        .into_iter()
        .map(|p| {
            grove::spawn(move || {
                let t = Instant::now();
                let r = fetch(addr, p);
                (p, r, t.elapsed())
            })
        })
        .collect();
    for r in grove::joinall(handles) {
        let (p, reply, took) = r.map_err(|e| e.to_string())?;
        let reply = reply.map_err(|e| format!("fetch {p}: {e}"))?;
        println!("   {p:<12} -> {reply:<28} ({} ms)", took.as_millis());
    }
    let total = start.elapsed();
    println!(
        "   all three in {} ms: about one request's time, not three ({} ms sequentially)\n",
        total.as_millis(),
        3 * SERVER_DELAY.as_millis()
    );
    server.kill();
    Ok(())
}

fn ping_pong() {
    println!("2. Two greenlets switching explicitly (greenlet's test1/test2)");
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
    println!("3. Producer/consumer with a generator and send (resume)");
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
        println!("   consumer finished after {n} items");
    }
}
