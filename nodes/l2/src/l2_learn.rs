//! `l2-learn`: learns source MACs (VPP's l2_learn.c), without writing the shared FIB.
//!
//! Key (source MAC, BD index). Per packet:
//! - known on this port: refresh the entry's minute stamp if the minute changed (an atomic
//!   byte store at most once per MAC per minute: "L2 learn hit updates");
//! - unknown: queue a learn event for the main thread (see `learn.rs`) unless the global or BD
//!   limit is reached ("L2 learn misses", "L2 not learned due to limit"); an all-zero MAC is
//!   never learned;
//! - known on another port: a move, queued the same way ("L2 mac moves"), except that a static
//!   entry drops the frame ("L2 mac move violations") and a filter entry too ("L2 filter mac
//!   drops");
//! - a stale entry (flushed lazily, see `state`) is unknown: learned over, and since that adds
//!   no entry, even at the learn limit. The check is two compares on the entry's own cache
//!   line (against the packet's port's sequence numbers, worked out once per port).
//!
//! Then the learn bit is cleared and the frame goes to the next feature.
//! Arcs: as `l2-input` (`error-drop`, `feature-bitmap-drop`, `l2-output`, `l2-flood`, `l2-fwd`,
//! `l2-learn`). Counters: the seven above plus "L2 learn packets" (info).

use crate::learn::Learners;
use crate::state::{feat, flags, key_bd, minute, L2State, LearnEvent};
use crate::trace::{macs, BdTrace};
use crate::{feat_next, FeatNext};
use pwire_graph::{counters, Cx, Frame, Node, NodeKind, NodeReg, Shared, FRAME_SIZE};
use pwire_vnet::Registry;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

counters! { pub enum C {
    L2Learn: info = "L2 learn packets",
    Miss: info = "L2 learn misses",
    MacMove: info = "L2 mac moves",
    MacMoveViolate: error = "L2 mac move violations",
    Limit: warn = "L2 not learned due to limit",
    HitUpdate: info = "L2 learn hit updates",
    FilterDrop: error = "L2 filter mac drops",
} }

struct L2Learn {
    state: Arc<Shared<L2State>>,
    learners: Arc<Learners>,
    keys: Box<[u64; FRAME_SIZE]>,
}

pub(crate) fn register(r: &mut Registry, state: Arc<Shared<L2State>>, learners: Arc<Learners>) {
    r.graph.node(NodeReg::new(
        "l2-learn",
        NodeKind::Internal,
        FeatNext::NAMES,
        C::DECLS,
        move |_| {
            Box::new(L2Learn {
                state: state.clone(),
                learners: learners.clone(),
                keys: Box::new([0; FRAME_SIZE]),
            })
        },
    ));
}

