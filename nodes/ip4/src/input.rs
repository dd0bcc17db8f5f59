//! `ip4-input` (VPP's vnet/ip/ip4_input.c, ip4_input.h): sanity checks, the interface `ip4`
//! counter and the start of the `ip4-unicast` feature arc.
//!
//! Per packet: counts `ip4` on the RX interface; drops with "ip4 length < 20 bytes" (buffer or
//! total length), "ip4 version != 4", "ip4 IHL < 5", "ip4 length > l2 length" (header or total
//! length past the buffer, or total length shorter than the header), "bad ip4 checksum" (over
//! the header, options included) and "ip4 fragment offset == 1" (VPP's guard against
//! overlapping-fragment attacks); TTL 0 gives "ip4 ttl <= 1" and an ICMP time exceeded
//! (`ip4-icmp-error`). A header with options counts "ip4 options present" and goes on: options
//! are skipped by its length, never interpreted. Bytes after the total length (Ethernet
//! padding) are trimmed. Then the first enabled `ip4-unicast` feature of the RX interface, else
//! `ip4-not-enabled` when the interface has no IPv4 address, else `ip4-lookup` (multicast and
//! broadcast destinations meet their drop entries there).
//!
//! Arcs: `error-drop`, `ip4-lookup`, `ip4-icmp-error`, `ip4-not-enabled`, then the feature
//! nodes (added by vnet). Counters: [`Ip4Err`] (its own copy; others borrow it).

use crate::errors::Ip4Err;
use crate::state::Ip4Dp;
use crate::trace::Ip4Bytes;
use crate::Ip4Main;
use pwire_graph::{next_nodes, Cx, Frame, Node, NodeKind, NodeReg, Shared};
use pwire_vnet::{ifc, Registry, Vnet};
use pwire_wire::icmpv4::{CODE_TTL_EXCEEDED, TYPE_TIME_EXCEEDED};
use pwire_wire::ipv4::{check, Invalid, Ip4Hdr, PlainTest};
use std::sync::Arc;

next_nodes! { pub enum Next {
    Drop => "error-drop",
    Lookup => "ip4-lookup",
    IcmpError => "ip4-icmp-error",
    NotEnabled => "ip4-not-enabled",
} }

/// Most `ip4-unicast` features (bits of `IfIp4::features`).
const MAX_FEATURES: usize = 32;

/// Stores what `ip4-icmp-error` is to send (VPP's `icmp4_error_set_vnet_buffer`): type, code
/// and the second header word (the next-hop MTU for fragmentation needed).
#[inline(always)]
pub(crate) fn set_icmp_error(b: &mut pwire_buffer::Buffer, ty: u8, code: u8, data: u32) {
    b.opaque.user = [(u32::from(ty) << 8) | u32::from(code), data];
}

/// The node.
#[derive(Debug)]
pub struct Ip4Input {
    vnet: Arc<Vnet>,
    dp: Arc<Shared<Ip4Dp>>,
    /// Next index per feature bit.
    features: [u16; MAX_FEATURES],
    n_features: usize,
}

pub(crate) fn register(r: &mut Registry, m: &Arc<Ip4Main>) {
    let (vnet, dp) = (m.vnet.clone(), m.dp.clone());
    r.graph.node(NodeReg::new(
        "ip4-input",
        NodeKind::Internal,
        Next::NAMES,
        Ip4Err::DECLS,
        move |b| {
            let mut features = [Next::Lookup as u16; MAX_FEATURES];
            let list = &vnet.statics().ip4_unicast_features;
            for (i, f) in list.iter().take(MAX_FEATURES).enumerate() {
                features[i] = b.next_index(f.node).unwrap_or(Next::Lookup as u16);
            }
            Box::new(Ip4Input {
                vnet: vnet.clone(),
                dp: dp.clone(),
                features,
                n_features: list.len().min(MAX_FEATURES),
            })
        },
    ));
}

