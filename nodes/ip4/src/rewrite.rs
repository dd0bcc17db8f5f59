//! `ip4-rewrite` (VPP's ip4_forward.c `ip4_rewrite_inline`).
//!
//! Per packet, with the adjacency `ip4-lookup` chose (`opaque.adj_index`):
//! 1. unless LOCALLY_ORIGINATED, TTL 1 (or 0) gives "ip4 ttl <= 1" and an ICMP time exceeded
//!    through `ip4-icmp-error`, which quotes the header as it arrived (VPP decrements first
//!    and quotes TTL 0; RFC 1812 §4.3.2.3 asks for the header as received);
//! 2. MTU: a total length above the egress interface's IPv4 MTU with DF set gives "ip4 MTU
//!    exceeded and DF set" and, for a forwarded packet, ICMP fragmentation needed (type 3
//!    code 4) carrying the MTU (RFC 1191); without DF, or locally originated and marked
//!    `FRAGMENT_OK` (a tunnel with fragmentation on), it goes to `ip4-frag`, whose fragments
//!    come back here;
//! 3. unless LOCALLY_ORIGINATED, TTL − 1 with the checksum updated incrementally (RFC 1624);
//! 4. prepend the 14-byte Ethernet rewrite, set TX to the adjacency's interface and leave
//!    through that interface's output node (by device class, resolved at graph build).
//!
//! Arcs: `error-drop`, `ip4-icmp-error`, `ip4-arp`, `ip4-frag`, then every device class's output node
//! (added by vnet). Counters: [`Ip4Err`] (its own copy, as VPP's ip4-rewrite).

use crate::errors::Ip4Err;
use crate::input::set_icmp_error;
use crate::state::{ip4_mtu, Ip4Dp};
use crate::trace::Ip4Bytes;
use crate::Ip4Main;
use pwire_buffer::buffer::TX;
use pwire_buffer::flags;
use pwire_graph::{next_nodes, Cx, Frame, Node, NodeKind, NodeReg, Shared};
use pwire_vnet::{Registry, Vnet};
use pwire_wire::icmpv4::{
    CODE_FRAG_NEEDED, CODE_TTL_EXCEEDED, TYPE_DEST_UNREACHABLE, TYPE_TIME_EXCEEDED,
};
use pwire_wire::ipv4::FLAG_DF;
use pwire_wire::{EthHdr, Ip4Hdr};
use std::fmt;
use std::net::Ipv4Addr;
use std::sync::Arc;

next_nodes! { pub enum Next {
    Drop => "error-drop",
    IcmpError => "ip4-icmp-error",
    Arp => "ip4-arp",
    Frag => "ip4-frag",
} }

#[derive(Clone, Copy)]
struct RewriteTrace {
    sw: u32,
    adj: u32,
    mtu: u32,
    next: u16,
    nh: [u8; 4],
    rewrite: [u8; 14],
    /// The IPv4 header (options beyond 28 bytes cut: the record has 96 bytes).
    ip: [u8; 48],
    ip_len: u8,
}

impl fmt::Display for RewriteTrace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "tx_sw_if_index {} adj-idx {} : ipv4 via {} sw_if_index {}: mtu:{} next:{} flags:[] ",
            self.sw,
            self.adj,
            Ipv4Addr::from(self.nh),
            self.sw,
            self.mtu,
            self.next
        )?;
        for x in self.rewrite {
            write!(f, "{x:02x}")?;
        }
        write!(
            f,
            " flow hash: 0x00000000\n{}",
            Ip4Bytes::from_slice(&self.ip[..self.ip_len as usize])
        )
    }
}

/// What a run of packets through one adjacency shares: egress interface, rewrite, next hop,
/// MTU, and the output next (`u16::MAX` while the neighbour is unresolved).
type Out = (u32, [u8; 14], [u8; 4], u32, u16);

/// The node.
#[derive(Debug)]
pub struct Ip4Rewrite {
    vnet: Arc<Vnet>,
    dp: Arc<Shared<Ip4Dp>>,
    /// This node's next index for each device class's output node.
    class_next: Vec<u16>,
}

pub(crate) fn register(r: &mut Registry, m: &Arc<Ip4Main>) {
    let (vnet, dp) = (m.vnet.clone(), m.dp.clone());
    r.graph.node(NodeReg::new(
        "ip4-rewrite",
        NodeKind::Internal,
        Next::NAMES,
        Ip4Err::DECLS,
        move |b| {
            let class_next = vnet
                .statics()
                .classes
                .iter()
                .map(|c| b.next_index(c.output_node).unwrap_or(Next::Drop as u16))
                .collect();
            Box::new(Ip4Rewrite {
                vnet: vnet.clone(),
                dp: dp.clone(),
                class_next,
            })
        },
    ));
}

