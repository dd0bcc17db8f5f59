//! Reassembly behaviour: orders, duplicates, overlaps, atomic and tiny fragments, lengths,
//! timeouts, caps, and the show output.

mod common;

use common::*;
use pwire_reass::{Config, Frag, Reason, Reassembler, CHUNK};

fn new(cfg: Config) -> Reassembler {
    Reassembler::new(cfg).expect("valid config")
}

fn default() -> Reassembler {
    new(Config::default())
}

/// Feeds `frags` in `order`, expecting Held for all but the last, which completes to `want`.
fn expect_complete(r: &mut Reassembler, now: u64, frags: &[Vec<u8>], order: &[usize], want: &[u8]) {
    for (n, &i) in order.iter().enumerate() {
        let got = feed_pkt(r, now, &frags[i]);
        if n + 1 < order.len() {
            assert_eq!(got, Got::Held, "fragment {i} (#{n})");
        } else {
            assert_eq!(got, Got::Complete(want.to_vec()), "last fragment {i}");
        }
    }
}

fn v4_case(rng: &mut Rng, len: usize, step: usize) -> (Vec<u8>, Vec<Vec<u8>>) {
    let payload = rng.bytes(len);
    let pkt = ip4_packet(0x1234, &[], &payload);
    let frags = frag4(&pkt, &even_cuts(len, step));
    (pkt, frags)
}

fn v6_case(rng: &mut Rng, len: usize, step: usize, with_hbh: bool) -> (Vec<u8>, Vec<Vec<u8>>) {
    let payload = rng.bytes(len);
    let (pkt, unfrag, nh_at) = if with_hbh {
        (ip6_packet(0, &hbh(PROTO), &payload), 48, 40)
    } else {
        (ip6_packet(PROTO, &[], &payload), 40, 6)
    };
    let frags = frag6(&pkt, unfrag, nh_at, 0xdead_beef, &even_cuts(len, step));
    (pkt, frags)
}

#[test]
fn in_order_ip4_gives_back_the_original_packet() {
    let mut rng = Rng(1);
    let (pkt, frags) = v4_case(&mut rng, 1570, 1480);
    assert_eq!(frags.len(), 2);
    let mut r = default();
    expect_complete(&mut r, 0, &frags, &[0, 1], &pkt);
    // Options survive, the checksum is recomputed.
    let payload = rng.bytes(3000);
    let pkt = ip4_packet(7, &[1, 1, 1, 0], &payload);
    let frags = frag4(&pkt, &even_cuts(3000, 1000));
    expect_complete(&mut r, 0, &frags, &[0, 1, 2], &pkt);
    assert_eq!(r.counters().reassembled, 2);
}

#[test]
fn in_order_ip6_removes_the_fragment_header() {
    let mut rng = Rng(2);
    for with_hbh in [false, true] {
        let (pkt, frags) = v6_case(&mut rng, 1570, 1448, with_hbh);
        let mut r = default();
        expect_complete(&mut r, 0, &frags, &[0, 1], &pkt);
    }
}

#[test]
fn reverse_order() {
    let mut rng = Rng(3);
    let (pkt, frags) = v4_case(&mut rng, 5000, 512);
    let order: Vec<usize> = (0..frags.len()).rev().collect();
    expect_complete(&mut default(), 0, &frags, &order, &pkt);
    let (pkt, frags) = v6_case(&mut rng, 5000, 1232, true);
    let order: Vec<usize> = (0..frags.len()).rev().collect();
    expect_complete(&mut default(), 0, &frags, &order, &pkt);
}

#[test]
fn random_orders_seeded() {
    let mut rng = Rng(0x5eed);
    for round in 0..200 {
        let len = 1 + rng.below(9000);
        // At most 16 fragments (the default cap).
        let step = (8 * (1 + rng.below(200))).max((len / 16 + 8) & !7);
        let (pkt, frags) = if round % 2 == 0 {
            v4_case(&mut rng, len, step)
        } else {
            v6_case(&mut rng, len, step, round % 4 == 1)
        };
        assert!(frags.len() <= 16);
        let mut order: Vec<usize> = (0..frags.len()).collect();
        rng.shuffle(&mut order);
        if frags.len() == 1 {
            // Offset 0 and no more fragments: atomic (IPv6), or not a fragment at all (IPv4).
            continue;
        }
        expect_complete(&mut default(), 0, &frags, &order, &pkt);
    }
}

