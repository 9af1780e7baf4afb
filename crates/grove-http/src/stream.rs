//! The byte stream a connection runs over: plain TCP, or TLS (rustls) on top of it, server or
//! client side.

use std::io::{self, Read, Write};

use grove::net::TcpStream;
use grove::tls::rustls::{ClientConnection, ServerConnection};
use grove::tls::Duplex;

/// One side of a connection; cloning gives a second handle to the same connection (the
/// server reads through one and writes through the other). TLS goes through `tls::Duplex`,
/// which borrows the rustls connection only between system calls, so a read parked in one
/// handle never blocks a write through the other.
pub(crate) enum Stream {
    Plain(TcpStream),
    Tls(Duplex<ServerConnection>),
    TlsClient(Duplex<ClientConnection>),
}

impl Stream {
    pub(crate) fn try_clone(&self) -> io::Result<Stream> {
        Ok(match self {
            Stream::Plain(s) => Stream::Plain(s.try_clone()?),
            Stream::Tls(t) => Stream::Tls(t.clone()),
            Stream::TlsClient(t) => Stream::TlsClient(t.clone()),
        })
    }

    /// The TCP socket underneath.
    pub(crate) fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(t) => t.get_ref(),
            Stream::TlsClient(t) => t.get_ref(),
        }
    }

    /// Ends our sending side: FIN for TCP, close_notify then FIN for TLS.
    pub(crate) fn shutdown_write(&self) {
        let _ = match self {
            Stream::Plain(s) => s.shutdown(std::net::Shutdown::Write),
            Stream::Tls(t) => t.shutdown_write(),
            Stream::TlsClient(t) => t.shutdown_write(),
        };
    }
}

impl Read for &Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => (&*s).read(buf),
            Stream::Tls(t) => (&*t).read(buf),
            Stream::TlsClient(t) => (&*t).read(buf),
        }
    }
}

impl Write for &Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => (&*s).write(buf),
            Stream::Tls(t) => (&*t).write(buf),
            Stream::TlsClient(t) => (&*t).write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(_) => Ok(()),
            Stream::Tls(t) => (&*t).flush(),
            Stream::TlsClient(t) => (&*t).flush(),
        }
    }
}
