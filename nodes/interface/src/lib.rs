//! pwire-node-interface: the nodes every packet leaves through, and the interface CLI.
//!
//! Nodes:
//! - `error-drop`: counts each buffer under its error code (runs of equal codes are added at
//!   once), bumps the RX interface's `drops`, feeds `pcap trace drop`, frees. No nexts.
//! - `interface-output`: counts tx packets/bytes per interface, feeds `pcap trace tx`, finishes
//!   checksums the kernel left partial, and hands the frame to the device's tx node
//!   (arcs added per device class: `pg-tx`, `af-packet-tx`, ...). Drops for a down or deleted
//!   interface. Counters: "interface is down", "interface is deleted".
//!
//! CLI: `show interface [address] [<if>]`, `set interface state <if> up|down`,
//! `show hardware-interfaces [brief|verbose] [<if>]`, `clear interfaces`,
//! `set interface mtu [packet|ip4|ip6|mpls] <n> <if>`, `set interface rx-mode`,
//! `show interface rx-placement`, `set interface rx-placement`.

mod cli;
mod drop;
mod output;

pub use drop::ErrorDrop;
pub use output::InterfaceOutput;

use pwire_vnet::Registry;

pub fn register(r: &mut Registry) {
    drop::register(r);
    output::register(r);
    cli::register(r);
}
