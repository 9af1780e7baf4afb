//! may_minihttp with WORKERS may worker threads (default 1).
use std::io;

use may_minihttp::{HttpServer, HttpService, Request, Response};

#[derive(Clone)]
struct Hello;

impl HttpService for Hello {
    fn call(&mut self, _req: Request, res: &mut Response) -> io::Result<()> {
        res.body("Hello, World!");
        Ok(())
    }
}

fn main() {
    may::config().set_workers(bench_servers::workers());
    let server = HttpServer(Hello).start(bench_servers::addr()).unwrap();
    server.join().unwrap();
}
