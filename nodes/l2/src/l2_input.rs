//! `l2-input`: the entry of the L2 path (VPP's l2_input_node.c).
//!
//! For each frame from an interface in L2 mode (from `ethernet-input`, `l2tp-decap`, `loop-tx`
//! for a BVI, or a pg stream), it builds the feature bitmap = the port's features ∧ its BD's
//! features ∧ the packet kind (broadcast/multicast destinations lose `l2-fwd` and unknown-unicast
//! flooding), stores it with the BD index and the port's split-horizon group in the buffer, sets
//! TX to the peer for a cross-connect, and goes to the node of the highest feature bit.
//!
//! Arcs: `error-drop`, `feature-bitmap-drop`, `l2-output`, `l2-flood`, `l2-fwd`, `l2-learn`,
//! `l2-input-vtr`, `l2-input-mss-clamp`.
//! Counters: "L2 input packets" (info), "L2 input drops" (error: interface not in L2 mode,
//! or a runt frame).

use crate::state::{feat, L2State, TX_FROM_BVI};
use crate::trace::{macs, InputTrace};
use crate::{feat_next, FeatNext};
use pwire_buffer::buffer::TX;
use pwire_buffer::L2Meta;
use pwire_graph::{counters, Cx, Frame, Node, NodeKind, NodeReg, Shared};
use pwire_vnet::{L2Mode, Registry, Vnet, VnetState};
use std::sync::Arc;

counters! { pub enum C {
    L2Input: info = "L2 input packets",
    Drop: error = "L2 input drops",
} }

/// What `l2-input` needs to know about a receiving port.
#[derive(Clone, Copy, Default)]
struct Port {
    /// Port ∧ BD feature bits; 0 = not in L2 mode.
    feat: u32,
    bd_index: u16,
    shg: u8,
    /// Cross-connect peer, `!0` for a bridge port.
    peer: u32,
    /// `feat_next(feat)`, the next of a unicast frame.
    next: u16,
}

fn port(vs: &VnetState, st: &L2State, sw: u32) -> Port {
    let p = port_settings(vs, st, sw);
    Port {
        next: feat_next(p.feat),
        ..p
    }
}

fn port_settings(vs: &VnetState, st: &L2State, sw: u32) -> Port {
    // A tag rewrite and rx TCP MSS clamping are features of the port (`l2-input-vtr`,
    // `l2-input-mss-clamp`, before the others).
    let mut own = match vs.get(sw) {
        Some(i) if i.vlan.vtr.enabled() => feat::VTR,
        _ => 0,
    };
    if st.mss_cfg(sw).on(crate::mss::dir::RX) {
        own |= feat::MSS;
    }
    match vs.get(sw).map(|i| i.l2) {
        Some(L2Mode::Bridge {
            bd_index, bvi, shg, ..
        }) => {
            let Some(bd) = st.bds.get(bd_index as usize).filter(|b| b.in_use()) else {
                return Port::default();
            };
            Port {
                feat: (feat::bridge_port(bvi) | own) & bd.features(),
                bd_index: u16::try_from(bd_index).unwrap_or(0),
                shg,
                peer: !0,
                next: 0,
            }
        }
        Some(L2Mode::Xconnect { peer }) => Port {
            feat: feat::XCONNECT | feat::DROP | own,
            bd_index: 0,
            shg: 0,
            peer,
            next: 0,
        },
        _ => Port::default(),
    }
}

struct L2Input {
    state: Arc<Shared<L2State>>,
    vnet: Arc<Vnet>,
    /// Ports already worked out, by RX sw_if_index (`None` = not yet): 20 dense bytes a port
    /// instead of an interface record and a bridge domain per packet when a frame comes from
    /// many tunnels. Valid while neither the interfaces were written nor a BD added, deleted
    /// or changed (`gens`: FIB changes, every learn publication and sweep batch among them,
    /// leave it be); one slot per interface.
    ports: Vec<Option<Port>>,
    gens: (u64, u64),
}

pub(crate) fn register(r: &mut Registry, state: Arc<Shared<L2State>>) {
    let vnet = r.vnet.clone();
    r.graph.node(NodeReg::new(
        "l2-input",
        NodeKind::Internal,
        FeatNext::NAMES,
        C::DECLS,
        move |_| {
            Box::new(L2Input {
                state: state.clone(),
                vnet: vnet.clone(),
                ports: Vec::new(),
                gens: (u64::MAX, u64::MAX),
            })
        },
    ));
}

