//! `l2tp-decap-local` and `l2tp-decap`: one function, two nodes (VPP's decap.c).
//!
//! - `l2tp-decap-local` is reached from ip6-local/ip6-receive for protocol 115 to one of our
//!   addresses. Arcs: `error-drop`, `l2-input`.
//! - `l2tp-decap` is the `ip6-unicast` feature (`set interface ip6 l2tpv3 <if>`): it intercepts
//!   before the FIB lookup; packets that are not ours continue to `ip6-lookup`.
//!   Arcs: `error-drop`, `l2-input`, `ip6-lookup`.
//!
//! The buffer starts at the outer IPv6 header (ip6-input and ip6-local do not advance it). Per
//! packet: key lookup (global mode) → session-id check (address modes) → outer addresses are
//! the session's (every mode: a session belongs to its client and our address) → cookie
//! (current or, after a rollover, previous) → RX := tunnel → admin check → sequence check (when
//! sequencing, against the session's window shared by every thread) → strip IPv6 + L2TPv3,
//! trim any padding after the IPv6 payload → `l2-input`.
//!
//! The checks are written once: [`DecapLine::deliverable`] (session.rs) decides the common
//! packet for the three fast loops (the frame's cached session, a run of it, and sessions
//! changing packet by packet); [`Decap::classify`] decides and counts everything else, with
//! the same [`DecapLine`] pieces. Both read headers through `pwire-wire` definitions.
//!
//! Counters: see the crate doc, plus "l2tpv3 session address mismatch" (a session's id from
//! another source or to another destination; on the feature path a packet not addressed to
//! the session continues to ip6-lookup, counted) and "l2tpv3 sequence number missing" (no S bit
//! on a sequenced session: dropped, as Linux does). Per-session rx counters count delivered
//! frames and inner bytes, and drops by reason.

use crate::session::{sc, DecapLine, L2tpMain, SeqState, SessRow};
use pwire_buffer::Buffer;
use pwire_config::LookupMode;
use pwire_graph::{counters, next_nodes, Cx, Frame, Node, NodeKind, NodeReg, Shared, FRAME_SIZE};
use pwire_vnet::{Registry, Vnet, VnetState};
use pwire_wire::l2tpv3::{cookie_word, Ip6L2tpHead};
use pwire_wire::Ip6Hdr;
use std::fmt;
use std::net::Ipv6Addr;
use std::sync::Arc;

next_nodes! { pub enum Next { Drop => "error-drop", L2Input => "l2-input", Lookup => "ip6-lookup" } }

counters! { pub enum C {
    UserToNet: error = "L2TP user (ip6) to L2 network pkts",
    SessionIdMismatch: error = "l2tpv3 local session id mismatches",
    CookieMismatch: error = "l2tpv3 local cookie mismatches",
    NoSession: error = "l2tpv3 session not found",
    AdminDown: error = "l2tpv3 tunnel is down",
    SeqDrop: error = "l2tpv3 sequence number out of order or duplicate",
    Short: error = "l2tpv3 packet too short",
    ExtHdr: error = "l2tpv3 unsupported ip6 extension header",
    AddrMismatch: error = "l2tpv3 session address mismatch",
    SeqMissing: error = "l2tpv3 sequence number missing",
} }

/// VPP's `format_l2t_trace` for decap.
#[derive(Clone, Copy)]
pub struct DecapTrace {
    src: [u8; 16],
    dst: [u8; 16],
    session: i32,
}

impl fmt::Display for DecapTrace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "L2T: {} (client) -> {} (our) session {}",
            Ipv6Addr::from(self.src),
            Ipv6Addr::from(self.dst),
            self.session
        )
    }
}

/// The node; `LOCAL` selects `l2tp-decap-local`.
pub struct Decap<const LOCAL: bool> {
    main: Arc<Shared<L2tpMain>>,
    vnet: Arc<Shared<VnetState>>,
    /// Session index per packet, resolved ahead for big session-id tables (`u32::MAX` = none).
    idxs: Box<[u32; FRAME_SIZE]>,
    admin: AdminCache,
}

/// The tunnel interfaces' admin state as one byte each (0 not looked up yet, 1 down, 2 up),
/// valid while the interfaces are not written: with many sessions, decap reads a dense byte
/// instead of an interface record per packet.
struct AdminCache {
    gen: u64,
    st: Vec<u8>,
}

