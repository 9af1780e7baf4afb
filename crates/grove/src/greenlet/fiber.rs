//! The record behind every greenlet, and the protocol between a greenlet and its hub.
//!
//! A greenlet runs on a corosensei coroutine. It gives control back with one of two [`Output`]s:
//! `Park` (it registered a wakeup token somewhere and waits for it) or `Switch` (an explicit,
//! greenlet-style transfer to another greenlet). The hub resumes it with an [`Input`]: `Wake`
//! from the scheduler, `Value` from a switch, or `Throw`, which makes the greenlet unwind from
//! the point where it waits (kill / `throw`).
//!
//! The thread's own stack is the *main* greenlet: it has a `Fiber` record too but no coroutine;
//! when it blocks, the hub's scheduler runs on that stack until main is woken.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::fmt;
use std::ops::Deref;
use std::panic::Location;
use std::rc::Rc;
use std::time::Instant;

use crate::ctx::overflow::OverflowInfo;
use crate::ctx::{Coro, Yielder};

/// Why a parked greenlet was resumed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wake {
    /// Its token was used: the event it waited for happened.
    Normal,
    /// Its deadline (explicit or from a `timeout` scope) passed.
    TimedOut,
    /// Nothing can ever wake it (only ever delivered to the main greenlet).
    Deadlock,
    /// It is unwinding (killed or panicking) and must not block.
    Unwinding,
}

/// What a greenlet is resumed with. Deliberately a small `Copy` value: it crosses the stack
/// switch on every resume, and anything bigger is moved through memory there. Payloads travel
/// in the target's `inbox`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Input {
    /// First run of a spawned greenlet.
    Start,
    /// Woken by the scheduler.
    Wake(Wake),
    /// A [`Message`] waits in the greenlet's `inbox`.
    Message,
}

/// A payload delivered with `Input::Message`.
pub(crate) enum Message {
    /// A value passed by `Greenlet::switch`.
    Value(Box<dyn Any>),
    /// Unwind with this payload (`GreenletExit` for kill, or a child's panic).
    Throw(Box<dyn Any + Send>),
}

/// How a greenlet gives control back to the hub (small and `Copy`, like [`Input`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Output {
    /// Waiting for a wakeup token.
    Park,
    /// Transfer control to the greenlet in the hub's `switch_target` slot.
    Switch,
}

/// Life cycle of a greenlet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    /// Created, never run.
    New,
    /// In the ready queue.
    Ready,
    /// Executing (or, for main, executing or running the scheduler).
    Running,
    /// Waiting for a wakeup token.
    Parked,
    /// Waiting in `Greenlet::switch` for someone to switch back.
    Suspended,
    /// Finished.
    Dead,
}

/// What kind of greenlet a fiber is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// The thread's own stack.
    Main,
    /// Spawned through the hub (`grove::spawn`): ends by waking its joiners.
    Task,
    /// A raw greenlet (`Greenlet::new`): ends by switching to its parent.
    Raw,
}

/// A shared reference to a greenlet's record.
#[derive(Clone)]
pub(crate) struct FiberRef(pub(crate) Rc<Fiber>);

impl Deref for FiberRef {
    type Target = Fiber;
    #[inline]
    fn deref(&self) -> &Fiber {
        &self.0
    }
}

impl FiberRef {
    /// Whether both refer to the same greenlet.
    pub(crate) fn same(&self, other: &FiberRef) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}

impl fmt::Debug for FiberRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Greenlet(#{} {:?}", self.id, self.state.get())?;
        if let Some(n) = &*self.name.borrow() {
            write!(f, " {n:?}")?;
        }
        f.write_str(")")
    }
}

