//! EAL initialisation from `dpdk { }` (once per process: DPDK cannot re-initialise).
//!
//! The arguments pwire passes: `-l <cpu>` (the CPU the main thread is on; pwire's workers are
//! not EAL lcores, and the main thread's affinity is restored after init), `--iova-mode=va`
//! (pwire's buffers are their own DMA memory, see `mempool.rs`), `--no-telemetry`, and from the
//! section: `dev <pci> [{ devargs }]` → `-a`, `vdev` → `--vdev`, `no-pci`, `block` → `-b`,
//! `no-huge` → `--no-huge -m <socket-mem or 256>` and `--no-shconf`, otherwise hugepages with
//! `--in-memory` (no hugetlbfs mount needed) unless `file-prefix`/`proc-type` ask for shared
//! files; without `no-huge` but with fewer than [`MIN_HUGE_BYTES`] of free hugepages, pwire
//! falls back to `--no-huge` and says so (hugepages when available, as the issue asks), `socket-mem`, `huge-dir`, `file-prefix`, `log-level` (default `notice`),
//! `iova-mode` (only `va` is accepted) and the remaining passthroughs.
//! `uio-driver <drv>` binds every `dev` to that kernel driver through sysfs first
//! (driver_override), as VPP does; without it devices are used as they are bound.

use std::ffi::{c_char, c_int, CString};
use std::sync::OnceLock;

use pwire_config::DpdkConfig;
use pwire_dpdk_sys as sys;

/// Free hugepage memory below which EAL runs with `--no-huge` even when not asked to.
pub const MIN_HUGE_BYTES: u64 = 32 << 20;

/// Bytes of free hugepages of every size (sysfs).
pub fn free_hugepage_bytes() -> u64 {
    let Ok(dir) = std::fs::read_dir("/sys/kernel/mm/hugepages") else {
        return 0;
    };
    dir.flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let kb: u64 = name
                .strip_prefix("hugepages-")?
                .strip_suffix("kB")?
                .parse()
                .ok()?;
            let free: u64 = std::fs::read_to_string(e.path().join("free_hugepages"))
                .ok()?
                .trim()
                .parse()
                .ok()?;
            Some(kb * 1024 * free)
        })
        .sum()
}

/// The EAL argument vector for `cfg` (without argv[0]); `huge_ok`: enough free hugepages.
pub fn eal_args(cfg: &DpdkConfig, cpu: usize, huge_ok: bool) -> Result<Vec<String>, String> {
    let mut a = vec![
        "-l".to_string(),
        cpu.to_string(),
        "--no-telemetry".to_string(),
    ];
    if let Some(m) = cfg.iova_mode.as_deref() {
        if m != "va" {
            return Err(format!(
                "dpdk: iova-mode {m}: pwire's dpdk driver needs iova-mode va"
            ));
        }
    }
    a.push("--iova-mode=va".into());
    let shared = cfg.file_prefix.is_some()
        || cfg
            .eal_passthrough
            .iter()
            .any(|(k, _)| k == "--proc-type" || k == "--no-shconf");
    if cfg.no_huge || !huge_ok {
        let mb = match cfg.socket_mem.as_deref() {
            Some(s) => s
                .split(',')
                .map(|x| x.trim().parse::<u32>())
                .sum::<Result<u32, _>>()
                .map_err(|_| format!("dpdk: socket-mem `{s}': expected MB numbers"))?,
            None => 256,
        };
        a.extend(["--no-huge".into(), "-m".into(), mb.to_string()]);
        if !shared {
            a.push("--no-shconf".into());
        }
    } else {
        if !shared {
            a.push("--in-memory".into());
        }
        if let Some(s) = &cfg.socket_mem {
            a.push(format!("--socket-mem={s}"));
        }
    }
    if cfg.no_pci {
        a.push("--no-pci".into());
    }
    for d in &cfg.devs {
        let d = d.with_defaults(&cfg.dev_default);
        match &d.devargs {
            Some(x) => a.push(format!("-a{},{x}", d.addr)),
            None => a.push(format!("-a{}", d.addr)),
        }
    }
    for v in &cfg.vdevs {
        a.push(format!("--vdev={v}"));
    }
    for b in &cfg.block {
        a.push(format!("-b{b}"));
    }
    if let Some(h) = &cfg.huge_dir {
        a.push(format!("--huge-dir={h}"));
    }
    if let Some(p) = &cfg.file_prefix {
        a.push(format!("--file-prefix={p}"));
    }
    a.push(format!(
        "--log-level={}",
        cfg.log_level.as_deref().unwrap_or("notice")
    ));
    for (k, v) in &cfg.eal_passthrough {
        match v {
            Some(v) => a.push(format!("{k}={v}")),
            None => a.push(k.clone()),
        }
    }
    Ok(a)
}

/// Binds PCI device `addr` to kernel driver `drv` (sysfs driver_override + drivers_probe).
fn bind_uio(addr: &str, drv: &str) -> Result<(), String> {
    let dev = format!("/sys/bus/pci/devices/{addr}");
    let cur = std::fs::read_link(format!("{dev}/driver"))
        .ok()
        .and_then(|p| p.file_name().map(|f| f.to_string_lossy().into_owned()));
    if cur.as_deref() == Some(drv) {
        return Ok(());
    }
    let w = |path: String, v: &str| {
        std::fs::write(&path, v).map_err(|e| format!("dpdk: uio-driver {drv}: {path}: {e}"))
    };
    w(format!("{dev}/driver_override"), drv)?;
    if cur.is_some() {
        w(format!("{dev}/driver/unbind"), addr)?;
    }
    w("/sys/bus/pci/drivers_probe".into(), addr)
}

