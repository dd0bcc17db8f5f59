//! The Internet checksum (RFC 1071): one's-complement sums, pseudo-headers, and finishing the
//! TCP/UDP checksums the kernel leaves undone.
//!
//! A frame read from a socket with checksum offload (Linux `CHECKSUM_PARTIAL`, or
//! `TP_STATUS_CSUMNOTREADY` on AF_PACKET) carries only the pseudo-header sum in its checksum
//! field. Forwarded into a tunnel as-is it would arrive broken, so pwire finishes it:
//! [`finish_l4_checksum`] when the kernel says where (`csum_start` / `csum_offset`),
//! [`recompute_l4_checksum`] when it only says "not ready".
//!
//! Convention for the `*_checksum` functions over bytes that contain a checksum field: zero the
//! field before computing one to store; computing over a packet with its checksum in place
//! gives 0 when that checksum is right.

use core::net::{Ipv4Addr, Ipv6Addr};

use crate::ethernet::{ethertype, l2_walk};
use crate::ipv4::Ip4Hdr;
use crate::ipv6::{self, Ip6Hdr, PROTO_TCP, PROTO_UDP};
use crate::tcp::TcpHdr;
use crate::udp::UdpHdr;
use crate::{Error, Truncated};

/// A running one's-complement sum of 16-bit big-endian words, kept wide so carries are folded
/// once at the end rather than per word.
///
/// Bytes may be added in pieces, but every piece except the last must have even length (an odd
/// piece is padded with a zero byte, as at the end of a packet).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sum(u64);

impl Sum {
    /// The empty sum.
    pub const ZERO: Sum = Sum(0);

    /// Adds `data` as big-endian 16-bit words.
    #[inline]
    pub fn add_bytes(self, data: &[u8]) -> Sum {
        // 64-bit words sum to the same 16-bit fold as 16-bit words (2^16 ≡ 1 mod 0xffff), a
        // carry out of bit 63 counting as 1 (2^64 ≡ 1): one add with carry per 8 bytes (a
        // UDP checksum over a whole frame is on the tunnel's per-packet path).
        let mut acc = self.0;
        let mut carries = 0u64;
        let mut words = data.chunks_exact(8);
        for w in &mut words {
            let v = u64::from_be_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
            let (s, o) = acc.overflowing_add(v);
            acc = s;
            carries += u64::from(o);
        }
        // Back to a value far from overflow: the halves' sum plus the carries.
        let mut acc = (acc >> 32) + (acc & 0xffff_ffff) + carries;
        let mut rest = words.remainder().chunks_exact(4);
        for w in &mut rest {
            acc += u64::from(u32::from_be_bytes([w[0], w[1], w[2], w[3]]));
        }
        acc += match *rest.remainder() {
            [] => 0,
            [a] => u64::from(a) << 8,
            [a, b] => u64::from(u16::from_be_bytes([a, b])),
            [a, b, c] => u64::from(u16::from_be_bytes([a, b])) + (u64::from(c) << 8),
            _ => unreachable!("chunks_exact(4) leaves at most 3 bytes"),
        };
        Sum(acc)
    }

    /// Adds one 16-bit word.
    #[inline]
    pub const fn add_u16(self, v: u16) -> Sum {
        Sum(self.0 + v as u64)
    }

    /// Adds a 32-bit value as its two 16-bit words.
    #[inline]
    pub const fn add_u32(self, v: u32) -> Sum {
        Sum(self.0 + v as u64)
    }

    /// Folds the carries back in: the one's-complement sum as 16 bits (not complemented).
    #[inline]
    pub const fn fold(self) -> u16 {
        let mut s = self.0;
        while s > 0xffff {
            s = (s & 0xffff) + (s >> 16);
        }
        s as u16
    }

    /// The checksum: the complement of [`Self::fold`].
    #[inline]
    pub const fn checksum(self) -> u16 {
        !self.fold()
    }

