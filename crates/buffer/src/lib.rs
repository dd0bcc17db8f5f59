//! pwire-buffer: the packet buffer pool (VPP's `vlib_buffer_t` and buffer pools).
//!
//! Every packet lives in one fixed-size buffer addressed by a `u32` index. A buffer is laid out as
//! `[metadata 128 B][headroom 128 B][data data_size B]`, so encapsulation prepends headers by moving
//! `current_data` back into the headroom and decapsulation strips them by moving it forward; no
//! packet byte is ever copied for either.
//!
//! With [`PoolConfig::pre_data`] set, every buffer also gets that many bytes *before* its
//! metadata, for a driver's own per-buffer header: pwire's DPDK driver keeps the `rte_mbuf` (and
//! its mempool object header) there, so one buffer is both an mbuf and a pwire buffer, as in VPP.
//! Without it (the default) the layout and the cost are unchanged.
//!
//! The pool is one contiguous region (2 MiB hugepages when the kernel has them reserved, the heap
//! otherwise, chosen at start and reported by `show buffers`). Buffer `i` sits at `base + i * stride`:
//! no division, no table. Free buffers move between threads in batches of [`BATCH`] through two
//! lock-free queues of pre-allocated boxes, and each thread keeps a [`ThreadCache`] so that the
//! steady state touches no shared memory at all.

use crossbeam_queue::ArrayQueue;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

pub mod buffer;
pub use buffer::{flags, Buffer, L2Meta, Opaque, HEADROOM, META_SIZE};

/// A buffer's index in the pool.
pub type BufferIndex = u32;

/// Buffers move between a thread cache and the global pool this many at a time.
pub const BATCH: usize = 256;
/// A thread cache holds at most this many buffers before returning a batch.
const CACHE_CAP: usize = 4 * BATCH;

/// Where the pool's memory came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// 2 MiB hugepages (`MAP_HUGETLB`).
    Hugepage,
    /// Ordinary anonymous memory.
    Heap,
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Backend::Hugepage => "hugepage-2m",
            Backend::Heap => "heap",
        })
    }
}

/// How the pool is to be made (`buffers { buffers-per-numa N default data-size N }`).
#[derive(Debug, Clone)]
pub struct PoolConfig {
    pub n_buffers: u32,
    pub data_size: u16,
    /// Try hugepages first (default); tests can force the heap.
    pub try_hugepages: bool,
    /// Number of thread caches (main + workers, plus any a driver needs for itself).
    pub n_threads: usize,
    /// Bytes reserved in front of each buffer's metadata for a driver (a multiple of 64; 0 for
    /// none). [`MBUF_PRE_DATA`] is what the DPDK driver needs.
    pub pre_data: usize,
}

/// Room for DPDK's `rte_mempool_objhdr` (24 bytes) and `rte_mbuf` (128 bytes) in front of each
/// buffer's metadata, rounded up to whole cache lines (the mbuf must be 64-byte aligned and end
/// exactly where the metadata starts). pwire-dpdk checks the sizes at start-up.
pub const MBUF_PRE_DATA: usize = 192;

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            n_buffers: 16384,
            data_size: 2048,
            try_hugepages: true,
            n_threads: 1,
            pre_data: 0,
        }
    }
}

type Batch = Box<[BufferIndex; BATCH]>;

/// One thread's published cache count, alone on its cache lines: each worker writes its own on
/// every allocation and free, and neighbours on one line would bounce it between cores.
#[derive(Debug)]
#[repr(align(128))]
struct PaddedCount(AtomicU32);

/// The pool's addressing, copied out once per frame so that a node's per-packet loop keeps base,
/// stride and bound in registers (through `&Pool` the compiler reloads them after every store).
/// Borrows the pool (`'a`), so no buffer reference made through it outlives the pool.
#[derive(Clone, Copy, Debug)]
pub struct View<'a> {
    base: *mut u8,
    stride: usize,
    n_buffers: u32,
    _pool: std::marker::PhantomData<&'a Pool>,
}

