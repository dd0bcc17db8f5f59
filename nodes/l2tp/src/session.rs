//! The session table (VPP's `l2t_session_t` pool and its lookup hashes).
//!
//! One global lookup mode (`l2tp { lookup-v6-src | lookup-v6-dst | lookup-session-id }`,
//! default dst as VPP) selects which key decap uses; every session is indexed under that key
//! only. The table lives in a `Shared`: decap/encap read it lock-free, the CLI changes it with the
//! workers parked, so adding or deleting one session never disturbs the others' packets.
//! Per-session counters and sequence state are per thread, written only by their thread.

use hashbrown::HashMap;
use pwire_config::LookupMode;
use pwire_wire::l2tpv3::{Cookie, CookieSize, L2tpLayout, Sublayer};
use std::net::Ipv6Addr;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};

/// Per-session counter indices.
pub mod sc {
    /// Inner frames delivered to L2 (decap) and their bytes.
    pub const RX_PKTS: usize = 0;
    pub const RX_BYTES: usize = 1;
    /// Inner frames encapsulated (encap) and their bytes.
    pub const TX_PKTS: usize = 2;
    pub const TX_BYTES: usize = 3;
    pub const COOKIE_DROPS: usize = 4;
    pub const SEQ_DROPS: usize = 5;
    pub const DOWN_DROPS: usize = 6;
    pub const N: usize = 7;
}

/// One thread's counters and sequence state for one session: exactly one cache line (64
/// bytes, aligned), so decap and encap touch one line per session, not two.
#[derive(Debug, Default)]
#[repr(align(64))]
pub struct SessRow {
    pub c: [AtomicU64; sc::N],
    /// Next sequence number to send.
    pub tx_seq: AtomicU32,
    /// Next sequence number expected; bit 31 set once the first sequenced packet was seen.
    pub rx_next: AtomicU32,
}

const _: () = assert!(std::mem::size_of::<SessRow>() == 64);

impl SessRow {
    #[inline(always)]
    pub fn add(&self, i: usize, n: u64) {
        let a = &self.c[i];
        a.store(a.load(Relaxed).wrapping_add(n), Relaxed);
    }
    fn zero(&self) {
        for a in &self.c {
            a.store(0, Relaxed);
        }
        self.tx_seq.store(0, Relaxed);
        self.rx_next.store(0, Relaxed);
    }
}

/// Bytes of IPv6 + L2TPv3 header a session prepends, at most 40 + 4 + 8 + 4.
pub const MAX_REWRITE: usize = 56;

/// One pseudowire. `repr(C)`, line-aligned, with what decap reads of every packet's session
/// first: decap touches one line of it per packet (and prefetches that line for big tables).
#[derive(Debug, Clone)]
#[repr(C, align(64))]
pub struct Session {
    /// What decap compares, derived by [`Session::build_rewrite`].
    pub dw: DecapWords,
    pub local_session_id: u32,
    pub sw_if_index: u32,
    pub our: Ipv6Addr,
    pub client: Ipv6Addr,
    pub remote_session_id: u32,
    /// `[current, previous]`: decap accepts either; the previous one only once a rollover put a
    /// configured cookie there (VPP accepts cookie 0 until then; pwire does not).
    pub local_cookie: [Cookie; 2],
    pub prev_cookie_valid: bool,
    pub remote_cookie: Cookie,
    pub layout: L2tpLayout,
    /// `l2-sublayer-present` or `sequencing`.
    pub sequencing: bool,
    /// Hop limit written on encap; `None` = VPP's 255, decremented to 254 by ip6-rewrite.
    pub hop_limit: Option<u8>,
    pub fib_id: u32,
    /// Encapsulation written in front of every frame: IPv6 header (payload length patched per
    /// packet) then the L2TPv3 header (sequence number patched when sequencing).
    pub rewrite: [u8; MAX_REWRITE],
    pub rewrite_len: u8,
    pub deleted: bool,
}

