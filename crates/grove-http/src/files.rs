//! Static files beneath a root directory (`grove serve --dir`).
//!
//! Every path is opened relative to the root with `openat2(RESOLVE_BENEATH)`: `..`, absolute
//! symlinks and symlinks that lead out of the root are refused by the kernel at the moment of
//! the open, so there is no window between a check and the open (a canonicalise-then-open
//! check can be raced by swapping a directory for a symlink). On kernels before 5.6, which lack
//! `openat2`, the path is walked one component at a time with `O_NOFOLLOW`: every symlink is
//! refused there, the safe side of the same rule.
//!
//! Only regular files are served. Files are opened with `O_NONBLOCK`, so a FIFO, socket or
//! device in the tree cannot hang the request or a pool thread: it is refused (403) after an
//! `fstat`. A directory requested without its trailing slash is redirected to it (301); with
//! it, its `index.html` is served.

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use http::{header, HeaderValue, Method, StatusCode};

use crate::{Body, Request, Response};

/// A directory whose regular files are served read-only (GET and HEAD).
///
/// ```
/// # std::fs::write(std::env::temp_dir().join("grove-doc.txt"), "hi").unwrap();
/// let dir = grove_http::files::StaticDir::new(std::env::temp_dir()).unwrap();
/// grove::run(|| {
///     let req = grove_http::http::Request::get("/grove-doc.txt")
///         .body(grove_http::Incoming::empty())
///         .unwrap();
///     assert_eq!(dir.serve(&req).status(), 200);
/// });
/// ```
#[derive(Debug)]
pub struct StaticDir {
    root: File,
    path: PathBuf,
    listing: bool,
}

/// What a request path resolved to.
enum Found {
    /// The file and the path it was found at (for its type).
    File(File, PathBuf),
    /// A directory asked for without its trailing slash.
    DirWithoutSlash,
    /// A directory without `index.html`, listed: (name, is a directory), sorted.
    Listing(Vec<(String, bool)>),
}

impl StaticDir {
    /// Opens `root` (it must be a directory).
    ///
    /// # Errors
    /// `root` cannot be opened, or is not a directory.
    pub fn new(root: impl AsRef<Path>) -> io::Result<StaticDir> {
        let path = root.as_ref().to_path_buf();
        let root = File::open(&path)?;
        if !root.metadata()?.is_dir() {
            return Err(io::Error::new(io::ErrorKind::NotADirectory, "not a directory"));
        }
        Ok(StaticDir { root, path, listing: false })
    }

    /// Lists a directory that has no `index.html` (an HTML page of links) instead of
    /// answering 404. Off by default.
    #[must_use]
    pub fn with_listing(mut self, on: bool) -> StaticDir {
        self.listing = on;
        self
    }

    /// The root directory's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Answers `req` from the directory: 200 with the file, 301 to add a directory's slash,
    /// 400 for a malformed path, 403 for anything that is not a regular file, 404, 405 (with
    /// `Allow`) for methods other than GET and HEAD. The open runs on grove's thread pool.
    pub fn serve(&self, req: &Request) -> Response {
        if req.method() != Method::GET && req.method() != Method::HEAD {
            let mut r = status(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
            r.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            return r;
        }
        let url_path = req.uri().path();
        let Some(rel) = relative_path(url_path) else {
            return status(StatusCode::BAD_REQUEST, "bad path\n");
        };
        let root = match self.root.try_clone() {
            Ok(r) => r,
            Err(_) => return status(StatusCode::SERVICE_UNAVAILABLE, "out of file descriptors\n"),
        };
        let slash = url_path.ends_with('/');
        let listing = self.listing;
        let found = grove::thread_pool::spawn_blocking(move || find(&root, &rel, slash, listing));
        match found {
            Ok(Ok(Found::File(f, at))) => file_response(req, f, content_type(&at)),
            Ok(Ok(Found::Listing(entries))) => {
                let mut html = format!(
                    "<!DOCTYPE html>\n<title>Index of {0}</title>\n<h1>Index of {0}</h1>\n<ul>\n",
                    escape(url_path)
                );
                for (name, dir) in entries {
                    let shown = format!("{}{}", escape(&name), if dir { "/" } else { "" });
                    html.push_str(&format!(
                        "<li><a href=\"{}{}\">{shown}</a></li>\n",
                        percent_encode(&name),
                        if dir { "/" } else { "" }
                    ));
                }
                html.push_str("</ul>\n");
                let mut r = Response::new(Body::from(html));
                r.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/html; charset=utf-8"),
                );
                r
            }
            Ok(Ok(Found::DirWithoutSlash)) => {
                let mut to = format!("{url_path}/");
                if let Some(q) = req.uri().query() {
                    to = format!("{to}?{q}");
                }
                let mut r = status(StatusCode::MOVED_PERMANENTLY, "moved\n");
                if let Ok(v) = HeaderValue::from_str(&to) {
                    r.headers_mut().insert(header::LOCATION, v);
                }
                r
            }
            Ok(Err(e)) => match e.kind() {
                io::ErrorKind::NotFound | io::ErrorKind::NotADirectory => {
                    status(StatusCode::NOT_FOUND, "not found\n")
                }
                _ if e.raw_os_error() == Some(libc::ELOOP) => {
                    status(StatusCode::NOT_FOUND, "not found\n")
                }
                // EXDEV: the path leads out of the root.
                io::ErrorKind::PermissionDenied | io::ErrorKind::CrossesDevices => {
                    status(StatusCode::FORBIDDEN, "forbidden\n")
                }
                _ => status(StatusCode::INTERNAL_SERVER_ERROR, "cannot open file\n"),
            },
            Err(_) => status(StatusCode::SERVICE_UNAVAILABLE, "busy\n"),
        }
    }
}

