//! Why a spawn on a runtime was refused.

#[allow(clippy::wildcard_imports)] // a split of the parent module: same names
use super::*;

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
    pub(super) kind: SpawnErrorKind,
    pub(super) detail: usize,
    pub(super) f: F,
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
                     greenlet's stack takes up to {per} memory mapping(s): vm.max_map_count, \
                     {maps} here, and RLIMIT_AS bound the whole process), or use \
                     Handle::spawn, which waits for room",
                    self.detail,
                    per = crate::ctx::maps_per_stack(),
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
