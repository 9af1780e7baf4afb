//! Subprocesses with cooperative pipes.

use std::cell::Cell;
use std::io::{Read, Write};
use std::process::Stdio;
use std::rc::Rc;
use std::time::Duration;

use grove::process::Command;

mod util;

#[test]
fn subprocess_output_while_other_greenlets_run() {
    grove::run(|| {
        let ticks = Rc::new(Cell::new(0));
        let t = ticks.clone();
        let ticker = grove::spawn(move || loop {
            grove::sleep(Duration::from_millis(10));
            t.set(t.get() + 1);
        });
        let out = Command::new("sh")
            .args(["-c", "for i in 1 2 3; do echo $i; sleep 0.05; done; echo err >&2; exit 3"])
            .output()
            .unwrap();
        assert_eq!(out.stdout, b"1\n2\n3\n");
        assert_eq!(out.stderr, b"err\n");
        assert_eq!(out.status.code(), Some(3));
        assert!(ticks.get() >= 5, "the hub kept running ({} ticks)", ticks.get());
        ticker.kill().unwrap();
    });
}

#[test]
fn piping_through_cat_and_many_children_at_once() {
    grove::run(|| {
        let mut child =
            Command::new("cat").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let big = vec![b'z'; 1 << 20]; // larger than a pipe buffer: both sides must interleave
        let writer = grove::spawn(move || {
            stdin.write_all(&big).unwrap();
        });
        let mut got = Vec::new();
        stdout.read_to_end(&mut got).unwrap();
        writer.join().unwrap();
        assert_eq!(got.len(), 1 << 20);
        assert!(child.wait().unwrap().success());

        let hs: Vec<_> = (0..20)
            .map(|i| {
                grove::spawn(move || {
                    Command::new("sh")
                        .args(["-c", &format!("sleep 0.1; echo {i}")])
                        .output()
                        .unwrap()
                })
            })
            .collect();
        let t = std::time::Instant::now();
        for (i, r) in grove::joinall(hs).into_iter().enumerate() {
            assert_eq!(r.unwrap().stdout, format!("{i}\n").as_bytes());
        }
        assert!(t.elapsed() < Duration::from_secs(5), "ran concurrently");
        let e = Command::new("/nonexistent/program").output().unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
    });
}

/// Generous liveness bound: only a broken implementation takes this long.
const LIVE: Duration = Duration::from_secs(20);

fn sleeper() -> grove::process::Child {
    // Not holding the test's output pipes: a child test that fails must not leave its parent
    // reading them until the sleep ends.
    let mut cmd = Command::new("sleep");
    cmd.arg("600").stdout(Stdio::null()).stderr(Stdio::null());
    cmd.spawn().unwrap()
}

fn sigkill(pid: u32) {
    // SAFETY: kill(2) with a pid of our own unreaped child and a valid signal number.
    let r = unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
    assert_eq!(r, 0, "{}", std::io::Error::last_os_error());
}

/// Kills the children if the test fails half-way, so no `sleep 600` outlives it.
struct KillOnPanic(Vec<u32>);

impl Drop for KillOnPanic {
    fn drop(&mut self) {
        if std::thread::panicking() {
            for &pid in &self.0 {
                // SAFETY: kill(2) takes no pointers; these children were not yet collected.
                unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
            }
        }
    }
}

