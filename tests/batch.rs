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

/// One of the two tunnels of a variant.
struct Tun {
    sid: u32,
    client: &'static str,
    our: &'static str,
    /// The local cookie packets must carry, and the previous one after a rollover.
    cookie: Vec<u8>,
    old_cookie: Option<Vec<u8>>,
    sublayer: bool,
    seq: bool,
    /// Extra `create l2tpv3 tunnel` arguments.
    args: &'static str,
}

/// A configuration the loops must agree with the general path under.
struct Variant {
    conf: &'static str,
    tuns: [Tun; 2],
    /// Extra uplink set-up (addresses, neighbours).
    setup: &'static [&'static str],
    /// Lines after the tunnels exist (cookie rollovers).
    after: &'static [&'static str],
}

/// VPP's layout: 8-byte cookies, session-id lookup.
fn vpp() -> Variant {
    Variant {
        conf: "l2tp { lookup-session-id }",
        tuns: [
            Tun {
                sid: 10,
                client: "fd00::2",
                our: "fd00::1",
                cookie: FF8.to_vec(),
                old_cookie: None,
                sublayer: false,
                seq: false,
                args: "",
            },
            Tun {
                sid: 11,
                client: "fd00::3",
                our: "fd00::1",
                cookie: FF8.to_vec(),
                old_cookie: None,
                sublayer: false,
                seq: false,
                args: "",
            },
        ],
        setup: &[],
        after: &[],
    }
}

/// A 4-byte cookie rolled over (old and new accepted) and a cookie-less session with the
/// sublayer.
fn cookies() -> Variant {
    let mut v = vpp();
    v.tuns[0].cookie = vec![0x55, 0x66, 0x77, 0x88];
    v.tuns[0].old_cookie = Some(vec![0x11, 0x22, 0x33, 0x44]);
    v.tuns[0].args = "cookie-size 4 local-cookie 11223344 remote-cookie 99aabbcc";
    v.tuns[1].cookie = Vec::new();
    v.tuns[1].sublayer = true;
    v.tuns[1].args = "cookie-size 0 l2-sublayer-present";
    v.after = &["set l2tpv3 tunnel cookie l2tpv3_tunnel0 local 55667788 remote 99aabbcd"];
    v
}

/// Lookup on the source address (the clients differ).
fn src_mode() -> Variant {
    let mut v = vpp();
    v.conf = "l2tp { lookup-v6-src }";
    v
}

/// Lookup on the destination address: each tunnel has its own local address.
fn dst_mode() -> Variant {
    let mut v = vpp();
    v.conf = "l2tp { lookup-v6-dst }";
    v.tuns[1].our = "fd01::1";
    v.tuns[1].client = "fd01::3";
    v.setup = &[
        "set interface ip address pg0 fd01::1/64",
        "set ip neighbor pg0 fd01::3 02:00:00:00:00:03 static",
    ];
    v
}

/// Tunnel 0 sequenced (the general path, with the shared window) next to an unsequenced one.
fn sequenced() -> Variant {
    let mut v = vpp();
    v.tuns[0].seq = true;
    v.tuns[0].sublayer = true;
    v.tuns[0].args = "sequencing";
    v
}

