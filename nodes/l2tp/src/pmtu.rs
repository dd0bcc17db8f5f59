//! Path MTU discovery for the tunnels' outer path (RFC 8201 for IPv6, RFC 1191 for IPv4).
//!
//! - `l2tp6-pmtu` / `l2tp4-pmtu` (internal, any thread): ip6-icmp-input hands them ICMPv6
//!   Packet Too Big and ip4-icmp-input ICMPv4 fragmentation needed (`Registry::icmp_too_big`).
//!   They read what the message quotes (the outer header of a packet we sent: our address to
//!   the client, protocol 115 and the session id, or UDP and its ports, and the session id
//!   when quoted), queue that and the MTU for the main thread (a bounded queue: "path mtu
//!   queue full" past it), and free the buffer. No arcs; counters "path mtu messages queued",
//!   "path mtu message unreadable", "path mtu queue full".
//! - The main task checks each against the tunnels (a message quoting no packet of ours
//!   changes nothing: forged or stray), clamps the MTU (never below 1280 for IPv6, RFC 8200 §5,
//!   nor 552 for IPv4, Linux's `min_pmtu`), never raises a path's MTU from a message (RFC
//!   8201 §4), and stores it on every session to that client (the path MTU belongs to the path,
//!   not the session). Encap reads it (one relaxed load) and marks a packet over it so that
//!   the rewrite uses it as the MTU (fragmenting it when the tunnel fragments, else dropping
//!   it under "MTU exceeded").
//! - `l2tp-pmtu-process` (process, every second): ageing. A lowered path MTU is forgotten
//!   after [`AGE`] (RFC 8201 §4 recommends 10 minutes before trying a larger one; with no
//!   probing of its own pwire simply returns to the interface's MTU, and a path still that
//!   small sends another Packet Too Big).
//!
//! Everything the main thread does here is O(sessions to that client) per accepted message,
//! with the workers running (the MTU is an atomic on the session).

use crate::session::{L2tpMain, Transport};
use crossbeam_queue::ArrayQueue;
use hashbrown::HashMap;
use pwire_buffer::BufferIndex;
use pwire_graph::{
    counters, Cx, Frame, Node, NodeKind, NodeReg, Shared, FRAME_SIZE, NEXT_CONSUMED,
};
use pwire_vnet::{CliCtx, Registry, Vnet};
use pwire_wire::ipv6::{FragHdr, PROTO_FRAGMENT, PROTO_UDP};
use pwire_wire::{Ip4Hdr, Ip6Hdr};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a lowered path MTU holds.
pub const AGE: Duration = Duration::from_secs(600);
/// Smallest path MTU taken from a message.
pub const MIN_V6: u32 = 1280;
pub const MIN_V4: u32 = 552;
/// Messages queued for the main thread at most.
const QUEUE: usize = 256;

counters! { pub enum C {
    Queued: info = "path mtu messages queued",
    Unreadable: error = "path mtu message unreadable",
    Full: error = "path mtu queue full",
} }

/// What a message quotes of a packet we sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quote {
    Ip {
        rsid: u32,
    },
    Udp {
        sport: u16,
        dport: u16,
        rsid: Option<u32>,
    },
}

#[derive(Debug, Clone, Copy)]
struct Msg {
    our: IpAddr,
    client: IpAddr,
    quote: Quote,
    mtu: u32,
}

/// (our, client, local port, remote port) of a UDP tunnel.
type UdpPath = (IpAddr, IpAddr, u16, u16);

/// The tunnels by what a quoted packet of theirs shows, for the main thread.
#[derive(Debug, Default)]
struct Paths {
    /// Over IP: (our, client, remote session id).
    by_ip: HashMap<(IpAddr, IpAddr, u32), u32>,
    /// Over UDP: (our, client, local port, remote port) -> sessions (with their remote ids).
    by_udp: HashMap<UdpPath, Vec<(u32, u32)>>,
    /// (our, client) -> every session on that path.
    by_path: HashMap<(IpAddr, IpAddr), Vec<u32>>,
    /// Paths whose MTU a message lowered: the MTU, and when it is forgotten.
    lowered: HashMap<(IpAddr, IpAddr), (u32, Instant)>,
}

