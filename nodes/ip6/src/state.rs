//! The IPv6 forwarding state: FIB entries, adjacencies, the neighbour table, static routes.
//!
//! Everything here lives in one `Shared<Ip6State>`: nodes read it through their `Dp` token,
//! the CLI and the neighbour-learning main task change it under the barrier.
//!
//! - A FIB entry (`Entry`) is a prefix with the sources that contributed it, highest priority
//!   first as in VPP: interface (receive /128, connected glean), CLI routes, neighbour /128
//!   (adjacency source), and the two special entries `::/0` (drop) and `fe80::/10`. Its forwarding
//!   decision (`Fwd`) is recomputed whenever a source or something it resolves through changes,
//!   and the hot copy of it is packed into the FIB hash value, so `ip6-lookup` gets entry, next
//!   and index from one probe sequence.
//! - An adjacency (`Adj`) is (interface, next hop) with the 14-byte Ethernet rewrite once the
//!   neighbour's MAC is known; until then packets using it go to `ip6-discover-neighbor`.
//! - A route through a next hop without an interface resolves recursively through the entry
//!   covering the next hop. `nh_users` remembers which entries resolve through which next hop so
//!   a change only revisits the entries it can affect (a "back-walk").

use crate::fib::{mask, Fib};
use hashbrown::HashMap;
use pwire_vnet::Interface;
use std::collections::BTreeMap;
use std::net::Ipv6Addr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// What `ip6-lookup` does with a packet (the next node), packed into FIB values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    Drop = 0,
    Receive = 1,
    Glean = 2,
    Rewrite = 3,
    Incomplete = 4,
}

impl Kind {
    #[inline(always)]
    pub fn from_bits(b: u64) -> Kind {
        match b & 7 {
            1 => Kind::Receive,
            2 => Kind::Glean,
            3 => Kind::Rewrite,
            4 => Kind::Incomplete,
            _ => Kind::Drop,
        }
    }
}

/// FIB value: kind in bits 61..64, entry index in bits 32..61, DPO index (interface or
/// adjacency) in bits 0..32.
#[inline(always)]
pub fn pack(entry: u32, kind: Kind, idx: u32) -> u64 {
    ((kind as u64) << 61) | ((u64::from(entry) & 0x1fff_ffff) << 32) | u64::from(idx)
}

/// The parts of a FIB value.
#[inline(always)]
pub fn unpack(v: u64) -> (u32, Kind, u32) {
    (
        ((v >> 32) & 0x1fff_ffff) as u32,
        Kind::from_bits(v >> 61),
        v as u32,
    )
}

/// The interface source of an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IfSrc {
    /// One of our addresses (/128): deliver locally.
    Receive(u32),
    /// The connected prefix of an interface address: solicit unknown hosts.
    Connected(u32),
}

/// One path of a CLI route: `via <nh> [<if>]` or `via <if>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Path {
    pub nh: Option<Ipv6Addr>,
    pub sw: Option<u32>,
}

/// Entries that exist without any source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Special {
    None,
    /// `::/0`, always present, drops.
    Default,
    /// `fe80::/10`: link-local destinations are never forwarded.
    LinkLocal,
}

/// A forwarding decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fwd {
    Drop,
    LinkLocal,
    Receive { sw: u32 },
    Glean { sw: u32 },
    Adj { adj: u32 },
}

/// One FIB entry.
#[derive(Clone, Debug)]
pub struct Entry {
    pub addr: u128,
    pub len: u8,
    pub iface: Option<IfSrc>,
    pub paths: Vec<Path>,
    pub nbr_adj: Option<u32>,
    pub special: Special,
    /// Link-local receive entries: VPP keeps them in per-interface tables `show ip6 fib` skips.
    pub hidden: bool,
    pub fwd: Fwd,
    pub live: bool,
}

