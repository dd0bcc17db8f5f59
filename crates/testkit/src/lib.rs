//! pwire-testkit: what tests drive pwire with.
//!
//! - [`Harness`]: an in-process dataplane (the same `Dataplane` start-up as the binary) with
//!   the interface, pg and test nodes plus whatever feature crates the test names; CLI lines run
//!   exactly as typed at `pwctl`, and the main loop is driven until streams finish.
//! - `test-forward`: a test-only node that sends every packet out of the interface chosen with
//!   `test forward <tx-interface>`; with `packet-generator new { ... node test-forward }` it
//!   makes a pg-in, pg-out loop through the real engine. `test link <if> up|down`: a driver's
//!   link report (carrier), which pg interfaces otherwise never make.
//! - pcap helpers to write stream inputs and read captures, and [`Rng`], a seeded PRNG.
//! - [`netns`]: namespaces, pwire processes, ping and TCP for the end-to-end tests.
//! - [`prereq`]: what a test needs from the machine, and the one rule for a missing
//!   prerequisite (fails as root or in CI, skips saying why elsewhere).

pub mod netns;
pub mod prereq;

/// A small deterministic PRNG (xorshift64*), so random cases are reproducible from their seed.
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next_u64() as u8).collect()
    }
}

use pwire_cli::CliError;
use pwire_graph::{next_nodes, Cx, Frame, Node, NodeKind, NodeReg, Shared};
use pwire_vnet::dataplane::RegisterFn;
use pwire_vnet::registry::cmd;
use pwire_vnet::{Dataplane, Registry};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

next_nodes! { enum FwdNext { Out => "interface-output", Drop => "error-drop" } }

struct TestForward {
    tx: Arc<Shared<u32>>,
}

impl Node for TestForward {
    fn process(&mut self, frame: &mut Frame<'_>, cx: &mut Cx<'_>) {
        let dp = cx.dp();
        let tx = *self.tx.dp(&dp);
        for (b, nx) in frame.iter_mut() {
            b.sw_if_index[1] = tx;
            *nx = if tx == !0 {
                FwdNext::Drop as u16
            } else {
                FwdNext::Out as u16
            };
        }
    }
}

/// Registers `test-forward`, `test forward <if>`, and `test link <if> up|down` (a driver's
/// link report, as AF_PACKET's and DPDK's link tasks make one: carrier for pg interfaces).
pub fn register_test_nodes(r: &mut Registry) {
    r.command(cmd(
        "test link",
        "test link <interface> up|down",
        false,
        move |a, cx| {
            let sw = cx.vnet.parse_if(&cx.ctl, a)?;
            let up = match a.word("state")? {
                "up" => true,
                "down" => false,
                w => return Err(CliError::msg(format!("up or down: `{w}'"))),
            };
            a.expect_end()?;
            pwire_vnet::main_task::apply_link_states(cx, &[(sw, up)]);
            Ok::<(), CliError>(())
        },
    ));
    let tx = Shared::new(!0u32);
    let t = tx.clone();
    r.graph.node(NodeReg::new(
        "test-forward",
        NodeKind::Internal,
        FwdNext::NAMES,
        &[],
        move |_b| Box::new(TestForward { tx: t.clone() }),
    ));
    r.command(cmd(
        "test forward",
        "test forward <tx-interface>",
        false,
        move |a, cx| {
            let sw = cx.vnet.parse_if(&cx.ctl, a)?;
            a.expect_end()?;
            *tx.write(&mut cx.ctl) = sw;
            Ok::<(), CliError>(())
        },
    ));
}

/// The base registrations every harness has.
pub const BASE: &[RegisterFn] = &[
    pwire_node_interface::register,
    pwire_pg::register,
    register_test_nodes,
];

/// An in-process pwire.
#[derive(Debug)]
pub struct Harness {
    pub dp: Dataplane,
    pub dir: TempDir,
}

impl Harness {
    /// A single-threaded dataplane with the base crates only.
    pub fn new() -> Self {
        Self::with("", &[])
    }

