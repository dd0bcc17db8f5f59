//! `ip6-input` (VPP's vnet/ip/ip6_input.c): sanity checks, the interface `ip6` counter and the
//! start of the `ip6-unicast` feature arc.
//!
//! Per packet: counts `ip6` on the RX interface; drops with "ip6 length < 40 bytes",
//! "ip6 version != 6", "ip6 length > l2 length" (pwire checks the payload length against the
//! buffer, VPP does not; a shorter payload length trims Ethernet padding off the buffer); hop
//! limit 0 gives "ip6 ttl <= 1" and an ICMPv6 Time Exceeded (`ip6-icmp-error`). Then unicast goes
//! to the first enabled `ip6-unicast` feature of the RX interface, else to `ip6-not-enabled` when
//! IPv6 is off there, else to `ip6-lookup`. Multicast to the groups a node joins (all-nodes,
//! all-routers, MLDv2, solicited-node) goes to `ip6-local` (pwire has no mfib nodes); other
//! multicast is dropped ("ip6 drop").
//!
//! Arcs: `error-drop`, `ip6-lookup`, `ip6-local`, `ip6-icmp-error`, `ip6-not-enabled`, then the
//! feature nodes (added by vnet). Counters: [`Ip6Err`] (its own copy; others borrow it).

use crate::errors::Ip6Err;
use crate::trace::Ip6Bytes;
use crate::Ip6Main;
use pwire_graph::{next_nodes, Cx, Frame, Node, NodeKind, NodeReg};
use pwire_vnet::{ifc, Registry, Vnet};
use pwire_wire::icmpv6::{CODE_HOP_LIMIT_EXCEEDED, TYPE_TIME_EXCEEDED};
use pwire_wire::Ip6Hdr;
use std::sync::Arc;

next_nodes! { pub enum Next {
    Drop => "error-drop",
    Lookup => "ip6-lookup",
    Local => "ip6-local",
    IcmpError => "ip6-icmp-error",
    NotEnabled => "ip6-not-enabled",
} }

/// Most `ip6-unicast` features (bits of `Interface::ip6_unicast_features`).
const MAX_FEATURES: usize = 32;

/// Stores what `ip6-icmp-error` is to send (VPP's `icmp6_error_set_vnet_buffer`).
#[inline(always)]
pub(crate) fn set_icmp_error(b: &mut pwire_buffer::Buffer, ty: u8, code: u8, data: u32) {
    b.opaque.user = [(u32::from(ty) << 8) | u32::from(code), data];
}

/// The node.
#[derive(Debug)]
pub struct Ip6Input {
    vnet: Arc<Vnet>,
    /// Next index per feature bit.
    features: [u16; MAX_FEATURES],
    n_features: usize,
}

pub(crate) fn register(r: &mut Registry, m: &Arc<Ip6Main>) {
    let vnet = m.vnet.clone();
    r.graph.node(NodeReg::new(
        "ip6-input",
        NodeKind::Internal,
        Next::NAMES,
        Ip6Err::DECLS,
        move |b| {
            let mut features = [Next::Lookup as u16; MAX_FEATURES];
            let list = &vnet.statics().ip6_unicast_features;
            for (i, f) in list.iter().take(MAX_FEATURES).enumerate() {
                features[i] = b.next_index(f.node).unwrap_or(Next::Lookup as u16);
            }
            Box::new(Ip6Input {
                vnet: vnet.clone(),
                features,
                n_features: list.len().min(MAX_FEATURES),
            })
        },
    ));
}

/// Link-scope groups a node listens to: ff02::1, ff02::2, ff02::16 and ff02::1:ffXX:XXXX.
#[inline]
fn joined_group(d: &[u8; 16]) -> bool {
    if d[..2] != [0xff, 0x02] || d[2..11] != [0; 9] {
        return false;
    }
    match d[11] {
        0 => d[12..15] == [0; 3] && matches!(d[15], 1 | 2 | 0x16),
        1 => d[12] == 0xff,
        _ => false,
    }
}

