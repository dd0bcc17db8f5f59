//! The DPDK mempool that *is* pwire's buffer pool: zero copy between rte_mbuf and pwire buffers.
//!
//! Every pwire buffer is laid out (with `PoolConfig::pre_data = MBUF_PRE_DATA`) as
//!
//! ```text
//! [pad][rte_mempool_objhdr 24][rte_mbuf 128][pwire metadata 128][headroom 128][data]
//!                             ^ mbuf        ^ Buffer            ^ mbuf buf_addr ^ data[0]
//! ```
//!
//! so `Buffer = mbuf + 128` and back, with no table and no division (the metadata stores its own
//! index). The mempool ("pwire_pool") is created empty with `cache_size` 0 and custom ops
//! ("pwire"): its objects are linked by hand into its element list once at start-up, each
//! mbuf header is initialised once as `rte_pktmbuf_init` would (buf_addr = the headroom, buf_len =
//! headroom + data size, refcnt 1, one segment, pool), and from then on
//! - `dequeue` (a PMD allocating, e.g. af_packet rx) takes buffers from the calling thread's
//!   pwire [`ThreadCache`], and
//! - `enqueue` (a PMD freeing, e.g. after transmitting) gives them back to it,
//!
//! so a packet received by DPDK is already a pwire buffer and a pwire buffer is sent as it is.
//! "The calling thread's cache" is a thread-local pointer that `dpdk-input` and `dpdk-tx` set
//! once per dispatch ([`CacheScope`]); a call outside any dispatch (device start/stop on the
//! main thread, a PMD's control path) uses the driver's own cache slot behind a mutex, never
//! on the packet path.
//!
//! IOVA: pwire's region is ordinary (or MAP_HUGETLB) memory that EAL did not allocate. EAL runs
//! with `--iova-mode=va`, so an object's IOVA is its virtual address; the region is also
//! registered with `rte_extmem_register` and DMA-mapped for every physical (PCI) device with
//! `rte_dev_dma_map`, which is what a real NIC behind VFIO needs. The virtual PMDs used in the
//! tests (net_af_packet, net_ring, net_null, net_tap) only ever dereference virtual addresses.

use std::cell::Cell;
use std::ffi::{c_int, c_uint, c_void, CString};
use std::sync::{Arc, Mutex, OnceLock};

use pwire_buffer::{Buffer, BufferIndex, Pool, ThreadCache, HEADROOM, MBUF_PRE_DATA, META_SIZE};
use pwire_dpdk_sys as sys;

/// Bytes of an rte_mbuf; the Rust layout and DPDK's must agree (checked at start-up).
pub const MBUF_SIZE: usize = std::mem::size_of::<sys::rte_mbuf>();
const OBJHDR_SIZE: usize = std::mem::size_of::<sys::rte_mempool_objhdr>();
const _: () = assert!(MBUF_SIZE == 128 && MBUF_SIZE + OBJHDR_SIZE <= MBUF_PRE_DATA);
const _: () = assert!(sys::RTE_PKTMBUF_HEADROOM as usize == HEADROOM);

/// Ops name registered with DPDK.
const OPS_NAME: &str = "pwire";
/// Objects handled per chunk inside the ops (a stack array, zeroed per call: kept small).
const CHUNK: usize = 64;

thread_local! {
    /// The cache of the dataplane thread currently inside a DPDK call (see [`CacheScope`]).
    static CURRENT: Cell<*mut ThreadCache> = const { Cell::new(std::ptr::null_mut()) };
}

/// What the mempool's ops need: the pool and the fallback cache for calls made outside a
/// dispatch. Leaked once per process (the mempool lives as long as EAL).
pub struct OpsCtx {
    pool: Arc<Pool>,
    control: Mutex<ThreadCache>,
}

impl std::fmt::Debug for OpsCtx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpsCtx").field("pool", &self.pool).finish()
    }
}

/// Sets the calling thread's cache for DPDK calls for as long as it lives (one per dispatch).
#[derive(Debug)]
pub struct CacheScope(());

impl CacheScope {
    /// # Safety
    /// `cache` must stay valid and must not be used through any other path while the scope
    /// lives, except by the mempool ops that DPDK calls on this thread.
    #[inline(always)]
    pub unsafe fn enter(cache: &mut ThreadCache) -> CacheScope {
        CURRENT.with(|c| c.set(cache));
        CacheScope(())
    }
}

impl Drop for CacheScope {
    #[inline(always)]
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(std::ptr::null_mut()));
    }
}

/// The mbuf of the buffer whose metadata is at `b`.
#[inline(always)]
pub fn mbuf_of(b: *mut Buffer) -> *mut sys::rte_mbuf {
    b.cast::<u8>().wrapping_sub(MBUF_SIZE).cast()
}

