//! ICMPv6 nodes (VPP's vnet/ip/icmp6.c and the ping plugin's reply node).
//!
//! - `ip6-icmp-input`: checks code, hop limit (255 for ND) and minimum length per type, then
//!   dispatches by type: echo request, echo reply, NS, NA; anything else (and any failed check)
//!   is punted under its reason ("unknown type", "invalid code for type", "hop_limit != 255",
//!   "payload length too small for type"). Arcs: `ip6-punt`, `ip6-icmp-echo-request`,
//!   `ip6-icmp-echo-reply`, `icmp6-neighbor-solicitation`, `icmp6-neighbor-advertisement`.
//!   Counters: [`IcmpErr`] (the echo and ND nodes count under this node's copy).
//! - `ip6-icmp-echo-request`: turns the request into the reply in place (addresses swapped, hop
//!   limit 64, type 129, checksum), marks it LOCALLY_ORIGINATED and sends it to `ip6-lookup`;
//!   "echo replies sent".
//! - `ip6-icmp-echo-reply`: a reply for the running `ping` is recorded in [`crate::PingTable`]
//!   and freed; others are punted. Arcs: `ip6-punt`.
//! - `ip6-icmp-error`: for a packet `ip6-input` or `ip6-rewrite` refused, builds the ICMPv6 error
//!   they asked for (type/code/data in `opaque.user`) in a new buffer: a copy of as much of the
//!   original as fits in 1280 bytes behind a new IPv6 + ICMPv6 header, from an address of the RX
//!   interface back to the original source, to `ip6-lookup`. The original goes to `error-drop`
//!   with its reason. Errors to an unspecified or multicast source are not sent
//!   ("error message dropped"). Arcs: `error-drop`, `ip6-lookup`. Counters: [`IcmpErr`] (own).

use crate::errors::{base_of, IcmpErr};
use crate::state::source_address;
use crate::trace::Ip6Bytes;
use crate::{Ip6Main, PingTable};
use pwire_buffer::buffer::TX;
use pwire_buffer::{flags, BufferIndex};
use pwire_graph::{next_nodes, Cx, Frame, Node, NodeKind, NodeReg, FRAME_SIZE, NEXT_CONSUMED};
use pwire_vnet::{Registry, Vnet};
use pwire_wire::icmpv6::{
    fill_checksum, TYPE_DEST_UNREACHABLE, TYPE_ECHO_REPLY, TYPE_ECHO_REQUEST, TYPE_NEIGHBOR_ADVERT,
    TYPE_NEIGHBOR_SOLICIT, TYPE_PACKET_TOO_BIG, TYPE_PARAM_PROBLEM, TYPE_TIME_EXCEEDED,
};
use pwire_wire::ipv6::PROTO_ICMPV6;
use pwire_wire::Ip6Hdr;
use std::net::Ipv6Addr;
use std::sync::Arc;

/// Hop limit of packets pwire originates as a host (VPP's `ip6_main.host_config.ttl`).
pub const HOST_HOP_LIMIT: u8 = 64;
/// ICMPv6 errors carry at most this much (RFC 4443 §2.4(c)).
const ICMP_ERROR_MAX: usize = 1280;

mod input_next {
    pwire_graph::next_nodes! { pub enum Next {
        Punt => "ip6-punt",
        EchoRequest => "ip6-icmp-echo-request",
        EchoReply => "ip6-icmp-echo-reply",
        Ns => "icmp6-neighbor-solicitation",
        Na => "icmp6-neighbor-advertisement",
    } }
}
use input_next::Next;

/// `ip6-icmp-input`.
#[derive(Debug)]
pub struct IcmpInput {
    /// The next index of the registered "too big" consumer (`Registry::icmp_too_big`), or
    /// `u16::MAX` (punted).
    too_big: u16,
}

/// `ip6-icmp-echo-request`.
#[derive(Debug)]
pub struct EchoRequest {
    vnet: Arc<Vnet>,
    icmp_errors: u16,
}

/// `ip6-icmp-echo-reply`.
#[derive(Debug)]
pub struct EchoReply {
    m: Arc<Ip6Main>,
    icmp_errors: u16,
    free: Box<[BufferIndex; FRAME_SIZE]>,
}

/// `ip6-icmp-error`.
#[derive(Debug)]
pub struct IcmpError {
    vnet: Arc<Vnet>,
}

next_nodes! { enum LookupNext { Lookup => "ip6-lookup" } }
next_nodes! { enum ReplyNext { Punt => "ip6-punt" } }
next_nodes! { enum ErrorNext { Drop => "error-drop", Lookup => "ip6-lookup" } }

