//! The IPv4 forwarding state: FIB entries, adjacencies, neighbours, static routes, interface
//! addresses.
//!
//! Split in two, so that a change parks the workers only for what they read:
//! - [`Ip4Dp`], in a `Shared`, is what the nodes read: the [`Mtrie`], each entry's forwarding
//!   packed in one word beside each thread's counter for it ([`Row`]), the adjacencies and the
//!   interfaces' addresses. It changes only under the barrier, by O(change) steps (the mtrie's
//!   bound; one word per entry changed). Nothing in it moves when it grows: the per-entry
//!   vectors are reserved for [`MAX_ENTRIES`] at start, second-level plies for all 65 536, the
//!   rest is chunked.
//! - [`Ip4Cp`], behind a mutex only the main thread takes, is the rest: entries with their
//!   sources and paths, the exact-prefix index, the neighbour table, which routes resolve
//!   through which next hop. Workers never read it, so its growth (a rehash of 1M prefixes) never
//!   holds them; [`Ip4Cp::reserve`] does it before the barrier.
//!
//! As in the ip6 crate (and VPP), an entry has sources, highest priority first: interface
//! (receive /32, connected prefix → glean, and the network and broadcast /32s of a connected
//! prefix shorter than /31 → drop), CLI routes, neighbour /32 (adjacency source), and the
//! special entries that always exist (0.0.0.0/0, 0.0.0.0/32, 224.0.0.0/4, 240.0.0.0/4,
//! 255.255.255.255/32: drop). Its forwarding ([`Fwd`]) is recomputed when a source changes.
//!
//! An adjacency is (interface, next hop) with the 14-byte Ethernet rewrite once the neighbour's
//! MAC is known. Entries forwarding through it store its index; whether it is complete is read
//! from the adjacency by `ip4-lookup` itself, so a neighbour resolving (or changing MAC) is one
//! write, whatever the number of routes through it.
//!
//! A route through a next hop without an interface resolves through the entry covering the
//! next hop. Each such next hop remembers its resolution and its routes; when a prefix
//! changes, only next hops inside it are looked up again, and only the routes of those whose
//! resolution changed are revisited (VPP's back-walk, limited to what moved).

use crate::mtrie::{Mtrie, NONE};
use hashbrown::HashMap;
use pwire_vnet::interface::ChunkedVec;
use pwire_vnet::Interface;
use pwire_wire::ipv4::mask;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// What `ip4-lookup` does with a packet: its next index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    Drop = 0,
    Receive = 1,
    Glean = 2,
    Rewrite = 3,
    /// An adjacency whose neighbour is not resolved yet (`ip4-arp`).
    Arp = 4,
}

/// The forwarding of an entry packed for the dataplane: kind in the high word (an adjacency is
/// [`Kind::Rewrite`], whatever its state), DPO index (interface or adjacency) in the low word.
#[inline(always)]
pub fn hot_of(f: Fwd) -> u64 {
    let (k, i) = match f {
        Fwd::Drop => (Kind::Drop, 0),
        Fwd::Receive { sw } => (Kind::Receive, sw),
        Fwd::Glean { sw } => (Kind::Glean, sw),
        Fwd::Adj { adj } => (Kind::Rewrite, adj),
    };
    ((k as u64) << 32) | u64::from(i)
}

/// The interface source of an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IfSrc {
    /// One of our addresses (/32): deliver locally.
    Receive(u32),
    /// The connected prefix of an interface address: ARP for unknown hosts.
    Connected(u32),
    /// The network or broadcast address of a connected prefix: drop (as VPP).
    Drop(u32),
}

/// One path of a CLI route: `via <nh> [<if>]` or `via <if>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Path {
    pub nh: Option<Ipv4Addr>,
    pub sw: Option<u32>,
}

/// Entries that exist without any source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Special {
    None,
    /// 0.0.0.0/0, always present, drops.
    Default,
    /// VPP's other special prefixes: 0.0.0.0/32, 224.0.0.0/4, 240.0.0.0/4, 255.255.255.255/32.
    Drop,
}

/// A forwarding decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fwd {
    Drop,
    Receive { sw: u32 },
    Glean { sw: u32 },
    Adj { adj: u32 },
}

/// One FIB entry (control plane).
#[derive(Clone, Debug)]
pub struct Entry {
    pub addr: u32,
    pub len: u8,
    pub iface: Option<IfSrc>,
    pub paths: Vec<Path>,
    pub nbr_adj: Option<u32>,
    pub special: Special,
    pub fwd: Fwd,
    pub live: bool,
}

/// A neighbour adjacency (read by `ip4-lookup` for its state and by `ip4-rewrite`).
#[derive(Clone, Debug)]
pub struct Adj {
    pub sw: u32,
    pub nh: Ipv4Addr,
    pub mac: Option<[u8; 6]>,
    /// dst MAC, src MAC, 0x0800.
    pub rewrite: [u8; 14],
}

/// A neighbour table row.
#[derive(Clone, Copy, Debug)]
pub struct Nbr {
    pub mac: [u8; 6],
    pub is_static: bool,
    pub no_fib: bool,
    /// Seconds since start when last updated (`show ip neighbors` Time column).
    pub updated: f64,
    pub adj: u32,
}

