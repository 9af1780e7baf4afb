//! Why a join has no value.

#[allow(clippy::wildcard_imports)] // a split of the parent module: same names
use super::*;

/// Why [`JoinHandle::join`] has no value.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use grove::{JoinError, WaitError};
/// let killed = grove::spawn(|| grove::sleep(Duration::from_secs(60)));
/// killed.kill().unwrap();
/// assert!(matches!(killed.join(), Err(JoinError::Killed)));
/// let panicked = grove::spawn(|| -> () { panic!("boom") });
/// assert!(matches!(panicked.join(), Err(JoinError::Panicked(_))));
/// let slow = grove::spawn(|| grove::sleep(Duration::from_secs(60)));
/// let r = slow.join_timeout(Duration::from_millis(1));
/// assert!(matches!(r, Err(JoinError::Wait(WaitError::TimedOut))));
/// ```
pub enum JoinError {
    /// The greenlet was killed (it unwound with `GreenletExit`, or never ran).
    Killed,
    /// The greenlet panicked; this is the payload.
    Panicked(Box<dyn Any + Send>),
    /// The join itself ended first: its own deadline, a deadlock of the main greenlet (nothing
    /// can ever finish the greenlet), or the joiner unwinding. The greenlet may still be
    /// alive: this never claims it ended.
    Wait(WaitError),
}

impl From<WaitError> for JoinError {
    fn from(e: WaitError) -> JoinError {
        JoinError::Wait(e)
    }
}

impl JoinError {
    /// Whether the greenlet was killed.
    ///
    /// # Examples
    ///
    /// ```
    /// let h = grove::spawn(|| grove::sleep(std::time::Duration::from_secs(10)));
    /// h.kill().unwrap();
    /// assert!(h.join().unwrap_err().is_killed());
    /// ```
    pub fn is_killed(&self) -> bool {
        matches!(self, JoinError::Killed)
    }

    /// Whether the greenlet panicked.
    ///
    /// # Examples
    ///
    /// ```
    /// let h = grove::spawn(|| panic!("boom"));
    /// assert!(h.join().unwrap_err().is_panic());
    /// ```
    pub fn is_panic(&self) -> bool {
        matches!(self, JoinError::Panicked(_))
    }

    /// Why the join stopped waiting, if it did.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use grove::WaitError;
    /// let h = grove::spawn(|| grove::sleep(Duration::from_secs(10)));
    /// let e = h.join_timeout(Duration::from_millis(5)).unwrap_err();
    /// assert_eq!(e.wait_error(), Some(WaitError::TimedOut));
    /// ```
    pub fn wait_error(&self) -> Option<WaitError> {
        match self {
            JoinError::Wait(e) => Some(*e),
            _ => None,
        }
    }

    /// The panic payload, if the greenlet panicked.
    ///
    /// # Examples
    ///
    /// ```
    /// let h = grove::spawn(|| -> () { std::panic::panic_any(42_u32) });
    /// let payload = h.join().unwrap_err().into_panic().unwrap();
    /// assert_eq!(payload.downcast_ref::<u32>(), Some(&42));
    /// ```
    pub fn into_panic(self) -> Option<Box<dyn Any + Send>> {
        match self {
            JoinError::Panicked(p) => Some(p),
            _ => None,
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JoinError::Killed => f.write_str("Killed"),
            JoinError::Panicked(p) => write!(f, "Panicked({:?})", panic_message(&**p)),
            JoinError::Wait(e) => write!(f, "Wait({e:?})"),
        }
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JoinError::Killed => f.write_str("greenlet was killed"),
            JoinError::Panicked(p) => write!(f, "greenlet panicked: {}", panic_message(&**p)),
            JoinError::Wait(e) => write!(f, "join: {e}"),
        }
    }
}

impl std::error::Error for JoinError {}

pub(super) fn report_unjoined(f: &Fiber, message: &str) {
    let name = f.name().unwrap_or_else(|| "<unnamed>".into());
    crate::diag::report(
        crate::diag::Kind::Panic,
        format_args!(
            "greenlet '{name}' (#{}, spawned at {}) panicked and nobody joined it: {message}",
            f.id, f.location,
        ),
    );
}