#[test]
fn duplicates_are_ignored_and_counted() {
    let mut rng = Rng(4);
    let (pkt, frags) = v6_case(&mut rng, 4000, 1000, false);
    let mut r = default();
    assert_eq!(feed_pkt(&mut r, 0, &frags[1]), Got::Held);
    assert_eq!(
        feed_pkt(&mut r, 0, &frags[1]),
        Got::Dropped(Reason::Duplicate)
    );
    assert_eq!(feed_pkt(&mut r, 0, &frags[0]), Got::Held);
    assert_eq!(
        feed_pkt(&mut r, 0, &frags[0]),
        Got::Dropped(Reason::Duplicate)
    );
    assert_eq!(feed_pkt(&mut r, 0, &frags[3]), Got::Held);
    assert_eq!(
        feed_pkt(&mut r, 0, &frags[3]),
        Got::Dropped(Reason::Duplicate)
    );
    assert_eq!(feed_pkt(&mut r, 0, &frags[2]), Got::Complete(pkt));
    assert_eq!(r.counters().dropped(Reason::Duplicate), 3);
    assert_eq!(r.counters().discarded_total(), 0);
    // A late copy after completion is dropped too, and says so.
    assert_eq!(
        feed_pkt(&mut r, 0, &frags[2]),
        Got::Dropped(Reason::AfterCompletion)
    );
}

#[test]
fn same_range_other_bytes_is_an_overlap() {
    let mut r = default();
    let h = hdr4(9);
    let a = payload_at(0, 16, 0);
    let b = payload_at(0, 16, 0xff);
    let f = |p| Frag {
        offset: 0,
        more: true,
        header: &h,
        payload: p,
    };
    // Distinct first: so b is not just a copy.
    assert_ne!(a, b);
    assert_eq!(feed(&mut r, 0, key4(9), f(a.as_slice())), Got::Held);
    assert_eq!(
        feed(&mut r, 0, key4(9), f(&b)),
        Got::Dropped(Reason::Overlap)
    );
    assert_eq!(r.counters().discarded(Reason::Overlap), 1);
}

/// Two fragments `[a0, a1)` then `[b0, b1)` (byte offsets; each `more`, unless it ends the
/// datagram at 64): whatever the overlap, the datagram is gone and every later fragment of it,
/// including a correct one, is dropped until the timeout.
#[test]
fn every_kind_of_overlap_discards_the_datagram() {
    type Range = (usize, usize);
    let cases: &[(Range, Range)] = &[
        ((16, 32), (24, 40)), // partly after
        ((16, 32), (8, 24)),  // partly before
        ((16, 48), (24, 40)), // inside
        ((24, 40), (16, 48)), // around
        ((16, 32), (16, 40)), // same start, longer
        ((16, 40), (16, 32)), // same start, shorter
        ((16, 40), (24, 40)), // same end, later start
        ((24, 40), (16, 40)), // same end, earlier start
        ((0, 16), (8, 24)),   // over the first fragment
        ((8, 24), (0, 16)),   // the first fragment over another
        ((40, 64), (48, 56)), // inside the last fragment
        ((48, 56), (40, 64)), // the last fragment around another
        ((40, 64), (32, 64)), // two last fragments
    ];
    let h = hdr4(77);
    for (n, &((a0, a1), (b0, b1))) in cases.iter().enumerate() {
        let mut r = default();
        let k = key4(77);
        let frag = |s: usize, e: usize, salt: u8| -> (Vec<u8>, bool) {
            (payload_at(s, e - s, salt), e != 64)
        };
        let (pa, ma) = frag(a0, a1, 0);
        let fa = Frag {
            offset: (a0 / 8) as u16,
            more: ma,
            header: &h,
            payload: &pa,
        };
        assert_eq!(feed(&mut r, MS, k, fa), Got::Held, "case {n}");
        let (pb, mb) = frag(b0, b1, 0);
        let fb = Frag {
            offset: (b0 / 8) as u16,
            more: mb,
            header: &h,
            payload: &pb,
        };
        let got = feed(&mut r, MS, k, fb);
        assert!(
            got == Got::Dropped(Reason::Overlap) || got == Got::Dropped(Reason::Inconsistent),
            "case {n}: {got:?}"
        );
        assert_eq!(r.counters().discarded_total(), 1, "case {n}");
        assert_eq!(r.usage().bytes(), 0, "case {n}: storage freed");
        // The rest of the datagram, correct this time, is refused until the timeout.
        for (s, e) in [(0, 24), (24, 64)] {
            let p = payload_at(s, e - s, 0);
            let f = Frag {
                offset: (s / 8) as u16,
                more: e != 64,
                header: &h,
                payload: &p,
            };
            assert_eq!(
                feed(&mut r, 2 * MS, k, f),
                Got::Dropped(Reason::Poisoned),
                "case {n}"
            );
        }
        // After the timeout the key is free again.
        let timeout = r.config().timeout_ip4.as_nanos() as u64;
        assert_eq!(
            r.expire(MS + timeout),
            0,
            "a discarded datagram is not a timeout"
        );
        assert_eq!(r.usage().datagrams(), 0);
        let mut got = Got::Held;
        for (s, e) in [(0, 24), (24, 64)] {
            let p = payload_at(s, e - s, 0);
            let f = Frag {
                offset: (s / 8) as u16,
                more: e != 64,
                header: &h,
                payload: &p,
            };
            got = feed(&mut r, MS + timeout, k, f);
        }
        assert!(
            matches!(got, Got::Complete(ref d) if d.len() == 20 + 64),
            "case {n}"
        );
    }
}

