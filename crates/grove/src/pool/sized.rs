//! `Pool`: a group with a bound on how many run at once.

#[allow(clippy::wildcard_imports)] // a split of the parent module: same names
use super::*;

/// A [`Group`] that runs at most `size` greenlets at once: `spawn` waits for a free slot.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use grove::pool::Pool;
/// let pool = Pool::new(2); // at most two at a time
/// for _ in 0..4 {
///     pool.spawn(|| grove::sleep(Duration::from_millis(5))).unwrap(); // waits for a slot
/// }
/// pool.join().unwrap();
/// ```
#[derive(Clone)]
pub struct Pool {
    group: Group,
    /// `imap_unordered` feeders: killed with the pool, not counted in its length (gevent
    /// spawns them outside the pool too).
    feeders: Group,
    slots: Semaphore,
    size: usize,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pool(size: {}, running: {})", self.size, self.group.len())
    }
}

impl Pool {
    /// A pool of `size` slots.
    ///
    /// # Panics
    /// If `size` is 0.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = grove::pool::Pool::new(8);
    /// assert_eq!(pool.size(), 8);
    /// ```
    pub fn new(size: usize) -> Pool {
        assert!(size > 0, "grove: a Pool needs at least one slot");
        Pool { group: Group::new(), feeders: Group::new(), slots: Semaphore::new(size), size }
    }

    /// The pool's size.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = grove::pool::Pool::new(4);
    /// assert_eq!(pool.size(), 4);
    /// ```
    pub fn size(&self) -> usize {
        self.size
    }

    /// Free slots right now.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = grove::pool::Pool::new(2);
    /// pool.spawn(|| ()).unwrap();
    /// assert_eq!(pool.available(), 1);
    /// pool.join().unwrap();
    /// assert_eq!(pool.available(), 2);
    /// ```
    pub fn available(&self) -> usize {
        self.slots.available()
    }

    /// Waits until at least one slot is free.
    ///
    /// # Errors
    /// As [`Semaphore::acquire`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let pool = grove::pool::Pool::new(1);
    /// pool.spawn(|| grove::sleep(Duration::from_millis(5))).unwrap();
    /// pool.wait_available().unwrap(); // returns once the sleeper is done
    /// assert_eq!(pool.available(), 1);
    /// ```
    pub fn wait_available(&self) -> Result<(), WaitError> {
        self.slots.acquire().map(drop)
    }

