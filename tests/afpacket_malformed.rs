//! Hostile packets from the wire: the malformed-packet cases of `malformed.rs` injected as raw
//! frames with an AF_PACKET socket on the far end of a veth pair, in a network namespace this
//! test creates (and deletes), into pwire's `af-packet-input` on the near end. Adds what only a
//! real interface can send: frames longer than a buffer ("packet too big for buffer").
//!
//! Each case: every frame is counted under the expected name, nothing panics, every buffer is
//! back in the pool. Needs root and iproute2: fails without them as root or in CI, skips saying
//! why elsewhere (pwire_testkit::prereq).

use pwire_testkit::prereq::{self, require};
use pwire_testkit::Harness;
use pwire_tests::{features, l2tp_frame, Rng};
use std::fs::File;
use std::net::Ipv6Addr;
use std::os::fd::AsRawFd;
use std::process::Command;
use std::time::{Duration, Instant};

const PWIRE_MAC: [u8; 6] = [0x02, 0xfe, 0, 0, 0, 0];
const PEER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 2];
const FF8: [u8; 8] = [0xff; 8];

fn run(args: &[&str]) -> Result<(), String> {
    let o = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip {args:?}: {e}"))?;
    if o.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {args:?}: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        ))
    }
}

/// A network namespace deleted on drop (also on panic).
struct Netns(String);

impl Netns {
    fn new() -> Result<Self, String> {
        let n = format!("pwtest-malf-{}", std::process::id());
        run(&["netns", "add", &n])?;
        Ok(Netns(n))
    }
    fn ip(&self, args: &[&str]) {
        let mut v = vec!["-n", self.0.as_str()];
        v.extend_from_slice(args);
        run(&v).unwrap_or_else(|e| panic!("{e}"));
    }
    fn sysctl(&self, kv: &str) {
        run(&["netns", "exec", &self.0, "sysctl", "-qw", kv]).unwrap_or_else(|e| panic!("{e}"));
    }
    /// Runs `f` on a thread that joined the namespace.
    fn within<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        let path = format!("/var/run/netns/{}", self.0);
        std::thread::scope(|s| {
            s.spawn(move || {
                let ns = File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
                // SAFETY: `ns` is an open netns file; setns changes only this thread.
                let rc = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
                assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
                f()
            })
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))
        })
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        if let Err(e) = run(&["netns", "del", &self.0]) {
            eprintln!("cleanup: {e}");
        }
    }
}

/// A raw AF_PACKET socket sending on one interface.
struct Raw(i32);

impl Raw {
    fn open(ifname: &str) -> Raw {
        let c = std::ffi::CString::new(ifname).unwrap();
        // SAFETY: `c` is a valid NUL-terminated string.
        let idx = unsafe { libc::if_nametoindex(c.as_ptr()) };
        assert!(idx != 0, "{ifname}: {}", std::io::Error::last_os_error());
        // SAFETY: plain socket(2); protocol 0 receives nothing.
        let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, 0) };
        assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
        // SAFETY: sockaddr_ll is plain data; all-zero is a valid value.
        let mut sa: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sa.sll_family = libc::AF_PACKET as u16;
        sa.sll_ifindex = idx as i32;
        // SAFETY: `sa` is a valid sockaddr_ll of the size passed.
        let rc = unsafe {
            libc::bind(
                fd,
                (&raw const sa).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            )
        };
        assert_eq!(rc, 0, "bind: {}", std::io::Error::last_os_error());
        Raw(fd)
    }
    fn send(&self, f: &[u8]) {
        // SAFETY: `f` is valid for reads of `f.len()` bytes for the call.
        let n = unsafe { libc::send(self.0, f.as_ptr().cast(), f.len(), 0) };
        assert_eq!(
            n,
            f.len() as isize,
            "send {} bytes: {}",
            f.len(),
            std::io::Error::last_os_error()
        );
    }
}

impl Drop for Raw {
    fn drop(&mut self) {
        // SAFETY: we own the fd.
        unsafe { libc::close(self.0) };
    }
}

fn inner(tag: u8) -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 0xbb, 1, 0x02, 0, 0, 0, 0xaa, 1, 0x88, 0xb5];
    f.extend((0..46).map(|i| tag.wrapping_add(i)));
    f
}

fn l2tp(inner: &[u8]) -> Vec<u8> {
    let (c, o): (Ipv6Addr, Ipv6Addr) = ("fd00::2".parse().unwrap(), "fd00::1".parse().unwrap());
    l2tp_frame(PWIRE_MAC, PEER_MAC, c, o, 10, &FF8, inner)
}

fn with_plen(mut f: Vec<u8>, plen: u16) -> Vec<u8> {
    f[18..20].copy_from_slice(&plen.to_be_bytes());
    f
}

/// Sends `frames` and runs pwire until `node`/`reason` has grown by their number (5 s at most).
fn case(h: &mut Harness, tx: &Raw, name: &str, frames: &[Vec<u8>], node: &str, reason: &str) {
    let c0 = h.counter(node, reason);
    for f in frames {
        tx.send(f);
        h.dp.run_once();
    }
    let want = c0 + frames.len() as u64;
    let t0 = Instant::now();
    while h.counter(node, reason) < want && t0.elapsed() < Duration::from_secs(5) {
        h.run_for(Duration::from_millis(5));
    }
    h.run_for(Duration::from_millis(20));
    assert_eq!(
        h.counter(node, reason),
        want,
        "{name}: {node} `{reason}'\n{}",
        h.cli("show errors")
    );
    h.assert_all_free();
}

