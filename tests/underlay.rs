//! L2TPv3 over IPv4 and over UDP (both families), through the whole graph: every tunnel variant
//! encapsulates byte-exact against frames built here from the RFCs (not by pwire's encoder:
//! this file's own header builders and checksum), decapsulates frames built the same way, and
//! drops what it must under the counters an operator reads. tshark decodes what pwire sends.
//!
//! Topology: pg0 is the uplink (192.0.2.1/24 and fd00::1/64, peer 192.0.2.2 / fd00::2 at
//! PEER_MAC), pg1 the access port, cross-connected with `l2tpv3_tunnel0`.

use pwire_testkit::Harness;
use pwire_tests::{features, PEER_MAC, PG0_MAC};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

const OUR4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const PEER4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
const OUR6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1);
const PEER6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2);

/// RFC 1071, written out here rather than taken from pwire-wire.
fn csum(parts: &[&[u8]]) -> u16 {
    let mut all = Vec::new();
    for p in parts {
        all.extend_from_slice(p);
    }
    if all.len() % 2 == 1 {
        all.push(0);
    }
    let mut s: u32 = 0;
    for w in all.chunks(2) {
        s += u32::from(u16::from_be_bytes([w[0], w[1]]));
    }
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

/// How a test tunnel is carried.
#[derive(Debug, Clone, Copy)]
struct Enc {
    v4: bool,
    /// (our/local port, peer/remote port) over UDP.
    udp: Option<(u16, u16)>,
    /// UDP checksum computed (else 0).
    csum: bool,
    /// IPv4 DF.
    df: bool,
    /// TTL / hop limit on the wire.
    ttl: u8,
    ident: u16,
}

impl Enc {
    fn ip(v4: bool) -> Enc {
        Enc {
            v4,
            udp: None,
            csum: false,
            df: true,
            ttl: 254,
            ident: 0,
        }
    }
    fn udp(v4: bool, csum: bool) -> Enc {
        Enc {
            udp: Some((1701, 1701)),
            csum,
            ..Enc::ip(v4)
        }
    }
}

/// The outer frame a peer sends (or pwire must send: `from_us`) around `l2tp` (the L2TPv3 header
/// from the session id on, and the inner frame).
fn outer(e: Enc, from_us: bool, l2tp: &[u8]) -> Vec<u8> {
    let (src, dst): (IpAddr, IpAddr) = match (e.v4, from_us) {
        (true, true) => (OUR4.into(), PEER4.into()),
        (true, false) => (PEER4.into(), OUR4.into()),
        (false, true) => (OUR6.into(), PEER6.into()),
        (false, false) => (PEER6.into(), OUR6.into()),
    };
    let mut payload = Vec::new();
    let proto = if let Some((ours, theirs)) = e.udp {
        let (sp, dp) = if from_us {
            (ours, theirs)
        } else {
            (theirs, ours)
        };
        let len = (8 + 4 + l2tp.len()) as u16;
        let mut u = Vec::new();
        u.extend_from_slice(&sp.to_be_bytes());
        u.extend_from_slice(&dp.to_be_bytes());
        u.extend_from_slice(&len.to_be_bytes());
        u.extend_from_slice(&[0, 0]);
        u.extend_from_slice(&[0x00, 0x03, 0, 0]);
        u.extend_from_slice(l2tp);
        if e.csum {
            let pseudo: Vec<u8> = match (src, dst) {
                (IpAddr::V4(s), IpAddr::V4(d)) => {
                    [&s.octets()[..], &d.octets(), &[0, 17], &len.to_be_bytes()].concat()
                }
                (IpAddr::V6(s), IpAddr::V6(d)) => [
                    &s.octets()[..],
                    &d.octets(),
                    &u32::from(len).to_be_bytes(),
                    &[0, 0, 0, 17],
                ]
                .concat(),
                _ => unreachable!(),
            };
            let mut c = csum(&[&pseudo, &u]);
            if c == 0 {
                c = 0xffff;
            }
            u[6..8].copy_from_slice(&c.to_be_bytes());
        }
        payload = u;
        17u8
    } else {
        payload.extend_from_slice(l2tp);
        115
    };
    let mut f = Vec::new();
    if from_us {
        f.extend_from_slice(&PEER_MAC);
        f.extend_from_slice(&PG0_MAC);
    } else {
        f.extend_from_slice(&PG0_MAC);
        f.extend_from_slice(&PEER_MAC);
    }
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            f.extend_from_slice(&[0x08, 0x00]);
            let mut h = vec![0x45, 0];
            h.extend_from_slice(&((20 + payload.len()) as u16).to_be_bytes());
            h.extend_from_slice(&e.ident.to_be_bytes());
            h.extend_from_slice(&[if e.df { 0x40 } else { 0 }, 0, e.ttl, proto, 0, 0]);
            h.extend_from_slice(&s.octets());
            h.extend_from_slice(&d.octets());
            let c = csum(&[&h]);
            h[10..12].copy_from_slice(&c.to_be_bytes());
            f.extend_from_slice(&h);
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            f.extend_from_slice(&[0x86, 0xdd, 0x60, 0, 0, 0]);
            f.extend_from_slice(&(payload.len() as u16).to_be_bytes());
            f.extend_from_slice(&[proto, e.ttl]);
            f.extend_from_slice(&s.octets());
            f.extend_from_slice(&d.octets());
        }
        _ => unreachable!(),
    }
    f.extend_from_slice(&payload);
    f
}

/// The L2TPv3 header (session id, cookie, optional sublayer word) and the inner frame.
fn l2tp(sid: u32, cookie: &[u8], sub: Option<u32>, inner: &[u8]) -> Vec<u8> {
    let mut l = sid.to_be_bytes().to_vec();
    l.extend_from_slice(cookie);
    if let Some(w) = sub {
        l.extend_from_slice(&w.to_be_bytes());
    }
    l.extend_from_slice(inner);
    l
}

