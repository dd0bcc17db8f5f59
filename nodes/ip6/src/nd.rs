//! Neighbour discovery (VPP's vnet/ip6-nd and vnet/ip-neighbor/ip6_neighbor.c).
//!
//! - `icmp6-neighbor-solicitation`: an NS for one of the RX interface's addresses is answered
//!   in place with an NA (solicited + override, target link-layer address = our MAC; to
//!   ff02::1 without S for a DAD probe from ::) sent straight to `interface-output`, as VPP does.
//!   A source link-layer address option makes the source a dynamic neighbour. Drops: "neighbor
//!   solicitations for unknown targets", "neighbor solicitations from source not on link",
//!   "option has zero length"; sends count "neighbor advertisements sent".
//! - `icmp6-neighbor-advertisement`: learns (or updates) the target from its target link-layer
//!   address option; the packet is dropped as "neighbor advertisements received".
//! - `ip6-glean` (connected prefix, the target is the packet's destination) and
//!   `ip6-discover-neighbor` (incomplete adjacency, the target is its next hop): the packet is
//!   always dropped; one NS per (target, interface) per 1 ms window is sent from the interface's
//!   link-local address to the solicited-node group with our MAC as source link-layer address
//!   ("neighbor solicitations sent"; repeats are "throttled"). A down or IPv6-less interface gives
//!   "address overflow drops" (VPP's generic DROP code), no link-local "no source address for ND
//!   solicitation", no buffer "no buffers".
//!
//! Learned neighbours go to the main thread ([`crate::Ip6Main::learn`]), which installs the
//! adjacency and the /128 FIB entry under the barrier.
//!
//! Arcs: `error-drop`, `interface-output`. Counters: NS/NA count under `ip6-icmp-input`'s
//! [`IcmpErr`]; the glean nodes declare [`NdErr`].

use crate::errors::{base_of, IcmpErr, NdErr};
use crate::state::{is_local_address, is_on_link, Ip6State};
use crate::trace::{FwdTrace, Ip6Bytes};
use crate::{Ip6Main, Learn};
use pwire_buffer::buffer::{RX, TX};
use pwire_buffer::{flags, Buffer};
use pwire_graph::{next_nodes, Cx, Frame, Node, NodeKind, NodeReg, Shared};
use pwire_vnet::{Registry, Vnet};
use pwire_wire::icmpv6::{NdRepr, NA_FLAG_OVERRIDE, NA_FLAG_SOLICITED};
use pwire_wire::ipv6::{multicast_mac, solicited_node, ALL_NODES, PROTO_ICMPV6};
use pwire_wire::{Error as WireError, EthHdr, Ip6Hdr, Mac};
use std::net::Ipv6Addr;
use std::sync::Arc;

next_nodes! { pub enum Next { Drop => "error-drop", Out => "interface-output" } }

/// `icmp6-neighbor-solicitation` (`NA == false`) or `icmp6-neighbor-advertisement`.
#[derive(Debug)]
pub struct NdInput<const NA: bool> {
    m: Arc<Ip6Main>,
    icmp_errors: u16,
}

/// `ip6-glean` (`DISCOVER == false`) or `ip6-discover-neighbor`.
#[derive(Debug)]
pub struct Glean<const DISCOVER: bool> {
    vnet: Arc<Vnet>,
    state: Arc<Shared<Ip6State>>,
    /// Throttle: one bit per hashed (target, interface), cleared every millisecond.
    bits: [u64; 8],
    seed: u64,
    window_start: f64,
}

fn reg_nd<const NA: bool>(r: &mut Registry, m: &Arc<Ip6Main>) {
    let name = if NA {
        "icmp6-neighbor-advertisement"
    } else {
        "icmp6-neighbor-solicitation"
    };
    let m = m.clone();
    r.graph.node(NodeReg::new(
        name,
        NodeKind::Internal,
        Next::NAMES,
        &[],
        move |b| {
            Box::new(NdInput::<NA> {
                m: m.clone(),
                icmp_errors: base_of(b, "ip6-icmp-input"),
            })
        },
    ));
}

fn reg_glean<const DISCOVER: bool>(r: &mut Registry, m: &Arc<Ip6Main>) {
    let name = if DISCOVER {
        "ip6-discover-neighbor"
    } else {
        "ip6-glean"
    };
    let (vnet, state) = (m.vnet.clone(), m.state.clone());
    r.graph.node(NodeReg::new(
        name,
        NodeKind::Internal,
        Next::NAMES,
        NdErr::DECLS,
        move |b| {
            Box::new(Glean::<DISCOVER> {
                vnet: vnet.clone(),
                state: state.clone(),
                bits: [0; 8],
                seed: 0x9e37_79b9_7f4a_7c15 ^ b.thread as u64,
                window_start: f64::NEG_INFINITY,
            })
        },
    ));
}

