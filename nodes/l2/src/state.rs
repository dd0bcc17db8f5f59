//! Bridge domains and the L2 FIB entries (VPP's `l2input_main.bd_configs` and the l2fib
//! bihash; the table itself is in `fib.rs`).
//!
//! One [`L2State`] lives in a `Shared`: every thread's nodes read it without a lock; only the
//! main thread changes it, under the worker barrier (CLI commands and the learn/age main
//! tasks). The one exception is an entry's age stamp, an `AtomicU8` that `l2-learn` rewrites
//! in place when a known MAC is seen in a new minute (at most once per MAC per minute, never
//! per packet), as VPP's learn node refreshes its bihash entry.

use crate::fib::Fib;
use hashbrown::HashMap;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering::Relaxed};

/// L2 input feature bits, in VPP's order (a higher bit runs earlier). A packet's bitmap is the
/// port's bits masked by its BD's bits and by the packet kind; each feature node clears its bit
/// and goes to the node of the highest bit left.
pub mod feat {
    /// Last-chance drop (`feature-bitmap-drop`), always set.
    pub const DROP: u32 = 1 << 0;
    /// Cross-connect: straight to `l2-output`.
    pub const XCONNECT: u32 = 1 << 1;
    /// Flood broadcast/multicast (`l2-flood`).
    pub const FLOOD: u32 = 1 << 2;
    /// Flood unknown unicast (`l2-flood`).
    pub const UU_FLOOD: u32 = 1 << 3;
    /// Forward by destination MAC (`l2-fwd`).
    pub const FWD: u32 = 1 << 4;
    /// Learn the source MAC (`l2-learn`).
    pub const LEARN: u32 = 1 << 5;
    /// Node names by bit, as `l2-input`'s trace prints them.
    pub const NAMES: [&str; 6] = [
        "feature-bitmap-drop",
        "l2-output",
        "l2-flood",
        "l2-flood",
        "l2-fwd",
        "l2-learn",
    ];
    /// Bits a BD always lets through (only learn/forward/flood/uu-flood are BD settings).
    pub const BD_FIXED: u32 = DROP | XCONNECT;
    /// A bridge port's own bits (a BVI does not learn: its MAC is a static entry).
    pub const fn bridge_port(bvi: bool) -> u32 {
        let b = FWD | UU_FLOOD | FLOOD | DROP;
        if bvi {
            b
        } else {
            b | LEARN
        }
    }
}

/// L2 FIB entry flags (VPP's `l2fib_entry_result_flags_t` bit order, which the `l2-fwd` trace
/// prints).
pub mod flags {
    /// Never moved by learning, never aged (`l2fib add .. static`, BVI).
    pub const STATIC: u8 = 1 << 0;
    /// Provisioned (`l2fib add`): never aged, not counted as learned.
    pub const AGE_NOT: u8 = 1 << 1;
    /// The MAC of the BD's BVI: frames to it go to L3.
    pub const BVI: u8 = 1 << 2;
    /// Drop frames from or to this MAC.
    pub const FILTER: u8 = 1 << 3;
    /// Names by bit (`learn-event`/`learn-move` exist in VPP for its MAC-event API).
    pub const NAMES: [&str; 6] = [
        "static",
        "age-not",
        "bvi",
        "filter",
        "learn-event",
        "learn-move",
    ];
}

/// VPP's default global and per-BD learn limit.
pub const DEFAULT_LEARN_LIMIT: u32 = 16 * 1024 * 1024;
/// Largest bridge-domain ID (24 bits, as VPP).
pub const BD_ID_MAX: u32 = (1 << 24) - 1;
/// `sw_if_index[TX]` of a frame the BVI sends into its bridge (VPP's `L2INPUT_BVI`): tells
/// `l2-input` the frame comes from L3, so split horizon does not apply to it.
pub const TX_FROM_BVI: u32 = u32::MAX - 1;

/// FIB key: the MAC in the low 48 bits, the BD index above (VPP packs the same two).
#[inline(always)]
pub fn key(mac: &[u8], bd_index: u16) -> u64 {
    let m = u64::from_be_bytes([0, 0, mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]]);
    m | (u64::from(bd_index) << 48)
}

/// The MAC of a key.
pub fn key_mac(k: u64) -> [u8; 6] {
    let b = k.to_be_bytes();
    [b[2], b[3], b[4], b[5], b[6], b[7]]
}

