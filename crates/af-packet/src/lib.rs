//! `pwire-af-packet`: pwire's Linux AF_PACKET driver, VPP's `create host-interface`.
//!
//! Two layers:
//!
//! **The ring driver** (`host.rs`, `rx.rs`, `tx.rs`, `frame.rs`, `sys.rs`, `mmap.rs`,
//! `epoll.rs`), which knows nothing about the graph. A [`HostIf`] owns memory-mapped TPACKET
//! rings on one kernel interface (typically a veth end) and offers allocation-free batch I/O:
//! [`HostIf::rx_burst`] walks the RX ring (TPACKET_V3 blocks, V2 frames with
//! [`Opts::rx_v2`], or both with [`Opts::rx_hybrid`], `hybrid.rs`) and lends each frame to a
//! callback;
//! [`HostIf::tx_slot`] + [`TxSlot::commit`] fill TX ring frames in place and
//! [`HostIf::tx_flush`] sends them with one syscall. [`HostIf::split`] separates it into an
//! [`RxQueue`] and a [`TxQueue`]; [`TxQueue::open`] opens more TX queues on the same interface.
//!
//! **The device class** `af-packet` (`cli.rs`, `dev.rs`, `input.rs`, `tx_node.rs`, `gso.rs`):
//! - `create host-interface [v2|v3|hybrid] name <ifname> [hw-addr <mac>] …` makes
//!   `host-<ifname>` with a TPACKET_V3 RX ring, with `v2` a V2 one (a frame reaches pwire as
//!   soon as the kernel writes it, where a V3 block waits for its retire timer at low rates;
//!   but the kernel's per-frame work makes V2 slower under load), with `hybrid` both, switched
//!   by rate (`hybrid.rs`) (admin
//!   down, link state from the kernel, MAC `02:fe:` + 4 random bytes unless given, rx queue in
//!   interrupt mode, placed round robin on the workers); `delete host-interface name <ifname>`.
//! - `af-packet-input` (input node, traceable; arc `ethernet-input`) copies frames from the RX
//!   ring into buffers, segments GSO super-frames, marks unfinished checksums, and implements
//!   polling / interrupt / adaptive rx-mode through the engine's per-thread epoll set.
//! - `af-packet-tx` (the class's tx node after `interface-output`) copies frames into the
//!   sending thread's own TX ring of the interface: every thread has one socket and ring per
//!   host interface, so transmitting needs no lock.
//! - Link state: the RX owner reads the kernel flags every 250 ms; a change is copied into the
//!   vnet interface by a main-thread task (vnet's `Registry::main_task`), since only the main
//!   thread writes interface state.
//!
//! Counters: see `input.rs` and `tx_node.rs`; interface counters rx/tx packets and bytes,
//! rx-no-buf, rx-miss and tx-error.
//!
//! Driver design choices:
//! * **Two sockets**, one per direction (three with the hybrid RX path: its V2 ring has a
//!   socket of its own in the V3 socket's fanout group). The RX socket (ETH_P_ALL, V2
//!   frame or V3 block ring, promiscuous, `PACKET_IGNORE_OUTGOING`, optional virtio-net
//!   header) and the TX socket (bound with protocol 0, so the kernel never
//!   queues received frames on it; frame ring; `PACKET_QDISC_BYPASS`,
//!   `PACKET_LOSS`) need different per-socket settings: `PACKET_VERSION`
//!   differs when TX falls back to TPACKET_V2, and the virtio-net header
//!   must be on for RX (checksum offsets) but off for TX (frames go out
//!   as-is). It also keeps [`HostIf::fd`] readiness purely about RX.
//! * **Checksums.** veth peers hand over locally generated TCP/UDP with the
//!   checksum unfinished (`TP_STATUS_CSUMNOTREADY`). With
//!   [`Opts::vnet_hdr`] (default) the kernel also writes a virtio-net
//!   header, which gives [`RxPkt::csum`] (`csum_start`/`csum_offset`) and
//!   [`RxPkt::gso`]; [`finish_partial_csum`] completes the checksum. If the
//!   kernel refuses the header ([`Caps::vnet_hdr`] false), only the status
//!   flag is available and the caller must locate the L4 header itself.
//! * **VLAN.** The kernel always strips the outer tag before AF_PACKET sees
//!   the frame; it comes back in [`RxPkt::vlan`], and [`RxPkt::copy_to`] /
//!   [`insert_vlan`] put it back.
//! * **Memory ordering.** Block/frame status words are the only shared
//!   synchronisation: `Acquire` loads before reading a block or reusing a
//!   TX frame, `Release` stores when handing memory to the kernel.
//! * **GSO.** TCP sent by the Linux stack over a veth reaches the RX ring as
//!   super-packets of up to 64 KiB ([`RxPkt::gso`] says so and gives the
//!   MSS); with a V3 ring [`Opts::rx_block_size`] must exceed that or frames are cut
//!   ([`RxPkt::is_truncated`]); a V2 ring reads them whole from the socket
//!   (`PACKET_COPY_THRESH`, `rx2.rs`). `af-packet-input` segments them.
//! * **Namespaces.** Sockets bind in the network namespace of the thread
//!   that creates them; ioctls and sends on them keep using that namespace
//!   from any thread.
//!
//! What the kernel of the reference VM (6.18, x86-64) does, checked by the
//! tests in `tests/netns.rs`: it accepts a TPACKET_V3 TX ring (the V2
//! fallback is still exercised via [`Opts::force_tx_v2`]); it accepts
//! `PACKET_VNET_HDR` together with a V3 RX ring and fills `csum_start`/
//! `csum_offset` and the GSO fields; `PACKET_IGNORE_OUTGOING` works;
//! `tp_retire_blk_tov` of 1 ms is honoured.
//!
//! Everything here needs `CAP_NET_RAW`.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use pwire_graph::Shared;
use pwire_vnet::{DevClass, Registry};

