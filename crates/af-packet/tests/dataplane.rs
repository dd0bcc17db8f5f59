//! pwire forwarding between host interfaces, end to end: veth pairs in a private network
//! namespace, the dataplane (testkit `Harness`) running on a thread that joined it (AF_PACKET
//! sockets bind in the namespace of the thread that creates them, and the CLI creates them on
//! the harness thread), frames sent and received on the far ends of the pairs.
//!
//! `ethernet-input` is a stand-in here (`register_xc`): it forwards every frame of rx interface
//! X to the tx interface set with `test xc <X> <Y>`, through `interface-output`, so these tests
//! depend on no other feature crate.
//!
//! Need root and iproute2: without them each test fails as root or in CI, and skips saying why
//! elsewhere (pwire_testkit::prereq).

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::dut_setup;
use pwire_af_packet::{Epoll, HostIf, Opts, Ready, RxPkt};
use pwire_cli::CliError;
use pwire_graph::{counters, next_nodes, Cx, Frame, Node, NodeKind, NodeReg, Shared};
use pwire_testkit::Harness;
use pwire_vnet::registry::cmd;
use pwire_vnet::Registry;

// ---- the ethernet-input stand-in --------------------------------------------------------------

next_nodes! { enum XcNext { Out => "interface-output", Drop => "error-drop" } }
counters! { enum XcC { NoPeer: error = "no xconnect peer" } }

/// Stand-in configuration: rx sw_if_index -> tx sw_if_index, and how many buffers to keep
/// instead of forwarding (to empty the pool in the rx-no-buf test).
#[derive(Debug, Default)]
struct XcConf {
    map: Vec<u32>,
    hold: usize,
    /// Held buffers (test code: a lock per held packet is fine here).
    held: std::sync::Mutex<Vec<pwire_buffer::BufferIndex>>,
}

struct Xc {
    conf: std::sync::Arc<Shared<XcConf>>,
}

impl Node for Xc {
    fn process(&mut self, frame: &mut Frame<'_>, cx: &mut Cx<'_>) {
        let dp = cx.dp();
        let conf = self.conf.dp(&dp);
        let mut held = conf.held.lock().unwrap();
        let e = cx.error(XcC::NoPeer);
        for (bi, b, nx) in frame.iter_mut_bi() {
            if held.len() < conf.hold {
                held.push(bi);
                *nx = pwire_graph::NEXT_CONSUMED;
                continue;
            }
            match conf.map.get(b.rx() as usize).copied().filter(|&t| t != !0) {
                Some(t) => {
                    b.sw_if_index[1] = t;
                    *nx = XcNext::Out as u16;
                }
                None => {
                    b.error = e;
                    *nx = XcNext::Drop as u16;
                }
            }
        }
    }
}

/// Registers a test-only `ethernet-input`, `test xc <rx-if> <tx-if>` and `test xc-hold <n>`.
fn register_xc(r: &mut Registry) {
    let conf = Shared::new(XcConf::default());
    let c = conf.clone();
    r.graph.node(NodeReg::new(
        "ethernet-input",
        NodeKind::Internal,
        XcNext::NAMES,
        XcC::DECLS,
        move |_| Box::new(Xc { conf: c.clone() }),
    ));
    let c = conf.clone();
    r.command(cmd(
        "test xc-hold",
        "test xc-hold <n>",
        false,
        move |a, cx| {
            let n: usize = a.value("count")?;
            a.expect_end()?;
            let extra = {
                let w = c.write(&mut cx.ctl);
                w.hold = n;
                let mut held = w.held.lock().unwrap();
                let k = held.len().min(n);
                held.split_off(k)
            };
            // Held buffers were allocated on the main thread (no workers in that test).
            if let Some(rt) = cx.main.as_mut() {
                // SAFETY: `extra` left the held list, where `Xc` put frame buffers it consumed
                // (next NEXT_CONSUMED), each once: nothing else holds them.
                unsafe { rt.cache().free(&extra) };
            }
            Ok::<(), CliError>(())
        },
    ));
    r.command(cmd(
        "test xc",
        "test xc <rx-interface> <tx-interface>",
        false,
        move |a, cx| {
            let rx = cx.vnet.parse_if(&cx.ctl, a)?;
            let tx = cx.vnet.parse_if(&cx.ctl, a)?;
            a.expect_end()?;
            let v = &mut conf.write(&mut cx.ctl).map;
            if v.len() <= rx as usize {
                v.resize(rx as usize + 1, !0);
            }
            v[rx as usize] = tx;
            Ok::<(), CliError>(())
        },
    ));
}

fn harness(conf: &str) -> Harness {
    Harness::with(conf, &[pwire_af_packet::register, register_xc])
}

/// Creates `host-<p>1` for every pair, admin up, and a one-way xconnect `from` -> `to`.
fn wire(h: &mut Harness, pairs: &[&str], links: &[(&str, &str)]) {
    wire_with(h, pairs, links, "");
}

/// [`wire`], with `opts` (e.g. `v2 `) between `create host-interface` and `name`.
fn wire_with(h: &mut Harness, pairs: &[&str], links: &[(&str, &str)], opts: &str) {
    for p in pairs {
        let out = h.cli(&format!("create host-interface {opts}name {p}1"));
        assert_eq!(out, format!("host-{p}1\n"));
        h.cli(&format!("set interface state host-{p}1 up"));
    }
    for (a, b) in links {
        h.cli(&format!("test xc host-{a}1 host-{b}1"));
    }
}

// ---- frames -----------------------------------------------------------------------------------

/// Local experimental EtherType: nothing else in the namespace sends it.
const ETYPE: u16 = 0x88b5;

fn frame_len(seq: u32) -> usize {
    60 + (seq as usize * 7919) % (1514 - 60 + 1)
}

/// Test frame `seq` of stream `stream`: broadcast, our EtherType, stream and sequence number,
/// then a pattern.
fn fill(buf: &mut [u8], stream: u8, seq: u32, len: usize) {
    buf[..6].copy_from_slice(&[0xff; 6]);
    buf[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, stream]);
    buf[12..14].copy_from_slice(&ETYPE.to_be_bytes());
    buf[14] = stream;
    buf[15..19].copy_from_slice(&seq.to_be_bytes());
    for (i, b) in buf[19..len].iter_mut().enumerate() {
        *b = (seq as u8).wrapping_mul(31).wrapping_add(i as u8) ^ stream;
    }
}

