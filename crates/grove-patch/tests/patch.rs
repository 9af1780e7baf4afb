//! grove-patch: unmodified std and a real client crate become cooperative inside hubs, and
//! nothing changes elsewhere.

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

#[test]
fn std_thread_sleep_interleaves() {
    grove_patch::enable();
    grove::run(|| {
        let t = Instant::now();
        let hs: Vec<_> = (0..100)
            .map(|_| grove::spawn(|| std::thread::sleep(Duration::from_millis(100))))
            .collect();
        grove::joinall(hs);
        // Sequentially this would take 10 s.
        assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    });
}

#[test]
fn std_net_echo_with_1000_greenlets_on_one_hub() {
    grove_patch::enable();
    grove::run(|| {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let server = grove::spawn(move || loop {
            // Killed while waiting in accept: the hook returns ECANCELED; stop serving.
            let Ok((mut s, _)) = l.accept() else { return };
            grove::spawn(move || {
                let mut b = [0u8; 64];
                while let Ok(n @ 1..) = s.read(&mut b) {
                    if s.write_all(&b[..n]).is_err() {
                        break;
                    }
                }
            });
        });
        let clients: Vec<_> = (0..1000u32)
            .map(|i| {
                grove::spawn(move || {
                    let mut c = std::net::TcpStream::connect(addr).unwrap();
                    let msg = format!("{i:08}");
                    c.write_all(msg.as_bytes()).unwrap();
                    let mut back = [0u8; 8];
                    c.read_exact(&mut back).unwrap();
                    assert_eq!(&back, msg.as_bytes());
                })
            })
            .collect();
        for r in grove::joinall(clients) {
            r.unwrap();
        }
        server.kill().unwrap();
    });
}

#[test]
fn outside_greenlets_and_on_user_nonblocking_fds_behaviour_is_libc() {
    grove_patch::enable();
    // A plain thread without a hub: a read timeout behaves exactly as without the patch.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut c = std::net::TcpStream::connect(addr).unwrap();
        c.set_read_timeout(Some(Duration::from_millis(30))).unwrap();
        let e = c.read(&mut [0u8; 4]).unwrap_err();
        assert!(matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut));
    })
    .join()
    .unwrap();
    grove::run(|| {
        // A socket the user made non-blocking keeps returning EAGAIN.
        let c = std::net::TcpStream::connect(addr).unwrap();
        c.set_nonblocking(true).unwrap();
        let e = (&c).read(&mut [0u8; 4]).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock);
        // SO_RCVTIMEO on a managed socket: the greenlet waits that long, others keep running.
        let c2 = std::net::TcpStream::connect(addr).unwrap();
        c2.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        let ticker = grove::spawn(|| {
            for _ in 0..3 {
                std::thread::sleep(Duration::from_millis(5));
            }
            3
        });
        let t = Instant::now();
        let e = (&c2).read(&mut [0u8; 4]).unwrap_err();
        assert!(
            matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut),
            "{e}"
        );
        assert!(t.elapsed() >= Duration::from_millis(45));
        assert_eq!(ticker.join().unwrap(), 3);
        // The program still sees the blocking mode it asked for.
        // SAFETY: F_GETFL on a valid fd.
        let flags = unsafe { libc::fcntl(c2.as_raw_fd(), libc::F_GETFL) };
        assert_eq!(flags & libc::O_NONBLOCK, 0, "O_NONBLOCK is hidden");
        // Regular files are read by libc as usual and never switched to non-blocking.
        let path = std::env::temp_dir().join(format!("grove-patch-{}", std::process::id()));
        std::fs::write(&path, b"file data").unwrap();
        let f = std::fs::File::open(&path).unwrap();
        let mut s = String::new();
        (&f).read_to_string(&mut s).unwrap();
        assert_eq!(s, "file data");
        // SAFETY: F_GETFL on a valid fd.
        assert_eq!(unsafe { libc::fcntl(f.as_raw_fd(), libc::F_GETFL) } & libc::O_NONBLOCK, 0);
        std::fs::remove_file(&path).unwrap();
    });
}

#[test]
fn errno_is_preserved_across_a_cooperative_wait() {
    grove_patch::enable();
    grove::run(|| {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let writer = grove::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            std::thread::sleep(Duration::from_millis(20));
            s.write_all(b"late").unwrap();
        });
        let mut c = std::net::TcpStream::connect(addr).unwrap();
        // SAFETY: writing this thread's errno slot.
        unsafe { *libc::__errno_location() = libc::ENOENT };
        let mut b = [0u8; 4];
        c.read_exact(&mut b).unwrap(); // had to wait: EAGAIN happened underneath
        assert_eq!(errno(), libc::ENOENT, "a successful call leaves errno alone");
        writer.join().unwrap();
    });
}

