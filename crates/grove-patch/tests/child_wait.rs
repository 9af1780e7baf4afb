//! `waitpid`/`wait4` (17.9): waiting for a child process parks the greenlet on the child's
//! pidfd instead of blocking the hub — `Command::status`, `output` and `Child::wait` from
//! unmodified code.

use std::cell::Cell;
use std::path::PathBuf;
use std::process::Command;
use std::rc::Rc;

mod common;
use common::watchdog;

/// A scratch directory of this test's own.
fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("grove-patch-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Five greenlets each wait for a child that exits only once a file exists, and a sixth
/// greenlet creates that file after they all started waiting: it runs only if their waits do
/// not block the hub (without the hook, the first `status()` would wait forever).
#[test]
fn children_are_waited_for_without_blocking_the_hub() {
    grove_patch::enable();
    let dir = scratch("wait");
    let go = dir.join("go");
    let script = format!("while [ ! -e '{}' ]; do sleep 0.01; done; exit 3", go.display());
    watchdog(60, "five children waited for at once", || {
        grove::run(|| {
            let waiting = Rc::new(Cell::new(0));
            let hs: Vec<_> = (0..5)
                .map(|k| {
                    let (script, waiting) = (script.clone(), waiting.clone());
                    grove::spawn(move || {
                        let mut cmd = Command::new("sh");
                        cmd.args(["-c", &script]);
                        waiting.set(waiting.get() + 1);
                        match k % 3 {
                            0 => cmd.status().unwrap().code(),
                            1 => cmd.output().unwrap().status.code(),
                            _ => cmd.spawn().unwrap().wait().unwrap().code(),
                        }
                    })
                })
                .collect();
            while waiting.get() < 5 {
                grove::yield_now();
            }
            grove::yield_now(); // each is inside its wait now
            std::fs::write(&go, b"").unwrap();
            for h in hs {
                assert_eq!(h.join().unwrap(), Some(3));
            }
        })
    });
    let _ = std::fs::remove_dir_all(&dir);
}

/// A greenlet killed while it waits for a child: its join says Killed, the hub goes on, and
/// the child (still running) is reaped by a later wait from a plain thread.
#[test]
fn a_greenlet_killed_while_waiting_for_a_child_is_killed() {
    grove_patch::enable();
    watchdog(60, "killed child waiter", || {
        let pid = grove::run(|| {
            let pid = Rc::new(Cell::new(0u32));
            let p2 = pid.clone();
            let h = grove::spawn(move || {
                let mut child = Command::new("sleep").arg("30").spawn().unwrap();
                p2.set(child.id());
                let _ = child.wait();
                std::mem::forget(child); // the test reaps it below
            });
            while pid.get() == 0 {
                grove::yield_now();
            }
            grove::yield_now(); // in its wait
            h.kill().unwrap();
            assert!(matches!(h.join(), Err(grove::JoinError::Killed)));
            pid.get()
        });
        // SAFETY: kill(2) on our own unreaped child with a valid signal.
        assert_eq!(unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) }, 0);
        let mut status = 0;
        // SAFETY: waitpid on our own child, status written to a local (a plain thread: libc).
        let r = unsafe { libc::waitpid(pid as libc::pid_t, &mut status, 0) };
        assert_eq!(r, pid as libc::pid_t);
        assert!(libc::WIFSIGNALED(status));
    });
}

/// Off hub threads, and with `WNOHANG`, `waitpid` is exactly libc's.
#[test]
fn plain_threads_and_wnohang_are_libc() {
    grove_patch::enable();
    let mut child = Command::new("sh").args(["-c", "exit 5"]).spawn().unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(5));
    grove::run(|| {
        let child = Command::new("sleep").arg("30").spawn().unwrap();
        let pid = child.id() as libc::pid_t;
        let mut status = 0;
        // SAFETY: waitpid with WNOHANG on our own child; status is a local.
        assert_eq!(unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) }, 0);
        // SAFETY: kill(2) on our own child.
        unsafe { libc::kill(pid, libc::SIGKILL) };
        // A successful wait leaves errno as it was (whatever pidfd_open or the wait set).
        // SAFETY: __errno_location is this thread's errno slot.
        unsafe { *libc::__errno_location() = libc::E2BIG };
        // SAFETY: as above, blocking now (cooperative: the child is dying).
        assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
        assert_eq!(std::io::Error::last_os_error().raw_os_error(), Some(libc::E2BIG));
        assert!(libc::WIFSIGNALED(status));
        std::mem::forget(child);
    });
}
