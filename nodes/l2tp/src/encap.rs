//! `l2tp-encap`: the tunnel interface's output node (VPP's encap.c).
//!
//! Reached from `l2-output` for frames leaving through `l2tpv3_tunnel<N>`. Prepends the
//! session's precomputed outer headers in the buffer headroom (no copy of the frame): IPv6 or
//! IPv4, then over UDP a UDP header and L2TP's 4-byte UDP header, then the L2TPv3 header.
//! Per packet it patches the lengths, an IPv4 header's checksum (incrementally, from the
//! session's precomputed sum), a UDP checksum when the session computes one (the frame's own
//! L4 checksum is finished first when the sending stack left it to offload: it is inside the
//! UDP checksum), and the sequence number when sequencing (drawn from the session's counter
//! shared by every thread); then `ip6-lookup` or `ip4-lookup`, or, for a session whose peer
//! resolves to a complete adjacency, straight to `ip6-rewrite` / `ip4-rewrite` (a midchain, see
//! `ip_run`).
//! VPP writes hop limit 255 and lets ip6-rewrite decrement it to 254; a configured `hop-limit`
//! is the value on the wire (the packet is marked locally originated). IPv4 likewise with the
//! TTL; DF is set unless the tunnel says `no-df`, and then the identification comes from a
//! per-thread counter (RFC 6864: an atomic datagram's may be 0, a fragmentable one's must
//! differ between datagrams in flight). A tunnel with fragmentation on (the default) marks its
//! packets `FRAGMENT_OK`: one over the egress MTU is fragmented by ip6-frag / ip4-frag after
//! encapsulation, so the inner frame is never cut and nothing is lost.
//!
//! Arcs: `error-drop`, `ip6-lookup`, `ip6-rewrite`, `ip4-lookup`, `ip4-rewrite`. Counters:
//! "L2TP L2 network to user (ip6) pkts" (every encapsulated frame, whatever the family: VPP's
//! name), "L2TP L2 session lookup failed pkts", "L2TP tunnel is down", "L2TP no buffer
//! headroom".

use crate::session::{sc, L2tpMain, OuterKind, Session};
use pwire_buffer::{flags, Buffer};
use pwire_graph::{counters, next_nodes, Cx, Frame, Node, NodeKind, NodeReg, Shared};
use pwire_node_ip4::state::{Ip4Dp, Kind as Kind4, Row};
use pwire_node_ip6::state::{Ip6State, Kind as Kind6, LbCounter};
use pwire_vnet::{Registry, VnetState};
use pwire_wire::checksum::Sum;
use pwire_wire::ipv4::Ip4Hdr;
use pwire_wire::l2tpv3::Sublayer;
use pwire_wire::Ip6Hdr;
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

next_nodes! { pub enum Next {
    Drop => "error-drop",
    Lookup => "ip6-lookup",
    Rewrite => "ip6-rewrite",
    Lookup4 => "ip4-lookup",
    Rewrite4 => "ip4-rewrite",
} }

counters! { pub enum C {
    NetToUser: error = "L2TP L2 network to user (ip6) pkts",
    LookupFailed: error = "L2TP L2 session lookup failed pkts",
    Down: error = "L2TP tunnel is down",
    NoHeadroom: error = "L2TP no buffer headroom",
} }

/// VPP's encap trace, without its stray `)`.
#[derive(Clone, Copy)]
pub struct EncapTrace {
    our: IpAddr,
    client: IpAddr,
    session: i32,
}

impl fmt::Display for EncapTrace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "L2T: {} (our) -> {} (client) session {}",
            self.our, self.client, self.session
        )
    }
}

/// The node. Caches the last (tx interface → session) pair, as VPP's runtime data does.
pub struct Encap {
    main: Arc<Shared<L2tpMain>>,
    vnet: Arc<Shared<VnetState>>,
    /// The FIBs, for the midchain (see [`Midchain`]); `None` when the ip nodes did not publish
    /// them (then every packet goes through the lookup node).
    fib6: Option<Arc<Shared<Ip6State>>>,
    fib4: Option<Arc<Shared<Ip4Dp>>>,
    class: u16,
    /// IPv4 identification for fragmentable (`no-df`) tunnels: this thread's next value,
    /// stepping by the thread count so that threads never hand out the same one.
    ident: u16,
    ident_step: u16,
}

impl fmt::Debug for Encap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("l2tp-encap")
    }
}