/// The pwire buffer an mbuf belongs to.
#[inline(always)]
pub fn buffer_of(m: *mut sys::rte_mbuf) -> *mut Buffer {
    Buffer::ptr_at(m.cast::<u8>().wrapping_add(MBUF_SIZE))
}

fn ctx(mp: *const sys::rte_mempool) -> &'static OpsCtx {
    // SAFETY: `pool_data` of a mempool using these ops is set to a leaked `OpsCtx` in `create`
    // before any object can be dequeued, and never freed.
    unsafe { &*(*mp).__bindgen_anon_1.pool_data.cast::<OpsCtx>() }
}

/// Runs `f` with the calling thread's cache, or the driver's control cache.
fn with_cache<R>(mp: *const sys::rte_mempool, f: impl FnOnce(&mut ThreadCache) -> R) -> R {
    let cur = CURRENT.with(Cell::get);
    if !cur.is_null() {
        // SAFETY: set by `CacheScope::enter` on this thread, whose contract keeps it valid and
        // unaliased while DPDK runs on it.
        return f(unsafe { &mut *cur });
    }
    let mut c = ctx(mp).control.lock().unwrap_or_else(|e| e.into_inner());
    f(&mut c)
}

unsafe extern "C" fn ops_alloc(_mp: *mut sys::rte_mempool) -> c_int {
    0
}

unsafe extern "C" fn ops_free(_mp: *mut sys::rte_mempool) {}

unsafe extern "C" fn ops_enqueue(
    mp: *mut sys::rte_mempool,
    objs: *const *mut c_void,
    n: c_uint,
) -> c_int {
    // SAFETY: DPDK passes `n` valid object pointers.
    let objs = unsafe { std::slice::from_raw_parts(objs, n as usize) };
    with_cache(mp, |cache| {
        if let [o] = objs {
            // PMDs that free one mbuf at a time (net_null, af_packet tx) come here per packet.
            // SAFETY: as below.
            let bi = unsafe { (*buffer_of(o.cast())).index() };
            // SAFETY: as below.
            unsafe { cache.free(&[bi]) };
            return;
        }
        let mut idx = [0 as BufferIndex; CHUNK];
        for chunk in objs.chunks(CHUNK) {
            for (o, slot) in chunk.iter().zip(idx.iter_mut()) {
                // SAFETY: every object of this mempool is an mbuf followed by its buffer's
                // metadata (module docs), initialised at pool creation.
                *slot = unsafe { (*buffer_of(o.cast())).index() };
                debug_assert!(
                    std::ptr::eq(ctx(mp).pool.buffer_ptr(*slot), buffer_of(o.cast())),
                    "enqueue of a foreign object {o:?}"
                );
            }
            // SAFETY: DPDK enqueues objects it holds and gives up, each once (the mempool
            // contract), so their buffers are ours to free and nothing refers to them.
            unsafe { cache.free(&idx[..chunk.len()]) };
        }
    });
    0
}

unsafe extern "C" fn ops_dequeue(
    mp: *mut sys::rte_mempool,
    objs: *mut *mut c_void,
    n: c_uint,
) -> c_int {
    // SAFETY: DPDK passes room for `n` object pointers.
    let objs = unsafe { std::slice::from_raw_parts_mut(objs, n as usize) };
    let pool = &ctx(mp).pool;
    with_cache(mp, |cache| {
        if let [slot] = objs {
            // PMDs that allocate one mbuf at a time (af_packet, pcap rx) come here per packet.
            let mut bi = [0 as BufferIndex];
            if cache.alloc(&mut bi) == 0 {
                return -libc::ENOBUFS;
            }
            *slot = mbuf_of(pool.buffer_ptr(bi[0])).cast();
            return 0;
        }
        let mut idx = [0 as BufferIndex; CHUNK];
        let mut done = 0;
        while done < objs.len() {
            let k = (objs.len() - done).min(CHUNK);
            let got = cache.alloc(&mut idx[..k]);
            for (slot, &bi) in objs[done..done + got].iter_mut().zip(&idx[..got]) {
                *slot = mbuf_of(pool.buffer_ptr(bi)).cast();
            }
            done += got;
            if got < k {
                // All or nothing, as a mempool dequeue must be: give back what we took.
                for chunk in objs[..done].chunks(CHUNK) {
                    for (o, s) in chunk.iter().zip(idx.iter_mut()) {
                        // SAFETY: just filled from buffers of this pool.
                        *s = unsafe { (*buffer_of(o.cast())).index() };
                    }
                    // SAFETY: allocated just above and not yet handed to DPDK.
                    unsafe { cache.free(&idx[..chunk.len()]) };
                }
                return -libc::ENOBUFS;
            }
        }
        0
    })
}

