//! `ip4-frag`: fragments a packet that does not fit the egress MTU (RFC 791): a forwarded
//! packet without DF (as VPP's ip4-frag), or a locally originated one marked `FRAGMENT_OK` (an
//! L2TPv3 tunnel with fragmentation on; its fragments have DF clear, whatever the tunnel sets
//! on packets that fit). Reached from `ip4-rewrite` with the MTU in `opaque.user[1]`; the
//! fragments go back to `ip4-rewrite`, which now finds them fitting (and decrements a
//! forwarded fragment's TTL there, once).
//!
//! The first fragment stays in the packet's own buffer (cut); each further one is a new buffer
//! holding a copy of the header and its piece of `(mtu - 20) & !7` bytes. A packet that is
//! already a fragment is cut further (offsets and the last piece's MF carried over). A
//! locally originated atomic datagram (identification 0, RFC 6864) gets a per-thread
//! identification (stepping by the thread count) once it is fragmented. Packets with IPv4
//! options are not fragmented ("fragmentation: packet unfit": which options to copy into the
//! later fragments is not worth carrying for packets pwire never sends).
//!
//! Arcs: `error-drop`, `ip4-rewrite`. Counters: "packets fragmented", "fragments sent",
//! "fragmentation: no buffers", "fragmentation: packet unfit".

use crate::Ip4Main;
use pwire_buffer::{flags, BufferIndex};
use pwire_graph::{counters, next_nodes, Cx, Frame, Node, NodeKind, NodeReg};
use pwire_vnet::Registry;
use pwire_wire::ipv4::{FLAG_MF, FRAG_OFFSET_MASK};
use pwire_wire::Ip4Hdr;
use std::fmt;
use std::sync::Arc;

next_nodes! { pub enum Next { Drop => "error-drop", Rewrite => "ip4-rewrite" } }

counters! { pub enum C {
    Fragmented: info = "packets fragmented",
    Sent: info = "fragments sent",
    NoBuffers: error = "fragmentation: no buffers",
    Unfit: error = "fragmentation: packet unfit",
} }

/// At most this many fragments per packet (a 9000-byte packet over a 576 MTU needs 16).
pub const MAX_FRAGS: usize = 16;

#[derive(Clone, Copy)]
struct FragTrace {
    ident: u16,
    frags: u8,
    mtu: u32,
}

impl fmt::Display for FragTrace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ip4 fragmentation: id 0x{:04x} into {} fragments, mtu {}",
            self.ident, self.frags, self.mtu
        )
    }
}

/// The node.
#[derive(Debug)]
pub struct Ip4Frag {
    ident: u16,
    step: u16,
}

pub(crate) fn register(r: &mut Registry, m: &Arc<Ip4Main>) {
    let n = m.vnet.n_threads.max(1) as u16;
    r.graph.node(NodeReg::new(
        "ip4-frag",
        NodeKind::Internal,
        Next::NAMES,
        C::DECLS,
        move |b| {
            Box::new(Ip4Frag {
                ident: 0x8000 | b.thread as u16,
                step: n,
            })
        },
    ));
}

/// Writes the header fields of a fragment: length, fragment field, identification, checksum.
fn set_frag(h: &mut Ip4Hdr, len: usize, ff: u16, ident: u16) {
    h.total_len.set((Ip4Hdr::LEN + len) as u16);
    h.flags_frag.set(ff);
    h.ident.set(ident);
    h.fill_checksum();
}

impl Node for Ip4Frag {
    fn process(&mut self, frame: &mut Frame<'_>, cx: &mut Cx<'_>) {
        let (mut fragmented, mut sent) = (0u64, 0u64);
        for (b, nx) in frame.iter_mut() {
            let mtu = b.opaque.user[1];
            let d = b.current();
            let Ok((ip, _)) = Ip4Hdr::parse(d) else {
                b.error = cx.error(C::Unfit);
                *nx = Next::Drop as u16;
                continue;
            };
            let total = usize::from(ip.total_len.get()).min(d.len());
            let payload = total.saturating_sub(Ip4Hdr::LEN);
            let per = (mtu.saturating_sub(Ip4Hdr::LEN as u32) as usize) & !7;
            let n = payload.div_ceil(per.max(1));
            if ip.header_len() != Ip4Hdr::LEN || per == 0 || !(2..=MAX_FRAGS).contains(&n) {
                b.error = cx.error(C::Unfit);
                *nx = Next::Drop as u16;
                continue;
            }
            let mut more = [0 as BufferIndex; MAX_FRAGS];
            let extra = &mut more[..n - 1];
            let got = cx.alloc(extra);
            if got < extra.len() {
                // SAFETY: the `got` just allocated, in no frame, not used again.
                unsafe { cx.free(&extra[..got]) };
                b.error = cx.error(C::NoBuffers);
                *nx = Next::Drop as u16;
                continue;
            }
            // Ours: a tunnel's packet (FRAGMENT_OK), whatever its hop-limit setting.
            let local = b.flags & (flags::LOCALLY_ORIGINATED | flags::FRAGMENT_OK) != 0;
            let ff = ip.flags_frag.get();
            // Already a fragment: the pieces' offsets start at its own; the last keeps its MF.
            let base = usize::from(ff & FRAG_OFFSET_MASK) * 8;
            let last_mf = ff & FLAG_MF;
            let mut ident = ip.ident.get();
            if local && ident == 0 {
                ident = self.ident;
                self.ident = self.ident.wrapping_add(self.step) | 0x8000;
            }
            let mut hdr = *ip;
            for (k, &nbi) in extra.iter().enumerate() {
                let off = (k + 1) * per;
                let len = per.min(payload - off);
                let mf = if off + len < payload {
                    FLAG_MF
                } else {
                    last_mf
                };
                let ff = mf | (((base + off) / 8) as u16 & FRAG_OFFSET_MASK);
                set_frag(&mut hdr, len, ff, ident);
                // SAFETY: `nbi` was just allocated by this node: no frame, cache or ring holds it.
                let nb = unsafe { cx.buf_mut(nbi) };
                nb.reset();
                nb.set_len(Ip4Hdr::LEN + len);
                let out = nb.current_mut();
                if let Ok((h, rest)) = Ip4Hdr::parse_mut(out) {
                    *h = hdr;
                    rest.copy_from_slice(&d[Ip4Hdr::LEN + off..Ip4Hdr::LEN + off + len]);
                }
                nb.sw_if_index = b.sw_if_index;
                nb.flags = b.flags & flags::LOCALLY_ORIGINATED;
                nb.opaque.adj_index = b.opaque.adj_index;
                nb.opaque.fib_index = b.opaque.fib_index;
            }
            let ff0 = FLAG_MF | ((base / 8) as u16 & FRAG_OFFSET_MASK);
            set_frag(&mut hdr, per, ff0, ident);
            b.truncate(Ip4Hdr::LEN + per);
            if let Ok((h, _)) = Ip4Hdr::parse_mut(b.current_mut()) {
                *h = hdr;
            }
            b.flags &= !(flags::FRAGMENT_OK | flags::PATH_MTU);
            *nx = Next::Rewrite as u16;
            if b.is_traced() {
                cx.trace(
                    b,
                    FragTrace {
                        ident,
                        frags: n as u8,
                        mtu,
                    },
                );
            }
            // SAFETY: each allocated above, filled, in no frame, enqueued once and not used again.
            unsafe { cx.enqueue_slice(Next::Rewrite, extra) };
            fragmented += 1;
            sent += n as u64;
        }
        cx.count(C::Fragmented, fragmented);
        cx.count(C::Sent, sent);
    }
}