mod cli;
mod dev;
mod epoll;
mod frame;
mod gso;
mod host;
mod hybrid;
mod input;
mod mmap;
mod rx;
mod rx2;
mod sys;
mod tx;
mod tx_node;

pub use dev::{AfpState, HostDev};
pub use epoll::{Epoll, Ready};
pub use frame::{finish_partial_csum, insert_vlan};
pub use host::{Caps, HostIf, Opts, RxQueue, Stats, TxQueue};
pub use hybrid::{HybridStats, TO_V2_BPS, TO_V2_PPS, TO_V3_BPS, TO_V3_PPS};
pub use rx::{Gso, PartialCsum, RxPkt, TpHdr, Vlan, VnetHdr};
pub use sys::{
    TP_STATUS_GSO_TCP, VIRTIO_NET_HDR_GSO_ECN, VIRTIO_NET_HDR_GSO_TCPV4, VIRTIO_NET_HDR_GSO_TCPV6,
    VIRTIO_NET_HDR_GSO_UDP, VIRTIO_NET_HDR_GSO_UDP_L4,
};
pub use tx::{TxError, TxSlot, TxVersion};

/// Re-exported `tp_status` bits for [`RxPkt::status`].
pub use libc::{
    TP_STATUS_CSUMNOTREADY, TP_STATUS_CSUM_VALID, TP_STATUS_LOSING, TP_STATUS_VLAN_TPID_VALID,
    TP_STATUS_VLAN_VALID,
};

/// Registers the `af-packet` device class, its nodes and CLI.
pub fn register(r: &mut Registry) {
    r.dev_class(DevClass {
        name: "af-packet",
        output_node: "interface-output",
        tx_node: Some("af-packet-tx"),
        ethernet: true,
        hw_class: "Linux PACKET socket interface",
    });
    let st: Arc<Shared<AfpState>> = Shared::new(AfpState::default());
    let s = st.clone();
    // Only the main thread writes interface state: the RX owners report link changes in
    // `HostDev::link_up` and signal this task.
    let link_task = r.main_task(move |cx| {
        let reported: Vec<(u32, bool)> = s
            .get(&cx.ctl)
            .devs
            .iter()
            .flatten()
            .map(|d| (d.sw_if_index, d.link_up.load(Relaxed)))
            .collect();
        pwire_vnet::main_task::apply_link_states(cx, &reported);
    });
    let s = st.clone();
    r.vnet.hooks.on_show_hw(
        "af-packet",
        Box::new(move |cx, i, _| cli::show_hw(cx, &s, i)),
    );
    input::register(r, st.clone(), link_task);
    tx_node::register(r, st.clone());
    cli::register(r, st);
}
