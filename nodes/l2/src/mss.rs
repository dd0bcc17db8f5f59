//! TCP MSS clamping on the L2 path (VPP's mss_clamp plugin, where pwire's frames are):
//! `l2-input-mss-clamp`, `l2-output-mss-clamp`, `set interface tcp-mss-clamp` and `show
//! interface tcp-mss-clamp`.
//!
//! A pseudowire adds 54 to 70 bytes to every frame, so a host that trusts its 1500-byte MTU
//! offers an MSS the tunnel cannot carry. Lowering the MSS option of the SYN and SYN-ACK that
//! cross the bridge makes both ends send segments that fit. VPP's plugin clamps on the IP arcs
//! (`tcp-mss-clamping-ip4-in`, ...); pwire bridges and cross-connects, so the same rewrite is
//! an L2 feature here, for IPv4 and IPv6 frames with up to two VLAN tags:
//!
//! - **rx** (`l2-input-mss-clamp`): feature bit [`feat::MSS`] of a port with rx clamping, the
//!   first feature to run, on the frame as it was received. Every frame of that port passes;
//!   one that is not a TCP SYN costs the header checks of [`find_syn`] and goes on to its
//!   next feature.
//! - **tx** (`l2-output-mss-clamp`): `l2-output` checks each frame to a port with tx clamping
//!   with [`find_syn`], after the port's egress tag rewrite (so both directions see the frame
//!   as it is on the port's wire), and sends only the SYNs here, marked with
//!   [`feat::MSS_TX_DONE`]; this node clamps them and hands them back to `l2-output`, which
//!   sends them on. (The interfaces' output arcs belong to `l2-output`, so the frame returns
//!   there instead of this node duplicating them.) Such a SYN leaves after the frames that
//!   followed it in its vector: frames of other flows, since nothing of its own flow follows
//!   a SYN before the peer answers it.
//!
//! The rewrite ([`pwire_wire::tcp::clamp_mss`]): every MSS option above the limit is lowered
//! to it, never raised, and the TCP checksum updated incrementally (RFC 1624); a checksum the
//! kernel left partial (`L4_CSUM_PARTIAL`) holds only the pseudo-header sum and is finished
//! later over the new bytes, so it is left alone. A SYN without an MSS option is left alone,
//! as VPP does: adding an option means growing the header and moving the payload, and the
//! peer then assumes the RFC 9293 default (536 over IPv4, 1220 over IPv6), below any useful
//! clamp already. Malformed options, a TCP header that overruns its packet or frame, and
//! fragments other than the first are never written to.
//!
//! `auto` is the MSS that fills the interface's MTU ([`auto_mss`]). On an L2TPv3 tunnel the L3
//! MTU is the largest inner frame (pwire sets it at create), so the inner Ethernet header and
//! each VLAN tag of the frame are taken off too; elsewhere the MTU is the IP MTU. It follows
//! MTU changes: the nodes resolve it when they look the port up.
//!
//! Counters, on both nodes: "clamped" (VPP's), "syn without mss option", "malformed tcp syn".
//! Trace: `<node>: sw_if_index N ip4|ip6 max mss: M clamped: 0|1 (what was found)`.

use crate::state::{feat, L2State};
use crate::{feat_next, FeatNext};
use pwire_cli::{Args, CliError};
use pwire_graph::{counters, Cx, Frame, Node, NodeKind, NodeReg, Shared};
use pwire_vnet::interface::Interface;
use pwire_vnet::registry::cmd;
use pwire_vnet::{CliCtx, Registry, Vnet, VnetState};
use pwire_wire::ethernet::{ethertype, is_vlan_tpid};
use pwire_wire::ipv6::PROTO_TCP;
use pwire_wire::tcp::{clamp_mss, MssClamp, FLAG_SYN};
use pwire_wire::{Dot1qTag, EthHdr, Ip4Hdr, Ip6Hdr, TcpHdr};
use std::fmt::{self, Write as _};
use std::sync::Arc;

/// Clamping directions (VPP's `mss_clamp_dir`).
pub mod dir {
    pub const NONE: u8 = 0;
    pub const RX: u8 = 1;
    pub const TX: u8 = 2;
    pub const BOTH: u8 = RX | TX;
}

/// A limit that clamps nothing (no MSS is above it; VPP's `MSS_CLAMP_UNSET`, which its CLI
/// refuses as a value too).
pub const OFF: u16 = u16::MAX;

