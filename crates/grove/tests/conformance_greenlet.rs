//! Conformance: gevent's spawned greenlets — spawn, join, kill, joinall, the hub loop
//! (gevent `tests/test__greenlet.py`, `test__joinall.py`, `test__sleep0.py`,
//! `test__loop_callback.py`, `test__hub_join.py`, `test__hub_join_timeout.py`).

#[path = "util/conform.rs"]
mod conform;

use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;
use std::time::{Duration, Instant};

use conform::*;
use grove::sync::{AsyncError, AsyncResult, Channel, Event, Queue, WaitError};

// mirrors gevent tests/test__greenlet.py: TestLink.test_link_to_asyncresult
#[test]
fn link_to_async_result_through_a_watcher() {
    conform(|| {
        let p = grove::spawn(|| 100);
        let event = AsyncResult::new();
        let e = event.clone();
        let _w = grove::spawn(move || e.set(p.join().unwrap()));
        assert_eq!(event.get().unwrap(), 100);
        for _ in 0..3 {
            assert_eq!(event.get().unwrap(), 100);
        }
    });
}

// mirrors gevent tests/test__greenlet.py: TestLink.test_link_to_asyncresult_exception
#[test]
fn link_to_async_result_of_a_panic() {
    conform(|| {
        let p = grove::spawn(|| -> u32 { panic!("test_link_to_asyncresult_exception") });
        let event: AsyncResult<u32> = AsyncResult::new();
        let e = event.clone();
        let _w = grove::spawn(move || e.set_error(p.join().unwrap_err().to_string()));
        for _ in 0..3 {
            match event.get() {
                Err(AsyncError::Failed(err)) => {
                    assert!(err.to_string().contains("test_link_to_asyncresult_exception"));
                }
                other => panic!("expected the panic, got {other:?}"),
            }
        }
    });
}

// mirrors gevent tests/test__greenlet.py: TestLink.test_link_to_queue
#[test]
fn link_to_queue_through_a_watcher() {
    conform(|| {
        let p = grove::spawn(|| 100);
        let q = Queue::unbounded();
        let q2 = q.clone();
        let _w = grove::spawn(move || q2.put(p.join().unwrap()).unwrap());
        assert_eq!(q.get(), Ok(100));
    });
}

// mirrors gevent tests/test__greenlet.py: TestLink.test_link_to_channel
#[test]
fn link_to_channel_from_three_greenlets() {
    conform(|| {
        let ch = Channel::new();
        for v in [101, 102, 103] {
            let c = ch.clone();
            let p = grove::spawn(move || v);
            grove::spawn(move || c.put(p.join().unwrap()).unwrap());
        }
        let mut results: Vec<i32> = (0..3).map(|_| ch.get().unwrap()).collect();
        results.sort_unstable();
        assert_eq!(results, [101, 102, 103]);
    });
}

// mirrors gevent tests/test__greenlet.py: TestReturn_link.test_return
#[test]
fn return_value_reaches_join() {
    conform(|| {
        let p = grove::spawn(|| 25);
        grove::sleep(ms(1));
        assert!(p.is_finished());
        assert_eq!(p.join().unwrap(), 25);
    });
}

// mirrors gevent tests/test__greenlet.py: TestReturn_link.test_kill
#[test]
fn killed_greenlet_join_reports_killed_and_kill_again_is_harmless() {
    conform(|| {
        let p = grove::spawn(|| grove::sleep(FOREVER));
        grove::yield_now();
        for _ in 0..3 {
            p.kill().unwrap();
            assert!(p.is_finished());
        }
        assert!(p.join().unwrap_err().is_killed());
    });
}

// mirrors gevent tests/test__greenlet.py: TestRaise_link.test_raise
#[test]
fn panic_reaches_join_as_panicked() {
    conform(|| {
        let p = grove::spawn(|| -> u8 { panic!("test_raise") });
        grove::yield_now();
        assert!(p.is_finished());
        let e = p.join().unwrap_err();
        assert!(e.is_panic());
        assert_eq!(panic_text(&*e.into_panic().unwrap()), "test_raise");
    });
}

// mirrors gevent tests/test__greenlet.py: TestStuff.test_wait_noerrors
#[test]
fn joinall_collects_values_in_order() {
    conform(|| {
        let hs = vec![grove::spawn(|| 1), grove::spawn(|| 2), grove::spawn(|| 3)];
        let out: Vec<i32> = grove::joinall(hs).into_iter().map(Result::unwrap).collect();
        assert_eq!(out, [1, 2, 3]);
    });
}

