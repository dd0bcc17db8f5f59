//! `dpdk-tx`: the `dpdk` device class's tx node (after `interface-output`).
//!
//! Buffers go to the PMD as they are: for each packet the node writes the mbuf's `data_off`,
//! `data_len`, `pkt_len`, `nb_segs`, `ol_flags` and `port` from the pwire metadata (the mbuf
//! sits right in front of it, see `mempool.rs`), groups consecutive packets of one port, and
//! calls `rte_eth_tx_burst` on the thread's tx queue (`thread % n_txq`, under the queue's spin
//! flag only when queues are shared). Packets the PMD did not take are freed and counted; the
//! PMD frees the ones it took through the mempool ops into this thread's cache.
//!
//! Arcs: none (consumes every buffer). Interface counters: tx-error.
//! Node counters: "tx queue full", "interface is down", "not a dpdk interface".

use std::fmt;
use std::sync::Arc;

use pwire_buffer::{BufferIndex, HEADROOM};
use pwire_dpdk_sys as sys;
use pwire_graph::{
    counters, Cx, Frame, Node, NodeKind, NodeReg, Shared, FRAME_SIZE, NEXT_CONSUMED,
};
use pwire_vnet::{ifc, Registry, Vnet};

use crate::dev::{DpdkState, Port};
use crate::mempool::{mbuf_of, CacheScope};

counters! { pub enum C {
    QueueFull: error = "tx queue full",
    AdminDown: error = "interface is down",
    NotDpdk: error = "not a dpdk interface",
} }

#[derive(Clone, Copy)]
struct TxTrace {
    port: u16,
    queue: u16,
    len: u16,
}

impl fmt::Display for TxTrace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "dpdk-tx: port {} queue {} len {}",
            self.port, self.queue, self.len
        )
    }
}

struct Mbufs([*mut sys::rte_mbuf; FRAME_SIZE]);
// SAFETY: scratch space used within one dispatch on the owning thread.
unsafe impl Send for Mbufs {}

pub struct DpdkTx {
    st: Arc<Shared<DpdkState>>,
    vnet: Arc<Vnet>,
    mbufs: Box<Mbufs>,
    /// Buffers to free at the end of the dispatch (dropped or refused by the PMD).
    free: Box<[BufferIndex; FRAME_SIZE]>,
}

impl fmt::Debug for DpdkTx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DpdkTx")
    }
}

pub(crate) fn register(r: &mut Registry, st: Arc<Shared<DpdkState>>) {
    let vnet = r.vnet.clone();
    r.graph.node(NodeReg::new(
        "dpdk-tx",
        NodeKind::Internal,
        &[],
        C::DECLS,
        move |_| {
            Box::new(DpdkTx {
                st: st.clone(),
                vnet: vnet.clone(),
                mbufs: Box::new(Mbufs([std::ptr::null_mut(); FRAME_SIZE])),
                free: Box::new([0; FRAME_SIZE]),
            })
        },
    ));
}

#[derive(Default)]
struct Tally {
    full: u64,
    down: u64,
    not_dpdk: u64,
}

/// Sends `mbufs[..n]` on `p`; the unsent ones join `free`. Returns how many were refused.
fn flush(
    mbufs: &mut Mbufs,
    free: &mut [BufferIndex; FRAME_SIZE],
    p: &Port,
    thread: usize,
    n: usize,
    n_free: &mut usize,
) -> u64 {
    if n == 0 {
        return 0;
    }
    // `% n_txq` happens once per burst, not per packet.
    let q = (thread % usize::from(p.n_txq)) as u16;
    let lock = p.tx_shared.then(|| &p.tx_locks[q as usize]);
    if let Some(l) = lock {
        l.lock();
    }
    let mut sent = 0usize;
    // A PMD may take fewer than offered when its ring is momentarily full: try again a
    // bounded number of times before giving up on the rest.
    for _ in 0..4 {
        // SAFETY: a started port; this thread owns queue `q` (or holds its flag);
        // `mbufs[sent..n]` are valid mbufs we own.
        sent += usize::from(unsafe {
            sys::shim_rte_eth_tx_burst(
                p.port_id,
                q,
                mbufs.0[sent..].as_mut_ptr(),
                (n - sent) as u16,
            )
        });
        if sent == n {
            break;
        }
    }
    if let Some(l) = lock {
        l.unlock();
    }
    for &m in &mbufs.0[sent..n] {
        // SAFETY: an mbuf of the pwire mempool that the PMD did not take: still ours.
        free[*n_free] = unsafe { (*crate::mempool::buffer_of(m)).index() };
        *n_free += 1;
    }
    (n - sent) as u64
}