    /// [`Self::checksum`] of a sum below 2^32 (fewer than 65 537 words: a header patched
    /// from a precomputed sum, as `l2tp-encap` does per packet), in two folds and no loop:
    /// the first leaves at most 0x1fffe, the second at most 0xffff.
    #[inline(always)]
    pub const fn checksum_short(self) -> u16 {
        debug_assert!(self.0 >> 32 == 0);
        let s = self.0 as u32;
        let s = (s & 0xffff) + (s >> 16);
        !((s & 0xffff) + (s >> 16)) as u16
    }
}

/// The Internet checksum of `data`.
pub fn internet_checksum(data: &[u8]) -> u16 {
    Sum::ZERO.add_bytes(data).checksum()
}

/// The checksum `hc` after one 16-bit word it covers changed from `old` to `new`, without
/// summing the data again: RFC 1624 eqn. 3, `HC' = ~(~HC + ~m + m')`, which (unlike RFC 1141's
/// shortcut) never turns a valid checksum into 0xffff where 0x0000 is meant.
#[inline(always)]
pub const fn update_u16(hc: u16, old: u16, new: u16) -> u16 {
    let s = (!hc) as u32 + (!old) as u32 + new as u32;
    let s = (s & 0xffff) + (s >> 16);
    !((s & 0xffff) + (s >> 16)) as u16
}

/// Sum of the IPv6 pseudo-header (RFC 8200 §8.1): addresses, upper-layer length, next header.
pub fn ip6_pseudo_sum(src: Ipv6Addr, dst: Ipv6Addr, upper_len: u32, next_header: u8) -> Sum {
    Sum::ZERO
        .add_bytes(&src.octets())
        .add_bytes(&dst.octets())
        .add_u32(upper_len)
        .add_u16(u16::from(next_header))
}

/// Checksum of an ICMPv6, UDP or TCP message over IPv6: pseudo-header plus `payload`.
/// `upper_len` is normally `payload.len()`.
pub fn ip6_pseudo_checksum(
    src: Ipv6Addr,
    dst: Ipv6Addr,
    upper_len: u32,
    next_header: u8,
    payload: &[u8],
) -> u16 {
    ip6_pseudo_sum(src, dst, upper_len, next_header)
        .add_bytes(payload)
        .checksum()
}

/// Sum of the IPv4 pseudo-header (RFC 768, RFC 9293 §3.1): addresses, protocol, length.
pub fn ip4_pseudo_sum(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, len: u16) -> Sum {
    Sum::ZERO
        .add_bytes(&src.octets())
        .add_bytes(&dst.octets())
        .add_u16(u16::from(protocol))
        .add_u16(len)
}

/// IPv4 header checksum over `header` (options included; RFC 791).
pub fn ipv4_header_checksum(header: &[u8]) -> u16 {
    internet_checksum(header)
}

/// TCP or UDP checksum over IPv4: pseudo-header plus `segment` (header and data).
pub fn udp_tcp_checksum_ip4(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, segment: &[u8]) -> u16 {
    // A segment over 64 KiB cannot be in an IPv4 packet; adding the full length still gives the
    // same fold as the 16-bit field would, so no truncation is needed.
    Sum::ZERO
        .add_bytes(&src.octets())
        .add_bytes(&dst.octets())
        .add_u16(u16::from(protocol))
        .add_bytes(&(segment.len() as u64).to_be_bytes())
        .add_bytes(segment)
        .checksum()
}