#[test]
fn waiting_for_many_children_holds_no_pool_thread() {
    // 70 children waited for at once: more than the pool's 64 threads. File reads, name
    // resolution and spawn_blocking must still get a thread.
    grove::run(|| {
        let kids: Vec<_> = (0..70).map(|_| sleeper()).collect();
        let pids: Vec<u32> = kids.iter().map(|c| c.id()).collect();
        let _cleanup = KillOnPanic(pids.clone());
        let waiters: Vec<_> =
            kids.into_iter().map(|mut c| grove::spawn(move || c.wait().unwrap())).collect();
        grove::sleep(Duration::from_millis(20)); // every waiter is parked in wait()
        let path = std::env::temp_dir().join(format!("grove-proc-{}", std::process::id()));
        std::fs::write(&path, b"data").unwrap();
        let read = grove::timeout(LIVE, || grove::fs::read(&path));
        std::fs::remove_file(&path).unwrap();
        assert_eq!(read.expect("fs::read got a thread").unwrap(), b"data");
        let addrs = grove::dns::resolve_timeout("localhost", 80, LIVE).unwrap();
        assert!(!addrs.is_empty());
        assert_eq!(grove::thread_pool::spawn_blocking_timeout(LIVE, || 3).unwrap(), 3);
        for pid in pids {
            sigkill(pid);
        }
        for w in grove::joinall(waiters) {
            use std::os::unix::process::ExitStatusExt;
            assert_eq!(w.unwrap().signal(), Some(libc::SIGKILL));
        }
    });
}

fn assert_usable_and_running(c: &mut grove::process::Child, pid: u32, after: &str) {
    assert_eq!(c.id(), pid, "{after}: id()");
    assert_eq!(c.try_wait().unwrap(), None, "{after}: try_wait() on a running child");
}

#[test]
fn a_wait_cut_short_leaves_the_child_usable() {
    use std::os::unix::process::ExitStatusExt;
    grove::run(|| {
        let mut c = sleeper();
        let pid = c.id();
        let _cleanup = KillOnPanic(vec![pid]);
        // 1. an enclosing timeout scope expires
        let r = grove::timeout(Duration::from_millis(20), || c.wait());
        assert!(r.is_err(), "the scope expired: {r:?}");
        assert_usable_and_running(&mut c, pid, "after a scope timeout");
        // 2. the call's own timeout
        let e = c.wait_timeout(Duration::from_millis(20)).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
        assert_usable_and_running(&mut c, pid, "after wait_timeout");
        let e = c.wait_deadline(std::time::Instant::now()).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
        // 3. the waiting greenlet is killed
        let shared = Rc::new(std::cell::RefCell::new(c));
        let s2 = shared.clone();
        let g = grove::spawn(move || s2.borrow_mut().wait());
        grove::sleep(Duration::from_millis(20));
        g.kill().unwrap();
        assert!(g.join().is_err());
        let mut c = Rc::try_unwrap(shared).unwrap().into_inner();
        assert_usable_and_running(&mut c, pid, "after a killed wait");
        // ... and it is still fully controllable.
        c.kill().unwrap();
        let s = c.wait().unwrap();
        assert_eq!(s.signal(), Some(libc::SIGKILL));
        assert_eq!(c.try_wait().unwrap(), Some(s));
        assert_eq!(c.wait().unwrap(), s, "waiting again gives the same status");
        c.kill().unwrap(); // collected: nothing to do, as std
    });
}

#[test]
fn a_child_that_dies_mid_wait_or_before_it_is_reported() {
    use std::os::unix::process::ExitStatusExt;
    grove::run(|| {
        // Killed from outside while a greenlet waits.
        let mut c = sleeper();
        let pid = c.id();
        let killer = grove::spawn(move || {
            grove::sleep(Duration::from_millis(10));
            sigkill(pid);
        });
        assert_eq!(c.wait_timeout(LIVE).unwrap().signal(), Some(libc::SIGKILL));
        killer.join().unwrap();
        // Exited before anyone waited (the pidfd is opened after the exit).
        let mut c = Command::new("true").spawn().unwrap();
        grove::sleep(Duration::from_millis(20));
        assert!(c.wait().unwrap().success());
        // Exits on its own while waited for, with its stdin piped (closed by wait).
        let mut c = Command::new("cat").stdin(Stdio::piped()).spawn().unwrap();
        assert!(c.wait_timeout(LIVE).unwrap().success());
    });
}

