//! TCP echo on may with WORKERS workers (default 1).
use std::io::{Read, Write};

fn main() {
    may::config().set_workers(bench_servers::workers());
    let l = may::net::TcpListener::bind(bench_servers::addr()).unwrap();
    let acceptor = may::go!(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            let _ = s.set_nodelay(true);
            may::go!(move || {
                let mut buf = [0u8; 4096];
                loop {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => {
                            if s.write_all(&buf[..n]).is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
    acceptor.join().unwrap();
}
