//! VLAN attachment circuits through the whole engine: sub-interfaces (`create sub-interfaces`,
//! `delete sub-interface`), ethernet-input's tag matching, `set interface l2 tag-rewrite` on
//! ingress and egress, sub-interfaces as bridge members, cross-connect ends and L3 uplinks, and
//! per-VLAN pseudowires. Frames go in and out through pg pcaps; every expected frame is built
//! here byte by byte (tests/vlan_common) and compared byte for byte, and tshark decodes every
//! capture (a missing tshark fails as root or in CI, else skips that check saying why).

mod vlan_common;

use pwire_tests::{ip6_frame, PEER_MAC, PG0_MAC};
use std::net::Ipv6Addr;
use vlan_common::*;

fn a(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

#[test]
fn sub_interface_commands() {
    let mut h = harness();
    pgs(&mut h, [0, 1]);
    assert_eq!(h.cli("create sub-interfaces pg0 100"), "pg0.100\n");
    assert_eq!(
        h.cli("create sub-interfaces pg0 5 dot1ad 200 inner-dot1q 30 exact-match"),
        "pg0.5\n"
    );
    assert_eq!(
        h.cli("create sub-interfaces pg0 6 dot1q 200 inner-dot1q any"),
        "pg0.6\n"
    );
    assert_eq!(h.cli("create sub-interfaces pg0 7 default"), "pg0.7\n");
    assert_eq!(h.cli("create sub-interfaces pg0 8 untagged"), "pg0.8\n");
    assert_eq!(
        h.cli("create sub-interfaces pg1 10-12"),
        "pg1.10\npg1.11\npg1.12\n"
    );
    // The same again is skipped (VPP: scripts may run twice); another match for the id, or
    // the same tags under another id, is refused.
    assert_eq!(h.cli("create sub-interfaces pg0 100"), "");
    assert_eq!(h.cli("create sub-interfaces pg1 9-11"), "pg1.9\n");
    let e = h.cli_err("create sub-interfaces pg0 100 dot1q 101");
    assert!(
        e.contains("pg0.100 already exists (dot1q 100 exact-match)"),
        "{e}"
    );
    let e = h.cli_err("create sub-interfaces pg0 9 dot1q 100 exact-match");
    assert!(e.contains("vlan is already in use"), "{e}");
    let e = h.cli_err("create sub-interfaces pg0 9 default");
    assert!(e.contains("vlan is already in use"), "{e}");
    // Bad input names its token.
    for (line, want) in [
        ("create sub-interfaces pg9 1", "unknown interface `pg9'"),
        ("create sub-interfaces pg0 x", "got `x'"),
        ("create sub-interfaces pg0 5-3", "got `5-3'"),
        (
            "create sub-interfaces pg0 5000",
            "sub id 5000 is not a vlan id",
        ),
        ("create sub-interfaces pg0 20 dot1q 4096", "got `4096'"),
        ("create sub-interfaces pg0 20 dot1q any", "outer vlan `any'"),
        (
            "create sub-interfaces pg0 20 dot1q 20 inner-dot1q x",
            "got `x'",
        ),
        (
            "create sub-interfaces pg0 20 dot1q 20 foo",
            "unknown input `foo'",
        ),
        ("create sub-interfaces pg0 20 frob", "got `frob'"),
        (
            "create sub-interfaces pg0.100 1",
            "pg0.100 is not an ethernet port",
        ),
        (
            "create sub-interfaces local0 1",
            "local0 is not an ethernet port",
        ),
        ("delete sub-interface pg0", "pg0 is not a sub-interface"),
        ("delete sub-interface pg0.99", "unknown interface `pg0.99'"),
    ] {
        let e = h.cli_err(line);
        assert!(e.contains(want), "{line}: {e}");
    }
    // `show interface` lists them with their own state and MTU; `show hardware` does not.
    h.cli("set interface state pg0.100 up");
    let s = h.cli("show interface");
    for n in [
        "pg0.100", "pg0.5", "pg0.6", "pg0.7", "pg0.8", "pg1.9", "pg1.12",
    ] {
        let line = s
            .lines()
            .find(|l| l.starts_with(&format!("{n} ")))
            .unwrap_or_else(|| panic!("{n} in\n{s}"));
        let up = if n == "pg0.100" { " up " } else { " down " };
        assert!(line.contains(up) && line.contains("9000/0/0/0"), "{line}");
    }
    h.cli("set interface mtu packet 1500 pg0.100");
    assert!(h.cli("show interface pg0.100").contains("1500/0/0/0"));
    assert!(h.cli("show interface pg0").contains("9000/0/0/0"));
    let hw = h.cli("show hardware-interfaces");
    assert!(hw.contains("pg0 ") && !hw.contains("pg0.100"), "{hw}");
    // No IP addresses on a sub-interface that is not exact-match (VPP's rule).
    let e = h.cli_err("set interface ip address pg0.6 fd00::1/64");
    assert!(
        e.contains("without exact-match doesn't support IP addressing"),
        "{e}"
    );
    h.cli("set interface ip address pg0.100 fd00::1/64");
    // Delete one, then the port with the rest (its sub-interfaces go with it).
    h.cli("delete sub-interface pg0.5");
    assert!(!h.cli("show interface").contains("pg0.5 "));
    assert_eq!(
        h.cli("create sub-interfaces pg0 5 dot1ad 200 inner-dot1q 30 exact-match"),
        "pg0.5\n",
        "the tags are free again"
    );
    h.cli("create loopback interface");
    assert_eq!(
        h.cli("create sub-interfaces loop0 3-4"),
        "loop0.3\nloop0.4\n"
    );
    h.cli("set interface l2 bridge loop0.3 1");
    assert!(h.cli("show bridge-domain 1 detail").contains("loop0.3"));
    h.cli("delete loopback interface intfc loop0");
    let s = h.cli("show interface");
    assert!(!s.contains("loop0"), "{s}");
    assert!(!h.cli("show bridge-domain 1 detail").contains("loop0.3"));
    assert!(s.contains("pg1.10") && s.contains("pg0.100"), "{s}");
}

/// Sends each frame of `cases` into pg0 and checks where it leaves: `Some(pgN)` unchanged, or
/// `None` (dropped as "unknown vlan").
fn check_matches(h: &mut Harness, cases: &[(Vec<u8>, Option<u32>)], outs: &[u32], what: &str) {
    let names: Vec<String> = outs.iter().map(|o| format!("pg{o}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let drops0 = h.counter("ethernet-input", "unknown vlan");
    let pkts: Vec<Vec<u8>> = cases.iter().map(|(f, _)| f.clone()).collect();
    let got = exchange(h, "pg0", &pkts, &refs);
    for (k, o) in outs.iter().enumerate() {
        let want: Vec<Vec<u8>> = cases
            .iter()
            .filter(|(_, to)| *to == Some(*o))
            .map(|(f, _)| f.clone())
            .collect();
        assert_eq!(got[k].0, want, "{what}: frames out of pg{o}");
        if let Some(d) = tshark(&got[k].1) {
            let want_tags: Vec<Vec<u16>> = want
                .iter()
                .map(|f| {
                    let mut v = Vec::new();
                    let mut o = 12;
                    while matches!(u16::from_be_bytes([f[o], f[o + 1]]), Q | AD) {
                        v.push(u16::from_be_bytes([f[o + 2], f[o + 3]]) & 0xfff);
                        o += 4;
                    }
                    v
                })
                .collect();
            let tags: Vec<Vec<u16>> = d.iter().map(|x| x.vlans.clone()).collect();
            assert_eq!(tags, want_tags, "{what}: tshark's vlan ids out of pg{o}");
        }
    }
    let dropped = cases.iter().filter(|(_, to)| to.is_none()).count() as u64;
    assert_eq!(
        h.counter("ethernet-input", "unknown vlan") - drops0,
        dropped,
        "{what}: unknown vlan drops"
    );
    h.assert_all_free();
}

use pwire_testkit::Harness;

#[test]
fn ethernet_input_matches_tags_as_vpp() {
    let mut h = harness();
    pgs(&mut h, 0..=10);
    for (sub, spec, out) in [
        ("100", "100", 1),
        ("101", "101 dot1q 101", 2),
        ("11", "11 dot1q 101 inner-dot1q 7 exact-match", 10),
        ("5", "5 dot1ad 200 inner-dot1q 30 exact-match", 3),
        ("6", "6 dot1ad 200 inner-dot1q any", 4),
        ("7", "7 dot1q 300 inner-dot1q any exact-match", 5),
        ("9", "9 dot1ad 100", 6),
        ("8", "8 untagged", 7),
    ] {
        h.cli(&format!("create sub-interfaces pg0 {spec}"));
        h.cli(&format!("set interface state pg0.{sub} up"));
        h.cli(&format!("set interface l2 xconnect pg0.{sub} pg{out}"));
    }
    let f = |tags: &[(u16, u16)], t: u8| frame(1, 2, tags, t);
    let mut cases = vec![
        (f(&[(Q, 100)], 1), Some(1)),
        // exact-match: one more tag is not pg0.100's.
        (f(&[(Q, 100), (Q, 5)], 2), None),
        (f(&[(Q, 101)], 3), Some(2)),
        // Not exact: more tags match too, unless a QinQ sub-interface takes them first.
        (f(&[(Q, 101), (Q, 7)], 4), Some(10)),
        (f(&[(Q, 101), (Q, 8)], 18), Some(2)),
        (f(&[(Q, 101), (AD, 7), (Q, 8)], 5), Some(2)),
        (f(&[(AD, 200), (Q, 30)], 6), Some(3)),
        (f(&[(AD, 200), (Q, 31)], 7), Some(4)),
        // Three tags: the exact QinQ one is out, the outer-with-any-inner one takes it.
        (f(&[(AD, 200), (Q, 30), (Q, 9)], 8), Some(4)),
        (f(&[(AD, 200)], 9), None),
        (f(&[(Q, 300), (Q, 1)], 10), Some(5)),
        (f(&[(Q, 300), (Q, 1), (Q, 2)], 11), None),
        (f(&[(Q, 300)], 12), None),
        // 802.1ad 100 is not 802.1Q 100, and the other way round.
        (f(&[(AD, 100)], 13), Some(6)),
        (f(&[(Q, 200), (Q, 30)], 14), None),
        (f(&[], 15), Some(7)),
        (f(&[(Q, 999)], 16), None),
        // The priority bits are not the VLAN id.
        (f(&[(Q, 0xe000 | 100)], 17), Some(1)),
    ];
    let outs = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    check_matches(&mut h, &cases, &outs, "no default");
    // Counters per sub-interface (the port counts every frame it received).
    let rx = |h: &mut Harness, i: &str| h.interface_counter(i, "rx packets");
    assert_eq!(rx(&mut h, "pg0.100"), 2);
    assert_eq!(rx(&mut h, "pg0.101"), 3);
    assert_eq!(rx(&mut h, "pg0.6"), 2);
    assert_eq!(rx(&mut h, "pg0.8"), 1);
    assert_eq!(h.interface_counter("pg0.100", "rx bytes"), 2 * 64);
    assert_eq!(rx(&mut h, "pg0"), cases.len() as u64);
    assert_eq!(h.interface_counter("pg0", "drops"), 6);

    // A default sub-interface takes the tagged frames no other one does.
    h.cli("create sub-interfaces pg0 77 default");
    h.cli("set interface state pg0.77 up");
    h.cli("set interface l2 xconnect pg0.77 pg8");
    for c in cases.iter_mut().filter(|c| c.1.is_none()) {
        c.1 = Some(8);
    }
    check_matches(&mut h, &cases, &outs, "default");

    // A sub-interface that is down drops its frames ("subinterface down"), it does not let
    // the default one have them.
    h.cli("set interface state pg0.101 down");
    let down0 = h.counter("ethernet-input", "subinterface down");
    let down: Vec<_> = cases.iter().filter(|c| c.1 != Some(2)).cloned().collect();
    let n_down = (cases.len() - down.len()) as u64;
    let all: Vec<_> = cases
        .iter()
        .map(|(f, to)| (f.clone(), to.filter(|&o| o != 2)))
        .collect();
    let got = exchange(
        &mut h,
        "pg0",
        &all.iter().map(|c| c.0.clone()).collect::<Vec<_>>(),
        &["pg2", "pg8"],
    );
    assert!(got[0].0.is_empty(), "nothing out of pg2");
    assert_eq!(
        got[1].0,
        down.iter()
            .filter(|c| c.1 == Some(8))
            .map(|c| c.0.clone())
            .collect::<Vec<_>>()
    );
    assert_eq!(
        h.counter("ethernet-input", "subinterface down") - down0,
        n_down
    );
    h.cli("set interface state pg0.101 up");

    // Without a default, the port in L2 mode takes every tag count the sub-interfaces leave,
    // as it always did (transparent bridging of tagged frames).
    h.cli("delete sub-interface pg0.77");
    h.cli("set interface l2 xconnect pg0 pg9");
    for c in cases.iter_mut().filter(|c| c.1 == Some(8)) {
        c.1 = Some(9);
    }
    check_matches(&mut h, &cases, &outs, "port in L2");
    // With the untagged sub-interface gone, untagged frames are the port's too.
    h.cli("delete sub-interface pg0.8");
    for c in cases.iter_mut().filter(|c| c.1 == Some(7)) {
        c.1 = Some(9);
    }
    check_matches(
        &mut h,
        &cases,
        &outs,
        "port in L2, no untagged sub-interface",
    );
}

/// The VLAN ids of a frame's tags, outer first (read here, not by pwire).
fn tags_of(f: &[u8]) -> Vec<u16> {
    let mut v = Vec::new();
    let mut o = 12;
    while o + 4 <= f.len() && matches!(u16::from_be_bytes([f[o], f[o + 1]]), Q | AD) {
        v.push(u16::from_be_bytes([f[o + 2], f[o + 3]]) & 0xfff);
        o += 4;
    }
    v
}

/// Checks tshark's reading of a capture against the frames expected in it.
fn tshark_tags(p: &std::path::Path, want: &[Vec<u8>]) {
    if let Some(d) = tshark(p) {
        let got: Vec<Vec<u16>> = d.iter().map(|x| x.vlans.clone()).collect();
        let want: Vec<Vec<u16>> = want.iter().map(|f| tags_of(f)).collect();
        assert_eq!(got, want, "tshark's vlan ids in {}", p.display());
    }
}

#[test]
fn tag_rewrite_round_trips_through_a_cross_connect() {
    let mut h = harness();
    pgs(&mut h, [0, 1]);
    h.cli("create sub-interfaces pg0 10");
    h.cli("create sub-interfaces pg0 20 dot1ad 20 inner-dot1q 21 exact-match");
    h.cli("create sub-interfaces pg0 30 dot1q 30 inner-dot1q any");
    for s in ["pg0.10", "pg0.20", "pg0.30"] {
        h.cli(&format!("set interface state {s} up"));
    }
    let s1: &[(u16, u16)] = &[(Q, 10)];
    let s2: &[(u16, u16)] = &[(AD, 20), (Q, 21)];
    // (sub-interface, rewrite, its frames' tags, the tags they carry on pg1)
    type Tags<'a> = &'a [(u16, u16)];
    let cases: &[(&str, &str, Tags, Tags)] = &[
        ("pg0.10", "disable", s1, s1),
        ("pg0.10", "pop 1", s1, &[]),
        ("pg0.10", "push dot1q 50", s1, &[(Q, 50), (Q, 10)]),
        (
            "pg0.10",
            "push dot1ad 50 60",
            s1,
            &[(AD, 50), (Q, 60), (Q, 10)],
        ),
        ("pg0.10", "translate 1-1 dot1ad 70", s1, &[(AD, 70)]),
        (
            "pg0.10",
            "translate 1-2 dot1q 70 71",
            s1,
            &[(Q, 70), (Q, 71)],
        ),
        ("pg0.20", "pop 1", s2, &[(Q, 21)]),
        ("pg0.20", "pop 2", s2, &[]),
        ("pg0.20", "translate 1-1 dot1q 90", s2, &[(Q, 90), (Q, 21)]),
        ("pg0.20", "translate 2-1 dot1q 80", s2, &[(Q, 80)]),
        (
            "pg0.20",
            "translate 2-2 dot1ad 80 81",
            s2,
            &[(AD, 80), (Q, 81)],
        ),
        ("pg0.30", "pop 1", &[(Q, 30), (Q, 7)], &[(Q, 7)]),
    ];
    for (k, &(sub, op, inner, outer)) in cases.iter().enumerate() {
        h.cli(&format!("set interface l2 tag-rewrite {sub} {op}"));
        h.cli(&format!("set interface l2 xconnect {sub} pg1"));
        h.cli(&format!("set interface l2 xconnect pg1 {sub}"));
        let t = k as u8 * 16;
        let ins = vec![frame(1, 2, inner, t), frame(3, 4, inner, t + 1)];
        let outs = vec![frame(1, 2, outer, t), frame(3, 4, outer, t + 1)];
        let got = exchange(&mut h, "pg0", &ins, &["pg1"]);
        assert_eq!(got[0].0, outs, "{sub} {op}: ingress");
        tshark_tags(&got[0].1, &outs);
        // And back: the inverse rewrite restores the frames exactly.
        let got = exchange(&mut h, "pg1", &outs, &["pg0"]);
        assert_eq!(got[0].0, ins, "{sub} {op}: egress");
        tshark_tags(&got[0].1, &ins);
        h.cli(&format!("set interface l3 {sub}"));
    }
    h.assert_all_free();
    // Pops beyond the tags the match fixes are refused (VPP's message); a port has none.
    for line in [
        "set interface l2 tag-rewrite pg0.10 pop 2",
        "set interface l2 tag-rewrite pg0.10 translate 2-1 dot1q 5",
        "set interface l2 tag-rewrite pg0.30 pop 2",
        "set interface l2 tag-rewrite pg1 pop 1",
    ] {
        let e = h.cli_err(line);
        assert!(
            e.contains("vlan tag rewrite is not compatible with interface"),
            "{line}: {e}"
        );
    }
    for (line, want) in [
        ("set interface l2 tag-rewrite pg0.10 pop 3", "got `'"),
        (
            "set interface l2 tag-rewrite pg0.10 push dot1x 5",
            "got `dot1x 5'",
        ),
        (
            "set interface l2 tag-rewrite pg0.10 push dot1q 4096",
            "`4096' out of range",
        ),
        (
            "set interface l2 tag-rewrite pg0.10 translate 1-2 dot1q 5",
            "expected vlan id",
        ),
        (
            "set interface l2 tag-rewrite pg0.10 translate 3-3 dot1q 5",
            "got `dot1q 5'",
        ),
        (
            "set interface l2 tag-rewrite pg0.10 pop 1 x",
            "unknown input `x'",
        ),
        (
            "set interface l2 tag-rewrite pg0.99 pop 1",
            "unknown interface `pg0.99'",
        ),
    ] {
        let e = h.cli_err(line);
        assert!(e.contains(want), "{line}: {e}");
    }

    // Frames with fewer tags than a rewrite pops are dropped and counted: on egress (an
    // untagged frame towards translate 1-1, which pops the tag it pushed on ingress) and on
    // ingress (an untagged frame handed to l2-input as pg0.10's).
    h.cli("set interface l2 tag-rewrite pg0.10 translate 1-1 dot1q 77");
    h.cli("set interface l2 xconnect pg0.10 pg1");
    h.cli("set interface l2 xconnect pg1 pg0.10");
    let got = exchange(&mut h, "pg1", &[frame(1, 2, &[], 1)], &["pg0"]);
    assert!(got[0].0.is_empty());
    assert_eq!(h.counter("l2-output", "L2 output tag rewrite drops"), 1);
    let c = h.capture("pg1");
    h.send("in", "pg0.10", "l2-input", &[frame(1, 2, &[], 2)]);
    assert!(h.captured("pg1", &c).is_empty());
    assert_eq!(h.counter("l2-input-vtr", "L2 input tag rewrite drops"), 1);
    h.assert_all_free();
}

#[test]
fn sub_interfaces_in_a_bridge_flood_and_forward_with_their_tags() {
    let mut h = harness();
    pgs(&mut h, [0, 1, 2, 3]);
    h.cli("create sub-interfaces pg0 10");
    h.cli("create sub-interfaces pg0 20 dot1ad 20 inner-dot1q 21 exact-match");
    h.cli("create sub-interfaces pg0 30 dot1q 30");
    // BD 1 carries frames untagged: the sub-interfaces pop their tags. BD 2 carries VLAN 31:
    // pg0.30 translates its 30, pg2 is a trunk port already on 31, pg3 an access port whose
    // untagged frames get 31 pushed.
    for (s, bd, vtr) in [
        ("pg0.10", 1, "pop 1"),
        ("pg0.20", 1, "pop 2"),
        ("pg1", 1, "disable"),
        ("pg0.30", 2, "translate 1-1 dot1q 31"),
        ("pg2", 2, "disable"),
        ("pg3", 2, "push dot1q 31"),
    ] {
        h.cli(&format!("set interface state {s} up"));
        h.cli(&format!("set interface l2 bridge {s} {bd}"));
        h.cli(&format!("set interface l2 tag-rewrite {s} {vtr}"));
    }
    for (bd, rows) in [
        (
            1,
            &[("pg0.10", "pop-1"), ("pg0.20", "pop-2"), ("pg1", "none")][..],
        ),
        (
            2,
            &[
                ("pg0.30", "trans-1-1 dot1q 31"),
                ("pg2", "none"),
                ("pg3", "push-1 dot1q 31"),
            ][..],
        ),
    ] {
        let d = h.cli(&format!("show bridge-domain {bd} detail"));
        for (i, vtr) in rows {
            let line = d
                .lines()
                .find(|l| l.trim_start().starts_with(&format!("{i} ")))
                .unwrap_or_else(|| panic!("{i} in\n{d}"));
            assert!(line.trim_end().ends_with(vtr), "{line}");
        }
    }
    let b = |tags: &[(u16, u16)], t: u8| eth([0xff; 6], host(1), tags, ET, &body(t));
    // Broadcast from pg0.10 into BD 1: out of each other member with its tags, none back to
    // pg0.10, nothing into BD 2.
    let got = exchange(&mut h, "pg0", &[b(&[(Q, 10)], 1)], &["pg0", "pg1", "pg2"]);
    assert_eq!(got[0].0, vec![b(&[(AD, 20), (Q, 21)], 1)], "pg0.20's tags");
    tshark_tags(&got[0].1, &got[0].0);
    assert_eq!(got[1].0, vec![b(&[], 1)], "untagged out of pg1");
    assert!(got[2].0.is_empty());
    // Broadcast from the access port pg3 into BD 2: 31 pushed, translated back to 30 for
    // pg0.30, as is for the trunk pg2.
    let got = exchange(&mut h, "pg3", &[b(&[], 2)], &["pg0", "pg2", "pg3"]);
    assert_eq!(got[0].0, vec![b(&[(Q, 30)], 2)]);
    assert_eq!(got[1].0, vec![b(&[(Q, 31)], 2)]);
    tshark_tags(&got[1].1, &got[1].0);
    assert!(got[2].0.is_empty());
    // Unicast from pg1 to the host learned behind pg0.10 (BD 1), and from the trunk pg2 to
    // the one learned behind pg3 (BD 2: 31 popped again).
    let got = exchange(&mut h, "pg1", &[frame(1, 7, &[], 3)], &["pg0", "pg1"]);
    assert_eq!(got[0].0, vec![frame(1, 7, &[(Q, 10)], 3)]);
    tshark_tags(&got[0].1, &got[0].0);
    let got = exchange(
        &mut h,
        "pg2",
        &[frame(1, 8, &[(Q, 31)], 4)],
        &["pg0", "pg3"],
    );
    assert!(got[0].0.is_empty());
    assert_eq!(got[1].0, vec![frame(1, 8, &[], 4)]);
    // A frame on BD 2 without its VLAN (an untagged one from the trunk) cannot have 31
    // translated back for pg0.30: dropped there and counted, as VPP does.
    let drops = h.counter("l2-output", "L2 output tag rewrite drops");
    let got = exchange(&mut h, "pg2", &[b(&[], 5)], &["pg0", "pg3"]);
    assert!(got[0].0.is_empty());
    assert_eq!(
        h.counter("l2-output", "L2 output tag rewrite drops"),
        drops + 2
    );
    assert_eq!(h.interface_counter("pg0.10", "tx packets"), 1);
    assert_eq!(h.interface_counter("pg0.10", "rx packets"), 1);
    assert_eq!(h.interface_counter("pg0.30", "tx packets"), 1);
    h.assert_all_free();
}

/// An L2TPv3-over-IPv6 frame as pwire's encap writes it (hop limit 254: 255 less
/// ip6-rewrite's decrement), 8-byte all-ones cookie, with `tags` on its Ethernet header.
fn encapped(tags: &[(u16, u16)], sid: u32, inner: &[u8], src: &str, dst: &str) -> Vec<u8> {
    let mut l2tp = sid.to_be_bytes().to_vec();
    l2tp.extend_from_slice(&[0xff; 8]);
    l2tp.extend_from_slice(inner);
    let ip = ip6_frame(PEER_MAC, PG0_MAC, a(src), a(dst), 115, 254, &l2tp);
    eth(PEER_MAC, PG0_MAC, tags, 0x86dd, &ip[14..])
}

/// A frame from the peer to pwire's tunnel: `tags` on the outer Ethernet header.
fn to_decap(tags: &[(u16, u16)], sid: u32, inner: &[u8]) -> Vec<u8> {
    let f = pwire_tests::l2tp_frame(
        PG0_MAC,
        PEER_MAC,
        a("fd00::2"),
        a("fd00::1"),
        sid,
        &[0xff; 8],
        inner,
    );
    eth(PG0_MAC, PEER_MAC, tags, 0x86dd, &f[14..])
}

#[test]
fn a_pseudowire_per_vlan() {
    let mut h = harness();
    pwire_tests::pg_uplink(&mut h);
    pgs(&mut h, [1]);
    h.cli("create sub-interfaces pg1 100");
    h.cli("create sub-interfaces pg1 200");
    h.cli("create sub-interfaces pg1 300 dot1ad 300 inner-dot1q 30 exact-match");
    for (k, (sub, vtr)) in [
        ("pg1.100", "pop 1"),
        ("pg1.200", "disable"),
        ("pg1.300", "pop 2"),
    ]
    .into_iter()
    .enumerate()
    {
        h.cli(&format!(
            "create l2tpv3 tunnel client fd00::2 our fd00::1 local-session-id {} remote-session-id {}",
            10 + k,
            20 + k
        ));
        h.cli(&format!("set interface state l2tpv3_tunnel{k} up"));
        h.cli(&format!("set interface state {sub} up"));
        h.cli(&format!("set interface l2 tag-rewrite {sub} {vtr}"));
        h.cli(&format!("set interface l2 xconnect {sub} l2tpv3_tunnel{k}"));
        h.cli(&format!("set interface l2 xconnect l2tpv3_tunnel{k} {sub}"));
    }
    let v = h.cli("show l2tpv3 verbose");
    for want in [
        "pw type ethernet (5) on pg1.100",
        "pw type ethernet tagged (4) on pg1.200",
        "pw type ethernet (5) on pg1.300",
    ] {
        assert!(v.contains(want), "{want} in\n{v}");
    }
    // Customer frames in: pop 1 and pop 2 make raw (type 5) pseudowires, VLAN 200 keeps
    // its tag on its own (type 4) pseudowire.
    let c100 = frame(1, 2, &[(Q, 100)], 1);
    let c200 = frame(3, 4, &[(Q, 200)], 2);
    let c300 = frame(5, 6, &[(AD, 300), (Q, 30)], 3);
    let got = exchange(&mut h, "pg1", &[c100, c200.clone(), c300], &["pg0"]);
    let want = vec![
        encapped(&[], 20, &frame(1, 2, &[], 1), "fd00::1", "fd00::2"),
        encapped(&[], 21, &c200, "fd00::1", "fd00::2"),
        encapped(&[], 22, &frame(5, 6, &[], 3), "fd00::1", "fd00::2"),
    ];
    // The three take different paths (two through l2-input-vtr): compare what left, not when.
    let mut out = got[0].0.clone();
    out.sort();
    let mut want = want;
    want.sort();
    assert_eq!(out, want, "per-VLAN encap");
    if let Some(d) = tshark(&got[0].1) {
        // The tags tshark finds inside each tunnel's frames: only VLAN 200's kept its own.
        let mut vlans: Vec<(u32, Vec<u16>)> = got[0]
            .0
            .iter()
            .zip(&d)
            .map(|(f, x)| {
                (
                    u32::from_be_bytes([f[54], f[55], f[56], f[57]]),
                    x.vlans.clone(),
                )
            })
            .collect();
        vlans.sort();
        assert_eq!(
            vlans,
            vec![(20, vec![]), (21, vec![200]), (22, vec![])],
            "{d:?}"
        );
        assert!(d.iter().all(|x| x.protos.contains("l2tp")), "{d:?}");
    }
    // And back: each pseudowire's frames leave on their own VLAN.
    let got = exchange(
        &mut h,
        "pg0",
        &[
            to_decap(&[], 10, &frame(2, 1, &[], 4)),
            to_decap(&[], 11, &frame(4, 3, &[(Q, 200)], 5)),
            to_decap(&[], 12, &frame(6, 5, &[], 6)),
        ],
        &["pg1"],
    );
    let want = vec![
        frame(2, 1, &[(Q, 100)], 4),
        frame(4, 3, &[(Q, 200)], 5),
        frame(6, 5, &[(AD, 300), (Q, 30)], 6),
    ];
    let mut out = got[0].0.clone();
    out.sort();
    let mut want = want;
    want.sort();
    assert_eq!(out, want, "per-VLAN decap");
    tshark_tags(&got[0].1, &got[0].0);
    for (i, n) in [("pg1.100", 1), ("pg1.200", 1), ("pg1.300", 1)] {
        assert_eq!(h.interface_counter(i, "rx packets"), n, "{i}");
        assert_eq!(h.interface_counter(i, "tx packets"), n, "{i}");
    }
    h.assert_all_free();
}

#[test]
fn a_tagged_uplink_carries_the_tunnel() {
    let mut h = harness();
    pgs(&mut h, [0, 1]);
    for l in [
        "create sub-interfaces pg0 42",
        "set interface state pg0.42 up",
        "set interface ip address pg0.42 fd00::1/64",
        "set ip neighbor pg0.42 fd00::2 02:00:00:00:00:02 static",
        "create l2tpv3 tunnel client fd00::2 our fd00::1 local-session-id 10 remote-session-id 20",
        "set interface state l2tpv3_tunnel0 up",
        "set interface l2 xconnect pg1 l2tpv3_tunnel0",
        "set interface l2 xconnect l2tpv3_tunnel0 pg1",
    ] {
        h.cli(l);
    }
    // pg0's MAC as pg_uplink would set it: the sub-interface uses its port's.
    let mac = h.cli("show hardware-interfaces pg0");
    assert!(mac.contains("Ethernet address"), "{mac}");
    let pg0_mac = {
        let m = mac
            .lines()
            .find_map(|l| l.trim().strip_prefix("Ethernet address "))
            .unwrap()
            .to_string();
        let v: Vec<u8> = m
            .split(':')
            .map(|x| u8::from_str_radix(x, 16).unwrap())
            .collect();
        <[u8; 6]>::try_from(v).unwrap()
    };
    let fix = |mut f: Vec<u8>, at: usize| {
        f[at..at + 6].copy_from_slice(&pg0_mac);
        f
    };
    // Encap: out of pg0 with tag 42 (ip6-rewrite's header, the tag pushed by
    // interface-output on the way to the port).
    let inner = frame(1, 2, &[], 1);
    let got = exchange(&mut h, "pg1", std::slice::from_ref(&inner), &["pg0"]);
    let want = fix(encapped(&[(Q, 42)], 20, &inner, "fd00::1", "fd00::2"), 6);
    assert_eq!(got[0].0, vec![want.clone()], "encap over VLAN 42");
    if let Some(d) = tshark(&got[0].1) {
        assert_eq!(d[0].vlans, vec![42]);
        assert!(
            d[0].protos
                .starts_with("eth:ethertype:vlan:ethertype:ipv6:l2tp"),
            "{d:?}"
        );
    }
    // Decap from VLAN 42; the same packet untagged or on VLAN 43 is not the uplink's.
    let d42 = fix(to_decap(&[(Q, 42)], 10, &frame(2, 1, &[], 2)), 0);
    let d0 = fix(to_decap(&[], 10, &frame(2, 1, &[], 3)), 0);
    let d43 = fix(to_decap(&[(Q, 43)], 10, &frame(2, 1, &[], 4)), 0);
    let vlan0 = h.counter("ethernet-input", "unknown vlan");
    let got = exchange(&mut h, "pg0", &[d42, d0, d43], &["pg1"]);
    assert_eq!(
        got[0].0,
        vec![frame(2, 1, &[], 2)],
        "decap from VLAN 42 only"
    );
    assert_eq!(h.counter("ethernet-input", "unknown vlan"), vlan0 + 1);
    // Neighbour discovery on the VLAN: a solicitation for fd00::1 on VLAN 42 is answered
    // on VLAN 42.
    let ns = pwire_tests::ns_frame(
        [0x33, 0x33, 0xff, 0, 0, 1],
        [0x02, 0, 0, 0, 0, 9],
        a("fd00::9"),
        a("fd00::1"),
    );
    let ns = eth(
        [0x33, 0x33, 0xff, 0, 0, 1],
        [0x02, 0, 0, 0, 0, 9],
        &[(Q, 42)],
        0x86dd,
        &ns[14..],
    );
    let got = exchange(&mut h, "pg0", &[ns], &["pg0"]);
    assert_eq!(got[0].0.len(), 1, "one advertisement");
    let na = &got[0].0[0];
    assert_eq!(tags_of(na), vec![42]);
    assert_eq!(&na[..6], &[0x02, 0, 0, 0, 0, 9], "to the solicitor");
    assert_eq!(&na[16..18], &[0x86, 0xdd]);
    assert_eq!(na[18 + 40], 136, "ICMPv6 neighbour advertisement");
    if let Some(d) = tshark(&got[0].1) {
        assert_eq!(
            d[0].protos, "eth:ethertype:vlan:ethertype:ipv6:icmpv6",
            "{d:?}"
        );
    }
    // An unresolved next hop is solicited on the VLAN too.
    h.cli(
        "create l2tpv3 tunnel client fd00::3 our fd00::1 local-session-id 11 remote-session-id 21",
    );
    h.cli("set interface state l2tpv3_tunnel1 up");
    h.cli("set interface l2 xconnect pg1 l2tpv3_tunnel1");
    let got = exchange(&mut h, "pg1", &[frame(1, 2, &[], 5)], &["pg0"]);
    assert_eq!(got[0].0.len(), 1, "one solicitation");
    let ns = &got[0].0[0];
    assert_eq!(tags_of(ns), vec![42]);
    assert_eq!(ns[18 + 40], 135, "ICMPv6 neighbour solicitation");
    assert_eq!(&ns[18 + 40 + 8..18 + 40 + 24], &a("fd00::3").octets());
    assert!(h.interface_counter("pg0.42", "tx packets") >= 3);
    assert_eq!(h.interface_counter("pg0.42", "rx packets"), 2);
    h.assert_all_free();
}

#[test]
fn traces_show_the_sub_interfaces_and_the_rewrite() {
    let mut h = harness();
    pgs(&mut h, [0, 1]);
    h.cli("create sub-interfaces pg0 100");
    h.cli("set interface state pg0.100 up");
    h.cli("set interface l2 tag-rewrite pg0.100 pop 1");
    h.cli("set interface l2 xconnect pg0.100 pg1");
    h.cli("set interface l2 xconnect pg1 pg0.100");
    let sub = h
        .cli("show interface pg0.100")
        .lines()
        .nth(1)
        .and_then(|l| l.split_whitespace().nth(1).map(str::to_string))
        .unwrap();
    h.cli("trace add pg-input 10");
    exchange(&mut h, "pg0", &[frame(1, 2, &[(Q, 100)], 1)], &["pg1"]);
    exchange(&mut h, "pg1", &[frame(2, 1, &[], 2)], &["pg0"]);
    let t = h.cli("show trace");
    for want in [
        "802.1q vlan 100".to_string(),
        format!("l2-input: sw_if_index {sub} "),
        "[l2-input-vtr l2-output ]".to_string(),
        format!("l2-input-vtr: sw_if_index {sub} dst 02:00:00:00:cc:01 src 02:00:00:00:cc:02 data 88 b5 01 02 03 04"),
        format!("l2-output: sw_if_index {sub} "),
        format!("sw_if_index {sub} len 64"),
    ] {
        assert!(t.contains(&want), "{want} in\n{t}");
    }
}

/// A tunnel in a bridge whose BVI is a loopback with an address: decap leaves the inner
/// frame's L2 header length for whoever needs it, and the BVI reads it from the frame. A
/// neighbour solicitation for the BVI's address from across the tunnel, untagged and behind a
/// tag, is answered back through the tunnel.
#[test]
fn decapsulated_frames_reach_a_bvi() {
    const LOOP_MAC: [u8; 6] = [0x02, 0xaa, 0, 0, 0, 1];
    let mut h = harness();
    pwire_tests::pg_uplink(&mut h);
    for l in [
        "create l2tpv3 tunnel client fd00::2 our fd00::1 local-session-id 10 remote-session-id 20",
        "set interface state l2tpv3_tunnel0 up",
        "create loopback interface mac 02:aa:00:00:00:01",
        "set interface state loop0 up",
        "set interface ip address loop0 fd10::1/64",
        "set interface l2 bridge l2tpv3_tunnel0 1",
        "set interface l2 bridge loop0 1 bvi",
    ] {
        h.cli(l);
    }
    let host = host(9);
    let ns = pwire_tests::ns_frame(LOOP_MAC, host, a("fd10::9"), a("fd10::1"));
    for tags in [&[][..], &[(Q, 7)][..]] {
        let inner = eth(LOOP_MAC, host, tags, 0x86dd, &ns[14..]);
        let got = exchange(&mut h, "pg0", &[to_decap(&[], 10, &inner)], &["pg0"]);
        assert_eq!(got[0].0.len(), 1, "one answer, inner tags {tags:?}");
        let out = &got[0].0[0];
        // Ethernet, IPv6 (next header 115), session 20 and the cookie, then the inner frame.
        let inner_out = &out[14 + 40 + 12..];
        assert_eq!(
            &out[14 + 40..14 + 44],
            &20u32.to_be_bytes(),
            "to the peer's session"
        );
        assert_eq!(&inner_out[..6], &host, "to the solicitor");
        assert_eq!(&inner_out[6..12], &LOOP_MAC, "from the BVI");
        assert_eq!(&inner_out[12..14], &[0x86, 0xdd]);
        assert_eq!(inner_out[14 + 40], 136, "a neighbour advertisement");
        assert_eq!(
            &inner_out[14 + 40 + 8..14 + 40 + 24],
            &a("fd10::1").octets(),
            "target"
        );
    }
    h.assert_all_free();
}
