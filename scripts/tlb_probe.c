// What a random read costs as it spreads over more 4 KiB pages, with the memory on 2 MiB
// transparent huge pages in this machine (argument 1, the default) or on 4 KiB pages (0).
//
// Why: ip4-lookup over a full table reads one slot per destination from a 64 MiB trie level,
// which pwire puts on 2 MiB pages. Where the host also maps guest memory with 2 MiB pages, the
// TLB holds the whole level in 32 entries, and the cost below stays flat; where the host maps
// it with 4 KiB pages, the TLB holds 4 KiB translations whatever the guest uses, and the cost
// climbs once the pages read outnumber the second-level TLB (about 2048). One line per page is
// read, so the data (at most 1 MiB) stays in L2 and only the translations change.
//
//   gcc -O2 -o /tmp/tlb_probe scripts/tlb_probe.c && taskset -c 1 /tmp/tlb_probe 1
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <x86intrin.h>

int main(int argc, char **argv) {
    const size_t sz = 64ul << 20, huge = 2ul << 20;
    int want_huge = argc > 1 ? atoi(argv[1]) : 1;
    char *raw = mmap(0, sz + huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    char *p = (char *)(((uintptr_t)raw + huge - 1) & ~(huge - 1));
    madvise(p, sz, want_huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
    memset(p, 1, sz);
    char line[256];
    FILE *f = fopen("/proc/self/smaps_rollup", "r");
    while (f && fgets(line, sizeof line, f))
        if (strstr(line, "AnonHugePages"))
            printf("this process's %s", line);
    if (f)
        fclose(f);
    const size_t npages = sz >> 12, reads = 1 << 22, ring = 1 << 20;
    const int ns[] = {256, 512, 1024, 1536, 2048, 3072, 4096, 8192, 16384};
    uint32_t *offs = malloc(sizeof(uint32_t) * ring);
    uint32_t *pages = malloc(sizeof(uint32_t) * npages);
    for (size_t i = 0; i < npages; i++)
        pages[i] = i;
    srand(1);
    for (size_t t = 0; t < sizeof ns / sizeof ns[0]; t++) {
        size_t n = ns[t];
        // n distinct pages (a partial Fisher-Yates shuffle), one line in each.
        for (size_t i = 0; i < n; i++) {
            size_t j = i + ((size_t)rand() << 16 ^ (size_t)rand()) % (npages - i);
            uint32_t x = pages[i];
            pages[i] = pages[j];
            pages[j] = x;
        }
        for (size_t i = 0; i < ring; i++) {
            uint32_t pg = pages[rand() % n];
            offs[i] = (pg << 12) | ((pg % 64) << 6);
        }
        uint64_t sum = 0, clk = 0;
        for (int pass = 0; pass < 2; pass++) {  // the first pass warms the TLB and caches
            uint64_t t0 = __rdtsc();
            for (size_t i = 0; i < reads; i++)
                sum += (unsigned char)p[offs[i & (ring - 1)]];
            clk = __rdtsc() - t0;
        }
        printf("%6zu pages: %5.2f clk/read%s\n", n, (double)clk / reads, sum ? "" : " ");
    }
    return 0;
}
