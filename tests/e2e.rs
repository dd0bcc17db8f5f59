//! The two-node L2TPv3 pseudowire end to end, as scripts/demo.sh builds it: two `pwire`
//! processes in network namespaces joined by a veth (fd00::1 — fd00::2), a host behind each
//! (10.1.1.1, 10.1.1.2), a ping and a TCP transfer across the tunnel, and the failure cases an
//! operator meets: a cookie mismatch, a tunnel deleted and re-created, a pwire restarted.
//! Needs root, iproute2, ping and python3: fails without them as root or in CI, skips saying
//! why elsewhere (pwire_testkit::prereq).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use pwire_testkit::netns::{netns_sh, ping, prerequisites, tcp_transfer, NsPwire};
use pwire_testkit::prereq::require;
use pwire_tests::{bin, ensure_built};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The topology of scripts/netns.sh under a prefix of its own; deleted on drop.
struct Topo {
    /// netns.sh's PW_UNDERLAY / PW_ENCAP / PW_HOST_OFFLOAD for this topology.
    env: Vec<(&'static str, &'static str)>,
    prefix: String,
    dir: pwire_testkit::TempDir,
    procs: [Option<NsPwire>; 2],
}

impl Topo {
    fn sh(&self, script: &str) -> std::process::Output {
        netns_sh(&root(), &self.prefix, &self.env, script)
    }

    fn new() -> Topo {
        Topo::with(&[], "pwe")
    }

    /// The topology with netns.sh variables `env`, namespaces named `<tag><pid>-*`.
    fn with(env: &[(&'static str, &'static str)], tag: &str) -> Topo {
        let t = Topo {
            env: env.to_vec(),
            prefix: format!("{tag}{}-", std::process::id()),
            dir: pwire_testkit::TempDir::new("e2e"),
            procs: [None, None],
        };
        let o = t.sh("netns_up");
        assert!(
            o.status.success(),
            "netns_up: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        for side in ["a", "b"] {
            let o = t.sh(&format!("pwire_conf {} {side}", t.dir.path().display()));
            assert!(o.status.success());
        }
        t
    }

    fn ns(&self, n: &str) -> String {
        format!("{}{n}", self.prefix)
    }

    fn sock(&self, side: &str) -> PathBuf {
        self.dir.path().join(format!("cli-{side}.sock"))
    }

    fn start(&mut self, side: &str) {
        let conf = self.dir.path().join(format!("startup-{side}.conf"));
        let p = NsPwire::start(&bin("pwire"), &self.ns(side), &conf, self.sock(side));
        self.procs[usize::from(side == "b")] = Some(p);
    }

    fn stop(&mut self, side: &str) {
        self.procs[usize::from(side == "b")] = None;
    }

