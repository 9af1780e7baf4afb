//! The client as users expect it (issue 16.10): opt-in redirects with a limit, a cap on the
//! body read into memory, and one client shared by many greenlets.

use std::net::SocketAddr;
use std::time::Duration;

mod common;

use grove_http::http::{header, StatusCode};
use grove_http::{Body, Client, Request, Response};

/// `/r/N` redirects N times (to a relative path), `/303` answers See Other, `/307` a temporary
/// redirect keeping the method; `/big` is 4 KiB; everything else echoes method, path and body.
fn app(req: Request) -> Response {
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    let redirect = |code: u16, to: String| {
        let mut r = Response::new(Body::Empty);
        *r.status_mut() = StatusCode::from_u16(code).unwrap();
        r.headers_mut().insert(header::LOCATION, to.parse().unwrap());
        r
    };
    if let Some(n) = path.strip_prefix("/r/").and_then(|n| n.parse::<u32>().ok()) {
        return if n == 0 {
            Response::new(Body::from("landed"))
        } else {
            redirect(302, format!("{}", n - 1))
        };
    }
    match path.as_str() {
        "/303" => redirect(303, "/echo".into()),
        "/307" => redirect(307, "/echo".into()),
        "/big" => Response::new(Body::from(vec![b'x'; 4096])),
        _ => {
            let body = req.into_body().into_bytes().unwrap();
            Response::new(Body::from(format!("{method} {path} {}", String::from_utf8_lossy(&body))))
        }
    }
}

fn with_server(f: impl FnOnce(SocketAddr)) {
    common::with_server(grove_http::Config::default(), app, f);
}

#[test]
fn redirects_are_opt_in_limited_and_change_the_method_like_browsers() {
    with_server(|addr| {
        let url = |p: &str| format!("http://{addr}{p}");
        // Not followed by default.
        let r = Client::new().get(&url("/r/1")).unwrap();
        assert_eq!(r.status(), 302);
        let c = Client::new().with_redirects(3);
        let r = c.get(&url("/r/3")).unwrap();
        assert_eq!((r.status().as_u16(), r.body().as_slice()), (200, &b"landed"[..]));
        let err = c.get(&url("/r/4")).unwrap_err();
        assert!(err.to_string().contains("too many redirects"), "{err}");
        // 303 after a POST: a GET without the body. 307: the same method and body.
        let r = c.post(&url("/303"), "payload").unwrap();
        assert_eq!(r.body(), b"GET /echo ");
        let r = c.post(&url("/307"), "payload").unwrap();
        assert_eq!(r.body(), b"POST /echo payload");
    });
}

#[test]
fn a_body_over_the_cap_is_an_error_and_the_client_goes_on() {
    with_server(|addr| {
        let c = Client::new().with_max_body_bytes(1024);
        let err = c.get(&format!("http://{addr}/big")).unwrap_err();
        assert!(err.to_string().contains("larger than 1024"), "{err}");
        assert_eq!(c.get(&format!("http://{addr}/small")).unwrap().body(), b"GET /small ");
    });
}

#[test]
fn one_client_shared_by_many_greenlets() {
    with_server(|addr| {
        let c = Client::new().with_timeout(Some(Duration::from_secs(20)));
        let hs: Vec<_> = (0..20)
            .map(|i| {
                let c = c.clone();
                grove::spawn(move || c.get(&format!("http://{addr}/g{i}")).unwrap().into_body())
            })
            .collect();
        for (i, h) in hs.into_iter().enumerate() {
            assert_eq!(h.join().unwrap(), format!("GET /g{i} ").into_bytes());
        }
        assert!(c.idle_connections() > 0, "the clones share one pool");
    });
}

#[test]
fn a_streamed_body_is_read_as_it_arrives_and_has_no_cap() {
    with_server(|addr| {
        let c = Client::new().with_max_body_bytes(1024);
        let req =
            grove_http::http::Request::get(format!("http://{addr}/big")).body(Vec::new()).unwrap();
        let resp = c.request_streaming(req).unwrap();
        assert_eq!(resp.status(), 200);
        let mut body = resp.into_body();
        let mut total = 0;
        let mut chunk = [0u8; 1000];
        loop {
            let n = std::io::Read::read(&mut body, &mut chunk).unwrap();
            if n == 0 {
                break;
            }
            assert!(chunk[..n].iter().all(|&b| b == b'x'));
            total += n;
        }
        assert_eq!(total, 4096, "streamed past the buffered cap");
        // The buffered path still refuses it, and the client goes on.
        assert!(c.get(&format!("http://{addr}/big")).is_err());
        assert_eq!(c.get(&format!("http://{addr}/s")).unwrap().body(), b"GET /s ");
    });
}

/// A server that promises keep-alive but closes after every response: idempotent requests on
/// a pooled connection it closed are retried on a fresh one (issue 16.10).
#[test]
fn idempotent_requests_survive_a_server_that_closes_after_each_response() {
    use std::io::{Read, Write};
    grove::run(|| {
        let l = grove::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let server = grove::spawn(move || loop {
            let Ok((mut c, _)) = l.accept() else { return };
            grove::spawn(move || {
                let mut head = Vec::new();
                let mut b = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if c.read(&mut b).unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(b[0]);
                }
                let text = String::from_utf8_lossy(&head).to_ascii_lowercase();
                if let Some(n) = text.split("content-length: ").nth(1) {
                    let n: usize = n.split("\r\n").next().unwrap().trim().parse().unwrap();
                    let mut body = vec![0u8; n];
                    c.read_exact(&mut body).unwrap();
                }
                let _ = c.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
                // Closes without having said so.
            });
        });
        let c = Client::new();
        for i in 0..5 {
            let url = format!("http://{addr}/{i}");
            assert_eq!(c.get(&url).unwrap().body(), b"ok");
            let put = grove_http::http::Request::put(&url).body(b"x".to_vec()).unwrap();
            assert_eq!(c.request(put).unwrap().body(), b"ok");
            let del = grove_http::http::Request::delete(&url).body(Vec::new()).unwrap();
            assert_eq!(c.request(del).unwrap().body(), b"ok");
        }
        server.kill().unwrap();
    });
}
