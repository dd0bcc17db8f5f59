//! Network-namespace plumbing shared by the end-to-end tests that run real `pwire` processes
//! (tests/e2e.rs over af-packet, crates/pwire/tests/dpdk_netns.rs over DPDK): their
//! prerequisites, scripts/netns.sh, a pwire process inside a namespace, ping and a TCP
//! transfer checked by digest. Every wait is bounded.

use crate::prereq;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// What the namespace tests need: root, and `ip`, `ping` and each of `extra` runnable; Err
/// says what is missing (see [`crate::prereq`] for what a test does with it).
pub fn prerequisites(extra: &[&str]) -> Result<(), String> {
    prereq::root().map_err(|e| format!("network namespaces: {e}"))?;
    for bin in ["ip", "ping"].iter().chain(extra) {
        prereq::tool(bin, "-V")?;
    }
    Ok(())
}

/// Runs `script` in bash after sourcing `<root>/scripts/netns.sh`, with `PW_PREFIX=prefix`
/// and the extra environment `env` (e.g. `PW_DPDK=1`).
pub fn netns_sh(root: &Path, prefix: &str, env: &[(&str, &str)], script: &str) -> Output {
    Command::new("bash")
        .arg("-c")
        .arg(format!(". {}/scripts/netns.sh; {script}", root.display()))
        .env("PW_PREFIX", prefix)
        .envs(env.iter().copied())
        .output()
        .expect("bash")
}

/// A `pwire` process in a namespace; stopped with SIGTERM (then SIGKILL) on drop.
#[derive(Debug)]
pub struct NsPwire {
    child: Option<Child>,
    pub sock: PathBuf,
}

impl NsPwire {
    /// Starts binary `bin` with config `conf` in namespace `ns` and waits (at most 30 s) for
    /// its CLI socket `sock`; panics with pwire's stderr if it exits or times out first.
    pub fn start(bin: &Path, ns: &str, conf: &Path, sock: PathBuf) -> NsPwire {
        let _ = std::fs::remove_file(&sock);
        let child = Command::new("ip")
            .args(["netns", "exec", ns])
            .arg(bin)
            .arg("-c")
            .arg(conf)
            .env("PWIRE_NO_HUGEPAGES", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("pwire");
        let mut p = NsPwire {
            child: Some(child),
            sock,
        };
        let t0 = Instant::now();
        while !p.sock.exists() {
            let c = p.child.as_mut().expect("child");
            let exited = c.try_wait().ok().flatten().is_some();
            if exited || t0.elapsed() > Duration::from_secs(30) {
                let mut c = p.child.take().expect("child");
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

    /// SIGTERM (pwire shuts down cleanly: workers joined, socket removed), SIGKILL after 5 s.
    pub fn stop(&mut self) {
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

impl Drop for NsPwire {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Pings `to` `count` times (0.2 s apart) from namespace `ns`; returns (received, avg rtt ms).
pub fn ping(ns: &str, to: &str, count: u32) -> (u32, f64) {
    let o = Command::new("ip")
        .args(["netns", "exec", ns, "ping", "-c", &count.to_string()])
        .args(["-i", "0.2", "-W", "1", to])
        .output()
        .unwrap();
    let s = String::from_utf8_lossy(&o.stdout);
    let rx = s
        .lines()
        .find(|l| l.contains("received"))
        .and_then(|l| l.split(',').nth(1))
        .and_then(|x| x.split_whitespace().next())
        .and_then(|x| x.parse().ok())
        .unwrap_or(0);
    let avg = s
        .lines()
        .find(|l| l.contains("min/avg/max"))
        .and_then(|l| l.split('=').nth(1))
        .and_then(|x| x.split('/').nth(1))
        .and_then(|x| x.trim().parse().ok())
        .unwrap_or(0.0);
    (rx, avg)
}

/// Sends `bytes` over TCP from namespace `from` to 10.1.1.2:5201 in `to` (python3 on both
/// ends, each bounded by `timeout 60`); asserts that byte count and SHA-256 arrive unchanged
/// and returns the rate in Mbit/s.
pub fn tcp_transfer(from: &str, to: &str, bytes: usize) -> f64 {
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
    let n: f64 = sent.split_whitespace().next().unwrap().parse().unwrap();
    n * 8.0 / secs / 1e6
}
