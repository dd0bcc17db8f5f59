//! How MACs learned on one thread reach every thread, with no lock and no per-packet shared
//! atomic.
//!
//! - `l2-learn` on thread `t` never writes the shared FIB. A new MAC (or a move) goes into
//!   `t`'s bounded queue ([`Learners::queues`], a lock-free `ArrayQueue`: one push per learn
//!   event, not per packet) and into `t`'s small overlay, which `l2-fwd` on `t` consults, so
//!   the thread that learned a MAC forwards to it at once.
//! - The process node `l2fib-learn` (main thread) wakes every [`LEARN_INTERVAL`]; when a queue
//!   holds events it signals the learn main task, which the main loop runs right after that
//!   loop iteration: it drains every queue and applies the events to the shared FIB with the
//!   workers parked at the barrier, then records per thread the last event applied.
//! - A thread drops its overlay once the main thread has applied everything in it, or when a
//!   flush bumped [`crate::state::L2State::gen`] (events from before a flush are discarded).
//!
//! Bound: a MAC learned on one thread is in the shared FIB, and so seen by every thread, at
//! most [`LEARN_INTERVAL`] plus one main-loop iteration plus one barrier after the packet was
//! learned ([`PUBLISH_BOUND`] is what the two-worker test allows, with slack for a loaded
//! machine). A full queue ([`QUEUE_DEPTH`] events, i.e. faster than 400k new MACs/s per thread)
//! drops the event; the next packet from that MAC tries again.

use crate::state::LearnEvent;
use crossbeam_queue::ArrayQueue;
use hashbrown::HashMap;
use std::cell::UnsafeCell;
use std::time::Duration;

/// How often `l2fib-learn` publishes what the workers learned.
pub const LEARN_INTERVAL: f64 = 0.010;
/// The publication bound the tests hold the code to: [`LEARN_INTERVAL`] + one main-loop
/// iteration + the barrier, plus slack for a shared 2-core test machine.
pub const PUBLISH_BOUND: Duration = Duration::from_millis(60);
/// Events one thread may have in flight.
pub const QUEUE_DEPTH: usize = 4096;
/// Overlay entries per thread (new MACs of one publication interval).
pub const OVERLAY_CAP: usize = 1024;

/// One thread's unpublished learning.
#[derive(Debug)]
pub struct Local {
    /// key -> port of MACs learned here and not yet applied by the main thread.
    pub overlay: HashMap<u64, u32>,
    /// Number given to the next event.
    next_seq: u64,
    /// Number of the last event put in the overlay.
    max_seq: u64,
    /// `L2State::gen` the overlay belongs to.
    gen: u32,
}

impl Local {
    fn new() -> Self {
        Local {
            overlay: HashMap::with_capacity(OVERLAY_CAP),
            next_seq: 1,
            max_seq: 0,
            gen: 0,
        }
    }

    /// Called at the start of each frame: forgets the overlay once it is published or stale.
    #[inline(always)]
    pub fn sync(&mut self, gen: u32, applied: u64) {
        if !self.overlay.is_empty() && (gen != self.gen || applied >= self.max_seq) {
            self.overlay.clear();
        }
        self.gen = gen;
    }

    /// Queues a learn event and remembers it in the overlay; false if the queue is full.
    #[inline]
    pub fn push(&mut self, q: &ArrayQueue<LearnEvent>, mut ev: LearnEvent) -> bool {
        ev.seq = self.next_seq;
        ev.gen = self.gen;
        if q.push(ev).is_err() {
            return false;
        }
        self.next_seq += 1;
        // A full overlay only means the MAC floods on this thread until it is published.
        if self.overlay.len() < OVERLAY_CAP || self.overlay.contains_key(&ev.key) {
            self.overlay.insert(ev.key, ev.sw_if_index);
            self.max_seq = ev.seq;
        }
        true
    }

    /// No unpublished MAC (then `get` is None for every key).
    #[inline(always)]
    pub fn is_empty(&self) -> bool {
        self.overlay.is_empty()
    }

    /// The port of an unpublished MAC.
    #[inline(always)]
    pub fn get(&self, key: u64) -> Option<u32> {
        if self.overlay.is_empty() {
            None
        } else {
            self.overlay.get(&key).copied()
        }
    }
}

/// Keeps each thread's slot on its own cache lines.
#[repr(align(128))]
struct Padded<T>(T);

/// Every thread's queue and overlay.
pub struct Learners {
    pub queues: Box<[ArrayQueue<LearnEvent>]>,
    locals: Box<[Padded<UnsafeCell<Local>>]>,
}

impl std::fmt::Debug for Learners {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Learners")
            .field("threads", &self.queues.len())
            .finish()
    }
}

// SAFETY: the queues are `Sync`. `locals[t]` is only reached through `local(t)`, whose caller
// runs on thread `t` inside a node's `process`; a thread runs one node at a time, so no two
// references to one slot ever exist at once, and no slot is touched by two threads.
unsafe impl Sync for Learners {}

impl Learners {
    pub fn new(n_threads: usize) -> Self {
        Learners {
            queues: (0..n_threads)
                .map(|_| ArrayQueue::new(QUEUE_DEPTH))
                .collect(),
            locals: (0..n_threads)
                .map(|_| Padded(UnsafeCell::new(Local::new())))
                .collect(),
        }
    }

    /// Thread `thread`'s learning state.
    ///
    /// # Safety
    /// Only from a node's `process` running on thread `thread` (`cx.thread()`), and the
    /// reference must not outlive that call.
    #[inline(always)]
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn local(&self, thread: usize) -> &mut Local {
        // SAFETY: the caller's contract; see the `Sync` impl.
        unsafe { &mut *self.locals[thread].0.get() }
    }

    /// True when some thread has events waiting.
    pub fn pending(&self) -> bool {
        self.queues.iter().any(|q| !q.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(key: u64, sw: u32) -> LearnEvent {
        LearnEvent {
            key,
            sw_if_index: sw,
            gen: 0,
            seq: 0,
            ts: 0,
            sn: 0,
        }
    }

    #[test]
    fn overlay_lives_until_published_or_flushed() {
        let l = Learners::new(1);
        // SAFETY: single-threaded test, one reference at a time.
        let local = unsafe { l.local(0) };
        local.sync(7, 0);
        assert!(local.push(&l.queues[0], ev(1, 10)));
        assert!(local.push(&l.queues[0], ev(2, 11)));
        assert_eq!(
            (local.get(1), local.get(2), local.get(3)),
            (Some(10), Some(11), None)
        );
        let first = l.queues[0].pop().unwrap();
        assert_eq!((first.gen, first.seq), (7, 1));
        // Applied up to event 1 of 2: the overlay stays.
        local.sync(7, 1);
        assert_eq!(local.get(2), Some(11));
        // Everything applied: gone.
        local.sync(7, 2);
        assert_eq!(local.get(2), None);
        // A flush (new generation) drops unpublished learning too.
        local.push(&l.queues[0], ev(3, 12));
        local.sync(8, 0);
        assert_eq!(local.get(3), None);
        // A full queue refuses the event and leaves the overlay alone.
        while l.queues[0].pop().is_some() {}
        for i in 0..QUEUE_DEPTH as u64 {
            assert!(local.push(&l.queues[0], ev(100 + i, 1)));
        }
        assert!(!local.push(&l.queues[0], ev(99, 1)));
        assert_eq!(local.get(99), None);
        assert!(l.pending());
    }
}
