//! ip6 through the real engine: pg interfaces in, pg captures out, counters by name, tshark
//! over every capture.

mod common;

use common::*;
use pwire_wire::icmpv6::{NdRepr, NA_FLAG_OVERRIDE};
use pwire_wire::Mac;

#[test]
fn ns_for_our_address_gets_na_and_teaches_the_neighbour() {
    let mut h = setup();
    let cap = capture(&mut h, "pg0", "na.pcap");
    send(
        &mut h,
        "ns",
        "pg0",
        "ethernet-input",
        &[ns_frame(HOST_A, "fd00::2", "fd00::1", Some(HOST_A))],
    );
    let out = captured(&mut h, "pg0", &cap);
    assert_eq!(out.len(), 1, "one NA back");
    let f = &out[0];
    assert_eq!(&f[0..6], &HOST_A, "to the solicitor's MAC");
    assert_eq!(&f[6..12], &PG0_MAC);
    assert_eq!(&f[12..14], &[0x86, 0xdd]);
    let ip = &f[14..];
    assert_eq!(ip[7], 255, "ND hop limit");
    assert_eq!(&ip[8..24], &a("fd00::1").octets(), "from the target");
    assert_eq!(&ip[24..40], &a("fd00::2").octets(), "to the solicitor");
    let icmp = &ip[40..];
    assert_eq!(icmp[0], 136);
    assert_eq!(icmp[4], 0x60, "solicited + override, not router");
    assert_eq!(&icmp[8..24], &a("fd00::1").octets());
    assert_eq!(&icmp[24..26], &[2, 1], "TLLA option");
    assert_eq!(&icmp[26..32], &PG0_MAC);
    assert!(icmp_checksum_ok(f));
    assert_eq!(
        h.counter("ip6-icmp-input", "neighbor advertisements sent"),
        1
    );
    if let Some(p) = tshark(&cap) {
        assert_eq!(p, vec!["eth:ethertype:ipv6:icmpv6".to_string()]);
    }
    // The SLLA taught us the solicitor.
    let n = h.cli("show ip neighbors");
    assert!(
        n.contains("fd00::2") && n.contains("02:00:00:00:00:02") && n.contains("pg0"),
        "{n}"
    );
    assert!(n.lines().nth(1).unwrap().contains(" D "), "dynamic: {n}");
    // An NS for an address that is not ours is dropped with VPP's reason.
    send(
        &mut h,
        "ns2",
        "pg0",
        "ethernet-input",
        &[ns_frame(HOST_A, "fd00::2", "fd00::9", Some(HOST_A))],
    );
    assert_eq!(
        h.counter(
            "ip6-icmp-input",
            "neighbor solicitations for unknown targets"
        ),
        1
    );
    // A DAD probe (from ::) is answered to all-nodes without the S flag.
    let cap = capture(&mut h, "pg0", "dad.pcap");
    send(
        &mut h,
        "dad",
        "pg0",
        "ethernet-input",
        &[ns_frame(HOST_A, "::", "fd00::1", None)],
    );
    let out = captured(&mut h, "pg0", &cap);
    assert_eq!(out.len(), 1);
    assert_eq!(&out[0][0..6], &[0x33, 0x33, 0, 0, 0, 1]);
    assert_eq!(&out[0][38..54], &a("ff02::1").octets());
    assert_eq!(out[0][58], 0x20, "override only");
    tshark(&cap);
    h.assert_all_free();
}

