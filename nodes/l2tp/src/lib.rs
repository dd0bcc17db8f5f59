//! pwire-node-l2tp: L2TPv3 pseudowires over IPv6 (RFC 3931 data channel, RFC 4719 Ethernet PW),
//! VPP's l2tp plugin made right.
//!
//! Graph:
//! ```text
//! ip6-local/ip6-receive --115--> l2tp-decap-local --> l2-input        (or error-drop)
//! ip6-input --ip6-unicast feature--> l2tp-decap --> l2-input | ip6-lookup (not ours) | error-drop
//! l2-output --(tunnel's output node)--> l2tp-encap --> ip6-lookup     (or error-drop)
//! ```
//! The tunnel interface `l2tpv3_tunnel<N>` (N = session index) is a bridge or xconnect port whose
//! output node is `l2tp-encap`. Protocol 115 is claimed when the first tunnel is created.
//!
//! Counters: VPP's names on both decap nodes ("L2TP user (ip6) to L2 network pkts", "l2tpv3 local
//! session id mismatches", "l2tpv3 local cookie mismatches", "l2tpv3 session not found",
//! "l2tpv3 tunnel is down") plus pwire's ("l2tpv3 sequence number out of order or duplicate",
//! "l2tpv3 packet too short", "l2tpv3 unsupported ip6 extension header"); on l2tp-encap
//! "L2TP L2 network to user (ip6) pkts", "L2TP L2 session lookup failed pkts", "L2TP tunnel is
//! down", "L2TP no buffer headroom". Per-session counters count what was delivered (inner frame
//! bytes), cookie mismatches, sequence drops and admin-down drops separately.
//!
//! Past VPP: 0/4/8-byte cookies (`cookie-size`), `del`, `hop-limit`, `sequencing` (RFC 4719
//! default sublayer with S bit and 24-bit sequence numbers; out-of-order and duplicates dropped),
//! cookie 0 is not accepted unless configured, trailing padding after the IPv6 payload is
//! removed, IPv6 extension headers before the L2TP header are walked.

pub mod api;
mod cli;
pub mod control;
mod decap;
mod encap;
mod outer;
pub mod pmtu;
pub mod session;

pub use api::{L2tp, L2tpError, TunnelConfig};
pub use session::{L2tpMain, Session, Transport};

use pwire_graph::Shared;
use pwire_vnet::{DevClass, Registry};
use std::sync::Arc;

/// IPv6 next header of L2TPv3 over IP.
pub const PROTO_L2TP: u8 = 115;

pub fn register(r: &mut Registry) {
    r.dev_class(DevClass {
        name: "l2tpv3",
        output_node: "l2tp-encap",
        tx_node: None,
        ethernet: false,
        hw_class: "L2TPV3",
    });
    r.ip6_protocol(PROTO_L2TP, "l2tp-decap-local");
    r.ip6_unicast_feature("l2tp-decap", "l2tp-decap");
    // IPv4 tunnels need the ip4 nodes (registered before l2tp when compiled in).
    let ip4 = r.graph.has_node("ip4-lookup");
    if ip4 {
        r.ip4_protocol(PROTO_L2TP, "l2tp4-decap-local");
        r.ip4_unicast_feature("l2tp4-decap", "l2tp4-decap");
    }
    let max = r
        .config
        .l2tp
        .max_sessions
        .map_or(session::DEFAULT_MAX_SESSIONS, |n| n as usize);
    let m = L2tpMain::new(r.config.l2tp.lookup, r.vnet.n_threads, max);
    let main: Arc<Shared<L2tpMain>> = Shared::new(m);
    let ctl = Arc::new(control::Control::new(r.vnet.clone()));
    ctl.configure(r.config.l2tp.hostname.as_deref(), r.config.l2tp.router_id);
    control::register(r, &ctl);
    decap::register(r, main.clone(), &ctl, ip4);
    encap::register(r, main.clone(), ip4);
    let pmtu = Arc::new(pmtu::Pmtu::new());
    pmtu::register(r, main.clone(), pmtu.clone(), ip4);
    let udp = r.udp_handler("l2tp4-udp-decap", "l2tp6-udp-decap");
    let api = L2tp::new(main, r.vnet.clone(), udp, ip4, pmtu);
    control::set_api(&ctl, api.clone());
    control::register_cli(r, &ctl);
    r.vnet.hooks.publish_api(Arc::new(api.clone()));
    cli::register(r, api);
}
