//! TCP header: the fixed part, and a walker over the options (for MSS clamping).

use zerocopy::network_endian::{U16, U32};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use crate::checksum::update_u16;
use crate::{header, Error, Truncated};

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

/// TCP option kinds (IANA "TCP Option Kind Numbers").
pub mod opt {
    /// End of option list (one byte, no length).
    pub const EOL: u8 = 0;
    /// No-operation, padding (one byte, no length).
    pub const NOP: u8 = 1;
    /// Maximum segment size (length 4, a 16-bit value; SYN segments only).
    pub const MSS: u8 = 2;
    /// Window scale (length 3).
    pub const WINDOW_SCALE: u8 = 3;
    /// SACK permitted (length 2).
    pub const SACK_PERMITTED: u8 = 4;
    /// SACK blocks.
    pub const SACK: u8 = 5;
    /// Timestamps (length 10).
    pub const TIMESTAMPS: u8 = 8;
}

/// Length of a well-formed MSS option: kind, length, 16-bit value.
pub const MSS_OPTION_LEN: usize = 4;
/// Most option bytes a header can carry (data offset 15: 60 − 20).
pub const MAX_OPTIONS_LEN: usize = 40;

/// One option from [`Options`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpOption<'a> {
    /// Option kind ([`opt`]).
    pub kind: u8,
    /// Offset of the kind byte from the start of the options (byte 20 of the header).
    pub offset: usize,
    /// The bytes after kind and length (empty for NOP).
    pub data: &'a [u8],
}

/// Walks TCP options as a receiving stack does (RFC 9293 §3.2, and Linux's
/// `tcp_parse_options`): NOPs are yielded, EOL ends the walk, and an option whose length byte
/// is missing, is below 2 or runs past the options yields one error and ends the walk (what
/// follows it cannot be told apart from garbage, and no receiver reads it).
///
/// Never reads outside the slice and always ends: each step consumes at least one byte.
#[derive(Debug, Clone)]
pub struct Options<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Options<'a> {
    /// A walker over option bytes (the header's bytes 20 .. data offset × 4).
    pub fn new(options: &'a [u8]) -> Self {
        Options {
            bytes: options,
            pos: 0,
        }
    }
}

impl<'a> Iterator for Options<'a> {
    type Item = Result<TcpOption<'a>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        let at = self.pos;
        let rest = self.bytes.get(at..).filter(|r| !r.is_empty())?;
        let kind = rest[0];
        let stop = |me: &mut Self| me.pos = me.bytes.len();
        match kind {
            opt::EOL => {
                stop(self);
                None
            }
            opt::NOP => {
                self.pos += 1;
                Some(Ok(TcpOption {
                    kind,
                    offset: at,
                    data: &[],
                }))
            }
            _ => {
                let Some(&len) = rest.get(1) else {
                    stop(self);
                    return Some(Err(Error::Truncated(Truncated {
                        needed: at + 2,
                        got: self.bytes.len(),
                    })));
                };
                let len = usize::from(len);
                if len < 2 {
                    stop(self);
                    return Some(Err(Error::Malformed));
                }
                let Some(data) = rest.get(2..len) else {
                    stop(self);
                    return Some(Err(Error::Truncated(Truncated {
                        needed: at + len,
                        got: self.bytes.len(),
                    })));
                };
                self.pos += len;
                Some(Ok(TcpOption {
                    kind,
                    offset: at,
                    data,
                }))
            }
        }
    }
}

/// What [`clamp_mss`] found and did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MssClamp {
    /// The MSS was above the limit and is now the limit.
    Lowered {
        /// The value before.
        from: u16,
        /// The value now (the limit).
        to: u16,
    },
    /// The MSS (this value) was at or below the limit: nothing changed.
    Kept(u16),
    /// The options hold no MSS option before their end (or before a malformed option).
    Absent,
    /// An option before any MSS option is malformed, or the header itself is (data offset
    /// below 5, or beyond the bytes given): nothing changed.
    Malformed,
}

