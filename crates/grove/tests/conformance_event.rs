//! Conformance: gevent's `Event` and `AsyncResult` behaviour (gevent `tests/test__event.py`),
//! re-expressed against grove's public API.

#[path = "util/conform.rs"]
mod conform;

use std::time::Instant;

use conform::*;
use grove::sync::{mt, AsyncError, AsyncResult, Event, WaitError};

// mirrors gevent tests/test__event.py: TestEventWait.test_returns_none_after_timeout
#[test]
fn event_wait_timeout_returns_false_after_the_timeout() {
    conform(|| {
        let start = Instant::now();
        assert_eq!(Event::new().wait_timeout(SHORT), Err(WaitError::TimedOut));
        assert_took_at_least(start, SHORT);
    });
}

// mirrors gevent tests/test__event.py: TestEventWait.test_outer_timeout_is_not_lost
#[test]
fn event_wait_timeout_longer_than_scope_unwinds_to_the_scope() {
    conform(|| {
        let ev = Event::new();
        assert_scope_unwinds(SHORT, |after| {
            let _ = ev.wait_timeout(LONG);
            after();
        });
    });
}

// mirrors gevent tests/test__event.py: TestEventWait.test_outer_timeout_is_not_lost (untimed wait)
#[test]
fn event_wait_inside_expiring_scope_unwinds() {
    conform(|| {
        let ev = Event::new();
        assert_scope_unwinds(SHORT, |after| {
            let _ = ev.wait();
            after();
        });
    });
}

// mirrors gevent tests/test__event.py: TestEventWait.test_cover
#[test]
fn event_debug_shows_the_flag() {
    conform(|| {
        let ev = Event::new();
        assert_eq!(format!("{ev:?}"), "Event(set: false)");
        ev.set();
        assert_eq!(format!("{ev:?}"), "Event(set: true)");
    });
}

// mirrors gevent tests/test__event.py: TestGeventWaitOnEvent.test_set_during_wait
#[test]
fn event_set_during_wait_then_clear_blocks_new_waits() {
    conform(|| {
        let ev = Event::new();
        let e = ev.clone();
        let waiter = grove::spawn(move || {
            let e2 = e.clone();
            let setter = grove::spawn(move || e2.set());
            assert_eq!(e.wait(), Ok(()));
            assert!(e.is_set());
            setter.join().unwrap();
            e.clear();
            assert!(!e.is_set());
            // The earlier notification must not leak into this wait.
            assert_eq!(e.wait_timeout(ms(10)), Err(WaitError::TimedOut));
            assert!(!e.is_set());
        });
        waiter.join().unwrap();
    });
}

// mirrors gevent tests/test__event.py: TestEvent_SetThenClear.test (N = 1)
#[test]
fn event_set_then_clear_wakes_the_waiter() {
    set_then_clear(1);
}

// mirrors gevent tests/test__event.py: TestEvent_SetThenClear100.test
#[test]
fn event_set_then_clear_wakes_100_waiters() {
    set_then_clear(100);
}

// mirrors gevent tests/test__event.py: TestEvent_SetThenClear1000.test
#[test]
fn event_set_then_clear_wakes_1000_waiters() {
    set_then_clear(1000);
}

fn set_then_clear(n: usize) {
    conform(move || {
        let ev = Event::new();
        let waiters: Vec<_> = (0..n)
            .map(|_| {
                let e = ev.clone();
                grove::spawn(move || e.wait())
            })
            .collect();
        grove::yield_now(); // every waiter is now blocked in wait()
        ev.set();
        ev.clear();
        for (i, r) in grove::joinall(waiters).into_iter().enumerate() {
            assert_eq!(
                r.unwrap(),
                Ok(()),
                "waiter {i} woken by set() reported failure after clear()"
            );
        }
    });
}

// mirrors gevent tests/test__event.py: TestEventBasics.test_wait_while_notifying (issue 1520)
#[test]
fn event_new_wait_on_set_event_lets_woken_waiters_run_first() {
    conform(|| {
        let ev = Event::new();
        let results = Log::new();
        for i in [1, 2] {
            let (e, r) = (ev.clone(), results.clone());
            grove::spawn(move || {
                e.wait().unwrap();
                r.push(i);
            });
        }
        grove::yield_now();
        assert!(results.is_empty());
        ev.set();
        ev.wait().unwrap();
        results.push(3);
        assert_eq!(results.get(), [1, 2, 3]);
    });
}

