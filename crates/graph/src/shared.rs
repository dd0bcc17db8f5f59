//! Control-plane state that workers read while forwarding.
//!
//! The mechanism (VPP's barrier model, made checkable by types):
//! - A [`Shared<T>`] is read by dataplane code only through a [`Dp`] token, which exists only
//!   inside a node's `process` call: [`crate::Cx::dp`] makes a `Dp<'a>` whose lifetime is the
//!   dispatch's, so it cannot be kept past the call (not in the node, not in a thread-local, not
//!   in a static), and it is not `Send`, so it stays on the dispatching thread.
//! - The main thread reads and writes through its [`Ctl`]. `Ctl::write` first parks every worker
//!   at the [`Barrier`] (lazily, once per command), and hands out `&mut T` borrowed from the
//!   `&mut Ctl`, so at most one writable reference exists at a time and none while a read
//!   reference taken through the same `Ctl` is alive.
//! - Hence no worker ever observes a half-made change, and no lock or atomic sits on the packet
//!   path: a read is a plain pointer dereference. Large tables (sessions, FIB, MACs) are changed
//!   in place; nothing is copied per change.
//!
//! With no workers the main thread forwards too; then `Ctl` and the dispatch loop alternate on
//! the same thread and the barrier is free.

use crate::barrier::{Barrier, BarrierGuard};
use std::cell::UnsafeCell;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// State owned by the control plane, read by every thread's nodes.
pub struct Shared<T> {
    cell: UnsafeCell<T>,
    /// Bumped by every [`Shared::write`]: a node that keeps something derived from `T` across
    /// frames checks it once per frame and drops what it kept when it moved.
    gen: AtomicU64,
}

impl<T: std::fmt::Debug> std::fmt::Debug for Shared<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Shared { .. }")
    }
}

// SAFETY: mutation happens only through `Ctl::write`, which requires every worker to be parked
// (no concurrent reader) and a unique `&mut Ctl` (no concurrent writer or reader on the main
// thread); reads from several threads at once are reads of a `T: Sync`.
unsafe impl<T: Send + Sync> Sync for Shared<T> {}
// SAFETY: moving the cell moves the `T`.
unsafe impl<T: Send> Send for Shared<T> {}

impl<T> Shared<T> {
    pub fn new(v: T) -> Arc<Self> {
        Arc::new(Shared {
            cell: UnsafeCell::new(v),
            gen: AtomicU64::new(0),
        })
    }

    /// Dataplane read. The reference lives no longer than the token's borrow, hence no longer
    /// than the dispatch.
    #[inline(always)]
    pub fn dp<'a>(&'a self, _t: &'a Dp<'_>) -> &'a T {
        // SAFETY: a `Dp` lives only within a dispatch (its lifetime is the dispatch's, and it
        // cannot leave the thread), and writers only exist while every worker is parked outside
        // dispatch (or, with no workers, outside the main thread's own dispatch). See the
        // module doc.
        unsafe { &*self.cell.get() }
    }

    /// Control-plane read.
    pub fn get<'a>(&'a self, _c: &'a Ctl) -> &'a T {
        // SAFETY: a writable reference can only be made from `&mut Ctl`, which cannot coexist
        // with this `&Ctl` borrow; workers only read.
        unsafe { &*self.cell.get() }
    }

    /// How many times [`Shared::write`] was called: equal numbers mean no change in between.
    #[inline(always)]
    pub fn generation(&self) -> u64 {
        self.gen.load(Ordering::Relaxed)
    }

    /// Control-plane write: parks the workers first.
    #[allow(clippy::mut_from_ref)]
    pub fn write<'a>(&'a self, c: &'a mut Ctl) -> &'a mut T {
        c.ensure_barrier();
        // Workers are parked: they see the new number with the new state when they resume
        // (the barrier's release/acquire orders it).
        self.gen.fetch_add(1, Ordering::Relaxed);
        // SAFETY: every worker is parked (barrier held by `c` until the command ends) and the
        // unique borrow of `c` excludes other control-plane references.
        unsafe { &mut *self.cell.get() }
    }

    /// Access before any worker exists (start-up wiring).
    pub fn get_mut(self: &mut Arc<Self>) -> Option<&mut T> {
        Arc::get_mut(self).map(|s| s.cell.get_mut())
    }
}

