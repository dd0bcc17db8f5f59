//! Host interface state shared by the CLI, `af-packet-input` and `af-packet-tx`.
//!
//! [`AfpState`] lives in a [`pwire_graph::Shared`]: the CLI adds and removes [`HostDev`]s while
//! the workers are parked at the barrier, and the nodes read the table through their `Dp`
//! token. The rings inside a `HostDev` are mutated by the dataplane through [`QueueCell`]s,
//! under two ownership rules that make every access exclusive without a lock:
//!
//! - **RX queue**: only the `af-packet-input` instance of the thread named by the vnet
//!   interface's `rx_thread` touches it, and only while dispatching. `rx_thread` changes only
//!   under the barrier (`set interface rx-placement` writes vnet state through `Ctl::write`),
//!   when no worker is inside a dispatch and the main thread is running the command, so at any
//!   moment at most one thread considers itself the owner.
//! - **TX queues**: `tx[t]` belongs to thread `t` (its `af-packet-tx`, and its
//!   `af-packet-input`, which retries flushes the kernel refused with EAGAIN). Every thread has
//!   its own socket and ring, so several threads transmit on one host interface without
//!   sharing anything.
//!
//! The control plane gets `&mut` to queues only through `Shared::write` (barrier held): it
//! creates them, and drops them on `delete host-interface`, which closes the sockets (and so
//! removes the RX fd from whichever thread's epoll set held it) while no thread can use them.

use std::cell::UnsafeCell;
use std::os::fd::RawFd;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use crate::host::{Caps, Opts, RxQueue, TxQueue};
use crate::hybrid::HybridStats;

/// A ring owned by one thread at a time (see the module docs for who).
pub struct QueueCell<T>(UnsafeCell<T>);

impl<T> std::fmt::Debug for QueueCell<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("QueueCell { .. }")
    }
}

// SAFETY: the cell is only dereferenced mutably by its owner thread (module docs), and
// otherwise only through `&mut QueueCell` (control plane under the barrier); `T: Send` lets the
// value be used from whichever thread owns it.
unsafe impl<T: Send> Sync for QueueCell<T> {}

impl<T> QueueCell<T> {
    pub fn new(v: T) -> Self {
        QueueCell(UnsafeCell::new(v))
    }

    /// The queue, for its owner.
    ///
    /// # Safety
    /// The caller must be the queue's current owner as defined in the module docs (RX: the
    /// dispatching thread equal to the interface's `rx_thread`; TX `tx[t]`: thread `t`,
    /// dispatching), and must not hold another reference from this cell.
    #[inline(always)]
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn get_mut(&self) -> &mut T {
        // SAFETY: exclusivity is the caller's contract.
        unsafe { &mut *self.0.get() }
    }

    /// Exclusive access through an exclusive borrow (control plane, barrier held).
    pub fn inner_mut(&mut self) -> &mut T {
        self.0.get_mut()
    }
}

/// One `host-<ifname>` interface.
#[derive(Debug)]
pub struct HostDev {
    /// Unique for the life of the process: lets per-thread node state notice that a slot was
    /// reused by a new interface.
    pub id: u64,
    /// The Linux interface name (`<ifname>` of `host-<ifname>`).
    pub host_name: String,
    pub sw_if_index: u32,
    /// The RX socket, for epoll registration without touching the queue.
    pub rx_fd: RawFd,
    /// The hybrid path's second RX socket (V2 ring), watched like `rx_fd`.
    pub rx_fd_v2: Option<RawFd>,
    /// The hybrid path's mode and switches, for `show hardware-interfaces`.
    pub hybrid: Option<Arc<HybridStats>>,
    pub rx: QueueCell<RxQueue>,
    /// One TX queue per thread, indexed by thread.
    pub tx: Box<[QueueCell<TxQueue>]>,
    /// Kernel link state (IFF_UP and IFF_RUNNING) as last seen by the RX owner; the main task
    /// copies it into the vnet interface.
    pub link_up: AtomicBool,
    /// Kernel MTU at creation.
    pub host_mtu: u32,
    /// What the kernel accepted for the rings.
    pub caps: Caps,
    /// The options the rings were made with.
    pub opts: Opts,
}

/// Every host interface, by `dev_instance`.
#[derive(Debug, Default)]
pub struct AfpState {
    /// Slot `k` is the device with `dev_instance == k`; deleted slots are `None` and reused.
    pub devs: Vec<Option<Box<HostDev>>>,
    /// Next [`HostDev::id`].
    pub next_id: u64,
    /// Round-robin counter for rx placement over the workers (VPP's "thread any").
    pub next_worker: usize,
}

impl AfpState {
    /// The device created on Linux interface `host_name`.
    pub fn by_host_name(&self, host_name: &str) -> Option<(usize, &HostDev)> {
        self.devs.iter().enumerate().find_map(|(k, d)| {
            d.as_deref()
                .filter(|d| d.host_name == host_name)
                .map(|d| (k, d))
        })
    }

    /// A free slot index (reused or new).
    pub fn free_slot(&self) -> usize {
        self.devs
            .iter()
            .position(Option::is_none)
            .unwrap_or(self.devs.len())
    }
}
