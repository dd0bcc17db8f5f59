//! One timer structure for the whole core: a binary heap of (deadline, owner) with lazy
//! deletion. Each owner (control connection, pseudowire, configured connection) keeps the
//! deadline of its live heap entry; an entry is pushed only when the owner needs an earlier
//! deadline than the one queued, and a popped entry that no longer matches is skipped. So
//! thousands of connections cost one wake-up for the earliest deadline, and a deadline that
//! moves later (a Hello timer pushed back by traffic) costs no heap work until it fires.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Who a deadline belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TimerKey {
    /// A control connection instance, by local CCID.
    Tunnel(u32),
    /// A configured pseudowire (start or retry), by id.
    Pw(u32),
    /// A configured control connection (reconnect), by id.
    Conn(u32),
}

#[derive(Debug, Default)]
pub struct Timers {
    heap: BinaryHeap<Reverse<(u64, TimerKey)>>,
}

impl Timers {
    /// Makes sure `key` is woken by `at`. `queued` is the owner's record of its live entry.
    pub fn arm(&mut self, queued: &mut Option<u64>, at: u64, key: TimerKey) {
        if queued.is_none_or(|q| at < q) {
            self.heap.push(Reverse((at, key)));
            *queued = Some(at);
        }
    }

    /// The earliest entry (possibly stale: waking for it is harmless).
    pub fn next(&self) -> Option<u64> {
        self.heap.peek().map(|Reverse((t, _))| *t)
    }

    /// Pops an entry due at `now`. The caller checks it against the owner's `queued`.
    pub fn pop_due(&mut self, now: u64) -> Option<(u64, TimerKey)> {
        match self.heap.peek() {
            Some(Reverse((t, _))) if *t <= now => self.heap.pop().map(|Reverse(e)| e),
            _ => None,
        }
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_deadlines_do_not_push() {
        let mut t = Timers::default();
        let mut q = None;
        t.arm(&mut q, 100, TimerKey::Tunnel(1));
        t.arm(&mut q, 200, TimerKey::Tunnel(1));
        assert_eq!(t.len(), 1);
        t.arm(&mut q, 50, TimerKey::Tunnel(1));
        assert_eq!(t.len(), 2);
        assert_eq!(t.next(), Some(50));
        assert_eq!(t.pop_due(49), None);
        assert_eq!(t.pop_due(100), Some((50, TimerKey::Tunnel(1))));
        // The 100 entry is stale now: the owner's record says 50.
        assert_eq!(t.pop_due(100), Some((100, TimerKey::Tunnel(1))));
        assert_ne!(q, Some(100));
    }
}