    /// `conf` is startup.conf text (sections other than `unix`); `extra` adds feature crates.
    pub fn with(conf: &str, extra: &[RegisterFn]) -> Self {
        let cfg =
            pwire_config::parse_str("test.conf", conf).unwrap_or_else(|e| panic!("config: {e}"));
        let mut regs: Vec<RegisterFn> = BASE.to_vec();
        regs.extend_from_slice(extra);
        std::env::set_var("PWIRE_NO_HUGEPAGES", "1");
        let dp = Dataplane::build(cfg, &regs).unwrap_or_else(|e| panic!("build: {e}"));
        Harness {
            dp,
            dir: TempDir::new("harness"),
        }
    }

    /// Runs a CLI line; panics with the error text if it fails.
    pub fn cli(&mut self, line: &str) -> String {
        self.dp
            .exec(line)
            .unwrap_or_else(|e| panic!("`{line}' failed: {e}"))
    }
    /// Runs a CLI line that must fail; returns the error text.
    pub fn cli_err(&mut self, line: &str) -> String {
        match self.dp.exec(line) {
            Ok(o) => panic!("`{line}' should have failed, printed: {o}"),
            Err(e) => e,
        }
    }

    /// Enables every stream and runs until all are done and the graph is empty (10 s limit).
    pub fn run_streams(&mut self) {
        self.cli("packet-generator enable-stream");
        self.wait_streams(Duration::from_secs(10));
    }