/// The BD index of a key.
pub fn key_bd(k: u64) -> u16 {
    (k >> 48) as u16
}

/// Minute stamp (minutes mod 256, VPP's `vlib_time_now / 60` as `u8`); `unit` is the length of
/// a minute in seconds (60, shorter in tests).
#[inline]
#[allow(clippy::cast_sign_loss)] // `now` and `unit` are positive; the floor is taken mod 256
pub fn minute(now: f64, unit: f64) -> u8 {
    ((now / unit) as u64 & 0xff) as u8
}

/// One L2 FIB entry (16 bytes with its key, as VPP's bihash_8_8 entry).
#[derive(Debug)]
pub struct Entry {
    /// Output port (`!0` for a filter entry).
    pub sw_if_index: u32,
    pub flags: u8,
    /// Minute stamp of the last time the MAC was seen (learned entries only).
    pub ts: AtomicU8,
    /// BD and interface sequence numbers when learned (shown as BSN-ISN).
    pub sn: u16,
}

impl Default for Entry {
    fn default() -> Self {
        Entry::new(0, 0, 0, 0)
    }
}

impl Entry {
    pub fn new(sw_if_index: u32, flags: u8, ts: u8, sn: u16) -> Self {
        Entry {
            sw_if_index,
            flags,
            ts: AtomicU8::new(ts),
            sn,
        }
    }
    /// Learned by the dataplane (counted against the learn limits, aged).
    #[inline(always)]
    pub fn learned(&self) -> bool {
        self.flags & flags::AGE_NOT == 0
    }
    /// The entry as VPP's `l2fib_entry_result_t.raw` (shown in the `l2-fwd` trace).
    pub fn raw(&self) -> u64 {
        u64::from(self.sw_if_index)
            | u64::from(self.flags) << 32
            | u64::from(self.ts.load(Relaxed)) << 40
            | u64::from(self.sn) << 48
    }
}

/// A bridge-domain member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member {
    pub sw_if_index: u32,
    pub shg: u8,
    pub bvi: bool,
}

/// One bridge domain.
#[derive(Debug, Clone)]
pub struct Bd {
    pub bd_id: u32,
    pub in_use: bool,
    /// Enabled features ([`feat::LEARN`], `FWD`, `FLOOD`, `UU_FLOOD`) plus [`feat::BD_FIXED`].
    pub feature_bitmap: u32,
    /// Minutes after which an idle learned MAC is removed; 0 = never.
    pub mac_age: u8,
    pub learn_count: u32,
    pub learn_limit: u32,
    /// Flood list. The BVI, if any, is first and flooding walks the list backwards, so the BVI
    /// (whose L3 processing may rewrite the frame) gets the original buffer, last.
    pub members: Vec<Member>,
    pub bvi: Option<u32>,
    /// Bumped when the BD's learned MACs are flushed (BSN).
    pub seq: u8,
    pub tag: Option<String>,
}

impl Bd {
    fn new(bd_id: u32) -> Self {
        Bd {
            bd_id,
            in_use: true,
            feature_bitmap: feat::BD_FIXED | feat::LEARN | feat::FWD | feat::FLOOD | feat::UU_FLOOD,
            mac_age: 0,
            learn_count: 0,
            learn_limit: DEFAULT_LEARN_LIMIT,
            members: Vec::new(),
            bvi: None,
            seq: 0,
            tag: None,
        }
    }
    /// The reserved BD index 0: every feature off, so anything that lands in it is dropped.
    fn default_bd() -> Self {
        Bd {
            feature_bitmap: feat::DROP,
            ..Bd::new(0)
        }
    }
}

/// Settings of the aging scanner.
#[derive(Debug, Clone, Copy)]
pub struct AgeCfg {
    /// Seconds between scans (VPP: 60).
    pub scan_interval: f64,
    /// Length of an aging "minute" in seconds (60; tests shorten it).
    pub minute: f64,
}

/// A MAC a worker learned or saw move, on its way to the main thread.
#[derive(Debug, Clone, Copy)]
pub struct LearnEvent {
    pub key: u64,
    pub sw_if_index: u32,
    /// [`L2State::gen`] when it was learned: events from before a flush are dropped.
    pub gen: u32,
    /// The worker's running event number (tells the worker when its overlay is published).
    pub seq: u64,
    pub ts: u8,
    pub sn: u16,
}

