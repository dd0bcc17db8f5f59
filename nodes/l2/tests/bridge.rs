//! Bridging end to end with pg interfaces: flooding, split horizon, learning, moves, limits,
//! flushes, feature switches, aging, cross-connects, trace text.

mod common;

use common::*;
use std::time::Duration;

/// pg0..pg3 in BD 1 (sw_if_index 1..4).
fn bridge4() -> pwire_testkit::Harness {
    let mut h = harness("", 4, &[]);
    for i in 0..4 {
        h.cli(&format!("set interface l2 bridge pg{i} 1"));
    }
    h
}

#[test]
fn broadcast_and_unknown_unicast_flood_to_all_but_ingress() {
    let mut h = bridge4();
    // Through ethernet-input, the real entry of a bridged port.
    stream(
        &mut h,
        "bc",
        "pg0",
        "ethernet-input",
        &[frame(BCAST, mac(1), 0x0800, 1)],
        1,
        "",
    );
    let got = sent_to(&mut h, "bc", &["pg0", "pg1", "pg2", "pg3"]);
    assert_eq!(got.iter().map(Vec::len).collect::<Vec<_>>(), [0, 1, 1, 1]);
    assert_eq!(
        got[2][0],
        frame(BCAST, mac(1), 0x0800, 1),
        "copies are byte-exact"
    );
    // Unknown unicast from pg2.
    stream(
        &mut h,
        "uu",
        "pg2",
        "ethernet-input",
        &[frame(mac(99), mac(2), 0x0800, 2)],
        3,
        "",
    );
    let got = sent_to(&mut h, "uu", &["pg0", "pg1", "pg2", "pg3"]);
    assert_eq!(got.iter().map(Vec::len).collect::<Vec<_>>(), [3, 3, 0, 3]);
    assert_eq!(h.counter("l2-flood", "L2 flood packets"), 4);
    assert_eq!(h.counter("l2-fwd", "L2 forward misses"), 3);
    assert_eq!(h.counter("l2-input", "L2 input packets"), 4);
    h.assert_all_free();
}

#[test]
fn split_horizon_groups_are_respected() {
    let mut h = harness("", 4, &[]);
    h.cli("set interface l2 bridge pg0 1 shg 1");
    h.cli("set interface l2 bridge pg1 1 1"); // VPP's bare shg number
    h.cli("set interface l2 bridge pg2 1");
    h.cli("set interface l2 bridge pg3 1 2");
    let detail = h.cli("show bridge-domain 1 detail");
    let shg = |name: &str| {
        detail
            .lines()
            .find(|l| l.trim_start().starts_with(name))
            .and_then(|l| l.split_whitespace().nth(3))
            .map(str::to_string)
    };
    assert_eq!(shg("pg1").as_deref(), Some("1"), "{detail}");
    assert_eq!(shg("pg3").as_deref(), Some("2"), "{detail}");
    // From group 1: not to pg1 (same group), not back to pg0.
    stream(
        &mut h,
        "a",
        "pg0",
        "l2-input",
        &[frame(BCAST, mac(1), 0x0800, 1)],
        1,
        "",
    );
    let got = sent_to(&mut h, "a", &["pg0", "pg1", "pg2", "pg3"]);
    assert_eq!(got.iter().map(Vec::len).collect::<Vec<_>>(), [0, 0, 1, 1]);
    // From group 0: everyone but the ingress.
    stream(
        &mut h,
        "b",
        "pg2",
        "l2-input",
        &[frame(BCAST, mac(2), 0x0800, 2)],
        1,
        "",
    );
    let got = sent_to(&mut h, "b", &["pg0", "pg1", "pg2", "pg3"]);
    assert_eq!(got.iter().map(Vec::len).collect::<Vec<_>>(), [1, 1, 0, 1]);
    // Known unicast to a port of the same group is dropped by l2-output.
    stream(
        &mut h,
        "c",
        "pg1",
        "l2-input",
        &[frame(mac(2), mac(3), 0x0800, 3)],
        1,
        "",
    );
    run(&mut h, "c"); // learns mac(3) on pg1
    wait_fib(&mut h, Duration::from_secs(2), |s| {
        s.contains(&mac_str(mac(3)))
    })
    .expect("learned");
    stream(
        &mut h,
        "d",
        "pg0",
        "l2-input",
        &[frame(mac(3), mac(1), 0x0800, 4)],
        2,
        "",
    );
    let got = sent_to(&mut h, "d", &["pg1", "pg2", "pg3"]);
    assert!(got.iter().all(Vec::is_empty));
    assert_eq!(h.counter("l2-output", "L2 split horizon drops"), 2);
    h.assert_all_free();
}

