//! 17.7: a program's own event loop waiting in `epoll_wait` on a hub thread (the sync
//! `postgres` client runs a tokio current-thread runtime and `block_on`s every query) must park
//! its greenlet on the epoll fd, not put the hub to sleep in the kernel.
//!
//! The tests prove concurrency without timing: the tokio runtime waits for something that only
//! another greenlet of the same hub can produce, so a hub blocked in the kernel would never
//! produce it (the watchdog turns that hang into a failure).
//!
//! One greenlet per hub at a time may be inside a tokio runtime: tokio marks the OS thread as
//! "inside a runtime" in a thread-local, and a second greenlet's `block_on` on the same thread
//! panics ("Cannot start a runtime from within a runtime"). grove cannot swap tokio's
//! thread-locals per greenlet; see grove-patch's docs.

use std::io::Write;
use std::time::Duration;

use tokio::io::AsyncReadExt;

mod common;
use common::{watchdog, Ticker};

fn tokio_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// A greenlet `block_on`s a tokio connect and read from a grove server greenlet of the same
/// hub: the server can only accept and answer if the runtime's epoll_wait lets the hub run it.
/// Several rounds, so the epoll fd's registration with the hub is taken and released cleanly.
#[test]
fn a_tokio_runtime_in_a_greenlet_waits_cooperatively() {
    grove_patch::enable();
    watchdog(60, "tokio block_on in a greenlet", || {
        grove::run(|| {
            const ROUNDS: usize = 5;
            let listener = grove::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let server = grove::spawn(move || {
                for i in 0..ROUNDS {
                    let (mut c, _) = listener.accept().unwrap();
                    grove::sleep(Duration::from_millis(5)); // the client is in epoll_wait now
                    c.write_all(&[b'0' + i as u8]).unwrap();
                }
            });
            let rt = tokio_rt();
            let client = grove::spawn(move || {
                (0..ROUNDS)
                    .map(|_| {
                        rt.block_on(async move {
                            let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
                            let mut b = [0u8; 1];
                            s.read_exact(&mut b).await.unwrap();
                            b[0]
                        })
                    })
                    .collect::<Vec<u8>>()
            });
            assert_eq!(client.join().unwrap(), b"01234");
            server.join().unwrap();
        });
    });
}

/// A timer-only wait (no I/O ready): the runtime's epoll_wait has a timeout; meanwhile a
/// ticker greenlet keeps running, and the sleep still ends.
#[test]
fn a_tokio_sleep_lets_other_greenlets_run() {
    grove_patch::enable();
    watchdog(60, "tokio sleep in a greenlet", || {
        grove::run(|| {
            let ticker = Ticker::start();
            let rt = tokio_rt();
            rt.block_on(async { tokio::time::sleep(Duration::from_millis(200)).await });
            // A blocked hub would have run the ticker at most once around the sleep.
            let ticks = ticker.ticks();
            assert!(ticks >= 2, "the ticker ran {ticks} times during the sleep");
            ticker.stop();
        });
    });
}

/// Killing a greenlet parked inside `block_on`: the runtime's wait cannot fail (tokio would
/// panic, and panic again while unwinding: an abort), so it goes on until the runtime's own
/// event comes — here the peer resets the connection — and the kill lands once `block_on`
/// returns: `join` says `Killed`, the hub went on meanwhile, nothing aborted.
#[test]
fn killing_a_greenlet_waiting_in_a_tokio_runtime() {
    grove_patch::enable();
    watchdog(60, "kill during tokio block_on", || {
        grove::run(|| {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let h = grove::spawn(move || {
                tokio_rt().block_on(async move {
                    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
                    let mut b = [0u8; 1];
                    let _ = s.read(&mut b).await; // until the peer goes away
                })
            });
            grove::sleep(Duration::from_millis(50)); // let it reach its wait
            h.kill_nowait();
            // The hub still runs greenlets while the killed one waits.
            assert_eq!(grove::spawn(|| 5).join().unwrap(), 5);
            drop(listener); // resets the unaccepted connection: the read ends
            assert!(matches!(h.join(), Err(grove::JoinError::Killed)));
        });
    });
}

/// The hook changes nothing off hub threads: a tokio runtime on a plain thread works as ever.
#[test]
fn a_tokio_runtime_on_a_plain_thread_is_untouched() {
    grove_patch::enable();
    let v = std::thread::spawn(|| {
        tokio_rt().block_on(async {
            tokio::time::sleep(Duration::from_millis(10)).await;
            7
        })
    })
    .join()
    .unwrap();
    assert_eq!(v, 7);
}

/// A `grove::timeout` scope whose deadline passes while its greenlet waits inside `block_on`:
/// the runtime's wait goes on (it cannot fail), the read completes when the peer answers, and
/// the scope then reports `Elapsed` at its next grove blocking point; nothing aborts, and the
/// hub ran other greenlets meanwhile.
#[test]
fn a_timeout_scope_expiring_inside_a_tokio_runtime() {
    grove_patch::enable();
    watchdog(60, "timeout scope during tokio block_on", || {
        grove::run(|| {
            let listener = grove::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let server = grove::spawn(move || {
                let (mut c, _) = listener.accept().unwrap();
                grove::sleep(Duration::from_millis(300)); // past the client's deadline
                c.write_all(b"!").unwrap();
            });
            let ticker = Ticker::start();
            let rt = tokio_rt();
            let r = grove::timeout(Duration::from_millis(50), || {
                let got = rt.block_on(async move {
                    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
                    let mut b = [0u8; 1];
                    s.read_exact(&mut b).await.map(|_| b[0])
                });
                assert_eq!(got.unwrap(), b'!'); // the wait was not cut short
                grove::sleep(Duration::from_secs(3600)); // the scope ends here
            });
            assert!(r.is_err(), "the expired scope must report Elapsed");
            assert!(ticker.ticks() >= 2, "the hub ran other greenlets meanwhile");
            ticker.stop();
            server.join().unwrap();
        });
    });
}