impl<'a> View<'a> {
    /// Exclusive view of a buffer; the same contract as [`Pool::get_mut`].
    ///
    /// # Safety
    /// As [`Pool::get_mut`]: the caller owns `bi` and makes no second reference to it while
    /// this one lives.
    #[inline(always)]
    pub unsafe fn get_mut(self, bi: BufferIndex) -> &'a mut Buffer {
        assert!(bi < self.n_buffers, "buffer index {bi} out of range");
        // SAFETY: in range (checked), so inside the live region; exclusivity is the caller's.
        unsafe { &mut *self.base.add(bi as usize * self.stride).cast::<Buffer>() }
    }

    /// Start of buffer `bi`'s data area (`data[0]`), computed without loading its metadata.
    ///
    /// # Safety
    /// `bi` must be below the pool's buffer count (the pointer is only formed, not checked).
    #[inline(always)]
    pub unsafe fn data_ptr(self, bi: BufferIndex) -> *mut u8 {
        // SAFETY: the caller keeps `bi` in range, so the offset stays inside the region.
        unsafe {
            self.base
                .add(bi as usize * self.stride + META_SIZE + HEADROOM)
        }
    }

    /// Number of buffers in the pool.
    #[inline(always)]
    pub fn n_buffers(self) -> u32 {
        self.n_buffers
    }
}

/// The buffer pool, shared by every thread.
pub struct Pool {
    /// Metadata of buffer 0 (`region + pre_data`): buffer `i`'s metadata is `base + i * stride`.
    base: *mut u8,
    /// Start of the mapping.
    region: *mut u8,
    pre_data: usize,
    map_len: usize,
    stride: usize,
    n_buffers: u32,
    data_size: u16,
    backend: Backend,
    full: ArrayQueue<Batch>,
    empty: ArrayQueue<Batch>,
    /// Per-thread count of cached buffers, published after every cache operation so that
    /// `show buffers` (main thread) can read it without touching the owner's cache.
    cached: Box<[PaddedCount]>,
}

// SAFETY: the region behind `base` is owned by the pool for its whole life; a buffer's bytes are
// only touched by the thread that holds its index (the frame ownership invariant of pwire-graph),
// and the free lists are lock-free queues.
unsafe impl Send for Pool {}
// SAFETY: as above; shared access never hands out two `&mut` to one buffer (see `get_mut`).
unsafe impl Sync for Pool {}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("n_buffers", &self.n_buffers)
            .field("data_size", &self.data_size)
            .field("backend", &self.backend)
            .finish()
    }
}

const HUGE_2M: usize = 2 << 20;

impl Pool {
    /// Makes the pool. The count is rounded up to a whole number of batches.
    pub fn new(cfg: &PoolConfig) -> std::io::Result<Arc<Pool>> {
        let n_batches = (cfg.n_buffers as usize).div_ceil(BATCH).max(1);
        let n = n_batches * BATCH;
        let n_buffers = u32::try_from(n).map_err(|_| std::io::Error::other("too many buffers"))?;
        let data_size = cfg.data_size.max(128);
        if !cfg.pre_data.is_multiple_of(64) {
            return Err(std::io::Error::other("pre_data must be a multiple of 64"));
        }
        // An odd number of cache lines: with an even one (2304 B = 36 lines by default) the
        // same line of every buffer falls in a quarter of the L1 sets, and a frame's metadata
        // evicts itself long before the cache is full.
        let mut stride =
            (cfg.pre_data + META_SIZE + HEADROOM + data_size as usize).next_multiple_of(64);
        if (stride / 64).is_multiple_of(2) {
            stride += 64;
        }
        let len = stride * n;
        let (region, map_len, backend) = map_region(len, cfg.try_hugepages)?;
        // SAFETY: pre_data < stride <= len, so the offset stays inside the mapping.
        let base = unsafe { region.add(cfg.pre_data) };
        let full = ArrayQueue::new(n_batches);
        let empty = ArrayQueue::new(n_batches + 64);
        for b in 0..n_batches {
            let mut batch: Batch = Box::new([0; BATCH]);
            for (i, slot) in batch.iter_mut().enumerate() {
                *slot = (b * BATCH + i) as u32;
            }
            full.push(batch).expect("sized for every batch");
        }
        for _ in 0..64 {
            empty.push(Box::new([0; BATCH])).expect("sized for spares");
        }
        let pool = Pool {
            base,
            region,
            pre_data: cfg.pre_data,
            map_len,
            stride,
            n_buffers,
            data_size,
            backend,
            full,
            empty,
            cached: (0..cfg.n_threads.max(1))
                .map(|_| PaddedCount(AtomicU32::new(0)))
                .collect(),
        };
        for i in 0..n_buffers {
            // SAFETY: `i` is in range and no other reference to any buffer exists yet.
            let b = unsafe { pool.raw(i) };
            // SAFETY: `raw` points at the metadata slot of buffer `i`, inside the region, aligned
            // to 64 (stride is a multiple of 64 and the region is page aligned).
            unsafe {
                b.write(Buffer::new_at(
                    pool.base.add(i as usize * stride + META_SIZE + HEADROOM),
                    data_size,
                    i,
                ))
            };
        }
        Ok(Arc::new(pool))
    }

