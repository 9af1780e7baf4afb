//! Greenlet-local storage (gevent's `local`): each greenlet sees its own value, created on first
//! access and dropped when the greenlet ends.

use std::any::Any;
use std::fmt;
use std::rc::Rc;

use crate::hub;

/// A greenlet-local variable; declare it with [`local!`](crate::local).
///
/// Values are created lazily per greenlet by the initialiser and dropped when that greenlet's
/// function ends (on its own stack, so their destructors may block). The main greenlet's
/// values live until its thread exits.
///
/// # Examples
///
/// ```
/// use std::cell::RefCell;
/// grove::local! {
///     static REQUEST_ID: RefCell<Option<u64>> = RefCell::new(None);
/// }
/// let hs: Vec<_> = (1..=2u64)
///     .map(|id| {
///         grove::spawn(move || {
///             REQUEST_ID.with(|r| *r.borrow_mut() = Some(id));
///             grove::yield_now(); // the other greenlet sets its own value meanwhile
///             REQUEST_ID.with(|r| *r.borrow())
///         })
///     })
///     .collect();
/// let ids: Vec<_> = grove::joinall(hs).into_iter().map(Result::unwrap).collect();
/// assert_eq!(ids, [Some(1), Some(2)]);
/// ```
pub struct Local<T: 'static> {
    init: fn() -> T,
}

impl<T: 'static> fmt::Debug for Local<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Local")
    }
}

impl<T: 'static> Local<T> {
    #[doc(hidden)]
    pub const fn new(init: fn() -> T) -> Local<T> {
        Local { init }
    }

    /// Calls `f` with the running greenlet's value (created first if needed). Use `Cell` or
    /// `RefCell` inside for mutation, as with `thread_local!`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::cell::Cell;
    /// grove::local! {
    ///     static DEPTH: Cell<u32> = Cell::new(0);
    /// }
    /// DEPTH.with(|d| d.set(d.get() + 1));
    /// assert_eq!(DEPTH.with(Cell::get), 1);
    /// assert_eq!(grove::spawn(|| DEPTH.with(Cell::get)).join().unwrap(), 0); // its own value
    /// ```
    pub fn with<R>(&'static self, f: impl FnOnce(&T) -> R) -> R {
        let key = self as *const Self as usize;
        let cur = hub::current();
        let found = cur.local(key);
        let value = match found {
            Some(v) => v,
            None => {
                let v: Rc<dyn Any> = Rc::new((self.init)());
                cur.set_local(key, v.clone());
                v
            }
        };
        drop(cur);
        f(value.downcast_ref::<T>().expect("grove: local type mismatch"))
    }
}

/// Declares greenlet-local variables, like `thread_local!` but per greenlet.
///
/// ```
/// use std::cell::Cell;
/// grove::local! {
///     static REQUESTS: Cell<u32> = Cell::new(0);
/// }
/// let h = grove::spawn(|| {
///     REQUESTS.with(|r| r.set(r.get() + 5));
///     REQUESTS.with(|r| r.get())
/// });
/// assert_eq!(h.join().unwrap(), 5);
/// // The main greenlet has its own value.
/// assert_eq!(REQUESTS.with(|r| r.get()), 0);
/// ```
#[macro_export]
macro_rules! local {
    ($($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = $init:expr;)+) => {$(
        $(#[$attr])*
        $vis static $name: $crate::sync::Local<$t> = $crate::sync::Local::new(|| $init);
    )+};
}