    /// Waits for a free slot, then spawns `f` into it. Inside an expiring `timeout` scope the
    /// wait for a slot unwinds to the scope.
    ///
    /// # Errors
    /// As [`Semaphore::acquire`]: [`WaitError::Deadlock`] on the main greenlet when no slot
    /// can ever free, [`WaitError::Interrupted`] when the caller is unwinding.
    ///
    /// # Panics
    /// As [`crate::spawn`], when the kernel refuses another stack.
    ///
    /// # Examples
    ///
    /// ```
    /// use grove::pool::Pool;
    /// let pool = Pool::new(1);
    /// let a = pool.spawn(|| 1).unwrap();
    /// let b = pool.spawn(|| 2).unwrap(); // waits until `a` is done
    /// assert_eq!(a.join().unwrap() + b.join().unwrap(), 3);
    /// ```
    #[track_caller]
    pub fn spawn<T: 'static>(
        &self,
        f: impl FnOnce() -> T + 'static,
    ) -> Result<JoinHandle<T>, WaitError> {
        let permit = self.slots.acquire()?;
        Ok(self.group.spawn_with(None, Some(permit), f))
    }

    /// Runs `f` on every item, at most `size` at a time; results in input order.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = grove::pool::Pool::new(2);
    /// let squares: Vec<u32> =
    ///     pool.map(1..=4, |x: u32| x * x).into_iter().map(Result::unwrap).collect();
    /// assert_eq!(squares, [1, 4, 9, 16]);
    /// ```
    pub fn map<I, T, R>(&self, items: I, f: impl Fn(T) -> R + 'static) -> Vec<Result<R, JoinError>>
    where
        I: IntoIterator<Item = T>,
        T: 'static,
        R: 'static,
    {
        map_by(items, f, |job| self.spawn(job))
    }

    /// Runs `f` on every item, at most `size` at a time, yielding results as they complete
    /// (gevent's `imap_unordered`). Items are taken from `items` lazily, as slots free up.
    ///
    /// The work belongs to the pool: one worker per item runs as a member of the pool
    /// ([`len`](Self::len) counts them, [`kill`](Self::kill) kills them; a killed worker
    /// yields `Err(JoinError::Killed)`), and the feeder greenlet that takes items and spawns
    /// workers is killed with the pool too. Dropping the iterator kills whatever of this
    /// call is still running or waiting to be fed. A panic of the `items` iterator itself
    /// continues in the consumer's `next()` (after killing this call's workers), as it would
    /// have in a plain loop. If the main greenlet waits for a result nothing can produce, the
    /// iterator yields `Err(JoinError::Wait(WaitError::Deadlock))` and ends.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let pool = grove::pool::Pool::new(3);
    /// let mut done: Vec<u64> = pool
    ///     .imap_unordered([30, 10, 20], |ms: u64| {
    ///         grove::sleep(Duration::from_millis(ms));
    ///         ms
    ///     })
    ///     .map(Result::unwrap)
    ///     .collect(); // in completion order: [10, 20, 30]
    /// done.sort();
    /// assert_eq!(done, [10, 20, 30]);
    /// ```
    pub fn imap_unordered<I, T, R>(
        &self,
        items: I,
        f: impl Fn(T) -> R + 'static,
    ) -> impl Iterator<Item = Result<R, JoinError>>
    where
        I: IntoIterator<Item = T>,
        I::IntoIter: 'static,
        T: 'static,
        R: 'static,
    {
        let results: Queue<Fed<R>> = Queue::unbounded();
        let own = Group::new();
        // The queue closes when the feeder and every worker are gone, however they end.
        let closer = Rc::new(CloseOnDrop(results.clone()));
        let (pool, out, workers, f) = (self.clone(), results.clone(), own.clone(), Rc::new(f));
        let mut items = items.into_iter();
        self.feeders.spawn_with(Some(&own), None, move || {
            let close = closer;
            loop {
                // Only an unwind (kill) can end this wait: a feeder is never main.
                let Ok(permit) = pool.slots.acquire() else { break };
                let item = match panic::catch_unwind(AssertUnwindSafe(|| items.next())) {
                    Ok(Some(item)) => item,
                    Ok(None) => break,
                    Err(p) if p.is::<GreenletExit>() || hub::is_scope_expiry(&*p) => {
                        panic::resume_unwind(p)
                    }
                    Err(p) => {
                        let _ = out.put(Fed::InputPanicked(p));
                        break;
                    }
                };
                let report = Report { out: out.clone(), sent: false, _close: close.clone() };
                let f = f.clone();
                pool.group.spawn_with(Some(&workers), Some(permit), move || {
                    let mut report = report;
                    let r = panic::catch_unwind(AssertUnwindSafe(|| f(item)));
                    let r = match r {
                        Ok(v) => Ok(v),
                        // `report` yields `Killed` on the way out.
                        Err(p) if p.is::<GreenletExit>() => panic::resume_unwind(p),
                        Err(p) => Err(JoinError::Panicked(p)),
                    };
                    report.sent = true;
                    let _ = report.out.put(Fed::Done(r));
                });
            }
        });
        ImapUnordered { results, own, done: false }
    }

    /// Waits until every greenlet of the pool has finished.
    ///
    /// # Errors
    /// As [`Group::join`].
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = grove::pool::Pool::new(2);
    /// let h = pool.spawn(|| 5).unwrap();
    /// pool.join().unwrap();
    /// assert!(h.is_finished());
    /// ```
    pub fn join(&self) -> Result<(), WaitError> {
        self.group.join()
    }

    /// Kills every greenlet of the pool (and `imap_unordered` feeders) and waits until they
    /// are gone.
    ///
    /// # Errors
    /// As [`Group::join`]: the kills are requested either way.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let pool = grove::pool::Pool::new(2);
    /// let h = pool.spawn(|| grove::sleep(Duration::from_secs(60))).unwrap();
    /// pool.kill().unwrap();
    /// assert!(h.join().unwrap_err().is_killed());
    /// ```
    pub fn kill(&self) -> Result<(), WaitError> {
        let feeders = self.feeders.kill();
        self.group.kill().and(feeders)
    }

    /// Greenlets running in the pool.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = grove::pool::Pool::new(4);
    /// pool.spawn(|| ()).unwrap();
    /// assert_eq!(pool.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.group.len()
    }

    /// Whether no greenlet is running in the pool.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = grove::pool::Pool::new(4);
    /// assert!(pool.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.group.is_empty()
    }
}
