//! The worker barrier (VPP's `vlib_worker_thread_barrier_sync/release`).
//!
//! Workers check [`Barrier::requested`] once per loop iteration, at a frame boundary, and park
//! there while the main thread holds a [`BarrierGuard`]. While the guard lives no worker is
//! inside a node, so the main thread may change any [`crate::Shared`] state. Parked workers hold
//! no reference into shared state and lose no packet: their rx rings simply wait.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The barrier shared by the main thread and its workers.
#[derive(Debug)]
pub struct Barrier {
    request: AtomicBool,
    parked: AtomicUsize,
    workers: AtomicUsize,
    /// How many times the barrier has been taken (shown by `show threads`, used by tests).
    syncs: AtomicUsize,
}

impl Default for Barrier {
    fn default() -> Self {
        Self::new()
    }
}

impl Barrier {
    pub const fn new() -> Self {
        Barrier {
            request: AtomicBool::new(false),
            parked: AtomicUsize::new(0),
            workers: AtomicUsize::new(0),
            syncs: AtomicUsize::new(0),
        }
    }

    /// Number of running workers the barrier waits for.
    pub fn set_workers(&self, n: usize) {
        self.workers.store(n, Ordering::SeqCst);
    }
    pub fn workers(&self) -> usize {
        self.workers.load(Ordering::SeqCst)
    }
    pub fn syncs(&self) -> usize {
        self.syncs.load(Ordering::Relaxed)
    }

    /// Worker side: true when the main thread wants the workers parked.
    #[inline(always)]
    pub fn requested(&self) -> bool {
        self.request.load(Ordering::Acquire)
    }

    /// Worker side: park until released. Call only at a frame boundary, holding no shared refs.
    pub fn park(&self) {
        self.parked.fetch_add(1, Ordering::AcqRel);
        let mut spins = 0u32;
        while self.request.load(Ordering::Acquire) {
            spins += 1;
            if spins < 64 {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
        self.parked.fetch_sub(1, Ordering::AcqRel);
    }

    /// Main side: parks every worker. Panics after 10 s (a wedged worker is a bug, as VPP's
    /// "worker thread deadlock").
    pub fn sync(self: &Arc<Self>) -> BarrierGuard {
        self.syncs.fetch_add(1, Ordering::Relaxed);
        let n = self.workers();
        self.request.store(true, Ordering::SeqCst);
        let t0 = Instant::now();
        let mut spins = 0u32;
        while self.parked.load(Ordering::Acquire) < n {
            spins += 1;
            if spins < 64 {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
                if t0.elapsed() > Duration::from_secs(10) {
                    panic!("worker thread deadlock: barrier not reached in 10 s");
                }
            }
        }
        BarrierGuard { b: self.clone() }
    }
}

/// Proof that every worker is parked; dropping it releases them.
#[derive(Debug)]
pub struct BarrierGuard {
    b: Arc<Barrier>,
}

impl Drop for BarrierGuard {
    fn drop(&mut self) {
        self.b.request.store(false, Ordering::Release);
    }
}
