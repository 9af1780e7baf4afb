//! TCP: echo under concurrency, half-close, reset, timeouts, refused connects, EMFILE, IPv6.

mod util;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::rc::Rc;
use std::time::{Duration, Instant};

use grove::net::{TcpListener, TcpStream};

/// Starts an echo server on 127.0.0.1; returns its address and a handle that stops it.
fn echo_server() -> (SocketAddr, grove::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let h = grove::spawn(move || loop {
        let Ok((s, _)) = l.accept() else { continue };
        grove::spawn(move || {
            let mut buf = [0u8; 4096];
            loop {
                match (&s).read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if (&s).write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                }
            }
        });
    });
    (addr, h)
}

#[test]
fn echo_with_1000_concurrent_clients_on_one_hub() {
    grove::run(|| {
        let (addr, server) = echo_server();
        let clients: Vec<_> = (0..1000u32)
            .map(|i| {
                grove::spawn(move || {
                    let mut c = TcpStream::connect(addr).unwrap();
                    c.set_nodelay(true).unwrap();
                    let mut total = 0u64;
                    for round in 0..5u32 {
                        let msg = format!("client {i} round {round}\n");
                        c.write_all(msg.as_bytes()).unwrap();
                        let mut back = vec![0; msg.len()];
                        c.read_exact(&mut back).unwrap();
                        assert_eq!(back, msg.as_bytes());
                        total += back.len() as u64;
                    }
                    total
                })
            })
            .collect();
        let total: u64 = grove::joinall(clients).into_iter().map(Result::unwrap).sum();
        let expected: u64 = (0..1000u32)
            .flat_map(|i| (0..5u32).map(move |r| format!("client {i} round {r}\n").len() as u64))
            .sum();
        assert_eq!(total, expected);
        server.kill().unwrap();
    });
}

#[test]
fn half_close_and_reset() {
    grove::run(|| {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let server = grove::spawn(move || {
            // Read until the client half-closes, then answer and close.
            let (s, _) = l.accept().unwrap();
            let mut got = Vec::new();
            (&s).read_to_end(&mut got).unwrap();
            (&s).write_all(format!("got {} bytes", got.len()).as_bytes()).unwrap();
            drop(s);
            // Second connection: reset by the client mid-read.
            let (s2, _) = l.accept().unwrap();
            let mut buf = [0; 16];
            let r = (&s2).read(&mut buf);
            matches!(r, Ok(0) | Err(_))
        });
        let mut c = TcpStream::connect(addr).unwrap();
        c.write_all(b"12345").unwrap();
        c.shutdown(Shutdown::Write).unwrap();
        let mut reply = String::new();
        c.read_to_string(&mut reply).unwrap();
        assert_eq!(reply, "got 5 bytes");

        // Reset: SO_LINGER 0 then close sends RST.
        let c2 = TcpStream::connect(addr).unwrap();
        let std = c2.into_std().unwrap();
        socket2::SockRef::from(&std).set_linger(Some(Duration::ZERO)).unwrap();
        drop(std);
        assert!(server.join().unwrap(), "server saw EOF or a reset error, and did not hang");
    });
}

#[test]
fn read_and_write_timeouts() {
    grove::run(|| {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let server = grove::spawn(move || {
            let (s, _) = l.accept().unwrap();
            grove::sleep(Duration::from_millis(300));
            drop(s);
        });
        let c = TcpStream::connect(addr).unwrap();
        c.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
        let t = Instant::now();
        let err = (&c).read(&mut [0; 8]).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
        assert!(t.elapsed() >= Duration::from_millis(20));
        assert!(c.set_read_timeout(Some(Duration::ZERO)).is_err(), "std rejects zero");

        // Write timeout: fill the socket buffers while the peer does not read.
        c.set_write_timeout(Some(Duration::from_millis(20))).unwrap();
        let chunk = vec![7u8; 1 << 16];
        let err = loop {
            if let Err(e) = (&c).write(&chunk) {
                break e;
            }
        };
        assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
        server.kill().unwrap();
    });
}