/// Whether `pid` still exists (running or zombie) as a child of this process.
fn exists(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

fn assert_reaped(pid: u32, what: &str) {
    let t = std::time::Instant::now();
    while exists(pid) {
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        assert!(t.elapsed() < LIVE, "{what}: pid {pid} was never reaped: {state}");
        grove::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_dropped_child_is_reaped_in_the_background() {
    grove::run(|| {
        // Already exited when dropped.
        let c = Command::new("true").spawn().unwrap();
        let quick = c.id();
        grove::sleep(Duration::from_millis(20));
        drop(c);
        // Still running when dropped: not killed by the drop; reaped once it exits.
        let c = Command::new("sleep").arg("600").stdout(Stdio::piped()).spawn().unwrap();
        let running = c.id();
        drop(c);
        std::thread::sleep(Duration::from_millis(20)); // the reaper had time to act wrongly
        assert!(exists(running), "a dropped child is not killed");
        sigkill(running); // still unreaped, so the pid is still this child's
                          // Dropped after a wait was cut short (its pidfd is registered with the hub).
        let mut c = sleeper();
        let waited = c.id();
        assert!(c.wait_timeout(Duration::from_millis(5)).is_err());
        drop(c);
        sigkill(waited);
        // Dropped in a greenlet's destructors while it is killed.
        let killed_pid = Rc::new(Cell::new(0));
        let k2 = killed_pid.clone();
        let g = grove::spawn(move || {
            let mut c = Command::new("sleep").arg("0.2").spawn().unwrap();
            k2.set(c.id());
            c.wait()
        });
        grove::sleep(Duration::from_millis(10));
        g.kill().unwrap();
        assert_reaped(killed_pid.get(), "dropped while its waiter was killed");
        assert_reaped(quick, "exited before the drop");
        assert_reaped(running, "running at the drop");
        assert_reaped(waited, "dropped after a timed-out wait");
    });
}

#[test]
fn the_polling_fallback_waits_times_out_and_reaps() {
    // Own process: the fallback switch is process-wide.
    if util::child_scenario().is_some() {
        use std::os::unix::process::ExitStatusExt;
        grove::process::force_polling_fallback();
        grove::run(|| {
            let mut c = sleeper();
            let pid = c.id();
            assert!(grove::timeout(Duration::from_millis(20), || c.wait()).is_err());
            let e = c.wait_timeout(Duration::from_millis(20)).unwrap_err();
            assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
            assert_usable_and_running(&mut c, pid, "fallback, after timeouts");
            // The scope expires while another greenlet holds the hub: the wait's own pause
            // timer fires only after the scope's deadline. The scope must still unwind the
            // wait (review finding: the fallback returned io::TimedOut as the wait's result).
            let mut held = sleeper();
            let w = grove::spawn(move || {
                let r = grove::timeout(Duration::from_millis(20), || held.wait().map(|_| ()));
                (r.map_err(|_| "elapsed"), held)
            });
            grove::spawn(|| std::thread::sleep(Duration::from_millis(100))); // holds the hub
            let (r, mut held) = w.join().unwrap();
            assert_eq!(r.map(|w| w.map_err(|e| e.kind())), Err("elapsed"), "the scope unwinds");
            held.kill().unwrap();
            held.wait_timeout(LIVE).unwrap();
            c.kill().unwrap();
            assert_eq!(c.wait_timeout(LIVE).unwrap().signal(), Some(libc::SIGKILL));
            assert!(Command::new("sh").args(["-c", "exit 4"]).status().unwrap().code() == Some(4));
            let c = Command::new("sleep").arg("0.1").spawn().unwrap();
            let pid = c.id();
            drop(c);
            assert_reaped(pid, "fallback reaper");
        });
        println!("CHILD-OK");
        return;
    }
    let out = util::run_child("the_polling_fallback_waits_times_out_and_reaps", "1");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("CHILD-OK"), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
}
