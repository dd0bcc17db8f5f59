//! The L2 FIB's control-plane timers: publishing what the threads learned, and aging.
//!
//! Both are process nodes (main thread) that only decide *when*; the table is changed by main
//! tasks (vnet's `Registry::main_task`), which the main loop runs right after the iteration
//! that signalled them, with a control context that can park the workers.
//!
//! - `l2fib-learn` (process): every [`LEARN_INTERVAL`], if a thread has queued learn events,
//!   signals the learn task, which drains every queue and applies the events with the workers
//!   parked (one barrier per interval at most, and none while nothing is learned; O(events):
//!   if they could make the FIB grow, the bigger table is made first, with the workers
//!   running). Events over a limit at that point count as "L2 not learned due to limit" on
//!   `l2-learn`. It also signals the sweep task, at most every [`SWEEP_INTERVAL`], when a
//!   flush, a port leaving or joining a BD or a deletion left stale entries (VPP's flushes
//!   send its scanner a one-pass event the same way).
//! - `l2fib-mac-age-scanner-process` (VPP's name): every scan interval (60 s; `set l2fib
//!   age-scan-interval` for tests), if some BD has a mac-age, signals the sweep task.
//! - The sweep task finds the old, stale and dead entries without stopping the workers, then
//!   removes them (rechecked) [`SWEEP_BATCH`] at a time, each batch under its own barrier. The
//!   time it took is `show l2fib`'s "Last scan time".
//!
//! Neither node has arcs or counters.

use crate::learn::{Learners, LEARN_INTERVAL};
use crate::state::{minute, Applied, L2State};
use pwire_graph::{Cx, Frame, Node, NodeKind, NodeReg, Shared};
use pwire_vnet::{CliCtx, Registry, Vnet};
use std::sync::Arc;

/// Name of the aging process node (the CLI wakes it when the settings change).
pub const AGE_NODE: &str = "l2fib-mac-age-scanner-process";

/// Entries the sweep removes under one barrier (about 100 µs of work).
pub const SWEEP_BATCH: usize = 1024;
/// Shortest time between two sweeps asked for by stale entries (each reads the whole table,
/// with the workers running; stale entries are misses meanwhile, so only memory waits).
pub const SWEEP_INTERVAL: f64 = 0.1;

struct LearnTimer {
    state: Arc<Shared<L2State>>,
    learners: Arc<Learners>,
    vnet: Arc<Vnet>,
    task: usize,
    sweep_task: usize,
    next_sweep: f64,
}

impl Node for LearnTimer {
    fn process(&mut self, _frame: &mut Frame<'_>, cx: &mut Cx<'_>) {
        if self.learners.pending() {
            self.vnet.signal_main_task(self.task);
        }
        let now = cx.now();
        let dp = cx.dp();
        if now >= self.next_sweep && self.state.dp(&dp).sweep_wanted() {
            self.vnet.signal_main_task(self.sweep_task);
            self.next_sweep = now + SWEEP_INTERVAL;
        }
        cx.wake_at(now + LEARN_INTERVAL);
    }
}

struct AgeTimer {
    state: Arc<Shared<L2State>>,
    vnet: Arc<Vnet>,
    task: usize,
}

impl Node for AgeTimer {
    fn process(&mut self, _frame: &mut Frame<'_>, cx: &mut Cx<'_>) {
        let dp = cx.dp();
        let st = self.state.dp(&dp);
        if st.aging() {
            self.vnet.signal_main_task(self.task);
        }
        cx.wake_at(cx.now() + st.age.scan_interval);
    }
}

/// Applies every queued learn event (main task).
fn publish(cx: &mut CliCtx, state: &Shared<L2State>, learners: &Learners, limit_code: u16) {
    let mut batch = Vec::new();
    let mut last = vec![None; learners.queues.len()];
    for (t, q) in learners.queues.iter().enumerate() {
        while let Some(ev) = q.pop() {
            last[t] = Some(ev.seq);
            batch.push(ev);
        }
    }
    if batch.is_empty() {
        return;
    }
    // Room for every event as a new entry, made before the barrier if the table must grow.
    let grown = state.get(&cx.ctl).grown_fib(batch.len());
    let st = state.write(&mut cx.ctl);
    let old = grown.map(|f| st.install_fib(f));
    let mut over = 0u64;
    for ev in &batch {
        if st.apply(ev) == Applied::Limit {
            over += 1;
        }
    }
    for (t, s) in last.into_iter().enumerate() {
        if let Some(s) = s {
            st.applied[t] = s;
        }
    }
    if over > 0 {
        // The main thread owns thread 0's counters and is outside any dispatch here.
        cx.vnet.engine().threads[0].counters.add(limit_code, over);
    }
    cx.ctl.release();
    drop(old);
}

/// Removes old, stale and dead entries (main task): found with the workers running, removed
/// [`SWEEP_BATCH`] at a time, each batch under its own barrier.
fn sweep(cx: &mut CliCtx, state: &Shared<L2State>) {
    let t0 = std::time::Instant::now();
    let (keys, now, since, wanted) = {
        let st = state.get(&cx.ctl);
        let now = minute(cx.vnet.engine().now(), st.age.minute);
        (st.to_sweep(now), now, st.bump_count(), st.sweep_wanted())
    };
    for batch in keys.chunks(SWEEP_BATCH) {
        state.write(&mut cx.ctl).remove_swept(batch, now);
        cx.ctl.release();
    }
    if wanted {
        state.write(&mut cx.ctl).swept_since(since);
        cx.ctl.release();
    }
    state.get(&cx.ctl).set_last_scan(t0.elapsed().as_secs_f64());
}

pub(crate) fn register(r: &mut Registry, state: Arc<Shared<L2State>>, learners: Arc<Learners>) {
    let (s, l) = (state.clone(), learners.clone());
    let publish_task = r.main_task(move |cx| {
        let code = cx
            .vnet
            .statics()
            .graph
            .error_code("l2-learn", "L2 not learned due to limit")
            .unwrap_or(u16::MAX);
        publish(cx, &s, &l, code);
    });
    let s = state.clone();
    let sweep_task = r.main_task(move |cx| sweep(cx, &s));
    let vnet = r.vnet.clone();
    let s = state.clone();
    r.graph.node(NodeReg::new(
        "l2fib-learn",
        NodeKind::Process,
        &[],
        &[],
        move |_| {
            Box::new(LearnTimer {
                state: s.clone(),
                learners: learners.clone(),
                vnet: vnet.clone(),
                task: publish_task,
                sweep_task,
                next_sweep: 0.0,
            })
        },
    ));
    let vnet = r.vnet.clone();
    r.graph.node(NodeReg::new(
        AGE_NODE,
        NodeKind::Process,
        &[],
        &[],
        move |_| {
            Box::new(AgeTimer {
                state: state.clone(),
                vnet: vnet.clone(),
                task: sweep_task,
            })
        },
    ));
}
