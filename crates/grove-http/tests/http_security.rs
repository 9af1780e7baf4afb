//! Security regressions: response desync in the client (a pooled connection must never carry
//! bytes from a response whose framing is in doubt), and request handling in the server
//! (Host, long targets, CONNECT tunnels, unread bodies, chunk extensions, trailers). Each test
//! names the item of the security review it pins.

use std::cell::{Cell, RefCell};
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use grove::net::{TcpListener, TcpStream};
use grove_http::{Body, Client, Config, Request, Response, Server};

/// Reads one request head (up to the blank line); false at EOF.
fn read_request_head(c: &mut TcpStream) -> bool {
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match c.read(&mut b) {
            Ok(1) => head.push(b[0]),
            _ => return false,
        }
    }
    true
}

/// A backend whose first connection answers with `crafted` (then closes if `close`, else
/// waits to see whether a second request arrives on it); every later connection answers
/// `GOOD`. Returns its address and whether the first connection was asked twice.
fn backend(crafted: &'static [u8], close: bool) -> (SocketAddr, Rc<Cell<bool>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let reused = Rc::new(Cell::new(false));
    let r = reused.clone();
    grove::spawn(move || {
        let mut first = true;
        loop {
            let Ok((mut c, _)) = l.accept() else { return };
            let is_first = std::mem::replace(&mut first, false);
            let r = r.clone();
            grove::spawn(move || {
                if !read_request_head(&mut c) {
                    return;
                }
                if is_first {
                    c.write_all(crafted).unwrap();
                    if close {
                        let _ = c.shutdown(std::net::Shutdown::Write);
                    }
                    if read_request_head(&mut c) {
                        r.set(true);
                    }
                } else {
                    let _ = c.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nGOOD");
                }
            });
        }
    });
    (addr, reused)
}

/// The first GET sees the crafted response (its outcome is `first`'s business); the second
/// must come from a fresh connection and see `GOOD`, never the injected bytes.
fn second_get_is_not_desynced(crafted: &'static [u8], close: bool) -> Option<Vec<u8>> {
    grove::run(|| {
        let (addr, reused) = backend(crafted, close);
        let client = Client::new().with_timeout(Some(Duration::from_secs(20)));
        let url = format!("http://{addr}/");
        let first = client.get(&url).ok().map(|r| r.into_body());
        let second = client.get(&url).expect("second request");
        assert_eq!(second.body(), b"GOOD", "the second response came from the first connection");
        assert!(!reused.get(), "a connection with doubtful framing went back to the pool");
        first
    })
}

// Security review 16.1: two different Content-Length values in a response.
#[test]
fn client_rejects_conflicting_content_lengths() {
    let first = second_get_is_not_desynced(
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 8\r\n\r\nhelloINJECTED",
        false,
    );
    assert!(first.is_none(), "conflicting lengths must be an error");
}

// Framing review 21.1: only the first Transfer-Encoding line was used.
#[test]
fn client_combines_transfer_encoding_lines() {
    let first = second_get_is_not_desynced(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n\
          0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nINJECTED",
        true,
    );
    // Not chunked at the end: the body is everything up to the close.
    assert!(first.unwrap().ends_with(b"INJECTED"));
}

// Framing review 21.2: bytes after a complete response are not a response to anything.
#[test]
fn client_never_reuses_a_connection_with_leftover_bytes() {
    let first = second_get_is_not_desynced(
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello\
          HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nINJECTED",
        false,
    );
    assert_eq!(first.unwrap(), b"hello");
}

// Framing review 21.2: after 101 the connection speaks another protocol.
#[test]
fn client_never_reuses_a_connection_after_101() {
    second_get_is_not_desynced(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\n\
          HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nINJECTED",
        false,
    );
}

// Framing review 21.2: Content-Length and Transfer-Encoding together.
#[test]
fn client_never_reuses_a_connection_after_cl_and_te() {
    second_get_is_not_desynced(
        b"HTTP/1.1 200 OK\r\nContent-Length: 30\r\nTransfer-Encoding: chunked\r\n\r\n\
          0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nINJECTED",
        false,
    );
}