/// One entry as one thread's `ip4-lookup` sees it: its forwarding ([`hot_of`]; the same in
/// every thread's copy, written only under the barrier) and that thread's combined counter
/// (`to:[pkts:bytes]`, written only by that thread). Together on one cache line, so a lookup
/// over a big table misses one line for both, not two.
#[derive(Debug, Default)]
#[repr(C, align(32))]
pub struct Row {
    pub hot: u64,
    pub pkts: AtomicU64,
    pub bytes: AtomicU64,
}

impl Row {
    /// Adds to the counter (its own thread only).
    #[inline(always)]
    pub fn add(&self, pkts: u64, bytes: u64) {
        self.pkts
            .store(self.pkts.load(Relaxed).wrapping_add(pkts), Relaxed);
        self.bytes
            .store(self.bytes.load(Relaxed).wrapping_add(bytes), Relaxed);
    }
}

/// IPv4 on one interface.
#[derive(Clone, Debug, Default)]
pub struct IfIp4 {
    /// Addresses in the order they were added (the first is the default source).
    pub addrs: Vec<(Ipv4Addr, u8)>,
    /// Enabled features of the `ip4-unicast` arc (bit = feature position).
    pub features: u32,
}

impl IfIp4 {
    /// IPv4 is on where an address is (VPP: `ip4-not-enabled` drops elsewhere).
    #[inline(always)]
    pub fn enabled(&self) -> bool {
        !self.addrs.is_empty()
    }
    /// True if `a` is one of the addresses.
    pub fn is_local(&self, a: Ipv4Addr) -> bool {
        self.addrs.iter().any(|(x, _)| *x == a)
    }
    /// True if `a` is on a connected prefix.
    pub fn on_link(&self, a: Ipv4Addr) -> bool {
        self.addrs
            .iter()
            .any(|(x, l)| covers(u32::from(*x), *l, u32::from(a)))
    }
    /// The source for a packet to `dst` out of this interface (VPP's `ip4_sas`): the address
    /// whose prefix covers `dst`, else the first.
    pub fn source_for(&self, dst: Ipv4Addr) -> Option<Ipv4Addr> {
        self.addrs
            .iter()
            .find(|(x, l)| covers(u32::from(*x), *l, u32::from(dst)))
            .or_else(|| self.addrs.first())
            .map(|(x, _)| *x)
    }
}

/// The IPv4 MTU in force on `i` (IP4 value, else L3, else the hardware MTU).
pub fn ip4_mtu(i: &Interface) -> u32 {
    [i.mtu[1], i.mtu[0], i.hw_mtu]
        .into_iter()
        .find(|&m| m != 0)
        .unwrap_or(9000)
}

#[inline(always)]
pub fn covers(addr: u32, len: u8, x: u32) -> bool {
    (x ^ addr) & mask(len) == 0
}

/// VPP's default neighbour limit per address family (`show ip neighbor-config`).
pub const DEFAULT_NBR_LIMIT: usize = 50_000;

/// Entry index of 0.0.0.0/0.
pub const DEFAULT_ENTRY: u32 = 0;

/// Most FIB entries (routes, interface prefixes, neighbour /32s): four times a full Internet
/// table. Each thread's [`Row`]s are reserved for this many at start (address space, on 2 MiB
/// pages where the kernel gives them; memory is touched as entries are made), so adding an
/// entry never moves them while the workers are parked.
pub const MAX_ENTRIES: usize = 1 << 22;

// Ply indices stay below entries, so that no slot is `NO_SLOT`.
const _: () = assert!(MAX_ENTRIES < (crate::mtrie::PLY3 - 1) as usize);

/// Entries from which the rows and the trie's second level ask for 2 MiB pages. A small table
/// fits the TLB anyway, and stays on 4 KiB pages: a pwire with a few addresses does not hold a
/// 2 MiB page per array it barely touches.
pub const HUGE_FROM: usize = 8192;

/// Entries one change makes at most (an address: receive, connected, network, broadcast).
pub const MAX_NEW_ENTRIES: usize = 8;

/// What the nodes read (lives in a `Shared`).
#[derive(Debug)]
pub struct Ip4Dp {
    pub mtrie: Mtrie,
    /// `rows[thread][entry]`, each reserved for [`MAX_ENTRIES`]: never moves.
    pub rows: Vec<Vec<Row>>,
    /// The big arrays were given 2 MiB pages ([`HUGE_FROM`]).
    huge: bool,
    pub adjs: ChunkedVec<Adj>,
    /// By sw_if_index (absent: no IPv4).
    pub ifs: ChunkedVec<IfIp4>,
}

impl Ip4Dp {
    /// The entry matching `a` and what `ip4-lookup` does with it: (entry, kind, DPO index).
    #[inline(always)]
    pub fn lookup(&self, a: u32) -> (u32, Kind, u32) {
        let e = self.mtrie.lookup(a);
        let (k, i) = self.decide(self.hot(e));
        (e, k, i)
    }