/// What applying a [`LearnEvent`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Learned,
    Moved,
    Refreshed,
    /// Over the global or BD learn limit.
    Limit,
    /// From before a flush, for a BD or port that no longer matches, or hitting a static entry.
    Ignored,
}

/// Everything the L2 nodes and commands share.
#[derive(Debug)]
pub struct L2State {
    pub fib: Fib,
    /// Indexed by bd_index; index 0 is the hidden default BD.
    pub bds: Vec<Bd>,
    pub bd_by_id: HashMap<u32, u16>,
    /// Interface sequence numbers (ISN), bumped when a port joins a BD or is flushed.
    pub if_seq: Vec<u8>,
    pub global_learn_count: u32,
    pub global_learn_limit: u32,
    /// Bumped by every flush; workers drop their unpublished learns when it changes.
    pub gen: u32,
    /// Per thread: the last learn-event number the main thread has applied.
    pub applied: Vec<u64>,
    pub age: AgeCfg,
    /// Seconds the last aging scan took (`show l2fib`'s "Last scan time"), as `f64` bits:
    /// written by the main thread without parking the workers, who never read it.
    pub last_scan: AtomicU64,
    /// FIB slots visited by the changes made so far (main thread, workers parked): what a
    /// change costs under the barrier, readable by tests, which check that it does not grow
    /// with the table.
    pub touched: u64,
}

impl L2State {
    pub fn new(n_threads: usize, fib_capacity: usize) -> Self {
        L2State {
            fib: Fib::with_capacity(fib_capacity),
            bds: vec![Bd::default_bd()],
            bd_by_id: HashMap::new(),
            if_seq: Vec::new(),
            global_learn_count: 0,
            global_learn_limit: DEFAULT_LEARN_LIMIT,
            gen: 0,
            applied: vec![0; n_threads],
            age: AgeCfg {
                scan_interval: 60.0,
                minute: 60.0,
            },
            last_scan: AtomicU64::new(0),
            touched: 0,
        }
    }

    pub fn last_scan(&self) -> f64 {
        f64::from_bits(self.last_scan.load(Relaxed))
    }
    pub fn set_last_scan(&self, secs: f64) {
        self.last_scan.store(secs.to_bits(), Relaxed);
    }

    pub fn bd_index(&self, bd_id: u32) -> Option<u16> {
        self.bd_by_id.get(&bd_id).copied()
    }

    /// Creates a BD with VPP's defaults at the first free index.
    pub fn bd_add(&mut self, bd_id: u32) -> Result<u16, String> {
        let slot = self
            .bds
            .iter()
            .skip(1)
            .position(|b| !b.in_use)
            .map(|p| p + 1);
        let idx = slot.unwrap_or(self.bds.len());
        // Index 0xffff is kept out: with the all-ones MAC it would make the FIB's empty key.
        let idx16 = u16::try_from(idx)
            .ok()
            .filter(|&i| i != u16::MAX)
            .ok_or_else(|| "too many bridge domains".to_string())?;
        match slot {
            Some(i) => self.bds[i] = Bd::new(bd_id),
            None => self.bds.push(Bd::new(bd_id)),
        }
        self.bd_by_id.insert(bd_id, idx16);
        Ok(idx16)
    }

    /// The BD `bd_id`, created if missing (`set interface l2 bridge`).
    pub fn bd_find_or_add(&mut self, bd_id: u32) -> Result<u16, String> {
        match self.bd_index(bd_id) {
            Some(i) => Ok(i),
            None => self.bd_add(bd_id),
        }
    }

    /// Deletes an unused BD and its MACs.
    pub fn bd_del(&mut self, idx: u16) {
        self.touched += self.fib.capacity() as u64;
        self.fib.retain(|&k, _| key_bd(k) != idx);
        let b = &mut self.bds[idx as usize];
        self.bd_by_id.remove(&b.bd_id);
        b.in_use = false;
        b.members.clear();
        b.bvi = None;
        b.learn_count = 0;
        self.recount();
        self.gen = self.gen.wrapping_add(1);
    }

