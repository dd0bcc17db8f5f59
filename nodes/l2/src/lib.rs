//! pwire-node-l2: bridging and cross-connects (VPP's vnet/l2), and loopback interfaces.
//!
//! Path of a bridged frame (each node's module says its arcs and counters):
//! `ethernet-input` / `l2tp-decap` / `loop-tx` → `l2-input` → (`l2-input-mss-clamp` on a port
//! with rx TCP MSS clamping) → (`l2-input-vtr` on a port with a tag rewrite) → `l2-learn` →
//! `l2-fwd` (or `l2-flood`) → `l2-output` (the egress port's inverse tag rewrite; a TCP SYN to
//! a port with tx MSS clamping detours through `l2-output-mss-clamp` first) → the egress
//! interface's output node (`interface-output`, or `l2tp-encap` for a tunnel). Frames for the
//! BD's BVI leave `l2-fwd`/`l2-flood` for the L3 input node of their EtherType. Each node
//! after `l2-input` runs the next feature of the frame's feature bitmap;
//! `feature-bitmap-drop` and `l2-output-bad-intf` drop what is left.
//! A cross-connected port's frames go `l2-input` → (its own features: MSS clamp, tag rewrite)
//! → `l2-output`.
//!
//! State: bridge domains and the L2 FIB ([`state`]; the table itself is [`fib`], 16-byte slots
//! that `l2-learn`/`l2-fwd` prefetch a frame ahead once it outgrows the caches), read lock-free
//! by every thread and changed by the main thread with the workers parked. Threads learn into
//! per-thread queues and overlays that the main thread publishes every 10 ms ([`learn`]: no
//! lock, no per-packet shared atomic, bounded publication delay). Flushes and interface
//! deletions are lazy (VPP's sequence numbers, see [`state`]): nothing done with the workers
//! parked walks the FIB. Aging and the sweep of stale entries run on the main thread
//! ([`process`]), removing entries in bounded batches.
//!
//! CLI ([`cli`], [`loopback`], [`mss`]): `create bridge-domain`, `set bridge-domain
//! learn|forward|flood|uu-flood|mac-age|learn-limit`, `set interface l2 bridge|xconnect`,
//! `set interface l3`, `set interface l2 tag-rewrite`, `show bridge-domain`, `show mode`,
//! `l2fib add|del|flush-mac`, `clear l2fib`, `show l2fib`, `create|delete loopback
//! interface`, `set|show interface tcp-mss-clamp` (TCP MSS clamping of the SYNs a port
//! receives or sends, VPP's mss_clamp syntax plus `auto`), and two pwire knobs: `set l2fib
//! learn-limit` (global limit) and `set l2fib age-scan-interval` (aging clock).

pub mod bvi;
pub mod cli;
pub mod fib;
pub mod l2_flood;
pub mod l2_fwd;
pub mod l2_input;
pub mod l2_learn;
pub mod l2_output;
pub mod learn;
pub mod loopback;
pub mod mss;
pub mod process;
pub mod state;
pub mod trace;
pub mod vtr;

use pwire_graph::{next_nodes, Shared};
use pwire_vnet::Registry;
use state::L2State;
use std::sync::Arc;

// Arcs shared by the nodes that dispatch on the feature bitmap (`l2-input`, `l2-learn`,
// `l2-fwd`), so one table maps a feature bit to a next index in all three.
next_nodes! {
    pub enum FeatNext {
        Drop => "error-drop",
        FeatDrop => "feature-bitmap-drop",
        Output => "l2-output",
        Flood => "l2-flood",
        Fwd => "l2-fwd",
        Learn => "l2-learn",
        Vtr => "l2-input-vtr",
        Mss => "l2-input-mss-clamp",
    }
}

/// Next node of the highest bit of a feature bitmap (bit order of [`state::feat`]).
#[inline(always)]
pub fn feat_next(bitmap: u32) -> u16 {
    const BY_BIT: [FeatNext; 8] = [
        FeatNext::FeatDrop,
        FeatNext::Output,
        FeatNext::Flood,
        FeatNext::Flood,
        FeatNext::Fwd,
        FeatNext::Learn,
        FeatNext::Vtr,
        FeatNext::Mss,
    ];
    if bitmap == 0 {
        return FeatNext::Drop as u16;
    }
    let bit = (31 - bitmap.leading_zeros()) as usize;
    BY_BIT.get(bit).map_or(FeatNext::FeatDrop, |&n| n) as u16
}

