//! Adversarial review of idle keep-alive connections giving their read/response buffers and
//! deep stack pages back (server.rs `idle_read`, body.rs buffer pool,
//! `grove::hub::release_unused_stack`).

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use grove::net::TcpStream;
use grove_http::{Body, Config, Request, Response, Server};

mod common;

/// Past the server's 50 ms linger.
const PAST_LINGER: Duration = Duration::from_millis(120);

/// Recursion that touches `depth` × 2+ KiB of stack and checks it on the way back up.
#[inline(never)]
fn deep(depth: u32) -> u64 {
    let mut a = [0u8; 2048];
    for (i, b) in a.iter_mut().enumerate() {
        *b = (i as u32 ^ depth) as u8;
    }
    let a = std::hint::black_box(a);
    let below = if depth == 0 { 0 } else { deep(depth - 1) };
    let a = std::hint::black_box(a);
    for (i, b) in a.iter().enumerate() {
        assert_eq!(*b, (i as u32 ^ depth) as u8);
    }
    below + a.iter().map(|&b| u64::from(b)).sum::<u64>()
}

/// Echo handler: `METHOD PATH BODY`; `/deep` recurses on the connection's stack first;
/// `/big` answers 200 KiB.
fn app(req: Request) -> Response {
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    if path == "/deep" {
        return Response::new(Body::from(format!("deep {}", deep(8))));
    }
    if path == "/big" {
        return Response::new(Body::from("z".repeat(200_000)));
    }
    let mut body = Vec::new();
    req.into_body().read_to_end(&mut body).unwrap();
    Response::new(Body::from(format!("{method} {path} {}", String::from_utf8_lossy(&body))))
}

fn with_server(config: Config, f: impl FnOnce(SocketAddr)) {
    common::with_server(config, app, f);
}

fn connect(addr: SocketAddr) -> TcpStream {
    let c = TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    c
}

/// Reads until `want` appeared (counting occurrences), failing on EOF or after 20 s.
fn read_until(c: &TcpStream, want: &str, times: usize) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 65536];
    let t0 = Instant::now();
    while String::from_utf8_lossy(&got).matches(want).count() < times {
        assert!(t0.elapsed() < Duration::from_secs(20), "no {want:?} in {:?}", lossy(&got));
        let n = (&*c).read(&mut buf).unwrap();
        assert!(n > 0, "closed before {want:?}: {:?}", lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&got).into_owned()
}

fn lossy(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(b);
    s.chars().take(300).collect()
}

/// Reads to EOF (or error); returns what came. Bounded by the 20 s read timeout.
fn read_to_close(c: &TcpStream) -> (Vec<u8>, Option<std::io::ErrorKind>) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match (&*c).read(&mut buf) {
            Ok(0) => return (got, None),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => return (got, Some(e.kind())),
        }
    }
}

