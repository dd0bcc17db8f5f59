//! Packet builders, a test fragmenter and a checked driver for the reassembly tests.
#![allow(dead_code)]

use pwire_reass::{Counters, Frag, Key, Outcome, Reason, Reassembler};
use pwire_wire::checksum::internet_checksum;

pub const SRC4: [u8; 4] = [192, 0, 2, 1];
pub const DST4: [u8; 4] = [192, 0, 2, 2];
pub const SRC6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
pub const DST6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
/// L2TPv3 over IP.
pub const PROTO: u8 = 115;
pub const MS: u64 = 1_000_000;

/// xorshift64*, seeded: reproducible orders and payloads without a rand dependency.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            v.swap(i, self.below(i + 1));
        }
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// An unfragmented IPv4 packet (flags and offset 0, checksum valid).
pub fn ip4_packet(id: u16, options: &[u8], payload: &[u8]) -> Vec<u8> {
    assert_eq!(options.len() % 4, 0);
    let hl = 20 + options.len();
    let mut p = vec![0u8; hl];
    p[0] = 0x40 | (hl / 4) as u8;
    p[2..4].copy_from_slice(&((hl + payload.len()) as u16).to_be_bytes());
    p[4..6].copy_from_slice(&id.to_be_bytes());
    p[8] = 64;
    p[9] = PROTO;
    p[12..16].copy_from_slice(&SRC4);
    p[16..20].copy_from_slice(&DST4);
    p[20..].copy_from_slice(options);
    let c = internet_checksum(&p);
    p[10..12].copy_from_slice(&c.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

/// Fragments an IPv4 packet at the payload offsets `cuts` (multiples of 8, increasing).
pub fn frag4(pkt: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let hl = usize::from(pkt[0] & 0xf) * 4;
    let payload = &pkt[hl..];
    let mut bounds = vec![0];
    bounds.extend_from_slice(cuts);
    bounds.push(payload.len());
    bounds
        .windows(2)
        .map(|w| {
            let (a, b) = (w[0], w[1]);
            assert_eq!(a % 8, 0);
            let mut f = pkt[..hl].to_vec();
            f[2..4].copy_from_slice(&((hl + b - a) as u16).to_be_bytes());
            let mf = if b < payload.len() { 0x2000 } else { 0 };
            f[6..8].copy_from_slice(&((a / 8) as u16 | mf).to_be_bytes());
            f[10..12].fill(0);
            let c = internet_checksum(&f);
            f[10..12].copy_from_slice(&c.to_be_bytes());
            f.extend_from_slice(&payload[a..b]);
            f
        })
        .collect()
}

/// An IPv6 packet: fixed header, then `ext` (complete extension headers whose chain ends in
/// `PROTO`; the caller sets their next headers), then `payload`.
pub fn ip6_packet(first_nh: u8, ext: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0u8; 40];
    p[0] = 0x60;
    p[4..6].copy_from_slice(&((ext.len() + payload.len()) as u16).to_be_bytes());
    p[6] = first_nh;
    p[7] = 64;
    p[8..24].copy_from_slice(&SRC6);
    p[24..40].copy_from_slice(&DST6);
    p.extend_from_slice(ext);
    p.extend_from_slice(payload);
    p
}

/// A hop-by-hop options header of 8 bytes (PadN) naming `nh`.
pub fn hbh(nh: u8) -> Vec<u8> {
    vec![nh, 0, 1, 4, 0, 0, 0, 0]
}

/// Fragments an IPv6 packet whose unfragmentable part is its first `unfrag` bytes, and whose
/// last unfragmentable Next Header byte sits at `nh_at`, at the offsets `cuts`.
pub fn frag6(pkt: &[u8], unfrag: usize, nh_at: usize, id: u32, cuts: &[usize]) -> Vec<Vec<u8>> {
    let payload = &pkt[unfrag..];
    let mut bounds = vec![0];
    bounds.extend_from_slice(cuts);
    bounds.push(payload.len());
    bounds
        .windows(2)
        .map(|w| {
            let (a, b) = (w[0], w[1]);
            assert_eq!(a % 8, 0);
            let mut f = pkt[..unfrag].to_vec();
            let nh = f[nh_at];
            f[nh_at] = 44;
            f[4..6].copy_from_slice(&((unfrag - 40 + 8 + b - a) as u16).to_be_bytes());
            let m = u16::from(b < payload.len());
            f.push(nh);
            f.push(0);
            f.extend_from_slice(&((a as u16) | m).to_be_bytes());
            f.extend_from_slice(&id.to_be_bytes());
            f.extend_from_slice(&payload[a..b]);
            f
        })
        .collect()
}

/// Cuts for `len` payload bytes into pieces of `step` (a multiple of 8).
pub fn even_cuts(len: usize, step: usize) -> Vec<usize> {
    (1..).map(|i| i * step).take_while(|&c| c < len).collect()
}

/// What a call gave back, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Got {
    Held,
    Atomic,
    Complete(Vec<u8>),
    Dropped(Reason),
}

fn check_invariants(r: &Reassembler) {
    let c: &Counters = r.counters();
    assert_eq!(
        c.fragments,
        c.atomic + c.stored + c.dropped_total(),
        "every fragment counted once: {c:?}"
    );
    let u = r.usage();
    assert!(u.datagrams() <= r.config().max_datagrams, "{u:?}");
    assert!(u.bytes() <= r.config().max_bytes, "{u:?}");
}

/// Feeds one fragment and checks the accounting invariants.
pub fn feed(r: &mut Reassembler, now: u64, key: Key, frag: Frag<'_>) -> Got {
    let got = match r.fragment(now, key, frag) {
        Outcome::Held => Got::Held,
        Outcome::Atomic => Got::Atomic,
        Outcome::Dropped(why) => Got::Dropped(why),
        Outcome::Complete(d) => {
            let mut out = vec![0u8; d.len()];
            assert_eq!(d.copy_to(&mut out), Some(d.len()));
            let gathered: Vec<u8> = d.pieces().flatten().copied().collect();
            assert_eq!(gathered, out, "pieces and copy_to agree");
            assert!(d.copy_to(&mut vec![0u8; d.len() - 1]).is_none());
            Got::Complete(out)
        }
    };
    check_invariants(r);
    got
}

/// Feeds a whole packet through `split`.
pub fn feed_pkt(r: &mut Reassembler, now: u64, pkt: &[u8]) -> Got {
    let (key, frag) = match pkt[0] >> 4 {
        4 => pwire_reass::split_ip4(pkt),
        _ => pwire_reass::split_ip6(pkt),
    }
    .expect("a fragment");
    feed(r, now, key, frag)
}

pub fn key4(id: u16) -> Key {
    Key::v4(SRC4, DST4, id, PROTO)
}

pub fn key6(id: u32) -> Key {
    Key::v6(SRC6, DST6, id, PROTO)
}

/// A minimal IPv4 header for `key4(id)`, for fragments built by hand.
pub fn hdr4(id: u16) -> Vec<u8> {
    ip4_packet(id, &[], &[])
}

/// A raw fragment of `key4`'s datagram with `len` bytes derived from positions (so any two
/// fragments agree on the bytes they share), or `salt`ed to disagree.
pub fn payload_at(start: usize, len: usize, salt: u8) -> Vec<u8> {
    (start..start + len)
        .map(|p| (p as u8).wrapping_mul(31) ^ salt)
        .collect()
}
