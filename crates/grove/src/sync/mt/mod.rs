//! Primitives shared between hubs (threads): [`Queue`] and [`Event`]. `Send + Sync`; waits
//! are cooperative on every side (a greenlet parks on its own hub; a plain thread's main
//! greenlet waits in its own hub). They cost a mutex per operation, so prefer the hub-local
//! primitives of [`sync`](crate::sync) inside one hub.

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

use super::queue::{get_loop, put_loop, Items};
use super::{Fifo, RecvError, SendError, Store, TryRecvError, TrySendError};
use crate::hub::WaitError;
use crate::loom::{Arc, Mutex, MutexGuard};
use park::Token;

mod event;
pub(crate) mod park;
mod queue;

pub use event::Event;
pub use queue::Queue;

/// FIFO waiters that may live on any hub (also used by `AsyncResult` and the runtime).
///
/// Each waiter holds a [`Token`] (a [`RemoteToken`](crate::hub::RemoteToken); a loom
/// thread's under `--cfg loom`). A counted token tells its hub that another thread may
/// still wake it; while the primitive's only handle is the waiter's own (`lonely`), nobody else
/// can, so registrations stay uncounted and a main greenlet waiting alone gets the hub's
/// Deadlock error instead of hanging.
pub(crate) struct Waiters {
    list: VecDeque<(u64, Token)>,
    next: u64,
    lonely: bool,
}

impl Default for Waiters {
    /// Waiters of something another thread may always complete (counted tokens).
    fn default() -> Self {
        Waiters { list: VecDeque::new(), next: 0, lonely: false }
    }
}

impl Waiters {
    /// Waiters of a primitive that has a single handle so far.
    pub(crate) fn single_handle() -> Self {
        Waiters { lonely: true, ..Waiters::default() }
    }

    pub(crate) fn register(&mut self, mut tok: Token) -> u64 {
        tok.set_counted(!self.lonely);
        let id = self.next;
        self.next += 1;
        self.list.push_back((id, tok));
        id
    }

    /// Removes waiter `id`; false if a waker already took it (it was notified).
    pub(crate) fn withdraw(&mut self, id: u64) -> bool {
        match self.list.iter().position(|(i, _)| *i == id) {
            Some(p) => {
                self.list.remove(p);
                true
            }
            None => false,
        }
    }

    pub(crate) fn wake_one(&mut self) {
        if let Some((_, t)) = self.list.pop_front() {
            t.wake();
        }
    }

    pub(crate) fn wake_all(&mut self) {
        for (_, t) in self.list.drain(..) {
            t.wake();
        }
    }

    /// Takes every waiter out (to be woken after the lock is released).
    pub(crate) fn take_all(&mut self) -> Vec<Token> {
        self.list.drain(..).map(|(_, t)| t).collect()
    }

    /// The primitive's handle count went to one (`true`) or above one (`false`).
    pub(crate) fn set_lonely(&mut self, lonely: bool) {
        self.lonely = lonely;
        for (_, t) in &mut self.list {
            t.set_counted(!lonely);
        }
    }
}

/// Handle bookkeeping shared by the primitives: how many handles exist, and their waiters.
pub(crate) trait Handles {
    fn handles(&mut self) -> &mut usize;
    fn each_waiters(&mut self, f: &mut dyn FnMut(&mut Waiters));
}

/// A handle was cloned: waiters can now be woken by someone else.
pub(crate) fn handle_cloned<S: Handles>(lock: &Mutex<S>) {
    let mut s = lock.lock().unwrap_or_else(|e| e.into_inner());
    *s.handles() += 1;
    if *s.handles() == 2 {
        s.each_waiters(&mut |w| w.set_lonely(false));
    }
}

/// A handle was dropped: if one is left, only its holder can still complete the primitive.
pub(crate) fn handle_dropped<S: Handles>(lock: &Mutex<S>) {
    let mut s = lock.lock().unwrap_or_else(|e| e.into_inner());
    *s.handles() -= 1;
    if *s.handles() == 1 {
        s.each_waiters(&mut |w| w.set_lonely(true));
    }
}

