//! `pwire-af-packet`: the low-level Linux AF_PACKET driver behind pwire's
//! `host-<ifname>` interfaces (VPP's `create host-interface`).
//!
//! A [`HostIf`] owns memory-mapped TPACKET rings on one kernel interface
//! (typically a veth end) and offers allocation-free batch I/O:
//! [`HostIf::rx_burst`] walks the TPACKET_V3 RX ring and lends each frame to
//! a callback; [`HostIf::tx_slot`] + [`TxSlot::commit`] fill TX ring frames
//! in place and [`HostIf::tx_flush`] sends them with one syscall. It knows
//! nothing about the graph or buffers: the `af-packet-input` node copies
//! out of [`RxPkt::data`] into its own buffers.
//!
//! Design choices:
//! * **Two sockets**, one per direction. The RX socket (ETH_P_ALL, V3
//!   block ring, promiscuous, `PACKET_IGNORE_OUTGOING`, optional virtio-net
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
//!
//! * **GSO.** TCP sent by the Linux stack over a veth reaches the RX ring as
//!   super-packets of up to 64 KiB ([`RxPkt::gso`] says so and gives the
//!   MSS); [`Opts::rx_block_size`] must exceed that or frames are cut
//!   ([`RxPkt::is_truncated`]). The dataplane must segment or drop them.
//!
//! What the kernel of the reference VM (6.18, x86-64) does, checked by the
//! tests in `tests/netns.rs`: it accepts a TPACKET_V3 TX ring (the V2
//! fallback is still exercised via [`Opts::force_tx_v2`]); it accepts
//! `PACKET_VNET_HDR` together with a V3 RX ring and fills `csum_start`/
//! `csum_offset` and the GSO fields; `PACKET_IGNORE_OUTGOING` works;
//! `tp_retire_blk_tov` of 1 ms is honoured.
//!
//! Everything here needs `CAP_NET_RAW`.

use std::ffi::c_int;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

mod epoll;
mod frame;
mod mmap;
mod rx;
mod sys;
mod tx;

pub use epoll::{Epoll, Ready};
pub use frame::{finish_partial_csum, insert_vlan};
pub use rx::{Gso, PartialCsum, RxPkt, Vlan};
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

use mmap::Mapping;
use rx::RxRing;
use sys::IfName;
use tx::TxRing;

// SAFETY: a `Mapping` is an exclusively owned memory region; the kernel
// side (the socket's ring) is not tied to any thread, so using or unmapping
// it from another thread is fine. Access is serialised by `&mut` on the
// owning ring.
unsafe impl Send for Mapping {}

/// Ring geometry and socket options for [`HostIf::open`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opts {
    /// RX block size in bytes; a multiple of the page size. Also the upper
    /// bound for one received frame (GSO super-packets can be 64 KiB).
    pub rx_block_size: u32,
    /// Number of RX blocks.
    pub rx_block_nr: u32,
    /// Nominal RX frame size (multiple of 16). V3 packs frames tightly; the
    /// kernel only uses it for its `tp_frame_nr` sanity check.
    pub rx_frame_size: u32,
    /// A partly filled RX block is handed to us after this many ms. Short
    /// keeps latency low at low rates; 0 lets the kernel pick (≈8 ms).
    pub rx_retire_tov_ms: u32,
    /// TX frame size (multiple of 16); a frame carries
    /// `tx_frame_size - 48` bytes (V3) or `- 32` (V2).
    pub tx_frame_size: u32,
    /// Number of TX frames (rounded up to fill whole ring blocks).
    pub tx_frame_nr: u32,
    /// Put the interface in promiscuous mode (`PACKET_MR_PROMISC`); undone
    /// by the kernel when the socket closes.
    pub promisc: bool,
    /// `PACKET_QDISC_BYPASS`: hand TX frames straight to the driver.
    pub qdisc_bypass: bool,
    /// Ask for the virtio-net header on RX (checksum offsets, GSO info).
    pub vnet_hdr: bool,
    /// `PACKET_IGNORE_OUTGOING` on RX: do not see frames this host sends on
    /// the interface (including our own TX).
    pub ignore_outgoing: bool,
    /// Try `MAP_LOCKED` for the rings; falls back silently.
    pub map_locked: bool,
    /// Use TPACKET_V2 for TX even if V3 works (testing the fallback).
    pub force_tx_v2: bool,
}

