//! The four outer encapsulations decap reads: L2TPv3 over IPv6 or IPv4 (protocol 115), and
//! over UDP on either (RFC 3931 §4.1.2.1). One trait, [`Outer`], says how each is read; the
//! decap nodes are generic over it, so each node runs one monomorphic loop for its outer
//! header (as VPP's vxlan4-input / vxlan6-input) and no packet pays a dispatch on its family.
//!
//! A "plain" packet is the common one: no IPv4 options, no IPv6 extension header, not a
//! fragment, and over UDP a data message of version 3. Its headers are read through one
//! fixed-size `pwire-wire` view (`O::Head`) after one length check; anything else takes the
//! general path ([`Outer::locate`]).

use crate::session::{DecapLine, OuterKind};
use pwire_wire::ipv4::{Ip4Hdr, FLAG_MF, FRAG_OFFSET_MASK};
use pwire_wire::ipv6::PROTO_UDP;
use pwire_wire::l2tpv3::cookie_mask;
use pwire_wire::l2tpv3::{
    Ip4L2tpHead, Ip4UdpL2tpHead, Ip6L2tpHead, Ip6UdpL2tpHead, L2tpHead, UdpL2tpHdr,
    UDP_DATA_FLAGS_VER, UDP_T_BIT, UDP_VER_MASK,
};
use pwire_wire::udp::UdpHdr;
use pwire_wire::Ip6Hdr;
use std::net::IpAddr;
use zerocopy::{Immutable, IntoBytes};

/// Why the general path did not find an L2TPv3 data header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Miss {
    /// Headers cut short.
    Short,
    /// An IPv6 extension header that could not be walked.
    ExtHdr,
    /// Not L2TPv3 (another protocol after the extension headers, or an IPv4 fragment).
    NotL2tp,
    /// A control message: session id 0 over IP, the T bit over UDP; where it is.
    Control(CtlAt),
    /// Over UDP: L2TPv2 (shares port 1701).
    V2,
    /// Over UDP: another version, or reserved bits set.
    BadUdpHeader,
}

/// Where a control message is in a packet, and who sent it to whom.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CtlAt {
    /// The message: from its first byte (the T bit) to the end of the datagram.
    pub off: usize,
    pub end: usize,
    pub src: IpAddr,
    pub dst: IpAddr,
    /// Over UDP: (source, destination) port.
    pub ports: Option<(u16, u16)>,
}

/// Where a packet's L2TPv3 header is, found by the general path.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Located {
    /// End of the outer datagram (the IP packet; over UDP, the UDP length).
    pub total: usize,
    /// Offset of the session id.
    pub off: usize,
    /// Source and destination as [`DecapLine::addrs`] holds them.
    pub addrs: [u8; 32],
    /// Over UDP, source and destination port (as [`DecapLine::ports`]).
    pub ports: u32,
    pub src: IpAddr,
    pub dst: IpAddr,
}

/// One outer encapsulation.
pub(crate) trait Outer: Send + 'static {
    /// The plain packet's headers up to and including [`L2tpHead`].
    type Head: IntoBytes + Immutable + 'static;
    /// Node names: reached from ip-local (or udp-lookup), and the ip-unicast feature (IP only).
    const LOCAL: &'static str;
    const FEATURE: Option<&'static str>;
    /// The FIB lookup node a feature hands packets that are not ours to.
    const LOOKUP: &'static str;
    const V4: bool;
    const KIND: OuterKind;
    /// The feature's next arcs.
    const FEATURE_NEXTS: &'static [&'static str] = &["error-drop", "l2-input", Self::LOOKUP];
    /// Offset of the session id in a plain packet.
    const AT: usize;
    fn parse(d: &[u8]) -> Option<&Self::Head>;
    fn l2tp(h: &Self::Head) -> &L2tpHead;
    /// A plain packet (see the module doc).
    fn plain(h: &Self::Head) -> bool;
    /// End of the outer datagram.
    fn total(h: &Self::Head) -> usize;
    /// Source and destination (and ports) are the session's.
    fn addr_ok(h: &Self::Head, dl: &DecapLine) -> bool;
    /// Lookup keys (IPv4 mapped): source, destination.
    fn src_key(h: &Self::Head) -> [u8; 16];
    fn dst_key(h: &Self::Head) -> [u8; 16];
    /// The general path.
    fn locate(d: &[u8]) -> Result<Located, Miss>;
    /// For the cached session's run loop: what a plain packet of session `dl` carries in the
    /// first 32 bytes of its head, where those bytes hold every check of
    /// [`crate::decap`]'s `deliverable` but the lengths, with its current cookie. The loop then
    /// checks a packet with two vector compares and leaves any other packet (the previous
    /// cookie after a rollover included) to the general path.
    ///
    /// IPv4 only: its head (IPv4 header, session id, cookie word) is exactly 32 bytes, and its
    /// checks are fields spread over them (version and header length, fragment bits, protocol,
    /// addresses, session id, cookie). The IPv6 head is 52 bytes, whose addresses are already
    /// compared as vectors; over UDP the ports and the UDP header are past 32 bytes.
    #[inline(always)]
    fn pattern(_dl: &DecapLine) -> Option<Pattern> {
        None
    }
}

