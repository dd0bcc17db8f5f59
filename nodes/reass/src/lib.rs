//! pwire-node-reass: `ip6-full-reassembly` and `ip4-full-reassembly` (VPP's names), the
//! graph around the sans-IO core `pwire-reass`.
//!
//! ```text
//! ip6-local --44--> ip6-full-reassembly --> ip6-local (the whole datagram) | error-drop
//! ip4-local --fragment--> ip4-full-reassembly --> ip4-local | error-drop
//! ip6-full-reassembly-handoff, ip4-full-reassembly-handoff (input, every thread): fragments
//!     handed over by another thread --> ip<n>-full-reassembly
//! ```
//!
//! One `Reassembler` per thread (its caps and timeouts: the core's defaults, see
//! `pwire-reass`, except that nothing is remembered after completion: see `register`), for
//! both families. With worker threads, every fragment of a datagram is
//! reassembled on one worker, chosen by a hash of the datagram's key (family, addresses,
//! identification, protocol) keyed once per process: a fragment that arrives on another
//! thread is handed over through that worker's bounded queue (a buffer index, no copy) and
//! picked up by its handoff input node on its next loop. Fragments of one datagram that the
//! NIC spread over several queues therefore still meet.
//!
//! The core copies what it keeps, so a fragment's buffer is freed as soon as it is held; the
//! datagram a fragment completes is written into that fragment's buffer (from data offset 0)
//! and goes back to ip<n>-local, which finds it whole. An atomic IPv6 fragment (offset 0,
//! M = 0, RFC 6946) loses its Fragment header and goes on at once. The handoff nodes also run
//! each thread's timeouts every [`EXPIRE_EVERY`] s, so a datagram that never completes is
//! dropped (and counted) on time even when no other fragment comes.
//!
//! Counters: "fragments received", "datagrams reassembled", "atomic fragments", "fragments
//! handed off", "handoff queue full", "reassembled datagram larger than a buffer", and one per
//! reason the core drops a fragment (`pwire_reass::Reason`, its descriptions). `show
//! ip6-full-reassembly [details]` / `show ip4-full-reassembly [details]` print every thread's
//! table (the core's layout, after VPP's).

use crossbeam_queue::ArrayQueue;
use pwire_buffer::BufferIndex;
use pwire_graph::{counters, Cx, Frame, Node, NodeKind, NodeReg, FRAME_SIZE, NEXT_CONSUMED};
use pwire_reass::{split_ip4, split_ip6, Config, Outcome, Reason, Reassembler};
use pwire_vnet::registry::cmd;
use pwire_vnet::Registry;
use std::fmt;
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex, MutexGuard};

/// Seconds between two timeout walks of a thread's table (by its handoff node).
pub const EXPIRE_EVERY: f64 = 0.05;
/// Fragments queued for one worker by the others, at most.
const HANDOFF_QUEUE: usize = 4096;

counters! { pub enum C {
    Received: info = "fragments received",
    Reassembled: info = "datagrams reassembled",
    Atomic: info = "atomic fragments",
    HandedOff: info = "fragments handed off",
    HandoffFull: error = "handoff queue full",
    TooBig: error = "reassembled datagram larger than a buffer",
    Malformed: error = "malformed fragment",
    BadLength: error = "fragment length not a multiple of 8",
    TooLong: error = "reassembled length over 65535",
    TinyFirst: error = "tiny first fragment",
    HeaderTooLong: error = "unfragmentable part too long",
    Duplicate: error = "duplicate fragment",
    Overlap: error = "overlapping fragments",
    Inconsistent: error = "inconsistent datagram length",
    TooManyFragments: error = "fragment chain too long",
    Poisoned: error = "fragment of a discarded datagram",
    AfterCompletion: error = "fragment after completion",
    MemoryFull: error = "reassembly memory full",
    TableFull: error = "maximum reassemblies exceeded",
    Timeout: error = "reassembly timeout",
} }

