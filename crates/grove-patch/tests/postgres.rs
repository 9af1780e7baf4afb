//! Interop with a real PostgreSQL server through the unmodified sync `postgres` crate (17.7 and
//! the interop suite): its client runs a tokio current-thread runtime and waits in
//! `epoll_wait`, which grove-patch turns into a park on the epoll fd.
//!
//! The server is a private cluster the tests create (`initdb`) and start on a free loopback
//! port, and stop and delete on drop. `.ci/run` installs PostgreSQL when it is missing; where
//! its binaries are absent (a machine that never ran `.ci/run`) each test says so on stderr
//! and passes without running.
//!
//! tokio allows one greenlet per hub inside `block_on` at a time (see grove-patch's docs), so
//! these tests run one client per hub; what they prove is that the hub keeps running other
//! greenlets while that client waits on the server, that a kill mid-query lands cleanly once
//! the query is over (and never aborts the process), and that clients on several hubs of a
//! runtime query at once.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{watchdog, Ticker};

/// Generous: only a hang takes this long.
const LIVENESS: Duration = Duration::from_secs(60);

/// A private PostgreSQL cluster on 127.0.0.1:`port`, stopped and deleted on drop.
struct Postgres {
    port: u16,
    dir: PathBuf,
    server: Child,
}

impl Postgres {
    /// Creates and starts a cluster; `None` when PostgreSQL is not installed.
    fn start() -> Option<Postgres> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| Some(e.ok()?.path().join("bin")))
            .find(|b| b.join("initdb").exists() && b.join("postgres").exists());
        let Some(bin) = bin else {
            eprintln!("postgres interop: PostgreSQL is not installed (apt-get install postgresql); skipped");
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let dir = std::env::temp_dir().join(format!("grove-pg-{}-{port}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        // initdb and postgres refuse to run as root: run them as the `postgres` user then
        // (directly, so the server is our child and our signals reach it).
        // SAFETY: geteuid has no preconditions.
        let as_root = unsafe { libc::geteuid() } == 0;
        let user = if as_root { Some(postgres_user()) } else { None };
        if let Some((uid, gid)) = user {
            std::os::unix::fs::chown(&dir, Some(uid), Some(gid)).unwrap();
        }
        let cmd = |prog: &Path| {
            let mut c = Command::new(prog);
            if let Some((uid, gid)) = user {
                use std::os::unix::process::CommandExt;
                c.uid(uid).gid(gid).current_dir(&dir);
            }
            c
        };
        let data = dir.join("data");
        let out = cmd(&bin.join("initdb"))
            .args(["-A", "trust", "-U", "grove", "--no-sync", "-D"])
            .arg(&data)
            .stdout(Stdio::null())
            .output()
            .unwrap();
        assert!(out.status.success(), "initdb: {}", String::from_utf8_lossy(&out.stderr));
        let server = cmd(&bin.join("postgres"))
            .arg("-D")
            .arg(&data)
            .args(["-p", &port.to_string(), "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"])
            .arg("-k")
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let pg = Postgres { port, dir, server };
        let t = Instant::now();
        while postgres::Client::connect(&pg.url(), postgres::NoTls).is_err() {
            assert!(t.elapsed() < LIVENESS, "postgres did not come up");
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(pg)
    }

    fn url(&self) -> String {
        format!("host=127.0.0.1 port={} user=grove dbname=postgres", self.port)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        // SIGINT: PostgreSQL's fast shutdown.
        // SAFETY: kill only sends a signal to the child this value owns.
        unsafe { libc::kill(self.server.id() as i32, libc::SIGINT) };
        let t = Instant::now();
        while self.server.try_wait().ok().flatten().is_none() && t.elapsed() < LIVENESS {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.server.kill();
        let _ = self.server.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The `postgres` system user's uid and gid (the Debian package creates it).
fn postgres_user() -> (u32, u32) {
    // SAFETY: getpwnam reads a NUL-terminated name and returns a pointer into static storage
    // (or null), read at once on this thread.
    let pw = unsafe { libc::getpwnam(c"postgres".as_ptr()) };
    assert!(!pw.is_null(), "no postgres user to run the server as");
    // SAFETY: non-null, so it points at a valid passwd record.
    unsafe { ((*pw).pw_uid, (*pw).pw_gid) }
}

/// A query the server holds for 300 ms: the hub runs a ticker meanwhile, and the answer is
/// the server's.
#[test]
fn a_query_waiting_in_the_server_lets_the_hub_run() {
    let Some(pg) = Postgres::start() else { return };
    grove_patch::enable();
    let url = pg.url();
    watchdog(120, "postgres query in a greenlet", move || {
        grove::run(move || {
            let ticker = Ticker::start();
            let before = ticker.ticks();
            let q = grove::spawn(move || {
                let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
                let row = c.query_one("SELECT pg_sleep(0.3)::text || 'done'", &[]).unwrap();
                row.get::<_, String>(0)
            });
            assert_eq!(q.join().unwrap(), "done");
            // A blocked hub would have run the ticker at most once around the query.
            let during = ticker.ticks() - before;
            assert!(during >= 2, "the ticker ran {during} times during a 300 ms query");
            ticker.stop();
        });
    });
}

/// A greenlet killed while its query waits in the server. The client's event loop cannot
/// take an error from its wait (tokio would abort the process), so the query finishes, and the
/// kill lands when the client returns to Rust code: `join` says `Killed`, the hub ran other
/// greenlets meanwhile, and a new client on the same hub works.
#[test]
fn a_kill_mid_query_lands_after_it_and_leaves_everything_usable() {
    let Some(pg) = Postgres::start() else { return };
    grove_patch::enable();
    let url = pg.url();
    watchdog(120, "kill during a postgres query", move || {
        grove::run(move || {
            let u = url.clone();
            let h = grove::spawn(move || {
                let mut c = postgres::Client::connect(&u, postgres::NoTls).unwrap();
                let _ = c.simple_query("SELECT pg_sleep(1)");
                grove::sleep(Duration::from_secs(3600)); // the kill lands here
            });
            // Watch from a plain thread (libc's blocking behaviour) until the query runs.
            let u = url.clone();
            let watcher = std::thread::spawn(move || {
                let mut c = postgres::Client::connect(&u, postgres::NoTls).unwrap();
                let t = Instant::now();
                loop {
                    let n: i64 = c
                        .query_one(
                            "SELECT count(*) FROM pg_stat_activity \
                             WHERE query = 'SELECT pg_sleep(1)' AND state = 'active'",
                            &[],
                        )
                        .unwrap()
                        .get(0);
                    if n > 0 {
                        return;
                    }
                    assert!(t.elapsed() < LIVENESS, "the query never started");
                    std::thread::sleep(Duration::from_millis(5));
                }
            });
            while !watcher.is_finished() {
                grove::sleep(Duration::from_millis(2));
            }
            watcher.join().unwrap();
            h.kill_nowait();
            let ticker = Ticker::start();
            assert!(matches!(h.join(), Err(grove::JoinError::Killed)));
            let ticks = ticker.ticks();
            assert!(ticks >= 2, "the hub ran {ticks} ticks while the query finished");
            ticker.stop();
            // The hub and the server still work, on a fresh client.
            let u = url.clone();
            let one = grove::spawn(move || {
                let mut c = postgres::Client::connect(&u, postgres::NoTls).unwrap();
                c.query_one("SELECT 1::int4", &[]).unwrap().get::<_, i32>(0)
            });
            assert_eq!(one.join().unwrap(), 1);
        });
    });
}

/// Clients on several hubs of a runtime query at once: each says it arrived, then waits (in
/// the server) until all have; none leaves before the last arrives, so all were in the server
/// at the same moment, which clients run one after another never would be (the first would
/// give up after 30 s).
#[test]
fn clients_on_several_hubs_are_in_the_server_at_once() {
    let Some(pg) = Postgres::start() else { return };
    grove_patch::enable();
    const HUBS: usize = 3;
    let mut setup = postgres::Client::connect(&pg.url(), postgres::NoTls).unwrap();
    setup.batch_execute("CREATE TABLE arrived (hub int)").unwrap();
    let rt = grove::Runtime::builder().hubs(HUBS).monitor(None).build().unwrap();
    let hs: Vec<_> = (0..HUBS)
        .map(|i| {
            let url = pg.url();
            rt.handle().spawn_on(i, move || {
                let mut c =
                    postgres::Client::connect(&url, postgres::NoTls).map_err(|e| e.to_string())?;
                c.execute("INSERT INTO arrived VALUES ($1)", &[&(i as i32)])
                    .map_err(|e| e.to_string())?;
                // Every statement in the loop sees rows committed before it started.
                let sql = format!(
                    "DO $$ BEGIN \
                       FOR i IN 1..3000 LOOP \
                         IF (SELECT count(*) FROM arrived) >= {HUBS} THEN RETURN; END IF; \
                         PERFORM pg_sleep(0.01); \
                       END LOOP; \
                       RAISE EXCEPTION 'only % of {HUBS} clients arrived', \
                         (SELECT count(*) FROM arrived); \
                     END $$"
                );
                c.batch_execute(&sql).map_err(|e| {
                    format!("{e}: {:?}", e.as_db_error().map(|d| d.message().to_string()))
                })
            })
        })
        .collect();
    let results: Vec<_> = hs.into_iter().map(|h| h.join()).collect();
    for r in &results {
        assert!(matches!(r, Ok(Ok(()))), "{results:?}");
    }
    rt.shutdown();
}
