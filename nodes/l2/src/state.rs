//! Bridge domains and the L2 FIB entries (VPP's `l2input_main.bd_configs` and the l2fib
//! bihash; the table itself is in `fib.rs`).
//!
//! One [`L2State`] lives in a `Shared`: every thread's nodes read it without a lock; only the
//! main thread changes it, under the worker barrier (CLI commands and the learn/sweep main
//! tasks). The one exception is an entry's age stamp, an `AtomicU8` that `l2-learn` rewrites
//! in place when a known MAC is seen in a new minute (at most once per MAC per minute, never
//! per packet), as VPP's learn node refreshes its bihash entry.
//!
//! ## Work under the barrier is O(changes), never O(table)
//!
//! Nothing that runs with the workers parked walks the FIB. Flushes are lazy, with VPP's
//! sequence numbers: a learned entry carries the BD and interface sequence numbers (BSN-ISN)
//! it was learned under, and a flush (of a port, a BD, everything), a port leaving or joining
//! a BD and an interface's deletion only bump a number, which turns the entries learned
//! before it *stale*. A provisioned entry (`l2fib add`, the BVI's) carries its interface's
//! life number instead (in the age stamp, unused by entries that never age), bumped when the
//! interface is deleted, so none outlives its interface into a reused sw_if_index. A stale or
//! dead entry is a miss everywhere: `l2-fwd` floods (or drops as "Stale entry Drop" where
//! unknown unicast is not flooded), `l2-learn` learns over it, `show l2fib` leaves it out. A
//! deleted BD's index is not reused until its entries are gone (no packet can reach them:
//! the BD has no port). The sweep (`process.rs`) finds stale, dead and aged entries with the
//! workers running and removes them in bounded batches, each under its own barrier.
//!
//! Sequence numbers are 8 bits (as VPP's), so one that wrapped could bring an old entry back:
//! bumps are counted, and a number bumped 255 times since the last sweep has the whole table
//! swept (synchronously, with the workers parked) before its next bump. Only a script that
//! flushes or re-bridges one port or BD 255 times without letting the main loop run (which
//! sweeps) pays that.
//!
//! [`L2State::touched`] counts the FIB slots changes visit, for the tests that check this.

use crate::fib::Fib;
use crate::mss::MssCfg;
use pwire_vnet::interface::ChunkedVec;
use std::collections::{BTreeMap, BTreeSet};
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
    /// Ingress VLAN tag rewrite (`l2-input-vtr`), on ports with `set interface l2
    /// tag-rewrite`: first, as in VPP (learning and forwarding see the rewritten frame).
    pub const VTR: u32 = 1 << 6;
    /// TCP MSS clamping of received frames (`l2-input-mss-clamp`), on ports with `set
    /// interface tcp-mss-clamp` rx: before the tag rewrite, on the frame as received.
    pub const MSS: u32 = 1 << 7;
    /// Not a feature: set by `l2-output` on a SYN it sends to `l2-output-mss-clamp`, so that
    /// the SYN coming back is sent on (the input bits are spent by then; no node dispatches
    /// on this one).
    pub const MSS_TX_DONE: u32 = 1 << 31;
    /// Node names by bit, as `l2-input`'s trace prints them.
    pub const NAMES: [&str; 8] = [
        "feature-bitmap-drop",
        "l2-output",
        "l2-flood",
        "l2-flood",
        "l2-fwd",
        "l2-learn",
        "l2-input-vtr",
        "l2-input-mss-clamp",
    ];
    /// Bits a BD always lets through (only learn/forward/flood/uu-flood are BD settings).
    pub const BD_FIXED: u32 = DROP | XCONNECT | VTR | MSS;
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
    /// Learned entries: minute stamp of the last time the MAC was seen. Provisioned entries
    /// (never aged): the interface's life number when added ([`L2State::life`]).
    pub ts: AtomicU8,
    /// BD and interface sequence numbers when learned or added (shown as BSN-ISN).
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
    /// The entry as VPP's `l2fib_entry_result_t.raw` (shown in the `l2-fwd` trace); a
    /// provisioned entry's timestamp is 0 there, as in VPP.
    pub fn raw(&self) -> u64 {
        let ts = if self.learned() {
            self.ts.load(Relaxed)
        } else {
            0
        };
        u64::from(self.sw_if_index)
            | u64::from(self.flags) << 32
            | u64::from(ts) << 40
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
    /// Changed only with [`L2State::ports_gen`] (what `l2-input` caches depends on it).
    in_use: bool,
    /// Enabled features ([`feat::LEARN`], `FWD`, `FLOOD`, `UU_FLOOD`) plus [`feat::BD_FIXED`];
    /// changed only with [`L2State::ports_gen`] too.
    feature_bitmap: u32,
    /// Minutes after which an idle learned MAC is removed; 0 = never.
    pub mac_age: u8,
    /// Learned entries in the table, stale ones included until the sweep removes them (as
    /// VPP's count, which its scan corrects).
    pub learn_count: u32,
    pub learn_limit: u32,
    /// Flood list. The BVI, if any, is first and flooding walks the list backwards, so the BVI
    /// (whose L3 processing may rewrite the frame) gets the original buffer, last. Other
    /// members are in no particular order: a port leaves by a swap with the last one.
    pub members: Vec<Member>,
    pub bvi: Option<u32>,
    /// Key of the BVI's static entry, installed when it joined.
    bvi_key: u64,
    /// BSN bumps since the last sweep (see the module doc).
    bumps: u8,
    pub tag: Option<String>,
}