fn inner(tag: u8, len: usize) -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 2, 1, 0x02, 0, 0, 0, 1, 1, 0x88, 0xb5];
    f.extend((0..len - 14).map(|i| (i as u8).wrapping_mul(3).wrapping_add(tag)));
    f
}

fn harness(conf: &str) -> Harness {
    let mut h = Harness::with(conf, &features());
    for l in [
        "create packet-generator interface pg0 hw-addr 02:fe:00:00:00:00",
        "create packet-generator interface pg1",
        "set interface ip address pg0 192.0.2.1/24",
        "set interface ip address pg0 fd00::1/64",
        "set interface state pg0 up",
        "set interface state pg1 up",
        "set ip neighbor pg0 192.0.2.2 02:00:00:00:00:02 static",
        "set ip neighbor pg0 fd00::2 02:00:00:00:00:02 static",
    ] {
        h.cli(l);
    }
    h
}

/// Creates the tunnel (`args` after the addresses) and cross-connects it with pg1.
fn tunnel(h: &mut Harness, v4: bool, args: &str) {
    let (c, o) = if v4 {
        ("192.0.2.2", "192.0.2.1")
    } else {
        ("fd00::2", "fd00::1")
    };
    let out = h.cli(&format!(
        "create l2tpv3 tunnel client {c} our {o} local-session-id 10 remote-session-id 20 {args}"
    ));
    assert_eq!(out, "l2tpv3_tunnel0\n", "{args}");
    for l in [
        "set interface state l2tpv3_tunnel0 up",
        "set interface l2 xconnect pg1 l2tpv3_tunnel0",
        "set interface l2 xconnect l2tpv3_tunnel0 pg1",
    ] {
        h.cli(l);
    }
}

/// (name, v4, create arguments, encapsulation, the cookie it sends, sublayer) of a variant.
type Variant = (&'static str, bool, &'static str, Enc, Vec<u8>, bool);

/// Every variant.
fn variants() -> Vec<Variant> {
    let ff = vec![0xff; 8];
    vec![
        ("ip4", true, "", Enc::ip(true), ff.clone(), false),
        (
            "ip4 4-byte cookie, sublayer",
            true,
            "cookie-size 4 local-cookie 11223344 remote-cookie 55667788 l2-sublayer-present",
            Enc::ip(true),
            vec![0x55, 0x66, 0x77, 0x88],
            true,
        ),
        (
            "ip4 no cookie, ttl 64, df off",
            true,
            "cookie-size 0 ttl 64 df off",
            Enc {
                df: false,
                ttl: 64,
                ..Enc::ip(true)
            },
            vec![],
            false,
        ),
        (
            "udp4",
            true,
            "encap udp",
            Enc::udp(true, false),
            ff.clone(),
            false,
        ),
        (
            "udp4 checksum, other ports",
            true,
            "encap udp local-port 5000 remote-port 6000 udp-checksum on",
            Enc {
                udp: Some((5000, 6000)),
                ..Enc::udp(true, true)
            },
            ff.clone(),
            false,
        ),
        (
            "udp6",
            false,
            "encap udp",
            Enc::udp(false, true),
            ff.clone(),
            false,
        ),
        (
            "udp6 zero checksum, sublayer",
            false,
            "encap udp udp-checksum off l2-sublayer-present cookie-size 0",
            Enc::udp(false, false),
            vec![],
            true,
        ),
        ("ip6", false, "", Enc::ip(false), ff, false),
    ]
}

#[test]
fn every_variant_encapsulates_byte_exact() {
    for (name, v4, args, enc, cookie, sub) in variants() {
        let mut h = harness("");
        tunnel(&mut h, v4, args);
        let frames: Vec<Vec<u8>> = (0..3).map(|i| inner(i, 60 + 37 * usize::from(i))).collect();
        let cap = h.capture("pg0");
        h.send("in", "pg1", "ethernet-input", &frames);
        let got = h.captured("pg0", &cap);
        assert_eq!(got.len(), 3, "{name}: {}", h.cli("show errors"));
        for (i, (g, f)) in got.iter().zip(&frames).enumerate() {
            let e = Enc {
                ident: if enc.df { 0 } else { i as u16 },
                ..enc
            };
            let want = outer(e, true, &l2tp(20, &cookie, sub.then_some(0), f));
            assert_eq!(g, &want, "{name}: frame {i}");
        }
        h.assert_all_free();
    }
}

#[test]
fn every_variant_decapsulates_what_a_peer_sends() {
    for (name, v4, args, enc, _, sub) in variants() {
        // What the peer sends: its own (remote) cookie is our local one.
        let local: Vec<u8> = match args {
            a if a.contains("cookie-size 4") => vec![0x11, 0x22, 0x33, 0x44],
            a if a.contains("cookie-size 0") => vec![],
            _ => vec![0xff; 8],
        };
        let mut h = harness("");
        tunnel(&mut h, v4, args);
        let e = Enc { ttl: 64, ..enc };
        let frames: Vec<Vec<u8>> = (0..4)
            .map(|i| inner(i, 64 + 100 * usize::from(i)))
            .collect();
        let wire: Vec<Vec<u8>> = frames
            .iter()
            .map(|f| outer(e, false, &l2tp(10, &local, sub.then_some(0), f)))
            .collect();
        let cap = h.capture("pg1");
        h.send("wire", "pg0", "ethernet-input", &wire);
        let got = h.captured("pg1", &cap);
        assert_eq!(got, frames, "{name}: {}", h.cli("show errors"));
        let v = h.cli("show l2tpv3 verbose");
        assert!(v.contains("user-to-net: 4 pkts"), "{name}: {v}");
        h.assert_all_free();
    }
}

fn counter_in(h: &Harness, node: &str, name: &str) -> u64 {
    h.counter(node, name)
}

