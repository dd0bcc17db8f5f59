//! The session table (VPP's `l2t_session_t` pool and its lookup hashes).
//!
//! One global lookup mode (`l2tp { lookup-v6-src | lookup-v6-dst | lookup-session-id }`,
//! default dst as VPP) selects which key decap uses; every session is indexed under that key
//! only. Whatever the mode, a packet belongs to a session only when its outer source and
//! destination are the session's client and our address.
//!
//! The table lives in a `Shared`: decap/encap read it lock-free, the control plane changes it
//! with the workers parked. What the main thread does while they wait is O(1) per change:
//! - the session vector, the per-thread counter rows and the free list are reserved for
//!   `max-sessions` at start (address space only: pages are touched as sessions are added), so
//!   an insert never moves them;
//! - the lookup tables grow by doubling, built beside the live ones before the workers are
//!   parked ([`L2tpMain::grown_tables`]) and swapped in under the barrier.
//!
//! Per-session counters are per thread, written only by their thread. Sequencing state
//! ([`SeqState`]) is per session and shared by every thread, as RFC 4719 sequencing is per
//! session; only sequenced sessions touch it.

use hashbrown::HashMap;
use pwire_config::LookupMode;
use pwire_wire::checksum::Sum;
use pwire_wire::ipv4::Ip4Hdr;
use pwire_wire::l2tpv3::{cookie_word, Cookie, CookieSize, L2tpLayout, Sublayer, UdpL2tpHdr};
use pwire_wire::udp::UdpHdr;
use pwire_wire::Ip6Hdr;
use std::net::IpAddr;
pub use std::sync::atomic::AtomicU32 as PmtuCell;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};
use zerocopy::IntoBytes;

/// Per-session counter indices.
pub mod sc {
    /// Inner frames delivered to L2 (decap) and their bytes.
    pub const RX_PKTS: usize = 0;
    pub const RX_BYTES: usize = 1;
    /// Inner frames encapsulated (encap) and their bytes.
    pub const TX_PKTS: usize = 2;
    pub const TX_BYTES: usize = 3;
    pub const COOKIE_DROPS: usize = 4;
    /// Out of order, duplicate, or without a sequence number on a sequenced session.
    pub const SEQ_DROPS: usize = 5;
    pub const DOWN_DROPS: usize = 6;
    /// The session's id from another source or to another destination than the session's.
    pub const ADDR_DROPS: usize = 7;
    pub const N: usize = 8;
}

/// One thread's counters for one session: exactly one cache line (64 bytes, aligned), so decap
/// and encap touch one line per session, not two.
#[derive(Debug, Default)]
#[repr(align(64))]
pub struct SessRow {
    pub c: [AtomicU64; sc::N],
}

const _: () = assert!(std::mem::size_of::<SessRow>() == 64);

impl SessRow {
    /// Adds to one counter. Only the row's own thread adds, so a load and a store suffice (no
    /// locked read-modify-write).
    #[inline(always)]
    pub fn add(&self, i: usize, n: u64) {
        let a = &self.c[i];
        a.store(a.load(Relaxed).wrapping_add(n), Relaxed);
    }
    fn zero(&self) {
        for a in &self.c {
            a.store(0, Relaxed);
        }
    }
}

/// How far ahead of the expected number a sequence number may be and still be accepted (the
/// packets in between were lost).
pub const SEQ_WINDOW: u32 = 1 << 15;
/// How far behind the expected number a packet counts as late or duplicated: dropped, and
/// nothing else changes (a duplicated burst never moves the window back).
pub const SEQ_LATE: u32 = 64;
/// Farther out than both, after this many consecutive packets whose numbers follow each other
/// (a peer that restarted its numbering, or a loss longer than the window), the last one is
/// accepted and the window moves to it (Linux's `nr_oos_count_max` idea): a single stray or
/// spoofed number costs at most this many packets, never the session.
pub const SEQ_RESYNC: u32 = 5;

const SEQ_MASK: u64 = Sublayer::SEQ_MASK as u64;
const SEQ_SEEN: u64 = 1 << 24;

/// A session's sequencing state, shared by every thread: two workers encapsulating into one
/// session draw distinct numbers, and packets of one session arriving on two rx queues are
/// checked against one window. One atomic operation per sequenced packet (a fetch-add on
/// encap, a compare-exchange on decap); unsequenced sessions never touch it. A cache line of
/// its own, so it does not bounce the lines every thread reads.
#[derive(Debug, Default)]
#[repr(C, align(64))]
pub struct SeqState {
    /// Next number to send (the low 24 bits; the u32 wraps at a multiple of 2^24).
    tx: AtomicU32,
    /// The receive window in one word, so one compare-exchange moves it: bits 0-23 the next
    /// number expected, bit 24 set once a packet was accepted, bits 32-55 the number that
    /// would continue the current run of out-of-window packets, bits 56-63 that run's length.
    rx: AtomicU64,
}

impl SeqState {
    /// The number for the next packet sent.
    #[inline(always)]
    pub fn next_tx(&self) -> u32 {
        self.tx.fetch_add(1, Relaxed) & Sublayer::SEQ_MASK
    }