    pub fn if_seq(&self, sw: u32) -> u8 {
        self.if_seq.get(sw as usize).copied().unwrap_or(0)
    }
    pub fn bump_if_seq(&mut self, sw: u32) {
        let i = sw as usize;
        if self.if_seq.len() <= i {
            self.if_seq.resize(i + 1, 0);
        }
        self.if_seq[i] = self.if_seq[i].wrapping_add(1);
    }
    /// The BSN/ISN pair stored with an entry learned on `sw` in `bd`.
    pub fn sn(&self, bd: u16, sw: u32) -> u16 {
        let bsn = self.bds.get(bd as usize).map_or(0, |b| b.seq);
        u16::from(bsn) << 8 | u16::from(self.if_seq(sw))
    }

    /// Adds `sw` to BD `idx` (the BVI goes first, see [`Bd::members`]). With `bvi`, installs
    /// the static BVI entry for `mac`.
    pub fn join(&mut self, idx: u16, sw: u32, shg: u8, bvi: bool, mac: [u8; 6]) {
        let m = Member {
            sw_if_index: sw,
            shg,
            bvi,
        };
        self.bump_if_seq(sw);
        let b = &mut self.bds[idx as usize];
        if bvi {
            b.members.insert(0, m);
            b.bvi = Some(sw);
            self.add_entry(
                key(&mac, idx),
                sw,
                flags::STATIC | flags::BVI | flags::AGE_NOT,
            );
        } else {
            b.members.push(m);
        }
    }

    /// Removes `sw` from BD `idx`, flushes the MACs learned on it and drops its BVI entry.
    pub fn leave(&mut self, idx: u16, sw: u32) {
        let Some(b) = self.bds.get_mut(idx as usize) else {
            return;
        };
        b.members.retain(|m| m.sw_if_index != sw);
        if b.bvi == Some(sw) {
            b.bvi = None;
        }
        self.touched += self.fib.capacity() as u64;
        self.fib.retain(|&k, e| {
            !(e.sw_if_index == sw && key_bd(k) == idx && (e.learned() || e.flags & flags::BVI != 0))
        });
        self.bump_if_seq(sw);
        self.recount();
        self.gen = self.gen.wrapping_add(1);
    }

    /// Removes learned MACs on port `sw` (in one BD or all).
    pub fn flush_port(&mut self, bd: Option<u16>, sw: u32) {
        self.touched += self.fib.capacity() as u64;
        self.fib.retain(|&k, e| {
            !(e.learned() && e.sw_if_index == sw && bd.is_none_or(|b| key_bd(k) == b))
        });
        self.bump_if_seq(sw);
        self.recount();
        self.gen = self.gen.wrapping_add(1);
    }

    /// Forgets interface `sw` (it is being deleted): out of every BD, and every entry that
    /// points at it goes, static ones too, since its sw_if_index may be given to a new interface.
    pub fn forget_interface(&mut self, sw: u32) {
        let bds: Vec<u16> = (0..self.bds.len())
            .filter(|&i| self.bds[i].members.iter().any(|m| m.sw_if_index == sw))
            .filter_map(|i| u16::try_from(i).ok())
            .collect();
        for idx in bds {
            self.leave(idx, sw);
        }
        self.touched += self.fib.capacity() as u64;
        self.fib.retain(|_, e| e.sw_if_index != sw);
        self.recount();
        self.gen = self.gen.wrapping_add(1);
    }

    /// True when interface `sw` is a BD member or an FIB entry points at it.
    pub fn uses_interface(&self, sw: u32) -> bool {
        self.bds
            .iter()
            .any(|b| b.members.iter().any(|m| m.sw_if_index == sw))
            || self.fib.iter().any(|(_, e)| e.sw_if_index == sw)
    }

    /// Removes the learned MACs of one BD.
    pub fn flush_bd(&mut self, idx: u16) {
        self.touched += self.fib.capacity() as u64;
        self.fib.retain(|&k, e| !(e.learned() && key_bd(k) == idx));
        if let Some(b) = self.bds.get_mut(idx as usize) {
            b.seq = b.seq.wrapping_add(1);
        }
        self.recount();
        self.gen = self.gen.wrapping_add(1);
    }

    /// Removes every learned MAC.
    pub fn flush_all(&mut self) {
        self.touched += self.fib.capacity() as u64;
        self.fib.retain(|_, e| !e.learned());
        for b in self.bds.iter_mut().filter(|b| b.in_use) {
            b.seq = b.seq.wrapping_add(1);
        }
        self.recount();
        self.gen = self.gen.wrapping_add(1);
    }

