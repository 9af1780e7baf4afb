//! The connected stream socket, written once: [`Stream<T>`] runs any std stream socket `T` on
//! the hub (async-io's `Async<T>` shape). [`TcpStream`](super::TcpStream) and
//! [`UnixStream`](super::UnixStream) are its two instances; each adds only what its family
//! has (`connect`, `peek`, `set_nodelay`, `pair`, addresses).

use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::rc::Rc;
use std::time::Duration;

use super::Timeouts;
use crate::io::{Direction, Registered};

/// A std stream socket type grove runs on its hub: `std::net::TcpStream` and
/// `std::os::unix::net::UnixStream`. Sealed: the set is grove's.
///
/// # Examples
///
/// ```
/// use grove::net::{Stream, StreamSocket};
/// // Code written once for both stream families:
/// fn greet<T: StreamSocket>(s: &Stream<T>) -> std::io::Result<()> {
///     use std::io::Write;
///     (&*s).write_all(b"hello")
/// }
/// let (a, _b) = grove::net::UnixStream::pair()?;
/// greet(&a)?;
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// Another crate cannot add a type (the set is sealed):
///
/// ```compile_fail,E0277
/// use std::os::fd::OwnedFd;
/// struct Mine(OwnedFd);
/// impl From<OwnedFd> for Mine {
///     fn from(fd: OwnedFd) -> Self {
///         Mine(fd)
///     }
/// }
/// impl From<Mine> for OwnedFd {
///     fn from(m: Mine) -> Self {
///         m.0
///     }
/// }
/// impl grove::net::StreamSocket for Mine {}
/// ```
///
/// The registered type behind each (mio's) is grove's own business: it lives in the sealed
/// supertrait, so no public path names it.
pub trait StreamSocket: sealed::Sealed + From<OwnedFd> + Into<OwnedFd> {}

impl sealed::Sealed for std::net::TcpStream {
    type Source = mio::net::TcpStream;
}
impl StreamSocket for std::net::TcpStream {}

impl sealed::Sealed for std::os::unix::net::UnixStream {
    type Source = mio::net::UnixStream;
}
impl StreamSocket for std::os::unix::net::UnixStream {}

#[allow(unreachable_pub)] // public only so the sealed trait can name them
pub(crate) mod sealed {
    use std::io::{self, IoSlice, IoSliceMut, Read, Write};
    use std::os::fd::{AsFd, AsRawFd, OwnedFd};

    pub trait Sealed {
        /// The registered (mio) type behind the std type.
        type Source: SourceIo;
    }

