//! Software segmentation of GSO super-frames (what a NIC's TSO/USO would do).
//!
//! TCP from a local Linux stack over a veth reaches the RX ring as one frame of up to 64 KiB
//! plus a virtio-net header saying "segment me at `gso_size` bytes of payload". pwire cannot
//! send that on a wire with a 1500-byte MTU, so `af-packet-input` cuts it into MTU-sized frames
//! here, directly into pool buffers: headers are replicated, IPv4 total length / id and header
//! checksum, IPv6 payload length, TCP sequence number and flags (FIN/PSH only on the last
//! segment, CWR only on the first, as the kernel's `tcp_gso_segment`) and UDP length are
//! fixed, and the L4 checksum field gets the segment's pseudo-header sum so that it leaves as a
//! `CHECKSUM_PARTIAL` frame (`interface-output` finishes it).
//!
//! Supported: TCPv4, TCPv6 (extension headers included: the L4 offset comes from the
//! virtio-net header's `csum_start`) and UDP_L4 (USO), under up to two VLAN tags. Legacy UFO
//! (IPv4 fragmentation) is refused.

use core::net::{Ipv4Addr, Ipv6Addr};

use pwire_wire::checksum::{ip4_pseudo_sum, ip6_pseudo_sum, ipv4_header_checksum};

use crate::rx::{Gso, PartialCsum, Vlan};
use crate::sys::{VIRTIO_NET_HDR_GSO_TCPV4, VIRTIO_NET_HDR_GSO_TCPV6, VIRTIO_NET_HDR_GSO_UDP_L4};

/// Why a super-frame cannot be segmented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GsoError {
    /// GSO kind we do not implement (UFO), or the headers do not match the kind.
    Unsupported,
    /// Headers truncated or inconsistent.
    Malformed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum L3 {
    V4,
    V6,
}

/// How to cut one super-frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    l3_kind: L3,
    tcp: bool,
    /// Offsets in the untagged frame (`RxPkt::data`).
    l3: usize,
    l4: usize,
    /// Length of all headers (L2 + L3 + L4), untagged.
    hdr_len: usize,
    mss: usize,
    payload: usize,
    /// Number of segments.
    pub segments: usize,
}

impl Plan {
    /// Bytes of segment `i`, with the re-inserted VLAN tag when `tagged`.
    pub fn segment_len(&self, i: usize, tagged: bool) -> usize {
        let off = i * self.mss;
        let chunk = self.mss.min(self.payload - off);
        self.hdr_len + chunk + if tagged { 4 } else { 0 }
    }

    /// The largest segment (the first one).
    pub fn max_segment_len(&self, tagged: bool) -> usize {
        self.segment_len(0, tagged)
    }
}

fn be16(d: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*d.get(at)?, *d.get(at + 1)?]))
}

