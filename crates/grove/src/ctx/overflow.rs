//! Stack-overflow reporting: a SIGSEGV/SIGBUS handler that recognises a fault in the running
//! greenlet's guard page and aborts with a message naming the greenlet and its stack size,
//! instead of a bare "Segmentation fault".
//!
//! The hub publishes a pointer to the running greenlet's [`OverflowInfo`] in a thread-local on
//! every switch. The handler runs on the thread's alternate signal stack (std installs one on
//! its threads; [`ensure_altstack`] adds one where missing), reads only that plain data, writes
//! with `write(2)` and calls `abort(2)`: everything it does is async-signal-safe. Faults that are
//! not in the running greenlet's guard page go to the handler that was installed before ours.

use std::cell::Cell;
use std::ptr;
use std::sync::Once;

/// What the handler needs to know about the running greenlet. Plain data, no pointers out.
#[derive(Debug)]
pub(crate) struct OverflowInfo {
    guard_lo: Cell<usize>,
    guard_hi: Cell<usize>,
    size: Cell<usize>,
    id: Cell<u64>,
    /// The greenlet's name: points into the `String` the greenlet record owns.
    name: Cell<(*const u8, usize)>,
}

impl OverflowInfo {
    /// Info for greenlet `id` running on a stack whose guard page is `guard` and usable size `size`.
    pub(crate) fn new(id: u64, guard: (usize, usize), size: usize) -> OverflowInfo {
        OverflowInfo {
            guard_lo: Cell::new(guard.0),
            guard_hi: Cell::new(guard.1),
            size: Cell::new(size),
            id: Cell::new(id),
            name: Cell::new((ptr::null(), 0)),
        }
    }

    /// The greenlet's usable stack `(lowest address, size)` (just above its guard page);
    /// `None` for a thread's own stack.
    pub(crate) fn usable(&self) -> Option<(usize, usize)> {
        Some((self.guard_hi.get(), self.size.get())).filter(|&(a, _)| a != 0)
    }

    /// Records where the greenlet's name lives. The string must stay alive and unmoved until
    /// the next call or until the greenlet can no longer run (the greenlet record owns it).
    pub(crate) fn set_name(&self, name: &str) {
        self.name.set((name.as_ptr(), name.len().min(64)));
    }
}

thread_local! {
    static CURRENT: Cell<*const OverflowInfo> = const { Cell::new(ptr::null()) };
}

/// Publishes the running greenlet's info (null when the thread runs on its own stack).
///
/// The pointee must stay alive until the next call on this thread: the hub passes the info of
/// the greenlet it is about to resume and resets to null when control comes back to it.
#[inline]
pub(crate) fn set_current(info: *const OverflowInfo) {
    CURRENT.with(|c| c.set(info));
}

static INSTALL: Once = Once::new();
static mut PREV_SEGV: Option<libc::sigaction> = None;
static mut PREV_BUS: Option<libc::sigaction> = None;

/// Installs the process-wide handler once. Safe to call from every hub.
pub(crate) fn install() {
    INSTALL.call_once(|| {
        // SAFETY: PREV_* are written only here, inside call_once, before the handler that reads
        // them is installed; sigaction receives valid, zero-initialised structs.
        unsafe {
            PREV_SEGV = install_one(libc::SIGSEGV);
            PREV_BUS = install_one(libc::SIGBUS);
        }
    });
}

/// Installs `handler` for `sig`, returning the previous action.
///
/// # Safety
/// Replaces a process-wide signal disposition; call once per signal.
unsafe fn install_one(sig: libc::c_int) -> Option<libc::sigaction> {
    // SAFETY: zeroed sigaction is a valid "no handler, empty mask" value; sigemptyset and
    // sigaction get pointers to locals that outlive the calls.
    unsafe {
        let mut new: libc::sigaction = std::mem::zeroed();
        new.sa_sigaction = handler as *const () as usize;
        new.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
        libc::sigemptyset(&mut new.sa_mask);
        let mut old: libc::sigaction = std::mem::zeroed();
        if libc::sigaction(sig, &new, &mut old) != 0 {
            return None;
        }
        Some(old)
    }
}

