//! A loopback as the BD's BVI: routed into the bridge, and bridged up to L3.

mod common;

use common::*;
use pwire_graph::{counters, Cx, Frame, Node, NodeKind, NodeReg, NEXT_CONSUMED};
use pwire_vnet::{Registry, Vnet};
use std::sync::Arc;
use std::time::Duration;

const ET: u16 = 0x88b5;
const LOOP_MAC: [u8; 6] = [2, 0xaa, 0, 0, 0, 1];

counters! { enum SinkC {
    Got: info = "sink packets",
    OnLoop: info = "sink rx on a loopback",
    Stripped: info = "sink l2 header stripped",
} }

/// An L3 input node for EtherType 0x88b5 that checks what it gets and frees it.
struct Sink {
    vnet: Arc<Vnet>,
    free: Vec<u32>,
}

impl Node for Sink {
    fn process(&mut self, frame: &mut Frame<'_>, cx: &mut Cx<'_>) {
        let dp = cx.dp();
        let vs = self.vnet.state.dp(&dp);
        let (mut on_loop, mut stripped) = (0, 0);
        for i in 0..frame.len() {
            let b = frame.buf(i);
            on_loop += u64::from(vs.get(b.rx()).is_some_and(|i| i.name.starts_with("loop")));
            stripped += u64::from(b.current_length() == 46 && b.current()[0] == 0x5a);
        }
        cx.count(SinkC::Got, frame.len() as u64);
        cx.count(SinkC::OnLoop, on_loop);
        cx.count(SinkC::Stripped, stripped);
        frame.set_all(NEXT_CONSUMED);
        self.free.clear();
        self.free.extend_from_slice(frame.indices());
        // SAFETY: frame buffers, each once (frame invariant), whose next was set to
        // NEXT_CONSUMED; not touched after this.
        unsafe { cx.free(&self.free) };
    }
}

fn register_sink(r: &mut Registry) {
    r.ethertype(ET, "test-l3-sink");
    let vnet = r.vnet.clone();
    r.graph.node(NodeReg::new(
        "test-l3-sink",
        NodeKind::Internal,
        &[],
        SinkC::DECLS,
        move |_| {
            Box::new(Sink {
                vnet: vnet.clone(),
                free: Vec::new(),
            })
        },
    ));
}

fn sink(h: &pwire_testkit::Harness) -> [u64; 3] {
    [
        h.counter("test-l3-sink", "sink packets"),
        h.counter("test-l3-sink", "sink rx on a loopback"),
        h.counter("test-l3-sink", "sink l2 header stripped"),
    ]
}

#[test]
fn loopback_bvi_routes_into_the_bridge_and_up_to_l3() {
    let mut h = harness("", 2, &[register_sink]);
    assert_eq!(
        h.cli(&format!(
            "create loopback interface mac {}",
            mac_str(LOOP_MAC)
        )),
        "loop0\n"
    );
    assert_eq!(h.cli("create loopback interface"), "loop1\n");
    assert!(h
        .cli("show hardware-interfaces loop1")
        .contains("de:ad:00:00:00:01"));
    h.cli("set interface state loop0 up");
    h.cli("set interface l2 bridge pg0 5");
    h.cli("set interface l2 bridge pg1 5");
    h.cli("set interface l2 bridge loop0 5 bvi");
    let row = fib_row(&mut h, LOOP_MAC).expect("BVI entry");
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(&cols[4..], ["no", "*", "-", "*", "loop0"], "{row}");

    // Bridge -> L3: unicast to the BVI's MAC, L2 header stripped, RX = loop0.
    stream(
        &mut h,
        "up",
        "pg0",
        "l2-input",
        &[frame(LOOP_MAC, mac(1), ET, 0x5a)],
        3,
        "",
    );
    let got = sent_to(&mut h, "up", &["pg1"]);
    assert!(got[0].is_empty());
    assert_eq!(sink(&h), [3, 3, 3]);
    // Unhandled EtherType, and a broadcast: pg1 gets a copy, the BVI the original.
    send(
        &mut h,
        "bad",
        "pg0",
        "l2-input",
        &[frame(LOOP_MAC, mac(1), 0x9999, 0)],
    );
    assert_eq!(
        h.counter("l2-fwd", "BVI packet with unhandled ethertype"),
        1
    );
    stream(
        &mut h,
        "bc",
        "pg0",
        "l2-input",
        &[frame(BCAST, mac(1), ET, 0x5a)],
        1,
        "",
    );
    let got = sent_to(&mut h, "bc", &["pg0", "pg1"]);
    assert_eq!(got.iter().map(Vec::len).collect::<Vec<_>>(), [0, 1]);
    assert_eq!(sink(&h), [4, 4, 4]);
    assert_eq!(h.counter("l2-flood", "L2 flood packets"), 1);

    // L3 -> bridge: what is sent out of loop0 enters the bridge from the BVI.
    wait_fib(&mut h, Duration::from_secs(2), |s| {
        s.contains(&mac_str(mac(1)))
    })
    .expect("learned");
    h.cli("test forward loop0");
    stream(
        &mut h,
        "down",
        "pg1",
        "test-forward",
        &[frame(mac(1), LOOP_MAC, ET, 1)],
        2,
        "",
    );
    let got = sent_to(&mut h, "down", &["pg0", "pg1"]);
    assert_eq!(got.iter().map(Vec::len).collect::<Vec<_>>(), [2, 0]);
    assert_eq!(got[0][0], frame(mac(1), LOOP_MAC, ET, 1));
    // Unknown destination from L3: flooded to the bridge ports, not back up.
    stream(
        &mut h,
        "down2",
        "pg1",
        "test-forward",
        &[frame(mac(9), LOOP_MAC, ET, 2)],
        1,
        "",
    );
    let got = sent_to(&mut h, "down2", &["pg0", "pg1"]);
    assert_eq!(got.iter().map(Vec::len).collect::<Vec<_>>(), [1, 1]);
    assert_eq!(sink(&h)[0], 4);
    // The BVI never learns its own frames.
    assert!(
        fib_row(&mut h, LOOP_MAC).unwrap().contains(" * "),
        "still the static BVI entry"
    );

    // A loopback in L3 mode loops back through ethernet-input.
    h.cli("set interface state loop1 up");
    h.cli("test forward loop1");
    send(
        &mut h,
        "l3",
        "pg1",
        "test-forward",
        &[frame([0xde, 0xad, 0, 0, 0, 1], mac(3), ET, 0x5a)],
    );
    assert_eq!(sink(&h), [5, 5, 5]);

    // Taking the BVI out removes its entry.
    h.cli("set interface l3 loop0");
    assert!(fib_row(&mut h, LOOP_MAC).is_none());
    h.assert_all_free();
}