    /// Whether a received packet numbered `seq` is delivered; moves the window.
    #[inline]
    pub fn accept(&self, seq: u32) -> bool {
        let mut cur = self.rx.load(Relaxed);
        loop {
            let (new, ok) = Self::step(cur, seq);
            if new == cur {
                return ok;
            }
            match self.rx.compare_exchange_weak(cur, new, Relaxed, Relaxed) {
                Ok(_) => return ok,
                Err(now) => cur = now,
            }
        }
    }

    /// [`SeqState::accept`] for a number inside the window only (the common case, on decap's
    /// fast path): true when it was taken; false, changing nothing, for anything else.
    #[inline(always)]
    pub fn accept_in_window(&self, seq: u32) -> bool {
        let seq = u64::from(seq) & SEQ_MASK;
        let mut cur = self.rx.load(Relaxed);
        loop {
            let next = cur & SEQ_MASK;
            if cur & SEQ_SEEN == 0 || (seq.wrapping_sub(next) & SEQ_MASK) >= u64::from(SEQ_WINDOW) {
                return false;
            }
            let new = ((seq + 1) & SEQ_MASK) | SEQ_SEEN;
            match self.rx.compare_exchange_weak(cur, new, Relaxed, Relaxed) {
                Ok(_) => return true,
                Err(now) => cur = now,
            }
        }
    }

    /// The window after `seq` arrives, and whether the packet is delivered.
    #[inline(always)]
    fn step(cur: u64, seq: u32) -> (u64, bool) {
        let seq = u64::from(seq) & SEQ_MASK;
        let accept = |s: u64| (((s + 1) & SEQ_MASK) | SEQ_SEEN, true);
        let next = cur & SEQ_MASK;
        if cur & SEQ_SEEN == 0 || (seq.wrapping_sub(next) & SEQ_MASK) < u64::from(SEQ_WINDOW) {
            return accept(seq);
        }
        if (next.wrapping_sub(seq) & SEQ_MASK) <= u64::from(SEQ_LATE) {
            return (cur, false);
        }
        let run_next = (cur >> 32) & SEQ_MASK;
        let run = cur >> 56;
        let run = if run != 0 && seq == run_next {
            run + 1
        } else {
            1
        };
        if run >= u64::from(SEQ_RESYNC) {
            return accept(seq);
        }
        (
            (cur & (SEQ_MASK | SEQ_SEEN)) | (((seq + 1) & SEQ_MASK) << 32) | (run << 56),
            false,
        )
    }

    fn reset(&self) {
        self.tx.store(0, Relaxed);
        self.rx.store(0, Relaxed);
    }
}

/// Bytes of outer header a session prepends, at most IPv6 40 + UDP 8 + 4 + L2TPv3 4 + 8 + 4.
pub const MAX_REWRITE: usize = 68;

/// How a session's packets are carried: L2TPv3 over IP (protocol 115) or over UDP
/// (RFC 3931 §4.1.2.1: a 4-byte header, T = 0 and version 3, before the session id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Ip,
    Udp { local_port: u16, remote_port: u16 },
}

/// A session's outer headers: family and transport, fixed at create.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[repr(u8)]
pub enum OuterKind {
    #[default]
    Ip6,
    Ip4,
    Udp6,
    Udp4,
}

impl OuterKind {
    pub fn of(v4: bool, t: Transport) -> Self {
        match (v4, t) {
            (false, Transport::Ip) => OuterKind::Ip6,
            (true, Transport::Ip) => OuterKind::Ip4,
            (false, Transport::Udp { .. }) => OuterKind::Udp6,
            (true, Transport::Udp { .. }) => OuterKind::Udp4,
        }
    }
    pub const fn v4(self) -> bool {
        matches!(self, OuterKind::Ip4 | OuterKind::Udp4)
    }
    pub const fn udp(self) -> bool {
        matches!(self, OuterKind::Udp6 | OuterKind::Udp4)
    }
    /// Length of the IP header a session writes.
    pub const fn ip_len(self) -> usize {
        if self.v4() {
            Ip4Hdr::LEN
        } else {
            Ip6Hdr::LEN
        }
    }
    /// Offset of the L2TPv3 session id in the outer headers.
    pub const fn l2tp_at(self) -> usize {
        self.ip_len()
            + if self.udp() {
                UdpHdr::LEN + UdpL2tpHdr::LEN
            } else {
                0
            }
    }
}

/// An address as the decap tables key it: IPv4 as IPv4-mapped IPv6 (::ffff:a.b.c.d), so one
/// table holds both families.
pub fn addr_key(a: IpAddr) -> [u8; 16] {
    match a {
        IpAddr::V4(v) => v.to_ipv6_mapped().octets(),
        IpAddr::V6(v) => v.octets(),
    }
}

