//! ip4 through the real engine: pg interfaces in, pg captures out, counters by name, frames
//! compared byte for byte with frames the test builds itself (its own checksum code), and
//! tshark over every capture.

mod common;

use common::*;

#[test]
fn arp_request_for_our_address_is_answered_and_teaches_the_neighbour() {
    let mut h = setup();
    let cap = h.capture("pg0");
    h.send(
        "arp",
        "pg0",
        "ethernet-input",
        &[arp_request(HOST_A, "10.0.0.2", "10.0.0.1")],
    );
    let out = h.captured("pg0", &cap);
    let want = eth(
        HOST_A,
        PG0_MAC,
        0x0806,
        &arp(2, PG0_MAC, "10.0.0.1", HOST_A, "10.0.0.2"),
    );
    assert_eq!(out, vec![want], "one reply, byte for byte");
    assert_eq!(h.counter("arp-reply", "ARP replies sent"), 1);
    assert_eq!(
        h.counter("arp-reply", "ARP request IP4 source address learned"),
        1
    );
    if let Some(p) = tshark(&cap) {
        assert_eq!(p, vec!["eth:ethertype:arp".to_string()]);
    }
    // The requester is now a dynamic neighbour.
    let mut n = String::new();
    for _ in 0..200 {
        n = h.cli("show ip neighbors");
        if n.contains("10.0.0.2") {
            break;
        }
        h.run_for(std::time::Duration::from_millis(5));
    }
    let row = n.lines().find(|l| l.contains("10.0.0.2")).unwrap_or("");
    assert!(
        row.contains(" D ") && row.contains("02:00:00:00:00:02") && row.ends_with("pg0"),
        "{n}"
    );
    // A probe (RFC 5227, sender 0.0.0.0) for our address is answered so the prober sees the
    // conflict; nothing is learned from it.
    let cap = h.capture("pg0");
    h.send(
        "probe",
        "pg0",
        "ethernet-input",
        &[arp_request(HOST_B, "0.0.0.0", "10.0.0.1")],
    );
    let out = h.captured("pg0", &cap);
    assert_eq!(
        out,
        vec![eth(
            HOST_B,
            PG0_MAC,
            0x0806,
            &arp(2, PG0_MAC, "10.0.0.1", HOST_B, "0.0.0.0")
        )]
    );
    tshark(&cap);
    h.assert_all_free();
}

#[test]
fn arp_that_is_not_for_us_is_dropped_by_name() {
    let mut h = setup();
    h.cli("create packet-generator interface pg2");
    h.cli("set interface state pg2 up");
    let mut not_eth = arp_request(HOST_A, "10.0.0.2", "10.0.0.1");
    not_eth[15] = 6;
    let mut not_ip4 = arp_request(HOST_A, "10.0.0.2", "10.0.0.1");
    not_ip4[16..18].copy_from_slice(&[0x86, 0xdd]);
    let short = arp_request(HOST_A, "10.0.0.2", "10.0.0.1")[..14 + 20].to_vec();
    let mut spoof_l2 = arp_request(HOST_A, "10.0.0.2", "10.0.0.1");
    spoof_l2[6..12].copy_from_slice(&HOST_B);
    let mut op3 = arp_request(HOST_A, "10.0.0.2", "10.0.0.1");
    op3[21] = 3;
    let cases: Vec<(Vec<u8>, &str, &str, &str)> = vec![
        (not_eth, "pg0", "arp-input", "L2 type not ethernet"),
        (not_ip4, "pg0", "arp-input", "L3 type not IP4"),
        (short, "pg0", "arp-input", "ARP packet too short"),
        (
            arp_request(HOST_A, "10.0.0.2", "10.0.0.1"),
            "pg2",
            "arp-input",
            "ARP Disabled",
        ),
        (
            spoof_l2,
            "pg0",
            "arp-reply",
            "ARP hw addr does not match L2 frame src addr",
        ),
        (op3, "pg0", "arp-reply", "ARP opcode not request"),
        (
            arp_request(HOST_A, "10.0.0.2", "10.0.0.9"),
            "pg0",
            "arp-reply",
            "IP4 destination address not local to subnet",
        ),
        (
            arp_request(HOST_A, "192.168.9.9", "10.0.0.1"),
            "pg0",
            "arp-reply",
            "IP4 source address not local to subnet",
        ),
        (
            arp_request(HOST_A, "10.0.0.1", "10.0.0.1"),
            "pg0",
            "arp-reply",
            "IP4 source address matches local interface",
        ),
        (
            arp_request(HOST_A, "0.0.0.0", "10.0.0.9"),
            "pg0",
            "arp-reply",
            "ARP probe or announcement dropped",
        ),
        (
            arp_reply(HOST_A, "10.0.0.2", PG0_MAC, "10.0.0.9"),
            "pg0",
            "arp-reply",
            "IP4 destination address not local to subnet",
        ),
    ];
    for (i, (f, ifc, node, reason)) in cases.iter().enumerate() {
        let c0 = h.counter(node, reason);
        let cap = h.capture(ifc);
        h.send(
            &format!("c{i}"),
            ifc,
            "ethernet-input",
            std::slice::from_ref(f),
        );
        assert_eq!(
            h.counter(node, reason) - c0,
            1,
            "case {i}: {node} `{reason}'"
        );
        assert!(
            h.captured(ifc, &cap).is_empty(),
            "case {i}: nothing answered"
        );
    }
    h.run_for(std::time::Duration::from_millis(20));
    assert_eq!(h.cli("show ip neighbors"), "", "nothing learned");
    h.assert_all_free();
}

#[test]
fn arp_replies_are_learned_and_announcements_refresh_known_neighbours() {
    let mut h = setup();
    h.send(
        "reply",
        "pg0",
        "ethernet-input",
        &[arp_reply(HOST_A, "10.0.0.2", PG0_MAC, "10.0.0.1")],
    );
    assert_eq!(h.counter("arp-reply", "ARP replies received"), 1);
    h.run_for(std::time::Duration::from_millis(20));
    assert!(h.cli("show ip neighbors").contains("02:00:00:00:00:02"));
    // The peer restarts with a new MAC and announces it (sender = target, RFC 5227 §3).
    let mut g = eth(
        BCAST,
        HOST_B,
        0x0806,
        &arp(1, HOST_B, "10.0.0.2", [0; 6], "10.0.0.2"),
    );
    g.resize(60, 0);
    // An announcement from a host we do not know adds nothing.
    let mut g2 = eth(
        BCAST,
        HOST_B,
        0x0806,
        &arp(1, HOST_B, "10.0.0.7", [0; 6], "10.0.0.7"),
    );
    g2.resize(60, 0);
    h.send("garp", "pg0", "ethernet-input", &[g, g2]);
    assert_eq!(
        h.counter("arp-reply", "ARP probe or announcement dropped"),
        2
    );
    h.run_for(std::time::Duration::from_millis(20));
    let n = h.cli("show ip neighbors");
    assert!(n.contains("02:00:00:00:01:02"), "new MAC: {n}");
    assert!(!n.contains("02:00:00:00:00:02"), "old MAC replaced: {n}");
    assert!(!n.contains("10.0.0.7"), "{n}");
    h.assert_all_free();
}

