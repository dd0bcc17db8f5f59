//! ARP for IPv4 over Ethernet (RFC 826, ethertype 0x0806): the 28-byte packet, its checks,
//! and the requests, replies and gratuitous announcements (RFC 5227 §3) pwire sends.

use core::net::Ipv4Addr;

use zerocopy::network_endian::U16;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use crate::ethernet::Mac;
use crate::{header, Error};

/// Hardware type Ethernet.
pub const HTYPE_ETHERNET: u16 = 1;
/// Protocol type IPv4 (the ethertype).
pub const PTYPE_IPV4: u16 = 0x0800;
/// Operation: request.
pub const OP_REQUEST: u16 = 1;
/// Operation: reply.
pub const OP_REPLY: u16 = 2;

/// An ARP packet for IPv4 over Ethernet.
///
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |        Hardware type (1)      |     Protocol type (0x0800)    |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// | HW len (6)    | Proto len (4) |           Operation           |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |  Sender hardware address (6) ... | Sender protocol address (4)|
/// |  Target hardware address (6) ... | Target protocol address (4)|
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
///
/// <https://www.rfc-editor.org/rfc/rfc826>
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct ArpHdr {
    /// Hardware type ([`HTYPE_ETHERNET`]).
    pub htype: U16,
    /// Protocol type ([`PTYPE_IPV4`]).
    pub ptype: U16,
    /// Hardware address length (6).
    pub hlen: u8,
    /// Protocol address length (4).
    pub plen: u8,
    /// [`OP_REQUEST`] or [`OP_REPLY`].
    pub oper: U16,
    /// Sender hardware address.
    pub sha: Mac,
    /// Sender protocol address.
    pub spa: [u8; 4],
    /// Target hardware address.
    pub tha: Mac,
    /// Target protocol address.
    pub tpa: [u8; 4],
}
header!(ArpHdr, 28);

impl ArpHdr {
    /// An Ethernet/IPv4 ARP packet.
    pub fn new(oper: u16, sha: Mac, spa: Ipv4Addr, tha: Mac, tpa: Ipv4Addr) -> Self {
        ArpHdr {
            htype: U16::new(HTYPE_ETHERNET),
            ptype: U16::new(PTYPE_IPV4),
            hlen: 6,
            plen: 4,
            oper: U16::new(oper),
            sha,
            spa: spa.octets(),
            tha,
            tpa: tpa.octets(),
        }
    }

    /// A request for `target` from (`mac`, `ip`); the target hardware address is zero.
    pub fn request(mac: Mac, ip: Ipv4Addr, target: Ipv4Addr) -> Self {
        Self::new(OP_REQUEST, mac, ip, Mac([0; 6]), target)
    }

    /// A gratuitous announcement of (`mac`, `ip`) (RFC 5227 §3: a request whose sender and
    /// target protocol addresses are both `ip`), sent when an address appears or its link
    /// comes up so that neighbours holding an old MAC update it.
    pub fn announcement(mac: Mac, ip: Ipv4Addr) -> Self {
        Self::request(mac, ip, ip)
    }

    /// Turns a request into the reply from (`mac`, the requested address) in place: the sender
    /// becomes the target and we become the sender.
    pub fn make_reply(&mut self, mac: Mac) {
        self.oper.set(OP_REPLY);
        self.tha = self.sha;
        core::mem::swap(&mut self.spa, &mut self.tpa);
        self.sha = mac;
    }

    /// Hardware type Ethernet with 6-byte addresses.
    pub fn is_ethernet(&self) -> bool {
        self.htype.get() == HTYPE_ETHERNET && self.hlen == 6
    }

    /// Protocol type IPv4 with 4-byte addresses.
    pub fn is_ipv4(&self) -> bool {
        self.ptype.get() == PTYPE_IPV4 && self.plen == 4
    }

    /// Sender protocol address.
    pub fn sender_ip(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.spa)
    }

    /// Target protocol address.
    pub fn target_ip(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.tpa)
    }
}

/// An Ethernet/IPv4 ARP packet, decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ArpRepr {
    pub oper: u16,
    pub sha: Mac,
    pub spa: Ipv4Addr,
    pub tha: Mac,
    pub tpa: Ipv4Addr,
}

impl ArpRepr {
    /// Decodes an ARP packet: [`Error::Truncated`] if shorter than 28 bytes,
    /// [`Error::Unsupported`] if it is not Ethernet/IPv4 (other hardware or protocol types,
    /// other address lengths).
    pub fn parse(bytes: &[u8]) -> Result<Self, Error> {
        let (h, _) = ArpHdr::parse(bytes)?;
        if !h.is_ethernet() || !h.is_ipv4() {
            return Err(Error::Unsupported);
        }
        Ok(ArpRepr {
            oper: h.oper.get(),
            sha: h.sha,
            spa: h.sender_ip(),
            tha: h.tha,
            tpa: h.target_ip(),
        })
    }

    /// Bytes [`Self::emit`] writes.
    pub const fn buffer_len(&self) -> usize {
        ArpHdr::LEN
    }