/// Two tunnels and pg1 in bridge domain 1; pg0 is the uplink fd00::1.
/// With `feature`, decap is also the ip6-unicast feature on pg0.
fn topo(h: &mut Harness, v: &Variant, feature: bool) {
    pg_uplink(h);
    for l in v.setup {
        h.cli(l);
    }
    for t in &v.tuns {
        h.cli(&format!(
            "create l2tpv3 tunnel client {} our {} local-session-id {} remote-session-id {} {}",
            t.client,
            t.our,
            t.sid,
            t.sid + 10,
            t.args
        ));
    }
    for l in [
        "create packet-generator interface pg1",
        "set interface state pg1 up",
        "set ip neighbor pg0 fd00::3 02:00:00:00:00:03 static",
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
    for l in v.after {
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

/// Builds a variant's packets; keeps the sequenced tunnel's next number.
struct Gen<'a> {
    v: &'a Variant,
    seq: u32,
}

/// Which cookie a packet carries.
#[derive(Clone, Copy)]
enum Ck {
    Good,
    Old,
    Bad,
}

impl Gen<'_> {
    /// A packet for tunnel `t` (0 or 1; a session id no tunnel has for any other).
    fn tunnel(&mut self, t: usize, ck: Ck, inner: &[u8]) -> Vec<u8> {
        let (sid, tun) = match self.v.tuns.get(t) {
            Some(x) => (x.sid, x),
            None => (t as u32, &self.v.tuns[0]),
        };
        let seq = tun.seq.then(|| {
            self.seq += 1;
            self.seq - 1
        });
        self.raw(
            tun.client,
            tun.our,
            sid,
            t,
            ck,
            seq.map(|q| 0x4000_0000 | q),
            inner,
        )
    }

    /// A packet for the sequenced tunnel 0 with number `seq` (`None`: no S bit), whatever
    /// the next number is.
    fn seq0(&self, seq: Option<u32>, inner: &[u8]) -> Vec<u8> {
        let t = &self.v.tuns[0];
        let sub = seq.map_or(0, |q| 0x4000_0000 | q);
        self.raw(t.client, t.our, t.sid, 0, Ck::Good, Some(sub), inner)
    }

    #[allow(clippy::too_many_arguments)]
    fn raw(
        &self,
        src: &str,
        dst: &str,
        sid: u32,
        t: usize,
        ck: Ck,
        sublayer: Option<u32>,
        inner: &[u8],
    ) -> Vec<u8> {
        let tun = self.v.tuns.get(t).unwrap_or(&self.v.tuns[0]);
        let mut hdr = match ck {
            Ck::Good => tun.cookie.clone(),
            Ck::Old => tun.old_cookie.clone().unwrap_or_else(|| tun.cookie.clone()),
            Ck::Bad => bad_cookie(&tun.cookie),
        };
        if tun.sublayer {
            hdr.extend_from_slice(&sublayer.unwrap_or(0).to_be_bytes());
        }
        l2tp_frame(PG0_MAC, PEER_MAC, addr(src), addr(dst), sid, &hdr, inner)
    }
}

/// The seeded mix: mostly runs of the same good packet, broken by every kind of exception.
fn mix(v: &Variant, seed: u64, n: usize, extra: u32) -> Vec<Vec<u8>> {
    let mut g = Gen { v, seq: 0 };
    let mut rng = Rng(seed);
    let mut out = Vec::with_capacity(n);
    let mut cur = g.tunnel(0, Ck::Good, &inner(1, 1, false, 0));
    let mut cur_t = 0usize;
    let mut cur_inner = inner(1, 1, false, 0);
    while out.len() < n {
        let tag = out.len() as u8;
        let kind = rng.below(22);
        let p = match kind {
            // A new "current" packet, repeated for a while.
            0 => {
                cur_t = rng.below(2) as usize;
                let src = if cur_t == 1 {
                    0x10
                } else {
                    1 + rng.below(2) as u8
                };
                let dst = [1u8, 2, 0xff][rng.below(3) as usize];
                cur_inner = inner(src, dst, rng.below(4) == 0, tag);
                cur = g.tunnel(cur_t, Ck::Good, &cur_inner);
                cur.clone()
            }
            1 => g.tunnel(0, Ck::Bad, &inner(1, 1, false, tag)),
            2 => g.tunnel(99, Ck::Good, &inner(1, 1, false, tag)),
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
                g.tunnel(0, Ck::Good, &i[..10])
            }
            // Sessions alternating packet by packet (the varied-session loops).
            9 | 10 => {
                let odd = rng.below(6) as u8;
                for j in 0..6u8 {
                    let t = usize::from(j & 1);
                    let src = if t == 1 { 0x10 } else { 1 };
                    let i = inner(src, 1 + (j % 3), false, tag.wrapping_add(j));
                    // One exception in the middle of the alternation.
                    out.push(match (j == odd).then(|| rng.below(4)) {
                        Some(0) => {
                            // Inner frame under 14 bytes, Ethernet padding after the packet.
                            let mut f = g.tunnel(t, Ck::Good, &i[..12]);
                            f.extend_from_slice(&[0xee; 8]);
                            f
                        }
                        Some(1) => g.tunnel(t, Ck::Bad, &i),
                        Some(2) => {
                            // The session's id from a stranger.
                            let tun = &v.tuns[t];
                            g.raw("fd00::9", tun.our, tun.sid, t, Ck::Good, None, &i)
                        }
                        Some(_) => g.tunnel(77, Ck::Good, &i),
                        None => g.tunnel(t, Ck::Good, &i),
                    });
                }
                g.tunnel(1, Ck::Good, &inner(0x10, 0xff, false, tag))
            }
            11 => g.tunnel(1, Ck::Good, &inner(1, 2, false, tag)),
            // A session of the big table (down): dropped by decap.
            12 if extra > 0 => g.tunnel(
                1000 + rng.below(u64::from(extra)) as usize,
                Ck::Good,
                &inner(1, 1, false, tag),
            ),
            // The previous cookie after a rollover (the current one where there was none).
            13 => g.tunnel(0, Ck::Old, &inner(1, 1, false, tag)),
            // A stranger's packet with the current session's id, to our address.
            14 => {
                let tun = &v.tuns[cur_t];
                g.raw(
                    "fd00::9",
                    tun.our,
                    tun.sid,
                    cur_t,
                    Ck::Good,
                    None,
                    &cur_inner,
                )
            }
            // Sequencing exceptions on the sequenced tunnel: a duplicate, a stray far ahead,
            // no S bit.
            15 if v.tuns[0].seq => g.seq0(Some(g.seq.saturating_sub(1)), &cur_inner),
            16 if v.tuns[0].seq => g.seq0(Some((g.seq + 0x40_0000) & 0xff_ffff), &cur_inner),
            17 if v.tuns[0].seq => g.seq0(None, &cur_inner),
            // Repeat the current packet (a sequenced tunnel's next number).
            _ if v.tuns[cur_t].seq => g.tunnel(cur_t, Ck::Good, &cur_inner),
            _ => cur.clone(),
        };
        out.push(p);
    }
    out.truncate(n);
    out
}

