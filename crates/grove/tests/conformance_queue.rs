//! Conformance: gevent's queues (gevent `tests/test__queue.py`): `Queue` (Simple/Joinable),
//! `LifoQueue`, `PriorityQueue`, `Channel`, re-expressed against grove's public API.

#[path = "util/conform.rs"]
mod conform;

use std::time::Instant;

use conform::*;
use grove::sync::{
    AsyncResult, Channel, LifoQueue, PriorityQueue, Queue, RecvError, SendError, TryRecvError,
    TrySendError, WaitError,
};

// mirrors gevent tests/test__queue.py: TestQueue.test_put_nowait_simple
#[test]
fn queue_try_put_from_callbacks_fills_then_reports_full() {
    conform(|| {
        let q: Queue<u32> = Queue::bounded(1);
        let result: Log<Result<(), String>> = Log::new();
        for v in [2, 3] {
            let (q, r) = (q.clone(), result.clone());
            grove::add_callback(move || r.push(q.try_put(v).map_err(|e| format!("{e:?}"))));
        }
        grove::sleep(ms(0));
        assert_eq!(result.get(), [Ok(()), Err("Full(..)".to_string())]);
    });
}

// mirrors gevent tests/test__queue.py: TestChannel.test_put_nowait_simple
#[test]
fn channel_try_get_with_no_putter_is_empty() {
    conform(|| {
        let ch: Channel<u32> = Channel::new();
        assert_eq!(ch.try_get(), Err(TryRecvError::Empty));
    });
}

// mirrors gevent tests/test__queue.py: TestQueue.test_put_nowait_unlock
#[test]
fn queue_try_put_from_callback_wakes_a_blocked_getter() {
    conform(|| {
        let q: Queue<u32> = Queue::unbounded();
        let q2 = q.clone();
        let p = grove::spawn(move || q2.get());
        assert!(q.is_empty());
        assert!(!q.is_full());
        grove::yield_now(); // the getter blocks
        assert!(!p.is_finished());
        let q3 = q.clone();
        grove::add_callback(move || q3.try_put(10).unwrap());
        assert_eq!(p.join().unwrap(), Ok(10));
        assert!(q.is_empty());
    });
}

// mirrors gevent tests/test__queue.py: TestQueue.test_send_last
#[test]
fn queue_waiter_in_scope_receives_item_put_later() {
    conform(|| {
        let q: Queue<&'static str> = Queue::unbounded();
        let q2 = q.clone();
        let p = grove::spawn(move || {
            grove::timeout(LONG, || assert_eq!(q2.get(), Ok("hi2"))).unwrap();
            "OK"
        });
        grove::yield_now();
        q.put("hi2").unwrap();
        assert_eq!(p.join().unwrap(), "OK");
    });
}

// mirrors gevent tests/test__queue.py: TestQueue.test_get_nowait_simple
#[test]
fn queue_try_get_from_callbacks_takes_then_reports_empty() {
    conform(|| {
        let q: Queue<u32> = Queue::bounded(1);
        q.put(4).unwrap();
        let result: Log<Result<u32, TryRecvError>> = Log::new();
        for _ in 0..2 {
            let (q, r) = (q.clone(), result.clone());
            grove::add_callback(move || r.push(q.try_get()));
        }
        grove::sleep(ms(0));
        assert_eq!(result.get(), [Ok(4), Err(TryRecvError::Empty)]);
    });
}

// mirrors gevent tests/test__queue.py: TestQueue.test_get_nowait_unlock
#[test]
fn queue_try_get_from_callback_unblocks_a_putter() {
    conform(|| {
        let q: Queue<u32> = Queue::bounded(1);
        q.put(1).unwrap();
        let q2 = q.clone();
        let p = grove::spawn(move || q2.put(5));
        grove::yield_now();
        assert!(q.is_full());
        assert!(!p.is_finished());
        let (q3, got) = (q.clone(), Log::new());
        let g = got.clone();
        grove::add_callback(move || g.push(q3.try_get().unwrap()));
        assert!(p.join().unwrap().is_ok());
        assert_eq!(got.get(), [1]);
        assert_eq!(q.try_get(), Ok(5));
    });
}

