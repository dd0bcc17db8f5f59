//! pwire-table: the dataplane's lookup table, `u64` key -> small value, open addressing over
//! slots of key + value (16 bytes for values up to 8 bytes, as VPP's bihash_8_8 kv pair), so a
//! lookup touches one cache line, which nodes prefetch for a whole frame before they look up
//! (the L2 FIB and the L2TPv3 session-id table outgrow the caches long before 100k entries).
//!
//! - Multiply-shift hashing with a random odd multiplier chosen per table (a universal family:
//!   keys chosen by a sender cannot be aimed at one probe chain without knowing it).
//! - Linear probing, load kept at most 1/2, deletion by backward shift (no tombstones).
//! - Readers take `&self` and never write; pwire changes a table only from the main thread
//!   with the workers parked.

use std::hash::{BuildHasher, Hasher};

/// Key of an empty slot; never a valid key (callers choose key spaces without it: the L2 FIB's
/// all-ones MAC in BD 0xffff, a session id widened to 64 bits).
pub const EMPTY: u64 = u64::MAX;

#[derive(Debug)]
#[repr(C, align(16))]
struct Slot<V> {
    key: u64,
    e: V,
}

impl<V: Default> Slot<V> {
    fn empty() -> Self {
        Slot {
            key: EMPTY,
            e: V::default(),
        }
    }
}

