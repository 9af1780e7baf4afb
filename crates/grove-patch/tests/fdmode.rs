//! Which fds grove-patch switches to O_NONBLOCK underneath, and when it gives them back:
//! never for fds used only on plain threads (17.4), never for an fd handed to a child process
//! (17.4), and again after the program toggled the mode itself (17.6).

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{raw_flags, watchdog, DelayedEcho};

/// A client on a plain thread: reads `greeting_len` bytes, then sends `first`, waits `pause`,
/// sends `rest` and closes its sending side.
fn client(
    addr: std::net::SocketAddr,
    greeting_len: usize,
    first: &'static [u8],
    pause: Duration,
    rest: &'static [u8],
) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut c = std::net::TcpStream::connect(addr).unwrap();
        let mut greeting = vec![0u8; greeting_len];
        c.read_exact(&mut greeting).unwrap();
        c.write_all(first).unwrap();
        std::thread::sleep(pause);
        c.write_all(rest).unwrap();
        c.shutdown(std::net::Shutdown::Write).unwrap();
        greeting
    })
}

/// `cat` with `stdin` as its standard input; returns what it printed. std spawns it with
/// `posix_spawn`, or with fork + dup2 + exec when `fork` (a `pre_exec` hook forces that).
fn cat(stdin: OwnedFd, fork: bool) -> Vec<u8> {
    let mut cmd = Command::new("cat");
    cmd.stdin(Stdio::from(stdin));
    if fork {
        use std::os::unix::process::CommandExt;
        // SAFETY: the hook does nothing (it is only there to make std fork).
        unsafe { cmd.pre_exec(|| Ok(())) };
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "cat failed: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

#[test]
fn a_socket_used_only_on_plain_threads_stays_blocking_for_a_child() {
    grove_patch::enable();
    // This test's thread runs no hub: everything here must be exactly libc.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let c = client(l.local_addr().unwrap(), 5, b"", Duration::from_millis(200), b"late payload");
    let (mut s, _) = l.accept().unwrap();
    s.write_all(b"hello").unwrap();
    assert_eq!(raw_flags(l.as_raw_fd()) & libc::O_NONBLOCK, 0, "listener left blocking");
    assert_eq!(raw_flags(s.as_raw_fd()) & libc::O_NONBLOCK, 0, "socket left blocking");
    // `cat` reads before the payload is sent: a non-blocking stdin would fail with EAGAIN.
    assert_eq!(cat(s.into(), false), b"late payload");
    assert_eq!(c.join().unwrap(), b"hello");
}

#[test]
fn a_managed_socket_handed_to_a_child_is_blocking_for_good() {
    grove_patch::enable();
    watchdog(60, "socket handed to cat", || {
        grove::run(|| {
            for fork in [false, true] {
                let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
                let addr = l.local_addr().unwrap();
                let pause = Duration::from_millis(200);
                let c = client(addr, 2, b"first\n", pause, b"rest of the data");
                let (mut s, _) = l.accept().unwrap();
                s.write_all(b"hi").unwrap();
                let mut first = [0u8; 6];
                s.read_exact(&mut first).unwrap(); // used in a greenlet: managed
                assert_eq!(&first, b"first\n");
                assert_ne!(raw_flags(s.as_raw_fd()) & libc::O_NONBLOCK, 0, "managed underneath");
                let keep = s.try_clone().unwrap(); // same open file description
                assert_eq!(cat(s.into(), fork), b"rest of the data");
                assert_eq!(raw_flags(keep.as_raw_fd()) & libc::O_NONBLOCK, 0, "blocking again");
                assert_eq!(c.join().unwrap(), b"hi");
            }
        })
    });
}

#[test]
fn a_dup_of_a_managed_socket_is_managed_too() {
    grove_patch::enable();
    let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
    let (a, b) = grove::run(move || {
        (&b).write_all(b"1").unwrap();
        let mut one = [0u8; 1];
        (&a).read_exact(&mut one).unwrap(); // `a` is managed now
        (a.try_clone().unwrap(), b) // a dup: the same description, non-blocking underneath
    });
    // On a plain thread the dup still behaves as blocking (no EAGAIN).
    reads_late_data_blocking(&a, b);
}

/// A plain thread writes to `b` a moment later: a read of `a` on this (plain) thread must
/// block until then, as libc's would, and get the data.
fn reads_late_data_blocking(a: &std::os::unix::net::UnixStream, b: std::os::unix::net::UnixStream) {
    let writer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        (&b).write_all(b"late").unwrap();
        b
    });
    let mut buf = [0u8; 4];
    (&*a).read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"late");
    drop(writer.join().unwrap());
}

