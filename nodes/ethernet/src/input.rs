//! `ethernet-input` (VPP's vnet/ethernet/node.c).
//!
//! Per frame: parses the Ethernet header and up to two VLAN tags (802.1Q / 802.1ad), then
//! - RX interface in L2 mode (bridge or xconnect) and the l2 crate registered: `l2-input`, with
//!   `l2_len` set and the buffer still at the Ethernet header (as VPP hands it over);
//! - otherwise (L3): tagged frames have no sub-interface to go to ("unknown vlan"); unicast
//!   frames for another MAC are dropped ("l3 mac mismatch"); the rest go to the node registered
//!   for their ethertype (`Registry::ethertype`), with the buffer advanced past the L2 header and
//!   `l2_len` set; unregistered ethertypes are dropped ("unknown ethernet type").
//!
//! A port with VLAN sub-interfaces (`VlanIf::subs`) sends its frames down a path of their own
//! first (the one test a port without them pays per frame): the tags pick a sub-interface as
//! VPP's `eth_identify_subint` does (QinQ, outer with any inner, single tag, default, untagged;
//! exact-match ones only at their own tag count). A match becomes the RX interface, counts its
//! rx packets and bytes, is dropped while down ("subinterface down"), and goes on as above in
//! its own L2 or L3 mode (an L3 sub-interface's tags are stripped with the header). No match:
//! the port takes the frame as it would without sub-interfaces (in L2 mode every tag count, in
//! L3 only untagged frames; the rest count as "unknown vlan").
//!
//! Arcs: 0 `error-drop`, then one per registered ethertype node and `l2-input` (added at build).
//! Counters: see the crate doc. Rx interface counters belong to the drivers; this node counts
//! nothing on success. `pcap trace rx` captures each frame once, before any header is stripped.

use pwire_buffer::buffer::RX;
use pwire_buffer::{flags, Buffer};
use pwire_graph::{counters, next_nodes, Cx, Frame, Node, NodeKind, NodeReg};
use pwire_vnet::interface::SubTable;
use pwire_vnet::{ifc, CaptureKind, L2Mode, Registry, Vnet, VnetState};
use pwire_wire::ethernet::{ethertype, is_vlan_tpid};
use pwire_wire::{Dot1qTag, EthHdr};
use std::fmt;
use std::sync::Arc;

next_nodes! { pub enum Next { Drop => "error-drop" } }
counters! { pub enum C {
    UnknownType: error = "unknown ethernet type",
    UnknownVlan: error = "unknown vlan",
    L3MacMismatch: error = "l3 mac mismatch",
    Down: error = "subinterface down",
    TooShort: error = "ethernet frame too short",
} }

/// Most ethertypes the dispatch table holds (a handful are ever registered).
const MAX_ETHERTYPES: usize = 16;

/// Trace record: VPP prints the frame line and the decoded Ethernet header.
#[derive(Clone, Copy)]
struct EthTrace {
    sw_if_index: u32,
    /// Bytes of the L2 header captured (14, 18 or 22; fewer for a runt).
    n: u8,
    hdr: [u8; 22],
}

fn ethertype_name(t: u16) -> Option<&'static str> {
    Some(match t {
        ethertype::IPV4 => "IP4",
        ethertype::IPV6 => "IP6",
        ethertype::ARP => "ARP",
        ethertype::DOT1Q => "VLAN",
        ethertype::DOT1AD => "DOT1AD",
        0x8847 => "MPLS",
        _ => return None,
    })
}

fn fmt_mac(f: &mut fmt::Formatter<'_>, m: &[u8]) -> fmt::Result {
    write!(
        f,
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        m[0], m[1], m[2], m[3], m[4], m[5]
    )
}

