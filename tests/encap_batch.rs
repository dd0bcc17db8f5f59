//! Encap, whole frames against single packets (tests/batch.rs's method): `l2tp-encap` keeps a
//! loop for runs of frames to one up, unsequenced session over IP and falls back to its general
//! path for anything else (another session, a sequenced one, a traced frame). One seeded mix of
//! frames to three tunnels (IPv6, IPv4 with 4-byte cookies, IPv6 sequenced) goes in
//! three times on fresh instances: as one frame untraced, as one frame with its first 40 traced,
//! and one frame per packet, every packet traced (the reference: the general path). What leaves
//! the uplink, in order (sequence numbers included), and every counter must be the same. The
//! same for IPv6 forwarding through ip6-rewrite's loop for runs to one adjacency: two next
//! hops, hop limits running out, packets over one interface's MTU.

use pwire_testkit::Harness;
use pwire_tests::{features, ip6_frame, Rng, PG0_MAC};
use std::collections::BTreeMap;

const SETUP: &[&str] = &[
    "create packet-generator interface pg0",
    "create packet-generator interface pg1",
    "set interface ip address pg0 fd00::1/64",
    "set interface ip address pg0 192.0.2.1/24",
    "set interface state pg0 up",
    "set interface state pg1 up",
    "set ip neighbor pg0 fd00::2 02:00:00:00:00:02 static",
    "set ip neighbor pg0 192.0.2.2 02:00:00:00:00:02 static",
    "create l2tpv3 tunnel client fd00::2 our fd00::1 local-session-id 10 remote-session-id 20",
    "create l2tpv3 tunnel client 192.0.2.2 our 192.0.2.1 local-session-id 11 remote-session-id 21 cookie-size 4 local-cookie 11223344 remote-cookie 55667788",
    "create l2tpv3 tunnel client fd00::2 our fd00::1 local-session-id 12 remote-session-id 22 l2-sublayer-present sequencing",
    "set interface state l2tpv3_tunnel0 up",
    "set interface state l2tpv3_tunnel1 up",
    "set interface state l2tpv3_tunnel2 up",
    "set interface l2 bridge pg1 1",
    "set interface l2 bridge l2tpv3_tunnel0 1",
    "set interface l2 bridge l2tpv3_tunnel1 1",
    "set interface l2 bridge l2tpv3_tunnel2 1",
    "l2fib add 02:00:00:00:02:01 1 l2tpv3_tunnel0 static",
    "l2fib add 02:00:00:00:02:02 1 l2tpv3_tunnel1 static",
    "l2fib add 02:00:00:00:02:03 1 l2tpv3_tunnel2 static",
    "l2fib add 02:00:00:00:01:01 1 pg1 static",
];

/// A frame from the host behind pg1 to `dst` (1..=3: the tunnels).
fn frame(dst: u8, tag: u8, len: usize) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 2, dst, 2, 0, 0, 0, 1, 1, 0x88, 0xb5];
    f.extend((0..len - 14).map(|i| (i as u8) ^ tag));
    f
}

fn mix(seed: u64, n: usize) -> Vec<Vec<u8>> {
    let mut rng = Rng(seed);
    let mut cur = 1u8;
    (0..n)
        .map(|i| {
            // Runs to one destination, broken now and then.
            if rng.below(4) == 0 {
                cur = [1, 2, 3][rng.below(3) as usize];
            }
            frame(cur, i as u8, 60 + rng.below(200) as usize)
        })
        .collect()
}

