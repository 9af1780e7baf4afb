//! The rendezvous channel.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt;
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::{get_loop, RecvError, SendError, TryRecvError};
use crate::sync::waitlist::WaitList;

/// A rendezvous channel (capacity 0): `put` returns only when a getter has taken the item.
/// Cloning gives another handle. Hub-local: not `Send`.
///
/// ```
/// let ch = grove::sync::Channel::new();
/// let tx = ch.clone();
/// let h = grove::spawn(move || tx.put("hello").unwrap());
/// assert_eq!(ch.get().unwrap(), "hello");
/// h.join().unwrap();
/// ```
pub struct Channel<T> {
    inner: Rc<ChanInner<T>>,
}

struct ChanInner<T> {
    /// Offered items with the ticket of the putter waiting for each.
    offers: RefCell<VecDeque<(u64, T)>>,
    next_ticket: Cell<u64>,
    closed: Cell<bool>,
    getters: WaitList,
    putters: WaitList,
}

impl<T> Clone for Channel<T> {
    fn clone(&self) -> Self {
        Channel { inner: self.inner.clone() }
    }
}

impl<T> fmt::Debug for Channel<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Channel(offers: {})", self.inner.offers.borrow().len())
    }
}

impl<T> Default for Channel<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Channel<T> {
    /// A new rendezvous channel.
    ///
    /// # Examples
    ///
    /// ```
    /// let ch = grove::sync::Channel::new();
    /// let tx = ch.clone();
    /// let h = grove::spawn(move || tx.put(1).unwrap());
    /// assert_eq!(ch.get(), Ok(1));
    /// h.join().unwrap();
    /// ```
    pub fn new() -> Self {
        Channel {
            inner: Rc::new(ChanInner {
                offers: RefCell::new(VecDeque::new()),
                next_ticket: Cell::new(0),
                closed: Cell::new(false),
                getters: WaitList::new(),
                putters: WaitList::new(),
            }),
        }
    }

    fn taken(&self, ticket: u64) -> bool {
        !self.inner.offers.borrow().iter().any(|(t, _)| *t == ticket)
    }

    /// Offers `item` and waits until a getter takes it.
    ///
    /// # Errors
    /// See [`SendError`]; the item is handed back if no getter took it.
    ///
    /// # Examples
    ///
    /// ```
    /// use grove::sync::Channel;
    /// let ch = Channel::new();
    /// let tx = ch.clone();
    /// let h = grove::spawn(move || tx.put("hi")); // returns once taken
    /// assert_eq!(ch.get(), Ok("hi"));
    /// assert_eq!(h.join().unwrap(), Ok(()));
    /// ```
    pub fn put(&self, item: T) -> Result<(), SendError<T>> {
        self.put_until(item, None)
    }

    /// Offers `item`, waiting at most `timeout` for a getter.
    ///
    /// # Errors
    /// See [`SendError`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use grove::sync::{Channel, SendError, WaitError};
    /// let ch = Channel::new();
    /// let r = ch.put_timeout(1, Duration::from_millis(5)); // no getter came
    /// assert_eq!(r, Err(SendError::Wait(WaitError::TimedOut, 1)));
    /// ```
    pub fn put_timeout(&self, item: T, timeout: Duration) -> Result<(), SendError<T>> {
        self.put_until(item, crate::time::deadline_after(timeout))
    }

    /// Offers `item`, waiting until `deadline` for a getter.
    ///
    /// # Errors
    /// See [`SendError`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let ch = grove::sync::Channel::new();
    /// let rx = ch.clone();
    /// let h = grove::spawn(move || rx.get());
    /// ch.put_deadline('x', Instant::now() + Duration::from_secs(1)).unwrap();
    /// assert_eq!(h.join().unwrap(), Ok('x'));
    /// ```
    pub fn put_deadline(&self, item: T, deadline: Instant) -> Result<(), SendError<T>> {
        self.put_until(item, Some(deadline))
    }

