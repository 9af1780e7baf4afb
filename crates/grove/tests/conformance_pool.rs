//! Conformance: gevent's `Pool` and `Group` (gevent `tests/test__pool.py`,
//! `tests/test__greenletset.py`) against grove's `pool::{Pool, Group}`.

#[path = "util/conform.rs"]
mod conform;

use std::panic::{self, AssertUnwindSafe};
use std::time::Instant;

use conform::*;
use grove::pool::{Group, Pool};
use grove::sync::{Event, Queue, WaitError};

fn sqr(x: u64) -> u64 {
    grove::yield_now();
    x * x
}

// mirrors gevent tests/test__pool.py: TestCoroutinePool.test_apply_async
#[test]
fn pool_spawn_runs_the_job() {
    conform(|| {
        let done = Event::new();
        let pool = Pool::new(2);
        let d = done.clone();
        let _h = pool.spawn(move || d.set()).unwrap();
        assert_eq!(done.wait(), Ok(()));
    });
}

// mirrors gevent tests/test__pool.py: TestCoroutinePool.test_apply
#[test]
fn pool_spawn_join_gives_the_value() {
    conform(|| {
        let pool = Pool::new(2);
        assert_eq!(pool.spawn(|| "return value").unwrap().join().unwrap(), "return value");
    });
}

// mirrors gevent tests/test__pool.py: TestCoroutinePool.test_apply_raises
#[test]
fn pool_job_panic_reaches_join_and_frees_the_slot() {
    conform(|| {
        let pool = Pool::new(1);
        let err = pool.spawn(|| -> u32 { panic!("expected") }).unwrap().join().unwrap_err();
        assert_eq!(panic_text(&*err.into_panic().unwrap()), "expected");
        assert_eq!(pool.available(), 1);
    });
}

// mirrors gevent tests/test__pool.py: TestCoroutinePool.test_multiple_coros
#[test]
fn pool_consumer_and_producer_interleave() {
    conform(|| {
        let evt = Event::new();
        let results = Log::new();
        let pool = Pool::new(2);
        let (e, r) = (evt.clone(), results.clone());
        let done = pool
            .spawn(move || {
                r.push("cons1");
                e.wait().unwrap();
                r.push("cons2");
            })
            .unwrap();
        let (e, r) = (evt.clone(), results.clone());
        let _p = pool
            .spawn(move || {
                grove::sleep(ms(1));
                r.push("prod");
                e.set();
            })
            .unwrap();
        done.join().unwrap();
        assert_eq!(results.get(), ["cons1", "prod", "cons2"]);
    });
}

// mirrors gevent tests/test__pool.py: TestCoroutinePool.test_reentrant (grove: a member cannot wait for its own slot)
#[test]
fn pool_spawn_from_a_member_of_a_full_pool_unwinds_in_a_scope() {
    conform(|| {
        let pool = Pool::new(1);
        let p = pool.clone();
        let outer = pool
            .spawn(move || grove::timeout(SHORT, || p.spawn(|| 6).map(|h| h.join().ok())).is_err())
            .unwrap();
        assert!(outer.join().unwrap(), "the nested spawn waited for a slot only it held");
        let evt = Event::new();
        let e = evt.clone();
        let _h = pool.spawn(move || e.set()).unwrap();
        assert_eq!(evt.wait(), Ok(()));
    });
}

// mirrors gevent tests/test__pool.py: PoolBasicTests.test_execute_async
#[test]
fn pool_free_count_follows_spawns_and_exits() {
    conform(|| {
        let p = Pool::new(2);
        assert_eq!(p.available(), 2);
        let r = Log::new();
        let r1 = r.clone();
        let first = p.spawn(move || r1.push(1)).unwrap();
        assert_eq!(p.available(), 1);
        first.join().unwrap();
        assert_eq!(r.get(), [1]);
        grove::yield_now();
        assert_eq!(p.available(), 2);
        let r2 = r.clone();
        let _a = p.spawn(move || r2.push(2)).unwrap();
        assert_eq!(p.available(), 1);
        let r3 = r.clone();
        let _b = p.spawn(move || r3.push(3)).unwrap();
        assert_eq!(p.available(), 0);
        assert_eq!(r.get(), [1]);
        let r4 = r.clone();
        let _c = p.spawn(move || r4.push(4)).unwrap(); // waits for a slot: the others run meanwhile
        assert_eq!(p.join(), Ok(()));
        let mut all = r.get();
        all.sort_unstable();
        assert_eq!(all, [1, 2, 3, 4]);
    });
}

