//! Tagged traffic, whole frames against single packets (tests/batch.rs's method for the VLAN
//! paths): ethernet-input's sub-interface matching, `l2-input-vtr`, `l2-output`'s loop with an
//! egress tag rewrite and `interface-output`'s loop for sub-interfaces (L2 ones, and an L3
//! uplink whose tag it pushes) must do for a frame of mixed packets what their general paths
//! do packet by packet. One seeded mix per receiving port goes in three times on fresh
//! instances: as one frame, untraced; as one frame with its first 40 packets traced; one
//! packet per frame, every packet traced (the run loops stop at traced packets: the
//! reference). What leaves every port and every counter must be the same.

mod vlan_common;

use pwire_testkit::Harness;
use pwire_tests::{l2tp_frame, Rng, PEER_MAC, PG0_MAC};
use std::collections::BTreeMap;
use vlan_common::*;

/// pg0: uplink, L3 on VLAN 42 only. pg1: access port; its VLANs 100 and 200 are pseudowires
/// (100 popped, 200 carried), 300/30 (802.1ad QinQ, popped) and 500 (down) are in BD 1 with
/// pg2, 400 is translated to 41 in BD 2 with the trunk pg4, and the port itself is in BD 3
/// with pg3 (what no sub-interface takes is bridged as it is).
const SETUP: &[&str] = &[
    "create packet-generator interface pg0 hw-addr 02:fe:00:00:00:00",
    "create sub-interfaces pg0 42",
    "set interface state pg0 up",
    "set interface state pg0.42 up",
    "set interface ip address pg0.42 fd00::1/64",
    "set ip neighbor pg0.42 fd00::2 02:00:00:00:00:02 static",
    "create packet-generator interface pg1",
    "create packet-generator interface pg2",
    "create packet-generator interface pg3",
    "create packet-generator interface pg4",
    "set interface state pg1 up",
    "set interface state pg2 up",
    "set interface state pg3 up",
    "set interface state pg4 up",
    "create sub-interfaces pg1 100",
    "create sub-interfaces pg1 200",
    "create sub-interfaces pg1 300 dot1ad 300 inner-dot1q 30 exact-match",
    "create sub-interfaces pg1 400",
    "create sub-interfaces pg1 500",
    "set interface state pg1.100 up",
    "set interface state pg1.200 up",
    "set interface state pg1.300 up",
    "set interface state pg1.400 up",
    "create l2tpv3 tunnel client fd00::2 our fd00::1 local-session-id 10 remote-session-id 20",
    "create l2tpv3 tunnel client fd00::2 our fd00::1 local-session-id 11 remote-session-id 21",
    "set interface state l2tpv3_tunnel0 up",
    "set interface state l2tpv3_tunnel1 up",
    "set interface l2 tag-rewrite pg1.100 pop 1",
    "set interface l2 xconnect pg1.100 l2tpv3_tunnel0",
    "set interface l2 xconnect l2tpv3_tunnel0 pg1.100",
    "set interface l2 xconnect pg1.200 l2tpv3_tunnel1",
    "set interface l2 xconnect l2tpv3_tunnel1 pg1.200",
    "set interface l2 tag-rewrite pg1.300 pop 2",
    "set interface l2 tag-rewrite pg1.500 pop 1",
    "set interface l2 bridge pg1.300 1",
    "set interface l2 bridge pg1.500 1",
    "set interface l2 bridge pg2 1",
    "set interface l2 tag-rewrite pg1.400 translate 1-1 dot1q 41",
    "set interface l2 bridge pg1.400 2",
    "set interface l2 bridge pg4 2",
    "set interface l2 bridge pg1 3",
    "set interface l2 bridge pg3 3",
];

const PORTS: [&str; 5] = ["pg0", "pg1", "pg2", "pg3", "pg4"];
const SUBS: [&str; 6] = [
    "pg0.42", "pg1.100", "pg1.200", "pg1.300", "pg1.400", "pg1.500",
];

