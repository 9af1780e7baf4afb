//! Waiting on several greenlets: the first failure cancels the rest (`try_joinall`), or the
//! first `n` to finish (`wait_n`).

use std::time::{Duration, Instant};

use super::Select;
use crate::hub::WaitError;
use crate::JoinHandle;

/// Joins every greenlet; the first that fails — panics or is killed — makes the others be
/// killed, and its error is returned (Go's `errgroup`, gevent's `joinall(raise_error=True)`).
/// Results come back in input order when all succeed. Failures are seen as they happen, in
/// any order, not in input order.
///
/// ```
/// let ok = grove::try_joinall([grove::spawn(|| 1), grove::spawn(|| 2)]);
/// assert_eq!(ok.unwrap(), [1, 2]);
/// let slow = grove::spawn(|| { grove::sleep(std::time::Duration::from_secs(3600)); 0 });
/// let failing = grove::spawn(|| -> i32 { panic!("boom") });
/// assert!(grove::try_joinall([slow, failing]).unwrap_err().is_panic());
/// ```
///
/// # Errors
/// The first failure's [`JoinError`](crate::JoinError); `JoinError::Wait` if the wait itself ended (the
/// others are killed then too).
pub fn try_joinall<T: 'static>(
    handles: impl IntoIterator<Item = JoinHandle<T>>,
) -> Result<Vec<T>, crate::JoinError> {
    let mut pending: Vec<Option<JoinHandle<T>>> = handles.into_iter().map(Some).collect();
    let mut values: Vec<Option<T>> = pending.iter().map(|_| None).collect();
    /// Kills what is still pending however this function is left (a failure, an unwind).
    struct KillRest<'p, T: 'static>(&'p mut Vec<Option<JoinHandle<T>>>);
    impl<T: 'static> Drop for KillRest<'_, T> {
        fn drop(&mut self) {
            for h in self.0.iter().flatten() {
                h.kill_nowait();
            }
            for h in self.0.iter().flatten() {
                let _ = h.wait();
            }
        }
    }
    let rest = KillRest(&mut pending);
    loop {
        for (slot, value) in rest.0.iter_mut().zip(values.iter_mut()) {
            if slot.as_ref().is_some_and(JoinHandle::is_finished) {
                let h = slot.take().expect("checked");
                *value = Some(h.join()?);
            }
        }
        if rest.0.iter().all(Option::is_none) {
            return Ok(values.into_iter().map(|v| v.expect("joined")).collect());
        }
        first_to_finish(rest.0.iter().flatten(), None)?;
    }
}

/// Waits until one of `handles` finishes; returns its position in the iteration.
fn first_to_finish<'h, T: 'static>(
    handles: impl Iterator<Item = &'h JoinHandle<T>>,
    deadline: Option<Instant>,
) -> Result<usize, WaitError> {
    let mut sel = Select::new();
    for h in handles {
        sel.join(h);
    }
    sel.wait_until(deadline)
}

/// Waits until `n` of the greenlets have finished (all of them if `n` is larger) and returns
/// their indices in the order they were seen to finish; those already finished come first, in
/// index order (gevent's `wait(greenlets, count=n)`; `n == 1` is "wait for any"). Results stay
/// in the handles. Each wakeup costs a pass over the unfinished handles, so prefer
/// [`wait_all`](crate::wait_all) to wait for every one of a large set.
///
/// # Errors
/// As [`JoinHandle::wait`]: [`WaitError::Deadlock`] on the main greenlet when nothing can make
/// enough of them finish, [`WaitError::Interrupted`] when the caller is unwinding.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// let hs = [
///     grove::spawn(|| grove::sleep(Duration::from_secs(10))),
///     grove::spawn(|| ()),
/// ];
/// assert_eq!(grove::wait_n(&hs, 1), Ok(vec![1])); // the first to finish
/// hs[0].kill().unwrap();
/// ```
pub fn wait_n<T: 'static>(handles: &[JoinHandle<T>], n: usize) -> Result<Vec<usize>, WaitError> {
    wait_n_until(handles, n, None)
}

/// Like [`wait_n`], giving up after `timeout` ([`WaitError::TimedOut`]; the greenlets go on,
/// and `is_finished` tells which ended).
///
/// # Errors
/// As [`wait_n`], and `TimedOut`.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use grove::WaitError;
/// let hs = [grove::spawn(|| ()), grove::spawn(|| grove::sleep(Duration::from_secs(10)))];
/// assert_eq!(grove::wait_n_timeout(&hs, 2, Duration::from_millis(5)), Err(WaitError::TimedOut));
/// assert!(hs[0].is_finished() && !hs[1].is_finished());
/// hs[1].kill().unwrap();
/// ```
pub fn wait_n_timeout<T: 'static>(
    handles: &[JoinHandle<T>],
    n: usize,
    timeout: Duration,
) -> Result<Vec<usize>, WaitError> {
    wait_n_until(handles, n, crate::time::deadline_after(timeout))
}

/// Like [`wait_n`], giving up at `deadline`.
///
/// # Errors
/// As [`wait_n_timeout`].
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
/// let hs: Vec<_> = (0..3).map(|_| grove::spawn(|| ())).collect();
/// let first_two = grove::wait_n_deadline(&hs, 2, Instant::now() + Duration::from_secs(5));
/// assert_eq!(first_two.unwrap().len(), 2);
/// ```
pub fn wait_n_deadline<T: 'static>(
    handles: &[JoinHandle<T>],
    n: usize,
    deadline: Instant,
) -> Result<Vec<usize>, WaitError> {
    wait_n_until(handles, n, Some(deadline))
}

fn wait_n_until<T: 'static>(
    handles: &[JoinHandle<T>],
    n: usize,
    deadline: Option<Instant>,
) -> Result<Vec<usize>, WaitError> {
    let n = n.min(handles.len());
    let mut seen = vec![false; handles.len()];
    let mut done = Vec::with_capacity(n);
    loop {
        for (i, h) in handles.iter().enumerate() {
            if done.len() < n && !seen[i] && h.is_finished() {
                seen[i] = true;
                done.push(i);
            }
        }
        if done.len() == n {
            return Ok(done);
        }
        let pending = handles.iter().enumerate().filter(|(i, _)| !seen[*i]);
        let k = first_to_finish(pending.clone().map(|(_, h)| h), deadline)?;
        let (i, _) = pending.clone().nth(k).expect("a pending handle finished");
        seen[i] = true;
        done.push(i);
    }
}
