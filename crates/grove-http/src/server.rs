//! The HTTP/1.1 server: a greenlet per connection running a plain blocking loop (gevent's
//! pywsgi model) — read a head, call the handler, write the response, repeat while keep-alive.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use grove::net::TcpListener;
use grove::pool::Group;
use grove::sync::{Event, Semaphore};
use http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Version};

use crate::body::{Body, BodyState, Framing, Incoming, ReadHalf};
use crate::chunked::ChunkedDecoder;
use crate::stream::Stream;

/// A request as handlers see it: the `http` crate's type with a readable body.
pub type Request = http::Request<Incoming>;
/// A response as handlers return it.
pub type Response = http::Response<Body>;

/// Server limits and timeouts.
#[derive(Debug, Clone)]
pub struct Config {
    /// Most header fields in a request head (more: 431).
    pub max_headers: usize,
    /// Most bytes in a request head (more: 431).
    pub max_head_bytes: usize,
    /// Largest request body accepted by Content-Length (more: 413). Chunked bodies are not
    /// limited here; a handler reads what it wants.
    pub max_body_bytes: u64,
    /// How long a keep-alive connection may sit idle between requests.
    pub idle_timeout: Duration,
    /// How long a client may take to send a complete request head once it started (slowloris).
    pub head_timeout: Duration,
    /// How long one read of the request body may wait.
    pub body_timeout: Duration,
    /// Most connections served at once (accepting pauses at the limit); `None`: no limit.
    pub max_connections: Option<usize>,
    /// How much of an unread request body is skipped to keep the connection alive.
    pub drain_limit: u64,
    /// Print an access log line per request to stderr.
    pub access_log: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_headers: 100,
            max_head_bytes: 64 * 1024,
            max_body_bytes: 64 * 1024 * 1024,
            idle_timeout: Duration::from_secs(60),
            head_timeout: Duration::from_secs(30),
            body_timeout: Duration::from_secs(60),
            max_connections: None,
            drain_limit: 1024 * 1024,
            access_log: false,
        }
    }
}

struct Shared {
    stopping: Cell<bool>,
    stop: Event,
    /// Connections waiting for a next request, which shutdown may close at once.
    idle: RefCell<std::collections::HashMap<u64, grove::Greenlet>>,
}

/// Stops a running server gracefully: no new connections, in-flight requests finish, idle
/// keep-alive connections close. Cloneable; hub-local.
#[derive(Clone)]
pub struct ShutdownHandle {
    shared: Rc<Shared>,
}

impl fmt::Debug for ShutdownHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ShutdownHandle(stopping: {})", self.shared.stopping.get())
    }
}

impl ShutdownHandle {
    /// Starts the graceful shutdown; `serve` returns once every connection is done.
    pub fn shutdown(&self) {
        self.shared.stopping.set(true);
        self.shared.stop.set();
    }
}

/// An HTTP/1.1 server bound to a listener.
///
/// ```no_run
/// use grove_http::{Response, Server};
/// grove::run(|| {
///     let server = Server::bind("127.0.0.1:8080").unwrap();
///     server.serve(|_req| Response::new("Hello, World!".into())).unwrap();
/// });
/// ```
pub struct Server {
    listener: Rc<TcpListener>,
    config: Config,
    tls: Option<Arc<grove::tls::rustls::ServerConfig>>,
    shared: Rc<Shared>,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Server({:?})", self.listener.local_addr())
    }
}

impl Server {
    /// Binds a listener (names resolve cooperatively).
    ///
    /// # Errors
    /// The bind error.
    pub fn bind(addr: impl grove::net::ToAddrs) -> io::Result<Server> {
        Ok(Server::from_listener(TcpListener::bind(addr)?))
    }

    /// Binds with SO_REUSEPORT, so each hub of a [`grove::Runtime`] can run its own server on
    /// the same address (the kernel spreads connections).
    ///
    /// # Errors
    /// The bind error.
    pub fn bind_reuseport(addr: SocketAddr) -> io::Result<Server> {
        Ok(Server::from_listener(TcpListener::bind_reuseport(addr)?))
    }