#[test]
fn udp_decap_drops_what_it_must_by_name() {
    let mut h = harness("");
    tunnel(&mut h, true, "encap udp udp-checksum on");
    let f = inner(1, 80);
    let good = outer(Enc::udp(true, true), false, &l2tp(10, &[0xff; 8], None, &f));
    // A corrupted UDP checksum.
    let mut bad_csum = good.clone();
    let n = bad_csum.len();
    bad_csum[n - 1] ^= 0x55;
    // From another source port: the session's address check includes the ports.
    let other_port = outer(
        Enc {
            udp: Some((1701, 1702)),
            ..Enc::udp(true, true)
        },
        false,
        &l2tp(10, &[0xff; 8], None, &f),
    );
    // T bit (a control message) and version 2 on the port.
    let mut control = good.clone();
    control[14 + 20 + 8] = 0xc8;
    control[14 + 20 + 9] = 0x03;
    let mut v2 = good.clone();
    v2[14 + 20 + 9] = 0x02;
    for p in [&mut control, &mut v2] {
        // Keep the UDP checksum right so the lookup lets them through.
        p[14 + 20 + 6] = 0;
        p[14 + 20 + 7] = 0;
    }
    // A port nothing listens on gets an ICMP port unreachable.
    let no_listener = outer(
        Enc {
            udp: Some((4000, 1701)),
            csum: false,
            ..Enc::udp(true, false)
        },
        false,
        &l2tp(10, &[0xff; 8], None, &f),
    );
    let up = h.capture("pg0");
    let cap = h.capture("pg1");
    h.send(
        "w",
        "pg0",
        "ethernet-input",
        &[good, bad_csum, other_port, control, v2, no_listener],
    );
    assert_eq!(h.captured("pg1", &cap), vec![f], "{}", h.cli("show errors"));
    assert_eq!(counter_in(&h, "ip4-udp-lookup", "bad udp checksum"), 1);
    assert_eq!(
        counter_in(&h, "l2tp4-udp-decap", "l2tpv3 session address mismatch"),
        1
    );
    assert_eq!(
        counter_in(
            &h,
            "l2tp4-udp-decap",
            "l2tpv3 control messages to the control plane"
        ),
        1
    );
    assert_eq!(counter_in(&h, "l2tp4-udp-decap", "l2tpv2 packet"), 1);
    assert_eq!(
        counter_in(&h, "ip4-udp-lookup", "no listener for dst port"),
        1
    );
    let icmp: Vec<Vec<u8>> = h
        .captured("pg0", &up)
        .into_iter()
        .filter(|p| p.len() > 36 && p[12..14] == [8, 0] && p[23] == 1)
        .collect();
    assert_eq!(icmp.len(), 1, "one ICMP error");
    assert_eq!((icmp[0][34], icmp[0][35]), (3, 3), "port unreachable");
    h.assert_all_free();
}

#[test]
fn ipv6_zero_udp_checksum_only_where_configured() {
    let f = inner(2, 90);
    let zero = outer(
        Enc::udp(false, false),
        false,
        &l2tp(10, &[0xff; 8], None, &f),
    );
    // Checksum on (the IPv6 default): a zero checksum is refused.
    let mut h = harness("");
    tunnel(&mut h, false, "encap udp");
    let cap = h.capture("pg1");
    h.send("w", "pg0", "ethernet-input", std::slice::from_ref(&zero));
    assert!(h.captured("pg1", &cap).is_empty());
    assert_eq!(
        counter_in(&h, "ip6-udp-lookup", "udp zero checksum refused"),
        1
    );
    // Off: accepted.
    let mut h = harness("");
    tunnel(&mut h, false, "encap udp udp-checksum off");
    let cap = h.capture("pg1");
    h.send("w", "pg0", "ethernet-input", &[zero]);
    assert_eq!(h.captured("pg1", &cap), vec![f]);
}

#[test]
fn ipv4_and_ipv6_tunnels_share_a_bridge_and_session_ids_stay_unique() {
    let mut h = harness("l2tp { lookup-session-id }");
    let lines = [
        "create l2tpv3 tunnel client 192.0.2.2 our 192.0.2.1 local-session-id 10 remote-session-id 20",
        "create l2tpv3 tunnel client fd00::2 our fd00::1 local-session-id 11 remote-session-id 21",
        "create l2tpv3 tunnel client 192.0.2.2 our 192.0.2.1 local-session-id 12 remote-session-id 22 encap udp",
    ];
    for (i, l) in lines.iter().enumerate() {
        assert_eq!(h.cli(l), format!("l2tpv3_tunnel{i}\n"));
        h.cli(&format!("set interface state l2tpv3_tunnel{i} up"));
        h.cli(&format!("set interface l2 bridge l2tpv3_tunnel{i} 1"));
    }
    h.cli("set interface l2 bridge pg1 1");
    // Session id 10 is taken by the IPv4 tunnel: not again over IPv6.
    let e = h.cli_err(
        "create l2tpv3 tunnel client fd00::3 our fd00::1 local-session-id 10 remote-session-id 30",
    );
    assert!(e.contains("session already exists"), "{e}");
    // A frame from each tunnel reaches pg1; the bridge learns each source behind its tunnel,
    // then a frame from pg1 to each goes out over the right family and encapsulation.
    let macs: [[u8; 6]; 3] = [[2, 0, 0, 0, 9, 1], [2, 0, 0, 0, 9, 2], [2, 0, 0, 0, 9, 3]];
    let host = [2, 0, 0, 0, 7, 7];
    let eth = |dst: [u8; 6], src: [u8; 6]| {
        let mut f = dst.to_vec();
        f.extend_from_slice(&src);
        f.extend_from_slice(&[0x88, 0xb5]);
        f.extend_from_slice(&[0xab; 50]);
        f
    };
    let from_peer = [
        outer(
            Enc {
                ttl: 64,
                ..Enc::ip(true)
            },
            false,
            &l2tp(10, &[0xff; 8], None, &eth(host, macs[0])),
        ),
        outer(
            Enc {
                ttl: 64,
                ..Enc::ip(false)
            },
            false,
            &l2tp(11, &[0xff; 8], None, &eth(host, macs[1])),
        ),
        outer(
            Enc {
                ttl: 64,
                ..Enc::udp(true, false)
            },
            false,
            &l2tp(12, &[0xff; 8], None, &eth(host, macs[2])),
        ),
    ];
    let cap = h.capture("pg1");
    h.send("w", "pg0", "ethernet-input", &from_peer);
    assert_eq!(h.captured("pg1", &cap).len(), 3, "{}", h.cli("show errors"));
    let up = h.capture("pg0");
    let back: Vec<Vec<u8>> = macs.iter().map(|m| eth(*m, host)).collect();
    h.send("b", "pg1", "ethernet-input", &back);
    // The families leave through different nodes: their order on the wire is the graph's.
    let mut got = h.captured("pg0", &up);
    got.sort();
    let mut want: Vec<Vec<u8>> = vec![
        outer(Enc::ip(true), true, &l2tp(20, &[0xff; 8], None, &back[0])),
        outer(Enc::ip(false), true, &l2tp(21, &[0xff; 8], None, &back[1])),
        outer(
            Enc::udp(true, false),
            true,
            &l2tp(22, &[0xff; 8], None, &back[2]),
        ),
    ];
    want.sort();
    assert_eq!(got, want);
    h.assert_all_free();
}