/// A configured maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MssValue {
    Fixed(u16),
    /// From the interface's MTU ([`auto_mss`]).
    Auto,
}

/// One family's setting on one interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Family {
    /// [`dir`] bits.
    pub dir: u8,
    pub mss: MssValue,
}

impl Default for Family {
    fn default() -> Self {
        Family {
            dir: dir::NONE,
            mss: MssValue::Fixed(OFF),
        }
    }
}

/// An interface's clamping configuration (VPP's `max_mss4/6`, `dir_enabled4/6`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MssCfg {
    pub ip4: Family,
    pub ip6: Family,
}

impl MssCfg {
    /// Some family clamps in direction `d`.
    pub fn on(&self, d: u8) -> bool {
        (self.ip4.dir | self.ip6.dir) & d != 0
    }
    /// The families that clamp in direction `d`: bit 0 IPv4, bit 1 IPv6 ([`Syn::family`]).
    pub fn families(&self, d: u8) -> u8 {
        u8::from(self.ip4.dir & d != 0) | u8::from(self.ip6.dir & d != 0) << 1
    }
}

/// Bytes of the IP and TCP headers without options, by family.
const HEADERS: [u32; 2] = [20 + 20, 40 + 20];

/// The MSS that fills interface `i`'s MTU for IPv4 (`v6` false) or IPv6: its IP MTU less the
/// IP and TCP headers. A non-Ethernet interface carrying frames (an L2TPv3 tunnel) has as L3
/// MTU the largest inner frame, so the inner Ethernet header is taken off too, and the second
/// value is true: each VLAN tag of a frame takes 4 more. A per-family MTU set on it (`set
/// interface mtu ip4|ip6`) is an IP MTU. None when the MTU is unknown (0) or too small.
pub fn auto_mss(i: &Interface, ethernet: bool, v6: bool) -> Option<(u16, bool)> {
    let hdrs = HEADERS[usize::from(v6)];
    let family_mtu = i.mtu[1 + usize::from(v6)];
    let (room, per_tag) = if ethernet {
        (if v6 { i.ip6_mtu() } else { i.ip4_mtu() }, false)
    } else if family_mtu != 0 {
        (family_mtu, false)
    } else {
        let frame = if i.mtu[0] != 0 { i.mtu[0] } else { i.hw_mtu };
        (frame.checked_sub(EthHdr::LEN as u32)?, true)
    };
    let mss = room.checked_sub(hdrs).filter(|&m| m > 0)?;
    Some((u16::try_from(mss).unwrap_or(OFF - 1).min(OFF - 1), per_tag))
}

/// The limits in force on one port in one direction, resolved once per run of its frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// By family (IPv4, IPv6); [`OFF`] where that family is not clamped.
    max: [u16; 2],
    /// Taken off per VLAN tag of the frame (4 for `auto` on a tunnel, else 0).
    per_tag: [u16; 2],
}

impl Limits {
    pub const NONE: Limits = Limits {
        max: [OFF; 2],
        per_tag: [0; 2],
    };

    /// The limits of `sw` (from the L2 state and its interface) in direction `d`.
    pub fn of(vnet: &Vnet, vs: &VnetState, st: &L2State, sw: u32, d: u8) -> Limits {
        let cfg = st.mss_cfg(sw);
        let mut l = Limits::NONE;
        if !cfg.on(d) {
            return l;
        }
        let Some(i) = vs.get(sw) else {
            return l;
        };
        for (k, fam) in [cfg.ip4, cfg.ip6].into_iter().enumerate() {
            if fam.dir & d == 0 {
                continue;
            }
            match fam.mss {
                MssValue::Fixed(m) => l.max[k] = m,
                MssValue::Auto => {
                    let ethernet = vnet.statics().class(i.class).ethernet;
                    if let Some((m, per_tag)) = auto_mss(i, ethernet, k == 1) {
                        l.max[k] = m;
                        l.per_tag[k] = if per_tag { Dot1qTag::LEN as u16 } else { 0 };
                    }
                }
            }
        }
        l
    }

    /// The limit for a frame of family `v6` carrying `tags` VLAN tags.
    #[inline]
    pub fn for_frame(&self, v6: bool, tags: u8) -> u16 {
        let k = usize::from(v6);
        match self.max[k] {
            OFF => OFF,
            m => m.saturating_sub(self.per_tag[k] * u16::from(tags)),
        }
    }
}

