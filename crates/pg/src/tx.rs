//! `pg-tx`: what pg interfaces transmit ends here, optionally written to a pcap file.
//!
//! Arcs: none (frees every buffer). Counters: "packets captured".

use pwire_buffer::BufferIndex;
use pwire_graph::{
    counters, Cx, Frame, Node, NodeKind, NodeReg, Shared, FRAME_SIZE, NEXT_CONSUMED,
};
use pwire_pcap::PcapWriter;
use pwire_vnet::Registry;
use std::io::BufWriter;
use std::sync::Arc;

use crate::PgState;

counters! { pub enum C { Captured: info = "packets captured" } }

/// An armed `packet-generator capture`.
#[derive(Debug)]
pub struct Capture {
    pub file: String,
    pub remaining: u64,
    pub writer: PcapWriter<BufWriter<std::fs::File>>,
    pub written: u64,
}

pub(crate) fn register(r: &mut Registry, st: Arc<Shared<PgState>>) {
    let vnet = r.vnet.clone();
    r.graph.node(NodeReg::new(
        "pg-tx",
        NodeKind::Internal,
        &[],
        C::DECLS,
        move |_b| {
            Box::new(PgTx {
                st: st.clone(),
                vnet: vnet.clone(),
                free: Box::new([0; FRAME_SIZE]),
            })
        },
    ));
}

struct PgTx {
    st: Arc<Shared<PgState>>,
    vnet: Arc<pwire_vnet::Vnet>,
    free: Box<[BufferIndex; FRAME_SIZE]>,
}

impl Node for PgTx {
    fn process(&mut self, frame: &mut Frame<'_>, cx: &mut Cx<'_>) {
        let dp = cx.dp();
        let st = self.st.dp(&dp);
        let vs = self.vnet.state.dp(&dp);
        let mut captured = 0u64;
        let n = frame.len();
        let armed = st.capture_armed.load(std::sync::atomic::Ordering::Relaxed);
        for i in 0..n {
            if !armed {
                break;
            }
            let sw = frame.buf(i).tx();
            let inst = vs.get(sw).map(|i| i.dev_instance as usize);
            if let Some(Some(pg)) = inst.and_then(|k| st.ifs.get(k)) {
                // Capture is a test/debug path: a mutex per packet is acceptable only while armed.
                let mut c = pg.capture.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(cap) = c.as_mut() {
                    let b = frame.buf(i);
                    let ts = pwire_vnet::builtin_cli::pcap_ts(cx.now());
                    if cap
                        .writer
                        .write_record(ts, b.current_length() as u32, b.current())
                        .is_ok()
                    {
                        cap.written += 1;
                        captured += 1;
                    }
                    cap.remaining = cap.remaining.saturating_sub(1);
                    if cap.remaining == 0 {
                        let _ = cap.writer.flush();
                        *c = None;
                    }
                }
            }
        }
        // Make what was captured so far readable without waiting for more traffic.
        for pg in st.ifs.iter().flatten().filter(|_| armed) {
            if let Ok(mut c) = pg.capture.try_lock() {
                if let Some(cap) = c.as_mut() {
                    let _ = cap.writer.flush();
                }
            }
        }
        cx.count(C::Captured, captured);
        frame.set_all(NEXT_CONSUMED);
        self.free[..n].copy_from_slice(frame.indices());
        // SAFETY: the frame's buffers, each once (frame invariant), all with next
        // NEXT_CONSUMED; not touched after this.
        unsafe { cx.free(&self.free[..n]) };
    }
}
