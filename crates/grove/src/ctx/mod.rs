//! The unsafe core: greenlet stacks (mmap + guard page + pool) and stack-overflow reporting.
//!
//! Context switching itself is corosensei's; this module supplies the stacks it switches onto.
//! It is a leaf: it imports nothing from the layers above (the coroutine types built on these
//! stacks live in `hub::fiber`).

pub(crate) mod overflow;
mod pool;
mod stack;

pub(crate) use pool::StackPool;
pub(crate) use stack::{force_mprotect_guards, maps_per_stack, Stack};

pub(crate) use stack::release_below_current;
pub(crate) use stack::round_size;

/// Default usable stack size of a greenlet: reserved address space, touched lazily.
pub(crate) const DEFAULT_STACK_SIZE: usize = 128 * 1024;

/// An atomically replaceable `&'static T`, readable from other threads (the monitor reads the
/// running greenlet's spawn location this way without locks).
#[derive(Debug)]
pub(crate) struct AtomicStaticRef<T: Sync + 'static> {
    ptr: std::sync::atomic::AtomicPtr<T>,
}

impl<T: Sync + 'static> AtomicStaticRef<T> {
    pub(crate) const fn empty() -> Self {
        AtomicStaticRef { ptr: std::sync::atomic::AtomicPtr::new(std::ptr::null_mut()) }
    }

    pub(crate) fn store(&self, r: Option<&'static T>) {
        let p = r.map_or(std::ptr::null_mut(), |r| r as *const T as *mut T);
        self.ptr.store(p, std::sync::atomic::Ordering::Relaxed);
    }

    pub(crate) fn load(&self) -> Option<&'static T> {
        let p = self.ptr.load(std::sync::atomic::Ordering::Relaxed);
        // SAFETY: the only pointers ever stored come from `&'static T` in `store` (or null), so
        // a non-null value points to a `T` that lives forever; `T: Sync` makes sharing the
        // reference across threads sound.
        unsafe { p.as_ref() }
    }
}

#[cfg(test)]
mod tests {
    use super::AtomicStaticRef;

    /// One thread publishes `&'static` values, another reads through what it loads (run under
    /// Miri by ci/miri.sh: no data race, no dangling read).
    #[test]
    fn atomic_static_ref_publishes_across_threads() {
        static A: (u64, &str) = (1, "one");
        static B: (u64, &str) = (2, "two");
        static SLOT: AtomicStaticRef<(u64, &str)> = AtomicStaticRef::empty();
        assert!(SLOT.load().is_none());
        let writer = std::thread::spawn(|| {
            for i in 0..100 {
                SLOT.store(Some(if i % 2 == 0 { &A } else { &B }));
            }
            SLOT.store(None);
        });
        for _ in 0..100 {
            if let Some(v) = SLOT.load() {
                assert!(*v == A || *v == B);
            }
        }
        writer.join().unwrap();
        assert!(SLOT.load().is_none());
    }
}