/// Registers the node; its `ip4-lookup` arc only when the ip4 nodes exist (`ip4`: the API
/// refuses IPv4 tunnels otherwise).
pub(crate) fn register(r: &mut Registry, main: Arc<Shared<L2tpMain>>, ip4: bool) {
    let vnet = r.vnet.clone();
    let fib6 = r.published::<Shared<Ip6State>>();
    let fib4 = r.published::<Shared<Ip4Dp>>().filter(|_| ip4);
    r.graph.node(NodeReg::new(
        "l2tp-encap",
        NodeKind::Internal,
        if ip4 { Next::NAMES } else { &Next::NAMES[..3] },
        C::DECLS,
        move |b| {
            let class = vnet.statics().class_id("l2tpv3").unwrap_or(u16::MAX);
            Box::new(Encap {
                main: main.clone(),
                vnet: vnet.state.clone(),
                fib6: fib6.clone(),
                fib4: fib4.clone(),
                class,
                ident: b.thread as u16,
                ident_step: vnet.n_threads.max(1) as u16,
            })
        },
    ));
}

impl Node for Encap {
    fn process(&mut self, frame: &mut Frame<'_>, cx: &mut Cx<'_>) {
        let dp = cx.dp();
        let m = self.main.dp(&dp);
        let vs = self.vnet.dp(&dp);
        let rows = m.counters.get(cx.thread());
        // The run loop tests each buffer's trace flag only while tracing is on.
        let tracing = cx.tracing();
        let (e_lookup, e_down, e_room) = (
            cx.error(C::LookupFailed),
            cx.error(C::Down),
            cx.error(C::NoHeadroom),
        );
        let (fib6, fib4) = (
            self.fib6.as_ref().map(|f| f.dp(&dp)),
            self.fib4.as_ref().map(|f| f.dp(&dp)),
        );
        let mut mc = Midchains {
            fib6,
            fib4,
            thread: cx.thread(),
            idx: u32::MAX,
            route: None,
        };
        let mut last_sw = u32::MAX;
        let mut last: Option<(u32, bool)> = None;
        let mut sent = 0u64;
        // Delivered counts of the run of packets for one session, added when the run ends.
        let (mut run_p, mut run_b) = (0u64, 0u64);
        let flush = |last: Option<(u32, bool)>, p: u64, by: u64| {
            if let (Some((idx, _)), true) = (last, p > 0) {
                if let Some(r) = rows.and_then(|t| t.get(idx as usize)) {
                    r.add(sc::TX_PKTS, p);
                    r.add(sc::TX_BYTES, by);
                }
            }
        };
        let (view, bis, nexts) = frame.parts();
        let n = bis.len();
        let mut i = 0;
        while i < n {
            // The common frame (to the run's up, unsequenced session over IP, untraced, within
            // any path MTU) in a loop of its own once the session is known.
            if let Some((idx, true)) = last {
                let s = &m.sessions[idx as usize];
                let route = mc.of(idx, s.client);
                let adj = route.map(|(a, _)| a);
                let ident = (&mut self.ident, self.ident_step);
                let (bi, v) = (&bis[i..], &mut nexts[i..]);
                let ip_run = match (s.kind, s.tx_sequencing) {
                    (OuterKind::Ip6, false) => {
                        Some(pwire_graph::tracing_variant!(tracing, ip_run, false))
                    }
                    (OuterKind::Ip4, false) => {
                        Some(pwire_graph::tracing_variant!(tracing, ip_run, true))
                    }
                    _ => None,
                };
                let run = ip_run.map(|f| f(view, bi, v, last_sw, s, ident, adj));
                if let Some((k, by, outer)) = run {
                    if let Some((_, ctr)) = route {
                        ctr.add(k as u64, outer);
                    }
                    i += k;
                    run_p += k as u64;
                    run_b += by;
                    sent += k as u64;
                    if i == n {
                        break;
                    }
                }
            }
            // SAFETY: frame invariant: each index once, and slot `i` is visited once.
            let b = unsafe { view.get_mut(bis[i]) };
            let nx = &mut nexts[i];
            i += 1;
            let sw = b.tx();
            if sw != last_sw {
                flush(last, run_p, run_b);
                (run_p, run_b) = (0, 0);
                last_sw = sw;
                last = vs.get(sw).filter(|i| i.class == self.class).and_then(|i| {
                    let idx = i.dev_instance;
                    m.sessions
                        .get(idx as usize)
                        .filter(|s| !s.deleted && s.sw_if_index == sw)
                        // Up: admin up, and for a signalled pseudowire negotiated with the
                        // peer's circuit active (its link state).
                        .map(|s| (idx, i.admin_up && i.link_up && s.active))
                });
            }
            let Some((idx, up)) = last else {
                b.error = e_lookup;
                *nx = Next::Drop as u16;
                continue;
            };
            let s = &m.sessions[idx as usize];
            if !up {
                b.error = e_down;
                *nx = Next::Drop as u16;
                if let Some(r) = rows.and_then(|t| t.get(idx as usize)) {
                    r.add(sc::DOWN_DROPS, 1);
                }
                continue;
            }
            if s.kind.udp() && s.udp_csum && b.flags & flags::L4_CSUM_PARTIAL != 0 {
                // The frame's checksum is inside ours: finish it first.
                pwire_vnet::finish_l4_csum(b);
            }
            let inner = b.current_length() as usize;
            let rl = s.rewrite_len as usize;
            let Some(h) = b.prepend(rl) else {
                b.error = e_room;
                *nx = Next::Drop as u16;
                continue;
            };
            copy_rewrite(h, &s.rewrite);
            if s.tx_sequencing {
                // Per session across threads: one fetch-add, only on sequenced sessions.
                let seq = s.seq.next_tx();
                let at = s.sublayer_at();
                h[at..at + 4].copy_from_slice(&Sublayer::new(true, seq).word().to_be_bytes());
            }
            *nx = match s.kind {
                OuterKind::Ip6 => {
                    let plen = (rl - 40 + inner) as u16;
                    h[4..6].copy_from_slice(&plen.to_be_bytes());
                    Next::Lookup as u16
                }
                OuterKind::Ip4 => {
                    ip4(
                        &mut self.ident,
                        self.ident_step,
                        Ip4Patch::of(s),
                        h,
                        rl + inner,
                    );
                    Next::Lookup4 as u16
                }
                OuterKind::Udp6 => {
                    let len = (rl - 40 + inner) as u16;
                    h[4..6].copy_from_slice(&len.to_be_bytes());
                    udp_finish(s, b, 40, len);
                    Next::Lookup as u16
                }
                OuterKind::Udp4 => {
                    ip4(
                        &mut self.ident,
                        self.ident_step,
                        Ip4Patch::of(s),
                        h,
                        rl + inner,
                    );
                    udp_finish(s, b, 20, (rl - 20 + inner) as u16);
                    Next::Lookup4 as u16
                }
            };
            if let Some((adj, ctr)) = mc.of(idx, s.client) {
                // Every packet of the session takes the same way (a traced or sequenced one
                // too), so none overtakes another.
                *nx = if *nx == Next::Lookup as u16 {
                    Next::Rewrite
                } else {
                    Next::Rewrite4
                } as u16;
                b.opaque.adj_index = adj;
                b.opaque.fib_index = 0;
                ctr.add(1, u64::from(b.current_length()));
            }
            b.flags |= s.tx_flags;
            // A path MTU below the interface's (pmtu.rs): one relaxed load, rarely set.
            let pm = s.pmtu.load(std::sync::atomic::Ordering::Relaxed);
            if pm != 0 && (rl + inner) as u32 > pm {
                b.flags |= flags::PATH_MTU;
                b.opaque.user[1] = pm;
            }
            // ip6-lookup uses the RX interface's FIB when TX is unset (VPP: encap_fib_index ~0).
            b.sw_if_index[1] = !0;
            run_p += 1;
            run_b += inner as u64;
            sent += 1;
            if b.is_traced() {
                cx.trace(
                    b,
                    EncapTrace {
                        our: s.our,
                        client: s.client,
                        session: idx as i32,
                    },
                );
            }
        }
        flush(last, run_p, run_b);
        cx.count(C::NetToUser, sent);
    }
}

