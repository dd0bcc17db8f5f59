//! Lazy L2 FIB flushing (see `state.rs`): what a deleted interface's MACs do before and after
//! the sweep removes them, and that an interface index given to a new interface inherits none
//! of them.

mod common;

use common::*;
use pwire_testkit::Harness;
use std::time::Duration;

/// pg0..pg2 and loop0 in BD 1; MACs 50..53 learned on loop0, 60 provisioned static on it.
fn with_macs_on_loop0() -> (Harness, u32) {
    let mut h = harness("", 3, &[]);
    assert_eq!(h.cli("create loopback interface"), "loop0\n");
    for p in ["pg0", "pg1", "pg2", "loop0"] {
        h.cli(&format!("set interface l2 bridge {p} 1"));
    }
    let from_loop: Vec<Vec<u8>> = (50..54).map(|i| frame(BCAST, mac(i), 0x0800, 0)).collect();
    send(&mut h, "learn", "loop0", "l2-input", &from_loop);
    h.cli(&format!("l2fib add {} 1 loop0 static", mac_str(mac(60))));
    wait_fib(&mut h, Duration::from_secs(2), |s| {
        s.contains("entries: 5/4")
    })
    .expect("learned on loop0");
    let sw = sw_if_index(&mut h, "loop0");
    (h, sw)
}

fn sw_if_index(h: &mut Harness, name: &str) -> u32 {
    let fib = h.cli("show interface");
    fib.lines()
        .find(|l| l.split_whitespace().next() == Some(name))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in\n{fib}"))
}

/// The `show bridge-domain 1` learn count.
fn learn_count(h: &mut Harness) -> u32 {
    let bd = h.cli("show bridge-domain 1");
    let row: Vec<&str> = bd.lines().nth(1).unwrap().split_whitespace().collect();
    row[10].parse().unwrap()
}

/// Unicast from pg0 to `dst`: what pg1 and pg2 receive.
fn to(h: &mut Harness, name: &str, dst: [u8; 6]) -> [usize; 2] {
    stream(
        h,
        name,
        "pg0",
        "l2-input",
        &[frame(dst, mac(1), 0x0800, 7)],
        1,
        "",
    );
    let got = sent_to(h, name, &["pg1", "pg2"]);
    [got[0].len(), got[1].len()]
}

#[test]
fn a_deleted_interfaces_macs_are_misses_at_once_and_gone_after_the_sweep() {
    let (mut h, _) = with_macs_on_loop0();
    assert_eq!(to(&mut h, "before", mac(50)), [0, 0], "forwarded to loop0");
    assert_eq!(to(&mut h, "before-static", mac(60)), [0, 0]);
    wait_fib(&mut h, Duration::from_secs(2), |s| {
        s.contains("entries: 6/5")
    })
    .expect("pg0's source learned");
    assert_eq!(learn_count(&mut h), 5, "4 + pg0's source");
    h.cli("delete loopback interface intfc loop0");
    // Not shown, even before any sweep ran.
    let fib = h.cli("show l2fib verbose");
    for i in [50, 51, 52, 53, 60] {
        assert!(!fib.contains(&mac_str(mac(i))), "{fib}");
    }
    assert!(fib.contains("entries: 1/1"), "{fib}");
    // With unknown unicast not flooded, a stale entry drops the frame as VPP's "Stale entry
    // Drop": the packet runs in the first main-loop iteration after the delete, before the
    // sweep task could run.
    h.cli("set bridge-domain uu-flood 1 disable");
    assert_eq!(to(&mut h, "dropped", mac(50)), [0, 0]);
    assert_eq!(h.counter("l2-fwd", "Stale entry Drop"), 1);
    h.cli("set bridge-domain uu-flood 1");
    // A miss: flooded (static and learned alike).
    assert_eq!(to(&mut h, "flooded", mac(51)), [1, 1]);
    assert_eq!(to(&mut h, "flooded-static", mac(60)), [1, 1]);
    // The sweep then removes them, with the learn count.
    assert!(
        h.dp.run_until(Duration::from_secs(2), |dp| {
            dp.exec("show bridge-domain 1")
                .unwrap_or_default()
                .lines()
                .nth(1)
                .and_then(|l| l.split_whitespace().nth(10).map(|c| c == "1"))
                .unwrap_or(false)
        }),
        "swept: {}",
        h.cli("show bridge-domain 1")
    );
    assert_eq!(to(&mut h, "after-sweep", mac(52)), [1, 1]);
    h.assert_all_free();
}

#[test]
fn a_deleted_interfaces_macs_are_learned_again_on_another_port() {
    let (mut h, _) = with_macs_on_loop0();
    h.cli("delete loopback interface intfc loop0");
    // MAC 50 shows up behind pg1 straight away (no sweep between).
    send(
        &mut h,
        "moved",
        "pg1",
        "l2-input",
        &[frame(BCAST, mac(50), 0x0800, 0)],
    );
    let row = wait_fib(&mut h, Duration::from_secs(2), |s| {
        s.lines()
            .any(|l| l.contains(&mac_str(mac(50))) && l.contains("pg1"))
    });
    assert!(row.is_some(), "{}", h.cli("show l2fib verbose"));
    assert_eq!(to(&mut h, "to-pg1", mac(50)), [1, 0]);
    wait_fib(&mut h, Duration::from_secs(2), |s| {
        s.contains("entries: 2/2")
    })
    .unwrap_or_else(|| panic!("{}", h.cli("show l2fib verbose")));
    h.assert_all_free();
}

#[test]
fn an_interface_index_given_to_a_new_interface_inherits_no_mac() {
    let (mut h, sw) = with_macs_on_loop0();
    h.cli("delete loopback interface intfc loop0");
    // The new loopback gets the freed index and joins the same BD, before any sweep.
    assert_eq!(h.cli("create loopback interface"), "loop0\n");
    assert_eq!(sw_if_index(&mut h, "loop0"), sw, "index reused");
    h.cli("set interface l2 bridge loop0 1");
    let fib = h.cli("show l2fib verbose");
    assert!(!fib.contains("loop0"), "inherited:\n{fib}");
    // Frames to the old MACs flood (pg1 and pg2 get them): none goes only to the new loop0.
    assert_eq!(to(&mut h, "learned", mac(53)), [1, 1]);
    assert_eq!(to(&mut h, "static", mac(60)), [1, 1]);
    // And the new interface learns and is provisioned like any port.
    h.cli(&format!("l2fib add {} 1 loop0 static", mac_str(mac(61))));
    assert_eq!(to(&mut h, "new-static", mac(61)), [0, 0]);
    h.dp.run_until(Duration::from_millis(300), |_| false);
    let fib = h.cli("show l2fib verbose");
    assert!(
        fib.lines().filter(|l| l.contains("loop0")).count() == 1 && fib.contains(&mac_str(mac(61))),
        "{fib}"
    );
    h.assert_all_free();
}
