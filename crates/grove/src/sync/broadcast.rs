//! A broadcast channel between greenlets (the shape of `tokio::sync::broadcast`): every value
//! sent reaches every receiver that exists when it is sent. Hub-local: not `Send`.
//!
//! ```
//! use grove::sync::broadcast;
//!
//! let (tx, mut a) = broadcast::channel(16);
//! let mut b = tx.subscribe();
//! let reader = grove::spawn(move || (b.recv().unwrap(), b.recv().unwrap()));
//! tx.send("hello").unwrap();
//! tx.send("world").unwrap();
//! assert_eq!(a.recv().unwrap(), "hello");
//! assert_eq!(reader.join().unwrap(), ("hello", "world"));
//! ```
//!
//! Sending never waits: the channel keeps the last `capacity` values, and a receiver that fell
//! further behind gets [`RecvError::Lagged`] with the number it missed, then goes on from the
//! oldest value still kept (a chat server's slow client loses messages, never blocks the room).
//! Once every [`Sender`] is gone, receivers drain what is kept and then get
//! [`RecvError::Closed`].

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt;
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::waitlist::WaitList;
use crate::hub::WaitError;

struct Shared<T> {
    /// Kept values, oldest first; the first has sequence number `head`.
    buf: RefCell<VecDeque<T>>,
    head: Cell<u64>,
    capacity: usize,
    senders: Cell<usize>,
    receivers: Cell<usize>,
    waiters: WaitList,
}

impl<T> Shared<T> {
    /// The sequence number the next value sent gets.
    fn tail(&self) -> u64 {
        self.head.get() + self.buf.borrow().len() as u64
    }
}

/// Creates a broadcast channel keeping the last `capacity` values.
///
/// # Panics
/// If `capacity` is 0.
///
/// # Examples
///
/// ```
/// let (tx, mut rx) = grove::sync::broadcast::channel(8);
/// tx.send(1).unwrap();
/// assert_eq!(rx.recv(), Ok(1));
/// ```
pub fn channel<T: Clone>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    assert!(capacity > 0, "grove: a broadcast channel needs a capacity of at least 1");
    let shared = Rc::new(Shared {
        buf: RefCell::new(VecDeque::with_capacity(capacity)),
        head: Cell::new(0),
        capacity,
        senders: Cell::new(1),
        receivers: Cell::new(1),
        waiters: WaitList::new(),
    });
    (Sender { shared: shared.clone() }, Receiver { shared, next: 0 })
}

/// The sending side; cloning gives another sender.
///
/// # Examples
///
/// ```
/// let (tx, mut rx) = grove::sync::broadcast::channel(8);
/// let tx2 = tx.clone();
/// tx.send("a").unwrap();
/// tx2.send("b").unwrap();
/// assert_eq!((rx.recv(), rx.recv()), (Ok("a"), Ok("b")));
/// ```
pub struct Sender<T> {
    shared: Rc<Shared<T>>,
}

/// The receiving side: each receiver sees every value sent after it subscribed. Cloning gives
/// a receiver at the same position.
///
/// # Examples
///
/// ```
/// use grove::sync::broadcast::{self, RecvError};
/// let (tx, mut rx) = broadcast::channel(8);
/// tx.send(1).unwrap();
/// let mut rx2 = rx.clone(); // at the same position: will also see 1
/// drop(tx);
/// assert_eq!((rx.recv(), rx2.recv()), (Ok(1), Ok(1)));
/// assert_eq!(rx.recv(), Err(RecvError::Closed));
/// ```
pub struct Receiver<T> {
    shared: Rc<Shared<T>>,
    /// Sequence number of the next value this receiver reads.
    next: u64,
}

/// `send` found no receiver; the value is handed back.
///
/// # Examples
///
/// ```
/// use grove::sync::broadcast;
/// let (tx, rx) = broadcast::channel(8);
/// drop(rx);
/// assert_eq!(tx.send(5).unwrap_err().0, 5); // nobody listens: the value comes back
/// ```
#[derive(PartialEq, Eq)]
pub struct SendError<T>(pub T);

