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

mod tcp;
mod udp;
mod unix;

pub use crate::dns::ToAddrs;
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

/// The common surface of stream sockets: Read/Write (by value and by reference), vectored I/O,
/// timeouts, shutdown, cloning for a second greenlet, fd conversions.
macro_rules! stream_common {
    ($ty:ident, $mio:ty, $std:ty) => {
        impl $ty {
            fn inner_io(&self) -> &crate::io::Registered<$mio> {
                &self.inner.io
            }

            /// Sets how long a read may wait (None: forever). Reads past it fail with
            /// `TimedOut`. Enclosing `grove::timeout` scopes apply as well.
            ///
            /// # Errors
            /// `InvalidInput` for a zero duration, as std.
            ///
            /// # Examples
            ///
            /// ```
            /// # use grove::net::{TcpListener, TcpStream, UnixStream};
            /// # trait Pair: Sized {
            /// #     fn pair() -> std::io::Result<(Self, Self)>;
            /// # }
            /// # impl Pair for TcpStream {
            /// #     fn pair() -> std::io::Result<(Self, Self)> {
            /// #         let l = TcpListener::bind("127.0.0.1:0")?;
            /// #         let a = TcpStream::connect(l.local_addr()?)?;
            /// #         Ok((a, l.accept()?.0))
            /// #     }
            /// # }
            /// # impl Pair for UnixStream {
            /// #     fn pair() -> std::io::Result<(Self, Self)> {
            /// #         UnixStream::pair()
            /// #     }
            /// # }
            #[doc = concat!(" # let (a, _b) = <", stringify!($ty), " as Pair>::pair()?;")]
            #[doc = concat!(" // `a`: a connected `", stringify!($ty), "`.")]
            /// use std::io::{ErrorKind, Read};
            /// use std::time::Duration;
            /// a.set_read_timeout(Some(Duration::from_millis(5)))?;
            /// let err = (&a).read(&mut [0; 8]).unwrap_err(); // nothing was sent
            /// assert_eq!(err.kind(), ErrorKind::TimedOut);
            /// let zero = a.set_read_timeout(Some(Duration::ZERO));
            /// assert_eq!(zero.unwrap_err().kind(), ErrorKind::InvalidInput);
            /// # Ok::<(), std::io::Error>(())
            /// ```
            pub fn set_read_timeout(&self, t: Option<std::time::Duration>) -> std::io::Result<()> {
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
            /// # use grove::net::{TcpListener, TcpStream, UnixStream};
            /// # trait Pair: Sized {
            /// #     fn pair() -> std::io::Result<(Self, Self)>;
            /// # }
            /// # impl Pair for TcpStream {
            /// #     fn pair() -> std::io::Result<(Self, Self)> {
            /// #         let l = TcpListener::bind("127.0.0.1:0")?;
            /// #         let a = TcpStream::connect(l.local_addr()?)?;
            /// #         Ok((a, l.accept()?.0))
            /// #     }
            /// # }
            /// # impl Pair for UnixStream {
            /// #     fn pair() -> std::io::Result<(Self, Self)> {
            /// #         UnixStream::pair()
            /// #     }
            /// # }
            #[doc = concat!(" # let (a, _b) = <", stringify!($ty), " as Pair>::pair()?;")]
            #[doc = concat!(" // `a`: a connected `", stringify!($ty), "`.")]
            /// use std::time::Duration;
            /// a.set_write_timeout(Some(Duration::from_secs(5)))?;
            /// assert_eq!(a.write_timeout()?, Some(Duration::from_secs(5)));
            /// # Ok::<(), std::io::Error>(())
            /// ```
            pub fn set_write_timeout(&self, t: Option<std::time::Duration>) -> std::io::Result<()> {
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
            /// # use grove::net::{TcpListener, TcpStream, UnixStream};
            /// # trait Pair: Sized {
            /// #     fn pair() -> std::io::Result<(Self, Self)>;
            /// # }
            /// # impl Pair for TcpStream {
            /// #     fn pair() -> std::io::Result<(Self, Self)> {
            /// #         let l = TcpListener::bind("127.0.0.1:0")?;
            /// #         let a = TcpStream::connect(l.local_addr()?)?;
            /// #         Ok((a, l.accept()?.0))
            /// #     }
            /// # }
            /// # impl Pair for UnixStream {
            /// #     fn pair() -> std::io::Result<(Self, Self)> {
            /// #         UnixStream::pair()
            /// #     }
            /// # }
            #[doc = concat!(" # let (a, _b) = <", stringify!($ty), " as Pair>::pair()?;")]
            #[doc = concat!(" // `a`: a connected `", stringify!($ty), "`.")]
            /// use std::time::Duration;
            /// assert_eq!(a.read_timeout()?, None); // the default: wait forever
            /// a.set_read_timeout(Some(Duration::from_secs(1)))?;
            /// assert_eq!(a.read_timeout()?, Some(Duration::from_secs(1)));
            /// # Ok::<(), std::io::Error>(())
            /// ```
            pub fn read_timeout(&self) -> std::io::Result<Option<std::time::Duration>> {
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
            /// # use grove::net::{TcpListener, TcpStream, UnixStream};
            /// # trait Pair: Sized {
            /// #     fn pair() -> std::io::Result<(Self, Self)>;
            /// # }
            /// # impl Pair for TcpStream {
            /// #     fn pair() -> std::io::Result<(Self, Self)> {
            /// #         let l = TcpListener::bind("127.0.0.1:0")?;
            /// #         let a = TcpStream::connect(l.local_addr()?)?;
            /// #         Ok((a, l.accept()?.0))
            /// #     }
            /// # }
            /// # impl Pair for UnixStream {
            /// #     fn pair() -> std::io::Result<(Self, Self)> {
            /// #         UnixStream::pair()
            /// #     }
            /// # }
            #[doc = concat!(" # let (a, _b) = <", stringify!($ty), " as Pair>::pair()?;")]
            #[doc = concat!(" // `a`: a connected `", stringify!($ty), "`.")]
            /// assert_eq!(a.write_timeout()?, None); // the default: wait forever
            /// # Ok::<(), std::io::Error>(())
            /// ```
            pub fn write_timeout(&self) -> std::io::Result<Option<std::time::Duration>> {
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
            /// # use grove::net::{TcpListener, TcpStream, UnixStream};
            /// # trait Pair: Sized {
            /// #     fn pair() -> std::io::Result<(Self, Self)>;
            /// # }
            /// # impl Pair for TcpStream {
            /// #     fn pair() -> std::io::Result<(Self, Self)> {
            /// #         let l = TcpListener::bind("127.0.0.1:0")?;
            /// #         let a = TcpStream::connect(l.local_addr()?)?;
            /// #         Ok((a, l.accept()?.0))
            /// #     }
            /// # }
            /// # impl Pair for UnixStream {
            /// #     fn pair() -> std::io::Result<(Self, Self)> {
            /// #         UnixStream::pair()
            /// #     }
            /// # }
            #[doc = concat!(" # let (a, b) = <", stringify!($ty), " as Pair>::pair()?;")]
            #[doc = concat!(" // `a` and `b`: two connected `", stringify!($ty), "`s.")]
            /// use std::io::{Read, Write};
            /// use std::net::Shutdown;
            /// (&a).write_all(b"last words")?;
            /// a.shutdown(Shutdown::Write)?; // the peer reads end of stream
            /// let mut got = String::new();
            /// (&b).read_to_string(&mut got)?;
            /// assert_eq!(got, "last words");
            /// # Ok::<(), std::io::Error>(())
            /// ```
            pub fn shutdown(&self, how: std::net::Shutdown) -> std::io::Result<()> {
                self.inner_io().get().shutdown(how)
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
            /// # use grove::net::{TcpListener, TcpStream, UnixStream};
            /// # trait Pair: Sized {
            /// #     fn pair() -> std::io::Result<(Self, Self)>;
            /// # }
            /// # impl Pair for TcpStream {
            /// #     fn pair() -> std::io::Result<(Self, Self)> {
            /// #         let l = TcpListener::bind("127.0.0.1:0")?;
            /// #         let a = TcpStream::connect(l.local_addr()?)?;
            /// #         Ok((a, l.accept()?.0))
            /// #     }
            /// # }
            /// # impl Pair for UnixStream {
            /// #     fn pair() -> std::io::Result<(Self, Self)> {
            /// #         UnixStream::pair()
            /// #     }
            /// # }
            #[doc = concat!(" # let (a, b) = <", stringify!($ty), " as Pair>::pair()?;")]
            #[doc = concat!(" // `a` and `b`: two connected `", stringify!($ty), "`s.")]
            /// use std::io::{Read, Write};
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
            pub fn try_clone(&self) -> std::io::Result<$ty> {
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
            /// # use grove::net::{TcpListener, TcpStream, UnixStream};
            /// # trait Pair: Sized {
            /// #     fn pair() -> std::io::Result<(Self, Self)>;
            /// # }
            /// # impl Pair for TcpStream {
            /// #     fn pair() -> std::io::Result<(Self, Self)> {
            /// #         let l = TcpListener::bind("127.0.0.1:0")?;
            /// #         let a = TcpStream::connect(l.local_addr()?)?;
            /// #         Ok((a, l.accept()?.0))
            /// #     }
            /// # }
            /// # impl Pair for UnixStream {
            /// #     fn pair() -> std::io::Result<(Self, Self)> {
            /// #         UnixStream::pair()
            /// #     }
            /// # }
            #[doc = concat!(" # let (a, _b) = <", stringify!($ty), " as Pair>::pair()?;")]
            #[doc = concat!(" // `a`: a connected `", stringify!($ty), "`.")]
            /// assert!(a.take_error()?.is_none());
            /// # Ok::<(), std::io::Error>(())
            /// ```
            pub fn take_error(&self) -> std::io::Result<Option<std::io::Error>> {
                self.inner_io().get().take_error()
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
            /// # use grove::net::{TcpListener, TcpStream, UnixStream};
            /// # trait Pair: Sized {
            /// #     fn pair() -> std::io::Result<(Self, Self)>;
            /// # }
            /// # impl Pair for TcpStream {
            /// #     fn pair() -> std::io::Result<(Self, Self)> {
            /// #         let l = TcpListener::bind("127.0.0.1:0")?;
            /// #         let a = TcpStream::connect(l.local_addr()?)?;
            /// #         Ok((a, l.accept()?.0))
            /// #     }
            /// # }
            /// # impl Pair for UnixStream {
            /// #     fn pair() -> std::io::Result<(Self, Self)> {
            /// #         UnixStream::pair()
            /// #     }
            /// # }
            #[doc = concat!(" # let (a, _b) = <", stringify!($ty), " as Pair>::pair()?;")]
            #[doc = concat!(" // `a`: a connected `", stringify!($ty), "`.")]
            /// let extra = a.try_clone()?;
            /// assert!(extra.into_std().is_err()); // `a` still shares the socket
            /// let std_sock = a.into_std()?; // blocking again, and `Send`
            /// let t = std::thread::spawn(move || std_sock.peer_addr().is_ok());
            /// assert!(t.join().unwrap());
            /// # Ok::<(), std::io::Error>(())
            /// ```
            pub fn into_std(self) -> std::io::Result<$std> {
                let inner = std::rc::Rc::try_unwrap(self.inner).map_err(|_| {
                    std::io::Error::other("socket still shared by try_clone handles")
                })?;
                let s: $std = inner.io.into_inner().into();
                s.set_nonblocking(false)?;
                Ok(s)
            }

            /// Adopts a std socket (it is switched to non-blocking mode and registered with
            /// this thread's hub).
            ///
            /// # Errors
            /// The OS error of switching modes or registering.
            ///
            /// # Examples
            ///
            /// ```
            /// # use grove::net::{TcpListener, TcpStream, UnixStream};
            /// # trait Pair: Sized {
            /// #     fn pair() -> std::io::Result<(Self, Self)>;
            /// # }
            /// # impl Pair for TcpStream {
            /// #     fn pair() -> std::io::Result<(Self, Self)> {
            /// #         let l = TcpListener::bind("127.0.0.1:0")?;
            /// #         let a = TcpStream::connect(l.local_addr()?)?;
            /// #         Ok((a, l.accept()?.0))
            /// #     }
            /// # }
            /// # impl Pair for UnixStream {
            /// #     fn pair() -> std::io::Result<(Self, Self)> {
            /// #         UnixStream::pair()
            /// #     }
            /// # }
            #[doc = concat!(" # let (a, _b) = <", stringify!($ty), " as Pair>::pair()?;")]
            #[doc = concat!(" // `a`: a connected `", stringify!($ty), "`.")]
            /// let std_sock = a.into_std()?; // e.g. received from another thread
            /// // Cooperative again, on this thread's hub:
            #[doc = concat!(" let a = ", stringify!($ty), "::from_std(std_sock)?;")]
            /// assert!(a.take_error()?.is_none());
            /// # Ok::<(), std::io::Error>(())
            /// ```
            pub fn from_std(s: $std) -> std::io::Result<$ty> {
                s.set_nonblocking(true)?;
                Self::from_mio(<$mio>::from_std(s))
            }

            fn from_mio(s: $mio) -> std::io::Result<$ty> {
                Ok($ty {
                    inner: std::rc::Rc::new(StreamInner {
                        io: crate::io::Registered::new(s)?,
                        timeouts: Default::default(),
                    }),
                })
            }
        }

        impl std::io::Read for &$ty {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let t = self.inner.timeouts.read.get();
                let len = buf.len();
                self.inner_io().io_stream(crate::io::Direction::Read, t, len, |mut s| {
                    std::io::Read::read(&mut s, buf)
                })
            }
            fn read_vectored(
                &mut self,
                bufs: &mut [std::io::IoSliceMut<'_>],
            ) -> std::io::Result<usize> {
                let t = self.inner.timeouts.read.get();
                self.inner_io().io(crate::io::Direction::Read, t, |mut s| {
                    std::io::Read::read_vectored(&mut s, bufs)
                })
            }
        }

        impl std::io::Write for &$ty {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                let t = self.inner.timeouts.write.get();
                self.inner_io().io_stream(crate::io::Direction::Write, t, buf.len(), |mut s| {
                    std::io::Write::write(&mut s, buf)
                })
            }
            fn write_vectored(&mut self, bufs: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
                let t = self.inner.timeouts.write.get();
                self.inner_io().io(crate::io::Direction::Write, t, |mut s| {
                    std::io::Write::write_vectored(&mut s, bufs)
                })
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }

        impl std::io::Read for $ty {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                (&*self).read(buf)
            }
            fn read_vectored(
                &mut self,
                bufs: &mut [std::io::IoSliceMut<'_>],
            ) -> std::io::Result<usize> {
                (&*self).read_vectored(bufs)
            }
        }

        impl std::io::Write for $ty {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                (&*self).write(buf)
            }
            fn write_vectored(&mut self, bufs: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
                (&*self).write_vectored(bufs)
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }

        /// Another handle to the same socket (shared registration, no new fd).
        impl Clone for $ty {
            fn clone(&self) -> Self {
                $ty { inner: self.inner.clone() }
            }
        }

        impl std::os::fd::AsRawFd for $ty {
            fn as_raw_fd(&self) -> std::os::fd::RawFd {
                self.inner_io().get().as_raw_fd()
            }
        }

        impl std::os::fd::AsFd for $ty {
            fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
                self.inner_io().get().as_fd()
            }
        }

        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.inner_io().fmt(f)
            }
        }

        struct StreamInner {
            io: crate::io::Registered<$mio>,
            timeouts: crate::net::Timeouts,
        }
    };
}

pub(crate) use stream_common;
