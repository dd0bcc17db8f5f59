//! Property tests: random fragmentations of random payloads reassemble exactly; arbitrary
//! fragment sequences give what a naive reference model gives; tight caps hold under anything.

mod common;

use common::*;
use proptest::prelude::*;
use pwire_reass::{Config, Frag, Key, Reason, Reassembler, CHUNK};
use pwire_wire::checksum::internet_checksum;
use std::collections::HashMap;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any fragmentation (up to 16 pieces) of any payload, fed in any order with any
    /// duplicates, gives back the original packet, once.
    #[test]
    fn random_fragmentations_reassemble(
        v6 in any::<bool>(),
        hbh_ext in any::<bool>(),
        payload in proptest::collection::vec(any::<u8>(), 9..6000),
        cut_seeds in proptest::collection::vec(any::<u16>(), 1..16),
        order_seed in any::<u64>(),
        dups in proptest::collection::vec(any::<u8>(), 0..6),
    ) {
        let mut cuts: Vec<usize> = cut_seeds
            .iter()
            .map(|&c| (usize::from(c) % payload.len()) & !7)
            .filter(|&c| c > 0)
            .collect();
        cuts.sort_unstable();
        cuts.dedup();
        prop_assume!(!cuts.is_empty());
        let (pkt, frags) = if v6 {
            let (pkt, unfrag, nh_at) = if hbh_ext {
                (ip6_packet(0, &hbh(PROTO), &payload), 48, 40)
            } else {
                (ip6_packet(PROTO, &[], &payload), 40, 6)
            };
            let f = frag6(&pkt, unfrag, nh_at, 99, &cuts);
            (pkt, f)
        } else {
            let pkt = ip4_packet(99, &[], &payload);
            let f = frag4(&pkt, &cuts);
            (pkt, f)
        };
        let mut order: Vec<usize> = (0..frags.len()).collect();
        Rng(order_seed | 1).shuffle(&mut order);
        // Duplicates inserted right after their original, before completion.
        let mut seq = Vec::new();
        for (n, &i) in order.iter().enumerate() {
            seq.push(i);
            if n + 1 < order.len() && dups.iter().any(|&d| usize::from(d) % frags.len() == i) {
                seq.push(i);
            }
        }
        let mut r = Reassembler::new(Config::default()).unwrap();
        let mut completes = 0;
        for (n, &i) in seq.iter().enumerate() {
            match feed_pkt(&mut r, 0, &frags[i]) {
                Got::Complete(d) => {
                    prop_assert_eq!(&d, &pkt);
                    prop_assert_eq!(n + 1, seq.len());
                    completes += 1;
                }
                Got::Held | Got::Dropped(Reason::Duplicate) => {}
                other => prop_assert!(false, "unexpected {:?}", other),
            }
        }
        prop_assert_eq!(completes, 1);
        prop_assert_eq!(r.counters().dropped(Reason::Duplicate), (seq.len() - frags.len()) as u64);
    }
}

/// One fragment op: which datagram, where, how long, last or not, and whether its bytes
/// disagree with the other fragments'.
#[derive(Debug, Clone)]
struct Op {
    key: usize,
    offset: u16,
    units: usize,
    tail: usize,
    more: bool,
    bad_len: bool,
    salt: bool,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        // Pieces of a tiling of 40 bytes into five 8-byte-aligned fragments, so that datagrams
        // do complete (with duplicates, reordering and the odd salted copy)...
        3 => (0..6usize, 0..5u16, 0..8usize, prop::bool::weighted(0.05)).prop_map(
            |(key, j, tail, salt)| Op {
                key,
                offset: 2 * j,
                units: 2,
                tail,
                more: j < 4,
                bad_len: false,
                salt,
            }
        ),
        // ... and anything at all.
        1 => any_op(),
    ]
}