/// Attack: after a first request the connection idles past the linger; the next request then
/// arrives one byte at a time with a pause past the linger before each byte (its first byte
/// wakes the buffer-less select wait), and a third request's head is split inside `\r\n`.
#[test]
fn request_split_at_every_byte_across_idle_waits() {
    with_server(Config::default(), |addr| {
        let c = connect(addr);
        (&c).write_all(b"GET /first HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        read_until(&c, "GET /first ", 1);
        grove::sleep(PAST_LINGER);
        let req = b"POST /bytes HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc";
        for &b in req.iter() {
            (&c).write_all(&[b]).unwrap();
            grove::sleep(Duration::from_millis(60));
        }
        read_until(&c, "POST /bytes abc", 1);
        grove::sleep(PAST_LINGER);
        (&c).write_all(b"GET /third HTTP/1.1\r\nHost: x\r").unwrap();
        grove::sleep(PAST_LINGER);
        (&c).write_all(b"\n\r").unwrap();
        grove::sleep(PAST_LINGER);
        (&c).write_all(b"\n").unwrap();
        read_until(&c, "GET /third ", 1);
    });
}

/// Attack: pipelined requests that land during the 50 ms linger, right at its end, and
/// after it, each time two or three at once with a body straddling the buffer size.
#[test]
fn pipelined_requests_around_the_linger() {
    with_server(Config::default(), |addr| {
        let c = connect(addr);
        let body = "q".repeat(9000); // larger than the 8 KiB buffer
        let pipelined = format!(
            "GET /p1 HTTP/1.1\r\nHost: x\r\n\r\nPOST /p2 HTTP/1.1\r\nHost: x\r\n\
             Content-Length: {}\r\n\r\n{body}GET /p3 HTTP/1.1\r\nHost: x\r\n\r\n",
            body.len()
        );
        for pause_ms in [0u64, 10, 45, 50, 55, 80, 200] {
            grove::sleep(Duration::from_millis(pause_ms));
            (&c).write_all(pipelined.as_bytes()).unwrap();
            let got = read_until(&c, "GET /p3 ", 1);
            assert!(got.contains("GET /p1 "), "pause {pause_ms}");
            assert!(got.contains(&format!("POST /p2 {body}")), "pause {pause_ms}");
        }
    });
}

/// Attack: the handler runs deep (tens of KiB of stack), the connection idles (its deep pages are
/// released), then runs deep again, many times over and on many connections at once.
#[test]
fn deep_handler_across_released_stack_pages() {
    let want = format!("deep {}", deep(8));
    with_server(Config::default(), |addr| {
        let conns: Vec<_> = (0..40).map(|_| connect(addr)).collect();
        for round in 0..3 {
            for c in &conns {
                (&*c).write_all(b"GET /deep HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
            }
            for c in &conns {
                read_until(c, &want, 1);
            }
            grove::sleep(PAST_LINGER);
            // Also a large response (its response buffer was dropped while idle).
            if round == 1 {
                for c in &conns {
                    (&*c).write_all(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
                    let got = read_until(c, &"z".repeat(200_000), 1);
                    assert!(got.starts_with("HTTP/1.1 200"));
                }
                grove::sleep(PAST_LINGER);
            }
        }
    });
}

/// Attack: TLS keep-alive connections idling past the linger keep working (they keep their
/// buffers); a second request and then a third after a longer pause.
#[test]
fn tls_connections_idle_past_the_linger_keep_working() {
    grove::run(|| {
        let (cfg, ck) = common::self_signed_localhost();
        let server = Server::bind("127.0.0.1:0").unwrap().with_tls(Arc::new(cfg));
        let port = server.local_addr().unwrap().port();
        let stop = server.shutdown_handle();
        let srv = grove::spawn(move || server.serve(app));
        let client_cfg = common::client_config_trusting(&ck);
        let client = grove_http::Client::new().with_tls_config(Arc::new(client_cfg));
        for (i, pause) in [0u64, 120, 300, 10].into_iter().enumerate() {
            grove::sleep(Duration::from_millis(pause));
            let r = client.post(&format!("https://localhost:{port}/t{i}"), "hi").unwrap();
            assert_eq!(r.body(), format!("POST /t{i} hi").as_bytes());
            let r = client.get(&format!("https://localhost:{port}/deep")).unwrap();
            assert!(r.body().starts_with(b"deep "));
        }
        assert_eq!(client.idle_connections(), 1, "the TLS connection was reused");
        stop.shutdown();
        srv.join_timeout(Duration::from_secs(20)).expect("server stops").unwrap();
    });
}

/// Attack: graceful shutdown while connections sit idle both in the linger (buffer held) and
/// past it (in the buffer-less select wait): the server returns promptly (well before the
/// 60 s idle timeout) and every client sees a clean close, not a reset.
#[test]
fn shutdown_closes_idle_connections_in_both_idle_phases() {
    grove::run(|| {
        let server = Server::bind("127.0.0.1:0").unwrap();
        let addr = server.local_addr().unwrap();
        let stop = server.shutdown_handle();
        let srv = grove::spawn(move || server.serve(app));
        let past: Vec<_> = (0..50).map(|_| connect(addr)).collect();
        for c in &past {
            (&*c).write_all(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
            read_until(c, "GET /a ", 1);
        }
        grove::sleep(PAST_LINGER);
        let lingering: Vec<_> = (0..50).map(|_| connect(addr)).collect();
        for c in &lingering {
            (&*c).write_all(b"GET /b HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
            read_until(c, "GET /b ", 1);
        }
        // `lingering` are within their 50 ms linger now (or very close).
        let t0 = Instant::now();
        stop.shutdown();
        srv.join_timeout(Duration::from_secs(20)).expect("server stops promptly").unwrap();
        assert!(t0.elapsed() < Duration::from_secs(20));
        for c in past.iter().chain(&lingering) {
            let (rest, err) = read_to_close(c);
            assert_eq!((lossy(&rest), err), (String::new(), None));
        }
    });
}

/// Attack: `idle_timeout` still closes a connection idle past the linger; also an
/// `idle_timeout` shorter than the linger, and zero.
#[test]
fn idle_timeout_still_enforced() {
    for idle in [Duration::from_millis(300), Duration::from_millis(20), Duration::ZERO] {
        let cfg = Config { idle_timeout: idle, ..Config::default() };
        with_server(cfg, |addr| {
            let c = connect(addr);
            (&c).write_all(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
            // (With a zero idle timeout the first request may already be refused.)
            let (got, err) = read_to_close(&c);
            assert_ne!(err, Some(std::io::ErrorKind::WouldBlock), "idle {idle:?}: never closed");
            assert_ne!(err, Some(std::io::ErrorKind::TimedOut), "idle {idle:?}: never closed");
            if idle > Duration::ZERO {
                assert!(lossy(&got).contains("GET /a "), "idle {idle:?}");
            }
        });
    }
}

/// Attack: slowloris after an idle wait: the first byte of a request comes past the linger,
/// then one byte every 100 ms forever; `head_timeout` must still cut it off (408 or close).
#[test]
fn slowloris_after_idle_still_cut_off() {
    let cfg = Config { head_timeout: Duration::from_millis(500), ..Config::default() };
    with_server(cfg, |addr| {
        let c = connect(addr);
        (&c).write_all(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        read_until(&c, "GET /a ", 1);
        grove::sleep(PAST_LINGER);
        let t0 = Instant::now();
        let writer = {
            let c = c.try_clone().unwrap();
            grove::spawn(move || {
                for &b in b"GET /slow HTTP/1.1\r\nX-Pad: ".iter().chain(std::iter::repeat(&b'a')) {
                    if (&c).write_all(&[b]).is_err() || t0.elapsed() > Duration::from_secs(20) {
                        return;
                    }
                    grove::sleep(Duration::from_millis(100));
                }
            })
        };
        let (got, err) = read_to_close(&c);
        assert!(t0.elapsed() < Duration::from_secs(20), "slowloris never cut off");
        assert!(err.is_none() || err == Some(std::io::ErrorKind::ConnectionReset), "{err:?}");
        let s = lossy(&got);
        assert!(s.is_empty() || s.starts_with("HTTP/1.1 408"), "{s}");
        writer.join().unwrap();
    });
}

/// Attack: 700 connections (well past the 256 pooled buffers) go idle past the linger, then
/// all send at once, go idle again, and send again: every one is answered each time.
#[test]
fn many_connections_past_the_buffer_pool() {
    with_server(Config::default(), |addr| {
        let conns: Vec<_> = (0..700).map(|_| connect(addr)).collect();
        for round in 0..3 {
            grove::sleep(PAST_LINGER);
            for (i, c) in conns.iter().enumerate() {
                let req =
                    format!("POST /r{round}c{i} HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nk");
                (&*c).write_all(req.as_bytes()).unwrap();
            }
            for (i, c) in conns.iter().enumerate() {
                read_until(c, &format!("POST /r{round}c{i} k"), 1);
            }
        }
    });
}

/// Attack: a client that half-closes while idle (past the linger) gets a clean close; one
/// that sends a full request and half-closes in the same breath (both arrive during the idle
/// wait) still gets its answer before the close.
#[test]
fn half_close_while_idle() {
    with_server(Config::default(), |addr| {
        let c = connect(addr);
        (&c).write_all(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        read_until(&c, "GET /a ", 1);
        grove::sleep(PAST_LINGER);
        c.shutdown(std::net::Shutdown::Write).unwrap();
        let (rest, err) = read_to_close(&c);
        assert_eq!((rest.len(), err), (0, None));

        let d = connect(addr);
        (&d).write_all(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        read_until(&d, "GET /a ", 1);
        grove::sleep(PAST_LINGER);
        (&d).write_all(b"GET /last HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        d.shutdown(std::net::Shutdown::Write).unwrap();
        let (rest, err) = read_to_close(&d);
        assert_eq!(err, None);
        assert!(lossy(&rest).contains("GET /last "), "{}", lossy(&rest));
    });
}

fn reset(c: TcpStream) {
    let lg = libc::linger { l_onoff: 1, l_linger: 0 };
    // SAFETY: setsockopt on an open socket with a valid linger struct.
    unsafe {
        libc::setsockopt(
            c.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&lg as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
    drop(c); // RST
}

/// Attack: with `max_connections: 3`, three clients go idle past the linger and then reset
/// their connections; the permits must come back (new connections are served), and a
/// fourth client waits while three idle connections hold the permits.
#[test]
fn max_connections_with_idle_and_reset_connections() {
    let cfg = Config { max_connections: Some(3), ..Config::default() };
    with_server(cfg, |addr| {
        for round in 0..3 {
            let conns: Vec<_> = (0..3).map(|_| connect(addr)).collect();
            for c in &conns {
                (&*c).write_all(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
                read_until(c, "GET /a ", 1);
            }
            grove::sleep(PAST_LINGER);
            // A fourth is accepted by the kernel but not served while the three are idle.
            let fourth = connect(addr);
            (&fourth).write_all(b"GET /fourth HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
            fourth.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
            let mut buf = [0u8; 64];
            let early = (&fourth).read(&mut buf);
            assert!(early.is_err(), "round {round}: served past max_connections: {early:?}");
            fourth.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
            for c in conns {
                reset(c);
            }
            read_until(&fourth, "GET /fourth ", 1);
            drop(fourth);
        }
        // After resets, the server is still fully usable.
        let conns: Vec<_> = (0..3).map(|_| connect(addr)).collect();
        for c in &conns {
            (&*c).write_all(b"GET /z HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
            read_until(c, "GET /z ", 1);
        }
    });
}

/// Attack: a head that grows the read buffer to near the limit, then idle past the linger
/// (the grown buffer is not the pool's size), then normal requests and another huge head.
#[test]
fn grown_buffer_then_idle_then_more_requests() {
    with_server(Config::default(), |addr| {
        let c = connect(addr);
        let pad = "h".repeat(60_000);
        let req = format!("GET /grown HTTP/1.1\r\nHost: x\r\nX-Pad: {pad}\r\n\r\n");
        for _ in 0..3 {
            (&c).write_all(req.as_bytes()).unwrap();
            read_until(&c, "GET /grown ", 1);
            grove::sleep(PAST_LINGER);
            (&c).write_all(b"GET /small HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
            read_until(&c, "GET /small ", 1);
            grove::sleep(PAST_LINGER);
        }
    });
}

/// Attack: HTTP/1.0 keep-alive and a request with `Connection: close` after an idle wait.
#[test]
fn http10_keep_alive_and_close_after_idle() {
    with_server(Config::default(), |addr| {
        let c = connect(addr);
        (&c).write_all(b"GET /one HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").unwrap();
        read_until(&c, "GET /one ", 1);
        grove::sleep(PAST_LINGER);
        (&c).write_all(b"GET /two HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").unwrap();
        read_until(&c, "GET /two ", 1);
        grove::sleep(PAST_LINGER);
        (&c).write_all(b"GET /three HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
        let (got, err) = read_to_close(&c);
        assert_eq!(err, None);
        assert!(lossy(&got).contains("GET /three "));
    });
}

/// Attack: two servers on one hub share the thread's buffer pool; one is shut down while its
/// connections are idle and buffer-less, the other keeps serving its idle connections.
#[test]
fn two_servers_share_the_pool_and_one_stops() {
    grove::run(|| {
        let mut addrs = Vec::new();
        let mut stops = Vec::new();
        let mut srvs = Vec::new();
        for _ in 0..2 {
            let server = Server::bind("127.0.0.1:0").unwrap();
            addrs.push(server.local_addr().unwrap());
            stops.push(server.shutdown_handle());
            srvs.push(grove::spawn(move || server.serve(app)));
        }
        let conns: Vec<Vec<_>> =
            addrs.iter().map(|&a| (0..300).map(|_| connect(a)).collect()).collect();
        for cs in &conns {
            for c in cs {
                (&*c).write_all(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
            }
            for c in cs {
                read_until(c, "GET /a ", 1);
            }
        }
        grove::sleep(PAST_LINGER);
        stops[0].shutdown();
        let first = srvs.remove(0);
        first.join_timeout(Duration::from_secs(20)).expect("first server stops").unwrap();
        for c in &conns[0] {
            assert_eq!(read_to_close(c).1, None);
        }
        let shared = Rc::new(());
        for (i, c) in conns[1].iter().enumerate() {
            let _s = shared.clone();
            let req = format!("GET /still{i} HTTP/1.1\r\nHost: x\r\n\r\n");
            (&*c).write_all(req.as_bytes()).unwrap();
            read_until(c, &format!("GET /still{i} "), 1);
        }
        stops[1].shutdown();
        srvs.remove(0).join_timeout(Duration::from_secs(20)).expect("second stops").unwrap();
    });
}

/// Attack (cost): connection-per-request clients (`Connection: close`, the common
/// non-keep-alive case). Every fresh connection goes through `idle_read`'s buffer-less path:
/// run under `strace -f -e trace=madvise,poll` to see one `madvise` + one `poll` per
/// connection, though a fresh connection has neither a buffer nor deep stack pages to give.
#[test]
fn connection_per_request_clients() {
    with_server(Config::default(), |addr| {
        for i in 0..500 {
            let c = connect(addr);
            let req = format!("GET /c{i} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            (&c).write_all(req.as_bytes()).unwrap();
            let (got, err) = read_to_close(&c);
            assert_eq!(err, None);
            assert!(lossy(&got).contains(&format!("GET /c{i} ")));
        }
    });
}
