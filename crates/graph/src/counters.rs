//! Per-thread error/statistics counters and node run statistics.
//!
//! Each thread owns one array of counters (all nodes' counters, one after another: a node's
//! codes start at its `error_base`) and one array of node statistics. Only the owning thread
//! writes them, with a plain load + store (no read-modify-write, no lock prefix); the main thread
//! sums them on read. "clear" keeps a baseline instead of zeroing, as VPP's `clear errors` does,
//! so a clear never races with a writer.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// VPP's counter severities.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warn,
    Info,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warn => "warn",
            Severity::Info => "info",
        }
    }
}

#[doc(hidden)]
#[macro_export]
macro_rules! __sev {
    (error) => {
        $crate::Severity::Error
    };
    (warn) => {
        $crate::Severity::Warn
    };
    (info) => {
        $crate::Severity::Info
    };
}
#[doc(hidden)]
pub use crate::__sev as sev;

/// One counter's name and severity.
#[derive(Debug, Clone, Copy)]
pub struct CounterDecl {
    pub name: &'static str,
    pub severity: Severity,
}

/// One thread's counters, in whole cache lines of their own: the boxes of two threads can sit
/// next to each other on the heap, and a shared line would bounce between their cores.
#[derive(Debug)]
pub struct Counters {
    v: Box<[Line]>,
    n: usize,
}

#[derive(Debug, Default)]
#[repr(align(64))]
struct Line([AtomicU64; 8]);

impl Counters {
    pub fn new(n: usize) -> Self {
        Counters {
            v: (0..n.div_ceil(8)).map(|_| Line::default()).collect(),
            n,
        }
    }
    #[inline(always)]
    fn slot(&self, code: usize) -> Option<&AtomicU64> {
        if code < self.n {
            self.v.get(code >> 3).map(|l| &l.0[code & 7])
        } else {
            None
        }
    }
    /// Owner-only add.
    #[inline(always)]
    pub fn add(&self, code: u16, n: u64) {
        if let Some(c) = self.slot(code as usize) {
            c.store(c.load(Relaxed).wrapping_add(n), Relaxed);
        }
    }
    #[inline(always)]
    pub fn get(&self, code: usize) -> u64 {
        self.slot(code).map_or(0, |c| c.load(Relaxed))
    }
    pub fn len(&self) -> usize {
        self.n
    }
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }
}

/// One node's run statistics on one thread, on a cache line of its own (written every
/// dispatch; see [`Counters`]).
#[derive(Debug, Default)]
#[repr(align(64))]
pub struct NodeStats {
    pub calls: AtomicU64,
    pub vectors: AtomicU64,
    pub clocks: AtomicU64,
    pub suspends: AtomicU64,
    /// Largest clocks of a single call, and the vectors of that call (`show runtime max`).
    pub max_clocks: AtomicU64,
    pub vectors_at_max: AtomicU64,
}

/// Plain copy of a node's statistics.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct StatsSnapshot {
    pub calls: u64,
    pub vectors: u64,
    pub clocks: u64,
    pub suspends: u64,
    pub max_clocks: u64,
    pub vectors_at_max: u64,
}

impl StatsSnapshot {
    pub fn minus(self, base: StatsSnapshot) -> StatsSnapshot {
        StatsSnapshot {
            calls: self.calls.saturating_sub(base.calls),
            vectors: self.vectors.saturating_sub(base.vectors),
            clocks: self.clocks.saturating_sub(base.clocks),
            suspends: self.suspends.saturating_sub(base.suspends),
            max_clocks: self.max_clocks,
            vectors_at_max: self.vectors_at_max,
        }
    }
}

impl NodeStats {
    #[inline(always)]
    pub fn record(&self, vectors: u64, clocks: u64) {
        self.calls.store(self.calls.load(Relaxed) + 1, Relaxed);
        self.vectors
            .store(self.vectors.load(Relaxed) + vectors, Relaxed);
        self.clocks
            .store(self.clocks.load(Relaxed) + clocks, Relaxed);
        if clocks > self.max_clocks.load(Relaxed) {
            self.max_clocks.store(clocks, Relaxed);
            self.vectors_at_max.store(vectors, Relaxed);
        }
    }
    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            calls: self.calls.load(Relaxed),
            vectors: self.vectors.load(Relaxed),
            clocks: self.clocks.load(Relaxed),
            suspends: self.suspends.load(Relaxed),
            max_clocks: self.max_clocks.load(Relaxed),
            vectors_at_max: self.vectors_at_max.load(Relaxed),
        }
    }
}
