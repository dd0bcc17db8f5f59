//! ICMP for IPv4 (RFC 792): the 8-byte header, the types and codes pwire sends or answers
//! (echo, destination unreachable with RFC 1191's next-hop MTU, time exceeded), and the
//! checksum, which unlike ICMPv6's covers the message only (no pseudo-header).

use zerocopy::network_endian::U16;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use crate::checksum::internet_checksum;
use crate::{header, Truncated};

/// Echo reply.
pub const TYPE_ECHO_REPLY: u8 = 0;
/// Destination unreachable.
pub const TYPE_DEST_UNREACHABLE: u8 = 3;
/// Redirect.
pub const TYPE_REDIRECT: u8 = 5;
/// Echo request.
pub const TYPE_ECHO_REQUEST: u8 = 8;
/// Time exceeded.
pub const TYPE_TIME_EXCEEDED: u8 = 11;
/// Parameter problem.
pub const TYPE_PARAM_PROBLEM: u8 = 12;

/// Destination unreachable: net unreachable.
pub const CODE_NET_UNREACHABLE: u8 = 0;
/// Destination unreachable: host unreachable.
pub const CODE_HOST_UNREACHABLE: u8 = 1;
/// Destination unreachable: protocol unreachable.
pub const CODE_PROTOCOL_UNREACHABLE: u8 = 2;
/// Destination unreachable: port unreachable.
pub const CODE_PORT_UNREACHABLE: u8 = 3;
/// Destination unreachable: fragmentation needed and DF set (RFC 1191: the next-hop MTU is in
/// the low 16 bits of the second word).
pub const CODE_FRAG_NEEDED: u8 = 4;
/// Time exceeded: TTL exceeded in transit.
pub const CODE_TTL_EXCEEDED: u8 = 0;

/// Quoting at most this much, header included: the error fits the minimum reassembly buffer
/// (RFC 1812 §4.3.2.3).
pub const ERROR_MAX_LEN: usize = 576;

/// True for the error types no ICMP error may be sent about (RFC 1122 §3.2.2): destination
/// unreachable, redirect, source quench (4), time exceeded and parameter problem.
pub const fn is_error(ty: u8) -> bool {
    matches!(ty, 3 | 4 | 5 | 11 | 12)
}

/// The ICMP header: type, code, checksum, and the type-specific word (echo id and sequence,
/// or unused + next-hop MTU, or unused).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct Icmp4Hdr {
    /// Message type (`TYPE_*`).
    pub ty: u8,
    /// Type-specific code.
    pub code: u8,
    /// Checksum over the whole message.
    pub checksum: U16,
    /// Echo: identifier. Fragmentation needed: unused. Others: unused.
    pub word0: U16,
    /// Echo: sequence number. Fragmentation needed: next-hop MTU. Others: unused.
    pub word1: U16,
}
header!(Icmp4Hdr, 8);

impl Icmp4Hdr {
    /// A header with checksum 0 (fill it with [`fill_checksum`]).
    pub const fn new(ty: u8, code: u8, word0: u16, word1: u16) -> Self {
        Icmp4Hdr {
            ty,
            code,
            checksum: U16::ZERO,
            word0: U16::new(word0),
            word1: U16::new(word1),
        }
    }
}

/// Computes and stores the checksum of the ICMP message `msg` (header and data).
pub fn fill_checksum(msg: &mut [u8]) -> Result<(), Truncated> {
    let (h, _) = Icmp4Hdr::parse_mut(msg)?;
    h.checksum = U16::ZERO;
    let c = internet_checksum(msg);
    msg[2..4].copy_from_slice(&c.to_be_bytes());
    Ok(())
}

/// True if `msg` is at least a header long and its checksum is right.
pub fn checksum_ok(msg: &[u8]) -> bool {
    msg.len() >= Icmp4Hdr::LEN && internet_checksum(msg) == 0
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::header_tests::truncation_sweep;
    use proptest::prelude::*;

    // Linux `ping -c1 -s 8 192.0.2.1`: echo request id 0x1234 seq 1, 8 data bytes.
    static ECHO: [u8; 16] = [
        0x08, 0x00, // echo request, code 0
        0xd5, 0xb6, // checksum
        0x12, 0x34, // id
        0x00, 0x01, // seq
        0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
    ];

    #[test]
    fn deconstruct() {
        let (h, data) = Icmp4Hdr::parse(&ECHO).unwrap();
        assert_eq!((h.ty, h.code), (TYPE_ECHO_REQUEST, 0));
        assert_eq!((h.word0.get(), h.word1.get()), (0x1234, 1));
        assert_eq!(data, &ECHO[8..]);
        assert!(checksum_ok(&ECHO));
        let mut bad = ECHO;
        bad[9] ^= 0x40;
        assert!(!checksum_ok(&bad));
        assert!(!checksum_ok(&ECHO[..7]));
    }

    #[test]
    fn construct() {
        let mut m = [0u8; 16];
        Icmp4Hdr::new(TYPE_ECHO_REQUEST, 0, 0x1234, 1)
            .emit(&mut m)
            .unwrap();
        m[8..].copy_from_slice(&ECHO[8..]);
        fill_checksum(&mut m).unwrap();
        assert_eq!(m, ECHO);
        let mut ptb = [0u8; 8];
        Icmp4Hdr::new(TYPE_DEST_UNREACHABLE, CODE_FRAG_NEEDED, 0, 1400)
            .emit(&mut ptb)
            .unwrap();
        assert_eq!(&ptb[4..], &[0, 0, 0x05, 0x78], "RFC 1191 next-hop MTU");
        assert_eq!(
            fill_checksum(&mut [0u8; 7]).err().map(|t| t.needed),
            Some(8)
        );
    }

    #[test]
    fn error_types() {
        for t in [3, 4, 5, 11, 12] {
            assert!(is_error(t));
        }
        for t in [0, 8, 13, 14, 255] {
            assert!(!is_error(t));
        }
    }

    #[test]
    fn truncation() {
        truncation_sweep(&ECHO, Icmp4Hdr::LEN, |b| Icmp4Hdr::parse(b).map(drop));
    }

    proptest! {
        #![proptest_config(crate::proptest_config())]
        #[test]
        fn filled_checksum_verifies(mut msg in proptest::collection::vec(any::<u8>(), 8..200)) {
            fill_checksum(&mut msg).unwrap();
            prop_assert!(checksum_ok(&msg));
        }
    }
}