impl Default for Opts {
    fn default() -> Self {
        Opts {
            rx_block_size: 128 << 10,
            rx_block_nr: 32,
            rx_frame_size: 2048,
            rx_retire_tov_ms: 1,
            tx_frame_size: 2048,
            tx_frame_nr: 1024,
            promisc: true,
            qdisc_bypass: true,
            vnet_hdr: true,
            ignore_outgoing: true,
            map_locked: true,
            force_tx_v2: false,
        }
    }
}

fn invalid(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg.to_string())
}

impl Opts {
    fn validate(&self, page: usize) -> io::Result<()> {
        let bs = self.rx_block_size as usize;
        // (Not `is_multiple_of`: the workspace MSRV is 1.85.)
        if bs == 0 || bs / page * page != bs {
            return Err(invalid(
                "rx_block_size must be a non-zero multiple of the page size",
            ));
        }
        if self.rx_block_nr == 0 {
            return Err(invalid("rx_block_nr must be > 0"));
        }
        for (v, what) in [
            (self.rx_frame_size, "rx_frame_size"),
            (self.tx_frame_size, "tx_frame_size"),
        ] {
            if v < 128 || v & 15 != 0 {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("{what} must be a multiple of 16 and at least 128"),
                ));
            }
        }
        if self.rx_frame_size > self.rx_block_size {
            return Err(invalid("rx_frame_size must not exceed rx_block_size"));
        }
        if self.tx_frame_nr == 0 {
            return Err(invalid("tx_frame_nr must be > 0"));
        }
        if (self.rx_block_size as u64) * u64::from(self.rx_block_nr) > (1 << 31) {
            return Err(invalid("rx ring larger than 2 GiB"));
        }
        Ok(())
    }
}

/// What the kernel accepted at [`HostIf::open`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    /// TX ring frame format (V2 only if V3 was refused or forced).
    pub tx_version: TxVersion,
    /// RX frames carry a virtio-net header ([`RxPkt::csum`]/[`RxPkt::gso`] work).
    pub vnet_hdr: bool,
    /// `PACKET_IGNORE_OUTGOING` is active on RX.
    pub ignore_outgoing: bool,
    /// `PACKET_QDISC_BYPASS` is active on TX.
    pub qdisc_bypass: bool,
    /// Rings are mapped with `MAP_LOCKED`.
    pub rx_locked: bool,
    /// See `rx_locked`.
    pub tx_locked: bool,
    /// RX block size in bytes.
    pub rx_block_size: u32,
    /// RX block count.
    pub rx_block_nr: u32,
    /// TX frame size in bytes (header included).
    pub tx_frame_size: u32,
    /// TX frame count actually allocated.
    pub tx_frame_nr: u32,
}

/// Counters, cumulative since [`HostIf::open`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// Frames the kernel put into the RX ring (PACKET_STATISTICS).
    pub rx_packets: u64,
    /// Frames the kernel dropped because the RX ring was full.
    pub rx_drops: u64,
    /// Times the kernel found every RX block in use (queue frozen).
    pub rx_freeze_q: u64,
    /// RX blocks given back early because their contents made no sense.
    pub rx_bad_blocks: u64,
    /// Frames committed to the TX ring.
    pub tx_frames: u64,
    /// `tx_slot` calls that found the TX ring full (one per refused frame).
    pub tx_ring_full: u64,
    /// Frames refused by `commit`/`tx_send` (too long or too short).
    pub tx_rejected: u64,
    /// `send()` returned EAGAIN/ENOBUFS: frames stay queued for the next
    /// flush (ENOBUFS means the driver dropped one frame).
    pub tx_busy: u64,
    /// `send()` failed otherwise (e.g. ENETDOWN), or the kernel marked a
    /// frame malformed.
    pub tx_errors: u64,
    /// Queued frames thrown away after a hard `send()` error.
    pub tx_discarded: u64,
}

