//! IPv6 fixed header, protocol numbers and the address helpers ND needs.

use core::net::Ipv6Addr;

use zerocopy::network_endian::{U16, U32};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use crate::ethernet::Mac;
use crate::{header, Error, Truncated};

/// Hop-by-Hop Options extension header (RFC 8200 §4.3).
pub const PROTO_HOP_BY_HOP: u8 = 0;
/// TCP.
pub const PROTO_TCP: u8 = 6;
/// UDP.
pub const PROTO_UDP: u8 = 17;
/// Routing extension header (RFC 8200 §4.4).
pub const PROTO_ROUTING: u8 = 43;
/// Fragment extension header (RFC 8200 §4.5).
pub const PROTO_FRAGMENT: u8 = 44;
/// ICMPv6 (RFC 4443).
pub const PROTO_ICMPV6: u8 = 58;
/// No next header (RFC 8200 §4.7).
pub const PROTO_NONE: u8 = 59;
/// Destination Options extension header (RFC 8200 §4.6).
pub const PROTO_DEST_OPTS: u8 = 60;
/// L2TPv3 directly over IP (RFC 3931 §4.1.1).
pub const PROTO_L2TP: u8 = 115;

/// ff02::1, all nodes on the link.
pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
/// ff02::2, all routers on the link.
pub const ALL_ROUTERS: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 2);

/// IPv6 fixed header.
///
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |Version| Traffic Class |           Flow Label                  |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |         Payload Length        |  Next Header  |   Hop Limit   |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                                                               |
/// +                                                               +
/// |                         Source Address                        |
/// +                                                               +
/// |                                                               |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                                                               |
/// +                                                               +
/// |                      Destination Address                      |
/// +                                                               +
/// |                                                               |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
///
/// <https://www.rfc-editor.org/rfc/rfc8200#section-3>. `parse` checks the length only; the
/// version nibble is checked by [`Ipv6Repr::parse`] or by the caller.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct Ip6Hdr {
    /// Version (4 bits), traffic class (8), flow label (20): use the accessors.
    pub vtcfl: U32,
    /// Length of everything after this header, extension headers included.
    pub payload_len: U16,
    /// Protocol of the header that follows.
    pub next_header: u8,
    /// Decremented by each router; 0 or 1 means do not forward.
    pub hop_limit: u8,
    /// Source address, wire order.
    pub src: [u8; 16],
    /// Destination address, wire order.
    pub dst: [u8; 16],
}
header!(Ip6Hdr, 40);

impl Ip6Hdr {
    /// Version nibble (6 for a valid header).
    pub fn version(&self) -> u8 {
        (self.vtcfl.get() >> 28) as u8
    }

    /// Sets the version nibble; only the low 4 bits of `v` are used.
    pub fn set_version(&mut self, v: u8) {
        let w = self.vtcfl.get() & 0x0fff_ffff;
        self.vtcfl.set(w | (u32::from(v & 0xf) << 28));
    }

    /// Traffic class (DSCP and ECN).
    pub fn traffic_class(&self) -> u8 {
        ((self.vtcfl.get() >> 20) & 0xff) as u8
    }

    /// Sets the traffic class.
    pub fn set_traffic_class(&mut self, tc: u8) {
        let w = self.vtcfl.get() & 0xf00f_ffff;
        self.vtcfl.set(w | (u32::from(tc) << 20));
    }

    /// Flow label (20 bits).
    pub fn flow_label(&self) -> u32 {
        self.vtcfl.get() & 0x000f_ffff
    }

    /// Sets the flow label; only the low 20 bits of `fl` are used.
    pub fn set_flow_label(&mut self, fl: u32) {
        let w = self.vtcfl.get() & 0xfff0_0000;
        self.vtcfl.set(w | (fl & 0x000f_ffff));
    }

    /// Source address.
    pub fn src_addr(&self) -> Ipv6Addr {
        Ipv6Addr::from(self.src)
    }

    /// Sets the source address.
    pub fn set_src_addr(&mut self, a: Ipv6Addr) {
        self.src = a.octets();
    }

    /// Destination address.
    pub fn dst_addr(&self) -> Ipv6Addr {
        Ipv6Addr::from(self.dst)
    }