/// A session's decap checks as machine words: the local cookies as big-endian numbers of the
/// first 8 cookie-field bytes under `mask`, so a packet's cookie is one load, one AND and one
/// compare, whatever its size.
#[derive(Debug, Clone, Copy, Default)]
pub struct DecapWords {
    pub cookie: [u64; 2],
    pub mask: u64,
    /// The previous cookie is accepted too (after a rollover).
    pub prev_valid: bool,
    /// Not sequencing, and the current cookie has the layout's size: the packet needs no more
    /// than the word compare (else decap takes its general path).
    pub simple: bool,
    /// L2TPv3 header length.
    pub hdr: u8,
}

impl Session {
    /// L2TPv3 header length (session id + cookie + sublayer).
    pub fn hdr_len(&self) -> usize {
        self.layout.hdr_len()
    }

    /// Fills `rewrite` from the session's fields.
    pub fn build_rewrite(&mut self) {
        let mut rw = [0u8; MAX_REWRITE];
        let l = self.hdr_len();
        let hop = self.hop_limit.unwrap_or(255);
        // IPv6: version 6, traffic class 0, flow label 0 (VPP).
        rw[0] = 0x60;
        rw[6] = crate::PROTO_L2TP;
        rw[7] = hop;
        rw[8..24].copy_from_slice(&self.our.octets());
        rw[24..40].copy_from_slice(&self.client.octets());
        let sub = if self.layout.sublayer() {
            Sublayer::new(self.sequencing, 0).word()
        } else {
            0
        };
        // Cannot fail: the layout and the cookie were validated together at create.
        let _ = pwire_wire::l2tpv3::emit(
            self.layout,
            &mut rw[40..40 + l],
            self.remote_session_id,
            self.remote_cookie,
            sub,
        );
        self.rewrite = rw;
        self.rewrite_len = (40 + l) as u8;
        let cl = self.layout.cookie_len();
        // A cookie of another length than the layout's never matches (`Cookie::matches`).
        let sized = |c: &Cookie| c.len() == cl;
        let word = |c: &Cookie| {
            let mut w = [0u8; 8];
            let b = c.as_bytes();
            w[..b.len()].copy_from_slice(b);
            u64::from_be_bytes(w)
        };
        self.dw = DecapWords {
            cookie: [word(&self.local_cookie[0]), word(&self.local_cookie[1])],
            mask: if cl == 0 {
                0
            } else {
                u64::MAX << (64 - 8 * cl)
            },
            prev_valid: self.prev_cookie_valid && sized(&self.local_cookie[1]),
            simple: !self.sequencing && sized(&self.local_cookie[0]),
            hdr: l as u8,
        };
    }

    /// Does `wire` match a local cookie?
    #[inline(always)]
    pub fn cookie_ok(&self, wire: &[u8]) -> bool {
        self.local_cookie[0].matches(wire)
            || (self.prev_cookie_valid && self.local_cookie[1].matches(wire))
    }

    /// The decap key under `mode`.
    pub fn key(&self, mode: LookupMode) -> Key {
        match mode {
            LookupMode::SrcAddress => Key::Addr(self.client.octets()),
            LookupMode::DstAddress => Key::Addr(self.our.octets()),
            LookupMode::SessionId => Key::Sid(self.local_session_id),
        }
    }
}

/// A decap lookup key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Addr([u8; 16]),
    Sid(u32),
}

/// The table.
#[derive(Debug)]
pub struct L2tpMain {
    pub lookup: LookupMode,
    pub sessions: Vec<Session>,
    by_addr: HashMap<[u8; 16], u32>,
    /// Session id -> index, in pwire's prefetchable table (decap looks up every packet).
    by_sid: pwire_table::Table<u32>,
    /// `counters[thread][session]`.
    pub counters: Vec<Vec<SessRow>>,
    /// Highest number of sessions alive at once (the cap below bounds memory).
    pub max_sessions: usize,
    pub n_live: usize,
    /// Freed session slots, reused first (lowest last, so names stay small).
    free: Vec<u32>,
}

/// Default cap on sessions, so no configuration loop can exhaust memory: a session costs about
/// 600 bytes with one thread (tables, tunnel interface, counters; 64 more per extra thread), so
/// the default bounds them near 600 MB. `l2tp { max-sessions <n> }` changes it.
pub const DEFAULT_MAX_SESSIONS: usize = 1_000_000;

