//! `l2tp-encap`: the tunnel interface's output node (VPP's encap.c).
//!
//! Reached from `l2-output` for frames leaving through `l2tpv3_tunnel<N>`. Prepends the
//! session's precomputed IPv6 + L2TPv3 header in the buffer headroom (no copy of the frame),
//! patches the payload length (and the sequence number when sequencing: drawn from the
//! session's counter shared by every thread), then `ip6-lookup`.
//! VPP writes hop limit 255 and lets ip6-rewrite decrement it to 254; a configured `hop-limit`
//! is the value on the wire (the packet is marked locally originated).
//!
//! Arcs: `error-drop`, `ip6-lookup`. Counters: "L2TP L2 network to user (ip6) pkts",
//! "L2TP L2 session lookup failed pkts", "L2TP tunnel is down", "L2TP no buffer headroom".

use crate::session::{sc, L2tpMain};
use pwire_buffer::flags;
use pwire_graph::{counters, next_nodes, Cx, Frame, Node, NodeKind, NodeReg, Shared};
use pwire_vnet::{Registry, VnetState};
use pwire_wire::l2tpv3::Sublayer;
use std::fmt;
use std::net::Ipv6Addr;
use std::sync::Arc;

next_nodes! { pub enum Next { Drop => "error-drop", Lookup => "ip6-lookup" } }

counters! { pub enum C {
    NetToUser: error = "L2TP L2 network to user (ip6) pkts",
    LookupFailed: error = "L2TP L2 session lookup failed pkts",
    Down: error = "L2TP tunnel is down",
    NoHeadroom: error = "L2TP no buffer headroom",
} }

/// VPP's encap trace, without its stray `)`.
#[derive(Clone, Copy)]
pub struct EncapTrace {
    our: [u8; 16],
    client: [u8; 16],
    session: i32,
}

impl fmt::Display for EncapTrace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "L2T: {} (our) -> {} (client) session {}",
            Ipv6Addr::from(self.our),
            Ipv6Addr::from(self.client),
            self.session
        )
    }
}

/// The node. Caches the last (tx interface → session) pair, as VPP's runtime data does.
pub struct Encap {
    main: Arc<Shared<L2tpMain>>,
    vnet: Arc<Shared<VnetState>>,
    class: u16,
}

impl fmt::Debug for Encap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("l2tp-encap")
    }
}

pub(crate) fn register(r: &mut Registry, main: Arc<Shared<L2tpMain>>) {
    let vnet = r.vnet.clone();
    r.graph.node(NodeReg::new(
        "l2tp-encap",
        NodeKind::Internal,
        Next::NAMES,
        C::DECLS,
        move |_b| {
            let class = vnet.statics().class_id("l2tpv3").unwrap_or(u16::MAX);
            Box::new(Encap {
                main: main.clone(),
                vnet: vnet.state.clone(),
                class,
            })
        },
    ));
}

impl Node for Encap {
    fn process(&mut self, frame: &mut Frame<'_>, cx: &mut Cx<'_>) {
        let dp = cx.dp();
        let m = self.main.dp(&dp);
        let vs = self.vnet.dp(&dp);
        let rows = m.counters.get(cx.thread());
        let (e_lookup, e_down, e_room) = (
            cx.error(C::LookupFailed),
            cx.error(C::Down),
            cx.error(C::NoHeadroom),
        );
        let mut last_sw = u32::MAX;
        let mut last: Option<(u32, bool)> = None;
        let mut sent = 0u64;
        // Delivered counts of the run of packets for one session, added when the run ends.
        let (mut run_p, mut run_b) = (0u64, 0u64);
        let flush = |last: Option<(u32, bool)>, p: u64, by: u64| {
            if let (Some((idx, _)), true) = (last, p > 0) {
                if let Some(r) = rows.and_then(|t| t.get(idx as usize)) {
                    r.add(sc::TX_PKTS, p);
                    r.add(sc::TX_BYTES, by);
                }
            }
        };
        for (b, nx) in frame.iter_mut() {
            let sw = b.tx();
            if sw != last_sw {
                flush(last, run_p, run_b);
                (run_p, run_b) = (0, 0);
                last_sw = sw;
                last = vs.get(sw).filter(|i| i.class == self.class).and_then(|i| {
                    let idx = i.dev_instance;
                    m.sessions
                        .get(idx as usize)
                        .filter(|s| !s.deleted && s.sw_if_index == sw)
                        .map(|_| (idx, i.admin_up))
                });
            }
            let Some((idx, up)) = last else {
                b.error = e_lookup;
                *nx = Next::Drop as u16;
                continue;
            };
            let s = &m.sessions[idx as usize];
            if !up {
                b.error = e_down;
                *nx = Next::Drop as u16;
                if let Some(r) = rows.and_then(|t| t.get(idx as usize)) {
                    r.add(sc::DOWN_DROPS, 1);
                }
                continue;
            }
            let inner = b.current_length() as usize;
            let rl = s.rewrite_len as usize;
            let Some(h) = b.prepend(rl) else {
                b.error = e_room;
                *nx = Next::Drop as u16;
                continue;
            };
            copy_rewrite(h, &s.rewrite);
            let plen = (rl - 40 + inner) as u16;
            h[4..6].copy_from_slice(&plen.to_be_bytes());
            if s.sequencing {
                // Per session across threads: one fetch-add, only on sequenced sessions.
                let seq = s.seq.next_tx();
                let at = s.sublayer_at();
                h[at..at + 4].copy_from_slice(&Sublayer::new(true, seq).word().to_be_bytes());
            }
            if s.hop_limit.is_some() {
                b.flags |= flags::LOCALLY_ORIGINATED;
            }
            // ip6-lookup uses the RX interface's FIB when TX is unset (VPP: encap_fib_index ~0).
            b.sw_if_index[1] = !0;
            run_p += 1;
            run_b += inner as u64;
            sent += 1;
            *nx = Next::Lookup as u16;
            if b.is_traced() {
                cx.trace(
                    b,
                    EncapTrace {
                        our: s.our.octets(),
                        client: s.client.octets(),
                        session: idx as i32,
                    },
                );
            }
        }
        flush(last, run_p, run_b);
        cx.count(C::NetToUser, sent);
    }
}

/// Copies a rewrite of one of the lengths sessions have (40 + 4 + cookie 0/4/8 + sublayer
/// 0/4) with fixed-size moves the compiler inlines; `h.len()` is the rewrite length.
#[inline(always)]
fn copy_rewrite(h: &mut [u8], rw: &[u8; crate::session::MAX_REWRITE]) {
    fn fixed<const N: usize>(h: &mut [u8], rw: &[u8; crate::session::MAX_REWRITE]) -> bool {
        match (h.first_chunk_mut::<N>(), rw.first_chunk::<N>()) {
            (Some(d), Some(s)) => {
                *d = *s;
                true
            }
            _ => false,
        }
    }
    let done = match h.len() {
        52 => fixed::<52>(h, rw),
        48 => fixed::<48>(h, rw),
        44 => fixed::<44>(h, rw),
        56 => fixed::<56>(h, rw),
        _ => false,
    };
    if !done {
        let n = h.len();
        h.copy_from_slice(&rw[..n]);
    }
}