extern "C" fn handler(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo for SA_SIGINFO handlers of SIGSEGV/SIGBUS.
    let addr = unsafe { (*info).si_addr() } as usize;
    let cur = CURRENT.try_with(|c| c.get()).unwrap_or(ptr::null());
    if !cur.is_null() {
        // SAFETY: the hub keeps the pointee alive while it is published (see `set_current`),
        // and the faulting code runs on that greenlet's stack, so the hub is not mid-update.
        let gi = unsafe { &*cur };
        if addr >= gi.guard_lo.get() && addr < gi.guard_hi.get() {
            report(gi);
        }
    }
    // Not ours: hand over to whoever was there before.
    // SAFETY: PREV_* were written before this handler was installed and are never written again.
    let prev = unsafe {
        if sig == libc::SIGBUS {
            PREV_BUS
        } else {
            PREV_SEGV
        }
    };
    match prev {
        Some(p) if p.sa_sigaction != libc::SIG_DFL && p.sa_sigaction != libc::SIG_IGN => {
            if p.sa_flags & libc::SA_SIGINFO != 0 {
                // SAFETY: the previous handler was registered with SA_SIGINFO, so it has the
                // three-argument signature; we forward the kernel's own arguments.
                unsafe {
                    let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                        std::mem::transmute(p.sa_sigaction);
                    f(sig, info, ctx);
                }
            } else {
                // SAFETY: without SA_SIGINFO the previous handler takes just the signal number.
                unsafe {
                    let f: extern "C" fn(libc::c_int) = std::mem::transmute(p.sa_sigaction);
                    f(sig);
                }
            }
        }
        _ => {
            // Restore the default action and return: the faulting instruction runs again and
            // the kernel terminates the process the usual way (core dump included).
            // SAFETY: a zeroed sigaction with SIG_DFL is a valid disposition.
            unsafe {
                let mut dfl: libc::sigaction = std::mem::zeroed();
                dfl.sa_sigaction = libc::SIG_DFL;
                libc::sigaction(sig, &dfl, ptr::null_mut());
            }
        }
    }
}

/// Writes the report and aborts. Async-signal-safe: no allocation, no locks.
fn report(gi: &OverflowInfo) -> ! {
    let mut buf = [0u8; 256];
    let mut w = Writer { buf: &mut buf, len: 0 };
    w.put(b"\ngrove: stack overflow in greenlet ");
    let (p, n) = gi.name.get();
    if !p.is_null() && n > 0 {
        // SAFETY: `set_name` published a pointer into the running greenlet's name string, which
        // its record keeps alive while the greenlet can run (it is running: it just faulted).
        let name = unsafe { std::slice::from_raw_parts(p, n) };
        w.put(b"'");
        w.put(name);
        w.put(b"' ");
    }
    w.put(b"(#");
    w.num(gi.id.get());
    w.put(b"): its stack is ");
    w.num(gi.size.get() as u64);
    w.put(b" bytes; spawn it with a larger stack (grove::Builder::stack_size) or recurse less\n");
    let len = w.len;
    // SAFETY: write(2) and abort(3) are async-signal-safe; buf[..len] is initialised.
    unsafe {
        libc::write(2, buf.as_ptr().cast(), len);
        libc::abort();
    }
}

struct Writer<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl Writer<'_> {
    fn put(&mut self, s: &[u8]) {
        let n = s.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&s[..n]);
        self.len += n;
    }

    fn num(&mut self, mut v: u64) {
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        self.put(&digits[i..]);
    }
}

/// An alternate signal stack this module mapped for the thread; unmapped at thread exit.
struct AltStack {
    base: *mut libc::c_void,
    len: usize,
}

impl Drop for AltStack {
    fn drop(&mut self) {
        // SAFETY: disable the alternate stack before unmapping the memory it points to; both
        // describe exactly the mapping created in `ensure_altstack` on this thread.
        unsafe {
            let mut ss: libc::stack_t = std::mem::zeroed();
            ss.ss_flags = libc::SS_DISABLE;
            libc::sigaltstack(&ss, ptr::null_mut());
            libc::munmap(self.base, self.len);
        }
    }
}

thread_local! {
    static ALTSTACK: Cell<Option<AltStack>> = const { Cell::new(None) };
}

/// Makes sure this thread has an alternate signal stack, so the handler can run even when the
/// fault is a stack overflow. Threads started by std already have one.
pub(crate) fn ensure_altstack() {
    // SAFETY: querying the current alternate stack writes only into `old`.
    let enabled = unsafe {
        let mut old: libc::stack_t = std::mem::zeroed();
        libc::sigaltstack(ptr::null(), &mut old) == 0 && old.ss_flags & libc::SS_DISABLE == 0
    };
    if enabled {
        return;
    }
    let len = 64 * 1024;
    // SAFETY: a fresh anonymous mapping, checked for failure before use.
    let base = unsafe {
        libc::mmap(
            ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if base == libc::MAP_FAILED {
        return;
    }
    // SAFETY: `base..base+len` is the mapping above, owned by the AltStack guard stored below.
    unsafe {
        let ss = libc::stack_t { ss_sp: base, ss_flags: 0, ss_size: len };
        libc::sigaltstack(&ss, ptr::null_mut());
    }
    ALTSTACK.with(|a| a.set(Some(AltStack { base, len })));
}
