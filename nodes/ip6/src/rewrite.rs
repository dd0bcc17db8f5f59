//! `ip6-rewrite` (VPP's ip6_forward.c `ip6_rewrite_inline`).
//!
//! Per packet, with the adjacency `ip6-lookup` chose (`opaque.adj_index`):
//! 1. unless LOCALLY_ORIGINATED, decrement the hop limit; reaching 0 gives "ip6 ttl <= 1" and an
//!    ICMPv6 Time Exceeded through `ip6-icmp-error` (which drops the original);
//! 2. MTU: IPv6 length above the egress interface's IPv6 MTU (`Interface::ip6_mtu`) gives
//!    "ip6 MTU exceeded" and, for a forwarded packet, an ICMPv6 Packet Too Big carrying the MTU;
//!    a locally originated one marked `FRAGMENT_OK` goes to `ip6-frag` (its fragments come
//!    back here), any other is dropped;
//! 3. prepend the 14-byte Ethernet rewrite, set TX to the adjacency's interface and leave through
//!    that interface's output node (`Interface::ip6_output_next`).
//!
//! Arcs: `error-drop`, `ip6-icmp-error`, `ip6-frag`, then every device class's output node
//! (added by vnet).
//! Counters: [`Ip6Err`] (its own copy, as VPP's ip6-rewrite).

use crate::errors::Ip6Err;
use crate::input::set_icmp_error;
use crate::state::Ip6State;
use crate::trace::Ip6Bytes;
use crate::Ip6Main;
use pwire_buffer::buffer::TX;
use pwire_buffer::flags;
use pwire_graph::{next_nodes, Cx, Frame, Node, NodeKind, NodeReg, Shared};
use pwire_vnet::{Registry, Vnet};
use pwire_wire::icmpv6::{CODE_HOP_LIMIT_EXCEEDED, TYPE_PACKET_TOO_BIG, TYPE_TIME_EXCEEDED};
use pwire_wire::{EthHdr, Ip6Hdr};
use std::fmt;
use std::net::Ipv6Addr;
use std::sync::Arc;

next_nodes! { pub enum Next {
    Drop => "error-drop",
    IcmpError => "ip6-icmp-error",
    Frag => "ip6-frag",
} }

#[derive(Clone, Copy)]
struct RewriteTrace {
    sw: u32,
    adj: u32,
    mtu: u32,
    next: u16,
    nh: [u8; 16],
    rewrite: [u8; 14],
    ip: [u8; 40],
}

impl fmt::Display for RewriteTrace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "tx_sw_if_index {} adj-idx {} : ipv6 via {} sw_if_index {}: mtu:{} next:{} flags:[] ",
            self.sw,
            self.adj,
            Ipv6Addr::from(self.nh),
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
            Ip6Bytes::from_slice(&self.ip)
        )
    }
}

/// The node.
#[derive(Debug)]
pub struct Ip6Rewrite {
    vnet: Arc<Vnet>,
    state: Arc<Shared<Ip6State>>,
}

pub(crate) fn register(r: &mut Registry, m: &Arc<Ip6Main>) {
    let (vnet, state) = (m.vnet.clone(), m.state.clone());
    r.graph.node(NodeReg::new(
        "ip6-rewrite",
        NodeKind::Internal,
        Next::NAMES,
        Ip6Err::DECLS,
        move |_b| {
            Box::new(Ip6Rewrite {
                vnet: vnet.clone(),
                state: state.clone(),
            })
        },
    ));
}