    pub fn n_buffers(&self) -> u32 {
        self.n_buffers
    }
    pub fn data_size(&self) -> u16 {
        self.data_size
    }
    pub fn backend(&self) -> Backend {
        self.backend
    }
    pub fn n_threads(&self) -> usize {
        self.cached.len()
    }
    /// Bytes the pool's region occupies.
    pub fn region_bytes(&self) -> usize {
        self.map_len
    }
    /// Start of the region (for drivers that register it with a device, e.g. for DMA).
    pub fn region_start(&self) -> *mut u8 {
        self.region
    }
    /// Bytes from one buffer's metadata to the next.
    pub fn stride(&self) -> usize {
        self.stride
    }
    /// Bytes reserved before each buffer's metadata ([`PoolConfig::pre_data`]).
    pub fn pre_data(&self) -> usize {
        self.pre_data
    }
    /// Buffer `bi`'s metadata address (drivers that hand buffers to devices as pointers).
    /// Panics when `bi` is out of range.
    #[inline(always)]
    pub fn buffer_ptr(&self, bi: BufferIndex) -> *mut Buffer {
        assert!(bi < self.n_buffers, "buffer index {bi} out of range");
        // SAFETY: in range (checked).
        unsafe { self.raw(bi) }
    }

    /// Buffers in the global free lists.
    pub fn global_free(&self) -> u32 {
        (self.full.len() * BATCH) as u32
    }
    /// Buffers sitting in thread `t`'s cache.
    pub fn cached(&self, t: usize) -> u32 {
        self.cached
            .get(t)
            .map_or(0, |c| c.0.load(Ordering::Relaxed))
    }
    /// All free buffers: global plus every thread cache. Equal to `n_buffers()` when nothing leaked.
    pub fn free_count(&self) -> u32 {
        self.global_free() + (0..self.cached.len()).map(|t| self.cached(t)).sum::<u32>()
    }

    /// Base, stride and bound by value, for per-packet loops (see [`View`]).
    #[inline(always)]
    pub fn view(&self) -> View<'_> {
        View {
            base: self.base,
            stride: self.stride,
            n_buffers: self.n_buffers,
            _pool: std::marker::PhantomData,
        }
    }

    #[inline(always)]
    unsafe fn raw(&self, bi: BufferIndex) -> *mut Buffer {
        // SAFETY: the caller guarantees `bi < n_buffers`, so the offset is inside the region.
        unsafe { self.base.add(bi as usize * self.stride).cast::<Buffer>() }
    }

    /// The first `len` bytes of buffer `bi`'s data area (from `data[0]`), addressed from the
    /// pool's base alone: an input node filling a buffer it just allocated writes metadata and
    /// data without first loading (and stalling on) the metadata line.
    ///
    /// # Safety
    /// As [`Pool::get_mut`]: the caller owns `bi` and holds no other reference to it.
    #[inline(always)]
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn data_mut(&self, bi: BufferIndex, len: usize) -> &mut [u8] {
        assert!(bi < self.n_buffers && len <= self.data_size as usize);
        // SAFETY: in range (checked): `len` bytes from data[0] lie inside buffer `bi`'s data
        // area; exclusivity is the caller's contract.
        unsafe {
            let p = self.raw(bi).cast::<u8>().add(META_SIZE + HEADROOM);
            std::slice::from_raw_parts_mut(p, len)
        }
    }

    /// Shared view of a buffer's metadata and data.
    #[inline(always)]
    pub fn get(&self, bi: BufferIndex) -> &Buffer {
        assert!(bi < self.n_buffers, "buffer index {bi} out of range");
        // SAFETY: in range (checked); metadata was initialised in `new`.
        unsafe { &*self.raw(bi) }
    }

    /// Exclusive view of a buffer.
    ///
    /// # Safety
    /// The caller must own `bi` (hold it in exactly one frame slot, cache or driver ring) and must
    /// not create a second reference to the same buffer while this one lives.
    #[inline(always)]
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn get_mut(&self, bi: BufferIndex) -> &mut Buffer {
        assert!(bi < self.n_buffers, "buffer index {bi} out of range");
        // SAFETY: in range (checked); exclusivity is the caller's contract.
        unsafe { &mut *self.raw(bi) }
    }

    /// Index of the buffer whose metadata lives at `b` (used by drivers that keep pointers).
    pub fn index_of(&self, b: &Buffer) -> BufferIndex {
        b.index()
    }

    fn take_full(&self) -> Option<Batch> {
        self.full.pop()
    }
    fn give_full(&self, b: Batch) {
        // Cannot fail: there are never more full batches than the pool holds.
        let _ = self.full.push(b);
    }
    fn take_empty(&self) -> Batch {
        self.empty.pop().unwrap_or_else(|| Box::new([0; BATCH]))
    }
    fn give_empty(&self, b: Batch) {
        let _ = self.empty.push(b);
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        // SAFETY: `base`/`map_len` came from a successful mmap in `map_region`; nothing refers to
        // the region once the last `Arc<Pool>` is dropped.
        unsafe { libc::munmap(self.region.cast(), self.map_len) };
    }
}