impl AdminCache {
    /// Once per frame: forget everything after an interface change (sized for every interface
    /// then, so the packet loop never allocates).
    fn sync(&mut self, vnet: &Shared<VnetState>, vs: &VnetState) {
        let g = vnet.generation();
        if g != self.gen {
            self.gen = g;
            self.st.clear();
            self.st.resize(vs.ifs.len(), 0);
        }
    }

    #[inline(always)]
    fn up(&mut self, vs: &VnetState, sw: u32) -> bool {
        let look = || vs.get(sw).is_some_and(|i| i.admin_up);
        match self.st.get_mut(sw as usize) {
            Some(b) if *b != 0 => *b == 2,
            Some(b) => {
                let up = look();
                *b = 1 + u8::from(up);
                up
            }
            None => look(),
        }
    }
}

impl<const LOCAL: bool> fmt::Debug for Decap<LOCAL> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if LOCAL {
            "l2tp-decap-local"
        } else {
            "l2tp-decap"
        })
    }
}

pub(crate) fn register(r: &mut Registry, main: Arc<Shared<L2tpMain>>) {
    reg::<true>(r, main.clone(), &r.vnet.clone());
    reg::<false>(r, main, &r.vnet.clone());
}

fn reg<const LOCAL: bool>(r: &mut Registry, main: Arc<Shared<L2tpMain>>, vnet: &Arc<Vnet>) {
    let (name, nexts) = if LOCAL {
        ("l2tp-decap-local", &Next::NAMES[..2])
    } else {
        ("l2tp-decap", Next::NAMES)
    };
    let st = vnet.state.clone();
    r.graph.node(NodeReg::new(
        name,
        NodeKind::Internal,
        nexts,
        C::DECLS,
        move |_b| {
            Box::new(Decap::<LOCAL> {
                main: main.clone(),
                vnet: st.clone(),
                idxs: Box::new([u32::MAX; FRAME_SIZE]),
                admin: AdminCache {
                    gen: u64::MAX,
                    st: Vec::new(),
                },
            })
        },
    ));
}

/// What the read-only look at a packet decided.
enum Verdict {
    /// Not an L2TP packet for any session: continue (feature) or drop as "session not found".
    NotOurs(C),
    Drop(C, Option<u32>),
    Deliver {
        session: u32,
        strip: usize,
        inner: usize,
    },
}

/// Offset of the L2TPv3 header after the IPv6 header, walking extension headers.
#[inline(always)]
fn l2tp_offset(nh: u8, rest: &[u8]) -> Result<usize, C> {
    if nh == crate::PROTO_L2TP {
        return Ok(Ip6Hdr::LEN);
    }
    match pwire_wire::ipv6::upper_layer(nh, rest) {
        Ok((crate::PROTO_L2TP, off)) => Ok(Ip6Hdr::LEN + off),
        Ok(_) => Err(C::NoSession),
        Err(_) => Err(C::ExtHdr),
    }
}

impl<const LOCAL: bool> Decap<LOCAL> {
    /// The general path: decides every packet, and says why for the ones not delivered.
    #[inline(always)]
    fn classify(m: &L2tpMain, vs: &VnetState, data: &[u8]) -> Verdict {
        let Ok((ip, rest)) = Ip6Hdr::parse(data) else {
            return Verdict::Drop(C::Short, None);
        };
        let total = Ip6Hdr::LEN + usize::from(ip.payload_len.get());
        if total > data.len() {
            return Verdict::Drop(C::Short, None);
        }
        let off = match l2tp_offset(ip.next_header, &rest[..total - Ip6Hdr::LEN]) {
            Ok(o) => o,
            Err(C::ExtHdr) => return Verdict::Drop(C::ExtHdr, None),
            Err(c) => return Verdict::NotOurs(c),
        };
        let l2 = &data[off..total];
        let idx = match m.lookup {
            LookupMode::SrcAddress => m.find_addr(&ip.src),
            LookupMode::DstAddress => m.find_addr(&ip.dst),
            LookupMode::SessionId => match pwire_wire::l2tpv3::session_id(l2) {
                Ok(sid) => m.find_sid(sid),
                Err(_) => return Verdict::NotOurs(C::NoSession),
            },
        };
        let Some(idx) = idx else {
            return Verdict::NotOurs(C::NoSession);
        };
        let s = &m.sessions[idx as usize];
        let dl = &s.dl;
        let Ok(v) = pwire_wire::l2tpv3::parse(s.layout, l2) else {
            return Verdict::Drop(C::Short, Some(idx));
        };
        if v.session_id() != dl.local_sid {
            return Verdict::NotOurs(C::SessionIdMismatch);
        }
        if !dl.addr_ok(ip) {
            // The feature sees transit traffic too: a packet to another destination is not
            // this session's, and goes on to the FIB.
            return if !LOCAL && ip.dst != dl.our() {
                Verdict::NotOurs(C::AddrMismatch)
            } else {
                Verdict::Drop(C::AddrMismatch, Some(idx))
            };
        }
        if !dl.cookie_ok(cookie_word(v.cookie())) {
            return Verdict::Drop(C::CookieMismatch, Some(idx));
        }
        if !vs.get(dl.sw_if_index).is_some_and(|i| i.admin_up) {
            return Verdict::Drop(C::AdminDown, Some(idx));
        }
        let strip = off + usize::from(dl.hdr);
        let inner = total - strip;
        if inner < pwire_wire::EthHdr::LEN {
            return Verdict::Drop(C::Short, Some(idx));
        }
        if s.sequencing {
            match v.sublayer().filter(|x| x.seq_valid()) {
                Some(sub) if s.seq.accept(sub.seq()) => {}
                Some(_) => return Verdict::Drop(C::SeqDrop, Some(idx)),
                None => return Verdict::Drop(C::SeqMissing, Some(idx)),
            }
        }
        Verdict::Deliver {
            session: idx,
            strip,
            inner,
        }
    }
}

