//! `getaddrinfo` on grove's thread pool.
//!
//! The calling greenlet may stop waiting before the lookup ends (it is killed, or its
//! `timeout` scope expires) and return to code that frees or reuses the buffers it passed. So
//! the pool job never sees the caller's pointers: it owns copies of `node`, `service` and
//! `hints`, and its own result list, which the hook moves into `*res` only if the caller is
//! still waiting; an abandoned list is freed with `freeaddrinfo` wherever the job's value is
//! dropped (on the pool thread, or on the hub if the job finished first).

use std::ffi::{c_char, c_int, CStr, CString};

use crate::{errno, guarded, real, set_errno};

/// A list returned by the real `getaddrinfo`, freed on drop unless handed out.
struct List(*mut libc::addrinfo);

// SAFETY: an addrinfo list is plain heap memory owned by whoever holds the `List`; nothing
// else points into it, and `freeaddrinfo` may be called on any thread.
unsafe impl Send for List {}

impl Drop for List {
    fn drop(&mut self) {
        if !self.0.is_null() {
            // SAFETY: a non-null list from a successful getaddrinfo, freed exactly once (the
            // pointer is nulled when handed to the caller).
            unsafe { libc::freeaddrinfo(self.0) };
        }
    }
}

/// The parts of `hints` that POSIX gives a meaning (the others must be zero or null).
#[derive(Clone, Copy)]
struct Hints {
    flags: c_int,
    family: c_int,
    socktype: c_int,
    protocol: c_int,
}

/// Copies a C string the caller passed (null stays absent).
///
/// # Safety
/// `p` is null or a valid NUL-terminated string.
unsafe fn copy(p: *const c_char) -> Option<CString> {
    // SAFETY: the caller's contract.
    (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_owned())
}

/// The hook's cooperative path: the lookup runs on the pool while the greenlet waits.
///
/// # Safety
/// libc's contract for `getaddrinfo`.
pub(crate) unsafe fn lookup(
    node: *const c_char,
    service: *const c_char,
    hints: *const libc::addrinfo,
    res: *mut *mut libc::addrinfo,
) -> c_int {
    let saved = errno();
    // SAFETY: the caller's strings are valid for the duration of this call.
    let (node, service) = unsafe { (copy(node), copy(service)) };
    // SAFETY: a non-null `hints` points to a valid addrinfo (the caller's contract).
    let hints = unsafe { hints.as_ref() }.map(|h| Hints {
        flags: h.ai_flags,
        family: h.ai_family,
        socktype: h.ai_socktype,
        protocol: h.ai_protocol,
    });
    let job = move || {
        let h = hints.map(|h| {
            // SAFETY: addrinfo is plain data; all-zero is its empty value.
            let mut a: libc::addrinfo = unsafe { std::mem::zeroed() };
            a.ai_flags = h.flags;
            a.ai_family = h.family;
            a.ai_socktype = h.socktype;
            a.ai_protocol = h.protocol;
            a
        });
        let mut out: *mut libc::addrinfo = std::ptr::null_mut();
        // SAFETY: every pointer refers to data this job owns for the whole call.
        let rc = unsafe {
            real::getaddrinfo(
                node.as_ref().map_or(std::ptr::null(), |s| s.as_ptr()),
                service.as_ref().map_or(std::ptr::null(), |s| s.as_ptr()),
                h.as_ref().map_or(std::ptr::null(), |h| h as *const libc::addrinfo),
                &mut out,
            )
        };
        let e = errno();
        (rc, e, List(if rc == 0 { out } else { std::ptr::null_mut() }))
    };
    match guarded(|| grove::thread_pool::spawn_blocking(job)) {
        Some(Ok((rc, e, mut list))) => {
            if rc == 0 {
                // SAFETY: `res` is the caller's valid result slot and the caller is still
                // here, waiting: the list becomes the caller's to free.
                unsafe { *res = std::mem::replace(&mut list.0, std::ptr::null_mut()) };
                set_errno(saved);
            } else if rc == libc::EAI_SYSTEM {
                set_errno(e);
            }
            rc
        }
        Some(Err(e)) => {
            // No pool thread could be started.
            set_errno(e.raw_os_error().unwrap_or(libc::EAGAIN));
            libc::EAI_SYSTEM
        }
        // Killed (ECANCELED) or the scope expired (ETIMEDOUT): the job keeps its list and
        // frees it when it is done.
        None => libc::EAI_SYSTEM,
    }
}