/// What decap reads of a session for every packet, in one cache line: the checks as machine
/// words, so a packet's cookie is one load, one AND and one compare whatever its size, and its
/// addresses two 16-byte compares. Derived from the session by [`Session::build`].
#[derive(Debug, Clone, Copy, Default)]
#[repr(C, align(64))]
pub struct DecapLine {
    /// Local cookies as [`cookie_word`]s: the current one, and the previous one after a
    /// rollover (the current one again before any), so a match is two compares and no flag.
    pub cookie: [u64; 2],
    /// The session's addresses as a packet carries them, client (source) then our address
    /// (destination): one 32-byte compare with the IPv6 header's two addresses; an IPv4
    /// session's 4 + 4 bytes are the first 8 (zeros after).
    pub addrs: [u8; 32],
    /// Over UDP, the ports a packet carries, source (the remote port) then destination (our
    /// local port), as the first word of its UDP header; 0 over IP.
    pub ports: u32,
    pub local_sid: u32,
    pub sw_if_index: u32,
    /// L2TPv3 header length.
    pub hdr: u8,
    pub layout: L2tpLayout,
    /// The session's [`OuterKind`] (bits 1-2), so a packet is never taken by a session of
    /// another encapsulation, and sequencing (bit 0: a packet also needs its number checked
    /// against the session's window).
    pub class: u8,
}

const _: () = assert!(std::mem::size_of::<DecapLine>() == 64);

impl DecapLine {
    /// `class` of a session of `kind`, sequenced or not.
    pub const fn class_of(kind: OuterKind, sequenced: bool) -> u8 {
        ((kind as u8) << 1) | sequenced as u8
    }

    /// Sequenced: a packet also needs its number checked against the session's window.
    #[inline(always)]
    pub fn sequenced(&self) -> bool {
        self.class & 1 != 0
    }

    /// The session carries `kind`'s packets.
    #[inline(always)]
    pub fn is(&self, kind: OuterKind) -> bool {
        self.class >> 1 == kind as u8
    }

    /// The cookie word (under the session's mask) is a local cookie.
    #[inline(always)]
    pub fn cookie_ok(&self, w: u64) -> bool {
        w == self.cookie[0] || w == self.cookie[1]
    }

    /// The session's client (source) address.
    pub fn client(&self, v4: bool) -> IpAddr {
        let a = &self.addrs;
        if v4 {
            IpAddr::from([a[0], a[1], a[2], a[3]])
        } else {
            let mut o = [0; 16];
            o.copy_from_slice(&a[..16]);
            IpAddr::from(o)
        }
    }

    /// The session's own (destination) address.
    pub fn our(&self, v4: bool) -> IpAddr {
        let a = &self.addrs;
        if v4 {
            IpAddr::from([a[4], a[5], a[6], a[7]])
        } else {
            let mut o = [0; 16];
            o.copy_from_slice(&a[16..]);
            IpAddr::from(o)
        }
    }
}

/// One pseudowire. `repr(C)`, line-aligned: decap reads the first line of every packet's
/// session, encap the next ones; the configuration follows, and the sequencing state last, on
/// a line of its own.
#[derive(Debug)]
#[repr(C, align(64))]
pub struct Session {
    /// What decap compares, derived by [`Session::build`].
    pub dl: DecapLine,
    /// Encapsulation written in front of every frame: IP header (length patched per packet,
    /// and an IPv4 header's checksum), UDP header (length and checksum patched) and L2TPv3
    /// header (sequence number patched when sequencing).
    pub rewrite: [u8; MAX_REWRITE],
    pub rewrite_len: u8,
    pub kind: OuterKind,
    /// Offset of the sublayer word in `rewrite` (when the layout has one).
    pub sub_at: u8,
    /// Received packets carry the sublayer's S bit and 24-bit numbers, checked.
    pub sequencing: bool,
    /// Sent packets carry them (a signalled session negotiates each direction on its own).
    pub tx_sequencing: bool,
    pub deleted: bool,
    /// In the decap tables and carrying traffic; a signalled pseudowire's slot is inactive
    /// (its interface exists, encap drops into it) until its session is negotiated.
    pub active: bool,
    /// Over UDP: the checksum is computed on encap (else 0); over IPv6, a zero checksum is
    /// accepted on decap only when this is off (RFC 6935, Linux's `udp6_csum_tx/rx off`).
    pub udp_csum: bool,
    /// IPv4: the DF bit on encap (default set: atomic datagrams, RFC 6864, identification 0).
    pub df: bool,
    /// An encapsulated packet over the egress MTU is fragmented (outer fragmentation: the
    /// inner frame is never cut), else dropped and counted.
    pub fragment: bool,
    /// Buffer flags encap sets on every packet: LOCALLY_ORIGINATED always, FRAGMENT_OK with
    /// `fragment` (one OR per packet).
    pub tx_flags: u32,
    /// Hop limit / TTL on the wire; `None` = VPP's (255 written, 254 after its rewrite's
    /// decrement): 254, written as is.
    pub hop_limit: Option<u8>,
    /// IPv4: the one's-complement sum of the outer IPv4 header with total length,
    /// identification and checksum zero; encap adds those and complements.
    pub ip4_sum: u16,
    /// UDP: the sum of the pseudo-header's addresses and protocol, and of the UDP header's
    /// ports and the L2TP header after it (what every packet of the session shares).
    pub udp_sum: u16,
    pub local_session_id: u32,
    pub sw_if_index: u32,
    pub our: IpAddr,
    pub client: IpAddr,
    pub transport: Transport,
    pub remote_session_id: u32,
    /// `[current, previous]`: decap accepts either; the previous one only once a rollover put a
    /// configured cookie there (VPP accepts cookie 0 until then; pwire does not).
    pub local_cookie: [Cookie; 2],
    pub prev_cookie_valid: bool,
    pub remote_cookie: Cookie,
    /// The L2TPv3 header of received packets (the local cookie's size; the sublayer).
    pub layout: L2tpLayout,
    /// The L2TPv3 header of sent packets (the remote cookie's size; the sublayer): the same as
    /// `layout` for a static tunnel, each direction's own for a signalled one, where each end
    /// chooses the cookie it receives (RFC 3931 §5.4.4, Assigned Cookie).
    pub tx_layout: L2tpLayout,
    pub fib_id: u32,
    /// The outer path's MTU from path MTU discovery (0: the egress interface's), written by
    /// the main thread, read by encap (pmtu.rs).
    pub pmtu: AtomicU32,
    /// Per-session sequencing state, shared by the threads.
    pub seq: SeqState,
}

