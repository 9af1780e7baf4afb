//! Randomized model test: seeded random programs of spawn / kill / join / sleep / yield /
//! timeout scopes / queue get-put (bounded and unbounded) / event set-clear-wait / semaphore
//! acquire-release run both on the real hub and on a small reference model of the same
//! semantics (`model/sim.rs`: a discrete-event simulator with virtual time, one FIFO ready
//! queue and explicit wait lists, written from `notes/semantics.md` and DESIGN.md). Each
//! greenlet's trace must agree — values got, which waits timed out, were cut short by a scope,
//! were killed or deadlocked, join results, at which virtual time — nothing may hang, and
//! after every program the hub is back at rest (no greenlet alive, no timer armed, no fd
//! registered, every stack back in the pool, every greenlet closure dropped).
//!
//! # Determinism
//!
//! Cooperative scheduling on one hub is deterministic except for real time. So:
//! - Most programs (80%) use no timer at all: their run is a pure function of the program, on
//!   the model and on the hub alike, and costs microseconds.
//! - The others ("timed") put every deadline on a coarse grid: slot `s` is `base + s * SLOT`
//!   (`SLOT` = 20 ms by default), always passed as an absolute deadline (`sleep_until`,
//!   `timeout_at`, `get_deadline`...), so no drift accumulates. Every greenlet takes its
//!   deadlines from its own slots: no two greenlets ever arm timers for the same instant
//!   (one greenlet arms at most one timer at a time; within a greenlet, ties between a
//!   call's deadline and its scope's, or between nested scopes, are deliberate). Between two
//!   slots every greenlet runs until it blocks — microseconds — so when a timer fires nothing
//!   else is ready, and the hub fires timers in exactly the model's order. Virtual time is
//!   recorded with each event (real time since `base`, in slots) and compared too.
//! - A timed run can still be disturbed by the machine (a 20 ms stall on a loaded CI box lets
//!   two timers fire in one turn). A timed program whose outcome disagrees is re-run twice;
//!   if any re-run agrees, the disagreement is counted as timing noise, not a failure. A real
//!   defect disagrees every time. Timed programs mostly sleep, so they run on many threads
//!   at once (one hub per thread).
//! - Corners the spec leaves open (see `sim.rs`) make the model call a program ambiguous; it
//!   is then skipped and counted.
//!
//! # Today's code
//!
//! The model follows the spec the lead is implementing, not today's code. A disagreement is
//! classified at once (the real outcome is known; re-running the model costs microseconds):
//! `sim::Legacy` has switches that make the model behave like today's code for each known
//! difference (`KNOWN`: items 1 and 3 of `notes/semantics.md`, killed waiters, and the
//! semaphore defect this test found), and the smallest set of them under which the model
//! agrees with the hub names the cause. `UNEXPLAINED` is a new defect or a model bug.
//!
//! # Running
//!
//! `cargo test -p grove --test model` runs 3,000 seeds (`GROVE_MODEL_SEEDS`, starting at
//! `GROVE_MODEL_SEED_START`) plus the `REGRESSION_*` lists. `GROVE_MODEL_SEED=n` runs one seed
//! verbosely; `GROVE_MODEL_PROGRAM=file` runs a program in the text form.
//! `GROVE_MODEL_ALLOW_KNOWN=1` fails only on disagreements that no listed item explains (for
//! today's code). Triage knobs: `GROVE_MODEL_EXCLUDE=scope_forever,clear,...` (op kinds the
//! generator leaves out), `GROVE_MODEL_LEGACY=scopes,event_clear,...` (model switches always
//! on), `GROVE_MODEL_TIMED_PCT`, `GROVE_MODEL_SLOT_MS`, `GROVE_MODEL_THREADS` /
//! `GROVE_MODEL_TIMED_THREADS`, `GROVE_MODEL_SHRINK` (failures to minimize, default 3),
//! `GROVE_MODEL_MAX_FAILURES` (stop after, default 20), `GROVE_MODEL_COVERAGE=1` (print what
//! the model reached). `ci/model.sh` runs millions in release. A failing seed prints the seed,
//! the program, the difference, its explanation and a minimized program in text form, ready
//! to paste into `REGRESSION_PROGRAMS`.

