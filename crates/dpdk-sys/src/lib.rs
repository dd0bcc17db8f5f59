//! `pwire-dpdk-sys`: raw bindings to the system DPDK (Debian's 22.11, found with pkg-config,
//! linked dynamically so the PMD plugins load by themselves at EAL init), plus a C shim
//! (`csrc/shim.c`) for the static-inline functions and macros pwire needs: rx/tx burst, mbuf
//! alloc/free, `rte_errno`, `rte_lcore_id`, and linking objects into a mempool.
//!
//! Empty unless its `dpdk` feature is on (pwire's `dpdk` feature turns it on). The allowlist in `build.rs` is kept narrow: what
//! `pwire-dpdk` uses. Everything here is `unsafe` C; the safe layer is `pwire-dpdk`.

#![allow(
    unsafe_op_in_unsafe_fn,
    non_upper_case_globals,
    non_camel_case_types,
    non_snake_case,
    missing_debug_implementations
)]
#![allow(clippy::all, clippy::undocumented_unsafe_blocks)]

#[cfg(feature = "dpdk")]
include!(concat!(env!("OUT_DIR"), "/bindings.rs"));
