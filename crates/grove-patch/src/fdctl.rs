//! Hooks that keep the fd table in step with the program: its own blocking-mode settings
//! (`fcntl(F_SETFL)`, `ioctl(FIONBIO)`, tracked through every toggle), duplicates, closes, and
//! hand-offs to child processes (which must see a blocking fd, as the program does).

use std::ffi::{c_char, c_int, c_void};

use libc::{pid_t, posix_spawn_file_actions_t, posix_spawnattr_t};

use crate::fdtab::{self, Class};
use crate::real;

#[no_mangle]
pub(crate) unsafe extern "C" fn fcntl(fd: c_int, cmd: c_int, arg: libc::c_long) -> c_int {
    // SAFETY: forwarding; every command that takes an argument gets it as passed (see the
    // crate docs on variadic hooks).
    let forward = |arg| unsafe { real::fcntl(fd, cmd, arg) };
    // The table is kept in step even while disabled: its managed fds stay managed.
    match cmd {
        libc::F_GETFL => {
            let r = forward(arg);
            if r >= 0 && fdtab::get(fd) == Class::Managed {
                r & !libc::O_NONBLOCK
            } else {
                r
            }
        }
        libc::F_SETFL => {
            let class = fdtab::get(fd);
            let on = arg as c_int & libc::O_NONBLOCK != 0;
            if !on && class == Class::Managed {
                // The program asks for blocking mode, as it had: non-blocking underneath.
                return forward(arg | libc::O_NONBLOCK as libc::c_long);
            }
            let r = forward(arg);
            if r == 0 {
                program_set_mode(fd, class, on);
            }
            r
        }
        libc::F_DUPFD | libc::F_DUPFD_CLOEXEC => {
            let r = forward(arg);
            fdtab::copy(fd, r);
            r
        }
        _ => forward(arg),
    }
}

#[no_mangle]
pub(crate) unsafe extern "C" fn ioctl(fd: c_int, req: libc::c_ulong, arg: *mut c_void) -> c_int {
    // SAFETY: forwarding the caller's arguments.
    let forward = || unsafe { real::ioctl(fd, req, arg) };
    if req != libc::FIONBIO || arg.is_null() {
        return forward();
    }
    // SAFETY: FIONBIO's argument is a pointer to an int (the caller's contract).
    let on = unsafe { *(arg as *const c_int) } != 0;
    let class = fdtab::get(fd);
    if !on && class == Class::Managed {
        return 0; // already blocking for the program; stays non-blocking underneath
    }
    let r = forward();
    if r == 0 {
        program_set_mode(fd, class, on);
    }
    r
}

/// The program set `fd` (of class `was`, not `Managed` turned off) non-blocking (`on`) or
/// blocking, and the call succeeded.
fn program_set_mode(fd: c_int, was: Class, on: bool) {
    if on {
        fdtab::set(fd, Class::UserNonblocking);
    } else if was == Class::UserNonblocking {
        // Blocking again: classified afresh on its next use in a hub.
        fdtab::forget(fd);
    }
}

#[no_mangle]
pub(crate) unsafe extern "C" fn close(fd: c_int) -> c_int {
    fdtab::forget(fd);
    // SAFETY: forwarding the caller's argument.
    unsafe { real::close(fd) }
}

#[no_mangle]
pub(crate) unsafe extern "C" fn dup(old: c_int) -> c_int {
    // SAFETY: forwarding the caller's argument.
    let r = unsafe { real::dup(old) };
    fdtab::copy(old, r);
    r
}

/// `new` has just become a copy of `old` (`r`, the dup2/dup3 result, is `new` on success):
/// it shares `old`'s open file description, so it takes `old`'s class. A copy onto
/// stdin/stdout/stderr is how a child's standard streams are set up between fork and exec, so
/// `old` goes back to blocking mode first. A failed call changed nothing, so neither does this.
fn after_dup_onto(old: c_int, new: c_int, r: c_int) {
    if r < 0 || old == new {
        return;
    }
    if (0..=2).contains(&new) {
        fdtab::release(old);
    }
    fdtab::copy(old, r);
}

