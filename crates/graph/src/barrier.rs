//! The worker barrier (VPP's `vlib_worker_thread_barrier_sync/release`).
//!
//! Workers check [`Barrier::requested`] once per loop iteration, at a frame boundary, and park
//! there while the main thread holds a [`BarrierGuard`]. While the guard lives no worker is
//! inside a node, so the main thread may change any [`crate::Shared`] state. Parked workers hold
//! no reference into shared state and lose no packet: their rx rings simply wait.
//!
//! # Leaving park is one atomic step
//!
//! The request flag and the count of parked workers share one word. A worker leaves park with a
//! compare-and-swap that decrements the count only if the word still says "no request": seeing
//! the release and leaving the count are one step. (With a separate flag and count, a worker that
//! had seen the release but not yet decremented was still counted by the next [`Barrier::sync`],
//! which then let it dispatch while the main thread wrote.) If the main thread asks again before
//! a worker managed to leave, the swap fails and the worker, still parked, rightly counts for
//! the new request: back-to-back commands do not make every worker wake up in between.
//!
//! VPP instead makes release wait until `workers_at_barrier` is back to zero. That costs every
//! worker a wake-up per command; on a loaded 2-CPU machine `tests/churn.rs` (53 000 commands
//! under traffic) took 727 s that way instead of 18 s.
//!
//! # A minimum open time
//!
//! Because a worker still parked when the next request comes stays parked, commands back to
//! back could keep a worker parked for as long as they last (a worker that yielded its CPU
//! wakes after the next request). So, as VPP's `barrier_no_close_before`, a sync that follows a
//! release closely first waits until every worker has left park (each then runs one iteration
//! before it can be counted again), for at most three times the last hold, clamped to
//! [`MIN_OPEN_FLOOR`, `MIN_OPEN_CAP`]: forwarding goes on between commands, and a command stream
//! is slowed by at most that much per command.
//!
//! # Hold times
//!
//! The main thread records, for every guard, how long it waited for the workers to park and how
//! long it then held them (`show barrier`). Only the main thread writes these: plain loads and
//! stores, no read-modify-write, nothing on the workers' path.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The request bit of [`Barrier::state`]; the bits below count parked workers.
const REQUEST: u64 = 1 << 63;
/// Bounds of the minimum open time after a release (see the module doc).
pub const MIN_OPEN_FLOOR: Duration = Duration::from_micros(20);
pub const MIN_OPEN_CAP: Duration = Duration::from_millis(1);

/// The barrier shared by the main thread and its workers.
#[derive(Debug)]
pub struct Barrier {
    /// [`REQUEST`] | number of workers inside `park` (see the module doc).
    state: AtomicU64,
    workers: AtomicUsize,
    stats: Stats,
    /// When the last guard was released (main thread only; uncontended).
    released_at: std::sync::Mutex<Option<Instant>>,
}

/// Written by the main thread only (`sync` and the guard's drop); read by anyone.
#[derive(Debug, Default)]
struct Stats {
    syncs: AtomicU64,
    /// Syncs since the last `clear`.
    syncs_since_clear: AtomicU64,
    last_wait_ns: AtomicU64,
    max_wait_ns: AtomicU64,
    total_wait_ns: AtomicU64,
    last_hold_ns: AtomicU64,
    max_hold_ns: AtomicU64,
    /// The `syncs` number of the guard that held longest.
    max_hold_at: AtomicU64,
    total_hold_ns: AtomicU64,
}

/// Main-thread-only statistics: a plain store, no locked read-modify-write.
#[inline]
fn set(a: &AtomicU64, v: u64) {
    a.store(v, Ordering::Relaxed);
}
#[inline]
fn get(a: &AtomicU64) -> u64 {
    a.load(Ordering::Relaxed)
}

/// What [`Barrier::stats`] reports (all times in nanoseconds, since the last
/// [`Barrier::clear_stats`] except `syncs`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BarrierStats {
    /// Guards taken since start.
    pub syncs: u64,
    /// Guards taken since the last clear.
    pub syncs_since_clear: u64,
    /// How long the last sync waited for the workers to park.
    pub last_wait_ns: u64,
    /// The longest such wait.
    pub max_wait_ns: u64,
    /// Sum of all waits.
    pub total_wait_ns: u64,
    /// How long the last guard was held (workers parked, main thread working).
    pub last_hold_ns: u64,
    /// The longest hold.
    pub max_hold_ns: u64,
    /// Which sync (counted from start, 1 = the first) held longest; 0 if none since the clear.
    pub max_hold_at: u64,
    /// Sum of all holds.
    pub total_hold_ns: u64,
}