/// Registers in the waiter list chosen by `pick` under the lock and parks. However the wait
/// ends abnormally — its deadline, the Deadlock error, or an unwind out of the park (a kill, an
/// expired `timeout` scope) — the waiter withdraws, and passes on a notification it consumed
/// without using, so a wakeup is never spent on a waiter that left.
pub(crate) fn wait<S>(
    lock: &Mutex<S>,
    mut guard: MutexGuard<'_, S>,
    pick: impl Fn(&mut S) -> &mut Waiters,
    deadline: Option<Instant>,
    what: &'static str,
) -> Result<(), WaitError> {
    park::with_current(|me| {
        let id = pick(&mut guard).register(me.token());
        drop(guard);
        let mut leave = Leave { lock, pick: &pick, id: Some(id) };
        let r = me.park(deadline, what);
        if r.is_ok() {
            // Notified: nothing to withdraw.
            leave.id = None;
        }
        r
    })
}

/// Withdraws a waiter that leaves without its notification (also while unwinding).
struct Leave<'a, S, P: Fn(&mut S) -> &mut Waiters> {
    lock: &'a Mutex<S>,
    pick: &'a P,
    id: Option<u64>,
}

impl<S, P: Fn(&mut S) -> &mut Waiters> Drop for Leave<'_, S, P> {
    fn drop(&mut self) {
        let Some(id) = self.id.take() else { return };
        let mut g = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        let w = (self.pick)(&mut g);
        if !w.withdraw(id) {
            // A notifier picked us just before we left: the next waiter gets the wakeup.
            w.wake_one();
        }
    }
}

/// The cross-thread primitives' waiting protocol, model-checked: under `--cfg loom`
/// (ci/loom.sh) every interleaving of the threads below is explored, with a timed wait's timer
/// racing every notifier; under plain `cargo test` the same scenarios run many times on real
/// threads, each waiting in its own hub.
#[cfg(test)]
mod model_tests {
    use std::time::Duration;

    #[cfg(loom)]
    use loom::thread;
    #[cfg(not(loom))]
    use std::thread;

    use super::{Event, Queue};
    use crate::sync::{AsyncResult, RecvError, SendError, TryRecvError, WaitError};

    fn check(f: impl Fn() + Sync + Send + 'static) {
        #[cfg(loom)]
        {
            let mut b = loom::model::Builder::new();
            // Bounded preemptions keep the three-thread cases to seconds; loom's own advice.
            b.preemption_bound = Some(3);
            b.check(f);
        }
        #[cfg(not(loom))]
        for _ in 0..200 {
            f();
        }
    }

    /// A bounded queue between two threads: every item arrives, in order, and neither side
    /// misses the other's wakeup (a lost one hangs the model).
    #[test]
    fn a_bounded_queue_hands_every_item_over() {
        check(|| {
            let q = Queue::bounded(1);
            let tx = q.clone();
            let producer = thread::spawn(move || {
                tx.put(1).unwrap();
                tx.put(2).unwrap();
            });
            assert_eq!(q.get(), Ok(1));
            assert_eq!(q.get(), Ok(2));
            producer.join().unwrap();
        });
    }

    /// A getter whose deadline passes while an item arrives either takes the item or leaves it
    /// in the queue: it is never lost.
    #[test]
    fn a_timed_out_getter_loses_no_item() {
        check(|| {
            let q = Queue::unbounded();
            let tx = q.clone();
            let producer = thread::spawn(move || tx.put(7).unwrap());
            let got = q.get_timeout(Duration::ZERO);
            producer.join().unwrap();
            match got {
                Ok(v) => assert_eq!(v, 7),
                Err(e) => {
                    assert_eq!(e, RecvError::Wait(WaitError::TimedOut));
                    assert_eq!(q.try_get(), Ok(7));
                }
            }
            assert_eq!(q.try_get(), Err(TryRecvError::Empty));
        });
    }

    /// The withdraw protocol: a getter picked by `put` whose deadline passed before it woke
    /// passes the notification to the next getter, which would otherwise wait forever.
    #[test]
    fn a_notification_to_a_leaving_getter_is_passed_on() {
        check(|| {
            let q = Queue::unbounded();
            let (q1, q2) = (q.clone(), q.clone());
            let leaving = thread::spawn(move || q1.get_timeout(Duration::ZERO).is_ok());
            let staying = thread::spawn(move || q2.get());
            q.put(1).unwrap();
            if leaving.join().unwrap() {
                q.put(2).unwrap(); // the leaving getter took the first item
            }
            assert!(staying.join().unwrap().is_ok());
        });
    }