/// Counts of what the main task did with the messages (`show l2tpv3 verbose`).
#[derive(Debug, Default)]
pub struct Stats {
    pub applied: AtomicU64,
    pub not_ours: AtomicU64,
    pub ignored: AtomicU64,
    pub aged: AtomicU64,
}

/// Path MTU discovery's state, shared by its nodes, the main task and the API.
#[derive(Debug)]
pub struct Pmtu {
    queue: ArrayQueue<Msg>,
    paths: Mutex<Paths>,
    pub stats: Stats,
    task: std::sync::OnceLock<usize>,
}

impl Pmtu {
    pub fn new() -> Self {
        Pmtu {
            queue: ArrayQueue::new(QUEUE),
            paths: Mutex::default(),
            stats: Stats::default(),
            task: std::sync::OnceLock::new(),
        }
    }

    fn paths(&self) -> std::sync::MutexGuard<'_, Paths> {
        self.paths.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Room for `more` sessions in the tables, made before the workers are parked (see
    /// `L2tp::reserve`): nothing here grows under the barrier.
    pub(crate) fn reserve(&self, more: usize) {
        let mut p = self.paths();
        p.by_ip.reserve(more);
        p.by_path.reserve(more);
    }

    /// A session was made (main thread).
    pub(crate) fn add(&self, idx: u32, our: IpAddr, client: IpAddr, t: Transport, rsid: u32) {
        let mut p = self.paths();
        match t {
            Transport::Ip => {
                p.by_ip.insert((our, client, rsid), idx);
            }
            Transport::Udp {
                local_port,
                remote_port,
            } => p
                .by_udp
                .entry((our, client, local_port, remote_port))
                .or_default()
                .push((idx, rsid)),
        }
        p.by_path.entry((our, client)).or_default().push(idx);
    }

    /// A session went (main thread).
    pub(crate) fn remove(&self, idx: u32, our: IpAddr, client: IpAddr, t: Transport, rsid: u32) {
        let mut p = self.paths();
        match t {
            Transport::Ip => {
                p.by_ip.remove(&(our, client, rsid));
            }
            Transport::Udp {
                local_port,
                remote_port,
            } => {
                let k = (our, client, local_port, remote_port);
                if let Some(v) = p.by_udp.get_mut(&k) {
                    v.retain(|&(i, _)| i != idx);
                    if v.is_empty() {
                        p.by_udp.remove(&k);
                    }
                }
            }
        }
        if let Some(v) = p.by_path.get_mut(&(our, client)) {
            v.retain(|&i| i != idx);
            if v.is_empty() {
                p.by_path.remove(&(our, client));
                p.lowered.remove(&(our, client));
            }
        }
    }

    /// The lowered MTU of a path and how long it still holds.
    pub fn lowered(&self, our: IpAddr, client: IpAddr) -> Option<(u32, Duration)> {
        self.paths()
            .lowered
            .get(&(our, client))
            .map(|&(m, t)| (m, t.saturating_duration_since(Instant::now())))
    }

    /// The main task: applies the queued messages and ages the lowered paths.
    fn apply(&self, cx: &mut CliCtx, main: &Shared<L2tpMain>) {
        let now = Instant::now();
        let t = main.get(&cx.ctl);
        let mut p = self.paths();
        while let Some(m) = self.queue.pop() {
            let ours = match m.quote {
                Quote::Ip { rsid } => p.by_ip.contains_key(&(m.our, m.client, rsid)),
                Quote::Udp { sport, dport, rsid } => p
                    .by_udp
                    .get(&(m.our, m.client, sport, dport))
                    .is_some_and(|v| v.iter().any(|&(_, r)| rsid.is_none_or(|q| q == r))),
            };
            if !ours {
                self.stats.not_ours.fetch_add(1, Relaxed);
                continue;
            }
            let min = if m.client.is_ipv4() { MIN_V4 } else { MIN_V6 };
            let mtu = m.mtu.max(min);
            let key = (m.our, m.client);
            if p.lowered.get(&key).is_some_and(|&(cur, _)| cur <= mtu) {
                // Never raised by a message (RFC 8201 §4); the same value again is no news.
                self.stats.ignored.fetch_add(1, Relaxed);
                continue;
            }
            p.lowered.insert(key, (mtu, now + AGE));
            for &i in p.by_path.get(&key).map(Vec::as_slice).unwrap_or(&[]) {
                if let Some(s) = t.session(i) {
                    s.pmtu.store(mtu, Relaxed);
                }
            }
            self.stats.applied.fetch_add(1, Relaxed);
            cx.vnet.log.notice(
                pwire_vnet::log::class::L2TP,
                format_args!(
                    "path mtu {} -> {}: {mtu} (from ICMP; held {} s)",
                    m.our,
                    m.client,
                    AGE.as_secs()
                ),
            );
        }
        let expired: Vec<_> = p
            .lowered
            .iter()
            .filter(|(_, &(_, at))| at <= now)
            .map(|(&k, _)| k)
            .collect();
        for k in expired {
            p.lowered.remove(&k);
            for &i in p.by_path.get(&k).map(Vec::as_slice).unwrap_or(&[]) {
                if let Some(s) = t.session(i) {
                    s.pmtu.store(0, Relaxed);
                }
            }
            self.stats.aged.fetch_add(1, Relaxed);
        }
    }

    fn due(&self) -> bool {
        let now = Instant::now();
        !self.queue.is_empty() || self.paths().lowered.values().any(|&(_, at)| at <= now)
    }

    /// Forgets every lowered path MTU now (tests: the ageing without waiting 10 minutes).
    pub fn expire_all(&self) {
        let mut p = self.paths();
        let now = Instant::now();
        for v in p.lowered.values_mut() {
            v.1 = now;
        }
    }
}

impl Default for Pmtu {
    fn default() -> Self {
        Self::new()
    }
}

/// Reads the quoted packet of an ICMPv6 Packet Too Big (`V6`) or ICMPv4 fragmentation needed
/// message whose IP packet is `d`.
fn read<const V6: bool>(d: &[u8]) -> Option<Msg> {
    let (icmp, mtu) = if V6 {
        let (ip, rest) = Ip6Hdr::parse(d).ok()?;
        let m = rest.get(..usize::from(ip.payload_len.get()))?;
        (m, u32::from_be_bytes(m.get(4..8)?.try_into().ok()?))
    } else {
        let (ip, _) = Ip4Hdr::parse(d).ok()?;
        let m = d.get(ip.header_len()..usize::from(ip.total_len.get()))?;
        (
            m,
            u32::from(u16::from_be_bytes(m.get(6..8)?.try_into().ok()?)),
        )
    };
    let q = icmp.get(8..)?;
    let (our, client, proto, upper) = if V6 {
        let (ip, rest) = Ip6Hdr::parse(q).ok()?;
        let (nh, upper) = if ip.next_header == PROTO_FRAGMENT {
            // One of our fragments: the first one says what follows.
            let (f, after) = FragHdr::parse(rest).ok()?;
            if f.offset() != 0 {
                return None;
            }
            (f.next_header, after)
        } else {
            (ip.next_header, rest)
        };
        (IpAddr::from(ip.src), IpAddr::from(ip.dst), nh, upper)
    } else {
        let (ip, _) = Ip4Hdr::parse(q).ok()?;
        let upper = q.get(ip.header_len()..)?;
        (
            IpAddr::from(ip.src),
            IpAddr::from(ip.dst),
            ip.protocol,
            upper,
        )
    };
    let word = |at: usize| -> Option<u32> {
        upper
            .get(at..at + 4)
            .map(|w| u32::from_be_bytes([w[0], w[1], w[2], w[3]]))
    };
    let quote = match proto {
        crate::PROTO_L2TP => Quote::Ip { rsid: word(0)? },
        PROTO_UDP => {
            let ports = word(0)?;
            Quote::Udp {
                sport: (ports >> 16) as u16,
                dport: ports as u16,
                // RFC 792 routers quote 8 bytes after the IPv4 header: the ports only.
                rsid: word(12),
            }
        }
        _ => return None,
    };
    (mtu != 0).then_some(Msg {
        our,
        client,
        quote,
        mtu,
    })
}

/// `l2tp6-pmtu` (`V6`) / `l2tp4-pmtu`.
pub struct PmtuNode<const V6: bool> {
    pmtu: Arc<Pmtu>,
    vnet: Arc<Vnet>,
    free: Box<[BufferIndex; FRAME_SIZE]>,
}

impl<const V6: bool> std::fmt::Debug for PmtuNode<V6> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if V6 { "l2tp6-pmtu" } else { "l2tp4-pmtu" })
    }
}