#[test]
fn echo_request_gets_reply_with_correct_checksum() {
    let mut h = setup();
    h.cli("set ip neighbor pg0 fd00::2 02:00:00:00:00:02 static");
    let cap = capture(&mut h, "pg0", "echo.pcap");
    send(
        &mut h,
        "echo",
        "pg0",
        "ethernet-input",
        &[echo_request(
            HOST_A, PG0_MAC, "fd00::2", "fd00::1", 64, 0x1234, 7,
        )],
    );
    let out = captured(&mut h, "pg0", &cap);
    assert_eq!(out.len(), 1, "one reply");
    let f = &out[0];
    assert_eq!(&f[0..12], &[HOST_A, PG0_MAC].concat());
    let ip = &f[14..];
    assert_eq!(ip[7], 64, "host hop limit, not decremented by ip6-rewrite");
    assert_eq!(&ip[8..24], &a("fd00::1").octets());
    assert_eq!(&ip[24..40], &a("fd00::2").octets());
    assert_eq!(ip[40], 129);
    assert_eq!(&ip[44..48], &[0x12, 0x34, 0, 7], "id and seq echoed");
    assert_eq!(&ip[48..], &echo_body(0, 0, 56)[4..], "data echoed");
    assert!(icmp_checksum_ok(f), "reply checksum");
    assert_eq!(h.counter("ip6-icmp-input", "echo replies sent"), 1);
    // Interface counters: ip6 counted once on pg0.
    let si = h.cli("show interface pg0");
    assert!(
        si.lines()
            .any(|l| l.contains("ip6") && l.trim_end().ends_with(" 1")),
        "{si}"
    );
    if let Some(p) = tshark(&cap) {
        assert_eq!(p, vec!["eth:ethertype:ipv6:icmpv6:data".to_string()]);
    }
    // A request with a bad checksum is dropped by ip6-local.
    let mut bad = echo_request(HOST_A, PG0_MAC, "fd00::2", "fd00::1", 64, 1, 1);
    bad[14 + 40 + 2] ^= 0xff;
    send(&mut h, "bad", "pg0", "ethernet-input", &[bad]);
    assert_eq!(h.counter("ip6-input", "bad icmp checksum"), 1);
    h.assert_all_free();
}