/// Where a TCP SYN (SYN-ACK included) is in an Ethernet frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Syn {
    /// Offset of the IP header.
    pub l3: usize,
    /// Offset of the TCP header.
    pub tcp: usize,
    pub v6: bool,
    /// VLAN tags before the IP header (0 to 2).
    pub tags: u8,
}

impl Syn {
    /// Bit 0 for IPv4, bit 1 for IPv6 ([`MssCfg::families`]).
    #[inline(always)]
    pub fn family(&self) -> u8 {
        1 << u8::from(self.v6)
    }
}

/// The frame's TCP SYN, if it is one: Ethernet, up to two VLAN tags (802.1Q or 802.1ad; a
/// third is not looked into, as ethernet-input), then IPv4 (the first fragment, or no
/// fragment) or IPv6 with TCP as next header (as VPP's plugin, extension headers are not
/// walked), then a TCP header with SYN set. The per-frame test of both nodes: a frame that is
/// not IP stops at the EtherType, one that is not TCP at the protocol, one that is not a SYN
/// at the flags.
#[inline(always)]
pub fn find_syn(d: &[u8]) -> Option<Syn> {
    let (eth, mut rest) = EthHdr::parse(d).ok()?;
    let mut et = eth.ethertype();
    let mut tags = 0u8;
    while is_vlan_tpid(et) {
        if tags == 2 {
            return None;
        }
        let (t, r) = Dot1qTag::parse(rest).ok()?;
        et = t.ethertype.get();
        rest = r;
        tags += 1;
    }
    let l3 = EthHdr::LEN + Dot1qTag::LEN * usize::from(tags);
    let (tcp, v6) = match et {
        ethertype::IPV4 => {
            let (ip, _) = Ip4Hdr::parse(rest).ok()?;
            // A later fragment carries no TCP header; an IHL below 5 is not IPv4.
            if ip.protocol != PROTO_TCP
                || ip.version() != 4
                || ip.frag_offset() != 0
                || ip.header_len() < Ip4Hdr::LEN
            {
                return None;
            }
            (l3 + ip.header_len(), false)
        }
        ethertype::IPV6 => {
            let (ip, _) = Ip6Hdr::parse(rest).ok()?;
            if ip.next_header != PROTO_TCP || ip.version() != 6 {
                return None;
            }
            (l3 + Ip6Hdr::LEN, true)
        }
        _ => return None,
    };
    let (t, _) = TcpHdr::parse(d.get(tcp..)?).ok()?;
    (t.flags() & FLAG_SYN != 0).then_some(Syn { l3, tcp, v6, tags })
}

/// Clamps the SYN `s` of frame `d` to `max`. The TCP header must lie within the IP packet
/// (its length field) and the frame, or nothing is written ([`MssClamp::Malformed`]).
/// `partial`: the checksum field holds a partial sum (`L4_CSUM_PARTIAL`), not updated.
pub fn clamp_frame(d: &mut [u8], s: Syn, max: u16, partial: bool) -> MssClamp {
    let Some(ip) = d.get(s.l3..) else {
        return MssClamp::Malformed;
    };
    let end = if s.v6 {
        match Ip6Hdr::parse(ip) {
            Ok((h, _)) => s.l3 + Ip6Hdr::LEN + usize::from(h.payload_len.get()),
            Err(_) => return MssClamp::Malformed,
        }
    } else {
        match Ip4Hdr::parse(ip) {
            Ok((h, _)) => s.l3 + usize::from(h.total_len.get()),
            Err(_) => return MssClamp::Malformed,
        }
    };
    match d.get_mut(s.tcp..end) {
        Some(seg) => clamp_mss(seg, max, !partial),
        None => MssClamp::Malformed,
    }
}

counters! { pub enum C {
    Clamped: info = "clamped",
    NoMss: info = "syn without mss option",
    Malformed: info = "malformed tcp syn",
} }

/// What happened to one frame, for the trace.
#[derive(Debug, Clone, Copy)]
enum Seen {
    NotSyn,
    Syn { v6: bool, max: u16, got: MssClamp },
}

#[derive(Debug, Clone, Copy)]
struct MssTrace {
    node: &'static str,
    sw_if_index: u32,
    seen: Seen,
}

