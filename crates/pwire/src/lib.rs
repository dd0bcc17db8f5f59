//! pwire: the dataplane binary's library part — the one explicit list of every crate's
//! registration, shared by `main.rs` and the workspace tests.

use pwire_vnet::dataplane::RegisterFn;

/// Every feature compiled into pwire, in registration order. `plugins { plugin <x> { disable } }`
/// removes the matching entry (see [`registrations`]).
pub const ALL: &[(&str, RegisterFn)] = &[
    ("interface", pwire_node_interface::register),
    ("pg", pwire_pg::register),
    ("af-packet", pwire_af_packet::register),
    ("ethernet", pwire_node_ethernet::register),
    ("ip6", pwire_node_ip6::register),
    ("ip4", pwire_node_ip4::register),
    ("udp", pwire_node_udp::register),
    ("reass", pwire_node_reass::register),
    ("l2", pwire_node_l2::register),
    ("l2tp", pwire_node_l2tp::register),
    #[cfg(feature = "dpdk")]
    ("dpdk", pwire_dpdk::register),
];

/// The registration list after `plugins { }` is applied.
pub fn registrations(cfg: &pwire_config::StartupConfig) -> Vec<RegisterFn> {
    ALL.iter()
        .filter(|(name, _)| !plugin_disabled(cfg, name))
        .map(|(_, f)| *f)
        .collect()
}

fn plugin_disabled(cfg: &pwire_config::StartupConfig, feature: &str) -> bool {
    let file = match feature {
        "l2tp" => "l2tp_plugin.so",
        "af-packet" => "af_packet_plugin.so",
        "dpdk" => "dpdk_plugin.so",
        _ => return false,
    };
    !cfg.plugins.is_enabled(file, true)
}