// mirrors gevent tests/test__queue.py: TestQueue.test_send_first
#[test]
fn queue_put_then_peek_then_get() {
    conform(|| {
        let q: Queue<&'static str> = Queue::unbounded();
        q.put("hi").unwrap();
        assert_eq!(q.peek(|v| v.copied()), Some("hi"));
        assert_eq!(q.get(), Ok("hi"));
    });
}

// mirrors gevent tests/test__queue.py: TestQueue.test_peek_empty (grove's peek never blocks)
#[test]
fn queue_peek_on_empty_is_none() {
    conform(|| {
        let q: Queue<u32> = Queue::unbounded();
        assert_eq!(q.peek(|v| v.copied()), None);
    });
}

// mirrors gevent tests/test__queue.py: TestQueue.test_peek_multi_greenlet
#[test]
fn queue_peek_after_put_from_another_greenlet() {
    conform(|| {
        let q: Queue<u32> = Queue::unbounded();
        let q2 = q.clone();
        grove::spawn(move || q2.put(1).unwrap()).join().unwrap();
        assert_eq!(q.peek(|v| v.copied()), Some(1));
        assert_eq!(q.len(), 1);
    });
}

// mirrors gevent tests/test__queue.py: TestQueue.test_max_size
#[test]
fn queue_max_size_blocks_the_third_put_until_a_get() {
    conform(|| {
        let q: Queue<char> = Queue::bounded(2);
        let results = Log::new();
        let (q2, r) = (q.clone(), results.clone());
        let p = grove::spawn(move || {
            for c in ['a', 'b', 'c'] {
                q2.put(c).unwrap();
                r.push(c);
            }
            "OK"
        });
        grove::sleep(ms(0));
        assert_eq!(results.get(), ['a', 'b']);
        assert_eq!(q.get(), Ok('a'));
        grove::sleep(ms(0));
        assert_eq!(results.get(), ['a', 'b', 'c']);
        assert_eq!(q.get(), Ok('b'));
        assert_eq!(q.get(), Ok('c'));
        assert_eq!(p.join().unwrap(), "OK");
    });
}

// mirrors gevent tests/test__queue.py: TestQueue.test_multiple_waiters
#[test]
fn queue_each_put_wakes_exactly_one_of_many_getters() {
    conform(|| {
        let q: Queue<u32> = Queue::unbounded();
        let got: Log<u32> = Log::new();
        for _ in 0..4 {
            let (q, g) = (q.clone(), got.clone());
            grove::spawn(move || g.push(q.get().unwrap()));
        }
        grove::yield_now(); // all four wait
        q.put(1).unwrap();
        grove::yield_now();
        assert_eq!(got.get(), [1]);
        q.put(2).unwrap();
        grove::yield_now();
        assert_eq!(got.get(), [1, 2]);
        q.put(3).unwrap();
        q.put(4).unwrap();
        grove::yield_now();
        let mut all = got.get();
        all.sort_unstable();
        assert_eq!(all, [1, 2, 3, 4]);
    });
}

/// gevent's `do_receive`: a get inside a zero-length timeout scope.
fn receive_in_zero_scope(q: Queue<&'static str>, evt: AsyncResult<String>) {
    match grove::timeout(ms(0), || q.get()) {
        Err(_) => evt.set("timed out".to_string()),
        Ok(r) => evt.set(format!("get returned inside the expired scope: {r:?}")),
    };
}

// mirrors gevent tests/test__queue.py: TestQueue.test_waiters_that_cancel
#[test]
fn queue_waiter_that_cancels_does_not_take_a_later_item() {
    conform(|| {
        let q: Queue<&'static str> = Queue::unbounded();
        let evt = AsyncResult::new();
        let (q2, e) = (q.clone(), evt.clone());
        grove::spawn(move || receive_in_zero_scope(q2, e));
        assert_eq!(evt.get().unwrap(), "timed out");
        q.put("hi").unwrap();
        assert_eq!(q.get(), Ok("hi"));
    });
}

// mirrors gevent tests/test__queue.py: TestQueue.test_senders_that_die
#[test]
fn queue_item_of_a_finished_sender_stays() {
    conform(|| {
        let q: Queue<&'static str> = Queue::unbounded();
        let q2 = q.clone();
        grove::spawn(move || q2.put("sent").unwrap());
        assert_eq!(q.get(), Ok("sent"));
    });
}

