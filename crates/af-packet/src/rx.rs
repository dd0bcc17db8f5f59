//! Receive rings: the TPACKET_V3 block ring (block walking) here, the TPACKET_V2 frame ring in
//! `rx2.rs`, and the per-packet metadata both lend out.
//!
//! Layout (linux/if_packet.h, Documentation/networking/packet_mmap.rst):
//! the ring is `block_nr` blocks of `block_size` bytes. Each block starts
//! with `struct tpacket_block_desc` whose `hdr.bh1.block_status` says who
//! owns it. Once the kernel retires a block (full, or `tp_retire_blk_tov`
//! ms after its first packet) it sets `TP_STATUS_USER`; the block then
//! holds `num_pkts` packets, the first at `offset_to_first_pkt`, each
//! starting with a `struct tpacket3_hdr` and linked by `tp_next_offset`.
//! We give the block back by storing `TP_STATUS_KERNEL`. Blocks are filled
//! strictly in ring order, so we only ever look at one "current" block.

use std::mem::{offset_of, size_of};
use std::sync::atomic::{AtomicU32, Ordering};

use crate::mmap::Mapping;
pub use crate::sys::VnetHdr;
use crate::sys::{self, VNET_HDR_LEN};

// Byte offsets into `struct tpacket_block_desc` (libc mirrors the kernel
// struct; `hdr` is a union whose only member `bh1` sits at offset 0).
const BLK_STATUS: usize =
    offset_of!(libc::tpacket_block_desc, hdr) + offset_of!(libc::tpacket_hdr_v1, block_status);
const BLK_NUM_PKTS: usize =
    offset_of!(libc::tpacket_block_desc, hdr) + offset_of!(libc::tpacket_hdr_v1, num_pkts);
const BLK_FIRST_PKT: usize = offset_of!(libc::tpacket_block_desc, hdr)
    + offset_of!(libc::tpacket_hdr_v1, offset_to_first_pkt);
const BLK_HDR_LEN: usize = size_of::<libc::tpacket_block_desc>();

// Byte offsets into `struct tpacket3_hdr`.
const H3_LEN: usize = size_of::<libc::tpacket3_hdr>();
const H3_NEXT: usize = offset_of!(libc::tpacket3_hdr, tp_next_offset);
const H3_SNAPLEN: usize = offset_of!(libc::tpacket3_hdr, tp_snaplen);
const H3_LENF: usize = offset_of!(libc::tpacket3_hdr, tp_len);
const H3_STATUS: usize = offset_of!(libc::tpacket3_hdr, tp_status);
const H3_MAC: usize = offset_of!(libc::tpacket3_hdr, tp_mac);
const H3_NET: usize = offset_of!(libc::tpacket3_hdr, tp_net);
const H3_SEC: usize = offset_of!(libc::tpacket3_hdr, tp_sec);
const H3_NSEC: usize = offset_of!(libc::tpacket3_hdr, tp_nsec);
const H3_VLAN_TCI: usize =
    offset_of!(libc::tpacket3_hdr, hv1) + offset_of!(libc::tpacket_hdr_variant1, tp_vlan_tci);
const H3_VLAN_TPID: usize =
    offset_of!(libc::tpacket3_hdr, hv1) + offset_of!(libc::tpacket_hdr_variant1, tp_vlan_tpid);

const _: () = assert!(H3_LEN == 48 && BLK_HDR_LEN == 48 && BLK_STATUS == 8);

fn u32_at<const N: usize>(b: &[u8; N], at: usize) -> u32 {
    u32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn u16_at<const N: usize>(b: &[u8; N], at: usize) -> u16 {
    u16::from_ne_bytes([b[at], b[at + 1]])
}

/// An 802.1Q/802.1ad tag the kernel stripped from the frame
/// (`TP_STATUS_VLAN_VALID`). Values are host order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Vlan {
    /// Tag protocol identifier: 0x8100 or 0x88a8. When the kernel did not
    /// report it (`TP_STATUS_VLAN_TPID_VALID` clear) this is 0x8100.
    pub tpid: u16,
    /// Tag control information (PCP, DEI, VID).
    pub tci: u16,
}

impl Vlan {
    /// VLAN id (low 12 bits of the TCI).
    pub fn vid(&self) -> u16 {
        self.tci & 0x0fff
    }
}

