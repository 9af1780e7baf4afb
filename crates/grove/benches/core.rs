//! Core micro-benchmarks, grove next to tokio (current_thread) and may (1 worker) in the same
//! run. Every figure is time per operation:
//! - `switch`: one greenlet switch (half of a main <-> greenlet round trip);
//! - `handoff`: one one-way handoff between two tasks through the scheduler (ping-pong over
//!   two channels / notifies; each round trip counts as two handoffs);
//! - `spawn_join/N`: spawning N empty tasks, then joining all of them, per task.
//!
//! Run: `cargo bench -p grove --bench core`

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};

/// Runs `batch`-sized rounds of `f` until at least `iters` operations are done; returns the
/// time per `iters` operations (criterion divides by `iters` itself).
fn batched(iters: u64, batch: u64, mut f: impl FnMut(u64) -> Duration) -> Duration {
    let mut done = 0;
    let mut total = Duration::ZERO;
    while done < iters {
        total += f(batch);
        done += batch;
    }
    total.mul_f64(iters as f64 / done as f64)
}

fn switch(c: &mut Criterion) {
    let mut g = c.benchmark_group("switch");
    g.bench_function("grove_greenlet", |b| {
        b.iter_custom(|iters| {
            let rounds = iters.div_ceil(2);
            let g = grove::Greenlet::new(move |_| {
                let main = grove::getcurrent().parent().unwrap();
                loop {
                    main.switch(());
                }
            });
            g.switch(());
            let t = Instant::now();
            for _ in 0..rounds {
                g.switch(());
            }
            let e = t.elapsed();
            drop(g.throw());
            e.mul_f64(iters as f64 / (rounds * 2) as f64)
        })
    });
    g.bench_function("corosensei_raw", |b| {
        b.iter_custom(|iters| {
            let rounds = iters.div_ceil(2);
            let mut co = corosensei::Coroutine::new(|y: &corosensei::Yielder<(), ()>, ()| loop {
                y.suspend(());
            });
            let t = Instant::now();
            for _ in 0..rounds {
                co.resume(());
            }
            t.elapsed().mul_f64(iters as f64 / (rounds * 2) as f64)
        })
    });
    g.finish();
}

fn handoff(c: &mut Criterion) {
    let mut g = c.benchmark_group("handoff");
    g.bench_function("grove_queue", |b| {
        b.iter_custom(|iters| {
            let rounds = iters.div_ceil(2);
            let (ping, pong) = (grove::sync::Queue::unbounded(), grove::sync::Queue::unbounded());
            let (p2, q2) = (ping.clone(), pong.clone());
            let echo = grove::spawn(move || {
                while let Ok(v) = p2.get() {
                    q2.put(v).unwrap();
                }
            });
            let t = Rc::new(RefCell::new(Duration::ZERO));
            let t2 = t.clone();
            let driver = grove::spawn(move || {
                let start = Instant::now();
                for i in 0..rounds {
                    ping.put(i).unwrap();
                    pong.get().unwrap();
                }
                *t2.borrow_mut() = start.elapsed();
                ping.close();
            });
            driver.join().unwrap();
            echo.join().unwrap();
            let e = *t.borrow();
            e.mul_f64(iters as f64 / (rounds * 2) as f64)
        })
    });
    g.bench_function("tokio_notify", |b| {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        b.iter_custom(|iters| {
            let rounds = iters.div_ceil(2);
            rt.block_on(async move {
                let (a, bn) =
                    (Arc::new(tokio::sync::Notify::new()), Arc::new(tokio::sync::Notify::new()));
                let (a2, b2) = (a.clone(), bn.clone());
                let echo = tokio::task::spawn(async move {
                    for _ in 0..rounds {
                        a2.notified().await;
                        b2.notify_one();
                    }
                });
                let start = Instant::now();
                for _ in 0..rounds {
                    a.notify_one();
                    bn.notified().await;
                }
                let e = start.elapsed();
                echo.await.unwrap();
                e.mul_f64(iters as f64 / (rounds * 2) as f64)
            })
        })
    });
    g.bench_function("tokio_mpsc", |b| {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        b.iter_custom(|iters| {
            let rounds = iters.div_ceil(2);
            rt.block_on(async move {
                let (ptx, mut prx) = tokio::sync::mpsc::unbounded_channel::<u64>();
                let (qtx, mut qrx) = tokio::sync::mpsc::unbounded_channel::<u64>();
                let echo = tokio::task::spawn(async move {
                    while let Some(v) = prx.recv().await {
                        qtx.send(v).unwrap();
                    }
                });
                let start = Instant::now();
                for i in 0..rounds {
                    ptx.send(i).unwrap();
                    qrx.recv().await.unwrap();
                }
                let e = start.elapsed();
                drop(ptx);
                echo.await.unwrap();
                e.mul_f64(iters as f64 / (rounds * 2) as f64)
            })
        })
    });
    g.bench_function("may_channel", |b| {
        may::config().set_workers(1);
        b.iter_custom(|iters| {
            let rounds = iters.div_ceil(2);
            let (ptx, prx) = may::sync::mpsc::channel::<u64>();
            let (qtx, qrx) = may::sync::mpsc::channel::<u64>();
            let echo = may::go!(move || {
                while let Ok(v) = prx.recv() {
                    qtx.send(v).unwrap();
                }
            });
            let driver = may::go!(move || {
                let start = Instant::now();
                for i in 0..rounds {
                    ptx.send(i).unwrap();
                    qrx.recv().unwrap();
                }
                start.elapsed()
            });
            let e = driver.join().unwrap();
            echo.join().unwrap();
            e.mul_f64(iters as f64 / (rounds * 2) as f64)
        })
    });
    g.finish();
}

