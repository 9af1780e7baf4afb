//! Completion (issue 13.3): `on_done` callbacks, waiting for all with a timeout, and
//! `try_joinall` where the first failure cancels the rest.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use grove::{JoinError, WaitError};

struct SetOnDrop(Rc<Cell<bool>>);
impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.set(true);
    }
}

#[test]
fn on_done_runs_once_the_greenlet_ends_however_it_ends() {
    grove::run(|| {
        let log = Rc::new(RefCell::new(Vec::new()));
        let (l1, l2, l3) = (log.clone(), log.clone(), log.clone());
        let ok = grove::spawn(|| 1);
        ok.on_done(move || l1.borrow_mut().push("ok"));
        let sleeper = grove::spawn(|| grove::sleep(Duration::from_secs(3600)));
        sleeper.on_done(move || l2.borrow_mut().push("killed"));
        grove::yield_now();
        assert_eq!(ok.join().unwrap(), 1);
        sleeper.kill().unwrap();
        grove::yield_now();
        assert_eq!(*log.borrow(), ["ok", "killed"]);
        // Already finished: it runs at the next turn.
        let done = grove::spawn(|| ());
        done.wait().unwrap();
        done.on_done(move || l3.borrow_mut().push("late"));
        grove::yield_now();
        assert_eq!(log.borrow().last(), Some(&"late"));
    });
}

#[test]
fn wait_all_timeout_leaves_the_finished_results_and_the_rest_running() {
    grove::run(|| {
        let hs = vec![
            grove::spawn(|| 1),
            grove::spawn(|| {
                grove::sleep(Duration::from_secs(3600));
                2
            }),
        ];
        assert_eq!(
            grove::wait_all_timeout(&hs, Duration::from_millis(5)),
            Err(WaitError::TimedOut)
        );
        assert!(hs[0].is_finished());
        assert!(!hs[1].is_finished());
        hs[1].kill().unwrap();
        assert_eq!(grove::wait_all(&hs), Ok(()));
        let mut it = hs.into_iter();
        assert_eq!(it.next().unwrap().join().unwrap(), 1);
        assert!(it.next().unwrap().join().unwrap_err().is_killed());
    });
}

#[test]
fn try_joinall_cancels_the_rest_on_the_first_failure() {
    grove::run(|| {
        let base = grove::stats().alive;
        let unwound = Rc::new(Cell::new(false));
        let u = unwound.clone();
        let slow = grove::spawn(move || {
            let _g = SetOnDrop(u);
            grove::sleep(Duration::from_secs(3600));
            0
        });
        let failing = grove::spawn(|| -> i32 {
            grove::sleep(Duration::from_millis(1));
            panic!("boom")
        });
        // The slow one is first in the list: the failure is still seen at once.
        let err = grove::try_joinall([slow, failing]).unwrap_err();
        assert!(err.is_panic());
        assert!(unwound.get(), "the rest was killed");
        assert_eq!(grove::stats().alive, base);
        // All succeed: values in input order.
        let hs = (0..5).map(|i| {
            grove::spawn(move || {
                grove::sleep(Duration::from_millis(5 - i));
                i
            })
        });
        assert_eq!(grove::try_joinall(hs).unwrap(), [0, 1, 2, 3, 4]);
        // A killed member is a failure too.
        let victim = grove::spawn(|| grove::sleep(Duration::from_secs(3600)));
        victim.kill_nowait();
        assert!(matches!(grove::try_joinall([victim]), Err(JoinError::Killed)));
    });
}

/// Greenlets that each finish when their own event is set.
fn gated(n: usize) -> (Vec<grove::sync::Event>, Vec<grove::JoinHandle<usize>>) {
    let evs: Vec<_> = (0..n).map(|_| grove::sync::Event::new()).collect();
    let hs = evs
        .iter()
        .enumerate()
        .map(|(i, ev)| {
            let ev = ev.clone();
            grove::spawn(move || {
                ev.wait().unwrap();
                i
            })
        })
        .collect();
    (evs, hs)
}

// gevent's test__wait (count=): the first `n` to finish, in the order they finished.
#[test]
fn wait_n_reports_the_first_n_to_finish_in_order() {
    grove::run(|| {
        let (evs, hs) = gated(4);
        evs[3].set();
        while !hs[3].is_finished() {
            grove::yield_now();
        }
        let (e1, e0) = (evs[1].clone(), evs[0].clone());
        let helper = grove::spawn(move || {
            e1.set();
            grove::yield_now();
            grove::yield_now();
            e0.set();
        });
        assert_eq!(grove::wait_n(&hs, 3), Ok(vec![3, 1, 0]));
        assert!(!hs[2].is_finished());
        // Failures count as finishing: a panic and a kill.
        let boom = grove::spawn(|| -> usize { panic!("boom") });
        let slow = grove::spawn(|| -> usize {
            grove::sleep(Duration::from_secs(3600));
            0
        });
        slow.kill_nowait();
        let mixed = [boom, slow];
        assert_eq!(grove::wait_n(&mixed, 2).map(|v| v.len()), Ok(2));
        let [boom, slow] = mixed;
        assert!(boom.join().unwrap_err().is_panic());
        assert!(matches!(slow.join(), Err(JoinError::Killed)));
        // More than there are: all of them. None: at once, even with nothing to wake us.
        evs[2].set();
        assert_eq!(grove::wait_n(&hs, 99).map(|v| v.len()), Ok(4));
        assert_eq!(grove::wait_n::<usize>(&[], 1), Ok(vec![]));
        let (_never, stuck) = gated(1);
        assert_eq!(grove::wait_n(&stuck, 0), Ok(vec![]));
        helper.join().unwrap();
        for h in stuck {
            h.kill().unwrap();
        }
    });
}

#[test]
fn wait_n_ends_every_way_a_wait_ends_and_leaves_nothing_behind() {
    grove::run(|| {
        let base = grove::stats().alive;
        let (evs, hs) = gated(2);
        // Timed out: an error, not a short list; the greenlets go on.
        assert_eq!(
            grove::wait_n_timeout(&hs, 1, Duration::from_millis(5)),
            Err(WaitError::TimedOut)
        );
        // Nothing else can set the events: the main greenlet is told instead of hanging.
        assert_eq!(grove::wait_n(&hs, 1), Err(WaitError::Deadlock));
        // An expiring scope unwinds through it to the scope.
        let hs = Rc::new(hs);
        let h2 = hs.clone();
        let outer = grove::spawn(move || {
            grove::timeout(Duration::from_millis(5), || grove::wait_n(&h2, 2)).is_err()
        });
        assert!(outer.join().unwrap(), "the scope expired");
        // Killed while waiting: the waiter ends Killed, and a later finish wakes nobody stale.
        let h3 = hs.clone();
        let waiter = grove::spawn(move || grove::wait_n(&h3, 2));
        grove::yield_now();
        assert!(matches!(waiter.kill(), Ok(())));
        assert!(matches!(waiter.join(), Err(JoinError::Killed)));
        evs[0].set();
        let r = grove::wait_n_deadline(&hs, 1, std::time::Instant::now() + Duration::from_secs(60));
        assert_eq!(r, Ok(vec![0]));
        evs[1].set();
        assert_eq!(grove::wait_n(&hs, 2), Ok(vec![0, 1]));
        drop(hs);
        assert_eq!(grove::stats().alive, base);
    });
}
