//! The blocking monitor on its unhappy paths: a panicking hook, reports about main greenlets,
//! remote spawn locations, hub numbering, rate limiting. One test: the monitor is
//! process-wide, so its phases run in order.
//!
//! Blockers spin until the monitor has reported them (with a generous liveness bound), so
//! no phase depends on how quickly a loaded machine schedules the monitor thread.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use grove::monitor::{self, BlockingReport};

const LIVENESS: Duration = Duration::from_secs(30);

type Reports = Arc<Mutex<Vec<BlockingReport>>>;

/// Holds the hub until `done` says so (or the liveness bound passes: then the test fails).
fn spin_until(done: impl Fn() -> bool) {
    let t = Instant::now();
    while !done() {
        assert!(t.elapsed() < LIVENESS, "the monitor never reported this blocker");
        std::hint::spin_loop();
    }
}

fn reported(reports: &Reports, pred: impl Fn(&BlockingReport) -> bool) -> usize {
    reports.lock().unwrap().iter().filter(|r| pred(r)).count()
}

#[test]
fn the_monitor_survives_its_hook_names_main_locates_remote_spawns_and_rate_limits() {
    let reports: Reports = Arc::new(Mutex::new(Vec::new()));
    let panicked = Arc::new(AtomicBool::new(false));
    {
        let (r, p) = (reports.clone(), panicked.clone());
        monitor::set_hook(move |rep| {
            if !p.swap(true, Ordering::SeqCst) {
                panic!("a hook that panics once");
            }
            r.lock().unwrap().push(rep.clone());
        });
    }
    monitor::set_rate_limit(0);
    monitor::enable(Duration::from_millis(50));

    // 20.7: the hook panics on the first report; the monitor keeps reporting.
    grove::run(|| {
        let p = panicked.clone();
        grove::Builder::new()
            .name("first")
            .spawn(move || spin_until(|| p.load(Ordering::SeqCst)))
            .join()
            .unwrap();
        let r = reports.clone();
        grove::Builder::new()
            .name("second")
            .spawn(move || spin_until(|| reported(&r, |x| x.name.as_deref() == Some("second")) > 0))
            .join()
            .unwrap();

        // 20.10: the main greenlet holding a hub that a greenlet waits on is named.
        let waiting = grove::spawn(|| 1);
        spin_until(|| reported(&reports, |x| x.name.as_deref() == Some("main")) > 0);
        assert_eq!(waiting.join().unwrap(), 1);
    });
    let main = reports.lock().unwrap().iter().find(|x| x.name.as_deref() == Some("main")).cloned();
    let main = main.unwrap();
    assert!(main.location.is_none(), "main has no spawn site: {main}");
    assert!(main.to_string().contains("'main'"), "{main}");

    // 20.10: a remote spawn is located at its caller; the report names the hub by its
    // process-wide id and its thread, consistent with the runtime's numbering.
    let rt = grove::Runtime::builder()
        .hubs(2)
        .thread_name("watched")
        .monitor(Some(Duration::from_millis(50)))
        .build()
        .unwrap();
    let r = reports.clone();
    rt.spawn_on(1, move || {
        grove::getcurrent().set_name("remote");
        spin_until(|| reported(&r, |x| x.name.as_deref() == Some("remote")) > 0);
    })
    .join()
    .unwrap();
    let rep = reports.lock().unwrap().iter().find(|x| x.name.as_deref() == Some("remote")).cloned();
    let rep = rep.unwrap();
    assert!(rep.location.as_deref().unwrap_or("").contains("rt_monitor_faults.rs"), "{rep}");
    assert_eq!(rep.thread.as_deref(), Some("watched-1"));
    assert_eq!(rep.hub, rt.handle().hub_ids()[1]);
    assert_eq!(rep.greenlet >> 40, rep.hub);
    assert!(rep.to_string().contains("thread 'watched-1'"), "{rep}");

    // One report per blocking episode, however long it lasts.
    let r = reports.clone();
    rt.spawn_on(0, move || {
        grove::getcurrent().set_name("long");
        spin_until(|| reported(&r, |x| x.name.as_deref() == Some("long")) > 0);
        let t = Instant::now();
        while t.elapsed() < Duration::from_millis(300) {
            std::hint::spin_loop();
        }
    })
    .join()
    .unwrap();
    assert_eq!(reported(&reports, |x| x.name.as_deref() == Some("long")), 1);

    // 20.10: a rate limit: with one report per second, blockers on several hubs at once are
    // counted, not all delivered. Each spins until its episode is accounted for.
    monitor::set_rate_limit(1);
    let rt3 = grove::Runtime::builder().hubs(3).monitor(Some(Duration::from_millis(50))).build();
    let rt3 = rt3.unwrap();
    // The window of the reports above has passed: the first report of this phase goes out.
    std::thread::sleep(Duration::from_millis(1100));
    let before = monitor::suppressed_reports();
    let delivered_before = reports.lock().unwrap().len();
    let go = Arc::new(AtomicUsize::new(0));
    let hs: Vec<_> = (0..3)
        .map(|i| {
            let (r, go) = (reports.clone(), go.clone());
            rt3.spawn_on(i, move || {
                go.fetch_add(1, Ordering::SeqCst);
                // Every episode is delivered or counted as suppressed: none is lost.
                spin_until(|| {
                    let delivered = r.lock().unwrap().len() - delivered_before;
                    let suppressed = monitor::suppressed_reports() - before;
                    go.load(Ordering::SeqCst) == 3 && delivered as u64 + suppressed >= 3
                });
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    let delivered: Vec<_> = reports.lock().unwrap()[delivered_before..].to_vec();
    let suppressed = monitor::suppressed_reports() - before;
    assert!(!delivered.is_empty(), "nothing delivered");
    // What a delivered report says was suppressed before it was suppressed indeed.
    assert!(delivered.iter().map(|r| r.suppressed).sum::<u64>() <= suppressed);
    if let Some(r) = delivered.iter().find(|r| r.suppressed > 0) {
        assert!(r.to_string().contains("suppressed by the rate limit"), "{r}");
    }
    monitor::disable();
}
