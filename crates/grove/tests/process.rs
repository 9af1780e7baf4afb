//! Subprocesses with cooperative pipes.

use std::cell::Cell;
use std::io::{Read, Write};
use std::process::Stdio;
use std::rc::Rc;
use std::time::Duration;

use grove::process::Command;

#[test]
fn subprocess_output_while_other_greenlets_run() {
    grove::run(|| {
        let ticks = Rc::new(Cell::new(0));
        let t = ticks.clone();
        let ticker = grove::spawn(move || loop {
            grove::sleep(Duration::from_millis(10));
            t.set(t.get() + 1);
        });
        let out = Command::new("sh")
            .args(["-c", "for i in 1 2 3; do echo $i; sleep 0.05; done; echo err >&2; exit 3"])
            .output()
            .unwrap();
        assert_eq!(out.stdout, b"1\n2\n3\n");
        assert_eq!(out.stderr, b"err\n");
        assert_eq!(out.status.code(), Some(3));
        assert!(ticks.get() >= 5, "the hub kept running ({} ticks)", ticks.get());
        ticker.kill();
    });
}

#[test]
fn piping_through_cat_and_many_children_at_once() {
    grove::run(|| {
        let mut child =
            Command::new("cat").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let big = vec![b'z'; 1 << 20]; // larger than a pipe buffer: both sides must interleave
        let writer = grove::spawn(move || {
            stdin.write_all(&big).unwrap();
        });
        let mut got = Vec::new();
        stdout.read_to_end(&mut got).unwrap();
        writer.join().unwrap();
        assert_eq!(got.len(), 1 << 20);
        assert!(child.wait().unwrap().success());

        let hs: Vec<_> = (0..20)
            .map(|i| {
                grove::spawn(move || {
                    Command::new("sh")
                        .args(["-c", &format!("sleep 0.1; echo {i}")])
                        .output()
                        .unwrap()
                })
            })
            .collect();
        let t = std::time::Instant::now();
        for (i, r) in grove::joinall(hs).into_iter().enumerate() {
            assert_eq!(r.unwrap().stdout, format!("{i}\n").as_bytes());
        }
        assert!(t.elapsed() < Duration::from_secs(5), "ran concurrently");
        let e = Command::new("/nonexistent/program").output().unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
    });
}