fn counter(r: Reason) -> C {
    match r {
        Reason::Malformed => C::Malformed,
        Reason::BadLength => C::BadLength,
        Reason::TooLong => C::TooLong,
        Reason::TinyFirst => C::TinyFirst,
        Reason::HeaderTooLong => C::HeaderTooLong,
        Reason::Duplicate => C::Duplicate,
        Reason::Overlap => C::Overlap,
        Reason::Inconsistent => C::Inconsistent,
        Reason::TooManyFragments => C::TooManyFragments,
        Reason::Poisoned => C::Poisoned,
        Reason::AfterCompletion => C::AfterCompletion,
        Reason::MemoryFull => C::MemoryFull,
        Reason::TableFull => C::TableFull,
        Reason::Timeout => C::Timeout,
    }
}

/// What the threads share: each thread's table, each thread's handoff queues (per family),
/// and the hash that picks a datagram's thread.
struct Tables {
    tables: Vec<Mutex<Reassembler>>,
    queues: [Vec<ArrayQueue<BufferIndex>>; 2],
    hasher: std::collections::hash_map::RandomState,
    /// Threads that forward packets: with workers, threads 1..n (the main thread too when it
    /// is the only one).
    first: usize,
    n: usize,
}

impl fmt::Debug for Tables {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tables").field("threads", &self.n).finish()
    }
}

impl Tables {
    fn lock(&self, t: usize) -> MutexGuard<'_, Reassembler> {
        self.tables[t].lock().unwrap_or_else(|e| e.into_inner())
    }
    /// The thread that reassembles datagram `k`.
    fn owner(&self, k: &pwire_reass::Key) -> usize {
        if self.n <= 1 {
            return self.first;
        }
        self.first + (self.hasher.hash_one(k) % self.n as u64) as usize
    }
}

/// Registers the nodes, claims IPv6 next header 44 and IPv4 fragments, and the show commands.
pub fn register(r: &mut Registry) {
    let threads = r.vnet.n_threads.max(1);
    let tables = Arc::new(Tables {
        tables: (0..threads)
            .map(|_| {
                Mutex::new(
                    Reassembler::new(Config {
                        // Nothing remembered after completion: a tunnel's packets of one size
                        // fragment identically, and at a few hundred thousand fragmented
                        // datagrams a second IPv4's 16-bit identification wraps in well under
                        // the core's default 100 ms, so a "late duplicate" would be the next
                        // datagram. A real late duplicate starts a datagram that times out.
                        linger: std::time::Duration::ZERO,
                        // A first fragment must carry the upper-layer header a tunnel reads
                        // (UDP 8 + L2TP 4 + session id 4): anything shorter is the
                        // header-splitting trick of RFC 1858 / RFC 7112.
                        min_first_payload: 16,
                        ..Config::default()
                    })
                    .expect("the config is valid"),
                )
            })
            .collect(),
        queues: [
            (0..threads)
                .map(|_| ArrayQueue::new(HANDOFF_QUEUE))
                .collect(),
            (0..threads)
                .map(|_| ArrayQueue::new(HANDOFF_QUEUE))
                .collect(),
        ],
        hasher: std::collections::hash_map::RandomState::new(),
        first: usize::from(threads > 1),
        n: if threads > 1 { threads - 1 } else { 1 },
    });
    r.ip6_protocol(pwire_reass_proto::FRAGMENT, "ip6-full-reassembly");
    r.ip4_reassembly("ip4-full-reassembly");
    r.on_start(|cx| {
        cx.vnet.state.write(&mut cx.ctl).ip6_proto_enabled
            [usize::from(pwire_reass_proto::FRAGMENT)] = true;
        Ok(())
    });
    reg::<true>(r, &tables);
    reg::<false>(r, &tables);
    for v6 in [true, false] {
        let t = tables.clone();
        r.command(cmd(
            if v6 {
                "show ip6-full-reassembly"
            } else {
                "show ip4-full-reassembly"
            },
            if v6 {
                "show ip6-full-reassembly [details]"
            } else {
                "show ip4-full-reassembly [details]"
            },
            true,
            move |a, _cx| {
                let details = a.keyword("details");
                a.expect_end()?;
                let mut out = String::new();
                for (i, m) in t.tables.iter().enumerate() {
                    let g = m.lock().unwrap_or_else(|e| e.into_inner());
                    out.push_str(&format!("thread {i}:\n"));
                    out.push_str(&if details {
                        format!("{g:#}")
                    } else {
                        format!("{g}")
                    });
                    if !out.ends_with('\n') {
                        out.push('\n');
                    }
                }
                a.output(&out);
                Ok(())
            },
        ));
    }
}

