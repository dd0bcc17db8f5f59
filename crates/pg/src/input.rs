//! `pg-input` and the stream table.

use pwire_buffer::BufferIndex;
use pwire_graph::{Cx, Frame, Node, NodeKind, NodeReg, Shared, FRAME_SIZE};
use pwire_vnet::{ifc, Registry, Vnet};
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

/// One stream. Counters are written only by the thread the stream is placed on; aligned so
/// that streams on different workers never share a cache line.
#[derive(Debug)]
#[repr(align(128))]
pub struct Stream {
    pub name: String,
    pub limit: u64,
    pub size: (u16, u16),
    pub rate: f64,
    pub maxframe: usize,
    pub thread: usize,
    pub sw_if_index: u32,
    /// TX interface stamped on every packet (`tx-interface`), `!0` when unset.
    pub tx_sw_if_index: u32,
    pub node: String,
    /// `pg-input`'s next index for `node`.
    pub next: u16,
    pub packets: Vec<Vec<u8>>,
    pub source: String,
    pub enabled: AtomicBool,
    pub sent: AtomicU64,
    /// Rate limiting: time the stream was enabled and packets sent since.
    pub t_start: AtomicU64,
    pub sent_at_start: AtomicU64,
}

impl Stream {
    pub fn is_done(&self) -> bool {
        self.limit != 0 && self.sent.load(Relaxed) >= self.limit
    }
}

/// Streams and pg interface captures.
#[derive(Debug, Default)]
pub struct PgState {
    pub streams: Vec<Arc<Stream>>,
    /// pg interfaces by instance number: (sw_if_index, capture).
    pub ifs: Vec<Option<PgIf>>,
    /// True while any interface has a capture armed: `pg-tx` checks it once per frame.
    pub capture_armed: AtomicBool,
}

/// One pg interface.
#[derive(Debug)]
pub struct PgIf {
    pub sw_if_index: u32,
    pub capture: Arc<std::sync::Mutex<Option<crate::tx::Capture>>>,
}

/// Packets a stream of `rate` pps may have sent after `elapsed` seconds.
#[allow(clippy::cast_sign_loss)] // clamped to >= 0 first; `as` saturates large values.
fn budget_at(elapsed: f64, rate: f64) -> u64 {
    (elapsed.max(0.0) * rate) as u64 + 1
}

/// Trace record: VPP prints `stream <name>, <len> bytes, sw_if_index <n>`.
#[derive(Clone, Copy)]
struct PgTrace {
    stream: u32,
    len: u16,
    sw_if_index: u32,
}

impl fmt::Display for PgTrace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "stream {}, {} bytes, sw_if_index {}",
            self.stream, self.len, self.sw_if_index
        )
    }
}

/// The input node instance of one thread.
#[allow(missing_debug_implementations)]
pub struct PgInput {
    st: Arc<Shared<PgState>>,
    vnet: Arc<Vnet>,
    thread: usize,
    bis: Box<[BufferIndex; FRAME_SIZE]>,
    /// Round-robin position inside each stream's packet list.
    pos: Vec<usize>,
}

pub(crate) fn register(r: &mut Registry, st: Arc<Shared<PgState>>) {
    let vnet = r.vnet.clone();
    r.graph.node(NodeReg::new(
        "pg-input",
        NodeKind::Input,
        &["error-drop"],
        &[],
        move |b| {
            Box::new(PgInput {
                st: st.clone(),
                vnet: vnet.clone(),
                thread: b.thread,
                bis: Box::new([0; FRAME_SIZE]),
                pos: Vec::new(),
            })
        },
    ));
}

