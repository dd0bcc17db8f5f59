//! `l2-input-vtr`: the ingress VLAN tag rewrite (VPP's l2_vtr.c, node `l2-input-vtr`).
//!
//! `l2-input` sends here the frames of ports with `set interface l2 tag-rewrite` (feature bit
//! [`feat::VTR`], the first feature to run, as in VPP). Each frame gets its RX interface's
//! ingress rewrite (`Vtr::ingress`: pop, translate or push tags after the MAC addresses), then
//! goes to the next feature of its bitmap. A frame with fewer tags than the rewrite pops is
//! dropped, as VPP drops it. The inverse rewrite on egress is `l2-output`'s.
//!
//! Arcs: those of `l2-input` (`FeatNext`). Counters: "L2 inverter packets" (info), "L2 input
//! tag rewrite drops" (error), VPP's strings.

use crate::state::feat;
use crate::{feat_next, FeatNext};
use pwire_graph::{counters, Cx, Frame, Node, NodeKind, NodeReg};
use pwire_vnet::interface::TagRewrite;
use pwire_vnet::{Registry, Vnet};
use pwire_wire::Mac;
use std::fmt;
use std::sync::Arc;

counters! { pub enum C {
    Packets: info = "L2 inverter packets",
    Drop: error = "L2 input tag rewrite drops",
} }

/// `l2-input-vtr: sw_if_index N dst <mac> src <mac> data <6 bytes after the MACs>`, the frame
/// as rewritten (VPP's layout).
#[derive(Clone, Copy)]
struct VtrTrace {
    sw_if_index: u32,
    head: [u8; 18],
}

impl fmt::Display for VtrTrace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let h = &self.head;
        let mut dst = [0u8; 6];
        let mut src = [0u8; 6];
        dst.copy_from_slice(&h[..6]);
        src.copy_from_slice(&h[6..12]);
        write!(
            f,
            "l2-input-vtr: sw_if_index {} dst {} src {} data {:02x} {:02x} {:02x} {:02x} {:02x} {:02x}",
            self.sw_if_index,
            Mac(dst),
            Mac(src),
            h[12],
            h[13],
            h[14],
            h[15],
            h[16],
            h[17]
        )
    }
}

struct L2InputVtr {
    vnet: Arc<Vnet>,
}

pub(crate) fn register(r: &mut Registry) {
    let vnet = r.vnet.clone();
    r.graph.node(NodeReg::new(
        "l2-input-vtr",
        NodeKind::Internal,
        FeatNext::NAMES,
        C::DECLS,
        move |_| Box::new(L2InputVtr { vnet: vnet.clone() }),
    ));
}

impl Node for L2InputVtr {
    fn process(&mut self, frame: &mut Frame<'_>, cx: &mut Cx<'_>) {
        let dp = cx.dp();
        let vs = self.vnet.state.dp(&dp);
        let e_drop = cx.error(C::Drop);
        let n = frame.len() as u64;
        // Frames usually come from one port: its rewrite is looked up once per run.
        let mut last_rx = u32::MAX;
        let mut rw = TagRewrite::default();
        let (view, bis, nexts) = frame.parts();
        let len = bis.len();
        let mut i = 0;
        while i < len {
            // SAFETY: frame invariant: each index once, and slot `i` is visited once.
            let b = unsafe { view.get_mut(bis[i]) };
            let nx = &mut nexts[i];
            i += 1;
            let rx = b.rx();
            if rx != last_rx {
                last_rx = rx;
                // An interface that left L2 mode meanwhile keeps its frames as they are.
                rw = vs
                    .get(rx)
                    .filter(|i| i.l2 != pwire_vnet::L2Mode::L3)
                    .map_or_else(TagRewrite::default, |i| i.vlan.vtr.ingress);
            }
            let f_in = b.opaque.l2.feature_bitmap;
            let f = f_in & !feat::VTR;
            b.opaque.l2.feature_bitmap = f;
            if !rw.apply(b) {
                b.error = e_drop;
                *nx = FeatNext::Drop as u16;
                continue;
            }
            let next = feat_next(f);
            *nx = next;
            if b.is_traced() {
                let mut head = [0u8; 18];
                let d = b.current();
                let k = d.len().min(18);
                head[..k].copy_from_slice(&d[..k]);
                cx.trace(
                    b,
                    VtrTrace {
                        sw_if_index: rx,
                        head,
                    },
                );
                continue;
            }
            // The packets after it from the same port with the same features, in a loop of
            // their own.
            i += run(view, &bis[i..], &mut nexts[i..], rx, f_in, next, &rw);
        }
        cx.count(C::Packets, n);
    }
}

/// Untraced frames from the start of `bis` received on `rx` with feature bitmap `f_in`, each
/// rewritten with `rw` and sent to `next`. Returns how many; stops at the first other packet
/// and at one the rewrite refuses (left as it was: the general path drops it). Not inlined,
/// and one loop per rewrite shape, so each keeps its state in registers.
#[inline(never)]
fn run(
    view: pwire_buffer::View<'_>,
    bis: &[u32],
    nexts: &mut [u16],
    rx: u32,
    f_in: u32,
    next: u16,
    rw: &TagRewrite,
) -> usize {
    match (rw.pop, rw.push) {
        (0, 0) => run_n::<0, 0>(view, bis, nexts, rx, f_in, next, rw),
        (0, 1) => run_n::<0, 1>(view, bis, nexts, rx, f_in, next, rw),
        (0, _) => run_n::<0, 2>(view, bis, nexts, rx, f_in, next, rw),
        (1, 0) => run_n::<1, 0>(view, bis, nexts, rx, f_in, next, rw),
        (1, 1) => run_n::<1, 1>(view, bis, nexts, rx, f_in, next, rw),
        (1, _) => run_n::<1, 2>(view, bis, nexts, rx, f_in, next, rw),
        (_, 0) => run_n::<2, 0>(view, bis, nexts, rx, f_in, next, rw),
        (_, 1) => run_n::<2, 1>(view, bis, nexts, rx, f_in, next, rw),
        _ => run_n::<2, 2>(view, bis, nexts, rx, f_in, next, rw),
    }
}

#[inline(always)]
fn run_n<const POP: usize, const PUSH: usize>(
    view: pwire_buffer::View<'_>,
    bis: &[u32],
    nexts: &mut [u16],
    rx: u32,
    f_in: u32,
    next: u16,
    rw: &TagRewrite,
) -> usize {
    let f = f_in & !feat::VTR;
    for (k, (&bi, nx)) in bis.iter().zip(nexts.iter_mut()).enumerate() {
        // SAFETY: frame invariant: each index once; this loop visits each slot once.
        let b = unsafe { view.get_mut(bi) };
        if b.is_traced()
            || b.rx() != rx
            || b.opaque.l2.feature_bitmap != f_in
            || ((POP, PUSH) != (0, 0) && !rw.apply_n::<POP, PUSH>(b))
        {
            return k;
        }
        b.opaque.l2.feature_bitmap = f;
        *nx = next;
    }
    bis.len()
}
