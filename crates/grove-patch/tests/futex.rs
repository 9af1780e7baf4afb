//! 17.3: std's locks and condvars wait with the futex system call; on a hub thread that wait
//! must park the greenlet, not the thread (a lock held across a patched wait by another
//! greenlet of the same hub used to put the hub to sleep in the kernel for good).

use std::io::Read;
use std::rc::Rc;
use std::sync::{Arc, Condvar, Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant};

mod common;
use common::{watchdog, DelayedEcho, Ticker};

#[test]
fn greenlets_sharing_a_std_mutex_across_a_patched_wait_all_finish() {
    grove_patch::enable();
    let echo = DelayedEcho::start(Duration::from_millis(20));
    let addr = echo.addr;
    watchdog(60, "greenlets sharing a Mutex<TcpStream>", || {
        grove::run(|| {
            let ticker = Ticker::start();
            // One connection shared by greenlets, each holding the lock across its request
            // (a patched write and a read that waits 20 ms for the echo).
            let conn = Rc::new(Mutex::new(std::net::TcpStream::connect(addr).unwrap()));
            let hs: Vec<_> = (0..8u8)
                .map(|i| {
                    let conn = conn.clone();
                    grove::spawn(move || {
                        use std::io::Write;
                        let mut c = conn.lock().unwrap();
                        c.write_all(&[i; 4]).unwrap();
                        let mut b = [0u8; 4];
                        c.read_exact(&mut b).unwrap();
                        b == [i; 4]
                    })
                })
                .collect();
            let before = ticker.ticks();
            assert!(grove::joinall(hs).into_iter().all(|r| r.unwrap()));
            assert!(ticker.ticks() > before, "the hub ran other greenlets meanwhile");
            ticker.stop();
        })
    });
    drop(echo);
}

#[test]
fn a_ticker_keeps_ticking_while_a_greenlet_waits_for_a_mutex() {
    grove_patch::enable();
    watchdog(60, "Mutex held across a sleep", || {
        grove::run(|| {
            let ticker = Ticker::start();
            let m = Rc::new(Mutex::new(0u32));
            let m2 = m.clone();
            let holder = grove::spawn(move || {
                let mut g = m2.lock().unwrap();
                std::thread::sleep(Duration::from_millis(100)); // patched: the hub runs on
                *g += 1;
            });
            grove::yield_now(); // the holder has the lock and sleeps
            let before = ticker.ticks();
            let waiter = {
                let m = m.clone();
                grove::spawn(move || {
                    let mut g = m.lock().unwrap(); // contended: a futex wait
                    *g += 1;
                    *g
                })
            };
            assert_eq!(waiter.join().unwrap(), 2);
            holder.join().unwrap();
            assert!(ticker.ticks() > before, "ticks went on during the wait");
            // The main greenlet waits for a lock the same way.
            let m3 = m.clone();
            let holder = grove::spawn(move || {
                let _g = m3.lock().unwrap();
                std::thread::sleep(Duration::from_millis(30));
            });
            grove::yield_now();
            *m.lock().unwrap() += 1;
            holder.join().unwrap();
            assert_eq!(*m.lock().unwrap(), 3);
            ticker.stop();
        })
    });
}

#[test]
fn a_condvar_signalled_by_a_plain_thread_wakes_a_greenlet() {
    grove_patch::enable();
    watchdog(60, "Condvar across threads", || {
        grove::run(|| {
            let ticker = Ticker::start();
            let pair = Arc::new((Mutex::new(false), Condvar::new()));
            let p = pair.clone();
            let signaller = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(50));
                *p.0.lock().unwrap() = true;
                p.1.notify_one();
            });
            let p = pair.clone();
            let waiter = grove::spawn(move || {
                let mut ready = p.0.lock().unwrap();
                while !*ready {
                    ready = p.1.wait(ready).unwrap();
                }
            });
            let before = ticker.ticks();
            waiter.join().unwrap();
            // Blocked in the kernel, the hub could tick at most once (after the wait) before
            // main runs again; waiting cooperatively for ~50 ms it ticks many times.
            assert!(ticker.ticks() >= before + 2, "ticks went on during the wait");
            signaller.join().unwrap();

            // A wait with a timeout that nobody signals times out, cooperatively.
            let before = ticker.ticks();
            let t = Instant::now();
            let g = pair.0.lock().unwrap();
            let (g, r) = pair.1.wait_timeout(g, Duration::from_millis(50)).unwrap();
            assert!(r.timed_out());
            drop(g);
            assert!(t.elapsed() >= Duration::from_millis(45));
            assert!(ticker.ticks() >= before + 2, "ticks went on during the timed wait");

            // A greenlet signals another greenlet of the same hub.
            let p = pair.clone();
            *p.0.lock().unwrap() = false;
            let waiter = grove::spawn(move || {
                let g = p.0.lock().unwrap();
                let _g = p.1.wait_while(g, |ready| !*ready).unwrap();
            });
            grove::yield_now();
            *pair.0.lock().unwrap() = true;
            pair.1.notify_all();
            waiter.join().unwrap();
            ticker.stop();
        })
    });
}

