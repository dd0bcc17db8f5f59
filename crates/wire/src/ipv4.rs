//! IPv4 (RFC 791): the header, the checks `ip4-input` makes ([`check`]), the incremental
//! checksum update `ip4-rewrite` makes when it decrements the TTL (RFC 1624), and the address
//! classes the forwarding path treats apart.

use core::net::Ipv4Addr;

use zerocopy::network_endian::U16;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use crate::checksum::{ipv4_header_checksum, update_u16};
use crate::header;

/// ICMP (RFC 792).
pub const PROTO_ICMP: u8 = 1;
/// The Don't Fragment flag in [`Ip4Hdr::flags_frag`].
pub const FLAG_DF: u16 = 0x4000;
/// The More Fragments flag in [`Ip4Hdr::flags_frag`].
pub const FLAG_MF: u16 = 0x2000;
/// The fragment offset bits of [`Ip4Hdr::flags_frag`] (in 8-byte units).
pub const FRAG_OFFSET_MASK: u16 = 0x1fff;
/// Longest header: IHL 15.
pub const MAX_HEADER_LEN: usize = 60;

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

    /// Checksum over these 20 bytes is valid (options not included): their one's-complement
    /// sum is all ones. `ip4-input` runs it on every packet, so it is a divisibility test:
    ///
    /// The folded one's-complement sum of the ten 16-bit words is congruent to their plain sum
    /// modulo 0xffff (2^16 ≡ 1), and is all ones exactly when that sum is ≡ 0 and not 0. 2^64
    /// ≡ 1 too, so the header may be summed as two 64-bit words and a 32-bit one with
    /// end-around carries (zero only for an all-zero header), and byte order does not matter (a
    /// byte-swapped word is the word times 256, invertible modulo 0xffff). `s ≡ 0 (mod 0xffff)`
    /// exactly when `s * INV mod 2^64 <= u64::MAX / 0xffff` (INV: 0xffff's inverse modulo
    /// 2^64), and the product is 0 only for `s` = 0: three native loads, three adds, one
    /// multiply, where the folding sum takes byte swaps and four folds.
    #[inline(always)]
    pub fn checksum_ok(&self) -> bool {
        const INV: u64 = 0xfffe_fffe_fffe_ffff;
        const _: () = assert!(INV.wrapping_mul(0xffff) == 1);
        let h = self.as_bytes();
        let word = |at: usize| u64::from_le_bytes(h[at..at + 8].try_into().expect("8 bytes"));
        let tail = u64::from(u32::from_le_bytes(h[16..20].try_into().expect("4 bytes")));
        let (s, carry) = word(0).overflowing_add(word(8));
        let (s, carry2) = s.overflowing_add(tail + u64::from(carry));
        let s = s + u64::from(carry2);
        s.wrapping_mul(INV).wrapping_sub(1) < u64::MAX / 0xffff
    }

    /// Decrements the TTL and updates the checksum incrementally (RFC 1624 eqn. 3, on the
    /// 16-bit word that holds TTL and protocol), options or not. The caller checks the TTL is
    /// at least 1 first; 0 wraps to 255, as the arithmetic does.
    #[inline(always)]
    pub fn decrement_ttl(&mut self) {
        let old = u16::from_be_bytes([self.ttl, self.protocol]);
        self.ttl = self.ttl.wrapping_sub(1);
        let new = u16::from_be_bytes([self.ttl, self.protocol]);
        self.checksum.set(update_u16(self.checksum.get(), old, new));
    }
}

/// Why [`check`] refused a packet; each maps to one of `ip4-input`'s counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Invalid {
    /// Fewer than 20 bytes, or a total length below 20 ("ip4 length < 20 bytes").
    TooShort,
    /// Version nibble is not 4 ("ip4 version != 4").
    Version,
    /// IHL below 5 ("ip4 IHL < 5").
    IhlTooShort,
    /// The header (IHL) or the total length reaches past the bytes, or the total length is
    /// shorter than the header ("ip4 length > l2 length").
    BadLength,
    /// The header checksum (options included) is wrong ("bad ip4 checksum").
    Checksum,
}

/// A packet [`check`] accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checked {
    /// Header length in bytes (IHL × 4, at least 20): the payload starts there.
    pub header_len: usize,
    /// The total length field: bytes after it are link-layer padding.
    pub total_len: usize,
}

