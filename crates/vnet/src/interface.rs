//! The interface table (VPP's sw/hw interfaces, folded into one record).
//!
//! VLAN sub-interfaces (VPP's `VNET_SW_INTERFACE_TYPE_SUB`) are records like any other, with
//! [`VlanIf::sub`] naming their parent port and what they match; the port holds the match table
//! `ethernet-input` looks frames up in ([`SubTable`], only on ports that have sub-interfaces).
//! Sub-interfaces share their parent's device class and `dev_instance`, so every per-class arc
//! (`l2-output`, `ip6-rewrite`, `interface-output`) is the parent's; `interface-output` hands
//! their frames to the device with the parent's sw_if_index. The L2 tag rewrite (`set interface
//! l2 tag-rewrite`, [`Vtr`]) lives here too, so features that may not import the l2 crate (l2tp
//! telling a tagged from a raw pseudowire, [`VnetState::pw_desc`]) can read it.
//!
//! Work under the barrier: creating or deleting an interface costs the same however many
//! exist. The records and every thread's counter rows live in [`ChunkedVec`]s (growing one
//! never moves an element, where a `Vec` doubling would copy them all while the workers wait),
//! and the name index is a `BTreeMap` (O(log n) per insert, never a rehash of every name).

use std::collections::BTreeMap;
use std::net::Ipv6Addr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// log2 of the elements in one chunk of a [`ChunkedVec`].
const CHUNK_SHIFT: u32 = 10;
const CHUNK: usize = 1 << CHUNK_SHIFT;
/// Chunk pointers a [`ChunkedVec`] reserves up front (1M elements before its directory, 24
/// bytes a chunk, itself has to grow).
const DIR_RESERVE: usize = 1024;

/// A vector that grows a chunk of [`CHUNK`] elements at a time, for tables the main thread
/// grows under the barrier while workers read them: elements never move, so a push costs at
/// most one chunk allocation (memory is not touched until used), never a copy of the table.
/// Indexing costs one more load than a `Vec` (the chunk pointer, from a small directory that
/// stays in cache).
pub struct ChunkedVec<T> {
    /// Every chunk has capacity [`CHUNK`] and is never pushed past it, so it never reallocates;
    /// chunks after the last element's may stay allocated (and empty) after a pop.
    chunks: Vec<Vec<T>>,
    len: usize,
}

impl<T> Default for ChunkedVec<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for ChunkedVec<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<T> ChunkedVec<T> {
    pub fn new() -> Self {
        ChunkedVec {
            chunks: Vec::with_capacity(DIR_RESERVE),
            len: 0,
        }
    }

    #[inline(always)]
    pub fn get(&self, i: usize) -> Option<&T> {
        self.chunks.get(i >> CHUNK_SHIFT)?.get(i & (CHUNK - 1))
    }

