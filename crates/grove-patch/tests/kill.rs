//! Kills and `timeout` scopes that reach a greenlet inside a patched call (the hook cannot
//! unwind, so the call fails instead): the kill is never lost (17.5), and a greenlet whose code
//! ignores the failures and retries does not stall its hub (17.2).

use std::cell::Cell;
use std::io::Read;
use std::rc::Rc;
use std::time::{Duration, Instant};

mod common;
use common::{watchdog, Silent};

/// Waits (cooperatively) until `cond` holds.
fn until(cond: impl Fn() -> bool) {
    while !cond() {
        grove::sleep(Duration::from_millis(2));
    }
}

#[test]
fn a_kill_caught_in_a_patched_sleep_is_reported_by_join() {
    grove_patch::enable();
    watchdog(60, "kill of a sleeping greenlet", || {
        grove::run(|| {
            // std::thread::sleep is the patched nanosleep: the kill ends it (ECANCELED inside
            // the hook), the function then returns without another blocking point.
            let h = grove::spawn(|| std::thread::sleep(Duration::from_secs(10)));
            grove::yield_now();
            let t = Instant::now();
            h.kill().unwrap();
            assert!(t.elapsed() < Duration::from_secs(5), "the sleep was interrupted");
            assert!(h.join().unwrap_err().is_killed(), "join says Killed, not Ok");

            // Same through a patched read whose error the code swallows.
            let server = Silent::start();
            let addr = server.addr;
            let h = grove::spawn(move || {
                let mut c = std::net::TcpStream::connect(addr).unwrap();
                c.read(&mut [0u8; 4]).is_err()
            });
            grove::sleep(Duration::from_millis(20));
            h.kill().unwrap();
            assert!(h.join().unwrap_err().is_killed());
        })
    });
}

/// C-style client code that ignores every error: connect, read, sleep, again.
fn retry_forever(addr: std::net::SocketAddr, stop: Rc<Cell<bool>>, sleep: bool) -> u64 {
    let mut calls = 0;
    while !stop.get() {
        if let Ok(mut s) = std::net::TcpStream::connect(addr) {
            let _ = s.read(&mut [0u8; 16]);
        }
        if sleep {
            std::thread::sleep(Duration::from_millis(1));
        }
        calls += 1;
    }
    calls
}

#[test]
fn a_killed_greenlet_that_retries_forever_does_not_stall_its_hub() {
    grove_patch::enable();
    watchdog(60, "killed retry loops", || {
        grove::run(|| {
            let server = Silent::start();
            let ticks = Rc::new(Cell::new(0u64));
            let t = ticks.clone();
            let ticker = grove::spawn(move || loop {
                grove::sleep(Duration::from_millis(1));
                t.set(t.get() + 1);
            });
            for sleep in [true, false] {
                let reported = grove_patch::interrupts_ignored();
                let stop = Rc::new(Cell::new(false));
                let s = stop.clone();
                let addr = server.addr;
                let victim = grove::spawn(move || retry_forever(addr, s, sleep));
                grove::sleep(Duration::from_millis(20)); // parked in its first read
                                                         // kill() waits for the victim's death, so it runs in its own greenlet.
                let killer = grove::spawn(move || {
                    victim.kill().unwrap();
                    victim
                });
                // The victim cannot be unwound (it never reaches a grove call), but the hub
                // keeps running other greenlets and the victim is reported, once.
                until(|| grove_patch::interrupts_ignored() > reported);
                let before = ticks.get();
                until(|| ticks.get() >= before + 20);
                assert!(!killer.is_finished(), "the victim is still alive");
                assert_eq!(grove_patch::interrupts_ignored(), reported + 1, "reported once");
                // Once its function returns, kill() returns and join says Killed.
                stop.set(true);
                let victim = killer.join().unwrap();
                assert!(victim.join().unwrap_err().is_killed());
            }

            // The same loop inside a `timeout` scope that expires.
            let reported = grove_patch::interrupts_ignored();
            let stop = Rc::new(Cell::new(false));
            let s = stop.clone();
            let addr = server.addr;
            let victim = grove::spawn(move || {
                grove::timeout(Duration::from_millis(20), || retry_forever(addr, s, true))
            });
            until(|| grove_patch::interrupts_ignored() > reported);
            let before = ticks.get();
            until(|| ticks.get() >= before + 20);
            stop.set(true);
            // It returned without blocking after the deadline: its value, as `timeout` says.
            assert!(victim.join().unwrap().is_ok());
            ticker.kill().unwrap();
            drop(server);
        })
    });
}
