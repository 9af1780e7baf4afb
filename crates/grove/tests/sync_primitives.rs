//! Event, Semaphore, Lock, Queue family, Channel, AsyncResult, greenlet-local storage.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use grove::sync::{
    AsyncError, AsyncResult, BoundedSemaphore, Channel, Event, LifoQueue, Lock, PriorityQueue,
    Queue, RecvError, Semaphore, SendError, TryRecvError, TrySendError, WaitError,
};

#[test]
fn producers_consumers_lose_and_duplicate_nothing() {
    grove::run(|| {
        let q: Queue<u64> = Queue::bounded(8);
        let producers: Vec<_> = (0..20u64)
            .map(|p| {
                let q = q.clone();
                grove::spawn(move || {
                    for i in 0..500u64 {
                        q.put(p * 1_000_000 + i).unwrap();
                        if i % 7 == 0 {
                            grove::yield_now();
                        }
                    }
                })
            })
            .collect();
        let consumers: Vec<_> = (0..13)
            .map(|_| {
                let q = q.clone();
                grove::spawn(move || {
                    let (mut n, mut sum, mut xor) = (0u64, 0u64, 0u64);
                    while let Ok(v) = q.get() {
                        n += 1;
                        sum = sum.wrapping_add(v);
                        xor ^= v.wrapping_mul(0x9E37_79B9_7F4A_7C15);
                    }
                    (n, sum, xor)
                })
            })
            .collect();
        grove::joinall(producers).into_iter().for_each(|r| r.unwrap());
        q.close();
        let (mut n, mut sum, mut xor) = (0, 0u64, 0u64);
        for r in grove::joinall(consumers) {
            let (a, b, c) = r.unwrap();
            n += a;
            sum = sum.wrapping_add(b);
            xor ^= c;
        }
        let (mut en, mut esum, mut exor) = (0, 0u64, 0u64);
        for p in 0..20u64 {
            for i in 0..500u64 {
                let v = p * 1_000_000 + i;
                en += 1;
                esum = esum.wrapping_add(v);
                exor ^= v.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            }
        }
        assert_eq!((n, sum, xor), (en, esum, exor));
    });
}

#[test]
fn joinable_queue_join_waits_for_task_done() {
    grove::run(|| {
        let q: Queue<u32> = Queue::unbounded();
        let processed = Rc::new(Cell::new(0));
        for i in 0..10 {
            q.put(i).unwrap();
        }
        let workers: Vec<_> = (0..3)
            .map(|_| {
                let (q, p) = (q.clone(), processed.clone());
                grove::spawn(move || {
                    while let Ok(_item) = q.get() {
                        grove::sleep(Duration::from_millis(1));
                        p.set(p.get() + 1);
                        q.task_done();
                    }
                })
            })
            .collect();
        assert_eq!(q.join(), Ok(()));
        assert_eq!(processed.get(), 10);
        assert_eq!(q.unfinished(), 0);
        q.close();
        grove::joinall(workers);
    });
}

#[test]
fn queue_orders_and_errors() {
    grove::run(|| {
        let lifo: LifoQueue<i32> = LifoQueue::with_bound(None);
        let prio: PriorityQueue<i32> = PriorityQueue::with_bound(None);
        for v in [3, 1, 2] {
            lifo.put(v).unwrap();
            prio.put(v).unwrap();
        }
        assert_eq!(lifo.iter().take(3).collect::<Vec<_>>(), [2, 1, 3]);
        assert_eq!(prio.peek(|v| v.copied()), Some(3));
        assert_eq!(prio.iter().take(3).collect::<Vec<_>>(), [3, 2, 1]);

        let q: Queue<&str> = Queue::bounded(1);
        q.try_put("a").unwrap();
        assert!(matches!(q.try_put("b"), Err(TrySendError::Full("b"))));
        assert!(matches!(
            q.put_timeout("c", Duration::from_millis(5)),
            Err(SendError::Wait(WaitError::TimedOut, "c"))
        ));
        assert_eq!(q.try_get(), Ok("a"));
        assert_eq!(q.try_get(), Err(TryRecvError::Empty));
        assert_eq!(
            q.get_timeout(Duration::from_millis(5)),
            Err(RecvError::Wait(WaitError::TimedOut))
        );
        q.put("d").unwrap();
        q.close();
        assert!(matches!(q.put("e"), Err(SendError::Closed("e"))));
        assert_eq!(q.get(), Ok("d"), "getters drain after close");
        assert_eq!(q.get(), Err(RecvError::Closed));
    });
}

