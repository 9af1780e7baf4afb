//! Generators: a function on its own greenlet that hands values out with `yield_` and takes
//! values in with `resume` (Python's generator `send`, producer/consumer style).
//!
//! ```
//! use grove::{Generator, GeneratorState};
//!
//! // A running-total consumer: each value sent in is added, the total so far comes out.
//! let mut acc = Generator::new(|co, first: u32| {
//!     let mut total = first;
//!     loop {
//!         let next = co.yield_(total);
//!         if next == 0 {
//!             return format!("final {total}");
//!         }
//!         total += next;
//!     }
//! });
//! assert_eq!(acc.resume(5), GeneratorState::Yielded(5));
//! assert_eq!(acc.resume(10), GeneratorState::Yielded(15));
//! assert_eq!(acc.resume(0), GeneratorState::Complete("final 15".to_string()));
//!
//! // With nothing sent in, a generator is an Iterator.
//! let squares: Vec<u64> = Generator::new(|co, ()| {
//!     for i in 1..=4u64 {
//!         co.yield_(i * i);
//!     }
//! })
//! .collect();
//! assert_eq!(squares, [1, 4, 9, 16]);
//! ```
//!
//! The body may block (sleep, I/O): the hub parks it like any greenlet, and `resume` returns
//! when it next yields or returns. A panic in the body continues in the caller of `resume`.
//! Dropping a suspended generator unwinds its stack (destructors run).

use std::cell::Cell;
use std::fmt;
use std::marker::PhantomData;
use std::rc::Rc;

use crate::greenlet::{getcurrent, Greenlet};

/// What [`Generator::resume`] returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GeneratorState<Y, R> {
    /// The body called `yield_` with this value.
    Yielded(Y),
    /// The body returned this value; the generator is finished.
    Complete(R),
}

struct Slots<S, Y> {
    input: Cell<Option<S>>,
    output: Cell<Option<Y>>,
}

/// The generator body's side: `yield_` values out, receive the next value in.
pub struct Co<S, Y> {
    slots: Rc<Slots<S, Y>>,
}

impl<S, Y> fmt::Debug for Co<S, Y> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Co")
    }
}

impl<S, Y> Co<S, Y> {
    /// Hands `value` to the caller of `resume` and waits to be resumed; returns the value
    /// passed to that next `resume`.
    pub fn yield_(&self, value: Y) -> S {
        self.slots.output.set(Some(value));
        let parent = getcurrent().parent().expect("grove: generator without a resumer");
        parent.switch(());
        self.slots.input.take().expect("grove: generator resumed without a value")
    }
}

/// A generator taking `S` values in, yielding `Y` values and returning `R`.
pub struct Generator<S, Y, R> {
    g: Greenlet,
    slots: Rc<Slots<S, Y>>,
    ret: Rc<Cell<Option<R>>>,
    done: bool,
    _marker: PhantomData<fn(S) -> (Y, R)>,
}

impl<S, Y, R> fmt::Debug for Generator<S, Y, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Generator({:?}, done: {})", self.g, self.done)
    }
}

impl<S: 'static, Y: 'static, R: 'static> Generator<S, Y, R> {
    /// A generator that runs `body` from the first `resume`, which passes its value as
    /// `body`'s second argument.
    ///
    /// # Panics
    /// When the kernel refuses another stack.
    #[track_caller]
    pub fn new(body: impl FnOnce(&Co<S, Y>, S) -> R + 'static) -> Self {
        let slots = Rc::new(Slots { input: Cell::new(None), output: Cell::new(None) });
        let ret = Rc::new(Cell::new(None));
        let co = Co { slots: slots.clone() };
        let r = ret.clone();
        let g = Greenlet::new(move |_| {
            let first = co.slots.input.take().expect("grove: generator started without a value");
            r.set(Some(body(&co, first)));
            Box::new(())
        });
        Generator { g, slots, ret, done: false, _marker: PhantomData }
    }

    /// Runs the body until it yields or returns, passing `value` in.
    ///
    /// # Panics
    /// If the generator already completed; if the body panics (the panic continues here).
    pub fn resume(&mut self, value: S) -> GeneratorState<Y, R> {
        assert!(!self.done, "grove: resumed a generator that already completed");
        // Refused before anything changes (the generator stays usable).
        crate::hub::with(|h| h.check_can_switch());
        self.slots.input.set(Some(value));
        self.g.set_parent(&getcurrent());
        let unwinding = PanicGuard(&mut self.done, &self.g);
        self.g.switch(());
        std::mem::forget(unwinding);
        if let Some(y) = self.slots.output.take() {
            return GeneratorState::Yielded(y);
        }
        self.done = true;
        GeneratorState::Complete(self.ret.take().expect("grove: generator ended without a value"))
    }

    /// Whether the body has returned (or panicked).
    pub fn is_finished(&self) -> bool {
        self.done
    }
}

/// Marks the generator completed if `resume` unwinds: the body panicked, or the resumer was
/// killed (or its scope expired) while the body ran. In the second case a body still blocked
/// in the hub has nobody to yield to any more: it is killed too.
struct PanicGuard<'a>(&'a mut bool, &'a Greenlet);

impl Drop for PanicGuard<'_> {
    fn drop(&mut self) {
        *self.0 = true;
        if self.1.in_hub() {
            self.1.abandon();
        }
    }
}

/// A suspended body is unwound right away by the drop of its greenlet's last handle (with the
/// dropping greenlet as its parent); a body blocked in the hub (sleeping, waiting for I/O) is
/// killed and unwinds when the hub next runs it.
impl<S, Y, R> Drop for Generator<S, Y, R> {
    fn drop(&mut self) {
        if self.g.in_hub() {
            self.g.abandon();
        }
    }
}

impl<Y: 'static, R: 'static> Iterator for Generator<(), Y, R> {
    type Item = Y;

    fn next(&mut self) -> Option<Y> {
        if self.done {
            return None;
        }
        match self.resume(()) {
            GeneratorState::Yielded(y) => Some(y),
            GeneratorState::Complete(_) => None,
        }
    }
}