#[test]
fn inconsistent_lengths_discard_the_datagram() {
    let h = hdr4(5);
    let k = key4(5);
    // (first fragment), (second fragment): (start, end, more).
    let cases = [
        ((32, 48, false), (48, 64, true)),  // data past the end
        ((32, 48, false), (40, 56, false)), // another end
        ((48, 64, true), (32, 48, false)),  // an end before data already held
        ((32, 48, true), (32, 48, false)),  // a non-last fragment ending at the end
        ((32, 48, false), (32, 48, true)),  // same, the other way round
    ];
    for (n, ((a0, a1, am), (b0, b1, bm))) in cases.into_iter().enumerate() {
        let mut r = default();
        let pa = payload_at(a0, a1 - a0, 0);
        let pb = payload_at(b0, b1 - b0, 0);
        let fa = Frag {
            offset: (a0 / 8) as u16,
            more: am,
            header: &h,
            payload: &pa,
        };
        let fb = Frag {
            offset: (b0 / 8) as u16,
            more: bm,
            header: &h,
            payload: &pb,
        };
        assert_eq!(feed(&mut r, 0, k, fa), Got::Held, "case {n}");
        assert_eq!(
            feed(&mut r, 0, k, fb),
            Got::Dropped(Reason::Inconsistent),
            "case {n}"
        );
        assert_eq!(r.counters().discarded(Reason::Inconsistent), 1);
    }
}

#[test]
fn atomic_fragments_pass_at_once_and_touch_nothing() {
    let mut rng = Rng(5);
    let (pkt, frags) = v6_case(&mut rng, 3000, 1448, false);
    let mut r = default();
    assert_eq!(feed_pkt(&mut r, 0, &frags[0]), Got::Held);
    let before = r.usage();
    // Same key, offset 0, M = 0.
    let atomic = frag6(&ip6_packet(PROTO, &[], &[1, 2, 3]), 40, 6, 0xdead_beef, &[]);
    assert_eq!(feed_pkt(&mut r, 0, &atomic[0]), Got::Atomic);
    assert_eq!(r.usage(), before, "nothing stored, nothing discarded");
    assert_eq!(r.counters().atomic, 1);
    // The datagram in progress is unaffected.
    assert_eq!(feed_pkt(&mut r, 0, &frags[1]), Got::Held);
    assert_eq!(feed_pkt(&mut r, 0, &frags[2]), Got::Complete(pkt));
}

