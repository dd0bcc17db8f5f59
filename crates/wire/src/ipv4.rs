//! IPv4 header: just enough to build inner test frames and to fix their checksums.

use core::net::Ipv4Addr;

use zerocopy::network_endian::U16;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use crate::checksum::ipv4_header_checksum;
use crate::header;

/// IPv4 header without options (IHL 5). Options, when IHL > 5, follow it.
///
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |Version|  IHL  |Type of Service|          Total Length         |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |         Identification        |Flags|      Fragment Offset    |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |  Time to Live |    Protocol   |         Header Checksum       |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                       Source Address                          |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                    Destination Address                        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
///
/// <https://www.rfc-editor.org/rfc/rfc791#section-3.1>
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct Ip4Hdr {
    /// Version (high nibble) and header length in 32-bit words (low nibble).
    pub version_ihl: u8,
    /// Type of service (DSCP and ECN).
    pub tos: u8,
    /// Header plus payload, in bytes.
    pub total_len: U16,
    /// Fragment identification.
    pub ident: U16,
    /// Flags (reserved, DF, MF) and fragment offset in 8-byte units.
    pub flags_frag: U16,
    /// Time to live.
    pub ttl: u8,
    /// Protocol of the payload (same numbers as [`crate::ipv6`]'s `PROTO_*`).
    pub protocol: u8,
    /// Header checksum.
    pub checksum: U16,
    /// Source address.
    pub src: [u8; 4],
    /// Destination address.
    pub dst: [u8; 4],
}
header!(Ip4Hdr, 20);

impl Ip4Hdr {
    /// Offset of the checksum field in the header.
    pub const CHECKSUM_OFFSET: usize = 10;

    /// An option-less header with DF set, ident 0 and its checksum filled in.
    pub fn new(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, payload_len: u16, ttl: u8) -> Self {
        let mut h = Ip4Hdr {
            version_ihl: 0x45,
            tos: 0,
            total_len: U16::new(payload_len.saturating_add(20)),
            ident: U16::ZERO,
            flags_frag: U16::new(0x4000),
            ttl,
            protocol,
            checksum: U16::ZERO,
            src: src.octets(),
            dst: dst.octets(),
        };
        h.fill_checksum();
        h
    }

    /// Version nibble (4 for a valid header).
    pub fn version(&self) -> u8 {
        self.version_ihl >> 4
    }

    /// Header length in bytes, options included (IHL × 4).
    pub fn header_len(&self) -> usize {
        usize::from(self.version_ihl & 0x0f) * 4
    }

    /// Don't Fragment flag.
    pub fn dont_fragment(&self) -> bool {
        self.flags_frag.get() & 0x4000 != 0
    }

    /// More Fragments flag.
    pub fn more_fragments(&self) -> bool {
        self.flags_frag.get() & 0x2000 != 0
    }

    /// Fragment offset in bytes.
    pub fn frag_offset(&self) -> usize {
        usize::from(self.flags_frag.get() & 0x1fff) * 8
    }

    /// True if this is one fragment of a larger datagram.
    pub fn is_fragment(&self) -> bool {
        self.more_fragments() || self.frag_offset() != 0
    }

    /// Source address.
    pub fn src_addr(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.src)
    }

    /// Destination address.
    pub fn dst_addr(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.dst)
    }

    /// Recomputes the checksum over these 20 bytes. With options, use
    /// [`ipv4_header_checksum`] over the whole header instead.
    pub fn fill_checksum(&mut self) {
        self.checksum = U16::ZERO;
        self.checksum.set(ipv4_header_checksum(self.as_bytes()));
    }

    /// Checksum over these 20 bytes is valid (options not included).
    pub fn checksum_ok(&self) -> bool {
        ipv4_header_checksum(self.as_bytes()) == 0
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::header_tests::truncation_sweep;
    use crate::ipv6::PROTO_UDP;
    use proptest::prelude::*;

    // The IPv4 header of the first frame of the snabb ac.cap.input capture.
    static HDR: [u8; 20] = [
        0x45, // version 4, IHL 5
        0x00, // tos
        0x00, 0x80, // total length 128
        0x53, 0x45, // ident 0x5345
        0x40, 0x00, // DF, offset 0
        0x40, // ttl 64
        0x11, // protocol UDP
        0x51, 0xd4, // checksum
        0xc0, 0xa8, 0x0a, 0x02, // src 192.168.10.2
        0xc0, 0xa8, 0x0a, 0x01, // dst 192.168.10.1
    ];

    #[test]
    fn deconstruct() {
        let (h, rest) = Ip4Hdr::parse(&HDR).unwrap();
        assert!(rest.is_empty());
        assert_eq!((h.version(), h.header_len()), (4, 20));
        assert_eq!(h.total_len.get(), 128);
        assert_eq!(h.ident.get(), 0x5345);
        assert!(h.dont_fragment() && !h.more_fragments() && !h.is_fragment());
        assert_eq!((h.ttl, h.protocol), (64, PROTO_UDP));
        assert_eq!(h.src_addr(), Ipv4Addr::new(192, 168, 10, 2));
        assert_eq!(h.dst_addr(), Ipv4Addr::new(192, 168, 10, 1));
        assert!(h.checksum_ok());
    }

    #[test]
    fn construct() {
        let mut h = Ip4Hdr::new(
            Ipv4Addr::new(192, 168, 10, 2),
            Ipv4Addr::new(192, 168, 10, 1),
            PROTO_UDP,
            108,
            64,
        );
        h.ident.set(0x5345);
        h.fill_checksum();
        let mut buf = [0xa5u8; 21];
        assert_eq!(h.emit(&mut buf), Ok(20));
        assert_eq!(buf[..20], HDR);
        assert_eq!(buf[20], 0xa5);
    }

    #[test]
    fn truncation() {
        truncation_sweep(&HDR, Ip4Hdr::LEN, |b| Ip4Hdr::parse(b).map(drop));
    }

    #[test]
    fn bad_checksum_detected() {
        let mut h = *Ip4Hdr::parse(&HDR).unwrap().0;
        h.ttl -= 1;
        assert!(!h.checksum_ok());
        h.fill_checksum();
        assert!(h.checksum_ok());
    }

    proptest! {
        #![proptest_config(crate::proptest_config())]
        #[test]
        fn round_trip(src: [u8; 4], dst: [u8; 4], proto: u8, len in 0u16..65000, ttl: u8) {
            let h = Ip4Hdr::new(src.into(), dst.into(), proto, len, ttl);
            let mut buf = [0xa5u8; 20];
            h.emit(&mut buf).unwrap();
            let (p, _) = Ip4Hdr::parse(&buf).unwrap();
            prop_assert!(p.checksum_ok());
            prop_assert_eq!(
                (p.src_addr(), p.dst_addr(), p.protocol, p.total_len.get(), p.ttl),
                (src.into(), dst.into(), proto, len + 20, ttl)
            );
        }
    }
}
