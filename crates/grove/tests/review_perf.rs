//! Adversarial review of the stack pool's high-water mark (ctx/pool.rs), the reactor split
//! (hub/reactor.rs) and `grove::hub::release_unused_stack` (ctx/stack.rs
//! `release_below_current`).

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use grove::greenlet::Greenlet;
use grove::{Generator, GeneratorState};

/// A recursion whose every frame holds 1 KiB of data derived from its depth; `at` decides at
/// which depth (on the way down, before recursing) `release_unused_stack` runs, and `hook`
/// runs at the bottom (switches, sleeps, more releases). Every frame checks its data on the
/// way back up and returns a checksum.
#[inline(never)]
fn deep(depth: u32, at: u32, hook: &dyn Fn()) -> u64 {
    let mut frame = [0u8; 1024];
    for (i, b) in frame.iter_mut().enumerate() {
        *b = (i as u32).wrapping_mul(31).wrapping_add(depth) as u8;
    }
    let frame = std::hint::black_box(frame);
    if depth == at {
        grove::hub::release_unused_stack();
    }
    let below = if depth == 0 {
        hook();
        0
    } else {
        deep(depth - 1, at, hook)
    };
    if depth == at {
        grove::hub::release_unused_stack(); // again, after the deeper frames are gone
    }
    let frame = std::hint::black_box(frame);
    for (i, b) in frame.iter().enumerate() {
        assert_eq!(*b, (i as u32).wrapping_mul(31).wrapping_add(depth) as u8, "frame {depth}");
    }
    below + frame.iter().map(|&b| u64::from(b)).sum::<u64>()
}

/// Spawns on a 1 MiB stack (debug builds use several KiB per `deep` frame).
fn big<T: 'static>(f: impl FnOnce() -> T + 'static) -> grove::JoinHandle<T> {
    grove::Builder::new().stack_size(1 << 20).spawn(f)
}

fn expected(depth: u32) -> u64 {
    deep(depth, u32::MAX, &|| ())
}

/// Attack: release from the bottom of a deep recursion, then park (sleep) so other greenlets
/// run deep on their own stacks meanwhile, then return all the way up checking every frame;
/// repeated so the released pages are faulted back (zeroed) and used again.
#[test]
fn release_deep_then_park_then_unwind_keeps_every_frame() {
    let want = expected(60);
    grove::run(move || {
        let hs: Vec<_> = (0..8)
            .map(|k| {
                grove::Builder::new().stack_size(512 * 1024).spawn(move || {
                    let mut sums = Vec::new();
                    for round in 0..5u32 {
                        let at = (k * 7 + round * 13) % 61;
                        sums.push(deep(60, at, &|| {
                            grove::hub::release_unused_stack();
                            grove::sleep(Duration::from_millis(1));
                            grove::hub::release_unused_stack();
                        }));
                    }
                    sums
                })
            })
            .collect();
        for h in hs {
            assert!(h.join().unwrap().iter().all(|&s| s == want));
        }
    });
}

/// Attack: release from a destructor while a panic unwinds through deep frames; the frames
/// above the catch must be intact and the panic payload must survive.
#[test]
fn release_inside_a_destructor_during_unwinding() {
    struct ReleaseOnDrop(Rc<Cell<u32>>);
    impl Drop for ReleaseOnDrop {
        fn drop(&mut self) {
            grove::hub::release_unused_stack();
            // Use some stack below the releasing frame right away.
            let _ = std::hint::black_box(deep(8, 3, &|| ()));
            self.0.set(self.0.get() + 1);
        }
    }
    #[inline(never)]
    fn down(n: u32, drops: &Rc<Cell<u32>>) -> u64 {
        let _g = ReleaseOnDrop(drops.clone());
        let pad = std::hint::black_box([n as u8; 700]);
        if n == 0 {
            panic!("boom at the bottom");
        }
        down(n - 1, drops) + u64::from(pad[0])
    }
    let want = expected(30);
    grove::run(move || {
        let h = big(move || {
            let drops = Rc::new(Cell::new(0));
            let outer = std::hint::black_box([0xA5u8; 4096]);
            let r = deep(30, u32::MAX, &|| {
                let d = drops.clone();
                let e = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| down(40, &d)));
                let msg = *e.unwrap_err().downcast::<&str>().unwrap();
                assert_eq!(msg, "boom at the bottom");
            });
            assert!(outer.iter().all(|&b| b == 0xA5));
            (r, drops.get())
        });
        assert_eq!(h.join().unwrap(), (want, 41));
    });
}