/// Hands a delivered packet to L2: strips the outer headers and any padding after them, and
/// sets the RX interface to the tunnel.
///
/// # Safety
/// `strip + inner` must not exceed the packet's length (every caller has checked the IPv6
/// packet, `strip + inner` bytes, against it).
#[inline(always)]
unsafe fn strip_to_inner(b: &mut Buffer, strip: usize, inner: usize, sw_if_index: u32, idx: u32) {
    // SAFETY: the caller's contract is narrow_unchecked's.
    unsafe { b.narrow_unchecked(strip, inner) };
    b.sw_if_index = [sw_if_index, !0];
    b.l2_len = l2_len(b.current());
    b.opaque.session_index = idx;
}

impl<const LOCAL: bool> Node for Decap<LOCAL> {
    fn process(&mut self, frame: &mut Frame<'_>, cx: &mut Cx<'_>) {
        let dp = cx.dp();
        let m = self.main.dp(&dp);
        let vs = self.vnet.dp(&dp);
        let rows = m.counters.get(cx.thread());
        let mut matched = 0u64;
        let mut id_mismatch = 0u64;
        let mut addr_mismatch = 0u64;
        let mut c = FrameCache::EMPTY;
        self.admin.sync(&self.vnet, vs);
        let ahead = resolve_ahead(frame, m, rows, &mut self.idxs);
        let sid_mode = m.lookup == LookupMode::SessionId;
        let (view, bis, nexts) = frame.parts();
        let n = bis.len();
        let mut i = 0;
        while i < n {
            if sid_mode && c.fast && c.repeat {
                c.repeat = false;
                // A run of packets for the cached session, in a loop of its own.
                let (k, bytes) = if c.dl.sequenced {
                    c.run::<true>(view, &bis[i..], &mut nexts[i..])
                } else {
                    c.run::<false>(view, &bis[i..], &mut nexts[i..])
                };
                i += k;
                matched += k as u64;
                c.pkts += k as u64;
                c.bytes += bytes;
                if i == n {
                    break;
                }
            } else if sid_mode && !c.repeat {
                // Packets of changing sessions, in a loop of their own.
                let pre = ahead.then(|| &self.idxs[i..n]);
                let k = varied_run(
                    m,
                    vs,
                    &mut self.admin,
                    rows,
                    pre,
                    view,
                    &bis[i..],
                    &mut nexts[i..],
                );
                i += k;
                matched += k as u64;
                if i == n {
                    break;
                }
            }
            // SAFETY: frame invariant: each index once, and slot `i` is visited once.
            let b = unsafe { view.get_mut(bis[i]) };
            let nx = &mut nexts[i];
            let pre = if ahead { self.idxs[i] } else { u32::MAX };
            i += 1;
            if let Some((strip, inner)) = c.fast(m, vs, &mut self.admin, rows, pre, b.current()) {
                // The cached session's packet: strip, hand to L2, count in the cache.
                matched += 1;
                // SAFETY: `fast` checked the IPv6 packet (strip + inner) against the buffer.
                unsafe { strip_to_inner(b, strip, inner, c.dl.sw_if_index, c.idx) };
                c.pkts += 1;
                c.bytes += inner as u64;
                *nx = Next::L2Input as u16;
                if b.is_traced() {
                    cx.trace(
                        b,
                        DecapTrace {
                            src: c.dl.client(),
                            dst: c.dl.our(),
                            session: c.idx as i32,
                        },
                    );
                }
                continue;
            }
            // The outer addresses, for the trace: read before the strip.
            let addrs = b
                .is_traced()
                .then(|| {
                    Ip6Hdr::parse(b.current())
                        .map(|(ip, _)| (ip.src, ip.dst))
                        .ok()
                })
                .flatten()
                .unwrap_or_default();
            let verdict = Self::classify(m, vs, b.current());
            let (next, session) = match verdict {
                Verdict::Deliver {
                    session,
                    strip,
                    inner,
                } => {
                    matched += 1;
                    let sw = m.sessions[session as usize].dl.sw_if_index;
                    // SAFETY: classify checked the IPv6 packet (strip + inner) against the data.
                    unsafe { strip_to_inner(b, strip, inner, sw, session) };
                    // The cached session's counters add up over the frame; others' go straight in.
                    if session == c.idx {
                        c.pkts += 1;
                        c.bytes += inner as u64;
                    } else if let Some(r) = row(rows, session) {
                        r.add(sc::RX_PKTS, 1);
                        r.add(sc::RX_BYTES, inner as u64);
                    }
                    (Next::L2Input, session as i32)
                }
                Verdict::NotOurs(c) => {
                    match c {
                        C::SessionIdMismatch => id_mismatch += 1,
                        C::AddrMismatch => addr_mismatch += 1,
                        _ => {}
                    }
                    if LOCAL {
                        b.error = cx.error(C::NoSession);
                        (Next::Drop, -1)
                    } else {
                        (Next::Lookup, -1)
                    }
                }
                Verdict::Drop(c, session) => {
                    if let Some(sidx) = session {
                        matched += 1;
                        if c == C::AdminDown {
                            // Counted against the tunnel, as VPP does.
                            b.sw_if_index[0] = m.sessions[sidx as usize].dl.sw_if_index;
                        }
                        let k = match c {
                            C::CookieMismatch => Some(sc::COOKIE_DROPS),
                            C::SeqDrop | C::SeqMissing => Some(sc::SEQ_DROPS),
                            C::AdminDown => Some(sc::DOWN_DROPS),
                            C::AddrMismatch => Some(sc::ADDR_DROPS),
                            _ => None,
                        };
                        if let (Some(k), Some(r)) = (k, row(rows, sidx)) {
                            r.add(k, 1);
                        }
                    }
                    b.error = cx.error(c);
                    (Next::Drop, session.map_or(-1, |x| x as i32))
                }
            };
            *nx = next as u16;
            if b.is_traced() {
                let (src, dst) = addrs;
                cx.trace(b, DecapTrace { src, dst, session });
            }
        }
        c.flush(rows);
        cx.count(C::UserToNet, matched);
        cx.count(C::SessionIdMismatch, id_mismatch);
        cx.count(C::AddrMismatch, addr_mismatch);
    }
}

