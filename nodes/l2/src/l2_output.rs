//! `l2-output`: the last L2 step before the egress interface's output node (VPP's
//! l2_output.c), and the two small drop nodes of the L2 path.
//!
//! `l2-output` drops a frame whose egress port shares the ingress port's non-zero split-horizon
//! group ("L2 split horizon drops"), sends frames for an interface that is deleted or was put
//! back to L3 to `l2-output-bad-intf` (a cross-connect may still send to an L3 peer, as in VPP),
//! and otherwise goes to the interface's output node: `interface-output` for devices,
//! `l2tp-encap` for L2TPv3 tunnels (vnet adds one arc per device class, and
//! `Interface::l2_output_next` is its index).
//! The egress port's inverse tag rewrite (`set interface l2 tag-rewrite`, `Vtr::egress`) is
//! applied here, as VPP's l2-output does: a frame with fewer tags than it pops is dropped ("L2
//! output tag rewrite drops"). Without a rewrite a frame leaves a sub-interface as it is (VPP's
//! behaviour: the sub-interface's tag is not added).
//! On a port with tx TCP MSS clamping each frame, tags rewritten, is checked for a TCP SYN
//! (`mss::divert_tx`): a SYN goes to `l2-output-mss-clamp`, which sees it as the port will
//! send it, and comes back here marked, to be sent on as it is (`mss::back_from_clamp`).
//! Arcs: `error-drop`, `l2-output-bad-intf`, `l2-output-mss-clamp`, then the output nodes.
//! Counters: "L2 output packets" (info), "L2 output tag rewrite drops", "L2 split horizon
//! drops", "L2 output drops" (declared for parity).
//!
//! `l2-output-bad-intf`: counter "L2 output to interface not in L2 mode or deleted"; arc
//! `error-drop`.
//!
//! `feature-bitmap-drop`: where a frame goes when no forwarding feature is left (e.g. flooding
//! disabled on its BD): "L2 feature forwarding disabled", or "L2 feature not implemented" when
//! other bits remain. Arc `error-drop`.

use crate::mss::{self, back_from_clamp, divert_tx};
use crate::state::{feat, L2State};
use crate::trace::{FeatDropTrace, OutputTrace};
use pwire_graph::{counters, next_nodes, Cx, Frame, Node, NodeKind, NodeReg, Shared};
use pwire_vnet::interface::TagRewrite;
use pwire_vnet::{L2Mode, Registry, Vnet};
use std::sync::Arc;

next_nodes! { pub enum Next {
    Drop => "error-drop",
    BadIntf => "l2-output-bad-intf",
    MssClamp => "l2-output-mss-clamp",
} }
counters! { pub enum C {
    L2Output: info = "L2 output packets",
    VtrDrop: error = "L2 output tag rewrite drops",
    ShgDrop: error = "L2 split horizon drops",
    Drop: error = "L2 output drops",
} }

struct L2Output {
    vnet: Arc<Vnet>,
    state: Arc<Shared<L2State>>,
}

pub(crate) fn register(r: &mut Registry, state: Arc<Shared<L2State>>) {
    let vnet = r.vnet.clone();
    r.graph.node(NodeReg::new(
        "l2-output",
        NodeKind::Internal,
        Next::NAMES,
        C::DECLS,
        move |_| {
            Box::new(L2Output {
                vnet: vnet.clone(),
                state: state.clone(),
            })
        },
    ));
    r.graph.node(NodeReg::new(
        "l2-output-bad-intf",
        NodeKind::Internal,
        &["error-drop"],
        BadC::DECLS,
        |_| Box::new(Dropper::<true>),
    ));
    r.graph.node(NodeReg::new(
        "feature-bitmap-drop",
        NodeKind::Internal,
        &["error-drop"],
        FeatC::DECLS,
        |_| Box::new(Dropper::<false>),
    ));
}

/// Where frames for one egress port go.
#[derive(Clone, Copy)]
struct Egress {
    /// Next index, or `Next::BadIntf`.
    next: u16,
    /// Only bridged frames are refused by an L3 port.
    l3: bool,
    shg: u8,
    /// The port's egress tag rewrite (none unless it is in L2 mode with one).
    vtr: TagRewrite,
    /// The families whose TCP SYNs the port clamps when it sends them
    /// (`MssCfg::families`; 0: none).
    mss: u8,
}