pub(crate) fn register(r: &mut Registry, m: &Arc<Ip6Main>) {
    reg_nd::<false>(r, m);
    reg_nd::<true>(r, m);
    reg_glean::<false>(r, m);
    reg_glean::<true>(r, m);
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

impl<const NA: bool> Node for NdInput<NA> {
    fn process(&mut self, frame: &mut Frame<'_>, cx: &mut Cx<'_>) {
        let dp = cx.dp();
        let vs = self.m.vnet.state.dp(&dp);
        let err = |e: IcmpErr| self.icmp_errors + e as u16;
        let mut na_tx = 0u64;
        for (b, nx) in frame.iter_mut() {
            *nx = Next::Drop as u16;
            if b.is_traced() {
                cx.trace(b, Ip6Bytes::of(b));
            }
            let sw = b.rx();
            let parsed = Ip6Hdr::parse(b.current())
                .map_err(WireError::from)
                .and_then(|(h, rest)| {
                    let msg = &rest[..usize::from(h.payload_len.get()).min(rest.len())];
                    Ok((Ipv6Addr::from(h.src), NdRepr::parse(msg)?))
                });
            let (src, nd) = match parsed {
                Ok(x) => x,
                Err(WireError::ZeroLengthOption) => {
                    b.error = err(IcmpErr::OptionWithZeroLength);
                    continue;
                }
                Err(_) => {
                    b.error = err(IcmpErr::LengthTooSmallForType);
                    continue;
                }
            };
            let Some(i) = vs.get(sw).filter(|i| i.ip6_enabled) else {
                b.error = err(IcmpErr::NsUnknownTarget);
                continue;
            };
            match nd {
                NdRepr::Advert {
                    target,
                    target_lladdr,
                    ..
                } => {
                    if let Some(mac) = target_lladdr {
                        if !is_local_address(i, target) {
                            self.m.learn(Learn {
                                sw,
                                ip: target,
                                mac: mac.0,
                            });
                        }
                    }
                    // Counted by error-drop under this reason.
                    b.error = err(IcmpErr::NaRx);
                }
                NdRepr::Solicit {
                    target,
                    source_lladdr,
                } => {
                    if !is_local_address(i, target) {
                        b.error = err(IcmpErr::NsUnknownTarget);
                        continue;
                    }
                    let dad = src.is_unspecified();
                    if !dad && !is_on_link(i, src) {
                        b.error = err(IcmpErr::NsSourceNotOnLink);
                        continue;
                    }
                    if let (false, Some(mac)) = (dad, source_lladdr) {
                        self.m.learn(Learn {
                            sw,
                            ip: src,
                            mac: mac.0,
                        });
                    }
                    // RFC 4861 §7.2.4: a DAD probe is answered to all-nodes, without S.
                    let (dst, eth_dst, fl) = if dad {
                        (
                            ALL_NODES,
                            Some(multicast_mac(ALL_NODES).0),
                            NA_FLAG_OVERRIDE,
                        )
                    } else {
                        (
                            src,
                            source_lladdr.map(|m| m.0).or_else(|| l2_source(b)),
                            NA_FLAG_SOLICITED | NA_FLAG_OVERRIDE,
                        )
                    };
                    let Some(eth_dst) = eth_dst else {
                        b.error = err(IcmpErr::Drop);
                        continue;
                    };
                    if !write_nd(
                        b,
                        target,
                        dst,
                        NdRepr::Advert {
                            flags: fl,
                            target,
                            target_lladdr: Some(Mac(i.mac)),
                        },
                        eth_dst,
                        i.mac,
                    ) {
                        b.error = err(IcmpErr::Drop);
                        continue;
                    }
                    b.sw_if_index[TX] = sw;
                    b.flags |= flags::LOCALLY_ORIGINATED;
                    na_tx += 1;
                    *nx = Next::Out as u16;
                }
            }
        }
        cx.count_global(err(IcmpErr::NaTx), na_tx);
    }
}

/// Writes a whole ND packet (Ethernet, IPv6, ND with its option) at the current position of
/// `b`, replacing its contents. False if the buffer cannot hold it.
fn write_nd(
    b: &mut Buffer,
    src: Ipv6Addr,
    dst: Ipv6Addr,
    nd: NdRepr,
    eth_dst: [u8; 6],
    eth_src: [u8; 6],
) -> bool {
    let len = Ip6Hdr::LEN + nd.buffer_len();
    if !b.set_len(len) {
        return false;
    }
    let Ok((ip, rest)) = Ip6Hdr::parse_mut(b.current_mut()) else {
        return false;
    };
    ip.set_default(nd.buffer_len() as u16, PROTO_ICMPV6, 255, src, dst);
    if nd.emit(src, dst, rest).is_err() {
        return false;
    }
    match b.prepend(EthHdr::LEN) {
        Some(h) => EthHdr::new(
            Mac(eth_dst),
            Mac(eth_src),
            pwire_wire::ethernet::ethertype::IPV6,
        )
        .emit(h)
        .is_ok(),
        None => false,
    }
}

/// Sends an unsolicited neighbour advertisement for `addr` out of `sw` (RFC 4861 §7.2.6):
/// to all-nodes, override set, our MAC as target link-layer address. Sent when an address is
/// added to an up interface and when an interface with addresses comes up, so neighbours that
/// cached an old MAC (a restarted peer picks a new random one) update at once instead of
/// black-holing traffic. Returns whether a packet was sent.
pub(crate) fn announce(cx: &mut pwire_vnet::CliCtx, sw: u32, addr: Ipv6Addr) -> bool {
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
        let nd = NdRepr::Advert {
            flags: NA_FLAG_OVERRIDE,
            target: addr,
            target_lladdr: Some(Mac(mac)),
        };
        if !write_nd(b, addr, ALL_NODES, nd, multicast_mac(ALL_NODES).0, mac) {
            return false;
        }
        b.sw_if_index = [sw, sw];
        b.flags |= flags::LOCALLY_ORIGINATED;
        true
    })
}