/// The dataplane read token, valid for the dispatch `'a` it was made in ([`crate::Cx::dp`]).
///
/// It cannot outlive the dispatch. A node that tries to keep it for later does not compile:
///
/// ```compile_fail
/// use pwire_graph::{Cx, Dp, Frame, Node};
/// use std::cell::Cell;
/// thread_local! { static KEPT: Cell<Option<Dp<'static>>> = const { Cell::new(None) }; }
/// struct Leak;
/// impl Node for Leak {
///     fn process(&mut self, _f: &mut Frame<'_>, cx: &mut Cx<'_>) {
///         // The token would be usable after the dispatch, while the main thread writes.
///         KEPT.with(|k| k.set(Some(cx.dp())));
///     }
/// }
/// ```
///
/// Nor can a reference read through it:
///
/// ```compile_fail
/// use pwire_graph::{Cx, Frame, Node, Shared};
/// use std::sync::Arc;
/// struct Keep {
///     table: Arc<Shared<Vec<u32>>>,
///     last: Option<&'static Vec<u32>>,
/// }
/// impl Node for Keep {
///     fn process(&mut self, _f: &mut Frame<'_>, cx: &mut Cx<'_>) {
///         let dp = cx.dp();
///         self.last = Some(self.table.dp(&dp));
///     }
/// }
/// ```
///
/// Within the dispatch both are plain values:
///
/// ```
/// use pwire_graph::{Cx, Frame, Node, Shared};
/// use std::sync::Arc;
/// struct Read {
///     table: Arc<Shared<Vec<u32>>>,
///     sum: u32,
/// }
/// impl Node for Read {
///     fn process(&mut self, _f: &mut Frame<'_>, cx: &mut Cx<'_>) {
///         let dp = cx.dp();
///         let t = self.table.dp(&dp);
///         self.sum += t.iter().sum::<u32>();
///     }
/// }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Dp<'a> {
    _not_send: PhantomData<*const ()>,
    /// The dispatch (covariant: a token may be used for a shorter span, never a longer one).
    _dispatch: PhantomData<&'a ()>,
}

impl Dp<'_> {
    /// Only the runtime (and tests that drive nodes by hand, with no other thread around) make
    /// one.
    ///
    /// # Safety
    /// No `Ctl::write` reference may be alive while the token or references from it are used,
    /// for all of the lifetime the caller picks.
    pub unsafe fn new() -> Self {
        Dp {
            _not_send: PhantomData,
            _dispatch: PhantomData,
        }
    }
}

/// The main thread's control context for one command (or one start-up step).
#[derive(Debug)]
pub struct Ctl {
    barrier: Arc<Barrier>,
    guard: Option<BarrierGuard>,
    _not_send: PhantomData<*const ()>,
}

impl Ctl {
    /// # Safety
    /// Must be created on the main thread, and only one `Ctl` may exist at a time. While it
    /// lives the main thread may dispatch (its runtime's [`crate::Runtime::run_once`], as a
    /// command that lets the dataplane run does) only with nothing borrowed from it.
    pub unsafe fn new(barrier: Arc<Barrier>) -> Ctl {
        Ctl {
            barrier,
            guard: None,
            _not_send: PhantomData,
        }
    }

    /// Parks the workers now (idempotent within one command).
    pub fn ensure_barrier(&mut self) {
        if self.guard.is_none() {
            self.guard = Some(self.barrier.sync());
        }
    }

    /// Releases the workers early (the command goes on without writing).
    pub fn release(&mut self) {
        self.guard = None;
    }

    pub fn holds_barrier(&self) -> bool {
        self.guard.is_some()
    }
}

impl Drop for Ctl {
    fn drop(&mut self) {
        self.guard = None;
    }
}
