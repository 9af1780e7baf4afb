//! TCP echo on one grove hub.
use std::io::{Read, Write};

fn main() {
    grove::run(|| {
        let l = grove::net::TcpListener::bind(bench_servers::addr().as_str()).unwrap();
        loop {
            let (s, _) = l.accept().unwrap();
            let _ = s.set_nodelay(true);
            grove::spawn(move || {
                let mut buf = [0u8; 4096];
                loop {
                    match (&s).read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => {
                            if (&s).write_all(&buf[..n]).is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
}
