//! Longest-prefix match for IPv4: a 16-8-8 multibit trie (VPP's `ip4_mtrie_16` shape), with
//! covers kept per level instead of pushed down to the leaves, and its second level laid out
//! flat, so that a lookup is one read for all but a few addresses.
//!
//! # Why not DIR-24-8, and why not VPP's mtrie as it is
//!
//! DPDK's DIR-24-8 answers a /24-or-shorter lookup with one read from a 2^24-entry table, but a
//! prefix of length `l` ≤ 24 is written into 2^(24-l) of its entries: a /8 touches 65 536, a /1
//! 8 388 608 (32 MiB), all while the workers are parked, and deleting it rewrites them again.
//! (Built beside and swapped instead, every change would copy the table.)
//!
//! VPP's 16-8-8 mtrie writes a /8 into 256 root slots only, but pushes every prefix down into
//! the plies below it, so adding or removing a short prefix also rewrites every ply under it
//! (up to 256 × 256 slots for a /8 over a full table, 8M for a /1), and a lookup reads root,
//! then ply, then ply: dependent loads, each a miss once the table outgrows the caches.
//!
//! Here:
//! - root (by the top 16 bits, 4-byte slots, 256 KiB): the *cover*, the longest prefix of
//!   length ≤ 16 containing the slot (always present: 0.0.0.0/0);
//! - second level, flat (by the top 24 bits: the /16's 256 slots at `(a >> 16) * 256`):
//!   the longest prefix of length 17..24 containing the slot, [`NONE`] ("use the cover"), or
//!   a third-level ply ([`PLY3`] bit). Its 64 MiB are reserved as address space at start and
//!   touched only where a /16 holds longer prefixes (1 KiB each);
//! - third level (rare: prefixes longer than /24), plies of 256 slots: the longest prefix of
//!   length 17..32 containing the slot, or [`NONE`] (pushed down from the second level only).
//!
//! A lookup reads the second-level slot, which answers it unless it is [`NONE`] or a ply
//! (see `unresolved`); then the third-level slot, and the cover only where no prefix longer
//! than /16 contains the address. [`Mtrie::start`] and [`Mtrie::finish`] split the two, so
//! that `ip4-lookup` can read a packet's slot some packets before it needs the entry.
//!
//! A change of a prefix of length `l` writes:
//! - `l` ≤ 16: 2^(16-l) root slots (a /8: 256; at most 32 768, a /1);
//! - 17 ≤ `l` ≤ 24: 2^(24-l) second-level slots and the third-level plies under them (at most
//!   128 × 256 = 32 768 slots, a /17 over 128 /24s that all hold longer prefixes);
//! - `l` ≥ 25: 2^(32-l) slots of one third-level ply (at most 128), plus one ply made (256
//!   slots) or folded back;
//!
//! whatever the table holds. That is the whole of the work done with the workers parked.
//!
//! Entry indices are what the slots hold (0 is 0.0.0.0/0, which only ever covers: [`NONE`] is
//! 0, so untouched memory reads as "no prefix here"); what an entry means (its forwarding) is
//! one indirection away, so a route whose next hop changes, or whose neighbour resolves, is a
//! write to one word and never a walk of the trie.
//!
//! # Memory
//!
//! For a full table (1M prefixes of Internet-like lengths, as `scripts/bench.py` makes): about
//! 57k /16s hold longer prefixes (second level: nearly all of its 64 MiB), 26k /24s hold
//! prefixes longer than /24 (third level: 25 MiB), root 256 KiB: about 90 bytes a prefix, plus the
//! entry's row (32 bytes per thread, `state`). DIR-24-8 holds the same (its 64 MiB table and a 1
//! KiB group per /24 with longer prefixes), VPP's mtrie a 1 KiB ply per /16 and per /24 with longer
//! prefixes: the three differ in update cost and in reads per lookup, not in size. A small table
//! touches only its own plies (1 KiB per /16 with longer prefixes).
//!
//! # What a lookup over a big table costs
//!
//! Measured on the VMs this project runs on (Firecracker, 4 KiB host pages), with 1024 destinations
//! over a full table: the lines a lookup reads stay in L2 (a few thousand lines), but
//! each destination's second-level slot is on a page of its own (1024 random /24s among 16 384
//! pages), and so is its row. The second-level TLB holds 2048 translations (8 MiB); random reads
//! over 1024 pages cost about 1.3 clocks each, over 2048 about 3, over 3072 about 15 (page walks,
//! which the core runs a few at a time). The second level and the rows, with the rest of the
//! graph's pages, are past that knee; with one route, a frame touches a handful of pages. (The
//! second level alone is: an experiment build whose lookups read only the first 1024 rows
//! cost the same, 28.1 clocks over 1M routes against 11.9 over one. The rows alone are not: one
//! whose entries came from a hash of the destination, 1024 random rows and no slot read, cost
//! 22.1 against 18.8 for the same rows on a dozen pages; 2026-12-07.)
//!
//! The other way round, same table: 1024 destinations in 1024 /24s of four /16s whose routes
//! were added first (their second-level slots in four plies, their rows consecutive: a dozen
//! pages) cost 17.1 clocks, against 30.4 for 1024 destinations spread over the table and 11.9
//! for one route (medians of 3 alternated runs, 2026-12-07). So of the 18.5 clocks the spread
//! destinations add, 13.3 are pages; the other 5.2 are what 1024 different entries cost where
//! one entry does not: a counter update per packet (runs of one entry share one) and 1024
//! rows' lines.
//!
//! What lowered the page cost:
//! - a page fewer per packet: the cover is read only where the second level has no answer
//!   (1.5% of the benchmark's destinations; 2.5% more read a third-level ply), where it used to
//!   be read for every packet;
//! - the walks overlapped with work: `ip4-lookup` reads each slot 32 packets ahead of its
//!   loop. Read in a pass of their own before the loop (the frame's slots first), the walks had
//!   nothing to overlap: 6% more clocks over the spread destinations, 13% more over the local
//!   ones (paired, 2026-12-07). Prefetching the rows as well cost more than it saved, and so
//!   did prefetching each slot 64 packets ahead of its read (10% more with the rows prefetched
//!   at the read, 15% more without: the hint's own work, and no more walks in flight);
//! - 2 MiB guest pages under the second level (see `huge`): a shorter walk, 12% fewer clocks.
//!
//! With all three (and the big-table loop compiled apart from the small-table one), the day's
//! last runs gave 26-28 clocks spread, 14.2-14.8 local and 11.8-12.5 for one route: local
//! within 1.3x of one route, spread 2.1-2.35x.
//!
//! Compact or line-aligned plies do not change how many pages 1024 random destinations hit.
//! What would remove the rest is a table small enough for the TLB (not possible with a slot
//! per /24 or per prefix: ~1000 pages for 1024 random destinations whatever the layout, and the
//! per-entry rows VPP's counters need are as many again) or caching by destination, which the
//! benchmark's 1024 destinations are there to defeat and which random destinations defeat too.

