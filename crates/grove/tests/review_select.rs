//! Adversarial review of `Select` (channel recv, AsyncResult, semaphore acquire, fd readiness)
//! and of the wait lists' "who notified me" bookkeeping. Each test names its attack.

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use grove::net::UnixStream;
use grove::select::Select;
use grove::sync::{AsyncResult, BoundedSemaphore, Channel, Event, Queue, Semaphore};
use grove::WaitError;

/// Generous liveness bound: only a hang takes this long.
const LIVE: Duration = Duration::from_secs(20);

fn settle() {
    for _ in 0..4 {
        grove::yield_now();
    }
}

/// Attack: `send(q)` on a bounded queue reports room while a plain putter is queued behind the
/// select. The doc promises `try_put` "would not say Full", but `try_put` refuses while any
/// putter is queued ("queued putters go first"): the caller's put fails, and the notification
/// the select consumed (and `used`) never reaches the queued putter.
#[test]
fn send_ready_means_try_put_succeeds_even_with_a_queued_putter() {
    grove::run(|| {
        let q: Queue<u8> = Queue::bounded(1);
        q.put(0).unwrap();
        let q1 = q.clone();
        let selector = grove::spawn(move || {
            let mut sel = Select::new();
            let i = sel.send(&q1);
            assert_eq!(sel.wait_timeout(LIVE), Ok(i));
            q1.try_put(1).map_err(|e| format!("{e:?}"))
        });
        grove::yield_now(); // the selector is first in the putters' queue
        let q2 = q.clone();
        let putter = grove::spawn(move || q2.put_timeout(2, LIVE).is_ok());
        grove::yield_now(); // a plain putter queues behind it
        assert_eq!(q.try_get(), Ok(0)); // room: notifies the selector
        let r = selector.join().unwrap();
        settle();
        let putter_done = putter.is_finished();
        let len = q.len();
        if !putter_done {
            putter.kill().unwrap();
        }
        assert_eq!(r, Ok(()), "send() reported ready but try_put failed (queue len {len})");
        assert!(putter_done || len == 1, "the queued putter was left asleep with room");
    });
}

/// Attack (same root cause as above, as a user would write it): retry loop "select send, then
/// try_put". With a putter queued behind, `wait` keeps returning at once and `try_put` keeps
/// failing: a busy loop that never yields, so the hub hangs. Bounded to 100 spins here.
#[test]
fn select_send_then_try_put_loop_does_not_spin() {
    grove::run(|| {
        let q: Queue<u8> = Queue::bounded(1);
        q.put(0).unwrap();
        let q1 = q.clone();
        let selector = grove::spawn(move || {
            let mut sel = Select::new();
            let i = sel.send(&q1);
            for spins in 0..100u32 {
                assert_eq!(sel.wait_timeout(LIVE), Ok(i));
                if q1.try_put(1).is_ok() {
                    return spins;
                }
            }
            100
        });
        grove::yield_now();
        let q2 = q.clone();
        let putter = grove::spawn(move || q2.put_timeout(2, LIVE).is_ok());
        grove::yield_now();
        assert_eq!(q.try_get(), Ok(0));
        let spins = selector.join().unwrap();
        putter.kill_nowait();
        let _ = putter.join();
        assert!(spins < 2, "select(send) + try_put spun {spins} times without yielding");
    });
}

/// Attack: `set(); clear()` in one turn. `Event::wait` returns (the generation moved), so a
/// select on the same event should report it too; it wakes, sees the flag clear, and parks
/// again: the pulse is lost for the select only.
#[test]
fn event_pulse_set_then_clear_is_seen_by_select_like_by_wait() {
    grove::run(|| {
        let ev = Event::new();
        let e1 = ev.clone();
        let waiter = grove::spawn(move || e1.wait_timeout(LIVE));
        let e2 = ev.clone();
        let selector = grove::spawn(move || {
            let mut sel = Select::new();
            sel.event(&e2);
            sel.wait_timeout(LIVE)
        });
        grove::yield_now();
        ev.set();
        ev.clear();
        settle();
        let (w, s) = (waiter.is_finished(), selector.is_finished());
        selector.kill_nowait();
        let _ = selector.join();
        assert!(w, "Event::wait saw the pulse");
        assert!(s, "select(event) missed a set();clear() pulse that Event::wait reported");
    });
}

