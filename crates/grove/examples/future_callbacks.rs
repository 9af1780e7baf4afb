//! Futures and callbacks on the hub, Tornado-style: a result that another OS thread
//! completes later, a done-callback that runs on the hub's next loop turn after it is set,
//! callbacks queued for the next turn or after a delay, a greenlet awaited as a future, and
//! any Rust future driven from a greenlet.
//!
//! Mirrors: Tornado's `Future.add_done_callback`, `IOLoop.add_callback`,
//! `IOLoop.call_later`; gevent's `AsyncResult` and `Greenlet.link`.
//!
//! Run: `cargo run -p grove --example future_callbacks`

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use grove::sync::AsyncResult;

fn main() {
    grove::run(|| {
        let t0 = Instant::now();
        let ms = move || t0.elapsed().as_millis();

        // A future completed by a "backend" on a plain OS thread.
        let future: AsyncResult<u32> = AsyncResult::new();
        let producer = future.clone();
        let backend = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(80));
            producer.set(42);
        });
        // Runs on this hub, at the loop turn after the value is set; it must not block.
        future.on_ready(move |r| println!("{:>4} ms  done callback: {:?}", ms(), r));

        grove::add_callback(move || println!("{:>4} ms  add_callback: next loop turn", ms()));
        let _timer = grove::call_later(Duration::from_millis(40), move || {
            println!("{:>4} ms  call_later(40 ms)", ms())
        });
        let cancelled = grove::call_later(Duration::from_millis(60), || unreachable!());
        cancelled.cancel();
        println!("{:>4} ms  callbacks registered, nothing has run yet", ms());

        // A greenlet's end as a callback (gevent's link) and as a future.
        let log = Rc::new(RefCell::new(Vec::new()));
        let worker = grove::spawn(|| {
            grove::sleep(Duration::from_millis(20));
            "worker's value"
        });
        let l = log.clone();
        worker.on_done(move || l.borrow_mut().push("on_done ran"));
        let value = grove::block_on(async move { worker.await.unwrap() });
        println!("{:>4} ms  awaited the worker greenlet: {value:?}", ms());

        // Blocking on the future itself (the main greenlet parks; callbacks keep running).
        let v = future.get().unwrap();
        println!("{:>4} ms  future.get() = {v}", ms());
        grove::yield_now(); // one more loop turn for the done callback
        backend.join().unwrap();
        println!("{:?}", log.borrow());
    });
}
