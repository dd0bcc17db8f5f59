//! Per-thread runtime: node instances, frame scheduler, dispatch loop, worker threads.
//!
//! # Idle wait (interrupt rx-mode)
//!
//! A loop iteration that produced no packet is "idle". By default an idle thread spins a while
//! and then sleeps in growing steps (`worker_loop`), or for a fixed short time (the main
//! thread), and polls again: rx queues are looked at on every iteration (VPP's polling mode).
//!
//! For interrupt-driven rx queues (VPP's interrupt and adaptive modes, `af-packet-input` by
//! default) every thread owns an epoll set, [`IdleWait`] in its [`ThreadShared`]. An input node
//! adds its queues' fds to the set of the thread that polls them ([`IdleWait::add_fd`]; the
//! node finds the set through `Engine::threads[cx.thread()]`), and on every iteration tells the
//! runtime what it needs:
//! - [`IdleWait::arm`]: "my fds are in the set; an idle wait may block on it",
//! - [`IdleWait::request_poll`]: "poll me again soon" (a polling-mode queue, leftover work).
//!
//! The flags are cleared at the start of each [`Runtime::run_once`]. When an iteration is idle,
//! armed and nobody asked for polling, [`Runtime::idle_wait`] blocks in `epoll_wait` instead of
//! sleeping (1 ms after activity, doubling per quiet wait up to [`INTERRUPT_WAIT`], so barrier
//! requests, stop flags and placement changes are still seen soon); otherwise it sleeps exactly
//! as before, so threads without interrupt-mode queues behave as they always did.
//!
//! The set is level-triggered and its tokens are the fds themselves. A pending socket error
//! (`EPOLLERR`, e.g. `ENETDOWN` after a link went down) is consumed with `SO_ERROR` here, so
//! that it cannot make every wait return at once; drivers learn about link changes by their
//! own means.

use crate::barrier::Barrier;
use crate::counters::{Counters, NodeStats};
use crate::node::{Cx, Frame, NodeKind, NEXT_CONSUMED};
use crate::registry::Graph;
use crate::trace::Tracer;
use crate::{rdtsc, Node, FRAME_SIZE};
use pwire_buffer::{BufferIndex, Pool, ThreadCache};
use std::collections::VecDeque;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const NONE: u32 = u32::MAX;

/// Frames and the pending queue of one thread.
#[derive(Debug)]
pub struct Sched {
    // Boxed on purpose: dispatch swaps a frame's box with the runtime's spare (two pointer
    // writes) instead of copying 1 KiB of indices.
    #[allow(clippy::vec_box)]
    bis: Vec<Box<[BufferIndex; FRAME_SIZE]>>,
    len: Vec<u16>,
    node: Vec<u32>,
    free: Vec<u32>,
    /// Per node: the frame still accepting packets for it, or NONE.
    open: Vec<u32>,
    pending: VecDeque<u32>,
}

impl Sched {
    fn new(n_nodes: usize) -> Self {
        let mut s = Sched {
            bis: Vec::new(),
            len: Vec::new(),
            node: Vec::new(),
            free: Vec::new(),
            open: vec![NONE; n_nodes],
            pending: VecDeque::with_capacity(1024),
        };
        for _ in 0..64 {
            let f = s.grow();
            s.free.push(f);
        }
        s
    }

    fn grow(&mut self) -> u32 {
        self.bis.push(Box::new([0; FRAME_SIZE]));
        self.len.push(0);
        self.node.push(NONE);
        (self.bis.len() - 1) as u32
    }

    fn alloc_frame(&mut self, node: u32) -> u32 {
        // Frames are recycled; a new one is made only when more are in flight than ever before.
        let f = self.free.pop().unwrap_or_else(|| self.grow());
        self.len[f as usize] = 0;
        self.node[f as usize] = node;
        f
    }

    /// `node`'s open frame, opened (and queued) if it has none.
    #[inline(always)]
    fn open_frame(&mut self, node: u32) -> usize {
        let mut f = self.open[node as usize];
        if f == NONE {
            f = self.alloc_frame(node);
            self.open[node as usize] = f;
            self.pending.push_back(f);
        }
        f as usize
    }