#[test]
fn tiny_first_fragment_is_dropped() {
    let cfg = Config {
        min_first_payload: 24,
        ..Config::default()
    };
    let mut r = new(cfg);
    let h = hdr4(3);
    let p = payload_at(0, 16, 0);
    let f = Frag {
        offset: 0,
        more: true,
        header: &h,
        payload: &p,
    };
    assert_eq!(feed(&mut r, 0, key4(3), f), Got::Dropped(Reason::TinyFirst));
    assert_eq!(r.usage().datagrams(), 0, "no state for it");
    let p = payload_at(0, 24, 0);
    let f = Frag { payload: &p, ..f };
    assert_eq!(feed(&mut r, 0, key4(3), f), Got::Held);
    // Default: 8 bytes suffice.
    let mut r = default();
    let p = payload_at(0, 8, 0);
    let f = Frag { payload: &p, ..f };
    assert_eq!(feed(&mut r, 0, key4(3), f), Got::Held);
}

#[test]
fn bad_lengths_and_malformed_headers() {
    let mut r = default();
    let h = hdr4(1);
    let k = key4(1);
    let p = payload_at(0, 12, 0);
    let f = Frag {
        offset: 1,
        more: true,
        header: &h,
        payload: &p,
    };
    assert_eq!(feed(&mut r, 0, k, f), Got::Dropped(Reason::BadLength));
    let f = Frag { payload: &[], ..f };
    assert_eq!(feed(&mut r, 0, k, f), Got::Dropped(Reason::BadLength));
    let f = Frag {
        offset: 8192,
        payload: &p[..8],
        ..f
    };
    assert_eq!(feed(&mut r, 0, k, f), Got::Dropped(Reason::Malformed));
    // A first fragment whose header disagrees with the key or with itself.
    let p = payload_at(0, 16, 0);
    let first = |h: &[u8], k| {
        let mut r = default();
        let f = Frag {
            offset: 0,
            more: true,
            header: h,
            payload: &p,
        };
        feed(&mut r, 0, k, f)
    };
    assert_eq!(first(&h, k), Got::Held);
    assert_eq!(first(&h, key4(2)), Got::Dropped(Reason::Malformed));
    assert_eq!(first(&h[..19], k), Got::Dropped(Reason::Malformed));
    let mut bad = h.clone();
    bad[0] = 0x46; // IHL 24 on a 20-byte header
    assert_eq!(first(&bad, k), Got::Dropped(Reason::Malformed));
    // IPv6: the chain must end in a Fragment header (44) at the header's end.
    let mut h6 = ip6_packet(44, &[], &[]);
    h6.truncate(40);
    assert_eq!(first(&h6, key6(1)), Got::Held);
    h6[6] = 17;
    assert_eq!(first(&h6, key6(1)), Got::Dropped(Reason::Malformed));
    let mut h6 = ip6_packet(0, &hbh(44), &[]);
    h6.truncate(48);
    assert_eq!(first(&h6, key6(1)), Got::Held);
    assert_eq!(first(&h6[..44], key6(1)), Got::Dropped(Reason::Malformed));
    assert_eq!(first(&h6, key4(1)), Got::Dropped(Reason::Malformed));
    // Longer than the configured maximum.
    let mut big = ip6_packet(0, &[], &[]);
    let mut nh = 0;
    while big.len() < 40 + 520 {
        let next = if big.len() + 8 >= 40 + 520 { 44 } else { 0 };
        big.extend_from_slice(&[next, 0, 1, 4, 0, 0, 0, 0]);
        nh += 1;
    }
    assert!(nh > 1);
    assert_eq!(first(&big, key6(1)), Got::Dropped(Reason::HeaderTooLong));
}

