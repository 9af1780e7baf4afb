//! `grove serve`: hello world, or static files from a directory.
//!
//! Three shapes, from the same code:
//! - one hub in one process (the default): a greenlet per connection on the main thread;
//! - `--hubs N`: a [`grove::Runtime`] with N hubs, each serving its own SO_REUSEPORT
//!   listener for the same port (the kernel spreads connections across them);
//! - `--workers N`: gunicorn's model. This process reserves the port (a socket bound with
//!   SO_REUSEPORT that never listens, so the kernel hands it no connections) and starts
//!   itself N times with the same arguments and `GROVE_SERVE_WORKER` set; each worker binds
//!   its own listeners to the reserved port, says `ready` on its stdout and serves. The
//!   supervisor announces the address once every worker is ready, and stops them all when
//!   one dies. Workers die with the supervisor (`PR_SET_PDEATHSIG`), even when it is killed.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use grove_http::files::StaticDir;
use grove_http::{Body, Response, Server};

use crate::args::ServeArgs;

/// Set in a worker's environment: `SUPERVISOR_PID,WORKER_INDEX,ADDR`.
const WORKER_ENV: &str = "GROVE_SERVE_WORKER";

/// The listen backlog of every listener (grove's default; the kernel caps it at somaxconn).
const BACKLOG: i32 = grove::net::DEFAULT_BACKLOG as i32;

pub(crate) fn run(args: ServeArgs) -> Result<(), String> {
    if let Some(d) = &args.dir {
        StaticDir::new(d).map_err(|e| format!("--dir {}: {e}", d.display()))?;
    }
    if let Ok(spec) = std::env::var(WORKER_ENV) {
        return worker(&args, &spec);
    }
    if args.workers > 1 {
        return supervise(&args);
    }
    let addr = resolve(&args.bind)?;
    let listeners = if args.hubs > 1 {
        reuseport_listeners(addr, args.hubs)?
    } else {
        let s = socket(addr, false, true).map_err(|e| format!("bind {addr}: {e}"))?;
        vec![s.into()]
    };
    let local = listeners[0].local_addr().map_err(|e| e.to_string())?;
    let what = match &args.dir {
        Some(d) => d.display().to_string(),
        None => "hello world".into(),
    };
    let hubs = match args.hubs {
        1 => String::new(),
        n => format!(" with {n} hubs"),
    };
    eprintln!("grove: serving {what} on http://{local}/{hubs} (Ctrl-C to stop)");
    serve_all(listeners, &args)
}

/// Serves on every listener: on this thread's hub when there is one, else one hub each.
fn serve_all(mut listeners: Vec<std::net::TcpListener>, args: &ServeArgs) -> Result<(), String> {
    if listeners.len() == 1 {
        let l = listeners.pop().expect("one listener");
        return grove::run(|| serve_one(l, args.dir.clone(), args.list, args.log));
    }
    let rt = grove::Runtime::builder()
        .hubs(listeners.len())
        .monitor(None)
        .build()
        .map_err(|e| e.to_string())?;
    let servers: Vec<_> = listeners
        .into_iter()
        .enumerate()
        .map(|(i, l)| {
            let (dir, list, log) = (args.dir.clone(), args.list, args.log);
            rt.spawn_on(i, move || serve_one(l, dir, list, log))
        })
        .collect();
    for s in servers {
        s.join().map_err(|e| e.to_string())??;
    }
    Ok(())
}

/// One server on the calling hub; runs until the process is stopped.
fn serve_one(
    listener: std::net::TcpListener,
    dir: Option<PathBuf>,
    list: bool,
    log: bool,
) -> Result<(), String> {
    let listener = grove::net::TcpListener::from_std(listener).map_err(|e| e.to_string())?;
    let config = grove_http::Config { access_log: log, ..Default::default() };
    let server = Server::from_listener(listener).with_config(config);
    let files = dir
        .map(|d| {
            StaticDir::new(&d)
                .map(|s| s.with_listing(list))
                .map_err(|e| format!("--dir {}: {e}", d.display()))
        })
        .transpose()?;
    server
        .serve(move |req| match &files {
            Some(d) => d.serve(&req),
            None => Response::new(Body::from("Hello, World!")),
        })
        .map_err(|e| e.to_string())
}

/// The first address `bind` names (a host name is resolved once, here).
fn resolve(bind: &str) -> Result<SocketAddr, String> {
    bind.to_socket_addrs()
        .map_err(|e| format!("--bind {bind}: {e}"))?
        .next()
        .ok_or_else(|| format!("--bind {bind}: no address"))
}

