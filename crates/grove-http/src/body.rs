//! Message bodies: [`Incoming`] (a body being received, readable with `std::io::Read`) and
//! [`Body`] (a body to send).

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::fmt;
use std::io::{self, Read, Write};
use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::stream::Stream;

use crate::chunked::ChunkedDecoder;

/// The read side of a connection: the socket and its buffer. Bytes past the current message
/// (pipelined requests) stay in the buffer for the next one.
pub(crate) struct ReadHalf {
    pub(crate) stream: Stream,
    pub(crate) buf: Vec<u8>,
    pub(crate) start: usize,
    pub(crate) end: usize,
}

/// The read buffer's usual size (it grows for a larger head or chunk line, up to the limit).
const BUF_SIZE: usize = 8192;

/// Read buffers no connection of this thread holds right now, for the next one that has bytes
/// to read: an idle keep-alive connection holds none (issue 15: 10k idle connections).
const POOLED_BUFS: usize = 256;

thread_local! {
    static FREE_BUFS: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

impl ReadHalf {
    /// A connection's read side; its buffer is taken when there is something to read.
    pub(crate) fn new(stream: Stream) -> ReadHalf {
        ReadHalf { stream, buf: Vec::new(), start: 0, end: 0 }
    }

    /// Gives the buffer back to the thread's pool if it holds nothing (an idle connection
    /// between requests).
    pub(crate) fn release_buffer(&mut self) {
        if self.start != self.end || self.buf.is_empty() {
            return;
        }
        let buf = std::mem::take(&mut self.buf);
        // One grown for a large head or chunk line is freed, not kept.
        if buf.len() == BUF_SIZE {
            let _ = FREE_BUFS.try_with(|f| {
                let mut f = f.borrow_mut();
                if f.len() < POOLED_BUFS {
                    f.push(buf);
                }
            });
        }
        self.start = 0;
        self.end = 0;
    }

    fn take_buffer(&mut self) {
        self.buf = FREE_BUFS
            .try_with(|f| f.borrow_mut().pop())
            .ok()
            .flatten()
            .unwrap_or_else(|| vec![0; BUF_SIZE]);
        self.start = 0;
        self.end = 0;
    }

    pub(crate) fn buffered(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    pub(crate) fn consume(&mut self, n: usize) {
        self.start += n;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Reads more bytes into the buffer (growing it up to `max`); returns how many (0 = EOF).
    /// `deadline` bounds the wait.
    pub(crate) fn fill(&mut self, max: usize, deadline: Option<Instant>) -> io::Result<usize> {
        if self.buf.is_empty() {
            self.take_buffer();
        }
        if self.start > 0 && self.end == self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            if self.buf.len() >= max {
                return Err(io::Error::new(io::ErrorKind::OutOfMemory, "buffer limit reached"));
            }
            let n = (self.buf.len() * 2).min(max);
            self.buf.resize(n, 0);
        }
        let (stream, buf) = (&self.stream, &mut self.buf[self.end..]);
        let mut read = || (&*stream).read(buf);
        let n = match deadline {
            None => read()?,
            Some(d) => grove::timeout_at(d, read)
                .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "read timed out"))??,
        };
        self.end += n;
        Ok(n)
    }
}

/// How the end of a body is found.
#[derive(Debug)]
pub(crate) enum Framing {
    /// No body.
    Empty,
    /// This many bytes remain.
    Length(u64),
    /// Chunked transfer coding.
    Chunked(ChunkedDecoder),
    /// Until the peer closes (responses without length, HTTP/1.0).
    UntilClose,
    /// Read completely.
    Done,
    /// A read failed (malformed framing, early EOF, timeout): where the body ends is no
    /// longer known, so nothing more is read from it and the connection cannot carry another
    /// message.
    Failed,
}

/// Shared between an [`Incoming`] and the connection that owns the stream.
pub(crate) struct BodyState {
    pub(crate) conn: Rc<RefCell<ReadHalf>>,
    pub(crate) framing: RefCell<Framing>,
    /// `Expect: 100-continue` was asked and the interim response not sent yet.
    pub(crate) continue_pending: Cell<bool>,
    pub(crate) read_timeout: Option<Duration>,
    pub(crate) max_buffer: usize,
}

impl BodyState {
    pub(crate) fn is_done(&self) -> bool {
        matches!(*self.framing.borrow(), Framing::Empty | Framing::Done)
    }

    fn read(&self, out: &mut [u8]) -> io::Result<usize> {
        let r = self.read_framed(out);
        if r.is_err() {
            *self.framing.borrow_mut() = Framing::Failed;
        }
        r
    }