#[test]
fn main_waiting_on_an_empty_queue_is_a_deadlock() {
    grove::run(|| {
        let q: Queue<u8> = Queue::unbounded();
        assert_eq!(q.get(), Err(RecvError::Wait(WaitError::Deadlock)));
        // Still usable afterwards.
        q.put(1).unwrap();
        assert_eq!(q.get(), Ok(1));
    });
}

#[test]
fn semaphore_is_fifo_and_limits_concurrency() {
    grove::run(|| {
        let sem = Semaphore::new(2);
        let order = Rc::new(RefCell::new(Vec::new()));
        let (active, peak) = (Rc::new(Cell::new(0)), Rc::new(Cell::new(0)));
        let hs: Vec<_> = (0..10)
            .map(|i| {
                let (sem, order, active, peak) =
                    (sem.clone(), order.clone(), active.clone(), peak.clone());
                grove::spawn(move || {
                    let _p = sem.acquire().unwrap();
                    order.borrow_mut().push(i);
                    active.set(active.get() + 1);
                    peak.set(peak.get().max(active.get()));
                    grove::sleep(Duration::from_millis(2));
                    active.set(active.get() - 1);
                })
            })
            .collect();
        grove::joinall(hs);
        assert_eq!(*order.borrow(), (0..10).collect::<Vec<_>>(), "FIFO");
        assert_eq!(peak.get(), 2);
        assert_eq!(sem.available(), 2);
    });
}

#[test]
fn a_released_permit_is_not_stolen_by_a_newcomer() {
    grove::run(|| {
        let sem = Semaphore::new(1);
        let held = sem.acquire().unwrap();
        let s = sem.clone();
        let waiter = grove::spawn(move || drop(s.acquire().unwrap()));
        grove::yield_now(); // waiter queues
        drop(held); // handed to the waiter
        assert!(sem.try_acquire().is_none(), "the queued waiter owns the permit");
        waiter.join().unwrap();
        assert!(sem.try_acquire().is_some());
    });
}

#[test]
#[should_panic(expected = "released too many times")]
fn bounded_semaphore_rejects_extra_release() {
    let s = BoundedSemaphore::new(1);
    s.release();
}

#[test]
fn lock_guards_data_across_blocking_calls() {
    grove::run(|| {
        let lock = Lock::new(0u32);
        let hs: Vec<_> = (0..20)
            .map(|_| {
                let l = lock.clone();
                grove::spawn(move || {
                    let mut g = l.lock().unwrap();
                    let v = *g;
                    grove::yield_now();
                    *g = v + 1;
                })
            })
            .collect();
        grove::joinall(hs);
        assert_eq!(*lock.lock().unwrap(), 20);
        assert!(!lock.is_locked());
        let g = lock.lock().unwrap();
        assert!(lock.try_lock().is_none());
        assert_eq!(lock.lock_timeout(Duration::from_millis(5)).err(), Some(WaitError::TimedOut));
        drop(g);
    });
}

/// Kill a greenlet at each kind of wait; the primitive must stay usable and lose nothing.
#[test]
fn killed_waiters_leave_primitives_consistent() {
    grove::run(|| {
        // Semaphore: a waiter woken with the permit, then killed before running, passes it on.
        let sem = Semaphore::new(1);
        let p = sem.acquire().unwrap();
        let s1 = sem.clone();
        let a = grove::spawn(move || drop(s1.acquire().unwrap()));
        let s2 = sem.clone();
        let got = Rc::new(Cell::new(false));
        let g2 = got.clone();
        let b = grove::spawn(move || {
            let _p = s2.acquire().unwrap();
            g2.set(true);
        });
        grove::yield_now();
        drop(p); // permit reserved for `a`
        a.kill().unwrap(); // `a` dies holding the grant: it must go to `b`
        b.join().unwrap();
        assert!(got.get());
        assert_eq!(sem.available(), 1);

        // Semaphore with no one left to pass to: the permit comes back.
        let p = sem.acquire().unwrap();
        let s3 = sem.clone();
        let c = grove::spawn(move || drop(s3.acquire().unwrap()));
        grove::yield_now();
        drop(p);
        c.kill().unwrap();
        assert_eq!(sem.available(), 1);

        // Queue: a getter woken for an item, then killed: the item goes to the next getter.
        let q: Queue<u32> = Queue::unbounded();
        let q1 = q.clone();
        let g1 = grove::spawn(move || q1.get().unwrap());
        let q2 = q.clone();
        let g2 = grove::spawn(move || q2.get().unwrap());
        grove::yield_now();
        q.put(7).unwrap();
        g1.kill().unwrap();
        assert_eq!(g2.join().unwrap(), 7);
        assert!(g1.join().unwrap_err().is_killed());

        // Lock: the holder is killed mid-critical-section; the lock is released.
        let lock = Lock::new(());
        let l = lock.clone();
        let holder = grove::spawn(move || {
            let _g = l.lock().unwrap();
            grove::sleep(Duration::from_secs(3600));
        });
        grove::yield_now();
        assert!(lock.is_locked());
        holder.kill().unwrap();
        assert!(lock.try_lock().is_some());

        // Event: a killed waiter does not stop others from waking.
        let ev = Event::new();
        let e1 = ev.clone();
        let w1 = grove::spawn(move || e1.wait());
        let e2 = ev.clone();
        let w2 = grove::spawn(move || e2.wait());
        grove::yield_now();
        w1.kill().unwrap();
        ev.set();
        assert_eq!(w2.join().unwrap(), Ok(()));

        // Channel: a putter killed while offering withdraws its item.
        let ch: Channel<u32> = Channel::new();
        let c1 = ch.clone();
        let put = grove::spawn(move || c1.put(1));
        grove::yield_now();
        put.kill().unwrap();
        assert_eq!(ch.try_get(), Err(TryRecvError::Empty));
    });
}

