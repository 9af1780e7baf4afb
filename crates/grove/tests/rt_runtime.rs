//! Multi-hub runtime: spawning across hubs, cross-hub queues, shutdown, run_info, reuseport.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use grove::sync::mt;
use grove::Runtime;

#[test]
fn greenlets_spread_over_two_hubs_and_results_come_back() {
    let rt = Runtime::builder().hubs(2).monitor(None).build().unwrap();
    let threads = Arc::new(Mutex::new(HashSet::new()));
    let hs: Vec<_> = (0..200u64)
        .map(|i| {
            let t = threads.clone();
            rt.spawn(move || {
                grove::sleep(Duration::from_millis(i % 5));
                t.lock().unwrap().insert(std::thread::current().id());
                i * 2
            })
        })
        .collect();
    let sum: u64 = hs.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(sum, (0..200u64).map(|i| i * 2).sum::<u64>());
    assert_eq!(threads.lock().unwrap().len(), 2, "both hubs ran greenlets");
    // spawn_on pins; panics come back as errors.
    let on1 = rt.spawn_on(1, || std::thread::current().name().map(String::from));
    assert_eq!(on1.join().unwrap().as_deref(), Some("grove-hub-1"));
    assert!(rt.spawn(|| -> u8 { panic!("remote boom") }).join().unwrap_err().is_panic());
    assert_eq!(rt.run(|| 7).unwrap(), 7);
    // run_info across hubs: a named greenlet blocked on hub 1 shows up with its hub.
    let _parked = rt.spawn_on(1, || {
        grove::getcurrent().set_name("parked-on-1");
        grove::sleep(Duration::from_secs(3600));
    });
    std::thread::sleep(Duration::from_millis(20));
    let info = rt.handle().run_info();
    let (hub, g) = info.iter().find(|(_, g)| g.name.as_deref() == Some("parked-on-1")).unwrap();
    assert_eq!((*hub, g.state.as_str()), (1, "blocked on sleep"));
    let stats = rt.handle().stats();
    assert_eq!(stats.len(), 2);
    assert!(stats.iter().all(|s| s.spawned > 0));
    rt.shutdown();
}

#[test]
fn cross_hub_queue_loses_nothing() {
    let rt = Runtime::builder().hubs(2).monitor(None).build().unwrap();
    let q: mt::Queue<u64> = mt::Queue::bounded(16);
    let producers: Vec<_> = (0..8u64)
        .map(|p| {
            let q = q.clone();
            rt.spawn_on(0, move || {
                for i in 0..1000u64 {
                    q.put(p * 10_000 + i).unwrap();
                }
            })
        })
        .collect();
    let consumers: Vec<_> = (0..5)
        .map(|_| {
            let q = q.clone();
            rt.spawn_on(1, move || {
                let (mut n, mut sum) = (0u64, 0u64);
                while let Ok(v) = q.get() {
                    n += 1;
                    sum += v;
                }
                (n, sum)
            })
        })
        .collect();
    for p in producers {
        p.join().unwrap();
    }
    q.close();
    let (mut n, mut sum) = (0, 0);
    for c in consumers {
        let (a, b) = c.join().unwrap();
        n += a;
        sum += b;
    }
    assert_eq!(n, 8000);
    assert_eq!(sum, (0..8u64).flat_map(|p| (0..1000u64).map(move |i| p * 10_000 + i)).sum::<u64>());
    // The plain test thread can use the queue too.
    q.try_put(1).unwrap_err();
    let ev = mt::Event::new();
    let e = ev.clone();
    let waiter = rt.spawn(move || e.wait());
    std::thread::sleep(Duration::from_millis(10));
    ev.set();
    assert_eq!(waiter.join().unwrap(), Ok(()));
}

