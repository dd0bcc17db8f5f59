//! pwire-reass: the IPv4 and IPv6 reassembly core, sans-IO.
//!
//! It owns no packet buffer, no graph node, no thread and no clock: the caller hands it one
//! fragment at a time, already parsed into a [`Key`] (family, addresses, identification,
//! protocol / next header) and a [`Frag`] (offset, M flag, payload, and for the first fragment
//! the header bytes to keep), together with the time `now` in nanoseconds. The core copies what
//! it keeps, so the caller frees (or reuses) the fragment's buffer as soon as
//! [`Reassembler::fragment`] returns, whatever the [`Outcome`]. [`split_ip4`] and [`split_ip6`]
//! make a `Key` and a `Frag` out of a packet's bytes.
//!
//! # Shape
//!
//! One [`Reassembler`] per worker thread, made with its caps ([`Config`]) and never resized:
//!
//! - [`Reassembler::fragment`] → [`Outcome::Held`] (stored, waiting for more),
//!   [`Outcome::Atomic`] (offset 0 and M = 0: handled at once, never stored, RFC 6946),
//!   [`Outcome::Complete`] (the whole datagram, a [`Datagram`] borrowed until the next call, to
//!   copy into a caller's buffer with [`Datagram::copy_to`] or read in pieces with
//!   [`Datagram::pieces`]) or [`Outcome::Dropped`] with its [`Reason`].
//! - [`Reassembler::expire`] drops what timed out; [`Reassembler::next_expiry`] says when to call
//!   it next (a timer wheel or a periodic walk, as VPP's expire-walk process).
//! - [`Reassembler::counters`] (every fragment dropped and every datagram discarded, by reason),
//!   [`Reassembler::usage`] (the accounting the caps are checked against), and a `Display` of
//!   the table state and counters in the style of VPP's `show ip6-full-reassembly [details]`
//!   (`{:#}` adds one block per datagram).
//!
//! ```
//! use pwire_reass::{split_ip6, Config, Outcome, Reassembler};
//!
//! let src = [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
//! let dst = [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
//! let frag = |offset: u16, more: bool, data: &[u8]| {
//!     let mut p = vec![0x60, 0, 0, 0, 0, 8 + data.len() as u8, 44, 64];
//!     p.extend_from_slice(&src);
//!     p.extend_from_slice(&dst);
//!     // Fragment header: next header 115 (L2TPv3), offset and M, identification 7.
//!     p.extend_from_slice(&[115, 0]);
//!     p.extend_from_slice(&(offset << 3 | u16::from(more)).to_be_bytes());
//!     p.extend_from_slice(&7u32.to_be_bytes());
//!     p.extend_from_slice(data);
//!     p
//! };
//! let (first, last) = (frag(0, true, &[1; 16]), frag(2, false, &[2; 4]));
//!
//! let mut r = Reassembler::new(Config::default()).unwrap();
//! let mut buf = [0u8; 2048];
//! let mut len = 0;
//! for (now, pkt) in [(0, &last), (1_000, &first)] {
//!     let (key, f) = split_ip6(pkt).expect("a fragment");
//!     match r.fragment(now, key, f) {
//!         Outcome::Complete(d) => len = d.copy_to(&mut buf).expect("fits"),
//!         Outcome::Held => {}
//!         other => panic!("{other:?}"),
//!     }
//! }
//! assert_eq!(len, 40 + 20);
//! assert_eq!(&buf[4..7], &[0, 20, 115]); // payload length; the Fragment header is gone
//! assert_eq!(&buf[40..len], &[[1; 16].as_slice(), &[2; 4]].concat()[..]);
//! ```
//!
//! All fragments of one datagram carry the same `Key`, so a dispatcher that steers fragments
//! to workers by a hash of the `Key` (keyed per process, shared by all workers: `Key` is
//! `Hash`) sends them all to one worker's `Reassembler`; fragments of one datagram never need
//! to meet across tables.
//!
//! # The datagram that comes out
//!
//! Header then payload, contiguous: the first fragment's header (IPv4 with its options; IPv6
//! with the unfragmentable extension headers, the Fragment header itself is never passed in)
//! followed by the fragmentable part. IPv4: total length set, flags and fragment offset
//! cleared, header checksum recomputed. IPv6: payload length set and the Next Header field
//! that named the Fragment header (44) now names what the Fragment header named, so the
//! Fragment header is gone (RFC 8200 §4.5).
//!
//! # Rules
//!
//! - Fragments are disjoint ranges of the payload, kept sorted per datagram (the complement of
//!   RFC 815's hole list: the datagram is complete when the first fragment has arrived, the last
//!   one has fixed the length, and the bytes received add up to it, which with disjoint ranges
//!   inside `[0, length)` means no hole is left).
//! - Any overlap discards the datagram, and every later fragment of it is dropped until the
//!   timeout (RFC 5722; applied to IPv4 as well: an overlap is never legitimate from a correct
//!   sender and is the classic filter-evasion and misassembly vector, RFC 1858 / RFC 3128). An
//!   exact duplicate (same range, same bytes) is ignored and counted; same range with other bytes
//!   is an overlap.
//! - Offset 0 with M = 0 is an atomic fragment (RFC 6946): [`Outcome::Atomic`], processed in
//!   isolation, never matched against a datagram in progress with the same key.
//! - A non-last fragment must carry a non-zero multiple of 8 bytes (RFC 8200 §4.5, RFC 791).
//! - Nothing over 65535 bytes (IPv4 total length, IPv6 payload length): a fragment ending past
//!   what any datagram of its family can hold (65535 for IPv6, 65515 for IPv4, whose header
//!   takes at least 20) is refused; a datagram whose header and payload, once the first
//!   fragment shows the header, exceed it is discarded.
//! - The last fragment fixes the length: a second "last" fragment with another end, a non-last
//!   fragment reaching that end, or data already past it discards the datagram (inconsistent).
//! - Tiny first fragments: the first fragment must carry at least
//!   [`Config::min_first_payload`] bytes after the fragment header (RFC 1858 / RFC 3128 for IPv4,
//!   RFC 7112 for IPv6, which asks for the whole header chain). The default, 8, only refuses an
//!   empty one since non-last fragments carry multiples of 8 anyway; a caller that needs its
//!   upper-layer header whole sets it (L2TPv3 over IP: session id and cookie; over UDP: 8 + 12).
//! - The first fragment's header must be well formed (IPv4: version, IHL matching its length,
//!   protocol matching the key; IPv6: version, then only hop-by-hop, routing and destination
//!   options headers up to the Fragment header) and at most [`Config::max_header`] bytes.
//! - After completion the datagram's ranges are remembered for [`Config::linger`]: a fragment
//!   repeating one of them is a late duplicate and is dropped ("after completion"); any other
//!   fragment with that key starts a new datagram (identification reuse).
//!
//! # Storage: a slab of fixed-size chunks, indexed by offset
//!
//! At creation the core allocates everything it will ever use: a slab of
//! `max_bytes / CHUNK` chunks of [`CHUNK`] bytes with a free list, per datagram slot a table of
//! chunk indices (one entry per `CHUNK` bytes of header room and of the 64 KiB payload space)
//! and room for [`Config::max_fragments`] ranges, and a hash map reserved for
//! [`Config::max_datagrams`] keys. A fragment's payload goes to `chunk[offset / CHUNK]` at
//! `offset % CHUNK`, taking a chunk from the free list the first time a datagram touches it.
//! Why this and not the alternatives:
//!
//! - No allocation per fragment and no allocator in the dataplane: the free list is a stack of
//!   indices; the map never grows past its reservation.
//! - The byte cap is the real memory: accounting is in whole chunks, so what an attacker makes
//!   the core hold (including the waste of tiny or misaligned fragments, each fragment costing at
//!   most two partly used chunks, bounded by the per-datagram fragment cap) is what is charged.
//!   All chunks have one size, so the slab cannot fragment the way a byte allocator would.
//! - Holding no packet buffer means a never-completed datagram can leak nothing and cannot
//!   starve the buffer pool; the cost is one copy of each fragment's payload (on the fragment
//!   path only), and a second copy out when the datagram completes.
//! - Offset-indexed chunks make the copy in a direct `memcpy`, overlap checks a walk over a few
//!   ranges, and the copy out a walk in order, with no sorting or linked buffer chains.
//!
//! # Defaults, and why
//!
//! - Timeouts: 500 ms for IPv4, 1 s for IPv6 (Linux hosts use 30 s and 60 s, RFC 8200 allows at
//!   most 60 s, VPP uses 100 ms). At a tunnel endpoint the fragments of one outer packet leave
//!   the peer back to back and arrive within the path's delay variation, milliseconds; waiting
//!   longer than the inner TCP's retransmission timeout (200 ms minimum on Linux, 1 s in RFC
//!   6298) only holds memory for frames the inner sender has already resent. Memory held by
//!   loss or by an attacker's never-completed datagrams is their rate times the timeout, so
//!   short is cheaper. IPv4 is shorter still because its 16-bit identification wraps: a tunnel
//!   sending 100k fragmented packets per second reuses an ID every 0.65 s, and a stale fragment
//!   outliving that can be glued into a new datagram (RFC 4963), silently, since the inner frame
//!   has no checksum of its own. 100 ms (VPP) drops more on a jittery path for little gain.
//! - 1024 datagrams in flight (VPP's default), 4 MiB of payload and header (a full-size tunnel
//!   datagram over a 1500-byte underlay takes four 512-byte chunks, header included: 2 MiB for
//!   1024 of them, and as much again for larger ones), 16 fragments
//!   per datagram (a 9 KB jumbo inner frame at the IPv6 minimum MTU of 1280 is 8; VPP allows 3),
//!   512 bytes of header, 100 ms of linger after completion (late duplicates come within the
//!   path's delay variation; shorter than the IPv4 ID reuse time above).
//!
//! # Caps: evict the oldest
//!
//! When a new datagram finds the table full, the core frees a slot: one already timed out if
//! any, else the oldest completed remnant, else the oldest discarded (poisoned) one, else the
//! oldest datagram in progress. When a fragment needs chunks and none are free, the oldest
//! datagrams in progress other than its own are evicted until it fits; if it cannot fit even
//! alone, its datagram is discarded. Refusing new datagrams instead (Linux above
//! `ipfrag_high_thresh`, VPP's "maximum reassemblies exceeded") lets anyone who can send one fragment per slot per timeout
//! period lock every legitimate datagram out for the whole timeout; with eviction the attacker
//! must cycle the whole table faster than a legitimate datagram completes (microseconds to
//! milliseconds from first to last fragment), which takes orders of magnitude more traffic, and
//! memory stays bounded either way. Every eviction is counted ("table full", "memory full").
//!
//! # For the integrator
//!
//! - One `Reassembler` per worker, created at start-up (the allocation is there and only
//!   there); fragments steered to the worker that owns their key (a keyed hash of the `Key`,
//!   the same on every worker), or handed off to it.
//! - Per fragment: [`split_ip4`] / [`split_ip6`], then `fragment`, then free the buffer unless it
//!   is reused for the output. `Complete`: copy into a buffer ([`Datagram::copy_to`], e.g. the
//!   last fragment's own) and send it on as an unfragmented packet (to `ip6-local` /
//!   `ip4-local`, so the next header is dispatched as usual). `Atomic`: send the packet on as
//!   it is; for IPv6 the Fragment header must be skipped (RFC 6946). `Dropped(reason)`: count
//!   it against the node's error with that reason ([`Reason::name`]); for IPv6 `BadLength` and
//!   `TooLong` RFC 8200 asks for an ICMPv6 Parameter Problem, which the node may send.
//! - A timer (or each loop, cheaply: [`Reassembler::next_expiry`]) calls `expire`.
//! - `show`: `format!("{r}")` per worker, `{r:#}` for details; [`Counters`] add up with `+=`.
//!
//! # Time
//!
//! `now` is any monotonic clock in nanoseconds (the graph's loop time). Datagrams expire
//! `timeout` after their first fragment; a datagram found expired when a fragment arrives is
//! dropped then, so correctness does not depend on how often `expire` runs, only memory does.

