//! `interface-output`: the last common step before a device's tx node.
//!
//! Arcs: 0 `error-drop`, then one per device class tx node (added by vnet at build).
//! Counters: "interface is down", "interface is deleted".
//!
//! A VLAN sub-interface's frames are counted and captured as its own, then handed to the
//! device with the parent port's sw_if_index (the port or the sub-interface down: "interface
//! is down"); an L3 sub-interface's frames (from ip6-rewrite or ND, with a plain Ethernet
//! header) get its tags pushed first. They take [`SubTx`] paths of their own, chosen once per
//! run, so a port's packets pay nothing for them in the run loop.

use pwire_buffer::buffer::TX;
use pwire_buffer::{flags, Buffer};
use pwire_graph::{counters, next_nodes, Cx, Frame, Node, NodeKind, NodeReg, Shared};
use pwire_vnet::{ifc, CaptureKind, Registry, Vnet, VnetState};
use std::fmt;
use std::sync::Arc;

next_nodes! { pub enum Next { Drop => "error-drop" } }
counters! { pub enum C {
    Down: error = "interface is down",
    Deleted: error = "interface is deleted",
} }

#[derive(Clone, Copy)]
struct OutTrace {
    sw_if_index: u32,
    len: u16,
    head: [u8; 14],
}

impl fmt::Display for OutTrace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let h = &self.head;
        write!(
            f,
            "sw_if_index {} len {}\n{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x} -> {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x} type 0x{:02x}{:02x}",
            self.sw_if_index, self.len, h[6], h[7], h[8], h[9], h[10], h[11], h[0], h[1], h[2], h[3], h[4], h[5], h[12], h[13]
        )
    }
}

/// The node.
#[allow(missing_debug_implementations)]
pub struct InterfaceOutput {
    vnet: Arc<Vnet>,
    state: Arc<Shared<VnetState>>,
}

pub(crate) fn register(r: &mut Registry) {
    let vnet = r.vnet.clone();
    r.graph.node(NodeReg::new(
        "interface-output",
        NodeKind::Internal,
        Next::NAMES,
        C::DECLS,
        move |_b| {
            Box::new(InterfaceOutput {
                state: vnet.state.clone(),
                vnet: vnet.clone(),
            })
        },
    ));
}

/// What a sub-interface's frames need on their way to the device.
#[derive(Clone, Copy)]
struct SubTx {
    /// The parent port: TX for the device's tx node.
    sup: u32,
    /// The sub-interface and its port both up.
    up: bool,
    /// Tags pushed after the MAC addresses (an L3 sub-interface's own; none in L2 mode, where
    /// `l2-output` ran the tag rewrite).
    tags: [u8; 8],
    n_tags: u8,
}

impl SubTx {
    fn of(st: &VnetState, i: &pwire_vnet::Interface) -> Option<SubTx> {
        let s = i.vlan.sub?;
        let (tags, n) = if i.l2 == pwire_vnet::L2Mode::L3 {
            s.wire_tags()
        } else {
            ([0; 8], 0)
        };
        Some(SubTx {
            sup: s.sup,
            up: i.admin_up && st.get(s.sup).is_some_and(|p| p.admin_up),
            tags,
            n_tags: n,
        })
    }

    /// Pushes the tags; false if the frame is shorter than its MAC addresses or there is no
    /// headroom left.
    #[inline(always)]
    fn push(&self, b: &mut Buffer) -> bool {
        let n = 4 * usize::from(self.n_tags);
        if n == 0 {
            return true;
        }
        if b.current_length() < 12 || b.headroom() < n {
            return false;
        }
        let mut macs = [0u8; 12];
        macs.copy_from_slice(&b.current()[..12]);
        if b.prepend(n).is_none() {
            return false;
        }
        let d = b.current_mut();
        d[..12].copy_from_slice(&macs);
        d[12..12 + n].copy_from_slice(&self.tags[..n]);
        true
    }
}

