//! File-system calls through the thread pool: regular files are always "ready" to epoll, so
//! the only way not to block the hub on a slow disk is another thread (as gevent does).
//!
//! # What a timeout or a kill means
//! A call is cut short by an enclosing `timeout` scope (or its own deadline) or by a kill of
//! the calling greenlet. The OS thread doing the work cannot be stopped in the middle of a
//! system call, so the outcome depends on how far the work got (gevent's threaded files behave
//! alike, minus the guarantees marked ★):
//!
//! | call | not started yet ★ | already running |
//! |---|---|---|
//! | any call made while unwinding (a destructor during a kill) or after the deadline ★ | not submitted: `Interrupted` / timed out, nothing happened | — |
//! | [`read`], [`read_to_string`], [`metadata`], [`File::metadata`] | never runs | completes; result dropped (no side effect) |
//! | [`write`](fn@write) | never runs | may create/truncate the file and write all or part of it |
//! | [`remove_file`], [`create_dir_all`] | never runs | may have happened |
//! | [`File::open`], [`File::create`] | never runs | `create` may have created/truncated the file; the fd is closed |
//! | `File` `read` ★ | never runs, nothing consumed | the bytes it gets are kept and handed to the next read on that `File` (no byte lost) |
//! | `File` `write` | never runs | completes in the background, all or part of it |
//! | `File` `seek`, `flush`, [`File::sync_all`] | never runs | completes in the background |
//!
//! "Not started" means the job was still queued (all pool threads busy, or an earlier
//! operation on the same `File` still running): then it is taken off the queue.
//!
//! Operations on one [`File`] (and its clones) run one at a time, in the order they were
//! called ★: an operation waits for every earlier one, including abandoned ones. So after a
//! timed-out `write`, a retry can never land before it, and `flush()` (or
//! `stream_position()`) returns once the abandoned write is done — the position then tells
//! how much of it was written, which is how to retry without duplicating data. If an
//! abandoned operation fails (a write with `ENOSPC`, a `sync_all` with `EIO`), its error is
//! returned by the next operation on that `File` instead of being lost ★ (that operation then
//! does not run).

use std::collections::VecDeque;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::thread_pool::{self, lock, spawn_blocking, Abandoned, Call};

fn owned(p: impl AsRef<Path>) -> PathBuf {
    p.as_ref().to_path_buf()
}

/// Reads a whole file.
///
/// # Errors
/// The OS error; `TimedOut` inside an expired `timeout` scope (see the [module docs](self)).
///
/// # Examples
///
/// ```
/// let path = std::env::temp_dir().join(format!("grove-doc-read-{}", std::process::id()));
/// grove::fs::write(&path, [1, 2, 3])?;
/// assert_eq!(grove::fs::read(&path)?, [1, 2, 3]); // other greenlets run meanwhile
/// grove::fs::remove_file(&path)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn read(path: impl AsRef<Path>) -> io::Result<Vec<u8>> {
    let p = owned(path);
    spawn_blocking(move || std::fs::read(p))?
}

/// Reads a whole file as UTF-8.
///
/// # Errors
/// As [`read`]; `InvalidData` for non-UTF-8 content.
///
/// # Examples
///
/// ```
/// use std::io::ErrorKind;
/// let err = grove::fs::read_to_string("/nonexistent/grove.toml").unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::NotFound);
/// ```
pub fn read_to_string(path: impl AsRef<Path>) -> io::Result<String> {
    let p = owned(path);
    spawn_blocking(move || std::fs::read_to_string(p))?
}

/// Writes a whole file (created or truncated).
///
/// # Errors
/// The OS error; a timeout or kill may leave the write done in part or in full (see the
/// [module docs](self)).
///
/// # Examples
///
/// ```
/// let path = std::env::temp_dir().join(format!("grove-doc-write-{}", std::process::id()));
/// grove::fs::write(&path, "hello")?;
/// assert_eq!(grove::fs::read_to_string(&path)?, "hello");
/// grove::fs::remove_file(&path)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn write(path: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> io::Result<()> {
    let (p, c) = (owned(path), contents.as_ref().to_vec());
    spawn_blocking(move || std::fs::write(p, c))?
}