/// Where the unfinished L4 checksum is (`CHECKSUM_PARTIAL` semantics, from
/// the virtio-net header): sum everything from `start` to the end of the L4
/// payload, fold, complement, store big-endian at `start + offset`. The
/// field already holds the pseudo-header sum. Offsets are relative to
/// [`RxPkt::data`] (the frame *without* a re-inserted VLAN tag).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartialCsum {
    /// Offset of the L4 header in the frame.
    pub start: u16,
    /// Offset of the checksum field from `start` (6 for UDP, 16 for TCP).
    pub offset: u16,
}

/// GSO metadata of a super-packet (only with the virtio-net header on).
/// Such a frame can be up to 64 KiB; the caller must segment it (or drop
/// it) before sending it to a wire with a normal MTU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gso {
    /// `VIRTIO_NET_HDR_GSO_*` (TCPV4, TCPV6, UDP, UDP_L4), ECN bit masked off.
    pub kind: u8,
    /// The ECN bit (`VIRTIO_NET_HDR_GSO_ECN`) was set.
    pub ecn: bool,
    /// Payload bytes per segment (MSS).
    pub size: u16,
    /// Length of the headers to replicate in front of every segment.
    pub hdr_len: u16,
}

/// Raw `tpacket3_hdr` fields of one frame that only diagnostics need (the
/// `af-packet-input` trace prints them as VPP does).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TpHdr {
    /// `tp_mac`: offset of the MAC header from the frame header.
    pub mac: u16,
    /// `tp_net`: offset of the network header from the frame header.
    pub net: u16,
    /// `tp_sec`/`tp_nsec`: kernel receive time stamp.
    pub sec: u32,
    /// See `sec`.
    pub nsec: u32,
    /// `tp_vlan_tci` and `tp_vlan_tpid` as the kernel wrote them (0 when untagged).
    pub vlan_tci: u16,
    /// See `vlan_tci`.
    pub vlan_tpid: u16,
    /// The frame came from a TPACKET_V2 ring (a `tpacket2_hdr`), else V3.
    pub v2: bool,
}

/// One received frame, borrowed from the RX ring for the duration of the
/// [`HostIf::rx_burst`](crate::HostIf::rx_burst) callback.
#[derive(Debug, Clone, Copy)]
pub struct RxPkt<'a> {
    /// Frame bytes from the destination MAC on, VLAN tag stripped if
    /// [`vlan`](Self::vlan) is `Some`. May be shorter than `orig_len` if
    /// the frame did not fit a ring block (see [`is_truncated`](Self::is_truncated)).
    pub data: &'a [u8],
    /// Length of the frame on the wire (`tp_len`), without the stripped tag.
    pub orig_len: u32,
    /// Raw `tp_status`: `TP_STATUS_CSUMNOTREADY`, `TP_STATUS_CSUM_VALID`,
    /// `TP_STATUS_VLAN_VALID`, `TP_STATUS_GSO_TCP`, `TP_STATUS_LOSING`, …
    pub status: u32,
    /// The stripped VLAN tag, if any.
    pub vlan: Option<Vlan>,
    /// Where to finish the L4 checksum. `Some` only when the socket has
    /// the virtio-net header enabled and the kernel set `NEEDS_CSUM`
    /// (which coincides with `TP_STATUS_CSUMNOTREADY`).
    pub csum: Option<PartialCsum>,
    /// GSO info when the frame is a super-packet (virtio-net header only).
    pub gso: Option<Gso>,
    /// The raw virtio-net header, when the socket has it enabled.
    pub vnet: Option<VnetHdr>,
    /// Raw ring header fields (trace only).
    pub tp: TpHdr,
}