/// A neighbour adjacency.
#[derive(Clone, Debug)]
pub struct Adj {
    pub sw: u32,
    pub nh: Ipv6Addr,
    pub mac: Option<[u8; 6]>,
    /// dst MAC, src MAC, 0x86dd.
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

/// Per-entry combined counter of one thread (`to:[pkts:bytes]`). Only its thread writes it.
#[derive(Debug, Default)]
pub struct LbCounter {
    pub pkts: AtomicU64,
    pub bytes: AtomicU64,
}

impl LbCounter {
    #[inline(always)]
    pub fn add(&self, pkts: u64, bytes: u64) {
        self.pkts
            .store(self.pkts.load(Relaxed).wrapping_add(pkts), Relaxed);
        self.bytes
            .store(self.bytes.load(Relaxed).wrapping_add(bytes), Relaxed);
    }
}

/// Everything ip6 forwarding reads.
#[derive(Debug)]
pub struct Ip6State {
    pub fib: Fib,
    pub entries: Vec<Entry>,
    free_entries: Vec<u32>,
    pub adjs: Vec<Adj>,
    adj_by_key: HashMap<(u32, u128), u32>,
    pub nbrs: BTreeMap<(u32, u128), Nbr>,
    /// Most neighbours at once (`set ip neighbor-config ip6 limit <n>`; VPP's default 50000).
    /// A new one over it is not added (no recycling, as VPP's default).
    pub nbr_limit: usize,
    nh_users: HashMap<u128, Vec<u32>>,
    /// `counters[thread][entry]`.
    pub counters: Vec<Vec<LbCounter>>,
    /// Interfaces where `enable ip6 interface` was given (IPv6 stays on without addresses).
    pub explicit: Vec<bool>,
}

/// Entry index of `::/0`.
pub const DEFAULT_ENTRY: u32 = 0;

#[inline(always)]
pub fn covers(addr: u128, len: u8, x: u128) -> bool {
    (x ^ addr) & mask(len) == 0
}

/// EUI-64 link-local address from a MAC (RFC 4291 appendix A).
pub fn link_local_from_mac(m: [u8; 6]) -> Ipv6Addr {
    Ipv6Addr::from([
        0xfe,
        0x80,
        0,
        0,
        0,
        0,
        0,
        0,
        m[0] ^ 0x02,
        m[1],
        m[2],
        0xff,
        0xfe,
        m[3],
        m[4],
        m[5],
    ])
}

/// The source address for a packet to `dst` leaving through `i` (VPP's `fib_sas6_get` then
/// `ip_interface_get_first_ip`): link-local for link-local destinations, else the address whose
/// prefix covers `dst`, else the first address, else the link-local.
pub fn source_address(i: &Interface, dst: Ipv6Addr) -> Option<Ipv6Addr> {
    if pwire_wire::ipv6::is_link_local(dst) {
        return i.ip6_link_local;
    }
    let d = u128::from(dst);
    i.ip6_addrs
        .iter()
        .find(|(a, l)| covers(u128::from(*a), *l, d))
        .or_else(|| i.ip6_addrs.first())
        .map(|(a, _)| *a)
        .or(i.ip6_link_local)
}

/// True if `a` is one of `i`'s addresses (global or link-local).
pub fn is_local_address(i: &Interface, a: Ipv6Addr) -> bool {
    i.ip6_link_local == Some(a) || i.ip6_addrs.iter().any(|(x, _)| *x == a)
}

/// True if `a` is on a connected prefix of `i` (or link-local).
pub fn is_on_link(i: &Interface, a: Ipv6Addr) -> bool {
    pwire_wire::ipv6::is_link_local(a)
        || i.ip6_addrs
            .iter()
            .any(|(x, l)| covers(u128::from(*x), *l, u128::from(a)))
}

/// VPP's default neighbour limit per address family (`show ip neighbor-config`).
pub const DEFAULT_NBR_LIMIT: usize = 50_000;

impl Ip6State {
    pub fn new(n_threads: usize) -> Self {
        let mut s = Ip6State {
            fib: Fib::new(),
            entries: Vec::new(),
            free_entries: Vec::new(),
            adjs: Vec::new(),
            adj_by_key: HashMap::new(),
            nbrs: BTreeMap::new(),
            nbr_limit: DEFAULT_NBR_LIMIT,
            nh_users: HashMap::new(),
            counters: (0..n_threads.max(1)).map(|_| Vec::new()).collect(),
            explicit: Vec::new(),
        };
        let d = s.entry(0, 0);
        s.entries[d as usize].special = Special::Default;
        s.refresh(d);
        let ll = s.entry(0xfe80u128 << 112, 10);
        s.entries[ll as usize].special = Special::LinkLocal;
        s.refresh(ll);
        s
    }