    /// Records that frame `fu` of `node` now holds `len` buffers; a full frame is closed.
    #[inline(always)]
    fn filled(&mut self, node: u32, fu: usize, len: usize) {
        self.len[fu] = len as u16;
        if len == FRAME_SIZE {
            self.open[node as usize] = NONE;
        }
    }

    /// Appends one buffer to `node`'s open frame.
    #[inline(always)]
    pub(crate) fn enqueue(&mut self, node: u32, bi: BufferIndex) {
        let fu = self.open_frame(node);
        let l = self.len[fu] as usize;
        self.bis[fu][l] = bi;
        self.filled(node, fu, l + 1);
    }

    /// Appends buffers to `node`'s open frames, a frame-sized copy at a time.
    #[inline]
    pub(crate) fn enqueue_slice(&mut self, node: u32, mut bis: &[BufferIndex]) {
        while !bis.is_empty() {
            let fu = self.open_frame(node);
            let l = self.len[fu] as usize;
            let k = bis.len().min(FRAME_SIZE - l);
            self.bis[fu][l..l + k].copy_from_slice(&bis[..k]);
            self.filled(node, fu, l + k);
            bis = &bis[k..];
        }
    }

    /// Buffers waiting in frames (used to drain at exit).
    pub fn pending_buffers(&self) -> Vec<BufferIndex> {
        let mut v = Vec::new();
        for &f in &self.pending {
            v.extend_from_slice(&self.bis[f as usize][..self.len[f as usize] as usize]);
        }
        v
    }
}

/// Longest single blocking wait of an idle thread whose rx queues are all interrupt-driven. It
/// bounds how late a worker notices a barrier request or a stop flag (neither can wake the
/// epoll set). Waits start at [`INTERRUPT_WAIT_MIN`] and double while nothing arrives, so an
/// idle thread wakes about 100 times a second (a wake-up that finds nothing costs tens of
/// microseconds in a VM) while a barrier shortly after traffic is still reached within 1 ms.
pub const INTERRUPT_WAIT: Duration = Duration::from_millis(10);
/// First blocking wait after activity (see [`INTERRUPT_WAIT`]).
pub const INTERRUPT_WAIT_MIN: Duration = Duration::from_millis(1);

/// One thread's epoll set and per-iteration wait flags (see the module docs).
#[derive(Debug)]
pub struct IdleWait {
    /// `None` if `epoll_create1` failed: idle waits are then plain sleeps.
    epoll: Option<OwnedFd>,
    /// Some input node needs polling this iteration.
    poll: AtomicBool,
    /// Some input node's fds are in the set and it may be waited on.
    armed: AtomicBool,
    /// Blocking waits that ended because an fd became ready (diagnostics, tests).
    pub fd_wakeups: AtomicU64,
    /// Blocking waits that ended by timeout.
    pub timeouts: AtomicU64,
    /// Consecutive waits that timed out with no packet in between: each one waits twice as
    /// long as the one before (see [`INTERRUPT_WAIT`]).
    streak: AtomicU32,
}

impl Default for IdleWait {
    fn default() -> Self {
        Self::new()
    }
}

