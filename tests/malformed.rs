//! Hostile packets through the whole graph (pg in, the real nodes, pg capture out): truncated
//! Ethernet / IPv6 / L2TPv3 headers at every length, bad IPv6 version, payload length larger and
//! smaller than the buffer, extension headers before next header 115, inner frames shorter than
//! 14 bytes, frames larger than a buffer, and seeded random bytes; for the IPv4 underlay,
//! IPv4 / ARP / ICMPv4 headers truncated at every length, every version and IHL value, total
//! lengths around the buffer's, options, and seeded mutations of IPv4, ARP and ICMP frames.
//!
//! Every case: each packet is dropped under the named counter the case expects (read by name
//! from the error counters) and counted as a drop on the receiving interface, or handled as the
//! RFCs say (padding trimmed, extension headers walked) and delivered byte-exact; nothing
//! panics; every buffer is back in the pool afterwards.

use pwire_testkit::Harness;
use pwire_tests::{features, ip6_frame, l2tp_frame, pg_uplink, Rng, FF8, PEER_MAC, PG0_MAC};
use std::net::Ipv6Addr;

fn our() -> Ipv6Addr {
    "fd00::1".parse().unwrap()
}
fn client() -> Ipv6Addr {
    "fd00::2".parse().unwrap()
}

/// A 60-byte inner Ethernet frame with a recognisable payload.
fn inner(tag: u8) -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 0xbb, 1, 0x02, 0, 0, 0, 0xaa, 1, 0x88, 0xb5];
    f.extend((0..46).map(|i| tag.wrapping_add(i)));
    f
}

/// A valid L2TPv3 packet for the tunnel (session 10, the default all-ones cookie).
fn valid(tag: u8) -> Vec<u8> {
    l2tp_frame(PG0_MAC, PEER_MAC, client(), our(), 10, &FF8, &inner(tag))
}

/// pg0 uplink fd00::1/64 (peer fd00::2), tunnel xconnected with pg1.
fn topo(h: &mut Harness) {
    pg_uplink(h);
    for l in [
        "create packet-generator interface pg1",
        "set interface state pg1 up",
        "create l2tpv3 tunnel client fd00::2 our fd00::1 local-session-id 10 remote-session-id 20",
        "set interface state l2tpv3_tunnel0 up",
        "set interface l2 xconnect pg1 l2tpv3_tunnel0",
        "set interface l2 xconnect l2tpv3_tunnel0 pg1",
    ] {
        h.cli(l);
    }
}

