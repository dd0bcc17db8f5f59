//! The walking skeleton end to end: pg streams through the real engine, CLI output by content.

use pwire_testkit::{read_pcap, Harness};
use pwire_tests::udp_frame;
use std::time::Duration;

fn frames(n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            let mut f = udp_frame([2, 0, 0, 0, 0, 2], [2, 0, 0, 0, 0, 1], i as u8);
            f.extend(std::iter::repeat_n(i as u8, i % 200));
            f
        })
        .collect()
}

fn setup(h: &mut Harness) {
    assert_eq!(h.cli("create packet-generator interface pg0"), "pg0\n");
    assert_eq!(h.cli("create packet-generator interface pg1"), "pg1\n");
    h.cli("set interface state pg0 up");
    h.cli("set interface state pg1 up");
    h.cli("test forward pg1");
}

#[test]
fn pcap_in_pg0_comes_out_pg1_byte_identical() {
    let mut h = Harness::new();
    setup(&mut h);
    let input = frames(1000);
    let inp = h.pcap("in.pcap", 1, &input);
    let out = h.path("out.pcap");
    h.cli(&format!(
        "packet-generator capture pg1 pcap {}",
        out.display()
    ));
    h.cli(&format!(
        "packet-generator new {{ name s0 limit 1000 interface pg0 node test-forward pcap {} }}",
        inp.display()
    ));
    h.run_streams();
    let got = read_pcap(&out);
    assert_eq!(got.len(), input.len(), "every packet comes out");
    assert_eq!(got, input, "byte-identical, in order");
    h.assert_all_free();
    // Counters by content: pg0 rx, pg1 tx.
    let si = h.cli("show interface");
    let pg0 = si
        .lines()
        .skip_while(|l| !l.starts_with("pg0 "))
        .take(2)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        pg0.contains("rx packets") && pg0.contains("1000"),
        "pg0 rx counted:\n{si}"
    );
    let pg1 = si
        .lines()
        .skip_while(|l| !l.starts_with("pg1 "))
        .take(3)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        pg1.contains("tx packets") && pg1.contains("1000"),
        "pg1 tx counted:\n{si}"
    );
    assert!(si.lines().next().unwrap().contains("MTU (L3/IP4/IP6/MPLS)"));
    assert!(si.contains("local0"), "local0 listed");
}

#[test]
fn runtime_errors_and_trace_by_content() {
    let mut h = Harness::new();
    setup(&mut h);
    let inp = h.pcap("in.pcap", 1, &frames(300));
    h.cli(&format!(
        "packet-generator new {{ name s0 limit 300 interface pg0 node test-forward pcap {} }}",
        inp.display()
    ));
    h.cli("trace add pg-input 3");
    h.run_streams();
    let rt = h.cli("show runtime");
    assert!(
        rt.contains("Packet-Clocks") && rt.contains("Vectors/Call"),
        "{rt}"
    );
    for node in ["pg-input", "test-forward", "interface-output", "pg-tx"] {
        let line = rt
            .lines()
            .find(|l| l.starts_with(node))
            .unwrap_or_else(|| panic!("{node} missing:\n{rt}"));
        let cols: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(cols[3], "300", "{node} vectors: {line}");
    }
    let tr = h.cli("show trace");
    assert!(tr.contains("Start of thread 0 vpp_main"), "{tr}");
    assert_eq!(
        tr.matches("\nPacket ").count() + tr.starts_with("Packet ") as usize,
        3,
        "three packets traced:\n{tr}"
    );
    for node in ["pg-input", "test-forward", "interface-output", "pg-tx"] {
        if node == "test-forward" || node == "pg-tx" {
            continue; // no trace records of their own
        }
        assert!(
            tr.contains(&format!(": {node}\n")),
            "{node} in trace:\n{tr}"
        );
    }
    assert!(
        tr.contains("stream 0, 60 bytes, sw_if_index 1"),
        "pg trace text:\n{tr}"
    );
    h.cli("clear trace");
    assert!(h.cli("show trace").contains("No packets in trace buffer"));
    // An interface that is down: drops counted by name in show errors.
    h.cli("set interface state pg1 down");
    h.cli("packet-generator enable-stream s0");
    h.wait_streams(Duration::from_secs(10));
    assert_eq!(h.counter("interface-output", "interface is down"), 300);
    let er = h.cli("show errors");
    let line = er
        .lines()
        .find(|l| l.contains("interface is down"))
        .expect(&er);
    assert!(
        line.trim_start().starts_with("300")
            && line.contains("interface-output")
            && line.contains("error"),
        "{line}"
    );
    h.cli("clear errors");
    assert!(!h.cli("show errors").contains("interface is down"));
    h.cli("clear runtime");
    assert!(!h.cli("show runtime").contains("pg-tx"), "cleared");
    h.assert_all_free();
}

