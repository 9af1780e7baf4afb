//! The multi-hub runtime on its unhappy paths: dropped from its own hub, shut down with jobs
//! in flight, flooded with spawns, refused stacks by the kernel.
//!
//! Bounds on waiting are for liveness only; nothing here depends on timing to pass.

mod util;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use grove::runtime::SpawnErrorKind;
use grove::sync::mt;
use grove::{Runtime, SendJoinHandle};

const LIVENESS: Duration = Duration::from_secs(30);

struct Counted(Arc<AtomicUsize>);
impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn eventually(what: &str, cond: impl Fn() -> bool) {
    let t = Instant::now();
    while !cond() {
        assert!(t.elapsed() < LIVENESS, "never happened: {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Joins on a helper thread so a hang fails the test instead of blocking it.
fn join_within<T: Send + 'static>(h: SendJoinHandle<T>) -> Result<T, grove::JoinError> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(h.join());
    });
    rx.recv_timeout(LIVENESS).expect("join hung")
}

// ---- 12.5 ----

#[test]
fn dropping_the_runtime_from_its_own_hub_stops_it_without_panicking() {
    let rt = Runtime::builder().hubs(2).monitor(None).build().unwrap();
    let (started, dropped) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    for hub in 0..2 {
        let (s, d) = (started.clone(), dropped.clone());
        rt.spawn_on(hub, move || {
            let _c = Counted(d);
            s.fetch_add(1, Ordering::SeqCst);
            grove::sleep(Duration::from_secs(3600));
        });
    }
    eventually("both sleepers started", || started.load(Ordering::SeqCst) == 2);
    let handle = rt.handle().clone();
    let (tx, rx) = mpsc::channel();
    let owner = handle.spawn_on(0, move || {
        drop(rt);
        tx.send("returned").unwrap();
    });
    assert_eq!(rx.recv_timeout(LIVENESS), Ok("returned"), "dropping the runtime panicked or hung");
    // Hub 1 was stopped and joined; hub 0 stops once the dropping greenlet is done.
    assert!(dropped.load(Ordering::SeqCst) >= 1, "the other hub was not stopped");
    eventually("both sleepers unwound", || dropped.load(Ordering::SeqCst) == 2);
    assert!(join_within(owner).is_ok());
    // The handle outlives the runtime: spawning now fails cleanly.
    assert!(join_within(handle.spawn(|| ())).unwrap_err().is_killed());
    assert_eq!(handle.try_spawn(|| ()).unwrap_err().kind(), SpawnErrorKind::ShutDown);
}

// ---- 12.8 ----

/// Spawns on the runtime from a destructor, i.e. while its hub is shutting down.
struct SpawnOnDrop(grove::Handle, mpsc::Sender<SendJoinHandle<u8>>);
impl Drop for SpawnOnDrop {
    fn drop(&mut self) {
        let _ = self.1.send(self.0.spawn_on(0, || 1));
    }
}

#[test]
fn a_spawn_made_during_shutdown_completes_its_handle() {
    let rt = Runtime::builder().hubs(1).monitor(None).build().unwrap();
    let (tx, rx) = mpsc::channel();
    let started = Arc::new(AtomicUsize::new(0));
    let (h, s) = (rt.handle().clone(), started.clone());
    let _victim = rt.spawn_on(0, move || {
        let _g = SpawnOnDrop(h, tx);
        s.fetch_add(1, Ordering::SeqCst);
        grove::sleep(Duration::from_secs(3600));
    });
    eventually("the victim started", || started.load(Ordering::SeqCst) == 1);
    rt.shutdown();
    let late = rx.recv_timeout(LIVENESS).unwrap();
    assert!(join_within(late).unwrap_err().is_killed());
}