impl Node for PgInput {
    fn process(&mut self, _frame: &mut Frame<'_>, cx: &mut Cx<'_>) {
        let dp = cx.dp();
        let st = self.st.dp(&dp);
        if self.pos.len() < st.streams.len() {
            self.pos.resize(st.streams.len(), 0);
        }
        let vs = self.vnet.state.dp(&dp);
        for (si, s) in st.streams.iter().enumerate() {
            if s.thread != self.thread || !s.enabled.load(Relaxed) {
                continue;
            }
            let sent = s.sent.load(Relaxed);
            let mut n = s.maxframe.min(FRAME_SIZE);
            if s.limit != 0 {
                n = n.min((s.limit - sent) as usize);
            }
            if s.rate > 0.0 {
                let t0 = f64::from_bits(s.t_start.load(Relaxed));
                let allowed = budget_at(cx.now() - t0, s.rate);
                let done = sent - s.sent_at_start.load(Relaxed);
                n = n.min(allowed.saturating_sub(done) as usize);
            }
            if n == 0 {
                if s.is_done() {
                    s.enabled.store(false, Relaxed);
                }
                continue;
            }
            let got = cx.alloc_uninit(&mut self.bis[..n]);
            if got < n {
                if let Some(r) = vs.row(self.thread, s.sw_if_index) {
                    r.add(ifc::RX_NO_BUF, (n - got) as u64);
                }
            }
            let mut budget = cx.trace_budget();
            let mut bytes = 0u64;
            let mut pos = self.pos[si];
            // `size N-N` on a `data` stream pads (zeros) or cuts the one template to N bytes.
            let fixed = (s.size.0 == s.size.1 && s.source == "data").then_some(s.size.0 as usize);
            let ifs = [s.sw_if_index, s.tx_sw_if_index];
            let cap = cx.data_size();
            // (packet length, bytes copied from the template) for a template of length t
            let shape = |t: usize| {
                let len = fixed.unwrap_or(t).min(cap);
                (len, len.min(t))
            };
            // One template (the usual stream): worked out once for the frame.
            let single = match s.packets.as_slice() {
                [t] => Some((t.as_slice(), shape(t.len()))),
                _ => None,
            };
            // The usual stream, nothing traced and no template padded: a loop with only the
            // copy and the metadata stores, addressed from the pool's base.
            let padded = matches!(single, Some((_, (len, k0))) if k0 < len)
                || (single.is_none() && fixed.is_some());
            if budget == 0 && !padded {
                let view = cx.pool_view();
                let bis = &self.bis[..got];
                let nb = view.n_buffers();
                let np = s.packets.len();
                // SAFETY (both loops): `bi` is in range (checked) and was just allocated by
                // this node: no other reference to it exists; `len` fits the data area
                // (`shape`, or clamped to `cap`) and the template (checked).
                if let Some((t, (len, _))) = single {
                    assert!(len <= t.len());
                    for &bi in bis {
                        assert!(bi < nb);
                        // SAFETY: see above.
                        unsafe { fill(view, bi, t, len, ifs) };
                    }
                    bytes = (len * got) as u64;
                } else {
                    for &bi in bis {
                        let t = s.packets[pos].as_slice();
                        pos += 1;
                        if pos == np {
                            pos = 0;
                        }
                        let len = t.len().min(cap);
                        assert!(bi < nb);
                        // SAFETY: see above.
                        unsafe { fill(view, bi, t, len, ifs) };
                        bytes += len as u64;
                    }
                }
            } else {
                for k in 0..got {
                    let bi = self.bis[k];
                    let (tmpl, (len, k0)) = match single {
                        Some(x) => x,
                        None => {
                            let t = s.packets[pos].as_slice();
                            pos += 1;
                            if pos == s.packets.len() {
                                pos = 0;
                            }
                            (t, shape(t.len()))
                        }
                    };
                    {
                        // SAFETY: `bi` was just allocated by this node and is in no frame
                        // yet; the slice ends before the metadata is borrowed below.
                        let d = unsafe { cx.data_mut(bi, len) };
                        copy_packet(&mut d[..k0], &tmpl[..k0]);
                        if k0 < len {
                            d[k0..].fill(0);
                        }
                    }
                    // SAFETY: as above; no other reference to `bi` is alive.
                    let b = unsafe { cx.buf_mut(bi) };
                    b.init(len as u16, ifs);
                    bytes += len as u64;
                    if budget > 0 && cx.start_trace(b) {
                        budget -= 1;
                        cx.trace(
                            b,
                            PgTrace {
                                stream: si as u32,
                                len: len as u16,
                                sw_if_index: s.sw_if_index,
                            },
                        );
                    }
                }
            }
            // SAFETY: `bis[..got]` were just allocated by this node (distinct indices from the
            // cache) and are not touched after this.
            unsafe { cx.enqueue_slice(s.next, &self.bis[..got]) };
            self.pos[si] = pos;
            if let Some(r) = vs.row(self.thread, s.sw_if_index) {
                r.add2(ifc::RX_PKTS, got as u64, bytes);
            }
            s.sent.store(sent + got as u64, Relaxed);
            if s.is_done() {
                s.enabled.store(false, Relaxed);
            }
        }
    }
}

