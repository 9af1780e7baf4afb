//! Greenlet stacks: each owns one page-aligned range of anonymous memory, lowest page a guard.
//! The hub's pool carves default-size stacks from per-thread slabs of 64 (one `mmap`, one
//! `process_madvise` for the 64 guards, one for their top pages); other stacks get a mapping
//! of their own. Either way a `Stack` unmaps exactly its own range when dropped.
//!
//! ```text
//!  high addresses
//!  +---------------------------+  <- base()   (stack grows down from here)
//!  |  usable, PROT_READ|WRITE  |  touched lazily: an idle greenlet costs ~1 page
//!  |           ...             |
//!  +---------------------------+  <- guard_end
//!  |  guard page               |  any access here is a stack overflow (SIGSEGV)
//!  +---------------------------+  <- limit()  (start of the mapping)
//!  low addresses
//! ```
//!
//! The guard is a *guard region* (`madvise(MADV_GUARD_INSTALL)`, Linux 6.13+): a page-table
//! marker that faults like `PROT_NONE` without a mapping of its own, so a stack is one kernel
//! mapping (VMA) and neighbouring stacks merge into one. One system call fewer per new stack,
//! and `vm.max_map_count` no longer bounds how many greenlets can be alive. On older kernels
//! the guard is a `PROT_NONE` page (`mprotect`), which splits the mapping in two: there, the
//! map count bounds live greenlets at about half of it.
//!
//! A pooled stack's deep pages go back to the kernel only if resident (`mincore` first): a
//! `MADV_DONTNEED` in a multi-threaded process interrupts every other core for its TLB
//! shootdown. Deep pages that were swapped out are therefore left to the kernel's swap.

use std::cell::Cell;
use std::io;
use std::num::NonZeroUsize;
use std::ptr;
use std::sync::atomic::{AtomicU8, Ordering::Relaxed};

use corosensei::stack::{StackPointer, MIN_STACK_SIZE};

/// The system page size, read once.
pub(crate) fn page_size() -> usize {
    use std::sync::OnceLock;
    static PAGE: OnceLock<usize> = OnceLock::new();
    // SAFETY: sysconf has no memory-safety preconditions.
    *PAGE.get_or_init(|| unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize)
}

/// Rounds a requested usable size up to whole pages, with the corosensei minimum applied.
pub(crate) fn round_size(size: usize) -> usize {
    let page = page_size();
    size.max(MIN_STACK_SIZE).div_ceil(page) * page
}

/// `madvise` advice installing a guard region (Linux 6.13+; not yet in the libc crate).
const MADV_GUARD_INSTALL: libc::c_int = 102;

/// How guard pages are made: not known yet, guard regions, or `mprotect`.
static GUARD_MODE: AtomicU8 = AtomicU8::new(GUARD_UNKNOWN);
const GUARD_UNKNOWN: u8 = 0;
const GUARD_REGION: u8 = 1;
const GUARD_MPROTECT: u8 = 2;

/// Kernel mappings (VMAs) each live stack may take: 1 with guard regions (neighbours even
/// merge), 2 with `mprotect` guards. Read by the runtime's default greenlet limit.
pub(crate) fn maps_per_stack() -> usize {
    if GUARD_MODE.load(Relaxed) == GUARD_UNKNOWN {
        probe_guard_mode();
    }
    if GUARD_MODE.load(Relaxed) == GUARD_REGION {
        1
    } else {
        2
    }
}

/// Finds out whether the kernel has guard regions, on a throwaway page of its own: not with a
/// throwaway `Stack`, which would map this thread's slab for stacks of the probe's size (and
/// leave it serving that size). Leaves the mode unknown if the kernel refuses the page.
fn probe_guard_mode() {
    let page = page_size();
    let Ok(addr) = map(page) else { return };
    // SAFETY: [addr, addr + page) is the mapping created just above, which nothing references.
    // An error (the kernel refusing for another reason) leaves the mode unknown.
    let _ = unsafe { guard_region(addr as *mut libc::c_void) };
    // SAFETY: the page mapped just above, which only this function knows of.
    unsafe { libc::munmap(addr as *mut libc::c_void, page) };
}

