//! What grove-patch knows about each fd, lock-free: one byte per fd below 65,536.
//!
//! Only a hub thread ever switches an fd to `O_NONBLOCK` underneath ([`classify`]); plain
//! threads only read the table, so an fd never used in a hub is exactly what libc made it.
//! An fd handed to another process goes back to blocking mode for good ([`release`]).

use std::ffi::c_int;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering::Relaxed};

const MAX: usize = 65_536;
static TAB: [AtomicU8; MAX] = [const { AtomicU8::new(0) }; MAX];
/// Some fd was ever managed (else a spawn has nothing to look for).
static EVER_MANAGED: AtomicBool = AtomicBool::new(false);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    /// Not looked at from a hub yet (or blocking again after the program's own toggle).
    Unknown = 0,
    /// Left to libc: regular files, stdio pipes, fds handed to a child, everything else.
    Passthrough = 1,
    /// A blocking socket/pipe grove-patch made non-blocking underneath.
    Managed = 2,
    /// The program made it non-blocking itself: left to libc (it gets `EAGAIN`) until the
    /// program makes it blocking again.
    UserNonblocking = 3,
}

fn slot(fd: c_int) -> Option<&'static AtomicU8> {
    usize::try_from(fd).ok().and_then(|i| TAB.get(i))
}

fn decode(v: u8) -> Class {
    match v {
        0 => Class::Unknown,
        2 => Class::Managed,
        3 => Class::UserNonblocking,
        _ => Class::Passthrough,
    }
}

pub(crate) fn get(fd: c_int) -> Class {
    slot(fd).map_or(Class::Passthrough, |s| decode(s.load(Relaxed)))
}

pub(crate) fn set(fd: c_int, c: Class) {
    if let Some(s) = slot(fd) {
        s.store(c as u8, Relaxed);
    }
}

/// The fd was closed or replaced: its number may come back as something else.
pub(crate) fn forget(fd: c_int) {
    set(fd, Class::Unknown);
}

/// `new` (if the call that made it succeeded) is a duplicate of `old`: same open file
/// description, so the same class.
pub(crate) fn copy(old: c_int, new: c_int) {
    if new >= 0 && new != old {
        set(new, get(old));
    }
}

/// The fd's class for a hooked call: classified (and possibly switched) on first use in a hub
/// (`coop`); elsewhere only looked up.
pub(crate) fn class(fd: c_int, coop: bool) -> Class {
    if coop {
        classify(fd)
    } else {
        get(fd)
    }
}

/// The fd's class, deciding (and switching a blocking socket/pipe to non-blocking) on first
/// use. Only for hub threads.
fn classify(fd: c_int) -> Class {
    let c = get(fd);
    if c != Class::Unknown {
        return c;
    }
    // SAFETY: fstat writes into a zeroed local stat buffer.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: as above; fd validity is checked by the return value.
    if unsafe { libc::fstat(fd, &mut st) } != 0 {
        return Class::Passthrough;
    }
    let kind = st.st_mode & libc::S_IFMT;
    let candidate = kind == libc::S_IFSOCK || (kind == libc::S_IFIFO && fd > 2);
    let class = if !candidate {
        Class::Passthrough
    } else {
        // SAFETY: F_GETFL on a valid fd; the real fcntl, not our hook.
        let flags = unsafe { crate::real::fcntl(fd, libc::F_GETFL, 0) };
        if flags < 0 {
            Class::Passthrough
        } else if flags & libc::O_NONBLOCK != 0 {
            Class::UserNonblocking
        } else {
            // SAFETY: F_SETFL with the fd's own flags plus O_NONBLOCK.
            let r =
                unsafe { crate::real::fcntl(fd, libc::F_SETFL, (flags | libc::O_NONBLOCK).into()) };
            if r == 0 {
                EVER_MANAGED.store(true, Relaxed);
                Class::Managed
            } else {
                Class::Passthrough
            }
        }
    };
    set(fd, class);
    class
}

/// A managed fd is handed to another process, which must find it blocking, as the program
/// left it: clear `O_NONBLOCK` and leave the fd to libc from now on (the mode belongs to the
/// open file description, shared with the child).
pub(crate) fn release(fd: c_int) {
    if get(fd) != Class::Managed {
        return;
    }
    // SAFETY: F_GETFL/F_SETFL on an fd the table knows as open; the real fcntl.
    unsafe {
        let flags = crate::real::fcntl(fd, libc::F_GETFL, 0);
        if flags >= 0 {
            crate::real::fcntl(fd, libc::F_SETFL, (flags & !libc::O_NONBLOCK).into());
        }
    }
    set(fd, Class::Passthrough);
}

/// Before exec (or spawn): every managed fd the new program inherits (no `FD_CLOEXEC`) goes
/// back to blocking mode. Async-signal-safe (atomics and `fcntl` only): it also runs in a
/// forked child.
pub(crate) fn release_inherited() {
    if !EVER_MANAGED.load(Relaxed) {
        return;
    }
    for (fd, s) in TAB.iter().enumerate() {
        if decode(s.load(Relaxed)) != Class::Managed {
            continue;
        }
        let fd = fd as c_int;
        // SAFETY: F_GETFD on an fd the table knows as open; the real fcntl.
        let fdflags = unsafe { crate::real::fcntl(fd, libc::F_GETFD, 0) };
        if fdflags >= 0 && fdflags & libc::FD_CLOEXEC == 0 {
            release(fd);
        }
    }
}
