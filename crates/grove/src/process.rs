//! Child processes whose pipes are read and written cooperatively (gevent.subprocess).
//!
//! ```
//! let out = grove::process::Command::new("echo").arg("hello").output().unwrap();
//! assert!(out.status.success());
//! assert_eq!(out.stdout, b"hello\n");
//! ```
//!
//! The pipes are registered with the hub, so reading a child's output parks only the calling
//! greenlet. Waiting for the exit parks on a pidfd (`pidfd_open(2)`, Linux 5.3+) registered with
//! the hub like any socket, and reaps with a non-blocking `waitpid` once it turns readable: no
//! thread is held per child, so thousands of children can be waited for at once.
//!
//! Where `pidfd_open` is unavailable (`ENOSYS` on kernels before 5.3, `EPERM` from a seccomp
//! filter) or fails for lack of resources, waiting falls back to polling `waitpid(WNOHANG)`
//! with a backoff from 1 ms to 50 ms: correct, still thread-free, with up to 50 ms of latency.
//!
//! A wait cut short (its `_timeout`, an enclosing `timeout` scope, a kill) leaves the [`Child`]
//! as it was: it can be waited for again, polled, killed. A `Child` dropped before its exit was
//! collected is reaped in the background (one process-wide reaper thread, started on first
//! need, sleeping on the orphans' pidfds), so it never stays a zombie; it is not killed.

