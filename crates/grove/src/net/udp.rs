use std::io;
use std::net::SocketAddr;

use crate::dns::ToAddrs;
use crate::io::{Direction, Registered};
use crate::net::Timeouts;

/// A UDP socket; receives park the greenlet until a datagram arrives.
///
/// # Examples
///
/// ```
/// use grove::net::UdpSocket;
/// let a = UdpSocket::bind("127.0.0.1:0")?;
/// let b = UdpSocket::bind("127.0.0.1:0")?;
/// a.send_to(b"ping", b.local_addr()?)?;
/// let mut buf = [0; 16];
/// let (n, from) = b.recv_from(&mut buf)?; // parks until the datagram arrives
/// assert_eq!((&buf[..n], from), (&b"ping"[..], a.local_addr()?));
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct UdpSocket {
    io: Registered<mio::net::UdpSocket>,
    timeouts: Timeouts,
}

impl std::fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.io.fmt(f)
    }
}

impl UdpSocket {
    /// Binds to the first address that works.
    ///
    /// # Errors
    /// The last bind error, or the resolver's.
    ///
    /// # Examples
    ///
    /// ```
    /// let sock = grove::net::UdpSocket::bind("127.0.0.1:0")?;
    /// assert_ne!(sock.local_addr()?.port(), 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn bind(addr: impl ToAddrs) -> io::Result<UdpSocket> {
        let mut last = None;
        for a in addr.to_addrs()? {
            match mio::net::UdpSocket::bind(a) {
                Ok(s) => return Self::from_mio(s),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address")))
    }

    fn from_mio(s: mio::net::UdpSocket) -> io::Result<UdpSocket> {
        Ok(UdpSocket { io: Registered::new(s)?, timeouts: Timeouts::default() })
    }

    fn recv_op<R>(&self, op: impl FnMut(&mio::net::UdpSocket) -> io::Result<R>) -> io::Result<R> {
        self.io.io(Direction::Read, self.timeouts.read.get(), op)
    }

    fn send_op<R>(&self, op: impl FnMut(&mio::net::UdpSocket) -> io::Result<R>) -> io::Result<R> {
        self.io.io(Direction::Write, self.timeouts.write.get(), op)
    }

    /// Sends a datagram to `addr` (its first address).
    ///
    /// # Errors
    /// The OS or resolver error.
    ///
    /// # Examples
    ///
    /// ```
    /// use grove::net::UdpSocket;
    /// let (a, b) = (UdpSocket::bind("127.0.0.1:0")?, UdpSocket::bind("127.0.0.1:0")?);
    /// assert_eq!(a.send_to(b"hello", b.local_addr()?)?, 5);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn send_to(&self, buf: &[u8], addr: impl ToAddrs) -> io::Result<usize> {
        let to = *addr.to_addrs()?.first().ok_or_else(|| io::Error::other("no address"))?;
        self.send_op(|s| s.send_to(buf, to))
    }

