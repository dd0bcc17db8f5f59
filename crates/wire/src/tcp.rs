//! TCP header: the fixed part only, enough for test frames and checksum fixing.

use zerocopy::network_endian::{U16, U32};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use crate::header;

/// FIN flag.
pub const FLAG_FIN: u16 = 0x001;
/// SYN flag.
pub const FLAG_SYN: u16 = 0x002;
/// RST flag.
pub const FLAG_RST: u16 = 0x004;
/// PSH flag.
pub const FLAG_PSH: u16 = 0x008;
/// ACK flag.
pub const FLAG_ACK: u16 = 0x010;

/// TCP fixed header (options, when the data offset is above 5, follow it).
///
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |          Source Port          |       Destination Port        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                        Sequence Number                        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                    Acknowledgment Number                      |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |  Data |       |C|E|U|A|P|R|S|F|                               |
/// | Offset| Rsrvd |W|C|R|C|S|S|Y|I|            Window             |
/// |       |       |R|E|G|K|H|T|N|N|                               |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |           Checksum            |         Urgent Pointer        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
///
/// <https://www.rfc-editor.org/rfc/rfc9293#section-3.1>
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct TcpHdr {
    /// Source port.
    pub src_port: U16,
    /// Destination port.
    pub dst_port: U16,
    /// Sequence number.
    pub seq: U32,
    /// Acknowledgment number.
    pub ack: U32,
    /// Data offset (4 bits, in 32-bit words), reserved bits and flags.
    pub offset_flags: U16,
    /// Receive window.
    pub window: U16,
    /// Checksum over pseudo-header, header and data.
    pub checksum: U16,
    /// Urgent pointer.
    pub urgent: U16,
}
header!(TcpHdr, 20);

impl TcpHdr {
    /// Offset of the checksum field in the header.
    pub const CHECKSUM_OFFSET: usize = 16;

    /// An option-less header (data offset 5) with checksum and urgent pointer 0.
    pub const fn new(src_port: u16, dst_port: u16, seq: u32, ack: u32, flags: u16) -> Self {
        TcpHdr {
            src_port: U16::new(src_port),
            dst_port: U16::new(dst_port),
            seq: U32::new(seq),
            ack: U32::new(ack),
            offset_flags: U16::new((5 << 12) | (flags & 0x0fff)),
            window: U16::new(65535),
            checksum: U16::ZERO,
            urgent: U16::ZERO,
        }
    }

    /// Header length in bytes, options included (data offset × 4).
    pub fn header_len(&self) -> usize {
        usize::from(self.offset_flags.get() >> 12) * 4
    }

    /// The flag bits (`FLAG_*`).
    pub fn flags(&self) -> u16 {
        self.offset_flags.get() & 0x0fff
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::header_tests::truncation_sweep;
    use proptest::prelude::*;

    static HDR: [u8; 20] = [
        0x30, 0x39, // src port 12345
        0x00, 0x50, // dst port 80
        0x00, 0x00, 0x00, 0x01, // seq 1
        0x00, 0x00, 0x00, 0x02, // ack 2
        0x50, 0x12, // data offset 5, flags SYN|ACK
        0xff, 0xff, // window 65535
        0x00, 0x00, // checksum
        0x00, 0x00, // urgent pointer
    ];

    #[test]
    fn deconstruct() {
        let (h, _) = TcpHdr::parse(&HDR).unwrap();
        assert_eq!((h.src_port.get(), h.dst_port.get()), (12345, 80));
        assert_eq!((h.seq.get(), h.ack.get()), (1, 2));
        assert_eq!(h.header_len(), 20);
        assert_eq!(h.flags(), FLAG_SYN | FLAG_ACK);
        assert_eq!(h.window.get(), 65535);
    }

    #[test]
    fn construct() {
        let mut buf = [0xa5u8; 21];
        let h = TcpHdr::new(12345, 80, 1, 2, FLAG_SYN | FLAG_ACK);
        assert_eq!(h.emit(&mut buf), Ok(20));
        assert_eq!(buf[..20], HDR);
        assert_eq!(buf[20], 0xa5);
    }

    #[test]
    fn truncation() {
        truncation_sweep(&HDR, TcpHdr::LEN, |b| TcpHdr::parse(b).map(drop));
    }

    proptest! {
        #![proptest_config(crate::proptest_config())]
        #[test]
        fn round_trip(s: u16, d: u16, seq: u32, ack: u32, flags in 0u16..0x1000) {
            let h = TcpHdr::new(s, d, seq, ack, flags);
            let mut buf = [0xa5u8; 20];
            h.emit(&mut buf).unwrap();
            let (p, _) = TcpHdr::parse(&buf).unwrap();
            prop_assert_eq!(*p, h);
            prop_assert_eq!((p.flags(), p.header_len()), (flags, 20));
        }
    }
}