fn map_region(len: usize, try_huge: bool) -> std::io::Result<(*mut u8, usize, Backend)> {
    if try_huge {
        let hl = len.next_multiple_of(HUGE_2M);
        // SAFETY: anonymous private mapping with no address hint; the result is checked.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                hl,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_HUGETLB | libc::MAP_POPULATE,
                -1,
                0,
            )
        };
        if p != libc::MAP_FAILED {
            return Ok((p.cast(), hl, Backend::Hugepage));
        }
    }
    // Ordinary pages, but 2 MiB aligned and marked for transparent hugepages: the kernel then
    // backs the pool with 2 MiB pages where it can (THP in `madvise` mode, Debian's default),
    // and a worker's buffers no longer need a TLB entry per 4 KiB.
    let pl = len.next_multiple_of(HUGE_2M);
    let over = pl + HUGE_2M;
    // SAFETY: as above, ordinary pages.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            over,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(std::io::Error::last_os_error());
    }
    let start = p as usize;
    let aligned = start.next_multiple_of(HUGE_2M);
    // SAFETY: [start, aligned) and [aligned + pl, start + over) lie inside the mapping just
    // made and nothing refers to them; the kept part is [aligned, aligned + pl). The advice
    // only changes how the kept pages are backed (its failure is harmless: 4 KiB pages).
    unsafe {
        if aligned > start {
            libc::munmap(p, aligned - start);
        }
        let tail = start + over - (aligned + pl);
        if tail > 0 {
            libc::munmap((aligned + pl) as *mut libc::c_void, tail);
        }
        libc::madvise(aligned as *mut libc::c_void, pl, libc::MADV_HUGEPAGE);
    }
    Ok((aligned as *mut u8, pl, Backend::Heap))
}

/// One thread's stash of free buffers. Owned by exactly one thread (its graph runtime).
pub struct ThreadCache {
    pool: Arc<Pool>,
    thread: usize,
    bufs: Box<[BufferIndex; CACHE_CAP]>,
    n: usize,
}

impl std::fmt::Debug for ThreadCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ThreadCache")
            .field("thread", &self.thread)
            .field("n", &self.n)
            .finish()
    }
}

impl ThreadCache {
    pub fn new(pool: Arc<Pool>, thread: usize) -> Self {
        assert!(
            thread < pool.n_threads(),
            "thread {thread} has no cache slot"
        );
        ThreadCache {
            pool,
            thread,
            bufs: Box::new([0; CACHE_CAP]),
            n: 0,
        }
    }

    pub fn pool(&self) -> &Arc<Pool> {
        &self.pool
    }

    fn publish(&self) {
        self.pool.cached[self.thread]
            .0
            .store(self.n as u32, Ordering::Relaxed);
    }

    /// Fills `out` with fresh buffers (metadata reset, data empty at offset 0); returns how many it
    /// got, fewer than asked only when the pool is exhausted.
    pub fn alloc(&mut self, out: &mut [BufferIndex]) -> usize {
        let got = self.alloc_uninit(out);
        for &bi in &out[..got] {
            // SAFETY: these indices just left the free list; nobody else holds them.
            unsafe { self.pool.get_mut(bi) }.reset();
        }
        got
    }