// mirrors gevent tests/test__queue.py: TestQueue.test_two_waiters_one_dies
#[test]
fn queue_two_waiters_one_cancels_the_other_gets_the_item() {
    conform(|| {
        let q: Queue<&'static str> = Queue::unbounded();
        let (dying, waiting) = (AsyncResult::new(), AsyncResult::new());
        let (q1, d) = (q.clone(), dying.clone());
        grove::spawn(move || receive_in_zero_scope(q1, d));
        let (q2, w) = (q.clone(), waiting.clone());
        grove::spawn(move || w.set(q2.get().unwrap().to_string()));
        grove::sleep(ms(1));
        q.put("hi").unwrap();
        assert_eq!(dying.get().unwrap(), "timed out");
        assert_eq!(waiting.get().unwrap(), "hi");
    });
}

// mirrors gevent tests/test__queue.py: TestQueue.test_two_bogus_waiters
#[test]
fn queue_two_cancelled_waiters_leave_the_item_queued() {
    conform(|| {
        let q: Queue<&'static str> = Queue::unbounded();
        let (e1, e2) = (AsyncResult::new(), AsyncResult::new());
        for e in [&e1, &e2] {
            let (q, e) = (q.clone(), e.clone());
            grove::spawn(move || receive_in_zero_scope(q, e));
        }
        grove::sleep(ms(1));
        q.put("sent").unwrap();
        assert_eq!(e1.get().unwrap(), "timed out");
        assert_eq!(e2.get().unwrap(), "timed out");
        assert_eq!(q.get(), Ok("sent"));
    });
}

// mirrors gevent tests/test__queue.py: TestChannel.test_get_nowait_unlock_channel
#[test]
fn channel_try_get_from_callback_completes_a_blocked_put() {
    conform(|| {
        let ch: Channel<u32> = Channel::new();
        let c2 = ch.clone();
        let p = grove::spawn(move || c2.put(5));
        grove::sleep(ms(1));
        assert!(!p.is_finished());
        let (c3, got) = (ch.clone(), Log::new());
        let g = got.clone();
        grove::add_callback(move || g.push(c3.try_get().unwrap()));
        grove::sleep(ms(1));
        assert_eq!(got.get(), [5]);
        assert!(p.is_finished());
        assert!(p.join().unwrap().is_ok());
        assert_eq!(ch.try_get(), Err(TryRecvError::Empty));
    });
}

// mirrors gevent tests/test__queue.py: TestChannel.test_zero_max_size
#[test]
fn channel_put_waits_for_a_receiver() {
    conform(|| {
        let ch: Channel<&'static str> = Channel::new();
        let (e1, e2) = (AsyncResult::new(), AsyncResult::new());
        let (c, e) = (ch.clone(), e1.clone());
        let p1 = grove::spawn(move || {
            c.put("hi").unwrap();
            e.set("done");
        });
        grove::sleep(ms(1));
        assert!(!e1.is_ready(), "put returned with no receiver");
        let (c, e) = (ch.clone(), e2.clone());
        let p2 = grove::spawn(move || e.set(c.get().unwrap()));
        assert_eq!(e2.get().unwrap(), "hi");
        assert_eq!(e1.get().unwrap(), "done");
        p1.join().unwrap();
        p2.join().unwrap();
    });
}

// mirrors gevent tests/test__queue.py: TestChannel.test_send
#[test]
fn channel_send_order_is_rendezvous() {
    conform(|| {
        let ch: Channel<&'static str> = Channel::new();
        let events: Log<&'static str> = Log::new();
        let (c, ev) = (ch.clone(), events.clone());
        let g = grove::spawn(move || {
            ev.push(c.get().unwrap());
            ev.push(c.get().unwrap());
        });
        events.push("sending");
        ch.put("hello").unwrap();
        events.push("sent hello");
        ch.put("world").unwrap();
        events.push("sent world");
        assert_eq!(events.get(), ["sending", "hello", "sent hello", "world", "sent world"]);
        g.join().unwrap();
    });
}

