//! DPDK ports as pwire interfaces: discovery, naming, queue setup, start/stop, link state.
//!
//! [`DpdkState`] lives in a [`pwire_graph::Shared`]: it is written only by the main thread with
//! the workers parked at the barrier (start-up, admin up/down), and read by `dpdk-input` and
//! `dpdk-tx` through their `Dp` token. Queue ownership without locks:
//! - rx queue `q` of a port is polled only by the thread its vnet interface names for `q`
//!   (`Interface::rx_queue_thread`, changed under the barrier by `set interface rx-placement`);
//! - thread `t` transmits on tx queue `t % n_txq`. When the device has fewer tx queues than
//!   pwire has threads, a queue is shared (`show hardware` says so) and its burst is taken under
//!   a spin flag, once per burst, as VPP does; with enough queues no flag is touched.

use std::ffi::CStr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use pwire_config::DpdkConfig;
use pwire_dpdk_sys as sys;

use crate::mempool::{strerror, Mempool};

/// Default descriptors per queue (VPP's defaults).
const DEFAULT_RX_DESC: u16 = 1024;
const DEFAULT_TX_DESC: u16 = 1024;

/// A tx queue's "in use" flag, taken only when the queue is shared between threads.
#[derive(Debug, Default)]
pub struct TxLock(AtomicBool);

impl TxLock {
    #[inline(always)]
    pub fn lock(&self) {
        while self
            .0
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            std::hint::spin_loop();
        }
    }
    #[inline(always)]
    pub fn unlock(&self) {
        self.0.store(false, Ordering::Release);
    }
}

/// One DPDK port.
#[derive(Debug)]
pub struct Port {
    pub port_id: u16,
    pub sw_if_index: u32,
    /// EAL's device name (`0000:00:08.0`, `net_af_packet0`).
    pub dev_name: String,
    pub driver: String,
    pub pci: bool,
    pub n_rxq: u16,
    pub n_txq: u16,
    pub n_rx_desc: u16,
    pub n_tx_desc: u16,
    /// Threads share tx queues (fewer queues than threads).
    pub tx_shared: bool,
    pub tx_locks: Box<[TxLock]>,
    /// `rte_eth_dev_start` done (admin up).
    pub started: bool,
    /// Link state as last seen by the thread polling rx queue 0.
    pub link_up: AtomicBool,
    pub link_speed_mbps: AtomicU32,
    /// PMD counters (imissed, rx_nombuf, ierrors, oerrors) already added to the interface
    /// counters; written only by the thread polling rx queue 0.
    pub stats_seen: [AtomicU64; 4],
    pub max_rx_queues: u16,
    pub max_tx_queues: u16,
    pub mtu: u16,
}

/// Every port, by `dev_instance`.
#[derive(Debug, Default)]
pub struct DpdkState {
    pub ports: Vec<Port>,
    pub mempool: Option<Mempool>,
}

/// True for devices on the PCI bus.
pub fn is_pci(info: &sys::rte_eth_dev_info) -> bool {
    if info.device.is_null() {
        return false;
    }
    // SAFETY: a device pointer from rte_eth_dev_info_get; the bus name is a static string.
    let bus = unsafe { sys::rte_dev_bus(info.device) };
    if bus.is_null() {
        return false;
    }
    // SAFETY: as above.
    let name = unsafe { CStr::from_ptr(sys::rte_bus_name(bus)) };
    name.to_bytes() == b"pci"
}

/// VPP's name for a PCI port: speed class + `Ethernet` + bus/slot/function in hex
/// (`0000:00:08.0` at 1 Gb/s → `GigabitEthernet0/8/0`).
pub fn pci_if_name(addr: &str, speed_capa: u32) -> Option<String> {
    let (head, func) = addr.rsplit_once('.')?;
    let mut it = head.split(':');
    let (_dom, bus, dev) = (it.next()?, it.next()?, it.next()?);
    let hex = |s: &str| u32::from_str_radix(s, 16).ok();
    let (bus, dev, func) = (hex(bus)?, hex(dev)?, hex(func)?);
    let bit = |b: u32| speed_capa & (1 << b) != 0;
    // RTE_ETH_LINK_SPEED_* bits: 1G=5, 2.5G=6, 5G=7, 10G=8, 25G=10, 40G=11, 50G=12, 100G=14,
    // 200G=15 (function-like macros, which bindgen cannot import).
    let class = if bit(15) {
        "TwoHundredGigabitEthernet"
    } else if bit(14) {
        "HundredGigabitEthernet"
    } else if bit(12) {
        "FiftyGigabitEthernet"
    } else if bit(11) {
        "FortyGigabitEthernet"
    } else if bit(10) {
        "TwentyFiveGigabitEthernet"
    } else if bit(8) {
        "TenGigabitEthernet"
    } else if bit(7) {
        "FiveGigabitEthernet"
    } else if bit(6) {
        "TwoDotFiveGigabitEthernet"
    } else if bit(5) {
        "GigabitEthernet"
    } else {
        "UnknownEthernet"
    };
    Some(format!("{class}{bus:x}/{dev:x}/{func:x}"))
}

