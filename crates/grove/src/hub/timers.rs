//! The hub's timers: a binary min-heap of deadlines over a slab of entries.
//!
//! Insert is O(log n). Cancel is O(1): the slab entry is removed and its heap item becomes stale;
//! stale items are skipped when they reach the top, and the heap is rebuilt when they outnumber
//! live ones three to one, so a server whose I/O timeouts nearly always get cancelled does not
//! grow the heap without bound. Equal deadlines fire in insertion order.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

use slab::Slab;

/// Identifies one armed timer; cancelling a fired or cancelled timer is a no-op.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimerId {
    key: usize,
    seq: u64,
}

#[derive(Debug)]
struct Entry<A> {
    seq: u64,
    action: A,
}

/// A set of deadlines with actions of type `A`.
#[derive(Debug)]
pub(crate) struct Timers<A> {
    heap: BinaryHeap<Reverse<(Instant, u64, usize)>>,
    entries: Slab<Entry<A>>,
    next_seq: u64,
}

impl<A> Timers<A> {
    pub(crate) fn new() -> Self {
        Timers { heap: BinaryHeap::new(), entries: Slab::new(), next_seq: 0 }
    }

    /// Live (armed, not fired, not cancelled) timers.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Arms a timer.
    pub(crate) fn insert(&mut self, deadline: Instant, action: A) -> TimerId {
        let seq = self.next_seq;
        self.next_seq += 1;
        let key = self.entries.insert(Entry { seq, action });
        self.heap.push(Reverse((deadline, seq, key)));
        TimerId { key, seq }
    }

    /// Disarms a timer, returning its action if it was still armed.
    pub(crate) fn cancel(&mut self, id: TimerId) -> Option<A> {
        match self.entries.get(id.key) {
            Some(e) if e.seq == id.seq => {
                let a = self.entries.remove(id.key).action;
                self.maybe_compact();
                Some(a)
            }
            _ => None,
        }
    }

    /// The earliest live deadline.
    pub(crate) fn next_deadline(&mut self) -> Option<Instant> {
        self.purge_top();
        self.heap.peek().map(|Reverse((d, _, _))| *d)
    }

    /// Removes and returns the action of the earliest timer due at or before `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<A> {
        self.purge_top();
        let &Reverse((d, _, key)) = self.heap.peek()?;
        if d > now {
            return None;
        }
        self.heap.pop();
        Some(self.entries.remove(key).action)
    }

    /// Drops every timer, returning the actions.
    pub(crate) fn drain(&mut self) -> Vec<A> {
        self.heap.clear();
        self.entries.drain().map(|e| e.action).collect()
    }

    fn is_live(entries: &Slab<Entry<A>>, seq: u64, key: usize) -> bool {
        entries.get(key).is_some_and(|e| e.seq == seq)
    }

    fn purge_top(&mut self) {
        while let Some(&Reverse((_, seq, key))) = self.heap.peek() {
            if Self::is_live(&self.entries, seq, key) {
                break;
            }
            self.heap.pop();
        }
    }

    fn maybe_compact(&mut self) {
        if self.heap.len() > 64 && self.heap.len() > 4 * self.entries.len() {
            let entries = &self.entries;
            self.heap.retain(|Reverse((_, seq, key))| Self::is_live(entries, *seq, *key));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use std::time::Duration;

    /// Checks the heap against a naive sorted-Vec model under random inserts, cancels and pops.
    #[test]
    fn matches_reference_model() {
        let base = Instant::now();
        // Fewer rounds under Miri (ci/miri.sh), which interprets every step.
        let (seeds, steps) = if cfg!(miri) { (2, 300) } else { (50, 2000) };
        for seed in 0..seeds {
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            let mut t: Timers<u32> = Timers::new();
            // (deadline, insertion order, value, id)
            let mut model: Vec<(Instant, u64, u32, TimerId)> = Vec::new();
            let mut order = 0u64;
            let mut now = base;
            for _ in 0..steps {
                match rng.random_range(0..10) {
                    0..=4 => {
                        let d = now + Duration::from_millis(rng.random_range(0..100));
                        let v = rng.random::<u32>();
                        let id = t.insert(d, v);
                        model.push((d, order, v, id));
                        order += 1;
                    }
                    5..=6 if !model.is_empty() => {
                        let i = rng.random_range(0..model.len());
                        let (_, _, v, id) = model.remove(i);
                        assert_eq!(t.cancel(id), Some(v));
                        assert_eq!(t.cancel(id), None, "double cancel is a no-op");
                    }
                    _ => {
                        now += Duration::from_millis(rng.random_range(0..30));
                        model.sort_by_key(|&(d, o, _, _)| (d, o));
                        let due: Vec<u32> =
                            model.iter().take_while(|m| m.0 <= now).map(|m| m.2).collect();
                        model.retain(|m| m.0 > now);
                        let mut got = Vec::new();
                        while let Some(v) = t.pop_due(now) {
                            got.push(v);
                        }
                        assert_eq!(got, due);
                    }
                }
                assert_eq!(t.len(), model.len());
                let min = model.iter().map(|m| m.0).min();
                assert_eq!(t.next_deadline(), min);
            }
        }
    }

    #[test]
    fn cancelled_timers_do_not_accumulate() {
        let mut t: Timers<()> = Timers::new();
        let now = Instant::now();
        for i in 0..if cfg!(miri) { 3_000u64 } else { 100_000 } {
            let id = t.insert(now + Duration::from_secs(1 + i % 7), ());
            t.cancel(id);
        }
        assert!(t.heap.len() <= 64 + 4, "heap kept {} stale items", t.heap.len());
    }
}
