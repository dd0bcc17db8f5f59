//! `af-packet-input`: receives from the RX rings of the host interfaces this thread polls.
//!
//! Each thread's instance walks the device table every loop iteration and serves the
//! interfaces whose vnet `rx_thread` is this thread:
//! - admin up: up to [`FRAME_SIZE`] buffers per interface and dispatch are filled by copying
//!   frames out of the ring (buffers are allocated in chunks, never one by one; leftovers are
//!   freed at the end of the dispatch). The stripped VLAN tag is put back. A frame whose L4
//!   checksum the sending stack left to offload gets `L4_CSUM_PARTIAL` with
//!   `csum_start`/`csum_offset` relative to the frame start (`interface-output` finishes it). A
//!   GSO super-frame is cut into MTU-sized frames (`gso.rs`).
//! - admin down: frames are read and discarded (counted), so nothing stale is forwarded when
//!   the interface comes up and the ring fd does not stay readable.
//! - rx-mode: the RX fd sits in this thread's epoll set (`pwire_graph::runtime::IdleWait`). In
//!   `polling` the node asks the runtime to keep polling; in `interrupt` it arms the set so an
//!   idle thread sleeps in `epoll_wait` until the kernel hands over a frame (V2 ring) or an
//!   RX block (V3; the hybrid path has both sockets in the set); `adaptive`
//!   switches a queue to polling after a dispatch of ≥ 10 packets and back to interrupt after
//!   two consecutive dispatches of ≤ 5 (VPP's thresholds, kept per queue).
//! - every 250 ms: the kernel link state (copied into the vnet interface by a main-thread task),
//!   the kernel's ring-full drops (interface counter `rx-miss`), and the hybrid path's rate
//!   check without a frame (a quiet link goes back to the V2 ring).
//! - it also retries TX flushes of this thread's own TX queues that the kernel refused with
//!   EAGAIN/ENOBUFS, so queued frames do not wait for the next packet.
//!
//! Arcs: 0 `ethernet-input`.
//! Interface counters: rx packets/bytes, rx-no-buf (pool empty), rx-miss (ring full in the
//! kernel).
//! Node counters: "partial packet", "packet too big for buffer", "gso super-frames
//! segmented", "gso packet not segmented", "no free buffers", "interface is down".

use std::fmt;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use pwire_buffer::{flags, BufferIndex};
use pwire_graph::runtime::ThreadShared;
use pwire_graph::{counters, next_nodes, Cx, Frame, Node, NodeKind, NodeReg, Shared, FRAME_SIZE};
use pwire_vnet::interface::IfRow;
use pwire_vnet::{ifc, Registry, RxMode, Vnet};

use crate::dev::{AfpState, HostDev};
use crate::gso;
use crate::host::RxQueue;
use crate::rx::{RxPkt, TpHdr, VnetHdr};

next_nodes! { pub enum Next { EthernetInput => "ethernet-input" } }
counters! { pub enum C {
    Partial: error = "partial packet",
    TooBig: error = "packet too big for buffer",
    GsoSegmented: info = "gso super-frames segmented",
    GsoFailed: error = "gso packet not segmented",
    NoBuffer: error = "no free buffers",
    AdminDown: warn = "interface is down",
} }

/// How often the RX owner looks at the kernel link state and drop counter.
const CHECK_INTERVAL_S: f64 = 0.25;
/// Buffers allocated at a time while filling a frame.
const ALLOC_CHUNK: usize = 32;

/// VPP's adaptive-mode thresholds (`polling_threshold_vector_length`,
/// `interrupt_threshold_vector_length`).
const POLL_THRESHOLD: usize = 10;
const INTERRUPT_THRESHOLD: usize = 5;

/// Adaptive rx-mode state of one queue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Adaptive {
    pub polling: bool,
    low: u8,
}

impl Adaptive {
    /// Feeds one dispatch's packet count; returns whether the queue is now polled.
    pub(crate) fn step(&mut self, n: usize) -> bool {
        if self.polling {
            if n <= INTERRUPT_THRESHOLD {
                self.low += 1;
                if self.low >= 2 {
                    *self = Adaptive::default();
                }
            } else {
                self.low = 0;
            }
        } else if n >= POLL_THRESHOLD {
            self.polling = true;
            self.low = 0;
        }
        self.polling
    }
}

/// This thread's view of one device slot.
#[derive(Debug, Default)]
struct LocalQ {
    /// `HostDev::id` this state belongs to (0: none).
    id: u64,
    /// The RX fd is in this thread's epoll set.
    registered: bool,
    adaptive: Adaptive,
    next_check: f64,
}

