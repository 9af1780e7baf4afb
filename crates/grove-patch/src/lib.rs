//! Opt-in libc interposition that makes unmodified blocking code cooperative (gevent's
//! `monkey.patch_all`, done explicitly and at the libc level, like libco and libgo).
//!
//! Link this crate into a binary and call [`enable`]. From then on, calls such as `read`,
//! `recv`, `send`, `connect`, `accept` or `nanosleep` made *on a thread that runs a grove hub*
//! park the calling greenlet instead of blocking the thread, so `std::net`, `std::thread::sleep`
//! and any sync client crate built on them (redis, postgres, ...) run concurrently as greenlets.
//!
//! ```no_run
//! grove_patch::enable();
//! grove::run(|| {
//!     let hs: Vec<_> = (0..100)
//!         .map(|_| grove::spawn(|| std::thread::sleep(std::time::Duration::from_millis(100))))
//!         .collect();
//!     grove::joinall(hs); // ~100 ms in all, not 10 s
//! });
//! ```
//!
//! # What is patched
//!
//! | call | inside a hub thread, on a managed fd | elsewhere |
//! |---|---|---|
//! | `read`, `readv`, `recv`, `recvfrom`, `recvmsg` | parks until readable, honours `SO_RCVTIMEO` (then `EAGAIN`) | libc |
//! | `write`, `writev`, `send`, `sendto`, `sendmsg` | parks until writable, honours `SO_SNDTIMEO` | libc |
//! | `connect` | parks until the connection completes; result from `SO_ERROR` | libc |
//! | `accept`, `accept4` | parks until a connection arrives | libc |
//! | `poll` | one fd: parks on it; several: cooperative polling (1–10 ms steps); none: a sleep | libc |
//! | `epoll_wait`, `epoll_pwait` without a signal mask: a program's own event loop (tokio's current-thread runtime in the sync `postgres` client) | parks on the epoll fd until it has events; the events are the kernel's (see *Event loops*) | libc |
//! | `nanosleep`, `clock_nanosleep`, `usleep`, `sleep` | `grove::sleep` (any thread with a hub) | libc |
//! | `getaddrinfo` | runs on grove's thread pool; the greenlet waits | libc |
//! | `waitpid`, `wait4` for one child (`pid > 0`, no `WNOHANG`): `Command::status`, `output`, `Child::wait` | parks on the child's pidfd until it changes state | libc |
//! | `syscall(SYS_futex, ..)`: std's `Mutex`, `Condvar`, `RwLock`, `Once`, `Barrier` | the greenlet waits, the hub runs on (see *Locks*) | libc |
//! | `fcntl(F_GETFL/F_SETFL/F_DUPFD)`, `ioctl(FIONBIO)` | report and track the *program's* blocking mode | same |
//! | `close`, `dup`, `dup2`, `dup3` | keep the fd table in step | same |
//! | `posix_spawn*`, `posix_spawn_file_actions_adddup2`, `exec*` | fds handed to the child become blocking again | same |
//!
//! **Managed fds** are sockets, and pipes/FIFOs numbered above 2, that the program keeps in
//! blocking mode and that a greenlet used. On that first use in a hub grove-patch sets
//! `O_NONBLOCK` on them itself and hides it from `fcntl(F_GETFL)`; used afterwards from a
//! thread without a hub they still behave as blocking (a `poll` stands in for the blocking
//! wait). The program's own setting is tracked through every toggle: a socket it makes
//! non-blocking is left alone (it gets `EAGAIN`) until it makes it blocking again, as std's
//! `TcpStream::connect_timeout` does. **Never touched**: fds used only on threads without a
//! hub (exactly libc), regular files and other fds (reads are done by libc, as gevent does),
//! stdin/stdout/stderr pipes (shared with other processes), fds ≥ 65536.
//!
//! **Child processes.** `O_NONBLOCK` belongs to the open file description, which a child
//! shares. A managed fd that becomes a child's standard stream (`posix_spawn` file actions,
//! as `std::process::Command` uses, or `dup2` onto 0–2 before exec) or that a child inherits
//! (no `FD_CLOEXEC` at `posix_spawn`/`exec*`) is switched back to blocking for good and left
//! to libc from then on, in this process too.
//!
//! # Kills and timeouts inside a patched call
//!
//! A hook is C and cannot unwind. A kill that reaches a greenlet parked in one makes the call
//! fail with `ECANCELED` (an expiring `grove::timeout` scope: `ETIMEDOUT`), and the kill lands
//! at the greenlet's next grove blocking point in Rust code (the scope unwinds there); if its
//! function returns first, `join` still reports `Killed`. Until then the greenlet's patched
//! calls yield to the hub once and fail at once, while its patched sleeps and lock waits still
//! wait, cooperatively: C-style code that ignores errors and retries cannot stall the hub. Such
//! code never reaches a grove call, so it cannot be unwound: after 100 refused calls (or a
//! second) grove-patch says so once on stderr ([`interrupts_ignored`] counts these reports),
//! and `kill()` waits until the function returns.
//!
//! # Event loops
//!
//! An epoll fd is itself readable while it has events ready, so an event loop of the
//! program's own waiting in `epoll_wait` on a hub thread parks its greenlet on that fd and the
//! hub runs the others; the real call is made with timeout 0, so its events are exactly the
//! kernel's. One limit comes from tokio, not from the hook: tokio marks the OS thread as
//! "inside a runtime" in a thread-local, so while one greenlet is inside `block_on` another
//! greenlet of the same hub that calls `block_on` panics ("Cannot start a runtime from within
//! a runtime"). With the sync `postgres` client (one runtime per client), keep one greenlet per
//! hub in it at a time — a grove `Lock` around the client's calls does that, cooperatively —
//! or give each client a hub of its own with `grove::runtime`. An event loop's wait never
//! fails because of a kill or an expired `timeout` scope (tokio treats an error there as
//! fatal): like a lock wait it goes on, cooperatively, until the loop's own events come, and
//! the kill lands when the loop returns to Rust code.
//!
//! # Locks
//!
//! std's locks and condvars wait with the futex system call, made through libc's `syscall`.
//! On a hub thread such a wait parks the greenlet in a process-wide table keyed by the
//! word's address; every futex wake in the process (they all go through the same hook) wakes
//! greenlets waiting on that address, on any hub, as well as the kernel's waiters. So greenlets
//! can share a `Mutex<Connection>` held across patched I/O, and a plain thread's `notify_one`
//! wakes a greenlet. A greenlet killed while waiting for a lock still takes it first (a lock
//! cannot be given up half-way).
//!
//! Not made cooperative — they block the hub thread, as without grove-patch — are
//! *per-thread parkers*, which keep one wakeup slot per OS thread that every greenlet of the
//! hub would share (and lose wakeups through): **parking_lot** (its `ThreadData` lives in
//! thread-local storage; any futex word there is left to libc), `std::thread::park` and what
//! is built on it (`std::sync::mpsc` and crossbeam's blocking receive). Use grove's
//! `sync::mt` primitives between greenlets and threads instead. pthread mutexes and condvars
//! (C libraries) wait inside glibc without the `syscall` symbol and are not seen either.
//!
//! # Caveats (the pitfalls libco and libgo users hit)
//!
//! - Only calls that go through the libc symbols are seen: raw system calls other than futex
//!   and io_uring are not (neither is `select`, `ppoll` or `epoll_pwait` with a signal mask).
//! - `O_NONBLOCK` lives on the open file description: a managed socket passed to another
//!   process by `SCM_RIGHTS` is non-blocking there too; a managed fd that this process still
//!   uses after handing it to a child blocks its hub from then on.
//! - Waiting happens only on threads running a hub; thread-pool threads and plain threads keep
//!   libc's blocking behaviour, so patched code is correct everywhere, cooperative in hubs.
//! - `errno` is preserved: a successful call leaves it as it was; a failing one sets exactly
//!   what the underlying call (or the emulated timeout, `EAGAIN`) set.
//! - A blocking call in a hub *callback*, in the hub's scheduler, or while a greenlet unwinds
//!   is passed to libc.
//! - `fcntl`, `ioctl` and `syscall` are variadic in C; the hooks take a fixed number of
//!   integer/pointer arguments (one; six for `syscall`, as glibc's own `syscall` reads), which
//!   matches the x86-64 and AArch64 calling conventions; `int` arguments are truncated
//!   before use.

