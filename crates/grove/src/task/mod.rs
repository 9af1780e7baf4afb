//! Spawning greenlets on the hub and waiting for them: `spawn`, `Builder`, `JoinHandle`.

use std::any::Any;
use std::fmt;
use std::io;
use std::marker::PhantomData;
use std::panic::{self, AssertUnwindSafe, Location};
use std::time::{Duration, Instant};

use crate::greenlet::Greenlet;
use crate::hub::fiber::create;
use crate::hub::fiber::panic_message;
use crate::hub::fiber::{Fiber, FiberRef, Kind, State};
use crate::hub::WaitError;
use crate::hub::{self, TimerAction};
use crate::GreenletExit;

mod builder;
mod error;
mod wait;

pub use builder::Builder;
use error::report_unjoined;
pub use error::JoinError;
pub use wait::{joinall, wait_all, wait_all_timeout};

/// Spawns a greenlet running `f` on this thread's hub and returns at once; the greenlet runs
/// when the hub next gets control (FIFO), i.e. when the caller blocks or yields.
///
/// ```
/// let h = grove::spawn(|| 6 * 7);
/// assert_eq!(h.join().unwrap(), 42);
/// ```
///
/// # Panics
/// When the kernel refuses another stack (see [`try_spawn`]).
#[track_caller]
pub fn spawn<T: 'static>(f: impl FnOnce() -> T + 'static) -> JoinHandle<T> {
    Builder::new().spawn_at(Location::caller(), f).unwrap_or_else(|e| panic!("{e}"))
}

/// Like [`spawn`], but returns the error instead of panicking when no stack can be had.
///
/// # Errors
/// See [`Builder::try_spawn`].
///
/// # Examples
///
/// ```
/// let h = grove::try_spawn(|| "ok")?;
/// assert_eq!(h.join().unwrap(), "ok");
/// # Ok::<(), std::io::Error>(())
/// ```
#[track_caller]
pub fn try_spawn<T: 'static>(f: impl FnOnce() -> T + 'static) -> io::Result<JoinHandle<T>> {
    Builder::new().spawn_at(Location::caller(), f)
}

/// Spawns `f` to start after `delay` (gevent's `spawn_later`).
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
/// let start = Instant::now();
/// let h = grove::spawn_later(Duration::from_millis(20), Instant::now);
/// assert!(h.join().unwrap() - start >= Duration::from_millis(20));
/// ```
#[track_caller]
pub fn spawn_later<T: 'static>(delay: Duration, f: impl FnOnce() -> T + 'static) -> JoinHandle<T> {
    Builder::new().delay(delay).spawn_at(Location::caller(), f).unwrap_or_else(|e| panic!("{e}"))
}

/// Owns the right to a spawned greenlet's result. Dropping it detaches the greenlet (it keeps
/// running; a panic nobody will see is then printed with the greenlet's name).
///
/// Not `Send`: the greenlet is pinned to its hub's thread.
///
/// ```compile_fail
/// fn must_be_send<T: Send>(_: T) {}
/// must_be_send(grove::spawn(|| ()));
/// ```
pub struct JoinHandle<T> {
    fiber: FiberRef,
    _t: PhantomData<fn() -> T>,
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "JoinHandle({} {:?})",
            crate::hub::fiber::Id(self.fiber.id),
            self.fiber.state.get()
        )
    }
}

