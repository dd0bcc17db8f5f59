//! `ip4-local` and `ip4-receive` (one generic node, as VPP runs ip4-local's code for receive
//! DPOs), and `ip4-punt`.
//!
//! Per packet: a loose uRPF check on the source (0.0.0.0 exempt): it must match a FIB entry
//! that is not a drop ("ip4 source lookup miss"), and not one of our own addresses unless we
//! sent it ("ip4 spoofed local-address packet drops", VPP's ip4-local check). Fragments are
//! handed to the reassembly (`ip4-full-reassembly`, `Registry::ip4_reassembly`), whose whole
//! datagrams come back here; without one they are dropped ("ip4 fragment for us, reassembly
//! not supported").
//! ICMP has its checksum verified ("bad icmp checksum") and goes to `ip4-icmp-input`; a
//! protocol another crate registered (`Registry::ip4_protocol`: 17 for udp-local, 115 for
//! l2tp) goes to its node once enabled (`VnetState::ip4_proto_enabled`); everything else is
//! punted with "unknown ip protocol". The buffer is not advanced: the next node sees the IPv4
//! header (and finds the payload by its IHL, options included). Errors are `ip4-input`'s.
//!
//! `ip4-punt` is VPP's ip4-punt + error-punt: it counts each buffer under its error code, bumps
//! the RX interface's `punt` counter and frees it (no `drops`, as VPP).
//!
//! Arcs: `ip4-drop`, `ip4-punt`, `ip4-icmp-input`, then the protocol nodes (added by vnet).

use crate::errors::{base_of, Ip4Err};
use crate::state::{Ip4Dp, Kind};
use crate::trace::Ip4Bytes;
use crate::Ip4Main;
use pwire_buffer::{flags, BufferIndex};
use pwire_graph::{
    next_nodes, Cx, Frame, Node, NodeKind, NodeReg, Shared, FRAME_SIZE, NEXT_CONSUMED,
};
use pwire_vnet::{ifc, Registry, Vnet};
use pwire_wire::ipv4::{FLAG_MF, FRAG_OFFSET_MASK, PROTO_ICMP};
use std::sync::Arc;

next_nodes! { pub enum Next {
    Drop => "ip4-drop",
    Punt => "ip4-punt",
    Icmp => "ip4-icmp-input",
} }

const NO_NEXT: u16 = u16::MAX;

/// `ip4-local` (`RECEIVE == false`) or `ip4-receive`.
#[derive(Debug)]
pub struct Ip4Local<const RECEIVE: bool> {
    vnet: Arc<Vnet>,
    dp: Arc<Shared<Ip4Dp>>,
    proto_next: Box<[u16; 256]>,
    /// The reassembly node's next index (`Registry::ip4_reassembly`), or NO_NEXT.
    reass_next: u16,
    errors: u16,
}

fn reg<const RECEIVE: bool>(r: &mut Registry, m: &Arc<Ip4Main>) {
    let name = if RECEIVE { "ip4-receive" } else { "ip4-local" };
    let (vnet, dp) = (m.vnet.clone(), m.dp.clone());
    r.graph.node(NodeReg::new(
        name,
        NodeKind::Internal,
        Next::NAMES,
        &[],
        move |b| {
            let mut proto_next = Box::new([NO_NEXT; 256]);
            for &(p, node) in &vnet.statics().ip4_protocols {
                if let Some(n) = b.next_index(node) {
                    proto_next[p as usize] = n;
                }
            }
            let reass_next = vnet
                .statics()
                .ip4_reassembly
                .and_then(|n| b.next_index(n))
                .unwrap_or(NO_NEXT);
            Box::new(Ip4Local::<RECEIVE> {
                vnet: vnet.clone(),
                dp: dp.clone(),
                proto_next,
                reass_next,
                errors: base_of(b, "ip4-input"),
            })
        },
    ));
}

pub(crate) fn register(r: &mut Registry, m: &Arc<Ip4Main>) {
    reg::<false>(r, m);
    reg::<true>(r, m);
    r.graph
        .node(NodeReg::new("ip4-punt", NodeKind::Internal, &[], &[], {
            let vnet = m.vnet.clone();
            move |_b| {
                Box::new(Ip4Punt {
                    vnet: vnet.clone(),
                    free: Box::new([0; FRAME_SIZE]),
                })
            }
        }));
}