#[test]
fn echo_request_gets_a_byte_exact_reply() {
    let mut h = setup();
    h.cli("set ip neighbor pg0 10.0.0.2 02:00:00:00:00:02 static");
    let cap = h.capture("pg0");
    let req = echo_request(HOST_A, PG0_MAC, "10.0.0.2", "10.0.0.1", 64, 0x1234, 7);
    // The same request with options (record route, 8 bytes): answered without them.
    let m = icmp4(8, 0, [0x12, 0x34, 0, 8], &echo_data(56));
    let with_opts = eth(
        PG0_MAC,
        HOST_A,
        0x0800,
        &ip4_opts("10.0.0.2", "10.0.0.1", 1, 64, &[7, 7, 4, 0, 0, 0, 0, 1], &m),
    );
    h.send("echo", "pg0", "ethernet-input", &[req.clone(), with_opts]);
    let out = h.captured("pg0", &cap);
    assert_eq!(out.len(), 2, "two replies");
    for (f, seq) in out.iter().zip([7u8, 8]) {
        let m = icmp4(0, 0, [0x12, 0x34, 0, seq], &echo_data(56));
        let mut ip = ip4("10.0.0.1", "10.0.0.2", 1, 64, &m);
        // pwire keeps the request's ident and clears DF.
        ip[6] = 0;
        ip[10..12].fill(0);
        let c = csum(&ip[..20]);
        ip[10..12].copy_from_slice(&c.to_be_bytes());
        let want = eth(HOST_A, PG0_MAC, 0x0800, &ip);
        assert_eq!(f, &want, "seq {seq}");
        assert!(ip_checksum_ok(f) && icmp_checksum_ok(f));
    }
    assert_eq!(h.counter("ip4-icmp-input", "echo replies sent"), 2);
    let si = h.cli("show interface pg0");
    assert!(
        si.lines()
            .any(|l| l.contains("ip4") && l.trim_end().ends_with(" 2")),
        "{si}"
    );
    if let Some(p) = tshark(&cap) {
        assert_eq!(p, vec!["eth:ethertype:ip:icmp:data".to_string(); 2]);
    }
    // A request with a bad ICMP checksum is dropped by ip4-local.
    let mut bad = req;
    bad[14 + 20 + 9] ^= 0xff;
    h.send("bad", "pg0", "ethernet-input", &[bad]);
    assert_eq!(h.counter("ip4-input", "bad icmp checksum"), 1);
    h.assert_all_free();
}

/// `f` forwarded by one hop: new MACs, TTL − 1, header checksum recomputed by the test.
fn hop(f: &[u8], dmac: [u8; 6], smac: [u8; 6]) -> Vec<u8> {
    let total = usize::from(u16::from_be_bytes([f[16], f[17]]));
    let mut o = eth(dmac, smac, 0x0800, &f[14..14 + total]);
    o[22] -= 1;
    fix_ip4_checksum(&mut o);
    o
}

#[test]
fn forwarded_packets_leave_byte_exact() {
    let mut h = setup();
    h.cli("ip route add 192.0.2.0/24 via 10.0.1.2 pg1");
    h.cli("ip route add 198.51.100.0/24 via 10.0.1.2");
    h.cli("set ip neighbor pg1 10.0.1.2 02:00:00:00:01:02");
    let mut padded = udp_frame(HOST_A, PG0_MAC, "10.0.0.2", "192.0.2.9", 9, 0);
    padded.resize(60, 0xee);
    let opts = eth(
        PG0_MAC,
        HOST_A,
        0x0800,
        &ip4_opts(
            "10.0.0.2",
            "198.51.100.1",
            17,
            33,
            &[1, 1, 1, 0],
            &udp4("10.0.0.2", "198.51.100.1", 1, 2, b"opts"),
        ),
    );
    let pkts = vec![
        udp_frame(HOST_A, PG0_MAC, "10.0.0.2", "192.0.2.5", 64, 100),
        udp_frame(HOST_A, PG0_MAC, "10.0.0.2", "198.51.100.7", 10, 20),
        udp_frame(HOST_A, PG0_MAC, "10.0.0.2", "10.0.1.2", 2, 0),
        padded,
        opts,
    ];
    let cap = h.capture("pg1");
    h.send("fwd", "pg0", "ethernet-input", &pkts);
    let out = h.captured("pg1", &cap);
    let want: Vec<Vec<u8>> = pkts.iter().map(|p| hop(p, HOST_B, PG1_MAC)).collect();
    assert_eq!(out, want);
    assert_eq!(out[3].len(), 42, "Ethernet padding trimmed");
    assert!(out.iter().all(|f| ip_checksum_ok(f)));
    assert_eq!(h.counter("ip4-input", "ip4 options present"), 1);
    if let Some(p) = tshark(&cap) {
        assert!(
            p.iter()
                .all(|x| x == "eth:ethertype:ip:udp:data" || x == "eth:ethertype:ip:udp"),
            "{p:?}"
        );
    }
    let fib = h.cli("show ip fib");
    assert!(
        fib.starts_with(
            "ipv4-VRF:0, fib_index:0, flow hash:[src dst sport dport proto flowlabel ] epoch:0 flags:none locks:["
        ),
        "{fib}"
    );
    let block = |p: &str| {
        let l: Vec<&str> = fib.lines().collect();
        let k = l
            .iter()
            .position(|x| *x == p)
            .unwrap_or_else(|| panic!("{p} missing:\n{fib}"));
        l[k..k + 4].join("\n")
    };
    let b = block("192.0.2.0/24");
    assert!(
        b.contains("  unicast-ip4-chain")
            && b.contains("[@0]: dpo-load-balance: [proto:ip4 index:")
            && b.contains("to:[2:"),
        "{b}"
    );
    assert!(
        b.contains("[@5]: ipv4 via 10.0.1.2 pg1: mtu:9000 next:")
            && b.ends_with("flags:[] 02000000010202fe000000010800"),
        "{b}"
    );
    assert!(block("198.51.100.0/24").contains("ipv4 via 10.0.1.2 pg1"));
    assert!(block("10.0.0.1/32").ends_with("[@2]: dpo-receive: 10.0.0.1 on pg0"));
    assert!(
        block("10.0.0.0/24").contains("[@4]: ipv4-glean: [src:10.0.0.0/24] pg0: mtu:9000 next:")
    );
    assert!(block("10.0.0.0/24").ends_with("flags:[] ffffffffffff02fe000000000806"));
    for p in [
        "0.0.0.0/0",
        "0.0.0.0/32",
        "10.0.0.0/32",
        "10.0.0.255/32",
        "224.0.0.0/4",
        "240.0.0.0/4",
        "255.255.255.255/32",
    ] {
        assert!(block(p).ends_with("[0] [@0]: dpo-drop ip4"), "{p}: {fib}");
    }
    let prefixes: Vec<&str> = fib
        .lines()
        .filter(|l| !l.starts_with(' ') && !l.starts_with("ipv4-VRF"))
        .collect();
    assert_eq!(
        prefixes,
        [
            "0.0.0.0/0",
            "0.0.0.0/32",
            "10.0.0.0/24",
            "10.0.0.0/32",
            "10.0.0.1/32",
            "10.0.0.255/32",
            "10.0.1.0/24",
            "10.0.1.0/32",
            "10.0.1.1/32",
            "10.0.1.2/32",
            "10.0.1.255/32",
            "192.0.2.0/24",
            "198.51.100.0/24",
            "224.0.0.0/4",
            "240.0.0.0/4",
            "255.255.255.255/32",
        ]
    );
    // One address: the entry it matches; a prefix: exactly that one.
    let one = h.cli("show ip fib 192.0.2.77");
    assert!(
        one.contains("192.0.2.0/24") && !one.contains("10.0.0.0/24"),
        "{one}"
    );
    assert!(h.cli("show ip fib 10.0.0.0/24").contains("ipv4-glean"));
    let sum = h.cli("show ip fib summary");
    assert!(
        sum.lines().any(|l| l.split_whitespace().eq(["32", "9"])),
        "{sum}"
    );
    // Route removal: traffic now misses.
    h.cli("ip route del 192.0.2.0/24");
    h.send(
        "miss",
        "pg0",
        "ethernet-input",
        &[udp_frame(HOST_A, PG0_MAC, "10.0.0.2", "192.0.2.5", 64, 10)],
    );
    assert_eq!(h.counter("ip4-input", "ip4 destination lookup miss"), 1);
    h.assert_all_free();
}

