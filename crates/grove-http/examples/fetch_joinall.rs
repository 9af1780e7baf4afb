//! Three slow HTTP fetches at once: spawn a greenlet per URL, then wait for all of them.
//! The fetching code is ordinary blocking code; the whole batch takes about as long as
//! the slowest request, not the sum. The example serves the "slow backend" itself on
//! 127.0.0.1.
//!
//! Mirrors: gevent's first example, `jobs = [gevent.spawn(fetch, url) for url in urls]`,
//! `gevent.joinall(jobs, timeout=...)`.
//!
//! Run: `cargo run -p grove-http --example fetch_joinall`

use std::time::{Duration, Instant};

use grove_http::{Body, Response, Server};

fn main() {
    grove::run(|| {
        // The backend: each path answers after the delay it names (a slow service).
        let server = Server::bind("127.0.0.1:0").expect("bind");
        let base = format!("http://{}", server.local_addr().expect("addr"));
        let stop = server.shutdown_handle();
        let backend = grove::spawn(move || {
            server.serve(|req| {
                let ms: u64 = req.uri().path().trim_start_matches("/delay/").parse().unwrap_or(0);
                grove::sleep(Duration::from_millis(ms));
                Response::new(Body::from(format!("slept {ms} ms")))
            })
        });

        let start = Instant::now();
        let jobs: Vec<_> = [300, 100, 200]
            .into_iter()
            .map(|ms| {
                let url = format!("{base}/delay/{ms}");
                grove::spawn(move || {
                    let resp = grove_http::get(&url)?;
                    let body = String::from_utf8_lossy(resp.body()).into_owned();
                    Ok::<_, std::io::Error>((url, body, start.elapsed()))
                })
            })
            .collect();
        // Like gevent.joinall(jobs, timeout=2): a deadline scope around the wait.
        let results = grove::timeout(Duration::from_secs(2), || grove::joinall(jobs))
            .expect("the fetches took longer than 2 s");
        for r in results {
            let (url, body, at) = r.expect("greenlet").expect("fetch");
            println!("{url:<40} {body:<12} done at {} ms", at.as_millis());
        }
        println!(
            "3 fetches (600 ms of waiting in all) took {} ms together",
            start.elapsed().as_millis()
        );
        stop.shutdown();
        backend.join().expect("backend").expect("serve");
    });
}