impl IdleWait {
    pub fn new() -> Self {
        // SAFETY: plain syscall with an integer flag.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        // SAFETY: a non-negative `fd` was just returned by epoll_create1 and nobody else owns it.
        let epoll = (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd) });
        IdleWait {
            epoll,
            poll: AtomicBool::new(false),
            armed: AtomicBool::new(false),
            fd_wakeups: AtomicU64::new(0),
            timeouts: AtomicU64::new(0),
            streak: AtomicU32::new(0),
        }
    }

    /// The epoll fd, if there is one.
    pub fn epoll_fd(&self) -> Option<RawFd> {
        self.epoll.as_ref().map(|e| e.as_raw_fd())
    }

    fn ctl(&self, op: libc::c_int, fd: RawFd) -> std::io::Result<()> {
        let ep = self
            .epoll_fd()
            .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::Unsupported))?;
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN.cast_unsigned(),
            u64: u64::try_from(fd).unwrap_or(u64::MAX),
        };
        // SAFETY: `ev` is a valid epoll_event for the duration of the call; the kernel copies it.
        if unsafe { libc::epoll_ctl(ep, op, fd, &mut ev) } < 0 {
            Err(std::io::Error::last_os_error())
        } else {
            Ok(())
        }
    }

    /// Watches `fd` for input (level-triggered). Any thread may call it; an fd that is already
    /// in the set is not an error. Closing the fd removes it from the set.
    pub fn add_fd(&self, fd: RawFd) -> std::io::Result<()> {
        match self.ctl(libc::EPOLL_CTL_ADD, fd) {
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => Ok(()),
            r => r,
        }
    }

    /// Stops watching `fd` (not an error if it was not watched).
    pub fn remove_fd(&self, fd: RawFd) -> std::io::Result<()> {
        match self.ctl(libc::EPOLL_CTL_DEL, fd) {
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(()),
            r => r,
        }
    }

    /// Input nodes, during an iteration: poll me again without a long sleep.
    #[inline(always)]
    pub fn request_poll(&self) {
        self.poll.store(true, Ordering::Relaxed);
    }

    /// Input nodes, during an iteration: my fds are in the set; an idle wait may block on it.
    #[inline(always)]
    pub fn arm(&self) {
        if self.epoll.is_some() {
            self.armed.store(true, Ordering::Relaxed);
        }
    }

    /// The last iteration allows a blocking wait on the set.
    #[inline(always)]
    pub fn can_block(&self) -> bool {
        self.armed.load(Ordering::Relaxed) && !self.poll.load(Ordering::Relaxed)
    }

    #[inline(always)]
    fn begin_iteration(&self) {
        self.poll.store(false, Ordering::Relaxed);
        self.armed.store(false, Ordering::Relaxed);
    }

    /// The thread did work: the next blocking wait starts short again.
    #[inline(always)]
    pub fn note_activity(&self) {
        if self.streak.load(Ordering::Relaxed) != 0 {
            self.streak.store(0, Ordering::Relaxed);
        }
    }

    /// Blocks until an fd in the set is ready or the wait times out: [`INTERRUPT_WAIT_MIN`]
    /// doubled per consecutive timeout, at most `max` (rounded up to whole ms, as epoll
    /// counts). Returns the number of ready fds.
    pub fn wait(&self, max: Duration) -> usize {
        let streak = self.streak.load(Ordering::Relaxed);
        let timeout = INTERRUPT_WAIT_MIN
            .saturating_mul(1u32 << streak.min(16))
            .min(max);
        let Some(ep) = self.epoll_fd() else {
            std::thread::sleep(timeout);
            return 0;
        };
        let ms = timeout.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
        let mut evs = [libc::epoll_event { events: 0, u64: 0 }; 16];
        // SAFETY: `evs` has room for 16 events and outlives the call.
        let n = unsafe { libc::epoll_wait(ep, evs.as_mut_ptr(), 16, ms) };
        let n = usize::try_from(n).unwrap_or(0).min(evs.len());
        for e in &evs[..n] {
            // Copy out of the (packed on x86-64) struct before use.
            let (events, token) = (e.events, e.u64);
            if events & libc::EPOLLERR.cast_unsigned() != 0 {
                if let Ok(fd) = RawFd::try_from(token) {
                    let mut err: libc::c_int = 0;
                    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
                    // SAFETY: `err`/`len` are a valid out buffer and its size; on a non-socket
                    // fd the call fails harmlessly.
                    unsafe {
                        libc::getsockopt(
                            fd,
                            libc::SOL_SOCKET,
                            libc::SO_ERROR,
                            (&mut err as *mut libc::c_int).cast(),
                            &mut len,
                        )
                    };
                }
            }
        }
        let c = if n > 0 {
            self.streak.store(0, Ordering::Relaxed);
            &self.fd_wakeups
        } else {
            self.streak
                .store(streak.saturating_add(1), Ordering::Relaxed);
            &self.timeouts
        };
        c.store(c.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        n
    }
}

/// Per-thread data the main thread reads (counters, node statistics, loop count). Aligned so
/// that two threads' records (written every loop) never share a cache line.
#[derive(Debug)]
#[repr(align(128))]
pub struct ThreadShared {
    pub index: usize,
    pub name: String,
    pub counters: Counters,
    pub stats: Box<[NodeStats]>,
    pub loops: AtomicU64,
    /// The CPU this thread is placed on (`cpu { }`), if any.
    pub cpu: Option<usize>,
    /// Whether pinning to `cpu` worked ([`Pin`] as a byte, see [`ThreadShared::pin`]).
    pin: AtomicU8,
    pub lwp: AtomicU64,
    /// Set by the main thread to make process node `i` run at the next loop.
    pub signals: Box<[AtomicBool]>,
    /// This thread's epoll set for interrupt-driven input nodes (see the module docs).
    pub idle: IdleWait,
}