/// The graph's clock (seconds) in the core's nanoseconds.
fn nanos(secs: f64) -> u64 {
    u64::try_from(std::time::Duration::from_secs_f64(secs.max(0.0)).as_nanos()).unwrap_or(u64::MAX)
}

/// Protocol numbers this crate needs.
mod pwire_reass_proto {
    /// IPv6 Fragment header.
    pub const FRAGMENT: u8 = 44;
}

fn reg<const V6: bool>(r: &mut Registry, tables: &Arc<Tables>) {
    let (name, handoff) = if V6 {
        ("ip6-full-reassembly", "ip6-full-reassembly-handoff")
    } else {
        ("ip4-full-reassembly", "ip4-full-reassembly-handoff")
    };
    let t = tables.clone();
    let nexts: &'static [&'static str] = if V6 {
        &["error-drop", "ip6-local"]
    } else {
        &["error-drop", "ip4-local"]
    };
    r.graph.node(NodeReg::new(
        name,
        NodeKind::Internal,
        nexts,
        C::DECLS,
        move |_b| {
            Box::new(Reass::<V6> {
                t: t.clone(),
                free: Box::new([0; FRAME_SIZE]),
            })
        },
    ));
    let t = tables.clone();
    r.graph.node(NodeReg::new(
        handoff,
        NodeKind::Input,
        if V6 {
            &["ip6-full-reassembly"]
        } else {
            &["ip4-full-reassembly"]
        },
        &[],
        move |b| {
            Box::new(Handoff::<V6> {
                t: t.clone(),
                thread: b.thread,
                next_expire: 0.0,
                bis: Box::new([0; FRAME_SIZE]),
            })
        },
    ));
}

/// `ip<n>-full-reassembly`.
pub struct Reass<const V6: bool> {
    t: Arc<Tables>,
    free: Box<[BufferIndex; FRAME_SIZE]>,
}

impl<const V6: bool> fmt::Debug for Reass<V6> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if V6 {
            "ip6-full-reassembly"
        } else {
            "ip4-full-reassembly"
        })
    }
}

/// `ip<n>-full-reassembly`'s trace: what became of the fragment.
#[derive(Debug, Clone, Copy)]
struct ReassTrace {
    what: &'static str,
    len: u32,
}

impl fmt::Display for ReassTrace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "reassembly: {} ({} bytes)", self.what, self.len)
    }
}

/// Strips an atomic IPv6 fragment's Fragment header (right after a 40-byte IPv6 header) in
/// place; false if the packet has extension headers before it (then it is dropped).
fn strip_atomic(b: &mut pwire_buffer::Buffer) -> bool {
    let d = b.current_mut();
    if d.len() < 48 || d[6] != pwire_reass_proto::FRAGMENT {
        return false;
    }
    let nh = d[40];
    let plen = u16::from_be_bytes([d[4], d[5]]).saturating_sub(8);
    d.copy_within(0..40, 8);
    b.advance(8);
    let d = b.current_mut();
    d[6] = nh;
    d[4..6].copy_from_slice(&plen.to_be_bytes());
    true
}