fn parse(p: &RxPkt<'_>) -> Option<(u8, u32)> {
    let d = p.data;
    (d.len() >= 19 && u16::from_be_bytes([d[12], d[13]]) == ETYPE)
        .then(|| (d[14], u32::from_be_bytes([d[15], d[16], d[17], d[18]])))
}

/// Far-end traffic of one test: sends streams on `tx` sockets, receives on `rx`, checks order
/// and bytes per stream. Runs on its own thread while the harness thread runs pwire.
struct Traffic {
    received: AtomicU64,
    sent: AtomicU64,
    stop: AtomicBool,
    /// Every frame must arrive (else gaps are allowed, order still checked).
    strict: bool,
}

impl Traffic {
    fn new() -> Self {
        Traffic {
            received: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            stop: AtomicBool::new(false),
            strict: true,
        }
    }

    /// Sends `n` frames on each of `txs` (stream id = index) with at most `window` frames per
    /// stream not yet seen on `rx`, and checks what `rx` gets. Returns frames received per
    /// stream.
    fn run(&self, txs: &mut [HostIf], rx: &mut HostIf, n: u32, window: u32) -> Vec<u32> {
        let ns = txs.len();
        let mut sent = vec![0u32; ns];
        let mut got = vec![0u32; ns];
        let mut exp = vec![0u8; 2048];
        let ep = Epoll::new().unwrap();
        ep.add(rx.fd(), 1).unwrap();
        let mut ready = [Ready::default(); 4];
        let deadline = Instant::now() + Duration::from_secs(60);
        while got.iter().any(|&g| g < n) && !self.stop.load(Ordering::Relaxed) {
            assert!(
                Instant::now() < deadline,
                "timeout: sent {sent:?} got {got:?}"
            );
            for (s, tx) in txs.iter_mut().enumerate() {
                // At most one ring's worth per round: `tx_slot` flushes a full ring itself, so
                // with a large window the loop would otherwise never get to receiving.
                let mut burst = 0;
                while sent[s] < n && sent[s] - got[s] < window && burst < 512 {
                    burst += 1;
                    let Some(mut slot) = tx.tx_slot() else { break };
                    let len = frame_len(sent[s]);
                    fill(slot.buf(), s as u8, sent[s], len);
                    slot.commit(len).unwrap();
                    sent[s] += 1;
                    self.sent.fetch_add(1, Ordering::Relaxed);
                }
                tx.tx_flush().unwrap();
            }
            let k = rx.rx_burst(256, |p| {
                let Some((s, seq)) = parse(&p) else {
                    return true;
                };
                let s = usize::from(s);
                assert!(s < ns, "unknown stream {s}");
                if self.strict {
                    assert_eq!(seq, got[s], "stream {s} out of order or lost");
                } else {
                    assert!(
                        seq >= got[s],
                        "stream {s} out of order: {seq} after {}",
                        got[s]
                    );
                }
                let len = frame_len(seq);
                fill(&mut exp, s as u8, seq, len);
                assert_eq!(p.data.len(), len, "length of frame {s}/{seq}");
                assert!(p.data == &exp[..len], "bytes of frame {s}/{seq} differ");
                got[s] = seq + 1;
                self.received.fetch_add(1, Ordering::Relaxed);
                true
            });
            if k == 0 {
                ep.wait(&mut ready, 2).unwrap();
            }
        }
        got
    }
}

/// Opens a far-end socket on `ifname` (no promiscuous mode needed: frames are broadcast).
fn far(ifname: &str) -> HostIf {
    HostIf::open(ifname, &Opts::default()).unwrap_or_else(|e| panic!("{ifname}: {e}"))
}

/// CPU seconds used so far by thread `tid` of this process (the scheduler's exact run time,
/// first field of `/proc/self/task/<tid>/schedstat`, in ns).
fn thread_cpu(tid: u64) -> f64 {
    let s = std::fs::read_to_string(format!("/proc/self/task/{tid}/schedstat")).unwrap();
    let ns: u64 = s.split_whitespace().next().unwrap().parse().unwrap();
    ns as f64 / 1e9
}

fn my_tid() -> u64 {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::syscall(libc::SYS_gettid) }.cast_unsigned()
}

fn counter_of(show_int: &str, ifname: &str, name: &str) -> u64 {
    // Rows: the interface line carries the first counter, continuation lines the others.
    let mut in_if = false;
    for l in show_int.lines() {
        if l.starts_with(ifname) && l[ifname.len()..].starts_with(' ') {
            in_if = true;
        } else if !l.starts_with(' ') {
            in_if = false;
        }
        if in_if {
            let t = l.get(68..).unwrap_or("").trim_start();
            if let Some(v) = t.strip_prefix(name) {
                if let Ok(n) = v.trim().parse() {
                    return n;
                }
            }
        }
    }
    0
}

// ---- tests ------------------------------------------------------------------------------------