// mirrors gevent tests/test__pool.py: PoolBasicTests.test_init_error (grove refuses size 0)
#[test]
fn pool_of_size_zero_is_refused() {
    conform(|| {
        assert!(panic::catch_unwind(|| Pool::new(0)).is_err());
    });
}

// mirrors gevent tests/test__pool.py: TestPool.test_map (sizes 1, 2, 3, 10)
#[test]
fn pool_map_returns_results_in_input_order() {
    conform(|| {
        for size in [1, 2, 3, 10] {
            let pool = Pool::new(size);
            let out: Vec<u64> = pool.map(0..100u64, sqr).into_iter().map(Result::unwrap).collect();
            assert_eq!(out, (0..100u64).map(|x| x * x).collect::<Vec<_>>(), "size {size}");
            assert!(pool.is_empty());
        }
    });
}

// mirrors gevent tests/test__pool.py: TestPool.test_empty_map
#[test]
fn pool_map_of_nothing_is_empty() {
    conform(|| {
        assert!(Pool::new(3).map(Vec::<u64>::new(), sqr).is_empty());
    });
}

// mirrors gevent tests/test__pool.py: TestPool.test_async_timeout
#[test]
fn pool_job_join_inside_expiring_scope_unwinds() {
    conform(|| {
        let pool = Pool::new(1);
        let h = pool.spawn(|| grove::sleep(FOREVER)).unwrap();
        assert_scope_unwinds(SHORT, |after| {
            let _ = h.wait();
            after();
        });
        assert!(!h.is_finished(), "a timed-out join must not end its target");
        pool.kill().unwrap();
        assert!(h.is_finished());
    });
}

// mirrors gevent tests/test__pool.py: TestPool.test_imap_unordered (sizes 1, 2, 3, 10)
#[test]
fn pool_imap_unordered_yields_every_result() {
    conform(|| {
        for size in [1, 2, 3, 10] {
            let pool = Pool::new(size);
            let mut out: Vec<u64> =
                pool.imap_unordered(0..200u64, sqr).map(Result::unwrap).collect();
            out.sort_unstable();
            assert_eq!(out, (0..200u64).map(|x| x * x).collect::<Vec<_>>(), "size {size}");
        }
    });
}

// mirrors gevent tests/test__pool.py: TestPool.test_empty_imap_unordered
#[test]
fn pool_imap_unordered_of_nothing_is_empty() {
    conform(|| {
        assert_eq!(Pool::new(2).imap_unordered(Vec::<u64>::new(), sqr).count(), 0);
    });
}

// mirrors gevent tests/test__pool.py: TestPool.test_imap_unordered_sleep (order of completion)
#[test]
fn pool_imap_unordered_yields_in_completion_order() {
    conform(|| {
        // Completion order is driven by events set in a chosen order, not by sleep lengths.
        let events: Vec<Event> = (0..3).map(|_| Event::new()).collect();
        let evs = events.clone();
        let pool = Pool::new(3);
        let it = pool.imap_unordered(0..3usize, move |i| {
            evs[i].wait().unwrap();
            i
        });
        let _setter = grove::spawn(move || {
            for i in [1, 2, 0] {
                events[i].set();
                grove::yield_now();
                grove::yield_now();
            }
        });
        let out: Vec<usize> = it.map(Result::unwrap).collect();
        assert_eq!(out, [1, 2, 0]);
    });
}

// mirrors gevent tests/test__pool.py: TestPool.test_imap_unordered_sleep (size 1 keeps input order)
#[test]
fn pool_of_one_imap_unordered_keeps_input_order() {
    conform(|| {
        let pool = Pool::new(1);
        let out: Vec<u64> = pool
            .imap_unordered([10u64, 1, 2], |x| {
                grove::sleep(ms(x));
                x
            })
            .map(Result::unwrap)
            .collect();
        assert_eq!(out, [10, 1, 2]);
    });
}

