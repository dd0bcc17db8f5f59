//! Longest-prefix match for IPv6, built like VPP's `ip6_fib` over bihash_24_8.
//!
//! One hash table per prefix length; a key is the address masked to that length (16 bytes) and
//! the value is 8 bytes, so a slot is 24 bytes like a bihash_24_8 entry. A lookup probes the
//! lengths in use, longest first, and stops at the first hit. With the usual tables (a few
//! /128s, some /64s, the fe80::/10 and ::/0) that is one to three probes, whatever the number of
//! routes. The hash is a folded 64x64->128 multiply of the two halves of the key, so prefixes that
//! differ only in high bits (all of a /64's variation is in the upper word) still spread over the
//! whole table.

use hashbrown::HashTable;

/// Value stored for a prefix (the caller packs what it needs into it).
pub type Val = u64;

#[derive(Clone, Copy, Debug)]
struct Slot {
    hi: u64,
    lo: u64,
    val: Val,
}

/// The per-length tables and the list of lengths in use.
pub struct Fib {
    tables: Vec<HashTable<Slot>>,
    masks: [u128; 129],
    /// Lengths with at least one prefix, longest first.
    lens: Vec<u8>,
    count: usize,
}

impl std::fmt::Debug for Fib {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fib")
            .field("prefixes", &self.count)
            .field("lens", &self.lens)
            .finish()
    }
}

impl Default for Fib {
    fn default() -> Self {
        Self::new()
    }
}

/// The mask of a prefix length (`len` in 0..=128).
#[inline(always)]
pub fn mask(len: u8) -> u128 {
    match len {
        0 => 0,
        l => !0u128 << (128 - u32::from(l.min(128))),
    }
}

#[inline(always)]
fn hash(hi: u64, lo: u64) -> u64 {
    // Folded multiply (the foldhash/wyhash mixer): every input bit reaches the low bits the
    // table indexes with and the high bits it stores as tags.
    let m =
        u128::from(hi ^ 0x243f_6a88_85a3_08d3).wrapping_mul(u128::from(lo ^ 0x1319_8a2e_0370_7344));
    (m as u64) ^ ((m >> 64) as u64)
}

#[inline(always)]
fn split(k: u128) -> (u64, u64) {
    ((k >> 64) as u64, k as u64)
}

impl Fib {
    pub fn new() -> Self {
        let mut masks = [0u128; 129];
        for (l, m) in masks.iter_mut().enumerate() {
            *m = mask(l as u8);
        }
        Fib {
            tables: (0..=128).map(|_| HashTable::new()).collect(),
            masks,
            lens: Vec::new(),
            count: 0,
        }
    }

    /// Number of prefixes.
    pub fn len(&self) -> usize {
        self.count
    }
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Longest-prefix match: the value of the longest prefix covering `addr`.
    #[inline(always)]
    pub fn lookup(&self, addr: u128) -> Option<Val> {
        for &l in &self.lens {
            let (hi, lo) = split(addr & self.masks[l as usize]);
            if let Some(s) =
                self.tables[l as usize].find(hash(hi, lo), |s| s.hi == hi && s.lo == lo)
            {
                return Some(s.val);
            }
        }
        None
    }

    /// The value of exactly `addr/len`.
    pub fn get(&self, addr: u128, len: u8) -> Option<Val> {
        let (hi, lo) = split(addr & mask(len));
        self.tables
            .get(len as usize)?
            .find(hash(hi, lo), |s| s.hi == hi && s.lo == lo)
            .map(|s| s.val)
    }

    /// Inserts or replaces `addr/len` (the address is masked); returns the old value.
    pub fn insert(&mut self, addr: u128, len: u8, val: Val) -> Option<Val> {
        let len = len.min(128);
        let (hi, lo) = split(addr & mask(len));
        let h = hash(hi, lo);
        let t = &mut self.tables[len as usize];
        if let Some(s) = t.find_mut(h, |s| s.hi == hi && s.lo == lo) {
            return Some(std::mem::replace(&mut s.val, val));
        }
        let was_empty = t.is_empty();
        t.insert_unique(h, Slot { hi, lo, val }, |s| hash(s.hi, s.lo));
        self.count += 1;
        if was_empty {
            self.lens.push(len);
            self.lens.sort_unstable_by(|a, b| b.cmp(a));
        }
        None
    }