    /// Serves on an existing listener.
    pub fn from_listener(listener: TcpListener) -> Server {
        Server {
            listener: Rc::new(listener),
            config: Config::default(),
            tls: None,
            shared: Rc::new(Shared {
                stopping: Cell::new(false),
                stop: Event::new(),
                idle: RefCell::new(std::collections::HashMap::new()),
            }),
        }
    }

    /// Replaces the configuration.
    pub fn with_config(mut self, config: Config) -> Server {
        self.config = config;
        self
    }

    /// Serves HTTPS: every connection first completes a TLS handshake (within
    /// `head_timeout`) with this rustls configuration. Build it with
    /// `grove::tls::provider()`; ALPN, if set, should offer `http/1.1`.
    pub fn with_tls(mut self, config: Arc<grove::tls::rustls::ServerConfig>) -> Server {
        self.tls = Some(config);
        self
    }

    /// The bound address.
    ///
    /// # Errors
    /// The OS error.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// A handle to stop the server gracefully.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle { shared: self.shared.clone() }
    }

    /// Serves connections, each in its own greenlet, until shut down. Returns when every
    /// connection has finished.
    ///
    /// # Errors
    /// Never for per-connection problems (those close that connection); accept errors such as
    /// EMFILE pause accepting briefly and are logged.
    pub fn serve(self, handler: impl Fn(Request) -> Response + 'static) -> io::Result<()> {
        let handler: Rc<dyn Fn(Request) -> Response> = Rc::new(handler);
        let config = Rc::new(self.config);
        let conns = Group::new();
        let limit = config.max_connections.map(Semaphore::new);
        let (listener, shared) = (self.listener.clone(), self.shared.clone());
        let tls = self.tls.clone();
        let cs = conns.clone();
        let acceptor = grove::Builder::new().name("http-accept").spawn(move || loop {
            // At the connection limit, stop accepting until a connection ends. (The wait can
            // only fail when the acceptor is being killed: it is never main.)
            let Ok(permit) = limit.as_ref().map(Semaphore::acquire).transpose() else { return };
            let (stream, peer) = match listener.accept() {
                Ok(x) => x,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning; keep serving.
                    grove::diag::report(
                        grove::diag::Kind::Io,
                        format_args!("grove-http: accept failed: {e}"),
                    );
                    grove::sleep(Duration::from_millis(50));
                    continue;
                }
            };
            let (handler, config, shared) = (handler.clone(), config.clone(), shared.clone());
            let tls = tls.clone();
            cs.spawn(move || {
                let _permit = permit;
                let _ = stream.set_nodelay(true);
                let stream = match tls {
                    None => Stream::Plain(stream),
                    Some(cfg) => match grove::tls::accept(cfg, stream, Some(config.head_timeout)) {
                        Ok(t) => Stream::Tls(grove::tls::Duplex::new(t)),
                        // A failed or stalled handshake only ends this connection.
                        Err(_) => return,
                    },
                };
                serve_connection(stream, peer, &*handler, &config, &shared)
            });
        });
        // However this wait ends (a shutdown request, or this greenlet being unwound), the
        // server shuts down in order; while unwinding the waits below return at once and the
        // kills still happen.
        let _ = self.shared.stop.wait();
        let _ = acceptor.kill();
        // Close connections that sit idle between requests; busy ones finish their request.
        let idle: Vec<_> = self.shared.idle.borrow_mut().drain().collect();
        for (_, g) in idle {
            g.kill_nowait();
        }
        let _ = conns.join();
        Ok(())
    }
}

