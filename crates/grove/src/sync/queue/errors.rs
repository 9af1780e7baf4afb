//! What a queue operation reports when it does not deliver.

use std::fmt;

use crate::hub::WaitError;

/// Why a blocking `put` did not deliver; the item is handed back.
///
/// # Examples
///
/// ```
/// use grove::sync::{Queue, SendError};
/// let q = Queue::unbounded();
/// q.close();
/// assert_eq!(q.put(1), Err(SendError::Closed(1)));
/// ```
#[derive(PartialEq, Eq)]
pub enum SendError<T> {
    /// The queue was closed.
    Closed(T),
    /// The wait for room ended: the call's own deadline, a deadlock of the main greenlet, or
    /// the caller unwinding.
    Wait(WaitError, T),
}

impl<T> SendError<T> {
    /// The item that was not delivered.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let q = grove::sync::Queue::bounded(1);
    /// q.put("first").unwrap();
    /// let err = q.put_timeout("second", Duration::from_millis(1)).unwrap_err();
    /// assert_eq!(err.into_inner(), "second"); // the item comes back
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            SendError::Closed(t) | SendError::Wait(_, t) => t,
        }
    }

    /// Why the wait ended, if the queue was not closed.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use grove::sync::{Queue, WaitError};
    /// let q = Queue::bounded(1);
    /// q.put(1).unwrap();
    /// let err = q.put_timeout(2, Duration::from_millis(1)).unwrap_err();
    /// assert_eq!(err.wait_error(), Some(WaitError::TimedOut));
    /// ```
    pub fn wait_error(&self) -> Option<WaitError> {
        match self {
            SendError::Closed(_) => None,
            SendError::Wait(e, _) => Some(*e),
        }
    }
}

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Closed(_) => f.write_str("Closed(..)"),
            SendError::Wait(e, _) => write!(f, "Wait({e:?}, ..)"),
        }
    }
}

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Closed(_) => f.write_str("queue closed"),
            SendError::Wait(e, _) => write!(f, "waiting for room in the queue: {e}"),
        }
    }
}

impl<T> std::error::Error for SendError<T> {}

/// Why a non-blocking `try_put` did not deliver; the item is handed back.
///
/// # Examples
///
/// ```
/// use grove::sync::{Queue, TrySendError};
/// let q = Queue::bounded(1);
/// q.try_put(1).unwrap();
/// assert_eq!(q.try_put(2), Err(TrySendError::Full(2)));
/// ```
#[derive(PartialEq, Eq)]
pub enum TrySendError<T> {
    /// The queue is at capacity.
    Full(T),
    /// The queue was closed.
    Closed(T),
}

impl<T> TrySendError<T> {
    /// The item that was not delivered.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = grove::sync::Queue::bounded(1);
    /// q.try_put(String::from("a")).unwrap();
    /// let back = q.try_put(String::from("b")).unwrap_err().into_inner();
    /// assert_eq!(back, "b");
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            TrySendError::Full(t) | TrySendError::Closed(t) => t,
        }
    }
}

impl<T> fmt::Debug for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TrySendError::Full(_) => "Full(..)",
            TrySendError::Closed(_) => "Closed(..)",
        })
    }
}

impl<T> fmt::Display for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TrySendError::Full(_) => "queue full",
            TrySendError::Closed(_) => "queue closed",
        })
    }
}

impl<T> std::error::Error for TrySendError<T> {}

/// Why a blocking `get` returned no item.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use grove::sync::{Queue, RecvError, WaitError};
/// let q: Queue<u8> = Queue::unbounded();
/// assert_eq!(q.get_timeout(Duration::from_millis(1)), Err(RecvError::Wait(WaitError::TimedOut)));
/// q.close();
/// assert_eq!(q.get(), Err(RecvError::Closed));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecvError {
    /// The queue was closed and is drained.
    Closed,
    /// The wait for an item ended: the call's own deadline, a deadlock of the main greenlet,
    /// or the caller unwinding.
    Wait(WaitError),
}

impl From<WaitError> for RecvError {
    fn from(e: WaitError) -> RecvError {
        RecvError::Wait(e)
    }
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvError::Closed => f.write_str("queue closed"),
            RecvError::Wait(e) => write!(f, "waiting for an item: {e}"),
        }
    }
}

impl std::error::Error for RecvError {}

/// Why a non-blocking `try_get` returned no item.
///
/// # Examples
///
/// ```
/// use grove::sync::{Queue, TryRecvError};
/// let q: Queue<u8> = Queue::unbounded();
/// assert_eq!(q.try_get(), Err(TryRecvError::Empty));
/// q.close();
/// assert_eq!(q.try_get(), Err(TryRecvError::Closed));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TryRecvError {
    /// Nothing queued right now.
    Empty,
    /// The queue was closed and is drained.
    Closed,
}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TryRecvError::Empty => "queue empty",
            TryRecvError::Closed => "queue closed",
        })
    }
}

impl std::error::Error for TryRecvError {}