#[test]
fn event_wait_timeout_and_clear() {
    grove::run(|| {
        let ev = Event::new();
        assert_eq!(ev.wait_timeout(Duration::from_millis(5)), Err(WaitError::TimedOut));
        let e = ev.clone();
        grove::spawn_later(Duration::from_millis(5), move || e.set());
        assert_eq!(ev.wait(), Ok(()));
        assert!(ev.is_set());
        ev.clear();
        assert!(!ev.is_set());
    });
}

#[test]
fn channel_is_a_rendezvous() {
    grove::run(|| {
        let ch: Channel<u32> = Channel::new();
        let delivered = Rc::new(Cell::new(false));
        let (tx, d) = (ch.clone(), delivered.clone());
        let putter = grove::spawn(move || {
            tx.put(5).unwrap();
            d.set(true);
        });
        grove::sleep(Duration::from_millis(5));
        assert!(!delivered.get(), "put waits for a getter");
        assert_eq!(ch.get().unwrap(), 5);
        putter.join().unwrap();
        assert!(delivered.get());
        assert!(matches!(
            ch.put_timeout(9, Duration::from_millis(5)),
            Err(SendError::Wait(WaitError::TimedOut, 9))
        ));
        ch.close();
        assert_eq!(ch.get(), Err(RecvError::Closed));
    });
}

#[test]
fn timeout_scope_applies_to_primitives() {
    grove::run(|| {
        let q: Queue<u8> = Queue::unbounded();
        let t = Instant::now();
        let r = grove::timeout(Duration::from_millis(10), || q.get());
        assert!(r.is_err(), "scope reports expiry");
        assert!(t.elapsed() >= Duration::from_millis(10));
        // Nested: the inner, shorter scope fires; the outer one has not expired.
        let outer = grove::timeout(Duration::from_secs(60), || {
            let inner = grove::timeout(Duration::from_millis(5), || q.get());
            assert!(inner.is_err());
            "outer fine"
        });
        assert_eq!(outer, Ok("outer fine"));
        // Nested: the outer, shorter scope fires inside the inner one; both report it.
        let outer = grove::timeout(Duration::from_millis(5), || {
            grove::timeout(Duration::from_secs(60), || q.get()).is_err()
        });
        assert!(outer.is_err());
    });
}

#[test]
fn async_result_set_from_another_thread_wakes_a_greenlet() {
    grove::run(|| {
        let r: AsyncResult<String> = AsyncResult::new();
        let ticks = Rc::new(Cell::new(0));
        let t = ticks.clone();
        let ticker = grove::spawn(move || {
            for _ in 0..3 {
                grove::sleep(Duration::from_millis(2));
                t.set(t.get() + 1);
            }
        });
        let r2 = r.clone();
        let waiter = grove::spawn(move || r2.get());
        let producer = r.clone();
        let th = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            producer.set("from a thread".into())
        });
        assert_eq!(waiter.join().unwrap().unwrap(), "from a thread");
        ticker.join().unwrap();
        assert_eq!(ticks.get(), 3, "the hub kept running while the greenlet waited");
        assert!(th.join().unwrap());
        assert!(!r.set("again".into()), "write once");

        let e: AsyncResult<u8> = AsyncResult::new();
        e.set_error("it broke");
        assert!(matches!(e.get(), Err(AsyncError::Failed(err)) if err.to_string() == "it broke"));
        let never: AsyncResult<u8> = AsyncResult::new();
        assert!(matches!(
            never.get_timeout(Duration::from_millis(5)),
            Err(AsyncError::Wait(WaitError::TimedOut))
        ));
    });
}

