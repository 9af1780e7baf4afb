//! Resident memory per idle greenlet: spawn N greenlets that block in `sleep`, then compare RSS.
//! `cargo run --release -p grove --example idle_memory -- 30000`
//! On Linux 6.13+ stacks use guard regions and share mappings, so 100k and more run at the
//! default vm.max_map_count; on older kernels each stack is two mappings: past ~32k greenlets
//! raise vm.max_map_count first (without it the spawn fails with an error that says so).
fn rss_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    let l = s.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    l.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(30_000);
    grove::run(|| {
        let mut handles = Vec::with_capacity(n);
        // Warm up allocator and hub structures first.
        grove::spawn(|| ()).join().unwrap();
        let before = rss_kib();
        for i in 0..n {
            match grove::try_spawn(|| grove::sleep(std::time::Duration::from_secs(3600))) {
                Ok(h) => handles.push(h),
                Err(e) => {
                    eprintln!("stopped after {i} greenlets: {e}");
                    break;
                }
            }
        }
        grove::sleep(std::time::Duration::from_millis(200)); // every greenlet runs and parks
        let after = rss_kib();
        let alive = handles.len();
        println!(
            "{alive} idle greenlets: RSS +{} KiB, {:.2} KiB per greenlet",
            after - before,
            (after - before) as f64 / alive as f64
        );
    });
}
