//! A [`Snapshot`] as the Prometheus text exposition format (version 0.0.4), through the
//! Prometheus project's Rust client (`prometheus-client`), which writes the `# HELP`/`# TYPE`
//! lines, the `_total` suffix of counters and escapes label values. Runs on the exporter's
//! thread, never on the main thread.
//!
//! Names: `pwire_<thing>_total` for counters, no suffix for gauges; labels `thread` (index, as
//! `show runtime` numbers threads), `node`, `reason`, `interface`, `session` (the local session
//! id; `interface` names the tunnel, which is unique where the id need not be).

use std::fmt;
use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{
    DescriptorEncoder, EncodeGaugeValue, EncodeLabelSet, EncodeMetric,
};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use pwire_graph::NodeKind;
use pwire_node_l2tp::session::sc;
use pwire_vnet::{ifc, N_IF_COUNTERS};

use crate::snapshot::{thread_vectors, Snapshot};

/// The content type of what [`render`] writes.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// The exporter's own counters (connections it refused or cut, scrapes the main thread did
/// not answer in time), reported with every scrape.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExporterCounters {
    /// Scrapes answered with metrics.
    pub scrapes: u64,
    /// Connections closed on arrival because every slot held a connection too young to cut.
    pub rejected: u64,
    /// Connections closed to make room for a new one (the oldest idle one first).
    pub evicted: u64,
    /// Connections that sent no complete request in time, or read their answer too slowly.
    pub timed_out: u64,
    /// Scrapes answered 503 because the main thread did not answer in time.
    pub main_timeouts: u64,
}

/// Interface counter names, by `pwire_vnet::ifc` index, with their help text.
const IF_METRICS: [(&str, &str); N_IF_COUNTERS] = {
    let mut m = [("", ""); N_IF_COUNTERS];
    m[ifc::RX_PKTS] = (
        "rx_packets",
        "Packets received (show interface: rx packets).",
    );
    m[ifc::RX_BYTES] = ("rx_bytes", "Bytes received (show interface: rx bytes).");
    m[ifc::TX_PKTS] = (
        "tx_packets",
        "Packets transmitted (show interface: tx packets).",
    );
    m[ifc::TX_BYTES] = ("tx_bytes", "Bytes transmitted (show interface: tx bytes).");
    m[ifc::DROPS] = ("drops", "Packets dropped (show interface: drops).");
    m[ifc::PUNT] = ("punts", "Packets punted (show interface: punt).");
    m[ifc::IP6] = (
        "ip6_packets",
        "IPv6 packets received (show interface: ip6).",
    );
    m[ifc::RX_NO_BUF] = (
        "rx_no_buf",
        "Packets lost for want of a buffer (show interface: rx-no-buf).",
    );
    m[ifc::RX_MISS] = (
        "rx_miss",
        "Packets the device missed (show interface: rx-miss).",
    );
    m[ifc::RX_ERROR] = ("rx_errors", "Receive errors (show interface: rx-error).");
    m[ifc::TX_ERROR] = ("tx_errors", "Transmit errors (show interface: tx-error).");
    m[ifc::IP4] = (
        "ip4_packets",
        "IPv4 packets received (show interface: ip4).",
    );
    m
};

/// Per-session drop counters, by `sc` index, as a `reason` label.
const SESSION_DROPS: [(usize, &str); 4] = [
    (sc::COOKIE_DROPS, "cookie_mismatch"),
    (sc::SEQ_DROPS, "sequence"),
    (sc::DOWN_DROPS, "tunnel_down"),
    (sc::ADDR_DROPS, "address_mismatch"),
];

/// Renders `s` (and the exporter's own counters) as the text format.
pub fn render(s: Arc<Snapshot>, x: ExporterCounters) -> String {
    let mut reg = Registry::default();
    reg.register_collector(Box::new(Collect { s, x }));
    let mut out = String::new();
    // Writing into a String cannot fail; a collector error would be a bug here, and the
    // scrape then ends early rather than the exporter stopping.
    let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &reg);
    out
}

#[derive(Debug)]
struct Collect {
    s: Arc<Snapshot>,
    x: ExporterCounters,
}

/// Writes one counter family: `name` without `_total` (the encoder adds it).
fn counters<L: EncodeLabelSet>(
    enc: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    series: impl IntoIterator<Item = (L, u64)>,
) -> fmt::Result {
    let mut m = enc.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (labels, v) in series {
        ConstCounter::new(v).encode(m.encode_family(&labels)?)?;
    }
    Ok(())
}

