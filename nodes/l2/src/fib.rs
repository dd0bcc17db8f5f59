//! The L2 FIB: (MAC, BD index) -> [`Entry`] in pwire's open-addressing table (16-byte slots,
//! one cache line per lookup, prefetched a frame ahead by `l2-learn`/`l2-fwd` once the table
//! outgrows the caches; see `pwire-table`).

use crate::state::Entry;

/// MAC + BD index -> [`Entry`].
pub type Fib = pwire_table::Table<Entry>;