/// A redis peer on a free loopback port, stopped when dropped: the real redis-server when the
/// machine has it (`.ci/run` installs it), else a small RESP server in this test (so the
/// README's `cargo test` needs nothing installed).
struct Redis(Peer, u16);

enum Peer {
    Real(std::process::Child),
    Fake(std::sync::Arc<std::sync::atomic::AtomicBool>),
}

impl Drop for Redis {
    fn drop(&mut self) {
        match &mut self.0 {
            Peer::Real(child) => {
                let _ = child.kill();
                let _ = child.wait();
            }
            Peer::Fake(stop) => {
                stop.store(true, std::sync::atomic::Ordering::SeqCst);
                // Unblock its accept.
                let _ = std::net::TcpStream::connect(("127.0.0.1", self.1));
            }
        }
    }
}

fn start_redis() -> Option<Redis> {
    start_real_redis().or_else(|| Some(start_fake_redis()))
}

/// A RESP server on plain threads with what these tests use: SET, GET, BLPOP (on keys nobody
/// pushes to: it waits out its timeout server-side, as redis does, then answers nil), and +OK
/// for connection set-up commands (CLIENT SETINFO, SELECT, ...).
fn start_fake_redis() -> Redis {
    use std::io::{BufRead, BufReader, Write as _};
    use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
    use std::sync::{Arc, Mutex};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let stop = Arc::new(AtomicBool::new(false));
    let data: Arc<Mutex<std::collections::HashMap<Vec<u8>, Vec<u8>>>> = Arc::default();
    let s = stop.clone();
    std::thread::spawn(move || {
        for conn in l.incoming() {
            if s.load(SeqCst) {
                return;
            }
            let Ok(conn) = conn else { continue };
            let data = data.clone();
            std::thread::spawn(move || {
                let mut w = conn.try_clone().unwrap();
                let mut r = BufReader::new(conn);
                let mut line = String::new();
                loop {
                    // *N, then N × ($len, bytes).
                    line.clear();
                    if r.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let Some(n) = line.trim().strip_prefix('*').and_then(|n| n.parse().ok()) else {
                        return;
                    };
                    let mut args: Vec<Vec<u8>> = Vec::new();
                    for _ in 0..n {
                        line.clear();
                        r.read_line(&mut line).unwrap();
                        let len: usize = line.trim()[1..].parse().unwrap();
                        let mut arg = vec![0u8; len + 2];
                        std::io::Read::read_exact(&mut r, &mut arg).unwrap();
                        arg.truncate(len);
                        args.push(arg);
                    }
                    let cmd = String::from_utf8_lossy(&args[0]).to_ascii_uppercase();
                    let reply: Vec<u8> = match cmd.as_str() {
                        "SET" => {
                            data.lock().unwrap().insert(args[1].clone(), args[2].clone());
                            b"+OK\r\n".to_vec()
                        }
                        "GET" => match data.lock().unwrap().get(&args[1]) {
                            Some(v) => {
                                let mut out = format!("${}\r\n", v.len()).into_bytes();
                                out.extend_from_slice(v);
                                out.extend_from_slice(b"\r\n");
                                out
                            }
                            None => b"$-1\r\n".to_vec(),
                        },
                        "BLPOP" => {
                            let secs: f64 =
                                String::from_utf8_lossy(args.last().unwrap()).parse().unwrap();
                            std::thread::sleep(Duration::from_secs_f64(secs));
                            b"*-1\r\n".to_vec()
                        }
                        "PING" => b"+PONG\r\n".to_vec(),
                        _ => b"+OK\r\n".to_vec(),
                    };
                    if w.write_all(&reply).is_err() {
                        return;
                    }
                }
            });
        }
    });
    Redis(Peer::Fake(stop), port)
}

fn start_real_redis() -> Option<Redis> {
    let port = std::net::TcpListener::bind("127.0.0.1:0").ok()?.local_addr().ok()?.port();
    let child = std::process::Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(std::process::Stdio::null())
        .spawn()
        .ok()?;
    let r = Redis(Peer::Real(child), port);
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Some(r);
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    None
}

