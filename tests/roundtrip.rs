//! decap ∘ encap = identity, as a property: random inner frames through the L2TPv3 encap path of
//! one pwire (pg1 → xconnect → l2tp-encap → ip6-rewrite (midchain) → pg0), the wire bytes
//! checked with pwire-wire's parser, then into the decap path of a second pwire configured as
//! the peer (pg0 → ip6-input → l2tp-decap-local → xconnect → pg1): the frames come out
//! byte-identical, for random session ids, cookie sizes and values, sublayer / sequencing and
//! lookup modes.

use proptest::prelude::*;
use pwire_testkit::Harness;
use pwire_tests::features;
use pwire_wire::l2tpv3::{CookieSize, L2tpLayout};

#[derive(Debug, Clone)]
struct Params {
    lookup: &'static str,
    lsid: u32,
    rsid: u32,
    cookie_size: u8,
    lcookie: u64,
    rcookie: u64,
    sublayer: bool,
    sequencing: bool,
}

fn params() -> impl Strategy<Value = Params> {
    (
        prop_oneof![
            Just("lookup-v6-dst"),
            Just("lookup-v6-src"),
            Just("lookup-session-id")
        ],
        1u32..,
        1u32..,
        prop_oneof![Just(0u8), Just(4), Just(8)],
        any::<u64>(),
        any::<u64>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(lookup, lsid, rsid, cookie_size, lcookie, rcookie, sublayer, sequencing)| Params {
                lookup,
                lsid,
                rsid,
                cookie_size,
                lcookie,
                rcookie,
                sublayer,
                sequencing,
            },
        )
}

fn cookie_hex(size: u8, v: u64) -> String {
    match size {
        4 => format!("{:08x}", v as u32),
        _ => format!("{v:016x}"),
    }
}

/// One side: uplink pg0 (`our`/64, neighbour `peer` at `peer_mac`), access pg1 xconnected with
/// the tunnel.
#[allow(clippy::too_many_arguments)]
fn side(
    p: &Params,
    our: &str,
    peer: &str,
    mac: &str,
    peer_mac: &str,
    lsid: u32,
    rsid: u32,
    lc: u64,
    rc: u64,
) -> Harness {
    let mut h = Harness::with(&format!("l2tp {{ {} }}", p.lookup), &features());
    for l in [
        format!("create packet-generator interface pg0 hw-addr {mac}"),
        "create packet-generator interface pg1".into(),
        format!("set interface ip address pg0 {our}/64"),
        "set interface state pg0 up".into(),
        "set interface state pg1 up".into(),
        format!("set ip neighbor pg0 {peer} {peer_mac} static"),
    ] {
        h.cli(&l);
    }
    let mut t = format!(
        "create l2tpv3 tunnel client {peer} our {our} local-session-id {lsid} remote-session-id {rsid} cookie-size {}",
        p.cookie_size
    );
    if p.cookie_size != 0 {
        t += &format!(
            " local-cookie {} remote-cookie {}",
            cookie_hex(p.cookie_size, lc),
            cookie_hex(p.cookie_size, rc)
        );
    }
    if p.sublayer {
        t += " l2-sublayer-present";
    }
    if p.sequencing {
        t += " sequencing";
    }
    assert_eq!(h.cli(&t), "l2tpv3_tunnel0\n");
    for l in [
        "set interface state l2tpv3_tunnel0 up",
        "set interface l2 xconnect pg1 l2tpv3_tunnel0",
        "set interface l2 xconnect l2tpv3_tunnel0 pg1",
    ] {
        h.cli(l);
    }
    h
}

fn frames() -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop::collection::vec(
        (14usize..1500).prop_flat_map(|n| prop::collection::vec(any::<u8>(), n)),
        1..12,
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn decap_of_encap_is_the_identity(p in params(), inner in frames()) {
        let mut a = side(&p, "fd00::1", "fd00::2", "02:fe:00:00:00:0a", "02:fe:00:00:00:0b",
            p.lsid, p.rsid, p.lcookie, p.rcookie);
        let mut b = side(&p, "fd00::2", "fd00::1", "02:fe:00:00:00:0b", "02:fe:00:00:00:0a",
            p.rsid, p.lsid, p.rcookie, p.lcookie);
        let cap = a.capture("pg0");
        a.send("in", "pg1", "ethernet-input", &inner);
        let wire: Vec<Vec<u8>> = a
            .captured("pg0", &cap)
            .into_iter()
            .filter(|f| f.len() > 20 && f[12..14] == [0x86, 0xdd] && f[20] == 115)
            .collect();
        prop_assert_eq!(wire.len(), inner.len(), "encapsulated: {}", a.cli("show errors"));
        let size = match p.cookie_size { 0 => CookieSize::Zero, 4 => CookieSize::Four, _ => CookieSize::Eight };
        let layout = L2tpLayout::with_cookie(size, p.sublayer || p.sequencing);
        for (i, (w, f)) in wire.iter().zip(&inner).enumerate() {
            let (ip, _) = pwire_wire::Ip6Hdr::parse(&w[14..]).expect("ipv6");
            prop_assert_eq!(ip.hop_limit, 254);
            prop_assert_eq!(ip.payload_len.get() as usize, w.len() - 54);
            let v = pwire_wire::l2tpv3::parse(layout, &w[54..]).expect("l2tpv3");
            prop_assert_eq!(v.session_id(), p.rsid);
            if p.cookie_size != 0 {
                prop_assert_eq!(v.cookie().to_vec(), {
                    let c = p.rcookie.to_be_bytes();
                    if p.cookie_size == 4 { c[4..].to_vec() } else { c.to_vec() }
                });
            }
            if p.sequencing {
                prop_assert_eq!(v.sublayer().map(|s| s.seq()), Some(i as u32));
            }
            prop_assert_eq!(&w[54 + layout.hdr_len()..], &f[..]);
        }
        let cap = b.capture("pg1");
        b.send("wire", "pg0", "ethernet-input", &wire);
        let out = b.captured("pg1", &cap);
        prop_assert_eq!(out.len(), inner.len(), "decapsulated: {}", b.cli("show errors"));
        prop_assert_eq!(out, inner);
        a.assert_all_free();
        b.assert_all_free();
    }
}
