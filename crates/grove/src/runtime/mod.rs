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
use join::Completer;
pub use join::SendJoinHandle;

/// Configures a [`Runtime`].
///
/// # Examples
///
/// ```
/// let rt = grove::Runtime::builder()
///     .hubs(2)
///     .thread_name("worker")
///     .build()?;
/// assert_eq!(rt.handle().hubs(), 2);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct Builder {
    hubs: usize,
    stack_size: Option<usize>,
    /// `Some` once `monitor` was called; `None`: debug builds watch with 100 ms unless the
    /// process configured the monitor itself.
    monitor: Option<Option<Duration>>,
    name: String,
    max_greenlets: Option<usize>,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            hubs: std::thread::available_parallelism().map_or(1, |n| n.get()),
            stack_size: None,
            monitor: None,
            name: "grove-hub".into(),
            max_greenlets: None,
        }
    }
}

impl Builder {
    /// Number of hubs (OS threads); default: the available cores.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = grove::Runtime::builder().hubs(1).build()?;
    /// assert_eq!(rt.handle().hubs(), 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn hubs(mut self, n: usize) -> Builder {
        self.hubs = n.max(1);
        self
    }

    /// Default stack size of greenlets on these hubs.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = grove::Runtime::builder().hubs(1).stack_size(1 << 20).build()?;
    /// assert_eq!(rt.run(grove::hub::stack_size).unwrap(), 1 << 20);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn stack_size(mut self, bytes: usize) -> Builder {
        self.stack_size = Some(bytes);
        self
    }

    /// Enables the blocking monitor with this threshold (`None` disables it). Default: like
    /// gevent's debug mode, 100 ms in debug builds unless the process already called
    /// [`monitor::enable`](crate::monitor::enable) or `disable` (that choice stands); off in
    /// release.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let rt = grove::Runtime::builder()
    ///     .hubs(1)
    ///     .monitor(Some(Duration::from_millis(50))) // report greenlets blocking a hub > 50 ms
    ///     .build()?;
    /// # drop(rt);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn monitor(mut self, max_blocking_time: Option<Duration>) -> Builder {
        self.monitor = Some(max_blocking_time);
        self
    }

    /// Prefix of the hub threads' names (hub `i` runs on thread `{name}-{i}`).
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = grove::Runtime::builder().hubs(1).thread_name("web").build()?;
    /// let name = rt.run(|| std::thread::current().name().map(String::from)).unwrap();
    /// assert_eq!(name.as_deref(), Some("web-0"));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn thread_name(mut self, name: impl Into<String>) -> Builder {
        self.name = name.into();
        self
    }

    /// Most greenlets spawned through the runtime ([`Handle::spawn`] and friends) that may be
    /// queued or alive at once (at least 1). Default: what `vm.max_map_count` leaves room for
    /// (each stack takes two mappings; 8192 mappings are kept for the rest of the process),
    /// and a finite `RLIMIT_AS`; about 28,600 with Linux's default map count.
    ///
    /// ```
    /// let rt = grove::Runtime::builder().hubs(1).max_greenlets(2).build().unwrap();
    /// let stop = grove::sync::mt::Event::new();
    /// let held: Vec<_> = (0..2)
    ///     .map(|_| {
    ///         let s = stop.clone();
    ///         rt.spawn(move || s.wait())
    ///     })
    ///     .collect();
    /// assert!(rt.try_spawn(|| ()).is_err()); // at the limit: spawn() would wait
    /// stop.set();
    /// for h in held {
    ///     assert_eq!(h.join().unwrap(), Ok(()));
    /// }
    /// ```
    pub fn max_greenlets(mut self, n: usize) -> Builder {
        self.max_greenlets = Some(n.max(1));
        self
    }

    /// Starts the hub threads.
    ///
    /// # Errors
    /// The OS refused a thread (the hubs already started are stopped again).
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = grove::Runtime::builder().hubs(2).build()?;
    /// assert_eq!(rt.run(|| 1 + 1).unwrap(), 2);
    /// # Ok::<(), std::io::Error>(())
    /// ```
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
        let mut ids = Vec::with_capacity(self.hubs);
        let mut threads = Vec::with_capacity(self.hubs);
        let mut stops = Vec::with_capacity(self.hubs);
        let stop_all = |stops: &[AsyncResult<()>], threads: Vec<std::thread::JoinHandle<()>>| {
            for s in stops {
                s.set(());
            }
            for t in threads {
                let _ = t.join();
            }
        };
        for i in 0..self.hubs {
            let (tx, rx) = std::sync::mpsc::channel();
            let stop = AsyncResult::<()>::new();
            let s = stop.clone();
            let stack = self.stack_size;
            let spawned = std::thread::Builder::new()
                .name(format!("{}-{i}", self.name))
                .spawn(move || hub_thread(stack, &tx, &s));
            let started = spawned.and_then(|t| match rx.recv() {
                Ok(r) => Ok((t, r)),
                Err(_) => {
                    let _ = t.join();
                    Err(io::Error::other("grove: a runtime hub thread died while starting"))
                }
            });
            match started {
                Ok((t, (remote, id))) => {
                    hubs.push(remote);
                    ids.push(id);
                    threads.push(t);
                    stops.push(stop);
                }
                Err(e) => {
                    stop_all(&stops, threads);
                    return Err(e);
                }
            }
        }
        let limit = self.max_greenlets.unwrap_or_else(|| {
            admission::default_limit(self.stack_size.unwrap_or(crate::ctx::DEFAULT_STACK_SIZE))
        });
        let admit = Arc::new(Admission::new(limit, hubs.len()));
        Ok(Runtime {
            handle: Handle {
                inner: Arc::new(Shared { hubs, ids, next: AtomicUsize::new(0), admit }),
            },
            threads: Mutex::new(threads),
            stops,
        })
    }
}