/// Works out the segmentation of `data` (an untagged frame as the ring holds it) from the
/// virtio-net header's GSO and checksum info.
pub fn plan(data: &[u8], g: Gso, csum: Option<PartialCsum>) -> Result<Plan, GsoError> {
    let mut l3 = 14;
    let mut et = be16(data, 12).ok_or(GsoError::Malformed)?;
    // Inner tags stay in the frame (the kernel only strips the outer one).
    for _ in 0..2 {
        if et == 0x8100 || et == 0x88a8 {
            et = be16(data, l3 + 2).ok_or(GsoError::Malformed)?;
            l3 += 4;
        }
    }
    let (l3_kind, default_l4, proto) = match et {
        0x0800 => {
            let v = *data.get(l3).ok_or(GsoError::Malformed)?;
            let ihl = usize::from(v & 0x0f) * 4;
            if v >> 4 != 4 || ihl < 20 {
                return Err(GsoError::Malformed);
            }
            (
                L3::V4,
                l3 + ihl,
                *data.get(l3 + 9).ok_or(GsoError::Malformed)?,
            )
        }
        0x86dd => {
            let nh = *data.get(l3 + 6).ok_or(GsoError::Malformed)?;
            (L3::V6, l3 + 40, nh)
        }
        _ => return Err(GsoError::Unsupported),
    };
    let tcp = match g.kind {
        VIRTIO_NET_HDR_GSO_TCPV4 if l3_kind == L3::V4 => true,
        VIRTIO_NET_HDR_GSO_TCPV6 if l3_kind == L3::V6 => true,
        VIRTIO_NET_HDR_GSO_UDP_L4 => false,
        _ => return Err(GsoError::Unsupported),
    };
    // The kernel says where L4 starts (it knows about IPv6 extension headers); without the
    // checksum info assume no options beyond the IPv4 IHL / plain IPv6 header.
    let l4 = match csum {
        Some(c) => usize::from(c.start),
        None => default_l4,
    };
    if l4 < default_l4 || (csum.is_none() && proto != if tcp { 6 } else { 17 }) {
        return Err(GsoError::Malformed);
    }
    let l4_hdr = if tcp {
        let off = *data.get(l4 + 12).ok_or(GsoError::Malformed)?;
        let thl = usize::from(off >> 4) * 4;
        if thl < 20 {
            return Err(GsoError::Malformed);
        }
        thl
    } else {
        8
    };
    let hdr_len = l4 + l4_hdr;
    if hdr_len > data.len() {
        return Err(GsoError::Malformed);
    }
    let mss = usize::from(g.size);
    if mss == 0 {
        return Err(GsoError::Malformed);
    }
    let payload = data.len() - hdr_len;
    Ok(Plan {
        l3_kind,
        tcp,
        l3,
        l4,
        hdr_len,
        mss,
        payload,
        segments: payload.div_ceil(mss).max(1),
    })
}

