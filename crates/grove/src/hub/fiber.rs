//! The record behind every greenlet, the protocol between a greenlet and its hub, and the
//! coroutine a greenlet runs on (corosensei, on a stack from `ctx`).
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

use std::io;
use std::panic::{self, AssertUnwindSafe};

use crate::ctx::overflow::OverflowInfo;
use crate::ctx::{round_size, Stack};
use crate::hub;

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

/// A greenlet id as people read it: `hub.n` (the hub's process-wide number, then the greenlet's
/// number on that hub), e.g. `1.42`.
#[derive(Clone, Copy)]
pub(crate) struct Id(pub(crate) u64);

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.0 >> 40, self.0 & ((1 << 40) - 1))
    }
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
        write!(f, "Greenlet({} {:?}", Id(self.id), self.state.get())?;
        if let Some(n) = self.name() {
            write!(f, " {n:?}")?;
        }
        f.write_str(")")
    }
}

/// The parts of a greenlet record that most greenlets never use.
#[derive(Default)]
struct Cold {
    name: Option<String>,
    /// Raw greenlets: who gets control (and the return value) when this one ends.
    parent: Option<FiberRef>,
    /// The payload of the next `Input::Message` resume.
    inbox: Option<Message>,
    /// Wakers of futures awaiting this one's `JoinHandle`.
    wakers: Vec<std::task::Waker>,
    /// Callbacks to run on the hub when it ends (`JoinHandle::on_done`).
    on_done: Vec<Box<dyn FnOnce()>>,
    /// Spawned greenlets: the panic payload, if the function panicked.
    panic: Option<Box<dyn Any + Send>>,
    /// Greenlet-local values (`sync::Local`), keyed by the static's address.
    locals: Vec<(usize, Rc<dyn Any>)>,
    /// Raw greenlets: live `Greenlet` handles.
    handles: u32,
    /// Raw greenlets: live greenlets whose parent this one is.
    children: u32,
    /// Once dead: the parent it had, weakly (no longer counted as its child), so that a value
    /// finishing into a dead greenlet can go on up the chain (greenlet's rule).
    parent_at_death: Option<std::rc::Weak<Fiber>>,
}

/// The per-greenlet record shared by the hub, handles and wakeup tokens.
pub(crate) struct Fiber {
    pub id: u64,
    pub kind: Kind,
    pub location: &'static Location<'static>,
    pub created: Instant,
    pub state: Cell<State>,
    /// Park generation: a token is valid only for the park it was made for.
    pub seq: Cell<u64>,
    /// The low 32 bits of the park generation a wait list's notification last woke (see
    /// `Token::notify`): lets a waiter that leaves abnormally tell a notification it consumed
    /// from a stale pop. (32 bits keep the record small; a stale match needs 2^32 parks between
    /// the two, and would only forward one extra notification, which waiters re-check.)
    pub notified: Cell<u32>,
    /// Which wait list gave that notification (its id): a `select` waiting in several lists
    /// at once hands back only what that list gave it.
    pub notified_by: Cell<u32>,
    /// A kill was requested and not yet delivered.
    pub kill_pending: Cell<bool>,
    /// A kill was delivered; the greenlet is unwinding or dead.
    pub killed: Cell<bool>,
    /// Suspended in a `switch` made while the thread was unwinding (see `Hub::kill`).
    pub suspended_unwinding: Cell<bool>,
    pub coro: RefCell<Option<Coro>>,
    pub yielder: Cell<*const Yielder>,
    /// Tokens of greenlets waiting for this one to end.
    pub joiners: RefCell<Vec<crate::hub::Token>>,
    /// The earliest deadline of the enclosing `timeout` scopes.
    pub deadline: Cell<Option<Instant>>,
    /// Nesting depth of the innermost enclosing `timeout` scope (0: none).
    pub scope_depth: Cell<u16>,
    /// Depth of the scope that owns `deadline` (the outermost one among equal deadlines): an
    /// expiry unwinds to that scope.
    pub deadline_owner: Cell<u16>,
    /// Key in the hub's table of live greenlets (32 bits keep the record small; read it
    /// through `key()`).
    key: Cell<u32>,
    /// Spawned greenlets: the return value (a `Box<T>`: no allocation for `()`).
    pub result: RefCell<Option<Box<dyn Any>>>,
    /// No handle will ever read the result (its JoinHandle was dropped).
    pub detached: Cell<bool>,
    /// Rarely used parts, allocated on first use (keeps an idle greenlet small).
    cold: RefCell<Option<Box<Cold>>>,
    /// What the greenlet is blocked on, for run_info.
    pub waiting_on: Cell<&'static str>,
    pub overflow: OverflowInfo,
}