#[test]
fn rwlock_and_oncelock_waits_are_cooperative_too() {
    grove_patch::enable();
    watchdog(60, "RwLock and OnceLock", || {
        grove::run(|| {
            let ticker = Ticker::start();
            let rw = Rc::new(RwLock::new(0u32));
            let r2 = rw.clone();
            let writer = grove::spawn(move || {
                let mut w = r2.write().unwrap();
                std::thread::sleep(Duration::from_millis(50));
                *w = 7;
            });
            grove::yield_now();
            let readers: Vec<_> = (0..4)
                .map(|_| {
                    let rw = rw.clone();
                    grove::spawn(move || *rw.read().unwrap())
                })
                .collect();
            let before = ticker.ticks();
            assert!(grove::joinall(readers).into_iter().all(|r| r.unwrap() == 7));
            writer.join().unwrap();
            assert!(ticker.ticks() > before);

            let once = Rc::new(OnceLock::new());
            let o = once.clone();
            let init = grove::spawn(move || {
                *o.get_or_init(|| {
                    std::thread::sleep(Duration::from_millis(50));
                    42
                })
            });
            grove::yield_now();
            let o = once.clone();
            let other = grove::spawn(move || *o.get_or_init(|| 0)); // waits for the first
            let before = ticker.ticks();
            assert_eq!(other.join().unwrap(), 42);
            assert_eq!(init.join().unwrap(), 42);
            assert!(ticker.ticks() > before);
            ticker.stop();
        })
    });
}

#[test]
fn a_greenlet_killed_while_waiting_for_a_lock_takes_it_then_dies() {
    grove_patch::enable();
    watchdog(60, "kill during a Mutex wait", || {
        grove::run(|| {
            let m = Rc::new(Mutex::new(Vec::new()));
            let m2 = m.clone();
            let holder = grove::spawn(move || {
                let mut g = m2.lock().unwrap();
                std::thread::sleep(Duration::from_millis(50));
                g.push("holder");
            });
            grove::yield_now();
            let m3 = m.clone();
            let victim = grove::spawn(move || {
                m3.lock().unwrap().push("victim"); // a lock cannot be given up half-way
                grove::sleep(Duration::from_secs(3600)); // the kill lands here
            });
            grove::yield_now();
            victim.kill().unwrap(); // returns once the victim got the lock, released it and unwound
            assert!(victim.join().unwrap_err().is_killed());
            holder.join().unwrap();
            assert_eq!(*m.lock().unwrap(), ["holder", "victim"]);
        })
    });
}

/// Plain threads and greenlets of two hubs hammer one mutex and one condvar: no lost
/// wakeup, no lost update.
#[test]
fn mixed_threads_and_greenlets_contending_lose_nothing() {
    grove_patch::enable();
    const N: u64 = 2_000;
    let state = Arc::new((Mutex::new(0u64), Condvar::new()));
    watchdog(120, "mixed contention", || {
        let mut threads = Vec::new();
        for _ in 0..2 {
            let s = state.clone();
            threads.push(std::thread::spawn(move || {
                for _ in 0..N {
                    *s.0.lock().unwrap() += 1;
                    s.1.notify_all();
                }
            }));
        }
        for _ in 0..2 {
            let s = state.clone();
            threads.push(std::thread::spawn(move || {
                grove::run(|| {
                    let hs: Vec<_> = (0..4)
                        .map(|_| {
                            let s = s.clone();
                            grove::spawn(move || {
                                for i in 0..N / 4 {
                                    *s.0.lock().unwrap() += 1;
                                    s.1.notify_all();
                                    if i % 64 == 0 {
                                        grove::yield_now();
                                    }
                                }
                            })
                        })
                        .collect();
                    grove::joinall(hs);
                })
            }));
        }
        // A greenlet on this thread's hub waits for the total through the condvar.
        let s = state.clone();
        grove::run(move || {
            let g = s.0.lock().unwrap();
            let g = s.1.wait_while(g, |n| *n < 4 * N).unwrap();
            assert_eq!(*g, 4 * N);
        });
        for t in threads {
            t.join().unwrap();
        }
    });
}