/// A masked compare of 32 bytes, `b & mask == want`: with SSE2, two loads, two ANDs, two
/// byte compares and a mask test, where the same checks field by field took about twice the
/// instructions and held the loop's registers (`l2tp4-decap`, 2026-12-07: 9.3 to 7.7 clocks a
/// packet, paired runs, with the loop's exit to the general path on a miss).
#[derive(Clone, Copy)]
#[repr(C, align(16))]
pub(crate) struct Pattern {
    mask: [[u8; 16]; 2],
    want: [[u8; 16]; 2],
}

impl Pattern {
    /// `b & mask == want` for the first 32 bytes of `head` (false for a shorter one: an
    /// IPv4 head is exactly 32 bytes, so after inlining the length is no test at all).
    #[inline(always)]
    pub(crate) fn matches(&self, head: &[u8]) -> bool {
        let Some(b) = head.first_chunk::<32>() else {
            return false;
        };
        #[cfg(target_arch = "x86_64")]
        {
            use core::arch::x86_64::{__m128i, _mm_and_si128, _mm_cmpeq_epi8, _mm_movemask_epi8};
            let h: &[[u8; 16]; 2] = zerocopy::transmute_ref!(b);
            let [b0, b1]: [__m128i; 2] = zerocopy::transmute!(*h);
            let [m0, m1]: [__m128i; 2] = zerocopy::transmute!(self.mask);
            let [w0, w1]: [__m128i; 2] = zerocopy::transmute!(self.want);
            // SAFETY: these intrinsics only need SSE2, which every x86_64 processor has (it is
            // in the target's baseline); they take values, not pointers.
            unsafe {
                let e0 = _mm_cmpeq_epi8(_mm_and_si128(b0, m0), w0);
                let e1 = _mm_cmpeq_epi8(_mm_and_si128(b1, m1), w1);
                _mm_movemask_epi8(_mm_and_si128(e0, e1)) == 0xffff
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let m: &[u8; 32] = zerocopy::transmute_ref!(&self.mask);
            let w: &[u8; 32] = zerocopy::transmute_ref!(&self.want);
            b.iter().zip(m).zip(w).all(|((x, m), w)| x & m == *w)
        }
    }
}

#[inline(always)]
fn mapped(a: [u8; 4]) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[10] = 0xff;
    k[11] = 0xff;
    k[12..].copy_from_slice(&a);
    k
}

#[inline(always)]
fn v4_pair_ok(ip: &Ip4Hdr, dl: &DecapLine) -> bool {
    // Source and destination are contiguous in the header: one 8-byte compare.
    ip.as_bytes()[12..20] == dl.addrs[..8]
}

#[inline(always)]
fn v6_pair_ok(ip: &Ip6Hdr, dl: &DecapLine) -> bool {
    // Source and destination are contiguous in the header: one 32-byte compare (two vector
    // compares) instead of four word compares.
    ip.as_bytes()[8..40] == dl.addrs
}

#[inline(always)]
fn ports_of(u: &UdpHdr) -> u32 {
    (u32::from(u.src_port.get()) << 16) | u32::from(u.dst_port.get())
}

#[inline(always)]
fn v4_plain(ip: &Ip4Hdr, proto: u8) -> bool {
    ip.version_ihl == 0x45
        && ip.protocol == proto
        && ip.flags_frag.get() & (FLAG_MF | FRAG_OFFSET_MASK) == 0
}