#[test]
fn cli_refuses_what_makes_no_tunnel_naming_the_token() {
    let mut h = harness("");
    for (line, want) in [
        (
            "create l2tpv3 tunnel client 192.0.2.2 our fd00::1",
            "must be of one family",
        ),
        (
            "create l2tpv3 tunnel client 192.0.2.2 our 192.0.2.1 local-port 5000",
            "need `encap udp'",
        ),
        (
            "create l2tpv3 tunnel client 192.0.2.2 our 192.0.2.1 encap udp local-port 0",
            "local-port must be 1..65535: `0'",
        ),
        (
            "create l2tpv3 tunnel client 192.0.2.2 our 192.0.2.1 encap tcp",
            "encap must be ip or udp: `tcp'",
        ),
        (
            "create l2tpv3 tunnel client 192.0.2.x our 192.0.2.1",
            "`192.0.2.x' is not an IPv6 or IPv4 address",
        ),
        (
            "create l2tpv3 tunnel client 192.0.2.2 our 192.0.2.1 df maybe",
            "df must be on or off: `maybe'",
        ),
    ] {
        let e = h.cli_err(line);
        assert!(e.contains(want), "{line}: {e}");
    }
    assert!(h.cli("show l2tpv3").contains("No l2tp sessions"));
}

#[test]
fn show_l2tpv3_verbose_says_family_encapsulation_and_the_mtu_arithmetic() {
    let mut h = harness("");
    tunnel(&mut h, true, "encap udp local-port 5000");
    let v = h.cli("show l2tpv3 verbose");
    assert!(
        v.contains("[0] 192.0.2.1 (our) 192.0.2.2 (client) l2tpv3_tunnel0"),
        "{v}"
    );
    assert!(
        v.contains("family ip4, encap udp local-port 5000 remote-port 1701, udp checksum off (zero), df on"),
        "{v}"
    );
    // 14 + 20 + 8 + 4 + 12 = 58; 9000 - 44 = 8956 (pg's default MTU).
    assert!(
        v.contains("encap overhead 58 bytes (ethernet 14, ip4 20, udp 8 + 4, l2tpv3 12), egress pg0 ip4 mtu"),
        "{v}"
    );
    // Deleting it switches the port off: a packet to 5000 gets a port unreachable again.
    h.cli("create l2tpv3 tunnel client 192.0.2.2 our 192.0.2.1 local-session-id 10 del");
    let f = outer(
        Enc {
            udp: Some((5000, 1701)),
            ..Enc::udp(true, false)
        },
        false,
        &l2tp(10, &[0xff; 8], None, &inner(0, 60)),
    );
    h.send("w", "pg0", "ethernet-input", &[f]);
    assert_eq!(
        counter_in(&h, "ip4-udp-lookup", "no listener for dst port"),
        1
    );
}

#[test]
fn ipv4_feature_intercepts_before_the_fib_and_lets_transit_through() {
    let mut h = harness("");
    h.cli("create packet-generator interface pg2");
    h.cli("set interface ip address pg2 198.51.100.1/24");
    h.cli("set interface state pg2 up");
    h.cli("set ip neighbor pg2 198.51.100.9 02:00:00:00:00:09 static");
    tunnel(&mut h, true, "");
    h.cli("set interface ip4 l2tpv3 pg0");
    let f = inner(3, 70);
    let ours = outer(
        Enc {
            ttl: 64,
            ..Enc::ip(true)
        },
        false,
        &l2tp(10, &[0xff; 8], None, &f),
    );
    // Protocol 115 to another host: not ours, forwarded.
    let mut transit = ours.clone();
    transit[30..34].copy_from_slice(&[198, 51, 100, 9]);
    let c = csum(&[&{
        let mut hd = transit[14..34].to_vec();
        hd[10] = 0;
        hd[11] = 0;
        hd
    }]);
    transit[24..26].copy_from_slice(&c.to_be_bytes());
    let cap = h.capture("pg1");
    let out = h.capture("pg2");
    h.send("w", "pg0", "ethernet-input", &[ours, transit]);
    assert_eq!(h.captured("pg1", &cap), vec![f]);
    assert_eq!(h.captured("pg2", &out).len(), 1, "{}", h.cli("show errors"));
    assert!(h.cli("show runtime").contains("l2tp4-decap"));
}

