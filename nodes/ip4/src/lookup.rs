//! `ip4-lookup` (VPP's ip4_forward.h `ip4_lookup_inline`): longest-prefix match on the
//! destination (the [`crate::mtrie`]), the load-balance counters, and the next node from the
//! result.
//!
//! The trie gives the entry (whose `to:[pkts:bytes]` counter this node bumps, summed over runs
//! of packets hitting the same entry), the entry's packed forwarding gives the kind and the DPO
//! index, stored in `opaque.adj_index` for the next node: the adjacency for `ip4-rewrite` and
//! `ip4-arp` (an adjacency is `ip4-arp` until its neighbour resolves), the interface for
//! `ip4-receive` and `ip4-glean`. A one-entry cache skips the lookup for a packet to the
//! destination before it (a tunnel's peer, one flow). There is one table (VRF 0).
//!
//! Arcs (in `Kind` order): `ip4-drop`, `ip4-receive`, `ip4-glean`, `ip4-rewrite`, `ip4-arp`.
//! Counters: none of its own; a drop entry sets `ip4-input`'s "ip4 destination lookup miss".

use crate::errors::{base_of, Ip4Err};
use crate::state::{Ip4Dp, Kind};
use crate::trace::{FwdTrace, Ip4Bytes};
use crate::Ip4Main;
use pwire_graph::{next_nodes, Cx, Frame, Node, NodeKind, NodeReg, Shared};
use pwire_vnet::Registry;
use std::sync::Arc;

next_nodes! { pub enum Next {
    Drop => "ip4-drop",
    Receive => "ip4-receive",
    Glean => "ip4-glean",
    Rewrite => "ip4-rewrite",
    Arp => "ip4-arp",
} }

const _: () = assert!(Next::Drop as u8 == Kind::Drop as u8 && Next::Arp as u8 == Kind::Arp as u8);

/// The node.
#[derive(Debug)]
pub struct Ip4Lookup {
    dp: Arc<Shared<Ip4Dp>>,
    ip4_input_errors: u16,
}

pub(crate) fn register(r: &mut Registry, m: &Arc<Ip4Main>) {
    let dp = m.dp.clone();
    r.graph.node(NodeReg::new(
        "ip4-lookup",
        NodeKind::Internal,
        Next::NAMES,
        &[],
        move |b| {
            Box::new(Ip4Lookup {
                dp: dp.clone(),
                ip4_input_errors: base_of(b, "ip4-input"),
            })
        },
    ));
}

impl Node for Ip4Lookup {
    fn process(&mut self, frame: &mut Frame<'_>, cx: &mut Cx<'_>) {
        let dp = cx.dp();
        let st = self.dp.dp(&dp);
        let ctrs = st.counters.get(cx.thread());
        let e_miss = self.ip4_input_errors + Ip4Err::DstLookupMiss as u16;
        let e_short = self.ip4_input_errors + Ip4Err::TooShort as u16;
        // Runs of packets hitting one entry share one counter update.
        let mut run_e = u32::MAX;
        let (mut run_p, mut run_b) = (0u64, 0u64);
        // One-entry cache (per frame: the tables may change between frames).
        let mut last_dst = None;
        let mut last = (0, Kind::Drop, 0);
        for (b, nx) in frame.iter_mut() {
            let Some(h) = b.current().first_chunk::<20>() else {
                b.error = e_short;
                *nx = Next::Drop as u16;
                continue;
            };
            let dst = u32::from_be_bytes([h[16], h[17], h[18], h[19]]);
            if last_dst != Some(dst) {
                last = st.lookup(dst);
                last_dst = Some(dst);
            }
            let (e, kind, idx) = last;
            b.opaque.adj_index = idx;
            b.opaque.fib_index = 0;
            if e != run_e {
                if let Some(c) = ctrs.and_then(|t| t.get(run_e as usize)) {
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
            if b.is_traced() {
                cx.trace(
                    b,
                    FwdTrace {
                        dpo: e,
                        hdr: Ip4Bytes::of(b),
                    },
                );
            }
        }
        if let Some(c) = ctrs.and_then(|t| t.get(run_e as usize)) {
            c.add(run_p, run_b);
        }
    }
}