/// Over a table big enough for `ip4-lookup` to read each packet's slot ahead of its loop
/// (`AHEAD_FROM` entries): frames of 128, 128 and 7 packets (the last one shorter than the
/// distance ahead) to /24s all over the table, to a /28 and a /32 inside a /24 (third
/// level), to the rest of that /24, to a /8 with nothing longer (the cover) and to no route.
/// Each packet is forwarded byte-exact or dropped by name, and each route counts the packets
/// and bytes that went to it. Then a frame straight into `ip4-lookup` with a packet too short
/// for a destination.
#[test]
fn lookups_over_a_big_table_read_slots_ahead() {
    let mut h = setup();
    h.cli("set ip neighbor pg1 10.0.1.2 02:00:00:00:01:02");
    let n24 = pwire_node_ip4::AHEAD_FROM as u32 + 10;
    let net24 = |k: u32| format!("100.{}.{}", 64 + k / 256, k % 256);
    for k in 0..n24 {
        h.cli(&format!("ip route add {}.0/24 via 10.0.1.2", net24(k)));
    }
    for r in ["100.64.5.16/28", "100.64.5.99/32", "20.0.0.0/8"] {
        h.cli(&format!("ip route add {r} via 10.0.1.2"));
    }
    // (destination, the prefix it must match; "" for none)
    let mut dsts: Vec<(String, String)> = Vec::new();
    for i in 0..(2 * pwire_graph::FRAME_SIZE as u32 + 7) {
        let k = i.wrapping_mul(2_654_435_761) % n24;
        dsts.push(match i % 6 {
            0 | 1 => (
                format!("{}.{}", net24(k), 1 + i % 250),
                format!("{}.0/24", net24(k)),
            ),
            2 => (format!("100.64.5.{}", 16 + i % 16), "100.64.5.16/28".into()),
            3 => ("100.64.5.99".into(), "100.64.5.99/32".into()),
            4 => (format!("100.64.5.{}", 100 + i % 50), "100.64.5.0/24".into()),
            _ if i % 12 == 5 => (format!("20.{}.1.2", i % 256), "20.0.0.0/8".into()),
            _ => (format!("203.0.113.{}", i % 256), String::new()),
        });
    }
    let pkts: Vec<Vec<u8>> = dsts
        .iter()
        .enumerate()
        .map(|(i, (d, _))| {
            ip4(
                "10.0.0.2",
                d,
                17,
                64,
                &udp4("10.0.0.2", d, 1, 2, &vec![7; i % 40]),
            )
        })
        .collect();
    let cap = h.capture("pg1");
    h.send("big", "pg0", "ip4-input", &pkts);
    let out = h.captured("pg1", &cap);
    let want: Vec<Vec<u8>> = pkts
        .iter()
        .zip(&dsts)
        .filter(|(_, (_, r))| !r.is_empty())
        .map(|(p, _)| hop(&eth(PG1_MAC, HOST_A, 0x0800, p), HOST_B, PG1_MAC))
        .collect();
    assert_eq!(out.len(), want.len());
    assert!(out == want, "forwarded frames differ");
    let missed = dsts.iter().filter(|(_, r)| r.is_empty()).count() as u64;
    assert!(missed > 0);
    assert_eq!(
        h.counter("ip4-input", "ip4 destination lookup miss"),
        missed
    );
    // Each route's counter: its packets and their IPv4 bytes.
    let mut per: std::collections::HashMap<&str, (u64, u64)> = Default::default();
    for (p, (_, r)) in pkts.iter().zip(&dsts) {
        let c = per.entry(r.as_str()).or_default();
        c.0 += 1;
        c.1 += p.len() as u64;
    }
    for (r, (np, nb)) in &per {
        if r.is_empty() {
            continue;
        }
        let fib = h.cli(&format!("show ip fib {r}"));
        assert!(
            fib.contains(&format!("to:[{np}:{nb}]")),
            "{r}: want to:[{np}:{nb}]\n{fib}"
        );
    }
    // Straight into ip4-lookup: a packet too short for a destination, then a whole one.
    let good = pkts[0].clone();
    h.send(
        "short",
        "pg0",
        "ip4-lookup",
        &[good[..12].to_vec(), good.clone()],
    );
    assert_eq!(h.counter("ip4-input", "ip4 length < 20 bytes"), 1);
    h.assert_all_free();
}

#[test]
fn unresolved_next_hop_arps_then_traffic_flows_after_the_reply() {
    unresolved_next_hop(setup());
}

#[test]
fn unresolved_next_hop_with_a_worker() {
    // The reply is learned on the worker; the main thread installs it with the worker parked.
    let h = setup_with("cpu { workers 1 }");
    assert_eq!(h.dp.n_workers(), 1);
    unresolved_next_hop(h);
}

