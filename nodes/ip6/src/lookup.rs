//! `ip6-lookup` (VPP's ip6_forward.h `ip6_lookup_inline`): longest-prefix match on the
//! destination, the load-balance counters, and the next node from the result.
//!
//! The FIB value gives the entry (whose `to:[pkts:bytes]` counter this node bumps, summed over
//! runs of packets hitting the same entry), the kind and the DPO index, stored in
//! `opaque.adj_index` for the next node: the adjacency for `ip6-rewrite` and
//! `ip6-discover-neighbor`, the interface for `ip6-receive` and `ip6-glean`. There is one table
//! (VRF 0); a TX sw_if_index set by an upstream node is not read as a FIB index.
//!
//! Arcs (in `Kind` order): `ip6-drop`, `ip6-receive`, `ip6-glean`, `ip6-rewrite`,
//! `ip6-discover-neighbor`. Counters: none of its own; a drop entry sets `ip6-input`'s
//! "ip6 destination lookup miss".

use crate::errors::{base_of, Ip6Err};
use crate::state::{Ip6State, Kind};
use crate::trace::{FwdTrace, Ip6Bytes};
use crate::Ip6Main;
use pwire_graph::{next_nodes, Cx, Frame, Node, NodeKind, NodeReg, Shared};
use pwire_vnet::Registry;
use pwire_wire::Ip6Hdr;
use std::sync::Arc;

next_nodes! { pub enum Next {
    Drop => "ip6-drop",
    Receive => "ip6-receive",
    Glean => "ip6-glean",
    Rewrite => "ip6-rewrite",
    Discover => "ip6-discover-neighbor",
} }

const _: () =
    assert!(Next::Drop as u8 == Kind::Drop as u8 && Next::Discover as u8 == Kind::Incomplete as u8);

/// The node.
#[derive(Debug)]
pub struct Ip6Lookup {
    state: Arc<Shared<Ip6State>>,
    ip6_input_errors: u16,
}

pub(crate) fn register(r: &mut Registry, m: &Arc<Ip6Main>) {
    let state = m.state.clone();
    r.graph.node(NodeReg::new(
        "ip6-lookup",
        NodeKind::Internal,
        Next::NAMES,
        &[],
        move |b| {
            Box::new(Ip6Lookup {
                state: state.clone(),
                ip6_input_errors: base_of(b, "ip6-input"),
            })
        },
    ));
}

impl Node for Ip6Lookup {
    fn process(&mut self, frame: &mut Frame<'_>, cx: &mut Cx<'_>) {
        // Each packet's trace flag is tested only while tracing is on.
        let tracing = cx.tracing();
        let dp = cx.dp();
        let st = self.state.dp(&dp);
        let ctrs = st
            .counters
            .get(cx.thread())
            .map(|v| v.as_slice())
            .unwrap_or_default();
        let e_miss = self.ip6_input_errors + Ip6Err::DstLookupMiss as u16;
        let e_short = self.ip6_input_errors + Ip6Err::TooShort as u16;
        // Runs of packets hitting one entry share one counter update.
        let mut run_e = u32::MAX;
        let (mut run_p, mut run_b) = (0u64, 0u64);
        // One-entry cache: a frame usually carries one flow (a tunnel's peer, one destination).
        let mut last_dst = None;
        let mut last = (0, Kind::Drop, 0);
        for (b, nx) in frame.iter_mut() {
            let Ok((h, _)) = Ip6Hdr::parse(b.current()) else {
                b.error = e_short;
                *nx = Next::Drop as u16;
                continue;
            };
            let dst = u128::from_be_bytes(h.dst);
            if last_dst != Some(dst) {
                last = st.lookup(dst);
                last_dst = Some(dst);
            }
            let (e, kind, idx) = last;
            b.opaque.adj_index = idx;
            b.opaque.fib_index = 0;
            if e != run_e {
                if let Some(c) = ctrs.get(run_e as usize) {
                    c.add(run_p, run_b);
                }
                (run_e, run_p, run_b) = (e, 0, 0);
            }
            run_p += 1;
            run_b += u64::from(b.current_length());
            if kind == Kind::Drop {
                b.error = e_miss;
            }
            *nx = kind as u16;
            if tracing && b.is_traced() {
                cx.trace(
                    b,
                    FwdTrace {
                        dpo: e,
                        hdr: Ip6Bytes::of(b),
                    },
                );
            }
        }
        if let Some(c) = ctrs.get(run_e as usize) {
            c.add(run_p, run_b);
        }
    }
}
