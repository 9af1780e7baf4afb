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
///
/// # Examples
///
/// ```
/// use grove::{Generator, GeneratorState};
/// let mut g = Generator::new(|co, ()| {
///     co.yield_(1);
///     "done"
/// });
/// assert_eq!(g.resume(()), GeneratorState::Yielded(1));
/// assert_eq!(g.resume(()), GeneratorState::Complete("done"));
/// ```
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
///
/// # Examples
///
/// ```
/// use grove::{Generator, GeneratorState};
/// // `co.yield_(out)` hands `out` to `resume` and returns the next value sent in.
/// let mut echo = Generator::new(|co, first: String| {
///     let second = co.yield_(first.len());
///     second.len()
/// });
/// assert_eq!(echo.resume("abc".into()), GeneratorState::Yielded(3));
/// assert_eq!(echo.resume("hello".into()), GeneratorState::Complete(5));
/// ```
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
    ///
    /// # Examples
    ///
    /// ```
    /// use grove::Generator;
    /// let countdown: Vec<u32> = Generator::new(|co, ()| {
    ///     for i in (1..=3).rev() {
    ///         co.yield_(i);
    ///     }
    /// })
    /// .collect();
    /// assert_eq!(countdown, [3, 2, 1]);
    /// ```
    pub fn yield_(&self, value: Y) -> S {
        self.slots.output.set(Some(value));
        let parent = getcurrent().parent().expect("grove: generator without a resumer");
        parent.switch(());
        self.slots.input.take().expect("grove: generator resumed without a value")
    }
}

/// A generator taking `S` values in, yielding `Y` values and returning `R`.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use grove::{Generator, GeneratorState};
/// // The body may block: `resume` returns when it next yields.
/// let mut ticks = Generator::new(|co, ()| {
///     for i in 0..2 {
///         grove::sleep(Duration::from_millis(1));
///         co.yield_(i);
///     }
/// });
/// assert_eq!(ticks.resume(()), GeneratorState::Yielded(0));
/// assert_eq!(ticks.resume(()), GeneratorState::Yielded(1));
/// assert_eq!(ticks.resume(()), GeneratorState::Complete(()));
/// ```
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
    ///
    /// # Examples
    ///
    /// ```
    /// use grove::{Generator, GeneratorState};
    /// let mut g = Generator::new(|_co: &grove::Co<i32, ()>, start: i32| start * 2);
    /// assert_eq!(g.resume(21), GeneratorState::Complete(42));
    /// ```
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
    ///
    /// # Examples
    ///
    /// ```
    /// use grove::{Generator, GeneratorState};
    /// let mut doubler = Generator::new(|co, mut x: i32| loop {
    ///     x = co.yield_(x * 2);
    /// });
    /// assert_eq!(doubler.resume(1), GeneratorState::Yielded(2));
    /// assert_eq!(doubler.resume(5), GeneratorState::Yielded(10));
    /// ```
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
    ///
    /// # Examples
    ///
    /// ```
    /// let mut g = grove::Generator::new(|co, ()| co.yield_(()));
    /// g.resume(());
    /// assert!(!g.is_finished());
    /// g.resume(());
    /// assert!(g.is_finished());
    /// ```
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
        self.1.abandon();
    }
}

/// A suspended body is unwound right away by the drop of its greenlet's last handle (with the
/// dropping greenlet as its parent); a body blocked in the hub (sleeping, waiting for I/O) is
/// killed and unwinds when the hub next runs it.
impl<S, Y, R> Drop for Generator<S, Y, R> {
    fn drop(&mut self) {
        self.g.abandon();
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
