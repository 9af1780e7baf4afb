//! Faults at the HTTP server: peers that reset mid-request, half-close, run the process out of
//! fds, or vanish during the TLS handshake. Each time the server must keep serving the others,
//! release what the faulty connection held, and recover.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use grove_http::{Body, Config, Request, Response, Server};

mod common;

fn app(req: Request) -> Response {
    let path = req.uri().path().to_string();
    let mut body = Vec::new();
    match req.into_body().read_to_end(&mut body) {
        Ok(_) => Response::new(Body::from(format!("{path} {}", body.len()))),
        Err(e) => Response::new(Body::from(format!("{path} error {e}"))),
    }
}

/// A plain blocking client (runs on a pool thread): sends `req`, reads until the server closes.
fn exchange(addr: SocketAddr, req: &[u8]) -> String {
    let mut c = TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    c.write_all(req).unwrap();
    let mut out = Vec::new();
    let _ = c.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

fn off_hub<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    grove::thread_pool::spawn_blocking(f).unwrap()
}

/// Waits (liveness bound only) until this hub is back to `alive` greenlets.
fn settles_to(alive: usize) {
    let t = Instant::now();
    while grove::stats().alive > alive {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "connections never released: {:?}",
            grove::stats()
        );
        grove::sleep(Duration::from_millis(5));
    }
}

#[test]
fn resets_mid_request_and_half_closes_leave_the_server_serving() {
    grove::run(|| {
        let server = Server::bind("127.0.0.1:0").unwrap();
        let addr = server.local_addr().unwrap();
        let stop = server.shutdown_handle();
        let srv = grove::spawn(move || server.serve(app));
        grove::sleep(Duration::from_millis(10));
        let base = grove::stats().alive;

        // Peers that reset (RST, via SO_LINGER 0) in every phase of a request.
        let partials: [&[u8]; 5] = [
            b"GET /a HTTP/1.1\r\nHost: t\r\nHost: x",
            b"POST /b HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\nonly some",
            b"POST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
            b"GET /d HTTP/1.1\r\nHost: t\r\n\r\nGET /e HTTP/1.1\r\nHost: t\r\n",
            b"",
        ];
        off_hub(move || {
            for p in partials {
                for _ in 0..20 {
                    let mut c = TcpStream::connect(addr).unwrap();
                    c.write_all(p).unwrap();
                    socket2::SockRef::from(&c).set_linger(Some(Duration::ZERO)).unwrap();
                    drop(c);
                }
            }
        });
        settles_to(base);

        // Half-close: the request, then FIN; the answers still arrive, in order.
        let out = off_hub(move || {
            let mut c = TcpStream::connect(addr).unwrap();
            c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
            c.write_all(b"GET /x HTTP/1.1\r\nHost: t\r\n\r\nPOST /y HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc")
                .unwrap();
            c.shutdown(Shutdown::Write).unwrap();
            let mut out = String::new();
            c.read_to_string(&mut out).unwrap();
            out
        });
        assert_eq!(out.matches("HTTP/1.1 200").count(), 2, "{out}");
        assert!(out.contains("/x 0") && out.contains("/y 3"), "{out}");
        assert!(out.find("/x 0") < out.find("/y 3"));

        // And a fresh client is served normally.
        let out = off_hub(move || {
            exchange(addr, b"GET /after HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        });
        assert!(out.starts_with("HTTP/1.1 200") && out.ends_with("/after 0"), "{out}");
        settles_to(base);
        stop.shutdown();
        srv.join().unwrap().unwrap();
    });
}

#[test]
fn tls_peers_vanishing_mid_handshake_leave_https_serving() {
    grove::run(|| {
        let (cfg, ck) = common::self_signed_localhost();
        let config = Config { head_timeout: Duration::from_millis(300), ..Config::default() };
        let server =
            Server::bind("127.0.0.1:0").unwrap().with_config(config).with_tls(Arc::new(cfg));
        let addr = server.local_addr().unwrap();
        let stop = server.shutdown_handle();
        let srv = grove::spawn(move || server.serve(app));
        grove::sleep(Duration::from_millis(10));
        let base = grove::stats().alive;

        // The start of a real ClientHello (record header + handshake header), then gone:
        // by reset, by FIN, or by silence (the handshake timeout ends that one).
        let hello_start: &[u8] = &[0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03];
        let silent = off_hub(move || {
            for i in 0..30 {
                let mut c = TcpStream::connect(addr).unwrap();
                c.write_all(hello_start).unwrap();
                if i % 2 == 0 {
                    socket2::SockRef::from(&c).set_linger(Some(Duration::ZERO)).unwrap();
                }
            }
            let c = TcpStream::connect(addr).unwrap();
            (&c).write_all(hello_start).unwrap();
            c
        });
        // The silent peer is dropped by the server's handshake timeout.
        settles_to(base);
        drop(silent);

        // A real client still gets through.
        let client_cfg = common::client_config_trusting(&ck);
        let tcp = grove::net::TcpStream::connect(addr).unwrap();
        let mut tls = grove::tls::connect(
            Arc::new(client_cfg),
            "localhost",
            tcp,
            Some(Duration::from_secs(10)),
        )
        .unwrap();
        tls.write_all(b"GET /secure HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").unwrap();
        let mut out = Vec::new();
        let _ = tls.read_to_end(&mut out);
        let out = String::from_utf8_lossy(&out);
        assert!(out.starts_with("HTTP/1.1 200") && out.ends_with("/secure 0"), "{out}");
        stop.shutdown();
        srv.join().unwrap().unwrap();
    });
}

/// The process runs out of fds while clients wait in the listen backlog: accept fails with
/// EMFILE (logged, backed off), the accepted connections are served, and as they close the
/// rest are accepted and served too. In a child process: it lowers RLIMIT_NOFILE.
#[test]
fn emfile_pauses_accepting_and_every_client_is_served_after() {
    const CHILD: &str = "GROVE_HTTP_EMFILE_CHILD";
    if std::env::var_os(CHILD).is_some() {
        grove::run(|| {
            let server = Server::bind("127.0.0.1:0").unwrap();
            let addr = server.local_addr().unwrap();
            let stop = server.shutdown_handle();
            // Forty clients connect before the server accepts anything: they wait in the
            // backlog. Then only five more fds are allowed.
            let clients: Vec<TcpStream> =
                (0..40).map(|_| TcpStream::connect(addr).unwrap()).collect();
            let open = std::fs::read_dir("/proc/self/fd").unwrap().count() as u64;
            let lim = libc::rlimit { rlim_cur: open + 5, rlim_max: open + 5 };
            // SAFETY: setrlimit reads a valid, initialised struct.
            assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) }, 0);
            let srv = grove::spawn(move || server.serve(app));
            let served = off_hub(move || {
                let mut served = 0;
                for mut c in clients {
                    c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
                    c.write_all(b"GET /n HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
                        .unwrap();
                    let mut out = String::new();
                    let _ = c.read_to_string(&mut out);
                    served += usize::from(out.starts_with("HTTP/1.1 200") && out.ends_with("/n 0"));
                }
                served
            });
            println!("SERVED {served}");
            stop.shutdown();
            srv.join().unwrap().unwrap();
        });
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new(exe)
        .args([
            "emfile_pauses_accepting_and_every_client_is_served_after",
            "--exact",
            "--nocapture",
        ])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let (stdout, stderr) =
        (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("SERVED 40"), "{stdout}");
    assert!(stderr.contains("accept failed") && stderr.contains("os error 24"), "{stderr}");
}