impl ThreadShared {
    pub fn new(index: usize, name: String, graph: &Graph, cpu: Option<usize>) -> Self {
        ThreadShared {
            index,
            name,
            counters: Counters::new(graph.n_counters()),
            stats: (0..graph.nodes.len())
                .map(|_| NodeStats::default())
                .collect(),
            loops: AtomicU64::new(0),
            cpu,
            pin: AtomicU8::new(Pin::NotAsked as u8),
            lwp: AtomicU64::new(0),
            signals: (0..graph.nodes.len())
                .map(|_| AtomicBool::new(false))
                .collect(),
            idle: IdleWait::new(),
        }
    }

    /// Pins the calling thread to this thread's `cpu` (nothing when it has none) and records
    /// the outcome for `show threads`; a failure is returned for the caller to report.
    pub fn pin_current(&self) -> std::io::Result<()> {
        let Some(c) = self.cpu else {
            return Ok(());
        };
        let r = pin_current_thread(c);
        self.set_pin(r.is_ok());
        r
    }

    /// Records the outcome of pinning this thread (for a thread pinned before this record
    /// existed, as the main thread is).
    pub fn set_pin(&self, ok: bool) {
        let p = if ok { Pin::Pinned } else { Pin::Failed };
        self.pin.store(p as u8, Ordering::Relaxed);
    }

    /// Whether this thread was pinned to its CPU.
    pub fn pin(&self) -> Pin {
        match self.pin.load(Ordering::Relaxed) {
            x if x == Pin::Pinned as u8 => Pin::Pinned,
            x if x == Pin::Failed as u8 => Pin::Failed,
            _ => Pin::NotAsked,
        }
    }
}

/// Outcome of pinning a thread to its CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Pin {
    /// No CPU was chosen for the thread, or it has not been pinned yet.
    NotAsked,
    Pinned,
    /// The OS refused (CPU offline or outside this process's cpuset): the thread runs wherever
    /// the scheduler puts it.
    Failed,
}

/// Pins the calling thread to `cpu` (VPP pins every thread to its lcore).
pub fn pin_current_thread(cpu: usize) -> std::io::Result<()> {
    // `cpu_set_t` holds CPU_SETSIZE CPUs; core_affinity would index past it.
    if cpu >= libc::CPU_SETSIZE as usize {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!(
                "CPU {cpu} is beyond the {} a CPU set holds",
                libc::CPU_SETSIZE
            ),
        ));
    }
    if core_affinity::set_for_current(core_affinity::CoreId { id: cpu }) {
        Ok(())
    } else {
        // core_affinity only says no: the reason is sched_setaffinity's errno, still set.
        Err(std::io::Error::last_os_error())
    }
}

/// One thread's graph instance and dispatch loop.
pub struct Runtime {
    pub thread: usize,
    graph: Arc<Graph>,
    nodes: Vec<Option<Box<dyn Node>>>,
    inputs: Vec<u32>,
    processes: Vec<u32>,
    wake: Vec<f64>,
    sched: Sched,
    spare: Box<[BufferIndex; FRAME_SIZE]>,
    nexts: Box<[u16; FRAME_SIZE]>,
    /// The pool `cache` draws from, kept apart from it so that a dispatch lends the frame a
    /// plain borrow of the pool while the node's `Cx` holds the cache mutably (no reference
    /// count is touched per dispatch: that count is shared by every thread).
    pool: Arc<Pool>,
    cache: ThreadCache,
    shared: Arc<ThreadShared>,
    tracer: Arc<Tracer>,
    epoch: Instant,
    last_tsc: u64,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("thread", &self.thread)
            .finish()
    }
}

