//! ICMPv6 (RFC 4443) and the Neighbour Discovery messages pwire answers (RFC 4861).
//!
//! A message is an [`Icmp6Hdr`] followed by a type-specific body ([`EchoHdr`], [`NsBody`],
//! [`NaBody`], [`PtbBody`], [`TimeExceededBody`]); ND bodies are followed by options, walked with
//! [`nd_options`]. [`NdRepr`] parses and builds whole NS / NA messages, checksum included.

use core::net::Ipv6Addr;

use zerocopy::network_endian::{U16, U32};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use crate::checksum::ip6_pseudo_checksum;
use crate::ethernet::Mac;
use crate::ipv6::PROTO_ICMPV6;
use crate::{header, Error, Truncated};

/// Destination Unreachable.
pub const TYPE_DEST_UNREACHABLE: u8 = 1;
/// Packet Too Big.
pub const TYPE_PACKET_TOO_BIG: u8 = 2;
/// Time Exceeded.
pub const TYPE_TIME_EXCEEDED: u8 = 3;
/// Parameter Problem.
pub const TYPE_PARAM_PROBLEM: u8 = 4;
/// Echo Request.
pub const TYPE_ECHO_REQUEST: u8 = 128;
/// Echo Reply.
pub const TYPE_ECHO_REPLY: u8 = 129;
/// Router Solicitation.
pub const TYPE_ROUTER_SOLICIT: u8 = 133;
/// Router Advertisement.
pub const TYPE_ROUTER_ADVERT: u8 = 134;
/// Neighbour Solicitation.
pub const TYPE_NEIGHBOR_SOLICIT: u8 = 135;
/// Neighbour Advertisement.
pub const TYPE_NEIGHBOR_ADVERT: u8 = 136;
/// Redirect.
pub const TYPE_REDIRECT: u8 = 137;

/// Time Exceeded code: hop limit exceeded in transit.
pub const CODE_HOP_LIMIT_EXCEEDED: u8 = 0;
/// Time Exceeded code: fragment reassembly time exceeded.
pub const CODE_REASSEMBLY_EXCEEDED: u8 = 1;

/// ND option: Source Link-Layer Address.
pub const OPT_SOURCE_LLADDR: u8 = 1;
/// ND option: Target Link-Layer Address.
pub const OPT_TARGET_LLADDR: u8 = 2;

/// NA flag: the sender is a router.
pub const NA_FLAG_ROUTER: u32 = 0x8000_0000;
/// NA flag: sent in response to a solicitation.
pub const NA_FLAG_SOLICITED: u32 = 0x4000_0000;
/// NA flag: override an existing cache entry.
pub const NA_FLAG_OVERRIDE: u32 = 0x2000_0000;

/// ICMPv6 header, common to every message.
///
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |     Type      |     Code      |          Checksum             |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                         Message Body                          |
/// ```
///
/// <https://www.rfc-editor.org/rfc/rfc4443#section-2.1>
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct Icmp6Hdr {
    /// Message type (`TYPE_*`).
    pub ty: u8,
    /// Type-specific code.
    pub code: u8,
    /// Checksum over the IPv6 pseudo-header and the whole message.
    pub checksum: U16,
}
header!(Icmp6Hdr, 4);

impl Icmp6Hdr {
    /// A header with checksum 0 (fill it with [`fill_checksum`]).
    pub const fn new(ty: u8, code: u8) -> Self {
        Icmp6Hdr {
            ty,
            code,
            checksum: U16::ZERO,
        }
    }
}

/// Echo Request / Reply body, after the [`Icmp6Hdr`]; data follows.
///
/// ```text
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |           Identifier          |        Sequence Number        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |     Data ...
/// ```
///
/// <https://www.rfc-editor.org/rfc/rfc4443#section-4.1>
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct EchoHdr {
    /// Identifier, echoed back.
    pub id: U16,
    /// Sequence number, echoed back.
    pub seq: U16,
}
header!(EchoHdr, 4);

/// Packet Too Big body, after the [`Icmp6Hdr`]; as much of the invoking packet as fits follows.
///
/// ```text
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                             MTU                               |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                    As much of invoking packet                 |
/// ```
///
/// <https://www.rfc-editor.org/rfc/rfc4443#section-3.2>
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct PtbBody {
    /// MTU of the next-hop link.
    pub mtu: U32,
}
header!(PtbBody, 4);