    #[inline(always)]
    pub fn get_mut(&mut self, i: usize) -> Option<&mut T> {
        self.chunks
            .get_mut(i >> CHUNK_SHIFT)?
            .get_mut(i & (CHUNK - 1))
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends `v`; moves no element.
    pub fn push(&mut self, v: T) {
        let c = self.len >> CHUNK_SHIFT;
        if c == self.chunks.len() {
            self.chunks.push(Vec::with_capacity(CHUNK));
        }
        self.chunks[c].push(v);
        self.len += 1;
    }

    /// Removes the last element (its chunk stays allocated for the next push).
    pub fn pop(&mut self) -> Option<T> {
        let i = self.len.checked_sub(1)?;
        let v = self.chunks[i >> CHUNK_SHIFT].pop();
        self.len = i;
        v
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &T> {
        self.chunks.iter().flat_map(|c| c.iter())
    }

    pub fn iter_mut(&mut self) -> impl DoubleEndedIterator<Item = &mut T> {
        self.chunks.iter_mut().flat_map(|c| c.iter_mut())
    }
}

impl<T> std::ops::Index<usize> for ChunkedVec<T> {
    type Output = T;
    fn index(&self, i: usize) -> &T {
        match self.get(i) {
            Some(v) => v,
            None => panic!("index {i} out of range for length {}", self.len),
        }
    }
}

impl<T> std::ops::IndexMut<usize> for ChunkedVec<T> {
    fn index_mut(&mut self, i: usize) -> &mut T {
        let len = self.len;
        match self.get_mut(i) {
            Some(v) => v,
            None => panic!("index {i} out of range for length {len}"),
        }
    }
}

/// Index of a device class in [`crate::Statics::classes`].
pub type ClassId = u16;

/// A kind of interface: who transmits for it and how `show hardware` describes it.
#[derive(Debug, Clone)]
pub struct DevClass {
    /// e.g. "pg", "af-packet", "l2tpv3", "loopback", "local".
    pub name: &'static str,
    /// The node that takes frames leaving through this interface (l2-output and ip6-rewrite
    /// send there): `interface-output` for real devices, `l2tp-encap` for tunnels.
    pub output_node: &'static str,
    /// The device's tx node reached from `interface-output`, if it has one.
    pub tx_node: Option<&'static str>,
    /// Ethernet-class interfaces have a MAC, default MTU 9000 and promiscuous mode in L2.
    pub ethernet: bool,
    /// `show hardware` class name (e.g. "Ethernet", "L2TPV3").
    pub hw_class: &'static str,
}

/// L2 configuration of an interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum L2Mode {
    #[default]
    L3,
    Bridge {
        bd_id: u32,
        bd_index: u32,
        bvi: bool,
        shg: u8,
    },
    Xconnect {
        peer: u32,
    },
}

/// Receive mode of an interface's rx queue (startup.conf's type: `interface { default-rx-mode }`).
pub use pwire_config::RxMode;

/// One interface.
#[derive(Debug, Clone)]
pub struct Interface {
    pub name: String,
    pub sw_if_index: u32,
    pub class: ClassId,
    /// The driver's own index (pg N, af-packet slot, l2tp session index).
    pub dev_instance: u32,
    pub admin_up: bool,
    pub link_up: bool,
    pub mac: [u8; 6],
    /// MTUs `[L3, IP4, IP6, MPLS]` as `show interface` prints them (0 = unset).
    pub mtu: [u32; 4],
    /// Largest frame the device carries (hardware MTU).
    pub hw_mtu: u32,
    pub l2: L2Mode,
    pub deleted: bool,
    /// `interface-output`'s next index for this interface's tx node.
    pub tx_next: u16,
    /// `l2-output`'s next index for this interface's output node.
    pub l2_output_next: u16,
    /// `ip6-rewrite`'s next index for this interface's output node.
    pub ip6_output_next: u16,
    pub ip6_enabled: bool,
    pub ip6_addrs: Vec<(Ipv6Addr, u8)>,
    pub ip6_link_local: Option<Ipv6Addr>,
    /// Enabled features of the `ip6-unicast` arc (bit = feature position).
    pub ip6_unicast_features: u32,
    pub rx_mode: RxMode,
    /// Thread that polls its rx queue 0 (0 = main).
    pub rx_thread: usize,
    /// Threads polling rx queues 1.. of a multi-queue device (empty: one rx queue).
    pub extra_rx_threads: Vec<usize>,
    pub promisc: bool,
    /// Sub-interface, match table and tag rewrite (all empty for a plain interface).
    pub vlan: VlanIf,
}

impl Interface {
    /// Number of rx queues.
    pub fn n_rx_queues(&self) -> usize {
        1 + self.extra_rx_threads.len()
    }
    /// The thread polling rx queue `q` (`q < n_rx_queues()`).
    pub fn rx_queue_thread(&self, q: usize) -> usize {
        match q {
            0 => self.rx_thread,
            _ => self.extra_rx_threads[q - 1],
        }
    }
    /// Places rx queue `q` (`q < n_rx_queues()`) on thread `t`.
    pub fn set_rx_queue_thread(&mut self, q: usize, t: usize) {
        match q {
            0 => self.rx_thread = t,
            _ => self.extra_rx_threads[q - 1] = t,
        }
    }

    /// The IPv4 MTU in force (IP4 value, else L3, else the hardware MTU).
    pub fn ip4_mtu(&self) -> u32 {
        [self.mtu[1], self.mtu[0], self.hw_mtu]
            .into_iter()
            .find(|&m| m != 0)
            .unwrap_or(9000)
    }