impl<const RECEIVE: bool> Node for Ip4Local<RECEIVE> {
    fn process(&mut self, frame: &mut Frame<'_>, cx: &mut Cx<'_>) {
        // Each packet's trace flag is tested only while tracing is on.
        let tracing = cx.tracing();
        let dp = cx.dp();
        let st = self.dp.dp(&dp);
        let vs = self.vnet.state.dp(&dp);
        let err = |e: Ip4Err| self.errors + e as u16;
        // One-entry cache of the source check: a frame usually comes from one peer.
        let mut last_src = None;
        let mut last_kind = Kind::Drop;
        for (b, nx) in frame.iter_mut() {
            if tracing && b.is_traced() {
                cx.trace(b, Ip4Bytes::of(b));
            }
            let ours = b.flags & flags::LOCALLY_ORIGINATED != 0;
            let d = b.current();
            let Some(h) = d.first_chunk::<20>() else {
                b.error = err(Ip4Err::TooShort);
                *nx = Next::Drop as u16;
                continue;
            };
            let hl = usize::from(h[0] & 15) * 4;
            let total = usize::from(u16::from_be_bytes([h[2], h[3]])).min(d.len());
            let src = u32::from_be_bytes([h[12], h[13], h[14], h[15]]);
            if last_src != Some(src) {
                last_src = Some(src);
                last_kind = if src == 0 {
                    Kind::Glean
                } else {
                    st.lookup(src).1
                };
            }
            if last_kind == Kind::Drop {
                b.error = err(Ip4Err::SrcLookupMiss);
                *nx = Next::Drop as u16;
                continue;
            }
            if last_kind == Kind::Receive && !ours {
                b.error = err(Ip4Err::SpoofedLocalPackets);
                *nx = Next::Drop as u16;
                continue;
            }
            let ff = u16::from_be_bytes([h[6], h[7]]);
            if ff & (FLAG_MF | FRAG_OFFSET_MASK) != 0 {
                if self.reass_next != NO_NEXT {
                    *nx = self.reass_next;
                } else {
                    b.error = err(Ip4Err::NoReassembly);
                    *nx = Next::Drop as u16;
                }
                continue;
            }
            let proto = h[9];
            *nx = if proto == PROTO_ICMP {
                match d.get(hl..total) {
                    Some(msg) if pwire_wire::icmpv4::checksum_ok(msg) => Next::Icmp as u16,
                    _ => {
                        b.error = err(Ip4Err::IcmpChecksum);
                        Next::Drop as u16
                    }
                }
            } else {
                let n = self.proto_next[proto as usize];
                if n != NO_NEXT && vs.ip4_proto_enabled[proto as usize] {
                    n
                } else {
                    b.error = err(Ip4Err::UnknownProtocol);
                    Next::Punt as u16
                }
            };
        }
    }
}

/// `ip4-punt`.
#[derive(Debug)]
pub struct Ip4Punt {
    vnet: Arc<Vnet>,
    free: Box<[BufferIndex; FRAME_SIZE]>,
}

impl Node for Ip4Punt {
    fn process(&mut self, frame: &mut Frame<'_>, cx: &mut Cx<'_>) {
        // Each packet's trace flag is tested only while tracing is on.
        let tracing = cx.tracing();
        let dp = cx.dp();
        let vs = self.vnet.state.dp(&dp);
        let thread = cx.thread();
        let n = frame.len();
        for (b, nx) in frame.iter_mut() {
            *nx = NEXT_CONSUMED;
            if tracing && b.is_traced() {
                cx.trace(b, Ip4Bytes::of(b));
            }
            cx.count_global(b.error, 1);
            if let Some(r) = vs.row(thread, b.rx()) {
                r.add(ifc::PUNT, 1);
            }
        }
        self.free[..n].copy_from_slice(frame.indices());
        // SAFETY: the frame's buffers, each once (frame invariant), every next set to
        // NEXT_CONSUMED above; not touched after this.
        unsafe { cx.free(&self.free[..n]) };
    }
}