/// VPP's `af_packet: hw_if_index N next-index N` record plus the ring and virtio-net headers.
#[derive(Clone, Copy)]
struct RxTrace {
    hw_if_index: u32,
    next_index: u16,
    status: u32,
    len: u32,
    snaplen: u32,
    tp: TpHdr,
    vnet: Option<VnetHdr>,
}

impl fmt::Display for RxTrace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = &self.tp;
        writeln!(
            f,
            "af_packet: hw_if_index {} next-index {}",
            self.hw_if_index, self.next_index
        )?;
        writeln!(f, "  tpacket{}_hdr:", if t.v2 { 2 } else { 3 })?;
        writeln!(
            f,
            "    status 0x{:x} len {} snaplen {} mac {} net {}",
            self.status, self.len, self.snaplen, t.mac, t.net
        )?;
        // VPP's format_ethernet_vlan_tci: the VID, then " cfi" and " pri N" when set.
        write!(
            f,
            "    sec 0x{:x} nsec 0x{:x} vlan {}",
            t.sec,
            t.nsec,
            t.vlan_tci & 0x0fff
        )?;
        if t.vlan_tci & 0x1000 != 0 {
            f.write_str(" cfi")?;
        }
        if t.vlan_tci >> 13 != 0 {
            write!(f, " pri {}", t.vlan_tci >> 13)?;
        }
        write!(f, " vlan_tpid {}", t.vlan_tpid)?;
        if let Some(v) = self.vnet {
            write!(
                f,
                "\n  vnet-hdr:\n    flags 0x{:02x} gso_type 0x{:02x} hdr_len {}\n    gso_size {} csum_start {} csum_offset {}",
                v.flags, v.gso_type, v.hdr_len, v.gso_size, v.csum_start, v.csum_offset
            )?;
        }
        Ok(())
    }
}

/// The node instance of one thread.
pub struct AfpInput {
    st: Arc<Shared<AfpState>>,
    vnet: Arc<Vnet>,
    thread: usize,
    /// This thread's shared data (its epoll set); looked up lazily from the engine.
    ts: Option<Arc<ThreadShared>>,
    /// Main-thread task that copies link states into the vnet interfaces.
    link_task: usize,
    locals: Vec<LocalQ>,
    stash: Box<[BufferIndex; FRAME_SIZE]>,
}

impl fmt::Debug for AfpInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AfpInput")
            .field("thread", &self.thread)
            .finish()
    }
}

pub(crate) fn register(r: &mut Registry, st: Arc<Shared<AfpState>>, link_task: usize) {
    let vnet = r.vnet.clone();
    r.graph.node(NodeReg::new(
        "af-packet-input",
        NodeKind::Input,
        Next::NAMES,
        C::DECLS,
        move |b| {
            Box::new(AfpInput {
                st: st.clone(),
                ts: vnet
                    .engine
                    .get()
                    .and_then(|e| e.threads.get(b.thread).cloned()),
                vnet: vnet.clone(),
                thread: b.thread,
                link_task,
                locals: Vec::with_capacity(16),
                stash: Box::new([0; FRAME_SIZE]),
            })
        },
    ));
}

/// Per-dispatch totals of one queue.
#[derive(Debug, Default)]
struct Polled {
    /// Buffers enqueued.
    pkts: usize,
    bytes: u64,
    no_buf: u64,
    partial: u64,
    too_big: u64,
    gso: u64,
    gso_failed: u64,
    /// Stopped because the frame budget was used up: more may be waiting.
    full: bool,
}