unsafe extern "C" fn ops_get_count(mp: *const sys::rte_mempool) -> c_uint {
    ctx(mp).pool.free_count()
}

fn register_ops() -> Result<(), String> {
    static DONE: OnceLock<Result<(), String>> = OnceLock::new();
    DONE.get_or_init(|| {
        let mut ops = sys::rte_mempool_ops::default();
        for (d, s) in ops.name.iter_mut().zip(OPS_NAME.bytes()) {
            *d = s as std::ffi::c_char;
        }
        ops.alloc = Some(ops_alloc);
        ops.free = Some(ops_free);
        ops.enqueue = Some(ops_enqueue);
        ops.dequeue = Some(ops_dequeue);
        ops.get_count = Some(ops_get_count);
        // SAFETY: `ops` is a fully initialised table; DPDK copies it.
        let r = unsafe { sys::rte_mempool_register_ops(&ops) };
        if r < 0 {
            Err(format!("dpdk: cannot register mempool ops: error {r}"))
        } else {
            Ok(())
        }
    })
    .clone()
}

/// The process's pwire mempool.
#[derive(Debug, Clone, Copy)]
pub struct Mempool(pub *mut sys::rte_mempool);
// SAFETY: the mempool is created once and only read afterwards; DPDK mempools are meant to be
// used from any thread.
unsafe impl Send for Mempool {}
// SAFETY: as above.
unsafe impl Sync for Mempool {}

impl Mempool {
    /// Objects handed out (to PMDs, rings, frames): `size - free`.
    pub fn in_use(&self) -> u32 {
        // SAFETY: a valid mempool made by `create`.
        unsafe { sys::rte_mempool_in_use_count(self.0) }
    }
}

/// Makes the mempool over `pool` (once per process; EAL must be up). `control_slot` is the
/// pool's cache slot reserved for the driver.
pub fn create(pool: &Arc<Pool>, control_slot: usize) -> Result<Mempool, String> {
    static MP: OnceLock<Result<Mempool, String>> = OnceLock::new();
    let mp = MP.get_or_init(|| create_once(pool, control_slot)).clone()?;
    // EAL, and so the mempool, exists once per process: a second dataplane in the same
    // process (a test harness) would get mbufs of the first one's pool.
    if !Arc::ptr_eq(&ctx(mp.0).pool, pool) {
        return Err("dpdk: the DPDK driver can only be started once per process".into());
    }
    Ok(mp)
}