    /// As [`ThreadCache::alloc`], leaving the metadata as the last holder left it: the caller
    /// must [`Buffer::init`] (or `reset`) every buffer it gets.
    pub fn alloc_uninit(&mut self, out: &mut [BufferIndex]) -> usize {
        let mut got = 0;
        while got < out.len() {
            if self.n == 0 && !self.refill() {
                break;
            }
            let k = (out.len() - got).min(self.n);
            out[got..got + k].copy_from_slice(&self.bufs[self.n - k..self.n]);
            self.n -= k;
            got += k;
        }
        self.publish();
        got
    }

    fn refill(&mut self) -> bool {
        match self.pool.take_full() {
            Some(batch) => {
                self.bufs[self.n..self.n + BATCH].copy_from_slice(&batch[..]);
                self.n += BATCH;
                self.pool.give_empty(batch);
                true
            }
            None => false,
        }
    }

    /// Returns buffers to the pool.
    pub fn free(&mut self, bis: &[BufferIndex]) {
        for chunk in bis.chunks(BATCH) {
            if self.n + chunk.len() > CACHE_CAP {
                let mut batch = self.pool.take_empty();
                batch.copy_from_slice(&self.bufs[self.n - BATCH..self.n]);
                self.n -= BATCH;
                self.pool.give_full(batch);
            }
            self.bufs[self.n..self.n + chunk.len()].copy_from_slice(chunk);
            self.n += chunk.len();
        }
        self.publish();
    }

    /// Buffers held right now.
    pub fn len(&self) -> usize {
        self.n
    }
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Gives every cached buffer back to the global lists (thread exit).
    pub fn drain(&mut self) {
        while self.n >= BATCH {
            let mut batch = self.pool.take_empty();
            batch.copy_from_slice(&self.bufs[self.n - BATCH..self.n]);
            self.n -= BATCH;
            self.pool.give_full(batch);
        }
        self.publish();
    }
}

impl Drop for ThreadCache {
    fn drop(&mut self) {
        self.drain();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(n: u32, threads: usize) -> Arc<Pool> {
        Pool::new(&PoolConfig {
            n_buffers: n,
            data_size: 2048,
            try_hugepages: false,
            n_threads: threads,
            pre_data: 0,
        })
        .unwrap()
    }

    #[test]
    fn alloc_free_accounts_every_buffer() {
        let p = pool(1000, 2);
        assert_eq!(p.n_buffers(), 1024);
        let mut c0 = ThreadCache::new(p.clone(), 0);
        let mut c1 = ThreadCache::new(p.clone(), 1);
        let mut a = vec![0u32; 700];
        assert_eq!(c0.alloc(&mut a), 700);
        let mut seen = std::collections::HashSet::new();
        assert!(
            a.iter().all(|&b| seen.insert(b)),
            "duplicate index handed out"
        );
        assert_eq!(p.free_count(), 1024 - 700);
        // Freed on another thread: ends up there, then drains back.
        c1.free(&a);
        assert_eq!(p.free_count(), 1024);
        let mut all = vec![0u32; 2000];
        // Thread 0's cache keeps what it refilled beyond its 700; thread 1 cannot reach it.
        let held = c0.len();
        let got = c1.alloc(&mut all);
        assert_eq!(got, 1024 - held, "exhaustion returns what is reachable");
        assert_eq!(p.free_count() as usize, held);
        c0.free(&all[..got]);
        drop(c0);
        drop(c1);
        assert_eq!(p.free_count(), 1024);
    }

    #[test]
    fn headroom_prepend_and_strip() {
        let p = pool(256, 1);
        let mut c = ThreadCache::new(p.clone(), 0);
        let mut bi = [0u32; 1];
        c.alloc(&mut bi);
        // SAFETY: test owns the buffer.
        let b = unsafe { p.get_mut(bi[0]) };
        b.append(&[1, 2, 3, 4]).unwrap();
        assert_eq!(b.current(), &[1, 2, 3, 4]);
        let h = b.prepend(HEADROOM).expect("whole headroom is usable");
        h.fill(9);
        assert_eq!(b.current_length as usize, HEADROOM + 4);
        assert!(b.prepend(1).is_none(), "no room past the headroom");
        b.advance(HEADROOM as i32);
        assert_eq!(b.current(), &[1, 2, 3, 4]);
        assert!(b.append(&vec![0; 2048]).is_none(), "past data_size");
        c.free(&bi);
    }
}
