//! `Select` (issue 13.2): the first of several operations, a deadline, and every way the wait
//! can end — without ever losing a notification another waiter needed.

use std::time::Duration;

use grove::select::Select;
use grove::sync::{Event, Queue};
use grove::WaitError;

#[test]
fn returns_the_operation_that_became_ready() {
    grove::run(|| {
        let (a, b): (Queue<u8>, Queue<u8>) = (Queue::unbounded(), Queue::unbounded());
        let ev = Event::new();
        let (b2, e2) = (b.clone(), ev.clone());
        let waiter = grove::spawn(move || {
            let mut sel = Select::new();
            let ia = sel.recv(&a);
            let ib = sel.recv(&b2);
            let ie = sel.event(&e2);
            let got = sel.wait().unwrap();
            assert_ne!(got, ia);
            assert_ne!(got, ie);
            assert_eq!(got, ib);
            b2.try_get().unwrap()
        });
        grove::yield_now();
        b.put(7).unwrap();
        assert_eq!(waiter.join().unwrap(), 7);
        // Already ready: no wait, the first registered wins.
        let (q, ev) = (Queue::<u8>::unbounded(), Event::new());
        q.put(1).unwrap();
        ev.set();
        let mut sel = Select::new();
        let iq = sel.recv(&q);
        sel.event(&ev);
        assert_eq!(sel.wait(), Ok(iq));
    });
}

#[test]
fn join_and_room_in_a_bounded_queue_are_operations_too() {
    grove::run(|| {
        let h = grove::spawn(|| grove::sleep(Duration::from_millis(2)));
        let full: Queue<u8> = Queue::bounded(1);
        full.put(0).unwrap();
        let f2 = full.clone();
        let mut sel = Select::new();
        let ij = sel.join(&h);
        sel.send(&full);
        assert_eq!(sel.wait(), Ok(ij), "the greenlet finishes; the queue stays full");
        drop(sel);
        // Room appears when another greenlet takes the item.
        let g = grove::spawn(move || f2.get().unwrap());
        let mut sel = Select::new();
        let is = sel.send(&full);
        assert_eq!(sel.wait(), Ok(is));
        full.try_put(1).unwrap();
        assert_eq!(g.join().unwrap(), 0);
    });
}

#[test]
fn every_way_the_wait_ends() {
    grove::run(|| {
        let q: Queue<u8> = Queue::unbounded();
        let mut sel = Select::new();
        sel.recv(&q);
        assert_eq!(sel.wait_timeout(Duration::from_millis(2)), Err(WaitError::TimedOut));
        // Main with nothing that could ever put: Deadlock, not a hang. An empty set too.
        assert_eq!(sel.wait(), Err(WaitError::Deadlock));
        assert_eq!(Select::new().wait(), Err(WaitError::Deadlock));
        // An expiring scope unwinds it.
        assert!(grove::timeout(Duration::from_millis(2), || sel.wait()).is_err());
    });
}

#[test]
fn a_killed_selector_does_not_swallow_an_item_another_getter_waits_for() {
    grove::run(|| {
        let q: Queue<u8> = Queue::unbounded();
        let other: Queue<u8> = Queue::unbounded();
        let (q1, o1) = (q.clone(), other.clone());
        let selector = grove::spawn(move || {
            let mut sel = Select::new();
            sel.recv(&q1);
            sel.recv(&o1);
            sel.wait().map(|_| ())
        });
        let q2 = q.clone();
        let getter = grove::spawn(move || q2.get().unwrap());
        grove::yield_now();
        // The put notifies the selector (first in line); it is killed before it runs.
        q.put(5).unwrap();
        selector.kill().unwrap();
        assert!(selector.join().unwrap_err().is_killed());
        // The notification was passed on: the plain getter gets the item.
        assert_eq!(getter.join().unwrap(), 5);
    });
}
