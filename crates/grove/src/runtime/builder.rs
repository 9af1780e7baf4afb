//! Configuring and starting a runtime, and the body of its hub threads.

#[allow(clippy::wildcard_imports)] // a split of the parent module: same names
use super::*;

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
    super::handle::abandon_pending();
}
