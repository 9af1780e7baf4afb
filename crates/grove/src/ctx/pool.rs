//! A per-hub pool of default-size stacks: a finished greenlet's stack is reused by the next spawn
//! without any system call.
//!
//! Pooled stacks keep whatever pages their last greenlet touched. `trim` (run by the hub when it
//! goes idle) hands the deep pages of recently returned stacks back to the kernel, so a burst of
//! deep recursion does not stay resident forever, and unmaps stacks above the pool's cap.

use std::io;

use super::stack::Stack;

/// Bytes at the top of a pooled stack that stay resident after a trim: what a typical shallow
/// greenlet touches, so the next spawn does not page-fault.
const KEEP_RESIDENT: usize = 8 * 1024;

/// Free stacks of one size, most recently used first.
#[derive(Debug)]
pub(crate) struct StackPool {
    size: usize,
    max: usize,
    free: Vec<Stack>,
    /// How many stacks at the end of `free` were returned since the last trim.
    untrimmed: usize,
    allocated: usize,
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
        }
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

    /// Changes the pool's stack size; pooled stacks of the old size are unmapped.
    pub(crate) fn set_stack_size(&mut self, size: usize) {
        let size = super::stack::round_size(size);
        if size != self.size {
            self.allocated -= self.free.len();
            self.free.clear();
            self.untrimmed = 0;
            self.size = size;
        }
    }

    /// Sets how many free stacks may be kept.
    pub(crate) fn set_max(&mut self, max: usize) {
        self.max = max;
    }

    /// A stack of the pool's size: a pooled one if any, else a fresh mapping.
    pub(crate) fn get(&mut self) -> io::Result<Stack> {
        if let Some(s) = self.free.pop() {
            self.untrimmed = self.untrimmed.min(self.free.len());
            return Ok(s);
        }
        let s = Stack::new(self.size)?;
        self.allocated += 1;
        Ok(s)
    }

    /// Returns a stack obtained from [`get`](Self::get).
    pub(crate) fn put(&mut self, stack: Stack) {
        if stack.usable_size() != self.size || self.free.len() >= self.max {
            self.allocated -= usize::from(stack.usable_size() == self.size);
            drop(stack);
            return;
        }
        self.free.push(stack);
        self.untrimmed += 1;
    }

    /// Forgets a stack of this pool's size that will never come back (leaked on purpose).
    pub(crate) fn forget_one(&mut self) {
        self.allocated = self.allocated.saturating_sub(1);
    }

    /// Releases deep pages of stacks returned since the last trim. Returns how many it touched.
    pub(crate) fn trim(&mut self) -> usize {
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
    fn cap_unmaps_extra() {
        let mut pool = StackPool::new(16 * 1024, 1);
        let a = pool.get().unwrap();
        let b = pool.get().unwrap();
        pool.put(a);
        pool.put(b);
        assert_eq!(pool.pooled(), 1);
        assert_eq!(pool.allocated(), 1);
    }
}