/// What a session is made of besides its ids, cookies and layout.
#[derive(Debug, Clone, Copy)]
pub struct Outer {
    pub our: IpAddr,
    pub client: IpAddr,
    pub transport: Transport,
    pub udp_csum: bool,
    pub df: bool,
    pub fragment: bool,
    pub hop_limit: Option<u8>,
}

impl Session {
    /// A session from its configuration; `sw_if_index` is set once its interface exists.
    /// Both cookies must have the layout's size, and both addresses one family (the API
    /// checks it).
    pub fn new(
        o: Outer,
        local_session_id: u32,
        remote_session_id: u32,
        local_cookie: Cookie,
        remote_cookie: Cookie,
        layout: L2tpLayout,
        sequencing: bool,
    ) -> Session {
        let mut s = Session {
            dl: DecapLine::default(),
            rewrite: [0; MAX_REWRITE],
            rewrite_len: 0,
            kind: OuterKind::of(o.our.is_ipv4(), o.transport),
            sub_at: 0,
            sequencing,
            tx_sequencing: sequencing,
            deleted: false,
            active: true,
            udp_csum: o.udp_csum,
            df: o.df,
            fragment: o.fragment,
            tx_flags: 0,
            hop_limit: o.hop_limit,
            ip4_sum: 0,
            udp_sum: 0,
            local_session_id,
            sw_if_index: 0,
            our: o.our,
            client: o.client,
            transport: o.transport,
            remote_session_id,
            local_cookie: [local_cookie, Cookie::NONE],
            prev_cookie_valid: false,
            remote_cookie,
            layout,
            tx_layout: layout,
            fib_id: 0,
            pmtu: AtomicU32::new(0),
            seq: SeqState::default(),
        };
        s.build();
        s
    }

    /// L2TPv3 header length of received packets (session id + cookie + sublayer).
    pub fn hdr_len(&self) -> usize {
        self.layout.hdr_len()
    }

    /// L2TPv3 header length of sent packets.
    pub fn tx_hdr_len(&self) -> usize {
        self.tx_layout.hdr_len()
    }

    /// Offset of the sublayer word in `rewrite` (when the layout has one).
    #[inline(always)]
    pub fn sublayer_at(&self) -> usize {
        usize::from(self.sub_at)
    }

