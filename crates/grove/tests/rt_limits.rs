//! System limits: refusing stacks past an address-space limit, reporting stack overflow.
//! Both run in a child process so the lowered limit and the abort stay out of the harness.

mod util;

use std::time::Duration;

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

#[test]
fn spawning_past_a_lowered_limit_gives_a_clear_error() {
    if util::child_scenario().as_deref() == Some("limit") {
        grove::run(|| {
            let mut handles = Vec::with_capacity(100_000);
            // Warm up everything the loop will need before the limit goes down.
            handles.push(grove::spawn(|| grove::sleep(Duration::from_secs(3600))));
            set_rlimit_as(vm_size() + 48 * 1024 * 1024);
            let err = loop {
                match grove::try_spawn(|| grove::sleep(Duration::from_secs(3600))) {
                    Ok(h) => handles.push(h),
                    Err(e) => break e,
                }
                assert!(handles.len() < 100_000, "limit never reached");
            };
            println!("ALIVE {}", handles.len());
            println!("TRY_SPAWN_ERROR {err}");
            // `spawn` panics with the same message.
            let p = std::panic::catch_unwind(|| grove::spawn(|| ())).unwrap_err();
            let msg = p.downcast_ref::<String>().cloned().unwrap_or_default();
            println!("SPAWN_PANIC {msg}");
            // The hub still works: free some stacks and spawn again.
            for h in handles.drain(..10) {
                h.kill().unwrap();
            }
            grove::spawn(|| 1).join().unwrap();
            println!("RECOVERED");
        });
        return;
    }
    let out = util::run_child("spawning_past_a_lowered_limit_gives_a_clear_error", "limit");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let alive: usize = stdout
        .lines()
        .find_map(|l| l.split_once("ALIVE ").map(|(_, n)| n))
        .expect("child reached the limit")
        .parse()
        .unwrap();
    assert!(alive > 10, "only {alive} greenlets before the limit");
    for prefix in ["TRY_SPAWN_ERROR ", "SPAWN_PANIC "] {
        let line = stdout.lines().find(|l| l.contains(prefix)).unwrap();
        assert!(line.contains("vm.max_map_count"), "{line}");
        assert!(line.contains("RLIMIT_AS"), "{line}");
    }
    assert!(stdout.contains("RECOVERED"));
}

#[inline(never)]
fn recurse(n: u64) -> u64 {
    let buf = std::hint::black_box([n as u8; 512]);
    if n == 0 {
        return buf[0] as u64;
    }
    recurse(n - 1) + std::hint::black_box(buf[7]) as u64
}

/// Child side: a greenlet named `name` (with `stack_size`, else the default) recurses until
/// its stack overflows, next to a few sleeping neighbours; the overflow aborts the process.
fn overflow_in_child(name: &str, stack_size: Option<usize>) -> ! {
    let name = name.to_string();
    grove::run(move || {
        let neighbours: Vec<_> =
            (0..5).map(|_| grove::spawn(|| grove::sleep(Duration::from_secs(60)))).collect();
        let mut b = grove::Builder::new().name(name);
        if let Some(size) = stack_size {
            b = b.stack_size(size);
        }
        let _ = b.spawn(|| recurse(1_000_000)).join();
        drop(neighbours);
    });
    unreachable!("the overflow aborts the process");
}

/// Parent side: the child aborted with the report naming greenlet `name`; its stderr.
fn assert_overflow_report(test: &str, scenario: &str, name: &str) -> String {
    let out = util::run_child(test, scenario);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(out.status.signal(), Some(libc::SIGABRT), "{stderr}");
    assert!(stderr.contains(&format!("stack overflow in greenlet '{name}'")), "{stderr}");
    stderr
}

#[test]
fn stack_overflow_names_the_greenlet_and_its_stack_size() {
    if util::child_scenario().as_deref() == Some("overflow") {
        overflow_in_child("deep-recursion", Some(64 * 1024));
    }
    let stderr = assert_overflow_report(
        "stack_overflow_names_the_greenlet_and_its_stack_size",
        "overflow",
        "deep-recursion",
    );
    assert!(stderr.contains("65536 bytes"), "{stderr}");
}

