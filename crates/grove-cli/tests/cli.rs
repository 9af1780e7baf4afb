//! The `grove` binary as a user runs it: help, version, usage errors, `serve` + `load` on
//! loopback, `load --timeout` against a server that never answers, and `demo`.
//!
//! Every server a test starts is stopped by a guard's `Drop`, also when the test fails.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Generous: a loaded CI machine is slow, but nothing here should come near it.
const PATIENCE: Duration = Duration::from_secs(60);

fn grove() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_grove"));
    c.stdin(Stdio::null());
    c
}

fn run(args: &[&str]) -> Output {
    grove().args(args).output().expect("run grove")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn help_of_every_command_has_examples_and_exits_0() {
    for cmd in [&[][..], &["demo"], &["serve"], &["load"], &["bench"]] {
        for help in ["--help", "-h"] {
            let args: Vec<&str> = cmd.iter().copied().chain([help]).collect();
            let out = run(&args);
            let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
            assert!(out.status.success(), "{args:?}: {:?}\n{stderr}", out.status);
            assert!(stdout.contains("Usage: grove"), "{args:?}:\n{stdout}");
            assert!(stdout.contains("Examples:"), "{args:?}:\n{stdout}");
            assert!(stderr.is_empty(), "{args:?}: {stderr}");
        }
    }
    // `help demo` is the same as `demo --help`, and neither runs the demo.
    let out = run(&["help", "demo"]);
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("Examples:"));
    assert!(!text(&out.stdout).contains("grove demo: gevent-style"));
}

#[test]
fn version_is_the_crate_version() {
    for (args, name) in
        [(&["--version"][..], "grove"), (&["-V"], "grove"), (&["serve", "-V"], "grove-serve")]
    {
        let out = run(args);
        assert!(out.status.success(), "{args:?}");
        assert_eq!(text(&out.stdout).trim(), format!("{name} {}", env!("CARGO_PKG_VERSION")));
    }
}