/// This thread's counter row of session `idx`.
#[inline(always)]
fn row(rows: Option<&Vec<SessRow>>, idx: u32) -> Option<&SessRow> {
    rows.and_then(|t| t.get(idx as usize))
}

/// The last session a frame hit, with what the fast path needs of it, and its delivered
/// counts (added to the session's counters when the cache moves on and at the end of the
/// frame). Lives for one frame only: the control plane changes state between frames.
struct FrameCache<'a> {
    /// Lookup key of the cached session (session id, or address in the address modes).
    key: u128,
    /// Session index, `u32::MAX` when empty.
    idx: u32,
    /// The session may take the fast path: it is up.
    fast: bool,
    /// Its sequencing window.
    seq: Option<&'a SeqState>,
    /// The last packet looked up had the same key as the one before it: a run is likely.
    repeat: bool,
    dl: DecapLine,
    pkts: u64,
    bytes: u64,
}

impl<'a> FrameCache<'a> {
    const EMPTY: FrameCache<'static> = FrameCache {
        key: u128::MAX,
        idx: u32::MAX,
        fast: false,
        seq: None,
        repeat: false,
        dl: DecapLine {
            cookie: [0; 2],
            addrs: [0; 32],
            local_sid: 0,
            sw_if_index: 0,
            hdr: 0,
            layout: pwire_wire::L2tpLayout::VPP,
            sequenced: false,
        },
        pkts: 0,
        bytes: 0,
    };

    #[inline(always)]
    fn flush(&mut self, rows: Option<&Vec<SessRow>>) {
        if self.pkts != 0 {
            if let Some(r) = row(rows, self.idx) {
                r.add(sc::RX_PKTS, self.pkts);
                r.add(sc::RX_BYTES, self.bytes);
            }
        }
        self.pkts = 0;
        self.bytes = 0;
    }

    /// Delivers packets from the start of `bis` while they are the cached session's untraced
    /// fast-path packets (session-id mode, `self.fast`); stops at the first other one.
    /// Returns how many it delivered and their inner bytes (not yet added to the cache's counts).
    // Not inlined: on its own the loop keeps the session's words in registers.
    #[inline(never)]
    // `SEQ`: the session is sequenced (one loop each, so the unsequenced one has no trace of it).
    fn run<const SEQ: bool>(
        &self,
        view: pwire_buffer::View<'_>,
        bis: &[u32],
        nexts: &mut [u16],
    ) -> (usize, u64) {
        let dl = self.dl;
        let idx = self.idx;
        let seq = self.seq;
        let mut bytes = 0u64;
        for (k, (&bi, nx)) in bis.iter().zip(nexts.iter_mut()).enumerate() {
            // SAFETY: frame invariant: each index once; this loop visits each slot once.
            let b = unsafe { view.get_mut(bi) };
            if b.is_traced() {
                return (k, bytes);
            }
            let d = b.current();
            let Some((strip, inner)) = Ip6L2tpHead::parse(d)
                .ok()
                .and_then(|(h, _)| dl.deliverable(h, d.len()))
            else {
                return (k, bytes);
            };
            if SEQ && seq.is_some_and(|q| !dl.seq_in_window(q, d)) {
                return (k, bytes);
            }
            // SAFETY: `deliverable` checked the IPv6 packet (strip + inner) against `d`.
            unsafe { strip_to_inner(b, strip, inner, dl.sw_if_index, idx) };
            *nx = Next::L2Input as u16;
            bytes += inner as u64;
        }
        (bis.len(), bytes)
    }

    /// Loads session `idx` under `key`.
    #[inline(always)]
    fn load(
        &mut self,
        m: &'a L2tpMain,
        vs: &VnetState,
        admin: &mut AdminCache,
        key: u128,
        idx: u32,
    ) {
        let s = &m.sessions[idx as usize];
        self.key = key;
        self.idx = idx;
        self.dl = s.dl;
        self.seq = Some(&s.seq);
        self.fast = admin.up(vs, s.dl.sw_if_index);
    }

    /// The common case decided with one length check and a cached session: a data packet with
    /// next header 115 directly after the IPv6 header, for an up session, that
    /// [`DecapLine::deliverable`] accepts (and, sequenced, whose number is in the window).
    /// `None` sends the packet to [`Decap::classify`], which decides (and counts) everything
    /// else.
    #[inline(always)]
    fn fast(
        &mut self,
        m: &'a L2tpMain,
        vs: &VnetState,
        admin: &mut AdminCache,
        rows: Option<&Vec<SessRow>>,
        pre: u32,
        d: &[u8],
    ) -> Option<(usize, usize)> {
        let (h, _) = Ip6L2tpHead::parse(d).ok()?;
        if h.ip6.next_header != crate::PROTO_L2TP {
            return None;
        }
        let sid = h.l2tp.session_id.get();
        let key = match m.lookup {
            LookupMode::SessionId => u128::from(sid),
            LookupMode::SrcAddress => u128::from_be_bytes(h.ip6.src),
            LookupMode::DstAddress => u128::from_be_bytes(h.ip6.dst),
        };
        self.repeat = key == self.key;
        if key != self.key {
            let idx = match m.lookup {
                LookupMode::SessionId if pre != u32::MAX => Some(pre),
                LookupMode::SessionId => m.find_sid(sid),
                LookupMode::SrcAddress => m.find_addr(&h.ip6.src),
                LookupMode::DstAddress => m.find_addr(&h.ip6.dst),
            }?;
            self.flush(rows);
            self.load(m, vs, admin, key, idx);
        }
        if !self.fast {
            return None;
        }
        let r = self.dl.deliverable(h, d.len())?;
        match self.seq {
            Some(q) if !self.dl.seq_in_window(q, d) => None,
            _ => Some(r),
        }
    }
}

