//! The result side of a remote spawn: [`SendJoinHandle`] and the [`Completer`] that travels
//! with the job and guarantees the handle completes however the job ends.

use std::fmt;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::admission::Admission;
use crate::sync::{AsyncError, AsyncResult};
use crate::{JoinError, WaitError};

type Slot<T> = Arc<Mutex<Option<Result<T, JoinError>>>>;

/// Where a remote spawn's greenlet is, for killing it from its `SendJoinHandle`.
#[derive(Default)]
pub(crate) struct Target {
    /// A kill was asked for: a job not started yet must never start.
    pub(crate) cancelled: bool,
    /// The greenlet once it exists: its hub and its key and id there.
    pub(crate) at: Option<(Arc<crate::hub::Remote>, usize, u64)>,
}

pub(crate) type SharedTarget = Arc<Mutex<Target>>;

/// Completes a [`SendJoinHandle`] exactly once and gives the spawn's admission slot back.
/// Dropped without a result (its job was dropped unrun at shutdown, its greenlet was killed
/// before it started, the hub refused the job), it completes the handle with
/// [`JoinError::Killed`]: no joiner ever waits for a job that no longer exists.
pub(crate) struct Completer<T> {
    /// Shared with the handle, for `kill`.
    pub(crate) target: SharedTarget,
    done: AsyncResult<()>,
    slot: Slot<T>,
    admit: Arc<Admission>,
    hub: usize,
    /// Still counted in `admit.queued[hub]`.
    queued: bool,
    /// Holds an admission slot.
    admitted: bool,
    finished: bool,
}

impl<T> Completer<T> {
    /// A completer for a job queued to `hub`, and the handle it completes.
    pub(crate) fn new(
        admit: Arc<Admission>,
        hub: usize,
        admitted: bool,
    ) -> (Completer<T>, SendJoinHandle<T>) {
        admit.queued[hub].fetch_add(1, Relaxed);
        let done = AsyncResult::new();
        let slot: Slot<T> = Arc::new(Mutex::new(None));
        let target = SharedTarget::default();
        let handle =
            SendJoinHandle { done: done.clone(), slot: slot.clone(), target: target.clone() };
        let completer =
            Completer { target, done, slot, admit, hub, queued: true, admitted, finished: false };
        (completer, handle)
    }

    /// The job left the queue and runs on its hub.
    pub(crate) fn started(&mut self) {
        if std::mem::replace(&mut self.queued, false) {
            self.admit.queued[self.hub].fetch_sub(1, Relaxed);
        }
    }

    pub(crate) fn finish(mut self, r: Result<T, JoinError>) {
        self.complete(r);
    }

    fn complete(&mut self, r: Result<T, JoinError>) {
        if std::mem::replace(&mut self.finished, true) {
            return;
        }
        self.started();
        *self.slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
        // The slot is free before the joiner can see the result: a spawn right after a join
        // never waits for this greenlet.
        if self.admitted {
            self.admit.release();
        }
        self.done.set(());
    }
}

impl<T> Drop for Completer<T> {
    fn drop(&mut self) {
        self.complete(Err(JoinError::Killed));
    }
}

/// The result of a greenlet spawned on a runtime hub; `Send`, so any thread or hub can wait.
///
/// # Examples
///
/// ```
/// let rt = grove::Runtime::builder().hubs(1).build()?;
/// let h: grove::SendJoinHandle<u32> = rt.spawn(|| 7);
/// // `Send`: any thread can wait for it.
/// let v = std::thread::spawn(move || h.join().unwrap()).join().unwrap();
/// assert_eq!(v, 7);
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct SendJoinHandle<T> {
    done: AsyncResult<()>,
    slot: Slot<T>,
    target: SharedTarget,
}

impl<T> fmt::Debug for SendJoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SendJoinHandle(finished: {})", self.done.is_ready())
    }
}

impl<T> SendJoinHandle<T> {
    /// A handle that is already complete (the job never left the caller).
    pub(crate) fn completed(r: Result<T, JoinError>) -> SendJoinHandle<T> {
        let done = AsyncResult::new();
        done.set(());
        SendJoinHandle {
            done,
            slot: Arc::new(Mutex::new(Some(r))),
            target: SharedTarget::default(),
        }
    }