impl Node for L2Input {
    fn process(&mut self, frame: &mut Frame<'_>, cx: &mut Cx<'_>) {
        // The run loops test each buffer's trace flag only while tracing is on.
        let known_ports_run = pwire_graph::tracing_variant!(cx.tracing(), known_ports_run);
        let unicast_run = pwire_graph::tracing_variant!(cx.tracing(), unicast_run);
        let dp = cx.dp();
        let st = self.state.dp(&dp);
        let vs = self.vnet.state.dp(&dp);
        let e_drop = cx.error(C::Drop);
        let n = frame.len() as u64;
        let gens = (self.vnet.state.generation(), st.ports_gen());
        if gens != self.gens {
            // After a configuration change only (sized once for every interface, so the
            // packet loop never allocates).
            self.ports.clear();
            self.ports.resize(vs.ifs.len(), None);
            self.gens = gens;
        }
        // Frames usually come from one port: look it up once per run of equal RX.
        let mut last_rx = u32::MAX;
        let mut p = Port::default();
        let (view, bis, nexts) = frame.parts();
        let len = bis.len();
        let mut i = 0;
        // The packet before came from the same port as its predecessor: a run is likely.
        let mut same = false;
        while i < len {
            // Unicast frames from the run's port, in a loop of their own once a run shows.
            if same && p.feat != 0 {
                i += unicast_run(view, &bis[i..], &mut nexts[i..], last_rx, &p);
                if i == len {
                    break;
                }
            } else if last_rx != u32::MAX && p.feat != 0 {
                // The port changed at the packet before: ports likely change packet by packet.
                let (k, rx) =
                    known_ports_run(view, &bis[i..], &mut nexts[i..], &self.ports, last_rx);
                if k > 0 {
                    i += k;
                    last_rx = rx;
                    p = self
                        .ports
                        .get(rx as usize)
                        .copied()
                        .flatten()
                        .unwrap_or_default();
                    if i == len {
                        break;
                    }
                }
            }
            // SAFETY: frame invariant: each index once, and slot `i` is visited once.
            let b = unsafe { view.get_mut(bis[i]) };
            let nx = &mut nexts[i];
            i += 1;
            let rx = b.rx();
            same = rx == last_rx;
            if rx != last_rx {
                p = match self.ports.get_mut(rx as usize) {
                    Some(Some(known)) => *known,
                    Some(slot) => *slot.insert(port(vs, st, rx)),
                    None => port(vs, st, rx),
                };
                last_rx = rx;
            }
            let d = b.current();
            if p.feat == 0 || d.len() < 14 {
                b.error = e_drop;
                *nx = FeatNext::Drop as u16;
                continue;
            }
            let mut f = p.feat;
            let mcast = d[0] & 1 != 0;
            if mcast {
                // Broadcast and multicast are flooded, never forwarded.
                f &= !(feat::FWD | feat::UU_FLOOD);
            }
            // What the BVI sends comes from L3: split horizon does not apply to it.
            let shg = if b.tx() == TX_FROM_BVI { 0 } else { p.shg };
            if b.is_traced() {
                let (dst, src) = macs(d);
                cx.trace(
                    b,
                    InputTrace {
                        sw_if_index: rx,
                        feat: f,
                        dst,
                        src,
                    },
                );
            }
            b.opaque.l2 = L2Meta {
                feature_bitmap: f,
                bd_index: p.bd_index,
                shg,
                _pad: 0,
            };
            if p.peer != !0 {
                b.sw_if_index[TX] = p.peer;
            }
            *nx = feat_next(f);
        }
        cx.count(C::L2Input, n);
    }
}

/// Unicast frames of at least 14 bytes from the start of `bis`, untraced and not sent by the
/// BVI, each from another L2 port than the packet before (`prev`) whose settings are in
/// `ports` already: the port's L2 metadata and first feature's next. Returns how many and the
/// last packet's port; stops at the first other packet (a repeat goes to the one-port loop).
/// Not inlined: on its own the loop keeps more in registers.
#[inline(never)]
fn known_ports_run<const TRACE: bool>(
    view: pwire_buffer::View<'_>,
    bis: &[u32],
    nexts: &mut [u16],
    ports: &[Option<Port>],
    mut prev: u32,
) -> (usize, u32) {
    for (k, (&bi, nx)) in bis.iter().zip(nexts.iter_mut()).enumerate() {
        // SAFETY: frame invariant: each index once; this loop visits each slot once.
        let b = unsafe { view.get_mut(bi) };
        let rx = b.rx();
        let unicast = b.current().first().is_some_and(|&d0| d0 & 1 == 0);
        if (TRACE && b.is_traced())
            || rx == prev
            || b.current_length() < 14
            || !unicast
            || b.tx() == TX_FROM_BVI
        {
            return (k, prev);
        }
        let Some(Some(p)) = ports.get(rx as usize) else {
            return (k, prev);
        };
        if p.feat == 0 {
            return (k, prev);
        }
        b.opaque.l2 = L2Meta {
            feature_bitmap: p.feat,
            bd_index: p.bd_index,
            shg: p.shg,
            _pad: 0,
        };
        if p.peer != !0 {
            b.sw_if_index[TX] = p.peer;
        }
        *nx = p.next;
        prev = rx;
    }
    (bis.len(), prev)
}

/// Unicast frames of at least 14 bytes from the start of `bis` received on `rx` (port `p`, in
/// L2 mode), untraced and not sent by the BVI: the port's L2 metadata and first feature's next.
/// Returns how many; stops at the first other packet. Not inlined: on its own the loop keeps
/// everything in registers.
#[inline(never)]
fn unicast_run<const TRACE: bool>(
    view: pwire_buffer::View<'_>,
    bis: &[u32],
    nexts: &mut [u16],
    rx: u32,
    p: &Port,
) -> usize {
    let meta = L2Meta {
        feature_bitmap: p.feat,
        bd_index: p.bd_index,
        shg: p.shg,
        _pad: 0,
    };
    let next = p.next;
    for (k, (&bi, nx)) in bis.iter().zip(nexts.iter_mut()).enumerate() {
        // SAFETY: frame invariant: each index once; this loop visits each slot once.
        let b = unsafe { view.get_mut(bi) };
        let unicast = b.current().first().is_some_and(|&d0| d0 & 1 == 0);
        if (TRACE && b.is_traced())
            || b.rx() != rx
            || b.current_length() < 14
            || !unicast
            || b.tx() == TX_FROM_BVI
        {
            return k;
        }
        b.opaque.l2 = meta;
        if p.peer != !0 {
            b.sw_if_index[TX] = p.peer;
        }
        *nx = next;
    }
    bis.len()
}
