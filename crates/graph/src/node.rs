//! The node contract: [`Node`], the [`Frame`] it gets and the [`Cx`] it works through.

use crate::counters::{Counters, NodeStats};
use crate::runtime::Sched;
use crate::shared::Dp;
use crate::trace::{TraceEntry, Tracer};
use pwire_buffer::{Buffer, BufferIndex, Pool, ThreadCache, View};

/// What kind of node this is (VPP's node types).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    /// Polled every loop iteration (drivers, pg).
    Input,
    /// Runs when a frame is pending for it.
    Internal,
    /// Control-plane task on the main thread, woken by time (ND, MAC aging, ping).
    Process,
}

/// A next index meaning "the node kept or freed this buffer itself" (tx nodes, drops).
pub const NEXT_CONSUMED: u16 = u16::MAX;

/// A graph node. One instance per thread; `process` is the one dynamic call per frame.
pub trait Node: Send {
    /// Handles a frame: set one next index per packet in `frame` (or [`NEXT_CONSUMED`]).
    /// Input and process nodes get an empty frame and produce packets with [`Cx::enqueue`].
    fn process(&mut self, frame: &mut Frame<'_>, cx: &mut Cx<'_>);
}

/// The packets of one dispatch and their next indices.
///
/// Invariant: a buffer index appears in at most one frame slot anywhere, and a buffer in a frame
/// is in no cache, free list or driver ring, so handing out one `&mut Buffer` per slot is
/// exclusive. The runtime keeps it when it moves frames; the ways a node can put an index into
/// a frame or the free list ([`Cx::enqueue`], [`Cx::enqueue_slice`], [`Cx::free`],
/// [`crate::Runtime::inject`]) are `unsafe`, with the ownership rule that keeps it written on
/// each.
///
/// So a node that sends one of its frame's buffers on twice, or frees one it also forwards,
/// does not compile without `unsafe`:
///
/// ```compile_fail,E0133
/// use pwire_graph::{Cx, Frame, Node};
/// struct Twice;
/// impl Node for Twice {
///     fn process(&mut self, frame: &mut Frame<'_>, cx: &mut Cx<'_>) {
///         let bi = frame.indices()[0];
///         frame.set_all(0); // the runtime forwards every packet to next 0 ...
///         cx.enqueue(0u16, bi); // ... and this would put `bi` in a second slot
///     }
/// }
/// ```
///
/// ```compile_fail,E0133
/// use pwire_graph::{Cx, Frame, Node};
/// struct FreeAndForward;
/// impl Node for FreeAndForward {
///     fn process(&mut self, frame: &mut Frame<'_>, cx: &mut Cx<'_>) {
///         frame.set_all(0);
///         let bis = frame.indices().to_vec();
///         cx.free(&bis); // forwarded and free: allocated again while still in use
///     }
/// }
/// ```
pub struct Frame<'a> {
    pool: &'a Pool,
    view: View<'a>,
    bis: &'a [BufferIndex],
    nexts: &'a mut [u16],
}

impl std::fmt::Debug for Frame<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Frame")
            .field("len", &self.bis.len())
            .finish()
    }
}

impl<'a> Frame<'a> {
    pub(crate) fn new(pool: &'a Pool, bis: &'a [BufferIndex], nexts: &'a mut [u16]) -> Self {
        debug_assert!(bis.len() <= crate::FRAME_SIZE && nexts.len() == bis.len());
        Frame {
            pool,
            view: pool.view(),
            bis,
            nexts,
        }
    }
    #[inline(always)]
    pub fn len(&self) -> usize {
        self.bis.len()
    }
    #[inline(always)]
    pub fn is_empty(&self) -> bool {
        self.bis.is_empty()
    }
    #[inline(always)]
    pub fn indices(&self) -> &[BufferIndex] {
        self.bis
    }
    #[inline(always)]
    pub fn pool(&self) -> &'a Pool {
        self.pool
    }
    /// Read-only view of packet `i`.
    #[inline(always)]
    pub fn buf(&self, i: usize) -> &Buffer {
        // SAFETY: frame invariant: `bis[i]` is held by this frame only, and the `&self` borrow
        // keeps `get_mut`/`iter_mut` from making a `&mut` to it while this reference lives.
        unsafe { self.pool.get(self.bis[i]) }
    }
    /// Packet `i` and its next slot.
    #[inline(always)]
    pub fn get_mut(&mut self, i: usize) -> (&mut Buffer, &mut u16) {
        // SAFETY: frame invariant: `bis[i]` is held by this frame only, and the `&mut self`
        // borrow prevents a second reference through this frame.
        let b = unsafe { self.view.get_mut(self.bis[i]) };
        (b, &mut self.nexts[i])
    }
    /// Sets every packet's next (speculative next; fix the exceptions afterwards).
    #[inline(always)]
    pub fn set_all(&mut self, next: u16) {
        self.nexts.fill(next);
    }
    /// Every packet with its next slot, once each.
    #[inline(always)]
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&mut Buffer, &mut u16)> + '_ {
        let view = self.view;
        self.bis
            .iter()
            .zip(self.nexts.iter_mut())
            .map(move |(&bi, nx)| {
                // SAFETY: frame invariant (each index once), and the iterator yields each slot once;
                // the pool outlives the frame.
                (unsafe { view.get_mut(bi) }, nx)
            })
    }
    /// Every packet with its index and next slot.
    #[inline(always)]
    pub fn iter_mut_bi(
        &mut self,
    ) -> impl Iterator<Item = (BufferIndex, &mut Buffer, &mut u16)> + '_ {
        let view = self.view;
        self.bis
            .iter()
            .zip(self.nexts.iter_mut())
            .map(move |(&bi, nx)| {
                // SAFETY: as in `iter_mut`.
                (bi, unsafe { view.get_mut(bi) }, nx)
            })
    }
    /// The pool's addressing, the indices and the next slots at once, for a node's tight
    /// per-packet loop. `View::get_mut` on each index once is exclusive (frame invariant).
    #[inline(always)]
    pub fn parts(&mut self) -> (View<'a>, &[BufferIndex], &mut [u16]) {
        (self.view, self.bis, self.nexts)
    }
    /// The next slots.
    #[inline(always)]
    pub fn nexts_mut(&mut self) -> &mut [u16] {
        self.nexts
    }
}