    /// The IPv6 MTU in force (IP6 value, else L3, else the hardware MTU).
    pub fn ip6_mtu(&self) -> u32 {
        [self.mtu[2], self.mtu[0], self.hw_mtu]
            .into_iter()
            .find(|&m| m != 0)
            .unwrap_or(9000)
    }
}

/// Interface counter indices (one row per interface per thread).
pub mod ifc {
    pub const RX_PKTS: usize = 0;
    pub const RX_BYTES: usize = 1;
    pub const TX_PKTS: usize = 2;
    pub const TX_BYTES: usize = 3;
    pub const DROPS: usize = 4;
    pub const PUNT: usize = 5;
    pub const IP6: usize = 6;
    pub const RX_NO_BUF: usize = 7;
    pub const RX_MISS: usize = 8;
    pub const RX_ERROR: usize = 9;
    pub const TX_ERROR: usize = 10;
    pub const IP4: usize = 11;
}
pub const N_IF_COUNTERS: usize = 12;
/// Names as `show interface` prints the simple counters (combined ones are handled apart).
pub const IF_COUNTER_NAMES: [&str; N_IF_COUNTERS] = [
    "rx packets",
    "rx bytes",
    "tx packets",
    "tx bytes",
    "drops",
    "punt",
    "ip6",
    "rx-no-buf",
    "rx-miss",
    "rx-error",
    "tx-error",
    "ip4",
];

/// One interface's counters on one thread. Written only by that thread.
#[derive(Debug, Default)]
pub struct IfRow(pub [AtomicU64; N_IF_COUNTERS]);

impl IfRow {
    #[inline(always)]
    pub fn add(&self, c: usize, n: u64) {
        let a = &self.0[c];
        a.store(a.load(Relaxed).wrapping_add(n), Relaxed);
    }
    #[inline(always)]
    pub fn add2(&self, c: usize, pkts: u64, bytes: u64) {
        self.add(c, pkts);
        self.add(c + 1, bytes);
    }
}

/// In a `VnetState::udp_ports` entry: a zero UDP checksum over IPv6 is accepted on the port.
pub const UDP_ZERO_CSUM_OK: u8 = 0x80;

/// Everything about interfaces that workers read. Lives in a `Shared`.
#[derive(Debug)]
pub struct VnetState {
    pub ifs: ChunkedVec<Interface>,
    /// Control plane only (workers never read it).
    pub by_name: BTreeMap<String, u32>,
    /// `counters[thread][sw_if_index]`.
    pub counters: Vec<ChunkedVec<IfRow>>,
    /// IPv6 protocols whose registered node is active (l2tp turns 115 on with its first tunnel).
    pub ip6_proto_enabled: [bool; 256],
    /// The same for IPv4 (`Registry::ip4_protocol`).
    pub ip4_proto_enabled: [bool; 256],
    /// UDP destination ports we listen on, `[IPv4, IPv6]`: per port 0 (none, ICMP port
    /// unreachable) or a `Registry::udp_handler` id, with [`UDP_ZERO_CSUM_OK`] when a zero
    /// checksum is accepted on it (IPv6, RFC 6935: only where configured).
    pub udp_ports: [Box<[u8; 65536]>; 2],
    /// Deleted slots, reused by the next interface (churn does not grow the table).
    pub free_slots: ChunkedVec<u32>,
}

impl VnetState {
    pub fn new(n_threads: usize) -> Self {
        VnetState {
            ifs: ChunkedVec::new(),
            by_name: BTreeMap::new(),
            counters: (0..n_threads).map(|_| ChunkedVec::new()).collect(),
            ip6_proto_enabled: [false; 256],
            ip4_proto_enabled: [false; 256],
            udp_ports: [Box::new([0; 65536]), Box::new([0; 65536])],
            free_slots: ChunkedVec::new(),
        }
    }

    /// The interface at `sw` if it exists and is not deleted.
    #[inline(always)]
    pub fn get(&self, sw: u32) -> Option<&Interface> {
        self.ifs.get(sw as usize).filter(|i| !i.deleted)
    }
    pub fn get_mut(&mut self, sw: u32) -> Option<&mut Interface> {
        self.ifs.get_mut(sw as usize).filter(|i| !i.deleted)
    }
    pub fn by_name(&self, name: &str) -> Option<u32> {
        self.by_name.get(name).copied()
    }
    /// This thread's counter row for `sw` (rows exist for every interface ever made).
    #[inline(always)]
    pub fn row(&self, thread: usize, sw: u32) -> Option<&IfRow> {
        self.counters.get(thread)?.get(sw as usize)
    }
    /// Sum of one counter over every thread.
    pub fn counter(&self, sw: u32, c: usize) -> u64 {
        self.counters
            .iter()
            .filter_map(|t| t.get(sw as usize))
            .map(|r| r.0[c].load(Relaxed))
            .sum()
    }
    /// Zeroes an interface's counters (main thread, workers parked).
    pub fn clear_counters(&mut self, sw: u32) {
        for t in &self.counters {
            if let Some(r) = t.get(sw as usize) {
                for a in &r.0 {
                    a.store(0, Relaxed);
                }
            }
        }
    }
}

// ---- VLAN sub-interfaces and tag rewrite ----------------------------------------------------

/// The 802.1Q and 802.1ad TPIDs (pwire-wire's constants; vnet does not depend on that crate).
pub const TPID_DOT1Q: u16 = 0x8100;
pub const TPID_DOT1AD: u16 = 0x88a8;
/// VLAN ids are 12 bits.
pub const N_VLAN: usize = 4096;

/// Match bit `n`: frames with `n` VLAN tags match (3: three or more), VPP's
/// `SUBINT_CONFIG_MATCH_<n>_TAG`.
pub const MATCH_0: u8 = 1 << 0;
pub const MATCH_1: u8 = 1 << 1;
pub const MATCH_2: u8 = 1 << 2;
pub const MATCH_3: u8 = 1 << 3;

#[inline(always)]
fn is_tag(tpid: u16) -> bool {
    tpid == TPID_DOT1Q || tpid == TPID_DOT1AD
}

/// Which tags a sub-interface takes (VPP's `sub.eth` flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubMatch {
    /// `<id> untagged`: untagged frames, in place of the port.
    Untagged,
    /// `<id> default`: tagged frames no other sub-interface takes.
    Default,
    /// One tag: `<id>`, `<lo>-<hi>`, `<id> dot1q|dot1ad <vlan>`.
    One { outer: u16 },
    /// Two tags: `<id> dot1q|dot1ad <vlan> inner-dot1q <vlan>|any` (`inner: None` is `any`).
    Two { outer: u16, inner: Option<u16> },
}

