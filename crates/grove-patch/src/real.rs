//! The original libc functions, found with `dlsym(RTLD_NEXT, name)` on first use and cached.

use std::ffi::{c_char, c_int, c_long, c_uint, c_void};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use libc::{msghdr, nfds_t, pollfd, size_t, sockaddr, socklen_t, ssize_t, timespec};

/// Looks `name` (NUL-terminated) up in the libraries after this object.
fn lookup(cache: &AtomicUsize, name: &'static [u8]) -> usize {
    let mut p = cache.load(Relaxed);
    if p == 0 {
        // SAFETY: `name` is a NUL-terminated static string; dlsym has no other precondition.
        p = unsafe { libc::dlsym(libc::RTLD_NEXT, name.as_ptr().cast()) } as usize;
        if p == 0 {
            // Nothing sane can continue without libc's own function.
            let msg = b"grove-patch: dlsym(RTLD_NEXT) could not find a libc function\n";
            // SAFETY: writing a static buffer to stderr with the raw syscall.
            unsafe { libc::syscall(libc::SYS_write, 2, msg.as_ptr(), msg.len()) };
            std::process::abort();
        }
        cache.store(p, Relaxed);
    }
    p
}

macro_rules! real_fns {
    (
        fixed { $($name:ident($($a:ident: $t:ty),*) -> $r:ty;)* }
        variadic { $($vname:ident($($va:ident: $vt:ty),*; $($xa:ident: $xt:ty),*) -> $vr:ty;)* }
    ) => {
        $(
            /// The libc original.
            ///
            /// # Safety
            /// libc's contract for this function.
            pub(crate) unsafe fn $name($($a: $t),*) -> $r {
                let p = lookup(&cache::$name, concat!(stringify!($name), "\0").as_bytes());
                // SAFETY: `p` is libc's definition of this very symbol, whose C signature is
                // the one spelled here.
                let f: unsafe extern "C" fn($($t),*) -> $r = unsafe { std::mem::transmute(p) };
                // SAFETY: the caller upholds libc's contract.
                unsafe { f($($a),*) }
            }
        )*
        $(
            /// The libc original, a C-variadic function, called with the given extra
            /// arguments (as variadic arguments: the x86-64 convention also passes their
            /// count of vector registers).
            ///
            /// # Safety
            /// libc's contract for this function with these arguments.
            pub(crate) unsafe fn $vname($($va: $vt),*, $($xa: $xt),*) -> $vr {
                let p = lookup(&cache::$vname, concat!(stringify!($vname), "\0").as_bytes());
                // SAFETY: `p` is libc's definition of this very symbol, whose C signature is
                // the one spelled here (fixed parameters, then `...`).
                let f: unsafe extern "C" fn($($vt),*, ...) -> $vr = unsafe {
                    std::mem::transmute(p)
                };
                // SAFETY: the caller upholds libc's contract.
                unsafe { f($($va),*, $($xa),*) }
            }
        )*

        /// Where each original's address is kept once found.
        #[allow(non_upper_case_globals)]
        mod cache {
            use std::sync::atomic::AtomicUsize;
            $(pub(super) static $name: AtomicUsize = AtomicUsize::new(0);)*
            $(pub(super) static $vname: AtomicUsize = AtomicUsize::new(0);)*
        }

        /// Looks every original up now (see `enable`).
        pub(crate) fn resolve_all() {
            $(lookup(&cache::$name, concat!(stringify!($name), "\0").as_bytes());)*
            $(lookup(&cache::$vname, concat!(stringify!($vname), "\0").as_bytes());)*
        }
    };
}