/// Finishes a partial checksum, Linux `CHECKSUM_PARTIAL` style: sums `frame[csum_start..]`
/// (which includes the pseudo-header sum the kernel left at `csum_start + csum_offset`) and
/// stores the complement there. A result of 0 is stored as 0xffff, as the kernel does: UDP
/// needs that (0 means "no checksum"), and for TCP the two are the same value.
pub fn finish_l4_checksum(
    frame: &mut [u8],
    csum_start: usize,
    csum_offset: usize,
) -> Result<(), Truncated> {
    let field_end = csum_start
        .checked_add(csum_offset)
        .and_then(|f| f.checked_add(2))
        .filter(|&end| end <= frame.len())
        .ok_or(Truncated {
            needed: csum_start.saturating_add(csum_offset).saturating_add(2),
            got: frame.len(),
        })?;
    let c = Sum::ZERO.add_bytes(&frame[csum_start..]).checksum();
    let c = if c == 0 { 0xffff } else { c };
    frame[field_end - 2..field_end].copy_from_slice(&c.to_be_bytes());
    Ok(())
}

/// Where a frame's TCP or UDP segment is, and its pseudo-header sum.
struct L4 {
    proto: u8,
    start: usize,
    end: usize,
    pseudo: Sum,
    /// The IP version; UDP checksum 0 means "none" over IPv4 only.
    v4: bool,
}

impl L4 {
    fn csum_field(&self) -> usize {
        self.start
            + if self.proto == PROTO_TCP {
                TcpHdr::CHECKSUM_OFFSET
            } else {
                UdpHdr::CHECKSUM_OFFSET
            }
    }
}

/// Finds the TCP/UDP segment of an Ethernet frame (up to two VLAN tags; IPv4, or IPv6 with
/// Hop-by-Hop / Routing / Destination Options headers). The IP length fields bound the segment,
/// so Ethernet padding is left out.
fn locate_l4(frame: &[u8]) -> Result<L4, Error> {
    let (l2, et) = l2_walk(frame)?;
    let ip = &frame[l2..];
    let short = |needed: usize| {
        Error::Truncated(Truncated {
            needed: l2 + needed,
            got: frame.len(),
        })
    };
    let l4 = match et {
        ethertype::IPV4 => {
            let (h, _) = Ip4Hdr::parse(ip).map_err(|t| short(t.needed))?;
            if h.version() != 4 {
                return Err(Error::BadVersion(h.version()));
            }
            let hl = h.header_len();
            let total = usize::from(h.total_len.get());
            if hl < Ip4Hdr::LEN || total < hl {
                return Err(Error::Malformed);
            }
            if total > ip.len() {
                return Err(short(total));
            }
            if h.is_fragment() {
                return Err(Error::Unsupported);
            }
            let seg_len = u16::try_from(total - hl).map_err(|_| Error::Malformed)?;
            L4 {
                proto: h.protocol,
                start: l2 + hl,
                end: l2 + total,
                pseudo: ip4_pseudo_sum(h.src_addr(), h.dst_addr(), h.protocol, seg_len),
                v4: true,
            }
        }
        ethertype::IPV6 => {
            let (h, rest) = Ip6Hdr::parse(ip).map_err(|t| short(t.needed))?;
            if h.version() != 6 {
                return Err(Error::BadVersion(h.version()));
            }
            let plen = usize::from(h.payload_len.get());
            let payload = rest.get(..plen).ok_or_else(|| short(Ip6Hdr::LEN + plen))?;
            let (proto, off) = ipv6::upper_layer(h.next_header, payload)
                .map_err(|t| short(Ip6Hdr::LEN + t.needed))?;
            let seg_len = u32::try_from(plen - off).map_err(|_| Error::Malformed)?;
            L4 {
                proto,
                start: l2 + Ip6Hdr::LEN + off,
                end: l2 + Ip6Hdr::LEN + plen,
                pseudo: ip6_pseudo_sum(h.src_addr(), h.dst_addr(), seg_len, proto),
                v4: false,
            }
        }
        _ => return Err(Error::Unsupported),
    };
    let min = match l4.proto {
        PROTO_TCP => TcpHdr::LEN,
        PROTO_UDP => UdpHdr::LEN,
        _ => return Err(Error::Unsupported),
    };
    if l4.end - l4.start < min {
        return Err(Error::Truncated(Truncated {
            needed: l4.start + min,
            got: l4.end,
        }));
    }
    Ok(l4)
}