#[test]
fn forwards_10k_frames_in_order_with_counters_trace_and_placement() {
    let Some((_g, topo)) = dut_setup(&["a", "b"], false) else {
        return;
    };
    topo.dut.run(|| {
        let mut h = harness("");
        wire(&mut h, &["a", "b"], &[("a", "b")]);
        let out = h.cli("show interface rx-placement");
        assert_eq!(
            out,
            "Thread 0 (vpp_main):\n  node af-packet-input:\n    host-a1 queue 0 (interrupt)\n    host-b1 queue 0 (interrupt)\n"
        );
        let hw = h.cli("show hardware-interfaces host-a1");
        assert!(hw.contains("host-a1") && hw.contains(" up "), "{hw}");
        assert!(hw.contains("Ethernet address 02:fe:"), "{hw}");
        assert!(hw.contains("interrupt"), "{hw}");
        let show = h.cli("show interface");
        assert!(show.contains("host-a1") && show.contains("up"), "{show}");

        const N: u32 = 10_000;
        let t = Traffic::new();
        let mut a0 = far("a0");
        let mut b0 = far("b0");
        let el = std::thread::scope(|s| {
            let th = s.spawn(|| {
                let t0 = Instant::now();
                let got = t.run(std::slice::from_mut(&mut a0), &mut b0, N, 512);
                (got, t0.elapsed())
            });
            let ok = h
                .dp
                .run_until(Duration::from_secs(60), |_| th.is_finished());
            assert!(ok);
            let (got, el) = th.join().unwrap();
            assert_eq!(got, [N]);
            el
        });
        eprintln!(
            "10k frames 60..1514 B through pwire (interrupt mode, main thread, window 512): \
             {:.0} pps",
            f64::from(N) / el.as_secs_f64()
        );
        let show = h.cli("show interface");
        eprintln!("{show}");
        assert_eq!(counter_of(&show, "host-a1", "rx packets"), u64::from(N));
        assert_eq!(counter_of(&show, "host-b1", "tx packets"), u64::from(N));
        let bytes: u64 = (0..N).map(|s| frame_len(s) as u64).sum();
        assert_eq!(counter_of(&show, "host-a1", "rx bytes"), bytes);
        assert_eq!(counter_of(&show, "host-b1", "tx bytes"), bytes);
        assert_eq!(counter_of(&show, "host-b1", "tx-error"), 0);

        // Trace: three packets, VPP's af_packet record, through the graph to af-packet-tx.
        h.cli("trace add af-packet-input 3");
        let mut buf = vec![0u8; 100];
        for seq in 0..5 {
            fill(&mut buf, 0, seq, 100);
            a0.tx_send(&buf).unwrap();
        }
        a0.tx_flush().unwrap();
        let ok = h.dp.run_until(Duration::from_secs(5), |dp| {
            dp.exec("show interface host-b1")
                .is_ok_and(|s| counter_of(&s, "host-b1", "tx packets") == u64::from(N) + 5)
        });
        assert!(ok, "5 more frames not forwarded");
        let tr = h.cli("show trace");
        eprintln!("{tr}");
        assert_eq!(tr.matches("Packet ").count(), 3, "{tr}");
        assert_eq!(tr.matches(": af-packet-input\n").count(), 3, "{tr}");
        let a1 = if_index(&mut h, "host-a1");
        assert!(tr.contains(&format!("  af_packet: hw_if_index {a1} next-index 0\n")));
        assert!(tr.contains("    tpacket3_hdr:\n      status 0x"), "{tr}");
        assert!(tr.contains(" len 100 snaplen 100 mac "), "{tr}");
        assert!(tr.contains("    vnet-hdr:\n      flags 0x00 gso_type 0x00"), "{tr}");
        assert!(tr.contains(": interface-output\n"), "{tr}");
        assert!(tr.contains(": af-packet-tx\n"), "{tr}");
        assert!(tr.contains("af_packet: hw_if_index"), "{tr}");
        drop(h);
    });
}