/// Attack: a greenlet killed while parked deep (GreenletExit unwinds it) releases its stack
/// from a destructor on the way out; the kill completes and the hub stays healthy.
#[test]
fn release_while_a_kill_unwinds() {
    struct ReleaseOnDrop;
    impl Drop for ReleaseOnDrop {
        fn drop(&mut self) {
            grove::hub::release_unused_stack();
        }
    }
    grove::run(|| {
        let hs: Vec<_> = (0..20)
            .map(|_| {
                big(|| {
                    deep(40, 20, &|| {
                        let _g = ReleaseOnDrop;
                        grove::sleep(Duration::from_secs(3600));
                    })
                })
            })
            .collect();
        grove::sleep(Duration::from_millis(5));
        for h in &hs {
            h.kill().unwrap();
        }
        for h in hs {
            assert!(h.join().unwrap_err().is_killed());
        }
        assert_eq!(big(|| expected(40)).join().unwrap(), expected(40));
    });
}

/// Attack: release inside a generator body (a raw greenlet) at every yield, the resumer
/// itself deep on another greenlet's stack, and on the main greenlet / thread stack.
#[test]
fn release_inside_a_generator_and_from_its_resumer() {
    let want = expected(20);
    let small = expected(10);
    // Outside any grove::run: the generator makes its own hub.
    let mut g = Generator::new(move |co, ()| {
        for _ in 0..5 {
            let s = deep(10, 5, &|| {
                co.yield_(1u64);
            });
            assert_eq!(s, small);
        }
        0u64
    });
    let mut n = 0;
    loop {
        // Resumed from the thread's own stack, deep.
        let s = deep(20, 5, &|| grove::hub::release_unused_stack());
        assert_eq!(s, want);
        match g.resume(()) {
            GeneratorState::Yielded(v) => n += v,
            GeneratorState::Complete(_) => break,
        }
    }
    assert_eq!(n, 5);
    grove::run(move || {
        let h = big(move || {
            let g = RefCell::new(Generator::new(move |co, ()| {
                deep(10, 0, &|| {
                    co.yield_(());
                    grove::hub::release_unused_stack();
                    co.yield_(());
                })
            }));
            // The resumer resumes from different depths of its own stack.
            let out = Cell::new(None);
            let s = deep(20, 20, &|| {
                let _ = g.borrow_mut().resume(());
            });
            assert_eq!(s, want);
            let _ = g.borrow_mut().resume(());
            let s = deep(20, 0, &|| {
                if let GeneratorState::Complete(v) = g.borrow_mut().resume(()) {
                    out.set(Some(v));
                }
            });
            assert_eq!(s, want);
            out.get()
        });
        assert_eq!(h.join().unwrap(), Some(expected(10)));
    });
}

