//! What grove-patch knows about each fd, lock-free: one byte per fd below 65,536.

use std::ffi::c_int;
use std::sync::atomic::{AtomicU8, Ordering::Relaxed};

const MAX: usize = 65_536;
static TAB: [AtomicU8; MAX] = [const { AtomicU8::new(0) }; MAX];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    /// Not looked at yet.
    Unknown,
    /// Left to libc: regular files, user-non-blocking fds, stdio pipes, everything else.
    Passthrough,
    /// A blocking socket/pipe grove-patch made non-blocking underneath.
    Managed,
}

fn slot(fd: c_int) -> Option<&'static AtomicU8> {
    usize::try_from(fd).ok().and_then(|i| TAB.get(i))
}

pub(crate) fn get(fd: c_int) -> Class {
    match slot(fd).map_or(1, |s| s.load(Relaxed)) {
        0 => Class::Unknown,
        2 => Class::Managed,
        _ => Class::Passthrough,
    }
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

/// The fd's class, deciding (and switching a blocking socket/pipe to non-blocking) on first
/// use.
pub(crate) fn classify(fd: c_int) -> Class {
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
        if flags < 0 || flags & libc::O_NONBLOCK != 0 {
            Class::Passthrough
        } else {
            // SAFETY: F_SETFL with the fd's own flags plus O_NONBLOCK.
            let r =
                unsafe { crate::real::fcntl(fd, libc::F_SETFL, (flags | libc::O_NONBLOCK).into()) };
            if r == 0 {
                Class::Managed
            } else {
                Class::Passthrough
            }
        }
    };
    set(fd, class);
    class
}