/// Attack: the same semaphore registered twice in one select. `waiting()` must count the
/// greenlet once; one release gives one permit; two releases in the same turn with a plain
/// waiter behind give it the second permit (nothing lost or duplicated).
#[test]
fn same_semaphore_registered_twice() {
    grove::run(|| {
        let sem = Semaphore::new(0);
        let s1 = sem.clone();
        let selector = grove::spawn(move || {
            let mut sel = Select::new();
            let a = sel.acquire(&s1);
            let b = sel.acquire(&s1);
            let i = sel.wait_timeout(LIVE).unwrap();
            assert!(i == a || i == b);
            let p = sel.take_permit(i).expect("permit");
            assert!(sel.take_permit(a).is_none() && sel.take_permit(b).is_none());
            p.forget();
        });
        grove::yield_now();
        let s2 = sem.clone();
        let next = grove::spawn(move || s2.acquire_timeout(LIVE).map(|p| p.forget()));
        grove::yield_now();
        let waiting = sem.waiting();
        sem.release();
        sem.release();
        selector.join().unwrap();
        assert_eq!(next.join().unwrap(), Ok(()));
        assert_eq!(sem.available(), 0, "both permits handed out, none duplicated");
        assert_eq!(sem.waiting(), 0);
        assert!(sem.try_acquire().is_none());
        assert_eq!(waiting, 2, "one selector and one waiter; waiting() said {waiting}");
    });
}

/// Attack: the same queue registered twice plus a plain getter; two puts in one turn, then
/// the selector is killed before it runs. The plain getter must get an item, the other item
/// stays queued (nothing swallowed).
#[test]
fn same_queue_registered_twice_killed_after_two_puts() {
    grove::run(|| {
        let q: Queue<u8> = Queue::unbounded();
        let q1 = q.clone();
        let selector = grove::spawn(move || {
            let mut sel = Select::new();
            sel.recv(&q1);
            sel.recv(&q1);
            sel.wait().map(|_| ())
        });
        grove::yield_now();
        let q2 = q.clone();
        let getter = grove::spawn(move || q2.get_timeout(LIVE));
        let q3 = q.clone();
        let getter2 = grove::spawn(move || q3.get_timeout(LIVE));
        grove::yield_now();
        q.put(1).unwrap();
        q.put(2).unwrap();
        selector.kill().unwrap();
        let mut got = vec![getter.join().unwrap().unwrap(), getter2.join().unwrap().unwrap()];
        got.sort();
        assert_eq!(got, [1, 2], "both getters served");
        assert_eq!(q.len(), 0);
    });
}

/// Attack: a release and a put in the same turn, both for the same selector (recv first in
/// the select), with a plain waiter behind on each. The select reports the queue; the permit
/// goes to the semaphore's next waiter. Then the reverse order of the two wakeups.
#[test]
fn release_and_put_in_the_same_turn() {
    grove::run(|| {
        for release_first in [true, false] {
            let sem = BoundedSemaphore::new(1);
            let held = sem.acquire().unwrap();
            let q: Queue<u8> = Queue::unbounded();
            let (s1, q1) = (sem.clone(), q.clone());
            let selector = grove::spawn(move || {
                let mut sel = Select::new();
                let iq = sel.recv(&q1);
                let _is = sel.acquire(&s1);
                let i = sel.wait_timeout(LIVE).unwrap();
                assert_eq!(i, iq, "recv registered first wins");
                q1.try_get().unwrap()
            });
            grove::yield_now();
            let s2 = sem.clone();
            let next = grove::spawn(move || s2.acquire_timeout(LIVE).map(|p| p.forget()));
            let q2 = q.clone();
            let getter = grove::spawn(move || q2.get_timeout(LIVE));
            grove::yield_now();
            if release_first {
                drop(held);
                q.put(1).unwrap();
            } else {
                q.put(1).unwrap();
                drop(held);
            }
            assert_eq!(selector.join().unwrap(), 1);
            assert_eq!(next.join().unwrap(), Ok(()), "permit went on to the next waiter");
            assert_eq!(sem.available(), 0);
            assert_eq!(sem.waiting(), 0);
            q.put(2).unwrap();
            assert_eq!(getter.join().unwrap(), Ok(2));
            sem.release(); // the forgotten permit: within the bound
            assert_eq!(sem.available(), 1);
        }
    });
}

