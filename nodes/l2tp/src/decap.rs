//! The decap nodes (VPP's decap.c): one function, generic over the outer encapsulation
//! ([`Outer`], outer.rs), six nodes.
//!
//! - `l2tp-decap-local` (IPv6) and `l2tp4-decap-local` (IPv4) are reached from
//!   ip<n>-local/ip<n>-receive for protocol 115 to one of our addresses; `l2tp6-udp-decap` and
//!   `l2tp4-udp-decap` from ip<n>-udp-lookup for a UDP tunnel's local port.
//!   Arcs: `error-drop`, `l2-input`.
//! - `l2tp-decap` (`set interface ip6 l2tpv3 <if>`) and `l2tp4-decap`
//!   (`set interface ip4 l2tpv3 <if>`) are the ip<n>-unicast features: they intercept before the
//!   FIB lookup; packets that are not ours continue to `ip<n>-lookup`.
//!   Arcs: `error-drop`, `l2-input`, `ip<n>-lookup`.
//!
//! The buffer starts at the outer IP header (ip<n>-input, ip<n>-local and the UDP lookups do
//! not advance it). Per
//! packet: key lookup (global mode) → session-id check (address modes) → outer addresses are
//! the session's (every mode: a session belongs to its client and our address) → cookie
//! (current or, after a rollover, previous) → RX := tunnel → admin check → sequence check (when
//! sequencing, against the session's window shared by every thread) → strip IPv6 + L2TPv3,
//! trim any padding after the IPv6 payload → `l2-input`.
//!
//! The checks are written once: [`deliverable`] decides the common
//! packet for the three fast loops (the frame's cached session, a run of it, and sessions
//! changing packet by packet); [`Decap::classify`] decides and counts everything else, with
//! the same [`DecapLine`] pieces. Both read headers through `pwire-wire` definitions. Over
//! IPv4 the run of the cached session checks its packets' 32-byte head against the session's
//! [`Outer::pattern`] (the same checks as two vector compares, its tests hold it to
//! [`deliverable`]) and leaves anything else to the general path.
//!
//! Counters: see the crate doc, plus "l2tpv3 session address mismatch" (a session's id from
//! another source or to another destination, or over UDP from or to other ports; on the
//! feature path a packet not addressed to the session continues to the FIB, counted),
//! "l2tpv3 sequence number missing" (no S bit on a sequenced session: dropped, as Linux does),
//! "l2tpv3 control messages to the control plane" (session id 0 over IP, T bit over UDP:
//! copied into the control plane's bounded queue, "l2tpv3 control plane queue full" past it),
//! "l2tpv2 packet" (version 2 on an L2TP port) and "l2tpv3 bad udp header" (another version,
//! or reserved bits set). Per-session rx counters count delivered frames and inner bytes, and
//! drops by reason.

use crate::control::Control;
use crate::outer::{CtlAt, Ip4, Ip6, Miss, Outer, Udp4, Udp6};
use crate::session::{addr_key, sc, DecapLine, L2tpMain, SeqState, SessRow};
use pwire_buffer::Buffer;
use pwire_config::LookupMode;
use pwire_graph::{counters, Cx, Frame, Node, NodeKind, NodeReg, Shared, FRAME_SIZE};
use pwire_graph::{CounterDecl, Severity};
use pwire_vnet::{Registry, Vnet, VnetState};
use pwire_wire::l2tpv3::{cookie_mask, cookie_word};
use std::fmt;
use std::marker::PhantomData;
use std::net::IpAddr;
use std::sync::Arc;
use zerocopy::IntoBytes;

/// Next arcs (the third only on the features: `O::LOOKUP`).
#[derive(Clone, Copy)]
#[repr(u16)]
enum Next {
    Drop,
    L2Input,
    Lookup,
}

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
    ControlMsg: info = "l2tpv3 control messages to the control plane",
    V2: error = "l2tpv2 packet",
    BadUdpHeader: error = "l2tpv3 bad udp header",
    ControlFull: error = "l2tpv3 control plane queue full",
} }