/// Why reading a request head failed.
pub(crate) enum HeadError {
    /// Clean end: EOF or idle timeout before any byte of a new request.
    Closed,
    /// Answer with this status and close.
    Reject(StatusCode, &'static str),
}

pub(crate) struct Head {
    pub(crate) method: Method,
    pub(crate) uri: http::Uri,
    pub(crate) version: Version,
    pub(crate) headers: HeaderMap,
    pub(crate) len: usize,
}

fn read_head(
    conn: &RefCell<ReadHalf>,
    out: &mut Vec<u8>,
    config: &Config,
    shared: &Shared,
) -> Result<Head, HeadError> {
    let mut started: Option<Instant> = None;
    loop {
        {
            let c = conn.borrow();
            let buf = c.buffered();
            if !buf.is_empty() {
                started.get_or_insert_with(grove::hub::now);
                match parse_head(buf, config.max_headers) {
                    Ok(Some(h)) if h.len > config.max_head_bytes => {
                        return Err(head_too_large(buf, config))
                    }
                    Ok(Some(h)) => return Ok(h),
                    Ok(None) => {}
                    Err(e) => return Err(e),
                }
                if buf.len() >= config.max_head_bytes {
                    return Err(head_too_large(buf, config));
                }
            }
        }
        let deadline = match started {
            None => grove::hub::now() + config.idle_timeout,
            Some(s) => s + config.head_timeout,
        };
        let idle = started.is_none();
        if idle && shared.stopping.get() {
            return Err(HeadError::Closed);
        }
        let me = idle.then(|| {
            let g = grove::getcurrent();
            shared.idle.borrow_mut().insert(g.id(), g.clone());
            g.id()
        });
        let r = if idle {
            idle_read(conn, out, config.max_head_bytes, deadline)
        } else {
            conn.borrow_mut().fill(config.max_head_bytes, Some(deadline))
        };
        if let Some(id) = me {
            shared.idle.borrow_mut().remove(&id);
        }
        match r {
            Ok(0) | Err(_) if started.is_none() => return Err(HeadError::Closed),
            Ok(0) => return Err(HeadError::Closed),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                return Err(HeadError::Reject(
                    StatusCode::REQUEST_TIMEOUT,
                    "request head timed out",
                ))
            }
            Err(e) if e.kind() == io::ErrorKind::OutOfMemory => {
                return Err(HeadError::Reject(
                    StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                    "request head too large",
                ))
            }
            Err(_) => return Err(HeadError::Closed),
        }
    }
}

/// A request head over the size limit: 414 when its request line takes half the limit or
/// more (RFC 9112 §3: the target is what is too long), 431 otherwise.
fn head_too_large(buf: &[u8], config: &Config) -> HeadError {
    let line = buf.iter().position(|&b| b == b'\n').unwrap_or(buf.len());
    if line >= config.max_head_bytes / 2 {
        HeadError::Reject(StatusCode::URI_TOO_LONG, "request target too long")
    } else {
        HeadError::Reject(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, "request head too large")
    }
}

/// RFC 9112 §3.2: an HTTP/1.1 request has exactly one Host field, and a Host field holds a
/// valid `uri-host [":" port]` (or is empty, for targets without an authority).
pub(crate) fn check_host(head: &Head) -> Result<(), (StatusCode, &'static str)> {
    let mut hosts = head.headers.get_all(header::HOST).iter();
    let bad = |why| Err((StatusCode::BAD_REQUEST, why));
    let Some(host) = hosts.next() else {
        return if head.version == Version::HTTP_10 { Ok(()) } else { bad("missing Host") };
    };
    if hosts.next().is_some() {
        return bad("more than one Host");
    }
    if host.is_empty() {
        return Ok(());
    }
    let valid_port = |h: &str| {
        // The port is what follows the last `:` outside an IPv6 literal's brackets.
        match h.rfind(':').filter(|&i| !h[i..].contains(']')) {
            None => true,
            Some(i) => {
                let p = &h[i + 1..];
                p.is_empty() || (p.bytes().all(|b| b.is_ascii_digit()) && p.parse::<u16>().is_ok())
            }
        }
    };
    let valid = std::str::from_utf8(host.as_bytes())
        .ok()
        .filter(|h| !h.contains('@') && valid_port(h))
        .is_some_and(|h| h.parse::<http::uri::Authority>().is_ok());
    if valid {
        Ok(())
    } else {
        bad("invalid Host")
    }
}

/// How long an idle keep-alive connection keeps its read buffer while it waits for the next
/// request: a busy connection's next request is usually there by then; after it the buffer
/// goes back to the thread's pool until the socket is readable.
const IDLE_LINGER: Duration = Duration::from_millis(50);

