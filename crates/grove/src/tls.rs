//! TLS over grove streams with rustls (feature `tls`, on by default).
//!
//! grove's sockets block cooperatively behind `std::io::Read`/`Write`, so rustls's own
//! `StreamOwned` runs over them unchanged; this module adds handshakes with timeouts, a
//! choice of the `ring` crypto provider, and [`Duplex`] for reading in one greenlet while
//! another writes.
//!
//! A [`TlsStream`] is one object: while a greenlet is parked inside its `read`, nobody else can
//! write to it (sharing it through `Rc<RefCell<_>>` panics "already borrowed"). Chat servers and
//! proxies need both directions at once: convert it into a [`Duplex`] (cloneable, `Read` and
//! `Write` on `&Duplex`) or [`split`](Duplex::split) it into a [`ReadHalf`] and a
//! [`WriteHalf`]. They share the rustls connection and only borrow it between system calls,
//! never across a park.
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

use std::cell::RefCell;
use std::io::{self, Read, Write};
use std::ops::DerefMut;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

pub use rustls;
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, ServerConfig, ServerConnection};

use crate::io::Direction;
use crate::net::TcpStream;

/// A TLS stream over a grove socket: `Read` and `Write` park the greenlet while the socket is
/// not ready, like the socket itself. One greenlet at a time: for reading in one greenlet
/// while another writes, convert it into a [`Duplex`].
///
/// # Examples
///
/// ```
/// # use std::sync::Arc;
/// # use grove::tls::rustls;
/// # use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
/// # let ck = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
/// # let cert: CertificateDer<'static> = ck.cert.der().clone();
/// # let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.signing_key.serialize_der()));
/// # let server_config = Arc::new(
/// #     rustls::ServerConfig::builder_with_provider(grove::tls::provider())
/// #         .with_safe_default_protocol_versions()
/// #         .unwrap()
/// #         .with_no_client_auth()
/// #         .with_single_cert(vec![cert.clone()], key)
/// #         .unwrap(),
/// # );
/// # let mut roots = rustls::RootCertStore::empty();
/// # roots.add(cert).unwrap();
/// # let client_config = Arc::new(
/// #     rustls::ClientConfig::builder_with_provider(grove::tls::provider())
/// #         .with_safe_default_protocol_versions()
/// #         .unwrap()
/// #         .with_root_certificates(roots)
/// #         .with_no_client_auth(),
/// # );
/// # let listener = grove::net::TcpListener::bind("127.0.0.1:0")?;
/// # let addr = listener.local_addr()?;
/// # let acceptor = grove::spawn(move || {
/// #     grove::tls::accept(server_config, listener.accept()?.0, None)
/// # });
/// # let tcp = grove::net::TcpStream::connect(addr)?;
/// # let client = grove::tls::connect(client_config, "localhost", tcp, None)?;
/// # let server = acceptor.join().unwrap()?;
/// use std::io::{Read, Write};
/// # let (mut client, mut server) = (client, server);
/// // `client` came from `connect`, `server` from `accept`:
/// client.write_all(b"ping")?;
/// let mut buf = [0; 4];
/// server.read_exact(&mut buf)?; // parks until the record arrives
/// assert_eq!(&buf, b"ping");
/// # Ok::<(), std::io::Error>(())
/// ```
pub type TlsStream<C> = rustls::StreamOwned<C, TcpStream>;