/// Frames from the start of `bis` to tunnel interface `sw`, untraced and within the session's
/// path MTU, for `s`: up, unsequenced, over IPv6 (`V4` false) or IPv4: the rewrite in front,
/// the length (and an IPv4 header's checksum), the session's flags, TX unset, then the
/// family's lookup, or with `midchain` (the adjacency the run's destination resolves to) the
/// family's rewrite directly. Returns how many, their inner bytes and their outer bytes; stops
/// at the first other frame. Not inlined: on its own the loop keeps the session's values in
/// registers.
///
/// The midchain is VPP's for its newer tunnels: a tunnel's packets all go to one destination,
/// so the lookup `ip6-lookup` / `ip4-lookup` would repeat for each is done here when the
/// frame's packets change session (the FIB cannot change within a frame: changes wait for the
/// barrier). Only a complete adjacency is taken; anything else (unresolved neighbour, glean,
/// drop, local) goes through the lookup node as before. Either way every packet of the session
/// in the frame goes the same way (none overtakes another), and the route's counter (`show ip
/// fib`'s `to:[packets:bytes]`) counts them (the caller adds the run's).
#[inline(never)]
fn ip_run<const TRACE: bool, const V4: bool>(
    view: pwire_buffer::View<'_>,
    bis: &[u32],
    nexts: &mut [u16],
    sw: u32,
    s: &Session,
    (ident, step): (&mut u16, u16),
    midchain: Option<u32>,
) -> (usize, u64, u64) {
    let rl = usize::from(s.rewrite_len);
    let tx_flags = s.tx_flags;
    let pm = s.pmtu.load(std::sync::atomic::Ordering::Relaxed);
    let next = match (V4, midchain.is_some()) {
        (false, false) => Next::Lookup,
        (false, true) => Next::Rewrite,
        (true, false) => Next::Lookup4,
        (true, true) => Next::Rewrite4,
    } as u16;
    let adj = midchain.unwrap_or(0);
    let patch = Ip4Patch::of(s);
    let (mut bytes, mut outer) = (0u64, 0u64);
    for (k, (&bi, nx)) in bis.iter().zip(nexts.iter_mut()).enumerate() {
        // SAFETY: frame invariant: each index once; this loop visits each slot once.
        let b = unsafe { view.get_mut(bi) };
        let inner = b.current_length() as usize;
        if (TRACE && b.is_traced()) || b.tx() != sw || (pm != 0 && (rl + inner) as u32 > pm) {
            return (k, bytes, outer);
        }
        let Some(h) = b.prepend(rl) else {
            return (k, bytes, outer);
        };
        copy_rewrite(h, &s.rewrite);
        if V4 {
            ip4(ident, step, patch, h, rl + inner);
        } else {
            h[4..6].copy_from_slice(&((rl - Ip6Hdr::LEN + inner) as u16).to_be_bytes());
        }
        b.flags |= tx_flags;
        b.sw_if_index[1] = !0;
        // What the lookup node would have stored (only read on the rewrite arc).
        b.opaque.adj_index = adj;
        b.opaque.fib_index = 0;
        *nx = next;
        bytes += inner as u64;
        outer += (rl + inner) as u64;
    }
    (bis.len(), bytes, outer)
}