impl fmt::Display for MssTrace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: sw_if_index {} ", self.node, self.sw_if_index)?;
        let Seen::Syn { v6, max, got } = self.seen else {
            return f.write_str("not a tcp syn");
        };
        let fam = if v6 { "ip6" } else { "ip4" };
        if max == OFF {
            return write!(f, "{fam} max mss: off clamped: 0");
        }
        let clamped = u8::from(matches!(got, MssClamp::Lowered { .. }));
        write!(f, "{fam} max mss: {max} clamped: {clamped} (")?;
        match got {
            MssClamp::Lowered { from, to } => write!(f, "mss {from} -> {to})"),
            MssClamp::Kept(m) => write!(f, "mss {m})"),
            MssClamp::Absent => f.write_str("no mss option)"),
            MssClamp::Malformed => f.write_str("malformed, left alone)"),
        }
    }
}

/// Per-frame counts, added to the node's counters once per frame vector.
#[derive(Default)]
struct Tally([u64; 3]);

impl Tally {
    #[inline]
    fn add(&mut self, got: MssClamp) {
        match got {
            MssClamp::Lowered { .. } => self.0[0] += 1,
            // Left alone (see the module doc for why, as VPP).
            MssClamp::Absent => self.0[1] += 1,
            MssClamp::Malformed => self.0[2] += 1,
            MssClamp::Kept(_) => {}
        }
    }
    fn flush(&self, cx: &Cx<'_>) {
        cx.count(C::Clamped, self.0[0]);
        cx.count(C::NoMss, self.0[1]);
        cx.count(C::Malformed, self.0[2]);
    }
}

/// Clamps the SYN `s` of `b` with `lim`.
#[inline]
fn clamp_buffer(b: &mut pwire_buffer::Buffer, s: Syn, lim: &Limits) -> Seen {
    let max = lim.for_frame(s.v6, s.tags);
    let got = if max == OFF {
        MssClamp::Kept(OFF)
    } else {
        let partial = b.flags & pwire_buffer::buffer::flags::L4_CSUM_PARTIAL != 0;
        clamp_frame(b.current_mut(), s, max, partial)
    };
    Seen::Syn { v6: s.v6, max, got }
}

/// The rx node's name (VPP's plugin names its nodes `tcp-mss-clamping-ip4-in` and so on: one
/// per family and IP arc; here one per L2 direction, for both families).
pub const IN_NODE: &str = "l2-input-mss-clamp";
/// The tx node's name.
pub const OUT_NODE: &str = "l2-output-mss-clamp";

/// `l2-input-mss-clamp`: rx clamping, an L2 input feature (arcs: those of `l2-input`).
struct MssIn {
    vnet: Arc<Vnet>,
    state: Arc<Shared<L2State>>,
}

/// `l2-output-mss-clamp`: tx clamping of the SYNs `l2-output` sends here (arc: back to
/// `l2-output`).
struct MssOut {
    vnet: Arc<Vnet>,
    state: Arc<Shared<L2State>>,
}

pub(crate) fn register(r: &mut Registry, state: Arc<Shared<L2State>>) {
    let (vnet, st) = (r.vnet.clone(), state.clone());
    r.graph.node(NodeReg::new(
        IN_NODE,
        NodeKind::Internal,
        FeatNext::NAMES,
        C::DECLS,
        move |_| {
            Box::new(MssIn {
                vnet: vnet.clone(),
                state: st.clone(),
            })
        },
    ));
    let vnet = r.vnet.clone();
    r.graph.node(NodeReg::new(
        OUT_NODE,
        NodeKind::Internal,
        &["l2-output"],
        C::DECLS,
        move |_| {
            Box::new(MssOut {
                vnet: vnet.clone(),
                state: state.clone(),
            })
        },
    ));
}

