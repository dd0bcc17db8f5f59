//! Control-plane work the dataplane asks the main thread to do (VPP's RPC to the main thread).
//!
//! A crate registers a task at start-up ([`crate::Registry::main_task`]) and keeps its id. A
//! node that needs a change it may not make itself (a neighbour learned from an ND packet needs
//! a FIB entry, and FIB tables are written only by the main thread under the barrier) records
//! the request in its own state and calls [`MainTasks::signal`]: two atomic stores, no lock, no
//! allocation. The main loop (`Dataplane::run_once`, and `CliCtx::run_until` while a command
//! lets the dataplane run) then runs every signalled task with a fresh control context.

use crate::CliCtx;
use std::sync::atomic::{AtomicBool, Ordering};

/// A registered task.
pub type TaskFn = Box<dyn Fn(&mut CliCtx) + Send + Sync>;

/// Every registered task and its "please run" flag.
pub struct MainTasks {
    pending: AtomicBool,
    tasks: Vec<(TaskFn, AtomicBool)>,
}

impl std::fmt::Debug for MainTasks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MainTasks")
            .field("tasks", &self.tasks.len())
            .finish()
    }
}

impl MainTasks {
    pub fn new(tasks: Vec<TaskFn>) -> Self {
        MainTasks {
            pending: AtomicBool::new(false),
            tasks: tasks
                .into_iter()
                .map(|f| (f, AtomicBool::new(false)))
                .collect(),
        }
    }

    /// Asks the main thread to run task `id` soon (any thread; cheap).
    #[inline]
    pub fn signal(&self, id: usize) {
        if let Some((_, flag)) = self.tasks.get(id) {
            flag.store(true, Ordering::Release);
            self.pending.store(true, Ordering::Release);
        }
    }

    /// True when some task has been signalled and not run yet.
    #[inline]
    pub fn pending(&self) -> bool {
        self.pending.load(Ordering::Acquire)
    }

    /// Main thread: runs every signalled task once.
    pub fn run(&self, cx: &mut CliCtx) {
        if !self.pending.swap(false, Ordering::AcqRel) {
            return;
        }
        for (f, flag) in &self.tasks {
            if flag.swap(false, Ordering::AcqRel) {
                f(cx);
            }
        }
    }
}

/// Main thread: copies the link states a driver's rx owners reported, as
/// `(sw_if_index, link_up)`, into the interface table (a port's sub-interfaces follow it), and
/// runs the link hooks for each interface whose state changed. Device drivers call this from their
/// link task because only the main thread writes interface state; the table is taken for
/// writing only when some state really changed, so a spurious signal costs no write.
pub fn apply_link_states(cx: &mut CliCtx, reported: &[(u32, bool)]) {
    let changed = {
        let vs = cx.vnet.state.get(&cx.ctl);
        reported
            .iter()
            .any(|&(sw, up)| vs.get(sw).is_some_and(|i| i.link_up != up))
    };
    if !changed {
        return;
    }
    let mut changes = Vec::new();
    let vs = cx.vnet.state.write(&mut cx.ctl);
    for &(sw, up) in reported {
        if let Some(i) = vs.get_mut(sw) {
            if i.link_up != up {
                cx.vnet.log.notice(
                    crate::log::class::INTERFACE,
                    format_args!("{} link {}", i.name, if up { "up" } else { "down" }),
                );
                changes.push((sw, up));
            }
            i.link_up = up;
        }
    }
    // A port's sub-interfaces have its link (VPP: a sub-interface's link is its hardware's).
    let ports = changes.len();
    for k in 0..ports {
        let (sw, up) = changes[k];
        let kids = vs
            .get(sw)
            .and_then(|i| i.vlan.subs.as_ref())
            .map(|t| t.children().to_vec())
            .unwrap_or_default();
        for c in kids {
            if let Some(i) = vs.get_mut(c) {
                if i.link_up != up {
                    i.link_up = up;
                    changes.push((c, up));
                }
            }
        }
    }
    let vnet = cx.vnet.clone();
    for (sw, up) in changes {
        vnet.hooks.run_link_change(cx, sw, up);
    }
}
