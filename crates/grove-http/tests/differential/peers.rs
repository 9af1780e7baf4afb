//! The two servers under comparison (grove-http on a grove hub thread, hyper on a tokio
//! current_thread runtime thread), both running the same recording handler; the raw driver
//! that sends a case to both; a raw backend for the client side. Everything binds 127.0.0.1
//! and every server is stopped when its value is dropped.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// Liveness only: no outcome depends on a timer firing.
pub(crate) const LIVENESS: Duration = Duration::from_secs(10);

/// What a handler saw of one request.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Seen {
    pub method: String,
    pub target: String,
    pub version: String,
    /// The fields whose handling is in question, every line in order.
    pub fields: Vec<(String, Vec<u8>)>,
    /// `None` until the handler has read the body (a server may drop a handler mid-body).
    pub body: Option<Result<Vec<u8>, String>>,
}

const RECORDED: &[&str] = &["host", "connection", "expect", "upgrade", "x-probe", "x-respond"];

/// How the handler answers, by the request's `X-Respond` field: `ok` (default: 200 with a
/// two-byte body of known length), `stream` (the same body of unknown length), `empty`, `204`,
/// `304`, `close` (the handler's response carries `Connection: close`).
fn respond_kind(h: &http::HeaderMap) -> &'static str {
    match h.get("x-respond").map(|v| v.as_bytes()) {
        Some(b"stream") => "stream",
        Some(b"empty") => "empty",
        Some(b"204") => "204",
        Some(b"304") => "304",
        Some(b"close") => "close",
        _ => "ok",
    }
}

fn status_for(kind: &str) -> http::StatusCode {
    match kind {
        "204" => http::StatusCode::NO_CONTENT,
        "304" => http::StatusCode::NOT_MODIFIED,
        _ => http::StatusCode::OK,
    }
}

fn seen(method: &str, target: String, version: http::Version, h: &http::HeaderMap) -> Seen {
    let fields = h
        .iter()
        .filter(|(n, _)| RECORDED.contains(&n.as_str()))
        .map(|(n, v)| (n.as_str().to_string(), v.as_bytes().to_vec()))
        .collect();
    Seen { method: method.into(), target, version: format!("{version:?}"), fields, body: None }
}

/// Per-connection logs, keyed by the client's port.
pub(crate) type Log = Arc<Mutex<HashMap<u16, Vec<Seen>>>>;

fn record(log: &Log, port: u16, s: Seen) -> usize {
    let mut l = log.lock().unwrap();
    let v = l.entry(port).or_default();
    v.push(s);
    v.len() - 1
}

fn record_body(log: &Log, port: u16, i: usize, body: Result<Vec<u8>, String>) {
    log.lock().unwrap().get_mut(&port).unwrap()[i].body = Some(body);
}

pub(crate) const RESPONSE_BODY: &[u8] = b"ok";

pub(crate) struct GroveServer {
    pub addr: SocketAddr,
    pub log: Log,
    stop: grove::sync::mt::Event,
    thread: Option<JoinHandle<()>>,
}

impl GroveServer {
    pub(crate) fn start() -> GroveServer {
        let log: Log = Arc::default();
        let stop = grove::sync::mt::Event::new();
        let (tx, rx) = std::sync::mpsc::channel();
        let (l, s) = (log.clone(), stop.clone());
        let thread = std::thread::Builder::new()
            .name("grove-server".into())
            .spawn(move || {
                grove::run(move || {
                    let server = grove_http::Server::bind("127.0.0.1:0").unwrap();
                    tx.send(server.local_addr().unwrap()).unwrap();
                    let handle = server.shutdown_handle();
                    let srv = grove::spawn(move || {
                        server.serve(move |req: grove_http::Request| {
                            let port = grove_http::peer_addr().unwrap().port();
                            let i = record(
                                &l,
                                port,
                                seen(
                                    req.method().as_str(),
                                    req.uri().to_string(),
                                    req.version(),
                                    req.headers(),
                                ),
                            );
                            let kind = respond_kind(req.headers());
                            let mut body = Vec::new();
                            let r = req.into_body().read_to_end(&mut body);
                            record_body(&l, port, i, r.map(|_| body).map_err(|e| e.to_string()));
                            let mut resp = grove_http::Response::new(match kind {
                                "stream" => grove_http::Body::stream(RESPONSE_BODY),
                                "empty" => grove_http::Body::Empty,
                                _ => grove_http::Body::from(RESPONSE_BODY),
                            });
                            *resp.status_mut() = status_for(kind);
                            if kind == "close" {
                                resp.headers_mut().insert(
                                    http::header::CONNECTION,
                                    http::HeaderValue::from_static("close"),
                                );
                            }
                            resp
                        })
                    });
                    let _ = s.wait(); // the stop signal (any outcome stops the server)
                    handle.shutdown();
                    srv.join().unwrap().unwrap();
                })
            })
            .unwrap();
        let addr = rx.recv().unwrap();
        GroveServer { addr, log, stop, thread: Some(thread) }
    }
}

