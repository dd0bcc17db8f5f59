//! ICMPv4 nodes (VPP's vnet/ip/icmp4.c and the ping plugin's reply node).
//!
//! - `ip4-icmp-input`: checks code and minimum length per type, then dispatches by type: echo
//!   request, echo reply; anything else (and any failed check) is punted under its reason
//!   ("unknown type", "invalid code for type", "payload length too small for type"). Arcs:
//!   `ip4-punt`, `ip4-icmp-echo-request`, `ip4-icmp-echo-reply`. Counters: [`IcmpErr`] (the
//!   echo nodes count under this node's copy).
//! - `ip4-icmp-echo-request`: turns the request into the reply in place (a fresh 20-byte header,
//!   options dropped, addresses swapped, TTL 64, type 0, checksums), marks it
//!   LOCALLY_ORIGINATED and sends it to `ip4-lookup`; "echo replies sent".
//! - `ip4-icmp-echo-reply`: a reply for the running `ping` is recorded in [`crate::PingTable`]
//!   and freed; others are punted. Arcs: `ip4-punt`.
//! - `ip4-icmp-error`: for a packet `ip4-input` or `ip4-rewrite` refused, builds the ICMP error
//!   they asked for (type/code/data in `opaque.user`) in a new buffer: a fresh IPv4 header
//!   (TTL 255, as VPP) and ICMP header, then as much of the original as fits in 576 bytes
//!   (RFC 1812 §4.3.2.3), from the RX interface's address back to the original source, to
//!   `ip4-lookup`. The original goes to `error-drop` with its reason. No error is sent about an
//!   ICMP error, a non-first fragment, a packet to a multicast or broadcast address, or from a
//!   source that cannot be answered (0/8, 127/8, multicast, class E, broadcast: RFC 1122
//!   §3.2.2): "error message dropped". Errors are rate limited per source: each thread sends
//!   at most one per source (hashed into 512 slots, reseeded each window) per millisecond;
//!   the rest count "error message rate limited" — a flood of expired or oversize packets from
//!   one host costs one error per millisecond, not one per packet. Arcs: `error-drop`,
//!   `ip4-lookup`. Counters: [`IcmpErr`] (own).

use crate::errors::{base_of, IcmpErr};
use crate::state::Ip4Dp;
use crate::trace::Ip4Bytes;
use crate::{Ip4Main, PingTable};
use pwire_buffer::buffer::{RX, TX};
use pwire_buffer::{flags, BufferIndex};
use pwire_graph::{
    next_nodes, Cx, Frame, Node, NodeKind, NodeReg, Shared, FRAME_SIZE, NEXT_CONSUMED,
};
use pwire_vnet::Registry;
use pwire_wire::icmpv4::{
    fill_checksum, is_error, Icmp4Hdr, CODE_FRAG_NEEDED, ERROR_MAX_LEN, TYPE_DEST_UNREACHABLE,
    TYPE_ECHO_REPLY, TYPE_ECHO_REQUEST, TYPE_PARAM_PROBLEM, TYPE_TIME_EXCEEDED,
};
use pwire_wire::ipv4::{is_multicast, is_special_source, FRAG_OFFSET_MASK, PROTO_ICMP};
use pwire_wire::Ip4Hdr;
use std::net::Ipv4Addr;
use std::sync::Arc;

/// TTL of packets pwire originates as a host (VPP's `ip4_main.host_config.ttl`).
pub const HOST_TTL: u8 = 64;

mod input_next {
    pwire_graph::next_nodes! { pub enum Next {
        Punt => "ip4-punt",
        EchoRequest => "ip4-icmp-echo-request",
        EchoReply => "ip4-icmp-echo-reply",
    } }
}
use input_next::Next;

/// `ip4-icmp-input`.
#[derive(Debug)]
pub struct IcmpInput {
    /// The next index of the registered "too big" consumer (`Registry::icmp_too_big`), or
    /// `u16::MAX` (punted).
    too_big: u16,
}

