//! The JoinableQueue side of a queue: `task_done` and `join`.

use std::time::{Duration, Instant};

use super::{Queue, Store};
use crate::hub::WaitError;

impl<T, S: Store<T>> Queue<T, S> {
    /// Marks one item taken with `get` as processed (JoinableQueue).
    ///
    /// # Panics
    /// If called more times than items were put.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = grove::sync::Queue::unbounded();
    /// q.put("job").unwrap();
    /// let _job = q.get().unwrap();
    /// assert_eq!(q.unfinished(), 1);
    /// q.task_done();
    /// assert_eq!(q.unfinished(), 0);
    /// ```
    pub fn task_done(&self) {
        let i = &self.inner;
        let n = i.unfinished.get();
        assert!(n > 0, "grove: task_done() called more times than items were put");
        i.unfinished.set(n - 1);
        if n == 1 {
            i.all_done.notify_all();
        }
    }

    /// Items put and not yet marked with [`task_done`](Self::task_done).
    ///
    /// # Examples
    ///
    /// ```
    /// let q = grove::sync::Queue::unbounded();
    /// q.put(1).unwrap();
    /// q.get().unwrap();
    /// assert_eq!(q.unfinished(), 1); // taken, not yet marked done
    /// ```
    pub fn unfinished(&self) -> usize {
        self.inner.unfinished.get()
    }

    /// Waits until every item put has been marked done (JoinableQueue).
    ///
    /// # Errors
    /// [`WaitError::Deadlock`] on the main greenlet when nothing can ever finish the items;
    /// [`WaitError::Interrupted`] when the caller is unwinding.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = grove::sync::Queue::unbounded();
    /// let worker_q = q.clone();
    /// let _worker = grove::spawn(move || {
    ///     while let Ok(_job) = worker_q.get() {
    ///         worker_q.task_done();
    ///     }
    /// });
    /// for job in 0..3 {
    ///     q.put(job).unwrap();
    /// }
    /// q.join().unwrap(); // every job processed
    /// q.close();
    /// ```
    pub fn join(&self) -> Result<(), WaitError> {
        self.join_until(None)
    }

    /// Like [`join`](Self::join), giving up after `timeout`.
    ///
    /// # Errors
    /// [`WaitError::TimedOut`], or as [`join`](Self::join).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use grove::sync::{Queue, WaitError};
    /// let q = Queue::unbounded();
    /// q.put(1).unwrap(); // nobody takes it
    /// assert_eq!(q.join_timeout(Duration::from_millis(5)), Err(WaitError::TimedOut));
    /// ```
    pub fn join_timeout(&self, timeout: Duration) -> Result<(), WaitError> {
        self.join_until(crate::time::deadline_after(timeout))
    }

    /// Like [`join`](Self::join), giving up at `deadline`.
    ///
    /// # Errors
    /// [`WaitError::TimedOut`], or as [`join`](Self::join).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let q: grove::sync::Queue<u8> = grove::sync::Queue::unbounded();
    /// q.join_deadline(Instant::now() + Duration::from_millis(5)).unwrap(); // nothing pending
    /// ```
    pub fn join_deadline(&self, deadline: Instant) -> Result<(), WaitError> {
        self.join_until(Some(deadline))
    }

    fn join_until(&self, deadline: Option<Instant>) -> Result<(), WaitError> {
        while self.inner.unfinished.get() > 0 {
            self.inner.all_done.wait(deadline, "Queue::join")?;
        }
        Ok(())
    }
}