#[test]
fn tshark_decodes_what_pwire_sends_over_ipv4_and_udp() {
    if pwire_testkit::prereq::require(pwire_testkit::prereq::tshark()).is_none() {
        return;
    }
    for (name, v4, args, _, _, sub) in variants() {
        let mut h = harness("");
        tunnel(&mut h, v4, args);
        let cap = h.capture("pg0");
        h.send("in", "pg1", "ethernet-input", &[inner(7, 120)]);
        let cookie = if args.contains("cookie-size 4") {
            "l2tp.cookie_size:4 Byte Cookie"
        } else if args.contains("cookie-size 0") {
            "l2tp.cookie_size:None"
        } else {
            "l2tp.cookie_size:8 Byte Cookie"
        };
        let subl = if sub {
            "l2tp.l2_specific:Default L2-Specific"
        } else {
            "l2tp.l2_specific:None"
        };
        let out = std::process::Command::new("tshark")
            .arg("-r")
            .arg(&cap)
            .args(["-o", cookie, "-o", subl, "-d", "l2tp.pw_type==0,eth"])
            // Ports other than 1701 are L2TP only by configuration.
            .args(["-d", "udp.port==6000,l2tp"])
            .args([
                "-o",
                "ip.check_checksum:TRUE",
                "-o",
                "udp.check_checksum:TRUE",
            ])
            .args(["-T", "fields", "-e", "frame.protocols", "-e", "l2tp.sid"])
            .args([
                "-e",
                "eth.type",
                "-e",
                "_ws.malformed",
                "-e",
                "_ws.expert.message",
            ])
            .output()
            .expect("tshark runs");
        let text = String::from_utf8_lossy(&out.stdout);
        let line = text.lines().next().unwrap_or_default();
        let fam = if v4 { "ip" } else { "ipv6" };
        let want = if args.contains("udp") {
            format!("eth:ethertype:{fam}:udp:l2tp:")
        } else {
            format!("eth:ethertype:{fam}:l2tp:")
        };
        assert!(line.starts_with(&want), "{name}: {line}");
        let fields: Vec<&str> = line.split('\t').collect();
        assert_eq!(fields.get(1).copied(), Some("0x00000014"), "{name}: {line}");
        assert!(line.contains("0x88b5"), "{name}: inner ethertype: {line}");
        assert_eq!(
            fields.get(3).copied().unwrap_or(""),
            "",
            "{name}: malformed: {line}"
        );
        let expert = fields.get(4).copied().unwrap_or("");
        if name.contains("udp6 zero checksum") {
            // RFC 6935 allows it by configuration only; tshark says so, and says nothing else.
            assert!(
                expert.contains("checksum") && !expert.contains(','),
                "{name}: expert: {line}"
            );
        } else {
            assert_eq!(expert, "", "{name}: expert: {line}");
        }
    }
}

/// ICMPv6 Packet Too Big from a router on the path (fd00::99) to us, quoting `quoted` (an IP
/// packet as we sent it), with `mtu`.
fn ptb6(mtu: u32, quoted: &[u8]) -> Vec<u8> {
    let router = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 0x99);
    let mut m = vec![2, 0, 0, 0];
    m.extend_from_slice(&mtu.to_be_bytes());
    m.extend_from_slice(&quoted[..quoted.len().min(1232)]);
    let len = m.len() as u32;
    let pseudo = [
        &router.octets()[..],
        &OUR6.octets(),
        &len.to_be_bytes(),
        &[0, 0, 0, 58],
    ]
    .concat();
    let c = csum(&[&pseudo, &m]);
    m[2..4].copy_from_slice(&c.to_be_bytes());
    let mut f = PG0_MAC.to_vec();
    f.extend_from_slice(&PEER_MAC);
    f.extend_from_slice(&[0x86, 0xdd, 0x60, 0, 0, 0]);
    f.extend_from_slice(&(m.len() as u16).to_be_bytes());
    f.extend_from_slice(&[58, 64]);
    f.extend_from_slice(&router.octets());
    f.extend_from_slice(&OUR6.octets());
    f.extend_from_slice(&m);
    f
}

/// ICMPv4 fragmentation needed from a router (192.0.2.99) quoting `quoted`.
fn frag_needed4(mtu: u16, quoted: &[u8]) -> Vec<u8> {
    let mut m = vec![3, 4, 0, 0, 0, 0];
    m.extend_from_slice(&mtu.to_be_bytes());
    m.extend_from_slice(&quoted[..quoted.len().min(28)]);
    let c = csum(&[&m]);
    m[2..4].copy_from_slice(&c.to_be_bytes());
    let mut h = vec![0x45, 0];
    h.extend_from_slice(&((20 + m.len()) as u16).to_be_bytes());
    h.extend_from_slice(&[0, 0, 0, 0, 64, 1, 0, 0, 192, 0, 2, 99, 192, 0, 2, 1]);
    eth4_from_peer(h, &m, 0)
}

/// The frame from the peer's MAC to pg0 holding IPv4 header `h` (its checksum filled in here),
/// then `payload`, then `pad` bytes of Ethernet padding.
fn eth4_from_peer(mut h: Vec<u8>, payload: &[u8], pad: usize) -> Vec<u8> {
    let c = csum(&[&h]);
    h[10..12].copy_from_slice(&c.to_be_bytes());
    let mut f = PG0_MAC.to_vec();
    f.extend_from_slice(&PEER_MAC);
    f.extend_from_slice(&[0x08, 0x00]);
    f.extend_from_slice(&h);
    f.extend_from_slice(payload);
    f.extend(std::iter::repeat_n(0xee, pad));
    f
}

/// The IP packets of frames captured on pg0, as the peer would reassemble their payloads:
/// (largest IP packet, payload after the outer IP header (and fragment header) concatenated).
fn outer_payload(frames: &[Vec<u8>], v4: bool) -> (usize, Vec<u8>) {
    let mut parts: Vec<(usize, Vec<u8>)> = Vec::new();
    let mut biggest = 0;
    for f in frames {
        let ip = &f[14..];
        biggest = biggest.max(ip.len());
        if v4 {
            let off = usize::from(u16::from_be_bytes([ip[6], ip[7]]) & 0x1fff) * 8;
            parts.push((off, ip[20..].to_vec()));
        } else if ip[6] == 44 {
            let off = usize::from(u16::from_be_bytes([ip[42], ip[43]]) & !7);
            parts.push((off, ip[48..].to_vec()));
        } else {
            parts.push((0, ip[40..].to_vec()));
        }
    }
    parts.sort();
    let mut all = Vec::new();
    for (off, p) in parts {
        assert_eq!(off, all.len(), "fragments contiguous");
        all.extend_from_slice(&p);
    }
    (biggest, all)
}