impl<T: 'static> JoinHandle<T> {
    /// Waits until the greenlet has finished, or the deadline passes.
    fn wait_until(&self, deadline: Option<Instant>) -> Result<(), WaitError> {
        while self.fiber.state.get() != State::Dead {
            hub::with(|h| {
                let tok = h.token();
                self.fiber.joiners.borrow_mut().push(tok);
                h.park(deadline, "join")
            })
            .result()?;
        }
        Ok(())
    }

    /// Waits for the greenlet to finish without taking its result (gevent's `join()`).
    /// Inside an expiring `timeout` scope it unwinds to the scope.
    ///
    /// # Errors
    /// [`WaitError::Deadlock`] when called on the main greenlet and nothing can ever finish
    /// the greenlet; [`WaitError::Interrupted`] when the caller is unwinding.
    ///
    /// # Examples
    ///
    /// ```
    /// let h = grove::spawn(|| 5);
    /// h.wait().unwrap();
    /// assert!(h.is_finished());
    /// assert_eq!(h.join().unwrap(), 5); // the value is still there
    /// ```
    pub fn wait(&self) -> Result<(), WaitError> {
        self.wait_until(None)
    }

    /// Like [`wait`](Self::wait), giving up after `timeout` ([`WaitError::TimedOut`]; the
    /// greenlet goes on).
    ///
    /// # Errors
    /// As [`wait`](Self::wait), and `TimedOut`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use grove::WaitError;
    /// let h = grove::spawn(|| grove::sleep(Duration::from_millis(50)));
    /// assert_eq!(h.wait_timeout(Duration::from_millis(1)), Err(WaitError::TimedOut));
    /// assert_eq!(h.wait_timeout(Duration::from_secs(5)), Ok(()));
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> Result<(), WaitError> {
        self.wait_until(crate::time::deadline_after(timeout))
    }

    /// Like [`wait`](Self::wait), giving up at `deadline`.
    ///
    /// # Errors
    /// As [`wait`](Self::wait), and `TimedOut`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let h = grove::spawn(|| grove::sleep(Duration::from_millis(5)));
    /// h.wait_deadline(Instant::now() + Duration::from_secs(5)).unwrap();
    /// ```
    pub fn wait_deadline(&self, deadline: Instant) -> Result<(), WaitError> {
        self.wait_until(Some(deadline))
    }

    /// Waits for the greenlet to finish and returns its value, or why there is none.
    ///
    /// # Errors
    /// [`JoinError::Killed`], [`JoinError::Panicked`] with the payload, or
    /// [`JoinError::Wait`] (as [`wait`](Self::wait)).
    ///
    /// # Examples
    ///
    /// ```
    /// use grove::JoinError;
    /// assert_eq!(grove::spawn(|| 42).join().unwrap(), 42);
    /// let h = grove::spawn(|| -> u32 { panic!("boom") });
    /// assert!(matches!(h.join(), Err(JoinError::Panicked(_))));
    /// ```
    pub fn join(self) -> Result<T, JoinError> {
        self.wait_until(None)?;
        self.take_result()
    }

    /// Like [`join`](Self::join), giving up after `timeout` (`Wait(TimedOut)`; the handle is
    /// gone, the greenlet goes on detached — use [`wait_timeout`](Self::wait_timeout) to keep
    /// it).
    ///
    /// # Errors
    /// As [`join`](Self::join).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use grove::{JoinError, WaitError};
    /// let h = grove::spawn(|| grove::sleep(Duration::from_secs(10)));
    /// let r = h.join_timeout(Duration::from_millis(5));
    /// assert!(matches!(r, Err(JoinError::Wait(WaitError::TimedOut))));
    /// ```
    pub fn join_timeout(self, timeout: Duration) -> Result<T, JoinError> {
        self.wait_timeout(timeout)?;
        self.take_result()
    }

    /// Like [`join`](Self::join), giving up at `deadline`.
    ///
    /// # Errors
    /// As [`join`](Self::join).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let h = grove::spawn(|| 3);
    /// assert_eq!(h.join_deadline(Instant::now() + Duration::from_secs(1)).unwrap(), 3);
    /// ```
    pub fn join_deadline(self, deadline: Instant) -> Result<T, JoinError> {
        self.wait_deadline(deadline)?;
        self.take_result()
    }

    fn take_result(&self) -> Result<T, JoinError> {
        let value = self.fiber.result.borrow_mut().take();
        if let Some(v) = value {
            return Ok(*v.downcast::<T>().expect("grove: result type mismatch"));
        }
        let panic = self.fiber.take_panic();
        Err(panic.map_or(JoinError::Killed, JoinError::Panicked))
    }

    /// Runs `f` on the hub once the greenlet has finished — returned, panicked or been killed
    /// (gevent's `link`): at the next loop turn after it ends, or at the next turn if it already
    /// has. `f` runs as a hub callback: it must not block (spawn a greenlet for that), and a
    /// panic in it is reported and contained. The value stays in the handle for `join`.
    ///
    /// ```
    /// use std::cell::Cell;
    /// use std::rc::Rc;
    /// let done = Rc::new(Cell::new(false));
    /// let d = done.clone();
    /// let h = grove::spawn(|| 1);
    /// h.on_done(move || d.set(true));
    /// assert_eq!(h.join().unwrap(), 1);
    /// grove::yield_now(); // the callback runs at the next loop turn
    /// assert!(done.get());
    /// ```
    pub fn on_done(&self, f: impl FnOnce() + 'static) {
        if self.is_finished() {
            hub::with(|h| h.add_callback(Box::new(f)));
        } else {
            self.fiber.add_on_done(Box::new(f));
        }
    }

    /// Whether the greenlet has finished (returned, panicked or been killed).
    ///
    /// # Examples
    ///
    /// ```
    /// let h = grove::spawn(|| ());
    /// assert!(!h.is_finished()); // not started yet
    /// h.wait().unwrap();
    /// assert!(h.is_finished());
    /// ```
    pub fn is_finished(&self) -> bool {
        self.fiber.state.get() == State::Dead
    }

    /// Kills the greenlet and waits until it is dead: it unwinds from the call it is blocked
    /// in (destructors run, locks are released) and `join` then reports
    /// [`JoinError::Killed`]. A greenlet that has not started never runs. Killing the running
    /// greenlet itself unwinds it at once.
    ///
    /// # Errors
    /// As [`wait`](Self::wait): the kill is requested either way.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let h = grove::spawn(|| grove::sleep(Duration::from_secs(60)));
    /// grove::yield_now(); // let it start and block
    /// h.kill().unwrap(); // it unwinds out of `sleep`
    /// assert!(h.join().unwrap_err().is_killed());
    /// ```
    pub fn kill(&self) -> Result<(), WaitError> {
        self.kill_nowait();
        self.wait_until(None)
    }

    /// Asks the greenlet to die and returns at once; it unwinds the next time the hub runs it.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let h = grove::spawn(|| grove::sleep(Duration::from_secs(60)));
    /// h.kill_nowait();
    /// assert!(h.join().unwrap_err().is_killed());
    /// ```
    pub fn kill_nowait(&self) {
        hub::with(|h| h.kill(&self.fiber));
    }

    pub(crate) fn fiber(&self) -> &FiberRef {
        &self.fiber
    }

    /// The greenlet's process-unique id.
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, b) = (grove::spawn(|| ()), grove::spawn(|| ()));
    /// assert_ne!(a.id(), b.id());
    /// ```
    pub fn id(&self) -> u64 {
        self.fiber.id
    }

    /// The greenlet's name, if it has one.
    ///
    /// # Examples
    ///
    /// ```
    /// let h = grove::Builder::new().name("db").spawn(|| ());
    /// assert_eq!(h.name().as_deref(), Some("db"));
    /// assert_eq!(grove::spawn(|| ()).name(), None);
    /// ```
    pub fn name(&self) -> Option<String> {
        self.fiber.name()
    }

    /// A greenlet-level handle (for `switch`-free inspection: name, state, parent).
    ///
    /// # Examples
    ///
    /// ```
    /// let h = grove::spawn(|| ());
    /// let g = h.greenlet();
    /// assert_eq!(g.id(), h.id());
    /// h.wait().unwrap();
    /// assert!(g.is_finished());
    /// ```
    pub fn greenlet(&self) -> Greenlet {
        Greenlet::from_fiber(self.fiber.clone())
    }
}

/// Awaiting a `JoinHandle` waits for the greenlet without blocking the awaiting task (for use
/// with [`block_on`](crate::block_on) or any executor on the greenlet's thread).
impl<T: 'static> std::future::Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        if self.fiber.state.get() == State::Dead {
            return std::task::Poll::Ready(self.take_result());
        }
        self.fiber.add_waker(cx.waker().clone());
        std::task::Poll::Pending
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        self.fiber.detached.set(true);
        if let Some(msg) = self.fiber.panic_message() {
            report_unjoined(&self.fiber, &msg);
        }
    }
}
