//! The built engine: graph, pool, threads' shared data, tracer, barrier, clear baselines.

use pwire_buffer::Pool;
use pwire_graph::{Barrier, Graph, StatsSnapshot, ThreadShared, Tracer};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Thread and CPU facts for `show threads`.
#[derive(Debug, Clone)]
pub struct ThreadInfo {
    pub name: String,
    pub kind: &'static str,
    pub cpu: Option<usize>,
}

/// The engine after the graph is built.
#[derive(Debug)]
pub struct Engine {
    pub graph: Arc<Graph>,
    pub pool: Arc<Pool>,
    pub threads: Vec<Arc<ThreadShared>>,
    pub tracer: Arc<Tracer>,
    pub barrier: Arc<Barrier>,
    pub epoch: Instant,
    /// TSC at `epoch` (trace time stamps are TSC).
    pub tsc0: u64,
    pub tsc_hz: f64,
    /// `clear runtime` baselines per thread per node, and the time of the clear.
    pub runtime_base: Mutex<(f64, Vec<Vec<StatsSnapshot>>)>,
    /// `clear errors` baselines per thread per counter.
    pub errors_base: Mutex<Vec<Vec<u64>>>,
    pub thread_info: Vec<ThreadInfo>,
}

impl Engine {
    pub fn new(
        graph: Arc<Graph>,
        pool: Arc<Pool>,
        thread_info: Vec<ThreadInfo>,
        barrier: Arc<Barrier>,
    ) -> Engine {
        let epoch = Instant::now();
        let threads: Vec<_> = thread_info
            .iter()
            .enumerate()
            .map(|(i, t)| Arc::new(ThreadShared::new(i, t.name.clone(), &graph, t.cpu)))
            .collect();
        let n_nodes = graph.nodes.len();
        let n_ctr = graph.n_counters();
        let nt = threads.len();
        Engine {
            tracer: Arc::new(Tracer::new(nt, n_nodes)),
            runtime_base: Mutex::new((0.0, vec![vec![StatsSnapshot::default(); n_nodes]; nt])),
            errors_base: Mutex::new(vec![vec![0; n_ctr]; nt]),
            graph,
            pool,
            threads,
            barrier,
            epoch,
            tsc0: pwire_graph::rdtsc(),
            tsc_hz: pwire_graph::tsc_hz(),
            thread_info,
        }
    }

    pub fn now(&self) -> f64 {
        self.epoch.elapsed().as_secs_f64()
    }

    /// A counter's value on one thread since the last `clear errors`.
    pub fn error_count(&self, thread: usize, code: usize) -> u64 {
        let base = self.errors_base.lock().unwrap_or_else(|e| e.into_inner());
        self.threads[thread]
            .counters
            .get(code)
            .saturating_sub(base[thread][code])
    }

    /// Sum over threads of `node`'s counter `name` since the last clear (tests read counters by
    /// name, as VPP's tests read `/err/<node>/<reason>`).
    pub fn counter_by_name(&self, node: &str, name: &str) -> Option<u64> {
        let code = self.graph.error_code(node, name)? as usize;
        Some(
            (0..self.threads.len())
                .map(|t| self.error_count(t, code))
                .sum(),
        )
    }

    /// A node's statistics on one thread since the last `clear runtime`.
    pub fn node_stats(&self, thread: usize, node: usize) -> StatsSnapshot {
        let base = self.runtime_base.lock().unwrap_or_else(|e| e.into_inner());
        self.threads[thread].stats[node]
            .snapshot()
            .minus(base.1[thread][node])
    }

    pub fn clear_runtime(&self) {
        let mut base = self.runtime_base.lock().unwrap_or_else(|e| e.into_inner());
        base.0 = self.now();
        for (t, th) in self.threads.iter().enumerate() {
            for (n, s) in th.stats.iter().enumerate() {
                base.1[t][n] = s.snapshot();
            }
        }
    }

    pub fn clear_errors(&self) {
        let mut base = self.errors_base.lock().unwrap_or_else(|e| e.into_inner());
        for (t, th) in self.threads.iter().enumerate() {
            for (c, b) in base[t].iter_mut().enumerate() {
                *b = th.counters.get(c);
            }
        }
    }
}