impl L2tpMain {
    pub fn new(lookup: LookupMode, n_threads: usize) -> Self {
        L2tpMain {
            lookup,
            sessions: Vec::new(),
            by_addr: HashMap::new(),
            by_sid: pwire_table::Table::with_capacity(16),
            counters: (0..n_threads.max(1)).map(|_| Vec::new()).collect(),
            max_sessions: DEFAULT_MAX_SESSIONS,
            n_live: 0,
            free: Vec::new(),
        }
    }

    /// Bytes held by the session table and its lookup hash, and by the per-thread counters
    /// (capacities, not lengths: what is allocated).
    pub fn memory(&self) -> (usize, usize) {
        use std::mem::size_of;
        // hashbrown: one control byte per bucket besides the (key, value) slot.
        let table = self.sessions.capacity() * size_of::<Session>()
            + self.by_addr.capacity() * (size_of::<([u8; 16], u32)>() + 1)
            + self.by_sid.capacity() * 16
            + self.free.capacity() * size_of::<u32>();
        let counters = self
            .counters
            .iter()
            .map(|t| t.capacity() * size_of::<SessRow>())
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

    /// Inserts a session; returns its index (a freed slot is reused so the tunnel name and the
    /// tables stay small under churn).
    pub fn insert(&mut self, s: Session) -> Result<u32, String> {
        let key = s.key(self.lookup);
        if self.find(key).is_some() {
            return Err("session already exists...".into());
        }
        if self.n_live >= self.max_sessions {
            return Err(format!("session limit reached ({})", self.max_sessions));
        }
        let idx = match self.free.pop() {
            Some(i) => {
                let i = i as usize;
                self.sessions[i] = s;
                i
            }
            None => {
                self.sessions.push(s);
                self.sessions.len() - 1
            }
        } as u32;
        for t in self.counters.iter_mut() {
            while t.len() <= idx as usize {
                t.push(SessRow::default());
            }
            t[idx as usize].zero();
        }
        match key {
            Key::Addr(a) => self.by_addr.insert(a, idx),
            Key::Sid(k) => self.by_sid.insert(u64::from(k), idx),
        };
        self.n_live += 1;
        Ok(idx)
    }

    /// The slot a new session would take (for naming its interface before insertion).
    pub fn next_index(&self) -> u32 {
        self.free
            .last()
            .copied()
            .unwrap_or(self.sessions.len() as u32)
    }

    /// Removes a session from the lookup and marks its slot free.
    pub fn remove(&mut self, idx: u32) {
        let lookup = self.lookup;
        let Some(s) = self.sessions.get_mut(idx as usize).filter(|s| !s.deleted) else {
            return;
        };
        s.deleted = true;
        self.free.push(idx);
        match s.key(lookup) {
            Key::Addr(a) => self.by_addr.remove(&a),
            Key::Sid(k) => self.by_sid.remove(&u64::from(k)),
        };
        self.n_live -= 1;
    }

    pub fn live(&self) -> impl Iterator<Item = (u32, &Session)> {
        self.sessions
            .iter()
            .enumerate()
            .filter(|(_, s)| !s.deleted)
            .map(|(i, s)| (i as u32, s))
    }

    /// The session whose tunnel interface is `sw`.
    pub fn by_sw(&self, sw: u32) -> Option<u32> {
        self.live()
            .find(|(_, s)| s.sw_if_index == sw)
            .map(|(i, _)| i)
    }

    /// One counter summed over threads.
    pub fn counter(&self, idx: u32, c: usize) -> u64 {
        self.counters
            .iter()
            .filter_map(|t| t.get(idx as usize))
            .map(|r| r.c[c].load(Relaxed))
            .sum()
    }

    /// Zeroes one session's counters on every thread (workers parked).
    pub fn clear(&mut self, idx: u32) {
        for t in &self.counters {
            if let Some(r) = t.get(idx as usize) {
                for a in &r.c {
                    a.store(0, Relaxed);
                }
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