fn spawn_join(c: &mut Criterion) {
    let mut g = c.benchmark_group("spawn_join");
    // 30,000 exceeds the default stack pool cap (16,384): the steady-churn case of issue 15.
    // may is left out there (its own stacks plus grove's would pass vm.max_map_count).
    for batch in [1_000u64, 10_000, 30_000] {
        g.bench_function(format!("grove/{batch}"), |b| {
            b.iter_custom(|iters| {
                batched(iters, batch, |n| {
                    let t = Instant::now();
                    let hs: Vec<_> = (0..n).map(|_| grove::spawn(|| ())).collect();
                    for h in hs {
                        h.join().unwrap();
                    }
                    t.elapsed()
                })
            })
        });
        g.bench_function(format!("tokio/{batch}"), |b| {
            let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
            b.iter_custom(|iters| {
                batched(iters, batch, |n| {
                    rt.block_on(async move {
                        let t = Instant::now();
                        let hs: Vec<_> = (0..n).map(|_| tokio::task::spawn(async {})).collect();
                        for h in hs {
                            h.await.unwrap();
                        }
                        t.elapsed()
                    })
                })
            })
        });
        if batch > 10_000 {
            continue;
        }
        g.bench_function(format!("may/{batch}"), |b| {
            may::config().set_workers(1);
            b.iter_custom(|iters| {
                batched(iters, batch, |n| {
                    let t = Instant::now();
                    // SAFETY: the closures use no thread-locals (may's requirement).
                    let hs: Vec<_> = (0..n).map(|_| may::go!(|| ())).collect();
                    for h in hs {
                        h.join().unwrap();
                    }
                    t.elapsed()
                })
            })
        });
    }
    g.finish();
}

/// Spawns `tasks` greenlets, each running a fresh `body()`, and joins them; the time taken.
fn grove_tasks<F: FnOnce() + 'static>(tasks: u64, mut body: impl FnMut() -> F) -> Duration {
    let t = Instant::now();
    let hs: Vec<_> = (0..tasks).map(|_| grove::spawn(body())).collect();
    for h in hs {
        h.join().unwrap();
    }
    t.elapsed()
}

/// The same with tokio tasks, inside the runtime.
async fn tokio_tasks<F>(tasks: u64, mut body: impl FnMut() -> F) -> Duration
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let t = Instant::now();
    let hs: Vec<_> = (0..tasks).map(|_| tokio::task::spawn(body())).collect();
    for h in hs {
        h.await.unwrap();
    }
    t.elapsed()
}