/// The checks `ip4-input` makes, in VPP's order: at least 20 bytes, version 4, IHL ≥ 5, the
/// header within the bytes, the header checksum, total length ≥ the header length and within
/// the bytes. Options are not interpreted (they are skipped by `header_len`).
#[inline]
pub fn check(bytes: &[u8]) -> Result<Checked, Invalid> {
    let Some(h) = bytes.first_chunk::<20>() else {
        return Err(Invalid::TooShort);
    };
    if h[0] >> 4 != 4 {
        return Err(Invalid::Version);
    }
    let header_len = usize::from(h[0] & 0x0f) * 4;
    if header_len < 20 {
        return Err(Invalid::IhlTooShort);
    }
    let Some(header) = bytes.get(..header_len) else {
        return Err(Invalid::BadLength);
    };
    if ipv4_header_checksum(header) != 0 {
        return Err(Invalid::Checksum);
    }
    let total_len = usize::from(u16::from_be_bytes([h[2], h[3]]));
    if total_len < 20 {
        return Err(Invalid::TooShort);
    }
    if total_len < header_len || total_len > bytes.len() {
        return Err(Invalid::BadLength);
    }
    Ok(Checked {
        header_len,
        total_len,
    })
}

/// 224.0.0.0/4.
#[inline(always)]
pub const fn is_multicast(a: u32) -> bool {
    a >> 28 == 0xe
}

/// Addresses an ICMP error is never sent to, nor an ARP entry made for (RFC 1122 §3.2.2,
/// RFC 1812 §4.3.2.7): 0.0.0.0/8, 127.0.0.0/8, multicast, 240.0.0.0/4 and broadcast.
#[inline]
pub const fn is_special_source(a: u32) -> bool {
    let first = a >> 24;
    first == 0 || first == 127 || a >> 28 >= 0xe
}