#[test]
fn unmodified_redis_crate_runs_100_greenlets_concurrently() {
    let server = start_redis().expect("a redis peer");
    grove_patch::enable();
    let url = format!("redis://127.0.0.1:{}/", server.1);
    grove::run(|| {
        let t = Instant::now();
        let hs: Vec<_> = (0..100)
            .map(|i| {
                let url = url.clone();
                grove::spawn(move || {
                    let client = redis::Client::open(url.as_str()).unwrap();
                    let mut con = client.get_connection().unwrap();
                    let key = format!("grove:{i}");
                    let _: () = redis::cmd("SET").arg(&key).arg(i).query(&mut con).unwrap();
                    // Each blocks 200 ms in the server (BLPOP on an empty list times out).
                    let none: Option<(String, String)> = redis::cmd("BLPOP")
                        .arg(format!("empty:{i}"))
                        .arg(0.2)
                        .query(&mut con)
                        .unwrap();
                    assert!(none.is_none());
                    let v: i32 = redis::cmd("GET").arg(&key).query(&mut con).unwrap();
                    v
                })
            })
            .collect();
        let vals: Vec<i32> = grove::joinall(hs).into_iter().map(Result::unwrap).collect();
        assert_eq!(vals, (0..100).collect::<Vec<_>>());
        // The sum of the waits is 20 s; concurrently it is about one wait.
        assert!(t.elapsed() < Duration::from_secs(8), "{:?}", t.elapsed());
    });
    drop(server);
}

#[test]
fn killing_a_greenlet_blocked_in_a_patched_call() {
    grove_patch::enable();
    grove::run(|| {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let dropped = std::rc::Rc::new(std::cell::Cell::new(false));
        struct Flag(std::rc::Rc<std::cell::Cell<bool>>);
        impl Drop for Flag {
            fn drop(&mut self) {
                self.0.set(true);
            }
        }
        let d = dropped.clone();
        let reader = grove::spawn(move || {
            let _flag = Flag(d);
            let mut c = std::net::TcpStream::connect(addr).unwrap();
            // Blocks inside the read hook until killed; the hook cannot unwind (it is C), so
            // the read fails with ECANCELED...
            let e = c.read(&mut [0u8; 4]).unwrap_err();
            assert_eq!(e.raw_os_error(), Some(libc::ECANCELED));
            // ...and any later hooked call fails at once,
            assert!(c.write(b"x").is_err());
            // ...and the kill lands at the next grove blocking point.
            grove::sleep(Duration::from_secs(3600));
            unreachable!("killed before this");
        });
        let (_server_side, _) = l.accept().unwrap();
        grove::yield_now();
        reader.kill().unwrap();
        assert!(reader.join().unwrap_err().is_killed());
        assert!(dropped.get(), "destructors ran");
    });
}

/// The remaining patched calls, each made directly inside a greenlet while a ticker greenlet
/// must keep running (proof that the call waited cooperatively).
#[test]
fn each_remaining_patched_call_is_cooperative() {
    grove_patch::enable();
    grove::run(|| {
        let ticks = std::rc::Rc::new(std::cell::Cell::new(0u32));
        let t = ticks.clone();
        let ticker = grove::spawn(move || loop {
            grove::sleep(Duration::from_millis(2));
            t.set(t.get() + 1);
        });
        let progressed = |before: u32| ticks.get() > before;

        // readv / writev on a socketpair: the reader waits for data written 20 ms later.
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        let (fa, fb) = (a.as_raw_fd(), b.as_raw_fd());
        let w = grove::spawn(move || {
            std::thread::sleep(Duration::from_millis(20)); // patched nanosleep
            let parts = [b"ab".as_slice(), b"cd".as_slice()];
            let iov: Vec<libc::iovec> = parts
                .iter()
                .map(|p| libc::iovec { iov_base: p.as_ptr() as *mut _, iov_len: p.len() })
                .collect();
            // SAFETY: two valid iovecs over live buffers.
            unsafe { libc::writev(fb, iov.as_ptr(), 2) }
        });
        let before = ticks.get();
        let mut buf = [0u8; 4];
        let iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: 4 };
        // SAFETY: one valid iovec over a live buffer.
        let n = unsafe { libc::readv(fa, &iov, 1) };
        assert_eq!((n, &buf), (4, b"abcd"));
        assert!(progressed(before), "readv waited cooperatively");
        assert_eq!(w.join().unwrap(), 4);

        // UDP: std's recv_from/send_to are recvfrom/sendto.
        let rx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let to = rx.local_addr().unwrap();
        let s = grove::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            std::net::UdpSocket::bind("127.0.0.1:0").unwrap().send_to(b"dgram", to).unwrap()
        });
        let before = ticks.get();
        let mut d = [0u8; 8];
        let (n, _) = rx.recv_from(&mut d).unwrap();
        assert_eq!(&d[..n], b"dgram");
        assert!(progressed(before), "recvfrom waited cooperatively");
        s.join().unwrap();

        // usleep, sleep(0), clock_nanosleep (relative and absolute).
        let before = ticks.get();
        // SAFETY: plain integer argument.
        assert_eq!(unsafe { libc::usleep(20_000) }, 0);
        assert!(progressed(before), "usleep");
        // SAFETY: plain integer argument.
        assert_eq!(unsafe { libc::sleep(0) }, 0);
        let before = ticks.get();
        let rel = libc::timespec { tv_sec: 0, tv_nsec: 20_000_000 };
        // SAFETY: a valid timespec; null remainder.
        let r =
            unsafe { libc::clock_nanosleep(libc::CLOCK_MONOTONIC, 0, &rel, std::ptr::null_mut()) };
        assert_eq!(r, 0);
        assert!(progressed(before), "clock_nanosleep");
        let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: writes into a valid local.
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
        let abs = libc::timespec { tv_sec: now.tv_sec + 1, tv_nsec: now.tv_nsec };
        let t0 = Instant::now();
        let flags = libc::TIMER_ABSTIME;
        // SAFETY: a valid absolute timespec; null remainder.
        let r = unsafe {
            libc::clock_nanosleep(libc::CLOCK_MONOTONIC, flags, &abs, std::ptr::null_mut())
        };
        assert_eq!(r, 0);
        assert!(t0.elapsed() >= Duration::from_millis(900));

        // getaddrinfo (std's ToSocketAddrs) runs on the pool.
        use std::net::ToSocketAddrs;
        let addrs: Vec<_> = ("localhost", 80).to_socket_addrs().unwrap().collect();
        assert!(addrs.iter().all(|a| a.ip().is_loopback()));

        // poll on one fd: waits for readability cooperatively.
        let (c, e) = std::os::unix::net::UnixStream::pair().unwrap();
        let fc = c.as_raw_fd();
        let wr = grove::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            (&e).write_all(b"!").unwrap();
            e
        });
        let before = ticks.get();
        let mut p = libc::pollfd { fd: fc, events: libc::POLLIN, revents: 0 };
        // SAFETY: one valid pollfd.
        assert_eq!(unsafe { libc::poll(&mut p, 1, 5000) }, 1);
        assert!(p.revents & libc::POLLIN != 0);
        assert!(progressed(before), "poll waited cooperatively");
        drop(wr.join().unwrap());
        ticker.kill().unwrap();
    });
}

