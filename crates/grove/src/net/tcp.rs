use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::dns::ToAddrs;
use crate::io::{Direction, Registered};

/// A TCP listening socket; `accept` parks the greenlet until a connection arrives.
///
/// # Examples
///
/// ```
/// use std::io::{Read, Write};
/// use grove::net::{TcpListener, TcpStream};
/// let listener = TcpListener::bind("127.0.0.1:0")?;
/// let addr = listener.local_addr()?;
/// let server = grove::spawn(move || -> std::io::Result<()> {
///     let (mut conn, _peer) = listener.accept()?; // parks until a client connects
///     conn.write_all(b"hi")
/// }); // the listener is dropped (closed) when this greenlet ends
/// let mut reply = String::new();
/// TcpStream::connect(addr)?.read_to_string(&mut reply)?;
/// assert_eq!(reply, "hi");
/// server.join().unwrap()?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct TcpListener {
    io: Registered<mio::net::TcpListener>,
}

impl std::fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.io.fmt(f)
    }
}

/// The listen backlog of [`TcpListener::bind`] and [`TcpListener::bind_reuseport`] (the
/// kernel caps it at `net.core.somaxconn`, 4096 by default on current Linux).
///
/// # Examples
///
/// ```
/// let l = grove::net::TcpListener::bind_with_backlog("127.0.0.1:0", grove::net::DEFAULT_BACKLOG)?;
/// # drop(l);
/// # Ok::<(), std::io::Error>(())
/// ```
pub const DEFAULT_BACKLOG: u32 = 4096;

/// A non-blocking listener on `addr` with SO_REUSEADDR (and SO_REUSEPORT if asked).
fn listen_on(addr: SocketAddr, reuseport: bool, backlog: u32) -> io::Result<TcpListener> {
    let domain = socket2::Domain::for_address(addr);
    let s = socket2::Socket::new(domain, socket2::Type::STREAM, Some(socket2::Protocol::TCP))?;
    s.set_reuse_address(true)?;
    if reuseport {
        s.set_reuse_port(true)?;
    }
    s.set_nonblocking(true)?;
    s.set_cloexec(true)?;
    s.bind(&addr.into())?;
    s.listen(i32::try_from(backlog).unwrap_or(i32::MAX))?;
    TcpListener::from_std(s.into())
}

