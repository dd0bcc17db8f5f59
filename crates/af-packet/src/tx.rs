//! Transmit ring: fixed-size frames, TPACKET_V3 or (fallback) TPACKET_V2.
//!
//! The kernel has no *block* transmit for V3: a V3 TX ring is a plain frame
//! ring whose frames start with `struct tpacket3_hdr` (`tp_next_offset`
//! must be 0). Frame data starts at `TPACKET3_HDRLEN - sizeof(sockaddr_ll)`
//! (48) for V3 and `TPACKET2_HDRLEN - sizeof(sockaddr_ll)` (32) for V2. A
//! frame is ours when its status is `TP_STATUS_AVAILABLE`; we fill it, set
//! `TP_STATUS_SEND_REQUEST`, and `send()` makes the kernel transmit every
//! requested frame in ring order. The kernel sets the status back to
//! available when the skb is freed (for veth: immediately).

use std::fmt;
use std::mem::{offset_of, size_of};
use std::sync::atomic::{AtomicU32, Ordering};

use crate::mmap::Mapping;

/// Which frame header layout the TX ring uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxVersion {
    /// `TPACKET_V3` frames (`struct tpacket3_hdr`).
    V3,
    /// `TPACKET_V2` frames (`struct tpacket2_hdr`), used when the kernel
    /// refuses a V3 TX ring (before 4.11) or when forced by [`Opts`](crate::Opts).
    V2,
}

impl TxVersion {
    fn status_off(self) -> usize {
        match self {
            TxVersion::V3 => offset_of!(libc::tpacket3_hdr, tp_status),
            TxVersion::V2 => offset_of!(libc::tpacket2_hdr, tp_status),
        }
    }

    /// Offset of the frame data: TPACKETx_HDRLEN - sizeof(struct sockaddr_ll),
    /// which is what the kernel uses when PACKET_TX_HAS_OFF is off.
    pub(crate) fn data_off(self) -> usize {
        let hdr = match self {
            TxVersion::V3 => libc::TPACKET3_HDRLEN,
            TxVersion::V2 => libc::TPACKET2_HDRLEN,
        };
        hdr - size_of::<libc::sockaddr_ll>()
    }
}

/// Why a frame was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxError {
    /// The frame is longer than a ring frame or than the interface MTU
    /// allows (MTU + 14, or + 18 when it carries a VLAN tag).
    TooLong {
        /// Requested length.
        len: usize,
        /// Largest length accepted for this frame.
        max: usize,
    },
    /// Shorter than an Ethernet header; the kernel would reject it.
    TooShort {
        /// Requested length.
        len: usize,
    },
    /// Every TX frame is still owned by the kernel.
    RingFull,
}

impl fmt::Display for TxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TxError::TooLong { len, max } => write!(f, "frame of {len} bytes exceeds {max}"),
            TxError::TooShort { len } => write!(f, "frame of {len} bytes is shorter than 14"),
            TxError::RingFull => f.write_str("tx ring full"),
        }
    }
}

impl std::error::Error for TxError {}

#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct TxCounters {
    pub frames: u64,
    pub ring_full: u64,
    pub rejected: u64,
    pub busy: u64,
    pub errors: u64,
    pub discarded: u64,
}

pub(crate) struct TxRing {
    map: Mapping,
    version: TxVersion,
    frame_size: usize,
    frames_per_block: usize,
    block_size: usize,
    frame_nr: usize,
    /// Next frame we will fill.
    head: usize,
    /// Frames set to SEND_REQUEST since the last successful `send()`.
    pub(crate) unflushed: u32,
    /// Largest untagged frame: min(frame capacity, MTU + 14). Atomic only
    /// so that `HostIf::mtu(&self)` can refresh it.
    max_untagged: AtomicU32,
    pub(crate) c: TxCounters,
}

impl TxRing {
    pub(crate) fn new(
        map: Mapping,
        version: TxVersion,
        frame_size: usize,
        block_size: usize,
        frame_nr: usize,
        mtu: u32,
    ) -> Self {
        let frames_per_block = block_size / frame_size;
        debug_assert!(map.len() >= frame_nr.div_ceil(frames_per_block) * block_size);
        let r = TxRing {
            map,
            version,
            frame_size,
            frames_per_block,
            block_size,
            frame_nr,
            head: 0,
            unflushed: 0,
            max_untagged: AtomicU32::new(0),
            c: TxCounters::default(),
        };
        r.set_mtu(mtu);
        r
    }