/// Waits (until `deadline`) for the first bytes of the next request on an idle connection and
/// reads them. A plain-TCP connection idle past [`IDLE_LINGER`] holds no read buffer (nor
/// response buffer `out`, nor stack pages below its waiting frames) while it waits (TLS keeps it: the TLS layer may hold decrypted bytes the socket does not show).
fn idle_read(
    conn: &RefCell<ReadHalf>,
    out: &mut Vec<u8>,
    max: usize,
    deadline: Instant,
) -> io::Result<usize> {
    if matches!(conn.borrow().stream, Stream::Plain(_)) {
        let linger = deadline.min(grove::hub::now() + IDLE_LINGER);
        // A new connection's first bytes, like a busy one's next request, usually come at once:
        // read with a buffer first (taken from the pool), and give everything back only once
        // the connection has been quiet for the linger.
        if linger < deadline {
            match conn.borrow_mut().fill(max, Some(linger)) {
                Err(e) if e.kind() == io::ErrorKind::TimedOut => {}
                r => return r,
            }
        }
        conn.borrow_mut().release_buffer();
        *out = Vec::new(); // the response buffer too
                           // Pages the last request's handler ran deep in: not needed while idle.
        grove::hub::release_unused_stack();
        // A handle of the socket (not a borrow of `conn` held across the wait).
        let tcp = match &conn.borrow().stream {
            Stream::Plain(s) => s.clone(),
            _ => unreachable!("checked above"),
        };
        let mut sel = grove::select::Select::new();
        sel.readable(&tcp)?;
        match sel.wait_deadline(deadline) {
            Ok(_) => {}
            Err(grove::WaitError::TimedOut) => {
                return Err(io::Error::new(io::ErrorKind::TimedOut, "idle timeout"))
            }
            Err(e) => return Err(io::Error::other(e)),
        }
    }
    conn.borrow_mut().fill(max, Some(deadline))
}

/// Parses a request head; `Ok(None)` when more bytes are needed. Out of line so its 2 KiB
/// header array is not part of the connection loop's frame for the connection's lifetime.
#[inline(never)]
pub(crate) fn parse_head(buf: &[u8], max_headers: usize) -> Result<Option<Head>, HeadError> {
    const INLINE: usize = 64;
    let mut small = [httparse::EMPTY_HEADER; INLINE];
    let mut big;
    let headers: &mut [httparse::Header<'_>] = if max_headers <= INLINE {
        &mut small[..max_headers]
    } else {
        big = vec![httparse::EMPTY_HEADER; max_headers];
        &mut big
    };
    let mut req = httparse::Request::new(headers);
    let len = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(HeadError::Reject(
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "too many header fields",
            ))
        }
        Err(_) => return Err(HeadError::Reject(StatusCode::BAD_REQUEST, "malformed request head")),
    };
    let bad = |why| HeadError::Reject(StatusCode::BAD_REQUEST, why);
    let method = Method::from_bytes(req.method.unwrap_or("").as_bytes())
        .map_err(|_| bad("invalid method"))?;
    let uri: http::Uri =
        req.path.unwrap_or("").parse().map_err(|_| bad("invalid request target"))?;
    let version = if req.version == Some(0) { Version::HTTP_10 } else { Version::HTTP_11 };
    let mut headers = HeaderMap::with_capacity(req.headers.len());
    for h in req.headers.iter() {
        let name =
            HeaderName::from_bytes(h.name.as_bytes()).map_err(|_| bad("invalid header name"))?;
        let value = HeaderValue::from_bytes(h.value).map_err(|_| bad("invalid header value"))?;
        headers.append(name, value);
    }
    Ok(Some(Head { method, uri, version, headers, len }))
}

/// The codings of Transfer-Encoding values, lowercased, in order. Empty list elements are
/// allowed (RFC 9110 §5.6.1): `, chunked` is `chunked`; a value that is not text becomes an
/// unknown coding.
pub(crate) fn transfer_codings<'a>(values: impl Iterator<Item = &'a HeaderValue>) -> Vec<String> {
    values
        .flat_map(|v| v.to_str().unwrap_or("\u{0}").split(','))
        .map(|c| c.trim().to_ascii_lowercase())
        .filter(|c| !c.is_empty())
        .collect()
}