// mirrors gevent tests/test__pool.py: TestPool.test_imap_unordered_no_stop (input from a queue)
#[test]
fn pool_imap_unordered_over_a_blocking_input() {
    conform(|| {
        let q: Queue<u64> = Queue::unbounded();
        q.put(1234).unwrap();
        let q2 = q.clone();
        let _closer = grove::spawn_later(ms(5), move || q2.close());
        let input = std::iter::from_fn(move || q.get().ok());
        let out: Vec<u64> = Pool::new(2).imap_unordered(input, |x| x).map(Result::unwrap).collect();
        assert_eq!(out, [1234]);
    });
}

// mirrors gevent tests/test__pool.py: TestPool.test_imap_unordered_final_sleep
#[test]
fn pool_imap_unordered_input_that_sleeps_at_the_end() {
    conform(|| {
        let mut n = 0u64;
        let input = std::iter::from_fn(move || {
            if n < 3 {
                n += 1;
                Some(n - 1)
            } else {
                grove::sleep(ms(5));
                None
            }
        });
        let mut out: Vec<u64> =
            Pool::new(2).imap_unordered(input, sqr).map(Result::unwrap).collect();
        out.sort_unstable();
        assert_eq!(out, [0, 1, 4]);
    });
}

// mirrors gevent tests/test__pool.py: TestPool.test_terminate
#[test]
fn pool_kill_terminates_every_running_job() {
    conform(|| {
        let pool = Pool::new(4);
        let hs: Vec<_> = (0..4).map(|_| pool.spawn(|| grove::sleep(FOREVER)).unwrap()).collect();
        grove::yield_now();
        assert_eq!(pool.len(), 4);
        pool.kill().unwrap();
        assert!(pool.is_empty());
        assert_eq!(pool.available(), 4);
        for h in hs {
            assert!(h.join().unwrap_err().is_killed());
        }
    });
}

// mirrors gevent tests/test__pool.py: TestPool.test_terminate (imap_unordered workers belong to the pool)
#[test]
fn pool_len_and_kill_cover_imap_unordered_workers() {
    conform(|| {
        let pool = Pool::new(2);
        let mut it = pool.imap_unordered(0..10u64, |x| {
            if x > 0 {
                grove::sleep(FOREVER);
            }
            x
        });
        assert_eq!(it.next().unwrap().unwrap(), 0);
        grove::yield_now();
        assert_eq!(pool.len(), 2, "the workers of imap_unordered are members of the pool");
        pool.kill().unwrap();
        assert!(pool.is_empty());
        drop(it);
    });
}

// mirrors gevent tests/test__pool.py: TestPool.test_imap_unordered_bounded_queue (dropping the iterator)
#[test]
fn pool_dropping_imap_unordered_iterator_cancels_remaining_work() {
    conform(|| {
        let started = Counter::new();
        let s = started.clone();
        let pool = Pool::new(2);
        let mut it = pool.imap_unordered(0..100u64, move |x| {
            s.incr();
            grove::sleep(ms(1));
            x
        });
        let _first = it.next();
        drop(it);
        let at_drop = started.get();
        grove::sleep(ms(20));
        assert!(started.get() <= at_drop + 2, "work went on after the iterator was dropped");
        assert_eq!(pool.join(), Ok(()));
        assert!(started.get() < 100);
    });
}

// mirrors gevent tests/test__pool.py: TestJoinSleep.test_returns_none_after_timeout
#[test]
fn group_join_timeout_on_a_sleeping_member_fails_after_the_timeout() {
    conform(|| {
        let g = Group::new();
        let _h = g.spawn(|| grove::sleep(FOREVER));
        let start = Instant::now();
        assert_eq!(g.join_timeout(SHORT), Err(WaitError::TimedOut));
        assert_took_at_least(start, SHORT);
        g.kill().unwrap();
    });
}

// mirrors gevent tests/test__pool.py: TestJoinSleep.test_outer_timeout_is_not_lost
#[test]
fn pool_join_inside_expiring_scope_unwinds() {
    conform(|| {
        let pool = Pool::new(2);
        let _h = pool.spawn(|| grove::sleep(FOREVER)).unwrap();
        assert_scope_unwinds(SHORT, |after| {
            let _ = pool.join();
            after();
        });
        assert_eq!(pool.len(), 1);
    });
}

// mirrors gevent tests/test__pool.py: TestJoinEmpty.test
#[test]
fn empty_pool_join_is_true_at_once() {
    conform(|| {
        assert_eq!(Pool::new(3).join(), Ok(()));
        assert_eq!(Group::new().join(), Ok(()));
    });
}

