//! `l2tp-decap-local` and `l2tp-decap`: one function, two nodes (VPP's decap.c).
//!
//! - `l2tp-decap-local` is reached from ip6-local/ip6-receive for protocol 115 to one of our
//!   addresses. Arcs: `error-drop`, `l2-input`.
//! - `l2tp-decap` is the `ip6-unicast` feature (`set interface ip6 l2tpv3 <if>`): it intercepts
//!   before the FIB lookup; packets that are not ours continue to `ip6-lookup`.
//!   Arcs: `error-drop`, `l2-input`, `ip6-lookup`.
//!
//! The buffer starts at the outer IPv6 header (ip6-input and ip6-local do not advance it). Per
//! packet: key lookup (global mode) → session-id check (address modes) → cookie (current or,
//! after a rollover, previous) → RX := tunnel → admin check → sequence check (when sequencing)
//! → strip IPv6 + L2TPv3, trim any padding after the IPv6 payload → `l2-input`.
//!
//! Counters: see the crate doc. Per-session rx counters count delivered frames and inner bytes.

use crate::session::{sc, DecapWords, L2tpMain};
use pwire_config::LookupMode;
use pwire_graph::{counters, next_nodes, Cx, Frame, Node, NodeKind, NodeReg, Shared, FRAME_SIZE};
use pwire_vnet::{Registry, Vnet, VnetState};
use pwire_wire::l2tpv3::Sublayer;
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
        return Ok(40);
    }
    match pwire_wire::ipv6::upper_layer(nh, rest) {
        Ok((crate::PROTO_L2TP, off)) => Ok(40 + off),
        Ok(_) => Err(C::NoSession),
        Err(_) => Err(C::ExtHdr),
    }
}

impl<const LOCAL: bool> Decap<LOCAL> {
    #[inline(always)]
    fn classify(m: &L2tpMain, vs: &VnetState, thread: usize, data: &[u8]) -> Verdict {
        let Ok((ip, rest)) = pwire_wire::Ip6Hdr::parse(data) else {
            return Verdict::Drop(C::Short, None);
        };
        let total = 40 + ip.payload_len.get() as usize;
        if total > data.len() {
            return Verdict::Drop(C::Short, None);
        }
        let off = match l2tp_offset(ip.next_header, &rest[..total - 40]) {
            Ok(o) => o,
            Err(C::ExtHdr) => return Verdict::Drop(C::ExtHdr, None),
            Err(c) => return Verdict::NotOurs(c),
        };
        let pkt = &data[..total];
        let idx = match m.lookup {
            LookupMode::SrcAddress => m.find_addr(&ip.src),
            LookupMode::DstAddress => m.find_addr(&ip.dst),
            LookupMode::SessionId => match pkt.get(off..off + 4) {
                Some(b) => m.find_sid(u32::from_be_bytes([b[0], b[1], b[2], b[3]])),
                None => return Verdict::NotOurs(C::NoSession),
            },
        };
        let Some(idx) = idx else {
            return Verdict::NotOurs(C::NoSession);
        };
        let s = &m.sessions[idx as usize];
        let Ok(v) = pwire_wire::l2tpv3::parse(s.layout, &pkt[off..]) else {
            return Verdict::Drop(C::Short, Some(idx));
        };
        if v.session_id() != s.local_session_id {
            return Verdict::NotOurs(C::SessionIdMismatch);
        }
        if !s.cookie_ok(v.cookie()) {
            return Verdict::Drop(C::CookieMismatch, Some(idx));
        }
        if !vs.get(s.sw_if_index).is_some_and(|i| i.admin_up) {
            return Verdict::Drop(C::AdminDown, Some(idx));
        }
        let strip = off + s.hdr_len();
        let inner = total - strip;
        if inner < 14 {
            return Verdict::Drop(C::Short, Some(idx));
        }
        if s.sequencing {
            if let Some(sub) = v.sublayer().filter(|x| x.seq_valid()) {
                if let Some(row) = m.counters.get(thread).and_then(|t| t.get(idx as usize)) {
                    if !seq_accept(row, sub) {
                        return Verdict::Drop(C::SeqDrop, Some(idx));
                    }
                }
            }
        }
        Verdict::Deliver {
            session: idx,
            strip,
            inner,
        }
    }
}

const SEEN: u32 = 1 << 31;