fn any_op() -> impl Strategy<Value = Op> {
    (
        0..6usize,
        0..10u16,
        1..5usize,
        0..8usize,
        any::<bool>(),
        prop::bool::weighted(0.05),
        prop::bool::weighted(0.1),
    )
        .prop_map(|(key, offset, units, tail, more, bad_len, salt)| Op {
            key,
            offset,
            units,
            tail,
            more,
            bad_len,
            salt,
        })
}

fn model_key(i: usize) -> Key {
    if i < 3 {
        key4(10 + i as u16)
    } else {
        key6(10 + i as u32)
    }
}

fn model_header(k: &Key) -> Vec<u8> {
    match k.family {
        pwire_reass::Family::Ip4 => hdr4(k.id as u16),
        pwire_reass::Family::Ip6 => ip6_packet(44, &[], &[])[..40].to_vec(),
    }
}

fn op_bytes(o: &Op) -> (usize, Vec<u8>) {
    let start = usize::from(o.offset) * 8;
    let len = if o.bad_len {
        o.units * 8 - 3
    } else if o.more {
        o.units * 8
    } else {
        o.units * 8 - o.tail
    };
    let salt = if o.salt { 0x5a } else { 0 };
    (start, payload_at(start + o.key * 1000, len, salt))
}

#[derive(Debug, Clone)]
enum M {
    Active {
        frags: Vec<(usize, usize, bool, Vec<u8>)>,
        hdr: Option<Vec<u8>>,
    },
    Poisoned,
    Done(Vec<(usize, usize)>),
}

/// The rules, written the naive way: lists, pairwise checks, a coverage count.
struct Model {
    max_fragments: usize,
    min_first: usize,
    state: HashMap<usize, M>,
}

