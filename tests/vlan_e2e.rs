//! Two customers on one access port, each on its own VLAN, each reaching its own far end
//! through its own pseudowire between two `pwire` processes in network namespaces, over a
//! tagged uplink:
//!
//! ```text
//!            [test ns]                 [A: pwire]                          [B: pwire]            [test ns]
//!   raw socket acc --veth-- host-a-acc.100 ─ l2tpv3_tunnel0 (pop 1, type 5) ─┐   ┌─ l2tpv3_tunnel0 ─ host-b-far1 --veth-- far1 raw socket
//!                           host-a-acc.200 ─ l2tpv3_tunnel1 (tag kept, 4) ─┐ │   │ ┌ l2tpv3_tunnel1 ─ host-b-far2 --veth-- far2 raw socket
//!                           host-a-up.42 fd00::1 ====== VLAN 42 ====== fd00::2 host-b-up.42
//! ```
//!
//! This kernel has no VLAN devices, so the test's own namespace sends and receives the tagged
//! frames on raw AF_PACKET sockets (the kernel moves a received tag into the packet's
//! metadata; PACKET_AUXDATA gives it back). Checked: each VLAN's frames arrive at their own
//! far end only (VLAN 100's without its tag, 200's with it), the far ends' frames come back on
//! their VLAN, an unknown VLAN is dropped and counted, neighbour discovery works over the
//! tagged uplink, and `show l2tpv3 verbose` names each pseudowire's type. Needs root and
//! iproute2: fails without them as root or in CI, skips saying why elsewhere
//! (pwire_testkit::prereq).

use pwire_testkit::netns::{prerequisites, NsPwire};
use pwire_testkit::prereq::require;
use pwire_tests::{bin, ensure_built};
use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

