//! Ethernet II header, MAC addresses and 802.1Q / 802.1ad VLAN tags.

use core::fmt;
use core::str::FromStr;

use zerocopy::network_endian::U16;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use crate::{header, Truncated};

/// EtherType values pwire dispatches on.
pub mod ethertype {
    /// IPv4 (RFC 894).
    pub const IPV4: u16 = 0x0800;
    /// ARP (RFC 826).
    pub const ARP: u16 = 0x0806;
    /// IPv6 (RFC 2464).
    pub const IPV6: u16 = 0x86dd;
    /// IEEE 802.1Q customer VLAN tag.
    pub const DOT1Q: u16 = 0x8100;
    /// IEEE 802.1ad service VLAN tag (QinQ outer tag).
    pub const DOT1AD: u16 = 0x88a8;
}

/// A 48-bit IEEE MAC address, in wire order.
#[derive(
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Default,
    FromBytes,
    IntoBytes,
    KnownLayout,
    Immutable,
    Unaligned,
)]
#[repr(transparent)]
pub struct Mac(pub [u8; 6]);

impl Mac {
    /// ff:ff:ff:ff:ff:ff.
    pub const BROADCAST: Mac = Mac([0xff; 6]);
    /// 00:00:00:00:00:00.
    pub const ZERO: Mac = Mac([0; 6]);

    /// The six octets, first on the wire first.
    pub const fn octets(self) -> [u8; 6] {
        self.0
    }

    /// Group bit (I/G, the low bit of the first octet) set; broadcast is multicast too.
    pub const fn is_multicast(self) -> bool {
        self.0[0] & 0x01 != 0
    }

    /// ff:ff:ff:ff:ff:ff.
    pub const fn is_broadcast(self) -> bool {
        self.as_u64() == 0xffff_ffff_ffff
    }

    /// 00:00:00:00:00:00, which never appears as a real source.
    pub const fn is_zero(self) -> bool {
        self.as_u64() == 0
    }

    /// The address as the low 48 bits of a `u64` (handy as a hash key).
    pub const fn as_u64(self) -> u64 {
        let o = self.0;
        u64::from_be_bytes([0, 0, o[0], o[1], o[2], o[3], o[4], o[5]])
    }
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            o[0], o[1], o[2], o[3], o[4], o[5]
        )
    }
}

impl fmt::Debug for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A string that is neither `aa:bb:cc:dd:ee:ff` nor VPP's `aabb.ccdd.eeff`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MacParseError;

impl fmt::Display for MacParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid MAC address (want aa:bb:cc:dd:ee:ff or aabb.ccdd.eeff)")
    }
}

impl core::error::Error for MacParseError {}

/// Parses 1..=`max_digits` hex digits. Unlike `from_str_radix` it refuses a sign.
fn hex_group(s: &str, max_digits: usize) -> Option<u16> {
    if s.is_empty() || s.len() > max_digits {
        return None;
    }
    s.bytes().try_fold(0u16, |acc, c| {
        let d = char::from(c).to_digit(16)?;
        // At most 4 digits, so this never overflows.
        Some((acc << 4) | u16::try_from(d).ok()?)
    })
}

impl FromStr for Mac {
    type Err = MacParseError;

    /// Accepts `aa:bb:cc:dd:ee:ff` (one or two hex digits per octet, as VPP's parser does) and
    /// VPP's three-group form `aabb.ccdd.eeff`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut out = [0u8; 6];
        if s.contains(':') {
            let mut parts = s.split(':');
            for o in &mut out {
                let g = hex_group(parts.next().ok_or(MacParseError)?, 2).ok_or(MacParseError)?;
                *o = u8::try_from(g).map_err(|_| MacParseError)?;
            }
            if parts.next().is_some() {
                return Err(MacParseError);
            }
        } else {
            let mut parts = s.split('.');
            for pair in out.chunks_exact_mut(2) {
                let g = hex_group(parts.next().ok_or(MacParseError)?, 4).ok_or(MacParseError)?;
                pair.copy_from_slice(&g.to_be_bytes());
            }
            if parts.next().is_some() {
                return Err(MacParseError);
            }
        }
        Ok(Mac(out))
    }
}

