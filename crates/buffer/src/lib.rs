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
//!
//! Soundness: a buffer index is an ownership token. [`ThreadCache::alloc`] hands out indices
//! nobody else holds; whoever holds one (a frame slot, a cache, a driver ring) is the only one
//! that may reference that buffer, which is what the `unsafe` accessors ([`Pool::get`],
//! [`Pool::get_mut`], [`View::get_mut`], [`Pool::data_mut`]) and [`ThreadCache::free`] ask of
//! their callers, since any index can be named from any thread. Within a buffer, the checked
//! mutators keep the packet range inside it (see [`Buffer`]), and `Buffer` being unsized keeps
//! each metadata block in its own slot.

use crossbeam_queue::ArrayQueue;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

pub mod buffer;
pub use buffer::{flags, Buffer, L2Meta, Opaque, HEADROOM, MAX_DATA_SIZE, META_SIZE};

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

/// The panic of an index past the pool. Out of line and cold, taking the index by value: an
/// `assert!` formatting `bi` in place made every packet loop store the index to the stack
/// before its bounds check (for the message's reference) and kept registers for the message.
#[cold]
#[inline(never)]
#[track_caller]
fn out_of_range(bi: BufferIndex, n: u32) -> ! {
    panic!("buffer index {bi} out of range ({n} buffers)")
}