impl Node for Ip6Rewrite {
    fn process(&mut self, frame: &mut Frame<'_>, cx: &mut Cx<'_>) {
        // The run loops test each buffer's trace flag only while tracing is on.
        let adj_run = pwire_graph::tracing_variant!(cx.tracing(), adj_run);
        let dp = cx.dp();
        let st = self.state.dp(&dp);
        let vs = self.vnet.state.dp(&dp);
        let e_ttl = cx.error(Ip6Err::TimeExpired);
        let e_mtu = cx.error(Ip6Err::MtuExceeded);
        let e_short = cx.error(Ip6Err::TooShort);
        let e_drop = cx.error(Ip6Err::Drop);
        let drop = Next::Drop as u16;
        // The egress interface's MTU and output arc, looked up once per run.
        let mut last_sw = u32::MAX;
        let mut out: Option<(u32, u16)> = None;
        // The adjacency of the packet before, when it left by the common path.
        let mut last_ai = u32::MAX;
        let (view, bis, nexts) = frame.parts();
        let n = bis.len();
        let mut i = 0;
        while i < n {
            // The common packet (same adjacency as the one before, untraced, no path MTU, hop
            // limit left, within the MTU) in a loop of its own.
            if let (Some(adj), Some((mtu, out_next))) = (
                (last_ai != u32::MAX)
                    .then(|| st.adjs.get(last_ai as usize))
                    .flatten(),
                out,
            ) {
                let k = adj_run(
                    view,
                    &bis[i..],
                    &mut nexts[i..],
                    last_ai,
                    adj,
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
            last_ai = u32::MAX;
            let ai = b.opaque.adj_index;
            let Some(adj) = st.adjs.get(ai as usize).filter(|a| a.mac.is_some()) else {
                b.error = e_drop;
                *nx = drop;
                continue;
            };
            if adj.sw != last_sw {
                last_sw = adj.sw;
                out = vs.get(adj.sw).map(|i| (i.ip6_mtu(), i.ip6_output_next));
            }
            let Some((mtu, out_next)) = out else {
                b.error = e_drop;
                *nx = drop;
                continue;
            };
            let local = b.flags & flags::LOCALLY_ORIGINATED != 0;
            let path_mtu = if b.flags & flags::PATH_MTU != 0 {
                b.opaque.user[1]
            } else {
                0
            };
            let Ok((h, _)) = Ip6Hdr::parse_mut(b.current_mut()) else {
                b.error = e_short;
                *nx = drop;
                continue;
            };
            let mut expired = false;
            if !local {
                // ip6-input let hop limit 0 through only to the ICMP error path, so >= 1 here
                // for forwarded packets; saturate anyway rather than wrap.
                h.hop_limit = h.hop_limit.saturating_sub(1);
                expired = h.hop_limit == 0;
            }
            let ip_len = u32::from(h.payload_len.get()) + Ip6Hdr::LEN as u32;
            // A tunnel's path MTU, when below the interface's (set by l2tp-encap).
            let mtu = if path_mtu != 0 {
                mtu.min(path_mtu)
            } else {
                mtu
            };
            if expired {
                b.error = e_ttl;
                set_icmp_error(b, TYPE_TIME_EXCEEDED, CODE_HOP_LIMIT_EXCEEDED, 0);
                *nx = Next::IcmpError as u16;
                continue;
            }
            if ip_len > mtu {
                if b.flags & flags::FRAGMENT_OK != 0 {
                    b.opaque.user = [0, mtu];
                    *nx = Next::Frag as u16;
                    continue;
                }
                b.error = e_mtu;
                *nx = if local {
                    drop
                } else {
                    set_icmp_error(b, TYPE_PACKET_TOO_BIG, 0, mtu);
                    Next::IcmpError as u16
                };
                continue;
            }
            let traced = b.is_traced();
            let mut ip = [0u8; 40];
            if traced {
                ip.copy_from_slice(&b.current()[..Ip6Hdr::LEN]);
            }
            match b.prepend(EthHdr::LEN) {
                Some(hdr) => hdr.copy_from_slice(&adj.rewrite),
                None => {
                    b.error = e_drop;
                    *nx = drop;
                    continue;
                }
            }
            b.sw_if_index[TX] = adj.sw;
            *nx = out_next;
            last_ai = ai;
            if traced {
                cx.trace(
                    b,
                    RewriteTrace {
                        sw: adj.sw,
                        adj: ai,
                        mtu,
                        next: out_next,
                        nh: adj.nh.octets(),
                        rewrite: adj.rewrite,
                        ip,
                    },
                );
            }
        }
    }
}

/// Packets from the start of `bis` for adjacency `ai` (resolved, its interface's IPv6 MTU
/// `mtu` and output arc `next`), untraced, without a path MTU, with hop limit left (or locally
/// originated) and within the MTU: hop limit decremented unless locally originated, the
/// Ethernet rewrite in front, TX set. Returns how many; stops at the first other packet. Not
/// inlined: on its own the loop keeps the adjacency in registers.
#[inline(never)]
fn adj_run<const TRACE: bool>(
    view: pwire_buffer::View<'_>,
    bis: &[u32],
    nexts: &mut [u16],
    ai: u32,
    adj: &crate::state::Adj,
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
        let Ok((h, _)) = Ip6Hdr::parse_mut(b.current_mut()) else {
            return k;
        };
        if u32::from(h.payload_len.get()) + Ip6Hdr::LEN as u32 > mtu || (!local && h.hop_limit <= 1)
        {
            return k;
        }
        if !local {
            h.hop_limit -= 1;
        }
        if let Some(hdr) = b.prepend(EthHdr::LEN) {
            hdr.copy_from_slice(&adj.rewrite);
        }
        b.sw_if_index[TX] = adj.sw;
        *nx = next;
    }
    bis.len()
}
