//! Cooperative sockets mirroring `std::net` and `std::os::unix::net`: [`TcpListener`],
//! [`TcpStream`], [`UdpSocket`], [`UnixListener`], [`UnixStream`], [`UnixDatagram`].
//!
//! They implement `std::io::Read`/`Write` (also through `&`), so existing synchronous code —
//! `BufReader`, protocol crates, serializers — runs on them unchanged; a call that would block
//! parks the greenlet instead. Each socket is registered with its hub once (edge-triggered);
//! when data is ready an operation costs exactly its one system call.
//!
//! Stream sockets are full duplex: one greenlet may be parked in `read` while another writes
//! the same socket, through `&TcpStream` / `&UnixStream` or a [`TcpStream::try_clone`] handle.
//! Reads and writes wait on separate readiness; a read or write cut short by a timeout or a
//! kill has transferred nothing, and the socket stays usable by the others. (For TLS, see
//! [`tls::Duplex`](crate::tls::Duplex).) Several greenlets reading one socket at once each get
//! some of the bytes, split in no defined way.
//!
//! Sockets are pinned to the hub (thread) that created them (`!Send`). To move a connection to
//! another hub, convert it with `into_std`, send that, and `from_std` it there.
//!
//! ```
//! use std::io::{BufRead, BufReader, Write};
//! use grove::net::{TcpListener, TcpStream};
//!
//! let listener = TcpListener::bind("127.0.0.1:0").unwrap();
//! let addr = listener.local_addr().unwrap();
//! let server = grove::spawn(move || {
//!     let (conn, _) = listener.accept().unwrap();
//!     let mut line = String::new();
//!     BufReader::new(&conn).read_line(&mut line).unwrap();
//!     (&conn).write_all(line.to_uppercase().as_bytes()).unwrap();
//! });
//! let mut c = TcpStream::connect(addr).unwrap();
//! c.write_all(b"hello\n").unwrap();
//! let mut reply = String::new();
//! BufReader::new(&c).read_line(&mut reply).unwrap();
//! assert_eq!(reply, "HELLO\n");
//! server.join().unwrap();
//! ```

mod stream;
mod tcp;
mod udp;
mod unix;

pub use crate::dns::ToAddrs;
pub use stream::{Stream, StreamSocket};
pub use tcp::{Incoming, TcpListener, TcpStream, DEFAULT_BACKLOG};
pub use udp::UdpSocket;
pub use unix::{UnixDatagram, UnixListener, UnixStream};

use std::cell::Cell;
use std::time::Duration;

/// Per-socket read/write timeouts (std's `set_read_timeout` semantics, enforced by the hub).
#[derive(Debug, Default)]
pub(crate) struct Timeouts {
    pub(crate) read: Cell<Option<Duration>>,
    pub(crate) write: Cell<Option<Duration>>,
}

impl Timeouts {
    /// Sets the read timeout, rejecting a zero duration as std does.
    pub(crate) fn set_read(&self, t: Option<Duration>) -> std::io::Result<()> {
        self.read.set(check_timeout(t)?);
        Ok(())
    }

    /// Sets the write timeout, rejecting a zero duration as std does.
    pub(crate) fn set_write(&self, t: Option<Duration>) -> std::io::Result<()> {
        self.write.set(check_timeout(t)?);
        Ok(())
    }
}

fn check_timeout(t: Option<Duration>) -> std::io::Result<Option<Duration>> {
    if t == Some(Duration::ZERO) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "cannot set a 0 duration timeout",
        ));
    }
    Ok(t)
}
