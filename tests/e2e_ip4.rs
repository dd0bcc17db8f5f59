//! The IPv4 underlay end to end: a `pwire` process in a network namespace routes between two
//! Linux hosts in namespaces of their own, each joined to it by a veth (AF_PACKET host
//! interfaces):
//!
//! ```text
//! 192.0.2.2 [h1] h1 --veth-- pw1 [pwire] pw2 --veth-- h2 [h2] 10.1.1.2
//!                   192.0.2.1/24   10.1.1.1/24
//! ```
//!
//! The hosts ARP for pwire and ping it; pwire ARPs for them and pings them (`ping` with VPP's
//! output); h1 pings and sends a TCP stream to h2 through pwire (forwarding, TTL − 1); a TTL 1
//! ping gets pwire's ICMP time exceeded and a DF ping over the egress MTU its fragmentation
//! needed, as Linux's ping reports them. Needs root, iproute2, ping and python3: fails without
//! them as root or in CI, skips saying why elsewhere (pwire_testkit::prereq).

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use pwire_testkit::netns::{ping, prerequisites, tcp_transfer, NsPwire};
use pwire_testkit::prereq::require;
use pwire_tests::{bin, ensure_built};

/// The three namespaces and their veths; deleted on drop.
struct Topo {
    prefix: String,
    dir: pwire_testkit::TempDir,
    pwire: Option<NsPwire>,
}

fn run(args: &[&str]) -> Output {
    Command::new(args[0])
        .args(&args[1..])
        .output()
        .expect(args[0])
}

fn ok(args: &[&str]) {
    let o = run(args);
    assert!(
        o.status.success(),
        "{}: {}",
        args.join(" "),
        String::from_utf8_lossy(&o.stderr)
    );
}

impl Topo {
    fn ns(&self, n: &str) -> String {
        format!("{}{n}", self.prefix)
    }

    fn new() -> Topo {
        let t = Topo {
            prefix: format!("p4e{}-", std::process::id()),
            dir: pwire_testkit::TempDir::new("e2e-ip4"),
            pwire: None,
        };
        t.down();
        let (h1, pw, h2) = (t.ns("h1"), t.ns("pw"), t.ns("h2"));
        for n in [&h1, &pw, &h2] {
            ok(&["ip", "netns", "add", n]);
            ok(&["ip", "-n", n, "link", "set", "lo", "up"]);
        }
        ok(&[
            "ip", "-n", &h1, "link", "add", "h1", "type", "veth", "peer", "name", "pw1", "netns",
            &pw,
        ]);
        ok(&[
            "ip", "-n", &h2, "link", "add", "h2", "type", "veth", "peer", "name", "pw2", "netns",
            &pw,
        ]);
        // Only pwire answers on its veths: the kernel there has no address, and no IPv6.
        for v in ["pw1", "pw2"] {
            let _ = run(&[
                "ip",
                "netns",
                "exec",
                &pw,
                "sysctl",
                "-qw",
                &format!("net.ipv6.conf.{v}.disable_ipv6=1"),
            ]);
            ok(&["ip", "-n", &pw, "link", "set", v, "up"]);
        }
        for (n, dev, addr, gw) in [
            (&h1, "h1", "192.0.2.2/24", "192.0.2.1"),
            (&h2, "h2", "10.1.1.2/24", "10.1.1.1"),
        ] {
            ok(&["ip", "-n", n, "addr", "add", addr, "dev", dev]);
            ok(&["ip", "-n", n, "link", "set", dev, "up"]);
            ok(&["ip", "-n", n, "route", "add", "default", "via", gw]);
            // Whole checksums and MTU-sized frames from the hosts (no offload super-frames).
            let _ = run(&[
                "ip", "netns", "exec", n, "ethtool", "-K", dev, "tx", "off", "tso", "off", "gso",
                "off",
            ]);
        }
        let d = t.dir.path();
        std::fs::write(
            d.join("setup.cli"),
            "create host-interface name pw1\n\
             create host-interface name pw2\n\
             set interface state host-pw1 up\n\
             set interface state host-pw2 up\n\
             set interface ip address host-pw1 192.0.2.1/24\n\
             set interface ip address host-pw2 10.1.1.1/24\n",
        )
        .unwrap();
        std::fs::write(
            d.join("startup.conf"),
            format!(
                "unix {{ nodaemon cli-listen {0}/cli.sock exec {0}/setup.cli log {0}/pwire.log }}\n\
                 buffers {{ buffers-per-numa 16384 }}\n",
                d.display()
            ),
        )
        .unwrap();
        t
    }

    fn sock(&self) -> PathBuf {
        self.dir.path().join("cli.sock")
    }

    fn start(&mut self) {
        let conf = self.dir.path().join("startup.conf");
        self.pwire = Some(NsPwire::start(
            &bin("pwire"),
            &self.ns("pw"),
            &conf,
            self.sock(),
        ));
    }