impl<const V6: bool> Node for PmtuNode<V6> {
    fn process(&mut self, frame: &mut Frame<'_>, cx: &mut Cx<'_>) {
        let n = frame.len();
        let (mut queued, mut bad, mut full) = (0u64, 0u64, 0u64);
        for (b, nx) in frame.iter_mut() {
            *nx = NEXT_CONSUMED;
            match read::<V6>(b.current()) {
                Some(m) => match self.pmtu.queue.push(m) {
                    Ok(()) => queued += 1,
                    Err(_) => full += 1,
                },
                None => bad += 1,
            }
        }
        self.free[..n].copy_from_slice(frame.indices());
        // SAFETY: the frame's buffers, each once (frame invariant), every next set to
        // NEXT_CONSUMED above; not touched after this.
        unsafe { cx.free(&self.free[..n]) };
        cx.count(C::Queued, queued);
        cx.count(C::Unreadable, bad);
        cx.count(C::Full, full);
        if queued > 0 {
            if let Some(&t) = self.pmtu.task.get() {
                self.vnet.signal_main_task(t);
            }
        }
    }
}

/// `l2tp-pmtu-process`: wakes the main task when a lowered path MTU is due to age out (and
/// for messages, should a signal have been missed).
struct AgeTimer {
    pmtu: Arc<Pmtu>,
    vnet: Arc<Vnet>,
}

