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
pub const LIVENESS: Duration = Duration::from_secs(10);

/// What a handler saw of one request.
#[derive(Clone, Debug, PartialEq)]
pub struct Seen {
    pub method: String,
    pub target: String,
    pub version: String,
    /// The fields whose handling is in question, every line in order.
    pub fields: Vec<(String, Vec<u8>)>,
    /// `None` until the handler has read the body (a server may drop a handler mid-body).
    pub body: Option<Result<Vec<u8>, String>>,
}

const RECORDED: &[&str] = &["host", "connection", "expect", "upgrade", "x-probe"];

fn seen(method: &str, target: String, version: http::Version, h: &http::HeaderMap) -> Seen {
    let fields = h
        .iter()
        .filter(|(n, _)| RECORDED.contains(&n.as_str()))
        .map(|(n, v)| (n.as_str().to_string(), v.as_bytes().to_vec()))
        .collect();
    Seen { method: method.into(), target, version: format!("{version:?}"), fields, body: None }
}

/// Per-connection logs, keyed by the client's port.
pub type Log = Arc<Mutex<HashMap<u16, Vec<Seen>>>>;

fn record(log: &Log, port: u16, s: Seen) -> usize {
    let mut l = log.lock().unwrap();
    let v = l.entry(port).or_default();
    v.push(s);
    v.len() - 1
}

fn record_body(log: &Log, port: u16, i: usize, body: Result<Vec<u8>, String>) {
    log.lock().unwrap().get_mut(&port).unwrap()[i].body = Some(body);
}

pub const RESPONSE_BODY: &[u8] = b"ok";

pub struct GroveServer {
    pub addr: SocketAddr,
    pub log: Log,
    stop: grove::sync::mt::Event,
    thread: Option<JoinHandle<()>>,
}

impl GroveServer {
    pub fn start() -> GroveServer {
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
                            let mut body = Vec::new();
                            let r = req.into_body().read_to_end(&mut body);
                            record_body(&l, port, i, r.map(|_| body).map_err(|e| e.to_string()));
                            grove_http::Response::new(grove_http::Body::from(RESPONSE_BODY))
                        })
                    });
                    s.wait();
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

pub struct HyperServer {
    pub addr: SocketAddr,
    pub log: Log,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

async fn hyper_handler(
    req: hyper::Request<hyper::body::Incoming>,
    log: Log,
    port: u16,
) -> Result<hyper::Response<http_body_util::Full<bytes::Bytes>>, std::convert::Infallible> {
    use http_body_util::BodyExt;
    let i = record(
        &log,
        port,
        seen(req.method().as_str(), req.uri().to_string(), req.version(), req.headers()),
    );
    let body = req.into_body().collect().await;
    record_body(&log, port, i, body.map(|c| c.to_bytes().to_vec()).map_err(|e| e.to_string()));
    Ok(hyper::Response::new(http_body_util::Full::new(bytes::Bytes::from_static(RESPONSE_BODY))))
}

impl HyperServer {
    pub fn start() -> HyperServer {
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
pub struct Conn {
    pub port: u16,
    pub stream: TcpStream,
    pub write_failed: bool,
    pub response: Vec<u8>,
    /// How reading ended: `eof`, or the error.
    pub end: String,
}

impl Conn {
    pub fn open(addr: SocketAddr) -> Conn {
        let stream = TcpStream::connect(addr).unwrap();
        stream.set_nodelay(true).unwrap();
        stream.set_read_timeout(Some(LIVENESS)).unwrap();
        stream.set_write_timeout(Some(LIVENESS)).unwrap();
        let port = stream.local_addr().unwrap().port();
        Conn { port, stream, write_failed: false, response: Vec::new(), end: String::new() }
    }

    pub fn write(&mut self, b: &[u8]) {
        if !self.write_failed && self.stream.write_all(b).is_err() {
            self.write_failed = true;
        }
    }

    /// Half-closes and reads until the server closes.
    pub fn finish(&mut self) {
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
pub fn drive(addrs: [SocketAddr; 2], bytes: &[u8], cuts: &[usize]) -> [Conn; 2] {
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
pub struct Shape {
    pub status: u16,
    /// Interim 1xx responses before it.
    pub interim: Vec<u16>,
    /// `content-length: N`, `chunked`, or nothing.
    pub framing: Option<String>,
    /// Whether the response says the connection closes after it (`close`, or HTTP/1.0
    /// without `keep-alive`).
    pub closes: bool,
}

/// The responses in a server's byte stream, as far as they parse. `methods` are the methods
/// of the requests the handler saw, in order (a response to HEAD has no body; a 2xx to
/// CONNECT is followed by tunnel bytes).
pub fn shapes(mut bytes: &[u8], methods: &[&str]) -> Vec<Shape> {
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
            Some(te)
        } else if !cl.is_empty() {
            Some(format!("content-length: {cl}"))
        } else {
            None
        };
        let has = |t: &str| conn.split(',').any(|x| x.trim() == t);
        let closes = has("close") || (r.version == Some(0) && !has("keep-alive"));
        let method = methods.get(out.len()).copied().unwrap_or("GET");
        out.push(Shape { status, interim: std::mem::take(&mut interim), framing, closes });
        if method == "CONNECT" && (200..300).contains(&status) {
            return out;
        }
        let len: usize = cl.split(',').next().and_then(|v| v.trim().parse().ok()).unwrap_or(0);
        let body = if method == "HEAD" || status == 204 || status == 304 { 0 } else { len };
        if body > bytes.len() {
            return out;
        }
        bytes = &bytes[body..];
    }
}

/// A raw backend for the client side, one for a whole run (a listener per case would use up
/// the ephemeral ports). Armed with a case, the first connection it accepts gets the
/// crafted response to its first request (then the backend closes its side if
/// `close_after`); every other request gets a small well-formed response. Counts requests per
/// connection.
pub struct Backend {
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

pub const GOOD: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nGOOD";

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
    pub fn start() -> Backend {
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
    pub fn arm(&self, crafted: &[u8], cuts: &[usize], close_after: bool) {
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
    pub fn collect(&self) -> Vec<usize> {
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
