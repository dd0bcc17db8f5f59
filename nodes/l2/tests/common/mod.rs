//! Helpers shared by the L2 tests: a harness with the L2 crate, frames, streams, captures.

#![allow(dead_code)]

use pwire_testkit::{read_pcap, Harness};
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub const BCAST: [u8; 6] = [0xff; 6];

/// A MAC from a small number (02:00:00:00:xx:yy).
pub fn mac(n: u16) -> [u8; 6] {
    let b = n.to_be_bytes();
    [2, 0, 0, 0, b[0], b[1]]
}

pub fn mac_str(m: [u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// A 60-byte Ethernet frame; the payload is `tag` repeated.
pub fn frame(dst: [u8; 6], src: [u8; 6], ethertype: u16, tag: u8) -> Vec<u8> {
    let mut f = Vec::with_capacity(60);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.resize(60, tag);
    f
}

/// A harness with ethernet-input and the L2 crate (plus `extra`), `n` pg interfaces up.
pub fn harness(conf: &str, n: usize, extra: &[pwire_vnet::dataplane::RegisterFn]) -> Harness {
    let mut regs: Vec<pwire_vnet::dataplane::RegisterFn> =
        vec![pwire_node_ethernet::register, pwire_node_l2::register];
    regs.extend_from_slice(extra);
    let mut h = Harness::with(conf, &regs);
    for i in 0..n {
        h.cli(&format!("create packet-generator interface pg{i}"));
        h.cli(&format!("set interface state pg{i} up"));
    }
    h
}

/// Defines stream `name`: `pkts` (cycled) from `pg` into `node`, `limit` packets.
pub fn stream(
    h: &mut Harness,
    name: &str,
    pg: &str,
    node: &str,
    pkts: &[Vec<u8>],
    limit: usize,
    extra: &str,
) {
    let p = h.pcap(&format!("{name}.pcap"), 1, pkts);
    h.cli(&format!(
        "packet-generator new {{ name {name} limit {limit} interface {pg} node {node} {extra} pcap {} }}",
        p.display()
    ));
}

/// Runs one stream to completion (other streams are left alone).
pub fn run(h: &mut Harness, name: &str) {
    h.cli(&format!("packet-generator enable-stream {name}"));
    h.wait_streams(Duration::from_secs(20));
}

/// Defines and runs a stream.
pub fn send(h: &mut Harness, name: &str, pg: &str, node: &str, pkts: &[Vec<u8>]) {
    stream(h, name, pg, node, pkts, pkts.len(), "");
    run(h, name);
}

/// Arms a capture on `pg` into a fresh file; returns the file.
pub fn capture(h: &mut Harness, pg: &str, _tag: &str) -> PathBuf {
    h.capture(pg)
}

/// The packets of a capture (none if nothing was ever written).
pub fn packets(p: &PathBuf) -> Vec<Vec<u8>> {
    match std::fs::metadata(p) {
        Ok(m) if m.len() >= 24 => read_pcap(p),
        _ => Vec::new(),
    }
}

/// Captures `pgs` around running stream `name`; returns the packets each got.
pub fn sent_to(h: &mut Harness, name: &str, pgs: &[&str]) -> Vec<Vec<Vec<u8>>> {
    let caps: Vec<PathBuf> = pgs.iter().map(|pg| capture(h, pg, name)).collect();
    run(h, name);
    for pg in pgs {
        h.cli(&format!("packet-generator capture {pg} disable"));
    }
    caps.iter().map(packets).collect()
}

/// Runs the main loop until `show l2fib verbose` satisfies `f` or `limit` passes; returns the
/// time it took, or None.
pub fn wait_fib(h: &mut Harness, limit: Duration, f: impl Fn(&str) -> bool) -> Option<Duration> {
    let t0 = Instant::now();
    let ok = h.dp.run_until(limit, |dp| {
        f(&dp.exec("show l2fib verbose").unwrap_or_default())
    });
    ok.then(|| t0.elapsed())
}

/// The `show l2fib verbose` row of `m`, if any.
pub fn fib_row(h: &mut Harness, m: [u8; 6]) -> Option<String> {
    let s = mac_str(m);
    h.cli("show l2fib verbose")
        .lines()
        .find(|l| l.contains(&s))
        .map(str::to_string)
}
