//! The interface table (VPP's sw/hw interfaces, folded into one record).
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

/// Receive mode of an interface's rx queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RxMode {
    #[default]
    Polling,
    Interrupt,
    Adaptive,
}

impl RxMode {
    pub fn as_str(self) -> &'static str {
        match self {
            RxMode::Polling => "polling",
            RxMode::Interrupt => "interrupt",
            RxMode::Adaptive => "adaptive",
        }
    }
}

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
