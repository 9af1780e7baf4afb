//! Kills and `timeout` scopes inside hooks.
//!
//! A hook is an `extern "C"` function: it must never unwind, so a kill (`GreenletExit`) or a
//! scope expiry that arrives while a hook waits is caught ([`guarded`]): the call fails with
//! `ECANCELED` (kill; re-armed with `defer_kill` to land at the greenlet's next grove blocking
//! point in Rust code) or `ETIMEDOUT` (scope; its deadline stays passed, so the next such
//! blocking point unwinds to it).
//!
//! Until then the greenlet is *interrupted* ([`interrupted`]) and may be C or Rust code that
//! ignores errors and retries. So that such a loop cannot stall the hub:
//! - hooked calls that would wait yield to the hub once, then fail at once ([`refuse`]);
//! - hooked sleeps still sleep, cooperatively ([`sleep`]): a retry loop keeps its pace;
//! - futex waits (locks) still wait, cooperatively (see `futex`).
//!
//! A greenlet that goes on making hooked calls after its kill (or its scope's expiry) — 100
//! of them, or for a second — is reported once on stderr and counted in
//! [`interrupts_ignored`](crate::interrupts_ignored): it cannot be unwound from C code, so
//! `kill()` (or `timeout`) waits until its function returns or reaches a grove call.

use std::cell::Cell;
use std::ffi::c_int;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

use crate::set_errno;

/// Greenlets reported for ignoring an interruption.
pub(crate) static REPORTED: AtomicUsize = AtomicUsize::new(0);

/// Hooked calls refused before a greenlet is reported...
const REPORT_CALLS: u32 = 100;
/// ...or time since its first refused call.
const REPORT_AFTER: Duration = Duration::from_secs(1);

/// Per greenlet: calls refused since the first one, when that was, and whether reported.
#[derive(Default)]
struct Refused {
    calls: Cell<u32>,
    since: Cell<Option<Instant>>,
    reported: Cell<bool>,
}

grove::local! {
    static REFUSED: Refused = Refused::default();
}

/// Runs a cooperative wait inside a hook, catching what must not unwind through C: a kill
/// (errno `ECANCELED`, the kill re-armed) or a scope expiry (errno `ETIMEDOUT`); `None` then.
pub(crate) fn guarded<R>(f: impl FnOnce() -> R) -> Option<R> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(v) => Some(v),
        Err(p) if p.is::<grove::GreenletExit>() => {
            grove::patch_support::defer_kill();
            set_errno(libc::ECANCELED);
            None
        }
        Err(p) if grove::patch_support::is_scope_expiry(&*p) => {
            set_errno(libc::ETIMEDOUT);
            None
        }
        Err(_) => {
            // A panic cannot cross the C boundary; this would be a bug in grove itself.
            let msg = b"grove-patch: panic inside a libc hook\n";
            // SAFETY: writing a static buffer to stderr with the raw syscall.
            unsafe { libc::syscall(libc::SYS_write, 2, msg.as_ptr(), msg.len()) };
            std::process::abort();
        }
    }
}

/// Why the running greenlet's hooked calls must not wait now: a kill caught in a hook has not
/// landed yet (`ECANCELED`), or its `timeout` scope's deadline has passed (`ETIMEDOUT`).
/// Only meaningful on a cooperative thread.
pub(crate) fn interrupted() -> Option<c_int> {
    if grove::patch_support::kill_deferred() {
        return Some(libc::ECANCELED);
    }
    let expired = grove::current_deadline().is_some_and(|d| d <= Instant::now());
    expired.then_some(libc::ETIMEDOUT)
}

/// Fails a hooked call at once with `why` (see [`interrupted`]), after one turn of the hub so
/// that a loop retrying the call cannot starve the other greenlets.
pub(crate) fn refuse(why: c_int) {
    let _ = guarded(|| grove::patch_support::shielded(grove::yield_now));
    note(why);
    set_errno(why);
}

/// Sleeps cooperatively for `d` on a hub thread. A kill during the sleep ends it early (once:
/// the kill is re-armed). An interrupted greenlet still sleeps the whole time, its kill or
/// expired scope set aside: its code ignored the failures of its hooked calls and went on,
/// and returning at once would turn its retry loop into a busy loop.
pub(crate) fn sleep(d: Duration) {
    let _ = wait_through(|| grove::sleep(d), true);
}

/// Runs a wait that a kill or an expired scope must not cut short (a sleep, a lock wait, an
/// event loop's wait): as it is while nothing is pending; with the pending kill or deadline
/// set aside (`shielded`) when the greenlet was interrupted before, then counted towards the
/// "ignores its kill" report if `report`. `None` when a kill or scope expiry arrives during
/// the wait (it is deferred: see `guarded`).
pub(crate) fn wait_through<R>(wait: impl FnOnce() -> R, report: bool) -> Option<R> {
    match interrupted() {
        None => guarded(wait),
        Some(why) => {
            let r = guarded(|| grove::patch_support::shielded(wait));
            if report {
                note(why);
            }
            r
        }
    }
}

/// Counts a call refused (or a sleep taken) because of `why`; reports the greenlet once.
pub(crate) fn note(why: c_int) {
    let report = REFUSED.with(|r| {
        let calls = r.calls.get().saturating_add(1);
        r.calls.set(calls);
        let since = *r.since.get().get_or_insert_with(Instant::now);
        r.since.set(Some(since));
        let due = calls >= REPORT_CALLS || since.elapsed() >= REPORT_AFTER;
        (due && !r.reported.replace(true)).then_some(calls)
    });
    if let Some(calls) = report {
        REPORTED.fetch_add(1, Relaxed);
        report_ignored(why, calls);
    }
}

fn report_ignored(why: c_int, calls: u32) {
    let me = grove::getcurrent();
    let who = match me.name() {
        Some(n) => format!("greenlet '{n}' (#{})", me.id()),
        None => format!("greenlet #{}", me.id()),
    };
    let (what, err, waits) = if why == libc::ECANCELED {
        ("was killed inside a patched libc call", "ECANCELED", "kill() and join() wait")
    } else {
        (
            "passed its timeout scope's deadline inside a patched libc call",
            "ETIMEDOUT",
            "timeout() waits",
        )
    };
    let msg = format!(
        "grove-patch: {who} {what} and ignores it: it has since made {calls} more patched \
         calls (each failing at once with {err}, or sleeping) without reaching a grove \
         blocking call in Rust code, the only place it can unwind; {waits} until it does or \
         its function returns.\n"
    );
    // SAFETY: writing a live buffer to stderr with the raw syscall (no hook, no lock).
    unsafe { libc::syscall(libc::SYS_write, 2, msg.as_ptr(), msg.len()) };
}
