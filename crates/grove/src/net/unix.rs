use std::io;
use std::path::Path;

use crate::io::{Direction, Registered};
use crate::net::Timeouts;

/// A Unix-domain listening socket.
///
/// # Examples
///
/// ```
/// use std::io::{Read, Write};
/// use grove::net::{UnixListener, UnixStream};
/// let path = std::env::temp_dir().join(format!("grove-doc-{}.sock", std::process::id()));
/// # let _ = std::fs::remove_file(&path);
/// let listener = UnixListener::bind(&path)?;
/// let mut client = UnixStream::connect(&path)?;
/// let (mut conn, _) = listener.accept()?;
/// conn.write_all(b"hello")?;
/// drop(conn);
/// let mut s = String::new();
/// client.read_to_string(&mut s)?;
/// assert_eq!(s, "hello");
/// std::fs::remove_file(&path)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct UnixListener {
    io: Registered<mio::net::UnixListener>,
}

impl std::fmt::Debug for UnixListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.io.fmt(f)
    }
}

impl UnixListener {
    /// Binds to `path`.
    ///
    /// # Errors
    /// The OS error (e.g. `AddrInUse` if the path exists).
    ///
    /// # Examples
    ///
    /// ```
    /// use grove::net::UnixListener;
    /// let path = std::env::temp_dir().join(format!("grove-doc-bind-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let listener = UnixListener::bind(&path)?;
    /// assert!(UnixListener::bind(&path).is_err()); // the path exists
    /// drop(listener);
    /// std::fs::remove_file(&path)?; // binding creates a file: remove it when done
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixListener> {
        Ok(UnixListener { io: Registered::new(mio::net::UnixListener::bind(path)?)? })
    }

    /// Waits for a connection.
    ///
    /// # Errors
    /// The OS error (`EMFILE` when out of fds: back off and retry).
    ///
    /// # Examples
    ///
    /// ```
    /// use grove::net::{UnixListener, UnixStream};
    /// let name = format!("grove-doc-accept-{}.sock", std::process::id());
    /// let path = std::env::temp_dir().join(name);
    /// # let _ = std::fs::remove_file(&path);
    /// let listener = UnixListener::bind(&path)?;
    /// let server = grove::spawn(move || listener.accept().map(|_| ())); // parks until a connect
    /// let _client = UnixStream::connect(&path)?;
    /// server.join().unwrap()?;
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn accept(&self) -> io::Result<(UnixStream, std::os::unix::net::SocketAddr)> {
        let (s, a) = self.io.io(Direction::Read, None, |l| l.accept())?;
        Ok((UnixStream::from_source(s)?, a))
    }

    /// The bound address.
    ///
    /// # Errors
    /// The OS error.
    ///
    /// # Examples
    ///
    /// ```
    /// use grove::net::UnixListener;
    /// let path = std::env::temp_dir().join(format!("grove-doc-addr-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let listener = UnixListener::bind(&path)?;
    /// assert_eq!(listener.local_addr()?.as_pathname(), Some(path.as_path()));
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn local_addr(&self) -> io::Result<std::os::unix::net::SocketAddr> {
        self.io.get().local_addr()
    }