/// Decides how the request body is delimited, rejecting ambiguous framing (request smuggling:
/// both Content-Length and Transfer-Encoding, conflicting lengths, unknown codings).
pub(crate) fn request_framing(
    head: &Head,
    config: &Config,
) -> Result<Framing, (StatusCode, &'static str)> {
    let te: Vec<&HeaderValue> = head.headers.get_all(header::TRANSFER_ENCODING).iter().collect();
    let cl: Vec<&HeaderValue> = head.headers.get_all(header::CONTENT_LENGTH).iter().collect();
    if !te.is_empty() {
        if !cl.is_empty() {
            return Err((StatusCode::BAD_REQUEST, "both Content-Length and Transfer-Encoding"));
        }
        if head.version == Version::HTTP_10 {
            return Err((StatusCode::BAD_REQUEST, "Transfer-Encoding in an HTTP/1.0 request"));
        }
        let codings = transfer_codings(te.iter().copied());
        return match codings.as_slice() {
            [only] if only == "chunked" => Ok(Framing::Chunked(ChunkedDecoder::new())),
            _ if codings.last().map(String::as_str) != Some("chunked") => {
                Err((StatusCode::BAD_REQUEST, "Transfer-Encoding must end in chunked"))
            }
            _ => Err((StatusCode::NOT_IMPLEMENTED, "unsupported transfer coding")),
        };
    }
    let len = content_length(cl.into_iter()).map_err(|why| (StatusCode::BAD_REQUEST, why))?;
    match len {
        Some(n) if n > config.max_body_bytes => {
            Err((StatusCode::PAYLOAD_TOO_LARGE, "request body too large"))
        }
        Some(0) | None => Ok(Framing::Empty),
        Some(n) => Ok(Framing::Length(n)),
    }
}

/// The length given by Content-Length field lines: each value `1*DIGIT` (RFC 9110 §8.6; no
/// sign, any number of leading zeros), repeated only as identical values (`42, 42`).
///
/// # Errors
/// A malformed or too large value, or two different values.
pub(crate) fn content_length<'a>(
    values: impl Iterator<Item = &'a HeaderValue>,
) -> Result<Option<u64>, &'static str> {
    let mut len: Option<u64> = None;
    for v in values {
        for part in v.to_str().unwrap_or("x").split(',') {
            let p = part.trim_matches([' ', '\t']);
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err("invalid Content-Length");
            }
            let significant = p.trim_start_matches('0');
            let n: u64 = if significant.is_empty() {
                0
            } else if significant.len() > 19 {
                return Err("Content-Length too large");
            } else {
                significant.parse().map_err(|_| "Content-Length too large")?
            };
            if len.is_some_and(|l| l != n) {
                return Err("conflicting Content-Length values");
            }
            len = Some(n);
        }
    }
    Ok(len)
}

