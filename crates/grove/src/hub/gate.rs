//! The cross-thread wakeup protocol of a hub, on its own so loom can check it
//! (`RUSTFLAGS="--cfg loom" cargo test -p grove --lib --release loom`, see `ci/loom.sh`).
//!
//! Three shared words: `notified` (something was queued or a token went away since the hub
//! last looked), `sleeping` (the hub may be blocked in epoll, so senders must write the
//! eventfd), `external` (remote tokens alive: someone else may still wake the hub, so it is
//! not deadlocked).
//!
//! Orderings: the sender's "store notified, load sleeping" and the hub's "store sleeping, load
//! notified" must not both miss each other (Dekker), which takes a SeqCst fence between the
//! store and the load on each side — SeqCst on the accesses alone is what C++ promises too,
//! but loom models SeqCst accesses as AcqRel and reports this pattern as a lost wakeup, so the
//! fences make the guarantee explicit where the checker can see it. `notified` is a
//! Release/Acquire pair so a hub that sees it also sees what the sender queued (the queue's
//! mutex alone would let the hub lock it first, find it empty, and clear the flag).

use crate::loom::atomic::{fence, AtomicBool, AtomicUsize, Ordering};
use Ordering::{AcqRel, Acquire, Relaxed, Release, SeqCst};

#[derive(Debug)]
pub(crate) struct Gate {
    notified: AtomicBool,
    sleeping: AtomicBool,
    external: AtomicUsize,
}

impl Gate {
    pub(crate) fn new() -> Gate {
        Gate {
            notified: AtomicBool::new(false),
            sleeping: AtomicBool::new(false),
            external: AtomicUsize::new(0),
        }
    }

    /// Sender, after queueing a message (or when a token goes away): returns whether the hub
    /// may be asleep, i.e. whether the caller must write the eventfd.
    #[must_use]
    pub(crate) fn poke(&self) -> bool {
        self.notified.store(true, Release);
        fence(SeqCst);
        self.sleeping.load(Relaxed)
    }

    /// Hub: whether a message or poke arrived since the last [`clear`](Self::clear).
    #[inline]
    pub(crate) fn pending(&self) -> bool {
        self.notified.load(Acquire)
    }

    /// Hub, right before taking the queued messages.
    pub(crate) fn clear(&self) {
        self.notified.store(false, Relaxed);
    }

    /// Hub, before it may block in epoll: false if it must not block (something arrived).
    pub(crate) fn going_to_sleep(&self) -> bool {
        self.sleeping.store(true, Relaxed);
        fence(SeqCst);
        !self.notified.load(Acquire)
    }

    /// Hub, after epoll returned.
    pub(crate) fn awake(&self) {
        self.sleeping.store(false, Relaxed);
    }

    /// A remote token was created.
    pub(crate) fn token_created(&self) {
        self.external.fetch_add(1, AcqRel);
    }

    /// A remote token went away (after its wake was queued, if `used`). Returns whether the
    /// caller must write the eventfd: an unused token's hub may be asleep only because the
    /// token existed, so it must re-check.
    #[must_use]
    pub(crate) fn token_dropped(&self, used: bool) -> bool {
        self.external.fetch_sub(1, AcqRel);
        !used && self.poke()
    }

    /// Whether another thread might still wake the hub (a remote token is alive).
    pub(crate) fn has_external(&self) -> bool {
        self.external.load(Acquire) > 0
    }

    /// Hub, with nothing ready, no timers and no I/O awaited: whether that is final. A token
    /// that queued its wake and then went away leaves `external` at 0 with the message still
    /// queued; `notified` is stored before `external` drops, so reading it after `external`
    /// catches that message.
    pub(crate) fn deadlocked(&self) -> bool {
        !self.has_external() && !self.pending()
    }
}

/// The protocol as a small model: a hub thread in its idle loop and a remote thread holding a
/// token. Under `--cfg loom` every interleaving is explored; under plain `cargo test` the same
/// model runs many times on real threads, and under Miri with its data-race detector and
/// weak-memory emulation (`ci/miri.sh`).
#[cfg(test)]
mod model_tests {
    use super::Gate;
    #[cfg(loom)]
    use loom::{
        sync::{Arc, Condvar, Mutex},
        thread,
    };
    #[cfg(not(loom))]
    use std::{
        sync::{Arc, Condvar, Mutex},
        thread,
    };

    fn check(f: impl Fn() + Sync + Send + 'static) {
        #[cfg(loom)]
        loom::model(f);
        #[cfg(not(loom))]
        for _ in 0..if cfg!(miri) { 20 } else { 2000 } {
            f();
        }
    }

    /// The eventfd: a counter a blocked hub waits on.
    #[derive(Default)]
    struct EventFd {
        count: Mutex<u32>,
        cv: Condvar,
    }

    impl EventFd {
        fn write(&self) {
            *self.count.lock().unwrap() += 1;
            self.cv.notify_one();
        }
        fn wait(&self) {
            let mut c = self.count.lock().unwrap();
            while *c == 0 {
                c = self.cv.wait(c).unwrap();
            }
            *c = 0;
        }
    }

    #[derive(Debug, PartialEq)]
    enum Outcome {
        Woken,
        Deadlock,
    }

    /// The hub's idle loop with one parked greenlet, no timers and no I/O, as `Hub::turn` runs
    /// it: drain if notified, declare deadlock if final, else sleep in "epoll".
    fn hub(gate: &Gate, queue: &Mutex<Vec<u32>>, efd: &EventFd) -> Outcome {
        loop {
            if gate.pending() {
                gate.clear();
                if !std::mem::take(&mut *queue.lock().unwrap()).is_empty() {
                    return Outcome::Woken;
                }
            }
            if !gate.has_external() {
                if gate.deadlocked() {
                    return Outcome::Deadlock;
                }
                continue;
            }
            if gate.going_to_sleep() {
                efd.wait();
            }
            gate.awake();
        }
    }

    fn run(use_token: bool) -> Outcome {
        let gate = Arc::new(Gate::new());
        let queue = Arc::new(Mutex::new(Vec::new()));
        let efd = Arc::new(EventFd::default());
        gate.token_created();
        let (g, q, e) = (gate.clone(), queue.clone(), efd.clone());
        let remote = thread::spawn(move || {
            if use_token {
                q.lock().unwrap().push(1);
                if g.poke() {
                    e.write();
                }
            }
            if g.token_dropped(use_token) {
                e.write();
            }
        });
        let out = hub(&gate, &queue, &efd);
        remote.join().unwrap();
        out
    }

    /// A wake from another thread always reaches the hub: never lost while the hub goes to
    /// sleep (a hub blocked forever fails the loom model, and hangs the other runs), never
    /// mistaken for a deadlock because the token was dropped right after waking.
    #[test]
    fn remote_wake_is_never_lost_nor_a_deadlock() {
        check(|| assert_eq!(run(true), Outcome::Woken));
    }

    /// A token dropped unused: the hub notices that nobody can wake it any more and reports
    /// the deadlock instead of sleeping forever.
    #[test]
    fn dropped_token_ends_in_deadlock_not_a_hang() {
        check(|| assert_eq!(run(false), Outcome::Deadlock));
    }
}