#[test]
fn over_65535_is_refused() {
    let mut r = default();
    let h = hdr4(1);
    let k4 = key4(1);
    // IPv4: a 20-byte header leaves 65515 bytes of payload.
    let p = payload_at(0, 32, 0);
    let f = Frag {
        offset: 8188, // 65504 + 32 = 65536
        more: false,
        header: &h,
        payload: &p,
    };
    assert_eq!(feed(&mut r, 0, k4, f), Got::Dropped(Reason::TooLong));
    let f = Frag {
        payload: &p[..11], // ends at 65515: fits a 20-byte header
        ..f
    };
    assert_eq!(feed(&mut r, 0, k4, f), Got::Held);
    // ... but not a 24-byte one: the datagram goes when its first fragment shows the options.
    let h24 = ip4_packet(1, &[1, 1, 1, 0], &[]);
    let p = payload_at(0, 64, 0);
    let first = Frag {
        offset: 0,
        more: true,
        header: &h24,
        payload: &p,
    };
    assert_eq!(feed(&mut r, 0, k4, first), Got::Dropped(Reason::TooLong));
    assert_eq!(r.counters().discarded(Reason::TooLong), 1);
    assert_eq!(r.usage().bytes(), 0);

    // IPv6: payload length counts the unfragmentable extension headers.
    let k6 = key6(1);
    let p = payload_at(0, 40, 0);
    let f = Frag {
        offset: 8187, // 65496 + 40 = 65536
        more: false,
        header: &h,
        payload: &p,
    };
    assert_eq!(feed(&mut r, 0, k6, f), Got::Dropped(Reason::TooLong));
    let f = Frag {
        payload: &p[..39],
        ..f
    };
    assert_eq!(feed(&mut r, 0, k6, f), Got::Held);
    let mut h6 = ip6_packet(0, &hbh(44), &[]);
    h6.truncate(48);
    let first = Frag {
        offset: 0,
        more: true,
        header: &h6,
        payload: &p[..8],
    };
    assert_eq!(feed(&mut r, 0, k6, first), Got::Dropped(Reason::TooLong));
}

#[test]
fn a_full_65535_byte_datagram_reassembles() {
    let mut rng = Rng(6);
    let len = 65535 - 20;
    let (pkt, frags) = v4_case(&mut rng, len, 8192);
    assert_eq!(frags.len(), 8);
    assert_eq!(pkt.len(), 65535);
    let mut order: Vec<usize> = (0..8).collect();
    rng.shuffle(&mut order);
    expect_complete(&mut default(), 0, &frags, &order, &pkt);
}

#[test]
fn timeout_with_a_simulated_clock() {
    let mut rng = Rng(7);
    let (pkt, frags) = v6_case(&mut rng, 3000, 1448, false);
    let mut r = default();
    let t0 = 5 * MS;
    let timeout = r.config().timeout_ip6.as_nanos() as u64;
    assert_eq!(feed_pkt(&mut r, t0, &frags[0]), Got::Held);
    assert_eq!(feed_pkt(&mut r, t0 + 1, &frags[1]), Got::Held);
    assert_eq!(r.next_expiry(), Some(t0 + timeout));
    assert!(r.usage().bytes() > 0);
    assert_eq!(r.expire(t0 + timeout - 1), 0);
    assert_eq!(r.usage().in_progress[1], 1);
    assert_eq!(r.expire(t0 + timeout), 1);
    assert_eq!(r.usage().bytes(), 0);
    assert_eq!(r.usage().datagrams(), 0);
    assert_eq!(r.counters().discarded(Reason::Timeout), 1);
    assert_eq!(r.next_expiry(), None);
    // The last fragment alone now starts a new datagram, which cannot complete.
    assert_eq!(feed_pkt(&mut r, t0 + timeout, &frags[2]), Got::Held);

    // Without expire(): a fragment that finds its datagram expired starts afresh.
    let mut r = default();
    assert_eq!(feed_pkt(&mut r, t0, &frags[0]), Got::Held);
    assert_eq!(feed_pkt(&mut r, t0, &frags[1]), Got::Held);
    assert_eq!(feed_pkt(&mut r, t0 + timeout, &frags[2]), Got::Held);
    assert_eq!(r.counters().discarded(Reason::Timeout), 1);
    assert_eq!(feed_pkt(&mut r, t0 + timeout, &frags[0]), Got::Held);
    assert_eq!(
        feed_pkt(&mut r, t0 + timeout, &frags[1]),
        Got::Complete(pkt)
    );

    // IPv4 has its own timeout.
    let mut r = default();
    let t4 = r.config().timeout_ip4.as_nanos() as u64;
    assert_ne!(t4, timeout);
    let (_, frags) = v4_case(&mut rng, 3000, 1480);
    assert_eq!(feed_pkt(&mut r, 0, &frags[0]), Got::Held);
    assert_eq!(r.expire(t4 - 1), 0);
    assert_eq!(r.expire(t4), 1);
}