/// Attack: kills around a reserved permit on a BoundedSemaphore: the selector and the plain
/// waiter behind it are both killed in the same turn as the release, in both orders. The
/// permit must end up free exactly once (a second free permit would trip the bound).
#[test]
fn killed_selector_and_killed_next_waiter_bounded() {
    grove::run(|| {
        for order in 0..4 {
            let sem = BoundedSemaphore::new(1);
            let held = sem.acquire().unwrap();
            let s1 = sem.clone();
            let selector = grove::spawn(move || {
                let mut sel = Select::new();
                sel.acquire(&s1);
                sel.wait().map(|_| ())
            });
            grove::yield_now();
            let s2 = sem.clone();
            let next = grove::spawn(move || s2.acquire().map(|p| p.forget()));
            grove::yield_now();
            match order {
                0 => {
                    drop(held);
                    selector.kill_nowait();
                    next.kill_nowait();
                }
                1 => {
                    drop(held);
                    next.kill_nowait();
                    selector.kill_nowait();
                }
                2 => {
                    selector.kill_nowait();
                    drop(held);
                    next.kill_nowait();
                }
                _ => {
                    next.kill_nowait();
                    drop(held);
                    selector.kill_nowait();
                }
            }
            let _ = selector.join();
            let _ = next.join();
            assert_eq!(sem.waiting(), 0, "order {order}");
            assert_eq!(sem.available(), 1, "order {order}: the permit is free exactly once");
            let p = sem.try_acquire().expect("free");
            drop(p);
        }
    });
}

/// Attack: the selector's enclosing `timeout` scope expires around a release: (a) the release
/// comes after the deadline passed but before the timer fired (the release wins), (b) the
/// timer fires first, (c) the scope had already expired when the select registered. With a
/// plain waiter behind each time; permits are conserved.
#[test]
fn scope_expiry_around_a_release() {
    grove::run(|| {
        for case in 0..3 {
            let sem = BoundedSemaphore::new(1);
            let held = sem.acquire().unwrap();
            let s1 = sem.clone();
            let took = Rc::new(std::cell::Cell::new(false));
            let t1 = took.clone();
            let selector = grove::spawn(move || {
                grove::timeout(Duration::from_millis(30), || {
                    if case == 2 {
                        std::thread::sleep(Duration::from_millis(40));
                    }
                    let mut sel = Select::new();
                    sel.acquire(&s1);
                    if let Ok(j) = sel.wait() {
                        if let Some(p) = sel.take_permit(j) {
                            p.forget();
                            t1.set(true);
                        }
                    }
                })
            });
            grove::yield_now();
            let s2 = sem.clone();
            let next = grove::spawn(move || s2.acquire_timeout(LIVE).map(|p| p.forget()));
            grove::yield_now();
            std::thread::sleep(Duration::from_millis(60)); // every deadline has passed
            if case == 1 {
                grove::yield_now(); // the timer fires before the release
            }
            drop(held);
            let _ = selector.join();
            if took.get() {
                sem.release(); // the selector's permit, forgotten: now for `next`
            }
            assert_eq!(next.join().unwrap(), Ok(()), "case {case}: the permit was lost");
            assert_eq!(sem.waiting(), 0, "case {case}");
            assert_eq!(sem.available(), 0, "case {case}");
            sem.release();
            assert_eq!(sem.available(), 1);
        }
    });
}

/// Attack: a permit taken by `try_ready` and never taken by the caller, with the select reused
/// (`wait` again, `try_ready` again) and then dropped; on a BoundedSemaphore a double release
/// would panic, a lost one would leave `available` short.
#[test]
fn untaken_permit_reused_select_and_drop_on_bounded_semaphore() {
    grove::run(|| {
        let sem = BoundedSemaphore::new(2);
        let ev = Event::new();
        {
            let mut sel = Select::new();
            let ie = sel.event(&ev);
            let ia = sel.acquire(&sem);
            assert_eq!(sel.try_ready(), Some(ia));
            assert_eq!(sel.try_ready(), Some(ia));
            assert_eq!(sem.available(), 1, "one permit held, not two");
            assert_eq!(sel.wait(), Ok(ia));
            assert_eq!(sem.available(), 1);
            ev.set();
            assert_eq!(sel.wait(), Ok(ie)); // the event wins: the permit is given back
            assert_eq!(sem.available(), 2);
            assert!(sel.take_permit(ia).is_none());
            ev.clear();
            assert_eq!(sel.wait(), Ok(ia));
            let p = sel.take_permit(ia).unwrap();
            assert_eq!(sel.try_ready(), Some(ia)); // takes a second one
            assert_eq!(sem.available(), 0);
            drop(p);
        } // the select releases its second one
        assert_eq!(sem.available(), 2);
        // Dropped without ever waiting.
        let mut sel = Select::new();
        sel.acquire(&sem);
        sel.acquire(&sem);
        drop(sel);
        assert_eq!(sem.available(), 2);
    });
}

