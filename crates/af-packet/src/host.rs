//! The driver API: [`HostIf`] (one RX and one TX queue on a Linux
//! interface), and its two halves [`RxQueue`] and [`TxQueue`], which the
//! graph integration owns separately (the RX queue is polled by one thread,
//! every thread has a TX queue of its own).

use std::ffi::c_int;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use crate::mmap::Mapping;
use crate::rx::{BlockRing, RxPkt, RxRing};
use crate::rx2::FrameRing;
use crate::sys::{self, IfName};
use crate::tx::{TxError, TxRing, TxSlot, TxVersion};

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
    /// A TPACKET_V2 RX ring (`rx_block_size / rx_frame_size` frames of `rx_frame_size` per
    /// block): each frame reaches us as soon as it is written, where a V3 block waits for
    /// `rx_retire_tov_ms` (a kernel on the jiffy timer rounds it up to a jiffy) unless it fills. Frames longer than a ring
    /// frame (GSO super-packets) are read whole from the socket (`PACKET_COPY_THRESH`).
    pub rx_v2: bool,
    /// Both rings, on two sockets of one fanout group: V2 while the interface is quiet, V3
    /// while it is busy (`hybrid.rs`, `create host-interface hybrid`). Ignored with `rx_v2`; a
    /// kernel that cannot (before 6.2) gets the V3 ring.
    pub rx_hybrid: bool,
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
            rx_v2: false,
            rx_hybrid: false,
        }
    }
}

fn invalid(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg.to_string())
}

