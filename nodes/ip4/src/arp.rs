//! ARP (VPP's vnet/arp/arp.c and vnet/ip-neighbor/ip4_neighbor.c).
//!
//! - `arp-input` (ethertype 0x0806): the checks of the packet itself — 28 bytes ("ARP packet
//!   too short"), Ethernet hardware ("L2 type not ethernet"), IPv4 protocol ("L3 type not
//!   IP4"), an interface with IPv4 ("ARP Disabled") — then `arp-reply`.
//! - `arp-reply`: the checks against our addresses, in VPP's order: the sender MAC is the
//!   frame's source ("ARP hw addr does not match L2 frame src addr"), the sender is not one of
//!   our addresses ("IP4 source address matches local interface": an address conflict), the
//!   sender is on a connected prefix of the RX interface ("IP4 source address not local to
//!   subnet"), the target is ours ("IP4 destination address not local to subnet"; pwire has no
//!   proxy ARP). A request for our address makes the sender a dynamic neighbour and is
//!   answered in place (opcode reply, addresses swapped, our MAC) straight to
//!   `interface-output` ("ARP replies sent", "ARP request IP4 source address learned"); a reply
//!   to us is learned and dropped as "ARP replies received". A probe (sender 0.0.0.0, RFC 5227)
//!   for our address is answered, so the prober sees the conflict; a gratuitous announcement
//!   refreshes a neighbour we already have (a peer that restarted with a new MAC) and is
//!   dropped as "ARP probe or announcement dropped", as are probes for others. Learned
//!   neighbours go to the main thread ([`crate::Ip4Main::learn`]).
//! - `ip4-glean` (connected prefix, the target is the packet's destination) and `ip4-arp`
//!   (incomplete adjacency, the target is its next hop): the packet is always dropped (as
//!   VPP and the ip6 glean); one request per (target, interface) per 1 ms window is broadcast
//!   from the interface's address covering the target ("ARP requests sent"; repeats are
//!   "ARP requests throttled"). A down or IPv4-less interface gives "address overflow drops"
//!   (VPP's generic drop code), no address "no source address for ARP request", no buffer
//!   "ARP requests out of buffer".
//! - [`announce`]: a gratuitous ARP (RFC 5227 §3 announcement) when an address is added to an
//!   up interface and when an interface with addresses comes up, so that neighbours holding
//!   our old MAC (pwire restarted with a new random one) update at once.
//!
//! Arcs: `arp-input` → `error-drop`, `arp-reply`; `arp-reply` and the gleans → `error-drop`,
//! `interface-output`. Counters: [`ArpErr`] (arp-input and arp-reply each their own copy, as
//! VPP), [`GleanErr`] (each glean node its own).

use crate::errors::{ArpErr, GleanErr};
use crate::state::Ip4Dp;
use crate::trace::{ArpBytes, FwdTrace, Ip4Bytes};
use crate::{Ip4Main, Learn};
use pwire_buffer::buffer::{RX, TX};
use pwire_buffer::{flags, Buffer};
use pwire_graph::{next_nodes, Cx, Frame, Node, NodeKind, NodeReg, Shared};
use pwire_vnet::{Registry, Vnet};
use pwire_wire::arp::{OP_REPLY, OP_REQUEST};
use pwire_wire::ethernet::ethertype;
use pwire_wire::ipv4::is_special_source;
use pwire_wire::{ArpHdr, EthHdr, Mac};
use std::net::Ipv4Addr;
use std::sync::Arc;

next_nodes! { pub enum InputNext { Drop => "error-drop", Reply => "arp-reply" } }
next_nodes! { pub enum Next { Drop => "error-drop", Out => "interface-output" } }

/// `arp-input`.
#[derive(Debug)]
pub struct ArpInput {
    dp: Arc<Shared<Ip4Dp>>,
}

/// `arp-reply`.
#[derive(Debug)]
pub struct ArpReply {
    m: Arc<Ip4Main>,
}

/// `ip4-glean` (`ARP == false`) or `ip4-arp`.
#[derive(Debug)]
pub struct Glean<const ARP: bool> {
    vnet: Arc<Vnet>,
    dp: Arc<Shared<Ip4Dp>>,
    /// Throttle: one bit per hashed (target, interface), cleared every millisecond.
    bits: [u64; 8],
    seed: u64,
    window_start: f64,
}

