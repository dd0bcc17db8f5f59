//! L2TPv3 data messages carried directly over IP (RFC 3931 §4.1.1.2), as used by Ethernet
//! pseudowires (RFC 4719).
//!
//! The header has no self-describing length: the cookie size (0, 4 or 8 bytes) and whether the
//! 4-byte L2-Specific Sublayer is present are per-session configuration. [`L2tpLayout`] carries
//! that, and [`parse`] / [`emit`] take it. VPP only does 8-byte cookies ([`L2tpLayout::VPP`]).

use core::fmt;
use core::str::FromStr;

use zerocopy::network_endian::{U16, U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use crate::{Error, Truncated};

/// Session id 0 marks an L2TPv3 control message when L2TP runs directly over IP; data sessions
/// never use it (RFC 3931 §4.1.1.1).
pub const SESSION_ID_CONTROL: u32 = 0;

/// Size of the cookie field a session is configured with (RFC 3931 §4.1: 0, 32 or 64 bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[repr(u8)]
pub enum CookieSize {
    /// No cookie.
    Zero = 0,
    /// 32-bit cookie.
    Four = 4,
    /// 64-bit cookie.
    #[default]
    Eight = 8,
}

impl CookieSize {
    /// Length in bytes.
    pub const fn len(self) -> usize {
        self as usize
    }

    /// True for [`CookieSize::Zero`].
    pub const fn is_empty(self) -> bool {
        matches!(self, CookieSize::Zero)
    }

    /// The size for a length of 0, 4 or 8 bytes.
    pub const fn from_len(len: usize) -> Option<Self> {
        match len {
            0 => Some(CookieSize::Zero),
            4 => Some(CookieSize::Four),
            8 => Some(CookieSize::Eight),
            _ => None,
        }
    }
}

/// A session cookie of 0, 4 or 8 bytes, in wire order.
///
/// Bytes past `len` are always zero, so the derived equality compares only the cookie.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Cookie {
    len: u8,
    bytes: [u8; 8],
}

impl Cookie {
    /// The empty cookie.
    pub const NONE: Cookie = Cookie {
        len: 0,
        bytes: [0; 8],
    };

    /// A 4-byte cookie with value `v` (big-endian on the wire).
    pub const fn from_u32(v: u32) -> Self {
        let b = v.to_be_bytes();
        Cookie {
            len: 4,
            bytes: [b[0], b[1], b[2], b[3], 0, 0, 0, 0],
        }
    }

    /// An 8-byte cookie with value `v` (big-endian on the wire, as VPP stores it).
    pub const fn from_u64(v: u64) -> Self {
        Cookie {
            len: 8,
            bytes: v.to_be_bytes(),
        }
    }

    /// A cookie of exactly these bytes; `None` unless there are 0, 4 or 8 of them.
    pub fn from_slice(b: &[u8]) -> Option<Self> {
        let size = CookieSize::from_len(b.len())?;
        let mut bytes = [0; 8];
        bytes[..size.len()].copy_from_slice(b);
        Some(Cookie {
            len: size as u8,
            bytes,
        })
    }

    /// The cookie bytes, wire order.
    pub fn as_bytes(&self) -> &[u8] {
        // len is always 0, 4 or 8.
        &self.bytes[..usize::from(self.len)]
    }

    /// Its size.
    pub const fn size(&self) -> CookieSize {
        match self.len {
            0 => CookieSize::Zero,
            4 => CookieSize::Four,
            _ => CookieSize::Eight,
        }
    }

    /// Length in bytes (0, 4 or 8).
    pub const fn len(&self) -> usize {
        self.len as usize
    }

    /// True for the empty cookie.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The bytes read as a big-endian number (0 for the empty cookie).
    pub fn value(&self) -> u64 {
        self.as_bytes()
            .iter()
            .fold(0u64, |v, &b| (v << 8) | u64::from(b))
    }

    /// True if `wire` (the cookie field of a packet) is this cookie.
    #[inline]
    pub fn matches(&self, wire: &[u8]) -> bool {
        self.as_bytes() == wire
    }