#[test]
fn forwarded_packet_leaves_with_hop_limit_minus_one_and_the_neighbours_mac() {
    let mut h = setup();
    h.cli("ip route add 2001:db8::/32 via fd01::2 pg1");
    h.cli("ip route add 2001:db9::/48 via fd01::2");
    h.cli("set ip neighbor pg1 fd01::2 02:00:00:00:01:02");
    let pkts = vec![
        udp_frame(HOST_A, PG0_MAC, "fd00::2", "2001:db8::5", 64, 100),
        udp_frame(HOST_A, PG0_MAC, "fd00::2", "2001:db9::7", 10, 20),
        udp_frame(HOST_A, PG0_MAC, "fd00::2", "fd01::2", 2, 0),
    ];
    let cap = capture(&mut h, "pg1", "fwd.pcap");
    send(&mut h, "fwd", "pg0", "ethernet-input", &pkts);
    let out = captured(&mut h, "pg1", &cap);
    assert_eq!(out.len(), 3);
    for (o, i) in out.iter().zip(&pkts) {
        assert_eq!(&o[0..6], &HOST_B, "neighbour's MAC");
        assert_eq!(&o[6..12], &PG1_MAC);
        assert_eq!(o[14 + 7], i[14 + 7] - 1, "hop limit decremented");
        assert_eq!(&o[14 + 8..], &i[14 + 8..], "rest untouched");
        assert_eq!(&o[14..14 + 7], &i[14..14 + 7]);
    }
    if let Some(p) = tshark(&cap) {
        assert!(
            p.iter()
                .all(|x| x == "eth:ethertype:ipv6:udp:data" || x == "eth:ethertype:ipv6:udp"),
            "{p:?}"
        );
    }
    let fib = h.cli("show ip6 fib");
    assert!(
        fib.starts_with(
            "ipv6-VRF:0, fib_index:0, flow hash:[src dst sport dport proto flowlabel ]"
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
    let b = block("2001:db8::/32");
    assert!(
        b.contains("  unicast-ip6-chain")
            && b.contains("dpo-load-balance: [proto:ip6")
            && b.contains("to:[1:"),
        "{b}"
    );
    assert!(
        b.contains("ipv6 via fd01::2 pg1: mtu:9000") && b.contains("02000000010202fe0000000186dd"),
        "{b}"
    );
    assert!(
        block("2001:db9::/48").contains("ipv6 via fd01::2 pg1"),
        "recursive route resolved: {fib}"
    );
    assert!(block("fd00::1/128").contains("dpo-receive: fd00::1 on pg0"));
    assert!(block("fd00::/64").contains("ipv6-glean: [src:fd00::/64] pg0"));
    assert!(block("::/0").contains("dpo-drop ip6"));
    assert!(block("fe80::/10").contains("ip6-link-local"));
    assert!(
        !fib.contains("fe80::fe:ff"),
        "link-local receive entries are not listed"
    );
    // Prefixes come sorted.
    let prefixes: Vec<&str> = fib
        .lines()
        .filter(|l| !l.starts_with(' ') && !l.starts_with("ipv6-VRF"))
        .collect();
    assert_eq!(
        prefixes,
        [
            "::/0",
            "2001:db8::/32",
            "2001:db9::/48",
            "fd00::/64",
            "fd00::1/128",
            "fd01::/64",
            "fd01::1/128",
            "fd01::2/128",
            "fe80::/10"
        ]
    );
    // Lookup of one address shows the entry it matches.
    let one = h.cli("show ip6 fib 2001:db8::99");
    assert!(
        one.contains("2001:db8::/32") && !one.contains("fd00::/64"),
        "{one}"
    );
    assert!(h.cli("show ip6 fib summary").contains("128"));
    // Route removal: traffic now misses.
    h.cli("ip route del 2001:db8::/32");
    send(
        &mut h,
        "miss",
        "pg0",
        "ethernet-input",
        &[udp_frame(HOST_A, PG0_MAC, "fd00::2", "2001:db8::5", 64, 10)],
    );
    assert_eq!(h.counter("ip6-input", "ip6 destination lookup miss"), 1);
    let errs = h.cli("show errors");
    assert!(errs.contains("ip6 destination lookup miss"), "{errs}");
    h.assert_all_free();
}

#[test]
fn unresolved_next_hop_solicits_then_traffic_flows_after_the_na() {
    unresolved_next_hop(setup());
}

#[test]
fn unresolved_next_hop_with_a_worker() {
    // The NA is learned on the worker; the main thread installs it with the worker parked.
    let h = setup_with("cpu { workers 1 }");
    assert_eq!(h.dp.n_workers(), 1);
    unresolved_next_hop(h);
}

fn unresolved_next_hop(mut h: pwire_testkit::Harness) {
    h.cli("ip route add 2001:db8::/32 via fd01::2");
    let data = udp_frame(HOST_A, PG0_MAC, "fd00::2", "2001:db8::5", 64, 40);
    let cap = capture(&mut h, "pg1", "ns.pcap");
    send(
        &mut h,
        "first",
        "pg0",
        "ethernet-input",
        &[data.clone(), data.clone(), data.clone()],
    );
    let out = captured(&mut h, "pg1", &cap);
    assert_eq!(out.len(), 1, "one NS for three packets (throttled)");
    let ns = &out[0];
    assert_eq!(
        &ns[0..6],
        &[0x33, 0x33, 0xff, 0, 0, 2],
        "solicited-node MAC"
    );
    assert_eq!(&ns[6..12], &PG1_MAC);
    assert_eq!(ns[14 + 7], 255);
    assert_eq!(
        &ns[22..38],
        &a("fe80::fe:ff:fe00:1").octets(),
        "from our link-local"
    );
    assert_eq!(&ns[38..54], &a("ff02::1:ff00:2").octets());
    assert_eq!(ns[54], 135);
    assert_eq!(&ns[62..78], &a("fd01::2").octets(), "target");
    assert_eq!(&ns[78..80], &[1, 1], "SLLA option");
    assert_eq!(&ns[80..86], &PG1_MAC);
    assert!(icmp_checksum_ok(ns));
    assert_eq!(
        h.counter("ip6-discover-neighbor", "neighbor solicitations sent"),
        1
    );
    assert_eq!(h.counter("ip6-discover-neighbor", "throttled"), 2);
    tshark(&cap);
    // The neighbour answers; the main thread installs it.
    send(
        &mut h,
        "na",
        "pg1",
        "ethernet-input",
        &[na_frame(
            HOST_B,
            PG1_MAC,
            "fd01::2",
            "fe80::fe:ff:fe00:1",
            "fd01::2",
        )],
    );
    assert_eq!(
        h.counter("ip6-icmp-input", "neighbor advertisements received"),
        1
    );
    // With a worker the install is asynchronous (the main thread drains the workers' learn
    // queues on its own clock): wait for it, boundedly.
    let mut n = h.cli("show ip6 neighbors");
    for _ in 0..200 {
        if n.contains("fd01::2") {
            break;
        }
        h.run_for(std::time::Duration::from_millis(5));
        n = h.cli("show ip6 neighbors");
    }
    assert!(
        n.contains("fd01::2") && n.contains("02:00:00:00:01:02") && n.contains("pg1"),
        "{n}"
    );
    let cap = capture(&mut h, "pg1", "flow.pcap");
    send(
        &mut h,
        "second",
        "pg0",
        "ethernet-input",
        std::slice::from_ref(&data),
    );
    let out = captured(&mut h, "pg1", &cap);
    assert_eq!(out.len(), 1, "traffic flows");
    assert_eq!(&out[0][0..6], &HOST_B);
    assert_eq!(out[0][14 + 7], 63);
    tshark(&cap);
    // A host on a connected prefix with no route of its own goes through ip6-glean.
    send(
        &mut h,
        "glean",
        "pg0",
        "ethernet-input",
        &[udp_frame(HOST_A, PG0_MAC, "fd00::2", "fd01::77", 64, 0)],
    );
    assert_eq!(
        h.counter("ip6-glean", "neighbor solicitations sent"),
        1,
        "{}",
        h.cli("show errors")
    );
    h.assert_all_free();
}

#[test]
fn malformed_packets_are_dropped_with_their_named_counter() {
    let mut h = setup();
    h.cli("set ip neighbor pg0 fd00::2 02:00:00:00:00:02");
    let good = udp_frame(HOST_A, PG0_MAC, "fd00::2", "fd00::1", 64, 8);
    let short = good[..14 + 20].to_vec();
    let mut v4 = good.clone();
    v4[14] = 0x45;
    let mut long = good.clone();
    long[14 + 4..14 + 6].copy_from_slice(&200u16.to_be_bytes());
    let proto115 = eth(
        PG0_MAC,
        HOST_A,
        0x86dd,
        &ip6("fd00::2", "fd00::1", 115, 64, &[0; 16]),
    );
    let spoofed = echo_request(HOST_A, PG0_MAC, "2001:db8::9", "fd00::1", 64, 1, 1);
    let cap = capture(&mut h, "pg0", "te.pcap");
    let expired = udp_frame(HOST_A, PG0_MAC, "fd00::2", "fd00::1", 0, 8);
    send(
        &mut h,
        "bad",
        "pg0",
        "ethernet-input",
        &[short, v4, long, proto115, spoofed, expired.clone()],
    );
    assert_eq!(h.counter("ip6-input", "ip6 length < 40 bytes"), 1);
    assert_eq!(h.counter("ip6-input", "ip6 version != 6"), 1);
    assert_eq!(h.counter("ip6-input", "ip6 length > l2 length"), 1);
    assert_eq!(
        h.counter("ip6-input", "unknown ip protocol"),
        1,
        "115 before any tunnel: punted"
    );
    assert_eq!(h.counter("ip6-input", "ip6 source lookup miss"), 1);
    assert_eq!(h.counter("ip6-input", "ip6 ttl <= 1"), 1);
    assert_eq!(
        h.counter("ip6-icmp-error", "hop limit exceeded response sent"),
        1
    );
    let si = h.cli("show interface pg0");
    assert!(
        si.lines()
            .any(|l| l.contains("punt") && l.trim_end().ends_with(" 1")),
        "punted 115 counts `punt': {si}"
    );
    let errs = h.cli("show errors");
    for s in [
        "ip6 length < 40 bytes",
        "ip6 version != 6",
        "ip6 length > l2 length",
        "unknown ip protocol",
        "ip6 source lookup miss",
    ] {
        assert!(errs.contains(s), "show errors lacks `{s}': {errs}");
    }
    // The time exceeded quotes the packet back to its source.
    let out = captured(&mut h, "pg0", &cap);
    assert_eq!(out.len(), 1);
    let te = &out[0];
    assert_eq!(&te[0..6], &HOST_A);
    assert_eq!(te[14 + 7], 255);
    assert_eq!(&te[22..38], &a("fd00::1").octets());
    assert_eq!(&te[38..54], &a("fd00::2").octets());
    assert_eq!((te[54], te[55]), (3, 0));
    assert_eq!(&te[62..], &expired[14..], "the invoking packet follows");
    assert!(icmp_checksum_ok(te));
    tshark(&cap);
    // IPv6 on an interface without IPv6: dropped by ip6-not-enabled.
    h.cli("create packet-generator interface pg2");
    h.cli("set interface state pg2 up");
    send(
        &mut h,
        "noip",
        "pg2",
        "ethernet-input",
        &[udp_frame(
            HOST_A,
            [2, 0xfe, 0, 0, 0, 2],
            "fd00::2",
            "fd00::1",
            64,
            8,
        )],
    );
    assert_eq!(h.counter("ip6-input", "ip6 drop"), 1);
    h.assert_all_free();
}

#[test]
fn mtu_and_hop_limit_on_the_forwarding_path() {
    let mut h = setup();
    h.cli("set ip neighbor pg0 fd00::2 02:00:00:00:00:02");
    h.cli("set ip neighbor pg1 fd01::2 02:00:00:00:01:02");
    h.cli("ip route add 2001:db8::/32 via fd01::2 pg1");
    h.cli("set interface mtu ip6 1280 pg1");
    let big = udp_frame(HOST_A, PG0_MAC, "fd00::2", "2001:db8::5", 64, 1400);
    let last_hop = udp_frame(HOST_A, PG0_MAC, "fd00::2", "2001:db8::5", 1, 10);
    let fits = udp_frame(HOST_A, PG0_MAC, "fd00::2", "2001:db8::5", 64, 1280 - 48);
    let back = capture(&mut h, "pg0", "ptb.pcap");
    let fwd = capture(&mut h, "pg1", "fits.pcap");
    send(
        &mut h,
        "mtu",
        "pg0",
        "ethernet-input",
        &[big.clone(), last_hop, fits],
    );
    assert_eq!(h.counter("ip6-rewrite", "ip6 MTU exceeded"), 1);
    assert_eq!(h.counter("ip6-rewrite", "ip6 ttl <= 1"), 1);
    assert_eq!(
        h.counter("ip6-icmp-error", "packet too big response sent"),
        1
    );
    assert_eq!(
        h.counter("ip6-icmp-error", "hop limit exceeded response sent"),
        1
    );
    assert_eq!(
        captured(&mut h, "pg1", &fwd).len(),
        1,
        "1280 bytes exactly still goes"
    );
    let out = captured(&mut h, "pg0", &back);
    assert_eq!(out.len(), 2);
    let ptb = out.iter().find(|f| f[54] == 2).expect("packet too big");
    assert_eq!(ptb.len(), 14 + 1280, "ICMPv6 errors stop at 1280 bytes");
    assert_eq!(&ptb[58..62], &1280u32.to_be_bytes(), "MTU in the message");
    assert_eq!(&ptb[62..69], &big[14..21], "quotes the invoking header");
    assert_eq!(
        ptb[69], 63,
        "as ip6-rewrite left it (hop limit already decremented, as VPP)"
    );
    assert_eq!(&ptb[70..102], &big[22..54]);
    assert!(icmp_checksum_ok(ptb));
    let te = out.iter().find(|f| f[54] == 3).expect("time exceeded");
    assert!(icmp_checksum_ok(te));
    if let Some(p) = tshark(&back) {
        assert_eq!(p.len(), 2);
    }
    tshark(&fwd);
    h.assert_all_free();
}

#[test]
fn ping_a_simulated_host() {
    let mut h = setup();
    h.cli("test echo-host host0 fd02::2");
    h.cli("set interface state host0 up");
    h.cli("set interface ip address host0 fd02::1/64");
    // The first request finds no neighbour: glean drops it and solicits (as VPP).
    let out = h.cli("ping fd02::2 repeat 3 interval 0.05");
    let lines: Vec<&str> = out.lines().collect();
    let replies: Vec<&&str> = lines.iter().filter(|l| l.contains("bytes from")).collect();
    assert_eq!(replies.len(), 2, "{out}");
    for (k, l) in replies.iter().enumerate() {
        assert!(l.starts_with("76 bytes from fd02::2: icmp_seq="), "{l}");
        assert!(
            l.contains(&format!("icmp_seq={} ttl=64 time=", k + 2)) && l.ends_with(" ms"),
            "{l}"
        );
    }
    assert_eq!(
        lines[lines.len() - 2],
        "",
        "blank line before the statistics: {out}"
    );
    assert_eq!(
        lines[lines.len() - 1],
        "Statistics: 3 sent, 2 received, 33.333332% packet loss"
    );
    // Resolved now: no loss.
    let out = h.cli("ping fd02::2 repeat 2 interval 0.02 size 100");
    assert!(
        out.contains("116 bytes from fd02::2: icmp_seq=1 ttl=64") && out.contains("icmp_seq=2"),
        "{out}"
    );
    assert!(
        out.ends_with("Statistics: 2 sent, 2 received, 0% packet loss\n"),
        "{out}"
    );
    // Our own address answers through ip6-receive.
    let out = h.cli("ping fd02::1 repeat 1 interval 0.02");
    assert!(
        out.contains("76 bytes from fd02::1: icmp_seq=1 ttl=64"),
        "{out}"
    );
    // Nowhere to go.
    let out = h.cli("ping 2001:db8::1 repeat 1 interval 0.01");
    assert!(
        out.contains("Failed: no egress interface")
            && out.contains("Statistics: 0 sent, 0 received, 0% packet loss"),
        "{out}"
    );
    assert!(h.cli_err("ping 10.0.0.1").contains("IPv4"));
    assert!(h
        .cli_err("ping fd02::2 repeat x")
        .contains("expecting repeat count"));
    let n = h.cli("show ip neighbors host0");
    assert!(
        n.contains("fd02::2") && n.contains("02:00:00:00:ee:02"),
        "{n}"
    );
    h.assert_all_free();
}

#[test]
fn cli_addresses_neighbours_interfaces() {
    let mut h = setup();
    // Interface address output shared with show interface.
    let addr = h.cli("show interface address pg0");
    assert!(addr.contains("L3 fd00::1/64"), "{addr}");
    let s = h.cli("show ip6 interface pg0");
    assert!(s.starts_with("pg0 is admin up\n"), "{s}");
    for x in [
        "fd00::1/64",
        "fe80::fe:ff:fe00:0",
        "ff02::1:ff00:1",
        "ff02::1:ff00:0",
        "MTU is 9000",
    ] {
        assert!(s.contains(x), "`{x}' missing: {s}");
    }
    // Errors.
    assert_eq!(
        h.cli_err("set interface ip address pg0 foo"),
        "set interface ip address: expected IP4/IP6 address/length `foo'"
    );
    assert!(h
        .cli_err("set interface ip address pg1 fd00::5/64")
        .contains("conflicts with fd00::1/64 for interface pg0"));
    assert!(h
        .cli_err("set interface ip address pg9 fd09::1/64")
        .contains("unknown interface `pg9'"));
    assert!(h
        .cli_err("show ip6 interface local0")
        .contains("IPv6 not enabled"));
    // Neighbours: static, dynamic table layout, delete.
    assert_eq!(h.cli("show ip neighbors"), "", "no header without entries");
    h.cli("set ip neighbor pg0 fd00::2 02:00:00:00:00:02 static");
    h.cli("set ip6 neighbor pg1 fd01::2 02:00:00:00:01:02 no-fib-entry");
    let n = h.cli("show ip neighbor");
    let l: Vec<&str> = n.lines().collect();
    assert_eq!(
        l[0],
        format!(
            "{:^12}{:^40}{:^6}{:^20}{:^24}",
            "Time", "IP", "Flags", "Ethernet", "Interface"
        )
    );
    assert!(
        l[1].contains("fd00::2") && l[1].contains(" S ") && l[1].ends_with("pg0"),
        "{n}"
    );
    assert!(
        l[2].contains("fd01::2") && l[2].contains("DN") && l[2].ends_with("pg1"),
        "{n}"
    );
    assert!(
        !h.cli("show ip6 fib").contains("fd01::2/128"),
        "no-fib-entry"
    );
    assert_eq!(h.cli("show ip6 neighbors pg1").lines().count(), 2);
    h.cli("set ip neighbor del pg0 fd00::2");
    assert!(!h.cli("show ip neighbors").contains("fd00::2"));
    assert!(h
        .cli_err("set ip neighbor pg0 10.0.0.1 02:00:00:00:00:01")
        .contains("IPv4"));
    // Deleting the only address turns IPv6 off again; enable keeps it on without addresses.
    h.cli("set interface ip address del pg1 fd01::1/64");
    assert!(h
        .cli_err("show ip6 interface pg1")
        .contains("IPv6 not enabled"));
    assert!(
        !h.cli("show ip6 fib").contains("fd01::"),
        "connected and receive gone"
    );
    h.cli("enable ip6 interface pg1");
    assert!(h
        .cli("show ip6 interface pg1")
        .contains("fe80::fe:ff:fe00:1"));
    h.cli("set ip6 address pg1 fd01::1/64");
    h.cli("set interface ip address del pg1 all");
    assert!(
        h.cli("show ip6 interface pg1").contains("Link-local"),
        "explicitly enabled stays on"
    );
    // Routes: add/del, errors.
    h.cli("ip route add 2001:db8::/32 via fd00::2 pg0");
    h.cli("ip route 2001:db9::/32 via pg0");
    let fib = h.cli("show ip6 fib");
    assert!(
        fib.contains("arp-ipv6: via fd00::2 pg0"),
        "incomplete adjacency: {fib}"
    );
    assert!(fib.contains("2001:db9::/32"), "{fib}");
    h.cli("ip route del 2001:db8::/32 via fd00::2 pg0");
    assert!(h
        .cli_err("ip route del 2001:db8::/32")
        .contains("no such route"));
    assert!(h.cli_err("ip route add 2001:db8::/32").contains("via"));
    // Unique-prefix abbreviations work as in VPP.
    assert!(h.cli("sh ip6 fi").contains("ipv6-VRF:0"));
    h.assert_all_free();
}

#[test]
fn trace_shows_the_ip6_path() {
    let mut h = setup();
    h.cli("set ip neighbor pg0 fd00::2 02:00:00:00:00:02");
    h.cli("trace add pg-input 1");
    send(
        &mut h,
        "t",
        "pg0",
        "ethernet-input",
        &[echo_request(
            HOST_A, PG0_MAC, "fd00::2", "fd00::1", 64, 1, 1,
        )],
    );
    let t = h.cli("show trace");
    for n in [
        "ethernet-input",
        "ip6-input",
        "ip6-lookup",
        "ip6-receive",
        "ip6-icmp-input",
        "ip6-icmp-echo-request",
        "ip6-rewrite",
        "interface-output",
    ] {
        assert!(t.contains(n), "`{n}' not in trace:\n{t}");
    }
    assert!(t.contains("ICMP6: fd00::2 -> fd00::1"), "{t}");
    assert!(t.contains("ICMP echo_request checksum 0x"), "{t}");
    assert!(t.contains("tx_sw_if_index 1 adj-idx"), "{t}");
}

#[test]
fn deleting_an_interface_takes_its_ip6_state_along() {
    let mut h = setup();
    h.cli("test echo-host host0 fd02::2");
    h.cli("set interface state host0 up");
    h.cli("set interface ip address host0 fd02::1/64");
    h.cli("set ip neighbor host0 fd02::2 02:00:00:00:ee:02");
    h.cli("ip route add 2001:db8::/32 via fd02::2 host0");
    h.cli("ip route add 2001:db9::/32 via fd02::2");
    let fib = h.cli("show ip6 fib");
    assert!(fib.contains("ipv6 via fd02::2 host0"), "{fib}");
    h.cli("test delete-interface host0");
    let fib = h.cli("show ip6 fib");
    for gone in ["fd02::", "host0", "2001:db8::/32"] {
        assert!(!fib.contains(gone), "`{gone}' left behind: {fib}");
    }
    let b: Vec<&str> = fib
        .lines()
        .skip_while(|l| *l != "2001:db9::/32")
        .take(4)
        .collect();
    assert!(
        b[3].contains("dpo-drop ip6"),
        "recursive route now unresolved: {fib}"
    );
    assert_eq!(h.cli("show ip neighbors"), "");
    // The egress hook other crates use.
    h.cli("set ip neighbor pg1 fd01::2 02:00:00:00:01:02");
    h.cli("ip route add 2001:db8::/32 via fd01::2");
    assert_eq!(h.cli("test ip6-egress 2001:db8::1"), "Some(2)\n");
    assert_eq!(h.cli("test ip6-egress 3000::1"), "None\n");
}

#[test]
fn address_on_an_up_interface_is_announced_and_peers_replace_a_stale_mac() {
    // A peer that restarts comes back with a new MAC; its unsolicited NA (RFC 4861 §7.2.6)
    // must make us use it at once, or traffic to it is black-holed.
    let mut h = setup();
    h.cli("create packet-generator interface pg2");
    h.cli("set interface state pg2 up");
    let cap = capture(&mut h, "pg2", "announce.pcap");
    h.cli("set interface ip address pg2 fd02::1/64");
    h.cli("set interface state pg2 down");
    h.cli("set interface state pg2 up");
    let out = captured(&mut h, "pg2", &cap);
    assert_eq!(out.len(), 2, "one NA on address add, one on admin up");
    for f in &out {
        assert_eq!(&f[0..6], &[0x33, 0x33, 0, 0, 0, 1], "to all-nodes");
        assert_eq!(f[14 + 40], 136, "neighbour advertisement");
        let flags = u32::from_be_bytes([f[58], f[59], f[60], f[61]]);
        assert_eq!(flags, 0x2000_0000, "override, not solicited");
        assert_eq!(&f[62..78], &a("fd02::1").octets(), "target");
        assert!(icmp_checksum_ok(f));
    }
    // A stale dynamic neighbour is replaced by an unsolicited NA with a new MAC.
    send(
        &mut h,
        "ns",
        "pg0",
        "ethernet-input",
        &[ns_frame(HOST_A, "fd00::2", "fd00::1", Some(HOST_A))],
    );
    assert!(h.cli("show ip neighbors").contains("02:00:00:00:00:02"));
    let nd = NdRepr::Advert {
        flags: NA_FLAG_OVERRIDE,
        target: a("fd00::2"),
        target_lladdr: Some(Mac(HOST_B)),
    };
    let mut m = vec![0u8; nd.buffer_len()];
    nd.emit(a("fd00::2"), a("ff02::1"), &mut m).unwrap();
    let una = eth(
        [0x33, 0x33, 0, 0, 0, 1],
        HOST_B,
        0x86dd,
        &ip6("fd00::2", "ff02::1", 58, 255, &m),
    );
    send(&mut h, "una", "pg0", "ethernet-input", &[una]);
    let nb = h.cli("show ip neighbors");
    assert!(
        nb.contains("02:00:00:00:01:02") && !nb.contains("02:00:00:00:00:02"),
        "{nb}"
    );
    h.assert_all_free();
}

/// One `ip6-input` frame holding a run from each of three interfaces (the enabled streams'
/// packets share pg-input's frame): each run goes where its own interface sends it (pg0's and
/// pg1's are forwarded, pg2 has no IPv6), faulty headers inside the runs are dropped by name,
/// Ethernet padding inside a run is trimmed, and each interface counts its own packets.
#[test]
fn runs_from_three_interfaces_in_one_frame() {
    let mut h = setup();
    h.cli("create packet-generator interface pg2");
    h.cli("set interface state pg2 up");
    h.cli("set ip neighbor pg0 fd00::2 02:00:00:00:00:02");
    h.cli("set ip neighbor pg1 fd01::2 02:00:00:00:01:02");
    let a = udp_frame(HOST_A, PG0_MAC, "fd00::2", "fd01::2", 64, 8);
    let mut a_pad = a.clone();
    a_pad.extend_from_slice(&[0xee; 10]);
    let mut a_long = a.clone();
    a_long[14 + 4..14 + 6].copy_from_slice(&300u16.to_be_bytes());
    let b = udp_frame(HOST_B, PG1_MAC, "fd01::2", "fd00::2", 64, 8);
    let mut b_v4 = b.clone();
    b_v4[14] = 0x45;
    let c = udp_frame(
        HOST_A,
        [0x02, 0xfe, 0, 0, 0, 2],
        "fd02::2",
        "fd01::2",
        64,
        8,
    );
    let s0 = vec![a.clone(), a.clone(), a_pad, a.clone(), a_long, a.clone()];
    let s1 = vec![b.clone(), b.clone(), b.clone(), b_v4, b.clone()];
    let s2 = vec![c.clone(); 3];
    for (name, ifc, pkts) in [("s0", "pg0", &s0), ("s1", "pg1", &s1), ("s2", "pg2", &s2)] {
        h.stream(name, ifc, "ethernet-input", pkts);
    }
    let names = ["ip6 length > l2 length", "ip6 version != 6", "ip6 drop"];
    let before: Vec<u64> = names.iter().map(|n| h.counter("ip6-input", n)).collect();
    let (cap0, cap1) = (
        capture(&mut h, "pg0", "mix0.pcap"),
        capture(&mut h, "pg1", "mix1.pcap"),
    );
    h.cli("clear runtime");
    h.run_streams();
    assert_eq!(
        h.runtime_of("ip6-input"),
        (1, 14),
        "the three runs in one frame"
    );
    // One hop: the neighbour's MAC, ours, hop limit 63, the rest as sent (padding gone).
    let hop = |f: &[u8], dmac: [u8; 6], smac: [u8; 6]| {
        let mut o = f[..14 + 40 + 16].to_vec();
        o[0..6].copy_from_slice(&dmac);
        o[6..12].copy_from_slice(&smac);
        o[14 + 7] = 63;
        o
    };
    assert_eq!(
        captured(&mut h, "pg1", &cap1),
        vec![hop(&a, HOST_B, PG1_MAC); 5]
    );
    assert_eq!(
        captured(&mut h, "pg0", &cap0),
        vec![hop(&b, HOST_A, PG0_MAC); 4]
    );
    let moved: Vec<u64> = names
        .iter()
        .zip(&before)
        .map(|(n, b)| h.counter("ip6-input", n) - b)
        .collect();
    assert_eq!(moved, [1, 1, 3], "{names:?}; pg2 has no IPv6");
    for (ifc, n) in [("pg0", 6), ("pg1", 5), ("pg2", 3)] {
        assert_eq!(h.interface_counter(ifc, "ip6"), n, "{ifc}");
    }
    h.assert_all_free();
}