use std::ffi::OsStr;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::process::{ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::hub;
use crate::hub::fiber::Wake;
use crate::io::{Direction, Registered};

/// A process builder mirroring `std::process::Command`.
///
/// # Examples
///
/// ```
/// use grove::process::Command;
/// let out = Command::new("sh").args(["-c", "echo $GREETING"]).env("GREETING", "hi").output()?;
/// assert_eq!(out.stdout, b"hi\n");
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct Command {
    inner: std::process::Command,
}

impl Command {
    /// A command running `program`.
    ///
    /// # Examples
    ///
    /// ```
    /// let status = grove::process::Command::new("true").status()?;
    /// assert!(status.success());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new(program: impl AsRef<OsStr>) -> Command {
        Command { inner: std::process::Command::new(program) }
    }

    /// Adds an argument.
    ///
    /// # Examples
    ///
    /// ```
    /// let out = grove::process::Command::new("echo").arg("-n").arg("x").output()?;
    /// assert_eq!(out.stdout, b"x");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn arg(&mut self, a: impl AsRef<OsStr>) -> &mut Command {
        self.inner.arg(a);
        self
    }

    /// Adds arguments.
    ///
    /// # Examples
    ///
    /// ```
    /// let out = grove::process::Command::new("echo").args(["a", "b"]).output()?;
    /// assert_eq!(out.stdout, b"a b\n");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn args<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(&mut self, args: I) -> &mut Command {
        self.inner.args(args);
        self
    }

    /// Sets an environment variable.
    ///
    /// # Examples
    ///
    /// ```
    /// use grove::process::Command;
    /// let out = Command::new("sh")
    ///     .args(["-c", "printf %s \"$MODE\""])
    ///     .env("MODE", "test")
    ///     .output()?;
    /// assert_eq!(out.stdout, b"test");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn env(&mut self, k: impl AsRef<OsStr>, v: impl AsRef<OsStr>) -> &mut Command {
        self.inner.env(k, v);
        self
    }

    /// Sets the working directory.
    ///
    /// # Examples
    ///
    /// ```
    /// let out = grove::process::Command::new("pwd").current_dir("/").output()?;
    /// assert_eq!(out.stdout, b"/\n");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn current_dir(&mut self, dir: impl AsRef<Path>) -> &mut Command {
        self.inner.current_dir(dir);
        self
    }

    /// Configures stdin (`Stdio::piped()` gives [`Child::stdin`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Write;
    /// use std::process::Stdio;
    /// let mut child = grove::process::Command::new("cat")
    ///     .stdin(Stdio::piped())
    ///     .stdout(Stdio::piped())
    ///     .spawn()?;
    /// child.stdin.as_mut().unwrap().write_all(b"echoed")?;
    /// let out = child.wait_with_output()?; // closes stdin first
    /// assert_eq!(out.stdout, b"echoed");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn stdin(&mut self, s: impl Into<Stdio>) -> &mut Command {
        self.inner.stdin(s);
        self
    }

    /// Configures stdout (`Stdio::piped()` gives [`Child::stdout`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Read;
    /// use std::process::Stdio;
    /// let mut child =
    ///     grove::process::Command::new("echo").arg("hi").stdout(Stdio::piped()).spawn()?;
    /// let mut s = String::new();
    /// child.stdout.take().unwrap().read_to_string(&mut s)?; // parks, not blocks
    /// assert_eq!(s, "hi\n");
    /// child.wait()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn stdout(&mut self, s: impl Into<Stdio>) -> &mut Command {
        self.inner.stdout(s);
        self
    }

    /// Configures stderr (`Stdio::piped()` gives [`Child::stderr`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::process::Stdio;
    /// let status = grove::process::Command::new("sh")
    ///     .args(["-c", "echo noise >&2"])
    ///     .stderr(Stdio::null())
    ///     .status()?;
    /// assert!(status.success());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn stderr(&mut self, s: impl Into<Stdio>) -> &mut Command {
        self.inner.stderr(s);
        self
    }

    /// The underlying std builder, for options not mirrored here.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut cmd = grove::process::Command::new("env");
    /// cmd.as_std_mut().env_clear(); // any std option grove does not mirror
    /// assert!(cmd.output()?.stdout.is_empty());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn as_std_mut(&mut self) -> &mut std::process::Command {
        &mut self.inner
    }

    /// Starts the process.
    ///
    /// # Errors
    /// The OS error (program not found, EMFILE...).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::ErrorKind;
    /// use grove::process::Command;
    /// let mut child = Command::new("sleep").arg("0.01").spawn()?;
    /// assert!(child.wait()?.success());
    /// let err = Command::new("/nonexistent/program").spawn().unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::NotFound);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn spawn(&mut self) -> io::Result<Child> {
        Child::from_std(self.inner.spawn()?)
    }

    /// Runs the process with stdout and stderr captured, stdin closed; waits for it.
    ///
    /// # Errors
    /// As [`spawn`](Self::spawn), plus pipe errors.
    ///
    /// # Examples
    ///
    /// ```
    /// let out = grove::process::Command::new("sh")
    ///     .args(["-c", "echo out; echo err >&2; exit 3"])
    ///     .output()?;
    /// assert_eq!((out.stdout, out.stderr), (b"out\n".to_vec(), b"err\n".to_vec()));
    /// assert_eq!(out.status.code(), Some(3));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn output(&mut self) -> io::Result<Output> {
        self.inner.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        self.spawn()?.wait_with_output()
    }

    /// Runs the process and waits for its exit status.
    ///
    /// # Errors
    /// As [`spawn`](Self::spawn).
    ///
    /// # Examples
    ///
    /// ```
    /// let status = grove::process::Command::new("false").status()?;
    /// assert!(!status.success());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn status(&mut self) -> io::Result<ExitStatus> {
        self.spawn()?.wait()
    }
}

macro_rules! pipe_end {
    ($name:ident, $mio:ty, $std:ty, $doc:literal) => {
        #[doc = $doc]
        #[derive(Debug)]
        pub struct $name {
            io: Registered<$mio>,
        }

        impl $name {
            fn from_std(p: $std) -> io::Result<$name> {
                let p = <$mio>::from(p);
                p.set_nonblocking(true)?;
                Ok($name { io: Registered::new(p)? })
            }
        }
    };
}

