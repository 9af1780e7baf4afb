//! A per-hub pool of default-size stacks: a finished greenlet's stack is reused by the next spawn
//! without any system call.
//!
//! How many it keeps: the cap (default 16,384), or more while the hub's recent high-water mark
//! of live greenlets is above it. A program that runs 30,000 greenlets at a time therefore
//! reuses 30,000 stacks round after round instead of unmapping and re-mapping the part above
//! the cap every round (an mmap, an mprotect, a munmap and a page fault per spawn). The mark
//! is the highest number of stacks in use during the current or the previous window of
//! [`PEAK_WINDOW`]; once a burst is that far in the past, the hub's idle trim unmaps the
//! stacks above the cap, least recently used first.
//!
//! Pooled stacks keep whatever pages their last greenlet touched. `trim` (run by the hub when it
//! goes idle) hands the deep pages of recently returned stacks back to the kernel, so a burst of
//! deep recursion does not stay resident forever.

use std::io;
use std::time::{Duration, Instant};

use super::stack::Stack;

/// Bytes at the top of a pooled stack that stay resident after a trim: what a typical shallow
/// greenlet touches, so the next spawn does not page-fault.
const KEEP_RESIDENT: usize = 8 * 1024;

/// How long a high-water mark of stacks in use keeps the stacks above the cap pooled: the
/// mark of the current and of the previous window count.
pub(crate) const PEAK_WINDOW: Duration = Duration::from_secs(10);

/// Free stacks of one size, most recently used last.
#[derive(Debug)]
pub(crate) struct StackPool {
    size: usize,
    /// The cap: free stacks kept beyond any recent high-water mark.
    max: usize,
    free: Vec<Stack>,
    /// How many stacks at the end of `free` were returned since the last trim.
    untrimmed: usize,
    allocated: usize,
    /// Most stacks in use at once during the current window.
    peak: usize,
    /// The same for the previous window.
    peak_before: usize,
    /// When the current window started (set by the first trim).
    window_start: Option<Instant>,
    /// Marks the stacks this pool hands out (see `Stack::gen`); a new stack size starts a new
    /// generation, so stacks of the old size, or custom-size ones, are never counted or reused.
    gen: usize,
}

impl StackPool {
    /// A pool of stacks with `size` usable bytes, keeping at most `max` free ones.
    pub(crate) fn new(size: usize, max: usize) -> StackPool {
        StackPool {
            size: super::stack::round_size(size),
            max,
            free: Vec::new(),
            untrimmed: 0,
            allocated: 0,
            peak: 0,
            peak_before: 0,
            window_start: None,
            gen: 1,
        }
    }

    /// How many free stacks may be kept now: the cap, or the recent high-water mark (a cap
    /// of 0 turns pooling off altogether).
    fn keep(&self) -> usize {
        if self.max == 0 {
            return 0;
        }
        self.max.max(self.peak).max(self.peak_before)
    }

    /// The usable size of this pool's stacks.
    pub(crate) fn stack_size(&self) -> usize {
        self.size
    }

    /// Free stacks waiting for reuse.
    pub(crate) fn pooled(&self) -> usize {
        self.free.len()
    }

    /// Stacks this pool has mapped and not unmapped (in use plus pooled).
    pub(crate) fn allocated(&self) -> usize {
        self.allocated
    }

    /// Changes the pool's stack size; pooled stacks of the old size are unmapped, and those in
    /// use are unmapped when they come back, no longer counted.
    pub(crate) fn set_stack_size(&mut self, size: usize) {
        let size = super::stack::round_size(size);
        if size != self.size {
            self.free.clear();
            self.untrimmed = 0;
            self.allocated = 0;
            self.peak = 0;
            self.peak_before = 0;
            self.size = size;
            self.gen = self.gen % Stack::MAX_GEN + 1;
        }
    }

    /// Sets how many free stacks may be kept (0: none; pooled ones are unmapped now).
    pub(crate) fn set_max(&mut self, max: usize) {
        self.max = max;
        if max == 0 {
            self.allocated -= self.free.len();
            self.free.clear();
            self.untrimmed = 0;
        }
    }

    /// A stack of the pool's size: a pooled one if any, else a fresh mapping.
    pub(crate) fn get(&mut self) -> io::Result<Stack> {
        let s = match self.free.pop() {
            Some(s) => {
                self.untrimmed = self.untrimmed.min(self.free.len());
                s
            }
            None => {
                let mut s = Stack::carved(self.size)?;
                s.set_gen(self.gen);
                self.allocated += 1;
                s
            }
        };
        let in_use = self.allocated - self.free.len();
        self.peak = self.peak.max(in_use);
        Ok(s)
    }

    /// Returns a stack; one this pool did not hand out at its current size is unmapped.
    pub(crate) fn put(&mut self, stack: Stack) {
        if stack.gen() != self.gen {
            return; // custom size, or the size before `set_stack_size`: never counted
        }
        if self.free.len() >= self.keep() {
            self.allocated -= 1;
            return;
        }
        self.free.push(stack);
        self.untrimmed += 1;
    }

