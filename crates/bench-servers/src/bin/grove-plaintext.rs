//! grove-http: one hub, or WORKERS hubs each with its own SO_REUSEPORT listener.
fn main() {
    let n = bench_servers::workers();
    let addr = bench_servers::addr();
    if n == 1 {
        grove::run(|| {
            let server = grove_http::Server::bind(addr.as_str()).unwrap();
            server.serve(|_req| grove_http::Response::new("Hello, World!".into())).unwrap();
        });
        return;
    }
    let sock: std::net::SocketAddr = addr.parse().unwrap();
    let rt = grove::Runtime::builder().hubs(n).monitor(None).build().unwrap();
    let hs: Vec<_> = (0..n)
        .map(|i| {
            rt.spawn_on(i, move || {
                let server = grove_http::Server::bind_reuseport(sock).unwrap();
                server.serve(|_req| grove_http::Response::new("Hello, World!".into())).unwrap();
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
}