    /// Fills `rewrite`, `dl` and `tx_flags` from the session's fields.
    pub fn build(&mut self) {
        // Always locally originated: the header is written as it leaves (VPP's 255 less the
        // rewrite's decrement, or the configured value), so ip6-rewrite / ip4-rewrite neither
        // decrement it nor update an IPv4 checksum per packet.
        self.tx_flags = pwire_buffer::flags::LOCALLY_ORIGINATED
            | if self.fragment {
                pwire_buffer::flags::FRAGMENT_OK
            } else {
                0
            };
        let mut rw = [0u8; MAX_REWRITE];
        let kind = self.kind;
        let proto = if kind.udp() {
            pwire_wire::ipv6::PROTO_UDP
        } else {
            crate::PROTO_L2TP
        };
        let ttl = self.hop_limit.unwrap_or(254);
        let mut addrs = [0u8; 32];
        match (self.our, self.client) {
            (IpAddr::V4(our), IpAddr::V4(client)) => {
                let mut h = Ip4Hdr::new(our, client, proto, 0, ttl);
                h.total_len.set(0);
                h.flags_frag.set(if self.df { 0x4000 } else { 0 });
                h.checksum.set(0);
                rw[..Ip4Hdr::LEN].copy_from_slice(h.as_bytes());
                self.ip4_sum = Sum::ZERO.add_bytes(h.as_bytes()).fold();
                addrs[..4].copy_from_slice(&client.octets());
                addrs[4..8].copy_from_slice(&our.octets());
            }
            (our, client) => {
                let (our, client) = (addr_key(our), addr_key(client));
                if let Ok((ip, _)) = Ip6Hdr::parse_mut(&mut rw) {
                    // IPv6: version 6, traffic class 0, flow label 0 (VPP).
                    ip.set_version(6);
                    ip.next_header = proto;
                    ip.hop_limit = ttl;
                    ip.src = our;
                    ip.dst = client;
                }
                addrs[..16].copy_from_slice(&client);
                addrs[16..].copy_from_slice(&our);
            }
        }
        let mut at = kind.ip_len();
        let mut ports = 0;
        if let Transport::Udp {
            local_port,
            remote_port,
        } = self.transport
        {
            let u = UdpHdr::new(local_port, remote_port, 0);
            rw[at..at + UdpHdr::LEN].copy_from_slice(u.as_bytes());
            at += UdpHdr::LEN;
            rw[at..at + 2].copy_from_slice(&pwire_wire::l2tpv3::UDP_DATA_FLAGS_VER.to_be_bytes());
            at += UdpL2tpHdr::LEN;
            ports = (u32::from(remote_port) << 16) | u32::from(local_port);
        }
        let l = self.tx_hdr_len();
        let sub = if self.tx_layout.sublayer() {
            Sublayer::new(self.tx_sequencing, 0).word()
        } else {
            0
        };
        // Cannot fail: the layout and the cookie were validated together at create, and the
        // rewrite holds the longest header after the longest outer headers.
        let _ = pwire_wire::l2tpv3::emit(
            self.tx_layout,
            &mut rw[at..],
            self.remote_session_id,
            self.remote_cookie,
            sub,
        );
        self.sub_at = (at + 4 + self.tx_layout.cookie_len()) as u8;
        self.rewrite_len = (at + l) as u8;
        if kind.udp() {
            // Pseudo-header addresses and protocol, then the UDP and L2TP headers after the
            // IP header, with the lengths and checksum still zero (the sequence number, when
            // sequencing, is added per packet with the payload).
            let ip = kind.ip_len();
            let (src, dst) = if kind.v4() {
                (&rw[12..16], &rw[16..20])
            } else {
                (&rw[8..24], &rw[24..40])
            };
            self.udp_sum = Sum::ZERO
                .add_bytes(src)
                .add_bytes(dst)
                .add_u16(u16::from(proto))
                .add_bytes(&rw[ip..usize::from(self.sub_at)])
                .fold();
        }
        self.rewrite = rw;
        let cur = cookie_word(self.local_cookie[0].as_bytes());
        self.dl = DecapLine {
            cookie: [
                cur,
                if self.prev_cookie_valid {
                    cookie_word(self.local_cookie[1].as_bytes())
                } else {
                    cur
                },
            ],
            addrs,
            ports,
            local_sid: self.local_session_id,
            sw_if_index: self.sw_if_index,
            hdr: self.hdr_len() as u8,
            layout: self.layout,
            class: DecapLine::class_of(kind, self.sequencing),
        };
    }

    /// The decap key under `mode`.
    pub fn key(&self, mode: LookupMode) -> Key {
        key_of(mode, self.our, self.client, self.local_session_id)
    }
}

/// The decap key of a session with these addresses and local id under `mode`.
pub fn key_of(mode: LookupMode, our: IpAddr, client: IpAddr, lsid: u32) -> Key {
    match mode {
        LookupMode::SrcAddress => Key::Addr(addr_key(client)),
        LookupMode::DstAddress => Key::Addr(addr_key(our)),
        LookupMode::SessionId => Key::Sid(lsid),
    }
}

/// A decap lookup key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Addr([u8; 16]),
    Sid(u32),
}

/// The lookup tables grown to take more sessions, built beside the live ones
/// ([`L2tpMain::grown_tables`]) and swapped in with [`L2tpMain::install_tables`].
#[derive(Debug)]
pub struct GrownTables {
    by_addr: Option<HashMap<[u8; 16], u32>>,
    by_sid: Option<pwire_table::Table<u32>>,
}

/// The table.
#[derive(Debug)]
pub struct L2tpMain {
    pub lookup: LookupMode,
    /// Reserved for `max_sessions` at start: never moved by an insert.
    pub sessions: Vec<Session>,
    by_addr: HashMap<[u8; 16], u32>,
    /// Session id -> index, in pwire's prefetchable table (decap looks up every packet).
    by_sid: pwire_table::Table<u32>,
    /// `counters[thread][session]`, each reserved for `max_sessions`.
    pub counters: Vec<Vec<SessRow>>,
    /// Cap on live sessions (bounds memory; `l2tp { max-sessions }`).
    max_sessions: usize,
    pub n_live: usize,
    /// Freed session slots, reused first (lowest last, so names stay small).
    free: Vec<u32>,
    /// Entries touched by the last change (a test reads it: it must not grow with the table).
    pub last_change_work: usize,
}

/// Default cap on sessions, so no configuration loop can exhaust memory: a session costs about
/// 700 bytes with one thread (tables, tunnel interface, counters; 64 more per extra thread), so
/// the default bounds them near 700 MB. `l2tp { max-sessions <n> }` changes it.
pub const DEFAULT_MAX_SESSIONS: usize = 1_000_000;

