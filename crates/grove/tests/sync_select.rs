//! `Select` (issue 13.2): the first of several operations, a deadline, and every way the wait
//! can end — without ever losing a notification another waiter needed.

use std::io::Write;
use std::os::fd::AsFd;
use std::rc::Rc;
use std::time::Duration;

use grove::net::UnixStream;
use grove::select::Select;
use grove::sync::{AsyncResult, Channel, Event, Queue, Semaphore};
use grove::WaitError;

/// Generous liveness bound: only a hang takes this long.
const LIVE: Duration = Duration::from_secs(20);

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

#[test]
fn acquire_holds_the_permit_it_reports() {
    grove::run(|| {
        let sem = Semaphore::new(0);
        let q: Queue<u8> = Queue::unbounded();
        let (s2, q2) = (sem.clone(), q.clone());
        let selector = grove::spawn(move || {
            let mut sel = Select::new();
            let iq = sel.recv(&q2);
            let is = sel.acquire(&s2);
            let got = sel.wait_timeout(LIVE).unwrap();
            assert_ne!(got, iq);
            assert_eq!(got, is);
            let p = sel.take_permit(is).expect("the permit");
            assert_eq!(s2.available(), 0, "the permit is held, not free");
            drop(p);
            s2.available()
        });
        grove::yield_now();
        sem.release(); // reserved for the selector, the only waiter
        assert_eq!(selector.join().unwrap(), 1, "dropping the permit released it");
        // A permit acquired by `try_ready` and never taken is released with the select.
        let mut sel = Select::new();
        sel.acquire(&sem);
        assert!(sel.try_ready().is_some());
        assert_eq!(sem.available(), 0);
        drop(sel);
        assert_eq!(sem.available(), 1);
    });
}

/// A `release` reserves its permit for the selector, but another operation of the select
/// wins: the permit goes to the next waiter in FIFO order, not lost, not kept.
#[test]
fn a_permit_handed_to_a_select_that_takes_something_else_goes_to_the_next_waiter() {
    grove::run(|| {
        let sem = Semaphore::new(0);
        let ev = Event::new();
        let (s2, e2) = (sem.clone(), ev.clone());
        let selector = grove::spawn(move || {
            let mut sel = Select::new();
            let ie = sel.event(&e2); // registered first: wins when both are ready
            sel.acquire(&s2);
            sel.wait_timeout(LIVE) == Ok(ie)
        });
        grove::yield_now(); // the selector waits (first in the semaphore's queue)
        let s3 = sem.clone();
        let next = grove::spawn(move || s3.acquire_timeout(LIVE).map(|p| p.forget()));
        grove::yield_now(); // `next` queues behind it
        sem.release(); // reserved for the selector
        ev.set();
        assert!(selector.join().unwrap(), "the event won");
        assert_eq!(next.join().unwrap(), Ok(()), "the permit went on to the next waiter");
        assert_eq!(sem.available(), 0);
    });
}

/// The selector is killed (or its wait times out) after a permit was reserved for it and
/// before it ran: the permit goes to the next waiter, or back to the pool when there is none.
#[test]
fn a_selector_killed_holding_a_reserved_permit_passes_it_on() {
    grove::run(|| {
        for with_next in [true, false] {
            let sem = Semaphore::new(0);
            let s2 = sem.clone();
            let selector = grove::spawn(move || {
                let mut sel = Select::new();
                sel.acquire(&s2);
                sel.wait()
            });
            grove::yield_now();
            let next = with_next.then(|| {
                let s3 = sem.clone();
                let h = grove::spawn(move || s3.acquire_timeout(LIVE).map(|p| p.forget()));
                grove::yield_now();
                h
            });
            sem.release(); // reserved for the selector
            selector.kill().unwrap();
            match next {
                Some(h) => {
                    assert_eq!(h.join().unwrap(), Ok(()));
                    assert_eq!(sem.available(), 0);
                }
                None => assert_eq!(sem.available(), 1, "the permit is free again"),
            }
        }
        // A timed-out select holds nothing.
        let sem = Semaphore::new(0);
        let mut sel = Select::new();
        sel.acquire(&sem);
        assert_eq!(sel.wait_timeout(Duration::from_millis(5)), Err(WaitError::TimedOut));
        drop(sel);
        sem.release();
        assert_eq!(sem.available(), 1);
        assert!(sem.try_acquire().is_some());
    });
}