/// Ethernet II header (no preamble, no FCS).
///
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                  Destination MAC (6 octets)                   |
/// +                               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                               |                               |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
/// |                    Source MAC (6 octets)                      |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |           EtherType           |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
///
/// <https://www.rfc-editor.org/rfc/rfc894> (IP over Ethernet; the frame format is IEEE 802.3).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct EthHdr {
    /// Destination address.
    pub dst: Mac,
    /// Source address.
    pub src: Mac,
    /// EtherType of what follows (a VLAN TPID when tagged).
    pub ethertype: U16,
}
header!(EthHdr, 14);

impl EthHdr {
    /// A header with every field given.
    pub const fn new(dst: Mac, src: Mac, ethertype: u16) -> Self {
        EthHdr {
            dst,
            src,
            ethertype: U16::new(ethertype),
        }
    }

    /// The EtherType in host order.
    pub fn ethertype(&self) -> u16 {
        self.ethertype.get()
    }
}

/// The 4 bytes after a VLAN TPID: tag control information and the next EtherType.
///
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// | PCP |D|       VLAN ID         |        Inner EtherType        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
///
/// IEEE 802.1Q §9.6 (no RFC); <https://www.rfc-editor.org/rfc/rfc7042#section-3> lists the
/// TPID values.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct Dot1qTag {
    /// PCP (3 bits), DEI (1 bit), VLAN id (12 bits).
    pub tci: U16,
    /// EtherType of what follows the tag.
    pub ethertype: U16,
}
header!(Dot1qTag, 4);

impl Dot1qTag {
    /// A tag with priority and DEI 0.
    pub const fn new(vid: u16, ethertype: u16) -> Self {
        Dot1qTag {
            tci: U16::new(vid & 0x0fff),
            ethertype: U16::new(ethertype),
        }
    }

    /// Priority code point (0..=7).
    pub fn pcp(&self) -> u8 {
        (self.tci.get() >> 13) as u8
    }

    /// Drop eligible indicator.
    pub fn dei(&self) -> bool {
        self.tci.get() & 0x1000 != 0
    }

    /// VLAN id (0..=4095).
    pub fn vid(&self) -> u16 {
        self.tci.get() & 0x0fff
    }

    /// Sets the priority; only the low 3 bits of `pcp` are used.
    pub fn set_pcp(&mut self, pcp: u8) {
        let t = self.tci.get();
        self.tci.set((t & 0x1fff) | (u16::from(pcp & 0x7) << 13));
    }

    /// Sets the drop eligible indicator.
    pub fn set_dei(&mut self, dei: bool) {
        let t = self.tci.get() & !0x1000;
        self.tci.set(t | if dei { 0x1000 } else { 0 });
    }

    /// Sets the VLAN id; only the low 12 bits of `vid` are used.
    pub fn set_vid(&mut self, vid: u16) {
        let t = self.tci.get();
        self.tci.set((t & 0xf000) | (vid & 0x0fff));
    }
}

/// True for the TPIDs that mark a VLAN tag.
pub const fn is_vlan_tpid(ethertype: u16) -> bool {
    matches!(ethertype, ethertype::DOT1Q | ethertype::DOT1AD)
}

/// Walks the Ethernet header and up to two VLAN tags: (L2 header length, EtherType after them).
pub(crate) fn l2_walk(frame: &[u8]) -> Result<(usize, u16), Truncated> {
    let (eth, mut rest) = EthHdr::parse(frame)?;
    let mut len = EthHdr::LEN;
    let mut et = eth.ethertype();
    for _ in 0..2 {
        if !is_vlan_tpid(et) {
            break;
        }
        let (tag, r) = Dot1qTag::parse(rest).map_err(|_| Truncated {
            needed: len + Dot1qTag::LEN,
            got: frame.len(),
        })?;
        et = tag.ethertype.get();
        len += Dot1qTag::LEN;
        rest = r;
    }
    Ok((len, et))
}

/// Length of the L2 header: 14, plus 4 for each of up to two VLAN tags (802.1Q or 802.1ad).
/// `None` if the frame ends inside it. A third tag is not looked at: it counts as payload.
pub fn l2_header_len(frame: &[u8]) -> Option<usize> {
    l2_walk(frame).ok().map(|(len, _)| len)
}