#[test]
fn malformed_frames_from_a_veth() {
    let Some(ns) = require(
        prereq::root()
            .and_then(|()| prereq::tool("ip", "-V"))
            .and_then(|()| Netns::new().map_err(|e| format!("cannot create a netns: {e}"))),
    ) else {
        return;
    };
    for (a, b) in [("va", "vb"), ("vc", "vd")] {
        ns.ip(&["link", "add", a, "type", "veth", "peer", "name", b]);
        for i in [a, b] {
            ns.sysctl(&format!("net.ipv6.conf.{i}.disable_ipv6=1"));
            ns.ip(&["link", "set", i, "mtu", "9000"]);
            ns.ip(&["link", "set", i, "up"]);
        }
    }
    ns.within(|| {
        let mut h = Harness::with("", &features());
        for l in [
            "create host-interface name vb hw-addr 02:fe:00:00:00:00",
            "create host-interface name vd",
            "set interface ip address host-vb fd00::1/64",
            "set interface state host-vb up",
            "set interface state host-vd up",
            "set ip neighbor host-vb fd00::2 02:00:00:00:00:02 static",
            "create l2tpv3 tunnel client fd00::2 our fd00::1 local-session-id 10 remote-session-id 20",
            "set interface state l2tpv3_tunnel0 up",
            "set interface l2 xconnect host-vd l2tpv3_tunnel0",
            "set interface l2 xconnect l2tpv3_tunnel0 host-vd",
        ] {
            h.cli(l);
        }
        let tx = Raw::open("va");
        let v = l2tp(&inner(1));
        let mut sent = 0usize;
        let mut cases = 0usize;
        let mut go = |h: &mut Harness, name: &str, fr: Vec<Vec<u8>>, node: &str, reason: &str| {
            case(h, &tx, name, &fr, node, reason);
            sent += fr.len();
            cases += 1;
        };
        go(
            &mut h,
            "ip6",
            (0..40).map(|n| v[..14 + n].to_vec()).collect(),
            "ip6-input",
            "ip6 length < 40 bytes",
        );
        go(
            &mut h,
            "l2tp-cut",
            (0..12).map(|n| v[..54 + n].to_vec()).collect(),
            "ip6-input",
            "ip6 length > l2 length",
        );
        go(
            &mut h,
            "l2tp-short",
            (0..12)
                .map(|n| with_plen(v[..54 + n].to_vec(), n as u16))
                .collect(),
            "l2tp-decap-local",
            "l2tpv3 packet too short",
        );
        go(
            &mut h,
            "inner-short",
            (0..14).map(|n| l2tp(&inner(2)[..n])).collect(),
            "l2tp-decap-local",
            "l2tpv3 packet too short",
        );
        go(
            &mut h,
            "version",
            [0x00u8, 0x40, 0x70, 0xf0]
                .iter()
                .map(|&b| {
                    let mut f = v.clone();
                    f[14] = b;
                    f
                })
                .collect(),
            "ip6-input",
            "ip6 version != 6",
        );
        go(
            &mut h,
            "plen-long",
            [1u16, 100, 60000]
                .iter()
                .map(|&d| with_plen(v.clone(), (v.len() - 54) as u16 + d))
                .collect(),
            "ip6-input",
            "ip6 length > l2 length",
        );
        // Longer than a 2048-byte buffer: refused by the input node, by name.
        let big: Vec<u8> = inner(3)
            .into_iter()
            .chain(std::iter::repeat_n(0x5a, 8000))
            .collect();
        go(
            &mut h,
            "oversize",
            vec![l2tp(&big[..2100]), l2tp(&big[..3000]), l2tp(&big)],
            "af-packet-input",
            "packet too big for buffer",
        );
        // Seeded random frames: at least an Ethernet header, then noise or a damaged packet.
        let mut rng = Rng(0xaf_0009);
        let rx0 = h
            .cli("show interface host-vb")
            .lines()
            .find_map(|l| l.split("rx packets").nth(1)?.trim().parse::<u64>().ok())
            .unwrap_or(0);
        let n = 1000u64;
        for i in 0..n {
            let f = if i % 2 == 0 {
                let mut f = v[..14].to_vec();
                let k = rng.below(300) as usize;
                f.extend(rng.bytes(k));
                f
            } else {
                let mut f = v.clone();
                for _ in 0..1 + rng.below(4) {
                    let j = rng.below(f.len() as u64) as usize;
                    f[j] = rng.next_u64() as u8;
                }
                f
            };
            tx.send(&f);
            if i % 32 == 0 {
                h.dp.run_once();
            }
        }
        let t0 = Instant::now();
        let mut rx = 0;
        while t0.elapsed() < Duration::from_secs(5) {
            h.run_for(Duration::from_millis(10));
            rx = h
                .cli("show interface host-vb")
                .lines()
                .find_map(|l| l.split("rx packets").nth(1)?.trim().parse::<u64>().ok())
                .unwrap_or(0)
                - rx0;
            if rx >= n {
                break;
            }
        }
        assert_eq!(rx, n, "every random frame was received");
        h.run_for(Duration::from_millis(50));
        h.assert_all_free();
        // Still forwarding: a valid packet reaches host-vd.
        let tx_vd = |h: &mut Harness| {
            h.cli("show interface host-vd")
                .lines()
                .find_map(|l| l.split("tx packets").nth(1)?.trim().parse::<u64>().ok())
                .unwrap_or(0)
        };
        let before = tx_vd(&mut h);
        tx.send(&l2tp(&inner(9)));
        let t0 = Instant::now();
        while tx_vd(&mut h) == before && t0.elapsed() < Duration::from_secs(5) {
            h.run_for(Duration::from_millis(5));
        }
        assert_eq!(tx_vd(&mut h), before + 1, "valid packet delivered");
        h.dp.shutdown();
        h.assert_all_free();
        eprintln!(
            "af-packet malformed: {cases} cases, {} packets + {n} random, no leak",
            sent
        );
    });
}