/// Key of a frame too short to have one (never looked up).
pub(crate) const NO_KEY: u64 = u64::MAX;

/// A run's source (`SRC`) or destination MAC and BD as a frame holds them: the run loops of
/// `l2-learn` and `l2-fwd` compare each frame's MAC bytes as one masked little-endian word
/// against it, instead of building the frame's key (byte swaps, shifts, the BD or-ed in).
#[derive(Clone, Copy)]
pub(crate) struct RunKey<const SRC: bool> {
    mac: u64,
    bd: u16,
}

impl<const SRC: bool> RunKey<SRC> {
    /// Where the 8-byte word holding the MAC starts, and which of its bytes are the MAC.
    const AT: usize = if SRC { 4 } else { 0 };
    const MASK: u64 = if SRC {
        u64::from_le_bytes([0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])
    } else {
        u64::from_le_bytes([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0])
    };

    /// The run of FIB key `key` (as [`frame_key`] makes it).
    #[inline(always)]
    pub(crate) fn of(key: u64) -> Self {
        let mac48 = key & 0xffff_ffff_ffff;
        let bytes = if SRC { mac48 } else { mac48 << 16 }.to_be_bytes();
        RunKey {
            mac: u64::from_le_bytes(bytes),
            bd: (key >> 48) as u16,
        }
    }

    /// True if `b`'s key is the run's: what `frame_key::<SRC>(b) == key` says for every frame
    /// long enough to have a key (a shorter one never matches).
    #[inline(always)]
    pub(crate) fn matches(self, b: &pwire_buffer::Buffer) -> bool {
        let d = b.current();
        if d.len() < 14 {
            return false;
        }
        let Some(w) = d.get(Self::AT..).and_then(|w| w.first_chunk::<8>()) else {
            return false;
        };
        u64::from_le_bytes(*w) & Self::MASK == self.mac && b.opaque.l2.bd_index == self.bd
    }
}

/// Table size from which `l2-learn` and `l2-fwd` prefetch: below it the lines they touch stay
/// in the core's caches and a second pass over the frame costs more than it saves.
pub(crate) const PREFETCH_FROM: usize = 8192;

/// The FIB key of a frame: source (`SRC`) or destination MAC with the BD index; [`NO_KEY`]
/// for a frame too short to have one.
#[inline(always)]
pub(crate) fn frame_key<const SRC: bool>(b: &pwire_buffer::Buffer) -> u64 {
    let d = b.current();
    if d.len() < 14 {
        return NO_KEY;
    }
    // One 8-byte load: bytes 0..8 hold the destination in their top 48 bits, bytes 4..12 the
    // source in their low 48.
    let mac = if SRC {
        u64::from_be_bytes([d[4], d[5], d[6], d[7], d[8], d[9], d[10], d[11]]) & 0xffff_ffff_ffff
    } else {
        u64::from_be_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]]) >> 16
    };
    mac | u64::from(b.opaque.l2.bd_index) << 48
}

/// First pass of `l2-learn` and `l2-fwd` over a big table: every packet's FIB key, with the
/// table line it lives in prefetched, so the lookups of the second pass overlap their cache
/// misses instead of taking them one by one (prefetching a few packets ahead instead measured
/// slower: a frame's lines fit in L1). Returns false, doing nothing, for a small table
/// (its lines stay in the core's caches, and the loops over changing keys overlap the lookups
/// well enough: a pass there, tried for frames whose keys changed often, did not pay): then the
/// caller computes each key as it goes.
#[inline(always)]
pub(crate) fn keys_prefetched<const SRC: bool>(
    frame: &pwire_graph::Frame<'_>,
    fib: &fib::Fib,
    keys: &mut [u64; pwire_graph::FRAME_SIZE],
) -> bool {
    if fib.len() < PREFETCH_FROM {
        return false;
    }
    for (i, k) in keys.iter_mut().enumerate().take(frame.len()) {
        *k = frame_key::<SRC>(frame.buf(i));
        if *k != NO_KEY {
            fib.prefetch(*k);
        }
    }
    true
}