/// A sub-interface: its parent port and what it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubIf {
    /// The parent port (VPP's `sup_sw_if_index`).
    pub sup: u32,
    /// The sub-interface id, the name's suffix (`<port>.<id>`).
    pub id: u32,
    pub m: SubMatch,
    /// The outer tag is 802.1ad (0x88a8); else 802.1Q.
    pub dot1ad: bool,
    /// Only frames with exactly the configured tags match; else also frames with more.
    pub exact: bool,
}

impl SubIf {
    /// The tag counts it matches ([`MATCH_0`] ..), as VPP's `ethernet_sw_interface_get_config`.
    pub fn match_bits(&self) -> u8 {
        match self.m {
            SubMatch::Untagged => MATCH_0,
            SubMatch::Default => MATCH_1 | MATCH_2 | MATCH_3,
            SubMatch::One { .. } if self.exact => MATCH_1,
            SubMatch::One { .. } => MATCH_1 | MATCH_2 | MATCH_3,
            SubMatch::Two { .. } if self.exact => MATCH_2,
            SubMatch::Two { .. } => MATCH_2 | MATCH_3,
        }
    }

    /// Tags whose value the match fixes: what a tag rewrite may pop, and what the inverse
    /// rewrite puts back (VPP's `cfg_tags`: an `any` inner tag is not one of them).
    pub fn n_tags(&self) -> u8 {
        match self.m {
            SubMatch::Untagged | SubMatch::Default => 0,
            SubMatch::One { .. } | SubMatch::Two { inner: None, .. } => 1,
            SubMatch::Two { .. } => 2,
        }
    }

    /// Its tags as on the wire, outer first, and how many: what an L3 frame sent on it carries
    /// (VPP's rewrite for a sub-interface: an `any` inner tag is sent as VLAN 0).
    pub fn wire_tags(&self) -> ([u8; 8], u8) {
        let outer_tpid = if self.dot1ad { TPID_DOT1AD } else { TPID_DOT1Q };
        let mut t = [0u8; 8];
        let (outer, inner, n) = match self.m {
            SubMatch::Untagged | SubMatch::Default => return (t, 0),
            SubMatch::One { outer } => (outer, 0, 1),
            SubMatch::Two { outer, inner } => (outer, inner.unwrap_or(0), 2),
        };
        t[..2].copy_from_slice(&outer_tpid.to_be_bytes());
        t[2..4].copy_from_slice(&outer.to_be_bytes());
        t[4..6].copy_from_slice(&TPID_DOT1Q.to_be_bytes());
        t[6..8].copy_from_slice(&inner.to_be_bytes());
        (t, n)
    }

    /// The match in `create sub-interfaces` words (for messages).
    pub fn describe(&self) -> String {
        let q = if self.dot1ad { "dot1ad" } else { "dot1q" };
        let exact = if self.exact { " exact-match" } else { "" };
        match self.m {
            SubMatch::Untagged => "untagged".into(),
            SubMatch::Default => "default".into(),
            SubMatch::One { outer } => format!("{q} {outer}{exact}"),
            SubMatch::Two { outer, inner } => format!(
                "{q} {outer} inner-dot1q {}{exact}",
                inner.map_or_else(|| "any".to_string(), |v| v.to_string())
            ),
        }
    }
}

/// One slot of a port's match table (VPP's `subint_config_t`): the sub-interface and the tag
/// counts it takes there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subint {
    pub sw: u32,
    pub bits: u8,
}

impl Subint {
    pub const NONE: Subint = Subint { sw: !0, bits: 0 };
}

/// The sub-interfaces of one outer VLAN id (VPP's `vlan_intfc_t`).
#[derive(Clone)]
struct VlanSubs {
    single: Subint,
    inner_any: Subint,
    /// By inner VLAN id, made with the first sub-interface that names one (VPP's qinq table).
    qinq: Option<Box<[Subint]>>,
}

/// A port's sub-interfaces as `ethernet-input` looks them up (VPP's `main_intfc_t` with its
/// VLAN and QinQ tables): direct indexing by outer and inner VLAN id, in VPP's order (the most
/// specific match first). 16 KiB per port with sub-interfaces, 32 KiB more per outer VLAN with
/// QinQ sub-interfaces; nothing for a port without.
#[derive(Clone)]
pub struct SubTable {
    untagged: Subint,
    default: Subint,
    /// By outer TPID (0: 802.1Q, 1: 802.1ad) and VLAN id: 1 + the index in `vlans`, 0 if no
    /// sub-interface uses the id.
    outer: [Box<[u16]>; 2],
    vlans: Vec<VlanSubs>,
    /// The port's sub-interfaces (deleted with it).
    children: Vec<u32>,
}