impl Opts {
    pub(crate) fn validate(&self, page: usize) -> io::Result<()> {
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
    /// The RX ring is a TPACKET_V2 frame ring (else V3 blocks).
    pub rx_v2: bool,
    /// The RX path has both rings and switches by rate ([`Opts::rx_hybrid`] accepted).
    pub rx_hybrid: bool,
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
    /// RX blocks (V3), or frames (V2), given back early because their contents
    /// made no sense.
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
pub(crate) fn tx_block_size(frame: usize, page: usize) -> usize {
    frame.max(64 << 10).div_ceil(page) * page
}

/// Asks for the RX ring `req` describes (a `tpacket_req` or `tpacket_req3`) and maps its `len`
/// bytes.
fn rx_ring<T: sys::SockOpt>(fd: c_int, req: &T, len: usize, lock: bool) -> io::Result<Mapping> {
    sys::set_packet_opt(fd, libc::PACKET_RX_RING, req)?;
    Mapping::new(fd, len, lock)
}

/// Sets up the RX socket `rfd` (not yet bound) with a V2 frame ring or a V3 block ring and,
/// when asked and accepted, the virtio-net header (which must precede the ring). Returns the
/// ring and whether the header is on.
pub(crate) fn rx_socket(rfd: c_int, opts: &Opts, v2: bool) -> io::Result<(RxRing, bool)> {
    let version = if v2 {
        libc::tpacket_versions::TPACKET_V2
    } else {
        libc::tpacket_versions::TPACKET_V3
    };
    sys::set_packet_opt(rfd, libc::PACKET_VERSION, &(version as c_int))?;
    // Must precede the ring. Kernels without ring support for it fail here.
    let vnet_hdr = opts.vnet_hdr && sys::set_packet_opt(rfd, libc::PACKET_VNET_HDR, &1).is_ok();
    let per_block = opts.rx_block_size / opts.rx_frame_size;
    let rx_len = opts.rx_block_size as usize * opts.rx_block_nr as usize;
    let ring = if v2 {
        // Frames too long for a ring frame are also queued on the socket whole; room for
        // a burst of 64 KiB super-packets there (the default would hold about three).
        sys::set_packet_opt(rfd, libc::PACKET_COPY_THRESH, &1)?;
        sys::set_rcvbuf(rfd, 8 << 20)?;
        let req = libc::tpacket_req {
            tp_block_size: opts.rx_block_size,
            tp_block_nr: opts.rx_block_nr,
            tp_frame_size: opts.rx_frame_size,
            tp_frame_nr: per_block * opts.rx_block_nr,
        };
        RxRing::V2(FrameRing::new(
            rx_ring(rfd, &req, rx_len, opts.map_locked)?,
            opts.rx_block_size as usize,
            opts.rx_frame_size as usize,
            (per_block * opts.rx_block_nr) as usize,
            vnet_hdr,
        ))
    } else {
        let req = libc::tpacket_req3 {
            tp_block_size: opts.rx_block_size,
            tp_block_nr: opts.rx_block_nr,
            tp_frame_size: opts.rx_frame_size,
            tp_frame_nr: per_block * opts.rx_block_nr,
            tp_retire_blk_tov: opts.rx_retire_tov_ms,
            tp_sizeof_priv: 0,
            tp_feature_req_word: 0,
        };
        RxRing::V3(BlockRing::new(
            rx_ring(rfd, &req, rx_len, opts.map_locked)?,
            opts.rx_block_size as usize,
            opts.rx_block_nr as usize,
            vnet_hdr,
        ))
    };
    Ok((ring, vnet_hdr))
}

/// The receive half of a host interface: the TPACKET_V3 block ring (or, with
/// [`Opts::rx_v2`], the TPACKET_V2 frame ring) on its own socket. Polled by one thread at a time (`&mut self`).
#[derive(Debug)]
pub struct RxQueue {
    // Field order matters: the ring (mapping) is dropped before the socket.
    ring: RxRing,
    fd: OwnedFd,
    name: IfNameDebug,
    vnet_hdr: bool,
    ignore_outgoing: bool,
    /// Running totals of the kernel's clear-on-read PACKET_STATISTICS.
    rx_packets: u64,
    rx_drops: u64,
    rx_freeze_q: u64,
}

impl RxQueue {
    /// Opens the RX socket and ring on `name` (in the calling thread's
    /// network namespace). Returns the queue and the interface index.
    fn open(name: &IfName, opts: &Opts) -> io::Result<(RxQueue, c_int)> {
        let rx_fd = sys::packet_socket()?;
        let rfd = rx_fd.as_raw_fd();
        let ifindex = sys::if_index(rfd, name)?;
        let (ring, vnet_hdr) = rx_socket(rfd, opts, opts.rx_v2)?;
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
        let ring = match ring {
            // The group flag that keeps our own TX out is what the kernel may refuse; without
            // the group this stays the V3 ring (`hybrid.rs`).
            RxRing::V3(v3) if opts.rx_hybrid && ignore_outgoing => {
                crate::hybrid::open(rfd, v3, ifindex, opts, vnet_hdr)?
            }
            r => r,
        };
        let q = RxQueue {
            ring,
            fd: rx_fd,
            name: IfNameDebug(*name),
            vnet_hdr,
            ignore_outgoing,
            rx_packets: 0,
            rx_drops: 0,
            rx_freeze_q: 0,
        };
        Ok((q, ifindex))
    }

    /// Kernel interface name.
    pub fn name(&self) -> &str {
        self.name.0.as_str()
    }

    /// The socket: readable (level-triggered) while a retired block (V3) or a
    /// written frame (V2) waits for us; `EPOLLERR` after the link went down
    /// (see [`take_error`](Self::take_error)).
    pub fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// The second RX socket of the hybrid path (V2 ring), to be watched like [`fd`](Self::fd).
    pub fn fd_v2(&self) -> Option<RawFd> {
        match &self.ring {
            RxRing::Hybrid(h) => Some(h.v2_fd()),
            _ => None,
        }
    }

    /// The hybrid path's mode and switch counters (shared with `show hardware-interfaces`).
    pub fn hybrid_stats(&self) -> Option<std::sync::Arc<crate::hybrid::HybridStats>> {
        match &self.ring {
            RxRing::Hybrid(h) => Some(h.stats().clone()),
            _ => None,
        }
    }

    /// Lets the hybrid path look at its rate without a burst (a quiet link goes back to V2);
    /// the RX owner calls it now and then. Nothing for the other rings.
    pub fn tick(&mut self) {
        if let RxRing::Hybrid(h) = &mut self.ring {
            h.tick(self.fd.as_raw_fd());
        }
    }

    /// Frames carry the virtio-net header.
    pub fn vnet_hdr(&self) -> bool {
        self.vnet_hdr
    }

    /// See [`HostIf::rx_burst`].
    #[inline]
    pub fn burst<F: FnMut(RxPkt<'_>) -> bool>(&mut self, max: usize, mut f: F) -> usize {
        self.ring.burst(self.fd.as_raw_fd(), max, &mut f)
    }

    /// See [`HostIf::rx_ready`].
    #[inline]
    pub fn ready(&self) -> bool {
        self.ring.ready()
    }

    /// Folds the kernel's clear-on-read PACKET_STATISTICS into the running
    /// totals and returns `(delivered, dropped)` since the previous call.
    pub fn poll_kernel_stats(&mut self) -> (u64, u64) {
        let (mut pkts, mut drops) = (0, 0);
        for fd in std::iter::once(self.fd.as_raw_fd()).chain(self.fd_v2()) {
            if let Ok(st) = sys::packet_stats_v3(fd) {
                // tp_packets already includes tp_drops.
                let d = u64::from(st.tp_drops);
                pkts += u64::from(st.tp_packets).saturating_sub(d);
                drops += d;
                self.rx_freeze_q += u64::from(st.tp_freeze_q_cnt);
            }
        }
        self.rx_packets += pkts;
        self.rx_drops += drops;
        (pkts, drops)
    }

    /// RX counters (reads the kernel statistics first).
    pub fn stats(&mut self) -> Stats {
        self.poll_kernel_stats();
        Stats {
            rx_packets: self.rx_packets,
            rx_drops: self.rx_drops,
            rx_freeze_q: self.rx_freeze_q,
            rx_bad_blocks: self.ring.bad(),
            ..Stats::default()
        }
    }

    /// See [`HostIf::link_up`].
    pub fn link_up(&self) -> bool {
        let want = libc::IFF_UP | libc::IFF_RUNNING;
        sys::if_flags(self.fd.as_raw_fd(), &self.name.0).is_ok_and(|f| f & want == want)
    }

    /// Current MTU of the interface, if it can be queried.
    pub fn query_mtu(&self) -> Option<u32> {
        sys::if_mtu(self.fd.as_raw_fd(), &self.name.0).ok()
    }

    /// Current MAC address of the interface, if it can be queried.
    pub fn query_mac(&self) -> Option<[u8; 6]> {
        sys::if_hwaddr(self.fd.as_raw_fd(), &self.name.0).ok()
    }

    /// See [`HostIf::take_error`].
    pub fn take_error(&self) -> Option<io::Error> {
        match sys::take_so_error(self.fd.as_raw_fd()) {
            Ok(0) => None,
            Ok(e) => Some(io::Error::from_raw_os_error(e)),
            Err(e) => Some(e),
        }
    }
}

/// The transmit half of a host interface: a frame ring on its own socket.
/// Several may exist per interface (pwire gives every thread one, so
/// threads never share a ring and need no lock).
#[derive(Debug)]
pub struct TxQueue {
    // Field order matters: the ring (mapping) is dropped before the socket.
    ring: TxRing,
    fd: OwnedFd,
    version: TxVersion,
    qdisc_bypass: bool,
    frame_size: u32,
    frame_nr: u32,
}

impl TxQueue {
    /// Opens a TX queue on `ifname` (in the calling thread's network
    /// namespace), with the TX geometry and options of `opts`.
    pub fn open(ifname: &str, opts: &Opts) -> io::Result<TxQueue> {
        let name = IfName::new(ifname)?;
        opts.validate(sys::page_size())?;
        let probe = sys::packet_socket()?;
        let ifindex = sys::if_index(probe.as_raw_fd(), &name)?;
        let mtu = sys::if_mtu(probe.as_raw_fd(), &name)?;
        Self::open_on(ifindex, mtu, opts)
    }

    fn open_on(ifindex: c_int, mtu: u32, opts: &Opts) -> io::Result<TxQueue> {
        let page = sys::page_size();
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
        let mut version = TxVersion::V3;
        let v3 = libc::tpacket_versions::TPACKET_V3 as c_int;
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
            version = TxVersion::V2;
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
        Ok(TxQueue {
            ring: TxRing::new(tx_map, version, fs, bs, frame_nr, mtu),
            fd: tx_fd,
            version,
            qdisc_bypass,
            frame_size: opts.tx_frame_size,
            frame_nr: fn32,
        })
    }

    /// The socket (EPOLLOUT when a TX frame is free); rarely needed.
    pub fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Ring frame format.
    pub fn version(&self) -> TxVersion {
        self.version
    }

    /// `PACKET_QDISC_BYPASS` is active.
    pub fn qdisc_bypass(&self) -> bool {
        self.qdisc_bypass
    }

    /// Whether the ring is mapped with `MAP_LOCKED`.
    pub fn locked(&self) -> bool {
        self.ring.locked()
    }

    /// Frame size and count of the ring.
    pub fn geometry(&self) -> (u32, u32) {
        (self.frame_size, self.frame_nr)
    }

    /// See [`HostIf::tx_slot`].
    #[inline]
    pub fn slot(&mut self) -> Option<TxSlot<'_>> {
        if self.ring.unflushed > 0 && !self.ring.head_free() {
            // Best effort: an error here is counted and shows up as a full ring.
            let _ = self.flush();
        }
        self.ring.slot()
    }

    /// See [`HostIf::tx_send`].
    pub fn send(&mut self, frame: &[u8]) -> Result<(), TxError> {
        let max = self.ring.capacity();
        if frame.len() > max {
            self.ring.c.rejected += 1;
            return Err(TxError::TooLong {
                len: frame.len(),
                max: self.ring.max_len(),
            });
        }
        let mut slot = self.slot().ok_or(TxError::RingFull)?;
        slot.buf()[..frame.len()].copy_from_slice(frame);
        slot.commit(frame.len())
    }

    /// See [`HostIf::tx_burst`].
    pub fn burst<'p, I: IntoIterator<Item = &'p [u8]>>(&mut self, frames: I) -> usize {
        let mut it = frames.into_iter();
        let mut n = 0;
        while let Some(f) = it.next() {
            match self.send(f) {
                Ok(()) => n += 1,
                Err(TxError::RingFull) => {
                    let rest = it.count() as u64;
                    self.ring.c.ring_full += rest;
                    break;
                }
                Err(_) => {}
            }
        }
        // Errors are counted in the stats; the frames stay accounted for.
        let _ = self.flush();
        n
    }

    /// Frames committed but not yet passed to `send()`.
    #[inline]
    pub fn pending(&self) -> u32 {
        self.ring.unflushed
    }

    /// Largest untagged frame accepted right now (MTU + 14, within a ring frame).
    #[inline]
    pub fn max_len(&self) -> usize {
        self.ring.max_len()
    }

    /// Updates the MTU limit (the kernel drops longer frames silently).
    pub fn set_mtu(&self, mtu: u32) {
        self.ring.set_mtu(mtu);
    }

    /// See [`HostIf::tx_flush`].
    pub fn flush(&mut self) -> io::Result<()> {
        if self.ring.unflushed == 0 {
            return Ok(());
        }
        match sys::kick_tx(self.fd.as_raw_fd()) {
            Ok(()) => {
                self.ring.unflushed = 0;
                Ok(())
            }
            Err(e) => match e.raw_os_error() {
                Some(libc::EAGAIN | libc::ENOBUFS | libc::EINTR) => {
                    self.ring.c.busy += 1;
                    Ok(())
                }
                _ => {
                    self.ring.c.errors += 1;
                    self.ring.discard_pending();
                    Err(e)
                }
            },
        }
    }

    /// TX counters (the `tx_*` fields of [`Stats`]; the rest are 0).
    pub fn stats(&self) -> Stats {
        let c = self.ring.c;
        Stats {
            tx_frames: c.frames,
            tx_ring_full: c.ring_full,
            tx_rejected: c.rejected,
            tx_busy: c.busy,
            tx_errors: c.errors,
            tx_discarded: c.discarded,
            ..Stats::default()
        }
    }
}

/// An AF_PACKET "host interface": RX and TX rings on one Linux interface.
///
/// Not `Sync`: one thread polls it. Dropping it unmaps the rings and
/// closes the sockets (which also leaves promiscuous mode). [`split`](Self::split)
/// hands out the two queues for separate owners.
#[derive(Debug)]
pub struct HostIf {
    rx: RxQueue,
    tx: TxQueue,
    ifindex: u32,
    caps: Caps,
    mac: [u8; 6],
    mtu: u32,
}

impl HostIf {
    /// Opens `ifname` (in the calling thread's network namespace) with the
    /// given ring geometry. Errors carry the errno of the failing step.
    pub fn open(ifname: &str, opts: &Opts) -> io::Result<HostIf> {
        let name = IfName::new(ifname)?;
        opts.validate(sys::page_size())?;
        let (rx, ifindex) = RxQueue::open(&name, opts)?;
        let rfd = rx.fd();
        let mtu = sys::if_mtu(rfd, &name)?;
        let mac = sys::if_hwaddr(rfd, &name)?;
        let tx = TxQueue::open_on(ifindex, mtu, opts)?;
        let caps = Caps {
            tx_version: tx.version,
            vnet_hdr: rx.vnet_hdr,
            ignore_outgoing: rx.ignore_outgoing,
            qdisc_bypass: tx.qdisc_bypass,
            rx_locked: rx.ring.locked(),
            tx_locked: tx.ring.locked(),
            rx_v2: matches!(rx.ring, RxRing::V2(_)),
            rx_hybrid: matches!(rx.ring, RxRing::Hybrid(_)),
            rx_block_size: opts.rx_block_size,
            rx_block_nr: opts.rx_block_nr,
            tx_frame_size: opts.tx_frame_size,
            tx_frame_nr: tx.frame_nr,
        };
        Ok(HostIf {
            rx,
            tx,
            ifindex: u32::try_from(ifindex).map_err(|_| invalid("negative ifindex"))?,
            caps,
            mac,
            mtu,
        })
    }

