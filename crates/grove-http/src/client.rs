//! An HTTP/1.1 client on grove sockets: blocking calls, cooperative underneath.
//!
//! Written on `httparse` + grove's `TcpStream` rather than wrapping `ureq`: the server already
//! has the framing code (Content-Length, chunked, close-delimited) and sharing it keeps one
//! implementation of the smuggling-sensitive parts; ureq would also need a transport adapter.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::{self, Write};
use std::rc::Rc;
use std::time::Duration;

use grove::net::TcpStream;
use http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Version};

use crate::body::{BodyState, Framing, Incoming, ReadHalf};
use crate::chunked::ChunkedDecoder;
use crate::stream::Stream;

/// A response as the client returns it: the whole body read into memory.
pub type ClientResponse = http::Response<Vec<u8>>;

struct Conn {
    read: Rc<RefCell<ReadHalf>>,
    write: Stream,
}

impl Conn {
    /// Whether an idle connection can carry a new exchange: nothing buffered, and the socket
    /// neither at EOF nor holding bytes (a non-blocking peek; grove sockets are non-blocking).
    fn is_clean(&self) -> bool {
        if !self.read.borrow().buffered().is_empty() {
            return false;
        }
        let mut byte = [std::mem::MaybeUninit::<u8>::uninit()];
        matches!(
            socket2::SockRef::from(self.write.tcp()).peek(&mut byte),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock
        )
    }
}

/// A reusable client with a keep-alive connection pool per host. Cloning gives another
/// handle to the same client and pool, so greenlets can share one (it is hub-local: not
/// `Send`). Redirects are followed only when asked for ([`with_redirects`](Self::with_redirects)).
#[derive(Clone)]
pub struct Client {
    inner: Rc<Inner>,
}

struct Inner {
    idle: RefCell<HashMap<String, Vec<Conn>>>,
    timeout: Option<Duration>,
    max_idle_per_host: usize,
    max_head_bytes: usize,
    max_body_bytes: u64,
    redirects: usize,
    tls: Option<std::sync::Arc<grove::tls::rustls::ClientConfig>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Client(idle connections: {}, timeout: {:?})",
            self.idle_connections(),
            self.inner.timeout
        )
    }
}

impl Default for Client {
    fn default() -> Self {
        Client::new()
    }
}