/// Attack: an AsyncResult set from another thread at the exact moment of registration,
/// thousands of times, with a queue in the select too: the select must always report the
/// result (never hang, never report the empty queue).
#[test]
fn async_result_set_at_registration_time() {
    grove::run(|| {
        let q: Queue<u8> = Queue::unbounded();
        let spin = Arc::new(AtomicU64::new(0));
        for round in 0..3000u64 {
            let r: AsyncResult<u64> = AsyncResult::new();
            let p = r.clone();
            let go = Arc::new(AtomicBool::new(false));
            let g2 = go.clone();
            let spin2 = spin.clone();
            let t = std::thread::spawn(move || {
                while !g2.load(Ordering::Acquire) {
                    std::hint::spin_loop();
                }
                for _ in 0..(round % 200) {
                    spin2.fetch_add(1, Ordering::Relaxed);
                }
                p.set(round)
            });
            let mut sel = Select::new();
            let iq = sel.recv(&q);
            let ir = sel.result(&r);
            go.store(true, Ordering::Release);
            let got = sel.wait_timeout(LIVE);
            assert_eq!(got, Ok(ir), "round {round} (queue is {iq})");
            assert_eq!(r.get().unwrap(), round);
            t.join().unwrap();
        }
    });
}

/// Attack: the select's early return (a second AsyncResult is set by another thread between
/// the select's readiness pass and its registration) leaves the park generation unchanged, while the first result's token may have
/// been taken by a setter on another thread just before the select withdrew it. That wake is
/// still in flight for the *same* generation, so it wakes the greenlet's next, unrelated park.
/// Probe: a park whose only waker is a thread that marks a flag before waking it; waking with
/// the flag unset means a stale wake came through.
#[test]
fn no_stale_wake_leaks_from_a_select_that_did_not_park() {
    use grove::patch_support::{park_remote, RemoteToken};
    grove::run(|| {
        let evs: Vec<Event> = (0..3000).map(|_| Event::new()).collect();
        let mut stale = 0;
        for round in 0..300u64 {
            let r1: AsyncResult<u8> = AsyncResult::new();
            let r2: AsyncResult<u8> = AsyncResult::new();
            let (p, p2) = (r1.clone(), r2.clone());
            let go = Arc::new(AtomicBool::new(false));
            let flag = Arc::new(AtomicBool::new(false));
            let (tx, rx) = std::sync::mpsc::channel::<RemoteToken>();
            let (g2, f2) = (go.clone(), flag.clone());
            let t = std::thread::spawn(move || {
                while !g2.load(Ordering::Acquire) {
                    std::hint::spin_loop();
                }
                let until = Instant::now() + Duration::from_micros(round % 120);
                while Instant::now() < until {
                    std::hint::spin_loop();
                }
                // Both land while the select registers its events: r1's token is taken by
                // this set, r2's registration then finds it set (the early return).
                p.set(1);
                p2.set(2);
                let tok = rx.recv().unwrap();
                std::thread::sleep(Duration::from_millis(2));
                f2.store(true, Ordering::SeqCst);
                tok.wake();
            });
            {
                let mut sel = Select::new();
                sel.result(&r1);
                for e in &evs {
                    sel.event(e);
                }
                sel.result(&r2);
                go.store(true, Ordering::Release);
                assert!(sel.wait_timeout(LIVE).is_ok());
            }
            let woke = park_remote(
                |tok| {
                    tx.send(tok).unwrap();
                    true
                },
                Some(Instant::now() + LIVE),
                "probe",
            );
            if woke == Some(true) && !flag.load(Ordering::SeqCst) {
                stale += 1;
            }
            t.join().unwrap();
            grove::yield_now();
        }
        assert_eq!(stale, 0, "{stale} of 300 next parks were woken by a stale select token");
    });
}

