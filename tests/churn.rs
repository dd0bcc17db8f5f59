//! Churn under load: two workers forward pg traffic through stable L2TPv3 sessions (decap on
//! both workers, encap on one) while the main thread creates and deletes 3 000 tunnels, rolls
//! cookies, adds and removes bridge ports and routes, and deletes a session that has traffic.
//!
//! Holds: no crash; the stable sessions lose nothing (exact counts, both directions, across a
//! cookie rollover of one of them); the deleted session delivers nothing after its deletion
//! (every later packet is counted "l2tpv3 session not found"); `show buffers` shows nothing in
//! use at the end; the process RSS comes back to its pre-churn level within a bound.
//! `PWIRE_CHURN_TUNNELS` overrides the number of tunnels (default 3 000: with the barrier's
//! minimum open time every command lets both workers run an iteration, and two workers and the
//! main thread share this machine's two cores, so a command costs milliseconds here).

use pwire_testkit::Harness;
use pwire_tests::{features, l2tp_frame, pg_uplink, rss_kib, FF8, PEER_MAC, PG0_MAC};
use std::net::Ipv6Addr;
use std::time::{Duration, Instant};

/// RSS growth allowed after the churn, over the level after a warm-up round of the same churn.
const RSS_SLACK_KIB: u64 = 8 * 1024;

fn a(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

fn inner(tag: u8) -> Vec<u8> {
    let mut f = vec![
        0x02, 0, 0, 0, 0xbb, tag, 0x02, 0, 0, 0, 0xaa, tag, 0x88, 0xb5,
    ];
    f.extend(std::iter::repeat_n(tag, 46));
    f
}

fn decap_pkt(sid: u32, tag: u8) -> Vec<u8> {
    l2tp_frame(
        PG0_MAC,
        PEER_MAC,
        a("fd00::2"),
        a("fd00::1"),
        sid,
        &FF8,
        &inner(tag),
    )
}

/// `Count` of stream `name` in `show packet-generator`.
fn sent(h: &mut Harness, name: &str) -> u64 {
    let out = h.cli("show packet-generator");
    out.lines()
        .find(|l| l.split_whitespace().next() == Some(name))
        .and_then(|l| l.split_whitespace().nth(2))
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("stream {name} in {out}"))
}

fn tunnel(h: &mut Harness, sid: u32, rsid: u32) -> String {
    let n = h.cli(&format!(
        "create l2tpv3 tunnel client fd00::2 our fd00::1 local-session-id {sid} remote-session-id {rsid}"
    ));
    n.trim().to_string()
}

/// The churn: `n` tunnels created, brought up, bridged, some with cookies rolled and routes
/// added, then deleted (at most 32 alive at once). Returns the number of CLI operations.
fn churn(h: &mut Harness, first_sid: u32, n: u32, mut at: impl FnMut(&mut Harness, u32)) -> u64 {
    let mut ops = 0u64;
    let mut live: std::collections::VecDeque<(u32, String)> = Default::default();
    let mut routes: std::collections::VecDeque<u32> = Default::default();
    let mut pg5_bridged = false;
    for i in 0..n {
        at(h, i);
        let sid = first_sid + i;
        let name = tunnel(h, sid, sid);
        h.cli(&format!("set interface state {name} up"));
        h.cli(&format!("set interface l2 bridge {name} 4"));
        ops += 3;
        if i % 10 == 0 {
            h.cli(&format!(
                "set l2tpv3 tunnel cookie {name} local {:016x} remote {:016x}",
                u64::from(i) << 8 | 1,
                u64::from(i) << 8 | 2
            ));
            h.cli(&format!("ip route add 2001:db8:{i:x}::/64 via fd00::2"));
            routes.push_back(i);
            ops += 2;
        }
        if routes.len() > 16 {
            let r = routes.pop_front().unwrap();
            h.cli(&format!("ip route del 2001:db8:{r:x}::/64 via fd00::2"));
            ops += 1;
        }
        if i % 50 == 0 {
            // A port of the stable bridge 1 comes and goes.
            h.cli(if pg5_bridged {
                "set interface l3 pg5"
            } else {
                "set interface l2 bridge pg5 1"
            });
            pg5_bridged = !pg5_bridged;
            ops += 1;
        }
        live.push_back((sid, name));
        if live.len() > 32 {
            let (sid, name) = live.pop_front().unwrap();
            h.cli(&format!("set interface l3 {name}"));
            h.cli(&format!(
                "create l2tpv3 tunnel client fd00::2 our fd00::1 local-session-id {sid} remote-session-id {sid} del"
            ));
            ops += 2;
        }
        h.dp.run_once();
    }
    for (sid, _) in live {
        h.cli(&format!(
            "create l2tpv3 tunnel client fd00::2 our fd00::1 local-session-id {sid} remote-session-id {sid} del"
        ));
        ops += 1;
    }
    for r in routes {
        h.cli(&format!("ip route del 2001:db8:{r:x}::/64 via fd00::2"));
        ops += 1;
    }
    if pg5_bridged {
        h.cli("set interface l3 pg5");
        ops += 1;
    }
    ops
}

