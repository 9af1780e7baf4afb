//! Waiting for the first of several things (Go's `select`, gevent's `wait(objects, count=1)`):
//! an item in a queue, room in a bounded queue, an event being set, a greenlet finishing — or
//! a deadline.
//!
//! ```
//! use grove::select::Select;
//! use grove::sync::{Event, Queue};
//! use std::time::Duration;
//!
//! let jobs: Queue<u32> = Queue::unbounded();
//! let stop = Event::new();
//! let (j, s) = (jobs.clone(), stop.clone());
//! let worker = grove::spawn(move || {
//!     let mut done = 0;
//!     loop {
//!         let mut sel = Select::new();
//!         let job = sel.recv(&j);
//!         let quit = sel.event(&s);
//!         match sel.wait_timeout(Duration::from_secs(5)) {
//!             Ok(i) if i == job => done += j.try_get().unwrap(),
//!             Ok(i) if i == quit => return done,
//!             _ => return done,
//!         }
//!     }
//! });
//! jobs.put(2).unwrap();
//! jobs.put(3).unwrap();
//! grove::yield_now();
//! stop.set();
//! assert_eq!(worker.join().unwrap(), 5);
//! ```
//!
//! `wait` returns the index of an operation that would not block now; the caller then does it
//! with the non-blocking call (`try_get`, `try_put`, `join`, ...). Greenlets are cooperative,
//! so nothing else runs between the two: the readiness `wait` saw still holds. When several
//! are ready, the first registered wins.
//!
//! Underneath, one wakeup token of the waiting greenlet sits in the wait list of every
//! operation; the first wakeup wins (a token wakes a park once), the others find it stale and
//! move on to their next waiter. A notification the select consumed is passed on to that list
//! when it leaves, so another getter of the same queue is never left asleep with an item queued
//! (it may get a spurious wakeup instead, which every wait in grove re-checks).

use std::fmt;
use std::time::{Duration, Instant};

use crate::hub::{self, Token, WaitError};
use crate::sync::{Event, Queue, Store, WaitList};
use crate::JoinHandle;

/// One thing a [`Select`] can wait for.
trait Source {
    /// Whether the operation would not block now.
    fn ready(&self) -> bool;
    /// Queues `tok` where the operation's waiters wait.
    fn register(&self, tok: &Token);
    /// Takes `tok` back; `false` if a notifier had already popped it.
    fn withdraw(&self, tok: &Token) -> bool;
    /// Passes on a notification the select consumed without using it.
    fn pass_on(&self);
}

struct List<'a> {
    ready: Box<dyn Fn() -> bool + 'a>,
    list: &'a WaitList,
}

impl Source for List<'_> {
    fn ready(&self) -> bool {
        (self.ready)()
    }
    fn register(&self, tok: &Token) {
        self.list.register(tok.clone());
    }
    fn withdraw(&self, tok: &Token) -> bool {
        self.list.withdraw(tok)
    }
    fn pass_on(&self) {
        self.list.notify_one();
    }
}

struct Join<'a, T> {
    h: &'a JoinHandle<T>,
}

impl<T: 'static> Source for Join<'_, T> {
    fn ready(&self) -> bool {
        self.h.is_finished()
    }
    fn register(&self, tok: &Token) {
        self.h.fiber().joiners.borrow_mut().push(tok.clone());
    }
    fn withdraw(&self, tok: &Token) -> bool {
        let mut j = self.h.fiber().joiners.borrow_mut();
        match j.iter().position(|t| t.same(tok)) {
            Some(i) => {
                j.remove(i);
                true
            }
            None => false,
        }
    }
    // Joiners are all woken at once: nothing to pass on.
    fn pass_on(&self) {}
}