/// Attack: main waits on things nothing can ever make ready — a queue nobody puts to, a
/// semaphore main holds, an event nobody sets, a greenlet blocked forever, an AsyncResult
/// with no other handle, a result whose other handle is dropped by a thread while main waits,
/// and after fd selects were killed or timed out (no leaked I/O-waiter count): Deadlock, not a
/// hang.
#[test]
fn main_deadlock_is_reported() {
    let done = Arc::new(AtomicBool::new(false));
    let d2 = done.clone();
    std::thread::spawn(move || {
        std::thread::sleep(LIVE);
        if !d2.load(Ordering::SeqCst) {
            eprintln!("main_deadlock_is_reported: hung (no Deadlock reported)");
            std::process::exit(3);
        }
    });
    grove::run(|| {
        let q: Queue<u8> = Queue::unbounded();
        let sem = Semaphore::new(1);
        let _p = sem.acquire().unwrap();
        let ev = Event::new();
        let never = Event::new();
        let n2 = never.clone();
        let blocked = grove::spawn(move || n2.wait());
        grove::yield_now();
        let lonely: AsyncResult<u8> = AsyncResult::new();
        let ch: Channel<u8> = Channel::new();
        let mut sel = Select::new();
        sel.recv(&q);
        sel.acquire(&sem);
        sel.event(&ev);
        sel.join(&blocked);
        sel.result(&lonely);
        sel.recv_channel(&ch);
        assert_eq!(sel.wait(), Err(WaitError::Deadlock));
        drop(sel);
        // The other handle goes away on another thread while main waits.
        let r: AsyncResult<u8> = AsyncResult::new();
        let other = r.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            drop(other);
        });
        let mut sel = Select::new();
        sel.result(&r);
        sel.recv(&q);
        assert_eq!(sel.wait(), Err(WaitError::Deadlock));
        t.join().unwrap();
        drop(sel);
        // fd selects killed / timed out / scope-expired leave no I/O waiter counted.
        let (_a, b) = UnixStream::pair().unwrap();
        let b = Rc::new(b);
        let b2 = b.clone();
        let h = grove::spawn(move || {
            let mut sel = Select::new();
            sel.readable(&*b2).unwrap();
            sel.wait()
        });
        grove::yield_now();
        h.kill().unwrap();
        {
            let mut sel = Select::new();
            sel.readable(&*b).unwrap();
            assert_eq!(sel.wait_timeout(Duration::from_millis(2)), Err(WaitError::TimedOut));
            assert!(grove::timeout(Duration::from_millis(2), || sel.wait()).is_err());
        }
        let mut sel = Select::new();
        sel.recv(&q);
        assert_eq!(sel.wait(), Err(WaitError::Deadlock));
        blocked.kill().unwrap();
    });
    done.store(true, Ordering::SeqCst);
}

/// Attack: main waits on I/O or on a cross-thread result next to things that can never be
/// ready: that is not a deadlock (the thread writes / sets / drains later).
#[test]
fn main_waiting_on_io_or_remote_result_is_not_a_deadlock() {
    grove::run(|| {
        let q: Queue<u8> = Queue::unbounded();
        // Readable, peer written by a thread.
        let (a, b) = UnixStream::pair().unwrap();
        let a = a.into_std().unwrap();
        let mut sel = Select::new();
        sel.recv(&q);
        let ib = sel.readable(&b).unwrap();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            (&a).write_all(b"x").unwrap();
            a
        });
        assert_eq!(sel.wait_timeout(LIVE), Ok(ib));
        let _a = t.join().unwrap();
        drop(sel);
        // A result set by a thread.
        let r: AsyncResult<u8> = AsyncResult::new();
        let p = r.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            p.set(3)
        });
        let mut sel = Select::new();
        sel.recv(&q);
        let ir = sel.result(&r);
        assert_eq!(sel.wait_timeout(LIVE), Ok(ir));
        t.join().unwrap();
        drop(sel);
        // Writable once a thread drains a full send buffer.
        let (c, d) = std::os::unix::net::UnixStream::pair().unwrap();
        c.set_nonblocking(true).unwrap();
        let chunk = [0u8; 4096];
        while (&c).write(&chunk).is_ok() {}
        let c = UnixStream::from_std(c).unwrap();
        let mut sel = Select::new();
        sel.recv(&q);
        let iw = sel.writable(&c).unwrap();
        assert_eq!(sel.try_ready(), None);
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            let mut buf = vec![0u8; 1 << 20];
            let mut d = d;
            for _ in 0..64 {
                d.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
                if d.read(&mut buf).is_err() {
                    break;
                }
            }
        });
        assert_eq!(sel.wait_timeout(LIVE), Ok(iw));
        drop(sel);
        drop(c);
        t.join().unwrap();
    });
}

