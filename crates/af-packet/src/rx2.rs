//! TPACKET_V2 receive ring: a frame at a time, for latency.
//!
//! A V3 block goes to user space when it is full or when `tp_retire_blk_tov` expires; the
//! timeout is 1 ms at least (a jiffy, 4 ms at HZ=250, where the kernel rounds it up), so at low
//! rates every frame waits for it (half a millisecond on average on this machine), on every
//! AF_PACKET hop (a ping across two pwire crosses four). A V2 ring hands each frame over as soon
//! as the kernel has written it: `tp_status` of the frame itself turns `TP_STATUS_USER`.
//!
//! Layout (linux/if_packet.h): `frame_nr` frames of `frame_size` bytes, `block_size /
//! frame_size` per page-aligned block (frames never straddle blocks). Each frame starts with a
//! `struct tpacket2_hdr`; the frame's bytes start `tp_mac` bytes in, the virtio-net header (when
//! on) right before them. The ring is filled strictly in order, so we only look at `cur`; we
//! give a frame back by storing `TP_STATUS_KERNEL`.
//!
//! A frame longer than a ring frame (a GSO super-packet of up to 64 KiB, a jumbo frame) is
//! cut to the ring frame; with `PACKET_COPY_THRESH` set the kernel also queues the whole
//! packet on the socket and marks the ring frame `TP_STATUS_COPY`. It does both under the
//! receive queue's lock, before it publishes the frame, so the queue holds exactly the
//! copies of the ring's `COPY` frames in ring order: one `recv` per such frame reads its
//! copy (checked against `tp_len`) into a buffer kept for it.

use std::mem::offset_of;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::mmap::Mapping;
use crate::rx::{offloads, RxPkt, TpHdr, Vlan};
use crate::sys::{self, VnetHdr, VNET_HDR_LEN};

// Byte offsets into `struct tpacket2_hdr`.
const H2_LEN: usize = size_of::<libc::tpacket2_hdr>();
const H2_STATUS: usize = offset_of!(libc::tpacket2_hdr, tp_status);
const H2_LENF: usize = offset_of!(libc::tpacket2_hdr, tp_len);
const H2_SNAPLEN: usize = offset_of!(libc::tpacket2_hdr, tp_snaplen);
const H2_MAC: usize = offset_of!(libc::tpacket2_hdr, tp_mac);
const H2_NET: usize = offset_of!(libc::tpacket2_hdr, tp_net);
const H2_SEC: usize = offset_of!(libc::tpacket2_hdr, tp_sec);
const H2_NSEC: usize = offset_of!(libc::tpacket2_hdr, tp_nsec);
const H2_VLAN_TCI: usize = offset_of!(libc::tpacket2_hdr, tp_vlan_tci);
const H2_VLAN_TPID: usize = offset_of!(libc::tpacket2_hdr, tp_vlan_tpid);

const _: () = assert!(H2_LEN == 32 && H2_STATUS == 0);

/// Largest packet a `TP_STATUS_COPY` read takes: a 64 KiB GSO super-packet with its link
/// header and the virtio-net header in front. A longer one (BIG TCP) is delivered cut.
pub(crate) const COPY_MAX: usize = VNET_HDR_LEN + 65_536 + 64;

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_ne_bytes([b[at], b[at + 1]])
}

pub(crate) struct FrameRing {
    map: Mapping,
    frame_size: usize,
    frames_per_block: usize,
    block_size: usize,
    frame_nr: usize,
    /// Frame we are reading (or waiting for).
    cur: usize,
    vnet: bool,
    /// The whole packet of `cur` when it is a `TP_STATUS_COPY` frame read from the socket
    /// (`copied` bytes; 0: its copy was missing). Allocated once at open.
    copy: Box<[u8]>,
    copied: usize,
    /// The socket has been read for `cur` (a frame not consumed keeps what was read).
    fetched: bool,
    /// Frames given back unread: a header pointing outside its frame.
    pub(crate) bad_frames: u64,
}