impl Model {
    fn fragment(&mut self, ki: usize, k: &Key, o: &Op) -> Got {
        let (s, bytes) = op_bytes(o);
        let e = s + bytes.len();
        if s == 0 && !o.more {
            return Got::Atomic;
        }
        if bytes.is_empty() || (o.more && bytes.len() % 8 != 0) {
            return Got::Dropped(Reason::BadLength);
        }
        if s == 0 && bytes.len() < self.min_first {
            return Got::Dropped(Reason::TinyFirst);
        }
        let fresh = M::Active {
            frags: vec![],
            hdr: None,
        };
        let st = self.state.entry(ki).or_insert(fresh.clone());
        match st {
            M::Poisoned => return Got::Dropped(Reason::Poisoned),
            M::Done(ranges) => {
                if ranges.contains(&(s, e)) {
                    return Got::Dropped(Reason::AfterCompletion);
                }
                *st = fresh;
            }
            M::Active { .. } => {}
        }
        let M::Active { frags, hdr } = st else {
            unreachable!()
        };
        let total = frags.iter().find(|f| !f.2).map(|f| f.1);
        let consistent = match total {
            Some(t) if o.more => e < t,
            Some(t) => e == t,
            None => o.more || frags.iter().all(|f| f.1 < e),
        };
        if !consistent {
            *st = M::Poisoned;
            return Got::Dropped(Reason::Inconsistent);
        }
        for f in frags.iter() {
            if (f.0, f.1) == (s, e) && f.3 == bytes {
                return Got::Dropped(Reason::Duplicate);
            }
            if s < f.1 && f.0 < e {
                *st = M::Poisoned;
                return Got::Dropped(Reason::Overlap);
            }
        }
        if frags.len() == self.max_fragments {
            *st = M::Poisoned;
            return Got::Dropped(Reason::TooManyFragments);
        }
        frags.push((s, e, o.more, bytes));
        if s == 0 {
            *hdr = Some(model_header(k));
        }
        let total = frags.iter().find(|f| !f.2).map(|f| f.1);
        let (Some(h), Some(t)) = (hdr.as_ref(), total) else {
            return Got::Held;
        };
        let mut covered = vec![false; t];
        let mut data = vec![0u8; t];
        for f in frags.iter() {
            data[f.0..f.1].copy_from_slice(&f.3);
            covered[f.0..f.1].fill(true);
        }
        if covered.contains(&false) {
            return Got::Held;
        }
        let mut out = h.clone();
        match k.family {
            pwire_reass::Family::Ip4 => {
                let n = (out.len() + t) as u16;
                out[2..4].copy_from_slice(&n.to_be_bytes());
                out[6..8].fill(0);
                out[10..12].fill(0);
                let c = internet_checksum(&out);
                out[10..12].copy_from_slice(&c.to_be_bytes());
            }
            pwire_reass::Family::Ip6 => {
                out[4..6].copy_from_slice(&(t as u16).to_be_bytes());
                out[6] = k.proto;
            }
        }
        out.extend_from_slice(&data);
        *st = M::Done(frags.iter().map(|f| (f.0, f.1)).collect());
        Got::Complete(out)
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Arbitrary fragment sequences over six datagrams (overlapping, inconsistent, duplicated,
    /// odd-sized, tiny): the core and the naive model agree on every outcome and every byte.
    #[test]
    fn agrees_with_a_naive_model(ops in proptest::collection::vec(op(), 1..60)) {
        let cfg = Config {
            max_fragments: 5,
            min_first_payload: 16,
            ..Config::default()
        };
        let mut model = Model {
            max_fragments: 5,
            min_first: 16,
            state: HashMap::new(),
        };
        let mut r = Reassembler::new(cfg).unwrap();
        for (n, o) in ops.iter().enumerate() {
            let k = model_key(o.key);
            let h = model_header(&k);
            let (_, bytes) = op_bytes(o);
            let f = Frag { offset: o.offset, more: o.more, header: &h, payload: &bytes };
            let want = model.fragment(o.key, &k, o);
            let got = feed(&mut r, 0, k, f);
            prop_assert_eq!(got, want, "op {} {:?}", n, o);
        }
    }

    /// Tight caps, a moving clock and arbitrary fragments: the caps hold after every call
    /// (checked by `feed`), nothing grows, whatever completes is right, and everything is
    /// released once the clock passes every timeout.
    #[test]
    fn caps_hold_under_anything(
        ops in proptest::collection::vec((op(), 0..3u8, 0..200u64), 1..200),
    ) {
        let cfg = Config {
            max_datagrams: 3,
            max_fragments: 4,
            max_bytes: 6 * CHUNK,
            min_first_payload: 8,
            ..Config::default()
        };
        let mut r = Reassembler::new(cfg.clone()).unwrap();
        let footprint = r.footprint();
        let mut now = 0u64;
        for (o, id_hi, dt) in &ops {
            now += dt * MS / 10;
            if *id_hi == 2 && o.offset % 4 == 3 {
                r.expire(now);
                continue;
            }
            let mut k = model_key(o.key);
            k.id += u32::from(*id_hi) << 8;
            let h = match k.family {
                pwire_reass::Family::Ip4 => hdr4(k.id as u16),
                pwire_reass::Family::Ip6 => model_header(&k),
            };
            // Bytes always agree here, so whatever completes can be checked; large fragments
            // too, so that the byte cap binds.
            let o = &Op { salt: false, ..o.clone() };
            let (start, mut bytes) = op_bytes(o);
            if o.units == 4 && !o.bad_len {
                bytes = payload_at(start + o.key * 1000, 1024 + bytes.len(), 0);
            }
            let f = Frag { offset: o.offset, more: o.more, header: &h, payload: &bytes };
            if let Got::Complete(d) = feed(&mut r, now, k, f) {
                let hl = h.len();
                prop_assert_eq!(&d[hl..], &payload_at(o.key * 1000, d.len() - hl, 0)[..]);
            }
        }
        prop_assert_eq!(r.footprint(), footprint);
        r.expire(now + 10 * 1_000_000_000);
        let u = r.usage();
        prop_assert_eq!(u.datagrams(), 0);
        prop_assert_eq!(u.chunks, 0);
    }
}
