//! pwire-node-udp: `ip4-udp-lookup` and `ip6-udp-lookup` (VPP's names), the UDP port registry's
//! dispatch for packets addressed to us.
//!
//! ```text
//! ip4-local --17--> ip4-udp-lookup --port--> handler (l2tp4-udp-decap, ...) | ip4-icmp-error | error-drop
//! ip6-local --17--> ip6-udp-lookup --port--> handler (l2tp6-udp-decap, ...) | ip6-icmp-error | error-drop
//! ```
//! Handlers are registered at start (`Registry::udp_handler`); the ports they listen on are
//! switched at run time in `VnetState::udp_ports` (l2tp turns on a tunnel's local port when the
//! tunnel is created). Protocol 17 is enabled on ip4-local/ip6-local when the first port is.
//!
//! Per packet: the UDP header is inside the IP payload and its length field agrees with it
//! ("udp length error"); the checksum is verified ("bad udp checksum"): over IPv4 a zero
//! checksum means none, over IPv6 a zero checksum is refused ("udp zero checksum refused")
//! unless the port accepts it (RFC 6935/6936, `UDP_ZERO_CSUM_OK`); a buffer whose checksum the
//! sending stack left to offload (`L4_CSUM_PARTIAL`, from a local veth) is taken as valid. A
//! port no one listens on gets an ICMP port unreachable ("no listener for dst port", as VPP).
//! The buffer is not advanced: the handler sees the IP header.
//!
//! Arcs: `error-drop`, `ip<n>-icmp-error`, then the handlers (added by vnet).
//! Counters: "udp packets delivered", "no listener for dst port", "udp length error",
//! "bad udp checksum", "udp zero checksum refused".

use pwire_buffer::{flags, Buffer};
use pwire_graph::{counters, next_nodes, Cx, Frame, Node, NodeKind, NodeReg, Shared};
use pwire_vnet::{Registry, VnetState, UDP_ZERO_CSUM_OK};
use pwire_wire::checksum::Sum;
use pwire_wire::ipv4::Ip4Hdr;
use pwire_wire::ipv6::{Ip6Hdr, PROTO_UDP};
use pwire_wire::udp::UdpHdr;
use std::fmt;
use std::sync::Arc;

next_nodes! { pub enum Next4 { Drop => "error-drop", IcmpError => "ip4-icmp-error" } }
next_nodes! { pub enum Next6 { Drop => "error-drop", IcmpError => "ip6-icmp-error" } }

counters! { pub enum C {
    Delivered: info = "udp packets delivered",
    NoListener: error = "no listener for dst port",
    Length: error = "udp length error",
    Checksum: error = "bad udp checksum",
    ZeroChecksum: error = "udp zero checksum refused",
} }

/// Registers both nodes and claims protocol 17 on both families.
pub fn register(r: &mut Registry) {
    r.ip4_protocol(PROTO_UDP, "ip4-udp-lookup");
    r.ip6_protocol(PROTO_UDP, "ip6-udp-lookup");
    reg::<false>(r);
    reg::<true>(r);
}

fn reg<const V6: bool>(r: &mut Registry) {
    let vnet = r.vnet.clone();
    let (name, nexts) = if V6 {
        ("ip6-udp-lookup", Next6::NAMES)
    } else {
        ("ip4-udp-lookup", Next4::NAMES)
    };
    r.graph.node(NodeReg::new(
        name,
        NodeKind::Internal,
        nexts,
        C::DECLS,
        move |b| {
            // Handler id -> next index (id 0 is "none").
            let mut handler_next = vec![u16::MAX];
            for h in &vnet.statics().udp_handlers {
                let node = if V6 { h.ip6 } else { h.ip4 };
                handler_next.push(b.next_index(node).unwrap_or(u16::MAX));
            }
            Box::new(UdpLookup::<V6> {
                vnet: vnet.state.clone(),
                handler_next,
            })
        },
    ));
}

/// The node, for IPv6 (`V6`) or IPv4.
pub struct UdpLookup<const V6: bool> {
    vnet: Arc<Shared<VnetState>>,
    handler_next: Vec<u16>,
}

impl<const V6: bool> fmt::Debug for UdpLookup<V6> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if V6 {
            "ip6-udp-lookup"
        } else {
            "ip4-udp-lookup"
        })
    }
}

/// `ip4-udp-lookup`'s / `ip6-udp-lookup`'s trace: the ports and what was decided.
#[derive(Debug, Clone, Copy)]
pub struct UdpTrace {
    src_port: u16,
    dst_port: u16,
    handler: u8,
}

impl fmt::Display for UdpTrace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "UDP: src-port {} dst-port {}{}",
            self.src_port,
            self.dst_port,
            if self.handler == 0 {
                " (no listener)"
            } else {
                ""
            }
        )
    }
}