/// What [`ip4`] needs of an IPv4 session, read once per run (not from the session for each
/// packet): DF set (the identification stays 0), and the precomputed sum of its header.
#[derive(Clone, Copy)]
struct Ip4Patch {
    df: bool,
    sum: u16,
}

impl Ip4Patch {
    fn of(s: &Session) -> Self {
        Ip4Patch {
            df: s.df,
            sum: s.ip4_sum,
        }
    }
}

/// Patches the outer IPv4 header at the start of `h` (an IPv4 session's rewrite, so at least
/// the header): total length, identification (for a fragmentable tunnel: `ident`, then
/// stepped), and the checksum from the session's precomputed sum (at most three words: two
/// folds, no loop).
#[inline(always)]
fn ip4(ident: &mut u16, step: u16, p: Ip4Patch, h: &mut [u8], total: usize) {
    let Ok((ip, _)) = Ip4Hdr::parse_mut(h) else {
        return;
    };
    let total = total as u16;
    ip.total_len.set(total);
    let mut sum = Sum::ZERO.add_u16(p.sum).add_u16(total);
    if !p.df {
        let id = *ident;
        *ident = id.wrapping_add(step);
        ip.ident.set(id);
        sum = sum.add_u16(id);
    }
    ip.checksum.set(sum.checksum_short());
}

