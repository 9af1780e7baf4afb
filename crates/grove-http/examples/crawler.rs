//! A web crawler with a pool of three greenlets and a deadline for the whole crawl. It
//! crawls a small site that it serves itself on 127.0.0.1: pages link to each other, one
//! page is missing (404) and one is too slow to finish before the deadline. When the
//! deadline passes, the crawl stops where it is and the fetches still in flight are killed.
//!
//! Mirrors: gevent's crawler examples (`Pool(size).spawn(crawl, url)` with a queue of
//! links) and `gevent.Timeout(seconds)` around the whole job.
//!
//! Run: `cargo run -p grove-http --example crawler`

use std::collections::{HashSet, VecDeque};
use std::time::{Duration, Instant};

use grove::pool::Pool;
use grove::sync::Queue;
use grove_http::http::StatusCode;
use grove_http::{Body, Response, Server};

const DEADLINE: Duration = Duration::from_millis(1500);

/// The site: each page and the paths it links to.
fn page(path: &str) -> Option<&'static [&'static str]> {
    Some(match path {
        "/" => &["/docs", "/blog", "/about"],
        "/docs" => &["/docs/intro", "/docs/api", "/"],
        "/docs/intro" => &["/docs/api"],
        "/docs/api" => &["/docs/intro", "/docs/missing"],
        "/blog" => &["/blog/1", "/blog/2", "/blog/archive"],
        "/blog/1" | "/blog/2" => &["/blog"],
        "/blog/archive" => &[], // served after 10 s: longer than the crawl's deadline
        "/about" => &["/"],
        _ => return None,
    })
}

fn serve_site(server: Server) -> std::io::Result<()> {
    server.serve(|req| {
        let path = req.uri().path().to_string();
        if path == "/blog/archive" {
            grove::sleep(Duration::from_secs(10));
        } else {
            grove::sleep(Duration::from_millis(50)); // every page takes a little while
        }
        match page(&path) {
            Some(links) => {
                let body: String =
                    links.iter().map(|l| format!("<a href=\"{l}\">{l}</a>\n")).collect();
                Response::new(Body::from(format!("<h1>{path}</h1>\n{body}")))
            }
            None => {
                let mut r = Response::new(Body::from("not found"));
                *r.status_mut() = StatusCode::NOT_FOUND;
                r
            }
        }
    })
}

/// The links in a page: every `href="..."`.
fn links(html: &str) -> Vec<String> {
    html.split("href=\"").skip(1).filter_map(|s| s.split('"').next()).map(String::from).collect()
}

/// What one fetch found.
struct Report {
    path: String,
    status: u16,
    links: Vec<String>,
    took: Duration,
}

fn main() {
    grove::run(|| {
        let server = Server::bind("127.0.0.1:0").expect("bind");
        let base = format!("http://{}", server.local_addr().expect("addr"));
        let stop = server.shutdown_handle();
        let site = grove::spawn(move || serve_site(server));

        let client = grove_http::Client::new();
        let pool = Pool::new(3);
        let reports: Queue<std::io::Result<Report>> = Queue::unbounded();
        let mut seen = HashSet::new();
        let mut crawled = 0;
        let start = Instant::now();
        // The crawl loop: the main greenlet hands URLs to the pool (waiting while all three
        // workers are busy) and takes their reports, until nothing is left or the deadline.
        let outcome = grove::timeout(DEADLINE, || {
            let mut frontier = VecDeque::from(["/".to_string()]);
            let mut in_flight = 0;
            loop {
                while let Some(path) = frontier.pop_front() {
                    if !seen.insert(path.clone()) {
                        continue;
                    }
                    let (client, reports, url) =
                        (client.clone(), reports.clone(), format!("{base}{path}"));
                    in_flight += 1;
                    // Waits for a free worker; past the deadline, unwinds to the scope.
                    let _worker = pool
                        .spawn(move || {
                            let t = Instant::now();
                            let report = client.get(&url).map(|resp| Report {
                                path,
                                status: resp.status().as_u16(),
                                links: links(&String::from_utf8_lossy(resp.body())),
                                took: t.elapsed(),
                            });
                            let _ = reports.put(report);
                        })
                        .expect("the main greenlet waits for a worker");
                }
                if in_flight == 0 {
                    return;
                }
                let report = reports.get().expect("reports never close");
                in_flight -= 1;
                match report {
                    Ok(r) => {
                        crawled += 1;
                        println!(
                            "{:>5} ms  {} {:<14} {} links ({} ms)",
                            start.elapsed().as_millis(),
                            r.status,
                            r.path,
                            r.links.len(),
                            r.took.as_millis()
                        );
                        frontier.extend(r.links);
                    }
                    Err(e) => println!("fetch failed: {e}"),
                }
            }
        });
        let still_running = pool.len();
        pool.kill().expect("kill the fetches in flight");
        match outcome {
            Ok(()) => println!("crawl complete: {crawled} pages"),
            Err(_) => println!(
                "deadline of {} ms: {crawled} pages crawled, {} seen, {still_running} fetch(es) \
                 still in flight were killed",
                DEADLINE.as_millis(),
                seen.len()
            ),
        }
        // The slow handler would keep the server busy for seconds: after a graceful start,
        // end it at once.
        stop.shutdown();
        if site.wait_timeout(Duration::from_millis(200)).is_err() {
            site.kill().expect("stop the site");
        }
    });
}