/// EtherType after up to two VLAN tags (that of the payload at [`l2_header_len`]).
pub fn inner_ethertype(frame: &[u8]) -> Option<u16> {
    l2_walk(frame).ok().map(|(_, et)| et)
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::header_tests::truncation_sweep;
    use proptest::prelude::*;
    use std::string::ToString;

    static UNTAGGED: [u8; 16] = [
        0x28, 0x94, 0x0f, 0xfd, 0x49, 0x40, // dst 28:94:0f:fd:49:40
        0x90, 0xe2, 0xba, 0x62, 0x86, 0xe5, // src 90:e2:ba:62:86:e5
        0x86, 0xdd, // ethertype IPv6
        0x60, 0x00, // payload (start of an IPv6 header)
    ];

    static QINQ: [u8; 24] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // dst broadcast
        0x02, 0x00, 0x00, 0x00, 0x00, 0x01, // src 02:00:00:00:00:01
        0x88, 0xa8, // TPID 802.1ad (outer, S-tag)
        0xa0, 0x64, // PCP 5, DEI 0, VID 100
        0x81, 0x00, // TPID 802.1Q (inner, C-tag)
        0x10, 0xc8, // PCP 0, DEI 1, VID 200
        0x08, 0x00, // ethertype IPv4
        0x45, 0x00, // payload
    ];

    #[test]
    fn deconstruct_untagged() {
        let (h, rest) = EthHdr::parse(&UNTAGGED).unwrap();
        assert_eq!(h.dst, Mac([0x28, 0x94, 0x0f, 0xfd, 0x49, 0x40]));
        assert_eq!(h.src.to_string(), "90:e2:ba:62:86:e5");
        assert_eq!(h.ethertype(), ethertype::IPV6);
        assert_eq!(rest, &[0x60, 0x00]);
        assert_eq!(l2_header_len(&UNTAGGED), Some(14));
        assert_eq!(inner_ethertype(&UNTAGGED), Some(ethertype::IPV6));
    }

    #[test]
    fn construct_untagged() {
        let mut buf = [0xa5u8; 16];
        let h = EthHdr::new(
            Mac([0x28, 0x94, 0x0f, 0xfd, 0x49, 0x40]),
            "90e2.ba62.86e5".parse().unwrap(),
            ethertype::IPV6,
        );
        assert_eq!(h.emit(&mut buf), Ok(14));
        assert_eq!(&buf[..14], &UNTAGGED[..14]);
        assert_eq!(&buf[14..], &[0xa5, 0xa5], "emit wrote past the header");
    }

    #[test]
    fn deconstruct_qinq() {
        let (h, rest) = EthHdr::parse(&QINQ).unwrap();
        assert!(h.dst.is_broadcast() && h.dst.is_multicast());
        assert_eq!(h.ethertype(), ethertype::DOT1AD);
        let (outer, rest) = Dot1qTag::parse(rest).unwrap();
        assert_eq!((outer.pcp(), outer.dei(), outer.vid()), (5, false, 100));
        let (inner, _) = Dot1qTag::parse(rest).unwrap();
        assert_eq!((inner.pcp(), inner.dei(), inner.vid()), (0, true, 200));
        assert_eq!(l2_header_len(&QINQ), Some(22));
        assert_eq!(inner_ethertype(&QINQ), Some(ethertype::IPV4));
    }

    #[test]
    fn construct_tag() {
        let mut buf = [0xa5u8; 4];
        let mut t = Dot1qTag::new(100, ethertype::DOT1Q);
        t.set_pcp(5);
        assert_eq!(t.emit(&mut buf), Ok(4));
        assert_eq!(buf, QINQ[14..18]);
        t.set_vid(200);
        t.set_pcp(0);
        t.set_dei(true);
        t.ethertype.set(ethertype::IPV4);
        t.emit(&mut buf).unwrap();
        assert_eq!(buf, QINQ[18..22]);
    }

    #[test]
    fn l2_len_truncated_tags() {
        // Every cut inside the two tags must give None, never a length past the end.
        for n in 0..22 {
            assert_eq!(l2_header_len(&QINQ[..n]), None, "prefix {n}");
        }
        assert_eq!(l2_header_len(&QINQ[..22]), Some(22));
        // A third tag is payload.
        let mut three = [0u8; 30];
        three[..22].copy_from_slice(&QINQ[..22]);
        three[20..22].copy_from_slice(&ethertype::DOT1Q.to_be_bytes());
        assert_eq!(l2_header_len(&three), Some(22));
        assert_eq!(inner_ethertype(&three), Some(ethertype::DOT1Q));
    }

    #[test]
    fn truncation() {
        truncation_sweep(&UNTAGGED, EthHdr::LEN, |b| EthHdr::parse(b).map(drop));
        truncation_sweep(&QINQ[14..], Dot1qTag::LEN, |b| Dot1qTag::parse(b).map(drop));
        let mut buf = UNTAGGED;
        for n in 0..EthHdr::LEN {
            assert!(EthHdr::parse_mut(&mut buf[..n]).is_err());
            assert!(EthHdr::new(Mac::ZERO, Mac::ZERO, 0)
                .emit(&mut buf[..n])
                .is_err());
        }
    }

    #[test]
    fn mac_predicates() {
        assert!(Mac::ZERO.is_zero() && !Mac::ZERO.is_multicast());
        assert!(Mac::BROADCAST.is_broadcast());
        let m: Mac = "33:33:00:00:00:01".parse().unwrap();
        assert!(m.is_multicast() && !m.is_broadcast() && !m.is_zero());
        let u: Mac = "02:00:00:00:00:01".parse().unwrap();
        assert!(!u.is_multicast());
        assert_eq!(u.as_u64(), 0x0200_0000_0001);
    }

    #[test]
    fn mac_parse_forms() {
        let want = Mac([0xaa, 0xbb, 0x0c, 0xdd, 0xee, 0x0f]);
        assert_eq!("aa:bb:0c:dd:ee:0f".parse(), Ok(want));
        assert_eq!("AA:BB:c:DD:EE:f".parse(), Ok(want));
        assert_eq!("aabb.0cdd.ee0f".parse(), Ok(want));
        assert_eq!("aabb.cdd.ee0f".parse(), Ok(want));
        assert_eq!(want.to_string(), "aa:bb:0c:dd:ee:0f");
        for bad in [
            "",
            "aa:bb:cc:dd:ee",
            "aa:bb:cc:dd:ee:ff:00",
            "aa:bb:cc:dd:ee:fff",
            "aa:bb:cc:dd:ee:",
            "aa:bb:cc:dd:ee:+f",
            "aa:bb:cc:dd:ee:gg",
            "aabb.ccdd",
            "aabb.ccdd.eeff.0011",
            "aabb.ccdd.eeff0",
            "aabbccddeeff",
            "aa-bb-cc-dd-ee-ff",
        ] {
            assert_eq!(bad.parse::<Mac>(), Err(MacParseError), "{bad:?}");
        }
    }

    proptest! {
        #![proptest_config(crate::proptest_config())]
        #[test]
        fn mac_display_parse_round_trip(o in any::<[u8; 6]>()) {
            let m = Mac(o);
            prop_assert_eq!(m.to_string().parse::<Mac>(), Ok(m));
        }

        #[test]
        fn eth_emit_parse_round_trip(d in any::<[u8; 6]>(), s in any::<[u8; 6]>(), et: u16) {
            let h = EthHdr::new(Mac(d), Mac(s), et);
            let mut buf = [0xa5u8; 20];
            h.emit(&mut buf).unwrap();
            let (p, rest) = EthHdr::parse(&buf).unwrap();
            prop_assert_eq!(*p, h);
            prop_assert_eq!(rest.len(), 6);
        }

        #[test]
        fn tag_setters_round_trip(pcp in 0u8..8, dei: bool, vid in 0u16..4096, et: u16) {
            let mut t = Dot1qTag::new(0, et);
            t.set_vid(vid);
            t.set_pcp(pcp);
            t.set_dei(dei);
            let mut buf = [0xa5u8; 4];
            t.emit(&mut buf).unwrap();
            let (p, _) = Dot1qTag::parse(&buf).unwrap();
            prop_assert_eq!((p.pcp(), p.dei(), p.vid(), p.ethertype.get()), (pcp, dei, vid, et));
        }

        #[test]
        fn l2_len_never_exceeds_frame(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            if let Some(n) = l2_header_len(&bytes) {
                prop_assert!(n <= bytes.len());
                prop_assert!(n == 14 || n == 18 || n == 22);
            }
        }
    }
}