#[test]
fn completed_datagrams_linger_then_their_id_is_free() {
    let mut rng = Rng(8);
    let (pkt, frags) = v6_case(&mut rng, 3000, 1448, false);
    let mut r = default();
    let linger = r.config().linger.as_nanos() as u64;
    expect_complete(&mut r, 0, &frags, &[0, 1, 2], &pkt);
    // Storage is released by the next call; the ranges are kept.
    assert!(r.usage().bytes() > 0, "the Datagram was readable until now");
    assert_eq!(r.expire(0), 0);
    assert_eq!(r.usage().bytes(), 0);
    assert_eq!(r.usage().completed, 1);
    assert_eq!(
        feed_pkt(&mut r, linger - 1, &frags[1]),
        Got::Dropped(Reason::AfterCompletion)
    );
    // The same id with another fragmentation is a new datagram (identification reuse).
    let (pkt2, frags2) = v6_case(&mut rng, 2000, 1000, false);
    assert_eq!(feed_pkt(&mut r, linger - 1, &frags2[0]), Got::Held);
    assert_eq!(
        feed_pkt(&mut r, linger - 1, &frags2[1]),
        Got::Complete(pkt2)
    );
    // After the linger, a repeat of an old fragment starts a new datagram.
    assert_eq!(feed_pkt(&mut r, 3 * linger, &frags[1]), Got::Held);
    assert_eq!(r.counters().reassembled, 2);
    assert_eq!(r.counters().dropped(Reason::AfterCompletion), 1);
}

#[test]
fn too_many_fragments_discards_the_datagram() {
    let cfg = Config {
        max_fragments: 4,
        ..Config::default()
    };
    let mut r = new(cfg);
    let mut rng = Rng(9);
    let (_, frags) = v4_case(&mut rng, 5 * 64, 64);
    assert_eq!(frags.len(), 5);
    for f in &frags[..4] {
        assert_eq!(feed_pkt(&mut r, 0, f), Got::Held);
    }
    assert_eq!(
        feed_pkt(&mut r, 0, &frags[4]),
        Got::Dropped(Reason::TooManyFragments)
    );
    assert_eq!(r.counters().discarded(Reason::TooManyFragments), 1);
    assert_eq!(
        feed_pkt(&mut r, 0, &frags[0]),
        Got::Dropped(Reason::Poisoned)
    );
    assert_eq!(r.usage().bytes(), 0);
}

/// A flood of distinct identifications, one fragment each, never takes the table past its
/// caps, never grows its memory, and a datagram that completes quickly still gets through.
#[test]
fn a_flood_of_distinct_ids_stays_within_the_caps() {
    let cfg = Config {
        max_datagrams: 16,
        max_bytes: 24 * CHUNK,
        ..Config::default()
    };
    let mut r = new(cfg.clone());
    let footprint = r.footprint();
    let mut rng = Rng(10);
    let pkt = ip6_packet(PROTO, &[], &rng.bytes(2000));
    let h = ip6_packet(44, &[], &[])[..40].to_vec();
    let junk = rng.bytes(1000);
    let mut now = 0;
    let mut completed = 0;
    let mut extra = 1_000_000;
    for i in 0..20_000u32 {
        now += 1000;
        // Non-first fragments of 1000 bytes (two or three chunks: the byte cap binds), then of
        // 8 bytes (one chunk: the datagram cap binds).
        let f = Frag {
            offset: 1 + (i % 7) as u16 * 125,
            more: true,
            header: &h,
            payload: if i < 10_000 { &junk } else { &junk[..8] },
        };
        assert_eq!(feed(&mut r, now, key6(i), f), Got::Held);
        let u = r.usage();
        assert!(u.datagrams() <= cfg.max_datagrams);
        assert!(u.bytes() <= cfg.max_bytes, "{u:?}");
        if i % 1000 == 0 {
            // A real datagram, its fragments a few flood packets apart (its own id: the
            // previous one's is remembered as completed).
            let frags = frag6(&pkt, 40, 6, 2_000_000 + i, &[1000]);
            let mut got = Got::Held;
            for f in &frags {
                got = feed_pkt(&mut r, now, f);
                for j in 0..3 {
                    let g = Frag {
                        offset: 200 + j,
                        more: true,
                        header: &h,
                        payload: &junk[..8],
                    };
                    extra += 1;
                    assert_eq!(feed(&mut r, now, key6(extra), g), Got::Held);
                }
            }
            assert_eq!(got, Got::Complete(pkt.clone()));
            completed += 1;
        }
    }
    assert_eq!(completed, 20);
    assert_eq!(r.footprint(), footprint, "nothing grew");
    let c = r.counters();
    assert!(c.discarded(Reason::MemoryFull) > 0, "{c:?}");
    assert!(c.discarded(Reason::TableFull) > 0, "{c:?}");
    // Everything held is released by the timeout.
    r.expire(now + cfg.timeout_ip6.as_nanos() as u64);
    assert_eq!(
        r.usage(),
        pwire_reass::Usage {
            chunks_max: 24,
            ..Default::default()
        }
    );
}

