//! Benchmark of the L2 path (l2-input -> l2-learn -> l2-fwd -> l2-output) in clocks per packet,
//! with 1 and with 100k MACs learned. Not a pass/fail test:
//! `cargo test --release -p pwire-node-l2 --test bench -- --ignored --nocapture`.
//! Main thread only, 2M packets from pg0 to pg1 (as VPP's own figures on this machine).

mod common;

use common::*;
use pwire_testkit::Harness;
use std::time::Duration;

const PACKETS: usize = 2_000_000;

/// MAC `i` of side `side` (0: behind pg0, 1: behind pg1).
fn host(side: u8, i: u32) -> [u8; 6] {
    let b = i.to_be_bytes();
    [2, side, b[0], b[1], b[2], b[3]]
}

fn learned(h: &mut Harness) -> usize {
    let s = h.cli("show l2fib");
    s.split("entries: ")
        .nth(1)
        .and_then(|r| r.split('/').nth(1))
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// Learns `n` hosts on each side, then runs the measured stream; returns the four nodes'
/// clocks per packet.
fn run_case(n: u32) -> [f64; 4] {
    let mut h = harness("buffers { buffers-per-numa 32768 }", 2, &[]);
    h.cli("set interface l2 bridge pg0 1");
    h.cli("set interface l2 bridge pg1 1");
    let left: Vec<Vec<u8>> = (0..n)
        .map(|i| frame(BCAST, host(0, i), 0x0800, 0))
        .collect();
    let right: Vec<Vec<u8>> = (0..n)
        .map(|i| frame(BCAST, host(1, i), 0x0800, 0))
        .collect();
    stream(&mut h, "l0", "pg0", "l2-input", &left, n as usize, "");
    stream(&mut h, "l1", "pg1", "l2-input", &right, n as usize, "");
    // A thread queues at most 4096 new MACs per publication: repeat until all are in.
    for _ in 0..100 {
        if learned(&mut h) >= 2 * n as usize {
            break;
        }
        run(&mut h, "l0");
        run(&mut h, "l1");
        h.dp.run_until(Duration::from_millis(30), |_| false);
    }
    assert_eq!(learned(&mut h), 2 * n as usize, "setup: all MACs learned");
    let traffic: Vec<Vec<u8>> = (0..n)
        .map(|i| frame(host(1, i), host(0, i), 0x0800, 0))
        .collect();
    stream(&mut h, "t", "pg0", "l2-input", &traffic, PACKETS, "");
    h.cli("clear runtime");
    h.cli("clear errors");
    h.cli("packet-generator enable-stream t");
    h.wait_streams(Duration::from_secs(120));
    println!("---- {n} MAC(s) per side, {PACKETS} packets ----");
    println!("{}", h.cli("show runtime"));
    println!("{}", h.cli("show errors"));
    assert_eq!(h.counter("l2-fwd", "L2 forward hits"), PACKETS as u64);
    assert_eq!(h.counter("l2-flood", "L2 flood packets"), 0);
    let e = h.dp.vnet.engine();
    let mut out = [0.0; 4];
    for (k, name) in ["l2-input", "l2-learn", "l2-fwd", "l2-output"]
        .iter()
        .enumerate()
    {
        let i = e.graph.node_index(name).unwrap();
        let s = e.node_stats(0, i);
        out[k] = s.clocks as f64 / s.vectors.max(1) as f64;
    }
    h.assert_all_free();
    out
}

#[test]
#[ignore]
fn l2_path_clocks_per_packet() {
    let mut rows = Vec::new();
    // L2_BENCH_HOSTS=<n> runs one case with n hosts per side (for profiling).
    let cases: Vec<u32> = match std::env::var("L2_BENCH_HOSTS") {
        Ok(v) => vec![v.parse().expect("L2_BENCH_HOSTS: a number")],
        Err(_) => vec![1, 50_000],
    };
    for n in cases {
        let c = run_case(n);
        rows.push((2 * n, c));
    }
    println!("MACs learned | l2-input | l2-learn | l2-fwd | l2-output | sum (clk/pkt)");
    for (n, c) in rows {
        println!(
            "{n:>12} | {:>8.1} | {:>8.1} | {:>6.1} | {:>9.1} | {:>5.1}",
            c[0],
            c[1],
            c[2],
            c[3],
            c.iter().sum::<f64>()
        );
    }
}
