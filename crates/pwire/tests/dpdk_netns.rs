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
//! Needs root, iproute2, ping and python3 (CI has them); prints why and passes otherwise.
//! Every wait is bounded; namespaces and processes are removed on drop.

#![cfg(feature = "dpdk")]

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The two tests share the machine's two CPUs badly: run them one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn skip_reason() -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    if euid != 0 {
        return Some(format!("needs root for network namespaces (euid {euid})"));
    }
    for (bin, arg) in [("ip", "-V"), ("ping", "-V"), ("python3", "-V")] {
        if Command::new(bin).arg(arg).output().is_err() {
            return Some(format!("`{bin}' not installed"));
        }
    }
    None
}

fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("pwire-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// One line to a pwire CLI socket; returns (ok, output).
fn cli(sock: &Path, line: &str) -> (bool, String) {
    let mut s = UnixStream::connect(sock).unwrap_or_else(|e| panic!("{}: {e}", sock.display()));
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(format!("{line}\n").as_bytes()).unwrap();
    let mut r = BufReader::new(s);
    let mut out = Vec::new();
    loop {
        let mut l = Vec::new();
        if r.read_until(b'\n', &mut l).unwrap_or(0) == 0 {
            return (false, String::from_utf8_lossy(&out).into_owned());
        }
        match l.as_slice() {
            b"\0OK\n" => return (true, String::from_utf8_lossy(&out).into_owned()),
            b"\0ERR\n" => return (false, String::from_utf8_lossy(&out).into_owned()),
            _ => out.extend_from_slice(&l),
        }
    }
}

fn cli_ok(sock: &Path, line: &str) -> String {
    let (ok, out) = cli(sock, line);
    assert!(ok, "`{line}': {out}");
    out
}

/// A pwire process in a namespace, killed on drop.
struct Pwire {
    child: Option<Child>,
    sock: PathBuf,
}

impl Pwire {
    fn start(ns: &str, conf: &Path, sock: PathBuf) -> Pwire {
        let _ = std::fs::remove_file(&sock);
        let child = Command::new("ip")
            .args(["netns", "exec", ns, env!("CARGO_BIN_EXE_pwire"), "-c"])
            .arg(conf)
            .env("PWIRE_NO_HUGEPAGES", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("pwire");
        let mut p = Pwire {
            child: Some(child),
            sock,
        };
        let t0 = Instant::now();
        while !p.sock.exists() {
            let exited = p
                .child
                .as_mut()
                .unwrap()
                .try_wait()
                .ok()
                .flatten()
                .is_some();
            if exited || t0.elapsed() > Duration::from_secs(30) {
                let mut c = p.child.take().unwrap();
                let _ = c.kill();
                let out = c.wait_with_output().unwrap();
                panic!(
                    "pwire in {ns} did not start: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        p
    }
    fn cli(&self, line: &str) -> String {
        cli_ok(&self.sock, line)
    }
}

impl Drop for Pwire {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill").arg(c.id().to_string()).status();
            let t0 = Instant::now();
            while c.try_wait().ok().flatten().is_none() && t0.elapsed() < Duration::from_secs(5) {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn sh(prefix: &str, script: &str) -> std::process::Output {
    Command::new("bash")
        .arg("-c")
        .arg(format!(". {}/scripts/netns.sh; {script}", root().display()))
        .env("PW_PREFIX", prefix)
        .env("PW_DPDK", "1")
        .output()
        .expect("bash")
}

/// scripts/netns.sh's namespaces under `prefix`, removed on drop.
struct Netns(String);

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = sh(&self.0, "netns_down");
    }
}

fn ping(ns: &str, to: &str, count: u32) -> u32 {
    let o = Command::new("ip")
        .args([
            "netns",
            "exec",
            ns,
            "ping",
            "-c",
            &count.to_string(),
            "-i",
            "0.2",
            "-W",
            "1",
            to,
        ])
        .output()
        .unwrap();
    let s = String::from_utf8_lossy(&o.stdout);
    s.lines()
        .find(|l| l.contains("received"))
        .and_then(|l| l.split(',').nth(1))
        .and_then(|x| x.split_whitespace().next())
        .and_then(|x| x.parse().ok())
        .unwrap_or(0)
}

/// Sends `bytes` over TCP from `from` to 10.1.1.2:5201 in `to`; asserts that count and
/// SHA-256 arrive unchanged.
fn tcp_transfer(from: &str, to: &str, bytes: usize) {
    let server = Command::new("ip")
        .args(["netns", "exec", to, "timeout", "60", "python3", "-c"])
        .arg(
            "import socket,hashlib\n\
             s=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1);s.bind(('10.1.1.2',5201));s.listen(1)\n\
             s.settimeout(30);c,_=s.accept();c.settimeout(30);h=hashlib.sha256();n=0\n\
             while True:\n d=c.recv(65536)\n if not d: break\n h.update(d);n+=len(d)\n\
             print(n,h.hexdigest())",
        )
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let t0 = Instant::now();
    let client = Command::new("ip")
        .args(["netns", "exec", from, "timeout", "60", "python3", "-c"])
        .arg(format!(
            "import socket,hashlib\n\
             b=bytes((i*7)%251 for i in range(1<<20))\n\
             s=socket.create_connection(('10.1.1.2',5201),timeout=30);h=hashlib.sha256();n=0\n\
             while n<{bytes}:\n s.sendall(b);h.update(b);n+=len(b)\n\
             s.close();print(n,h.hexdigest())"
        ))
        .output()
        .unwrap();
    let secs = t0.elapsed().as_secs_f64();
    let srv = server.wait_with_output().unwrap();
    let sent = String::from_utf8_lossy(&client.stdout).trim().to_string();
    let got = String::from_utf8_lossy(&srv.stdout).trim().to_string();
    assert!(
        !sent.is_empty(),
        "client failed: {}",
        String::from_utf8_lossy(&client.stderr)
    );
    assert_eq!(got, sent, "bytes and digest received equal what was sent");
    eprintln!(
        "TCP over DPDK net_af_packet + L2TPv3: {:.1} Mbit/s",
        bytes as f64 * 8.0 / secs / 1e6
    );
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
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(why) = skip_reason() {
        eprintln!("skipped: {why}");
        return;
    }
    let prefix = format!("pwd{}-", std::process::id());
    let dir = tmpdir("dpdk-e2e");
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
    while ping(&h1, "10.1.1.2", 1) != 1 {
        assert!(
            t0.elapsed() < Duration::from_secs(15),
            "first ping across the tunnel\nA:\n{}\nB:\n{}",
            a.cli("show errors"),
            b.cli("show errors")
        );
    }
    assert_eq!(ping(&h1, "10.1.1.2", 10), 10, "h1 -> h2");
    assert_eq!(ping(&h2, "10.1.1.1", 10), 10, "h2 -> h1");
    let hw = a.cli("show hardware-interfaces verbose net_af_packet1");
    assert!(hw.contains("driver name: net_af_packet"), "{hw}");
    tcp_transfer(&h1, &h2, 8 << 20);
    for (p, side) in [(&a, "A"), (&b, "B")] {
        let e = p.cli("show errors");
        assert!(!e.contains("multi-segment"), "{side}: {e}");
        p.cli("set interface state net_af_packet0 down");
        p.cli("set interface state net_af_packet1 down");
        assert_no_leak(p, side);
    }
    drop((a, b));
    let _ = std::fs::remove_dir_all(&dir);
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
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(why) = skip_reason() {
        eprintln!("skipped: {why}");
        return;
    }
    let ns = format!("pwq{}", std::process::id());
    let dir = tmpdir("dpdk-mq");
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
        &p.sock,
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
    let _ = std::fs::remove_dir_all(&dir);
}
