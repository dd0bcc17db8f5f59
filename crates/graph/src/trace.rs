//! Packet trace (VPP's `trace add` / `show trace`).
//!
//! Input nodes mark up to N packets as traced (`trace add <node> N`); every node a traced
//! packet passes appends a small `Copy` record, stored as bytes together with the function that
//! formats it, so formatting happens only at `show trace` time, on the main thread. Records are
//! kept per thread. The per-thread store sits behind a mutex that is only taken for traced
//! packets and by `show/clear trace`: untraced traffic never touches it.

use std::fmt::Write as _;
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Mutex;

/// Largest trace record, in bytes.
pub const TRACE_BYTES: usize = 96;

/// One node's record for one packet.
#[derive(Clone, Copy)]
pub struct TraceEntry {
    pub tsc: u64,
    pub node: u32,
    /// The record's bytes. `MaybeUninit` because a record type may have padding: those bytes
    /// are uninitialised, and holding them as `u8` would be undefined behaviour.
    data: [MaybeUninit<u8>; TRACE_BYTES],
    fmt: fn(&[MaybeUninit<u8>; TRACE_BYTES], &mut String),
}

impl std::fmt::Debug for TraceEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TraceEntry")
            .field("node", &self.node)
            .finish()
    }
}

impl TraceEntry {
    pub fn new<T: Copy + std::fmt::Display + 'static>(tsc: u64, node: u32, rec: T) -> Self {
        const { assert!(std::mem::size_of::<T>() <= TRACE_BYTES) };
        let mut data = [MaybeUninit::<u8>::uninit(); TRACE_BYTES];
        // SAFETY: `T` fits (checked at compile time); an unaligned write of a `Copy` value into
        // `MaybeUninit` bytes is always sound, padding included.
        unsafe { std::ptr::write_unaligned(data.as_mut_ptr().cast::<T>(), rec) };
        fn fmt<T: Copy + std::fmt::Display>(d: &[MaybeUninit<u8>; TRACE_BYTES], out: &mut String) {
            // SAFETY: `d` was written from a `T` by `TraceEntry::new::<T>`, the only constructor,
            // which also chose this very function: the bytes are a valid `T` (copies of a
            // `MaybeUninit` array keep uninitialised padding as it was).
            let v: T = unsafe { std::ptr::read_unaligned(d.as_ptr().cast::<T>()) };
            let _ = write!(out, "{v}");
        }
        TraceEntry {
            tsc,
            node,
            data,
            fmt: fmt::<T>,
        }
    }

    /// The record's text.
    pub fn text(&self) -> String {
        let mut s = String::new();
        (self.fmt)(&self.data, &mut s);
        s
    }
}

/// Everything recorded for one packet.
#[derive(Debug, Clone, Default)]
pub struct TracePacket {
    pub entries: Vec<TraceEntry>,
}

/// One thread's trace store.
#[derive(Debug, Default)]
pub struct ThreadTrace {
    pub packets: Vec<TracePacket>,
}

/// All threads' trace stores and per-(thread, input node) budgets.
#[derive(Debug)]
pub struct Tracer {
    pub threads: Vec<Mutex<ThreadTrace>>,
    /// `budget[thread * n_nodes + node]`: packets still to mark at that input node.
    budget: Vec<AtomicU32>,
    n_nodes: usize,
    /// Some buffer may carry the `TRACED` flag: set when one is marked, cleared by `clear
    /// trace`. Nodes read it once per frame and, while it is false, run their per-packet loops
    /// without testing each buffer's flag (VPP tests a frame's trace flag the same way).
    active: AtomicBool,
}

/// Most packets one thread keeps (VPP's trace buffer is bounded the same way).
pub const MAX_TRACED: usize = 10_000;

impl Tracer {
    pub fn new(n_threads: usize, n_nodes: usize) -> Self {
        Tracer {
            threads: (0..n_threads)
                .map(|_| Mutex::new(ThreadTrace::default()))
                .collect(),
            budget: (0..n_threads * n_nodes)
                .map(|_| AtomicU32::new(0))
                .collect(),
            n_nodes,
            active: AtomicBool::new(false),
        }
    }