fn unresolved_next_hop(mut h: pwire_testkit::Harness) {
    h.cli("ip route add 192.0.2.0/24 via 10.0.1.2");
    let data = udp_frame(HOST_A, PG0_MAC, "10.0.0.2", "192.0.2.5", 64, 40);
    let cap = h.capture("pg1");
    h.send(
        "first",
        "pg0",
        "ethernet-input",
        &[data.clone(), data.clone(), data.clone()],
    );
    let out = h.captured("pg1", &cap);
    let want = eth(
        BCAST,
        PG1_MAC,
        0x0806,
        &arp(1, PG1_MAC, "10.0.1.1", [0; 6], "10.0.1.2"),
    );
    assert_eq!(out, vec![want], "one request for three packets (throttled)");
    assert_eq!(h.counter("ip4-arp", "ARP requests sent"), 1);
    assert_eq!(h.counter("ip4-arp", "ARP requests throttled"), 2);
    if let Some(p) = tshark(&cap) {
        assert_eq!(p, vec!["eth:ethertype:arp".to_string()]);
    }
    let fib = h.cli("show ip fib 192.0.2.0/24");
    assert!(fib.contains("[@3]: arp-ipv4: via 10.0.1.2 pg1"), "{fib}");
    // The neighbour answers; the main thread installs it.
    h.send(
        "reply",
        "pg1",
        "ethernet-input",
        &[arp_reply(HOST_B, "10.0.1.2", PG1_MAC, "10.0.1.1")],
    );
    assert_eq!(h.counter("arp-reply", "ARP replies received"), 1);
    let mut n = h.cli("show ip neighbors");
    for _ in 0..200 {
        if n.contains("10.0.1.2") {
            break;
        }
        h.run_for(std::time::Duration::from_millis(5));
        n = h.cli("show ip neighbors");
    }
    assert!(
        n.contains("10.0.1.2") && n.contains("02:00:00:00:01:02") && n.contains("pg1"),
        "{n}"
    );
    let cap = h.capture("pg1");
    h.send(
        "second",
        "pg0",
        "ethernet-input",
        std::slice::from_ref(&data),
    );
    let out = h.captured("pg1", &cap);
    assert_eq!(out, vec![hop(&data, HOST_B, PG1_MAC)], "traffic flows");
    tshark(&cap);
    // A host on a connected prefix with no entry of its own goes through ip4-glean.
    let cap = h.capture("pg1");
    h.send(
        "glean",
        "pg0",
        "ethernet-input",
        &[udp_frame(HOST_A, PG0_MAC, "10.0.0.2", "10.0.1.77", 64, 0)],
    );
    assert_eq!(h.counter("ip4-glean", "ARP requests sent"), 1);
    let out = h.captured("pg1", &cap);
    assert_eq!(
        out,
        vec![eth(
            BCAST,
            PG1_MAC,
            0x0806,
            &arp(1, PG1_MAC, "10.0.1.1", [0; 6], "10.0.1.77")
        )]
    );
    h.assert_all_free();
}

/// `good` changed by `f`, its header checksum made right again when `fix`.
fn changed(good: &[u8], f: impl Fn(&mut Vec<u8>), fix: bool) -> Vec<u8> {
    let mut v = good.to_vec();
    f(&mut v);
    if fix {
        fix_ip4_checksum(&mut v);
    }
    v
}