/// Attack: raw greenlets switching back and forth, each releasing below its own depth while
/// the other's frames are live on a different stack.
#[test]
fn release_across_raw_greenlet_switches() {
    let want = expected(10);
    grove::run(move || {
        let h = big(move || {
            let main: Rc<RefCell<Option<Greenlet>>> = Rc::default();
            let m = main.clone();
            let child = Greenlet::new(move |_| {
                let back = m.borrow().clone().unwrap();
                let s = deep(10, 12, &|| {
                    back.switch(());
                    grove::hub::release_unused_stack();
                    back.switch(());
                });
                Box::new(s)
            });
            *main.borrow_mut() = Some(grove::getcurrent());
            let s1 = deep(10, 3, &|| {
                child.switch(());
                grove::hub::release_unused_stack();
            });
            let s2 = deep(10, 25, &|| {
                child.switch(());
            });
            let v = child.switch(());
            (s1, s2, *v.downcast::<u64>().unwrap())
        });
        assert_eq!(h.join().unwrap(), (want, want, expected(10)));
    });
}

/// Attack: called from the main greenlet (thread stack), from a hub callback and a timer
/// callback, and from a plain thread with no hub: all must be harmless no-ops.
#[test]
fn release_from_main_callbacks_and_plain_threads() {
    let want = expected(30);
    assert_eq!(deep(30, 0, &|| grove::hub::release_unused_stack()), want);
    std::thread::spawn(move || {
        assert_eq!(deep(30, 10, &|| grove::hub::release_unused_stack()), want);
    })
    .join()
    .unwrap();
    grove::run(move || {
        assert_eq!(deep(30, 0, &|| grove::hub::release_unused_stack()), want);
        let hits = Rc::new(Cell::new(0));
        let h1 = hits.clone();
        grove::add_callback(move || {
            assert_eq!(deep(30, 0, &|| grove::hub::release_unused_stack()), want);
            h1.set(h1.get() + 1);
        });
        let h2 = hits.clone();
        let _t = grove::call_later(Duration::from_millis(1), move || {
            assert_eq!(deep(30, 15, &|| grove::hub::release_unused_stack()), want);
            h2.set(h2.get() + 1);
        });
        // A greenlet deep in its own stack while the callbacks run.
        let g = big(move || deep(30, 0, &|| grove::sleep(Duration::from_millis(20))));
        grove::sleep(Duration::from_millis(10));
        assert_eq!(hits.get(), 2);
        assert_eq!(g.join().unwrap(), want);
        // From inside a thread-pool job (a plain thread).
        let r = grove::thread_pool::spawn_blocking(move || {
            deep(30, 0, &|| grove::hub::release_unused_stack())
        })
        .unwrap();
        assert_eq!(r, want);
    });
}

/// Attack: custom stack sizes, from the smallest the builder accepts to 8 MiB, releasing
/// near the very bottom of the stack (just above the guard page) and near the top.
#[test]
fn release_with_custom_stack_sizes() {
    grove::run(|| {
        for size in [16 * 1024, 64 * 1024, 100_000, 1 << 20, 8 << 20] {
            // Recurse as deep as fits comfortably (~1.3 KiB a frame incl. overhead).
            let depth = ((size / 8000) as u32).saturating_sub(4).max(1);
            let h = grove::Builder::new().stack_size(size).spawn(move || {
                let want = expected(depth);
                let a = deep(depth, 0, &|| ());
                let b = deep(depth, depth, &|| ());
                let c = deep(depth, depth / 2, &|| grove::sleep(Duration::from_millis(1)));
                // Nothing deep at all: the releasing frame is near the top.
                grove::hub::release_unused_stack();
                (a == want, b == want, c == want)
            });
            assert_eq!(h.join().unwrap(), (true, true, true), "stack size {size}");
        }
    });
}

