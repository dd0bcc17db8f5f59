//! The VPP show commands an operator still missed: `show memory` (heap, buffer pool, per
//! thread), `show plugins` (the features compiled in, under the names of VPP's plugins) and
//! `show version verbose` (with the build date and the git commit). Layouts follow VPP
//! (vlib/cli.c, vppinfra's heap formatter, vlib/unix/plugin.c, vpp/app/version.c); pwire's
//! additions come after VPP's lines so a script reading those still works.
//!
//! The build facts are the binary's (its build script reads git and the clock): `pwire`'s
//! `main` hands them over with [`set_build_info`]; a dataplane built without it (tests, the
//! fuzzers) says `unknown`.

use crate::registry::{cmd, Registry};
use crate::CliCtx;
use pwire_cli::{Args, CliError};
use std::fmt::Write as _;
use std::sync::OnceLock;

/// What the binary knows about its own build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuildInfo {
    /// `git rev-parse HEAD` at build time, or `unknown` (a tree without `.git`).
    pub commit: &'static str,
    /// UTC build time, `YYYY-MM-DDTHH:MM:SSZ` (`SOURCE_DATE_EPOCH` when set, for reproducible
    /// packages).
    pub date: &'static str,
    /// `rustc -V` of the compiler that built it.
    pub compiler: &'static str,
}

const UNKNOWN: BuildInfo = BuildInfo {
    commit: "unknown",
    date: "unknown",
    compiler: "unknown",
};

static BUILD: OnceLock<BuildInfo> = OnceLock::new();

/// Records the binary's build facts (once; later calls are ignored).
pub fn set_build_info(b: BuildInfo) {
    let _ = BUILD.set(b);
}

/// The build facts, `unknown` where the binary gave none.
pub fn build_info() -> BuildInfo {
    BUILD.get().copied().unwrap_or(UNKNOWN)
}

/// A VPP plugin whose function pwire has compiled in: its file name (what a VPP operator
/// checks for), the graph node whose presence shows the feature was registered (a feature
/// left out by `plugins { plugin <x> { disable } }` or not compiled in has no node), and what
/// it does.
struct Plugin {
    file: &'static str,
    node: &'static str,
    description: &'static str,
}

/// In VPP's load order (plugins load sorted by file name).
const PLUGINS: &[Plugin] = &[
    Plugin {
        file: "af_packet_plugin.so",
        node: "af-packet-input",
        description: "host interfaces over AF_PACKET (TPACKET_V3 rings)",
    },
    Plugin {
        file: "dpdk_plugin.so",
        node: "dpdk-input",
        description: "Data Plane Development Kit (DPDK) ports",
    },
    Plugin {
        file: "l2tp_plugin.so",
        node: "l2tp-decap",
        description: "L2TPv3 pseudowires over IPv6 (RFC 3931, RFC 4719)",
    },
];

pub(crate) fn register(r: &mut Registry) {
    r.command(cmd(
        "show memory",
        "show memory [main-heap] [numa-heaps] [verbose]",
        true,
        show_memory,
    ));
    r.command(cmd(
        "show plugins",
        "show loaded plugins",
        true,
        show_plugins,
    ));
    // `show version` itself is builtin_cli's; the longest registered path wins, so
    // `show version verbose` lands here.
    r.command(cmd(
        "show version verbose",
        "show version verbose",
        true,
        show_version_verbose,
    ));
}

/// vppinfra's `format_msize`: two decimals and a binary unit from K up, plain bytes below.
pub fn msize(bytes: u64) -> String {
    let b = bytes as f64;
    if bytes >= 1 << 30 {
        format!("{:.2}G", b / (1u64 << 30) as f64)
    } else if bytes >= 1 << 20 {
        format!("{:.2}M", b / (1u64 << 20) as f64)
    } else if bytes >= 1 << 10 {
        format!("{:.2}K", b / (1u64 << 10) as f64)
    } else {
        bytes.to_string()
    }
}

/// The process heap as glibc's `mallinfo2` sees it (every thread allocates from it, as every
/// VPP thread does from its main heap).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HeapUsage {
    /// Bytes obtained from the system (arena plus mmapped chunks).
    pub total: u64,
    /// Bytes in use by allocations.
    pub used: u64,
    /// Bytes free in the arena.
    pub free: u64,
    /// Free bytes at the top of the arena that `malloc_trim` could return.
    pub trimmable: u64,
    /// Chunks and bytes allocated by their own mmap (large allocations).
    pub mmap_regions: u64,
    pub mmap_bytes: u64,
    /// Free chunks in the arena (fragmentation).
    pub free_chunks: u64,
}

/// The heap's usage, where the C library reports it (glibc).
pub fn heap_usage() -> Option<HeapUsage> {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallinfo2 takes no argument, returns a plain struct and only reads the
        // allocator's statistics under its own locks.
        let m = unsafe { libc::mallinfo2() };
        let arena = m.arena as u64;
        let mmap = m.hblkhd as u64;
        Some(HeapUsage {
            total: arena + mmap,
            used: m.uordblks as u64 + mmap,
            free: m.fordblks as u64,
            trimmable: m.keepcost as u64,
            mmap_regions: m.hblks as u64,
            mmap_bytes: mmap,
            free_chunks: m.ordblks as u64,
        })
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        None
    }
}

