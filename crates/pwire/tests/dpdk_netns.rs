//! DPDK end to end (feature `dpdk`): pwire processes whose ports are `net_af_packet` vdevs on
//! veths in network namespaces.
//!
//! - `two_node_pseudowire_over_dpdk`: scripts/netns.sh's two-node L2TPv3 topology with
//!   `PW_DPDK=1` (both pwire use DPDK on both of their ports): ping both ways, a bounded TCP
//!   transfer checked by digest, then every port stopped and every buffer (= every mbuf) free.
//! - `two_workers_poll_their_own_queue`: one port with `qpairs=2`, two workers; UDP flows from
//!   the kernel side spread over both queues (PACKET_FANOUT hash) and each worker's
//!   `dpdk-input` receives; `set interface rx-placement` moves queue 1 to worker 0.
//!
//! Needs root, iproute2, ping and python3 (CI has them): fails without them as root or in CI,
//! skips saying why elsewhere (pwire_testkit::prereq).
//! Every wait is bounded; namespaces and processes are removed on drop.

#![cfg(feature = "dpdk")]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use pwire_cli::Client;
use pwire_testkit::netns::{netns_sh, ping, prerequisites, tcp_transfer, NsPwire};
use pwire_testkit::prereq::require;
use pwire_testkit::TempDir;

/// The two tests share the machine's two CPUs badly: run them one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Takes the one-test-at-a-time lock and a temp dir; None (the test returns) when this
/// machine cannot run the namespace tests and may skip them (pwire_testkit::prereq).
fn setup(tag: &str) -> Option<(MutexGuard<'static, ()>, TempDir)> {
    let g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    require(prerequisites(&["python3"]))?;
    Some((g, TempDir::new(tag)))
}

/// One line to a pwire CLI socket; returns (ok, output). A failed connection or a reply cut
/// short is (false, the error).
fn cli(sock: &Path, line: &str) -> (bool, String) {
    match Client::connect(sock, Some(Duration::from_secs(20))).and_then(|mut c| c.cmd(line)) {
        Ok((out, ok)) => (ok, out),
        Err(e) => (false, format!("{}: {e}", sock.display())),
    }
}

/// The pwire binary of this package (built with `--features dpdk`) in a namespace.
struct Pwire(NsPwire);

impl Pwire {
    fn start(ns: &str, conf: &Path, sock: PathBuf) -> Pwire {
        Pwire(NsPwire::start(
            Path::new(env!("CARGO_BIN_EXE_pwire")),
            ns,
            conf,
            sock,
        ))
    }

    fn cli(&self, line: &str) -> String {
        let (ok, out) = cli(&self.0.sock, line);
        assert!(ok, "`{line}': {out}");
        out
    }
}

fn sh(prefix: &str, script: &str) -> std::process::Output {
    netns_sh(&root(), prefix, &[("PW_DPDK", "1")], script)
}

/// scripts/netns.sh's namespaces under `prefix`, removed on drop.
struct Netns(String);

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = sh(&self.0, "netns_down");
    }
}

