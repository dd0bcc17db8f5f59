//! What a scrape reports, copied on the main thread: the numbers only, formatted later on the
//! exporter's thread, so the main thread spends a scrape reading counters, not writing text.
//!
//! Every number is the one the matching `show` command prints, since the same `clear`: `show
//! interface` (summed over threads), `show errors` (summed over threads), `show l2tpv3
//! verbose`, `show buffers`, `show runtime`. Per-thread counters are atomics each thread writes
//! alone; reading them here takes no lock and adds nothing to the packet path.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Instant;

use pwire_graph::{Graph, NodeKind, StatsSnapshot};
use pwire_node_l2tp::session::sc;
use pwire_node_l2tp::L2tp;
use pwire_vnet::{CliCtx, N_IF_COUNTERS};

/// How many interfaces and sessions a scrape lists one by one (`stats { interface-limit
/// session-limit }`): a scrape's size and main-thread time stay bounded with a million tunnels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub interfaces: usize,
    pub sessions: usize,
}

impl From<&pwire_config::StatsConfig> for Limits {
    fn from(c: &pwire_config::StatsConfig) -> Self {
        Limits {
            interfaces: c.interface_limit as usize,
            sessions: c.session_limit as usize,
        }
    }
}

/// One interface's `show interface` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfSnap {
    pub name: String,
    pub admin_up: bool,
    pub link_up: bool,
    /// Indexed as `pwire_vnet::ifc`.
    pub counters: [u64; N_IF_COUNTERS],
}

/// One L2TPv3 session's counters (`show l2tpv3 verbose`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessSnap {
    pub local_session_id: u32,
    /// The tunnel interface (`l2tpv3_tunnel<N>`): unique, where the session id need not be.
    pub interface: String,
    /// Indexed as `pwire_node_l2tp::session::sc`.
    pub counters: [u64; sc::N],
}

/// The session table, when the l2tp feature is in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sessions {
    pub live: usize,
    /// The first `Limits::sessions` live sessions, by index.
    pub listed: Vec<SessSnap>,
}

/// One thread's `show runtime` block.
#[derive(Debug, Clone)]
pub struct ThreadSnap {
    pub name: String,
    pub cpu: Option<usize>,
    /// Main-loop iterations since start.
    pub loops: u64,
    /// Per node (graph order), since the last `clear runtime`.
    pub nodes: Vec<StatsSnapshot>,
    /// Buffers in this thread's cache.
    pub buffers_cached: u32,
}

/// `show buffers`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BufferSnap {
    pub total: u32,
    /// In the global free lists.
    pub free: u32,
    /// In thread caches, all threads (and a driver's cache, if any).
    pub cached: u32,
    pub data_size: u16,
    pub region_bytes: u64,
}

/// A whole scrape's numbers.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Names, kinds and counter declarations of the nodes (immutable, shared).
    pub graph: Option<Arc<Graph>>,
    pub threads: Vec<ThreadSnap>,
    /// Per error code (see `Graph`), summed over threads.
    pub errors: Vec<u64>,
    /// Interfaces, the first `Limits::interfaces` by sw_if_index.
    pub interfaces: Vec<IfSnap>,
    /// All interfaces (listed or not).
    pub n_interfaces: usize,
    pub sessions: Option<Sessions>,
    pub buffers: BufferSnap,
    /// Seconds since the dataplane started, and since the last `clear runtime`.
    pub uptime: f64,
    pub since_clear: f64,
    /// Main-thread time this snapshot took.
    pub took: f64,
}

impl Snapshot {
    /// An empty snapshot (no graph): what a test's fake main thread can answer.
    pub fn empty() -> Snapshot {
        Snapshot {
            graph: None,
            threads: Vec::new(),
            errors: Vec::new(),
            interfaces: Vec::new(),
            n_interfaces: 0,
            sessions: None,
            buffers: BufferSnap::default(),
            uptime: 0.0,
            since_clear: 0.0,
            took: 0.0,
        }
    }

    /// Reads every counter. Main thread, with the control context of a command (no barrier:
    /// nothing here writes shared state).
    pub fn collect(cx: &CliCtx, limits: Limits) -> Snapshot {
        let t0 = Instant::now();
        let e = cx.vnet.engine();
        let g = e.graph.clone();
        let p = &e.pool;
        let threads = e
            .threads
            .iter()
            .enumerate()
            .map(|(t, th)| ThreadSnap {
                name: th.name.clone(),
                cpu: th.cpu,
                loops: th.loops.load(Relaxed),
                nodes: (0..g.nodes.len()).map(|i| e.node_stats(t, i)).collect(),
                buffers_cached: p.cached(t),
            })
            .collect();
        let mut errors = vec![0u64; g.n_counters()];
        for (code, total) in errors.iter_mut().enumerate() {
            *total = (0..e.threads.len()).map(|t| e.error_count(t, code)).sum();
        }
        let s = cx.vnet.state.get(&cx.ctl);
        let n_interfaces = s.ifs.iter().filter(|i| !i.deleted).count();
        let interfaces = s
            .ifs
            .iter()
            .filter(|i| !i.deleted)
            .take(limits.interfaces)
            .map(|i| IfSnap {
                name: i.name.clone(),
                admin_up: i.admin_up,
                link_up: i.link_up,
                counters: std::array::from_fn(|c| s.counter(i.sw_if_index, c)),
            })
            .collect();
        let sessions = cx.vnet.hooks.api::<L2tp>().map(|api| {
            let t = api.table(&cx.ctl);
            Sessions {
                live: t.n_live,
                listed: t
                    .live()
                    .take(limits.sessions)
                    .map(|(i, ss)| SessSnap {
                        local_session_id: ss.local_session_id,
                        interface: cx.vnet.if_name(&cx.ctl, ss.sw_if_index),
                        counters: std::array::from_fn(|c| t.counter(i, c)),
                    })
                    .collect(),
            }
        });
        let cached: u32 = (0..p.n_threads()).map(|t| p.cached(t)).sum();
        let buffers = BufferSnap {
            total: p.n_buffers(),
            free: p.global_free(),
            cached,
            data_size: p.data_size(),
            region_bytes: p.region_bytes() as u64,
        };
        let cleared_at = e.runtime_base.lock().unwrap_or_else(|p| p.into_inner()).0;
        let now = e.now();
        Snapshot {
            graph: Some(g),
            threads,
            errors,
            interfaces,
            n_interfaces,
            sessions,
            buffers,
            uptime: now,
            since_clear: (now - cleared_at).max(0.0),
            took: t0.elapsed().as_secs_f64(),
        }
    }
}

/// `show runtime`'s per-thread vector totals: packets taken by input nodes, packets handed to
/// tx nodes, packets dropped, and internal-node calls and vectors (their ratio is the
/// "internal node vector rate").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ThreadVectors {
    pub input: u64,
    pub output: u64,
    pub drop: u64,
    pub internal_calls: u64,
    pub internal_vectors: u64,
}

/// Sums one thread's node statistics as `show runtime` does.
pub fn thread_vectors(g: &Graph, nodes: &[StatsSnapshot]) -> ThreadVectors {
    let mut v = ThreadVectors::default();
    for (n, s) in g.nodes.iter().zip(nodes) {
        match n.kind {
            NodeKind::Input => v.input += s.vectors,
            NodeKind::Internal => {
                v.internal_calls += s.calls;
                v.internal_vectors += s.vectors;
            }
            NodeKind::Process => {}
        }
        if n.name == "error-drop" {
            v.drop += s.vectors;
        }
        if n.name.ends_with("-tx") {
            v.output += s.vectors;
        }
    }
    v
}