impl Runtime {
    /// Instantiates every node for `thread` (process nodes only on thread 0).
    pub fn new(
        graph: Arc<Graph>,
        pool: Arc<Pool>,
        shared: Arc<ThreadShared>,
        tracer: Arc<Tracer>,
        epoch: Instant,
    ) -> Self {
        let thread = shared.index;
        let mut nodes = Vec::with_capacity(graph.nodes.len());
        let mut inputs = Vec::new();
        let mut processes = Vec::new();
        for (i, n) in graph.nodes.iter().enumerate() {
            if n.kind == NodeKind::Process && thread != 0 {
                nodes.push(None);
                continue;
            }
            nodes.push(Some(graph.instantiate(i, thread)));
            match n.kind {
                NodeKind::Input => inputs.push(i as u32),
                NodeKind::Process => processes.push(i as u32),
                NodeKind::Internal => {}
            }
        }
        let n_nodes = graph.nodes.len();
        let tsc0 = rdtsc();
        Runtime {
            thread,
            wake: vec![0.0; n_nodes],
            sched: Sched::new(n_nodes),
            graph,
            nodes,
            inputs,
            processes,
            spare: Box::new([0; FRAME_SIZE]),
            nexts: Box::new([0; FRAME_SIZE]),
            cache: ThreadCache::new(pool.clone(), thread),
            pool,
            shared,
            tracer,
            epoch,
            last_tsc: tsc0,
        }
    }

    pub fn graph(&self) -> &Arc<Graph> {
        &self.graph
    }
    /// This thread's buffer cache.
    ///
    /// # Safety
    /// Buffers freed into it must be owned by the caller, in no frame, cache or ring, and not
    /// used afterwards (see [`Cx::free`]).
    pub unsafe fn cache(&mut self) -> &mut ThreadCache {
        &mut self.cache
    }

    /// Gives this thread's cached buffers back to the pool (shutdown, tests).
    pub fn drain_cache(&mut self) {
        self.cache.drain();
    }

    fn now(&self) -> f64 {
        self.epoch.elapsed().as_secs_f64()
    }

    /// This thread's epoll set for interrupt-driven input nodes (see the module docs).
    pub fn epoll_fd(&self) -> Option<RawFd> {
        self.shared.idle.epoll_fd()
    }

    /// The last iteration's input nodes allow a blocking wait on the epoll set.
    pub fn idle_can_block(&self) -> bool {
        self.shared.idle.can_block()
    }

    /// Work that is not packets (a CLI request served): the next idle wait starts short again.
    pub fn note_activity(&self) {
        self.shared.idle.note_activity();
    }

    /// Idle path after an iteration that produced nothing: blocks on the epoll set for up to
    /// `interrupt_wait` when [`Self::idle_can_block`], else sleeps `poll_sleep` (the behaviour
    /// from before interrupt mode existed). Returns true if an fd became ready.
    pub fn idle_wait(&self, poll_sleep: Duration, interrupt_wait: Duration) -> bool {
        if self.idle_can_block() {
            self.shared.idle.wait(interrupt_wait) > 0
        } else {
            if !poll_sleep.is_zero() {
                std::thread::sleep(poll_sleep);
            }
            false
        }
    }

    /// One loop iteration: poll inputs, run due processes, drain pending frames. Returns the
    /// number of packets the input nodes produced and the earliest process wake-up.
    ///
    /// # Safety
    /// Nodes read [`crate::Shared`] state while it runs, so no reference made by
    /// [`crate::Shared::write`] may be alive on this thread meanwhile. A worker never has one
    /// (a [`crate::Ctl`] is made on the main thread only and is not `Send`); the main thread
    /// calls it with no `Ctl` borrowed (a command holding a write reference must not run the
    /// main runtime beside it). Hence safe code cannot do it:
    ///
    /// ```compile_fail,E0133
    /// fn beside_a_write(rt: &mut pwire_graph::Runtime, s: &pwire_graph::Shared<u32>, c: &mut pwire_graph::Ctl) {
    ///     let w = s.write(c);
    ///     rt.run_once(); // nodes would read `*w` through their `Dp` while it is written
    ///     *w += 1;
    /// }
    /// ```
    pub unsafe fn run_once(&mut self) -> (u64, Option<f64>) {
        self.shared.loops.store(
            self.shared.loops.load(Ordering::Relaxed) + 1,
            Ordering::Relaxed,
        );
        self.shared.idle.begin_iteration();
        let now = self.now();
        self.last_tsc = rdtsc();
        let mut produced = 0u64;
        for k in 0..self.inputs.len() {
            let n = self.inputs[k];
            produced += self.dispatch(n, None, now) as u64;
        }
        let mut next_wake: Option<f64> = None;
        for k in 0..self.processes.len() {
            let n = self.processes[k] as usize;
            let signalled = self.shared.signals[n].swap(false, Ordering::AcqRel);
            if signalled || self.wake[n] <= now {
                self.wake[n] = f64::INFINITY;
                self.dispatch(n as u32, None, now);
            }
            let w = self.wake[n];
            if w.is_finite() {
                next_wake = Some(next_wake.map_or(w, |x: f64| x.min(w)));
            }
        }
        self.drain_pending(now);
        if produced > 0 {
            self.shared.idle.note_activity();
        }
        (produced, next_wake)
    }

