//! Wakeups from other OS threads: a locked queue plus a mio `Waker`, and the `Send` token type.
//!
//! The hub drains the queue at every loop turn when notified, and sleeps in epoll only after
//! announcing it; a sender writes to the eventfd only when the hub may be asleep, so a busy
//! hub takes no system call per remote wakeup. The flags and their ordering are in
//! [`Gate`](super::gate::Gate), checked with loom.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};

use super::gate::Gate;

/// A message for a hub from another thread.
pub(crate) enum RemoteMsg {
    /// Wake greenlet `key`/`id` if it is still in park generation `seq`.
    Wake { key: usize, id: u64, seq: u64 },
    /// Run this closure on the hub's thread (it spawns or sets something there).
    Call(Box<dyn FnOnce() + Send>),
}

/// The part of a hub that other threads may touch.
pub(crate) struct Remote {
    waker: mio::Waker,
    queue: Mutex<Vec<RemoteMsg>>,
    /// Notified / sleeping / outstanding remote tokens.
    pub(crate) gate: Gate,
    /// Set when the hub is gone: messages are dropped instead of queued.
    pub(crate) closed: AtomicBool,
    /// Live greenlets, published once per loop turn (for placement by the runtime).
    pub(crate) load: AtomicUsize,
    /// What the monitor watches.
    pub(crate) monitor: std::sync::Arc<crate::monitor::Slot>,
}

impl Remote {
    pub(crate) fn new(waker: mio::Waker, hub: u64) -> Remote {
        Remote {
            waker,
            queue: Mutex::new(Vec::new()),
            gate: Gate::new(),
            closed: AtomicBool::new(false),
            load: AtomicUsize::new(0),
            monitor: crate::monitor::Slot::new(hub),
        }
    }

    /// Queues a message and makes sure the hub will look at it soon.
    pub(crate) fn send(&self, msg: RemoteMsg) -> bool {
        {
            let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
            if self.closed.load(SeqCst) {
                return false;
            }
            q.push(msg);
        }
        self.poke();
        true
    }

    /// Makes the hub re-run its loop turn (it may be asleep in epoll).
    pub(crate) fn poke(&self) {
        if self.gate.poke() {
            let _ = self.waker.wake();
        }
    }

    /// Whether a message or poke arrived since the last `take`.
    #[inline]
    pub(crate) fn pending(&self) -> bool {
        self.gate.pending()
    }

    /// Takes all queued messages.
    pub(crate) fn take(&self) -> Vec<RemoteMsg> {
        self.gate.clear();
        std::mem::take(&mut *self.queue.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Called by the hub before it may block in epoll; false if it must not block.
    pub(crate) fn going_to_sleep(&self) -> bool {
        self.gate.going_to_sleep()
    }

    pub(crate) fn awake(&self) {
        self.gate.awake();
    }

    pub(crate) fn close(&self) -> Vec<RemoteMsg> {
        let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        self.closed.store(true, SeqCst);
        std::mem::take(&mut *q)
    }
}

/// A wakeup token that can be used from any thread. While it exists and is *counted*, its hub
/// knows someone may still wake it, so deadlock detection stays quiet. A primitive whose only
/// handle is held by the waiter itself (nobody else can ever wake it) keeps its token
/// uncounted, so the hub can report the deadlock.
pub struct RemoteToken {
    remote: Arc<Remote>,
    key: usize,
    id: u64,
    seq: u64,
    used: bool,
    counted: bool,
}

impl std::fmt::Debug for RemoteToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RemoteToken(#{} seq {})", self.id, self.seq)
    }
}

impl RemoteToken {
    pub(crate) fn new(remote: Arc<Remote>, key: usize, id: u64, seq: u64) -> RemoteToken {
        remote.gate.token_created();
        RemoteToken { remote, key, id, seq, used: false, counted: true }
    }

    /// Makes the token count (or stop counting) as a possible wakeup from elsewhere. Stopping
    /// asks the hub to re-check whether it is deadlocked, exactly as dropping an unused token
    /// does (the same gate protocol, checked with loom).
    pub(crate) fn set_counted(&mut self, counted: bool) {
        if counted == self.counted {
            return;
        }
        self.counted = counted;
        if counted {
            self.remote.gate.token_created();
        } else if self.remote.gate.token_dropped(false) {
            let _ = self.remote.waker.wake();
        }
    }

    /// Wakes the greenlet if it is still waiting for this token. Consumes the token.
    pub fn wake(mut self) {
        self.used = true;
        let (key, id, seq) = (self.key, self.id, self.seq);
        // On the hub's own thread the greenlet is woken directly, like a local token: it runs
        // in the same order as other wakeups (before a `yield_now` of the waker returns), with
        // no queue and no eventfd write.
        let local = super::with_existing(|h| {
            let mine = Arc::ptr_eq(&h.remote, &self.remote);
            if mine {
                h.wake_key(key, id, seq);
            }
            mine
        });
        if local != Some(true) {
            self.remote.send(RemoteMsg::Wake { key, id, seq });
        }
    }
}

impl Drop for RemoteToken {
    fn drop(&mut self) {
        // An unused token's hub may be sleeping only because the token existed: the gate
        // asks for a wakeup so it re-checks. An uncounted token never held the hub awake.
        if self.counted && self.remote.gate.token_dropped(self.used) {
            let _ = self.remote.waker.wake();
        }
    }
}