impl Node for AfpInput {
    fn process(&mut self, _frame: &mut Frame<'_>, cx: &mut Cx<'_>) {
        let dp = cx.dp();
        let st = self.st.dp(&dp);
        let vs = self.vnet.state.dp(&dp);
        if self.ts.is_none() {
            self.ts = self
                .vnet
                .engine
                .get()
                .and_then(|e| e.threads.get(self.thread).cloned());
        }
        let Some(ts) = self.ts.as_deref() else {
            return;
        };
        let idle = &ts.idle;
        if self.locals.len() < st.devs.len() {
            // Grows only when the device table does (interface creation), never per packet.
            self.locals.resize_with(st.devs.len(), LocalQ::default);
        }
        let now = cx.now();
        let thread = self.thread;
        for (k, slot) in st.devs.iter().enumerate() {
            let loc = &mut self.locals[k];
            let Some(dev) = slot.as_deref() else {
                // Deleted: its fd was closed under the barrier, which took it out of the set.
                *loc = LocalQ::default();
                continue;
            };
            if loc.id != dev.id {
                *loc = LocalQ {
                    id: dev.id,
                    ..LocalQ::default()
                };
            }
            let Some(iface) = vs.get(dev.sw_if_index) else {
                continue;
            };
            if let Some(cell) = dev.tx.get(thread) {
                // SAFETY: `tx[thread]` belongs to this thread, which is dispatching (dev.rs).
                let txq = unsafe { cell.get_mut() };
                if txq.pending() > 0 {
                    // Errors are counted by the queue; frames the kernel refused stay queued.
                    let _ = txq.flush();
                    if txq.pending() > 0 {
                        idle.request_poll();
                    }
                }
            }
            if iface.rx_thread != thread {
                if loc.registered {
                    for fd in std::iter::once(dev.rx_fd).chain(dev.rx_fd_v2) {
                        let _ = idle.remove_fd(fd);
                    }
                    loc.registered = false;
                }
                continue;
            }
            // SAFETY: this thread is the interface's `rx_thread` and is dispatching; no other
            // thread touches the RX queue meanwhile (dev.rs).
            let rxq = unsafe { dev.rx.get_mut() };
            if !loc.registered {
                loc.registered = std::iter::once(dev.rx_fd)
                    .chain(dev.rx_fd_v2)
                    .all(|fd| idle.add_fd(fd).is_ok());
            }
            let row = vs.row(thread, dev.sw_if_index);
            if now >= loc.next_check {
                loc.next_check = now + CHECK_INTERVAL_S;
                let up = rxq.link_up();
                dev.link_up.store(up, Relaxed);
                if up != iface.link_up {
                    self.vnet.signal_main_task(self.link_task);
                }
                // A quiet hybrid queue on V3 goes back to V2 without waiting for a frame.
                rxq.tick();
                let (_, drops) = rxq.poll_kernel_stats();
                if let (Some(r), true) = (row, drops > 0) {
                    r.add(ifc::RX_MISS, drops);
                }
            }
            let p = if !rxq.ready() {
                Polled::default()
            } else if iface.admin_up {
                poll_queue(&mut self.stash, cx, dev, rxq, row)
            } else {
                let n = rxq.burst(FRAME_SIZE, |_| true);
                cx.count(C::AdminDown, n as u64);
                Polled {
                    full: n == FRAME_SIZE,
                    ..Polled::default()
                }
            };
            let polling = match iface.rx_mode {
                RxMode::Polling => true,
                RxMode::Interrupt => false,
                RxMode::Adaptive => loc.adaptive.step(p.pkts),
            };
            if polling || p.full || !loc.registered {
                idle.request_poll();
            } else {
                idle.arm();
            }
        }
    }
}

