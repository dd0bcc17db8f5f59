//! Builds the bindings and the C shim against the system DPDK (`pkg-config libdpdk`).
//!
//! `pkg-config --cflags` is used verbatim (it carries `-include rte_config.h` and `-march`, which
//! the `pkg-config` crate's probe does not expose); `--libs` is translated into
//! `rustc-link-lib` lines so that they reach every binary that links this crate (a
//! `rustc-link-arg` would only reach this package's own binaries). Dynamic linking: the PMD
//! plugins then load from DPDK's plugin directory at EAL init.

#[cfg(feature = "dpdk")]
use std::path::PathBuf;
#[cfg(feature = "dpdk")]
use std::process::Command;

#[cfg(not(feature = "dpdk"))]
fn main() {}

#[cfg(feature = "dpdk")]
fn pkg_config(args: &[&str]) -> Vec<String> {
    let out = Command::new("pkg-config")
        .args(args)
        .arg("libdpdk")
        .output()
        .unwrap_or_else(|e| panic!("pwire-dpdk-sys: cannot run pkg-config: {e}"));
    if !out.status.success() {
        panic!(
            "pwire-dpdk-sys: `pkg-config {} libdpdk` failed (install libdpdk-dev): {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

#[cfg(feature = "dpdk")]
fn main() {
    println!("cargo:rerun-if-changed=csrc/wrapper.h");
    println!("cargo:rerun-if-changed=csrc/shim.h");
    println!("cargo:rerun-if-changed=csrc/shim.c");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");
    let cflags = pkg_config(&["--cflags"]);

    let mut cc = cc::Build::new();
    cc.file("csrc/shim.c").opt_level(2).warnings(false);
    for f in &cflags {
        cc.flag(f);
    }
    cc.compile("pwire_dpdk_shim");

    for f in pkg_config(&["--libs"]) {
        if let Some(dir) = f.strip_prefix("-L") {
            println!("cargo:rustc-link-search=native={dir}");
        } else if let Some(lib) = f.strip_prefix("-l") {
            println!("cargo:rustc-link-lib=dylib={lib}");
        } else if f == "-Wl,--as-needed" {
            // Would drop the PMD-less libraries the shim needs; not wanted.
        } else {
            println!("cargo:rustc-link-arg={f}");
        }
    }

    let b = bindgen::Builder::default()
        .header("csrc/wrapper.h")
        .clang_args(&cflags)
        .allowlist_function(
            "rte_eal_init|rte_eal_cleanup|rte_eal_iova_mode|rte_eal_get_runtime_dir|rte_socket_id|rte_strerror|\
             rte_eth_.*|rte_mempool_create_empty|rte_mempool_set_ops_byname|\
             rte_mempool_register_ops|rte_mempool_obj_iter|rte_mempool_avail_count|\
             rte_mempool_in_use_count|rte_mempool_free|rte_pktmbuf_pool_init|rte_pktmbuf_init|\
             rte_extmem_register|rte_extmem_unregister|rte_dev_dma_map|rte_dev_name|\
             rte_dev_bus|rte_bus_name|rte_log_set_global_level|rte_get_tsc_hz|shim_.*",
        )
        .allowlist_type("rte_mbuf|rte_mempool|rte_mempool_ops|rte_mempool_objhdr|rte_eth_.*|rte_pktmbuf_pool_private|rte_iova_mode")
        .allowlist_var("RTE_ETH_.*|RTE_MBUF_.*|RTE_PKTMBUF_HEADROOM|RTE_MAX_ETHPORTS|RTE_MEMPOOL_.*|RTE_ETHER_.*")
        .opaque_type("rte_l2tpv2_combined_msg_hdr|rte_arp_ipv4|rte_arp_hdr")
        .no_debug("rte_flow_item_gtp_psc")
        .derive_default(true)
        .generate_comments(false)
        .layout_tests(false)
        .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()))
        .generate()
        .expect("pwire-dpdk-sys: bindgen failed");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    b.write_to_file(out.join("bindings.rs"))
        .expect("pwire-dpdk-sys: cannot write bindings");
}