pub(crate) fn register(r: &mut Registry, m: &Arc<Ip6Main>) {
    r.graph.node(NodeReg::new(
        "ip6-icmp-input",
        NodeKind::Internal,
        Next::NAMES,
        IcmpErr::DECLS,
        {
            let vnet = m.vnet.clone();
            move |b| {
                let too_big = vnet
                    .statics()
                    .icmp_too_big
                    .and_then(|h| b.next_index(h.ip6))
                    .unwrap_or(u16::MAX);
                Box::new(IcmpInput { too_big })
            }
        },
    ));
    let vnet = m.vnet.clone();
    r.graph.node(NodeReg::new(
        "ip6-icmp-echo-request",
        NodeKind::Internal,
        LookupNext::NAMES,
        &[],
        move |b| {
            Box::new(EchoRequest {
                vnet: vnet.clone(),
                icmp_errors: base_of(b, "ip6-icmp-input"),
            })
        },
    ));
    let mm = m.clone();
    r.graph.node(NodeReg::new(
        "ip6-icmp-echo-reply",
        NodeKind::Internal,
        ReplyNext::NAMES,
        &[],
        move |b| {
            Box::new(EchoReply {
                m: mm.clone(),
                icmp_errors: base_of(b, "ip6-icmp-input"),
                free: Box::new([0; FRAME_SIZE]),
            })
        },
    ));
    let vnet = m.vnet.clone();
    r.graph.node(NodeReg::new(
        "ip6-icmp-error",
        NodeKind::Internal,
        ErrorNext::NAMES,
        IcmpErr::DECLS,
        move |_b| Box::new(IcmpError { vnet: vnet.clone() }),
    ));
}

