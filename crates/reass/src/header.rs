//! The few header bytes the core reads and rewrites, and splitting a packet into `Key` + `Frag`.

use crate::{Family, Frag, Key, IP6_HEADER, MAX_OFFSET};
use pwire_wire::checksum::ipv4_header_checksum;

const FRAGMENT: u8 = 44;
const MF: u16 = 0x2000;

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

/// Extension headers that may sit in IPv6's unfragmentable part (RFC 8200 §4.5): hop-by-hop,
/// routing, destination options; all with the (next header, 8-octet length) layout.
fn unfragmentable(nh: u8) -> bool {
    matches!(nh, 0 | 43 | 60)
}

/// Checks the first fragment's `header` against `key`; for IPv6 returns the offset of the Next
/// Header byte that names the Fragment header (0 for IPv4).
pub(crate) fn check(key: &Key, h: &[u8]) -> Option<u16> {
    match key.family {
        Family::Ip4 => {
            let ok = (20..=60).contains(&h.len())
                && h[0] >> 4 == 4
                && usize::from(h[0] & 0xf) * 4 == h.len()
                && h[9] == key.proto
                && u32::from(be16(h, 4)) == key.id
                && h[12..16] == key.src[..4]
                && h[16..20] == key.dst[..4];
            ok.then_some(0)
        }
        Family::Ip6 => {
            if h.len() < IP6_HEADER || h[0] >> 4 != 6 || h[8..24] != key.src || h[24..40] != key.dst
            {
                return None;
            }
            let (mut nh, mut nh_at, mut pos) = (h[6], 6, IP6_HEADER);
            while pos < h.len() {
                if !unfragmentable(nh) || pos + 2 > h.len() {
                    return None;
                }
                nh_at = pos;
                nh = h[pos];
                pos += (usize::from(h[pos + 1]) + 1) * 8;
            }
            (pos == h.len() && nh == FRAGMENT).then_some(nh_at as u16)
        }
    }
}

/// Makes a reassembled IPv4 header whole: total length, no fragment fields, checksum.
pub(crate) fn fix_ip4(h: &mut [u8], total_len: usize) {
    h[2..4].copy_from_slice(&(total_len as u16).to_be_bytes());
    h[6..8].fill(0);
    h[10..12].fill(0);
    let c = ipv4_header_checksum(h);
    h[10..12].copy_from_slice(&c.to_be_bytes());
}

/// Splits an IPv4 packet (from its IP header on) into its reassembly key and fragment. `None`
/// if it is not a fragment (offset 0 and MF clear) or its header or lengths are not sound. The
/// payload ends at the total length, so link-layer padding is left out.
pub fn split_ip4(pkt: &[u8]) -> Option<(Key, Frag<'_>)> {
    if pkt.len() < 20 || pkt[0] >> 4 != 4 {
        return None;
    }
    let hl = usize::from(pkt[0] & 0xf) * 4;
    let total = usize::from(be16(pkt, 2));
    if hl < 20 || total < hl || total > pkt.len() {
        return None;
    }
    let fo = be16(pkt, 6);
    let (offset, more) = (fo & MAX_OFFSET, fo & MF != 0);
    if offset == 0 && !more {
        return None;
    }
    let key = Key::v4(
        pkt[12..16].try_into().ok()?,
        pkt[16..20].try_into().ok()?,
        be16(pkt, 4),
        pkt[9],
    );
    let frag = Frag {
        offset,
        more,
        header: &pkt[..hl],
        payload: &pkt[hl..total],
    };
    Some((key, frag))
}

/// Splits an IPv6 packet (from its IP header on) carrying a Fragment header into its
/// reassembly key and fragment: the header is everything before the Fragment header, the
/// payload everything after it up to the payload length. `None` if there is no Fragment header
/// in the unfragmentable part, or the lengths are not sound. An atomic fragment comes back with
/// offset 0 and `more` clear.
pub fn split_ip6(pkt: &[u8]) -> Option<(Key, Frag<'_>)> {
    if pkt.len() < IP6_HEADER || pkt[0] >> 4 != 6 {
        return None;
    }
    let end = IP6_HEADER + usize::from(be16(pkt, 4));
    if end > pkt.len() {
        return None;
    }
    let (mut nh, mut pos) = (pkt[6], IP6_HEADER);
    while nh != FRAGMENT {
        if !unfragmentable(nh) || pos + 2 > end {
            return None;
        }
        nh = pkt[pos];
        pos += (usize::from(pkt[pos + 1]) + 1) * 8;
    }
    if pos + 8 > end {
        return None;
    }
    let f = &pkt[pos..pos + 8];
    let om = be16(f, 2);
    let key = Key::v6(
        pkt[8..24].try_into().ok()?,
        pkt[24..40].try_into().ok()?,
        u32::from_be_bytes([f[4], f[5], f[6], f[7]]),
        f[0],
    );
    let frag = Frag {
        offset: om >> 3,
        more: om & 1 != 0,
        header: &pkt[..pos],
        payload: &pkt[pos + 8..end],
    };
    Some((key, frag))
}
