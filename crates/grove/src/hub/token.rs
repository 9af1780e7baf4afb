//! Wakeup tokens, and the payload an expired `timeout` scope unwinds with.

use super::fiber::{State, Wake};
use super::*;

/// A wakeup token for one park of one greenlet on this hub (not `Send`; see
/// [`Token::to_remote`]). Using a token after the greenlet has been resumed for any other
/// reason does nothing.
#[derive(Clone)]
pub(crate) struct Token {
    pub(crate) fiber: FiberRef,
    pub(crate) seq: u64,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Token({:?} seq {})", self.fiber, self.seq)
    }
}

impl Token {
    /// Wakes the greenlet if it is still parked for this token. Returns whether it did.
    #[inline]
    pub(crate) fn wake(&self) -> bool {
        self.wake_with(Wake::Normal)
    }

    #[inline]
    pub(crate) fn wake_with(&self, how: Wake) -> bool {
        let f = &self.fiber;
        if f.seq.get() != self.seq || f.state.get() != State::Parked {
            return false;
        }
        // At thread exit the hub may already be gone (a destructor run while it is torn
        // down wakes a waiter): nothing can run the greenlet any more.
        let queued =
            try_with(|hub| hub.ready.borrow_mut().push_back((f.clone(), Input::Wake(how))));
        if queued.is_some() {
            f.state.set(State::Ready);
        }
        queued.is_some()
    }

    /// Whether the greenlet is still parked for this token.
    #[inline]
    pub(crate) fn is_pending(&self) -> bool {
        self.fiber.seq.get() == self.seq && self.fiber.state.get() == State::Parked
    }

    /// Wakes the greenlet as the notification of the wait list with id `list`, recording
    /// that this park consumed one, and from where (see `sync::waitlist`). Returns whether it
    /// did.
    #[inline]
    pub(crate) fn notify_from(&self, list: u32) -> bool {
        let woke = self.wake();
        if woke {
            self.fiber.notified.set(self.seq as u32);
            self.fiber.notified_by.set(list);
        }
        woke
    }

    /// The park this token was made for will not happen (its greenlet handed the token out,
    /// then found it need not wait): every wakeup sent with it from now on is stale.
    pub(crate) fn retire(&self) {
        if self.fiber.seq.get() == self.seq {
            self.fiber.seq.set(self.seq + 1);
        }
    }

    /// Whether a wait list's notification woke the greenlet for this token's park.
    pub(crate) fn was_notified(&self) -> bool {
        self.fiber.notified.get() == self.seq as u32
    }

    /// The id of the wait list whose notification woke this token's park, if one did.
    pub(crate) fn notified_by(&self) -> Option<u32> {
        self.was_notified().then(|| self.fiber.notified_by.get())
    }

    /// Whether `other` is this same token (the same greenlet's same park).
    pub(crate) fn same(&self, other: &Token) -> bool {
        self.fiber.same(&other.fiber) && self.seq == other.seq
    }

    /// Whether the greenlet was woken for this token and has not run since.
    #[inline]
    pub(crate) fn is_scheduled(&self) -> bool {
        self.fiber.seq.get() == self.seq && self.fiber.state.get() == State::Ready
    }

    /// A `Send` version of this token for waking from another thread.
    pub(crate) fn to_remote(&self) -> RemoteToken {
        with(|hub| {
            let key = if self.fiber.is_main() { MAIN_KEY } else { self.fiber.key() };
            RemoteToken::new(hub.remote.clone(), key, self.fiber.id, self.seq)
        })
    }
}

/// The payload a blocking call unwinds with when the deadline of an enclosing `timeout`
/// scope passes: the depth of the scope that owns the deadline, which catches it.
pub(crate) struct ScopeExpired(pub(crate) u16);

/// Whether a caught panic payload is a `timeout` scope's expiry unwinding to its scope (for
/// code that must stop unwinds at an FFI boundary, like `grove-patch`'s hooks: it fails the
/// call with `ETIMEDOUT` instead, and the next blocking call in Rust code unwinds again, since
/// the scope's deadline stays passed).
#[doc(hidden)]
pub fn is_scope_expiry(payload: &(dyn std::any::Any + Send)) -> bool {
    payload.is::<ScopeExpired>()
}

/// Why a wait ended without its value: the one vocabulary of every blocking call in grove
/// (embedded in the operation's own error where there are other outcomes too, like
/// [`JoinError::Wait`](crate::JoinError::Wait) or [`RecvError::Wait`](crate::sync::RecvError::Wait)).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use grove::sync::Event;
/// use grove::WaitError;
/// let ev = Event::new();
/// assert_eq!(ev.wait_timeout(Duration::from_millis(1)), Err(WaitError::TimedOut));
/// // The main greenlet waits for something nothing can ever cause (gevent's LoopExit):
/// assert_eq!(ev.wait(), Err(WaitError::Deadlock));
/// // Converts into io::Error for `?` in I/O code.
/// let io: std::io::Error = WaitError::TimedOut.into();
/// assert_eq!(io.kind(), std::io::ErrorKind::TimedOut);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WaitError {
    /// The call's own deadline (`x_timeout`, `x_deadline`) passed. (An enclosing `timeout`
    /// scope's deadline does not come back as an error: the wait unwinds to the scope.)
    TimedOut,
    /// The main greenlet waited for something nothing can ever cause: no greenlet is ready,
    /// no timer is armed, no I/O is awaited and no other thread can wake the hub (gevent's
    /// `LoopExit`).
    Deadlock,
    /// The caller is unwinding (killed or panicking) and cannot wait: blocking calls in
    /// destructors run during an unwind return this at once.
    Interrupted,
}

impl std::fmt::Display for WaitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            WaitError::TimedOut => "timed out",
            WaitError::Deadlock => {
                "this operation would block forever: no greenlet is ready, no timer is armed, \
                 no I/O is awaited and no other thread can wake the hub"
            }
            WaitError::Interrupted => "cannot wait: the caller is unwinding",
        })
    }
}

impl std::error::Error for WaitError {}

impl From<WaitError> for std::io::Error {
    fn from(e: WaitError) -> std::io::Error {
        let kind = match e {
            WaitError::TimedOut => std::io::ErrorKind::TimedOut,
            WaitError::Deadlock => std::io::ErrorKind::WouldBlock,
            WaitError::Interrupted => std::io::ErrorKind::Interrupted,
        };
        std::io::Error::new(kind, e)
    }
}

impl Wake {
    /// The wait's outcome: `Ok` when the awaited event happened.
    pub(crate) fn result(self) -> Result<(), WaitError> {
        match self {
            Wake::Normal => Ok(()),
            Wake::TimedOut => Err(WaitError::TimedOut),
            Wake::Deadlock => Err(WaitError::Deadlock),
            Wake::Unwinding => Err(WaitError::Interrupted),
        }
    }
}