impl Fiber {
    /// Key in the hub's table of live greenlets.
    pub(crate) fn key(&self) -> usize {
        self.key.get() as usize
    }

    /// Takes the key out (the greenlet leaves the table); `None` if it was not in it.
    pub(crate) fn take_key(&self) -> Option<usize> {
        let k = self.key.replace(u32::MAX);
        (k != u32::MAX).then_some(k as usize)
    }

    pub(crate) fn set_key(&self, key: usize) {
        // The table never holds 4 billion greenlets: their stacks alone would not fit.
        let key = u32::try_from(key).ok().filter(|&k| k != u32::MAX);
        self.key.set(key.expect("grove: greenlet table key past 32 bits"));
    }

    pub(crate) fn new(
        id: u64,
        kind: Kind,
        coro: Option<Coro>,
        location: &'static Location<'static>,
        guard: (usize, usize),
        stack_size: usize,
        created: Instant,
    ) -> Fiber {
        Fiber {
            id,
            kind,
            location,
            created,
            state: Cell::new(if kind == Kind::Main { State::Running } else { State::New }),
            seq: Cell::new(0),
            notified: Cell::new(u32::MAX),
            notified_by: Cell::new(0),
            kill_pending: Cell::new(false),
            killed: Cell::new(false),
            suspended_unwinding: Cell::new(false),
            coro: RefCell::new(coro),
            yielder: Cell::new(std::ptr::null()),
            joiners: RefCell::new(Vec::new()),
            deadline: Cell::new(None),
            scope_depth: Cell::new(0),
            deadline_owner: Cell::new(0),
            key: Cell::new(u32::MAX),
            result: RefCell::new(None),
            detached: Cell::new(false),
            cold: RefCell::new(None),
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

    /// Runs `f` on the cold part, allocating it first if needed.
    fn cold<R>(&self, f: impl FnOnce(&mut Cold) -> R) -> R {
        let mut c = self.cold.borrow_mut();
        f(c.get_or_insert_with(Box::default))
    }

    /// Runs `f` on the cold part if it exists (no allocation).
    fn cold_ref<R>(&self, f: impl FnOnce(&mut Cold) -> R) -> Option<R> {
        self.cold.borrow_mut().as_deref_mut().map(f)
    }

    pub(crate) fn name(&self) -> Option<String> {
        self.cold_ref(|c| c.name.clone()).flatten()
    }

    pub(crate) fn has_name(&self) -> bool {
        self.cold_ref(|c| c.name.is_some()).unwrap_or(false)
    }

    pub(crate) fn parent(&self) -> Option<FiberRef> {
        self.cold_ref(|c| c.parent.clone()).flatten()
    }

    /// Sets (or clears) the parent; a raw parent counts its children, which keep it from
    /// being collected (see `Greenlet`'s drop).
    pub(crate) fn set_parent(&self, p: Option<FiberRef>) {
        if p.is_none() && self.cold.borrow().is_none() {
            return;
        }
        if let Some(new) = &p {
            new.cold(|c| c.children += 1);
        }
        let old = self.cold(|c| std::mem::replace(&mut c.parent, p));
        if let Some(old) = old {
            old.cold_ref(|c| c.children -= 1);
        }
    }

    /// The greenlet died: its parent link stops counting (the parent may be collected), but
    /// is remembered for `parent_at_death`.
    pub(crate) fn retire_parent(&self) {
        let old = self.cold_ref(|c| c.parent.take()).flatten();
        if let Some(old) = old {
            old.cold_ref(|c| c.children -= 1);
            self.cold(|c| c.parent_at_death = Some(Rc::downgrade(&old.0)));
        }
    }

    /// Where a value finishing into this dead greenlet goes next: its parent, or the one it
    /// had when it died.
    pub(crate) fn parent_or_last(&self) -> Option<FiberRef> {
        self.parent().or_else(|| {
            self.cold_ref(|c| c.parent_at_death.as_ref().and_then(std::rc::Weak::upgrade))
                .flatten()
                .map(FiberRef)
        })
    }

    /// Whether nothing can ever switch to this raw greenlet again: no handle, no child.
    pub(crate) fn unreachable(&self) -> bool {
        self.kind == Kind::Raw
            && self.cold_ref(|c| c.handles == 0 && c.children == 0).unwrap_or(false)
    }

    /// A `Greenlet` handle was made for this greenlet.
    pub(crate) fn add_handle(&self) {
        self.cold(|c| c.handles += 1);
    }

    /// A `Greenlet` handle went away; returns whether it was the last reference through which
    /// anyone could ever switch to this greenlet (no handle, no child to return to it).
    pub(crate) fn drop_handle(&self) -> bool {
        self.cold_ref(|c| {
            c.handles -= 1;
            c.handles == 0 && c.children == 0
        })
        .unwrap_or(false)
    }

    pub(crate) fn put_inbox(&self, m: Message) {
        self.cold(|c| c.inbox = Some(m));
    }

    pub(crate) fn take_inbox(&self) -> Option<Message> {
        self.cold_ref(|c| c.inbox.take()).flatten()
    }

    pub(crate) fn add_waker(&self, w: std::task::Waker) {
        self.cold(|c| c.wakers.push(w));
    }

    pub(crate) fn add_on_done(&self, f: Box<dyn FnOnce()>) {
        self.cold(|c| c.on_done.push(f));
    }

    pub(crate) fn take_on_done(&self) -> Vec<Box<dyn FnOnce()>> {
        self.cold_ref(|c| std::mem::take(&mut c.on_done)).unwrap_or_default()
    }

    pub(crate) fn take_wakers(&self) -> Vec<std::task::Waker> {
        self.cold_ref(|c| std::mem::take(&mut c.wakers)).unwrap_or_default()
    }

    pub(crate) fn set_panic(&self, p: Box<dyn Any + Send>) {
        self.cold(|c| c.panic = Some(p));
    }

    pub(crate) fn take_panic(&self) -> Option<Box<dyn Any + Send>> {
        self.cold_ref(|c| c.panic.take()).flatten()
    }

    /// The panic message, if the greenlet panicked and nobody took the payload yet.
    pub(crate) fn panic_message(&self) -> Option<String> {
        self.cold_ref(|c| c.panic.as_deref().map(crate::hub::fiber::panic_message)).flatten()
    }

    pub(crate) fn local(&self, key: usize) -> Option<Rc<dyn Any>> {
        self.cold_ref(|c| c.locals.iter().find(|(k, _)| *k == key).map(|(_, v)| v.clone()))
            .flatten()
    }

    pub(crate) fn set_local(&self, key: usize, v: Rc<dyn Any>) {
        self.cold(|c| c.locals.push((key, v)));
    }

    pub(crate) fn take_locals(&self) -> Vec<(usize, Rc<dyn Any>)> {
        self.cold_ref(|c| std::mem::take(&mut c.locals)).unwrap_or_default()
    }

    pub(crate) fn set_name(&self, name: String) {
        if !self.is_main() {
            let _ = crate::hub::try_with(|h| {
                let mut names = h.remote.monitor.names.lock().unwrap_or_else(|e| e.into_inner());
                names.insert(self.id, name.clone());
            });
        }
        self.cold(|c| {
            // The overflow report points into this string, which the record now owns.
            self.overflow.set_name(&name);
            c.name = Some(name);
        });
    }

    /// Gives control to the hub (running greenlets only; never main).
    pub(crate) fn suspend(&self, out: Output) -> Input {
        debug_assert!(!self.is_main());
        let y = self.yielder.get();
        assert!(!y.is_null(), "grove: suspend outside a running greenlet");
        // SAFETY: `yielder` is set by the greenlet's entry function to its own coroutine's
        // yielder and this fiber is the one running (callers reach it through the hub's
        // `current`), so it is the live yielder of the executing coroutine.
        unsafe { suspend(y, out) }
    }
}

// The `sanitizer` feature adds ASan's stack bounds to every coroutine.
#[cfg(all(test, not(feature = "sanitizer")))]
mod size_tests {
    /// An idle greenlet costs its stack's one page plus this record (and a timer entry if it
    /// sleeps): keep the record small so the total stays under ~4.3 KiB (see BENCHMARKS.md).
    #[test]
    fn fiber_record_stays_small() {
        let n = std::mem::size_of::<super::Fiber>();
        assert!(n <= 272, "Fiber grew to {n} bytes; move rarely used fields into Cold");
    }
}

/// The payload a killed greenlet unwinds with (gevent's `GreenletExit`).
///
/// Code that catches panics inside a greenlet should let this payload continue
/// (`std::panic::resume_unwind`), or the greenlet survives its kill.
///
/// # Examples
///
/// ```
/// use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
/// use std::time::Duration;
/// use grove::GreenletExit;
/// let h = grove::spawn(|| {
///     let r = catch_unwind(AssertUnwindSafe(|| grove::sleep(Duration::from_secs(60))));
///     if let Err(payload) = r {
///         assert!(payload.is::<GreenletExit>()); // we are being killed:
///         resume_unwind(payload); // let the kill continue
///     }
/// });
/// grove::yield_now();
/// h.kill().unwrap();
/// assert!(h.join().unwrap_err().is_killed());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GreenletExit;

impl fmt::Display for GreenletExit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("greenlet killed")
    }
}