pipe_end!(
    ChildStdin,
    mio::unix::pipe::Sender,
    std::process::ChildStdin,
    r#"The child's stdin; `Write` parks while the pipe is full.

```
use std::io::Write;
use std::process::Stdio;
let mut child = grove::process::Command::new("wc")
    .arg("-c")
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .spawn()?;
let mut stdin = child.stdin.take().unwrap();
stdin.write_all(b"12345")?;
drop(stdin); // end of input
let out = child.wait_with_output()?;
assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "5");
# Ok::<(), std::io::Error>(())
```"#
);
pipe_end!(
    ChildStdout,
    mio::unix::pipe::Receiver,
    std::process::ChildStdout,
    r#"The child's stdout; `Read` parks while the pipe is empty.

```
use std::io::{BufRead, BufReader};
use std::process::Stdio;
let mut child = grove::process::Command::new("seq")
    .arg("3")
    .stdout(Stdio::piped())
    .spawn()?;
let lines = BufReader::new(child.stdout.take().unwrap()).lines();
let lines: Vec<String> = lines.collect::<Result<_, _>>()?; // other greenlets run meanwhile
assert_eq!(lines, ["1", "2", "3"]);
child.wait()?;
# Ok::<(), std::io::Error>(())
```"#
);
pipe_end!(
    ChildStderr,
    mio::unix::pipe::Receiver,
    std::process::ChildStderr,
    r#"The child's stderr; `Read` parks while the pipe is empty.

```
use std::io::Read;
use std::process::Stdio;
let mut child = grove::process::Command::new("sh")
    .args(["-c", "echo oops >&2"])
    .stderr(Stdio::piped())
    .spawn()?;
let mut err = String::new();
child.stderr.take().unwrap().read_to_string(&mut err)?;
assert_eq!(err, "oops\n");
child.wait()?;
# Ok::<(), std::io::Error>(())
```"#
);

impl Write for ChildStdin {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.io.io_stream(Direction::Write, None, buf.len(), |mut p| p.write(buf))
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Read for ChildStdout {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let len = buf.len();
        self.io.io_stream(Direction::Read, None, len, |mut p| p.read(buf))
    }
}

impl Read for ChildStderr {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let len = buf.len();
        self.io.io_stream(Direction::Read, None, len, |mut p| p.read(buf))
    }
}

/// A running child process.
///
/// # Examples
///
/// ```
/// // Children run concurrently; each wait parks only its own greenlet.
/// let hs: Vec<_> = (0..3)
///     .map(|_| grove::spawn(|| grove::process::Command::new("sleep").arg("0.05").status()))
///     .collect();
/// for h in hs {
///     assert!(h.join().unwrap()?.success());
/// }
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct Child {
    proc: Proc,
    /// The child's stdin, if piped.
    pub stdin: Option<ChildStdin>,
    /// The child's stdout, if piped.
    pub stdout: Option<ChildStdout>,
    /// The child's stderr, if piped.
    pub stderr: Option<ChildStderr>,
}

/// The process itself; reaped in the background if dropped before its exit was collected.
#[derive(Debug)]
struct Proc {
    /// Always `Some` until dropped.
    std: Option<std::process::Child>,
    /// Opened and registered with the hub on the first wait that has to block.
    pidfd: Option<Registered<PidFd>>,
    /// `pidfd_open` failed: waits poll instead.
    polling: bool,
}

impl Child {
    fn from_std(mut c: std::process::Child) -> io::Result<Child> {
        Ok(Child {
            stdin: c.stdin.take().map(ChildStdin::from_std).transpose()?,
            stdout: c.stdout.take().map(ChildStdout::from_std).transpose()?,
            stderr: c.stderr.take().map(ChildStderr::from_std).transpose()?,
            proc: Proc { std: Some(c), pidfd: None, polling: false },
        })
    }

    fn std(&mut self) -> &mut std::process::Child {
        self.proc.std.as_mut().expect("grove: child present until dropped")
    }