/// The crypto provider grove builds rustls with.
///
/// # Examples
///
/// ```
/// use grove::tls::rustls;
/// let builder = rustls::ClientConfig::builder_with_provider(grove::tls::provider())
///     .with_safe_default_protocol_versions()
///     .expect("ring supports the default versions");
/// # drop(builder);
/// ```
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
        Some(t) => crate::timeout(t, || run(&mut stream))
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
///
/// # Examples
///
/// ```
/// # use std::sync::Arc;
/// # use grove::tls::rustls;
/// # use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
/// # let ck = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
/// # let cert: CertificateDer<'static> = ck.cert.der().clone();
/// # let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.signing_key.serialize_der()));
/// # let server_config = Arc::new(
/// #     rustls::ServerConfig::builder_with_provider(grove::tls::provider())
/// #         .with_safe_default_protocol_versions()
/// #         .unwrap()
/// #         .with_no_client_auth()
/// #         .with_single_cert(vec![cert.clone()], key)
/// #         .unwrap(),
/// # );
/// # let mut roots = rustls::RootCertStore::empty();
/// # roots.add(cert).unwrap();
/// # let client_config = Arc::new(
/// #     rustls::ClientConfig::builder_with_provider(grove::tls::provider())
/// #         .with_safe_default_protocol_versions()
/// #         .unwrap()
/// #         .with_root_certificates(roots)
/// #         .with_no_client_auth(),
/// # );
/// use std::io::{Read, Write};
/// use std::time::Duration;
/// let listener = grove::net::TcpListener::bind("127.0.0.1:0")?;
/// let addr = listener.local_addr()?;
/// let server = grove::spawn(move || -> std::io::Result<()> {
///     let mut tls = grove::tls::accept(server_config, listener.accept()?.0, None)?;
///     tls.write_all(b"hello")
/// });
/// let tcp = grove::net::TcpStream::connect(addr)?;
/// let timeout = Some(Duration::from_secs(5));
/// let mut tls = grove::tls::connect(client_config, "localhost", tcp, timeout)?;
/// let mut buf = [0; 5];
/// tls.read_exact(&mut buf)?;
/// assert_eq!(&buf, b"hello");
/// server.join().unwrap()?;
/// # Ok::<(), std::io::Error>(())
/// ```
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
///
/// # Examples
///
/// ```
/// # use std::sync::Arc;
/// # use grove::tls::rustls;
/// # use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
/// # let ck = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
/// # let cert: CertificateDer<'static> = ck.cert.der().clone();
/// # let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.signing_key.serialize_der()));
/// # let server_config = Arc::new(
/// #     rustls::ServerConfig::builder_with_provider(grove::tls::provider())
/// #         .with_safe_default_protocol_versions()
/// #         .unwrap()
/// #         .with_no_client_auth()
/// #         .with_single_cert(vec![cert.clone()], key)
/// #         .unwrap(),
/// # );
/// # let mut roots = rustls::RootCertStore::empty();
/// # roots.add(cert).unwrap();
/// # let client_config = Arc::new(
/// #     rustls::ClientConfig::builder_with_provider(grove::tls::provider())
/// #         .with_safe_default_protocol_versions()
/// #         .unwrap()
/// #         .with_root_certificates(roots)
/// #         .with_no_client_auth(),
/// # );
/// use std::io::ErrorKind;
/// use std::time::Duration;
/// let listener = grove::net::TcpListener::bind("127.0.0.1:0")?;
/// // A client that connects and never speaks TLS: the handshake times out.
/// let _silent = grove::net::TcpStream::connect(listener.local_addr()?)?;
/// let (tcp, _) = listener.accept()?;
/// let err = grove::tls::accept(server_config, tcp, Some(Duration::from_millis(50))).unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::TimedOut);
/// # drop(client_config);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn accept(
    config: Arc<ServerConfig>,
    tcp: TcpStream,
    timeout: Option<Duration>,
) -> io::Result<TlsStream<ServerConnection>> {
    let conn = ServerConnection::new(config).map_err(io::Error::other)?;
    handshake(rustls::StreamOwned::new(conn, tcp), timeout)
}