/// Registers the L2 nodes, the loopback device class, the process nodes and the CLI.
pub fn register(r: &mut Registry) {
    let n_threads = r.vnet.n_threads;
    // Reserve the table up front (VPP sizes its bihash from `l2fib { num-buckets }` too), so
    // it rarely grows (when it does, the bigger copy is made before the barrier, see
    // `L2State::grown_fib`).
    let cap = (r.config.l2fib.num_buckets as usize).min(1 << 20);
    let mut st = L2State::new(n_threads, cap);
    if let Some(n) = r.config.l2learn.limit {
        // `l2learn { limit <n> }`: VPP's startup knob for the global learn limit.
        st.global_learn_limit = n;
    }
    let state = Shared::new(st);
    let learners = Arc::new(learn::Learners::new(n_threads));
    l2_input::register(r, state.clone());
    l2_learn::register(r, state.clone(), learners.clone());
    l2_fwd::register(r, state.clone(), learners.clone());
    l2_flood::register(r, state.clone());
    l2_output::register(r, state.clone());
    vtr::register(r);
    mss::register(r, state.clone());
    loopback::register(r);
    process::register(r, state.clone(), learners);
    // A deleted interface leaves its bridge, and the FIB entries pointing at it go stale
    // before its index can be reused: O(1) under the barrier, the sweep removes them later.
    let s = state.clone();
    r.vnet.hooks.on_interface_delete(Box::new(move |ctl, sw| {
        s.write(ctl).forget_interface(sw);
    }));
    mss::register_cli(r, state.clone());
    cli::register(r, state);
    // Frames from interfaces in L2 mode (ethernet-input checks that this arc exists).
    r.graph.add_next("ethernet-input", "l2-input");
}

#[cfg(test)]
pub(crate) mod tests {
    use super::{frame_key, RunKey};
    use pwire_buffer::{BufferIndex, Pool, PoolConfig, ThreadCache};
    use std::sync::Arc;

    /// A small pool and one buffer allocated from it, for unit tests that run a function over a
    /// real buffer (keep the cache: it holds the allocation).
    pub(crate) fn one_buffer() -> (Arc<Pool>, ThreadCache, BufferIndex) {
        let pool = Pool::new(&PoolConfig {
            n_buffers: 4,
            try_hugepages: false,
            n_threads: 1,
            ..PoolConfig::default()
        })
        .unwrap();
        let mut cache = ThreadCache::new(pool.clone(), 0);
        let mut bi = [0u32; 1];
        assert_eq!(cache.alloc(&mut bi), 1);
        (pool, cache, bi[0])
    }

    /// A run's key matches exactly the frames whose FIB key is the run's: random frames (lengths
    /// around the 14-byte minimum) against their own key, and against it with one MAC bit or the
    /// BD changed.
    #[test]
    fn run_keys_match_as_frame_keys_compare() {
        let (pool, mut cache, bi) = one_buffer();
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let (mut matched, mut missed) = ([0u32; 2], [0u32; 2]);
        for _ in 0..20_000 {
            let mut f = [0u8; 20];
            f.iter_mut().for_each(|v| *v = next() as u8);
            let len = 12 + (next() % 9) as usize;
            // SAFETY: the test owns the one buffer it allocated; no other reference exists.
            let b = unsafe { pool.get_mut(bi) };
            b.init(len as u16, [1, !0]);
            b.current_mut().copy_from_slice(&f[..len]);
            b.opaque.l2.bd_index = (next() % 3) as u16;
            for src in [true, false] {
                let own = if src {
                    frame_key::<true>(b)
                } else {
                    frame_key::<false>(b)
                };
                let key = match next() % 3 {
                    0 => own,
                    1 => own ^ 1 << (next() % 48),
                    _ => own ^ 1 << 48,
                };
                let m = if src {
                    RunKey::<true>::of(key).matches(b)
                } else {
                    RunKey::<false>::of(key).matches(b)
                };
                let want = len >= 14 && own == key;
                assert_eq!(m, want, "src {src} frame {:02x?} key {key:016x}", &f[..len]);
                let j = usize::from(src);
                if m {
                    matched[j] += 1;
                } else {
                    missed[j] += 1;
                }
            }
        }
        // Both outcomes seen for both kinds.
        assert!(
            matched.iter().chain(&missed).all(|&n| n > 1000),
            "{matched:?} {missed:?}"
        );
        // SAFETY: allocated by `one_buffer`, no reference to it left.
        unsafe { cache.free(&[bi]) };
    }
}
