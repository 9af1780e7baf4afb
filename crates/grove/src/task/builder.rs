//! Options for a new greenlet, and the spawn that applies them.

#[allow(clippy::wildcard_imports)] // a split of the parent module: same names
use super::*;

/// Options for a new greenlet: name, stack size, start delay.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// let h = grove::Builder::new()
///     .name("worker")
///     .stack_size(256 * 1024)
///     .delay(Duration::from_millis(5))
///     .spawn(|| grove::getcurrent().name());
/// assert_eq!(h.join().unwrap().as_deref(), Some("worker"));
/// ```
#[derive(Debug, Default, Clone)]
#[must_use = "a Builder does nothing until `spawn` is called"]
pub struct Builder {
    name: Option<String>,
    stack_size: Option<usize>,
    delay: Option<Duration>,
}

impl Builder {
    /// Default options: unnamed, the hub's default stack size, runs at the next opportunity.
    ///
    /// # Examples
    ///
    /// ```
    /// let h = grove::Builder::new().spawn(|| 1 + 1);
    /// assert_eq!(h.join().unwrap(), 2);
    /// ```
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Names the greenlet (shown in panic reports, overflow reports and run info).
    ///
    /// # Examples
    ///
    /// ```
    /// let h = grove::Builder::new().name("fetcher").spawn(|| ());
    /// assert_eq!(h.name().as_deref(), Some("fetcher"));
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> Builder {
        self.name = Some(name.into());
        self
    }

    /// Usable stack size in bytes (rounded up to whole pages; default: the hub's,
    /// [`hub::stack_size`](crate::hub::stack_size)).
    ///
    /// # Examples
    ///
    /// ```
    /// // A deeper stack for recursive work.
    /// let h = grove::Builder::new().stack_size(1 << 20).spawn(|| [0u8; 300_000].len());
    /// assert_eq!(h.join().unwrap(), 300_000);
    /// ```
    pub fn stack_size(mut self, bytes: usize) -> Builder {
        self.stack_size = Some(bytes);
        self
    }

    /// Starts the greenlet only after `delay` (gevent's `spawn_later`).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let start = Instant::now();
    /// let h = grove::Builder::new().delay(Duration::from_millis(20)).spawn(Instant::now);
    /// assert!(h.join().unwrap() - start >= Duration::from_millis(20));
    /// ```
    pub fn delay(mut self, delay: Duration) -> Builder {
        self.delay = Some(delay);
        self
    }

    /// Spawns `f` on this thread's hub.
    ///
    /// # Panics
    /// When the kernel refuses another stack; the message names the limit. Use
    /// [`Builder::try_spawn`] to get the error instead.
    ///
    /// # Examples
    ///
    /// ```
    /// let h = grove::Builder::new().name("adder").spawn(|| 2 + 3);
    /// assert_eq!(h.join().unwrap(), 5);
    /// ```
    #[track_caller]
    pub fn spawn<T: 'static>(self, f: impl FnOnce() -> T + 'static) -> JoinHandle<T> {
        self.spawn_at(Location::caller(), f).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Spawns `f` on this thread's hub, or returns why not.
    ///
    /// # Errors
    /// The kernel refused another stack (mmap/mprotect failed): typically `vm.max_map_count`
    /// or `RLIMIT_AS` reached; the error's message says which limit and how to raise it.
    ///
    /// # Examples
    ///
    /// ```
    /// match grove::Builder::new().try_spawn(|| 7) {
    ///     Ok(h) => assert_eq!(h.join().unwrap(), 7),
    ///     Err(e) => eprintln!("no stack for a greenlet: {e}"),
    /// }
    /// ```
    #[track_caller]
    pub fn try_spawn<T: 'static>(
        self,
        f: impl FnOnce() -> T + 'static,
    ) -> io::Result<JoinHandle<T>> {
        self.spawn_at(Location::caller(), f)
    }

    pub(crate) fn spawn_at<T: 'static>(
        self,
        location: &'static Location<'static>,
        f: impl FnOnce() -> T + 'static,
    ) -> io::Result<JoinHandle<T>> {
        let fiber = create(Kind::Task, self.stack_size, location, move |me, _input| {
            match panic::catch_unwind(AssertUnwindSafe(f)) {
                // A kill re-armed by `hub::defer_kill` (it arrived where no unwind was
                // possible) and never delivered: the greenlet was killed all the same.
                Ok(v) if me.kill_pending.replace(false) => {
                    me.killed.set(true);
                    drop(v);
                }
                Ok(v) => *me.result.borrow_mut() = Some(Box::new(v)),
                // Killed: neither a result nor a panic.
                Err(p) if p.is::<GreenletExit>() => {}
                Err(p) => {
                    if me.detached.get() {
                        report_unjoined(me, &panic_message(&*p));
                    }
                    me.set_panic(p);
                }
            }
            None
        })?;
        if let Some(name) = self.name {
            fiber.set_name(name);
        }
        let handle = JoinHandle { fiber: fiber.clone(), _t: PhantomData };
        hub::with(|h| match self.delay {
            None => h.schedule_new(fiber),
            // A delay too large for `Instant` never comes: the greenlet stays unstarted until
            // killed.
            Some(d) => {
                if let Some(at) = crate::time::deadline_after(d) {
                    h.arm_timer(at, TimerAction::Start(fiber));
                }
            }
        });
        Ok(handle)
    }
}
