//! TLS over grove streams with rustls (feature `tls`, on by default).
//!
//! grove's sockets block cooperatively behind `std::io::Read`/`Write`, so rustls's own
//! `StreamOwned` runs over them unchanged; this module adds handshakes with timeouts and a
//! choice of the `ring` crypto provider.
//!
//! ```no_run
//! use std::io::{Read, Write};
//! use std::sync::Arc;
//! # fn config() -> Arc<rustls::ClientConfig> { unimplemented!() }
//! let tcp = grove::net::TcpStream::connect("127.0.0.1:8443").unwrap();
//! let mut tls = grove::tls::connect(config(), "localhost", tcp, None).unwrap();
//! tls.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
//! let mut page = Vec::new();
//! tls.read_to_end(&mut page).unwrap();
//! ```

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use rustls;
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, ServerConfig, ServerConnection};

use crate::net::TcpStream;

/// A TLS stream over a grove socket: `Read` and `Write` park the greenlet while the socket is
/// not ready, like the socket itself.
pub type TlsStream<C> = rustls::StreamOwned<C, TcpStream>;

/// The crypto provider grove builds rustls with.
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Completes the handshake on `conn`, within `timeout` if given.
fn handshake<C, D>(
    mut stream: rustls::StreamOwned<C, TcpStream>,
    timeout: Option<Duration>,
) -> io::Result<rustls::StreamOwned<C, TcpStream>>
where
    C: std::ops::DerefMut<Target = rustls::ConnectionCommon<D>>,
    D: rustls::SideData,
{
    let run = |s: &mut rustls::StreamOwned<C, TcpStream>| -> io::Result<()> {
        while s.conn.is_handshaking() {
            s.conn.complete_io(&mut s.sock)?;
        }
        Ok(())
    };
    match timeout {
        None => run(&mut stream)?,
        Some(t) => crate::timeout_at(Instant::now() + t, || run(&mut stream))
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out"))??,
    }
    Ok(stream)
}

/// Connects TLS over `tcp` to `server_name` (checked against the certificate) and completes
/// the handshake.
///
/// # Errors
/// An invalid server name, handshake failures (certificate errors come as `InvalidData`),
/// `TimedOut`, peer resets.
pub fn connect(
    config: Arc<ClientConfig>,
    server_name: &str,
    tcp: TcpStream,
    timeout: Option<Duration>,
) -> io::Result<TlsStream<ClientConnection>> {
    let name = ServerName::try_from(server_name.to_string())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let conn = ClientConnection::new(config, name).map_err(io::Error::other)?;
    handshake(rustls::StreamOwned::new(conn, tcp), timeout)
}

/// Accepts TLS on an accepted `tcp` connection and completes the handshake.
///
/// # Errors
/// Handshake failures, `TimedOut` (a peer that stalls in the handshake), peer resets.
pub fn accept(
    config: Arc<ServerConfig>,
    tcp: TcpStream,
    timeout: Option<Duration>,
) -> io::Result<TlsStream<ServerConnection>> {
    let conn = ServerConnection::new(config).map_err(io::Error::other)?;
    handshake(rustls::StreamOwned::new(conn, tcp), timeout)
}