impl Node for L2Output {
    fn process(&mut self, frame: &mut Frame<'_>, cx: &mut Cx<'_>) {
        // The run loops test each buffer's trace flag only while tracing is on.
        let pass_run = pwire_graph::tracing_variant!(cx.tracing(), pass_run);
        let dp = cx.dp();
        let vs = self.vnet.state.dp(&dp);
        let st = self.state.dp(&dp);
        let e_shg = cx.error(C::ShgDrop);
        let e_vtr = cx.error(C::VtrDrop);
        let n = frame.len() as u64;
        let mut last_tx = u32::MAX;
        let mut eg = Egress {
            next: Next::BadIntf as u16,
            l3: false,
            shg: 0,
            vtr: TagRewrite::default(),
            mss: 0,
        };
        let (view, bis, nexts) = frame.parts();
        let len = bis.len();
        let mut i = 0;
        // The packet before went to the same port as its predecessor: a run is likely.
        let mut same = false;
        while i < len {
            // Frames to the run's port that pass, in a loop of their own once a run shows.
            if same && !eg.l3 {
                i += if eg.vtr.is_none() && eg.mss == 0 {
                    pass_run(view, &bis[i..], &mut nexts[i..], last_tx, eg.next, eg.shg)
                } else {
                    vtr_run(view, &bis[i..], &mut nexts[i..], last_tx, &eg)
                };
                if i == len {
                    break;
                }
            }
            // SAFETY: frame invariant: each index once, and slot `i` is visited once.
            let b = unsafe { view.get_mut(bis[i]) };
            let nx = &mut nexts[i];
            i += 1;
            let tx = b.tx();
            same = tx == last_tx;
            if tx != last_tx {
                last_tx = tx;
                eg = match vs.get(tx) {
                    None => Egress {
                        next: Next::BadIntf as u16,
                        l3: false,
                        shg: 0,
                        vtr: TagRewrite::default(),
                        mss: 0,
                    },
                    Some(i) => Egress {
                        next: i.l2_output_next,
                        l3: i.l2 == L2Mode::L3,
                        shg: match i.l2 {
                            L2Mode::Bridge { shg, .. } => shg,
                            _ => 0,
                        },
                        vtr: if i.l2 == L2Mode::L3 {
                            TagRewrite::default()
                        } else {
                            i.vlan.vtr.egress
                        },
                        mss: if i.l2 == L2Mode::L3 {
                            0
                        } else {
                            st.mss_cfg(tx).families(mss::dir::TX)
                        },
                    },
                };
            }
            // Bridged frames carry their BD index; BD 0 means a cross-connect.
            *nx = if eg.l3 && b.opaque.l2.bd_index != 0 {
                Next::BadIntf as u16
            } else if eg.shg != 0 && eg.shg == b.opaque.l2.shg {
                b.error = e_shg;
                Next::Drop as u16
            } else if back_from_clamp(b) {
                // Rewritten before the detour: sent on as it is.
                eg.next
            } else if !eg.vtr.is_none() && !eg.vtr.apply(b) {
                b.error = e_vtr;
                Next::Drop as u16
            } else if eg.mss != 0 && divert_tx(b, eg.mss) {
                Next::MssClamp as u16
            } else {
                eg.next
            };
            if b.is_traced() {
                let mut head = [0u8; 24];
                let c = b.current();
                let k = c.len().min(24);
                head[..k].copy_from_slice(&c[..k]);
                cx.trace(
                    b,
                    OutputTrace {
                        sw_if_index: tx,
                        head,
                    },
                );
            }
        }
        cx.count(C::L2Output, n);
    }
}