    /// Runs pending frames until none are left.
    ///
    /// # Safety
    /// As [`Runtime::run_once`].
    pub unsafe fn drain(&mut self, now: f64) {
        self.drain_pending(now);
    }

    fn drain_pending(&mut self, now: f64) {
        while let Some(f) = self.sched.pending.pop_front() {
            let node = self.sched.node[f as usize];
            self.dispatch(node, Some(f), now);
        }
    }

    /// Puts buffers into `node`'s input as if an upstream node had sent them (tests, injection).
    ///
    /// One index twice would sit in two slots of one frame:
    ///
    /// ```compile_fail,E0133
    /// fn twice(rt: &mut pwire_graph::Runtime) {
    ///     rt.inject(0, &[7, 7]);
    /// }
    /// ```
    ///
    /// # Safety
    /// The caller owns every index and gives it up (as [`Cx::enqueue_slice`]): each was
    /// allocated from this runtime's cache (or is otherwise in no frame, cache or ring), appears
    /// once in `bis`, and is not used afterwards.
    pub unsafe fn inject(&mut self, node: usize, bis: &[BufferIndex]) {
        for &bi in bis {
            self.sched.enqueue(node as u32, bi);
        }
    }

    /// Makes one packet on this thread and hands it to `node` (control-plane originated
    /// traffic: ND announcements, ping). `build` fills the fresh buffer and returns whether it
    /// should be sent; when it declines, or no buffer is free, nothing is sent and false is
    /// returned.
    pub fn send(
        &mut self,
        node: usize,
        build: impl FnOnce(&mut pwire_buffer::Buffer) -> bool,
    ) -> bool {
        let mut one = [0; 1];
        if self.cache.alloc(&mut one) == 0 {
            return false;
        }
        // SAFETY: `one[0]` just left this thread's cache: it is in no frame and no ring, and the
        // reference ends before the index is enqueued or freed below.
        let ok = build(unsafe { self.pool.get_mut(one[0]) });
        if ok {
            // SAFETY: `one[0]` came from the cache above and the build's reference has ended.
            unsafe { self.inject(node, &one) };
        } else {
            // SAFETY: allocated above, in no frame, and `build`'s reference has ended.
            unsafe { self.cache.free(&one) };
        }
        ok
    }