/// The Idx column of `show interface <ifname>`.
fn if_index(h: &mut Harness, ifname: &str) -> u32 {
    let s = h.cli(&format!("show interface {ifname}"));
    let row = s.lines().find(|l| l.starts_with(ifname)).unwrap();
    row.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn idle_interrupt_mode_uses_little_cpu() {
    let Some((_g, topo)) = dut_setup(&["a"], false) else {
        return;
    };
    topo.dut.run(|| {
        // The main thread polls the queue.
        let mut h = harness("");
        wire(&mut h, &["a"], &[]);
        let me = my_tid();
        h.run_for(Duration::from_millis(300));
        let measure = |h: &mut Harness, tid: u64| {
            let c0 = thread_cpu(tid);
            let t0 = Instant::now();
            h.run_for(Duration::from_secs(2));
            (thread_cpu(tid) - c0) / t0.elapsed().as_secs_f64() * 100.0
        };
        let intr = measure(&mut h, me);
        h.cli("set interface rx-mode host-a1 polling");
        let poll = measure(&mut h, me);
        h.cli("set interface rx-mode host-a1 adaptive");
        let adapt = measure(&mut h, me);
        eprintln!(
            "main thread CPU over 2 s, one idle host interface: interrupt {intr:.1}%, \
             polling {poll:.1}%, adaptive {adapt:.1}%"
        );
        assert!(intr < 5.0, "interrupt mode burns {intr:.1}% CPU while idle");
        assert!(
            adapt < 5.0,
            "adaptive mode burns {adapt:.1}% CPU while idle"
        );
        drop(h);

        // A worker polls the queue.
        let mut h = harness("cpu { workers 1 }");
        wire(&mut h, &["a"], &[]);
        let out = h.cli("show interface rx-placement");
        assert!(
            out.starts_with(
                "Thread 1 (vpp_wk_0):\n  node af-packet-input:\n    host-a1 queue 0 (interrupt)"
            ),
            "{out}"
        );
        h.run_for(Duration::from_millis(300));
        let wk = h.dp.vnet.engine().threads[1].lwp.load(Ordering::Relaxed);
        assert_ne!(wk, 0);
        let intr = measure(&mut h, wk);
        h.cli("set interface rx-mode host-a1 polling");
        let poll = measure(&mut h, wk);
        eprintln!("worker CPU over 2 s: interrupt {intr:.1}%, polling {poll:.1}%");
        assert!(
            intr < 5.0,
            "interrupt mode worker burns {intr:.1}% CPU while idle"
        );
        let woke = h.dp.vnet.engine().threads[1]
            .idle
            .timeouts
            .load(Ordering::Relaxed);
        assert!(woke > 0, "the worker never waited on its epoll set");
    });
}

#[test]
fn interrupt_mode_wakes_on_traffic_and_adaptive_switches() {
    let Some((_g, topo)) = dut_setup(&["a", "b"], false) else {
        return;
    };
    topo.dut.run(|| {
        let mut h = harness("");
        wire(&mut h, &["a", "b"], &[("a", "b")]);
        let mut a0 = far("a0");
        let mut b0 = far("b0");
        let mut buf = vec![0u8; 100];
        let mut send = |a0: &mut HostIf, first: u32, n: u32| {
            for seq in first..first + n {
                fill(&mut buf, 0, seq, 100);
                a0.tx_send(&buf).unwrap();
            }
            a0.tx_flush().unwrap();
        };
        let rx_pkts = |h: &mut Harness| {
            let s = h.cli("show interface host-a1");
            counter_of(&s, "host-a1", "rx packets")
        };
        // Interrupt: after a dispatch with packets the thread may still block.
        for mode in ["interrupt", "adaptive", "polling"] {
            h.cli(&format!("set interface rx-mode host-a1 {mode}"));
            for _ in 0..3 {
                h.dp.run_once();
            }
            let base = rx_pkts(&mut h);
            send(&mut a0, 0, 50);
            // Wait for the block to be retired (1 ms), then one dispatch reads all 50.
            std::thread::sleep(Duration::from_millis(20));
            h.dp.run_once();
            assert_eq!(rx_pkts(&mut h), base + 50, "{mode}");
            let after_burst = h.dp.idle_can_block();
            h.dp.run_once();
            h.dp.run_once();
            let after_idle = h.dp.idle_can_block();
            eprintln!("{mode}: may block after burst {after_burst}, after 2 idle {after_idle}");
            match mode {
                "interrupt" => assert!(after_burst && after_idle),
                // ≥ 10 packets switch to polling; two dispatches ≤ 5 switch back.
                "adaptive" => assert!(!after_burst && after_idle),
                _ => assert!(!after_burst && !after_idle),
            }
        }
        // The frames reached the far side.
        let mut n = 0;
        let deadline = Instant::now() + Duration::from_secs(5);
        while n < 150 && Instant::now() < deadline {
            h.dp.run_once();
            b0.rx_burst(256, |p| {
                n += usize::from(parse(&p).is_some());
                true
            });
        }
        assert_eq!(n, 150);

        // A thread blocked in epoll_wait wakes for a frame: latency well under the 1 ms
        // slice + 1 ms block retire timeout.
        h.cli("set interface rx-mode host-a1 interrupt");
        h.run_for(Duration::from_millis(50));
        let base = rx_pkts(&mut h);
        let t0 = Instant::now();
        send(&mut a0, 200, 1);
        let ok = h.dp.run_until(Duration::from_secs(2), |dp| {
            dp.exec("show interface host-a1")
                .is_ok_and(|s| counter_of(&s, "host-a1", "rx packets") == base + 1)
        });
        assert!(ok);
        eprintln!("interrupt mode: one frame seen after {:?}", t0.elapsed());
    });
}

#[test]
fn admin_down_forwards_nothing_and_nothing_stale_later() {
    let Some((_g, topo)) = dut_setup(&["a", "b"], false) else {
        return;
    };
    topo.dut.run(|| {
        let mut h = harness("");
        wire(&mut h, &["a", "b"], &[("a", "b")]);
        h.cli("set interface state host-a1 down");
        let mut a0 = far("a0");
        let mut b0 = far("b0");
        let mut buf = vec![0u8; 200];
        for seq in 0..100 {
            fill(&mut buf, 0, seq, 200);
            a0.tx_send(&buf).unwrap();
        }
        a0.tx_flush().unwrap();
        h.run_for(Duration::from_millis(300));
        let mut got = 0;
        b0.rx_burst(1000, |p| {
            got += usize::from(parse(&p).is_some());
            true
        });
        assert_eq!(got, 0, "admin-down interface forwarded");
        assert_eq!(h.counter("af-packet-input", "interface is down"), 100);
        let s = h.cli("show interface host-a1");
        assert_eq!(counter_of(&s, "host-a1", "rx packets"), 0, "{s}");

        h.cli("set interface state host-a1 up");
        for seq in 100..110 {
            fill(&mut buf, 0, seq, 200);
            a0.tx_send(&buf).unwrap();
        }
        a0.tx_flush().unwrap();
        let mut seen = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(5);
        while seen.len() < 10 && Instant::now() < deadline {
            h.run_for(Duration::from_millis(5));
            b0.rx_burst(1000, |p| {
                if let Some((_, s)) = parse(&p) {
                    seen.push(s);
                }
                true
            });
        }
        assert_eq!(
            seen,
            (100..110).collect::<Vec<_>>(),
            "stale or missing frames"
        );
        h.assert_all_free();
    });
}

/// Sends `n` frames of `len` bytes from `tx` (stream 0, sequence from `first`).
fn send_frames(tx: &mut HostIf, first: u32, n: u32, len: usize) {
    let mut buf = vec![0u8; len];
    for seq in first..first + n {
        fill(&mut buf, 0, seq, len);
        while tx.tx_send(&buf).is_err() {
            tx.tx_flush().unwrap();
        }
        if tx.tx_pending() >= 64 {
            tx.tx_flush().unwrap();
        }
    }
    tx.tx_flush().unwrap();
}

#[test]
fn kernel_ring_overflow_counts_rx_miss() {
    let Some((_g, topo)) = dut_setup(&["a", "b"], false) else {
        return;
    };
    topo.dut.run(|| {
        let mut h = harness("");
        // 32 blocks of 8 x 2048 = 16 KiB: room for about 500 frames of 1000 bytes.
        let out = h.cli("create host-interface name a1 rx-size 2048 rx-per-block 8");
        assert_eq!(out, "host-a1\n");
        h.cli("create host-interface name b1");
        h.cli("set interface state host-a1 up");
        h.cli("set interface state host-b1 up");
        h.cli("test xc host-a1 host-b1");
        let mut a0 = far("a0");
        // pwire does not run while these arrive: the kernel drops what the ring cannot hold.
        const N: u32 = 3_000;
        send_frames(&mut a0, 0, N, 1000);
        h.run_for(Duration::from_millis(700));
        let s = h.cli("show interface host-a1");
        let (rx, miss) = (
            counter_of(&s, "host-a1", "rx packets"),
            counter_of(&s, "host-a1", "rx-miss"),
        );
        eprintln!("{s}");
        assert!(miss > 0, "{s}");
        assert_eq!(rx + miss, u64::from(N), "{s}");
        h.assert_all_free();
    });
}

#[test]
fn frames_larger_than_a_buffer_are_dropped_and_counted() {
    let Some((_g, topo)) = dut_setup(&["a", "b"], false) else {
        return;
    };
    topo.dut.run(|| {
        let mut h = harness("buffers { default data-size 1024 }");
        wire(&mut h, &["a", "b"], &[("a", "b")]);
        let mut a0 = far("a0");
        let mut b0 = far("b0");
        // 1025..1514 bytes do not fit; 1024 does.
        send_frames(&mut a0, 0, 5, 1500);
        send_frames(&mut a0, 5, 5, 1024);
        let mut got = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(5);
        while got.len() < 5 && Instant::now() < deadline {
            h.run_for(Duration::from_millis(5));
            b0.rx_burst(64, |p| {
                if let Some((_, seq)) = parse(&p) {
                    got.push((seq, p.data.len()));
                }
                true
            });
        }
        assert_eq!(got, (5..10).map(|s| (s, 1024)).collect::<Vec<_>>());
        assert_eq!(h.counter("af-packet-input", "packet too big for buffer"), 5);
        h.assert_all_free();
    });
}

#[test]
fn empty_pool_counts_rx_no_buf() {
    let Some((_g, topo)) = dut_setup(&["a", "b"], false) else {
        return;
    };
    topo.dut.run(|| {
        // The smallest pool (one batch of 256), all of it held by the stand-in.
        let mut h = harness("buffers { buffers-per-numa 256 }");
        wire(&mut h, &["a", "b"], &[("a", "b")]);
        let total = h.dp.vnet.engine().pool.n_buffers();
        assert_eq!(total, 256);
        h.cli(&format!("test xc-hold {total}"));
        let mut a0 = far("a0");
        send_frames(&mut a0, 0, 300, 100);
        h.run_for(Duration::from_millis(300));
        let s = h.cli("show interface host-a1");
        eprintln!("{s}");
        assert_eq!(counter_of(&s, "host-a1", "rx packets"), 256, "{s}");
        assert_eq!(counter_of(&s, "host-a1", "rx-no-buf"), 44, "{s}");
        assert_eq!(h.counter("af-packet-input", "no free buffers"), 44);
        // Give them back: forwarding resumes.
        h.cli("test xc-hold 0");
        let mut b0 = far("b0");
        send_frames(&mut a0, 300, 10, 100);
        let mut got = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(5);
        while got.len() < 10 && Instant::now() < deadline {
            h.run_for(Duration::from_millis(5));
            b0.rx_burst(64, |p| {
                if let Some((_, seq)) = parse(&p) {
                    got.push(seq);
                }
                true
            });
        }
        assert_eq!(got, (300..310).collect::<Vec<_>>());
        h.assert_all_free();
    });
}

/// `set interface rx-placement` while traffic flows: the RX ring changes owner at the barrier
/// (its fd moves between the threads' epoll sets); no frame is lost or reordered.
#[test]
fn rx_placement_moves_between_threads_without_loss() {
    let Some((_g, topo)) = dut_setup(&["a", "b"], false) else {
        return;
    };
    topo.dut.run(|| {
        let mut h = harness("cpu { workers 2 }");
        wire(&mut h, &["a", "b"], &[("a", "b")]);
        const N: u32 = 60_000;
        let t = Traffic::new();
        let mut a0 = far("a0");
        let mut b0 = far("b0");
        let mut moves = 0;
        std::thread::scope(|s| {
            let th = s.spawn(|| t.run(std::slice::from_mut(&mut a0), &mut b0, N, 256));
            let targets = ["worker 1", "main", "worker 0"];
            let deadline = Instant::now() + Duration::from_secs(60);
            while !th.is_finished() {
                assert!(Instant::now() < deadline);
                h.run_for(Duration::from_millis(20));
                let mode = ["interrupt", "polling", "adaptive"][moves % 3];
                h.cli(&format!(
                    "set interface rx-placement host-a1 {}",
                    targets[moves % targets.len()]
                ));
                h.cli(&format!("set interface rx-mode host-a1 {mode}"));
                moves += 1;
            }
            assert_eq!(th.join().unwrap(), [N]);
        });
        eprintln!("{moves} placement/mode changes during {N} frames");
        assert!(moves >= 3);
        h.dp.shutdown();
        h.assert_all_free();
    });
}

#[test]
fn two_workers_transmit_on_one_interface() {
    let Some((_g, topo)) = dut_setup(&["a", "b", "c"], false) else {
        return;
    };
    topo.dut.run(|| {
        let mut h = harness("cpu { workers 2 }");
        wire(&mut h, &["a", "b", "c"], &[("a", "b"), ("c", "b")]);
        // Round robin: a1 -> wk_0, b1 -> wk_1, c1 -> wk_0; move c1 to wk_1 so that two
        // threads transmit on host-b1.
        h.cli("set interface rx-placement host-c1 worker 1");
        let out = h.cli("show interface rx-placement");
        assert!(out.contains("Thread 1 (vpp_wk_0):\n  node af-packet-input:\n    host-a1 queue 0 (interrupt)\n"), "{out}");
        assert!(out.contains("Thread 2 (vpp_wk_1):\n  node af-packet-input:\n    host-b1 queue 0 (interrupt)\n    host-c1 queue 0 (interrupt)\n"), "{out}");
        const N: u32 = 5_000;
        let t = Traffic::new();
        let mut txs = [far("a0"), far("c0")];
        let mut b0 = far("b0");
        std::thread::scope(|s| {
            let th = s.spawn(|| t.run(&mut txs, &mut b0, N, 256));
            assert!(h
                .dp
                .run_until(Duration::from_secs(60), |_| th.is_finished()));
            assert_eq!(th.join().unwrap(), [N, N]);
        });
        let show = h.cli("show interface");
        assert_eq!(counter_of(&show, "host-b1", "tx packets"), 2 * u64::from(N));
        assert_eq!(h.counter("af-packet-tx", "tx frame not ready"), 0);
        h.dp.shutdown();
        h.assert_all_free();
    });
}

#[test]
fn delete_host_interface_while_traffic_flows() {
    let Some((_g, topo)) = dut_setup(&["a", "b", "c"], false) else {
        return;
    };
    topo.dut.run(|| {
        let mut h = harness("cpu { workers 2 }");
        wire(&mut h, &["a", "b", "c"], &[("a", "b"), ("c", "b"), ("b", "a")]);
        h.cli("set interface rx-mode host-a1 polling");
        let t = Traffic {
            strict: false,
            ..Traffic::new()
        };
        let mut txs = [far("a0"), far("c0")];
        let mut b0 = far("b0");
        std::thread::scope(|s| {
            // Unbounded window: the far ends blast while interfaces go away.
            let th = s.spawn(|| t.run(&mut txs, &mut b0, u32::MAX, u32::MAX));
            h.run_for(Duration::from_millis(300));
            let before = t.received.load(Ordering::Relaxed);
            assert!(before > 0, "nothing forwarded before the delete");
            // The tx side of both flows goes first, then an rx side.
            h.cli("delete host-interface name b1");
            h.run_for(Duration::from_millis(200));
            let out = h.cli("show interface");
            assert!(!out.contains("host-b1"), "{out}");
            h.cli("delete host-interface name a1");
            h.run_for(Duration::from_millis(200));
            // Re-create b1: a fresh device in a reused slot works.
            h.cli("create host-interface name b1");
            h.cli("set interface state host-b1 up");
            h.cli("test xc host-c1 host-b1");
            let mid = t.received.load(Ordering::Relaxed);
            h.run_for(Duration::from_millis(300));
            t.stop.store(true, Ordering::Relaxed);
            th.join().unwrap();
            let after = t.received.load(Ordering::Relaxed);
            eprintln!(
                "received {before} before the deletes, {mid} by the re-create, {after} at the end; sent {}",
                t.sent.load(Ordering::Relaxed)
            );
        });
        let errs = h.cli("show errors");
        eprintln!("{errs}");
        h.cli("delete host-interface name c1");
        h.cli("delete host-interface name b1");
        h.run_for(Duration::from_millis(50));
        h.dp.shutdown();
        h.assert_all_free();
    });
}

#[test]
fn cli_syntax_and_errors() {
    let Some((_g, topo)) = dut_setup(&["a"], false) else {
        return;
    };
    topo.dut.run(|| {
        let mut h = harness("");
        assert_eq!(
            h.cli_err("create host-interface"),
            "create host-interface: missing host interface name"
        );
        assert_eq!(
            h.cli_err("create host-interface name nope0"),
            "create host-interface: No such device (errno 19)"
        );
        assert_eq!(
            h.cli_err("create host-interface name 0123456789abcdefg"),
            "create host-interface: Invalid interface name"
        );
        assert_eq!(
            h.cli_err("create host-interface name a1 bogus"),
            "create host-interface: unknown input `bogus'"
        );
        assert!(h
            .cli_err("create host-interface name a1 num-rx-queues 2")
            .contains("only one rx and one tx queue"));
        assert!(h
            .cli_err("create host-interface name a1 rx-size 2048 rx-per-block 3")
            .contains("multiple of the page size"));
        assert_eq!(
            h.cli("create host-interface name a1 hw-addr 02:00:00:00:00:a1 num-rx-queues 1 num-tx-queues 1 rx-size 2048 rx-per-block 64 tx-size 2048 tx-per-block 256 qdisc-bypass-disable"),
            "host-a1\n"
        );
        assert_eq!(
            h.cli_err("create host-interface name a1"),
            "create host-interface: Interface already exists"
        );
        let hw = h.cli("show hardware-interfaces host-a1");
        assert!(hw.contains("Ethernet address 02:00:00:00:00:a1"), "{hw}");
        // TPACKET_V3 blocks unless `v2` asks for frames or `hybrid` for both (`v3` says the
        // default).
        assert!(
            hw.contains("rx ring TPACKET_V3: 32 blocks of 131072 bytes, retire timeout 1 ms"),
            "{hw}"
        );
        assert!(hw.contains("features: cksum-gso ignore-outgoing"), "{hw}");
        assert!(hw.contains("hardware MTU 1500"), "{hw}");
        h.cli("create host-interface v3 name a0 rx-size 2048 rx-per-block 32");
        let hw = h.cli("show hardware-interfaces host-a0");
        assert!(hw.contains("rx ring TPACKET_V3: 32 blocks of 65536 bytes, retire timeout 1 ms"), "{hw}");
        h.cli("delete host-interface name a0");
        h.cli("create host-interface v2 name a0");
        let hw = h.cli("show hardware-interfaces host-a0");
        assert!(hw.contains("rx ring TPACKET_V2: 2048 frames of 2048 bytes"), "{hw}");
        assert!(hw.contains("features: qdisc-bypass cksum-gso ignore-outgoing"), "{hw}");
        h.cli("delete host-interface name a0");
        h.cli("create host-interface hybrid name a0");
        let hw = h.cli("show hardware-interfaces host-a0");
        assert!(
            hw.contains("rx rings TPACKET_V2 + TPACKET_V3 (hybrid): V2 2048 frames of 2048 bytes, V3 32 blocks of 131072 bytes, retire timeout 1 ms"),
            "{hw}"
        );
        assert!(
            hw.contains("now on V2; V3 from 200 kpps or 20 MB/s, V2 below 50 kpps and 5 MB/s; switches to V3 0 to V2 0 refused 0"),
            "{hw}"
        );
        h.cli("delete host-interface name a0");
        assert_eq!(
            h.cli_err("create host-interface hybrid v2 name a0"),
            "create host-interface: hybrid: takes both rings, not with v2 or v3"
        );
        let s = h.cli("show interface host-a1");
        assert!(s.contains(" down "), "admin down at creation: {s}");
        assert_eq!(
            h.cli_err("delete host-interface"),
            "delete host-interface: missing host interface name"
        );
        assert_eq!(
            h.cli_err("delete host-interface name zz0"),
            "delete host-interface: host interface `zz0' does not exist"
        );
        assert_eq!(h.cli("delete host-interface name a1"), "");
        assert!(h.cli_err("show interface host-a1").contains("unknown interface"));
        // A random VPP-style MAC, and the name works again after the delete.
        h.cli("create host-interface name a1");
        let hw = h.cli("show hardware-interfaces host-a1");
        assert!(hw.contains("Ethernet address 02:fe:"), "{hw}");
        assert_eq!(
            h.cli_err("create host-interface name a1 cksum-gso-disable"),
            "create host-interface: Interface already exists"
        );
    });
}

#[test]
fn link_state_follows_the_kernel() {
    let Some((_g, topo)) = dut_setup(&["a"], false) else {
        return;
    };
    topo.dut.run(|| {
        let mut h = harness("");
        wire(&mut h, &["a"], &[]);
        let link = |h: &mut Harness| {
            let hw = h.cli("show hardware-interfaces brief host-a1");
            hw.lines()
                .find(|l| l.starts_with("host-a1"))
                .map(|l| l.split_whitespace().nth(2).unwrap_or("").to_string())
                .unwrap()
        };
        assert_eq!(link(&mut h), "up");
        let ip = |args: &[&str]| {
            let o = std::process::Command::new("ip")
                .args(args)
                .output()
                .unwrap();
            assert!(o.status.success(), "ip {args:?}: {o:?}");
        };
        // The peer going down takes the carrier away from a1.
        ip(&["link", "set", "a0", "down"]);
        let ok = h.dp.run_until(Duration::from_secs(3), |dp| {
            dp.exec("show hardware-interfaces brief host-a1")
                .is_ok_and(|s| s.contains(" down "))
        });
        assert!(ok, "link down not noticed");
        ip(&["link", "set", "a0", "up"]);
        let ok = h.dp.run_until(Duration::from_secs(5), |dp| {
            dp.exec("show hardware-interfaces brief host-a1")
                .is_ok_and(|s| s.contains(" up "))
        });
        assert!(ok, "link up not noticed");
        // Idle and interrupt-driven while the link flapped: the EPOLLERR (ENETDOWN) the
        // socket got must not have made the loop spin.
        let me = my_tid();
        let c0 = thread_cpu(me);
        h.run_for(Duration::from_secs(1));
        let cpu = (thread_cpu(me) - c0) * 100.0;
        assert!(cpu < 5.0, "{cpu:.1}% CPU after a link flap");
    });
}

/// startup.conf's `interface { default-rx-mode }` is the mode a new host interface starts in
/// (interrupt without it), and `ethernet { default-mtu }` the MTU of a new Ethernet interface
/// that has no link of its own to take one from (a pg interface; a host interface takes its
/// Linux interface's).
#[test]
fn startup_conf_default_rx_mode_and_mtu() {
    let Some((_g, topo)) = dut_setup(&["a"], false) else {
        return;
    };
    topo.dut.run(|| {
        for (conf, mode) in [
            ("", "interrupt"),
            ("interface { default-rx-mode polling }", "polling"),
            ("interface { default-rx-mode adaptive }", "adaptive"),
        ] {
            let mut h = harness(&format!("{conf}\nethernet {{ default-mtu 1500 }}"));
            wire(&mut h, &["a"], &[]);
            let out = h.cli("show interface rx-placement");
            assert!(
                out.contains(&format!("host-a1 queue 0 ({mode})")),
                "{conf}: {out}"
            );
            h.cli("create packet-generator interface pg7");
            let mtu = |h: &mut Harness, ifc: &str| {
                let si = h.cli(&format!("show interface {ifc}"));
                si.lines()
                    .find(|l| l.starts_with(ifc))
                    .and_then(|l| l.split_whitespace().nth(3).map(String::from))
                    .unwrap_or_else(|| panic!("{si}"))
            };
            assert_eq!(mtu(&mut h, "pg7"), "1500/0/0/0");
            // (/sys shows the namespace the test started in, `ip` this one.)
            let o = std::process::Command::new("ip")
                .args(["-o", "link", "show", "a1"])
                .output()
                .unwrap();
            let o = String::from_utf8_lossy(&o.stdout);
            let host = o
                .split_whitespace()
                .skip_while(|w| *w != "mtu")
                .nth(1)
                .unwrap_or_else(|| panic!("{o}"));
            assert_eq!(
                mtu(&mut h, "host-a1"),
                format!("{host}/0/0/0"),
                "a host interface takes its link's MTU"
            );
        }
    });
}

/// UDP and TCP from real Linux stacks, through pwire: the sender's stack leaves the UDP
/// checksum partial (veth offload) and hands TCP over as GSO super-frames; pwire finishes
/// the checksum and segments the super-frames, and the receiving stacks accept everything.
#[test]
fn kernel_udp_checksum_and_tcp_gso_through_pwire() {
    kernel_traffic(false, "");
}

/// The same over the real `ethernet-input` and an l2 cross-connect, on a worker.
#[test]
fn kernel_udp_checksum_and_tcp_gso_through_l2_xconnect() {
    kernel_traffic(true, "");
}

/// The same through TPACKET_V2 rings (`create host-interface v2`): every TCP super-packet is
/// longer than a ring frame and comes whole from the socket.
#[test]
fn kernel_udp_checksum_and_tcp_gso_through_v2_rings() {
    kernel_traffic(true, "v2 ");
}

/// The same with both rings (`hybrid`): the UDP datagrams on V2, the TCP stream on either.
#[test]
fn kernel_udp_checksum_and_tcp_gso_through_hybrid_rings() {
    kernel_traffic(true, "hybrid ");
}

fn kernel_traffic(real_l2: bool, opts: &str) {
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream, UdpSocket};

    let Some((_g, topo)) = dut_setup(&["a", "b"], true) else {
        return;
    };
    let (ha, hb) = (&topo.hosts[0], &topo.hosts[1]);
    ha.ip(&["addr", "add", "198.18.0.1/24", "dev", "a0"]);
    hb.ip(&["addr", "add", "198.18.0.2/24", "dev", "b0"]);
    topo.dut.run(|| {
        let mut h = if real_l2 {
            let mut h = Harness::with(
                "cpu { workers 1 }",
                &[
                    pwire_af_packet::register,
                    pwire_node_ethernet::register,
                    pwire_node_l2::register,
                ],
            );
            wire_with(&mut h, &["a", "b"], &[], opts);
            let hw = h.cli("show hardware-interfaces host-a1");
            let ring = match opts {
                "hybrid " => "rx rings TPACKET_V2 + TPACKET_V3 (hybrid)",
                "" => "rx ring TPACKET_V3",
                _ => "rx ring TPACKET_V2",
            };
            assert!(hw.contains(ring), "{hw}");
            h.cli("set interface l2 xconnect host-a1 host-b1");
            h.cli("set interface l2 xconnect host-b1 host-a1");
            h
        } else {
            let mut h = harness("");
            wire(&mut h, &["a", "b"], &[("a", "b"), ("b", "a")]);
            h
        };
        h.cli("trace add af-packet-input 50");
        let done = AtomicBool::new(false);
        const LEN: usize = 8 << 20;
        // The server's sockets exist before the client sends anything: bound inside the server
        // thread, a slow start of that thread let the one UDP datagram arrive first (port
        // unreachable) while the TCP connect still succeeded later, and CI waited 40 s for it.
        let (u, l) = hb.run(|| {
            (
                UdpSocket::bind("198.18.0.2:9999").expect("server: udp bind"),
                TcpListener::bind("198.18.0.2:7777").expect("server: tcp bind"),
            )
        });
        std::thread::scope(|s| {
            let server = s.spawn(move || {
                // Generous timeouts: on a loaded 2-core CI machine a TCP retransmission
                // backoff can pause the stream for seconds.
                u.set_read_timeout(Some(Duration::from_secs(40))).unwrap();
                let mut b = [0u8; 2048];
                let (n, from) = u.recv_from(&mut b).expect("server: no UDP datagram");
                let udp_ok =
                    n == 333 && b[..n].iter().enumerate().all(|(i, &x)| x == (i * 7) as u8);
                eprintln!("udp: {n} bytes from {from}");
                let (mut c, _) = l.accept().expect("server: accept");
                c.set_read_timeout(Some(Duration::from_secs(40))).unwrap();
                let mut got = Vec::with_capacity(LEN);
                c.read_to_end(&mut got)
                    .unwrap_or_else(|e| panic!("server: read after {} bytes: {e}", got.len()));
                (udp_ok, got)
            });
            let client = s.spawn(|| {
                ha.run(|| {
                    let u = UdpSocket::bind("198.18.0.1:0").expect("client: udp bind");
                    let payload: Vec<u8> = (0..333usize).map(|i| (i * 7) as u8).collect();
                    // ARP for B crosses pwire first; resend until the server has it (UDP).
                    let addr = "198.18.0.2:7777".parse().unwrap();
                    let deadline = Instant::now() + Duration::from_secs(30);
                    let mut c = loop {
                        // A failed ARP makes the next send report EHOSTUNREACH: keep trying.
                        if let Err(e) = u.send_to(&payload, "198.18.0.2:9999") {
                            eprintln!("client: udp send: {e}");
                        }
                        match TcpStream::connect_timeout(&addr, Duration::from_millis(500)) {
                            Ok(c) => break c,
                            Err(e) => {
                                assert!(Instant::now() < deadline, "connect: {e}");
                                std::thread::sleep(Duration::from_millis(50));
                            }
                        }
                    };
                    let data: Vec<u8> = (0..LEN).map(|i| (i % 251) as u8).collect();
                    let t0 = Instant::now();
                    c.write_all(&data).expect("client: write");
                    c.shutdown(std::net::Shutdown::Write)
                        .expect("client: shutdown");
                    let mut rest = Vec::new();
                    let _ = c.read_to_end(&mut rest);
                    t0.elapsed()
                })
            });
            let ok = h.dp.run_until(Duration::from_secs(90), |_| {
                server.is_finished() && client.is_finished() || done.load(Ordering::Relaxed)
            });
            assert!(ok, "transfer did not finish");
            let (udp_ok, got) = server.join().unwrap();
            let el = client.join().unwrap();
            assert!(udp_ok, "UDP datagram lost or damaged");
            assert_eq!(got.len(), LEN);
            assert!(
                got.iter().enumerate().all(|(i, &x)| x == (i % 251) as u8),
                "TCP data damaged"
            );
            eprintln!(
                "tcp: {} MiB through pwire in {:.2} s ({:.0} Mbit/s)",
                LEN >> 20,
                el.as_secs_f64(),
                (LEN * 8) as f64 / el.as_secs_f64() / 1e6
            );
        });
        done.store(true, Ordering::Relaxed);
        let segd = h.counter("af-packet-input", "gso super-frames segmented");
        eprintln!("gso super-frames segmented: {segd}");
        assert!(
            segd > 0,
            "TCP over veth should have arrived as GSO super-frames"
        );
        assert_eq!(h.counter("af-packet-input", "gso packet not segmented"), 0);
        assert_eq!(h.counter("af-packet-tx", "tx frame too long"), 0);
        // The UDP datagram arrived at pwire with its checksum unfinished (NEEDS_CSUM).
        let tr = h.cli("show trace max 50");
        assert!(tr.contains("vnet-hdr:\n      flags 0x01"), "{tr}");
        h.dp.shutdown();
        h.assert_all_free();
    });
}

