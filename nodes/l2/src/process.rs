//! The L2 FIB's control-plane timers: publishing what the threads learned, and aging.
//!
//! Both are process nodes (main thread) that only decide *when*; the table is changed by main
//! tasks (vnet's `Registry::main_task`), which the main loop runs right after the iteration
//! that signalled them, with a control context that can park the workers.
//!
//! - `l2fib-learn` (process): every [`LEARN_INTERVAL`], if a thread has queued learn events,
//!   signals the learn task, which drains every queue and applies the events with the workers
//!   parked (one barrier per interval at most, and none while nothing is learned). Events over
//!   a limit at that point count as "L2 not learned due to limit" on `l2-learn`.
//! - `l2fib-mac-age-scanner-process` (VPP's name): every scan interval (60 s; `set l2fib
//!   age-scan-interval` for tests), if some BD has a mac-age, signals the age task, which finds
//!   the old entries without stopping the workers and removes them (rechecked) under the
//!   barrier. The time it took is `show l2fib`'s "Last scan time".
//!
//! Neither node has arcs or counters.

use crate::learn::{Learners, LEARN_INTERVAL};
use crate::state::{minute, Applied, L2State};
use pwire_graph::{Cx, Frame, Node, NodeKind, NodeReg, Shared};
use pwire_vnet::{CliCtx, Registry, Vnet};
use std::sync::Arc;

/// Name of the aging process node (the CLI wakes it when the settings change).
pub const AGE_NODE: &str = "l2fib-mac-age-scanner-process";

struct LearnTimer {
    learners: Arc<Learners>,
    vnet: Arc<Vnet>,
    task: usize,
}

impl Node for LearnTimer {
    fn process(&mut self, _frame: &mut Frame<'_>, cx: &mut Cx<'_>) {
        if self.learners.pending() {
            self.vnet.signal_main_task(self.task);
        }
        cx.wake_at(cx.now() + LEARN_INTERVAL);
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
        if st.bds.iter().any(|b| b.in_use && b.mac_age != 0) {
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
    let st = state.write(&mut cx.ctl);
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
}

/// Removes aged entries (main task).
fn age(cx: &mut CliCtx, state: &Shared<L2State>) {
    let t0 = std::time::Instant::now();
    let (keys, now) = {
        let st = state.get(&cx.ctl);
        let now = minute(cx.vnet.engine().now(), st.age.minute);
        (st.aged(now), now)
    };
    let dt_scan = t0.elapsed();
    if keys.is_empty() {
        state.get(&cx.ctl).set_last_scan(dt_scan.as_secs_f64());
        return;
    }
    let t1 = std::time::Instant::now();
    let st = state.write(&mut cx.ctl);
    st.remove_aged(&keys, now);
    st.set_last_scan((dt_scan + t1.elapsed()).as_secs_f64());
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
    let age_task = r.main_task(move |cx| age(cx, &s));
    let vnet = r.vnet.clone();
    r.graph.node(NodeReg::new(
        "l2fib-learn",
        NodeKind::Process,
        &[],
        &[],
        move |_| {
            Box::new(LearnTimer {
                learners: learners.clone(),
                vnet: vnet.clone(),
                task: publish_task,
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
                task: age_task,
            })
        },
    ));
}