#[test]
fn path_mtu_discovery_lowers_a_tunnels_mtu_only_for_its_own_packets() {
    for v4 in [false, true] {
        let mut h = harness("");
        tunnel(&mut h, v4, "");
        let big = inner(9, 1400);
        // Before: 1400 + 12 + IP fits the 9000-byte pg0 in one packet.
        let cap = h.capture("pg0");
        h.send("a", "pg1", "ethernet-input", std::slice::from_ref(&big));
        let sent = h.captured("pg0", &cap);
        assert_eq!(sent.len(), 1);
        let ours = sent[0][14..].to_vec();
        // A forged message: it quotes session 99, not ours. Nothing changes.
        let mut forged = ours.clone();
        let sid_at = if v4 { 20 } else { 40 };
        forged[sid_at..sid_at + 4].copy_from_slice(&99u32.to_be_bytes());
        let (msg, forged_msg) = if v4 {
            (frag_needed4(1300, &ours), frag_needed4(1300, &forged))
        } else {
            (ptb6(1300, &ours), ptb6(1300, &forged))
        };
        h.send("forged", "pg0", "ethernet-input", &[forged_msg]);
        h.run_for(std::time::Duration::from_millis(20));
        let v = h.cli("show l2tpv3 verbose");
        assert!(v.contains("1 not for a tunnel"), "v4 {v4}: {v}");
        assert!(!v.contains("path mtu 1300"), "v4 {v4}: {v}");
        // Ours: the tunnel's path MTU is 1300 (IPv6's 1280 floor is below it).
        h.send("ptb", "pg0", "ethernet-input", &[msg]);
        h.run_for(std::time::Duration::from_millis(20));
        let v = h.cli("show l2tpv3 verbose");
        assert!(
            v.contains("path mtu 1300 (ICMP from the path, held"),
            "v4 {v4}: {v}"
        );
        // The same frame now leaves in fragments of at most 1300 bytes, whole.
        let cap = h.capture("pg0");
        h.send("b", "pg1", "ethernet-input", std::slice::from_ref(&big));
        let sent = h.captured("pg0", &cap);
        assert_eq!(sent.len(), 2, "v4 {v4}: {}", h.cli("show errors"));
        let (biggest, payload) = outer_payload(&sent, v4);
        assert!(biggest <= 1300, "v4 {v4}: {biggest}");
        let want = l2tp(20, &[0xff; 8], None, &big);
        assert_eq!(payload, want, "v4 {v4}");
        // With fragmentation off the frame is dropped by name, not sent whole.
        h.cli("set l2tpv3 tunnel fragment l2tpv3_tunnel0 off");
        let cap = h.capture("pg0");
        h.send("c", "pg1", "ethernet-input", std::slice::from_ref(&big));
        assert!(h.captured("pg0", &cap).is_empty());
        let node = if v4 { "ip4-rewrite" } else { "ip6-rewrite" };
        let name = if v4 {
            "ip4 MTU exceeded and DF set"
        } else {
            "ip6 MTU exceeded"
        };
        assert_eq!(
            h.counter(node, name),
            1,
            "v4 {v4}: {}",
            h.cli("show errors")
        );
        // Aged out: back to the interface's MTU.
        let api =
            h.dp.vnet
                .hooks
                .api::<pwire_node_l2tp::L2tp>()
                .expect("l2tp api");
        api.pmtu.expire_all();
        h.run_for(std::time::Duration::from_millis(1200));
        let v = h.cli("show l2tpv3 verbose");
        assert!(!v.contains("path mtu 1300"), "v4 {v4}: {v}");
        assert!(v.contains("1 aged out"), "v4 {v4}: {v}");
        let cap = h.capture("pg0");
        h.send("d", "pg1", "ethernet-input", std::slice::from_ref(&big));
        assert_eq!(h.captured("pg0", &cap), sent_whole(&ours), "v4 {v4}");
        h.assert_all_free();
    }
}

/// The frame a packet `ip` left in, on pg0.
fn sent_whole(ip: &[u8]) -> Vec<Vec<u8>> {
    let mut f = PEER_MAC.to_vec();
    f.extend_from_slice(&PG0_MAC);
    f.extend_from_slice(if ip[0] >> 4 == 4 {
        &[8, 0]
    } else {
        &[0x86, 0xdd]
    });
    f.extend_from_slice(ip);
    vec![f]
}

/// A harness as `harness()` but for the far end: our addresses are .2/::2, the peer .1/::1.
fn far_harness(conf: &str) -> Harness {
    let mut h = Harness::with(conf, &features());
    for l in [
        "create packet-generator interface pg0 hw-addr 02:00:00:00:00:02",
        "create packet-generator interface pg1",
        "set interface ip address pg0 192.0.2.2/24",
        "set interface ip address pg0 fd00::2/64",
        "set interface state pg0 up",
        "set interface state pg1 up",
        "set ip neighbor pg0 192.0.2.1 02:fe:00:00:00:00 static",
        "set ip neighbor pg0 fd00::1 02:fe:00:00:00:00 static",
    ] {
        h.cli(l);
    }
    h
}