#![allow(clippy::missing_safety_doc)] // the hooks' contracts are libc's own

use std::ffi::{c_char, c_int, c_uint, c_void};
use std::os::fd::{AsRawFd, FromRawFd};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::{Duration, Instant};

use libc::{msghdr, nfds_t, pollfd, size_t, sockaddr, socklen_t, ssize_t, timespec};

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Turns the hooks on for the whole process.
pub fn enable() {
    // Every original is looked up now: some hooks run in a forked child before exec, where
    // dlsym (which takes locks) must not be called.
    real::resolve_all();
    ENABLED.store(true, Relaxed);
}

/// Turns the hooks off: every call goes straight to libc again (fds already made non-blocking
/// by grove-patch stay so, and keep their emulated blocking behaviour).
pub fn disable() {
    ENABLED.store(false, Relaxed);
}

/// Whether the hooks are on.
pub fn is_enabled() -> bool {
    ENABLED.load(Relaxed)
}

mod fdctl;
mod fdtab;
mod futex;
mod gai;
mod interrupt;
mod real;

use interrupt::{guarded, interrupted, refuse};

/// How many greenlets grove-patch has reported on stderr (once each) for going on with
/// patched calls after being killed, or after their `timeout` scope expired, inside a hook
/// (see the crate docs: such a greenlet cannot be unwound until it reaches a grove call).
pub fn interrupts_ignored() -> usize {
    interrupt::REPORTED.load(Relaxed)
}