/// Initialises EAL once; later calls return the first call's result.
pub fn init(cfg: &DpdkConfig) -> Result<(), String> {
    static EAL: OnceLock<Result<(), String>> = OnceLock::new();
    EAL.get_or_init(|| init_once(cfg)).clone()
}

fn init_once(cfg: &DpdkConfig) -> Result<(), String> {
    if let Some(drv) = cfg.uio_driver.as_deref().filter(|d| *d != "auto") {
        for d in &cfg.devs {
            bind_uio(&d.addr, drv)?;
        }
    }
    // SAFETY: sched_getcpu has no preconditions.
    let cpu = usize::try_from(unsafe { libc::sched_getcpu() }).unwrap_or(0);
    let huge_ok = free_hugepage_bytes() >= MIN_HUGE_BYTES;
    if !cfg.no_huge && !huge_ok {
        eprintln!(
            "pwire: note: dpdk: less than {} MiB of free hugepages; EAL runs with --no-huge",
            MIN_HUGE_BYTES >> 20
        );
    }
    let args = eal_args(cfg, cpu, huge_ok)?;
    let mut owned: Vec<CString> = vec![CString::new("pwire").expect("no NUL")];
    for s in &args {
        owned.push(
            CString::new(s.as_str())
                .map_err(|_| format!("dpdk: NUL byte in EAL argument {s:?}"))?,
        );
    }
    // EAL may permute argv; it gets its own array of pointers into `owned` (kept alive, since
    // EAL keeps pointers to some strings, e.g. the vdev arguments).
    let mut argv: Vec<*mut c_char> = owned.iter().map(|s| s.as_ptr().cast_mut()).collect();
    // EAL pins the calling thread to the `-l` CPU; pwire's placement (`cpu { }`) decides.
    // SAFETY: `set` is a plain cpu_set_t filled by the kernel.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: valid output pointer and size; pid 0 = this thread.
    let had = unsafe { libc::sched_getaffinity(0, std::mem::size_of_val(&set), &mut set) } == 0;
    // SAFETY: argc/argv describe NUL-terminated strings that outlive the process (leaked below).
    let r = unsafe { sys::rte_eal_init(argv.len() as c_int, argv.as_mut_ptr()) };
    if had {
        // SAFETY: restoring the mask read above.
        unsafe { libc::sched_setaffinity(0, std::mem::size_of_val(&set), &set) };
    }
    std::mem::forget(owned);
    std::mem::forget(argv);
    // EAL makes its runtime directory (/var/run/dpdk/<prefix>) even when nothing is shared;
    // without shared files it stays empty and unused, so take it away again (rmdir only
    // removes empty directories, so a directory another process uses is left alone).
    let shared =
        cfg.file_prefix.is_some() || cfg.eal_passthrough.iter().any(|(k, _)| k == "--proc-type");
    if !shared {
        // SAFETY: returns a static NUL-terminated path (valid after init, failed or not).
        let dir = unsafe { std::ffi::CStr::from_ptr(sys::rte_eal_get_runtime_dir()) };
        if let Ok(d) = dir.to_str() {
            let d = std::path::Path::new(d);
            if std::fs::remove_dir(d).is_ok() {
                if let Some(parent) = d.parent() {
                    let _ = std::fs::remove_dir(parent);
                }
            }
        }
    }
    if r < 0 {
        // SAFETY: reads rte_errno of this thread.
        let e = unsafe { sys::shim_rte_errno() };
        return Err(format!(
            "dpdk: EAL initialisation failed: {} (EAL arguments: {})",
            crate::mempool::strerror(e),
            args.join(" ")
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::eal_args;

    fn cfg(text: &str) -> pwire_config::DpdkConfig {
        pwire_config::parse_str("t.conf", text)
            .expect("config")
            .dpdk
            .expect("dpdk section")
    }

    #[test]
    fn arguments_from_the_section() {
        let a = eal_args(
            &cfg("dpdk { no-huge socket-mem 128,64 no-pci vdev net_ring0 dev 0000:00:08.0 { devargs x=1 } log-level pmd:debug }"),
            3,
            true,
        )
        .unwrap();
        let s = a.join(" ");
        assert!(
            s.starts_with(
                "-l 3 --no-telemetry --iova-mode=va --no-huge -m 192 --no-shconf --no-pci"
            ),
            "{s}"
        );
        assert!(s.contains("-a0000:00:08.0,x=1 --vdev=net_ring0"), "{s}");
        assert!(s.ends_with("--log-level=pmd:debug"), "{s}");
        let a = eal_args(&cfg("dpdk { socket-mem 512 vdev net_null0 }"), 0, true).unwrap();
        assert!(
            a.contains(&"--in-memory".to_string()) && a.contains(&"--socket-mem=512".to_string()),
            "{a:?}"
        );
        let a = eal_args(&cfg("dpdk { file-prefix p1 }"), 0, true).unwrap();
        assert!(
            !a.contains(&"--in-memory".to_string()) && a.contains(&"--file-prefix=p1".to_string()),
            "{a:?}"
        );
        // No free hugepages: --no-huge all the same.
        let a = eal_args(&cfg("dpdk { vdev net_null0 }"), 0, false).unwrap();
        assert!(
            a.contains(&"--no-huge".to_string()) && !a.contains(&"--in-memory".to_string()),
            "{a:?}"
        );
        assert!(eal_args(&cfg("dpdk { iova-mode pa }"), 0, true)
            .unwrap_err()
            .contains("iova-mode va"));
        assert!(eal_args(&cfg("dpdk { no-huge socket-mem lots }"), 0, true)
            .unwrap_err()
            .contains("socket-mem `lots'"));
    }
}