mod header;
mod show;

pub use header::{split_ip4, split_ip6};

use hashbrown::HashMap;
use std::hash::RandomState;
use std::time::Duration;

/// Bytes per storage chunk.
pub const CHUNK: usize = 512;
/// Largest datagram payload offset + 1 (fragment offsets are 13 bits of 8-octet units).
const PAYLOAD_SPACE: usize = 65536;
const PAYLOAD_CHUNKS: usize = PAYLOAD_SPACE / CHUNK;
/// Largest IPv4 total length and IPv6 payload length.
pub const MAX_LEN: usize = 65535;
/// Largest fragment offset in 8-octet units.
pub const MAX_OFFSET: u16 = 8191;
const IP4_MIN_HEADER: usize = 20;
const IP6_HEADER: usize = 40;
const NONE: u32 = u32::MAX;

/// Address family.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Family {
    #[default]
    Ip4,
    Ip6,
}

impl Family {
    fn idx(self) -> usize {
        match self {
            Family::Ip4 => 0,
            Family::Ip6 => 1,
        }
    }

    /// The largest payload end a fragment may have before the header is known: IPv4's total
    /// length includes at least a 20-byte header; IPv6's payload length counts only extension
    /// headers, which may be absent.
    fn max_end(self) -> usize {
        match self {
            Family::Ip4 => MAX_LEN - IP4_MIN_HEADER,
            Family::Ip6 => MAX_LEN,
        }
    }
}

