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
        let (w0, w1, tail) = self.words();
        let s = sum3(w0, w1, tail);
        s != 0 && divisible(s)
    }

    /// The header as `ip4-input`'s run loop reads it: two 8-byte words and a 4-byte one
    /// (little-endian: byte `i` of the header is bits `8*i..` of its word).
    #[inline(always)]
    fn words(&self) -> (u64, u64, u64) {
        let h = self.as_bytes();
        let word = |at: usize| u64::from_le_bytes(h[at..at + 8].try_into().expect("8 bytes"));
        let tail = u64::from(u32::from_le_bytes(h[16..20].try_into().expect("4 bytes")));
        (word(0), word(8), tail)
    }

    /// The total length of a header that `ip4-input` passes without a second look: IHL 5,
    /// version 4, TTL left, not a fragment past the first (fragment offset 0: offset 1, which
    /// `ip4-input` drops, is for the caller's general path to find), and a valid checksum.
    ///
    /// The same answer as testing those fields one by one and [`Ip4Hdr::checksum_ok`], but
    /// every field is taken from the checksum's three loads: per packet that is three loads
    /// instead of seven, and a register compare instead of a memory one (which cannot fuse
    /// with its branch) for each field.
    #[inline(always)]
    pub fn plain_total_len(&self) -> Option<u16> {
        self.plain_total_len_by(&PlainTest::NEW)
    }

    /// [`Ip4Hdr::plain_total_len`] with its three 64-bit constants taken from `t`, which a run
    /// loop can hide from the optimiser (`core::hint::black_box`) so that they are read from
    /// memory as operands of the instructions that use them; as immediates they would be
    /// rebuilt for every packet (two 10-byte moves a packet), there being no register left in
    /// the loop to keep them. The answer does not depend on where `t` comes from: a
    /// [`PlainTest`] only ever holds [`PlainTest::NEW`]'s values.
    #[inline(always)]
    pub fn plain_total_len_by(&self, t: &PlainTest) -> Option<u16> {
        let (w0, w1, tail) = self.words();
        if w0 & t.ver_ihl_offset != 0x45 || w1 & (0xff << PlainTest::TTL) == 0 {
            return None;
        }
        // The sum is not 0: the version byte is not.
        if !t.divisible_nonzero(sum3(w0, w1, tail)) {
            return None;
        }
        Some(self.total_len.get())
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

/// The constants of [`Ip4Hdr::plain_total_len_by`]; only [`PlainTest::NEW`] makes one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlainTest {
    /// Version and IHL (the first byte) and the fragment offset's bits, in the first 8-byte
    /// word (little-endian: byte `i` is bits `8*i..`, the big-endian field's bytes in order).
    ver_ihl_offset: u64,
    /// `u64::MAX / 0xffff`, the multiplier of [`PlainTest::divisible_nonzero`].
    lim: u64,
    /// `2^64 - lim`, the least product of a multiple of 0xffff.
    inv: u64,
}

impl PlainTest {
    const VER_IHL: u64 = core::mem::offset_of!(Ip4Hdr, version_ihl) as u64 * 8;
    const FRAG: u64 = core::mem::offset_of!(Ip4Hdr, flags_frag) as u64 * 8;
    /// The TTL's place in the second 8-byte word.
    const TTL: u64 = (core::mem::offset_of!(Ip4Hdr, ttl) as u64 - 8) * 8;
    /// The only value: see [`Ip4Hdr::plain_total_len_by`].
    pub const NEW: PlainTest = {
        assert!(Self::VER_IHL == 0 && Self::FRAG + 16 <= 64 && Self::TTL < 64);
        assert!(core::mem::offset_of!(Ip4Hdr, total_len) < 8);
        let lim = u64::MAX / 0xffff;
        PlainTest {
            ver_ihl_offset: (0xff << Self::VER_IHL)
                | ((FRAG_OFFSET_MASK.swap_bytes() as u64) << Self::FRAG),
            lim,
            inv: lim.wrapping_neg(),
        }
    };

    /// [`divisible`] for `s` ≠ 0: 0xffff's inverse modulo 2^64 is `-lim`, so `s * -lim` in
    /// `1..=lim` is `s * lim` in `2^64 - lim..2^64`.
    #[inline(always)]
    fn divisible_nonzero(&self, s: u64) -> bool {
        s.wrapping_mul(self.lim) >= self.inv
    }
}