// mirrors gevent tests/test__greenlet.py: TestStuff.test_wait_error
#[test]
fn joinall_reports_each_error_in_place() {
    conform(|| {
        let x = grove::spawn(|| {
            grove::sleep(ms(1));
            1
        });
        let y = grove::spawn(|| -> i32 { panic!("test_wait_error") });
        let out = grove::joinall([x, y]);
        assert_eq!(*out[0].as_ref().unwrap(), 1);
        assert!(out[1].as_ref().unwrap_err().is_panic());
    });
}

// mirrors gevent tests/test__greenlet.py: TestStuff.test_joinall_exception_order
#[test]
fn joinall_keeps_input_order_not_failure_order() {
    conform(|| {
        let a = grove::spawn(|| -> u8 {
            grove::sleep(ms(5));
            panic!("first")
        });
        let b = grove::spawn(|| -> u8 { panic!("second") });
        let texts: Vec<String> = grove::joinall([a, b])
            .into_iter()
            .map(|r| panic_text(&*r.unwrap_err().into_panic().unwrap()))
            .collect();
        assert_eq!(texts, ["first", "second"]);
    });
}

// mirrors gevent tests/test__greenlet.py: TestStuff.test_joinall_count_raise_error
#[test]
fn waiting_for_one_leaves_the_other_running() {
    conform(|| {
        let sleeper = grove::spawn(|| loop {
            grove::sleep(ms(1));
        });
        let raiser = grove::spawn(|| -> u8 { panic!("count") });
        raiser.wait().unwrap();
        assert!(raiser.is_finished());
        assert!(!sleeper.is_finished());
        sleeper.kill().unwrap();
        assert!(sleeper.is_finished());
        assert!(raiser.join().unwrap_err().is_panic());
    });
}

// mirrors gevent tests/test__greenlet.py: TestStr.test_method (names)
#[test]
fn greenlet_names_can_be_given() {
    conform(|| {
        let g = grove::Builder::new().name("Foo").spawn(|| ());
        assert_eq!(g.name().as_deref(), Some("Foo"));
        assert_eq!(g.greenlet().name().as_deref(), Some("Foo"));
        let unnamed = grove::spawn(|| ());
        assert_eq!(unnamed.name(), None);
        unnamed.greenlet().set_name("Bar");
        assert_eq!(unnamed.name().as_deref(), Some("Bar"));
        assert_ne!(g.id(), unnamed.id());
        g.join().unwrap();
        unnamed.join().unwrap();
    });
}

// mirrors gevent tests/test__greenlet.py: TestJoin.test_returns_none_after_timeout
#[test]
fn wait_timeout_on_a_sleeper_is_false_after_the_timeout() {
    conform(|| {
        let g = grove::spawn(|| grove::sleep(FOREVER));
        let start = Instant::now();
        assert_eq!(g.wait_timeout(SHORT), Err(WaitError::TimedOut));
        assert_took_at_least(start, SHORT);
        assert!(!g.is_finished());
        g.kill().unwrap();
    });
}

// mirrors gevent tests/test__greenlet.py: TestJoin.test_outer_timeout_is_not_lost
#[test]
fn wait_timeout_longer_than_scope_unwinds() {
    conform(|| {
        let g = grove::spawn(|| grove::sleep(FOREVER));
        assert_scope_unwinds(SHORT, |after| {
            let _ = g.wait_timeout(LONG);
            after();
        });
        assert!(!g.is_finished());
    });
}

// mirrors gevent tests/test__greenlet.py: TestGet.test_raises_timeout_Timeout
#[test]
fn join_inside_expiring_scope_unwinds_and_never_reports_killed() {
    conform(|| {
        let g = grove::spawn(|| grove::sleep(FOREVER));
        let seen: Log<String> = Log::new();
        let s = seen.clone();
        let r = grove::timeout(SHORT, move || {
            let w = g.wait();
            s.push(format!("wait returned {w:?}"));
            let j = g.join();
            s.push(format!("join returned {j:?}"));
        });
        assert!(r.is_err());
        assert!(seen.is_empty(), "inside an expired scope: {:?}", seen.get());
    });
}