/// `ip4-icmp-echo-request`.
#[derive(Debug)]
pub struct EchoRequest {
    icmp_errors: u16,
}

/// `ip4-icmp-echo-reply`.
#[derive(Debug)]
pub struct EchoReply {
    m: Arc<Ip4Main>,
    icmp_errors: u16,
    free: Box<[BufferIndex; FRAME_SIZE]>,
}

/// `ip4-icmp-error`.
#[derive(Debug)]
pub struct IcmpError {
    dp: Arc<Shared<Ip4Dp>>,
    /// Rate limit: one bit per hashed source, cleared every millisecond.
    bits: [u64; 8],
    seed: u64,
    window_start: f64,
}

next_nodes! { enum LookupNext { Lookup => "ip4-lookup" } }
next_nodes! { enum ReplyNext { Punt => "ip4-punt" } }
next_nodes! { enum ErrorNext { Drop => "error-drop", Lookup => "ip4-lookup" } }

pub(crate) fn register(r: &mut Registry, m: &Arc<Ip4Main>) {
    r.graph.node(NodeReg::new(
        "ip4-icmp-input",
        NodeKind::Internal,
        Next::NAMES,
        IcmpErr::DECLS,
        {
            let vnet = m.vnet.clone();
            move |b| {
                let too_big = vnet
                    .statics()
                    .icmp_too_big
                    .and_then(|h| b.next_index(h.ip4))
                    .unwrap_or(u16::MAX);
                Box::new(IcmpInput { too_big })
            }
        },
    ));
    r.graph.node(NodeReg::new(
        "ip4-icmp-echo-request",
        NodeKind::Internal,
        LookupNext::NAMES,
        &[],
        move |b| {
            Box::new(EchoRequest {
                icmp_errors: base_of(b, "ip4-icmp-input"),
            })
        },
    ));
    let mm = m.clone();
    r.graph.node(NodeReg::new(
        "ip4-icmp-echo-reply",
        NodeKind::Internal,
        ReplyNext::NAMES,
        &[],
        move |b| {
            Box::new(EchoReply {
                m: mm.clone(),
                icmp_errors: base_of(b, "ip4-icmp-input"),
                free: Box::new([0; FRAME_SIZE]),
            })
        },
    ));
    let dp = m.dp.clone();
    r.graph.node(NodeReg::new(
        "ip4-icmp-error",
        NodeKind::Internal,
        ErrorNext::NAMES,
        IcmpErr::DECLS,
        move |b| {
            Box::new(IcmpError {
                dp: dp.clone(),
                bits: [0; 8],
                seed: 0x2545_f491_4f6c_dd1d ^ b.thread as u64,
                window_start: f64::NEG_INFINITY,
            })
        },
    ));
}

/// The ICMP message of an IPv4 packet (after the header's IHL, up to its total length).
#[inline]
fn icmp_msg(d: &[u8]) -> &[u8] {
    let Some(h) = d.first_chunk::<20>() else {
        return &d[..0];
    };
    let hl = usize::from(h[0] & 15) * 4;
    let total = usize::from(u16::from_be_bytes([h[2], h[3]])).min(d.len());
    d.get(hl..total).unwrap_or(&d[..0])
}