    /// Sets the destination address.
    pub fn set_dst_addr(&mut self, a: Ipv6Addr) {
        self.dst = a.octets();
    }

    /// Writes every field: version 6, traffic class 0, flow label 0 and the given values. Safe
    /// on a buffer holding stale bytes.
    pub fn set_default(
        &mut self,
        payload_len: u16,
        next_header: u8,
        hop_limit: u8,
        src: Ipv6Addr,
        dst: Ipv6Addr,
    ) {
        self.vtcfl.set(6 << 28);
        self.payload_len.set(payload_len);
        self.next_header = next_header;
        self.hop_limit = hop_limit;
        self.src = src.octets();
        self.dst = dst.octets();
    }
}

/// Decoded IPv6 fixed header, for building packets and for tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv6Repr {
    /// Source address.
    pub src_addr: Ipv6Addr,
    /// Destination address.
    pub dst_addr: Ipv6Addr,
    /// Protocol of the header that follows.
    pub next_header: u8,
    /// Bytes after the fixed header.
    pub payload_len: u16,
    /// Hop limit.
    pub hop_limit: u8,
    /// Traffic class.
    pub traffic_class: u8,
    /// Flow label (20 bits).
    pub flow_label: u32,
}

impl Ipv6Repr {
    /// Decodes a header whose length is already checked; fails if the version is not 6.
    pub fn parse(h: &Ip6Hdr) -> Result<Self, Error> {
        if h.version() != 6 {
            return Err(Error::BadVersion(h.version()));
        }
        Ok(Ipv6Repr {
            src_addr: h.src_addr(),
            dst_addr: h.dst_addr(),
            next_header: h.next_header,
            payload_len: h.payload_len.get(),
            hop_limit: h.hop_limit,
            traffic_class: h.traffic_class(),
            flow_label: h.flow_label(),
        })
    }

    /// Bytes [`Self::emit`] writes.
    pub const fn buffer_len(&self) -> usize {
        Ip6Hdr::LEN
    }

    /// Writes every byte of the header.
    pub fn emit(&self, h: &mut Ip6Hdr) {
        h.set_default(
            self.payload_len,
            self.next_header,
            self.hop_limit,
            self.src_addr,
            self.dst_addr,
        );
        h.set_traffic_class(self.traffic_class);
        h.set_flow_label(self.flow_label);
    }
}

/// fe80::/10.
pub const fn is_link_local(a: Ipv6Addr) -> bool {
    let o = a.octets();
    o[0] == 0xfe && o[1] & 0xc0 == 0x80
}

/// ff00::/8.
pub const fn is_multicast(a: Ipv6Addr) -> bool {
    a.octets()[0] == 0xff
}

/// The solicited-node multicast address of `a`: ff02::1:ff00:0/104 plus the low 24 bits of `a`
/// (RFC 4291 §2.7.1). Neighbour solicitations for `a` go there.
pub const fn solicited_node(a: Ipv6Addr) -> Ipv6Addr {
    let o = a.octets();
    Ipv6Addr::new(
        0xff02,
        0,
        0,
        0,
        0,
        1,
        0xff00 | o[13] as u16,
        (o[14] as u16) << 8 | o[15] as u16,
    )
}

/// The Ethernet destination for IPv6 multicast `a`: 33:33 and the low 32 bits of `a`
/// (RFC 2464 §7).
pub const fn multicast_mac(a: Ipv6Addr) -> Mac {
    let o = a.octets();
    Mac([0x33, 0x33, o[12], o[13], o[14], o[15]])
}

/// Skips the extension headers that chain with a (next header, length) pair: Hop-by-Hop,
/// Routing and Destination Options. Returns the first other protocol number and its offset in
/// The IPv6 Fragment extension header (RFC 8200 §4.5).
///
/// ```text
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |  Next Header  |   Reserved    |      Fragment Offset    |Res|M|
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                         Identification                        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct FragHdr {
    pub next_header: u8,
    pub reserved: u8,
    /// Offset in 8-byte units (high 13 bits) and the M flag (bit 0).
    pub offset_flags: U16,
    pub ident: U32,
}
header!(FragHdr, 8);