    fn cli(&self, line: &str) -> String {
        let o = Command::new(bin("pwctl"))
            .arg("-s")
            .arg(self.sock())
            .args(line.split_whitespace())
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "pwire: `{line}': {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// Runs a command in host namespace `n`; returns its stdout and stderr together.
    fn in_ns(&self, n: &str, args: &[&str]) -> String {
        let mut v = vec!["ip", "netns", "exec"];
        let ns = self.ns(n);
        v.push(&ns);
        v.extend_from_slice(args);
        let o = run(&v);
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    }

    /// Waits until `from` gets a ping reply from `to`, at most `d`.
    fn until_ping(&self, from: &str, to: &str, d: Duration) -> bool {
        let t0 = Instant::now();
        while t0.elapsed() < d {
            if ping(&self.ns(from), to, 1).0 == 1 {
                return true;
            }
        }
        false
    }

    fn down(&self) {
        for n in ["h1", "pw", "h2"] {
            let _ = run(&["ip", "netns", "del", &self.ns(n)]);
        }
    }
}

impl Drop for Topo {
    fn drop(&mut self) {
        self.pwire = None;
        self.down();
    }
}

#[test]
fn hosts_ping_pwire_and_each_other_through_it() {
    if require(prerequisites(&["python3"])).is_none() {
        return;
    }
    ensure_built();
    let mut t = Topo::new();
    t.start();
    // h1 ARPs for pwire (arp-reply answers) and pings it (ip4-icmp-echo-request).
    assert!(
        t.until_ping("h1", "192.0.2.1", Duration::from_secs(10)),
        "h1 -> pwire\n{}",
        t.cli("show errors")
    );
    let (rx, rtt) = ping(&t.ns("h1"), "192.0.2.1", 5);
    assert_eq!(rx, 5, "h1 -> pwire");
    eprintln!("ping RTT h1 -> pwire: {rtt:.3} ms");
    let neigh = t.in_ns("h1", &["ip", "neigh", "show", "192.0.2.1"]);
    let hw = t.cli("show hardware-interfaces host-pw1");
    let mac = hw
        .lines()
        .find_map(|l| l.trim().strip_prefix("Ethernet address "))
        .unwrap_or_else(|| panic!("no MAC in {hw}"))
        .trim()
        .to_string();
    assert!(
        neigh.contains(&format!("lladdr {mac}")),
        "h1 resolved pwire's MAC {mac}: {neigh}"
    );
    // pwire learned h1 from its request.
    let n = t.cli("show ip neighbors");
    assert!(n.contains("192.0.2.2") && n.contains("host-pw1"), "{n}");

    // pwire pings h2: it ARPs first (the first request goes to ip4-glean), then the replies.
    let out = t.cli("ping 10.1.1.2 repeat 3 interval 0.2");
    let replies = out
        .lines()
        .filter(|l| l.contains("bytes from 10.1.1.2: icmp_seq="))
        .count();
    assert!(replies >= 2, "{out}");
    assert!(
        out.contains(" ttl=64 time="),
        "Linux answers with TTL 64: {out}"
    );
    assert!(out.contains("Statistics: 3 sent, "), "{out}");

    // h1 -> h2 through pwire: one hop (TTL 64 - 1 on the way back too).
    assert!(
        t.until_ping("h1", "10.1.1.2", Duration::from_secs(10)),
        "h1 -> h2"
    );
    let p = t.in_ns(
        "h1",
        &["ping", "-c", "3", "-i", "0.2", "-W", "1", "10.1.1.2"],
    );
    assert!(p.contains("3 received") && p.contains("ttl=63"), "{p}");
    let p = t.in_ns(
        "h2",
        &["ping", "-c", "3", "-i", "0.2", "-W", "1", "192.0.2.2"],
    );
    assert!(p.contains("3 received") && p.contains("ttl=63"), "{p}");

    // A TCP stream of 8 MB, byte-exact, through pwire.
    let mbps = tcp_transfer(&t.ns("h1"), &t.ns("h2"), 8 << 20);
    eprintln!("TCP throughput h1 -> h2 through pwire: {mbps:.1} Mbit/s");

    // TTL 1: pwire's ICMP time exceeded reaches h1's ping.
    let p = t.in_ns("h1", &["ping", "-c", "1", "-t", "1", "-W", "1", "10.1.1.2"]);
    assert!(
        p.contains("From 192.0.2.1") && p.contains("Time to live exceeded"),
        "{p}"
    );
    // DF over the egress MTU: fragmentation needed with pwire's MTU.
    t.cli("set interface mtu ip4 1400 host-pw2");
    let p = t.in_ns(
        "h1",
        &[
            "ping", "-c", "1", "-M", "do", "-s", "1472", "-W", "1", "10.1.1.2",
        ],
    );
    assert!(
        p.contains("From 192.0.2.1") && p.contains("Frag needed and DF set (mtu = 1400)"),
        "{p}"
    );
    let e = t.cli("show errors");
    for s in [
        "ip4 ttl <= 1",
        "ip4 MTU exceeded and DF set",
        "ARP replies sent",
        "echo replies sent",
    ] {
        assert!(e.contains(s), "`{s}' in show errors:\n{e}");
    }
    let fib = t.cli("show ip fib 10.1.1.2");
    assert!(fib.contains("ipv4 via 10.1.1.2 host-pw2"), "{fib}");
}