/// Delivers packets from the start of `bis` (session-id mode) while each is an untraced
/// fast-path packet of a session other than the packet before's: looks the session up, checks
/// it with [`DecapLine::deliverable`] and counts it on the session's row directly. Stops at the
/// first other packet (including a repeat of the previous session, which the run loop takes).
/// Returns how many it delivered. Not inlined: on its own the loop keeps more in registers.
#[inline(never)]
#[allow(clippy::too_many_arguments)]
fn varied_run(
    m: &L2tpMain,
    vs: &VnetState,
    admin: &mut AdminCache,
    rows: Option<&Vec<SessRow>>,
    pre: Option<&[u32]>,
    view: pwire_buffer::View<'_>,
    bis: &[u32],
    nexts: &mut [u16],
) -> usize {
    let mut prev = None;
    for (k, (&bi, nx)) in bis.iter().zip(nexts.iter_mut()).enumerate() {
        // SAFETY: frame invariant: each index once; this loop visits each slot once.
        let b = unsafe { view.get_mut(bi) };
        if b.is_traced() {
            return k;
        }
        let d = b.current();
        let Ok((h, _)) = Ip6L2tpHead::parse(d) else {
            return k;
        };
        let sid = h.l2tp.session_id.get();
        if h.ip6.next_header != crate::PROTO_L2TP || prev == Some(sid) {
            return k;
        }
        let found = match pre {
            Some(p) => p.get(k).copied().filter(|&x| x != u32::MAX),
            None => m.find_sid(sid),
        };
        let Some(s) = found.and_then(|idx| m.sessions.get(idx as usize)) else {
            return k;
        };
        let dl = &s.dl;
        let Some((strip, inner)) = dl.deliverable(h, d.len()) else {
            return k;
        };
        if !admin.up(vs, dl.sw_if_index) || !dl.seq_in_window(&s.seq, d) {
            return k;
        }
        let idx = found.unwrap_or(u32::MAX);
        // SAFETY: `deliverable` checked the IPv6 packet (strip + inner) against `d`.
        unsafe { strip_to_inner(b, strip, inner, dl.sw_if_index, idx) };
        *nx = Next::L2Input as u16;
        if let Some(r) = row(rows, idx) {
            r.add(sc::RX_PKTS, 1);
            r.add(sc::RX_BYTES, inner as u64);
        }
        prev = Some(sid);
    }
    bis.len()
}