    pub(crate) fn locked(&self) -> bool {
        self.map.locked()
    }

    /// Bytes of frame data one ring frame holds.
    pub(crate) fn capacity(&self) -> usize {
        self.frame_size - self.version.data_off()
    }

    pub(crate) fn set_mtu(&self, mtu: u32) {
        // The kernel drops (PACKET_LOSS) frames longer than
        // mtu + hard_header_len, plus 4 if the frame is VLAN tagged.
        let lim = (mtu as usize).saturating_add(14).min(self.capacity());
        self.max_untagged
            .store(u32::try_from(lim).unwrap_or(u32::MAX), Ordering::Relaxed);
    }

    /// Largest frame the ring accepts (for an untagged frame).
    pub(crate) fn max_len(&self) -> usize {
        self.max_untagged.load(Ordering::Relaxed) as usize
    }

    fn frame_ptr(&self, i: usize) -> *mut u8 {
        debug_assert!(i < self.frame_nr);
        self.map
            .frame_ptr(i, self.frames_per_block, self.block_size, self.frame_size)
    }

    fn status(&self, i: usize) -> &AtomicU32 {
        // SAFETY: the status word is inside frame `i` of our live mapping
        // (i < frame_nr), 4-byte aligned (frames are TPACKET_ALIGNMENT=16
        // aligned, status offset is 0 or 20) and lives as long as `&self`.
        // We only access it atomically; the kernel uses barriers plus
        // word-sized stores (the documented PACKET_TX_RING protocol).
        unsafe {
            AtomicU32::from_ptr(
                self.frame_ptr(i)
                    .add(self.version.status_off())
                    .cast::<u32>(),
            )
        }
    }

    /// Status of the frame at `head`. Acquire: once we see it free, the
    /// kernel is done reading the old contents we are about to overwrite.
    fn head_status(&self) -> u32 {
        self.status(self.head).load(Ordering::Acquire)
    }

    /// Whether the frame at `head` can be filled now.
    pub(crate) fn head_free(&self) -> bool {
        self.head_status() & (libc::TP_STATUS_SEND_REQUEST | libc::TP_STATUS_SENDING) == 0
    }

    /// A frame to fill, or `None` if the ring is full (counted). Reuses a
    /// frame the kernel rejected (`TP_STATUS_WRONG_FORMAT`; cannot happen
    /// with PACKET_LOSS, which we set, but would otherwise wedge the ring).
    pub(crate) fn slot(&mut self) -> Option<TxSlot<'_>> {
        let st = self.head_status();
        if st & (libc::TP_STATUS_SEND_REQUEST | libc::TP_STATUS_SENDING) != 0 {
            self.c.ring_full += 1;
            return None;
        }
        if st & libc::TP_STATUS_WRONG_FORMAT != 0 {
            self.c.errors += 1;
        }
        Some(TxSlot { ring: self })
    }

    fn commit(&mut self, len: usize) {
        let hdr = self.frame_ptr(self.head);
        let len32 = u32::try_from(len).expect("len checked against capacity");
        // SAFETY: the frame is AVAILABLE (checked in `slot`) so the kernel
        // does not access it; the header fields written are inside the frame
        // and 4-byte aligned.
        unsafe {
            match self.version {
                TxVersion::V3 => {
                    hdr.add(offset_of!(libc::tpacket3_hdr, tp_next_offset))
                        .cast::<u32>()
                        .write(0);
                    hdr.add(offset_of!(libc::tpacket3_hdr, tp_len))
                        .cast::<u32>()
                        .write(len32);
                    hdr.add(offset_of!(libc::tpacket3_hdr, tp_snaplen))
                        .cast::<u32>()
                        .write(len32);
                }
                TxVersion::V2 => {
                    hdr.add(offset_of!(libc::tpacket2_hdr, tp_len))
                        .cast::<u32>()
                        .write(len32);
                    hdr.add(offset_of!(libc::tpacket2_hdr, tp_snaplen))
                        .cast::<u32>()
                        .write(len32);
                }
            }
        }
        // Release: frame data and header are visible before the kernel sees
        // SEND_REQUEST.
        self.status(self.head)
            .store(libc::TP_STATUS_SEND_REQUEST, Ordering::Release);
        self.head = if self.head + 1 == self.frame_nr {
            0
        } else {
            self.head + 1
        };
        self.unflushed = self.unflushed.saturating_add(1);
        self.c.frames += 1;
    }

    /// Takes back every frame still waiting for `send()` (after a hard
    /// error such as ENETDOWN), newest first, and rewinds `head` to the
    /// oldest one, which is where the kernel's own head stands: it consumes
    /// SEND_REQUEST frames strictly in ring order. Returns how many.
    pub(crate) fn discard_pending(&mut self) -> u32 {
        let mut n = 0;
        for _ in 0..self.frame_nr {
            let prev = if self.head == 0 {
                self.frame_nr - 1
            } else {
                self.head - 1
            };
            let st = self.status(prev);
            if st.load(Ordering::Acquire) != libc::TP_STATUS_SEND_REQUEST {
                break;
            }
            st.store(libc::TP_STATUS_AVAILABLE, Ordering::Release);
            self.head = prev;
            n += 1;
        }
        self.unflushed = 0;
        self.c.discarded += u64::from(n);
        n
    }
}