/// Writes one gauge family (integers print as integers, fractions as floats).
fn gauges<L: EncodeLabelSet, V: EncodeGaugeValue>(
    enc: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    series: impl IntoIterator<Item = (L, V)>,
) -> fmt::Result {
    let mut m = enc.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (labels, v) in series {
        ConstGauge::new(v).encode(m.encode_family(&labels)?)?;
    }
    Ok(())
}

/// A gauge without labels.
fn gauge<V: EncodeGaugeValue>(
    enc: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    v: V,
) -> fmt::Result {
    let m = enc.encode_descriptor(name, help, None, MetricType::Gauge)?;
    ConstGauge::new(v).encode(m)
}

/// A counter without labels.
fn counter(enc: &mut DescriptorEncoder<'_>, name: &str, help: &str, v: u64) -> fmt::Result {
    let m = enc.encode_descriptor(name, help, None, MetricType::Counter)?;
    ConstCounter::new(v).encode(m)
}

impl Collector for Collect {
    fn encode(&self, mut enc: DescriptorEncoder<'_>) -> fmt::Result {
        let s = &*self.s;
        let e = &mut enc;
        let b = pwire_vnet::show_extra::build_info();
        {
            let mut m = e.encode_descriptor(
                "pwire_build",
                "pwire's version and the git commit it was built from (show version verbose).",
                None,
                MetricType::Info,
            )?;
            m.encode_info(&[("version", env!("CARGO_PKG_VERSION")), ("commit", b.commit)])?;
        }
        gauge(
            e,
            "pwire_uptime_seconds",
            "Seconds since the dataplane started.",
            s.uptime,
        )?;
        gauge(
            e,
            "pwire_runtime_since_clear_seconds",
            "Seconds since `clear runtime' (the window of show runtime and the node counters).",
            s.since_clear,
        )?;
        self.threads(e)?;
        self.errors(e)?;
        self.interfaces(e)?;
        self.sessions(e)?;
        self.buffers(e)?;
        self.exporter(e)?;
        process(e)
    }
}

impl Collect {
    fn threads(&self, e: &mut DescriptorEncoder<'_>) -> fmt::Result {
        let s = &*self.s;
        let ids_v: Vec<String> = (0..s.threads.len()).map(|t| t.to_string()).collect();
        let ids: &[String] = &ids_v;
        {
            let mut m = e.encode_descriptor(
                "pwire_thread",
                "A dataplane thread: its name and CPU (show threads).",
                None,
                MetricType::Info,
            )?;
            for (t, th) in s.threads.iter().enumerate() {
                let cpu = th.cpu.map_or_else(|| "n/a".to_string(), |c| c.to_string());
                m.encode_info(&[
                    ("thread", ids[t].as_str()),
                    ("name", th.name.as_str()),
                    ("cpu", cpu.as_str()),
                ])?;
            }
        }
        counters(
            e,
            "pwire_thread_loops",
            "Main-loop iterations of the thread since start.",
            s.threads
                .iter()
                .enumerate()
                .map(|(t, th)| ([("thread", ids[t].as_str())], th.loops)),
        )?;
        let Some(g) = s.graph.as_deref() else {
            return Ok(());
        };
        let v: Vec<_> = s
            .threads
            .iter()
            .map(|th| thread_vectors(g, &th.nodes))
            .collect();
        let per = |f: fn(&crate::snapshot::ThreadVectors) -> u64| {
            v.iter()
                .enumerate()
                .map(move |(t, x)| ([("thread", ids[t].as_str())], f(x)))
        };
        counters(
            e,
            "pwire_thread_input_vectors",
            "Packets taken in by input nodes (show runtime: vector rates in), since clear runtime.",
            per(|x| x.input),
        )?;
        counters(
            e,
            "pwire_thread_output_vectors",
            "Packets handed to tx nodes (show runtime: vector rates out), since clear runtime.",
            per(|x| x.output),
        )?;
        counters(
            e,
            "pwire_thread_drop_vectors",
            "Packets that reached error-drop (show runtime: vector rates drop), since clear runtime.",
            per(|x| x.drop),
        )?;
        counters(
            e,
            "pwire_thread_internal_calls",
            "Internal node calls, since clear runtime.",
            per(|x| x.internal_calls),
        )?;
        counters(
            e,
            "pwire_thread_internal_vectors",
            "Packets through internal nodes, since clear runtime.",
            per(|x| x.internal_vectors),
        )?;
        gauges(
            e,
            "pwire_thread_vector_rate",
            "Packets per internal node call since clear runtime (show runtime: internal node vector rate).",
            v.iter().enumerate().map(|(t, x)| {
                let r = if x.internal_calls > 0 {
                    x.internal_vectors as f64 / x.internal_calls as f64
                } else {
                    0.0
                };
                ([("thread", ids[t].as_str())], r)
            }),
        )?;
        // Per node and thread, as show runtime lists them (process nodes on the main thread).
        let rows = || {
            s.threads.iter().enumerate().flat_map(move |(t, th)| {
                g.nodes
                    .iter()
                    .zip(&th.nodes)
                    .filter(move |(n, _)| t == 0 || n.kind != NodeKind::Process)
                    .map(move |(n, st)| {
                        ([("thread", ids[t].as_str()), ("node", n.name.as_str())], st)
                    })
            })
        };
        counters(
            e,
            "pwire_node_calls",
            "Node calls (show runtime: Calls), since clear runtime.",
            rows().map(|(l, st)| (l, st.calls)),
        )?;
        counters(
            e,
            "pwire_node_vectors",
            "Packets through the node (show runtime: Vectors), since clear runtime.",
            rows().map(|(l, st)| (l, st.vectors)),
        )?;
        counters(
            e,
            "pwire_node_suspends",
            "Process node suspends (show runtime: Suspends), since clear runtime.",
            rows().map(|(l, st)| (l, st.suspends)),
        )?;
        counters(
            e,
            "pwire_node_clocks",
            "TSC clocks spent in the node, since clear runtime (divide by vectors for show runtime's Packet-Clocks).",
            rows().map(|(l, st)| (l, st.clocks)),
        )
    }

