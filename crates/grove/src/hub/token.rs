//! Wakeup tokens, and the payload an expired `timeout` scope unwinds with.

use super::fiber::{State, Wake};
use super::*;

/// A wakeup token for one park of one greenlet on this hub (not `Send`; see
/// [`Token::to_remote`]). Using a token after the greenlet has been resumed for any other
/// reason does nothing.
#[derive(Clone)]
pub struct Token {
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
    pub fn wake(&self) -> bool {
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
    pub fn is_pending(&self) -> bool {
        self.fiber.seq.get() == self.seq && self.fiber.state.get() == State::Parked
    }

    /// Whether the greenlet was woken for this token and has not run since.
    #[inline]
    pub(crate) fn is_scheduled(&self) -> bool {
        self.fiber.seq.get() == self.seq && self.fiber.state.get() == State::Ready
    }

    /// A `Send` version of this token for waking from another thread.
    pub fn to_remote(&self) -> RemoteToken {
        with(|hub| {
            let key = if self.fiber.is_main() { MAIN_KEY } else { self.fiber.key.get() };
            RemoteToken::new(hub.remote.clone(), key, self.fiber.id, self.seq)
        })
    }
}

/// The payload a blocking call unwinds with when the deadline of an enclosing `timeout`
/// scope passes: the depth of the scope that owns the deadline, which catches it.
pub(crate) struct ScopeExpired(pub(crate) u32);

/// Whether a caught panic payload is a `timeout` scope's expiry unwinding to its scope (for
/// code that must stop unwinds at an FFI boundary, like `grove-patch`'s hooks: it fails the
/// call with `ETIMEDOUT` instead, and the next blocking call in Rust code unwinds again, since
/// the scope's deadline stays passed).
#[doc(hidden)]
pub fn is_scope_expiry(payload: &(dyn std::any::Any + Send)) -> bool {
    payload.is::<ScopeExpired>()
}
