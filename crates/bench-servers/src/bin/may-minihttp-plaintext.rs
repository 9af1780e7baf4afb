//! may_minihttp with one may worker thread.
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
    may::config().set_workers(1);
    let server = HttpServer(Hello).start(bench_servers::addr()).unwrap();
    server.join().unwrap();
}