/// Why `recv` returned no value.
///
/// # Examples
///
/// ```
/// use grove::sync::broadcast::{self, RecvError};
/// let (tx, mut rx) = broadcast::channel(2);
/// for i in 0..5 {
///     tx.send(i).unwrap(); // never waits: old values are dropped
/// }
/// assert_eq!(rx.recv(), Err(RecvError::Lagged(3)));
/// assert_eq!(rx.recv(), Ok(3)); // the oldest value still kept
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecvError {
    /// Every sender is gone and everything kept was read.
    Closed,
    /// The receiver fell behind by this many values, which are gone; the next `recv` returns
    /// the oldest value still kept.
    Lagged(u64),
    /// The wait for a value ended first (its own deadline, a deadlock of the main greenlet,
    /// the caller unwinding).
    Wait(WaitError),
}

/// Why `try_recv` returned no value.
///
/// # Examples
///
/// ```
/// use grove::sync::broadcast::{self, TryRecvError};
/// let (tx, mut rx) = broadcast::channel::<u8>(2);
/// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
/// drop(tx);
/// assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TryRecvError {
    /// Nothing new right now.
    Empty,
    /// Every sender is gone and everything kept was read.
    Closed,
    /// The receiver fell behind by this many values (see [`RecvError::Lagged`]).
    Lagged(u64),
}

impl<T> Sender<T> {
    /// Sends `value` to every receiver and returns how many there are. Never waits: the oldest
    /// kept value makes room.
    ///
    /// # Errors
    /// [`SendError`] with the value when there is no receiver.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, _rx) = grove::sync::broadcast::channel(4);
    /// let _rx2 = tx.subscribe();
    /// assert_eq!(tx.send("hi").unwrap(), 2); // two receivers
    /// ```
    pub fn send(&self, value: T) -> Result<usize, SendError<T>> {
        let s = &self.shared;
        if s.receivers.get() == 0 {
            return Err(SendError(value));
        }
        {
            let mut buf = s.buf.borrow_mut();
            if buf.len() == s.capacity {
                buf.pop_front();
                s.head.set(s.head.get() + 1);
            }
            buf.push_back(value);
        }
        s.waiters.notify_all();
        Ok(s.receivers.get())
    }

    /// A new receiver that sees values sent from now on.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, mut early) = grove::sync::broadcast::channel(4);
    /// tx.send(1).unwrap();
    /// let mut late = tx.subscribe();
    /// tx.send(2).unwrap();
    /// assert_eq!(early.recv(), Ok(1));
    /// assert_eq!(late.recv(), Ok(2)); // sees only what was sent after subscribing
    /// ```
    pub fn subscribe(&self) -> Receiver<T> {
        let s = &self.shared;
        s.receivers.set(s.receivers.get() + 1);
        Receiver { shared: s.clone(), next: s.tail() }
    }

    /// Receivers that exist now.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = grove::sync::broadcast::channel::<u8>(4);
    /// assert_eq!(tx.receiver_count(), 1);
    /// drop(rx);
    /// assert_eq!(tx.receiver_count(), 0);
    /// ```
    pub fn receiver_count(&self) -> usize {
        self.shared.receivers.get()
    }
}

