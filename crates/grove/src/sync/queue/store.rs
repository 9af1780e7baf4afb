//! The orders a queue hands items out in: FIFO, LIFO, priority.

use std::collections::{BinaryHeap, VecDeque};

/// The order a queue hands items out in.
///
/// # Examples
///
/// ```
/// use grove::sync::{Lifo, Queue};
/// // `Queue<T, S>` takes its order from the store `S`.
/// let q: Queue<i32, Lifo<i32>> = Queue::with_bound(None);
/// q.put(1).unwrap();
/// q.put(2).unwrap();
/// assert_eq!(q.get(), Ok(2));
/// ```
pub trait Store<T>: Default {
    /// Whether `push` may run code that panics (an item's `Ord`): if so, the queue guards the
    /// push so a panic never leaves a stored item uncounted. grove's FIFO and LIFO stores
    /// cannot panic and skip the guard.
    #[doc(hidden)]
    const PUSH_MAY_PANIC: bool = true;

    /// Adds an item.
    ///
    /// # Examples
    ///
    /// ```
    /// use grove::sync::{Fifo, Store};
    /// let mut s = Fifo::default();
    /// s.push('a');
    /// assert_eq!(s.len(), 1);
    /// ```
    fn push(&mut self, item: T);

    /// Removes the next item.
    ///
    /// # Examples
    ///
    /// ```
    /// use grove::sync::{Lifo, Store};
    /// let mut s = Lifo::default();
    /// s.push(1);
    /// s.push(2);
    /// assert_eq!(s.pop(), Some(2));
    /// ```
    fn pop(&mut self) -> Option<T>;

    /// The next item, without removing it.
    ///
    /// # Examples
    ///
    /// ```
    /// use grove::sync::{Priority, Store};
    /// let mut s = Priority::default();
    /// s.push(3);
    /// s.push(7);
    /// assert_eq!(s.peek(), Some(&7));
    /// ```
    fn peek(&self) -> Option<&T>;

    /// Items held.
    ///
    /// # Examples
    ///
    /// ```
    /// use grove::sync::{Fifo, Store};
    /// let mut s = Fifo::default();
    /// s.push(());
    /// s.push(());
    /// assert_eq!(s.len(), 2);
    /// ```
    fn len(&self) -> usize;

    /// Whether no item is held.
    ///
    /// # Examples
    ///
    /// ```
    /// use grove::sync::{Fifo, Store};
    /// let s: Fifo<u8> = Fifo::default();
    /// assert!(s.is_empty());
    /// ```
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// First in, first out.
///
/// # Examples
///
/// ```
/// use grove::sync::{Fifo, Queue};
/// let q: Queue<i32, Fifo<i32>> = Queue::with_bound(None); // same as Queue::unbounded()
/// q.put(1).unwrap();
/// q.put(2).unwrap();
/// assert_eq!(q.get(), Ok(1));
/// ```
#[derive(Debug)]
pub struct Fifo<T>(VecDeque<T>);
/// Last in, first out.
///
/// # Examples
///
/// ```
/// use grove::sync::{Lifo, Queue};
/// let q: Queue<i32, Lifo<i32>> = Queue::with_bound(None);
/// q.put(1).unwrap();
/// q.put(2).unwrap();
/// assert_eq!(q.get(), Ok(2));
/// ```
#[derive(Debug)]
pub struct Lifo<T>(Vec<T>);
/// Greatest first (wrap items in `std::cmp::Reverse` for smallest first).
///
/// # Examples
///
/// ```
/// use grove::sync::{Priority, Queue};
/// let q: Queue<i32, Priority<i32>> = Queue::with_bound(None);
/// for x in [3, 9, 1] {
///     q.put(x).unwrap();
/// }
/// assert_eq!(q.get(), Ok(9));
/// ```
#[derive(Debug)]
pub struct Priority<T: Ord>(BinaryHeap<T>);

impl<T> Default for Fifo<T> {
    fn default() -> Self {
        Fifo(VecDeque::new())
    }
}
impl<T> Default for Lifo<T> {
    fn default() -> Self {
        Lifo(Vec::new())
    }
}
impl<T: Ord> Default for Priority<T> {
    fn default() -> Self {
        Priority(BinaryHeap::new())
    }
}

impl<T> Store<T> for Fifo<T> {
    const PUSH_MAY_PANIC: bool = false;
    fn push(&mut self, item: T) {
        self.0.push_back(item)
    }
    fn pop(&mut self) -> Option<T> {
        self.0.pop_front()
    }
    fn peek(&self) -> Option<&T> {
        self.0.front()
    }
    fn len(&self) -> usize {
        self.0.len()
    }
}

impl<T> Store<T> for Lifo<T> {
    const PUSH_MAY_PANIC: bool = false;
    fn push(&mut self, item: T) {
        self.0.push(item)
    }
    fn pop(&mut self) -> Option<T> {
        self.0.pop()
    }
    fn peek(&self) -> Option<&T> {
        self.0.last()
    }
    fn len(&self) -> usize {
        self.0.len()
    }
}

impl<T: Ord> Store<T> for Priority<T> {
    fn push(&mut self, item: T) {
        self.0.push(item)
    }
    fn pop(&mut self) -> Option<T> {
        self.0.pop()
    }
    fn peek(&self) -> Option<&T> {
        self.0.peek()
    }
    fn len(&self) -> usize {
        self.0.len()
    }
}