/// The body of a hub thread: serve until told to stop, then make sure nothing queued for this
/// hub is left without an answer.
fn hub_thread(
    stack: Option<usize>,
    tx: &std::sync::mpsc::Sender<(Arc<Remote>, u64)>,
    stop: &AsyncResult<()>,
) {
    if let Some(b) = stack {
        hub::set_stack_size(b);
    }
    let _ = tx.send(hub::with(|h| (h.remote().clone(), h.index())));
    crate::run(|| {
        let _ = stop.get();
    });
    // From here on the hub refuses messages (their spawns complete as Killed at once); the
    // ones that arrived during shutdown are dropped now, while the hub still exists, so every
    // job's handle completes and every closure is dropped on a live hub.
    drop(hub::with(|h| h.remote().close()));
    abandon_pending();
}

struct Shared {
    hubs: Vec<Arc<Remote>>,
    ids: Vec<u64>,
    next: AtomicUsize,
    admit: Arc<Admission>,
}

/// Why [`Handle::try_spawn`] refused; the closure is handed back.
///
/// # Examples
///
/// ```
/// use grove::runtime::SpawnErrorKind;
/// let rt = grove::Runtime::builder().hubs(1).build()?;
/// rt.shutdown();
/// let err = rt.try_spawn(|| 5).unwrap_err();
/// assert_eq!(err.kind(), SpawnErrorKind::ShutDown);
/// let f = err.into_inner(); // the closure comes back
/// assert_eq!(f(), 5);
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct SpawnError<F> {
    kind: SpawnErrorKind,
    detail: usize,
    f: F,
}

/// The reason of a [`SpawnError`].
///
/// # Examples
///
/// ```
/// use grove::runtime::SpawnErrorKind;
/// let rt = grove::Runtime::builder().hubs(1).build()?;
/// let err = rt.handle().try_spawn_on(7, || ()).unwrap_err();
/// assert_eq!(err.kind(), SpawnErrorKind::NoSuchHub);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SpawnErrorKind {
    /// The runtime already has [`Builder::max_greenlets`] greenlets queued or alive.
    AtLimit,
    /// The runtime was shut down.
    ShutDown,
    /// The hub index does not exist.
    NoSuchHub,
}