/// Attack: the peer is dropped, or the watched socket is shut down by another greenlet, while
/// a select waits on it: the select must wake (EOF/HUP is "readable"), not hang.
#[test]
fn peer_dropped_or_shutdown_while_select_waits() {
    grove::run(|| {
        for shutdown in [false, true] {
            let (a, b) = UnixStream::pair().unwrap();
            let b = Rc::new(b);
            let b2 = b.clone();
            let selector = grove::spawn(move || {
                let mut sel = Select::new();
                let i = sel.readable(&*b2).unwrap();
                sel.wait_timeout(LIVE) == Ok(i)
            });
            grove::yield_now();
            if shutdown {
                b.shutdown(std::net::Shutdown::Read).unwrap();
            } else {
                drop(a);
            }
            assert!(selector.join().unwrap(), "shutdown={shutdown}");
        }
    });
}

/// Attack: a grove socket passed as a `BorrowedFd` (it implements `AsFd`, so this compiles and
/// looks natural): the fd is already in the hub's epoll, so registering it again as a foreign
/// fd fails with EEXIST.
#[test]
fn grove_socket_as_borrowed_fd() {
    grove::run(|| {
        let (a, b) = UnixStream::pair().unwrap();
        let fd = b.as_fd();
        let mut sel = Select::new();
        let r = sel.readable(&fd);
        (&a).write_all(b"z").unwrap();
        match r {
            Ok(i) => assert_eq!(sel.wait_timeout(LIVE), Ok(i)),
            Err(e) => panic!("select on a grove socket's BorrowedFd failed: {e}"),
        }
    });
}

/// Attack: a foreign fd's registration is shared with `io::wait_readable` in another greenlet,
/// and the select is dropped without waiting (and once after waiting): the other waiter still
/// works, and once everything is dropped the fd is deregistered (grove can adopt it).
#[test]
fn foreign_fd_registration_shared_and_released() {
    grove::run(|| {
        let (x, y) = std::os::unix::net::UnixStream::pair().unwrap();
        y.set_nonblocking(true).unwrap();
        let y = Rc::new(y);
        let y2 = y.clone();
        let waiter = grove::spawn(move || {
            use std::os::fd::AsRawFd;
            grove::io::wait_readable(y2.as_raw_fd(), Some(LIVE)).is_ok()
        });
        grove::yield_now();
        {
            let fd = y.as_fd();
            let mut sel = Select::new();
            sel.readable(&fd).unwrap();
            sel.writable(&fd).unwrap();
            assert_eq!(sel.try_ready(), Some(1));
        } // dropped without waiting
        (&x).write_all(b"w").unwrap();
        assert!(waiter.join().unwrap(), "the other waiter still woke");
        let y = Rc::try_unwrap(y).unwrap();
        let g = UnixStream::from_std(y).expect("deregistered: grove can adopt the fd");
        let mut buf = [0u8; 1];
        assert_eq!((&g).read(&mut buf).unwrap(), 1);
    });
}

/// Attack: a channel putter is killed after its offer notified the selector and before the
/// selector ran: the offer is withdrawn, so the select must not report the channel until a
/// new offer arrives (and then `try_get` succeeds).
#[test]
fn channel_offer_withdrawn_before_selector_runs() {
    grove::run(|| {
        let ch: Channel<u8> = Channel::new();
        let c1 = ch.clone();
        let selector = grove::spawn(move || {
            let mut sel = Select::new();
            let i = sel.recv_channel(&c1);
            assert_eq!(sel.wait_timeout(LIVE), Ok(i));
            c1.try_get()
        });
        grove::yield_now();
        let c2 = ch.clone();
        let putter = grove::spawn(move || c2.put(1));
        grove::yield_now(); // offered, selector notified
        putter.kill().unwrap(); // offer withdrawn before the selector runs
        settle();
        let c3 = ch.clone();
        let putter2 = grove::spawn(move || c3.put_timeout(2, LIVE));
        assert_eq!(selector.join().unwrap(), Ok(2));
        assert_eq!(putter2.join().unwrap(), Ok(()));
    });
}

