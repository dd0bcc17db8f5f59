//! pwire-node-ethernet: `ethernet-input`, where every frame a driver receives enters the graph.
//!
//! ```text
//!                 ┌─> <ethertype node>   (table filled by consumers: ip6 registers 0x86dd -> ip6-input)
//! ethernet-input ─┼─> l2-input           (L2-mode interfaces; arc added by the l2 crate when present)
//!                 └─> error-drop
//! ```
//!
//! Counters (VPP's ethernet error strings): "unknown ethernet type", "unknown vlan",
//! "l3 mac mismatch", "subinterface down", plus pwire's "ethernet frame too short".
//! The node also feeds `pcap trace rx`, and gives frames to VLAN sub-interfaces by their tags.
//!
//! CLI (`subif.rs`): `create sub-interfaces`, `delete sub-interface`.

mod input;
mod subif;

pub use input::EthernetInput;

use pwire_vnet::Registry;

/// Registers `ethernet-input` and the sub-interface commands.
pub fn register(r: &mut Registry) {
    input::register(r);
    subif::register(r);
}
