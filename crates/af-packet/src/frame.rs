//! Frame helpers for what the kernel hands us half-done: a stripped VLAN
//! tag and an unfinished (CHECKSUM_PARTIAL) L4 checksum.

use crate::rx::{PartialCsum, Vlan};

/// Copies `frame` into `dst` with `vlan` re-inserted after the two MAC
/// addresses (bytes 12..16 become TPID, TCI). Returns the new length, or
/// `None` if `frame` is shorter than 12 bytes or `dst` is too small.
pub fn insert_vlan(frame: &[u8], vlan: Vlan, dst: &mut [u8]) -> Option<usize> {
    let len = frame.len().checked_add(4)?;
    if frame.len() < 12 || dst.len() < len {
        return None;
    }
    dst[..12].copy_from_slice(&frame[..12]);
    dst[12..14].copy_from_slice(&vlan.tpid.to_be_bytes());
    dst[14..16].copy_from_slice(&vlan.tci.to_be_bytes());
    dst[16..len].copy_from_slice(&frame[12..]);
    Some(len)
}

/// 16-bit one's-complement sum of `data` (big-endian words, odd byte padded
/// with zero), not folded.
fn ones_sum(data: &[u8]) -> u64 {
    let mut sum = 0u64;
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        sum += u64::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        sum += u64::from(*last) << 8;
    }
    sum
}

fn fold(mut sum: u64) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

/// Finishes a CHECKSUM_PARTIAL L4 checksum in place, as the kernel's
/// `skb_checksum_help` would: the field at `start + offset` already holds
/// the pseudo-header sum, so the checksum is the complement of the sum over
/// `frame[start..]`. A zero result is written as 0xffff (required for UDP,
/// equivalent for TCP).
///
/// `frame` must end where the L4 payload ends (no Ethernet padding);
/// frames with `TP_STATUS_CSUMNOTREADY` come from the local stack and are
/// never padded. Returns false (and changes nothing) if the offsets do not
/// fit in `frame`.
///
/// Without the virtio-net header ([`Caps::vnet_hdr`](crate::Caps) false)
/// the caller has to find `start`/`offset` from the IP header itself.
pub fn finish_partial_csum(frame: &mut [u8], csum: PartialCsum) -> bool {
    let start = usize::from(csum.start);
    let field = start + usize::from(csum.offset);
    if field + 2 > frame.len() {
        return false;
    }
    let c = !fold(ones_sum(&frame[start..]));
    let c = if c == 0 { 0xffff } else { c };
    frame[field..field + 2].copy_from_slice(&c.to_be_bytes());
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vlan_roundtrip() {
        let frame: Vec<u8> = (0u8..64).collect();
        let mut out = [0u8; 80];
        let v = Vlan {
            tpid: 0x8100,
            tci: 0x2064,
        };
        let n = insert_vlan(&frame, v, &mut out).unwrap();
        assert_eq!(n, 68);
        assert_eq!(&out[..12], &frame[..12]);
        assert_eq!(&out[12..16], &[0x81, 0x00, 0x20, 0x64]);
        assert_eq!(&out[16..68], &frame[12..]);
        assert_eq!(v.vid(), 0x064);
        assert!(insert_vlan(&frame, v, &mut out[..67]).is_none());
        assert!(insert_vlan(&frame[..11], v, &mut out).is_none());
    }

    /// IPv4/UDP frame whose checksum field holds the pseudo-header sum,
    /// as the stack leaves it with CHECKSUM_PARTIAL.
    fn partial_udp(payload: &[u8]) -> (Vec<u8>, u16) {
        let mut f = vec![0u8; 14 + 20 + 8];
        f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
        let ip = &mut f[14..34];
        ip[0] = 0x45;
        let tot = u16::try_from(20 + 8 + payload.len()).unwrap();
        ip[2..4].copy_from_slice(&tot.to_be_bytes());
        ip[8] = 64;
        ip[9] = 17;
        ip[12..16].copy_from_slice(&[198, 18, 0, 1]);
        ip[16..20].copy_from_slice(&[198, 18, 0, 2]);
        let ulen = u16::try_from(8 + payload.len()).unwrap();
        f[34..36].copy_from_slice(&4000u16.to_be_bytes());
        f[36..38].copy_from_slice(&5000u16.to_be_bytes());
        f[38..40].copy_from_slice(&ulen.to_be_bytes());
        f.extend_from_slice(payload);
        let pseudo = ones_sum(&[198, 18, 0, 1, 198, 18, 0, 2, 0, 17]) + u64::from(ulen);
        let p = fold(pseudo);
        f[40..42].copy_from_slice(&p.to_be_bytes());
        // Reference: full checksum computed from scratch.
        let mut whole = f[34..].to_vec();
        whole[6] = 0;
        whole[7] = 0;
        let r = !fold(pseudo + ones_sum(&whole));
        (f, if r == 0 { 0xffff } else { r })
    }

    #[test]
    fn finish_csum_matches_reference() {
        for len in [0usize, 1, 2, 17, 100, 1001] {
            let payload: Vec<u8> = (0..len).map(|i| (i * 31 + 7) as u8).collect();
            let (mut f, want) = partial_udp(&payload);
            assert!(finish_partial_csum(
                &mut f,
                PartialCsum {
                    start: 34,
                    offset: 6
                }
            ));
            assert_eq!(u16::from_be_bytes([f[40], f[41]]), want, "len {len}");
            // And the receiver's check: sum over pseudo + segment folds to 0xffff.
            let ulen = u64::try_from(f.len() - 34).unwrap();
            let pseudo = ones_sum(&[198, 18, 0, 1, 198, 18, 0, 2, 0, 17]) + ulen;
            assert_eq!(fold(pseudo + ones_sum(&f[34..])), 0xffff);
        }
    }

    #[test]
    fn finish_csum_bounds() {
        let mut f = [0u8; 40];
        assert!(!finish_partial_csum(
            &mut f,
            PartialCsum {
                start: 34,
                offset: 6
            }
        ));
        assert_eq!(f, [0u8; 40]);
    }
}