/// A TLS stream that several greenlets may use at once: typically one reads while another
/// writes (full duplex). Clones share the connection. `Read` and `Write` are implemented for
/// `Duplex` and `&Duplex`; the socket's read/write timeouts
/// ([`TcpStream::set_read_timeout`] through [`get_ref`](Self::get_ref)) and enclosing `timeout`
/// scopes apply as for the socket.
///
/// ```no_run
/// use std::io::{BufRead, BufReader, Write};
/// # fn tls() -> grove::tls::TlsStream<grove::tls::rustls::ServerConnection> { unimplemented!() }
/// let (rd, mut wr) = grove::tls::Duplex::new(tls()).split();
/// let printer = grove::spawn(move || {
///     for line in BufReader::new(rd).lines() {
///         println!("peer: {}", line?);
///     }
///     std::io::Result::Ok(())
/// });
/// wr.write_all(b"hello\n").unwrap(); // while the other greenlet is parked reading
/// printer.join().unwrap().unwrap();
/// ```
///
/// Semantics of cut-short calls: a `read` that times out or is killed consumed nothing (no
/// plaintext is lost; TLS records already received stay buffered for the next read). A
/// `write` first waits until earlier data has left (so a failed or timed-out `write` accepted
/// nothing), then hands `buf` to rustls and returns: like a kernel socket buffer, the bytes are
/// then on their way and [`flush`](Write::flush) waits until they have reached the socket.
pub struct Duplex<C> {
    shared: Rc<Shared<C>>,
}

struct Shared<C> {
    conn: RefCell<C>,
    sock: TcpStream,
}

impl<C> Clone for Duplex<C> {
    fn clone(&self) -> Self {
        Duplex { shared: self.shared.clone() }
    }
}

impl<C> std::fmt::Debug for Duplex<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Duplex").field("sock", &self.shared.sock).finish_non_exhaustive()
    }
}

/// Adapts the socket to rustls's `read_tls`/`write_tls` with single, never-parking attempts.
struct Now<'a>(&'a TcpStream);

impl Read for Now<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read_now(buf)
    }
}

impl Write for Now<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write_now(&[io::IoSlice::new(buf)])
    }
    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        self.0.write_now(bufs)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn would_block(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::WouldBlock
}

