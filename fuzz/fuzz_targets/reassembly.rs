//! The reassembly core (pwire-reass) over arbitrary fragment sequences: eight datagram keys
//! (four IPv4, four IPv6), any offsets up to the 65535 limit, any lengths and M flags, good
//! and bad first-fragment headers, bytes that agree or disagree with each other, a clock that
//! moves, expiry walks, and caps small enough to bind (chosen by the first four bytes).
//!
//! Checked after every call: no panic; every fragment counted exactly once (atomic, stored or
//! dropped by a reason); the datagram and byte caps hold; the table's memory never grows; a
//! completed datagram's payload is the right bytes whenever no disagreeing fragment was ever
//! sent for its key; and at the end an expiry past every timeout leaves the table empty.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pwire_reass::{Config, Family, Frag, Key, Outcome, Reassembler, CHUNK};
use std::time::Duration;

/// Payload byte at datagram position `p` of key `k`: fragments of one key agree unless salted.
fn byte(k: usize, p: usize) -> u8 {
    (p as u8).wrapping_mul(31) ^ (k as u8).wrapping_mul(101)
}

fn key(k: usize) -> Key {
    let id = 0x100 + k as u16;
    if k < 4 {
        Key::v4([192, 0, 2, 1], [192, 0, 2, 2], id, 115)
    } else {
        let mut src = [0u8; 16];
        src[..2].copy_from_slice(&[0x20, 0x01]);
        src[15] = 1;
        let mut dst = src;
        dst[15] = 2;
        Key::v6(src, dst, u32::from(id), 115)
    }
}

/// A first-fragment header for `k`: `variant` 0 is the plain one, 1 a longer valid one
/// (IPv4 options / a hop-by-hop header), 2 and 3 malformed ones.
fn header(k: &Key, variant: u8) -> Vec<u8> {
    match k.family {
        Family::Ip4 => {
            let mut h = vec![0u8; if variant == 1 { 24 } else { 20 }];
            h[0] = 0x40 | (h.len() / 4) as u8;
            h[4..6].copy_from_slice(&(k.id as u16).to_be_bytes());
            h[8] = 64;
            h[9] = k.proto;
            h[12..16].copy_from_slice(&k.src[..4]);
            h[16..20].copy_from_slice(&k.dst[..4]);
            match variant {
                2 => h[0] = 0x46,
                3 => h[9] ^= 1,
                _ => {}
            }
            h
        }
        Family::Ip6 => {
            let mut h = vec![0u8; 40];
            h[0] = 0x60;
            h[6] = 44;
            h[8..24].copy_from_slice(&k.src);
            h[24..40].copy_from_slice(&k.dst);
            match variant {
                1 => {
                    h[6] = 0;
                    h.extend_from_slice(&[44, 0, 1, 4, 0, 0, 0, 0]);
                }
                2 => h[6] = 17,
                3 => h.truncate(39),
                _ => {}
            }
            h
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((caps, mut ops)) = data.split_first_chunk::<4>() else {
        return;
    };
    let cfg = Config {
        max_datagrams: 1 + u32::from(caps[0] % 8),
        max_fragments: 1 + u16::from(caps[1] % 8),
        max_bytes: (1 + usize::from(caps[2] % 48)) * CHUNK,
        max_header: 60 + u16::from(caps[3] % 4) * 8,
        timeout_ip4: Duration::from_millis(10),
        timeout_ip6: Duration::from_millis(20),
        linger: Duration::from_millis(5),
        min_first_payload: u16::from(caps[3] >> 4),
    };
    let mut r = Reassembler::new(cfg.clone()).expect("valid config");
    let footprint = r.footprint();
    let mut salted = [false; 8];
    let mut payload = Vec::with_capacity(70_000);
    let mut now = 0u64;
    while let Some((op, rest)) = ops.split_first_chunk::<6>() {
        ops = rest;
        let [sel, a, b, len, dt, flags] = *op;
        now += u64::from(dt) * 100_000;
        if sel & 0xf0 == 0xf0 {
            r.expire(now);
            continue;
        }
        let ki = usize::from(sel % 8);
        let k = key(ki);
        // Mostly small offsets, so that datagrams complete; sometimes anywhere, up to the limit.
        let offset = if flags & 0x80 != 0 {
            u16::from_be_bytes([a, b]) & 0x1fff
        } else {
            u16::from(a % 16)
        };
        let n = if flags & 0x40 != 0 {
            usize::from(len) * 64
        } else {
            usize::from(len)
        };
        let start = usize::from(offset) * 8;
        let salt = flags & 0x02 != 0;
        salted[ki] |= salt;
        payload.clear();
        payload.extend((start..start + n).map(|p| byte(ki, p) ^ u8::from(salt)));
        let h = header(&k, (flags >> 2) & 3);
        let frag = Frag {
            offset,
            more: flags & 0x01 != 0,
            header: &h,
            payload: &payload,
        };
        if let Outcome::Complete(d) = r.fragment(now, k, frag) {
            let mut out = vec![0u8; d.len()];
            assert_eq!(d.copy_to(&mut out), Some(d.len()));
            assert_eq!(d.pieces().map(<[u8]>::len).sum::<usize>(), d.len());
            let hl = d.header_len();
            assert!(hl >= 20 && d.len() <= hl + 65535);
            match k.family {
                Family::Ip4 => {
                    assert_eq!(usize::from(u16::from_be_bytes([out[2], out[3]])), d.len());
                    assert_eq!(out[6..8], [0, 0]);
                }
                Family::Ip6 => {
                    assert_eq!(
                        usize::from(u16::from_be_bytes([out[4], out[5]])),
                        d.len() - 40
                    );
                }
            }
            if !salted[ki] {
                assert!(out[hl..].iter().enumerate().all(|(p, &x)| x == byte(ki, p)));
            }
        }
        let c = r.counters();
        assert_eq!(c.fragments, c.atomic + c.stored + c.dropped_total());
        let u = r.usage();
        assert!(u.datagrams() <= cfg.max_datagrams);
        assert!(u.bytes() <= cfg.max_bytes);
        assert_eq!(r.footprint(), footprint);
    }
    r.expire(now + 1_000_000_000);
    let u = r.usage();
    assert_eq!((u.datagrams(), u.chunks), (0, 0));
});
