//! 2 MiB pages under the big dataplane arrays (second-level plies, per-entry forwarding and
//! counters). A lookup over a full table touches a few random lines in each; with 4 KiB pages
//! each of those is also a TLB miss once a frame's lookups span more pages than the TLB holds
//! (1024 destinations over 1M routes: thousands of pages), with 2 MiB pages the arrays take a
//! few dozen entries — on a host that backs the guest with 2 MiB pages too. Under a hypervisor
//! that maps guest memory with 4 KiB pages (the Firecracker VMs pwire is benchmarked on) the
//! host's page walk remains and this buys about 4% (measured; see `mtrie`). Transparent
//! hugepages in `madvise` mode (Debian's default) back a range with them only when asked;
//! `state` asks once the FIB is big (`HUGE_FROM` entries), so a pwire with a few routes keeps 4
//! KiB pages and a small footprint. The advice covers pages faulted in afterwards: the rows,
//! filled in order, end up almost all on 2 MiB pages; the second level, whose 2 MiB ranges all
//! hold a 4 KiB page of some /16 by then, stays on 4 KiB pages until khugepaged collapses them.
//! (Advised from the start, all of it was on 2 MiB pages and `ip4-lookup` over 1M routes cost
//! the same, 2026-12-07: under this hypervisor the page size of the guest does not matter.)

/// 2 MiB.
const HUGE: usize = 2 << 20;

/// Asks the kernel for transparent huge pages under the 2 MiB-aligned part of `v`'s reserved
/// capacity (a no-op below 2 MiB, or where THP is off: only a hint).
pub(crate) fn advise<T>(v: &Vec<T>) {
    let start = v.as_ptr() as usize;
    let end = start + v.capacity() * std::mem::size_of::<T>();
    let (a, b) = (start.next_multiple_of(HUGE), end & !(HUGE - 1));
    if b > a {
        // SAFETY: [a, b) is page aligned and lies inside `v`'s allocation (its reserved
        // capacity), which is mapped. MADV_HUGEPAGE changes only how the range is backed, never
        // its contents, and a failure (THP unavailable) leaves it on 4 KiB pages.
        unsafe {
            libc::madvise(a as *mut libc::c_void, b - a, libc::MADV_HUGEPAGE);
        }
    }
}
