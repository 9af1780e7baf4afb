//! Conformance: gevent's `Semaphore`, `BoundedSemaphore` and locks (gevent
//! `tests/test__semaphore.py`, `tests/test__lock.py`) against grove's `Semaphore`,
//! `BoundedSemaphore` and `Lock`.

#[path = "util/conform.rs"]
mod conform;

use std::panic::{self, AssertUnwindSafe};
use std::time::{Duration, Instant};

use conform::*;
use grove::sync::{BoundedSemaphore, Lock, Semaphore, WaitError};

// mirrors gevent tests/test__semaphore.py: TestSemaphore.test_acquire_returns_false_after_timeout
#[test]
fn acquire_timeout_on_empty_semaphore_fails_after_the_timeout() {
    conform(|| {
        let s = Semaphore::new(0);
        let _other = s.clone();
        let start = Instant::now();
        assert_eq!(s.acquire_timeout(SHORT).unwrap_err(), WaitError::TimedOut);
        assert_took_at_least(start, SHORT);
        assert_eq!(s.acquire_deadline(Instant::now()).unwrap_err(), WaitError::TimedOut);
    });
}

// mirrors gevent tests/test__semaphore.py: TestSemaphore.test_release_twice
#[test]
fn releasing_an_unbounded_semaphore_adds_permits() {
    conform(|| {
        let s = Semaphore::new(1);
        s.release();
        s.release();
        assert_eq!(s.available(), 3);
        let permits: Vec<_> = (0..3).map(|_| s.try_acquire().expect("a permit")).collect();
        assert!(s.try_acquire().is_none());
        drop(permits);
        assert_eq!(s.available(), 3);
    });
}

// mirrors gevent tests/test__semaphore.py: TestSemaphore.test_rawlink_on_unacquired_runs_notifiers
#[test]
fn acquire_on_a_free_semaphore_does_not_block() {
    conform(|| {
        let s = Semaphore::new(1);
        let p = s.acquire().unwrap();
        assert_eq!(s.available(), 0);
        drop(p);
        assert_eq!(s.available(), 1);
    });
}

// mirrors gevent tests/test__semaphore.py: TestBoundedSemaphoreMultiThread (bounded release past the bound)
#[test]
fn bounded_semaphore_released_too_often_panics() {
    conform(|| {
        let s = BoundedSemaphore::new(1);
        let p = s.acquire().unwrap();
        drop(p);
        let r = panic::catch_unwind(AssertUnwindSafe(|| s.release()));
        assert!(r.is_err(), "releasing past the bound must fail");
        assert_eq!(s.available(), 1);
    });
}

// mirrors gevent tests/test__semaphore.py: TestSemaphoreMultiThread.test_acquire_in_one_then_another (greenlets)
#[test]
fn acquire_in_one_greenlet_then_another_after_release() {
    conform(|| {
        let s = Semaphore::new(1);
        let held = s.acquire().unwrap();
        let s2 = s.clone();
        let other = grove::spawn(move || {
            let _p = s2.acquire().unwrap();
            true
        });
        grove::yield_now();
        assert!(!other.is_finished());
        assert_eq!(s.waiting(), 1);
        drop(held);
        assert!(other.join().unwrap());
    });
}

// mirrors gevent tests/test__semaphore.py: TestSemaphoreMultiThread.test_acquire_in_one_then_another_timed
#[test]
fn timed_acquire_in_another_greenlet_gives_up_and_leaves_no_waiter() {
    conform(|| {
        let s = Semaphore::new(1);
        let held = s.acquire().unwrap();
        let s2 = s.clone();
        let other = grove::spawn(move || s2.acquire_timeout(ms(5)).map(drop));
        assert_eq!(other.join().unwrap(), Err(WaitError::TimedOut));
        assert_eq!(s.waiting(), 0);
        drop(held);
        assert_eq!(s.available(), 1);
    });
}

// mirrors gevent tests/test__semaphore.py: TestSemaphoreMultiThread.test_acquire_in_one_wait_greenlet_wait_thread_gives_up
#[test]
fn waiter_that_gives_up_does_not_take_the_permit_from_the_next() {
    conform(|| {
        let s = Semaphore::new(1);
        let held = s.acquire().unwrap();
        let (s1, s2) = (s.clone(), s.clone());
        let patient = grove::spawn(move || s1.acquire().unwrap().forget());
        let impatient = grove::spawn(move || s2.acquire_timeout(ms(5)).map(drop));
        grove::yield_now();
        assert_eq!(impatient.join().unwrap(), Err(WaitError::TimedOut));
        drop(held);
        patient.join().unwrap();
        assert_eq!(s.available(), 0, "the patient waiter got the permit");
        s.release();
    });
}