    /// The OS process id (valid for `kill(2)` until the exit has been collected).
    ///
    /// # Examples
    ///
    /// ```
    /// let mut child = grove::process::Command::new("true").spawn()?;
    /// assert!(child.id() > 0);
    /// child.wait()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn id(&self) -> u32 {
        self.proc.std.as_ref().expect("grove: child present until dropped").id()
    }

    /// Sends SIGKILL. Once the exit has been collected (by a wait or `try_wait`) this does
    /// nothing and succeeds, as in std (the pid may belong to another process by then).
    ///
    /// # Errors
    /// The OS error.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::os::unix::process::ExitStatusExt;
    /// let mut child = grove::process::Command::new("sleep").arg("60").spawn()?;
    /// child.kill()?;
    /// assert_eq!(child.wait()?.signal(), Some(9)); // SIGKILL
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn kill(&mut self) -> io::Result<()> {
        self.std().kill()
    }

    /// The exit status if the process has exited, without waiting.
    ///
    /// # Errors
    /// The OS error.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut child = grove::process::Command::new("sleep").arg("60").spawn()?;
    /// assert!(child.try_wait()?.is_none()); // still running
    /// child.kill()?;
    /// child.wait()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        self.std().try_wait()
    }

    /// Waits (cooperatively) for the process to exit. Closes stdin first, as std does.
    ///
    /// # Errors
    /// The OS error; `TimedOut` inside an expired `timeout` scope, `Interrupted` when called
    /// while unwinding. A wait cut short by a scope or a kill leaves the child untouched:
    /// wait again, `try_wait`, `kill` and `id` work as before.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut child = grove::process::Command::new("sh").args(["-c", "exit 7"]).spawn()?;
    /// assert_eq!(child.wait()?.code(), Some(7));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn wait(&mut self) -> io::Result<ExitStatus> {
        self.wait_until(None)
    }

    /// [`wait`](Self::wait), giving up after `timeout` with `ErrorKind::TimedOut` (the child
    /// keeps running and can be waited for again).
    ///
    /// # Errors
    /// As [`wait`](Self::wait).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::ErrorKind;
    /// use std::time::Duration;
    /// let mut child = grove::process::Command::new("sleep").arg("60").spawn()?;
    /// let err = child.wait_timeout(Duration::from_millis(10)).unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::TimedOut);
    /// child.kill()?; // the child is still there: kill it, wait again
    /// child.wait()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn wait_timeout(&mut self, timeout: Duration) -> io::Result<ExitStatus> {
        self.wait_until(crate::time::deadline_after(timeout))
    }

    /// [`wait`](Self::wait), giving up at `deadline` with `ErrorKind::TimedOut`.
    ///
    /// # Errors
    /// As [`wait`](Self::wait).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let mut child = grove::process::Command::new("true").spawn()?;
    /// let status = child.wait_deadline(Instant::now() + Duration::from_secs(10))?;
    /// assert!(status.success());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn wait_deadline(&mut self, deadline: Instant) -> io::Result<ExitStatus> {
        self.wait_until(Some(deadline))
    }

    fn wait_until(&mut self, deadline: Option<Instant>) -> io::Result<ExitStatus> {
        drop(self.stdin.take());
        if let Some(s) = self.try_wait()? {
            return Ok(s);
        }
        let p = &mut self.proc;
        if p.pidfd.is_none() && !p.polling {
            // Any failure (no pidfd_open, no fd left, epoll refusing it) means polling.
            let fd = open_pidfd(p.std.as_ref().expect("grove: child present").id());
            match fd.and_then(|fd| Registered::new(PidFd(fd))) {
                Ok(r) => p.pidfd = Some(r),
                Err(_) => p.polling = true,
            }
        }
        let std = p.std.as_mut().expect("grove: child present until dropped");
        match &p.pidfd {
            Some(fd) => {
                let timeout = deadline.map(|d| d.saturating_duration_since(Instant::now()));
                // The pidfd turns readable when the process exits; until then reaping would
                // block, which `io` treats as `WouldBlock`: park until the poller says so.
                fd.io(Direction::Read, timeout, |_| match std.try_wait()? {
                    Some(s) => Ok(s),
                    None => Err(io::ErrorKind::WouldBlock.into()),
                })
            }
            None => poll_wait(std, deadline),
        }
    }

    /// Reads stdout and stderr to their ends (concurrently, in two greenlets) and waits.
    ///
    /// # Errors
    /// Pipe or wait errors.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::process::Stdio;
    /// let child =
    ///     grove::process::Command::new("echo").arg("done").stdout(Stdio::piped()).spawn()?;
    /// let out = child.wait_with_output()?;
    /// assert_eq!(out.stdout, b"done\n");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn wait_with_output(mut self) -> io::Result<Output> {
        drop(self.stdin.take());
        fn drain<R: Read + 'static>(r: Option<R>) -> crate::JoinHandle<io::Result<Vec<u8>>> {
            crate::spawn(move || {
                let mut v = Vec::new();
                if let Some(mut r) = r {
                    r.read_to_end(&mut v)?;
                }
                Ok(v)
            })
        }
        let (out, err) = (drain(self.stdout.take()), drain(self.stderr.take()));
        let stdout = out.join().map_err(|e| io::Error::other(e.to_string()))??;
        let stderr = err.join().map_err(|e| io::Error::other(e.to_string()))??;
        let status = self.wait()?;
        Ok(Output { status, stdout, stderr })
    }
}