/// Time Exceeded body, after the [`Icmp6Hdr`]; as much of the invoking packet as fits follows.
///
/// ```text
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                             Unused                            |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                    As much of invoking packet                 |
/// ```
///
/// <https://www.rfc-editor.org/rfc/rfc4443#section-3.3>
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct TimeExceededBody {
    /// Must be sent as 0, ignored on receipt.
    pub unused: U32,
}
header!(TimeExceededBody, 4);

/// Neighbour Solicitation body, after the [`Icmp6Hdr`]; options follow.
///
/// ```text
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                           Reserved                            |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                                                               |
/// +                                                               +
/// |                       Target Address                          |
/// +                                                               +
/// |                                                               |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |   Options ...
/// ```
///
/// <https://www.rfc-editor.org/rfc/rfc4861#section-4.3>
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct NsBody {
    /// Must be sent as 0, ignored on receipt.
    pub reserved: U32,
    /// The address being resolved.
    pub target: [u8; 16],
}
header!(NsBody, 20);

impl NsBody {
    /// Target address.
    pub fn target_addr(&self) -> Ipv6Addr {
        Ipv6Addr::from(self.target)
    }
}

/// Neighbour Advertisement body, after the [`Icmp6Hdr`]; options follow.
///
/// ```text
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |R|S|O|                     Reserved                            |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                                                               |
/// +                                                               +
/// |                       Target Address                          |
/// +                                                               +
/// |                                                               |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |   Options ...
/// ```
///
/// <https://www.rfc-editor.org/rfc/rfc4861#section-4.4>
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct NaBody {
    /// R, S, O flags (`NA_FLAG_*`) in the top bits; the rest is reserved.
    pub flags: U32,
    /// The address whose link-layer address is advertised.
    pub target: [u8; 16],
}
header!(NaBody, 20);

impl NaBody {
    /// Target address.
    pub fn target_addr(&self) -> Ipv6Addr {
        Ipv6Addr::from(self.target)
    }

    /// R: the sender is a router.
    pub fn router(&self) -> bool {
        self.flags.get() & NA_FLAG_ROUTER != 0
    }

    /// S: a reply to a solicitation.
    pub fn solicited(&self) -> bool {
        self.flags.get() & NA_FLAG_SOLICITED != 0
    }

    /// O: the receiver should override its cache entry.
    pub fn override_flag(&self) -> bool {
        self.flags.get() & NA_FLAG_OVERRIDE != 0
    }
}

/// Source / Target Link-Layer Address option for Ethernet (always 8 bytes, length 1).
///
/// ```text
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |     Type      |    Length     |    Link-Layer Address ...
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
///
/// <https://www.rfc-editor.org/rfc/rfc4861#section-4.6.1>
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct LladdrOpt {
    /// [`OPT_SOURCE_LLADDR`] or [`OPT_TARGET_LLADDR`].
    pub ty: u8,
    /// Length in 8-octet units, type and length included: 1 for Ethernet.
    pub len: u8,
    /// The link-layer address.
    pub mac: Mac,
}
header!(LladdrOpt, 8);

impl LladdrOpt {
    /// An Ethernet link-layer address option.
    pub const fn new(ty: u8, mac: Mac) -> Self {
        LladdrOpt { ty, len: 1, mac }
    }
}

/// One ND option: its type and the bytes after the type and length octets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NdOption<'a> {
    /// Option type (`OPT_*`).
    pub ty: u8,
    /// The option's contents (its length × 8 − 2 bytes).
    pub body: &'a [u8],
}

impl NdOption<'_> {
    /// The Ethernet address of a source or target link-layer address option.
    pub fn lladdr(&self) -> Option<Mac> {
        if !matches!(self.ty, OPT_SOURCE_LLADDR | OPT_TARGET_LLADDR) {
            return None;
        }
        self.body.first_chunk::<6>().map(|m| Mac(*m))
    }
}

/// Iterator over ND options; see [`nd_options`].
#[derive(Debug, Clone)]
pub struct NdOptions<'a> {
    rest: &'a [u8],
    /// Offset of `rest` in the original bytes, for error reports.
    at: usize,
    total: usize,
}

/// Walks the options after an ND body. Yields an error and then stops on a zero-length option
/// (RFC 4861 §4.6: the packet must be dropped) or one running past the end.
pub fn nd_options(bytes: &[u8]) -> NdOptions<'_> {
    NdOptions {
        rest: bytes,
        at: 0,
        total: bytes.len(),
    }
}

