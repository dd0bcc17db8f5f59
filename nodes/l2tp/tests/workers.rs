//! A sequenced session across two workers: RFC 4719 sequencing is per session, so two workers
//! encapsulating into one session send distinct numbers, and a session whose packets arrive on
//! two rx queues is checked against one window.

mod common;
use common::*;
use pwire_testkit::Harness;
use std::net::Ipv6Addr;
use std::time::Duration;

fn inner(dst: [u8; 6], src: [u8; 6], tag: u16) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&[0x88, 0xb5]);
    f.extend_from_slice(&tag.to_be_bytes());
    f.resize(60, 0x5a);
    f
}

/// Ethernet + IPv6 fd00::2 -> fd00::1 + session 1, 8-byte all-ones cookie, sublayer.
fn sequenced(seq: u32, inner: &[u8]) -> Vec<u8> {
    let mut l = 1u32.to_be_bytes().to_vec();
    l.extend_from_slice(&[0xff; 8]);
    l.extend_from_slice(&(0x4000_0000 | seq).to_be_bytes());
    l.extend_from_slice(inner);
    let mut f = PG0_MAC.to_vec();
    f.extend_from_slice(&PEER_MAC);
    f.extend_from_slice(&[0x86, 0xdd, 0x60, 0, 0, 0]);
    f.extend_from_slice(&(l.len() as u16).to_be_bytes());
    f.extend_from_slice(&[115, 64]);
    f.extend_from_slice(&"fd00::2".parse::<Ipv6Addr>().unwrap().octets());
    f.extend_from_slice(&"fd00::1".parse::<Ipv6Addr>().unwrap().octets());
    f.extend_from_slice(&l);
    f
}

fn topo(h: &mut Harness) {
    for l in [
        "create packet-generator interface pg0",
        "create packet-generator interface pg1",
        "set interface ip address pg0 fd00::1/64",
        "set interface state pg0 up",
        "set interface state pg1 up",
        "set ip neighbor pg0 fd00::2 02:00:00:00:00:02 static",
        "create l2tpv3 tunnel client fd00::2 our fd00::1 sequencing",
        "set interface state l2tpv3_tunnel0 up",
        "set interface l2 xconnect pg1 l2tpv3_tunnel0",
        "set interface l2 xconnect l2tpv3_tunnel0 pg1",
    ] {
        h.cli(l);
    }
}

/// Runs stream `name` (`pkts` from `pg` into ethernet-input) on `worker`.
fn on_worker(h: &mut Harness, name: &str, pg: &str, worker: usize, pkts: &[Vec<u8>], limit: usize) {
    let p = h.pcap(&format!("{name}.pcap"), 1, pkts);
    h.cli(&format!(
        "packet-generator new {{ name {name} limit {limit} interface {pg} node ethernet-input worker {worker} pcap {} }}",
        p.display()
    ));
}

#[test]
fn two_workers_encapsulating_into_one_session_send_each_number_once() {
    let mut h = harness("cpu { workers 2 }");
    assert_eq!(h.dp.n_workers(), 2);
    topo(&mut h);
    let up = h.capture("pg0");
    let a: Vec<Vec<u8>> = (0..8)
        .map(|i| inner([2, 0, 0, 0, 1, 1], [2, 0, 0, 0, 2, 1], i))
        .collect();
    on_worker(&mut h, "w0", "pg1", 0, &a, 2000);
    on_worker(&mut h, "w1", "pg1", 1, &a, 2000);
    // Both at once, so the two workers really interleave.
    h.cli("packet-generator enable-stream");
    h.wait_streams(Duration::from_secs(20));
    let out = h.captured("pg0", &up);
    assert_eq!(out.len(), 4000, "{}", h.cli("show errors"));
    // Ethernet 14 + IPv6 40 + session id 4 + cookie 8: the sublayer word.
    let mut seqs: Vec<u32> = out
        .iter()
        .map(|p| u32::from_be_bytes([p[66], p[67], p[68], p[69]]))
        .inspect(|w| assert_eq!(w & 0x4000_0000, 0x4000_0000, "S bit"))
        .map(|w| w & 0x00ff_ffff)
        .collect();
    seqs.sort_unstable();
    seqs.dedup();
    assert_eq!(
        seqs.len(),
        4000,
        "4000 frames carried 4000 distinct numbers"
    );
    assert_eq!((seqs[0], seqs[3999]), (0, 3999));
    h.dp.shutdown();
    h.assert_all_free();
}

#[test]
fn two_workers_receiving_one_session_check_one_window() {
    let mut h = harness("cpu { workers 2 }");
    topo(&mut h);
    let ac = h.capture("pg1");
    let f = |i: u16| inner([2, 0, 0, 0, 2, 1], [2, 0, 0, 0, 1, 1], i);
    // Worker 0 receives 0..=9; then worker 1 receives a duplicate of 5 and the next two.
    let first: Vec<Vec<u8>> = (0..10).map(|q| sequenced(q, &f(q as u16))).collect();
    on_worker(&mut h, "r0", "pg0", 0, &first, first.len());
    h.cli("packet-generator enable-stream r0");
    h.wait_streams(Duration::from_secs(20));
    let second: Vec<Vec<u8>> = [5u32, 10, 11]
        .iter()
        .map(|&q| sequenced(q, &f(q as u16)))
        .collect();
    on_worker(&mut h, "r1", "pg0", 1, &second, second.len());
    h.cli("packet-generator enable-stream r1");
    h.wait_streams(Duration::from_secs(20));
    let tags: Vec<u16> = h
        .captured("pg1", &ac)
        .iter()
        .map(|p| u16::from_be_bytes([p[14], p[15]]))
        .collect();
    let mut want: Vec<u16> = (0..10).collect();
    want.extend([10, 11]);
    assert_eq!(tags, want, "the duplicate on the other worker is dropped");
    assert_eq!(
        h.counter(
            "l2tp-decap-local",
            "l2tpv3 sequence number out of order or duplicate"
        ),
        1
    );
    h.dp.shutdown();
    h.assert_all_free();
}