/// Fills buffers from one RX queue and enqueues them to `ethernet-input`.
fn poll_queue(
    stash: &mut [BufferIndex; FRAME_SIZE],
    cx: &mut Cx<'_>,
    dev: &HostDev,
    rxq: &mut RxQueue,
    row: Option<&IfRow>,
) -> Polled {
    let sw = dev.sw_if_index;
    let cap = usize::from(cx.pool().data_size());
    let mut trace_left = cx.trace_budget();
    let mut have = 0usize;
    let mut p = Polled::default();
    // Makes sure `need` buffers sit in the stash; false when the pool cannot supply them.
    let refill =
        |cx: &mut Cx<'_>, stash: &mut [BufferIndex; FRAME_SIZE], have: &mut usize, need| {
            while *have < need {
                let want = (need - *have).max(ALLOC_CHUNK).min(FRAME_SIZE - *have);
                let got = cx.alloc(&mut stash[*have..*have + want]);
                *have += got;
                if got == 0 {
                    return false;
                }
            }
            true
        };
    rxq.burst(FRAME_SIZE, |pkt: RxPkt<'_>| {
        if pkt.is_truncated() {
            p.partial += 1;
            return true;
        }
        let tagged = pkt.vlan.is_some();
        let len = pkt.wire_len();
        // A GSO super-frame with more than one segment's worth of payload is cut up; one
        // that fits a single segment goes through as it is.
        let seg = match pkt.gso.map(|g| gso::plan(pkt.data, g, pkt.csum)) {
            None => None,
            Some(Ok(plan)) => (plan.segments > 1).then_some(plan),
            Some(Err(_)) => {
                p.gso_failed += 1;
                return true;
            }
        };
        let n_bufs = seg.map_or(1, |s| s.segments);
        if n_bufs > FRAME_SIZE || seg.is_some_and(|s| s.max_segment_len(tagged) > cap) {
            p.gso_failed += 1;
            return true;
        }
        if seg.is_none() && len > cap {
            p.too_big += 1;
            return true;
        }
        if p.pkts + n_bufs > FRAME_SIZE {
            // No room in this dispatch: the frame stays in the ring for the next one.
            p.full = true;
            return false;
        }
        if !refill(cx, stash, &mut have, n_bufs) {
            p.no_buf += 1;
            return true;
        }
        let rec = RxTrace {
            hw_if_index: sw,
            next_index: Next::EthernetInput as u16,
            status: pkt.status,
            len: pkt.orig_len,
            snaplen: pkt.data.len() as u32,
            tp: pkt.tp,
            vnet: pkt.vnet,
        };
        for i in 0..n_bufs {
            have -= 1;
            let bi = stash[have];
            // SAFETY: `bi` was just allocated by this node and is in no frame yet.
            let b = unsafe { cx.buf_mut(bi) };
            let blen = match &seg {
                Some(plan) => {
                    let l = plan.segment_len(i, tagged);
                    b.set_len(l);
                    match gso::write_segment(plan, pkt.data, pkt.vlan, i, b.current_mut()) {
                        Some((l, c)) => {
                            b.flags |= flags::L4_CSUM_PARTIAL;
                            b.opaque.csum_start = c.start;
                            b.opaque.csum_offset = c.offset;
                            l
                        }
                        None => 0,
                    }
                }
                None => {
                    b.set_len(len);
                    let l = pkt.copy_to(b.current_mut()).unwrap_or(0);
                    if let Some(c) = pkt.csum_in_copy() {
                        b.flags |= flags::L4_CSUM_PARTIAL;
                        b.opaque.csum_start = c.start;
                        b.opaque.csum_offset = c.offset;
                    } else if pkt.csum_not_ready() {
                        // No virtio-net header (`cksum-gso-disable`): find L4 ourselves.
                        let _ = pwire_wire::checksum::recompute_l4_checksum(b.current_mut());
                    }
                    l
                }
            };
            if blen == 0 {
                // Cannot happen for frames that passed the checks above; keep the buffer.
                have += 1;
                continue;
            }
            b.set_len(blen);
            b.sw_if_index = [sw, !0];
            if trace_left > 0 && cx.start_trace(b) {
                trace_left -= 1;
                cx.trace(b, rec);
            }
            // SAFETY: `bi` left the stash of buffers this node allocated (popped once, so
            // enqueued once); `b` is not used again.
            unsafe { cx.enqueue(Next::EthernetInput, bi) };
            p.pkts += 1;
            p.bytes += blen as u64;
        }
        if seg.is_some() {
            p.gso += 1;
        }
        true
    });
    if have > 0 {
        // SAFETY: the stash holds buffers this node allocated and neither enqueued nor freed,
        // each once.
        unsafe { cx.free(&stash[..have]) };
    }
    if let Some(r) = row {
        if p.pkts > 0 {
            r.add2(ifc::RX_PKTS, p.pkts as u64, p.bytes);
        }
        if p.no_buf > 0 {
            r.add(ifc::RX_NO_BUF, p.no_buf);
        }
    }
    cx.count(C::Partial, p.partial);
    cx.count(C::TooBig, p.too_big);
    cx.count(C::GsoSegmented, p.gso);
    cx.count(C::GsoFailed, p.gso_failed);
    cx.count(C::NoBuffer, p.no_buf);
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adaptive_thresholds_are_vpps() {
        let mut a = Adaptive::default();
        assert!(!a.step(9), "9 vectors stay in interrupt mode");
        assert!(a.step(10), "10 vectors switch to polling");
        assert!(a.step(5), "one low dispatch keeps polling");
        assert!(a.step(6), "a dispatch above 5 resets the count");
        assert!(a.step(5));
        assert!(!a.step(0), "two consecutive dispatches <= 5 switch back");
        assert!(!a.step(9));
        assert!(a.step(256));
    }

    #[test]
    fn trace_text() {
        let t = RxTrace {
            hw_if_index: 1,
            next_index: 0,
            status: 0x81,
            len: 98,
            snaplen: 98,
            tp: TpHdr {
                mac: 92,
                net: 106,
                sec: 0x5f00,
                nsec: 0x10,
                vlan_tci: 0x2064,
                vlan_tpid: 0x8100,
                v2: false,
            },
            vnet: Some(VnetHdr::default()),
        };
        assert_eq!(
            t.to_string(),
            "af_packet: hw_if_index 1 next-index 0\n  tpacket3_hdr:\n    status 0x81 len 98 snaplen 98 mac 92 net 106\n    sec 0x5f00 nsec 0x10 vlan 100 pri 1 vlan_tpid 33024\n  vnet-hdr:\n    flags 0x00 gso_type 0x00 hdr_len 0\n    gso_size 0 csum_start 0 csum_offset 0"
        );
        let t = RxTrace {
            tp: TpHdr { v2: true, ..t.tp },
            ..t
        };
        assert!(t.to_string().contains("\n  tpacket2_hdr:\n"), "{t}");
    }
}