use fdtab::Class;

fn errno() -> c_int {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn set_errno(e: c_int) {
    // SAFETY: __errno_location returns the calling thread's errno slot, always valid.
    unsafe { *libc::__errno_location() = e };
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Dir {
    Read,
    Write,
}

/// The socket's own timeout for `dir` (SO_RCVTIMEO / SO_SNDTIMEO), if any.
fn sock_timeout(fd: c_int, dir: Dir) -> Option<Duration> {
    let opt = if dir == Dir::Read { libc::SO_RCVTIMEO } else { libc::SO_SNDTIMEO };
    let mut tv = libc::timeval { tv_sec: 0, tv_usec: 0 };
    let mut len = std::mem::size_of::<libc::timeval>() as socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes into `tv`, a valid local.
    let r = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            opt,
            (&mut tv as *mut libc::timeval).cast(),
            &mut len,
        )
    };
    if r != 0 || (tv.tv_sec == 0 && tv.tv_usec == 0) {
        return None;
    }
    Some(Duration::new(tv.tv_sec as u64, tv.tv_usec as u32 * 1000))
}

/// Waits until `fd` is ready for `dir` (cooperatively in a hub, else with a blocking poll).
/// Returns false on timeout or failure, with errno set for the caller to return.
fn wait_ready(fd: c_int, dir: Dir, coop: bool) -> bool {
    let timeout = sock_timeout(fd, dir);
    if coop {
        let r = guarded(|| match dir {
            Dir::Read => grove::io::wait_readable(fd, timeout),
            Dir::Write => grove::io::wait_writable(fd, timeout),
        });
        let Some(r) = r else { return false };
        return match r {
            Ok(()) => true,
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                set_errno(libc::EAGAIN);
                false
            }
            Err(e) => {
                set_errno(e.raw_os_error().unwrap_or(libc::EINTR));
                false
            }
        };
    }
    let events = if dir == Dir::Read { libc::POLLIN } else { libc::POLLOUT };
    let mut p = pollfd { fd, events, revents: 0 };
    let ms = timeout.map_or(-1, |t| t.as_millis().clamp(1, i32::MAX as u128) as c_int);
    // SAFETY: one valid pollfd; the real poll, not our hook.
    let r = unsafe { real::poll(&mut p, 1, ms) };
    if r == 0 {
        set_errno(libc::EAGAIN);
    }
    r > 0
}

/// The common body of the read/write-like hooks: try the call; on EAGAIN of a managed fd,
/// wait and retry.
fn io(fd: c_int, dir: Dir, mut op: impl FnMut() -> ssize_t) -> ssize_t {
    // Managed fds keep their emulated blocking behaviour after `disable()` too.
    let coop = is_enabled() && grove::patch_support::is_cooperative();
    if fdtab::class(fd, coop) != Class::Managed {
        return op();
    }
    let saved = errno();
    if coop {
        futex::learn_parker();
        if let Some(why) = interrupted() {
            refuse(why);
            return -1;
        }
    }
    loop {
        let r = op();
        if r >= 0 {
            set_errno(saved);
            return r;
        }
        let e = errno();
        if e == libc::EINTR {
            continue;
        }
        if e != libc::EAGAIN && e != libc::EWOULDBLOCK {
            return r;
        }
        if !wait_ready(fd, dir, coop) {
            return -1;
        }
    }
}

