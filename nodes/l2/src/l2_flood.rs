//! `l2-flood`: replicates a frame to the BD's members (VPP's l2_flood.c).
//!
//! Every member gets a copy except the ingress port and members in the ingress port's non-zero
//! split-horizon group. Members are walked from the end of the flood list, so the BVI (first in
//! the list) comes last and gets the original buffer (its L3 processing may rewrite it); every
//! other eligible member gets a copy made with `cx.alloc` + `Buffer::copy_from`. With no
//! eligible member the frame is dropped ("L2 replication complete").
//!
//! Arcs: `l2-output`, `error-drop`, plus one per L3 input node for the BVI (added by vnet).
//! Counters: "L2 flood packets" (info, frames flooded), "L2 replication failures" (error: no
//! buffer for a copy; that member misses the frame), "L2 replication complete", "BVI L3 mac
//! mismatch", "BVI packet with unhandled ethertype".

use crate::bvi::{to_bvi, BviErr, L3Next};
use crate::state::{L2State, Member};
use crate::trace::{macs, BdTrace};
use pwire_buffer::buffer::TX;
use pwire_buffer::BufferIndex;
use pwire_graph::{counters, next_nodes, Cx, Frame, Node, NodeKind, NodeReg, Shared};
use pwire_vnet::{Registry, Vnet};
use std::sync::Arc;

next_nodes! { pub enum Next { Output => "l2-output", Drop => "error-drop" } }
counters! { pub enum C {
    L2Flood: info = "L2 flood packets",
    ReplFail: error = "L2 replication failures",
    NoMembers: error = "L2 replication complete",
    BviBadMac: error = "BVI L3 mac mismatch",
    BviEthertype: error = "BVI packet with unhandled ethertype",
} }

/// Copies allocated per refill.
const BATCH: usize = 32;

struct L2Flood {
    state: Arc<Shared<L2State>>,
    vnet: Arc<Vnet>,
    l3: L3Next,
    spare: [BufferIndex; BATCH],
}

pub(crate) fn register(r: &mut Registry, state: Arc<Shared<L2State>>) {
    let vnet = r.vnet.clone();
    r.graph.node(NodeReg::new(
        "l2-flood",
        NodeKind::Internal,
        Next::NAMES,
        C::DECLS,
        move |b| {
            Box::new(L2Flood {
                state: state.clone(),
                l3: L3Next::new(&vnet, b),
                vnet: vnet.clone(),
                spare: [0; BATCH],
            })
        },
    ));
}

#[inline(always)]
fn eligible(m: &Member, rx: u32, shg: u8) -> bool {
    m.sw_if_index != rx && (shg == 0 || m.shg != shg)
}

impl Node for L2Flood {
    fn process(&mut self, frame: &mut Frame<'_>, cx: &mut Cx<'_>) {
        let dp = cx.dp();
        let st = self.state.dp(&dp);
        let vs = self.vnet.state.dp(&dp);
        let thread = cx.thread();
        let e_none = cx.error(C::NoMembers);
        let e_bad_mac = cx.error(C::BviBadMac);
        let e_ethertype = cx.error(C::BviEthertype);
        let n = frame.len() as u64;
        let mut fails = 0u64;
        for (b, nx) in frame.iter_mut() {
            let rx = b.rx();
            let shg = b.opaque.l2.shg;
            let members: &[Member] = st
                .bds
                .get(b.opaque.l2.bd_index as usize)
                .map_or(&[], |bd| &bd.members);
            // The original goes to the eligible member nearest the front (the BVI if any).
            let Some(first) = members.iter().position(|m| eligible(m, rx, shg)) else {
                b.error = e_none;
                *nx = Next::Drop as u16;
                continue;
            };
            if b.is_traced() {
                let (dst, src) = macs(b.current());
                cx.trace(
                    b,
                    BdTrace {
                        node: "l2-flood",
                        sw_if_index: rx,
                        bd_index: b.opaque.l2.bd_index,
                        dst,
                        src,
                    },
                );
            }
            let rest = &members[first + 1..];
            let mut want = rest.iter().filter(|m| eligible(m, rx, shg)).count();
            let (mut have, mut used) = (0usize, 0usize);
            let mut failed = false;
            for m in rest.iter().rev().filter(|m| eligible(m, rx, shg)) {
                if used == have {
                    have = cx.alloc(&mut self.spare[..want.min(BATCH)]);
                    used = 0;
                }
                want -= 1;
                if used == have {
                    failed = true;
                    continue;
                }
                let ci = self.spare[used];
                used += 1;
                // SAFETY: `ci` was just allocated by this node and is in no frame.
                let c = unsafe { cx.buf_mut(ci) };
                c.copy_from(b);
                c.sw_if_index[TX] = m.sw_if_index;
                // SAFETY: `ci` was allocated above and is enqueued once; `c` is not used again.
                unsafe { cx.enqueue(Next::Output, ci) };
            }
            if failed {
                fails += 1;
            }
            let m = members[first];
            *nx = if m.bvi {
                match to_bvi(b, m.sw_if_index, vs, thread, &self.l3) {
                    Ok(next) => next,
                    Err(e) => {
                        b.error = match e {
                            BviErr::BadMac => e_bad_mac,
                            BviErr::Ethertype => e_ethertype,
                        };
                        Next::Drop as u16
                    }
                }
            } else {
                b.sw_if_index[TX] = m.sw_if_index;
                Next::Output as u16
            };
        }
        cx.count(C::L2Flood, n);
        cx.count(C::ReplFail, fails);
    }
}