    /// Entry `e`'s forwarding word (thread 0's copy: they are all equal).
    #[inline(always)]
    pub fn hot(&self, e: u32) -> u64 {
        self.rows
            .first()
            .and_then(|r| r.get(e as usize))
            .map_or(0, |r| r.hot)
    }

    /// Entries made so far (free ones included).
    pub fn n_entries(&self) -> usize {
        self.rows.first().map_or(0, Vec::len)
    }

    /// What `ip4-lookup` does with an entry whose forwarding word is `h`.
    #[inline(always)]
    pub fn decide(&self, h: u64) -> (Kind, u32) {
        let i = h as u32;
        let k = match h >> 32 {
            1 => Kind::Receive,
            2 => Kind::Glean,
            3 => {
                if self.adjs.get(i as usize).is_some_and(|a| a.mac.is_some()) {
                    Kind::Rewrite
                } else {
                    Kind::Arp
                }
            }
            _ => Kind::Drop,
        };
        (k, i)
    }

    /// IPv4 state of `sw`, if it has any.
    #[inline(always)]
    pub fn iface(&self, sw: u32) -> Option<&IfIp4> {
        self.ifs.get(sw as usize)
    }

    /// Sum over threads of an entry's counter.
    pub fn entry_counters(&self, e: u32) -> (u64, u64) {
        self.rows
            .iter()
            .filter_map(|t| t.get(e as usize))
            .fold((0, 0), |(p, b), c| {
                (p + c.pkts.load(Relaxed), b + c.bytes.load(Relaxed))
            })
    }

    /// The interface a packet to `a` would leave by, if any.
    pub fn resolving_interface(&self, a: Ipv4Addr) -> Option<u32> {
        let h = self.hot(self.mtrie.lookup(u32::from(a)));
        let i = h as u32;
        match h >> 32 {
            1 | 2 => Some(i),
            3 => self.adjs.get(i as usize).map(|x| x.sw),
            _ => None,
        }
    }
}

/// A next hop of recursive routes: the entry it resolves through and that entry's forwarding
/// for it, and the entries with a path through it.
#[derive(Debug)]
struct NhUse {
    via: u32,
    fwd: Fwd,
    users: Vec<u32>,
}

/// The control plane's tables (main thread only).
#[derive(Debug)]
pub struct Ip4Cp {
    pub entries: Vec<Entry>,
    free_entries: Vec<u32>,
    exact: HashMap<(u32, u8), u32>,
    adj_by_key: HashMap<(u32, u32), u32>,
    pub nbrs: BTreeMap<(u32, u32), Nbr>,
    /// Most neighbours at once (`set ip neighbor-config ip4 limit <n>`; VPP's default 50000).
    pub nbr_limit: usize,
    nh: BTreeMap<u32, NhUse>,
    /// Entries revisited by the last change's back-walk (tests).
    pub walked: usize,
}

impl Ip4Cp {
    /// True if a change may make [`MAX_NEW_ENTRIES`] more entries.
    pub fn has_room(&self) -> bool {
        self.free_entries.len() >= MAX_NEW_ENTRIES
            || self.entries.len() + MAX_NEW_ENTRIES <= MAX_ENTRIES
    }

    /// Makes room for `more` entries and adjacencies without rehashing under the barrier.
    pub fn reserve(&mut self, more: usize) {
        self.entries.reserve(more);
        self.exact.reserve(more);
        self.adj_by_key.reserve(more);
    }

    /// Entries that exist.
    pub fn n_entries(&self) -> usize {
        self.entries.len()
    }

    /// Index of exactly `addr/len` if it exists.
    pub fn exact(&self, addr: u32, len: u8) -> Option<u32> {
        self.exact.get(&(addr & mask(len), len)).copied()
    }

    /// Would adding (`sw`, `ip`) make a new neighbour over the limit?
    pub fn nbr_over_limit(&self, sw: u32, ip: Ipv4Addr) -> bool {
        self.nbrs.len() >= self.nbr_limit && !self.nbrs.contains_key(&(sw, u32::from(ip)))
    }

    /// Would learning (`sw`, `ip`, `mac`) change anything? (Checked before the barrier.)
    pub fn learn_changes(&self, sw: u32, ip: Ipv4Addr, mac: [u8; 6]) -> bool {
        match self.nbrs.get(&(sw, u32::from(ip))) {
            Some(n) => !n.is_static && n.mac != mac,
            None => true,
        }
    }

    /// The CLI route paths through interface `sw` (a scan of every entry: done before the
    /// barrier when an interface goes).
    pub fn routes_via(&self, sw: u32) -> Vec<(u32, u8, Path)> {
        self.entries
            .iter()
            .filter(|e| e.live)
            .flat_map(|e| {
                e.paths
                    .iter()
                    .filter(|p| p.sw == Some(sw))
                    .map(|p| (e.addr, e.len, *p))
            })
            .collect()
    }

