//! Synchronisation between greenlets: [`Event`], [`Queue`] (and [`LifoQueue`],
//! [`PriorityQueue`], [`Channel`]), [`Semaphore`], [`BoundedSemaphore`], [`Lock`], greenlet-local
//! storage ([`local!`](crate::local)), and the cross-thread [`AsyncResult`].
//!
//! Every wait is a blocking point of the hub (other greenlets run), is woken in FIFO order,
//! has a `_timeout`/`_deadline` variant and respects `grove::timeout` scopes. A waiter killed
//! while waiting leaves the primitive consistent: a permit or notification it was handed goes
//! to the next waiter, and no queued item is lost.
//!
//! All but `AsyncResult` are hub-local (cheap, `Rc`-based, `!Send`); the compiler keeps them
//! on their thread:
//!
//! ```compile_fail
//! fn must_be_send<T: Send>(_: T) {}
//! must_be_send(grove::sync::Queue::<u32>::unbounded());
//! ```

mod async_result;
pub mod broadcast;
mod event;
mod local;
pub mod mt;
mod queue;
mod semaphore;
pub(crate) mod waitlist;

pub(crate) use waitlist::WaitList;

pub use crate::hub::WaitError;
pub use async_result::{AsyncError, AsyncResult, SharedError};
pub use event::Event;
pub use local::Local;
pub use queue::{
    Channel, Fifo, Iter, Lifo, LifoQueue, Priority, PriorityQueue, Queue, RecvError, SendError,
    Store, TryRecvError, TrySendError,
};
pub use semaphore::{BoundedSemaphore, Lock, LockGuard, Semaphore, SemaphorePermit};