/// What identifies a datagram: RFC 791's (source, destination, protocol, identification) and
/// RFC 8200's (source, destination, identification), with the next header named in the
/// Fragment header as VPP keys it. IPv4 addresses sit in the first 4 bytes, the rest zero.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Key {
    pub family: Family,
    pub src: [u8; 16],
    pub dst: [u8; 16],
    pub id: u32,
    pub proto: u8,
}

impl Key {
    /// An IPv4 datagram's key.
    pub fn v4(src: [u8; 4], dst: [u8; 4], id: u16, proto: u8) -> Key {
        let mut k = Key {
            family: Family::Ip4,
            id: u32::from(id),
            proto,
            ..Key::default()
        };
        k.src[..4].copy_from_slice(&src);
        k.dst[..4].copy_from_slice(&dst);
        k
    }

    /// An IPv6 datagram's key; `next_header` is the Fragment header's.
    pub fn v6(src: [u8; 16], dst: [u8; 16], id: u32, next_header: u8) -> Key {
        Key {
            family: Family::Ip6,
            src,
            dst,
            id,
            proto: next_header,
        }
    }
}

/// One fragment, as parsed by the caller.
#[derive(Debug, Clone, Copy)]
pub struct Frag<'a> {
    /// Fragment offset in 8-octet units, as on the wire (0..=8191).
    pub offset: u16,
    /// More fragments follow (MF / M).
    pub more: bool,
    /// The header to keep, read only when `offset` is 0: IPv4's header with its options; IPv6's
    /// fixed header and the extension headers before the Fragment header (not the Fragment
    /// header itself).
    pub header: &'a [u8],
    /// The fragment's data: what follows the IPv4 header or the IPv6 Fragment header, up to the
    /// IP length (not the link's padding).
    pub payload: &'a [u8],
}

/// Why a fragment was dropped or a datagram discarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Reason {
    /// Offset past 8191, or a first fragment whose header is not well formed or does not match
    /// the key.
    Malformed,
    /// Empty, or not the last fragment and not a multiple of 8 bytes.
    BadLength,
    /// The datagram would exceed 65535 bytes.
    TooLong,
    /// First fragment shorter than [`Config::min_first_payload`].
    TinyFirst,
    /// First fragment's header longer than [`Config::max_header`].
    HeaderTooLong,
    /// Same range and same bytes as a fragment already held: ignored.
    Duplicate,
    /// Overlaps a fragment already held (RFC 5722): the datagram is discarded.
    Overlap,
    /// Disagrees with the length fixed by the last fragment: the datagram is discarded.
    Inconsistent,
    /// One fragment more than [`Config::max_fragments`]: the datagram is discarded.
    TooManyFragments,
    /// A fragment of a datagram discarded for one of the reasons above, before its timeout.
    Poisoned,
    /// Repeats a fragment of a datagram already reassembled.
    AfterCompletion,
    /// No storage left even after evicting every other datagram in progress; or (datagrams)
    /// evicted to make room for another's fragment.
    MemoryFull,
    /// (Datagrams) evicted to make room for a new datagram.
    TableFull,
    /// (Datagrams) not completed within the timeout.
    Timeout,
}

impl Reason {
    /// Number of reasons.
    pub const COUNT: usize = 14;
    /// Every reason, in counter order.
    pub const ALL: [Reason; Reason::COUNT] = [
        Reason::Malformed,
        Reason::BadLength,
        Reason::TooLong,
        Reason::TinyFirst,
        Reason::HeaderTooLong,
        Reason::Duplicate,
        Reason::Overlap,
        Reason::Inconsistent,
        Reason::TooManyFragments,
        Reason::Poisoned,
        Reason::AfterCompletion,
        Reason::MemoryFull,
        Reason::TableFull,
        Reason::Timeout,
    ];