/// `C::DECLS` with the first counter named for the node's encapsulation (VPP's name says ip6).
const fn decls_named(first: &'static str) -> [CounterDecl; C::DECLS.len()] {
    let mut a = [CounterDecl {
        name: "",
        severity: Severity::Info,
    }; C::DECLS.len()];
    let mut i = 0;
    while i < a.len() {
        a[i] = C::DECLS[i];
        i += 1;
    }
    a[0].name = first;
    a
}
const DECLS_IP4: &[CounterDecl] = &decls_named("L2TP user (ip4) to L2 network pkts");
const DECLS_UDP6: &[CounterDecl] = &decls_named("L2TP user (udp6) to L2 network pkts");
const DECLS_UDP4: &[CounterDecl] = &decls_named("L2TP user (udp4) to L2 network pkts");

/// VPP's `format_l2t_trace` for decap.
#[derive(Clone, Copy)]
pub struct DecapTrace {
    src: IpAddr,
    dst: IpAddr,
    session: i32,
}

impl fmt::Display for DecapTrace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "L2T: {} (client) -> {} (our) session {}",
            self.src, self.dst, self.session
        )
    }
}

/// The node for outer encapsulation `O`; `LOCAL` selects the local node (else the feature).
pub struct Decap<const LOCAL: bool, O> {
    main: Arc<Shared<L2tpMain>>,
    ctl: Arc<Control>,
    vnet: Arc<Shared<VnetState>>,
    /// Session index per packet, resolved ahead for big session-id tables (`u32::MAX` = none).
    idxs: Box<[u32; FRAME_SIZE]>,
    admin: AdminCache,
    _o: PhantomData<O>,
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

impl<const LOCAL: bool, O: Outer> fmt::Debug for Decap<LOCAL, O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if LOCAL {
            O::LOCAL
        } else {
            O::FEATURE.unwrap_or(O::LOCAL)
        })
    }
}

/// Registers the decap nodes; the IPv4 ones only when the ip4 nodes exist (`ip4`).
pub(crate) fn register(
    r: &mut Registry,
    main: Arc<Shared<L2tpMain>>,
    ctl: &Arc<Control>,
    ip4: bool,
) {
    let vnet = r.vnet.clone();
    reg::<true, Ip6>(r, &main, ctl, &vnet, C::DECLS);
    reg::<false, Ip6>(r, &main, ctl, &vnet, C::DECLS);
    reg::<true, Udp6>(r, &main, ctl, &vnet, DECLS_UDP6);
    if ip4 {
        reg::<true, Ip4>(r, &main, ctl, &vnet, DECLS_IP4);
        reg::<false, Ip4>(r, &main, ctl, &vnet, DECLS_IP4);
        reg::<true, Udp4>(r, &main, ctl, &vnet, DECLS_UDP4);
    }
}

fn reg<const LOCAL: bool, O: Outer>(
    r: &mut Registry,
    main: &Arc<Shared<L2tpMain>>,
    ctl: &Arc<Control>,
    vnet: &Arc<Vnet>,
    decls: &'static [CounterDecl],
) {
    let (name, nexts): (_, &'static [&'static str]) = if LOCAL {
        (O::LOCAL, &["error-drop", "l2-input"])
    } else {
        (O::FEATURE.unwrap_or(O::LOCAL), O::FEATURE_NEXTS)
    };
    let st = vnet.state.clone();
    let main = main.clone();
    let ctl = ctl.clone();
    r.graph.node(NodeReg::new(
        name,
        NodeKind::Internal,
        nexts,
        decls,
        move |_b| {
            Box::new(Decap::<LOCAL, O> {
                main: main.clone(),
                ctl: ctl.clone(),
                vnet: st.clone(),
                idxs: Box::new([u32::MAX; FRAME_SIZE]),
                admin: AdminCache {
                    gen: u64::MAX,
                    st: Vec::new(),
                },
                _o: PhantomData,
            })
        },
    ));
}

/// What the read-only look at a packet decided.
enum Verdict {
    /// Not an L2TP packet for any session: continue (feature) or drop as "session not found".
    NotOurs(C),
    Drop(C, Option<u32>),
    /// A control message, for the control plane.
    Control(CtlAt),
    Deliver {
        session: u32,
        strip: usize,
        inner: usize,
    },
}