impl Node for MssIn {
    fn process(&mut self, frame: &mut Frame<'_>, cx: &mut Cx<'_>) {
        let dp = cx.dp();
        let st = self.state.dp(&dp);
        let vs = self.vnet.state.dp(&dp);
        let mut tally = Tally::default();
        // The port's limits, looked up at the first SYN of a run from it.
        let mut cache = (u32::MAX, Limits::NONE);
        let (view, bis, nexts) = frame.parts();
        for (&bi, nx) in bis.iter().zip(nexts.iter_mut()) {
            // SAFETY: frame invariant: each index once; this loop visits each slot once.
            let b = unsafe { view.get_mut(bi) };
            let f = b.opaque.l2.feature_bitmap & !feat::MSS;
            b.opaque.l2.feature_bitmap = f;
            *nx = feat_next(f);
            let rx = b.rx();
            let seen = clamp_counted(
                b,
                &mut tally,
                &mut cache,
                |sw| Limits::of(&self.vnet, vs, st, sw, dir::RX),
                rx,
            );
            if b.is_traced() {
                cx.trace(
                    b,
                    MssTrace {
                        node: IN_NODE,
                        sw_if_index: rx,
                        seen,
                    },
                );
            }
        }
        tally.flush(cx);
    }
}

impl Node for MssOut {
    fn process(&mut self, frame: &mut Frame<'_>, cx: &mut Cx<'_>) {
        let dp = cx.dp();
        let st = self.state.dp(&dp);
        let vs = self.vnet.state.dp(&dp);
        let mut tally = Tally::default();
        let mut cache = (u32::MAX, Limits::NONE);
        for (b, nx) in frame.iter_mut() {
            // Back to l2-output, which sees the mark and sends the frame on.
            *nx = 0;
            let tx = b.tx();
            let seen = clamp_counted(
                b,
                &mut tally,
                &mut cache,
                |sw| Limits::of(&self.vnet, vs, st, sw, dir::TX),
                tx,
            );
            if b.is_traced() {
                cx.trace(
                    b,
                    MssTrace {
                        node: OUT_NODE,
                        sw_if_index: tx,
                        seen,
                    },
                );
            }
        }
        tally.flush(cx);
    }
}

/// Clamps `b` if it is a SYN, with interface `sw`'s limits (`cache`: the last interface and
/// its limits, looked up with `limits` at the first SYN of a run from another), and counts it.
#[inline(always)]
fn clamp_counted(
    b: &mut pwire_buffer::Buffer,
    tally: &mut Tally,
    cache: &mut (u32, Limits),
    limits: impl Fn(u32) -> Limits,
    sw: u32,
) -> Seen {
    let Some(s) = find_syn(b.current()) else {
        return Seen::NotSyn;
    };
    if cache.0 != sw {
        *cache = (sw, limits(sw));
    }
    let seen = clamp_buffer(b, s, &cache.1);
    if let Seen::Syn { got, .. } = seen {
        tally.add(got);
    }
    seen
}

/// A SYN of one of `families` ([`MssCfg::families`]): the frames `l2-output` sends to
/// `l2-output-mss-clamp`.
#[inline(always)]
fn is_clamped_syn(d: &[u8], families: u8) -> bool {
    find_syn(d).is_some_and(|s| s.family() & families != 0)
}

/// `l2-output`'s test for a port with tx clamping of `families`, on the frame as the port will
/// send it (tags rewritten): true, and the frame marked, for a SYN to send to
/// `l2-output-mss-clamp`.
#[inline(always)]
pub(crate) fn divert_tx(b: &mut pwire_buffer::Buffer, families: u8) -> bool {
    if !is_clamped_syn(b.current(), families) {
        return false;
    }
    b.opaque.l2.feature_bitmap |= feat::MSS_TX_DONE;
    true
}

/// True for a SYN back from `l2-output-mss-clamp` (the mark is cleared): `l2-output` sends it
/// on as it is, its tags rewritten before the detour.
#[inline(always)]
pub(crate) fn back_from_clamp(b: &mut pwire_buffer::Buffer) -> bool {
    let f = b.opaque.l2.feature_bitmap;
    if f & feat::MSS_TX_DONE == 0 {
        return false;
    }
    b.opaque.l2.feature_bitmap = f & !feat::MSS_TX_DONE;
    true
}

type L2 = Arc<Shared<L2State>>;

/// The direction word after `ip4`/`ip6` or alone (VPP's `unformat_mssc_dir`).
fn direction(w: &str) -> Option<u8> {
    match w {
        "enable" => Some(dir::BOTH),
        "disable" => Some(dir::NONE),
        "rx" => Some(dir::RX),
        "tx" => Some(dir::TX),
        _ => None,
    }
}