/// What `setup` found and configured for one port.
#[derive(Debug)]
pub struct NewPort {
    pub port: Port,
    pub name: String,
    pub mac: [u8; 6],
}

fn port_ids() -> Vec<u16> {
    let mut v = Vec::new();
    let mut p = 0u64;
    loop {
        // SAFETY: iterating ports; owner 0 = not owned by anyone.
        p = unsafe { sys::rte_eth_find_next_owned_by(p as u16, 0) };
        if p >= u64::from(sys::RTE_MAX_ETHPORTS) {
            return v;
        }
        v.push(p as u16);
        p += 1;
    }
}

fn cstr(p: *const std::ffi::c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: DPDK returns NUL-terminated strings.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

/// Configures every port EAL probed: `n_threads` tx queues where the device allows.
pub fn setup(cfg: &DpdkConfig, mp: Mempool, n_threads: usize) -> Result<Vec<NewPort>, String> {
    let mut out = Vec::new();
    for port_id in port_ids() {
        let mut info = sys::rte_eth_dev_info::default();
        // SAFETY: valid port id, valid output struct.
        let r = unsafe { sys::rte_eth_dev_info_get(port_id, &mut info) };
        if r != 0 {
            return Err(format!(
                "dpdk: port {port_id}: cannot get device info: {}",
                strerror(-r)
            ));
        }
        let mut namebuf = [0 as std::ffi::c_char; 64];
        // SAFETY: buffer of RTE_ETH_NAME_MAX_LEN (64) bytes.
        unsafe { sys::rte_eth_dev_get_name_by_port(port_id, namebuf.as_mut_ptr()) };
        let dev_name = cstr(namebuf.as_ptr());
        let pci = is_pci(&info);
        let devcfg = cfg
            .devs
            .iter()
            .find(|d| d.addr == dev_name)
            .map(|d| d.with_defaults(&cfg.dev_default));
        let d = &cfg.dev_default;
        let want_rxq = devcfg
            .as_ref()
            .and_then(|c| c.num_rx_queues)
            .or(d.num_rx_queues)
            .unwrap_or(1);
        let want_txq = devcfg
            .as_ref()
            .and_then(|c| c.num_tx_queues)
            .or(d.num_tx_queues);
        let mut rxd = devcfg
            .as_ref()
            .and_then(|c| c.num_rx_desc)
            .or(d.num_rx_desc)
            .unwrap_or(DEFAULT_RX_DESC);
        let mut txd = devcfg
            .as_ref()
            .and_then(|c| c.num_tx_desc)
            .or(d.num_tx_desc)
            .unwrap_or(DEFAULT_TX_DESC);
        if want_rxq > info.max_rx_queues {
            return Err(format!(
                "dpdk: {dev_name}: num-rx-queues {want_rxq} exceeds the device's {}",
                info.max_rx_queues
            ));
        }
        let n_rxq = want_rxq.max(1);
        let threads = u16::try_from(n_threads).unwrap_or(u16::MAX);
        let n_txq = want_txq.unwrap_or(threads).min(info.max_tx_queues).max(1);
        let mut conf = sys::rte_eth_conf::default();
        if n_rxq > 1 {
            conf.rxmode.mq_mode = sys::rte_eth_rx_mq_mode_RTE_ETH_MQ_RX_RSS;
            conf.rx_adv_conf.rss_conf.rss_hf = info.flow_type_rss_offloads;
        }
        // SAFETY: valid port and configuration.
        let r = unsafe { sys::rte_eth_dev_configure(port_id, n_rxq, n_txq, &conf) };
        if r < 0 {
            return Err(format!(
                "dpdk: {dev_name}: configure ({n_rxq} rx, {n_txq} tx queues): {}",
                strerror(-r)
            ));
        }
        // SAFETY: valid port and in/out descriptor counts.
        unsafe { sys::rte_eth_dev_adjust_nb_rx_tx_desc(port_id, &mut rxd, &mut txd) };
        // SAFETY: valid port id.
        let socket = unsafe { sys::rte_eth_dev_socket_id(port_id) }
            .max(0)
            .cast_unsigned();
        for q in 0..n_rxq {
            // SAFETY: configured port, queue in range, our mempool.
            let r = unsafe {
                sys::rte_eth_rx_queue_setup(port_id, q, rxd, socket, std::ptr::null(), mp.0)
            };
            if r < 0 {
                return Err(format!("dpdk: {dev_name}: rx queue {q}: {}", strerror(-r)));
            }
        }
        for q in 0..n_txq {
            // SAFETY: configured port, queue in range.
            let r =
                unsafe { sys::rte_eth_tx_queue_setup(port_id, q, txd, socket, std::ptr::null()) };
            if r < 0 {
                return Err(format!("dpdk: {dev_name}: tx queue {q}: {}", strerror(-r)));
            }
        }
        let mut mac = sys::rte_ether_addr::default();
        // SAFETY: valid port, output struct.
        unsafe { sys::rte_eth_macaddr_get(port_id, &mut mac) };
        let mut mtu = 0u16;
        // SAFETY: valid port, output value.
        if unsafe { sys::rte_eth_dev_get_mtu(port_id, &mut mtu) } != 0 {
            mtu = 1500;
        }
        let name = match devcfg.as_ref().and_then(|c| c.name.clone()) {
            Some(n) => n,
            None if pci => {
                pci_if_name(&dev_name, info.speed_capa).unwrap_or_else(|| dev_name.clone())
            }
            None => dev_name.clone(),
        };
        let port = Port {
            port_id,
            sw_if_index: u32::MAX,
            dev_name,
            driver: cstr(info.driver_name),
            pci,
            n_rxq,
            n_txq,
            n_rx_desc: rxd,
            n_tx_desc: txd,
            tx_shared: usize::from(n_txq) < n_threads,
            tx_locks: (0..n_txq).map(|_| TxLock::default()).collect(),
            started: false,
            link_up: AtomicBool::new(false),
            link_speed_mbps: AtomicU32::new(0),
            stats_seen: Default::default(),
            max_rx_queues: info.max_rx_queues,
            max_tx_queues: info.max_tx_queues,
            mtu,
        };
        out.push(NewPort {
            port,
            name,
            mac: mac.addr_bytes,
        });
    }
    Ok(out)
}

/// Reads the link without waiting: (up, speed in Mb/s).
pub fn link(port_id: u16) -> (bool, u32) {
    let mut l = sys::rte_eth_link::default();
    // SAFETY: valid port id and output struct.
    if unsafe { sys::rte_eth_link_get_nowait(port_id, &mut l) } != 0 {
        return (false, 0);
    }
    (l.link_status() != 0, l.link_speed)
}

/// Starts a port (admin up); promiscuous, since bridged interfaces see every MAC.
pub fn start(p: &Port) -> Result<(), String> {
    // SAFETY: a configured port with every queue set up.
    let r = unsafe { sys::rte_eth_dev_start(p.port_id) };
    if r < 0 {
        return Err(format!("dpdk: {}: start: {}", p.dev_name, strerror(-r)));
    }
    // SAFETY: a started port. Not every PMD supports promiscuous mode; that is not an error.
    unsafe { sys::rte_eth_promiscuous_enable(p.port_id) };
    Ok(())
}

/// Stops a port (admin down); the PMD gives its rx ring's mbufs back to the pool.
pub fn stop(p: &Port) {
    // SAFETY: a port id EAL knows; stopping a stopped port is harmless.
    unsafe { sys::rte_eth_dev_stop(p.port_id) };
}

/// The PMD's counters.
pub fn stats(port_id: u16) -> sys::rte_eth_stats {
    let mut s = sys::rte_eth_stats::default();
    // SAFETY: valid port id and output struct.
    unsafe { sys::rte_eth_stats_get(port_id, &mut s) };
    s
}

#[cfg(test)]
mod tests {
    use super::pci_if_name;

    #[test]
    fn vpp_style_pci_names() {
        assert_eq!(
            pci_if_name("0000:00:08.0", 1 << 5).as_deref(),
            Some("GigabitEthernet0/8/0")
        );
        assert_eq!(
            pci_if_name("0000:af:1f.7", (1 << 8) | (1 << 5)).as_deref(),
            Some("TenGigabitEthernetaf/1f/7")
        );
        assert_eq!(
            pci_if_name("0000:3b:00.1", 1 << 14).as_deref(),
            Some("HundredGigabitEthernet3b/0/1")
        );
        assert_eq!(
            pci_if_name("0000:00:03.0", 0).as_deref(),
            Some("UnknownEthernet0/3/0")
        );
        assert_eq!(pci_if_name("net_null0", 0), None);
    }
}