    /// Adopts a std listener.
    ///
    /// # Errors
    /// The OS error.
    ///
    /// # Examples
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("grove-doc-std-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let std_listener = std::os::unix::net::UnixListener::bind(&path)?;
    /// let listener = grove::net::UnixListener::from_std(std_listener)?; // now cooperative
    /// # drop(listener);
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn from_std(l: std::os::unix::net::UnixListener) -> io::Result<UnixListener> {
        l.set_nonblocking(true)?;
        Ok(UnixListener { io: Registered::new(mio::net::UnixListener::from_std(l))? })
    }
}

/// A Unix-domain stream connection. `Read`/`Write` (also on `&UnixStream`) park the greenlet
/// while the socket is not ready.
///
/// An instance of the generic [`Stream`](super::Stream): the calls every stream socket has —
/// [`try_clone`](super::Stream::try_clone), read/write timeouts,
/// [`shutdown`](super::Stream::shutdown), [`take_error`](super::Stream::take_error),
/// [`into_std`](super::Stream::into_std)/[`from_std`](super::Stream::from_std) — and its
/// `Read`, `Write`, `AsFd` and [`Pollable`](crate::select::Pollable) implementations are
/// documented there (rustdoc lists only the Unix-specific calls on this page).
///
/// # Examples
///
/// ```
/// use std::io::{Read, Write};
/// let (mut a, mut b) = grove::net::UnixStream::pair()?;
/// a.write_all(b"ping")?;
/// let mut buf = [0; 4];
/// b.read_exact(&mut buf)?; // parks until the bytes arrive
/// assert_eq!(&buf, b"ping");
/// # Ok::<(), std::io::Error>(())
/// ```
pub type UnixStream = super::Stream<std::os::unix::net::UnixStream>;

impl UnixStream {
    /// Connects to the socket at `path`.
    ///
    /// # Errors
    /// The OS error (`NotFound`, `ConnectionRefused`).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::ErrorKind;
    /// use grove::net::UnixStream;
    /// let err = UnixStream::connect("/nonexistent/grove.sock").unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::NotFound);
    /// ```
    pub fn connect(path: impl AsRef<Path>) -> io::Result<UnixStream> {
        let s = UnixStream::from_source(mio::net::UnixStream::connect(path)?)?;
        loop {
            if let Some(e) = s.registered().get().take_error()? {
                return Err(e);
            }
            match s.registered().get().peer_addr() {
                Ok(_) => return Ok(s),
                Err(e) if e.kind() == io::ErrorKind::NotConnected => {
                    s.registered().wait(Direction::Write, None)?
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// A connected pair.
    ///
    /// # Errors
    /// The OS error.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::{BufRead, BufReader, Write};
    /// let (a, b) = grove::net::UnixStream::pair()?;
    /// let echo = grove::spawn(move || {
    ///     let mut line = String::new();
    ///     BufReader::new(&b).read_line(&mut line).map(|_| line)
    /// });
    /// (&a).write_all(b"over the pair\n")?;
    /// assert_eq!(echo.join().unwrap()?, "over the pair\n");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = mio::net::UnixStream::pair()?;
        Ok((UnixStream::from_source(a)?, UnixStream::from_source(b)?))
    }

    /// The local address.
    ///
    /// # Errors
    /// The OS error.
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, _b) = grove::net::UnixStream::pair()?;
    /// assert!(a.local_addr()?.is_unnamed());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn local_addr(&self) -> io::Result<std::os::unix::net::SocketAddr> {
        self.registered().get().local_addr()
    }

    /// The peer's address.
    ///
    /// # Errors
    /// The OS error.
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, _b) = grove::net::UnixStream::pair()?;
    /// assert!(a.peer_addr()?.is_unnamed());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn peer_addr(&self) -> io::Result<std::os::unix::net::SocketAddr> {
        self.registered().get().peer_addr()
    }
}

/// A Unix-domain datagram socket.
///
/// # Examples
///
/// ```
/// let (a, b) = grove::net::UnixDatagram::pair()?;
/// a.send(b"one datagram")?;
/// let mut buf = [0; 32];
/// let n = b.recv(&mut buf)?; // parks until a datagram arrives
/// assert_eq!(&buf[..n], b"one datagram");
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct UnixDatagram {
    io: Registered<mio::net::UnixDatagram>,
    timeouts: Timeouts,
}

impl std::fmt::Debug for UnixDatagram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.io.fmt(f)
    }
}

impl UnixDatagram {
    fn from_mio(s: mio::net::UnixDatagram) -> io::Result<UnixDatagram> {
        Ok(UnixDatagram { io: Registered::new(s)?, timeouts: Timeouts::default() })
    }

    /// Binds to `path`.
    ///
    /// # Errors
    /// The OS error.
    ///
    /// # Examples
    ///
    /// ```
    /// use grove::net::UnixDatagram;
    /// let name = format!("grove-doc-dgram-{}.sock", std::process::id());
    /// let path = std::env::temp_dir().join(name);
    /// # let _ = std::fs::remove_file(&path);
    /// let server = UnixDatagram::bind(&path)?;
    /// UnixDatagram::unbound()?.send_to(b"hi", &path)?;
    /// let mut buf = [0; 8];
    /// assert_eq!(server.recv_from(&mut buf)?.0, 2);
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixDatagram> {
        Self::from_mio(mio::net::UnixDatagram::bind(path)?)
    }