impl<C, D> Duplex<C>
where
    C: DerefMut<Target = rustls::ConnectionCommon<D>>,
    D: rustls::SideData,
{
    /// Shares `stream` (normally handshaken already by [`connect`] or [`accept`]).
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use grove::tls::rustls;
    /// # use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    /// # let ck = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    /// # let cert: CertificateDer<'static> = ck.cert.der().clone();
    /// # let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.signing_key.serialize_der()));
    /// # let server_config = Arc::new(
    /// #     rustls::ServerConfig::builder_with_provider(grove::tls::provider())
    /// #         .with_safe_default_protocol_versions()
    /// #         .unwrap()
    /// #         .with_no_client_auth()
    /// #         .with_single_cert(vec![cert.clone()], key)
    /// #         .unwrap(),
    /// # );
    /// # let mut roots = rustls::RootCertStore::empty();
    /// # roots.add(cert).unwrap();
    /// # let client_config = Arc::new(
    /// #     rustls::ClientConfig::builder_with_provider(grove::tls::provider())
    /// #         .with_safe_default_protocol_versions()
    /// #         .unwrap()
    /// #         .with_root_certificates(roots)
    /// #         .with_no_client_auth(),
    /// # );
    /// # let listener = grove::net::TcpListener::bind("127.0.0.1:0")?;
    /// # let addr = listener.local_addr()?;
    /// # let acceptor = grove::spawn(move || {
    /// #     grove::tls::accept(server_config, listener.accept()?.0, None)
    /// # });
    /// # let tcp = grove::net::TcpStream::connect(addr)?;
    /// # let client = grove::tls::connect(client_config, "localhost", tcp, None)?;
    /// # let server = acceptor.join().unwrap()?;
    /// use std::io::{Read, Write};
    /// let duplex = grove::tls::Duplex::new(server);
    /// let reader = duplex.clone();
    /// let echo = grove::spawn(move || {
    ///     let mut buf = [0; 4];
    ///     (&reader).read_exact(&mut buf).map(|_| buf)
    /// });
    /// (&duplex).write_all(b"sent")?; // fine while `echo` is parked reading the same stream
    /// # let mut client = client;
    /// # client.write_all(b"data")?;
    /// assert_eq!(&echo.join().unwrap()?, b"data");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new(stream: TlsStream<C>) -> Duplex<C> {
        let rustls::StreamOwned { conn, sock } = stream;
        Duplex { shared: Rc::new(Shared { conn: RefCell::new(conn), sock }) }
    }

    /// A read half and a write half of the same connection.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use grove::tls::rustls;
    /// # use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    /// # let ck = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    /// # let cert: CertificateDer<'static> = ck.cert.der().clone();
    /// # let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.signing_key.serialize_der()));
    /// # let server_config = Arc::new(
    /// #     rustls::ServerConfig::builder_with_provider(grove::tls::provider())
    /// #         .with_safe_default_protocol_versions()
    /// #         .unwrap()
    /// #         .with_no_client_auth()
    /// #         .with_single_cert(vec![cert.clone()], key)
    /// #         .unwrap(),
    /// # );
    /// # let mut roots = rustls::RootCertStore::empty();
    /// # roots.add(cert).unwrap();
    /// # let client_config = Arc::new(
    /// #     rustls::ClientConfig::builder_with_provider(grove::tls::provider())
    /// #         .with_safe_default_protocol_versions()
    /// #         .unwrap()
    /// #         .with_root_certificates(roots)
    /// #         .with_no_client_auth(),
    /// # );
    /// # let listener = grove::net::TcpListener::bind("127.0.0.1:0")?;
    /// # let addr = listener.local_addr()?;
    /// # let acceptor = grove::spawn(move || {
    /// #     grove::tls::accept(server_config, listener.accept()?.0, None)
    /// # });
    /// # let tcp = grove::net::TcpStream::connect(addr)?;
    /// # let client = grove::tls::connect(client_config, "localhost", tcp, None)?;
    /// # let server = acceptor.join().unwrap()?;
    /// use std::io::{Read, Write};
    /// let (mut rd, mut wr) = grove::tls::Duplex::new(client).split();
    /// let reader = grove::spawn(move || {
    ///     let mut buf = [0; 2];
    ///     rd.read_exact(&mut buf).map(|_| buf)
    /// });
    /// wr.write_all(b"hi")?;
    /// # let mut server = server;
    /// # server.write_all(b"yo")?;
    /// assert_eq!(&reader.join().unwrap()?, b"yo");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn split(self) -> (ReadHalf<C>, WriteHalf<C>) {
        (ReadHalf(self.clone()), WriteHalf(self))
    }

    /// The socket (timeouts, addresses). Reading or writing it directly corrupts the TLS
    /// stream.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use grove::tls::rustls;
    /// # use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    /// # let ck = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    /// # let cert: CertificateDer<'static> = ck.cert.der().clone();
    /// # let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.signing_key.serialize_der()));
    /// # let server_config = Arc::new(
    /// #     rustls::ServerConfig::builder_with_provider(grove::tls::provider())
    /// #         .with_safe_default_protocol_versions()
    /// #         .unwrap()
    /// #         .with_no_client_auth()
    /// #         .with_single_cert(vec![cert.clone()], key)
    /// #         .unwrap(),
    /// # );
    /// # let mut roots = rustls::RootCertStore::empty();
    /// # roots.add(cert).unwrap();
    /// # let client_config = Arc::new(
    /// #     rustls::ClientConfig::builder_with_provider(grove::tls::provider())
    /// #         .with_safe_default_protocol_versions()
    /// #         .unwrap()
    /// #         .with_root_certificates(roots)
    /// #         .with_no_client_auth(),
    /// # );
    /// # let listener = grove::net::TcpListener::bind("127.0.0.1:0")?;
    /// # let addr = listener.local_addr()?;
    /// # let acceptor = grove::spawn(move || {
    /// #     grove::tls::accept(server_config, listener.accept()?.0, None)
    /// # });
    /// # let tcp = grove::net::TcpStream::connect(addr)?;
    /// # let client = grove::tls::connect(client_config, "localhost", tcp, None)?;
    /// # let server = acceptor.join().unwrap()?;
    /// use std::time::Duration;
    /// let duplex = grove::tls::Duplex::new(client);
    /// duplex.get_ref().set_read_timeout(Some(Duration::from_secs(30)))?;
    /// let _peer = duplex.get_ref().peer_addr()?;
    /// # drop(server);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn get_ref(&self) -> &TcpStream {
        &self.shared.sock
    }

    /// Runs `f` on the rustls connection (ALPN, peer certificates, `send_close_notify`...).
    /// `f` must not block: other greenlets' reads and writes need the connection too.
    ///
    /// # Panics
    /// If called from within `f`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use grove::tls::rustls;
    /// # use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    /// # let ck = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    /// # let cert: CertificateDer<'static> = ck.cert.der().clone();
    /// # let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.signing_key.serialize_der()));
    /// # let server_config = Arc::new(
    /// #     rustls::ServerConfig::builder_with_provider(grove::tls::provider())
    /// #         .with_safe_default_protocol_versions()
    /// #         .unwrap()
    /// #         .with_no_client_auth()
    /// #         .with_single_cert(vec![cert.clone()], key)
    /// #         .unwrap(),
    /// # );
    /// # let mut roots = rustls::RootCertStore::empty();
    /// # roots.add(cert).unwrap();
    /// # let client_config = Arc::new(
    /// #     rustls::ClientConfig::builder_with_provider(grove::tls::provider())
    /// #         .with_safe_default_protocol_versions()
    /// #         .unwrap()
    /// #         .with_root_certificates(roots)
    /// #         .with_no_client_auth(),
    /// # );
    /// # let listener = grove::net::TcpListener::bind("127.0.0.1:0")?;
    /// # let addr = listener.local_addr()?;
    /// # let acceptor = grove::spawn(move || {
    /// #     grove::tls::accept(server_config, listener.accept()?.0, None)
    /// # });
    /// # let tcp = grove::net::TcpStream::connect(addr)?;
    /// # let client = grove::tls::connect(client_config, "localhost", tcp, None)?;
    /// # let server = acceptor.join().unwrap()?;
    /// let duplex = grove::tls::Duplex::new(client);
    /// let version = duplex.with_conn(|conn| conn.protocol_version());
    /// assert!(version.is_some());
    /// # drop(server);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn with_conn<R>(&self, f: impl FnOnce(&mut C) -> R) -> R {
        f(&mut self.shared.conn.borrow_mut())
    }

    /// Sends close_notify, flushes and shuts down the socket's write side (the peer reads end
    /// of stream); reading goes on until the peer closes too.
    ///
    /// # Errors
    /// Socket errors, `TimedOut`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use grove::tls::rustls;
    /// # use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    /// # let ck = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    /// # let cert: CertificateDer<'static> = ck.cert.der().clone();
    /// # let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.signing_key.serialize_der()));
    /// # let server_config = Arc::new(
    /// #     rustls::ServerConfig::builder_with_provider(grove::tls::provider())
    /// #         .with_safe_default_protocol_versions()
    /// #         .unwrap()
    /// #         .with_no_client_auth()
    /// #         .with_single_cert(vec![cert.clone()], key)
    /// #         .unwrap(),
    /// # );
    /// # let mut roots = rustls::RootCertStore::empty();
    /// # roots.add(cert).unwrap();
    /// # let client_config = Arc::new(
    /// #     rustls::ClientConfig::builder_with_provider(grove::tls::provider())
    /// #         .with_safe_default_protocol_versions()
    /// #         .unwrap()
    /// #         .with_root_certificates(roots)
    /// #         .with_no_client_auth(),
    /// # );
    /// # let listener = grove::net::TcpListener::bind("127.0.0.1:0")?;
    /// # let addr = listener.local_addr()?;
    /// # let acceptor = grove::spawn(move || {
    /// #     grove::tls::accept(server_config, listener.accept()?.0, None)
    /// # });
    /// # let tcp = grove::net::TcpStream::connect(addr)?;
    /// # let client = grove::tls::connect(client_config, "localhost", tcp, None)?;
    /// # let server = acceptor.join().unwrap()?;
    /// use std::io::Read;
    /// let duplex = grove::tls::Duplex::new(client);
    /// duplex.shutdown_write()?; // close_notify: the peer reads end of stream
    /// let mut rest = Vec::new();
    /// # let mut server = server;
    /// server.read_to_end(&mut rest)?;
    /// assert!(rest.is_empty());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn shutdown_write(&self) -> io::Result<()> {
        self.shared.conn.borrow_mut().send_close_notify();
        self.flush_tls()?;
        self.shared.sock.shutdown(std::net::Shutdown::Write)
    }

    fn read_tls(&self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let sh = &*self.shared;
        let deadline = sh.sock.read_timeout()?.and_then(crate::time::deadline_after);
        loop {
            {
                // Borrowed only between system calls: never across the park below.
                let mut c = sh.conn.borrow_mut();
                match c.reader().read(buf) {
                    Err(e) if would_block(&e) => {}
                    r => return r, // data, clean end (0), or an unclean end (UnexpectedEof)
                }
                match c.read_tls(&mut Now(&sh.sock)) {
                    Ok(_) => {
                        // Ok(0) is the peer's FIN: the reader reports it on the next turn.
                        if let Err(e) = c.process_new_packets() {
                            let _ = c.write_tls(&mut Now(&sh.sock)); // the alert, if it fits
                            return Err(io::Error::new(io::ErrorKind::InvalidData, e));
                        }
                        // Answers to post-handshake messages (key updates) go out as room
                        // allows; a writer's next flush sends the rest.
                        while c.wants_write() {
                            if c.write_tls(&mut Now(&sh.sock)).is_err() {
                                break;
                            }
                        }
                        continue;
                    }
                    Err(e) if would_block(&e) => {}
                    Err(e) => return Err(e),
                }
            }
            sh.sock.park_until(Direction::Read, deadline)?;
        }
    }

    /// Writes out everything rustls has buffered, parking (without the borrow) while the
    /// socket is full.
    fn flush_tls(&self) -> io::Result<()> {
        let sh = &*self.shared;
        let deadline = sh.sock.write_timeout()?.and_then(crate::time::deadline_after);
        loop {
            {
                let mut c = sh.conn.borrow_mut();
                if !c.wants_write() {
                    return Ok(());
                }
                match c.write_tls(&mut Now(&sh.sock)) {
                    Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                    Ok(_) => continue,
                    Err(e) if would_block(&e) => {}
                    Err(e) => return Err(e),
                }
            }
            sh.sock.park_until(Direction::Write, deadline)?;
        }
    }

    fn write_tls(&self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            // Earlier data first: if this fails or times out, `buf` was not taken.
            self.flush_tls()?;
            let mut c = self.shared.conn.borrow_mut();
            let n = c.writer().write(buf)?;
            // Start sending without waiting; errors surface on the next write or flush.
            while c.wants_write() {
                match c.write_tls(&mut Now(&self.shared.sock)) {
                    Ok(n) if n > 0 => {}
                    _ => break,
                }
            }
            if n > 0 {
                return Ok(n);
            }
        }
    }
}