#[path = "model/program.rs"]
mod program;
#[path = "model/real.rs"]
mod real;
#[path = "model/sim.rs"]
mod sim;
#[path = "model/trace.rs"]
mod trace;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use program::{GenConfig, Program};

/// Seeds that once failed; they run every time (programs depend on the generator: when it
/// changes, prefer `REGRESSION_PROGRAMS`).
const REGRESSION_SEEDS: &[u64] = &[
    7055168, // semaphore: main's acquire fails with Deadlock while a permit is free
    7033359, // semaphore: try_acquire fails while a permit is free
    7079924, // semaphore: a greenlet blocks with a permit free, so a queue fills differently
    9959, // Event: a second set() forgot the waiters the first had woken, so a newcomer ran first
    12862, // (same)
    14572, // (same)
    23132, // (same)
    26526, // (same)
    38741, // Event: a killed woken waiter passed the broadcast on to a later waiter
];

/// Minimized programs that once failed (text form, see `program.rs`); they run every time.
const REGRESSION_PROGRAMS: &[&str] = &[
    // Seed 38741, minimized by hand: g1 is woken by a `set` and killed before it runs; its
    // unwinding must not hand the broadcast on to main (who waits after the `clear`). Then
    // g2's `set` wakes main, and g3, finding the event set, runs after main.
    "queues unbounded\nevents 1\nsems 0\n\
     g0:\n spawn g1\n yield\n set e0\n clear e0\n kill_nowait g1\n spawn g2\n spawn g3\n\
     wait e0\n yield\n\
     g1:\n wait e0\ng2:\n set e0\ng3:\n wait e0\n",
    // NEW: a free permit is refused while a permit granted to a woken waiter (g1) has not
    // been picked up: main's acquire must take the second permit, not fail with Deadlock
    // while `available() == 1`.
    "queues unbounded\nevents 1\nsems 0\n\
     g0:\n spawn g1\n yield\n add_permit s0\n add_permit s0\n acquire s0\n\
     g1:\n acquire s0\n wait e0\n",
    // Killed waiters: g1 is killed while waiting for a permit; the permit then goes to g2,
    // which must get it (not lose it to g1's unwinding and wait forever).
    "queues unbounded\nevents 1\nsems 0\n\
     g0:\n spawn g1\n spawn g2\n yield\n kill_nowait g1\n add_permit s0\n join g2\n\
     g1:\n acquire s0\n\
     g2:\n acquire s0\n",
    // Killed waiters: getters stay in FIFO order when one of them is killed (g3 before g4).
    "queues unbounded\nevents 1\nsems 0\n\
     g0:\n spawn g1\n spawn g2\n spawn g3\n spawn g4\n yield\n kill_nowait g1\n put q0 1\n\
     yield\n yield\n put q0 2\n put q0 3\n yield\n\
     g1:\n get q0\ng2:\n get q0\ng3:\n get q0\ng4:\n get q0\n",
    // Item 1: an expired scope unwinds its blocking calls (the get does not return) and
    // releases the permit acquired inside it.
    "queues unbounded\nevents 1\nsems 1\n\
     g0:\n scope#0 @1 {\n acquire s0\n get q0\n put q0 1\n }\n acquire s0\n",
    // Item 1: a join cut short by a scope does not report that its target ended.
    "queues unbounded\nevents 1\nsems 0\n\
     g0:\n spawn g1\n scope#0 @1 {\n join g1\n }\n kill g1\n\
     g1:\n get q0\n",
    // Item 3: waiters woken by set return true although the event was cleared before they
    // ran.
    "queues unbounded\nevents 1\nsems 0\n\
     g0:\n spawn g1\n spawn g2\n yield\n set e0\n clear e0\n yield\n\
     g1:\n wait e0\ng2:\n wait e0\n",
    // Item 3: a wait on a set event lets the woken waiters run first (gevent issue 1520):
    // they return true before main clears the event.
    "queues unbounded\nevents 1\nsems 0\n\
     g0:\n spawn g1\n spawn g2\n yield\n set e0\n wait e0\n clear e0\n\
     g1:\n wait e0\ng2:\n wait e0\n",
];

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[derive(Debug, Clone)]
struct Config {
    gen: GenConfig,
    slot: Duration,
    threads: usize,
    timed_threads: usize,
    shrink: usize,
    max_failures: usize,
    hang: Duration,
    /// `GROVE_MODEL_LEGACY`: model switches always on (triage).
    legacy: String,
    /// `GROVE_MODEL_ALLOW_KNOWN`: disagreements explained by listed items do not fail.
    allow_known: bool,
}