impl<F> SpawnError<F> {
    /// Why the spawn was refused.
    ///
    /// # Examples
    ///
    /// ```
    /// use grove::runtime::SpawnErrorKind;
    /// let rt = grove::Runtime::builder().hubs(1).build()?;
    /// rt.shutdown();
    /// assert_eq!(rt.try_spawn(|| ()).unwrap_err().kind(), SpawnErrorKind::ShutDown);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn kind(&self) -> SpawnErrorKind {
        self.kind
    }

    /// The closure that was not spawned.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = grove::Runtime::builder().hubs(1).build()?;
    /// rt.shutdown();
    /// let job = rt.try_spawn(|| "run me elsewhere").unwrap_err().into_inner();
    /// assert_eq!(job(), "run me elsewhere");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn into_inner(self) -> F {
        self.f
    }
}

impl<F> fmt::Debug for SpawnError<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SpawnError({:?})", self.kind)
    }
}

impl<F> fmt::Display for SpawnError<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            SpawnErrorKind::AtLimit => {
                let maps =
                    admission::map_count().map_or_else(|| "unknown".to_string(), |n| n.to_string());
                write!(
                    f,
                    "grove: the runtime already has {} greenlets queued or alive, its \
                     max_greenlets limit; raise it with runtime::Builder::max_greenlets (each \
                     greenlet's stack takes two memory mappings: vm.max_map_count, {maps} \
                     here, and RLIMIT_AS bound the whole process), or use Handle::spawn, which \
                     waits for room",
                    self.detail
                )
            }
            SpawnErrorKind::ShutDown => f.write_str("grove: the runtime was shut down"),
            SpawnErrorKind::NoSuchHub => {
                let n = self.detail;
                write!(f, "grove: no such hub: this runtime's hub indexes are 0..{n}")
            }
        }
    }
}

impl<F> std::error::Error for SpawnError<F> {}

/// How a spawn gets its admission slot.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Admit {
    /// Wait for room (`spawn`).
    Wait,
    /// Refuse at the limit (`try_spawn`).
    Try,
    /// Not counted (the runtime's own short-lived helpers: `run_info`, `stats`).
    Bypass,
}