fn reg_glean<const ARP: bool>(r: &mut Registry, m: &Arc<Ip4Main>) {
    let name = if ARP { "ip4-arp" } else { "ip4-glean" };
    let (vnet, dp) = (m.vnet.clone(), m.dp.clone());
    r.graph.node(NodeReg::new(
        name,
        NodeKind::Internal,
        Next::NAMES,
        GleanErr::DECLS,
        move |b| {
            Box::new(Glean::<ARP> {
                vnet: vnet.clone(),
                dp: dp.clone(),
                bits: [0; 8],
                seed: 0x9e37_79b9_7f4a_7c15 ^ b.thread as u64,
                window_start: f64::NEG_INFINITY,
            })
        },
    ));
}

pub(crate) fn register(r: &mut Registry, m: &Arc<Ip4Main>) {
    let dp = m.dp.clone();
    r.graph.node(NodeReg::new(
        "arp-input",
        NodeKind::Internal,
        InputNext::NAMES,
        ArpErr::DECLS,
        move |_b| Box::new(ArpInput { dp: dp.clone() }),
    ));
    let mm = m.clone();
    r.graph.node(NodeReg::new(
        "arp-reply",
        NodeKind::Internal,
        Next::NAMES,
        ArpErr::DECLS,
        move |_b| Box::new(ArpReply { m: mm.clone() }),
    ));
    reg_glean::<false>(r, m);
    reg_glean::<true>(r, m);
}

impl Node for ArpInput {
    fn process(&mut self, frame: &mut Frame<'_>, cx: &mut Cx<'_>) {
        let dp = cx.dp();
        let st = self.dp.dp(&dp);
        for (b, nx) in frame.iter_mut() {
            if b.is_traced() {
                cx.trace(b, ArpBytes::of(b));
            }
            let err = match ArpHdr::parse(b.current()) {
                Err(_) => Some(ArpErr::TooShort),
                Ok((h, _)) if !h.is_ethernet() => Some(ArpErr::L2TypeNotEthernet),
                Ok((h, _)) if !h.is_ipv4() => Some(ArpErr::L3TypeNotIp4),
                Ok(_) if !st.iface(b.rx()).is_some_and(|i| i.enabled()) => Some(ArpErr::Disabled),
                Ok(_) => None,
            };
            *nx = match err {
                Some(e) => {
                    b.error = cx.error(e);
                    InputNext::Drop as u16
                }
                None => InputNext::Reply as u16,
            };
        }
    }
}

/// The Ethernet source address of the frame `b` came in, if its L2 header is still in front.
fn l2_source(b: &mut Buffer) -> Option<[u8; 6]> {
    let l2 = usize::from(b.l2_len);
    if l2 < EthHdr::LEN {
        return None;
    }
    let mut mac = [0u8; 6];
    mac.copy_from_slice(&b.prepend(l2)?[6..12]);
    b.advance(l2 as i32);
    Some(mac)
}

/// What `arp-reply` decided for one packet.
enum Verdict {
    Drop(ArpErr),
    /// Learn the sender, then drop under the reason.
    LearnDrop(ArpErr, bool),
    /// Answer; learn the sender first when true.
    Answer(bool),
}