/// The real path: `ethernet-input` and an L2 cross-connect from the ethernet and l2 crates.
#[test]
fn real_ethernet_input_and_l2_xconnect() {
    let Some((_g, topo)) = dut_setup(&["a", "b"], false) else {
        return;
    };
    topo.dut.run(|| {
        let mut h = Harness::with(
            "cpu { workers 1 }",
            &[
                pwire_af_packet::register,
                pwire_node_ethernet::register,
                pwire_node_l2::register,
            ],
        );
        wire(&mut h, &["a", "b"], &[]);
        h.cli("set interface l2 xconnect host-a1 host-b1");
        h.cli("set interface l2 xconnect host-b1 host-a1");
        h.cli("trace add af-packet-input 2");
        const N: u32 = 3_000;
        let t = Traffic::new();
        let mut a0 = far("a0");
        let mut b0 = far("b0");
        std::thread::scope(|s| {
            let th = s.spawn(|| t.run(std::slice::from_mut(&mut a0), &mut b0, N, 256));
            assert!(h
                .dp
                .run_until(Duration::from_secs(60), |_| th.is_finished()));
            assert_eq!(th.join().unwrap(), [N]);
        });
        let tr = h.cli("show trace");
        assert!(tr.contains("Start of thread 1 vpp_wk_0"), "{tr}");
        for node in [
            "af-packet-input",
            "ethernet-input",
            "l2-input",
            "l2-output",
            "interface-output",
            "af-packet-tx",
        ] {
            assert_eq!(
                tr.matches(&format!(": {node}\n")).count(),
                2,
                "{node}: {tr}"
            );
        }
        let show = h.cli("show interface");
        assert_eq!(counter_of(&show, "host-b1", "tx packets"), u64::from(N));
        h.dp.shutdown();
        h.assert_all_free();
    });
}