/// Attack: signals delivered on the greenlet's own stack (a handler without SA_ONSTACK that
/// writes 4 KiB of locals just below the interrupted frame) while the greenlet releases and
/// re-touches its pages in a loop.
#[test]
fn release_with_signals_arriving_on_the_greenlet_stack() {
    static HANDLED: AtomicUsize = AtomicUsize::new(0);
    extern "C" fn on_sig(_: libc::c_int) {
        let mut scratch = [0u8; 4096];
        for (i, b) in scratch.iter_mut().enumerate() {
            *b = i as u8;
        }
        std::hint::black_box(&scratch);
        HANDLED.fetch_add(1, Ordering::Relaxed);
    }
    let sig = libc::SIGRTMIN() + 3;
    // SAFETY: installs a handler for a real-time signal nothing else in this test binary uses;
    // the handler only touches its own stack and an atomic.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_sig as *const () as usize;
        sa.sa_flags = libc::SA_RESTART; // no SA_ONSTACK: runs on whatever stack is current
        libc::sigemptyset(&mut sa.sa_mask);
        assert_eq!(libc::sigaction(sig, &sa, std::ptr::null_mut()), 0);
    }
    // SAFETY: pthread_self has no preconditions.
    let me = unsafe { libc::pthread_self() } as usize;
    let stop = Arc::new(AtomicBool::new(false));
    let s2 = stop.clone();
    let killer = std::thread::spawn(move || {
        while !s2.load(Ordering::Relaxed) {
            // SAFETY: `me` is the test thread, alive until `stop` is set and this thread joined.
            unsafe { libc::pthread_kill(me as libc::pthread_t, sig) };
            std::thread::sleep(Duration::from_micros(50));
        }
    });
    let want = expected(50);
    grove::run(move || {
        let h = grove::Builder::new().stack_size(512 * 1024).spawn(move || {
            let t0 = Instant::now();
            let mut rounds = 0;
            while rounds < 300 && t0.elapsed() < Duration::from_secs(20) {
                let at = (rounds * 17) % 51;
                assert_eq!(deep(50, at, &|| grove::hub::release_unused_stack()), want);
                rounds += 1;
                if rounds % 50 == 0 {
                    grove::yield_now();
                }
            }
            rounds
        });
        assert!(h.join().unwrap() > 0);
    });
    stop.store(true, Ordering::Relaxed);
    killer.join().unwrap();
    assert!(HANDLED.load(Ordering::Relaxed) > 0);
}

/// Attack: many greenlets alternately run deep, release, and park, interleaved; each checks
/// its own data (a release must never reach into another greenlet's stack).
#[test]
fn many_greenlets_releasing_interleaved() {
    let want = expected(30);
    grove::run(move || {
        let hs: Vec<_> = (0..200u32)
            .map(|k| {
                big(move || {
                    let mut ok = 0;
                    for r in 0..4u32 {
                        let s = deep(30, (k + r * 11) % 31, &|| {
                            grove::yield_now();
                            grove::hub::release_unused_stack();
                            grove::yield_now();
                        });
                        ok += u32::from(s == want);
                    }
                    ok
                })
            })
            .collect();
        for h in hs {
            assert_eq!(h.join().unwrap(), 4);
        }
    });
}

// ---------------------------------------------------------------------------------------------
// The stack pool
// ---------------------------------------------------------------------------------------------

/// Attack: greenlets spawned with a custom size, then `set_stack_size` changes the hub's size
/// to that size while they run. Their stacks were never counted by the pool, but they come
/// back with the pool's size and are pooled: pooled > allocated, and the next spawn computes
/// `allocated - free.len()` (ctx/pool.rs get): an overflow panic in debug builds, a huge
/// "high-water mark" in release.
#[test]
fn custom_size_stacks_adopted_after_set_stack_size_keep_accounting_sane() {
    grove::run(|| {
        let s0 = grove::hub::stack_size();
        let s1 = s0 * 2;
        let hs: Vec<_> = (0..4)
            .map(|_| {
                grove::Builder::new()
                    .stack_size(s1)
                    .spawn(|| grove::sleep(Duration::from_millis(5)))
            })
            .collect();
        grove::hub::set_stack_size(s1);
        for h in hs {
            h.join().unwrap();
        }
        let st = grove::stats();
        // Spawning twice pops pooled stacks past the count.
        let r = std::panic::catch_unwind(|| {
            let a = grove::spawn(|| 1);
            let b = grove::spawn(|| 2);
            a.join().unwrap() + b.join().unwrap()
        });
        assert!(
            st.stacks_pooled <= st.stacks_allocated && r.is_ok(),
            "pooled {} > allocated {}; spawning afterwards: {:?}",
            st.stacks_pooled,
            st.stacks_allocated,
            r.map_err(|p| p.downcast::<String>().map(|s| *s).unwrap_or_default())
        );
    });
}