/// [`Ip4Hdr::checksum_ok`] of a header (the tests check it against the reference).
#[cfg(test)]
fn checksum_ok(h: &[u8; 20]) -> bool {
    Ip4Hdr::parse(h).expect("20 bytes").0.checksum_ok()
}

impl Node for Ip4Input {
    fn process(&mut self, frame: &mut Frame<'_>, cx: &mut Cx<'_>) {
        let dp = cx.dp();
        let vs = self.vnet.state.dp(&dp);
        let st = self.dp.dp(&dp);
        let thread = cx.thread();
        // The run loop tests each buffer's trace flag only while tracing is on.
        let plain_run = pwire_graph::tracing_variant!(cx.tracing(), plain_run);
        let drop = Next::Drop as u16;
        let features = &self.features[..self.n_features];
        // Run of packets from one RX interface: one interface lookup, one counter update.
        let mut run_sw = u32::MAX;
        let mut run_n = 0u64;
        let mut feats = 0u32;
        let mut enabled = false;
        let mut options = 0u64;
        let (view, bis, nexts) = frame.parts();
        let n = bis.len();
        let mut i = 0;
        while i < n {
            // SAFETY: frame invariant: each index once; this reference ends here, before the
            // run loop or the packet's own handling below makes the next one.
            let sw = unsafe { view.get_mut(bis[i]) }.rx();
            if sw != run_sw {
                if let Some(r) = vs.row(thread, run_sw).filter(|_| run_n > 0) {
                    r.add(ifc::IP4, run_n);
                }
                run_sw = sw;
                run_n = 0;
                (feats, enabled) = st
                    .iface(sw)
                    .map_or((0, false), |i| (i.features, i.enabled()));
            }
            // The common packet (from the run's interface, no options, well formed, TTL left)
            // in a loop of its own, from the run's first packet on.
            if feats != 0 || enabled {
                let next = if feats != 0 {
                    features
                        .get(feats.trailing_zeros() as usize)
                        .copied()
                        .unwrap_or(Next::Lookup as u16)
                } else {
                    Next::Lookup as u16
                };
                let k = plain_run(view, &bis[i..], run_sw);
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
            // IPv4 and features), from the run's interface.
            // SAFETY: frame invariant: each index once, and slot `i` is visited once.
            let b = unsafe { view.get_mut(bis[i]) };
            let nx = &mut nexts[i];
            i += 1;
            run_n += 1;
            if b.is_traced() {
                cx.trace(b, Ip4Bytes::of(b));
            }
            let c = match check(b.current()) {
                Ok(c) => c,
                Err(e) => {
                    b.error = cx.error(match e {
                        Invalid::TooShort => Ip4Err::TooShort,
                        Invalid::Version => Ip4Err::Version,
                        Invalid::IhlTooShort => Ip4Err::HdrTooShort,
                        Invalid::BadLength => Ip4Err::BadLength,
                        Invalid::Checksum => Ip4Err::BadChecksum,
                    });
                    *nx = drop;
                    continue;
                }
            };
            // Offset 1 (in 8-byte units).
            if c.frag_offset == 8 {
                b.error = cx.error(Ip4Err::FragmentOffsetOne);
                *nx = drop;
                continue;
            }
            let expired = c.ttl == 0;
            if c.header_len > 20 {
                options += 1;
            }
            // Ethernet pads short frames; the padding is not part of the packet.
            b.truncate(c.total_len);
            *nx = if expired {
                b.error = cx.error(Ip4Err::TimeExpired);
                set_icmp_error(b, TYPE_TIME_EXCEEDED, CODE_TTL_EXCEEDED, 0);
                Next::IcmpError as u16
            } else if feats != 0 {
                features
                    .get(feats.trailing_zeros() as usize)
                    .copied()
                    .unwrap_or(Next::Lookup as u16)
            } else if !enabled {
                b.error = cx.error(Ip4Err::Drop);
                Next::NotEnabled as u16
            } else {
                Next::Lookup as u16
            };
        }
        if let Some(r) = vs.row(thread, run_sw).filter(|_| run_n > 0) {
            r.add(ifc::IP4, run_n);
        }
        cx.count(Ip4Err::Options, options);
    }
}

/// Packets from the start of `bis` received on `sw`, untraced, with a 20-byte header (0x45),
/// a valid checksum, a total length within the buffer, TTL left and fragment offset 0:
/// trims Ethernet padding. Returns how many (the caller sets their next); stops at the first
/// other packet. Not inlined: on its own the loop keeps everything in registers.
#[inline(never)]
fn plain_run<const TRACE: bool>(view: pwire_buffer::View<'_>, bis: &[u32], sw: u32) -> usize {
    // The header test's constants from memory (see `plain_total_len_by`): no register is left
    // for them in this loop, and as immediates they would be rebuilt for every packet.
    let consts = core::hint::black_box(PlainTest::NEW);
    // One index (not an enumerate's two counters): a register fewer.
    let mut k = 0;
    while let Some(&bi) = bis.get(k) {
        // SAFETY: frame invariant: each index once; this loop visits each slot once.
        let b = unsafe { view.get_mut(bi) };
        let len = b.current_length() as usize;
        let Ok((h, _)) = Ip4Hdr::parse(b.current()) else {
            return k;
        };
        if (TRACE && b.is_traced()) || b.rx() != sw {
            return k;
        }
        // Fragments past the first leave the run too: the general path drops offset 1.
        let Some(total) = h.plain_total_len_by(&consts) else {
            return k;
        };
        let total = usize::from(total);
        // A packet that fills its buffer takes one compare; a shorter total length is
        // Ethernet padding to trim (20 <= total < len in one compare: len >= 20).
        if total != len {
            if total.wrapping_sub(Ip4Hdr::LEN) > len - Ip4Hdr::LEN {
                return k;
            }
            b.truncate(total);
        }
        k += 1;
    }
    k
}

#[cfg(test)]
mod tests {
    use super::checksum_ok;