/// The fast path's whole check of a plain packet of `len` bytes (`h`, read with one length
/// check): protocol, length, session id, addresses (and ports) and cookie.
/// `Some((strip, inner))` when it is deliverable without the general path (the session is
/// also up, and a sequenced packet in the window: the caller's part, see [`seq_in_window`]);
/// `None` sends the packet to the general path, which decides and counts everything else.
#[inline(always)]
fn deliverable<O: Outer>(dl: &DecapLine, h: &O::Head, len: usize) -> Option<(usize, usize)> {
    let total = O::total(h);
    let strip = O::AT + usize::from(dl.hdr);
    let l = O::l2tp(h);
    let w = l.cookie_word.get() & cookie_mask(dl.layout.cookie_len());
    if !O::plain(h)
        || total > len
        || total < strip + pwire_wire::EthHdr::LEN
        || l.session_id.get() != dl.local_sid
        || !dl.is(O::KIND)
        || !O::addr_ok(h, dl)
        || !dl.cookie_ok(w)
    {
        return None;
    }
    Some((strip, total - strip))
}

/// The length checks of [`deliverable`], for a packet whose other fields matched the session's
/// [`Outer::pattern`]: `Some((strip, inner))` when the datagram fits the buffer and holds an
/// Ethernet header after the L2TPv3 one.
#[inline(always)]
fn sized<O: Outer>(h: &O::Head, len: usize, strip: usize) -> Option<(usize, usize)> {
    let total = O::total(h);
    (total <= len && total >= strip + pwire_wire::EthHdr::LEN).then(|| (strip, total - strip))
}

/// The fast path's part of sequencing, for a packet [`deliverable`] accepted (so its whole
/// L2TPv3 header is inside `d`): true for an unsequenced session, or when the packet's number
/// is in the window and was taken. Anything else is left untouched for the general path,
/// which decides it (so no packet is counted twice in the window).
#[inline(always)]
fn seq_in_window<O: Outer>(dl: &DecapLine, seq: &SeqState, d: &[u8]) -> bool {
    if !dl.sequenced() {
        return true;
    }
    match d
        .get(O::AT..)
        .and_then(|l2| pwire_wire::l2tpv3::parse(dl.layout, l2).ok())
        .and_then(|v| v.sublayer())
    {
        Some(sub) if sub.seq_valid() => seq.accept_in_window(sub.seq()),
        _ => false,
    }
}

