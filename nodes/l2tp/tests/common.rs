//! Shared set-up for the l2tp tests.
#![allow(dead_code)]

use pwire_testkit::Harness;
use pwire_vnet::dataplane::RegisterFn;

pub const REGS: &[RegisterFn] = &[
    pwire_node_ethernet::register,
    pwire_node_ip6::register,
    pwire_node_l2::register,
    pwire_node_l2tp::register,
];

/// The uplink pg0's MAC and its peer fd00::2's, in the pg topologies of these tests.
pub const PG0_MAC: [u8; 6] = [0x02, 0xfe, 0, 0, 0, 0];
pub const PEER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 2];

pub fn harness(conf: &str) -> Harness {
    Harness::with(conf, REGS)
}

/// The Snabb l2vpn tunnel (see ../shared/testdata/snabb-l2vpn/README.md), uplink pg0, AC pg1.
pub fn snabb(h: &mut Harness, extra: &str) {
    for l in [
        "create packet-generator interface pg0 hw-addr 90:e2:ba:62:86:e5",
        "create packet-generator interface pg1",
        "set interface state pg0 up",
        "set interface state pg1 up",
        "set interface ip address pg0 2001:620:0:c000::fc/64",
        "set ip neighbor pg0 2001:620:0:c000::fe 28:94:0f:fd:49:40 static",
    ] {
        h.cli(l);
    }
    assert_eq!(
        h.cli(&format!(
            "create l2tpv3 tunnel client 2001:620:0:c000::fe our 2001:620:0:c000::fc local-session-id 286331153 \
             remote-session-id 572662306 local-cookie 0011223344556677 remote-cookie 8899aabbccddeeff {extra}"
        )),
        "l2tpv3_tunnel0\n"
    );
    h.cli("set interface state l2tpv3_tunnel0 up");
    h.cli("set interface l2 xconnect pg1 l2tpv3_tunnel0");
    h.cli("set interface l2 xconnect l2tpv3_tunnel0 pg1");
}

pub fn snabb_file(name: &str) -> std::path::PathBuf {
    pwire_testkit::shared_testdata()
        .join("snabb-l2vpn")
        .join(name)
}