impl fmt::Debug for TxRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TxRing")
            .field("map", &self.map)
            .field("version", &self.version)
            .field("frame_size", &self.frame_size)
            .field("frame_nr", &self.frame_nr)
            .field("head", &self.head)
            .field("unflushed", &self.unflushed)
            .finish()
    }
}

/// One free TX frame. Write the frame into [`buf`](Self::buf), then
/// [`commit`](Self::commit) its length; dropping the slot without
/// committing leaves the frame free. Nothing is sent until
/// [`HostIf::tx_flush`](crate::HostIf::tx_flush).
pub struct TxSlot<'a> {
    ring: &'a mut TxRing,
}

impl TxSlot<'_> {
    /// Frame data area (capacity of one ring frame).
    pub fn buf(&mut self) -> &mut [u8] {
        let cap = self.ring.capacity();
        let p = self
            .ring
            .frame_ptr(self.ring.head)
            .wrapping_add(self.ring.version.data_off());
        // SAFETY: the frame at `head` is TP_STATUS_AVAILABLE (checked when
        // the slot was made, and we hold the ring exclusively since), so the
        // kernel neither reads nor writes it; [data_off, frame_size) is
        // inside the frame; the borrow is tied to `&mut self`.
        unsafe { std::slice::from_raw_parts_mut(p, cap) }
    }

    /// Bytes available in [`buf`](Self::buf).
    pub fn capacity(&self) -> usize {
        self.ring.capacity()
    }

    /// Queues the first `len` bytes of [`buf`](Self::buf) for transmission.
    ///
    /// Refuses frames longer than the ring frame or the MTU (MTU + 14, or
    /// MTU + 18 if bytes 12..14 are a VLAN TPID), and runts under 14 bytes,
    /// because the kernel would silently drop them.
    pub fn commit(mut self, len: usize) -> Result<(), TxError> {
        let cap = self.ring.capacity();
        let mut max = self.ring.max_len();
        if len > max && len >= 14 && max < cap {
            let b = self.buf();
            if matches!(u16::from_be_bytes([b[12], b[13]]), 0x8100 | 0x88a8) {
                max = (max + 4).min(cap);
            }
        }
        if len > max {
            self.ring.c.rejected += 1;
            return Err(TxError::TooLong { len, max });
        }
        if len < 14 {
            self.ring.c.rejected += 1;
            return Err(TxError::TooShort { len });
        }
        self.ring.commit(len);
        Ok(())
    }
}

impl fmt::Debug for TxSlot<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TxSlot")
            .field("frame", &self.ring.head)
            .field("capacity", &self.ring.capacity())
            .finish()
    }
}
