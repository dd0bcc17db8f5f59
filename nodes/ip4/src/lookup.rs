//! `ip4-lookup` (VPP's ip4_forward.h `ip4_lookup_inline`): longest-prefix match on the
//! destination (the [`crate::mtrie`]), the load-balance counters, and the next node from the
//! result.
//!
//! The trie gives the entry; the entry's row for this thread ([`crate::state::Row`], one cache
//! line) gives its forwarding (kind and DPO index, stored in `opaque.adj_index` for the next
//! node: the adjacency for `ip4-rewrite` and `ip4-arp` — an adjacency is `ip4-arp` until its
//! neighbour resolves — the interface for `ip4-receive` and `ip4-glean`) and the
//! `to:[pkts:bytes]` counter this node bumps, summed over runs of packets hitting the same
//! entry. A one-entry cache skips the lookup for a packet to the destination before it (a
//! tunnel's peer, one flow). There is one table (VRF 0).
//!
//! With a big FIB (from [`AHEAD_FROM`] entries) the lines a lookup reads are no longer in
//! the core's caches or its TLB, and a packet whose lookup waits for a page walk would hold
//! up the packets behind it. So the loop reads each packet's second-level slot
//! ([`Mtrie::start`]) [`AHEAD`] packets before it reaches that packet, and finishes the
//! lookup there ([`Mtrie::finish`]: nothing more for all but a few addresses). The walks
//! then overlap the loop's work. Small tables skip this: it would only add its own
//! instructions. Measured over 1M routes against the whole frame read in a pass of its own
//! before the loop (2026-12-07, paired runs): 5% fewer clocks with 1024 destinations spread
//! over the table, 12% fewer with them on a dozen pages. A separate pass left the walks with
//! nothing to overlap, and prefetching the rows [`AHEAD`]/2 packets ahead cost more than it
//! saved.
//!
//! Arcs (in `Kind` order): `ip4-drop`, `ip4-receive`, `ip4-glean`, `ip4-rewrite`, `ip4-arp`.
//! Counters: none of its own; a drop entry sets `ip4-input`'s "ip4 destination lookup miss".

use crate::errors::{base_of, Ip4Err};
use crate::mtrie::{Mtrie, NO_SLOT};
use crate::state::{Ip4Dp, Kind, Row};
use crate::trace::{FwdTrace, Ip4Bytes};
use crate::Ip4Main;
use pwire_buffer::Buffer;
use pwire_graph::{next_nodes, Cx, Frame, Node, NodeKind, NodeReg, Shared, FRAME_SIZE};
use pwire_vnet::Registry;
use std::sync::Arc;

next_nodes! { pub enum Next {
    Drop => "ip4-drop",
    Receive => "ip4-receive",
    Glean => "ip4-glean",
    Rewrite => "ip4-rewrite",
    Arp => "ip4-arp",
} }

const _: () = assert!(Next::Drop as u8 == Kind::Drop as u8 && Next::Arp as u8 == Kind::Arp as u8);

/// FIB entries (made so far) from which the lookup reads each packet's second-level slot
/// [`AHEAD`] packets before the packet loop reaches it.
pub const AHEAD_FROM: usize = 8192;

/// How many packets ahead of the packet loop the second-level slot is read: enough that a
/// frame's page walks overlap the loop's work (8 left most of them exposed, 32 and 96 cost
/// the same over 1M routes, 2026-12-07).
const AHEAD: usize = 32;

/// The node.
#[derive(Debug)]
pub struct Ip4Lookup {
    dp: Arc<Shared<Ip4Dp>>,
    ip4_input_errors: u16,
    /// Second-level slots read ahead, by frame slot.
    ahead: Box<[u32; FRAME_SIZE]>,
}

pub(crate) fn register(r: &mut Registry, m: &Arc<Ip4Main>) {
    let dp = m.dp.clone();
    r.graph.node(NodeReg::new(
        "ip4-lookup",
        NodeKind::Internal,
        Next::NAMES,
        &[],
        move |b| {
            Box::new(Ip4Lookup {
                dp: dp.clone(),
                ip4_input_errors: base_of(b, "ip4-input"),
                ahead: Box::new([0; FRAME_SIZE]),
            })
        },
    ));
}

