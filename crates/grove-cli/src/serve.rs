//! `grove serve`: hello world, or static files from a directory.

use std::path::{Component, Path, PathBuf};

use grove_http::http::{header, StatusCode};
use grove_http::{Body, Request, Response, Server};

use crate::args::Args;

pub fn run(mut args: Args) -> Result<(), String> {
    let addr = args.value("--addr")?.unwrap_or_else(|| "127.0.0.1:8080".into());
    let dir = args.value("--dir")?.map(PathBuf::from);
    let log = args.flag("--log");
    let hubs: usize = args.parsed("--hubs")?.unwrap_or(1);
    args.finish()?;
    if let Some(d) = &dir {
        if !d.is_dir() {
            return Err(format!("--dir {}: not a directory", d.display()));
        }
    }
    if hubs > 1 {
        return serve_multi(&addr, hubs, dir, log);
    }
    grove::run(|| {
        let config = grove_http::Config { access_log: log, ..Default::default() };
        let server = Server::bind(addr.as_str())
            .map_err(|e| format!("bind {addr}: {e}"))?
            .with_config(config);
        let local = server.local_addr().map_err(|e| e.to_string())?;
        match &dir {
            Some(d) => {
                eprintln!("grove: serving {} on http://{local}/ (Ctrl-C to stop)", d.display())
            }
            None => eprintln!("grove: serving hello world on http://{local}/ (Ctrl-C to stop)"),
        }
        let dir = dir.clone();
        server
            .serve(move |req| match &dir {
                Some(d) => static_file(d, &req),
                None => Response::new(Body::from("Hello, World!")),
            })
            .map_err(|e| e.to_string())
    })
}

/// One SO_REUSEPORT server per hub of a runtime; runs until killed.
fn serve_multi(addr: &str, hubs: usize, dir: Option<PathBuf>, log: bool) -> Result<(), String> {
    let sock: std::net::SocketAddr =
        addr.parse().map_err(|_| format!("--addr {addr}: with --hubs give an IP:port"))?;
    let rt =
        grove::Runtime::builder().hubs(hubs).monitor(None).build().map_err(|e| e.to_string())?;
    let servers: Vec<_> = (0..hubs)
        .map(|i| {
            let dir = dir.clone();
            rt.spawn_on(i, move || -> Result<(), String> {
                let config = grove_http::Config { access_log: log, ..Default::default() };
                let server = Server::bind_reuseport(sock)
                    .map_err(|e| format!("bind {sock}: {e}"))?
                    .with_config(config);
                server
                    .serve(move |req| match &dir {
                        Some(d) => static_file(d, &req),
                        None => Response::new(Body::from("Hello, World!")),
                    })
                    .map_err(|e| e.to_string())
            })
        })
        .collect();
    eprintln!("grove: serving on http://{sock}/ with {hubs} hubs (Ctrl-C to stop)");
    for s in servers {
        s.join().map_err(|e| e.to_string())??;
    }
    Ok(())
}

fn status(code: StatusCode, msg: &'static str) -> Response {
    let mut r = Response::new(Body::from(msg));
    *r.status_mut() = code;
    r
}

/// Maps a request path under `root`, refusing anything that would leave it.
fn resolve(root: &Path, url_path: &str) -> Option<PathBuf> {
    let decoded = percent_decode(url_path)?;
    let mut p = root.to_path_buf();
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

fn static_file(root: &Path, req: &Request) -> Response {
    if req.method() != grove_http::http::Method::GET
        && req.method() != grove_http::http::Method::HEAD
    {
        return status(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
    }
    let Some(mut path) = resolve(root, req.uri().path()) else {
        return status(StatusCode::BAD_REQUEST, "bad path\n");
    };
    if path.is_dir() {
        path.push("index.html");
    }
    let p = path.clone();
    // Opening can block on a slow disk: do it on the pool.
    match grove::thread_pool::spawn_blocking(move || std::fs::File::open(p)) {
        Ok(Ok(f)) => {
            let mut r = Response::new(Body::File(f));
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                header::HeaderValue::from_static(content_type(&path)),
            );
            r
        }
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => {
            status(StatusCode::NOT_FOUND, "not found\n")
        }
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            status(StatusCode::FORBIDDEN, "forbidden\n")
        }
        _ => status(StatusCode::INTERNAL_SERVER_ERROR, "cannot open file\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_cannot_escape_the_root() {
        let root = Path::new("/srv/www");
        assert_eq!(resolve(root, "/a/b.txt"), Some(PathBuf::from("/srv/www/a/b.txt")));
        assert_eq!(resolve(root, "/a%20b"), Some(PathBuf::from("/srv/www/a b")));
        assert_eq!(resolve(root, "/../etc/passwd"), None);
        assert_eq!(resolve(root, "/a/%2e%2e/%2e%2e/etc"), None);
        assert_eq!(resolve(root, "/a%00b"), None);
        assert_eq!(resolve(root, "/%zz"), None);
    }
}