/// An AF_PACKET "host interface": RX and TX rings on one Linux interface.
///
/// Not `Sync`: one worker thread polls it. Dropping it unmaps the rings and
/// closes the sockets (which also leaves promiscuous mode).
#[derive(Debug)]
pub struct HostIf {
    // Field order matters: rings (mappings) are dropped before the sockets.
    rx: RxRing,
    tx: TxRing,
    rx_fd: OwnedFd,
    tx_fd: OwnedFd,
    name: IfNameDebug,
    ifindex: u32,
    caps: Caps,
    mac: [u8; 6],
    mtu: u32,
    stats: Stats,
}

/// `IfName` with a readable `Debug`.
#[derive(Clone, Copy)]
struct IfNameDebug(IfName);

impl std::fmt::Debug for IfNameDebug {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.0.as_str(), f)
    }
}

/// Size of the TX ring block: the kernel allocates rings per block, frames
/// never straddle blocks, and the block must be page-aligned.
fn tx_block_size(frame: usize, page: usize) -> usize {
    frame.max(64 << 10).div_ceil(page) * page
}

impl HostIf {
    /// Opens `ifname` (in the calling thread's network namespace) with the
    /// given ring geometry. Errors carry the errno of the failing step.
    pub fn open(ifname: &str, opts: &Opts) -> io::Result<HostIf> {
        let name = IfName::new(ifname)?;
        let page = sys::page_size();
        opts.validate(page)?;

        // ---- RX: TPACKET_V3 block ring ----
        let rx_fd = sys::packet_socket()?;
        let rfd = rx_fd.as_raw_fd();
        let ifindex = sys::if_index(rfd, &name)?;
        let v3 = libc::tpacket_versions::TPACKET_V3 as c_int;
        sys::set_packet_opt(rfd, libc::PACKET_VERSION, &v3)?;
        // Must precede the ring. Kernels without ring support for it fail here.
        let vnet_hdr = opts.vnet_hdr && sys::set_packet_opt(rfd, libc::PACKET_VNET_HDR, &1).is_ok();
        let per_block = opts.rx_block_size / opts.rx_frame_size;
        let req = libc::tpacket_req3 {
            tp_block_size: opts.rx_block_size,
            tp_block_nr: opts.rx_block_nr,
            tp_frame_size: opts.rx_frame_size,
            tp_frame_nr: per_block * opts.rx_block_nr,
            tp_retire_blk_tov: opts.rx_retire_tov_ms,
            tp_sizeof_priv: 0,
            tp_feature_req_word: 0,
        };
        sys::set_packet_opt(rfd, libc::PACKET_RX_RING, &req)?;
        let rx_len = opts.rx_block_size as usize * opts.rx_block_nr as usize;
        let rx_map = Mapping::new(rfd, rx_len, opts.map_locked)?;
        // Since 4.20; without it we also see what the host itself sends.
        let ignore_outgoing = opts.ignore_outgoing
            && sys::set_packet_opt(rfd, libc::PACKET_IGNORE_OUTGOING, &1).is_ok();
        if opts.promisc {
            let mreq = libc::packet_mreq {
                mr_ifindex: ifindex,
                mr_type: libc::c_ushort::try_from(libc::PACKET_MR_PROMISC).expect("small"),
                mr_alen: 0,
                mr_address: [0; 8],
            };
            sys::set_packet_opt(rfd, libc::PACKET_ADD_MEMBERSHIP, &mreq)?;
        }
        // Bind last: only now do frames start arriving, all from `ifindex`.
        sys::bind_ll(rfd, u16::try_from(libc::ETH_P_ALL).expect("small"), ifindex)?;
        let rx = RxRing::new(
            rx_map,
            opts.rx_block_size as usize,
            opts.rx_block_nr as usize,
            vnet_hdr,
        );

        // ---- TX: frame ring, V3 if the kernel takes it ----
        let tx_fd = sys::packet_socket()?;
        let tfd = tx_fd.as_raw_fd();
        // A malformed frame is skipped instead of stalling the ring forever
        // in TP_STATUS_WRONG_FORMAT. Must precede the ring.
        sys::set_packet_opt(tfd, libc::PACKET_LOSS, &1)?;
        let qdisc_bypass =
            opts.qdisc_bypass && sys::set_packet_opt(tfd, libc::PACKET_QDISC_BYPASS, &1).is_ok();
        let fs = opts.tx_frame_size as usize;
        let bs = tx_block_size(fs, page);
        let fpb = bs / fs;
        let block_nr = (opts.tx_frame_nr as usize).div_ceil(fpb);
        let frame_nr = block_nr * fpb;
        let to_u32 = |v: usize| u32::try_from(v).map_err(|_| invalid("tx ring too large"));
        let (bs32, bn32, fn32) = (to_u32(bs)?, to_u32(block_nr)?, to_u32(frame_nr)?);
        let mut tx_version = TxVersion::V3;
        let v3_res = if opts.force_tx_v2 {
            Err(io::Error::from_raw_os_error(libc::EINVAL))
        } else {
            sys::set_packet_opt(tfd, libc::PACKET_VERSION, &v3).and_then(|()| {
                // A V3 TX ring is a frame ring: retire timeout, private area
                // and feature word must all be 0 or the kernel says EINVAL.
                let req = libc::tpacket_req3 {
                    tp_block_size: bs32,
                    tp_block_nr: bn32,
                    tp_frame_size: opts.tx_frame_size,
                    tp_frame_nr: fn32,
                    tp_retire_blk_tov: 0,
                    tp_sizeof_priv: 0,
                    tp_feature_req_word: 0,
                };
                sys::set_packet_opt(tfd, libc::PACKET_TX_RING, &req)
            })
        };
        if let Err(e) = v3_res {
            // Pre-4.11 kernels refuse a V3 TX ring: use V2 for TX.
            if e.raw_os_error() != Some(libc::EINVAL) {
                return Err(e);
            }
            tx_version = TxVersion::V2;
            let v2 = libc::tpacket_versions::TPACKET_V2 as c_int;
            sys::set_packet_opt(tfd, libc::PACKET_VERSION, &v2)?;
            let req = libc::tpacket_req {
                tp_block_size: bs32,
                tp_block_nr: bn32,
                tp_frame_size: opts.tx_frame_size,
                tp_frame_nr: fn32,
            };
            sys::set_packet_opt(tfd, libc::PACKET_TX_RING, &req)?;
        }
        let tx_map = Mapping::new(tfd, bs * block_nr, opts.map_locked)?;
        // Protocol 0: an interface binding for sending, but no receive hook.
        // The kernel derives skb->protocol from the Ethernet header.
        sys::bind_ll(tfd, 0, ifindex)?;

        let mtu = sys::if_mtu(rfd, &name)?;
        let mac = sys::if_hwaddr(rfd, &name)?;
        let tx = TxRing::new(tx_map, tx_version, fs, bs, frame_nr, mtu);
        let caps = Caps {
            tx_version,
            vnet_hdr,
            ignore_outgoing,
            qdisc_bypass,
            rx_locked: rx.locked(),
            tx_locked: tx.locked(),
            rx_block_size: opts.rx_block_size,
            rx_block_nr: opts.rx_block_nr,
            tx_frame_size: opts.tx_frame_size,
            tx_frame_nr: fn32,
        };
        Ok(HostIf {
            rx,
            tx,
            rx_fd,
            tx_fd,
            name: IfNameDebug(name),
            ifindex: u32::try_from(ifindex).map_err(|_| invalid("negative ifindex"))?,
            caps,
            mac,
            mtu,
            stats: Stats::default(),
        })
    }

