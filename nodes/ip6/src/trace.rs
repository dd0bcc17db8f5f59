//! Trace records shared by the ip6 nodes, formatted like VPP's `format_ip6_header` (and
//! `format_icmp6_header` for ICMPv6), only when `show trace` runs.

use pwire_buffer::Buffer;
use pwire_wire::ipv6::{PROTO_ICMPV6, PROTO_L2TP, PROTO_TCP, PROTO_UDP};
use std::fmt;
use std::net::Ipv6Addr;

/// Bytes of the packet kept from the IPv6 header on (header, ICMPv6 header and an ND target).
pub const HDR_BYTES: usize = 64;

/// The first bytes of an IPv6 packet.
#[derive(Clone, Copy)]
pub struct Ip6Bytes {
    n: u8,
    data: [u8; HDR_BYTES],
}

impl Ip6Bytes {
    #[inline]
    pub fn of(b: &Buffer) -> Self {
        Self::from_slice(b.current())
    }
    #[inline]
    pub fn from_slice(d: &[u8]) -> Self {
        let n = d.len().min(HDR_BYTES);
        let mut data = [0u8; HDR_BYTES];
        data[..n].copy_from_slice(&d[..n]);
        Ip6Bytes { n: n as u8, data }
    }
}

fn proto_name(p: u8) -> Option<&'static str> {
    Some(match p {
        PROTO_ICMPV6 => "ICMP6",
        PROTO_UDP => "UDP",
        PROTO_TCP => "TCP",
        PROTO_L2TP => "L2TP",
        0 => "HOP_BY_HOP_OPTIONS",
        44 => "IPV6_FRAGMENTATION",
        _ => return None,
    })
}

fn icmp_type_name(t: u8) -> Option<&'static str> {
    Some(match t {
        1 => "destination_unreachable",
        2 => "packet_too_big",
        3 => "time_exceeded",
        4 => "parameter_problem",
        128 => "echo_request",
        129 => "echo_reply",
        133 => "router_solicitation",
        134 => "router_advertisement",
        135 => "neighbor_solicitation",
        136 => "neighbor_advertisement",
        137 => "redirect",
        _ => return None,
    })
}

impl fmt::Display for Ip6Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = &self.data[..self.n as usize];
        if d.len() < 40 {
            return write!(f, "ip6 header truncated");
        }
        let mut src = [0u8; 16];
        let mut dst = [0u8; 16];
        src.copy_from_slice(&d[8..24]);
        dst.copy_from_slice(&d[24..40]);
        let w = u32::from_be_bytes([d[0], d[1], d[2], d[3]]);
        match proto_name(d[6]) {
            Some(n) => f.write_str(n)?,
            None => write!(f, "unknown {}", d[6])?,
        }
        write!(f, ": {} -> {}", Ipv6Addr::from(src), Ipv6Addr::from(dst))?;
        write!(
            f,
            "\n  tos 0x{:02x}, flow label 0x{:x}, hop limit {}, payload length {}",
            (w >> 20) & 0xff,
            w & 0x000f_ffff,
            d[7],
            u16::from_be_bytes([d[4], d[5]])
        )?;
        if d[6] == PROTO_ICMPV6 && d.len() >= 44 {
            let (t, c) = (d[40], d[41]);
            f.write_str("\n  ICMP ")?;
            match icmp_type_name(t) {
                Some(n) => f.write_str(n)?,
                None => write!(f, "unknown 0x{t:x}")?,
            }
            if c != 0 {
                write!(f, " code {c}")?;
            }
            write!(f, " checksum 0x{:x}", u16::from_be_bytes([d[42], d[43]]))?;
            if (t == 135 || t == 136) && d.len() >= 64 {
                let mut tgt = [0u8; 16];
                tgt.copy_from_slice(&d[48..64]);
                write!(f, "\n    target address {}", Ipv6Addr::from(tgt))?;
            }
        }
        Ok(())
    }
}

/// `ip6-lookup` / `ip6-glean` style: `fib 0 dpo-idx <n> flow hash: 0x00000000` and the header.
#[derive(Clone, Copy)]
pub struct FwdTrace {
    pub dpo: u32,
    pub hdr: Ip6Bytes,
}

impl fmt::Display for FwdTrace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // VPP prints the header on the next line at the same indent.
        write!(
            f,
            "fib 0 dpo-idx {} flow hash: 0x00000000\n{}",
            self.dpo, self.hdr
        )
    }
}