use pwire_vnet::interface::ChunkedVec;

/// A second- or third-level slot holding no prefix of its level: the lookup uses the cover.
pub const NONE: u32 = 0;
/// Marks a second-level slot as the index of a third-level ply.
pub const PLY3: u32 = 0x8000_0000;

/// One ply: 256 slots.
pub type Ply = [u32; 256];

/// Never a slot: entries are below [`PLY3`], and plies are fewer than `2^31 - 1` (a ply holds
/// a prefix longer than /24, and prefixes are fewer than `MAX_ENTRIES`). `ip4-lookup` marks a
/// packet without a destination with it.
pub const NO_SLOT: u32 = u32::MAX;

/// True if second-level slot `s` is not an entry ([`NONE`], a [`PLY3`] ply, or [`NO_SLOT`]):
/// one compare.
#[inline(always)]
const fn unresolved(s: u32) -> bool {
    s.wrapping_sub(1) >= PLY3 - 1
}

/// The trie.
pub struct Mtrie {
    /// By the top 16 bits: the cover entry.
    root: Box<[u32]>,
    /// By the top 24 bits: the second-level slots, a /16's 256 together (reserved, zero until
    /// written).
    flat: Vec<u32>,
    /// Non-[`NONE`] second-level slots per /16 (control plane: statistics).
    used: Box<[u16]>,
    /// Third-level plies.
    ply3: ChunkedVec<Ply>,
    free3: Vec<u32>,
    /// Slots written by the last change (tests check the bound above).
    pub touched: usize,
}