/// A `dup2`/`dup3` onto a managed fd that fails (bad source fd) leaves the target as it was:
/// still managed, still blocking for the program (review finding: the hook forgot the target's
/// class before the call, so a failed call left a non-blocking fd the table no longer knew).
#[test]
fn a_failed_dup_onto_a_managed_fd_leaves_it_managed() {
    grove_patch::enable();
    for use_dup3 in [false, true] {
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        let (a, b) = grove::run(move || {
            (&b).write_all(b"1").unwrap();
            let mut one = [0u8; 1];
            (&a).read_exact(&mut one).unwrap(); // `a` is managed now
            (a, b)
        });
        let bad = -1; // never an open fd (a closed one could be reused by another test)
                      // SAFETY: dup2/dup3 with an invalid source fd fail with EBADF and touch nothing.
        let r = unsafe {
            if use_dup3 {
                libc::dup3(bad, a.as_raw_fd(), libc::O_CLOEXEC)
            } else {
                libc::dup2(bad, a.as_raw_fd())
            }
        };
        assert_eq!(r, -1, "dup from an invalid fd must fail");
        assert_eq!(std::io::Error::last_os_error().raw_os_error(), Some(libc::EBADF));
        assert_ne!(raw_flags(a.as_raw_fd()) & libc::O_NONBLOCK, 0, "still managed underneath");
        // SAFETY: F_GETFL on a valid fd (through the hook: the program's view).
        let seen = unsafe { libc::fcntl(a.as_raw_fd(), libc::F_GETFL) };
        assert_eq!(seen & libc::O_NONBLOCK, 0, "the program still sees a blocking fd");
        // And a plain thread's read still blocks until data comes (no EAGAIN).
        reads_late_data_blocking(&a, b);
    }
}

#[test]
fn connect_timeout_sockets_stay_cooperative() {
    grove_patch::enable();
    let delay = Duration::from_millis(400);
    let server = DelayedEcho::start(delay);
    let addr = server.addr;
    watchdog(60, "connect_timeout clients", || {
        grove::run(|| {
            let ticks = std::rc::Rc::new(std::cell::Cell::new(0u32));
            let t = ticks.clone();
            let ticker = grove::spawn(move || loop {
                grove::sleep(Duration::from_millis(1));
                t.set(t.get() + 1);
            });
            let start = Instant::now();
            // std's connect_timeout switches the socket to non-blocking (FIONBIO), connects,
            // polls, and switches it back: it must stay managed by grove-patch afterwards.
            let hs: Vec<_> = (0..10u8)
                .map(|i| {
                    grove::spawn(move || {
                        let mut c =
                            std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(10))
                                .unwrap();
                        // SAFETY: F_GETFL on a valid fd (through the hook: the program's view).
                        let flags = unsafe { libc::fcntl(c.as_raw_fd(), libc::F_GETFL) };
                        assert_eq!(flags & libc::O_NONBLOCK, 0, "blocking, as the program set");
                        c.write_all(&[i; 8]).unwrap();
                        let mut b = [0u8; 8];
                        c.read_exact(&mut b).unwrap();
                        b == [i; 8]
                    })
                })
                .collect();
            assert!(grove::joinall(hs).into_iter().all(|r| r.unwrap()));
            // One after another this takes 10 delays; concurrently about one.
            let took = start.elapsed();
            assert!(took < delay * 5, "{took:?}: the echoes were waited for one at a time");
            assert!(ticks.get() >= 5, "the hub kept running during the waits");
            ticker.kill().unwrap();
        })
    });
    drop(server);
}