fn create_once(pool: &Arc<Pool>, control_slot: usize) -> Result<Mempool, String> {
    // SAFETY: plain getters of the C structure sizes.
    let (c_mbuf, c_hdr) = unsafe { (sys::shim_sizeof_mbuf(), sys::shim_sizeof_objhdr()) };
    if c_mbuf as usize != MBUF_SIZE || c_hdr as usize != OBJHDR_SIZE {
        return Err(format!(
            "dpdk: rte_mbuf/objhdr sizes {c_mbuf}/{c_hdr} differ from the bindings' {MBUF_SIZE}/{OBJHDR_SIZE}"
        ));
    }
    if pool.pre_data() < MBUF_PRE_DATA {
        return Err("dpdk: the buffer pool has no room for rte_mbuf headers".into());
    }
    if control_slot >= pool.n_threads() {
        return Err("dpdk: the buffer pool has no cache slot for the driver".into());
    }
    // SAFETY: EAL is initialised (callers); a query with no argument.
    if unsafe { sys::rte_eal_iova_mode() } != sys::rte_iova_mode_RTE_IOVA_VA {
        return Err(
            "dpdk: EAL is not in IOVA-as-VA mode (pwire's buffers need iova-mode va)".into(),
        );
    }
    register_ops()?;
    let name = CString::new("pwire_pool").expect("no NUL");
    let data_room = HEADROOM + pool.data_size() as usize;
    let elt = MBUF_SIZE + META_SIZE + data_room;
    let n = pool.n_buffers();
    // SAFETY: valid name; sizes in range; socket -1 = any.
    let mp = unsafe {
        sys::rte_mempool_create_empty(
            name.as_ptr(),
            n,
            elt as c_uint,
            0,
            std::mem::size_of::<sys::rte_pktmbuf_pool_private>() as c_uint,
            -1,
            0,
        )
    };
    if mp.is_null() {
        // SAFETY: reads the per-thread rte_errno.
        let e = unsafe { sys::shim_rte_errno() };
        return Err(format!("dpdk: cannot create the mempool: {}", strerror(e)));
    }
    let ops = CString::new(OPS_NAME).expect("no NUL");
    // SAFETY: a fresh, unpopulated mempool and a registered ops name.
    let r = unsafe { sys::rte_mempool_set_ops_byname(mp, ops.as_ptr(), std::ptr::null_mut()) };
    if r < 0 {
        return Err(format!("dpdk: cannot set mempool ops: {}", strerror(-r)));
    }
    let ctx = Box::leak(Box::new(OpsCtx {
        pool: pool.clone(),
        control: Mutex::new(ThreadCache::new(pool.clone(), control_slot)),
    }));
    // SAFETY: `mp` is valid and not yet used by anyone; the ops read `pool_data`.
    unsafe { (*mp).__bindgen_anon_1.pool_data = std::ptr::from_mut(ctx).cast() };
    let mut priv_ = sys::rte_pktmbuf_pool_private {
        mbuf_data_room_size: data_room as u16,
        // buf_addr = mbuf + sizeof(mbuf) + priv_size must land on the headroom.
        mbuf_priv_size: META_SIZE as u16,
        flags: 0,
    };
    // SAFETY: the mempool has room for the private area (create_empty above).
    unsafe { sys::rte_pktmbuf_pool_init(mp, std::ptr::from_mut(&mut priv_).cast()) };
    for bi in 0..n {
        let m = mbuf_of(pool.buffer_ptr(bi));
        let hdr = m
            .cast::<u8>()
            .wrapping_sub(OBJHDR_SIZE)
            .cast::<sys::rte_mempool_objhdr>();
        // SAFETY: the header lies in the buffer's pre_data (checked above), inside the region.
        unsafe { sys::shim_mempool_add_obj(mp, hdr, m as u64) };
        // What rte_pktmbuf_init does, except that it would also zero the private area, which
        // is pwire's live metadata. The rest of the header is zero (fresh anonymous memory).
        // SAFETY: `m` is this buffer's mbuf slot in pre_data, not yet used by anyone.
        unsafe {
            (*m).priv_size = META_SIZE as u16;
            (*m).buf_addr = m.cast::<u8>().add(MBUF_SIZE + META_SIZE).cast();
            (*m).buf_iova = m as u64 + (MBUF_SIZE + META_SIZE) as u64;
            (*m).buf_len = data_room as u16;
            (*m).data_off = HEADROOM as u16;
            (*m).pool = mp;
            (*m).nb_segs = 1;
            (*m).port = u16::MAX;
            (*m).refcnt = 1;
            (*m).next = std::ptr::null_mut();
        }
    }
    register_memory(pool)?;
    Ok(Mempool(mp))
}

/// Tells DPDK about pwire's region so that PMDs can look it up, and maps it for DMA on every
/// physical device (IOVA = VA).
fn register_memory(pool: &Pool) -> Result<(), String> {
    let page = if pool.backend() == pwire_buffer::Backend::Hugepage {
        2 << 20
    } else {
        4096
    };
    let (va, len) = (pool.region_start(), pool.region_bytes());
    // SAFETY: the region is a live mapping of `len` bytes owned by the pool for the process's
    // life (the mempool keeps an Arc to it); null IOVA table = IOVA as VA.
    let r = unsafe { sys::rte_extmem_register(va.cast(), len, std::ptr::null_mut(), 0, page) };
    if r < 0 {
        // SAFETY: reads rte_errno.
        let e = unsafe { sys::shim_rte_errno() };
        return Err(format!("dpdk: rte_extmem_register: {}", strerror(e)));
    }
    let mut p = 0u64;
    loop {
        // SAFETY: iterating ports; owner 0 = not owned.
        p = unsafe { sys::rte_eth_find_next_owned_by(p as u16, 0) };
        if p >= u64::from(sys::RTE_MAX_ETHPORTS) {
            break;
        }
        let mut info = sys::rte_eth_dev_info::default();
        // SAFETY: valid port id and output struct.
        if unsafe { sys::rte_eth_dev_info_get(p as u16, &mut info) } == 0
            && crate::dev::is_pci(&info)
        {
            // SAFETY: the device pointer comes from dev_info; the region is registered above.
            let r = unsafe { sys::rte_dev_dma_map(info.device, va.cast(), va as u64, len) };
            if r < 0 {
                return Err(format!(
                    "dpdk: cannot map the buffer pool for DMA on port {p}: {}",
                    strerror(-r)
                ));
            }
        }
        p += 1;
    }
    Ok(())
}

/// DPDK's text for an errno value.
pub fn strerror(e: i32) -> String {
    // SAFETY: rte_strerror returns a static or thread-local NUL-terminated string.
    unsafe { std::ffi::CStr::from_ptr(sys::rte_strerror(e)) }
        .to_string_lossy()
        .into_owned()
}