/// File metadata.
///
/// # Errors
/// The OS error.
///
/// # Examples
///
/// ```
/// let meta = grove::fs::metadata(std::env::temp_dir())?;
/// assert!(meta.is_dir());
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn metadata(path: impl AsRef<Path>) -> io::Result<std::fs::Metadata> {
    let p = owned(path);
    spawn_blocking(move || std::fs::metadata(p))?
}

/// Removes a file.
///
/// # Errors
/// The OS error; `Interrupted` when called while unwinding (nothing is removed then).
///
/// # Examples
///
/// ```
/// let path = std::env::temp_dir().join(format!("grove-doc-rm-{}", std::process::id()));
/// grove::fs::write(&path, b"")?;
/// grove::fs::remove_file(&path)?;
/// assert!(grove::fs::metadata(&path).is_err());
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn remove_file(path: impl AsRef<Path>) -> io::Result<()> {
    let p = owned(path);
    spawn_blocking(move || std::fs::remove_file(p))?
}

/// Creates a directory and its parents.
///
/// # Errors
/// The OS error.
///
/// # Examples
///
/// ```
/// let root = std::env::temp_dir().join(format!("grove-doc-dirs-{}", std::process::id()));
/// grove::fs::create_dir_all(root.join("a/b/c"))?;
/// assert!(grove::fs::metadata(root.join("a/b"))?.is_dir());
/// std::fs::remove_dir_all(&root)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn create_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
    let p = owned(path);
    spawn_blocking(move || std::fs::create_dir_all(p))?
}

/// An open file whose reads, writes and seeks run on the thread pool, one at a time and in
/// call order. Cloning shares the file (and its position). See the [module docs](self) for
/// what a timeout or kill means for each operation.
///
/// # Examples
///
/// ```
/// use std::io::{Read, Seek, SeekFrom, Write};
/// let path = std::env::temp_dir().join(format!("grove-doc-file-{}", std::process::id()));
/// let mut f = grove::fs::File::create(&path)?;
/// f.write_all(b"log line\n")?; // runs on a pool thread; this greenlet waits cooperatively
/// f.seek(SeekFrom::Start(0))?;
/// # drop(f);
/// let mut s = String::new();
/// grove::fs::File::open(&path)?.read_to_string(&mut s)?;
/// assert_eq!(s, "log line\n");
/// grove::fs::remove_file(&path)?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone)]
pub struct File {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for File {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("File").finish_non_exhaustive()
    }
}

struct Shared {
    /// Operations waiting for their turn, and whether a pool job is running them.
    strand: Mutex<Strand>,
    /// Touched only by the operation whose turn it is.
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Strand {
    ops: VecDeque<Op>,
    running: bool,
}

type Op = Box<dyn FnOnce(&mut Inner) + Send>;

struct Inner {
    file: std::fs::File,
    /// Bytes an abandoned read took from the file: the next reads get them first. The OS
    /// position is this many bytes past the position the caller sees.
    unread: Vec<u8>,
    /// An abandoned operation's error, for the next operation to report.
    failed: Option<io::Error>,
}

/// Marks an error as coming from an earlier, abandoned operation.
#[derive(Debug)]
struct Deferred(io::Error);

impl std::fmt::Display for Deferred {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "an earlier operation on this file, abandoned by its caller, failed: {}", self.0)
    }
}

impl std::error::Error for Deferred {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

impl Inner {
    /// Keeps the error of an operation nobody waits for, for the next one.
    fn defer(&mut self, e: io::Error) {
        if self.failed.is_none() {
            let deferred = e.get_ref().is_some_and(|r| r.is::<Deferred>());
            self.failed = Some(if deferred { e } else { io::Error::new(e.kind(), Deferred(e)) });
        }
    }

