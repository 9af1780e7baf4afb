//! Waiting for every greenlet of a set.

#[allow(clippy::wildcard_imports)] // a split of the parent module: same names
use super::*;

/// Waits until every greenlet has finished, keeping their results in the handles (gevent's
/// `joinall(greenlets)` without raising).
///
/// # Errors
/// As [`JoinHandle::wait`].
///
/// # Examples
///
/// ```
/// let hs: Vec<_> = (0..3).map(|i| grove::spawn(move || i)).collect();
/// grove::wait_all(&hs).unwrap();
/// assert!(hs.iter().all(|h| h.is_finished()));
/// ```
pub fn wait_all<T: 'static>(handles: &[JoinHandle<T>]) -> Result<(), WaitError> {
    handles.iter().try_for_each(JoinHandle::wait)
}

/// Like [`wait_all`], giving up after `timeout` (gevent's `joinall(greenlets, timeout)`): on
/// [`WaitError::TimedOut`] the handles of those that finished have their results, the others
/// go on.
///
/// # Errors
/// As [`JoinHandle::wait`], and `TimedOut`.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use grove::WaitError;
/// let hs = [grove::spawn(|| ()), grove::spawn(|| grove::sleep(Duration::from_secs(10)))];
/// let r = grove::wait_all_timeout(&hs, Duration::from_millis(10));
/// assert_eq!(r, Err(WaitError::TimedOut));
/// assert!(hs[0].is_finished() && !hs[1].is_finished());
/// ```
pub fn wait_all_timeout<T: 'static>(
    handles: &[JoinHandle<T>],
    timeout: Duration,
) -> Result<(), WaitError> {
    let deadline = crate::time::deadline_after(timeout);
    handles.iter().try_for_each(|h| h.wait_until(deadline))
}

/// Waits for every greenlet and returns their results in order (gevent's `joinall`). The
/// total wait is that of the slowest, since they all run concurrently.
///
/// # Examples
///
/// ```
/// let hs = (1..=3).map(|i| grove::spawn(move || i * 2));
/// let results: Vec<i32> = grove::joinall(hs).into_iter().map(Result::unwrap).collect();
/// assert_eq!(results, [2, 4, 6]);
/// ```
pub fn joinall<T: 'static>(
    handles: impl IntoIterator<Item = JoinHandle<T>>,
) -> Vec<Result<T, JoinError>> {
    handles.into_iter().map(JoinHandle::join).collect()
}
