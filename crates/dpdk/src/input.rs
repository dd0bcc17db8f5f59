//! `dpdk-input`: polls the DPDK rx queues placed on this thread (input node, traceable).
//!
//! Per loop iteration, for every started port and every rx queue whose vnet placement names
//! this thread: `rte_eth_rx_burst` in bursts of 32 until a burst comes back short or a frame
//! (`FRAME_SIZE`) is full. Each mbuf *is* a pwire buffer (see `mempool.rs`): the node resets the
//! metadata, sets `current_data`/`current_length` from the mbuf's `data_off`/`data_len` and
//! the rx interface, and enqueues the buffer index; no byte is copied. A chained (multi-segment)
//! mbuf is freed whole with `rte_pktmbuf_free` and counted, never forwarded or leaked.
//! The thread polling queue 0 also reads, every 250 ms, the link state (a change is copied into
//! the vnet interface by a main-thread task) and the PMD's drop counters, whose increase it adds
//! to the interface counters rx-miss (imissed), rx-no-buf (rx_nombuf), rx-error (ierrors) and
//! tx-error (oerrors).
//!
//! Arcs: 0 `ethernet-input`.
//! Interface counters: rx packets/bytes, rx-miss, rx-no-buf, rx-error, tx-error.
//! Node counters: "multi-segment packet dropped".

use std::fmt;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use pwire_buffer::{BufferIndex, HEADROOM};
use pwire_dpdk_sys as sys;
use pwire_graph::runtime::ThreadShared;
use pwire_graph::{counters, next_nodes, Cx, Frame, Node, NodeKind, NodeReg, Shared, FRAME_SIZE};
use pwire_vnet::{ifc, Registry, Vnet};

use crate::dev::DpdkState;
use crate::mempool::{buffer_of, CacheScope};

next_nodes! { pub enum Next { EthernetInput => "ethernet-input" } }
counters! { pub enum C {
    MultiSeg: error = "multi-segment packet dropped",
} }

/// mbufs asked for per `rte_eth_rx_burst` (vector PMDs serve at most 32 per call).
const BURST: u16 = 32;
const LINK_CHECK_S: f64 = 0.25;

/// VPP's `dpdk-input` trace header: port, queue, buffer and mbuf fields.
#[derive(Clone, Copy)]
struct RxTrace {
    port: u16,
    queue: u16,
    sw_if_index: u32,
    data_off: u16,
    data_len: u16,
    pkt_len: u32,
    buf_len: u16,
    nb_segs: u16,
    ol_flags: u64,
}

impl fmt::Display for RxTrace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "dpdk-input: port {} queue {} sw_if_index {}",
            self.port, self.queue, self.sw_if_index
        )?;
        write!(
            f,
            "  PKT MBUF: port {}, nb_segs {}, pkt_len {}\n    buf_len {}, data_len {}, ol_flags 0x{:x}, data_off {}",
            self.port,
            self.nb_segs,
            self.pkt_len,
            self.buf_len,
            self.data_len,
            self.ol_flags,
            self.data_off
        )
    }
}

/// The mbuf pointers of one burst (raw pointers are not `Send`; the array only ever holds
/// pointers for the duration of one dispatch).
struct Mbufs([*mut sys::rte_mbuf; FRAME_SIZE]);
// SAFETY: the array is scratch space used within one dispatch on the owning thread.
unsafe impl Send for Mbufs {}

pub struct DpdkInput {
    st: Arc<Shared<DpdkState>>,
    vnet: Arc<Vnet>,
    thread: usize,
    link_task: usize,
    next_link_check: f64,
    ts: Option<Arc<ThreadShared>>,
    mbufs: Box<Mbufs>,
    drop: Box<Mbufs>,
}

impl fmt::Debug for DpdkInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DpdkInput")
            .field("thread", &self.thread)
            .finish()
    }
}

pub(crate) fn register(r: &mut Registry, st: Arc<Shared<DpdkState>>, link_task: usize) {
    let vnet = r.vnet.clone();
    r.graph.node(NodeReg::new(
        "dpdk-input",
        NodeKind::Input,
        Next::NAMES,
        C::DECLS,
        move |b| {
            Box::new(DpdkInput {
                st: st.clone(),
                vnet: vnet.clone(),
                thread: b.thread,
                link_task,
                next_link_check: 0.0,
                ts: None,
                mbufs: Box::new(Mbufs([std::ptr::null_mut(); FRAME_SIZE])),
                drop: Box::new(Mbufs([std::ptr::null_mut(); FRAME_SIZE])),
            })
        },
    ));
}