    /// Puts the OS position back where the caller thinks it is (before writing): unread bytes
    /// were read ahead. On an unseekable file (a FIFO) reads and writes are separate streams,
    /// so the unread bytes stay for the next read.
    fn rewind_unread(&mut self) -> io::Result<()> {
        if self.unread.is_empty() {
            return Ok(());
        }
        let back = i64::try_from(self.unread.len()).map_err(io::Error::other)?;
        match self.file.seek(SeekFrom::Current(-back)) {
            Ok(_) => {
                self.unread.clear();
                Ok(())
            }
            Err(e) if e.raw_os_error() == Some(libc::ESPIPE) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

/// Queues `op` on the file's strand (at the front for leftovers of a finished operation) and
/// makes sure a pool job runs the strand.
fn enqueue(shared: &Arc<Shared>, op: Op, front: bool) -> io::Result<()> {
    let mut st = lock(&shared.strand);
    if front {
        st.ops.push_front(op);
    } else {
        st.ops.push_back(op);
    }
    if st.running {
        return Ok(());
    }
    st.running = true;
    drop(st);
    let s = shared.clone();
    if let Err(e) = thread_pool::submit(Box::new(move || drain(&s))) {
        let mut st = lock(&shared.strand);
        st.running = false;
        let ops = std::mem::take(&mut st.ops);
        drop(st);
        // Their callers learn that they were dropped unrun.
        drop(ops);
        return Err(e);
    }
    Ok(())
}

/// Runs the file's operations in order until none is left (on a pool thread).
fn drain(s: &Shared) {
    loop {
        let op = {
            let mut st = lock(&s.strand);
            match st.ops.pop_front() {
                Some(op) => op,
                None => {
                    st.running = false;
                    return;
                }
            }
        };
        let mut inner = lock(&s.inner);
        // Operations catch their own panics; this keeps the strand going if one doesn't.
        let _ = panic::catch_unwind(AssertUnwindSafe(|| op(&mut inner)));
    }
}

/// Abandons a file operation when its caller stops waiting (error return or unwind).
struct FileCall<R: Send + 'static> {
    call: Option<Call<io::Result<R>>>,
    shared: Arc<Shared>,
    orphan: fn(&mut Inner, R),
}

impl<R: Send + 'static> Drop for FileCall<R> {
    fn drop(&mut self) {
        let Some(c) = self.call.take() else { return };
        if let Abandoned::Done(Ok(r)) = c.abandon() {
            // It finished but nobody took the value: handle its leftovers next, before any
            // operation queued after it.
            let orphan = self.orphan;
            let op: Op = Box::new(move |inner| match r {
                Ok(v) => orphan(inner, v),
                Err(e) => inner.defer(e),
            });
            let _ = enqueue(&self.shared, op, true);
        }
    }
}

impl File {
    /// Opens a file for reading.
    ///
    /// # Errors
    /// The OS error.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::{ErrorKind, Read};
    /// let path = std::env::temp_dir().join(format!("grove-doc-open-{}", std::process::id()));
    /// grove::fs::write(&path, "abc")?;
    /// let mut s = String::new();
    /// grove::fs::File::open(&path)?.read_to_string(&mut s)?;
    /// assert_eq!(s, "abc");
    /// grove::fs::remove_file(&path)?;
    /// assert_eq!(grove::fs::File::open(&path).unwrap_err().kind(), ErrorKind::NotFound);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn open(path: impl AsRef<Path>) -> io::Result<File> {
        let p = owned(path);
        Ok(File::from_std(spawn_blocking(move || std::fs::File::open(p))??))
    }

    /// Creates (or truncates) a file for writing.
    ///
    /// # Errors
    /// The OS error.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Write;
    /// let path = std::env::temp_dir().join(format!("grove-doc-create-{}", std::process::id()));
    /// let mut f = grove::fs::File::create(&path)?; // created, or truncated
    /// f.write_all(b"data")?;
    /// f.flush()?;
    /// assert_eq!(grove::fs::read(&path)?, b"data");
    /// grove::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn create(path: impl AsRef<Path>) -> io::Result<File> {
        let p = owned(path);
        Ok(File::from_std(spawn_blocking(move || std::fs::File::create(p))??))
    }