// mirrors gevent tests/test__queue.py: TestChannel.test_wait
#[test]
fn channel_wait_order_is_rendezvous() {
    conform(|| {
        let ch: Channel<&'static str> = Channel::new();
        let events: Log<&'static str> = Log::new();
        let (c, ev) = (ch.clone(), events.clone());
        let g = grove::spawn(move || {
            ev.push("sending hello");
            c.put("hello").unwrap();
            ev.push("sending world");
            c.put("world").unwrap();
            ev.push("sent world");
        });
        events.push("waiting");
        events.push(ch.get().unwrap());
        events.push(ch.get().unwrap());
        assert_eq!(events.get(), ["waiting", "sending hello", "hello", "sending world", "world"]);
        grove::sleep(ms(0));
        assert_eq!(
            events.get(),
            ["waiting", "sending hello", "hello", "sending world", "world", "sent world"]
        );
        g.join().unwrap();
    });
}

// mirrors gevent tests/test__queue.py: TestChannel.test_iterable (StopIteration -> close)
#[test]
fn channel_get_ends_when_closed() {
    conform(|| {
        let ch: Channel<u32> = Channel::new();
        let c = ch.clone();
        grove::spawn(move || {
            c.put(1).unwrap();
            c.close();
        });
        let got: Vec<u32> = std::iter::from_fn(|| ch.get().ok()).collect();
        assert_eq!(got, [1]);
        assert_eq!(ch.get(), Err(RecvError::Closed));
    });
}

// mirrors gevent tests/test__queue.py: TestQueue.test_task_done
#[test]
fn queue_task_done_counts_unfinished() {
    conform(|| {
        let q: Queue<u32> = Queue::unbounded();
        let q2 = q.clone();
        grove::spawn(move || q2.put(7).unwrap());
        assert_eq!(q.get(), Ok(7));
        assert_eq!(q.unfinished(), 1);
        q.task_done();
        assert_eq!(q.unfinished(), 0);
    });
}

// mirrors gevent tests/test__queue.py: TestQueue (JoinableQueue.join waits for task_done)
#[test]
fn queue_join_waits_until_every_item_is_done() {
    conform(|| {
        let q: Queue<u32> = Queue::unbounded();
        let done = Log::new();
        let (q2, d) = (q.clone(), done.clone());
        grove::spawn(move || {
            while let Ok(v) = q2.get() {
                grove::yield_now();
                d.push(v);
                q2.task_done();
            }
        });
        for i in 0..3 {
            q.put(i).unwrap();
        }
        assert_eq!(q.join(), Ok(()));
        assert_eq!(done.get(), [0, 1, 2]);
    });
}

// mirrors gevent tests/test__queue.py: TestQueue.test_shutdown_all_methods_in_one_thread (close)
#[test]
fn queue_close_refuses_puts_and_drains_gets() {
    conform(|| {
        let q: Queue<char> = Queue::unbounded();
        q.put('L').unwrap();
        q.try_put('O').unwrap();
        q.close();
        assert!(q.is_closed());
        assert_eq!(q.put('E'), Err(SendError::Closed('E')));
        assert_eq!(q.try_put('W'), Err(TrySendError::Closed('W')));
        assert_eq!(q.get(), Ok('L'));
        q.task_done();
        assert_eq!(q.get(), Ok('O'));
        q.task_done();
        assert_eq!(q.join(), Ok(()));
        assert_eq!(q.get(), Err(RecvError::Closed));
        assert_eq!(q.try_get(), Err(TryRecvError::Closed));
        assert_eq!(q.get_timeout(LONG), Err(RecvError::Closed));
    });
}

// mirrors gevent tests/test__queue.py: TestQueue.test_shutdown_all_methods_in_one_thread (blocked sides wake)
#[test]
fn queue_close_wakes_blocked_getters_and_putters() {
    conform(|| {
        let empty: Queue<u32> = Queue::unbounded();
        let full: Queue<u32> = Queue::bounded(1);
        full.put(0).unwrap();
        let (e, f) = (empty.clone(), full.clone());
        let getter = grove::spawn(move || e.get());
        let putter = grove::spawn(move || f.put(1).map_err(SendError::into_inner));
        grove::yield_now();
        empty.close();
        full.close();
        assert_eq!(getter.join().unwrap(), Err(RecvError::Closed));
        assert_eq!(putter.join().unwrap(), Err(1), "the item is handed back");
        assert_eq!(full.get(), Ok(0));
    });
}