    fn cli(&self, side: &str, line: &str) -> String {
        let o = Command::new(bin("pwctl"))
            .arg("-s")
            .arg(self.sock(side))
            .args(line.split_whitespace())
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "pwire {side}: `{line}': {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// Pings `to` from host namespace `from` (`h1`/`h2`); returns (received, avg rtt ms).
    fn ping(&self, from: &str, to: &str, count: u32) -> (u32, f64) {
        ping(&self.ns(from), to, count)
    }

    /// Waits until a ping gets through (ND, ARP and MAC learning settle), at most `d`.
    fn until_ping(&self, d: Duration) -> bool {
        let t0 = Instant::now();
        while t0.elapsed() < d {
            if self.ping("h1", "10.1.1.2", 1).0 == 1 {
                return true;
            }
        }
        false
    }
}

impl Drop for Topo {
    fn drop(&mut self) {
        self.stop("a");
        self.stop("b");
        let _ = self.sh("netns_down");
    }
}

#[test]
fn two_node_pseudowire_end_to_end() {
    if require(prerequisites(&["python3"])).is_none() {
        return;
    }
    ensure_built();
    let mut t = Topo::new();
    t.start("a");
    t.start("b");
    assert!(
        t.until_ping(Duration::from_secs(10)),
        "first ping across the tunnel\nA:\n{}\nB:\n{}",
        t.cli("a", "show errors"),
        t.cli("b", "show errors")
    );

    // Ping both ways.
    let (rx, rtt) = t.ping("h1", "10.1.1.2", 10);
    assert_eq!(rx, 10, "h1 -> h2");
    let (rx2, rtt2) = t.ping("h2", "10.1.1.1", 10);
    assert_eq!(rx2, 10, "h2 -> h1");
    eprintln!("ping RTT across the tunnel: {rtt:.3} ms (h1->h2), {rtt2:.3} ms (h2->h1)");
    let v = t.cli("a", "show l2tpv3 verbose");
    assert!(
        v.contains("user-to-net:") && v.contains("net-to-user:"),
        "{v}"
    );

    // A TCP transfer of 8 MB: the hosts' MTU fits the tunnel, nothing is lost or black-holed.
    let mbps = tcp_transfer(&t.ns("h1"), &t.ns("h2"), 8 << 20);
    eprintln!("TCP throughput across the tunnel: {mbps:.1} Mbit/s");
    for side in ["a", "b"] {
        let e = t.cli(side, "show errors");
        assert!(
            !e.contains("MTU exceeded"),
            "no oversize frames on {side}:\n{e}"
        );
    }

    // Cookie mismatch on B (two rollovers, so A's cookie is no longer accepted): all dropped.
    t.cli(
        "b",
        "set l2tpv3 tunnel cookie l2tpv3_tunnel0 local 1111 remote ffffffffffffffff",
    );
    t.cli(
        "b",
        "set l2tpv3 tunnel cookie l2tpv3_tunnel0 local 2222 remote ffffffffffffffff",
    );
    assert_eq!(
        t.ping("h1", "10.1.1.2", 3).0,
        0,
        "nothing passes with mismatched cookies"
    );
    let e = t.cli("b", "show errors");
    let line = e
        .lines()
        .find(|l| l.contains("l2tpv3 local cookie mismatches"))
        .unwrap_or_else(|| panic!("{e}"));
    let n: u64 = line.split_whitespace().next().unwrap().parse().unwrap();
    assert!(n >= 3, "mismatch counter rises: {line}");
    t.cli(
        "b",
        "set l2tpv3 tunnel cookie l2tpv3_tunnel0 local ffffffffffffffff remote ffffffffffffffff",
    );
    assert!(
        t.until_ping(Duration::from_secs(5)),
        "matching cookie: traffic back"
    );

    // Tunnel deleted and re-created on A.
    t.cli("a", "create l2tpv3 tunnel client fd00::2 our fd00::1 local-session-id 10 remote-session-id 20 del");
    assert_eq!(t.ping("h1", "10.1.1.2", 2).0, 0, "no tunnel, no traffic");
    assert_eq!(t.cli("a", "create l2tpv3 tunnel client fd00::2 our fd00::1 local-session-id 10 remote-session-id 20").trim(), "l2tpv3_tunnel0");
    t.cli("a", "set interface state l2tpv3_tunnel0 up");
    t.cli("a", "set interface l2 bridge l2tpv3_tunnel0 1");
    assert!(
        t.until_ping(Duration::from_secs(10)),
        "re-created tunnel carries traffic"
    );

    // pwire B restarted.
    t.stop("b");
    assert_eq!(t.ping("h1", "10.1.1.2", 2).0, 0, "B down");
    t.start("b");
    assert!(
        t.until_ping(Duration::from_secs(15)),
        "traffic recovers after restart"
    );
    let (rx, _) = t.ping("h1", "10.1.1.2", 5);
    assert_eq!(rx, 5);
}

/// The same pseudowire over an IPv4 underlay and over UDP (IPv4 and IPv6): hosts ping and move
/// TCP across each. The UDP runs leave the hosts' checksum and segmentation offloads on, so
/// pwire receives partial checksums and super-frames, and must finish the inner checksums
/// where they are after it has put the outer headers in front (and before it computes the UDP
/// checksum over them, over IPv6).
#[test]
fn ipv4_and_udp_underlays_end_to_end() {
    if require(prerequisites(&["python3"])).is_none() {
        return;
    }
    ensure_built();
    let cases: [(&str, &[(&str, &str)]); 3] = [
        ("ip4", &[("PW_UNDERLAY", "ipv4")]),
        (
            "u4",
            &[
                ("PW_UNDERLAY", "ipv4"),
                ("PW_ENCAP", "udp"),
                ("PW_HOST_OFFLOAD", "1"),
            ],
        ),
        ("u6", &[("PW_ENCAP", "udp"), ("PW_HOST_OFFLOAD", "1")]),
    ];
    for (tag, env) in cases {
        let mut t = Topo::with(env, tag);
        t.start("a");
        t.start("b");
        assert!(
            t.until_ping(Duration::from_secs(10)),
            "{tag}: first ping across the tunnel\nA:\n{}\nB:\n{}",
            t.cli("a", "show errors"),
            t.cli("b", "show errors")
        );
        let (rx, rtt) = t.ping("h1", "10.1.1.2", 5);
        assert_eq!(rx, 5, "{tag}: h1 -> h2");
        let mbps = tcp_transfer(&t.ns("h1"), &t.ns("h2"), 4 << 20);
        eprintln!("{tag}: ping {rtt:.3} ms, TCP {mbps:.1} Mbit/s across the tunnel");
        let v = t.cli("a", "show l2tpv3 verbose");
        let fam = if tag == "u6" { "ip6" } else { "ip4" };
        assert!(v.contains(&format!("family {fam}")), "{tag}: {v}");
        if tag != "ip4" {
            assert!(v.contains("encap udp local-port 1701"), "{tag}: {v}");
            let rt = t.cli("b", "show runtime");
            let node = if tag == "u6" {
                "l2tp6-udp-decap"
            } else {
                "l2tp4-udp-decap"
            };
            assert!(rt.contains(node), "{tag}: {rt}");
        }
        for side in ["a", "b"] {
            let e = t.cli(side, "show errors");
            for bad in ["bad udp checksum", "MTU exceeded", "zero checksum refused"] {
                assert!(!e.contains(bad), "{tag} {side}: {bad}:\n{e}");
            }
        }
    }
}

/// Hosts with a 1500-byte MTU over a 1500-byte underlay: full-size frames do not fit one
/// outer packet, so pwire fragments after encapsulating and the far pwire reassembles. A ping
/// of 1472 bytes with DF (1500-byte IP packets) and a TCP transfer cross both ways, over IPv6
/// and over IPv4, and nothing is counted as over the MTU.
#[test]
fn full_size_frames_cross_a_standard_underlay() {
    if require(prerequisites(&["python3"])).is_none() {
        return;
    }
    ensure_built();
    let cases: [(&str, &[(&str, &str)]); 2] = [
        ("f6", &[("PW_HOST_MTU", "1500")]),
        ("f4", &[("PW_HOST_MTU", "1500"), ("PW_UNDERLAY", "ipv4")]),
    ];
    for (tag, env) in cases {
        let mut t = Topo::with(env, tag);
        t.start("a");
        t.start("b");
        assert!(
            t.until_ping(Duration::from_secs(10)),
            "{tag}: first ping\n{}",
            t.cli("a", "show errors")
        );
        let o = Command::new("ip")
            .args(["netns", "exec", &t.ns("h1"), "ping", "-c", "3", "-i", "0.2"])
            .args(["-W", "2", "-s", "1472", "-M", "do", "10.1.1.2"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(
            o.status.success() && text.contains("3 received"),
            "{tag}: full-size ping: {text}\nA:\n{}\nB:\n{}",
            t.cli("a", "show errors"),
            t.cli("b", "show errors")
        );
        let mbps = tcp_transfer(&t.ns("h1"), &t.ns("h2"), 4 << 20);
        eprintln!("{tag}: full-size frames: TCP {mbps:.1} Mbit/s across the tunnel");
        let (frag, reass) = if tag == "f6" {
            ("ip6-frag", "ip6-full-reassembly")
        } else {
            ("ip4-frag", "ip4-full-reassembly")
        };
        let ea = t.cli("a", "show errors");
        let eb = t.cli("b", "show errors");
        assert!(
            ea.contains(frag) && eb.contains(reass),
            "{tag}:\n{ea}\n{eb}"
        );
        for e in [&ea, &eb] {
            assert!(!e.contains("MTU exceeded"), "{tag}: {e}");
        }
    }
}

/// The pseudowire signalled by the L2TP control plane between two pwire processes (a control
/// connection with a shared secret, Hello every 2 s, 3 retries at 1-2 s): it comes up, hosts
/// ping and move TCP across it; killing pwire B brings A's pseudowire down within Hello +
/// retries x backoff; restarting B brings it back.
#[test]
fn signalled_pseudowire_end_to_end_dead_peer_and_restart() {
    if require(prerequisites(&["python3"])).is_none() {
        return;
    }
    ensure_built();
    let mut t = Topo::with(&[("PW_SIGNALLED", "1")], "sig");
    t.start("a");
    t.start("b");
    assert!(
        t.until_ping(Duration::from_secs(20)),
        "first ping across the signalled pseudowire\nA:\n{}\n{}",
        t.cli("a", "show l2tpv3 control-connection verbose"),
        t.cli("a", "show l2tpv3 pseudowire")
    );
    let (rx, _) = t.ping("h1", "10.1.1.2", 5);
    assert_eq!(rx, 5);
    let mbps = tcp_transfer(&t.ns("h1"), &t.ns("h2"), 4 << 20);
    eprintln!("signalled pseudowire: TCP {mbps:.1} Mbit/s");
    assert!(t
        .cli("a", "show l2tpv3 pseudowire")
        .contains("state established"));
    // The attachment circuit's link goes down (host 1 takes its end of the veth down, so A's
    // host interface loses carrier): A tells B by SLI and B's pseudowire link goes down (B
    // stops sending into it); carrier back, the link comes back and pings cross again.
    let h1_link = |up: &str| {
        let o = Command::new("ip")
            .args(["-n", &t.ns("h1"), "link", "set", "h1", up])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    let b_pw_link = |t: &Topo| {
        t.cli("b", "show hardware-interfaces l2tpv3_tunnel0")
            .lines()
            .find(|l| l.contains("l2tpv3_tunnel0"))
            .is_some_and(|l| l.split_whitespace().any(|w| w == "up"))
    };
    let until = |t: &Topo, want: bool| {
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(10) {
            if b_pw_link(t) == want {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    };
    assert!(b_pw_link(&t));
    h1_link("down");
    assert!(
        until(&t, false),
        "B's pseudowire link stays up after A's circuit lost carrier\nA:\n{}\n{}\n{}\nB:\n{}",
        t.cli("a", "show l2tpv3 pseudowire"),
        t.cli("a", "show hardware-interfaces"),
        t.cli("a", "show logging"),
        t.cli("b", "show l2tpv3 pseudowire")
    );
    h1_link("up");
    assert!(until(&t, true), "B's pseudowire link back up");
    assert!(t.until_ping(Duration::from_secs(20)), "pings cross again");
    // B dies: A finds out by Hello and retransmissions (2 s + 1 + 2 + 2 s, plus a margin).
    t.stop("b");
    let t0 = Instant::now();
    let mut down = false;
    while t0.elapsed() < Duration::from_secs(15) {
        if !t
            .cli("a", "show l2tpv3 pseudowire")
            .contains("state established")
        {
            down = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        down,
        "A still thinks the pseudowire is up:\n{}",
        t.cli("a", "show l2tpv3 control-connection verbose")
    );
    eprintln!("dead peer found in {:.1} s", t0.elapsed().as_secs_f64());
    assert_eq!(t.ping("h1", "10.1.1.2", 1).0, 0, "nothing crosses");
    // B comes back: the pseudowire comes up again.
    t.start("b");
    assert!(
        t.until_ping(Duration::from_secs(40)),
        "after B restarted\nA:\n{}\n{}",
        t.cli("a", "show l2tpv3 control-connection verbose"),
        t.cli("a", "show l2tpv3 pseudowire")
    );
}
