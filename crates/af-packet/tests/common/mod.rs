//! Test helpers: a throw-away network namespace with a veth pair, and a way
//! to run code inside it on a dedicated thread.

#![allow(dead_code)]

use std::fs::File;
use std::os::fd::AsRawFd;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard};

use pwire_testkit::prereq::{self, require};

/// The netns tests share 2 cores and measure throughput: run them one at
/// a time.
static SERIAL: Mutex<()> = Mutex::new(());

pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Ok if we can run netns tests (root, and iproute2), else why not.
pub fn prerequisites() -> Result<(), String> {
    prereq::root()?;
    prereq::tool("ip", "-V")
}

fn run(cmd: &str, args: &[&str]) -> Result<(), String> {
    let o = Command::new(cmd)
        .args(args)
        .output()
        .map_err(|e| format!("{cmd} {args:?}: {e}"))?;
    if o.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd} {args:?}: {}: {}",
            o.status,
            String::from_utf8_lossy(&o.stderr).trim()
        ))
    }
}

/// A uniquely named network namespace, deleted on drop (also on panic).
pub struct Netns {
    pub name: String,
}

static SEQ: AtomicU32 = AtomicU32::new(0);

impl Netns {
    /// Creates `pwtest-afp-<pid>-<n>`.
    pub fn new() -> Result<Netns, String> {
        let name = format!(
            "pwtest-afp-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        );
        run("ip", &["netns", "add", &name])?;
        Ok(Netns { name })
    }

    /// `ip -n <ns> <args>`; panics with ip's stderr on failure.
    pub fn ip(&self, args: &[&str]) {
        let mut v = vec!["-n", self.name.as_str()];
        v.extend_from_slice(args);
        run("ip", &v).unwrap_or_else(|e| panic!("{e}"));
    }

    /// `ip netns exec <ns> <cmd> <args>`; panics on failure.
    pub fn exec(&self, cmd: &str, args: &[&str]) {
        let mut v = vec!["netns", "exec", self.name.as_str(), cmd];
        v.extend_from_slice(args);
        run("ip", &v).unwrap_or_else(|e| panic!("{e}"));
    }

    /// Creates veth pair `a`/`b` in the namespace, IPv6 off, both up.
    pub fn veth(&self, a: &str, b: &str) {
        self.ip(&["link", "add", a, "type", "veth", "peer", "name", b]);
        for i in [a, b] {
            // Keep them quiet: no IPv6 means no DAD/RS/MLD frames.
            self.exec(
                "sysctl",
                &["-qw", &format!("net.ipv6.conf.{i}.disable_ipv6=1")],
            );
        }
        self.ip(&["link", "set", a, "up"]);
        self.ip(&["link", "set", b, "up"]);
    }

    /// Runs `f` on a fresh thread that has joined this namespace, so the
    /// test harness threads stay where they are. Panics propagate.
    pub fn run<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        let path = format!("/var/run/netns/{}", self.name);
        std::thread::scope(|s| {
            let h = s.spawn(move || {
                let ns = File::open(&path).unwrap_or_else(|e| panic!("open {path}: {e}"));
                // SAFETY: `ns` is an open netns file; setns only changes this
                // (dedicated, short-lived) thread's network namespace.
                let rc = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
                assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
                f()
            });
            match h.join() {
                Ok(r) => r,
                Err(p) => std::panic::resume_unwind(p),
            }
        })
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        if let Err(e) = run("ip", &["netns", "del", &self.name]) {
            eprintln!("cleanup: {e}");
        }
    }
}

/// Serialises the test, checks privileges, and makes a namespace with a
/// veth pair `va`/`vb`. `None` means the test returns: a prerequisite is missing and this
/// machine may skip (as root or in CI it panics instead, see pwire_testkit::prereq).
pub fn setup() -> Option<(MutexGuard<'static, ()>, Netns)> {
    let guard = serial();
    require(prerequisites())?;
    let ns = require(Netns::new().map_err(|e| format!("cannot create a netns: {e}")))?;
    ns.veth("va", "vb");
    Some((guard, ns))
}

/// A DUT namespace with one veth pair per name `x`: `x1` is pwire's side, `x0` the far side.
/// With `host_ns`, every far side lives in a namespace of its own (`hosts[i]`), so that each
/// has its own IP stack; otherwise both ends stay in the DUT namespace.
pub struct Topo {
    pub dut: Netns,
    pub hosts: Vec<Netns>,
}

/// Serialises the test, checks privileges and builds a [`Topo`]. `None` means the test
/// returns, as for [`setup`].
pub fn dut_setup(pairs: &[&str], host_ns: bool) -> Option<(MutexGuard<'static, ()>, Topo)> {
    let guard = serial();
    require(prerequisites())?;
    let dut = require(Netns::new().map_err(|e| format!("cannot create a netns: {e}")))?;
    let mut hosts = Vec::new();
    for p in pairs {
        let (far, near) = (format!("{p}0"), format!("{p}1"));
        dut.veth(&far, &near);
        if host_ns {
            let h = Netns::new().unwrap_or_else(|e| panic!("{e}"));
            dut.ip(&["link", "set", &far, "netns", &h.name]);
            h.exec(
                "sysctl",
                &["-qw", &format!("net.ipv6.conf.{far}.disable_ipv6=1")],
            );
            h.ip(&["link", "set", "lo", "up"]);
            h.ip(&["link", "set", &far, "up"]);
            hosts.push(h);
        }
    }
    Some((guard, Topo { dut, hosts }))
}