impl RxPkt<'_> {
    /// The L4 checksum is not filled in yet (`TP_STATUS_CSUMNOTREADY`): the
    /// sender was local (e.g. the veth peer's stack) and relied on offload.
    /// Forwarding the frame as-is would put a wrong checksum on the wire;
    /// finish it with [`finish_partial_csum`](crate::finish_partial_csum).
    pub fn csum_not_ready(&self) -> bool {
        self.status & libc::TP_STATUS_CSUMNOTREADY != 0
    }

    /// The kernel (or NIC) already verified the L4 checksum.
    pub fn csum_valid(&self) -> bool {
        self.status & libc::TP_STATUS_CSUM_VALID != 0
    }

    /// Part of the frame was cut because it did not fit into a ring block.
    pub fn is_truncated(&self) -> bool {
        (self.data.len() as u64) < u64::from(self.orig_len)
    }

    /// Length of the frame with the VLAN tag put back.
    pub fn wire_len(&self) -> usize {
        self.data.len() + if self.vlan.is_some() { 4 } else { 0 }
    }

    /// Copies the frame into `dst`, re-inserting the stripped VLAN tag (if
    /// any) after the MAC addresses. Returns the number of bytes written,
    /// or `None` if `dst` is too small or the frame is shorter than 12 bytes.
    pub fn copy_to(&self, dst: &mut [u8]) -> Option<usize> {
        match self.vlan {
            Some(v) => crate::insert_vlan(self.data, v, dst),
            None => {
                let d = dst.get_mut(..self.data.len())?;
                d.copy_from_slice(self.data);
                Some(self.data.len())
            }
        }
    }

    /// [`csum`](Self::csum) adjusted for a copy made by
    /// [`copy_to`](Self::copy_to) (shifted by 4 when a tag was re-inserted).
    pub fn csum_in_copy(&self) -> Option<PartialCsum> {
        let c = self.csum?;
        let shift = if self.vlan.is_some() { 4 } else { 0 };
        Some(PartialCsum {
            start: c.start.checked_add(shift)?,
            offset: c.offset,
        })
    }
}

/// The unfinished checksum and GSO metadata a virtio-net header describes.
pub(crate) fn offloads(v: &VnetHdr) -> (Option<PartialCsum>, Option<Gso>) {
    let csum = (v.flags & sys::VIRTIO_NET_HDR_F_NEEDS_CSUM != 0).then_some(PartialCsum {
        start: v.csum_start,
        offset: v.csum_offset,
    });
    let kind = v.gso_type & !sys::VIRTIO_NET_HDR_GSO_ECN;
    let gso = (kind != 0).then_some(Gso {
        kind,
        ecn: v.gso_type & sys::VIRTIO_NET_HDR_GSO_ECN != 0,
        size: v.gso_size,
        hdr_len: v.hdr_len,
    });
    (csum, gso)
}

/// The RX ring of a socket: TPACKET_V3 blocks (the default: frames packed, handed over a
/// block at a time) or TPACKET_V2 frames (each frame handed over as soon as it is written,
/// so a lone packet waits for no block timeout; `create host-interface ... v2`).
pub(crate) enum RxRing {
    V3(BlockRing),
    V2(crate::rx2::FrameRing),
    /// Both, on two sockets; the reader picks one by rate (`hybrid.rs`).
    Hybrid(Box<crate::hybrid::Hybrid>),
}

impl RxRing {
    pub(crate) fn locked(&self) -> bool {
        match self {
            RxRing::V3(r) => r.locked(),
            RxRing::V2(r) => r.locked(),
            RxRing::Hybrid(r) => r.locked(),
        }
    }

    /// True if a packet can be read without a syscall.
    pub(crate) fn ready(&self) -> bool {
        match self {
            RxRing::V3(r) => r.ready(),
            RxRing::V2(r) => r.ready(),
            RxRing::Hybrid(r) => r.ready(),
        }
    }

    /// Blocks (V3) or frames (V2) given back unread because they made no sense.
    pub(crate) fn bad(&self) -> u64 {
        match self {
            RxRing::V3(r) => r.bad_blocks,
            RxRing::V2(r) => r.bad_frames,
            RxRing::Hybrid(r) => r.bad(),
        }
    }

    /// See [`HostIf::rx_burst`](crate::HostIf::rx_burst); `fd` is the ring's socket (V2 reads
    /// frames too long for a ring frame from its receive queue).
    #[inline]
    pub(crate) fn burst<F: FnMut(RxPkt<'_>) -> bool>(
        &mut self,
        fd: std::os::fd::RawFd,
        max: usize,
        f: &mut F,
    ) -> usize {
        match self {
            RxRing::V3(r) => r.burst(max, f),
            RxRing::V2(r) => r.burst(fd, max, f),
            RxRing::Hybrid(r) => r.burst(fd, max, f),
        }
    }
}

impl std::fmt::Debug for RxRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RxRing::V3(r) => r.fmt(f),
            RxRing::V2(r) => r.fmt(f),
            RxRing::Hybrid(r) => r.fmt(f),
        }
    }
}

/// What the ring walk decided about the next packet slot.
enum Next {
    Pkt(u32),
    Corrupt,
}

/// The TPACKET_V3 block ring.
pub(crate) struct BlockRing {
    map: Mapping,
    block_size: usize,
    block_nr: usize,
    /// Block we are reading (or waiting for).
    cur: usize,
    /// Packets still unread in `cur` (0: `cur` not yet taken from the kernel).
    left: u32,
    /// Byte offset in `cur` of the next unread packet header.
    off: usize,
    vnet: bool,
    pub(crate) bad_blocks: u64,
}