impl Config {
    fn from_env() -> Config {
        let exclude = std::env::var("GROVE_MODEL_EXCLUDE")
            .map(|s| s.split(',').map(|x| x.trim().to_string()).filter(|x| !x.is_empty()).collect())
            .unwrap_or_default();
        Config {
            gen: GenConfig { timed_pct: env("GROVE_MODEL_TIMED_PCT", 20), exclude },
            slot: Duration::from_millis(env("GROVE_MODEL_SLOT_MS", 20)),
            threads: env("GROVE_MODEL_THREADS", 2),
            timed_threads: env("GROVE_MODEL_TIMED_THREADS", 16),
            shrink: env("GROVE_MODEL_SHRINK", 3),
            max_failures: env("GROVE_MODEL_MAX_FAILURES", 20),
            hang: Duration::from_secs(env("GROVE_MODEL_HANG_SECS", 60)),
            legacy: std::env::var("GROVE_MODEL_LEGACY").unwrap_or_default(),
            allow_known: std::env::var_os("GROVE_MODEL_ALLOW_KNOWN").is_some(),
        }
    }
}

#[derive(Debug)]
enum Verdict {
    Agree,
    Ambiguous(String),
    /// Disagreed, then agreed on a re-run (a timed program disturbed by the machine).
    Noise(String),
    Disagree {
        diff: String,
        /// Which known differences of today's code explain it (see `KNOWN`).
        class: String,
        /// Whether those are all listed in `notes/semantics.md` (or the brief).
        known: bool,
    },
}

/// Known differences of today's code from the spec, each a set of model switches that makes
/// the model behave like today's code (see `sim::Legacy`): a disagreement that disappears
/// with some of them on is explained by those. `true`: listed in `notes/semantics.md` / the
/// brief; `false`: found by this test.
const KNOWN: &[(&str, &str, bool)] = &[
    ("item 1 (scopes return early; Duration::MAX overflows)", "scopes,duration_max", true),
    (
        "item 3 (Event: woken waiter re-waits after clear; wait does not yield)",
        "event_clear,event_yield",
        true,
    ),
    ("killed waiters (stale token passes on a notification it never got)", "killed_waiters", true),
    ("NEW: semaphore refuses a free permit while a grant is pending", "sem_reserved", false),
];

/// The smallest set of `KNOWN` differences that explains why `real` differs from the model.
fn classify(p: &Program, real: &trace::Outcome, cfg: &Config) -> (String, bool) {
    let n = KNOWN.len();
    let mut masks: Vec<u32> = (1..1u32 << n).collect();
    masks.sort_by_key(|m| (m.count_ones(), *m));
    for m in masks {
        let picked: Vec<_> = (0..n).filter(|i| m & (1 << i) != 0).map(|i| KNOWN[i]).collect();
        let switches: Vec<&str> = picked.iter().map(|k| k.1).collect();
        let legacy = sim::Legacy::parse(&format!("{},{}", cfg.legacy, switches.join(",")));
        let run = sim::run(p, legacy);
        if run.ambiguous.is_none() && trace::diff(&run.outcome, real).is_none() {
            let names: Vec<&str> = picked.iter().map(|k| k.0).collect();
            return (names.join(" + "), picked.iter().all(|k| k.2));
        }
    }
    ("UNEXPLAINED".into(), false)
}