    /// Whether the greenlet has finished.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = grove::Runtime::builder().hubs(1).build()?;
    /// let h = rt.spawn(|| ());
    /// h.wait().unwrap();
    /// assert!(h.is_finished());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn is_finished(&self) -> bool {
        self.done.is_ready()
    }

    /// Waits (cooperatively) for the greenlet to finish, keeping the result in the handle for
    /// [`join`](Self::join).
    ///
    /// # Errors
    /// [`WaitError::Deadlock`] on a main greenlet whose hub can never see it finish,
    /// [`WaitError::Interrupted`] if the caller is unwinding.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = grove::Runtime::builder().hubs(1).build()?;
    /// let h = rt.spawn(|| 3);
    /// h.wait().unwrap(); // the value stays in the handle
    /// assert_eq!(h.join().unwrap(), 3);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn wait(&self) -> Result<(), WaitError> {
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
    /// let rt = grove::Runtime::builder().hubs(1).build()?;
    /// let h = rt.spawn(|| grove::sleep(Duration::from_secs(60)));
    /// assert_eq!(h.wait_timeout(Duration::from_millis(5)), Err(WaitError::TimedOut));
    /// h.kill().unwrap();
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> Result<(), WaitError> {
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
    /// let rt = grove::Runtime::builder().hubs(1).build()?;
    /// let h = rt.spawn(|| ());
    /// h.wait_deadline(Instant::now() + Duration::from_secs(5)).unwrap();
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn wait_deadline(&self, deadline: Instant) -> Result<(), WaitError> {
        self.wait_until(Some(deadline))
    }

    fn wait_until(&self, deadline: Option<Instant>) -> Result<(), WaitError> {
        match self.done.get_until(deadline) {
            Ok(()) => Ok(()),
            Err(AsyncError::Wait(e)) => Err(e),
            // The completer only ever sets a value.
            Err(AsyncError::Failed(_)) => Ok(()),
        }
    }

    /// Waits (cooperatively) for the greenlet and returns its value.
    ///
    /// # Errors
    /// [`JoinError::Killed`] when the greenlet was killed or never ran (also when the runtime
    /// shut down first: every spawn's handle completes, even a job dropped unrun);
    /// [`JoinError::Panicked`] when it panicked — or when its hub could not map a stack for
    /// it, with a `String` payload naming the kernel limit; [`JoinError::Wait`] as
    /// [`wait`](Self::wait).
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = grove::Runtime::builder().hubs(1).build()?;
    /// assert_eq!(rt.spawn(|| 1).join().unwrap(), 1);
    /// let bad = rt.spawn(|| -> u8 { panic!("boom") });
    /// assert!(bad.join().unwrap_err().is_panic());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn join(self) -> Result<T, JoinError> {
        self.wait()?;
        self.take()
    }

    /// Like [`join`](Self::join), giving up after `timeout`.
    ///
    /// # Errors
    /// As [`join`](Self::join).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use grove::WaitError;
    /// let rt = grove::Runtime::builder().hubs(1).build()?;
    /// let h = rt.spawn(|| grove::sleep(Duration::from_secs(60)));
    /// let e = h.join_timeout(Duration::from_millis(5)).unwrap_err();
    /// assert_eq!(e.wait_error(), Some(WaitError::TimedOut));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn join_timeout(self, timeout: Duration) -> Result<T, JoinError> {
        self.wait_timeout(timeout)?;
        self.take()
    }

    /// Asks the greenlet to die, from any thread, and returns at once: it unwinds on its hub
    /// the next time that hub runs it (destructors run there); a spawn still queued never
    /// starts. [`join`](Self::join) then reports [`JoinError::Killed`] (unless it had already
    /// finished).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let rt = grove::Runtime::builder().hubs(1).build()?;
    /// let h = rt.spawn(|| grove::sleep(Duration::from_secs(60)));
    /// h.kill_nowait(); // from this thread; it unwinds on its hub
    /// assert!(h.join().unwrap_err().is_killed());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn kill_nowait(&self) {
        let mut t = self.target.lock().unwrap_or_else(|e| e.into_inner());
        t.cancelled = true;
        if let Some((remote, key, id)) = t.at.clone() {
            drop(t);
            remote.send(crate::hub::RemoteMsg::Call(Box::new(move || {
                crate::hub::with(|h| h.kill_key(key, id));
            })));
        }
    }

    /// Kills the greenlet (see [`kill_nowait`](Self::kill_nowait)) and waits until it is
    /// dead.
    ///
    /// # Errors
    /// As [`wait`](Self::wait): the kill is requested either way.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let rt = grove::Runtime::builder().hubs(1).build()?;
    /// let h = rt.spawn(|| grove::sleep(Duration::from_secs(60)));
    /// h.kill().unwrap();
    /// assert!(h.is_finished());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn kill(&self) -> Result<(), WaitError> {
        self.kill_nowait();
        self.wait()
    }

    fn take(&self) -> Result<T, JoinError> {
        self.slot.lock().unwrap_or_else(|e| e.into_inner()).take().unwrap_or(Err(JoinError::Killed))
    }
}
