//! Cooperative futex waits: std's `Mutex`, `Condvar`, `RwLock`, `Once`/`OnceLock` and
//! `Barrier` (all built on the futex system call, made through libc's `syscall`) park the
//! greenlet instead of the hub thread.
//!
//! A `FUTEX_WAIT` on a hub thread checks the word under a bucket lock, registers the greenlet
//! in a process-wide table keyed by address (with a [`RemoteToken`]) and parks it. Every
//! `FUTEX_WAKE` in the process comes through the same hook: it wakes up to `n` greenlets
//! registered on that address (on any hub, through their tokens), and the kernel wakes up to
//! `n` real threads as well (more wakeups than asked are allowed; fewer could strand one). Spurious wakeups are allowed by futex semantics: a
//! wait interrupted by a kill or a `timeout` scope returns 0 and the caller re-checks.
//!
//! Ordering: a waiter increments [`PARKED`] and then reads the word (SeqCst fence between);
//! a waker changed the word before its wake, then fences and reads `PARKED`. So either the
//! waiter sees the new value (and does not sleep), or the waker sees a waiter and takes the
//! bucket lock — after the waiter registered under it.
//!
//! Left to libc (they block the thread, as without grove-patch):
//! - waits off hub threads, in hub callbacks, in the scheduler, or while unwinding;
//! - per-thread parkers, whose single wakeup slot all greenlets of a hub would share and
//!   lose wakeups through: words in the thread's own thread-local storage (parking_lot's
//!   `ThreadData`, hence every parking_lot lock) and std's thread parker (`thread::park`,
//!   `std::sync::mpsc`'s blocking receive). The parker's word is learnt once per thread by a
//!   probe ([`learn_parker`]); until then a wait for `u32::MAX` (its PARKED state) is left
//!   to libc too;
//! - priority-inheritance and requeue operations (greenlets parked on a requeued or
//!   `WAKE_OP` address are woken, spuriously, so they re-check).

use std::cell::Cell;
use std::ffi::{c_int, c_long, c_void};
use std::sync::atomic::{
    fence, AtomicU32, AtomicU64, AtomicUsize,
    Ordering::{Relaxed, SeqCst},
};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use grove::patch_support::RemoteToken;

use crate::interrupt::wait_through;
use crate::{errno, is_enabled, set_errno};

/// A greenlet parked on a futex word.
struct Waiter {
    addr: usize,
    bitset: u32,
    id: u64,
    tok: RemoteToken,
}

const BUCKETS: usize = 64;
static TABLE: [Mutex<Vec<Waiter>>; BUCKETS] = [const { Mutex::new(Vec::new()) }; BUCKETS];
/// Greenlets registered in the table (a wake with none skips it).
static PARKED: AtomicUsize = AtomicUsize::new(0);
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// How often a greenlet waiting on a shared (not process-private) futex re-checks the word:
/// another process's wake never comes through this table.
const SHARED_RECHECK: Duration = Duration::from_millis(10);

thread_local! {
    /// This thread is inside the table's own code: its futex calls (the bucket locks, the
    /// remote wakeup queue) go straight to the kernel.
    static INSIDE: Cell<bool> = const { Cell::new(false) };
    /// The address ranges of this thread's static thread-local storage (computed once).
    static TLS: Cell<Option<[(usize, usize); 8]>> = const { Cell::new(None) };
    /// The address of this thread's std parker word (0: not known yet).
    static PARKER: Cell<usize> = const { Cell::new(0) };
    /// Probes left before giving up on learning it.
    static PROBES: Cell<u8> = const { Cell::new(3) };
    /// A probe is running: the next futex wait is the parker's.
    static PROBING: Cell<bool> = const { Cell::new(false) };
}