#[test]
fn cli_errors_name_the_token() {
    let mut h = Harness::new();
    assert_eq!(
        h.cli_err("set interface state pg7 up").trim(),
        "set interface state: unknown interface `pg7'"
    );
    assert_eq!(
        h.cli_err("show frobnicate").trim(),
        "show: unknown input `frobnicate'"
    );
    assert!(h
        .cli_err("trace add pg-tx 10")
        .contains("doesn't support per-node tracing"));
    assert!(h.cli("sh int").contains("local0"), "unique prefixes");
    assert!(h
        .cli("show node error-drop")
        .contains("node error-drop, type internal"));
    assert!(h.cli("show version").starts_with("pwire v"));
    let b = h.cli("show buffers");
    assert!(b.contains("default-numa-0") && b.contains("heap"), "{b}");
    let t = h.cli("show threads");
    assert!(t.contains("vpp_main"), "{t}");
}

#[test]
fn two_workers_forward_and_state_changes_under_traffic() {
    let mut h = Harness::with("cpu { workers 2 }", &[]);
    setup(&mut h);
    let input = frames(50);
    let inp = h.pcap("in.pcap", 1, &input);
    let out = h.path("out.pcap");
    h.cli(&format!(
        "packet-generator capture pg1 pcap {}",
        out.display()
    ));
    // One stream per worker, rate-limited so that state changes land while traffic flows.
    for w in 0..2 {
        h.cli(&format!(
            "packet-generator new {{ name s{w} limit 20000 rate 100000 worker {w} interface pg0 node test-forward pcap {} }}",
            inp.display()
        ));
    }
    h.cli("packet-generator enable-stream");
    // Change shared state (admin state of an unrelated interface, MTU of pg1) while the workers
    // forward: every change parks them at the barrier; nothing may be lost.
    h.cli("create packet-generator interface pg2");
    let mut changes = 0;
    let t0 = std::time::Instant::now();
    while t0.elapsed() < Duration::from_secs(10) {
        let pg = h.cli("show packet-generator");
        if !pg.lines().skip(1).any(|l| l.contains(" Yes ")) {
            break;
        }
        h.cli(if changes % 2 == 0 {
            "set interface state pg2 up"
        } else {
            "set interface state pg2 down"
        });
        h.cli(&format!(
            "set interface mtu packet {} pg1",
            1500 + changes % 100
        ));
        changes += 1;
        h.run_for(Duration::from_millis(1));
    }
    h.wait_streams(Duration::from_secs(10));
    assert!(
        changes > 10,
        "state changed under traffic ({changes} times)"
    );
    let got = read_pcap(&out);
    assert_eq!(
        got.len(),
        40000,
        "no packet lost across {changes} barrier syncs"
    );
    let th = h.cli("show threads");
    assert!(th.contains("vpp_wk_0") && th.contains("vpp_wk_1"), "{th}");
    let rt = h.cli("show runtime");
    assert!(
        rt.contains("Thread 1 vpp_wk_0") && rt.contains("Thread 2 vpp_wk_1"),
        "{rt}"
    );
    h.dp.shutdown();
    h.assert_all_free();
}