impl TcpListener {
    /// Binds to the first address that works, with SO_REUSEADDR and a listen backlog of
    /// [`DEFAULT_BACKLOG`] (the kernel caps it at `net.core.somaxconn`). std and mio use 128,
    /// which overflows under bursts of connects (1,000 concurrent websocket connects cost
    /// thousands of SYN retries).
    ///
    /// # Errors
    /// The last bind error, or the resolver's.
    ///
    /// # Examples
    ///
    /// ```
    /// let listener = grove::net::TcpListener::bind("127.0.0.1:0")?; // port 0: any free port
    /// assert_ne!(listener.local_addr()?.port(), 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn bind(addr: impl ToAddrs) -> io::Result<TcpListener> {
        Self::bind_with_backlog(addr, DEFAULT_BACKLOG)
    }

    /// [`bind`](Self::bind) with an explicit listen backlog.
    ///
    /// # Errors
    /// As [`bind`](Self::bind).
    ///
    /// # Examples
    ///
    /// ```
    /// let listener = grove::net::TcpListener::bind_with_backlog("127.0.0.1:0", 16)?;
    /// # drop(listener);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn bind_with_backlog(addr: impl ToAddrs, backlog: u32) -> io::Result<TcpListener> {
        let mut last = None;
        for a in addr.to_addrs()? {
            match listen_on(a, false, backlog) {
                Ok(l) => return Ok(l),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address")))
    }

    /// Binds with SO_REUSEPORT (and SO_REUSEADDR) so that several hubs can each own a listener
    /// on the same address; the kernel spreads incoming connections across them. Backlog:
    /// [`DEFAULT_BACKLOG`].
    ///
    /// # Errors
    /// The socket, option or bind error.
    ///
    /// # Examples
    ///
    /// ```
    /// use grove::net::TcpListener;
    /// let a = TcpListener::bind_reuseport("127.0.0.1:0".parse().unwrap())?;
    /// let b = TcpListener::bind_reuseport(a.local_addr()?)?; // same port: the kernel balances
    /// assert_eq!(a.local_addr()?, b.local_addr()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn bind_reuseport(addr: SocketAddr) -> io::Result<TcpListener> {
        listen_on(addr, true, DEFAULT_BACKLOG)
    }

    /// Waits for a connection. The accepted stream is non-blocking and registered with this
    /// hub; `TCP_NODELAY` is left as the OS default (see [`TcpStream::set_nodelay`]).
    ///
    /// # Errors
    /// The OS error: `EMFILE`/`ENFILE` when out of file descriptors (the listener stays usable:
    /// back off and accept again), `TimedOut` inside an expired `timeout` scope.
    ///
    /// # Examples
    ///
    /// ```
    /// use grove::net::{TcpListener, TcpStream};
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let client = TcpStream::connect(listener.local_addr()?)?;
    /// let (_conn, peer) = listener.accept()?;
    /// assert_eq!(peer, client.local_addr()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (s, a) = self.io.io(Direction::Read, None, |l| l.accept())?;
        Ok((TcpStream::from_source(s)?, a))
    }

    /// An endless iterator of accepted connections (or errors).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Write;
    /// use grove::net::{TcpListener, TcpStream};
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let _client = TcpStream::connect(listener.local_addr()?)?;
    /// for conn in listener.incoming().take(1) {
    ///     conn?.write_all(b"welcome\n")?;
    /// }
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { l: self }
    }

    /// The bound address.
    ///
    /// # Errors
    /// The OS error.
    ///
    /// # Examples
    ///
    /// ```
    /// let listener = grove::net::TcpListener::bind("127.0.0.1:0")?;
    /// assert!(listener.local_addr()?.ip().is_loopback());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get().local_addr()
    }

    /// Sets IP_TTL.
    ///
    /// # Errors
    /// The OS error.
    ///
    /// # Examples
    ///
    /// ```
    /// let listener = grove::net::TcpListener::bind("127.0.0.1:0")?;
    /// listener.set_ttl(64)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.io.get().set_ttl(ttl)
    }

    /// Adopts a std listener (switched to non-blocking, registered with this hub).
    ///
    /// # Errors
    /// The OS error.
    ///
    /// # Examples
    ///
    /// ```
    /// let std_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let listener = grove::net::TcpListener::from_std(std_listener)?; // now cooperative
    /// # drop(listener);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn from_std(l: std::net::TcpListener) -> io::Result<TcpListener> {
        l.set_nonblocking(true)?;
        Ok(TcpListener { io: Registered::new(mio::net::TcpListener::from_std(l))? })
    }

    /// Converts into a blocking std listener (e.g. to hand it to another thread).
    ///
    /// # Errors
    /// The OS error of switching to blocking mode.
    ///
    /// # Examples
    ///
    /// ```
    /// let listener = grove::net::TcpListener::bind("127.0.0.1:0")?;
    /// let std_listener = listener.into_std()?; // `Send`: hand it to another thread or hub
    /// let t = std::thread::spawn(move || std_listener.local_addr());
    /// assert!(t.join().unwrap().is_ok());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn into_std(self) -> io::Result<std::net::TcpListener> {
        let l: std::net::TcpListener = self.io.into_inner().into();
        l.set_nonblocking(false)?;
        Ok(l)
    }
}

impl std::os::fd::AsRawFd for TcpListener {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.io.get().as_raw_fd()
    }
}

/// Iterator of [`TcpListener::incoming`].
///
/// # Examples
///
/// ```
/// use grove::net::{TcpListener, TcpStream};
/// let listener = TcpListener::bind("127.0.0.1:0")?;
/// let _c = TcpStream::connect(listener.local_addr()?)?;
/// let mut incoming = listener.incoming();
/// let conn = incoming.next().unwrap()?;
/// assert!(conn.peer_addr().is_ok());
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct Incoming<'a> {
    l: &'a TcpListener,
}