impl Node for DpdkTx {
    fn process(&mut self, frame: &mut Frame<'_>, cx: &mut Cx<'_>) {
        let dp = cx.dp();
        let st = self.st.dp(&dp);
        let vs = self.vnet.state.dp(&dp);
        let thread = cx.thread();
        let pool = frame.pool();
        let n = frame.len();
        let mut t = Tally::default();
        let mut n_free = 0usize;
        let mut n_m = 0usize;
        let mut cur: Option<&Port> = None;
        let mut last_sw = u32::MAX;
        // SAFETY: the runtime's cache; only the mempool ops use it while the scope lives (the
        // PMD frees transmitted mbufs inside tx_burst, which it owns from then on, each once),
        // on this thread.
        let scope = unsafe { CacheScope::enter(cx.cache_mut()) };
        for i in 0..n {
            let bi = frame.indices()[i];
            let b = frame.buf(i);
            let sw = b.tx();
            if sw != last_sw {
                if let Some(p) = cur {
                    let refused =
                        flush(&mut self.mbufs, &mut self.free, p, thread, n_m, &mut n_free);
                    t.full += refused;
                    if let (true, Some(r)) = (refused > 0, vs.row(thread, p.sw_if_index)) {
                        r.add(ifc::TX_ERROR, refused);
                    }
                }
                n_m = 0;
                last_sw = sw;
                cur = vs
                    .get(sw)
                    .and_then(|i| st.ports.get(i.dev_instance as usize))
                    .filter(|p| p.sw_if_index == sw);
            }
            let Some(p) = cur else {
                t.not_dpdk += 1;
                self.free[n_free] = bi;
                n_free += 1;
                continue;
            };
            if !p.started {
                t.down += 1;
                self.free[n_free] = bi;
                n_free += 1;
                continue;
            }
            let (data_off, len) = (
                // current_data >= -HEADROOM (buffer invariant): the sum is never negative.
                (b.current_data() as i32 + HEADROOM as i32).cast_unsigned() as u16,
                b.current_length(),
            );
            if b.is_traced() {
                cx.trace(
                    b,
                    TxTrace {
                        port: p.port_id,
                        queue: (thread % usize::from(p.n_txq)) as u16,
                        len,
                    },
                );
            }
            let m = mbuf_of(pool.buffer_ptr(bi));
            // SAFETY: the frame owns `bi` and so its mbuf header (mempool.rs layout); the
            // header's other fields (buf_addr, pool, refcnt, next) were set at pool creation
            // and are kept by every PMD that gives mbufs back.
            unsafe {
                (*m).data_off = data_off;
                (*m).data_len = len;
                (*m).pkt_len = u32::from(len);
                (*m).nb_segs = 1;
                (*m).ol_flags = 0;
                (*m).port = p.port_id;
            }
            self.mbufs.0[n_m] = m;
            n_m += 1;
        }
        if let Some(p) = cur {
            let refused = flush(&mut self.mbufs, &mut self.free, p, thread, n_m, &mut n_free);
            t.full += refused;
            if let (true, Some(r)) = (refused > 0, vs.row(thread, p.sw_if_index)) {
                r.add(ifc::TX_ERROR, refused);
            }
        }
        drop(scope);
        frame.set_all(NEXT_CONSUMED);
        // SAFETY: frame buffers (next NEXT_CONSUMED) that no PMD took, each listed once.
        unsafe { cx.free(&self.free[..n_free]) };
        cx.count(C::QueueFull, t.full);
        cx.count(C::AdminDown, t.down);
        cx.count(C::NotDpdk, t.not_dpdk);
    }
}
