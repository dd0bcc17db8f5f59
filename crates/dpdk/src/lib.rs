//! `pwire-dpdk`: pwire's DPDK driver (VPP's dpdk plugin), over Debian's DPDK 22.11 through
//! `pwire-dpdk-sys`. Empty unless built with feature `dpdk` (pwire's `dpdk` feature).
//!
//! - **Start-up** (`Registry::on_start`, when startup.conf has `dpdk { }`): EAL init from the
//!   section (`eal.rs`; once per process, an error is one start-up line), the zero-copy mempool
//!   over pwire's buffer pool (`mempool.rs`), then every probed port is configured (rx queues
//!   from `num-rx-queues`, one tx queue per thread where the device allows, descriptors from
//!   `num-rx-desc`/`num-tx-desc`) and becomes an interface of class `dpdk`, admin down:
//!   PCI ports named VPP's way (`GigabitEthernet0/8/0`, or `dev <addr> { name <n> }`), virtual
//!   ones by their vdev name (`net_af_packet0`). Rx queues are placed round robin over the
//!   workers (VPP's "thread any"); `set interface rx-placement <if> queue <n> worker <n>` moves
//!   one.
//! - **Admin up/down** starts/stops the port (`rte_eth_dev_start/stop`); the link state is
//!   read by the thread polling rx queue 0 and copied into vnet by a main-thread task.
//! - **Zero copy**: an rte_mbuf and a pwire buffer are one object (`mempool.rs`).
//! - Nodes: `dpdk-input` (`input.rs`; arc `ethernet-input`) and `dpdk-tx` (`tx.rs`).
//! - CLI: `show hardware-interfaces [verbose]` gains the PMD's view (driver, queues,
//!   descriptors, link, and the PMD counters ipackets/opackets/imissed/ierrors/oerrors/
//!   rx_nombuf); `show dpdk buffer` prints the mempool's counts (VPP's command).
//!
//! Counters: see `input.rs` and `tx.rs`.

#[cfg(feature = "dpdk")]
mod imp;
#[cfg(feature = "dpdk")]
pub use imp::*;
