//! Conformance: gevent's `Timeout` / `with_timeout` behaviour (gevent `tests/test__timeout.py`,
//! `tests/test__api_timeout.py`, `tests/test__sleep0.py`) as grove deadline scopes.

#[path = "util/conform.rs"]
mod conform;

use std::time::{Duration, Instant};

use conform::*;
use grove::sync::{Event, Queue, RecvError, WaitError};

// mirrors gevent tests/test__timeout.py: Test.test_expires
#[test]
fn scope_expires_while_blocked_and_unwinds_to_its_boundary() {
    conform(|| {
        let ev = Event::new();
        assert_scope_unwinds(SHORT, |after| {
            let _ = ev.wait();
            after();
        });
    });
}

// mirrors gevent tests/test__timeout.py: Test.test_expires (restart: the same deadline twice)
#[test]
fn scope_can_be_used_again_after_expiring() {
    conform(|| {
        for _ in 0..2 {
            assert_scope_unwinds(SHORT, |after| {
                grove::sleep(FOREVER);
                after();
            });
        }
        assert_eq!(grove::current_deadline(), None);
    });
}

// mirrors gevent tests/test__timeout.py: Test.test_expires_false (silent timeout)
#[test]
fn scope_result_can_be_silenced_into_a_default() {
    conform(|| {
        let v = grove::timeout(SHORT, || {
            grove::sleep(FOREVER);
            1
        })
        .unwrap_or(0);
        assert_eq!(v, 0);
    });
}

// mirrors gevent tests/test__timeout.py: Test.test_context_manager_str (the error's message)
#[test]
fn elapsed_error_has_a_message_and_converts_to_io_timed_out() {
    conform(|| {
        let e = grove::timeout(ms(0), || grove::sleep(FOREVER)).unwrap_err();
        assert_eq!(e.to_string(), "deadline has elapsed");
        let io: std::io::Error = e.into();
        assert_eq!(io.kind(), std::io::ErrorKind::TimedOut);
    });
}

// mirrors gevent tests/test__timeout.py: Test.test_cancel
#[test]
fn scope_that_finished_leaves_no_deadline_behind() {
    conform(|| {
        let r = grove::timeout(SHORT, || 5);
        assert_eq!(r, Ok(5));
        assert_eq!(grove::current_deadline(), None);
        // Sleeping past the old deadline is not affected by the finished scope.
        let start = Instant::now();
        grove::sleep(SHORT * 2);
        assert_took_at_least(start, SHORT * 2);
    });
}

// mirrors gevent tests/test__timeout.py: Test.test_with_timeout
#[test]
fn with_timeout_short_deadline_long_sleep_and_the_reverse() {
    conform(|| {
        assert!(grove::timeout(SHORT, || grove::sleep(FOREVER)).is_err());
        assert_eq!(grove::timeout(LONG, || grove::sleep(ms(1))), Ok(()));
    });
}

// mirrors gevent tests/test__api_timeout.py: Test.test_api (nothing happens if the block finishes first)
#[test]
fn scope_deadline_is_visible_inside_and_gone_after() {
    conform(|| {
        let before = Instant::now();
        let r = grove::timeout(LONG, || {
            let d = grove::current_deadline().expect("a deadline inside the scope");
            assert!(d >= before + LONG);
            grove::sleep(ms(1));
            "done"
        });
        assert_eq!(r, Ok("done"));
        assert_eq!(grove::current_deadline(), None);
    });
}

// mirrors gevent tests/test__api_timeout.py: Test.test_api (the block runs past the deadline)
#[test]
fn scope_unwind_runs_destructors_of_the_block() {
    conform(|| {
        let dropped = Flag::new();
        let d = dropped.clone();
        let r = grove::timeout(SHORT, move || {
            let _guard = SetOnDrop(d);
            grove::sleep(FOREVER);
            unreachable_after_block();
        });
        assert!(r.is_err());
        assert!(dropped.get(), "destructors inside the expired scope did not run");
    });
}

fn unreachable_after_block() {
    panic!("code after a blocking call in an expired scope ran");
}