    /// A counter name (`reass_*`, as VPP's error counters).
    pub fn name(self) -> &'static str {
        match self {
            Reason::Malformed => "reass_malformed",
            Reason::BadLength => "reass_bad_length",
            Reason::TooLong => "reass_too_long",
            Reason::TinyFirst => "reass_tiny_first_fragment",
            Reason::HeaderTooLong => "reass_header_too_long",
            Reason::Duplicate => "reass_duplicate_fragment",
            Reason::Overlap => "reass_overlapping_fragment",
            Reason::Inconsistent => "reass_inconsistent_length",
            Reason::TooManyFragments => "reass_fragment_chain_too_long",
            Reason::Poisoned => "reass_discarded_datagram",
            Reason::AfterCompletion => "reass_after_completion",
            Reason::MemoryFull => "reass_memory_full",
            Reason::TableFull => "reass_table_full",
            Reason::Timeout => "reass_timeout",
        }
    }

    /// A human description, for `show` output.
    pub fn describe(self) -> &'static str {
        match self {
            Reason::Malformed => "malformed fragment",
            Reason::BadLength => "fragment length not a multiple of 8",
            Reason::TooLong => "reassembled length over 65535",
            Reason::TinyFirst => "tiny first fragment",
            Reason::HeaderTooLong => "unfragmentable part too long",
            Reason::Duplicate => "duplicate fragment",
            Reason::Overlap => "overlapping fragments",
            Reason::Inconsistent => "inconsistent datagram length",
            Reason::TooManyFragments => "fragment chain too long",
            Reason::Poisoned => "fragment of a discarded datagram",
            Reason::AfterCompletion => "fragment after completion",
            Reason::MemoryFull => "reassembly memory full",
            Reason::TableFull => "maximum reassemblies exceeded",
            Reason::Timeout => "reassembly timeout",
        }
    }
}

/// Counters, per `Reassembler`; add them up across threads with `+=`.
///
/// Every fragment handed in is counted once in `fragments` and once more in exactly one of
/// `atomic`, `stored` or `fragment_drops`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Fragments handed to [`Reassembler::fragment`].
    pub fragments: u64,
    /// Atomic fragments passed through.
    pub atomic: u64,
    /// Fragments stored (including the ones whose datagram was later discarded).
    pub stored: u64,
    /// Datagrams reassembled.
    pub reassembled: u64,
    /// Fragments dropped on arrival, by [`Reason`] (index `reason as usize`).
    pub fragment_drops: [u64; Reason::COUNT],
    /// Datagrams discarded with what they held, by [`Reason`].
    pub datagram_drops: [u64; Reason::COUNT],
}

impl Counters {
    /// Fragments dropped on arrival for `r`.
    pub fn dropped(&self, r: Reason) -> u64 {
        self.fragment_drops[r as usize]
    }

    /// Datagrams discarded for `r`.
    pub fn discarded(&self, r: Reason) -> u64 {
        self.datagram_drops[r as usize]
    }

    /// Fragments dropped on arrival, all reasons.
    pub fn dropped_total(&self) -> u64 {
        self.fragment_drops.iter().sum()
    }

    /// Datagrams discarded, all reasons.
    pub fn discarded_total(&self) -> u64 {
        self.datagram_drops.iter().sum()
    }
}

impl std::ops::AddAssign<&Counters> for Counters {
    fn add_assign(&mut self, o: &Counters) {
        self.fragments += o.fragments;
        self.atomic += o.atomic;
        self.stored += o.stored;
        self.reassembled += o.reassembled;
        for (a, b) in self.fragment_drops.iter_mut().zip(o.fragment_drops) {
            *a += b;
        }
        for (a, b) in self.datagram_drops.iter_mut().zip(o.datagram_drops) {
            *a += b;
        }
    }
}

/// The caps and timeouts of one `Reassembler` (see the crate docs for the defaults' reasons).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Datagrams tracked at once (in progress, discarded awaiting timeout, recently completed).
    pub max_datagrams: u32,
    /// Fragments stored per datagram (1..=8192).
    pub max_fragments: u16,
    /// Bytes of storage for headers and payloads, rounded down to whole [`CHUNK`]s (at least one).
    pub max_bytes: usize,
    /// Longest first-fragment header kept (IPv4 header, or IPv6 header plus unfragmentable
    /// extension headers); at least 60 (the longest IPv4 header).
    pub max_header: u16,
    /// Time from a datagram's first fragment to its discard, IPv4.
    pub timeout_ip4: Duration,
    /// Time from a datagram's first fragment to its discard, IPv6.
    pub timeout_ip6: Duration,
    /// Time a completed datagram's ranges are remembered to recognise late duplicates.
    pub linger: Duration,
    /// Fewest bytes the first fragment must carry after the IP / Fragment header.
    pub min_first_payload: u16,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_datagrams: 1024,
            max_fragments: 16,
            max_bytes: 4 << 20,
            max_header: 512,
            timeout_ip4: Duration::from_millis(500),
            timeout_ip6: Duration::from_secs(1),
            linger: Duration::from_millis(100),
            min_first_payload: 8,
        }
    }
}

/// A `Config` the core cannot work with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    NoDatagrams,
    Fragments(u16),
    Bytes(usize),
    Header(u16),
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConfigError::NoDatagrams => write!(f, "max datagrams must be at least 1"),
            ConfigError::Fragments(n) => write!(f, "max fragments {n} not in 1..=8192"),
            ConfigError::Bytes(n) => write!(f, "max bytes {n} below one {CHUNK}-byte chunk"),
            ConfigError::Header(n) => write!(f, "max header {n} not in 60..=65535"),
        }
    }
}

impl std::error::Error for ConfigError {}

/// What became of a fragment.
#[derive(Debug)]
pub enum Outcome<'a> {
    /// Stored; its datagram is not complete yet.
    Held,
    /// Offset 0 and M = 0: not stored, not matched against anything (RFC 6946). Process the
    /// packet as it is, as if the Fragment header were absent.
    Atomic,
    /// The fragment completed its datagram.
    Complete(Datagram<'a>),
    /// The fragment was dropped. With [`Reason::Overlap`], [`Reason::Inconsistent`],
    /// [`Reason::TooManyFragments`], and [`Reason::TooLong`] or [`Reason::MemoryFull`] found
    /// against the datagram (rather than the fragment alone), its datagram is discarded too and
    /// counted in [`Counters::datagram_drops`].
    Dropped(Reason),
}

/// A reassembled datagram, valid until the next call on its `Reassembler`.
pub struct Datagram<'a> {
    r: &'a Reassembler,
    slot: u32,
}

impl std::fmt::Debug for Datagram<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Datagram")
            .field("key", self.key())
            .field("header_len", &self.header_len())
            .field("len", &self.len())
            .finish()
    }
}