// mirrors gevent tests/test__greenlet.py: TestJoinAll0.test_returns_none_after_timeout (never started)
#[test]
fn joinall_of_a_not_yet_started_greenlet_in_a_scope_elapses() {
    conform(|| {
        let g = grove::spawn_later(FOREVER, || 1);
        let r = grove::timeout(SHORT, move || grove::joinall([g]));
        assert!(r.is_err());
    });
}

// mirrors gevent tests/test__greenlet.py: TestBasic.test_spawn_raw_kwargs (arguments by capture)
#[test]
fn spawn_passes_captured_arguments() {
    conform(|| {
        let (a, name) = (1, "value");
        let g = grove::spawn(move || format!("{a} {name}"));
        assert_eq!(g.join().unwrap(), "1 value");
    });
}

// mirrors gevent tests/test__greenlet.py: TestBasic.test_simple_exit
#[test]
fn state_progresses_from_spawned_to_running_to_finished() {
    conform(|| {
        let ev = Event::new();
        let e = ev.clone();
        let g = grove::spawn(move || {
            e.wait().unwrap();
            5
        });
        assert!(!g.is_finished());
        assert!(!g.greenlet().is_active(), "runs only once the spawner yields");
        grove::yield_now();
        assert!(g.greenlet().is_active());
        assert!(!g.is_finished());
        ev.set();
        grove::yield_now();
        assert!(g.is_finished());
        assert!(!g.greenlet().is_active());
        assert_eq!(g.join().unwrap(), 5);
    });
}

#[derive(Debug)]
struct ExpectedError {
    myattr: u32,
}

// mirrors gevent tests/test__greenlet.py: TestBasic.test_error_exit
#[test]
fn panic_payload_keeps_its_type() {
    conform(|| {
        let g = grove::spawn(|| -> u8 {
            grove::sleep(ms(1));
            panic::panic_any(ExpectedError { myattr: 5 })
        });
        let payload = g.join().unwrap_err().into_panic().unwrap();
        assert_eq!(payload.downcast_ref::<ExpectedError>().unwrap().myattr, 5);
    });
}

// mirrors gevent tests/test__greenlet.py: TestKill.test_block
#[test]
fn kill_before_start_means_it_never_runs() {
    conform(|| {
        let result = Flag::new();
        let r = result.clone();
        let g = grove::spawn(move || r.set());
        g.kill().unwrap();
        assert!(g.is_finished());
        grove::sleep(ms(1));
        g.kill().unwrap(); // a second kill must not hurt
        assert!(!result.get());
        assert!(g.join().unwrap_err().is_killed());
    });
}

// mirrors gevent tests/test__greenlet.py: TestKill.test_non_block
#[test]
fn kill_nowait_before_start_means_it_never_runs() {
    conform(|| {
        let result = Flag::new();
        let r = result.clone();
        let g = grove::spawn(move || r.set());
        g.kill_nowait();
        grove::sleep(ms(1));
        assert!(g.is_finished());
        g.kill_nowait();
        assert!(!result.get());
        assert!(g.join().unwrap_err().is_killed());
    });
}

// mirrors gevent tests/test__greenlet.py: TestKillAfterStartLater.test_block
#[test]
fn kill_of_a_spawn_later_greenlet_before_its_start() {
    conform(|| {
        let result = Flag::new();
        let r = result.clone();
        let g = grove::spawn_later(ms(5), move || r.set());
        g.kill().unwrap();
        grove::sleep(ms(10));
        assert!(!result.get());
        assert!(g.join().unwrap_err().is_killed());
    });
}

// mirrors gevent tests/test__greenlet.py: TestKillWhileRunning.test_block
#[test]
fn kill_while_blocked_unwinds_with_destructors() {
    conform(|| {
        let (result, dropped) = (Flag::new(), Flag::new());
        let (r, d) = (result.clone(), dropped.clone());
        let g = grove::spawn(move || {
            let _guard = SetOnDrop(d);
            grove::sleep(FOREVER);
            r.set();
        });
        grove::yield_now();
        g.kill().unwrap();
        assert!(g.is_finished());
        assert!(dropped.get());
        assert!(!result.get());
        assert!(g.join().unwrap_err().is_killed());
    });
}

// mirrors gevent tests/test__greenlet.py: TestKillWhileRunning.test_non_block
#[test]
fn kill_nowait_while_blocked_takes_effect_when_the_hub_runs() {
    conform(|| {
        let g = grove::spawn(|| grove::sleep(FOREVER));
        grove::yield_now();
        g.kill_nowait();
        assert!(!g.is_finished());
        assert!(g.join().unwrap_err().is_killed());
    });
}