    /// Longest-prefix match: (entry, kind, DPO index).
    #[inline(always)]
    pub fn lookup(&self, a: u128) -> (u32, Kind, u32) {
        unpack(
            self.fib
                .lookup(a)
                .unwrap_or(pack(DEFAULT_ENTRY, Kind::Drop, 0)),
        )
    }

    /// The interface a packet to `a` would leave through, if any (ping's egress choice).
    pub fn resolving_interface(&self, a: Ipv6Addr) -> Option<u32> {
        let (e, _, _) = self.lookup(u128::from(a));
        match self.entries.get(e as usize)?.fwd {
            Fwd::Receive { sw } | Fwd::Glean { sw } => Some(sw),
            Fwd::Adj { adj } => self.adjs.get(adj as usize).map(|x| x.sw),
            Fwd::Drop | Fwd::LinkLocal => None,
        }
    }

    /// The entry index of exactly `addr/len`, made (with no source) if it does not exist.
    fn entry(&mut self, addr: u128, len: u8) -> u32 {
        let addr = addr & mask(len);
        if let Some(v) = self.fib.get(addr, len) {
            return unpack(v).0;
        }
        let e = Entry {
            addr,
            len,
            iface: None,
            paths: Vec::new(),
            nbr_adj: None,
            special: Special::None,
            hidden: false,
            fwd: Fwd::Drop,
            live: true,
        };
        let idx = match self.free_entries.pop() {
            Some(i) => {
                self.entries[i as usize] = e;
                for t in &self.counters {
                    t[i as usize].pkts.store(0, Relaxed);
                    t[i as usize].bytes.store(0, Relaxed);
                }
                i
            }
            None => {
                self.entries.push(e);
                for t in self.counters.iter_mut() {
                    t.push(LbCounter::default());
                }
                (self.entries.len() - 1) as u32
            }
        };
        self.fib.insert(addr, len, pack(idx, Kind::Drop, 0));
        idx
    }

    /// Index of exactly `addr/len` if it exists.
    pub fn exact(&self, addr: u128, len: u8) -> Option<u32> {
        self.fib.get(addr & mask(len), len).map(|v| unpack(v).0)
    }

    fn hot(&self, e: u32, f: Fwd) -> u64 {
        match f {
            Fwd::Drop | Fwd::LinkLocal => pack(e, Kind::Drop, 0),
            Fwd::Receive { sw } => pack(e, Kind::Receive, sw),
            Fwd::Glean { sw } => pack(e, Kind::Glean, sw),
            Fwd::Adj { adj } => {
                let k = if self.adjs[adj as usize].mac.is_some() {
                    Kind::Rewrite
                } else {
                    Kind::Incomplete
                };
                pack(e, k, adj)
            }
        }
    }

    fn resolve_path(&mut self, e: u32, p: Path, depth: u32) -> Fwd {
        match (p.nh, p.sw) {
            (None, Some(sw)) => Fwd::Glean { sw },
            (Some(nh), Some(sw)) => Fwd::Adj {
                adj: self.adj(sw, nh),
            },
            (Some(nh), None) => {
                let (via, _, _) = self.lookup(u128::from(nh));
                if via == e || depth > 8 {
                    return Fwd::Drop;
                }
                match self.entries[via as usize].fwd {
                    // On-link next hop: the neighbour adjacency for it on that interface.
                    Fwd::Glean { sw } => Fwd::Adj {
                        adj: self.adj(sw, nh),
                    },
                    Fwd::Adj { adj } => Fwd::Adj { adj },
                    Fwd::Receive { .. } | Fwd::Drop | Fwd::LinkLocal => Fwd::Drop,
                }
            }
            (None, None) => Fwd::Drop,
        }
    }