impl Node for L2Learn {
    fn process(&mut self, frame: &mut Frame<'_>, cx: &mut Cx<'_>) {
        // The run loops test each buffer's trace flag only while tracing is on.
        let known_sources_run = pwire_graph::tracing_variant!(cx.tracing(), known_sources_run);
        let same_source_run = pwire_graph::tracing_variant!(cx.tracing(), same_source_run);
        let dp = cx.dp();
        let st = self.state.dp(&dp);
        let thread = cx.thread();
        // SAFETY: we run on `thread`, inside `process`; the reference ends with this call.
        let local = unsafe { self.learners.local(thread) };
        local.sync(st.gen, st.applied.get(thread).copied().unwrap_or(0));
        let q = &self.learners.queues[thread];
        let now = minute(cx.now(), st.age.minute);
        let (e_violate, e_filter) = (cx.error(C::MacMoveViolate), cx.error(C::FilterDrop));
        let (mut miss, mut moves, mut limit, mut hits) = (0u64, 0u64, 0u64, 0u64);
        let n = frame.len() as u64;
        let prefetched = crate::keys_prefetched::<true>(frame, &st.fib, &mut self.keys);
        // One-entry cache, as VPP's l2fib_lookup: frames often repeat a source.
        let mut last_key = u64::MAX;
        let mut last_rx = u32::MAX;
        let mut last = None;
        // The last key has a stale learned entry (learning over it adds no entry).
        let mut over_stale = false;
        let (view, bis, nexts) = frame.parts();
        let len = bis.len();
        let mut i = 0;
        // The previous packet repeated its predecessor's source, known on its port with nothing
        // to update: the packets after it with the same source and port (likely a run) need
        // only their next.
        let mut quiet = false;
        // The previous packet's source was known on its port but differed from its
        // predecessor's: sources likely change packet by packet.
        let mut varied = false;
        while i < len {
            if quiet {
                i += same_source_run(view, &bis[i..], &mut nexts[i..], last_key, last_rx);
                quiet = false;
                if i == len {
                    break;
                }
            } else if varied {
                varied = false;
                let keys = prefetched.then(|| &self.keys[i..len]);
                let (k, h, lk) =
                    known_sources_run(view, &bis[i..], &mut nexts[i..], keys, st, now, last_key);
                i += k;
                hits += h;
                if k > 0 {
                    // The one-entry cache stays valid: `lk` is the last packet's key.
                    last_key = lk;
                    last = st.fib.get(&lk);
                    over_stale = false;
                    last_rx = last.map_or(u32::MAX, |e| e.sw_if_index);
                }
                if i == len {
                    break;
                }
            }
            // SAFETY: frame invariant: each index once, and slot `i` is visited once.
            let b = unsafe { view.get_mut(bis[i]) };
            let nx = &mut nexts[i];
            i += 1;
            let k = if prefetched {
                self.keys[i - 1]
            } else {
                crate::frame_key::<true>(b)
            };
            let rx = b.rx();
            let bd = b.opaque.l2.bd_index;
            let f = b.opaque.l2.feature_bitmap & !feat::LEARN;
            b.opaque.l2.feature_bitmap = f;
            *nx = feat_next(f);
            if k == crate::NO_KEY {
                // Only a stream injected past `l2-input` can be this short.
                continue;
            }
            if b.is_traced() {
                let (dst, src) = macs(b.current());
                cx.trace(
                    b,
                    BdTrace {
                        node: "l2-learn",
                        sw_if_index: rx,
                        bd_index: bd,
                        dst,
                        src,
                    },
                );
            }
            // Unpublished learning of this thread is newer than the shared table.
            if let Some(port) = local.get(k) {
                if port != rx {
                    moves += 1;
                    local.push(q, event(st, k, rx, bd, now));
                }
                continue;
            }
            let repeat = k == last_key;
            if k != last_key {
                last_key = k;
                let found = st.fib.get(&k);
                last = found.filter(|e| st.live(k, e));
                over_stale = last.is_none() && found.is_some_and(|e| e.learned());
            }
            match last {
                Some(e) if e.sw_if_index == rx => {
                    if e.learned() && e.ts.load(Relaxed) != now {
                        e.ts.store(now, Relaxed);
                        hits += 1;
                    }
                    quiet = repeat && local.is_empty();
                    varied = !repeat && local.is_empty();
                    last_rx = rx;
                }
                None => {
                    miss += 1;
                    if k & 0xffff_ffff_ffff == 0 {
                        continue;
                    }
                    if st.at_limit(bd) && !over_stale {
                        limit += 1;
                    } else {
                        local.push(q, event(st, k, rx, bd, now));
                    }
                }
                Some(e) if e.flags & flags::FILTER != 0 => {
                    b.error = e_filter;
                    *nx = FeatNext::Drop as u16;
                }
                Some(e) if e.flags & flags::STATIC != 0 => {
                    b.error = e_violate;
                    *nx = FeatNext::Drop as u16;
                }
                Some(_) => {
                    moves += 1;
                    local.push(q, event(st, k, rx, bd, now));
                }
            }
        }
        cx.count(C::L2Learn, n);
        cx.count(C::Miss, miss);
        cx.count(C::MacMove, moves);
        cx.count(C::Limit, limit);
        cx.count(C::HitUpdate, hits);
    }
}