    fn dispatch(&mut self, node: u32, frame: Option<u32>, now: f64) -> u32 {
        let nu = node as usize;
        let Some(inst) = self.nodes[nu].as_mut() else {
            // A process node's frame on a worker cannot happen: process nodes only enqueue on
            // the main thread. Drop defensively.
            if let Some(f) = frame {
                let l = self.sched.len[f as usize] as usize;
                let v: Vec<_> = self.sched.bis[f as usize][..l].to_vec();
                // SAFETY: the frame's buffers are owned by the frame, which is released
                // below without being dispatched.
                unsafe { self.cache.free(&v) };
                self.sched.free.push(f);
            }
            return 0;
        };
        let n = match frame {
            Some(f) => {
                let fu = f as usize;
                if self.sched.open[nu] == f {
                    self.sched.open[nu] = NONE;
                }
                std::mem::swap(&mut self.sched.bis[fu], &mut self.spare);
                self.sched.len[fu] as usize
            }
            None => 0,
        };
        let info = &self.graph.nodes[nu];
        let targets: &[u32] = &info.next_targets;
        let mut wake = None;
        let mut produced = 0u32;
        {
            let mut fr = Frame::new(&self.pool, &self.spare[..n], &mut self.nexts[..n]);
            let mut cx = Cx {
                thread: self.thread,
                node,
                error_base: info.error_base,
                next_targets: targets,
                sched: &mut self.sched,
                cache: &mut self.cache,
                counters: &self.shared.counters,
                stats: &self.shared.stats,
                tracer: &self.tracer,
                now_tsc: self.last_tsc,
                now,
                wake: &mut wake,
                produced: &mut produced,
            };
            inst.process(&mut fr, &mut cx);
        }
        if let Some(w) = wake {
            self.wake[nu] = w;
        }
        if let Some(f) = frame {
            let fu = f as usize;
            let nexts = &self.nexts[..n];
            let first = nexts[0];
            // Branch-free so that it vectorises: most frames go one way.
            let same = nexts.iter().fold(0u16, |a, &x| a | (x ^ first)) == 0;
            let mut moved = false;
            if same && first != NEXT_CONSUMED {
                let t = targets[first as usize];
                if self.sched.open[t as usize] == NONE {
                    // Home run: the whole frame moves, no index is copied.
                    std::mem::swap(&mut self.sched.bis[fu], &mut self.spare);
                    self.sched.node[fu] = t;
                    if n < FRAME_SIZE {
                        self.sched.open[t as usize] = f;
                    }
                    self.sched.pending.push_back(f);
                    moved = true;
                }
            }
            // A whole frame consumed (a tx node's): nothing to enqueue, no index to look at.
            let consumed = same && first == NEXT_CONSUMED;
            if !moved && !consumed {
                for (&nx, &bi) in nexts.iter().zip(self.spare.iter()) {
                    if nx != NEXT_CONSUMED {
                        self.sched.enqueue(targets[nx as usize], bi);
                    }
                }
            }
            if !moved {
                std::mem::swap(&mut self.sched.bis[fu], &mut self.spare);
                self.sched.free.push(f);
            }
        }
        let t1 = rdtsc();
        let vectors = if frame.is_some() {
            n as u64
        } else {
            produced as u64
        };
        let ran = frame.is_some() || produced > 0 || self.graph.nodes[nu].kind == NodeKind::Process;
        if ran {
            self.shared.stats[nu].record(vectors, t1.wrapping_sub(self.last_tsc));
        }
        self.last_tsc = t1;
        produced
    }

    /// Frees every buffer still sitting in a frame (shutdown, tests).
    pub fn discard_pending(&mut self) {
        let v = self.sched.pending_buffers();
        self.sched.pending.clear();
        for o in self.sched.open.iter_mut() {
            *o = NONE;
        }
        // SAFETY: the buffers of the frames just emptied, which owned them.
        unsafe { self.cache.free(&v) };
    }
}