#[test]
fn deadline_scope_interrupts_reads() {
    grove::run(|| {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let c = TcpStream::connect(addr).unwrap();
        let (_s, _) = l.accept().unwrap();
        let r = grove::timeout(Duration::from_millis(15), || (&c).read(&mut [0; 4]));
        assert!(r.is_err());
        // The same socket works afterwards.
        let r = grove::timeout(Duration::from_millis(15), || {
            let accept = grove::timeout(Duration::from_millis(5), || l.accept());
            accept.is_err()
        });
        assert_eq!(r, Ok(true));
    });
}

#[test]
fn connect_to_a_closed_port_is_refused() {
    grove::run(|| {
        // Bind then drop to get a port nothing listens on.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let err = TcpStream::connect(port).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
    });
}

#[test]
fn ipv6_loopback() {
    grove::run(|| {
        let Ok(l) = TcpListener::bind("[::1]:0") else {
            eprintln!("no IPv6 loopback on this machine; skipping");
            return;
        };
        let addr = l.local_addr().unwrap();
        assert!(addr.is_ipv6());
        let h = grove::spawn(move || {
            let (s, peer) = l.accept().unwrap();
            assert!(peer.is_ipv6());
            (&s).write_all(b"v6").unwrap();
        });
        let mut c = TcpStream::connect(addr).unwrap();
        let mut b = [0; 2];
        c.read_exact(&mut b).unwrap();
        assert_eq!(&b, b"v6");
        h.join().unwrap();
    });
}

#[test]
fn one_greenlet_reads_while_another_writes_the_same_socket() {
    grove::run(|| {
        let (addr, server) = echo_server();
        let c = TcpStream::connect(addr).unwrap();
        let writer_half = c.try_clone().unwrap();
        let writer = grove::spawn(move || {
            for i in 0..200u32 {
                (&writer_half).write_all(&i.to_le_bytes()).unwrap();
                if i % 10 == 0 {
                    grove::yield_now();
                }
            }
        });
        let mut got = Vec::new();
        let mut r = BufReader::new(&c);
        while got.len() < 800 {
            let buf = r.fill_buf().unwrap();
            let n = buf.len();
            got.extend_from_slice(buf);
            r.consume(n);
        }
        writer.join().unwrap();
        let nums: Vec<u32> =
            got.chunks(4).map(|b| u32::from_le_bytes(b.try_into().unwrap())).collect();
        assert_eq!(nums, (0..200).collect::<Vec<_>>());
        server.kill().unwrap();
    });
}

#[test]
fn std_conversions_round_trip() {
    grove::run(|| {
        let std_l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = std_l.local_addr().unwrap();
        let l = TcpListener::from_std(std_l).unwrap();
        let h = grove::spawn(move || {
            let (s, _) = l.accept().unwrap();
            let mut std_s = s.into_std().unwrap(); // blocking again
            std_s.write_all(b"ok").unwrap();
        });
        let c = TcpStream::from_std(std::net::TcpStream::connect(addr).unwrap()).unwrap();
        let shared = c.try_clone().unwrap();
        assert!(c.into_std().is_err(), "still shared");
        let mut b = [0; 2];
        (&shared).read_exact(&mut b).unwrap();
        assert_eq!(&b, b"ok");
        h.join().unwrap();
    });
}