impl<C, D> Read for &Duplex<C>
where
    C: DerefMut<Target = rustls::ConnectionCommon<D>>,
    D: rustls::SideData,
{
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_tls(buf)
    }
}

impl<C, D> Write for &Duplex<C>
where
    C: DerefMut<Target = rustls::ConnectionCommon<D>>,
    D: rustls::SideData,
{
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_tls(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.flush_tls()
    }
}

impl<C, D> Read for Duplex<C>
where
    C: DerefMut<Target = rustls::ConnectionCommon<D>>,
    D: rustls::SideData,
{
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_tls(buf)
    }
}

impl<C, D> Write for Duplex<C>
where
    C: DerefMut<Target = rustls::ConnectionCommon<D>>,
    D: rustls::SideData,
{
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_tls(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.flush_tls()
    }
}

/// The reading half of a [`Duplex`] (see [`Duplex::split`]).
///
/// # Examples
///
/// ```
/// # use std::sync::Arc;
/// # use grove::tls::rustls;
/// # use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
/// # let ck = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
/// # let cert: CertificateDer<'static> = ck.cert.der().clone();
/// # let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.signing_key.serialize_der()));
/// # let server_config = Arc::new(
/// #     rustls::ServerConfig::builder_with_provider(grove::tls::provider())
/// #         .with_safe_default_protocol_versions()
/// #         .unwrap()
/// #         .with_no_client_auth()
/// #         .with_single_cert(vec![cert.clone()], key)
/// #         .unwrap(),
/// # );
/// # let mut roots = rustls::RootCertStore::empty();
/// # roots.add(cert).unwrap();
/// # let client_config = Arc::new(
/// #     rustls::ClientConfig::builder_with_provider(grove::tls::provider())
/// #         .with_safe_default_protocol_versions()
/// #         .unwrap()
/// #         .with_root_certificates(roots)
/// #         .with_no_client_auth(),
/// # );
/// # let listener = grove::net::TcpListener::bind("127.0.0.1:0")?;
/// # let addr = listener.local_addr()?;
/// # let acceptor = grove::spawn(move || {
/// #     grove::tls::accept(server_config, listener.accept()?.0, None)
/// # });
/// # let tcp = grove::net::TcpStream::connect(addr)?;
/// # let client = grove::tls::connect(client_config, "localhost", tcp, None)?;
/// # let server = acceptor.join().unwrap()?;
/// use std::io::Read;
/// let (mut rd, wr) = grove::tls::Duplex::new(server).split();
/// # let mut client = client;
/// # std::io::Write::write_all(&mut client, b"x")?;
/// let mut byte = [0; 1];
/// rd.read_exact(&mut byte)?;
/// # drop(wr);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct ReadHalf<C>(Duplex<C>);