    /// Parses exactly-sized hex: 1 to `2 × size` hex digits, no `0x`, zero-extended on the left.
    /// [`CookieSize::Zero`] takes only the empty string.
    pub fn parse_hex(s: &str, size: CookieSize) -> Result<Self, CookieParseError> {
        if size.is_empty() {
            return if s.is_empty() {
                Ok(Cookie::NONE)
            } else {
                Err(CookieParseError)
            };
        }
        if s.is_empty() || s.len() > 2 * size.len() {
            return Err(CookieParseError);
        }
        let v = s.bytes().try_fold(0u64, |v, c| {
            let d = char::from(c).to_digit(16).ok_or(CookieParseError)?;
            Ok((v << 4) | u64::from(d))
        })?;
        Ok(match size {
            CookieSize::Four => Cookie::from_u32(u32::try_from(v).map_err(|_| CookieParseError)?),
            _ => Cookie::from_u64(v),
        })
    }
}

/// Lowercase hex, zero-padded to two digits per byte: 16 digits for an 8-byte cookie, exactly as
/// VPP prints `%016llx`. The empty cookie prints as nothing.
impl fmt::Display for Cookie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.as_bytes()
            .iter()
            .try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for Cookie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cookie({}/{}B)", self, self.len)
    }
}

/// Parses as VPP's CLI does (`local-cookie <hex>`): 1 to 16 hex digits without `0x`, always an
/// 8-byte cookie. Use [`Cookie::parse_hex`] for 4-byte or empty cookies.
impl FromStr for Cookie {
    type Err = CookieParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Cookie::parse_hex(s, CookieSize::Eight)
    }
}

/// Not a hex cookie of the wanted size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CookieParseError;

impl fmt::Display for CookieParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid cookie (want up to 16 hex digits, no 0x)")
    }
}

impl core::error::Error for CookieParseError {}

/// The default L2-Specific Sublayer word.
///
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |x|S|x|x|x|x|x|x|              Sequence Number                  |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
///
/// <https://www.rfc-editor.org/rfc/rfc3931#section-4.6>, the sublayer RFC 4719 uses when an
/// Ethernet pseudowire is sequenced. The S bit says whether the sequence number is valid; the x
/// bits are sent as 0 and ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Sublayer(pub u32);

impl Sublayer {
    /// The S (sequence valid) bit.
    pub const S_BIT: u32 = 0x4000_0000;
    /// The 24-bit sequence number.
    pub const SEQ_MASK: u32 = 0x00ff_ffff;

    /// A word with the S bit and sequence number given (only the low 24 bits of `seq` used).
    pub const fn new(seq_valid: bool, seq: u32) -> Self {
        Sublayer(if seq_valid { Self::S_BIT } else { 0 } | (seq & Self::SEQ_MASK))
    }

    /// S bit: the sequence number is meaningful.
    pub const fn seq_valid(self) -> bool {
        self.0 & Self::S_BIT != 0
    }

    /// Sequence number (24 bits).
    pub const fn seq(self) -> u32 {
        self.0 & Self::SEQ_MASK
    }

    /// The raw word.
    pub const fn word(self) -> u32 {
        self.0
    }
}

/// The per-session shape of the header: cookie size and sublayer presence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct L2tpLayout {
    cookie: CookieSize,
    sublayer: bool,
}

impl L2tpLayout {
    /// VPP's only layout, and RFC 8159's keyed IPv6 tunnel: 8-byte cookie, no sublayer.
    pub const VPP: L2tpLayout = L2tpLayout {
        cookie: CookieSize::Eight,
        sublayer: false,
    };

    /// A layout from a cookie length in bytes; `None` unless it is 0, 4 or 8.
    pub const fn new(cookie_len: u8, sublayer: bool) -> Option<Self> {
        match CookieSize::from_len(cookie_len as usize) {
            Some(cookie) => Some(L2tpLayout { cookie, sublayer }),
            None => None,
        }
    }

