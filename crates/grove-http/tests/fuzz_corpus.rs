//! Replays the fuzz corpus kept in `fuzz/corpus/` (and every crash input kept in
//! `fuzz/regressions/`) through the same checks the fuzz targets run, so CI on stable keeps
//! every input the fuzzer ever found interesting passing.

use std::fs;
use std::path::{Path, PathBuf};

fn inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut out = Vec::new();
    for dir in [root.join("corpus").join(target), root.join("regressions").join(target)] {
        let Ok(entries) = fs::read_dir(&dir) else { continue };
        for e in entries {
            let path = e.unwrap().path();
            let data = fs::read(&path).unwrap();
            out.push((path, data));
        }
    }
    out.sort();
    if cfg!(miri) {
        // Miri interprets every step: a spread-out sample (ci/miri.sh).
        out = out.into_iter().step_by(100).collect();
    }
    out
}

fn replay(target: &str, check: fn(&[u8])) {
    let all = inputs(target);
    assert!(!all.is_empty(), "no corpus for {target}");
    for (path, data) in &all {
        if std::panic::catch_unwind(|| check(data)).is_err() {
            panic!("{target}: {} fails", path.display());
        }
    }
}

#[test]
fn request_head_corpus() {
    replay("request_head", grove_http::fuzzing::request_head);
}

#[test]
fn response_head_corpus() {
    replay("response_head", grove_http::fuzzing::response_head);
}

#[test]
fn chunked_corpus() {
    replay("chunked", grove_http::fuzzing::chunked);
}

/// Every server_conn input against a server this test starts (and stops), from a client
/// thread: each connection must end with an HTTP answer, a reset or a clean close.
#[test]
fn server_conn_corpus() {
    let all = inputs("server_conn");
    assert!(!all.is_empty());
    grove::run(move || {
        let server = grove_http::Server::bind("127.0.0.1:0").unwrap();
        let addr = server.local_addr().unwrap();
        let stop = server.shutdown_handle();
        let srv = grove::spawn(move || grove_http::fuzzing::serve(server));
        let client = grove::thread_pool::spawn_blocking(move || {
            for (path, data) in &all {
                let ok =
                    std::panic::catch_unwind(|| grove_http::fuzzing::check_connection(addr, data));
                assert!(ok.is_ok(), "server_conn: {} fails", path.display());
            }
        });
        stop.shutdown();
        srv.join().unwrap().unwrap();
        client.unwrap();
    });
}