/// Sends `pkts` into `port`: as one frame (the first 40 traced with `FrameTraced`), or one
/// frame per packet, every packet traced (the reference).
fn feed(h: &mut Harness, port: &str, pkts: &[Vec<u8>], mode: Mode) {
    match mode {
        Mode::Frame | Mode::FrameTraced => {
            if mode == Mode::FrameTraced {
                h.cli("trace add pg-input 40");
            }
            h.send("m", port, "ethernet-input", pkts);
        }
        Mode::Single => {
            pwire_tests::send_traced_one_by_one(h, port, "ethernet-input", pkts);
        }
    }
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Mode {
    Frame,
    FrameTraced,
    Single,
}

/// Every node counter by (node, reason).
type Counters = BTreeMap<(String, &'static str), u64>;

fn counters(h: &Harness) -> Counters {
    pwire_tests::node_counters(h, |n, _| n == "l2-learn")
}

fn run(pkts: &[Vec<u8>], mode: Mode) -> (Vec<Vec<u8>>, Counters, String) {
    let mut h = Harness::with("l2tp { lookup-session-id }", &features());
    for l in SETUP {
        h.cli(l);
    }
    let cap = h.capture("pg0");
    feed(&mut h, "pg1", pkts, mode);
    let out = h.captured("pg0", &cap);
    h.assert_all_free();
    // The per-session counters, and the routes' (`to:[packets:bytes]`): runs skip ip6-lookup
    // and ip4-lookup (the midchain) and count there themselves.
    let v = h.cli("show l2tpv3 verbose") + &h.cli("show ip6 fib") + &h.cli("show ip fib");
    (out, counters(&h), v)
}

/// The uplink's frames by the remote session id they carry, each session's in order.
fn by_session(frames: &[Vec<u8>]) -> BTreeMap<u32, Vec<Vec<u8>>> {
    let mut m: BTreeMap<u32, Vec<Vec<u8>>> = BTreeMap::new();
    for f in frames {
        let at = if f[12..14] == [0x86, 0xdd] {
            14 + 40
        } else {
            14 + 20
        };
        let sid = u32::from_be_bytes(f[at..at + 4].try_into().unwrap());
        m.entry(sid).or_default().push(f.clone());
    }
    m
}

#[test]
fn encap_batch_equals_single() {
    let m = mix(0x3e9c_0001, 240);
    let (out, cnt, show) = run(&m, Mode::Single);
    // The reference saw every tunnel and the flood.
    let to_tunnels =
        m.iter().filter(|f| f[5] != 9).count() + 3 * m.iter().filter(|f| f[5] == 9).count();
    assert_eq!(
        out.len(),
        to_tunnels,
        "every frame encapsulated, flooded ones to all three"
    );
    assert!(
        out.iter().any(|p| p[12..14] == [0x86, 0xdd])
            && out.iter().any(|p| p[12..14] == [0x08, 0x00])
    );
    let reference = by_session(&out);
    assert_eq!(reference.len(), 3, "three sessions on the wire");
    for mode in [Mode::Frame, Mode::FrameTraced] {
        let (o, c, s) = run(&m, mode);
        assert_eq!(o.len(), out.len(), "{mode:?}: frames out");
        // Across sessions the order may differ (the nodes handle a frame's packets session by
        // session); within a session it (and the sequence numbers) must agree.
        for (sid, want) in &reference {
            let got = by_session(&o).remove(sid).unwrap_or_default();
            assert_eq!(got.len(), want.len(), "{mode:?}: session {sid:#x}");
            for (k, (x, y)) in got.iter().zip(want).enumerate() {
                assert!(
                    x == y,
                    "{mode:?}: session {sid:#x} frame {k}:\n{x:02x?}\n{y:02x?}"
                );
            }
        }
        assert_eq!(c, cnt, "{mode:?}: counters");
        assert_eq!(s, show, "{mode:?}: per-session counters");
    }
}

/// The counters less the ICMP error nodes' and pg-tx's (what the time-based rate limit lets
/// through differs with how long a run takes).
fn no_icmp(mut c: Counters) -> Counters {
    c.retain(|(n, _), _| !n.ends_with("icmp-error") && n != "pg-tx");
    c
}

const FWD: &[&str] = &[
    "create packet-generator interface pg0 hw-addr 02:fe:00:00:00:00",
    "create packet-generator interface pg1",
    "create packet-generator interface pg2",
    "set interface ip address pg0 fd00::1/64",
    "set interface ip address pg1 fd01::1/64",
    "set interface ip address pg2 fd02::1/64",
    "set interface state pg0 up",
    "set interface state pg1 up",
    "set interface state pg2 up",
    "set interface mtu ip6 1280 pg2",
    "set ip neighbor pg0 fd00::2 02:00:00:00:00:02 static",
    "set ip neighbor pg1 fd01::2 02:00:00:00:01:02 static",
    "set ip neighbor pg2 fd02::2 02:00:00:00:02:02 static",
    "ip route add 2001:db8:1::/48 via fd01::2",
    "ip route add 2001:db8:2::/48 via fd02::2",
];

/// Runs `pkts` through `setup` as one frame, untraced and partly traced, and checks each against
/// the single-packet reference (`out`, `cnt`): what leaves every port but pg0 and the counters.
fn same_as_single(setup: &[&str], pkts: &[Vec<u8>], out: &[Vec<Vec<u8>>], cnt: &Counters) {
    for mode in [Mode::Frame, Mode::FrameTraced] {
        let (o, c) = fwd_run(setup, pkts, mode);
        // pg0 gets the ICMP errors, which are rate limited by time: not compared (their
        // causes are, by the rewrite's counters).
        for (k, (x, y)) in o.iter().zip(out).enumerate().skip(1) {
            let (mut x, mut y) = (x.clone(), y.clone());
            // ICMP errors are made in another order when a whole frame is handled.
            x.sort();
            y.sort();
            assert!(x == y, "{mode:?}: frames out of pg{k}");
        }
        assert_eq!(no_icmp(c), no_icmp(cnt.clone()), "{mode:?}: counters");
    }
}

fn fwd_run(setup: &[&str], pkts: &[Vec<u8>], mode: Mode) -> (Vec<Vec<Vec<u8>>>, Counters) {
    let mut h = Harness::with("", &features());
    for l in setup {
        h.cli(l);
    }
    let caps: Vec<_> = ["pg0", "pg1", "pg2"].iter().map(|p| h.capture(p)).collect();
    feed(&mut h, "pg0", pkts, mode);
    let out = ["pg0", "pg1", "pg2"]
        .iter()
        .zip(caps)
        .map(|(p, c)| h.captured(p, &c))
        .collect();
    h.assert_all_free();
    (out, counters(&h))
}

#[test]
fn ip6_forward_batch_equals_single() {
    let mut rng = Rng(0x3e9c_0002);
    let src: std::net::Ipv6Addr = "fd00::2".parse().unwrap();
    let mut cur = 1u8;
    let pkts: Vec<Vec<u8>> = (0..240u32)
        .map(|i| {
            if rng.below(4) == 0 {
                cur = 1 + rng.below(2) as u8;
            }
            let dst: std::net::Ipv6Addr = format!("2001:db8:{cur}::{:x}", 1 + i).parse().unwrap();
            // Now and then a hop limit that runs out, or a packet over pg2's 1280.
            let hop = if rng.below(16) == 0 { 1 } else { 64 };
            let len = if rng.below(16) == 0 {
                1300
            } else {
                40 + rng.below(400) as usize
            };
            ip6_frame(
                PG0_MAC,
                [2, 0, 0, 0, 0, 2],
                src,
                dst,
                17,
                hop,
                &vec![i as u8; len],
            )
        })
        .collect();
    let (out, cnt) = fwd_run(FWD, &pkts, Mode::Single);
    assert!(
        out[1].len() > 50 && out[2].len() > 50,
        "both next hops used"
    );
    for (node, reason) in [
        ("ip6-rewrite", "ip6 ttl <= 1"),
        ("ip6-rewrite", "ip6 MTU exceeded"),
    ] {
        assert!(
            cnt.iter()
                .any(|((n, r), &c)| n == node && *r == reason && c > 0),
            "{node} `{reason}' in the reference: {cnt:?}"
        );
    }
    same_as_single(FWD, &pkts, &out, &cnt);
}

const FWD4: &[&str] = &[
    "create packet-generator interface pg0 hw-addr 02:fe:00:00:00:00",
    "create packet-generator interface pg1",
    "create packet-generator interface pg2",
    "set interface ip address pg0 10.0.0.1/24",
    "set interface ip address pg1 10.0.1.1/24",
    "set interface ip address pg2 10.0.2.1/24",
    "set interface state pg0 up",
    "set interface state pg1 up",
    "set interface state pg2 up",
    "set interface mtu ip4 1280 pg2",
    "set ip neighbor pg0 10.0.0.2 02:00:00:00:00:02 static",
    "set ip neighbor pg1 10.0.1.2 02:00:00:00:01:02 static",
    "set ip neighbor pg2 10.0.2.2 02:00:00:00:02:02 static",
    "ip route add 198.51.100.0/24 via 10.0.1.2",
    "ip route add 203.0.113.0/24 via 10.0.2.2",
];

/// An Ethernet/IPv4/UDP-ish frame to pg0 with a right header checksum; `df` set.
fn ip4_frame(dst: [u8; 4], ttl: u8, payload: usize, tag: u8) -> Vec<u8> {
    let mut f = PG0_MAC.to_vec();
    f.extend_from_slice(&[2, 0, 0, 0, 0, 2, 0x08, 0x00]);
    let total = (20 + payload) as u16;
    let mut h = [0u8; 20];
    h[0] = 0x45;
    h[2..4].copy_from_slice(&total.to_be_bytes());
    h[6] = 0x40;
    h[8] = ttl;
    h[9] = 17;
    h[12..16].copy_from_slice(&[10, 0, 0, 2]);
    h[16..20].copy_from_slice(&dst);
    let c = pwire_wire::checksum::internet_checksum(&h);
    h[10..12].copy_from_slice(&c.to_be_bytes());
    f.extend_from_slice(&h);
    f.extend(std::iter::repeat_n(tag, payload));
    f
}

#[test]
fn ip4_forward_batch_equals_single() {
    let mut rng = Rng(0x3e9c_0003);
    let mut cur = 0usize;
    let pkts: Vec<Vec<u8>> = (0..240u32)
        .map(|i| {
            if rng.below(4) == 0 {
                cur = rng.below(2) as usize;
            }
            let dst = [[198, 51, 100, 7], [203, 0, 113, 9]][cur];
            // Now and then a TTL that runs out, or a DF packet over pg2's 1280.
            let ttl = if rng.below(16) == 0 { 1 } else { 64 };
            let len = if rng.below(16) == 0 {
                1300
            } else {
                20 + rng.below(400) as usize
            };
            ip4_frame(dst, ttl, len, i as u8)
        })
        .collect();
    let (out, cnt) = fwd_run(FWD4, &pkts, Mode::Single);
    assert!(
        out[1].len() > 50 && out[2].len() > 50,
        "both next hops used"
    );
    for reason in ["ip4 ttl <= 1", "ip4 MTU exceeded and DF set"] {
        assert!(
            cnt.iter()
                .any(|((n, r), &c)| n == "ip4-rewrite" && *r == reason && c > 0),
            "ip4-rewrite `{reason}' in the reference: {cnt:?}"
        );
    }
    same_as_single(FWD4, &pkts, &out, &cnt);
}

/// Vectors `show runtime` gives node `name` (0 when it never ran).
fn vectors(rt: &str, name: &str) -> u64 {
    rt.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|w| w.len() == 7 && w[0] == name)
        .map_or(0, |w| w[3].parse().unwrap())
}

/// The midchain: a tunnel whose peer resolves to a complete adjacency sends its packets
/// straight to ip6-rewrite / ip4-rewrite (traced ones too: the trace shows the way taken), and
/// the peer's route still counts them; a peer without a resolved neighbour goes through
/// ip6-lookup to neighbour discovery as before, and once resolved takes the midchain.
#[test]
fn encap_midchain_skips_the_lookup_and_counts_the_route() {
    let mut h = Harness::with("l2tp { lookup-session-id }", &features());
    for l in SETUP {
        h.cli(l);
    }
    h.cli(
        "create l2tpv3 tunnel client fd00::3 our fd00::1 local-session-id 13 remote-session-id 23",
    );
    h.cli("set interface state l2tpv3_tunnel3 up");
    h.cli("set interface l2 bridge l2tpv3_tunnel3 1");
    h.cli("l2fib add 02:00:00:00:02:04 1 l2tpv3_tunnel3 static");
    let cap = h.capture("pg0");
    h.cli("trace add pg-input 2");
    let mut pkts: Vec<Vec<u8>> = (0..10).map(|i| frame(1, i, 100)).collect();
    pkts.extend((0..7).map(|i| frame(2, i, 100)));
    h.send("m", "pg1", "ethernet-input", &pkts);
    let out = h.captured("pg0", &cap);
    assert_eq!(out.len(), 17, "every frame encapsulated");
    let rt = h.cli("show runtime");
    assert_eq!(vectors(&rt, "ip6-lookup"), 0, "{rt}");
    assert_eq!(vectors(&rt, "ip4-lookup"), 0, "{rt}");
    assert_eq!(vectors(&rt, "ip6-rewrite"), 10, "{rt}");
    assert_eq!(vectors(&rt, "ip4-rewrite"), 7, "{rt}");
    let tr = h.cli("show trace");
    let enc = tr.find("l2tp-encap").expect("traced through l2tp-encap");
    assert!(tr[enc..].contains("ip6-rewrite"), "{tr}");
    assert!(!tr.contains("ip6-lookup"), "{tr}");
    // The routes to the peers count what went to them: 10 IPv6 packets of 40 + 4 + 8 (cookie) +
    // 100 bytes, 7 IPv4 ones of 20 + 4 + 4 (cookie) + 100.
    let fib6 = h.cli("show ip6 fib fd00::2/128");
    assert!(fib6.contains("to:[10:1520]"), "{fib6}");
    let fib4 = h.cli("show ip fib 192.0.2.2/32");
    assert!(fib4.contains("to:[7:896]"), "{fib4}");

    // fd00::3 has no neighbour: ip6-lookup, then the glean (neighbour discovery; the packet is
    // dropped, as VPP does). Resolved, the midchain takes over.
    h.send("u", "pg1", "ethernet-input", &[frame(4, 0, 100)]);
    let rt = h.cli("show runtime");
    assert_eq!(vectors(&rt, "ip6-lookup"), 1, "{rt}");
    assert_eq!(vectors(&rt, "ip6-glean"), 1, "{rt}");
    h.cli("set ip neighbor pg0 fd00::3 02:00:00:00:00:03 static");
    let cap = h.capture("pg0");
    h.send(
        "r",
        "pg1",
        "ethernet-input",
        &[frame(4, 1, 100), frame(4, 2, 100)],
    );
    let out = h.captured("pg0", &cap);
    assert_eq!(out.len(), 2);
    assert_eq!(out[0][..6], [2, 0, 0, 0, 0, 3], "to the resolved neighbour");
    let rt = h.cli("show runtime");
    assert_eq!(vectors(&rt, "ip6-lookup"), 1, "{rt}");
    assert_eq!(vectors(&rt, "ip6-rewrite"), 12, "{rt}");
    h.assert_all_free();
}