// mirrors gevent tests/test__api_timeout.py: Test.test_api (Timeout(None) disables the timer)
#[test]
fn scope_with_duration_max_has_no_deadline() {
    conform(|| {
        let r = grove::timeout(Duration::MAX, || {
            assert_eq!(grove::current_deadline(), None);
            grove::sleep(ms(1));
            7
        });
        assert_eq!(r, Ok(7));
    });
}

// mirrors gevent tests/test__api_timeout.py: Test.test_nested_timeout (outer shorter: outer fires)
#[test]
fn nested_outer_shorter_passes_through_inner_and_outer_catches() {
    conform(|| {
        let inner_returned = Flag::new();
        let ir = inner_returned.clone();
        let outer = grove::timeout(SHORT, move || {
            let inner = grove::timeout(LONG, || grove::sleep(FOREVER));
            // The inner scope's deadline was not the one that passed: it must not catch.
            ir.set();
            inner
        });
        assert!(outer.is_err());
        assert!(!inner_returned.get(), "the inner scope caught the outer scope's deadline");
    });
}

// mirrors gevent tests/test__api_timeout.py: Test.test_nested_timeout (inner shorter: inner fires)
#[test]
fn nested_inner_shorter_inner_catches_outer_goes_on() {
    conform(|| {
        let outer = grove::timeout(LONG, || {
            let inner = grove::timeout(SHORT, || grove::sleep(FOREVER));
            assert!(inner.is_err());
            assert!(grove::current_deadline().is_some());
            grove::sleep(ms(1)); // the outer scope is still pending and does not fire
            "outer finished"
        });
        assert_eq!(outer, Ok("outer finished"));
    });
}

// mirrors gevent tests/test__api_timeout.py: Test.test_nested_timeout (equal deadlines)
#[test]
fn nested_equal_deadlines_the_outer_scope_catches() {
    conform(|| {
        let deadline = Instant::now() + SHORT;
        let inner_returned = Flag::new();
        let ir = inner_returned.clone();
        let outer = grove::timeout_at(deadline, move || {
            let inner = grove::timeout_at(deadline, || grove::sleep(FOREVER));
            ir.set();
            inner
        });
        assert!(outer.is_err());
        assert!(!inner_returned.get(), "with equal deadlines the outer scope must catch");
    });
}

// mirrors gevent testing/timing.py: AbstractGenericGetTestCase.test_outer_timeout_is_not_lost (queue get)
#[test]
fn per_call_timeout_later_than_scope_unwinds_to_the_scope() {
    conform(|| {
        let q: Queue<u32> = Queue::unbounded();
        let _producer_side = q.clone();
        assert_scope_unwinds(SHORT, |after| {
            let _ = q.get_timeout(LONG);
            after();
        });
    });
}

// mirrors gevent testing/timing.py: AbstractGenericGetTestCase.test_raises_timeout_number
#[test]
fn per_call_timeout_earlier_than_scope_returns_its_own_error() {
    conform(|| {
        let q: Queue<u32> = Queue::unbounded();
        let r = grove::timeout(LONG, || q.get_timeout(ms(5)));
        assert_eq!(r, Ok(Err(RecvError::Wait(WaitError::TimedOut))));
    });
}

// mirrors gevent testing/timing.py: AbstractGenericGetTestCase (per-call deadline equal to the scope's)
#[test]
fn per_call_deadline_equal_to_scope_returns_its_own_error() {
    conform(|| {
        let q: Queue<u32> = Queue::unbounded();
        let _keep = q.clone();
        let deadline = Instant::now() + SHORT;
        let r = grove::timeout_at(deadline, || q.get_deadline(deadline));
        assert_eq!(r, Ok(Err(RecvError::Wait(WaitError::TimedOut))));
    });
}

// mirrors gevent tests/test__sleep0.py (a sleep(0) loop inside a Timeout ends)
#[test]
fn sleep_zero_loop_inside_scope_terminates() {
    conform(|| {
        let r = grove::timeout(ms(10), || loop {
            grove::sleep(Duration::ZERO);
        });
        assert!(r.is_err());
    });
}

// mirrors gevent tests/test__sleep0.py (the same with yield_now)
#[test]
fn yield_now_loop_inside_scope_terminates() {
    conform(|| {
        let r = grove::timeout(ms(10), || loop {
            grove::yield_now();
        });
        assert!(r.is_err());
    });
}