fn invalid(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

impl Client {
    /// A client with a 30 s timeout per request, up to 8 idle connections per host, response
    /// bodies up to 64 MiB, and no redirects followed.
    pub fn new() -> Client {
        Client {
            inner: Rc::new(Inner {
                idle: RefCell::new(HashMap::new()),
                timeout: Some(Duration::from_secs(30)),
                max_idle_per_host: 8,
                max_head_bytes: 64 * 1024,
                max_body_bytes: 64 * 1024 * 1024,
                redirects: 0,
                tls: None,
            }),
        }
    }

    /// A client with these settings changed and a pool of its own (the settings are fixed
    /// once a client is shared).
    fn with(&self, change: impl FnOnce(&mut Inner)) -> Client {
        let i = &self.inner;
        let mut inner = Inner {
            idle: RefCell::new(HashMap::new()),
            timeout: i.timeout,
            max_idle_per_host: i.max_idle_per_host,
            max_head_bytes: i.max_head_bytes,
            max_body_bytes: i.max_body_bytes,
            redirects: i.redirects,
            tls: i.tls.clone(),
        };
        change(&mut inner);
        Client { inner: Rc::new(inner) }
    }

    /// Sets the timeout for a whole request (connect, send, receive, redirects); `None`: no
    /// limit.
    #[must_use]
    pub fn with_timeout(self, timeout: Option<Duration>) -> Client {
        self.with(|i| i.timeout = timeout)
    }

    /// Sets how many idle keep-alive connections are kept per host.
    #[must_use]
    pub fn with_max_idle_per_host(self, n: usize) -> Client {
        self.with(|i| i.max_idle_per_host = n)
    }

    /// Sets the largest response body read into memory (default 64 MiB); a larger one fails
    /// with `InvalidData` instead of growing the process.
    #[must_use]
    pub fn with_max_body_bytes(self, n: u64) -> Client {
        self.with(|i| i.max_body_bytes = n)
    }

    /// Enables `https://` with this rustls configuration (its root certificates decide which
    /// servers are trusted; the host name of the URL is checked against the certificate).
    #[must_use]
    pub fn with_tls_config(
        self,
        config: std::sync::Arc<grove::tls::rustls::ClientConfig>,
    ) -> Client {
        self.with(|i| i.tls = Some(config))
    }

    /// Follows up to `n` redirects (301, 302, 303, 307, 308 with a `Location`): 303, and
    /// 301/302 after a POST, continue as a GET without a body (what browsers do); 307 and 308
    /// repeat the method and body. `Authorization` and `Cookie` are not sent to another
    /// host. More than `n` is an error. Default: 0 (3xx responses are returned as they are).
    #[must_use]
    pub fn with_redirects(self, n: usize) -> Client {
        self.with(|i| i.redirects = n)
    }

    /// Idle pooled connections to all hosts.
    pub fn idle_connections(&self) -> usize {
        self.inner.idle.borrow().values().map(Vec::len).sum()
    }

    /// `GET url`.
    ///
    /// # Errors
    /// Invalid URL (`http://`, or `https://` with [`with_tls_config`](Self::with_tls_config)),
    /// connection, TLS and protocol errors, `TimedOut`.
    pub fn get(&self, url: &str) -> io::Result<ClientResponse> {
        let req = http::Request::get(url).body(Vec::new()).map_err(|e| invalid(e.to_string()))?;
        self.request(req)
    }

    /// `POST url` with `body`.
    ///
    /// # Errors
    /// As [`get`](Self::get).
    pub fn post(&self, url: &str, body: impl Into<Vec<u8>>) -> io::Result<ClientResponse> {
        let req = http::Request::post(url).body(body.into()).map_err(|e| invalid(e.to_string()))?;
        self.request(req)
    }

    /// Sends `req` (its URI must be absolute: `http://host[:port]/path`) and reads the whole
    /// response.
    ///
    /// # Errors
    /// As [`get`](Self::get).
    pub fn request(&self, req: http::Request<Vec<u8>>) -> io::Result<ClientResponse> {
        let run = || self.follow(req);
        match self.inner.timeout {
            None => run(),
            Some(t) => grove::timeout(t, run)
                .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "request timed out"))?,
        }
    }

    /// Sends `req`, following redirects as configured.
    fn follow(&self, mut req: http::Request<Vec<u8>>) -> io::Result<ClientResponse> {
        let mut left = self.inner.redirects;
        loop {
            let resp = self.request_inner(&req)?;
            let status = resp.status();
            let redirect = matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308);
            let location = resp.headers().get(header::LOCATION).and_then(|v| v.to_str().ok());
            let (true, Some(location)) = (redirect && self.inner.redirects > 0, location) else {
                return Ok(resp);
            };
            if left == 0 {
                return Err(invalid(format!(
                    "too many redirects (more than {})",
                    self.inner.redirects
                )));
            }
            left -= 1;
            let target = resolve_location(req.uri(), location)?;
            let same_host = target.host() == req.uri().host() && target.port() == req.uri().port();
            let to_get = status == StatusCode::SEE_OTHER
                || (matches!(status.as_u16(), 301 | 302) && *req.method() == Method::POST);
            let (mut parts, body) = req.into_parts();
            parts.uri = target;
            let body = if to_get {
                parts.method = Method::GET;
                Vec::new()
            } else {
                body
            };
            if !same_host {
                parts.headers.remove(header::AUTHORIZATION);
                parts.headers.remove(header::COOKIE);
            }
            parts.headers.remove(header::HOST);
            req = http::Request::from_parts(parts, body);
        }
    }

    fn request_inner(&self, req: &http::Request<Vec<u8>>) -> io::Result<ClientResponse> {
        let target = Target::of(req.uri())?;
        let idempotent = matches!(
            *req.method(),
            Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS
        );
        // A pooled connection may have been closed by the server meanwhile: if it fails before
        // any response byte, retry an idempotent request once on a fresh connection.
        let pooled = self.inner.idle.borrow_mut().get_mut(&target.key).and_then(|list| {
            // Connections the server closed, or that have bytes nobody asked for, go.
            while let Some(conn) = list.pop() {
                if conn.is_clean() {
                    return Some(conn);
                }
            }
            None
        });
        if let Some(conn) = pooled {
            match self.exchange(&conn, req, &target) {
                Ok((resp, reusable)) => {
                    self.give_back(target.key.clone(), conn, reusable);
                    return Ok(resp);
                }
                Err((e, fresh_failure)) if !(fresh_failure && idempotent) => return Err(e),
                Err(_) => {}
            }
        }
        let conn = self.connect(&target)?;
        let (resp, reusable) = self.exchange(&conn, req, &target).map_err(|(e, _)| e)?;
        self.give_back(target.key.clone(), conn, reusable);
        Ok(resp)
    }

    /// Sends `req` and returns as soon as the response head is in: the body is read from the
    /// response as it arrives (any size; no cap), on a connection of its own that closes when
    /// the body is dropped. The client's timeout bounds sending the request and receiving the
    /// head, and then each read of the body. Redirects are not followed.
    ///
    /// ```no_run
    /// use std::io::Read;
    /// let resp = grove_http::Client::new()
    ///     .request_streaming(grove_http::http::Request::get("http://127.0.0.1:8080/big").body(Vec::new()).unwrap())
    ///     .unwrap();
    /// let mut body = resp.into_body();
    /// let mut chunk = [0u8; 16 * 1024];
    /// while body.read(&mut chunk).unwrap() > 0 { /* process the chunk */ }
    /// ```
    ///
    /// # Errors
    /// As [`get`](Self::get); errors while reading the body come from its `read`.
    pub fn request_streaming(
        &self,
        req: http::Request<Vec<u8>>,
    ) -> io::Result<http::Response<Incoming>> {
        let run = || {
            let target = Target::of(req.uri())?;
            let conn = self.connect(&target)?;
            self.exchange_head(&conn, &req, &target, self.inner.timeout)
                .map(|(r, _)| r)
                .map_err(|(e, _)| e)
        };
        match self.inner.timeout {
            None => run(),
            Some(t) => grove::timeout(t, run)
                .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "request timed out"))?,
        }
    }

    /// A new connection to `target` (TLS for `https://`).
    fn connect(&self, target: &Target<'_>) -> io::Result<Conn> {
        let stream = TcpStream::connect((target.host, target.port))?;
        stream.set_nodelay(true)?;
        let stream = if target.tls {
            let config = self.inner.tls.clone().ok_or_else(|| {
                invalid("https:// needs a TLS configuration: Client::with_tls_config")
            })?;
            // The request's own timeout (a scope around it) bounds the handshake too.
            let t = grove::tls::connect(config, target.host, stream, None)?;
            Stream::TlsClient(grove::tls::Duplex::new(t))
        } else {
            Stream::Plain(stream)
        };
        Ok(Conn { write: stream.try_clone()?, read: Rc::new(RefCell::new(ReadHalf::new(stream))) })
    }

    fn give_back(&self, key: String, conn: Conn, reusable: bool) {
        if !reusable {
            return;
        }
        let mut idle = self.inner.idle.borrow_mut();
        let list = idle.entry(key).or_default();
        if list.len() < self.inner.max_idle_per_host {
            list.push(conn);
        }
    }

    /// Sends `req` on `conn` and reads the response head; the body is left to read from the
    /// returned `Incoming`. Also says whether the connection can be reused once the body is
    /// read. On error, also says whether nothing at all was received (the connection was
    /// stale).
    fn exchange_head(
        &self,
        conn: &Conn,
        req: &http::Request<Vec<u8>>,
        target: &Target<'_>,
        read_timeout: Option<Duration>,
    ) -> Result<(http::Response<Incoming>, bool), (io::Error, bool)> {
        let (host, port, default_port) = (target.host, target.port, target.default_port);
        let fresh = |e: io::Error| (e, true);
        let mut out = Vec::with_capacity(256 + req.body().len());
        let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
        write!(out, "{} {path} HTTP/1.1\r\n", req.method()).map_err(fresh)?;
        if !req.headers().contains_key(header::HOST) {
            if port == default_port {
                write!(out, "host: {host}\r\n").map_err(fresh)?;
            } else {
                write!(out, "host: {host}:{port}\r\n").map_err(fresh)?;
            }
        }
        for (n, v) in req.headers() {
            if n == header::CONTENT_LENGTH || n == header::TRANSFER_ENCODING {
                continue;
            }
            out.extend_from_slice(n.as_str().as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(v.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        let body = req.body();
        if !body.is_empty() || matches!(*req.method(), Method::POST | Method::PUT | Method::PATCH) {
            write!(out, "content-length: {}\r\n", body.len()).map_err(fresh)?;
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(body);
        (&conn.write).write_all(&out).map_err(fresh)?;

        // Read the head, skipping interim 1xx responses.
        let (status, version, headers) = loop {
            let head = self.read_head(&conn.read)?;
            if head.0.is_informational() && head.0 != StatusCode::SWITCHING_PROTOCOLS {
                continue;
            }
            break head;
        };
        let late = |e: io::Error| (e, false);
        let (framing, definite) =
            response_framing(req.method(), status, version, &headers).map_err(late)?;
        let close = crate::server::has_token(&headers, "close");
        // Reusable once the body is read, if nothing is in doubt: definite framing, HTTP/1.1,
        // no `close`, not switched to another protocol (the caller also checks that no byte
        // beyond the response arrived: the client does not pipeline).
        let reusable = definite
            && !close
            && version == Version::HTTP_11
            && status != StatusCode::SWITCHING_PROTOCOLS;
        let state = BodyState {
            conn: conn.read.clone(),
            framing: RefCell::new(framing),
            continue_pending: std::cell::Cell::new(false),
            read_timeout,
            max_buffer: self.inner.max_head_bytes,
        };
        let mut resp = http::Response::new(crate::body::Incoming { state: Some(Rc::new(state)) });
        *resp.status_mut() = status;
        *resp.version_mut() = version;
        *resp.headers_mut() = headers;
        Ok((resp, reusable))
    }

    /// One request/response on `conn`, the body read into memory (up to the cap). On error,
    /// also says whether nothing at all was received (the connection was stale).
    fn exchange(
        &self,
        conn: &Conn,
        req: &http::Request<Vec<u8>>,
        target: &Target<'_>,
    ) -> Result<(ClientResponse, bool), (io::Error, bool)> {
        let (resp, reusable) = self.exchange_head(conn, req, target, None)?;
        let (parts, body) = resp.into_parts();
        let late = |e: io::Error| (e, false);
        let mut data = Vec::new();
        let cap = self.inner.max_body_bytes;
        io::Read::read_to_end(&mut io::Read::take(body, cap.saturating_add(1)), &mut data)
            .map_err(late)?;
        if data.len() as u64 > cap {
            // The rest is unread: the connection is dropped, never pooled.
            return Err((invalid(format!("response body larger than {cap} bytes")), false));
        }
        let reusable = reusable && conn.read.borrow().buffered().is_empty();
        Ok((http::Response::from_parts(parts, data), reusable))
    }

    fn read_head(
        &self,
        conn: &RefCell<ReadHalf>,
    ) -> Result<(StatusCode, Version, HeaderMap), (io::Error, bool)> {
        let mut got_any = false;
        loop {
            {
                let c = conn.borrow();
                let buf = c.buffered();
                if !buf.is_empty() {
                    got_any = true;
                    if let Some((status, version, headers, n)) =
                        parse_response_head(buf).map_err(|e| (e, false))?
                    {
                        drop(c);
                        conn.borrow_mut().consume(n);
                        return Ok((status, version, headers));
                    }
                }
            }
            match conn.borrow_mut().fill(self.inner.max_head_bytes, None) {
                Ok(0) => {
                    return Err((
                        io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "connection closed before a response",
                        ),
                        !got_any,
                    ))
                }
                Ok(_) => {}
                Err(e) => return Err((e, !got_any)),
            }
        }
    }
}

/// Parses a response head at the start of `buf`: status, version, headers and the head's
/// length, or `None` when more bytes are needed.
pub(crate) fn parse_response_head(
    buf: &[u8],
) -> io::Result<Option<(StatusCode, Version, HeaderMap, usize)>> {
    let mut hs = [httparse::EMPTY_HEADER; 100];
    let mut r = httparse::Response::new(&mut hs);
    let n = match r.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(invalid(format!("malformed response head: {e}"))),
    };
    let status =
        StatusCode::from_u16(r.code.unwrap_or(0)).map_err(|_| invalid("invalid status code"))?;
    let version = if r.version == Some(0) { Version::HTTP_10 } else { Version::HTTP_11 };
    let mut headers = HeaderMap::with_capacity(r.headers.len());
    for h in r.headers.iter() {
        let name = HeaderName::from_bytes(h.name.as_bytes())
            .map_err(|_| invalid("invalid header name"))?;
        let value =
            HeaderValue::from_bytes(h.value).map_err(|_| invalid("invalid header value"))?;
        headers.append(name, value);
    }
    Ok(Some((status, version, headers, n)))
}

/// How a response body is delimited (RFC 9112 §6.3), and whether that framing is definite:
/// a connection whose framing is in doubt must never carry another exchange.
///
/// - HEAD, 1xx, 204 and 304 have no body.
/// - Transfer-Encoding, all field lines combined (RFC 9110 §5.3): `chunked` last means
///   chunked, anything else reads until close. In an HTTP/1.0 response, or together with
///   Content-Length, the body is still read as the codings say but the connection is not
///   reused (RFC 9112 §6.1, §6.3 item 3).
/// - Content-Length: `1*DIGIT` values, repeated only identically; anything else is an error
///   (the caller closes the connection).
/// - Neither: until close.
pub(crate) fn response_framing(
    method: &Method,
    status: StatusCode,
    version: Version,
    headers: &HeaderMap,
) -> io::Result<(Framing, bool)> {
    if *method == Method::HEAD
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
    {
        return Ok((Framing::Empty, true));
    }
    let te = crate::server::transfer_codings(headers.get_all(header::TRANSFER_ENCODING).iter());
    let has_te = headers.contains_key(header::TRANSFER_ENCODING);
    if has_te && version == Version::HTTP_10 {
        // An HTTP/1.0 response cannot be chunked: its framing is faulty, read it to the end.
        return Ok((Framing::UntilClose, false));
    }
    if has_te {
        let definite = version == Version::HTTP_11 && !headers.contains_key(header::CONTENT_LENGTH);
        return Ok(if te.last().map(String::as_str) == Some("chunked") {
            (Framing::Chunked(ChunkedDecoder::new()), definite)
        } else {
            (Framing::UntilClose, false)
        });
    }
    let len = crate::server::content_length(headers.get_all(header::CONTENT_LENGTH).iter())
        .map_err(|why| invalid(format!("{why} in response")))?;
    Ok(match len {
        Some(0) => (Framing::Empty, true),
        Some(n) => (Framing::Length(n), true),
        None => (Framing::UntilClose, false),
    })
}

/// Where a request goes.
struct Target<'a> {
    tls: bool,
    host: &'a str,
    port: u16,
    default_port: u16,
    /// The pool key: scheme, host and port.
    key: String,
}