/// Makes the page at `addr` a guard region: `Ok(true)`; `Ok(false)` when this kernel has no
/// guard regions (`EINVAL`, before Linux 6.13); the kernel's error otherwise. What the kernel
/// said becomes the guard mode, unless one was set already (a finding made meanwhile, or
/// `force_mprotect_guards`).
///
/// # Safety
/// `[addr, addr + page)` is a page of anonymous memory the caller mapped and nothing
/// references yet (a guard region only makes later accesses to it fault).
unsafe fn guard_region(addr: *mut libc::c_void) -> io::Result<bool> {
    // SAFETY: the caller's contract above.
    let rc = unsafe { libc::madvise(addr, page_size(), MADV_GUARD_INSTALL) };
    let (mode, r) = if rc == 0 {
        (GUARD_REGION, Ok(true))
    } else {
        let err = io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EINVAL) {
            return Err(err);
        }
        (GUARD_MPROTECT, Ok(false))
    };
    let _ = GUARD_MODE.compare_exchange(GUARD_UNKNOWN, mode, Relaxed, Relaxed);
    r
}

/// For tests: makes every later stack use `mprotect` guards, as on kernels before 6.13.
pub(crate) fn force_mprotect_guards() {
    GUARD_MODE.store(GUARD_MPROTECT, Relaxed);
}

/// Stacks mapped at a time: new stacks are carved from one mapping ("slab") of this many,
/// so a burst of first spawns makes one `mmap` per 64 stacks instead of one each.
const SLAB_STACKS: usize = 64;

/// This thread's slab: the part `[cur, end)` not handed out yet, in stacks of `len` bytes,
/// whose guard pages are already installed if `guarded`. Unmapped at thread exit.
struct Slab {
    cur: Cell<usize>,
    end: Cell<usize>,
    len: Cell<usize>,
    guarded: Cell<bool>,
}

impl Drop for Slab {
    fn drop(&mut self) {
        unmap_rest(self.cur.get(), self.end.get());
    }
}

thread_local! {
    static SLAB: Slab = const {
        Slab { cur: Cell::new(0), end: Cell::new(0), len: Cell::new(0), guarded: Cell::new(false) }
    };
}

/// Unmaps a slab's unused tail `[cur, end)`.
fn unmap_rest(cur: usize, end: usize) {
    if end > cur {
        // SAFETY: [cur, end) is the untouched tail of a slab this thread mapped; no stack was
        // carved from it, so nothing refers to it.
        unsafe { libc::munmap(cur as *mut libc::c_void, end - cur) };
    }
}