#[test]
fn full_registration_list_builds_and_resolves_every_name() {
    let cfg = pwire_config::parse_str("t.conf", "").unwrap();
    std::env::set_var("PWIRE_NO_HUGEPAGES", "1");
    let dp = pwire_vnet::Dataplane::build(
        cfg,
        &pwire::registrations(&pwire_config::parse_str("t", "").unwrap()),
    )
    .expect("every next name resolves");
    let g = &dp.vnet.engine().graph;
    for n in &g.nodes {
        assert_eq!(n.nexts.len(), n.next_targets.len(), "{}", n.name);
        for (name, &t) in n.nexts.iter().zip(&n.next_targets) {
            assert_eq!(&g.nodes[t as usize].name, name);
        }
    }
    for must in [
        "error-drop",
        "interface-output",
        "pg-input",
        "pg-tx",
        "ethernet-input",
        "ip6-input",
        "ip6-lookup",
        "ip6-local",
        "ip6-rewrite",
        "l2-input",
        "l2-learn",
        "l2-fwd",
        "l2-flood",
        "l2-output",
        "l2tp-decap",
        "l2tp-decap-local",
        "l2tp-encap",
    ] {
        assert!(g.node_index(must).is_some(), "{must} registered");
    }
}

/// `cpu { scheduler-policy <p> [scheduler-priority <n>] }` is the workers' scheduling policy,
/// as in VPP; without it they keep the process's (SCHED_OTHER here).
#[test]
fn workers_take_the_scheduler_policy() {
    for (conf, want) in [
        ("", libc::SCHED_OTHER),
        ("scheduler-policy batch", libc::SCHED_BATCH),
        (
            "scheduler-policy idle scheduler-priority 7",
            libc::SCHED_IDLE,
        ),
    ] {
        let h = Harness::with(&format!("cpu {{ workers 1 {conf} }}"), &[]);
        let t = &h.dp.vnet.engine().threads[1];
        let t0 = std::time::Instant::now();
        // The worker records its thread id when its loop starts.
        let tid = loop {
            let tid = t.lwp.load(std::sync::atomic::Ordering::Relaxed);
            if tid != 0 || t0.elapsed() > Duration::from_secs(5) {
                break tid;
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        assert_ne!(tid, 0, "{conf}: the worker did not start");
        // SAFETY: a query about thread `tid`, no pointers.
        let got = unsafe { libc::sched_getscheduler(tid as libc::pid_t) };
        assert_eq!(got, want, "{conf}");
    }
}

/// `cpu { relative }`: main-core and corelist-workers index the CPUs the process may run on
/// (its affinity mask), as in VPP; without it they are CPU numbers and must be among them.
#[test]
fn relative_cpu_numbers_index_the_affinity_mask() {
    let place = |conf: &str| {
        let cfg = pwire_config::parse_str("t.conf", conf).expect("parses");
        pwire_vnet::dataplane::place_threads(&cfg)
    };
    let n = std::thread::available_parallelism().map_or(1, |n| n.get());
    if n < 2 {
        eprintln!("skipped: one CPU, so a smaller affinity mask cannot be told apart");
        return;
    }
    // A thread allowed only the last CPU: relative 0 is that CPU; absolute 0 is not allowed.
    let last = n - 1;
    let r = std::thread::spawn(move || {
        assert!(pwire_graph::runtime::pin_current_thread(last).is_ok());
        (
            place("cpu { main-core 0 relative }"),
            place("cpu { main-core 0 corelist-workers 0 relative }"),
            place("cpu { main-core 0 }"),
            place("cpu { main-core 1 relative }"),
        )
    })
    .join()
    .unwrap();
    assert_eq!(r.0, Ok((Some(last), vec![])));
    assert_eq!(r.1, Ok((Some(last), vec![Some(last)])));
    let e = r.2.expect_err("CPU 0 is outside the mask");
    assert!(e.contains("main-core 0 is not an online CPU"), "{e}");
    let e = r.3.expect_err("only one CPU in the mask");
    assert!(
        e.contains("main-core 1 (relative) is past the 1 CPUs"),
        "{e}"
    );
}
