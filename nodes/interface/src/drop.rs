//! `error-drop`: the end of every dropped packet (VPP's vlib/drop.c).
//!
//! Arcs: none (every buffer is freed). Counters: none of its own; it counts each packet under
//! the error code its buffer carries.

use pwire_buffer::BufferIndex;
use pwire_graph::{Cx, Frame, Node, NodeKind, NodeReg, Shared, NEXT_CONSUMED};
use pwire_vnet::{ifc, CaptureKind, Registry, Vnet, VnetState};
use std::fmt;
use std::sync::Arc;

/// `<node>: <reason>` as VPP's error-drop trace prints it.
#[derive(Clone, Copy)]
struct DropTrace {
    node: &'static str,
    reason: &'static str,
}

impl fmt::Display for DropTrace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.node, self.reason)
    }
}

/// The drop node.
#[allow(missing_debug_implementations)]
pub struct ErrorDrop {
    vnet: Arc<Vnet>,
    state: Arc<Shared<VnetState>>,
    names: Vec<(&'static str, &'static str)>,
    free: Box<[BufferIndex; pwire_graph::FRAME_SIZE]>,
}

pub(crate) fn register(r: &mut Registry) {
    let vnet = r.vnet.clone();
    r.graph.node(NodeReg::new(
        "error-drop",
        NodeKind::Internal,
        &[],
        &[],
        move |_b| Box::new(ErrorDrop::new(vnet.clone())),
    ));
}

impl ErrorDrop {
    pub fn new(vnet: Arc<Vnet>) -> Self {
        // Names are leaked once per node instance so trace records stay `Copy` and `'static`.
        let g = &vnet.statics().graph;
        let mut names = Vec::with_capacity(g.n_counters());
        for n in &g.nodes {
            let node: &'static str = Box::leak(n.name.clone().into_boxed_str());
            for c in &n.counters {
                names.push((node, c.name));
            }
        }
        ErrorDrop {
            state: vnet.state.clone(),
            vnet,
            names,
            free: Box::new([0; pwire_graph::FRAME_SIZE]),
        }
    }
}

impl Node for ErrorDrop {
    fn process(&mut self, frame: &mut Frame<'_>, cx: &mut Cx<'_>) {
        let dp = cx.dp();
        let st = self.state.dp(&dp);
        let pcap_on = self.vnet.pcap.enabled() & CaptureKind::Drop as u8 != 0;
        let n = frame.len();
        let mut run_code = u16::MAX;
        let mut run_len = 0u64;
        let mut run_sw = u32::MAX;
        let mut run_sw_len = 0u64;
        let thread = cx.thread();
        for i in 0..n {
            let (b, nx) = frame.get_mut(i);
            *nx = NEXT_CONSUMED;
            if b.error != run_code {
                if run_len > 0 {
                    cx.count_global(run_code, run_len);
                }
                run_code = b.error;
                run_len = 0;
            }
            run_len += 1;
            let sw = b.rx();
            if sw != run_sw {
                if run_sw_len > 0 {
                    if let Some(r) = st.row(thread, run_sw) {
                        r.add(ifc::DROPS, run_sw_len);
                    }
                }
                run_sw = sw;
                run_sw_len = 0;
            }
            run_sw_len += 1;
            if b.is_traced() || pcap_on {
                let (node, reason) = self
                    .names
                    .get(b.error as usize)
                    .copied()
                    .unwrap_or(("unknown", "unknown"));
                cx.trace(b, DropTrace { node, reason });
                if pcap_on {
                    self.vnet.pcap.capture(
                        CaptureKind::Drop,
                        sw,
                        cx.now(),
                        b.current(),
                        &[node, ": ", reason],
                    );
                }
            }
        }
        if run_len > 0 {
            cx.count_global(run_code, run_len);
        }
        if run_sw_len > 0 {
            if let Some(r) = st.row(thread, run_sw) {
                r.add(ifc::DROPS, run_sw_len);
            }
        }
        self.free[..n].copy_from_slice(frame.indices());
        // SAFETY: the frame's buffers, each once (frame invariant), every next set to
        // NEXT_CONSUMED above; nothing touches them after this.
        unsafe { cx.free(&self.free[..n]) };
    }
}