impl Iterator for Incoming<'_> {
    type Item = io::Result<TcpStream>;
    fn next(&mut self) -> Option<Self::Item> {
        Some(self.l.accept().map(|(s, _)| s))
    }
}

/// A TCP connection. `Read`/`Write` (also on `&TcpStream`) park the greenlet while the socket
/// is not ready.
///
/// An instance of the generic [`Stream`](super::Stream): the calls every stream socket has —
/// [`try_clone`](super::Stream::try_clone), read/write timeouts,
/// [`shutdown`](super::Stream::shutdown), [`take_error`](super::Stream::take_error),
/// [`into_std`](super::Stream::into_std)/[`from_std`](super::Stream::from_std) — and its
/// `Read`, `Write`, `AsFd` and [`Pollable`](crate::select::Pollable) implementations are
/// documented there (rustdoc lists only the TCP-specific calls on this page).
///
/// # Examples
///
/// ```
/// use std::io::{Read, Write};
/// use grove::net::{TcpListener, TcpStream};
/// let listener = TcpListener::bind("127.0.0.1:0")?;
/// let mut client = TcpStream::connect(listener.local_addr()?)?;
/// let (mut server, _) = listener.accept()?;
/// client.write_all(b"ping")?;
/// let mut buf = [0; 4];
/// server.read_exact(&mut buf)?; // parks until the bytes arrive
/// assert_eq!(&buf, b"ping");
/// # Ok::<(), std::io::Error>(())
/// ```
pub type TcpStream = super::Stream<std::net::TcpStream>;

