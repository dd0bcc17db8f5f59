//! UDP header.

use zerocopy::network_endian::U16;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use crate::header;

/// UDP header.
///
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |          Source Port          |       Destination Port        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |            Length             |           Checksum            |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
///
/// <https://www.rfc-editor.org/rfc/rfc768>
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct UdpHdr {
    /// Source port.
    pub src_port: U16,
    /// Destination port.
    pub dst_port: U16,
    /// Header plus data, in bytes.
    pub len: U16,
    /// Checksum over pseudo-header, header and data; 0 means "none" over IPv4 only.
    pub checksum: U16,
}
header!(UdpHdr, 8);

impl UdpHdr {
    /// Offset of the checksum field in the header.
    pub const CHECKSUM_OFFSET: usize = 6;

    /// A header with checksum 0 (to be filled in by [`crate::checksum`]).
    pub const fn new(src_port: u16, dst_port: u16, len: u16) -> Self {
        UdpHdr {
            src_port: U16::new(src_port),
            dst_port: U16::new(dst_port),
            len: U16::new(len),
            checksum: U16::ZERO,
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::header_tests::truncation_sweep;
    use proptest::prelude::*;

    static HDR: [u8; 8] = [
        0xb7, 0x35, // src port 46901
        0x1a, 0x0a, // dst port 6666
        0x00, 0x6c, // length 108
        0x98, 0x82, // checksum
    ];

    #[test]
    fn deconstruct() {
        let (h, _) = UdpHdr::parse(&HDR).unwrap();
        assert_eq!(
            (
                h.src_port.get(),
                h.dst_port.get(),
                h.len.get(),
                h.checksum.get()
            ),
            (46901, 6666, 108, 0x9882)
        );
    }

    #[test]
    fn construct() {
        let mut h = UdpHdr::new(46901, 6666, 108);
        h.checksum.set(0x9882);
        let mut buf = [0xa5u8; 9];
        assert_eq!(h.emit(&mut buf), Ok(8));
        assert_eq!(buf[..8], HDR);
        assert_eq!(buf[8], 0xa5);
    }

    #[test]
    fn truncation() {
        truncation_sweep(&HDR, UdpHdr::LEN, |b| UdpHdr::parse(b).map(drop));
    }

    proptest! {
        #![proptest_config(crate::proptest_config())]
        #[test]
        fn round_trip(s: u16, d: u16, l: u16) {
            let mut buf = [0xa5u8; 8];
            UdpHdr::new(s, d, l).emit(&mut buf).unwrap();
            let (p, _) = UdpHdr::parse(&buf).unwrap();
            prop_assert_eq!(*p, UdpHdr::new(s, d, l));
        }
    }
}