impl std::fmt::Debug for SubTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SubTable")
            .field("children", &self.children)
            .finish_non_exhaustive()
    }
}

impl SubTable {
    fn new() -> SubTable {
        SubTable {
            untagged: Subint::NONE,
            default: Subint::NONE,
            outer: [
                vec![0u16; N_VLAN].into_boxed_slice(),
                vec![0u16; N_VLAN].into_boxed_slice(),
            ],
            vlans: Vec::new(),
            children: Vec::new(),
        }
    }

    /// The sub-interface a frame with `n` tags (3: three or more) takes: `dot1ad` and `outer`
    /// describe the outer tag, `inner` the second; `None` when none matches (the port decides).
    /// VPP's `eth_identify_subint` order: QinQ, outer with any inner, single tag, default,
    /// untagged.
    #[inline]
    pub fn lookup(&self, n: usize, dot1ad: bool, outer: u16, inner: u16) -> Option<u32> {
        let bit = 1u8 << n.min(3);
        if n > 0 {
            let v = self.outer[usize::from(dot1ad)][usize::from(outer) & (N_VLAN - 1)];
            if let Some(vl) = (v as usize).checked_sub(1).and_then(|x| self.vlans.get(x)) {
                if n >= 2 {
                    if let Some(q) = &vl.qinq {
                        let s = q[usize::from(inner) & (N_VLAN - 1)];
                        if s.bits & bit != 0 {
                            return Some(s.sw);
                        }
                    }
                    if vl.inner_any.bits & bit != 0 {
                        return Some(vl.inner_any.sw);
                    }
                }
                if vl.single.bits & bit != 0 {
                    return Some(vl.single.sw);
                }
            }
            if self.default.bits & bit != 0 {
                return Some(self.default.sw);
            }
        }
        if self.untagged.bits & bit != 0 {
            return Some(self.untagged.sw);
        }
        None
    }

    /// The slot `s` takes, made if missing (with its VLAN entry and QinQ table).
    fn slot_mut(&mut self, s: &SubIf) -> &mut Subint {
        let outer = match s.m {
            SubMatch::Untagged => return &mut self.untagged,
            SubMatch::Default => return &mut self.default,
            SubMatch::One { outer } | SubMatch::Two { outer, .. } => usize::from(outer) % N_VLAN,
        };
        let k = usize::from(s.dot1ad);
        if self.outer[k][outer] == 0 {
            self.vlans.push(VlanSubs {
                single: Subint::NONE,
                inner_any: Subint::NONE,
                qinq: None,
            });
            // At most 2 x 4096 entries: the index fits.
            self.outer[k][outer] = self.vlans.len() as u16;
        }
        let vl = &mut self.vlans[usize::from(self.outer[k][outer]) - 1];
        match s.m {
            SubMatch::Two {
                inner: Some(inner), ..
            } => {
                let q = vl
                    .qinq
                    .get_or_insert_with(|| vec![Subint::NONE; N_VLAN].into_boxed_slice());
                &mut q[usize::from(inner) % N_VLAN]
            }
            SubMatch::Two { inner: None, .. } => &mut vl.inner_any,
            _ => &mut vl.single,
        }
    }

    /// True when the slot `s` would take is used.
    fn in_use(&self, s: &SubIf) -> bool {
        self.slot(s).bits != 0
    }

    fn slot(&self, s: &SubIf) -> Subint {
        let outer = match s.m {
            SubMatch::Untagged => return self.untagged,
            SubMatch::Default => return self.default,
            SubMatch::One { outer } | SubMatch::Two { outer, .. } => usize::from(outer) % N_VLAN,
        };
        let v = self.outer[usize::from(s.dot1ad)][outer];
        let Some(vl) = (v as usize).checked_sub(1).map(|x| &self.vlans[x]) else {
            return Subint::NONE;
        };
        match s.m {
            SubMatch::Two {
                inner: Some(inner), ..
            } => vl
                .qinq
                .as_ref()
                .map_or(Subint::NONE, |q| q[usize::from(inner) % N_VLAN]),
            SubMatch::Two { inner: None, .. } => vl.inner_any,
            _ => vl.single,
        }
    }

    /// The port's sub-interfaces.
    pub fn children(&self) -> &[u32] {
        &self.children
    }
}

/// VLAN state of an interface.
#[derive(Debug, Clone, Default)]
pub struct VlanIf {
    /// Set on a sub-interface: its parent and what it matches.
    pub sub: Option<SubIf>,
    /// On a port with sub-interfaces: their match table.
    pub subs: Option<Box<SubTable>>,
    /// `set interface l2 tag-rewrite` (applied only while the interface is in L2 mode).
    pub vtr: Vtr,
}

