//! `grove::fs` when its caller stops waiting: timeouts, kills, peers that vanish. FIFOs stand
//! in for slow disks: a read or write on them blocks its pool thread for as long as we like.

use std::cell::RefCell;
use std::ffi::CString;
use std::io::{ErrorKind, Read, Seek, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, Instant};

/// Generous liveness bound: only a broken implementation takes this long.
const LIVE: Duration = Duration::from_secs(20);
const SHORT: Duration = Duration::from_millis(20);

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("grove-fs-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn mkfifo(p: &Path) {
    let c = CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: `c` is a valid NUL-terminated path for the duration of the call.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
}

fn set_blocking(f: &std::fs::File) {
    // SAFETY: fcntl on an fd we own, with integer arguments only.
    unsafe {
        let fl = libc::fcntl(f.as_raw_fd(), libc::F_GETFL);
        assert!(fl >= 0);
        assert_eq!(libc::fcntl(f.as_raw_fd(), libc::F_SETFL, fl & !libc::O_NONBLOCK), 0);
    }
}

/// A FIFO's two ends, both blocking: reads block while it is empty, writes while it is full.
fn fifo(d: &Path) -> (std::fs::File, std::fs::File) {
    let p = d.join("fifo");
    mkfifo(&p);
    let r = std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(&p).unwrap();
    let w = std::fs::OpenOptions::new().write(true).open(&p).unwrap();
    set_blocking(&r);
    (r, w)
}

/// Waits until a thread of this process is blocked in system call `nr` on `fd` (as
/// /proc/self/task/*/syscall shows it): the pool job is then running, not queued.
fn wait_blocked_in(nr: libc::c_long, fd: RawFd) {
    let want = format!("{nr} {fd:#x} ");
    let t = Instant::now();
    loop {
        for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
            let s = std::fs::read_to_string(task.path().join("syscall")).unwrap_or_default();
            if s.starts_with(&want) {
                return;
            }
        }
        assert!(t.elapsed() < LIVE, "no thread ever blocked in syscall {nr} on fd {fd}");
        grove::sleep(Duration::from_millis(1));
    }
}

#[test]
fn an_abandoned_read_hands_its_bytes_to_the_next_read() {
    grove::run(|| {
        let d = dir("read");
        // 1. The scope expires while the read is blocked on its pool thread.
        let (r, mut w) = fifo(&d);
        let f = grove::fs::File::from_std(r);
        let mut buf = [0u8; 64];
        assert!(grove::timeout(SHORT, || (&f).read(&mut buf)).is_err());
        w.write_all(b"FIRST").unwrap(); // the abandoned read gets these
        w.write_all(b"SECOND").unwrap();
        let mut got = [0u8; 11];
        let r = grove::timeout(LIVE, || (&f).read_exact(&mut got));
        drop(w); // releases a stuck read if the assertion below fails
        r.expect("no byte lost: the read completes").unwrap();
        assert_eq!(&got, b"FIRSTSECOND");
        std::fs::remove_file(d.join("fifo")).unwrap();

        // 2. The reading greenlet is killed mid-read (its read(2) is running).
        let (r, mut w) = fifo(&d);
        let fd = r.as_raw_fd();
        let f = grove::fs::File::from_std(r);
        let f2 = f.clone();
        let g = grove::spawn(move || {
            let mut buf = [0u8; 64];
            (&f2).read(&mut buf)
        });
        wait_blocked_in(libc::SYS_read, fd);
        g.kill().unwrap();
        assert!(g.join().is_err());
        w.write_all(b"FIRST").unwrap();
        w.write_all(b"SECOND").unwrap();
        let mut got = [0u8; 11];
        let r = grove::timeout(LIVE, || (&f).read_exact(&mut got));
        // 3. The writer vanishes: the next read reports end of file, not a hang.
        drop(w);
        r.expect("no byte lost after a kill").unwrap();
        assert_eq!(&got, b"FIRSTSECOND");
        let mut rest = Vec::new();
        assert_eq!(grove::timeout(LIVE, || (&f).read_to_end(&mut rest)).unwrap().unwrap(), 0);
        std::fs::remove_file(d.join("fifo")).unwrap();

        // 4. Abandoned while blocked, then the writer vanishes: the next read sees EOF.
        let (r, w) = fifo(&d);
        let f = grove::fs::File::from_std(r);
        assert!(grove::timeout(SHORT, || (&f).read(&mut buf)).is_err());
        drop(w);
        assert_eq!(grove::timeout(LIVE, || (&f).read(&mut buf)).unwrap().unwrap(), 0);
        std::fs::remove_dir_all(&d).unwrap();
    });
}