/// The writing half of a [`Duplex`] (see [`Duplex::split`]).
///
/// # Examples
///
/// ```
/// # use std::sync::Arc;
/// # use grove::tls::rustls;
/// # use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
/// # let ck = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
/// # let cert: CertificateDer<'static> = ck.cert.der().clone();
/// # let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.signing_key.serialize_der()));
/// # let server_config = Arc::new(
/// #     rustls::ServerConfig::builder_with_provider(grove::tls::provider())
/// #         .with_safe_default_protocol_versions()
/// #         .unwrap()
/// #         .with_no_client_auth()
/// #         .with_single_cert(vec![cert.clone()], key)
/// #         .unwrap(),
/// # );
/// # let mut roots = rustls::RootCertStore::empty();
/// # roots.add(cert).unwrap();
/// # let client_config = Arc::new(
/// #     rustls::ClientConfig::builder_with_provider(grove::tls::provider())
/// #         .with_safe_default_protocol_versions()
/// #         .unwrap()
/// #         .with_root_certificates(roots)
/// #         .with_no_client_auth(),
/// # );
/// # let listener = grove::net::TcpListener::bind("127.0.0.1:0")?;
/// # let addr = listener.local_addr()?;
/// # let acceptor = grove::spawn(move || {
/// #     grove::tls::accept(server_config, listener.accept()?.0, None)
/// # });
/// # let tcp = grove::net::TcpStream::connect(addr)?;
/// # let client = grove::tls::connect(client_config, "localhost", tcp, None)?;
/// # let server = acceptor.join().unwrap()?;
/// use std::io::Write;
/// let (_rd, mut wr) = grove::tls::Duplex::new(client).split();
/// wr.write_all(b"request")?;
/// wr.flush()?; // waits until the bytes reached the socket
/// # drop(server);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct WriteHalf<C>(Duplex<C>);