/// One direction of a tag rewrite (VPP's `vtr_config_t`): pop `pop` tags, then push the first
/// `push` tags of `tags` (wire bytes, outer first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TagRewrite {
    pub pop: u8,
    pub push: u8,
    pub tags: [u8; 8],
}

impl TagRewrite {
    /// Nothing to do.
    #[inline(always)]
    pub fn is_none(&self) -> bool {
        self.pop == 0 && self.push == 0
    }

    /// Rewrites the Ethernet frame at `b`'s current position and its `l2_len`. False, leaving
    /// the frame as it was, when it has fewer tags than `pop` (VPP drops those) or too little
    /// headroom for the tags pushed.
    #[inline(always)]
    pub fn apply(&self, b: &mut pwire_buffer::Buffer) -> bool {
        match (self.pop, self.push) {
            (0, 0) => true,
            (0, 1) => self.apply_n::<0, 1>(b),
            (0, _) => self.apply_n::<0, 2>(b),
            (1, 0) => self.apply_n::<1, 0>(b),
            (1, 1) => self.apply_n::<1, 1>(b),
            (1, _) => self.apply_n::<1, 2>(b),
            (_, 0) => self.apply_n::<2, 0>(b),
            (_, 1) => self.apply_n::<2, 1>(b),
            _ => self.apply_n::<2, 2>(b),
        }
    }

    /// [`TagRewrite::apply`] for `POP` and `PUSH` known at compile time (they must be
    /// `self.pop` and `self.push`): fixed-size moves only, for the per-packet loops, which
    /// pick the instance once per run.
    #[inline(always)]
    pub fn apply_n<const POP: usize, const PUSH: usize>(
        &self,
        b: &mut pwire_buffer::Buffer,
    ) -> bool {
        let d = b.current();
        if d.len() < 14 + 4 * POP {
            return false;
        }
        let tpid = |o: usize| is_tag(u16::from_be_bytes([d[o], d[o + 1]]));
        if (POP >= 1 && !tpid(12)) || (POP >= 2 && !tpid(16)) {
            return false;
        }
        if PUSH > POP && b.headroom() < 4 * (PUSH - POP) {
            return false;
        }
        let mut macs = [0u8; 12];
        macs.copy_from_slice(&d[..12]);
        // Bytes the frame shrinks by (negative: grows).
        let delta = 4 * (POP as i32 - PUSH as i32);
        b.advance(delta);
        // The frame is now at least 14 + 4 * PUSH bytes long (it had 14 + 4 * POP).
        let d = b.current_mut();
        d[..12].copy_from_slice(&macs);
        d[12..12 + 4 * PUSH].copy_from_slice(&self.tags[..4 * PUSH]);
        if b.l2_len >= 14 {
            // At least 14 (pop never exceeds the tags counted in it), at most 22 + 8.
            b.l2_len = u8::try_from(i32::from(b.l2_len) - delta).unwrap_or(14);
        }
        true
    }
}

/// A tag-rewrite operation (VPP's `L2_VTR_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VtrOp {
    #[default]
    Disabled,
    Pop1,
    Pop2,
    Push1,
    Push2,
    Translate11,
    Translate12,
    Translate21,
    Translate22,
}

impl VtrOp {
    /// Tags popped and pushed on ingress.
    pub fn counts(self) -> (u8, u8) {
        match self {
            VtrOp::Disabled => (0, 0),
            VtrOp::Pop1 => (1, 0),
            VtrOp::Pop2 => (2, 0),
            VtrOp::Push1 => (0, 1),
            VtrOp::Push2 => (0, 2),
            VtrOp::Translate11 => (1, 1),
            VtrOp::Translate12 => (1, 2),
            VtrOp::Translate21 => (2, 1),
            VtrOp::Translate22 => (2, 2),
        }
    }
}

/// An interface's L2 tag rewrite: the operation as configured and the two rewrites it makes,
/// `ingress` (run by `l2-input-vtr`) and its inverse `egress` (run by `l2-output`), as VPP's
/// `l2vtr_configure`: egress pops what ingress pushed and pushes back the interface's own tags
/// that ingress popped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Vtr {
    pub op: VtrOp,
    /// The pushed outer tag is 802.1Q (`dot1q`), else 802.1ad; a second one is always 802.1Q.
    pub dot1q: bool,
    pub tag1: u16,
    pub tag2: u16,
    pub ingress: TagRewrite,
    pub egress: TagRewrite,
}