impl Bd {
    /// False once deleted.
    #[inline(always)]
    pub fn in_use(&self) -> bool {
        self.in_use
    }
    /// The BD's feature bits.
    #[inline(always)]
    pub fn features(&self) -> u32 {
        self.feature_bitmap
    }
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
            bvi_key: crate::NO_KEY,
            bumps: 0,
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

/// L2 state of one interface (by sw_if_index).
#[derive(Debug, Clone, Copy, Default)]
pub struct IfL2 {
    /// Interface sequence number (ISN): bumped when the port joins or leaves a BD, is flushed
    /// or deleted.
    pub isn: u8,
    /// Life number: bumped when the interface is deleted.
    pub life: u8,
    /// ISN bumps since the last sweep (see the module doc).
    bumps: u8,
    /// An entry (learned or provisioned) may carry this ISN: the port is or was a BD member, or
    /// got a provisioned entry, since the last bump. Without, deleting the interface would
    /// invalidate nothing and bumps nothing, so an index reused by tunnel after tunnel (never
    /// bridged) never nears the 8-bit wrap that forces a whole-table sweep under the barrier.
    used: bool,
    /// A provisioned (static/BVI) entry may carry this life number.
    provisioned: bool,
    /// The BD the port is a member of (0: none) and its place in the BD's member list.
    bd: u16,
    pos: u32,
}

/// What a live entry found for BD `bd` pointing at port `sw` carries (see [`L2State::expect`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expect {
    /// BSN-ISN of a learned entry.
    pub sn: u16,
    /// Life number of a provisioned entry.
    pub life: u8,
}