    /// Receives a datagram and its sender.
    ///
    /// # Errors
    /// The OS error, `TimedOut` past the read timeout.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::ErrorKind;
    /// use std::time::Duration;
    /// let sock = grove::net::UdpSocket::bind("127.0.0.1:0")?;
    /// sock.set_read_timeout(Some(Duration::from_millis(5)))?;
    /// let mut buf = [0; 16];
    /// assert_eq!(sock.recv_from(&mut buf).unwrap_err().kind(), ErrorKind::TimedOut);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.recv_op(|s| s.recv_from(buf))
    }

    /// Receives a datagram without removing it from the queue.
    ///
    /// # Errors
    /// As [`recv_from`](Self::recv_from).
    ///
    /// # Examples
    ///
    /// ```
    /// use grove::net::UdpSocket;
    /// let (a, b) = (UdpSocket::bind("127.0.0.1:0")?, UdpSocket::bind("127.0.0.1:0")?);
    /// a.send_to(b"x", b.local_addr()?)?;
    /// let mut buf = [0; 8];
    /// assert_eq!(b.peek_from(&mut buf)?.0, 1);
    /// assert_eq!(b.recv_from(&mut buf)?.0, 1); // still there after the peek
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.recv_op(|s| s.peek_from(buf))
    }

    /// Sets the default peer for `send`/`recv`.
    ///
    /// # Errors
    /// The OS or resolver error.
    ///
    /// # Examples
    ///
    /// ```
    /// use grove::net::UdpSocket;
    /// let (a, b) = (UdpSocket::bind("127.0.0.1:0")?, UdpSocket::bind("127.0.0.1:0")?);
    /// a.connect(b.local_addr()?)?;
    /// assert_eq!(a.peer_addr()?, b.local_addr()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn connect(&self, addr: impl ToAddrs) -> io::Result<()> {
        let to = *addr.to_addrs()?.first().ok_or_else(|| io::Error::other("no address"))?;
        self.io.get().connect(to)
    }

    /// Sends to the connected peer.
    ///
    /// # Errors
    /// The OS error.
    ///
    /// # Examples
    ///
    /// ```
    /// use grove::net::UdpSocket;
    /// let (a, b) = (UdpSocket::bind("127.0.0.1:0")?, UdpSocket::bind("127.0.0.1:0")?);
    /// a.connect(b.local_addr()?)?;
    /// a.send(b"hey")?;
    /// let mut buf = [0; 8];
    /// assert_eq!(b.recv_from(&mut buf)?.0, 3);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.send_op(|s| s.send(buf))
    }

    /// Receives from the connected peer.
    ///
    /// # Errors
    /// The OS error, `TimedOut` past the read timeout.
    ///
    /// # Examples
    ///
    /// ```
    /// use grove::net::UdpSocket;
    /// let (a, b) = (UdpSocket::bind("127.0.0.1:0")?, UdpSocket::bind("127.0.0.1:0")?);
    /// b.connect(a.local_addr()?)?; // only datagrams from `a` are received
    /// a.send_to(b"data", b.local_addr()?)?;
    /// let mut buf = [0; 8];
    /// assert_eq!(b.recv(&mut buf)?, 4);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.recv_op(|s| s.recv(buf))
    }

    /// The bound address.
    ///
    /// # Errors
    /// The OS error.
    ///
    /// # Examples
    ///
    /// ```
    /// let sock = grove::net::UdpSocket::bind("127.0.0.1:0")?;
    /// assert!(sock.local_addr()?.ip().is_loopback());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get().local_addr()
    }

    /// The connected peer.
    ///
    /// # Errors
    /// The OS error (`NotConnected`).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::ErrorKind;
    /// let sock = grove::net::UdpSocket::bind("127.0.0.1:0")?;
    /// assert_eq!(sock.peer_addr().unwrap_err().kind(), ErrorKind::NotConnected);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get().peer_addr()
    }

    /// Sets SO_BROADCAST.
    ///
    /// # Errors
    /// The OS error.
    ///
    /// # Examples
    ///
    /// ```
    /// let sock = grove::net::UdpSocket::bind("127.0.0.1:0")?;
    /// sock.set_broadcast(true)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        self.io.get().set_broadcast(on)
    }

    /// Sets how long a receive may wait.
    ///
    /// # Errors
    /// `InvalidInput` for a zero duration.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::ErrorKind;
    /// use std::time::Duration;
    /// let sock = grove::net::UdpSocket::bind("127.0.0.1:0")?;
    /// sock.set_read_timeout(Some(Duration::from_millis(5)))?;
    /// assert_eq!(sock.recv(&mut [0; 8]).unwrap_err().kind(), ErrorKind::TimedOut);
    /// let zero = sock.set_read_timeout(Some(Duration::ZERO));
    /// assert_eq!(zero.unwrap_err().kind(), ErrorKind::InvalidInput);
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
    /// let sock = grove::net::UdpSocket::bind("127.0.0.1:0")?;
    /// sock.set_write_timeout(Some(Duration::from_secs(1)))?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_write_timeout(&self, t: Option<std::time::Duration>) -> io::Result<()> {
        self.timeouts.set_write(t)
    }

    /// Adopts a std socket.
    ///
    /// # Errors
    /// The OS error.
    ///
    /// # Examples
    ///
    /// ```
    /// let std_sock = std::net::UdpSocket::bind("127.0.0.1:0")?;
    /// let sock = grove::net::UdpSocket::from_std(std_sock)?;
    /// # drop(sock);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn from_std(s: std::net::UdpSocket) -> io::Result<UdpSocket> {
        s.set_nonblocking(true)?;
        Self::from_mio(mio::net::UdpSocket::from_std(s))
    }

    /// Converts into a blocking std socket.
    ///
    /// # Errors
    /// The OS error.
    ///
    /// # Examples
    ///
    /// ```
    /// let sock = grove::net::UdpSocket::bind("127.0.0.1:0")?;
    /// let std_sock = sock.into_std()?; // blocking again; `Send`
    /// # drop(std_sock);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn into_std(self) -> io::Result<std::net::UdpSocket> {
        let s: std::net::UdpSocket = self.io.into_inner().into();
        s.set_nonblocking(false)?;
        Ok(s)
    }
}

impl std::os::fd::AsRawFd for UdpSocket {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.io.get().as_raw_fd()
    }
}

crate::select::pollable! {
    UdpSocket => |s| s.io;
}