    fn errors(&self, e: &mut DescriptorEncoder<'_>) -> fmt::Result {
        let s = &*self.s;
        let Some(g) = s.graph.as_deref() else {
            return Ok(());
        };
        counters(
            e,
            "pwire_node_errors",
            "Node counters (show errors), summed over threads, since clear errors.",
            g.nodes.iter().flat_map(|n| {
                n.counters.iter().enumerate().map(move |(k, c)| {
                    let code = n.error_base as usize + k;
                    (
                        [
                            ("node", n.name.as_str()),
                            ("reason", c.name),
                            ("severity", c.severity.as_str()),
                        ],
                        s.errors.get(code).copied().unwrap_or(0),
                    )
                })
            }),
        )
    }

    fn interfaces(&self, e: &mut DescriptorEncoder<'_>) -> fmt::Result {
        let s = &*self.s;
        gauge(
            e,
            "pwire_interfaces",
            "Interfaces (listed one by one or not: see pwire_stats_omitted).",
            s.n_interfaces as u64,
        )?;
        let up = |f: fn(&crate::snapshot::IfSnap) -> bool| {
            s.interfaces
                .iter()
                .map(move |i| ([("interface", i.name.as_str())], u64::from(f(i))))
        };
        gauges(
            e,
            "pwire_interface_admin_up",
            "1 when the interface is administratively up (show interface: State).",
            up(|i| i.admin_up),
        )?;
        gauges(
            e,
            "pwire_interface_link_up",
            "1 when the interface's link is up (show hardware-interfaces).",
            up(|i| i.link_up),
        )?;
        for (c, (name, help)) in IF_METRICS.iter().enumerate() {
            counters(
                e,
                &format!("pwire_interface_{name}"),
                help,
                s.interfaces
                    .iter()
                    .map(|i| ([("interface", i.name.as_str())], i.counters[c])),
            )?;
        }
        Ok(())
    }

    fn sessions(&self, e: &mut DescriptorEncoder<'_>) -> fmt::Result {
        let Some(ss) = self.s.sessions.as_ref() else {
            return Ok(());
        };
        gauge(
            e,
            "pwire_l2tp_sessions",
            "Live L2TPv3 sessions (show l2tpv3).",
            ss.live as u64,
        )?;
        let ids_v: Vec<String> = ss
            .listed
            .iter()
            .map(|x| x.local_session_id.to_string())
            .collect();
        let ids: &[String] = &ids_v;
        let per = |c: usize| {
            ss.listed.iter().zip(ids).map(move |(x, id)| {
                (
                    [
                        ("session", id.as_str()),
                        ("interface", x.interface.as_str()),
                    ],
                    x.counters[c],
                )
            })
        };
        counters(
            e,
            "pwire_l2tp_session_rx_packets",
            "Inner frames decapsulated and delivered to L2 (show l2tpv3 verbose: user-to-net pkts).",
            per(sc::RX_PKTS),
        )?;
        counters(
            e,
            "pwire_l2tp_session_rx_bytes",
            "Bytes of the inner frames delivered (show l2tpv3 verbose: user-to-net bytes).",
            per(sc::RX_BYTES),
        )?;
        counters(
            e,
            "pwire_l2tp_session_tx_packets",
            "Inner frames encapsulated (show l2tpv3 verbose: net-to-user pkts).",
            per(sc::TX_PKTS),
        )?;
        counters(
            e,
            "pwire_l2tp_session_tx_bytes",
            "Bytes of the inner frames encapsulated (show l2tpv3 verbose: net-to-user bytes).",
            per(sc::TX_BYTES),
        )?;
        counters(
            e,
            "pwire_l2tp_session_drops",
            "Packets of the session dropped, by reason (show l2tpv3 verbose: drops).",
            ss.listed.iter().zip(ids).flat_map(|(x, id)| {
                SESSION_DROPS.iter().map(move |&(c, reason)| {
                    (
                        [
                            ("session", id.as_str()),
                            ("interface", x.interface.as_str()),
                            ("reason", reason),
                        ],
                        x.counters[c],
                    )
                })
            }),
        )
    }