// mirrors gevent tests/test__pool.py: TestSpawn.test
#[test]
fn pool_of_one_second_spawn_waits_for_the_first() {
    conform(|| {
        let p = Pool::new(1);
        assert_eq!(p.len(), 0);
        let first = p.spawn(|| grove::sleep(ms(5))).unwrap();
        assert_eq!(p.len(), 1);
        let _second = p.spawn(|| grove::sleep(ms(5))).unwrap();
        assert!(first.is_finished(), "the second spawn returned before a slot was free");
        assert_eq!(p.len(), 1);
        assert_eq!(p.join(), Ok(()));
        assert_eq!(p.len(), 0);
    });
}

// mirrors gevent tests/test__pool.py: TestSpawn.testSpawnAndWait
#[test]
fn pool_join_timeout_false_then_join_true() {
    conform(|| {
        let p = Pool::new(1);
        let ev = Event::new();
        let e = ev.clone();
        let _h = p.spawn(move || e.wait()).unwrap();
        assert_eq!(p.len(), 1);
        // The scope expires while the member still waits: join unwinds to it.
        assert!(grove::timeout(ms(5), || p.join()).is_err());
        ev.set();
        assert_eq!(p.join(), Ok(()));
        assert_eq!(p.len(), 0);
    });
}

fn error_iter() -> impl Iterator<Item = u32> {
    let mut n = 0;
    std::iter::from_fn(move || {
        n += 1;
        if n > 2 {
            panic!("expected iterator failure");
        }
        Some(n)
    })
}

// mirrors gevent tests/test__pool.py: TestErrorInIterator.test
#[test]
fn pool_map_over_a_failing_iterator_propagates_the_panic() {
    conform(|| {
        let p = Pool::new(3);
        let r = panic::catch_unwind(AssertUnwindSafe(|| p.map(error_iter(), |_| ())));
        assert_eq!(panic_text(&*r.unwrap_err()), "expected iterator failure");
        assert_eq!(p.join(), Ok(()));
    });
}

// mirrors gevent tests/test__pool.py: TestErrorInIterator.test_unordered
#[test]
fn pool_imap_unordered_over_a_failing_iterator_propagates_the_panic() {
    conform(|| {
        let p = Pool::new(3);
        let r = panic::catch_unwind(AssertUnwindSafe(|| {
            p.imap_unordered(error_iter(), |_| ()).collect::<Vec<_>>()
        }));
        let err = r.expect_err("the iterator's panic must reach the consumer");
        assert_eq!(panic_text(&*err), "expected iterator failure");
    });
}

fn divide_by(x: i32) -> f64 {
    assert!(x != 0, "division by zero");
    1.0 / f64::from(x)
}

// mirrors gevent tests/test__pool.py: TestErrorInHandler.test_map
#[test]
fn pool_map_with_a_failing_job_reports_it_in_place() {
    conform(|| {
        let out = Pool::new(3).map([1, 0, 2], divide_by);
        assert_eq!(*out[0].as_ref().unwrap(), 1.0);
        assert!(out[1].as_ref().unwrap_err().is_panic());
        assert_eq!(*out[2].as_ref().unwrap(), 0.5);
    });
}

// mirrors gevent tests/test__pool.py: TestErrorInHandler.test_imap_unordered
#[test]
fn pool_imap_unordered_with_a_failing_job_goes_on() {
    conform(|| {
        let mut it = Pool::new(1).imap_unordered([1, 0, 2], divide_by);
        assert_eq!(it.next().unwrap().unwrap(), 1.0);
        assert!(it.next().unwrap().unwrap_err().is_panic());
        assert_eq!(it.next().unwrap().unwrap(), 0.5);
        assert!(it.next().is_none());
    });
}

// mirrors gevent tests/test__greenletset.py: Test.test_basic
#[test]
fn group_len_counts_running_members() {
    conform(|| {
        let s = Group::new();
        let (e1, e2) = (Event::new(), Event::new());
        let (a, b) = (e1.clone(), e2.clone());
        let _h1 = s.spawn(move || a.wait());
        assert_eq!(s.len(), 1);
        let _h2 = s.spawn(move || b.wait());
        assert_eq!(s.len(), 2);
        grove::yield_now();
        e1.set();
        grove::yield_now();
        assert_eq!(s.len(), 1);
        e2.set();
        grove::yield_now();
        assert!(s.is_empty());
    });
}