impl Drop for GroveServer {
    fn drop(&mut self) {
        self.stop.set();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

pub(crate) struct HyperServer {
    pub addr: SocketAddr,
    pub log: Log,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

/// A response body for hyper: its bytes in one frame, with or without a known length.
pub(crate) struct OneFrame {
    data: Option<bytes::Bytes>,
    sized: bool,
}

impl hyper::body::Body for OneFrame {
    type Data = bytes::Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<bytes::Bytes>, Self::Error>>> {
        std::task::Poll::Ready(self.data.take().map(|d| Ok(hyper::body::Frame::data(d))))
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_none()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        match (&self.data, self.sized) {
            (Some(d), true) => hyper::body::SizeHint::with_exact(d.len() as u64),
            (None, _) => hyper::body::SizeHint::with_exact(0),
            _ => hyper::body::SizeHint::default(),
        }
    }
}

async fn hyper_handler(
    req: hyper::Request<hyper::body::Incoming>,
    log: Log,
    port: u16,
) -> Result<hyper::Response<OneFrame>, std::convert::Infallible> {
    use http_body_util::BodyExt;
    let i = record(
        &log,
        port,
        seen(req.method().as_str(), req.uri().to_string(), req.version(), req.headers()),
    );
    let kind = respond_kind(req.headers());
    let body = req.into_body().collect().await;
    record_body(&log, port, i, body.map(|c| c.to_bytes().to_vec()).map_err(|e| e.to_string()));
    let data = (kind != "empty").then(|| bytes::Bytes::from_static(RESPONSE_BODY));
    let mut resp = hyper::Response::new(OneFrame { data, sized: kind != "stream" });
    *resp.status_mut() = status_for(kind);
    if kind == "close" {
        resp.headers_mut()
            .insert(http::header::CONNECTION, http::HeaderValue::from_static("close"));
    }
    Ok(resp)
}

impl HyperServer {
    pub(crate) fn start() -> HyperServer {
        let log: Log = Arc::default();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel::<()>();
        let l = log.clone();
        let thread = std::thread::Builder::new()
            .name("hyper-server".into())
            .spawn(move || {
                let rt =
                    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                rt.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                    let mut conns = tokio::task::JoinSet::new();
                    loop {
                        tokio::select! {
                            _ = &mut stop_rx => break,
                            accepted = listener.accept() => {
                                let Ok((stream, peer)) = accepted else { continue };
                                let log = l.clone();
                                conns.spawn(async move {
                                    let svc = hyper::service::service_fn(move |req| {
                                        hyper_handler(req, log.clone(), peer.port())
                                    });
                                    // Half-close: the driver shuts its write side after the
                                    // last byte; requests already received are still served.
                                    let _ = hyper::server::conn::http1::Builder::new()
                                        .half_close(true)
                                        .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                                        .await;
                                });
                            }
                        }
                    }
                    conns.abort_all();
                    while conns.join_next().await.is_some() {}
                });
            })
            .unwrap();
        HyperServer { addr, log, stop: Some(stop_tx), thread: Some(thread) }
    }
}

impl Drop for HyperServer {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// What the client side of one connection observed.
pub(crate) struct Conn {
    pub port: u16,
    pub stream: TcpStream,
    pub write_failed: bool,
    pub response: Vec<u8>,
    /// How reading ended: `eof`, or the error.
    pub end: String,
}

impl Conn {
    pub(crate) fn open(addr: SocketAddr) -> Conn {
        let stream = TcpStream::connect(addr).unwrap();
        stream.set_nodelay(true).unwrap();
        stream.set_read_timeout(Some(LIVENESS)).unwrap();
        stream.set_write_timeout(Some(LIVENESS)).unwrap();
        let port = stream.local_addr().unwrap().port();
        Conn { port, stream, write_failed: false, response: Vec::new(), end: String::new() }
    }

