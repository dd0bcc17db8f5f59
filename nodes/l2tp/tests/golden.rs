//! Interop: frames from Snabb's keyed-IPv6-tunnel implementation (tested against a Cisco
//! ASR9000) decapsulated and encapsulated by pwire, compared byte for byte.

mod common;
use common::*;
use pwire_testkit::read_pcap;

#[test]
fn snabb_uplink_decapsulates_to_the_ac_expect_file() {
    let mut h = harness("");
    snabb(&mut h, "hop-limit 64");
    let out = h.path("ac.pcap");
    h.cli(&format!(
        "packet-generator capture pg1 pcap {}",
        out.display()
    ));
    let inp = snabb_file("l2tpv3-uplink.cap.input");
    h.cli(&format!(
        "packet-generator new {{ name up limit 100 interface pg0 pcap {} }}",
        inp.display()
    ));
    h.run_streams();
    let got = read_pcap(&out);
    let want = read_pcap(&snabb_file("l2tpv3-ac.cap.expect"));
    assert_eq!(want.len(), 100);
    assert_eq!(
        got.len(),
        want.len(),
        "every frame decapsulated\n{}",
        h.cli("show errors")
    );
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g, w, "frame {i} differs");
    }
    assert_eq!(
        h.counter("l2tp-decap-local", "L2TP user (ip6) to L2 network pkts"),
        100
    );
    let v = h.cli("show l2tpv3 verbose");
    assert!(v.contains("user-to-net: 100 pkts"), "{v}");
    h.assert_all_free();
}

#[test]
fn snabb_ac_encapsulates_to_the_uplink_expect_file() {
    let mut h = harness("");
    snabb(&mut h, "hop-limit 64");
    let out = h.path("up.pcap");
    h.cli(&format!(
        "packet-generator capture pg0 pcap {}",
        out.display()
    ));
    let inp = snabb_file("ac.cap.input");
    h.cli(&format!(
        "packet-generator new {{ name ac limit 100 interface pg1 pcap {} }}",
        inp.display()
    ));
    h.run_streams();
    let got = read_pcap(&out);
    let want = read_pcap(&snabb_file("l2tpv3-uplink.cap.expect"));
    assert_eq!(want.len(), 100);
    assert_eq!(
        got.len(),
        want.len(),
        "every frame encapsulated\n{}",
        h.cli("show errors")
    );
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g, w, "frame {i} differs");
    }
    assert_eq!(
        h.counter("l2tp-encap", "L2TP L2 network to user (ip6) pkts"),
        100
    );
    h.assert_all_free();
}