// mirrors gevent tests/test__greenletset.py: Test.test_waitall
#[test]
fn group_join_waits_for_every_member() {
    conform(|| {
        let s = Group::new();
        let _a = s.spawn(|| grove::sleep(ms(5)));
        let b = s.spawn(|| grove::sleep(ms(10)));
        assert_eq!(s.len(), 2);
        let start = Instant::now();
        assert_eq!(s.join(), Ok(()));
        assert_took_at_least(start, ms(10));
        assert!(s.is_empty());
        assert!(b.is_finished());
    });
}

// mirrors gevent tests/test__greenletset.py: Test.test_kill_block
#[test]
fn group_kill_waits_until_members_are_gone() {
    conform(|| {
        let s = Group::new();
        let a = s.spawn(|| grove::sleep(FOREVER));
        let b = s.spawn(|| grove::sleep(FOREVER));
        grove::yield_now();
        s.kill().unwrap();
        assert!(s.is_empty());
        assert!(a.join().unwrap_err().is_killed());
        assert!(b.join().unwrap_err().is_killed());
    });
}

// mirrors gevent tests/test__greenletset.py: Test.test_kill_noblock
#[test]
fn group_members_killed_without_waiting_leave_after_the_hub_runs() {
    conform(|| {
        let s = Group::new();
        let a = s.spawn(|| grove::sleep(FOREVER));
        let b = s.spawn(|| grove::sleep(FOREVER));
        grove::yield_now();
        a.kill_nowait();
        b.kill_nowait();
        assert_eq!(s.len(), 2);
        grove::yield_now();
        assert!(s.is_empty());
    });
}

/// gevent's `Undead`: survives kills by catching GreenletExit and going on.
fn undead(shots: Counter, stop: Flag) {
    while !stop.get() {
        let r = panic::catch_unwind(AssertUnwindSafe(|| grove::sleep(ms(1))));
        if r.is_err() {
            shots.incr();
        }
    }
}

// mirrors gevent tests/test__greenletset.py: Test.test_kill_fires_once
#[test]
fn undead_member_survives_kill_and_can_be_killed_again() {
    conform(|| {
        let (shots, stop) = (Counter::new(), Flag::new());
        let (sh, st) = (shots.clone(), stop.clone());
        let g = grove::spawn(move || undead(sh, st));
        grove::yield_now();
        g.kill_nowait();
        grove::sleep(ms(2));
        assert_eq!(shots.get(), 1);
        assert!(!g.is_finished());
        g.kill_nowait();
        grove::sleep(ms(2));
        assert_eq!(shots.get(), 2, "the second kill of a survivor was ignored");
        stop.set();
        g.join().unwrap();
    });
}

// mirrors gevent tests/test__greenletset.py: Test.test_kill_fires_once (Group.kill with a timeout)
#[test]
fn group_kill_of_an_undead_member_unwinds_in_a_scope() {
    conform(|| {
        let s = Group::new();
        let (shots, stop) = (Counter::new(), Flag::new());
        let (sh, st) = (shots.clone(), stop.clone());
        let _g = s.spawn(move || undead(sh, st));
        grove::yield_now();
        assert!(grove::timeout(SHORT, || s.kill()).is_err());
        assert_eq!(s.len(), 1);
        assert!(shots.get() >= 1);
        stop.set();
        assert_eq!(s.join(), Ok(()));
    });
}

// mirrors gevent tests/test__greenletset.py: Test.test_killall_subclass
#[test]
fn group_kill_with_a_finished_failed_member() {
    conform(|| {
        let s = Group::new();
        let a = s.spawn(|| -> u8 { panic!("1/0") });
        let b = s.spawn(|| grove::sleep(FOREVER));
        grove::yield_now();
        s.kill().unwrap();
        assert!(a.join().unwrap_err().is_panic());
        assert!(b.join().unwrap_err().is_killed());
    });
}