impl fmt::Display for EthTrace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "frame: flags 0x0, hw-if-index {0}, sw-if-index {0}",
            self.sw_if_index
        )?;
        let h = &self.hdr[..self.n as usize];
        if h.len() < EthHdr::LEN {
            return write!(f, "\nethernet header truncated");
        }
        // The type printed is the innermost one; the tags follow the addresses (VPP's layout).
        let mut off = 12;
        let mut tags = [(0u16, 0u16); 2];
        let mut n_tags = 0;
        while n_tags < 2
            && off + 6 <= h.len()
            && is_vlan_tpid(u16::from_be_bytes([h[off], h[off + 1]]))
        {
            tags[n_tags] = (
                u16::from_be_bytes([h[off], h[off + 1]]),
                u16::from_be_bytes([h[off + 2], h[off + 3]]),
            );
            n_tags += 1;
            off += 4;
        }
        let t = u16::from_be_bytes([h[off], h[off + 1]]);
        // Same indent as the frame line (the trace printer indents every line).
        f.write_str("\n")?;
        match ethertype_name(t) {
            Some(n) => f.write_str(n)?,
            None => write!(f, "0x{t:04x}")?,
        }
        f.write_str(": ")?;
        fmt_mac(f, &h[6..12])?;
        f.write_str(" -> ")?;
        fmt_mac(f, &h[0..6])?;
        for &(tpid, tci) in &tags[..n_tags] {
            let kind = if tpid == ethertype::DOT1AD {
                "802.1ad"
            } else {
                "802.1q"
            };
            write!(f, " {kind} vlan {}", tci & 0x0fff)?;
            if tci >> 13 != 0 {
                write!(f, " priority {}", tci >> 13)?;
            }
        }
        Ok(())
    }
}

/// The node, one instance per thread.
#[derive(Debug)]
pub struct EthernetInput {
    vnet: Arc<Vnet>,
    /// (ethertype, next index) pairs, `n_types` of them in use.
    types: [(u16, u16); MAX_ETHERTYPES],
    n_types: usize,
    /// Next index of `l2-input`, when the l2 crate is part of the graph.
    l2_next: Option<u16>,
}

pub(crate) fn register(r: &mut Registry) {
    let vnet = r.vnet.clone();
    r.graph.node(NodeReg::new(
        "ethernet-input",
        NodeKind::Internal,
        Next::NAMES,
        C::DECLS,
        move |b| {
            let mut types = [(0u16, 0u16); MAX_ETHERTYPES];
            let mut n_types = 0;
            for &(et, node) in &vnet.statics().ethertypes {
                // Arcs for every registered ethertype are added by vnet, so the index exists; the
                // first registration of an ethertype wins.
                if let Some(nx) = b.next_index(node) {
                    if n_types < MAX_ETHERTYPES && !types[..n_types].iter().any(|&(t, _)| t == et) {
                        types[n_types] = (et, nx);
                        n_types += 1;
                    }
                }
            }
            Box::new(EthernetInput {
                vnet: vnet.clone(),
                types,
                n_types,
                l2_next: b.next_index("l2-input"),
            })
        },
    ));
}

/// What the node needs to know about the RX interface, looked up once per run of packets.
#[derive(Clone, Copy)]
struct RxIf {
    sw: u32,
    up: bool,
    l2: bool,
    mac: [u8; 6],
    /// Up and without sub-interfaces: the frame takes the plain path. Else it is dropped if
    /// the port is down, or takes [`EthernetInput::sub_input`] (the table is in [`SubCx`], so
    /// the plain path tests one flag, as it tested `up` before sub-interfaces existed).
    plain: bool,
}

/// The error codes of one dispatch.
#[derive(Clone, Copy)]
struct Errs {
    unknown: u16,
    vlan: u16,
    mac: u16,
    down: u16,
}

/// What the sub-interface path needs besides the frame: set once per frame, the table and
/// the current sub-interface once per run of the port's frames. It lives in memory, out of
/// the main loop's registers.
struct SubCx<'a> {
    st: &'a VnetState,
    thread: usize,
    e: Errs,
    /// The RX port's sub-interfaces.
    t: Option<&'a SubTable>,
    sub: SubRx,
}

