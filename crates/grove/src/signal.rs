//! Cooperative Unix signal handling: a greenlet waits for a signal while the others run.
//!
//! Built on `signal-hook`'s self-pipe registration: the signal handler only writes a byte to a
//! socket that the hub watches, so the waiting greenlet wakes on the hub like for any I/O.
//!
//! While a [`Signal`] (or a [`wait`]) exists, the signal's default action is replaced. When the
//! last one for a signal goes, the previous disposition is back in effect: a signal whose
//! action was the default (SIGTERM, SIGINT: terminate) does that again, an ignored one stays
//! ignored, and a handler installed before grove's first registration keeps being called
//! throughout (`signal-hook` chains it). `signal-hook` never uninstalls its handler once
//! installed, so "default" is emulated from inside it with
//! `signal_hook::low_level::emulate_default_handler` (re-raising with the default disposition:
//! the process dies *by* the signal, exit status and core dump included). Caveat: if the
//! program also registers its own `signal-hook` action for a signal grove handles, that action
//! runs too, but the emulated default then still terminates once no grove registration is left.
//!
//! ```no_run
//! grove::spawn(|| {
//!     grove::signal::wait(grove::signal::consts::SIGTERM).unwrap();
//!     println!("SIGTERM: shutting down");
//! });
//! ```

use std::collections::HashMap;
use std::io::{self, Read};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// Signal numbers (`SIGTERM`, `SIGINT`, `SIGUSR1`, ...).
pub use signal_hook::consts;

use crate::net::UnixStream;

/// A registration for one signal; [`recv`](Self::recv) waits for each delivery. Deliveries
/// that arrive while nobody waits are remembered (coalesced by the pipe).
///
/// # Examples
///
/// ```
/// use grove::signal::{consts::SIGUSR1, Signal};
/// let usr1 = Signal::new(SIGUSR1)?;
/// let reloader = grove::spawn(move || -> std::io::Result<()> {
///     usr1.recv()?; // parks until SIGUSR1 arrives
///     println!("reloading configuration");
///     Ok(())
/// });
/// grove::yield_now();
/// signal_hook::low_level::raise(SIGUSR1)?; // as `kill -USR1 <pid>` would
/// reloader.join().unwrap()?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct Signal {
    sig: i32,
    rx: UnixStream,
    id: signal_hook::SigId,
    /// Live grove registrations for `sig`.
    live: Arc<AtomicUsize>,
}

/// Per signal: how many grove registrations are live. Created (with the default-action
/// stand-in, when the previous action was the default) on the first registration.
fn live_count(sig: i32) -> io::Result<Arc<AtomicUsize>> {
    static SIGNALS: OnceLock<Mutex<HashMap<i32, Arc<AtomicUsize>>>> = OnceLock::new();
    let mut m = SIGNALS.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner());
    if let Some(c) = m.get(&sig) {
        return Ok(c.clone());
    }
    let live = Arc::new(AtomicUsize::new(0));
    if previous_is_default(sig)? {
        let l = live.clone();
        let action = move || {
            if l.load(Ordering::SeqCst) == 0 {
                default_action(sig);
            }
        };
        // SAFETY: the action is async-signal-safe: an atomic load, then either nothing or
        // signal-hook's emulation (documented async-signal-safe) or `terminate_by`, which
        // only calls async-signal-safe functions.
        unsafe { signal_hook::low_level::register(sig, action)? };
    }
    m.insert(sig, live.clone());
    Ok(live)
}

/// Whether `sig`'s current disposition is SIG_DFL.
fn previous_is_default(sig: i32) -> io::Result<bool> {
    // SAFETY: an all-zero sigaction is a valid value for the kernel to overwrite.
    let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: a null new action only queries; `old` is a valid, writable sigaction.
    if unsafe { libc::sigaction(sig, std::ptr::null(), &mut old) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(old.sa_sigaction == libc::SIG_DFL)
}

/// Does what `sig`'s default disposition does (from inside the signal handler).
fn default_action(sig: i32) {
    if signal_hook::low_level::emulate_default_handler(sig).is_err() {
        // Not in signal-hook's table (real-time signals): their default is to terminate.
        terminate_by(sig);
    }
}

/// Dies by `sig`: default disposition, unblock, re-raise; abort if that did not end us.
fn terminate_by(sig: i32) {
    // SAFETY: sigaction, sigemptyset, sigaddset, pthread_sigmask, raise and abort are
    // async-signal-safe; every pointer is to a valid local.
    unsafe {
        let mut dfl: libc::sigaction = std::mem::zeroed();
        dfl.sa_sigaction = libc::SIG_DFL;
        libc::sigaction(sig, &dfl, std::ptr::null_mut());
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, sig);
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        libc::raise(sig);
        libc::abort();
    }
}

impl Signal {
    /// Starts catching `sig` (the default action is replaced while this exists; see the
    /// [module docs](self) for what happens when the last registration goes).
    ///
    /// # Errors
    /// Forbidden signals (SIGKILL, SIGSTOP, SIGSEGV...) and socket errors.
    ///
    /// # Examples
    ///
    /// ```
    /// use grove::signal::{consts, Signal};
    /// let sig = Signal::new(consts::SIGUSR2)?;
    /// signal_hook::low_level::raise(consts::SIGUSR2)?;
    /// sig.recv()?; // a delivery nobody waited for is remembered
    /// assert!(Signal::new(consts::SIGKILL).is_err()); // cannot be caught
    /// # Ok::<(), std::io::Error>(())
    /// ```
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
        let rx = UnixStream::from_std(rx)?;
        let live = live_count(sig)?;
        // Counted before the pipe is registered: a delivery in between is swallowed rather
        // than acted on by default.
        live.fetch_add(1, Ordering::SeqCst);
        match signal_hook::low_level::pipe::register(sig, tx) {
            Ok(id) => Ok(Signal { sig, rx, id, live }),
            Err(e) => {
                live.fetch_sub(1, Ordering::SeqCst);
                Err(e)
            }
        }
    }

    /// The signal number.
    ///
    /// # Examples
    ///
    /// ```
    /// use grove::signal::{consts::SIGHUP, Signal};
    /// let sig = Signal::new(SIGHUP)?;
    /// assert_eq!(sig.signal(), SIGHUP);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn signal(&self) -> i32 {
        self.sig
    }

    /// Waits (cooperatively) for the next delivery.
    ///
    /// # Errors
    /// `TimedOut` inside an expired `timeout` scope; socket errors.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use grove::signal::{consts::SIGUSR1, Signal};
    /// let sig = Signal::new(SIGUSR1)?;
    /// // Nothing arrives: an enclosing `timeout` scope ends the wait.
    /// let r = grove::timeout(Duration::from_millis(10), || sig.recv());
    /// assert!(r.is_err());
    /// # Ok::<(), std::io::Error>(())
    /// ```
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
        // The last one out: the previous disposition applies again.
        self.live.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Waits once for `sig` (registering for the duration of the call: afterwards the previous
/// disposition applies again, e.g. SIGTERM terminates).
///
/// # Errors
/// As [`Signal::new`] and [`Signal::recv`].
///
/// # Examples
///
/// ```
/// use grove::signal::consts::SIGUSR2;
/// let waiter = grove::spawn(|| grove::signal::wait(SIGUSR2));
/// grove::yield_now(); // the greenlet is registered and waiting
/// signal_hook::low_level::raise(SIGUSR2)?;
/// waiter.join().unwrap()?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn wait(sig: i32) -> io::Result<()> {
    Signal::new(sig)?.recv()
}