/// A regular file's answer: validators (`Last-Modified`, `ETag`), conditional requests (304
/// on `If-None-Match` / `If-Modified-Since`, RFC 9110 §13), and a single byte range (206 with
/// `Content-Range`, 416 when it cannot be satisfied; RFC 9110 §14). Several ranges in one
/// request get the whole file (a server may ignore `Range`).
fn file_response(req: &Request, f: File, ct: &'static str) -> Response {
    let Ok(meta) = f.metadata() else {
        return status(StatusCode::INTERNAL_SERVER_ERROR, "cannot stat file\n");
    };
    let len = meta.len();
    let modified = meta.modified().ok();
    let etag = modified
        .and_then(|m| m.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| format!("\"{:x}-{:x}-{len:x}\"", d.as_secs(), d.subsec_nanos()));
    let headers = req.headers();
    let not_modified = match (headers.get(header::IF_NONE_MATCH), &etag) {
        // If-None-Match takes precedence over If-Modified-Since (RFC 9110 §13.1.3).
        (Some(inm), Some(tag)) => inm.to_str().is_ok_and(|v| {
            v.trim() == "*" || v.split(',').any(|t| t.trim().trim_start_matches("W/") == tag)
        }),
        (Some(_), None) => false,
        (None, _) => match (headers.get(header::IF_MODIFIED_SINCE), modified) {
            (Some(ims), Some(m)) => ims
                .to_str()
                .ok()
                .and_then(|v| httpdate::parse_http_date(v).ok())
                // Dates have second precision: compare at that precision.
                .is_some_and(|since| secs(m) <= secs(since)),
            _ => false,
        },
    };
    let mut r = if not_modified {
        let mut r = Response::new(Body::Empty);
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        r
    } else {
        match headers.get(header::RANGE).and_then(|v| v.to_str().ok()).map(|v| byte_range(v, len)) {
            Some(RangeAsk::One(start, end)) => {
                let mut f = f;
                if std::io::Seek::seek(&mut f, std::io::SeekFrom::Start(start)).is_err() {
                    return status(StatusCode::INTERNAL_SERVER_ERROR, "cannot seek\n");
                }
                let n = end - start + 1;
                let mut r = Response::new(Body::stream(std::io::Read::take(f, n)));
                *r.status_mut() = StatusCode::PARTIAL_CONTENT;
                let h = r.headers_mut();
                h.insert(header::CONTENT_LENGTH, HeaderValue::from(n));
                if let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{end}/{len}")) {
                    h.insert(header::CONTENT_RANGE, v);
                }
                r
            }
            Some(RangeAsk::Unsatisfiable) => {
                let mut r = status(StatusCode::RANGE_NOT_SATISFIABLE, "range not satisfiable\n");
                if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
                    r.headers_mut().insert(header::CONTENT_RANGE, v);
                }
                return r;
            }
            Some(RangeAsk::Whole) | None => Response::new(Body::File(f)),
        }
    };
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Some(m) = modified {
        if let Ok(v) = HeaderValue::from_str(&httpdate::fmt_http_date(m)) {
            h.insert(header::LAST_MODIFIED, v);
        }
    }
    if let Some(tag) = etag.and_then(|t| HeaderValue::from_str(&t).ok()) {
        h.insert(header::ETAG, tag);
    }
    r
}