#[test]
fn a_killed_read_on_a_regular_file_loses_no_byte_and_keeps_the_position() {
    grove::run(|| {
        let d = dir("pos");
        let p = d.join("f");
        std::fs::write(&p, b"0123456789").unwrap();
        let f = std::fs::OpenOptions::new().read(true).write(true).open(&p).unwrap();
        let f = grove::fs::File::from_std(f);
        let f2 = f.clone();
        let g = grove::spawn(move || {
            let mut buf = [0u8; 10];
            (&f2).read(&mut buf)
        });
        grove::yield_now(); // the read is submitted
                            // Give the pool thread time to finish the read before the kill (the case where
                            // the value is ready but not yet taken); any interleaving must give the same result.
        std::thread::sleep(Duration::from_millis(30));
        g.kill().unwrap();
        let mut h = &f;
        match g.join() {
            // The usual case: the kill landed while the read was in flight or done but not
            // taken. The bytes go to the next read; the position did not move.
            Err(e) => {
                assert!(e.is_killed());
                assert_eq!(h.stream_position().unwrap(), 0, "the killed read moved the position");
            }
            // On a slow machine (sanitizers) the pool can finish the read before the greenlet
            // even parks: then the read simply happened. Undo it to check the rest alike.
            Ok(n) => {
                assert_eq!(n.unwrap(), 10);
                assert_eq!(h.stream_position().unwrap(), 10);
                h.seek(std::io::SeekFrom::Start(0)).unwrap();
            }
        }
        let mut three = [0u8; 3];
        h.read_exact(&mut three).unwrap();
        assert_eq!(&three, b"012");
        assert_eq!(h.stream_position().unwrap(), 3);
        h.write_all(b"X").unwrap(); // lands where the caller thinks it is
        h.flush().unwrap();
        let mut rest = String::new();
        h.read_to_string(&mut rest).unwrap();
        assert_eq!(rest, "456789");
        assert_eq!(std::fs::read(&p).unwrap(), b"012X456789");
        std::fs::remove_dir_all(&d).unwrap();
    });
}

/// Fills a pipe's write end until it would block, then makes it blocking again.
fn fill(w: &std::fs::File) {
    // SAFETY: fcntl on an fd we own, with integer arguments only.
    unsafe {
        let fl = libc::fcntl(w.as_raw_fd(), libc::F_GETFL);
        libc::fcntl(w.as_raw_fd(), libc::F_SETFL, fl | libc::O_NONBLOCK);
    }
    let chunk = [b'.'; 4096];
    loop {
        match (&*w).write(&chunk) {
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) => panic!("{e}"),
        }
    }
    set_blocking(w);
}

#[test]
fn an_abandoned_write_completes_before_later_operations_and_its_failure_is_reported() {
    grove::run(|| {
        let d = dir("write");
        // 1. A 1 MiB write is killed while blocked on the full pipe. It still completes, in
        //    full and before the write that follows it.
        let (mut r, w) = fifo(&d);
        let fd = w.as_raw_fd();
        let f = grove::fs::File::from_std(w);
        let g = {
            let f = f.clone();
            grove::spawn(move || (&f).write_all(&vec![b'A'; 1 << 20]))
        };
        wait_blocked_in(libc::SYS_write, fd);
        g.kill().unwrap();
        assert!(g.join().is_err());
        let reader = std::thread::spawn(move || {
            let mut v = Vec::new();
            r.read_to_end(&mut v).unwrap();
            v
        });
        (&f).write_all(b"B").unwrap();
        (&f).flush().unwrap();
        drop(f);
        let got = grove::thread_pool::spawn_blocking(move || reader.join().unwrap()).unwrap();
        assert_eq!(got.len(), (1 << 20) + 1, "the abandoned write was delivered in full");
        assert!(got[..1 << 20].iter().all(|&b| b == b'A'));
        assert_eq!(got[1 << 20], b'B', "the later write landed after the abandoned one");
        std::fs::remove_file(d.join("fifo")).unwrap();

        // 1b. The same write cut short by a timeout scope: it ran in full or (if the scope
        //     expired while it was still queued) not at all; either way before the next one.
        let (mut r, w) = fifo(&d);
        let f = grove::fs::File::from_std(w);
        let big = vec![b'A'; 1 << 20];
        assert!(grove::timeout(SHORT, || (&f).write_all(&big)).is_err());
        let reader = std::thread::spawn(move || {
            let mut v = Vec::new();
            r.read_to_end(&mut v).unwrap();
            v
        });
        (&f).write_all(b"B").unwrap();
        (&f).flush().unwrap();
        drop(f);
        let got = grove::thread_pool::spawn_blocking(move || reader.join().unwrap()).unwrap();
        assert!(got.len() == 1 || got.len() == (1 << 20) + 1, "partial: {}", got.len());
        assert!(got[..got.len() - 1].iter().all(|&b| b == b'A'));
        assert_eq!(got.last(), Some(&b'B'), "the later write landed after the abandoned one");
        std::fs::remove_file(d.join("fifo")).unwrap();

        // 2. A write abandoned while blocked, whose peer then vanishes: the write fails with
        //    EPIPE in the background and the next operation says so.
        let (r, w) = fifo(&d);
        fill(&w);
        let fd = w.as_raw_fd();
        let f = grove::fs::File::from_std(w);
        let g = {
            let f = f.clone();
            grove::spawn(move || (&f).write(b"x"))
        };
        wait_blocked_in(libc::SYS_write, fd);
        g.kill().unwrap();
        assert!(g.join().is_err());
        drop(r);
        let e = (&f).flush().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::BrokenPipe, "{e}");
        assert!(e.to_string().contains("abandoned"), "{e}");
        // Reported once; the file is usable (and still broken) afterwards.
        assert_eq!((&f).write(b"y").unwrap_err().kind(), ErrorKind::BrokenPipe);
        std::fs::remove_dir_all(&d).unwrap();
    });
}