impl BlockRing {
    pub(crate) fn new(map: Mapping, block_size: usize, block_nr: usize, vnet: bool) -> Self {
        debug_assert!(map.len() >= block_size * block_nr);
        BlockRing {
            map,
            block_size,
            block_nr,
            cur: 0,
            left: 0,
            off: 0,
            vnet,
            bad_blocks: 0,
        }
    }

    pub(crate) fn locked(&self) -> bool {
        self.map.locked()
    }

    fn block_ptr(&self, i: usize) -> *mut u8 {
        debug_assert!(i < self.block_nr);
        self.map.base().wrapping_add(i * self.block_size)
    }

    fn status(&self, i: usize) -> &AtomicU32 {
        // SAFETY: the word is inside block `i` of our live mapping (i <
        // block_nr), 4-byte aligned (blocks are page aligned, offset 8), and
        // valid for as long as `&self`. On our side it is only accessed
        // atomically; the kernel updates it with barriers and word-sized
        // stores, which is the documented PACKET_RX_RING protocol.
        unsafe { AtomicU32::from_ptr(self.block_ptr(i).add(BLK_STATUS).cast::<u32>()) }
    }

    /// The current block as bytes. Only call while `left > 0`.
    fn cur_block(&self) -> &[u8] {
        debug_assert!(self.left > 0);
        // SAFETY: `left > 0` means we observed TP_STATUS_USER on this block
        // with Acquire ordering and have not stored TP_STATUS_KERNEL since,
        // so the kernel finished writing it and will not touch it again
        // until `release_block` (which takes `&mut self`, so this shared
        // borrow is gone by then). The range is exactly one block of our
        // mapping.
        unsafe { std::slice::from_raw_parts(self.block_ptr(self.cur), self.block_size) }
    }

    fn num_pkts(&self, i: usize) -> &AtomicU32 {
        // SAFETY: as `status`: `num_pkts` is the word after `block_status` in block `i`'s
        // header, aligned the same; atomic on our side. The kernel stores it under the
        // socket's queue lock while the block is open (one frame more per store).
        unsafe { AtomicU32::from_ptr(self.block_ptr(i).add(BLK_NUM_PKTS).cast::<u32>()) }
    }

    /// Frames the kernel has put in the block it is filling (not yet retired), when that is
    /// the next block we will read: 0 when it is empty or not yet opened (`release_block`
    /// zeroes the count it hands back; the kernel zeroes it again when it opens the block).
    /// A hint only: the frames become readable when the block retires.
    pub(crate) fn open_block_pkts(&self) -> u32 {
        if self.left > 0
            || self.status(self.cur).load(Ordering::Acquire) & libc::TP_STATUS_USER != 0
        {
            return 0;
        }
        self.num_pkts(self.cur).load(Ordering::Relaxed)
    }

    /// Hands the current block back to the kernel and moves to the next.
    fn release_block(&mut self) {
        // Still ours: no stale count for `open_block_pkts` to read before the kernel reopens it.
        self.num_pkts(self.cur).store(0, Ordering::Relaxed);
        // Release: all our reads of the block happen-before the kernel sees
        // it as free and starts overwriting it.
        self.status(self.cur)
            .store(libc::TP_STATUS_KERNEL, Ordering::Release);
        self.cur = if self.cur + 1 == self.block_nr {
            0
        } else {
            self.cur + 1
        };
        self.left = 0;
        self.off = 0;
    }

    /// True if a packet can be read without a syscall.
    pub(crate) fn ready(&self) -> bool {
        self.left > 0 || self.status(self.cur).load(Ordering::Acquire) & libc::TP_STATUS_USER != 0
    }

    /// Takes the current block from the kernel if it is ready. Returns
    /// false if we must wait.
    fn acquire_block(&mut self) -> bool {
        // Acquire: pairs with the kernel's smp_wmb() before it publishes
        // TP_STATUS_USER, so the block contents are visible to the reads below.
        if self.status(self.cur).load(Ordering::Acquire) & libc::TP_STATUS_USER == 0 {
            return false;
        }
        // SAFETY: the kernel handed this block to us (Acquire above) and the
        // first BLK_HDR_LEN (48) bytes are inside it (block_size ≥ page).
        let hdr: [u8; BLK_HDR_LEN] =
            unsafe { self.block_ptr(self.cur).cast::<[u8; BLK_HDR_LEN]>().read() };
        let num = u32_at(&hdr, BLK_NUM_PKTS);
        let first = u32_at(&hdr, BLK_FIRST_PKT) as usize;
        if num == 0 || first < BLK_HDR_LEN || first >= self.block_size {
            // Empty (should not happen) or nonsense: give it back.
            if num != 0 {
                self.bad_blocks += 1;
            }
            self.release_block();
            return true;
        }
        self.left = num;
        self.off = first;
        true
    }