impl<'a> Target<'a> {
    fn of(uri: &'a http::Uri) -> io::Result<Target<'a>> {
        let tls = match uri.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            Some(s) => return Err(invalid(format!("unsupported scheme '{s}'"))),
            None => return Err(invalid("the request URI must be absolute (http://host/path)")),
        };
        let host = uri.host().ok_or_else(|| invalid("URI without a host"))?;
        let default_port = if tls { 443 } else { 80 };
        let port = uri.port_u16().unwrap_or(default_port);
        let key = format!("{}://{host}:{port}", if tls { "https" } else { "http" });
        Ok(Target { tls, host, port, default_port, key })
    }
}

/// Where a `Location` points, relative to the request's URI (RFC 9110 §10.2.2: a URI
/// reference; absolute, or a path on the same authority).
fn resolve_location(base: &http::Uri, location: &str) -> io::Result<http::Uri> {
    let bad = || invalid(format!("invalid redirect Location: {location:?}"));
    if location.starts_with("http://") || location.starts_with("https://") {
        return location.parse().map_err(|_| bad());
    }
    let authority = base.authority().ok_or_else(bad)?;
    let scheme = base.scheme_str().unwrap_or("http");
    let path = if location.starts_with('/') {
        location.to_string()
    } else {
        // Relative to the current path's directory.
        let dir = base.path().rsplit_once('/').map_or("", |(d, _)| d);
        format!("{dir}/{location}")
    };
    format!("{scheme}://{authority}{path}").parse().map_err(|_| bad())
}

thread_local! {
    static DEFAULT: Client = Client::new();
}

/// `GET url` with this thread's default [`Client`] (keep-alive connections are reused).
///
/// ```no_run
/// let resp = grove_http::get("http://127.0.0.1:8080/").unwrap();
/// println!("{} {}", resp.status(), String::from_utf8_lossy(resp.body()));
/// ```
///
/// # Errors
/// As [`Client::get`].
pub fn get(url: &str) -> io::Result<ClientResponse> {
    DEFAULT.with(|c| c.get(url))
}
