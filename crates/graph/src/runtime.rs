//! Per-thread runtime: node instances, frame scheduler, dispatch loop, worker threads.

use crate::barrier::Barrier;
use crate::counters::{Counters, NodeStats};
use crate::node::{Cx, Frame, NodeKind, NEXT_CONSUMED};
use crate::registry::Graph;
use crate::trace::Tracer;
use crate::{rdtsc, Node, FRAME_SIZE};
use pwire_buffer::{BufferIndex, Pool, ThreadCache};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

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

    /// Appends one buffer to `node`'s open frame.
    #[inline(always)]
    pub(crate) fn enqueue(&mut self, node: u32, bi: BufferIndex) {
        let mut f = self.open[node as usize];
        if f == NONE {
            f = self.alloc_frame(node);
            self.open[node as usize] = f;
            self.pending.push_back(f);
        }
        let fu = f as usize;
        let l = self.len[fu] as usize;
        self.bis[fu][l] = bi;
        self.len[fu] = (l + 1) as u16;
        if l + 1 == FRAME_SIZE {
            self.open[node as usize] = NONE;
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

/// Per-thread data the main thread reads (counters, node statistics, loop count).
#[derive(Debug)]
pub struct ThreadShared {
    pub index: usize,
    pub name: String,
    pub counters: Counters,
    pub stats: Box<[NodeStats]>,
    pub loops: AtomicU64,
    pub cpu: Option<usize>,
    pub lwp: AtomicU64,
    /// Set by the main thread to make process node `i` run at the next loop.
    pub signals: Box<[AtomicBool]>,
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
            lwp: AtomicU64::new(0),
            signals: (0..graph.nodes.len())
                .map(|_| AtomicBool::new(false))
                .collect(),
        }
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
            cache: ThreadCache::new(pool, thread),
            shared,
            tracer,
            epoch,
            last_tsc: tsc0,
        }
    }

    pub fn graph(&self) -> &Arc<Graph> {
        &self.graph
    }
    pub fn cache(&mut self) -> &mut ThreadCache {
        &mut self.cache
    }

    fn now(&self) -> f64 {
        self.epoch.elapsed().as_secs_f64()
    }

    /// One loop iteration: poll inputs, run due processes, drain pending frames. Returns the
    /// number of packets the input nodes produced and the earliest process wake-up.
    pub fn run_once(&mut self) -> (u64, Option<f64>) {
        self.shared.loops.store(
            self.shared.loops.load(Ordering::Relaxed) + 1,
            Ordering::Relaxed,
        );
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
        self.drain(now);
        (produced, next_wake)
    }

    /// Runs pending frames until none are left.
    pub fn drain(&mut self, now: f64) {
        while let Some(f) = self.sched.pending.pop_front() {
            let node = self.sched.node[f as usize];
            self.dispatch(node, Some(f), now);
        }
    }

    /// Puts buffers into `node`'s input as if an upstream node had sent them (tests, injection).
    pub fn inject(&mut self, node: usize, bis: &[BufferIndex]) {
        for &bi in bis {
            self.sched.enqueue(node as u32, bi);
        }
    }

    fn dispatch(&mut self, node: u32, frame: Option<u32>, now: f64) -> u32 {
        let nu = node as usize;
        let Some(inst) = self.nodes[nu].as_mut() else {
            // A process node's frame on a worker cannot happen: process nodes only enqueue on
            // the main thread. Drop defensively.
            if let Some(f) = frame {
                let l = self.sched.len[f as usize] as usize;
                let v: Vec<_> = self.sched.bis[f as usize][..l].to_vec();
                self.cache.free(&v);
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
            let pool = Arc::clone(self.cache.pool());
            let mut fr = Frame::new(&pool, &self.spare[..n], &mut self.nexts[..n]);
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
            let same = nexts.iter().all(|&x| x == first);
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
            if !moved {
                for (&nx, &bi) in nexts.iter().zip(self.spare.iter()) {
                    if nx != NEXT_CONSUMED {
                        self.sched.enqueue(targets[nx as usize], bi);
                    }
                }
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
        self.cache.free(&v);
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
        }
        let (n, _) = rt.run_once();
        if n == 0 {
            idle = idle.saturating_add(1);
            // Spin a while (keeps latency low under bursty traffic), then sleep in growing steps
            // so an idle worker does not burn its core.
            if idle > 2048 {
                let us = ((idle - 2048) as u64).min(max_sleep_us.max(1));
                std::thread::sleep(std::time::Duration::from_micros(us));
            }
        } else {
            idle = 0;
        }
    }
    rt.discard_pending();
    rt.cache.drain();
}