/// Learns the address of this thread's std parker word: `thread::park_timeout(0)` makes one
/// futex wait on it, which the hook records and fails at once (`ETIMEDOUT`, as a zero timeout
/// would). Call only where no greenlet of this thread can be inside `thread::park` — always
/// true, since every wait that may be the parker's is left to libc and blocks the thread. If
/// the parker held a pending `unpark`, the probe consumes it instead of waiting: it is given
/// back (a spurious wakeup at worst) and the probe is tried again later.
pub(crate) fn learn_parker() {
    if PARKER.get() != 0 || PROBES.get() == 0 || PROBING.get() {
        return;
    }
    PROBES.set(PROBES.get() - 1);
    let saved = errno();
    PROBING.set(true);
    let probe = std::panic::catch_unwind(|| std::thread::park_timeout(Duration::ZERO));
    PROBING.set(false);
    if probe.is_ok() && PARKER.get() == 0 {
        let _ = std::panic::catch_unwind(|| std::thread::current().unpark());
    }
    set_errno(saved);
}

fn bucket(addr: usize) -> MutexGuard<'static, Vec<Waiter>> {
    let h = (addr >> 2).wrapping_mul(0x9E37_79B9_7F4A_7C15_u64 as usize);
    let i = h >> (usize::BITS - BUCKETS.trailing_zeros());
    TABLE[i].lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs `f` with this thread's futex calls passed straight to the kernel.
fn inside<R>(f: impl FnOnce() -> R) -> R {
    struct Leave(bool);
    impl Drop for Leave {
        fn drop(&mut self) {
            INSIDE.set(self.0);
        }
    }
    let _leave = Leave(INSIDE.replace(true));
    f()
}

/// The hook's decision for one `syscall(SYS_futex, ...)`: `Some(result)` if handled here,
/// `None` to pass the call to libc unchanged.
///
/// # Safety
/// The arguments of a futex system call made by the program (the word and the timeout are
/// valid, as the kernel would require).
pub(crate) unsafe fn hook(
    a1: c_long,
    a2: c_long,
    a3: c_long,
    a4: c_long,
    a5: c_long,
    a6: c_long,
) -> Option<c_long> {
    // Variadic `int`/`u32` arguments occupy only the low half of their register or slot.
    let (addr, op, val, val3) = (a1 as usize, a2 as c_int, a3 as u32, a6 as u32);
    let cmd = op & libc::FUTEX_CMD_MASK;
    let is_wait = cmd == libc::FUTEX_WAIT || cmd == libc::FUTEX_WAIT_BITSET;
    if PROBING.get() && is_wait && val == u32::MAX {
        PROBING.set(false);
        PARKER.set(addr);
        set_errno(libc::ETIMEDOUT);
        return Some(-1);
    }
    if INSIDE.get() {
        return None;
    }
    match cmd {
        libc::FUTEX_WAIT | libc::FUTEX_WAIT_BITSET => {
            let bitset = if cmd == libc::FUTEX_WAIT { u32::MAX } else { val3 };
            if addr == 0 || addr % 4 != 0 || bitset == 0 {
                return None; // libc reports the error
            }
            if !is_enabled() || !grove::patch_support::is_cooperative() || per_thread(addr, val) {
                return None;
            }
            // SAFETY: a non-null timeout is a valid timespec (the caller's contract).
            let deadline = deadline(cmd, op, unsafe { (a4 as *const libc::timespec).as_ref() })?;
            let private = op & libc::FUTEX_PRIVATE_FLAG != 0;
            // SAFETY: `addr` is the caller's aligned futex word, valid during the call.
            let word = unsafe { &*(addr as *const AtomicU32) };
            Some(wait(word, val, bitset, deadline, private))
        }
        libc::FUTEX_WAKE | libc::FUTEX_WAKE_BITSET => {
            let bitset = if cmd == libc::FUTEX_WAKE { u32::MAX } else { val3 };
            let n = (a3 as c_int).max(1) as usize;
            let woken = wake(addr, n, bitset);
            if woken == 0 {
                return None;
            }
            // The kernel's waiters get the whole count too: waking more than asked is only
            // extra contention, while waking fewer could strand a thread (a greenlet whose hub
            // is gone, for one, takes a wake it never acts on).
            // SAFETY: the caller's own wake.
            let r = unsafe { crate::real::syscall(libc::SYS_futex, a1, a2, a3, a4, a5, a6) };
            Some(r.max(0) + woken as c_long)
        }
        libc::FUTEX_REQUEUE | libc::FUTEX_CMP_REQUEUE | libc::FUTEX_WAKE_OP => {
            // Greenlets cannot be moved between kernel queues: wake them all; they re-check.
            wake(addr, usize::MAX, u32::MAX);
            wake(a5 as usize, usize::MAX, u32::MAX);
            None
        }
        _ => None,
    }
}

