//! The server against real clients (curl, python3) and hostile input; the client against the
//! server and against python3's http.server.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::process::Command;
use std::rc::Rc;
use std::time::{Duration, Instant};

mod common;

use grove_http::{Body, Client, Config, Request, Response, Server};

/// The handler used by most tests: echoes method, path and body; `/slow` sleeps; `/stream`
/// streams chunks; `/panic` panics.
fn app(req: Request) -> Response {
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    match path.as_str() {
        "/slow" => {
            grove::sleep(Duration::from_millis(300));
            Response::new("slow done".into())
        }
        "/stream" => {
            let parts: Vec<&'static [u8]> = vec![b"alpha,", b"beta,", b"gamma"];
            Response::new(Body::stream(std::io::Cursor::new(parts.concat())))
        }
        "/panic" => panic!("handler bug"),
        "/peer" => {
            let p = grove_http::peer_addr().expect("peer known in a handler");
            assert!(p.ip().is_loopback());
            Response::new("loopback peer".into())
        }
        _ => {
            let mut body = Vec::new();
            req.into_body().read_to_end(&mut body).unwrap();
            Response::new(Body::from(format!("{method} {path} {}", String::from_utf8_lossy(&body))))
        }
    }
}

fn with_server(config: Config, f: impl FnOnce(SocketAddr)) {
    common::with_server(config, app, f);
}