impl Node for AgeTimer {
    fn process(&mut self, _frame: &mut Frame<'_>, cx: &mut Cx<'_>) {
        if self.pmtu.due() {
            if let Some(&t) = self.pmtu.task.get() {
                self.vnet.signal_main_task(t);
            }
        }
        cx.wake_at(cx.now() + 1.0);
    }
}

impl std::fmt::Debug for AgeTimer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("l2tp-pmtu-process")
    }
}

pub(crate) fn register(r: &mut Registry, main: Arc<Shared<L2tpMain>>, pmtu: Arc<Pmtu>, ip4: bool) {
    let p = pmtu.clone();
    let id = r.main_task(move |cx| p.apply(cx, &main));
    let _ = pmtu.task.set(id);
    let vnet = r.vnet.clone();
    let (p6, v6) = (pmtu.clone(), vnet.clone());
    r.graph.node(NodeReg::new(
        "l2tp6-pmtu",
        NodeKind::Internal,
        &[],
        C::DECLS,
        move |_b| {
            Box::new(PmtuNode::<true> {
                pmtu: p6.clone(),
                vnet: v6.clone(),
                free: Box::new([0; FRAME_SIZE]),
            })
        },
    ));
    if ip4 {
        let (p4, v4) = (pmtu.clone(), vnet.clone());
        r.graph.node(NodeReg::new(
            "l2tp4-pmtu",
            NodeKind::Internal,
            &[],
            C::DECLS,
            move |_b| {
                Box::new(PmtuNode::<false> {
                    pmtu: p4.clone(),
                    vnet: v4.clone(),
                    free: Box::new([0; FRAME_SIZE]),
                })
            },
        ));
    }
    r.icmp_too_big(if ip4 { "l2tp4-pmtu" } else { "l2tp6-pmtu" }, "l2tp6-pmtu");
    r.graph.node(NodeReg::new(
        "l2tp-pmtu-process",
        NodeKind::Process,
        &[],
        &[],
        move |_b| {
            Box::new(AgeTimer {
                pmtu: pmtu.clone(),
                vnet: vnet.clone(),
            })
        },
    ));
}