impl<'a> Datagram<'a> {
    /// Its key.
    pub fn key(&self) -> &'a Key {
        &self.r.slots[self.slot as usize].key
    }

    /// Bytes of header (IPv4 header, or IPv6 header and unfragmentable extension headers).
    pub fn header_len(&self) -> usize {
        usize::from(self.r.slots[self.slot as usize].hdr_len)
    }

    /// Bytes in all: header and payload.
    pub fn len(&self) -> usize {
        let s = &self.r.slots[self.slot as usize];
        usize::from(s.hdr_len) + s.total as usize
    }

    /// Never empty (a header at least); for API symmetry with `len`.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Copies the datagram into `out[..len]`; `None` (nothing written) if `out` is shorter.
    pub fn copy_to(&self, out: &mut [u8]) -> Option<usize> {
        let n = self.len();
        let mut at = out.get_mut(..n)?;
        for p in self.pieces() {
            let (dst, rest) = at.split_at_mut(p.len());
            dst.copy_from_slice(p);
            at = rest;
        }
        Some(n)
    }

    /// The datagram as consecutive pieces (header, then payload), each at most one chunk, for
    /// a gather copy into a buffer chain.
    pub fn pieces(&self) -> Pieces<'a> {
        let s = &self.r.slots[self.slot as usize];
        Pieces {
            r: self.r,
            slot: self.slot,
            in_header: true,
            idx: 0,
            left: usize::from(s.hdr_len),
            payload_left: s.total as usize,
        }
    }
}

/// Iterator over a [`Datagram`]'s bytes in order.
#[derive(Debug)]
pub struct Pieces<'a> {
    r: &'a Reassembler,
    slot: u32,
    in_header: bool,
    idx: usize,
    left: usize,
    payload_left: usize,
}

impl<'a> Iterator for Pieces<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.left == 0 {
            if !self.in_header {
                return None;
            }
            self.in_header = false;
            self.idx = self.r.hdr_chunks;
            self.left = self.payload_left;
            if self.left == 0 {
                return None;
            }
        }
        let n = self.left.min(CHUNK);
        let c = self.r.table[self.slot as usize * self.r.per_slot + self.idx];
        // Completion means every byte of header and payload was written, so every chunk the
        // datagram spans is allocated.
        debug_assert_ne!(c, NONE);
        let at = c as usize * CHUNK;
        self.idx += 1;
        self.left -= n;
        Some(&self.r.slab[at..at + n])
    }
}

/// What the caps are checked against.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Datagrams in progress, IPv4 and IPv6.
    pub in_progress: [u32; 2],
    /// Datagrams discarded and awaiting their timeout (their later fragments are dropped).
    pub discarded: u32,
    /// Datagrams completed and remembered for late duplicates.
    pub completed: u32,
    /// Chunks in use (header and payload storage).
    pub chunks: u32,
    /// Chunks in the slab.
    pub chunks_max: u32,
}

impl Usage {
    /// Table slots in use (all states).
    pub fn datagrams(&self) -> u32 {
        self.in_progress[0] + self.in_progress[1] + self.discarded + self.completed
    }