impl FragHdr {
    /// A fragment header: `offset` in bytes (a multiple of 8), `more` fragments follow.
    pub fn new(next_header: u8, offset: usize, more: bool, ident: u32) -> Self {
        FragHdr {
            next_header,
            reserved: 0,
            offset_flags: U16::new(((offset as u16) & !7) | u16::from(more)),
            ident: U32::new(ident),
        }
    }
    /// Offset of this fragment's data in the original payload, in bytes.
    pub fn offset(&self) -> usize {
        usize::from(self.offset_flags.get() & !7)
    }
    /// More fragments follow.
    pub fn more(&self) -> bool {
        self.offset_flags.get() & 1 != 0
    }
}

/// `payload` (the bytes after the fixed header). A fragment header stops the walk and is
/// returned as [`PROTO_FRAGMENT`], since what follows it may not be the start of a header.
pub fn upper_layer(mut next_header: u8, payload: &[u8]) -> Result<(u8, usize), Truncated> {
    let mut off = 0;
    while matches!(
        next_header,
        PROTO_HOP_BY_HOP | PROTO_ROUTING | PROTO_DEST_OPTS
    ) {
        // Each of these is at least 8 bytes, so the loop ends within payload.len() / 8 rounds.
        let ext = payload.get(off..).unwrap_or_default();
        let Some(&[nh, ext_len]) = ext.first_chunk::<2>() else {
            return Err(Truncated {
                needed: off + 2,
                got: payload.len(),
            });
        };
        let len = (usize::from(ext_len) + 1) * 8;
        if ext.len() < len {
            return Err(Truncated {
                needed: off + len,
                got: payload.len(),
            });
        }
        next_header = nh;
        off += len;
    }
    Ok((next_header, off))
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::header_tests::truncation_sweep;
    use proptest::prelude::*;

    static HDR: [u8; 42] = [
        0x6b, 0x81, 0x23, 0x45, // version 6, traffic class 0xb8, flow label 0x12345
        0x00, 0x9a, // payload length 154
        0x73, // next header 115 (L2TP)
        0x40, // hop limit 64
        0x20, 0x01, 0x06, 0x20, 0x00, 0x00, 0xc0, 0x00, // src 2001:620:0:c000::fc
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xfc, //
        0x20, 0x01, 0x06, 0x20, 0x00, 0x00, 0xc0, 0x00, // dst 2001:620:0:c000::fe
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xfe, //
        0x11, 0x11, // payload
    ];

    fn fc() -> Ipv6Addr {
        "2001:620:0:c000::fc".parse().unwrap()
    }

    fn fe() -> Ipv6Addr {
        "2001:620:0:c000::fe".parse().unwrap()
    }

    #[test]
    fn deconstruct() {
        let (h, rest) = Ip6Hdr::parse(&HDR).unwrap();
        assert_eq!(h.version(), 6);
        assert_eq!(h.traffic_class(), 0xb8);
        assert_eq!(h.flow_label(), 0x12345);
        assert_eq!(h.payload_len.get(), 154);
        assert_eq!(h.next_header, PROTO_L2TP);
        assert_eq!(h.hop_limit, 64);
        assert_eq!(h.src_addr(), fc());
        assert_eq!(h.dst_addr(), fe());
        assert_eq!(rest, &[0x11, 0x11]);
        let r = Ipv6Repr::parse(h).unwrap();
        assert_eq!(r.flow_label, 0x12345);
        assert_eq!(r.traffic_class, 0xb8);
    }

    #[test]
    fn construct_repr() {
        let mut buf = [0xa5u8; 42];
        let r = Ipv6Repr {
            src_addr: fc(),
            dst_addr: fe(),
            next_header: PROTO_L2TP,
            payload_len: 154,
            hop_limit: 64,
            traffic_class: 0xb8,
            flow_label: 0x12345,
        };
        let (h, rest) = Ip6Hdr::parse_mut(&mut buf).unwrap();
        r.emit(h);
        assert_eq!(rest, &[0xa5, 0xa5]);
        assert_eq!(r.buffer_len(), 40);
        assert_eq!(&buf[..40], &HDR[..40]);
    }

    #[test]
    fn construct_set_default() {
        let mut buf = [0xa5u8; 40];
        let (h, _) = Ip6Hdr::parse_mut(&mut buf).unwrap();
        h.set_default(154, PROTO_L2TP, 64, fc(), fe());
        let mut want = [0u8; 40];
        want.copy_from_slice(&HDR[..40]);
        want[..4].copy_from_slice(&[0x60, 0, 0, 0]); // tc 0, flow 0
        assert_eq!(buf, want);
    }

    #[test]
    fn setters_keep_other_bits() {
        let mut h = *Ip6Hdr::parse(&HDR).unwrap().0;
        h.set_flow_label(0xfff_ffff); // masked to 20 bits
        assert_eq!(
            (h.version(), h.traffic_class(), h.flow_label()),
            (6, 0xb8, 0xfffff)
        );
        h.set_traffic_class(0x01);
        assert_eq!(
            (h.version(), h.traffic_class(), h.flow_label()),
            (6, 0x01, 0xfffff)
        );
        h.set_version(4);
        assert_eq!(
            (h.version(), h.traffic_class(), h.flow_label()),
            (4, 0x01, 0xfffff)
        );
        assert_eq!(Ipv6Repr::parse(&h), Err(Error::BadVersion(4)));
    }

    #[test]
    fn truncation() {
        truncation_sweep(&HDR, Ip6Hdr::LEN, |b| Ip6Hdr::parse(b).map(drop));
    }

    #[test]
    fn address_helpers() {
        let a: Ipv6Addr = "2001:db8::1:2a3b:4c5d".parse().unwrap();
        assert_eq!(
            solicited_node(a),
            "ff02::1:ff3b:4c5d".parse::<Ipv6Addr>().unwrap()
        );
        assert_eq!(
            multicast_mac(solicited_node(a)),
            Mac([0x33, 0x33, 0xff, 0x3b, 0x4c, 0x5d])
        );
        assert_eq!(multicast_mac(ALL_NODES), Mac([0x33, 0x33, 0, 0, 0, 1]));
        assert!(is_link_local("fe80::1".parse().unwrap()));
        assert!(is_link_local("febf::1".parse().unwrap()));
        assert!(!is_link_local("fec0::1".parse().unwrap()));
        assert!(!is_link_local(a));
        assert!(is_multicast(ALL_ROUTERS) && !is_multicast(a));
    }

    #[test]
    fn extension_walk() {
        // Hop-by-hop (8 bytes) -> destination options (16 bytes) -> UDP.
        let mut p = [0u8; 32];
        p[0] = PROTO_DEST_OPTS; // hbh: next header
        p[1] = 0; // hbh: length 0 => 8 bytes
        p[8] = PROTO_UDP; // dest opts: next header
        p[9] = 1; // dest opts: length 1 => 16 bytes
        assert_eq!(upper_layer(PROTO_HOP_BY_HOP, &p), Ok((PROTO_UDP, 24)));
        assert_eq!(upper_layer(PROTO_TCP, &p), Ok((PROTO_TCP, 0)));
        assert_eq!(upper_layer(PROTO_FRAGMENT, &p), Ok((PROTO_FRAGMENT, 0)));
        for n in 0..24 {
            assert!(
                upper_layer(PROTO_HOP_BY_HOP, &p[..n]).is_err(),
                "prefix {n}"
            );
        }
    }

    proptest! {
        #![proptest_config(crate::proptest_config())]
        #[test]
        fn repr_round_trip(
            src: [u8; 16], dst: [u8; 16], nh: u8, plen: u16, hl: u8, tc: u8, fl in 0u32..1 << 20
        ) {
            let r = Ipv6Repr {
                src_addr: src.into(), dst_addr: dst.into(), next_header: nh,
                payload_len: plen, hop_limit: hl, traffic_class: tc, flow_label: fl,
            };
            let mut buf = [0xa5u8; 40];
            r.emit(Ip6Hdr::parse_mut(&mut buf).unwrap().0);
            prop_assert_eq!(Ipv6Repr::parse(Ip6Hdr::parse(&buf).unwrap().0), Ok(r));
        }

        #[test]
        fn upper_layer_in_bounds(nh: u8, p in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Ok((_, off)) = upper_layer(nh, &p) {
                prop_assert!(off <= p.len());
            }
        }
    }
}