// mirrors gevent tests/test__greenletset.py: Test.test_killall_iterable_argument_timeout_not_started
#[test]
fn group_kill_of_unstarted_members_means_they_never_run() {
    conform(|| {
        let s = Group::new();
        let ran = Flag::new();
        let hs: Vec<_> = (0..2)
            .map(|_| {
                let r = ran.clone();
                s.spawn(move || r.set())
            })
            .collect();
        s.kill().unwrap();
        assert!(s.is_empty());
        assert!(!ran.get());
        for h in hs {
            assert!(h.join().unwrap_err().is_killed());
        }
    });
}

// mirrors gevent tests/test__greenletset.py: Test.test_killall_iterable_argument_timeout_started
#[test]
fn group_kill_does_not_wait_for_a_member_blocking_in_its_destructor() {
    conform(|| {
        struct SleepsInDrop;
        impl Drop for SleepsInDrop {
            fn drop(&mut self) {
                grove::sleep(FOREVER); // returns at once: the greenlet is unwinding
            }
        }
        let s = Group::new();
        let _h = s.spawn(|| {
            let _d = SleepsInDrop;
            grove::sleep(FOREVER);
        });
        grove::yield_now();
        assert_eq!(grove::timeout(LONG, || s.kill()), Ok(Ok(())));
        assert!(s.is_empty());
    });
}

// mirrors gevent tests/test__greenletset.py: Test.test_kill_block (a member kills an unstarted sibling)
#[test]
fn group_kill_terminates_when_a_member_killed_an_unstarted_sibling() {
    conform(|| {
        let s = Group::new();
        let slot: std::rc::Rc<std::cell::RefCell<Option<grove::JoinHandle<()>>>> =
            std::rc::Rc::default();
        let sl = slot.clone();
        // The killer runs first and kills its sibling before the sibling ever ran.
        let _killer = s.spawn(move || {
            if let Some(v) = sl.borrow_mut().take() {
                v.kill().unwrap();
            }
            grove::sleep(FOREVER);
        });
        *slot.borrow_mut() = Some(s.spawn(|| grove::sleep(FOREVER)));
        grove::yield_now();
        assert_eq!(grove::timeout(LONG, || s.kill()), Ok(Ok(())), "Group::kill hung");
        assert!(s.is_empty());
    });
}

// mirrors gevent tests/test__greenletset.py: Test.test_waitall (Group.map)
#[test]
fn group_map_runs_all_concurrently_in_input_order() {
    conform(|| {
        let s = Group::new();
        let out: Vec<u64> = s.map(1..=5u64, sqr).into_iter().map(Result::unwrap).collect();
        assert_eq!(out, [1, 4, 9, 16, 25]);
        assert!(s.is_empty());
    });
}

// mirrors gevent tests/test__pool.py: PoolBasicTests.test_add_method (the spawner waiting for a slot is killed)
#[test]
fn pool_spawner_killed_while_waiting_for_a_slot_leaks_nothing() {
    conform(|| {
        let pool = Pool::new(1);
        let ev = Event::new();
        let e = ev.clone();
        let _first = pool.spawn(move || e.wait()).unwrap();
        let p = pool.clone();
        let ran = Flag::new();
        let r = ran.clone();
        let spawner = grove::spawn(move || {
            p.spawn(move || r.set()).unwrap();
        });
        grove::yield_now();
        spawner.kill().unwrap();
        assert!(spawner.join().unwrap_err().is_killed());
        ev.set();
        assert_eq!(pool.join(), Ok(()));
        assert!(!ran.get());
        assert_eq!(pool.available(), 1);
    });
}

// mirrors gevent tests/test__pool.py: TestPool.test_terminate (kill while a map is feeding the pool)
#[test]
fn pool_kill_while_a_map_feeds_the_pool_returns_and_can_be_repeated() {
    conform(|| {
        let pool = Pool::new(1);
        let p = pool.clone();
        let mapper = grove::spawn(move || p.map(0..3u32, |_| grove::sleep(FOREVER)));
        grove::yield_now();
        assert_eq!(pool.len(), 1);
        assert_eq!(grove::timeout(LONG, || pool.kill()), Ok(Ok(())), "Pool::kill hung");
        // The mapper (not a member) may feed the pool again; killing it and then the pool
        // leaves nothing behind.
        mapper.kill().unwrap();
        assert_eq!(grove::timeout(LONG, || pool.kill()), Ok(Ok(())), "Pool::kill hung");
        assert!(pool.is_empty());
        assert_eq!(pool.available(), 1);
        assert!(mapper.join().unwrap_err().is_killed());
    });
}