#[test]
fn remove_file_in_a_destructor_during_a_kill_does_nothing_and_says_so() {
    grove::run(|| {
        let d = dir("rm");
        let p = d.join("keep");
        std::fs::write(&p, b"x").unwrap();
        type Outcome = Rc<RefCell<Option<std::io::Result<()>>>>;
        struct Cleanup(PathBuf, Outcome);
        impl Drop for Cleanup {
            fn drop(&mut self) {
                *self.1.borrow_mut() = Some(grove::fs::remove_file(&self.0));
            }
        }
        let out: Outcome = Rc::default();
        let (p2, o2) = (p.clone(), out.clone());
        let g = grove::spawn(move || {
            let _c = Cleanup(p2, o2);
            grove::sleep(Duration::from_secs(3600));
        });
        grove::sleep(Duration::from_millis(5));
        g.kill().unwrap();
        let e = out.borrow_mut().take().unwrap().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Interrupted);
        // Let any job that was (wrongly) submitted run.
        grove::thread_pool::spawn_blocking(|| ()).unwrap();
        grove::sleep(Duration::from_millis(50));
        assert!(p.exists(), "remove_file said Interrupted, yet the file is gone");
        std::fs::remove_dir_all(&d).unwrap();
    });
}

#[test]
fn path_calls_end_on_timeout_kill_and_vanishing_peers() {
    grove::run(|| {
        let d = dir("path");
        let p = d.join("fifo");
        mkfifo(&p);
        // Opening a FIFO for reading blocks its pool thread until a writer comes.
        assert!(grove::timeout(SHORT, || grove::fs::read(&p)).is_err());
        let p2 = p.clone();
        let g = grove::spawn(move || grove::fs::read(&p2));
        grove::sleep(SHORT);
        g.kill().unwrap();
        assert!(g.join().is_err());
        // Writers that come, write and vanish, until told to stop: each releases every
        // reader waiting in open (the abandoned ones too), which then read "abc"s and EOF.
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (p3, stop2) = (p.clone(), stop.clone());
        let writer = std::thread::spawn(move || {
            while !stop2.load(std::sync::atomic::Ordering::SeqCst) {
                let o = std::fs::OpenOptions::new()
                    .write(true)
                    .custom_flags(libc::O_NONBLOCK)
                    .open(&p3);
                match o {
                    Ok(mut w) => drop(w.write_all(b"abc")),
                    Err(_) => std::thread::sleep(Duration::from_millis(1)), // no reader yet
                }
            }
        });
        let got = grove::timeout(LIVE, || grove::fs::read(&p));
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        grove::thread_pool::spawn_blocking(move || writer.join().unwrap()).unwrap();
        let got = got.expect("the read ends once a writer came and went").unwrap();
        assert!(got.chunks(3).all(|c| c == b"abc"), "{got:?}");
        std::fs::remove_dir_all(&d).unwrap();
    });
}
