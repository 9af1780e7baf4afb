//! grove-http on one hub (the same server `grove serve` runs), for symmetry with the peers.
fn main() {
    grove::run(|| {
        let server = grove_http::Server::bind(bench_servers::addr().as_str()).unwrap();
        server.serve(|_req| grove_http::Response::new("Hello, World!".into())).unwrap();
    });
}