impl Node for ArpReply {
    fn process(&mut self, frame: &mut Frame<'_>, cx: &mut Cx<'_>) {
        let dp = cx.dp();
        let st = self.m.dp.dp(&dp);
        let vs = self.m.vnet.state.dp(&dp);
        let (mut sent, mut learned) = (0u64, 0u64);
        for (b, nx) in frame.iter_mut() {
            *nx = Next::Drop as u16;
            if b.is_traced() {
                cx.trace(b, ArpBytes::of(b));
            }
            let sw = b.rx();
            let eth_src = l2_source(b);
            let Ok((h, _)) = ArpHdr::parse(b.current()) else {
                b.error = cx.error(ArpErr::TooShort);
                continue;
            };
            let (Some(i), Some(ifc)) = (st.iface(sw), vs.get(sw)) else {
                b.error = cx.error(ArpErr::Disabled);
                continue;
            };
            let (op, sha, spa, tpa) = (h.oper.get(), h.sha, h.sender_ip(), h.target_ip());
            let verdict = if op != OP_REQUEST && op != OP_REPLY {
                Verdict::Drop(ArpErr::OpcodeNotRequest)
            } else if sha.0[0] & 1 != 0 || eth_src.is_some_and(|m| m != sha.0) {
                Verdict::Drop(ArpErr::L2AddressMismatch)
            } else if spa.is_unspecified() {
                // An address probe (RFC 5227 §2.1.1): answer if it is for us, learn nothing.
                if op == OP_REQUEST && i.is_local(tpa) {
                    Verdict::Answer(false)
                } else {
                    Verdict::Drop(ArpErr::GratuitousArp)
                }
            } else if i.is_local(spa) {
                Verdict::Drop(ArpErr::L3SrcAddressIsLocal)
            } else if !i.on_link(spa) || is_special_source(u32::from(spa)) {
                Verdict::Drop(ArpErr::L3SrcAddressNotLocal)
            } else if spa == tpa {
                // An announcement: refresh a neighbour we have, add none.
                Verdict::LearnDrop(ArpErr::GratuitousArp, true)
            } else if !i.is_local(tpa) {
                Verdict::Drop(ArpErr::L3DstAddressNotLocal)
            } else if op == OP_REPLY {
                Verdict::LearnDrop(ArpErr::RepliesReceived, false)
            } else {
                Verdict::Answer(true)
            };
            match verdict {
                Verdict::Drop(e) => b.error = cx.error(e),
                Verdict::LearnDrop(e, update_only) => {
                    self.m.learn(Learn {
                        sw,
                        ip: spa,
                        mac: sha.0,
                        update_only,
                    });
                    b.error = cx.error(e);
                }
                Verdict::Answer(learn) => {
                    if learn {
                        self.m.learn(Learn {
                            sw,
                            ip: spa,
                            mac: sha.0,
                            update_only: false,
                        });
                        learned += 1;
                    }
                    if !answer(b, ifc.mac) {
                        b.error = cx.error(ArpErr::TooShort);
                        continue;
                    }
                    b.sw_if_index[TX] = sw;
                    b.flags |= flags::LOCALLY_ORIGINATED;
                    sent += 1;
                    *nx = Next::Out as u16;
                }
            }
        }
        cx.count(ArpErr::RepliesSent, sent);
        cx.count(ArpErr::L3SrcAddressLearned, learned);
    }
}

/// Turns the request in `b` into our reply with its Ethernet header; false if the buffer
/// cannot hold it.
fn answer(b: &mut Buffer, mac: [u8; 6]) -> bool {
    // The reply is the 28-byte ARP packet only (the request's padding goes).
    b.truncate(ArpHdr::LEN);
    let Ok((h, _)) = ArpHdr::parse_mut(b.current_mut()) else {
        return false;
    };
    h.make_reply(Mac(mac));
    let to = h.tha;
    match b.prepend(EthHdr::LEN) {
        Some(e) => EthHdr::new(to, Mac(mac), ethertype::ARP).emit(e).is_ok(),
        None => false,
    }
}

/// Writes a whole ARP frame (Ethernet header and packet) at the current position of `b`.
fn write_arp(b: &mut Buffer, eth_dst: [u8; 6], arp: ArpHdr) -> bool {
    if !b.set_len(ArpHdr::LEN) || arp.emit(b.current_mut()).is_err() {
        return false;
    }
    match b.prepend(EthHdr::LEN) {
        Some(h) => EthHdr::new(Mac(eth_dst), arp.sha, ethertype::ARP)
            .emit(h)
            .is_ok(),
        None => false,
    }
}

/// Broadcasts a gratuitous ARP for `addr` out of `sw` (RFC 5227 §3). Sent when an address is
/// added to an up interface and when an interface with addresses comes up, so neighbours that
/// cached an old MAC update at once instead of black-holing traffic until their entry ages out.
/// Returns whether a packet was sent.
pub(crate) fn announce(cx: &mut pwire_vnet::CliCtx, sw: u32, addr: Ipv4Addr) -> bool {
    let mac = match cx.vnet.state.get(&cx.ctl).get(sw) {
        Some(i) if i.admin_up && cx.vnet.statics().class(i.class).ethernet => i.mac,
        _ => return false,
    };
    let Some(out) = cx.vnet.statics().graph.node_index("interface-output") else {
        return false;
    };
    let Some(rt) = cx.main.as_mut() else {
        return false;
    };
    rt.send(out, |b| {
        if !write_arp(b, [0xff; 6], ArpHdr::announcement(Mac(mac), addr)) {
            return false;
        }
        b.sw_if_index = [sw, sw];
        b.flags |= flags::LOCALLY_ORIGINATED;
        true
    })
}

