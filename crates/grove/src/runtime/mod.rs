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

use std::fmt;
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::hub::{self, Remote, RemoteMsg};
use crate::sync::AsyncResult;
use crate::{GreenletExit, JoinError};

/// Configures a [`Runtime`].
#[derive(Debug, Clone)]
pub struct Builder {
    hubs: usize,
    stack_size: Option<usize>,
    /// `Some` once `monitor` was called; `None`: debug builds watch with 100 ms unless the
    /// process configured the monitor itself.
    monitor: Option<Option<Duration>>,
    name: String,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            hubs: std::thread::available_parallelism().map_or(1, |n| n.get()),
            stack_size: None,
            monitor: None,
            name: "grove-hub".into(),
        }
    }
}

impl Builder {
    /// Number of hubs (OS threads); default: the available cores.
    pub fn hubs(mut self, n: usize) -> Builder {
        self.hubs = n.max(1);
        self
    }

    /// Default stack size of greenlets on these hubs.
    pub fn stack_size(mut self, bytes: usize) -> Builder {
        self.stack_size = Some(bytes);
        self
    }

    /// Enables the blocking monitor with this threshold (`None` disables it). Default: like
    /// gevent's debug mode, 100 ms in debug builds unless the process already called
    /// [`monitor::enable`](crate::monitor::enable) or `disable` (that choice stands); off in
    /// release.
    pub fn monitor(mut self, max_blocking_time: Option<Duration>) -> Builder {
        self.monitor = Some(max_blocking_time);
        self
    }

    /// Prefix of the hub threads' names.
    pub fn thread_name(mut self, name: impl Into<String>) -> Builder {
        self.name = name.into();
        self
    }

    /// Starts the hub threads.
    ///
    /// # Errors
    /// The OS refused a thread.
    pub fn build(self) -> io::Result<Runtime> {
        match self.monitor {
            Some(Some(m)) => crate::monitor::enable(m),
            Some(None) => crate::monitor::disable(),
            None if cfg!(debug_assertions) => {
                crate::monitor::enable_default(Duration::from_millis(100));
            }
            None => {}
        }
        let mut hubs = Vec::with_capacity(self.hubs);
        let mut threads = Vec::with_capacity(self.hubs);
        let mut stops = Vec::with_capacity(self.hubs);
        for i in 0..self.hubs {
            let (tx, rx) = std::sync::mpsc::channel();
            let stop = AsyncResult::<()>::new();
            let s = stop.clone();
            let stack = self.stack_size;
            let t = std::thread::Builder::new().name(format!("{}-{i}", self.name)).spawn(
                move || {
                    if let Some(b) = stack {
                        hub::set_stack_size(b);
                    }
                    let _ = tx.send(hub::with(|h| h.remote.clone()));
                    crate::run(|| {
                        let _ = s.get();
                    });
                },
            )?;
            let remote = rx.recv().map_err(|_| io::Error::other("hub thread died at start"))?;
            hubs.push(remote);
            threads.push(t);
            stops.push(stop);
        }
        Ok(Runtime {
            handle: Handle { inner: Arc::new(Shared { hubs, next: AtomicUsize::new(0) }) },
            threads: Mutex::new(threads),
            stops,
        })
    }
}

struct Shared {
    hubs: Vec<Arc<Remote>>,
    next: AtomicUsize,
}

/// A cloneable, `Send` handle to spawn on a runtime's hubs from anywhere.
#[derive(Clone)]
pub struct Handle {
    inner: Arc<Shared>,
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Handle(hubs: {})", self.inner.hubs.len())
    }
}

impl Handle {
    /// Number of hubs.
    pub fn hubs(&self) -> usize {
        self.inner.hubs.len()
    }

    /// Greenlets alive on each hub (as of each hub's last loop turn).
    pub fn loads(&self) -> Vec<usize> {
        self.inner.hubs.iter().map(|h| h.load.load(Ordering::Relaxed)).collect()
    }

    /// Every live greenlet of every hub (hub index, info), collected by asking each hub.
    /// A hub blocked by a greenlet answers only once it is free again.
    pub fn run_info(&self) -> Vec<(usize, crate::GreenletInfo)> {
        let ask = || {
            // The asking greenlet exists only to answer: leave it out.
            let me = crate::getcurrent().id();
            crate::run_info().into_iter().filter(|g| g.id != me).collect::<Vec<_>>()
        };
        let asks: Vec<_> = (0..self.hubs()).map(|i| (i, self.spawn_on(i, ask))).collect();
        let mut out = Vec::new();
        for (i, h) in asks {
            out.extend(h.join().unwrap_or_default().into_iter().map(|g| (i, g)));
        }
        out
    }