impl Node for IcmpInput {
    fn process(&mut self, frame: &mut Frame<'_>, cx: &mut Cx<'_>) {
        for (b, nx) in frame.iter_mut() {
            if b.is_traced() {
                cx.trace(b, Ip4Bytes::of(b));
            }
            let msg = icmp_msg(b.current());
            let (ty, code) = match msg {
                [t, c, _, _, ..] => (*t, *c),
                _ => {
                    b.error = cx.error(IcmpErr::LengthTooSmallForType);
                    *nx = Next::Punt as u16;
                    continue;
                }
            };
            let next = match ty {
                TYPE_ECHO_REQUEST => Next::EchoRequest,
                TYPE_ECHO_REPLY => Next::EchoReply,
                TYPE_DEST_UNREACHABLE
                    if code == CODE_FRAG_NEEDED
                        && self.too_big != u16::MAX
                        && msg.len() >= 8 + 20 =>
                {
                    *nx = self.too_big;
                    continue;
                }
                _ => {
                    b.error = cx.error(IcmpErr::UnknownType);
                    *nx = Next::Punt as u16;
                    continue;
                }
            };
            let err = if code != 0 {
                Some(IcmpErr::InvalidCodeForType)
            } else if msg.len() < Icmp4Hdr::LEN {
                Some(IcmpErr::LengthTooSmallForType)
            } else {
                None
            };
            *nx = match err {
                Some(e) => {
                    b.error = cx.error(e);
                    Next::Punt as u16
                }
                None => next as u16,
            };
        }
    }
}

/// Rewrites the echo request in `b` into its reply; false if it is not a whole one.
fn make_echo_reply(b: &mut pwire_buffer::Buffer) -> bool {
    let d = b.current();
    let Some(h) = d.first_chunk::<20>() else {
        return false;
    };
    let hl = usize::from(h[0] & 15) * 4;
    let total = usize::from(u16::from_be_bytes([h[2], h[3]]));
    if hl < 20 || total < hl + Icmp4Hdr::LEN || total > d.len() {
        return false;
    }
    let (tos, ident) = (h[1], u16::from_be_bytes([h[4], h[5]]));
    let src = Ipv4Addr::new(h[12], h[13], h[14], h[15]);
    let dst = Ipv4Addr::new(h[16], h[17], h[18], h[19]);
    // Options are not echoed: the reply gets a plain 20-byte header right before the message.
    b.truncate(total);
    b.advance((hl - 20) as i32);
    let msg_len = total - hl;
    let Ok((ip, msg)) = Ip4Hdr::parse_mut(b.current_mut()) else {
        return false;
    };
    *ip = Ip4Hdr::new(dst, src, PROTO_ICMP, msg_len as u16, HOST_TTL);
    ip.tos = tos;
    ip.ident.set(ident);
    ip.flags_frag.set(0);
    ip.fill_checksum();
    msg[0] = TYPE_ECHO_REPLY;
    fill_checksum(msg).is_ok()
}

impl Node for EchoRequest {
    fn process(&mut self, frame: &mut Frame<'_>, cx: &mut Cx<'_>) {
        frame.set_all(LookupNext::Lookup as u16);
        let mut sent = 0u64;
        for (b, _) in frame.iter_mut() {
            if b.is_traced() {
                cx.trace(b, Ip4Bytes::of(b));
            }
            // ip4-icmp-input checked the length: the rewrite cannot fail, but a packet that
            // somehow is not whole goes on unchanged and ip4-lookup finds where it belongs.
            if make_echo_reply(b) {
                b.flags |= flags::LOCALLY_ORIGINATED;
                b.sw_if_index[TX] = !0;
                sent += 1;
            }
        }
        cx.count_global(self.icmp_errors + IcmpErr::EchoRepliesSent as u16, sent);
    }
}

/// A ping reply's fields: (id, seq, TTL, ICMP length, sent TSC, source).
fn echo_fields(d: &[u8]) -> Option<(u16, u16, u8, u16, u64, Ipv4Addr)> {
    let (h, _) = Ip4Hdr::parse(d).ok()?;
    if h.protocol != PROTO_ICMP {
        return None;
    }
    let msg = icmp_msg(d);
    let id = u16::from_be_bytes([*msg.get(4)?, *msg.get(5)?]);
    let seq = u16::from_be_bytes([*msg.get(6)?, *msg.get(7)?]);
    let ts = msg
        .get(8..16)
        .map_or(0, |t| u64::from_ne_bytes(t.try_into().unwrap_or([0; 8])));
    Some((id, seq, h.ttl, msg.len() as u16, ts, h.src_addr()))
}