impl std::fmt::Debug for Mtrie {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (p2, p3) = self.plies();
        f.debug_struct("Mtrie")
            .field("ply2", &p2)
            .field("ply3", &p3)
            .finish()
    }
}

const ROOT_SLOTS: usize = 1 << 16;

impl Mtrie {
    /// A trie where every address matches `default` (the 0.0.0.0/0 entry, index 0).
    pub fn new(default: u32) -> Self {
        // Zeroed by the allocator (fresh anonymous pages): nothing is touched until written.
        // (A `u32` vector: `vec!` asks the allocator for zeroed memory only for element types
        // it knows are all-zero, which a 256-slot array is not.)
        let flat = vec![NONE; ROOT_SLOTS * 256];
        Mtrie {
            root: vec![default; ROOT_SLOTS].into_boxed_slice(),
            flat,
            used: vec![0; ROOT_SLOTS].into_boxed_slice(),
            ply3: ChunkedVec::new(),
            free3: Vec::new(),
            touched: 0,
        }
    }

    /// Asks for 2 MiB pages under the second level (once the table is big: see `state`).
    pub fn advise_huge(&self) {
        crate::huge::advise(&self.flat);
    }

    /// Longest-prefix match: the entry of the longest prefix containing `a`.
    #[inline(always)]
    pub fn lookup(&self, a: u32) -> u32 {
        self.finish(a, self.start(a))
    }

    /// The first read of a lookup of `a`: its second-level slot, which [`Mtrie::finish`]
    /// turns into the entry. (Split so that a caller can make the read a few packets before it
    /// needs the entry.)
    #[inline(always)]
    pub fn start(&self, a: u32) -> u32 {
        self.slot2(a)
    }

    /// True if slot `s` from [`Mtrie::start`] is the entry itself (all but a few addresses),
    /// so that [`Mtrie::finish`] has nothing to do.
    #[inline(always)]
    pub const fn answers(s: u32) -> bool {
        !unresolved(s)
    }

    /// The entry of `a`, whose [`Mtrie::start`] gave `s`: `s` itself, or the rest of the
    /// lookup where `s` does not answer it.
    #[inline(always)]
    pub fn finish(&self, a: u32, s: u32) -> u32 {
        if unresolved(s) {
            self.resolve(a, s)
        } else {
            s
        }
    }

    /// The second-level slot of `a`: its entry unless [`unresolved`].
    #[inline(always)]
    fn slot2(&self, a: u32) -> u32 {
        self.flat[(a >> 8) as usize]
    }

    /// The rest of the lookup of `a`, whose second-level slot `s` is [`unresolved`]: the
    /// third-level slot, and the cover where no prefix longer than /16 contains `a`.
    #[inline(always)]
    fn resolve(&self, a: u32, s: u32) -> u32 {
        let mut v = s;
        if s & PLY3 != 0 {
            v = match self.ply3.get((s & !PLY3) as usize) {
                Some(p3) => p3[(a & 0xff) as usize],
                None => NONE,
            };
        }
        if v == NONE {
            self.root[(a >> 16) as usize]
        } else {
            v
        }
    }

