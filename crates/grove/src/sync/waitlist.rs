//! The FIFO wait queue every hub-local primitive is built on.
//!
//! A waiter pushes a token for its next park and parks. `notify_one` pops tokens until one
//! wakes a greenlet that is still waiting for it (tokens of waiters that already left, or were
//! already woken by something else — a kill, their deadline — are stale and skipped), and
//! marks that park as notified. A waiter that leaves abnormally — its deadline passed, or it
//! was killed or its scope expired and it unwinds — removes its token if it is still queued;
//! if it is gone and this park was notified, the waiter consumed a notification it will not
//! use, and passes it on to the next waiter so it is never lost. A token popped as stale
//! carried no notification, so nothing is passed on then (passing it on would hand out one
//! notification twice: for a semaphore, a permit reserved for the waiter that did get it).
//! A broadcast (`notify_all`) wakes every waiter queued at that moment and records no
//! notification: there is nothing to pass on, and passing it on would wake a waiter that
//! arrived after it (an `Event` waiter that came after a `clear`).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::time::Instant;

use crate::hub::{self, Token, WaitError};

pub(crate) struct WaitList {
    q: RefCell<VecDeque<Token>>,
    /// Names this list in `Token::notified_by` (unique among the lists of this thread).
    id: u32,
}

impl Default for WaitList {
    fn default() -> Self {
        Self::new()
    }
}

thread_local! {
    static NEXT_ID: std::cell::Cell<u32> = const { std::cell::Cell::new(1) };
}

impl WaitList {
    pub(crate) fn new() -> Self {
        // Wrapping after 2^32 lists: two lists alive at once share an id only if 2^32 others
        // were made between them.
        let id = NEXT_ID.with(|n| {
            let id = n.get();
            n.set(id.wrapping_add(1).max(1));
            id
        });
        WaitList { q: RefCell::new(VecDeque::new()), id }
    }

    /// Parks the running greenlet until notified, the deadline passes, or it is killed.
    pub(crate) fn wait(
        &self,
        deadline: Option<Instant>,
        what: &'static str,
    ) -> Result<(), WaitError> {
        self.wait_or(deadline, what, &|| {})
    }

    /// Like `wait`; `unclaimed` runs if this waiter leaves abnormally holding a notification
    /// that no other waiter can take (the primitive must then keep what it handed over).
    pub(crate) fn wait_or(
        &self,
        deadline: Option<Instant>,
        what: &'static str,
        unclaimed: &dyn Fn(),
    ) -> Result<(), WaitError> {
        hub::with(|h| {
            let tok = h.token();
            self.register(tok.clone());
            let guard = Leave { list: self, me: Some(tok), unclaimed };
            let r = h.park(deadline, what).result();
            let mut guard = guard;
            if r.is_ok() {
                // Notified: nothing to withdraw.
                guard.me = None;
            }
            r
        })
    }

    /// This list's identity in `Token::notified_by`.
    pub(crate) fn id(&self) -> u32 {
        self.id
    }

    /// Queues `tok` (a `select` waiting on several lists with one token).
    pub(crate) fn register(&self, tok: Token) {
        self.q.borrow_mut().push_back(tok);
    }

    /// Removes `tok` if it is still queued; returns whether it was.
    pub(crate) fn withdraw(&self, tok: &Token) -> bool {
        let mut q = self.q.borrow_mut();
        match q.iter().position(|t| t.same(tok)) {
            Some(i) => {
                q.remove(i);
                true
            }
            None => false,
        }
    }

    /// Wakes the longest-waiting greenlet. Returns whether one was woken.
    #[inline]
    pub(crate) fn notify_one(&self) -> bool {
        loop {
            let t = self.q.borrow_mut().pop_front();
            match t {
                None => return false,
                Some(t) if t.notify_from(self.id) => return true,
                Some(_) => {}
            }
        }
    }

    /// Wakes every waiting greenlet. Returns how many.
    ///
    /// A broadcast is not a notification one waiter holds for the others: every waiter
    /// queued now gets it, so a woken waiter that leaves without using it (killed before it
    /// runs) has nothing to pass on, and a waiter that arrives later must not be woken by it.
    pub(crate) fn notify_all(&self) -> usize {
        let all = std::mem::take(&mut *self.q.borrow_mut());
        all.into_iter().filter(Token::wake).count()
    }

    /// Wakes every waiting greenlet (a broadcast, as in [`notify_all`](Self::notify_all));
    /// returns the tokens that woke one.
    pub(crate) fn notify_all_tokens(&self) -> Vec<Token> {
        let mut all = std::mem::take(&mut *self.q.borrow_mut());
        all.retain(Token::wake);
        all.into()
    }

    /// Whether any greenlet may be waiting.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.q.borrow().iter().all(|t| !t.is_pending())
    }

    /// Waiters still waiting.
    pub(crate) fn len(&self) -> usize {
        self.q.borrow().iter().filter(|t| t.is_pending()).count()
    }
}

/// Removes the waiter's token when it leaves without a notification (timeout, deadlock, kill,
/// scope expiry) and forwards a notification it consumed without using.
struct Leave<'a> {
    list: &'a WaitList,
    /// The waiter's token for this park.
    me: Option<Token>,
    unclaimed: &'a dyn Fn(),
}

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        let Some(me) = self.me.take() else { return };
        // Popped by a notifier that woke us (not popped as stale, when we had been woken
        // otherwise), and we leave without using it: pass the notification on.
        if !self.list.withdraw(&me) && me.was_notified() && !self.list.notify_one() {
            (self.unclaimed)();
        }
    }
}