#[test]
fn every_handle_completes_when_shutdown_races_a_spawn_flood() {
    let rt = Runtime::builder().hubs(2).monitor(None).build().unwrap();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let spawners: Vec<_> = (0..2)
        .map(|_| {
            let (h, stop) = (rt.handle().clone(), stop.clone());
            std::thread::spawn(move || {
                let mut hs = Vec::new();
                while !stop.load(Ordering::SeqCst) || hs.len() < 100 {
                    hs.push(h.spawn(|| grove::sleep(Duration::from_millis(1))));
                    if hs.len() > 20_000 {
                        break;
                    }
                }
                hs
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(20));
    rt.shutdown();
    stop.store(true, Ordering::SeqCst);
    let (mut ok, mut killed) = (0, 0);
    for s in spawners {
        for h in s.join().unwrap() {
            match join_within(h) {
                Ok(()) => ok += 1,
                Err(e) => {
                    assert!(e.is_killed(), "{e}");
                    killed += 1;
                }
            }
        }
    }
    assert!(ok + killed >= 200);
}

// ---- 20.1 ----

#[test]
fn a_runtime_at_its_limit_refuses_try_spawn_and_makes_spawn_wait() {
    let rt = Runtime::builder().hubs(2).max_greenlets(8).monitor(None).build().unwrap();
    assert_eq!(rt.handle().max_greenlets(), 8);
    let release = mt::Event::new();
    let held: Vec<_> = (0..8)
        .map(|_| {
            let r = release.clone();
            rt.spawn(move || r.wait())
        })
        .collect();
    assert_eq!(rt.handle().in_flight(), 8);
    let err = rt.try_spawn(|| 5).unwrap_err();
    assert_eq!(err.kind(), SpawnErrorKind::AtLimit);
    let msg = err.to_string();
    assert!(msg.contains("max_greenlets") && msg.contains("8"), "{msg}");
    assert!(msg.contains("vm.max_map_count"), "{msg}");
    assert_eq!(err.into_inner()(), 5, "the closure is handed back");
    // A bad hub index is an error, not a panic.
    let bad = rt.handle().try_spawn_on(7, || ()).unwrap_err();
    assert_eq!(bad.kind(), SpawnErrorKind::NoSuchHub);
    // spawn waits for room (from a plain thread here).
    let h = rt.handle().clone();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || tx.send(h.spawn(|| 6).join().ok()));
    assert!(rx.recv_timeout(Duration::from_millis(50)).is_err(), "spawn did not wait for room");
    release.set();
    assert_eq!(rx.recv_timeout(LIVENESS).unwrap(), Some(6));
    for h in held {
        assert_eq!(join_within(h).unwrap(), Ok(()));
    }
    eventually("every slot given back", || rt.handle().in_flight() == 0);
}

#[test]
fn a_spawn_waiting_for_room_can_be_killed_and_gives_up_at_shutdown() {
    let rt = Runtime::builder().hubs(1).max_greenlets(1).monitor(None).build().unwrap();
    let release = mt::Event::new();
    let r = release.clone();
    let held = rt.spawn(move || r.wait());
    // A greenlet (on another thread's hub) waiting for room is killed: it unwinds.
    let h = rt.handle().clone();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        grove::run(|| {
            let waiter = grove::spawn(move || h.spawn(|| ()).join().is_ok());
            grove::sleep(Duration::from_millis(10));
            waiter.kill().unwrap();
            tx.send(waiter.join().unwrap_err().is_killed()).unwrap();
        })
    });
    assert!(rx.recv_timeout(LIVENESS).unwrap());
    // A plain thread waiting for room gives up when the runtime shuts down.
    let h = rt.handle().clone();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || tx.send(h.spawn(|| ()).join().map_err(|e| e.is_killed())));
    assert!(rx.recv_timeout(Duration::from_millis(20)).is_err());
    rt.shutdown();
    assert_eq!(rx.recv_timeout(LIVENESS).unwrap(), Err(true));
    assert!(join_within(held).unwrap_err().is_killed());
}