impl<'a> View<'a> {
    /// Exclusive view of a buffer; the same contract as [`Pool::get_mut`].
    ///
    /// # Safety
    /// As [`Pool::get_mut`]: the caller owns `bi` and makes no second reference to it while
    /// this one lives.
    #[inline(always)]
    pub unsafe fn get_mut(self, bi: BufferIndex) -> &'a mut Buffer {
        if bi >= self.n_buffers {
            out_of_range(bi, self.n_buffers);
        }
        // SAFETY: in range (checked), so inside the live region; exclusivity is the caller's.
        unsafe { &mut *Buffer::ptr_at(self.base.add(bi as usize * self.stride)) }
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

#[cfg(not(miri))]
const HUGE_2M: usize = 2 << 20;

impl Pool {
    /// Makes the pool. The count is rounded up to a whole number of batches; the data size
    /// must not exceed [`MAX_DATA_SIZE`].
    pub fn new(cfg: &PoolConfig) -> std::io::Result<Arc<Pool>> {
        let n_batches = (cfg.n_buffers as usize).div_ceil(BATCH).max(1);
        let n = n_batches * BATCH;
        let n_buffers = u32::try_from(n).map_err(|_| std::io::Error::other("too many buffers"))?;
        let data_size = cfg.data_size.max(128);
        if data_size > MAX_DATA_SIZE {
            return Err(std::io::Error::other(format!(
                "data size {data_size} exceeds {MAX_DATA_SIZE}"
            )));
        }
        if !cfg.pre_data.is_multiple_of(64) {
            return Err(std::io::Error::other("pre_data must be a multiple of 64"));
        }
        // An odd number of cache lines: with an even one (2304 B = 36 lines by default) the
        // same line of every buffer falls in a quarter of the L1 sets, and a frame's metadata
        // evicts itself long before the cache is full.
        // Checked: a wrapped stride would make buffers overlap (and `base` leave the region).
        let too_big = || std::io::Error::other("pool too large");
        let mut stride = (cfg.pre_data)
            .checked_add(META_SIZE + HEADROOM + data_size as usize)
            .and_then(|s| s.checked_next_multiple_of(64))
            .ok_or_else(too_big)?;
        if (stride / 64).is_multiple_of(2) {
            stride = stride.checked_add(64).ok_or_else(too_big)?;
        }
        // Half the address space at most, so `map_region`'s 2 MiB round-ups cannot wrap.
        let len = stride
            .checked_mul(n)
            .filter(|&l| l <= isize::MAX as usize / 2)
            .ok_or_else(too_big)?;
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
            // to 64 (stride is a multiple of 64 and the region is page aligned); its data area
            // follows the metadata and headroom, and holds `data_size` bytes (stride covers it).
            unsafe {
                Buffer::write_at(
                    b,
                    pool.base.add(i as usize * stride + META_SIZE + HEADROOM),
                    data_size,
                    i,
                )
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
        if bi >= self.n_buffers {
            out_of_range(bi, self.n_buffers);
        }
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
        unsafe { Buffer::ptr_at(self.base.add(bi as usize * self.stride)) }
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

    /// Shared view of a buffer's metadata and data. Panics when `bi` is out of range.
    ///
    /// # Safety
    /// No `&mut` to this buffer (metadata or data), on any thread, may be alive while the
    /// returned reference is: in practice the caller owns `bi` (as for [`Pool::get_mut`]) or
    /// borrows it from its owner, who does not write it meanwhile. Any index can be named from
    /// any thread, so this cannot be checked here.
    ///
    /// ```compile_fail,E0133
    /// fn peek(p: &pwire_buffer::Pool) -> u16 {
    ///     p.get(0).current_length() // unsafe: another thread may be writing buffer 0
    /// }
    /// ```
    #[inline(always)]
    pub unsafe fn get(&self, bi: BufferIndex) -> &Buffer {
        if bi >= self.n_buffers {
            out_of_range(bi, self.n_buffers);
        }
        // SAFETY: in range (checked); metadata was initialised in `new`; no writer meanwhile is
        // the caller's contract.
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
        if bi >= self.n_buffers {
            out_of_range(bi, self.n_buffers);
        }
        // SAFETY: in range (checked); exclusivity is the caller's contract.
        unsafe { &mut *self.raw(bi) }
    }

    /// Index of the buffer whose metadata lives at `b` (used by drivers that keep pointers),
    /// or `None` when `b` is not one of this pool's buffers (its stored index would name some
    /// other buffer here).
    pub fn index_of(&self, b: &Buffer) -> Option<BufferIndex> {
        let bi = b.index();
        // Compared by address: a buffer of another pool may carry any index.
        (bi < self.n_buffers && std::ptr::addr_eq(self.buffer_ptr(bi), b)).then_some(bi)
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
        // SAFETY: `region`/`map_len` came from a successful mmap in `map_region`; nothing refers
        // to the region once the last `Arc<Pool>` is dropped.
        #[cfg(not(miri))]
        unsafe {
            libc::munmap(self.region.cast(), self.map_len)
        };
        // SAFETY: as above, allocated by the Miri `map_region` with this size and alignment.
        #[cfg(miri)]
        unsafe {
            std::alloc::dealloc(
                self.region,
                std::alloc::Layout::from_size_align_unchecked(self.map_len, MIRI_ALIGN),
            )
        };
    }
}

/// Alignment of the region under Miri (page-like; buffers need 64).
#[cfg(miri)]
const MIRI_ALIGN: usize = 4096;

/// Under Miri the region comes from the global allocator, zeroed like fresh anonymous pages:
/// Miri does not model hugetlb, `madvise` or unmapping part of a mapping (the alignment trim
/// below), so it cannot run the real `map_region`.
#[cfg(miri)]
fn map_region(len: usize, _try_huge: bool) -> std::io::Result<(*mut u8, usize, Backend)> {
    let layout =
        std::alloc::Layout::from_size_align(len, MIRI_ALIGN).map_err(std::io::Error::other)?;
    // SAFETY: `len` > 0 (a pool holds at least one batch).
    let p = unsafe { std::alloc::alloc_zeroed(layout) };
    if p.is_null() {
        return Err(std::io::Error::other("out of memory"));
    }
    Ok((p, len, Backend::Heap))
}

#[cfg(not(miri))]
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
    ///
    /// # Safety
    /// The caller owns every index in `bis` (got it from `alloc`, a frame slot or a driver
    /// ring, of this pool), each appears once, and no reference to those buffers outlives the
    /// call. A foreign or twice-freed index would later be handed to two owners at once, each
    /// entitled to `Pool::get_mut` on it; checking that here would cost a shared atomic per
    /// packet.
    ///
    /// ```compile_fail,E0133
    /// fn give_back(c: &mut pwire_buffer::ThreadCache) {
    ///     c.free(&[0, 0]); // unsafe: buffer 0 would be handed out twice
    /// }
    /// ```
    pub unsafe fn free(&mut self, bis: &[BufferIndex]) {
        for chunk in bis.chunks(BATCH) {
            debug_assert!(chunk.iter().all(|&bi| bi < self.pool.n_buffers));
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
    use std::panic::{catch_unwind, AssertUnwindSafe};

    fn pool_sized(n: u32, threads: usize, data_size: u16) -> Arc<Pool> {
        Pool::new(&PoolConfig {
            n_buffers: n,
            data_size,
            try_hugepages: false,
            n_threads: threads,
            pre_data: 0,
        })
        .unwrap()
    }

    fn pool(n: u32, threads: usize) -> Arc<Pool> {
        pool_sized(n, threads, 2048)
    }

    /// True when the packet range the metadata describes lies inside the buffer. Computed
    /// from the accessors, without forming the slice (which would be UB if it did not).
    fn in_bounds(b: &Buffer) -> bool {
        let start = i64::from(b.current_data());
        start >= -(HEADROOM as i64) && start + b.len() as i64 <= b.capacity() as i64
    }

    /// Runs `f` on the buffer and says whether it panicked.
    fn panics(b: &mut Buffer, f: impl FnOnce(&mut Buffer)) -> bool {
        catch_unwind(AssertUnwindSafe(|| f(b))).is_err()
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
        // SAFETY: `a` was allocated above, each index once, and no reference to it is alive.
        unsafe { c1.free(&a) };
        assert_eq!(p.free_count(), 1024);
        let mut all = vec![0u32; 2000];
        // Thread 0's cache keeps what it refilled beyond its 700; thread 1 cannot reach it.
        let held = c0.len();
        let got = c1.alloc(&mut all);
        assert_eq!(got, 1024 - held, "exhaustion returns what is reachable");
        assert_eq!(p.free_count() as usize, held);
        // SAFETY: as above.
        unsafe { c0.free(&all[..got]) };
        drop(c0);
        drop(c1);
        assert_eq!(p.free_count(), 1024);
    }

    /// Buffers allocated on one thread and freed on another, both at once: the lock-free
    /// batch queues under Miri's data-race checker.
    #[test]
    fn threads_pass_buffers_through_the_global_lists() {
        let p = pool(4 * BATCH as u32, 2);
        let (tx, rx) = std::sync::mpsc::channel::<Vec<BufferIndex>>();
        let p1 = p.clone();
        let consumer = std::thread::spawn(move || {
            let mut c = ThreadCache::new(p1, 1);
            for v in rx {
                // SAFETY: the producer handed these over and keeps no copy.
                unsafe { c.free(&v) };
            }
        });
        let mut c = ThreadCache::new(p.clone(), 0);
        for round in 0..6 {
            let mut v = vec![0; BATCH + round];
            let got = c.alloc(&mut v);
            v.truncate(got);
            for &bi in &v {
                // SAFETY: just allocated, owned here.
                unsafe { p.get_mut(bi) }.append(&[round as u8; 8]).unwrap();
            }
            tx.send(v).unwrap();
        }
        drop(tx);
        consumer.join().unwrap();
        drop(c);
        assert_eq!(p.free_count(), p.n_buffers());
    }

    #[test]
    fn metadata_covers_its_area_only() {
        let p = pool(1, 1);
        with_buffer(&p, |b| {
            // A reference to the metadata must not reach the headroom `current_mut` hands out.
            assert_eq!(std::mem::size_of_val(b), META_SIZE);
            assert_eq!(std::mem::align_of_val(b), 64);
        });
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
        assert_eq!(b.len(), HEADROOM + 4);
        assert!(b.prepend(1).is_none(), "no room past the headroom");
        b.advance(HEADROOM as i32);
        assert_eq!(b.current(), &[1, 2, 3, 4]);
        assert!(b.append(&vec![0; 2048]).is_none(), "past data_size");
        // SAFETY: owned, no reference alive.
        unsafe { c.free(&bi) };
    }

    /// Runs `f` on a freshly allocated buffer of `p`.
    fn with_buffer(p: &Arc<Pool>, f: impl FnOnce(&mut Buffer)) {
        let mut c = ThreadCache::new(p.clone(), 0);
        let mut bi = [0u32; 1];
        assert_eq!(c.alloc(&mut bi), 1);
        // SAFETY: just allocated: owned here, no other reference.
        f(unsafe { p.get_mut(bi[0]) });
        // SAFETY: owned; the reference above has ended.
        unsafe { c.free(&bi) };
    }

    /// A data size beyond what `current_data` (i16) addresses is refused: with 40000 bytes,
    /// `init(40000)` then `advance(35000)` used to wrap the start to -30536, far before the
    /// buffer.
    #[test]
    fn pool_refuses_a_data_size_current_data_cannot_address() {
        let big = Pool::new(&PoolConfig {
            n_buffers: 1,
            data_size: 40000,
            try_hugepages: false,
            n_threads: 1,
            pre_data: 0,
        });
        assert!(big.is_err(), "a 40000-byte data size was accepted");
        // The largest allowed size works end to end: every offset fits.
        let p = pool_sized(1, 1, MAX_DATA_SIZE);
        with_buffer(&p, |b| {
            b.init(MAX_DATA_SIZE, [0, !0]);
            b.advance(i32::from(MAX_DATA_SIZE));
            assert_eq!(b.current_data(), i16::MAX);
            assert!(b.is_empty() && in_bounds(b));
            b.advance(-(i32::from(MAX_DATA_SIZE) + HEADROOM as i32));
            assert_eq!(b.len(), usize::from(MAX_DATA_SIZE) + HEADROOM);
            assert!(in_bounds(b));
        });
    }

    /// A `pre_data` near `usize::MAX` used to wrap the stride to an ordinary size with `base`
    /// far outside the region (an overflow panic in debug builds).
    #[test]
    fn pool_refuses_a_layout_that_overflows() {
        let cfg = |pre_data, n_buffers| PoolConfig {
            n_buffers,
            data_size: 2048,
            try_hugepages: false,
            n_threads: 1,
            pre_data,
        };
        for (pre, n) in [
            (usize::MAX - 63, 1),
            (usize::MAX - 2047, 1),
            (1 << 62, u32::MAX),
        ] {
            let r = catch_unwind(|| Pool::new(&cfg(pre, n)).map(|_| ()));
            assert!(
                matches!(r, Ok(Err(_))),
                "pre_data {pre:#x}, {n} buffers: not refused cleanly"
            );
        }
    }

    #[test]
    fn advance_stays_inside_the_buffer() {
        let p = pool(1, 1);
        with_buffer(&p, |b| {
            b.append(&[7; 100]).unwrap();
            b.advance(10);
            // Out of range both ways, including moves that would wrap an i32: refused, nothing
            // moved.
            for n in [
                91,
                -(HEADROOM as i32) - 11,
                i32::MAX,
                i32::MIN,
                i32::MAX - 100,
            ] {
                assert!(panics(b, |b| b.advance(n)), "advance({n}) accepted");
                assert_eq!((b.current_data(), b.len()), (10, 90), "advance({n}) moved");
            }
            // The exact limits are allowed.
            b.advance(90);
            assert_eq!((b.current_data(), b.len()), (100, 0));
            b.advance(-100 - HEADROOM as i32);
            assert_eq!(
                (b.current_data(), b.len()),
                (-(HEADROOM as i16), HEADROOM + 100)
            );
            assert!(in_bounds(b));
            assert_eq!(&b.current()[HEADROOM + 10..], &[7; 90]);
        });
    }

    /// `set_len(usize::MAX)` used to pass its check (the length seen as isize is -1) and leave
    /// a 65535-byte packet in a 2048-byte buffer.
    #[test]
    fn set_len_refuses_lengths_past_the_data_area() {
        let p = pool(1, 1);
        with_buffer(&p, |b| {
            b.set_start(100);
            for len in [usize::MAX, usize::MAX - 50, 1 << 32, 65535, 2048 - 100 + 1] {
                assert!(!b.set_len(len), "set_len({len}) accepted");
                assert_eq!(b.len(), 0, "set_len({len}) changed the length");
                assert!(in_bounds(b));
            }
            assert!(b.set_len(2048 - 100));
            assert_eq!(b.current().len(), 2048 - 100);
            b.set_start(-(HEADROOM as i16));
            // The end lies before data[0]: all of the data area is free.
            assert_eq!(b.tailroom(), HEADROOM + 2048);
            assert!(b.set_len(HEADROOM + 2048));
            assert!(!b.set_len(HEADROOM + 2049));
            assert!(in_bounds(b));
        });
    }

    /// `init` used to store any length: `init(4000)` on a 2048-byte buffer made `current`
    /// reach 1952 bytes past it.
    #[test]
    fn init_refuses_a_length_past_the_capacity() {
        let p = pool(1, 1);
        with_buffer(&p, |b| {
            assert!(panics(b, |b| b.init(4000, [1, !0])), "init(4000) accepted");
            assert!(panics(b, |b| b.init(2049, [1, !0])), "init(2049) accepted");
            assert!(in_bounds(b));
            b.init(2048, [3, !0]);
            assert_eq!((b.current().len(), b.rx()), (2048, 3));
        });
    }

    /// Copying a packet from a pool with larger buffers used to store its offset unchecked:
    /// an empty packet at 8000 copied into a 2048-byte buffer left `current_data` at 8000.
    #[test]
    fn copy_from_a_larger_buffer_does_not_overrun() {
        let small = pool(1, 1);
        let big = pool_sized(1, 1, 9000);
        with_buffer(&big, |src| {
            src.set_start(8000);
            with_buffer(&small, |dst| {
                dst.append(&[1, 2, 3]).unwrap();
                assert!(panics(dst, |d| d.copy_from(src)), "copy_from accepted");
                assert!(in_bounds(dst));
                assert_eq!(
                    dst.current(),
                    &[1, 2, 3],
                    "a refused copy changed the buffer"
                );
            });
            // What fits is copied, at the same offset, with its metadata (not the trace flag).
            src.set_start(-4);
            src.append(&[5; 2052]).unwrap();
            src.flags = flags::TRACED | flags::PCAP_SEEN;
            src.l2_len = 14;
            with_buffer(&small, |dst| {
                dst.copy_from(src);
                assert_eq!((dst.current_data(), dst.current()), (-4, &[5; 2052][..]));
                assert_eq!((dst.flags, dst.l2_len), (flags::PCAP_SEEN, 14));
            });
        });
    }

    #[test]
    fn narrow_truncate_and_set_current_keep_the_range() {
        let p = pool(1, 1);
        with_buffer(&p, |b| {
            b.append(&(0..100).collect::<Vec<u8>>()).unwrap();
            for (off, len) in [
                (0, 101),
                (101, 0),
                (50, 51),
                (usize::MAX, 2),
                (2, usize::MAX),
            ] {
                assert!(panics(b, |b| b.narrow(off, len)), "narrow({off}, {len})");
                assert_eq!((b.current_data(), b.len()), (0, 100));
            }
            b.narrow(40, 20);
            assert_eq!(b.current(), &(40..60).collect::<Vec<u8>>()[..]);
            b.narrow(20, 0);
            assert_eq!((b.current_data(), b.len()), (60, 0));
            b.truncate(5);
            assert_eq!(b.len(), 0, "truncate only shortens");

            let cap = b.capacity() as i32;
            let h = HEADROOM as i32;
            for (start, len, ok) in [
                (-h, HEADROOM + 2048, true),
                (cap, 0, true),
                (0, 2048, true),
                (-h - 1, 0, false),
                (cap + 1, 0, false),
                (cap, 1, false),
                (10, 2039, false),
                (i32::MAX, 0, false),
                (i32::MIN, 0, false),
                (i32::MAX - 100, 0, false),
                (0, usize::MAX, false),
            ] {
                let before = (b.current_data(), b.len());
                assert_eq!(b.set_current(start, len), ok, "set_current({start}, {len})");
                if ok {
                    assert_eq!((i32::from(b.current_data()), b.len()), (start, len));
                } else {
                    assert_eq!((b.current_data(), b.len()), before);
                }
                assert!(in_bounds(b));
            }
            assert!(b.set_current(6, 30));
            b.truncate(10);
            assert_eq!((b.current_data(), b.len()), (6, 10));
        });
    }

    /// `index_of` used to return a foreign buffer's stored index, which names a different
    /// buffer of this pool (one the caller does not own).
    #[test]
    fn index_of_refuses_a_buffer_of_another_pool() {
        let p = pool(BATCH as u32, 1);
        let q = pool(BATCH as u32, 1);
        with_buffer(&q, |b| {
            assert_eq!(q.index_of(b), Some(b.index()));
            assert_eq!(p.index_of(b), None);
        });
    }
}
