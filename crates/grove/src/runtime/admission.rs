//! How many greenlets a runtime may have queued or alive at once (`Builder::max_greenlets`).
//!
//! Every remote spawn takes a slot before its job is queued and gives it back when its greenlet
//! has finished (or its job was dropped, or the hub could not start it). A flood of spawns
//! from other threads therefore waits (`spawn`) or is refused with a clear error
//! (`try_spawn`) instead of piling up jobs that the hubs turn into more stacks than the kernel
//! will map — which ends in an allocation failure and an abort, not an error.

use crate::loom::{Mutex, MutexGuard};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use crate::sync::mt::{wait, Waiters};

/// Mappings left for everything else of the process (heap arenas, libraries, thread stacks,
/// hubs outside this runtime) when the default limit is derived from `vm.max_map_count`.
const MAP_RESERVE: usize = 8192;

/// The default limit: what `vm.max_map_count` (one or two mappings per stack, see
/// `ctx::maps_per_stack`) and a finite
/// `RLIMIT_AS` (half the address space still free: thread stacks and
/// malloc arenas need the rest) leave room for, so a runtime
/// reaches its own limit before the kernel's.
pub(crate) fn default_limit(stack_size: usize) -> usize {
    let by_maps =
        map_count().unwrap_or(65_530).saturating_sub(MAP_RESERVE) / crate::ctx::maps_per_stack();
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes into the valid struct it is given.
    let by_as = if unsafe { libc::getrlimit(libc::RLIMIT_AS, &mut lim) } == 0
        && lim.rlim_cur != libc::RLIM_INFINITY
    {
        // SAFETY: sysconf has no memory-safety preconditions.
        let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096);
        // Usable size rounded to pages, plus the guard page.
        let per_stack = stack_size.div_ceil(page) * page + page;
        let free = lim.rlim_cur.saturating_sub(vm_size().unwrap_or(0));
        usize::try_from(free / 2).unwrap_or(usize::MAX) / per_stack
    } else {
        usize::MAX
    };
    by_maps.min(by_as).max(1)
}

/// The process's address-space size (`VmSize`), if readable.
fn vm_size() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmSize:"))?;
    Some(line.split_whitespace().nth(1)?.parse::<u64>().ok()? * 1024)
}

/// `vm.max_map_count`, if readable.
pub(crate) fn map_count() -> Option<usize> {
    std::fs::read_to_string("/proc/sys/vm/max_map_count").ok()?.trim().parse().ok()
}

/// Why a slot could not be had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// At the limit (`try_spawn`).
    Full,
    /// The runtime shut down.
    ShutDown,
    /// The waiting caller got the Deadlock error, a timeout, or is unwinding.
    Interrupted,
}

struct State {
    in_flight: usize,
    closed: bool,
    waiters: Waiters,
}

pub(crate) struct Admission {
    limit: usize,
    state: Mutex<State>,
    /// Per hub: jobs sent and not yet run (placement counts them with the hub's load).
    pub(crate) queued: Box<[AtomicUsize]>,
}

impl Admission {
    pub(crate) fn new(limit: usize, hubs: usize) -> Admission {
        Admission {
            limit: limit.max(1),
            state: Mutex::new(State { in_flight: 0, closed: false, waiters: Waiters::default() }),
            queued: (0..hubs).map(|_| AtomicUsize::new(0)).collect(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn limit(&self) -> usize {
        self.limit
    }

    /// Greenlets queued or alive.
    pub(crate) fn in_flight(&self) -> usize {
        self.lock().in_flight
    }

    /// Takes a slot if one is free.
    pub(crate) fn try_acquire(&self) -> Result<(), Refused> {
        let mut s = self.lock();
        if s.closed {
            Err(Refused::ShutDown)
        } else if s.in_flight >= self.limit {
            Err(Refused::Full)
        } else {
            s.in_flight += 1;
            Ok(())
        }
    }

    /// Takes a slot, waiting (cooperatively) while the runtime is at its limit. A kill or an
    /// expired `timeout` scope unwinds out of the wait.
    pub(crate) fn acquire(&self) -> Result<(), Refused> {
        loop {
            let mut s = self.lock();
            if s.closed {
                return Err(Refused::ShutDown);
            }
            if s.in_flight < self.limit {
                s.in_flight += 1;
                return Ok(());
            }
            let waited =
                wait(&self.state, s, |s| &mut s.waiters, None, "Runtime::spawn (max_greenlets)");
            if waited.is_err() {
                return Err(Refused::Interrupted);
            }
        }
    }

    /// Gives a slot back.
    pub(crate) fn release(&self) {
        let mut s = self.lock();
        s.in_flight -= 1;
        s.waiters.wake_one();
    }

    /// The runtime shut down: waiting spawners give up, later ones are refused.
    pub(crate) fn close(&self) {
        let mut s = self.lock();
        s.closed = true;
        s.waiters.wake_all();
    }

    pub(crate) fn queued(&self, hub: usize) -> usize {
        self.queued[hub].load(Relaxed)
    }
}
