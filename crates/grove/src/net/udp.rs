use std::io;
use std::net::SocketAddr;

use crate::dns::ToAddrs;
use crate::io::{Direction, Registered};
use crate::net::Timeouts;

/// A UDP socket; receives park the greenlet until a datagram arrives.
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
    pub fn send_to(&self, buf: &[u8], addr: impl ToAddrs) -> io::Result<usize> {
        let to = *addr.to_addrs()?.first().ok_or_else(|| io::Error::other("no address"))?;
        self.send_op(|s| s.send_to(buf, to))
    }

    /// Receives a datagram and its sender.
    ///
    /// # Errors
    /// The OS error, `TimedOut` past the read timeout.
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.recv_op(|s| s.recv_from(buf))
    }

    /// Receives a datagram without removing it from the queue.
    ///
    /// # Errors
    /// As [`recv_from`](Self::recv_from).
    pub fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.recv_op(|s| s.peek_from(buf))
    }

    /// Sets the default peer for `send`/`recv`.
    ///
    /// # Errors
    /// The OS or resolver error.
    pub fn connect(&self, addr: impl ToAddrs) -> io::Result<()> {
        let to = *addr.to_addrs()?.first().ok_or_else(|| io::Error::other("no address"))?;
        self.io.get().connect(to)
    }

    /// Sends to the connected peer.
    ///
    /// # Errors
    /// The OS error.
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.send_op(|s| s.send(buf))
    }

    /// Receives from the connected peer.
    ///
    /// # Errors
    /// The OS error, `TimedOut` past the read timeout.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.recv_op(|s| s.recv(buf))
    }

    /// The bound address.
    ///
    /// # Errors
    /// The OS error.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get().local_addr()
    }

    /// The connected peer.
    ///
    /// # Errors
    /// The OS error (`NotConnected`).
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get().peer_addr()
    }

    /// Sets SO_BROADCAST.
    ///
    /// # Errors
    /// The OS error.
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        self.io.get().set_broadcast(on)
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

    /// Adopts a std socket.
    ///
    /// # Errors
    /// The OS error.
    pub fn from_std(s: std::net::UdpSocket) -> io::Result<UdpSocket> {
        s.set_nonblocking(true)?;
        Self::from_mio(mio::net::UdpSocket::from_std(s))
    }

    /// Converts into a blocking std socket.
    ///
    /// # Errors
    /// The OS error.
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