#[test]
fn full_size_frames_cross_a_1500_byte_underlay_in_fragments_and_are_reassembled() {
    for (v4, udp) in [(false, false), (true, false), (false, true), (true, true)] {
        let enc = if udp { "encap udp" } else { "" };
        let mut a = harness("");
        a.cli("set interface mtu packet 1500 pg0");
        tunnel(&mut a, v4, enc);
        let mut b = far_harness("");
        let (c, o) = if v4 {
            ("192.0.2.1", "192.0.2.2")
        } else {
            ("fd00::1", "fd00::2")
        };
        assert_eq!(
            b.cli(&format!(
                "create l2tpv3 tunnel client {c} our {o} local-session-id 20 remote-session-id 10 {enc}"
            )),
            "l2tpv3_tunnel0\n"
        );
        for l in [
            "set interface state l2tpv3_tunnel0 up",
            "set interface l2 xconnect pg1 l2tpv3_tunnel0",
            "set interface l2 xconnect l2tpv3_tunnel0 pg1",
        ] {
            b.cli(l);
        }
        // Full-size frames (1514 bytes: a host's 1500-byte MTU) and small ones, mixed.
        let frames: Vec<Vec<u8>> = (0..6)
            .map(|i| inner(i, if i % 2 == 0 { 1514 } else { 100 }))
            .collect();
        let cap = a.capture("pg0");
        a.send("in", "pg1", "ethernet-input", &frames);
        let wire = a.captured("pg0", &cap);
        assert_eq!(
            wire.len(),
            3 * 2 + 3,
            "v4 {v4} udp {udp}: {}",
            a.cli("show errors")
        );
        assert!(wire.iter().all(|f| f.len() <= 14 + 1500));
        // Out of order and with a duplicate, to the far end: reassembled, decapsulated.
        let is_frag = |f: &Vec<u8>| {
            if v4 {
                f[20] & 0x20 != 0 || f[21] != 0
            } else {
                f[20] == 44
            }
        };
        let mut shuffled = wire.clone();
        shuffled.reverse();
        // A duplicate of a fragment right after it (before its datagram completes).
        let k = shuffled.iter().position(is_frag).expect("a fragment");
        let dup = shuffled[k].clone();
        shuffled.insert(k + 1, dup);
        let out = b.capture("pg1");
        b.send("wire", "pg0", "ethernet-input", &shuffled);
        let mut got = b.captured("pg1", &out);
        let mut want = frames.clone();
        got.sort();
        want.sort();
        assert!(
            got == want,
            "v4 {v4} udp {udp}: {} frames, want {}: {}",
            got.len(),
            want.len(),
            b.cli("show errors")
        );
        let node = if v4 {
            "ip4-full-reassembly"
        } else {
            "ip6-full-reassembly"
        };
        assert_eq!(b.counter(node, "datagrams reassembled"), 3);
        assert_eq!(b.counter(node, "duplicate fragment"), 1);
        a.assert_all_free();
        b.assert_all_free();
    }
}

#[test]
fn udp_over_ipv4_with_options_and_padding_inside_the_ip_packet_is_checked_right() {
    // The UDP pseudo-header takes the addresses (not the bytes before the UDP header, which
    // with options are options) and the UDP length (not the IP payload's, which padding makes
    // longer).
    let mut h = harness("");
    tunnel(&mut h, true, "encap udp udp-checksum on");
    let f = inner(4, 90);
    let mut p = outer(Enc::udp(true, true), false, &l2tp(10, &[0xff; 8], None, &f));
    // 4 bytes of options (NOPs) after the IPv4 header, 6 bytes of padding after the datagram.
    p.splice(34..34, [1u8, 1, 1, 1]);
    p.extend_from_slice(&[0xee; 6]);
    p[14] = 0x46;
    let total = (p.len() - 14) as u16;
    p[16..18].copy_from_slice(&total.to_be_bytes());
    p[24..26].fill(0);
    let c = csum(&[&p[14..38]]);
    p[24..26].copy_from_slice(&c.to_be_bytes());
    let cap = h.capture("pg1");
    h.send("w", "pg0", "ethernet-input", &[p]);
    assert_eq!(h.captured("pg1", &cap), vec![f], "{}", h.cli("show errors"));
    assert_eq!(h.counter("ip4-udp-lookup", "bad udp checksum"), 0);
}

/// An IPv4 peer frame carrying `l2tp` (session id on) as protocol `proto`, with the header
/// fields a plain packet may vary (TOS, identification, DF, TTL) from `r`, `opts` bytes of
/// IPv4 options (NOPs) and `pad` bytes of Ethernet padding after the packet; built here.
fn peer4(
    r: &mut pwire_tests::Rng,
    src: Ipv4Addr,
    proto: u8,
    frag: u16,
    opts: usize,
    pad: usize,
    l2tp: &[u8],
) -> Vec<u8> {
    let hl = 20 + opts;
    let mut h = vec![0x40 | (hl / 4) as u8, r.below(256) as u8];
    h.extend_from_slice(&((hl + l2tp.len()) as u16).to_be_bytes());
    h.extend_from_slice(&(r.below(0x1_0000) as u16).to_be_bytes());
    let df = if r.below(2) == 0 { 0x4000 } else { 0 };
    h.extend_from_slice(&(df | frag).to_be_bytes());
    h.extend_from_slice(&[1 + r.below(255) as u8, proto, 0, 0]);
    h.extend_from_slice(&src.octets());
    h.extend_from_slice(&OUR4.octets());
    h.extend(std::iter::repeat_n(1u8, opts));
    eth4_from_peer(h, l2tp, pad)
}

