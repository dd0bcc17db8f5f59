//! What the main thread does with the workers parked stays O(1) per session change, however
//! many sessions exist: measured as the bytes the main thread allocates while it holds the
//! barrier around a create or a delete (a growing vector or table shows up as an allocation
//! the size of the table), not as a time.

mod common;
use common::*;
use pwire_node_l2tp::{L2tp, TunnelConfig};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::Ipv6Addr;

/// Counts the bytes this thread allocates while `MEASURE` is on.
struct Counting;

thread_local! {
    static MEASURE: Cell<bool> = const { Cell::new(false) };
    static BYTES: Cell<usize> = const { Cell::new(0) };
}

fn note(n: usize) {
    let _ = MEASURE.try_with(|m| {
        if m.get() {
            let _ = BYTES.try_with(|b| b.set(b.get() + n));
        }
    });
}

// SAFETY: forwards to the system allocator unchanged; the bookkeeping touches only
// const-initialised thread-locals (no allocation, no reentrancy).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        note(l.size());
        // SAFETY: the caller's contract is passed on.
        unsafe { System.alloc(l) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        note(l.size());
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        note(new);
        // SAFETY: as above.
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static A: Counting = Counting;

/// Bytes `f` allocates on this thread.
fn measured<R>(f: impl FnOnce() -> R) -> (R, usize) {
    BYTES.with(|b| b.set(0));
    MEASURE.with(|m| m.set(true));
    let r = f();
    MEASURE.with(|m| m.set(false));
    (r, BYTES.with(Cell::get))
}

fn cfg(mode: &str, i: u32) -> TunnelConfig {
    let our: Ipv6Addr = "fd00::1".parse().unwrap();
    let mut client = our.octets();
    client[12..].copy_from_slice(&(0x1000_0000 + i).to_be_bytes());
    let mut c = TunnelConfig::new(our, Ipv6Addr::from(client));
    if mode.contains("session-id") {
        c.local_session_id = i;
        c.remote_session_id = i;
    }
    c
}

/// Creates `n` sessions through the API and returns the most any one create or delete
/// allocated with the barrier held.
fn worst_under_barrier(conf: &str, n: u32) -> usize {
    let mut h = harness(conf);
    h.cli("create packet-generator interface pg0");
    h.cli("set interface ip address pg0 fd00::1/64");
    let api =
        h.dp.vnet
            .hooks
            .api::<L2tp>()
            .expect("l2tp publishes its API");
    let mut worst = 0;
    for i in 1..=n {
        let (r, bytes) = h.dp.control(|cx| {
            // Outside the barrier: whatever may be built beside the live tables.
            api.reserve(&mut cx.ctl, 1);
            cx.ctl.ensure_barrier();
            measured(|| api.create(&mut cx.ctl, &cfg(conf, i)))
        });
        r.unwrap_or_else(|e| panic!("create {i}: {e}"));
        worst = worst.max(bytes);
    }
    // Deleting every other session and creating them again reuses the slots.
    for i in (1..=n).step_by(2) {
        let (r, bytes) = h.dp.control(|cx| {
            let c = cfg(conf, i);
            let idx = api
                .find(&cx.ctl, c.our, c.client, c.local_session_id)
                .expect("session exists");
            cx.ctl.ensure_barrier();
            measured(|| api.delete(&mut cx.ctl, idx))
        });
        r.unwrap_or_else(|e| panic!("delete {i}: {e}"));
        worst = worst.max(bytes);
    }
    assert_eq!(
        h.cli("show l2tpv3"),
        format!("{} l2tp sessions...\n", n - n.div_ceil(2))
    );
    worst
}

#[test]
fn session_changes_under_the_barrier_do_not_grow_with_the_table() {
    for conf in ["l2tp { lookup-session-id }", "l2tp { lookup-v6-src }"] {
        // Both past the point where the interface table adds a chunk (1024 records), so
        // both include one such fixed-size allocation; a vector or table that grew with the
        // sessions would allocate about eight times more with eight times the sessions.
        let small = worst_under_barrier(conf, 5_000);
        let big = worst_under_barrier(conf, 40_000);
        eprintln!(
            "{conf}: most bytes allocated under the barrier by one change: {small} with 5000 sessions, {big} with 40000"
        );
        assert!(
            big <= small + 4096,
            "{conf}: {big} bytes with 40000 sessions vs {small} with 5000"
        );
    }
}