// mirrors gevent tests/test__queue.py: TestQueue.test_issue_45
#[test]
fn queue_join_with_nothing_put_returns_at_once() {
    conform(|| {
        let q: Queue<u32> = Queue::unbounded();
        assert_eq!(q.join(), Ok(()));
    });
}

// mirrors gevent tests/test__queue.py: TestLifoQueue
#[test]
fn lifo_queue_returns_last_in_first() {
    conform(|| {
        let q: LifoQueue<u32> = LifoQueue::with_bound(None);
        for i in 1..=3 {
            q.put(i).unwrap();
        }
        let got: Vec<u32> = (0..3).map(|_| q.get().unwrap()).collect();
        assert_eq!(got, [3, 2, 1]);
    });
}

// mirrors gevent tests/test__queue.py: TestPriorityQueue
#[test]
fn priority_queue_returns_highest_first() {
    conform(|| {
        let q: PriorityQueue<u32> = PriorityQueue::with_bound(None);
        for i in [2, 9, 1, 5] {
            q.put(i).unwrap();
        }
        let got: Vec<u32> = (0..4).map(|_| q.get().unwrap()).collect();
        assert_eq!(got, [9, 5, 2, 1]);
    });
}

// mirrors gevent tests/test__queue.py: TestGetInterrupt.test_returns_none_after_timeout (all kinds)
#[test]
fn get_timeout_on_empty_times_out_for_every_queue_kind() {
    conform(|| {
        let q: Queue<u32> = Queue::unbounded();
        let l: LifoQueue<u32> = LifoQueue::with_bound(None);
        let p: PriorityQueue<u32> = PriorityQueue::with_bound(None);
        let c: Channel<u32> = Channel::new();
        let start = Instant::now();
        assert_eq!(q.get_timeout(SHORT), Err(RecvError::Wait(WaitError::TimedOut)));
        assert_eq!(l.get_timeout(SHORT), Err(RecvError::Wait(WaitError::TimedOut)));
        assert_eq!(p.get_timeout(SHORT), Err(RecvError::Wait(WaitError::TimedOut)));
        assert_eq!(c.get_timeout(SHORT), Err(RecvError::Wait(WaitError::TimedOut)));
        assert_took_at_least(start, SHORT * 4);
    });
}

// mirrors gevent tests/test__queue.py: TestGetInterrupt.test_outer_timeout_is_not_lost
#[test]
fn queue_get_inside_expiring_scope_unwinds() {
    conform(|| {
        let q: Queue<u32> = Queue::unbounded();
        let _keep = q.clone();
        assert_scope_unwinds(SHORT, |after| {
            let _ = q.get();
            after();
        });
    });
}

// mirrors gevent tests/test__queue.py: TestGetInterruptChannel.test_outer_timeout_is_not_lost
#[test]
fn channel_get_inside_expiring_scope_unwinds() {
    conform(|| {
        let ch: Channel<u32> = Channel::new();
        let _keep = ch.clone();
        assert_scope_unwinds(SHORT, |after| {
            let _ = ch.get_timeout(LONG);
            after();
        });
    });
}

// mirrors gevent tests/test__queue.py: TestPutInterrupt.test_returns_none_after_timeout
#[test]
fn put_timeout_on_full_queue_hands_the_item_back() {
    conform(|| {
        let q: Queue<u32> = Queue::bounded(1);
        let _keep = q.clone();
        q.put(1).unwrap();
        let start = Instant::now();
        assert_eq!(q.put_timeout(2, SHORT), Err(SendError::Wait(WaitError::TimedOut, 2)));
        assert_took_at_least(start, SHORT);
        assert_eq!(q.len(), 1);
    });
}

// mirrors gevent tests/test__queue.py: TestPutInterruptChannel.test_returns_none_after_timeout
#[test]
fn channel_put_timeout_with_no_getter_hands_the_item_back() {
    conform(|| {
        let ch: Channel<u32> = Channel::new();
        let _keep = ch.clone();
        assert_eq!(ch.put_timeout(2, SHORT), Err(SendError::Wait(WaitError::TimedOut, 2)));
        // The withdrawn offer is not delivered to a later getter.
        assert_eq!(ch.try_get(), Err(TryRecvError::Empty));
    });
}