impl Node for InterfaceOutput {
    fn process(&mut self, frame: &mut Frame<'_>, cx: &mut Cx<'_>) {
        let dp = cx.dp();
        let st = self.state.dp(&dp);
        let pcap_on = self.vnet.pcap.enabled() & CaptureKind::Tx as u8 != 0;
        let thread = cx.thread();
        let (e_down, e_del) = (cx.error(C::Down), cx.error(C::Deleted));
        // Runs of the same tx interface share one lookup and one counter update.
        let mut last_sw = u32::MAX;
        let mut last: Option<&pwire_vnet::Interface> = None;
        let mut sub: Option<SubTx> = None;
        let (mut pk, mut by) = (0u64, 0u64);
        let (view, bis, nexts) = frame.parts();
        let n = bis.len();
        let mut i = 0;
        // The packet before went to the same interface as its predecessor: a run is likely.
        let mut same = false;
        while i < n {
            // Packets to the run's interface, when it is up and nothing is captured, in a loop
            // of their own once a run shows.
            if let Some(up) = last.filter(|i| same && i.admin_up && !pcap_on) {
                let (k, bytes) = match sub {
                    None => send_run(view, &bis[i..], &mut nexts[i..], last_sw, up.tx_next),
                    Some(s) if s.up => {
                        sub_send_run(view, &bis[i..], &mut nexts[i..], last_sw, up.tx_next, s)
                    }
                    Some(_) => (0, 0),
                };
                i += k;
                pk += k as u64;
                by += bytes;
                if i == n {
                    break;
                }
            }
            // SAFETY: frame invariant: each index once, and slot `i` is visited once.
            let b = unsafe { view.get_mut(bis[i]) };
            let nx = &mut nexts[i];
            i += 1;
            let sw = b.tx();
            same = sw == last_sw;
            if sw != last_sw {
                if pk > 0 {
                    if let Some(r) = st.row(thread, last_sw) {
                        r.add2(ifc::TX_PKTS, pk, by);
                    }
                }
                pk = 0;
                by = 0;
                last_sw = sw;
                last = st.get(sw);
                sub = last.and_then(|i| SubTx::of(st, i));
            }
            match last {
                Some(i) if i.admin_up => {
                    if let Some(s) = sub {
                        // A frame with no room for its tags is a bug upstream (every path
                        // leaves headroom): counted with the down ones rather than sent bare.
                        if !s.up || !s.push(b) {
                            b.error = e_down;
                            *nx = Next::Drop as u16;
                            continue;
                        }
                    }
                    if b.flags & flags::L4_CSUM_PARTIAL != 0 {
                        finish_csum(b);
                    }
                    pk += 1;
                    by += b.current_length() as u64;
                    *nx = i.tx_next;
                    if b.is_traced() {
                        let mut head = [0u8; 14];
                        let c = b.current();
                        let k = c.len().min(14);
                        head[..k].copy_from_slice(&c[..k]);
                        cx.trace(
                            b,
                            OutTrace {
                                sw_if_index: sw,
                                len: b.current_length(),
                                head,
                            },
                        );
                    }
                    if pcap_on {
                        self.vnet
                            .pcap
                            .capture(CaptureKind::Tx, sw, cx.now(), b.current(), &[]);
                    }
                    if let Some(s) = sub {
                        b.sw_if_index[TX] = s.sup;
                    }
                }
                Some(_) => {
                    b.error = e_down;
                    *nx = Next::Drop as u16;
                }
                None => {
                    b.error = e_del;
                    *nx = Next::Drop as u16;
                }
            }
        }
        if pk > 0 {
            if let Some(r) = st.row(thread, last_sw) {
                r.add2(ifc::TX_PKTS, pk, by);
            }
        }
    }
}

/// [`send_run`] for sub-interface `sw` (up, with its port): pushes an L3 sub-interface's tags
/// and hands each packet to the device as the port's. Stops, as `send_run`, at the first other
/// packet, and at one whose tags do not fit (the general path drops it).
#[inline(never)]
fn sub_send_run(
    view: pwire_buffer::View<'_>,
    bis: &[u32],
    nexts: &mut [u16],
    sw: u32,
    next: u16,
    s: SubTx,
) -> (usize, u64) {
    let mut by = 0u64;
    for (k, (&bi, nx)) in bis.iter().zip(nexts.iter_mut()).enumerate() {
        // SAFETY: frame invariant: each index once; this loop visits each slot once.
        let b = unsafe { view.get_mut(bi) };
        if b.flags & (flags::TRACED | flags::L4_CSUM_PARTIAL) != 0 || b.tx() != sw || !s.push(b) {
            return (k, by);
        }
        by += u64::from(b.current_length());
        b.sw_if_index[TX] = s.sup;
        *nx = next;
    }
    (bis.len(), by)
}

/// Packets from the start of `bis` sent to `sw` (up), untraced and with no checksum to finish:
/// `next`. Returns how many and their bytes; stops at the first other packet. Not inlined: on
/// its own the loop keeps everything in registers.
#[inline(never)]
fn send_run(
    view: pwire_buffer::View<'_>,
    bis: &[u32],
    nexts: &mut [u16],
    sw: u32,
    next: u16,
) -> (usize, u64) {
    let mut by = 0u64;
    for (k, (&bi, nx)) in bis.iter().zip(nexts.iter_mut()).enumerate() {
        // SAFETY: frame invariant: each index once; this loop visits each slot once.
        let b = unsafe { view.get_mut(bi) };
        if b.flags & (flags::TRACED | flags::L4_CSUM_PARTIAL) != 0 || b.tx() != sw {
            return (k, by);
        }
        by += u64::from(b.current_length());
        *nx = next;
    }
    (bis.len(), by)
}

/// Completes a CHECKSUM_PARTIAL packet before it leaves on a wire.
fn finish_csum(b: &mut pwire_buffer::Buffer) {
    pwire_vnet::finish_l4_csum(b);
}