    /// `clear l2fib`: every entry, static and BVI ones included (as VPP).
    pub fn clear(&mut self) {
        self.touched += self.fib.capacity() as u64;
        self.fib.clear();
        self.recount();
        self.gen = self.gen.wrapping_add(1);
    }

    /// Adds or overwrites a provisioned entry (never aged; moved by learning unless static).
    pub fn add_entry(&mut self, k: u64, sw: u32, fl: u8) {
        let sn = self.sn(key_bd(k), sw);
        self.touched += 1;
        if let Some(old) = self
            .fib
            .insert(k, Entry::new(sw, fl | flags::AGE_NOT, 0, sn))
        {
            if old.learned() {
                self.uncount(key_bd(k));
            }
        }
    }

    /// Removes an entry; false if there was none.
    pub fn del_entry(&mut self, k: u64) -> bool {
        self.touched += 1;
        match self.fib.remove(&k) {
            Some(e) => {
                if e.learned() {
                    self.uncount(key_bd(k));
                }
                true
            }
            None => false,
        }
    }

    fn uncount(&mut self, bd: u16) {
        self.global_learn_count = self.global_learn_count.saturating_sub(1);
        if let Some(b) = self.bds.get_mut(bd as usize) {
            b.learn_count = b.learn_count.saturating_sub(1);
        }
    }

    /// Recomputes the learned counts from the table (VPP's scan does the same).
    pub fn recount(&mut self) {
        for b in &mut self.bds {
            b.learn_count = 0;
        }
        let mut total = 0u32;
        self.touched += self.fib.capacity() as u64;
        for (&k, e) in self.fib.iter() {
            if e.learned() {
                total += 1;
                if let Some(b) = self.bds.get_mut(key_bd(k) as usize) {
                    b.learn_count += 1;
                }
            }
        }
        self.global_learn_count = total;
    }

    /// True when a new MAC in BD `bd` would exceed a learn limit.
    #[inline(always)]
    pub fn at_limit(&self, bd: u16) -> bool {
        self.global_learn_count >= self.global_learn_limit
            || self
                .bds
                .get(bd as usize)
                .is_none_or(|b| b.learn_count >= b.learn_limit)
    }

    /// Applies one worker learn event (main thread, workers parked).
    pub fn apply(&mut self, ev: &LearnEvent) -> Applied {
        let bd = key_bd(ev.key);
        if ev.gen != self.gen || self.bds.get(bd as usize).is_none_or(|b| !b.in_use) {
            return Applied::Ignored;
        }
        let at_limit = self.at_limit(bd);
        self.touched += 1;
        match self.fib.get_mut(&ev.key) {
            None => {
                if at_limit {
                    return Applied::Limit;
                }
                self.fib
                    .insert(ev.key, Entry::new(ev.sw_if_index, 0, ev.ts, ev.sn));
                self.global_learn_count += 1;
                self.bds[bd as usize].learn_count += 1;
                Applied::Learned
            }
            Some(e) if e.flags & (flags::STATIC | flags::FILTER) != 0 => Applied::Ignored,
            Some(e) if e.sw_if_index == ev.sw_if_index => {
                e.ts.store(ev.ts, Relaxed);
                Applied::Refreshed
            }
            Some(e) => {
                // A move; a provisioned (non-static) MAC that moves becomes a learned one.
                let was_provisioned = !e.learned();
                e.sw_if_index = ev.sw_if_index;
                e.flags &= !flags::AGE_NOT;
                e.ts.store(ev.ts, Relaxed);
                e.sn = ev.sn;
                if was_provisioned {
                    self.global_learn_count += 1;
                    self.bds[bd as usize].learn_count += 1;
                }
                Applied::Moved
            }
        }
    }

    /// Keys of learned entries older than their BD's mac-age at minute `now` (read-only, so the
    /// scan runs without parking the workers).
    pub fn aged(&self, now: u8) -> Vec<u64> {
        if !self.bds.iter().any(|b| b.in_use && b.mac_age != 0) {
            return Vec::new();
        }
        self.fib
            .iter()
            .filter(|(&k, e)| e.learned() && self.is_old(k, e, now))
            .map(|(&k, _)| k)
            .collect()
    }