    fn read_framed(&self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        if self.continue_pending.replace(false) {
            let conn = self.conn.borrow();
            (&conn.stream).write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        }
        let mut conn = self.conn.borrow_mut();
        let mut framing = self.framing.borrow_mut();
        let deadline = self.read_timeout.map(|t| Instant::now() + t);
        loop {
            match &mut *framing {
                Framing::Empty | Framing::Done => return Ok(0),
                Framing::Failed => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "the body failed earlier: where it ends is unknown",
                    ))
                }
                Framing::Length(0) => {
                    *framing = Framing::Done;
                    return Ok(0);
                }
                Framing::Length(left) => {
                    if conn.buffered().is_empty() && conn.fill(self.max_buffer, deadline)? == 0 {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "connection closed before the body was complete",
                        ));
                    }
                    let n = conn.buffered().len().min(out.len()).min(*left as usize);
                    out[..n].copy_from_slice(&conn.buffered()[..n]);
                    conn.consume(n);
                    *left -= n as u64;
                    if *left == 0 {
                        *framing = Framing::Done;
                    }
                    return Ok(n);
                }
                Framing::Chunked(dec) => {
                    if conn.buffered().is_empty() && conn.fill(self.max_buffer, deadline)? == 0 {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "connection closed inside a chunked body",
                        ));
                    }
                    let (c, p) = dec
                        .decode(conn.buffered(), out)
                        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                    conn.consume(c);
                    if dec.is_done() {
                        *framing = Framing::Done;
                    }
                    if p > 0 || matches!(*framing, Framing::Done) {
                        return Ok(p);
                    }
                }
                Framing::UntilClose => {
                    if conn.buffered().is_empty() && conn.fill(self.max_buffer, deadline)? == 0 {
                        *framing = Framing::Done;
                        return Ok(0);
                    }
                    let n = conn.buffered().len().min(out.len());
                    out[..n].copy_from_slice(&conn.buffered()[..n]);
                    conn.consume(n);
                    return Ok(n);
                }
            }
        }
    }

    /// Whether skipping the unread rest can keep the connection: the client is not waiting
    /// for `100 Continue`, and a known remaining length is within `limit` (a chunked rest is
    /// tried, up to `limit`).
    pub(crate) fn drainable(&self, limit: u64) -> bool {
        !self.continue_pending.get()
            && match *self.framing.borrow() {
                Framing::Length(n) => n <= limit,
                Framing::Chunked(_) | Framing::Empty | Framing::Done => true,
                Framing::UntilClose | Framing::Failed => false,
            }
    }

    /// Reads and discards the rest of the body, up to `limit` bytes. Returns whether the body
    /// was fully consumed (so the connection can carry another message).
    pub(crate) fn drain(&self, limit: u64) -> bool {
        if self.is_done() {
            return true;
        }
        if self.continue_pending.get() {
            // The client waits for our go-ahead and may never send the body: the connection
            // cannot be reused safely.
            return false;
        }
        self.drain_slow(limit)
    }

    /// Kept out of line: its 8 KiB buffer would otherwise sit in the connection loop's frame,
    /// and stack probes touch every page of a frame, so each connection's greenlet would keep
    /// two more resident stack pages whether or not a body is ever drained.
    #[inline(never)]
    fn drain_slow(&self, limit: u64) -> bool {
        let mut sink = [0u8; 8192];
        let mut total = 0u64;
        while !self.is_done() {
            match self.read(&mut sink) {
                Ok(0) => return self.is_done(),
                Ok(n) => {
                    total += n as u64;
                    if total > limit {
                        return false;
                    }
                }
                Err(_) => return false,
            }
        }
        true
    }
}

/// A body being received: the request body on the server, the response body in the client.
/// Reading it pulls from the connection (chunked or Content-Length framing is handled here).
pub struct Incoming {
    pub(crate) state: Option<Rc<BodyState>>,
}

impl fmt::Debug for Incoming {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.state {
            Some(s) => write!(f, "Incoming({:?})", s.framing.borrow()),
            None => f.write_str("Incoming(empty)"),
        }
    }
}

impl Incoming {
    /// An empty body.
    pub fn empty() -> Incoming {
        Incoming { state: None }
    }

    /// Reads the whole body into a vector.
    ///
    /// # Errors
    /// Connection errors, malformed chunked framing, timeouts.
    pub fn into_bytes(mut self) -> io::Result<Vec<u8>> {
        let mut v = Vec::new();
        self.read_to_end(&mut v)?;
        Ok(v)
    }
}

impl Read for Incoming {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &self.state {
            None => Ok(0),
            Some(s) => s.read(buf),
        }
    }
}

/// A body to send.
pub enum Body {
    /// No body (Content-Length: 0 where one is expected).
    Empty,
    /// Bytes known up front: sent with Content-Length, together with the head in one write.
    Full(Cow<'static, [u8]>),
    /// Produced by a reader as it goes: sent chunked (or until close to HTTP/1.0 clients).
    Stream(Box<dyn Read>),
    /// A file: sent with Content-Length from its metadata.
    File(std::fs::File),
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Body::Empty => f.write_str("Body::Empty"),
            Body::Full(b) => write!(f, "Body::Full({} bytes)", b.len()),
            Body::Stream(_) => f.write_str("Body::Stream"),
            Body::File(_) => f.write_str("Body::File"),
        }
    }
}

impl Body {
    /// A streamed body read from `r`.
    pub fn stream(r: impl Read + 'static) -> Body {
        Body::Stream(Box::new(r))
    }
}

impl From<&'static str> for Body {
    fn from(s: &'static str) -> Body {
        Body::Full(Cow::Borrowed(s.as_bytes()))
    }
}

impl From<&'static [u8]> for Body {
    fn from(s: &'static [u8]) -> Body {
        Body::Full(Cow::Borrowed(s))
    }
}

impl From<String> for Body {
    fn from(s: String) -> Body {
        Body::Full(Cow::Owned(s.into_bytes()))
    }
}

impl From<Vec<u8>> for Body {
    fn from(v: Vec<u8>) -> Body {
        Body::Full(Cow::Owned(v))
    }
}

impl From<()> for Body {
    fn from(_: ()) -> Body {
        Body::Empty
    }
}