    /// The withdraw protocol on the putters' side: the room a get made, picked for a putter
    /// whose deadline passed before it woke, is passed to the next putter.
    #[test]
    fn a_room_notification_to_a_leaving_putter_is_passed_on() {
        check(|| {
            let q = Queue::bounded(1);
            q.put(0).unwrap();
            let (q1, q2) = (q.clone(), q.clone());
            let leaving = thread::spawn(move || q1.put_timeout(1, Duration::ZERO).is_ok());
            let staying = thread::spawn(move || q2.put(2).is_ok());
            assert_eq!(q.get(), Ok(0)); // room for one
            if leaving.join().unwrap() {
                assert_eq!(q.get(), Ok(1)); // the leaving putter took the room: make more
            }
            assert!(staying.join().unwrap());
        });
    }

    /// `close` wakes a getter waiting on an empty queue (it fails with `Closed`) and a putter
    /// waiting on a full one (it gets its item back); what was queued still drains.
    #[test]
    fn close_ends_the_waits_on_both_sides() {
        check(|| {
            let empty = Queue::<u8>::unbounded();
            let full = Queue::bounded(1);
            full.put(0u8).unwrap();
            let (e, f) = (empty.clone(), full.clone());
            let getter = thread::spawn(move || e.get());
            let putter = thread::spawn(move || f.put(1));
            empty.close();
            full.close();
            assert_eq!(getter.join().unwrap(), Err(RecvError::Closed));
            assert_eq!(putter.join().unwrap(), Err(SendError::Closed(1)));
            assert_eq!(full.try_get(), Ok(0));
            assert_eq!(full.try_get(), Err(TryRecvError::Closed));
        });
    }

    /// A wait whose primitive loses its last other handle (dropped on another thread) ends
    /// with `Deadlock` — nobody can complete it — instead of hanging.
    #[test]
    fn a_wait_left_alone_ends_in_deadlock() {
        check(|| {
            let q = Queue::<u8>::unbounded();
            let other = q.clone();
            let t = thread::spawn(move || drop(other));
            assert_eq!(q.get(), Err(RecvError::Wait(WaitError::Deadlock)));
            t.join().unwrap();
        });
    }

    /// The other side puts, then drops its handle: the waiter gets the item, never
    /// `Deadlock` (the notification comes before its token stops counting).
    #[test]
    fn an_item_put_before_the_last_other_handle_drops_is_got() {
        check(|| {
            let q = Queue::unbounded();
            let tx = q.clone();
            let t = thread::spawn(move || tx.put(1u8).unwrap());
            assert_eq!(q.get(), Ok(1));
            t.join().unwrap();
        });
    }

    /// An event set from one thread wakes a waiter on another; a timed wait racing the set
    /// ends either way, and the flag is set afterwards.
    #[test]
    fn an_event_set_reaches_its_waiters() {
        check(|| {
            let ev = Event::new();
            let (e1, e2) = (ev.clone(), ev.clone());
            let waiter = thread::spawn(move || e1.wait());
            let timed = thread::spawn(move || e2.wait_timeout(Duration::ZERO));
            ev.set();
            assert_eq!(waiter.join().unwrap(), Ok(()));
            let r = timed.join().unwrap();
            assert!(r == Ok(()) || r == Err(WaitError::TimedOut), "{r:?}");
            assert!(ev.is_set());
        });
    }

    /// An `AsyncResult` set on one thread is seen by a waiter on another, and a timed get
    /// racing the set returns the value or `TimedOut`, never a stale state.
    #[test]
    fn an_async_result_reaches_its_getters() {
        check(|| {
            let r = AsyncResult::new();
            let (r1, r2) = (r.clone(), r.clone());
            let getter = thread::spawn(move || r1.get().ok());
            let timed = thread::spawn(move || r2.get_timeout(Duration::ZERO).ok());
            r.set(5u8);
            assert_eq!(getter.join().unwrap(), Some(5));
            assert!(matches!(timed.join().unwrap(), None | Some(5)));
        });
    }
}
