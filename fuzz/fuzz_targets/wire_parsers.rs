//! Every pwire-wire parser (Ethernet, ARP, IPv4 and ip4-input's checks, ICMPv4, IPv6, ICMPv6/ND,
//! L2TPv3, UDP, TCP) over arbitrary bytes: no panic, no read past the input, and what a
//! parser accepts re-emits to the same bytes where the format has a canonical form.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pwire_wire::icmpv6::{nd_options, NdRepr};
use pwire_wire::l2tpv3::{self, L2tpLayout};
use pwire_wire::{
    ArpRepr, EthHdr, Icmp4Hdr, Icmp6Hdr, Ip4Hdr, Ip6Hdr, Ipv6Repr, TcpHdr, UdpHdr,
};

fuzz_target!(|data: &[u8]| {
    let Some((&sel, bytes)) = data.split_first() else {
        return;
    };
    // Ethernet and VLAN tags.
    if let Some(n) = pwire_wire::ethernet::l2_header_len(bytes) {
        assert!(n <= bytes.len());
    }
    let _ = pwire_wire::ethernet::inner_ethertype(bytes);
    if let Ok((e, rest)) = EthHdr::parse(bytes) {
        assert_eq!(rest.len() + EthHdr::LEN, bytes.len());
        let _ = e.ethertype();
    }
    // IPv6: fixed header, repr round trip, extension header walk.
    if let Ok((h, payload)) = Ip6Hdr::parse(bytes) {
        if let Ok(r) = Ipv6Repr::parse(h) {
            let mut out = *h;
            r.emit(&mut out);
            assert_eq!(Ipv6Repr::parse(&out).ok(), Some(r));
        }
        if let Ok((_, off)) = pwire_wire::ipv6::upper_layer(h.next_header, payload) {
            assert!(off <= payload.len());
        }
    }
    let _ = pwire_wire::ipv6::upper_layer(sel, bytes);
    // L2TPv3 in every layout the selector byte picks.
    let cookie = [0u8, 4, 8][(sel % 3) as usize];
    if let Some(layout) = L2tpLayout::new(cookie, sel & 4 != 0) {
        if let Ok(v) = l2tpv3::parse(layout, bytes) {
            assert_eq!(v.cookie().len(), cookie as usize);
            assert!(v.inner_offset() <= bytes.len());
            assert_eq!(v.payload().len(), bytes.len() - v.inner_offset());
            let _ = v.sublayer().map(|s| s.seq());
        } else {
            assert!(bytes.len() < layout.hdr_len());
        }
    }
    // ICMPv6 and ND.
    let _ = Icmp6Hdr::parse(bytes);
    let _ = NdRepr::parse(bytes);
    for o in nd_options(bytes).take(bytes.len() / 8 + 1) {
        if let Ok(o) = o {
            let _ = o.lladdr();
        }
    }
    // IPv4, UDP, TCP and the L4 checksum over a whole frame.
    if let Ok((h, _)) = Ip4Hdr::parse(bytes) {
        let _ = (h.header_len(), h.frag_offset(), h.checksum_ok());
        let mut d = *h;
        if d.checksum_ok() && d.ttl > 0 {
            d.decrement_ttl();
            assert!(d.checksum_ok());
        }
    }
    // ip4-input's checks: what passes lies within the bytes and has a valid checksum.
    if let Ok(c) = pwire_wire::ipv4::check(bytes) {
        assert!(20 <= c.header_len && c.header_len <= c.total_len && c.total_len <= bytes.len());
        assert_eq!(
            pwire_wire::checksum::internet_checksum(&bytes[..c.header_len]),
            0
        );
    }
    // ARP: what decodes re-emits to the same 28 bytes.
    if let Ok(r) = ArpRepr::parse(bytes) {
        let mut out = [0u8; 28];
        assert_eq!(r.emit(&mut out), Ok(28));
        assert_eq!(&out[..], &bytes[..28]);
        let _ = (r.is_gratuitous(), r.is_probe());
    }
    // ICMPv4: a filled checksum verifies.
    if Icmp4Hdr::parse(bytes).is_ok() {
        let mut m = bytes.to_vec();
        assert!(pwire_wire::icmpv4::fill_checksum(&mut m).is_ok());
        assert!(pwire_wire::icmpv4::checksum_ok(&m));
    }
    let _ = UdpHdr::parse(bytes);
    // The fixed heads decap reads L2TPv3 over IPv4 and over UDP through: one length check each.
    for (n, ok) in [
        (l2tpv3::Ip4L2tpHead::LEN, l2tpv3::Ip4L2tpHead::parse(bytes).is_ok()),
        (l2tpv3::Ip6UdpL2tpHead::LEN, l2tpv3::Ip6UdpL2tpHead::parse(bytes).is_ok()),
        (l2tpv3::Ip4UdpL2tpHead::LEN, l2tpv3::Ip4UdpL2tpHead::parse(bytes).is_ok()),
        (l2tpv3::UdpL2tpHdr::LEN, l2tpv3::UdpL2tpHdr::parse(bytes).is_ok()),
    ] {
        assert_eq!(ok, bytes.len() >= n);
    }
    // The Internet checksum in two pieces (an even first one) equals it in one.
    let cut = (usize::from(sel) * 2).min(bytes.len() & !1);
    let (a, b) = bytes.split_at(cut);
    assert_eq!(
        pwire_wire::checksum::Sum::ZERO.add_bytes(a).add_bytes(b).checksum(),
        pwire_wire::checksum::internet_checksum(bytes)
    );
    let _ = TcpHdr::parse(bytes);
    let _ = pwire_wire::checksum::verify_l4_checksum(bytes);
    let mut copy = bytes.to_vec();
    if pwire_wire::checksum::recompute_l4_checksum(&mut copy).is_ok() {
        assert_eq!(pwire_wire::checksum::verify_l4_checksum(&copy), Ok(true));
    }
});
