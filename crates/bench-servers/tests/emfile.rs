//! Issue 16.12: a benchmark peer survives EMFILE on accept, like the real servers it stands
//! for (hyper's examples `unwrap` there, which turned fd pressure into a crash).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn get(port: u16) -> Option<String> {
    let mut c = TcpStream::connect(("127.0.0.1", port)).ok()?;
    c.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    c.write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").ok()?;
    let mut out = String::new();
    c.read_to_string(&mut out).ok()?;
    Some(out)
}

#[test]
fn hyper_peer_survives_emfile_on_accept() {
    let port = free_port();
    let bin = env!("CARGO_BIN_EXE_hyper-plaintext");
    // Few fds: the listener, epoll, stdio and a handful of connections.
    let mut server = Command::new("sh")
        .args(["-c", &format!("ulimit -n 16 && exec {bin} 127.0.0.1:{port}")])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while get(port).is_none() {
        assert!(start.elapsed() < Duration::from_secs(30), "the server never came up");
        std::thread::sleep(Duration::from_millis(20));
    }
    // More connections than the server has fds: accept fails with EMFILE for some.
    let hogs: Vec<_> =
        (0..40).filter_map(|_| TcpStream::connect(("127.0.0.1", port)).ok()).collect();
    std::thread::sleep(Duration::from_millis(200));
    drop(hogs);
    // Still alive and serving.
    let start = Instant::now();
    let answer = loop {
        if let Some(a) = get(port) {
            break a;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "the server stopped serving");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(server.try_wait().unwrap().is_none(), "the server exited");
    server.kill().unwrap();
    server.wait().unwrap();
}
