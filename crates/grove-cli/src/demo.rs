//! `grove demo`: the seed scenarios of gevent/greenlet, run for real on loopback.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use grove::{Generator, GeneratorState, Greenlet};
use grove_http::{Body, Response, Server};

/// How long the embedded server takes to answer each request.
const SERVER_DELAY: Duration = Duration::from_millis(300);

pub(crate) fn run() -> Result<(), String> {
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
        println!("   consumer finished after {n} items");
    }
}