    /// Recomputes entry `e`'s forwarding (removing it when no source is left); true if the
    /// value the dataplane sees changed.
    fn refresh(&mut self, e: u32) -> bool {
        let en = &self.entries[e as usize];
        if !en.live {
            return false;
        }
        let (addr, len) = (en.addr, en.len);
        let fwd = if let Some(src) = en.iface {
            match src {
                IfSrc::Receive(sw) => Fwd::Receive { sw },
                IfSrc::Connected(sw) => Fwd::Glean { sw },
            }
        } else if let Some(&p) = en.paths.first() {
            self.resolve_path(e, p, 0)
        } else if let Some(adj) = en.nbr_adj {
            Fwd::Adj { adj }
        } else {
            match en.special {
                Special::Default => Fwd::Drop,
                Special::LinkLocal => Fwd::LinkLocal,
                Special::None => {
                    self.fib.remove(addr, len);
                    self.entries[e as usize].live = false;
                    self.free_entries.push(e);
                    return true;
                }
            }
        };
        self.entries[e as usize].fwd = fwd;
        let v = self.hot(e, fwd);
        self.fib.insert(addr, len, v) != Some(v)
    }

    /// Revisits every entry that resolves through a next hop covered by a changed prefix.
    fn propagate(&mut self, mut work: Vec<(u128, u8)>) {
        // Bounded: a route loop settles on drop, and the cap stops anything pathological.
        let mut budget = 100_000usize;
        while let Some((a, l)) = work.pop() {
            let users: Vec<u32> = self
                .nh_users
                .iter()
                .filter(|(nh, _)| covers(a, l, **nh))
                .flat_map(|(_, u)| u.iter().copied())
                .collect();
            for u in users {
                if budget == 0 {
                    return;
                }
                budget -= 1;
                if self.refresh(u) {
                    let en = &self.entries[u as usize];
                    work.push((en.addr, en.len));
                }
            }
        }
    }

    /// The adjacency for (`sw`, `nh`), made incomplete if new.
    fn adj(&mut self, sw: u32, nh: Ipv6Addr) -> u32 {
        let key = (sw, u128::from(nh));
        if let Some(&a) = self.adj_by_key.get(&key) {
            return a;
        }
        self.adjs.push(Adj {
            sw,
            nh,
            mac: None,
            rewrite: [0; 14],
        });
        let a = (self.adjs.len() - 1) as u32;
        self.adj_by_key.insert(key, a);
        a
    }

    /// Recomputes what depends on adjacency `a` after its MAC changed.
    fn adj_changed(&mut self, a: u32) {
        let nh = u128::from(self.adjs[a as usize].nh);
        for e in 0..self.entries.len() as u32 {
            let en = &self.entries[e as usize];
            if en.live && matches!(en.fwd, Fwd::Adj { adj } if adj == a) {
                self.refresh(e);
            }
        }
        self.propagate(vec![(nh, 128)]);
    }

    fn ensure_if(&mut self, sw: u32) {
        if self.explicit.len() <= sw as usize {
            self.explicit.resize(sw as usize + 1, false);
        }
    }

    /// IPv6 turned on for `sw`: its link-local receive entry.
    pub fn enable_interface(&mut self, sw: u32, ll: Ipv6Addr, explicit: bool) {
        self.ensure_if(sw);
        if explicit {
            self.explicit[sw as usize] = true;
        }
        let e = self.entry(u128::from(ll), 128);
        let en = &mut self.entries[e as usize];
        if en.iface.is_none() {
            en.iface = Some(IfSrc::Receive(sw));
            en.hidden = true;
            self.refresh(e);
        }
    }

    /// IPv6 turned off for `sw`: drops its link-local entry and its neighbours.
    pub fn disable_interface(&mut self, sw: u32, ll: Option<Ipv6Addr>) {
        self.ensure_if(sw);
        self.explicit[sw as usize] = false;
        if let Some(ll) = ll {
            if let Some(e) = self.exact(u128::from(ll), 128) {
                self.entries[e as usize].iface = None;
                self.refresh(e);
            }
        }
        let gone: Vec<(u32, u128)> = self.nbrs.keys().filter(|k| k.0 == sw).copied().collect();
        for (s, ip) in gone {
            self.del_neighbor(s, Ipv6Addr::from(ip));
        }
    }