/// Every node counter, by (node, reason).
fn counters(h: &Harness) -> Vec<((String, &'static str), u64)> {
    let e = h.dp.vnet.engine();
    let mut v = Vec::new();
    for n in &e.graph.nodes {
        for (i, c) in n.counters.iter().enumerate() {
            let code = n.error_base as usize + i;
            let total: u64 = (0..e.threads.len()).map(|t| e.error_count(t, code)).sum();
            v.push(((n.name.clone(), c.name), total));
        }
    }
    v
}

/// Counters that changed between two snapshots, for failure messages.
fn diff(a: &[((String, &'static str), u64)], b: &[((String, &'static str), u64)]) -> String {
    a.iter()
        .zip(b)
        .filter(|(x, y)| x.1 != y.1)
        .map(|(x, y)| format!("  {} {}: +{}\n", x.0 .0, x.0 .1, y.1 - x.1))
        .collect()
}

struct Suite {
    h: Harness,
    cases: usize,
    packets: usize,
}

impl Suite {
    fn new() -> Self {
        let mut h = Harness::with("", &features());
        topo(&mut h);
        Suite {
            h,
            cases: 0,
            packets: 0,
        }
    }

    /// Sends `pkts` on pg0; each must be dropped under `node`/`reason` (and counted a drop on
    /// pg0); nothing reaches pg1.
    fn dropped(&mut self, case: &str, pkts: &[Vec<u8>], node: &str, reason: &str) {
        self.ended(case, pkts, node, reason, "drops");
    }

    /// As [`Self::dropped`], for what VPP punts (counted `punt` on pg0, not `drops`).
    fn punted(&mut self, case: &str, pkts: &[Vec<u8>], node: &str, reason: &str) {
        self.ended(case, pkts, node, reason, "punt");
    }

    fn ended(&mut self, case: &str, pkts: &[Vec<u8>], node: &str, reason: &str, ifc: &str) {
        let h = &mut self.h;
        let before = counters(h);
        let c0 = h.counter(node, reason);
        let d0 = h.interface_counter("pg0", ifc);
        let out = h.capture("pg1");
        h.send(case, "pg0", "ethernet-input", pkts);
        let got = h.captured("pg1", &out);
        let after = counters(h);
        let n = pkts.len() as u64;
        assert_eq!(
            h.counter(node, reason) - c0,
            n,
            "{case}: want {n} × {node} `{reason}', counters moved:\n{}",
            diff(&before, &after)
        );
        assert_eq!(
            h.interface_counter("pg0", ifc) - d0,
            n,
            "{case}: {ifc} on pg0"
        );
        assert!(got.is_empty(), "{case}: {} frames leaked to pg1", got.len());
        h.assert_all_free();
        self.cases += 1;
        self.packets += pkts.len();
    }

    /// Sends `pkts` on pg0; pg1 must transmit exactly `want`, in order.
    fn delivered(&mut self, case: &str, pkts: &[Vec<u8>], want: &[Vec<u8>]) {
        let h = &mut self.h;
        let before = counters(h);
        let out = h.capture("pg1");
        h.send(case, "pg0", "ethernet-input", pkts);
        let got = h.captured("pg1", &out);
        assert!(
            got == want,
            "{case}: delivered {} frames, want {}; counters moved:\n{}",
            got.len(),
            want.len(),
            diff(&before, &counters(h))
        );
        h.assert_all_free();
        self.cases += 1;
        self.packets += pkts.len();
    }
}

/// `f` with its IPv6 payload length set to `plen`.
fn with_plen(mut f: Vec<u8>, plen: u16) -> Vec<u8> {
    f[18..20].copy_from_slice(&plen.to_be_bytes());
    f
}

#[test]
fn truncated_headers_at_every_length() {
    let mut s = Suite::new();
    let v = valid(1);
    // Ethernet: 1..13 bytes (a 0-byte pcap record is not a frame).
    let eth: Vec<Vec<u8>> = (1..14).map(|n| v[..n].to_vec()).collect();
    s.dropped("eth", &eth, "ethernet-input", "ethernet frame too short");
    // IPv6: the Ethernet header and 0..39 bytes of the IPv6 header.
    let ip: Vec<Vec<u8>> = (0..40).map(|n| v[..14 + n].to_vec()).collect();
    s.dropped("ip6", &ip, "ip6-input", "ip6 length < 40 bytes");
    // L2TPv3 cut by the buffer, payload length unchanged: longer than the buffer.
    let cut: Vec<Vec<u8>> = (0..12).map(|n| v[..54 + n].to_vec()).collect();
    s.dropped("l2tp-cut", &cut, "ip6-input", "ip6 length > l2 length");
    // L2TPv3 cut, payload length consistent: 0..11 bytes of session id + cookie.
    let short: Vec<Vec<u8>> = (0..12)
        .map(|n| with_plen(v[..54 + n].to_vec(), n as u16))
        .collect();
    s.dropped(
        "l2tp-short",
        &short,
        "l2tp-decap-local",
        "l2tpv3 packet too short",
    );
    // Inner frame of 0..13 bytes.
    let tiny: Vec<Vec<u8>> = (0..14)
        .map(|n| l2tp_frame(PG0_MAC, PEER_MAC, client(), our(), 10, &FF8, &inner(2)[..n]))
        .collect();
    s.dropped(
        "inner-short",
        &tiny,
        "l2tp-decap-local",
        "l2tpv3 packet too short",
    );
    // Control: the valid packet and one with a 14-byte inner frame are delivered.
    let min = l2tp_frame(
        PG0_MAC,
        PEER_MAC,
        client(),
        our(),
        10,
        &FF8,
        &inner(3)[..14],
    );
    s.delivered(
        "valid",
        &[v.clone(), min],
        &[inner(1), inner(3)[..14].to_vec()],
    );
    eprintln!(
        "malformed: truncation: {} cases, {} packets",
        s.cases, s.packets
    );
}

#[test]
fn bad_version_lengths_padding_and_oversize() {
    let mut s = Suite::new();
    let v = valid(4);
    let bad: Vec<Vec<u8>> = [0x00u8, 0x40, 0x50, 0x70, 0xf0]
        .iter()
        .map(|&b| {
            let mut f = v.clone();
            f[14] = b;
            f
        })
        .collect();
    s.dropped("version", &bad, "ip6-input", "ip6 version != 6");
    // Payload length larger than the buffer: by 1, by a lot, the maximum.
    let plen = (v.len() - 54) as u16;
    let long: Vec<Vec<u8>> = [1u16, 2, 100, 1000, u16::MAX - plen]
        .iter()
        .map(|&d| with_plen(v.clone(), plen + d))
        .collect();
    s.dropped("plen-long", &long, "ip6-input", "ip6 length > l2 length");
    // Payload length smaller than the buffer: what follows is padding (RFC 8200 §3), trimmed;
    // a payload length that ends inside the inner frame delivers that much of it.
    let mut padded = v.clone();
    padded.extend_from_slice(&[0xee; 20]);
    let cut_inner = with_plen(v.clone(), 12 + 20);
    s.delivered(
        "plen-short",
        &[padded, cut_inner],
        &[inner(4), inner(4)[..20].to_vec()],
    );
    // Larger than a buffer (2048 bytes of data): pg fills one buffer, the rest is cut, so the
    // payload length no longer fits (the af-packet suite covers "packet too big for buffer").
    let big_inner: Vec<u8> = inner(5)
        .into_iter()
        .chain(std::iter::repeat_n(0x5a, 4000))
        .collect();
    let big = l2tp_frame(PG0_MAC, PEER_MAC, client(), our(), 10, &FF8, &big_inner);
    s.dropped(
        "oversize",
        std::slice::from_ref(&big),
        "ip6-input",
        "ip6 length > l2 length",
    );
    eprintln!(
        "malformed: version/length: {} cases, {} packets",
        s.cases, s.packets
    );
}

/// IPv6 + extension headers (`chain`: (type, 8-byte-unit length)) + an L2TPv3 packet.
fn with_ext(chain: &[(u8, u8)], l2tp: &[u8]) -> Vec<u8> {
    let mut p = Vec::new();
    for (i, &(_, units)) in chain.iter().enumerate() {
        let next = chain.get(i + 1).map_or(115, |c| c.0);
        p.push(next);
        p.push(units);
        // PadN option filling the header (8 × (units + 1) − 2 bytes).
        let body = 8 * (units as usize + 1) - 2;
        p.push(1);
        p.push((body - 2) as u8);
        p.extend(std::iter::repeat_n(0, body - 2));
    }
    p.extend_from_slice(l2tp);
    ip6_frame(PG0_MAC, PEER_MAC, client(), our(), chain[0].0, 64, &p)
}

#[test]
fn extension_headers_before_l2tp() {
    let mut s = Suite::new();
    let mut l = Vec::new();
    l.extend_from_slice(&10u32.to_be_bytes());
    l.extend_from_slice(&FF8);
    l.extend_from_slice(&inner(6));
    // To our address, through ip6-local: extension headers before 115 reach l2tp-decap-local,
    // which walks them (RFC 8200 §4); one running past the payload hides the protocol, which
    // is punted as unknown (VPP's outcome for what ip6-local cannot dispatch).
    s.delivered(
        "ext-local",
        &[with_ext(&[(0, 0)], &l), with_ext(&[(60, 0), (43, 1)], &l)],
        &vec![inner(6); 2],
    );
    let mut overrun = with_ext(&[(60, 0)], &l);
    overrun[55] = 200;
    s.punted(
        "ext-local-overrun",
        &[overrun],
        "ip6-input",
        "unknown ip protocol",
    );
    // The decap feature on the uplink walks them before the FIB lookup.
    s.h.cli("set interface ip6 l2tpv3 pg0");
    let walk = [
        with_ext(&[(0, 0)], &l),
        with_ext(&[(60, 0)], &l),
        with_ext(&[(0, 0), (60, 1), (43, 0)], &l),
    ];
    s.delivered("ext-walked", &walk, &vec![inner(6); 3]);
    // A header whose length runs past the payload, one cut by the payload length, and a
    // fragment header.
    let mut overrun = with_ext(&[(60, 0)], &l);
    overrun[55] = 200;
    let frag = {
        let mut p = vec![115, 0, 0, 0, 0, 0, 0, 1];
        p.extend_from_slice(&l);
        ip6_frame(PG0_MAC, PEER_MAC, client(), our(), 44, 64, &p)
    };
    let mut cut = with_ext(&[(0, 0)], &l);
    cut.truncate(54 + 4);
    let cut = with_plen(cut, 4);
    s.dropped(
        "ext-overrun",
        &[overrun],
        "l2tp-decap",
        "l2tpv3 unsupported ip6 extension header",
    );
    s.dropped(
        "ext-cut",
        &[cut],
        "l2tp-decap",
        "l2tpv3 unsupported ip6 extension header",
    );
    // A fragment header is not walked past by decap (what follows may not be a header): it
    // goes to the reassembly; this one is atomic (offset 0, M = 0, RFC 6946), so it loses its
    // fragment header at once and is delivered.
    s.delivered("ext-fragment", &[frag], &[inner(6)]);
    assert_eq!(s.h.counter("ip6-full-reassembly", "atomic fragments"), 1);
    // The first fragment of a datagram that never completes is held, then dropped at its
    // timeout, and its buffer is free at once (the reassembly copies what it keeps).
    let first = {
        let mut p = vec![115, 0, 0, 1, 0, 0, 0, 2];
        p.extend_from_slice(&l[..48]);
        ip6_frame(PG0_MAC, PEER_MAC, client(), our(), 44, 64, &p)
    };
    s.delivered("ext-first-fragment", &[first], &[]);
    assert_eq!(s.h.counter("ip6-full-reassembly", "fragments received"), 2);
    eprintln!(
        "malformed: extension headers: {} cases, {} packets",
        s.cases, s.packets
    );
}

#[test]
fn seeded_random_bytes_and_mutations() {
    let mut s = Suite::new();
    let h = &mut s.h;
    let seed = 0x5eed_0009_u64;
    let mut rng = Rng(seed);
    let v = valid(7);
    let mut pkts = Vec::new();
    // Pure noise, 1..300 bytes.
    for _ in 0..2000 {
        let n = 1 + rng.below(300) as usize;
        pkts.push(rng.bytes(n));
    }
    // Noise after a plausible Ethernet + IPv6 prefix.
    for _ in 0..2000 {
        let mut f = v[..14 + rng.below(60) as usize].to_vec();
        let n = rng.below(200) as usize;
        f.extend(rng.bytes(n));
        pkts.push(f);
    }
    // The valid packet with 1..4 random bytes changed.
    for _ in 0..4000 {
        let mut f = v.clone();
        for _ in 0..1 + rng.below(4) {
            let i = rng.below(f.len() as u64) as usize;
            f[i] = rng.next_u64() as u8;
        }
        pkts.push(f);
    }
    let n = pkts.len() as u64;
    let rx0 = h.interface_counter("pg0", "rx packets");
    let out = h.capture("pg1");
    h.send("random", "pg0", "ethernet-input", &pkts);
    let delivered = h.captured("pg1", &out).len() as u64;
    let rx = h.interface_counter("pg0", "rx packets") - rx0;
    let drops =
        h.interface_counter("pg0", "drops") + h.interface_counter("l2tpv3_tunnel0", "drops");
    let replies = h.interface_counter("pg0", "tx packets");
    assert_eq!(rx, n, "every packet was received");
    // Each packet is delivered, dropped with a reason, or answered (ICMPv6 errors, ND); an
    // answered packet may also be counted as a drop (the offending original is dropped).
    assert!(
        delivered + drops + replies >= n,
        "unaccounted packets: {n} sent, {delivered} delivered, {drops} dropped, {replies} answered"
    );
    assert!(delivered > 0 && drops > 0, "the mix has both outcomes");
    h.assert_all_free();
    // Still forwarding afterwards.
    s.delivered("after-random", &[valid(8)], &[inner(8)]);
    eprintln!(
        "malformed: random (seed {seed:#x}): {n} packets, {delivered} delivered, {drops} dropped, {replies} answered"
    );
}

// ---- IPv4, ARP and ICMPv4 -------------------------------------------------------------------

/// pg2's MAC, and the host behind it (10.0.2.2).
const PG2_MAC: [u8; 6] = [0x02, 0xfe, 0, 0, 0, 2];
const HOST2_MAC: [u8; 6] = [0x02, 0, 0, 0, 2, 2];

/// RFC 1071, the test's own.
fn csum(d: &[u8]) -> u16 {
    let mut s: u32 = d
        .chunks(2)
        .map(|c| (u32::from(c[0]) << 8) | u32::from(*c.get(1).unwrap_or(&0)))
        .sum();
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

/// Ethernet + IPv4 (DF, ident 1) + `payload`, header checksum right.
fn ip4_frame(
    dst_mac: [u8; 6],
    src: [u8; 4],
    dst: [u8; 4],
    proto: u8,
    ttl: u8,
    payload: &[u8],
) -> Vec<u8> {
    let mut f = dst_mac.to_vec();
    f.extend_from_slice(&PEER_MAC);
    f.extend_from_slice(&[0x08, 0x00, 0x45, 0]);
    f.extend_from_slice(&((20 + payload.len()) as u16).to_be_bytes());
    f.extend_from_slice(&[0, 1, 0x40, 0, ttl, proto, 0, 0]);
    f.extend_from_slice(&src);
    f.extend_from_slice(&dst);
    let c = csum(&f[14..34]);
    f[24..26].copy_from_slice(&c.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// Sets the header checksum right again after a change (when the IHL lets it be computed).
fn refix(mut f: Vec<u8>) -> Vec<u8> {
    let hl = usize::from(f[14] & 15) * 4;
    if hl >= 20 && 14 + hl <= f.len() {
        f[24..26].fill(0);
        let c = csum(&f[14..14 + hl]);
        f[24..26].copy_from_slice(&c.to_be_bytes());
    }
    f
}

/// A UDP datagram from the uplink peer 10.0.0.2 to the host behind pg2.
fn ip4_valid(tag: u8) -> Vec<u8> {
    let mut u = vec![0x04, 0xd2, 0x16, 0x2e, 0, 28, 0, 0];
    u.extend((0..20).map(|i| tag.wrapping_add(i)));
    ip4_frame(PG0_MAC, [10, 0, 0, 2], [10, 0, 2, 2], 17, 64, &u)
}

/// What pg2 sends for `f`: new MACs, TTL − 1, checksum redone (by the test's code).
fn ip4_hop(f: &[u8]) -> Vec<u8> {
    let total = usize::from(u16::from_be_bytes([f[16], f[17]]));
    let mut o = HOST2_MAC.to_vec();
    o.extend_from_slice(&PG2_MAC);
    o.extend_from_slice(&f[12..14 + total]);
    o[22] -= 1;
    refix(o)
}

/// An ARP request for our 10.0.0.1 from the peer, padded to 60 bytes.
fn arp_req() -> Vec<u8> {
    let mut f = vec![0xff; 6];
    f.extend_from_slice(&PEER_MAC);
    f.extend_from_slice(&[0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 1]);
    f.extend_from_slice(&PEER_MAC);
    f.extend_from_slice(&[10, 0, 0, 2, 0, 0, 0, 0, 0, 0, 10, 0, 0, 1]);
    f.resize(60, 0);
    f
}

/// An echo request from the peer to 10.0.0.1 with `n` data bytes.
fn echo(n: usize) -> Vec<u8> {
    let mut m = vec![8, 0, 0, 0, 0x12, 0x34, 0, 1];
    m.extend((0..n).map(|i| i as u8));
    let c = csum(&m);
    m[2..4].copy_from_slice(&c.to_be_bytes());
    ip4_frame(PG0_MAC, [10, 0, 0, 2], [10, 0, 0, 1], 1, 64, &m)
}

/// The L2TPv3 suite's pwire with IPv4 on it too: pg0 10.0.0.1/24 (peer 10.0.0.2 static), pg2
/// 10.0.2.1/24 (host 10.0.2.2 static).
fn ip4_suite() -> Suite {
    let mut s = Suite::new();
    for l in [
        "set interface ip address pg0 10.0.0.1/24",
        "set ip neighbor pg0 10.0.0.2 02:00:00:00:00:02 static",
        "create packet-generator interface pg2",
        "set interface state pg2 up",
        "set interface ip address pg2 10.0.2.1/24",
        "set ip neighbor pg2 10.0.2.2 02:00:00:00:02:02 static",
    ] {
        s.h.cli(l);
    }
    s
}

impl Suite {
    /// Sends `pkts` on pg0; `ifc` must transmit exactly `want`, in order.
    fn sent_on(&mut self, case: &str, pkts: &[Vec<u8>], ifc: &str, want: &[Vec<u8>]) {
        let h = &mut self.h;
        let before = counters(h);
        let out = h.capture(ifc);
        h.send(case, "pg0", "ethernet-input", pkts);
        let got = h.captured(ifc, &out);
        assert!(
            got == want,
            "{case}: {} frames on {ifc}, want {}; counters moved:\n{}",
            got.len(),
            want.len(),
            diff(&before, &counters(h))
        );
        h.assert_all_free();
        self.cases += 1;
        self.packets += pkts.len();
    }
}

#[test]
fn ipv4_arp_icmp_truncated_at_every_length() {
    let mut s = ip4_suite();
    let v = ip4_valid(1);
    // IPv4: the Ethernet header and 0..19 bytes of the IPv4 header.
    let hdr: Vec<Vec<u8>> = (0..20).map(|n| v[..14 + n].to_vec()).collect();
    s.dropped("ip4-hdr", &hdr, "ip4-input", "ip4 length < 20 bytes");
    // Cut inside the payload, total length unchanged: longer than the buffer.
    let cut: Vec<Vec<u8>> = (20..v.len() - 14).map(|n| v[..14 + n].to_vec()).collect();
    s.dropped("ip4-cut", &cut, "ip4-input", "ip4 length > l2 length");
    // ARP: the Ethernet header and 0..27 bytes of the packet.
    let a = arp_req();
    let arp: Vec<Vec<u8>> = (0..28).map(|n| a[..14 + n].to_vec()).collect();
    s.dropped("arp", &arp, "arp-input", "ARP packet too short");
    // ICMP to us with 0..7 bytes of message: no whole header, so no checksum to check.
    let icmp: Vec<Vec<u8>> = (0..8)
        .map(|n| {
            let mut f = echo(0);
            f.truncate(34 + n);
            f[16..18].copy_from_slice(&((20 + n) as u16).to_be_bytes());
            refix(f)
        })
        .collect();
    s.dropped("icmp", &icmp, "ip4-input", "bad icmp checksum");
    // Controls: forwarded byte-exact, answered.
    s.sent_on("ip4-valid", std::slice::from_ref(&v), "pg2", &[ip4_hop(&v)]);
    let c0 = s.h.counter("arp-reply", "ARP replies sent");
    s.sent_on("arp-valid", &[a], "pg1", &[]);
    assert_eq!(s.h.counter("arp-reply", "ARP replies sent") - c0, 1);
    eprintln!(
        "malformed: ipv4 truncation: {} cases, {} packets",
        s.cases, s.packets
    );
}

#[test]
fn ipv4_version_ihl_lengths_and_options() {
    let mut s = ip4_suite();
    let v = ip4_valid(2);
    // Every version and IHL: what the checks say, in ip4-input's order.
    let mut by_reason: std::collections::BTreeMap<&str, Vec<Vec<u8>>> = Default::default();
    let mut fine = Vec::new();
    for vi in 0..=255u8 {
        let mut f = v.clone();
        f[14] = vi;
        let f = refix(f);
        let hl = usize::from(vi & 15) * 4;
        let reason = if vi >> 4 != 4 {
            "ip4 version != 4"
        } else if hl < 20 {
            "ip4 IHL < 5"
        } else if 14 + hl > f.len() || hl > v.len() - 14 {
            "ip4 length > l2 length"
        } else {
            // Header options made of the payload's bytes: forwarded as they are.
            fine.push(f);
            continue;
        };
        by_reason.entry(reason).or_default().push(f);
    }
    for (k, (reason, pkts)) in by_reason.iter().enumerate() {
        s.dropped(&format!("vihl{k}"), pkts, "ip4-input", reason);
    }
    let want: Vec<Vec<u8>> = fine.iter().map(|f| ip4_hop(f)).collect();
    assert_eq!(fine.len(), 8, "IHL 5..=12 fit this 48-byte packet");
    s.sent_on("ihl-options", &fine, "pg2", &want);
    // Total length below 20, below the header, past the buffer (checksum right each time).
    let total = |f: &[u8], t: u16| {
        let mut f = f.to_vec();
        f[16..18].copy_from_slice(&t.to_be_bytes());
        refix(f)
    };
    let small: Vec<Vec<u8>> = [0u16, 1, 19].iter().map(|&t| total(&v, t)).collect();
    s.dropped("total-small", &small, "ip4-input", "ip4 length < 20 bytes");
    let mut opt = v.clone();
    opt[14] = 0x46;
    let under_hdr = total(&opt, 22);
    let long: Vec<Vec<u8>> = [49u16, 1000, u16::MAX]
        .iter()
        .map(|&t| total(&v, t))
        .collect();
    s.dropped("total-long", &long, "ip4-input", "ip4 length > l2 length");
    s.dropped(
        "total-in-hdr",
        &[under_hdr],
        "ip4-input",
        "ip4 length > l2 length",
    );
    // Total length shorter than the buffer: the rest is padding, trimmed.
    let mut padded = v.clone();
    padded.extend_from_slice(&[0xee; 30]);
    s.sent_on(
        "padding",
        std::slice::from_ref(&padded),
        "pg2",
        &[ip4_hop(&v)],
    );
    // Every single-bit error of the header is caught by its checksum (or an earlier check).
    let flips: Vec<Vec<u8>> = (0..160)
        .filter(|b| !(0..8).contains(b))
        .map(|b| {
            let mut f = v.clone();
            f[14 + b / 8] ^= 0x80 >> (b % 8);
            f
        })
        .filter(|f| f[14] == 0x45 && f[16..18] == v[16..18])
        .collect();
    s.dropped("bit-flips", &flips, "ip4-input", "bad ip4 checksum");
    eprintln!(
        "malformed: ipv4 headers: {} cases, {} packets",
        s.cases, s.packets
    );
}

#[test]
fn ipv4_arp_icmp_seeded_mutations() {
    let mut s = ip4_suite();
    let h = &mut s.h;
    let seed = 0x5eed_0004_u64;
    let mut rng = Rng(seed);
    let valid = [ip4_valid(7), arp_req(), echo(40)];
    let mut pkts = Vec::new();
    // Noise after an Ethernet header carrying IPv4 or ARP.
    for k in 0..2000 {
        let mut f = valid[k % 2][..14].to_vec();
        let n = rng.below(120) as usize;
        f.extend(rng.bytes(n));
        pkts.push(f);
    }
    // The valid packets with 1..4 random bytes changed (the Ethernet header left alone, so
    // that they reach the IPv4 and ARP nodes).
    for k in 0..6000 {
        let mut f = valid[k % 3].clone();
        for _ in 0..1 + rng.below(4) {
            let i = 14 + rng.below((f.len() - 14) as u64) as usize;
            f[i] = rng.next_u64() as u8;
        }
        // Half with the header checksum made right again, to get past ip4-input.
        if k % 2 == 0 && f[12..14] == [8, 0] {
            f = refix(f);
        }
        pkts.push(f);
    }
    let n = pkts.len() as u64;
    let rx0 = h.interface_counter("pg0", "rx packets");
    let out = h.capture("pg2");
    h.send("random4", "pg0", "ethernet-input", &pkts);
    let forwarded = h.captured("pg2", &out).len() as u64;
    let rx = h.interface_counter("pg0", "rx packets") - rx0;
    let drops = h.interface_counter("pg0", "drops");
    let punts = h.interface_counter("pg0", "punt");
    let replies = h.interface_counter("pg0", "tx packets");
    assert_eq!(rx, n, "every packet was received");
    // Each packet is forwarded, dropped with a reason, punted, or answered (ARP replies,
    // echo replies, ICMP errors).
    assert!(
        forwarded + drops + punts + replies >= n,
        "unaccounted: {n} sent, {forwarded} forwarded, {drops} dropped, {punts} punted, {replies} answered"
    );
    assert!(
        forwarded > 0 && drops > 0 && replies > 0,
        "the mix has every outcome"
    );
    h.assert_all_free();
    // Still forwarding and answering afterwards.
    let v = ip4_valid(8);
    s.sent_on("after", std::slice::from_ref(&v), "pg2", &[ip4_hop(&v)]);
    eprintln!(
        "malformed: ipv4 random (seed {seed:#x}): {n} packets, {forwarded} forwarded, {drops} dropped, {punts} punted, {replies} answered"
    );
}

// ---- L2TPv3 over IPv4 and over UDP ------------------------------------------------------------

/// A suite whose tunnel runs over IPv4 (10.0.0.2 -> 10.0.0.1, session 10, `args`), cross-
/// connected with pg1.
fn ip4_tunnel_suite(args: &str) -> Suite {
    let mut h = Harness::with("", &features());
    for l in [
        "create packet-generator interface pg0 hw-addr 02:fe:00:00:00:00",
        "create packet-generator interface pg1",
        "set interface state pg0 up",
        "set interface state pg1 up",
        "set interface ip address pg0 10.0.0.1/24",
        "set ip neighbor pg0 10.0.0.2 02:00:00:00:00:02 static",
        &format!(
            "create l2tpv3 tunnel client 10.0.0.2 our 10.0.0.1 local-session-id 10 remote-session-id 20 {args}"
        ),
        "set interface state l2tpv3_tunnel0 up",
        "set interface l2 xconnect pg1 l2tpv3_tunnel0",
        "set interface l2 xconnect l2tpv3_tunnel0 pg1",
    ] {
        h.cli(l);
    }
    Suite {
        h,
        cases: 0,
        packets: 0,
    }
}

/// L2TPv3 data over UDP 1701 -> 1701 from the peer: the 4-byte header, session 10, the
/// all-ones cookie, then `inner`; UDP checksum computed when `csum`.
fn udp4_l2tp(first: [u8; 4], inner: &[u8], csum_on: bool) -> Vec<u8> {
    let mut u = vec![0x06, 0xa5, 0x06, 0xa5, 0, 0, 0, 0];
    u.extend_from_slice(&first);
    u.extend_from_slice(&10u32.to_be_bytes());
    u.extend_from_slice(&FF8);
    u.extend_from_slice(inner);
    let len = u.len() as u16;
    u[4..6].copy_from_slice(&len.to_be_bytes());
    if csum_on {
        let mut p = vec![10, 0, 0, 2, 10, 0, 0, 1, 0, 17];
        p.extend_from_slice(&len.to_be_bytes());
        p.extend_from_slice(&u);
        let c = csum(&p);
        u[6..8].copy_from_slice(&(if c == 0 { 0xffff } else { c }).to_be_bytes());
    }
    ip4_frame(PG0_MAC, [10, 0, 0, 2], [10, 0, 0, 1], 17, 64, &u)
}

/// `f` (an IPv4 frame) cut to `ip_len` bytes of IP packet, its total length and checksum
/// following.
fn cut4(f: &[u8], ip_len: usize) -> Vec<u8> {
    let mut f = f[..14 + ip_len].to_vec();
    f[16..18].copy_from_slice(&(ip_len as u16).to_be_bytes());
    refix(f)
}

#[test]
fn l2tp_over_ipv4_truncated_at_every_length_and_mutated() {
    let mut s = ip4_tunnel_suite("");
    let mut l = 10u32.to_be_bytes().to_vec();
    l.extend_from_slice(&FF8);
    l.extend_from_slice(&inner(1));
    let v = ip4_frame(PG0_MAC, [10, 0, 0, 2], [10, 0, 0, 1], 115, 64, &l);
    s.delivered("valid", std::slice::from_ref(&v), &[inner(1)]);
    // The L2TPv3 header cut at every length, and the inner frame shorter than 14 bytes.
    let short: Vec<Vec<u8>> = (20..20 + 12 + 14).map(|n| cut4(&v, n)).collect();
    s.dropped(
        "l2tp-cut",
        &short,
        "l2tp4-decap-local",
        "l2tpv3 packet too short",
    );
    // Session id 0 marks a control message.
    let mut ctl = v.clone();
    ctl[34..38].fill(0);
    s.dropped(
        "control",
        &[ctl],
        "l2tp4-decap-local",
        "l2tpv3 control messages to the control plane",
    );
    // Options before the L2TPv3 header: walked (general path), delivered.
    let mut opt = ip4_frame(PG0_MAC, [10, 0, 0, 2], [10, 0, 0, 1], 115, 64, &{
        let mut o = vec![1, 1, 1, 0];
        o.extend_from_slice(&l);
        o
    });
    opt[14] = 0x46;
    let opt = refix(opt);
    s.delivered("options", &[opt], &[inner(1)]);
    // A fragment goes to the reassembly: a first fragment whose datagram never completes is
    // held (its buffer freed at once: the reassembly copies what it keeps), nothing delivered.
    let mut frag = v.clone();
    frag[20] = 0x20;
    let frag = refix(frag);
    s.delivered("fragment", &[frag], &[]);
    assert_eq!(s.h.counter("ip4-full-reassembly", "fragments received"), 1);
    // Seeded mutations after the Ethernet header, checksum made right for half of them.
    let mut rng = Rng(0x5eed_0115);
    let mut pkts = Vec::new();
    for k in 0..4000 {
        let mut f = v.clone();
        for _ in 0..1 + rng.below(4) {
            let i = 14 + rng.below((f.len() - 14) as u64) as usize;
            f[i] = rng.next_u64() as u8;
        }
        if k % 2 == 0 {
            f = refix(f);
        }
        pkts.push(f);
    }
    let h = &mut s.h;
    let out = h.capture("pg1");
    h.send("mut", "pg0", "ethernet-input", &pkts);
    let delivered = h.captured("pg1", &out).len() as u64;
    let drops = h.interface_counter("pg0", "drops");
    let punts = h.interface_counter("pg0", "punt");
    let replies = h.interface_counter("pg0", "tx packets");
    let n = pkts.len() as u64;
    assert!(
        delivered + drops + punts + replies >= n,
        "unaccounted: {n} sent, {delivered} delivered, {drops} dropped, {punts} punted, {replies} answered"
    );
    assert!(delivered > 0 && drops > 0, "the mix has both outcomes");
    h.assert_all_free();
    s.delivered("after", std::slice::from_ref(&v), &[inner(1)]);
}

#[test]
fn l2tp_over_udp_truncated_lengths_versions_and_checksums() {
    let mut s = ip4_tunnel_suite("encap udp udp-checksum on");
    let v = udp4_l2tp([0, 3, 0, 0], &inner(2), true);
    s.delivered("valid", std::slice::from_ref(&v), &[inner(2)]);
    // UDP header cut at every length (IP total length following).
    let cut: Vec<Vec<u8>> = (20..28).map(|n| cut4(&v, n)).collect();
    s.dropped("udp-cut", &cut, "ip4-udp-lookup", "udp length error");
    // UDP length below 8 or past the IP payload.
    let ulen = |f: &[u8], l: u16| {
        let mut f = f.to_vec();
        f[38..40].copy_from_slice(&l.to_be_bytes());
        f
    };
    let lens: Vec<Vec<u8>> = [0u16, 7, 200, u16::MAX]
        .iter()
        .map(|&l| ulen(&v, l))
        .collect();
    s.dropped("udp-len", &lens, "ip4-udp-lookup", "udp length error");
    // Every single-bit error of the UDP header and L2TP headers is caught by the checksum.
    let flips: Vec<Vec<u8>> = (0..(8 + 16) * 8)
        .filter(|b| !(32..48).contains(b)) // the length field: counted above
        .map(|b| {
            let mut f = v.clone();
            f[34 + b / 8] ^= 0x80 >> (b % 8);
            f
        })
        .filter(|f| f[36..38] == v[36..38])
        .collect();
    s.dropped("bit-flips", &flips, "ip4-udp-lookup", "bad udp checksum");
    // With a right checksum: the L2TP header over UDP cut short, the T bit, version 2, and
    // reserved bits set.
    let short: Vec<Vec<u8>> = (0..12 + 14)
        .map(|n| {
            let f = udp4_l2tp([0, 3, 0, 0], &inner(2), true);
            let u = &f[34..34 + 8 + 4 + n.min(12 + 60)];
            let mut u = u.to_vec();
            let len = u.len() as u16;
            u[4..6].copy_from_slice(&len.to_be_bytes());
            u[6..8].fill(0);
            let mut p = vec![10, 0, 0, 2, 10, 0, 0, 1, 0, 17];
            p.extend_from_slice(&len.to_be_bytes());
            p.extend_from_slice(&u);
            let c = csum(&p);
            u[6..8].copy_from_slice(&(if c == 0 { 0xffff } else { c }).to_be_bytes());
            ip4_frame(PG0_MAC, [10, 0, 0, 2], [10, 0, 0, 1], 17, 64, &u)
        })
        .collect();
    s.dropped(
        "l2tp-cut",
        &short,
        "l2tp4-udp-decap",
        "l2tpv3 packet too short",
    );
    for (case, first, reason) in [
        (
            "t-bit",
            [0xc8, 3, 0, 0],
            "l2tpv3 control messages to the control plane",
        ),
        ("v2", [0x00, 2, 0, 0], "l2tpv2 packet"),
        ("v2-control", [0xc8, 2, 0, 0], "l2tpv2 packet"),
        ("v4", [0x00, 4, 0, 0], "l2tpv3 bad udp header"),
        ("reserved", [0x00, 3, 0, 1], "l2tpv3 bad udp header"),
    ] {
        s.dropped(
            case,
            &[udp4_l2tp(first, &inner(2), true)],
            "l2tp4-udp-decap",
            reason,
        );
    }
    s.delivered("after", &[v], &[inner(2)]);
}