/// Accepts a sequence number that is the expected one or ahead of it (packets in between were
/// lost); drops one behind it (reordered or duplicated), as Linux's `seq both` without a reorder
/// window. Serial arithmetic over 24 bits.
#[inline(always)]
fn seq_accept(row: &crate::session::SessRow, sub: Sublayer) -> bool {
    use std::sync::atomic::Ordering::Relaxed;
    let seq = sub.seq();
    let nx = row.rx_next.load(Relaxed);
    if nx & SEEN != 0 {
        let exp = nx & Sublayer::SEQ_MASK;
        let ahead = seq.wrapping_sub(exp) & Sublayer::SEQ_MASK;
        if ahead >= 1 << 23 {
            return false;
        }
    }
    row.rx_next
        .store(((seq + 1) & Sublayer::SEQ_MASK) | SEEN, Relaxed);
    true
}

impl<const LOCAL: bool> Node for Decap<LOCAL> {
    fn process(&mut self, frame: &mut Frame<'_>, cx: &mut Cx<'_>) {
        let dp = cx.dp();
        let m = self.main.dp(&dp);
        let vs = self.vnet.dp(&dp);
        let thread = cx.thread();
        let rows = m.counters.get(thread);
        let mut matched = 0u64;
        let mut id_mismatch = 0u64;
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
                let (k, bytes) = c.run(view, &bis[i..], &mut nexts[i..]);
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
                // strip + inner is the IPv6 packet, inside the buffer: no overflow.
                b.narrow(strip, inner);
                b.sw_if_index = [c.sw_if_index, !0];
                b.l2_len = l2_len(b.current());
                b.opaque.session_index = c.idx;
                c.pkts += 1;
                c.bytes += inner as u64;
                *nx = Next::L2Input as u16;
                if b.is_traced() {
                    let s = &m.sessions[c.idx as usize];
                    cx.trace(
                        b,
                        DecapTrace {
                            src: s.client.octets(),
                            dst: s.our.octets(),
                            session: c.idx as i32,
                        },
                    );
                }
                continue;
            }
            let verdict = Self::classify(m, vs, thread, b.current());
            let (next, session) = match verdict {
                Verdict::Deliver {
                    session,
                    strip,
                    inner,
                } => {
                    matched += 1;
                    b.advance(strip as i32);
                    b.set_len(inner);
                    b.sw_if_index[0] = if session == c.idx {
                        c.sw_if_index
                    } else {
                        m.sessions[session as usize].sw_if_index
                    };
                    b.sw_if_index[1] = !0;
                    b.l2_len = pwire_wire::ethernet::l2_header_len(b.current()).unwrap_or(14) as u8;
                    b.opaque.session_index = session;
                    // The cached session's counters add up over the frame; others' go straight in.
                    if session == c.idx {
                        c.pkts += 1;
                        c.bytes += inner as u64;
                    } else if let Some(r) = rows.and_then(|t| t.get(session as usize)) {
                        r.add(sc::RX_PKTS, 1);
                        r.add(sc::RX_BYTES, inner as u64);
                    }
                    (Next::L2Input, session as i32)
                }
                Verdict::NotOurs(c) => {
                    if c == C::SessionIdMismatch {
                        id_mismatch += 1;
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
                        let s = &m.sessions[sidx as usize];
                        if c == C::AdminDown {
                            // Counted against the tunnel, as VPP does.
                            b.sw_if_index[0] = s.sw_if_index;
                        }
                        let k = match c {
                            C::CookieMismatch => Some(sc::COOKIE_DROPS),
                            C::SeqDrop => Some(sc::SEQ_DROPS),
                            C::AdminDown => Some(sc::DOWN_DROPS),
                            _ => None,
                        };
                        if let (Some(k), Some(r)) = (k, rows.and_then(|t| t.get(sidx as usize))) {
                            r.add(k, 1);
                        }
                    }
                    b.error = cx.error(c);
                    (Next::Drop, session.map_or(-1, |x| x as i32))
                }
            };
            *nx = next as u16;
            if b.is_traced() {
                // The addresses of the outer header: only available before the strip, so the
                // trace reads them from the headroom where they still are.
                let mut src = [0u8; 16];
                let mut dst = [0u8; 16];
                if next != Next::L2Input {
                    if let Ok((ip, _)) = pwire_wire::Ip6Hdr::parse(b.current()) {
                        src = ip.src;
                        dst = ip.dst;
                    }
                } else if let Some(s) = usize::try_from(session)
                    .ok()
                    .and_then(|i| m.sessions.get(i))
                {
                    src = s.client.octets();
                    dst = s.our.octets();
                }
                cx.trace(b, DecapTrace { src, dst, session });
            }
        }
        c.flush(rows);
        cx.count(C::UserToNet, matched);
        cx.count(C::SessionIdMismatch, id_mismatch);
    }
}