/// The sub-interface frames last matched (looked up once per run of them) and the rx packets
/// and bytes counted to it since.
struct SubRx {
    /// The tags that matched it ([`tag_key`]): a frame with the same ones skips the table.
    /// Reset when the port changes.
    key: u64,
    sw: u32,
    up: bool,
    l2: bool,
    mac: [u8; 6],
    pk: u64,
    by: u64,
}

/// A frame's tags as one value, everything the match depends on: their count `n` (3: three
/// or more), the outer TPID and TCI less the priority bits, the inner VLAN id.
#[inline(always)]
fn tag_key(d: &[u8], n: usize) -> u64 {
    let w = |o: usize| u64::from(u16::from_be_bytes([d[o], d[o + 1]]));
    match n {
        0 => 0,
        1 => 1 << 48 | w(12) << 16 | (w(14) & 0x0fff) << 32,
        _ => (n as u64) << 48 | w(12) << 16 | (w(14) & 0x0fff) << 32 | (w(18) & 0x0fff),
    }
}

impl SubRx {
    const NONE: SubRx = SubRx {
        key: u64::MAX,
        sw: u32::MAX,
        up: false,
        l2: false,
        mac: [0; 6],
        pk: 0,
        by: 0,
    };

    /// Adds the counts so far to the sub-interface's row.
    fn flush(&mut self, st: &VnetState, thread: usize) {
        if self.pk > 0 {
            if let Some(r) = st.row(thread, self.sw) {
                r.add2(ifc::RX_PKTS, self.pk, self.by);
            }
            self.pk = 0;
            self.by = 0;
        }
    }

    /// Takes sub-interface `sw` (for tags `key`) as the current one.
    fn set(&mut self, st: &VnetState, thread: usize, key: u64, sw: u32) {
        self.flush(st, thread);
        *self = match st.get(sw) {
            Some(i) => SubRx {
                key,
                sw,
                up: i.admin_up,
                l2: i.l2 != L2Mode::L3,
                mac: i.mac,
                pk: 0,
                by: 0,
            },
            None => SubRx {
                key,
                sw,
                ..SubRx::NONE
            },
        };
    }
}

impl EthernetInput {
    #[inline(always)]
    fn ethertype_next(&self, et: u16) -> Option<u16> {
        self.types[..self.n_types]
            .iter()
            .find(|&&(t, _)| t == et)
            .map(|&(_, n)| n)
    }

    /// Where a parsed frame of an up interface goes: `l2-input` in L2 mode, else its L3 node
    /// (past the L2 header) unless it is tagged (`tagged`: no sub-interface took its tags) or
    /// unicast to another MAC. `l2_len` is already in the buffer.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn dispatch(
        &self,
        b: &mut Buffer,
        l2: bool,
        unicast_other: bool,
        tagged: bool,
        l2_len: usize,
        et: u16,
        e: Errs,
    ) -> u16 {
        let drop = Next::Drop as u16;
        if l2 {
            if let Some(l2) = self.l2_next {
                return l2;
            }
        }
        if tagged {
            b.error = e.vlan;
            return drop;
        }
        if unicast_other {
            b.error = e.mac;
            return drop;
        }
        match self.ethertype_next(et) {
            Some(n) => {
                b.advance(l2_len as i32);
                n
            }
            None => {
                b.error = e.unknown;
                drop
            }
        }
    }

    /// A parsed frame (`l2_len`, innermost ethertype `et`) from up port `rx`, which has
    /// sub-interfaces `t`: the sub-interface its tags pick, or the port. Not inlined: ports
    /// without sub-interfaces do not carry this code in their loop. A frame with the tags of
    /// the one before goes where it went without the table.
    #[inline(never)]
    fn sub_input(
        &self,
        rx: &RxIf,
        c: &mut SubCx<'_>,
        b: &mut Buffer,
        l2_len: usize,
        et: u16,
    ) -> u16 {
        let d = b.current();
        // ethernet-input parsed up to two tags; a third TPID after them counts as three.
        let mut n = (l2_len - EthHdr::LEN) / Dot1qTag::LEN;
        if n == 2 && is_vlan_tpid(et) {
            n = 3;
        }
        let key = tag_key(d, n);
        let len = d.len() as u64;
        let mut dst = [0u8; 6];
        dst.copy_from_slice(&d[..6]);
        // Unicast to another MAC (only L3 looks at it).
        let other = |l2: bool, mac: &[u8; 6]| !l2 && dst[0] & 1 == 0 && dst != *mac;
        if key != c.sub.key {
            let w = |o: usize| u16::from_be_bytes([d[o], d[o + 1]]) & 0x0fff;
            let (outer, inner) = match n {
                0 => (0, 0),
                1 => (w(14), 0),
                _ => (w(14), w(18)),
            };
            let dot1ad = n > 0 && d[12..14] == ethertype::DOT1AD.to_be_bytes();
            match c.t.and_then(|t| t.lookup(n, dot1ad, outer, inner)) {
                Some(sw) => c.sub.set(c.st, c.thread, key, sw),
                None => {
                    let o = other(rx.l2, &rx.mac);
                    return self.dispatch(b, rx.l2, o, n > 0, l2_len, et, c.e);
                }
            }
        }
        let sub = &mut c.sub;
        let o = other(sub.l2, &sub.mac);
        b.sw_if_index[RX] = sub.sw;
        if !sub.up {
            b.error = c.e.down;
            return Next::Drop as u16;
        }
        sub.pk += 1;
        sub.by += len;
        // The sub-interface took the tags: an L3 one strips them with the Ethernet header.
        self.dispatch(b, sub.l2, o, false, l2_len, et, c.e)
    }
}