/// Frames from the start of `bis` sent to `tx` (an L2 port without a tag rewrite, output arc
/// `next`, split-horizon group `shg`), untraced and not in its group: `next`. Returns how many;
/// stops at the first other packet. Not inlined: on its own the loop keeps everything in
/// registers.
#[inline(never)]
fn pass_run<const TRACE: bool>(
    view: pwire_buffer::View<'_>,
    bis: &[u32],
    nexts: &mut [u16],
    tx: u32,
    next: u16,
    shg: u8,
) -> usize {
    for (k, (&bi, nx)) in bis.iter().zip(nexts.iter_mut()).enumerate() {
        // SAFETY: frame invariant: each index once; this loop visits each slot once.
        let b = unsafe { view.get_mut(bi) };
        if (TRACE && b.is_traced()) || b.tx() != tx || (shg != 0 && shg == b.opaque.l2.shg) {
            return k;
        }
        *nx = next;
    }
    bis.len()
}

/// [`pass_run`] for a port with an egress tag rewrite or tx MSS clamping: each frame
/// rewritten, and on a clamping port a TCP SYN sent to `l2-output-mss-clamp` (marked). Also
/// stops at a frame the rewrite refuses (left unchanged: the general path drops it) and at one
/// back from the clamp (rewritten already: the general path sends it on). One loop per
/// rewrite shape, picked here once per run.
#[inline(never)]
fn vtr_run(
    view: pwire_buffer::View<'_>,
    bis: &[u32],
    nexts: &mut [u16],
    tx: u32,
    eg: &Egress,
) -> usize {
    match (eg.vtr.pop, eg.vtr.push) {
        (0, 0) => vtr_run_n::<0, 0>(view, bis, nexts, tx, eg),
        (0, 1) => vtr_run_n::<0, 1>(view, bis, nexts, tx, eg),
        (0, _) => vtr_run_n::<0, 2>(view, bis, nexts, tx, eg),
        (1, 0) => vtr_run_n::<1, 0>(view, bis, nexts, tx, eg),
        (1, 1) => vtr_run_n::<1, 1>(view, bis, nexts, tx, eg),
        (1, _) => vtr_run_n::<1, 2>(view, bis, nexts, tx, eg),
        (_, 0) => vtr_run_n::<2, 0>(view, bis, nexts, tx, eg),
        (_, 1) => vtr_run_n::<2, 1>(view, bis, nexts, tx, eg),
        _ => vtr_run_n::<2, 2>(view, bis, nexts, tx, eg),
    }
}

#[inline(always)]
fn vtr_run_n<const POP: usize, const PUSH: usize>(
    view: pwire_buffer::View<'_>,
    bis: &[u32],
    nexts: &mut [u16],
    tx: u32,
    eg: &Egress,
) -> usize {
    for (k, (&bi, nx)) in bis.iter().zip(nexts.iter_mut()).enumerate() {
        // SAFETY: frame invariant: each index once; this loop visits each slot once.
        let b = unsafe { view.get_mut(bi) };
        if b.is_traced()
            || b.tx() != tx
            || (eg.shg != 0 && eg.shg == b.opaque.l2.shg)
            || b.opaque.l2.feature_bitmap & feat::MSS_TX_DONE != 0
            || ((POP, PUSH) != (0, 0) && !eg.vtr.apply_n::<POP, PUSH>(b))
        {
            return k;
        }
        *nx = if eg.mss != 0 && divert_tx(b, eg.mss) {
            Next::MssClamp as u16
        } else {
            eg.next
        };
    }
    bis.len()
}

counters! { enum BadC { Drop: error = "L2 output to interface not in L2 mode or deleted" } }
counters! { enum FeatC {
    NoFwd: error = "L2 feature forwarding disabled",
    Nyi: error = "L2 feature not implemented",
} }

/// `l2-output-bad-intf` (`BAD = true`) and `feature-bitmap-drop`: set the reason, drop.
struct Dropper<const BAD: bool>;

impl<const BAD: bool> Node for Dropper<BAD> {
    fn process(&mut self, frame: &mut Frame<'_>, cx: &mut Cx<'_>) {
        let (e0, e1) = if BAD {
            (cx.error(BadC::Drop), cx.error(BadC::Drop))
        } else {
            (cx.error(FeatC::NoFwd), cx.error(FeatC::Nyi))
        };
        for (b, nx) in frame.iter_mut() {
            let f = b.opaque.l2.feature_bitmap;
            if !BAD {
                cx.trace(b, FeatDropTrace { feat: f });
            }
            b.error = if BAD || f == feat::DROP { e0 } else { e1 };
            *nx = 0;
        }
    }
}
