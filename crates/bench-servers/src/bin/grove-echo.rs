//! TCP echo on one grove hub, or WORKERS hubs each with its own SO_REUSEPORT listener.
use std::io::{Read, Write};

fn serve(l: grove::net::TcpListener) {
    loop {
        let Ok((s, _)) = l.accept() else { continue };
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
}

fn main() {
    let n = bench_servers::workers();
    if n == 1 {
        grove::run(|| {
            serve(grove::net::TcpListener::bind(bench_servers::addr().as_str()).unwrap())
        });
        return;
    }
    let sock: std::net::SocketAddr = bench_servers::addr().parse().unwrap();
    let rt = grove::Runtime::builder().hubs(n).monitor(None).build().unwrap();
    let hs: Vec<_> = (0..n)
        .map(|i| {
            rt.spawn_on(i, move || serve(grove::net::TcpListener::bind_reuseport(sock).unwrap()))
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
}
