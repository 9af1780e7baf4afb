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
