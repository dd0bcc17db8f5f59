//! ip6 forwarding cost, as `show runtime` reports it (not a CI test: it only prints figures).
//!
//! `cargo test --release -p pwire-node-ip6 --test bench -- --ignored --nocapture`
//!
//! A pg stream of 1M IPv6 packets enters at `ip6-input` on pg0 and is forwarded through
//! `ip6-lookup` and `ip6-rewrite` out of pg1, once with 1 route and once with 100k /64 routes
//! (the destinations then spread over 4096 of them, so the lookups touch many table slots), and
//! once with a single destination that is the neighbour itself (a /128 adjacency entry, the
//! case VPP's own encap figure measures).

use pwire_testkit::Harness;
use std::time::Duration;

const PACKETS: u64 = 1_000_000;

fn udp_packet(dst: std::net::Ipv6Addr) -> Vec<u8> {
    let src: std::net::Ipv6Addr = "fd00::2".parse().unwrap();
    let mut u = vec![0x04, 0xd2, 0x16, 0x2e, 0, 32, 0, 0];
    u.extend_from_slice(&[0x5a; 24]);
    let c = pwire_wire::checksum::ip6_pseudo_checksum(src, dst, u.len() as u32, 17, &u);
    u[6..8].copy_from_slice(&c.to_be_bytes());
    let mut p = vec![0u8; 40];
    let (h, _) = pwire_wire::Ip6Hdr::parse_mut(&mut p).unwrap();
    h.set_default(u.len() as u16, 17, 64, src, dst);
    p.extend_from_slice(&u);
    p
}

fn run(routes: u32, to_neighbour: bool) {
    let mut h = Harness::with(
        "buffers { buffers-per-numa 32768 }",
        &[pwire_node_ethernet::register, pwire_node_ip6::register],
    );
    for l in [
        "create packet-generator interface pg0",
        "create packet-generator interface pg1",
        "set interface state pg0 up",
        "set interface state pg1 up",
        "set interface ip address pg0 fd00::1/64",
        "set interface ip address pg1 fd01::1/64",
        "set ip neighbor pg1 fd01::2 02:00:00:00:01:02 static",
    ] {
        h.cli(l);
    }
    let t0 = std::time::Instant::now();
    let dsts: Vec<std::net::Ipv6Addr> = if routes == 1 {
        h.cli("ip route add 2001:db8::/32 via fd01::2 pg1");
        (0..4096u32)
            .map(|i| std::net::Ipv6Addr::new(0x2001, 0xdb8, 0, i as u16, 0, 0, 0, 1))
            .collect()
    } else {
        for n in 0..routes {
            h.cli(&format!(
                "ip route add 2001:db8:{:x}:{:x}::/64 via fd01::2 pg1",
                n >> 16,
                n & 0xffff
            ));
        }
        (0..4096u32)
            .map(|i| {
                let n = i * (routes / 4096);
                std::net::Ipv6Addr::new(0x2001, 0xdb8, (n >> 16) as u16, n as u16, 0, 0, 0, 1)
            })
            .collect()
    };
    let setup = t0.elapsed();
    let dsts = if to_neighbour {
        vec!["fd01::2".parse().unwrap()]
    } else {
        dsts
    };
    let pkts: Vec<Vec<u8>> = dsts.into_iter().map(udp_packet).collect();
    let p = h.pcap("bench.pcap", 101, &pkts);
    h.cli(&format!("packet-generator new {{ name bench limit {PACKETS} interface pg0 node ip6-input pcap {} }}", p.display()));
    h.cli("clear runtime");
    h.cli("packet-generator enable-stream bench");
    h.wait_streams(Duration::from_secs(300));
    let rt = h.cli("show runtime");
    let fwd = h.cli("show interface pg1");
    let what = if to_neighbour {
        "1 destination, the neighbour's /128".to_string()
    } else {
        format!("{} destinations", pkts.len())
    };
    println!("=== {routes} route(s), {what} ({PACKETS} packets, routes added in {setup:.2?})");
    for l in rt.lines() {
        if l.starts_with("Name")
            || [
                "pg-input",
                "ip6-input",
                "ip6-lookup",
                "ip6-rewrite",
                "interface-output",
                "pg-tx",
            ]
            .iter()
            .any(|n| l.starts_with(&format!("{n} ")))
        {
            println!("{l}");
        }
    }
    let tx = fwd
        .lines()
        .find(|l| l.contains("tx packets"))
        .unwrap_or("no tx");
    println!("pg1 {}", tx.trim());
    assert!(
        tx.trim_end().ends_with(&PACKETS.to_string()),
        "every packet forwarded: {fwd}"
    );
    h.assert_all_free();
}

#[test]
#[ignore = "prints performance figures; run in a release build"]
fn ip6_forwarding_clocks_per_packet() {
    run(1, true);
    run(1, false);
    run(100_000, false);
}
