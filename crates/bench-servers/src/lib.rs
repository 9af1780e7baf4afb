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