/// Writes the UDP length, and the checksum when the session computes one: the session's sum
/// of the pseudo-header addresses, the ports and the L2TP header, plus the lengths (the
/// pseudo-header's and the UDP header's) and the bytes from the sublayer on (the sequence
/// number and the frame). A computed 0 goes out as 0xffff (0 means "none").
#[inline(always)]
fn udp_finish(s: &Session, b: &mut Buffer, ip: usize, len: u16) {
    let d = b.current_mut();
    d[ip + 4..ip + 6].copy_from_slice(&len.to_be_bytes());
    if s.udp_csum {
        let c = Sum::ZERO
            .add_u16(s.udp_sum)
            .add_u16(len)
            .add_u16(len)
            .add_bytes(&d[s.sublayer_at()..])
            .checksum();
        let c = if c == 0 { 0xffff } else { c };
        d[ip + 6..ip + 8].copy_from_slice(&c.to_be_bytes());
    }
}

/// Copies a rewrite of one of the lengths sessions have (IPv6 or IPv4, UDP 8 + 4 or not, 4 +
/// cookie 0/4/8 + sublayer 0/4) with fixed-size moves the compiler inlines for the IPv6 and
/// IPv4 lengths over IP; `h.len()` is the rewrite length.
#[inline(always)]
fn copy_rewrite(h: &mut [u8], rw: &[u8; crate::session::MAX_REWRITE]) {
    fn fixed<const N: usize>(h: &mut [u8], rw: &[u8; crate::session::MAX_REWRITE]) -> bool {
        match (h.first_chunk_mut::<N>(), rw.first_chunk::<N>()) {
            (Some(d), Some(s)) => {
                *d = *s;
                true
            }
            _ => false,
        }
    }
    let done = match h.len() {
        52 => fixed::<52>(h, rw),
        48 => fixed::<48>(h, rw),
        44 => fixed::<44>(h, rw),
        56 => fixed::<56>(h, rw),
        24 => fixed::<24>(h, rw),
        32 => fixed::<32>(h, rw),
        36 => fixed::<36>(h, rw),
        _ => false,
    };
    if !done {
        let n = h.len();
        h.copy_from_slice(&rw[..n]);
    }
}

/// The per-thread counter of the route a tunnel's packets take (`show ip fib`'s
/// `to:[packets:bytes]`), bumped where `ip6-lookup` / `ip4-lookup` would have.
#[derive(Clone, Copy)]
enum RouteCtr<'a> {
    V6(&'a LbCounter),
    V4(&'a Row),
    None,
}

impl RouteCtr<'_> {
    #[inline(always)]
    fn add(self, pkts: u64, bytes: u64) {
        match self {
            RouteCtr::V6(c) => c.add(pkts, bytes),
            RouteCtr::V4(r) => r.add(pkts, bytes),
            RouteCtr::None => {}
        }
    }
}

/// The midchains of one frame's sessions (see [`ip_run`]): each resolved when the frame's
/// packets change session (the FIB cannot change within a frame).
struct Midchains<'a> {
    fib6: Option<&'a Ip6State>,
    fib4: Option<&'a Ip4Dp>,
    thread: usize,
    /// The session last resolved, and its midchain.
    idx: u32,
    route: Option<(u32, RouteCtr<'a>)>,
}

impl<'a> Midchains<'a> {
    /// The midchain of session `idx` to `client`: the adjacency its packets take and the
    /// route's counter, when the FIB resolves `client` to a complete adjacency; else `None`
    /// (the packets go through the lookup node).
    #[inline(always)]
    fn of(&mut self, idx: u32, client: IpAddr) -> Option<(u32, RouteCtr<'a>)> {
        if self.idx != idx {
            self.idx = idx;
            self.route = self.resolve(client);
        }
        self.route
    }

    fn resolve(&self, client: IpAddr) -> Option<(u32, RouteCtr<'a>)> {
        match client {
            IpAddr::V6(a) => {
                let f = self.fib6?;
                let (e, kind, adj) = f.lookup(u128::from(a));
                let ctr = f.counters.get(self.thread).and_then(|t| t.get(e as usize));
                (kind == Kind6::Rewrite).then_some((adj, ctr.map_or(RouteCtr::None, RouteCtr::V6)))
            }
            IpAddr::V4(a) => {
                let f = self.fib4?;
                let (e, kind, adj) = f.lookup(u32::from(a));
                let row = f.rows.get(self.thread).and_then(|t| t.get(e as usize));
                (kind == Kind4::Rewrite).then_some((adj, row.map_or(RouteCtr::None, RouteCtr::V4)))
            }
        }
    }
}