/// Throughput numbers for the report (not a pass/fail test): `cargo test -p pwire-af-packet
/// --test dataplane -- --ignored --nocapture`.
#[test]
#[ignore]
fn throughput() {
    let Some((_g, topo)) = dut_setup(&["a", "b"], false) else {
        return;
    };
    topo.dut.run(|| {
        // Baseline: the same generator with no pwire in between (a0 -> a1 over one pair).
        {
            const N: u32 = 200_000;
            let t = Traffic::new();
            let (mut a0, mut a1) = (far("a0"), far("a1"));
            let t0 = Instant::now();
            assert_eq!(t.run(std::slice::from_mut(&mut a0), &mut a1, N, 2048), [N]);
            eprintln!(
                "generator alone      : {:.0} pps",
                f64::from(N) / t0.elapsed().as_secs_f64()
            );
        }
        for (conf, mode) in [
            ("", "interrupt"),
            ("", "polling"),
            ("cpu { workers 1 }", "interrupt"),
            ("cpu { workers 1 }", "polling"),
        ] {
            let mut h = harness(conf);
            wire(&mut h, &["a", "b"], &[("a", "b")]);
            h.cli(&format!("set interface rx-mode host-a1 {mode}"));
            const N: u32 = 200_000;
            let t = Traffic::new();
            let mut a0 = far("a0");
            let mut b0 = far("b0");
            let el = std::thread::scope(|s| {
                let th = s.spawn(|| {
                    let t0 = Instant::now();
                    let got = t.run(std::slice::from_mut(&mut a0), &mut b0, N, 2048);
                    (got, t0.elapsed())
                });
                assert!(h
                    .dp
                    .run_until(Duration::from_secs(120), |_| th.is_finished()));
                let (got, el) = th.join().unwrap();
                assert_eq!(got, [N]);
                el
            });
            eprintln!(
                "{:<18} {mode:<9}: {:.0} pps (60..1514 B, avg {} B)",
                if conf.is_empty() {
                    "main thread"
                } else {
                    "1 worker"
                },
                f64::from(N) / el.as_secs_f64(),
                (0..N).map(|s| frame_len(s) as u64).sum::<u64>() / u64::from(N)
            );
            if std::env::var_os("AFP_SHOW_RUNTIME").is_some() {
                eprintln!("{}", h.cli("show runtime"));
            }
        }
    });
}