fn ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Spins briefly, then yields, until `done` (the main thread waiting for the workers).
#[inline]
fn wait_until(mut done: impl FnMut() -> bool, mut on_yield: impl FnMut()) {
    let mut spins = 0u32;
    while !done() {
        spins += 1;
        if spins < 64 {
            std::hint::spin_loop();
        } else {
            std::thread::yield_now();
            on_yield();
        }
    }
}

impl Default for Barrier {
    fn default() -> Self {
        Self::new()
    }
}

impl Barrier {
    pub const fn new() -> Self {
        Barrier {
            state: AtomicU64::new(0),
            workers: AtomicUsize::new(0),
            released_at: std::sync::Mutex::new(None),
            stats: Stats {
                syncs: AtomicU64::new(0),
                syncs_since_clear: AtomicU64::new(0),
                last_wait_ns: AtomicU64::new(0),
                max_wait_ns: AtomicU64::new(0),
                total_wait_ns: AtomicU64::new(0),
                last_hold_ns: AtomicU64::new(0),
                max_hold_ns: AtomicU64::new(0),
                max_hold_at: AtomicU64::new(0),
                total_hold_ns: AtomicU64::new(0),
            },
        }
    }

    /// Number of running workers the barrier waits for.
    pub fn set_workers(&self, n: usize) {
        self.workers.store(n, Ordering::SeqCst);
    }
    pub fn workers(&self) -> usize {
        self.workers.load(Ordering::SeqCst)
    }
    /// How many times the barrier has been taken since start.
    pub fn syncs(&self) -> u64 {
        get(&self.stats.syncs)
    }

    /// Wait and hold times (see [`BarrierStats`]).
    pub fn stats(&self) -> BarrierStats {
        let s = &self.stats;
        BarrierStats {
            syncs: get(&s.syncs),
            syncs_since_clear: get(&s.syncs_since_clear),
            last_wait_ns: get(&s.last_wait_ns),
            max_wait_ns: get(&s.max_wait_ns),
            total_wait_ns: get(&s.total_wait_ns),
            last_hold_ns: get(&s.last_hold_ns),
            max_hold_ns: get(&s.max_hold_ns),
            max_hold_at: get(&s.max_hold_at),
            total_hold_ns: get(&s.total_hold_ns),
        }
    }

    /// Resets the wait and hold times (`clear barrier`; `syncs` keeps counting). Main thread.
    pub fn clear_stats(&self) {
        let s = &self.stats;
        for a in [
            &s.syncs_since_clear,
            &s.last_wait_ns,
            &s.max_wait_ns,
            &s.total_wait_ns,
            &s.last_hold_ns,
            &s.max_hold_ns,
            &s.max_hold_at,
            &s.total_hold_ns,
        ] {
            set(a, 0);
        }
    }

    /// Worker side: true when the main thread wants the workers parked.
    #[inline(always)]
    pub fn requested(&self) -> bool {
        self.state.load(Ordering::Acquire) & REQUEST != 0
    }