/// The netmask of a prefix length (`len` 0..=32).
#[inline(always)]
pub const fn mask(len: u8) -> u32 {
    if len == 0 {
        0
    } else if len >= 32 {
        u32::MAX
    } else {
        u32::MAX << (32 - len as u32)
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

    /// The divisibility test agrees with the folding sum where they could part: an all-zero
    /// header (sum 0, divisible, yet its one's-complement sum is 0, not all ones), all-ones
    /// words, and random headers with their checksum, a wrong one, and 0xffff in its place.
    #[test]
    fn checksum_ok_matches_the_folding_sum() {
        let check = |b: [u8; 20]| {
            let h = Ip4Hdr::parse(&b).unwrap().0;
            assert_eq!(h.checksum_ok(), ipv4_header_checksum(&b) == 0, "{b:02x?}");
        };
        check([0; 20]);
        check([0xff; 20]);
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        // (Miri: no unsafe code here, a few rounds only.)
        for _ in 0..if cfg!(miri) { 50 } else { 20_000 } {
            let mut b = [0u8; 20];
            for v in b.iter_mut() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *v = x as u8;
            }
            check(b);
            b[10..12].fill(0);
            let c = ipv4_header_checksum(&b);
            b[10..12].copy_from_slice(&c.to_be_bytes());
            check(b);
            b[10..12].copy_from_slice(&0xffffu16.to_be_bytes());
            check(b);
        }
    }

    #[test]
    fn ttl_decrement_updates_the_checksum_incrementally() {
        for ttl in 1..=255u8 {
            let mut h = *Ip4Hdr::parse(&HDR).unwrap().0;
            h.ttl = ttl;
            h.fill_checksum();
            h.decrement_ttl();
            assert_eq!(h.ttl, ttl - 1);
            assert!(h.checksum_ok(), "ttl {ttl}");
            let mut full = h;
            full.fill_checksum();
            assert_eq!(h.checksum, full.checksum, "ttl {ttl}: same as a recompute");
        }
        // Every checksum value the update can meet (the ident word sweeps them): the result
        // always equals a recompute, 0x0000 and 0xffff included (RFC 1624 §4, where RFC 1141's
        // shortcut gives 0xffff for 0x0000).
        let mut h = *Ip4Hdr::parse(&HDR).unwrap().0;
        let step = if cfg!(miri) { 4099 } else { 1 };
        for ident in (0..=u16::MAX).step_by(step) {
            h.ident.set(ident);
            h.ttl = 64;
            h.fill_checksum();
            let mut d = h;
            d.decrement_ttl();
            let mut full = d;
            full.fill_checksum();
            assert_eq!(d.checksum, full.checksum, "ident {ident:#x}");
        }
    }

    #[test]
    fn check_names_each_fault() {
        let mut p = HDR.to_vec();
        p.resize(128, 0x5a);
        assert_eq!(
            check(&p),
            Ok(Checked {
                header_len: 20,
                total_len: 128
            })
        );
        p.push(0);
        assert_eq!(
            check(&p).map(|c| c.total_len),
            Ok(128),
            "padding is allowed"
        );
        assert_eq!(check(&p[..19]), Err(Invalid::TooShort));
        assert_eq!(check(&p[..127]), Err(Invalid::BadLength));
        // `p` changed by `f`, its header checksum made right again where it can be.
        let with = |f: &dyn Fn(&mut [u8])| {
            let mut q = p.clone();
            f(&mut q);
            let n = usize::from(q[0] & 15) * 4;
            if n >= 20 {
                q[10..12].fill(0);
                let c = ipv4_header_checksum(&q[..n]);
                q[10..12].copy_from_slice(&c.to_be_bytes());
            }
            check(&q)
        };
        assert_eq!(with(&|q| q[0] = 0x65), Err(Invalid::Version));
        assert_eq!(with(&|q| q[0] = 0x44), Err(Invalid::IhlTooShort));
        assert_eq!(
            with(&|q| q[2..4].copy_from_slice(&19u16.to_be_bytes())),
            Err(Invalid::TooShort)
        );
        assert_eq!(
            with(&|q| {
                q[0] = 0x46;
                q[2..4].copy_from_slice(&22u16.to_be_bytes());
            }),
            Err(Invalid::BadLength),
            "total length shorter than the header with options"
        );
        assert_eq!(
            with(&|q| q[0] = 0x4f),
            Ok(Checked {
                header_len: 60,
                total_len: 128
            }),
            "options are skipped"
        );
        let mut bad = p.clone();
        bad[8] ^= 1;
        assert_eq!(check(&bad), Err(Invalid::Checksum));
        assert_eq!(
            check(&[0x4f; 21]),
            Err(Invalid::BadLength),
            "IHL past the bytes"
        );
    }

    #[test]
    fn address_classes() {
        let a = |s: &str| u32::from(s.parse::<Ipv4Addr>().unwrap());
        assert!(is_multicast(a("224.0.0.1")) && is_multicast(a("239.255.255.255")));
        assert!(!is_multicast(a("240.0.0.1")) && !is_multicast(a("223.255.255.255")));
        for x in [
            "0.0.0.0",
            "0.1.2.3",
            "127.0.0.1",
            "224.0.0.5",
            "255.255.255.255",
        ] {
            assert!(is_special_source(a(x)), "{x}");
        }
        for x in ["10.0.0.1", "192.0.2.1", "223.1.1.1", "1.1.1.1"] {
            assert!(!is_special_source(a(x)), "{x}");
        }
        assert_eq!(
            (mask(0), mask(8), mask(24), mask(32)),
            (0, 0xff00_0000, 0xffff_ff00, !0)
        );
    }

    proptest! {
        #![proptest_config(crate::proptest_config())]
        #[test]
        fn check_never_reads_past_and_agrees_with_the_header(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            if let Ok(c) = check(&bytes) {
                prop_assert!(c.header_len >= 20 && c.header_len <= c.total_len && c.total_len <= bytes.len());
                let (h, _) = Ip4Hdr::parse(&bytes).unwrap();
                prop_assert_eq!(h.header_len(), c.header_len);
                prop_assert_eq!(ipv4_header_checksum(&bytes[..c.header_len]), 0);
            }
        }

        #[test]
        fn decrement_matches_recompute(src: [u8; 4], dst: [u8; 4], proto: u8, len in 0u16..65000, ttl in 1u8.., ident: u16, tos: u8) {
            let mut h = Ip4Hdr::new(src.into(), dst.into(), proto, len, ttl);
            h.ident.set(ident);
            h.tos = tos;
            h.fill_checksum();
            h.decrement_ttl();
            prop_assert!(h.checksum_ok());
        }

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