/// A socket made non-blocking underneath by grove-patch (because a greenlet used it), then
/// used from a plain thread without a hub: reads and sleeps there still block, as in libc.
#[test]
fn a_managed_fd_still_blocks_on_a_plain_thread() {
    grove_patch::enable();
    let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
    let a = grove::run(move || {
        // First use inside a greenlet: the fd becomes managed.
        (&b).write_all(b"1").unwrap();
        let mut one = [0u8; 1];
        (&a).read_exact(&mut one).unwrap();
        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50)); // plain thread: a real nanosleep
            (&b).write_all(b"late").unwrap();
        });
        (a, writer)
    });
    let (a, writer) = a;
    let t = Instant::now();
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 4];
        (&a).read_exact(&mut buf).unwrap(); // blocks (emulated with poll), no EAGAIN
        buf
    });
    assert_eq!(&reader.join().unwrap(), b"late");
    assert!(t.elapsed() >= Duration::from_millis(40));
    writer.join().unwrap();
}

/// 17.3: greenlets sharing one `std::sync::Mutex<redis::Connection>`: the holder waits for
/// redis in a patched read while the others wait for the lock (a futex wait), on one hub.
#[test]
fn greenlets_sharing_a_mutex_of_a_redis_connection_finish() {
    let server = start_redis().expect("a redis peer");
    grove_patch::enable();
    let url = format!("redis://127.0.0.1:{}/", server.1);
    let (tx, rx) = std::sync::mpsc::channel();
    let t = std::thread::spawn(move || {
        grove::run(|| {
            let client = redis::Client::open(url.as_str()).unwrap();
            let con = std::rc::Rc::new(std::sync::Mutex::new(client.get_connection().unwrap()));
            let hs: Vec<_> = (0..10)
                .map(|i| {
                    let con = con.clone();
                    grove::spawn(move || {
                        let mut con = con.lock().unwrap();
                        let _: Option<(String, String)> = redis::cmd("BLPOP")
                            .arg(format!("empty:shared:{i}"))
                            .arg(0.02)
                            .query(&mut *con)
                            .unwrap();
                        let _: () =
                            redis::cmd("SET").arg("shared").arg(i).query(&mut *con).unwrap();
                        i
                    })
                })
                .collect();
            let done: Vec<i32> = grove::joinall(hs).into_iter().map(Result::unwrap).collect();
            assert_eq!(done, (0..10).collect::<Vec<_>>());
        });
        let _ = tx.send(());
    });
    // A hung hub must fail the test, not hang it.
    assert!(rx.recv_timeout(Duration::from_secs(60)).is_ok(), "the hub is stuck");
    t.join().unwrap();
    drop(server);
}