/// The last session a frame hit, with what the fast path needs of it, and its delivered
/// counts (added to the session's counters when the cache moves on and at the end of the
/// frame). Lives for one frame only: the control plane changes state between frames.
struct FrameCache {
    /// Lookup key of the cached session (session id, or address in the address modes).
    key: u128,
    /// Session index, `u32::MAX` when empty.
    idx: u32,
    /// The session may take the fast path: up, and its checks fit [`DecapWords`].
    fast: bool,
    /// The last packet looked up had the same key as the one before it: a run is likely.
    repeat: bool,
    local_sid: u32,
    sw_if_index: u32,
    dw: DecapWords,
    pkts: u64,
    bytes: u64,
}

impl FrameCache {
    const EMPTY: FrameCache = FrameCache {
        key: u128::MAX,
        idx: u32::MAX,
        fast: false,
        repeat: false,
        local_sid: 0,
        sw_if_index: 0,
        dw: DecapWords {
            cookie: [0; 2],
            mask: 0,
            prev_valid: false,
            simple: false,
            hdr: 0,
        },
        pkts: 0,
        bytes: 0,
    };

    #[inline(always)]
    fn flush(&mut self, rows: Option<&Vec<crate::session::SessRow>>) {
        if self.pkts != 0 {
            if let Some(r) = rows.and_then(|t| t.get(self.idx as usize)) {
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
    fn run(&self, view: pwire_buffer::View<'_>, bis: &[u32], nexts: &mut [u16]) -> (usize, u64) {
        let sid = self.local_sid;
        let strip = 40 + usize::from(self.dw.hdr);
        let mask = self.dw.mask;
        let c0 = self.dw.cookie[0];
        let c1 = if self.dw.prev_valid {
            self.dw.cookie[1]
        } else {
            c0
        };
        let (sw, idx) = (self.sw_if_index, self.idx);
        let mut bytes = 0u64;
        for (k, (&bi, nx)) in bis.iter().zip(nexts.iter_mut()).enumerate() {
            // SAFETY: frame invariant: each index once; this loop visits each slot once.
            let b = unsafe { view.get_mut(bi) };
            if b.is_traced() {
                return (k, bytes);
            }
            let d = b.current();
            let Some(h) = d.first_chunk::<66>() else {
                return (k, bytes);
            };
            let total = 40 + usize::from(u16::from_be_bytes([h[4], h[5]]));
            let w = u64::from_be_bytes(*h[44..].first_chunk().unwrap_or(&[0; 8])) & mask;
            if h[6] != crate::PROTO_L2TP
                || total > d.len()
                || total < strip + 14
                || u32::from_be_bytes([h[40], h[41], h[42], h[43]]) != sid
                || (w != c0 && w != c1)
            {
                return (k, bytes);
            }
            let inner = total - strip;
            // strip + inner is the IPv6 packet, inside the buffer: no overflow.
            b.narrow(strip, inner);
            b.sw_if_index = [sw, !0];
            b.l2_len = l2_len(b.current());
            b.opaque.session_index = idx;
            *nx = Next::L2Input as u16;
            bytes += inner as u64;
        }
        (bis.len(), bytes)
    }

    /// Loads session `idx` under `key`.
    #[inline(always)]
    fn load(&mut self, m: &L2tpMain, vs: &VnetState, admin: &mut AdminCache, key: u128, idx: u32) {
        let s = &m.sessions[idx as usize];
        self.key = key;
        self.idx = idx;
        self.local_sid = s.local_session_id;
        self.sw_if_index = s.sw_if_index;
        self.dw = s.dw;
        self.fast = s.dw.simple && admin.up(vs, s.sw_if_index);
    }

    /// The common case decided with one length check and a cached session: a data packet with
    /// next header 115 directly after the IPv6 header, for an up session whose checks fit
    /// [`DecapWords`], with a matching cookie. `None` sends the packet to [`Decap::classify`],
    /// which decides (and counts) everything else.
    #[inline(always)]
    fn fast(
        &mut self,
        m: &L2tpMain,
        vs: &VnetState,
        admin: &mut AdminCache,
        rows: Option<&Vec<crate::session::SessRow>>,
        pre: u32,
        d: &[u8],
    ) -> Option<(usize, usize)> {
        // IPv6 (40) + session id (4) + the widest cookie read (8) + an Ethernet header (14),
        // which covers every read below.
        let h: &[u8; 66] = d.first_chunk()?;
        if h[6] != crate::PROTO_L2TP {
            return None;
        }
        let total = 40 + usize::from(u16::from_be_bytes([h[4], h[5]]));
        if total > d.len() {
            return None;
        }
        let sid = u32::from_be_bytes([h[40], h[41], h[42], h[43]]);
        let key = match m.lookup {
            LookupMode::SessionId => u128::from(sid),
            LookupMode::SrcAddress => u128::from_be_bytes(*h[8..].first_chunk()?),
            LookupMode::DstAddress => u128::from_be_bytes(*h[24..].first_chunk()?),
        };
        self.repeat = key == self.key;
        if key != self.key {
            let idx = match m.lookup {
                LookupMode::SessionId if pre != u32::MAX => Some(pre),
                LookupMode::SessionId => m.find_sid(sid),
                LookupMode::SrcAddress => m.find_addr(h[8..].first_chunk()?),
                LookupMode::DstAddress => m.find_addr(h[24..].first_chunk()?),
            }?;
            self.flush(rows);
            self.load(m, vs, admin, key, idx);
        }
        if !self.fast || sid != self.local_sid {
            return None;
        }
        let strip = 40 + usize::from(self.dw.hdr);
        if total < strip + 14 {
            return None;
        }
        let w = u64::from_be_bytes(*h[44..].first_chunk()?) & self.dw.mask;
        if w != self.dw.cookie[0] && !(self.dw.prev_valid && w == self.dw.cookie[1]) {
            return None;
        }
        Some((strip, total - strip))
    }
}

/// Delivers packets from the start of `bis` (session-id mode) while each is an untraced
/// fast-path packet of a session other than the packet before's: looks the session up, checks
/// it as [`FrameCache::fast`] does and counts it on the session's row directly. Stops at the
/// first other packet (including a repeat of the previous session, which the run loop takes).
/// Returns how many it delivered. Not inlined: on its own the loop keeps more in registers.
#[inline(never)]
#[allow(clippy::too_many_arguments)]
fn varied_run(
    m: &L2tpMain,
    vs: &VnetState,
    admin: &mut AdminCache,
    rows: Option<&Vec<crate::session::SessRow>>,
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
        let Some(h) = d.first_chunk::<66>() else {
            return k;
        };
        let total = 40 + usize::from(u16::from_be_bytes([h[4], h[5]]));
        let sid = u32::from_be_bytes([h[40], h[41], h[42], h[43]]);
        if h[6] != crate::PROTO_L2TP || total > d.len() || prev == Some(sid) {
            return k;
        }
        let found = match pre {
            Some(p) => p.get(k).copied().filter(|&x| x != u32::MAX),
            None => m.find_sid(sid),
        };
        let Some(idx) = found else {
            return k;
        };
        let Some(s) = m.sessions.get(idx as usize) else {
            return k;
        };
        let dw = &s.dw;
        let strip = 40 + usize::from(dw.hdr);
        let w = u64::from_be_bytes(*h[44..].first_chunk().unwrap_or(&[0; 8])) & dw.mask;
        if !dw.simple
            || s.local_session_id != sid
            || total < strip + 14
            || (w != dw.cookie[0] && !(dw.prev_valid && w == dw.cookie[1]))
            || !admin.up(vs, s.sw_if_index)
        {
            return k;
        }
        let inner = total - strip;
        // strip + inner is the IPv6 packet, inside the buffer: no overflow.
        b.narrow(strip, inner);
        b.sw_if_index = [s.sw_if_index, !0];
        b.l2_len = l2_len(b.current());
        b.opaque.session_index = idx;
        *nx = Next::L2Input as u16;
        if let Some(r) = rows.and_then(|t| t.get(idx as usize)) {
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
    match d.get(12..14) {
        Some(&[a, b]) if pwire_wire::ethernet::is_vlan_tpid(u16::from_be_bytes([a, b])) => {
            pwire_wire::ethernet::l2_header_len(d).unwrap_or(14) as u8
        }
        _ => 14,
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
    rows: Option<&Vec<crate::session::SessRow>>,
    idxs: &mut [u32; FRAME_SIZE],
) -> bool {
    if m.lookup != LookupMode::SessionId || m.sid_table_len() < PREFETCH_FROM {
        return false;
    }
    let sid_of = |i: usize| {
        frame
            .buf(i)
            .current()
            .get(40..44)
            .map(|h| u32::from_be_bytes([h[0], h[1], h[2], h[3]]))
    };
    for (i, slot) in idxs.iter_mut().enumerate().take(frame.len()) {
        *slot = sid_of(i)
            .and_then(|sid| m.find_sid(sid))
            .unwrap_or(u32::MAX);
        if *slot != u32::MAX {
            m.prefetch_session(*slot, rows);
        }
    }
    true
}