impl Node for EthernetInput {
    fn process(&mut self, frame: &mut Frame<'_>, cx: &mut Cx<'_>) {
        // The run loops test each buffer's trace flag only while tracing is on.
        let l2_run = pwire_graph::tracing_variant!(cx.tracing(), l2_run);
        let dp = cx.dp();
        let st = self.vnet.state.dp(&dp);
        let pcap_rx = self.vnet.pcap.enabled() & CaptureKind::Rx as u8 != 0;
        let e = Errs {
            unknown: cx.error(C::UnknownType),
            vlan: cx.error(C::UnknownVlan),
            mac: cx.error(C::L3MacMismatch),
            down: cx.error(C::Down),
        };
        let e_short = cx.error(C::TooShort);
        let thread = cx.thread();
        let drop = Next::Drop as u16;
        let mut rx = RxIf {
            sw: u32::MAX,
            up: false,
            l2: false,
            mac: [0; 6],
            plain: false,
        };
        let mut sc = SubCx {
            st,
            thread,
            e,
            t: None,
            sub: SubRx::NONE,
        };
        let (view, bis, nexts) = frame.parts();
        let n = bis.len();
        let mut i = 0;
        while i < n {
            // The common frame (untagged, from the run's up L2 port without sub-interfaces,
            // untraced, no rx capture) in a loop of its own once the port is known.
            if let (true, false, Some(l2)) = (rx.plain && rx.l2, pcap_rx, self.l2_next) {
                let k = l2_run(view, &bis[i..], &mut nexts[i..], rx.sw, l2);
                i += k;
                if i == n {
                    break;
                }
            }
            // SAFETY: frame invariant: each index once, and slot `i` is visited once.
            let b = unsafe { view.get_mut(bis[i]) };
            let nx = &mut nexts[i];
            i += 1;
            let sw = b.rx();
            if sw != rx.sw {
                rx = match st.get(sw) {
                    Some(i) => {
                        let t = i.vlan.subs.as_deref();
                        if t.is_some() {
                            // The tags-to-sub-interface cache is the port's.
                            sc.t = t;
                            sc.sub.key = u64::MAX;
                        }
                        RxIf {
                            sw,
                            up: i.admin_up,
                            l2: i.l2 != L2Mode::L3,
                            mac: i.mac,
                            plain: i.admin_up && t.is_none(),
                        }
                    }
                    None => RxIf {
                        sw,
                        up: false,
                        l2: false,
                        mac: [0; 6],
                        plain: false,
                    },
                };
            }
            if pcap_rx && b.flags & flags::PCAP_SEEN == 0 {
                self.vnet
                    .pcap
                    .capture(CaptureKind::Rx, sw, cx.now(), b.current(), &[]);
                b.flags |= flags::PCAP_SEEN;
            }
            let d = b.current();
            if b.is_traced() {
                let n = d.len().min(22);
                let mut hdr = [0u8; 22];
                hdr[..n].copy_from_slice(&d[..n]);
                cx.trace(
                    b,
                    EthTrace {
                        sw_if_index: sw,
                        n: n as u8,
                        hdr,
                    },
                );
            }
            let Ok((eth, mut rest)) = EthHdr::parse(d) else {
                b.error = e_short;
                *nx = drop;
                continue;
            };
            let mut et = eth.ethertype();
            let mut l2_len = EthHdr::LEN;
            let mut tagged = false;
            let mut short = false;
            for _ in 0..2 {
                if !is_vlan_tpid(et) {
                    break;
                }
                match Dot1qTag::parse(rest) {
                    Ok((tag, r)) => {
                        et = tag.ethertype.get();
                        rest = r;
                        l2_len += Dot1qTag::LEN;
                        tagged = true;
                    }
                    Err(_) => {
                        short = true;
                        break;
                    }
                }
            }
            let unicast_other = eth.dst.0[0] & 1 == 0 && eth.dst.0 != rx.mac;
            if short {
                b.error = e_short;
                *nx = drop;
                continue;
            }
            // One test for an up port without sub-interfaces (what it was before they existed).
            if !rx.plain {
                if !rx.up {
                    b.error = e.down;
                    *nx = drop;
                    continue;
                }
                // l2_len is 14, 18 or 22: it fits.
                b.l2_len = l2_len as u8;
                *nx = self.sub_input(&rx, &mut sc, b, l2_len, et);
                continue;
            }
            b.l2_len = l2_len as u8;
            // The same as `dispatch`, written out: through the helper the compiler compares
            // the MAC for L2 frames too (11 instructions a frame).
            if rx.l2 {
                if let Some(l2) = self.l2_next {
                    *nx = l2;
                    continue;
                }
            }
            if tagged {
                // No sub-interface took the tags, and an L3 port takes untagged frames only.
                b.error = e.vlan;
                *nx = drop;
                continue;
            }
            if unicast_other {
                b.error = e.mac;
                *nx = drop;
                continue;
            }
            match self.ethertype_next(et) {
                Some(n) => {
                    b.advance(l2_len as i32);
                    *nx = n;
                }
                None => {
                    b.error = e.unknown;
                    *nx = drop;
                }
            }
        }
        sc.sub.flush(st, thread);
    }
}

/// Frames from the start of `bis` received on L2 port `sw` (up, no sub-interfaces), untraced
/// and untagged: `l2_len` 14 and `next` (l2-input). Returns how many; stops at the first
/// other frame. Not inlined: on its own the loop keeps everything in registers.
#[inline(never)]
fn l2_run<const TRACE: bool>(
    view: pwire_buffer::View<'_>,
    bis: &[u32],
    nexts: &mut [u16],
    sw: u32,
    next: u16,
) -> usize {
    for (k, (&bi, nx)) in bis.iter().zip(nexts.iter_mut()).enumerate() {
        // SAFETY: frame invariant: each index once; this loop visits each slot once.
        let b = unsafe { view.get_mut(bi) };
        let Some(h) = b.current().first_chunk::<{ EthHdr::LEN }>() else {
            return k;
        };
        if (TRACE && b.is_traced())
            || b.rx() != sw
            || is_vlan_tpid(u16::from_be_bytes([h[12], h[13]]))
        {
            return k;
        }
        b.l2_len = EthHdr::LEN as u8;
        *nx = next;
    }
    bis.len()
}