    /// What a stream source can do, for any source whose references read and write.
    pub trait SourceIo:
        mio::event::Source + From<OwnedFd> + Into<OwnedFd> + AsFd + AsRawFd + std::fmt::Debug
    {
        fn read_to(&self, buf: &mut [u8]) -> io::Result<usize>;
        fn read_vectored_to(&self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize>;
        fn write_from(&self, buf: &[u8]) -> io::Result<usize>;
        fn write_vectored_from(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize>;
    }

    impl<S> SourceIo for S
    where
        S: mio::event::Source + From<OwnedFd> + Into<OwnedFd> + AsFd + AsRawFd + std::fmt::Debug,
        for<'a> &'a S: Read + Write,
    {
        fn read_to(&self, buf: &mut [u8]) -> io::Result<usize> {
            (&mut &*self).read(buf)
        }
        fn read_vectored_to(&self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
            (&mut &*self).read_vectored(bufs)
        }
        fn write_from(&self, buf: &[u8]) -> io::Result<usize> {
            (&mut &*self).write(buf)
        }
        fn write_vectored_from(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
            (&mut &*self).write_vectored(bufs)
        }
    }
}

use sealed::SourceIo;

/// A connected stream socket on the hub: std's stream API, where a call that would block
/// parks the greenlet. Use it as [`TcpStream`](super::TcpStream) or
/// [`UnixStream`](super::UnixStream).
///
/// It implements `Read`/`Write` by value and through `&`, so one greenlet may read while
/// another writes. Cloning ([`try_clone`](Self::try_clone)) gives another handle to the same
/// socket and registration; the socket closes when the last handle is dropped.
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
pub struct Stream<T: StreamSocket> {
    inner: Rc<Inner<T::Source>>,
}

struct Inner<S: SourceIo> {
    io: Registered<S>,
    timeouts: Timeouts,
}

impl<T: StreamSocket> Stream<T> {
    /// Registers a connected (or connecting) non-blocking source with this thread's hub.
    pub(crate) fn from_source(s: T::Source) -> io::Result<Self> {
        Ok(Stream {
            inner: Rc::new(Inner { io: Registered::new(s)?, timeouts: Timeouts::default() }),
        })
    }

    pub(crate) fn registered(&self) -> &Registered<T::Source> {
        &self.inner.io
    }

    /// The read timeout, for reads that go through other paths (`peek`).
    pub(crate) fn read_timeout_now(&self) -> Option<Duration> {
        self.inner.timeouts.read.get()
    }

    /// Sets how long a read may wait (None: forever). Reads past it fail with `TimedOut`.
    /// Enclosing `grove::timeout` scopes apply as well.
    ///
    /// # Errors
    /// `InvalidInput` for a zero duration, as std.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::{ErrorKind, Read};
    /// use std::time::Duration;
    /// let (a, _b) = grove::net::UnixStream::pair()?;
    /// a.set_read_timeout(Some(Duration::from_millis(5)))?;
    /// let err = (&a).read(&mut [0; 8]).unwrap_err(); // nothing was sent
    /// assert_eq!(err.kind(), ErrorKind::TimedOut);
    /// let zero = a.set_read_timeout(Some(Duration::ZERO));
    /// assert_eq!(zero.unwrap_err().kind(), ErrorKind::InvalidInput);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        self.inner.timeouts.set_read(t)
    }

    /// Sets how long a write may wait (None: forever).
    ///
    /// # Errors
    /// `InvalidInput` for a zero duration, as std.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let (a, _b) = grove::net::UnixStream::pair()?;
    /// a.set_write_timeout(Some(Duration::from_secs(5)))?;
    /// assert_eq!(a.write_timeout()?, Some(Duration::from_secs(5)));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_write_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        self.inner.timeouts.set_write(t)
    }