/// `a + b + c` with end-around carries (one's-complement addition of 64-bit words): congruent
/// to the plain sum modulo 0xffff, and 0 only when all three are.
#[inline(always)]
fn sum3(a: u64, b: u64, c: u64) -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        use core::arch::x86_64::_addcarry_u64;
        // add, adc, adc $0: the carries stay in the flags.
        let mut s = 0;
        let carry = _addcarry_u64(0, a, b, &mut s);
        let carry = _addcarry_u64(carry, s, c, &mut s);
        let _ = _addcarry_u64(carry, s, 0, &mut s);
        s
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        sum3_portable(a, b, c)
    }
}

/// [`sum3`] without the x86 carry intrinsic (other targets; the tests hold the two equal).
#[cfg(any(test, not(target_arch = "x86_64")))]
#[inline(always)]
fn sum3_portable(a: u64, b: u64, c: u64) -> u64 {
    let s = u128::from(a) + u128::from(b) + u128::from(c);
    // Below 3 * 2^64: one fold leaves at most 2^64 + 1, whose carry does not carry again.
    let s = u128::from(s as u64) + (s >> 64);
    (s as u64).wrapping_add((s >> 64) as u64)
}

/// `s ≡ 0 (mod 0xffff)`: `s * INV mod 2^64 <= u64::MAX / 0xffff` (INV: 0xffff's inverse modulo
/// 2^64; the multiples of 0xffff are mapped onto exactly that range).
#[inline(always)]
fn divisible(s: u64) -> bool {
    const INV: u64 = 0xfffe_fffe_fffe_ffff;
    const _: () = assert!(INV.wrapping_mul(0xffff) == 1);
    s.wrapping_mul(INV) <= u64::MAX / 0xffff
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
    /// Fragment offset in bytes ([`Ip4Hdr::frag_offset`]).
    pub frag_offset: usize,
    /// Time to live.
    pub ttl: u8,
}