/// Host numbers: each source sends from one port only; destinations are learned in the
/// warm-up (so nothing the mix learns changes where a later packet goes) or never seen.
/// 1: behind pg1.300, 2: behind pg2, 3: behind pg1.400, 4: behind pg4, 5: behind pg1 (BD 3),
/// 6: behind pg3, 7: behind pg1.100 / tunnel 0, 8: behind pg1.200 / tunnel 1, 0x40..: never
/// seen (flooded).
fn warm_up() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("pg1", frame(0x40, 1, &[(AD, 300), (Q, 30)], 0)),
        ("pg2", frame(0x40, 2, &[], 0)),
        ("pg1", frame(0x40, 3, &[(Q, 400)], 0)),
        ("pg4", frame(0x40, 4, &[(Q, 41)], 0)),
        ("pg1", frame(0x40, 5, &[], 0)),
        ("pg3", frame(0x40, 6, &[], 0)),
    ]
}

/// An L2TPv3 frame from fd00::2 on the uplink, `tags` on its outer header.
fn decap(tags: &[(u16, u16)], sid: u32, inner: &[u8]) -> Vec<u8> {
    let f = l2tp_frame(
        PG0_MAC,
        PEER_MAC,
        "fd00::2".parse().unwrap(),
        "fd00::1".parse().unwrap(),
        sid,
        &[0xff; 8],
        inner,
    );
    eth(PG0_MAC, PEER_MAC, tags, 0x86dd, &f[14..])
}

/// The seeded mixes, by receiving port: mostly runs of one packet, broken by exceptions.
fn mixes(seed: u64, n: usize) -> Vec<(&'static str, Vec<Vec<u8>>)> {
    let mut rng = Rng(seed);
    let pick = |choices: &[Vec<u8>], rng: &mut Rng| {
        let mut v: Vec<Vec<u8>> = Vec::with_capacity(n);
        let mut cur = choices[0].clone();
        while v.len() < n {
            // A run of the current packet, or one other packet.
            if rng.below(3) == 0 {
                cur = choices[rng.below(choices.len() as u64) as usize].clone();
            }
            let p = if rng.below(4) == 0 {
                choices[rng.below(choices.len() as u64) as usize].clone()
            } else {
                cur.clone()
            };
            v.push(p);
        }
        v
    };
    let access = vec![
        frame(0x41, 7, &[(Q, 100)], 1),
        frame(0x42, 8, &[(Q, 200)], 2),
        frame(2, 1, &[(AD, 300), (Q, 30)], 3),
        frame(0x43, 1, &[(AD, 300), (Q, 30)], 4),
        eth([0xff; 6], host(1), &[(AD, 300), (Q, 30)], ET, &body(5)),
        frame(4, 3, &[(Q, 400)], 6),
        frame(2, 9, &[(Q, 500)], 7),
        frame(6, 5, &[(Q, 999)], 8),
        frame(6, 5, &[], 9),
        frame(6, 5, &[(AD, 300), (Q, 31)], 10),
        frame(6, 5, &[(Q, 100), (Q, 1)], 11),
        // Runts: inside the Ethernet header, inside a tag.
        frame(6, 5, &[], 12)[..13].to_vec(),
        frame(6, 5, &[(Q, 100)], 13)[..16].to_vec(),
    ];
    let uplink = vec![
        decap(&[(Q, 42)], 10, &frame(7, 0x44, &[], 20)),
        decap(&[(Q, 42)], 11, &frame(8, 0x45, &[(Q, 200)], 21)),
        decap(&[(Q, 42)], 10, &frame(7, 0x44, &[], 22)[..10]),
        decap(&[(Q, 42)], 99, &frame(7, 0x44, &[], 23)),
        decap(&[], 10, &frame(7, 0x44, &[], 24)),
        decap(&[(Q, 43)], 10, &frame(7, 0x44, &[], 25)),
    ];
    let bd1 = vec![
        frame(1, 2, &[], 30),
        frame(0x46, 2, &[], 31),
        eth([0xff; 6], host(2), &[], ET, &body(32)),
        // A runt on a plain L2 port (ethernet-input's run loop for such ports stops at it).
        frame(1, 2, &[], 33)[..12].to_vec(),
    ];
    let bd2 = vec![
        frame(3, 4, &[(Q, 41)], 40),
        frame(3, 4, &[], 41),
        frame(0x47, 4, &[(Q, 41)], 42),
    ];
    vec![
        ("pg1", pick(&access, &mut rng)),
        ("pg0", pick(&uplink, &mut rng)),
        ("pg2", pick(&bd1, &mut rng)),
        ("pg4", pick(&bd2, &mut rng)),
    ]
}