    /// Kernel interface name.
    pub fn name(&self) -> &str {
        self.name.0.as_str()
    }

    /// Kernel interface index.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// What the kernel accepted (ring versions, offload header, …).
    pub fn caps(&self) -> &Caps {
        &self.caps
    }

    /// The RX socket: becomes readable (level-triggered) when an RX block is
    /// retired. Register it with [`Epoll`] for interrupt rx-mode.
    pub fn fd(&self) -> RawFd {
        self.rx_fd.as_raw_fd()
    }

    /// The TX socket (EPOLLOUT when a TX frame is free); rarely needed.
    pub fn tx_fd(&self) -> RawFd {
        self.tx_fd.as_raw_fd()
    }

    /// Hands up to `max` received frames to `f`, in arrival order, and
    /// returns how many were consumed. Never blocks or allocates.
    ///
    /// `f` returns `false` when it has no room: that frame is *not*
    /// consumed and the next call starts with it. A call may stop inside a
    /// ring block; the position is kept, and the block goes back to the
    /// kernel only once all its frames are consumed.
    pub fn rx_burst<F: FnMut(RxPkt<'_>) -> bool>(&mut self, max: usize, mut f: F) -> usize {
        self.rx.burst(max, &mut f)
    }

    /// Whether [`rx_burst`](Self::rx_burst) would find a frame, without a
    /// syscall (adaptive mode: poll while true, else sleep on [`fd`](Self::fd)).
    pub fn rx_ready(&self) -> bool {
        self.rx.ready()
    }

