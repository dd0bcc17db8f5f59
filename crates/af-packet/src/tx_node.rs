//! `af-packet-tx`: the device tx node of host interfaces (reached from `interface-output`).
//!
//! Every packet is copied into this thread's own TX ring of its `sw_if_index[TX]` interface
//! (see `dev.rs`: one socket and ring per thread and interface, so no lock), and every buffer
//! is freed. Each ring touched by the frame is flushed once at the end of the frame, with one
//! `send()`.
//!
//! Arcs: none (consumes every buffer).
//! Counters: "tx frame not ready" (the ring is full: the kernel still owns the next frame, as
//! VPP names it), "tx frame too long" (longer than the host MTU + 14, or than a ring frame),
//! "tx sendto temporary failure" (EAGAIN/ENOBUFS: frames stay queued and are sent by a later
//! flush), "tx sendto failure" (hard error such as ENETDOWN: the queued frames are dropped),
//! "tx interface is not a host interface". Dropped frames also count as the interface's
//! `tx-error`.

use std::fmt;
use std::sync::Arc;

use pwire_buffer::BufferIndex;
use pwire_graph::{
    counters, Cx, Frame, Node, NodeKind, NodeReg, Shared, FRAME_SIZE, NEXT_CONSUMED,
};
use pwire_vnet::{ifc, Registry, Vnet};

use crate::dev::{AfpState, HostDev};

counters! { pub enum C {
    NotReady: error = "tx frame not ready",
    TooLong: error = "tx frame too long",
    SendAgain: warn = "tx sendto temporary failure",
    SendFail: error = "tx sendto failure",
    NotHost: error = "tx interface is not a host interface",
} }

/// Most distinct interfaces one frame flushes at its end; more are flushed as they go.
const MAX_TOUCHED: usize = 8;

/// VPP's `af_packet: hw_if_index N tx-queue Q` (our queue is the thread's own).
#[derive(Clone, Copy)]
struct TxTrace {
    hw_if_index: u32,
    queue: u16,
    len: u16,
}

impl fmt::Display for TxTrace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "af_packet: hw_if_index {} tx-queue {} len {}",
            self.hw_if_index, self.queue, self.len
        )
    }
}

/// The node instance of one thread.
pub struct AfpTx {
    st: Arc<Shared<AfpState>>,
    vnet: Arc<Vnet>,
    free: Box<[BufferIndex; FRAME_SIZE]>,
}

impl fmt::Debug for AfpTx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AfpTx")
    }
}

pub(crate) fn register(r: &mut Registry, st: Arc<Shared<AfpState>>) {
    let vnet = r.vnet.clone();
    r.graph.node(NodeReg::new(
        "af-packet-tx",
        NodeKind::Internal,
        &[],
        C::DECLS,
        move |_b| {
            Box::new(AfpTx {
                st: st.clone(),
                vnet: vnet.clone(),
                free: Box::new([0; FRAME_SIZE]),
            })
        },
    ));
}

/// Per-frame counts.
#[derive(Debug, Default)]
struct Tally {
    not_ready: u64,
    too_long: u64,
    again: u64,
    fail: u64,
    not_host: u64,
}

/// Flushes this thread's TX queue of `dev`; counts failures.
fn flush(dev: &HostDev, thread: usize, t: &mut Tally, cx: &Cx<'_>, vnet: &Vnet) {
    let Some(cell) = dev.tx.get(thread) else {
        return;
    };
    // SAFETY: `tx[thread]` belongs to this thread, which is dispatching (dev.rs); no other
    // reference from this cell is alive.
    let q = unsafe { cell.get_mut() };
    let queued = q.pending();
    match q.flush() {
        Ok(()) if q.pending() > 0 => t.again += 1,
        Ok(()) => {}
        Err(_) => {
            t.fail += u64::from(queued);
            let dp = cx.dp();
            if let Some(r) = vnet.state.dp(&dp).row(thread, dev.sw_if_index) {
                r.add(ifc::TX_ERROR, u64::from(queued));
            }
        }
    }
}