/// Every node counter by (node, reason), less the learn counts (see tests/batch.rs).
fn counters(h: &Harness) -> BTreeMap<(String, &'static str), u64> {
    pwire_tests::node_counters(h, |n, _| n == "l2-learn")
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Mode {
    Frame,
    FrameTraced,
    Single,
}

#[derive(PartialEq, Debug)]
struct Outcome {
    out: Vec<Vec<Vec<u8>>>,
    counters: BTreeMap<(String, &'static str), u64>,
    ifaces: String,
}

fn run(mixes: &[(&'static str, Vec<Vec<u8>>)], mode: Mode) -> Outcome {
    let mut h = harness();
    for l in SETUP {
        h.cli(l);
    }
    for (i, (port, f)) in warm_up().into_iter().enumerate() {
        h.send(&format!("w{i}"), port, "ethernet-input", &[f]);
    }
    h.run_for(std::time::Duration::from_millis(50));
    h.cli("clear errors");
    h.cli("clear interfaces");
    let caps: Vec<_> = PORTS.iter().map(|p| h.capture(p)).collect();
    for (k, (port, pkts)) in mixes.iter().enumerate() {
        match mode {
            Mode::Frame | Mode::FrameTraced => {
                assert!(pkts.len() <= pwire_graph::FRAME_SIZE);
                if mode == Mode::FrameTraced {
                    h.cli("clear trace");
                    h.cli("trace add pg-input 40");
                }
                h.send(&format!("m{k}"), port, "ethernet-input", pkts);
            }
            Mode::Single => {
                h.cli("clear trace");
                pwire_tests::send_traced_one_by_one(&mut h, port, "ethernet-input", pkts);
            }
        }
    }
    let out = PORTS
        .iter()
        .zip(caps)
        .map(|(p, c)| {
            let mut v = h.captured(p, &c);
            v.sort();
            v
        })
        .collect();
    h.assert_all_free();
    let ifaces = PORTS
        .iter()
        .chain(SUBS.iter())
        .map(|i| h.cli(&format!("show interface {i}")))
        .collect::<Vec<_>>()
        .join("");
    Outcome {
        out,
        counters: counters(&h),
        ifaces,
    }
}

#[test]
fn tagged_batch_equals_single() {
    let m = mixes(0x71a9_0001, pwire_graph::FRAME_SIZE - 6);
    let s = run(&m, Mode::Single);
    // The reference itself saw what the mix holds: every path taken.
    for (i, o) in s.out.iter().enumerate() {
        assert!(!o.is_empty(), "something out of {}", PORTS[i]);
    }
    for (node, reason) in [
        ("ethernet-input", "unknown vlan"),
        ("ethernet-input", "subinterface down"),
        ("ethernet-input", "ethernet frame too short"),
        ("l2-output", "L2 output tag rewrite drops"),
        ("l2-input-vtr", "L2 inverter packets"),
    ] {
        assert!(
            s.counters
                .get(&(node.to_string(), reason))
                .is_some_and(|&c| c > 0),
            "{node} `{reason}' in the reference: {:?}",
            s.counters
        );
    }
    for mode in [Mode::Frame, Mode::FrameTraced] {
        let b = run(&m, mode);
        assert_eq!(b.counters, s.counters, "{mode:?}: counters vs single");
        for (i, (x, y)) in b.out.iter().zip(&s.out).enumerate() {
            assert_eq!(x.len(), y.len(), "{mode:?}: frames out of {}", PORTS[i]);
            assert!(x == y, "{mode:?}: frames out of {} differ", PORTS[i]);
        }
        assert_eq!(b.ifaces, s.ifaces, "{mode:?}: interface counters");
    }
}