    /// /16s holding longer prefixes, and third-level plies in use (`show ip fib summary`).
    pub fn plies(&self) -> (usize, usize) {
        (
            self.used.iter().filter(|&&n| n != 0).count(),
            self.ply3.len() - self.free3.len(),
        )
    }

    fn new_ply3(&mut self, fill: u32) -> u32 {
        match self.free3.pop() {
            Some(i) => {
                self.ply3[i as usize] = [fill; 256];
                i
            }
            None => {
                self.ply3.push([fill; 256]);
                (self.ply3.len() - 1) as u32
            }
        }
    }

    /// Sets second-level slot `j` of /16 `hi`, keeping the count of used slots.
    fn set2(&mut self, hi: usize, j: usize, v: u32) {
        let old = std::mem::replace(&mut self.flat[hi * 256 + j], v);
        match (old == NONE, v == NONE) {
            (true, false) => self.used[hi] += 1,
            (false, true) => self.used[hi] -= 1,
            _ => {}
        }
    }

    /// Adds prefix `a/len` (`a` masked) whose entry is `e`. `depth` gives the prefix length of
    /// an entry already in the trie; slots holding a longer prefix keep it.
    pub fn insert(&mut self, a: u32, len: u8, e: u32, depth: impl Fn(u32) -> u8) {
        debug_assert!(e & PLY3 == 0 && len <= 32);
        debug_assert!(len <= 16 || e != NONE, "entry 0 is 0.0.0.0/0");
        let shallower = |v: u32| v == NONE || depth(v) < len;
        let mut touched = 0;
        let hi = (a >> 16) as usize;
        if len <= 16 {
            for r in &mut self.root[hi..hi + (1 << (16 - len))] {
                if depth(*r) < len {
                    *r = e;
                    touched += 1;
                }
            }
            self.touched = touched;
            return;
        }
        let j0 = ((a >> 8) & 0xff) as usize;
        if len <= 24 {
            for j in j0..j0 + (1 << (24 - len)) {
                let s = self.flat[hi * 256 + j];
                if s & PLY3 != 0 {
                    for v in self.ply3[(s & !PLY3) as usize].iter_mut() {
                        if shallower(*v) {
                            *v = e;
                            touched += 1;
                        }
                    }
                } else if shallower(s) {
                    self.set2(hi, j, e);
                    touched += 1;
                }
            }
            self.touched = touched;
            return;
        }
        let s = self.flat[hi * 256 + j0];
        let p3 = if s & PLY3 != 0 {
            s & !PLY3
        } else {
            // The /24's own best match so far fills the new ply.
            let p3 = self.new_ply3(s);
            self.set2(hi, j0, PLY3 | p3);
            touched += 257;
            p3
        };
        let k0 = (a & 0xff) as usize;
        for v in &mut self.ply3[p3 as usize][k0..k0 + (1 << (32 - len))] {
            if shallower(*v) {
                *v = e;
                touched += 1;
            }
        }
        self.touched = touched;
    }

