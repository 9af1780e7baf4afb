//! TCP echo on tokio: current_thread with WORKERS=1, multi_thread otherwise.
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn main() {
    let n = bench_servers::workers();
    let rt = if n == 1 {
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
    } else {
        tokio::runtime::Builder::new_multi_thread().worker_threads(n).enable_all().build().unwrap()
    };
    rt.block_on(async {
        let l = tokio::net::TcpListener::bind(bench_servers::addr()).await.unwrap();
        loop {
            let mut s = match l.accept().await {
                Ok((s, _)) => s,
                Err(e) => {
                    bench_servers::accept_failed(e).await;
                    continue;
                }
            };
            let _ = s.set_nodelay(true);
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                loop {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => {
                            if s.write_all(&buf[..n]).await.is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
}