    /// Live entries by address then length (`show ip fib`).
    pub fn sorted(&self) -> Vec<u32> {
        let mut v: Vec<u32> = (0..self.entries.len() as u32)
            .filter(|&e| self.entries[e as usize].live)
            .collect();
        v.sort_by_key(|&e| (self.entries[e as usize].addr, self.entries[e as usize].len));
        v
    }

    /// Prefix lengths in use with their counts, longest first (`show ip fib summary`).
    pub fn summary(&self) -> Vec<(u8, usize)> {
        let mut n = [0usize; 33];
        for e in self.entries.iter().filter(|e| e.live) {
            n[e.len as usize] += 1;
        }
        (0..=32u8)
            .rev()
            .filter(|&l| n[l as usize] > 0)
            .map(|l| (l, n[l as usize]))
            .collect()
    }
}

/// A change in progress: both halves, the dataplane one writable (workers parked).
#[derive(Debug)]
pub struct Fib<'a> {
    pub cp: &'a mut Ip4Cp,
    pub dp: &'a mut Ip4Dp,
}

/// Makes both halves with the special entries in place.
pub fn new_tables(n_threads: usize) -> (Ip4Cp, Ip4Dp) {
    let mut cp = Ip4Cp {
        entries: Vec::new(),
        free_entries: Vec::new(),
        exact: HashMap::new(),
        adj_by_key: HashMap::new(),
        nbrs: BTreeMap::new(),
        nbr_limit: DEFAULT_NBR_LIMIT,
        nh: BTreeMap::new(),
        walked: 0,
    };
    let rows: Vec<Vec<Row>> = (0..n_threads.max(1))
        .map(|_| Vec::with_capacity(MAX_ENTRIES))
        .collect();
    let mut dp = Ip4Dp {
        mtrie: Mtrie::new(DEFAULT_ENTRY),
        rows,
        huge: false,
        adjs: ChunkedVec::new(),
        ifs: ChunkedVec::new(),
    };
    let mut f = Fib {
        cp: &mut cp,
        dp: &mut dp,
    };
    let (d, _) = f.entry(0, 0);
    debug_assert_eq!(d, DEFAULT_ENTRY);
    f.cp.entries[d as usize].special = Special::Default;
    f.refresh(d);
    for (a, l) in [
        (0u32, 32u8),
        (0xe000_0000, 4),
        (0xf000_0000, 4),
        (0xffff_ffff, 32),
    ] {
        let (e, _) = f.entry(a, l);
        f.cp.entries[e as usize].special = Special::Drop;
        f.refresh(e);
    }
    (cp, dp)
}