// Framing review 21.3: Content-Length is 1*DIGIT.
#[test]
fn client_rejects_signed_content_length() {
    let first =
        second_get_is_not_desynced(b"HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\nhello", false);
    assert!(first.is_none());
}

// Framing review 21.4: no chunked coding in an HTTP/1.0 response.
#[test]
fn client_reads_http10_transfer_encoding_until_close() {
    let first = second_get_is_not_desynced(
        b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        true,
    );
    assert_eq!(first.unwrap(), b"5\r\nhello\r\n0\r\n\r\n");
}

// ---- server ----

/// Counts requests; `/ignore` answers without reading the body; everything else echoes it.
fn with_server(f: impl FnOnce(SocketAddr, Rc<Cell<u32>>)) {
    grove::run(|| {
        let server = Server::bind("127.0.0.1:0").unwrap().with_config(Config::default());
        let addr = server.local_addr().unwrap();
        let stop = server.shutdown_handle();
        let count = Rc::new(Cell::new(0));
        let c = count.clone();
        let srv = grove::spawn(move || {
            server.serve(move |req: Request| {
                c.set(c.get() + 1);
                if req.uri().path() == "/ignore" {
                    return Response::new(Body::from("ignored"));
                }
                let path = req.uri().path().to_string();
                match req.into_body().into_bytes() {
                    Ok(b) => {
                        Response::new(Body::from(format!("{path} {}", String::from_utf8_lossy(&b))))
                    }
                    Err(e) => {
                        let mut r = Response::new(Body::from(format!("body error: {e}")));
                        *r.status_mut() = grove_http::http::StatusCode::BAD_REQUEST;
                        r
                    }
                }
            })
        });
        f(addr, count);
        stop.shutdown();
        srv.join().unwrap().unwrap();
    });
}