    /// Wraps an open std file.
    ///
    /// # Examples
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("grove-doc-fromstd-{}", std::process::id()));
    /// let std_file = std::fs::OpenOptions::new().append(true).create(true).open(&path)?;
    /// let f = grove::fs::File::from_std(std_file); // any options std offers
    /// assert_eq!(f.metadata()?.len(), 0);
    /// grove::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn from_std(f: std::fs::File) -> File {
        File {
            shared: Arc::new(Shared {
                strand: Mutex::new(Strand::default()),
                inner: Mutex::new(Inner { file: f, unread: Vec::new(), failed: None }),
            }),
        }
    }

    /// Runs `op` in this file's turn on a pool thread. `orphan` handles the value of an
    /// operation whose caller stopped waiting (in the file's turn, before later operations).
    fn run<R: Send + 'static>(
        &self,
        what: &'static str,
        op: impl FnOnce(&mut Inner) -> io::Result<R> + Send + 'static,
        orphan: fn(&mut Inner, R),
    ) -> io::Result<R> {
        thread_pool::check_can_wait(None, what)?;
        let (call, done) = thread_pool::call::<io::Result<R>>();
        let job: Op = Box::new(move |inner: &mut Inner| {
            if !done.begin() {
                return; // its caller gave up while it was queued
            }
            let r = match inner.failed.take() {
                Some(e) => Ok(Err(e)),
                None => panic::catch_unwind(AssertUnwindSafe(|| op(inner))),
            };
            match done.finish(r) {
                Ok(()) | Err(Err(_)) => {}
                Err(Ok(Ok(v))) => orphan(inner, v),
                Err(Ok(Err(e))) => inner.defer(e),
            }
        });
        enqueue(&self.shared, job, false)?;
        // Dropped on an error return or an unwind out of the wait: abandons the call.
        let mut guard = FileCall { call: Some(call), shared: self.shared.clone(), orphan };
        let r = guard.call.as_ref().expect("grove: call present").wait(None, what)?;
        guard.call = None; // completed: nothing to abandon
        r.unwrap_or_else(|p| panic::resume_unwind(p))
    }

    /// Metadata of the open file.
    ///
    /// # Errors
    /// The OS error.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Write;
    /// let path = std::env::temp_dir().join(format!("grove-doc-fmeta-{}", std::process::id()));
    /// let mut f = grove::fs::File::create(&path)?;
    /// f.write_all(b"12345")?;
    /// assert_eq!(f.metadata()?.len(), 5);
    /// grove::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn metadata(&self) -> io::Result<std::fs::Metadata> {
        self.run("file metadata", |i| i.file.metadata(), |_, _| {})
    }

    /// Flushes data and metadata to the disk.
    ///
    /// # Errors
    /// The OS error.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Write;
    /// let path = std::env::temp_dir().join(format!("grove-doc-sync-{}", std::process::id()));
    /// let mut f = grove::fs::File::create(&path)?;
    /// f.write_all(b"durable")?;
    /// f.sync_all()?; // on disk when this returns
    /// grove::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn sync_all(&self) -> io::Result<()> {
        self.run("file sync", |i| i.file.sync_all(), |_, _| {})
    }
}

fn keep_unread(inner: &mut Inner, v: Vec<u8>) {
    inner.unread.splice(0..0, v);
}

fn ignore<T>(_: &mut Inner, _: T) {}

impl Read for &File {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let len = buf.len();
        let data = self.run(
            "file read",
            move |inner| {
                if !inner.unread.is_empty() {
                    let n = len.min(inner.unread.len());
                    return Ok(inner.unread.drain(..n).collect());
                }
                let mut v = vec![0; len];
                let n = inner.file.read(&mut v)?;
                v.truncate(n);
                Ok(v)
            },
            keep_unread,
        )?;
        buf[..data.len()].copy_from_slice(&data);
        Ok(data.len())
    }
}

impl Write for &File {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let data = buf.to_vec();
        self.run(
            "file write",
            move |inner| {
                inner.rewind_unread()?;
                inner.file.write(&data)
            },
            ignore,
        )
    }

    /// Returns once every earlier operation on this file, abandoned ones included, is done.
    fn flush(&mut self) -> io::Result<()> {
        self.run("file flush", |inner| inner.file.flush(), ignore)
    }
}

impl Seek for &File {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.run(
            "file seek",
            move |inner| {
                let pos = match pos {
                    SeekFrom::Current(k) if !inner.unread.is_empty() => {
                        let ahead = i64::try_from(inner.unread.len()).map_err(io::Error::other)?;
                        SeekFrom::Current(k - ahead)
                    }
                    p => p,
                };
                let at = inner.file.seek(pos)?;
                inner.unread.clear();
                Ok(at)
            },
            ignore,
        )
    }
}

impl Read for File {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }
}

impl Write for File {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        (&*self).flush()
    }
}

impl Seek for File {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        (&*self).seek(pos)
    }
}
