//! 17.1: a `getaddrinfo` whose caller gave up (killed, or its `timeout` scope expired) while
//! the lookup waited on the thread pool must never touch the caller's memory afterwards, and
//! its result must be freed. Own test binary: it limits grove's thread pool to one thread, so
//! lookups queue behind a job that holds it until the test says so (no timing involved).

use std::ffi::{c_int, CString};
use std::sync::mpsc;
use std::time::Duration;

/// A value `getaddrinfo` never stores into `*res`.
const SENTINEL: usize = 0x5e47_1e01;

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn hints(flags: c_int) -> libc::addrinfo {
    // SAFETY: addrinfo is plain data; all-zero is the documented "no hints" value.
    let mut h: libc::addrinfo = unsafe { std::mem::zeroed() };
    h.ai_flags = flags;
    h.ai_family = libc::AF_INET;
    h.ai_socktype = libc::SOCK_STREAM;
    h
}

/// Holds the pool's only thread until `release`d.
struct PoolHold(mpsc::Sender<()>, grove::JoinHandle<()>);

impl PoolHold {
    fn new() -> PoolHold {
        let (tx, rx) = mpsc::channel::<()>();
        let h = grove::spawn(move || {
            grove::thread_pool::spawn_blocking(move || {
                let _ = rx.recv();
            })
            .unwrap();
        });
        // Let it submit its job before anything else is queued.
        grove::yield_now();
        PoolHold(tx, h)
    }

    /// Lets the held thread go and waits until every job queued so far has run (the pool has
    /// one thread and runs jobs in FIFO order).
    fn release(self) {
        let PoolHold(tx, holder) = self;
        drop(tx);
        grove::thread_pool::spawn_blocking(|| ()).unwrap();
        holder.join().unwrap();
    }
}

#[test]
fn abandoned_lookups_never_write_into_the_callers_memory_and_are_freed() {
    grove_patch::enable();
    grove::thread_pool::set_max_threads(1);
    grove::run(|| {
        // Part 1, deterministic: the caller's buffers stay alive (owned here), so a late
        // write of the result into `*res` is visible as a changed sentinel.
        let node = CString::new("localhost").unwrap();
        let h = hints(0);
        let n = 16;
        let mut slots: Vec<Box<*mut libc::addrinfo>> =
            (0..n).map(|_| Box::new(SENTINEL as *mut libc::addrinfo)).collect();
        let hold = PoolHold::new();
        let mut victims = Vec::new();
        for (i, slot) in slots.iter_mut().enumerate() {
            let res: *mut *mut libc::addrinfo = &mut **slot;
            let (node, h) = (node.as_ptr() as usize, &h as *const libc::addrinfo as usize);
            let lookup = move || {
                // SAFETY: node, hints and res point to buffers the test keeps alive until
                // after the pool has drained.
                let rc = unsafe {
                    libc::getaddrinfo(
                        node as *const _,
                        std::ptr::null(),
                        h as *const libc::addrinfo,
                        res,
                    )
                };
                (rc, errno())
            };
            victims.push(if i % 2 == 0 {
                // Killed while its lookup waits in the pool's queue.
                grove::spawn(move || {
                    let r = lookup();
                    grove::sleep(Duration::from_secs(3600)); // the deferred kill lands here
                    r
                })
            } else {
                // Its timeout scope expires while the lookup waits in the queue.
                grove::spawn(move || {
                    grove::timeout(Duration::from_millis(5), lookup).expect("returned, not unwound")
                })
            });
        }
        grove::yield_now(); // every victim is now parked on its queued lookup
        for (i, v) in victims.into_iter().enumerate() {
            if i % 2 == 0 {
                v.kill().unwrap();
                assert!(v.join().unwrap_err().is_killed());
            } else {
                let (rc, e) = v.join().unwrap();
                assert_eq!((rc, e), (libc::EAI_SYSTEM, libc::ETIMEDOUT));
            }
        }
        hold.release(); // every abandoned lookup has now run to completion
        for (i, s) in slots.iter().enumerate() {
            assert_eq!(**s as usize, SENTINEL, "lookup {i} wrote into its caller's memory late");
        }

        // Part 2: everything the caller passed lives on the victim's own heap and is freed
        // when it unwinds, before the lookups run. Under ci/asan.sh, LeakSanitizer checks
        // that every abandoned result list (parts 1 and 2) is freed; the reads and writes
        // themselves happen inside glibc, which AddressSanitizer does not instrument. A
        // numeric host keeps any lookup local.
        let hold = PoolHold::new();
        let victims: Vec<_> = (0..16)
            .map(|_| {
                grove::spawn(|| {
                    let node = CString::new("127.0.0.1").unwrap();
                    let service = CString::new("80").unwrap();
                    let h = Box::new(hints(libc::AI_NUMERICHOST | libc::AI_NUMERICSERV));
                    let mut res = Box::new(SENTINEL as *mut libc::addrinfo);
                    // SAFETY: valid strings, hints and result slot, alive during the call.
                    let rc = unsafe {
                        libc::getaddrinfo(node.as_ptr(), service.as_ptr(), &*h, &mut *res)
                    };
                    assert_eq!((rc, errno()), (libc::EAI_SYSTEM, libc::ECANCELED));
                    assert_eq!(*res as usize, SENTINEL);
                    grove::sleep(Duration::from_secs(3600));
                })
            })
            .collect();
        grove::yield_now();
        for v in &victims {
            v.kill().unwrap();
        }
        for v in victims {
            assert!(v.join().unwrap_err().is_killed());
        }
        hold.release();

        // A lookup nobody abandons still hands its result to the caller.
        let node = CString::new("127.0.0.1").unwrap();
        let h = hints(libc::AI_NUMERICHOST);
        let mut res: *mut libc::addrinfo = std::ptr::null_mut();
        // SAFETY: valid arguments; the result is freed below.
        let rc = unsafe { libc::getaddrinfo(node.as_ptr(), std::ptr::null(), &h, &mut res) };
        assert_eq!(rc, 0);
        assert!(!res.is_null());
        // SAFETY: `res` came from a successful getaddrinfo.
        unsafe {
            assert_eq!((*res).ai_family, libc::AF_INET);
            libc::freeaddrinfo(res);
        }
    });
}