/// Runs `p` on the model and on this thread's hub.
fn check(p: &Program, cfg: &Config, cov: &mut sim::Coverage) -> Verdict {
    let m = sim::run(p, sim::Legacy::parse(&cfg.legacy));
    for (k, v) in m.coverage {
        *cov.entry(k).or_default() += v;
    }
    if let Some(a) = m.ambiguous {
        return Verdict::Ambiguous(a);
    }
    let r = real::run(p, cfg.slot);
    let Some(diff) = trace::diff(&m.outcome, &r.outcome) else { return Verdict::Agree };
    let mut runs = vec![r];
    if p.timed() {
        for _ in 0..2 {
            let again = real::run(p, cfg.slot);
            if trace::diff(&m.outcome, &again.outcome).is_none() {
                let late = runs[0].lateness;
                return Verdict::Noise(format!("{diff} (latest event {late:?} into its slot)"));
            }
            runs.push(again);
        }
    }
    // A disturbed run may be unexplainable where a calm one is not: prefer an explanation,
    // and give an unexplained timed program a few more calm chances.
    let mut class = (String::new(), false);
    for r in &runs {
        class = classify(p, &r.outcome, cfg);
        if class.0 != "UNEXPLAINED" {
            break;
        }
    }
    if class.0 == "UNEXPLAINED" && p.timed() {
        for _ in 0..5 {
            std::thread::sleep(Duration::from_millis(200));
            let again = real::run(p, cfg.slot);
            if trace::diff(&m.outcome, &again.outcome).is_none() {
                return Verdict::Noise(format!("{diff} (agreed after a pause)"));
            }
            class = classify(p, &again.outcome, cfg);
            if class.0 != "UNEXPLAINED" {
                break;
            }
        }
    }
    let (class, known) = class;
    Verdict::Disagree { diff, class, known }
}

/// Whether `p` still disagrees for the same reason (for shrinking; ambiguous programs do not
/// count).
fn still_fails(p: &Program, cfg: &Config, class: &str) -> bool {
    matches!(check(p, cfg, &mut sim::Coverage::new()), Verdict::Disagree { class: c, .. } if c == class)
}

fn report(what: &str, p: &Program, cfg: &Config, diff: &str, class: &str) -> String {
    let m = sim::run(p, sim::Legacy::parse(&cfg.legacy));
    let r = real::run(p, cfg.slot);
    let mut s = format!(
        "\n=== MODEL DISAGREEMENT: {what}\n--- explained by: {class}\n--- program:\n{p}\
         --- difference: {diff}\n--- model:\n{}--- real:\n{}",
        m.outcome.render(),
        r.outcome.render()
    );
    let start = Instant::now();
    let small = program::shrink(p, 400, |c| {
        start.elapsed() < Duration::from_secs(60) && still_fails(c, cfg, class)
    });
    let m = sim::run(&small, sim::Legacy::parse(&cfg.legacy));
    let r = real::run(&small, cfg.slot);
    let d = trace::diff(&m.outcome, &r.outcome).unwrap_or_else(|| "(agrees on this run)".into());
    s += &format!(
        "--- minimized ({} ops; paste into REGRESSION_PROGRAMS):\n{small}--- difference: {d}\n\
         --- model:\n{}--- real:\n{}",
        small.size(),
        m.outcome.render(),
        r.outcome.render()
    );
    s
}

/// One unit of work: a seed's program, or a regression program.
#[derive(Clone)]
struct Job {
    name: String,
    program: Program,
}