    /// Bytes of storage in use.
    pub fn bytes(&self) -> usize {
        self.chunks as usize * CHUNK
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum State {
    #[default]
    Free,
    Active,
    Poisoned,
    Done,
}

/// Lists of slots in expiry order: in progress (per family), poisoned (per family), done.
const L_ACTIVE: usize = 0;
const L_POISON: usize = 2;
const L_DONE: usize = 4;
const N_LISTS: usize = 5;
const L_NONE: u8 = u8::MAX;

#[derive(Debug, Clone, Copy)]
struct Slot {
    key: Key,
    state: State,
    list: u8,
    prev: u32,
    next: u32,
    created: u64,
    expires: u64,
    hdr_len: u16,
    /// Offset in the header of the IPv6 Next Header byte naming the Fragment header.
    nh_at: u16,
    n_ranges: u16,
    n_chunks: u16,
    /// Payload length, fixed by the last fragment; `NONE` until then.
    total: u32,
    /// Payload bytes held.
    received: u32,
    /// Largest end of any fragment held.
    max_end: u32,
}

impl Default for Slot {
    fn default() -> Self {
        Slot {
            key: Key::default(),
            state: State::Free,
            list: L_NONE,
            prev: NONE,
            next: NONE,
            created: 0,
            expires: 0,
            hdr_len: 0,
            nh_at: 0,
            n_ranges: 0,
            n_chunks: 0,
            total: NONE,
            received: 0,
            max_end: 0,
        }
    }
}

/// One thread's reassembly table. See the crate docs.
pub struct Reassembler {
    cfg: Config,
    timeout: [u64; 2],
    linger: u64,
    slots: Vec<Slot>,
    free_slots: Vec<u32>,
    /// Keyed SipHash (std's `RandomState`): keys are chosen by senders.
    map: HashMap<Key, u32, RandomState>,
    /// `max_fragments` `[start, end)` payload ranges per slot, sorted by start.
    ranges: Vec<[u32; 2]>,
    /// `per_slot` chunk indices per slot: `hdr_chunks` for the header, then `PAYLOAD_CHUNKS`.
    table: Vec<u32>,
    per_slot: usize,
    hdr_chunks: usize,
    slab: Vec<u8>,
    free_chunks: Vec<u32>,
    heads: [u32; N_LISTS],
    tails: [u32; N_LISTS],
    /// A slot completed by the last call, whose chunks the returned `Datagram` still reads.
    pending: u32,
    counters: Counters,
}

impl std::fmt::Debug for Reassembler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reassembler")
            .field("cfg", &self.cfg)
            .field("usage", &self.usage())
            .field("counters", &self.counters)
            .finish_non_exhaustive()
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

enum Step {
    Atomic,
    Held,
    Complete(u32),
}

impl Reassembler {
    /// Allocates everything the table will use.
    pub fn new(cfg: Config) -> Result<Reassembler, ConfigError> {
        if cfg.max_datagrams == 0 {
            return Err(ConfigError::NoDatagrams);
        }
        if cfg.max_fragments == 0 || cfg.max_fragments > 8192 {
            return Err(ConfigError::Fragments(cfg.max_fragments));
        }
        let n_chunks = cfg.max_bytes / CHUNK;
        if n_chunks == 0 || u32::try_from(n_chunks).is_err() {
            return Err(ConfigError::Bytes(cfg.max_bytes));
        }
        if cfg.max_header < 60 {
            return Err(ConfigError::Header(cfg.max_header));
        }
        let n = cfg.max_datagrams as usize;
        let hdr_chunks = usize::from(cfg.max_header).div_ceil(CHUNK);
        let per_slot = hdr_chunks + PAYLOAD_CHUNKS;
        // Twice the keys it will hold: removals leave tombstones, and the map cleans them up in
        // place (no allocation) only while it is at most half full.
        let map = HashMap::with_capacity_and_hasher(2 * n, RandomState::new());
        let r = Reassembler {
            timeout: [nanos(cfg.timeout_ip4), nanos(cfg.timeout_ip6)],
            linger: nanos(cfg.linger),
            slots: vec![Slot::default(); n],
            // Popped from the end: slot 0 first.
            free_slots: (0..cfg.max_datagrams).rev().collect(),
            map,
            ranges: vec![[0, 0]; n * usize::from(cfg.max_fragments)],
            table: vec![NONE; n * per_slot],
            per_slot,
            hdr_chunks,
            slab: vec![0; n_chunks * CHUNK],
            free_chunks: (0..n_chunks as u32).rev().collect(),
            heads: [NONE; N_LISTS],
            tails: [NONE; N_LISTS],
            pending: NONE,
            counters: Counters::default(),
            cfg,
        };
        Ok(r)
    }

    /// Its configuration.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Its counters.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// What is in use now.
    pub fn usage(&self) -> Usage {
        let mut u = Usage {
            chunks_max: (self.slab.len() / CHUNK) as u32,
            chunks: (self.slab.len() / CHUNK - self.free_chunks.len()) as u32,
            ..Usage::default()
        };
        for s in &self.slots {
            match s.state {
                State::Free => {}
                State::Active => u.in_progress[s.key.family.idx()] += 1,
                State::Poisoned => u.discarded += 1,
                State::Done => u.completed += 1,
            }
        }
        u
    }

    /// Bytes of memory the table owns (slab, tables, map), fixed at creation: a check that
    /// nothing grows.
    pub fn footprint(&self) -> usize {
        use std::mem::size_of;
        self.slab.capacity()
            + self.slots.capacity() * size_of::<Slot>()
            + self.free_slots.capacity() * 4
            + self.ranges.capacity() * 8
            + self.table.capacity() * 4
            + self.free_chunks.capacity() * 4
            + self.map.allocation_size()
    }

    /// The earliest time at which [`Reassembler::expire`] has something to do.
    pub fn next_expiry(&self) -> Option<u64> {
        self.heads
            .iter()
            .filter(|&&h| h != NONE)
            .map(|&h| self.slots[h as usize].expires)
            .min()
    }

    /// Drops every datagram whose time is up at `now`: those in progress (counted as
    /// [`Reason::Timeout`]; returned), and the remnants of discarded and completed ones.
    pub fn expire(&mut self, now: u64) -> usize {
        self.release_pending();
        let mut timed_out = 0;
        for l in 0..N_LISTS {
            loop {
                let h = self.heads[l];
                if h == NONE || self.slots[h as usize].expires > now {
                    break;
                }
                if self.slots[h as usize].state == State::Active {
                    timed_out += 1;
                }
                self.remove(h, Reason::Timeout);
            }
        }
        timed_out
    }

    /// Takes one fragment (see the crate docs for the rules). `now` in nanoseconds, monotonic.
    pub fn fragment(&mut self, now: u64, key: Key, frag: Frag<'_>) -> Outcome<'_> {
        self.release_pending();
        self.counters.fragments += 1;
        match self.accept(now, &key, &frag) {
            Ok(Step::Atomic) => {
                self.counters.atomic += 1;
                Outcome::Atomic
            }
            Ok(Step::Held) => Outcome::Held,
            Ok(Step::Complete(slot)) => {
                self.pending = slot;
                Outcome::Complete(Datagram { r: self, slot })
            }
            Err(reason) => {
                self.counters.fragment_drops[reason as usize] += 1;
                Outcome::Dropped(reason)
            }
        }
    }

    fn accept(&mut self, now: u64, key: &Key, frag: &Frag<'_>) -> Result<Step, Reason> {
        if frag.offset == 0 && !frag.more {
            return Ok(Step::Atomic);
        }
        if frag.offset > MAX_OFFSET {
            return Err(Reason::Malformed);
        }
        let len = frag.payload.len();
        if len == 0 || (frag.more && !len.is_multiple_of(8)) {
            return Err(Reason::BadLength);
        }
        let start = usize::from(frag.offset) * 8;
        let end = start + len;
        if end > key.family.max_end() {
            return Err(Reason::TooLong);
        }
        let mut nh_at = 0;
        if start == 0 {
            if frag.header.len() > usize::from(self.cfg.max_header) {
                return Err(Reason::HeaderTooLong);
            }
            nh_at = header::check(key, frag.header).ok_or(Reason::Malformed)?;
            if len < usize::from(self.cfg.min_first_payload) {
                return Err(Reason::TinyFirst);
            }
        }

        let found = match self.map.get(key) {
            Some(&s) if self.slots[s as usize].expires <= now => {
                self.remove(s, Reason::Timeout);
                None
            }
            other => other.copied(),
        };
        let s = match found {
            None => self.create(now, key),
            Some(s) => match self.slots[s as usize].state {
                State::Poisoned => return Err(Reason::Poisoned),
                State::Done => {
                    if self.ranges_of(s).contains(&[start as u32, end as u32]) {
                        return Err(Reason::AfterCompletion);
                    }
                    // Identification reused: a new datagram in the old slot.
                    self.unlink(s);
                    self.start(s, now);
                    s
                }
                State::Active => s,
                State::Free => unreachable!("a mapped slot is in use"),
            },
        };
        self.insert(now, s, start, end, frag, nh_at)
    }

    /// Adds `[start, end)` to the datagram in progress in slot `s`.
    fn insert(
        &mut self,
        now: u64,
        s: u32,
        start: usize,
        end: usize,
        frag: &Frag<'_>,
        nh_at: u16,
    ) -> Result<Step, Reason> {
        let sl = self.slots[s as usize];
        // The last fragment fixes the length: non-last ones end before it, the last one at it.
        let consistent = if sl.total != NONE {
            let total = sl.total as usize;
            if frag.more {
                end < total
            } else {
                end == total
            }
        } else {
            frag.more || end > sl.max_end as usize
        };
        if !consistent {
            return Err(self.discard(now, s, Reason::Inconsistent));
        }
        let mut at = usize::from(sl.n_ranges);
        for (i, &[a, b]) in self.ranges_of(s).iter().enumerate() {
            let (a, b) = (a as usize, b as usize);
            if a == start && b == end {
                if self.stored_eq(s, start, frag.payload) {
                    return Err(Reason::Duplicate);
                }
                return Err(self.discard(now, s, Reason::Overlap));
            }
            if start < b && a < end {
                return Err(self.discard(now, s, Reason::Overlap));
            }
            if a > start && at == usize::from(sl.n_ranges) {
                at = i;
            }
        }
        let hdr_len = if start == 0 {
            frag.header.len()
        } else {
            usize::from(sl.hdr_len)
        };
        let extra = match sl.key.family {
            Family::Ip4 => hdr_len,
            Family::Ip6 => hdr_len.saturating_sub(IP6_HEADER),
        };
        if extra + end.max(sl.max_end as usize) > MAX_LEN {
            return Err(self.discard(now, s, Reason::TooLong));
        }
        if sl.n_ranges == self.cfg.max_fragments {
            return Err(self.discard(now, s, Reason::TooManyFragments));
        }

        let mut needed = self.missing(s, self.hdr_chunks, start, end - start);
        if start == 0 {
            needed += self.missing(s, 0, 0, hdr_len);
        }
        while self.free_chunks.len() < needed {
            match self.oldest_in_progress_except(s) {
                Some(v) => {
                    let why = if self.slots[v as usize].expires <= now {
                        Reason::Timeout
                    } else {
                        Reason::MemoryFull
                    };
                    self.remove(v, why);
                }
                None => return Err(self.discard(now, s, Reason::MemoryFull)),
            }
        }

        if start == 0 {
            self.write(s, 0, 0, frag.header);
            let sl = &mut self.slots[s as usize];
            sl.hdr_len = hdr_len as u16;
            sl.nh_at = nh_at;
        }
        self.write(s, self.hdr_chunks, start, frag.payload);
        let base = s as usize * usize::from(self.cfg.max_fragments);
        let n = usize::from(sl.n_ranges);
        self.ranges.copy_within(base + at..base + n, base + at + 1);
        self.ranges[base + at] = [start as u32, end as u32];
        self.counters.stored += 1;
        let sl = &mut self.slots[s as usize];
        sl.n_ranges += 1;
        sl.received += (end - start) as u32;
        sl.max_end = sl.max_end.max(end as u32);
        if !frag.more {
            sl.total = end as u32;
        }
        if sl.hdr_len == 0 || sl.total == NONE || sl.received != sl.total {
            return Ok(Step::Held);
        }
        self.finish(now, s);
        Ok(Step::Complete(s))
    }

    /// Fixes up the header of the completed datagram in slot `s` and keeps its ranges for late
    /// duplicates; its chunks are freed at the next call.
    fn finish(&mut self, now: u64, s: u32) {
        let sl = self.slots[s as usize];
        let hdr_len = usize::from(sl.hdr_len);
        let first = self.table[s as usize * self.per_slot] as usize * CHUNK;
        match sl.key.family {
            Family::Ip4 => {
                // An IPv4 header (at most 60 bytes) is always within the first chunk.
                let h = &mut self.slab[first..first + hdr_len];
                header::fix_ip4(h, hdr_len + sl.total as usize);
            }
            Family::Ip6 => {
                let plen = hdr_len - IP6_HEADER + sl.total as usize;
                let h = &mut self.slab[first..first + IP6_HEADER];
                h[4..6].copy_from_slice(&(plen as u16).to_be_bytes());
                self.write(s, 0, usize::from(sl.nh_at), &[sl.key.proto]);
            }
        }
        self.counters.reassembled += 1;
        let sl = &mut self.slots[s as usize];
        sl.state = State::Done;
        sl.expires = now.saturating_add(self.linger);
        self.unlink(s);
        self.link(s, L_DONE);
    }

    /// Discards the datagram in slot `s` for `why`; for a protocol violation, keeps its key to
    /// drop its later fragments until the timeout. Returns `why`, the fragment's drop reason.
    fn discard(&mut self, now: u64, s: u32, why: Reason) -> Reason {
        if why == Reason::MemoryFull {
            self.remove(s, why);
            return why;
        }
        self.counters.datagram_drops[why as usize] += 1;
        self.free_chunks_of(s);
        self.unlink(s);
        let sl = &mut self.slots[s as usize];
        let fam = sl.key.family.idx();
        sl.state = State::Poisoned;
        sl.expires = now.saturating_add(self.timeout[fam]);
        self.link(s, L_POISON + fam);
        why
    }

    /// A fresh slot for `key`, evicting if the table is full.
    fn create(&mut self, now: u64, key: &Key) -> u32 {
        if self.free_slots.is_empty() {
            let victim = self.victim(now);
            let why = if self.slots[victim as usize].expires <= now {
                Reason::Timeout
            } else {
                Reason::TableFull
            };
            self.remove(victim, why);
        }
        let s = self.free_slots.pop().expect("a slot was just freed");
        self.slots[s as usize].key = *key;
        self.map.insert(*key, s);
        self.start(s, now);
        s
    }

    /// The slot to free for a new datagram: an expired one, else the oldest completed,
    /// discarded, in-progress one, in that order.
    fn victim(&self, now: u64) -> u32 {
        let heads = self.heads.iter().copied().filter(|&h| h != NONE);
        if let Some(h) = heads
            .clone()
            .find(|&h| self.slots[h as usize].expires <= now)
        {
            return h;
        }
        let oldest = |a: u32, b: u32| -> u32 {
            match (a, b) {
                (NONE, x) | (x, NONE) => x,
                (a, b) if self.slots[b as usize].created < self.slots[a as usize].created => b,
                (a, _) => a,
            }
        };
        let h = &self.heads;
        [
            h[L_DONE],
            oldest(h[L_POISON], h[L_POISON + 1]),
            oldest(h[L_ACTIVE], h[L_ACTIVE + 1]),
        ]
        .into_iter()
        .find(|&x| x != NONE)
        .expect("the table is full, so some list is not empty")
    }

    fn oldest_in_progress_except(&self, keep: u32) -> Option<u32> {
        let pick = |l: usize| {
            let h = self.heads[l];
            if h == keep {
                self.slots[h as usize].next
            } else {
                h
            }
        };
        let (a, b) = (pick(L_ACTIVE), pick(L_ACTIVE + 1));
        match (a, b) {
            (NONE, NONE) => None,
            (NONE, x) | (x, NONE) => Some(x),
            (a, b) => Some(
                if self.slots[b as usize].created < self.slots[a as usize].created {
                    b
                } else {
                    a
                },
            ),
        }
    }

    /// (Re)starts slot `s` as a datagram in progress created at `now`.
    fn start(&mut self, s: u32, now: u64) {
        self.free_chunks_of(s);
        let sl = &mut self.slots[s as usize];
        let fam = sl.key.family.idx();
        *sl = Slot {
            key: sl.key,
            state: State::Active,
            created: now,
            expires: now.saturating_add(self.timeout[fam]),
            ..Slot::default()
        };
        self.link(s, L_ACTIVE + fam);
    }

    /// Frees slot `s` entirely; counts `why` if it was a datagram in progress.
    fn remove(&mut self, s: u32, why: Reason) {
        if self.slots[s as usize].state == State::Active {
            self.counters.datagram_drops[why as usize] += 1;
        }
        if self.pending == s {
            self.pending = NONE;
        }
        self.free_chunks_of(s);
        self.unlink(s);
        let key = self.slots[s as usize].key;
        self.map.remove(&key);
        self.slots[s as usize] = Slot::default();
        self.free_slots.push(s);
    }

    fn release_pending(&mut self) {
        if self.pending != NONE {
            self.free_chunks_of(self.pending);
            self.pending = NONE;
        }
    }

    fn ranges_of(&self, s: u32) -> &[[u32; 2]] {
        let base = s as usize * usize::from(self.cfg.max_fragments);
        &self.ranges[base..base + usize::from(self.slots[s as usize].n_ranges)]
    }

    /// Chunks slot `s` lacks for `len` bytes at `off` of its header (`base` 0) or payload
    /// (`base` `hdr_chunks`).
    fn missing(&self, s: u32, base: usize, off: usize, len: usize) -> usize {
        if len == 0 {
            return 0;
        }
        let t = s as usize * self.per_slot + base;
        self.table[t + off / CHUNK..=t + (off + len - 1) / CHUNK]
            .iter()
            .filter(|&&c| c == NONE)
            .count()
    }

    /// Copies `bytes` to `off` of slot `s`'s header or payload, taking chunks as needed (the
    /// caller has checked there are enough free).
    fn write(&mut self, s: u32, base: usize, mut off: usize, mut bytes: &[u8]) {
        let t = s as usize * self.per_slot + base;
        while !bytes.is_empty() {
            let within = off % CHUNK;
            let n = bytes.len().min(CHUNK - within);
            let e = &mut self.table[t + off / CHUNK];
            if *e == NONE {
                *e = self
                    .free_chunks
                    .pop()
                    .expect("chunks reserved before writing");
                self.slots[s as usize].n_chunks += 1;
            }
            let at = *e as usize * CHUNK + within;
            self.slab[at..at + n].copy_from_slice(&bytes[..n]);
            off += n;
            bytes = &bytes[n..];
        }
    }

    /// Whether slot `s` holds exactly `bytes` at payload offset `off`.
    fn stored_eq(&self, s: u32, mut off: usize, mut bytes: &[u8]) -> bool {
        let t = s as usize * self.per_slot + self.hdr_chunks;
        while !bytes.is_empty() {
            let within = off % CHUNK;
            let n = bytes.len().min(CHUNK - within);
            let c = self.table[t + off / CHUNK];
            if c == NONE {
                return false;
            }
            let at = c as usize * CHUNK + within;
            if self.slab[at..at + n] != bytes[..n] {
                return false;
            }
            off += n;
            bytes = &bytes[n..];
        }
        true
    }

    fn free_chunks_of(&mut self, s: u32) {
        let t = s as usize * self.per_slot;
        let mut left = self.slots[s as usize].n_chunks;
        for e in &mut self.table[t..t + self.per_slot] {
            if left == 0 {
                break;
            }
            if *e != NONE {
                self.free_chunks.push(*e);
                *e = NONE;
                left -= 1;
            }
        }
        self.slots[s as usize].n_chunks = 0;
    }

    fn link(&mut self, s: u32, l: usize) {
        let tail = self.tails[l];
        let sl = &mut self.slots[s as usize];
        sl.list = l as u8;
        sl.prev = tail;
        sl.next = NONE;
        if tail == NONE {
            self.heads[l] = s;
        } else {
            self.slots[tail as usize].next = s;
        }
        self.tails[l] = s;
    }

    fn unlink(&mut self, s: u32) {
        let sl = self.slots[s as usize];
        if sl.list == L_NONE {
            return;
        }
        let l = usize::from(sl.list);
        if sl.prev == NONE {
            self.heads[l] = sl.next;
        } else {
            self.slots[sl.prev as usize].next = sl.next;
        }
        if sl.next == NONE {
            self.tails[l] = sl.prev;
        } else {
            self.slots[sl.next as usize].prev = sl.prev;
        }
        let sl = &mut self.slots[s as usize];
        sl.list = L_NONE;
        sl.prev = NONE;
        sl.next = NONE;
    }
}