/// Attack: the selecting greenlet is killed while registered on an AsyncResult that a thread
/// sets at about the same time; then another select on the same result, and the result's
/// plain `get`, all see the value.
#[test]
fn killed_while_waiting_on_a_cross_thread_result() {
    grove::run(|| {
        for round in 0..200u64 {
            let r: AsyncResult<u64> = AsyncResult::new();
            let r1 = r.clone();
            let selector = grove::spawn(move || {
                let mut sel = Select::new();
                sel.result(&r1);
                sel.wait()
            });
            grove::yield_now();
            let p = r.clone();
            let t = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_micros(round % 50));
                p.set(round)
            });
            selector.kill_nowait();
            let _ = selector.join();
            let mut sel = Select::new();
            let i = sel.result(&r);
            assert_eq!(sel.wait_timeout(LIVE), Ok(i));
            assert_eq!(r.get().unwrap(), round);
            t.join().unwrap();
        }
    });
}

/// Attack (randomised, deterministic seeds): workers select on a BoundedSemaphore (sometimes
/// registered twice), a queue and an event, with timeouts, timeout scopes and kills flying;
/// at the end every permit is back exactly once, no waiter is counted, and every item put is
/// either taken or still queued. A duplicated permit panics the bound, a lost one shows in
/// `available`, a swallowed item in the count.
#[test]
fn randomised_permit_and_item_conservation() {
    for seed in [1u64, 7, 42, 1234, 99991] {
        grove::run(move || {
            let mut rng = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
            let mut next = move || {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                rng
            };
            const BOUND: usize = 2;
            let sem = BoundedSemaphore::new(BOUND);
            let q: Queue<u32> = Queue::unbounded();
            let ev = Event::new();
            let taken = Rc::new(std::cell::Cell::new(0u32));
            let spawn_worker = |wseed: u64| {
                let (s, q, ev, taken) = (sem.clone(), q.clone(), ev.clone(), taken.clone());
                grove::spawn(move || {
                    let mut r = wseed | 1;
                    let mut rnd = move || {
                        r ^= r << 13;
                        r ^= r >> 7;
                        r ^= r << 17;
                        r
                    };
                    loop {
                        let mut sel = Select::new();
                        let mut acq = Vec::new();
                        let mut rq = None;
                        let mut re = None;
                        let order = rnd() % 6;
                        for k in 0..3 {
                            match (order + k) % 3 {
                                0 => {
                                    acq.push(sel.acquire(&s));
                                    if rnd() % 4 == 0 {
                                        acq.push(sel.acquire(&s));
                                    }
                                }
                                1 => rq = Some(sel.recv(&q)),
                                _ => {
                                    if rnd() % 2 == 0 {
                                        re = Some(sel.event(&ev));
                                    }
                                }
                            }
                        }
                        let ms = rnd() % 4;
                        let got = if rnd() % 3 == 0 {
                            match grove::timeout(Duration::from_millis(ms), || sel.wait()) {
                                Ok(r) => r,
                                Err(_) => continue,
                            }
                        } else {
                            sel.wait_timeout(Duration::from_millis(ms))
                        };
                        let Ok(i) = got else { continue };
                        if acq.contains(&i) {
                            let p = sel.take_permit(i).expect("reported acquire holds a permit");
                            drop(sel);
                            if rnd() % 2 == 0 {
                                grove::yield_now();
                            } else {
                                grove::sleep(Duration::from_micros(rnd() % 500));
                            }
                            drop(p);
                        } else if Some(i) == rq {
                            q.try_get().expect("reported recv has an item");
                            taken.set(taken.get() + 1);
                        } else if Some(i) == re {
                            // Set now, or set and cleared while the select waited: a pulse
                            // wakes it, as it wakes `Event::wait`.
                            grove::yield_now();
                        } else {
                            panic!("unknown index {i}");
                        }
                    }
                })
            };
            let mut workers: Vec<_> = (0..6).map(|k| spawn_worker(seed * 31 + k)).collect();
            let mut plain = Vec::new();
            let mut put = 0u32;
            for step in 0..3000u64 {
                match next() % 10 {
                    0 | 1 => {
                        q.put(put).unwrap();
                        put += 1;
                    }
                    2 => ev.set(),
                    3 => ev.clear(),
                    4 => {
                        let k = (next() % workers.len() as u64) as usize;
                        workers[k].kill_nowait();
                        if next() % 2 == 0 {
                            let _ = workers[k].wait();
                        }
                        workers[k] = spawn_worker(seed ^ step);
                    }
                    5 => {
                        let s = sem.clone();
                        plain.push(grove::spawn(move || {
                            if let Ok(p) = s.acquire_timeout(Duration::from_millis(3)) {
                                grove::yield_now();
                                drop(p);
                            }
                        }));
                    }
                    6 => grove::sleep(Duration::from_micros(next() % 300)),
                    _ => grove::yield_now(),
                }
            }
            for w in &workers {
                w.kill_nowait();
            }
            for w in workers {
                match w.join() {
                    Err(e) if e.is_killed() => {}
                    Err(e) => panic!("worker failed: {e:?}"),
                    Ok(()) => {}
                }
            }
            for p in plain {
                p.join().unwrap();
            }
            settle();
            assert_eq!(sem.waiting(), 0, "seed {seed}");
            assert_eq!(sem.available(), BOUND, "seed {seed}: permits conserved");
            assert_eq!(taken.get() + q.len() as u32, put, "seed {seed}: items conserved");
        });
    }
}