/// The destination of the IPv4 packet `d`, if it has a header.
#[inline(always)]
fn dst_of(d: &[u8]) -> Option<u32> {
    d.first_chunk::<20>()
        .map(|h| u32::from_be_bytes([h[16], h[17], h[18], h[19]]))
}

/// Slot of a packet too short for a destination, in the look-ahead array.
const NO_DST: u32 = NO_SLOT;

impl Node for Ip4Lookup {
    fn process(&mut self, frame: &mut Frame<'_>, cx: &mut Cx<'_>) {
        let dp = cx.dp();
        let st = self.dp.dp(&dp);
        let rows = st
            .rows
            .get(cx.thread())
            .map(|v| v.as_slice())
            .unwrap_or_default();
        // One loop each, so that the small table's has no trace of reading ahead.
        if rows.len() >= AHEAD_FROM {
            run::<true>(&mut self.ahead, self.ip4_input_errors, frame, cx, st, rows);
        } else {
            run::<false>(&mut self.ahead, self.ip4_input_errors, frame, cx, st, rows);
        }
    }
}

/// The packet loop; `BIG`: each packet's slot read [`AHEAD`] packets before it, into `ahead`.
#[inline(always)]
fn run<const BIG: bool>(
    ahead: &mut [u32; FRAME_SIZE],
    ip4_input_errors: u16,
    frame: &mut Frame<'_>,
    cx: &mut Cx<'_>,
    st: &Ip4Dp,
    rows: &[Row],
) {
    // Each packet's trace flag is tested only while tracing is on.
    let tracing = cx.tracing();
    let e_miss = ip4_input_errors + Ip4Err::DstLookupMiss as u16;
    let e_short = ip4_input_errors + Ip4Err::TooShort as u16;
    let n = frame.len();
    let slot_of = |b: &Buffer| dst_of(b.current()).map_or(NO_DST, |a| st.mtrie.start(a));
    if BIG {
        for (j, s) in ahead.iter_mut().enumerate().take(n.min(AHEAD)) {
            *s = slot_of(frame.buf(j));
        }
    }
    // Runs of packets hitting one entry share one counter update.
    let mut run_e = u32::MAX;
    let (mut run_p, mut run_b) = (0u64, 0u64);
    // One-entry cache (per frame: the tables may change between frames), on the
    // destination, or on the entry when the slot was read ahead.
    let mut last_key = None;
    let mut last = (0, Kind::Drop, 0);
    for i in 0..n {
        if BIG && i + AHEAD < n {
            ahead[i + AHEAD] = slot_of(frame.buf(i + AHEAD));
        }
        let (b, nx) = frame.get_mut(i);
        let key = if BIG {
            match ahead[i] {
                s if Mtrie::answers(s) => s,
                // The few slots that do not answer, and NO_DST: the destination again (in
                // L1), and the rest of the lookup.
                s => dst_of(b.current()).map_or(NO_DST, |a| st.mtrie.finish(a, s)),
            }
        } else {
            match dst_of(b.current()) {
                Some(d) => d,
                None => NO_DST,
            }
        };
        if key == NO_DST && (BIG || b.current().len() < 20) {
            b.error = e_short;
            *nx = Next::Drop as u16;
            continue;
        }
        if last_key != Some(key) {
            let e = if BIG { key } else { st.mtrie.lookup(key) };
            let h = rows.get(e as usize).map_or(0, |r| r.hot);
            let (k, i) = st.decide(h);
            last = (e, k, i);
            last_key = Some(key);
        }
        let (e, kind, idx) = last;
        b.opaque.adj_index = idx;
        b.opaque.fib_index = 0;
        if e != run_e {
            if let Some(r) = rows.get(run_e as usize) {
                r.add(run_p, run_b);
            }
            (run_e, run_p, run_b) = (e, 0, 0);
        }
        run_p += 1;
        run_b += u64::from(b.current_length());
        if kind == Kind::Drop {
            b.error = e_miss;
        }
        *nx = kind as u16;
        if tracing && b.is_traced() {
            cx.trace(
                b,
                FwdTrace {
                    dpo: e,
                    hdr: Ip4Bytes::of(b),
                },
            );
        }
    }
    if let Some(r) = rows.get(run_e as usize) {
        r.add(run_p, run_b);
    }
}