    fn buffers(&self, e: &mut DescriptorEncoder<'_>) -> fmt::Result {
        let s = &*self.s;
        let b = &s.buffers;
        gauge(
            e,
            "pwire_buffer_pool_buffers",
            "Buffers in the pool (show buffers: Total).",
            u64::from(b.total),
        )?;
        gauge(
            e,
            "pwire_buffer_pool_free_buffers",
            "Buffers in the pool's global free lists (show buffers: Avail).",
            u64::from(b.free),
        )?;
        gauge(
            e,
            "pwire_buffer_pool_cached_buffers",
            "Free buffers held in thread caches (show buffers: Cached).",
            u64::from(b.cached),
        )?;
        gauge(
            e,
            "pwire_buffer_pool_used_buffers",
            "Buffers holding packets (show buffers: Used).",
            u64::from(b.total.saturating_sub(b.free).saturating_sub(b.cached)),
        )?;
        gauges(
            e,
            "pwire_buffer_thread_cached_buffers",
            "Free buffers in one thread's cache (show buffers: thread N cached).",
            s.threads.iter().enumerate().map(|(t, th)| {
                let id = t.to_string();
                ([("thread", id)], u64::from(th.buffers_cached))
            }),
        )?;
        gauge(
            e,
            "pwire_buffer_data_size_bytes",
            "Packet data bytes per buffer (buffers { default data-size }).",
            u64::from(b.data_size),
        )?;
        gauge(
            e,
            "pwire_buffer_pool_memory_bytes",
            "Bytes of memory the buffer pool maps.",
            b.region_bytes,
        )
    }

    fn exporter(&self, e: &mut DescriptorEncoder<'_>) -> fmt::Result {
        let s = &*self.s;
        let x = &self.x;
        let omitted_if = s.n_interfaces.saturating_sub(s.interfaces.len());
        let omitted_sess = s
            .sessions
            .as_ref()
            .map_or(0, |ss| ss.live.saturating_sub(ss.listed.len()));
        gauges(
            e,
            "pwire_stats_omitted",
            "Objects past stats { interface-limit | session-limit }, not listed one by one.",
            [
                ([("kind", "interface")], omitted_if as u64),
                ([("kind", "session")], omitted_sess as u64),
            ],
        )?;
        gauge(
            e,
            "pwire_stats_snapshot_seconds",
            "Main-thread time this scrape's snapshot took.",
            s.took,
        )?;
        counter(
            e,
            "pwire_stats_scrapes",
            "Scrapes answered with metrics.",
            x.scrapes,
        )?;
        counters(
            e,
            "pwire_stats_connections_closed",
            "Exporter connections closed by the exporter, by why (rejected: no slot; evicted: \
             cut to make room; timeout: too slow to send a request or read the answer).",
            [
                ([("reason", "rejected")], x.rejected),
                ([("reason", "evicted")], x.evicted),
                ([("reason", "timeout")], x.timed_out),
            ],
        )?;
        counter(
            e,
            "pwire_stats_main_thread_timeouts",
            "Scrapes answered 503 because the main thread did not answer in time.",
            x.main_timeouts,
        )
    }
}

/// The process's memory, as the Prometheus clients' standard `process_*` metrics.
fn process(e: &mut DescriptorEncoder<'_>) -> fmt::Result {
    let Some((size, rss, _, _)) = pwire_vnet::show_extra::process_memory() else {
        return Ok(());
    };
    gauge(
        e,
        "process_resident_memory_bytes",
        "Resident memory size in bytes.",
        rss,
    )?;
    gauge(
        e,
        "process_virtual_memory_bytes",
        "Virtual memory size in bytes.",
        size,
    )
}