    /// Writes the packet at the start of `out`.
    pub fn emit(&self, out: &mut [u8]) -> Result<usize, crate::Truncated> {
        ArpHdr::new(self.oper, self.sha, self.spa, self.tha, self.tpa).emit(out)
    }

    /// Sender and target protocol addresses are equal: a gratuitous ARP (announcement).
    pub fn is_gratuitous(&self) -> bool {
        self.spa == self.tpa
    }

    /// Sender protocol address 0.0.0.0: an address probe (RFC 5227 §2.1.1).
    pub fn is_probe(&self) -> bool {
        self.spa.is_unspecified()
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::header_tests::truncation_sweep;
    use proptest::prelude::*;

    // Who has 192.0.2.1? Tell 192.0.2.2 (02:00:00:00:00:02), as Linux sends it.
    static REQ: [u8; 28] = [
        0x00, 0x01, // Ethernet
        0x08, 0x00, // IPv4
        6, 4, // lengths
        0x00, 0x01, // request
        0x02, 0, 0, 0, 0, 0x02, // sha
        192, 0, 2, 2, // spa
        0, 0, 0, 0, 0, 0, // tha
        192, 0, 2, 1, // tpa
    ];

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    #[test]
    fn deconstruct() {
        let r = ArpRepr::parse(&REQ).unwrap();
        assert_eq!(
            r,
            ArpRepr {
                oper: OP_REQUEST,
                sha: Mac([2, 0, 0, 0, 0, 2]),
                spa: ip("192.0.2.2"),
                tha: Mac([0; 6]),
                tpa: ip("192.0.2.1"),
            }
        );
        assert!(!r.is_gratuitous() && !r.is_probe());
        // Trailing Ethernet padding is ignored.
        let mut padded = REQ.to_vec();
        padded.extend_from_slice(&[0; 18]);
        assert_eq!(ArpRepr::parse(&padded), Ok(r));
    }

    #[test]
    fn construct() {
        let h = ArpHdr::request(Mac([2, 0, 0, 0, 0, 2]), ip("192.0.2.2"), ip("192.0.2.1"));
        let mut buf = [0xa5u8; 29];
        assert_eq!(h.emit(&mut buf), Ok(28));
        assert_eq!(buf[..28], REQ);
        assert_eq!(buf[28], 0xa5);
        let r = ArpRepr::parse(&REQ).unwrap();
        let mut out = [0u8; 28];
        assert_eq!(r.emit(&mut out), Ok(28));
        assert_eq!(out, REQ);
    }

    #[test]
    fn reply_in_place() {
        let mut b = REQ;
        let (h, _) = ArpHdr::parse_mut(&mut b).unwrap();
        h.make_reply(Mac([2, 0xfe, 0, 0, 0, 0]));
        let r = ArpRepr::parse(&b).unwrap();
        assert_eq!(
            r,
            ArpRepr {
                oper: OP_REPLY,
                sha: Mac([2, 0xfe, 0, 0, 0, 0]),
                spa: ip("192.0.2.1"),
                tha: Mac([2, 0, 0, 0, 0, 2]),
                tpa: ip("192.0.2.2"),
            }
        );
        let g = ArpHdr::announcement(Mac([2, 0xfe, 0, 0, 0, 0]), ip("192.0.2.1"));
        let mut gb = [0u8; 28];
        g.emit(&mut gb).unwrap();
        let gr = ArpRepr::parse(&gb).unwrap();
        assert!(gr.is_gratuitous() && gr.oper == OP_REQUEST && gr.tha == Mac([0; 6]));
    }

    #[test]
    fn other_types_refused() {
        for (i, v) in [(1, 6u8), (3, 0x86), (4, 7), (5, 5)] {
            let mut b = REQ;
            b[i] = v;
            assert_eq!(ArpRepr::parse(&b), Err(Error::Unsupported), "byte {i}");
        }
    }

    #[test]
    fn truncation() {
        truncation_sweep(&REQ, ArpHdr::LEN, |b| ArpHdr::parse(b).map(drop));
        assert!(matches!(
            ArpRepr::parse(&REQ[..27]),
            Err(Error::Truncated(_))
        ));
    }

    proptest! {
        #![proptest_config(crate::proptest_config())]
        #[test]
        fn round_trip(oper: u16, sha: [u8; 6], spa: [u8; 4], tha: [u8; 6], tpa: [u8; 4]) {
            let r = ArpRepr { oper, sha: Mac(sha), spa: spa.into(), tha: Mac(tha), tpa: tpa.into() };
            let mut buf = [0xa5u8; 28];
            r.emit(&mut buf).unwrap();
            prop_assert_eq!(ArpRepr::parse(&buf), Ok(r));
        }

        #[test]
        fn parse_any(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            match ArpRepr::parse(&bytes) {
                Ok(r) => {
                    let mut out = [0u8; 28];
                    r.emit(&mut out).unwrap();
                    prop_assert_eq!(&out[..], &bytes[..28]);
                }
                Err(Error::Truncated(_)) => prop_assert!(bytes.len() < 28),
                Err(e) => prop_assert_eq!(e, Error::Unsupported),
            }
        }
    }
}