#[test]
fn an_async_result_set_on_another_thread_wakes_the_select() {
    grove::run(|| {
        let r: AsyncResult<u32> = AsyncResult::new();
        let ev = Event::new();
        let mut sel = Select::new();
        sel.event(&ev);
        let ir = sel.result(&r);
        // Main waits on nothing local: a result another thread may set is not a deadlock,
        // and a timeout still ends the wait.
        assert_eq!(sel.wait_timeout(Duration::from_millis(5)), Err(WaitError::TimedOut));
        let producer = r.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            producer.set(5)
        });
        assert_eq!(sel.wait_timeout(LIVE), Ok(ir));
        assert_eq!(r.get().unwrap(), 5);
        assert!(t.join().unwrap());
        assert_eq!(sel.try_ready(), Some(ir)); // stays ready
    });
}

#[test]
fn fd_readiness_of_grove_and_foreign_sockets() {
    grove::run(|| {
        // A grove socket: main selects on it alone while a plain thread writes later; the
        // wait is on I/O, so it is no deadlock.
        let (a, b) = UnixStream::pair().unwrap();
        let a = a.into_std().unwrap();
        let mut sel = Select::new();
        let ib = sel.readable(&b).unwrap();
        assert_eq!(sel.try_ready(), None);
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            (&a).write_all(b"x").unwrap();
            a
        });
        assert_eq!(sel.wait_timeout(LIVE), Ok(ib));
        let a = t.join().unwrap();
        drop(sel);
        let mut buf = [0u8; 1];
        assert_eq!(std::io::Read::read(&mut &b, &mut buf).unwrap(), 1); // still usable
                                                                        // A foreign fd, and two selects on it at once (two greenlets): both are woken.
        let (x, y) = std::os::unix::net::UnixStream::pair().unwrap();
        y.set_nonblocking(true).unwrap();
        let y = Rc::new(y);
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let y = y.clone();
                grove::spawn(move || {
                    let fd = y.as_fd();
                    let mut sel = Select::new();
                    let i = sel.readable(&fd).unwrap();
                    sel.wait_timeout(LIVE) == Ok(i)
                })
            })
            .collect();
        grove::yield_now();
        (&x).write_all(b"y").unwrap();
        for w in waiters {
            assert!(w.join().unwrap());
        }
        // Writable, and a regular file refused with a clear error.
        let mut sel = Select::new();
        let iw = sel.writable(&b).unwrap();
        assert_eq!(sel.wait(), Ok(iw));
        let f = std::fs::File::open("/dev/null").unwrap();
        let fd = f.as_fd();
        let mut sel = Select::new();
        let e = sel.readable(&fd).unwrap_err(); // epoll refuses regular files
        assert_eq!(e.raw_os_error(), Some(libc::EPERM), "{e}");
        drop(a);
    });
}

/// A select on a socket killed while parked leaves nothing behind: the socket's later reads
/// work and the hub counts no waiter.
#[test]
fn a_selector_killed_while_waiting_on_a_socket_leaves_it_usable() {
    grove::run(|| {
        let (a, b) = UnixStream::pair().unwrap();
        let b = Rc::new(b);
        let b2 = b.clone();
        let selector = grove::spawn(move || {
            let mut sel = Select::new();
            sel.readable(&*b2).unwrap();
            sel.wait()
        });
        grove::yield_now();
        selector.kill().unwrap();
        let b3 = b.clone();
        let reader = grove::spawn(move || {
            let mut buf = [0u8; 2];
            std::io::Read::read_exact(&mut &*b3, &mut buf).map(|_| buf)
        });
        grove::yield_now();
        (&a).write_all(b"ok").unwrap();
        assert_eq!(reader.join().unwrap().unwrap(), *b"ok");
    });
}

#[test]
fn channel_offers_are_selectable_and_never_lost() {
    grove::run(|| {
        let ch: Channel<u8> = Channel::new();
        let c2 = ch.clone();
        let selector = grove::spawn(move || {
            let mut sel = Select::new();
            sel.recv_channel(&c2);
            sel.wait()
        });
        let c3 = ch.clone();
        let getter = grove::spawn(move || c3.get_timeout(LIVE));
        grove::yield_now(); // selector, then getter, wait for an offer
        let c4 = ch.clone();
        let putter = grove::spawn(move || c4.put_timeout(9, LIVE));
        grove::yield_now(); // the offer notifies the selector
        selector.kill().unwrap(); // before it ran: its notification goes on to the getter
        assert_eq!(getter.join().unwrap(), Ok(9));
        assert_eq!(putter.join().unwrap(), Ok(()));
    });
}