// mirrors gevent tests/test__queue.py: TestPutInterrupt.test_outer_timeout_is_not_lost
#[test]
fn queue_put_inside_expiring_scope_unwinds() {
    conform(|| {
        let q: Queue<u32> = Queue::bounded(1);
        let _keep = q.clone();
        q.put(1).unwrap();
        assert_scope_unwinds(SHORT, |after| {
            let _ = q.put_timeout(2, LONG);
            after();
        });
        assert_eq!(q.len(), 1);
        assert_eq!(q.try_get(), Ok(1));
    });
}

// mirrors gevent tests/test__queue.py: TestPutInterruptChannel.test_outer_timeout_is_not_lost
#[test]
fn channel_put_inside_expiring_scope_unwinds_and_withdraws_the_offer() {
    conform(|| {
        let ch: Channel<u32> = Channel::new();
        let _keep = ch.clone();
        assert_scope_unwinds(SHORT, |after| {
            let _ = ch.put(2);
            after();
        });
        assert_eq!(ch.try_get(), Err(TryRecvError::Empty));
    });
}

// mirrors gevent tests/test__queue.py: TestQueue.test_two_waiters_one_dies (killed, not timed out)
#[test]
fn queue_killed_getter_does_not_lose_the_item() {
    conform(|| {
        let q: Queue<u32> = Queue::unbounded();
        let (q1, q2) = (q.clone(), q.clone());
        let victim = grove::spawn(move || q1.get());
        let survivor = grove::spawn(move || q2.get());
        grove::yield_now();
        q.put(9).unwrap(); // notifies the victim first ...
        victim.kill().unwrap(); // ... which dies before it can take it
        assert!(victim.join().unwrap_err().is_killed());
        assert_eq!(survivor.join().unwrap(), Ok(9));
    });
}

// mirrors gevent tests/test__queue.py: TestQueue.test_max_size (a blocked putter is killed)
#[test]
fn queue_killed_putter_does_not_insert_and_does_not_block_others() {
    conform(|| {
        let q: Queue<u32> = Queue::bounded(1);
        q.put(0).unwrap();
        let (q1, q2) = (q.clone(), q.clone());
        let victim = grove::spawn(move || q1.put(1));
        let other = grove::spawn(move || q2.put(2));
        grove::yield_now();
        victim.kill().unwrap();
        assert_eq!(q.get(), Ok(0));
        assert!(other.join().unwrap().is_ok());
        assert_eq!(q.get(), Ok(2));
        assert_eq!(q.try_get(), Err(TryRecvError::Empty));
    });
}

// mirrors gevent tests/test__queue.py: TestChannel.test_zero_max_size (the putter is killed)
#[test]
fn channel_killed_putter_withdraws_its_offer() {
    conform(|| {
        let ch: Channel<u32> = Channel::new();
        let c = ch.clone();
        let putter = grove::spawn(move || c.put(1));
        grove::yield_now();
        putter.kill().unwrap();
        assert!(putter.join().unwrap_err().is_killed());
        assert_eq!(ch.try_get(), Err(TryRecvError::Empty));
    });
}

// mirrors gevent tests/test__queue.py: TestGetInterrupt (LoopExit: main gets with nobody to put)
#[test]
fn queue_get_on_main_with_no_putter_is_a_deadlock() {
    conform(|| {
        let q: Queue<u32> = Queue::unbounded();
        assert_eq!(q.get(), Err(RecvError::Wait(WaitError::Deadlock)));
    });
}

// mirrors gevent tests/test__queue.py: TestPutInterrupt (LoopExit: main puts into a full queue)
#[test]
fn queue_put_on_main_into_full_queue_with_no_getter_is_a_deadlock() {
    conform(|| {
        let q: Queue<u32> = Queue::bounded(1);
        q.put(1).unwrap();
        assert_eq!(q.put(2), Err(SendError::Wait(WaitError::Deadlock, 2)));
    });
}

// mirrors gevent tests/test__queue.py: TestQueue.test_max_size (a getter's side disappears: scope in the putter)
#[test]
fn queue_getter_scope_expires_after_being_handed_an_item() {
    conform(|| {
        // The item is put while the getter's scope is about to expire; whatever the getter's
        // fate, the item must be either received by it or still in the queue.
        let q: Queue<u32> = Queue::unbounded();
        let q2 = q.clone();
        let g = grove::spawn(move || grove::timeout(ms(0), || q2.get()).ok());
        q.put(5).unwrap();
        let got = g.join().unwrap();
        match got {
            Some(Ok(v)) => assert_eq!(v, 5),
            _ => assert_eq!(q.try_get(), Ok(5), "the item was lost"),
        }
    });
}

