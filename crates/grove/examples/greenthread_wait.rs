//! Spawning green threads and waiting for their results, the eventlet way: a value, a
//! panic re-raised as an error in the waiter, a kill, and a wait with a timeout that leaves
//! the green thread running.
//!
//! Mirrors: eventlet's `gt = eventlet.spawn(f)`, `gt.wait()`, `gt.kill()`,
//! `gt.link(callback)`; `join` is `wait()` that also takes the value.
//!
//! Run: `cargo run -p grove --example greenthread_wait`

use std::time::Duration;

use grove::{JoinError, WaitError};

fn main() {
    grove::run(|| {
        // The value comes back through the handle.
        let gt = grove::spawn(|| {
            grove::sleep(Duration::from_millis(20));
            6 * 7
        });
        println!("wait() -> {:?}", gt.join());

        // A panic inside the green thread arrives as an error where it is waited for (Rust's
        // panic hook still prints it on stderr, as for a thread).
        let gt = grove::spawn(|| -> u32 { panic!("division by zero (on purpose)") });
        match gt.join() {
            Err(JoinError::Panicked(p)) => {
                let msg = p.downcast_ref::<&str>().copied().unwrap_or("?");
                println!("wait() -> panicked: {msg:?}");
            }
            other => println!("unexpected: {other:?}"),
        }

        // kill() unwinds it from its blocking call: destructors run, wait() says Killed.
        struct Cleanup;
        impl Drop for Cleanup {
            fn drop(&mut self) {
                println!("  (the killed green thread's destructors ran)");
            }
        }
        let gt = grove::spawn(|| {
            let _c = Cleanup;
            grove::sleep(Duration::from_secs(3600));
        });
        grove::yield_now(); // let it start and block
        gt.kill().unwrap();
        println!("after kill(), wait() -> killed: {}", gt.join().unwrap_err().is_killed());

        // Waiting with a timeout gives up without ending it; it can be waited for again.
        let gt = grove::spawn(|| {
            grove::sleep(Duration::from_millis(100));
            "late but fine"
        });
        gt.on_done(|| println!("  link: the slow green thread finished"));
        assert_eq!(gt.wait_timeout(Duration::from_millis(10)), Err(WaitError::TimedOut));
        println!("wait_timeout(10 ms) -> TimedOut; still running: {}", !gt.is_finished());
        println!("wait() -> {:?}", gt.join());
        grove::yield_now(); // the link callback runs at the next loop turn
    });
}