    /// Parses the packet at `self.off` of the current block.
    fn parse(&self) -> Option<(RxPkt<'_>, Next)> {
        let blk = self.cur_block();
        let off = self.off;
        let h: &[u8; H3_LEN] = blk.get(off..off.checked_add(H3_LEN)?)?.try_into().ok()?;
        let mac = usize::from(u16_at(h, H3_MAC));
        let snap = u32_at(h, H3_SNAPLEN) as usize;
        let start = off.checked_add(mac)?;
        let data = blk.get(start..start.checked_add(snap)?)?;
        let status = u32_at(h, H3_STATUS);
        let vlan = (status & libc::TP_STATUS_VLAN_VALID != 0).then(|| Vlan {
            tpid: if status & libc::TP_STATUS_VLAN_TPID_VALID != 0 {
                u16_at(h, H3_VLAN_TPID)
            } else {
                0x8100
            },
            // tp_vlan_tci is a u32 in tpacket3_hdr; only the low 16 bits carry the TCI.
            tci: (u32_at(h, H3_VLAN_TCI) & 0xffff) as u16,
        });
        let (mut csum, mut gso, mut vnet) = (None, None, None);
        // The kernel writes the virtio-net header right before the MAC header.
        if self.vnet && mac >= H3_LEN + VNET_HDR_LEN {
            let vb: &[u8; VNET_HDR_LEN] = blk.get(start - VNET_HDR_LEN..start)?.try_into().ok()?;
            let v = VnetHdr::decode(vb);
            vnet = Some(v);
            (csum, gso) = offloads(&v);
        }
        let next = u32_at(h, H3_NEXT);
        // The last packet of a block has tp_next_offset 0; any other must
        // move forward, or the block is corrupt.
        let next = if self.left > 1 && (next as usize) < H3_LEN {
            Next::Corrupt
        } else {
            Next::Pkt(next)
        };
        let pkt = RxPkt {
            data,
            orig_len: u32_at(h, H3_LENF),
            status,
            vlan,
            csum,
            gso,
            vnet,
            tp: TpHdr {
                mac: u16_at(h, H3_MAC),
                net: u16_at(h, H3_NET),
                sec: u32_at(h, H3_SEC),
                nsec: u32_at(h, H3_NSEC),
                vlan_tci: (u32_at(h, H3_VLAN_TCI) & 0xffff) as u16,
                vlan_tpid: u16_at(h, H3_VLAN_TPID),
                v2: false,
            },
        };
        Some((pkt, next))
    }

    /// See [`HostIf::rx_burst`](crate::HostIf::rx_burst).
    pub(crate) fn burst<F: FnMut(RxPkt<'_>) -> bool>(&mut self, max: usize, f: &mut F) -> usize {
        let mut n = 0;
        // Blocks that yield no packet (empty/corrupt) do not count against
        // `max`; cap them so one call is bounded whatever the kernel does.
        let mut skipped = 0;
        while n < max && skipped <= self.block_nr {
            if self.left == 0 {
                if !self.acquire_block() {
                    break;
                }
                if self.left == 0 {
                    skipped += 1;
                }
                continue;
            }
            let parsed = self.parse();
            let Some((pkt, next)) = parsed else {
                self.bad_blocks += 1;
                skipped += 1;
                self.release_block();
                continue;
            };
            if !f(pkt) {
                // Not consumed: the next call starts with this packet again.
                break;
            }
            n += 1;
            self.left -= 1;
            match next {
                Next::Corrupt => {
                    self.bad_blocks += 1;
                    self.release_block();
                }
                Next::Pkt(_) if self.left == 0 => self.release_block(),
                Next::Pkt(step) => self.off += step as usize,
            }
        }
        n
    }
}

impl std::fmt::Debug for BlockRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockRing")
            .field("map", &self.map)
            .field("block_size", &self.block_size)
            .field("block_nr", &self.block_nr)
            .field("cur", &self.cur)
            .field("left", &self.left)
            .field("off", &self.off)
            .field("vnet", &self.vnet)
            .finish()
    }
}
