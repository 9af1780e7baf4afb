//! Cooperative signal waiting (own binary: signal dispositions are process-wide).

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use grove::signal::{consts::SIGUSR1, Signal};

mod util;

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
        ticker.kill().unwrap();
        // Forbidden signals are an error, not a crash.
        assert!(Signal::new(signal_hook::consts::SIGKILL).is_err());
    });
}

/// Runs `scenario` in a child process and returns how it ended: `Some(signal)` if a signal
/// killed it, `None` if it exited (the child prints SURVIVED then).
fn child_end(test: &str, scenario: &str) -> Option<i32> {
    use std::os::unix::process::ExitStatusExt;
    let out = util::run_child(test, scenario);
    let text = String::from_utf8_lossy(&out.stdout);
    let end = out.status.signal();
    if end.is_none() {
        assert!(
            text.contains("SURVIVED"),
            "{scenario}: the child failed: {text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    end
}

fn raise(sig: i32) {
    signal_hook::low_level::raise(sig).unwrap();
}

/// Gives a raised signal every chance to act before the child reports surviving it.
fn survive() {
    grove::sleep(Duration::from_millis(100));
    println!("SURVIVED");
}

const TERM: i32 = signal_hook::consts::SIGTERM;

#[test]
fn sigterm_terminates_again_once_the_registration_is_gone() {
    const T: &str = "sigterm_terminates_again_once_the_registration_is_gone";
    if let Some(s) = util::child_scenario() {
        grove::run(|| match s.as_str() {
            "drop" => {
                let sig = Signal::new(TERM).unwrap();
                raise(TERM); // caught while registered
                sig.recv().unwrap();
                drop(sig);
                raise(TERM);
                survive();
            }
            "wait" => {
                let g = grove::spawn(|| grove::signal::wait(TERM));
                grove::yield_now();
                raise(TERM);
                g.join().unwrap().unwrap();
                raise(TERM);
                survive();
            }
            "killed" => {
                // The registration is dropped while its greenlet unwinds from recv.
                let g = grove::spawn(|| Signal::new(TERM).unwrap().recv());
                grove::sleep(Duration::from_millis(10));
                g.kill().unwrap();
                raise(TERM);
                survive();
            }
            "timeout" => {
                let sig = Signal::new(TERM).unwrap();
                assert!(grove::timeout(Duration::from_millis(10), || sig.recv()).is_err());
                raise(TERM); // still registered after a timed-out recv: caught
                sig.recv().unwrap();
                drop(sig);
                raise(TERM);
                survive();
            }
            "two" => {
                // Two registrations: dropping one keeps catching; the last restores.
                let (a, b) = (Signal::new(TERM).unwrap(), Signal::new(TERM).unwrap());
                drop(a);
                raise(TERM);
                b.recv().unwrap();
                drop(b);
                // Registering again after the default came back catches again.
                let c = Signal::new(TERM).unwrap();
                raise(TERM);
                c.recv().unwrap();
                drop(c);
                raise(TERM);
                survive();
            }
            "ignored" => {
                // A signal ignored before grove registered stays ignored afterwards.
                // SAFETY: setting SIGTERM to SIG_IGN before any handler exists.
                unsafe { libc::signal(TERM, libc::SIG_IGN) };
                let sig = Signal::new(TERM).unwrap();
                raise(TERM);
                sig.recv().unwrap();
                drop(sig);
                raise(TERM);
                survive();
            }
            other => panic!("unknown scenario {other}"),
        });
        return;
    }
    for scenario in ["drop", "wait", "killed", "timeout", "two"] {
        assert_eq!(child_end(T, scenario), Some(TERM), "{scenario}: SIGTERM no longer kills");
    }
    assert_eq!(child_end(T, "ignored"), None, "an ignored signal stays ignored");
}
