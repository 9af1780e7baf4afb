//! Group/Pool (limits, map order, imap_unordered completion order, kill) and futures interop.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use grove::pool::{Group, Pool};
use grove::WaitError;

#[test]
fn pool_of_two_never_runs_more_than_two() {
    grove::run(|| {
        let pool = Pool::new(2);
        let (active, peak) = (Rc::new(Cell::new(0)), Rc::new(Cell::new(0)));
        let hs: Vec<_> = (0..10)
            .map(|_| {
                let (a, p) = (active.clone(), peak.clone());
                pool.spawn(move || {
                    a.set(a.get() + 1);
                    p.set(p.get().max(a.get()));
                    grove::sleep(Duration::from_millis(3));
                    a.set(a.get() - 1);
                })
                .unwrap()
            })
            .collect();
        assert!(pool.available() <= 2);
        grove::joinall(hs);
        assert_eq!(pool.join(), Ok(()));
        assert_eq!(peak.get(), 2);
        assert_eq!(pool.available(), 2);
        assert!(pool.is_empty());
    });
}

#[test]
fn map_keeps_input_order() {
    grove::run(|| {
        let pool = Pool::new(2);
        // Later items finish first; results still come back in input order.
        let out = pool.map([30u64, 20, 10, 0], |ms| {
            grove::sleep(Duration::from_millis(ms));
            ms
        });
        let out: Vec<u64> = out.into_iter().map(Result::unwrap).collect();
        assert_eq!(out, [30, 20, 10, 0]);
        let g = Group::new();
        let out: Vec<_> = g.map(1..=3, |x| x * 2).into_iter().map(Result::unwrap).collect();
        assert_eq!(out, [2, 4, 6]);
    });
}

#[test]
fn imap_unordered_yields_in_completion_order() {
    grove::run(|| {
        let pool = Pool::new(4);
        let got: Vec<u64> = pool
            .imap_unordered([40u64, 10, 30, 20], |ms| {
                grove::sleep(Duration::from_millis(ms));
                ms
            })
            .map(Result::unwrap)
            .collect();
        assert_eq!(got, [10, 20, 30, 40]);
        // With a limit of 1 it degenerates to input order.
        let one = Pool::new(1);
        let got: Vec<u64> = one.imap_unordered([3u64, 1, 2], |v| v).map(Result::unwrap).collect();
        assert_eq!(got, [3, 1, 2]);
        // Panics come through as errors, the rest still arrive.
        let r: Vec<_> = pool
            .imap_unordered([1, 0, 2], |v: u32| if v == 0 { panic!("zero") } else { v })
            .collect();
        assert_eq!(r.iter().filter(|x| x.is_err()).count(), 1);
        assert_eq!(r.iter().filter(|x| x.is_ok()).count(), 2);
    });
}

#[test]
fn group_join_and_kill() {
    grove::run(|| {
        let g = Group::new();
        let done = Rc::new(Cell::new(0));
        for ms in [1u64, 5, 10] {
            let d = done.clone();
            g.spawn(move || {
                grove::sleep(Duration::from_millis(ms));
                d.set(d.get() + 1);
            });
        }
        assert_eq!(g.len(), 3);
        assert_eq!(g.join(), Ok(()));
        assert_eq!(done.get(), 3);

        let drops = Rc::new(RefCell::new(0));
        for _ in 0..5 {
            let d = drops.clone();
            g.spawn(move || {
                struct D(Rc<RefCell<u32>>);
                impl Drop for D {
                    fn drop(&mut self) {
                        *self.0.borrow_mut() += 1;
                    }
                }
                let _d = D(d);
                grove::sleep(Duration::from_secs(3600));
            });
        }
        grove::yield_now();
        g.kill().unwrap();
        assert!(g.is_empty());
        assert_eq!(*drops.borrow(), 5);
        assert!(
            g.join_timeout(Duration::from_millis(1)) == Err(WaitError::TimedOut) || g.is_empty()
        );
    });
}

#[test]
fn killed_pool_member_frees_its_slot() {
    grove::run(|| {
        let pool = Pool::new(1);
        let h = pool.spawn(|| grove::sleep(Duration::from_secs(3600))).unwrap();
        grove::yield_now();
        assert_eq!(pool.available(), 0);
        h.kill().unwrap();
        assert_eq!(pool.available(), 1);
        assert_eq!(pool.spawn(|| 5).unwrap().join().unwrap(), 5);
    });
}

#[test]
fn block_on_a_futures_channel_woken_from_another_thread() {
    grove::run(|| {
        let ticks = Rc::new(Cell::new(0));
        let t = ticks.clone();
        let ticker = grove::spawn(move || {
            for _ in 0..5 {
                grove::sleep(Duration::from_millis(2));
                t.set(t.get() + 1);
            }
        });
        let (tx, rx) = futures_channel::oneshot::channel::<&'static str>();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            tx.send("from a thread").unwrap();
        });
        assert_eq!(grove::block_on(rx).unwrap(), "from a thread");
        assert_eq!(ticks.get(), 5, "the hub ran other greenlets while block_on waited");
        ticker.join().unwrap();

        // An async mpsc stream fed by a greenlet on the same hub.
        let (mut tx, rx) = futures_channel::mpsc::channel::<u32>(2);
        let producer = grove::spawn(move || {
            grove::block_on(async {
                for i in 0..10 {
                    tx.send(i).await.unwrap();
                }
            })
        });
        let all: Vec<u32> = grove::block_on(rx.collect());
        assert_eq!(all, (0..10).collect::<Vec<_>>());
        producer.join().unwrap();
    });
}

#[test]
fn greenlets_and_async_results_are_futures() {
    grove::run(|| {
        let a = grove::spawn(|| {
            grove::sleep(Duration::from_millis(5));
            1
        });
        let b = grove::spawn(|| 2);
        let r = grove::sync::AsyncResult::new();
        let p = r.clone();
        std::thread::spawn(move || p.set(3));
        let sum =
            grove::block_on(async move { a.await.unwrap() + b.await.unwrap() + r.await.unwrap() });
        assert_eq!(sum, 6);
        let k = grove::spawn(|| grove::sleep(Duration::from_secs(3600)));
        grove::yield_now();
        k.kill_nowait();
        assert!(grove::block_on(k).unwrap_err().is_killed());
    });
}
