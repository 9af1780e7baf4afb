//! The blocking monitor (its own test binary: the hook is process-wide).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[test]
fn reports_only_greenlets_that_keep_others_waiting() {
    let reports = Arc::new(Mutex::new(Vec::new()));
    let reports_handle = reports.clone();
    let r = reports.clone();
    grove::monitor::set_hook(move |rep| r.lock().unwrap().push(rep.clone()));
    grove::monitor::enable(Duration::from_millis(100));
    grove::run(|| {
        let spinner =
            grove::Builder::new().name("spinner").spawn(|| spin(Duration::from_millis(300)));
        spinner.join().unwrap();
        // A well-behaved greenlet that sleeps is never reported.
        grove::Builder::new()
            .name("sleeper")
            .spawn(|| grove::sleep(Duration::from_millis(300)))
            .join()
            .unwrap();
    });
    let reports = reports.lock().unwrap();
    let rep =
        reports.iter().find(|r| r.name.as_deref() == Some("spinner")).expect("spinner reported");
    assert!(rep.blocked_for >= Duration::from_millis(100));
    assert!(rep.location.as_deref().unwrap_or("").contains("rt_monitor.rs"), "{rep}");
    assert!(rep.to_string().contains("'spinner'"));
    assert!(!reports.iter().any(|r| r.name.as_deref() == Some("sleeper")));
    drop(reports);

    // The thread's main greenlet running plain code keeps nobody waiting while its hub has
    // no other greenlet: not reported. Once a spawned greenlet waits for it, it is.
    let is_main = |r: &grove::monitor::BlockingReport| r.greenlet & ((1 << 40) - 1) == 0;
    let main_reports = |rs: &Mutex<Vec<grove::monitor::BlockingReport>>| {
        rs.lock().unwrap().iter().filter(|r| is_main(r)).count()
    };
    spin(Duration::from_millis(300));
    assert_eq!(main_reports(&reports_handle), 0, "an idle hub's main thread was reported");
    let waiting = grove::spawn(|| 1);
    let t = Instant::now();
    while main_reports(&reports_handle) == 0 {
        // Liveness bound only: the report is due after 100 ms.
        assert!(t.elapsed() < Duration::from_secs(20), "main starving a greenlet not reported");
        spin(Duration::from_millis(10));
    }
    assert_eq!(waiting.join().unwrap(), 1);

    // A runtime's debug-build default does not override an explicit choice.
    grove::monitor::disable();
    reports_handle.lock().unwrap().clear();
    let rt = grove::Runtime::builder().hubs(1).build().unwrap();
    rt.spawn(|| spin(Duration::from_millis(300))).join().unwrap();
    rt.shutdown();
    assert!(reports_handle.lock().unwrap().is_empty(), "the runtime re-enabled the monitor");
}

fn spin(d: Duration) {
    let t = Instant::now();
    let mut x = 0u64;
    while t.elapsed() < d {
        x = std::hint::black_box(x.wrapping_add(1));
    }
}
