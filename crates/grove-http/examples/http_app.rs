//! A small HTTP application on grove-http: routes, a path parameter, a POST body, a
//! handler that blocks (sleeps) without holding up the others, a custom status and
//! header, then a graceful shutdown. Handlers are plain blocking functions; each
//! connection runs in its own greenlet. A keep-alive client on the same hub calls it.
//!
//! Mirrors: gevent's `pywsgi.WSGIServer(('127.0.0.1', 0), app).serve_forever()` with a
//! small WSGI app, and `server.stop(timeout)`.
//!
//! Run: `cargo run -p grove-http --example http_app`

use std::io::Read;
use std::time::{Duration, Instant};

use grove_http::http::{header, Method, StatusCode};
use grove_http::{Body, Request, Response, Server};

/// The application: one function from request to response.
fn app(req: Request) -> Response {
    let (method, path) = (req.method().clone(), req.uri().path().to_string());
    match (&method, path.as_str()) {
        (&Method::GET, "/") => html("<h1>grove-http</h1><p>try /hello/NAME, POST /echo</p>"),
        (&Method::GET, p) if p.starts_with("/hello/") => {
            let who = grove_http::peer_addr().map(|a| a.to_string()).unwrap_or_default();
            text(format!("hello, {} (you are {who})", &p["/hello/".len()..]))
        }
        (&Method::POST, "/echo") => {
            let mut body = String::new();
            match req.into_body().read_to_string(&mut body) {
                Ok(n) => text(format!("{n} bytes: {body}")),
                Err(e) => status(StatusCode::BAD_REQUEST, format!("bad body: {e}")),
            }
        }
        (&Method::GET, "/slow") => {
            // Blocks this connection's greenlet only.
            grove::sleep(Duration::from_millis(300));
            text("sorry for the wait".into())
        }
        _ => status(StatusCode::NOT_FOUND, format!("no route for {method} {path}")),
    }
}

fn text(s: String) -> Response {
    let mut r = Response::new(Body::from(s));
    r.headers_mut().insert(header::CONTENT_TYPE, "text/plain; charset=utf-8".parse().unwrap());
    r
}

fn html(s: &'static str) -> Response {
    let mut r = Response::new(Body::from(s));
    r.headers_mut().insert(header::CONTENT_TYPE, "text/html".parse().unwrap());
    r
}

fn status(code: StatusCode, s: String) -> Response {
    let mut r = text(s);
    *r.status_mut() = code;
    r
}

fn main() {
    grove::run(|| {
        let server = Server::bind("127.0.0.1:0").expect("bind");
        let base = format!("http://{}", server.local_addr().expect("addr"));
        let stop = server.shutdown_handle();
        let srv = grove::spawn(move || server.serve(app));
        println!("serving on {base}");

        let client = grove_http::Client::new();
        let t = Instant::now();
        // The slow request runs in its own greenlet; the others don't wait for it.
        let c = client.clone();
        let slow_url = format!("{base}/slow");
        let slow = grove::spawn(move || c.get(&slow_url));
        for path in ["/", "/hello/world", "/nope"] {
            let r = client.get(&format!("{base}{path}")).expect("GET");
            println!(
                "{:>4} ms  GET {path:<13} {} {:?}",
                t.elapsed().as_millis(),
                r.status(),
                String::from_utf8_lossy(r.body())
            );
        }
        let r = client.post(&format!("{base}/echo"), "green threads").expect("POST");
        println!(
            "{:>4} ms  POST /echo        {} {:?}",
            t.elapsed().as_millis(),
            r.status(),
            String::from_utf8_lossy(r.body())
        );
        let r = slow.join().expect("greenlet").expect("GET /slow");
        println!(
            "{:>4} ms  GET /slow         {} {:?}",
            t.elapsed().as_millis(),
            r.status(),
            String::from_utf8_lossy(r.body())
        );
        println!("idle keep-alive connections in the client's pool: {}", client.idle_connections());

        // Graceful: stop accepting, close idle keep-alive connections, let requests finish.
        stop.shutdown();
        srv.join().expect("server greenlet").expect("serve");
        println!("server stopped");
    });
}
