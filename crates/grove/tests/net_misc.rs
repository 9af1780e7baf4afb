//! UDP, Unix sockets, wait_readable on foreign fds, DNS, the thread pool, fs.

use std::cell::Cell;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::time::{Duration, Instant};

use grove::net::{UdpSocket, UnixDatagram, UnixListener, UnixStream};

#[test]
fn udp_echo() {
    grove::run(|| {
        let server = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = server.local_addr().unwrap();
        let h = grove::spawn(move || {
            let mut buf = [0; 64];
            for _ in 0..3 {
                let (n, from) = server.recv_from(&mut buf).unwrap();
                server.send_to(&buf[..n], from).unwrap();
            }
        });
        let c = UdpSocket::bind("127.0.0.1:0").unwrap();
        c.connect(addr).unwrap();
        for m in ["one", "two", "three"] {
            c.send(m.as_bytes()).unwrap();
            let mut b = [0; 64];
            let n = c.recv(&mut b).unwrap();
            assert_eq!(&b[..n], m.as_bytes());
        }
        h.join().unwrap();
        c.set_read_timeout(Some(Duration::from_millis(10))).unwrap();
        assert_eq!(c.recv(&mut [0; 4]).unwrap_err().kind(), std::io::ErrorKind::TimedOut);
    });
}

#[test]
fn unix_stream_and_datagram() {
    grove::run(|| {
        let dir = std::env::temp_dir().join(format!("grove-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("s.sock");
        let _ = std::fs::remove_file(&path);
        let l = UnixListener::bind(&path).unwrap();
        let h = grove::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut b = [0; 5];
            s.read_exact(&mut b).unwrap();
            s.write_all(&b).unwrap();
        });
        let mut c = UnixStream::connect(&path).unwrap();
        c.write_all(b"unix!").unwrap();
        let mut b = [0; 5];
        c.read_exact(&mut b).unwrap();
        assert_eq!(&b, b"unix!");
        h.join().unwrap();

        let (a, b2) = UnixDatagram::pair().unwrap();
        let h = grove::spawn(move || {
            let mut buf = [0; 8];
            let n = b2.recv(&mut buf).unwrap();
            buf[..n].to_vec()
        });
        grove::yield_now();
        a.send(b"dgram").unwrap();
        assert_eq!(h.join().unwrap(), b"dgram");

        let (p, q) = UnixStream::pair().unwrap();
        (&p).write_all(b"x").unwrap();
        let mut one = [0; 1];
        (&q).read_exact(&mut one).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    });
}

fn pipe() -> (std::fs::File, std::fs::File) {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two fds into the array.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) }, 0);
    use std::os::fd::FromRawFd;
    // SAFETY: the fds were just created and are owned by nobody else.
    unsafe { (std::fs::File::from_raw_fd(fds[0]), std::fs::File::from_raw_fd(fds[1])) }
}

#[test]
fn two_greenlets_waiting_on_the_same_foreign_fd_both_wake() {
    grove::run(|| {
        let (r, mut w) = pipe();
        let fd = r.as_raw_fd();
        let woke = Rc::new(Cell::new(0));
        let hs: Vec<_> = (0..2)
            .map(|_| {
                let woke = woke.clone();
                grove::spawn(move || {
                    grove::io::wait_readable(fd, Some(Duration::from_secs(10))).unwrap();
                    woke.set(woke.get() + 1);
                })
            })
            .collect();
        grove::sleep(Duration::from_millis(5));
        assert_eq!(woke.get(), 0);
        w.write_all(b"!").unwrap();
        grove::joinall(hs);
        assert_eq!(woke.get(), 2);
        // Timeouts on foreign fds.
        let mut sink = [0; 8];
        let _ = (&r).read(&mut sink);
        let e = grove::io::wait_readable(fd, Some(Duration::from_millis(10))).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
        grove::io::wait_writable(w.as_raw_fd(), Some(Duration::from_secs(1))).unwrap();
    });
}

#[test]
fn dns_resolves_localhost_and_names_connect() {
    grove::run(|| {
        let addrs = grove::dns::resolve("localhost", 8080).unwrap();
        assert!(!addrs.is_empty());
        assert!(addrs.iter().all(|a| a.ip().is_loopback() && a.port() == 8080));
        assert!(grove::dns::resolve("no-such-host.invalid", 1).is_err());
        let l = grove::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let h = grove::spawn(move || l.accept().map(|_| ()));
        let c = grove::net::TcpStream::connect(format!("localhost:{port}"));
        if let Ok(c) = c {
            assert!(c.peer_addr().unwrap().ip().is_loopback());
            h.join().unwrap().unwrap();
        } else {
            // localhost may resolve to ::1 first with no v6 listener; 127.0.0.1 must work.
            let c = grove::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
            drop(c);
            h.join().unwrap().unwrap();
        }
    });
}

#[test]
fn a_greenlet_in_spawn_blocking_does_not_block_the_others() {
    grove::run(|| {
        let ticks = Rc::new(Cell::new(0));
        let t = ticks.clone();
        let ticker = grove::spawn(move || {
            for _ in 0..10 {
                grove::sleep(Duration::from_millis(5));
                t.set(t.get() + 1);
            }
        });
        let start = Instant::now();
        let v = grove::thread_pool::spawn_blocking(|| {
            std::thread::sleep(Duration::from_millis(100));
            "done"
        })
        .unwrap();
        assert_eq!(v, "done");
        assert!(start.elapsed() >= Duration::from_millis(100));
        assert!(ticks.get() >= 5, "ticker ran while we waited ({} ticks)", ticks.get());
        ticker.join().unwrap();

        // Panics come back to the caller.
        let r = std::panic::catch_unwind(|| {
            grove::thread_pool::spawn_blocking(|| -> u8 { panic!("in the pool") })
        });
        assert!(r.is_err());

        // Timeouts give up waiting.
        let e = grove::thread_pool::spawn_blocking_timeout(Duration::from_millis(5), || {
            std::thread::sleep(Duration::from_millis(50))
        })
        .unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
    });
}

#[test]
fn ten_thousand_concurrent_file_reads_through_the_pool() {
    grove::run(|| {
        let dir = std::env::temp_dir().join(format!("grove-fs-{}", std::process::id()));
        grove::fs::create_dir_all(&dir).unwrap();
        for i in 0..10 {
            grove::fs::write(dir.join(format!("f{i}")), vec![i as u8; 1000 + i]).unwrap();
        }
        let dir = Rc::new(dir);
        let hs: Vec<_> = (0..10_000usize)
            .map(|k| {
                let dir = dir.clone();
                grove::spawn(move || {
                    grove::sleep(Duration::from_millis((k % 7) as u64));
                    let i = k % 10;
                    let data = grove::fs::read(dir.join(format!("f{i}"))).unwrap();
                    assert_eq!(data.len(), 1000 + i);
                    assert!(data.iter().all(|&b| b == i as u8));
                    data.len()
                })
            })
            .collect();
        let total: usize = grove::joinall(hs).into_iter().map(Result::unwrap).sum();
        assert_eq!(total, (0..10_000usize).map(|k| 1000 + k % 10).sum::<usize>());

        let mut f = grove::fs::File::create(dir.join("w")).unwrap();
        f.write_all(b"hello file").unwrap();
        drop(f);
        let mut s = String::new();
        grove::fs::File::open(dir.join("w")).unwrap().read_to_string(&mut s).unwrap();
        assert_eq!(s, "hello file");
        assert_eq!(grove::fs::metadata(dir.join("w")).unwrap().len(), 10);
        std::fs::remove_dir_all(&*dir).unwrap();
    });
}