    #[test]
    fn header_checksum() {
        let mut h = [
            0x45, 0, 0, 0x80, 0x53, 0x45, 0x40, 0, 0x40, 0x11, 0x51, 0xd4, 192, 168, 10, 2, 192,
            168, 10, 1,
        ];
        assert!(checksum_ok(&h));
        h[8] = 0x3f;
        assert!(!checksum_ok(&h));
        // A header whose sum folds through both carries.
        let mut h = [0xffu8; 20];
        h[0] = 0x45;
        h[10..12].fill(0);
        let c = pwire_wire::checksum::internet_checksum(&h);
        h[10..12].copy_from_slice(&c.to_be_bytes());
        assert!(checksum_ok(&h));
    }

    /// Against the reference (RFC 1071, pwire-wire's `internet_checksum`): random headers,
    /// with their right checksum, a wrong one, and the sums near the folds' edges (all-ones
    /// words, carries out of 64 bits, a sum that is a multiple of 0xffff but not zero).
    #[test]
    fn header_checksum_matches_the_reference() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for i in 0..200_000 {
            let mut h = [0u8; 20];
            for byte in h.iter_mut() {
                let r = next();
                // Every other header mostly 0xff bytes: carries everywhere.
                *byte = if i % 2 == 0 || r % 8 == 0 {
                    r as u8
                } else {
                    0xff
                };
            }
            h[0] = 0x45;
            let reference = |h: &[u8; 20]| pwire_wire::checksum::internet_checksum(h) == 0;
            assert_eq!(checksum_ok(&h), reference(&h), "{h:02x?}");
            h[10..12].fill(0);
            let c = pwire_wire::checksum::internet_checksum(&h);
            h[10..12].copy_from_slice(&c.to_be_bytes());
            assert!(checksum_ok(&h), "{h:02x?}");
            let k = 1 + (next() % 19) as usize;
            h[k] ^= 1 << (next() % 8);
            assert_eq!(checksum_ok(&h), reference(&h), "{h:02x?}");
        }
    }
}