#[derive(Default)]
struct Tally {
    agree: usize,
    ambiguous: usize,
    noise: usize,
    failures: Vec<String>,
    coverage: sim::Coverage,
    ambiguous_why: BTreeMap<String, usize>,
    /// Disagreements by what explains them.
    classes: BTreeMap<String, usize>,
}

/// What each worker is running, for the watchdog.
type Running = Arc<Mutex<Vec<Option<(Instant, String)>>>>;

/// Runs `jobs` on `threads` threads, each with its own hub.
fn run_jobs(
    jobs: Vec<Job>,
    threads: usize,
    cfg: &Config,
    tally: &Mutex<Tally>,
    running: &Running,
    base: usize,
) {
    let next = AtomicUsize::new(0);
    let shrunk = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        for t in 0..threads.max(1) {
            let (jobs, next, shrunk, stop) = (&jobs, &next, &shrunk, &stop);
            std::thread::Builder::new()
                .name(format!("model-{t}"))
                .spawn_scoped(s, move || {
                    let mut cov = sim::Coverage::new();
                    loop {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(job) = jobs.get(i) else { break };
                        running.lock().unwrap()[base + t] =
                            Some((Instant::now(), format!("{}\n{}", job.name, job.program)));
                        let v = check(&job.program, cfg, &mut cov);
                        running.lock().unwrap()[base + t] = None;
                        let mut tl = tally.lock().unwrap();
                        match v {
                            Verdict::Agree => tl.agree += 1,
                            Verdict::Noise(why) => {
                                tl.noise += 1;
                                eprintln!("model: timing noise, {}: {why}", job.name);
                            }
                            Verdict::Ambiguous(why) => {
                                tl.ambiguous += 1;
                                *tl.ambiguous_why.entry(why).or_default() += 1;
                            }
                            Verdict::Disagree { diff, class, known, .. } => {
                                *tl.classes.entry(class.clone()).or_default() += 1;
                                if known && cfg.allow_known {
                                    continue;
                                }
                                let shrink = shrunk.fetch_add(1, Ordering::Relaxed) < cfg.shrink;
                                drop(tl);
                                let (name, p) = (&job.name, &job.program);
                                if shrink {
                                    eprintln!("{}", report(name, p, cfg, &diff, &class));
                                } else {
                                    eprintln!("=== MODEL DISAGREEMENT: {name} [{class}]: {diff}");
                                }
                                let mut tl = tally.lock().unwrap();
                                tl.failures.push(format!("{name} [{class}]: {diff}"));
                                if tl.failures.len() >= cfg.max_failures {
                                    stop.store(true, Ordering::Relaxed);
                                }
                            }
                        }
                    }
                    let mut tl = tally.lock().unwrap();
                    for (k, v) in cov {
                        *tl.coverage.entry(k).or_default() += v;
                    }
                })
                .unwrap();
        }
    });
}

/// Quiet panics on the worker threads (today's defects panic inside greenlets by the
/// thousand); everything else keeps the default hook.
fn quiet_worker_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let worker = std::thread::current().name().is_some_and(|n| n.starts_with("model-"));
            if !worker || std::env::var_os("GROVE_MODEL_PANICS").is_some() {
                default(info);
            }
        }));
    });
}

/// Fails the whole process with the stuck program if a run exceeds `cfg.hang` (a hang cannot
/// be interrupted from outside the hub's thread).
fn watchdog(
    running: Running,
    done: Arc<AtomicBool>,
    hang: Duration,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        while !done.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(200));
            for (t, r) in running.lock().unwrap().iter().enumerate() {
                if let Some((since, what)) = r {
                    if since.elapsed() > hang {
                        eprintln!(
                            "\n=== MODEL HANG: worker {t} has run one program for {:?}:\n{what}",
                            since.elapsed()
                        );
                        std::process::exit(101);
                    }
                }
            }
        }
    })
}

