//! Every parser of this crate over arbitrary bytes (the stable-toolchain twin of the
//! `wire_parsers` fuzz target): no panic, nothing read past the input, and what parses
//! re-emits to what parses the same.

use proptest::prelude::*;
use pwire_wire::icmpv6::{nd_options, NdRepr};
use pwire_wire::l2tpv3::{self, L2tpLayout};
use pwire_wire::{ArpRepr, EthHdr, Icmp4Hdr, Icmp6Hdr, Ip4Hdr, Ip6Hdr, Ipv6Repr, TcpHdr, UdpHdr};

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    #[test]
    fn every_parser_on_arbitrary_bytes(sel: u8, bytes in prop::collection::vec(any::<u8>(), 0..160)) {
        let bytes = &bytes[..];
        if let Some(n) = pwire_wire::ethernet::l2_header_len(bytes) {
            prop_assert!(n <= bytes.len());
        }
        let _ = pwire_wire::ethernet::inner_ethertype(bytes);
        match EthHdr::parse(bytes) {
            Ok((_, rest)) => prop_assert_eq!(rest.len() + EthHdr::LEN, bytes.len()),
            Err(t) => prop_assert!(bytes.len() < EthHdr::LEN && t.got == bytes.len()),
        }
        if let Ok((h, payload)) = Ip6Hdr::parse(bytes) {
            if let Ok(r) = Ipv6Repr::parse(h) {
                let mut out = *h;
                r.emit(&mut out);
                prop_assert_eq!(Ipv6Repr::parse(&out).ok(), Some(r));
            }
            if let Ok((_, off)) = pwire_wire::ipv6::upper_layer(h.next_header, payload) {
                prop_assert!(off <= payload.len());
            }
        }
        if let Ok((_, off)) = pwire_wire::ipv6::upper_layer(sel, bytes) {
            prop_assert!(off <= bytes.len());
        }
        let cookie = [0u8, 4, 8][usize::from(sel % 3)];
        let layout = L2tpLayout::new(cookie, sel & 4 != 0).unwrap();
        match l2tpv3::parse(layout, bytes) {
            Ok(v) => {
                prop_assert_eq!(v.cookie().len(), usize::from(cookie));
                prop_assert_eq!(v.inner_offset() + v.payload().len(), bytes.len());
            }
            Err(_) => prop_assert!(bytes.len() < layout.hdr_len()),
        }
        let _ = Icmp6Hdr::parse(bytes);
        let _ = NdRepr::parse(bytes);
        // The option walk ends: at most one item per 8 bytes, plus a final error.
        prop_assert!(nd_options(bytes).count() <= bytes.len() / 8 + 1);
        if let Ok((h, _)) = Ip4Hdr::parse(bytes) {
            let _ = (h.header_len(), h.frag_offset(), h.checksum_ok());
        }
        // ip4-input's checks: what passes lies within the bytes and has a valid checksum.
        if let Ok(c) = pwire_wire::ipv4::check(bytes) {
            prop_assert!(20 <= c.header_len && c.header_len <= c.total_len && c.total_len <= bytes.len());
            prop_assert_eq!(pwire_wire::checksum::internet_checksum(&bytes[..c.header_len]), 0);
        }
        // ARP: what decodes re-emits to the same 28 bytes.
        if let Ok(r) = ArpRepr::parse(bytes) {
            let mut out = [0u8; 28];
            prop_assert_eq!(r.emit(&mut out), Ok(28));
            prop_assert_eq!(&out[..], &bytes[..28]);
        }
        // ICMPv4: a filled checksum verifies.
        if Icmp4Hdr::parse(bytes).is_ok() {
            let mut m = bytes.to_vec();
            prop_assert!(pwire_wire::icmpv4::fill_checksum(&mut m).is_ok());
            prop_assert!(pwire_wire::icmpv4::checksum_ok(&m));
        }
        let _ = UdpHdr::parse(bytes);
        let _ = TcpHdr::parse(bytes);
        let _ = pwire_wire::checksum::verify_l4_checksum(bytes);
        let mut copy = bytes.to_vec();
        if pwire_wire::checksum::recompute_l4_checksum(&mut copy).is_ok() {
            prop_assert_eq!(pwire_wire::checksum::verify_l4_checksum(&copy), Ok(true));
        }
    }
}