/// gevent's acquire_then_spawn / release_then_spawn chain: each holder releases and re-queues.
fn hog(sem: Semaphore, rounds: Counter, stop: Flag) {
    while !stop.get() {
        let p = sem.acquire().unwrap();
        rounds.incr();
        grove::yield_now();
        drop(p);
        grove::yield_now();
    }
}

// mirrors gevent tests/test__semaphore.py: TestSemaphoreFair.test_fair_or_hangs
#[test]
fn semaphore_is_fair_a_late_waiter_is_not_starved() {
    conform(|| {
        let sem = Semaphore::new(1);
        let (rounds, stop) = (Counter::new(), Flag::new());
        let hogs: Vec<_> = (0..2)
            .map(|_| {
                let (s, r, st) = (sem.clone(), rounds.clone(), stop.clone());
                grove::spawn(move || hog(s, r, st))
            })
            .collect();
        grove::yield_now();
        let (s, r) = (sem.clone(), rounds.clone());
        let exiting = grove::spawn(move || {
            let _p = s.acquire().unwrap();
            r.get()
        });
        let rounds_when_served = exiting.join().unwrap();
        assert!(rounds_when_served <= 4, "served only after {rounds_when_served} hog rounds");
        stop.set();
        for h in grove::joinall(hogs) {
            h.unwrap();
        }
    });
}

// mirrors gevent tests/test__semaphore.py: TestSemaphoreFair (FIFO hand-off order)
#[test]
fn waiters_are_served_in_arrival_order() {
    conform(|| {
        let sem = Semaphore::new(0);
        let order = Log::new();
        let hs: Vec<_> = (0..4)
            .map(|i| {
                let (s, o) = (sem.clone(), order.clone());
                grove::spawn(move || {
                    let _p = s.acquire().unwrap();
                    o.push(i);
                })
            })
            .collect();
        grove::yield_now();
        // A greenlet arriving after the release must not overtake the queued ones.
        sem.release();
        assert!(sem.try_acquire().is_none());
        for h in grove::joinall(hs) {
            h.unwrap();
        }
        assert_eq!(order.get(), [0, 1, 2, 3]);
    });
}

// mirrors gevent tests/test__semaphore.py: TestSemaphore (a waiter handed the permit is killed)
#[test]
fn permit_handed_to_a_killed_waiter_goes_to_the_next() {
    conform(|| {
        let sem = Semaphore::new(0);
        let (s1, s2) = (sem.clone(), sem.clone());
        let victim = grove::spawn(move || s1.acquire().unwrap().forget());
        let next = grove::spawn(move || s2.acquire().unwrap().forget());
        grove::yield_now();
        sem.release(); // handed to the victim ...
        victim.kill().unwrap(); // ... which dies before it runs
        assert!(victim.join().unwrap_err().is_killed());
        next.join().unwrap();
        assert_eq!(sem.available(), 0);
        assert_eq!(sem.waiting(), 0);
    });
}

// mirrors gevent tests/test__semaphore.py: TestSemaphore (the last waiter handed a permit is killed)
#[test]
fn permit_handed_to_a_killed_last_waiter_is_not_lost() {
    conform(|| {
        let sem = Semaphore::new(0);
        let s1 = sem.clone();
        let victim = grove::spawn(move || s1.acquire().unwrap().forget());
        grove::yield_now();
        sem.release();
        victim.kill().unwrap();
        assert!(victim.join().unwrap_err().is_killed());
        assert!(sem.try_acquire().is_some(), "the permit vanished with the killed waiter");
    });
}

// mirrors gevent tests/test__semaphore.py: TestSemaphore (acquire inside an expiring Timeout)
#[test]
fn acquire_inside_expiring_scope_unwinds_without_panicking() {
    conform(|| {
        let sem = Semaphore::new(0);
        let _other = sem.clone();
        assert_scope_unwinds(SHORT, |after| {
            let p = sem.acquire();
            after();
            if let Ok(p) = p {
                p.forget();
            }
        });
        assert_eq!(sem.waiting(), 0);
        sem.release();
        assert_eq!(sem.available(), 1);
    });
}

// mirrors gevent tests/test__semaphore.py: TestSemaphore (acquire_timeout shorter than the scope)
#[test]
fn acquire_timeout_shorter_than_scope_returns_none() {
    conform(|| {
        let sem = Semaphore::new(0);
        let _other = sem.clone();
        let r = grove::timeout(LONG, || sem.acquire_timeout(ms(5)).map(drop));
        assert_eq!(r, Ok(Err(WaitError::TimedOut)));
    });
}