impl<const LOCAL: bool, O: Outer> Decap<LOCAL, O> {
    /// The general path: decides every packet, and says why for the ones not delivered.
    #[inline(always)]
    fn classify(m: &L2tpMain, vs: &VnetState, data: &[u8]) -> Verdict {
        let loc = match O::locate(data) {
            Ok(l) => l,
            Err(Miss::Short) => return Verdict::Drop(C::Short, None),
            Err(Miss::ExtHdr) => return Verdict::Drop(C::ExtHdr, None),
            Err(Miss::NotL2tp) => return Verdict::NotOurs(C::NoSession),
            Err(Miss::Control(at)) => return Verdict::Control(at),
            Err(Miss::V2) => return Verdict::Drop(C::V2, None),
            Err(Miss::BadUdpHeader) => return Verdict::Drop(C::BadUdpHeader, None),
        };
        let Some(l2) = data.get(loc.off..loc.total) else {
            return Verdict::Drop(C::Short, None);
        };
        let Ok(sid) = pwire_wire::l2tpv3::session_id(l2) else {
            return Verdict::Drop(C::Short, None);
        };
        if sid == pwire_wire::l2tpv3::SESSION_ID_CONTROL {
            // Over IP, session id 0 marks a control message (over UDP, the T bit does and
            // `locate` caught it). A feature lets it go on to the FIB and ip-local.
            return if LOCAL {
                Verdict::Control(CtlAt {
                    off: loc.off + 4,
                    end: loc.total,
                    src: loc.src,
                    dst: loc.dst,
                    ports: None,
                })
            } else {
                Verdict::NotOurs(C::NoSession)
            };
        }
        let idx = match m.lookup {
            LookupMode::SrcAddress => m.find_addr(&addr_key(loc.src)),
            LookupMode::DstAddress => m.find_addr(&addr_key(loc.dst)),
            LookupMode::SessionId => m.find_sid(sid),
        };
        let Some(idx) = idx else {
            return Verdict::NotOurs(C::NoSession);
        };
        let s = &m.sessions[idx as usize];
        let dl = &s.dl;
        if !dl.is(O::KIND) {
            // Another encapsulation's session (session-id mode: ids are unique across them).
            return Verdict::NotOurs(C::NoSession);
        }
        let Ok(v) = pwire_wire::l2tpv3::parse(s.layout, l2) else {
            return Verdict::Drop(C::Short, Some(idx));
        };
        if v.session_id() != dl.local_sid {
            return Verdict::NotOurs(C::SessionIdMismatch);
        }
        if loc.addrs != dl.addrs || loc.ports != dl.ports {
            // The feature sees transit traffic too: a packet to another destination is not
            // this session's, and goes on to the FIB.
            return if !LOCAL && loc.dst != dl.our(O::V4) {
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
        let strip = loc.off + usize::from(dl.hdr);
        let Some(inner) = loc
            .total
            .checked_sub(strip)
            .filter(|&n| n >= pwire_wire::EthHdr::LEN)
        else {
            return Verdict::Drop(C::Short, Some(idx));
        };
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
/// sets the RX interface to the tunnel. The inner frame's L2 header length is left unknown (0):
/// the bridge path never reads it, and the nodes that do (a BVI, a tag rewrite) work it out
/// from the frame when it is 0, so the tags are not parsed here for every packet.
///
/// # Safety
/// `strip + inner` must not exceed the packet's length (every caller has checked the IPv6
/// packet, `strip + inner` bytes, against it).
#[inline(always)]
unsafe fn strip_to_inner(b: &mut Buffer, strip: usize, inner: usize, sw_if_index: u32, idx: u32) {
    // SAFETY: the caller's contract is narrow_unchecked's.
    unsafe { b.narrow_unchecked(strip, inner) };
    b.sw_if_index = [sw_if_index, !0];
    b.l2_len = 0;
    b.opaque.session_index = idx;
}

impl<const LOCAL: bool, O: Outer> Node for Decap<LOCAL, O> {
    fn process(&mut self, frame: &mut Frame<'_>, cx: &mut Cx<'_>) {
        let dp = cx.dp();
        let m = self.main.dp(&dp);
        let vs = self.vnet.dp(&dp);
        let rows = m.counters.get(cx.thread());
        // The run loops test each buffer's trace flag only while tracing is on.
        let tracing = cx.tracing();
        let varied = pwire_graph::tracing_variant!(tracing, varied_run, O);
        let mut matched = 0u64;
        let mut id_mismatch = 0u64;
        let mut addr_mismatch = 0u64;
        let mut c = FrameCache::EMPTY;
        self.admin.sync(&self.vnet, vs);
        let ahead = resolve_ahead::<O>(frame, m, rows, &mut self.idxs);
        let sid_mode = m.lookup == LookupMode::SessionId;
        let (view, bis, nexts) = frame.parts();
        let n = bis.len();
        let mut i = 0;
        while i < n {
            if sid_mode && c.fast && c.repeat {
                c.repeat = false;
                // A run of packets for the cached session, in a loop of its own.
                let b = &bis[i..];
                let (k, bytes) = match (tracing, c.dl.sequenced()) {
                    (false, false) => c.run::<false, false, O>(view, b),
                    (false, true) => c.run::<false, true, O>(view, b),
                    (true, false) => c.run::<true, false, O>(view, b),
                    (true, true) => c.run::<true, true, O>(view, b),
                };
                // The run's nexts in one fill (vector stores), not one store per packet.
                nexts[i..i + k].fill(Next::L2Input as u16);
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
                let k = varied(
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
            if let Some((strip, inner)) =
                c.fast::<O>(m, vs, &mut self.admin, rows, pre, b.current())
            {
                // The cached session's packet: strip, hand to L2, count in the cache.
                matched += 1;
                // SAFETY: `fast` checked the outer packet (strip + inner) against the buffer.
                unsafe { strip_to_inner(b, strip, inner, c.dl.sw_if_index, c.idx) };
                c.pkts += 1;
                c.bytes += inner as u64;
                *nx = Next::L2Input as u16;
                if b.is_traced() {
                    cx.trace(
                        b,
                        DecapTrace {
                            src: c.dl.client(O::V4),
                            dst: c.dl.our(O::V4),
                            session: c.idx as i32,
                        },
                    );
                }
                continue;
            }
            // The outer addresses, for the trace: read before the strip.
            let addrs = b
                .is_traced()
                .then(|| O::locate(b.current()).map(|l| (l.src, l.dst)).ok())
                .flatten()
                .unwrap_or((IpAddr::from([0u8; 4]), IpAddr::from([0u8; 4])));
            let verdict = Self::classify(m, vs, b.current());
            let (next, session) = match verdict {
                Verdict::Deliver {
                    session,
                    strip,
                    inner,
                } => {
                    matched += 1;
                    let sw = m.sessions[session as usize].dl.sw_if_index;
                    // SAFETY: classify checked the outer packet (strip + inner) against the data.
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
                Verdict::Control(at) => {
                    // Copied out for the control plane (main thread); the buffer is freed.
                    let c = match b.current().get(at.off..at.end) {
                        Some(msg) if self.ctl.punt(at, msg) => C::ControlMsg,
                        _ => C::ControlFull,
                    };
                    b.error = cx.error(c);
                    (Next::Drop, -1)
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
            ports: 0,
            class: 0,
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
    /// Returns how many it delivered (whose next, `l2-input`, the caller sets) and their inner
    /// bytes (not yet added to the cache's counts).
    // Not inlined: on its own the loop keeps the session's words in registers.
    #[inline(never)]
    // `SEQ`: the session is sequenced (one loop each, so the unsequenced one has no trace of it).
    fn run<const TRACE: bool, const SEQ: bool, O: Outer>(
        &self,
        view: pwire_buffer::View<'_>,
        bis: &[u32],
    ) -> (usize, u64) {
        let dl = self.dl;
        let idx = self.idx;
        let seq = self.seq;
        let pat = O::pattern(&dl);
        let strip = O::AT + usize::from(dl.hdr);
        let mut bytes = 0u64;
        // One index (not an enumerate's two counters): a register fewer to spill.
        let mut k = 0;
        while let Some(&bi) = bis.get(k) {
            // SAFETY: frame invariant: each index once; this loop visits each slot once.
            let b = unsafe { view.get_mut(bi) };
            if TRACE && b.is_traced() {
                return (k, bytes);
            }
            let d = b.current();
            // With a pattern, a packet that misses it leaves the loop: no fallback to hold
            // registers for (the previous cookie, the fields one by one).
            let Some((strip, inner)) = O::parse(d).and_then(|h| match &pat {
                Some(p) => p
                    .matches(h.as_bytes())
                    .then(|| sized::<O>(h, d.len(), strip))?,
                None => deliverable::<O>(&dl, h, d.len()),
            }) else {
                return (k, bytes);
            };
            if SEQ && seq.is_some_and(|q| !seq_in_window::<O>(&dl, q, d)) {
                return (k, bytes);
            }
            // SAFETY: `deliverable` or `sized` checked the outer packet (strip + inner)
            // against `d`.
            unsafe { strip_to_inner(b, strip, inner, dl.sw_if_index, idx) };
            bytes += inner as u64;
            k += 1;
        }
        (k, bytes)
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
    /// [`deliverable`] accepts (and, sequenced, whose number is in the window).
    /// `None` sends the packet to [`Decap::classify`], which decides (and counts) everything
    /// else.
    #[inline(always)]
    fn fast<O: Outer>(
        &mut self,
        m: &'a L2tpMain,
        vs: &VnetState,
        admin: &mut AdminCache,
        rows: Option<&Vec<SessRow>>,
        pre: u32,
        d: &[u8],
    ) -> Option<(usize, usize)> {
        let h = O::parse(d)?;
        if !O::plain(h) {
            return None;
        }
        let sid = O::l2tp(h).session_id.get();
        let key = match m.lookup {
            LookupMode::SessionId => u128::from(sid),
            LookupMode::SrcAddress => u128::from_be_bytes(O::src_key(h)),
            LookupMode::DstAddress => u128::from_be_bytes(O::dst_key(h)),
        };
        self.repeat = key == self.key;
        if key != self.key {
            let idx = match m.lookup {
                LookupMode::SessionId if pre != u32::MAX => Some(pre),
                LookupMode::SessionId => m.find_sid(sid),
                LookupMode::SrcAddress => m.find_addr(&O::src_key(h)),
                LookupMode::DstAddress => m.find_addr(&O::dst_key(h)),
            }?;
            self.flush(rows);
            self.load(m, vs, admin, key, idx);
        }
        if !self.fast {
            return None;
        }
        let r = deliverable::<O>(&self.dl, h, d.len())?;
        match self.seq {
            Some(q) if !seq_in_window::<O>(&self.dl, q, d) => None,
            _ => Some(r),
        }
    }
}

/// Delivers packets from the start of `bis` (session-id mode) while each is an untraced
/// fast-path packet of a session other than the packet before's: looks the session up, checks
/// it with [`deliverable`] and counts it on the session's row directly. Stops at the
/// first other packet (including a repeat of the previous session, which the run loop takes).
/// Returns how many it delivered. Not inlined: on its own the loop keeps more in registers.
#[inline(never)]
#[allow(clippy::too_many_arguments)]
fn varied_run<const TRACE: bool, O: Outer>(
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
        if TRACE && b.is_traced() {
            return k;
        }
        let d = b.current();
        let Some(h) = O::parse(d) else {
            return k;
        };
        let sid = O::l2tp(h).session_id.get();
        if !O::plain(h) || prev == Some(sid) {
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
        let Some((strip, inner)) = deliverable::<O>(dl, h, d.len()) else {
            return k;
        };
        if !admin.up(vs, dl.sw_if_index) || !seq_in_window::<O>(dl, &s.seq, d) {
            return k;
        }
        let idx = found.unwrap_or(u32::MAX);
        // SAFETY: `deliverable` checked the outer packet (strip + inner) against `d`.
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
fn resolve_ahead<O: Outer>(
    frame: &Frame<'_>,
    m: &L2tpMain,
    rows: Option<&Vec<SessRow>>,
    idxs: &mut [u32; FRAME_SIZE],
) -> bool {
    if m.lookup != LookupMode::SessionId || m.sid_table_len() < PREFETCH_FROM {
        return false;
    }
    for (i, slot) in idxs.iter_mut().enumerate().take(frame.len()) {
        *slot = O::parse(frame.buf(i).current())
            .and_then(|h| m.find_sid(O::l2tp(h).session_id.get()))
            .unwrap_or(u32::MAX);
        if *slot != u32::MAX {
            m.prefetch_session(*slot, rows);
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::{deliverable, sized};
    use crate::outer::{Ip4, Outer};
    use crate::session::{DecapLine, OuterKind};
    use pwire_testkit::Rng;
    use pwire_wire::l2tpv3::{cookie_mask, Ip4L2tpHead};
    use pwire_wire::L2tpLayout;
    use zerocopy::{FromBytes, IntoBytes};

    fn byte(r: &mut Rng) -> u8 {
        r.next_u64() as u8
    }

    /// A session over IPv4 (or, when `other`, of another encapsulation) with random addresses,
    /// id and cookies, and a plain packet of it built field by field (not by pwire's encoder).
    fn session_and_packet(r: &mut Rng, other: bool) -> (DecapLine, [u8; 64]) {
        let cookie_len = [0u8, 4, 8][r.below(3) as usize];
        let sublayer = r.next_u64().is_multiple_of(2);
        let layout = L2tpLayout::new(cookie_len, sublayer).unwrap();
        let kind = if other {
            OuterKind::Ip6
        } else {
            OuterKind::Ip4
        };
        let mut addrs = [0u8; 32];
        addrs[..8].iter_mut().for_each(|b| *b = byte(r));
        let mask = cookie_mask(usize::from(cookie_len));
        let dl = DecapLine {
            cookie: [r.next_u64() & mask, r.next_u64() & mask],
            addrs,
            ports: 0,
            local_sid: r.next_u64() as u32 | 1,
            sw_if_index: 7,
            hdr: 4 + cookie_len + if sublayer { 4 } else { 0 },
            layout,
            class: DecapLine::class_of(kind, false),
        };
        let mut p = [0u8; 64];
        let total = 20 + usize::from(dl.hdr) + 14 + r.below(8) as usize;
        p[0] = 0x45;
        p[1] = byte(r);
        p[2..4].copy_from_slice(&(total as u16).to_be_bytes());
        p[4] = byte(r);
        p[5] = byte(r);
        p[6] = byte(r) & 0x40; // DF or not
        p[8] = byte(r);
        p[9] = 115;
        p[10] = byte(r);
        p[11] = byte(r);
        p[12..20].copy_from_slice(&addrs[..8]);
        p[20..24].copy_from_slice(&dl.local_sid.to_be_bytes());
        p[24..32].copy_from_slice(&dl.cookie[0].to_be_bytes());
        // The bytes after the cookie (sublayer or inner frame) are anything.
        for b in &mut p[24 + usize::from(cookie_len)..] {
            *b = byte(r);
        }
        (dl, p)
    }

    /// What the run loop decides with the pattern (its exit, `None`, sends the packet to the
    /// general path), against what `deliverable` decides.
    fn both(dl: &DecapLine, p: &[u8], len: usize) -> [Option<(usize, usize)>; 2] {
        let h = Ip4L2tpHead::ref_from_prefix(p).unwrap().0;
        let strip = Ip4::AT + usize::from(dl.hdr);
        let pat = Ip4::pattern(dl).unwrap();
        let fast = pat
            .matches(h.as_bytes())
            .then(|| sized::<Ip4>(h, len, strip))
            .flatten();
        [fast, deliverable::<Ip4>(dl, h, len)]
    }

    /// The pattern takes exactly the packets `deliverable` takes with the current cookie:
    /// plain packets of the session, each byte of the head changed at random, lengths short
    /// and long, sessions of another encapsulation, and the previous cookie (which the run
    /// loop leaves to the general path).
    #[test]
    fn ip4_pattern_agrees_with_deliverable() {
        let mut r = Rng(0x9e37_79b9_7f4a_7c15);
        let (mut taken, mut left) = (0, 0);
        for i in 0..20_000 {
            let other = i % 97 == 0;
            let (dl, mut p) = session_and_packet(&mut r, other);
            let total = usize::from(u16::from_be_bytes([p[2], p[3]]));
            let mut len = total;
            match r.below(4) {
                0 => {}
                1 => {
                    // One head byte changed.
                    let at = r.below(32) as usize;
                    p[at] ^= 1 << r.below(8);
                }
                2 => len = r.below(64) as usize, // buffer shorter or longer than the datagram
                _ => {
                    // The previous cookie, where the session has one.
                    if dl.cookie[1] != dl.cookie[0] && dl.layout.cookie_len() > 0 {
                        p[24..32].copy_from_slice(&dl.cookie[1].to_be_bytes());
                        let [fast, slow] = both(&dl, &p, len);
                        assert_eq!(fast, None);
                        assert_eq!(slow.is_some(), !other);
                        continue;
                    }
                }
            }
            let [fast, slow] = both(&dl, &p, len.max(32));
            if fast.is_some() {
                taken += 1;
                assert_eq!(fast, slow, "{dl:?} {p:02x?}");
            } else {
                left += 1;
                // Refused by the pattern: deliverable refuses it too, or takes it only with
                // the previous cookie (a changed cookie byte may happen to make it).
                let cookie = u64::from_be_bytes(p[24..32].try_into().unwrap())
                    & cookie_mask(dl.layout.cookie_len());
                assert!(slow.is_none() || cookie == dl.cookie[1], "{dl:?} {p:02x?}");
            }
        }
        // Both outcomes were exercised, often.
        assert!(taken > 5_000 && left > 5_000, "{taken} {left}");
    }

    /// The pattern reads the head's bytes: the first 32 bytes of the packet, all of them.
    #[test]
    fn the_pattern_reads_the_packet_head() {
        let mut r = Rng(1);
        let (_, p) = session_and_packet(&mut r, false);
        let h = Ip4L2tpHead::ref_from_prefix(&p[..]).unwrap().0;
        assert_eq!(&h.as_bytes().first_chunk::<32>().unwrap()[..], &p[..32]);
        assert_eq!(h.as_bytes(), &p[..32]);
    }
}
