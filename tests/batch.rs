//! Whole frames against single packets: every node keeps a tight loop for runs of "the same as
//! the packet before" (same session, source, destination, port) and falls back to its general
//! path for anything else. This sends one seeded mix of good and bad packets through the
//! L2TPv3 decap paths into a bridge domain three times, each on a fresh instance: as a single
//! frame with nothing traced (pg-input's fill loop, every loop from the first packet on), as a
//! single frame with the first 40 packets traced (runs start mid-frame), and one packet per
//! frame with every packet traced (the loops stop at traced packets, so this takes each node's
//! general path: the reference). What leaves each interface and every drop and error counter
//! must be the same. (l2tp-decap's frame cache of the last session predates the loops and
//! serves traced packets too; the reference checks the loops against it.)

use pwire_testkit::Harness;
use pwire_tests::{features, ip6_frame, l2tp_frame, pg_uplink, Rng, FF8, PEER_MAC, PG0_MAC};
use std::collections::BTreeMap;
use std::net::Ipv6Addr;

fn addr(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

/// Two tunnels (sessions 10 and 11) and pg1 in bridge domain 1; pg0 is the uplink fd00::1.
/// With `feature`, decap is also the ip6-unicast feature on pg0.
fn topo(h: &mut Harness, feature: bool) {
    pg_uplink(h);
    for l in [
        "create packet-generator interface pg1",
        "set interface state pg1 up",
        "set ip neighbor pg0 fd00::3 02:00:00:00:00:03 static",
        "create l2tpv3 tunnel client fd00::2 our fd00::1 local-session-id 10 remote-session-id 20",
        "create l2tpv3 tunnel client fd00::3 our fd00::1 local-session-id 11 remote-session-id 21",
        "set interface state l2tpv3_tunnel0 up",
        "set interface state l2tpv3_tunnel1 up",
        "set interface l2 bridge l2tpv3_tunnel0 1",
        "set interface l2 bridge l2tpv3_tunnel1 1",
        "set interface l2 bridge pg1 1",
        // A known destination behind pg1 (forwarded, not flooded) and a source pinned to
        // tunnel 0 (seen from tunnel 1 it is a move violation).
        "l2fib add 02:00:00:00:bb:01 1 pg1 static",
        "l2fib add 02:00:00:00:aa:01 1 l2tpv3_tunnel0 static",
    ] {
        h.cli(l);
    }
    if feature {
        h.cli("set interface ip6 l2tpv3 pg0");
    }
}

/// An inner Ethernet frame. Destinations are never a learned source: bb:01 is static behind
/// pg1, the others flood whatever was learned when (learning is published between frames, so
/// the batch and the single runs may differ in learn counts but not in what goes out).
fn inner(src: u8, dst: u8, vlan: bool, tag: u8) -> Vec<u8> {
    let dmac = if dst == 0xff {
        [0xff; 6]
    } else {
        [0x02, 0, 0, 0, 0xbb, dst]
    };
    let mut f = dmac.to_vec();
    f.extend_from_slice(&[0x02, 0, 0, 0, 0xaa, src]);
    if vlan {
        f.extend_from_slice(&[0x81, 0x00, 0x00, 0x07]);
    }
    f.extend_from_slice(&[0x88, 0xb5]);
    f.extend((0..46).map(|i| tag.wrapping_add(i)));
    f
}

fn tunnel(sid: u32, cookie: &[u8], inner: &[u8]) -> Vec<u8> {
    let client = if sid == 11 { "fd00::3" } else { "fd00::2" };
    l2tp_frame(
        PG0_MAC,
        PEER_MAC,
        addr(client),
        addr("fd00::1"),
        sid,
        cookie,
        inner,
    )
}

/// The seeded mix: mostly runs of the same good packet, broken by every kind of exception.
fn mix(seed: u64, n: usize, extra: u32) -> Vec<Vec<u8>> {
    let mut rng = Rng(seed);
    let mut v = Vec::with_capacity(n);
    let mut cur = tunnel(10, &FF8, &inner(1, 1, false, 0));
    while v.len() < n {
        let tag = v.len() as u8;
        let kind = rng.below(18);
        let p = match kind {
            // A new "current" packet, repeated for a while.
            0 => {
                let sid = 10 + rng.below(2) as u32;
                let src = if sid == 11 {
                    0x10
                } else {
                    1 + rng.below(2) as u8
                };
                let dst = [1u8, 2, 0xff][rng.below(3) as usize];
                cur = tunnel(sid, &FF8, &inner(src, dst, rng.below(4) == 0, tag));
                cur.clone()
            }
            1 => tunnel(
                10,
                &[0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1],
                &inner(1, 1, false, tag),
            ),
            2 => tunnel(99, &FF8, &inner(1, 1, false, tag)),
            3 => {
                let mut f = cur.clone();
                f.truncate(14 + 40 + 4 + rng.below(20) as usize);
                f
            }
            4 => {
                let mut f = cur.clone();
                f[14] = 0x40; // IPv4 version in an IPv6 frame
                f
            }
            5 => {
                let mut f = cur.clone();
                f.extend_from_slice(&[0xee; 7]); // Ethernet padding after the IPv6 packet
                f
            }
            6 => {
                let mut f = cur.clone();
                f[21] = 0; // hop limit 0: ICMPv6 time exceeded
                f
            }
            7 => ip6_frame(
                [0x33, 0x33, 0, 0, 0, 1],
                PEER_MAC,
                addr("fd00::2"),
                addr("ff02::1"),
                59,
                255,
                &[0; 8],
            ),
            8 => {
                // Inner frame under 14 bytes.
                let i = inner(1, 1, false, tag);
                tunnel(10, &FF8, &i[..10])
            }
            // Sessions alternating packet by packet (the varied-session loops).
            9 | 10 => {
                let odd = rng.below(6) as u8;
                for j in 0..6u8 {
                    let sid = 10 + u32::from(j & 1);
                    let src = if sid == 11 { 0x10 } else { 1 };
                    let i = inner(src, 1 + (j % 3), false, tag.wrapping_add(j));
                    // One exception in the middle of the alternation.
                    v.push(match (j == odd).then(|| rng.below(3)) {
                        Some(0) => {
                            // Inner frame under 14 bytes, Ethernet padding after the packet.
                            let mut f = tunnel(sid, &FF8, &i[..12]);
                            f.extend_from_slice(&[0xee; 8]);
                            f
                        }
                        Some(1) => tunnel(sid, &[0xff, 0xff, 0xff, 0xff, 0, 0, 0, 2], &i),
                        Some(_) => tunnel(77, &FF8, &i),
                        None => tunnel(sid, &FF8, &i),
                    });
                }
                tunnel(11, &FF8, &inner(0x10, 0xff, false, tag))
            }
            11 => tunnel(11, &FF8, &inner(1, 2, false, tag)),
            // A session of the big table (down): dropped by decap.
            12 if extra > 0 => tunnel(
                1000 + rng.below(u64::from(extra)) as u32,
                &FF8,
                &inner(1, 1, false, tag),
            ),
            _ => cur.clone(),
        };
        v.push(p);
    }
    v
}

/// Every node counter by (node, reason), leaving out the L2 learning counts that depend on
/// when learning is published (between frames: see [`inner`]).
fn counters(h: &Harness) -> BTreeMap<(String, &'static str), u64> {
    let e = h.dp.vnet.engine();
    let mut m = BTreeMap::new();
    for n in &e.graph.nodes {
        for (i, c) in n.counters.iter().enumerate() {
            if n.name == "l2-learn"
                && matches!(
                    c.name,
                    "L2 learn misses" | "L2 mac moves" | "L2 learn hit updates"
                )
            {
                continue;
            }
            let code = n.error_base as usize + i;
            let total: u64 = (0..e.threads.len()).map(|t| e.error_count(t, code)).sum();
            if total != 0 {
                m.insert((n.name.clone(), c.name), total);
            }
        }
    }
    m
}

struct Outcome {
    pg0: Vec<Vec<u8>>,
    pg1: Vec<Vec<u8>>,
    counters: BTreeMap<(String, &'static str), u64>,
    ifaces: String,
}

/// Sessions beyond 10 and 11 that make the session-id table big enough for decap's look-ahead
/// pass (8192 and more): ids 1000.., all down. The same case fills the L2 FIB past l2-learn's
/// and l2-fwd's prefetch threshold with as many static MACs behind pg1 (none of them in the
/// traffic).
const EXTRA: u32 = 8200;

#[derive(Clone, Copy, PartialEq, Debug)]
enum Mode {
    /// One frame, nothing traced.
    Frame,
    /// One frame, the first 40 packets traced.
    FrameTraced,
    /// One packet per frame, every packet traced: the reference.
    Single,
}

fn run(feature: bool, extra: u32, pkts: &[Vec<u8>], mode: Mode) -> Outcome {
    let mut h = Harness::with("l2tp { lookup-session-id }", &features());
    topo(&mut h, feature);
    for sid in 1000..1000 + extra {
        h.cli(&format!(
            "create l2tpv3 tunnel client fd00::4 our fd00::1 local-session-id {sid} remote-session-id {sid}"
        ));
        h.cli(&format!(
            "l2fib add 02:01:{:02x}:{:02x}:{:02x}:{:02x} 1 pg1 static",
            sid >> 24,
            (sid >> 16) & 0xff,
            (sid >> 8) & 0xff,
            sid & 0xff
        ));
    }
    // Learn every source first (published before the mix), so that the mix runs with nothing
    // unpublished, as in steady state, where l2-learn's loops apply.
    let warm: Vec<Vec<u8>> = [(10, 1), (10, 2), (11, 0x10)]
        .iter()
        .map(|&(sid, src)| tunnel(sid, &FF8, &inner(src, 0xff, false, 0)))
        .collect();
    h.send("warm", "pg0", "ethernet-input", &warm);
    h.run_for(std::time::Duration::from_millis(50));
    h.cli("clear errors");
    let c0 = h.capture("pg0");
    let c1 = h.capture("pg1");
    if mode != Mode::Single {
        assert!(pkts.len() <= pwire_graph::FRAME_SIZE, "one frame");
        if mode == Mode::FrameTraced {
            h.cli("trace add pg-input 40");
        }
        h.send("all", "pg0", "ethernet-input", pkts);
        let t = h.cli("show trace");
        let want = if mode == Mode::FrameTraced { 40 } else { 0 };
        assert_eq!(t.matches("Packet ").count(), want, "packets traced:\n{t}");
    } else {
        // Every packet traced: every node takes its general path (the loops stop at traced
        // packets), so this is the reference the loops are checked against.
        h.cli(&format!("trace add pg-input {}", pkts.len()));
        for (i, p) in pkts.iter().enumerate() {
            h.send(
                &format!("p{i}"),
                "pg0",
                "ethernet-input",
                std::slice::from_ref(p),
            );
        }
    }
    let mut pg0 = h.captured("pg0", &c0);
    let mut pg1 = h.captured("pg1", &c1);
    // Replies, encapsulations and floods take different paths: compare what left, not when.
    pg0.sort();
    pg1.sort();
    h.assert_all_free();
    let sessions = h.cli("show l2tpv3 verbose");
    let ifaces = ["pg0", "pg1", "l2tpv3_tunnel0", "l2tpv3_tunnel1"]
        .iter()
        .map(|i| h.cli(&format!("show interface {i}")))
        .chain([sessions])
        .collect::<Vec<_>>()
        .join("\n");
    Outcome {
        pg0,
        pg1,
        counters: counters(&h),
        ifaces,
    }
}

fn same(feature: bool, extra: u32, seed: u64) {
    let mut pkts = mix(seed, 250, extra);
    pkts.truncate(250);
    let s = run(feature, extra, &pkts, Mode::Single);
    let what = if feature { "feature" } else { "local" };
    assert!(
        !s.pg1.is_empty() && !s.pg0.is_empty(),
        "{what}: the mix delivers and replies"
    );
    for mode in [Mode::Frame, Mode::FrameTraced] {
        let b = run(feature, extra, &pkts, mode);
        assert_eq!(
            b.counters, s.counters,
            "{what} {mode:?}: counters vs single"
        );
        assert_eq!(
            b.pg1.len(),
            s.pg1.len(),
            "{what} {mode:?}: frames out of pg1"
        );
        assert!(b.pg1 == s.pg1, "{what} {mode:?}: pg1 frames differ");
        assert_eq!(
            b.pg0.len(),
            s.pg0.len(),
            "{what} {mode:?}: frames out of pg0"
        );
        assert!(b.pg0 == s.pg0, "{what} {mode:?}: pg0 frames differ");
        assert_eq!(b.ifaces, s.ifaces, "{what} {mode:?}: interface counters");
    }
}

#[test]
fn decap_local_batch_equals_single() {
    same(false, 0, 0xba7c_0001);
}

#[test]
fn decap_feature_batch_equals_single() {
    same(true, 0, 0xba7c_0002);
}

#[test]
fn decap_big_session_table_batch_equals_single() {
    same(false, EXTRA, 0xba7c_0003);
}