fn ip(args: &[&str]) {
    let o = Command::new("ip").args(args).output().expect("ip");
    assert!(
        o.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The three namespaces and their veths; deleted on drop (pwire processes stop first).
struct Topo {
    prefix: String,
    dir: pwire_testkit::TempDir,
    procs: Vec<NsPwire>,
}

impl Topo {
    fn ns(&self, n: &str) -> String {
        format!("{}{n}", self.prefix)
    }

    fn new() -> Topo {
        let t = Topo {
            prefix: format!("pwv{}-", std::process::id()),
            dir: pwire_testkit::TempDir::new("vlan-e2e"),
            procs: Vec::new(),
        };
        for n in ["t", "a", "b"] {
            let _ = Command::new("ip").args(["netns", "del", &t.ns(n)]).output();
            ip(&["netns", "add", &t.ns(n)]);
            ip(&["-n", &t.ns(n), "link", "set", "lo", "up"]);
        }
        // (namespace, name, peer namespace, peer name); each made inside its namespace so
        // parallel runs never share a name.
        for (n1, i1, n2, i2) in [
            ("t", "acc", "a", "a-acc"),
            ("a", "a-up", "b", "b-up"),
            ("t", "far1", "b", "b-far1"),
            ("t", "far2", "b", "b-far2"),
        ] {
            let peer_ns = t.ns(n2);
            ip(&[
                "-n",
                &t.ns(n1),
                "link",
                "add",
                i1,
                "type",
                "veth",
                "peer",
                "name",
                i2,
                "netns",
                &peer_ns,
            ]);
            for (n, i) in [(n1, i1), (n2, i2)] {
                // No kernel IPv6 on any of them: only the test's and pwire's frames cross.
                let o = Command::new("ip")
                    .args(["netns", "exec", &t.ns(n), "sysctl", "-qw"])
                    .arg(format!("net.ipv6.conf.{i}.disable_ipv6=1"))
                    .output()
                    .expect("sysctl");
                assert!(o.status.success());
                ip(&["-n", &t.ns(n), "link", "set", i, "up"]);
            }
        }
        t
    }

    fn sock(&self, side: &str) -> PathBuf {
        self.dir.path().join(format!("cli-{side}.sock"))
    }

    /// Writes `side`'s startup.conf and exec script and starts its pwire.
    fn start(&mut self, side: &str, setup: &str) {
        let d = self.dir.path();
        let cli = d.join(format!("setup-{side}.cli"));
        std::fs::write(&cli, setup).unwrap();
        let conf = d.join(format!("startup-{side}.conf"));
        std::fs::write(
            &conf,
            format!(
                "unix {{ nodaemon cli-listen {} exec {} log {} }}\nbuffers {{ buffers-per-numa 16384 }}\nl2tp {{ lookup-session-id }}\n",
                self.sock(side).display(),
                cli.display(),
                d.join(format!("pwire-{side}.log")).display()
            ),
        )
        .unwrap();
        let p = NsPwire::start(&bin("pwire"), &self.ns(side), &conf, self.sock(side));
        self.procs.push(p);
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
}

impl Drop for Topo {
    fn drop(&mut self) {
        self.procs.clear();
        for n in ["t", "a", "b"] {
            let _ = Command::new("ip")
                .args(["netns", "del", &self.ns(n)])
                .output();
        }
    }
}

/// A raw AF_PACKET socket on one interface of the test namespace: sends frames as given, and
/// receives them with the VLAN tag the kernel took off put back (PACKET_AUXDATA).
struct Raw(i32);

impl Raw {
    /// Opens it from a thread that joined namespace `ns` (the socket stays in it).
    fn open(ns: &str, ifname: &str) -> Raw {
        let path = format!("/var/run/netns/{ns}");
        let ifname = ifname.to_string();
        std::thread::spawn(move || {
            let f = File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
            // SAFETY: `f` is an open netns file; setns changes only this thread.
            let rc = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
            let c = std::ffi::CString::new(ifname.as_str()).unwrap();
            // SAFETY: `c` is a valid NUL-terminated string.
            let idx = unsafe { libc::if_nametoindex(c.as_ptr()) };
            assert!(idx != 0, "{ifname}: {}", std::io::Error::last_os_error());
            let proto = (libc::ETH_P_ALL as u16).to_be();
            // SAFETY: plain socket(2).
            let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, i32::from(proto)) };
            assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
            // SAFETY: sockaddr_ll is plain data; all-zero is a valid value.
            let mut sa: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
            sa.sll_family = libc::AF_PACKET as u16;
            sa.sll_protocol = proto;
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
            let one: libc::c_int = 1;
            let tv = libc::timeval {
                tv_sec: 0,
                tv_usec: 50_000,
            };
            // SAFETY: valid option values of the sizes passed.
            unsafe {
                assert_eq!(
                    libc::setsockopt(
                        fd,
                        libc::SOL_PACKET,
                        libc::PACKET_AUXDATA,
                        (&raw const one).cast(),
                        4
                    ),
                    0
                );
                assert_eq!(
                    libc::setsockopt(
                        fd,
                        libc::SOL_SOCKET,
                        libc::SO_RCVTIMEO,
                        (&raw const tv).cast(),
                        std::mem::size_of::<libc::timeval>() as u32
                    ),
                    0
                );
            }
            Raw(fd)
        })
        .join()
        .unwrap()
    }

    fn send(&self, f: &[u8]) {
        // SAFETY: `f` is valid for reads of `f.len()` bytes for the call.
        let n = unsafe { libc::send(self.0, f.as_ptr().cast(), f.len(), 0) };
        assert_eq!(
            n,
            f.len() as isize,
            "send: {}",
            std::io::Error::last_os_error()
        );
    }

    /// The next frame received (not one this socket's interface sent), tag restored; None
    /// after 50 ms of nothing.
    fn recv(&self) -> Option<Vec<u8>> {
        loop {
            let mut buf = vec![0u8; 9216];
            let mut cmsg = [0u64; 16];
            // SAFETY: sockaddr_ll is plain data; all-zero is a valid value.
            let mut sa: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
            let mut iov = libc::iovec {
                iov_base: buf.as_mut_ptr().cast(),
                iov_len: buf.len(),
            };
            // SAFETY: msghdr is plain data; all-zero is a valid value.
            let mut m: libc::msghdr = unsafe { std::mem::zeroed() };
            m.msg_name = (&raw mut sa).cast();
            m.msg_namelen = std::mem::size_of::<libc::sockaddr_ll>() as u32;
            m.msg_iov = &raw mut iov;
            m.msg_iovlen = 1;
            m.msg_control = cmsg.as_mut_ptr().cast();
            m.msg_controllen = std::mem::size_of_val(&cmsg);
            // SAFETY: every pointer in `m` is valid for the sizes given, for the call.
            let n = unsafe { libc::recvmsg(self.0, &raw mut m, 0) };
            let Ok(n) = usize::try_from(n) else {
                return None;
            };
            buf.truncate(n);
            if sa.sll_pkttype == 4 {
                // PACKET_OUTGOING: our own send.
                continue;
            }
            // SAFETY: walking the control messages recvmsg filled in, within msg_controllen.
            unsafe {
                let mut c = libc::CMSG_FIRSTHDR(&raw const m);
                while !c.is_null() {
                    if (*c).cmsg_level == libc::SOL_PACKET && (*c).cmsg_type == libc::PACKET_AUXDATA
                    {
                        let aux: libc::tpacket_auxdata =
                            std::ptr::read_unaligned(libc::CMSG_DATA(c).cast());
                        if aux.tp_status & libc::TP_STATUS_VLAN_VALID != 0 && buf.len() >= 12 {
                            let tpid = if aux.tp_status & libc::TP_STATUS_VLAN_TPID_VALID != 0 {
                                aux.tp_vlan_tpid
                            } else {
                                0x8100
                            };
                            let mut tag = tpid.to_be_bytes().to_vec();
                            tag.extend_from_slice(&aux.tp_vlan_tci.to_be_bytes());
                            buf.splice(12..12, tag);
                        }
                    }
                    c = libc::CMSG_NXTHDR(&raw const m, c);
                }
            }
            return Some(buf);
        }
    }

    /// Every test frame (ethertype 0x88b5 after the tags) received within `d`.
    fn drain(&self, d: Duration) -> Vec<Vec<u8>> {
        let t0 = Instant::now();
        let mut v = Vec::new();
        while t0.elapsed() < d {
            if let Some(f) = self.recv() {
                if payload_of(&f).is_some() {
                    v.push(f);
                }
            }
        }
        v
    }
}

impl Drop for Raw {
    fn drop(&mut self) {
        // SAFETY: we own the fd.
        unsafe { libc::close(self.0) };
    }
}

const ET: [u8; 2] = [0x88, 0xb5];

/// A test frame: `dst`, `src`, the tags (TPID, VID), ethertype 0x88b5 and `text` padded to
/// 46 bytes.
fn frame(dst: u8, src: u8, tags: &[(u16, u16)], text: &str) -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 0xdd, dst, 0x02, 0, 0, 0, 0xdd, src];
    for &(t, v) in tags {
        f.extend_from_slice(&t.to_be_bytes());
        f.extend_from_slice(&v.to_be_bytes());
    }
    f.extend_from_slice(&ET);
    // A payload of fixed size (a frame's length changes only with its tags).
    let mut p = text.as_bytes().to_vec();
    p.resize(46, 0);
    f.extend_from_slice(&p);
    f
}

