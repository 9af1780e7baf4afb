//! The `Send` handle that spawns on a runtime's hubs, and how a remote spawn starts.

#[allow(clippy::wildcard_imports)] // a split of the parent module: same names
use super::*;

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
    pub(super) inner: Arc<Shared>,
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

    /// The process-wide id of each hub, by index (see [Hub numbering](crate::runtime#hub-numbering)).
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
pub(super) fn abandon_pending() {
    let pending: Vec<_> = PENDING.with(|v| v.borrow_mut().drain().collect());
    for p in pending {
        p.abandon();
    }
}
