//! `ip6-local` and `ip6-receive` (one generic node, as VPP runs ip6-local's code for receive
//! DPOs), and `ip6-punt`.
//!
//! Per packet (VPP §7.5): a loose uRPF check unless the source is link-local or unspecified (the
//! source must match a FIB entry that is not a drop, else "ip6 source lookup miss"); ICMPv6 has
//! its checksum verified ("bad icmp checksum") and goes to `ip6-icmp-input`; a protocol another
//! crate registered (`Registry::ip6_protocol`) goes to its node once enabled
//! (`VnetState::ip6_proto_enabled`), also behind hop-by-hop, routing and destination-options
//! headers (that node walks them); everything else is punted with "unknown ip protocol". The
//! buffer is not advanced: the next node sees the IPv6 header. Errors are `ip6-input`'s.
//!
//! `ip6-punt` is VPP's ip6-punt + error-punt: it counts each buffer under its error code, bumps
//! the RX interface's `punt` counter and frees it (no `drops`, as VPP).
//!
//! Arcs: `ip6-drop`, `ip6-punt`, `ip6-icmp-input`, then the protocol nodes (added by vnet).

use crate::errors::{base_of, Ip6Err};
use crate::state::{Ip6State, Kind};
use crate::trace::Ip6Bytes;
use crate::Ip6Main;
use pwire_buffer::BufferIndex;
use pwire_graph::{
    next_nodes, Cx, Frame, Node, NodeKind, NodeReg, Shared, FRAME_SIZE, NEXT_CONSUMED,
};
use pwire_vnet::{ifc, Registry, Vnet};
use pwire_wire::icmpv6::checksum_ok;
use pwire_wire::ipv6::PROTO_ICMPV6;
use pwire_wire::Ip6Hdr;
use std::net::Ipv6Addr;
use std::sync::Arc;

next_nodes! { pub enum Next {
    Drop => "ip6-drop",
    Punt => "ip6-punt",
    Icmp => "ip6-icmp-input",
} }

const NO_NEXT: u16 = u16::MAX;

/// `ip6-local` (`RECEIVE == false`) or `ip6-receive`.
#[derive(Debug)]
pub struct Ip6Local<const RECEIVE: bool> {
    vnet: Arc<Vnet>,
    state: Arc<Shared<Ip6State>>,
    proto_next: Box<[u16; 256]>,
    errors: u16,
}

fn reg<const RECEIVE: bool>(r: &mut Registry, m: &Arc<Ip6Main>) {
    let name = if RECEIVE { "ip6-receive" } else { "ip6-local" };
    let (vnet, state) = (m.vnet.clone(), m.state.clone());
    r.graph.node(NodeReg::new(
        name,
        NodeKind::Internal,
        Next::NAMES,
        &[],
        move |b| {
            let mut proto_next = Box::new([NO_NEXT; 256]);
            for &(p, node) in &vnet.statics().ip6_protocols {
                if let Some(n) = b.next_index(node) {
                    proto_next[p as usize] = n;
                }
            }
            Box::new(Ip6Local::<RECEIVE> {
                vnet: vnet.clone(),
                state: state.clone(),
                proto_next,
                errors: base_of(b, "ip6-input"),
            })
        },
    ));
}

pub(crate) fn register(r: &mut Registry, m: &Arc<Ip6Main>) {
    reg::<false>(r, m);
    reg::<true>(r, m);
    r.graph
        .node(NodeReg::new("ip6-punt", NodeKind::Internal, &[], &[], {
            let vnet = m.vnet.clone();
            move |_b| {
                Box::new(Ip6Punt {
                    vnet: vnet.clone(),
                    free: Box::new([0; FRAME_SIZE]),
                })
            }
        }));
}

impl<const RECEIVE: bool> Node for Ip6Local<RECEIVE> {
    fn process(&mut self, frame: &mut Frame<'_>, cx: &mut Cx<'_>) {
        // Each packet's trace flag is tested only while tracing is on.
        let tracing = cx.tracing();
        let dp = cx.dp();
        let st = self.state.dp(&dp);
        let vs = self.vnet.state.dp(&dp);
        let e_src = self.errors + Ip6Err::SrcLookupMiss as u16;
        let e_csum = self.errors + Ip6Err::IcmpChecksum as u16;
        let e_proto = self.errors + Ip6Err::UnknownProtocol as u16;
        let e_short = self.errors + Ip6Err::TooShort as u16;
        // One-entry cache of the source check: a frame usually comes from one peer.
        let mut last_src = None;
        let mut last_ok = false;
        for (b, nx) in frame.iter_mut() {
            if tracing && b.is_traced() {
                cx.trace(b, Ip6Bytes::of(b));
            }
            let d = b.current();
            let Ok((h, rest)) = Ip6Hdr::parse(d) else {
                b.error = e_short;
                *nx = Next::Drop as u16;
                continue;
            };
            let src = u128::from_be_bytes(h.src);
            // Loose uRPF: link-local and unspecified sources (ND, DAD) are exempt.
            let exempt = src == 0 || (h.src[0] == 0xfe && h.src[1] & 0xc0 == 0x80);
            if last_src != Some(src) {
                last_src = Some(src);
                last_ok = exempt || st.lookup(src).1 != Kind::Drop;
            }
            if !last_ok {
                b.error = e_src;
                *nx = Next::Drop as u16;
                continue;
            }
            let proto = h.next_header;
            *nx = if proto == PROTO_ICMPV6 {
                let plen = usize::from(h.payload_len.get()).min(rest.len());
                if checksum_ok(Ipv6Addr::from(h.src), Ipv6Addr::from(h.dst), &rest[..plen]) {
                    Next::Icmp as u16
                } else {
                    b.error = e_csum;
                    Next::Drop as u16
                }
            } else {
                // Hop-by-hop, routing or destination options before a protocol another crate
                // registered: dispatch on that protocol; its node walks the headers itself
                // (l2tp-decap-local does). ICMPv6 behind them stays punted.
                let proto = match proto {
                    0 | 43 | 60 => {
                        let plen = usize::from(h.payload_len.get()).min(rest.len());
                        match pwire_wire::ipv6::upper_layer(proto, &rest[..plen]) {
                            Ok((p, _)) if p != PROTO_ICMPV6 => p,
                            _ => proto,
                        }
                    }
                    p => p,
                };
                let n = self.proto_next[proto as usize];
                if n != NO_NEXT && vs.ip6_proto_enabled[proto as usize] {
                    n
                } else {
                    b.error = e_proto;
                    Next::Punt as u16
                }
            };
        }
    }
}

/// `ip6-punt`.
#[derive(Debug)]
pub struct Ip6Punt {
    vnet: Arc<Vnet>,
    free: Box<[BufferIndex; FRAME_SIZE]>,
}

impl Node for Ip6Punt {
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
                cx.trace(b, Ip6Bytes::of(b));
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