/// The IPv6 header's addresses and the offset and end of its upper-layer `want` payload.
fn locate6(d: &[u8], want: u8) -> Result<(usize, usize, [u8; 32], IpAddr, IpAddr), Miss> {
    let (ip, rest) = Ip6Hdr::parse(d).map_err(|_| Miss::Short)?;
    let total = Ip6Hdr::LEN + usize::from(ip.payload_len.get());
    let payload = rest.get(..total - Ip6Hdr::LEN).ok_or(Miss::Short)?;
    let off = if ip.next_header == want {
        Ip6Hdr::LEN
    } else {
        match pwire_wire::ipv6::upper_layer(ip.next_header, payload) {
            Ok((p, o)) if p == want => Ip6Hdr::LEN + o,
            Ok(_) => return Err(Miss::NotL2tp),
            Err(_) => return Err(Miss::ExtHdr),
        }
    };
    let mut addrs = [0u8; 32];
    addrs[..16].copy_from_slice(&ip.src);
    addrs[16..].copy_from_slice(&ip.dst);
    Ok((
        off,
        total,
        addrs,
        IpAddr::from(ip.src),
        IpAddr::from(ip.dst),
    ))
}

/// The same for IPv4: options are skipped; a fragment is not ours (ip4-local drops fragments
/// before decap; on the feature path it goes on to the FIB).
fn locate4(d: &[u8], want: u8) -> Result<(usize, usize, [u8; 32], IpAddr, IpAddr), Miss> {
    let (ip, _) = Ip4Hdr::parse(d).map_err(|_| Miss::Short)?;
    let hl = ip.header_len();
    let total = usize::from(ip.total_len.get());
    if hl < Ip4Hdr::LEN || total < hl || total > d.len() {
        return Err(Miss::Short);
    }
    if ip.protocol != want || ip.flags_frag.get() & (FLAG_MF | FRAG_OFFSET_MASK) != 0 {
        return Err(Miss::NotL2tp);
    }
    let mut addrs = [0u8; 32];
    addrs[..4].copy_from_slice(&ip.src);
    addrs[4..8].copy_from_slice(&ip.dst);
    Ok((hl, total, addrs, IpAddr::from(ip.src), IpAddr::from(ip.dst)))
}

/// After the IP header: the UDP header and L2TP's 4-byte header over UDP.
fn locate_udp(
    d: &[u8],
    off: usize,
    ip_total: usize,
    src: IpAddr,
    dst: IpAddr,
) -> Result<(usize, usize, u32), Miss> {
    let seg = d.get(off..ip_total).ok_or(Miss::Short)?;
    let (u, rest) = UdpHdr::parse(seg).map_err(|_| Miss::Short)?;
    let ulen = usize::from(u.len.get());
    if ulen < UdpHdr::LEN || ulen > seg.len() {
        return Err(Miss::Short);
    }
    let (h, _) = UdpL2tpHdr::parse(rest).map_err(|_| Miss::Short)?;
    let fv = h.flags_ver.get();
    // The version first: L2TPv2 shares port 1701, its control messages (T set) included.
    match fv & UDP_VER_MASK {
        2 => return Err(Miss::V2),
        3 if fv & UDP_T_BIT != 0 => {
            return Err(Miss::Control(CtlAt {
                off: off + UdpHdr::LEN,
                end: off + ulen,
                src,
                dst,
                ports: Some((u.src_port.get(), u.dst_port.get())),
            }))
        }
        3 if fv == UDP_DATA_FLAGS_VER && h.reserved.get() == 0 => {}
        _ => return Err(Miss::BadUdpHeader),
    }
    Ok((off + UdpHdr::LEN + UdpL2tpHdr::LEN, off + ulen, ports_of(u)))
}

/// L2TPv3 over IPv6 (VPP's only one).
#[derive(Debug)]
pub(crate) struct Ip6;
/// L2TPv3 over IPv4.
#[derive(Debug)]
pub(crate) struct Ip4;
/// L2TPv3 over UDP over IPv6.
#[derive(Debug)]
pub(crate) struct Udp6;
/// L2TPv3 over UDP over IPv4.
#[derive(Debug)]
pub(crate) struct Udp4;

