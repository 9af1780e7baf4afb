//! Several hubs on several OS threads: [`Runtime`] and its cloneable, `Send` [`Handle`].
//! Greenlets stay on the hub they were spawned on (never migrate); closures crossing to another
//! hub must be `Send`, and so must their results.
//!
//! ```
//! let rt = grove::Runtime::builder().hubs(2).build().unwrap();
//! let handles: Vec<_> = (0..10u64).map(|i| rt.spawn(move || i * i)).collect();
//! let sum: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
//! assert_eq!(sum, 285);
//! rt.shutdown();
//! ```
//!
//! To serve on every hub, bind one listener per hub with SO_REUSEPORT
//! ([`TcpListener::bind_reuseport`](crate::net::TcpListener::bind_reuseport)) inside
//! [`Runtime::spawn_on`]: the kernel spreads connections across them.
//!
//! # Hub numbering
//! A runtime addresses its hubs by *index*, `0..hubs()`: [`Handle::spawn_on`],
//! [`Handle::loads`], [`Handle::run_info`], [`Handle::stats`], and the thread names
//! (`{thread_name}-{index}`). Every hub of the process also has a process-wide *id*
//! (starting at 1, in creation order; the high bits of its greenlets' ids, `id >> 40`), which
//! is what the [monitor](crate::monitor)'s reports carry, together with the thread's name;
//! [`Handle::hub_ids`] maps indexes to ids.
//!
//! # Backpressure
//! A runtime holds at most [`Builder::max_greenlets`] remotely spawned greenlets, queued or
//! alive. At that limit [`Handle::spawn`] waits (cooperatively) for one to finish and
//! [`Handle::try_spawn`] returns a [`SpawnError`] naming the limit; a flood of spawns from
//! other threads can therefore never exhaust the kernel's mappings and abort the process.

mod admission;
mod builder;
mod error;
mod handle;
mod join;

use std::cell::RefCell;
use std::fmt;
use std::io;
use std::panic::{self, AssertUnwindSafe, Location};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use slab::Slab;

use crate::hub::{self, Remote, RemoteMsg};
use crate::sync::AsyncResult;
use crate::{GreenletExit, JoinError};
use admission::{Admission, Refused};
pub use builder::Builder;
pub use error::{SpawnError, SpawnErrorKind};
pub use handle::Handle;
use join::Completer;
pub use join::SendJoinHandle;

struct Shared {
    hubs: Vec<Arc<Remote>>,
    ids: Vec<u64>,
    next: AtomicUsize,
    admit: Arc<Admission>,
}

/// N hubs on N threads. Dropping it shuts it down.
///
/// # Examples
///
/// ```
/// let rt = grove::Runtime::builder().hubs(2).build()?;
/// let hs: Vec<_> = (0..10).map(|i| rt.spawn(move || i)).collect();
/// let total: i32 = hs.into_iter().map(|h| h.join().unwrap()).sum();
/// assert_eq!(total, 45);
/// drop(rt); // shuts the hubs down
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Runtime {
    handle: Handle,
    threads: Mutex<Vec<std::thread::JoinHandle<()>>>,
    stops: Vec<AsyncResult<()>>,
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Runtime(hubs: {})", self.handle.hubs())
    }
}

impl Runtime {
    /// A builder with default settings.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = grove::Runtime::builder().hubs(1).build()?;
    /// # drop(rt);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// A runtime with one hub per available core.
    ///
    /// # Errors
    /// The OS refused a thread.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = grove::Runtime::new()?;
    /// assert_eq!(rt.run(|| "hello").unwrap(), "hello");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new() -> io::Result<Runtime> {
        Builder::default().build()
    }

    /// A `Send` handle for spawning from anywhere.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = grove::Runtime::builder().hubs(1).build()?;
    /// let handle = rt.handle().clone(); // `Send + Clone`: give it to other threads
    /// let h = std::thread::spawn(move || handle.spawn(|| 1)).join().unwrap();
    /// assert_eq!(h.join().unwrap(), 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// See [`Handle::spawn`].
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = grove::Runtime::builder().hubs(2).build()?;
    /// let h = rt.spawn(|| {
    ///     grove::sleep(std::time::Duration::from_millis(1));
    ///     "done"
    /// });
    /// assert_eq!(h.join().unwrap(), "done");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn spawn<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> SendJoinHandle<T> {
        self.handle.spawn(f)
    }

    /// See [`Handle::spawn_on`].
    ///
    /// # Panics
    /// If `i` is not a hub index.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = grove::Runtime::builder().hubs(2).build()?;
    /// assert_eq!(rt.spawn_on(0, || 1).join().unwrap(), 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn spawn_on<T: Send + 'static>(
        &self,
        i: usize,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> SendJoinHandle<T> {
        self.handle.spawn_on(i, f)
    }

    /// See [`Handle::try_spawn`].
    ///
    /// # Errors
    /// As [`Handle::try_spawn`].
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = grove::Runtime::builder().hubs(1).build()?;
    /// let h = rt.try_spawn(|| 2).expect("below max_greenlets");
    /// assert_eq!(h.join().unwrap(), 2);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn try_spawn<T, F>(&self, f: F) -> Result<SendJoinHandle<T>, SpawnError<F>>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        self.handle.try_spawn(f)
    }

    /// Runs `f` as a greenlet on hub 0 and waits for its result (`spawn_on(0, f).join()`).
    /// Named `run` like [`grove::run`](crate::run), which runs a closure as a thread's main
    /// greenlet; [`grove::block_on`](crate::block_on) is the one that drives a `Future`.
    ///
    /// # Errors
    /// As [`SendJoinHandle::join`].
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = grove::Runtime::builder().hubs(1).build()?;
    /// let r = rt.run(|| {
    ///     let a = grove::spawn(|| 20); // greenlets of hub 0
    ///     let b = grove::spawn(|| 22);
    ///     a.join().unwrap() + b.join().unwrap()
    /// });
    /// assert_eq!(r.unwrap(), 42);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, JoinError> {
        self.handle.spawn_on(0, f).join()
    }

    /// Stops every hub: greenlets still alive are killed (unwound, destructors run), jobs
    /// still queued are dropped (their handles complete with [`JoinError::Killed`]), waiting
    /// spawners give up, and the threads are joined. Idempotent.
    ///
    /// Called (or the runtime dropped) from a greenlet of one of its own hubs, it cannot join
    /// that hub's thread (the caller runs on it): the other hubs are stopped and joined, and
    /// the caller's hub stops as soon as the caller blocks or returns (its greenlets, the
    /// caller included, are then killed); its thread is detached instead of joined.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let rt = grove::Runtime::builder().hubs(1).build()?;
    /// let h = rt.spawn(|| grove::sleep(Duration::from_secs(3600)));
    /// rt.shutdown(); // kills it
    /// assert!(h.join().unwrap_err().is_killed());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn shutdown(&self) {
        self.handle.inner.admit.close();
        for s in &self.stops {
            s.set(());
        }
        let threads = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|e| e.into_inner()));
        let me = std::thread::current().id();
        for t in threads {
            if t.thread().id() != me {
                let _ = t.join();
            }
        }
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.shutdown();
    }
}