const COPY_W: usize = 32;

/// Writes a fresh packet: the first `len` bytes of `t` into buffer `bi`, then its metadata.
///
/// # Safety
/// `bi` in range, owned by the caller and referenced nowhere else; `len <= t.len()` and within
/// the data area.
#[inline(always)]
unsafe fn fill(view: pwire_buffer::View<'_>, bi: u32, t: &[u8], len: usize, ifs: [u32; 2]) {
    // SAFETY: the caller's contract.
    unsafe {
        let d = view.data_ptr(bi);
        if len >= COPY_W {
            copy_fixed(d, t.as_ptr(), len);
        } else {
            std::ptr::copy_nonoverlapping(t.as_ptr(), d, len);
        }
        // `len` within the data area: the caller's contract; stores only (no metadata load).
        view.get_mut(bi).init_unchecked(len as u16, ifs);
    }
}

/// Copies `n >= COPY_W` bytes with whole 32-byte unaligned moves, the last one overlapping the
/// one before (no per-byte tail).
///
/// # Safety
/// `src` readable and `dst` writable for `n` bytes, not overlapping.
#[inline(always)]
unsafe fn copy_fixed(dst: *mut u8, src: *const u8, n: usize) {
    debug_assert!(n >= COPY_W);
    let mut o = 0;
    // SAFETY: every move covers [o, o + 32) with o + 32 <= n (the caller's range).
    unsafe {
        while o + COPY_W < n {
            dst.add(o)
                .cast::<[u8; COPY_W]>()
                .write_unaligned(src.add(o).cast::<[u8; COPY_W]>().read_unaligned());
            o += COPY_W;
        }
        let o = n - COPY_W;
        dst.add(o)
            .cast::<[u8; COPY_W]>()
            .write_unaligned(src.add(o).cast::<[u8; COPY_W]>().read_unaligned());
    }
}

/// Copies a packet template with whole 32-byte moves (the last one overlapping the one before),
/// which the compiler inlines, instead of a libc call per packet.
#[inline(always)]
fn copy_packet(dst: &mut [u8], src: &[u8]) {
    const W: usize = 32;
    let n = src.len().min(dst.len());
    if n < W {
        dst[..n].copy_from_slice(&src[..n]);
        return;
    }
    let mut o = 0;
    while o + W < n {
        if let (Some(d), Some(s)) = (dst[o..].first_chunk_mut::<W>(), src[o..].first_chunk::<W>()) {
            *d = *s;
        }
        o += W;
    }
    if let (Some(d), Some(s)) = (
        dst[n - W..].first_chunk_mut::<W>(),
        src[n - W..].first_chunk::<W>(),
    ) {
        *d = *s;
    }
}

#[cfg(test)]
mod copy_tests {
    #[test]
    fn copy_packet_copies_every_length() {
        let src: Vec<u8> = (0..=255u8).collect();
        for n in 0..200 {
            let mut dst = vec![0xeeu8; n];
            super::copy_packet(&mut dst, &src[..n]);
            assert_eq!(dst, src[..n], "length {n}");
        }
    }
}