/// Whether `addr`/`val` belong to a per-thread parker (see the module docs).
fn per_thread(addr: usize, val: u32) -> bool {
    if val != u32::MAX {
        // Not std's parker (it waits only in its PARKED state, u32::MAX): a safe point to
        // learn where that is.
        learn_parker();
    } else if addr == PARKER.get() || PARKER.get() == 0 {
        return true;
    }
    let ranges = TLS.get().unwrap_or_else(|| {
        let r = tls_ranges();
        TLS.set(Some(r));
        r
    });
    ranges.iter().any(|&(start, end)| (start..end).contains(&addr))
}

/// This thread's blocks of static thread-local storage, one per loaded object that has some.
fn tls_ranges() -> [(usize, usize); 8] {
    struct Acc([(usize, usize); 8], usize);
    unsafe extern "C" fn each(
        info: *mut libc::dl_phdr_info,
        _size: libc::size_t,
        acc: *mut c_void,
    ) -> c_int {
        // SAFETY: dl_iterate_phdr passes a valid info record and our own accumulator.
        let (info, acc) = unsafe { (&*info, &mut *acc.cast::<Acc>()) };
        if info.dlpi_tls_data.is_null() || acc.1 == acc.0.len() {
            return 0;
        }
        for i in 0..usize::from(info.dlpi_phnum) {
            // SAFETY: `dlpi_phdr` points to `dlpi_phnum` program headers.
            let ph = unsafe { &*info.dlpi_phdr.add(i) };
            if ph.p_type == libc::PT_TLS {
                let start = info.dlpi_tls_data as usize;
                acc.0[acc.1] = (start, start + ph.p_memsz as usize);
                acc.1 += 1;
                break;
            }
        }
        0
    }
    let mut acc = Acc([(0, 0); 8], 0);
    // SAFETY: the callback only reads the records it is given and writes our accumulator.
    unsafe { libc::dl_iterate_phdr(Some(each), (&mut acc as *mut Acc).cast()) };
    acc.0
}

/// The wait's deadline: `Some(None)` for none, `None` for an invalid timeout (libc then
/// reports `EINVAL` without waiting). `FUTEX_WAIT` takes a relative time, `FUTEX_WAIT_BITSET`
/// an absolute one on CLOCK_MONOTONIC (or CLOCK_REALTIME with FUTEX_CLOCK_REALTIME).
fn deadline(cmd: c_int, op: c_int, ts: Option<&libc::timespec>) -> Option<Option<Instant>> {
    let Some(ts) = ts else { return Some(None) };
    if ts.tv_sec < 0 || !(0..1_000_000_000).contains(&ts.tv_nsec) {
        return None;
    }
    let mut d = Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32);
    if cmd == libc::FUTEX_WAIT_BITSET {
        let clock = if op & libc::FUTEX_CLOCK_REALTIME != 0 {
            libc::CLOCK_REALTIME
        } else {
            libc::CLOCK_MONOTONIC
        };
        let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: clock_gettime writes into a valid local.
        unsafe { libc::clock_gettime(clock, &mut now) };
        d = d.saturating_sub(Duration::new(now.tv_sec.max(0) as u64, now.tv_nsec as u32));
    }
    Some(Instant::now().checked_add(d))
}