/// The coroutine type every greenlet runs on.
pub(crate) type Coro = corosensei::Coroutine<Input, Output, Option<Message>, Stack>;

/// The handle a running greenlet uses to give control back to its hub.
pub(crate) type Yielder = corosensei::Yielder<Input, Output>;

/// Suspends the running greenlet through its yielder.
///
/// # Safety
/// `yielder` must be the yielder of the coroutine currently executing on this thread (it lives at
/// the base of that coroutine's stack for as long as the coroutine runs).
pub(crate) unsafe fn suspend(yielder: *const Yielder, out: Output) -> Input {
    // SAFETY: per the contract above the pointee is the live yielder of the running coroutine.
    unsafe { (*yielder).suspend(out) }
}

/// Creates a greenlet record with its coroutine on a stack from the hub's pool (or a fresh
/// mapping for a non-default size) and adds it to the hub's live table.
pub(crate) fn create(
    kind: Kind,
    stack_size: Option<usize>,
    location: &'static Location<'static>,
    body: impl FnOnce(&FiberRef, Input) -> Option<Message> + 'static,
) -> io::Result<FiberRef> {
    hub::with(|hub| {
        let stack = {
            let mut pool = hub.pool.borrow_mut();
            match stack_size {
                Some(s) if round_size(s) != pool.stack_size() => Stack::new(s)?,
                _ => pool.get()?,
            }
        };
        let guard = stack.guard_range();
        let size = stack.usable_size();
        let id = hub.next_id();
        // Dropped unrun (a kill before the first run, shutdown, thread exit), the closure is
        // dropped inside corosensei's `force_unwind`, which must not see a panic (it would drop
        // the closure a second time): `QuietDrop` contains a panicking destructor of anything
        // the closure captured.
        let body = QuietDrop(Some(body));
        let coro = Coro::with_stack(stack, move |y, input| {
            let mut body = body;
            let me = hub::current();
            me.yielder.set(y as *const _);
            let body = body.0.take().expect("grove: a greenlet's body runs once");
            // `body` catches the function's panics; nothing may escape past this point, or
            // the coroutine would end with the hub mid-switch.
            let out = panic::catch_unwind(AssertUnwindSafe(|| body(&me, input)))
                .unwrap_or_else(|p| contained(&me, "greenlet's base", p));
            // Greenlet-local values die with the greenlet, on its own stack; their destructors
            // may block, be killed, or panic.
            let locals = me.take_locals();
            if let Err(p) = panic::catch_unwind(AssertUnwindSafe(move || drop(locals))) {
                contained(&me, "greenlet-local destructor", p);
            }
            out
        });
        let f =
            FiberRef(Rc::new(Fiber::new(id, kind, Some(coro), location, guard, size, hub.clock())));
        hub.adopt(&f);
        Ok(f)
    })
}