macro_rules! io_hook {
    ($name:ident, $dir:expr, ($fd:ident: c_int $(, $arg:ident: $ty:ty)*) -> $ret:ty) => {
        #[no_mangle]
        pub unsafe extern "C" fn $name($fd: c_int $(, $arg: $ty)*) -> $ret {
            // SAFETY: forwarding the caller's own arguments to the real libc function, whose
            // contract the caller already had to meet.
            io($fd, $dir, || unsafe { real::$name($fd $(, $arg)*) } as ssize_t) as $ret
        }
    };
}

io_hook!(read, Dir::Read, (fd: c_int, buf: *mut c_void, n: size_t) -> ssize_t);
io_hook!(readv, Dir::Read, (fd: c_int, iov: *const libc::iovec, cnt: c_int) -> ssize_t);
io_hook!(recv, Dir::Read, (fd: c_int, buf: *mut c_void, n: size_t, flags: c_int) -> ssize_t);
io_hook!(recvfrom, Dir::Read, (fd: c_int, buf: *mut c_void, n: size_t, flags: c_int, addr: *mut sockaddr, len: *mut socklen_t) -> ssize_t);
io_hook!(recvmsg, Dir::Read, (fd: c_int, msg: *mut msghdr, flags: c_int) -> ssize_t);
io_hook!(write, Dir::Write, (fd: c_int, buf: *const c_void, n: size_t) -> ssize_t);
io_hook!(writev, Dir::Write, (fd: c_int, iov: *const libc::iovec, cnt: c_int) -> ssize_t);
io_hook!(send, Dir::Write, (fd: c_int, buf: *const c_void, n: size_t, flags: c_int) -> ssize_t);
io_hook!(sendto, Dir::Write, (fd: c_int, buf: *const c_void, n: size_t, flags: c_int, addr: *const sockaddr, len: socklen_t) -> ssize_t);
io_hook!(sendmsg, Dir::Write, (fd: c_int, msg: *const msghdr, flags: c_int) -> ssize_t);

#[no_mangle]
pub unsafe extern "C" fn accept(fd: c_int, addr: *mut sockaddr, len: *mut socklen_t) -> c_int {
    // SAFETY: forwarding the caller's arguments to the real accept.
    let r = io(fd, Dir::Read, || unsafe { real::accept(fd, addr, len) } as ssize_t) as c_int;
    fdtab::forget(r);
    r
}

#[no_mangle]
pub unsafe extern "C" fn accept4(
    fd: c_int,
    addr: *mut sockaddr,
    len: *mut socklen_t,
    flags: c_int,
) -> c_int {
    // SAFETY: forwarding the caller's arguments to the real accept4.
    let r =
        io(fd, Dir::Read, || unsafe { real::accept4(fd, addr, len, flags) } as ssize_t) as c_int;
    fdtab::forget(r);
    r
}

#[no_mangle]
pub unsafe extern "C" fn connect(fd: c_int, addr: *const sockaddr, len: socklen_t) -> c_int {
    // Classify (and switch to non-blocking) *before* connecting: a blocking connect to a peer
    // whose backlog is full would otherwise block the whole hub.
    let coop = is_enabled() && grove::patch_support::is_cooperative();
    let managed = fdtab::class(fd, coop) == Class::Managed;
    if managed && coop {
        if let Some(why) = interrupted() {
            refuse(why);
            return -1;
        }
    }
    // SAFETY: forwarding the caller's arguments to the real connect.
    let first = unsafe { real::connect(fd, addr, len) };
    if first == 0 || !managed {
        return first;
    }
    let e = errno();
    if e != libc::EINPROGRESS && e != libc::EINTR {
        return first;
    }
    if !wait_ready(fd, Dir::Write, managed && coop) {
        if errno() == libc::EAGAIN {
            set_errno(libc::ETIMEDOUT);
        }
        return -1;
    }
    let mut err: c_int = 0;
    let mut l = std::mem::size_of::<c_int>() as socklen_t;
    // SAFETY: SO_ERROR writes one c_int into a valid local.
    unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_ERROR,
            (&mut err as *mut c_int).cast(),
            &mut l,
        )
    };
    if err != 0 {
        set_errno(err);
        return -1;
    }
    0
}