    /// Removes prefix `a/len`, whose entry is `e`: the slots it held take `repl`, the longest
    /// prefix containing it among the lengths its level keeps (for `len` ≤ 16: of length < `len`,
    /// which always exists; above 16: of length 17..`len`, or [`NONE`]). Third-level plies left
    /// holding nothing longer than /24 fold back into their second-level slot.
    pub fn remove(&mut self, a: u32, len: u8, e: u32, repl: u32) {
        let mut touched = 0;
        let hi = (a >> 16) as usize;
        if len <= 16 {
            for r in &mut self.root[hi..hi + (1 << (16 - len))] {
                if *r == e {
                    *r = repl;
                    touched += 1;
                }
            }
            self.touched = touched;
            return;
        }
        let j0 = ((a >> 8) & 0xff) as usize;
        let span = if len <= 24 { 1 << (24 - len) } else { 1 };
        for j in j0..j0 + span {
            let s = self.flat[hi * 256 + j];
            if s & PLY3 != 0 {
                let i3 = (s & !PLY3) as usize;
                let range = if len <= 24 {
                    0..256
                } else {
                    let k0 = (a & 0xff) as usize;
                    k0..k0 + (1 << (32 - len))
                };
                let p3 = &mut self.ply3[i3];
                for v in &mut p3[range] {
                    if *v == e {
                        *v = repl;
                        touched += 1;
                    }
                }
                // Nothing longer than /24 left: every slot holds the /24's value; fold it back.
                let first = p3[0];
                if p3.iter().all(|&v| v == first) {
                    self.set2(hi, j, first);
                    self.free3.push(i3 as u32);
                    touched += 1;
                }
            } else if s == e {
                self.set2(hi, j, repl);
                touched += 1;
            }
        }
        self.touched = touched;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use pwire_wire::ipv4::mask;
    use std::collections::HashMap;

    /// A reference table: prefixes by (addr, len) → entry, matched by trying every length.
    #[derive(Default)]
    struct Model {
        pfx: HashMap<(u32, u8), u32>,
        len_of: HashMap<u32, u8>,
    }

    impl Model {
        fn lpm(&self, a: u32) -> u32 {
            (0..=32u8)
                .rev()
                .find_map(|l| self.pfx.get(&(a & mask(l), l)).copied())
                .unwrap()
        }
        fn repl(&self, a: u32, len: u8) -> u32 {
            let lo = if len <= 16 { 0 } else { 17 };
            (lo..len)
                .rev()
                .find_map(|l| self.pfx.get(&(a & mask(l), l)).copied())
                .unwrap_or(NONE)
        }
    }

    struct T {
        m: Mtrie,
        model: Model,
        next: u32,
    }

    impl T {
        fn new() -> T {
            let mut model = Model::default();
            model.pfx.insert((0, 0), 0);
            model.len_of.insert(0, 0);
            T {
                m: Mtrie::new(0),
                model,
                next: 1,
            }
        }
        fn add(&mut self, a: u32, len: u8) -> u32 {
            let a = a & mask(len);
            if let Some(&e) = self.model.pfx.get(&(a, len)) {
                return e;
            }
            let e = self.next;
            self.next += 1;
            self.model.pfx.insert((a, len), e);
            self.model.len_of.insert(e, len);
            let lens = &self.model.len_of;
            self.m.insert(a, len, e, |x| lens[&x]);
            e
        }
        fn del(&mut self, a: u32, len: u8) {
            let a = a & mask(len);
            if len == 0 {
                return;
            }
            let Some(e) = self.model.pfx.remove(&(a, len)) else {
                return;
            };
            let r = self.model.repl(a, len);
            self.m.remove(a, len, e, r);
        }
        fn check(&self, probes: impl IntoIterator<Item = u32>) {
            for a in probes {
                assert_eq!(self.m.lookup(a), self.model.lpm(a), "lookup {a:#010x}");
            }
        }
    }

    fn ip(s: &str) -> u32 {
        u32::from(s.parse::<std::net::Ipv4Addr>().unwrap())
    }

    #[test]
    fn longest_match_at_every_level() {
        let mut t = T::new();
        let e8 = t.add(ip("10.0.0.0"), 8);
        let e24 = t.add(ip("10.1.2.0"), 24);
        let e30 = t.add(ip("10.1.2.4"), 30);
        let e20 = t.add(ip("10.1.0.0"), 20);
        let e32 = t.add(ip("10.1.2.5"), 32);
        assert_eq!(t.m.lookup(ip("10.1.2.5")), e32);
        assert_eq!(t.m.lookup(ip("10.1.2.6")), e30);
        assert_eq!(t.m.lookup(ip("10.1.2.9")), e24);
        assert_eq!(t.m.lookup(ip("10.1.3.9")), e20);
        assert_eq!(t.m.lookup(ip("10.1.16.1")), e8);
        assert_eq!(t.m.lookup(ip("11.0.0.1")), 0);
        assert_eq!(t.m.plies(), (1, 1));
        t.del(ip("10.1.2.4"), 30);
        t.del(ip("10.1.2.5"), 32);
        assert_eq!(t.m.lookup(ip("10.1.2.5")), e24);
        assert_eq!(t.m.plies(), (1, 0), "third level folded back");
        t.del(ip("10.1.2.0"), 24);
        assert_eq!(t.m.lookup(ip("10.1.2.5")), e20);
        t.del(ip("10.1.0.0"), 20);
        assert_eq!(t.m.plies(), (0, 0), "second level empty again");
        assert_eq!(t.m.lookup(ip("10.1.2.5")), e8);
        t.del(ip("10.0.0.0"), 8);
        assert_eq!(t.m.lookup(ip("10.1.2.5")), 0);
        t.check((0..2000).map(|i: u32| i.wrapping_mul(2_654_435_761)));
    }

    #[test]
    fn short_prefix_over_a_full_table_touches_a_bounded_number_of_slots() {
        // 65 536 /24s under 10.0.0.0/8 plus a /28 in each of 128 of them: the /8 and /1
        // changes touch root slots only; a /17 over /24s with longer prefixes stays under
        // 128 × 256.
        let mut t = T::new();
        for i in 0..65_536u32 {
            t.add(ip("10.0.0.0") | (i << 8), 24);
        }
        for i in 0..128u32 {
            t.add(ip("10.200.0.16") | (i << 8), 28);
        }
        let before = t.m.plies();
        t.add(ip("10.0.0.0"), 8);
        assert_eq!(t.m.touched, 256, "a /8 writes its 256 root slots");
        t.add(ip("0.0.0.0"), 1);
        assert!(t.m.touched <= 32_768);
        t.add(ip("10.200.0.0"), 17);
        assert!(t.m.touched <= 128 * 256, "{}", t.m.touched);
        t.del(ip("10.200.0.0"), 17);
        assert!(t.m.touched <= 128 * 256, "{}", t.m.touched);
        t.del(ip("10.0.0.0"), 8);
        assert_eq!(t.m.touched, 256);
        assert_eq!(t.m.plies(), before);
        t.check(
            (0..5000u32)
                .map(|i| ip("10.0.0.0") | i.wrapping_mul(2_654_435_761) >> 8)
                .chain((0..256).map(|i| ip("10.200.0.0") | (i << 8) | 20)),
        );
    }

    #[test]
    fn freed_third_level_plies_are_reused() {
        let mut t = T::new();
        for round in 0..3 {
            for i in 0..100u32 {
                t.add(ip("20.0.0.0") | (i << 16) | 0x0100, 24);
                t.add(ip("20.0.0.0") | (i << 16) | 0x0180, 25);
            }
            assert_eq!(t.m.plies(), (100, 100), "round {round}");
            for i in 0..100u32 {
                t.del(ip("20.0.0.0") | (i << 16) | 0x0100, 24);
                t.del(ip("20.0.0.0") | (i << 16) | 0x0180, 25);
            }
            assert_eq!(t.m.plies(), (0, 0));
        }
        assert_eq!(t.m.ply3.len(), 100, "no growth after the first round");
    }

    /// splitmix64: a seeded stream for the tests below.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    /// The reference: every live prefix scanned, the longest containing `a` wins.
    fn linear_lpm(pfx: &[(u32, u8, u32)], a: u32) -> u32 {
        pfx.iter()
            .filter(|&&(p, l, _)| a & mask(l) == p)
            .max_by_key(|&&(_, l, _)| l)
            .map(|&(_, _, e)| e)
            .unwrap()
    }

    #[test]
    fn split_lookup_matches_a_linear_scan_through_adds_and_deletes() {
        let mut r = Rng(0x5eed);
        let mut t = T::new();
        // Prefixes clustered in a few /8s and /16s so that every level holds overlapping ones,
        // with lengths around the level boundaries (16/17, 24/25) and everything else.
        let bases = [
            ip("10.0.0.0"),
            ip("10.1.0.0"),
            ip("172.16.0.0"),
            ip("192.0.2.0"),
        ];
        let lens = [
            0u8, 1, 8, 12, 15, 16, 17, 18, 20, 23, 24, 25, 26, 28, 30, 31, 32,
        ];
        let mut routes: Vec<(u32, u8)> = Vec::new();
        for _ in 0..2000 {
            let base = bases[r.below(bases.len() as u64) as usize];
            let a = base ^ (r.next() as u32 & (0x0003_ffff | (r.next() as u32 & 0x00ff_0000)));
            let l = lens[r.below(lens.len() as u64) as usize];
            routes.push((a & mask(l), l));
        }
        let probes = |r: &mut Rng, routes: &[(u32, u8)]| -> Vec<u32> {
            (0..3001)
                .map(|i| match i % 6 {
                    // Anywhere.
                    0 | 1 => r.next() as u32,
                    // Inside a route, at its edges or anywhere in it.
                    k => {
                        let (a, l) = routes[r.below(routes.len() as u64) as usize];
                        let span = !mask(l);
                        match k {
                            2 => a,
                            3 => a | span,
                            _ => a | (r.next() as u32 & span),
                        }
                    }
                })
                .collect()
        };
        let check = |t: &T, r: &mut Rng, routes: &[(u32, u8)], what: &str| {
            let live: Vec<(u32, u8, u32)> =
                t.model.pfx.iter().map(|(&(a, l), &e)| (a, l, e)).collect();
            let addrs = probes(r, routes);
            // As ip4-lookup does over a big table: every slot read first, then finished.
            let slots: Vec<u32> = addrs.iter().map(|a| t.m.start(*a)).collect();
            for (a, &s) in addrs.iter().zip(&slots) {
                assert_ne!(s, NO_SLOT, "{what}: slot of {a:#010x}");
                let want = linear_lpm(&live, *a);
                assert_eq!(t.m.finish(*a, s), want, "{what}: start/finish of {a:#010x}");
                assert_eq!(t.m.lookup(*a), want, "{what}: lookup of {a:#010x}");
            }
        };
        for &(a, l) in &routes {
            t.add(a, l);
        }
        check(&t, &mut r, &routes, "all added");
        for round in 0..3 {
            // Delete a random half, check, add back a random half of those, check.
            let mut gone = Vec::new();
            for &(a, l) in &routes {
                if r.below(2) == 0 {
                    t.del(a, l);
                    gone.push((a, l));
                }
            }
            check(&t, &mut r, &routes, &format!("round {round}: deleted"));
            for &(a, l) in &gone {
                if r.below(2) == 0 {
                    t.add(a, l);
                }
            }
            check(&t, &mut r, &routes, &format!("round {round}: re-added"));
        }
        assert!(t.m.plies().1 > 0, "the third level was exercised");
    }

    proptest! {
        #[test]
        fn matches_linear_search(
            ops in proptest::collection::vec((any::<bool>(), any::<u32>(), 0u8..=32), 1..60),
            probes in proptest::collection::vec(any::<u32>(), 1..60),
        ) {
            let mut t = T::new();
            // Addresses clustered in a few /16s so that prefixes overlap at every level.
            let fold = |a: u32| (a & 0x0003_ffff) | 0x0a00_0000;
            for &(add, a, len) in &ops {
                if add || len == 0 {
                    t.add(fold(a), len);
                } else {
                    t.del(fold(a), len);
                }
            }
            for &(_, a, _) in &ops {
                prop_assert_eq!(t.m.lookup(fold(a)), t.model.lpm(fold(a)));
            }
            for &p in &probes {
                prop_assert_eq!(t.m.lookup(fold(p)), t.model.lpm(fold(p)));
                prop_assert_eq!(t.m.lookup(p), t.model.lpm(p));
            }
        }
    }
}