/// A cloneable, `Send` handle to spawn on a runtime's hubs from anywhere.
///
/// # Examples
///
/// ```
/// let rt = grove::Runtime::builder().hubs(2).build()?;
/// let handle = rt.handle().clone();
/// let h = std::thread::spawn(move || handle.spawn(|| 6 * 7).join().unwrap())
///     .join()
///     .unwrap();
/// assert_eq!(h, 42);
/// # Ok::<(), std::io::Error>(())
/// ```
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
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = grove::Runtime::builder().hubs(3).build()?;
    /// assert_eq!(rt.handle().hubs(), 3);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn hubs(&self) -> usize {
        self.inner.hubs.len()
    }

    /// The process-wide id of each hub, by index (see [Hub numbering](self#hub-numbering)).
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = grove::Runtime::builder().hubs(2).build()?;
    /// let ids = rt.handle().hub_ids();
    /// assert_eq!(ids.len(), 2);
    /// assert_ne!(ids[0], ids[1]);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn hub_ids(&self) -> Vec<u64> {
        self.inner.ids.clone()
    }

    /// Per hub: greenlets alive (as of the hub's last loop turn) plus spawns queued for it.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = grove::Runtime::builder().hubs(2).build()?;
    /// assert_eq!(rt.handle().loads().len(), 2);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn loads(&self) -> Vec<usize> {
        (0..self.hubs()).map(|i| self.load(i)).collect()
    }

    fn load(&self, i: usize) -> usize {
        self.inner.hubs[i].load.load(Ordering::Relaxed) + self.inner.admit.queued(i)
    }

    /// Greenlets spawned through this runtime that are queued or alive.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = grove::Runtime::builder().hubs(1).build()?;
    /// let h = rt.spawn(|| grove::sleep(std::time::Duration::from_millis(20)));
    /// assert_eq!(rt.handle().in_flight(), 1);
    /// h.join().unwrap();
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn in_flight(&self) -> usize {
        self.inner.admit.in_flight()
    }

    /// The runtime's [`Builder::max_greenlets`].
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = grove::Runtime::builder().hubs(1).max_greenlets(100).build()?;
    /// assert_eq!(rt.handle().max_greenlets(), 100);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn max_greenlets(&self) -> usize {
        self.inner.admit.limit()
    }

    /// Every live greenlet of every hub (hub index, info), collected by asking each hub.
    /// A hub blocked by a greenlet answers only once it is free again.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let rt = grove::Runtime::builder().hubs(1).build()?;
    /// let h = rt.spawn(|| grove::sleep(Duration::from_secs(60)));
    /// grove::sleep(Duration::from_millis(20)); // let it start
    /// for (hub, info) in rt.handle().run_info() {
    ///     println!("hub {hub}: {info:?}");
    /// }
    /// h.kill().unwrap();
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn run_info(&self) -> Vec<(usize, crate::GreenletInfo)> {
        let ask = || {
            // The asking greenlet exists only to answer: leave it out.
            let me = crate::getcurrent().id();
            crate::run_info().into_iter().filter(|g| g.id != me).collect::<Vec<_>>()
        };
        let asks: Vec<_> = (0..self.hubs())
            .map(|i| (i, self.spawn_waiting(Some(i), ask, Location::caller(), Admit::Bypass)))
            .collect();
        let mut out = Vec::new();
        for (i, h) in asks {
            out.extend(h.join().unwrap_or_default().into_iter().map(|g| (i, g)));
        }
        out
    }

    /// Counters of every hub. Each is read by a greenlet spawned on that hub, which leaves
    /// itself out of `alive` (it still counts in `spawned` and holds a stack).
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = grove::Runtime::builder().hubs(2).build()?;
    /// rt.run(|| ()).unwrap();
    /// let stats = rt.handle().stats();
    /// assert_eq!(stats.len(), 2);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn stats(&self) -> Vec<crate::HubStats> {
        let ask = || {
            let mut s = crate::stats();
            s.alive -= 1;
            s
        };
        let asks: Vec<_> = (0..self.hubs())
            .map(|i| self.spawn_waiting(Some(i), ask, Location::caller(), Admit::Bypass))
            .collect();
        asks.into_iter().map(|h| h.join().unwrap_or_default()).collect()
    }

    /// Spawns `f` on the least-loaded hub (ties go round-robin). At the runtime's
    /// [`max_greenlets`](Builder::max_greenlets) it waits (cooperatively) until a greenlet
    /// finishes; a kill or an expired `timeout` scope unwinds out of that wait.
    ///
    /// After [`Runtime::shutdown`] the handle completes at once with [`JoinError::Killed`].
    /// Inside the runtime's own greenlets prefer [`try_spawn`](Self::try_spawn) when the
    /// greenlets holding the slots may be waiting for the caller: that wait would never end.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = grove::Runtime::builder().hubs(2).build()?;
    /// let handle = rt.handle();
    /// let hs: Vec<_> = (0..4).map(|i| handle.spawn(move || i * i)).collect();
    /// let sum: i32 = hs.into_iter().map(|h| h.join().unwrap()).sum();
    /// assert_eq!(sum, 14);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn spawn<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> SendJoinHandle<T> {
        self.spawn_waiting(None, f, Location::caller(), Admit::Wait)
    }

    /// Spawns `f` on hub `i`; waits for room as [`spawn`](Self::spawn) does.
    ///
    /// # Panics
    /// If `i` is not a hub index ([`try_spawn_on`](Self::try_spawn_on) returns an error).
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = grove::Runtime::builder().hubs(2).thread_name("hub").build()?;
    /// let h = rt.handle().spawn_on(1, || std::thread::current().name().map(String::from));
    /// assert_eq!(h.join().unwrap().as_deref(), Some("hub-1"));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn spawn_on<T: Send + 'static>(
        &self,
        i: usize,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> SendJoinHandle<T> {
        self.spawn_waiting(Some(i), f, Location::caller(), Admit::Wait)
    }

    /// Spawns `f` on the least-loaded hub, or refuses at once.
    ///
    /// # Errors
    /// [`SpawnErrorKind::AtLimit`] when the runtime has [`Builder::max_greenlets`] greenlets
    /// queued or alive (the message names the limit and how to raise it);
    /// [`SpawnErrorKind::ShutDown`] after [`Runtime::shutdown`]. The closure is handed back.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = grove::Runtime::builder().hubs(1).build()?;
    /// match rt.handle().try_spawn(|| 1) {
    ///     Ok(h) => assert_eq!(h.join().unwrap(), 1),
    ///     Err(e) => eprintln!("refused: {e}"), // e.g. at max_greenlets
    /// }
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn try_spawn<T, F>(&self, f: F) -> Result<SendJoinHandle<T>, SpawnError<F>>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        self.spawn_with(None, f, Location::caller(), Admit::Try)
    }

    /// Spawns `f` on hub `i`, or refuses at once.
    ///
    /// # Errors
    /// As [`try_spawn`](Self::try_spawn), and [`SpawnErrorKind::NoSuchHub`] for a bad index.
    ///
    /// # Examples
    ///
    /// ```
    /// use grove::runtime::SpawnErrorKind;
    /// let rt = grove::Runtime::builder().hubs(2).build()?;
    /// let h = rt.handle().try_spawn_on(1, || "on hub 1").unwrap();
    /// assert_eq!(h.join().unwrap(), "on hub 1");
    /// let err = rt.handle().try_spawn_on(2, || "nowhere").unwrap_err();
    /// assert_eq!(err.kind(), SpawnErrorKind::NoSuchHub);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn try_spawn_on<T, F>(&self, i: usize, f: F) -> Result<SendJoinHandle<T>, SpawnError<F>>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        self.spawn_with(Some(i), f, Location::caller(), Admit::Try)
    }

    #[track_caller]
    fn spawn_waiting<T: Send + 'static>(
        &self,
        i: Option<usize>,
        f: impl FnOnce() -> T + Send + 'static,
        location: &'static Location<'static>,
        admit: Admit,
    ) -> SendJoinHandle<T> {
        match self.spawn_with(i, f, location, admit) {
            Ok(h) => h,
            Err(e) if e.kind == SpawnErrorKind::NoSuchHub => panic!("{e}"),
            // Shut down, or the caller could not wait: the greenlet never runs.
            Err(_) => SendJoinHandle::completed(Err(JoinError::Killed)),
        }
    }

    fn spawn_with<T, F>(
        &self,
        i: Option<usize>,
        f: F,
        location: &'static Location<'static>,
        admit: Admit,
    ) -> Result<SendJoinHandle<T>, SpawnError<F>>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let sh = &self.inner;
        let n = sh.hubs.len();
        if i.is_some_and(|i| i >= n) {
            return Err(SpawnError { kind: SpawnErrorKind::NoSuchHub, detail: n, f });
        }
        let refused = match admit {
            Admit::Wait => sh.admit.acquire().err(),
            Admit::Try => sh.admit.try_acquire().err(),
            Admit::Bypass => None,
        };
        if let Some(r) = refused {
            let kind = match r {
                Refused::Full => SpawnErrorKind::AtLimit,
                Refused::ShutDown | Refused::Interrupted => SpawnErrorKind::ShutDown,
            };
            return Err(SpawnError { kind, detail: sh.admit.limit(), f });
        }
        let hub = i.unwrap_or_else(|| {
            let start = sh.next.fetch_add(1, Ordering::Relaxed);
            (0..n).map(|k| (start + k) % n).min_by_key(|&i| self.load(i)).unwrap_or(0)
        });
        let (completer, handle) = Completer::new(sh.admit.clone(), hub, admit != Admit::Bypass);
        let job = move || start_on_hub(completer, f, location);
        // Refused (the hub is gone): the job is dropped here, and its completer completes the
        // handle with Killed.
        sh.hubs[hub].send(RemoteMsg::Call(Box::new(job)));
        Ok(handle)
    }
}

