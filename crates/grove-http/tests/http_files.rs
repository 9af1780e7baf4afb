//! The static file server (`grove serve --dir`) against hostile trees: symlinks out of the
//! root, FIFOs, directories, methods. Security review items 16.3, 16.4, 16.8.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use grove::net::TcpStream;
use grove_http::files::StaticDir;
use grove_http::Server;

/// A fresh directory under the system temp dir, removed on drop.
struct TempTree(PathBuf);
impl TempTree {
    fn new(tag: &str) -> TempTree {
        let p = std::env::temp_dir().join(format!("grove-files-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempTree(p)
    }
}
impl Drop for TempTree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn with_dir_server(root: &Path, f: impl FnOnce(SocketAddr)) {
    let dir = StaticDir::new(root).unwrap();
    grove::run(|| {
        let server = Server::bind("127.0.0.1:0").unwrap();
        let addr = server.local_addr().unwrap();
        let stop = server.shutdown_handle();
        let srv = grove::spawn(move || server.serve(move |req| dir.serve(&req)));
        f(addr);
        stop.shutdown();
        srv.join().unwrap().unwrap();
    });
}

fn get(addr: SocketAddr, req: &str) -> String {
    let mut c = TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    c.write_all(req.as_bytes()).unwrap();
    let mut out = Vec::new();
    let _ = c.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

fn path_req(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
}

#[test]
fn symlinks_out_of_the_root_are_refused() {
    let tree = TempTree::new("links");
    let secret = TempTree::new("secret");
    std::fs::write(secret.0.join("passwd"), "SECRET").unwrap();
    std::fs::write(tree.0.join("ok.txt"), "fine").unwrap();
    std::fs::create_dir(tree.0.join("sub")).unwrap();
    std::os::unix::fs::symlink(secret.0.join("passwd"), tree.0.join("abs-link")).unwrap();
    std::os::unix::fs::symlink("../../../../../../../../etc/passwd", tree.0.join("rel-link"))
        .unwrap();
    std::os::unix::fs::symlink(&secret.0, tree.0.join("dir-link")).unwrap();
    std::os::unix::fs::symlink("../ok.txt", tree.0.join("sub/inside-link")).unwrap();
    with_dir_server(&tree.0, |addr| {
        assert!(get(addr, &path_req("/ok.txt")).ends_with("fine"));
        for p in ["/abs-link", "/rel-link", "/dir-link/passwd"] {
            let out = get(addr, &path_req(p));
            assert!(!out.contains("SECRET") && !out.contains("root:"), "{p}: {out}");
            assert!(out.starts_with("HTTP/1.1 403") || out.starts_with("HTTP/1.1 404"), "{out}");
        }
        // A link that stays inside the root is fine.
        let out = get(addr, &path_req("/sub/inside-link"));
        assert!(out.ends_with("fine"), "{out}");
    });
}

#[test]
fn fifos_are_refused_without_blocking() {
    let tree = TempTree::new("fifo");
    let fifo = std::ffi::CString::new(tree.0.join("pipe").to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    std::fs::write(tree.0.join("plain.txt"), "plain").unwrap();
    with_dir_server(&tree.0, |addr| {
        // More FIFO requests than the thread pool has threads: none may hang one.
        let waiters: Vec<_> =
            (0..80).map(|_| grove::spawn(move || get(addr, &path_req("/pipe")))).collect();
        for w in waiters {
            assert!(w.join().unwrap().starts_with("HTTP/1.1 403"));
        }
        assert!(get(addr, &path_req("/plain.txt")).ends_with("plain"));
    });
}

#[test]
fn methods_directories_and_index() {
    let tree = TempTree::new("dirs");
    std::fs::create_dir(tree.0.join("docs")).unwrap();
    std::fs::write(tree.0.join("docs/index.html"), "<h1>docs</h1>").unwrap();
    with_dir_server(&tree.0, |addr| {
        let out = get(
            addr,
            "POST /docs/ HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
        assert!(out.starts_with("HTTP/1.1 405"), "{out}");
        assert!(out.to_ascii_lowercase().contains("allow: get, head"), "{out}");
        let out = get(addr, &path_req("/docs?x=1"));
        assert!(out.starts_with("HTTP/1.1 301"), "{out}");
        assert!(out.contains("location: /docs/?x=1"), "{out}");
        let out = get(addr, &path_req("/docs/"));
        assert!(out.starts_with("HTTP/1.1 200") && out.ends_with("<h1>docs</h1>"), "{out}");
        assert!(out.contains("text/html"));
        assert!(get(addr, &path_req("/missing")).starts_with("HTTP/1.1 404"));
        assert!(get(addr, &path_req("/../x")).starts_with("HTTP/1.1 400"));
    });
}

// Security review 16.9 (what users expect of a file server): validators, conditional
// requests and byte ranges.
#[test]
fn validators_conditional_requests_and_ranges() {
    let tree = TempTree::new("cond");
    std::fs::write(tree.0.join("f.txt"), "0123456789").unwrap();
    with_dir_server(&tree.0, |addr| {
        let out = get(addr, &path_req("/f.txt"));
        assert!(out.starts_with("HTTP/1.1 200") && out.ends_with("0123456789"), "{out}");
        assert!(out.contains("accept-ranges: bytes"));
        let header = |name: &str| {
            out.lines()
                .find_map(|l| l.strip_prefix(&format!("{name}: ")).map(str::to_string))
                .unwrap_or_else(|| panic!("no {name} in {out}"))
        };
        let (etag, modified) = (header("etag"), header("last-modified"));
        let cond = |extra: &str| {
            get(
                addr,
                &format!("GET /f.txt HTTP/1.1\r\nHost: t\r\n{extra}\r\nConnection: close\r\n\r\n"),
            )
        };
        assert!(cond(&format!("If-None-Match: {etag}")).starts_with("HTTP/1.1 304"));
        assert!(cond("If-None-Match: \"other\"").starts_with("HTTP/1.1 200"));
        assert!(cond(&format!("If-Modified-Since: {modified}")).starts_with("HTTP/1.1 304"));
        assert!(
            cond("If-Modified-Since: Thu, 01 Jan 1970 00:00:00 GMT").starts_with("HTTP/1.1 200")
        );
        let out = cond("Range: bytes=2-4");
        assert!(out.starts_with("HTTP/1.1 206") && out.ends_with("\r\n\r\n234"), "{out}");
        assert!(out.contains("content-range: bytes 2-4/10"), "{out}");
        let out = cond("Range: bytes=-3");
        assert!(out.starts_with("HTTP/1.1 206") && out.ends_with("789"), "{out}");
        let out = cond("Range: bytes=100-");
        assert!(out.starts_with("HTTP/1.1 416"), "{out}");
        assert!(out.contains("content-range: bytes */10"), "{out}");
    });
}

// Issue 16.9: an optional directory listing, escaped, only beneath the root.
#[test]
fn optional_directory_listing() {
    let tree = TempTree::new("list");
    std::fs::create_dir(tree.0.join("sub")).unwrap();
    std::fs::write(tree.0.join("a <b>.txt"), "x").unwrap();
    std::fs::write(tree.0.join(".hidden"), "x").unwrap();
    // Off by default: 404.
    with_dir_server(&tree.0, |addr| {
        assert!(get(addr, &path_req("/")).starts_with("HTTP/1.1 404"));
    });
    let dir = StaticDir::new(&tree.0).unwrap().with_listing(true);
    grove::run(|| {
        let server = Server::bind("127.0.0.1:0").unwrap();
        let addr = server.local_addr().unwrap();
        let stop = server.shutdown_handle();
        let srv = grove::spawn(move || server.serve(move |req| dir.serve(&req)));
        let out = get(addr, &path_req("/"));
        assert!(out.starts_with("HTTP/1.1 200") && out.contains("text/html"), "{out}");
        assert!(out.contains("href=\"a%20%3Cb%3E.txt\">a &lt;b&gt;.txt</a>"), "{out}");
        assert!(out.contains("href=\"sub/\">sub/</a>"), "{out}");
        assert!(!out.contains("hidden"), "{out}");
        assert!(get(addr, &path_req("/sub/")).contains("Index of /sub/"));
        stop.shutdown();
        srv.join().unwrap().unwrap();
    });
}