/// Runs the jobs (untimed ones on `threads` threads, then timed ones on `timed_threads`),
/// prints a summary and returns the tally.
fn run_all(jobs: Vec<Job>, cfg: &Config, label: &str) -> Tally {
    quiet_worker_panics();
    let start = Instant::now();
    let (timed, untimed): (Vec<Job>, Vec<Job>) = jobs.into_iter().partition(|j| j.program.timed());
    let (nt, nu) = (timed.len(), untimed.len());
    let tally = Mutex::new(Tally::default());
    let running: Running =
        Arc::new(Mutex::new(vec![None; cfg.threads.max(1) + cfg.timed_threads.max(1)]));
    let done = Arc::new(AtomicBool::new(false));
    let dog = watchdog(running.clone(), done.clone(), cfg.hang);
    run_jobs(untimed, cfg.threads, cfg, &tally, &running, 0);
    let t_untimed = start.elapsed();
    run_jobs(timed, cfg.timed_threads, cfg, &tally, &running, cfg.threads.max(1));
    done.store(true, Ordering::Relaxed);
    dog.join().unwrap();
    let tally = tally.into_inner().unwrap();
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "model {label}: {} programs ({nu} untimed in {:.1} s, {nt} timed) in {secs:.1} s = {:.0}/s: \
         {} agree, {} ambiguous {:?}, {} timing noise, {} disagree ({} failing)",
        nu + nt,
        t_untimed.as_secs_f64(),
        (nu + nt) as f64 / secs,
        tally.agree,
        tally.ambiguous,
        tally.ambiguous_why,
        tally.noise,
        tally.classes.values().sum::<usize>(),
        tally.failures.len()
    );
    for (class, n) in &tally.classes {
        eprintln!("  {n:6}  {class}");
    }
    tally
}

fn seed_jobs(start: u64, n: u64, gen: &GenConfig) -> Vec<Job> {
    (start..start + n)
        .map(|seed| Job {
            name: format!("seed {seed} (GROVE_MODEL_SEED={seed})"),
            program: program::generate(seed, gen),
        })
        .collect()
}

fn assert_clean(tally: &Tally) {
    assert!(
        tally.failures.is_empty(),
        "{} program(s) disagree with the model (details above):\n{}",
        tally.failures.len(),
        tally.failures.join("\n")
    );
}

/// Situations the default run must reach (the nasty cases); checked with the coverage the
/// model counts.
const MUST_COVER: &[&str] = &[
    "kill_unstarted",
    "kill_blocked:get",
    "kill_blocked:put",
    "kill_blocked:wait",
    "kill_blocked:acquire",
    "kill_blocked:join",
    "kill_blocked:sleep",
    "kill_blocked:sleep_forever",
    "kill_woken:handed:get",
    "kill_woken:handed:acquire",
    "kill_woken:handed:wait",
    "handed_then_left:get",
    "handed_then_left:put",
    "handed_then_left:acquire",
    "scope_expired_in:get",
    "scope_expired_in:put",
    "scope_expired_in:wait",
    "scope_expired_in:acquire",
    "scope_expired_in:join",
    "scope_expired_in:sleep",
    "scope_expired_in:sleep_forever",
    "scope_expired_before:yield",
    "scope_unwinds_through_inner",
    "equal_deadlines_outer_catches",
    "own_deadline_ties_scope",
    "own_timeout:get",
    "own_timeout:put",
    "own_timeout:acquire",
    "own_timeout:wait",
    "main_deadlock:get",
    "main_deadlock:put",
    "main_deadlock:acquire",
    "main_deadlock:wait",
    "main_deadlock:join",
    "event_woken_then_cleared",
    "event_wait_yields_to_woken",
    "sem_grant",
    "kill_self",
    "wake_after_kill:get",
    "wake_after_kill:put",
    "wake_after_kill:acquire",
    "wake_after_kill:wait",
];