    /// Removes `addr/len`; returns its value.
    pub fn remove(&mut self, addr: u128, len: u8) -> Option<Val> {
        let len = len.min(128);
        let (hi, lo) = split(addr & mask(len));
        let t = &mut self.tables[len as usize];
        let e = t
            .find_entry(hash(hi, lo), |s| s.hi == hi && s.lo == lo)
            .ok()?;
        let (s, _) = e.remove();
        self.count -= 1;
        if t.is_empty() {
            self.lens.retain(|&l| l != len);
        }
        Some(s.val)
    }

    /// Prefix lengths in use with their counts, longest first (`show ip6 fib summary`).
    pub fn summary(&self) -> Vec<(u8, usize)> {
        self.lens
            .iter()
            .map(|&l| (l, self.tables[l as usize].len()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn a(s: &str) -> u128 {
        u128::from(s.parse::<std::net::Ipv6Addr>().unwrap())
    }

    #[test]
    fn longest_match_wins() {
        let mut f = Fib::new();
        f.insert(0, 0, 1);
        f.insert(a("fd00::"), 64, 2);
        f.insert(a("fd00::2"), 128, 3);
        f.insert(a("fd00::"), 16, 4);
        assert_eq!(f.lookup(a("fd00::2")), Some(3));
        assert_eq!(f.lookup(a("fd00::3")), Some(2));
        assert_eq!(f.lookup(a("fd00:1::3")), Some(4));
        assert_eq!(f.lookup(a("2001:db8::1")), Some(1));
        assert_eq!(f.remove(a("fd00::2"), 128), Some(3));
        assert_eq!(f.lookup(a("fd00::2")), Some(2));
        assert_eq!(f.summary(), vec![(64, 1), (16, 1), (0, 1)]);
        // Insert masks the address; replacing returns the old value.
        assert_eq!(f.insert(a("fd00::ffff"), 64, 5), Some(2));
        assert_eq!(f.get(a("fd00::"), 64), Some(5));
        assert_eq!(f.len(), 3);
    }

    #[test]
    fn many_slash64_spread() {
        // 100k /64s that differ only in the upper word: all must be found (a weak hash would
        // still be correct, only slow, so check the table stays well under linear probing cost
        // by timing-independent means: every lookup is right and removal keeps the rest).
        let mut f = Fib::new();
        for i in 0..100_000u128 {
            f.insert((0x2001_0db8_u128 << 96) | (i << 64), 64, i as u64);
        }
        for i in (0..100_000u128).step_by(997) {
            assert_eq!(
                f.lookup((0x2001_0db8_u128 << 96) | (i << 64) | 0x1234),
                Some(i as u64)
            );
        }
        assert_eq!(f.lookup(a("2001:db9::1")), None);
    }

    proptest! {
        #[test]
        fn matches_linear_search(
            prefixes in proptest::collection::vec((any::<u128>(), 0u8..=128), 1..40),
            probes in proptest::collection::vec(any::<u128>(), 1..40),
        ) {
            let mut f = Fib::new();
            let mut list: Vec<(u128, u8, u64)> = Vec::new();
            for (i, &(addr, len)) in prefixes.iter().enumerate() {
                let m = addr & mask(len);
                f.insert(m, len, i as u64);
                list.retain(|&(x, l, _)| !(x == m && l == len));
                list.push((m, len, i as u64));
            }
            // Probe both random addresses and addresses inside the prefixes.
            let inside = prefixes.iter().map(|&(x, _)| x);
            for p in probes.iter().copied().chain(inside) {
                let want = list.iter().filter(|&&(x, l, _)| p & mask(l) == x).max_by_key(|&&(_, l, _)| l).map(|&(_, _, v)| v);
                prop_assert_eq!(f.lookup(p), want);
            }
        }
    }
}