impl Node for AfpTx {
    fn process(&mut self, frame: &mut Frame<'_>, cx: &mut Cx<'_>) {
        let dp = cx.dp();
        let st = self.st.dp(&dp);
        let vs = self.vnet.state.dp(&dp);
        let thread = cx.thread();
        let queue = u16::try_from(thread).unwrap_or(u16::MAX);
        let mut t = Tally::default();
        let mut touched = [0usize; MAX_TOUCHED];
        let mut n_touched = 0;
        let mut last_sw = u32::MAX;
        let mut cur: Option<&HostDev> = None;
        let mut errs = 0u64;
        let n = frame.len();
        for i in 0..n {
            let b = frame.buf(i);
            let sw = b.tx();
            if sw != last_sw {
                if errs > 0 {
                    if let Some(r) = vs.row(thread, last_sw) {
                        r.add(ifc::TX_ERROR, errs);
                    }
                    errs = 0;
                }
                last_sw = sw;
                let slot = vs.get(sw).map(|i| i.dev_instance as usize);
                cur = slot
                    .and_then(|k| st.devs.get(k))
                    .and_then(|d| d.as_deref())
                    .filter(|d| d.sw_if_index == sw);
                if let (Some(k), true) = (slot, cur.is_some()) {
                    if !touched[..n_touched].contains(&k) {
                        if n_touched == MAX_TOUCHED {
                            for &j in &touched[..n_touched] {
                                if let Some(dj) = st.devs.get(j).and_then(|x| x.as_deref()) {
                                    flush(dj, thread, &mut t, cx, &self.vnet);
                                }
                            }
                            n_touched = 0;
                        }
                        touched[n_touched] = k;
                        n_touched += 1;
                    }
                }
            }
            let Some(dev) = cur else {
                t.not_host += 1;
                errs += 1;
                continue;
            };
            let Some(cell) = dev.tx.get(thread) else {
                t.not_host += 1;
                errs += 1;
                continue;
            };
            // SAFETY: `tx[thread]` belongs to this thread, which is dispatching (dev.rs); the
            // reference dies at the end of this iteration.
            let q = unsafe { cell.get_mut() };
            let data = b.current();
            match q.slot() {
                None => {
                    t.not_ready += 1;
                    errs += 1;
                }
                Some(mut slot) => {
                    let len = data.len();
                    if len > slot.capacity() {
                        t.too_long += 1;
                        errs += 1;
                        continue;
                    }
                    slot.buf()[..len].copy_from_slice(data);
                    if slot.commit(len).is_err() {
                        t.too_long += 1;
                        errs += 1;
                        continue;
                    }
                    if b.is_traced() {
                        cx.trace(
                            b,
                            TxTrace {
                                hw_if_index: sw,
                                queue,
                                len: u16::try_from(len).unwrap_or(u16::MAX),
                            },
                        );
                    }
                }
            }
        }
        if errs > 0 {
            if let Some(r) = vs.row(thread, last_sw) {
                r.add(ifc::TX_ERROR, errs);
            }
        }
        for &k in &touched[..n_touched] {
            if let Some(d) = st.devs.get(k).and_then(|x| x.as_deref()) {
                flush(d, thread, &mut t, cx, &self.vnet);
            }
        }
        cx.count(C::NotReady, t.not_ready);
        cx.count(C::TooLong, t.too_long);
        cx.count(C::SendAgain, t.again);
        cx.count(C::SendFail, t.fail);
        cx.count(C::NotHost, t.not_host);
        frame.set_all(NEXT_CONSUMED);
        self.free[..n].copy_from_slice(frame.indices());
        // SAFETY: the frame's buffers, each once (frame invariant), all with next
        // NEXT_CONSUMED; not touched after this.
        unsafe { cx.free(&self.free[..n]) };
    }
}