    /// See [`RxQueue::tick`].
    pub fn rx_tick(&mut self) {
        self.rx.tick();
    }

    /// See [`RxQueue::hybrid_stats`].
    pub fn hybrid_stats(&self) -> Option<std::sync::Arc<crate::hybrid::HybridStats>> {
        self.rx.hybrid_stats()
    }

    /// Separates the receive and transmit halves.
    pub fn split(self) -> (RxQueue, TxQueue) {
        (self.rx, self.tx)
    }

    /// Kernel interface name.
    pub fn name(&self) -> &str {
        self.rx.name()
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
    /// retired (V3) or a frame written (V2). Register it with
    /// [`Epoll`](crate::Epoll) for interrupt rx-mode.
    pub fn fd(&self) -> RawFd {
        self.rx.fd()
    }

    /// The TX socket (EPOLLOUT when a TX frame is free); rarely needed.
    pub fn tx_fd(&self) -> RawFd {
        self.tx.fd()
    }

    /// Hands up to `max` received frames to `f`, in arrival order, and
    /// returns how many were consumed. Never blocks or allocates.
    ///
    /// `f` returns `false` when it has no room: that frame is *not*
    /// consumed and the next call starts with it. A call may stop inside a
    /// ring block; the position is kept, and the block goes back to the
    /// kernel only once all its frames are consumed.
    pub fn rx_burst<F: FnMut(RxPkt<'_>) -> bool>(&mut self, max: usize, f: F) -> usize {
        self.rx.burst(max, f)
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
        self.tx.slot()
    }

    /// Copies `frame` into the next TX frame (no flush).
    pub fn tx_send(&mut self, frame: &[u8]) -> Result<(), TxError> {
        self.tx.send(frame)
    }

    /// Queues every frame of `frames` that fits and flushes once. Frames
    /// that are too long are skipped; when the ring fills up, the rest are
    /// dropped and counted in [`Stats::tx_ring_full`]. Returns how many
    /// were queued.
    pub fn tx_burst<'p, I: IntoIterator<Item = &'p [u8]>>(&mut self, frames: I) -> usize {
        self.tx.burst(frames)
    }

    /// Frames committed but not yet passed to `send()`.
    pub fn tx_pending(&self) -> u32 {
        self.tx.pending()
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
        self.tx.flush()
    }

    /// Cumulative counters. Reads (and thereby clears) the kernel's
    /// PACKET_STATISTICS and adds them to the running totals.
    pub fn stats(&mut self) -> Stats {
        let r = self.rx.stats();
        Stats {
            rx_packets: r.rx_packets,
            rx_drops: r.rx_drops,
            rx_freeze_q: r.rx_freeze_q,
            rx_bad_blocks: r.rx_bad_blocks,
            ..self.tx.stats()
        }
    }

    /// Interface is administratively up and has carrier (IFF_UP and
    /// IFF_RUNNING). False if the interface cannot be queried.
    pub fn link_up(&self) -> bool {
        self.rx.link_up()
    }

    /// Current MAC address (value from `open` if the query fails).
    pub fn mac(&self) -> [u8; 6] {
        self.rx.query_mac().unwrap_or(self.mac)
    }

    /// Current MTU (value from `open` if the query fails). Also refreshes
    /// the TX length limit, so call it when the MTU may have changed.
    pub fn mtu(&self) -> u32 {
        let mtu = self.rx.query_mtu().unwrap_or(self.mtu);
        self.tx.set_mtu(mtu);
        mtu
    }

    /// Returns and clears the RX socket's pending error (`ENETDOWN` after
    /// the link went down). Call it when [`Epoll`](crate::Epoll) reports
    /// [`Ready::error`](crate::Ready::error), or epoll keeps waking up.
    pub fn take_error(&self) -> Option<io::Error> {
        self.rx.take_error()
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
            let e = TxQueue::open(n, &Opts::default()).unwrap_err();
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