// mirrors gevent tests/test__greenlet.py: TestKill (a greenlet killing itself)
#[test]
fn greenlet_killing_itself_unwinds_at_once() {
    conform(|| {
        let (after, dropped) = (Flag::new(), Flag::new());
        let (a, d) = (after.clone(), dropped.clone());
        let g = grove::spawn(move || {
            let _guard = SetOnDrop(d);
            grove::getcurrent().kill_nowait();
            a.set();
        });
        assert!(g.join().unwrap_err().is_killed());
        assert!(!after.get());
        assert!(dropped.get());
    });
}

// mirrors gevent tests/test__greenlet.py: TestKill (the killed greenlet caught GreenletExit and went on)
#[test]
fn greenlet_that_survived_a_kill_can_be_killed_again() {
    conform(|| {
        let survived = Counter::new();
        let s = survived.clone();
        let g = grove::spawn(move || {
            let r = panic::catch_unwind(AssertUnwindSafe(|| grove::sleep(FOREVER)));
            assert!(r.is_err());
            s.incr();
            grove::sleep(FOREVER);
        });
        grove::yield_now();
        g.kill_nowait();
        grove::yield_now();
        grove::yield_now();
        assert_eq!(survived.get(), 1);
        let r = grove::timeout(LONG, || g.kill());
        assert_eq!(r, Ok(Ok(())), "the second kill did not end the survivor");
        assert!(g.join().unwrap_err().is_killed());
    });
}

// mirrors gevent tests/test__greenlet.py: TestKill (the killer is killed while waiting for death)
#[test]
fn joiner_killed_while_waiting_leaves_the_target_alone() {
    conform(|| {
        let ev = Event::new();
        let e = ev.clone();
        let target = Rc::new(grove::spawn(move || {
            e.wait().unwrap();
            7
        }));
        let t = target.clone();
        let joiner = grove::spawn(move || t.wait().is_ok());
        grove::yield_now();
        joiner.kill().unwrap();
        assert!(joiner.join().unwrap_err().is_killed());
        assert!(!target.is_finished());
        ev.set();
        let target = Rc::try_unwrap(target).unwrap();
        assert_eq!(target.join().unwrap(), 7);
    });
}

// mirrors gevent tests/test__greenlet.py: TestKillallRawGreenlet.test_killall_raw
#[test]
fn kill_of_a_raw_greenlet_never_switched_to() {
    conform(|| {
        let ran = Flag::new();
        let r = ran.clone();
        let g = grove::greenlet::Greenlet::new(move |v| {
            r.set();
            v
        });
        g.kill_nowait();
        assert!(g.is_finished());
        assert!(!ran.get());
    });
}

// mirrors gevent tests/test__greenlet.py: TestRef.test_kill_scheduled
#[test]
fn kill_scheduled_sleeper() {
    conform(|| {
        let g = grove::spawn(|| grove::sleep(FOREVER));
        g.kill().unwrap();
        assert!(g.join().unwrap_err().is_killed());
    });
}

// mirrors gevent tests/test__greenlet.py: TestRef.test_kill_started
#[test]
fn kill_started_sleeper() {
    conform(|| {
        let g = grove::spawn(|| grove::sleep(FOREVER));
        grove::sleep(ms(1));
        g.kill().unwrap();
        assert!(g.join().unwrap_err().is_killed());
    });
}

// mirrors gevent tests/test__greenlet.py: TestBasic (LoopExit: main joins what can never finish)
#[test]
fn join_on_main_of_a_greenlet_that_can_never_finish_is_a_deadlock() {
    conform(|| {
        let ev = Event::new();
        let e = ev.clone();
        let g = grove::spawn(move || e.wait());
        assert_eq!(g.wait(), Err(WaitError::Deadlock));
        drop(ev);
    });
}

// mirrors gevent tests/test__joinall.py: Test.test (the same greenlet joined twice)
#[test]
fn waiting_twice_for_the_same_greenlet() {
    conform(|| {
        let a = grove::spawn(|| ());
        let b = grove::spawn(|| ());
        a.wait().unwrap();
        b.wait().unwrap();
        a.wait().unwrap();
        assert!(a.join().is_ok());
        assert!(b.join().is_ok());
    });
}