impl Vtr {
    /// The rewrite `op` on an interface whose sub-interface match is `sub` (`None`: a port).
    /// Errors (VPP's message) when it pops more tags than the match fixes.
    pub fn new(
        op: VtrOp,
        dot1q: bool,
        tag1: u16,
        tag2: u16,
        sub: Option<&SubIf>,
    ) -> Result<Vtr, String> {
        let (pop, push) = op.counts();
        let fixed = sub.map_or(0, SubIf::n_tags);
        if pop > fixed {
            return Err("vlan tag rewrite is not compatible with interface".into());
        }
        let mut ingress = TagRewrite {
            pop,
            push,
            tags: [0; 8],
        };
        let outer_tpid = if dot1q { TPID_DOT1Q } else { TPID_DOT1AD };
        ingress.tags[..2].copy_from_slice(&outer_tpid.to_be_bytes());
        ingress.tags[2..4].copy_from_slice(&(tag1 & 0x0fff).to_be_bytes());
        ingress.tags[4..6].copy_from_slice(&TPID_DOT1Q.to_be_bytes());
        ingress.tags[6..8].copy_from_slice(&(tag2 & 0x0fff).to_be_bytes());
        let egress = TagRewrite {
            pop: push,
            push: pop,
            tags: sub.map_or([0; 8], |s| s.wire_tags().0),
        };
        Ok(Vtr {
            op,
            dot1q,
            tag1,
            tag2,
            ingress,
            egress,
        })
    }

    /// Anything configured.
    #[inline(always)]
    pub fn enabled(&self) -> bool {
        self.op != VtrOp::Disabled
    }
}

/// The VLAN-Tag-Rewrite column of `show bridge-domain <id> detail` (VPP's layout).
impl std::fmt::Display for Vtr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let q = if self.dot1q { "dot1q" } else { "dot1ad" };
        let (a, b) = (self.tag1, self.tag2);
        match self.op {
            VtrOp::Disabled => f.write_str("none"),
            VtrOp::Pop1 => f.write_str("pop-1"),
            VtrOp::Pop2 => f.write_str("pop-2"),
            VtrOp::Push1 => write!(f, "push-1 {q} {a}"),
            VtrOp::Push2 => write!(f, "push-2 {q} {a} {b}"),
            VtrOp::Translate11 => write!(f, "trans-1-1 {q} {a}"),
            VtrOp::Translate12 => write!(f, "trans-1-2 {q} {a} {b}"),
            VtrOp::Translate21 => write!(f, "trans-2-1 {q} {a}"),
            VtrOp::Translate22 => write!(f, "trans-2-2 {q} {a} {b}"),
        }
    }
}

impl VnetState {
    /// Enters sub-interface `sw` (record already made) into its parent's match table, made if
    /// the parent had none. Fails, changing nothing, when another sub-interface of the port
    /// takes the same tags.
    pub fn attach_sub(&mut self, sw: u32, sub: SubIf) -> Result<(), String> {
        let p = self.get_mut(sub.sup).ok_or("unknown interface")?;
        let t = p.vlan.subs.get_or_insert_with(|| Box::new(SubTable::new()));
        if t.in_use(&sub) {
            if t.children.is_empty() {
                p.vlan.subs = None;
            }
            return Err("vlan is already in use".into());
        }
        *t.slot_mut(&sub) = Subint {
            sw,
            bits: sub.match_bits(),
        };
        t.children.push(sw);
        if let Some(i) = self.get_mut(sw) {
            i.vlan.sub = Some(sub);
        }
        Ok(())
    }

    /// Takes sub-interface `sw` out of its parent's match table (dropping the table with the
    /// last one). No-op for anything else.
    pub fn detach_sub(&mut self, sw: u32) {
        let Some(sub) = self.get(sw).and_then(|i| i.vlan.sub) else {
            return;
        };
        let Some(p) = self.get_mut(sub.sup) else {
            return;
        };
        if let Some(t) = p.vlan.subs.as_mut() {
            let slot = t.slot_mut(&sub);
            if slot.sw == sw {
                *slot = Subint::NONE;
            }
            t.children.retain(|&c| c != sw);
            if t.children.is_empty() {
                p.vlan.subs = None;
            }
        }
    }

    /// The sub-interfaces of port `sw` (none for anything else).
    pub fn sub_children(&self, sw: u32) -> Vec<u32> {
        self.get(sw)
            .and_then(|i| i.vlan.subs.as_ref())
            .map_or_else(Vec::new, |t| t.children.clone())
    }

    /// Whether IP addresses may go on `sw`: not on a sub-interface without exact-match (VPP's
    /// `vnet_sw_interface_supports_addressing`, same message).
    pub fn supports_addressing(&self, sw: u32) -> Result<(), String> {
        match self.get(sw).and_then(|i| i.vlan.sub) {
            Some(s) if !s.exact && matches!(s.m, SubMatch::One { .. } | SubMatch::Two { .. }) => {
                Err("sub-interface without exact-match doesn't support IP addressing".into())
            }
            _ => Ok(()),
        }
    }