fn secs(t: std::time::SystemTime) -> u64 {
    t.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// What a `Range` header asks of a file of `len` bytes.
#[derive(Debug, PartialEq, Eq)]
enum RangeAsk {
    /// One satisfiable range, inclusive.
    One(u64, u64),
    /// A byte range none of whose parts overlap the file.
    Unsatisfiable,
    /// Not a single byte range we serve (other units, several ranges, malformed): the whole
    /// file, as if there were no `Range`.
    Whole,
}

/// Parses `bytes=a-b`, `bytes=a-`, `bytes=-n` (RFC 9110 §14.1.2).
fn byte_range(v: &str, len: u64) -> RangeAsk {
    let Some(spec) = v.trim().strip_prefix("bytes=") else { return RangeAsk::Whole };
    if spec.contains(',') {
        return RangeAsk::Whole;
    }
    let Some((a, b)) = spec.trim().split_once('-') else { return RangeAsk::Whole };
    let num = |s: &str| -> Option<u64> {
        let s = s.trim();
        (!s.is_empty() && s.bytes().all(|c| c.is_ascii_digit())).then(|| s.parse().ok())?
    };
    match (num(a), num(b), a.trim().is_empty(), b.trim().is_empty()) {
        // bytes=-n: the last n bytes.
        (None, Some(n), true, false) => {
            if n == 0 || len == 0 {
                RangeAsk::Unsatisfiable
            } else {
                RangeAsk::One(len.saturating_sub(n), len - 1)
            }
        }
        // bytes=a-: from a to the end.
        (Some(start), None, false, true) if start < len => RangeAsk::One(start, len - 1),
        (Some(_), None, false, true) => RangeAsk::Unsatisfiable,
        (Some(start), Some(end), false, false) if start <= end => {
            if start >= len {
                RangeAsk::Unsatisfiable
            } else {
                RangeAsk::One(start, end.min(len - 1))
            }
        }
        _ => RangeAsk::Whole,
    }
}

fn status(code: StatusCode, msg: &'static str) -> Response {
    let mut r = Response::new(Body::from(msg));
    *r.status_mut() = code;
    r
}

/// Opens what `rel` names beneath `root`: a regular file, or a directory's `index.html` when
/// the URL ended in a slash.
fn find(root: &File, rel: &Path, slash: bool, listing: bool) -> io::Result<Found> {
    let f = open_beneath(root, rel)?;
    let meta = f.metadata()?;
    if meta.is_dir() {
        if !slash && rel != Path::new("") {
            return Ok(Found::DirWithoutSlash);
        }
        return match find(root, &rel.join("index.html"), false, false) {
            Err(e) if e.kind() == io::ErrorKind::NotFound && listing => list(&f),
            other => other,
        };
    }
    if !meta.is_file() {
        return Err(io::Error::new(io::ErrorKind::PermissionDenied, "not a regular file"));
    }
    Ok(Found::File(f, rel.to_path_buf()))
}

/// The entries of the directory open as `dir` (read through its fd: what was opened beneath
/// the root is what is listed), hidden files left out.
fn list(dir: &File) -> io::Result<Found> {
    let mut entries: Vec<(String, bool)> =
        std::fs::read_dir(format!("/proc/self/fd/{}", dir.as_raw_fd()))?
            .filter_map(Result::ok)
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let dir = e.file_type().ok()?.is_dir();
                (!name.starts_with('.')).then_some((name, dir))
            })
            .collect();
    entries.sort();
    Ok(Found::Listing(entries))
}