    pub(crate) fn write(&mut self, b: &[u8]) {
        if !self.write_failed && self.stream.write_all(b).is_err() {
            self.write_failed = true;
        }
    }

    /// Half-closes and reads until the server closes.
    pub(crate) fn finish(&mut self) {
        let _ = self.stream.shutdown(Shutdown::Write);
        let mut buf = [0u8; 16 * 1024];
        loop {
            match self.stream.read(&mut buf) {
                Ok(0) => {
                    self.end = "eof".into();
                    return;
                }
                Ok(n) => self.response.extend_from_slice(&buf[..n]),
                Err(e) => {
                    self.end = format!("{:?}", e.kind());
                    return;
                }
            }
        }
    }
}

/// Sends `bytes`, ending writes at each of `cuts`, on one connection to each address at once
/// (segment by segment, alternating), then half-closes both and reads both to the end.
pub(crate) fn drive(addrs: [SocketAddr; 2], bytes: &[u8], cuts: &[usize]) -> [Conn; 2] {
    let mut conns = addrs.map(Conn::open);
    let mut start = 0;
    for &end in cuts.iter().chain(std::iter::once(&bytes.len())) {
        for c in &mut conns {
            c.write(&bytes[start..end]);
        }
        start = end;
    }
    for c in &mut conns {
        c.finish();
    }
    conns
}

/// What a response says about its message framing and the connection.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Shape {
    pub status: u16,
    /// Interim 1xx responses before it.
    pub interim: Vec<u16>,
    /// `content-length: N`, `chunked`, or nothing.
    pub framing: Option<String>,
    /// Whether the response says the connection closes after it (`close`, or HTTP/1.0
    /// without `keep-alive`).
    pub closes: bool,
    /// The body, de-chunked; `None` when the stream ends inside it.
    pub body: Option<Vec<u8>>,
}

/// A chunked body at the start of `b`, leniently: its data and length.
fn dechunk(b: &[u8]) -> Option<(Vec<u8>, usize)> {
    let (mut pos, mut data) = (0, Vec::new());
    let line_end = |from: usize| b[from..].windows(2).position(|w| w == b"\r\n").map(|i| from + i);
    loop {
        let end = line_end(pos)?;
        let line = std::str::from_utf8(&b[pos..end]).ok()?;
        let size = usize::from_str_radix(line.split(';').next()?.trim(), 16).ok()?;
        pos = end + 2;
        if size == 0 {
            // Trailers, then the empty line.
            loop {
                let end = line_end(pos)?;
                let empty = end == pos;
                pos = end + 2;
                if empty {
                    return Some((data, pos));
                }
            }
        }
        data.extend_from_slice(b.get(pos..pos + size)?);
        pos += size + 2;
    }
}

/// The responses in a server's byte stream, as far as they parse. `methods` are the methods
/// of the requests the handler saw, in order (a response to HEAD has no body; a 2xx to
/// CONNECT is followed by tunnel bytes).
pub(crate) fn shapes(mut bytes: &[u8], methods: &[&str]) -> Vec<Shape> {
    let mut out = Vec::new();
    let mut interim = Vec::new();
    loop {
        let mut hs = [httparse::EMPTY_HEADER; 64];
        let mut r = httparse::Response::new(&mut hs);
        let Ok(httparse::Status::Complete(n)) = r.parse(bytes) else { return out };
        let status = r.code.unwrap_or(0);
        bytes = &bytes[n..];
        if (100..200).contains(&status) {
            interim.push(status);
            continue;
        }
        let field = |name: &str| {
            r.headers
                .iter()
                .filter(|h| h.name.eq_ignore_ascii_case(name))
                .map(|h| String::from_utf8_lossy(h.value).to_ascii_lowercase())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let (cl, te, conn) =
            (field("content-length"), field("transfer-encoding"), field("connection"));
        let framing = if !te.is_empty() {
            Some(te.clone())
        } else if !cl.is_empty() {
            Some(format!("content-length: {cl}"))
        } else {
            None
        };
        let has = |t: &str| conn.split(',').any(|x| x.trim() == t);
        let closes = has("close") || (r.version == Some(0) && !has("keep-alive"));
        let method = methods.get(out.len()).copied().unwrap_or("GET");
        let interim = std::mem::take(&mut interim);
        if (method == "CONNECT" && (200..300).contains(&status))
            || method == "HEAD"
            || status == 204
            || status == 304
        {
            out.push(Shape { status, interim, framing, closes, body: Some(vec![]) });
            if method == "CONNECT" && (200..300).contains(&status) {
                return out;
            }
            continue;
        }
        let (body, used) = if te.contains("chunked") {
            match dechunk(bytes) {
                Some((d, used)) => (Some(d), used),
                None => (None, bytes.len()),
            }
        } else if let Some(len) = cl.split(',').next().and_then(|v| v.trim().parse::<usize>().ok())
        {
            match bytes.get(..len) {
                Some(d) => (Some(d.to_vec()), len),
                None => (None, bytes.len()),
            }
        } else {
            // Until close.
            (Some(bytes.to_vec()), bytes.len())
        };
        let done = body.is_none();
        out.push(Shape { status, interim, framing, closes, body });
        bytes = &bytes[used..];
        if done {
            return out;
        }
    }
}

/// A raw backend for the client side, one for a whole run (a listener per case would use up
/// the ephemeral ports). Armed with a case, the first connection it accepts gets the
/// crafted response to its first request (then the backend closes its side if
/// `close_after`); every other request gets a small well-formed response. Counts requests per
/// connection.
pub(crate) struct Backend {
    pub addr: SocketAddr,
    state: Arc<Mutex<Armed>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// What the first connection of a case gets.
#[derive(Default)]
struct Crafted {
    bytes: Vec<u8>,
    cuts: Vec<usize>,
    close_after: bool,
}

#[derive(Default)]
struct Armed {
    crafted: Arc<Crafted>,
    first_taken: bool,
    conns: Vec<JoinHandle<usize>>,
}

pub(crate) const GOOD: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nGOOD";

/// Reads one request head; false at EOF or error.
fn read_head(c: &mut TcpStream) -> bool {
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

fn serve_backend_conn(mut c: TcpStream, first: Option<Arc<Crafted>>) -> usize {
    let _ = c.set_read_timeout(Some(LIVENESS));
    let _ = c.set_nodelay(true);
    let mut n = 0;
    while read_head(&mut c) {
        n += 1;
        match &first {
            Some(crafted) if n == 1 => {
                let mut start = 0;
                for &end in crafted.cuts.iter().chain(std::iter::once(&crafted.bytes.len())) {
                    let _ = c.write_all(&crafted.bytes[start..end]);
                    start = end;
                }
                if crafted.close_after {
                    let _ = c.shutdown(Shutdown::Write);
                }
            }
            _ => {
                let _ = c.write_all(GOOD);
            }
        }
    }
    n
}

impl Backend {
    pub(crate) fn start() -> Backend {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let state = Arc::new(Mutex::new(Armed::default()));
        let (s, st) = (stop.clone(), state.clone());
        let thread = std::thread::spawn(move || loop {
            let Ok((c, _)) = l.accept() else { continue };
            if s.load(Ordering::SeqCst) {
                return;
            }
            let mut a = st.lock().unwrap();
            let first = (!std::mem::replace(&mut a.first_taken, true)).then(|| a.crafted.clone());
            a.conns.push(std::thread::spawn(move || serve_backend_conn(c, first)));
        });
        Backend { addr, state, stop, thread: Some(thread) }
    }

    /// The next connection gets `crafted`.
    pub(crate) fn arm(&self, crafted: &[u8], cuts: &[usize], close_after: bool) {
        let mut a = self.state.lock().unwrap();
        assert!(a.conns.is_empty(), "the last case was not collected");
        *a = Armed {
            crafted: Arc::new(Crafted {
                bytes: crafted.to_vec(),
                cuts: cuts.to_vec(),
                close_after,
            }),
            first_taken: false,
            conns: Vec::new(),
        };
    }

    /// Once the client has closed its connections: the number of requests each connection
    /// since `arm` carried, in accept order.
    pub(crate) fn collect(&self) -> Vec<usize> {
        let conns = std::mem::take(&mut self.state.lock().unwrap().conns);
        conns.into_iter().map(|t| t.join().unwrap()).collect()
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        if let Some(t) = self.thread.take() {
            self.stop.store(true, Ordering::SeqCst);
            let _ = TcpStream::connect(self.addr);
            let _ = t.join();
        }
        self.collect();
    }
}