    /// An interface address: receive /128 and, below /128, the connected (glean) prefix.
    pub fn add_address(&mut self, sw: u32, a: Ipv6Addr, len: u8) {
        let mut work = Vec::new();
        let r = self.entry(u128::from(a), 128);
        self.entries[r as usize].iface = Some(IfSrc::Receive(sw));
        if self.refresh(r) {
            work.push((u128::from(a), 128));
        }
        if len < 128 {
            let c = self.entry(u128::from(a), len);
            self.entries[c as usize].iface = Some(IfSrc::Connected(sw));
            if self.refresh(c) {
                work.push((u128::from(a) & mask(len), len));
            }
        }
        self.propagate(work);
    }

    /// Removes an interface address and the dynamic neighbours it covered (as VPP does).
    pub fn del_address(&mut self, sw: u32, a: Ipv6Addr, len: u8) {
        let mut work = Vec::new();
        for (addr, l, src) in [
            (u128::from(a), 128, IfSrc::Receive(sw)),
            (u128::from(a), len, IfSrc::Connected(sw)),
        ] {
            if l == 128 && matches!(src, IfSrc::Connected(_)) {
                continue;
            }
            if let Some(e) = self.exact(addr, l) {
                if self.entries[e as usize].iface == Some(src) {
                    self.entries[e as usize].iface = None;
                    if self.refresh(e) {
                        work.push((addr & mask(l), l));
                    }
                }
            }
        }
        self.propagate(work);
        let covered: Vec<u128> = self
            .nbrs
            .iter()
            .filter(|(k, n)| k.0 == sw && !n.is_static && covers(u128::from(a), len, k.1))
            .map(|(k, _)| k.1)
            .collect();
        for ip in covered {
            self.del_neighbor(sw, Ipv6Addr::from(ip));
        }
    }

    /// Adds a path to a CLI route.
    pub fn add_route(&mut self, addr: u128, len: u8, p: Path) {
        let e = self.entry(addr, len);
        let en = &mut self.entries[e as usize];
        if en.paths.contains(&p) {
            return;
        }
        // The entry is a user of the next hop once, whatever the number of paths through it
        // (no search of the user list: 100k routes through one next hop stay linear to add).
        let first_via_nh = p.nh.is_some() && !en.paths.iter().any(|x| x.nh == p.nh);
        en.paths.push(p);
        if let (true, Some(nh)) = (first_via_nh, p.nh) {
            self.nh_users.entry(u128::from(nh)).or_default().push(e);
        }
        if self.refresh(e) {
            self.propagate(vec![(addr & mask(len), len)]);
        }
    }