#[test]
fn model_random_seeds() {
    let cfg = Config::from_env();
    if let Ok(seed) = std::env::var("GROVE_MODEL_SEED") {
        let seed: u64 = seed.parse().expect("GROVE_MODEL_SEED");
        return run_one(&format!("seed {seed}"), &program::generate(seed, &cfg.gen), &cfg);
    }
    if let Ok(path) = std::env::var("GROVE_MODEL_PROGRAM") {
        let text = std::fs::read_to_string(&path).expect("GROVE_MODEL_PROGRAM");
        let p = program::parse(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
        return run_one(&path, &p, &cfg);
    }
    let n: u64 = env("GROVE_MODEL_SEEDS", 3000);
    let start: u64 = env("GROVE_MODEL_SEED_START", 0);
    let tally =
        run_all(seed_jobs(start, n, &cfg.gen), &cfg, &format!("seeds {start}..{}", start + n));
    if n >= 3000 && cfg.gen.exclude.is_empty() && cfg.legacy.is_empty() && cfg.gen.timed_pct >= 20 {
        let missing: Vec<&str> =
            MUST_COVER.iter().copied().filter(|k| !tally.coverage.contains_key(*k)).collect();
        if std::env::var_os("GROVE_MODEL_COVERAGE").is_some() || !missing.is_empty() {
            eprintln!("coverage: {:#?}", tally.coverage);
        }
        assert!(missing.is_empty(), "the generator no longer reaches: {missing:?}");
    }
    assert_clean(&tally);
}

/// One program, verbosely: the program, both outcomes, the verdict (on a quiet worker
/// thread: printing a panic from a greenlet would delay the run).
fn run_one(name: &str, p: &Program, cfg: &Config) {
    quiet_worker_panics();
    let r = std::thread::scope(|s| {
        std::thread::Builder::new()
            .name("model-one".into())
            .spawn_scoped(s, || run_one_here(name, p, cfg))
            .unwrap()
            .join()
    });
    if let Err(e) = r {
        std::panic::resume_unwind(e);
    }
}

fn run_one_here(name: &str, p: &Program, cfg: &Config) {
    let m = sim::run(p, sim::Legacy::parse(&cfg.legacy));
    eprintln!("{name}:\n{p}--- model (ambiguous: {:?}):\n{}", m.ambiguous, m.outcome.render());
    let r = real::run(p, cfg.slot);
    eprintln!("--- real (lateness {:?}):\n{}", r.lateness, r.outcome.render());
    if m.ambiguous.is_none() {
        if let Some(d) = trace::diff(&m.outcome, &r.outcome) {
            let (class, _) = classify(p, &r.outcome, cfg);
            // Printed here: panics on worker threads are quiet.
            eprintln!("{name}: disagreement [{class}]: {d}");
            panic!("{name}: disagreement [{class}]: {d}");
        }
    }
}

#[test]
fn model_regressions() {
    let cfg = Config::from_env();
    let mut jobs = seed_jobs(0, 0, &cfg.gen);
    for &seed in REGRESSION_SEEDS {
        jobs.extend(seed_jobs(seed, 1, &cfg.gen));
    }
    for (i, text) in REGRESSION_PROGRAMS.iter().enumerate() {
        let program =
            program::parse(text).unwrap_or_else(|e| panic!("REGRESSION_PROGRAMS[{i}]: {e}"));
        jobs.push(Job { name: format!("REGRESSION_PROGRAMS[{i}]"), program });
    }
    let tally = run_all(jobs, &cfg, "regressions");
    assert_clean(&tally);
}

/// The text form reads back to the same program, and the generator's programs are valid.
#[test]
fn model_text_form_round_trips() {
    let cfg = GenConfig { timed_pct: 50, exclude: Vec::new() };
    for seed in 0..500 {
        let p = program::generate(seed, &cfg);
        program::validate(&p).unwrap_or_else(|e| panic!("seed {seed}: {e}\n{p}"));
        let back =
            program::parse(&p.to_string()).unwrap_or_else(|e| panic!("seed {seed}: {e}\n{p}"));
        assert_eq!(back, p, "seed {seed}");
    }
}