/// The tags and the text of a test frame; None for anything else.
fn payload_of(f: &[u8]) -> Option<(Vec<(u16, u16)>, String)> {
    let mut o = 12;
    let mut tags = Vec::new();
    while o + 4 <= f.len() && matches!(u16::from_be_bytes([f[o], f[o + 1]]), 0x8100 | 0x88a8) {
        tags.push((
            u16::from_be_bytes([f[o], f[o + 1]]),
            u16::from_be_bytes([f[o + 2], f[o + 3]]) & 0xfff,
        ));
        o += 4;
    }
    if f.get(o..o + 2) != Some(&ET[..]) {
        return None;
    }
    let text: Vec<u8> = f[o + 2..].iter().copied().take_while(|&c| c != 0).collect();
    Some((tags, String::from_utf8(text).ok()?))
}

const SETUP_A: &str = "\
create host-interface name a-acc
create host-interface name a-up
set interface state host-a-acc up
set interface state host-a-up up
create sub-interfaces host-a-up 42
set interface state host-a-up.42 up
set interface ip address host-a-up.42 fd00::1/64
create sub-interfaces host-a-acc 100
create sub-interfaces host-a-acc 200
set interface state host-a-acc.100 up
set interface state host-a-acc.200 up
set interface l2 tag-rewrite host-a-acc.100 pop 1
create l2tpv3 tunnel client fd00::2 our fd00::1 local-session-id 10 remote-session-id 20
create l2tpv3 tunnel client fd00::2 our fd00::1 local-session-id 11 remote-session-id 21
set interface state l2tpv3_tunnel0 up
set interface state l2tpv3_tunnel1 up
set interface l2 xconnect host-a-acc.100 l2tpv3_tunnel0
set interface l2 xconnect l2tpv3_tunnel0 host-a-acc.100
set interface l2 xconnect host-a-acc.200 l2tpv3_tunnel1
set interface l2 xconnect l2tpv3_tunnel1 host-a-acc.200
";

