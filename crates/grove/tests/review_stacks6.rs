//! Review of slab-carved stacks with guard regions (round 6).

mod util;

use std::time::Duration;

/// Whether the mapping holding `addr` has a `PROT_NONE` mapping right below it.
fn prot_none_below(addr: usize) -> bool {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    let vmas: Vec<(usize, usize, String)> = maps
        .lines()
        .map(|l| {
            let mut w = l.split_whitespace();
            let (lo, hi) = w.next().unwrap().split_once('-').unwrap();
            let lo = usize::from_str_radix(lo, 16).unwrap();
            let hi = usize::from_str_radix(hi, 16).unwrap();
            (lo, hi, w.next().unwrap().to_string())
        })
        .collect();
    let (lo, _, _) = vmas.iter().find(|(lo, hi, _)| (*lo..*hi).contains(&addr)).unwrap();
    vmas.iter().any(|(_, hi, perms)| hi == lo && perms.starts_with("---"))
}

/// `force_mprotect_guards` promises a `PROT_NONE` guard page for every stack mapped from then
/// on, including one carved from a slab whose guard regions were installed before.
#[test]
fn forcing_mprotect_guards_applies_to_the_rest_of_a_guarded_slab() {
    if util::child_scenario().as_deref() == Some("force") {
        grove::run(|| {
            // The first default-size stack: a slab with guard regions.
            let first = grove::spawn(|| grove::sleep(Duration::from_secs(60)));
            grove::hub::force_mprotect_guards();
            let h = grove::spawn(|| {
                let marker = 0u8;
                prot_none_below(std::hint::black_box(&marker) as *const u8 as usize)
            });
            println!("PROT_NONE_BELOW {}", h.join().unwrap());
            first.kill_nowait();
        });
        return;
    }
    let out =
        util::run_child("forcing_mprotect_guards_applies_to_the_rest_of_a_guarded_slab", "force");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("PROT_NONE_BELOW true"), "{stdout}");
}

fn vm_size_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    let l = s.lines().find(|l| l.starts_with("VmSize:")).unwrap();
    l.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// A hub thread that exits gives back its slab's untouched tail and every stack (pooled or
/// not), whatever order its thread-locals are destroyed in: threads coming and going leak
/// no address space.
#[test]
fn hub_threads_coming_and_going_leak_no_stacks() {
    let round = || {
        std::thread::spawn(|| {
            grove::run(|| {
                let hs: Vec<_> = (0..100)
                    .map(|i| grove::spawn(move || grove::sleep(Duration::from_millis(i % 3))))
                    .collect();
                for h in hs {
                    h.join().unwrap();
                }
                // A different size too: a mapping of its own.
                grove::Builder::new().stack_size(200 * 1024).spawn(|| 1).join().unwrap();
            });
        })
        .join()
        .unwrap();
    };
    for _ in 0..3 {
        round(); // warm up: thread stacks, allocator arenas
    }
    let before = vm_size_kib();
    for _ in 0..30 {
        round();
    }
    let after = vm_size_kib();
    assert!(after <= before + 4096, "VmSize grew from {before} KiB to {after} KiB");
}