/// Where the UDP segment of an IP packet for us is: (offset, IP payload length from there),
/// or `None` when the IP header is not whole (ip<n>-input checked it, so only a forged graph
/// path gets here).
#[inline(always)]
fn segment<const V6: bool>(d: &[u8]) -> Option<(usize, usize)> {
    if V6 {
        let (ip, _) = Ip6Hdr::parse(d).ok()?;
        let len = usize::from(ip.payload_len.get());
        // Extension headers before UDP: ip6-local dispatched on the upper layer; find it.
        let off = if ip.next_header == PROTO_UDP {
            Ip6Hdr::LEN
        } else {
            let rest = d.get(Ip6Hdr::LEN..Ip6Hdr::LEN + len)?;
            match pwire_wire::ipv6::upper_layer(ip.next_header, rest) {
                Ok((PROTO_UDP, o)) => Ip6Hdr::LEN + o,
                _ => return None,
            }
        };
        Some((off, (Ip6Hdr::LEN + len).checked_sub(off)?))
    } else {
        let (ip, _) = Ip4Hdr::parse(d).ok()?;
        let hl = ip.header_len();
        Some((hl, usize::from(ip.total_len.get()).checked_sub(hl)?))
    }
}

/// The pseudo-header sum of a UDP datagram of `ulen` bytes in the IP packet `d` (whose header
/// was parsed by [`segment`]): the UDP length is the pseudo-header's length in both families.
#[inline(always)]
fn pseudo_sum<const V6: bool>(d: &[u8], ulen: usize) -> Sum {
    use pwire_wire::checksum::{ip4_pseudo_sum, ip6_pseudo_sum};
    if V6 {
        match Ip6Hdr::parse(d) {
            Ok((ip, _)) => ip6_pseudo_sum(ip.src.into(), ip.dst.into(), ulen as u32, PROTO_UDP),
            Err(_) => Sum::ZERO,
        }
    } else {
        match Ip4Hdr::parse(d) {
            Ok((ip, _)) => ip4_pseudo_sum(ip.src.into(), ip.dst.into(), PROTO_UDP, ulen as u16),
            Err(_) => Sum::ZERO,
        }
    }
}

/// The verdict on one packet: a handler id, or the counter it is dropped under.
#[inline(always)]
fn classify<const V6: bool>(b: &Buffer, ports: &[u8; 65536]) -> Result<(u8, u16, u16), C> {
    let d = b.current();
    let (off, seg) = segment::<V6>(d).ok_or(C::Length)?;
    let body = d.get(off..off + seg).ok_or(C::Length)?;
    let (u, _) = UdpHdr::parse(body).map_err(|_| C::Length)?;
    let ulen = usize::from(u.len.get());
    // The UDP length may be shorter than the IP payload (padding), never longer.
    if ulen < UdpHdr::LEN || ulen > seg {
        return Err(C::Length);
    }
    let dst = u.dst_port.get();
    let entry = ports[usize::from(dst)];
    let csum = u.checksum.get();
    if b.flags & flags::L4_CSUM_PARTIAL == 0 {
        if csum == 0 {
            if V6 && entry & UDP_ZERO_CSUM_OK == 0 {
                return Err(C::ZeroChecksum);
            }
        } else if pseudo_sum::<V6>(d, ulen).add_bytes(&body[..ulen]).fold() != 0xffff {
            return Err(C::Checksum);
        }
    }
    Ok((entry & !UDP_ZERO_CSUM_OK, u.src_port.get(), dst))
}

impl<const V6: bool> Node for UdpLookup<V6> {
    fn process(&mut self, frame: &mut Frame<'_>, cx: &mut Cx<'_>) {
        let dp = cx.dp();
        let vs = self.vnet.dp(&dp);
        let ports: &[u8; 65536] = &vs.udp_ports[usize::from(V6)];
        let mut delivered = 0u64;
        for (b, nx) in frame.iter_mut() {
            let (next, tr) = match classify::<V6>(b, ports) {
                Ok((h, sp, dp)) => {
                    let n = self
                        .handler_next
                        .get(usize::from(h))
                        .copied()
                        .unwrap_or(u16::MAX);
                    if h != 0 && n != u16::MAX {
                        delivered += 1;
                        (n, Some((sp, dp, h)))
                    } else {
                        b.error = cx.error(C::NoListener);
                        // Destination unreachable, port unreachable.
                        let (ty, code) = if V6 { (1u8, 4u8) } else { (3, 3) };
                        b.opaque.user = [(u32::from(ty) << 8) | u32::from(code), 0];
                        (Next4::IcmpError as u16, Some((sp, dp, 0)))
                    }
                }
                Err(c) => {
                    b.error = cx.error(c);
                    (Next4::Drop as u16, None)
                }
            };
            *nx = next;
            if b.is_traced() {
                let (src_port, dst_port, handler) = tr.unwrap_or_default();
                cx.trace(
                    b,
                    UdpTrace {
                        src_port,
                        dst_port,
                        handler,
                    },
                );
            }
        }
        cx.count(C::Delivered, delivered);
    }
}