/// The same report for a default-size stack, carved from a slab whose guard regions were
/// installed all at once (`process_madvise`), several stacks into the slab.
#[test]
fn stack_overflow_is_reported_on_a_slab_stack() {
    if util::child_scenario().as_deref() == Some("overflow-slab") {
        overflow_in_child("slab-recursion", None);
    }
    assert_overflow_report(
        "stack_overflow_is_reported_on_a_slab_stack",
        "overflow-slab",
        "slab-recursion",
    );
}

/// The same report with `PROT_NONE` guard pages, the fallback on kernels without guard
/// regions (before Linux 6.13).
#[test]
fn stack_overflow_is_reported_with_mprotect_guards_too() {
    if util::child_scenario().as_deref() == Some("overflow-mprotect") {
        grove::hub::force_mprotect_guards();
        overflow_in_child("deep-recursion", Some(64 * 1024));
    }
    assert_overflow_report(
        "stack_overflow_is_reported_with_mprotect_guards_too",
        "overflow-mprotect",
        "deep-recursion",
    );
}

/// With guard regions a stack is one mapping and neighbours merge, so more greenlets than
/// `vm.max_map_count / 2` (the old two-mappings-per-stack ceiling) live at once, in a handful
/// of mappings. Skipped on kernels without guard regions.
#[test]
fn more_greenlets_than_half_the_map_count_live_at_once() {
    if util::child_scenario().as_deref() == Some("many") {
        let maps = std::fs::read_to_string("/proc/sys/vm/max_map_count").unwrap();
        let maps: usize = maps.trim().parse().unwrap();
        if grove::hub::maps_per_stack() != 1 {
            println!("SKIPPED no guard regions on this kernel");
            return;
        }
        let want = maps / 2 + 2_000;
        grove::run(move || {
            let hs: Vec<_> = (0..want)
                .map(|_| grove::spawn(|| grove::sleep(Duration::from_secs(3600))))
                .collect();
            grove::sleep(Duration::from_millis(1)); // every one is parked now
            let vmas = std::fs::read_to_string("/proc/self/maps").unwrap().lines().count();
            println!("ALIVE {} VMAS {vmas} MAX {maps}", grove::stats().alive);
            for h in &hs {
                h.kill_nowait();
            }
        });
        return;
    }
    let out = util::run_child("more_greenlets_than_half_the_map_count_live_at_once", "many");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    if stdout.contains("SKIPPED") {
        return;
    }
    let line = stdout
        .lines()
        .find(|l| l.contains("ALIVE "))
        .unwrap_or_else(|| panic!("no count: {stdout}"));
    let n: Vec<usize> = line.split(' ').filter_map(|w| w.parse().ok()).collect();
    let (alive, vmas, max) = (n[0], n[1], n[2]);
    assert!(alive > max / 2, "{line}");
    assert!(vmas < max / 4, "stacks should share mappings: {line}");
}

#[test]
fn a_deep_but_fitting_recursion_runs_with_a_bigger_stack() {
    grove::run(|| {
        let h = grove::Builder::new().stack_size(4 * 1024 * 1024).spawn(|| recurse(2_000));
        assert!(h.join().is_ok());
    });
}

/// `release_unused_stack` gives back only what lies below the caller: every frame above it
/// keeps its data (checked on the way back up), and running deep again afterwards works (the
/// pages come back zeroed).
#[test]
fn releasing_unused_stack_keeps_the_frames_above() {
    #[inline(never)]
    fn down(depth: u32, release_at: u32) -> u64 {
        let mut frame = [0u8; 2048];
        for (i, b) in frame.iter_mut().enumerate() {
            *b = (i as u32 ^ depth) as u8;
        }
        let below = if depth == 0 {
            0
        } else {
            if depth == release_at {
                grove::hub::release_unused_stack();
            }
            down(depth - 1, release_at)
        };
        if depth == release_at {
            grove::hub::release_unused_stack(); // again, with the deeper frames gone
        }
        let mine: u64 = std::hint::black_box(&frame).iter().map(|&b| u64::from(b)).sum();
        below + mine
    }
    let expected = down(40, u32::MAX); // on the thread's own stack: a no-op path
    grove::run(move || {
        let h = grove::Builder::new().stack_size(1 << 20).spawn(move || {
            let a = down(40, 0); // released at the bottom
            let b = down(40, 20); // released half-way, then deeper again
            let c = down(40, 40); // released at the top
            (a, b, c)
        });
        assert_eq!(h.join().unwrap(), (expected, expected, expected));
    });
}