    fn is_old(&self, k: u64, e: &Entry, now: u8) -> bool {
        let age = self.bds.get(key_bd(k) as usize).map_or(0, |b| b.mac_age);
        age != 0 && now.wrapping_sub(e.ts.load(Relaxed)) >= age
    }

    /// Removes the given keys if they are still old (a worker may have refreshed one since the
    /// read-only scan); returns how many went.
    pub fn remove_aged(&mut self, keys: &[u64], now: u8) -> usize {
        let mut n = 0;
        for &k in keys {
            let old = self
                .fib
                .get(&k)
                .is_some_and(|e| e.learned() && self.is_old(k, e, now));
            if old && self.del_entry(k) {
                n += 1;
            }
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];

    fn ev(st: &L2State, k: u64, sw: u32) -> LearnEvent {
        LearnEvent {
            key: k,
            sw_if_index: sw,
            gen: st.gen,
            seq: 1,
            ts: 0,
            sn: 0,
        }
    }

    #[test]
    fn key_round_trip() {
        let k = key(&MAC, 0x1234);
        assert_eq!(key_mac(k), MAC);
        assert_eq!(key_bd(k), 0x1234);
        assert_ne!(key(&MAC, 1), key(&MAC, 2));
    }

    #[test]
    fn learn_move_limit_and_flush() {
        let mut st = L2State::new(1, 16);
        let bd = st.bd_add(10).unwrap();
        assert_eq!(bd, 1);
        let k = key(&MAC, bd);
        assert_eq!(st.apply(&ev(&st, k, 1)), Applied::Learned);
        assert_eq!(st.apply(&ev(&st, k, 1)), Applied::Refreshed);
        assert_eq!(st.apply(&ev(&st, k, 2)), Applied::Moved);
        assert_eq!(st.fib[&k].sw_if_index, 2);
        assert_eq!((st.global_learn_count, st.bds[1].learn_count), (1, 1));
        // Events from before a flush are stale.
        let old = ev(&st, key(&[2, 0, 0, 0, 0, 9], bd), 1);
        st.flush_port(Some(bd), 2);
        assert!(st.fib.is_empty());
        assert_eq!(st.apply(&old), Applied::Ignored);
        // Per-BD limit.
        st.bds[1].learn_limit = 1;
        assert_eq!(st.apply(&ev(&st, k, 1)), Applied::Learned);
        let k2 = key(&[2, 0, 0, 0, 0, 2], bd);
        assert_eq!(st.apply(&ev(&st, k2, 1)), Applied::Limit);
        // Static entries are neither moved nor counted.
        st.add_entry(k2, 3, flags::STATIC);
        assert_eq!(st.apply(&ev(&st, k2, 1)), Applied::Ignored);
        assert_eq!(st.global_learn_count, 1);
        // Overwriting a learned entry with a provisioned one uncounts it.
        st.add_entry(k, 1, 0);
        assert_eq!(st.global_learn_count, 0);
        assert_eq!(st.apply(&ev(&st, k, 4)), Applied::Moved);
        assert_eq!(st.global_learn_count, 1);
    }

    #[test]
    fn aging_spares_static_and_fresh_entries() {
        let mut st = L2State::new(1, 16);
        let bd = st.bd_add(1).unwrap();
        st.bds[bd as usize].mac_age = 2;
        let old = key(&[2, 0, 0, 0, 0, 1], bd);
        let fresh = key(&[2, 0, 0, 0, 0, 2], bd);
        let fixed = key(&[2, 0, 0, 0, 0, 3], bd);
        let mut e = ev(&st, old, 1);
        e.ts = 254;
        st.apply(&e);
        e.key = fresh;
        e.ts = 0;
        st.apply(&e);
        st.add_entry(fixed, 1, flags::STATIC);
        // Minute 0 after a wrap: `old` is 2 minutes old, `fresh` 0.
        let aged = st.aged(0);
        assert_eq!(aged, vec![old]);
        assert_eq!(st.remove_aged(&aged, 0), 1);
        assert!(st.fib.contains_key(&fresh) && st.fib.contains_key(&fixed));
        assert_eq!(st.global_learn_count, 1);
        st.bds[bd as usize].mac_age = 0;
        assert!(st.aged(200).is_empty());
    }
}