/// Attack (consequence of the stale wake above): the greenlet's next park after the racing
/// select is a plain `Semaphore::acquire` queued behind a selector. The stale wake lands in
/// the same turn as a release that reserved the permit for the selector: the woken plain
/// waiter takes the selector's reserved permit, and the selector then claims a reservation
/// that no longer exists (debug: `claim_reserved`'s assertion; release: a permit from thin
/// air, `available` ends above what was released).
#[test]
fn stale_wake_steals_a_selectors_reserved_permit() {
    grove::run(|| {
        let evs: Vec<Event> = (0..3000).map(|_| Event::new()).collect();
        for round in 0..400u64 {
            let sem = Semaphore::new(0);
            let s1 = sem.clone();
            let selector = grove::spawn(move || {
                let mut sel = Select::new();
                let i = sel.acquire(&s1);
                let r = sel.wait_timeout(LIVE);
                assert_eq!(r, Ok(i));
                drop(sel.take_permit(i).expect("permit"));
            });
            let r3: AsyncResult<u8> = AsyncResult::new();
            let (s2, r3b) = (sem.clone(), r3.clone());
            let releaser = grove::spawn(move || {
                r3b.get().unwrap();
                s2.release();
            });
            grove::yield_now(); // selector queued on the semaphore; releaser waits on r3
            let r1: AsyncResult<u8> = AsyncResult::new();
            let r2: AsyncResult<u8> = AsyncResult::new();
            let (p1, p2, p3) = (r1.clone(), r2.clone(), r3.clone());
            let go = Arc::new(AtomicBool::new(false));
            let g2 = go.clone();
            let t = std::thread::spawn(move || {
                while !g2.load(Ordering::Acquire) {
                    std::hint::spin_loop();
                }
                let until = Instant::now() + Duration::from_micros(round % 120);
                while Instant::now() < until {
                    std::hint::spin_loop();
                }
                p3.set(3); // the releaser's wake is queued first
                p1.set(1);
                p2.set(2);
            });
            {
                let mut sel = Select::new();
                sel.result(&r1);
                for e in &evs {
                    sel.event(e);
                }
                sel.result(&r2);
                go.store(true, Ordering::Release);
                assert!(sel.wait_timeout(LIVE).is_ok());
            }
            // The next park: queued behind the selector.
            let p = sem.acquire_timeout(LIVE).expect("a permit");
            drop(p);
            t.join().unwrap();
            let sel_ok = selector.join();
            releaser.join().unwrap();
            assert!(sel_ok.is_ok(), "round {round}: the selector failed: {sel_ok:?}");
            assert_eq!(sem.available(), 1, "round {round}: one release, one permit");
        }
    });
}