#[no_mangle]
pub(crate) unsafe extern "C" fn dup2(old: c_int, new: c_int) -> c_int {
    // SAFETY: forwarding the caller's arguments.
    let r = unsafe { real::dup2(old, new) };
    after_dup_onto(old, new, r);
    r
}

#[no_mangle]
pub(crate) unsafe extern "C" fn dup3(old: c_int, new: c_int, flags: c_int) -> c_int {
    // SAFETY: forwarding the caller's arguments.
    let r = unsafe { real::dup3(old, new, flags) };
    after_dup_onto(old, new, r);
    r
}

/// How `std::process::Command` (through `posix_spawn`) gives a child an fd as a standard
/// stream: that fd goes back to blocking mode for good.
#[no_mangle]
pub(crate) unsafe extern "C" fn posix_spawn_file_actions_adddup2(
    actions: *mut posix_spawn_file_actions_t,
    fd: c_int,
    newfd: c_int,
) -> c_int {
    fdtab::release(fd);
    // SAFETY: forwarding the caller's arguments.
    unsafe { real::posix_spawn_file_actions_adddup2(actions, fd, newfd) }
}

#[no_mangle]
pub(crate) unsafe extern "C" fn posix_spawn(
    pid: *mut pid_t,
    path: *const c_char,
    actions: *const posix_spawn_file_actions_t,
    attr: *const posix_spawnattr_t,
    argv: *const *mut c_char,
    envp: *const *mut c_char,
) -> c_int {
    fdtab::release_inherited();
    // SAFETY: forwarding the caller's arguments.
    unsafe { real::posix_spawn(pid, path, actions, attr, argv, envp) }
}

#[no_mangle]
pub(crate) unsafe extern "C" fn posix_spawnp(
    pid: *mut pid_t,
    file: *const c_char,
    actions: *const posix_spawn_file_actions_t,
    attr: *const posix_spawnattr_t,
    argv: *const *mut c_char,
    envp: *const *mut c_char,
) -> c_int {
    fdtab::release_inherited();
    // SAFETY: forwarding the caller's arguments.
    unsafe { real::posix_spawnp(pid, file, actions, attr, argv, envp) }
}

#[no_mangle]
pub(crate) unsafe extern "C" fn execve(
    path: *const c_char,
    argv: *const *const c_char,
    envp: *const *const c_char,
) -> c_int {
    fdtab::release_inherited();
    // SAFETY: forwarding the caller's arguments.
    unsafe { real::execve(path, argv, envp) }
}

#[no_mangle]
pub(crate) unsafe extern "C" fn execv(path: *const c_char, argv: *const *const c_char) -> c_int {
    fdtab::release_inherited();
    // SAFETY: forwarding the caller's arguments.
    unsafe { real::execv(path, argv) }
}

#[no_mangle]
pub(crate) unsafe extern "C" fn execvp(file: *const c_char, argv: *const *const c_char) -> c_int {
    fdtab::release_inherited();
    // SAFETY: forwarding the caller's arguments.
    unsafe { real::execvp(file, argv) }
}

#[no_mangle]
pub(crate) unsafe extern "C" fn execvpe(
    file: *const c_char,
    argv: *const *const c_char,
    envp: *const *const c_char,
) -> c_int {
    fdtab::release_inherited();
    // SAFETY: forwarding the caller's arguments.
    unsafe { real::execvpe(file, argv, envp) }
}

#[no_mangle]
pub(crate) unsafe extern "C" fn fexecve(
    fd: c_int,
    argv: *const *const c_char,
    envp: *const *const c_char,
) -> c_int {
    fdtab::release_inherited();
    // SAFETY: forwarding the caller's arguments.
    unsafe { real::fexecve(fd, argv, envp) }
}