impl<T: Clone> Receiver<T> {
    /// Takes the next value without waiting.
    ///
    /// # Errors
    /// See [`TryRecvError`].
    ///
    /// # Examples
    ///
    /// ```
    /// use grove::sync::broadcast::{self, TryRecvError};
    /// let (tx, mut rx) = broadcast::channel(4);
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    /// tx.send(1).unwrap();
    /// assert_eq!(rx.try_recv(), Ok(1));
    /// ```
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        let s = &self.shared;
        let head = s.head.get();
        if self.next < head {
            let missed = head - self.next;
            self.next = head;
            return Err(TryRecvError::Lagged(missed));
        }
        let value = s.buf.borrow().get((self.next - head) as usize).cloned();
        match value {
            Some(v) => {
                self.next += 1;
                Ok(v)
            }
            None if s.senders.get() == 0 => Err(TryRecvError::Closed),
            None => Err(TryRecvError::Empty),
        }
    }

    /// Waits for the next value. Inside an expiring `timeout` scope it unwinds to the scope.
    ///
    /// # Errors
    /// See [`RecvError`].
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, mut rx) = grove::sync::broadcast::channel(4);
    /// let sender = grove::spawn(move || tx.send("news").unwrap());
    /// assert_eq!(rx.recv(), Ok("news")); // waits until the greenlet sends
    /// sender.join().unwrap();
    /// ```
    pub fn recv(&mut self) -> Result<T, RecvError> {
        self.recv_until(None)
    }

    /// Like [`recv`](Self::recv), giving up after `timeout` (`Wait(TimedOut)`).
    ///
    /// # Errors
    /// See [`RecvError`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use grove::sync::{broadcast, WaitError};
    /// let (_tx, mut rx) = broadcast::channel::<u8>(4);
    /// let r = rx.recv_timeout(Duration::from_millis(5));
    /// assert_eq!(r, Err(broadcast::RecvError::Wait(WaitError::TimedOut)));
    /// ```
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<T, RecvError> {
        self.recv_until(crate::time::deadline_after(timeout))
    }

    /// Like [`recv`](Self::recv), giving up at `deadline` (`Wait(TimedOut)`).
    ///
    /// # Errors
    /// See [`RecvError`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let (tx, mut rx) = grove::sync::broadcast::channel(4);
    /// tx.send(1).unwrap();
    /// assert_eq!(rx.recv_deadline(Instant::now() + Duration::from_millis(5)), Ok(1));
    /// ```
    pub fn recv_deadline(&mut self, deadline: Instant) -> Result<T, RecvError> {
        self.recv_until(Some(deadline))
    }

    fn recv_until(&mut self, deadline: Option<Instant>) -> Result<T, RecvError> {
        loop {
            match self.try_recv() {
                Ok(v) => return Ok(v),
                Err(TryRecvError::Lagged(n)) => return Err(RecvError::Lagged(n)),
                Err(TryRecvError::Closed) => return Err(RecvError::Closed),
                Err(TryRecvError::Empty) => {}
            }
            self.shared.waiters.wait(deadline, "broadcast::recv").map_err(RecvError::Wait)?;
        }
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.shared.senders.set(self.shared.senders.get() + 1);
        Sender { shared: self.shared.clone() }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let s = &self.shared;
        s.senders.set(s.senders.get() - 1);
        if s.senders.get() == 0 {
            // Receivers waiting for a value will never get one: they drain and get Closed.
            s.waiters.notify_all();
        }
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        self.shared.receivers.set(self.shared.receivers.get() + 1);
        Receiver { shared: self.shared.clone(), next: self.next }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.shared.receivers.set(self.shared.receivers.get() - 1);
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "broadcast::Sender(receivers: {})", self.shared.receivers.get())
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "broadcast::Receiver(next: {})", self.next)
    }
}

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SendError(..)")
    }
}

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("broadcast channel has no receiver")
    }
}

impl<T> std::error::Error for SendError<T> {}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvError::Closed => f.write_str("broadcast channel closed"),
            RecvError::Lagged(n) => write!(f, "receiver lagged behind by {n} values"),
            RecvError::Wait(e) => write!(f, "waiting for a value: {e}"),
        }
    }
}

impl std::error::Error for RecvError {}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryRecvError::Empty => f.write_str("no new value"),
            TryRecvError::Closed => f.write_str("broadcast channel closed"),
            TryRecvError::Lagged(n) => write!(f, "receiver lagged behind by {n} values"),
        }
    }
}

impl std::error::Error for TryRecvError {}