impl Node for EchoReply {
    fn process(&mut self, frame: &mut Frame<'_>, cx: &mut Cx<'_>) {
        let ping: &PingTable = &self.m.ping;
        let active = ping.is_active();
        let now = pwire_graph::rdtsc();
        let punt_err = self.icmp_errors + IcmpErr::None as u16;
        let mut n_free = 0;
        for (bi, b, nx) in frame.iter_mut_bi() {
            if b.is_traced() {
                cx.trace(b, Ip4Bytes::of(b));
            }
            let taken = active
                && echo_fields(b.current()).is_some_and(|(id, seq, ttl, len, ts, src)| {
                    ping.record(id, seq, ttl, len, now.wrapping_sub(ts), src)
                });
            if taken {
                *nx = NEXT_CONSUMED;
                self.free[n_free] = bi;
                n_free += 1;
            } else {
                b.error = punt_err;
                *nx = ReplyNext::Punt as u16;
            }
        }
        if n_free > 0 {
            // SAFETY: frame buffers, each once (frame invariant), whose next was set to
            // NEXT_CONSUMED; not touched after this.
            unsafe { cx.free(&self.free[..n_free]) };
        }
    }
}

#[inline]
fn throttle_hash(src: u32, seed: u64) -> usize {
    let m = u128::from(u64::from(src) ^ seed).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (((m >> 64) as u64 ^ m as u64) & 511) as usize
}

/// Why no error is sent about the packet `d` (RFC 1122 §3.2.2), if there is a reason.
fn not_answerable(d: &[u8]) -> bool {
    let Some(h) = d.first_chunk::<20>() else {
        return true;
    };
    let src = u32::from_be_bytes([h[12], h[13], h[14], h[15]]);
    let dst = u32::from_be_bytes([h[16], h[17], h[18], h[19]]);
    let ff = u16::from_be_bytes([h[6], h[7]]);
    let hl = usize::from(h[0] & 15) * 4;
    let about_error = h[9] == PROTO_ICMP && d.get(hl).is_none_or(|&t| is_error(t));
    is_special_source(src)
        || is_multicast(dst)
        || dst == u32::MAX
        || ff & FRAG_OFFSET_MASK != 0
        || about_error
}