real_fns! {
    fixed {
        read(fd: c_int, buf: *mut c_void, n: size_t) -> ssize_t;
        readv(fd: c_int, iov: *const libc::iovec, cnt: c_int) -> ssize_t;
        recv(fd: c_int, buf: *mut c_void, n: size_t, flags: c_int) -> ssize_t;
        recvfrom(fd: c_int, buf: *mut c_void, n: size_t, flags: c_int, addr: *mut sockaddr, len: *mut socklen_t) -> ssize_t;
        recvmsg(fd: c_int, msg: *mut msghdr, flags: c_int) -> ssize_t;
        write(fd: c_int, buf: *const c_void, n: size_t) -> ssize_t;
        writev(fd: c_int, iov: *const libc::iovec, cnt: c_int) -> ssize_t;
        send(fd: c_int, buf: *const c_void, n: size_t, flags: c_int) -> ssize_t;
        sendto(fd: c_int, buf: *const c_void, n: size_t, flags: c_int, addr: *const sockaddr, len: socklen_t) -> ssize_t;
        sendmsg(fd: c_int, msg: *const msghdr, flags: c_int) -> ssize_t;
        accept(fd: c_int, addr: *mut sockaddr, len: *mut socklen_t) -> c_int;
        accept4(fd: c_int, addr: *mut sockaddr, len: *mut socklen_t, flags: c_int) -> c_int;
        connect(fd: c_int, addr: *const sockaddr, len: socklen_t) -> c_int;
        poll(fds: *mut pollfd, nfds: nfds_t, timeout: c_int) -> c_int;
        epoll_wait(epfd: c_int, events: *mut libc::epoll_event, max: c_int, timeout: c_int) -> c_int;
        epoll_pwait(epfd: c_int, events: *mut libc::epoll_event, max: c_int, timeout: c_int, sigmask: *const libc::sigset_t) -> c_int;
        nanosleep(req: *const timespec, rem: *mut timespec) -> c_int;
        clock_nanosleep(clock: libc::clockid_t, flags: c_int, req: *const timespec, rem: *mut timespec) -> c_int;
        usleep(us: c_uint) -> c_int;
        sleep(secs: c_uint) -> c_uint;
        getaddrinfo(node: *const c_char, service: *const c_char, hints: *const libc::addrinfo, res: *mut *mut libc::addrinfo) -> c_int;
        close(fd: c_int) -> c_int;
        dup(old: c_int) -> c_int;
        dup2(old: c_int, new: c_int) -> c_int;
        dup3(old: c_int, new: c_int, flags: c_int) -> c_int;
        posix_spawn_file_actions_adddup2(actions: *mut libc::posix_spawn_file_actions_t, fd: c_int, newfd: c_int) -> c_int;
        posix_spawn(pid: *mut libc::pid_t, path: *const c_char, actions: *const libc::posix_spawn_file_actions_t, attr: *const libc::posix_spawnattr_t, argv: *const *mut c_char, envp: *const *mut c_char) -> c_int;
        posix_spawnp(pid: *mut libc::pid_t, file: *const c_char, actions: *const libc::posix_spawn_file_actions_t, attr: *const libc::posix_spawnattr_t, argv: *const *mut c_char, envp: *const *mut c_char) -> c_int;
        execve(path: *const c_char, argv: *const *const c_char, envp: *const *const c_char) -> c_int;
        execv(path: *const c_char, argv: *const *const c_char) -> c_int;
        execvp(file: *const c_char, argv: *const *const c_char) -> c_int;
        execvpe(file: *const c_char, argv: *const *const c_char, envp: *const *const c_char) -> c_int;
        fexecve(fd: c_int, argv: *const *const c_char, envp: *const *const c_char) -> c_int;
        waitpid(pid: libc::pid_t, status: *mut c_int, options: c_int) -> libc::pid_t;
        wait4(pid: libc::pid_t, status: *mut c_int, options: c_int, usage: *mut libc::rusage) -> libc::pid_t;
    }
    variadic {
        fcntl(fd: c_int, cmd: c_int; arg: libc::c_long) -> c_int;
        ioctl(fd: c_int, req: libc::c_ulong; arg: *mut c_void) -> c_int;
        syscall(num: c_long; a1: c_long, a2: c_long, a3: c_long, a4: c_long, a5: c_long, a6: c_long) -> c_long;
    }
}