#[test]
fn churn_under_load_on_two_workers() {
    let n: u32 = std::env::var("PWIRE_CHURN_TUNNELS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3_000);
    let mut h = Harness::with("cpu { workers 2 }\nl2tp { lookup-session-id }", &features());
    pg_uplink(&mut h);
    for i in 1..=5 {
        h.cli(&format!("create packet-generator interface pg{i}"));
        h.cli(&format!("set interface state pg{i} up"));
    }
    // Stable: A (decap, bridge 1/pg1), B (decap, bridge 2/pg2), C (encap, bridge 3/pg3);
    // victim: D (decap, bridge 5/pg4), deleted mid-churn.
    for (sid, rsid, bd, pg) in [
        (10, 20, 1, 1),
        (11, 21, 2, 2),
        (12, 22, 3, 3),
        (13, 23, 5, 4),
    ] {
        let t = tunnel(&mut h, sid, rsid);
        h.cli(&format!("set interface state {t} up"));
        h.cli(&format!("set interface l2 bridge {t} {bd}"));
        h.cli(&format!("set interface l2 bridge pg{pg} {bd}"));
    }
    // Warm-up: the same churn once, so tables have grown to their working size before RSS is
    // taken as the baseline.
    churn(&mut h, 500_000, 1000, |_, _| {});
    let rss0 = rss_kib();

    let pa = h.pcap("a.pcap", 1, &[decap_pkt(10, 1)]);
    let pb = h.pcap("b.pcap", 1, &[decap_pkt(11, 2)]);
    let pd = h.pcap("d.pcap", 1, &[decap_pkt(13, 4)]);
    let pc = h.pcap("c.pcap", 1, &[inner(3)]);
    let rate = 20_000;
    for (name, w, iface, p) in [
        ("a", 0, "pg0", &pa),
        ("b", 1, "pg0", &pb),
        ("c", 1, "pg3", &pc),
        ("d", 0, "pg0", &pd),
    ] {
        h.cli(&format!(
            "packet-generator new {{ name {name} limit 0 rate {rate} worker {w} interface {iface} pcap {} }}",
            p.display()
        ));
    }
    let tx0 = [
        h.interface_counter("pg1", "tx packets"),
        h.interface_counter("pg2", "tx packets"),
        h.interface_counter("pg0", "tx packets"),
    ];
    h.cli("packet-generator enable-stream");
    let t0 = Instant::now();
    let mut d_at_delete = 0;
    let mut nf_at_delete = 0;
    let ops = churn(&mut h, 1_000_000, n, |h, i| {
        if i == n / 5 {
            // A cookie rollover on a stable session: the old cookie stays valid as previous.
            h.cli("set l2tpv3 tunnel cookie l2tpv3_tunnel0 local 1111111111111111 remote ffffffffffffffff");
        }
        if i == n / 2 {
            // Before: nothing is "not found" yet that the accounting below would lose.
            nf_at_delete = h.counter("l2tp-decap-local", "l2tpv3 session not found");
            h.cli("create l2tpv3 tunnel client fd00::2 our fd00::1 local-session-id 13 remote-session-id 23 del");
            // After: the workers were parked with no frame in flight, so this is final.
            d_at_delete = h.interface_counter("pg4", "tx packets");
        }
    });
    let churn_time = t0.elapsed();
    h.cli("packet-generator disable-stream");
    // Drain: workers finish what is in flight.
    h.run_for(Duration::from_millis(300));
    let s = ["a", "b", "c", "d"].map(|x| sent(&mut h, x));
    let got = [
        h.interface_counter("pg1", "tx packets") - tx0[0],
        h.interface_counter("pg2", "tx packets") - tx0[1],
        h.interface_counter("pg0", "tx packets") - tx0[2],
    ];
    let d_final = h.interface_counter("pg4", "tx packets");
    let nf = h.counter("l2tp-decap-local", "l2tpv3 session not found");
    let cookie = h.counter("l2tp-decap-local", "l2tpv3 local cookie mismatches");
    eprintln!(
        "churn: {n} tunnels, {ops} CLI operations in {churn_time:?} under load; sent a={} b={} c={} d={}; \
         delivered a={} b={} c(encap)={}; d before/after delete {d_at_delete}/{d_final}, not found {nf}",
        s[0], s[1], s[2], s[3], got[0], got[1], got[2]
    );
    assert!(
        s.iter().all(|&x| x > 1000),
        "traffic flowed during the churn"
    );
    assert_eq!(got[0], s[0], "stable session A lost packets");
    assert_eq!(got[1], s[1], "stable session B lost packets");
    assert_eq!(got[2], s[2], "stable session C (encap) lost packets");
    assert_eq!(cookie, 0, "no cookie mismatch across the rollover");
    // The victim: nothing delivered once its deletion returned (a barrier leaves no frame in
    // flight), and what it delivered plus what was refused afterwards is what was sent.
    assert_eq!(
        d_final, d_at_delete,
        "deleted session kept delivering: {d_at_delete} -> {d_final}"
    );
    assert_eq!(d_final + (nf - nf_at_delete), s[3], "victim accounting");
    assert!(h.cli("show l2tpv3").starts_with("3 l2tp sessions"));
    let bufs = h.cli("show buffers");
    let used: u64 = bufs
        .lines()
        .find(|l| l.starts_with("default-numa-0"))
        .and_then(|l| l.split_whitespace().nth(8))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{bufs}"));
    assert_eq!(used, 0, "buffers in use after the churn:\n{bufs}");
    let rss1 = rss_kib();
    eprintln!(
        "churn: RSS {rss0} KiB before, {rss1} KiB after (+{} KiB)",
        rss1.saturating_sub(rss0)
    );
    assert!(
        rss1 <= rss0 + RSS_SLACK_KIB,
        "RSS grew by {} KiB over {n} tunnels",
        rss1 - rss0
    );
    h.dp.shutdown();
    h.assert_all_free();
}
