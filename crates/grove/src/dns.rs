//! Name resolution through the thread pool (gevent's default threaded resolver): the system's
//! `getaddrinfo`, so `/etc/hosts`, nsswitch and search domains behave as for any program.

use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs as _};
use std::time::Duration;

use crate::thread_pool;

/// Resolves `host` (a name or an IP literal) with `port`. IP literals answer at once; names go
/// through `getaddrinfo` on a pool thread while the calling greenlet waits cooperatively.
///
/// ```
/// let addrs = grove::dns::resolve("localhost", 80).unwrap();
/// assert!(addrs.iter().all(|a| a.ip().is_loopback()));
/// ```
///
/// # Errors
/// The resolver's error (unknown host: `ErrorKind::Other`/`NotFound` as the platform reports),
/// `TimedOut` when an enclosing `timeout` scope expires.
pub fn resolve(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    resolve_with(host, port, None)
}

/// [`resolve`] with its own timeout.
///
/// # Errors
/// As [`resolve`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// let addrs = grove::dns::resolve_timeout("127.0.0.1", 8080, Duration::from_secs(2))?;
/// assert_eq!(addrs, ["127.0.0.1:8080".parse().unwrap()]); // IP literals answer at once
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn resolve_timeout(host: &str, port: u16, timeout: Duration) -> io::Result<Vec<SocketAddr>> {
    resolve_with(host, port, Some(timeout))
}

fn resolve_with(host: &str, port: u16, timeout: Option<Duration>) -> io::Result<Vec<SocketAddr>> {
    let literal = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    if let Ok(ip) = literal.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let h = host.to_string();
    let job = move || (h.as_str(), port).to_socket_addrs().map(Iterator::collect::<Vec<_>>);
    let addrs = match timeout {
        Some(t) => thread_pool::spawn_blocking_timeout(t, job)??,
        None => thread_pool::spawn_blocking(job)??,
    };
    if addrs.is_empty() {
        return Err(io::Error::new(io::ErrorKind::NotFound, format!("no addresses for {host}")));
    }
    Ok(addrs)
}

/// Things that name socket addresses, resolved cooperatively (unlike `std::net::ToSocketAddrs`,
/// which would block the hub on DNS).
///
/// # Examples
///
/// ```
/// use std::net::SocketAddr;
/// use grove::dns::ToAddrs;
/// fn first_addr(addr: impl ToAddrs) -> std::io::Result<SocketAddr> {
///     Ok(addr.to_addrs()?[0])
/// }
/// assert_eq!(first_addr("127.0.0.1:80")?.port(), 80);
/// assert_eq!(first_addr(("127.0.0.1", 443))?.port(), 443);
/// # Ok::<(), std::io::Error>(())
/// ```
pub trait ToAddrs {
    /// The addresses, resolving names through [`resolve`].
    ///
    /// # Errors
    /// Malformed `"host:port"` strings; resolver errors.
    ///
    /// # Examples
    ///
    /// ```
    /// use grove::dns::ToAddrs;
    /// let addrs = "localhost:80".to_addrs()?; // resolved on the thread pool
    /// assert!(addrs.iter().all(|a| a.port() == 80));
    /// assert!("no port here".to_addrs().is_err());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    fn to_addrs(&self) -> io::Result<Vec<SocketAddr>>;
}

impl ToAddrs for SocketAddr {
    fn to_addrs(&self) -> io::Result<Vec<SocketAddr>> {
        Ok(vec![*self])
    }
}

impl ToAddrs for (IpAddr, u16) {
    fn to_addrs(&self) -> io::Result<Vec<SocketAddr>> {
        Ok(vec![SocketAddr::new(self.0, self.1)])
    }
}

impl ToAddrs for (&str, u16) {
    fn to_addrs(&self) -> io::Result<Vec<SocketAddr>> {
        resolve(self.0, self.1)
    }
}

impl ToAddrs for (String, u16) {
    fn to_addrs(&self) -> io::Result<Vec<SocketAddr>> {
        resolve(&self.0, self.1)
    }
}

impl ToAddrs for str {
    fn to_addrs(&self) -> io::Result<Vec<SocketAddr>> {
        if let Ok(a) = self.parse::<SocketAddr>() {
            return Ok(vec![a]);
        }
        let (host, port) = self.rsplit_once(':').ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, format!("'{self}' is not host:port"))
        })?;
        let port: u16 = port.parse().map_err(|_| {
            io::Error::new(io::ErrorKind::InvalidInput, format!("invalid port in '{self}'"))
        })?;
        resolve(host, port)
    }
}

impl ToAddrs for String {
    fn to_addrs(&self) -> io::Result<Vec<SocketAddr>> {
        self.as_str().to_addrs()
    }
}

impl ToAddrs for [SocketAddr] {
    fn to_addrs(&self) -> io::Result<Vec<SocketAddr>> {
        Ok(self.to_vec())
    }
}

impl<T: ToAddrs + ?Sized> ToAddrs for &T {
    fn to_addrs(&self) -> io::Result<Vec<SocketAddr>> {
        (**self).to_addrs()
    }
}