/// Recomputes the TCP or UDP checksum of an Ethernet frame from scratch, whatever the field
/// held (garbage, or the pseudo-header sum of a `TP_STATUS_CSUMNOTREADY` frame). Returns the
/// protocol number fixed. Fragments, non-IP frames and other protocols are
/// [`Error::Unsupported`].
pub fn recompute_l4_checksum(frame: &mut [u8]) -> Result<u8, Error> {
    let l4 = locate_l4(frame)?;
    let f = l4.csum_field();
    frame[f..f + 2].fill(0);
    let c = l4.pseudo.add_bytes(&frame[l4.start..l4.end]).checksum();
    // RFC 768: a computed 0 is sent as all ones (0 would mean "no checksum").
    let c = if c == 0 && l4.proto == PROTO_UDP {
        0xffff
    } else {
        c
    };
    frame[f..f + 2].copy_from_slice(&c.to_be_bytes());
    Ok(l4.proto)
}

/// Checks the TCP or UDP checksum of an Ethernet frame. A UDP checksum of 0 over IPv4 means
/// "not computed" and passes; over IPv6 it is invalid (RFC 8200 §8.1).
pub fn verify_l4_checksum(frame: &[u8]) -> Result<bool, Error> {
    let l4 = locate_l4(frame)?;
    let f = l4.csum_field();
    if l4.v4 && l4.proto == PROTO_UDP && frame[f..f + 2] == [0, 0] {
        return Ok(true);
    }
    Ok(l4.pseudo.add_bytes(&frame[l4.start..l4.end]).fold() == 0xffff)
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::ethernet::{EthHdr, Mac};
    use crate::icmpv6::Icmp6Hdr;
    use crate::ipv6::PROTO_ICMPV6;
    use crate::testdata;
    use proptest::prelude::*;
    use std::vec::Vec;

    /// The short fold agrees with the loop for sums up to 2^32 - 1: random ones, and the
    /// edges where a carry is folded in twice.
    #[test]
    fn checksum_short_matches_checksum() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let edges = [
            0,
            1,
            0xffff,
            0x1_0000,
            0x1_fffe,
            0x1_ffff,
            0xffff_0000,
            0xffff_ffff,
        ];
        for i in 0..100_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let v = if i < edges.len() as u64 {
                edges[i as usize]
            } else {
                x >> (32 + (i % 32))
            };
            assert_eq!(Sum(v).checksum_short(), Sum(v).checksum(), "{v:#x}");
        }
    }

    /// Straightforward 16-bit-at-a-time reference, to check the 32-bit fast path against.
    fn reference_sum(data: &[u8]) -> u16 {
        let mut s: u32 = 0;
        for c in data.chunks(2) {
            let w = if c.len() == 2 {
                u16::from_be_bytes([c[0], c[1]])
            } else {
                u16::from(c[0]) << 8
            };
            s += u32::from(w);
            s = (s & 0xffff) + (s >> 16);
        }
        s as u16
    }

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3 worked example: the words sum to ddf2 (before complement).
        let d = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(Sum::ZERO.add_bytes(&d).fold(), 0xddf2);
        assert_eq!(internet_checksum(&d), !0xddf2);
        assert_eq!(internet_checksum(&[]), 0xffff);
    }

    #[test]
    fn odd_lengths_pad_with_zero() {
        assert_eq!(Sum::ZERO.add_bytes(&[0xab]).fold(), 0xab00);
        assert_eq!(Sum::ZERO.add_bytes(&[1, 2, 3]).fold(), 0x0102 + 0x0300);
        assert_eq!(
            Sum::ZERO.add_bytes(&[1, 2, 3, 4, 5, 6, 7]).fold(),
            reference_sum(&[1, 2, 3, 4, 5, 6, 7])
        );
    }

    /// An ICMPv6 echo request, checked against a sum worked out by hand.
    #[test]
    fn icmpv6_echo_golden() {
        let src: Ipv6Addr = "fe80::1".parse().unwrap();
        let dst: Ipv6Addr = "fe80::2".parse().unwrap();
        let mut msg = [
            0x80, 0x00, // type 128 echo request, code 0
            0x00, 0x00, // checksum (zeroed to compute)
            0x12, 0x34, // identifier
            0x00, 0x01, // sequence
            0x61, 0x62, 0x63, 0x64, // data "abcd"
        ];
        let c = ip6_pseudo_checksum(src, dst, 12, PROTO_ICMPV6, &msg);
        // Sum by hand: addresses fe80+1+fe80+2 = 0x1fd03, length 12, nh 58,
        // message 8000+0000+1234+0001+6162+6364 = 0x156fb.
        let by_hand = {
            let s: u32 = 0x1fd03 + 12 + 58 + 0x156fb;
            let s = (s & 0xffff) + (s >> 16);
            !(s as u16)
        };
        assert_eq!(c, by_hand);
        msg[2..4].copy_from_slice(&c.to_be_bytes());
        assert_eq!(ip6_pseudo_checksum(src, dst, 12, PROTO_ICMPV6, &msg), 0);
        assert_eq!(Icmp6Hdr::parse(&msg).unwrap().0.checksum.get(), c);
    }

    #[test]
    // Reads a golden capture: file access is shut off under Miri (isolation).
    #[cfg_attr(miri, ignore)]
    fn snabb_inner_frames_have_valid_checksums() {
        // The attachment-circuit frames are IPv4/UDP with real checksums: independent golden
        // values for the IPv4 header checksum and the UDP checksum.
        let frames = testdata::snabb_frames("ac.cap.input");
        assert_eq!(frames.len(), 100);
        let mut udp = 0;
        for (i, f) in frames.iter().enumerate() {
            let (l2, et) = l2_walk(f).unwrap();
            if et != ethertype::IPV4 {
                continue;
            }
            let (ip, _) = Ip4Hdr::parse(&f[l2..]).unwrap();
            assert_eq!(
                ipv4_header_checksum(&f[l2..l2 + ip.header_len()]),
                0,
                "frame {i}"
            );
            if ip.protocol == PROTO_UDP {
                assert_eq!(verify_l4_checksum(f), Ok(true), "frame {i}");
                let mut copy = f.clone();
                assert_eq!(recompute_l4_checksum(&mut copy), Ok(PROTO_UDP));
                assert_eq!(&copy, f, "frame {i}: recompute changed a correct checksum");
                let seg = &f[l2 + 20..l2 + usize::from(ip.total_len.get())];
                let mut zeroed: Vec<u8> = seg.to_vec();
                zeroed[6..8].fill(0);
                let c = udp_tcp_checksum_ip4(ip.src_addr(), ip.dst_addr(), PROTO_UDP, &zeroed);
                assert_eq!(c.to_be_bytes(), seg[6..8], "frame {i}");
                udp += 1;
            }
        }
        assert!(udp > 50, "expected mostly UDP frames, found {udp}");
    }

    /// Builds Ethernet + IPv6 + UDP with an 11-byte payload and a correct checksum.
    fn udp6_frame() -> Vec<u8> {
        let src: Ipv6Addr = "2001:db8::1".parse().unwrap();
        let dst: Ipv6Addr = "2001:db8::2".parse().unwrap();
        let data = b"hello world";
        let ulen = UdpHdr::LEN + data.len();
        let mut f = std::vec![0u8; EthHdr::LEN + Ip6Hdr::LEN + ulen];
        EthHdr::new(Mac::BROADCAST, Mac([2, 0, 0, 0, 0, 1]), ethertype::IPV6)
            .emit(&mut f)
            .unwrap();
        Ip6Hdr::parse_mut(&mut f[14..]).unwrap().0.set_default(
            ulen as u16,
            PROTO_UDP,
            64,
            src,
            dst,
        );
        UdpHdr::new(1000, 2000, ulen as u16)
            .emit(&mut f[54..])
            .unwrap();
        f[62..].copy_from_slice(data);
        let c = ip6_pseudo_checksum(src, dst, ulen as u32, PROTO_UDP, &f[54..]);
        f[60..62].copy_from_slice(&c.to_be_bytes());
        f
    }

    #[test]
    fn finish_partial_matches_full() {
        let good = udp6_frame();
        assert_eq!(verify_l4_checksum(&good), Ok(true));
        // What the kernel hands over: the folded pseudo-header sum, not complemented.
        let mut partial = good.clone();
        let (ip, _) = Ip6Hdr::parse(&partial[14..]).unwrap();
        let pseudo = ip6_pseudo_sum(ip.src_addr(), ip.dst_addr(), 19, PROTO_UDP).fold();
        partial[60..62].copy_from_slice(&pseudo.to_be_bytes());
        assert_eq!(verify_l4_checksum(&partial), Ok(false));
        finish_l4_checksum(&mut partial, 54, UdpHdr::CHECKSUM_OFFSET).unwrap();
        assert_eq!(partial, good);
        // Same frame, fixed the other way.
        let mut garbage = good.clone();
        garbage[60..62].copy_from_slice(&[0xde, 0xad]);
        assert_eq!(recompute_l4_checksum(&mut garbage), Ok(PROTO_UDP));
        assert_eq!(garbage, good);
    }

    #[test]
    fn finish_bounds() {
        let mut f = [0u8; 10];
        assert_eq!(
            finish_l4_checksum(&mut f, 4, 5),
            Err(Truncated {
                needed: 11,
                got: 10
            })
        );
        assert!(finish_l4_checksum(&mut f, usize::MAX, 1).is_err());
        assert!(finish_l4_checksum(&mut f, 1, usize::MAX).is_err());
        assert_eq!(finish_l4_checksum(&mut f, 4, 4), Ok(()));
        // All-zero data sums to 0: stored as 0xffff, never 0.
        assert_eq!(f[8..10], [0xff, 0xff]);
    }

    #[test]
    fn tcp_over_ipv4_with_vlan() {
        let src = Ipv4Addr::new(10, 0, 0, 1);
        let dst = Ipv4Addr::new(10, 0, 0, 2);
        let mut f = std::vec![0u8; 18 + 20 + 20 + 4 + 6]; // 6 bytes of Ethernet padding
        EthHdr::new(Mac::BROADCAST, Mac([2, 0, 0, 0, 0, 1]), ethertype::DOT1Q)
            .emit(&mut f)
            .unwrap();
        crate::ethernet::Dot1qTag::new(10, ethertype::IPV4)
            .emit(&mut f[14..])
            .unwrap();
        Ip4Hdr::new(src, dst, PROTO_TCP, 24, 64)
            .emit(&mut f[18..])
            .unwrap();
        TcpHdr::new(1, 2, 3, 4, crate::tcp::FLAG_ACK)
            .emit(&mut f[38..])
            .unwrap();
        f[58..62].copy_from_slice(b"data");
        f[62..].fill(0xee); // padding must not be summed
        assert_eq!(recompute_l4_checksum(&mut f), Ok(PROTO_TCP));
        assert_eq!(verify_l4_checksum(&f), Ok(true));
        let c = udp_tcp_checksum_ip4(src, dst, PROTO_TCP, &{
            let mut s = f[38..62].to_vec();
            s[16..18].fill(0);
            s
        });
        assert_eq!(c.to_be_bytes(), f[54..56]);
        f[60] ^= 1;
        assert_eq!(verify_l4_checksum(&f), Ok(false));
    }

    #[test]
    fn locate_rejects() {
        let good = udp6_frame();
        // Truncated anywhere before the end of the UDP header: an error, never a panic.
        for n in 0..62 {
            assert!(verify_l4_checksum(&good[..n]).is_err(), "prefix {n}");
        }
        let mut arp = good.clone();
        arp[12..14].copy_from_slice(&ethertype::ARP.to_be_bytes());
        assert_eq!(verify_l4_checksum(&arp), Err(Error::Unsupported));
        let mut icmp = good.clone();
        icmp[20] = PROTO_ICMPV6;
        assert_eq!(verify_l4_checksum(&icmp), Err(Error::Unsupported));
        let mut v5 = good.clone();
        v5[14] = 0x50;
        assert_eq!(verify_l4_checksum(&v5), Err(Error::BadVersion(5)));
        let mut zero_udp6 = good;
        zero_udp6[60..62].fill(0);
        assert_eq!(verify_l4_checksum(&zero_udp6), Ok(false));
    }

    fn be_bytes(w: &[u16]) -> std::vec::Vec<u8> {
        w.iter().flat_map(|x| x.to_be_bytes()).collect()
    }

    #[test]
    fn incremental_update_folds_twice_when_it_must() {
        // hc = 0 (the data sum is 0xffff), a 0 word becomes 1: ~hc + ~old + new = 0x1ffff,
        // whose first fold carries again.
        let words = [0xffffu16, 0];
        let hc = internet_checksum(&be_bytes(&words));
        assert_eq!(hc, 0);
        assert_eq!(
            update_u16(hc, 0, 1),
            internet_checksum(&be_bytes(&[0xffff, 1]))
        );
        assert_eq!(update_u16(hc, 0, 1), 0xfffe);
    }

    proptest! {
        #![proptest_config(crate::proptest_config())]
        #[test]
        fn incremental_update_equals_recompute(
            mut words in proptest::collection::vec(any::<u16>(), 1..32),
            k in any::<usize>(),
            new in any::<u16>(),
        ) {
            let hc = internet_checksum(&be_bytes(&words));
            let k = k % words.len();
            let old = core::mem::replace(&mut words[k], new);
            prop_assert_eq!(update_u16(hc, old, new), internet_checksum(&be_bytes(&words)));
        }

        #[test]
        fn sum_matches_reference(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            prop_assert_eq!(Sum::ZERO.add_bytes(&data).fold(), reference_sum(&data));
        }

        #[test]
        fn sum_in_even_pieces(data in proptest::collection::vec(any::<u8>(), 0..300), cut in 0usize..150) {
            let cut = (cut * 2).min(data.len() & !1);
            let whole = Sum::ZERO.add_bytes(&data).fold();
            prop_assert_eq!(Sum::ZERO.add_bytes(&data[..cut]).add_bytes(&data[cut..]).fold(), whole);
        }

        #[test]
        fn recompute_then_verify(payload in proptest::collection::vec(any::<u8>(), 0..200), junk: u16) {
            let mut f = udp6_frame();
            f.truncate(62);
            f.extend_from_slice(&payload);
            let ulen = (f.len() - 54) as u16;
            f[18..20].copy_from_slice(&ulen.to_be_bytes());
            f[58..60].copy_from_slice(&ulen.to_be_bytes());
            f[60..62].copy_from_slice(&junk.to_be_bytes());
            prop_assert_eq!(recompute_l4_checksum(&mut f), Ok(PROTO_UDP));
            prop_assert_eq!(verify_l4_checksum(&f), Ok(true));
            prop_assert_ne!(&f[60..62], &[0, 0]);
        }

        #[test]
        fn never_panics_on_garbage(mut f in proptest::collection::vec(any::<u8>(), 0..120)) {
            let _ = verify_l4_checksum(&f);
            let _ = recompute_l4_checksum(&mut f);
        }
    }
}