// mirrors gevent tests/test__event.py: TestEventBasics.test_gevent_wait_twice_when_already_set
#[test]
fn event_wait_twice_when_already_set() {
    conform(|| {
        let ev = Event::new();
        ev.set();
        assert_eq!(ev.wait(), Ok(()));
        assert_eq!(ev.wait(), Ok(()));
        assert_eq!(ev.wait_timeout(ms(0)), Ok(()));
    });
}

// mirrors gevent tests/test__event.py: TestEventWait (adversarial: waiter killed while waiting)
#[test]
fn event_killed_waiter_does_not_swallow_the_wakeup() {
    conform(|| {
        let ev = Event::new();
        let (e1, e2) = (ev.clone(), ev.clone());
        let a = grove::spawn(move || e1.wait());
        let b = grove::spawn(move || e2.wait());
        grove::yield_now();
        a.kill().unwrap();
        assert!(a.join().unwrap_err().is_killed());
        ev.set();
        assert_eq!(b.join().unwrap(), Ok(()));
    });
}

// mirrors gevent tests/test__event.py: TestEventWait (adversarial: main waits with nobody to set)
#[test]
fn event_wait_on_main_with_no_setter_is_a_deadlock_not_a_hang() {
    conform(|| {
        let ev = Event::new();
        assert_eq!(
            ev.wait(),
            Err(WaitError::Deadlock),
            "nothing can set the event: wait must fail, not succeed"
        );
        assert!(!ev.is_set());
    });
}

// mirrors gevent tests/test__event.py: TestAsyncResultWait.test_returns_none_after_timeout
#[test]
fn async_result_get_timeout_times_out() {
    conform(|| {
        let ar: AsyncResult<u32> = AsyncResult::new();
        let _keep = ar.clone();
        let start = Instant::now();
        assert!(matches!(ar.get_timeout(SHORT), Err(AsyncError::Wait(WaitError::TimedOut))));
        assert_took_at_least(start, SHORT);
    });
}

// mirrors gevent tests/test__event.py: TestAsyncResultGet.test_outer_timeout_is_not_lost
#[test]
fn async_result_get_inside_expiring_scope_unwinds() {
    conform(|| {
        let ar: AsyncResult<u32> = AsyncResult::new();
        let _keep = ar.clone();
        assert_scope_unwinds(SHORT, |after| {
            let _ = ar.get_timeout(LONG);
            after();
        });
    });
}

// mirrors gevent tests/test__event.py: TestAsyncResult.test_set_exc
#[test]
fn async_result_error_reaches_the_waiter() {
    conform(|| {
        let ar: AsyncResult<u32> = AsyncResult::new();
        let log = Log::new();
        let (a, l) = (ar.clone(), log.clone());
        grove::spawn(move || match a.get() {
            Err(AsyncError::Failed(e)) => l.push(format!("caught {e}")),
            other => l.push(format!("unexpected {other:?}")),
        });
        grove::yield_now();
        assert!(ar.set_error("my exception"));
        grove::yield_now();
        assert_eq!(log.get(), ["caught my exception"]);
        // A second set is refused; the error stays.
        assert!(!ar.set(5));
        assert!(matches!(ar.get(), Err(AsyncError::Failed(_))));
    });
}

// mirrors gevent tests/test__event.py: TestAsyncResult.test_get_repeated_does_not_accumulate_traceback
#[test]
fn async_result_repeated_get_of_error_is_stable() {
    conform(|| {
        let ar: AsyncResult<u32> = AsyncResult::new();
        ar.set_error("boom");
        let texts: Vec<String> = (0..3).map(|_| ar.get().unwrap_err().to_string()).collect();
        assert_eq!(texts, ["boom", "boom", "boom"]);
    });
}

// mirrors gevent tests/test__event.py: TestAsyncResult.test_set (a zero timeout interrupts get)
#[test]
fn async_result_get_in_zero_scope_is_interrupted_before_a_later_set() {
    conform(|| {
        let ar: AsyncResult<&'static str> = AsyncResult::new();
        let a = ar.clone();
        let setter = grove::spawn_later(SHORT, move || a.set("hello event1"));
        assert_scope_unwinds(ms(0), |after| {
            let _ = ar.get();
            after();
        });
        setter.join().unwrap();
        assert_eq!(ar.get().unwrap(), "hello event1");
    });
}

// mirrors gevent tests/test__event.py: TestAsyncResult.test_set_with_timeout
#[test]
fn async_result_nobody_sends_scope_gives_elapsed() {
    conform(|| {
        let ar: AsyncResult<u32> = AsyncResult::new();
        let _keep = ar.clone();
        let r = grove::timeout(SHORT, || ar.get());
        assert!(r.is_err(), "nobody sent anything, yet get() produced {r:?}");
    });
}