/// A maximum after `ip4-mss`/`ip6-mss` (`key`): 0..65534 or `auto`.
fn mss_value(a: &mut Args<'_>, key: &str) -> Result<MssValue, CliError> {
    let Some(w) = a.next_word() else {
        return Err(CliError::msg(format!(
            "Please specify the Max Segment Size after `{key}' (0-65534 or auto)"
        )));
    };
    if w == "auto" {
        return Ok(MssValue::Auto);
    }
    w.parse::<u16>()
        .ok()
        .filter(|&v| w.bytes().all(|c| c.is_ascii_digit()) && v != OFF)
        .map(MssValue::Fixed)
        .ok_or_else(|| {
            CliError::msg(format!(
                "Invalid Max Segment Size `{w}' after `{key}' (0-65534 or auto)"
            ))
        })
}

/// `set interface tcp-mss-clamp <if> ip4 enable|disable|rx|tx ip4-mss <n>|auto ip6 ...
/// ip6-mss <n>|auto` (VPP's form; the words in any order, the last of a repeated one wins),
/// and a shorter form: a bare direction sets both families, and a family with an `-mss` value
/// but no direction is enabled both ways. A family with neither is disabled, where VPP
/// asks for both; as in VPP, each command replaces the interface's whole setting.
fn set_clamp(a: &mut Args<'_>, cx: &mut CliCtx, l2: &L2) -> Result<(), CliError> {
    let mut sw = None;
    let (mut d4, mut d6, mut both) = (None, None, None);
    let (mut m4, mut m6) = (None, None);
    while let Some(w) = a.peek() {
        match w {
            "ip4" | "ip6" => {
                a.next_word();
                let got = a.next_word().unwrap_or("");
                let d = direction(got).ok_or_else(|| {
                    CliError::msg(format!(
                        "expecting enable|disable|rx|tx after `{w}' but got `{got}'"
                    ))
                })?;
                *(if w == "ip4" { &mut d4 } else { &mut d6 }) = Some(d);
            }
            "ip4-mss" | "ip6-mss" => {
                a.next_word();
                let v = mss_value(a, w)?;
                *(if w == "ip4-mss" { &mut m4 } else { &mut m6 }) = Some(v);
            }
            _ if direction(w).is_some() => {
                a.next_word();
                both = direction(w);
            }
            _ if sw.is_none() => sw = Some(cx.vnet.parse_if(&cx.ctl, a)?),
            _ => return Err(CliError::unknown_input(a.rest())),
        }
    }
    let sw = sw.ok_or_else(|| CliError::msg("Please specify an interface"))?;
    if [d4, d6, both].iter().all(Option::is_none) && m4.is_none() && m6.is_none() {
        return Err(CliError::msg(
            "Please specify the MSS clamping direction for ip4 and ip6",
        ));
    }
    let family = |d: Option<u8>, m: Option<MssValue>, name: &str| -> Result<Family, CliError> {
        let d = d
            .or(both)
            .unwrap_or(if m.is_some() { dir::BOTH } else { dir::NONE });
        if d == dir::NONE {
            return Ok(Family::default());
        }
        let mss = m.ok_or_else(|| {
            CliError::msg(format!("Please specify the Max Segment Size for {name}"))
        })?;
        Ok(Family { dir: d, mss })
    };
    let cfg = MssCfg {
        ip4: family(d4, m4, "ip4")?,
        ip6: family(d6, m6, "ip6")?,
    };
    l2.write(&mut cx.ctl).set_mss(sw, cfg);
    Ok(())
}

/// One family's column of `show interface tcp-mss-clamp` (VPP's `format_mssc_clamping`, with
/// `auto` and the value it stands for now).
fn show_family(out: &mut String, f: Family, i: &Interface, ethernet: bool, v6: bool) {
    if f.dir == dir::NONE {
        out.push_str("disabled");
        return;
    }
    let _ = match f.mss {
        MssValue::Fixed(m) => write!(out, "{m}"),
        MssValue::Auto => match auto_mss(i, ethernet, v6) {
            Some((m, _)) => write!(out, "auto ({m})"),
            None => write!(out, "auto (no mtu)"),
        },
    };
    out.push_str(match f.dir {
        dir::RX => " [RX]",
        dir::TX => " [TX]",
        _ => "",
    });
}

