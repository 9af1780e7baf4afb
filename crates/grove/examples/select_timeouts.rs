//! Waiting for the first of several things, and the two kinds of timeout. A dispatcher
//! greenlet selects over a queue of jobs, a queue of urgent jobs, a stop event and a
//! deadline; then a call's own timeout (`get_timeout`, returned as an error) is shown next
//! to a timeout scope (`grove::timeout`, which unwinds whatever blocking call is running
//! when it expires).
//!
//! Mirrors: Go's `select` with `time.After`; gevent's `gevent.wait(objects, count=1,
//! timeout=)`, `queue.get(timeout=)` and `with gevent.Timeout(seconds):`.
//!
//! Run: `cargo run -p grove --example select_timeouts`

use std::time::Duration;

use grove::select::Select;
use grove::sync::{Event, Queue};

fn main() {
    grove::run(|| {
        let (jobs, urgent) = (Queue::<String>::unbounded(), Queue::<String>::unbounded());
        let stop = Event::new();
        let (j, u, s) = (jobs.clone(), urgent.clone(), stop.clone());
        let dispatcher = grove::spawn(move || {
            let mut handled = 0;
            loop {
                let mut sel = Select::new();
                // Registered first: when both queues have work, urgent wins.
                let hot = sel.recv(&u);
                let job = sel.recv(&j);
                let quit = sel.event(&s);
                match sel.wait_timeout(Duration::from_millis(150)) {
                    Ok(i) if i == hot => println!("urgent: {}", u.try_get().unwrap()),
                    Ok(i) if i == job => println!("job:    {}", j.try_get().unwrap()),
                    Ok(i) if i == quit => return handled,
                    Ok(_) => unreachable!(),
                    Err(e) => {
                        println!("nothing for 150 ms ({e}); still waiting");
                        continue;
                    }
                }
                handled += 1;
            }
        });
        jobs.put("resize image".into()).unwrap();
        urgent.put("page the on-call".into()).unwrap();
        jobs.put("send newsletter".into()).unwrap();
        grove::sleep(Duration::from_millis(200)); // the dispatcher drains, then idles once
        stop.set();
        println!("dispatcher handled {} jobs\n", dispatcher.join().unwrap());

        // A call's own timeout: an error value; the caller decides what to do.
        let empty: Queue<u32> = Queue::unbounded();
        match empty.get_timeout(Duration::from_millis(50)) {
            Ok(v) => println!("got {v}"),
            Err(e) => println!("get_timeout(50 ms): {e}"),
        }

        // A timeout scope: when it expires, the blocking call in progress (here a sleep deep
        // inside ordinary code) unwinds to the scope, destructors included.
        fn slow_report() -> &'static str {
            grove::sleep(Duration::from_secs(10));
            "never"
        }
        match grove::timeout(Duration::from_millis(50), slow_report) {
            Ok(v) => println!("report: {v}"),
            Err(e) => println!("timeout scope: {e}"),
        }
    });
}
