//! pwire-graph: the vector engine (VPP's vlib).
//!
//! - [`Registry`] collects node registrations (name, kind, next-node names, counter declarations,
//!   factory); [`Graph::build`] resolves every next name to a node index and fails on an unknown
//!   one.
//! - Each thread owns a [`Runtime`]: its own instance of every node, a frame scheduler, a buffer
//!   cache, per-thread counters and node statistics. [`Runtime::run_once`] polls the input nodes
//!   and then runs pending frames until none are left (VPP's `vlib_main_or_worker_loop`).
//! - A node gets a whole [`Frame`] (up to [`FRAME_SIZE`] buffers) and writes one next index per
//!   packet; the engine moves the whole frame to the next node when every packet agrees, and
//!   otherwise copies indices into the targets' open frames. One dynamic call per frame, never
//!   per packet.
//! - Counters and node statistics are per thread, written only by their owner, summed on read.
//! - [`Shared`] holds control-plane state that workers read while they forward; the main thread
//!   changes it only while every worker is parked at the [`Barrier`] (see `shared.rs`).

pub mod barrier;
pub mod counters;
pub mod node;
pub mod registry;
pub mod runtime;
pub mod shared;
pub mod trace;

pub use barrier::{Barrier, BarrierGuard, BarrierStats};
pub use counters::{CounterDecl, Counters, NodeStats, Severity, StatsSnapshot};
pub use node::{Cx, Frame, Node, NodeKind, NEXT_CONSUMED};
pub use registry::{Graph, NodeReg, Registry};
pub use runtime::{Pin, Runtime, ThreadShared};
pub use shared::{Ctl, Dp, Shared};
pub use trace::{TraceEntry, TracePacket, Tracer};

/// Buffers per frame (VPP's `VLIB_FRAME_SIZE`, which is 256). Half VPP's: what a node touches
/// of a full frame (each buffer's metadata line and the one or two lines of headers it reads)
/// then fits a 48 KiB L1d, so every node after the first finds its lines there instead of in
/// L2. Measured side by side against a 256 build (`scripts/bench.py`, pg input): 4-9% fewer
/// clocks per packet on the L2TPv3 paths, 1% more where a node runs a per-frame look-ahead
/// over a big table (100k sessions, 1M routes); frames of 96 and of 192 cost 2-4% more than 128
/// (the per-frame work against the lines that still fit).
pub const FRAME_SIZE: usize = 128;

/// Reads the time-stamp counter (the clock `show runtime` reports in).
#[inline(always)]
pub fn rdtsc() -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: RDTSC has no preconditions on x86_64.
        unsafe { core::arch::x86_64::_rdtsc() }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0)
    }
}

/// TSC ticks per second, measured once against the monotonic clock.
pub fn tsc_hz() -> f64 {
    use std::sync::OnceLock;
    static HZ: OnceLock<f64> = OnceLock::new();
    *HZ.get_or_init(|| {
        let t0 = std::time::Instant::now();
        let c0 = rdtsc();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let c1 = rdtsc();
        let dt = t0.elapsed().as_secs_f64();
        (c1.wrapping_sub(c0)) as f64 / dt
    })
}

/// Declares a node's next arcs: an enum of `u16` indices plus the names the graph resolves.
///
/// ```
/// pwire_graph::next_nodes! { pub enum Next { Drop => "error-drop", L2Input => "l2-input" } }
/// assert_eq!(Next::NAMES, &["error-drop", "l2-input"]);
/// assert_eq!(Next::L2Input as u16, 1);
/// ```
#[macro_export]
macro_rules! next_nodes {
    ($(#[$m:meta])* $vis:vis enum $name:ident { $($var:ident => $s:literal),* $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[repr(u16)]
        $vis enum $name { $($var),* }
        impl $name {
            /// Next-node names in index order.
            pub const NAMES: &'static [&'static str] = &[$($s),*];
        }
        impl From<$name> for u16 {
            #[inline(always)]
            fn from(n: $name) -> u16 { n as u16 }
        }
    };
}

/// Picks, once per frame, the variant of a hot packet loop generic over `const TRACE: bool`
/// (its first generic parameter; more may follow, each one token: a type name or a const
/// value): with the per-packet `TRACED` test while
/// tracing is on ([`Cx::tracing`]), without it otherwise. The loops are not inlined, so calling
/// the chosen one costs what a direct call does.
///
/// ```
/// fn run<const TRACE: bool, T: Default>() -> (bool, T) { (TRACE, T::default()) }
/// let tracing = true;
/// let f = pwire_graph::tracing_variant!(tracing, run, u8);
/// assert_eq!(f(), (true, 0));
/// ```
#[macro_export]
macro_rules! tracing_variant {
    ($on:expr, $f:ident $(, $g:tt)*) => {
        if $on {
            $f::<true $(, $g)*>
        } else {
            $f::<false $(, $g)*>
        }
    };
}

/// Declares a node's counters: one list feeds the enum, the strings and `show errors`.
///
/// ```
/// pwire_graph::counters! { pub enum C { Ok: info = "packets processed", Bad: error = "bad packet" } }
/// assert_eq!(C::DECLS[1].name, "bad packet");
/// ```
#[macro_export]
macro_rules! counters {
    ($(#[$m:meta])* $vis:vis enum $name:ident { $($var:ident : $sev:ident = $s:literal),* $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[repr(u16)]
        $vis enum $name { $($var),* }
        impl $name {
            /// Counter names and severities in code order.
            pub const DECLS: &'static [$crate::CounterDecl] = &[
                $($crate::CounterDecl { name: $s, severity: $crate::counters::sev!($sev) }),*
            ];
        }
        impl From<$name> for u16 {
            #[inline(always)]
            fn from(n: $name) -> u16 { n as u16 }
        }
    };
}