fn show_clamp(a: &mut Args<'_>, cx: &mut CliCtx, l2: &L2) -> Result<(), CliError> {
    let only = if a.is_empty() {
        None
    } else {
        Some(cx.vnet.parse_if(&cx.ctl, a)?)
    };
    a.expect_end()?;
    let vs = cx.vnet.state.get(&cx.ctl);
    let st = l2.get(&cx.ctl);
    let statics = cx.vnet.statics();
    let mut out = String::new();
    for i in vs.ifs.iter().filter(|i| !i.deleted) {
        let cfg = st.mss_cfg(i.sw_if_index);
        let listed = match only {
            Some(sw) => sw == i.sw_if_index,
            None => cfg.on(dir::BOTH),
        };
        if !listed {
            continue;
        }
        let ethernet = statics.class(i.class).ethernet;
        let _ = write!(out, "{}: ip4: ", i.name);
        show_family(&mut out, cfg.ip4, i, ethernet, false);
        out.push_str(" ip6: ");
        show_family(&mut out, cfg.ip6, i, ethernet, true);
        out.push('\n');
    }
    if !out.is_empty() {
        a.output(&out);
    }
    Ok(())
}

pub(crate) fn register_cli(r: &mut Registry, l2: L2) {
    let s = l2.clone();
    r.command(cmd(
        "set interface tcp-mss-clamp",
        "set interface tcp-mss-clamp <interface-name> ip4 [enable|disable|rx|tx] ip4-mss <size>|auto ip6 [enable|disable|rx|tx] ip6-mss <size>|auto",
        false,
        move |a, cx| set_clamp(a, cx, &s),
    ));
    r.command(cmd(
        "show interface tcp-mss-clamp",
        "show interface tcp-mss-clamp [interface-name]",
        true,
        move |a, cx| show_clamp(a, cx, &l2),
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eth(tags: &[u16], et: u16, l3: &[u8]) -> Vec<u8> {
        let mut f = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2];
        for &t in tags {
            f.extend_from_slice(&t.to_be_bytes());
            f.extend_from_slice(&[0, 10]);
        }
        f.extend_from_slice(&et.to_be_bytes());
        f.extend_from_slice(l3);
        f
    }

    fn tcp(flags: u8) -> Vec<u8> {
        let mut t = vec![
            0, 1, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0, 0x60, flags, 0xff, 0xff, 0, 0, 0, 0,
        ];
        t.extend_from_slice(&[2, 4, 0x05, 0xb4]);
        t
    }

    fn ip4(proto: u8, frag: u16, payload: &[u8]) -> Vec<u8> {
        let mut h = vec![0x45, 0];
        h.extend_from_slice(&((20 + payload.len()) as u16).to_be_bytes());
        h.extend_from_slice(&[0, 0]);
        h.extend_from_slice(&frag.to_be_bytes());
        h.extend_from_slice(&[64, proto, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
        h.extend_from_slice(payload);
        h
    }

    fn ip6(nh: u8, payload: &[u8]) -> Vec<u8> {
        let mut h = vec![0x60, 0, 0, 0];
        h.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        h.extend_from_slice(&[nh, 64]);
        h.extend_from_slice(&[0xfd; 32]);
        h.extend_from_slice(payload);
        h
    }

    #[test]
    fn finds_syns_only() {
        let syn4 = eth(&[], 0x0800, &ip4(6, 0, &tcp(0x02)));
        assert_eq!(
            find_syn(&syn4),
            Some(Syn {
                l3: 14,
                tcp: 34,
                v6: false,
                tags: 0
            })
        );
        let synack6 = eth(&[0x88a8, 0x8100], 0x86dd, &ip6(6, &tcp(0x12)));
        assert_eq!(
            find_syn(&synack6),
            Some(Syn {
                l3: 22,
                tcp: 62,
                v6: true,
                tags: 2
            })
        );
        for (what, f) in [
            ("ack", eth(&[], 0x0800, &ip4(6, 0, &tcp(0x10)))),
            ("udp", eth(&[], 0x0800, &ip4(17, 0, &tcp(0x02)))),
            (
                "later fragment",
                eth(&[], 0x0800, &ip4(6, 0x2001, &tcp(0x02))),
            ),
            ("arp", eth(&[], 0x0806, &[0; 28])),
            ("three tags", eth(&[0x8100; 3], 0x86dd, &ip6(6, &tcp(0x02)))),
            ("ext header", eth(&[], 0x86dd, &ip6(0, &tcp(0x02)))),
            ("cut tcp", eth(&[], 0x86dd, &ip6(6, &tcp(0x02)[..13]))),
            ("cut tag", eth(&[0x8100], 0x86dd, &[])[..16].to_vec()),
            ("runt", vec![0; 13]),
        ] {
            assert_eq!(find_syn(&f), None, "{what}");
        }
        // The first fragment (MF set, offset 0) carries the TCP header.
        assert!(find_syn(&eth(&[], 0x0800, &ip4(6, 0x2000, &tcp(0x02)))).is_some());
        // A version that does not match the EtherType, an IHL below 5.
        let mut f = syn4.clone();
        f[14] = 0x65;
        assert_eq!(find_syn(&f), None);
        f[14] = 0x44;
        assert_eq!(find_syn(&f), None);
    }

    #[test]
    fn a_tcp_header_past_its_packet_is_malformed() {
        let s = |f: &[u8]| find_syn(f).unwrap();
        // IPv4 total length ends inside the TCP header (the frame has it all).
        let mut f = eth(&[], 0x0800, &ip4(6, 0, &tcp(0x02)));
        f[16..18].copy_from_slice(&40u16.to_be_bytes());
        let before = f.clone();
        let syn = s(&f);
        assert_eq!(clamp_frame(&mut f, syn, 1000, false), MssClamp::Malformed);
        assert_eq!(f, before);
        // Total length below the IP header.
        f[16..18].copy_from_slice(&10u16.to_be_bytes());
        assert_eq!(clamp_frame(&mut f, syn, 1000, false), MssClamp::Malformed);
        // IPv6 payload length beyond the frame.
        let mut f = eth(&[], 0x86dd, &ip6(6, &tcp(0x02)));
        f[18..20].copy_from_slice(&200u16.to_be_bytes());
        let syn = s(&f);
        assert_eq!(clamp_frame(&mut f, syn, 1000, false), MssClamp::Malformed);
        // Padding after the packet is fine.
        let mut f = eth(&[0x8100], 0x0800, &ip4(6, 0, &tcp(0x02)));
        f.extend_from_slice(&[0; 6]);
        let syn = s(&f);
        assert_eq!(
            clamp_frame(&mut f, syn, 1000, false),
            MssClamp::Lowered {
                from: 1460,
                to: 1000
            }
        );
    }

    #[test]
    fn a_partial_checksum_is_left_for_whoever_finishes_it() {
        let (pool, mut cache, bi) = crate::tests::one_buffer();
        let f = eth(&[], 0x0800, &ip4(6, 0, &tcp(0x02)));
        let lim = Limits {
            max: [1000, OFF],
            per_tag: [0; 2],
        };
        let mut out = Vec::new();
        for partial in [false, true] {
            // SAFETY: the test owns the one buffer it allocated; no other reference exists.
            let b = unsafe { pool.get_mut(bi) };
            b.init(f.len() as u16, [1, 2]);
            b.current_mut().copy_from_slice(&f);
            if partial {
                b.flags |= pwire_buffer::buffer::flags::L4_CSUM_PARTIAL;
            }
            let s = find_syn(b.current()).unwrap();
            assert!(matches!(
                clamp_buffer(b, s, &lim),
                Seen::Syn {
                    got: MssClamp::Lowered { .. },
                    ..
                }
            ));
            out.push(b.current().to_vec());
        }
        // The MSS is rewritten both times; the checksum field only when it is a full sum.
        let (full, part) = (&out[0], &out[1]);
        assert_eq!(
            (&full[56..58], &part[56..58]),
            (&[3, 0xe8][..], &[3, 0xe8][..])
        );
        assert_ne!(&full[50..52], &f[50..52]);
        assert_eq!(&part[50..52], &f[50..52]);
        // SAFETY: allocated above, no reference to it left.
        unsafe { cache.free(&[bi]) };
    }

    #[test]
    fn limits_per_frame() {
        let l = Limits {
            max: [1386, OFF],
            per_tag: [4, 0],
        };
        assert_eq!(l.for_frame(false, 0), 1386);
        assert_eq!(l.for_frame(false, 2), 1378);
        assert_eq!(l.for_frame(true, 2), OFF);
        assert_eq!(Limits::NONE.for_frame(false, 0), OFF);
    }
}
