//! How a cross-thread waiter parks, and the token that wakes it: the current greenlet on its
//! hub, or under `--cfg loom` a loom thread (see `crate::loom`).

#[cfg(not(loom))]
use std::time::Instant;

#[cfg(not(loom))]
use crate::hub::{RemoteToken, WaitError};

/// The token a cross-thread waiter leaves in a primitive's waiter list.
#[cfg(not(loom))]
pub(crate) type Token = RemoteToken;

/// A hub's token as a waiter token (a `select` registers its own hub token).
#[cfg(not(loom))]
#[inline]
pub(crate) fn hub_token(t: RemoteToken) -> Token {
    t
}

/// Runs `f` with the current waiter: the current greenlet on this thread's hub.
#[cfg(not(loom))]
pub(crate) fn with_current<R>(f: impl FnOnce(&Current<'_>) -> R) -> R {
    crate::hub::with(|h| f(&Current(h)))
}

/// The current greenlet, as a waiter.
#[cfg(not(loom))]
pub(crate) struct Current<'a>(&'a crate::hub::Hub);

#[cfg(not(loom))]
impl Current<'_> {
    /// A token that wakes this waiter from any thread.
    pub(crate) fn token(&self) -> Token {
        self.0.token().to_remote()
    }

    /// Parks until the token is used, `deadline` passes, or the wait is cut short (a kill
    /// or an expired timeout scope unwinds out of here).
    pub(crate) fn park(
        &self,
        deadline: Option<Instant>,
        what: &'static str,
    ) -> Result<(), WaitError> {
        self.0.park(deadline, what).result()
    }
}

#[cfg(loom)]
pub(crate) use model::{hub_token, with_current, Token};

/// The loom stand-in: a waiter is a loom thread; a deadline is a timer that may fire at any
/// point after the waiter registered, racing every notifier. A waiter without a deadline whose
/// token stops counting (the primitive's last other handle was dropped, so nobody else can
/// wake it) ends with `Deadlock`, as the hub's main greenlet does — unless a notification got
/// there first.
#[cfg(loom)]
mod model {
    use std::time::Instant;

    use loom::sync::atomic::{AtomicBool, AtomicU8, Ordering::SeqCst};
    use loom::sync::Arc;

    use crate::hub::{RemoteToken, WaitError};

    const WAITING: u8 = 0;
    const NOTIFIED: u8 = 1;
    const TIMED_OUT: u8 = 2;
    const DEADLOCKED: u8 = 3;

    pub(crate) enum Token {
        /// A select's hub token (compiled, never run under loom).
        Hub(RemoteToken),
        Model {
            state: Arc<AtomicU8>,
            /// Whether another thread may still wake the waiter (`set_counted`).
            counted: Arc<AtomicBool>,
            thread: loom::thread::Thread,
        },
    }

    impl Token {
        pub(crate) fn set_counted(&mut self, counted: bool) {
            match self {
                Token::Hub(t) => t.set_counted(counted),
                Token::Model { counted: c, thread, .. } => {
                    c.store(counted, SeqCst);
                    if !counted {
                        // As the hub re-checks for a deadlock when a token stops counting.
                        thread.unpark();
                    }
                }
            }
        }

        pub(crate) fn wake(self) {
            match self {
                Token::Hub(t) => t.wake(),
                Token::Model { state, thread, .. } => {
                    // A waiter whose timer fired first ignores the notification; the
                    // primitive's withdraw logic must pass it on.
                    if state.compare_exchange(WAITING, NOTIFIED, SeqCst, SeqCst).is_ok() {
                        thread.unpark();
                    }
                }
            }
        }
    }

    pub(crate) fn hub_token(t: RemoteToken) -> Token {
        Token::Hub(t)
    }

    pub(crate) struct Current {
        state: Arc<AtomicU8>,
        counted: Arc<AtomicBool>,
    }

    pub(crate) fn with_current<R>(f: impl FnOnce(&Current) -> R) -> R {
        f(&Current {
            state: Arc::new(AtomicU8::new(WAITING)),
            counted: Arc::new(AtomicBool::new(true)),
        })
    }

    impl Current {
        pub(crate) fn token(&self) -> Token {
            Token::Model {
                state: self.state.clone(),
                counted: self.counted.clone(),
                thread: loom::thread::current(),
            }
        }

        pub(crate) fn park(
            &self,
            deadline: Option<Instant>,
            _what: &'static str,
        ) -> Result<(), WaitError> {
            if deadline.is_some() {
                // The timer fires now, unless a notifier got here first: loom interleaves
                // this with every notifier, which covers "notified just before timing out".
                // (An armed timer is a possible wakeup: a timed wait never deadlocks.)
                return match self.state.compare_exchange(WAITING, TIMED_OUT, SeqCst, SeqCst) {
                    Ok(_) => Err(WaitError::TimedOut),
                    Err(_) => Ok(()),
                };
            }
            loop {
                if self.state.load(SeqCst) == NOTIFIED {
                    return Ok(());
                }
                if !self.counted.load(SeqCst)
                    && self.state.compare_exchange(WAITING, DEADLOCKED, SeqCst, SeqCst).is_ok()
                {
                    return Err(WaitError::Deadlock);
                }
                loom::thread::park();
            }
        }
    }
}
