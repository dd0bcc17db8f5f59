//! 2 MiB pages under the big dataplane arrays (second-level plies, per-entry forwarding and
//! counters). A lookup over a full table touches a few random lines in each; with 4 KiB pages
//! each of those is also a TLB miss once a frame's lookups span more pages than the TLB holds
//! (1024 destinations over 1M routes: thousands of pages), with 2 MiB pages the arrays take a
//! few dozen entries — on a host that backs the guest with 2 MiB pages too. Under a hypervisor
//! that maps guest memory with 4 KiB pages (the Firecracker VMs pwire is benchmarked on) the
//! TLB still holds 4 KiB translations, but the walk after a miss is shorter (no guest level
//! under the 2 MiB one): 12% fewer `ip4-lookup` clocks over 1M routes with the second level on
//! 2 MiB pages than on 4 KiB ones (paired runs, 2026-12-07).
//!
//! Transparent hugepages in `madvise` mode (Debian's default) back a range with them only when
//! asked; `state` asks once the FIB is big (`HUGE_FROM` entries), so a pwire with a few routes
//! keeps 4 KiB pages and a small footprint (advised from the start, every 2 MiB range of the
//! second level that a /16 with longer prefixes touches would take 2 MiB). The advice covers
//! pages faulted in afterwards, but a 2 MiB range that already holds a 4 KiB page goes on
//! faulting 4 KiB ones, and by then the second level's ranges all hold one (its 32 ranges are
//! each 2048 /16s wide). So the ranges are also collapsed (`MADV_COLLAPSE`, Linux 6.1) on a
//! thread of its own: it copies what is there, tens of milliseconds that the caller, which may
//! hold the workers at the barrier, must not wait for. Ranges with nothing in them fail to
//! collapse (`EINVAL`) and take 2 MiB pages when first touched.

/// 2 MiB.
const HUGE: usize = 2 << 20;

/// Asks the kernel for transparent huge pages under the 2 MiB-aligned part of `v`'s reserved
/// capacity, for the pages there now (collapsed in the background) and those faulted in later.
/// A no-op below 2 MiB, and only a hint: where THP is off or the kernel too old, the range
/// stays on 4 KiB pages.
pub(crate) fn advise<T>(v: &Vec<T>) {
    let start = v.as_ptr() as usize;
    let end = start + v.capacity() * std::mem::size_of::<T>();
    let (a, b) = (start.next_multiple_of(HUGE), end & !(HUGE - 1));
    if b <= a {
        return;
    }
    // SAFETY: [a, b) is page aligned and lies inside `v`'s allocation (its reserved capacity),
    // which is mapped. MADV_HUGEPAGE changes only how the range is backed, never its contents,
    // and a failure (THP unavailable) leaves it on 4 KiB pages.
    unsafe {
        libc::madvise(a as *mut libc::c_void, b - a, libc::MADV_HUGEPAGE);
    }
    // Not joined: nothing waits for it, and a failed spawn only leaves the pages as they are.
    let _ = std::thread::Builder::new()
        .name("pwire-thp".into())
        .spawn(move || {
            // SAFETY: MADV_COLLAPSE changes how a range is backed, never what it holds, so it
            // is harmless whatever is mapped at [a, b) when it runs: `v`'s pages (the arrays
            // never move), or, should they have been freed meanwhile, whatever replaced them
            // (or nothing: the call then fails with ENOMEM). Its result is only a hint's.
            unsafe {
                libc::madvise(a as *mut libc::c_void, b - a, libc::MADV_COLLAPSE);
            }
        });
}