/// Packets from the start of `bis` with source key `key` on port `rx`, untraced: clears their
/// learn bit and sets their next. Returns how many; stops at the first other packet. Not
/// inlined: on its own the loop keeps everything in registers.
#[inline(never)]
fn same_source_run<const TRACE: bool>(
    view: pwire_buffer::View<'_>,
    bis: &[u32],
    nexts: &mut [u16],
    key: u64,
    rx: u32,
) -> usize {
    // Frames of one port carry the same bits: the next is worked out once per change.
    let (mut last_f, mut next) = (u32::MAX, 0u16);
    let run = crate::RunKey::<true>::of(key);
    for (k, (&bi, nx)) in bis.iter().zip(nexts.iter_mut()).enumerate() {
        // SAFETY: frame invariant: each index once; this loop visits each slot once.
        let b = unsafe { view.get_mut(bi) };
        if (TRACE && b.is_traced()) || b.rx() != rx || !run.matches(b) {
            return k;
        }
        let f = b.opaque.l2.feature_bitmap & !feat::LEARN;
        b.opaque.l2.feature_bitmap = f;
        if f != last_f {
            (last_f, next) = (f, feat_next(f));
        }
        *nx = next;
    }
    bis.len()
}

/// Packets from the start of `bis` whose source (key from `keys` when prefetched) is in the
/// FIB, live, on the port the packet came in on, untraced, each with another source than the
/// packet before (`prev`): refreshes the entry's timestamp, clears the learn bit, sets the next.
/// Returns how many, how many timestamps it refreshed and the last key; stops at the first
/// other packet (a repeat goes to the same-source loop). Only while this thread has no
/// unpublished learning. Not inlined: on its own the loop keeps more in registers.
#[inline(never)]
fn known_sources_run<const TRACE: bool>(
    view: pwire_buffer::View<'_>,
    bis: &[u32],
    nexts: &mut [u16],
    keys: Option<&[u64]>,
    st: &L2State,
    now: u8,
    mut prev: u64,
) -> (usize, u64, u64) {
    let mut hits = 0u64;
    // What a live entry on the packet's port carries, worked out once per (port, BD).
    let (mut exp_at, mut exp) = ((u32::MAX, 0u16), st.expect(0, u32::MAX));
    // Frames of one port carry the same bits: the next is worked out once per change.
    let (mut last_f, mut next) = (u32::MAX, 0u16);
    for (k, (&bi, nx)) in bis.iter().zip(nexts.iter_mut()).enumerate() {
        // SAFETY: frame invariant: each index once; this loop visits each slot once.
        let b = unsafe { view.get_mut(bi) };
        let key = match keys {
            Some(ks) => ks.get(k).copied().unwrap_or(crate::NO_KEY),
            None => crate::frame_key::<true>(b),
        };
        if (TRACE && b.is_traced()) || key == crate::NO_KEY || key == prev {
            return (k, hits, prev);
        }
        let rx = b.rx();
        let Some(e) = st.fib.get(&key).filter(|e| e.sw_if_index == rx) else {
            return (k, hits, prev);
        };
        let at = (rx, key_bd(key));
        if at != exp_at {
            (exp_at, exp) = (at, st.expect(at.1, rx));
        }
        if !exp.live(e) {
            return (k, hits, prev);
        }
        if e.learned() && e.ts.load(Relaxed) != now {
            e.ts.store(now, Relaxed);
            hits += 1;
        }
        let f = b.opaque.l2.feature_bitmap & !feat::LEARN;
        b.opaque.l2.feature_bitmap = f;
        if f != last_f {
            (last_f, next) = (f, feat_next(f));
        }
        *nx = next;
        prev = key;
    }
    (bis.len(), hits, prev)
}

#[inline]
fn event(st: &L2State, key: u64, sw_if_index: u32, bd: u16, ts: u8) -> LearnEvent {
    LearnEvent {
        key,
        sw_if_index,
        gen: 0,
        seq: 0,
        ts,
        sn: st.sn(bd, sw_if_index),
    }
}