/// Whether a Connection field line of `headers` lists `token`.
pub(crate) fn has_token(headers: &HeaderMap, token: &str) -> bool {
    headers.get_all(header::CONNECTION).iter().any(|v| {
        v.to_str().is_ok_and(|s| s.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    })
}

pub(crate) fn wants_keep_alive(version: Version, headers: &HeaderMap) -> bool {
    // `close` wins over `keep-alive` (RFC 9112 §9.3, §9.6).
    !has_token(headers, "close")
        && (version != Version::HTTP_10 || has_token(headers, "keep-alive"))
}

fn serve_connection(
    stream: Stream,
    peer: SocketAddr,
    handler: &dyn Fn(Request) -> Response,
    config: &Config,
    shared: &Shared,
) {
    PEER.with(|p| p.set(Some(peer)));
    let Ok(writer) = stream.try_clone() else { return };
    let conn = Rc::new(RefCell::new(ReadHalf::new(stream)));
    let mut out = Vec::new(); // grows with the first response
    loop {
        let head = match read_head(&conn, &mut out, config, shared) {
            Ok(h) => h,
            Err(HeadError::Closed) => return,
            Err(HeadError::Reject(status, why)) => {
                let _ = write_error(&writer, &mut out, status, why);
                return;
            }
        };
        conn.borrow_mut().consume(head.len);
        let framing = match check_host(&head).and_then(|()| request_framing(&head, config)) {
            Ok(f) => f,
            Err((status, why)) => {
                let _ = write_error(&writer, &mut out, status, why);
                return;
            }
        };
        let mut keep_alive =
            wants_keep_alive(head.version, &head.headers) && !shared.stopping.get();
        let expects_continue = head.version == Version::HTTP_11
            && head
                .headers
                .get(header::EXPECT)
                .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
        let has_body = !matches!(framing, Framing::Empty);
        let body = Rc::new(BodyState {
            conn: conn.clone(),
            framing: RefCell::new(framing),
            continue_pending: Cell::new(expects_continue && has_body),
            read_timeout: Some(config.body_timeout),
            max_buffer: config.max_head_bytes.max(64 * 1024),
        });
        let answer_to = if head.method == Method::HEAD {
            AnswerTo::Head
        } else if head.method == Method::CONNECT {
            AnswerTo::Connect
        } else {
            AnswerTo::Other
        };
        let (method, uri, version) = (head.method.clone(), head.uri.clone(), head.version);
        let mut req = http::Request::new(Incoming { state: has_body.then(|| body.clone()) });
        *req.method_mut() = head.method;
        *req.uri_mut() = head.uri;
        *req.version_mut() = head.version;
        *req.headers_mut() = head.headers;
        let started = config.access_log.then(Instant::now);
        let resp = match panic::catch_unwind(AssertUnwindSafe(|| handler(req))) {
            Ok(r) => r,
            Err(p) => {
                if p.is::<grove::GreenletExit>() {
                    panic::resume_unwind(p);
                }
                keep_alive = false;
                let msg = p
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| p.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                grove::diag::report(
                    grove::diag::Kind::Panic,
                    format_args!("grove-http: handler panicked on {method} {uri}: {msg}"),
                );
                let mut r = Response::new(Body::from("internal server error\n"));
                *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                r
            }
        };
        let status = resp.status();
        // After a 2xx to CONNECT or a 101 the connection carries another protocol, which this
        // server cannot relay: its bytes must never be parsed as requests (RFC 9110 §9.3.6).
        if (method == Method::CONNECT && status.is_success())
            || status == StatusCode::SWITCHING_PROTOCOLS
        {
            keep_alive = false;
        }
        // A handler that answers `Connection: close` closes the connection (RFC 9112 §9.6).
        if has_token(resp.headers(), "close") {
            keep_alive = false;
        }
        // A body the handler left unread: the response goes out first (a handler may reject
        // early), then the rest is skipped if it is small enough to keep the connection;
        // otherwise the connection closes.
        let unread = !body.is_done();
        if unread && !body.drainable(config.drain_limit) {
            keep_alive = false;
        }
        // A body that can only end with the connection closes it (`keep_alive` comes back
        // false then).
        let mut sent = write_response(&writer, &mut out, resp, version, answer_to, &mut keep_alive);
        if sent.is_ok() && keep_alive && unread && !body.drain(config.drain_limit) {
            keep_alive = false;
            sent = Err(io::Error::other("request body could not be skipped"));
        }
        if config.access_log {
            access_log(format_args!(
                "{peer} \"{method} {uri} {version:?}\" {} {} {:.3}ms",
                status.as_u16(),
                sent.as_ref().map_or(0, |n| *n),
                started.map_or(0.0, |s| s.elapsed().as_secs_f64() * 1e3)
            ));
        }
        if sent.is_err() || !keep_alive {
            writer.shutdown_write();
            if unread {
                linger(&conn, config);
            }
            return;
        }
    }
}

/// Before closing a connection whose request body was not read: its write side is shut;
/// read and discard what the client still sends, for a bounded time and amount, so that the
/// close does not reset the connection (an RST can destroy the response the client has not
/// read yet).
#[inline(never)]
fn linger(conn: &RefCell<ReadHalf>, config: &Config) {
    let deadline = Instant::now() + config.body_timeout.min(Duration::from_secs(2));
    let mut left = config.drain_limit;
    loop {
        let mut c = conn.borrow_mut();
        let n = c.buffered().len();
        c.consume(n);
        left = left.saturating_sub(n as u64);
        if left == 0 || !matches!(c.fill(64 * 1024, Some(deadline)), Ok(1..)) {
            return;
        }
    }
}

/// One access-log line: to the log facade (target `grove_http::access`, level info) when the
/// program installed a logger, else to stderr (never panicking if stderr is closed).
fn access_log(line: std::fmt::Arguments<'_>) {
    if log::max_level() != log::LevelFilter::Off {
        log::info!(target: "grove_http::access", "{line}");
    } else {
        let _ = writeln!(io::stderr().lock(), "{line}");
    }
}

grove::local! {
    /// The peer of the connection served by the running greenlet.
    static PEER: Cell<Option<SocketAddr>> = Cell::new(None);
}

/// The client's address, when called from a handler (each connection is served by its own
/// greenlet, so this is a greenlet-local lookup, free of per-request allocation).
pub fn peer_addr() -> Option<SocketAddr> {
    PEER.with(Cell::get)
}

fn write_error(w: &Stream, out: &mut Vec<u8>, status: StatusCode, why: &str) -> io::Result<u64> {
    let mut r = Response::new(Body::from(format!("{why}\n")));
    *r.status_mut() = status;
    let n = write_response(w, out, r, Version::HTTP_11, AnswerTo::Other, &mut false);
    w.shutdown_write();
    n
}

struct DateCache {
    /// Hub clock reading when `text` was last checked against the wall clock.
    checked: Option<Instant>,
    secs: u64,
    text: String,
}

thread_local! {
    static DATE: RefCell<DateCache> =
        const { RefCell::new(DateCache { checked: None, secs: 0, text: String::new() }) };
}

/// The current HTTP date. The wall clock is consulted at most every 50 ms of hub time, and the
/// text re-formatted only when the second changes.
fn with_date(f: impl FnOnce(&str)) {
    let hub_now = grove::hub::now();
    DATE.with(|d| {
        let mut d = d.borrow_mut();
        let stale = d
            .checked
            .is_none_or(|c| hub_now.saturating_duration_since(c) >= Duration::from_millis(50));
        if stale {
            let now = std::time::SystemTime::now();
            let secs = now.duration_since(std::time::UNIX_EPOCH).map_or(0, |x| x.as_secs());
            if secs != d.secs || d.text.is_empty() {
                d.secs = secs;
                d.text = httpdate::fmt_http_date(now);
            }
            d.checked = Some(hub_now);
        }
        f(&d.text)
    })
}

fn bodyless(status: StatusCode) -> bool {
    status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
}

/// The request method, as far as the response's framing depends on it.
#[derive(Clone, Copy, PartialEq)]
enum AnswerTo {
    /// HEAD: the framing fields of the GET answer, no body.
    Head,
    /// CONNECT: a 2xx turns the connection into a tunnel.
    Connect,
    Other,
}

/// Writes a response; a `Full` body goes in the same write as the head. Returns the body bytes
/// sent. Sets `keep_alive` to false when the body is delimited by closing the connection.
fn write_response(
    w: &Stream,
    out: &mut Vec<u8>,
    resp: Response,
    version: Version,
    answer_to: AnswerTo,
    keep_alive: &mut bool,
) -> io::Result<u64> {
    let is_head = answer_to == AnswerTo::Head;
    let (parts, body) = resp.into_parts();
    out.clear();
    let status = parts.status;
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("Unknown").as_bytes());
    out.extend_from_slice(b"\r\n");
    let user_length = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.parse::<u64>().ok());
    for (name, value) in parts.headers.iter() {
        if name == header::CONTENT_LENGTH
            || name == header::TRANSFER_ENCODING
            || name == header::CONNECTION
            || name == header::DATE
        {
            continue;
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    with_date(|d| {
        out.extend_from_slice(b"date: ");
        out.extend_from_slice(d.as_bytes());
        out.extend_from_slice(b"\r\n");
    });
    // A 2xx to CONNECT has no framing fields and no body: what follows its head is the
    // tunnel (RFC 9110 §9.3.6), which this server does not relay, so nothing follows.
    let tunnel = answer_to == AnswerTo::Connect && status.is_success();
    let no_body = bodyless(status) || tunnel;
    // Decide the framing of the response body.
    enum Send {
        None,
        Bytes(std::borrow::Cow<'static, [u8]>),
        Exact(Box<dyn Read>, u64),
        Chunked(Box<dyn Read>),
        UntilClose(Box<dyn Read>),
    }
    let send = match body {
        _ if no_body => Send::None,
        Body::Empty => {
            out.extend_from_slice(b"content-length: 0\r\n");
            Send::None
        }
        Body::Full(b) => {
            push_length(out, b.len() as u64);
            Send::Bytes(b)
        }
        Body::File(f) => {
            let len = f.metadata()?.len();
            push_length(out, len);
            Send::Exact(Box::new(f), len)
        }
        Body::Stream(r) => match user_length {
            Some(len) => {
                push_length(out, len);
                Send::Exact(r, len)
            }
            // No body follows a HEAD answer, so nothing needs delimiting; an HTTP/1.0 GET
            // would get a body until close, which says nothing about its length.
            None if is_head && version == Version::HTTP_10 => Send::None,
            None if version == Version::HTTP_10 => {
                // The connection must close after this body: the caller's loop too.
                *keep_alive = false;
                Send::UntilClose(r)
            }
            None => {
                out.extend_from_slice(b"transfer-encoding: chunked\r\n");
                Send::Chunked(r)
            }
        },
    };
    if !*keep_alive {
        out.extend_from_slice(b"connection: close\r\n");
    } else if version == Version::HTTP_10 {
        out.extend_from_slice(b"connection: keep-alive\r\n");
    }
    out.extend_from_slice(b"\r\n");
    let mut w = w;
    if is_head {
        w.write_all(out)?;
        return Ok(0);
    }
    match send {
        Send::None => {
            w.write_all(out)?;
            Ok(0)
        }
        Send::Bytes(b) => {
            if b.len() <= 16 * 1024 {
                out.extend_from_slice(&b);
                w.write_all(out)?;
            } else {
                w.write_all(out)?;
                w.write_all(&b)?;
            }
            Ok(b.len() as u64)
        }
        Send::Exact(r, len) => {
            w.write_all(out)?;
            let n = copy_body(r.take(len), w)?;
            if n != len {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "body shorter than its length",
                ));
            }
            Ok(n)
        }
        Send::UntilClose(r) => {
            w.write_all(out)?;
            copy_body(r, w)
        }
        Send::Chunked(mut r) => {
            w.write_all(out)?;
            let mut buf = vec![0u8; 16 * 1024];
            let mut total = 0;
            loop {
                let n = r.read(&mut buf)?;
                if n == 0 {
                    w.write_all(b"0\r\n\r\n")?;
                    return Ok(total);
                }
                total += n as u64;
                let mut frame = Vec::with_capacity(n + 16);
                write!(frame, "{n:x}\r\n")?;
                frame.extend_from_slice(&buf[..n]);
                frame.extend_from_slice(b"\r\n");
                w.write_all(&frame)?;
            }
        }
    }
}

/// `io::copy` (an 8 KiB stack buffer) kept out of `write_response`'s frame: stack probes touch
/// every page of a frame, so inlined it would keep two more resident pages on every
/// connection's stack, streamed bodies or not.
#[inline(never)]
fn copy_body(mut r: impl Read, mut w: impl Write) -> io::Result<u64> {
    io::copy(&mut r, &mut w)
}

fn push_length(out: &mut Vec<u8>, n: u64) {
    // Writing into a Vec cannot fail.
    let _ = write!(out, "content-length: {n}\r\n");
}