/// A socket bound to `addr` (close-on-exec, SO_REUSEADDR, SO_REUSEPORT when `reuseport`),
/// listening when `listen`.
fn socket(addr: SocketAddr, reuseport: bool, listen: bool) -> std::io::Result<socket2::Socket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let s = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    s.set_reuse_address(true)?;
    s.set_reuse_port(reuseport)?;
    s.bind(&addr.into())?;
    if listen {
        s.listen(BACKLOG)?;
    }
    Ok(s)
}

/// `n` listeners on the same address; port 0 is resolved by the first one.
fn reuseport_listeners(
    mut addr: SocketAddr,
    n: usize,
) -> Result<Vec<std::net::TcpListener>, String> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let s = socket(addr, true, true).map_err(|e| format!("bind {addr}: {e}"))?;
        let l: std::net::TcpListener = s.into();
        addr = l.local_addr().map_err(|e| e.to_string())?;
        out.push(l);
    }
    Ok(out)
}

/// The supervisor of `--workers N`.
fn supervise(args: &ServeArgs) -> Result<(), String> {
    let addr = resolve(&args.bind)?;
    // Held until this process ends: it keeps the port (and, for port 0, the port number)
    // for the workers' listeners without ever being given a connection itself.
    let reserved = socket(addr, true, false).map_err(|e| format!("bind {addr}: {e}"))?;
    let addr = reserved
        .local_addr()
        .ok()
        .and_then(|a| a.as_socket())
        .ok_or("the reserved socket has no address")?;
    let exe = std::env::current_exe().map_err(|e| format!("cannot start workers: {e}"))?;
    let mut workers = Workers(Vec::with_capacity(args.workers));
    for i in 0..args.workers {
        let child = Command::new(&exe)
            .args(std::env::args_os().skip(1))
            .env(WORKER_ENV, format!("{},{i},{addr}", std::process::id()))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("starting worker {i}: {e}"))?;
        workers.0.push(child);
    }
    // Each worker says `ready` once its listeners are bound; a worker that dies first
    // (its error is on stderr) closes its stdout instead.
    let mut pipes = Vec::with_capacity(args.workers);
    for (i, w) in workers.0.iter_mut().enumerate() {
        let mut out = BufReader::new(w.stdout.take().expect("piped stdout"));
        let mut line = String::new();
        let _ = out.read_line(&mut line);
        if line.trim() != "ready" {
            let status = w.wait().map(|s| s.to_string()).unwrap_or_else(|e| e.to_string());
            return Err(format!("worker {i} failed to start ({status})"));
        }
        pipes.push(out);
    }
    let what = match &args.dir {
        Some(d) => d.display().to_string(),
        None => "hello world".into(),
    };
    eprintln!(
        "grove: serving {what} on http://{addr}/ with {} workers x {} hubs (Ctrl-C to stop)",
        args.workers, args.hubs
    );
    loop {
        for (i, w) in workers.0.iter_mut().enumerate() {
            if let Ok(Some(status)) = w.try_wait() {
                return Err(format!("worker {i} (pid {}) exited: {status}", w.id()));
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The worker processes; any still running are stopped when this is dropped.
struct Workers(Vec<Child>);

impl Drop for Workers {
    fn drop(&mut self) {
        for w in &mut self.0 {
            if let Ok(None) = w.try_wait() {
                let _ = w.kill();
                let _ = w.wait();
            }
        }
    }
}

/// A worker of `--workers N`, started by `supervise` with `spec` = `PID,INDEX,ADDR`.
fn worker(args: &ServeArgs, spec: &str) -> Result<(), String> {
    let mut parts = spec.splitn(3, ',');
    let bad = || format!("{WORKER_ENV}={spec}: expected SUPERVISOR_PID,INDEX,ADDR");
    let ppid: i32 = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
    let index: usize = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
    let addr: SocketAddr = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
    die_with_parent(ppid)?;
    let listeners = reuseport_listeners(addr, args.hubs)?;
    eprintln!(
        "grove: worker {index} (pid {}) listening with {} hubs",
        std::process::id(),
        args.hubs
    );
    println!("ready");
    serve_all(listeners, args)
}

/// Asks the kernel to stop this process when the supervisor dies, however it dies.
fn die_with_parent(ppid: i32) -> Result<(), String> {
    // SAFETY: prctl(PR_SET_PDEATHSIG) takes a signal number and touches no memory.
    let r = unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM as libc::c_ulong) };
    if r != 0 {
        return Err(format!("prctl(PR_SET_PDEATHSIG): {}", std::io::Error::last_os_error()));
    }
    // The supervisor may have died before the request above: then nobody will signal us.
    // SAFETY: getppid has no preconditions.
    if unsafe { libc::getppid() } != ppid {
        return Err("the supervisor exited before this worker started".into());
    }
    Ok(())
}