/// Runs a worker thread's loop until `stop` is set: barrier check, one iteration, idle backoff.
pub fn worker_loop(rt: &mut Runtime, barrier: &Barrier, stop: &AtomicBool, max_sleep_us: u64) {
    // SAFETY: gettid has no preconditions.
    let tid = unsafe { libc::syscall(libc::SYS_gettid) }.cast_unsigned();
    rt.shared.lwp.store(tid, Ordering::Relaxed);
    let mut idle = 0u32;
    while !stop.load(Ordering::Relaxed) {
        if barrier.requested() {
            barrier.park();
            // Commands come in bursts: spin (not sleep) a while after one, so the next
            // command's barrier finds this worker awake instead of waiting out a sleep.
            idle = 0;
        }
        // SAFETY: a worker thread holds no `Ctl` (made on the main thread only, not `Send`),
        // so no `Shared::write` reference exists here; the main thread writes only while this
        // worker is parked above.
        let (n, _) = unsafe { rt.run_once() };
        if n == 0 {
            idle = idle.saturating_add(1);
            if rt.idle_can_block() {
                // Every rx queue of this thread is interrupt-driven: block on their fds at once.
                rt.idle_wait(Duration::ZERO, INTERRUPT_WAIT);
            } else if idle > 2048 {
                // Spin a while (keeps latency low under bursty traffic), then sleep in growing
                // steps so an idle worker does not burn its core.
                let us = ((idle - 2048) as u64).min(max_sleep_us.max(1));
                rt.idle_wait(Duration::from_micros(us), INTERRUPT_WAIT);
            }
        } else {
            idle = 0;
        }
    }
    rt.discard_pending();
    rt.cache.drain();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{NodeReg, Registry};
    use pwire_buffer::PoolConfig;
    use std::sync::atomic::AtomicUsize;

    fn pool(n: u32) -> Arc<Pool> {
        Pool::new(&PoolConfig {
            n_buffers: n,
            try_hugepages: false,
            n_threads: 1,
            ..PoolConfig::default()
        })
        .unwrap()
    }

    /// A runtime on thread 0 with the nodes `reg` makes.
    fn runtime(pool: &Arc<Pool>, reg: Registry) -> Runtime {
        let g = Arc::new(Graph::build(reg).unwrap());
        let sh = Arc::new(ThreadShared::new(0, "main".into(), &g, None));
        let tr = Arc::new(Tracer::new(1, g.nodes.len()));
        Runtime::new(g, pool.clone(), sh, tr, Instant::now())
    }

    /// Records the pool's reference count seen during its dispatch, then frees its packets.
    struct Sink {
        pool: Arc<Pool>,
        seen: Arc<AtomicUsize>,
    }
    impl crate::Node for Sink {
        fn process(&mut self, frame: &mut Frame<'_>, cx: &mut Cx<'_>) {
            self.seen
                .store(Arc::strong_count(&self.pool), Ordering::Relaxed);
            frame.set_all(NEXT_CONSUMED);
            // SAFETY: the frame's buffers, each once, all with next NEXT_CONSUMED.
            unsafe { cx.free(frame.indices()) };
        }
    }

    // Miri: the pool maps its region and trims it with a partial munmap, which Miri cannot
    // model (it reports the trim as a deallocation of the wrong size).
    #[test]
    #[cfg_attr(miri, ignore)]
    fn a_dispatch_does_not_touch_the_pools_reference_count() {
        let pool = pool(512);
        let seen = Arc::new(AtomicUsize::new(0));
        let mut reg = Registry::new();
        let (p, s) = (pool.clone(), seen.clone());
        reg.node(NodeReg::new(
            "sink",
            NodeKind::Internal,
            &[],
            &[],
            move |_| {
                Box::new(Sink {
                    pool: p.clone(),
                    seen: s.clone(),
                })
            },
        ));
        let mut rt = runtime(&pool, reg);
        assert!(rt.send(0, |_| true));
        let outside = Arc::strong_count(&pool);
        // SAFETY: no `Ctl` exists in this test.
        unsafe { rt.drain(0.0) };
        assert_eq!(seen.load(Ordering::Relaxed), outside);
        drop(rt);
        assert_eq!(pool.free_count(), 512, "the packet was freed");
    }

    // Miri cannot set CPU affinity (nor make the epoll set a thread record owns).
    #[test]
    #[cfg_attr(miri, ignore)]
    fn a_failed_pin_is_reported_and_recorded() {
        let g = Graph::build(Registry::new()).unwrap();
        // On a scratch thread: pinning the test's own thread would outlive the test.
        std::thread::spawn(move || {
            let rec = |cpu| ThreadShared::new(1, "vpp_wk_0".into(), &g, cpu);
            let none = rec(None);
            assert!(none.pin_current().is_ok());
            assert_eq!(none.pin(), Pin::NotAsked);
            // No machine this runs on has CPU 1023 (the last a CPU set holds).
            let bad = rec(Some(1023));
            let e = bad.pin_current().unwrap_err();
            assert_eq!(e.raw_os_error(), Some(libc::EINVAL), "{e}");
            assert_eq!(bad.pin(), Pin::Failed);
            let beyond = rec(Some(libc::CPU_SETSIZE as usize));
            assert_eq!(
                beyond.pin_current().unwrap_err().kind(),
                std::io::ErrorKind::InvalidInput
            );
            let here = core_affinity::get_core_ids().unwrap()[0].id;
            let good = rec(Some(here));
            good.pin_current().unwrap();
            assert_eq!(good.pin(), Pin::Pinned);
        })
        .join()
        .unwrap();
    }
}