// mirrors gevent tests/test__sleep0.py (a retry loop of short timed waits cannot spin past the scope)
#[test]
fn retry_loop_of_timed_waits_inside_scope_terminates() {
    conform(|| {
        let q: Queue<u32> = Queue::unbounded();
        let _keep = q.clone();
        let tries = Counter::new();
        let t = tries.clone();
        let r = grove::timeout(SHORT, move || loop {
            t.incr();
            if let Ok(v) = q.get_timeout(ms(1)) {
                return v;
            }
        });
        assert!(r.is_err());
        assert!(tries.get() >= 1);
    });
}

// mirrors gevent tests/test__timeout.py: Test._test (a blocking call made after the deadline passed)
#[test]
fn blocking_after_the_deadline_already_passed_unwinds() {
    conform(|| {
        assert_scope_unwinds(ms(5), |after| {
            let until = Instant::now() + ms(10);
            while Instant::now() < until {
                std::hint::spin_loop(); // computes past the deadline without blocking
            }
            grove::yield_now();
            after();
        });
    });
}

// mirrors gevent tests/test__api_timeout.py: Test.test_api (a block that never blocks is never interrupted)
#[test]
fn scope_returns_ok_when_the_block_never_blocks_after_the_deadline() {
    conform(|| {
        let r = grove::timeout(ms(5), || {
            let until = Instant::now() + ms(10);
            while Instant::now() < until {
                std::hint::spin_loop();
            }
            42
        });
        assert_eq!(r, Ok(42));
    });
}

// mirrors gevent tests/test__api_timeout.py: Test.test_api (Timeout(None) with a forever sleep is killable)
#[test]
fn sleep_duration_max_sleeps_until_killed() {
    conform(|| {
        let dropped = Flag::new();
        let d = dropped.clone();
        let g = grove::spawn(move || {
            let _guard = SetOnDrop(d);
            grove::sleep(Duration::MAX);
        });
        grove::sleep(ms(5));
        assert!(!g.is_finished());
        g.kill().unwrap();
        assert!(g.join().unwrap_err().is_killed());
        assert!(dropped.get());
    });
}

// mirrors gevent tests/test__timeout.py: Test (a scope belongs to one greenlet only)
#[test]
fn scope_in_one_greenlet_does_not_affect_another() {
    conform(|| {
        let ev = Event::new();
        let e = ev.clone();
        let other = grove::spawn(move || e.wait());
        assert!(grove::timeout(SHORT, || grove::sleep(FOREVER)).is_err());
        assert!(!other.is_finished(), "another greenlet's wait ended with this scope");
        ev.set();
        assert_eq!(other.join().unwrap(), Ok(()));
    });
}

// mirrors gevent tests/test__timeout.py: Test (kill while inside a scope is a kill, not a timeout)
#[test]
fn kill_inside_a_scope_is_reported_as_killed() {
    conform(|| {
        let g = grove::spawn(|| grove::timeout(LONG, || grove::sleep(FOREVER)));
        grove::yield_now();
        g.kill().unwrap();
        assert!(g.join().unwrap_err().is_killed());
    });
}

// mirrors gevent tests/test__api_timeout.py: Test.test_api (blocking in a destructor during the unwind)
#[test]
fn destructor_blocking_during_scope_unwind_returns_at_once() {
    conform(|| {
        struct SleepsInDrop;
        impl Drop for SleepsInDrop {
            fn drop(&mut self) {
                grove::sleep(FOREVER); // must return at once: the greenlet is unwinding
            }
        }
        let r = grove::timeout(SHORT, || {
            let _g = SleepsInDrop;
            grove::sleep(FOREVER);
        });
        assert!(r.is_err());
    });
}

// mirrors gevent tests/test__timeout.py: Test.test_expires (in a spawned greenlet)
#[test]
fn scope_expiring_in_a_spawned_greenlet() {
    conform(|| {
        let g = grove::spawn(|| {
            let ev = Event::new();
            let r = grove::timeout(SHORT, || ev.wait());
            r.is_err()
        });
        assert!(g.join().unwrap());
    });
}