#[test]
fn learned_macs_forward_to_one_port_and_moves_relearn() {
    let mut h = bridge4();
    send(
        &mut h,
        "learn",
        "pg0",
        "l2-input",
        &[frame(BCAST, mac(10), 0x0800, 0)],
    );
    wait_fib(&mut h, Duration::from_secs(2), |s| {
        s.contains(&mac_str(mac(10)))
    })
    .expect("learned");
    let row = fib_row(&mut h, mac(10)).unwrap();
    assert!(row.contains("pg0") && row.contains(" 1 "), "{row}");
    assert_eq!(h.counter("l2-learn", "L2 learn misses"), 1);
    // Known destination: only pg0.
    stream(
        &mut h,
        "to10",
        "pg1",
        "l2-input",
        &[frame(mac(10), mac(11), 0x0800, 1)],
        5,
        "",
    );
    let got = sent_to(&mut h, "to10", &["pg0", "pg1", "pg2", "pg3"]);
    assert_eq!(got.iter().map(Vec::len).collect::<Vec<_>>(), [5, 0, 0, 0]);
    assert_eq!(h.counter("l2-fwd", "L2 forward hits"), 5);
    // mac(10) moves to pg3.
    send(
        &mut h,
        "move",
        "pg3",
        "l2-input",
        &[frame(BCAST, mac(10), 0x0800, 2)],
    );
    wait_fib(&mut h, Duration::from_secs(2), |s| {
        s.lines()
            .any(|l| l.contains(&mac_str(mac(10))) && l.contains("pg3"))
    })
    .expect("moved");
    assert_eq!(h.counter("l2-learn", "L2 mac moves"), 1);
    stream(
        &mut h,
        "to10b",
        "pg1",
        "l2-input",
        &[frame(mac(10), mac(11), 0x0800, 3)],
        2,
        "",
    );
    let got = sent_to(&mut h, "to10b", &["pg0", "pg1", "pg2", "pg3"]);
    assert_eq!(got.iter().map(Vec::len).collect::<Vec<_>>(), [0, 0, 0, 2]);
    // Sending back to the port a MAC lives on is a reflection.
    send(
        &mut h,
        "refl",
        "pg3",
        "l2-input",
        &[frame(mac(10), mac(12), 0x0800, 4)],
    );
    assert_eq!(h.counter("l2-fwd", "Reflection Drop"), 1);
    h.assert_all_free();
}

#[test]
fn static_macs_do_not_move_and_filters_drop() {
    let mut h = bridge4();
    h.cli(&format!("l2fib add {} 1 pg1 static", mac_str(mac(5))));
    h.cli(&format!("l2fib add {} 1 filter", mac_str(mac(6))));
    stream(
        &mut h,
        "v",
        "pg0",
        "l2-input",
        &[frame(BCAST, mac(5), 0x0800, 0)],
        3,
        "",
    );
    let got = sent_to(&mut h, "v", &["pg1", "pg2", "pg3"]);
    assert!(got.iter().all(Vec::is_empty));
    assert_eq!(h.counter("l2-learn", "L2 mac move violations"), 3);
    send(
        &mut h,
        "f",
        "pg0",
        "l2-input",
        &[frame(mac(6), mac(7), 0x0800, 0)],
    );
    assert_eq!(h.counter("l2-fwd", "Filter Mac Drop"), 1);
    send(
        &mut h,
        "g",
        "pg0",
        "l2-input",
        &[frame(BCAST, mac(6), 0x0800, 0)],
    );
    assert_eq!(h.counter("l2-learn", "L2 filter mac drops"), 1);
    let row = fib_row(&mut h, mac(5)).unwrap();
    assert!(row.contains("pg1"), "{row}");
    h.assert_all_free();
}

#[test]
fn learn_limits_per_bd_and_global() {
    let mut h = bridge4();
    h.cli("set bridge-domain learn-limit 1 2");
    let pkts: Vec<Vec<u8>> = (0..5)
        .map(|i| frame(BCAST, mac(100 + i), 0x0800, 0))
        .collect();
    send(&mut h, "five", "pg0", "l2-input", &pkts);
    wait_fib(&mut h, Duration::from_secs(2), |s| {
        s.contains("L2FIB total/learned entries: 2/2")
    })
    .expect("two learned");
    h.dp.run_until(Duration::from_millis(50), |_| false);
    assert!(h.cli("show l2fib").contains("total/learned entries: 2/2"));
    let limited = h.counter("l2-learn", "L2 not learned due to limit");
    assert!(limited >= 3, "limit counter {limited}");
    let bd = h.cli("show bridge-domain 1");
    let row: Vec<&str> = bd.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!((row[10], row[11]), ("2", "2"), "{bd}");
    // The global limit applies across BDs.
    h.cli("set bridge-domain learn-limit 1 100");
    h.cli("set l2fib learn-limit 3");
    send(&mut h, "more", "pg0", "l2-input", &pkts);
    wait_fib(&mut h, Duration::from_secs(2), |s| {
        s.contains("total/learned entries: 3/3")
    })
    .expect("three learned");
    h.dp.run_until(Duration::from_millis(50), |_| false);
    assert!(h.cli("show l2fib").contains("3/3  Last scan time: "));
    assert!(h.cli("show l2fib").ends_with("Learn limit: 3 \n"));
    h.assert_all_free();
}

