//! Peer servers for the plaintext benchmark (`benches/http_plaintext.sh`). Each binary answers
//! every request with `Hello, World!` on the address given as its first argument, using one
//! OS thread for request handling.

/// The listen address from the command line (default 127.0.0.1:8080).
pub fn addr() -> String {
    std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:8080".into())
}

/// Worker threads / hubs, from the `WORKERS` environment variable (default 1).
pub fn workers() -> usize {
    std::env::var("WORKERS").ok().and_then(|v| v.parse().ok()).unwrap_or(1)
}

/// What an accept loop does after a failed accept: EMFILE/ENFILE and the like are logged and
/// the loop backs off briefly, like the real servers it stands for (hyper's own examples
/// `unwrap` here, which turns a benchmark under fd pressure into a crash).
pub async fn accept_failed(e: std::io::Error) {
    eprintln!("accept failed: {e}; retrying");
    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
}