/// The checks `ip4-input` makes, in VPP's order: at least 20 bytes, version 4, IHL ≥ 5, the
/// header within the bytes, the header checksum, total length ≥ the header length and within
/// the bytes. Options are not interpreted (they are skipped by `header_len`).
#[inline]
pub fn check(bytes: &[u8]) -> Result<Checked, Invalid> {
    let Some(h) = bytes.first_chunk::<20>() else {
        return Err(Invalid::TooShort);
    };
    let ip: &Ip4Hdr = zerocopy::transmute_ref!(h);
    if ip.version_ihl >> 4 != 4 {
        return Err(Invalid::Version);
    }
    let header_len = ip.header_len();
    if header_len < 20 {
        return Err(Invalid::IhlTooShort);
    }
    let Some(header) = bytes.get(..header_len) else {
        return Err(Invalid::BadLength);
    };
    if ipv4_header_checksum(header) != 0 {
        return Err(Invalid::Checksum);
    }
    let total_len = usize::from(ip.total_len.get());
    if total_len < 20 {
        return Err(Invalid::TooShort);
    }
    if total_len < header_len || total_len > bytes.len() {
        return Err(Invalid::BadLength);
    }
    Ok(Checked {
        header_len,
        total_len,
        frag_offset: ip.frag_offset(),
        ttl: ip.ttl,
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
    /// 20 bytes from a xorshift64 generator (`x`, its state).
    fn random_header(x: &mut u64) -> [u8; 20] {
        let mut b = [0u8; 20];
        for v in b.iter_mut() {
            *x ^= *x << 13;
            *x ^= *x >> 7;
            *x ^= *x << 17;
            *v = *x as u8;
        }
        b
    }

    /// `plain_total_len` is the field-by-field test it replaces: IHL 5 and version 4, TTL not
    /// 0, fragment offset 0, `checksum_ok`; then the total length. Random headers with their
    /// right checksum (so the field tests decide) and with a wrong one, and each field set to
    /// the values at its edges.
    #[test]
    fn plain_total_len_is_the_field_tests() {
        let reference = |b: &[u8; 20]| {
            let h = Ip4Hdr::parse(b).unwrap().0;
            (h.version_ihl == 0x45
                && h.ttl != 0
                && h.flags_frag.get() & FRAG_OFFSET_MASK == 0
                && h.checksum_ok())
            .then_some(h.total_len.get())
        };
        let check = |b: [u8; 20]| {
            let h = Ip4Hdr::parse(&b).unwrap().0;
            assert_eq!(h.plain_total_len(), reference(&b), "{b:02x?}");
        };
        let fix = |b: &mut [u8; 20]| {
            b[10..12].fill(0);
            let c = ipv4_header_checksum(b);
            b[10..12].copy_from_slice(&c.to_be_bytes());
        };
        let mut plain = HDR;
        assert_eq!(
            Ip4Hdr::parse(&plain).unwrap().0.plain_total_len(),
            Some(128)
        );
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..if cfg!(miri) { 50 } else { 20_000 } {
            let mut b = random_header(&mut x);
            // Half of them plain in every field but one at random, so each test is reached.
            if x & 1 == 0 {
                b[0] = 0x45;
                b[6] &= 0xe0;
                b[7] = 0;
                b[8] |= 1;
                match (x >> 1) % 4 {
                    0 => b[0] = [0x44, 0x46, 0x55, 0x65][(x >> 3) as usize % 4],
                    1 => b[8] = 0,
                    2 => b[7] = [1, 2, 0x80, 0xff][(x >> 3) as usize % 4],
                    _ => b[6] |= [0x01, 0x10, 0x1f, 0x20][(x >> 3) as usize % 4],
                }
            }
            check(b);
            fix(&mut b);
            check(b);
            b[11] ^= 1 << (x >> 61);
            check(b);
        }
        // The flags other than the offset do not matter (DF, MF, the reserved bit).
        for flags in [0x20, 0x40, 0x80, 0xe0] {
            plain[6] = flags;
            fix(&mut plain);
            assert_eq!(
                Ip4Hdr::parse(&plain).unwrap().0.plain_total_len(),
                Some(128)
            );
        }
    }

    /// The carry-intrinsic sum is the portable one, at the carries' edges too.
    #[test]
    fn sum3_is_the_portable_sum() {
        let edges = [0, 1, 0xffff_ffff, 0x1_0000_0000, u64::MAX - 1, u64::MAX];
        for &a in &edges {
            for &b in &edges {
                for c in [0, 1, 0xffff_fffe, 0xffff_ffff] {
                    assert_eq!(sum3(a, b, c), sum3_portable(a, b, c), "{a:x} {b:x} {c:x}");
                }
            }
        }
        assert_eq!(sum3(0, 0, 0), 0);
        // 2 (2^64 - 1) + 2^32 - 1 with end-around carries: 2^32 - 1.
        assert_eq!(sum3(u64::MAX, u64::MAX, 0xffff_ffff), 0xffff_ffff);
    }

    /// `PlainTest::divisible_nonzero` is `divisible` away from 0, at multiples of 0xffff and next to them.
    #[test]
    fn divisible_nonzero_is_divisible() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for i in 1..if cfg!(miri) { 100u64 } else { 100_000 } {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            for s in [
                x,
                (x >> 17) * 0xffff,
                i * 0xffff,
                i * 0xffff + 1,
                u64::MAX - i,
            ] {
                if s != 0 {
                    assert_eq!(PlainTest::NEW.divisible_nonzero(s), divisible(s), "{s:x}");
                }
            }
        }
        assert!(PlainTest::NEW.divisible_nonzero(u64::MAX) && divisible(u64::MAX));
    }

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
            let mut b = random_header(&mut x);
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
                total_len: 128,
                frag_offset: 0,
                ttl: 64,
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
                total_len: 128,
                frag_offset: 0,
                ttl: 64,
            }),
            "options are skipped"
        );
        assert_eq!(
            with(&|q| {
                q[6..8].copy_from_slice(&0x2001u16.to_be_bytes());
                q[8] = 0;
            })
            .map(|c| (c.frag_offset, c.ttl)),
            Ok((8, 0)),
            "offset 1 is 8 bytes; MF and TTL 0 are the caller's to judge"
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