const SETUP_B: &str = "\
create host-interface name b-up
create host-interface name b-far1
create host-interface name b-far2
set interface state host-b-up up
set interface state host-b-far1 up
set interface state host-b-far2 up
create sub-interfaces host-b-up 42
set interface state host-b-up.42 up
set interface ip address host-b-up.42 fd00::2/64
create l2tpv3 tunnel client fd00::1 our fd00::2 local-session-id 20 remote-session-id 10
create l2tpv3 tunnel client fd00::1 our fd00::2 local-session-id 21 remote-session-id 11
set interface state l2tpv3_tunnel0 up
set interface state l2tpv3_tunnel1 up
set interface l2 xconnect host-b-far1 l2tpv3_tunnel0
set interface l2 xconnect l2tpv3_tunnel0 host-b-far1
set interface l2 xconnect host-b-far2 l2tpv3_tunnel1
set interface l2 xconnect l2tpv3_tunnel1 host-b-far2
";

/// Sends `f` from `tx` until a frame with the same text arrives at `rx` (neighbour
/// discovery on the uplink settles meanwhile), at most `d`.
fn until_through(tx: &Raw, rx: &Raw, f: &[u8], d: Duration) -> bool {
    let want = payload_of(f).map(|(_, t)| t);
    let t0 = Instant::now();
    while t0.elapsed() < d {
        tx.send(f);
        if rx
            .drain(Duration::from_millis(200))
            .iter()
            .any(|g| payload_of(g).map(|(_, t)| t) == want)
        {
            return true;
        }
    }
    false
}

