//! The byte stream a connection runs over: plain TCP, or TLS (rustls) on top of it.

use std::cell::RefCell;
use std::io::{self, Read, Write};
use std::rc::Rc;

use grove::net::TcpStream;
use grove::tls::rustls::ServerConnection;
use grove::tls::TlsStream;

/// One side of a connection; cloning gives a second handle to the same connection (the
/// server reads through one and writes through the other).
pub(crate) enum Stream {
    Plain(TcpStream),
    /// TLS state is shared by both handles; each operation borrows it for its duration.
    Tls(Rc<RefCell<TlsStream<ServerConnection>>>),
}

fn busy() -> io::Error {
    io::Error::other("TLS connection busy: read and write at the same time from two places")
}

impl Stream {
    pub(crate) fn try_clone(&self) -> io::Result<Stream> {
        Ok(match self {
            Stream::Plain(s) => Stream::Plain(s.try_clone()?),
            Stream::Tls(t) => Stream::Tls(t.clone()),
        })
    }

    /// Ends our sending side: FIN for TCP, close_notify then FIN for TLS.
    pub(crate) fn shutdown_write(&self) {
        match self {
            Stream::Plain(s) => {
                let _ = s.shutdown(std::net::Shutdown::Write);
            }
            Stream::Tls(t) => {
                if let Ok(mut t) = t.try_borrow_mut() {
                    t.conn.send_close_notify();
                    let _ = t.flush();
                    let _ = t.sock.shutdown(std::net::Shutdown::Write);
                }
            }
        }
    }
}

impl Read for &Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => (&*s).read(buf),
            Stream::Tls(t) => t.try_borrow_mut().map_err(|_| busy())?.read(buf),
        }
    }
}

impl Write for &Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => (&*s).write(buf),
            Stream::Tls(t) => t.try_borrow_mut().map_err(|_| busy())?.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(_) => Ok(()),
            Stream::Tls(t) => t.try_borrow_mut().map_err(|_| busy())?.flush(),
        }
    }
}