/// Writes segment `i` of `data` into `out` (re-inserting `vlan` after the MAC addresses) and
/// returns its length and where its partial L4 checksum is (relative to `out`). `out` must hold
/// [`Plan::segment_len`] bytes.
pub fn write_segment(
    p: &Plan,
    data: &[u8],
    vlan: Option<Vlan>,
    i: usize,
    out: &mut [u8],
) -> Option<(usize, PartialCsum)> {
    let off = i * p.mss;
    if off >= p.payload && !(i == 0 && p.payload == 0) {
        return None;
    }
    let chunk = p.mss.min(p.payload - off);
    let shift = if vlan.is_some() { 4 } else { 0 };
    let len = p.hdr_len + chunk + shift;
    let out = out.get_mut(..len)?;
    // Headers, with the stripped tag put back.
    match vlan {
        Some(v) => {
            out[..12].copy_from_slice(&data[..12]);
            out[12..14].copy_from_slice(&v.tpid.to_be_bytes());
            out[14..16].copy_from_slice(&v.tci.to_be_bytes());
            out[16..p.hdr_len + 4].copy_from_slice(&data[12..p.hdr_len]);
        }
        None => out[..p.hdr_len].copy_from_slice(&data[..p.hdr_len]),
    }
    let src = p.hdr_len + off;
    out[p.hdr_len + shift..].copy_from_slice(&data[src..src + chunk]);

    let (l3, l4) = (p.l3 + shift, p.l4 + shift);
    let l4_len = len - l4;
    let last = off + chunk >= p.payload;
    let proto = if p.tcp { 6 } else { 17 };
    let pseudo = match p.l3_kind {
        L3::V4 => {
            let ip = &mut out[l3..l4];
            let ihl = usize::from(ip[0] & 0x0f) * 4;
            let tot = u16::try_from(len - l3).ok()?;
            ip[2..4].copy_from_slice(&tot.to_be_bytes());
            let id = u16::from_be_bytes([ip[4], ip[5]]).wrapping_add(i as u16);
            ip[4..6].copy_from_slice(&id.to_be_bytes());
            ip[10..12].fill(0);
            let c = ipv4_header_checksum(&ip[..ihl]);
            ip[10..12].copy_from_slice(&c.to_be_bytes());
            let s = Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]);
            let d = Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]);
            ip4_pseudo_sum(s, d, proto, u16::try_from(l4_len).ok()?)
        }
        L3::V6 => {
            let ip = &mut out[l3..l4];
            let plen = u16::try_from(len - l3 - 40).ok()?;
            ip[4..6].copy_from_slice(&plen.to_be_bytes());
            let s: [u8; 16] = ip[8..24].try_into().ok()?;
            let d: [u8; 16] = ip[24..40].try_into().ok()?;
            ip6_pseudo_sum(
                Ipv6Addr::from(s),
                Ipv6Addr::from(d),
                u32::try_from(l4_len).ok()?,
                proto,
            )
        }
    };
    let l4h = &mut out[l4..];
    let csum_off = if p.tcp {
        let seq = u32::from_be_bytes([l4h[4], l4h[5], l4h[6], l4h[7]]);
        let seq = seq.wrapping_add((off & 0xffff_ffff) as u32);
        l4h[4..8].copy_from_slice(&seq.to_be_bytes());
        if !last {
            l4h[13] &= !(0x01 | 0x08); // FIN, PSH
        }
        if i != 0 {
            l4h[13] &= !0x80; // CWR
        }
        16
    } else {
        let ulen = u16::try_from(l4_len).ok()?;
        l4h[4..6].copy_from_slice(&ulen.to_be_bytes());
        6
    };
    l4h[csum_off..csum_off + 2].copy_from_slice(&pseudo.fold().to_be_bytes());
    Some((
        len,
        PartialCsum {
            start: u16::try_from(l4).ok()?,
            offset: csum_off as u16,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pwire_wire::checksum::{finish_l4_checksum, verify_l4_checksum};

    fn tcp4_super(payload: &[u8], mss: u16, flags: u8) -> (Vec<u8>, Gso, PartialCsum) {
        let mut f = vec![0u8; 14 + 20 + 32];
        f[..6].copy_from_slice(&[2, 0, 0, 0, 0, 2]);
        f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        let ip = &mut f[14..34];
        ip[0] = 0x45;
        let tot = (20 + 32 + payload.len()) as u16;
        ip[2..4].copy_from_slice(&tot.to_be_bytes());
        ip[4..6].copy_from_slice(&0xfffeu16.to_be_bytes());
        ip[6] = 0x40;
        ip[8] = 64;
        ip[9] = 6;
        ip[12..16].copy_from_slice(&[198, 18, 0, 1]);
        ip[16..20].copy_from_slice(&[198, 18, 0, 2]);
        let c = ipv4_header_checksum(ip);
        ip[10..12].copy_from_slice(&c.to_be_bytes());
        let t = &mut f[34..66];
        t[0..2].copy_from_slice(&40000u16.to_be_bytes());
        t[2..4].copy_from_slice(&5201u16.to_be_bytes());
        t[4..8].copy_from_slice(&0xffff_fff0u32.to_be_bytes());
        t[12] = 8 << 4;
        t[13] = flags;
        f.extend_from_slice(payload);
        let g = Gso {
            kind: VIRTIO_NET_HDR_GSO_TCPV4,
            ecn: false,
            size: mss,
            hdr_len: 66,
        };
        (
            f,
            g,
            PartialCsum {
                start: 34,
                offset: 16,
            },
        )
    }

    #[test]
    fn tcp4_segments_reassemble_with_valid_checksums() {
        let payload: Vec<u8> = (0..10_000u32).map(|i| (i * 7 + 3) as u8).collect();
        let (f, g, c) = tcp4_super(&payload, 1448, 0x80 | 0x18 | 0x01);
        let p = plan(&f, g, Some(c)).unwrap();
        assert_eq!(p.segments, 7);
        let mut got = Vec::new();
        let mut out = vec![0u8; 2048];
        for i in 0..p.segments {
            let (n, pc) = write_segment(&p, &f, None, i, &mut out).unwrap();
            assert_eq!(n, p.segment_len(i, false));
            assert!(n <= 1514);
            let s = &mut out[..n];
            finish_l4_checksum(s, pc.start.into(), pc.offset.into()).unwrap();
            assert_eq!(verify_l4_checksum(s), Ok(true), "segment {i}");
            assert!(internet_ok(&s[14..34]), "ip header {i}");
            assert_eq!(u16::from_be_bytes([s[16], s[17]]) as usize, n - 14);
            assert_eq!(
                u16::from_be_bytes([s[18], s[19]]),
                0xfffeu16.wrapping_add(i as u16)
            );
            let seq = u32::from_be_bytes([s[38], s[39], s[40], s[41]]);
            assert_eq!(seq, 0xffff_fff0u32.wrapping_add((i * 1448) as u32));
            let fl = s[47];
            assert_eq!(fl & 0x80 != 0, i == 0, "CWR only first");
            assert_eq!(fl & 0x09 != 0, i == p.segments - 1, "FIN/PSH only last");
            assert_eq!(fl & 0x10, 0x10, "ACK everywhere");
            got.extend_from_slice(&s[66..]);
        }
        assert_eq!(got, payload);
        assert!(write_segment(&p, &f, None, p.segments, &mut out).is_none());
    }

    fn internet_ok(h: &[u8]) -> bool {
        pwire_wire::checksum::internet_checksum(h) == 0
    }

    #[test]
    fn vlan_tag_is_reinserted_and_offsets_shift() {
        let payload = vec![0xabu8; 3000];
        let (f, g, c) = tcp4_super(&payload, 1000, 0x10);
        let p = plan(&f, g, Some(c)).unwrap();
        assert_eq!(p.segments, 3);
        let v = Vlan {
            tpid: 0x8100,
            tci: 7,
        };
        let mut out = vec![0u8; 2048];
        let (n, pc) = write_segment(&p, &f, Some(v), 1, &mut out).unwrap();
        assert_eq!(n, 4 + 66 + 1000);
        assert_eq!(&out[12..16], &[0x81, 0, 0, 7]);
        assert_eq!(pc.start, 38);
        let s = &mut out[..n];
        finish_l4_checksum(s, pc.start.into(), pc.offset.into()).unwrap();
        assert_eq!(verify_l4_checksum(s), Ok(true));
    }

    #[test]
    fn udp6_uso_segments() {
        let payload: Vec<u8> = (0..2500u32).map(|i| i as u8).collect();
        let mut f = vec![0u8; 14 + 40 + 8];
        f[12..14].copy_from_slice(&[0x86, 0xdd]);
        f[14] = 0x60;
        f[20] = 17;
        f[21] = 64;
        f[22..38].copy_from_slice(&Ipv6Addr::LOCALHOST.octets());
        f[38..54].copy_from_slice(&Ipv6Addr::LOCALHOST.octets());
        f.extend_from_slice(&payload);
        let g = Gso {
            kind: VIRTIO_NET_HDR_GSO_UDP_L4,
            ecn: false,
            size: 1200,
            hdr_len: 62,
        };
        let p = plan(
            &f,
            g,
            Some(PartialCsum {
                start: 54,
                offset: 6,
            }),
        )
        .unwrap();
        assert_eq!(p.segments, 3);
        let mut out = vec![0u8; 2048];
        let mut got = Vec::new();
        for i in 0..3 {
            let (n, pc) = write_segment(&p, &f, None, i, &mut out).unwrap();
            let s = &mut out[..n];
            assert_eq!(u16::from_be_bytes([s[18], s[19]]) as usize, n - 54);
            assert_eq!(u16::from_be_bytes([s[58], s[59]]) as usize, n - 54);
            finish_l4_checksum(s, pc.start.into(), pc.offset.into()).unwrap();
            assert_eq!(verify_l4_checksum(s), Ok(true));
            got.extend_from_slice(&s[62..]);
        }
        assert_eq!(got, payload);
    }

    #[test]
    fn refusals() {
        let (f, mut g, c) = tcp4_super(&[0; 100], 50, 0x10);
        g.kind = crate::sys::VIRTIO_NET_HDR_GSO_UDP;
        assert_eq!(plan(&f, g, Some(c)), Err(GsoError::Unsupported));
        g.kind = VIRTIO_NET_HDR_GSO_TCPV6;
        assert_eq!(plan(&f, g, Some(c)), Err(GsoError::Unsupported));
        g.kind = VIRTIO_NET_HDR_GSO_TCPV4;
        g.size = 0;
        assert_eq!(plan(&f, g, Some(c)), Err(GsoError::Malformed));
        g.size = 50;
        assert_eq!(plan(&f[..40], g, Some(c)), Err(GsoError::Malformed));
        let bad = PartialCsum {
            start: 20,
            offset: 16,
        };
        assert_eq!(plan(&f, g, Some(bad)), Err(GsoError::Malformed));
        // Without the checksum info the IHL locates TCP.
        assert_eq!(plan(&f, g, None).unwrap().segments, 2);
    }
}