#[test]
fn a_spawn_flood_from_plain_threads_stays_within_the_limit() {
    const LIMIT: usize = 256;
    let rt = Runtime::builder().hubs(4).max_greenlets(LIMIT).monitor(None).build().unwrap();
    let (alive, peak) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let floods: Vec<_> = (0..2)
        .map(|_| {
            let (h, alive, peak) = (rt.handle().clone(), alive.clone(), peak.clone());
            std::thread::spawn(move || {
                let hs: Vec<_> = (0..3000)
                    .map(|_| {
                        let (alive, peak) = (alive.clone(), peak.clone());
                        h.spawn(move || {
                            let n = alive.fetch_add(1, Ordering::SeqCst) + 1;
                            peak.fetch_max(n, Ordering::SeqCst);
                            grove::sleep(Duration::from_millis(1));
                            alive.fetch_sub(1, Ordering::SeqCst);
                        })
                    })
                    .collect();
                hs.into_iter().filter(|h| h.wait_timeout(LIVENESS).is_ok()).count()
            })
        })
        .collect();
    for f in floods {
        assert_eq!(f.join().unwrap(), 3000);
    }
    eventually("the flood drained", || rt.handle().in_flight() == 0);
    let peak = peak.load(Ordering::SeqCst);
    assert!(peak <= LIMIT, "{peak} greenlets alive at once, limit {LIMIT}");
    assert!(rt.handle().stats().iter().map(|s| s.spawned).sum::<u64>() >= 6000);
}

#[test]
fn the_default_limit_leaves_room_below_the_kernels() {
    let rt = Runtime::builder().hubs(1).monitor(None).build().unwrap();
    let lim = rt.handle().max_greenlets();
    let maps: usize = std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .map_or(65_530, |s| s.trim().parse().unwrap());
    // A stack takes two mappings with PROT_NONE guard pages, one with guard regions (6.13+).
    let per = grove::hub::maps_per_stack();
    assert!(
        lim >= 1 && lim < maps / per,
        "default max_greenlets {lim} with max_map_count {maps}, {per} mapping(s) per stack"
    );
}

fn set_rlimit_as(bytes: u64) {
    let lim = libc::rlimit { rlim_cur: bytes, rlim_max: libc::RLIM_INFINITY };
    // SAFETY: setrlimit reads a valid struct.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_AS, &lim) }, 0);
}

fn vm_size() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmSize:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 1024
}

/// Child: the kernel refuses stacks (a lowered RLIMIT_AS stands in for vm.max_map_count).
fn refused_stacks_child() {
    let rt = Runtime::builder().hubs(2).max_greenlets(1_000_000).monitor(None).build().unwrap();
    // Warm up every hub (threads, arenas) before the limit goes down.
    for i in 0..2 {
        rt.spawn_on(i, || ()).join().unwrap();
    }
    let release = mt::Event::new();
    set_rlimit_as(vm_size() + 48 * 1024 * 1024);
    let mut held = Vec::new();
    let err = 'outer: loop {
        for _ in 0..32 {
            let r = release.clone();
            held.push(rt.spawn(move || r.wait()));
        }
        // Wait until every job has either started its greenlet or failed.
        let t = Instant::now();
        while rt.handle().loads().iter().sum::<usize>() < held.len() {
            if let Some(i) = held.iter().position(SendJoinHandle::is_finished) {
                break 'outer held.swap_remove(i).join().unwrap_err();
            }
            assert!(t.elapsed() < LIVENESS, "jobs neither started nor failed");
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(held.len() < 100_000, "limit never reached");
    };
    println!("ALIVE {}", held.len());
    let msg = grove::JoinError::to_string(&err);
    println!("JOIN_ERROR {msg}");
    // The runtime still works once stacks are free again.
    release.set();
    let ok = held.into_iter().filter_map(|h| h.join().ok()).filter(Result::is_ok).count();
    println!("RELEASED {ok}");
    assert_eq!(rt.spawn(|| 3).join().unwrap(), 3);
    println!("RECOVERED");
}

#[test]
fn a_hub_refused_a_stack_completes_the_handle_with_an_error() {
    if util::child_scenario().as_deref() == Some("refused") {
        refused_stacks_child();
        return;
    }
    let out =
        util::run_child("a_hub_refused_a_stack_completes_the_handle_with_an_error", "refused");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed: {stdout}\n{stderr}");
    let line = stdout.lines().find(|l| l.starts_with("JOIN_ERROR ")).unwrap();
    assert!(line.contains("vm.max_map_count") && line.contains("RLIMIT_AS"), "{line}");
    assert!(stdout.contains("RECOVERED"));
}