/// Entries the lookup tables hold before their first growth.
const INITIAL_TABLE: usize = 64;

impl L2tpMain {
    /// An empty table for `n_threads` threads that will hold at most `max_sessions` (the
    /// session vector and counter rows are reserved for that many: address space, not memory,
    /// until sessions are added).
    pub fn new(lookup: LookupMode, n_threads: usize, max_sessions: usize) -> Self {
        L2tpMain {
            lookup,
            sessions: Vec::with_capacity(max_sessions),
            by_addr: HashMap::with_capacity(INITIAL_TABLE),
            by_sid: pwire_table::Table::with_capacity(INITIAL_TABLE),
            counters: (0..n_threads.max(1))
                .map(|_| Vec::with_capacity(max_sessions))
                .collect(),
            max_sessions,
            n_live: 0,
            free: Vec::with_capacity(max_sessions),
            last_change_work: 0,
        }
    }

    pub fn max_sessions(&self) -> usize {
        self.max_sessions
    }

    /// Bytes in use by the session table and its lookup hash, and by the per-thread counters
    /// (the reservations beyond the live slots are address space, not memory).
    pub fn memory(&self) -> (usize, usize) {
        use std::mem::size_of;
        // hashbrown: one control byte per bucket besides the (key, value) slot.
        let table = self.sessions.len() * size_of::<Session>()
            + self.by_addr.capacity() * (size_of::<([u8; 16], u32)>() + 1)
            + self.by_sid.capacity() * 16
            + self.free.len() * size_of::<u32>();
        let counters = self
            .counters
            .iter()
            .map(|t| t.len() * size_of::<SessRow>())
            .sum();
        (table, counters)
    }

    /// Decap lookup.
    #[inline(always)]
    pub fn find_addr(&self, a: &[u8; 16]) -> Option<u32> {
        self.by_addr.get(a).copied()
    }
    #[inline(always)]
    pub fn find_sid(&self, sid: u32) -> Option<u32> {
        self.by_sid.get(&u64::from(sid)).copied()
    }
    /// Starts loading session `idx`'s decap line and this thread's counter row for it.
    #[inline(always)]
    pub fn prefetch_session(&self, idx: u32, rows: Option<&Vec<SessRow>>) {
        if let Some(s) = self.sessions.get(idx as usize) {
            pwire_table::prefetch(s);
        }
        if let Some(r) = rows.and_then(|t| t.get(idx as usize)) {
            pwire_table::prefetch(r);
        }
    }

    /// Sessions in the session-id table (decap prefetches once it outgrows the caches).
    pub fn sid_table_len(&self) -> usize {
        self.by_sid.len()
    }
    pub fn find(&self, k: Key) -> Option<u32> {
        match k {
            Key::Addr(a) => self.find_addr(&a),
            Key::Sid(s) => self.find_sid(s),
        }
    }

    /// The live session at `idx`.
    pub fn session(&self, idx: u32) -> Option<&Session> {
        self.sessions.get(idx as usize).filter(|s| !s.deleted)
    }

    /// Lookup tables big enough for `more` further sessions, built from the live ones with a
    /// shared reference (so before the workers are parked); `None` when they already are.
    pub fn grown_tables(&self, more: usize) -> Option<GrownTables> {
        let want = self.n_live + more;
        let by_addr = (matches!(self.lookup, LookupMode::SrcAddress | LookupMode::DstAddress)
            && want > self.by_addr.capacity())
        .then(|| {
            let mut t = HashMap::with_capacity(want.max(self.by_addr.capacity() * 2));
            t.extend(self.by_addr.iter().map(|(k, v)| (*k, *v)));
            t
        });
        // The id table holds half its slots before it grows.
        let sid_room = self.by_sid.capacity() / 2;
        let by_sid = (self.lookup == LookupMode::SessionId && want > sid_room).then(|| {
            let mut t = pwire_table::Table::with_capacity(want.max(sid_room * 2));
            for (k, v) in self.by_sid.iter() {
                t.insert(*k, *v);
            }
            t
        });
        (by_addr.is_some() || by_sid.is_some()).then_some(GrownTables { by_addr, by_sid })
    }

    /// Swaps in tables from [`L2tpMain::grown_tables`] (O(1): the old ones are returned, to be
    /// dropped once the workers run again). Tables that no longer hold every live session (a
    /// change in between) are not installed.
    pub fn install_tables(&mut self, g: GrownTables) -> GrownTables {
        let mut old = GrownTables {
            by_addr: None,
            by_sid: None,
        };
        if let Some(t) = g.by_addr.filter(|t| t.len() == self.by_addr.len()) {
            old.by_addr = Some(std::mem::replace(&mut self.by_addr, t));
        }
        if let Some(t) = g.by_sid.filter(|t| t.len() == self.by_sid.len()) {
            old.by_sid = Some(std::mem::replace(&mut self.by_sid, t));
        }
        old
    }

    /// Room for one more session (limit, duplicate key).
    pub fn check_insert(&self, key: Key) -> Result<(), crate::api::L2tpError> {
        if self.find(key).is_some() {
            return Err(crate::api::L2tpError::SessionExists);
        }
        if self.n_live >= self.max_sessions {
            return Err(crate::api::L2tpError::Limit(self.max_sessions));
        }
        Ok(())
    }