#[test]
fn leaving_a_bridge_flushes_the_macs_learned_on_the_port() {
    let mut h = bridge4();
    send(
        &mut h,
        "a",
        "pg0",
        "l2-input",
        &[frame(BCAST, mac(1), 0x0800, 0)],
    );
    send(
        &mut h,
        "b",
        "pg1",
        "l2-input",
        &[frame(BCAST, mac(2), 0x0800, 0)],
    );
    h.cli(&format!("l2fib add {} 1 pg0", mac_str(mac(3))));
    wait_fib(&mut h, Duration::from_secs(2), |s| {
        s.contains("entries: 3/2")
    })
    .expect("learned");
    h.cli("set interface l3 pg0");
    let fib = h.cli("show l2fib verbose");
    assert!(!fib.contains(&mac_str(mac(1))), "{fib}");
    assert!(fib.contains(&mac_str(mac(2))), "{fib}");
    assert!(
        fib.contains(&mac_str(mac(3))),
        "provisioned entries stay\n{fib}"
    );
    assert!(!h.cli("show bridge-domain 1 detail").contains("pg0"));
    // The provisioned entry still points at pg0, now L3: l2-output refuses it.
    send(
        &mut h,
        "c",
        "pg1",
        "l2-input",
        &[frame(mac(3), mac(2), 0x0800, 0)],
    );
    assert_eq!(
        h.counter(
            "l2-output-bad-intf",
            "L2 output to interface not in L2 mode or deleted"
        ),
        1
    );
    // Moving a port to another BD flushes it too.
    h.cli("set interface l2 bridge pg1 2");
    assert!(!h.cli("show l2fib verbose").contains(&mac_str(mac(2))));
    h.assert_all_free();
}

#[test]
fn bridge_domain_feature_switches() {
    let mut h = bridge4();
    h.cli("set bridge-domain flood 1 disable");
    send(
        &mut h,
        "bc",
        "pg0",
        "l2-input",
        &[frame(BCAST, mac(1), 0x0800, 0)],
    );
    assert_eq!(
        h.counter("feature-bitmap-drop", "L2 feature forwarding disabled"),
        1
    );
    h.cli("set bridge-domain uu-flood 1 disable");
    send(
        &mut h,
        "uu",
        "pg0",
        "l2-input",
        &[frame(mac(50), mac(1), 0x0800, 0)],
    );
    assert_eq!(h.counter("l2-fwd", "L2 forward misses"), 1);
    h.cli("set bridge-domain uu-flood 1");
    h.cli("set bridge-domain flood 1");
    h.cli("set bridge-domain learn 1 disable");
    send(
        &mut h,
        "nolearn",
        "pg1",
        "l2-input",
        &[frame(BCAST, mac(2), 0x0800, 0)],
    );
    h.dp.run_until(Duration::from_millis(50), |_| false);
    assert!(!h.cli("show l2fib verbose").contains(&mac_str(mac(2))));
    assert_eq!(h.counter("l2-learn", "L2 learn packets"), 2);
    // Forwarding off: even a known destination is flooded.
    h.cli("set bridge-domain forward 1 disable");
    h.cli(&format!("l2fib add {} 1 pg3", mac_str(mac(3))));
    stream(
        &mut h,
        "fw",
        "pg0",
        "l2-input",
        &[frame(mac(3), mac(1), 0x0800, 0)],
        1,
        "",
    );
    let got = sent_to(&mut h, "fw", &["pg1", "pg2", "pg3"]);
    assert_eq!(got.iter().map(Vec::len).collect::<Vec<_>>(), [1, 1, 1]);
    let bd = h.cli("show bridge-domain");
    let row: Vec<&str> = bd.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(&row[4..8], ["off", "off", "flood", "on"], "{bd}");
    h.assert_all_free();
}