impl Node for DpdkInput {
    fn process(&mut self, _frame: &mut Frame<'_>, cx: &mut Cx<'_>) {
        let dp = cx.dp();
        let st = self.st.dp(&dp);
        if st.ports.is_empty() {
            return;
        }
        let vs = self.vnet.state.dp(&dp);
        if self.ts.is_none() {
            self.ts = self
                .vnet
                .engine
                .get()
                .and_then(|e| e.threads.get(self.thread).cloned());
        }
        let thread = self.thread;
        let now = cx.now();
        let check_link = now >= self.next_link_check;
        if check_link {
            self.next_link_check = now + LINK_CHECK_S;
        }
        let mut polled = false;
        for p in &st.ports {
            let Some(iface) = vs.get(p.sw_if_index) else {
                continue;
            };
            if check_link && iface.rx_queue_thread(0) == thread {
                // The PMD's drop counters reach `show interface` as rx-miss, rx-no-buf,
                // rx-error and tx-error (deltas since the last look).
                let x = crate::dev::stats(p.port_id);
                if let Some(r) = vs.row(thread, p.sw_if_index) {
                    for (k, (v, c)) in [
                        (x.imissed, ifc::RX_MISS),
                        (x.rx_nombuf, ifc::RX_NO_BUF),
                        (x.ierrors, ifc::RX_ERROR),
                        (x.oerrors, ifc::TX_ERROR),
                    ]
                    .into_iter()
                    .enumerate()
                    {
                        let seen = p.stats_seen[k].swap(v, Relaxed);
                        if v > seen {
                            r.add(c, v - seen);
                        }
                    }
                }
                let (up, speed) = crate::dev::link(p.port_id);
                p.link_speed_mbps.store(speed, Relaxed);
                p.link_up.store(up && p.started, Relaxed);
                if (up && p.started) != iface.link_up {
                    self.vnet.signal_main_task(self.link_task);
                }
            }
            if !p.started {
                continue;
            }
            let row = vs.row(thread, p.sw_if_index);
            for q in 0..p.n_rxq {
                if iface.rx_queue_thread(q as usize) != thread {
                    continue;
                }
                polled = true;
                let mut n = 0usize;
                {
                    // SAFETY: this cache is the runtime's; while the scope lives only the
                    // mempool ops (called by the PMD inside rx_burst) use it, on this thread,
                    // and they free only mbufs DPDK owns, each once (`Cx::cache_mut`).
                    let _scope = unsafe { CacheScope::enter(cx.cache_mut()) };
                    while n < FRAME_SIZE {
                        let want = BURST.min((FRAME_SIZE - n) as u16);
                        // SAFETY: a started port, a queue this thread owns, room for `want`.
                        let got = unsafe {
                            sys::shim_rte_eth_rx_burst(
                                p.port_id,
                                q,
                                self.mbufs.0[n..].as_mut_ptr(),
                                want,
                            )
                        };
                        n += got as usize;
                        if got < want {
                            break;
                        }
                    }
                }
                if n == 0 {
                    continue;
                }
                let (pkts, bytes) = deliver(
                    &self.mbufs,
                    &mut self.drop,
                    cx,
                    n,
                    p.port_id,
                    q,
                    p.sw_if_index,
                );
                if let Some(r) = row {
                    r.add2(ifc::RX_PKTS, pkts, bytes);
                }
            }
        }
        if polled {
            if let Some(ts) = self.ts.as_deref() {
                ts.idle.request_poll();
            }
        }
    }
}

/// Turns `n` received mbufs into enqueued buffers; returns (packets, bytes) forwarded.
#[inline(always)]
fn deliver(
    mbufs: &Mbufs,
    drop: &mut Mbufs,
    cx: &mut Cx<'_>,
    n: usize,
    port: u16,
    queue: u16,
    sw: u32,
) -> (u64, u64) {
    let mut budget = cx.trace_budget();
    let mut bytes = 0u64;
    let mut n_drop = 0usize;
    let mut pkts = 0u64;
    for i in 0..n {
        let m = mbufs.0[i];
        // SAFETY: the PMD handed us `m`, an object of the pwire mempool: an mbuf header
        // followed by its buffer's metadata (mempool.rs); we own it now.
        let (data_off, data_len, nb_segs) = unsafe { ((*m).data_off, (*m).data_len, (*m).nb_segs) };
        if nb_segs != 1 {
            drop.0[n_drop] = m;
            n_drop += 1;
            continue;
        }
        // SAFETY: as above: the metadata right after the mbuf, owned by this thread.
        let b = unsafe { &mut *buffer_of(m) };
        b.reset();
        // data_off counts from buf_addr, which is the start of pwire's headroom.
        // A PMD writes inside the buffer; were a descriptor ever to say otherwise the packet
        // stays empty (reset above) and ethernet-input drops it as too short.
        let _ = b.set_current(i32::from(data_off) - HEADROOM as i32, usize::from(data_len));
        b.sw_if_index = [sw, !0];
        bytes += u64::from(data_len);
        pkts += 1;
        if budget > 0 && cx.start_trace(b) {
            budget -= 1;
            cx.trace(
                b,
                RxTrace {
                    port,
                    queue,
                    sw_if_index: sw,
                    data_off,
                    data_len,
                    nb_segs,
                    // SAFETY: as above (mbuf fields of a buffer we own).
                    pkt_len: unsafe { (*m).pkt_len },
                    // SAFETY: as above.
                    buf_len: unsafe { (*m).buf_len },
                    // SAFETY: as above.
                    ol_flags: unsafe { (*m).ol_flags },
                },
            );
        }
        let bi: BufferIndex = b.index();
        // SAFETY: the PMD handed this mbuf (so this buffer) to us in this burst, once; `b` is
        // not used again.
        unsafe { cx.enqueue(Next::EthernetInput, bi) };
    }
    if n_drop > 0 {
        // SAFETY: see `process`; rte_pktmbuf_free returns every segment of mbufs we own (and
        // enqueued nowhere) to the mempool, each once.
        let _scope = unsafe { CacheScope::enter(cx.cache_mut()) };
        // SAFETY: `n_drop` mbufs we own.
        unsafe { sys::shim_rte_pktmbuf_free_bulk(drop.0.as_mut_ptr(), n_drop as u32) };
        cx.count(C::MultiSeg, n_drop as u64);
    }
    (pkts, bytes)
}