/// `free N of M` from `show buffers` must have N == M, and the mempool must have nothing out.
fn assert_no_leak(p: &Pwire, what: &str) {
    let t0 = Instant::now();
    loop {
        let b = p.cli("show buffers");
        let d = p.cli("show dpdk buffer");
        let line = b
            .lines()
            .find(|l| l.trim_start().starts_with("free "))
            .unwrap_or("");
        let w: Vec<&str> = line.split_whitespace().collect();
        let all_free = w.len() > 3 && w[1] == w[3];
        if all_free && d.contains("allocated =       0") {
            return;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "{what}: buffers or mbufs leaked:\n{b}{d}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn two_node_pseudowire_over_dpdk() {
    let Some((_g, dir)) = setup("dpdk-e2e") else {
        return;
    };
    let dir = dir.path();
    let prefix = format!("pwd{}-", std::process::id());
    let o = sh(&prefix, "netns_up");
    let _ns = Netns(prefix.clone());
    assert!(
        o.status.success(),
        "netns_up: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    for side in ["a", "b"] {
        let o = sh(&prefix, &format!("pwire_conf {} {side}", dir.display()));
        assert!(o.status.success());
    }
    let a = Pwire::start(
        &format!("{prefix}a"),
        &dir.join("startup-a.conf"),
        dir.join("cli-a.sock"),
    );
    let b = Pwire::start(
        &format!("{prefix}b"),
        &dir.join("startup-b.conf"),
        dir.join("cli-b.sock"),
    );
    let (h1, h2) = (format!("{prefix}h1"), format!("{prefix}h2"));
    let t0 = Instant::now();
    while ping(&h1, "10.1.1.2", 1).0 != 1 {
        assert!(
            t0.elapsed() < Duration::from_secs(15),
            "first ping across the tunnel\nA:\n{}\nB:\n{}",
            a.cli("show errors"),
            b.cli("show errors")
        );
    }
    assert_eq!(ping(&h1, "10.1.1.2", 10).0, 10, "h1 -> h2");
    assert_eq!(ping(&h2, "10.1.1.1", 10).0, 10, "h2 -> h1");
    let hw = a.cli("show hardware-interfaces verbose net_af_packet1");
    assert!(hw.contains("driver name: net_af_packet"), "{hw}");
    let mbps = tcp_transfer(&h1, &h2, 8 << 20);
    eprintln!("TCP over DPDK net_af_packet + L2TPv3: {mbps:.1} Mbit/s");
    for (p, side) in [(&a, "A"), (&b, "B")] {
        let e = p.cli("show errors");
        assert!(!e.contains("multi-segment"), "{side}: {e}");
        p.cli("set interface state net_af_packet0 down");
        p.cli("set interface state net_af_packet1 down");
        assert_no_leak(p, side);
    }
    drop((a, b));
}

/// Per-thread `dpdk-input` vectors from `show runtime`.
fn input_vectors(rt: &str) -> Vec<u64> {
    let mut v = Vec::new();
    for l in rt.lines() {
        if l.starts_with("Thread ") {
            v.push(0);
        }
        let w: Vec<&str> = l.split_whitespace().collect();
        if w.first() == Some(&"dpdk-input") {
            if let (Some(last), Some(n)) = (v.last_mut(), w.get(3).and_then(|x| x.parse().ok())) {
                *last = n;
            }
        }
    }
    v
}

fn udp_flows(ns: &str, n: u32) {
    let o = Command::new("ip")
        .args(["netns", "exec", ns, "timeout", "30", "python3", "-c"])
        .arg(format!(
            "import socket\n\
             for i in range({n}):\n \
             s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.bind(('192.0.2.2',20000+i))\n \
             for _ in range(4): s.sendto(b'x'*64,('192.0.2.1',9))\n \
             s.close()"
        ))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn two_workers_poll_their_own_queue() {
    let Some((_g, dir)) = setup("dpdk-mq") else {
        return;
    };
    let dir = dir.path();
    let ns = format!("pwq{}", std::process::id());
    let run = |args: &[&str]| {
        let o = Command::new("ip").args(args).output().unwrap();
        assert!(
            o.status.success(),
            "ip {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    };
    run(&["netns", "add", &ns]);
    struct Del(String);
    impl Drop for Del {
        fn drop(&mut self) {
            let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
        }
    }
    let _del = Del(ns.clone());
    run(&[
        "-n", &ns, "link", "add", "q0", "type", "veth", "peer", "name", "q1",
    ]);
    run(&["-n", &ns, "link", "set", "q0", "up"]);
    run(&["-n", &ns, "link", "set", "q1", "up"]);
    run(&["-n", &ns, "addr", "add", "192.0.2.2/24", "dev", "q1"]);
    // Static neighbour: the flows leave without waiting for ARP that pwire will not answer.
    run(&[
        "-n",
        &ns,
        "neigh",
        "add",
        "192.0.2.1",
        "lladdr",
        "02:00:00:00:00:01",
        "dev",
        "q1",
    ]);
    let conf = dir.join("startup.conf");
    std::fs::write(
        &conf,
        format!(
            "unix {{ nodaemon cli-listen {d}/cli.sock }}\n\
             cpu {{ workers 2 }}\n\
             dpdk {{ no-huge no-pci log-level error dev default {{ num-rx-queues 2 }}\n\
                     vdev net_af_packet0,iface=q0,qpairs=2 }}\n",
            d = dir.display()
        ),
    )
    .unwrap();
    let p = Pwire::start(&ns, &conf, dir.join("cli.sock"));
    let rxp = p.cli("show interface rx-placement");
    assert!(
        rxp.contains(
            "Thread 1 (vpp_wk_0):\n  node dpdk-input:\n    net_af_packet0 queue 0 (polling)"
        ) && rxp.contains(
            "Thread 2 (vpp_wk_1):\n  node dpdk-input:\n    net_af_packet0 queue 1 (polling)"
        ),
        "{rxp}"
    );
    p.cli("set interface state net_af_packet0 up");
    std::thread::sleep(Duration::from_millis(300));
    p.cli("clear runtime");
    udp_flows(&ns, 64);
    std::thread::sleep(Duration::from_millis(300));
    let rt = p.cli("show runtime");
    let v = input_vectors(&rt);
    assert!(
        v.len() == 3 && v[1] > 0 && v[2] > 0,
        "both workers receive: {v:?}\n{rt}"
    );
    eprintln!("dpdk-input vectors per thread (main, wk0, wk1): {v:?}");

    // Queue 1 to worker 0: now worker 0 gets everything.
    p.cli("set interface rx-placement net_af_packet0 queue 1 worker 0");
    let rxp = p.cli("show interface rx-placement");
    assert!(
        rxp.contains("net_af_packet0 queue 0 (polling)\n    net_af_packet0 queue 1 (polling)")
            && !rxp.contains("Thread 2"),
        "{rxp}"
    );
    let (ok, e) = cli(
        &p.0.sock,
        "set interface rx-placement net_af_packet0 queue 2 worker 0",
    );
    assert!(!ok && e.contains("queue 2 does not exist"), "{e}");
    p.cli("clear runtime");
    udp_flows(&ns, 64);
    std::thread::sleep(Duration::from_millis(300));
    let rt = p.cli("show runtime");
    let v = input_vectors(&rt);
    assert!(
        v.len() == 3 && v[1] > 0 && v[2] == 0,
        "only worker 0: {v:?}\n{rt}"
    );
    p.cli("set interface state net_af_packet0 down");
    assert_no_leak(&p, "two workers");
    drop(p);
}