impl TcpStream {
    /// Connects to the first address that accepts (names are resolved cooperatively).
    ///
    /// # Errors
    /// The last connect error (`ConnectionRefused`, ...), resolver errors, `TimedOut` inside an
    /// expired `timeout` scope.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::ErrorKind;
    /// use grove::net::{TcpListener, TcpStream};
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let addr = listener.local_addr()?;
    /// let stream = TcpStream::connect(addr)?;
    /// assert_eq!(stream.peer_addr()?, addr);
    /// drop((stream, listener));
    /// assert_eq!(TcpStream::connect(addr).unwrap_err().kind(), ErrorKind::ConnectionRefused);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn connect(addr: impl ToAddrs) -> io::Result<TcpStream> {
        Self::connect_deadline(addr, None)
    }

    /// Connects, giving up after `timeout` (for each address tried).
    ///
    /// # Errors
    /// As [`connect`](Self::connect); `TimedOut` when the timeout passes.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use grove::net::{TcpListener, TcpStream};
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let s = TcpStream::connect_timeout(&listener.local_addr()?, Duration::from_secs(1))?;
    /// # drop(s);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn connect_timeout(addr: &SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
        Self::connect_deadline(*addr, Some(timeout))
    }

    fn connect_deadline(addr: impl ToAddrs, timeout: Option<Duration>) -> io::Result<TcpStream> {
        let mut last = None;
        for a in addr.to_addrs()? {
            match Self::connect_one(a, timeout.and_then(crate::hub::deadline_after)) {
                Ok(s) => return Ok(s),
                Err(e) if e.kind() == io::ErrorKind::TimedOut => return Err(e),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address")))
    }

    fn connect_one(addr: SocketAddr, deadline: Option<Instant>) -> io::Result<TcpStream> {
        let s = TcpStream::from_source(mio::net::TcpStream::connect(addr)?)?;
        // A non-blocking connect completes when the socket turns writable; then SO_ERROR or
        // peer_addr tell how it went.
        loop {
            let io = s.registered();
            if let Some(e) = io.get().take_error()? {
                return Err(e);
            }
            match io.get().peer_addr() {
                Ok(_) => return Ok(s),
                Err(e) if e.kind() == io::ErrorKind::NotConnected => {}
                Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
                Err(e) => return Err(e),
            }
            io.wait(Direction::Write, deadline)?;
        }
    }

    /// Reads into `buf` without removing the data from the socket's queue.
    ///
    /// # Errors
    /// As `read`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// use grove::net::{TcpListener, TcpStream};
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let mut client = TcpStream::connect(listener.local_addr()?)?;
    /// let (mut server, _) = listener.accept()?;
    /// client.write_all(b"GET /")?;
    /// let mut head = [0; 3];
    /// assert_eq!(server.peek(&mut head)?, 3); // still queued after peeking
    /// let mut all = [0; 5];
    /// server.read_exact(&mut all)?;
    /// assert_eq!(&all, b"GET /");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.registered().io(Direction::Read, self.read_timeout_now(), |s| s.peek(buf))
    }

    /// The remote address.
    ///
    /// # Errors
    /// The OS error (`NotConnected`).
    ///
    /// # Examples
    ///
    /// ```
    /// use grove::net::{TcpListener, TcpStream};
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let stream = TcpStream::connect(listener.local_addr()?)?;
    /// assert_eq!(stream.peer_addr()?, listener.local_addr()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.registered().get().peer_addr()
    }

    /// The local address.
    ///
    /// # Errors
    /// The OS error.
    ///
    /// # Examples
    ///
    /// ```
    /// use grove::net::{TcpListener, TcpStream};
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let stream = TcpStream::connect(listener.local_addr()?)?;
    /// let (_, peer) = listener.accept()?;
    /// assert_eq!(stream.local_addr()?, peer);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.registered().get().local_addr()
    }

    /// Sets TCP_NODELAY (disables Nagle's algorithm).
    ///
    /// # Errors
    /// The OS error.
    ///
    /// # Examples
    ///
    /// ```
    /// use grove::net::{TcpListener, TcpStream};
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let stream = TcpStream::connect(listener.local_addr()?)?;
    /// stream.set_nodelay(true)?; // small writes go out at once (request/response protocols)
    /// assert!(stream.nodelay()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.registered().get().set_nodelay(nodelay)
    }

    /// Whether TCP_NODELAY is set.
    ///
    /// # Errors
    /// The OS error.
    ///
    /// # Examples
    ///
    /// ```
    /// use grove::net::{TcpListener, TcpStream};
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let stream = TcpStream::connect(listener.local_addr()?)?;
    /// stream.set_nodelay(false)?;
    /// assert!(!stream.nodelay()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn nodelay(&self) -> io::Result<bool> {
        self.registered().get().nodelay()
    }

    /// Sets IP_TTL.
    ///
    /// # Errors
    /// The OS error.
    ///
    /// # Examples
    ///
    /// ```
    /// use grove::net::{TcpListener, TcpStream};
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let stream = TcpStream::connect(listener.local_addr()?)?;
    /// stream.set_ttl(32)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.registered().get().set_ttl(ttl)
    }
}

/// Single attempts that never park, for layers that keep their own state between attempts and
/// must not hold it across a park (TLS full duplex).
#[cfg(feature = "tls")]
impl TcpStream {
    /// One read attempt: `WouldBlock` when nothing is queued.
    pub(crate) fn read_now(&self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match std::io::Read::read(&mut self.registered().get(), buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                r => return r,
            }
        }
    }

    /// One vectored write attempt: `WouldBlock` when the send buffer is full.
    pub(crate) fn write_now(&self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        loop {
            match std::io::Write::write_vectored(&mut self.registered().get(), bufs) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                r => return r,
            }
        }
    }

    /// Parks until the poller reports `dir` (call right after a `WouldBlock`, with no park in
    /// between, so no edge is missed), or `deadline`, the enclosing scope's, or a kill.
    pub(crate) fn park_until(&self, dir: Direction, deadline: Option<Instant>) -> io::Result<()> {
        self.registered().wait(dir, deadline)
    }
}

crate::select::pollable! {
    TcpListener => |s| s.io;
}