    /// Releases deep pages of stacks returned since the last trim, and once a window has
    /// passed, unmaps the free stacks above the cap and the new high-water mark. Returns how
    /// many stacks it released pages of.
    pub(crate) fn trim(&mut self) -> usize {
        self.trim_at(Instant::now())
    }

    fn trim_at(&mut self, now: Instant) -> usize {
        let start = *self.window_start.get_or_insert(now);
        if now.saturating_duration_since(start) >= PEAK_WINDOW {
            self.window_start = Some(now);
            self.peak_before = self.peak;
            self.peak = self.allocated - self.free.len();
            let excess = self.free.len().saturating_sub(self.keep());
            if excess > 0 {
                // The least recently used are at the front.
                drop(self.free.drain(..excess));
                self.allocated -= excess;
                self.untrimmed = self.untrimmed.min(self.free.len());
            }
        }
        let n = self.untrimmed;
        let len = self.free.len();
        for s in &self.free[len - n..] {
            s.release_deep_pages(KEEP_RESIDENT);
        }
        self.untrimmed = 0;
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(s: &Stack) -> usize {
        corosensei::stack::Stack::base(s).get()
    }

    /// Whether `b` was carved from the slab right after `a`.
    fn carved_after(a: &Stack, b: &Stack) -> bool {
        base(b) == base(a) + a.usable_size() + super::super::stack::page_size()
    }

    /// A custom-size stack (`Builder::stack_size`) taken while this thread has no slab must
    /// not map a slab of 64 stacks of that size, which would then keep serving that size while
    /// the pool's stacks each get a mapping of their own.
    #[test]
    fn a_custom_size_stack_does_not_take_the_slab() {
        std::thread::spawn(|| {
            let custom = Stack::new(1024 * 1024).unwrap();
            let mut pool = StackPool::new(64 * 1024, 4);
            let (a, b) = (pool.get().unwrap(), pool.get().unwrap());
            assert!(carved_after(&a, &b), "the pool's stacks are not carved from a slab");
            drop(custom);
        })
        .join()
        .unwrap();
    }

    /// After `set_stack_size`, the pool's new stacks come from a slab of the new size, not
    /// each from a mapping of its own while the old size's slab sits unused.
    #[test]
    fn a_new_pool_size_gets_a_slab() {
        std::thread::spawn(|| {
            let mut pool = StackPool::new(64 * 1024, 4);
            let first = pool.get().unwrap();
            pool.set_stack_size(32 * 1024);
            let (a, b) = (pool.get().unwrap(), pool.get().unwrap());
            assert!(carved_after(&a, &b), "the new size's stacks are not carved from a slab");
            drop(first);
        })
        .join()
        .unwrap();
    }

    #[test]
    fn reuse_without_new_mappings() {
        let mut pool = StackPool::new(64 * 1024, 4);
        let a = pool.get().unwrap();
        let base = corosensei::stack::Stack::base(&a);
        pool.put(a);
        let b = pool.get().unwrap();
        assert_eq!(corosensei::stack::Stack::base(&b), base);
        assert_eq!(pool.allocated(), 1);
        pool.put(b);
        assert_eq!(pool.trim(), 1);
        assert_eq!(pool.trim(), 0);
    }

    #[test]
    fn stacks_above_the_cap_stay_while_the_burst_is_recent() {
        let mut pool = StackPool::new(16 * 1024, 1);
        let t0 = Instant::now();
        pool.trim_at(t0); // the first window starts
                          // A burst of 3 live at once, all returned: all 3 stay pooled (the high-water mark).
        let burst: Vec<_> = (0..3).map(|_| pool.get().unwrap()).collect();
        for s in burst {
            pool.put(s);
        }
        assert_eq!((pool.pooled(), pool.allocated()), (3, 3));
        // Reused round after round without new mappings.
        for _ in 0..5 {
            let again: Vec<_> = (0..3).map(|_| pool.get().unwrap()).collect();
            assert_eq!(pool.allocated(), 3);
            for s in again {
                pool.put(s);
            }
        }
        // One window later the burst is still the previous window's mark: kept.
        pool.trim_at(t0 + PEAK_WINDOW);
        assert_eq!(pool.pooled(), 3);
        // Two quiet windows later only the cap is kept.
        pool.trim_at(t0 + PEAK_WINDOW * 2);
        assert_eq!((pool.pooled(), pool.allocated()), (1, 1));
        // Past the cap and no recent mark: a returned extra stack is unmapped at once.
        let a = pool.get().unwrap();
        let b = pool.get().unwrap();
        pool.trim_at(t0 + PEAK_WINDOW * 3);
        pool.trim_at(t0 + PEAK_WINDOW * 4); // marks: 2 (window 3), then 2 still in use
        pool.put(a);
        pool.put(b);
        pool.trim_at(t0 + PEAK_WINDOW * 5);
        pool.trim_at(t0 + PEAK_WINDOW * 6);
        assert_eq!((pool.pooled(), pool.allocated()), (1, 1));
    }
}
