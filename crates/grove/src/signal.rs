//! Cooperative Unix signal handling: a greenlet waits for a signal while the others run.
//!
//! Built on `signal-hook`'s self-pipe registration: the signal handler only writes a byte to a
//! socket that the hub watches, so the waiting greenlet wakes on the hub like for any I/O.
//!
//! ```no_run
//! grove::spawn(|| {
//!     grove::signal::wait(grove::signal::consts::SIGTERM).unwrap();
//!     println!("SIGTERM: shutting down");
//! });
//! ```

use std::io::{self, Read};

/// Signal numbers (`SIGTERM`, `SIGINT`, `SIGUSR1`, ...).
pub use signal_hook::consts;

use crate::net::UnixStream;

/// A registration for one signal; [`recv`](Self::recv) waits for each delivery. Deliveries
/// that arrive while nobody waits are remembered (coalesced by the pipe).
#[derive(Debug)]
pub struct Signal {
    sig: i32,
    rx: UnixStream,
    id: signal_hook::SigId,
}

impl Signal {
    /// Starts catching `sig` (the default action is replaced while this exists).
    ///
    /// # Errors
    /// Forbidden signals (SIGKILL, SIGSTOP, SIGSEGV...) and socket errors.
    pub fn new(sig: i32) -> io::Result<Signal> {
        if signal_hook::consts::FORBIDDEN.contains(&sig) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "signal {sig} cannot be caught (SIGKILL, SIGSTOP, SIGILL, SIGFPE, SIGSEGV)"
                ),
            ));
        }
        let (rx, tx) = std::os::unix::net::UnixStream::pair()?;
        tx.set_nonblocking(true)?;
        let id = signal_hook::low_level::pipe::register(sig, tx)?;
        Ok(Signal { sig, rx: UnixStream::from_std(rx)?, id })
    }

    /// The signal number.
    pub fn signal(&self) -> i32 {
        self.sig
    }

    /// Waits (cooperatively) for the next delivery.
    ///
    /// # Errors
    /// `TimedOut` inside an expired `timeout` scope; socket errors.
    pub fn recv(&self) -> io::Result<()> {
        let mut b = [0u8; 64];
        match (&self.rx).read(&mut b)? {
            0 => Err(io::Error::other("signal pipe closed")),
            _ => Ok(()),
        }
    }
}

impl Drop for Signal {
    fn drop(&mut self) {
        signal_hook::low_level::unregister(self.id);
    }
}

/// Waits once for `sig` (registering for the duration of the call).
///
/// # Errors
/// As [`Signal::new`] and [`Signal::recv`].
pub fn wait(sig: i32) -> io::Result<()> {
    Signal::new(sig)?.recv()
}