/// L2 header length of an inner frame of at least 14 bytes: 14, or 18/22 behind VLAN tags.
#[inline(always)]
fn l2_len(d: &[u8]) -> u8 {
    match pwire_wire::EthHdr::parse(d) {
        Ok((e, _)) if pwire_wire::ethernet::is_vlan_tpid(e.ethertype.get()) => {
            pwire_wire::ethernet::l2_header_len(d).unwrap_or(14) as u8
        }
        _ => pwire_wire::EthHdr::LEN as u8,
    }
}

/// Session-id table size from which decap prefetches a frame's table lines before it looks
/// them up (below it they stay in the core's caches).
const PREFETCH_FROM: usize = 8192;

/// For a big session-id table, a pass ahead of the work: looks every packet's id up (a tight
/// loop of independent lookups, whose table misses the core overlaps by itself), keeps each
/// packet's session index in `idxs` and starts loading the session's decap line and its counter
/// row, so that those misses overlap too instead of coming one after another in the packet
/// loop. (With a first pass prefetching the table lines as well, decap measured 13% slower
/// with 1024 of 100k sessions active.) Returns false, doing nothing, for
/// small tables or the address lookup modes.
#[inline(always)]
fn resolve_ahead(
    frame: &Frame<'_>,
    m: &L2tpMain,
    rows: Option<&Vec<SessRow>>,
    idxs: &mut [u32; FRAME_SIZE],
) -> bool {
    if m.lookup != LookupMode::SessionId || m.sid_table_len() < PREFETCH_FROM {
        return false;
    }
    for (i, slot) in idxs.iter_mut().enumerate().take(frame.len()) {
        *slot = Ip6L2tpHead::parse(frame.buf(i).current())
            .ok()
            .and_then(|(h, _)| m.find_sid(h.l2tp.session_id.get()))
            .unwrap_or(u32::MAX);
        if *slot != u32::MAX {
            m.prefetch_session(*slot, rows);
        }
    }
    true
}
