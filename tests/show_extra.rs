//! `show memory`, `show plugins` and `show version verbose` in VPP's layouts.

use std::process::Command;
use std::time::Duration;

use pwire_testkit::Harness;
use pwire_tests::{ensure_built, features, start_pwire};

/// vppinfra's size format back to bytes (`1.50K` -> 1536).
fn bytes(s: &str) -> f64 {
    let (n, mul) = match s.chars().last().unwrap() {
        'K' => (&s[..s.len() - 1], 1024.0),
        'M' => (&s[..s.len() - 1], 1024.0 * 1024.0),
        'G' => (&s[..s.len() - 1], 1024.0 * 1024.0 * 1024.0),
        _ => (s, 1.0),
    };
    n.parse::<f64>().unwrap_or_else(|_| panic!("size `{s}'")) * mul
}

#[test]
fn show_memory_has_vpps_heap_lines_per_thread_and_the_buffer_pool() {
    let mut h = Harness::with("cpu { workers 1 }", &features());
    h.cli("create packet-generator interface pg0");
    let out = h.cli("show memory");
    let threads: Vec<&str> = out.lines().filter(|l| l.starts_with("Thread ")).collect();
    assert_eq!(threads, ["Thread 0 vpp_main", "Thread 1 vpp_wk_0"], "{out}");
    // VPP separates the threads' blocks by an empty line.
    assert!(out.contains("\n\nThread 1 vpp_wk_0\n"), "{out}");
    let heap: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("    total: "))
        .collect();
    assert_eq!(heap.len(), 2, "{out}");
    for l in heap {
        // `total: X, used: Y, free: Z, trimmable: W`, as VPP prints its main heap.
        let f: Vec<f64> = l
            .trim()
            .split(", ")
            .map(|kv| bytes(kv.split(": ").nth(1).unwrap()))
            .collect();
        assert_eq!(f.len(), 4, "{l}");
        assert!(
            f[0] > 0.0 && f[1] > 0.0 && f[1] <= f[0] && f[3] <= f[2] + 1.0,
            "{l}"
        );
        // Two decimals of the unit: used + free is total, to rounding.
        assert!((f[1] + f[2] - f[0]).abs() <= f[0] * 0.01 + 2048.0, "{l}");
    }
    // The pool line agrees with show buffers.
    let b = h.cli("show buffers");
    let row: Vec<&str> = b.lines().nth(1).unwrap().split_whitespace().collect();
    let pool = out
        .lines()
        .find(|l| l.starts_with("Buffer pool default-numa-0: "))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        pool.starts_with(&format!(
            "Buffer pool default-numa-0: {} buffers of ",
            row[5]
        )),
        "{pool}\n{b}"
    );
    let counts = out.lines().find(|l| l.starts_with("  free ")).unwrap();
    assert_eq!(
        counts,
        format!("  free {}, cached {}, used {}", row[6], row[7], row[8]),
        "{b}"
    );
    assert!(
        out.lines().any(|l| l.starts_with("Process: virtual ")),
        "{out}"
    );
    // verbose adds the allocator's fragmentation line; VPP's other words get clear errors.
    assert!(h.cli("show memory verbose").contains("    free chunks "));
    assert_eq!(
        h.cli("show memory numa-heaps"),
        "Numa 0 uses the main heap...\n"
    );
    assert_eq!(
        h.cli("show memory main-heap").lines().next(),
        Some("Thread 0 vpp_main")
    );
    assert_eq!(
        h.cli_err("show memory frobnicate"),
        "show memory: unknown input `frobnicate'"
    );
    assert!(h
        .cli_err("show memory api-segment")
        .contains("no api or stats segment"));
}

/// The plugin table: VPP's header and columns (`%3d. %-40s %-32s %s`).
fn plugins(out: &str) -> Vec<String> {
    let mut l = out.lines();
    assert!(l.next().unwrap().starts_with(" Plugin path is: "), "{out}");
    assert_eq!(l.next(), Some(""));
    let head = l.next().unwrap();
    assert_eq!(head.find("Plugin"), Some(5), "{out}");
    assert_eq!(head.find("Version"), Some(46), "{out}");
    assert_eq!(head.find("Description"), Some(79), "{out}");
    l.enumerate()
        .map(|(i, row)| {
            assert_eq!(&row[..5], format!("{:>3}. ", i + 1), "{out}");
            assert_eq!(
                &row[46..46 + env!("CARGO_PKG_VERSION").len()],
                env!("CARGO_PKG_VERSION")
            );
            row[5..45].trim().to_string()
        })
        .collect()
}