#[inline]
fn throttle_hash(target: Ipv6Addr, sw: u32, seed: u64) -> usize {
    let t = u128::from(target);
    let x = (t as u64) ^ ((t >> 64) as u64).rotate_left(17) ^ u64::from(sw).rotate_left(41) ^ seed;
    let m = u128::from(x).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (((m >> 64) as u64 ^ m as u64) & 511) as usize
}

impl<const DISCOVER: bool> Node for Glean<DISCOVER> {
    fn process(&mut self, frame: &mut Frame<'_>, cx: &mut Cx<'_>) {
        let dp = cx.dp();
        let vs = self.vnet.state.dp(&dp);
        let st = self.state.dp(&dp);
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
                        hdr: Ip6Bytes::of(b),
                    },
                );
            }
            let target = if DISCOVER {
                st.adjs
                    .get(b.opaque.adj_index as usize)
                    .map(|a| (a.sw, a.nh))
            } else {
                Ip6Hdr::parse(b.current())
                    .ok()
                    .map(|(h, _)| (b.opaque.adj_index, Ipv6Addr::from(h.dst)))
            };
            let iface = target.and_then(|(sw, t)| {
                vs.get(sw)
                    .filter(|i| i.admin_up && i.ip6_enabled)
                    .map(|i| (i, sw, t))
            });
            let Some((i, sw, target)) = iface else {
                b.error = cx.error(NdErr::Drop);
                continue;
            };
            let bit = throttle_hash(target, sw, self.seed);
            let (w, m) = (bit / 64, 1u64 << (bit % 64));
            if self.bits[w] & m != 0 {
                b.error = cx.error(NdErr::Throttled);
                continue;
            }
            self.bits[w] |= m;
            let Some(ll) = i.ip6_link_local else {
                b.error = cx.error(NdErr::NoSourceAddress);
                continue;
            };
            let mut one = [0u32; 1];
            if cx.alloc(&mut one) == 0 {
                b.error = cx.error(NdErr::NoBuffers);
                continue;
            }
            let group = solicited_node(target);
            // SAFETY: `one[0]` was just allocated by this node: no frame, cache or ring holds it.
            let nb = unsafe { cx.buf_mut(one[0]) };
            // A fresh buffer has room for 14 + 72 bytes after the headroom.
            nb.set_start(EthHdr::LEN as i16);
            let ns = NdRepr::Solicit {
                target,
                source_lladdr: Some(Mac(i.mac)),
            };
            if !write_nd(nb, ll, group, ns, multicast_mac(group).0, i.mac) {
                // SAFETY: `one[0]` was allocated above, is in no frame, and `nb` is not used
                // again.
                unsafe { cx.free(&one) };
                b.error = cx.error(NdErr::NoBuffers);
                continue;
            }
            nb.sw_if_index[RX] = sw;
            nb.sw_if_index[TX] = sw;
            nb.flags |= flags::LOCALLY_ORIGINATED;
            // SAFETY: `one[0]` was allocated above and is enqueued once; `nb` is not used again.
            unsafe { cx.enqueue(Next::Out, one[0]) };
            b.error = cx.error(NdErr::RequestSent);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::throttle_hash;

    #[test]
    fn throttle_hash_spreads() {
        let mut seen = std::collections::HashSet::new();
        for i in 0..64u128 {
            seen.insert(throttle_hash(
                std::net::Ipv6Addr::from((0xfd00u128 << 112) | i),
                1,
                7,
            ));
        }
        assert!(
            seen.len() > 50,
            "64 targets should mostly land on different bits, got {}",
            seen.len()
        );
    }
}