// mirrors gevent tests/test__event.py: TestAsyncResult.test_nonblocking_get
#[test]
fn async_result_peek_does_not_block() {
    conform(|| {
        let ar: AsyncResult<u32> = AsyncResult::new();
        assert!(ar.peek().is_none());
        assert!(!ar.is_ready());
        ar.set(7);
        assert!(ar.is_ready());
        assert_eq!(ar.peek().unwrap().unwrap(), 7);
    });
}

// mirrors gevent tests/test__event.py: TestAsyncResult (AbstractGenericWait with no producer)
#[test]
fn async_result_get_on_main_with_no_other_handle_is_a_deadlock() {
    conform(|| {
        let ar: AsyncResult<u32> = AsyncResult::new();
        let r = ar.get();
        assert!(r.is_err(), "no handle can ever set it, yet get() gave {r:?}");
        assert!(!matches!(r, Err(AsyncError::Failed(_))));
    });
}

// mirrors gevent tests/test__event.py: TestAsyncResultCrossThread.test_cross_thread_use
#[test]
fn async_result_set_from_another_thread_wakes_a_greenlet() {
    conform(|| {
        let ar: AsyncResult<String> = AsyncResult::new();
        let started = mt::Event::new();
        let (a, s) = (ar.clone(), started.clone());
        let waiter = grove::spawn(move || {
            s.set();
            a.get().unwrap()
        });
        grove::yield_now();
        assert!(started.is_set());
        let producer = ar.clone();
        let t = std::thread::spawn(move || producer.set("from main".to_string()));
        assert_eq!(waiter.join().unwrap(), "from main");
        assert!(t.join().unwrap());
    });
}

// mirrors gevent tests/test__event.py: TestAsyncResultCrossThread.test_cross_thread_use_set_in_bg
#[test]
fn async_result_waited_on_a_hub_thread_set_from_plain_thread() {
    conform(|| {
        let ar: AsyncResult<u32> = AsyncResult::new();
        let producer = ar.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(ms(5));
            producer.set(1)
        });
        assert_eq!(ar.get_timeout(LONG).unwrap(), 1);
        t.join().unwrap();
    });
}

// mirrors gevent tests/test__event.py: TestEventCrossThread.test_cross_thread_use
#[test]
fn mt_event_set_from_another_thread_wakes_main() {
    conform(|| {
        let ev = mt::Event::new();
        let e = ev.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(ms(5));
            e.set();
        });
        assert_eq!(ev.wait(), Ok(()));
        t.join().unwrap();
    });
}

// mirrors gevent tests/test__event.py: TestEventCrossThread (no setter anywhere)
#[test]
fn mt_event_wait_with_no_other_handle_is_a_deadlock() {
    conform(|| {
        let ev = mt::Event::new();
        assert_eq!(ev.wait(), Err(WaitError::Deadlock), "no handle can ever set it");
    });
}

// mirrors gevent tests/test__event.py: TestAsyncResultAsLinkTarget.test_set
#[test]
fn async_result_as_completion_target_of_a_greenlet() {
    conform(|| {
        let g = grove::spawn(|| 1);
        let (s1, s3): (AsyncResult<i32>, AsyncResult<i32>) =
            (AsyncResult::new(), AsyncResult::new());
        let (a1, a3) = (s1.clone(), s3.clone());
        let _watch = grove::spawn(move || match g.join() {
            Ok(v) => a1.set(v),
            Err(e) => a3.set_error(e.to_string()),
        });
        assert_eq!(s1.get().unwrap(), 1);
        assert!(grove::timeout(SHORT, || s3.get()).is_err());
    });
}

// mirrors gevent tests/test__event.py: TestAsyncResultAsLinkTarget.test_set_exception
#[test]
fn async_result_as_error_target_of_a_panicking_greenlet() {
    conform(|| {
        let g = grove::spawn(|| -> i32 { panic!("expected failure") });
        let (s1, s2): (AsyncResult<i32>, AsyncResult<i32>) =
            (AsyncResult::new(), AsyncResult::new());
        let (a1, a2) = (s1.clone(), s2.clone());
        let _watch = grove::spawn(move || match g.join() {
            Ok(v) => a2.set(v),
            Err(e) => a1.set_error(e.to_string()),
        });
        let err = s1.get().unwrap_err().to_string();
        assert!(err.contains("expected failure"), "{err}");
        assert!(grove::timeout(SHORT, || s2.get()).is_err());
    });
}
