//! Helpers shared by the test binaries: a hang watchdog and loopback servers on plain threads
//! (stopped on drop).
#![allow(dead_code)] // each test binary uses some of them

use std::io::{Read, Write};
use std::sync::mpsc;
use std::time::Duration;

/// Runs `f`; aborts the test process if it has not returned within `secs` (a hung hub must
/// fail the test, not hang it).
pub(crate) fn watchdog<T>(secs: u64, what: &'static str, f: impl FnOnce() -> T) -> T {
    let (tx, rx) = mpsc::channel::<()>();
    let dog = std::thread::spawn(move || {
        if rx.recv_timeout(Duration::from_secs(secs)) == Err(mpsc::RecvTimeoutError::Timeout) {
            eprintln!("watchdog: '{what}' still running after {secs} s: the hub is stuck");
            std::process::abort();
        }
    });
    let r = f();
    drop(tx);
    dog.join().unwrap();
    r
}

/// A loopback server on a plain thread that accepts connections and never answers; stopped
/// (and its connections closed) on drop.
pub(crate) struct Silent {
    pub addr: std::net::SocketAddr,
    stop: Option<mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Silent {
    pub(crate) fn start() -> Silent {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        l.set_nonblocking(true).unwrap();
        let (tx, rx) = mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            let mut held = Vec::new();
            while rx.recv_timeout(Duration::from_millis(5)) == Err(mpsc::RecvTimeoutError::Timeout)
            {
                while let Ok((s, _)) = l.accept() {
                    held.push(s);
                }
            }
        });
        Silent { addr, stop: Some(tx), thread: Some(thread) }
    }
}

impl Drop for Silent {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A loopback echo server on plain threads: each connection's data comes back `delay` after
/// it arrived (a thread per connection). Stopped on drop (connections end when their peer
/// closes).
pub(crate) struct DelayedEcho {
    pub addr: std::net::SocketAddr,
    stop: Option<mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl DelayedEcho {
    pub(crate) fn start(delay: Duration) -> DelayedEcho {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        l.set_nonblocking(true).unwrap();
        let (tx, rx) = mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            let mut conns = Vec::new();
            while rx.recv_timeout(Duration::from_millis(2)) == Err(mpsc::RecvTimeoutError::Timeout)
            {
                while let Ok((mut s, _)) = l.accept() {
                    s.set_nonblocking(false).unwrap();
                    conns.push(std::thread::spawn(move || {
                        let mut b = [0u8; 256];
                        while let Ok(n @ 1..) = s.read(&mut b) {
                            std::thread::sleep(delay);
                            if s.write_all(&b[..n]).is_err() {
                                break;
                            }
                        }
                    }));
                }
            }
            for c in conns {
                let _ = c.join();
            }
        });
        DelayedEcho { addr, stop: Some(tx), thread: Some(thread) }
    }
}

impl Drop for DelayedEcho {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The fd's real status flags (F_GETFL through the raw system call: the `fcntl` hook hides
/// the O_NONBLOCK that grove-patch sets itself).
pub(crate) fn raw_flags(fd: std::os::fd::RawFd) -> i32 {
    // SAFETY: F_GETFL takes no argument and only reads the fd's flags.
    (unsafe { libc::syscall(libc::SYS_fcntl, fd, libc::F_GETFL) }) as i32
}

/// A greenlet counting 1 ms sleeps; `ticks()` reads the count.
pub(crate) struct Ticker {
    ticks: std::rc::Rc<std::cell::Cell<u64>>,
    h: grove::JoinHandle<()>,
}

impl Ticker {
    pub(crate) fn start() -> Ticker {
        let ticks = std::rc::Rc::new(std::cell::Cell::new(0));
        let t = ticks.clone();
        let h = grove::spawn(move || loop {
            grove::sleep(Duration::from_millis(1));
            t.set(t.get() + 1);
        });
        Ticker { ticks, h }
    }

    pub(crate) fn ticks(&self) -> u64 {
        self.ticks.get()
    }

    pub(crate) fn stop(self) {
        let _ = self.h.kill();
    }
}