/// A tunnel's cookie with its last byte changed.
fn bad_cookie(c: &[u8]) -> Vec<u8> {
    let mut c = c.to_vec();
    if let Some(l) = c.last_mut() {
        *l ^= 0x5a;
    }
    c
}

/// What the counters must show for `pkts`: (packets with a wrong cookie for a tunnel that has
/// one, packets from the stranger fd00::9 with a tunnel's session id).
fn expected(v: &Variant, pkts: &[Vec<u8>]) -> (u64, u64) {
    let (mut bad, mut strangers) = (0, 0);
    for p in pkts {
        if p.len() < 14 + 40 + 4 + 8 || p[12..14] != [0x86, 0xdd] || p[14 + 6] != 115 {
            continue;
        }
        let sid = u32::from_be_bytes([p[54], p[55], p[56], p[57]]);
        let Some(t) = v.tuns.iter().find(|t| t.sid == sid) else {
            continue;
        };
        if p[14 + 8..14 + 24] == addr("fd00::9").octets() {
            strangers += 1;
        } else if !t.cookie.is_empty() && p[58..58 + t.cookie.len()] == bad_cookie(&t.cookie)[..] {
            bad += 1;
        }
    }
    (bad, strangers)
}

/// Every node counter by (node, reason), leaving out the L2 learning counts that depend on
/// when learning is published (between frames: see [`inner`]).
fn counters(h: &Harness) -> BTreeMap<(String, &'static str), u64> {
    pwire_tests::node_counters(h, |n, c| {
        n == "l2-learn"
            && matches!(
                c,
                "L2 learn misses" | "L2 mac moves" | "L2 learn hit updates"
            )
    })
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

fn run(v: &Variant, feature: bool, extra: u32, pkts: &[Vec<u8>], mode: Mode) -> Outcome {
    let mut h = Harness::with(v.conf, &features());
    topo(&mut h, v, feature);
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
    // (The sequenced tunnel's warm-up numbers come after the mix's: far ahead, and the window
    // moves to the mix's numbers after SEQ_RESYNC of them, the same way in every mode.)
    let mut g = Gen { v, seq: 0xf0_0000 };
    let warm: Vec<Vec<u8>> = [(0, 1), (0, 2), (1, 0x10)]
        .iter()
        .map(|&(t, src)| g.tunnel(t, Ck::Good, &inner(src, 0xff, false, 0)))
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
        pwire_tests::send_traced_one_by_one(&mut h, "pg0", "ethernet-input", pkts);
    }
    let mut pg0 = h.captured("pg0", &c0);
    let mut pg1 = h.captured("pg1", &c1);
    // Replies, encapsulations and floods take different paths: compare what left, not when.
    // A sequenced tunnel numbers frames in the order encap sees them, which differs with
    // the frame boundaries: compare those frames without their numbers.
    if v.tuns[0].seq {
        let rsid = (v.tuns[0].sid + 10).to_be_bytes();
        for p in pg0.iter_mut() {
            if p.len() >= 70 && p[14 + 6] == 115 && p[54..58] == rsid {
                p[67..70].fill(0);
            }
        }
    }
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

fn same(v: &Variant, feature: bool, extra: u32, seed: u64) {
    // Nearly a whole frame: every loop meets runs, changes and exceptions in one frame.
    let pkts = mix(v, seed, pwire_graph::FRAME_SIZE - 6, extra);
    let s = run(v, feature, extra, &pkts, Mode::Single);
    let what = format!("{} {}", v.conf, if feature { "feature" } else { "local" });
    assert!(
        !s.pg1.is_empty() && !s.pg0.is_empty(),
        "{what}: the mix delivers and replies"
    );
    // The reference itself is right about what the mix holds.
    let node = if feature {
        "l2tp-decap"
    } else {
        "l2tp-decap-local"
    };
    let count = |r: &'static str| s.counters.get(&(node.to_string(), r)).copied().unwrap_or(0);
    let (bad, strangers) = expected(v, &pkts);
    assert!(
        bad > 0 || v.tuns.iter().all(|t| t.cookie.is_empty()),
        "{what}: the mix has bad cookies"
    );
    assert!(strangers > 0, "{what}: the mix has strangers");
    assert_eq!(count("l2tpv3 local cookie mismatches"), bad, "{what}");
    let strangers_seen = if v.conf.contains("src") {
        // Not a session's source: the feature lets it on to ip6-local, decap-local refuses it.
        s.counters
            .get(&("l2tp-decap-local".to_string(), "l2tpv3 session not found"))
            .copied()
            .unwrap_or(0)
    } else {
        count("l2tpv3 session address mismatch")
    };
    assert!(
        strangers_seen >= strangers,
        "{what}: {strangers_seen} of {strangers} strangers refused"
    );
    if v.tuns[0].seq {
        assert!(count("l2tpv3 sequence number missing") > 0, "{what}");
        assert!(
            count("l2tpv3 sequence number out of order or duplicate") > 0,
            "{what}"
        );
    }
    for mode in [Mode::Frame, Mode::FrameTraced] {
        let b = run(v, feature, extra, &pkts, mode);
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
    same(&vpp(), false, 0, 0xba7c_0001);
}

#[test]
fn decap_feature_batch_equals_single() {
    same(&vpp(), true, 0, 0xba7c_0002);
}

#[test]
fn decap_big_session_table_batch_equals_single() {
    same(&vpp(), false, EXTRA, 0xba7c_0003);
}

#[test]
fn decap_cookie_sizes_and_rollover_batch_equals_single() {
    same(&cookies(), false, 0, 0xba7c_0004);
}

#[test]
fn decap_src_lookup_batch_equals_single() {
    same(&src_mode(), true, 0, 0xba7c_0005);
}

#[test]
fn decap_dst_lookup_batch_equals_single() {
    same(&dst_mode(), false, 0, 0xba7c_0006);
}

#[test]
fn decap_sequenced_batch_equals_single() {
    same(&sequenced(), false, 0, 0xba7c_0007);
}