// mirrors gevent tests/test__queue.py: TestQueue.test_max_size (the putter handed the room is killed)
#[test]
fn queue_room_handed_to_a_killed_putter_goes_to_the_next() {
    conform(|| {
        let q: Queue<u32> = Queue::bounded(1);
        q.put(0).unwrap();
        let (q1, q2) = (q.clone(), q.clone());
        let victim = grove::spawn(move || q1.put(1));
        let next = grove::spawn(move || q2.put(2));
        grove::yield_now();
        assert_eq!(q.try_get(), Ok(0)); // notifies the victim ...
        victim.kill().unwrap(); // ... which dies before it can use the room
        assert!(next.join().unwrap().is_ok());
        assert_eq!(q.try_get(), Ok(2));
    });
}

// mirrors gevent tests/test__queue.py: TestChannel.test_zero_max_size (the getter handed the offer is killed)
#[test]
fn channel_offer_survives_a_getter_killed_after_being_woken() {
    conform(|| {
        let ch: Channel<u32> = Channel::new();
        let (c1, c2, c3) = (ch.clone(), ch.clone(), ch.clone());
        let victim = grove::spawn(move || c1.get());
        let next = grove::spawn(move || c2.get());
        grove::yield_now();
        let putter = grove::spawn(move || c3.put(7));
        grove::yield_now(); // the putter offers and wakes the victim
        victim.kill().unwrap();
        assert_eq!(next.join().unwrap(), Ok(7));
        assert!(putter.join().unwrap().is_ok());
    });
}

// mirrors gevent tests/test__queue.py: TestQueue.test_multiple_waiters (cross-thread queue, a getter is killed)
#[test]
fn mt_queue_killed_getter_does_not_swallow_the_next_wakeup() {
    conform(|| {
        let q: grove::sync::mt::Queue<u32> = grove::sync::mt::Queue::unbounded();
        let (q1, q2) = (q.clone(), q.clone());
        let victim = grove::spawn(move || q1.get());
        let survivor = grove::spawn(move || q2.get());
        grove::yield_now();
        victim.kill().unwrap();
        assert!(victim.join().unwrap_err().is_killed());
        q.put(3).unwrap();
        assert_eq!(
            survivor.wait_timeout(std::time::Duration::from_secs(2)),
            Ok(()),
            "the surviving getter was never woken for the item"
        );
        assert_eq!(survivor.join().unwrap(), Ok(3));
    });
}

// mirrors gevent tests/test__queue.py: TestQueue.test_max_size (cross-thread queue, a putter is killed)
#[test]
fn mt_queue_killed_putter_does_not_swallow_the_room() {
    conform(|| {
        let q: grove::sync::mt::Queue<u32> = grove::sync::mt::Queue::bounded(1);
        q.put(0).unwrap();
        let (q1, q2) = (q.clone(), q.clone());
        let victim = grove::spawn(move || q1.put(1));
        let survivor = grove::spawn(move || q2.put(2));
        grove::yield_now();
        victim.kill().unwrap();
        assert_eq!(q.try_get(), Ok(0));
        assert_eq!(
            survivor.wait_timeout(std::time::Duration::from_secs(2)),
            Ok(()),
            "the surviving putter was never woken for the room"
        );
        assert!(survivor.join().unwrap().is_ok());
        assert_eq!(q.try_get(), Ok(2));
    });
}

// mirrors gevent tests/test__queue.py: TestQueue.test_put_nowait_unlock (Queue::iter ends at close)
#[test]
fn queue_iter_ends_when_closed_and_drained() {
    conform(|| {
        let q: Queue<u32> = Queue::unbounded();
        let q2 = q.clone();
        grove::spawn(move || {
            for i in 0..3 {
                q2.put(i).unwrap();
                grove::yield_now();
            }
            q2.close();
        });
        assert_eq!(q.iter().collect::<Vec<_>>(), [0, 1, 2]);
    });
}