/// Starts loading the cache line holding `*r` (a hint: nodes resolve a frame's lookups in a
/// first pass and prefetch what the second pass will read).
#[inline(always)]
pub fn prefetch<T>(r: &T) {
    let p = std::ptr::from_ref(r);
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is only a hint: it never faults and changes no memory; `p` comes from
    // a reference, so it is a valid address anyway.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(p.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// `u64` key -> `V`.
#[derive(Debug)]
pub struct Table<V> {
    slots: Box<[Slot<V>]>,
    shift: u32,
    mul: u64,
    len: usize,
}

/// Smallest slot count (a power of two).
const MIN_SLOTS: usize = 16;

impl<V: Default> Table<V> {
    /// A table that holds `n` entries before it grows.
    pub fn with_capacity(n: usize) -> Self {
        let slots = (n.max(1) * 2).next_power_of_two().max(MIN_SLOTS);
        let mul = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish()
            | 1;
        Table {
            slots: (0..slots).map(|_| Slot::empty()).collect(),
            shift: 64 - slots.trailing_zeros(),
            mul,
            len: 0,
        }
    }

    #[inline(always)]
    fn home(&self, key: u64) -> usize {
        (key.wrapping_mul(self.mul) >> self.shift) as usize
    }

    #[inline(always)]
    fn mask(&self) -> usize {
        self.slots.len() - 1
    }

    /// Slot index holding `key`.
    #[inline(always)]
    fn find(&self, key: u64) -> Option<usize> {
        let m = self.mask();
        let mut i = self.home(key);
        loop {
            let k = self.slots[i].key;
            if k == key {
                return Some(i);
            }
            if k == EMPTY {
                return None;
            }
            i = (i + 1) & m;
        }
    }

    /// Starts loading the cache line `key` would be found in.
    #[inline(always)]
    pub fn prefetch(&self, key: u64) {
        prefetch(&self.slots[self.home(key)]);
    }

    #[inline(always)]
    pub fn get(&self, key: &u64) -> Option<&V> {
        self.find(*key).map(|i| &self.slots[i].e)
    }

    pub fn get_mut(&mut self, key: &u64) -> Option<&mut V> {
        self.find(*key).map(|i| &mut self.slots[i].e)
    }

    pub fn contains_key(&self, key: &u64) -> bool {
        self.find(*key).is_some()
    }

    /// Slots allocated (twice the entries at most, a power of two).
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Inserts or replaces; returns the old entry.
    pub fn insert(&mut self, key: u64, e: V) -> Option<V> {
        debug_assert!(key != EMPTY);
        if let Some(i) = self.find(key) {
            return Some(std::mem::replace(&mut self.slots[i].e, e));
        }
        if (self.len + 1) * 2 > self.slots.len() {
            self.grow();
        }
        let m = self.mask();
        let mut i = self.home(key);
        while self.slots[i].key != EMPTY {
            i = (i + 1) & m;
        }
        self.slots[i] = Slot { key, e };
        self.len += 1;
        None
    }

    fn grow(&mut self) {
        let n = self.slots.len() * 2;
        let old = std::mem::replace(&mut self.slots, (0..n).map(|_| Slot::empty()).collect());
        self.shift = 64 - n.trailing_zeros();
        self.len = 0;
        for s in old.into_vec() {
            if s.key != EMPTY {
                self.insert(s.key, s.e);
            }
        }
    }

    /// Removes `key`, shifting later members of its probe run back so no run has a hole.
    pub fn remove(&mut self, key: &u64) -> Option<V> {
        let mut hole = self.find(*key)?;
        let m = self.mask();
        let removed = std::mem::replace(&mut self.slots[hole], Slot::empty());
        self.len -= 1;
        let mut j = hole;
        loop {
            j = (j + 1) & m;
            let k = self.slots[j].key;
            if k == EMPTY {
                break;
            }
            // `j`'s entry may move into the hole only if its home is not in (hole, j].
            let home = self.home(k);
            let stays = if hole <= j {
                hole < home && home <= j
            } else {
                hole < home || home <= j
            };
            if !stays {
                self.slots.swap(hole, j);
                hole = j;
            }
        }
        Some(removed.e)
    }

    /// Keeps only the entries for which `f` is true.
    pub fn retain(&mut self, mut f: impl FnMut(&u64, &V) -> bool) {
        let gone: Vec<u64> = self
            .iter()
            .filter(|(k, e)| !f(k, e))
            .map(|(&k, _)| k)
            .collect();
        for k in gone {
            self.remove(&k);
        }
    }

    pub fn clear(&mut self) {
        for s in self.slots.iter_mut() {
            *s = Slot::empty();
        }
        self.len = 0;
    }

    pub fn iter(&self) -> impl Iterator<Item = (&u64, &V)> {
        self.slots
            .iter()
            .filter(|s| s.key != EMPTY)
            .map(|s| (&s.key, &s.e))
    }

    pub fn keys(&self) -> impl Iterator<Item = &u64> {
        self.iter().map(|(k, _)| k)
    }
}

impl<V: Default> std::ops::Index<&u64> for Table<V> {
    type Output = V;
    fn index(&self, key: &u64) -> &V {
        self.get(key).expect("no such table key")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_a_reference_map_under_churn() {
        // Under Miri (scripts/test.sh) a step costs thousands of times more: fewer steps over
        // fewer keys still grow the table several times and wrap probe runs around its end.
        let (steps, keys) = if cfg!(miri) {
            (1_500, 200)
        } else {
            (20_000, 3000)
        };
        let mut f = Table::<u32>::with_capacity(4);
        let mut r = std::collections::HashMap::new();
        let mut x = 0x1234_5678_9abc_def0u64;
        for step in 0..steps {
            // xorshift: keys from a small range so inserts, hits and removals all happen.
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let k = (x % keys) | ((x >> 60) << 48);
            // The one unsafe block here (the prefetch hint) runs under Miri too.
            f.prefetch(k);
            if x & 3 == 0 {
                assert_eq!(f.remove(&k), r.remove(&k));
            } else {
                let old = f.insert(k, step);
                assert_eq!(old, r.insert(k, step));
            }
            assert_eq!(f.len(), r.len());
        }
        for (k, v) in &r {
            assert_eq!(f.get(k), Some(v));
        }
        assert_eq!(f.iter().count(), r.len());
        f.retain(|k, _| k % 2 == 0);
        assert!(f.keys().all(|k| k % 2 == 0));
        assert_eq!(f.len(), r.keys().filter(|k| *k % 2 == 0).count());
        f.clear();
        assert!(f.is_empty() && f.get(&2).is_none());
    }
}