impl<'a> Iterator for NdOptions<'a> {
    type Item = Result<NdOption<'a>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        let &[ty, units, ..] = self.rest else {
            if self.rest.is_empty() {
                return None;
            }
            let e = Truncated {
                needed: self.at + 2,
                got: self.total,
            };
            self.rest = &[];
            return Some(Err(e.into()));
        };
        let len = usize::from(units) * 8;
        let Some((opt, rest)) = self.rest.split_at_checked(len).filter(|_| len != 0) else {
            let e = if len == 0 {
                Error::ZeroLengthOption
            } else {
                Error::Truncated(Truncated {
                    needed: self.at + len,
                    got: self.total,
                })
            };
            self.rest = &[];
            return Some(Err(e));
        };
        self.rest = rest;
        self.at += len;
        Some(Ok(NdOption {
            ty,
            body: &opt[2..],
        }))
    }
}

impl core::iter::FusedIterator for NdOptions<'_> {}

/// Fills the checksum of the ICMPv6 message `msg` (header, body, options or data).
pub fn fill_checksum(src: Ipv6Addr, dst: Ipv6Addr, msg: &mut [u8]) -> Result<(), Truncated> {
    let len = u32::try_from(msg.len()).unwrap_or(u32::MAX);
    let (h, _) = Icmp6Hdr::parse_mut(msg)?;
    h.checksum = U16::ZERO;
    let c = ip6_pseudo_checksum(src, dst, len, PROTO_ICMPV6, msg);
    // parse_mut succeeded above, so the field is there.
    msg[2..4].copy_from_slice(&c.to_be_bytes());
    Ok(())
}

/// True if the ICMPv6 message `msg` carries a correct checksum.
pub fn checksum_ok(src: Ipv6Addr, dst: Ipv6Addr, msg: &[u8]) -> bool {
    let len = u32::try_from(msg.len()).unwrap_or(u32::MAX);
    msg.len() >= Icmp6Hdr::LEN && ip6_pseudo_checksum(src, dst, len, PROTO_ICMPV6, msg) == 0
}

/// A Neighbour Solicitation or Advertisement, decoded. Only the Ethernet link-layer address
/// option is kept; other options are skipped (RFC 4861 says to ignore unknown ones).
///
/// `parse` checks structure only. The RFC 4861 §7.1 checks that need the IPv6 header (hop limit
/// 255, source and destination rules) and the checksum ([`checksum_ok`]) are the caller's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NdRepr {
    /// Neighbour Solicitation.
    Solicit {
        /// Address being resolved.
        target: Ipv6Addr,
        /// Sender's MAC (absent when the source is `::`, as in DAD).
        source_lladdr: Option<Mac>,
    },
    /// Neighbour Advertisement.
    Advert {
        /// R, S, O flags (`NA_FLAG_*`).
        flags: u32,
        /// Address advertised.
        target: Ipv6Addr,
        /// MAC of the target.
        target_lladdr: Option<Mac>,
    },
}

impl NdRepr {
    /// Decodes a whole ICMPv6 message (starting at the [`Icmp6Hdr`]).
    pub fn parse(msg: &[u8]) -> Result<Self, Error> {
        let (h, body) = Icmp6Hdr::parse(msg)?;
        let want_opt = match h.ty {
            TYPE_NEIGHBOR_SOLICIT => OPT_SOURCE_LLADDR,
            TYPE_NEIGHBOR_ADVERT => OPT_TARGET_LLADDR,
            _ => return Err(Error::Unsupported),
        };
        if h.code != 0 {
            return Err(Error::Malformed);
        }
        // NS and NA bodies have the same layout; only the meaning of the first word differs.
        let (b, opts) = NaBody::parse(body).map_err(|t| Truncated {
            needed: t.needed + Icmp6Hdr::LEN,
            got: msg.len(),
        })?;
        let mut lladdr = None;
        for opt in nd_options(opts) {
            let opt = opt.map_err(|e| match e {
                Error::Truncated(t) => Error::Truncated(Truncated {
                    needed: t.needed + Icmp6Hdr::LEN + NaBody::LEN,
                    got: msg.len(),
                }),
                e => e,
            })?;
            if opt.ty == want_opt {
                lladdr = opt.lladdr();
            }
        }
        let target = b.target_addr();
        Ok(if h.ty == TYPE_NEIGHBOR_SOLICIT {
            NdRepr::Solicit {
                target,
                source_lladdr: lladdr,
            }
        } else {
            NdRepr::Advert {
                flags: b.flags.get() & (NA_FLAG_ROUTER | NA_FLAG_SOLICITED | NA_FLAG_OVERRIDE),
                target,
                target_lladdr: lladdr,
            }
        })
    }