#[test]
fn show_plugins_lists_the_features_compiled_in_and_enabled() {
    let mut h = Harness::with("", &features());
    let all = plugins(&h.cli("show plugins"));
    let mut want = vec!["af_packet_plugin.so", "l2tp_plugin.so"];
    if pwire::ALL.iter().any(|(n, _)| *n == "dpdk") {
        want.insert(1, "dpdk_plugin.so");
    }
    assert_eq!(all, want);
    // What `plugins { plugin l2tp_plugin.so { disable } }` leaves out is not listed.
    let without: Vec<_> = pwire::ALL
        .iter()
        .filter(|(n, _)| !matches!(*n, "interface" | "pg" | "l2tp"))
        .map(|(_, f)| *f)
        .collect();
    let mut h = Harness::with("", &without);
    assert_eq!(plugins(&h.cli("show plugins")), ["af_packet_plugin.so"]);
    let cfg =
        pwire_config::parse_str("t.conf", "plugins { plugin l2tp_plugin.so { disable } }").unwrap();
    assert_eq!(pwire::registrations(&cfg).len(), pwire::ALL.len() - 1);
}

#[test]
fn show_version_verbose_has_the_build_date_and_commit() {
    ensure_built();
    let d = pwire_testkit::TempDir::new("version");
    let sock = d.path().join("cli.sock");
    let conf = d.path().join("s.conf");
    std::fs::write(
        &conf,
        format!("unix {{ nodaemon cli-listen {} }}\n", sock.display()),
    )
    .unwrap();
    let _p = start_pwire(&conf, &sock);
    let mut c = pwire_cli::Client::connect(&sock, Some(Duration::from_secs(20))).unwrap();
    // Plain `show version` is unchanged.
    let (plain, ok) = c.cmd("show version").unwrap();
    assert!(ok);
    assert_eq!(
        plain,
        format!(
            "pwire v{} (VPP CLI compatible, L2TPv3 over IPv6)\n",
            env!("CARGO_PKG_VERSION")
        )
    );
    let (v, ok) = c.cmd("sh ver verb").unwrap();
    assert!(ok, "{v}");
    let field = |k: &str| -> String {
        let l = v
            .lines()
            .find(|l| l.starts_with(k))
            .unwrap_or_else(|| panic!("no `{k}' in\n{v}"));
        // VPP's `%-25s` label column.
        assert_eq!(&l[k.len()..25].trim(), &"", "{l}");
        l[25..].to_string()
    };
    assert_eq!(field("Version:"), format!("v{}", env!("CARGO_PKG_VERSION")));
    // The commit the binary was built from: HEAD of this checkout (built just now by
    // ensure_built), or `unknown` in a tree without git.
    let head = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    assert_eq!(
        field("Git commit:"),
        head.unwrap_or_else(|| "unknown".into())
    );
    let date = field("Compile date:");
    let b = date.as_bytes();
    assert!(
        b.len() == 20
            && date.ends_with('Z')
            && [4, 7].iter().all(|&i| b[i] == b'-')
            && b[10] == b'T'
            && [13, 16].iter().all(|&i| b[i] == b':')
            && date.chars().filter(char::is_ascii_digit).count() == 14,
        "{date}"
    );
    assert!(date.as_str() >= "2024-01-01T00:00:00Z", "{date}");
    assert!(field("Compiler:").starts_with("rustc "), "{v}");
    assert_eq!(field("Current PID:"), _p.0.id().to_string());
    assert!(field("TSC Hz:").parse::<f64>().unwrap() > 1e8);
    assert!(c
        .cmd("show version verbose extra")
        .unwrap()
        .0
        .contains("unknown input `extra'"));
}
