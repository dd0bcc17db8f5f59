//! Helpers shared by the workspace-level tests.

/// A 60-byte Ethernet/IPv4/UDP frame with a recognisable payload byte.
pub fn udp_frame(dst: [u8; 6], src: [u8; 6], tag: u8) -> Vec<u8> {
    let mut f = Vec::with_capacity(60);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&[0x08, 0x00]);
    f.extend_from_slice(&[
        0x45, 0x00, 0x00, 0x2e, 0x00, 0x01, 0x00, 0x00, 0x40, 0x11, 0x00, 0x00, 10, 1, 1, 1, 10, 1,
        1, 2, 0x04, 0xd2, 0x16, 0x2e, 0x00, 0x1a, 0x00, 0x00,
    ]);
    while f.len() < 60 {
        f.push(tag);
    }
    f
}

/// Path of a binary of this workspace in the target dir the tests run from.
pub fn bin(name: &str) -> std::path::PathBuf {
    let mut p = std::env::current_exe().expect("test exe");
    p.pop();
    if p.ends_with("deps") {
        p.pop();
    }
    p.join(name)
}

/// Builds `pwire` and `pwctl` into that target dir when they are not there yet (a plain
/// `cargo test` builds only libraries of dependencies).
pub fn ensure_built() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let st = std::process::Command::new(env!("CARGO"))
            .args(["build", "-q", "-p", "pwire", "-p", "pwctl"])
            .status()
            .expect("cargo build");
        assert!(st.success(), "building pwire and pwctl failed");
    });
}

/// pg0's MAC in the pg-based L2TPv3 topologies (see [`pg_uplink`]).
pub const PG0_MAC: [u8; 6] = [0x02, 0xfe, 0, 0, 0, 0];
/// The uplink peer fd00::2's MAC.
pub const PEER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 2];
/// The default 8-byte cookie (all ones).
pub const FF8: [u8; 8] = [0xff; 8];

/// The pg uplink of the L2TPv3 tests: pg0 (at [`PG0_MAC`]) up as fd00::1/64, its peer
/// fd00::2 resolved statically at [`PEER_MAC`].
pub fn pg_uplink(h: &mut pwire_testkit::Harness) {
    for l in [
        "create packet-generator interface pg0 hw-addr 02:fe:00:00:00:00",
        "set interface ip address pg0 fd00::1/64",
        "set interface state pg0 up",
        "set ip neighbor pg0 fd00::2 02:00:00:00:00:02 static",
    ] {
        h.cli(l);
    }
}

/// Sends `pkts` from pg interface `iface` into `node` one packet per frame, each traced: the
/// nodes' run loops stop at traced packets, so every packet takes its node's general path (the
/// reference the batch tests hold the loops to).
pub fn send_traced_one_by_one(
    h: &mut pwire_testkit::Harness,
    iface: &str,
    node: &str,
    pkts: &[Vec<u8>],
) {
    h.cli(&format!("trace add pg-input {}", pkts.len()));
    for (i, p) in pkts.iter().enumerate() {
        h.send(&format!("p{i}"), iface, node, std::slice::from_ref(p));
    }
}

/// Every feature crate pwire has, for `Harness::with` (which brings interface and pg itself).
pub fn features() -> Vec<pwire_vnet::dataplane::RegisterFn> {
    pwire::ALL
        .iter()
        .filter(|(n, _)| !matches!(*n, "interface" | "pg"))
        .map(|(_, f)| *f)
        .collect()
}

/// Ethernet (dst, src, 0x86dd) + IPv6 header (`nh`, hop limit `hop`, payload length = the
/// length of `payload`) + `payload`.
pub fn ip6_frame(
    dst_mac: [u8; 6],
    src_mac: [u8; 6],
    src: std::net::Ipv6Addr,
    dst: std::net::Ipv6Addr,
    nh: u8,
    hop: u8,
    payload: &[u8],
) -> Vec<u8> {
    let mut f = Vec::with_capacity(54 + payload.len());
    f.extend_from_slice(&dst_mac);
    f.extend_from_slice(&src_mac);
    f.extend_from_slice(&[0x86, 0xdd, 0x60, 0, 0, 0]);
    f.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    f.extend_from_slice(&[nh, hop]);
    f.extend_from_slice(&src.octets());
    f.extend_from_slice(&dst.octets());
    f.extend_from_slice(payload);
    f
}

/// A unicast neighbour solicitation for `target` from `src` (MAC `src_mac`, given as the source
/// link-layer address option), checksum filled.
pub fn ns_frame(
    dst_mac: [u8; 6],
    src_mac: [u8; 6],
    src: std::net::Ipv6Addr,
    target: std::net::Ipv6Addr,
) -> Vec<u8> {
    let r = pwire_wire::icmpv6::NdRepr::Solicit {
        target,
        source_lladdr: Some(pwire_wire::Mac(src_mac)),
    };
    let mut msg = vec![0u8; r.buffer_len()];
    r.emit(src, target, &mut msg).expect("NS fits");
    ip6_frame(dst_mac, src_mac, src, target, 58, 255, &msg)
}

/// An L2TPv3-over-IPv6 frame: session id, `cookie`, then `inner`.
pub fn l2tp_frame(
    dst_mac: [u8; 6],
    src_mac: [u8; 6],
    src: std::net::Ipv6Addr,
    dst: std::net::Ipv6Addr,
    sid: u32,
    cookie: &[u8],
    inner: &[u8],
) -> Vec<u8> {
    let mut l = Vec::with_capacity(4 + cookie.len() + inner.len());
    l.extend_from_slice(&sid.to_be_bytes());
    l.extend_from_slice(cookie);
    l.extend_from_slice(inner);
    ip6_frame(dst_mac, src_mac, src, dst, 115, 64, &l)
}

/// This process's resident set size in KiB (`VmRSS` of /proc/self/status).
pub fn rss_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS line")
}

/// The tests' seeded PRNG (pwire-testkit's, which the crates' own tests share).
pub use pwire_testkit::Rng;

/// A child process killed and reaped on drop, so a failing test leaves nothing running.
#[derive(Debug)]
pub struct Proc(pub std::process::Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the `pwire` binary with config `conf` (no hugepages, output discarded) and waits
/// up to 20 s for its CLI socket `sock` to appear; panics if it does not.
pub fn start_pwire(conf: &std::path::Path, sock: &std::path::Path) -> Proc {
    use std::time::{Duration, Instant};
    let p = Proc(
        std::process::Command::new(bin("pwire"))
            .arg("-c")
            .arg(conf)
            .env("PWIRE_NO_HUGEPAGES", "1")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn pwire"),
    );
    let t0 = Instant::now();
    while !sock.exists() {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "pwire did not open {}",
            sock.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    p
}

/// Every node counter of `h` summed over threads, by (node, reason), less those `skip` names
/// (what a whole-frame run and a packet-by-packet run may count differently, such as learning).
pub fn node_counters(
    h: &pwire_testkit::Harness,
    skip: impl Fn(&str, &str) -> bool,
) -> std::collections::BTreeMap<(String, &'static str), u64> {
    let e = h.dp.vnet.engine();
    let mut m = std::collections::BTreeMap::new();
    for n in &e.graph.nodes {
        for (i, c) in n.counters.iter().enumerate() {
            if skip(&n.name, c.name) {
                continue;
            }
            let code = n.error_base as usize + i;
            let total: u64 = (0..e.threads.len()).map(|t| e.error_count(t, code)).sum();
            if total != 0 {
                m.insert((n.name.clone(), c.name), total);
            }
        }
    }
    m
}