/// A table cycled faster than a datagram completes loses it, and says so.
#[test]
fn eviction_takes_the_oldest() {
    let cfg = Config {
        max_datagrams: 8,
        ..Config::default()
    };
    let mut r = new(cfg);
    let mut rng = Rng(11);
    let (_, frags) = v4_case(&mut rng, 3000, 1480);
    assert_eq!(feed_pkt(&mut r, 0, &frags[0]), Got::Held);
    let h = hdr4(0);
    let p = payload_at(8, 8, 0);
    for i in 1..=8u16 {
        let f = Frag {
            offset: 1,
            more: true,
            header: &h,
            payload: &p,
        };
        assert_eq!(feed(&mut r, u64::from(i), key4(0x1234 ^ i), f), Got::Held);
    }
    assert_eq!(r.counters().discarded(Reason::TableFull), 1);
    // The oldest (the real datagram) went: its second fragment starts from nothing.
    assert_eq!(feed_pkt(&mut r, 10, &frags[1]), Got::Held);
    assert_eq!(feed_pkt(&mut r, 10, &frags[2]), Got::Held);
    assert_eq!(r.counters().reassembled, 0);
}

/// One datagram bigger than the whole byte cap is discarded, not left half stored.
#[test]
fn a_datagram_bigger_than_memory_is_discarded() {
    let cfg = Config {
        max_bytes: 4 * CHUNK,
        ..Config::default()
    };
    let mut r = new(cfg);
    let mut rng = Rng(12);
    let (_, frags) = v4_case(&mut rng, 4000, 1480);
    assert_eq!(feed_pkt(&mut r, 0, &frags[0]), Got::Held);
    assert_eq!(
        feed_pkt(&mut r, 0, &frags[1]),
        Got::Dropped(Reason::MemoryFull)
    );
    assert_eq!(r.counters().discarded(Reason::MemoryFull), 1);
    assert_eq!(r.usage().bytes(), 0);
    assert_eq!(r.usage().datagrams(), 0);
}

#[test]
fn split_leaves_link_padding_out() {
    let pkt = ip4_packet(1, &[], &payload_at(0, 40, 0));
    let mut f = frag4(&pkt, &[16]);
    // A 20 + 16-byte fragment padded to Ethernet's 46-byte minimum payload.
    f[0].resize(46, 0xee);
    let (k, fr) = pwire_reass::split_ip4(&f[0]).expect("a fragment");
    assert_eq!(k, key4(1));
    assert_eq!(fr.payload.len(), 16);
    assert!(fr.more);
    assert!(pwire_reass::split_ip4(&pkt).is_none(), "not a fragment");
    let p6 = ip6_packet(PROTO, &[], &payload_at(0, 40, 0));
    let mut f6 = frag6(&p6, 40, 6, 42, &[16]);
    f6[0].resize(100, 0xee);
    let (k, fr) = pwire_reass::split_ip6(&f6[0]).expect("a fragment");
    assert_eq!(k, key6(42));
    assert_eq!((fr.offset, fr.more, fr.header.len()), (0, true, 40));
    assert_eq!(fr.payload.len(), 16);
    assert!(pwire_reass::split_ip6(&p6).is_none(), "no fragment header");
}