    /// A free TX frame to fill, or `None` if the ring is full (counted in
    /// [`Stats::tx_ring_full`]; the caller drops the frame). When the ring
    /// is full and frames are waiting for `send()`, flushes once first.
    pub fn tx_slot(&mut self) -> Option<TxSlot<'_>> {
        if self.tx.unflushed > 0 && !self.tx.head_free() {
            // Best effort: an error here is counted and shows up as a full ring.
            let _ = self.tx_flush();
        }
        self.tx.slot()
    }

    /// Copies `frame` into the next TX frame (no flush).
    pub fn tx_send(&mut self, frame: &[u8]) -> Result<(), TxError> {
        let max = self.tx.capacity();
        if frame.len() > max {
            self.tx.c.rejected += 1;
            return Err(TxError::TooLong {
                len: frame.len(),
                max: self.tx.max_len(),
            });
        }
        let mut slot = self.tx_slot().ok_or(TxError::RingFull)?;
        slot.buf()[..frame.len()].copy_from_slice(frame);
        slot.commit(frame.len())
    }

    /// Queues every frame of `frames` that fits and flushes once. Frames
    /// that are too long are skipped; when the ring fills up, the rest are
    /// dropped and counted in [`Stats::tx_ring_full`]. Returns how many
    /// were queued.
    pub fn tx_burst<'p, I: IntoIterator<Item = &'p [u8]>>(&mut self, frames: I) -> usize {
        let mut it = frames.into_iter();
        let mut n = 0;
        while let Some(f) = it.next() {
            match self.tx_send(f) {
                Ok(()) => n += 1,
                Err(TxError::RingFull) => {
                    let rest = it.count() as u64;
                    self.tx.c.ring_full += rest;
                    break;
                }
                Err(_) => {}
            }
        }
        // Errors are counted in the stats; the frames stay accounted for.
        let _ = self.tx_flush();
        n
    }

    /// Frames committed but not yet passed to `send()`.
    pub fn tx_pending(&self) -> u32 {
        self.tx.unflushed
    }

    /// Largest frame [`tx_send`](Self::tx_send) accepts right now (untagged;
    /// +4 for a VLAN-tagged frame, within [`TxSlot::capacity`]).
    pub fn tx_max_len(&self) -> usize {
        self.tx.max_len()
    }

    /// Asks the kernel to send all committed frames: one nonblocking
    /// `send(fd, NULL, 0, MSG_DONTWAIT)`, skipped if nothing is pending.
    ///
    /// EAGAIN/ENOBUFS return `Ok` (counted as [`Stats::tx_busy`]); the
    /// frames stay queued, so call again later while
    /// [`tx_pending`](Self::tx_pending) is non-zero. Any other error (e.g.
    /// ENETDOWN) discards the queued frames so that stale frames are not
    /// sent when the link comes back, and is returned.
    pub fn tx_flush(&mut self) -> io::Result<()> {
        if self.tx.unflushed == 0 {
            return Ok(());
        }
        match sys::kick_tx(self.tx_fd.as_raw_fd()) {
            Ok(()) => {
                self.tx.unflushed = 0;
                Ok(())
            }
            Err(e) => match e.raw_os_error() {
                Some(libc::EAGAIN | libc::ENOBUFS | libc::EINTR) => {
                    self.tx.c.busy += 1;
                    Ok(())
                }
                _ => {
                    self.tx.c.errors += 1;
                    self.tx.discard_pending();
                    Err(e)
                }
            },
        }
    }

    /// Cumulative counters. Reads (and thereby clears) the kernel's
    /// PACKET_STATISTICS and adds them to the running totals.
    pub fn stats(&mut self) -> Stats {
        if let Ok(st) = sys::packet_stats_v3(self.rx_fd.as_raw_fd()) {
            // tp_packets already includes tp_drops.
            let drops = u64::from(st.tp_drops);
            self.stats.rx_packets += u64::from(st.tp_packets).saturating_sub(drops);
            self.stats.rx_drops += drops;
            self.stats.rx_freeze_q += u64::from(st.tp_freeze_q_cnt);
        }
        let c = self.tx.c;
        Stats {
            rx_bad_blocks: self.rx.bad_blocks,
            tx_frames: c.frames,
            tx_ring_full: c.ring_full,
            tx_rejected: c.rejected,
            tx_busy: c.busy,
            tx_errors: c.errors,
            tx_discarded: c.discarded,
            ..self.stats
        }
    }

    /// Interface is administratively up and has carrier (IFF_UP and
    /// IFF_RUNNING). False if the interface cannot be queried.
    pub fn link_up(&self) -> bool {
        let want = libc::IFF_UP | libc::IFF_RUNNING;
        sys::if_flags(self.rx_fd.as_raw_fd(), &self.name.0).is_ok_and(|f| f & want == want)
    }

    /// Current MAC address (value from `open` if the query fails).
    pub fn mac(&self) -> [u8; 6] {
        sys::if_hwaddr(self.rx_fd.as_raw_fd(), &self.name.0).unwrap_or(self.mac)
    }

    /// Current MTU (value from `open` if the query fails). Also refreshes
    /// the TX length limit, so call it when the MTU may have changed.
    pub fn mtu(&self) -> u32 {
        let mtu = sys::if_mtu(self.rx_fd.as_raw_fd(), &self.name.0).unwrap_or(self.mtu);
        self.tx.set_mtu(mtu);
        mtu
    }

    /// Returns and clears the RX socket's pending error (`ENETDOWN` after
    /// the link went down). Call it when [`Epoll`] reports
    /// [`Ready::error`], or epoll keeps waking up.
    pub fn take_error(&self) -> Option<io::Error> {
        match sys::take_so_error(self.rx_fd.as_raw_fd()) {
            Ok(0) => None,
            Ok(e) => Some(io::Error::from_raw_os_error(e)),
            Err(e) => Some(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opts_validation() {
        let page = sys::page_size();
        assert!(Opts::default().validate(page).is_ok());
        let bad = [
            Opts {
                rx_block_size: 1000,
                ..Opts::default()
            },
            Opts {
                rx_block_nr: 0,
                ..Opts::default()
            },
            Opts {
                tx_frame_size: 2000 + 1,
                ..Opts::default()
            },
            Opts {
                rx_frame_size: 64,
                ..Opts::default()
            },
            Opts {
                tx_frame_nr: 0,
                ..Opts::default()
            },
        ];
        for o in bad {
            let e = o.validate(page).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{o:?}");
        }
    }

    #[test]
    fn bad_names_rejected_before_any_syscall() {
        for n in ["", "a/b", "0123456789abcdef", "x\0y"] {
            let e = HostIf::open(n, &Opts::default()).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{n:?}");
        }
    }

    #[test]
    fn tx_geometry() {
        assert_eq!(tx_block_size(2048, 4096), 64 << 10);
        assert_eq!(tx_block_size(10240, 4096), 64 << 10);
        assert_eq!(tx_block_size(100_000, 4096), 102_400);
        assert_eq!(TxVersion::V3.data_off(), 48);
        assert_eq!(TxVersion::V2.data_off(), 32);
    }
}