/// The fallback wait: `waitpid(WNOHANG)` with a growing pause in between.
fn poll_wait(c: &mut std::process::Child, deadline: Option<Instant>) -> io::Result<ExitStatus> {
    let mut pause = Duration::from_millis(1);
    loop {
        if let Some(s) = c.try_wait()? {
            return Ok(s);
        }
        let next = Instant::now() + pause;
        pause = (pause * 2).min(Duration::from_millis(50));
        let until = deadline.map_or(next, |d| d.min(next));
        // Nobody holds a token for this park: only its deadline (or a kill) ends it.
        match hub::with(|h| h.park(Some(until), "child wait")) {
            Wake::Normal | Wake::TimedOut => {
                // Only the call's own deadline ends the loop here: an expired timeout scope
                // unwinds from the next park (reporting it as this wait's result would hand
                // the scope's expiry to the caller as an I/O error).
                if deadline.is_some_and(|d| d <= Instant::now()) {
                    return Err(io::Error::new(io::ErrorKind::TimedOut, "child wait timed out"));
                }
            }
            w => return Err(crate::thread_pool::wake_error(w)),
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let Some(mut c) = self.std.take() else { return };
        if !matches!(c.try_wait(), Ok(None)) {
            return; // collected (or not our child any more: nothing to reap)
        }
        let fd = match self.pidfd.take() {
            Some(r) => Some(r.into_inner().0),
            None if self.polling => None,
            None => open_pidfd(c.id()).ok(),
        };
        reaper::adopt(c, fd);
    }
}

static PIDFD_DISABLED: AtomicBool = AtomicBool::new(false);

/// Makes every later wait in this process use the polling fallback, as on a kernel without
/// `pidfd_open`. For tests of that path only.
#[doc(hidden)]
pub fn force_polling_fallback() {
    PIDFD_DISABLED.store(true, Ordering::Relaxed);
}

/// A pidfd for our (unreaped, so not recyclable) child `pid`, close-on-exec.
fn open_pidfd(pid: u32) -> io::Result<OwnedFd> {
    if PIDFD_DISABLED.load(Ordering::Relaxed) {
        return Err(io::Error::from_raw_os_error(libc::ENOSYS));
    }
    let pid =
        libc::pid_t::try_from(pid).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: pidfd_open(pid, flags) reads no memory of ours; it returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        let e = io::Error::last_os_error();
        if matches!(e.raw_os_error(), Some(libc::ENOSYS | libc::EPERM)) {
            PIDFD_DISABLED.store(true, Ordering::Relaxed);
        }
        return Err(e);
    }
    let fd = i32::try_from(fd).map_err(|_| io::Error::other("pidfd_open returned a bad fd"))?;
    // SAFETY: the kernel just created `fd` for us; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// A pidfd as a mio source (readable once the process has exited).
#[derive(Debug)]
struct PidFd(OwnedFd);

impl mio::event::Source for PidFd {
    fn register(
        &mut self,
        registry: &mio::Registry,
        token: mio::Token,
        interests: mio::Interest,
    ) -> io::Result<()> {
        mio::unix::SourceFd(&self.0.as_raw_fd()).register(registry, token, interests)
    }
    fn reregister(
        &mut self,
        registry: &mio::Registry,
        token: mio::Token,
        interests: mio::Interest,
    ) -> io::Result<()> {
        mio::unix::SourceFd(&self.0.as_raw_fd()).reregister(registry, token, interests)
    }
    fn deregister(&mut self, registry: &mio::Registry) -> io::Result<()> {
        mio::unix::SourceFd(&self.0.as_raw_fd()).deregister(registry)
    }
}

/// Reaps children whose `Child` was dropped before their exit was collected.
mod reaper {
    use std::os::fd::{AsRawFd, OwnedFd};
    use std::sync::{Arc, Mutex, OnceLock};
    use std::time::Duration;

    struct Orphan {
        child: std::process::Child,
        pidfd: Option<OwnedFd>,
    }

    struct Shared {
        new: Mutex<Vec<Orphan>>,
        waker: mio::Waker,
    }

    const WAKER: mio::Token = mio::Token(usize::MAX);
    /// How often orphans without a pidfd are polled.
    const POLL: Duration = Duration::from_millis(100);

    /// Hands `child` to the reaper thread. If that thread cannot be started, the child is
    /// left to be reaped by init once this process exits.
    pub(super) fn adopt(child: std::process::Child, pidfd: Option<OwnedFd>) {
        static REAPER: OnceLock<Option<Arc<Shared>>> = OnceLock::new();
        let Some(shared) = REAPER.get_or_init(start) else { return };
        shared.new.lock().unwrap_or_else(|e| e.into_inner()).push(Orphan { child, pidfd });
        let _ = shared.waker.wake();
    }

    fn start() -> Option<Arc<Shared>> {
        let poll = mio::Poll::new().ok()?;
        let waker = mio::Waker::new(poll.registry(), WAKER).ok()?;
        let shared = Arc::new(Shared { new: Mutex::new(Vec::new()), waker });
        let s = shared.clone();
        std::thread::Builder::new()
            .name("grove-reaper".into())
            .spawn(move || run(poll, &s))
            .ok()?;
        Some(shared)
    }

    fn run(mut poll: mio::Poll, shared: &Shared) {
        let mut orphans: slab::Slab<Orphan> = slab::Slab::new();
        let mut events = mio::Events::with_capacity(64);
        loop {
            let polled = orphans.iter().any(|(_, o)| o.pidfd.is_none());
            if let Err(e) = poll.poll(&mut events, polled.then_some(POLL)) {
                if e.kind() != std::io::ErrorKind::Interrupted {
                    std::thread::sleep(POLL);
                }
            }
            let mut check: Vec<usize> =
                events.iter().map(|e| e.token()).filter(|t| *t != WAKER).map(|t| t.0).collect();
            let new = std::mem::take(&mut *shared.new.lock().unwrap_or_else(|e| e.into_inner()));
            for o in new {
                let key = orphans.vacant_entry().key();
                if let Some(fd) = &o.pidfd {
                    let mut src = mio::unix::SourceFd(&fd.as_raw_fd());
                    if poll
                        .registry()
                        .register(&mut src, mio::Token(key), mio::Interest::READABLE)
                        .is_err()
                    {
                        let mut o = o;
                        o.pidfd = None; // polled instead
                        orphans.insert(o);
                        check.push(key);
                        continue;
                    }
                }
                orphans.insert(o);
                check.push(key);
            }
            if polled {
                check.extend(orphans.iter().filter(|(_, o)| o.pidfd.is_none()).map(|(k, _)| k));
            }
            for key in check {
                let Some(o) = orphans.get_mut(key) else { continue };
                // Exited (now reaped), or an error such as ECHILD: either way nothing is left.
                if !matches!(o.child.try_wait(), Ok(None)) {
                    let o = orphans.remove(key);
                    if let Some(fd) = &o.pidfd {
                        let _ =
                            poll.registry().deregister(&mut mio::unix::SourceFd(&fd.as_raw_fd()));
                    }
                }
            }
        }
    }
}