impl<C> ReadHalf<C> {
    /// The shared stream.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use grove::tls::rustls;
    /// # use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    /// # let ck = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    /// # let cert: CertificateDer<'static> = ck.cert.der().clone();
    /// # let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.signing_key.serialize_der()));
    /// # let server_config = Arc::new(
    /// #     rustls::ServerConfig::builder_with_provider(grove::tls::provider())
    /// #         .with_safe_default_protocol_versions()
    /// #         .unwrap()
    /// #         .with_no_client_auth()
    /// #         .with_single_cert(vec![cert.clone()], key)
    /// #         .unwrap(),
    /// # );
    /// # let mut roots = rustls::RootCertStore::empty();
    /// # roots.add(cert).unwrap();
    /// # let client_config = Arc::new(
    /// #     rustls::ClientConfig::builder_with_provider(grove::tls::provider())
    /// #         .with_safe_default_protocol_versions()
    /// #         .unwrap()
    /// #         .with_root_certificates(roots)
    /// #         .with_no_client_auth(),
    /// # );
    /// # let listener = grove::net::TcpListener::bind("127.0.0.1:0")?;
    /// # let addr = listener.local_addr()?;
    /// # let acceptor = grove::spawn(move || {
    /// #     grove::tls::accept(server_config, listener.accept()?.0, None)
    /// # });
    /// # let tcp = grove::net::TcpStream::connect(addr)?;
    /// # let client = grove::tls::connect(client_config, "localhost", tcp, None)?;
    /// # let server = acceptor.join().unwrap()?;
    /// let (rd, _wr) = grove::tls::Duplex::new(client).split();
    /// let peer = rd.duplex().get_ref().peer_addr()?;
    /// assert_eq!(peer, addr);
    /// # drop(server);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn duplex(&self) -> &Duplex<C> {
        &self.0
    }
}