    /// A layout from a cookie size.
    pub const fn with_cookie(cookie: CookieSize, sublayer: bool) -> Self {
        L2tpLayout { cookie, sublayer }
    }

    /// Cookie length in bytes.
    pub const fn cookie_len(self) -> usize {
        self.cookie.len()
    }

    /// Cookie size.
    pub const fn cookie_size(self) -> CookieSize {
        self.cookie
    }

    /// Whether the 4-byte L2-Specific Sublayer is present.
    pub const fn sublayer(self) -> bool {
        self.sublayer
    }

    /// Header length: 4 (session id) + cookie + 4 if the sublayer is present.
    pub const fn hdr_len(self) -> usize {
        4 + self.cookie.len() + if self.sublayer { 4 } else { 0 }
    }
}

/// L2TPv3 data message header over IP, decoded by [`parse`].
///
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                 Session ID (non-zero for data)                |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |               Cookie (optional, maximum 64 bits)...
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///                                                                 |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |             L2-Specific Sublayer (optional, see Sublayer)     |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                  Tunnel Payload (an Ethernet frame) ...
/// ```
///
/// <https://www.rfc-editor.org/rfc/rfc3931#section-4.1.1.2>,
/// <https://www.rfc-editor.org/rfc/rfc4719>
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct L2tpView<'a> {
    session_id: u32,
    cookie: &'a [u8],
    sublayer: Option<Sublayer>,
    hdr_len: usize,
    payload: &'a [u8],
}

impl<'a> L2tpView<'a> {
    /// Session id.
    pub fn session_id(&self) -> u32 {
        self.session_id
    }

    /// True for session id 0: a control message, not pseudowire data.
    pub fn is_control(&self) -> bool {
        self.session_id == SESSION_ID_CONTROL
    }

    /// The cookie field as on the wire (layout's cookie length).
    pub fn cookie(&self) -> &'a [u8] {
        self.cookie
    }

    /// The cookie field as a [`Cookie`].
    pub fn cookie_value(&self) -> Cookie {
        // The slice came from a layout, so its length is 0, 4 or 8.
        Cookie::from_slice(self.cookie).unwrap_or_default()
    }

    /// The sublayer word, if the layout has one.
    pub fn sublayer(&self) -> Option<Sublayer> {
        self.sublayer
    }

    /// Offset of the tunnelled frame from the start of the L2TPv3 header (the header length).
    pub fn inner_offset(&self) -> usize {
        self.hdr_len
    }

    /// The tunnelled frame.
    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }
}

/// Parses the L2TPv3 header at the start of `bytes` (the IPv6 payload). One length check, then
/// every field is read without further failure.
#[inline]
pub fn parse(layout: L2tpLayout, bytes: &[u8]) -> Result<L2tpView<'_>, Truncated> {
    let len = layout.hdr_len();
    let Some((hdr, payload)) = bytes.split_at_checked(len) else {
        return Err(Truncated {
            needed: len,
            got: bytes.len(),
        });
    };
    // hdr.len() == 4 + cookie + (4 if sublayer): every range below is inside it.
    let c = layout.cookie_len();
    let session_id = u32::from_be_bytes([hdr[0], hdr[1], hdr[2], hdr[3]]);
    let sublayer = layout.sublayer.then(|| {
        Sublayer(u32::from_be_bytes([
            hdr[4 + c],
            hdr[5 + c],
            hdr[6 + c],
            hdr[7 + c],
        ]))
    });
    Ok(L2tpView {
        session_id,
        cookie: &hdr[4..4 + c],
        sublayer,
        hdr_len: len,
        payload,
    })
}