    /// Inserts a session; returns its index (a freed slot is reused so the tunnel name and the
    /// tables stay small under churn). O(threads), plus a table growth when the caller did not
    /// install grown tables first.
    pub fn insert(&mut self, s: Session) -> Result<u32, crate::api::L2tpError> {
        let key = s.key(self.lookup);
        self.check_insert(key)?;
        let idx = self.take_slot(s);
        match key {
            Key::Addr(a) => self.by_addr.insert(a, idx),
            Key::Sid(k) => self.by_sid.insert(u64::from(k), idx),
        };
        Ok(idx)
    }

    /// Takes a slot for an inactive session (a signalled pseudowire's, before its session
    /// exists): in no decap table. O(threads).
    pub fn insert_inactive(&mut self, mut s: Session) -> Result<u32, crate::api::L2tpError> {
        if self.n_live >= self.max_sessions {
            return Err(crate::api::L2tpError::Limit(self.max_sessions));
        }
        s.active = false;
        Ok(self.take_slot(s))
    }

    /// Puts `s` in a free slot (or a new one, within the reservation: the vector does not
    /// move) with its counters zeroed; the caller checked the limit. O(threads).
    fn take_slot(&mut self, s: Session) -> u32 {
        let idx = match self.free.pop() {
            Some(i) => {
                self.sessions[i as usize] = s;
                i
            }
            None => {
                // n_live < max_sessions and no free slot mean len < max_sessions.
                self.sessions.push(s);
                (self.sessions.len() - 1) as u32
            }
        };
        for t in self.counters.iter_mut() {
            match t.get(idx as usize) {
                Some(r) => r.zero(),
                None => t.push(SessRow::default()),
            }
        }
        self.sessions[idx as usize].seq.reset();
        self.n_live += 1;
        self.last_change_work = 1 + self.counters.len();
        idx
    }

    /// Puts inactive session `idx` (its fields already set) into the decap table. O(1).
    pub fn activate(&mut self, idx: u32) -> Result<(), crate::api::L2tpError> {
        let lookup = self.lookup;
        let key = match self.sessions.get(idx as usize) {
            Some(s) if !s.deleted && !s.active => s.key(lookup),
            _ => return Err(crate::api::L2tpError::SessionNotFound),
        };
        if self.find(key).is_some() {
            return Err(crate::api::L2tpError::SessionExists);
        }
        match key {
            Key::Addr(a) => self.by_addr.insert(a, idx),
            Key::Sid(k) => self.by_sid.insert(u64::from(k), idx),
        };
        let s = &mut self.sessions[idx as usize];
        s.active = true;
        s.seq.reset();
        self.last_change_work = 1;
        Ok(())
    }

    /// Takes active session `idx` out of the decap table, keeping its slot. O(1).
    pub fn deactivate(&mut self, idx: u32) {
        let lookup = self.lookup;
        let Some(s) = self
            .sessions
            .get_mut(idx as usize)
            .filter(|s| !s.deleted && s.active)
        else {
            return;
        };
        s.active = false;
        match s.key(lookup) {
            Key::Addr(a) => self.by_addr.remove(&a),
            Key::Sid(k) => self.by_sid.remove(&u64::from(k)),
        };
        self.last_change_work = 1;
    }

    /// The slot a new session would take (for naming its interface before insertion).
    pub fn next_index(&self) -> u32 {
        self.free
            .last()
            .copied()
            .unwrap_or(self.sessions.len() as u32)
    }

    /// Removes a session from the lookup and marks its slot free. O(1).
    pub fn remove(&mut self, idx: u32) {
        let lookup = self.lookup;
        let Some(s) = self.sessions.get_mut(idx as usize).filter(|s| !s.deleted) else {
            return;
        };
        s.deleted = true;
        // Within the reservation: there are never more free slots than sessions.
        self.free.push(idx);
        if s.active {
            match s.key(lookup) {
                Key::Addr(a) => self.by_addr.remove(&a),
                Key::Sid(k) => self.by_sid.remove(&u64::from(k)),
            };
        }
        self.n_live -= 1;
        self.last_change_work = 1;
    }

    pub fn live(&self) -> impl Iterator<Item = (u32, &Session)> {
        self.sessions
            .iter()
            .enumerate()
            .filter(|(_, s)| !s.deleted)
            .map(|(i, s)| (i as u32, s))
    }

    /// One counter summed over threads.
    pub fn counter(&self, idx: u32, c: usize) -> u64 {
        self.counters
            .iter()
            .filter_map(|t| t.get(idx as usize))
            .map(|r| r.c[c].load(Relaxed))
            .sum()
    }

    /// Zeroes one session's counters on every thread. Needs no barrier: the counters are
    /// atomics; a packet counted by a worker at the same moment may survive the clear, as with
    /// VPP's `clear` of its counters.
    pub fn clear(&self, idx: u32) {
        for t in &self.counters {
            if let Some(r) = t.get(idx as usize) {
                r.zero();
            }
        }
    }
}