/// Maps `len` bytes of anonymous read-write memory.
fn map(len: usize) -> io::Result<usize> {
    // SAFETY: an anonymous private mapping at an address of the kernel's choosing aliases no
    // existing Rust object; the result is checked for MAP_FAILED.
    let addr = unsafe {
        libc::mmap(
            ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if addr == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    Ok(addr as usize)
}

/// `process_madvise`'s "this process" pidfd (Linux 6.15+): never a cached pidfd, which a
/// forked child would share with its parent.
const PIDFD_SELF: libc::c_int = -10001;

/// Installs guard regions on the lowest page of each of the `n` stacks of `len` bytes from
/// `base`, in one system call (`process_madvise`, Linux 6.15+), and faults in each stack's
/// top page (the first a greenlet touches) in a second one. False if the kernel cannot guard
/// that way; the caller then guards each stack as it hands it out.
fn guard_slab(base: usize, len: usize, n: usize) -> bool {
    let page = page_size();
    let at = |offset: usize| -> Vec<libc::iovec> {
        (0..n)
            .map(|i| libc::iovec {
                iov_base: (base + i * len + offset) as *mut libc::c_void,
                iov_len: page,
            })
            .collect()
    };
    let advise = |iov: &[libc::iovec], advice: libc::c_int| {
        // SAFETY: every range is one page of a stack-sized piece of the slab this thread just
        // mapped and nothing references yet; a guard region only makes accesses fault, and
        // populating only faults zeroed pages in. `iov` outlives the call.
        let r = unsafe {
            libc::syscall(libc::SYS_process_madvise, PIDFD_SELF, iov.as_ptr(), iov.len(), advice, 0)
        };
        usize::try_from(r).is_ok_and(|bytes| bytes == iov.len() * page)
    };
    if !advise(&at(0), MADV_GUARD_INSTALL) {
        return false;
    }
    // Best effort: a stack whose top page is not in yet faults it in on first use.
    let _ = advise(&at(len - page), libc::MADV_POPULATE_WRITE);
    true
}

/// `len` bytes (a page multiple) for a new pool stack, and whether its guard page is already
/// in place: from this thread's slab of stacks of that size, or from a new slab of
/// [`SLAB_STACKS`] of them (the untouched rest of a slab of another size, the pool's size
/// before `set_stack_size`, is unmapped), or — when the kernel refuses a whole slab (a tight
/// `RLIMIT_AS`), or at thread exit — a mapping of its own. Each stack owns its range and
/// unmaps it when dropped.
fn carve(len: usize) -> io::Result<(usize, bool)> {
    let from_slab = SLAB
        .try_with(|s| -> io::Result<(usize, bool)> {
            let (cur, end) = (s.cur.get(), s.end.get());
            if end - cur >= len && s.len.get() == len {
                s.cur.set(cur + len);
                // After `force_mprotect_guards`, stacks of a slab guarded before get a
                // `PROT_NONE` guard page too (on top of the guard region), as promised.
                let guarded = s.guarded.get() && GUARD_MODE.load(Relaxed) != GUARD_MPROTECT;
                return Ok((cur, guarded));
            }
            let slab_len = len.saturating_mul(SLAB_STACKS);
            let Ok(base) = map(slab_len) else {
                return Ok((map(len)?, false)); // no room for a slab: one stack only
            };
            unmap_rest(cur, end);
            let guarded =
                GUARD_MODE.load(Relaxed) != GUARD_MPROTECT && guard_slab(base, len, SLAB_STACKS);
            if guarded {
                let _ = GUARD_MODE.compare_exchange(GUARD_UNKNOWN, GUARD_REGION, Relaxed, Relaxed);
            }
            s.cur.set(base + len);
            s.end.set(base + slab_len);
            s.len.set(len);
            s.guarded.set(guarded);
            Ok((base, guarded))
        })
        .ok();
    // At thread exit (slab already gone) a stack gets a mapping of its own.
    from_slab.unwrap_or_else(|| Ok((map(len)?, false)))
}

/// An owned, guard-paged stack mapping.
#[derive(Debug)]
pub(crate) struct Stack {
    /// Start of the mapping (the guard page).
    start: NonZeroUsize,
    /// Length of the whole mapping, guard included (a multiple of the page size), with the
    /// generation of the pool that handed the stack out in the low bits (see [`Stack::gen`]):
    /// kept in one word so a greenlet record does not grow.
    len_gen: usize,
}

/// The low bits of `len_gen` holding the pool generation (pages are at least 4 KiB).
const GEN_MASK: usize = 0xfff;

impl Stack {
    /// Maps a new stack with `size` usable bytes (rounded up to pages) below one guard page, a
    /// mapping of its own: for a custom size (`Builder::stack_size`), which must not take this
    /// thread's slab (see [`Stack::carved`]).
    ///
    /// # Errors
    /// The kernel's refusal, turned into an error that names the likely limit: `ENOMEM` from
    /// mmap/mprotect here almost always means `vm.max_map_count` or `RLIMIT_AS` was reached.
    pub(crate) fn new(size: usize) -> io::Result<Stack> {
        Stack::make(size, false)
    }

    /// Like [`Stack::new`], for a stack pool: carved from this thread's slab of stacks of this
    /// size (see `carve`).
    pub(crate) fn carved(size: usize) -> io::Result<Stack> {
        Stack::make(size, true)
    }

    fn make(size: usize, from_slab: bool) -> io::Result<Stack> {
        let page = page_size();
        let usable = round_size(size);
        let len = usable + page;
        let (addr, guarded) = if from_slab { carve(len) } else { map(len).map(|a| (a, false)) }
            .map_err(|e| limit_error(e, usable))?;
        let addr = addr as *mut libc::c_void;
        let stack = Stack {
            start: NonZeroUsize::new(addr as usize).expect("mmap returned 0"),
            len_gen: len,
        };
        if guarded {
            return Ok(stack);
        }
        // The lowest page becomes the guard. On failure `stack` is dropped and unmaps it all.
        if GUARD_MODE.load(Relaxed) != GUARD_MPROTECT {
            // SAFETY: [addr, addr + page) is the first page of the range mapped or carved just
            // above, which nothing references yet.
            let installed = unsafe { guard_region(addr) }.map_err(|e| limit_error(e, usable))?;
            if installed {
                return Ok(stack);
            }
        }
        // An older kernel (or `force_mprotect_guards`): a PROT_NONE guard page.
        // SAFETY: [addr, addr + page) is the first page of the range mapped or carved just
        // above, which nothing references yet; making it inaccessible affects no Rust object.
        let rc = unsafe { libc::mprotect(addr, page, libc::PROT_NONE) };
        if rc != 0 {
            return Err(limit_error(io::Error::last_os_error(), usable));
        }
        Ok(stack)
    }

    /// Length of the whole mapping, guard included.
    fn len(&self) -> usize {
        self.len_gen & !GEN_MASK
    }

    /// The generation of the pool that handed this stack out (0: not from a pool), so a pool
    /// counts and reuses only its own stacks (not custom-size ones, nor those of a size it
    /// had before `set_stack_size`).
    pub(crate) fn gen(&self) -> usize {
        self.len_gen & GEN_MASK
    }

    /// Marks the stack as handed out by a pool of generation `gen` (`1..=GEN_MASK`).
    pub(crate) fn set_gen(&mut self, gen: usize) {
        self.len_gen = self.len() | (gen & GEN_MASK);
    }

    /// The largest pool generation; the next one wraps to 1.
    pub(crate) const MAX_GEN: usize = GEN_MASK;

    /// Usable bytes (the guard page excluded).
    pub(crate) fn usable_size(&self) -> usize {
        self.len() - page_size()
    }

    /// The guard page's address range `[lo, hi)`.
    pub(crate) fn guard_range(&self) -> (usize, usize) {
        (self.start.get(), self.start.get() + page_size())
    }

    /// Gives the pages below the top `keep` bytes back to the kernel, so a stack that once ran
    /// deep does not keep that memory resident while it sits in the pool.
    pub(crate) fn release_deep_pages(&self, keep: usize) {
        let Some((lo, hi)) = self.deep_range(keep) else { return };
        // Most greenlets never run deep: find the lowest resident page first (a page-table
        // read), so only a stack that did pays for MADV_DONTNEED, whose TLB shootdown
        // interrupts every other core running this process.
        let Some(deepest) = lowest_resident(lo, hi) else { return };
        // SAFETY: [deepest, hi) is inside the usable part of this mapping, which this stack
        // owns; no greenlet is running on a pooled stack, so nothing live is stored there
        // (MADV_DONTNEED just zero-fills those pages on next touch).
        unsafe {
            libc::madvise(deepest as *mut libc::c_void, hi - deepest, libc::MADV_DONTNEED);
        }
    }
}

/// The lowest resident page in `[lo, hi)` (page aligned, inside one owned mapping), by
/// `mincore`; `None` if none is. An error counts as "resident" (the caller then releases the
/// whole range, as before).
fn lowest_resident(lo: usize, hi: usize) -> Option<usize> {
    const CHUNK: usize = 256;
    let page = page_size();
    let mut at = lo;
    let mut vec = [0u8; CHUNK];
    while at < hi {
        let pages = ((hi - at) / page).min(CHUNK);
        // SAFETY: [at, at + pages * page) lies inside the caller's mapping; `vec` has room for
        // `pages` entries, one per page.
        let rc = unsafe { libc::mincore(at as *mut libc::c_void, pages * page, vec.as_mut_ptr()) };
        if rc != 0 {
            return Some(at);
        }
        if let Some(i) = vec[..pages].iter().position(|v| v & 1 != 0) {
            return Some(at + i * page);
        }
        at += pages * page;
    }
    None
}

impl Stack {
    /// The usable pages below the top `keep` bytes (rounded up to pages), `[lo, hi)`; `None`
    /// if the stack is no deeper than that.
    fn deep_range(&self, keep: usize) -> Option<(usize, usize)> {
        let page = page_size();
        let keep = keep.div_ceil(page) * page;
        let usable = self.usable_size();
        let lo = self.start.get() + page;
        (usable > keep).then(|| (lo, lo + usable - keep))
    }

    /// For tests: whether any page below the top `keep` bytes is resident.
    #[cfg(test)]
    fn deep_resident(&self, keep: usize) -> bool {
        self.deep_range(keep).is_some_and(|(lo, hi)| lowest_resident(lo, hi).is_some())
    }
}

/// Gives the pages of the running stack below the caller's depth back to the kernel, down to
/// `lo` (the lowest usable address of the stack `[lo, lo + size)` the caller runs on): a greenlet that ran deep and is about to wait long
/// keeps only the pages its waiting frames use. At least 512 bytes below this function's frame
/// stay, for the call into `madvise` itself.
#[inline(never)]
pub(crate) fn release_below_current(lo: usize, size: usize) {
    if cfg!(feature = "sanitizer") {
        return; // ASan keeps its own state for stack memory: leave the pages alone
    }
    /// Room kept below this frame for the call into `madvise` (its wrapper's frame and return
    /// address must not sit in a page being released).
    const CALL_ROOM: usize = 512;
    let page = page_size();
    let marker = 0u8;
    // An address in this frame: everything the running code still needs lies above it.
    let here = std::hint::black_box(std::ptr::addr_of!(marker)) as usize;
    if here <= lo || here >= lo + size {
        return; // not running on that stack (cannot happen for the running greenlet's own)
    }
    let hi = here.saturating_sub(CALL_ROOM) & !(page - 1);
    if hi <= lo {
        return;
    }
    // SAFETY: [lo, hi) lies in the running greenlet's own stack (callers pass its usable
    // bottom), entirely below the current frame by at least CALL_ROOM bytes, more than the
    // libc wrapper's frame needs on the way into the system call. Memory below the stack
    // pointer holds nothing live (no frame, and x86-64's 128-byte red zone is far above
    // `hi`); MADV_DONTNEED only makes those pages read back as zeros when next touched.
    unsafe {
        libc::madvise(lo as *mut libc::c_void, hi - lo, libc::MADV_DONTNEED);
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        // SAFETY: `start`/`len()` describe exactly the range this value mapped, or carved from
        // a slab (whose tail unmap never covers a carved range), and owns; the coroutine that
        // used it has finished or been reset, so nothing points into it anymore.
        unsafe {
            libc::munmap(self.start.get() as *mut libc::c_void, self.len());
        }
    }
}

// SAFETY: base() is the end of the mapping (page aligned, hence STACK_ALIGNMENT aligned);
// limit() is the start of the mapping and includes the guard page (a guard region or PROT_NONE); the usable part is
// at least MIN_STACK_SIZE bytes (round_size). The memory stays mapped until `Stack` is dropped.
unsafe impl corosensei::stack::Stack for Stack {
    fn base(&self) -> StackPointer {
        StackPointer::new(self.start.get() + self.len()).expect("stack base is non-zero")
    }

    fn limit(&self) -> StackPointer {
        self.start
    }
}

/// Wraps a refusal from the kernel into an error that says what to do about it.
fn limit_error(err: io::Error, size: usize) -> io::Error {
    let map_count = std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into());
    let hint = if err.raw_os_error() == Some(libc::ENOMEM) {
        format!(
            "the kernel refused another greenlet stack ({size} bytes): each stack takes up to \
             {} memory mapping(s), and vm.max_map_count is {map_count}; raise it (sysctl -w \
             vm.max_map_count=262144), raise RLIMIT_AS, or keep fewer greenlets alive",
            if GUARD_MODE.load(Relaxed) == GUARD_REGION { 1 } else { 2 }
        )
    } else {
        format!("cannot map a greenlet stack of {size} bytes")
    };
    io::Error::new(err.kind(), format!("grove: {hint} ({err})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Only a stack that ran deep is advised: a fresh one has nothing resident down there,
    /// a touched deep page is found, and after the release it is gone again.
    #[test]
    fn deep_pages_are_found_and_released() {
        let keep = 8 * 1024;
        let s = Stack::new(64 * 1024).unwrap();
        assert!(!s.deep_resident(keep), "a fresh stack has no deep pages");
        // An address in the lowest usable page.
        let deep = s.start.get() + page_size() + 100;
        // SAFETY: `deep` is inside the usable part of the stack this test owns; nothing runs
        // on it.
        unsafe { std::ptr::write_volatile(deep as *mut u8, 7) };
        assert!(s.deep_resident(keep));
        s.release_deep_pages(keep);
        assert!(!s.deep_resident(keep));
        // SAFETY: as above; the released page reads back as zero.
        assert_eq!(unsafe { std::ptr::read_volatile(deep as *const u8) }, 0);
    }

    /// Finding out the guard mode must not map a slab for the probe's size: that would leave
    /// this thread's slab serving that size, and every stack of the runtime's size would get a
    /// mapping of its own (and a per-stack guard system call) until 63 more probe-size stacks
    /// were taken.
    #[test]
    fn probing_the_guard_mode_leaves_the_slab_alone() {
        std::thread::spawn(|| {
            GUARD_MODE.store(GUARD_UNKNOWN, Relaxed);
            let _ = maps_per_stack();
            assert_eq!(SLAB.with(|s| s.len.get()), 0, "the probe mapped a slab");
            let a = Stack::carved(64 * 1024).unwrap();
            let b = Stack::carved(64 * 1024).unwrap();
            assert_eq!(b.start.get(), a.start.get() + a.len(), "not carved from one slab");
        })
        .join()
        .unwrap();
    }

    /// `mincore` is read 256 pages at a time: on a stack of several MiB and an odd page count,
    /// the lowest resident page is found across chunk boundaries, and the release leaves the
    /// top `keep` bytes alone.
    #[test]
    fn deep_pages_of_a_large_odd_stack() {
        let page = page_size();
        let keep = 8 * 1024 + 1; // rounds up to 3 pages
        let s = Stack::new(3 * 1024 * 1024 + 5 * page + 1).unwrap();
        let lo = s.start.get() + page;
        let hi = lo + s.usable_size() - 3 * page;
        let pages = (hi - lo) / page;
        assert_eq!(pages, 3 * 256 + 6 - 3);
        let touch = |at: usize, v: u8| {
            // SAFETY: `at` is inside the usable part of the stack this test owns.
            unsafe { std::ptr::write_volatile(at as *mut u8, v) }
        };
        let read = |at: usize| {
            // SAFETY: as above.
            unsafe { std::ptr::read_volatile(at as *const u8) }
        };
        assert_eq!(lowest_resident(lo, hi), None);
        touch(hi - page, 1); // the last deep page
        assert_eq!(lowest_resident(lo, hi), Some(hi - page));
        touch(lo + 256 * page, 2); // first page of the second chunk
        assert_eq!(lowest_resident(lo, hi), Some(lo + 256 * page));
        touch(lo + 255 * page, 3); // last page of the first chunk
        assert_eq!(lowest_resident(lo, hi), Some(lo + 255 * page));
        touch(hi, 9); // lowest kept page
        let top = lo + s.usable_size() - 1;
        touch(top, 8);
        s.release_deep_pages(keep);
        assert_eq!(lowest_resident(lo, hi), None);
        for at in [hi - page, lo + 256 * page, lo + 255 * page] {
            assert_eq!(read(at), 0);
        }
        assert_eq!((read(hi), read(top)), (9, 8), "kept pages were released");
    }
}
