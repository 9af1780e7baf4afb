//! Greenlets in the style of Python's `greenlet` package: explicit, symmetric switches that
//! carry values, a parent that receives the return value, and `throw` to unwind a greenlet.
//!
//! ```
//! use grove::greenlet::Greenlet;
//! use std::cell::RefCell;
//! use std::rc::Rc;
//!
//! let log = Rc::new(RefCell::new(Vec::new()));
//! let (l1, l2) = (log.clone(), log.clone());
//! let gr2: Rc<RefCell<Option<Greenlet>>> = Rc::default();
//! let g2 = gr2.clone();
//! let gr1 = Greenlet::new(move |_| {
//!     l1.borrow_mut().push(1);
//!     g2.borrow().as_ref().unwrap().switch(());
//!     l1.borrow_mut().push(3);
//!     Box::new(())
//! });
//! let g1 = gr1.clone();
//! *gr2.borrow_mut() = Some(Greenlet::new(move |_| {
//!     l2.borrow_mut().push(2);
//!     g1.switch(());
//!     l2.borrow_mut().push(4); // never runs: nobody switches back to gr2
//!     Box::new(())
//! }));
//! gr1.switch(());
//! assert_eq!(*log.borrow(), [1, 2, 3]);
//! assert!(gr1.is_finished());
//! ```
//!
//! Greenlets made here are not scheduled by the hub: they run only when switched to. They may
//! still call blocking grove functions (sleep, I/O): the hub then parks and resumes them like any
//! spawned greenlet.

use std::any::Any;
use std::fmt;
use std::io;
use std::panic::{self, AssertUnwindSafe, Location};

use crate::hub;
pub use crate::hub::fiber::GreenletExit;
use crate::hub::fiber::{create, FiberRef, Kind, Message, State};

/// A dynamically typed value passed by [`Greenlet::switch`].
///
/// # Examples
///
/// ```
/// use grove::greenlet::{Greenlet, Value};
/// let g = Greenlet::new(|v: Value| {
///     let n = *v.downcast::<i32>().unwrap();
///     Box::new(n + 1) as Value
/// });
/// let out: Value = g.switch(41);
/// assert_eq!(*out.downcast::<i32>().unwrap(), 42);
/// ```
pub type Value = Box<dyn Any>;

/// A greenlet that runs only when switched to (Python's `greenlet.greenlet`).
///
/// Cloning gives another handle to the same greenlet. Not `Send`: a greenlet lives and dies on
/// the thread that made it.
///
/// ```compile_fail
/// fn must_be_send<T: Send>(_: T) {}
/// must_be_send(grove::greenlet::getcurrent());
/// ```
pub struct Greenlet {
    f: FiberRef,
}

impl Clone for Greenlet {
    fn clone(&self) -> Self {
        Greenlet::from_fiber(self.f.clone())
    }
}

/// Dropping the last handle of a raw greenlet waiting in `switch` (with no child that would
/// return to it) unwinds it with `GreenletExit`, since nothing can ever switch to it again
/// (greenlet's behaviour on garbage collection); one never started is dropped unrun.
impl Drop for Greenlet {
    fn drop(&mut self) {
        if self.f.kind != Kind::Raw || !self.f.drop_handle() {
            return;
        }
        match self.f.state.get() {
            State::New => {
                let _ = hub::try_with(|h| h.finish_unstarted(&self.f));
            }
            State::Suspended => {
                let _ = hub::try_with(|h| h.collect(&self.f));
            }
            _ => {}
        }
    }
}

impl fmt::Debug for Greenlet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.f.fmt(f)
    }
}

impl PartialEq for Greenlet {
    fn eq(&self, other: &Self) -> bool {
        self.f.same(&other.f)
    }
}

impl Greenlet {
    /// A new greenlet that will run `f` when first switched to; `f` receives the value of that
    /// first switch, and its return value goes to the greenlet's parent (by default the
    /// greenlet that created it).
    ///
    /// # Panics
    /// If no stack can be mapped (see [`Greenlet::try_new`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use grove::greenlet::Greenlet;
    /// let g = Greenlet::new(|_| Box::new("returned to the parent"));
    /// let r = g.switch(());
    /// assert_eq!(*r.downcast::<&str>().unwrap(), "returned to the parent");
    /// assert!(g.is_finished());
    /// ```
    #[track_caller]
    pub fn new(f: impl FnOnce(Value) -> Value + 'static) -> Greenlet {
        Self::try_new(f).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Like [`Greenlet::new`], but returns the error when the kernel refuses another stack.
    ///
    /// # Errors
    /// The mmap/mprotect failure, with a message naming `vm.max_map_count`.
    ///
    /// # Examples
    ///
    /// ```
    /// use grove::greenlet::Greenlet;
    /// let g = Greenlet::try_new(|v| v)?; // echoes its first value back
    /// assert_eq!(*g.switch(7u8).downcast::<u8>().unwrap(), 7);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn try_new(f: impl FnOnce(Value) -> Value + 'static) -> io::Result<Greenlet> {
        let f = create(Kind::Raw, None, Location::caller(), move |me, _input| {
            let first = me.take_inbox();
            let arg = match first {
                Some(Message::Value(v)) => v,
                _ => Box::new(()),
            };
            Some(match panic::catch_unwind(AssertUnwindSafe(|| f(arg))) {
                Ok(v) => Message::Value(v),
                Err(p) if p.is::<GreenletExit>() => Message::Value(Box::new(GreenletExit)),
                Err(p) => Message::Throw(p),
            })
        })?;
        f.set_parent(Some(hub::current()));
        Ok(Greenlet::from_fiber(f))
    }