#[test]
fn show_output() {
    let mut r = default();
    let mut rng = Rng(13);
    let (_, frags) = v6_case(&mut rng, 3000, 1448, false);
    assert_eq!(feed_pkt(&mut r, 2 * MS, &frags[0]), Got::Held);
    assert_eq!(
        feed_pkt(&mut r, 2 * MS, &frags[0]),
        Got::Dropped(Reason::Duplicate)
    );
    let brief = r.to_string();
    assert!(
        brief.contains("Current IP6 reassemblies count: 1\n"),
        "{brief}"
    );
    assert!(
        brief.contains("Current IP4 reassemblies count: 0\n"),
        "{brief}"
    );
    assert!(brief.contains("Maximum configured concurrent reassemblies per worker-thread: 1024\n"));
    assert!(brief.contains("Maximum configured IP6 reassembly timeout: 1000ms\n"));
    assert!(
        brief.contains("Memory in use: 2048 of 4194304 bytes (4 of 8192 chunks of 512 bytes)"),
        "{brief}"
    );
    assert!(
        brief.contains("Fragments received: 2, atomic: 0, stored: 1, reassembled datagrams: 0\n")
    );
    assert!(
        brief.contains("         1  duplicate fragment (reass_duplicate_fragment)\n"),
        "{brief}"
    );
    assert!(!brief.contains("ID: "), "details only with {{:#}}");
    let details = format!("{r:#}");
    assert!(details.contains(
        "ID: 0, key: ip6, src: 2001:db8::1, dst: 2001:db8::2, frag_id: 3735928559, proto: 115\n"
    ), "{details}");
    assert!(details.contains(
        "  state: in progress, created: 2.000ms, expires: 1002.000ms, header: 40, data_len: 1448, last_packet_octet: unknown, fragments: 1, chunks: 4\n"
    ), "{details}");
    assert!(details.contains("  #000: range: [0, 1447]\n"), "{details}");
}

#[test]
fn config_errors() {
    let bad = [
        Config {
            max_datagrams: 0,
            ..Config::default()
        },
        Config {
            max_fragments: 0,
            ..Config::default()
        },
        Config {
            max_bytes: CHUNK - 1,
            ..Config::default()
        },
        Config {
            max_header: 59,
            ..Config::default()
        },
    ];
    for c in bad {
        assert!(Reassembler::new(c).is_err());
    }
}

/// The key map is reserved once: churning through many more keys than it holds, at every
/// table size, never makes it grow (a map full of removal tombstones rehashes in place only
/// while at most half full, hence the reservation of twice the keys).
#[test]
fn the_key_map_never_grows() {
    for n in 1..=40u32 {
        let cfg = Config {
            max_datagrams: n,
            ..Config::default()
        };
        let mut r = new(cfg);
        let footprint = r.footprint();
        let h = hdr4(0);
        let p = payload_at(8, 8, 0);
        for i in 0..5000u32 {
            let f = Frag {
                offset: 1,
                more: true,
                header: &h,
                payload: &p,
            };
            let k = pwire_reass::Key::v4(SRC4, DST4, i as u16, (i >> 16) as u8);
            assert_eq!(feed(&mut r, u64::from(i), k, f), Got::Held);
        }
        assert_eq!(r.footprint(), footprint, "max_datagrams {n}");
    }
}

/// An unfragmentable part longer than a chunk (a 600-byte hop-by-hop header, then destination
/// options whose Next Header names the Fragment header in the second chunk) is kept, fixed up
/// and given back whole.
#[test]
fn a_header_longer_than_a_chunk() {
    let cfg = Config {
        max_header: 1024,
        ..Config::default()
    };
    let mut ext = vec![60, 74];
    ext.resize(600, 0); // Pad1 options
    ext.extend_from_slice(&[PROTO, 0, 0, 0, 0, 0, 0, 0]);
    let mut rng = Rng(14);
    let payload = rng.bytes(3000);
    let pkt = ip6_packet(0, &ext, &payload);
    let frags = frag6(&pkt, 648, 640, 5, &[1232, 2464]);
    const { assert!(640 > CHUNK) };
    let mut r = new(cfg);
    expect_complete(&mut r, 0, &frags, &[2, 0, 1], &pkt);
    // The default refuses it.
    let mut r = default();
    assert_eq!(
        feed_pkt(&mut r, 0, &frags[0]),
        Got::Dropped(Reason::HeaderTooLong)
    );
}