/// Writes the L2TPv3 header at the start of `out` and returns its length. The cookie must have
/// the layout's size ([`Error::Malformed`] otherwise); `sublayer_word` is written only if the
/// layout has a sublayer (VPP writes 0).
#[inline]
pub fn emit(
    layout: L2tpLayout,
    out: &mut [u8],
    session_id: u32,
    cookie: Cookie,
    sublayer_word: u32,
) -> Result<usize, Error> {
    if cookie.size() != layout.cookie {
        return Err(Error::Malformed);
    }
    let len = layout.hdr_len();
    let got = out.len();
    let hdr = out
        .get_mut(..len)
        .ok_or(Error::Truncated(Truncated { needed: len, got }))?;
    let c = layout.cookie_len();
    hdr[..4].copy_from_slice(&session_id.to_be_bytes());
    hdr[4..4 + c].copy_from_slice(cookie.as_bytes());
    if layout.sublayer {
        hdr[4 + c..8 + c].copy_from_slice(&sublayer_word.to_be_bytes());
    }
    Ok(len)
}

/// The fixed-size start of an L2TPv3 data header over IP: the session id and the 8 bytes after
/// it, which begin with the cookie (0, 4 or 8 bytes; the rest is sublayer or payload). Decap's
/// fast path reads every packet through it: one length check, then the cookie is one load,
/// one AND with [`cookie_mask`] and one compare, whatever the session's cookie size. A
/// deliverable packet always has these 12 bytes (4-byte header and a 14-byte inner frame at
/// least).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct L2tpHead {
    /// Session id (0 marks a control message over IP).
    pub session_id: U32,
    /// The 8 bytes after the session id: the cookie in the high-order bytes under
    /// [`cookie_mask`].
    pub cookie_word: U64,
}
crate::header!(L2tpHead, 12);

/// An IPv6 header directly followed by an L2TPv3 data header: what decap reads of the common
/// packet (no extension header), with one length check.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct Ip6L2tpHead {
    pub ip6: crate::ipv6::Ip6Hdr,
    pub l2tp: L2tpHead,
}
crate::header!(Ip6L2tpHead, 52);

/// An option-less IPv4 header directly followed by an L2TPv3 data header (protocol 115).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct Ip4L2tpHead {
    pub ip4: crate::ipv4::Ip4Hdr,
    pub l2tp: L2tpHead,
}
crate::header!(Ip4L2tpHead, 32);

/// The L2TPv3 header over UDP (RFC 3931 §4.1.2.1) before the session id: T bit, L bit,
/// S bit and version in the first word, then 16 reserved bits. A data message has T = 0 and
/// version 3 ([`UDP_DATA_FLAGS_VER`]); T = 1 marks a control message, version 2 is L2TPv2.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct UdpL2tpHdr {
    pub flags_ver: U16,
    pub reserved: U16,
}
crate::header!(UdpL2tpHdr, 4);

/// `UdpL2tpHdr::flags_ver` of a data message: T = 0, version 3.
pub const UDP_DATA_FLAGS_VER: u16 = 0x0003;
/// The T bit (control message) of `UdpL2tpHdr::flags_ver`.
pub const UDP_T_BIT: u16 = 0x8000;
/// The version field of `UdpL2tpHdr::flags_ver`.
pub const UDP_VER_MASK: u16 = 0x000f;
/// L2TP's UDP port (RFC 3931 §4.1.2.1).
pub const UDP_PORT: u16 = 1701;

/// An IPv6 header, a UDP header and an L2TPv3 data header over UDP, with no extension header.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct Ip6UdpL2tpHead {
    pub ip6: crate::ipv6::Ip6Hdr,
    pub udp: crate::udp::UdpHdr,
    pub hdr: UdpL2tpHdr,
    pub l2tp: L2tpHead,
}
crate::header!(Ip6UdpL2tpHead, 64);

/// An option-less IPv4 header, a UDP header and an L2TPv3 data header over UDP.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct Ip4UdpL2tpHead {
    pub ip4: crate::ipv4::Ip4Hdr,
    pub udp: crate::udp::UdpHdr,
    pub hdr: UdpL2tpHdr,
    pub l2tp: L2tpHead,
}
crate::header!(Ip4UdpL2tpHead, 44);

/// The session id at the start of an L2TPv3 data header over IP: what a session-id lookup reads
/// before the session, and so the header's layout, is known.
#[inline]
pub fn session_id(bytes: &[u8]) -> Result<u32, Truncated> {
    match U32::ref_from_prefix(bytes) {
        Ok((id, _)) => Ok(id.get()),
        Err(_) => Err(Truncated {
            needed: 4,
            got: bytes.len(),
        }),
    }
}