impl Node for Ip6Input {
    fn process(&mut self, frame: &mut Frame<'_>, cx: &mut Cx<'_>) {
        let dp = cx.dp();
        let st = self.vnet.state.dp(&dp);
        let thread = cx.thread();
        // The run loop tests each buffer's trace flag only while tracing is on.
        let unicast_run = pwire_graph::tracing_variant!(cx.tracing(), unicast_run);
        let e_short = cx.error(Ip6Err::TooShort);
        let e_version = cx.error(Ip6Err::Version);
        let e_len = cx.error(Ip6Err::BadLength);
        let e_ttl = cx.error(Ip6Err::TimeExpired);
        let e_drop = cx.error(Ip6Err::Drop);
        let drop = Next::Drop as u16;
        let features = &self.features[..self.n_features];
        // Run of packets from one RX interface: one interface lookup, one counter update.
        let mut run_sw = u32::MAX;
        let mut run_n = 0u64;
        let mut feats = 0u32;
        let mut enabled = false;
        let (view, bis, nexts) = frame.parts();
        let n = bis.len();
        let mut i = 0;
        while i < n {
            // SAFETY: frame invariant: each index once; this reference ends here, before the
            // run loop or the packet's own handling below makes the next one.
            let sw = unsafe { view.get_mut(bis[i]) }.rx();
            if sw != run_sw {
                if let Some(r) = st.row(thread, run_sw).filter(|_| run_n > 0) {
                    r.add(ifc::IP6, run_n);
                }
                run_sw = sw;
                run_n = 0;
                (feats, enabled) = st
                    .get(sw)
                    .map_or((0, false), |i| (i.ip6_unicast_features, i.ip6_enabled));
            }
            // The common packet (from the run's interface, unicast, well formed, hop limit
            // left) in a loop of its own, from the run's first packet on.
            if feats != 0 || enabled {
                let next = if feats != 0 {
                    features
                        .get(feats.trailing_zeros() as usize)
                        .copied()
                        .unwrap_or(Next::Lookup as u16)
                } else {
                    Next::Lookup as u16
                };
                let k = unicast_run(view, &bis[i..], run_sw);
                // The run's nexts in one fill (vector stores), not one store per packet.
                nexts[i..i + k].fill(next);
                i += k;
                run_n += k as u64;
                if i == n {
                    break;
                }
                // SAFETY: as above.
                if k > 0 && unsafe { view.get_mut(bis[i]) }.rx() != run_sw {
                    continue;
                }
            }
            // The packet the run loop stopped at (or every packet of an interface without
            // IPv6 and features), from the run's interface.
            // SAFETY: frame invariant: each index once, and slot `i` is visited once.
            let b = unsafe { view.get_mut(bis[i]) };
            let nx = &mut nexts[i];
            i += 1;
            run_n += 1;
            if b.is_traced() {
                cx.trace(b, Ip6Bytes::of(b));
            }
            let len = b.current_length() as usize;
            let Ok((h, _)) = Ip6Hdr::parse(b.current()) else {
                b.error = e_short;
                *nx = drop;
                continue;
            };
            if h.version() != 6 {
                b.error = e_version;
                *nx = drop;
                continue;
            }
            let ip_len = usize::from(h.payload_len.get()) + Ip6Hdr::LEN;
            if ip_len > len {
                b.error = e_len;
                *nx = drop;
                continue;
            }
            let expired = h.hop_limit == 0;
            let mcast = h.dst[0] == 0xff;
            let joined = mcast && joined_group(&h.dst);
            if ip_len < len {
                // Ethernet pads short frames; the padding is not part of the packet.
                b.truncate(ip_len);
            }
            *nx = if expired {
                b.error = e_ttl;
                set_icmp_error(b, TYPE_TIME_EXCEEDED, CODE_HOP_LIMIT_EXCEEDED, 0);
                Next::IcmpError as u16
            } else if mcast {
                b.error = e_drop;
                if !enabled {
                    Next::NotEnabled as u16
                } else if joined {
                    Next::Local as u16
                } else {
                    drop
                }
            } else if feats != 0 {
                features
                    .get(feats.trailing_zeros() as usize)
                    .copied()
                    .unwrap_or(Next::Lookup as u16)
            } else if !enabled {
                b.error = e_drop;
                Next::NotEnabled as u16
            } else {
                Next::Lookup as u16
            };
        }
        if let Some(r) = st.row(thread, run_sw).filter(|_| run_n > 0) {
            r.add(ifc::IP6, run_n);
        }
    }
}

/// Packets from the start of `bis` received on `sw`, untraced, unicast, version 6, not longer
/// than their buffer and with hop limit left: trims Ethernet padding. Returns how many (the
/// caller sets their next); stops at the first other packet. Not inlined: on its own the loop
/// keeps everything in registers.
#[inline(never)]
fn unicast_run<const TRACE: bool>(view: pwire_buffer::View<'_>, bis: &[u32], sw: u32) -> usize {
    // One index (not an enumerate's two counters).
    let mut k = 0;
    while let Some(&bi) = bis.get(k) {
        // SAFETY: frame invariant: each index once; this loop visits each slot once.
        let b = unsafe { view.get_mut(bi) };
        let len = b.current_length() as usize;
        let Some(h) = b.current().first_chunk::<{ Ip6Hdr::LEN }>() else {
            return k;
        };
        let ip_len = usize::from(u16::from_be_bytes([h[4], h[5]])) + Ip6Hdr::LEN;
        if (TRACE && b.is_traced()) || b.rx() != sw || h[0] >> 4 != 6 || h[7] == 0 || h[24] == 0xff
        {
            return k;
        }
        // A packet that fills its buffer takes one compare; a shorter one is Ethernet
        // padding to trim.
        if ip_len != len {
            if ip_len > len {
                return k;
            }
            b.truncate(ip_len);
        }
        k += 1;
    }
    k
}

#[cfg(test)]
mod tests {
    use super::joined_group;

    #[test]
    fn groups() {
        let g = |s: &str| joined_group(&s.parse::<std::net::Ipv6Addr>().unwrap().octets());
        assert!(g("ff02::1") && g("ff02::2") && g("ff02::16") && g("ff02::1:ff00:2"));
        assert!(!g("ff02::3") && !g("ff05::1") && !g("ff02::1:fe00:2") && !g("ff02::2:ff00:1"));
    }
}
