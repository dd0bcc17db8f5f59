//! `ip6-frag`: fragments a locally originated packet that does not fit the egress MTU, as its
//! source node (RFC 8200 §4.5). Reached from `ip6-rewrite` for a packet that carries
//! `FRAGMENT_OK` (an L2TPv3 tunnel with fragmentation on marks its packets so) with the MTU in
//! `opaque.user[1]`; the fragments go back to `ip6-rewrite`, which now finds them fitting.
//!
//! The packet must be the IPv6 header and its payload (pwire's own packets carry no extension
//! header): the header is the unfragmentable part, everything after it is fragmented into
//! pieces of `(mtu - 48) & !7` bytes. The first fragment stays in the packet's own buffer (its
//! header moved 8 bytes forward for the Fragment header, the rest cut); each further one is a
//! new buffer holding a copy of the header, a Fragment header and its piece. The
//! identification is per thread (stepping by the thread count, so two threads never hand out
//! the same one), which is what RFC 8200 asks of a source: unique among the datagrams from it
//! to that destination still in flight.
//!
//! Arcs: `error-drop`, `ip6-rewrite`. Counters: "packets fragmented", "fragments sent",
//! "fragmentation: no buffers", "fragmentation: packet unfit" (an MTU below 1280, or more than
//! [`MAX_FRAGS`] fragments).

use crate::Ip6Main;
use pwire_buffer::{flags, BufferIndex};
use pwire_graph::{counters, next_nodes, Cx, Frame, Node, NodeKind, NodeReg};
use pwire_vnet::Registry;
use pwire_wire::ipv6::{FragHdr, PROTO_FRAGMENT};
use pwire_wire::Ip6Hdr;
use std::fmt;
use std::sync::Arc;

next_nodes! { pub enum Next { Drop => "error-drop", Rewrite => "ip6-rewrite" } }

counters! { pub enum C {
    Fragmented: info = "packets fragmented",
    Sent: info = "fragments sent",
    NoBuffers: error = "fragmentation: no buffers",
    Unfit: error = "fragmentation: packet unfit",
} }

/// At most this many fragments per packet (a 9000-byte packet over a 1280 MTU needs 8).
pub const MAX_FRAGS: usize = 8;

/// IPv6's minimum link MTU (RFC 8200 §5): no fragment is cut smaller.
const MIN_MTU: u32 = 1280;

#[derive(Clone, Copy)]
struct FragTrace {
    ident: u32,
    frags: u8,
    mtu: u32,
}

impl fmt::Display for FragTrace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ip6 fragmentation: id 0x{:08x} into {} fragments, mtu {}",
            self.ident, self.frags, self.mtu
        )
    }
}

/// The node.
#[derive(Debug)]
pub struct Ip6Frag {
    ident: u32,
    step: u32,
}

pub(crate) fn register(r: &mut Registry, m: &Arc<Ip6Main>) {
    let n = m.vnet.n_threads.max(1) as u32;
    r.graph.node(NodeReg::new(
        "ip6-frag",
        NodeKind::Internal,
        Next::NAMES,
        C::DECLS,
        move |b| {
            Box::new(Ip6Frag {
                ident: b.thread as u32,
                step: n,
            })
        },
    ));
}

impl Node for Ip6Frag {
    fn process(&mut self, frame: &mut Frame<'_>, cx: &mut Cx<'_>) {
        let (mut fragmented, mut sent) = (0u64, 0u64);
        for (b, nx) in frame.iter_mut() {
            let mtu = b.opaque.user[1];
            let d = b.current();
            let Ok((ip, _)) = Ip6Hdr::parse(d) else {
                b.error = cx.error(C::Unfit);
                *nx = Next::Drop as u16;
                continue;
            };
            let total = (Ip6Hdr::LEN + usize::from(ip.payload_len.get())).min(d.len());
            let payload = total - Ip6Hdr::LEN;
            let per = (mtu.saturating_sub((Ip6Hdr::LEN + FragHdr::LEN) as u32) as usize) & !7;
            let n = payload.div_ceil(per.max(1));
            if mtu < MIN_MTU || per == 0 || n > MAX_FRAGS {
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
            let ident = self.ident;
            self.ident = self.ident.wrapping_add(self.step);
            let nh = ip.next_header;
            let mut hdr = [0u8; Ip6Hdr::LEN];
            hdr.copy_from_slice(&d[..Ip6Hdr::LEN]);
            // The later fragments, each a copy of the header, a Fragment header, its piece.
            for (k, &nbi) in extra.iter().enumerate() {
                let off = (k + 1) * per;
                let len = per.min(payload - off);
                // SAFETY: `nbi` was just allocated by this node: no frame, cache or ring holds it.
                let nb = unsafe { cx.buf_mut(nbi) };
                nb.reset();
                nb.set_len(Ip6Hdr::LEN + FragHdr::LEN + len);
                let out = nb.current_mut();
                out[..Ip6Hdr::LEN].copy_from_slice(&hdr);
                let fh = FragHdr::new(nh, off, off + len < payload, ident);
                if let Ok((f, _)) = FragHdr::parse_mut(&mut out[Ip6Hdr::LEN..]) {
                    *f = fh;
                }
                let src = &b.current()[Ip6Hdr::LEN + off..Ip6Hdr::LEN + off + len];
                out[Ip6Hdr::LEN + FragHdr::LEN..].copy_from_slice(src);
                if let Ok((h, _)) = Ip6Hdr::parse_mut(out) {
                    h.next_header = PROTO_FRAGMENT;
                    h.payload_len.set((FragHdr::LEN + len) as u16);
                }
                nb.sw_if_index = b.sw_if_index;
                // ip6-rewrite decremented the hop limit already: not again on the way back.
                nb.flags = flags::LOCALLY_ORIGINATED;
                nb.opaque.adj_index = b.opaque.adj_index;
                nb.opaque.fib_index = b.opaque.fib_index;
            }
            // The first fragment in place: the header 8 bytes forward, the Fragment header
            // after it, the rest cut.
            if b.prepend(FragHdr::LEN).is_none() {
                b.error = cx.error(C::NoBuffers);
                *nx = Next::Drop as u16;
                // SAFETY: allocated above, in no frame, not used again.
                unsafe { cx.free(extra) };
                continue;
            }
            let h = b.current_mut();
            h.copy_within(FragHdr::LEN..FragHdr::LEN + Ip6Hdr::LEN, 0);
            let fh = FragHdr::new(nh, 0, true, ident);
            if let Ok((f, _)) = FragHdr::parse_mut(&mut h[Ip6Hdr::LEN..]) {
                *f = fh;
            }
            b.truncate(Ip6Hdr::LEN + FragHdr::LEN + per);
            if let Ok((h, _)) = Ip6Hdr::parse_mut(b.current_mut()) {
                h.next_header = PROTO_FRAGMENT;
                h.payload_len.set((FragHdr::LEN + per) as u16);
            }
            b.flags =
                (b.flags & !(flags::FRAGMENT_OK | flags::PATH_MTU)) | flags::LOCALLY_ORIGINATED;
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