#[no_mangle]
pub unsafe extern "C" fn poll(fds: *mut pollfd, nfds: nfds_t, timeout: c_int) -> c_int {
    // SAFETY: forwarding the caller's arguments to the real poll.
    let now = |t: c_int| unsafe { real::poll(fds, nfds, t) };
    if !is_enabled() || timeout == 0 || !grove::patch_support::is_cooperative() {
        return now(timeout);
    }
    if nfds == 0 {
        // A sleep.
        let d = if timeout < 0 { Duration::MAX } else { Duration::from_millis(timeout as u64) };
        interrupt::sleep(d);
        return 0;
    }
    if let Some(why) = interrupted() {
        refuse(why);
        return -1;
    }
    let deadline = (timeout > 0).then(|| Instant::now() + Duration::from_millis(timeout as u64));
    let mut step = Duration::from_millis(1);
    loop {
        let r = now(0);
        if r != 0 {
            return r;
        }
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if left == Some(Duration::ZERO) {
            return 0;
        }
        if nfds == 1 {
            // SAFETY: nfds == 1, so fds points to one valid pollfd (the caller's contract).
            let p = unsafe { *fds };
            let r = guarded(|| {
                if p.events & libc::POLLOUT != 0 {
                    grove::io::wait_writable(p.fd, left)
                } else {
                    grove::io::wait_readable(p.fd, left)
                }
            });
            match r {
                None => return -1,
                Some(Err(_)) if deadline.is_none() => {
                    if guarded(|| grove::sleep(step)).is_none() {
                        return -1;
                    }
                }
                Some(_) => {}
            }
        } else {
            if guarded(|| grove::sleep(left.map_or(step, |l| l.min(step)))).is_none() {
                return -1;
            }
            step = (step * 2).min(Duration::from_millis(10));
        }
    }
}

/// An event loop of the program's own (tokio's current-thread runtime inside `postgres`, a
/// C library's loop) waiting in `epoll_wait` on a hub thread: the epoll fd is itself
/// pollable (readable while it has events ready), so the greenlet parks on it and the hub runs
/// the others. The real call is always made with timeout 0, so the events returned are the
/// kernel's as they are.
#[no_mangle]
pub unsafe extern "C" fn epoll_wait(
    epfd: c_int,
    events: *mut libc::epoll_event,
    maxevents: c_int,
    timeout: c_int,
) -> c_int {
    // SAFETY: forwarding the caller's arguments to the real epoll_wait.
    let now = |t: c_int| unsafe { real::epoll_wait(epfd, events, maxevents, t) };
    wait_on_epoll(epfd, timeout, now)
}

/// `epoll_wait` with a signal mask: cooperative as `epoll_wait` when there is no mask (what
/// mio and most loops pass); a mask must be swapped atomically with the wait, which only the
/// real call can do, so that call blocks as in libc.
#[no_mangle]
pub unsafe extern "C" fn epoll_pwait(
    epfd: c_int,
    events: *mut libc::epoll_event,
    maxevents: c_int,
    timeout: c_int,
    sigmask: *const libc::sigset_t,
) -> c_int {
    // SAFETY: forwarding the caller's arguments to the real epoll_pwait.
    let now = |t: c_int| unsafe { real::epoll_pwait(epfd, events, maxevents, t, sigmask) };
    if !sigmask.is_null() {
        return now(timeout);
    }
    wait_on_epoll(epfd, timeout, now)
}

/// Polls `epfd` without blocking, parking on its readability in between, until events, an
/// error, or `timeout` (ms, negative: none). Off hub threads, before `enable`, for a poll
/// (`timeout` 0) and where the greenlet cannot park: `now(timeout)`, libc's call.
///
/// An event loop cannot take an error from its wait (tokio panics on one, and panics again
/// while unwinding out of `block_on`: an abort), so this wait never fails because of a kill
/// or an expired `timeout` scope. Like a lock wait, it goes on cooperatively with the kill or
/// deadline set aside, until the loop's own events come and it returns to Rust code, where the
/// kill lands (or the scope unwinds) at the next grove blocking point.
fn wait_on_epoll(epfd: c_int, timeout: c_int, now: impl Fn(c_int) -> c_int) -> c_int {
    if !is_enabled() || timeout == 0 || !grove::patch_support::is_cooperative() {
        return now(timeout);
    }
    let deadline = (timeout > 0).then(|| Instant::now() + Duration::from_millis(timeout as u64));
    // errno is the caller's: what the waits below set must not show on success.
    let saved = errno();
    loop {
        let r = now(0);
        if r > 0 {
            set_errno(saved);
            return r;
        }
        if r < 0 {
            return r; // the call's own error (EBADF, EINVAL, ...)
        }
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if left == Some(Duration::ZERO) {
            set_errno(saved);
            return 0;
        }
        match interrupt::wait_through(|| grove::io::wait_readable(epfd, left), true) {
            // Killed, or the scope expired, during this wait: set aside from the next turn on.
            None => {}
            Some(Ok(())) => {}
            Some(Err(e)) if e.kind() == std::io::ErrorKind::TimedOut => {}
            // The hub cannot watch this fd (it is the hub's own epoll, say), or cannot park
            // this greenlet now: wait as libc.
            Some(Err(_)) => {
                set_errno(saved);
                let ms = left
                    .map_or(-1, |l| c_int::try_from(l.as_millis()).unwrap_or(c_int::MAX).max(1));
                return now(ms);
            }
        }
    }
}

