//! Learning across threads: what one worker learns reaches the others within
//! `learn::PUBLISH_BOUND`; the learning thread itself forwards at once.

mod common;

use common::*;
use pwire_node_l2::learn::PUBLISH_BOUND;
use std::time::Duration;

#[test]
fn mac_learned_on_one_worker_is_used_by_the_other_within_the_bound() {
    let mut h = harness("cpu { workers 2 }", 4, &[]);
    assert_eq!(h.dp.n_workers(), 2);
    for i in 0..4 {
        h.cli(&format!("set interface l2 bridge pg{i} 1"));
    }
    let mut worst = Duration::ZERO;
    for round in 0..5u16 {
        let a = mac(0x500 + round);
        let la = format!("la{round}");
        let fa = format!("fa{round}");
        // Worker 0 learns `a` on pg0 ...
        stream(
            &mut h,
            &la,
            "pg0",
            "l2-input",
            &[frame(BCAST, a, 0x0800, 0)],
            1,
            "worker 0",
        );
        h.cli(&format!("packet-generator enable-stream {la}"));
        let took = wait_fib(&mut h, Duration::from_secs(2), |s| s.contains(&mac_str(a)))
            .unwrap_or_else(|| panic!("round {round}: never published"));
        worst = worst.max(took);
        h.wait_streams(Duration::from_secs(5));
        // ... and worker 1 forwards to it instead of flooding.
        stream(
            &mut h,
            &fa,
            "pg1",
            "l2-input",
            &[frame(a, mac(0x600 + round), 0x0800, 1)],
            20,
            "worker 1",
        );
        let got = sent_to(&mut h, &fa, &["pg0", "pg2", "pg3"]);
        assert_eq!(
            got.iter().map(Vec::len).collect::<Vec<_>>(),
            [20, 0, 0],
            "round {round}"
        );
    }
    eprintln!("learn publication across workers: worst {worst:?} (bound {PUBLISH_BOUND:?})");
    assert!(
        worst <= PUBLISH_BOUND,
        "published after {worst:?}, bound {PUBLISH_BOUND:?}"
    );
    assert_eq!(h.counter("l2-fwd", "L2 forward hits"), 100);
    assert_eq!(h.counter("l2-learn", "L2 learn misses"), 5 + 5);
    h.dp.shutdown();
    h.assert_all_free();
}

#[test]
fn learning_thread_forwards_before_publication() {
    let mut h = harness("", 4, &[]);
    for i in 0..4 {
        h.cli(&format!("set interface l2 bridge pg{i} 1"));
    }
    // Both streams land in one frame: pg0 teaches `c`, then pg1 sends to `c`. The main thread
    // publishes only after the frame, so only the thread's own overlay can know `c`.
    stream(
        &mut h,
        "x",
        "pg0",
        "l2-input",
        &[frame(BCAST, mac(7), 0x0800, 0)],
        1,
        "",
    );
    stream(
        &mut h,
        "y",
        "pg1",
        "l2-input",
        &[frame(mac(7), mac(8), 0x0800, 1)],
        1,
        "",
    );
    let caps: Vec<_> = ["pg0", "pg2", "pg3"]
        .iter()
        .map(|p| capture(&mut h, p, "xy"))
        .collect();
    h.run_streams();
    let got: Vec<usize> = caps.iter().map(|c| packets(c).len()).collect();
    assert_eq!(
        got,
        [1, 1, 1],
        "broadcast floods; the unicast goes to pg0 only"
    );
    assert_eq!(h.counter("l2-fwd", "L2 forward hits"), 1);
    assert_eq!(h.counter("l2-flood", "L2 flood packets"), 1);
    h.assert_all_free();
}