    /// Counters of every hub. Each is read by a greenlet spawned on that hub, which leaves
    /// itself out of `alive` (it still counts in `spawned` and holds a stack).
    pub fn stats(&self) -> Vec<crate::HubStats> {
        let ask = || {
            let mut s = crate::stats();
            s.alive -= 1;
            s
        };
        let asks: Vec<_> = (0..self.hubs()).map(|i| self.spawn_on(i, ask)).collect();
        asks.into_iter().map(|h| h.join().unwrap_or_default()).collect()
    }

    /// Spawns `f` on the least-loaded hub (ties go round-robin).
    pub fn spawn<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> SendJoinHandle<T> {
        let n = self.inner.hubs.len();
        let start = self.inner.next.fetch_add(1, Ordering::Relaxed);
        let best = (0..n)
            .map(|k| (start + k) % n)
            .min_by_key(|&i| self.inner.hubs[i].load.load(Ordering::Relaxed))
            .unwrap_or(0);
        self.spawn_on(best, f)
    }

    /// Spawns `f` on hub `i`.
    ///
    /// # Panics
    /// If `i` is not a hub index.
    pub fn spawn_on<T: Send + 'static>(
        &self,
        i: usize,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> SendJoinHandle<T> {
        let done = AsyncResult::<()>::new();
        let slot: Arc<Mutex<Option<Result<T, JoinError>>>> = Arc::new(Mutex::new(None));
        let (d, s) = (done.clone(), slot.clone());
        let job = move || {
            let (d2, s2) = (d.clone(), s.clone());
            let spawned = crate::try_spawn(move || {
                let r = match panic::catch_unwind(AssertUnwindSafe(f)) {
                    Ok(v) => Ok(v),
                    Err(p) if p.is::<GreenletExit>() => Err(JoinError::Killed),
                    Err(p) => Err(JoinError::Panicked(p)),
                };
                *s2.lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
                d2.set(());
            });
            if let Err(e) = spawned {
                *s.lock().unwrap_or_else(|e| e.into_inner()) =
                    Some(Err(JoinError::Panicked(Box::new(e.to_string()))));
                d.set(());
            }
        };
        if !self.inner.hubs[i].send(RemoteMsg::Call(Box::new(job))) {
            *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(Err(JoinError::Killed));
            done.set(());
        }
        SendJoinHandle { done, slot }
    }
}

/// The result of a greenlet spawned on a runtime hub; `Send`, so any thread or hub can wait.
pub struct SendJoinHandle<T> {
    done: AsyncResult<()>,
    slot: Arc<Mutex<Option<Result<T, JoinError>>>>,
}

impl<T> fmt::Debug for SendJoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SendJoinHandle(finished: {})", self.done.ready())
    }
}

impl<T> SendJoinHandle<T> {
    /// Whether the greenlet has finished.
    pub fn is_finished(&self) -> bool {
        self.done.ready()
    }

    /// Waits (cooperatively) for the greenlet and returns its value.
    ///
    /// # Errors
    /// [`JoinError::Killed`] (also when the runtime shut down first), [`JoinError::Panicked`],
    /// [`JoinError::Interrupted`] if the caller is unwinding.
    pub fn join(self) -> Result<T, JoinError> {
        if self.done.get().is_err() {
            return Err(JoinError::Interrupted);
        }
        self.slot.lock().unwrap_or_else(|e| e.into_inner()).take().unwrap_or(Err(JoinError::Killed))
    }
}

/// N hubs on N threads. Dropping it shuts it down.
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
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// A runtime with one hub per available core.
    ///
    /// # Errors
    /// The OS refused a thread.
    pub fn new() -> io::Result<Runtime> {
        Builder::default().build()
    }

    /// A `Send` handle for spawning from anywhere.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// See [`Handle::spawn`].
    pub fn spawn<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> SendJoinHandle<T> {
        self.handle.spawn(f)
    }

    /// See [`Handle::spawn_on`].
    pub fn spawn_on<T: Send + 'static>(
        &self,
        i: usize,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> SendJoinHandle<T> {
        self.handle.spawn_on(i, f)
    }

    /// Runs `f` on hub 0 and waits for its result.
    ///
    /// # Errors
    /// As [`SendJoinHandle::join`].
    pub fn block_on<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, JoinError> {
        self.handle.spawn_on(0, f).join()
    }

    /// Stops every hub: greenlets still alive are killed (unwound, destructors run), the
    /// threads are joined. Idempotent.
    pub fn shutdown(&self) {
        for s in &self.stops {
            s.set(());
        }
        let threads = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|e| e.into_inner()));
        for t in threads {
            let _ = t.join();
        }
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.shutdown();
    }
}