    /// Runs until every stream has stopped; panics on timeout.
    pub fn wait_streams(&mut self, timeout: Duration) {
        let ok = self.dp.run_until(timeout, |dp| {
            let out = dp.exec("show packet-generator").unwrap_or_default();
            !out.lines().skip(1).any(|l| l.contains(" Yes "))
        });
        assert!(ok, "streams did not finish in {timeout:?}");
        // Let in-flight frames drain (workers finish their loop iteration).
        for _ in 0..8 {
            self.dp.run_once();
        }
        if self.dp.n_workers() > 0 {
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends `pkts` once each from pg interface `iface` into `node`, waits until they are
    /// through, and deletes the stream.
    pub fn send(&mut self, name: &str, iface: &str, node: &str, pkts: &[Vec<u8>]) {
        self.stream(name, iface, node, pkts);
        self.cli(&format!("packet-generator enable-stream {name}"));
        self.wait_streams(Duration::from_secs(20));
        self.cli(&format!("packet-generator delete {name}"));
    }

    /// Makes (without enabling) a stream sending `pkts` once each from pg interface `iface`
    /// into `node`: several made this way and enabled together ([`Self::run_streams`]) share
    /// pg-input's frames.
    pub fn stream(&mut self, name: &str, iface: &str, node: &str, pkts: &[Vec<u8>]) {
        let p = self.pcap(&format!("{name}.pcap"), 1, pkts);
        self.cli(&format!(
            "packet-generator new {{ name {name} limit {} interface {iface} node {node} pcap {} }}",
            pkts.len(),
            p.display()
        ));
    }

    /// Counter `name` (`rx packets`, `drops`, `ip6`, ...) of interface `iface` as `show
    /// interface` prints it (on the interface's line or a line of its own); 0 when it is not
    /// printed (VPP leaves zero counters out). Whole words: `rx` is not `rx-no-buf`.
    pub fn interface_counter(&mut self, iface: &str, name: &str) -> u64 {
        let want: Vec<&str> = name.split_whitespace().collect();
        let out = self.cli(&format!("show interface {iface}"));
        out.lines()
            .find_map(|l| {
                let w: Vec<&str> = l.split_whitespace().collect();
                w.windows(want.len() + 1)
                    .find(|x| x[..want.len()] == want[..])
                    .and_then(|x| x[want.len()].parse().ok())
            })
            .unwrap_or(0)
    }

    /// Arms a capture of what pg interface `iface` transmits, into a fresh file; returns it.
    pub fn capture(&mut self, iface: &str) -> PathBuf {
        static N: AtomicU32 = AtomicU32::new(0);
        let p = self.path(&format!(
            "{iface}-{}.pcap",
            N.fetch_add(1, Ordering::Relaxed)
        ));
        self.cli(&format!(
            "packet-generator capture {iface} pcap {}",
            p.display()
        ));
        p
    }

    /// Stops the capture on `iface` and returns the packets it wrote.
    pub fn captured(&mut self, iface: &str, p: &Path) -> Vec<Vec<u8>> {
        self.cli(&format!("packet-generator capture {iface} disable"));
        read_pcap(p)
    }

    /// Runs the main loop for about `d`.
    pub fn run_for(&mut self, d: Duration) {
        let _ = self.dp.run_until(d, |_| false);
    }

    /// Sum over threads of a node counter by its VPP name.
    pub fn counter(&self, node: &str, name: &str) -> u64 {
        self.dp
            .vnet
            .engine()
            .counter_by_name(node, name)
            .unwrap_or_else(|| panic!("no counter `{name}' on node `{node}'"))
    }

    /// Calls and vectors of `node` as `show runtime` prints them (the first thread listing
    /// it: the main thread when it runs the node).
    pub fn runtime_of(&mut self, node: &str) -> (u64, u64) {
        let rt = self.cli("show runtime");
        let w: Vec<&str> = rt
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .find(|w| w.first() == Some(&node))
            .unwrap_or_else(|| panic!("{node} not in:\n{rt}"));
        let num = |k: usize| {
            w.get(k)
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{node}: no number in column {k}:\n{rt}"))
        };
        (num(2), num(3))
    }

    /// Asserts that every buffer is back in the pool (no leak).
    pub fn assert_all_free(&self) {
        let p = &self.dp.vnet.engine().pool;
        assert_eq!(
            p.free_count(),
            p.n_buffers(),
            "buffers leaked: {} of {} free",
            p.free_count(),
            p.n_buffers()
        );
    }

    /// Writes packets to a pcap in the harness's temp dir; returns its path.
    pub fn pcap(&self, name: &str, linktype: u32, pkts: &[Vec<u8>]) -> PathBuf {
        let p = self.dir.path().join(name);
        write_pcap(&p, linktype, pkts);
        p
    }

    /// A path in the harness's temp dir.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

impl Default for Harness {
    fn default() -> Self {
        Self::new()
    }
}

/// Writes a classic pcap.
pub fn write_pcap(path: &Path, linktype: u32, pkts: &[Vec<u8>]) {
    let f = std::fs::File::create(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut w =
        pwire_pcap::PcapWriter::new(std::io::BufWriter::new(f), linktype).expect("pcap header");
    for (i, p) in pkts.iter().enumerate() {
        w.write_packet(i as u32, 0, p.len() as u32, p)
            .expect("pcap record");
    }
    w.flush().expect("pcap flush");
}

/// Reads every packet of a pcap.
pub fn read_pcap(path: &Path) -> Vec<Vec<u8>> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let r = pwire_pcap::PcapReader::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    r.records()
        .map(|rec| rec.expect("pcap record").data.to_vec())
        .collect()
}

/// A directory removed on drop.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "pwire-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&p).expect("temp dir");
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Hex string (whitespace allowed) to bytes, for golden packets written inline.
pub fn hex(s: &str) -> Vec<u8> {
    let d: String = s.chars().filter(|c| c.is_ascii_hexdigit()).collect();
    assert!(d.len().is_multiple_of(2), "odd hex");
    (0..d.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&d[i..i + 2], 16).expect("hex"))
        .collect()
}

/// The shared testdata directory (`../shared/testdata` beside the checkout).
pub fn shared_testdata() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata");
    assert!(
        p.is_dir(),
        "shared testdata missing at {} (CI clones ../shared beside the project)",
        p.display()
    );
    p
}