#[inline]
fn throttle_hash(target: Ipv4Addr, sw: u32, seed: u64) -> usize {
    let x = u64::from(u32::from(target)) ^ u64::from(sw).rotate_left(41) ^ seed;
    let m = u128::from(x).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (((m >> 64) as u64 ^ m as u64) & 511) as usize
}

impl<const ARP: bool> Node for Glean<ARP> {
    fn process(&mut self, frame: &mut Frame<'_>, cx: &mut Cx<'_>) {
        let dp = cx.dp();
        let vs = self.vnet.state.dp(&dp);
        let st = self.dp.dp(&dp);
        let now = cx.now();
        if now - self.window_start > 1e-3 {
            self.bits = [0; 8];
            self.seed = self
                .seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(cx.now_tsc() | 1);
            self.window_start = now;
        }
        frame.set_all(Next::Drop as u16);
        for (b, _) in frame.iter_mut() {
            if b.is_traced() {
                cx.trace(
                    b,
                    FwdTrace {
                        dpo: b.opaque.adj_index,
                        hdr: Ip4Bytes::of(b),
                    },
                );
            }
            let target = if ARP {
                st.adjs
                    .get(b.opaque.adj_index as usize)
                    .map(|a| (a.sw, a.nh))
            } else {
                b.current().first_chunk::<20>().map(|h| {
                    (
                        b.opaque.adj_index,
                        Ipv4Addr::new(h[16], h[17], h[18], h[19]),
                    )
                })
            };
            let iface = target.and_then(|(sw, t)| {
                let i = vs.get(sw).filter(|i| i.admin_up)?;
                let ip = st.iface(sw).filter(|x| x.enabled())?;
                Some((i.mac, ip, sw, t))
            });
            let Some((mac, ip, sw, target)) = iface else {
                b.error = cx.error(GleanErr::Drop);
                continue;
            };
            let bit = throttle_hash(target, sw, self.seed);
            let (w, m) = (bit / 64, 1u64 << (bit % 64));
            if self.bits[w] & m != 0 {
                b.error = cx.error(GleanErr::Throttled);
                continue;
            }
            self.bits[w] |= m;
            let Some(src) = ip.source_for(target) else {
                b.error = cx.error(GleanErr::NoSourceAddress);
                continue;
            };
            let mut one = [0u32; 1];
            if cx.alloc(&mut one) == 0 {
                b.error = cx.error(GleanErr::NoBuffers);
                continue;
            }
            // SAFETY: `one[0]` was just allocated by this node: no frame, cache or ring holds it.
            let nb = unsafe { cx.buf_mut(one[0]) };
            nb.set_start(EthHdr::LEN as i16);
            if !write_arp(nb, [0xff; 6], ArpHdr::request(Mac(mac), src, target)) {
                // SAFETY: `one[0]` was allocated above, is in no frame, and `nb` is not used
                // again.
                unsafe { cx.free(&one) };
                b.error = cx.error(GleanErr::NoBuffers);
                continue;
            }
            nb.sw_if_index[RX] = sw;
            nb.sw_if_index[TX] = sw;
            nb.flags |= flags::LOCALLY_ORIGINATED;
            // SAFETY: `one[0]` was allocated above and is enqueued once; `nb` is not used again.
            unsafe { cx.enqueue(Next::Out, one[0]) };
            b.error = cx.error(GleanErr::RequestSent);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::throttle_hash;

    #[test]
    fn throttle_hash_spreads() {
        let mut seen = std::collections::HashSet::new();
        for i in 0..64u32 {
            seen.insert(throttle_hash(
                std::net::Ipv4Addr::from(0x0a00_0000 | i),
                1,
                7,
            ));
        }
        assert!(seen.len() > 50, "{}", seen.len());
    }
}