#[test]
fn aging_removes_idle_learned_macs_and_keeps_static_ones() {
    let mut h = bridge4();
    // 100 ms "minutes", scans every 20 ms.
    h.cli("set l2fib age-scan-interval 0.02 minute 0.1");
    h.cli("set bridge-domain mac-age 1 2");
    h.cli(&format!("l2fib add {} 1 pg1 static", mac_str(mac(2))));
    h.cli(&format!("l2fib add {} 1 pg1", mac_str(mac(3))));
    send(
        &mut h,
        "a",
        "pg0",
        "l2-input",
        &[frame(BCAST, mac(1), 0x0800, 0)],
    );
    wait_fib(&mut h, Duration::from_secs(2), |s| {
        s.contains(&mac_str(mac(1)))
    })
    .expect("learned");
    let fib = h.cli("show l2fib verbose");
    let age_col = |fib: &str, m| {
        fib.lines()
            .find(|l| l.contains(&mac_str(m)))
            .and_then(|l| l.split_whitespace().nth(4))
            .map(str::to_string)
    };
    assert_eq!(age_col(&fib, mac(2)).as_deref(), Some("no"), "{fib}");
    assert_eq!(age_col(&fib, mac(3)).as_deref(), Some("no"), "{fib}");
    let took = wait_fib(&mut h, Duration::from_secs(3), |s| {
        !s.contains(&mac_str(mac(1)))
    })
    .expect("aged out");
    assert!(
        took >= Duration::from_millis(100),
        "aged after {took:?}, before a minute passed"
    );
    let fib = h.cli("show l2fib verbose");
    assert!(
        fib.contains(&mac_str(mac(2))) && fib.contains(&mac_str(mac(3))),
        "{fib}"
    );
    assert!(fib.contains("total/learned entries: 2/0"), "{fib}");
    h.assert_all_free();
}

#[test]
fn aging_spares_macs_that_keep_talking() {
    let mut h = bridge4();
    h.cli("set l2fib age-scan-interval 0.02 minute 0.05");
    h.cli("set bridge-domain mac-age 1 4");
    // 400 pps for 1 s: the MAC is seen every minute (50 ms) and refreshed.
    stream(
        &mut h,
        "talk",
        "pg0",
        "l2-input",
        &[frame(BCAST, mac(1), 0x0800, 0)],
        400,
        "rate 400",
    );
    h.cli("packet-generator enable-stream talk");
    let mut seen_all_along = true;
    let t0 = std::time::Instant::now();
    let mut learned = false;
    while t0.elapsed() < Duration::from_millis(900) {
        h.dp.run_until(Duration::from_millis(20), |_| false);
        let here = h.cli("show l2fib verbose").contains(&mac_str(mac(1)));
        learned |= here;
        if learned && !here {
            seen_all_along = false;
        }
    }
    assert!(learned && seen_all_along, "an active MAC was aged out");
    assert!(h.counter("l2-learn", "L2 learn hit updates") >= 5);
    h.wait_streams(Duration::from_secs(5));
    wait_fib(&mut h, Duration::from_secs(3), |s| {
        !s.contains(&mac_str(mac(1)))
    })
    .expect("aged");
    h.assert_all_free();
}

#[test]
fn xconnect_passes_frames_both_ways_untouched() {
    let mut h = harness("", 3, &[]);
    h.cli("set interface l2 xconnect pg0 pg1");
    h.cli("set interface l2 xconnect pg1 pg0");
    let a: Vec<Vec<u8>> = (0..4)
        .map(|i| frame(mac(200 + i), mac(1), 0x86dd, i as u8))
        .collect();
    let mut b = frame(BCAST, mac(2), 0x8100, 9);
    b.extend_from_slice(&[0xaa; 40]);
    stream(&mut h, "ab", "pg0", "ethernet-input", &a, 4, "");
    let got = sent_to(&mut h, "ab", &["pg0", "pg1", "pg2"]);
    assert_eq!(got[1], a);
    assert!(got[0].is_empty() && got[2].is_empty());
    stream(&mut h, "ba", "pg1", "ethernet-input", &[b.clone()], 1, "");
    let got = sent_to(&mut h, "ba", &["pg0", "pg1", "pg2"]);
    assert_eq!(got[0], vec![b]);
    assert!(got[1].is_empty() && got[2].is_empty());
    // No learning on a cross-connect.
    h.dp.run_until(Duration::from_millis(30), |_| false);
    assert_eq!(h.cli("show l2fib"), "no l2fib entries\n");
    assert!(h.cli("show mode pg0").contains("l2 xconnect pg0 pg1"));
    assert!(h
        .cli("show interface address pg1")
        .contains("L2 xconnect pg0"));
    h.cli("set interface l3 pg0");
    assert!(h.cli("show mode pg0").contains("l3 pg0"));
    h.assert_all_free();
}

