//! Owner of one packet-ring mapping.

use std::io;
use std::os::fd::RawFd;
use std::ptr::NonNull;

/// A `MAP_SHARED` mapping of a packet socket's ring, unmapped on drop.
///
/// Only raw pointers into it are stored; references are created per
/// block/frame by the ring code, with lifetimes tied to `&self`/`&mut self`
/// of the owning ring, so none can outlive the mapping.
pub(crate) struct Mapping {
    ptr: NonNull<u8>,
    len: usize,
    locked: bool,
}

impl Mapping {
    /// Maps `len` bytes of `fd`'s ring(s). With `lock`, first tries
    /// `MAP_LOCKED` (no page faults in the datapath) and falls back to an
    /// unlocked mapping if RLIMIT_MEMLOCK or the kernel refuses.
    pub(crate) fn new(fd: RawFd, len: usize, lock: bool) -> io::Result<Self> {
        let base = libc::MAP_SHARED | libc::MAP_POPULATE;
        if lock {
            if let Ok(ptr) = Self::map(fd, len, base | libc::MAP_LOCKED) {
                return Ok(Mapping {
                    ptr,
                    len,
                    locked: true,
                });
            }
        }
        let ptr = Self::map(fd, len, base)?;
        Ok(Mapping {
            ptr,
            len,
            locked: false,
        })
    }

    fn map(fd: RawFd, len: usize, flags: libc::c_int) -> io::Result<NonNull<u8>> {
        // SAFETY: asks for a fresh mapping at a kernel-chosen address, so it
        // cannot alias any memory Rust already owns; fd and len are plain
        // values validated by the kernel.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                flags,
                fd,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        NonNull::new(p.cast::<u8>()).ok_or_else(|| io::Error::from(io::ErrorKind::Other))
    }

    pub(crate) fn base(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// Frame `i` of a frame ring (V2 RX, any TX) laid out `frames_per_block` frames of
    /// `frame_size` to a block of `block_size` (frames never straddle blocks). A plain address:
    /// the caller checks `i` against its ring and dereferences under its own protocol.
    pub(crate) fn frame_ptr(
        &self,
        i: usize,
        frames_per_block: usize,
        block_size: usize,
        frame_size: usize,
    ) -> *mut u8 {
        let off = (i / frames_per_block) * block_size + (i % frames_per_block) * frame_size;
        self.base().wrapping_add(off)
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn locked(&self) -> bool {
        self.locked
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: `ptr`/`len` are exactly what mmap returned, and every
        // reference into the mapping borrows the owning ring, which is being
        // dropped, so none is alive.
        unsafe {
            libc::munmap(self.ptr.as_ptr().cast(), self.len);
        }
    }
}

impl std::fmt::Debug for Mapping {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mapping")
            .field("ptr", &self.ptr)
            .field("len", &self.len)
            .field("locked", &self.locked)
            .finish()
    }
}
