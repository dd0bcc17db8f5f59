//! `ip4-drop` and `ip4-not-enabled` (VPP's ip4_punt_drop.c): trace the IPv4 header and hand the
//! buffer to `error-drop`, which counts it under the error code the sender stored (e.g.
//! "ip4 destination lookup miss" from `ip4-lookup`, "ip4 drop" from `ip4-input` for an
//! interface without IPv4).
//!
//! Arcs: `error-drop`. Counters: none of their own.

use crate::trace::Ip4Bytes;
use crate::Ip4Main;
use pwire_graph::{next_nodes, Cx, Frame, Node, NodeKind, NodeReg};
use pwire_vnet::Registry;
use std::sync::Arc;

next_nodes! { pub enum Next { Drop => "error-drop" } }

/// Either drop node.
#[derive(Debug)]
pub struct Ip4Drop;

pub(crate) fn register(r: &mut Registry, _m: &Arc<Ip4Main>) {
    for name in ["ip4-drop", "ip4-not-enabled"] {
        r.graph.node(NodeReg::new(
            name,
            NodeKind::Internal,
            Next::NAMES,
            &[],
            |_b| Box::new(Ip4Drop),
        ));
    }
}

impl Node for Ip4Drop {
    fn process(&mut self, frame: &mut Frame<'_>, cx: &mut Cx<'_>) {
        frame.set_all(Next::Drop as u16);
        for (b, _) in frame.iter_mut() {
            if b.is_traced() {
                cx.trace(b, Ip4Bytes::of(b));
            }
        }
    }
}