/// Runs on the target hub (as a remote call): spawns the greenlet, which completes the handle.
fn start_on_hub<T: Send + 'static>(
    mut completer: Completer<T>,
    f: impl FnOnce() -> T + Send + 'static,
    location: &'static Location<'static>,
) {
    completer.started();
    let target = completer.target.clone();
    if target.lock().unwrap_or_else(|e| e.into_inner()).cancelled {
        // Killed from its handle before it left the queue: it never runs (the completer
        // completes the handle with Killed).
        return;
    }
    // Shared with the greenlet, which takes it only when it has a result: whoever drops the
    // last reference first (the greenlet killed before it ran, or never created) completes
    // the handle with Killed, and the hub thread can still reach it if the greenlet is
    // abandoned at shutdown.
    let cell = Rc::new(RefCell::new(Some(completer)));
    let mine = cell.clone();
    // Tracked until the greenlet's closure is dropped (it ran, or was dropped unrun): only a
    // greenlet abandoned at shutdown, whose closure is never dropped, stays tracked.
    let tracked = Tracked::new(cell.clone());
    let spawned = crate::Builder::new().spawn_at(location, move || {
        let _tracked = tracked;
        let r = match panic::catch_unwind(AssertUnwindSafe(f)) {
            Ok(v) => Ok(v),
            Err(p) if p.is::<GreenletExit>() => Err(JoinError::Killed),
            Err(p) => Err(JoinError::Panicked(p)),
        };
        let c = mine.borrow_mut().take();
        if let Some(c) = c {
            c.finish(r);
        }
    });
    match spawned {
        Ok(h) => {
            let (key, id) = (h.fiber().key(), h.fiber().id);
            let remote = hub::with(|hub| hub.remote().clone());
            let mut t = target.lock().unwrap_or_else(|e| e.into_inner());
            t.at = Some((remote, key, id));
            if t.cancelled {
                // Killed while it was being spawned (the handle saw no location yet).
                drop(t);
                h.kill_nowait();
            }
        }
        Err(e) => {
            let c = cell.borrow_mut().take();
            if let Some(c) = c {
                let msg = format!("grove: the hub could not start the greenlet: {e}");
                c.finish(Err(JoinError::Panicked(Box::new(msg))));
            }
        }
    }
}

