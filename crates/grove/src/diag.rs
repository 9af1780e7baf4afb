//! Where the library's own diagnostics go: panics nobody joined, panicking callbacks and
//! destructors, poll and accept failures, greenlets abandoned at shutdown (gevent's
//! `Hub.handle_error`).
//!
//! By default a report goes to the [`log`](https://docs.rs/log) facade (target `grove`) when
//! the program has installed a logger, and to stderr when it has not, so nothing is lost in a
//! program that never configured logging. [`set_hook`] replaces both.
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! let seen = Arc::new(Mutex::new(Vec::new()));
//! let s = seen.clone();
//! grove::diag::set_hook(move |r| s.lock().unwrap().push((r.kind, r.message.to_string())));
//! grove::run(|| {
//!     drop(grove::spawn(|| panic!("nobody joins me")));
//!     grove::yield_now(); // it runs, panics, and nobody joins it
//! });
//! grove::diag::reset_hook();
//! let seen = seen.lock().unwrap();
//! assert!(seen.iter().any(|(k, m)| *k == grove::diag::Kind::Panic && m.contains("nobody joins me")));
//! ```
//!
//! Reporting never panics itself (`eprintln!` does when stderr is closed or full): it runs
//! where a panic would escape a greenlet's base or the hub. A hook that panics loses that one
//! report.

use std::fmt;
use std::io::Write;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, RwLock};

/// What a report is about.
///
/// # Examples
///
/// ```
/// use grove::diag::{set_hook, Kind};
/// set_hook(|r| {
///     if r.kind == Kind::Panic {
///         eprintln!("[alert] {}", r.message);
///     }
/// });
/// # grove::diag::reset_hook();
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Kind {
    /// A panic nobody else will see: a greenlet nobody joins, a hub callback, a greenlet-local
    /// destructor, a greenlet unwound on collection, a request handler.
    Panic,
    /// An I/O failure the library worked around: `epoll_wait`, `accept` (EMFILE...).
    Io,
    /// Greenlets that refused to die at shutdown and were abandoned.
    Shutdown,
    /// A hub held by one greenlet for longer than the monitor allows (without a monitor hook).
    Blocking,
}

/// One diagnostic.
///
/// # Examples
///
/// ```
/// grove::diag::set_hook(|r| eprintln!("grove {:?}: {}", r.kind, r.message));
/// # grove::diag::reset_hook();
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub struct Report<'a> {
    /// What it is about.
    pub kind: Kind,
    /// The text (without a `grove:` prefix).
    pub message: fmt::Arguments<'a>,
}

type Hook = dyn Fn(&Report<'_>) + Send + Sync;

static HOOK: RwLock<Option<Arc<Hook>>> = RwLock::new(None);

/// Sends every report to `hook` instead of the log facade / stderr (process-wide).
///
/// # Examples
///
/// ```
/// // Route grove's diagnostics into the program's own logging.
/// grove::diag::set_hook(|r| eprintln!("[grove/{:?}] {}", r.kind, r.message));
/// # grove::diag::reset_hook();
/// ```
pub fn set_hook(hook: impl Fn(&Report<'_>) + Send + Sync + 'static) {
    *HOOK.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(hook));
}

/// Restores the default destination (the log facade, or stderr without a logger).
///
/// # Examples
///
/// ```
/// grove::diag::set_hook(|_| {}); // silence, e.g. in a test
/// grove::diag::reset_hook(); // back to the log facade / stderr
/// ```
pub fn reset_hook() {
    *HOOK.write().unwrap_or_else(|e| e.into_inner()) = None;
}

/// Reports `args` (library code calls this; so may crates built on grove).
#[doc(hidden)]
pub fn report(kind: Kind, args: fmt::Arguments<'_>) {
    let hook = HOOK.read().unwrap_or_else(|e| e.into_inner()).clone();
    match hook {
        Some(h) => {
            let r = Report { kind, message: args };
            if let Err(p) = panic::catch_unwind(AssertUnwindSafe(|| h(&r))) {
                std::mem::forget(p);
            }
        }
        None if log::max_level() != log::LevelFilter::Off => {
            let level = if kind == Kind::Panic { log::Level::Error } else { log::Level::Warn };
            log::log!(target: "grove", level, "{args}");
        }
        None => {
            let _ = writeln!(std::io::stderr().lock(), "grove: {args}");
        }
    }
}