/// `/proc/self/status` sizes in bytes: `(VmSize, VmRSS, VmHWM, VmData)`.
pub fn process_memory() -> Option<(u64, u64, u64, u64)> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| -> Option<u64> {
        let l = s.lines().find(|l| l.starts_with(name))?;
        let kb: u64 = l[name.len()..]
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()?;
        Some(kb * 1024)
    };
    Some((
        field("VmSize:")?,
        field("VmRSS:")?,
        field("VmHWM:")?,
        field("VmData:")?,
    ))
}

fn show_memory(a: &mut Args<'_>, cx: &mut CliCtx) -> Result<(), CliError> {
    let mut verbose = false;
    let mut numa = false;
    while !a.is_empty() {
        if a.keyword("verbose") {
            verbose = true;
        } else if a.keyword("main-heap") {
        } else if a.keyword("numa-heaps") {
            numa = true;
        } else if a.keyword("api-segment") || a.keyword("stats-segment") {
            return Err(CliError::msg(
                "pwire has no api or stats segment (its counters are on the CLI and the \
                 Prometheus exporter, `stats { }' in startup.conf)",
            ));
        } else {
            return Err(CliError::unknown_input(a.rest()));
        }
    }
    let e = cx.vnet.engine();
    let mut out = String::new();
    if numa {
        // One heap for everything, as VPP reports a NUMA node without a heap of its own.
        out.push_str("Numa 0 uses the main heap...\n");
        a.output(&out);
        return Ok(());
    }
    let heap = heap_usage();
    let p = &e.pool;
    for (t, th) in e.threads.iter().enumerate() {
        let _ = writeln!(
            out,
            "{}Thread {t} {}",
            if t > 0 { "\n" } else { "" },
            th.name
        );
        out.push_str("  name 'main heap', glibc malloc shared by every thread\n");
        match heap {
            Some(h) => {
                let _ = writeln!(
                    out,
                    "    total: {}, used: {}, free: {}, trimmable: {}",
                    msize(h.total),
                    msize(h.used),
                    msize(h.free),
                    msize(h.trimmable)
                );
                if verbose {
                    let _ = writeln!(
                        out,
                        "    free chunks {} mmapped regions {} ({})",
                        h.free_chunks,
                        h.mmap_regions,
                        msize(h.mmap_bytes)
                    );
                }
            }
            None => out.push_str("    heap statistics not available from this C library\n"),
        }
        let _ = writeln!(out, "    buffers cached: {}", p.cached(t));
    }
    // pwire's own: the buffer pool is its one big allocation, outside the heap.
    let cached: u32 = (0..p.n_threads()).map(|t| p.cached(t)).sum();
    let free = p.global_free();
    let _ = writeln!(
        out,
        "\nBuffer pool default-numa-0: {} buffers of {} bytes (data size {}), {} of {} memory",
        p.n_buffers(),
        p.stride(),
        p.data_size(),
        msize(p.region_bytes() as u64),
        p.backend()
    );
    let _ = writeln!(
        out,
        "  free {}, cached {}, used {}",
        free,
        cached,
        p.n_buffers().saturating_sub(free).saturating_sub(cached)
    );
    if let Some((size, rss, hwm, data)) = process_memory() {
        let _ = writeln!(
            out,
            "Process: virtual {}, resident {} (peak {}), data {}",
            msize(size),
            msize(rss),
            msize(hwm),
            msize(data)
        );
    }
    a.output(&out);
    Ok(())
}

fn show_plugins(a: &mut Args<'_>, cx: &mut CliCtx) -> Result<(), CliError> {
    let _ = a.keyword("verbose");
    a.expect_end()?;
    let g = &cx.vnet.engine().graph;
    let ver = env!("CARGO_PKG_VERSION");
    let mut out = String::from(
        " Plugin path is: (none: pwire's features are compiled in), plugins shown in load order\n\n",
    );
    let _ = writeln!(out, "     {:<41}{:<33}Description", "Plugin", "Version");
    let loaded = PLUGINS.iter().filter(|p| g.node_index(p.node).is_some());
    for (i, p) in loaded.enumerate() {
        let _ = writeln!(
            out,
            "{:>3}. {:<40} {:<32} {}",
            i + 1,
            p.file,
            ver,
            p.description
        );
    }
    a.output(&out);
    Ok(())
}

fn show_version_verbose(a: &mut Args<'_>, _cx: &mut CliCtx) -> Result<(), CliError> {
    a.expect_end()?;
    let b = build_info();
    let ver = env!("CARGO_PKG_VERSION");
    let mut out = String::new();
    let mut line = |k: &str, v: &dyn std::fmt::Display| {
        let _ = writeln!(out, "{k:<25}{v}");
    };
    line("Version:", &format_args!("v{ver}"));
    line("Compile date:", &b.date);
    line("Compiler:", &b.compiler);
    line("Git commit:", &b.commit);
    line(
        "Compile profile:",
        &if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
    );
    line(
        "DPDK:",
        &if cfg!(feature = "dpdk") {
            "yes"
        } else {
            "not compiled in"
        },
    );
    line("Current PID:", &std::process::id());
    line("TSC Hz:", &format_args!("{:.0}", pwire_graph::tsc_hz()));
    a.output(&out);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::msize;

    #[test]
    fn msize_is_vppinfra_format() {
        assert_eq!(msize(0), "0");
        assert_eq!(msize(1023), "1023");
        assert_eq!(msize(1024), "1.00K");
        assert_eq!(msize(1536), "1.50K");
        assert_eq!(msize(5 << 20), "5.00M");
        assert_eq!(msize((3 << 30) + (1 << 29)), "3.50G");
    }
}