    pub(crate) fn from_fiber(f: FiberRef) -> Greenlet {
        if f.kind == Kind::Raw {
            f.add_handle();
        }
        Greenlet { f }
    }

    /// Switches to this greenlet, passing `value` (the argument of its function on the first
    /// switch, else the return value of the `switch` call it is waiting in). Returns the value
    /// the current greenlet is switched back with, or the value a finished child returned.
    ///
    /// A `Value` (`Box<dyn Any>`) passed in is forwarded as is, not boxed again. Switching to a
    /// dead greenlet returns `value` at once.
    ///
    /// # Panics
    /// If the target is blocked in the hub (sleeping, waiting for I/O) or scheduled by it; if a
    /// child greenlet that finishes into this one panicked (its panic continues here); if this
    /// is the main greenlet and nothing can ever switch back (deadlock).
    ///
    /// # Examples
    ///
    /// ```
    /// use grove::greenlet::{getcurrent, Greenlet};
    /// let main = getcurrent();
    /// let g = Greenlet::new(move |first| {
    ///     let reply = main.switch(*first.downcast::<u32>().unwrap() * 2); // back to main
    ///     reply
    /// });
    /// let doubled = g.switch(21u32);
    /// assert_eq!(*doubled.downcast::<u32>().unwrap(), 42);
    /// let last = g.switch("bye"); // resumes g, which returns "bye" to its parent
    /// assert_eq!(*last.downcast::<&str>().unwrap(), "bye");
    /// ```
    pub fn switch<V: Any>(&self, value: V) -> Value {
        let boxed: Value = Box::new(value);
        let v = match boxed.downcast::<Value>() {
            Ok(inner) => *inner,
            Err(b) => b,
        };
        let back = hub::with(|h| h.switch_to(self.f.clone(), Message::Value(v)));
        match back {
            Some(Message::Value(v)) => v,
            Some(Message::Throw(p)) => panic::resume_unwind(p),
            None => panic!(
                "grove: this operation would block forever: the main greenlet switched away \
                 and nothing can ever switch back"
            ),
        }
    }

    /// Kills this greenlet: it unwinds from the switch it waits in (destructors run) and its
    /// parent receives `GreenletExit` as the return value. A greenlet that never ran just dies.
    /// If control comes back to the caller, `throw` returns what it was switched back with.
    ///
    /// # Examples
    ///
    /// ```
    /// use grove::greenlet::{getcurrent, Greenlet};
    /// use grove::GreenletExit;
    /// let main = getcurrent();
    /// let g = Greenlet::new(move |_| main.switch(())); // waits in a switch
    /// g.switch(());
    /// let back = g.throw().unwrap(); // g unwinds; main gets GreenletExit
    /// assert!(back.is::<GreenletExit>());
    /// assert!(g.is_finished());
    /// ```
    pub fn throw(&self) -> Option<Value> {
        match self.f.state.get() {
            State::Dead => None,
            State::New => {
                hub::with(|h| h.finish_unstarted(&self.f));
                None
            }
            _ => {
                let back = hub::with(|h| {
                    self.f.kill_pending.set(false);
                    self.f.killed.set(true);
                    h.switch_to(self.f.clone(), Message::Throw(Box::new(GreenletExit)))
                });
                match back {
                    Some(Message::Value(v)) => Some(v),
                    Some(Message::Throw(p)) => panic::resume_unwind(p),
                    None => None,
                }
            }
        }
    }

    /// Asks the greenlet to die, whatever it waits on (hub-blocked or in a switch), and returns
    /// at once: it unwinds from that point the next time the hub runs it (gevent's
    /// `kill(block=False)`; the name says it does not wait, as with
    /// [`JoinHandle::kill_nowait`](crate::JoinHandle::kill_nowait)). A greenlet that never
    /// ran just dies.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let h = grove::spawn(|| grove::sleep(Duration::from_secs(60)));
    /// grove::yield_now();
    /// h.greenlet().kill_nowait();
    /// assert!(h.join().unwrap_err().is_killed());
    /// ```
    pub fn kill_nowait(&self) {
        hub::with(|h| h.kill(&self.f));
    }