    /// Whether a buffer may be traced (see `active`): once per frame, never per packet.
    #[inline(always)]
    pub fn active(&self) -> bool {
        self.active.load(Ordering::Relaxed)
    }

    /// `trace add <node> <n>`: adds `n` to the node's budget on every thread; 0 resets it.
    pub fn add(&self, node: usize, n: u32) {
        for t in 0..self.threads.len() {
            let b = &self.budget[t * self.n_nodes + node];
            if n == 0 {
                b.store(0, Ordering::Relaxed);
            } else {
                let _ = b.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
                    Some(v.saturating_add(n).min(MAX_TRACED as u32))
                });
            }
        }
    }

    #[inline(always)]
    pub fn budget(&self, thread: usize, node: usize) -> u32 {
        self.budget[thread * self.n_nodes + node].load(Ordering::Relaxed)
    }

    pub(crate) fn consume(&self, thread: usize, node: usize, n: u32) {
        let b = &self.budget[thread * self.n_nodes + node];
        let _ = b.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
            Some(v.saturating_sub(n))
        });
    }

    /// Starts a packet record on `thread`; returns its handle, or `None` when the store is full.
    pub fn start(&self, thread: usize) -> Option<u32> {
        let mut t = self.threads[thread]
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if t.packets.len() >= MAX_TRACED {
            return None;
        }
        t.packets.push(TracePacket::default());
        // Before the buffer is marked and enqueued: a node that meets it later on this thread,
        // or on another after a handoff (whose queue orders the two), reads true.
        self.active.store(true, Ordering::Relaxed);
        Some((t.packets.len() - 1) as u32)
    }

    pub fn record(&self, thread: usize, handle: u32, e: TraceEntry) {
        let mut t = self.threads[thread]
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(p) = t.packets.get_mut(handle as usize) {
            if p.entries.len() < 64 {
                p.entries.push(e);
            }
        }
    }

    /// `clear trace`: drops every record and stops tracing.
    pub fn clear(&self) {
        for t in &self.threads {
            t.lock().unwrap_or_else(|e| e.into_inner()).packets.clear();
        }
        for b in &self.budget {
            b.store(0, Ordering::Relaxed);
        }
        // A buffer marked before and still in flight is forwarded untraced from here on.
        self.active.store(false, Ordering::Relaxed);
    }

    pub fn snapshot(&self, thread: usize) -> Vec<TracePacket> {
        self.threads[thread]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .packets
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record with padding: 1 + 3 (padding) + 4 + 8 bytes. Its padding bytes are
    /// uninitialised, so storing it must not read them as `u8` (Miri checks this).
    #[derive(Clone, Copy)]
    struct Padded {
        a: u8,
        b: u32,
        c: u64,
    }

    impl std::fmt::Display for Padded {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "a {} b {} c {:#x}", self.a, self.b, self.c)
        }
    }

    #[test]
    fn records_with_padding_round_trip() {
        const { assert!(std::mem::size_of::<Padded>() > 13) };
        let e = TraceEntry::new(
            7,
            3,
            Padded {
                a: 1,
                b: 2,
                c: 0xfeed,
            },
        );
        // Copies of the entry (the store clones them for `show trace`) keep the record.
        let copy = e;
        let packets = vec![TracePacket {
            entries: vec![e, copy],
        }];
        let again = packets.clone();
        assert_eq!(again[0].entries[1].text(), "a 1 b 2 c 0xfeed");
        assert_eq!((copy.tsc, copy.node), (7, 3));
        let t = Tracer::new(1, 1);
        assert!(!t.active(), "nothing marked yet");
        t.add(0, 5);
        assert!(!t.active(), "a budget alone marks nothing");
        let h = t.start(0).unwrap();
        assert!(t.active(), "a buffer may be traced");
        t.record(0, h, e);
        assert_eq!(t.snapshot(0)[0].entries[0].text(), "a 1 b 2 c 0xfeed");
        t.clear();
        assert!(
            !t.active() && t.budget(0, 0) == 0,
            "clear trace stops tracing"
        );
    }
}