#[test]
fn trace_text_matches_vpp() {
    let mut h = bridge4();
    h.cli(&format!("l2fib add {} 1 pg2", mac_str(mac(2))));
    h.cli("trace add pg-input 2");
    let mut f = frame(mac(2), mac(1), 0x0800, 0x45);
    f[14] = 0x45;
    send(
        &mut h,
        "t",
        "pg0",
        "l2-input",
        &[f, frame(BCAST, mac(1), 0x0806, 0)],
    );
    let t = h.cli("show trace");
    for want in [
        "l2-input: sw_if_index 1 dst 02:00:00:00:00:02 src 02:00:00:00:00:01 [l2-learn l2-fwd l2-flood l2-flood ]",
        "l2-learn: sw_if_index 1 dst 02:00:00:00:00:02 src 02:00:00:00:00:01 bd_index 1",
        "l2-fwd:   sw_if_index 1 dst 02:00:00:00:00:02 src 02:00:00:00:00:01 bd_index 1 result [0x",
        ", 3] age-not ",
        "l2-output: sw_if_index 3 dst 02:00:00:00:00:02 src 02:00:00:00:00:01 data 08 00 45 45 45",
        "l2-input: sw_if_index 1 dst ff:ff:ff:ff:ff:ff src 02:00:00:00:00:01 [l2-learn l2-flood ]",
        "l2-flood: sw_if_index 1 dst ff:ff:ff:ff:ff:ff src 02:00:00:00:00:01 bd_index 1",
    ] {
        assert!(t.contains(want), "missing `{want}' in\n{t}");
    }
    h.assert_all_free();
}

/// A frame of one flow is one run in every L2 node. While tracing is on (a buffer was marked
/// since the last `clear trace`), the run loops stop at each traced packet so its general path
/// records it; after `clear trace` they run without testing the flag, and a new `trace add`
/// turns the tests back on.
#[test]
fn runs_are_traced_again_after_clear_trace() {
    let mut h = bridge4();
    h.cli(&format!("l2fib add {} 1 pg2", mac_str(mac(2))));
    let f = frame(mac(2), mac(1), 0x0800, 0x45);
    let traced = |h: &mut pwire_testkit::Harness, name: &str, n: usize| {
        stream(h, name, "pg0", "l2-input", std::slice::from_ref(&f), 40, "");
        let got = sent_to(h, name, &["pg1", "pg2", "pg3"]);
        assert!(got[0].is_empty() && got[2].is_empty());
        assert_eq!(got[1], vec![f.clone(); 40], "{name}: all forwarded to pg2");
        let t = h.cli("show trace");
        for node in ["l2-input:", "l2-learn:", "l2-fwd:", "l2-output:"] {
            assert_eq!(t.matches(node).count(), n, "{name}: {node} records in\n{t}");
        }
    };
    h.cli("trace add pg-input 40");
    traced(&mut h, "on", 40);
    h.cli("clear trace");
    traced(&mut h, "off", 0);
    h.cli("trace add pg-input 40");
    traced(&mut h, "again", 40);
    h.assert_all_free();
}

#[test]
fn large_table_prefetch_path_forwards_every_host() {
    // Over `PREFETCH_FROM` entries, l2-learn and l2-fwd prefetch in a first pass.
    let mut h = bridge4();
    let n = 10_000u16;
    let hosts: Vec<Vec<u8>> = (0..n).map(|i| frame(BCAST, mac(i), 0x0800, 0)).collect();
    stream(&mut h, "hosts", "pg0", "l2-input", &hosts, n as usize, "");
    // Each thread queues at most 4096 new MACs per publication: repeat until all are in.
    for _ in 0..50 {
        if h.cli("show l2fib").contains(&format!("entries: {n}/{n}")) {
            break;
        }
        run(&mut h, "hosts");
        h.dp.run_until(Duration::from_millis(20), |_| false);
    }
    assert!(h.cli("show l2fib").contains(&format!("entries: {n}/{n}")));
    let to: Vec<Vec<u8>> = (0..n)
        .step_by(7)
        .map(|i| frame(mac(i), mac(60_000), 0x0800, 1))
        .collect();
    stream(&mut h, "to", "pg1", "l2-input", &to, to.len(), "");
    let got = sent_to(&mut h, "to", &["pg0", "pg2", "pg3"]);
    assert_eq!(got[0].len(), to.len());
    assert!(got[1].is_empty() && got[2].is_empty());
    assert_eq!(got[0], to, "in order, untouched");
    h.assert_all_free();
}