impl Expect {
    /// True unless `e` is stale (learned under older sequence numbers) or dead (provisioned
    /// for an interface since deleted): two compares on the entry's own cache line.
    #[inline(always)]
    pub fn live(self, e: &Entry) -> bool {
        if e.learned() {
            e.sn == self.sn
        } else {
            e.ts.load(Relaxed) == self.life
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
    /// New, or over a stale or dead entry.
    Learned,
    Moved,
    Refreshed,
    /// Over the global or BD learn limit.
    Limit,
    /// From before a flush, for a BD or port that no longer matches, or hitting a static entry.
    Ignored,
}

/// Bridge-domain indices: 0 is the default BD, 0xffff is never used (with the all-ones MAC
/// it would make the FIB's empty key).
const MAX_BDS: usize = 0xffff;

/// Everything the L2 nodes and commands share.
#[derive(Debug)]
pub struct L2State {
    pub fib: Fib,
    /// Indexed by bd_index; index 0 is the hidden default BD. Reserved for every index up front
    /// (address space only until used), so adding a BD never moves the others.
    pub bds: Vec<Bd>,
    /// Control plane only: bd_id -> bd_index (no rehash of every BD when it grows).
    pub bd_by_id: BTreeMap<u32, u16>,
    /// BSN by bd_index (dense: `l2-fwd` reads it per lookup), reserved like `bds`.
    bd_sn: Vec<u8>,
    /// Added to every BSN: `l2fib flush-mac all` bumps it alone, not every BD's.
    all_sn: u8,
    all_bumps: u8,
    /// Most BSN bumps of one BD since the last sweep.
    max_bd_bumps: u8,
    /// By sw_if_index; grows a chunk at a time.
    ifs: ChunkedVec<IfL2>,
    /// Free BD indices below `bds.len()`; the lowest is used first.
    bd_free: BTreeSet<u16>,
    /// Deleted BDs whose entries the sweep has not removed yet (their indices wait).
    bd_dead: Vec<u16>,
    /// Interfaces and BDs with bumps since the last sweep (the sweep resets exactly these).
    dirty_ifs: Vec<u32>,
    dirty_bds: Vec<u16>,
    /// Some entry may have gone stale since the last sweep (a join's bump makes none: the
    /// port's entries went stale when it left its last BD).
    stale: bool,
    /// Every bump ever: a sweep that saw a bump happen meanwhile resets nothing.
    bump_count: u64,
    /// Bumped when a BD is added or deleted or its features change: what `l2-input` caches
    /// per port stays valid while this (and vnet's interfaces) do not change, whatever
    /// happens to the FIB.
    ports_gen: u64,
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
    /// TCP MSS clamping by sw_if_index (`set interface tcp-mss-clamp`); changed only with
    /// [`L2State::ports_gen`] (`l2-input` caches whether a port clamps).
    mss: ChunkedVec<MssCfg>,
    /// FIB slots visited by the changes made so far (main thread, workers parked): what a
    /// change costs under the barrier, readable by tests, which check that it does not grow
    /// with the table.
    pub touched: u64,
}

impl L2State {
    pub fn new(n_threads: usize, fib_capacity: usize) -> Self {
        let mut bds = Vec::with_capacity(MAX_BDS);
        bds.push(Bd::default_bd());
        let mut bd_sn = Vec::with_capacity(MAX_BDS);
        bd_sn.push(0);
        L2State {
            fib: Fib::with_capacity(fib_capacity),
            bds,
            bd_by_id: BTreeMap::new(),
            bd_sn,
            all_sn: 0,
            all_bumps: 0,
            max_bd_bumps: 0,
            ifs: ChunkedVec::new(),
            bd_free: BTreeSet::new(),
            bd_dead: Vec::new(),
            dirty_ifs: Vec::new(),
            dirty_bds: Vec::new(),
            stale: false,
            bump_count: 0,
            ports_gen: 0,
            global_learn_count: 0,
            global_learn_limit: DEFAULT_LEARN_LIMIT,
            gen: 0,
            applied: vec![0; n_threads],
            age: AgeCfg {
                scan_interval: 60.0,
                minute: 60.0,
            },
            last_scan: AtomicU64::new(0),
            mss: ChunkedVec::new(),
            touched: 0,
        }
    }

    /// The TCP MSS clamping configuration of interface `sw` (none set: all disabled).
    #[inline]
    pub fn mss_cfg(&self, sw: u32) -> MssCfg {
        self.mss.get(sw as usize).copied().unwrap_or_default()
    }

    /// Sets interface `sw`'s TCP MSS clamping configuration.
    pub fn set_mss(&mut self, sw: u32, cfg: MssCfg) {
        while self.mss.len() <= sw as usize {
            self.mss.push(MssCfg::default());
        }
        self.mss[sw as usize] = cfg;
        self.ports_gen += 1;
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

    /// Creates a BD with VPP's defaults at the lowest free index.
    pub fn bd_add(&mut self, bd_id: u32) -> Result<u16, String> {
        let idx = match self.bd_free.pop_first() {
            Some(i) => {
                self.bds[i as usize] = Bd::new(bd_id);
                i
            }
            None => {
                let i = u16::try_from(self.bds.len())
                    .ok()
                    .filter(|&i| (i as usize) < MAX_BDS)
                    .ok_or_else(|| "too many bridge domains".to_string())?;
                self.bds.push(Bd::new(bd_id));
                self.bd_sn.push(0);
                i
            }
        };
        self.bd_by_id.insert(bd_id, idx);
        self.ports_gen += 1;
        Ok(idx)
    }

    /// See the field.
    #[inline(always)]
    pub fn ports_gen(&self) -> u64 {
        self.ports_gen
    }

    /// Turns feature bit(s) `bit` of BD `idx` on or off.
    pub fn set_bd_features(&mut self, idx: u16, bit: u32, on: bool) {
        if let Some(b) = self.bds.get_mut(idx as usize) {
            if on {
                b.feature_bitmap |= bit;
            } else {
                b.feature_bitmap &= !bit;
            }
            self.ports_gen += 1;
        }
    }

    /// The BD `bd_id`, created if missing (`set interface l2 bridge`).
    pub fn bd_find_or_add(&mut self, bd_id: u32) -> Result<u16, String> {
        match self.bd_index(bd_id) {
            Some(i) => Ok(i),
            None => self.bd_add(bd_id),
        }
    }

    /// Deletes a BD (its members leave first). Its MACs go with the next sweep; until then
    /// its index is not reused, and no packet reaches them (the BD has no port).
    pub fn bd_del(&mut self, idx: u16) {
        if idx == 0 || self.bds.get(idx as usize).is_none_or(|b| !b.in_use) {
            return;
        }
        while let Some(m) = self.bds[idx as usize].members.last() {
            let sw = m.sw_if_index;
            self.leave(idx, sw);
        }
        let b = &mut self.bds[idx as usize];
        self.bd_by_id.remove(&b.bd_id);
        b.in_use = false;
        b.bvi = None;
        self.bd_dead.push(idx);
        self.ports_gen += 1;
        self.gen = self.gen.wrapping_add(1);
    }

    /// The BD's current BSN.
    #[inline(always)]
    pub fn bsn(&self, bd: u16) -> u8 {
        self.bd_sn
            .get(bd as usize)
            .copied()
            .unwrap_or(0)
            .wrapping_add(self.all_sn)
    }
    /// The interface's current ISN.
    pub fn isn(&self, sw: u32) -> u8 {
        self.ifs.get(sw as usize).map_or(0, |r| r.isn)
    }
    /// The interface's life number (see the module doc).
    pub fn life(&self, sw: u32) -> u8 {
        self.ifs.get(sw as usize).map_or(0, |r| r.life)
    }
    /// The BSN/ISN pair an entry learned now on `sw` in `bd` gets.
    #[inline(always)]
    pub fn sn(&self, bd: u16, sw: u32) -> u16 {
        u16::from(self.bsn(bd)) << 8 | u16::from(self.isn(sw))
    }
    /// What a live entry of BD `bd` pointing at `sw` carries.
    #[inline(always)]
    pub fn expect(&self, bd: u16, sw: u32) -> Expect {
        let r = self.ifs.get(sw as usize).copied().unwrap_or_default();
        Expect {
            sn: u16::from(self.bsn(bd)) << 8 | u16::from(r.isn),
            life: r.life,
        }
    }
    /// False for a stale or dead entry (the packet path's check; see the module doc).
    #[inline(always)]
    pub fn live(&self, k: u64, e: &Entry) -> bool {
        self.expect(key_bd(k), e.sw_if_index).live(e)
    }
    /// Live and in a BD that exists: what `show l2fib` lists and the sweep keeps.
    pub fn present(&self, k: u64, e: &Entry) -> bool {
        self.bds.get(key_bd(k) as usize).is_some_and(|b| b.in_use) && self.live(k, e)
    }

    /// The record of `sw`, made (with the ones before it) if missing.
    fn if_mut(&mut self, sw: u32) -> &mut IfL2 {
        while self.ifs.len() <= sw as usize {
            self.ifs.push(IfL2::default());
        }
        &mut self.ifs[sw as usize]
    }

    /// Bumps `sw`'s ISN, and its life number with `dies`: the entries learned on it (and with
    /// `dies` those provisioned for it) become stale. The caller sets `stale` if it matters.
    fn bump_if(&mut self, sw: u32, dies: bool) {
        let (used, provisioned) = self
            .ifs
            .get(sw as usize)
            .map_or((false, false), |r| (r.used, r.provisioned));
        // Only a deletion is skipped: joins and flushes bump as VPP's do (the numbers show in
        // `show bridge-domain` and `show l2fib`).
        if dies && !used && !provisioned {
            return;
        }
        if self
            .ifs
            .get(sw as usize)
            .is_some_and(|r| r.bumps == u8::MAX)
        {
            self.sweep_now();
        }
        let r = self.if_mut(sw);
        r.isn = r.isn.wrapping_add(1);
        if dies {
            r.life = r.life.wrapping_add(1);
        }
        r.bumps += 1;
        if dies {
            r.provisioned = false;
        }
        // A member may learn again at once; provisioned entries outlive an ISN bump.
        r.used = r.bd != 0 || r.provisioned;
        if r.bumps == 1 {
            self.dirty_ifs.push(sw);
        }
        self.bump_count += 1;
    }

    /// Bumps BD `idx`'s BSN: the entries learned in it become stale.
    fn bump_bd(&mut self, idx: u16) {
        let Some(b) = self.bds.get(idx as usize) else {
            return;
        };
        if u16::from(b.bumps) + u16::from(self.all_bumps) >= u16::from(u8::MAX) {
            self.sweep_now();
        }
        let b = &mut self.bds[idx as usize];
        b.bumps += 1;
        if b.bumps == 1 {
            self.dirty_bds.push(idx);
        }
        self.max_bd_bumps = self.max_bd_bumps.max(b.bumps);
        let sn = &mut self.bd_sn[idx as usize];
        *sn = sn.wrapping_add(1);
        self.bump_count += 1;
        self.stale = true;
    }

    /// Adds `sw` to BD `idx` (the BVI goes first, see [`Bd::members`]) and bumps its ISN, as
    /// VPP. With `bvi`, installs the static BVI entry for `mac`.
    pub fn join(&mut self, idx: u16, sw: u32, shg: u8, bvi: bool, mac: [u8; 6]) {
        let m = Member {
            sw_if_index: sw,
            shg,
            bvi,
        };
        self.bump_if(sw, false);
        self.if_mut(sw).used = true;
        let b = &mut self.bds[idx as usize];
        let mut pos = b.members.len();
        b.members.push(m);
        let mut moved = None;
        if bvi {
            b.members.swap(0, pos);
            if pos != 0 {
                moved = Some((b.members[pos].sw_if_index, pos));
            }
            pos = 0;
            b.bvi = Some(sw);
            b.bvi_key = key(&mac, idx);
        }
        if let Some((other, at)) = moved {
            self.if_mut(other).pos = at as u32;
        }
        let r = self.if_mut(sw);
        r.bd = idx;
        r.pos = pos as u32;
        if bvi {
            self.add_entry(
                key(&mac, idx),
                sw,
                flags::STATIC | flags::BVI | flags::AGE_NOT,
            );
        }
    }

    /// Removes `sw` from BD `idx` and drops its BVI entry; the MACs learned on it go stale
    /// (ISN bump).
    pub fn leave(&mut self, idx: u16, sw: u32) {
        let Some(b) = self.bds.get_mut(idx as usize) else {
            return;
        };
        let r = self.ifs.get(sw as usize).copied().unwrap_or_default();
        let pos = if r.bd == idx
            && b.members
                .get(r.pos as usize)
                .is_some_and(|m| m.sw_if_index == sw)
        {
            Some(r.pos as usize)
        } else {
            // Only if the records disagree with the list (never expected).
            b.members.iter().position(|m| m.sw_if_index == sw)
        };
        let mut moved = None;
        if let Some(p) = pos {
            // The BVI is at 0 and only ever leaves from there, so no swap moves it.
            b.members.swap_remove(p);
            if let Some(m) = b.members.get(p) {
                moved = Some((m.sw_if_index, p));
            }
        }
        let bvi_key = (b.bvi == Some(sw)).then_some(b.bvi_key);
        if bvi_key.is_some() {
            b.bvi = None;
        }
        if let Some((other, at)) = moved {
            self.if_mut(other).pos = at as u32;
        }
        if r.bd == idx {
            self.if_mut(sw).bd = 0;
        }
        if let Some(k) = bvi_key {
            let ours = self
                .fib
                .get(&k)
                .is_some_and(|e| e.sw_if_index == sw && e.flags & flags::BVI != 0);
            if ours {
                self.del_entry(k);
            }
        }
        self.bump_if(sw, false);
        self.stale = true;
        self.gen = self.gen.wrapping_add(1);
    }

    /// The BD `sw` is a member of (0: none).
    pub fn bd_of(&self, sw: u32) -> u16 {
        self.ifs.get(sw as usize).map_or(0, |r| r.bd)
    }

    /// Flushes the MACs learned on port `sw` (ISN bump, as VPP).
    pub fn flush_port(&mut self, sw: u32) {
        self.bump_if(sw, false);
        self.stale = true;
        self.gen = self.gen.wrapping_add(1);
    }

    /// Forgets interface `sw` (it is being deleted): out of its BD, and every entry that
    /// points at it goes stale or dead, static ones too, since its sw_if_index may be given to
    /// a new interface.
    pub fn forget_interface(&mut self, sw: u32) {
        let bd = self.bd_of(sw);
        if bd != 0 {
            self.leave(bd, sw);
        }
        // Not inherited by the next interface given this sw_if_index.
        if let Some(c) = self.mss.get_mut(sw as usize) {
            *c = MssCfg::default();
            self.ports_gen += 1;
        }
        self.bump_if(sw, true);
        self.stale = true;
        self.gen = self.gen.wrapping_add(1);
    }

    /// Flushes the learned MACs of one BD (BSN bump).
    pub fn flush_bd(&mut self, idx: u16) {
        self.bump_bd(idx);
        self.gen = self.gen.wrapping_add(1);
    }

    /// Flushes every learned MAC: one bump that every BSN includes.
    pub fn flush_all(&mut self) {
        if u16::from(self.max_bd_bumps) + u16::from(self.all_bumps) >= u16::from(u8::MAX) {
            self.sweep_now();
        }
        self.all_sn = self.all_sn.wrapping_add(1);
        self.all_bumps += 1;
        self.bump_count += 1;
        self.stale = true;
        self.gen = self.gen.wrapping_add(1);
    }

    /// An empty table of the current size, to give [`Self::replace_fib`]: made (and the old
    /// one freed) with the workers running.
    pub fn empty_fib(&self) -> Fib {
        Fib::with_capacity(self.fib.capacity() / 2)
    }

    /// `clear l2fib` (every entry, static and BVI ones included, as VPP): puts in `fib`
    /// (from [`Self::empty_fib`]) and returns the old table, for the caller to free after
    /// releasing the workers. O(BDs) (their learn counts), not O(MACs).
    pub fn replace_fib(&mut self, fib: Fib) -> Fib {
        debug_assert!(fib.is_empty());
        self.touched += 1;
        let old = std::mem::replace(&mut self.fib, fib);
        self.global_learn_count = 0;
        for b in &mut self.bds {
            b.learn_count = 0;
        }
        // No stale entry is left: as after a sweep.
        self.swept();
        self.gen = self.gen.wrapping_add(1);
        old
    }

    /// A copy of the table with room for `extra` more entries, if inserting them would grow
    /// it: the copy (O(table)) is made with the workers running, then [`Self::install_fib`]
    /// puts it in under the barrier in O(1). An age stamp a worker refreshes during the copy
    /// is lost: that MAC may age out up to a minute early if it then goes quiet.
    pub fn grown_fib(&self, extra: usize) -> Option<Fib> {
        let need = self.fib.len() + extra;
        if need * 2 <= self.fib.capacity() {
            return None;
        }
        let mut f = Fib::with_capacity(need.max(self.fib.len() * 2));
        for (&k, e) in self.fib.iter() {
            f.insert(
                k,
                Entry::new(e.sw_if_index, e.flags, e.ts.load(Relaxed), e.sn),
            );
        }
        Some(f)
    }

    /// Puts in a table from [`Self::grown_fib`] (nothing else changed the FIB since); returns
    /// the old one, for the caller to free after releasing the workers.
    pub fn install_fib(&mut self, fib: Fib) -> Fib {
        debug_assert_eq!(fib.len(), self.fib.len());
        self.touched += 1;
        std::mem::replace(&mut self.fib, fib)
    }

    /// Adds or overwrites a provisioned entry (never aged; moved by learning unless static).
    pub fn add_entry(&mut self, k: u64, sw: u32, fl: u8) {
        // A filter entry's `sw` names no interface (`!0`): nothing to delete, nothing to mark.
        if sw != u32::MAX {
            let r = self.if_mut(sw);
            r.used = true;
            r.provisioned = true;
        }
        let sn = self.sn(key_bd(k), sw);
        let life = self.life(sw);
        self.touched += 1;
        if let Some(old) = self
            .fib
            .insert(k, Entry::new(sw, fl | flags::AGE_NOT, life, sn))
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

    fn count(&mut self, bd: u16) {
        self.global_learn_count += 1;
        if let Some(b) = self.bds.get_mut(bd as usize) {
            b.learn_count += 1;
        }
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
        if ev.gen != self.gen
            || self.bds.get(bd as usize).is_none_or(|b| !b.in_use)
            || ev.sn != self.sn(bd, ev.sw_if_index)
        {
            return Applied::Ignored;
        }
        let at_limit = self.at_limit(bd);
        self.touched += 1;
        let live = self.fib.get(&ev.key).map(|e| self.live(ev.key, e));
        let Some(e) = self.fib.get_mut(&ev.key) else {
            if at_limit {
                return Applied::Limit;
            }
            self.fib
                .insert(ev.key, Entry::new(ev.sw_if_index, 0, ev.ts, ev.sn));
            self.count(bd);
            return Applied::Learned;
        };
        if live == Some(false) {
            // Stale or dead: learned over. A learned one is counted already.
            let counted = e.learned();
            if !counted && at_limit {
                return Applied::Limit;
            }
            e.sw_if_index = ev.sw_if_index;
            e.flags = 0;
            e.ts.store(ev.ts, Relaxed);
            e.sn = ev.sn;
            if !counted {
                self.count(bd);
            }
            return Applied::Learned;
        }
        if e.flags & (flags::STATIC | flags::FILTER) != 0 {
            return Applied::Ignored;
        }
        if e.sw_if_index == ev.sw_if_index {
            if e.learned() {
                e.ts.store(ev.ts, Relaxed);
            }
            return Applied::Refreshed;
        }
        // A move; a provisioned (non-static) MAC that moves becomes a learned one.
        let was_provisioned = !e.learned();
        e.sw_if_index = ev.sw_if_index;
        e.flags &= !flags::AGE_NOT;
        e.ts.store(ev.ts, Relaxed);
        e.sn = ev.sn;
        if was_provisioned {
            self.count(bd);
        }
        Applied::Moved
    }

    /// True when some entries may be stale or dead, or a deleted BD waits for its entries to
    /// go: the sweep has work.
    pub fn sweep_wanted(&self) -> bool {
        self.stale || !self.bd_dead.is_empty()
    }

    /// True when some BD ages its MACs.
    pub fn aging(&self) -> bool {
        self.bds.iter().any(|b| b.in_use && b.mac_age != 0)
    }

    /// Bumps so far; give it to [`Self::swept_since`].
    pub fn bump_count(&self) -> u64 {
        self.bump_count
    }

    fn is_old(&self, k: u64, e: &Entry, now: u8) -> bool {
        let age = self.bds.get(key_bd(k) as usize).map_or(0, |b| b.mac_age);
        e.learned() && age != 0 && now.wrapping_sub(e.ts.load(Relaxed)) >= age
    }

    /// An entry the sweep removes at minute `now`: stale, dead, in a deleted BD, or learned
    /// and older than its BD's mac-age.
    fn sweepable(&self, k: u64, e: &Entry, now: u8) -> bool {
        !self.present(k, e) || self.is_old(k, e, now)
    }

    /// Keys the sweep removes at minute `now` (read-only, so it runs with the workers going).
    pub fn to_sweep(&self, now: u8) -> Vec<u64> {
        if !self.sweep_wanted() && !self.aging() {
            return Vec::new();
        }
        self.fib
            .iter()
            .filter(|(&k, e)| self.sweepable(k, e, now))
            .map(|(&k, _)| k)
            .collect()
    }

    /// Removes those of `keys` still to sweep (a worker may have refreshed one, a learn may
    /// have replaced one since the read-only pass); returns how many went. Visits one slot a
    /// key: the caller bounds the batch.
    pub fn remove_swept(&mut self, keys: &[u64], now: u8) -> usize {
        let mut n = 0;
        for &k in keys {
            let go = self.fib.get(&k).is_some_and(|e| self.sweepable(k, e, now));
            if go && self.del_entry(k) {
                n += 1;
            } else if !go {
                self.touched += 1;
            }
        }
        n
    }

    /// Ends a sweep whose read-only pass started at bump count `since`: if nothing was bumped
    /// meanwhile, no stale entry is left, so the bump counts start again and deleted BDs'
    /// indices are free. O(what changed since the last sweep).
    pub fn swept_since(&mut self, since: u64) {
        if since == self.bump_count {
            self.swept();
        }
    }

    fn swept(&mut self) {
        for sw in std::mem::take(&mut self.dirty_ifs) {
            if let Some(r) = self.ifs.get_mut(sw as usize) {
                r.bumps = 0;
            }
        }
        for idx in std::mem::take(&mut self.dirty_bds) {
            if let Some(b) = self.bds.get_mut(idx as usize) {
                b.bumps = 0;
            }
        }
        self.all_bumps = 0;
        self.max_bd_bumps = 0;
        self.stale = false;
        for idx in std::mem::take(&mut self.bd_dead) {
            self.bd_free.insert(idx);
        }
    }

    /// The whole sweep at once, with the workers parked: only before a sequence number would
    /// wrap onto a stale entry's (see the module doc).
    fn sweep_now(&mut self) {
        let keys: Vec<u64> = self
            .fib
            .iter()
            .filter(|(&k, e)| !self.present(k, e))
            .map(|(&k, _)| k)
            .collect();
        self.touched += self.fib.capacity() as u64;
        for k in keys {
            self.del_entry(k);
        }
        self.swept();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];

    /// A learn event as `l2-learn` makes it now for `k` seen on `sw`.
    fn ev(st: &L2State, k: u64, sw: u32) -> LearnEvent {
        LearnEvent {
            key: k,
            sw_if_index: sw,
            gen: st.gen,
            seq: 1,
            ts: 0,
            sn: st.sn(key_bd(k), sw),
        }
    }

    /// The learned counts worked out from the table: (global, per BD).
    fn recount(st: &L2State) -> (u32, Vec<u32>) {
        let mut per = vec![0; st.bds.len()];
        for (&k, _) in st.fib.iter().filter(|(_, e)| e.learned()) {
            per[key_bd(k) as usize] += 1;
        }
        (per.iter().sum(), per)
    }

    fn counts(st: &L2State) -> (u32, Vec<u32>) {
        (
            st.global_learn_count,
            st.bds.iter().map(|b| b.learn_count).collect(),
        )
    }

    /// What the sweep process does, in batches of `batch`; returns the slots each visited.
    fn sweep(st: &mut L2State, now: u8, batch: usize) -> Vec<u64> {
        let since = st.bump_count();
        let keys = st.to_sweep(now);
        let mut cost = Vec::new();
        for b in keys.chunks(batch) {
            let t0 = st.touched;
            st.remove_swept(b, now);
            cost.push(st.touched - t0);
        }
        st.swept_since(since);
        cost
    }

    fn shown(st: &L2State) -> Vec<u64> {
        let mut v: Vec<u64> = st
            .fib
            .iter()
            .filter(|(&k, e)| st.present(k, e))
            .map(|(&k, _)| k)
            .collect();
        v.sort_unstable();
        v
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
        for sw in 1..=4 {
            st.join(bd, sw, 0, false, [0; 6]);
        }
        let k = key(&MAC, bd);
        assert_eq!(st.apply(&ev(&st, k, 1)), Applied::Learned);
        assert_eq!(st.apply(&ev(&st, k, 1)), Applied::Refreshed);
        assert_eq!(st.apply(&ev(&st, k, 2)), Applied::Moved);
        assert_eq!(st.fib[&k].sw_if_index, 2);
        assert_eq!((st.global_learn_count, st.bds[1].learn_count), (1, 1));
        // Events from before a flush are stale.
        let old = ev(&st, key(&[2, 0, 0, 0, 0, 9], bd), 1);
        st.flush_port(2);
        assert!(shown(&st).is_empty() && !st.live(k, &st.fib[&k]));
        assert_eq!(st.apply(&old), Applied::Ignored);
        // An event with the port's old sequence numbers is stale too.
        let mut e = ev(&st, k, 2);
        e.sn = e.sn.wrapping_sub(1);
        assert_eq!(st.apply(&e), Applied::Ignored);
        // Learning over a stale entry: counted once.
        assert_eq!(st.apply(&ev(&st, k, 2)), Applied::Learned);
        assert_eq!(shown(&st), [k]);
        assert_eq!(counts(&st), recount(&st));
        // Per-BD limit.
        st.bds[1].learn_limit = 1;
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
        assert_eq!(counts(&st), recount(&st));
    }

    #[test]
    fn aging_spares_static_and_fresh_entries() {
        let mut st = L2State::new(1, 16);
        let bd = st.bd_add(1).unwrap();
        st.join(bd, 1, 0, false, [0; 6]);
        sweep(&mut st, 0, 16);
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
        assert_eq!(st.to_sweep(0), vec![old]);
        assert_eq!(st.remove_swept(&[old], 0), 1);
        assert!(st.fib.contains_key(&fresh) && st.fib.contains_key(&fixed));
        assert_eq!(st.global_learn_count, 1);
        st.bds[bd as usize].mac_age = 0;
        assert!(st.to_sweep(200).is_empty());
    }

    /// Learns `n` MACs behind port `sw` in BD `bd` (MACs numbered from `base`).
    fn learn_many(st: &mut L2State, bd: u16, sw: u32, base: u32, n: u32) {
        for i in base..base + n {
            let b = i.to_be_bytes();
            let k = key(&[2, 0xaa, b[0], b[1], b[2], b[3]], bd);
            assert_eq!(st.apply(&ev(st, k, sw)), Applied::Learned);
        }
    }

    /// FIB slots each change visits, on a table holding `n` MACs learned behind port 1.
    fn change_costs(n: u32) -> Vec<u64> {
        let mut st = L2State::new(1, 1024);
        let bd = st.bd_add(1).unwrap();
        let bd2 = st.bd_add(2).unwrap();
        for sw in 1..=4 {
            st.join(bd, sw, 0, false, [2, 0, 0, 0, 0, sw as u8]);
        }
        st.join(bd2, 5, 0, true, [2, 0, 0, 0, 0, 5]);
        learn_many(&mut st, bd, 1, 0, n);
        for sw in 2..=4 {
            learn_many(&mut st, bd, sw, 1_000_000 * sw, 10);
        }
        learn_many(&mut st, bd2, 5, 9_000_000, 10);
        let mut costs = Vec::new();
        let changes: [&dyn Fn(&mut L2State); 6] = [
            // Deleting an interface with MACs learned on it.
            &|st| st.forget_interface(2),
            // Taking a port out of its bridge.
            &|st| st.leave(bd, 3),
            &|st| st.flush_port(4),
            &|st| st.flush_bd(bd),
            &|st| st.flush_all(),
            // Deleting a BD that still has MACs (its BVI left first).
            &|st| {
                st.leave(bd2, 5);
                st.bd_del(bd2);
            },
        ];
        for change in changes {
            let t0 = st.touched;
            change(&mut st);
            costs.push(st.touched - t0);
        }
        costs
    }

    #[test]
    fn work_under_the_barrier_does_not_grow_with_the_fib() {
        let small = change_costs(1_000);
        let big = change_costs(100_000);
        assert_eq!(small, big, "slots visited per change, 1k vs 100k MACs");
        assert!(big.iter().all(|&c| c <= 4), "{big:?}");
    }

    #[test]
    fn reusing_an_unbridged_index_never_forces_a_whole_table_sweep() {
        // Tunnel after tunnel created and deleted on one reused index, never bridged, with a
        // big FIB elsewhere: no bump is needed (no entry can carry the index's numbers), so the
        // 8-bit wrap guard's whole-table sweep never runs under the barrier.
        let mut st = L2State::new(1, 1024);
        let bd = st.bd_add(1).unwrap();
        st.join(bd, 1, 0, false, [0; 6]);
        learn_many(&mut st, bd, 1, 0, 5000);
        let before = st.touched;
        for _ in 0..600 {
            st.forget_interface(7);
        }
        assert!(
            st.touched - before < 100,
            "{} slots visited",
            st.touched - before
        );
        // A provisioned entry on it must still die with the interface.
        st.add_entry(key(&[2, 0, 0, 0, 0, 0xee], bd), 7, 0);
        assert_eq!(shown(&st).len(), 5001);
        st.forget_interface(7);
        assert_eq!(
            shown(&st).len(),
            5000,
            "the static entry died with its interface"
        );
    }

    #[test]
    fn the_sweep_removes_in_bounded_batches_and_fixes_the_counts() {
        let mut st = L2State::new(1, 1024);
        let bd = st.bd_add(1).unwrap();
        for sw in 1..=2 {
            st.join(bd, sw, 0, false, [0; 6]);
        }
        assert!(!st.sweep_wanted(), "a join leaves nothing stale");
        learn_many(&mut st, bd, 1, 0, 5000);
        learn_many(&mut st, bd, 2, 10_000, 10);
        sweep(&mut st, 0, 100);
        assert!(!st.sweep_wanted());
        st.forget_interface(1);
        assert!(st.sweep_wanted());
        assert_eq!(shown(&st).len(), 10);
        // Until the sweep, stale entries still count (as VPP's counts until its scan).
        assert_eq!(st.global_learn_count, 5010);
        let cost = sweep(&mut st, 0, 100);
        assert_eq!(cost.len(), 50);
        assert!(cost.iter().all(|&c| c == 100), "{cost:?}");
        assert_eq!(st.fib.len(), 10);
        assert_eq!(counts(&st), recount(&st));
        assert!(!st.sweep_wanted());
        // A bump between the read-only pass and the end keeps the sweep wanted.
        st.flush_port(2);
        let since = st.bump_count();
        let keys = st.to_sweep(0);
        st.flush_bd(bd);
        st.remove_swept(&keys, 0);
        st.swept_since(since);
        assert!(st.sweep_wanted());
        sweep(&mut st, 0, 100);
        assert!(!st.sweep_wanted() && st.fib.is_empty());
    }

    #[test]
    fn a_reused_interface_index_inherits_no_entry() {
        let mut st = L2State::new(1, 64);
        let bd = st.bd_add(1).unwrap();
        st.join(bd, 1, 0, false, [0; 6]);
        st.join(bd, 2, 0, true, [2, 0, 0, 0, 0, 2]);
        let learned = key(&[2, 0, 0, 0, 0, 7], bd);
        let fixed = key(&[2, 0, 0, 0, 0, 8], bd);
        let bvi = key(&[2, 0, 0, 0, 0, 2], bd);
        st.apply(&ev(&st, learned, 1));
        st.add_entry(fixed, 1, flags::STATIC);
        assert_eq!(shown(&st), {
            let mut v = vec![learned, fixed, bvi];
            v.sort_unstable();
            v
        });
        // Interface 1 is deleted and its index given to a new port of the same BD.
        st.forget_interface(1);
        st.forget_interface(2);
        assert!(
            shown(&st).is_empty(),
            "static and BVI entries die with their interface"
        );
        assert!(st.bds[bd as usize].members.is_empty() && st.bds[bd as usize].bvi.is_none());
        st.join(bd, 1, 0, false, [0; 6]);
        assert!(shown(&st).is_empty());
        for k in [learned, fixed] {
            assert!(!st.live(k, &st.fib[&k]), "the new port 1 inherits nothing");
        }
        // Learning (on another port) and provisioning work over dead entries.
        st.join(bd, 3, 0, false, [0; 6]);
        assert_eq!(st.apply(&ev(&st, learned, 3)), Applied::Learned);
        assert_eq!(st.apply(&ev(&st, fixed, 3)), Applied::Learned);
        st.add_entry(fixed, 1, flags::STATIC);
        assert!(st.live(fixed, &st.fib[&fixed]) && st.live(learned, &st.fib[&learned]));
        assert_eq!(counts(&st), recount(&st));
    }

    #[test]
    fn a_sequence_number_never_wraps_onto_a_stale_entry() {
        let mut st = L2State::new(1, 64);
        let bd = st.bd_add(1).unwrap();
        st.join(bd, 1, 0, false, [0; 6]);
        let k = key(&MAC, bd);
        st.apply(&ev(&st, k, 1));
        // 256 flushes of the port with no sweep in between (the ISN comes back to the
        // entry's), then the same with the BD and with everything.
        for _ in 0..256 {
            st.flush_port(1);
        }
        assert!(!st.fib.get(&k).is_some_and(|e| st.live(k, e)));
        st.apply(&ev(&st, k, 1));
        for i in 0..256 {
            if i % 2 == 0 {
                st.flush_bd(bd);
            } else {
                st.flush_all();
            }
        }
        assert!(!st.fib.get(&k).is_some_and(|e| st.live(k, e)));
        st.add_entry(k, 1, flags::STATIC);
        for _ in 0..256 {
            st.forget_interface(1);
        }
        assert!(!st.fib.get(&k).is_some_and(|e| st.live(k, e)));
        assert_eq!(counts(&st), recount(&st));
    }

    #[test]
    fn a_deleted_bd_keeps_its_index_until_swept() {
        let mut st = L2State::new(1, 64);
        let a = st.bd_add(10).unwrap();
        let b = st.bd_add(20).unwrap();
        st.join(a, 1, 0, false, [0; 6]);
        let k = key(&MAC, a);
        st.apply(&ev(&st, k, 1));
        st.add_entry(key(&MAC, b), 1, flags::STATIC);
        st.leave(a, 1);
        st.bd_del(a);
        assert_eq!(st.bd_index(10), None);
        let c = st.bd_add(30).unwrap();
        assert!(c != a && c != b);
        assert!(shown(&st).iter().all(|&k| key_bd(k) == b));
        sweep(&mut st, 0, 8);
        assert_eq!(st.fib.len(), 1);
        assert_eq!(st.bd_add(40), Ok(a), "the lowest free index once swept");
        assert_eq!(counts(&st), recount(&st));
    }

    #[test]
    fn member_lists_stay_consistent_with_the_records() {
        let mut st = L2State::new(1, 64);
        let bd = st.bd_add(1).unwrap();
        let mut model: Vec<u32> = Vec::new();
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut bvi = None;
        for _ in 0..2000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let sw = (x % 24) as u32 + 1;
            if model.contains(&sw) {
                if x & 4 == 0 {
                    st.forget_interface(sw);
                } else {
                    st.leave(bd, sw);
                }
                model.retain(|&m| m != sw);
                if bvi == Some(sw) {
                    bvi = None;
                }
            } else {
                let as_bvi = bvi.is_none() && x & 8 == 0;
                st.join(bd, sw, 0, as_bvi, [2, 0, 0, 0, 1, sw as u8]);
                model.push(sw);
                if as_bvi {
                    bvi = Some(sw);
                }
            }
            let b = &st.bds[bd as usize];
            let mut have: Vec<u32> = b.members.iter().map(|m| m.sw_if_index).collect();
            if let Some(v) = bvi {
                assert_eq!((have[0], b.bvi), (v, Some(v)), "the BVI is first");
            }
            for (p, &sw) in have.iter().enumerate() {
                let r = st.ifs[sw as usize];
                assert_eq!((r.bd, r.pos as usize), (bd, p));
            }
            have.sort_unstable();
            let mut want = model.clone();
            want.sort_unstable();
            assert_eq!(have, want);
        }
    }

    #[test]
    fn growing_the_fib_happens_before_the_barrier() {
        let mut st = L2State::new(1, 8);
        let bd = st.bd_add(1).unwrap();
        st.join(bd, 1, 0, false, [0; 6]);
        learn_many(&mut st, bd, 1, 0, 8);
        let cap = st.fib.capacity();
        // 100 more would grow it: the caller takes a bigger copy first.
        let grown = st.grown_fib(100).expect("needs to grow");
        assert_eq!(grown.len(), 8);
        let old = st.install_fib(grown);
        assert_eq!(old.capacity(), cap);
        let cap = st.fib.capacity();
        let t0 = st.touched;
        learn_many(&mut st, bd, 1, 100, 100);
        assert_eq!(st.fib.capacity(), cap, "no growth while applying");
        assert_eq!(st.touched - t0, 100);
        assert!(st.grown_fib(1).is_none() || st.fib.len() * 2 >= cap);
        // `clear l2fib`: a fresh table swapped in.
        let fresh = st.empty_fib();
        assert_eq!(fresh.capacity(), cap);
        st.replace_fib(fresh);
        assert!(st.fib.is_empty() && st.global_learn_count == 0);
        assert_eq!(counts(&st), recount(&st));
    }

    /// `l2-input` keeps its per-port cache across FIB changes (learning, sweeps, flushes) and
    /// drops it when a BD it depends on changes.
    #[test]
    fn ports_gen_moves_with_bd_settings_only() {
        let mut st = L2State::new(1, 64);
        let g = st.ports_gen();
        let bd = st.bd_add(1).unwrap();
        assert_ne!(st.ports_gen(), g);
        let g = st.ports_gen();
        st.join(bd, 1, 0, false, [0; 6]);
        learn_many(&mut st, bd, 1, 0, 10);
        st.flush_port(1);
        st.flush_bd(bd);
        st.flush_all();
        sweep(&mut st, 0, 4);
        st.add_entry(key(&MAC, bd), 1, 0);
        assert_eq!(st.ports_gen(), g);
        st.set_bd_features(bd, feat::FLOOD, false);
        assert_eq!(st.bds[bd as usize].features() & feat::FLOOD, 0);
        assert_ne!(st.ports_gen(), g);
        let g = st.ports_gen();
        st.bd_del(bd);
        assert!(st.ports_gen() != g && !st.bds[bd as usize].in_use());
    }
}