/// parking_lot keeps one parker per OS thread (shared by all greenlets of a hub), so its
/// waits are left to libc: they block the thread, exactly as without grove-patch.
#[test]
fn parking_lot_waits_keep_libc_behaviour() {
    grove_patch::enable();
    watchdog(60, "parking_lot", || {
        let m = Arc::new(parking_lot::Mutex::new(0u32));
        let m2 = m.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        let holder = std::thread::spawn(move || {
            let mut g = m2.lock();
            tx.send(()).unwrap();
            std::thread::sleep(Duration::from_millis(50));
            *g += 1;
        });
        rx.recv().unwrap();
        grove::run(|| {
            let hs: Vec<_> = (0..3)
                .map(|_| {
                    let m = m.clone();
                    grove::spawn(move || {
                        *m.lock() += 1;
                    })
                })
                .collect();
            for h in hs {
                h.join().unwrap();
            }
        });
        holder.join().unwrap();
        assert_eq!(*m.lock(), 4);
    });
}

/// Hubs created at the same moment on many threads contend for grove's internal locks while
/// they are being built; a futex wait there must not re-enter the half-built hub (it used to
/// build it twice and leave the thread's hub non-cooperative for good: patched calls then
/// blocked the thread).
#[test]
fn hubs_created_concurrently_stay_cooperative() {
    grove_patch::enable();
    watchdog(120, "concurrent hub creation", || {
        for _ in 0..20 {
            let start = Arc::new(std::sync::Barrier::new(32));
            let threads: Vec<_> = (0..32)
                .map(|_| {
                    let start = start.clone();
                    std::thread::spawn(move || {
                        start.wait();
                        grove::run(|| grove::spawn(grove::hub::is_cooperative).join().unwrap())
                    })
                })
                .collect();
            for t in threads {
                assert!(t.join().unwrap(), "a greenlet's hooked calls would block its thread");
            }
        }
    });
}

/// std's RwLock waits for the value u32::MAX when a writer holds it and both readers and
/// writers wait, like std's thread parker does: that reader must still wait cooperatively.
#[test]
fn an_rwlock_with_readers_and_writers_waiting_is_cooperative() {
    grove_patch::enable();
    watchdog(60, "RwLock, readers and writers waiting", || {
        grove::run(|| {
            let rw = Rc::new(RwLock::new(0u32));
            let r2 = rw.clone();
            let holder = grove::spawn(move || {
                let mut w = r2.write().unwrap();
                std::thread::sleep(Duration::from_millis(30)); // patched: the hub runs on
                *w += 1;
            });
            grove::yield_now();
            let r3 = rw.clone();
            let writer = grove::spawn(move || *r3.write().unwrap() += 1); // writers waiting
            grove::yield_now();
            let readers: Vec<_> = (0..3)
                .map(|_| {
                    let rw = rw.clone();
                    grove::spawn(move || *rw.read().unwrap()) // waits for u32::MAX
                })
                .collect();
            for r in grove::joinall(readers) {
                assert!(r.unwrap() >= 1);
            }
            writer.join().unwrap();
            holder.join().unwrap();
            assert_eq!(*rw.read().unwrap(), 2);
        })
    });
}

/// A greenlet receiving from a std mpsc channel (std's thread parker, one per OS thread)
/// blocks its hub as without grove-patch — but correctly: nothing is lost when a plain thread
/// sends, even with several greenlets of the hub receiving one after another.
#[test]
fn std_mpsc_receives_keep_libc_behaviour() {
    grove_patch::enable();
    watchdog(60, "std mpsc receive", || {
        grove::run(|| {
            std::thread::sleep(Duration::from_millis(1)); // lets grove-patch learn the parker
            let hs: Vec<_> = (0..4)
                .map(|i| {
                    grove::spawn(move || {
                        let (tx, rx) = std::sync::mpsc::channel();
                        let t = std::thread::spawn(move || {
                            std::thread::sleep(Duration::from_millis(10));
                            tx.send(i).unwrap();
                        });
                        let v = rx.recv().unwrap();
                        t.join().unwrap();
                        v
                    })
                })
                .collect();
            let got: Vec<i32> = grove::joinall(hs).into_iter().map(Result::unwrap).collect();
            assert_eq!(got, [0, 1, 2, 3]);
        })
    });
}