/// Sleeps cooperatively if this thread has a hub (see `interrupt::sleep`).
fn coop_sleep(d: Duration) -> bool {
    if is_enabled() && grove::patch_support::is_cooperative() {
        futex::learn_parker();
        interrupt::sleep(d);
        return true;
    }
    false
}

#[no_mangle]
pub unsafe extern "C" fn nanosleep(req: *const timespec, rem: *mut timespec) -> c_int {
    // SAFETY: the caller passes a valid request (libc's contract); null is rejected.
    let Some(r) = (unsafe { req.as_ref() }) else {
        // SAFETY: forwarding to the real function, which reports EFAULT.
        return unsafe { real::nanosleep(req, rem) };
    };
    if r.tv_nsec < 0 || r.tv_nsec >= 1_000_000_000 || r.tv_sec < 0 {
        set_errno(libc::EINVAL);
        return -1;
    }
    if coop_sleep(Duration::new(r.tv_sec as u64, r.tv_nsec as u32)) {
        if !rem.is_null() {
            // SAFETY: a non-null `rem` points to a timespec the caller owns.
            unsafe { *rem = timespec { tv_sec: 0, tv_nsec: 0 } };
        }
        return 0;
    }
    // SAFETY: forwarding the caller's arguments.
    unsafe { real::nanosleep(req, rem) }
}

#[no_mangle]
pub unsafe extern "C" fn clock_nanosleep(
    clock: libc::clockid_t,
    flags: c_int,
    req: *const timespec,
    rem: *mut timespec,
) -> c_int {
    // SAFETY: the caller passes a valid request; null goes to libc.
    if let Some(r) = unsafe { req.as_ref() } {
        let mut d = Duration::new(r.tv_sec.max(0) as u64, r.tv_nsec.clamp(0, 999_999_999) as u32);
        if flags & libc::TIMER_ABSTIME != 0 {
            let mut now = timespec { tv_sec: 0, tv_nsec: 0 };
            // SAFETY: clock_gettime writes into a valid local.
            unsafe { libc::clock_gettime(clock, &mut now) };
            let now = Duration::new(now.tv_sec.max(0) as u64, now.tv_nsec as u32);
            d = d.saturating_sub(now);
        }
        if coop_sleep(d) {
            return 0;
        }
    }
    // SAFETY: forwarding the caller's arguments.
    unsafe { real::clock_nanosleep(clock, flags, req, rem) }
}

#[no_mangle]
pub unsafe extern "C" fn usleep(us: c_uint) -> c_int {
    if coop_sleep(Duration::from_micros(us.into())) {
        return 0;
    }
    // SAFETY: plain integer argument.
    unsafe { real::usleep(us) }
}

#[no_mangle]
pub unsafe extern "C" fn sleep(secs: c_uint) -> c_uint {
    if coop_sleep(Duration::from_secs(secs.into())) {
        return 0;
    }
    // SAFETY: plain integer argument.
    unsafe { real::sleep(secs) }
}

