//! The blocking monitor (its own test binary: the hook is process-wide).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[test]
fn a_greenlet_spinning_300ms_is_reported_with_its_name() {
    let reports = Arc::new(Mutex::new(Vec::new()));
    let r = reports.clone();
    grove::monitor::set_hook(move |rep| r.lock().unwrap().push(rep.clone()));
    grove::monitor::enable(Duration::from_millis(100));
    grove::run(|| {
        let spinner = grove::Builder::new().name("spinner").spawn(|| {
            let t = Instant::now();
            let mut x = 0u64;
            while t.elapsed() < Duration::from_millis(300) {
                x = std::hint::black_box(x.wrapping_add(1));
            }
            x
        });
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
    grove::monitor::disable();
}