impl Node for IcmpError {
    fn process(&mut self, frame: &mut Frame<'_>, cx: &mut Cx<'_>) {
        let dp = cx.dp();
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
        frame.set_all(ErrorNext::Drop as u16);
        let mut n = [0u64; 4];
        let (mut dropped, mut limited, mut no_buf) = (0u64, 0u64, 0u64);
        for (b, _) in frame.iter_mut() {
            if b.is_traced() {
                cx.trace(b, Ip4Bytes::of(b));
            }
            let [tc, data] = b.opaque.user;
            let (ty, code) = ((tc >> 8) as u8, tc as u8);
            let d = b.current();
            if not_answerable(d) {
                dropped += 1;
                continue;
            }
            let to = Ipv4Addr::new(d[12], d[13], d[14], d[15]);
            let Some(from) = st.iface(b.rx()).and_then(|i| i.source_for(to)) else {
                dropped += 1;
                continue;
            };
            let bit = throttle_hash(u32::from(to), self.seed);
            let (w, m) = (bit / 64, 1u64 << (bit % 64));
            if self.bits[w] & m != 0 {
                limited += 1;
                continue;
            }
            self.bits[w] |= m;
            let mut one = [0 as BufferIndex; 1];
            if cx.alloc(&mut one) == 0 {
                no_buf += 1;
                continue;
            }
            let nbi = one[0];
            // SAFETY: `nbi` was just allocated by this node: no frame, cache or ring holds it.
            let nb = unsafe { cx.buf_mut(nbi) };
            let quote = d.len().min(ERROR_MAX_LEN - Ip4Hdr::LEN - Icmp4Hdr::LEN);
            let len = Ip4Hdr::LEN + Icmp4Hdr::LEN + quote;
            nb.set_start(0);
            let ok = nb.set_len(len) && {
                let out = nb.current_mut();
                out[28..].copy_from_slice(&d[..quote]);
                let (ip, msg) = out.split_at_mut(Ip4Hdr::LEN);
                let mut h = Ip4Hdr::new(from, to, PROTO_ICMP, msg.len() as u16, 255);
                h.flags_frag.set(0);
                h.fill_checksum();
                h.emit(ip).is_ok()
                    && Icmp4Hdr::new(ty, code, (data >> 16) as u16, data as u16)
                        .emit(msg)
                        .is_ok()
                    && fill_checksum(msg).is_ok()
            };
            if !ok {
                dropped += 1;
                // SAFETY: `nbi` was allocated above, is in no frame, and `nb` is not used again.
                unsafe { cx.free(&one) };
                continue;
            }
            nb.sw_if_index = [b.sw_if_index[RX], !0];
            nb.flags = flags::LOCALLY_ORIGINATED;
            nb.error = 0;
            // SAFETY: `nbi` was allocated above and is enqueued once; `nb` is not used again.
            unsafe { cx.enqueue(ErrorNext::Lookup, nbi) };
            let k = match ty {
                TYPE_DEST_UNREACHABLE => 0,
                TYPE_TIME_EXCEEDED => 1,
                TYPE_PARAM_PROBLEM => 2,
                _ => 3,
            };
            n[k] += 1;
        }
        cx.count(IcmpErr::DestUnreachSent, n[0]);
        cx.count(IcmpErr::TtlExpireSent, n[1]);
        cx.count(IcmpErr::ParamProblemSent, n[2]);
        cx.count(IcmpErr::Drop, n[3] + dropped);
        cx.count(IcmpErr::RateLimited, limited);
        cx.count(IcmpErr::AllocFailure, no_buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttle_hash_spreads() {
        let mut seen = std::collections::HashSet::new();
        for i in 0..64u32 {
            seen.insert(throttle_hash(0x0a00_0000 | i, 7));
        }
        assert!(seen.len() > 50, "{}", seen.len());
    }

    #[test]
    fn who_gets_no_error() {
        let pkt = |src: [u8; 4], dst: [u8; 4], ff: u16, proto: u8, t: u8| {
            let mut v = vec![0x45, 0, 0, 28, 0, 0];
            v.extend_from_slice(&ff.to_be_bytes());
            v.extend_from_slice(&[64, proto, 0, 0]);
            v.extend_from_slice(&src);
            v.extend_from_slice(&dst);
            v.extend_from_slice(&[t, 0, 0, 0, 0, 0, 0, 0]);
            v
        };
        let (a, b) = ([10, 0, 0, 2], [10, 1, 0, 2]);
        assert!(!not_answerable(&pkt(a, b, 0, 17, 0)));
        assert!(!not_answerable(&pkt(a, b, 0x2000, 17, 0)), "first fragment");
        assert!(!not_answerable(&pkt(a, b, 0, 1, 8)), "an echo request");
        assert!(not_answerable(&pkt(a, b, 0, 1, 11)), "an ICMP error");
        assert!(
            not_answerable(&pkt(a, b, 0x0001, 17, 0)),
            "non-first fragment"
        );
        assert!(not_answerable(&pkt(a, [239, 1, 1, 1], 0, 17, 0)));
        assert!(not_answerable(&pkt(a, [255; 4], 0, 17, 0)));
        for s in [[0, 0, 0, 0], [127, 0, 0, 1], [224, 0, 0, 1], [255; 4]] {
            assert!(not_answerable(&pkt(s, b, 0, 17, 0)), "{s:?}");
        }
        assert!(not_answerable(&[0x45; 10]));
    }
}
