//! Cooperative signal waiting (own binary: signal dispositions are process-wide).

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use grove::signal::{consts::SIGUSR1, Signal};

#[test]
fn a_greenlet_waits_for_a_signal_while_others_run() {
    grove::run(|| {
        let sig = Signal::new(SIGUSR1).unwrap();
        let got = Rc::new(Cell::new(0));
        let g = got.clone();
        let waiter = grove::spawn(move || {
            for _ in 0..2 {
                sig.recv().unwrap();
                g.set(g.get() + 1);
            }
        });
        let ticks = Rc::new(Cell::new(0));
        let t = ticks.clone();
        let ticker = grove::spawn(move || loop {
            grove::sleep(Duration::from_millis(5));
            t.set(t.get() + 1);
        });
        grove::sleep(Duration::from_millis(30));
        assert_eq!(got.get(), 0);
        signal_hook::low_level::raise(SIGUSR1).unwrap();
        grove::sleep(Duration::from_millis(20));
        assert_eq!(got.get(), 1);
        signal_hook::low_level::raise(SIGUSR1).unwrap();
        waiter.join().unwrap();
        assert_eq!(got.get(), 2);
        assert!(ticks.get() >= 3);
        ticker.kill();
        // Forbidden signals are an error, not a crash.
        assert!(Signal::new(signal_hook::consts::SIGKILL).is_err());
    });
}