/// A cooperative `waitpid`/`wait4` for one child: `now(options)` is the real call with the
/// caller's other arguments. The greenlet parks on the child's pidfd (readable once it exits)
/// and then asks with `WNOHANG`; without pidfd support, it polls in growing steps.
fn wait_child(pid: libc::pid_t, options: c_int, now: &dyn Fn(c_int) -> libc::pid_t) -> libc::pid_t {
    if let Some(why) = interrupted() {
        refuse(why);
        return -1;
    }
    // errno is the caller's: what pidfd_open or the waits below set must not show on success.
    let saved = errno();
    // SAFETY: pidfd_open takes a pid and flags; the result is checked and owned below.
    let fd = unsafe { real::syscall(libc::SYS_pidfd_open, pid as libc::c_long, 0, 0, 0, 0, 0) };
    // SAFETY: a non-negative result is a new fd nothing else owns.
    let owned = (fd >= 0).then(|| unsafe { std::os::fd::OwnedFd::from_raw_fd(fd as c_int) });
    // A process that only stopped or continued (WUNTRACED, WCONTINUED) does not make its pidfd
    // readable: such a wait polls, as one without pidfd support does.
    let mut pidfd = owned.filter(|_| options & (libc::WUNTRACED | libc::WCONTINUED) == 0);
    let mut step = Duration::from_millis(1);
    loop {
        let r = now(options | libc::WNOHANG);
        if r > 0 {
            set_errno(saved);
        }
        // Changed state, or failed (ECHILD, EINTR: the caller handles them as libc's).
        if r != 0 {
            return r;
        }
        let waited = match &pidfd {
            Some(fd) => guarded(|| grove::io::wait_readable(fd.as_raw_fd(), None)),
            None => {
                step = (step * 2).min(Duration::from_millis(50));
                guarded(|| grove::sleep(step)).map(Ok)
            }
        };
        match waited {
            None => return -1,            // killed or scope expired: errno says which
            Some(Err(_)) => pidfd = None, // the pidfd cannot be watched: poll from now on
            Some(Ok(())) => {}
        }
    }
}

/// Whether a wait for `pid` with `options` can be made cooperative here.
fn coop_wait(pid: libc::pid_t, options: c_int) -> bool {
    pid > 0
        && options & libc::WNOHANG == 0
        && is_enabled()
        && grove::patch_support::is_cooperative()
}

#[no_mangle]
pub unsafe extern "C" fn waitpid(
    pid: libc::pid_t,
    status: *mut c_int,
    options: c_int,
) -> libc::pid_t {
    // SAFETY: forwarding the caller's arguments (with other options) to the real waitpid.
    let now = |o: c_int| unsafe { real::waitpid(pid, status, o) };
    if coop_wait(pid, options) {
        return wait_child(pid, options, &now);
    }
    now(options)
}

#[no_mangle]
pub unsafe extern "C" fn wait4(
    pid: libc::pid_t,
    status: *mut c_int,
    options: c_int,
    usage: *mut libc::rusage,
) -> libc::pid_t {
    // SAFETY: forwarding the caller's arguments (with other options) to the real wait4.
    let now = |o: c_int| unsafe { real::wait4(pid, status, o, usage) };
    if coop_wait(pid, options) {
        return wait_child(pid, options, &now);
    }
    now(options)
}

#[no_mangle]
pub unsafe extern "C" fn getaddrinfo(
    node: *const c_char,
    service: *const c_char,
    hints: *const libc::addrinfo,
    res: *mut *mut libc::addrinfo,
) -> c_int {
    if is_enabled() && grove::patch_support::is_cooperative() {
        if let Some(why) = interrupted() {
            refuse(why);
            return libc::EAI_SYSTEM;
        }
        // SAFETY: the caller's arguments, under getaddrinfo's contract.
        return unsafe { gai::lookup(node, service, hints, res) };
    }
    // SAFETY: forwarding the caller's arguments.
    unsafe { real::getaddrinfo(node, service, hints, res) }
}

/// libc's `syscall`, for `SYS_futex` (see `futex`); every other call goes to libc unchanged.
/// C-variadic: this definition reads six integer arguments after the number, which is what
/// glibc's own `syscall` does (x86-64: registers, then the caller's stack slot; AArch64:
/// registers), whatever the caller passed; `int` arguments are truncated before use.
#[no_mangle]
pub unsafe extern "C" fn syscall(
    num: libc::c_long,
    a1: libc::c_long,
    a2: libc::c_long,
    a3: libc::c_long,
    a4: libc::c_long,
    a5: libc::c_long,
    a6: libc::c_long,
) -> libc::c_long {
    if num == libc::SYS_futex {
        // SAFETY: the program's own futex call, under the system call's contract.
        if let Some(r) = unsafe { futex::hook(a1, a2, a3, a4, a5, a6) } {
            return r;
        }
    }
    // SAFETY: forwarding the caller's arguments.
    unsafe { real::syscall(num, a1, a2, a3, a4, a5, a6) }
}