/// The counter of `show errors` named `reason` (0 when not listed).
fn errors(t: &Topo, side: &str, reason: &str) -> u64 {
    t.cli(side, "show errors")
        .lines()
        .find(|l| l.contains(reason))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[test]
fn two_customers_on_one_port_each_reach_their_own_far_end() {
    if require(prerequisites(&[])).is_none() {
        return;
    }
    ensure_built();
    let mut t = Topo::new();
    t.start("a", SETUP_A);
    t.start("b", SETUP_B);
    let acc = Raw::open(&t.ns("t"), "acc");
    let far1 = Raw::open(&t.ns("t"), "far1");
    let far2 = Raw::open(&t.ns("t"), "far2");
    let diag = |t: &Topo| {
        format!(
            "A:\n{}{}\nB:\n{}{}",
            t.cli("a", "show errors"),
            t.cli("a", "show interface"),
            t.cli("b", "show errors"),
            t.cli("b", "show interface")
        )
    };
    assert!(
        until_through(
            &acc,
            &far1,
            &frame(0x11, 0x01, &[(0x8100, 100)], "warm-100"),
            Duration::from_secs(15)
        ),
        "VLAN 100 to far1\n{}",
        diag(&t)
    );
    assert!(
        until_through(
            &acc,
            &far2,
            &frame(0x12, 0x02, &[(0x8100, 200)], "warm-200"),
            Duration::from_secs(5)
        ),
        "VLAN 200 to far2\n{}",
        diag(&t)
    );
    // And the way back (B resolves A on the uplink the first time it sends).
    assert!(
        until_through(
            &far1,
            &acc,
            &frame(0x01, 0x11, &[], "warm-r100"),
            Duration::from_secs(5)
        ),
        "far1 to VLAN 100\n{}",
        diag(&t)
    );
    let _ = (
        acc.drain(Duration::from_millis(300)),
        far1.drain(Duration::ZERO),
        far2.drain(Duration::ZERO),
    );

    // Each customer's frames, interleaved on the access port, and an unknown VLAN.
    let vlan0 = errors(&t, "a", "unknown vlan");
    let n: u32 = 20;
    for i in 0..n {
        acc.send(&frame(0x11, 0x01, &[(0x8100, 100)], &format!("c100-{i}")));
        acc.send(&frame(0x12, 0x02, &[(0x8100, 200)], &format!("c200-{i}")));
        acc.send(&frame(0x13, 0x03, &[(0x8100, 300)], &format!("c300-{i}")));
        std::thread::sleep(Duration::from_millis(2));
    }
    let got1 = far1.drain(Duration::from_millis(800));
    let got2 = far2.drain(Duration::from_millis(100));
    // VLAN 100 arrives at far1 only, without its tag (pop 1: a raw, type 5, pseudowire)...
    let want1: Vec<Vec<u8>> = (0..n)
        .map(|i| frame(0x11, 0x01, &[], &format!("c100-{i}")))
        .collect();
    assert_eq!(
        got1, want1,
        "far1 gets VLAN 100's frames, untagged, in order"
    );
    // ... VLAN 200 at far2 only, with its tag (a tagged, type 4, pseudowire).
    let want2: Vec<Vec<u8>> = (0..n)
        .map(|i| frame(0x12, 0x02, &[(0x8100, 200)], &format!("c200-{i}")))
        .collect();
    assert_eq!(got2, want2, "far2 gets VLAN 200's frames, tagged, in order");
    // VLAN 300 has no sub-interface: dropped on A and counted.
    assert_eq!(
        errors(&t, "a", "unknown vlan") - vlan0,
        u64::from(n),
        "{}",
        diag(&t)
    );

    // Back from the far ends: each on its own VLAN.
    for i in 0..n {
        far1.send(&frame(0x01, 0x11, &[], &format!("r100-{i}")));
        far2.send(&frame(0x02, 0x12, &[(0x8100, 200)], &format!("r200-{i}")));
        std::thread::sleep(Duration::from_millis(2));
    }
    let back = acc.drain(Duration::from_millis(800));
    let mut got100: Vec<Vec<u8>> = Vec::new();
    let mut got200: Vec<Vec<u8>> = Vec::new();
    for f in back {
        match payload_of(&f) {
            Some((_, s)) if s.starts_with("r100-") => got100.push(f),
            Some((_, s)) if s.starts_with("r200-") => got200.push(f),
            _ => panic!("unexpected frame at acc: {f:02x?}"),
        }
    }
    let want100: Vec<Vec<u8>> = (0..n)
        .map(|i| frame(0x01, 0x11, &[(0x8100, 100)], &format!("r100-{i}")))
        .collect();
    let want200: Vec<Vec<u8>> = (0..n)
        .map(|i| frame(0x02, 0x12, &[(0x8100, 200)], &format!("r200-{i}")))
        .collect();
    assert_eq!(got100, want100, "far1's frames come back on VLAN 100");
    assert_eq!(got200, want200, "far2's frames come back on VLAN 200");

    // What the operator sees.
    let v = t.cli("a", "show l2tpv3 verbose");
    assert!(
        v.contains("pw type ethernet (5) on host-a-acc.100")
            && v.contains("pw type ethernet tagged (4) on host-a-acc.200"),
        "{v}"
    );
    let s = t.cli("a", "show interface");
    let rx = |name: &str| -> u64 {
        let mut lines = s
            .lines()
            .skip_while(|l| !l.starts_with(&format!("{name} ")));
        lines
            .by_ref()
            .take(6)
            .find_map(|l| {
                let i = l.find("rx packets")?;
                l[i + 10..].split_whitespace().next()?.parse().ok()
            })
            .unwrap_or(0)
    };
    assert!(rx("host-a-acc.100") > u64::from(n), "{s}");
    assert!(rx("host-a-acc.200") > u64::from(n), "{s}");
    assert!(rx("host-a-up.42") > 2 * u64::from(n), "{s}");
}