/// How one park ended.
enum Parked {
    /// The word no longer held the expected value: not parked.
    Changed,
    /// A wake took this waiter out of the table.
    Woken,
    /// The deadline passed first.
    TimedOut,
}

/// A cooperative `FUTEX_WAIT`: 0 when woken (or spuriously), -1 with `EAGAIN` if the word
/// changed, -1 with `ETIMEDOUT` when the deadline passed.
fn wait(
    word: &AtomicU32,
    val: u32,
    bitset: u32,
    deadline: Option<Instant>,
    private: bool,
) -> c_long {
    let saved = errno();
    loop {
        let until = if private {
            deadline
        } else {
            let step = Instant::now() + SHARED_RECHECK;
            Some(deadline.map_or(step, |d| d.min(step)))
        };
        // A lock cannot be given up half-way: a greenlet killed (or past its scope's
        // deadline) before or during the wait still waits, cooperatively, with the kill
        // deferred until it reaches a grove blocking point.
        let r = wait_through(|| park_once(word, val, bitset, until), false);
        match r {
            // Killed or the scope expired during the wait: a spurious wakeup.
            None => break,
            Some(Parked::Changed) => {
                set_errno(libc::EAGAIN);
                return -1;
            }
            Some(Parked::Woken) => break,
            Some(Parked::TimedOut) => {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    set_errno(libc::ETIMEDOUT);
                    return -1;
                }
                if !private && word.load(SeqCst) != val {
                    break;
                }
            }
        }
    }
    set_errno(saved);
    0
}

/// A registration in the table, withdrawn when the park ends (also by unwinding).
struct Entry {
    addr: usize,
    id: u64,
    live: Cell<bool>,
}

impl Entry {
    /// Takes the waiter out of the table; false if a wake already did.
    fn withdraw(&self) -> bool {
        if !self.live.replace(false) {
            return false;
        }
        inside(|| {
            let mut q = bucket(self.addr);
            let Some(p) = q.iter().position(|w| w.id == self.id) else { return false };
            let w = q.remove(p);
            PARKED.fetch_sub(1, SeqCst);
            drop(q);
            drop(w); // its unused token tells its hub it will not come
            true
        })
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        self.withdraw();
    }
}

fn park_once(word: &AtomicU32, val: u32, bitset: u32, deadline: Option<Instant>) -> Parked {
    let addr = word as *const AtomicU32 as usize;
    let entry = Entry { addr, id: NEXT_ID.fetch_add(1, Relaxed), live: Cell::new(false) };
    let arm = |tok: RemoteToken| {
        inside(|| {
            let mut q = bucket(addr);
            PARKED.fetch_add(1, SeqCst);
            fence(SeqCst);
            if word.load(SeqCst) != val {
                PARKED.fetch_sub(1, SeqCst);
                drop(q);
                drop(tok);
                return false;
            }
            q.push(Waiter { addr, bitset, id: entry.id, tok });
            entry.live.set(true);
            true
        })
    };
    match grove::patch_support::park_remote(arm, deadline, "futex (std lock or condvar)") {
        None => Parked::Changed,
        Some(_) if entry.withdraw() => Parked::TimedOut,
        Some(_) => Parked::Woken,
    }
}

/// Wakes up to `n` greenlets parked on `addr` whose bitset meets `bitset`, oldest first.
/// Returns how many.
fn wake(addr: usize, n: usize, bitset: u32) -> usize {
    fence(SeqCst);
    if addr == 0 || PARKED.load(SeqCst) == 0 {
        return 0;
    }
    inside(|| {
        let mut toks = Vec::new();
        {
            let mut q = bucket(addr);
            let mut i = 0;
            while i < q.len() && toks.len() < n {
                if q[i].addr == addr && q[i].bitset & bitset != 0 {
                    toks.push(q.remove(i).tok);
                } else {
                    i += 1;
                }
            }
            PARKED.fetch_sub(toks.len(), SeqCst);
        }
        let woken = toks.len();
        for t in toks {
            t.wake();
        }
        woken
    })
}