// mirrors gevent tests/test__loop_callback.py: Test.test
#[test]
fn callback_runs_on_the_next_loop_turn() {
    conform(|| {
        let count = Counter::new();
        let c = count.clone();
        grove::add_callback(move || c.incr());
        assert_eq!(count.get(), 0);
        grove::yield_now();
        assert_eq!(count.get(), 1);
    });
}

// mirrors gevent tests/test__loop_callback.py: Test.test (callbacks in order)
#[test]
fn callbacks_run_in_the_order_added() {
    conform(|| {
        let log = Log::new();
        for i in 0..5 {
            let l = log.clone();
            grove::add_callback(move || l.push(i));
        }
        grove::sleep(ms(1));
        assert_eq!(log.get(), [0, 1, 2, 3, 4]);
    });
}

// mirrors gevent tests/test__sleep0.py (a main loop of sleep(0) lets timers fire)
#[test]
fn main_looping_on_yield_now_lets_timers_fire() {
    conform(|| {
        let fired = Flag::new();
        let f = fired.clone();
        let _t = grove::call_later(ms(1), move || f.set());
        let start = Instant::now();
        while !fired.get() && start.elapsed() < LONG {
            grove::yield_now();
        }
        assert!(fired.get(), "a timer never fired while main looped on yield_now");
    });
}

// mirrors gevent tests/test__loop_callback.py: Test.test (a failing callback does not stop the loop)
#[test]
fn panicking_callback_is_contained() {
    isolated(|| {
        let after = Flag::new();
        let a = after.clone();
        grove::add_callback(|| panic!("callback failure"));
        grove::add_callback(move || a.set());
        grove::sleep(ms(1));
        assert!(after.get());
        assert_eq!(grove::spawn(|| 3).join().unwrap(), 3);
    });
}

// mirrors gevent tests/test__loop_callback.py: Test.test (a cancelled timer never runs)
#[test]
fn cancelled_call_later_never_runs() {
    conform(|| {
        let fired = Flag::new();
        let f = fired.clone();
        let t = grove::call_later(ms(1), move || f.set());
        assert!(t.cancel());
        grove::sleep(ms(5));
        assert!(!fired.get());
    });
}

// mirrors gevent tests/test__hub_join.py: TestJoin.test_join_many_times
#[test]
fn hub_can_be_used_again_after_run_ends() {
    conform(|| {
        grove::sleep(ms(1));
    });
    // A second and third `run` on one thread work as the first did.
    conform(|| {
        for _ in 0..3 {
            grove::run(|| {
                assert_eq!(grove::spawn(|| 1).join().unwrap(), 1);
                grove::sleep(ms(1));
            });
        }
    });
}

// mirrors gevent tests/test__hub_join.py: TestJoin.test_join_in_new_thread_doesnt_leak_hub_or_greenlet
#[test]
fn hub_in_a_new_thread_runs_and_ends_cleanly() {
    for _ in 0..10 {
        std::thread::spawn(|| {
            grove::run(|| {
                let g = grove::spawn(|| 0);
                assert_eq!(g.join().unwrap(), 0);
                let _left = grove::spawn(|| grove::sleep(FOREVER));
                grove::yield_now();
            });
        })
        .join()
        .unwrap();
    }
}

// mirrors gevent tests/test__hub_join_timeout.py: Test.test_callback
#[test]
fn waiting_for_a_spawned_greenlet_returns_its_value() {
    conform(|| {
        let x = grove::spawn(|| 5);
        x.wait().unwrap();
        assert!(x.is_finished());
        assert_eq!(x.join().unwrap(), 5);
    });
}

// mirrors gevent tests/test__hub_join_timeout.py: Test.test_later
#[test]
fn spawn_later_starts_after_its_delay() {
    conform(|| {
        let start = Instant::now();
        let x = grove::spawn_later(ms(10), move || start.elapsed());
        let started_after = x.join().unwrap();
        assert!(started_after >= ms(10), "started after {started_after:?}");
    });
}

// mirrors gevent tests/test__hub_join_timeout.py: Test.test_timeout
#[test]
fn wait_timeout_on_a_later_greenlet_then_kill() {
    conform(|| {
        let x = grove::spawn_later(FOREVER, || 5);
        assert_eq!(x.wait_timeout(SHORT), Err(WaitError::TimedOut));
        assert!(!x.is_finished());
        x.kill().unwrap();
        assert!(x.is_finished());
        assert!(x.join().unwrap_err().is_killed());
    });
}

