//! Interop with Rust futures: drive any `Future` from a greenlet ([`block_on`]), and await
//! greenlets from async code ([`JoinHandle`](crate::JoinHandle) and
//! [`AsyncResult`](crate::sync::AsyncResult) implement `Future`).
//!
//! ```
//! // A result set on another OS thread, awaited as a future by the main greenlet.
//! let r = grove::sync::AsyncResult::new();
//! let producer = r.clone();
//! std::thread::spawn(move || producer.set(5));
//! assert_eq!(grove::block_on(r).unwrap(), 5);
//!
//! // A greenlet awaited as a future.
//! let h = grove::spawn(|| "from a greenlet");
//! assert_eq!(grove::block_on(h).unwrap(), "from a greenlet");
//! ```

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake as StdWake, Waker};

use crate::hub::fiber::Wake;
use crate::hub::{self, RemoteToken};

struct BlockOnWaker {
    woken: AtomicBool,
    token: Mutex<Option<RemoteToken>>,
}

impl StdWake for BlockOnWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::SeqCst);
        let t = self.token.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(t) = t {
            t.wake();
        }
    }
}

/// Drives `fut` to completion on the calling greenlet: between polls the greenlet parks and
/// other greenlets run; the future's waker (usable from any thread) reschedules it.
///
/// # Panics
/// If the future panics (the panic continues here).
///
/// # Examples
///
/// ```
/// let h = grove::spawn(|| 2);
/// // Any future: here a `JoinHandle`, awaited from async code.
/// let v = grove::block_on(async move { h.await.unwrap() * 21 });
/// assert_eq!(v, 42);
/// ```
pub fn block_on<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    let state = Arc::new(BlockOnWaker { woken: AtomicBool::new(false), token: Mutex::new(None) });
    let waker = Waker::from(state.clone());
    let mut cx = Context::from_waker(&waker);
    loop {
        state.woken.store(false, Ordering::SeqCst);
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
        hub::with(|h| {
            *state.token.lock().unwrap_or_else(|e| e.into_inner()) = Some(h.token().to_remote());
            // Woken while polling (or just now): poll again instead of parking.
            if state.woken.load(Ordering::SeqCst) {
                state.token.lock().unwrap_or_else(|e| e.into_inner()).take();
                return;
            }
            if h.park(None, "block_on") == Wake::Unwinding {
                // Waiting is impossible while unwinding (see Hub::park) and polling in a loop
                // would hang the hub: fail loudly instead.
                crate::diag::report(
                    crate::diag::Kind::Panic,
                    format_args!(
                        "block_on on a pending future from a greenlet that is unwinding (a \
                     destructor during kill or panic); aborting"
                    ),
                );
                std::process::abort();
            }
        });
    }
}