impl Fib<'_> {
    /// The entry matching `a`.
    pub fn lookup(&self, a: u32) -> u32 {
        self.dp.mtrie.lookup(a)
    }

    /// The entry of exactly `addr/len`, made (with no source, forwarding drop) if it does not
    /// exist; true when made.
    fn entry(&mut self, addr: u32, len: u8) -> (u32, bool) {
        let addr = addr & mask(len);
        if let Some(&e) = self.cp.exact.get(&(addr, len)) {
            return (e, false);
        }
        let en = Entry {
            addr,
            len,
            iface: None,
            paths: Vec::new(),
            nbr_adj: None,
            special: Special::None,
            fwd: Fwd::Drop,
            live: true,
        };
        let idx = match self.cp.free_entries.pop() {
            Some(i) => {
                self.cp.entries[i as usize] = en;
                for t in self.dp.rows.iter_mut() {
                    if let Some(r) = t.get_mut(i as usize) {
                        *r = Row::default();
                    }
                }
                i
            }
            None => {
                self.cp.entries.push(en);
                // Within the reservation: `Ip4Main::change` checked `has_room` (a push past it,
                // from a caller that did not, would only cost a reallocation here).
                for t in self.dp.rows.iter_mut() {
                    t.push(Row::default());
                }
                if !self.dp.huge && self.cp.entries.len() >= HUGE_FROM {
                    // Only advice (no copy, no move): from now on the kernel backs the pages
                    // these arrays fault in with 2 MiB ones where it can.
                    self.dp.huge = true;
                    for t in &self.dp.rows {
                        crate::huge::advise(t);
                    }
                    self.dp.mtrie.advise_huge();
                }
                (self.cp.entries.len() - 1) as u32
            }
        };
        self.cp.exact.insert((addr, len), idx);
        let cp = &*self.cp;
        self.dp
            .mtrie
            .insert(addr, len, idx, |x| cp.entries[x as usize].len);
        (idx, true)
    }

    /// The longest prefix containing `addr/len` among the lengths its trie level keeps.
    fn replacement(&self, addr: u32, len: u8) -> u32 {
        let lo = if len <= 16 { 0 } else { 17 };
        (lo..len)
            .rev()
            .find_map(|l| self.cp.exact.get(&(addr & mask(l), l)).copied())
            .unwrap_or(NONE)
    }

    /// The adjacency for (`sw`, `nh`), made incomplete if new.
    fn adj(&mut self, sw: u32, nh: Ipv4Addr) -> u32 {
        let key = (sw, u32::from(nh));
        if let Some(&a) = self.cp.adj_by_key.get(&key) {
            return a;
        }
        self.dp.adjs.push(Adj {
            sw,
            nh,
            mac: None,
            rewrite: [0; 14],
        });
        let a = (self.dp.adjs.len() - 1) as u32;
        self.cp.adj_by_key.insert(key, a);
        a
    }

    /// How a next hop without an interface resolves: through the entry covering it.
    fn resolve_nh(&mut self, nh: Ipv4Addr) -> (u32, Fwd) {
        let via = self.lookup(u32::from(nh));
        let f = match self.cp.entries[via as usize].fwd {
            // On-link next hop: the neighbour adjacency for it on that interface.
            Fwd::Glean { sw } => Fwd::Adj {
                adj: self.adj(sw, nh),
            },
            Fwd::Adj { adj } => Fwd::Adj { adj },
            Fwd::Receive { .. } | Fwd::Drop => Fwd::Drop,
        };
        (via, f)
    }

    fn resolve_path(&mut self, e: u32, p: Path) -> Fwd {
        match (p.nh, p.sw) {
            (None, Some(sw)) => Fwd::Glean { sw },
            (Some(nh), Some(sw)) => Fwd::Adj {
                adj: self.adj(sw, nh),
            },
            (Some(nh), None) => {
                let (via, f) = self.resolve_nh(nh);
                // A route whose next hop only it covers resolves to drop rather than looping.
                if via == e {
                    Fwd::Drop
                } else {
                    f
                }
            }
            (None, None) => Fwd::Drop,
        }
    }

    /// Recomputes entry `e`'s forwarding (removing it when no source is left); true if what the
    /// dataplane sees for its prefix changed.
    fn refresh(&mut self, e: u32) -> bool {
        let en = &self.cp.entries[e as usize];
        if !en.live {
            return false;
        }
        let (addr, len) = (en.addr, en.len);
        let fwd = if let Some(src) = en.iface {
            match src {
                IfSrc::Receive(sw) => Fwd::Receive { sw },
                IfSrc::Connected(sw) => Fwd::Glean { sw },
                IfSrc::Drop(_) => Fwd::Drop,
            }
        } else if let Some(&p) = en.paths.first() {
            self.resolve_path(e, p)
        } else if let Some(adj) = en.nbr_adj {
            Fwd::Adj { adj }
        } else if en.special != Special::None {
            Fwd::Drop
        } else {
            let repl = self.replacement(addr, len);
            self.dp.mtrie.remove(addr, len, e, repl);
            self.cp.exact.remove(&(addr, len));
            self.cp.entries[e as usize].live = false;
            self.cp.free_entries.push(e);
            return true;
        };
        self.cp.entries[e as usize].fwd = fwd;
        let h = hot_of(fwd);
        let old = self.dp.hot(e);
        for t in self.dp.rows.iter_mut() {
            if let Some(r) = t.get_mut(e as usize) {
                r.hot = h;
            }
        }
        old != h
    }

    /// Revisits the routes through next hops inside the changed prefixes whose resolution
    /// moved, and what depends on those in turn.
    fn propagate(&mut self, mut work: Vec<(u32, u8)>) {
        // Bounded: a route loop settles on drop, and the cap stops anything pathological.
        let mut budget = 100_000usize;
        self.cp.walked = 0;
        while let Some((a, l)) = work.pop() {
            let lo = a & mask(l);
            let hi = lo | !mask(l);
            let nhs: Vec<u32> = self.cp.nh.range(lo..=hi).map(|(k, _)| *k).collect();
            for nh in nhs {
                let (via, f) = self.resolve_nh(Ipv4Addr::from(nh));
                let Some(u) = self.cp.nh.get_mut(&nh) else {
                    continue;
                };
                let (old_via, old_f) = (u.via, u.fwd);
                (u.via, u.fwd) = (via, f);
                let users = if old_f != f {
                    u.users.clone()
                } else if old_via != via {
                    // The same forwarding through another entry moves nothing, except for a
                    // route that covers its own next hop (drop) and is, or was, that entry.
                    let mut v: Vec<u32> = [old_via, via]
                        .into_iter()
                        .filter(|&c| {
                            self.cp.entries.get(c as usize).is_some_and(|en| {
                                en.live
                                    && en
                                        .paths
                                        .iter()
                                        .any(|p| p.nh == Some(Ipv4Addr::from(nh)) && p.sw.is_none())
                            })
                        })
                        .collect();
                    v.dedup();
                    v
                } else {
                    continue;
                };
                for e in users {
                    if budget == 0 {
                        return;
                    }
                    budget -= 1;
                    self.cp.walked += 1;
                    if self.refresh(e) {
                        let en = &self.cp.entries[e as usize];
                        work.push((en.addr, en.len));
                    }
                }
            }
        }
    }

    /// The IPv4 state of `sw`, made if absent.
    pub fn if_ip4(&mut self, sw: u32) -> &mut IfIp4 {
        while self.dp.ifs.len() <= sw as usize {
            self.dp.ifs.push(IfIp4::default());
        }
        &mut self.dp.ifs[sw as usize]
    }

    /// Sets interface source `src` on `addr/len` (or clears it with `None` where it is `was`).
    fn set_iface(&mut self, addr: u32, len: u8, src: IfSrc, work: &mut Vec<(u32, u8)>) {
        let (e, made) = self.entry(addr, len);
        self.cp.entries[e as usize].iface = Some(src);
        if self.refresh(e) || made {
            work.push((addr & mask(len), len));
        }
    }

    fn clear_iface(&mut self, addr: u32, len: u8, src: IfSrc, work: &mut Vec<(u32, u8)>) {
        if let Some(e) = self.cp.exact(addr, len) {
            if self.cp.entries[e as usize].iface == Some(src) {
                self.cp.entries[e as usize].iface = None;
                if self.refresh(e) {
                    work.push((addr & mask(len), len));
                }
            }
        }
    }

    /// An interface address: receive /32; below /32 the connected prefix (glean); below /31
    /// the network and broadcast /32s (drop), as VPP.
    pub fn add_address(&mut self, sw: u32, a: Ipv4Addr, len: u8) {
        let i = self.if_ip4(sw);
        if i.addrs.contains(&(a, len)) {
            return;
        }
        i.addrs.push((a, len));
        let x = u32::from(a);
        let mut work = Vec::new();
        self.set_iface(x, 32, IfSrc::Receive(sw), &mut work);
        if len < 32 {
            self.set_iface(x, len, IfSrc::Connected(sw), &mut work);
        }
        if len < 31 {
            for y in [x & mask(len), x | !mask(len)] {
                if y != x {
                    self.set_iface(y, 32, IfSrc::Drop(sw), &mut work);
                }
            }
        }
        self.propagate(work);
    }

    /// Removes an interface address and the dynamic neighbours it covered (as VPP does).
    pub fn del_address(&mut self, sw: u32, a: Ipv4Addr, len: u8) -> bool {
        let i = self.if_ip4(sw);
        let Some(k) = i.addrs.iter().position(|&x| x == (a, len)) else {
            return false;
        };
        i.addrs.remove(k);
        let x = u32::from(a);
        let mut work = Vec::new();
        self.clear_iface(x, 32, IfSrc::Receive(sw), &mut work);
        if len < 32 {
            self.clear_iface(x, len, IfSrc::Connected(sw), &mut work);
        }
        if len < 31 {
            for y in [x & mask(len), x | !mask(len)] {
                self.clear_iface(y, 32, IfSrc::Drop(sw), &mut work);
            }
        }
        self.propagate(work);
        let (lo, hi) = (x & mask(len), x | !mask(len));
        let covered: Vec<u32> = self
            .cp
            .nbrs
            .range((sw, lo)..=(sw, hi))
            .filter(|(_, n)| !n.is_static)
            .map(|(k, _)| k.1)
            .collect();
        for ip in covered {
            self.del_neighbor(sw, Ipv4Addr::from(ip));
        }
        true
    }

    /// Adds a path to a CLI route.
    pub fn add_route(&mut self, addr: u32, len: u8, p: Path) {
        let (e, made) = self.entry(addr, len);
        let en = &mut self.cp.entries[e as usize];
        if en.paths.contains(&p) {
            return;
        }
        // The entry is a user of the next hop once, whatever the number of paths through it.
        let first_via_nh = p.nh.is_some() && !en.paths.iter().any(|x| x.nh == p.nh);
        en.paths.push(p);
        if let (true, Some(nh), None) = (first_via_nh, p.nh, p.sw) {
            let key = u32::from(nh);
            if !self.cp.nh.contains_key(&key) {
                let (via, f) = self.resolve_nh(nh);
                self.cp.nh.insert(
                    key,
                    NhUse {
                        via,
                        fwd: f,
                        users: Vec::new(),
                    },
                );
            }
            if let Some(u) = self.cp.nh.get_mut(&key) {
                u.users.push(e);
            }
        }
        if self.refresh(e) || made {
            self.propagate(vec![(addr & mask(len), len)]);
        }
    }

    /// Removes one path (or, with `None`, all) of a CLI route; false if there was none.
    pub fn del_route(&mut self, addr: u32, len: u8, p: Option<Path>) -> bool {
        let Some(e) = self.cp.exact(addr, len) else {
            return false;
        };
        let en = &mut self.cp.entries[e as usize];
        let removed: Vec<Path> = match p {
            Some(p) => {
                let before = en.paths.len();
                en.paths.retain(|x| *x != p);
                if en.paths.len() == before {
                    return false;
                }
                vec![p]
            }
            None => std::mem::take(&mut en.paths),
        };
        if removed.is_empty() {
            return false;
        }
        let still: Vec<Path> = en.paths.clone();
        for r in removed {
            let Some(nh) = r.nh.filter(|_| r.sw.is_none()) else {
                continue;
            };
            if still.iter().any(|x| x.nh == Some(nh) && x.sw.is_none()) {
                continue;
            }
            let key = u32::from(nh);
            if let Some(u) = self.cp.nh.get_mut(&key) {
                u.users.retain(|&x| x != e);
                if u.users.is_empty() {
                    self.cp.nh.remove(&key);
                }
            }
        }
        if self.refresh(e) {
            self.propagate(vec![(addr & mask(len), len)]);
        }
        true
    }

    /// Adds or updates a neighbour. Returns false when nothing changed (a dynamic entry does
    /// not replace a static one, as in VPP; over the limit nothing is added).
    #[allow(clippy::too_many_arguments)]
    pub fn add_neighbor(
        &mut self,
        sw: u32,
        ip: Ipv4Addr,
        mac: [u8; 6],
        if_mac: [u8; 6],
        is_static: bool,
        no_fib: bool,
        now: f64,
    ) -> bool {
        let key = (sw, u32::from(ip));
        if self.cp.nbr_over_limit(sw, ip) {
            return false;
        }
        if let Some(n) = self.cp.nbrs.get_mut(&key) {
            if n.is_static && !is_static {
                return false;
            }
            if n.mac == mac && n.is_static == is_static && n.no_fib == no_fib {
                n.updated = now;
                return false;
            }
        }
        let a = self.adj(sw, ip);
        let mut rw = [0u8; 14];
        rw[..6].copy_from_slice(&mac);
        rw[6..12].copy_from_slice(&if_mac);
        rw[12..].copy_from_slice(&0x0800u16.to_be_bytes());
        let adj = &mut self.dp.adjs[a as usize];
        adj.mac = Some(mac);
        adj.rewrite = rw;
        let old_no_fib = self.cp.nbrs.get(&key).map(|n| n.no_fib);
        self.cp.nbrs.insert(
            key,
            Nbr {
                mac,
                is_static,
                no_fib,
                updated: now,
                adj: a,
            },
        );
        if !no_fib {
            let (e, made) = self.entry(u32::from(ip), 32);
            self.cp.entries[e as usize].nbr_adj = Some(a);
            if self.refresh(e) || made {
                self.propagate(vec![(u32::from(ip), 32)]);
            }
        } else if old_no_fib == Some(false) {
            self.drop_nbr_entry(ip, a);
        }
        true
    }

    fn drop_nbr_entry(&mut self, ip: Ipv4Addr, a: u32) {
        if let Some(e) = self.cp.exact(u32::from(ip), 32) {
            if self.cp.entries[e as usize].nbr_adj == Some(a) {
                self.cp.entries[e as usize].nbr_adj = None;
                if self.refresh(e) {
                    self.propagate(vec![(u32::from(ip), 32)]);
                }
            }
        }
    }

    /// Removes a neighbour; false if it did not exist.
    pub fn del_neighbor(&mut self, sw: u32, ip: Ipv4Addr) -> bool {
        let Some(n) = self.cp.nbrs.remove(&(sw, u32::from(ip))) else {
            return false;
        };
        let adj = &mut self.dp.adjs[n.adj as usize];
        adj.mac = None;
        adj.rewrite = [0; 14];
        self.drop_nbr_entry(ip, n.adj);
        true
    }

    /// An interface is being deleted: its addresses, the routes through it (`via`, from
    /// [`Ip4Cp::routes_via`], found before the barrier) and its neighbours go.
    pub fn forget_interface(&mut self, sw: u32, via: &[(u32, u8, Path)]) {
        let addrs = self
            .dp
            .ifs
            .get(sw as usize)
            .map(|i| i.addrs.clone())
            .unwrap_or_default();
        for (a, l) in addrs {
            self.del_address(sw, a, l);
        }
        for &(a, l, p) in via {
            self.del_route(a, l, Some(p));
        }
        let gone: Vec<u32> = self
            .cp
            .nbrs
            .range((sw, 0)..=(sw, u32::MAX))
            .map(|(k, _)| k.1)
            .collect();
        for ip in gone {
            self.del_neighbor(sw, Ipv4Addr::from(ip));
        }
        if let Some(i) = self.dp.ifs.get_mut(sw as usize) {
            *i = IfIp4::default();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }
    fn x(s: &str) -> u32 {
        u32::from(a(s))
    }
    const MAC: [u8; 6] = [2, 0, 0, 0, 0, 2];
    const IFMAC: [u8; 6] = [2, 0xfe, 0, 0, 0, 0];

    fn via(nh: &str) -> Path {
        Path {
            nh: Some(a(nh)),
            sw: None,
        }
    }

    #[test]
    fn connected_receive_neighbour_and_recursion() {
        let (mut cp, mut dp) = new_tables(1);
        let mut s = Fib {
            cp: &mut cp,
            dp: &mut dp,
        };
        // 0.0.0.0/32 and 255.255.255.255/32 hold a second- and a third-level ply each.
        let plies = s.dp.mtrie.plies();
        assert_eq!(plies, (2, 2));
        s.add_address(1, a("10.0.0.1"), 24);
        assert_eq!(s.dp.lookup(x("10.0.0.1")).1, Kind::Receive);
        assert_eq!(s.dp.lookup(x("10.0.0.2")).1, Kind::Glean);
        assert_eq!(s.dp.lookup(x("10.0.0.0")).1, Kind::Drop, "network /32");
        assert_eq!(s.dp.lookup(x("10.0.0.255")).1, Kind::Drop, "broadcast /32");
        assert_eq!(s.dp.lookup(x("224.0.0.5")).1, Kind::Drop);
        // Route via a next hop on the connected prefix: ARP until the neighbour is known.
        s.add_route(x("192.0.2.0"), 24, via("10.0.0.2"));
        let (_, k, adj) = s.dp.lookup(x("192.0.2.5"));
        assert_eq!(k, Kind::Arp);
        assert!(s.add_neighbor(1, a("10.0.0.2"), MAC, IFMAC, false, false, 0.0));
        assert_eq!(s.cp.walked, 0, "resolving a neighbour walks no route");
        let (_, k, adj2) = s.dp.lookup(x("192.0.2.5"));
        assert_eq!((k, adj2), (Kind::Rewrite, adj));
        assert_eq!(&s.dp.adjs[adj as usize].rewrite[..6], &MAC);
        assert_eq!(&s.dp.adjs[adj as usize].rewrite[12..], &[8, 0]);
        assert_eq!(s.dp.lookup(x("10.0.0.2")).1, Kind::Rewrite);
        // Same MAC again: no change; a static one is not overridden.
        assert!(!s.cp.learn_changes(1, a("10.0.0.2"), MAC));
        assert!(s.add_neighbor(1, a("10.0.0.2"), MAC, IFMAC, true, false, 0.0));
        assert!(!s.add_neighbor(1, a("10.0.0.2"), [9; 6], IFMAC, false, false, 0.0));
        assert!(s.del_neighbor(1, a("10.0.0.2")));
        assert_eq!(s.dp.lookup(x("192.0.2.5")).1, Kind::Arp);
        assert_eq!(s.dp.lookup(x("10.0.0.2")).1, Kind::Glean);
        // Removing the address leaves the route unresolved (drop).
        assert!(s.del_address(1, a("10.0.0.1"), 24));
        assert_eq!(s.dp.lookup(x("192.0.2.5")).1, Kind::Drop);
        assert_eq!(s.dp.lookup(x("10.0.0.1")).1, Kind::Drop);
        assert!(s.del_route(x("192.0.2.0"), 24, None));
        assert_eq!(
            s.cp.entries.iter().filter(|e| e.live).count(),
            5,
            "only the special entries left"
        );
        assert_eq!(s.dp.mtrie.plies(), plies);
    }

    #[test]
    fn route_added_before_its_next_hop_resolves_later() {
        let (mut cp, mut dp) = new_tables(2);
        let mut s = Fib {
            cp: &mut cp,
            dp: &mut dp,
        };
        s.add_route(x("192.0.2.0"), 24, via("10.0.0.2"));
        assert_eq!(s.dp.lookup(x("192.0.2.1")).1, Kind::Drop);
        s.add_address(3, a("10.0.0.1"), 24);
        assert_eq!(s.dp.lookup(x("192.0.2.1")).1, Kind::Arp);
        // A route through a route.
        s.add_route(x("198.51.0.0"), 16, via("192.0.2.9"));
        s.add_neighbor(3, a("10.0.0.2"), MAC, IFMAC, true, false, 0.0);
        assert_eq!(s.dp.lookup(x("198.51.100.1")).1, Kind::Rewrite);
        assert_eq!(s.dp.resolving_interface(a("198.51.100.1")), Some(3));
        // A route whose next hop is inside itself resolves to drop rather than looping.
        s.add_route(x("203.0.113.0"), 24, via("203.0.113.1"));
        assert_eq!(s.dp.lookup(x("203.0.113.5")).1, Kind::Drop);
        // A more specific route to the next hop re-resolves the routes through it.
        s.add_address(4, a("10.9.0.1"), 24);
        s.add_route(
            x("10.0.0.2"),
            32,
            Path {
                nh: Some(a("10.9.0.2")),
                sw: Some(4),
            },
        );
        assert_eq!(s.dp.resolving_interface(a("192.0.2.1")), Some(4));
        assert_eq!(s.dp.resolving_interface(a("198.51.100.1")), Some(4));
    }

    #[test]
    fn an_unrelated_change_walks_no_route() {
        let (mut cp, mut dp) = new_tables(1);
        let mut s = Fib {
            cp: &mut cp,
            dp: &mut dp,
        };
        s.add_address(1, a("10.0.0.1"), 24);
        for i in 0..5000u32 {
            s.add_route((100 << 24) | (i << 8), 24, via("10.0.0.2"));
        }
        // Covers the next hop but changes nothing about how it resolves.
        s.add_route(x("10.0.0.0"), 8, via("10.0.0.3"));
        assert_eq!(s.cp.walked, 0);
        s.add_neighbor(1, a("10.0.0.2"), MAC, IFMAC, false, false, 0.0);
        assert_eq!(s.cp.walked, 0);
        assert_eq!(s.dp.lookup(x("100.19.135.7")).1, Kind::Rewrite);
        // Taking the connected prefix away does move all of them.
        s.del_address(1, a("10.0.0.1"), 24);
        assert_eq!(s.dp.lookup(x("100.19.135.7")).1, Kind::Drop);
    }
}