// mirrors gevent tests/test__semaphore.py: TestSemaphore (LoopExit when main acquires with nobody to release)
#[test]
fn acquire_on_main_with_nobody_to_release_is_a_deadlock() {
    conform(|| {
        let sem = Semaphore::new(0);
        // No deadline at all (`Duration::MAX`; was `acquire_deadline(None)`): a deadlock, not
        // a timeout.
        assert_eq!(sem.acquire_timeout(Duration::MAX).unwrap_err(), WaitError::Deadlock);
        // `acquire()` used to panic with gevent's "would block forever"; it now returns
        // `Err(WaitError::Deadlock)`, whose message still says so.
        let err = sem.acquire().expect_err("acquire must not succeed");
        assert_eq!(err, WaitError::Deadlock);
        assert!(err.to_string().contains("forever"), "{err}");
    });
}

// mirrors gevent tests/test__lock.py: (Lock basics through Semaphore(1))
#[test]
fn lock_serialises_holders_across_blocking_calls() {
    conform(|| {
        let lock = Lock::new(Vec::new());
        let hs: Vec<_> = (0..3)
            .map(|i| {
                let l = lock.clone();
                grove::spawn(move || {
                    let mut g = l.lock().unwrap();
                    g.push(i);
                    grove::sleep(ms(1));
                    g.push(i);
                })
            })
            .collect();
        for h in grove::joinall(hs) {
            h.unwrap();
        }
        assert_eq!(*lock.lock().unwrap(), [0, 0, 1, 1, 2, 2]);
    });
}

// mirrors gevent tests/test__lock.py: TestLockReinitAfterFork (a holder that dies releases the lock)
#[test]
fn lock_held_by_a_killed_greenlet_is_released() {
    conform(|| {
        let lock = Lock::new(0);
        let l = lock.clone();
        let holder = grove::spawn(move || {
            let mut g = l.lock().unwrap();
            *g += 1;
            grove::sleep(FOREVER);
        });
        grove::yield_now();
        assert!(lock.is_locked());
        holder.kill().unwrap();
        assert!(!lock.is_locked());
        assert_eq!(*lock.try_lock().expect("free after the kill"), 1);
    });
}

// mirrors gevent tests/test__lock.py: (a holder that panics releases the lock)
#[test]
fn lock_held_by_a_panicking_greenlet_is_released() {
    conform(|| {
        let lock = Lock::new(0);
        let l = lock.clone();
        let holder = grove::spawn(move || {
            let _g = l.lock().unwrap();
            panic!("holder fails");
        });
        assert!(holder.join().unwrap_err().is_panic());
        assert!(!lock.is_locked());
    });
}

// mirrors gevent tests/test__lock.py: (lock inside an expiring Timeout)
#[test]
fn lock_inside_expiring_scope_unwinds_without_panicking() {
    conform(|| {
        let lock = Lock::new(());
        let l = lock.clone();
        let _holder = grove::spawn(move || {
            let _g = l.lock().unwrap();
            grove::sleep(FOREVER);
        });
        grove::yield_now();
        assert_scope_unwinds(SHORT, |after| {
            let _g = lock.lock();
            after();
        });
        assert_eq!(lock.lock_timeout(ms(1)).unwrap_err(), WaitError::TimedOut);
    });
}

// mirrors gevent tests/test__lock.py: (try_lock respects queued waiters)
#[test]
fn try_lock_does_not_overtake_a_queued_waiter() {
    conform(|| {
        let lock = Lock::new(0);
        let g = lock.lock().unwrap();
        let l = lock.clone();
        let waiter = grove::spawn(move || *l.lock().unwrap() += 1);
        grove::yield_now();
        drop(g);
        assert!(lock.try_lock().is_none(), "the released lock belongs to the queued waiter");
        waiter.join().unwrap();
        assert_eq!(*lock.try_lock().unwrap(), 1);
    });
}

// mirrors gevent tests/test__lock.py: (lock_timeout while held)
#[test]
fn lock_timeout_while_held_fails_after_the_timeout() {
    conform(|| {
        let lock = Lock::new(());
        let _g = lock.lock().unwrap();
        let l = lock.clone();
        let start = Instant::now();
        let got = grove::spawn(move || l.lock_timeout(SHORT).map(drop)).join().unwrap();
        assert_eq!(got, Err(WaitError::TimedOut));
        assert_took_at_least(start, SHORT);
    });
}

// mirrors gevent tests/test__lock.py: TestRLockMultiThread (grove's Lock is not reentrant)
#[test]
fn lock_relocked_by_its_holder_is_not_reentrant() {
    conform(|| {
        let lock = Lock::new(());
        let l = lock.clone();
        let h = grove::spawn(move || {
            let _g = l.lock().unwrap();
            l.lock_timeout(ms(5)).map(drop)
        });
        assert_eq!(
            h.join().unwrap(),
            Err(WaitError::TimedOut),
            "a second lock by the holder must not succeed"
        );
        assert!(!lock.is_locked());
    });
}