#[test]
fn async_result_callbacks_run_on_the_registering_hub_not_inline() {
    grove::run(|| {
        let r: AsyncResult<u32> = AsyncResult::new();
        let (tx, rx) = std::sync::mpsc::channel();
        let tid = std::thread::current().id();
        r.on_ready(move |v| tx.send((*v.as_ref().unwrap(), std::thread::current().id())).unwrap());
        let p = r.clone();
        std::thread::spawn(move || p.set(11)).join().unwrap();
        assert!(rx.try_recv().is_err(), "not run inline on the setter's thread");
        // Wait on the hub for the callback.
        let done = AsyncResult::<()>::new();
        let d = done.clone();
        r.on_ready(move |_| {
            d.set(());
        });
        done.get().unwrap();
        assert_eq!(rx.try_recv().unwrap(), (11, tid));
    });
}

#[test]
fn async_result_from_a_plain_thread() {
    let r: AsyncResult<u32> = AsyncResult::new();
    let r2 = r.clone();
    let waiter = std::thread::spawn(move || r2.get().unwrap());
    std::thread::sleep(Duration::from_millis(10));
    r.set(3);
    assert_eq!(waiter.join().unwrap(), 3);
}

struct Dropped(Rc<Cell<u32>>);
impl Drop for Dropped {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
    }
}

grove::local! {
    static SLOT: RefCell<Option<Dropped>> = RefCell::new(None);
    static COUNTER: Cell<u32> = Cell::new(0);
}

#[test]
fn greenlet_local_storage_is_per_greenlet_and_dropped_at_end() {
    grove::run(|| {
        let drops = Rc::new(Cell::new(0));
        let hs: Vec<_> = (0..5u32)
            .map(|i| {
                let d = drops.clone();
                grove::spawn(move || {
                    SLOT.with(|s| *s.borrow_mut() = Some(Dropped(d)));
                    COUNTER.with(|c| c.set(i));
                    grove::yield_now();
                    COUNTER.with(|c| c.get())
                })
            })
            .collect();
        let vals: Vec<u32> = grove::joinall(hs).into_iter().map(Result::unwrap).collect();
        assert_eq!(vals, [0, 1, 2, 3, 4]);
        assert_eq!(drops.get(), 5, "dropped when each greenlet ended");
        assert_eq!(COUNTER.with(|c| c.get()), 0, "main has its own");

        // Killed greenlets drop theirs too.
        let d = drops.clone();
        let h = grove::spawn(move || {
            SLOT.with(|s| *s.borrow_mut() = Some(Dropped(d)));
            grove::sleep(Duration::from_secs(3600));
        });
        grove::yield_now();
        h.kill().unwrap();
        assert_eq!(drops.get(), 6);
    });
}

/// A waiter woken by `set` and killed before it runs does not hand the wakeup on to a waiter
/// that arrived after a `clear` (a broadcast is not a notification to pass on; model seed
/// 38741). Observable through ordering: the later `set` wakes main, so g1, finding the event
/// set, queues behind main (gevent issue 1520's rule).
#[test]
fn a_killed_woken_event_waiter_does_not_pass_the_set_on() {
    grove::run(|| {
        let e = Event::new();
        let log = Rc::new(RefCell::new(Vec::new()));
        let e3 = e.clone();
        let g3 = grove::spawn(move || e3.wait());
        grove::yield_now(); // g3 waits
        e.set(); // wakes g3
        e.clear();
        g3.kill_nowait(); // g3 unwinds without using its wakeup
        let e5 = e.clone();
        let g5 = grove::spawn(move || e5.set());
        let (e1, l1) = (e.clone(), log.clone());
        let g1 = grove::spawn(move || {
            e1.wait().unwrap();
            l1.borrow_mut().push("g1");
        });
        e.wait().unwrap(); // woken by g5's set, not by g3's unwinding
        log.borrow_mut().push("main");
        g1.join().unwrap();
        g5.join().unwrap();
        assert!(matches!(g3.join(), Err(grove::JoinError::Killed)));
        assert_eq!(*log.borrow(), ["main", "g1"]);
    });
}
