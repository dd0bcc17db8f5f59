//! `l2-fwd`: forwards by destination MAC (VPP's l2_fwd.c).
//!
//! Looks up (destination MAC, BD index) in this thread's unpublished learning first, then in
//! the shared FIB. A hit sets TX to the entry's port and goes to `l2-output`, except: the
//! ingress port itself ("Reflection Drop"), a filter entry ("Filter Mac Drop"), and the BVI's
//! MAC, which goes to L3 (see `bvi.rs`; "BVI L3 MAC mismatch", "BVI packet with unhandled
//! ethertype"). A miss goes to `l2-flood` when unknown-unicast flooding is on, else it is
//! dropped as "L2 forward misses". A stale entry (flushed lazily, see `state`: its sequence
//! numbers are older than its BD's or port's, or its interface was deleted) is a miss, as in
//! VPP, dropped as "Stale entry Drop" when not flooded; the check is two compares on the
//! entry's own cache line against small per-port and per-BD arrays.
//!
//! Arcs: as `l2-input`, plus one per L3 input node for the BVI (added by vnet).
//! Counters: "L2 forward packets", "L2 forward misses" (stale entries included), "L2 forward
//! hits" (info; VPP counts these only in COUNTERS builds, pwire always), and the drops above.

use crate::bvi::{to_bvi, BviErr, L3Next};
use crate::learn::Learners;
use crate::state::{feat, flags, Entry, L2State};
use crate::trace::{macs, FwdTrace};
use crate::{feat_next, FeatNext};
use pwire_buffer::buffer::TX;
use pwire_graph::{counters, Cx, Frame, Node, NodeKind, NodeReg, Shared, FRAME_SIZE};
use pwire_vnet::{Registry, Vnet};
use std::sync::Arc;

counters! { pub enum C {
    L2Fwd: info = "L2 forward packets",
    Flood: info = "L2 forward misses",
    Hit: info = "L2 forward hits",
    BviBadMac: error = "BVI L3 MAC mismatch",
    BviEthertype: error = "BVI packet with unhandled ethertype",
    FilterDrop: error = "Filter Mac Drop",
    ReflectDrop: error = "Reflection Drop",
    StaleDrop: error = "Stale entry Drop",
} }

struct L2Fwd {
    state: Arc<Shared<L2State>>,
    learners: Arc<Learners>,
    vnet: Arc<Vnet>,
    l3: L3Next,
    keys: Box<[u64; FRAME_SIZE]>,
}

pub(crate) fn register(r: &mut Registry, state: Arc<Shared<L2State>>, learners: Arc<Learners>) {
    let vnet = r.vnet.clone();
    r.graph.node(NodeReg::new(
        "l2-fwd",
        NodeKind::Internal,
        FeatNext::NAMES,
        C::DECLS,
        move |b| {
            Box::new(L2Fwd {
                state: state.clone(),
                learners: learners.clone(),
                l3: L3Next::new(&vnet, b),
                vnet: vnet.clone(),
                keys: Box::new([0; FRAME_SIZE]),
            })
        },
    ));
}

/// A lookup result: port, flags, and the shared entry (none for an unpublished MAC); a stale
/// entry is a miss.
#[derive(Clone, Copy)]
struct Hit<'a> {
    sw: u32,
    flags: u8,
    entry: Option<&'a Entry>,
    stale: bool,
}

