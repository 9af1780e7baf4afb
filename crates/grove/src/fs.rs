//! File-system calls through the thread pool: regular files are always "ready" to epoll, so
//! the only way not to block the hub on a slow disk is another thread (as gevent does).

use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::thread_pool::spawn_blocking;

fn owned(p: impl AsRef<Path>) -> PathBuf {
    p.as_ref().to_path_buf()
}

/// Reads a whole file.
///
/// # Errors
/// The OS error; `TimedOut` inside an expired `timeout` scope.
pub fn read(path: impl AsRef<Path>) -> io::Result<Vec<u8>> {
    let p = owned(path);
    spawn_blocking(move || std::fs::read(p))?
}

/// Reads a whole file as UTF-8.
///
/// # Errors
/// As [`read`]; `InvalidData` for non-UTF-8 content.
pub fn read_to_string(path: impl AsRef<Path>) -> io::Result<String> {
    let p = owned(path);
    spawn_blocking(move || std::fs::read_to_string(p))?
}

/// Writes a whole file (created or truncated).
///
/// # Errors
/// The OS error.
pub fn write(path: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> io::Result<()> {
    let (p, c) = (owned(path), contents.as_ref().to_vec());
    spawn_blocking(move || std::fs::write(p, c))?
}

/// File metadata.
///
/// # Errors
/// The OS error.
pub fn metadata(path: impl AsRef<Path>) -> io::Result<std::fs::Metadata> {
    let p = owned(path);
    spawn_blocking(move || std::fs::metadata(p))?
}

/// Removes a file.
///
/// # Errors
/// The OS error.
pub fn remove_file(path: impl AsRef<Path>) -> io::Result<()> {
    let p = owned(path);
    spawn_blocking(move || std::fs::remove_file(p))?
}

/// Creates a directory and its parents.
///
/// # Errors
/// The OS error.
pub fn create_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
    let p = owned(path);
    spawn_blocking(move || std::fs::create_dir_all(p))?
}

/// An open file whose reads, writes and seeks run on the thread pool. Cloning shares the file
/// (and its position).
#[derive(Debug, Clone)]
pub struct File {
    inner: Arc<Mutex<std::fs::File>>,
}

impl File {
    /// Opens a file for reading.
    ///
    /// # Errors
    /// The OS error.
    pub fn open(path: impl AsRef<Path>) -> io::Result<File> {
        let p = owned(path);
        Ok(File::from_std(spawn_blocking(move || std::fs::File::open(p))??))
    }

    /// Creates (or truncates) a file for writing.
    ///
    /// # Errors
    /// The OS error.
    pub fn create(path: impl AsRef<Path>) -> io::Result<File> {
        let p = owned(path);
        Ok(File::from_std(spawn_blocking(move || std::fs::File::create(p))??))
    }

    /// Wraps an open std file.
    pub fn from_std(f: std::fs::File) -> File {
        File { inner: Arc::new(Mutex::new(f)) }
    }

    fn run<R: Send + 'static>(
        &self,
        op: impl FnOnce(&mut std::fs::File) -> io::Result<R> + Send + 'static,
    ) -> io::Result<R> {
        let f = self.inner.clone();
        spawn_blocking(move || op(&mut f.lock().unwrap_or_else(|e| e.into_inner())))?
    }

    /// Metadata of the open file.
    ///
    /// # Errors
    /// The OS error.
    pub fn metadata(&self) -> io::Result<std::fs::Metadata> {
        self.run(|f| f.metadata())
    }

    /// Flushes data and metadata to the disk.
    ///
    /// # Errors
    /// The OS error.
    pub fn sync_all(&self) -> io::Result<()> {
        self.run(|f| f.sync_all())
    }
}

impl Read for File {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let len = buf.len();
        let data = self.run(move |f| {
            let mut v = vec![0; len];
            let n = f.read(&mut v)?;
            v.truncate(n);
            Ok(v)
        })?;
        buf[..data.len()].copy_from_slice(&data);
        Ok(data.len())
    }
}

impl Write for File {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let data = buf.to_vec();
        self.run(move |f| f.write(&data))
    }
    fn flush(&mut self) -> io::Result<()> {
        self.run(|f| f.flush())
    }
}

impl Seek for File {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.run(move |f| f.seek(pos))
    }
}