    /// VLAN tags with fixed values that the frames of L2 interface `sw` carry inside its bridge
    /// or cross-connect: its match's tags, less those its tag rewrite pops, plus those it
    /// pushes.
    pub fn l2_tags(&self, sw: u32) -> u8 {
        let Some(i) = self.get(sw) else {
            return 0;
        };
        let fixed = i.vlan.sub.map_or(0, |s| s.n_tags());
        let (pop, push) = i.vlan.vtr.op.counts();
        (fixed + push).saturating_sub(pop)
    }

    /// The RFC 4446 PW type pseudowire interface `pw` carries (RFC 4448's modes), for the
    /// control plane to signal: 4 (Ethernet tagged mode) when it is cross-connected to an
    /// attachment circuit whose frames keep a service-delimiting tag (a VLAN sub-interface
    /// without `pop`, a port with `push`), else 5 (Ethernet, raw mode).
    pub fn pw_type(&self, pw: u32) -> u16 {
        match self.get(pw).map(|i| i.l2) {
            Some(L2Mode::Xconnect { peer }) if self.l2_tags(peer) > 0 => 4,
            _ => 5,
        }
    }

    /// [`VnetState::pw_type`] and where the pseudowire goes, as `show l2tpv3 verbose`'s line.
    pub fn pw_desc(&self, pw: u32) -> String {
        let kind = match self.pw_type(pw) {
            4 => "ethernet tagged (4)",
            _ => "ethernet (5)",
        };
        match self.get(pw).map(|i| i.l2) {
            Some(L2Mode::Xconnect { peer }) => {
                let name = self.get(peer).map_or("?", |i| i.name.as_str());
                format!("pw type {kind} on {name}")
            }
            Some(L2Mode::Bridge { bd_id, .. }) => {
                format!("pw type {kind} in bridge-domain {bd_id}")
            }
            _ => format!("pw type {kind}, not attached"),
        }
    }
}

impl crate::Vnet {
    /// Makes sub-interface `<port>.<id>` of `sup` matching `m` (admin down; the port's class,
    /// device, MAC and MTUs); returns its sw_if_index.
    pub fn create_sub_interface(
        &self,
        ctl: &mut pwire_graph::Ctl,
        sup: u32,
        id: u32,
        m: SubMatch,
        dot1ad: bool,
        exact: bool,
    ) -> Result<u32, String> {
        let sub = SubIf {
            sup,
            id,
            m,
            dot1ad,
            exact,
        };
        let (name, class, dev, mac, mtu, hw_mtu, link) = {
            let s = self.state.get(ctl);
            let p = s.get(sup).ok_or("unknown interface")?;
            let c = self.statics().class(p.class);
            if p.vlan.sub.is_some() || !c.ethernet || c.name == "local" {
                return Err(format!("{} is not an ethernet port", p.name));
            }
            if p.vlan.subs.as_ref().is_some_and(|t| t.in_use(&sub)) {
                return Err("vlan is already in use".into());
            }
            (
                format!("{}.{id}", p.name),
                p.class,
                p.dev_instance,
                p.mac,
                p.mtu,
                p.hw_mtu,
                p.link_up,
            )
        };
        let sw = self.create_interface(ctl, name, class, dev, mac)?;
        let s = self.state.write(ctl);
        if let Some(i) = s.get_mut(sw) {
            i.mtu = mtu;
            i.hw_mtu = hw_mtu;
            i.link_up = link;
        }
        s.attach_sub(sw, sub)?;
        Ok(sw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_vec_is_a_vec_whose_elements_stay_put() {
        let mut v = ChunkedVec::new();
        let mut r = Vec::new();
        assert!(v.is_empty() && v.get(0).is_none() && v.pop().is_none());
        v.push(0u32);
        let first = std::ptr::from_ref(&v[0]);
        for i in 1..3 * CHUNK as u32 + 5 {
            v.push(i);
        }
        r.extend(0..3 * CHUNK as u32 + 5);
        assert_eq!(std::ptr::from_ref(&v[0]), first, "an element moved");
        assert_eq!(v.len(), r.len());
        assert!(v.iter().eq(r.iter()));
        assert!(v.iter().rev().eq(r.iter().rev()));
        assert_eq!(v.get(r.len()), None);
        // Pops across a chunk boundary, then pushes again into the emptied chunk.
        for _ in 0..10 {
            assert_eq!(v.pop(), r.pop());
        }
        assert_eq!(v.get(r.len()), None);
        v.push(77);
        r.push(77);
        v[CHUNK] += 1;
        r[CHUNK] += 1;
        *v.get_mut(5).unwrap() = 9;
        r[5] = 9;
        for x in v.iter_mut().take(3) {
            *x += 100;
        }
        for x in r.iter_mut().take(3) {
            *x += 100;
        }
        assert_eq!(v.len(), r.len());
        assert!(v.iter().eq(r.iter()));
        assert_eq!(format!("{v:?}"), format!("{r:?}"));
    }
}