/// HTML-escapes text for a listing.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Percent-encodes a file name for a link.
fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The request path as a relative path: percent-decoded, without `.`; `None` for `..`, NUL
/// or invalid escapes.
fn relative_path(url_path: &str) -> Option<PathBuf> {
    let decoded = percent_decode(url_path)?;
    let mut p = PathBuf::new();
    for c in Path::new(decoded.trim_start_matches('/')).components() {
        match c {
            Component::Normal(s) => p.push(s),
            Component::CurDir => {}
            _ => return None,
        }
    }
    Some(p)
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let h = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(h, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok().filter(|s| !s.contains('\0'))
}

/// The kernel's `struct open_how` (linux/openat2.h); libc's is `#[non_exhaustive]`.
#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

const FILE_FLAGS: libc::c_int =
    libc::O_RDONLY | libc::O_NONBLOCK | libc::O_CLOEXEC | libc::O_NOCTTY;

/// Opens `rel` beneath `root` without following anything out of it (see the module docs).
fn open_beneath(root: &File, rel: &Path) -> io::Result<File> {
    let rel = if rel.as_os_str().is_empty() { Path::new(".") } else { rel };
    let name = CString::new(rel.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in path"))?;
    let how = OpenHow {
        flags: FILE_FLAGS as u64,
        mode: 0,
        resolve: libc::RESOLVE_BENEATH | libc::RESOLVE_NO_MAGICLINKS,
    };
    // SAFETY: `name` is a NUL-terminated string and `how` a live `open_how` of the size
    // passed, both valid for the duration of the call; the kernel only reads them.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            root.as_raw_fd(),
            name.as_ptr(),
            &how as *const OpenHow,
            std::mem::size_of::<OpenHow>(),
        )
    };
    if fd >= 0 {
        // SAFETY: the kernel returned a new fd that nothing else owns.
        return Ok(unsafe { File::from_raw_fd(fd as libc::c_int) });
    }
    let err = io::Error::last_os_error();
    match err.raw_os_error() {
        Some(libc::ENOSYS) => open_walking(root, rel),
        _ => Err(err),
    }
}

/// `openat2`'s stand-in on old kernels: one component at a time, refusing every symlink.
fn open_walking(root: &File, rel: &Path) -> io::Result<File> {
    let mut dir = root.try_clone()?;
    let parts: Vec<_> = rel.components().collect();
    for (i, c) in parts.iter().enumerate() {
        let Component::Normal(s) = c else { continue };
        let last = i + 1 == parts.len();
        let flags = libc::O_NOFOLLOW
            | if last { FILE_FLAGS } else { libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC };
        let name = CString::new(s.as_bytes())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in path"))?;
        // SAFETY: `name` is NUL-terminated and `dir` an open directory fd for the call.
        let fd = unsafe { libc::openat(dir.as_raw_fd(), name.as_ptr(), flags) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a new fd that nothing else owns.
        dir = unsafe { File::from_raw_fd(fd) };
    }
    Ok(dir)
}

fn content_type(p: &Path) -> &'static str {
    match p.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css",
        "js" => "text/javascript",
        "json" => "application/json",
        "txt" | "md" => "text/plain; charset=utf-8",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "svg" => "image/svg+xml",
        "wasm" => "application/wasm",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_ranges() {
        use RangeAsk::*;
        assert_eq!(byte_range("bytes=0-4", 10), One(0, 4));
        assert_eq!(byte_range("bytes=5-", 10), One(5, 9));
        assert_eq!(byte_range("bytes=-3", 10), One(7, 9));
        assert_eq!(byte_range("bytes=-30", 10), One(0, 9));
        assert_eq!(byte_range("bytes=8-100", 10), One(8, 9));
        assert_eq!(byte_range("bytes=10-", 10), Unsatisfiable);
        assert_eq!(byte_range("bytes=12-14", 10), Unsatisfiable);
        assert_eq!(byte_range("bytes=-0", 10), Unsatisfiable);
        assert_eq!(byte_range("bytes=4-2", 10), Whole);
        assert_eq!(byte_range("bytes=0-1,4-5", 10), Whole);
        assert_eq!(byte_range("items=0-1", 10), Whole);
        assert_eq!(byte_range("bytes=+1-2", 10), Whole);
    }

    #[test]
    fn paths_cannot_escape_the_root() {
        assert_eq!(relative_path("/a/b.txt"), Some(PathBuf::from("a/b.txt")));
        assert_eq!(relative_path("/a%20b"), Some(PathBuf::from("a b")));
        assert_eq!(relative_path("/"), Some(PathBuf::new()));
        assert_eq!(relative_path("/../etc/passwd"), None);
        assert_eq!(relative_path("/a/%2e%2e/%2e%2e/etc"), None);
        assert_eq!(relative_path("/a%00b"), None);
        assert_eq!(relative_path("/%zz"), None);
    }
}
