//! Caps on what input can make pwire store: L2TPv3 sessions (`l2tp { max-sessions }`), learned
//! MACs (`l2learn { limit }`, `set bridge-domain learn-limit`) and IPv6 neighbours
//! (`set ip neighbor-config ip6 limit`). Each has a sane default and, when reached, a named error
//! (CLI) or counter (dataplane); nothing over the cap is stored.

use pwire_testkit::Harness;
use pwire_tests::{features, ns_frame, udp_frame};
use std::net::Ipv6Addr;
use std::time::Duration;

const PG0_MAC: [u8; 6] = [0x02, 0xfe, 0, 0, 0, 0];

fn a(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

#[test]
fn session_cap_from_startup_conf_refuses_one_more_and_frees_on_delete() {
    let mut h = Harness::with("l2tp { lookup-session-id max-sessions 3 }", &features());
    h.cli("create packet-generator interface pg0");
    h.cli("set interface ip address pg0 fd00::1/64");
    let create = |sid: u32| {
        format!("create l2tpv3 tunnel client fd00::2 our fd00::1 local-session-id {sid} remote-session-id {sid}")
    };
    for sid in 1..=3 {
        assert!(h.cli(&create(sid)).starts_with("l2tpv3_tunnel"));
    }
    let ifs_before = h.cli("show interface").lines().count();
    let e = h.cli_err(&create(4));
    assert!(e.contains("session limit reached (3"), "{e}");
    assert_eq!(
        h.cli("show interface").lines().count(),
        ifs_before,
        "a refused session leaves no interface behind"
    );
    assert!(h.cli("show l2tpv3").starts_with("3 l2tp sessions"));
    // Deleting one makes room again.
    h.cli(&format!("{} del", create(2)));
    assert!(h.cli(&create(4)).starts_with("l2tpv3_tunnel"));
    let e = h.cli_err(&create(5));
    assert!(e.contains("session limit reached (3"), "{e}");
}

#[test]
fn session_cap_config_errors_name_the_token() {
    for (conf, want) in [
        (
            "l2tp {\n  max-sessions 0\n}\n",
            "t.conf:2:16: `max-sessions' must be between 1 and 16777216, got `0'",
        ),
        (
            "l2tp { max-sessions lots }",
            "t.conf:1:21: expected a number for `max-sessions', got `lots'",
        ),
        (
            "l2learn { limit }",
            "t.conf:1:11: missing value for `limit'",
        ),
        ("l2learn { size 3 }", "t.conf:1:11: unknown input `size'"),
    ] {
        let e = pwire_config::parse_str("t.conf", conf)
            .expect_err(conf)
            .to_string();
        assert!(e.starts_with(want), "{conf}: {e}");
    }
    // The defaults: VPP's learn limit; a session cap well below what memory allows.
    let c = pwire_config::parse_str("t.conf", "").unwrap();
    assert_eq!((c.l2tp.max_sessions, c.l2learn.limit), (None, None));
    let mut h = Harness::with("", &features());
    assert!(h
        .cli("show ip neighbor-config")
        .contains("limit:50000, age:0, recycle:0"));
}

#[test]
fn mac_cap_from_l2learn_section_counts_what_it_refuses() {
    let mut h = Harness::with("l2learn { limit 5 }", &features());
    for l in [
        "create packet-generator interface pg0",
        "create packet-generator interface pg1",
        "set interface state pg0 up",
        "set interface state pg1 up",
        "set interface l2 bridge pg0 1",
        "set interface l2 bridge pg1 1",
    ] {
        h.cli(l);
    }
    let frames: Vec<Vec<u8>> = (0..20u8)
        .map(|i| udp_frame([0xff; 6], [0x02, 0, 0, 0, 9, i], i))
        .collect();
    let out = h.capture("pg1");
    h.send("macs", "pg0", "ethernet-input", &frames);
    h.run_for(Duration::from_millis(100));
    assert_eq!(h.captured("pg1", &out).len(), 20, "forwarding goes on");
    let fib = h.cli("show l2fib");
    assert!(fib.contains("L2FIB total/learned entries: 5/5"), "{fib}");
    assert!(fib.contains("Learn limit: 5 "), "{fib}");
    assert_eq!(h.counter("l2-learn", "L2 not learned due to limit"), 15);
    assert!(h.cli("show errors").contains("L2 not learned due to limit"));
    // The per-BD limit applies under the global one.
    h.cli("clear l2fib");
    h.cli("set bridge-domain learn-limit 1 2");
    h.send("macs2", "pg0", "ethernet-input", &frames);
    h.run_for(Duration::from_millis(100));
    let fib = h.cli("show l2fib");
    assert!(fib.contains("L2FIB total/learned entries: 2/2"), "{fib}");
    assert_eq!(
        h.counter("l2-learn", "L2 not learned due to limit"),
        15 + 18
    );
    h.assert_all_free();
}

#[test]
fn neighbour_cap_refuses_cli_adds_and_counts_learned_ones() {
    let mut h = Harness::with("", &features());
    h.cli("create packet-generator interface pg0 hw-addr 02:fe:00:00:00:00");
    h.cli("set interface ip address pg0 fd00::1/64");
    h.cli("set interface state pg0 up");
    h.cli("set ip neighbor-config ip6 limit 4");
    assert!(h
        .cli("show ip neighbor-config")
        .contains("ip6:\n  limit:4, age:0, recycle:0"));
    for i in 2..=4 {
        h.cli(&format!(
            "set ip neighbor pg0 fd00::{i} 02:00:00:00:00:0{i} static"
        ));
    }
    // Learned from an NS: the fourth neighbour.
    h.send(
        "ns1",
        "pg0",
        "ethernet-input",
        &[ns_frame(
            PG0_MAC,
            [2, 0, 0, 0, 1, 0x10],
            a("fd00::10"),
            a("fd00::1"),
        )],
    );
    h.run_for(Duration::from_millis(50));
    let n = h.cli("show ip neighbors");
    assert!(n.contains("fd00::10"), "{n}");
    // Full: a CLI add names the address and the limit; an update of an existing one works.
    let e = h.cli_err("set ip neighbor pg0 fd00::5 02:00:00:00:00:05 static");
    assert!(
        e.ends_with("neighbor limit reached (4): not adding fd00::5"),
        "{e}"
    );
    h.cli("set ip neighbor pg0 fd00::2 02:00:00:00:00:22 static");
    // Learning more is refused and counted, one count per refused neighbour.
    let ns: Vec<Vec<u8>> = (0x20..0x2au8)
        .map(|i| {
            ns_frame(
                PG0_MAC,
                [2, 0, 0, 0, 1, i],
                a(&format!("fd00::{i:x}")),
                a("fd00::1"),
            )
        })
        .collect();
    h.send("ns2", "pg0", "ethernet-input", &ns);
    h.run_for(Duration::from_millis(50));
    assert_eq!(
        h.counter("ip6-icmp-input", "neighbors not learned due to limit"),
        10
    );
    let rows = h
        .cli("show ip neighbors")
        .lines()
        .filter(|l| l.contains("fd00::"))
        .count();
    assert_eq!(rows, 4, "{}", h.cli("show ip neighbors"));
    // Raising the limit lets the next NS learn.
    h.cli("set ip neighbor-config ip6 limit 5");
    h.send("ns3", "pg0", "ethernet-input", &ns[..1]);
    h.run_for(Duration::from_millis(50));
    assert!(h.cli("show ip neighbors").contains("fd00::20"));
    // Errors name the offending word.
    assert!(h
        .cli_err("set ip neighbor-config ip6 limit 3 age 5")
        .contains("`age 5'"));
    assert!(h
        .cli_err("set ip neighbor-config ip9 limit 3")
        .contains("`ip9'"));
    h.assert_all_free();
}