    /// Worker side: park until released. Call only at a frame boundary, holding no shared refs.
    pub fn park(&self) {
        // Release: what this worker read before parking happens before the main thread writes.
        self.state.fetch_add(1, Ordering::AcqRel);
        let mut spins = 0u32;
        loop {
            let s = self.state.load(Ordering::Acquire);
            if s & REQUEST == 0 {
                // Tests widen the window between seeing the release and leaving the count,
                // where a separate decrement let the next sync count this worker.
                #[cfg(test)]
                std::thread::sleep(Duration::from_micros(20));
                // Leaves only if the request is still clear (see the module doc); acquire: the
                // main thread's writes under the guard are visible from here on.
                if self
                    .state
                    .compare_exchange(s, s - 1, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
                {
                    return;
                }
                continue;
            }
            spins += 1;
            if spins < 64 {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
    }

    /// Main side: parks every worker. Panics after 10 s (a wedged worker is a bug, as VPP's
    /// "worker thread deadlock").
    pub fn sync(self: &Arc<Self>) -> BarrierGuard {
        let t0 = Instant::now();
        let n = self.workers();
        let released = *self.released_at.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(r) = released {
            // The minimum open time: let every worker leave park (and so run an iteration)
            // before closing again, for a bounded time (see the module doc).
            let open = (Duration::from_nanos(get(&self.stats.last_hold_ns)) * 3)
                .clamp(MIN_OPEN_FLOOR, MIN_OPEN_CAP);
            wait_until(
                || self.state.load(Ordering::Acquire) & !REQUEST == 0 || r.elapsed() >= open,
                || {},
            );
        }
        // A worker counted from here on stays parked until the release: it can only leave by a
        // swap that expects the request bit clear.
        self.state.fetch_or(REQUEST, Ordering::SeqCst);
        wait_until(
            || (self.state.load(Ordering::Acquire) & !REQUEST) as usize >= n,
            || {
                if t0.elapsed() > Duration::from_secs(10) {
                    panic!("worker thread deadlock: barrier not reached in 10 s");
                }
            },
        );
        let held = Instant::now();
        let s = &self.stats;
        let wait = ns(held - t0);
        set(&s.syncs, get(&s.syncs) + 1);
        set(&s.syncs_since_clear, get(&s.syncs_since_clear) + 1);
        set(&s.last_wait_ns, wait);
        set(&s.total_wait_ns, get(&s.total_wait_ns).saturating_add(wait));
        if wait > get(&s.max_wait_ns) {
            set(&s.max_wait_ns, wait);
        }
        BarrierGuard {
            b: self.clone(),
            held,
        }
    }

    /// Release: records the hold and clears the request.
    fn release(&self, held: Instant) {
        let hold = ns(held.elapsed());
        // Release: the writes made under the guard happen before any worker leaves park.
        self.state.fetch_and(!REQUEST, Ordering::Release);
        *self.released_at.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
        let s = &self.stats;
        set(&s.last_hold_ns, hold);
        set(&s.total_hold_ns, get(&s.total_hold_ns).saturating_add(hold));
        if hold > get(&s.max_hold_ns) {
            set(&s.max_hold_ns, hold);
            set(&s.max_hold_at, get(&s.syncs));
        }
    }
}

/// Proof that every worker is parked; dropping it releases them.
#[derive(Debug)]
pub struct BarrierGuard {
    b: Arc<Barrier>,
    /// When every worker was parked (the hold starts).
    held: Instant,
}

impl Drop for BarrierGuard {
    fn drop(&mut self) {
        self.b.release(self.held);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, AtomicU64};

    /// A value the main thread writes only under a guard, in several words, so that a worker
    /// reading it during the write can see it torn. Atomics (relaxed) keep the test itself free
    /// of data races: a torn read is a logic error the test detects, not UB.
    struct Value([AtomicU64; 4]);

    impl Value {
        fn write(&self, v: u64) {
            for w in &self.0 {
                w.store(v, Ordering::Relaxed);
                // Widens the write so that a worker running alongside sees it half done.
                std::hint::spin_loop();
            }
        }
        fn torn(&self) -> bool {
            let first = self.0[0].load(Ordering::Relaxed);
            self.0[1..]
                .iter()
                .any(|w| w.load(Ordering::Relaxed) != first)
        }
    }

    /// Many sync/release pairs with two workers that loop exactly as `worker_loop` does (park if
    /// asked, then dispatch). Under every guard no worker may be inside a dispatch, and no worker
    /// may ever read the value torn. The guard is held a little while (as a command would) so
    /// that a worker wrongly let go has time to show up; `park` sleeps in its exit window in
    /// test builds (see there). The barrier that saw the release and left the count in two
    /// steps failed here on every run (hundreds of guards with a worker inside, thousands of
    /// torn reads in 5000 pairs).
    #[test]
    fn no_worker_dispatches_under_a_guard() {
        const WORKERS: usize = 2;
        // Miri runs this thousands of times slower; a few dozen pairs still cross every path.
        let (pairs, min_pairs, limit, hold) = if cfg!(miri) {
            (40, 40, Duration::from_secs(3600), Duration::from_micros(50))
        } else {
            (
                5_000,
                100,
                Duration::from_secs(4),
                Duration::from_micros(100),
            )
        };
        let b = Arc::new(Barrier::new());
        b.set_workers(WORKERS);
        let value = Arc::new(Value([const { AtomicU64::new(0) }; 4]));
        let inside: Arc<[AtomicBool; WORKERS]> =
            Arc::new([const { AtomicBool::new(false) }; WORKERS]);
        let stop = Arc::new(AtomicBool::new(false));
        let torn = Arc::new(AtomicUsize::new(0));
        let dispatches = Arc::new(AtomicUsize::new(0));
        let workers: Vec<_> = (0..WORKERS)
            .map(|i| {
                let (b, value, inside, stop, torn, dispatches) = (
                    b.clone(),
                    value.clone(),
                    inside.clone(),
                    stop.clone(),
                    torn.clone(),
                    dispatches.clone(),
                );
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        if b.requested() {
                            b.park();
                        }
                        // "Dispatch": read the shared value, a few times as a node
                        // reading a table would (long enough for the main thread to see it).
                        inside[i].store(true, Ordering::SeqCst);
                        for _ in 0..64 {
                            if value.torn() {
                                torn.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        inside[i].store(false, Ordering::SeqCst);
                        dispatches.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        let busy = || inside.iter().any(|x| x.load(Ordering::SeqCst));
        let t0 = Instant::now();
        let mut inside_under_guard = 0usize;
        let mut done = 0u64;
        while done < pairs && t0.elapsed() < limit {
            let g = b.sync();
            // Work under the guard for a while, as a command would: write and look.
            let held = Instant::now();
            let mut seen = false;
            let mut v = done << 20;
            while !seen && held.elapsed() < hold {
                seen = busy();
                v += 1;
                value.write(v);
            }
            inside_under_guard += usize::from(seen);
            drop(g);
            done += 1;
            if done.is_multiple_of(4) {
                // Some pairs back to back (workers may stay parked across them), some with the
                // workers let run in between (they must come back to park).
                let open = Instant::now();
                while open.elapsed() < hold {
                    std::hint::spin_loop();
                }
            }
        }
        stop.store(true, Ordering::Relaxed);
        for w in workers {
            w.join().unwrap();
        }
        let torn = torn.load(Ordering::Relaxed);
        let dispatches = dispatches.load(Ordering::Relaxed);
        eprintln!(
            "{done} sync/release pairs in {:?}: {dispatches} dispatches, a worker inside one under {inside_under_guard} guards, {torn} torn reads; {:?}",
            t0.elapsed(),
            b.stats()
        );
        assert!(done >= min_pairs, "too few pairs ran ({done})");
        assert!(dispatches > 0, "the workers never ran");
        assert_eq!(
            inside_under_guard, 0,
            "a worker dispatched while a guard was held ({torn} torn reads)"
        );
        assert_eq!(
            torn, 0,
            "a worker read the value while the main thread wrote it"
        );
        assert_eq!(b.syncs(), done);
    }

    #[test]
    fn records_wait_and_hold_times_and_clears_them() {
        let b = Arc::new(Barrier::new());
        assert_eq!(b.stats(), BarrierStats::default());
        drop(b.sync());
        let g = b.sync();
        std::thread::sleep(Duration::from_millis(3));
        drop(g);
        drop(b.sync());
        let s = b.stats();
        assert_eq!((s.syncs, s.syncs_since_clear), (3, 3));
        assert!(s.max_hold_ns >= 3_000_000, "{s:?}");
        assert_eq!(s.max_hold_at, 2, "the second guard held longest: {s:?}");
        assert!(s.last_hold_ns < s.max_hold_ns, "{s:?}");
        assert!(s.total_hold_ns >= s.max_hold_ns + s.last_hold_ns, "{s:?}");
        b.clear_stats();
        let c = b.stats();
        assert_eq!(
            c,
            BarrierStats {
                syncs: 3,
                ..BarrierStats::default()
            }
        );
        drop(b.sync());
        assert_eq!((b.stats().syncs, b.stats().syncs_since_clear), (4, 1));
        assert_eq!(b.stats().max_hold_at, 4);
    }
}