impl Node for Ip4Rewrite {
    fn process(&mut self, frame: &mut Frame<'_>, cx: &mut Cx<'_>) {
        // The run loops test each buffer's trace flag only while tracing is on.
        let adj_run = pwire_graph::tracing_variant!(cx.tracing(), adj_run);
        let dp = cx.dp();
        let st = self.dp.dp(&dp);
        let vs = self.vnet.state.dp(&dp);
        let e_ttl = cx.error(Ip4Err::TimeExpired);
        let e_mtu = cx.error(Ip4Err::MtuExceeded);
        let e_short = cx.error(Ip4Err::TooShort);
        let e_drop = cx.error(Ip4Err::Drop);
        let drop = Next::Drop as u16;
        // The adjacency and its egress interface's MTU and output arc, looked up once per run.
        let mut last_ai = u32::MAX;
        let mut cur: Option<Out> = None;
        // The packet before left by the common path (its adjacency is `last_ai`, `cur`).
        let mut ok_prev = false;
        let (view, bis, nexts) = frame.parts();
        let n = bis.len();
        let mut i = 0;
        while i < n {
            // The common packet (same adjacency as the one before, untraced, no path MTU, TTL
            // left, within the MTU) in a loop of its own.
            if let (true, Some((sw, rewrite, _, mtu, out_next))) = (ok_prev, cur) {
                let k = adj_run(
                    view,
                    &bis[i..],
                    &mut nexts[i..],
                    last_ai,
                    (sw, rewrite),
                    mtu,
                    out_next,
                );
                i += k;
                if i == n {
                    break;
                }
            }
            // SAFETY: frame invariant: each index once, and slot `i` is visited once.
            let b = unsafe { view.get_mut(bis[i]) };
            let nx = &mut nexts[i];
            i += 1;
            ok_prev = false;
            let ai = b.opaque.adj_index;
            if ai != last_ai {
                last_ai = ai;
                cur = st.adjs.get(ai as usize).and_then(|a| {
                    let i = vs.get(a.sw)?;
                    let next = self.class_next.get(i.class as usize).copied()?;
                    Some((
                        a.sw,
                        a.rewrite,
                        a.nh.octets(),
                        ip4_mtu(i),
                        if a.mac.is_some() { next } else { u16::MAX },
                    ))
                });
            }
            let Some((sw, rewrite, nh, mtu, out_next)) = cur else {
                b.error = e_drop;
                *nx = drop;
                continue;
            };
            if out_next == u16::MAX {
                // The neighbour went away since ip4-lookup looked: ask for it again.
                *nx = Next::Arp as u16;
                continue;
            }
            let local = b.flags & flags::LOCALLY_ORIGINATED != 0;
            let path_mtu = if b.flags & flags::PATH_MTU != 0 {
                b.opaque.user[1]
            } else {
                0
            };
            let traced = b.is_traced();
            let Ok((h, _)) = Ip4Hdr::parse_mut(b.current_mut()) else {
                b.error = e_short;
                *nx = drop;
                continue;
            };
            if !local && h.ttl <= 1 {
                b.error = e_ttl;
                set_icmp_error(b, TYPE_TIME_EXCEEDED, CODE_TTL_EXCEEDED, 0);
                *nx = Next::IcmpError as u16;
                continue;
            }
            // A tunnel's path MTU, when below the interface's (set by l2tp-encap).
            let mtu = if path_mtu != 0 {
                mtu.min(path_mtu)
            } else {
                mtu
            };
            if u32::from(h.total_len.get()) > mtu {
                if h.flags_frag.get() & FLAG_DF == 0 || b.flags & flags::FRAGMENT_OK != 0 {
                    b.opaque.user = [0, mtu];
                    *nx = Next::Frag as u16;
                } else if local {
                    b.error = e_mtu;
                    *nx = drop;
                } else {
                    b.error = e_mtu;
                    set_icmp_error(b, TYPE_DEST_UNREACHABLE, CODE_FRAG_NEEDED, mtu.min(0xffff));
                    *nx = Next::IcmpError as u16;
                }
                continue;
            }
            if !local {
                h.decrement_ttl();
            }
            let ip = traced.then(|| {
                let d = b.current();
                let n = d.len().min(48);
                let mut ip = [0u8; 48];
                ip[..n].copy_from_slice(&d[..n]);
                (ip, n as u8)
            });
            match b.prepend(EthHdr::LEN) {
                Some(hdr) => hdr.copy_from_slice(&rewrite),
                None => {
                    b.error = e_drop;
                    *nx = drop;
                    continue;
                }
            }
            b.sw_if_index[TX] = sw;
            *nx = out_next;
            ok_prev = true;
            if let Some((ip, ip_len)) = ip {
                cx.trace(
                    b,
                    RewriteTrace {
                        sw,
                        adj: ai,
                        mtu,
                        next: out_next,
                        nh,
                        rewrite,
                        ip,
                        ip_len,
                    },
                );
            }
        }
    }
}

/// Packets from the start of `bis` for adjacency `ai` (resolved: TX interface and Ethernet
/// rewrite; its interface's IPv4 MTU `mtu` and output arc `next`), untraced, without a path
/// MTU, with TTL left (or locally originated) and within the MTU: TTL decremented (and the
/// checksum updated) unless locally originated, the rewrite in front, TX set. Returns how many;
/// stops at the first other packet. Not inlined: on its own the loop keeps the adjacency in
/// registers.
#[inline(never)]
fn adj_run<const TRACE: bool>(
    view: pwire_buffer::View<'_>,
    bis: &[u32],
    nexts: &mut [u16],
    ai: u32,
    (sw, rewrite): (u32, [u8; 14]),
    mtu: u32,
    next: u16,
) -> usize {
    for (k, (&bi, nx)) in bis.iter().zip(nexts.iter_mut()).enumerate() {
        // SAFETY: frame invariant: each index once; this loop visits each slot once.
        let b = unsafe { view.get_mut(bi) };
        if (TRACE && b.is_traced())
            || b.opaque.adj_index != ai
            || b.flags & flags::PATH_MTU != 0
            || b.headroom() < EthHdr::LEN
        {
            return k;
        }
        let local = b.flags & flags::LOCALLY_ORIGINATED != 0;
        let Ok((h, _)) = Ip4Hdr::parse_mut(b.current_mut()) else {
            return k;
        };
        if u32::from(h.total_len.get()) > mtu || (!local && h.ttl <= 1) {
            return k;
        }
        if !local {
            h.decrement_ttl();
        }
        if let Some(hdr) = b.prepend(EthHdr::LEN) {
            hdr.copy_from_slice(&rewrite);
        }
        b.sw_if_index[TX] = sw;
        *nx = next;
    }
    bis.len()
}