impl<C> WriteHalf<C> {
    /// The shared stream.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use grove::tls::rustls;
    /// # use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    /// # let ck = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    /// # let cert: CertificateDer<'static> = ck.cert.der().clone();
    /// # let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.signing_key.serialize_der()));
    /// # let server_config = Arc::new(
    /// #     rustls::ServerConfig::builder_with_provider(grove::tls::provider())
    /// #         .with_safe_default_protocol_versions()
    /// #         .unwrap()
    /// #         .with_no_client_auth()
    /// #         .with_single_cert(vec![cert.clone()], key)
    /// #         .unwrap(),
    /// # );
    /// # let mut roots = rustls::RootCertStore::empty();
    /// # roots.add(cert).unwrap();
    /// # let client_config = Arc::new(
    /// #     rustls::ClientConfig::builder_with_provider(grove::tls::provider())
    /// #         .with_safe_default_protocol_versions()
    /// #         .unwrap()
    /// #         .with_root_certificates(roots)
    /// #         .with_no_client_auth(),
    /// # );
    /// # let listener = grove::net::TcpListener::bind("127.0.0.1:0")?;
    /// # let addr = listener.local_addr()?;
    /// # let acceptor = grove::spawn(move || {
    /// #     grove::tls::accept(server_config, listener.accept()?.0, None)
    /// # });
    /// # let tcp = grove::net::TcpStream::connect(addr)?;
    /// # let client = grove::tls::connect(client_config, "localhost", tcp, None)?;
    /// # let server = acceptor.join().unwrap()?;
    /// let (_rd, wr) = grove::tls::Duplex::new(client).split();
    /// wr.duplex().shutdown_write()?; // through the half, on the shared stream
    /// # drop(server);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn duplex(&self) -> &Duplex<C> {
        &self.0
    }
}

impl<C, D> Read for ReadHalf<C>
where
    C: DerefMut<Target = rustls::ConnectionCommon<D>>,
    D: rustls::SideData,
{
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read_tls(buf)
    }
}

impl<C, D> Write for WriteHalf<C>
where
    C: DerefMut<Target = rustls::ConnectionCommon<D>>,
    D: rustls::SideData,
{
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write_tls(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush_tls()
    }
}