impl Node for IcmpInput {
    fn process(&mut self, frame: &mut Frame<'_>, cx: &mut Cx<'_>) {
        for (b, nx) in frame.iter_mut() {
            if b.is_traced() {
                cx.trace(b, Ip6Bytes::of(b));
            }
            let d = b.current();
            let (hop_limit, msg) = match Ip6Hdr::parse(d) {
                Ok((h, rest)) => (
                    h.hop_limit,
                    &rest[..usize::from(h.payload_len.get()).min(rest.len())],
                ),
                Err(_) => (0, &d[..0]),
            };
            let (ty, code) = match msg {
                [t, c, _, _, ..] => (*t, *c),
                _ => {
                    b.error = cx.error(IcmpErr::LengthTooSmallForType);
                    *nx = Next::Punt as u16;
                    continue;
                }
            };
            // (next, min hop limit, min message length); code 0 is the only valid one for these.
            let (next, min_hl, min_len) = match ty {
                TYPE_ECHO_REQUEST => (Next::EchoRequest, 0, 8),
                TYPE_ECHO_REPLY => (Next::EchoReply, 0, 8),
                TYPE_NEIGHBOR_SOLICIT => (Next::Ns, 255, 24),
                TYPE_NEIGHBOR_ADVERT => (Next::Na, 255, 24),
                TYPE_PACKET_TOO_BIG if self.too_big != u16::MAX && msg.len() >= 8 + 40 => {
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
            } else if hop_limit < min_hl {
                Some(IcmpErr::InvalidHopLimitForType)
            } else if msg.len() < min_len {
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

impl Node for EchoRequest {
    fn process(&mut self, frame: &mut Frame<'_>, cx: &mut Cx<'_>) {
        let dp = cx.dp();
        let vs = self.vnet.state.dp(&dp);
        frame.set_all(LookupNext::Lookup as u16);
        let mut sent = 0u64;
        for (b, _) in frame.iter_mut() {
            if b.is_traced() {
                cx.trace(b, Ip6Bytes::of(b));
            }
            let rx = b.rx();
            let Ok((h, rest)) = Ip6Hdr::parse_mut(b.current_mut()) else {
                continue;
            };
            let (src, dst) = (Ipv6Addr::from(h.src), Ipv6Addr::from(h.dst));
            // A request to a multicast group is answered from our own address (VPP would swap
            // the group in as source).
            let me = if dst.octets()[0] == 0xff {
                vs.get(rx)
                    .and_then(|i| source_address(i, src))
                    .unwrap_or(dst)
            } else {
                dst
            };
            h.src = me.octets();
            h.dst = src.octets();
            h.hop_limit = HOST_HOP_LIMIT;
            let plen = usize::from(h.payload_len.get()).min(rest.len());
            let msg = &mut rest[..plen];
            msg[0] = TYPE_ECHO_REPLY;
            // icmp-input checked the length, so the header is there.
            let _ = fill_checksum(me, src, msg);
            b.flags |= flags::LOCALLY_ORIGINATED;
            b.sw_if_index[TX] = !0;
            sent += 1;
        }
        cx.count_global(self.icmp_errors + IcmpErr::EchoRepliesSent as u16, sent);
    }
}

/// A ping reply's fields: (id, seq, hop limit, payload length, sent TSC, source).
fn echo_fields(d: &[u8]) -> Option<(u16, u16, u8, u16, u64, Ipv6Addr)> {
    let (h, rest) = Ip6Hdr::parse(d).ok()?;
    if h.next_header != PROTO_ICMPV6 {
        return None;
    }
    let id = u16::from_be_bytes([*rest.get(4)?, *rest.get(5)?]);
    let seq = u16::from_be_bytes([*rest.get(6)?, *rest.get(7)?]);
    let ts = rest
        .get(8..16)
        .map_or(0, |t| u64::from_ne_bytes(t.try_into().unwrap_or([0; 8])));
    Some((
        id,
        seq,
        h.hop_limit,
        h.payload_len.get(),
        ts,
        Ipv6Addr::from(h.src),
    ))
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
                cx.trace(b, Ip6Bytes::of(b));
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

impl Node for IcmpError {
    fn process(&mut self, frame: &mut Frame<'_>, cx: &mut Cx<'_>) {
        let dp = cx.dp();
        let vs = self.vnet.state.dp(&dp);
        frame.set_all(ErrorNext::Drop as u16);
        let mut n = [0u64; 5];
        let mut dropped = 0u64;
        let mut no_buf = 0u64;
        for (b, _) in frame.iter_mut() {
            if b.is_traced() {
                cx.trace(b, Ip6Bytes::of(b));
            }
            let [tc, data] = b.opaque.user;
            let (ty, code) = ((tc >> 8) as u8, tc as u8);
            let Ok((h, _)) = Ip6Hdr::parse(b.current()) else {
                dropped += 1;
                continue;
            };
            let to = Ipv6Addr::from(h.src);
            let from = if to.is_unspecified() || to.octets()[0] == 0xff {
                None
            } else {
                vs.get(b.rx()).and_then(|i| source_address(i, to))
            };
            let Some(from) = from else {
                dropped += 1;
                continue;
            };
            let mut one = [0 as BufferIndex; 1];
            if cx.alloc(&mut one) == 0 {
                no_buf += 1;
                continue;
            }
            let nbi = one[0];
            // SAFETY: `nbi` was just allocated by this node: no frame, cache or ring holds it.
            let nb = unsafe { cx.buf_mut(nbi) };
            nb.copy_from(b);
            let ok = match nb.prepend(Ip6Hdr::LEN + 8) {
                Some(_) => {
                    nb.truncate(ICMP_ERROR_MAX);
                    let len = nb.len();
                    let d = nb.current_mut();
                    match Ip6Hdr::parse_mut(d) {
                        Ok((ip, msg)) => {
                            ip.set_default((len - Ip6Hdr::LEN) as u16, PROTO_ICMPV6, 255, from, to);
                            msg[0] = ty;
                            msg[1] = code;
                            msg[4..8].copy_from_slice(&data.to_be_bytes());
                            fill_checksum(from, to, msg).is_ok()
                        }
                        Err(_) => false,
                    }
                }
                None => false,
            };
            if !ok {
                dropped += 1;
                // SAFETY: `nbi` was allocated above, is in no frame, and `nb` is not used again.
                unsafe { cx.free(&one) };
                continue;
            }
            nb.sw_if_index[TX] = !0;
            nb.flags = (nb.flags | flags::LOCALLY_ORIGINATED) & !flags::PCAP_SEEN;
            nb.error = 0;
            // SAFETY: `nbi` was allocated above and is enqueued once; `nb` is not used again.
            unsafe { cx.enqueue(ErrorNext::Lookup, nbi) };
            let k = match ty {
                TYPE_DEST_UNREACHABLE => 0,
                TYPE_PACKET_TOO_BIG => 1,
                TYPE_TIME_EXCEEDED => 2,
                TYPE_PARAM_PROBLEM => 3,
                _ => 4,
            };
            n[k] += 1;
        }
        cx.count(IcmpErr::DestUnreachSent, n[0]);
        cx.count(IcmpErr::PacketTooBigSent, n[1]);
        cx.count(IcmpErr::TtlExpireSent, n[2]);
        cx.count(IcmpErr::ParamProblemSent, n[3]);
        cx.count(IcmpErr::Drop, n[4] + dropped);
        cx.count(IcmpErr::AllocFailure, no_buf);
    }
}