/// Child: a flood under a lowered RLIMIT_AS with the default limit: backpressure keeps every
/// spawn within what the kernel grants, so none fails and nothing aborts.
fn flood_under_rlimit_child() {
    // One malloc arena: glibc's per-thread arenas reserve 64 MiB of address space each, which
    // is not what this test is about.
    // SAFETY: mallopt only changes an allocator tunable.
    unsafe { libc::mallopt(libc::M_ARENA_MAX, 1) };
    set_rlimit_as(vm_size() + 96 * 1024 * 1024);
    let rt = Runtime::builder().hubs(2).monitor(None).build().unwrap();
    println!("LIMIT {}", rt.handle().max_greenlets());
    let floods: Vec<_> = (0..2)
        .map(|_| {
            let h = rt.handle().clone();
            std::thread::spawn(move || {
                let hs: Vec<_> =
                    (0..3000).map(|_| h.spawn(|| grove::sleep(Duration::from_millis(1)))).collect();
                hs.into_iter().map(|h| h.join().map_err(|e| e.to_string())).collect::<Vec<_>>()
            })
        })
        .collect();
    for f in floods {
        for r in f.join().unwrap() {
            if let Err(e) = r {
                println!("FAILED {e}");
                return;
            }
        }
    }
    println!("ALL_OK");
}

#[test]
fn a_spawn_flood_under_a_low_address_space_limit_never_fails_nor_aborts() {
    if util::child_scenario().as_deref() == Some("flood") {
        flood_under_rlimit_child();
        return;
    }
    let name = "a_spawn_flood_under_a_low_address_space_limit_never_fails_nor_aborts";
    let out = util::run_child(name, "flood");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child died: {stdout}\n{stderr}");
    assert!(stdout.contains("ALL_OK"), "{stdout}\n{stderr}");
}

// ---- 20.10 ----

#[test]
fn remote_spawns_are_located_at_the_caller_and_hubs_have_one_numbering() {
    let rt = Runtime::builder().hubs(2).thread_name("numbered").monitor(None).build().unwrap();
    let ids = rt.handle().hub_ids();
    assert_eq!(ids.len(), 2);
    assert_ne!(ids[0], ids[1]);
    for (i, id) in ids.iter().enumerate() {
        let (gid, thread) = rt
            .spawn_on(i, || {
                (grove::getcurrent().id(), std::thread::current().name().map(String::from))
            })
            .join()
            .unwrap();
        assert_eq!(gid >> 40, *id, "greenlet ids carry the hub id");
        assert_eq!(thread.as_deref(), Some(format!("numbered-{i}").as_str()));
    }
    let _parked = rt.spawn_on(1, || {
        grove::getcurrent().set_name("parked");
        grove::sleep(Duration::from_secs(3600));
    });
    let t = Instant::now();
    let (hub, g) = loop {
        let info = rt.handle().run_info();
        if let Some(f) = info.into_iter().find(|(_, g)| g.name.as_deref() == Some("parked")) {
            break f;
        }
        assert!(t.elapsed() < LIVENESS, "the parked greenlet never showed in run_info");
        std::thread::sleep(Duration::from_millis(1));
    };
    assert_eq!(hub, 1, "run_info uses the runtime's hub index");
    assert_eq!(g.id >> 40, ids[1]);
    assert!(g.location.contains("rt_runtime_faults.rs"), "spawned at {}", g.location);
}

#[test]
fn a_join_whose_timeout_scope_expires_never_reports_the_greenlet_ended() {
    let rt = Runtime::builder().hubs(1).monitor(None).build().unwrap();
    let release = mt::Event::new();
    let r = release.clone();
    let h = rt.spawn(move || r.wait());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let out = grove::run(|| grove::timeout(Duration::from_millis(10), move || h.join()));
        let _ = tx.send(match out {
            Ok(Ok(_)) => "ok",
            Ok(Err(e)) if e.is_killed() => "killed",
            _ => "fine",
        });
    });
    assert_eq!(rx.recv_timeout(LIVENESS).unwrap(), "fine");
    release.set();
}