/// Sends `bytes` on a fresh connection and reads until the server closes it.
fn raw(addr: SocketAddr, bytes: &[u8]) -> String {
    let mut c = TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    c.write_all(bytes).unwrap();
    let mut out = Vec::new();
    let _ = c.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

fn status_of(resp: &str) -> &str {
    resp.get(9..12).unwrap_or("")
}

// Security review 16.6: RFC 9112 §3.2.
#[test]
fn server_requires_one_valid_host() {
    with_server(|addr, _| {
        for (want, req) in [
            ("400", "GET / HTTP/1.1\r\n\r\n"),
            ("400", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"),
            ("400", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n"),
            ("400", "GET / HTTP/1.1\r\nHost: user@h\r\n\r\n"),
            ("400", "GET / HTTP/1.1\r\nHost: h:99999\r\n\r\n"),
            ("200", "GET / HTTP/1.1\r\nHost: [::1]:8080\r\nConnection: close\r\n\r\n"),
            ("200", "GET / HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n"),
            ("200", "GET / HTTP/1.0\r\n\r\n"),
        ] {
            let out = raw(addr, req.as_bytes());
            assert_eq!(status_of(&out), want, "{req:?} -> {out}");
        }
    });
}

// Security review 16.7: RFC 9112 §3.
#[test]
fn server_answers_414_to_a_huge_target() {
    with_server(|addr, _| {
        let req = format!("GET /{} HTTP/1.1\r\nHost: t\r\n\r\n", "a".repeat(100_000));
        assert_eq!(status_of(&raw(addr, req.as_bytes())), "414");
        let req = format!("GET / HTTP/1.1\r\nHost: t\r\nX: {}\r\n\r\n", "a".repeat(100_000));
        assert_eq!(status_of(&raw(addr, req.as_bytes())), "431");
    });
}

// Framing review 21.5: after a 2xx to CONNECT the connection is a tunnel.
#[test]
fn server_never_parses_tunnel_bytes_as_requests() {
    with_server(|addr, count| {
        let out = raw(
            addr,
            b"CONNECT h:80 HTTP/1.1\r\nHost: h:80\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n",
        );
        assert_eq!(status_of(&out), "200");
        assert_eq!(count.get(), 1, "the tunnel's bytes reached the handler: {out}");
        assert!(!out.contains("/smuggled"));
    });
}

// Framing review 21.6: close wins.
#[test]
fn server_http10_close_wins_over_keep_alive() {
    with_server(|addr, count| {
        for req in [
            &b"GET /a HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\nGET /b HTTP/1.0\r\n\r\n"[..],
            b"GET /a HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\nGET /b HTTP/1.0\r\n\r\n",
        ] {
            let before = count.get();
            let out = raw(addr, req);
            assert_eq!(count.get(), before + 1, "{out}");
            assert!(!out.contains("/b"));
        }
    });
}

// Framing review 21.7: a trailer line that is not a header field is an error.
#[test]
fn server_rejects_non_field_trailers() {
    with_server(|addr, count| {
        let out = raw(
            addr,
            b"POST /t HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n\
              3\r\nabc\r\n0\r\nGET /x HTTP/1.1\r\n\r\n",
        );
        assert_eq!(status_of(&out), "400", "{out}");
        assert_eq!(count.get(), 1);
    });
}

// Framing review 21.8: interop forms hyper accepts.
#[test]
fn server_accepts_empty_te_elements_and_leading_zeros() {
    with_server(|addr, _| {
        let out = raw(
            addr,
            b"POST /a HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: ,chunked\r\nConnection: close\r\n\r\n\
              00000000000000000000000003\r\nabc\r\n0\r\n\r\n",
        );
        assert!(out.starts_with("HTTP/1.1 200") && out.ends_with("/a abc"), "{out}");
        let out = raw(
            addr,
            b"POST /b HTTP/1.1\r\nHost: t\r\nContent-Length: 0000000000000000000000003\r\n\
              Connection: close\r\n\r\nabc",
        );
        assert!(out.starts_with("HTTP/1.1 200") && out.ends_with("/b abc"), "{out}");
    });
}

// Security review 16.2: endless chunk extensions are refused within a bounded read.
#[test]
fn server_refuses_endless_chunk_extensions() {
    with_server(|addr, _| {
        for path in ["/echo", "/ignore"] {
            let mut c = TcpStream::connect(addr).unwrap();
            c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
            let head =
                format!("POST {path} HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n1;");
            c.write_all(head.as_bytes()).unwrap();
            // Keep sending extension bytes: the server must stop reading long before 8 MiB.
            let junk = vec![b'x'; 64 * 1024];
            let mut sent = 0;
            while sent < 8 << 20 {
                match c.write(&junk) {
                    Ok(n) => sent += n,
                    Err(_) => break,
                }
            }
            assert!(sent < 8 << 20, "{path}: the server kept reading chunk extensions");
            let mut out = Vec::new();
            let _ = c.read_to_end(&mut out);
            let out = String::from_utf8_lossy(&out);
            if path == "/echo" {
                assert_eq!(status_of(&out), "400", "{out}");
            }
        }
    });
}

// Security review 16.5: a handler that ignores the body is answered without waiting for it.
#[test]
fn server_answers_before_an_unread_body_arrives() {
    with_server(|addr, _| {
        let mut c = TcpStream::connect(addr).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        // Ten MiB announced, none sent: the answer must not wait for it.
        c.write_all(b"POST /ignore HTTP/1.1\r\nHost: t\r\nContent-Length: 10485760\r\n\r\n")
            .unwrap();
        let mut buf = [0u8; 512];
        let n = c.read(&mut buf).unwrap();
        let out = String::from_utf8_lossy(&buf[..n]);
        assert!(out.starts_with("HTTP/1.1 200"), "{out}");
        assert!(out.contains("connection: close"), "too large to skip: the connection closes");
        // A small unread body is skipped and the connection serves the next request.
        let out = raw(
            addr,
            b"POST /ignore HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc\
              GET /next HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        );
        assert!(out.contains("ignored") && out.ends_with("/next "), "{out}");
    });
}

// Differential test (issue 21): grove sent `content-length` and the handler's body after a
// 2xx to CONNECT; what follows that head is the tunnel, and it carries no framing fields
// (RFC 9110 §9.3.6).
#[test]
fn server_answers_connect_without_framing_fields() {
    with_server(|addr, _| {
        let out = raw(addr, b"CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n");
        assert_eq!(status_of(&out), "200", "{out}");
        let lower = out.to_ascii_lowercase();
        assert!(!lower.contains("content-length"), "{out}");
        assert!(!lower.contains("transfer-encoding"), "{out}");
        assert!(out.ends_with("\r\n\r\n"), "bytes followed the head: {out:?}");
    });
}

// Differential test (issue 21): after a chunked body failed, skipping its rest fed the decoder
// again bytes it had already gone past; a `\r\n\r\n` in chunk data then "ended" the body, the
// connection stayed open, and the bytes after it were served as a request (smuggling).
#[test]
fn server_closes_after_a_failed_chunked_body() {
    let paths = Rc::new(RefCell::new(Vec::new()));
    let p = paths.clone();
    let handler = move |req: Request| {
        p.borrow_mut().push(req.uri().path().to_string());
        let mut body = req.into_body();
        // A small read, then a large one: the failing read covers the whole rest.
        let mut first = [0u8; 4];
        let _ = body.read(&mut first);
        let mut rest = Vec::with_capacity(64 * 1024);
        let _ = body.read_to_end(&mut rest);
        Response::new(Body::from("done"))
    };
    with_handler(handler, |addr| {
        let data = b"x\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: t\r\n\r\n";
        let req = [
            &b"POST /upload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n"
                [..],
            format!("{:x}\r\n", data.len()).as_bytes(),
            data,
            b"\r\n0\r\nX: \x7f\r\n\r\n",
        ]
        .concat();
        let out = raw(addr, &req);
        assert_eq!(*paths.borrow(), ["/upload"], "{out}");
        assert!(out.contains("connection: close"), "{out}");
    });
}

/// Runs a server with `handler` for the duration of `f`.
fn with_handler(handler: impl Fn(Request) -> Response + 'static, f: impl FnOnce(SocketAddr)) {
    grove::run(|| {
        let server = Server::bind("127.0.0.1:0").unwrap();
        let addr = server.local_addr().unwrap();
        let stop = server.shutdown_handle();
        let srv = grove::spawn(move || server.serve(handler));
        f(addr);
        stop.shutdown();
        srv.join().unwrap().unwrap();
    });
}

/// `/stream` answers with a body of unknown length, `/close` with `Connection: close`, and
/// every path is counted.
fn streaming_app(count: Rc<Cell<u32>>) -> impl Fn(Request) -> Response {
    move |req: Request| {
        count.set(count.get() + 1);
        match req.uri().path() {
            "/stream" => Response::new(Body::stream(&b"streamed"[..])),
            "/close" => {
                let mut r = Response::new(Body::from("bye"));
                r.headers_mut().insert("connection", "close".parse().unwrap());
                r
            }
            _ => Response::new(Body::from("other")),
        }
    }
}

// Differential test (issue 21): a body of unknown length to an HTTP/1.0 keep-alive client is
// sent until close, and the response said `connection: close` — but the connection went on
// serving the next pipelined request, whose response the client read as more body.
#[test]
fn server_closes_after_a_body_delimited_by_close() {
    let count = Rc::new(Cell::new(0));
    with_handler(streaming_app(count.clone()), |addr| {
        let out = raw(
            addr,
            b"GET /stream HTTP/1.0\r\nConnection: keep-alive\r\n\r\n\
              GET /next HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
        );
        assert!(out.contains("connection: close") && out.ends_with("\r\n\r\nstreamed"), "{out}");
        assert_eq!(count.get(), 1, "{out}");
        // The answer to HEAD has no body to delimit: the connection stays.
        let out = raw(
            addr,
            b"HEAD /stream HTTP/1.0\r\nConnection: keep-alive\r\n\r\n\
              GET /next HTTP/1.0\r\n\r\n",
        );
        assert!(out.ends_with("other"), "{out}");
    });
}

// Differential test (issue 21): the handler's `Connection: close` was dropped and the
// connection kept; hyper (and RFC 9112 §9.6) close after such a response.
#[test]
fn server_closes_when_the_handler_says_close() {
    let count = Rc::new(Cell::new(0));
    with_handler(streaming_app(count.clone()), |addr| {
        let out = raw(
            addr,
            b"GET /close HTTP/1.1\r\nHost: t\r\n\r\nGET /next HTTP/1.1\r\nHost: t\r\n\r\n",
        );
        assert!(out.contains("connection: close") && out.ends_with("bye"), "{out}");
        assert_eq!(count.get(), 1, "{out}");
    });
}