impl Outer for Ip6 {
    type Head = Ip6L2tpHead;
    const LOCAL: &'static str = "l2tp-decap-local";
    const FEATURE: Option<&'static str> = Some("l2tp-decap");
    const LOOKUP: &'static str = "ip6-lookup";
    const V4: bool = false;
    const KIND: OuterKind = OuterKind::Ip6;
    const AT: usize = Ip6Hdr::LEN;
    #[inline(always)]
    fn parse(d: &[u8]) -> Option<&Self::Head> {
        Ip6L2tpHead::parse(d).ok().map(|(h, _)| h)
    }
    #[inline(always)]
    fn l2tp(h: &Self::Head) -> &L2tpHead {
        &h.l2tp
    }
    #[inline(always)]
    fn plain(h: &Self::Head) -> bool {
        h.ip6.next_header == crate::PROTO_L2TP
    }
    #[inline(always)]
    fn total(h: &Self::Head) -> usize {
        Ip6Hdr::LEN + usize::from(h.ip6.payload_len.get())
    }
    #[inline(always)]
    fn addr_ok(h: &Self::Head, dl: &DecapLine) -> bool {
        v6_pair_ok(&h.ip6, dl)
    }
    #[inline(always)]
    fn src_key(h: &Self::Head) -> [u8; 16] {
        h.ip6.src
    }
    #[inline(always)]
    fn dst_key(h: &Self::Head) -> [u8; 16] {
        h.ip6.dst
    }
    fn locate(d: &[u8]) -> Result<Located, Miss> {
        let (off, total, addrs, src, dst) = locate6(d, crate::PROTO_L2TP)?;
        Ok(Located {
            total,
            off,
            addrs,
            ports: 0,
            src,
            dst,
        })
    }
}

impl Outer for Ip4 {
    type Head = Ip4L2tpHead;
    const LOCAL: &'static str = "l2tp4-decap-local";
    const FEATURE: Option<&'static str> = Some("l2tp4-decap");
    const LOOKUP: &'static str = "ip4-lookup";
    const V4: bool = true;
    const KIND: OuterKind = OuterKind::Ip4;
    const AT: usize = Ip4Hdr::LEN;
    #[inline(always)]
    fn parse(d: &[u8]) -> Option<&Self::Head> {
        Ip4L2tpHead::parse(d).ok().map(|(h, _)| h)
    }
    #[inline(always)]
    fn l2tp(h: &Self::Head) -> &L2tpHead {
        &h.l2tp
    }
    #[inline(always)]
    fn plain(h: &Self::Head) -> bool {
        v4_plain(&h.ip4, crate::PROTO_L2TP)
    }
    #[inline(always)]
    fn total(h: &Self::Head) -> usize {
        usize::from(h.ip4.total_len.get())
    }
    #[inline(always)]
    fn addr_ok(h: &Self::Head, dl: &DecapLine) -> bool {
        v4_pair_ok(&h.ip4, dl)
    }
    #[inline(always)]
    fn src_key(h: &Self::Head) -> [u8; 16] {
        mapped(h.ip4.src)
    }
    #[inline(always)]
    fn dst_key(h: &Self::Head) -> [u8; 16] {
        mapped(h.ip4.dst)
    }
    #[inline(always)]
    fn pattern(dl: &DecapLine) -> Option<Pattern> {
        use core::mem::offset_of;
        let mut mask = [0u8; 32];
        let mut want = [0u8; 32];
        let mut put = |at: usize, m: &[u8], w: &[u8]| {
            mask[at..at + m.len()].copy_from_slice(m);
            want[at..at + w.len()].copy_from_slice(w);
        };
        // Source and destination are next to each other, as `DecapLine::addrs` holds them.
        const _: () = assert!(offset_of!(Ip4Hdr, dst) == offset_of!(Ip4Hdr, src) + 4);
        let ip = offset_of!(Ip4L2tpHead, ip4);
        let l2 = offset_of!(Ip4L2tpHead, l2tp);
        // A session of another encapsulation: version 0, which no plain packet has.
        let vi = if dl.is(OuterKind::Ip4) { 0x45 } else { 0 };
        put(ip + offset_of!(Ip4Hdr, version_ihl), &[0xff], &[vi]);
        let frag = (FLAG_MF | FRAG_OFFSET_MASK).to_be_bytes();
        put(ip + offset_of!(Ip4Hdr, flags_frag), &frag, &[0, 0]);
        put(
            ip + offset_of!(Ip4Hdr, protocol),
            &[0xff],
            &[crate::PROTO_L2TP],
        );
        put(ip + offset_of!(Ip4Hdr, src), &[0xff; 8], &dl.addrs[..8]);
        put(
            l2 + offset_of!(L2tpHead, session_id),
            &[0xff; 4],
            &dl.local_sid.to_be_bytes(),
        );
        let cm = cookie_mask(dl.layout.cookie_len());
        put(
            l2 + offset_of!(L2tpHead, cookie_word),
            &cm.to_be_bytes(),
            &(dl.cookie[0] & cm).to_be_bytes(),
        );
        Some(Pattern {
            mask: zerocopy::transmute!(mask),
            want: zerocopy::transmute!(want),
        })
    }
    fn locate(d: &[u8]) -> Result<Located, Miss> {
        let (off, total, addrs, src, dst) = locate4(d, crate::PROTO_L2TP)?;
        Ok(Located {
            total,
            off,
            addrs,
            ports: 0,
            src,
            dst,
        })
    }
}