/// Holds a greenlet's body until it runs; dropping it unrun contains a panicking destructor.
struct QuietDrop<F>(Option<F>);

impl<F> Drop for QuietDrop<F> {
    fn drop(&mut self) {
        let Some(f) = self.0.take() else { return };
        if let Err(p) = panic::catch_unwind(AssertUnwindSafe(move || drop(f))) {
            crate::diag::report(
                crate::diag::Kind::Panic,
                format_args!(
                    "a destructor panicked while dropping the closure of a greenlet that never \
                     ran: {}",
                    panic_message(&*p)
                ),
            );
            if let Err(again) = panic::catch_unwind(AssertUnwindSafe(move || drop(p))) {
                std::mem::forget(again);
            }
        }
    }
}

/// A panic caught where none may escape (a greenlet's base, local destructors): reported
/// unless it is a kill, then dropped — destructors of its payload included.
#[cold]
fn contained(me: &Fiber, place: &str, p: Box<dyn Any + Send>) -> Option<Message> {
    if !p.is::<GreenletExit>() && !hub::is_scope_expiry(&*p) {
        let name = me.name().unwrap_or_else(|| "<unnamed>".into());
        crate::diag::report(
            crate::diag::Kind::Panic,
            format_args!(
                "panic in {place} of greenlet '{name}' (#{}, spawned at {}): {}",
                me.id,
                me.location,
                panic_message(&*p)
            ),
        );
    }
    // A payload whose destructor panics must not escape either.
    if let Err(again) = panic::catch_unwind(AssertUnwindSafe(move || drop(p))) {
        std::mem::forget(again);
    }
    None
}

/// The message of a panic payload, for reports.
pub(crate) fn panic_message(p: &(dyn Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else if p.is::<GreenletExit>() {
        "GreenletExit".into()
    } else {
        "Box<dyn Any>".into()
    }
}