/// Lowers the MSS option(s) of a TCP header to `max` where they are above it, never raising
/// one, and updates the checksum incrementally (RFC 1624) when `fix_checksum` (false for a
/// checksum the hardware or kernel will finish, whose field holds only the pseudo-header sum:
/// the final sum covers the new bytes by itself).
///
/// `header` starts at the TCP header and holds at least its data offset × 4 bytes. The options
/// are walked as [`Options`] walks them; every well-formed MSS option (length 4) before the
/// walk ends is clamped (a receiver takes the last one it reads, so a duplicate must not slip
/// through); a malformed MSS option (another length) is skipped, as receivers skip it. Bytes
/// after a malformed option are never written. The flags are not looked at: the caller
/// decides which segments to clamp (SYNs).
pub fn clamp_mss(header: &mut [u8], max: u16, fix_checksum: bool) -> MssClamp {
    let Ok((h, _)) = TcpHdr::parse(header) else {
        return MssClamp::Malformed;
    };
    let hl = h.header_len();
    if hl < TcpHdr::LEN || header.len() < hl {
        return MssClamp::Malformed;
    }
    // Walk a copy (at most 40 bytes), so the walker's borrow does not stop the writes.
    let mut copy = [0u8; MAX_OPTIONS_LEN];
    let n = hl - TcpHdr::LEN;
    copy[..n].copy_from_slice(&header[TcpHdr::LEN..hl]);
    let mut csum = u16::from_be_bytes([
        header[TcpHdr::CHECKSUM_OFFSET],
        header[TcpHdr::CHECKSUM_OFFSET + 1],
    ]);
    let mut out = MssClamp::Absent;
    for o in Options::new(&copy[..n]) {
        let o = match o {
            Ok(o) => o,
            Err(_) if out == MssClamp::Absent => return MssClamp::Malformed,
            // What a receiver read before the broken option stands, so does the clamp.
            Err(_) => break,
        };
        if o.kind != opt::MSS || o.data.len() != MSS_OPTION_LEN - 2 {
            continue;
        }
        let old = u16::from_be_bytes([o.data[0], o.data[1]]);
        if old <= max {
            if !matches!(out, MssClamp::Lowered { .. }) {
                out = MssClamp::Kept(old);
            }
            continue;
        }
        let at = TcpHdr::LEN + o.offset + 2;
        header[at..at + 2].copy_from_slice(&max.to_be_bytes());
        // The checksum sums 16-bit words from the header's (even) start: a value at an odd
        // offset straddles two words, and adds to the sum byte-swapped.
        csum = if at & 1 == 0 {
            update_u16(csum, old, max)
        } else {
            update_u16(csum, old.swap_bytes(), max.swap_bytes())
        };
        if !matches!(out, MssClamp::Lowered { .. }) {
            out = MssClamp::Lowered { from: old, to: max };
        }
    }
    if fix_checksum && matches!(out, MssClamp::Lowered { .. }) {
        header[TcpHdr::CHECKSUM_OFFSET..TcpHdr::CHECKSUM_OFFSET + 2]
            .copy_from_slice(&csum.to_be_bytes());
    }
    out
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

    use crate::checksum::udp_tcp_checksum_ip4;
    use core::net::Ipv4Addr;
    use std::vec::Vec;

    const A: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
    const B: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 7);

    /// A SYN with `options` (padded with EOL to a multiple of 4) and 3 payload bytes, its
    /// checksum filled for A -> B.
    fn syn(options: &[u8]) -> Vec<u8> {
        let mut o = options.to_vec();
        while o.len() & 3 != 0 {
            o.push(opt::EOL);
        }
        let mut s = HDR.to_vec();
        s[12] = ((5 + o.len() / 4) as u8) << 4;
        s.extend_from_slice(&o);
        s.extend_from_slice(&[0xde, 0xad, 0xbe]);
        fill(&mut s);
        s
    }

    fn fill(s: &mut [u8]) {
        s[16..18].fill(0);
        let c = udp_tcp_checksum_ip4(A, B, 6, s);
        s[16..18].copy_from_slice(&c.to_be_bytes());
    }

    /// The checksum over the segment with its field in place is right.
    fn valid(s: &[u8]) -> bool {
        udp_tcp_checksum_ip4(A, B, 6, s) == 0
    }

    fn kinds(o: &[u8]) -> Vec<Result<(u8, usize, usize), Error>> {
        Options::new(o)
            .map(|r| r.map(|o| (o.kind, o.offset, o.data.len())))
            .collect()
    }

    const LINUX_SYN: [u8; 20] = [
        2, 4, 0x05, 0xb4, // MSS 1460
        4, 2, // SACK permitted
        8, 10, 0, 0, 0, 1, 0, 0, 0, 0, // timestamps
        1, // NOP
        3, 3, 7, // window scale 7
    ];

    #[test]
    fn walks_a_linux_syn() {
        assert_eq!(
            kinds(&LINUX_SYN),
            [
                Ok((opt::MSS, 0, 2)),
                Ok((opt::SACK_PERMITTED, 4, 0)),
                Ok((opt::TIMESTAMPS, 6, 8)),
                Ok((opt::NOP, 16, 0)),
                Ok((opt::WINDOW_SCALE, 17, 1)),
            ]
        );
        let first = Options::new(&LINUX_SYN).next().unwrap().unwrap();
        assert_eq!(first.data, &[0x05, 0xb4]);
    }

    #[test]
    fn eol_ends_the_walk() {
        assert_eq!(kinds(&[1, 0, 2, 4, 5, 0xb4]), [Ok((opt::NOP, 0, 0))]);
        assert_eq!(kinds(&[]), []);
    }

    #[test]
    fn malformed_options_end_the_walk_with_one_error() {
        // Length 0 and 1 (would loop or overlap the kind byte).
        assert_eq!(kinds(&[1, 30, 0, 2, 4, 5, 0xb4])[1], Err(Error::Malformed));
        assert_eq!(kinds(&[30, 1, 2, 4, 5, 0xb4]), [Err(Error::Malformed)]);
        // Length byte missing.
        assert_eq!(
            kinds(&[1, 2]),
            [
                Ok((opt::NOP, 0, 0)),
                Err(Error::Truncated(Truncated { needed: 3, got: 2 }))
            ]
        );
        // Running past the end.
        assert_eq!(
            kinds(&[2, 4, 5, 0xb4, 8, 10, 0, 0]),
            [
                Ok((opt::MSS, 0, 2)),
                Err(Error::Truncated(Truncated { needed: 14, got: 8 }))
            ]
        );
    }

    #[test]
    fn clamps_and_keeps_the_checksum_valid() {
        let mut s = syn(&LINUX_SYN);
        assert!(valid(&s));
        let before = s.clone();
        assert_eq!(
            clamp_mss(&mut s, 1400, true),
            MssClamp::Lowered {
                from: 1460,
                to: 1400
            }
        );
        assert_eq!(&s[22..24], &1400u16.to_be_bytes());
        assert!(valid(&s));
        // Only the value and the checksum changed.
        let changed: Vec<usize> = (0..s.len()).filter(|&i| s[i] != before[i]).collect();
        assert!(
            changed.iter().all(|i| [16, 17, 22, 23].contains(i)),
            "{changed:?}"
        );
        // Again: now at the limit, kept; never raised.
        let now = s.clone();
        assert_eq!(clamp_mss(&mut s, 1400, true), MssClamp::Kept(1400));
        assert_eq!(clamp_mss(&mut s, 9000, true), MssClamp::Kept(1400));
        assert_eq!(s, now);
    }

    #[test]
    fn an_mss_at_an_odd_offset_updates_the_checksum_byte_swapped() {
        // NOP first: the value sits at header bytes 23..25, across two checksum words.
        for mss in [1460u16, 0xffff, 0x0101, 0x8000, 0x00ff] {
            let mut s = syn(&[1, 2, 4, (mss >> 8) as u8, mss as u8]);
            assert_eq!(
                clamp_mss(&mut s, 0x00fe, true),
                MssClamp::Lowered {
                    from: mss,
                    to: 0xfe
                }
            );
            assert_eq!(&s[23..25], &[0, 0xfe]);
            assert!(valid(&s), "mss {mss:#x}");
        }
    }

    #[test]
    fn every_mss_option_is_clamped() {
        let mut s = syn(&[2, 4, 0x05, 0xb4, 1, 2, 4, 0x23, 0x28]);
        assert_eq!(
            clamp_mss(&mut s, 1200, true),
            MssClamp::Lowered {
                from: 1460,
                to: 1200
            }
        );
        assert_eq!((&s[22..24], &s[27..29]), (&[4, 0xb0][..], &[4, 0xb0][..]));
        assert!(valid(&s));
        // A small one first, a big one after.
        let mut s = syn(&[2, 4, 0x01, 0x00, 2, 4, 0x23, 0x28]);
        assert_eq!(
            clamp_mss(&mut s, 1200, true),
            MssClamp::Lowered {
                from: 9000,
                to: 1200
            }
        );
        assert_eq!(&s[26..28], &[4, 0xb0]);
        assert!(valid(&s));
    }

    #[test]
    fn absent_and_malformed_leave_the_bytes_alone() {
        for (opts, want) in [
            (&[][..], MssClamp::Absent),
            (&[1, 1, 4, 2][..], MssClamp::Absent),
            // EOL before the MSS: not an option any more.
            (&[0, 0, 0, 0, 2, 4, 0x05, 0xb4][..], MssClamp::Absent),
            // MSS with the wrong length: receivers skip it.
            (&[2, 3, 0x05, 1, 1, 1][..], MssClamp::Absent),
            (&[2, 5, 0x05, 0xb4, 0][..], MssClamp::Absent),
            (&[2, 2, 1, 1][..], MssClamp::Absent),
            // Malformed before the MSS: length 0, 1, past the end, length byte missing.
            (&[30, 0, 2, 4, 0x05, 0xb4][..], MssClamp::Malformed),
            (&[30, 1, 2, 4, 0x05, 0xb4][..], MssClamp::Malformed),
            (&[1, 30, 40, 2, 4, 0x05, 0xb4][..], MssClamp::Malformed),
            (&[1, 1, 1, 30][..], MssClamp::Malformed),
            // The MSS option itself runs past the options.
            (&[1, 1, 1, 1, 1, 2, 4, 0x05][..], MssClamp::Malformed),
        ] {
            let mut s = syn(opts);
            let before = s.clone();
            assert_eq!(clamp_mss(&mut s, 536, true), want, "{opts:?}");
            assert_eq!(s, before, "{opts:?}");
        }
    }

    #[test]
    fn what_a_receiver_read_before_a_malformed_option_is_clamped() {
        let mut s = syn(&[2, 4, 0x05, 0xb4, 30, 0, 2, 4, 0x23, 0x28]);
        let before = s.clone();
        assert_eq!(
            clamp_mss(&mut s, 1000, true),
            MssClamp::Lowered {
                from: 1460,
                to: 1000
            }
        );
        assert!(valid(&s));
        // The MSS-looking bytes after the broken option are not an option: untouched.
        assert_eq!(&s[26..30], &before[26..30]);
    }

    #[test]
    fn a_bad_data_offset_is_malformed() {
        let mut s = syn(&LINUX_SYN);
        for doff in [0u8, 1, 4] {
            let mut t = s.clone();
            t[12] = doff << 4;
            let before = t.clone();
            assert_eq!(clamp_mss(&mut t, 1000, true), MssClamp::Malformed);
            assert_eq!(t, before);
        }
        // Data offset beyond the bytes given.
        let hl = HDR.len() + LINUX_SYN.len();
        assert_eq!(clamp_mss(&mut s[..hl - 1], 1000, true), MssClamp::Malformed);
        assert_eq!(clamp_mss(&mut s[..19], 1000, true), MssClamp::Malformed);
    }

    #[test]
    fn a_partial_checksum_is_left_to_whoever_finishes_it() {
        let mut s = syn(&LINUX_SYN);
        s[16..18].copy_from_slice(&[0x12, 0x34]);
        assert!(matches!(
            clamp_mss(&mut s, 1000, false),
            MssClamp::Lowered { .. }
        ));
        assert_eq!(&s[16..18], &[0x12, 0x34]);
        assert_eq!(&s[22..24], &1000u16.to_be_bytes());
    }

    proptest! {
        #![proptest_config(crate::proptest_config())]

        /// Arbitrary option bytes: the walk ends, every item lies inside the bytes and the
        /// items come in order; an error is the last item.
        #[test]
        fn walker_is_total(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut next = 0usize;
            let mut n = 0usize;
            let mut errored = false;
            for o in Options::new(&bytes) {
                prop_assert!(!errored, "an item after an error");
                n += 1;
                prop_assert!(n <= bytes.len());
                match o {
                    Ok(o) => {
                        prop_assert!(o.offset >= next);
                        let end = o.offset + if o.kind == opt::NOP { 1 } else { 2 + o.data.len() };
                        prop_assert!(end <= bytes.len());
                        next = end;
                    }
                    Err(_) => errored = true,
                }
            }
        }

        /// Arbitrary options, data offset and limit: a valid checksum stays valid, and the
        /// bytes change as a simple model says: each well-formed MSS value the walk reaches
        /// becomes min(value, limit), unless an option before the first MSS is broken; no
        /// other byte but the checksum changes.
        #[test]
        fn clamp_is_safe(
            opts in proptest::collection::vec(
                prop_oneof![Just(2u8), Just(4u8), Just(1u8), Just(0u8), any::<u8>()],
                0..=40,
            ),
            max: u16,
            doff in 0u8..16,
        ) {
            let mut s = syn(&opts);
            if doff != 0 {
                s[12] = doff << 4;
                fill(&mut s);
            }
            let before = s.clone();
            let got = clamp_mss(&mut s, max, true);
            prop_assert!(valid(&s));
            let hl = usize::from(s[12] >> 4) * 4;
            let mut want = before.clone();
            if (20..=before.len()).contains(&hl) {
                let mut seen_mss = false;
                for o in Options::new(&before[20..hl]) {
                    match o {
                        Ok(o) if o.kind == opt::MSS && o.data.len() == 2 => {
                            seen_mss = true;
                            let v = u16::from_be_bytes([o.data[0], o.data[1]]).min(max);
                            let at = 20 + o.offset + 2;
                            want[at..at + 2].copy_from_slice(&v.to_be_bytes());
                        }
                        Ok(_) => {}
                        Err(_) => {
                            if !seen_mss {
                                want = before.clone();
                                prop_assert_eq!(got, MssClamp::Malformed);
                            }
                            break;
                        }
                    }
                }
            } else {
                prop_assert_eq!(got, MssClamp::Malformed);
            }
            want[16..18].copy_from_slice(&s[16..18]);
            prop_assert_eq!(&s, &want);
            let lowered = matches!(got, MssClamp::Lowered { .. });
            prop_assert_eq!(lowered, want != before);
            if !lowered {
                prop_assert_eq!(&s[16..18], &before[16..18]);
            }
        }
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