// mirrors gevent tests/test__hub_join_timeout.py: Test.test_event
#[test]
fn event_set_by_a_later_greenlet_ends_the_wait() {
    conform(|| {
        let x = grove::spawn_later(FOREVER, || 5);
        let event = Event::new();
        let e = event.clone();
        let setter = grove::spawn_later(ms(5), move || e.set());
        assert_eq!(event.wait(), Ok(()));
        assert!(!x.is_finished());
        assert!(setter.join().is_ok());
        x.kill().unwrap();
        assert!(x.is_finished());
    });
}

// mirrors gevent tests/test__greenlet.py: TestBasic (a panic in a destructor during a kill)
#[test]
fn panic_in_a_destructor_during_kill_leaves_the_hub_usable() {
    isolated(|| {
        struct PanicsInDrop;
        impl Drop for PanicsInDrop {
            fn drop(&mut self) {
                if !std::thread::panicking() {
                    panic!("drop failure");
                }
            }
        }
        struct PanicsWhileUnwinding;
        impl Drop for PanicsWhileUnwinding {
            fn drop(&mut self) {
                let _ = panic::catch_unwind(|| panic!("nested drop failure"));
            }
        }
        let g = grove::spawn(|| {
            let _a = PanicsInDrop;
            let _b = PanicsWhileUnwinding;
            grove::sleep(FOREVER);
        });
        grove::yield_now();
        g.kill().unwrap();
        assert!(g.is_finished());
        assert_eq!(grove::spawn(|| 2).join().unwrap(), 2);
        grove::sleep(Duration::from_millis(1));
    });
}

// mirrors gevent tests/test__greenlet.py: TestKill.test_non_block (kill requested from a hub callback)
#[test]
fn kill_nowait_from_a_callback_kills_a_blocked_greenlet() {
    conform(|| {
        let g = std::rc::Rc::new(grove::spawn(|| grove::sleep(FOREVER)));
        grove::yield_now();
        let g2 = g.clone();
        grove::add_callback(move || g2.kill_nowait());
        let r = grove::timeout(LONG, || g.wait());
        assert!(matches!(r, Ok(Ok(()))));
        assert!(g.is_finished());
    });
}

// mirrors gevent tests/test__loop_callback.py: Test.test (a callback may spawn)
#[test]
fn spawn_from_a_callback_runs_the_greenlet() {
    conform(|| {
        let ran = AsyncResult::new();
        let r = ran.clone();
        grove::add_callback(move || {
            grove::spawn(move || r.set(1));
        });
        assert_eq!(ran.get_timeout(LONG).unwrap(), 1);
    });
}

// mirrors gevent tests/test__greenlet.py: TestLink (a waiter sees a greenlet another one killed)
#[test]
fn waiter_sees_the_kill_done_by_a_third_greenlet() {
    conform(|| {
        let target = std::rc::Rc::new(grove::spawn(|| grove::sleep(FOREVER)));
        let t = target.clone();
        let waiter = grove::spawn(move || t.wait().is_ok());
        let t = target.clone();
        let killer = grove::spawn(move || t.kill());
        assert!(waiter.join().unwrap());
        assert_eq!(killer.join().unwrap(), Ok(()));
        let target = std::rc::Rc::try_unwrap(target).unwrap();
        assert!(target.join().unwrap_err().is_killed());
    });
}

// mirrors gevent tests/test__greenlet.py: TestLink.test_link_to_asyncresult (on_ready callback)
#[test]
fn async_result_on_ready_runs_after_set() {
    conform(|| {
        let ar: AsyncResult<u32> = AsyncResult::new();
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let s = seen.clone();
        ar.on_ready(move |r| s.lock().unwrap().push(*r.as_ref().unwrap()));
        let a = ar.clone();
        grove::spawn(move || a.set(4));
        grove::sleep(ms(1));
        assert_eq!(*seen.lock().unwrap(), [4]);
    });
}

// mirrors gevent tests/test__event.py: TestAsyncResult.test_set (a waiter killed before the set)
#[test]
fn async_result_killed_waiter_does_not_stop_the_others() {
    conform(|| {
        let ar: AsyncResult<u32> = AsyncResult::new();
        let (a1, a2) = (ar.clone(), ar.clone());
        let victim = grove::spawn(move || a1.get().ok());
        let other = grove::spawn(move || a2.get().ok());
        grove::yield_now();
        victim.kill().unwrap();
        ar.set(8);
        assert_eq!(grove::timeout(LONG, || other.join().unwrap()), Ok(Some(8)));
    });
}