#[test]
#[should_panic(expected = "no such hub")]
fn spawn_on_a_bad_index_panics_with_a_clear_message() {
    let rt = Runtime::builder().hubs(1).monitor(None).build().unwrap();
    rt.spawn_on(3, || ());
}

#[test]
fn a_greenlet_abandoned_at_shutdown_completes_its_handle() {
    // In a child process: the abandoned greenlet's record and stack are leaked by design
    // (shutdown gives up on it), which LeakSanitizer must not count under ci/asan.sh.
    if util::child_scenario().as_deref() != Some("abandoned") {
        let exe = std::env::current_exe().unwrap();
        let asan = std::env::var("ASAN_OPTIONS").unwrap_or_default();
        let out = std::process::Command::new(exe)
            .args(["a_greenlet_abandoned_at_shutdown_completes_its_handle", "--exact"])
            .env(util::CHILD_ENV, "abandoned")
            .env("ASAN_OPTIONS", format!("{asan}:detect_leaks=0"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
        return;
    }
    let rt = Runtime::builder().hubs(1).monitor(None).build().unwrap();
    let started = Arc::new(AtomicUsize::new(0));
    let s = started.clone();
    // Refuses to die: catches every kill and blocks again, so shutdown abandons it.
    let stubborn = rt.spawn(move || {
        s.fetch_add(1, Ordering::SeqCst);
        loop {
            let _ = std::panic::catch_unwind(|| grove::sleep(Duration::from_secs(3600)));
        }
    });
    eventually("the stubborn greenlet started", || started.load(Ordering::SeqCst) == 1);
    rt.shutdown();
    assert!(join_within(stubborn).unwrap_err().is_killed());
}

/// Issue 13.5: a greenlet on another hub is killed from its `SendJoinHandle` (destructors run
/// on its hub); a spawn still queued never starts.
#[test]
fn a_greenlet_on_another_hub_is_killed_from_its_handle() {
    use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
    use std::sync::Arc;
    struct Flag(Arc<AtomicBool>);
    impl Drop for Flag {
        fn drop(&mut self) {
            self.0.store(true, SeqCst);
        }
    }
    let rt = grove::Runtime::builder().hubs(2).build().unwrap();
    let dropped = Arc::new(AtomicBool::new(false));
    let d = dropped.clone();
    let (up_tx, up_rx) = std::sync::mpsc::channel();
    let h = rt.spawn_on(1, move || {
        let _f = Flag(d);
        up_tx.send(()).unwrap();
        grove::sleep(std::time::Duration::from_secs(3600));
    });
    up_rx.recv().unwrap(); // it runs: the kill reaches a live greenlet on hub 1
                           // Killed whether it started yet or not: either way it dies (or never runs).
    assert_eq!(h.kill(), Ok(()));
    assert!(dropped.load(SeqCst), "its destructors ran on its hub");
    assert!(matches!(h.join(), Err(grove::JoinError::Killed)));
    // Killed before it could start: it never runs. The blocker holds hub 0's thread (a plain
    // blocking recv, on purpose) until the kill was asked for, so the spawn is still queued.
    let ran = Arc::new(AtomicBool::new(false));
    let r = ran.clone();
    let (started_tx, started_rx) = std::sync::mpsc::channel();
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let blocker = rt.spawn_on(0, move || {
        started_tx.send(()).unwrap();
        let _ = go_rx.recv();
    });
    started_rx.recv().unwrap();
    let h = rt.spawn_on(0, move || r.store(true, SeqCst));
    h.kill_nowait();
    go_tx.send(()).unwrap();
    assert!(matches!(h.join(), Err(grove::JoinError::Killed)));
    assert!(!ran.load(SeqCst));
    blocker.join().unwrap();
}