struct Counted(Arc<AtomicUsize>);
impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn shutdown_with_blocked_greenlets_finishes_and_unwinds_them() {
    let rt = Runtime::builder().hubs(2).monitor(None).build().unwrap();
    let drops = Arc::new(AtomicUsize::new(0));
    let q: mt::Queue<u8> = mt::Queue::unbounded();
    let mut pending = Vec::new();
    for i in 0..20 {
        let (d, q) = (drops.clone(), q.clone());
        pending.push(rt.spawn(move || {
            let _c = Counted(d);
            if i % 2 == 0 {
                grove::sleep(Duration::from_secs(3600));
            } else {
                let _ = q.get();
            }
        }));
    }
    std::thread::sleep(Duration::from_millis(50));
    let t = Instant::now();
    rt.shutdown();
    assert!(t.elapsed() < Duration::from_secs(10));
    assert_eq!(drops.load(Ordering::SeqCst), 20, "every blocked greenlet was unwound");
    for h in pending {
        assert!(h.join().unwrap_err().is_killed());
    }
    // Spawning after shutdown fails cleanly.
    assert!(rt.spawn(|| ()).join().unwrap_err().is_killed());
}

#[test]
fn run_info_lists_blocked_greenlets_with_their_states() {
    grove::run(|| {
        let q: grove::sync::Queue<u8> = grove::sync::Queue::unbounded();
        let q2 = q.clone();
        let _sleeper =
            grove::Builder::new().name("sleeper").spawn(|| grove::sleep(Duration::from_secs(60)));
        let _getter = grove::Builder::new().name("getter").spawn(move || q2.get());
        grove::yield_now();
        let _fresh = grove::Builder::new().name("fresh").spawn(|| ());
        let info = grove::run_info();
        let find = |n: &str| info.iter().find(|g| g.name.as_deref() == Some(n)).unwrap().clone();
        assert_eq!(info[0].name.as_deref(), Some("main"));
        assert_eq!(info[0].state, "running");
        assert_eq!(find("sleeper").state, "blocked on sleep");
        assert_eq!(find("getter").state, "blocked on Queue::get");
        assert_eq!(find("fresh").state, "ready");
        assert!(find("sleeper").location.contains("rt_runtime.rs"));
        let line = find("getter").to_string();
        assert!(line.contains("'getter' blocked on Queue::get"), "{line}");
    });
}

#[test]
fn reuseport_listeners_on_every_hub_share_the_load() {
    let rt = Runtime::builder().hubs(2).monitor(None).build().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let served: Arc<Vec<AtomicUsize>> = Arc::new((0..2).map(|_| AtomicUsize::new(0)).collect());
    let stop = mt::Event::new();
    let mut servers = Vec::new();
    for hub in 0..2 {
        let (served, stop) = (served.clone(), stop.clone());
        servers.push(rt.spawn_on(hub, move || {
            let l = grove::net::TcpListener::bind_reuseport(port).unwrap();
            let acceptor = grove::spawn(move || loop {
                let (mut s, _) = l.accept().unwrap();
                served[hub].fetch_add(1, Ordering::SeqCst);
                grove::spawn(move || {
                    let mut b = [0; 4];
                    if s.read_exact(&mut b).is_ok() {
                        let _ = s.write_all(&b);
                    }
                });
            });
            stop.wait().unwrap();
            acceptor.kill().unwrap();
        }));
    }
    std::thread::sleep(Duration::from_millis(50));
    for _ in 0..200 {
        let mut c = std::net::TcpStream::connect(port).unwrap();
        c.write_all(b"ping").unwrap();
        let mut b = [0; 4];
        c.read_exact(&mut b).unwrap();
        assert_eq!(&b, b"ping");
    }
    let counts: Vec<usize> = served.iter().map(|c| c.load(Ordering::SeqCst)).collect();
    assert_eq!(counts.iter().sum::<usize>(), 200);
    assert!(counts.iter().all(|&c| c > 0), "both hubs accepted connections: {counts:?}");
    stop.set();
    for s in servers {
        s.join().unwrap();
    }
    rt.shutdown();
}