/// The IPv4 decap loops (the cached session's run, which checks each packet's 32-byte head
/// against the session in two vector compares and leaves anything else to the general path)
/// against the general path: one seeded mix of plain packets with varying TOS, identification,
/// DF and TTL, the previous cookie after a rollover, wrong cookies, strangers, other session
/// ids, options, padding, first fragments and short inner frames, sent as one untraced frame
/// and as one traced packet per frame (the loops stop at traced packets, so that is the
/// general path). What leaves pg1 and every counter must be the same, and right; on the local
/// path and through the `ip4-unicast` feature, with a 4-byte cookie rolled over and with
/// VPP's 8-byte one.
#[test]
fn ipv4_decap_loops_agree_with_the_general_path() {
    use pwire_tests::Rng;
    // (create arguments, cookie line after, the cookie packets carry, the previous one)
    let rolled = (
        "cookie-size 4 local-cookie 11223344 remote-cookie 99aabbcc",
        "set l2tpv3 tunnel cookie l2tpv3_tunnel0 local 55667788 remote 99aabbcd",
        vec![0x55, 0x66, 0x77, 0x88],
        Some(vec![0x11, 0x22, 0x33, 0x44]),
    );
    let vpp = ("", "", vec![0xff; 8], None);
    // Session-id lookup (where a run of one session takes the cached session's loop) and VPP's
    // default, the destination address.
    let cases = [
        ("l2tp { lookup-session-id }", rolled.clone(), false),
        ("l2tp { lookup-session-id }", rolled, true),
        ("l2tp { lookup-session-id }", vpp.clone(), false),
        ("l2tp { lookup-session-id }", vpp.clone(), true),
        ("", vpp, true),
    ];
    for (conf, (args, after, cookie, old), feature) in cases {
        let what = format!("{conf:?} {args:?} feature {feature}");
        let mut r = Rng(0x1404_0001);
        let (mut good, mut bad_cookie, mut strangers) = (Vec::new(), 0u64, 0u64);
        let mut pkts = Vec::new();
        let mut cur = inner(0, 64);
        while pkts.len() < pwire_graph::FRAME_SIZE - 6 {
            let tag = pkts.len() as u8;
            let f = inner(tag, 60 + r.below(40) as usize);
            let pick = r.below(16);
            if pick == 0 {
                cur = f.clone();
            }
            let p = match pick {
                // A wrong cookie.
                1 => {
                    let mut c = cookie.clone();
                    c[0] ^= 0x5a;
                    bad_cookie += 1;
                    peer4(&mut r, PEER4, 115, 0, 0, 0, &l2tp(10, &c, None, &f))
                }
                // The previous cookie after the rollover: taken.
                2 if old.is_some() => {
                    good.push(f.clone());
                    let c = old.clone().unwrap();
                    peer4(&mut r, PEER4, 115, 0, 0, 0, &l2tp(10, &c, None, &f))
                }
                // A stranger with the session's id.
                3 => {
                    strangers += 1;
                    let s = Ipv4Addr::new(192, 0, 2, 9);
                    peer4(&mut r, s, 115, 0, 0, 0, &l2tp(10, &cookie, None, &f))
                }
                // Another session id.
                4 => peer4(&mut r, PEER4, 115, 0, 0, 0, &l2tp(77, &cookie, None, &f)),
                // Options: the general path finds the L2TPv3 header after them.
                5 => {
                    good.push(f.clone());
                    peer4(&mut r, PEER4, 115, 0, 4, 0, &l2tp(10, &cookie, None, &f))
                }
                // Ethernet padding after the packet: trimmed, taken.
                6 => {
                    good.push(f.clone());
                    peer4(&mut r, PEER4, 115, 0, 0, 9, &l2tp(10, &cookie, None, &f))
                }
                // A first fragment (MF) that never completes: not decapsulated.
                7 => peer4(
                    &mut r,
                    PEER4,
                    115,
                    0x2000,
                    0,
                    0,
                    &l2tp(10, &cookie, None, &f),
                ),
                // An inner frame under 14 bytes.
                8 => peer4(
                    &mut r,
                    PEER4,
                    115,
                    0,
                    0,
                    0,
                    &l2tp(10, &cookie, None, &f[..10]),
                ),
                // The current frame again, for runs.
                _ => {
                    good.push(cur.clone());
                    peer4(&mut r, PEER4, 115, 0, 0, 0, &l2tp(10, &cookie, None, &cur))
                }
            };
            pkts.push(p);
        }
        let run = |single: bool| {
            let mut h = harness(conf);
            tunnel(&mut h, true, args);
            if !after.is_empty() {
                h.cli(after);
            }
            if feature {
                h.cli("set interface ip4 l2tpv3 pg0");
            }
            let cap = h.capture("pg1");
            if single {
                pwire_tests::send_traced_one_by_one(&mut h, "pg0", "ethernet-input", &pkts);
            } else {
                h.send("all", "pg0", "ethernet-input", &pkts);
            }
            let got = h.captured("pg1", &cap);
            // (Not `assert_all_free`: the first fragments wait in reassembly for the rest.)
            let counters = pwire_tests::node_counters(&h, |_, _| false);
            let ver = h.cli("show l2tpv3 verbose");
            (got, counters, ver)
        };
        let (s_got, s_counters, s_ver) = run(true);
        let (b_got, b_counters, b_ver) = run(false);
        // The reference is right about the mix.
        assert!(
            s_got == good,
            "{what}: delivered {} of {}",
            s_got.len(),
            good.len()
        );
        let node = if feature {
            "l2tp4-decap"
        } else {
            "l2tp4-decap-local"
        };
        let count = |r: &'static str| s_counters.get(&(node.to_string(), r)).copied().unwrap_or(0);
        assert_eq!(
            count("l2tpv3 local cookie mismatches"),
            bad_cookie,
            "{what}"
        );
        assert!(bad_cookie > 0 && strangers > 0, "{what}: the mix");
        // To our address from a stranger: refused by the node that saw it first.
        assert_eq!(
            count("l2tpv3 session address mismatch"),
            strangers,
            "{what}: strangers"
        );
        // The loops agree with it.
        assert!(
            b_got == s_got,
            "{what}: pg1 frames, one frame ({}) vs single ({})",
            b_got.len(),
            s_got.len()
        );
        assert_eq!(
            b_counters, s_counters,
            "{what}: counters, one frame vs single"
        );
        assert_eq!(b_ver, s_ver, "{what}: session counters");
        assert!(
            b_ver.contains(&format!("user-to-net: {} pkts", good.len())),
            "{what}: {b_ver}"
        );
    }
}