impl Node for L2Fwd {
    fn process(&mut self, frame: &mut Frame<'_>, cx: &mut Cx<'_>) {
        // The run loops test each buffer's trace flag only while tracing is on.
        let same_destination_run =
            pwire_graph::tracing_variant!(cx.tracing(), same_destination_run);
        let dp = cx.dp();
        let st = self.state.dp(&dp);
        let vs = self.vnet.state.dp(&dp);
        let thread = cx.thread();
        // SAFETY: we run on `thread`, inside `process`; the reference ends with this call.
        let local = unsafe { self.learners.local(thread) };
        local.sync(st.gen, st.applied.get(thread).copied().unwrap_or(0));
        let e_flood = cx.error(C::Flood);
        let e_stale = cx.error(C::StaleDrop);
        let e_reflect = cx.error(C::ReflectDrop);
        let e_filter = cx.error(C::FilterDrop);
        let e_bad_mac = cx.error(C::BviBadMac);
        let e_ethertype = cx.error(C::BviEthertype);
        let (mut hits, mut flooded) = (0u64, 0u64);
        let n = frame.len() as u64;
        // One-entry cache, as VPP's l2fib_lookup: frames often repeat a destination.
        let mut last_key = u64::MAX;
        let mut last: Option<Hit> = None;
        let prefetched = crate::keys_prefetched::<false>(frame, &st.fib, &mut self.keys);
        let (view, bis, nexts) = frame.parts();
        let len = bis.len();
        let mut i = 0;
        // The previous packet repeated its predecessor's destination and went plainly to port
        // `plain`: the packets after it with the same destination (and another RX port) are
        // likely a run, going there too.
        let mut plain = u32::MAX;
        while i < len {
            if plain != u32::MAX {
                let k = same_destination_run(view, &bis[i..], &mut nexts[i..], last_key, plain);
                i += k;
                hits += k as u64;
                plain = u32::MAX;
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
                crate::frame_key::<false>(b)
            };
            if k == crate::NO_KEY {
                b.error = e_flood;
                *nx = FeatNext::Drop as u16;
                continue;
            }
            let bd = b.opaque.l2.bd_index;
            let repeat = k == last_key;
            let r = if k == last_key {
                last
            } else {
                let r = match local.get(k) {
                    Some(sw) => Some(Hit {
                        sw,
                        flags: 0,
                        entry: None,
                        stale: false,
                    }),
                    None => st.fib.get(&k).map(|e| Hit {
                        sw: e.sw_if_index,
                        flags: e.flags,
                        entry: Some(e),
                        stale: !st.live(k, e),
                    }),
                };
                last_key = k;
                last = r;
                r
            };
            let rx = b.rx();
            if b.is_traced() {
                let (dst, src) = macs(b.current());
                cx.trace(
                    b,
                    FwdTrace {
                        sw_if_index: rx,
                        bd_index: bd,
                        dst,
                        src,
                        raw: r.map_or(u64::MAX, |h| h.entry.map_or(u64::from(h.sw), Entry::raw)),
                    },
                );
            }
            match r {
                Some(h) if !h.stale => {
                    hits += 1;
                    if h.sw == rx {
                        b.error = e_reflect;
                        *nx = FeatNext::Drop as u16;
                    } else if h.flags & flags::FILTER != 0 {
                        b.error = e_filter;
                        *nx = FeatNext::Drop as u16;
                    } else if h.flags & flags::BVI != 0 {
                        *nx = match to_bvi(b, h.sw, vs, thread, &self.l3) {
                            Ok(next) => next,
                            Err(e) => {
                                b.error = match e {
                                    BviErr::BadMac => e_bad_mac,
                                    BviErr::Ethertype => e_ethertype,
                                };
                                FeatNext::Drop as u16
                            }
                        };
                    } else {
                        b.sw_if_index[TX] = h.sw;
                        *nx = FeatNext::Output as u16;
                        if repeat {
                            plain = h.sw;
                        }
                    }
                }
                _ => {
                    let f = b.opaque.l2.feature_bitmap;
                    if f & feat::UU_FLOOD != 0 {
                        let f = f & !feat::FWD;
                        b.opaque.l2.feature_bitmap = f;
                        *nx = feat_next(f);
                        flooded += 1;
                    } else {
                        // Flooding unknown unicast is off: the miss (or the stale entry) is
                        // the drop reason.
                        b.error = if r.is_some() { e_stale } else { e_flood };
                        *nx = FeatNext::Drop as u16;
                    }
                }
            }
        }
        cx.count(C::L2Fwd, n);
        cx.count(C::Hit, hits);
        // Dropped misses are counted by error-drop under the same name.
        cx.count(C::Flood, flooded);
    }
}

/// Packets from the start of `bis` with destination key `key`, untraced and not received on
/// `sw`: they go out of `sw`. Returns how many; stops at the first other packet. Not inlined:
/// on its own the loop keeps everything in registers.
#[inline(never)]
fn same_destination_run<const TRACE: bool>(
    view: pwire_buffer::View<'_>,
    bis: &[u32],
    nexts: &mut [u16],
    key: u64,
    sw: u32,
) -> usize {
    let run = crate::RunKey::<false>::of(key);
    for (k, (&bi, nx)) in bis.iter().zip(nexts.iter_mut()).enumerate() {
        // SAFETY: frame invariant: each index once; this loop visits each slot once.
        let b = unsafe { view.get_mut(bi) };
        if (TRACE && b.is_traced()) || b.rx() == sw || !run.matches(b) {
            return k;
        }
        b.sw_if_index[TX] = sw;
        *nx = FeatNext::Output as u16;
    }
    bis.len()
}