impl FrameRing {
    /// `map` holds `frame_nr` frames of `frame_size`, `block_size / frame_size` per block.
    pub(crate) fn new(
        map: Mapping,
        block_size: usize,
        frame_size: usize,
        frame_nr: usize,
        vnet: bool,
    ) -> Self {
        let frames_per_block = block_size / frame_size;
        assert!(frame_size >= H2_LEN && frames_per_block > 0 && frame_nr > 0);
        assert!(map.len() >= frame_nr.div_ceil(frames_per_block) * block_size);
        FrameRing {
            map,
            frame_size,
            frames_per_block,
            block_size,
            frame_nr,
            cur: 0,
            vnet,
            copy: vec![0u8; COPY_MAX].into_boxed_slice(),
            copied: 0,
            fetched: false,
            bad_frames: 0,
        }
    }

    pub(crate) fn locked(&self) -> bool {
        self.map.locked()
    }

    fn frame_ptr(&self, i: usize) -> *mut u8 {
        debug_assert!(i < self.frame_nr);
        self.map
            .frame_ptr(i, self.frames_per_block, self.block_size, self.frame_size)
    }

    fn status(&self, i: usize) -> &AtomicU32 {
        // SAFETY: `tp_status` is the first word of frame `i` of our live mapping (i <
        // frame_nr, checked against the mapping's length in `new`), 4-byte aligned (frames are
        // multiples of 16 from a page-aligned block), valid for as long as `&self`. On our side
        // it is only accessed atomically; the kernel publishes it with a barrier and a
        // word-sized store (the PACKET_RX_RING protocol).
        unsafe { AtomicU32::from_ptr(self.frame_ptr(i).add(H2_STATUS).cast::<u32>()) }
    }

    /// Frame `cur` as bytes.
    ///
    /// # Safety
    /// The caller observed `TP_STATUS_USER` on frame `cur` with Acquire ordering, and `release`
    /// has not run since.
    unsafe fn cur_frame(&self) -> &[u8] {
        // SAFETY: by the contract the kernel has finished writing the frame and leaves it alone
        // until `release` (which takes `&mut self`, ending this borrow). The range is exactly
        // one frame of our mapping.
        unsafe { std::slice::from_raw_parts(self.frame_ptr(self.cur), self.frame_size) }
    }

    fn release(&mut self) {
        // Release: our reads of the frame happen-before the kernel reuses it.
        self.status(self.cur)
            .store(libc::TP_STATUS_KERNEL, Ordering::Release);
        self.cur = if self.cur + 1 == self.frame_nr {
            0
        } else {
            self.cur + 1
        };
        self.copied = 0;
        self.fetched = false;
    }

    /// True if a packet can be read without waiting.
    pub(crate) fn ready(&self) -> bool {
        self.status(self.cur).load(Ordering::Acquire) & libc::TP_STATUS_USER != 0
    }

    /// Reads the whole packet of a `TP_STATUS_COPY` frame from the socket (once per frame).
    /// Returns its length with the virtio-net header, or `None` when the copy is missing or is
    /// not this frame's (then the cut ring frame is delivered, which the caller drops).
    fn fetch_copy(&mut self, fd: RawFd, wire_len: usize) -> Option<usize> {
        if !self.fetched {
            self.fetched = true;
            let want = wire_len + if self.vnet { VNET_HDR_LEN } else { 0 };
            self.copied = match sys::recv_trunc(fd, &mut self.copy) {
                Ok(n) if n == want && n <= self.copy.len() => n,
                // Missing, not this frame's, or longer than the buffer (read and discarded,
                // so the next COPY frame still finds its own copy first).
                _ => 0,
            };
        }
        (self.copied > 0).then_some(self.copied)
    }