#[test]
fn emfile_on_accept_survives_and_recovers() {
    if util::child_scenario().as_deref() == Some("emfile") {
        grove::run(|| {
            let l = Rc::new(TcpListener::bind("127.0.0.1:0").unwrap());
            let addr = l.local_addr().unwrap();
            // Connect 40 clients first: they complete in the listen backlog without an accept.
            let clients: Vec<std::net::TcpStream> =
                (0..40).map(|_| std::net::TcpStream::connect(addr).unwrap()).collect();
            // Then leave room for only 5 more fds, so accept is the one that runs out.
            let open = std::fs::read_dir("/proc/self/fd").unwrap().count() as u64;
            let lim = libc::rlimit { rlim_cur: open + 5, rlim_max: open + 5 };
            // SAFETY: setrlimit reads a valid struct.
            assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) }, 0);
            let mut held = Vec::new();
            let err = loop {
                match grove::timeout(Duration::from_secs(5), || l.accept()) {
                    Ok(Ok((s, _))) => held.push(s),
                    Ok(Err(e)) => break e,
                    Err(_) => panic!("accept neither succeeded nor failed"),
                }
            };
            println!("ACCEPT_ERROR {:?} after {}", err.raw_os_error(), held.len());
            assert_eq!(err.raw_os_error(), Some(libc::EMFILE));
            // Free fds; the pending connections are then accepted again.
            held.clear();
            let (s, _) = l.accept().unwrap();
            drop(s);
            drop(clients);
            println!("RECOVERED");
        });
        return;
    }
    let out = util::run_child("emfile_on_accept_survives_and_recovers", "emfile");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("ACCEPT_ERROR Some(24)"), "{stdout}");
    assert!(stdout.contains("RECOVERED"), "{stdout}");
}

#[test]
fn a_line_protocol_over_bufreader_works_unchanged() {
    grove::run(|| {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let srv = grove::spawn(move || {
            let (s, _) = l.accept().unwrap();
            let r = BufReader::new(&s);
            let mut w = &s;
            for line in r.lines() {
                let line = line.unwrap();
                if line == "quit" {
                    break;
                }
                writeln!(w, "{}", line.len()).unwrap();
            }
        });
        let c = TcpStream::connect(addr).unwrap();
        let mut r = BufReader::new(&c);
        for word in ["a", "hello", "grove"] {
            writeln!(&c, "{word}").unwrap();
            let mut n = String::new();
            r.read_line(&mut n).unwrap();
            assert_eq!(n.trim().parse::<usize>().unwrap(), word.len());
        }
        writeln!(&c, "quit").unwrap();
        srv.join().unwrap();
    });
}

/// Regression: data and FIN arriving together. A short read drains the data; the EOF must
/// still be seen (the readiness edge for it was already consumed).
#[test]
fn read_to_end_sees_eof_that_arrived_with_the_data() {
    grove::run(|| {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        for size in [1usize, 100, 5000, 300_000] {
            let server = grove::spawn(move || {
                let c = std::net::TcpStream::connect(addr).unwrap();
                let mut c = c;
                c.write_all(&vec![b'x'; size]).unwrap();
                // Closing right after writing: FIN follows the data immediately.
            });
            let (s, _) = l.accept().unwrap();
            server.join().unwrap();
            // Let the data and the FIN both arrive (and their events be processed) first.
            grove::sleep(Duration::from_millis(20));
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let mut got = Vec::new();
            (&s).read_to_end(&mut got).unwrap();
            assert_eq!(got.len(), size);
        }
    });
}

/// Security review 16.11: the listen backlog is what the docs say, not std's/mio's 128
/// (checked with `ss`, which reports a listener's backlog as its Send-Q; skipped without it).
#[test]
fn listeners_use_the_documented_backlog() {
    let Ok(out) = std::process::Command::new("ss").arg("-V").output() else {
        eprintln!("skipped: no `ss` on this machine");
        return;
    };
    assert!(out.status.success());
    grove::run(|| {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let l2 = TcpListener::bind_with_backlog("127.0.0.1:0", 300).unwrap();
        for (l, want) in [(&l, grove::net::DEFAULT_BACKLOG), (&l2, 300)] {
            let port = l.local_addr().unwrap().port();
            let out = std::process::Command::new("ss")
                .args(["-ltnH", &format!("sport = :{port}")])
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout);
            // State Recv-Q Send-Q Local Peer: Send-Q is the backlog (capped by somaxconn).
            let send_q: u32 = text.split_whitespace().nth(2).unwrap().parse().unwrap();
            let somaxconn: u32 = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
                .map_or(want, |s| s.trim().parse().unwrap_or(want));
            assert_eq!(send_q, want.min(somaxconn), "{text}");
        }
    });
}
