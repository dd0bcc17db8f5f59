//! `ip6-drop` and `ip6-not-enabled` (VPP's ip6_punt_drop.c): trace the IPv6 header and hand the
//! buffer to `error-drop`, which counts it under the error code the sender stored (e.g.
//! "ip6 destination lookup miss" from `ip6-lookup`, "ip6 drop" from `ip6-input` for an
//! interface without IPv6).
//!
//! Arcs: `error-drop`. Counters: none of their own.

use crate::trace::Ip6Bytes;
use crate::Ip6Main;
use pwire_graph::{next_nodes, Cx, Frame, Node, NodeKind, NodeReg};
use pwire_vnet::Registry;
use std::sync::Arc;

next_nodes! { pub enum Next { Drop => "error-drop" } }

/// Either drop node.
#[derive(Debug)]
pub struct Ip6Drop;

pub(crate) fn register(r: &mut Registry, _m: &Arc<Ip6Main>) {
    for name in ["ip6-drop", "ip6-not-enabled"] {
        r.graph.node(NodeReg::new(
            name,
            NodeKind::Internal,
            Next::NAMES,
            &[],
            |_b| Box::new(Ip6Drop),
        ));
    }
}

impl Node for Ip6Drop {
    fn process(&mut self, frame: &mut Frame<'_>, cx: &mut Cx<'_>) {
        frame.set_all(Next::Drop as u16);
        for (b, _) in frame.iter_mut() {
            if b.is_traced() {
                cx.trace(b, Ip6Bytes::of(b));
            }
        }
    }
}