/// Attack: default-size greenlets alive across `set_stack_size`: when they finish, their
/// (old-size) stacks are unmapped but stay counted in `stacks_allocated` forever, which
/// also inflates the high-water mark (in use = allocated - pooled) the pool keeps stacks for.
#[test]
fn set_stack_size_with_stacks_in_use_keeps_stats_consistent() {
    grove::run(|| {
        let hs: Vec<_> =
            (0..50).map(|_| grove::spawn(|| grove::sleep(Duration::from_millis(5)))).collect();
        let old = grove::hub::stack_size();
        grove::hub::set_stack_size(old * 2);
        for h in hs {
            h.join().unwrap();
        }
        // One spawn + join of the new size.
        grove::spawn(|| ()).join().unwrap();
        let st = grove::stats();
        assert_eq!(st.alive, 0);
        // Nothing is in use: every stack the pool counts should be pooled.
        assert_eq!(
            st.stacks_allocated, st.stacks_pooled,
            "stacks counted as mapped but neither pooled nor in use: {st:?}"
        );
    });
}

/// Attack: the documented `set_stack_pool_max(0)` ("turns stack reuse off") after a burst:
/// the next spawn must not reuse a pooled stack, and the pool must not keep any.
#[test]
fn stack_pool_max_zero_turns_reuse_off() {
    grove::run(|| {
        let hs: Vec<_> = (0..20).map(|_| grove::spawn(grove::yield_now)).collect();
        for h in hs {
            h.join().unwrap();
        }
        assert!(grove::stats().stacks_pooled >= 20);
        grove::hub::set_stack_pool_max(0);
        grove::sleep(Duration::from_millis(20)); // the hub goes idle: a trim
        grove::spawn(|| ()).join().unwrap();
        let st = grove::stats();
        grove::hub::set_stack_pool_max(16_384);
        assert_eq!(st.stacks_pooled, 0, "pool max 0 still keeps stacks: {st:?}");
    });
}

/// Attack: a huge burst past the cap, then idle. The stacks above the cap stay for about two
/// windows (the documented 10-20 s), then are unmapped; stats stay consistent throughout.
/// Liveness-only bound: 60 s.
#[test]
fn burst_past_the_cap_is_unmapped_after_two_idle_windows() {
    grove::run(|| {
        grove::hub::set_stack_pool_max(10);
        let hs: Vec<_> = (0..3000).map(|_| grove::spawn(grove::yield_now)).collect();
        for h in hs {
            h.join().unwrap();
        }
        let st = grove::stats();
        assert!(st.stacks_pooled <= st.stacks_allocated);
        assert!(st.stacks_allocated >= 3000, "{st:?}");
        // Another round of the same size maps nothing new.
        let hs: Vec<_> = (0..3000).map(|_| grove::spawn(grove::yield_now)).collect();
        for h in hs {
            h.join().unwrap();
        }
        assert_eq!(grove::stats().stacks_allocated, st.stacks_allocated);
        let t0 = Instant::now();
        loop {
            grove::sleep(Duration::from_millis(200)); // idle: trims run
            let s = grove::stats();
            assert!(s.stacks_pooled <= s.stacks_allocated);
            if s.stacks_pooled <= 10 && s.stacks_allocated <= 10 {
                break;
            }
            assert!(t0.elapsed() < Duration::from_secs(60), "burst never unmapped: {s:?}");
        }
        grove::hub::set_stack_pool_max(16_384);
    });
}