/// A good UDP packet for pg0 to forward (10.0.0.2 to 10.0.1.9), and copies of it with one fault
/// in the IPv4 header each, by the `ip4-input` counter that drops it.
fn bad_headers() -> (Vec<u8>, Vec<(Vec<u8>, &'static str)>) {
    let good = udp_frame(HOST_A, PG0_MAC, "10.0.0.2", "10.0.1.9", 64, 8);
    let len = |n: u16| move |v: &mut Vec<u8>| v[16..18].copy_from_slice(&n.to_be_bytes());
    let cases = vec![
        (good[..14 + 19].to_vec(), "ip4 length < 20 bytes"),
        (changed(&good, |v| v[14] = 0x65, true), "ip4 version != 4"),
        (changed(&good, |v| v[14] = 0x44, false), "ip4 IHL < 5"),
        (changed(&good, len(200), true), "ip4 length > l2 length"),
        (changed(&good, len(19), true), "ip4 length < 20 bytes"),
        (
            changed(&good, |v| v[14] = 0x4f, false),
            "ip4 length > l2 length",
        ),
        (changed(&good, |v| v[27] ^= 1, false), "bad ip4 checksum"),
        (
            changed(&good, |v| v[20..22].copy_from_slice(&[0, 1]), true),
            "ip4 fragment offset == 1",
        ),
    ];
    (good, cases)
}

/// The same checks inside a run of good packets, where `ip4-input` takes its run loop (which
/// reads the header as words): each bad header in the middle of a frame is dropped by name and
/// ends the loop's run, and the good packets around it are forwarded.
#[test]
fn malformed_headers_inside_a_run_are_dropped_by_counter_name() {
    let mut h = setup();
    h.cli("set ip neighbor pg0 10.0.0.2 02:00:00:00:00:02");
    h.cli("set ip neighbor pg1 10.0.1.9 02:00:00:00:01:09 static");
    let (good, mut cases) = bad_headers();
    cases.extend([
        (changed(&good, |v| v[24] ^= 0x80, false), "bad ip4 checksum"),
        // DF and MF set around offset 1: the mask keeps only the offset.
        (
            changed(&good, |v| v[20..22].copy_from_slice(&[0x60, 1]), true),
            "ip4 fragment offset == 1",
        ),
        (changed(&good, |v| v[22] = 0, true), "ip4 ttl <= 1"),
    ]);
    for (i, (bad, reason)) in cases.iter().enumerate() {
        let c0 = h.counter("ip4-input", reason);
        let out = h.capture("pg1");
        let mut frame = vec![good.clone(); 3];
        frame.push(bad.clone());
        frame.extend([good.clone(), good.clone()]);
        h.send(&format!("r{i}"), "pg0", "ethernet-input", &frame);
        assert_eq!(
            h.counter("ip4-input", reason) - c0,
            1,
            "case {i}: `{reason}'"
        );
        let sent = h.captured("pg1", &out);
        assert_eq!(sent.len(), 5, "case {i}: the good packets around it");
        assert!(
            sent.iter().all(|f| f[14 + 8] == 63),
            "case {i}: forwarded with TTL 63"
        );
    }
    h.assert_all_free();
}

#[test]
fn malformed_headers_are_dropped_by_counter_name() {
    let mut h = setup();
    h.cli("set ip neighbor pg0 10.0.0.2 02:00:00:00:00:02");
    h.cli("create packet-generator interface pg2");
    h.cli("set interface state pg2 up");
    let to_us = |src: &str, proto: u8, ff: u16| {
        let mut f = eth(
            PG0_MAC,
            HOST_A,
            0x0800,
            &ip4(src, "10.0.0.1", proto, 64, &[0; 12]),
        );
        f[20..22].copy_from_slice(&ff.to_be_bytes());
        fix_ip4_checksum(&mut f);
        f
    };
    let mut cases: Vec<(Vec<u8>, &str, &str, &str)> = bad_headers()
        .1
        .into_iter()
        .map(|(f, reason)| (f, "pg0", "ip4-input", reason))
        .collect();
    cases.extend([
        (
            to_us("10.0.0.2", 99, 0),
            "pg0",
            "ip4-input",
            "unknown ip protocol",
        ),
        (
            to_us("10.0.0.1", 17, 0),
            "pg0",
            "ip4-input",
            "ip4 spoofed local-address packet drops",
        ),
        (
            to_us("192.168.77.1", 17, 0),
            "pg0",
            "ip4-input",
            "ip4 source lookup miss",
        ),
        (
            to_us("10.0.0.2", 17, 0x2000),
            "pg0",
            "ip4-input",
            "ip4 fragment for us, reassembly not supported",
        ),
        (
            udp_frame(HOST_A, PG0_MAC, "10.0.0.2", "239.1.1.1", 64, 8),
            "pg0",
            "ip4-input",
            "ip4 destination lookup miss",
        ),
        (
            udp_frame(HOST_A, PG0_MAC, "10.0.0.2", "10.0.0.255", 64, 8),
            "pg0",
            "ip4-input",
            "ip4 destination lookup miss",
        ),
        (
            udp_frame(HOST_A, PG2_MAC, "10.0.0.2", "10.0.1.9", 64, 8),
            "pg2",
            "ip4-input",
            "ip4 drop",
        ),
    ]);
    for (i, (f, ifc, node, reason)) in cases.iter().enumerate() {
        let c0 = h.counter(node, reason);
        let out = h.capture("pg1");
        h.send(
            &format!("m{i}"),
            ifc,
            "ethernet-input",
            std::slice::from_ref(f),
        );
        assert_eq!(
            h.counter(node, reason) - c0,
            1,
            "case {i}: {node} `{reason}'"
        );
        assert!(h.captured("pg1", &out).is_empty(), "case {i} leaked");
    }
    let si = h.cli("show interface pg0");
    assert!(
        si.lines()
            .any(|l| l.contains("punt") && l.trim_end().ends_with(" 1")),
        "the unknown protocol counts `punt': {si}"
    );
    let errs = h.cli("show errors");
    for s in ["ip4 version != 4", "ip4 IHL < 5", "bad ip4 checksum"] {
        assert!(errs.contains(s), "{s}: {errs}");
    }
    h.assert_all_free();
}

#[test]
fn icmp_errors_ttl_mtu_and_the_rate_limit() {
    let mut h = setup();
    h.cli("set ip neighbor pg0 10.0.0.2 02:00:00:00:00:02");
    h.cli("set ip neighbor pg1 10.0.1.2 02:00:00:00:01:02");
    h.cli("ip route add 192.0.2.0/24 via 10.0.1.2 pg1");
    h.cli("set interface mtu ip4 1280 pg1");
    let expired_in = udp_frame(HOST_A, PG0_MAC, "10.0.0.2", "10.0.0.1", 0, 8);
    let last_hop = udp_frame(HOST_A, PG0_MAC, "10.0.0.2", "192.0.2.5", 1, 10);
    let big_df = udp_frame(HOST_A, PG0_MAC, "10.0.0.2", "192.0.2.5", 64, 1300);
    let mut big = big_df.clone();
    big[20] = 0;
    fix_ip4_checksum(&mut big);
    let fits = udp_frame(HOST_A, PG0_MAC, "10.0.0.2", "192.0.2.5", 64, 1280 - 28);
    let back = h.capture("pg0");
    let fwd = h.capture("pg1");
    h.send(
        "te",
        "pg0",
        "ethernet-input",
        std::slice::from_ref(&expired_in),
    );
    // One per source per millisecond: the first of each kind here goes, the next is limited.
    h.run_for(std::time::Duration::from_millis(3));
    h.send(
        "ttl",
        "pg0",
        "ethernet-input",
        std::slice::from_ref(&last_hop),
    );
    h.run_for(std::time::Duration::from_millis(3));
    h.send(
        "mtu",
        "pg0",
        "ethernet-input",
        &[big_df.clone(), big.clone(), fits],
    );
    assert_eq!(h.counter("ip4-input", "ip4 ttl <= 1"), 1);
    assert_eq!(h.counter("ip4-rewrite", "ip4 ttl <= 1"), 1);
    assert_eq!(h.counter("ip4-rewrite", "ip4 MTU exceeded and DF set"), 1);
    // Without DF it is fragmented (as VPP's ip4-frag).
    assert_eq!(h.counter("ip4-frag", "packets fragmented"), 1);
    assert_eq!(h.counter("ip4-frag", "fragments sent"), 2);
    assert_eq!(
        h.counter("ip4-icmp-error", "hop limit exceeded response sent"),
        2
    );
    assert_eq!(
        h.counter("ip4-icmp-error", "destination unreachable response sent"),
        1
    );
    let sent = h.captured("pg1", &fwd);
    assert_eq!(
        sent.len(),
        3,
        "1280 bytes exactly still goes; the big one in 2 fragments"
    );
    // The fragments: TTL decremented once, offsets and MF right, the payload whole, each
    // header's checksum right, none over the MTU.
    let orig = &big[14..];
    let mut frags: Vec<&Vec<u8>> = sent
        .iter()
        .filter(|f| f[20] & 0x20 != 0 || f[21] != 0)
        .collect();
    frags.sort_by_key(|f| u16::from_be_bytes([f[20], f[21]]) & 0x1fff);
    assert_eq!(frags.len(), 2);
    let mut data = Vec::new();
    for (k, f) in frags.iter().enumerate() {
        let ip = &f[14..];
        assert!(ip.len() <= 1280);
        assert_eq!(ip[8], orig[8] - 1, "ttl");
        assert_eq!(csum(&ip[..20]), 0, "header checksum");
        assert_eq!(ip[4..6], orig[4..6], "identification kept");
        let ff = u16::from_be_bytes([ip[6], ip[7]]);
        assert_eq!(ff & 0x2000 != 0, k == 0, "MF");
        assert_eq!(usize::from(ff & 0x1fff) * 8, data.len(), "offset");
        data.extend_from_slice(&ip[20..usize::from(u16::from_be_bytes([ip[2], ip[3]]))]);
    }
    assert_eq!(&data[..], &orig[20..], "payload");
    let out = h.captured("pg0", &back);
    assert_eq!(out.len(), 3, "two time exceeded, one fragmentation needed");
    for (f, orig, ty, code, rest) in [
        (&out[0], &expired_in, 11u8, 0u8, [0u8; 4]),
        (&out[1], &last_hop, 11, 0, [0; 4]),
        (&out[2], &big_df, 3, 4, [0, 0, 0x05, 0x00]),
    ] {
        let quote = &orig[14..(14 + 548).min(orig.len())];
        let m = icmp4(ty, code, rest, quote);
        let mut ip = ip4("10.0.0.1", "10.0.0.2", 1, 255, &m);
        ip[4..6].fill(0);
        ip[6] = 0;
        ip[10..12].fill(0);
        let c = csum(&ip[..20]);
        ip[10..12].copy_from_slice(&c.to_be_bytes());
        assert_eq!(
            f,
            &eth(HOST_A, PG0_MAC, 0x0800, &ip),
            "type {ty} code {code}"
        );
    }
    assert_eq!(out[2].len(), 14 + 576, "errors stop at 576 bytes");
    assert_eq!(
        out[1][14 + 28 + 8],
        1,
        "quotes the header as it arrived (TTL 1)"
    );
    if let Some(p) = tshark(&back) {
        assert_eq!(p.len(), 3);
        assert!(
            p.iter()
                .all(|x| x.starts_with("eth:ethertype:ip:icmp:ip:udp")),
            "{p:?}"
        );
    }
    tshark(&fwd);
    // A burst from one source: one error per millisecond, the rest rate limited.
    let burst: Vec<Vec<u8>> = (0..20).map(|_| last_hop.clone()).collect();
    let back = h.capture("pg0");
    let l0 = h.counter("ip4-icmp-error", "error message rate limited");
    h.send("burst", "pg0", "ethernet-input", &burst);
    let sent = h.captured("pg0", &back).len() as u64;
    let limited = h.counter("ip4-icmp-error", "error message rate limited") - l0;
    assert!(
        sent >= 1 && limited >= 1 && sent + limited == 20,
        "{sent} sent, {limited} limited"
    );
    // No error about an ICMP error, nor to a broadcast destination.
    let te_about = eth(
        PG0_MAC,
        HOST_A,
        0x0800,
        &ip4(
            "10.0.0.2",
            "192.0.2.5",
            1,
            1,
            &icmp4(11, 0, [0; 4], &[0; 28]),
        ),
    );
    let d0 = h.counter("ip4-icmp-error", "error message dropped");
    h.run_for(std::time::Duration::from_millis(3));
    h.send("about", "pg0", "ethernet-input", &[te_about]);
    assert_eq!(h.counter("ip4-icmp-error", "error message dropped") - d0, 1);
    h.assert_all_free();
}

#[test]
fn ping_a_simulated_host() {
    let mut h = setup();
    h.cli("test echo-host4 host0 10.0.2.2");
    h.cli("set interface state host0 up");
    h.cli("set interface ip address host0 10.0.2.1/24");
    // The first request finds no neighbour: glean drops it and ARPs (as VPP).
    let out = h.cli("ping 10.0.2.2 repeat 3 interval 0.05");
    let lines: Vec<&str> = out.lines().collect();
    let replies: Vec<&&str> = lines.iter().filter(|l| l.contains("bytes from")).collect();
    assert_eq!(replies.len(), 2, "{out}");
    for (k, l) in replies.iter().enumerate() {
        assert!(
            l.starts_with(&format!(
                "76 bytes from 10.0.2.2: icmp_seq={} ttl=64 time=",
                k + 2
            )) && l.ends_with(" ms"),
            "{l}"
        );
    }
    assert_eq!(lines[lines.len() - 2], "", "{out}");
    assert_eq!(
        lines[lines.len() - 1],
        "Statistics: 3 sent, 2 received, 33.333332% packet loss"
    );
    let out = h.cli("ping ipv4 10.0.2.2 repeat 2 interval 0.02 size 100");
    assert!(
        out.contains("116 bytes from 10.0.2.2: icmp_seq=1 ttl=64") && out.contains("icmp_seq=2"),
        "{out}"
    );
    assert!(
        out.ends_with("Statistics: 2 sent, 2 received, 0% packet loss\n"),
        "{out}"
    );
    // Our own address answers through ip4-receive.
    let out = h.cli("ping 10.0.2.1 repeat 1 interval 0.02");
    assert!(
        out.contains("76 bytes from 10.0.2.1: icmp_seq=1 ttl=64"),
        "{out}"
    );
    // Nowhere to go.
    let out = h.cli("ping 203.0.113.1 repeat 1 interval 0.01");
    assert!(
        out.contains("Failed: no egress interface")
            && out.contains("Statistics: 0 sent, 0 received, 0% packet loss"),
        "{out}"
    );
    assert!(h
        .cli_err("ping 10.0.2.2 repeat x")
        .contains("expecting repeat count"));
    assert!(h
        .cli_err("ping ipv4 fd00::1")
        .contains("expecting IPv4 address"));
    let n = h.cli("show ip neighbors host0");
    assert!(
        n.contains("10.0.2.2") && n.contains("02:00:00:00:ee:04"),
        "{n}"
    );
    h.assert_all_free();
}

#[test]
fn cli_addresses_routes_neighbours_in_both_families() {
    let mut h = setup();
    assert_eq!(
        h.cli_err("set interface ip address pg0 10.0.0.300/24"),
        "set interface ip address: expected IP4/IP6 address/length `10.0.0.300/24'"
    );
    assert_eq!(
        h.cli_err("set interface ip address pg0 10.9.0.1/33"),
        "set interface ip address: expected IP4/IP6 address/length `10.9.0.1/33'"
    );
    assert!(h
        .cli_err("set interface ip address pg1 10.0.0.5/16")
        .contains(
            "failed to add 10.0.0.5/16 on pg1 which conflicts with 10.0.0.1/24 for interface pg0"
        ));
    assert!(h
        .cli_err("set interface ip address pg9 10.9.0.1/24")
        .contains("unknown interface `pg9'"));
    assert!(h
        .cli_err("set interface ip address pg0 224.0.0.1/24")
        .contains("invalid address"));
    assert!(h
        .cli_err("set interface ip address del pg0 10.7.0.1/24")
        .contains("address 10.7.0.1/24 not found on pg0"));
    h.cli("set interface ip address pg0 10.0.0.1/24");
    // Both families on one interface; `del all` takes both.
    h.cli("set interface ip address pg0 fd00::1/64");
    h.cli("set interface ip address pg0 10.5.0.1/30");
    h.cli("set interface ip address del pg0 all");
    assert!(!h.cli("show ip fib").contains("10.0.0."), "IPv4 gone");
    assert!(!h.cli("show ip6 fib").contains("fd00::"), "IPv6 gone");
    h.cli("set interface ip address pg0 10.0.0.1/24");
    h.cli("set interface ip address pg0 fd00::1/64");
    assert_eq!(
        h.cli("show interface address pg0"),
        "pg0 (up):\n  L3 10.0.0.1/24\n  L3 fd00::1/64\n",
        "both families, IPv4 first (VPP's order)"
    );
    // Neighbours of both families in one table, IPv4 first.
    h.cli("set ip neighbor pg0 10.0.0.2 02:00:00:00:00:02 static");
    h.cli("set ip neighbor pg1 10.0.1.2 02:00:00:00:01:02 no-fib-entry");
    h.cli("set interface ip address pg1 fd01::1/64");
    h.cli("set ip neighbor pg1 fd01::2 02:00:00:00:01:03");
    let n = h.cli("show ip neighbors");
    let l: Vec<&str> = n.lines().collect();
    assert_eq!(
        l[0],
        format!(
            "{:^12}{:^40}{:^6}{:^20}{:^24}",
            "Time", "IP", "Flags", "Ethernet", "Interface"
        )
    );
    assert_eq!(l.len(), 4, "{n}");
    assert!(
        l[1].contains("10.0.0.2") && l[1].contains(" S ") && l[1].ends_with("pg0"),
        "{n}"
    );
    assert!(
        l[2].contains("10.0.1.2") && l[2].contains("DN") && l[2].ends_with("pg1"),
        "{n}"
    );
    assert!(l[3].contains("fd01::2") && l[3].contains(" D "), "{n}");
    assert_eq!(h.cli("show ip4 neighbors").lines().count(), 3);
    assert_eq!(h.cli("show ip6 neighbors").lines().count(), 2);
    assert_eq!(h.cli("show ip neighbors pg1").lines().count(), 3);
    assert!(
        !h.cli("show ip fib").contains("10.0.1.2/32"),
        "no-fib-entry"
    );
    h.cli("set ip neighbor del pg0 10.0.0.2");
    assert!(!h.cli("show ip neighbors").contains("10.0.0.2"));
    assert!(h
        .cli_err("set ip neighbor del pg0 10.0.0.2")
        .contains("no such neighbor 10.0.0.2"));
    assert!(h
        .cli_err("set ip neighbor pg0 10.0.0.3 01:00:00:00:00:01")
        .contains("invalid MAC address"));
    // The neighbour limit, per family as VPP.
    let cfg = h.cli("show ip neighbor-config");
    assert_eq!(
        cfg,
        "ip4:\n  limit:50000, age:0, recycle:0\nip6:\n  limit:50000, age:0, recycle:0\n"
    );
    h.cli("set ip neighbor-config ip4 limit 2");
    assert!(h
        .cli("show ip neighbor-config")
        .starts_with("ip4:\n  limit:2,"));
    h.cli("set ip neighbor pg0 10.0.0.3 02:00:00:00:00:03");
    assert!(h
        .cli_err("set ip neighbor pg0 10.0.0.4 02:00:00:00:00:04")
        .contains("neighbor limit reached (2): not adding 10.0.0.4"));
    // Routes: errors and paths.
    h.cli("ip route add 192.0.2.0/24 via 10.0.0.9 pg0");
    h.cli("ip route 198.51.100.0/24 via pg0");
    let fib = h.cli("show ip fib");
    assert!(fib.contains("arp-ipv4: via 10.0.0.9 pg0"), "{fib}");
    assert!(fib.contains("198.51.100.0/24"), "{fib}");
    h.cli("ip route del 192.0.2.0/24 via 10.0.0.9 pg0");
    assert!(h
        .cli_err("ip route del 192.0.2.0/24")
        .contains("no such route 192.0.2.0/24"));
    assert!(h.cli_err("ip route add 192.0.2.0/24").contains("via"));
    assert!(h
        .cli_err("ip route add 192.0.2.0/24 via 255.255.255.255")
        .contains("invalid next hop"));
    assert!(h
        .cli_err("ip route add 192.0.2.0/24 via 10.0.0.9 pg0 extra")
        .contains("unknown input `extra'"));
    // Unique-prefix abbreviations work as in VPP.
    assert!(h.cli("sh ip fi").starts_with("ipv4-VRF:0"));
    assert!(h
        .cli_err("show ip fib 10.0.0.0/40")
        .contains("unknown input"));
    h.assert_all_free();
}

#[test]
fn addresses_are_announced_by_gratuitous_arp() {
    let mut h = setup();
    h.cli("create packet-generator interface pg2");
    h.cli("set interface state pg2 up");
    let cap = h.capture("pg2");
    h.cli("set interface ip address pg2 10.0.2.1/24");
    h.cli("set interface state pg2 down");
    h.cli("set interface state pg2 up");
    let out = h.captured("pg2", &cap);
    let garp = eth(
        BCAST,
        PG2_MAC,
        0x0806,
        &arp(1, PG2_MAC, "10.0.2.1", [0; 6], "10.0.2.1"),
    );
    assert_eq!(
        out,
        vec![garp.clone(), garp],
        "on address add and on admin up"
    );
    if let Some(p) = tshark(&cap) {
        assert_eq!(p, vec!["eth:ethertype:arp".to_string(); 2]);
    }
    h.assert_all_free();
}

#[test]
fn trace_shows_the_ip4_path() {
    let mut h = setup();
    h.cli("set ip neighbor pg0 10.0.0.2 02:00:00:00:00:02");
    h.cli("trace add pg-input 2");
    h.send(
        "t",
        "pg0",
        "ethernet-input",
        &[
            echo_request(HOST_A, PG0_MAC, "10.0.0.2", "10.0.0.1", 64, 1, 1),
            arp_request(HOST_A, "10.0.0.2", "10.0.0.1"),
        ],
    );
    let t = h.cli("show trace");
    for n in [
        "ethernet-input",
        "ip4-input",
        "ip4-lookup",
        "ip4-receive",
        "ip4-icmp-input",
        "ip4-icmp-echo-request",
        "ip4-rewrite",
        "interface-output",
        "arp-input",
        "arp-reply",
    ] {
        assert!(t.contains(n), "`{n}' not in trace:\n{t}");
    }
    assert!(t.contains("ICMP: 10.0.0.2 -> 10.0.0.1"), "{t}");
    assert!(
        t.contains("tos 0x00, ttl 64, length 84, checksum 0x"),
        "{t}"
    );
    assert!(t.contains("dscp CS0 ecn NON_ECN"), "{t}");
    assert!(t.contains("fragment id 0x1234, flags DONT_FRAGMENT"), "{t}");
    assert!(t.contains("ICMP echo_request checksum 0x"), "{t}");
    assert!(t.contains("tx_sw_if_index 1 adj-idx"), "{t}");
    assert!(t.contains("ipv4 via 10.0.0.2 sw_if_index 1"), "{t}");
    assert!(
        t.contains("request, type ethernet/IP4, address size 6/4")
            && t.contains("02:00:00:00:00:02/10.0.0.2 -> 00:00:00:00:00:00/10.0.0.1"),
        "{t}"
    );
}

#[test]
fn deleting_an_interface_takes_its_ip4_state_along() {
    let mut h = setup();
    h.cli("test echo-host4 host0 10.0.2.2");
    h.cli("set interface state host0 up");
    h.cli("set interface ip address host0 10.0.2.1/24");
    h.cli("set ip neighbor host0 10.0.2.2 02:00:00:00:ee:04");
    h.cli("ip route add 192.0.2.0/24 via 10.0.2.2 host0");
    h.cli("ip route add 198.51.100.0/24 via 10.0.2.2");
    assert_eq!(
        h.cli("test ip4-egress 198.51.100.1"),
        format!("Some({})\n", 3)
    );
    h.cli("test delete-interface host0");
    let fib = h.cli("show ip fib");
    for gone in ["10.0.2.", "host0", "192.0.2.0/24"] {
        assert!(!fib.contains(gone), "`{gone}' left behind: {fib}");
    }
    let b: Vec<&str> = fib
        .lines()
        .skip_while(|l| *l != "198.51.100.0/24")
        .take(4)
        .collect();
    assert!(
        b[3].contains("dpo-drop ip4"),
        "recursive route now unresolved: {fib}"
    );
    assert_eq!(h.cli("show ip neighbors"), "");
    assert_eq!(h.cli("test ip4-egress 198.51.100.1"), "None\n");
    h.cli("set ip neighbor pg1 10.0.1.2 02:00:00:00:01:02");
    h.cli("ip route add 192.0.2.0/24 via 10.0.1.2");
    assert_eq!(h.cli("test ip4-egress 192.0.2.1"), "Some(2)\n");
}

#[test]
fn learned_neighbours_over_the_limit_are_counted_not_added() {
    let mut h = setup();
    h.cli("set ip neighbor-config ip4 limit 1");
    h.cli("set ip neighbor pg1 10.0.1.2 02:00:00:00:01:02 static");
    // A request from a new host is still answered, but the host is not learned.
    let cap = h.capture("pg0");
    h.send(
        "arp",
        "pg0",
        "ethernet-input",
        &[arp_request(HOST_A, "10.0.0.2", "10.0.0.1")],
    );
    assert_eq!(h.captured("pg0", &cap).len(), 1, "answered");
    let mut over = 0;
    for _ in 0..200 {
        over = h.counter("arp-reply", "neighbors not learned due to limit");
        if over > 0 {
            break;
        }
        h.run_for(std::time::Duration::from_millis(5));
    }
    assert_eq!(over, 1);
    assert!(!h.cli("show ip neighbors").contains("10.0.0.2"));
    h.assert_all_free();
}

/// One `ip4-input` frame holding a run from each of three interfaces (the enabled streams'
/// packets share pg-input's frame): each run goes where its own interface sends it (pg0's and
/// pg1's are forwarded, pg2 has no IPv4), the faulty headers inside the runs are dropped by
/// name, a header with options is forwarded, and each interface counts its own packets.
#[test]
fn runs_from_three_interfaces_in_one_frame() {
    let mut h = setup();
    h.cli("create packet-generator interface pg2");
    h.cli("set interface state pg2 up");
    h.cli("set ip neighbor pg0 10.0.0.2 02:00:00:00:00:02 static");
    h.cli("set ip neighbor pg1 10.0.1.9 02:00:00:00:01:09 static");
    let a = udp_frame(HOST_A, PG0_MAC, "10.0.0.2", "10.0.1.9", 64, 8);
    let a_opts = eth(
        PG0_MAC,
        HOST_A,
        0x0800,
        &ip4_opts(
            "10.0.0.2",
            "10.0.1.9",
            17,
            64,
            &[1, 1, 1, 0],
            &udp4("10.0.0.2", "10.0.1.9", 1, 2, b"opts"),
        ),
    );
    let a_bad = changed(&a, |v| v[27] ^= 1, false);
    // A fragment past the first (offset 2, 16 bytes) leaves the run loop and is forwarded by
    // the general path; offset 1 is dropped there.
    let a_frag = changed(&a, |v| v[20..22].copy_from_slice(&[0, 2]), true);
    let a_frag1 = changed(&a, |v| v[20..22].copy_from_slice(&[0x20, 1]), true);
    let b = udp_frame(HOST_B, PG1_MAC, "10.0.1.9", "10.0.0.2", 64, 8);
    let b_bad = changed(&b, |v| v[24] ^= 0x80, false);
    let c = udp_frame(HOST_A, PG2_MAC, "10.0.2.2", "10.0.1.9", 64, 8);
    let s0 = vec![
        a.clone(),
        a.clone(),
        a_opts.clone(),
        a.clone(),
        a_bad,
        a.clone(),
        a_frag.clone(),
        a.clone(),
        a_frag1,
        a.clone(),
    ];
    let s1 = vec![b.clone(), b.clone(), b.clone(), b_bad, b.clone()];
    let s2 = vec![c.clone(); 3];
    for (name, ifc, pkts) in [("s0", "pg0", &s0), ("s1", "pg1", &s1), ("s2", "pg2", &s2)] {
        h.stream(name, ifc, "ethernet-input", pkts);
    }
    let (bad0, opt0, drop0, frag0) = (
        h.counter("ip4-input", "bad ip4 checksum"),
        h.counter("ip4-input", "ip4 options present"),
        h.counter("ip4-input", "ip4 drop"),
        h.counter("ip4-input", "ip4 fragment offset == 1"),
    );
    let (cap0, cap1) = (h.capture("pg0"), h.capture("pg1"));
    h.cli("clear runtime");
    h.run_streams();
    assert_eq!(
        h.runtime_of("ip4-input"),
        (1, 18),
        "the three runs in one frame"
    );
    let to_pg1 = h.captured("pg1", &cap1);
    let to_pg0 = h.captured("pg0", &cap0);
    let want1: Vec<Vec<u8>> = [&a, &a, &a_opts, &a, &a, &a_frag, &a, &a]
        .iter()
        .map(|f| hop(f, [0x02, 0, 0, 0, 1, 9], PG1_MAC))
        .collect();
    let want0: Vec<Vec<u8>> = (0..4)
        .map(|_| hop(&b, [0x02, 0, 0, 0, 0, 2], PG0_MAC))
        .collect();
    assert_eq!(to_pg1, want1);
    assert_eq!(to_pg0, want0);
    assert_eq!(h.counter("ip4-input", "bad ip4 checksum") - bad0, 2);
    assert_eq!(h.counter("ip4-input", "ip4 options present") - opt0, 1);
    assert_eq!(
        h.counter("ip4-input", "ip4 fragment offset == 1") - frag0,
        1
    );
    assert_eq!(
        h.counter("ip4-input", "ip4 drop") - drop0,
        3,
        "pg2 has no IPv4"
    );
    for (ifc, n) in [("pg0", 10), ("pg1", 5), ("pg2", 3)] {
        assert_eq!(h.interface_counter(ifc, "ip4"), n, "{ifc}");
    }
    h.assert_all_free();
}