/// Runs a command on a pool thread (the hub keeps serving meanwhile) and returns stdout.
fn run(cmd: &str, args: &[&str]) -> String {
    let (cmd, args): (String, Vec<String>) =
        (cmd.into(), args.iter().map(|s| s.to_string()).collect());
    let out = grove::thread_pool::spawn_blocking(move || Command::new(cmd).args(args).output())
        .unwrap()
        .expect("command runs");
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Sends raw bytes on a fresh connection and reads until the server closes it.
fn raw(addr: SocketAddr, bytes: &[u8]) -> String {
    let mut c = grove::net::TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c.write_all(bytes).unwrap();
    let mut out = Vec::new();
    let _ = c.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn curl_keep_alive_chunked_upload_and_http10() {
    with_server(Config::default(), |addr| {
        // Two URLs on one curl command reuse the connection.
        let out =
            run("curl", &["-sS", "-v", &format!("http://{addr}/a"), &format!("http://{addr}/b")]);
        assert_eq!(out, "GET /a GET /b ");
        // Chunked upload.
        let out = run(
            "curl",
            &[
                "-sS",
                "-H",
                "Transfer-Encoding: chunked",
                "--data-binary",
                "hello chunks",
                &format!("http://{addr}/up"),
            ],
        );
        assert_eq!(out, "POST /up hello chunks");
        // HTTP/1.0, and a streamed response to it (close-delimited).
        assert_eq!(run("curl", &["-sS", "--http1.0", &format!("http://{addr}/old")]), "GET /old ");
        assert_eq!(
            run("curl", &["-sS", "--http1.0", &format!("http://{addr}/stream")]),
            "alpha,beta,gamma"
        );
        // Streamed (chunked) response over 1.1; HEAD has no body.
        assert_eq!(run("curl", &["-sS", &format!("http://{addr}/stream")]), "alpha,beta,gamma");
        let head = run("curl", &["-sS", "-I", &format!("http://{addr}/x")]);
        assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
        assert!(head.to_lowercase().contains("content-length: 8"), "length of 'HEAD /x ': {head}");
        assert!(head.to_lowercase().contains("date: "), "{head}");
        // Expect: 100-continue (curl sends it for bodies over 1 KiB).
        let big = "x".repeat(5000);
        let out = run(
            "curl",
            &[
                "-sS",
                "-H",
                "Expect: 100-continue",
                "--data-binary",
                &big,
                &format!("http://{addr}/e"),
            ],
        );
        assert_eq!(out.len(), "POST /e ".len() + 5000);
    });
}

#[test]
fn curl_reuses_the_connection() {
    with_server(Config::default(), |addr| {
        let cmd = format!(
            "curl -sS -v http://{addr}/1 http://{addr}/2 http://{addr}/3 2>&1 >/dev/null | grep -c -i 're-\\?using'"
        );
        let out = grove::thread_pool::spawn_blocking(move || {
            Command::new("sh").args(["-c", &cmd]).output().unwrap()
        })
        .unwrap();
        let n: u32 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap_or(0);
        assert!(n >= 2, "curl reused the connection for requests 2 and 3 ({n})");
    });
}

#[test]
fn python_http_client_and_urllib() {
    with_server(Config::default(), |addr| {
        let script = format!(
            r#"
import http.client, urllib.request
c = http.client.HTTPConnection("{ip}", {port})
for i in range(3):
    c.request("POST", "/py/%d" % i, body=b"x" * i)
    r = c.getresponse()
    assert r.status == 200, r.status
    print(r.read().decode())
c.close()
print(urllib.request.urlopen("http://{ip}:{port}/url").read().decode())
"#,
            ip = addr.ip(),
            port = addr.port()
        );
        let out = run("python3", &["-c", &script]);
        assert_eq!(out, "POST /py/0 \nPOST /py/1 x\nPOST /py/2 xx\nGET /url \n");
    });
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    with_server(Config::default(), |addr| {
        let reqs = "GET /1 HTTP/1.1\r\nHost: x\r\n\r\n\
                    POST /2 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc\
                    GET /3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        let out = raw(addr, reqs.as_bytes());
        let bodies: Vec<&str> =
            out.split("\r\n\r\n").skip(1).map(|s| s.split("HTTP/1.1").next().unwrap()).collect();
        assert_eq!(bodies, ["GET /1 ", "POST /2 abc", "GET /3 "], "{out}");
        assert_eq!(out.matches("HTTP/1.1 200 OK").count(), 3);
    });
}

#[test]
fn malformed_and_oversized_requests_get_4xx_and_others_are_served() {
    let config =
        Config { max_headers: 10, max_head_bytes: 4096, max_body_bytes: 100, ..Config::default() };
    with_server(config, |addr| {
        let cases: &[(&str, String)] = &[
            ("400", "GARBAGE\r\n\r\n".into()),
            ("400", "GET / HTTP/1.1\r\nHost: t\r\nBad Header\r\n\r\n".into()),
            ("431", format!("GET / HTTP/1.1\r\nHost: t\r\n{}\r\n", "X-A: b\r\n".repeat(20))),
            ("431", format!("GET / HTTP/1.1\r\nHost: t\r\nX-Big: {}\r\n\r\n", "a".repeat(5000))),
            ("413", "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n".into()),
            (
                "400",
                "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n".into(),
            ),
            ("400", "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd".into()),
            ("400", "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n".into()),
            ("400", "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, identity\r\n\r\n".into()),
            ("501", "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n".into()),
        ];
        for (code, req) in cases {
            let out = raw(addr, req.as_bytes());
            let shown: String = req.chars().take(80).collect();
            assert!(out.starts_with(&format!("HTTP/1.1 {code}")), "{shown:?}... -> {out:?}");
        }
        // A bad chunked body: the handler's read fails; the connection closes, server lives.
        let out =
            raw(addr, b"POST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n");
        assert!(!out.contains("200 OK") || out.contains("500"), "{out}");
        // A panicking handler gets a 500; the server goes on.
        let out = raw(addr, b"GET /panic HTTP/1.1\r\nHost: t\r\n\r\n");
        assert!(out.starts_with("HTTP/1.1 500"), "{out}");
        let ok = Client::new().get(&format!("http://{addr}/still-alive")).unwrap();
        assert_eq!(ok.body(), b"GET /still-alive ");
    });
}

#[test]
fn slow_clients_are_timed_out() {
    let config = Config {
        head_timeout: Duration::from_millis(200),
        idle_timeout: Duration::from_millis(200),
        ..Config::default()
    };
    with_server(config, |addr| {
        // Slowloris: one byte at a time, never finishing the head.
        let c = grove::net::TcpStream::connect(addr).unwrap();
        let t = Instant::now();
        let mut closed_or_408 = false;
        for b in b"GET / HTTP/1.1\r\nHost: t\r\nX: ".iter().cycle().take(40) {
            if (&c).write_all(&[*b]).is_err() {
                closed_or_408 = true;
                break;
            }
            grove::sleep(Duration::from_millis(20));
        }
        let mut out = String::new();
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let _ = (&c).read_to_string(&mut out);
        closed_or_408 |= out.starts_with("HTTP/1.1 408");
        assert!(closed_or_408, "{out:?}");
        assert!(t.elapsed() < Duration::from_secs(5));
        // An idle keep-alive connection is closed after idle_timeout.
        let mut idle = grove::net::TcpStream::connect(addr).unwrap();
        idle.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = [0u8; 1];
        assert_eq!(idle.read(&mut buf).unwrap(), 0, "server closed the idle connection");
    });
}

#[test]
fn graceful_shutdown_loses_no_in_flight_response() {
    grove::run(|| {
        let server = Server::bind("127.0.0.1:0").unwrap();
        let addr = server.local_addr().unwrap();
        let stop = server.shutdown_handle();
        let srv = grove::spawn(move || server.serve(app));
        // An idle keep-alive connection, and three slow requests in flight.
        let idle = grove::net::TcpStream::connect(addr).unwrap();
        let inflight: Vec<_> = (0..3)
            .map(|_| grove::spawn(move || Client::new().get(&format!("http://{addr}/slow"))))
            .collect();
        grove::sleep(Duration::from_millis(50));
        let t = Instant::now();
        stop.shutdown();
        for r in grove::joinall(inflight) {
            assert_eq!(r.unwrap().unwrap().body(), b"slow done");
        }
        srv.join().unwrap().unwrap();
        assert!(t.elapsed() < Duration::from_secs(5));
        // New connections are refused now; the idle one was closed.
        assert!(grove::net::TcpStream::connect(addr).is_err());
        let mut b = [0u8; 1];
        assert_eq!((&idle).read(&mut b).unwrap_or(0), 0);
    });
}

#[test]
fn connection_limit_is_enforced() {
    let config = Config { max_connections: Some(2), ..Config::default() };
    with_server(config, |addr| {
        let active = Rc::new(std::cell::Cell::new(0));
        let hs: Vec<_> = (0..6)
            .map(|_| {
                let a = active.clone();
                grove::spawn(move || {
                    a.set(a.get() + 1);
                    let r = Client::new().get(&format!("http://{addr}/slow")).unwrap();
                    a.set(a.get() - 1);
                    r.status()
                })
            })
            .collect();
        let t = Instant::now();
        for r in grove::joinall(hs) {
            assert_eq!(r.unwrap(), 200);
        }
        // 6 requests of 300 ms, 2 at a time: at least three rounds.
        assert!(t.elapsed() >= Duration::from_millis(850), "{:?}", t.elapsed());
    });
}

#[test]
fn client_keep_alive_pool_and_errors() {
    with_server(Config::default(), |addr| {
        let c = Client::new();
        for i in 0..5 {
            let r = c.get(&format!("http://{addr}/k{i}")).unwrap();
            assert_eq!(r.body(), format!("GET /k{i} ").as_bytes());
        }
        assert_eq!(c.idle_connections(), 1, "one connection reused for all five");
        assert_eq!(c.get(&format!("http://{addr}/peer")).unwrap().body(), b"loopback peer");
        let r = c.post(&format!("http://{addr}/p"), "data").unwrap();
        assert_eq!(r.body(), b"POST /p data");
        let r = c.get(&format!("http://{addr}/stream")).unwrap();
        assert_eq!(r.body(), b"alpha,beta,gamma");
        assert!(c.get("https://example.invalid/").is_err(), "no TLS in the client yet");
        let slow = Client::new().with_timeout(Some(Duration::from_millis(50)));
        let e = slow.get(&format!("http://{addr}/slow")).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
        let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        assert!(c.get(&format!("http://{dead}/")).is_err());
    });
}

#[test]
fn client_against_python_http_server() {
    grove::run(|| {
        let dir = std::env::temp_dir().join(format!("grove-pyhttp-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("hello.txt"), "served by python").unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut child = Command::new("python3")
            .args(["-m", "http.server", &port.to_string(), "--bind", "127.0.0.1"])
            .current_dir(&dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let url = format!("http://127.0.0.1:{port}/hello.txt");
        let c = Client::new();
        let mut resp = None;
        for _ in 0..100 {
            match c.get(&url) {
                Ok(r) => {
                    resp = Some(r);
                    break;
                }
                Err(_) => grove::sleep(Duration::from_millis(50)),
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        std::fs::remove_dir_all(&dir).unwrap();
        let resp = resp.expect("python server answered");
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.body(), b"served by python");
    });
}

/// A keep-alive connection that idles past the linger gives its read buffer, response buffer
/// and deep stack pages back (issue 15) and still serves what comes next on it: a request split
/// across the idle wait, a pipelined pair, a large body, and a request whose handler runs deep
/// (the released stack pages come back zeroed). Many connections idle at once share the pool.
#[test]
fn connections_idle_past_the_linger_keep_serving() {
    with_server(Config::default(), |addr| {
        let idle = Duration::from_millis(120); // past the 50 ms linger
        let conns: Vec<_> =
            (0..300).map(|_| grove::net::TcpStream::connect(addr).unwrap()).collect();
        for (i, c) in conns.iter().enumerate() {
            let req = format!("POST /n{i} HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx");
            (&*c).write_all(req.as_bytes()).unwrap();
        }
        let read_answer = |c: &grove::net::TcpStream, want: &str| {
            let mut got = Vec::new();
            let mut buf = [0u8; 4096];
            let t0 = Instant::now();
            while !String::from_utf8_lossy(&got).contains(want) {
                assert!(t0.elapsed() < Duration::from_secs(20), "no answer {want:?}");
                let n = (&*c).read(&mut buf).unwrap();
                assert!(n > 0, "closed before {want:?}: {}", String::from_utf8_lossy(&got));
                got.extend_from_slice(&buf[..n]);
            }
        };
        for (i, c) in conns.iter().enumerate() {
            read_answer(c, &format!("POST /n{i} x"));
        }
        grove::sleep(idle); // every connection idles without its buffers now
        let c = &conns[0];
        // A head split across another idle wait.
        (&*c).write_all(b"GET /split HTTP/1.1\r\nHo").unwrap();
        grove::sleep(idle);
        (&*c).write_all(b"st: x\r\n\r\n").unwrap();
        read_answer(c, "GET /split ");
        grove::sleep(idle);
        // Two pipelined, then a body larger than the buffer.
        (&*c)
            .write_all(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        read_answer(c, "GET /b ");
        grove::sleep(idle);
        let big = "y".repeat(100_000);
        let req =
            format!("POST /big HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{big}", big.len());
        (&*c).write_all(req.as_bytes()).unwrap();
        read_answer(c, &format!("POST /big {big}"));
        // Every other connection still works after its idle wait.
        for (i, c) in conns.iter().enumerate().skip(1) {
            let req = format!("GET /again{i} HTTP/1.1\r\nHost: x\r\n\r\n");
            (&*c).write_all(req.as_bytes()).unwrap();
            read_answer(c, &format!("GET /again{i} "));
        }
    });
}
