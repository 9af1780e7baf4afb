use std::io;
use std::path::Path;
use std::rc::Rc;

use crate::io::{Direction, Registered};
use crate::net::Timeouts;

/// A Unix-domain listening socket.
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
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixListener> {
        Ok(UnixListener { io: Registered::new(mio::net::UnixListener::bind(path)?)? })
    }

    /// Waits for a connection.
    ///
    /// # Errors
    /// The OS error (`EMFILE` when out of fds: back off and retry).
    pub fn accept(&self) -> io::Result<(UnixStream, std::os::unix::net::SocketAddr)> {
        let (s, a) = self.io.io(Direction::Read, None, |l| l.accept())?;
        Ok((UnixStream::from_mio(s)?, a))
    }

    /// The bound address.
    ///
    /// # Errors
    /// The OS error.
    pub fn local_addr(&self) -> io::Result<std::os::unix::net::SocketAddr> {
        self.io.get().local_addr()
    }

    /// Adopts a std listener.
    ///
    /// # Errors
    /// The OS error.
    pub fn from_std(l: std::os::unix::net::UnixListener) -> io::Result<UnixListener> {
        l.set_nonblocking(true)?;
        Ok(UnixListener { io: Registered::new(mio::net::UnixListener::from_std(l))? })
    }
}

/// A Unix-domain stream connection.
pub struct UnixStream {
    inner: Rc<StreamInner>,
}

super::stream_common!(UnixStream, mio::net::UnixStream, std::os::unix::net::UnixStream);

impl UnixStream {
    /// Connects to the socket at `path`.
    ///
    /// # Errors
    /// The OS error (`NotFound`, `ConnectionRefused`).
    pub fn connect(path: impl AsRef<Path>) -> io::Result<UnixStream> {
        let s = UnixStream::from_mio(mio::net::UnixStream::connect(path)?)?;
        loop {
            if let Some(e) = s.inner_io().get().take_error()? {
                return Err(e);
            }
            match s.inner_io().get().peer_addr() {
                Ok(_) => return Ok(s),
                Err(e) if e.kind() == io::ErrorKind::NotConnected => {
                    s.inner_io().wait(Direction::Write, None)?
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// A connected pair.
    ///
    /// # Errors
    /// The OS error.
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = mio::net::UnixStream::pair()?;
        Ok((UnixStream::from_mio(a)?, UnixStream::from_mio(b)?))
    }

    /// The local address.
    ///
    /// # Errors
    /// The OS error.
    pub fn local_addr(&self) -> io::Result<std::os::unix::net::SocketAddr> {
        self.inner_io().get().local_addr()
    }

    /// The peer's address.
    ///
    /// # Errors
    /// The OS error.
    pub fn peer_addr(&self) -> io::Result<std::os::unix::net::SocketAddr> {
        self.inner_io().get().peer_addr()
    }
}

/// A Unix-domain datagram socket.
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
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixDatagram> {
        Self::from_mio(mio::net::UnixDatagram::bind(path)?)
    }

    /// An unbound socket.
    ///
    /// # Errors
    /// The OS error.
    pub fn unbound() -> io::Result<UnixDatagram> {
        Self::from_mio(mio::net::UnixDatagram::unbound()?)
    }

    /// A connected pair.
    ///
    /// # Errors
    /// The OS error.
    pub fn pair() -> io::Result<(UnixDatagram, UnixDatagram)> {
        let (a, b) = mio::net::UnixDatagram::pair()?;
        Ok((Self::from_mio(a)?, Self::from_mio(b)?))
    }

    /// Sets the default peer.
    ///
    /// # Errors
    /// The OS error.
    pub fn connect(&self, path: impl AsRef<Path>) -> io::Result<()> {
        self.io.get().connect(path)
    }

    /// Sends a datagram to `path`.
    ///
    /// # Errors
    /// The OS error.
    pub fn send_to(&self, buf: &[u8], path: impl AsRef<Path>) -> io::Result<usize> {
        let p = path.as_ref();
        self.io.io(Direction::Write, self.timeouts.write.get(), |s| s.send_to(buf, p))
    }

    /// Receives a datagram and its sender.
    ///
    /// # Errors
    /// The OS error, `TimedOut` past the read timeout.
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, std::os::unix::net::SocketAddr)> {
        self.io.io(Direction::Read, self.timeouts.read.get(), |s| s.recv_from(buf))
    }

    /// Sends to the connected peer.
    ///
    /// # Errors
    /// The OS error.
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.io.io(Direction::Write, self.timeouts.write.get(), |s| s.send(buf))
    }

    /// Receives from the connected peer.
    ///
    /// # Errors
    /// The OS error, `TimedOut` past the read timeout.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.io(Direction::Read, self.timeouts.read.get(), |s| s.recv(buf))
    }

    /// Sets how long a receive may wait.
    ///
    /// # Errors
    /// `InvalidInput` for a zero duration.
    pub fn set_read_timeout(&self, t: Option<std::time::Duration>) -> io::Result<()> {
        self.timeouts.set_read(t)
    }

    /// Sets how long a send may wait.
    ///
    /// # Errors
    /// `InvalidInput` for a zero duration.
    pub fn set_write_timeout(&self, t: Option<std::time::Duration>) -> io::Result<()> {
        self.timeouts.set_write(t)
    }
}