    /// An unbound socket.
    ///
    /// # Errors
    /// The OS error.
    ///
    /// # Examples
    ///
    /// ```
    /// let sock = grove::net::UnixDatagram::unbound()?; // for sending with `send_to`
    /// # drop(sock);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn unbound() -> io::Result<UnixDatagram> {
        Self::from_mio(mio::net::UnixDatagram::unbound()?)
    }

    /// A connected pair.
    ///
    /// # Errors
    /// The OS error.
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, b) = grove::net::UnixDatagram::pair()?;
    /// b.send(b"x")?;
    /// assert_eq!(a.recv(&mut [0; 4])?, 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn pair() -> io::Result<(UnixDatagram, UnixDatagram)> {
        let (a, b) = mio::net::UnixDatagram::pair()?;
        Ok((Self::from_mio(a)?, Self::from_mio(b)?))
    }

    /// Sets the default peer.
    ///
    /// # Errors
    /// The OS error.
    ///
    /// # Examples
    ///
    /// ```
    /// use grove::net::UnixDatagram;
    /// let name = format!("grove-doc-dconn-{}.sock", std::process::id());
    /// let path = std::env::temp_dir().join(name);
    /// # let _ = std::fs::remove_file(&path);
    /// let server = UnixDatagram::bind(&path)?;
    /// let client = UnixDatagram::unbound()?;
    /// client.connect(&path)?;
    /// client.send(b"ok")?;
    /// assert_eq!(server.recv(&mut [0; 4])?, 2);
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn connect(&self, path: impl AsRef<Path>) -> io::Result<()> {
        self.io.get().connect(path)
    }

    /// Sends a datagram to `path`.
    ///
    /// # Errors
    /// The OS error.
    ///
    /// # Examples
    ///
    /// ```
    /// use grove::net::UnixDatagram;
    /// let name = format!("grove-doc-sendto-{}.sock", std::process::id());
    /// let path = std::env::temp_dir().join(name);
    /// # let _ = std::fs::remove_file(&path);
    /// let server = UnixDatagram::bind(&path)?;
    /// assert_eq!(UnixDatagram::unbound()?.send_to(b"abc", &path)?, 3);
    /// # drop(server);
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn send_to(&self, buf: &[u8], path: impl AsRef<Path>) -> io::Result<usize> {
        let p = path.as_ref();
        self.io.io(Direction::Write, self.timeouts.write.get(), |s| s.send_to(buf, p))
    }

    /// Receives a datagram and its sender.
    ///
    /// # Errors
    /// The OS error, `TimedOut` past the read timeout.
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, b) = grove::net::UnixDatagram::pair()?;
    /// a.send(b"hi")?;
    /// let mut buf = [0; 8];
    /// let (n, _from) = b.recv_from(&mut buf)?;
    /// assert_eq!(&buf[..n], b"hi");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, std::os::unix::net::SocketAddr)> {
        self.io.io(Direction::Read, self.timeouts.read.get(), |s| s.recv_from(buf))
    }

    /// Sends to the connected peer.
    ///
    /// # Errors
    /// The OS error.
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, b) = grove::net::UnixDatagram::pair()?;
    /// assert_eq!(a.send(b"four")?, 4);
    /// assert_eq!(b.recv(&mut [0; 8])?, 4);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.io.io(Direction::Write, self.timeouts.write.get(), |s| s.send(buf))
    }

    /// Receives from the connected peer.
    ///
    /// # Errors
    /// The OS error, `TimedOut` past the read timeout.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::ErrorKind;
    /// use std::time::Duration;
    /// let (_a, b) = grove::net::UnixDatagram::pair()?;
    /// b.set_read_timeout(Some(Duration::from_millis(5)))?;
    /// assert_eq!(b.recv(&mut [0; 8]).unwrap_err().kind(), ErrorKind::TimedOut);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.io(Direction::Read, self.timeouts.read.get(), |s| s.recv(buf))
    }

    /// Sets how long a receive may wait.
    ///
    /// # Errors
    /// `InvalidInput` for a zero duration.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let (a, _b) = grove::net::UnixDatagram::pair()?;
    /// a.set_read_timeout(Some(Duration::from_secs(1)))?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_read_timeout(&self, t: Option<std::time::Duration>) -> io::Result<()> {
        self.timeouts.set_read(t)
    }

    /// Sets how long a send may wait.
    ///
    /// # Errors
    /// `InvalidInput` for a zero duration.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let (a, _b) = grove::net::UnixDatagram::pair()?;
    /// a.set_write_timeout(Some(Duration::from_secs(1)))?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_write_timeout(&self, t: Option<std::time::Duration>) -> io::Result<()> {
        self.timeouts.set_write(t)
    }
}

crate::select::pollable! {
    UnixListener => |s| s.io;
    UnixDatagram => |s| s.io;
}

impl std::os::fd::AsRawFd for UnixListener {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.io.get().as_raw_fd()
    }
}

impl std::os::fd::AsRawFd for UnixDatagram {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.io.get().as_raw_fd()
    }
}