/// The mask that keeps a `cookie_len`-byte cookie of [`L2tpHead::cookie_word`] (0 for no
/// cookie; `cookie_len` is 0, 4 or 8).
#[inline(always)]
pub const fn cookie_mask(cookie_len: usize) -> u64 {
    if cookie_len == 0 {
        0
    } else {
        u64::MAX << (64 - 8 * cookie_len)
    }
}

/// A cookie as the number [`L2tpHead::cookie_word`] holds under its mask: its bytes first,
/// zeros after.
#[inline]
pub fn cookie_word(cookie: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    let n = cookie.len().min(8);
    w[..n].copy_from_slice(&cookie[..n]);
    u64::from_be_bytes(w)
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::ethernet::{ethertype, EthHdr, Mac};
    use crate::ipv6::{Ip6Hdr, PROTO_L2TP};
    use crate::testdata::snabb_frames;
    use core::net::Ipv6Addr;
    use proptest::prelude::*;
    use std::string::ToString;
    use std::vec::Vec;

    /// RFC 8159 / VPP layout: session 0x22222222, cookie 8899aabbccddeeff, no sublayer.
    static HDR_VPP: [u8; 14] = [
        0x22, 0x22, 0x22, 0x22, // session id
        0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, // 64-bit cookie
        0x90, 0xe2, // payload: inner Ethernet destination
    ];

    /// 4-byte cookie plus sublayer with S set and sequence 0x123456.
    static HDR_C4_SUB: [u8; 13] = [
        0x00, 0x00, 0x00, 0x2a, // session id 42
        0xde, 0xad, 0xbe, 0xef, // 32-bit cookie
        0x40, 0x12, 0x34, 0x56, // sublayer: x=0 S=1 x..=0, sequence 0x123456
        0xff, // payload
    ];

    /// No cookie, sublayer with S clear.
    static HDR_C0_SUB: [u8; 8] = [
        0x00, 0x00, 0x00, 0x07, // session id 7
        0x00, 0x00, 0x00, 0x05, // sublayer: S=0, sequence 5 (not valid)
    ];

    fn c4_sub() -> L2tpLayout {
        L2tpLayout::new(4, true).unwrap()
    }

    #[test]
    fn head_reads_session_id_and_cookie_word_for_every_cookie_size() {
        let mut pkt = [0u8; 66];
        let ip = Ip6Hdr::parse_mut(&mut pkt).unwrap().0;
        ip.next_header = PROTO_L2TP;
        for (size, cookie) in [
            (CookieSize::Zero, Cookie::NONE),
            (CookieSize::Four, Cookie::from_u32(0x1122_3344)),
            (CookieSize::Eight, Cookie::from_u64(0x0102_0304_0506_0708)),
        ] {
            let layout = L2tpLayout::with_cookie(size, true);
            // Sublayer and payload bytes after the cookie must not leak into the compare.
            pkt[40..].fill(0xa5);
            emit(layout, &mut pkt[40..], 77, cookie, 0x4000_0009).unwrap();
            let (h, rest) = Ip6L2tpHead::parse(&pkt).unwrap();
            assert_eq!(rest.len(), 66 - 52);
            assert_eq!(h.ip6.next_header, PROTO_L2TP);
            assert_eq!(h.l2tp.session_id.get(), 77);
            let w = h.l2tp.cookie_word.get() & cookie_mask(size.len());
            assert_eq!(w, cookie_word(cookie.as_bytes()), "{size:?}");
        }
        assert!(Ip6L2tpHead::parse(&pkt[..51]).is_err());
        assert_eq!(cookie_mask(0), 0);
        assert_eq!(cookie_mask(4), 0xffff_ffff_0000_0000);
        assert_eq!(cookie_mask(8), u64::MAX);
    }

    #[test]
    fn layouts() {
        assert_eq!(L2tpLayout::VPP.hdr_len(), 12);
        assert_eq!(
            L2tpLayout::with_cookie(CookieSize::Eight, true).hdr_len(),
            16
        );
        assert_eq!(c4_sub().hdr_len(), 12);
        assert_eq!(L2tpLayout::new(0, false).unwrap().hdr_len(), 4);
        assert_eq!(L2tpLayout::new(0, true).unwrap().hdr_len(), 8);
        assert_eq!(L2tpLayout::new(8, false), Some(L2tpLayout::VPP));
        for bad in [1u8, 2, 3, 5, 6, 7, 9, 16, 255] {
            assert_eq!(L2tpLayout::new(bad, false), None, "{bad}");
        }
    }

    #[test]
    fn deconstruct_vpp() {
        let v = parse(L2tpLayout::VPP, &HDR_VPP).unwrap();
        assert_eq!(v.session_id(), 0x2222_2222);
        assert!(!v.is_control());
        assert_eq!(v.cookie(), &HDR_VPP[4..12]);
        assert_eq!(v.cookie_value(), Cookie::from_u64(0x8899_aabb_ccdd_eeff));
        assert_eq!(v.sublayer(), None);
        assert_eq!(v.inner_offset(), 12);
        assert_eq!(v.payload(), &[0x90, 0xe2]);
    }

    #[test]
    fn deconstruct_sublayer() {
        let v = parse(c4_sub(), &HDR_C4_SUB).unwrap();
        assert_eq!(v.session_id(), 42);
        assert_eq!(v.cookie_value(), Cookie::from_u32(0xdead_beef));
        let s = v.sublayer().unwrap();
        assert!(s.seq_valid());
        assert_eq!(s.seq(), 0x12_3456);
        assert_eq!((v.inner_offset(), v.payload()), (12, &[0xff][..]));

        let v = parse(L2tpLayout::new(0, true).unwrap(), &HDR_C0_SUB).unwrap();
        assert_eq!(v.session_id(), 7);
        assert_eq!(v.cookie_value(), Cookie::NONE);
        assert_eq!(v.sublayer(), Some(Sublayer::new(false, 5)));
        assert!(v.payload().is_empty());
    }

    #[test]
    fn control_session() {
        let v = parse(L2tpLayout::new(0, false).unwrap(), &[0, 0, 0, 0, 0xc8]).unwrap();
        assert!(v.is_control());
    }

    #[test]
    fn construct() {
        let mut buf = [0xa5u8; 14];
        let n = emit(
            L2tpLayout::VPP,
            &mut buf,
            0x2222_2222,
            "8899aabbccddeeff".parse().unwrap(),
            0xffff_ffff, // ignored: no sublayer
        )
        .unwrap();
        assert_eq!(n, 12);
        assert_eq!(buf[..12], HDR_VPP[..12]);
        assert_eq!(buf[12..], [0xa5, 0xa5]);

        let mut buf = [0xa5u8; 13];
        let n = emit(
            c4_sub(),
            &mut buf,
            42,
            Cookie::parse_hex("deadbeef", CookieSize::Four).unwrap(),
            Sublayer::new(true, 0x12_3456).word(),
        )
        .unwrap();
        assert_eq!(n, 12);
        assert_eq!(buf[..12], HDR_C4_SUB[..12]);
        assert_eq!(buf[12], 0xa5);
    }

    #[test]
    fn emit_errors() {
        let mut buf = [0u8; 16];
        assert_eq!(
            emit(L2tpLayout::VPP, &mut buf, 1, Cookie::from_u32(1), 0),
            Err(Error::Malformed)
        );
        for n in 0..12 {
            assert_eq!(
                emit(L2tpLayout::VPP, &mut buf[..n], 1, Cookie::from_u64(1), 0),
                Err(Error::Truncated(Truncated { needed: 12, got: n }))
            );
        }
    }

    #[test]
    fn truncation() {
        for (layout, golden) in [
            (L2tpLayout::VPP, &HDR_VPP[..]),
            (c4_sub(), &HDR_C4_SUB[..]),
            (L2tpLayout::new(0, true).unwrap(), &HDR_C0_SUB[..]),
        ] {
            crate::header_tests::truncation_sweep(golden, layout.hdr_len(), |b| {
                parse(layout, b).map(drop)
            });
        }
    }

    #[test]
    fn cookie_text() {
        let c = Cookie::from_slice(&[0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77]).unwrap();
        assert_eq!(c.to_string(), "0011223344556677");
        assert_eq!(c.value(), 0x0011_2233_4455_6677);
        // VPP's default cookie, and its short-hex acceptance.
        assert_eq!(Cookie::from_u64(u64::MAX).to_string(), "ffffffffffffffff");
        assert_eq!("1234".parse::<Cookie>(), Ok(Cookie::from_u64(0x1234)));
        assert_eq!(Cookie::from_u64(0x1234).to_string(), "0000000000001234");
        assert_eq!(
            "DEADBEEF00000000".parse::<Cookie>().unwrap().to_string(),
            "deadbeef00000000"
        );
        assert_eq!(Cookie::from_u32(0xab).to_string(), "000000ab");
        assert_eq!(Cookie::NONE.to_string(), "");
        assert_eq!(Cookie::parse_hex("", CookieSize::Zero), Ok(Cookie::NONE));
        for bad in ["", "0x12", "12345678901234567", "-1", "+1", "12 34", "g"] {
            assert_eq!(bad.parse::<Cookie>(), Err(CookieParseError), "{bad:?}");
        }
        assert_eq!(
            Cookie::parse_hex("123456789", CookieSize::Four),
            Err(CookieParseError)
        );
        assert_eq!(
            Cookie::parse_hex("0", CookieSize::Zero),
            Err(CookieParseError)
        );
        assert!(c.matches(&[0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77]));
        assert!(!c.matches(&[0, 0x11, 0x22, 0x33]));
        assert_eq!(Cookie::from_slice(&[1, 2, 3]), None);
    }

    #[test]
    // Reads a golden capture: file access is shut off under Miri (isolation).
    #[cfg_attr(miri, ignore)]
    fn snabb_decap_golden() {
        // Frames arriving on the uplink: Ethernet / IPv6 (nh 115) / L2TPv3 / Ethernet.
        let input = snabb_frames("l2tpv3-uplink.cap.input");
        let expect = snabb_frames("l2tpv3-ac.cap.expect");
        assert_eq!((input.len(), expect.len()), (100, 100));
        let local_cookie =
            Cookie::from_slice(&[0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77]).unwrap();
        for (i, (f, want)) in input.iter().zip(&expect).enumerate() {
            let (eth, rest) = EthHdr::parse(f).unwrap();
            assert_eq!(eth.ethertype(), ethertype::IPV6, "frame {i}");
            let (ip, rest) = Ip6Hdr::parse(rest).unwrap();
            assert_eq!(ip.next_header, PROTO_L2TP, "frame {i}");
            assert_eq!(
                ip.src_addr(),
                "2001:620:0:c000::fe".parse::<Ipv6Addr>().unwrap()
            );
            assert_eq!(usize::from(ip.payload_len.get()), rest.len(), "frame {i}");
            let v = parse(L2tpLayout::VPP, rest).unwrap();
            assert_eq!(v.session_id(), 0x1111_1111, "frame {i}");
            assert!(local_cookie.matches(v.cookie()), "frame {i}");
            assert_eq!(v.cookie_value().to_string(), "0011223344556677");
            assert_eq!(v.payload(), &want[..], "frame {i}: decap payload differs");
        }
    }

    #[test]
    // Reads a golden capture: file access is shut off under Miri (isolation).
    #[cfg_attr(miri, ignore)]
    fn snabb_encap_golden() {
        // Attachment-circuit frames, encapsulated exactly as the independent implementation did.
        let input = snabb_frames("ac.cap.input");
        let expect = snabb_frames("l2tpv3-uplink.cap.expect");
        assert_eq!((input.len(), expect.len()), (100, 100));
        let ours: Ipv6Addr = "2001:620:0:c000::fc".parse().unwrap();
        let client: Ipv6Addr = "2001:620:0:c000::fe".parse().unwrap();
        let cookie: Cookie = "8899aabbccddeeff".parse().unwrap();
        let outer = EthHdr::new(
            "28:94:0f:fd:49:40".parse().unwrap(),
            "90:e2:ba:62:86:e5".parse::<Mac>().unwrap(),
            ethertype::IPV6,
        );
        for (i, (inner, want)) in input.iter().zip(&expect).enumerate() {
            let l2tp_len = L2tpLayout::VPP.hdr_len();
            let mut f: Vec<u8> =
                std::vec![0xa5; EthHdr::LEN + Ip6Hdr::LEN + l2tp_len + inner.len()];
            let mut at = outer.emit(&mut f).unwrap();
            let (ip, _) = Ip6Hdr::parse_mut(&mut f[at..]).unwrap();
            ip.set_default(
                (l2tp_len + inner.len()) as u16,
                PROTO_L2TP,
                64,
                ours,
                client,
            );
            at += Ip6Hdr::LEN;
            at += emit(L2tpLayout::VPP, &mut f[at..], 0x2222_2222, cookie, 0).unwrap();
            f[at..].copy_from_slice(inner);
            assert_eq!(&f, want, "frame {i}: encap differs");
        }
    }

    fn layout() -> impl Strategy<Value = L2tpLayout> {
        (prop_oneof![Just(0u8), Just(4), Just(8)], any::<bool>())
            .prop_map(|(c, s)| L2tpLayout::new(c, s).unwrap())
    }

    proptest! {
        #![proptest_config(crate::proptest_config())]
        #[test]
        fn emit_parse_round_trip(
            layout in layout(),
            sid: u32,
            cookie_bytes: [u8; 8],
            word: u32,
            payload in proptest::collection::vec(any::<u8>(), 0..32),
        ) {
            let cookie = Cookie::from_slice(&cookie_bytes[..layout.cookie_len()]).unwrap();
            let mut buf = std::vec![0xa5u8; layout.hdr_len() + payload.len()];
            let n = emit(layout, &mut buf, sid, cookie, word).unwrap();
            prop_assert_eq!(n, layout.hdr_len());
            buf[n..].copy_from_slice(&payload);
            let v = parse(layout, &buf).unwrap();
            prop_assert_eq!(v.session_id(), sid);
            prop_assert_eq!(v.cookie_value(), cookie);
            prop_assert_eq!(v.sublayer(), layout.sublayer().then_some(Sublayer(word)));
            prop_assert_eq!(v.inner_offset(), n);
            prop_assert_eq!(v.payload(), &payload[..]);
        }

        #[test]
        fn cookie_text_round_trip(v: u64, w: u32) {
            let c = Cookie::from_u64(v);
            prop_assert_eq!(c.to_string().parse::<Cookie>(), Ok(c));
            prop_assert_eq!(c.to_string().len(), 16);
            let c4 = Cookie::from_u32(w);
            prop_assert_eq!(Cookie::parse_hex(&c4.to_string(), CookieSize::Four), Ok(c4));
        }

        #[test]
        fn sublayer_bits(s: bool, seq: u32) {
            let w = Sublayer::new(s, seq);
            prop_assert_eq!((w.seq_valid(), w.seq()), (s, seq & 0xff_ffff));
            // Only the S bit and the sequence number may be set.
            prop_assert_eq!(w.word() & !(Sublayer::S_BIT | Sublayer::SEQ_MASK), 0);
        }

        #[test]
        fn parse_never_panics(layout in layout(), bytes in proptest::collection::vec(any::<u8>(), 0..24)) {
            match parse(layout, &bytes) {
                Ok(v) => prop_assert_eq!(v.inner_offset() + v.payload().len(), bytes.len()),
                Err(t) => prop_assert!(bytes.len() < layout.hdr_len() && t.got == bytes.len()),
            }
        }
    }
}
