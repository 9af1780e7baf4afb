//! Child processes whose pipes are read and written cooperatively (gevent.subprocess).
//!
//! ```
//! let out = grove::process::Command::new("echo").arg("hello").output().unwrap();
//! assert!(out.status.success());
//! assert_eq!(out.stdout, b"hello\n");
//! ```
//!
//! The pipes are registered with the hub, so reading a child's output parks only the calling
//! greenlet. Waiting for the exit runs `wait(2)` on the [thread pool](crate::thread_pool)
//! (one pool thread per process being waited for).

use std::ffi::OsStr;
use std::io::{self, Read, Write};
use std::path::Path;
use std::process::{ExitStatus, Output, Stdio};

use crate::io::{Direction, Registered};

/// A process builder mirroring `std::process::Command`.
#[derive(Debug)]
pub struct Command {
    inner: std::process::Command,
}

impl Command {
    /// A command running `program`.
    pub fn new(program: impl AsRef<OsStr>) -> Command {
        Command { inner: std::process::Command::new(program) }
    }

    /// Adds an argument.
    pub fn arg(&mut self, a: impl AsRef<OsStr>) -> &mut Command {
        self.inner.arg(a);
        self
    }

    /// Adds arguments.
    pub fn args<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(&mut self, args: I) -> &mut Command {
        self.inner.args(args);
        self
    }

    /// Sets an environment variable.
    pub fn env(&mut self, k: impl AsRef<OsStr>, v: impl AsRef<OsStr>) -> &mut Command {
        self.inner.env(k, v);
        self
    }

    /// Sets the working directory.
    pub fn current_dir(&mut self, dir: impl AsRef<Path>) -> &mut Command {
        self.inner.current_dir(dir);
        self
    }

    /// Configures stdin (`Stdio::piped()` gives [`Child::stdin`]).
    pub fn stdin(&mut self, s: impl Into<Stdio>) -> &mut Command {
        self.inner.stdin(s);
        self
    }

    /// Configures stdout (`Stdio::piped()` gives [`Child::stdout`]).
    pub fn stdout(&mut self, s: impl Into<Stdio>) -> &mut Command {
        self.inner.stdout(s);
        self
    }

    /// Configures stderr (`Stdio::piped()` gives [`Child::stderr`]).
    pub fn stderr(&mut self, s: impl Into<Stdio>) -> &mut Command {
        self.inner.stderr(s);
        self
    }

    /// The underlying std builder, for options not mirrored here.
    pub fn as_std_mut(&mut self) -> &mut std::process::Command {
        &mut self.inner
    }

    /// Starts the process.
    ///
    /// # Errors
    /// The OS error (program not found, EMFILE...).
    pub fn spawn(&mut self) -> io::Result<Child> {
        Child::from_std(self.inner.spawn()?)
    }

    /// Runs the process with stdout and stderr captured, stdin closed; waits for it.
    ///
    /// # Errors
    /// As [`spawn`](Self::spawn), plus pipe errors.
    pub fn output(&mut self) -> io::Result<Output> {
        self.inner.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        self.spawn()?.wait_with_output()
    }

    /// Runs the process and waits for its exit status.
    ///
    /// # Errors
    /// As [`spawn`](Self::spawn).
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
    "The child's stdin; `Write` parks while the pipe is full."
);
pipe_end!(
    ChildStdout,
    mio::unix::pipe::Receiver,
    std::process::ChildStdout,
    "The child's stdout; `Read` parks while the pipe is empty."
);
pipe_end!(
    ChildStderr,
    mio::unix::pipe::Receiver,
    std::process::ChildStderr,
    "The child's stderr; `Read` parks while the pipe is empty."
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
#[derive(Debug)]
pub struct Child {
    inner: Option<std::process::Child>,
    status: Option<ExitStatus>,
    /// The child's stdin, if piped.
    pub stdin: Option<ChildStdin>,
    /// The child's stdout, if piped.
    pub stdout: Option<ChildStdout>,
    /// The child's stderr, if piped.
    pub stderr: Option<ChildStderr>,
}

impl Child {
    fn from_std(mut c: std::process::Child) -> io::Result<Child> {
        Ok(Child {
            stdin: c.stdin.take().map(ChildStdin::from_std).transpose()?,
            stdout: c.stdout.take().map(ChildStdout::from_std).transpose()?,
            stderr: c.stderr.take().map(ChildStderr::from_std).transpose()?,
            inner: Some(c),
            status: None,
        })
    }

    fn std(&mut self) -> io::Result<&mut std::process::Child> {
        self.inner.as_mut().ok_or_else(|| io::Error::other("an earlier wait was interrupted"))
    }

    /// The OS process id.
    pub fn id(&self) -> u32 {
        self.inner.as_ref().map_or(0, |c| c.id())
    }

    /// Sends SIGKILL.
    ///
    /// # Errors
    /// The OS error.
    pub fn kill(&mut self) -> io::Result<()> {
        self.std()?.kill()
    }

    /// The exit status if the process has exited, without waiting.
    ///
    /// # Errors
    /// The OS error.
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        if self.status.is_some() {
            return Ok(self.status);
        }
        let s = self.std()?.try_wait()?;
        self.status = s;
        Ok(s)
    }

    /// Waits (cooperatively) for the process to exit. Closes stdin first, as std does.
    ///
    /// # Errors
    /// The OS error; `TimedOut` inside an expired `timeout` scope (the child is then waited for
    /// in the background and this `Child` can no longer be waited on).
    pub fn wait(&mut self) -> io::Result<ExitStatus> {
        drop(self.stdin.take());
        if let Some(s) = self.try_wait()? {
            return Ok(s);
        }
        let mut c =
            self.inner.take().ok_or_else(|| io::Error::other("an earlier wait was interrupted"))?;
        let (c, r) = crate::thread_pool::spawn_blocking(move || {
            let r = c.wait();
            (c, r)
        })?;
        self.inner = Some(c);
        let s = r?;
        self.status = Some(s);
        Ok(s)
    }

    /// Reads stdout and stderr to their ends (concurrently, in two greenlets) and waits.
    ///
    /// # Errors
    /// Pipe or wait errors.
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