/// A remote spawn whose greenlet has not finished, as its hub thread sees it.
trait Pending {
    /// The greenlet will never finish (abandoned at shutdown): complete its handle as Killed.
    fn abandon(&self);
}

impl<T> Pending for RefCell<Option<Completer<T>>> {
    fn abandon(&self) {
        if let Ok(mut c) = self.try_borrow_mut() {
            drop(c.take());
        }
    }
}

thread_local! {
    /// This hub thread's remote spawns whose greenlets may still be running.
    static PENDING: RefCell<Slab<Rc<dyn Pending>>> = const { RefCell::new(Slab::new()) };
}

/// A remote spawn's entry in [`PENDING`], removed when dropped.
struct Tracked(usize);

impl Tracked {
    fn new(p: Rc<dyn Pending>) -> Tracked {
        Tracked(PENDING.with(|v| v.borrow_mut().insert(p)))
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        // At thread exit the table may already be gone: nothing to remove then.
        let _ = PENDING.try_with(|v| v.borrow_mut().try_remove(self.0));
    }
}

/// Completes the handles of greenlets the hub abandoned at shutdown (they refused to die and
/// their stacks are leaked): their joiners get Killed instead of waiting forever.
fn abandon_pending() {
    let pending: Vec<_> = PENDING.with(|v| v.borrow_mut().drain().collect());
    for p in pending {
        p.abandon();
    }
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