    /// Removes one path (or, with `None`, all) of a CLI route; false if there was none.
    pub fn del_route(&mut self, addr: u128, len: u8, p: Option<Path>) -> bool {
        let Some(e) = self.exact(addr, len) else {
            return false;
        };
        let en = &mut self.entries[e as usize];
        let before = en.paths.len();
        let removed: Vec<Path> = match p {
            Some(p) => {
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
            if let Some(nh) = r.nh {
                if still.iter().any(|x| x.nh == Some(nh)) {
                    continue;
                }
                if let Some(u) = self.nh_users.get_mut(&u128::from(nh)) {
                    u.retain(|&x| x != e);
                    if u.is_empty() {
                        self.nh_users.remove(&u128::from(nh));
                    }
                }
            }
        }
        if self.refresh(e) {
            self.propagate(vec![(addr & mask(len), len)]);
        }
        true
    }

    /// Adds or updates a neighbour. Returns false when nothing changed (a dynamic entry does
    /// not replace a static one, as in VPP).
    #[allow(clippy::too_many_arguments)]
    pub fn add_neighbor(
        &mut self,
        sw: u32,
        ip: Ipv6Addr,
        mac: [u8; 6],
        if_mac: [u8; 6],
        is_static: bool,
        no_fib: bool,
        now: f64,
    ) -> bool {
        let key = (sw, u128::from(ip));
        if self.nbr_over_limit(sw, ip) {
            return false;
        }
        if let Some(n) = self.nbrs.get_mut(&key) {
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
        rw[12..].copy_from_slice(&0x86ddu16.to_be_bytes());
        let adj = &mut self.adjs[a as usize];
        adj.mac = Some(mac);
        adj.rewrite = rw;
        let old_no_fib = self.nbrs.get(&key).map(|n| n.no_fib);
        self.nbrs.insert(
            key,
            Nbr {
                mac,
                is_static,
                no_fib,
                updated: now,
                adj: a,
            },
        );
        // Link-local neighbours live in VPP's per-interface link-local tables, not the main FIB.
        let want_fib = !no_fib && !pwire_wire::ipv6::is_link_local(ip);
        if want_fib {
            let e = self.entry(u128::from(ip), 128);
            self.entries[e as usize].nbr_adj = Some(a);
            self.refresh(e);
        } else if old_no_fib == Some(false) {
            self.drop_nbr_entry(ip, a);
        }
        self.adj_changed(a);
        true
    }

    fn drop_nbr_entry(&mut self, ip: Ipv6Addr, a: u32) {
        if let Some(e) = self.exact(u128::from(ip), 128) {
            if self.entries[e as usize].nbr_adj == Some(a) {
                self.entries[e as usize].nbr_adj = None;
                self.refresh(e);
            }
        }
    }

    /// Would adding (`sw`, `ip`) make a new neighbour over the limit?
    pub fn nbr_over_limit(&self, sw: u32, ip: Ipv6Addr) -> bool {
        self.nbrs.len() >= self.nbr_limit && !self.nbrs.contains_key(&(sw, u128::from(ip)))
    }

    /// Removes a neighbour; false if it did not exist.
    pub fn del_neighbor(&mut self, sw: u32, ip: Ipv6Addr) -> bool {
        let Some(n) = self.nbrs.remove(&(sw, u128::from(ip))) else {
            return false;
        };
        let adj = &mut self.adjs[n.adj as usize];
        adj.mac = None;
        adj.rewrite = [0; 14];
        self.drop_nbr_entry(ip, n.adj);
        self.adj_changed(n.adj);
        true
    }

    /// An interface is being deleted: its addresses, routes through it and neighbours go.
    pub fn forget_interface(&mut self, sw: u32, addrs: &[(Ipv6Addr, u8)], ll: Option<Ipv6Addr>) {
        for &(a, l) in addrs {
            self.del_address(sw, a, l);
        }
        let via: Vec<(u128, u8, Path)> = self
            .entries
            .iter()
            .filter(|e| e.live)
            .flat_map(|e| {
                e.paths
                    .iter()
                    .filter(|p| p.sw == Some(sw))
                    .map(|p| (e.addr, e.len, *p))
            })
            .collect();
        for (a, l, p) in via {
            self.del_route(a, l, Some(p));
        }
        self.disable_interface(sw, ll);
    }

    /// Would learning (`sw`, `ip`, `mac`) change anything? (Checked before taking the barrier.)
    pub fn learn_changes(&self, sw: u32, ip: Ipv6Addr, mac: [u8; 6]) -> bool {
        match self.nbrs.get(&(sw, u128::from(ip))) {
            Some(n) => !n.is_static && n.mac != mac,
            None => true,
        }
    }

    /// Sum over threads of an entry's counter.
    pub fn entry_counters(&self, e: u32) -> (u64, u64) {
        self.counters
            .iter()
            .filter_map(|t| t.get(e as usize))
            .fold((0, 0), |(p, b), c| {
                (p + c.pkts.load(Relaxed), b + c.bytes.load(Relaxed))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }
    const MAC: [u8; 6] = [2, 0, 0, 0, 0, 2];
    const IFMAC: [u8; 6] = [2, 0xfe, 0, 0, 0, 0];

    #[test]
    fn connected_receive_neighbour_and_recursion() {
        let mut s = Ip6State::new(1);
        s.add_address(1, a("fd00::1"), 64);
        assert_eq!(s.lookup(u128::from(a("fd00::1"))).1, Kind::Receive);
        assert_eq!(s.lookup(u128::from(a("fd00::2"))).1, Kind::Glean);
        // Route via a next hop on the connected prefix: incomplete until the neighbour is known.
        s.add_route(
            u128::from(a("2001:db8::")),
            32,
            Path {
                nh: Some(a("fd00::2")),
                sw: None,
            },
        );
        let (_, k, adj) = s.lookup(u128::from(a("2001:db8::5")));
        assert_eq!(k, Kind::Incomplete);
        assert!(s.add_neighbor(1, a("fd00::2"), MAC, IFMAC, false, false, 0.0));
        let (_, k, adj2) = s.lookup(u128::from(a("2001:db8::5")));
        assert_eq!((k, adj2), (Kind::Rewrite, adj));
        assert_eq!(&s.adjs[adj as usize].rewrite[..6], &MAC);
        assert_eq!(s.lookup(u128::from(a("fd00::2"))).1, Kind::Rewrite);
        // Same MAC again: no change (no barrier needed); a static one is not overridden.
        assert!(!s.learn_changes(1, a("fd00::2"), MAC));
        assert!(s.add_neighbor(1, a("fd00::2"), MAC, IFMAC, true, false, 0.0));
        assert!(!s.add_neighbor(1, a("fd00::2"), [9; 6], IFMAC, false, false, 0.0));
        // Deleting the neighbour makes the route incomplete again and removes the /128.
        assert!(s.del_neighbor(1, a("fd00::2")));
        assert_eq!(s.lookup(u128::from(a("2001:db8::5"))).1, Kind::Incomplete);
        assert_eq!(s.lookup(u128::from(a("fd00::2"))).1, Kind::Glean);
        // Removing the address leaves the route unresolved (drop).
        s.del_address(1, a("fd00::1"), 64);
        assert_eq!(s.lookup(u128::from(a("2001:db8::5"))).1, Kind::Drop);
        assert_eq!(s.lookup(u128::from(a("fd00::1"))).1, Kind::Drop);
        assert!(s.del_route(u128::from(a("2001:db8::")), 32, None));
        assert_eq!(s.fib.len(), 2, "only ::/0 and fe80::/10 left");
    }

    #[test]
    fn route_added_before_its_next_hop_resolves_later() {
        let mut s = Ip6State::new(2);
        s.add_route(
            u128::from(a("2001:db8::")),
            32,
            Path {
                nh: Some(a("fd00::2")),
                sw: None,
            },
        );
        assert_eq!(s.lookup(u128::from(a("2001:db8::1"))).1, Kind::Drop);
        s.add_address(3, a("fd00::1"), 64);
        assert_eq!(s.lookup(u128::from(a("2001:db8::1"))).1, Kind::Incomplete);
        // A route through a route.
        s.add_route(
            u128::from(a("2002::")),
            16,
            Path {
                nh: Some(a("2001:db8::9")),
                sw: None,
            },
        );
        s.add_neighbor(3, a("fd00::2"), MAC, IFMAC, true, false, 0.0);
        assert_eq!(s.lookup(u128::from(a("2002::1"))).1, Kind::Rewrite);
        assert_eq!(s.resolving_interface(a("2002::1")), Some(3));
        // A route whose next hop is inside itself resolves to drop rather than looping.
        s.add_route(
            u128::from(a("3000::")),
            16,
            Path {
                nh: Some(a("3000::1")),
                sw: None,
            },
        );
        assert_eq!(s.lookup(u128::from(a("3000::5"))).1, Kind::Drop);
    }

    #[test]
    fn link_local() {
        assert_eq!(
            link_local_from_mac([0x02, 0xfe, 0, 0, 0, 0]),
            a("fe80::fe:ff:fe00:0")
        );
        let mut s = Ip6State::new(1);
        assert_eq!(s.lookup(u128::from(a("fe80::1"))).1, Kind::Drop);
        s.enable_interface(1, a("fe80::fe:ff:fe00:0"), false);
        assert_eq!(
            s.lookup(u128::from(a("fe80::fe:ff:fe00:0"))),
            (2, Kind::Receive, 1)
        );
    }
}