/// Attack: churn with a mix of default, custom and changing stack sizes while sampling the
/// stats from a monitoring greenlet: pooled never exceeds allocated, and nothing panics.
#[test]
fn stats_stay_consistent_under_mixed_size_churn() {
    grove::run(|| {
        let base = grove::hub::stack_size();
        let bad = Rc::new(Cell::new(None::<grove::HubStats>));
        let b2 = bad.clone();
        let stop = Rc::new(Cell::new(false));
        let s2 = stop.clone();
        let mon = grove::spawn(move || {
            while !s2.get() {
                let s = grove::stats();
                if s.stacks_pooled > s.stacks_allocated {
                    b2.set(Some(s));
                }
                grove::sleep(Duration::from_millis(1));
            }
        });
        for round in 0..6usize {
            let sizes = [base, base * 2, 128 * 1024];
            let hs: Vec<_> = (0..60)
                .map(|i| {
                    grove::Builder::new()
                        .stack_size(sizes[(i + round) % 3])
                        .spawn(move || grove::sleep(Duration::from_millis((i % 3) as u64)))
                })
                .collect();
            grove::hub::set_stack_size(sizes[round % 3]);
            for h in hs {
                h.join().unwrap();
            }
        }
        grove::hub::set_stack_size(base);
        stop.set(true);
        mon.join().unwrap();
        assert_eq!(bad.get(), None, "pooled > allocated seen");
    });
}

// ---------------------------------------------------------------------------------------------
// The reactor
// ---------------------------------------------------------------------------------------------

/// Attack: several greenlets wait on the same foreign fd; some give up (timeouts) and the last
/// of them to leave deregisters, while the others still wait and must still be woken.
#[test]
fn foreign_fd_waiters_leaving_do_not_strand_the_rest() {
    use std::io::Write;
    use std::os::fd::AsRawFd;
    grove::run(|| {
        let (mut a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        b.set_nonblocking(true).unwrap();
        let fd = b.as_raw_fd();
        let quitters: Vec<_> = (0..5)
            .map(|i| {
                grove::spawn(move || {
                    grove::io::wait_readable(fd, Some(Duration::from_millis(5 + i))).unwrap_err()
                })
            })
            .collect();
        let stayer =
            grove::spawn(move || grove::io::wait_readable(fd, Some(Duration::from_secs(20))));
        for q in quitters {
            assert_eq!(q.join().unwrap().kind(), std::io::ErrorKind::TimedOut);
        }
        a.write_all(b"x").unwrap();
        stayer.join().unwrap().unwrap();
        assert_eq!(grove::stats().io_sources, 0);
        drop(b);
    });
}

/// Attack: fd numbers and slab keys reused: a socket is closed while another greenlet's
/// select watches a dup of it, and a fresh socket takes the same fd number and is used at once.
#[test]
fn fd_and_key_reuse_after_close() {
    use std::io::{Read, Write};
    grove::run(|| {
        let l = grove::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let srv = grove::spawn(move || {
            for _ in 0..50 {
                let (s, _) = l.accept().unwrap();
                let mut buf = [0u8; 4];
                (&s).read_exact(&mut buf).unwrap();
                (&s).write_all(&buf).unwrap();
            }
        });
        let base = grove::stats().io_sources;
        for i in 0..50u32 {
            let c = grove::net::TcpStream::connect(addr).unwrap();
            (&c).write_all(&i.to_le_bytes()).unwrap();
            let mut sel = grove::select::Select::new();
            let k = sel.readable(&c).unwrap();
            assert_eq!(sel.wait_timeout(Duration::from_secs(20)), Ok(k));
            drop(sel);
            let mut buf = [0u8; 4];
            (&c).read_exact(&mut buf).unwrap();
            assert_eq!(u32::from_le_bytes(buf), i);
            drop(c); // the next connect most likely gets the same fd and slab key
        }
        srv.join().unwrap();
        grove::sleep(Duration::from_millis(1));
        assert!(grove::stats().io_sources <= base);
    });
}