/// Parses a cookie of `size` from CLI hex (VPP: no `0x` needed).
pub fn parse_cookie(s: &str, size: CookieSize) -> Option<Cookie> {
    let s = s.strip_prefix("0x").unwrap_or(s);
    Cookie::parse_hex(s, size).ok()
}

/// VPP's default cookie (all ones) of `size`.
pub fn default_cookie(size: CookieSize) -> Cookie {
    match size {
        CookieSize::Zero => Cookie::NONE,
        CookieSize::Four => Cookie::from_u32(u32::MAX),
        CookieSize::Eight => Cookie::from_u64(u64::MAX),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deliver(st: &SeqState, seqs: &[u32]) -> Vec<u32> {
        seqs.iter().copied().filter(|&s| st.accept(s)).collect()
    }

    #[test]
    fn one_far_packet_does_not_blackhole_the_session() {
        let st = SeqState::default();
        let mut seqs = vec![0, 1, 0x7f_fff0];
        seqs.extend(2..20);
        let got = deliver(&st, &seqs);
        let want: Vec<u32> = (0..20).collect();
        assert_eq!(got, want, "only the stray is dropped");
    }

    #[test]
    fn ahead_within_the_window_is_loss_behind_is_dropped() {
        let st = SeqState::default();
        assert_eq!(
            deliver(&st, &[0, 1, 2, 4, 3, 4, 5, 5, 7, 7 + SEQ_WINDOW - 1]),
            vec![0, 1, 2, 4, 5, 7, 7 + SEQ_WINDOW - 1]
        );
    }

    #[test]
    fn a_restarted_peer_resynchronises_after_a_run() {
        let st = SeqState::default();
        assert_eq!(deliver(&st, &[1000, 1001, 1002]), vec![1000, 1001, 1002]);
        // The peer restarts at 0: numbers behind the window, following each other.
        let got = deliver(&st, &(0..10).collect::<Vec<_>>());
        let first = SEQ_RESYNC - 1;
        assert_eq!(got, (first..10).collect::<Vec<_>>());
        // Strays that do not follow each other never resynchronise.
        let st = SeqState::default();
        st.accept(500);
        let strays = [
            0x10_0000, 0x20_0000, 0x30_0000, 0x40_0000, 0x50_0000, 0x60_0000,
        ];
        assert!(deliver(&st, &strays).is_empty());
        assert_eq!(deliver(&st, &[501, 502]), vec![501, 502]);
    }

    #[test]
    fn numbers_wrap_at_24_bits() {
        let st = SeqState::default();
        assert_eq!(
            deliver(&st, &[0xff_fffe, 0xff_ffff, 0, 1]),
            vec![0xff_fffe, 0xff_ffff, 0, 1]
        );
        let st = SeqState::default();
        st.tx.store(0xff_ffff, Relaxed);
        assert_eq!((st.next_tx(), st.next_tx()), (0xff_ffff, 0));
        st.tx.store(u32::MAX, Relaxed);
        assert_eq!((st.next_tx(), st.next_tx()), (0xff_ffff, 0));
    }

    #[test]
    fn in_window_fast_path_agrees_with_accept_and_leaves_the_rest() {
        let st = SeqState::default();
        // Before the first packet the general path decides.
        assert!(!st.accept_in_window(0));
        assert!(st.accept(0));
        assert!(st.accept_in_window(1));
        assert!(st.accept_in_window(5), "ahead in the window");
        let before = st.rx.load(Relaxed);
        assert!(!st.accept_in_window(3), "behind");
        assert!(!st.accept_in_window(5 + SEQ_WINDOW + 1), "far ahead");
        assert_eq!(st.rx.load(Relaxed), before, "nothing changed");
        assert!(st.accept(6));
    }

    #[test]
    fn late_and_duplicated_packets_never_move_the_window_back() {
        let st = SeqState::default();
        assert_eq!(deliver(&st, &(0..100).collect::<Vec<_>>()).len(), 100);
        // A duplicated burst just behind: all dropped, however long.
        assert!(deliver(&st, &(50..100).collect::<Vec<_>>()).is_empty());
        assert_eq!(deliver(&st, &[100, 101]), vec![100, 101]);
    }

    #[test]
    fn threads_share_one_window_and_one_transmit_counter() {
        let st = SeqState::default();
        let got: Vec<Vec<u32>> = std::thread::scope(|sc| {
            let hs: Vec<_> = (0..2)
                .map(|_| sc.spawn(|| (0..2000).map(|_| st.next_tx()).collect::<Vec<_>>()))
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let mut all: Vec<u32> = got.concat();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 4000, "every number sent once");
        // What one thread accepted, another thread's duplicate does not pass.
        let st = SeqState::default();
        std::thread::scope(|sc| {
            sc.spawn(|| assert_eq!(deliver(&st, &(0..10).collect::<Vec<_>>()).len(), 10));
        });
        std::thread::scope(|sc| {
            sc.spawn(|| assert_eq!(deliver(&st, &[5, 10, 11]), vec![10, 11]));
        });
    }
}
