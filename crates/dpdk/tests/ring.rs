//! EAL with `--no-huge` and a `net_ring` loopback round trip through pwire's graph, in one
//! process (EAL initialises once per process, so this file holds one test).
//!
//! pg0 and net_ring0 share bridge domain 1. Broadcast frames sent from pg0 flood out
//! net_ring0 (`dpdk-tx`), whose tx ring is its own rx ring, come back through `dpdk-input`,
//! and flood to pg0, where they are captured: same bytes, same count. Then the port is
//! stopped and every buffer (and so every mbuf) must be free again.

#![cfg(feature = "dpdk")]

use std::time::Duration;

use pwire_testkit::Harness;

const N: usize = 1000;

fn frame(i: usize) -> Vec<u8> {
    let mut f = vec![0xff; 6];
    f.extend_from_slice(&[2, 0, 0, 0, 0, 1]);
    f.extend_from_slice(&[0x88, 0xb5]);
    f.extend_from_slice(&(i as u32).to_be_bytes());
    f.resize(60 + (i % 200), 0x5a);
    f
}

fn counter_after(text: &str, key: &str) -> u64 {
    text.lines()
        .find(|l| l.trim_start().starts_with(key))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no `{key}' in:\n{text}"))
}

#[test]
fn eal_no_huge_and_net_ring_round_trip() {
    let mut h = Harness::with(
        "dpdk { no-huge no-pci vdev net_ring0 log-level error num-mbufs 20000 }",
        &[
            pwire_node_ethernet::register,
            pwire_node_l2::register,
            pwire_dpdk::register,
        ],
    );
    let hw = h.cli("show hardware-interfaces verbose net_ring0");
    assert!(hw.contains("driver name: net_ring"), "{hw}");
    // num-mbufs sizes the pool (the mbufs are the buffers), rounded up to whole batches.
    let b = h.cli("show dpdk buffer");
    assert!(b.contains("total =   20224"), "{b}");
    let e = h.cli_err("set interface rx-mode net_ring0 interrupt");
    assert!(e.contains("polling only"), "{e}");
    h.cli("create packet-generator interface pg0");
    h.cli("set interface state pg0 up");
    h.cli("set interface state net_ring0 up");
    h.cli("set interface l2 bridge pg0 1");
    h.cli("set interface l2 bridge net_ring0 1");
    let cap = h.capture("pg0");
    let pkts: Vec<Vec<u8>> = (0..N).map(frame).collect();
    h.cli("trace add dpdk-input 2");
    h.send("ring", "pg0", "ethernet-input", &pkts);
    // The frames come back through the ring on the next polls.
    let ok = h.dp.run_until(Duration::from_secs(10), |dp| {
        let o = dp
            .exec("show hardware-interfaces verbose net_ring0")
            .unwrap_or_default();
        o.lines()
            .find(|l| l.trim_start().starts_with("ipackets"))
            .and_then(|l| l.split_whitespace().last())
            .and_then(|v| v.parse::<usize>().ok())
            == Some(N)
    });
    h.run_for(Duration::from_millis(100));
    let hw = h.cli("show hardware-interfaces verbose net_ring0");
    assert!(ok, "all frames looped back:\n{hw}");
    assert_eq!(counter_after(&hw, "opackets"), N as u64, "{hw}");
    assert_eq!(counter_after(&hw, "rx_nombuf"), 0, "{hw}");
    let got = h.captured("pg0", &cap);
    assert_eq!(got.len(), N, "every frame reached pg0 again");
    assert_eq!(
        got, pkts,
        "bytes unchanged by the round trip (zero copy, no corruption)"
    );
    let tr = h.cli("show trace");
    assert!(tr.contains("dpdk-input: port 0 queue 0"), "{tr}");
    let si = h.cli("show interface");
    assert!(si.contains("net_ring0"), "{si}");

    // Stop the port: the PMD holds no mbuf any more, so every buffer is free.
    h.cli("set interface state net_ring0 down");
    h.run_for(Duration::from_millis(50));
    h.assert_all_free();
    let b = h.cli("show dpdk buffer");
    assert!(b.contains("allocated =       0"), "{b}");

    // A second dataplane in this process cannot have DPDK (EAL and the mempool exist once).
    let cfg = pwire_config::parse_str("t2.conf", "dpdk { no-huge no-pci vdev net_ring1 }").unwrap();
    let mut regs = pwire_testkit::BASE.to_vec();
    regs.extend([
        pwire_node_ethernet::register as pwire_vnet::dataplane::RegisterFn,
        pwire_dpdk::register,
    ]);
    let e = pwire_vnet::Dataplane::build(cfg, &regs).unwrap_err();
    assert!(e.contains("once per process"), "{e}");
}