/// A set of operations to wait on; each `recv`/`send`/`event`/`join` returns the index `wait`
/// reports when that operation is the ready one.
///
/// # Examples
///
/// ```
/// use grove::select::Select;
/// use grove::sync::{Event, Queue};
/// let jobs: Queue<u32> = Queue::unbounded();
/// let stop = Event::new();
/// let mut sel = Select::new();
/// let job = sel.recv(&jobs);
/// let stopped = sel.event(&stop);
/// jobs.put(7).unwrap();
/// let ready = sel.wait().unwrap(); // the index of a ready operation
/// if ready == job {
///     assert_eq!(jobs.try_get(), Ok(7));
/// } else {
///     assert_eq!(ready, stopped);
/// }
/// ```
#[derive(Default)]
pub struct Select<'a> {
    ops: Vec<Box<dyn Source + 'a>>,
}

impl fmt::Debug for Select<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Select({} operations)", self.ops.len())
    }
}

impl<'a> Select<'a> {
    /// An empty set.
    ///
    /// # Examples
    ///
    /// ```
    /// use grove::select::Select;
    /// use grove::WaitError;
    /// let sel = Select::new();
    /// assert_eq!(sel.try_ready(), None);
    /// assert_eq!(sel.wait(), Err(WaitError::Deadlock)); // an empty set never becomes ready
    /// ```
    pub fn new() -> Select<'a> {
        Select::default()
    }

    fn add(&mut self, op: Box<dyn Source + 'a>) -> usize {
        self.ops.push(op);
        self.ops.len() - 1
    }

    /// Ready when `q.try_get()` would not say `Empty` (an item, or closed and drained).
    ///
    /// # Examples
    ///
    /// ```
    /// use grove::sync::Queue;
    /// let (a, b): (Queue<&str>, Queue<&str>) = (Queue::unbounded(), Queue::unbounded());
    /// let mut sel = grove::select::Select::new();
    /// let ia = sel.recv(&a);
    /// let ib = sel.recv(&b);
    /// b.put("b").unwrap();
    /// assert_eq!(sel.wait(), Ok(ib));
    /// assert_ne!(ia, ib);
    /// ```
    pub fn recv<T: 'a, S: Store<T> + 'a>(&mut self, q: &'a Queue<T, S>) -> usize {
        let (_, list) = q.recv_readiness();
        self.add(Box::new(List { ready: Box::new(move || q.recv_readiness().0), list }))
    }

    /// Ready when `q.try_put(..)` would not say `Full` (room, or closed).
    ///
    /// # Examples
    ///
    /// ```
    /// let q = grove::sync::Queue::bounded(1);
    /// let mut sel = grove::select::Select::new();
    /// let i = sel.send(&q);
    /// assert_eq!(sel.try_ready(), Some(i)); // room for one
    /// q.put(1).unwrap();
    /// assert_eq!(sel.try_ready(), None); // full
    /// ```
    pub fn send<T: 'a, S: Store<T> + 'a>(&mut self, q: &'a Queue<T, S>) -> usize {
        let (_, list) = q.send_readiness();
        self.add(Box::new(List { ready: Box::new(move || q.send_readiness().0), list }))
    }

    /// Ready when the event is set.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let ev = grove::sync::Event::new();
    /// let e = ev.clone();
    /// let _h = grove::spawn(move || e.set());
    /// let mut sel = grove::select::Select::new();
    /// let i = sel.event(&ev);
    /// assert_eq!(sel.wait_timeout(Duration::from_secs(1)), Ok(i));
    /// ```
    pub fn event(&mut self, ev: &'a Event) -> usize {
        let (_, list) = ev.readiness();
        self.add(Box::new(List { ready: Box::new(move || ev.readiness().0), list }))
    }

    /// Ready when the greenlet has finished (`join` returns at once).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let fast = grove::spawn(|| grove::sleep(Duration::from_millis(1)));
    /// let slow = grove::spawn(|| grove::sleep(Duration::from_secs(10)));
    /// let mut sel = grove::select::Select::new();
    /// let f = sel.join(&fast);
    /// sel.join(&slow);
    /// assert_eq!(sel.wait(), Ok(f));
    /// slow.kill().unwrap();
    /// ```
    pub fn join<T: 'static>(&mut self, h: &'a JoinHandle<T>) -> usize {
        self.add(Box::new(Join { h }))
    }

    /// Waits until one operation is ready and returns its index. Inside an expiring `timeout`
    /// scope it unwinds to the scope.
    ///
    /// # Errors
    /// [`WaitError::Deadlock`] on the main greenlet when nothing can ever make one ready (an
    /// empty set included); [`WaitError::Interrupted`] when the caller is unwinding.
    ///
    /// # Examples
    ///
    /// ```
    /// use grove::sync::Queue;
    /// let q = Queue::unbounded();
    /// let tx = q.clone();
    /// let _h = grove::spawn(move || tx.put(1).unwrap());
    /// let mut sel = grove::select::Select::new();
    /// let i = sel.recv(&q);
    /// assert_eq!(sel.wait(), Ok(i)); // blocks until the greenlet has put
    /// ```
    pub fn wait(&self) -> Result<usize, WaitError> {
        self.wait_until(None)
    }

    /// Like [`wait`](Self::wait), giving up after `timeout` ([`WaitError::TimedOut`]).
    ///
    /// # Errors
    /// As [`wait`](Self::wait).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use grove::WaitError;
    /// let q: grove::sync::Queue<u8> = grove::sync::Queue::unbounded();
    /// let mut sel = grove::select::Select::new();
    /// sel.recv(&q);
    /// assert_eq!(sel.wait_timeout(Duration::from_millis(5)), Err(WaitError::TimedOut));
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> Result<usize, WaitError> {
        self.wait_until(crate::time::deadline_after(timeout))
    }

    /// Like [`wait`](Self::wait), giving up at `deadline`.
    ///
    /// # Errors
    /// As [`wait`](Self::wait).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let ev = grove::sync::Event::new();
    /// ev.set();
    /// let mut sel = grove::select::Select::new();
    /// let i = sel.event(&ev);
    /// assert_eq!(sel.wait_deadline(Instant::now() + Duration::from_millis(5)), Ok(i));
    /// ```
    pub fn wait_deadline(&self, deadline: Instant) -> Result<usize, WaitError> {
        self.wait_until(Some(deadline))
    }

    /// The index of the first operation that is ready now, without waiting.
    ///
    /// # Examples
    ///
    /// ```
    /// let ev = grove::sync::Event::new();
    /// let mut sel = grove::select::Select::new();
    /// let i = sel.event(&ev);
    /// assert_eq!(sel.try_ready(), None);
    /// ev.set();
    /// assert_eq!(sel.try_ready(), Some(i));
    /// ```
    pub fn try_ready(&self) -> Option<usize> {
        self.ops.iter().position(|op| op.ready())
    }

    fn wait_until(&self, deadline: Option<Instant>) -> Result<usize, WaitError> {
        loop {
            if let Some(i) = self.try_ready() {
                return Ok(i);
            }
            hub::with(|h| {
                let tok = h.token();
                for op in &self.ops {
                    op.register(&tok);
                }
                // Runs however the park ends (woken, timed out, killed, scope expired).
                let _leave = Leave { ops: &self.ops, tok };
                h.park(deadline, "select").result()
            })?;
        }
    }
}

/// Takes the select's token back from every list, passing on a notification it consumed.
struct Leave<'s, 'a> {
    ops: &'s [Box<dyn Source + 'a>],
    tok: Token,
}

impl Drop for Leave<'_, '_> {
    fn drop(&mut self) {
        let notified = self.tok.was_notified();
        for op in self.ops {
            // Popped and the park was notified: this list (or another that popped it stale)
            // spent a notification on us; pass one on so no waiter there is left asleep.
            if !op.withdraw(&self.tok) && notified {
                op.pass_on();
            }
        }
    }
}

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