    /// Builds the packet of frame `cur` (status `st`), with its data from the ring frame or,
    /// for a `COPY` frame, from `copy[..copied]`.
    ///
    /// # Safety
    /// As [`Self::cur_frame`].
    unsafe fn parse(&self, st: u32, copied: Option<usize>) -> Option<RxPkt<'_>> {
        // SAFETY: our own contract is `cur_frame`'s.
        let fr = unsafe { self.cur_frame() };
        let mac = usize::from(u16_at(fr, H2_MAC));
        let snap = u32_at(fr, H2_SNAPLEN) as usize;
        let ring_data = fr.get(mac..mac.checked_add(snap)?)?;
        let (data, vb) = match copied {
            Some(n) if self.vnet => (&self.copy[VNET_HDR_LEN..n], self.copy.get(..VNET_HDR_LEN)),
            Some(n) => (&self.copy[..n], None),
            // The kernel writes the virtio-net header right before the MAC header.
            None if self.vnet && mac >= H2_LEN + VNET_HDR_LEN => {
                (ring_data, fr.get(mac - VNET_HDR_LEN..mac))
            }
            None => (ring_data, None),
        };
        let vnet = vb
            .and_then(|b| <&[u8; VNET_HDR_LEN]>::try_from(b).ok())
            .map(VnetHdr::decode);
        let (csum, gso) = vnet.as_ref().map_or((None, None), offloads);
        let vlan = (st & libc::TP_STATUS_VLAN_VALID != 0).then(|| Vlan {
            tpid: if st & libc::TP_STATUS_VLAN_TPID_VALID != 0 {
                u16_at(fr, H2_VLAN_TPID)
            } else {
                0x8100
            },
            tci: u16_at(fr, H2_VLAN_TCI),
        });
        Some(RxPkt {
            data,
            orig_len: u32_at(fr, H2_LENF),
            status: st,
            vlan,
            csum,
            gso,
            vnet,
            tp: TpHdr {
                mac: u16_at(fr, H2_MAC),
                net: u16_at(fr, H2_NET),
                sec: u32_at(fr, H2_SEC),
                nsec: u32_at(fr, H2_NSEC),
                vlan_tci: u16_at(fr, H2_VLAN_TCI),
                vlan_tpid: u16_at(fr, H2_VLAN_TPID),
                v2: true,
            },
        })
    }

    /// See [`HostIf::rx_burst`](crate::HostIf::rx_burst).
    pub(crate) fn burst<F: FnMut(RxPkt<'_>) -> bool>(
        &mut self,
        fd: RawFd,
        max: usize,
        f: &mut F,
    ) -> usize {
        let mut n = 0;
        // Bad frames do not count against `max`; cap them so one call stays bounded.
        let mut skipped = 0;
        while n < max && skipped <= self.frame_nr {
            // Acquire: pairs with the kernel's smp_wmb() before it publishes TP_STATUS_USER,
            // so the frame (and its queued copy) is visible to the reads below.
            let st = self.status(self.cur).load(Ordering::Acquire);
            if st & libc::TP_STATUS_USER == 0 {
                break;
            }
            let copied = if st & libc::TP_STATUS_COPY != 0 {
                // SAFETY: `st` (TP_STATUS_USER) was loaded from `cur` with Acquire just above
                // and nothing released it since.
                let len = u32_at(unsafe { self.cur_frame() }, H2_LENF) as usize;
                self.fetch_copy(fd, len)
            } else {
                None
            };
            // SAFETY: as above (`fetch_copy` reads the socket, not the ring).
            let Some(pkt) = (unsafe { self.parse(st, copied) }) else {
                self.bad_frames += 1;
                skipped += 1;
                self.release();
                continue;
            };
            if !f(pkt) {
                // Not consumed: the next call starts with this frame (and its copy) again.
                break;
            }
            n += 1;
            self.release();
        }
        n
    }
}

impl std::fmt::Debug for FrameRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameRing")
            .field("map", &self.map)
            .field("frame_size", &self.frame_size)
            .field("frame_nr", &self.frame_nr)
            .field("cur", &self.cur)
            .field("vnet", &self.vnet)
            .finish()
    }
}