    /// If the greenlet is blocked in the hub (sleeping, waiting) or scheduled by it, kills it
    /// with nobody to receive its end (for a dropped `Generator`): it unwinds the next time
    /// the hub runs it. No effect on a greenlet that is not, or once the thread's hub is gone.
    pub(crate) fn abandon(&self) {
        if !matches!(self.f.state.get(), State::Parked | State::Ready) {
            return;
        }
        self.f.set_parent(None);
        let _ = hub::try_with(|h| h.kill(&self.f));
    }

    /// Whether the greenlet's function has returned (or it was killed).
    ///
    /// # Examples
    ///
    /// ```
    /// let g = grove::greenlet::Greenlet::new(|v| v);
    /// assert!(!g.is_finished());
    /// g.switch(());
    /// assert!(g.is_finished());
    /// ```
    pub fn is_finished(&self) -> bool {
        self.f.state.get() == State::Dead
    }

    /// Whether the greenlet has started running and is not dead (a spawned greenlet waiting
    /// for its first turn is not active yet).
    ///
    /// # Examples
    ///
    /// ```
    /// let h = grove::spawn(|| grove::sleep(std::time::Duration::from_millis(20)));
    /// let g = h.greenlet();
    /// assert!(!g.is_active()); // not started yet
    /// grove::yield_now();
    /// assert!(g.is_active()); // started, sleeping
    /// h.join().unwrap();
    /// assert!(!g.is_active());
    /// ```
    pub fn is_active(&self) -> bool {
        match self.f.state.get() {
            State::New | State::Dead => false,
            State::Running | State::Parked | State::Suspended => true,
            State::Ready => self.f.is_main() || self.f.started(),
        }
    }

    /// The greenlet that receives control when this one finishes.
    ///
    /// # Examples
    ///
    /// ```
    /// use grove::greenlet::{getcurrent, Greenlet};
    /// let g = Greenlet::new(|v| v);
    /// assert_eq!(g.parent().unwrap().id(), getcurrent().id()); // its creator
    /// assert!(getcurrent().parent().is_none()); // the main greenlet has none
    /// ```
    pub fn parent(&self) -> Option<Greenlet> {
        self.f.parent().map(Greenlet::from_fiber)
    }

    /// Changes the parent.
    ///
    /// # Panics
    /// If that would make a cycle.
    ///
    /// # Examples
    ///
    /// ```
    /// use grove::greenlet::Greenlet;
    /// let collector = Greenlet::new(|v| v); // receives g's return value
    /// let g = Greenlet::new(|_| Box::new(5));
    /// g.set_parent(&collector);
    /// assert_eq!(g.parent().unwrap().id(), collector.id());
    /// ```
    pub fn set_parent(&self, parent: &Greenlet) {
        let mut p = Some(parent.f.clone());
        while let Some(cur) = p {
            assert!(!cur.same(&self.f), "grove: set_parent would create a cycle");
            p = cur.parent();
        }
        self.f.set_parent(Some(parent.f.clone()));
    }

    /// A process-unique id.
    ///
    /// # Examples
    ///
    /// ```
    /// use grove::greenlet::{getcurrent, Greenlet};
    /// let g = Greenlet::new(|v| v);
    /// assert_ne!(g.id(), getcurrent().id());
    /// ```
    pub fn id(&self) -> u64 {
        self.f.id
    }

    /// The greenlet's name, if it has one.
    ///
    /// # Examples
    ///
    /// ```
    /// let h = grove::Builder::new().name("poller").spawn(|| grove::getcurrent().name());
    /// assert_eq!(h.join().unwrap().as_deref(), Some("poller"));
    /// ```
    pub fn name(&self) -> Option<String> {
        self.f.name()
    }

    /// Names the greenlet (shown by run info, panic and overflow reports).
    ///
    /// # Examples
    ///
    /// ```
    /// let g = grove::greenlet::Greenlet::new(|v| v);
    /// g.set_name("parser");
    /// assert_eq!(g.name().as_deref(), Some("parser"));
    /// ```
    pub fn set_name(&self, name: impl Into<String>) {
        self.f.set_name(name.into());
    }

    /// Whether this is the thread's main greenlet.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(grove::getcurrent().is_main());
    /// let h = grove::spawn(|| grove::getcurrent().is_main());
    /// assert!(!h.join().unwrap());
    /// ```
    pub fn is_main(&self) -> bool {
        self.f.is_main()
    }
}

/// The greenlet running now (the thread's main greenlet outside any other).
///
/// # Examples
///
/// ```
/// let h = grove::spawn(|| grove::getcurrent().id());
/// let id = h.id();
/// assert_eq!(h.join().unwrap(), id);
/// ```
pub fn getcurrent() -> Greenlet {
    Greenlet::from_fiber(hub::current())
}