/// 1,000 tasks each yield 100 times (issue 15's `yield_now` row). Time per yield.
fn yield_many(c: &mut Criterion) {
    const TASKS: u64 = 1_000;
    const ROUNDS: u64 = 100;
    let ops = TASKS * ROUNDS;
    let mut g = c.benchmark_group("yield_1000");
    g.bench_function("grove", |b| {
        b.iter_custom(|iters| {
            batched(iters, ops, |_| {
                grove_tasks(TASKS, || {
                    || {
                        for _ in 0..ROUNDS {
                            grove::yield_now();
                        }
                    }
                })
            })
        })
    });
    g.bench_function("tokio", |b| {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        b.iter_custom(|iters| {
            batched(iters, ops, |_| {
                rt.block_on(tokio_tasks(TASKS, || async {
                    for _ in 0..ROUNDS {
                        tokio::task::yield_now().await;
                    }
                }))
            })
        })
    });
    g.finish();
}

/// 64 tasks contend for 4 permits; each takes a permit, yields, releases, 100 times. Time per
/// acquire+release.
fn semaphore(c: &mut Criterion) {
    const TASKS: u64 = 64;
    const ROUNDS: u64 = 100;
    let ops = TASKS * ROUNDS;
    let mut g = c.benchmark_group("semaphore_contention");
    g.bench_function("grove", |b| {
        b.iter_custom(|iters| {
            batched(iters, ops, |_| {
                let sem = grove::sync::Semaphore::new(4);
                grove_tasks(TASKS, || {
                    let sem = sem.clone();
                    move || {
                        for _ in 0..ROUNDS {
                            let _p = sem.acquire().unwrap();
                            grove::yield_now();
                        }
                    }
                })
            })
        })
    });
    g.bench_function("tokio", |b| {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        b.iter_custom(|iters| {
            batched(iters, ops, |_| {
                let sem = Arc::new(tokio::sync::Semaphore::new(4));
                rt.block_on(tokio_tasks(TASKS, || {
                    let sem = sem.clone();
                    async move {
                        for _ in 0..ROUNDS {
                            let _p = sem.acquire().await.unwrap();
                            tokio::task::yield_now().await;
                        }
                    }
                }))
            })
        })
    });
    g.bench_function("may", |b| {
        may::config().set_workers(1);
        b.iter_custom(|iters| {
            batched(iters, ops, |_| {
                let sem = Arc::new(may::sync::Semphore::new(4));
                let t = Instant::now();
                let hs: Vec<_> = (0..TASKS)
                    .map(|_| {
                        let sem = sem.clone();
                        may::go!(move || {
                            for _ in 0..ROUNDS {
                                sem.wait();
                                may::coroutine::yield_now();
                                sem.post();
                            }
                        })
                    })
                    .collect();
                for h in hs {
                    h.join().unwrap();
                }
                t.elapsed()
            })
        })
    });
    g.finish();
}

/// Spawning from a plain thread onto a 2-hub runtime and joining (per task), next to tokio's
/// multi_thread runtime with 2 workers.
fn spawn_across(c: &mut Criterion) {
    let mut g = c.benchmark_group("spawn_across_2_hubs");
    let batch = 1_000u64;
    let rt = grove::Runtime::builder().hubs(2).monitor(None).build().unwrap();
    g.bench_function("grove_runtime", |b| {
        b.iter_custom(|iters| {
            batched(iters, batch, |n| {
                let t = Instant::now();
                let hs: Vec<_> = (0..n).map(|i| rt.spawn(move || i)).collect();
                for h in hs {
                    h.join().unwrap();
                }
                t.elapsed()
            })
        })
    });
    let trt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).build().unwrap();
    g.bench_function("tokio_multi_thread", |b| {
        b.iter_custom(|iters| {
            batched(iters, batch, |n| {
                let t = Instant::now();
                let hs: Vec<_> = (0..n).map(|i| trt.spawn(async move { i })).collect();
                for h in hs {
                    trt.block_on(h).unwrap();
                }
                t.elapsed()
            })
        })
    });
    g.finish();
    rt.shutdown();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20);
    targets = switch, handoff, spawn_join, yield_many, semaphore, spawn_across
}
criterion_main!(benches);
