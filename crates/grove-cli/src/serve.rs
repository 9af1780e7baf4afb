//! `grove serve`: hello world, or static files from a directory.

use std::path::PathBuf;

use grove_http::files::StaticDir;
use grove_http::{Body, Response, Server};

use crate::args::Args;

pub(crate) fn run(mut args: Args) -> Result<(), String> {
    let addr = args.value("--addr")?.unwrap_or_else(|| "127.0.0.1:8080".into());
    let dir = args.value("--dir")?.map(PathBuf::from);
    let log = args.flag("--log");
    let list = args.flag("--list");
    let hubs: usize = args.parsed("--hubs")?.unwrap_or(1);
    args.finish()?;
    if let Some(d) = &dir {
        StaticDir::new(d).map_err(|e| format!("--dir {}: {e}", d.display()))?;
    }
    if hubs > 1 {
        return serve_multi(&addr, hubs, dir, list, log);
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
        let files = open_dir(dir.as_ref(), list)?;
        server
            .serve(move |req| match &files {
                Some(d) => d.serve(&req),
                None => Response::new(Body::from("Hello, World!")),
            })
            .map_err(|e| e.to_string())
    })
}

/// One SO_REUSEPORT server per hub of a runtime; runs until killed.
fn serve_multi(
    addr: &str,
    hubs: usize,
    dir: Option<PathBuf>,
    list: bool,
    log: bool,
) -> Result<(), String> {
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
                let files = open_dir(dir.as_ref(), list)?;
                server
                    .serve(move |req| match &files {
                        Some(d) => d.serve(&req),
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

/// The `--dir` root, opened once per server.
fn open_dir(dir: Option<&PathBuf>, list: bool) -> Result<Option<StaticDir>, String> {
    dir.map(|d| {
        StaticDir::new(d)
            .map(|s| s.with_listing(list))
            .map_err(|e| format!("--dir {}: {e}", d.display()))
    })
    .transpose()
}
