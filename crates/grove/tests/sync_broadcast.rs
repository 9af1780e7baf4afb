//! The broadcast channel (issue 13.6): fan-out, lagging receivers, closing, and its wait under
//! kills, timeouts and scopes.

use std::time::Duration;

use grove::sync::broadcast::{self, RecvError, TryRecvError};
use grove::WaitError;

#[test]
fn every_receiver_gets_every_value_sent_after_it_subscribed() {
    grove::run(|| {
        let (tx, rx) = broadcast::channel(8);
        let readers: Vec<_> = (0..3)
            .map(|_| {
                let mut r = tx.subscribe();
                grove::spawn(move || (0..3).map(|_| r.recv().unwrap()).collect::<Vec<i32>>())
            })
            .collect();
        drop(rx);
        grove::yield_now();
        for v in 1..=3 {
            assert_eq!(tx.send(v).unwrap(), 3);
        }
        for r in readers {
            assert_eq!(r.join().unwrap(), [1, 2, 3]);
        }
        // A late subscriber sees only what comes after it.
        let mut late = tx.subscribe();
        assert_eq!(late.try_recv(), Err(TryRecvError::Empty));
    });
}

#[test]
fn a_slow_receiver_lags_and_goes_on_from_the_oldest_kept() {
    grove::run(|| {
        let (tx, mut rx) = broadcast::channel(2);
        for v in 0..5 {
            tx.send(v).unwrap();
        }
        assert_eq!(rx.recv(), Err(RecvError::Lagged(3)));
        assert_eq!(rx.recv(), Ok(3));
        assert_eq!(rx.recv(), Ok(4));
    });
}

#[test]
fn closing_drains_then_reports_closed_and_sending_without_receivers_fails() {
    grove::run(|| {
        let (tx, mut rx) = broadcast::channel(4);
        let mut waiting = tx.subscribe();
        let w = grove::spawn(move || waiting.recv());
        grove::yield_now();
        tx.send(1).unwrap();
        drop(tx);
        assert_eq!(rx.recv(), Ok(1));
        assert_eq!(rx.recv(), Err(RecvError::Closed));
        assert_eq!(w.join().unwrap(), Ok(1));
        let (tx, rx) = broadcast::channel::<u8>(1);
        drop(rx);
        assert_eq!(tx.send(9).unwrap_err().0, 9);
    });
}

#[test]
fn recv_ends_with_its_timeout_a_deadlock_a_scope_or_a_kill() {
    grove::run(|| {
        let (tx, mut rx) = broadcast::channel::<u8>(4);
        assert_eq!(
            rx.recv_timeout(Duration::from_millis(2)),
            Err(RecvError::Wait(WaitError::TimedOut))
        );
        // Main waiting with nothing that could ever send: Deadlock, not a hang.
        assert_eq!(rx.recv(), Err(RecvError::Wait(WaitError::Deadlock)));
        // An expiring scope unwinds the wait.
        assert!(grove::timeout(Duration::from_millis(2), || rx.recv()).is_err());
        // A killed receiver leaves the channel working for the others.
        let mut r2 = tx.subscribe();
        let killed = grove::spawn(move || r2.recv());
        grove::yield_now();
        killed.kill().unwrap();
        assert!(killed.join().unwrap_err().is_killed());
        tx.send(5).unwrap();
        assert_eq!(rx.recv(), Ok(5));
        assert_eq!(tx.receiver_count(), 1);
    });
}