    /// The read timeout.
    ///
    /// # Errors
    /// Never; `io::Result` for std compatibility.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let (a, _b) = grove::net::UnixStream::pair()?;
    /// assert_eq!(a.read_timeout()?, None); // the default: wait forever
    /// a.set_read_timeout(Some(Duration::from_secs(1)))?;
    /// assert_eq!(a.read_timeout()?, Some(Duration::from_secs(1)));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn read_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.inner.timeouts.read.get())
    }

    /// The write timeout.
    ///
    /// # Errors
    /// Never; `io::Result` for std compatibility.
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, _b) = grove::net::UnixStream::pair()?;
    /// assert_eq!(a.write_timeout()?, None); // the default: wait forever
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn write_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.inner.timeouts.write.get())
    }

    /// Shuts down the read, write, or both halves.
    ///
    /// # Errors
    /// The OS error (e.g. `NotConnected`).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// use std::net::Shutdown;
    /// let (a, b) = grove::net::UnixStream::pair()?;
    /// (&a).write_all(b"last words")?;
    /// a.shutdown(Shutdown::Write)?; // the peer reads end of stream
    /// let mut got = String::new();
    /// (&b).read_to_string(&mut got)?;
    /// assert_eq!(got, "last words");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn shutdown(&self, how: std::net::Shutdown) -> io::Result<()> {
        socket2::SockRef::from(self.inner.io.get()).shutdown(how)
    }

    /// Another handle to the same socket, e.g. for one greenlet to read while another
    /// writes (the same as `clone()`: no new fd, so it cannot fail). The socket closes
    /// when the last handle is dropped.
    ///
    /// # Errors
    /// Never; `io::Result` for std compatibility (std's version dups the fd).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// let (a, b) = grove::net::UnixStream::pair()?;
    /// let reader = a.try_clone()?;
    /// let h = grove::spawn(move || {
    ///     let mut buf = [0; 4];
    ///     (&reader).read_exact(&mut buf).map(|_| buf)
    /// }); // one greenlet reads while another writes, on the same socket
    /// (&a).write_all(b"ping")?;
    /// (&b).write_all(b"pong")?;
    /// assert_eq!(&h.join().unwrap()?, b"pong");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn try_clone(&self) -> io::Result<Self> {
        Ok(self.clone())
    }

    /// Takes the socket's pending error (SO_ERROR).
    ///
    /// # Errors
    /// The OS error of the query.
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, _b) = grove::net::UnixStream::pair()?;
    /// assert!(a.take_error()?.is_none());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        socket2::SockRef::from(self.inner.io.get()).take_error()
    }

    /// Converts into the std socket (back to blocking mode), e.g. to move it to another
    /// thread. Fails if other handles (`try_clone`) are still alive.
    ///
    /// # Errors
    /// `Other` when the socket is shared; the OS error of switching to blocking mode.
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, _b) = grove::net::UnixStream::pair()?;
    /// let extra = a.try_clone()?;
    /// assert!(extra.into_std().is_err()); // `a` still shares the socket
    /// let std_sock = a.into_std()?; // blocking again, and `Send`
    /// let t = std::thread::spawn(move || std_sock.peer_addr().is_ok());
    /// assert!(t.join().unwrap());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn into_std(self) -> io::Result<T> {
        let inner = Rc::try_unwrap(self.inner)
            .map_err(|_| io::Error::other("socket still shared by try_clone handles"))?;
        let fd: OwnedFd = inner.io.into_inner().into();
        socket2::SockRef::from(&fd).set_nonblocking(false)?;
        Ok(T::from(fd))
    }

    /// Adopts a std socket (it is switched to non-blocking mode and registered with this
    /// thread's hub).
    ///
    /// # Errors
    /// The OS error of switching modes or registering.
    ///
    /// # Examples
    ///
    /// ```
    /// use grove::net::UnixStream;
    /// let (a, _b) = std::os::unix::net::UnixStream::pair()?; // e.g. from another thread
    /// let a = UnixStream::from_std(a)?; // cooperative now, on this thread's hub
    /// assert!(a.take_error()?.is_none());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn from_std(s: T) -> io::Result<Self> {
        let fd: OwnedFd = s.into();
        socket2::SockRef::from(&fd).set_nonblocking(true)?;
        Self::from_source(T::Source::from(fd))
    }
}

impl<T: StreamSocket> Read for &Stream<T> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let t = self.inner.timeouts.read.get();
        let len = buf.len();
        self.inner.io.io_stream(Direction::Read, t, len, |s| s.read_to(buf))
    }
    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        let t = self.inner.timeouts.read.get();
        self.inner.io.io(Direction::Read, t, |s| s.read_vectored_to(bufs))
    }
}

impl<T: StreamSocket> Write for &Stream<T> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let t = self.inner.timeouts.write.get();
        self.inner.io.io_stream(Direction::Write, t, buf.len(), |s| s.write_from(buf))
    }
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let t = self.inner.timeouts.write.get();
        self.inner.io.io(Direction::Write, t, |s| s.write_vectored_from(bufs))
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<T: StreamSocket> Read for Stream<T> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }
    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        (&*self).read_vectored(bufs)
    }
}

impl<T: StreamSocket> Write for Stream<T> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        (&*self).write_vectored(bufs)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Another handle to the same socket (shared registration, no new fd).
impl<T: StreamSocket> Clone for Stream<T> {
    fn clone(&self) -> Self {
        Stream { inner: self.inner.clone() }
    }
}

impl<T: StreamSocket> AsRawFd for Stream<T> {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.io.get().as_raw_fd()
    }
}

impl<T: StreamSocket> AsFd for Stream<T> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.io.get().as_fd()
    }
}

impl<T: StreamSocket> std::fmt::Debug for Stream<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.inner.io.fmt(f)
    }
}

impl<T: StreamSocket> crate::select::sealed::Watch for Stream<T> {
    fn watch(&self, read: bool) -> io::Result<crate::select::sealed::Watcher> {
        Ok(crate::select::watch_registered(&self.inner.io, self.as_raw_fd(), read))
    }
}
impl<T: StreamSocket> crate::select::Pollable for Stream<T> {}