impl<const V6: bool> Node for Reass<V6> {
    fn process(&mut self, frame: &mut Frame<'_>, cx: &mut Cx<'_>) {
        let me = cx.thread();
        let now = nanos(cx.now());
        let fam = usize::from(V6);
        let mut n_free = 0;
        let (mut received, mut done, mut atomic, mut handed) = (0u64, 0u64, 0u64, 0u64);
        let mut table = self.t.lock(me);
        if table.next_expiry().is_some_and(|t| t <= now) {
            table.expire(now);
        }
        let (view, bis, nexts) = frame.parts();
        for (&bi, nx) in bis.iter().zip(nexts.iter_mut()) {
            // SAFETY: frame invariant: each index once; this loop visits each slot once.
            let b = unsafe { view.get_mut(bi) };
            received += 1;
            let split = if V6 {
                split_ip6(b.current())
            } else {
                split_ip4(b.current())
            };
            let Some((key, frag)) = split else {
                b.error = cx.error(C::Malformed);
                *nx = 0;
                continue;
            };
            let owner = self.t.owner(&key);
            if owner != me {
                match self.t.queues[fam].get(owner).map(|q| q.push(bi)) {
                    Some(Ok(())) => {
                        handed += 1;
                        *nx = NEXT_CONSUMED;
                    }
                    _ => {
                        b.error = cx.error(C::HandoffFull);
                        *nx = 0;
                    }
                }
                continue;
            }
            let traced = b.is_traced();
            let (what, next) = match table.fragment(now, key, frag) {
                Outcome::Held => {
                    self.free[n_free] = bi;
                    n_free += 1;
                    ("held", NEXT_CONSUMED)
                }
                Outcome::Atomic => {
                    atomic += 1;
                    if V6 && strip_atomic(b) {
                        ("atomic", 1)
                    } else {
                        b.error = cx.error(C::Malformed);
                        ("atomic with extension headers", 0)
                    }
                }
                Outcome::Complete(dg) => {
                    let len = dg.len();
                    if b.set_current(0, len) && dg.copy_to(b.current_mut()).is_some() {
                        done += 1;
                        ("reassembled", 1)
                    } else {
                        b.error = cx.error(C::TooBig);
                        ("too big for a buffer", 0)
                    }
                }
                Outcome::Dropped(r) => {
                    b.error = cx.error(counter(r));
                    (r.describe(), 0)
                }
            };
            *nx = next;
            if traced && next != NEXT_CONSUMED {
                cx.trace(
                    b,
                    ReassTrace {
                        what,
                        len: b.current_length().into(),
                    },
                );
            }
        }
        drop(table);
        if n_free > 0 {
            // SAFETY: each of these was in the frame with next NEXT_CONSUMED (held by the
            // core, which copied what it keeps), once, and is not touched again.
            unsafe { cx.free(&self.free[..n_free]) };
        }
        cx.count(C::Received, received);
        cx.count(C::Reassembled, done);
        cx.count(C::Atomic, atomic);
        cx.count(C::HandedOff, handed);
    }
}

/// `ip<n>-full-reassembly-handoff`: this thread's fragments from other threads, and its
/// table's timeouts.
pub struct Handoff<const V6: bool> {
    t: Arc<Tables>,
    thread: usize,
    next_expire: f64,
    bis: Box<[BufferIndex; FRAME_SIZE]>,
}

impl<const V6: bool> fmt::Debug for Handoff<V6> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if V6 {
            "ip6-full-reassembly-handoff"
        } else {
            "ip4-full-reassembly-handoff"
        })
    }
}

impl<const V6: bool> Node for Handoff<V6> {
    fn process(&mut self, _frame: &mut Frame<'_>, cx: &mut Cx<'_>) {
        let q = &self.t.queues[usize::from(V6)][self.thread];
        let mut n = 0;
        while n < FRAME_SIZE {
            match q.pop() {
                Some(bi) => {
                    self.bis[n] = bi;
                    n += 1;
                }
                None => break,
            }
        }
        if n > 0 {
            // SAFETY: each index was given up by the thread that pushed it (its slot set to
            // NEXT_CONSUMED there) and popped once here: this node owns it now.
            unsafe { cx.enqueue_slice(0u16, &self.bis[..n]) };
        }
        // The IPv6 node also runs the timeouts (one table serves both families).
        let now = cx.now();
        if V6 && now >= self.next_expire {
            self.next_expire = now + EXPIRE_EVERY;
            let ns = nanos(now);
            let mut table = self.t.lock(self.thread);
            if table.next_expiry().is_some_and(|t| t <= ns) {
                table.expire(ns);
            }
        }
    }
}