#[test]
fn usage_errors_go_to_stderr_with_a_nonzero_exit() {
    for (args, needle) in [
        (&["serve", "--bogus"][..], "--bogus"),
        (&["--bogus"], "--bogus"),
        (&["frobnicate"], "frobnicate"),
        (&["load"], "<URL>"),
        (&["load", "http://127.0.0.1:1/", "-c", "0"], "at least 1"),
        (&["load", "http://127.0.0.1:1/", "-d", "10x"], "10x"),
        (&["serve", "--workers", "many"], "many"),
        (&["serve", "--list"], "--dir"),
    ] {
        let out = run(args);
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stdout.is_empty(), "{args:?} printed on stdout: {stdout}");
        assert!(stderr.contains("error:"), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
    // No command at all: the help, on stderr, and a failure (clap's convention).
    let out = run(&[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert!(text(&out.stderr).contains("Usage: grove"));
}

#[test]
fn failures_go_to_stderr_with_exit_1() {
    let out = run(&["serve", "--dir", "/nonexistent/grove-cli-test"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(text(&out.stderr).starts_with("grove: --dir /nonexistent/grove-cli-test"));

    // Nothing listens on a port we bound and closed again: every request fails.
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let out = run(&["load", &format!("http://127.0.0.1:{port}/"), "-n", "3", "-c", "1"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("every request failed (3 errors)"), "{stderr}");
    assert!(stderr.contains("first error:"), "{stderr}");
}

/// A `grove serve` child, killed (SIGKILL) when dropped.
struct Serve {
    child: Child,
    url: String,
    _stderr: JoinHandle<()>,
}

impl Serve {
    /// Starts `grove serve ARGS --bind 127.0.0.1:0` and waits for its banner.
    fn start(args: &[&str]) -> Serve {
        let mut child = grove()
            .arg("serve")
            .args(args)
            .args(["--bind", "127.0.0.1:0"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start grove serve");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        // Reads stderr to its end (so the server never blocks on a full pipe), handing
        // each line over.
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut serve = Serve { child, url: String::new(), _stderr: reader };
        let deadline = Instant::now() + PATIENCE;
        while serve.url.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = rx.recv_timeout(left).expect("grove serve printed no banner");
            if let Some(i) = line.find("http://") {
                let url: String = line[i..].chars().take_while(|c| !c.is_whitespace()).collect();
                serve.url = url;
            }
        }
        serve
    }

    fn addr(&self) -> SocketAddr {
        self.url.trim_start_matches("http://").trim_end_matches('/').parse().unwrap()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn load_ok(url: &str, requests: &str) -> String {
    let out = run(&["load", url, "-n", requests, "-c", "4"]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{:?}\n{stdout}\n{stderr}", out.status);
    assert!(stdout.starts_with(&format!("{requests} requests in ")), "{stdout}");
    assert!(stdout.contains(", 0 errors"), "{stdout}");
    assert!(stdout.contains("latency (µs)"), "{stdout}");
    // Not a terminal: no progress bar.
    assert!(!stderr.contains('['), "{stderr}");
    stdout
}

#[test]
fn load_against_serve_on_loopback() {
    let server = Serve::start(&[]);
    load_ok(&server.url, "200");
}

#[test]
fn serve_with_several_hubs() {
    let server = Serve::start(&["--hubs", "2"]);
    load_ok(&server.url, "100");
}

#[test]
fn serve_with_worker_processes_that_die_with_the_supervisor() {
    let mut server = Serve::start(&["--workers", "2"]);
    load_ok(&server.url, "200");
    let addr = server.addr();
    // SIGKILL: the supervisor cannot stop its workers itself; the kernel does
    // (PR_SET_PDEATHSIG), and then nothing listens on the port any more.
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    let deadline = Instant::now() + PATIENCE;
    while TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok() {
        assert!(Instant::now() < deadline, "a worker still listens on {addr}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A TCP server that accepts connections and never answers; stopped when dropped.
struct Silent {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<usize>>,
}

impl Silent {
    fn start() -> Silent {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut held = Vec::new();
            while !s.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((conn, _)) => held.push(conn),
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
            held.len()
        });
        Silent { addr, stop, thread: Some(thread) }
    }

    fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Stops the server; returns how many connections it accepted.
    fn stop(&mut self) -> usize {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.take().map_or(0, |t| t.join().unwrap())
    }
}

impl Drop for Silent {
    fn drop(&mut self) {
        self.stop();
    }
}

#[test]
fn load_timeout_fails_requests_to_a_server_that_never_answers() {
    let mut silent = Silent::start();
    let t = Instant::now();
    let out = run(&["load", &silent.url(), "-n", "3", "-c", "1", "--timeout", "200ms"]);
    assert!(t.elapsed() < PATIENCE, "took {:?}", t.elapsed());
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("request timed out (--timeout 200ms)"), "{stderr}");
    assert!(stderr.contains("every request failed (3 errors)"), "{stderr}");
    assert!(text(&out.stdout).starts_with("0 requests in "));
    // Each timed-out request gave up its connection; the next one opened another.
    assert_eq!(silent.stop(), 3);
}

#[test]
fn load_duration_ends_requests_in_flight() {
    let silent = Silent::start();
    let t = Instant::now();
    // The per-request timeout (30 s by default) is longer than the run: -d still ends it.
    let out = run(&["load", &silent.url(), "-d", "300ms", "-c", "2"]);
    assert!(t.elapsed() < Duration::from_secs(20), "took {:?}", t.elapsed());
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("no request completed"), "{stderr}");
}

#[test]
fn demo_runs_every_scenario_and_exits() {
    let out = run(&["demo"]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{:?}\n{stdout}\n{stderr}", out.status);
    for n in 1..=7 {
        assert!(stdout.contains(&format!("\n{n}. ")), "scenario {n} missing:\n{stdout}");
    }
    // Scenario 5 ran in the child with grove-patch enabled: std::net through the hooks.
    assert!(stdout.contains("std::net client got \"you said alpha\""), "{stdout}");
    assert!(stdout.contains("printed: 1 2 3 4"), "{stdout}");
}