/// What a node sees of its thread while it runs.
pub struct Cx<'a> {
    pub(crate) thread: usize,
    pub(crate) node: u32,
    pub(crate) error_base: u16,
    pub(crate) next_targets: &'a [u32],
    pub(crate) sched: &'a mut Sched,
    pub(crate) cache: &'a mut ThreadCache,
    pub(crate) counters: &'a Counters,
    pub(crate) stats: &'a [NodeStats],
    pub(crate) tracer: &'a Tracer,
    pub(crate) now_tsc: u64,
    pub(crate) now: f64,
    pub(crate) wake: &'a mut Option<f64>,
    pub(crate) produced: &'a mut u32,
}

impl std::fmt::Debug for Cx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cx")
            .field("thread", &self.thread)
            .field("node", &self.node)
            .finish()
    }
}

impl<'a> Cx<'a> {
    /// The dataplane read token for [`crate::Shared`] state, valid for this dispatch (`'a`
    /// is the span of the borrows the runtime lent this `Cx`).
    #[inline(always)]
    pub fn dp(&self) -> Dp<'a> {
        // SAFETY: a `Cx<'a>` exists only inside a dispatch and `'a` ends with it; no
        // `Ctl::write` reference is alive during a dispatch (see shared.rs).
        unsafe { Dp::new() }
    }
    #[inline(always)]
    pub fn thread(&self) -> usize {
        self.thread
    }
    /// This node's index in the graph.
    #[inline(always)]
    pub fn node_index(&self) -> u32 {
        self.node
    }
    /// Seconds since the process started (monotonic).
    #[inline(always)]
    pub fn now(&self) -> f64 {
        self.now
    }
    #[inline(always)]
    pub fn now_tsc(&self) -> u64 {
        self.now_tsc
    }
    #[inline(always)]
    pub fn pool(&self) -> &Pool {
        self.cache.pool()
    }

    /// Adds to one of this node's counters (once per frame, not per packet).
    #[inline(always)]
    pub fn count(&self, c: impl Into<u16>, n: u64) {
        if n != 0 {
            self.counters.add(self.error_base + c.into(), n);
        }
    }
    /// The global error code for one of this node's counters (store it in `Buffer::error`).
    #[inline(always)]
    pub fn error(&self, c: impl Into<u16>) -> u16 {
        self.error_base + c.into()
    }
    /// Counts a global error code (used by `error-drop`).
    #[inline(always)]
    pub fn count_global(&self, code: u16, n: u64) {
        self.counters.add(code, n);
    }

    /// Appends a trace record for a traced buffer.
    #[inline]
    pub fn trace<T: Copy + std::fmt::Display + 'static>(&self, b: &Buffer, rec: T) {
        if b.is_traced() {
            self.tracer.record(
                self.thread,
                b.trace_handle,
                TraceEntry::new(self.now_tsc, self.node, rec),
            );
        }
    }
    /// Whether a buffer may be traced ([`crate::trace::Tracer::active`]): a node reads it once
    /// per frame and, when false, runs its per-packet loops without testing each buffer's
    /// `TRACED` flag (`clear trace` turns it off; a buffer marked before is then forwarded
    /// without further records).
    #[inline(always)]
    pub fn tracing(&self) -> bool {
        self.tracer.active()
    }
    /// Input nodes: how many more packets to mark as traced.
    #[inline(always)]
    pub fn trace_budget(&self) -> u32 {
        self.tracer.budget(self.thread, self.node as usize)
    }
    /// Input nodes: marks `b` traced (after checking `trace_budget`); returns false when the
    /// trace store is full.
    pub fn start_trace(&self, b: &mut Buffer) -> bool {
        match self.tracer.start(self.thread) {
            Some(h) => {
                b.flags |= pwire_buffer::flags::TRACED;
                b.trace_handle = h;
                self.tracer.consume(self.thread, self.node as usize, 1);
                true
            }
            None => false,
        }
    }

    /// Sends a buffer this node owns (allocated, or taken from elsewhere) to next `next`.
    ///
    /// # Safety
    /// The node owns `bi` and gives it up here (see [`Frame`]'s invariant): `bi` is a buffer
    /// it allocated from this thread's cache, or took from its own frame with that slot's next
    /// set to [`NEXT_CONSUMED`], and has not freed or enqueued since. It must not use `bi`
    /// afterwards. Enqueueing one index twice would put it in two frame slots, and
    /// [`Frame::iter_mut`] would then hand out two `&mut` to one buffer.
    #[inline(always)]
    pub unsafe fn enqueue(&mut self, next: impl Into<u16>, bi: BufferIndex) {
        let t = self.next_targets[next.into() as usize];
        self.sched.enqueue(t, bi);
        *self.produced += 1;
    }

    /// Sends buffers this node owns to next `next`, in order.
    ///
    /// # Safety
    /// As [`Cx::enqueue`] for every index, and no index appears twice in `bis`.
    #[inline(always)]
    pub unsafe fn enqueue_slice(&mut self, next: impl Into<u16>, bis: &[BufferIndex]) {
        let t = self.next_targets[next.into() as usize];
        self.sched.enqueue_slice(t, bis);
        *self.produced += bis.len() as u32;
    }

    /// Allocates buffers into `out` without resetting their metadata; returns how many it got.
    /// For input nodes that set every field themselves ([`pwire_buffer::Buffer::init`]), so the
    /// metadata line is written once.
    #[inline(always)]
    pub fn alloc_uninit(&mut self, out: &mut [BufferIndex]) -> usize {
        self.cache.alloc_uninit(out)
    }

    /// Allocates buffers into `out`; returns how many it got.
    #[inline(always)]
    pub fn alloc(&mut self, out: &mut [BufferIndex]) -> usize {
        self.cache.alloc(out)
    }
    /// This thread's buffer cache, for drivers whose device library allocates and frees
    /// buffers itself during a call the node makes (DPDK's mempool ops).
    ///
    /// # Safety
    /// Whatever is freed into the cache follows [`Cx::free`]'s contract.
    #[inline(always)]
    pub unsafe fn cache_mut(&mut self) -> &mut ThreadCache {
        self.cache
    }
    /// Frees buffers this node owns.
    ///
    /// # Safety
    /// As [`Cx::enqueue_slice`]: each index is owned by the node (allocated by it, or in its
    /// frame with next [`NEXT_CONSUMED`]), appears once, and is not used afterwards. A buffer
    /// freed while still in a frame, or freed twice, would be handed out again while in use.
    #[inline(always)]
    pub unsafe fn free(&mut self, bis: &[BufferIndex]) {
        // SAFETY: the caller's contract (above) is ThreadCache::free's.
        unsafe { self.cache.free(bis) }
    }
    /// Exclusive access to a buffer this node owns and that is in no frame (e.g. one it just
    /// allocated).
    ///
    /// # Safety
    /// `bi` must be owned by the caller and not be in the current frame or any other.
    #[inline(always)]
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn buf_mut(&self, bi: BufferIndex) -> &mut Buffer {
        // SAFETY: the caller's contract.
        unsafe { self.cache.pool().get_mut(bi) }
    }

    /// The first `len` bytes of the data area of a buffer this node owns and that is in no
    /// frame, addressed without loading its metadata (see [`Pool::data_mut`]).
    ///
    /// # Safety
    /// As [`Cx::buf_mut`]; and no `&mut Buffer` to `bi` may be alive while the slice is.
    #[inline(always)]
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn data_mut(&self, bi: BufferIndex, len: usize) -> &mut [u8] {
        // SAFETY: the caller's contract.
        unsafe { self.cache.pool().data_mut(bi, len) }
    }

    /// The pool's addressing by value, for an input node's per-packet loop.
    #[inline(always)]
    pub fn pool_view(&self) -> pwire_buffer::View<'_> {
        self.cache.pool().view()
    }

    /// Bytes of data a buffer holds (the pool's data size).
    #[inline(always)]
    pub fn data_size(&self) -> usize {
        self.cache.pool().data_size() as usize
    }

    /// Process nodes: run again at `t` (seconds, same clock as `now`).
    pub fn wake_at(&mut self, t: f64) {
        *self.wake = Some(match *self.wake {
            Some(w) if w < t => w,
            _ => t,
        });
    }

    /// Statistics of any node on this thread (used by tests and `show runtime`).
    pub fn node_stats(&self, node: usize) -> Option<&NodeStats> {
        self.stats.get(node)
    }
}