    /// Bytes [`Self::emit`] writes.
    pub fn buffer_len(&self) -> usize {
        let opt = match self {
            NdRepr::Solicit {
                source_lladdr: l, ..
            }
            | NdRepr::Advert {
                target_lladdr: l, ..
            } => l.map_or(0, |_| LladdrOpt::LEN),
        };
        Icmp6Hdr::LEN + NaBody::LEN + opt
    }

    /// Writes the whole message, checksum included, and returns its length.
    pub fn emit(&self, src: Ipv6Addr, dst: Ipv6Addr, out: &mut [u8]) -> Result<usize, Truncated> {
        let len = self.buffer_len();
        let got = out.len();
        let msg = out.get_mut(..len).ok_or(Truncated { needed: len, got })?;
        let (ty, word, target, opt) = match *self {
            NdRepr::Solicit {
                target,
                source_lladdr,
            } => (
                TYPE_NEIGHBOR_SOLICIT,
                0,
                target,
                source_lladdr.map(|m| LladdrOpt::new(OPT_SOURCE_LLADDR, m)),
            ),
            NdRepr::Advert {
                flags,
                target,
                target_lladdr,
            } => (
                TYPE_NEIGHBOR_ADVERT,
                flags & (NA_FLAG_ROUTER | NA_FLAG_SOLICITED | NA_FLAG_OVERRIDE),
                target,
                target_lladdr.map(|m| LladdrOpt::new(OPT_TARGET_LLADDR, m)),
            ),
        };
        // `msg` is exactly buffer_len() bytes, so none of these writes can fall short.
        let mut at = Icmp6Hdr::new(ty, 0).emit(msg)?;
        at += NaBody {
            flags: U32::new(word),
            target: target.octets(),
        }
        .emit(&mut msg[at..])?;
        if let Some(o) = opt {
            o.emit(&mut msg[at..])?;
        }
        fill_checksum(src, dst, msg)?;
        Ok(len)
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::header_tests::truncation_sweep;
    use crate::ipv6::solicited_node;
    use proptest::prelude::*;
    use std::vec::Vec;

    fn ll1() -> Ipv6Addr {
        "fe80::1".parse().unwrap()
    }

    fn target() -> Ipv6Addr {
        "2001:db8::2".parse().unwrap()
    }

    /// NS from fe80::1 (02:00:00:00:00:01) for 2001:db8::2, sent to ff02::1:ff00:2.
    static NS: [u8; 32] = [
        0x87, // type 135 neighbour solicitation
        0x00, // code 0
        0x4b, 0x5f, // checksum (computed with an independent Python script)
        0x00, 0x00, 0x00, 0x00, // reserved
        0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, // target 2001:db8::2
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, //
        0x01, // option: source link-layer address
        0x01, // length 1 (8 bytes)
        0x02, 0x00, 0x00, 0x00, 0x00, 0x01, // 02:00:00:00:00:01
    ];

    /// The solicited NA reply from 2001:db8::2 (02:00:00:00:00:02) to fe80::1.
    static NA: [u8; 32] = [
        0x88, // type 136 neighbour advertisement
        0x00, // code 0
        0xb9, 0xa9, // checksum (computed with an independent Python script)
        0x60, 0x00, 0x00, 0x00, // flags S and O
        0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, // target 2001:db8::2
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, //
        0x02, // option: target link-layer address
        0x01, // length 1 (8 bytes)
        0x02, 0x00, 0x00, 0x00, 0x00, 0x02, // 02:00:00:00:00:02
    ];

    #[test]
    fn deconstruct_ns() {
        let (h, body) = Icmp6Hdr::parse(&NS).unwrap();
        assert_eq!((h.ty, h.code), (TYPE_NEIGHBOR_SOLICIT, 0));
        let (b, opts) = NsBody::parse(body).unwrap();
        assert_eq!(b.target_addr(), target());
        let o: Vec<_> = nd_options(opts).collect();
        assert_eq!(o.len(), 1);
        assert_eq!(o[0].unwrap().lladdr(), Some(Mac([2, 0, 0, 0, 0, 1])));
        assert!(checksum_ok(ll1(), solicited_node(target()), &NS));
        assert!(!checksum_ok(ll1(), target(), &NS));
        assert_eq!(
            NdRepr::parse(&NS),
            Ok(NdRepr::Solicit {
                target: target(),
                source_lladdr: Some(Mac([2, 0, 0, 0, 0, 1]))
            })
        );
    }

    #[test]
    fn deconstruct_na() {
        let (_, body) = Icmp6Hdr::parse(&NA).unwrap();
        let (b, _) = NaBody::parse(body).unwrap();
        assert!(!b.router() && b.solicited() && b.override_flag());
        assert!(checksum_ok(target(), ll1(), &NA));
        assert_eq!(
            NdRepr::parse(&NA),
            Ok(NdRepr::Advert {
                flags: NA_FLAG_SOLICITED | NA_FLAG_OVERRIDE,
                target: target(),
                target_lladdr: Some(Mac([2, 0, 0, 0, 0, 2]))
            })
        );
    }

    #[test]
    fn construct_nd() {
        let mut buf = [0xa5u8; 40];
        let ns = NdRepr::Solicit {
            target: target(),
            source_lladdr: Some(Mac([2, 0, 0, 0, 0, 1])),
        };
        assert_eq!(ns.emit(ll1(), solicited_node(target()), &mut buf), Ok(32));
        assert_eq!(buf[..32], NS);
        assert_eq!(buf[32..], [0xa5; 8]);
        let na = NdRepr::Advert {
            flags: NA_FLAG_SOLICITED | NA_FLAG_OVERRIDE,
            target: target(),
            target_lladdr: Some(Mac([2, 0, 0, 0, 0, 2])),
        };
        assert_eq!(na.emit(target(), ll1(), &mut buf), Ok(32));
        assert_eq!(buf[..32], NA);
        for n in 0..32 {
            assert!(na.emit(target(), ll1(), &mut buf[..n]).is_err());
        }
    }

    #[test]
    fn echo_ptb_time_exceeded() {
        let echo = [
            0x81, 0x00, // echo reply, code 0
            0x00, 0x00, // checksum
            0xbe, 0xef, // identifier
            0x00, 0x07, // sequence 7
            0x61, 0x62, // data
        ];
        let (h, b) = Icmp6Hdr::parse(&echo).unwrap();
        assert_eq!(h.ty, TYPE_ECHO_REPLY);
        let (e, data) = EchoHdr::parse(b).unwrap();
        assert_eq!((e.id.get(), e.seq.get(), data), (0xbeef, 7, &b"ab"[..]));

        let ptb = [
            0x02, 0x00, 0x00, 0x00, // packet too big, code 0, checksum
            0x00, 0x00, 0x05, 0xdc, // MTU 1500
            0x60, // start of the invoking packet
        ];
        let (h, b) = Icmp6Hdr::parse(&ptb).unwrap();
        assert_eq!(h.ty, TYPE_PACKET_TOO_BIG);
        let (p, invoking) = PtbBody::parse(b).unwrap();
        assert_eq!((p.mtu.get(), invoking), (1500, &[0x60][..]));

        let mut te = [0xa5u8; 8];
        let at = Icmp6Hdr::new(TYPE_TIME_EXCEEDED, CODE_HOP_LIMIT_EXCEEDED)
            .emit(&mut te)
            .unwrap();
        TimeExceededBody { unused: U32::ZERO }
            .emit(&mut te[at..])
            .unwrap();
        assert_eq!(te, [3, 0, 0, 0, 0, 0, 0, 0]);
        fill_checksum(ll1(), target(), &mut te).unwrap();
        assert!(checksum_ok(ll1(), target(), &te));
    }

    #[test]
    fn truncation() {
        truncation_sweep(&NS, Icmp6Hdr::LEN, |b| Icmp6Hdr::parse(b).map(drop));
        truncation_sweep(&NS, EchoHdr::LEN, |b| EchoHdr::parse(b).map(drop));
        truncation_sweep(&NS[4..], NsBody::LEN, |b| NsBody::parse(b).map(drop));
        truncation_sweep(&NA[4..], NaBody::LEN, |b| NaBody::parse(b).map(drop));
        truncation_sweep(&NS, PtbBody::LEN, |b| PtbBody::parse(b).map(drop));
        truncation_sweep(&NS, TimeExceededBody::LEN, |b| {
            TimeExceededBody::parse(b).map(drop)
        });
        truncation_sweep(&NS[24..], LladdrOpt::LEN, |b| LladdrOpt::parse(b).map(drop));
        // Whole-message parse: every cut fails cleanly, except the one right after the body,
        // which is a valid NS without options.
        for n in (0..NS.len()).filter(|&n| n != 24) {
            assert!(NdRepr::parse(&NS[..n]).is_err(), "prefix {n}");
        }
        assert_eq!(
            NdRepr::parse(&NS[..24]),
            Ok(NdRepr::Solicit {
                target: target(),
                source_lladdr: None
            })
        );
        let mut short = [0u8; 4];
        assert!(fill_checksum(ll1(), ll1(), &mut short[..3]).is_err());
        assert!(!checksum_ok(ll1(), ll1(), &short[..3]));
    }

    #[test]
    fn options_reject_bad_lengths() {
        // Zero length: an error, then the iterator stops (no infinite loop).
        let zero = [1u8, 0, 2, 0, 0, 0, 0, 0];
        let mut it = nd_options(&zero);
        assert_eq!(it.next(), Some(Err(Error::ZeroLengthOption)));
        assert_eq!(it.next(), None);
        // Length 2 (16 bytes) with only 8 present.
        let long = [1u8, 2, 0, 0, 0, 0, 0, 0];
        assert_eq!(
            nd_options(&long).next(),
            Some(Err(Error::Truncated(Truncated { needed: 16, got: 8 })))
        );
        // A lone type byte.
        assert_eq!(
            nd_options(&[1u8]).next(),
            Some(Err(Error::Truncated(Truncated { needed: 2, got: 1 })))
        );
        // An unknown option is skipped, then the second one is read.
        let two = [9u8, 1, 0, 0, 0, 0, 0, 0, 2, 1, 1, 2, 3, 4, 5, 6];
        let v: Vec<_> = nd_options(&two).map(Result::unwrap).collect();
        assert_eq!(v.len(), 2);
        assert_eq!((v[0].ty, v[0].lladdr()), (9, None));
        assert_eq!(v[1].lladdr(), Some(Mac([1, 2, 3, 4, 5, 6])));
        // NdRepr refuses a message whose options are bad.
        let mut bad = NS;
        bad[25] = 0;
        assert_eq!(NdRepr::parse(&bad), Err(Error::ZeroLengthOption));
        let mut code = NS;
        code[1] = 1;
        assert_eq!(NdRepr::parse(&code), Err(Error::Malformed));
        let mut echo = NS;
        echo[0] = TYPE_ECHO_REQUEST;
        assert_eq!(NdRepr::parse(&echo), Err(Error::Unsupported));
    }

    fn nd_repr() -> impl Strategy<Value = NdRepr> {
        let mac = proptest::option::of(any::<[u8; 6]>().prop_map(Mac));
        prop_oneof![
            (any::<[u8; 16]>(), mac.clone()).prop_map(|(t, m)| NdRepr::Solicit {
                target: t.into(),
                source_lladdr: m
            }),
            (0u32..8, any::<[u8; 16]>(), mac).prop_map(|(f, t, m)| NdRepr::Advert {
                flags: f << 29,
                target: t.into(),
                target_lladdr: m
            }),
        ]
    }

    proptest! {
        #![proptest_config(crate::proptest_config())]
        #[test]
        fn nd_round_trip(r in nd_repr(), src: [u8; 16], dst: [u8; 16]) {
            let mut buf = [0xa5u8; 48];
            let n = r.emit(src.into(), dst.into(), &mut buf).unwrap();
            prop_assert_eq!(n, r.buffer_len());
            prop_assert!(checksum_ok(src.into(), dst.into(), &buf[..n]));
            prop_assert_eq!(NdRepr::parse(&buf[..n]), Ok(r));
        }

        #[test]
        fn options_never_overrun(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut seen = 0;
            for o in nd_options(&bytes) {
                match o {
                    Ok(o) => seen += o.body.len() + 2,
                    Err(_) => break,
                }
            }
            prop_assert!(seen <= bytes.len());
            let _ = NdRepr::parse(&bytes);
        }
    }
}