    fn put_until(&self, item: T, deadline: Option<Instant>) -> Result<(), SendError<T>> {
        let i = &self.inner;
        if i.closed.get() {
            return Err(SendError::Closed(item));
        }
        let ticket = i.next_ticket.get();
        i.next_ticket.set(ticket + 1);
        i.offers.borrow_mut().push_back((ticket, item));
        i.getters.notify_one();
        // Withdraws the offer if we leave before it is taken (timeout, kill, close).
        struct Withdraw<'a, T> {
            ch: &'a Channel<T>,
            ticket: u64,
        }
        impl<T> Withdraw<'_, T> {
            fn take(&self) -> Option<T> {
                let mut offers = self.ch.inner.offers.borrow_mut();
                let pos = offers.iter().position(|(t, _)| *t == self.ticket)?;
                offers.remove(pos).map(|(_, item)| item)
            }
        }
        impl<T> Drop for Withdraw<'_, T> {
            fn drop(&mut self) {
                self.take();
            }
        }
        let w = Withdraw { ch: self, ticket };
        loop {
            if self.taken(ticket) {
                std::mem::forget(w);
                return Ok(());
            }
            // The scope may expire after a getter took the item but before we ran: the put
            // happened, so it must report so (a retry would deliver twice). The expiry is not
            // lost: the deadline stays passed, so the next blocking call unwinds to the scope.
            let r = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                i.putters.wait(deadline, "Channel::put")
            })) {
                Ok(r) => r,
                Err(p) if crate::hub::is_scope_expiry(&*p) && self.taken(ticket) => Ok(()),
                Err(p) => std::panic::resume_unwind(p),
            };
            if self.taken(ticket) {
                std::mem::forget(w);
                return Ok(());
            }
            let err = match r {
                Ok(()) if i.closed.get() => None,
                Ok(()) => continue,
                Err(e) => Some(e),
            };
            let item = w.take().expect("grove: offer vanished");
            std::mem::forget(w);
            return Err(match err {
                None => SendError::Closed(item),
                Some(e) => SendError::Wait(e, item),
            });
        }
    }

    /// Takes an item if a putter is offering one, without blocking.
    ///
    /// # Errors
    /// [`TryRecvError::Empty`], or [`TryRecvError::Closed`] once closed and drained.
    ///
    /// # Examples
    ///
    /// ```
    /// use grove::sync::{Channel, TryRecvError};
    /// let ch = Channel::new();
    /// assert_eq!(ch.try_get(), Err(TryRecvError::Empty));
    /// let tx = ch.clone();
    /// let _h = grove::spawn(move || tx.put(3));
    /// grove::yield_now(); // the putter is now offering
    /// assert_eq!(ch.try_get(), Ok(3));
    /// ```
    pub fn try_get(&self) -> Result<T, TryRecvError> {
        let i = &self.inner;
        let offer = i.offers.borrow_mut().pop_front();
        match offer {
            Some((_, item)) => {
                // Wake the putters: the one whose ticket was taken returns.
                i.putters.notify_all();
                Ok(item)
            }
            None if i.closed.get() => Err(TryRecvError::Closed),
            None => Err(TryRecvError::Empty),
        }
    }

    /// Waits for a putter and takes its item.
    ///
    /// # Errors
    /// See [`RecvError`].
    ///
    /// # Examples
    ///
    /// ```
    /// let ch = grove::sync::Channel::new();
    /// let tx = ch.clone();
    /// let _h = grove::spawn(move || tx.put(10));
    /// assert_eq!(ch.get(), Ok(10));
    /// ```
    pub fn get(&self) -> Result<T, RecvError> {
        self.get_until(None)
    }

    /// Waits at most `timeout` for an item.
    ///
    /// # Errors
    /// See [`RecvError`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use grove::sync::{Channel, RecvError, WaitError};
    /// let ch: Channel<u8> = Channel::new();
    /// let r = ch.get_timeout(Duration::from_millis(5));
    /// assert_eq!(r, Err(RecvError::Wait(WaitError::TimedOut)));
    /// ```
    pub fn get_timeout(&self, timeout: Duration) -> Result<T, RecvError> {
        self.get_until(crate::time::deadline_after(timeout))
    }

    /// Waits until `deadline` for an item.
    ///
    /// # Errors
    /// See [`RecvError`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let ch = grove::sync::Channel::new();
    /// let tx = ch.clone();
    /// let _h = grove::spawn(move || tx.put(1));
    /// assert_eq!(ch.get_deadline(Instant::now() + Duration::from_secs(1)), Ok(1));
    /// ```
    pub fn get_deadline(&self, deadline: Instant) -> Result<T, RecvError> {
        self.get_until(Some(deadline))
    }

    fn get_until(&self, deadline: Option<Instant>) -> Result<T, RecvError> {
        get_loop(|| self.try_get(), || self.inner.getters.wait(deadline, "Channel::get"))
    }

    /// For `select`: whether `try_get` would not say `Empty`, and the getters' list.
    pub(crate) fn recv_readiness(&self) -> (bool, &WaitList) {
        let i = &self.inner;
        (!i.offers.borrow().is_empty() || i.closed.get(), &i.getters)
    }

    /// Closes the channel: pending and later puts fail, gets fail once no offer is left.
    ///
    /// # Examples
    ///
    /// ```
    /// use grove::sync::{Channel, RecvError, SendError};
    /// let ch: Channel<u8> = Channel::new();
    /// ch.close();
    /// assert_eq!(ch.get(), Err(RecvError::Closed));
    /// assert_eq!(ch.put(1), Err(SendError::Closed(1)));
    /// ```
    pub fn close(&self) {
        self.inner.closed.set(true);
        self.inner.getters.notify_all();
        self.inner.putters.notify_all();
    }
}