/// The per-greenlet record shared by the hub, handles and wakeup tokens.
pub(crate) struct Fiber {
    pub id: u64,
    pub kind: Kind,
    pub name: RefCell<Option<String>>,
    pub location: &'static Location<'static>,
    pub created: Instant,
    pub state: Cell<State>,
    /// Park generation: a token is valid only for the park it was made for.
    pub seq: Cell<u64>,
    /// A kill was requested and not yet delivered.
    pub kill_pending: Cell<bool>,
    /// A kill was delivered; the greenlet is unwinding or dead.
    pub killed: Cell<bool>,
    pub coro: RefCell<Option<Coro>>,
    pub yielder: Cell<*const Yielder>,
    /// Raw greenlets: who gets control (and the return value) when this one ends.
    pub parent: RefCell<Option<FiberRef>>,
    /// Tokens of greenlets waiting for this one to end.
    pub joiners: RefCell<Vec<crate::hub::Token>>,
    /// Wakers of futures awaiting this one's `JoinHandle`.
    pub wakers: RefCell<Vec<std::task::Waker>>,
    /// Deadline of the innermost `timeout` scope.
    pub deadline: Cell<Option<Instant>>,
    /// Set when a blocking call returned because the scope deadline passed.
    pub deadline_hit: Cell<bool>,
    /// Key in the hub's table of live greenlets.
    pub key: Cell<usize>,
    /// The payload of the next `Input::Message` resume.
    pub inbox: RefCell<Option<Message>>,
    /// Spawned greenlets: the return value (a `Box<T>`: no allocation for `()`).
    pub result: RefCell<Option<Box<dyn Any>>>,
    /// Spawned greenlets: the panic payload, if the function panicked.
    pub panic: RefCell<Option<Box<dyn Any + Send>>>,
    /// No handle will ever read the result (its JoinHandle was dropped).
    pub detached: Cell<bool>,
    /// Greenlet-local values (`sync::Local`), keyed by the static's address.
    pub locals: RefCell<Vec<(usize, Rc<dyn Any>)>>,
    /// What the greenlet is blocked on, for run_info.
    pub waiting_on: Cell<&'static str>,
    pub overflow: OverflowInfo,
}

impl Fiber {
    pub(crate) fn new(
        id: u64,
        kind: Kind,
        coro: Option<Coro>,
        location: &'static Location<'static>,
        guard: (usize, usize),
        stack_size: usize,
    ) -> Fiber {
        Fiber {
            id,
            kind,
            name: RefCell::new(None),
            location,
            created: Instant::now(),
            state: Cell::new(if kind == Kind::Main { State::Running } else { State::New }),
            seq: Cell::new(0),
            kill_pending: Cell::new(false),
            killed: Cell::new(false),
            coro: RefCell::new(coro),
            yielder: Cell::new(std::ptr::null()),
            parent: RefCell::new(None),
            joiners: RefCell::new(Vec::new()),
            wakers: RefCell::new(Vec::new()),
            deadline: Cell::new(None),
            deadline_hit: Cell::new(false),
            key: Cell::new(usize::MAX),
            inbox: RefCell::new(None),
            result: RefCell::new(None),
            panic: RefCell::new(None),
            detached: Cell::new(false),
            locals: RefCell::new(Vec::new()),
            waiting_on: Cell::new(""),
            overflow: OverflowInfo::new(id, guard, stack_size),
        }
    }

    /// Whether the greenlet's function has begun running (never true for main). Must not be
    /// called on the running greenlet (its coroutine is borrowed by the hub while it runs).
    pub(crate) fn started(&self) -> bool {
        self.coro.borrow().as_ref().is_some_and(|c| c.started())
    }

    pub(crate) fn is_main(&self) -> bool {
        self.kind == Kind::Main
    }

    pub(crate) fn set_name(&self, name: String) {
        self.overflow.set_name(&name);
        if !self.is_main() {
            let _ = crate::hub::try_with(|h| {
                let mut names = h.remote.monitor.names.lock().unwrap_or_else(|e| e.into_inner());
                names.insert(self.id, name.clone());
            });
        }
        *self.name.borrow_mut() = Some(name);
    }

    /// Gives control to the hub (running greenlets only; never main).
    pub(crate) fn suspend(&self, out: Output) -> Input {
        debug_assert!(!self.is_main());
        let y = self.yielder.get();
        assert!(!y.is_null(), "grove: suspend outside a running greenlet");
        // SAFETY: `yielder` is set by the greenlet's entry function to its own coroutine's
        // yielder and this fiber is the one running (callers reach it through the hub's
        // `current`), so it is the live yielder of the executing coroutine.
        unsafe { crate::ctx::suspend(y, out) }
    }
}