impl Outer for Udp6 {
    type Head = Ip6UdpL2tpHead;
    const LOCAL: &'static str = "l2tp6-udp-decap";
    const FEATURE: Option<&'static str> = None;
    const LOOKUP: &'static str = "ip6-lookup";
    const V4: bool = false;
    const KIND: OuterKind = OuterKind::Udp6;
    const AT: usize = Ip6Hdr::LEN + UdpHdr::LEN + UdpL2tpHdr::LEN;
    #[inline(always)]
    fn parse(d: &[u8]) -> Option<&Self::Head> {
        Ip6UdpL2tpHead::parse(d).ok().map(|(h, _)| h)
    }
    #[inline(always)]
    fn l2tp(h: &Self::Head) -> &L2tpHead {
        &h.l2tp
    }
    #[inline(always)]
    fn plain(h: &Self::Head) -> bool {
        h.ip6.next_header == PROTO_UDP
            && h.hdr.flags_ver.get() == UDP_DATA_FLAGS_VER
            && h.hdr.reserved.get() == 0
            && usize::from(h.udp.len.get()) <= usize::from(h.ip6.payload_len.get())
    }
    #[inline(always)]
    fn total(h: &Self::Head) -> usize {
        Ip6Hdr::LEN + usize::from(h.udp.len.get())
    }
    #[inline(always)]
    fn addr_ok(h: &Self::Head, dl: &DecapLine) -> bool {
        v6_pair_ok(&h.ip6, dl) && ports_of(&h.udp) == dl.ports
    }
    #[inline(always)]
    fn src_key(h: &Self::Head) -> [u8; 16] {
        h.ip6.src
    }
    #[inline(always)]
    fn dst_key(h: &Self::Head) -> [u8; 16] {
        h.ip6.dst
    }
    fn locate(d: &[u8]) -> Result<Located, Miss> {
        let (off, total, addrs, src, dst) = locate6(d, PROTO_UDP)?;
        let (off, total, ports) = locate_udp(d, off, total, src, dst)?;
        Ok(Located {
            total,
            off,
            addrs,
            ports,
            src,
            dst,
        })
    }
}

impl Outer for Udp4 {
    type Head = Ip4UdpL2tpHead;
    const LOCAL: &'static str = "l2tp4-udp-decap";
    const FEATURE: Option<&'static str> = None;
    const LOOKUP: &'static str = "ip4-lookup";
    const V4: bool = true;
    const KIND: OuterKind = OuterKind::Udp4;
    const AT: usize = Ip4Hdr::LEN + UdpHdr::LEN + UdpL2tpHdr::LEN;
    #[inline(always)]
    fn parse(d: &[u8]) -> Option<&Self::Head> {
        Ip4UdpL2tpHead::parse(d).ok().map(|(h, _)| h)
    }
    #[inline(always)]
    fn l2tp(h: &Self::Head) -> &L2tpHead {
        &h.l2tp
    }
    #[inline(always)]
    fn plain(h: &Self::Head) -> bool {
        v4_plain(&h.ip4, PROTO_UDP)
            && h.hdr.flags_ver.get() == UDP_DATA_FLAGS_VER
            && h.hdr.reserved.get() == 0
            && usize::from(h.udp.len.get()) + Ip4Hdr::LEN <= usize::from(h.ip4.total_len.get())
    }
    #[inline(always)]
    fn total(h: &Self::Head) -> usize {
        Ip4Hdr::LEN + usize::from(h.udp.len.get())
    }
    #[inline(always)]
    fn addr_ok(h: &Self::Head, dl: &DecapLine) -> bool {
        v4_pair_ok(&h.ip4, dl) && ports_of(&h.udp) == dl.ports
    }
    #[inline(always)]
    fn src_key(h: &Self::Head) -> [u8; 16] {
        mapped(h.ip4.src)
    }
    #[inline(always)]
    fn dst_key(h: &Self::Head) -> [u8; 16] {
        mapped(h.ip4.dst)
    }
    fn locate(d: &[u8]) -> Result<Located, Miss> {
        let (off, total, addrs, src, dst) = locate4(d, PROTO_UDP)?;
        let (off, total, ports) = locate_udp(d, off, total, src, dst)?;
        Ok(Located {
            total,
            off,
            addrs,
            ports,
            src,
            dst,
        })
    }
}
