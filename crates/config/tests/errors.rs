//! Every error case checks the exact `file:line:col: msg` text.

use pwire_config::{parse_file, parse_str, parse_tree};

fn err(text: &str) -> String {
    match parse_str("t.conf", text) {
        Ok(c) => panic!("expected an error for {text:?}, parsed {c:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn error_messages_and_positions() {
    let cases: &[(&str, &str)] = &[
        // -- tree
        ("unix { nodaemon", "t.conf:1:6: unclosed `{' after `unix'"),
        ("dpdk { dev 0000:00:08.0 { name x }", "t.conf:1:6: unclosed `{' after `dpdk'"),
        ("unix { } }", "t.conf:1:10: unmatched `}'"),
        ("}", "t.conf:1:1: unmatched `}'"),
        ("{ nodaemon }", "t.conf:1:1: `{' with no word before it"),
        ("unix { } { }", "t.conf:1:10: `{' with no word before it"),
        ("unix { { } }", "t.conf:1:8: `{' with no word before it"),
        ("unix\t{\tbogus }", "t.conf:1:8: unknown input `bogus'"),
        // columns count characters, not bytes (`é` is two bytes)
        ("unix { exec /tmp/é.cli bogus }", "t.conf:1:24: unknown input `bogus'"),
        // -- sections
        ("foo { }", "t.conf:1:1: unknown section `foo'"),
        ("unix { }\n\n  vlib { }", "t.conf:3:3: unknown section `vlib'"),
        ("unix nodaemon", "t.conf:1:6: unknown section `nodaemon'"),
        ("unix", "t.conf:1:1: expected `{' after section `unix'"),
        // -- unix
        ("unix { bogus }", "t.conf:1:8: unknown input `bogus'"),
        ("unix { cli-listen }", "t.conf:1:8: missing value for `cli-listen'"),
        ("unix {\n  nodaemon\n  exec\n}\n", "t.conf:3:3: missing value for `exec'"),
        ("unix { nodaemon { } }", "t.conf:1:17: unexpected `{' after `nodaemon'"),
        ("unix { log { x } }", "t.conf:1:12: unexpected `{' after `log'"),
        ("unix { gid 99999999999 }", "t.conf:1:12: gid `99999999999' is too large"),
        (
            "unix { poll-sleep-usec -1 }",
            "t.conf:1:24: expected a number for `poll-sleep-usec', got `-1'",
        ),
        ("unix { coredump-size }", "t.conf:1:8: missing value for `coredump-size'"),
        // -- cpu
        (
            "cpu { corelist-workers 1-2 }",
            "t.conf:1:7: main-core must be specified when using corelist-* or coremask-* attribute",
        ),
        (
            "cpu { workers 1 coremask-workers 6 }",
            "t.conf:1:17: `coremask-workers' cannot be combined with `workers' (line 1)",
        ),
        (
            "cpu { skip-cores 1 }",
            "t.conf:1:7: main-core must be specified when using corelist-* or coremask-* attribute",
        ),
        (
            "cpu { main-core 0 workers 2 corelist-workers 1-2 }",
            "t.conf:1:29: `corelist-workers' cannot be combined with `workers' (line 1)",
        ),
        (
            "cpu { workers 2 }\ncpu { corelist-workers 1 main-core 0 }",
            "t.conf:2:7: `corelist-workers' cannot be combined with `workers' (line 1)",
        ),
        ("cpu { main-core x }", "t.conf:1:17: expected a number for `main-core', got `x'"),
        (
            "cpu { main-core 8192 }",
            "t.conf:1:17: `main-core' must be between 0 and 8191, got `8192'",
        ),
        (
            "cpu { main-core 0 corelist-workers 3-1 }",
            "t.conf:1:36: invalid core list `3-1' for `corelist-workers': range `3-1' is reversed",
        ),
        (
            "cpu { main-core 0 corelist-workers 1,,2 }",
            "t.conf:1:36: invalid core list `1,,2' for `corelist-workers': empty element",
        ),
        (
            "cpu { main-core 0 coremask-workers 0x1g }",
            "t.conf:1:36: invalid hex mask `0x1g' for `coremask-workers': `g' is not a hex digit",
        ),
        (
            "cpu { coremask-workers 0 main-core 0 }",
            "t.conf:1:7: coremask-workers selects no CPU",
        ),
        (
            "cpu { scheduler-policy deadline }",
            "t.conf:1:24: unknown scheduler-policy `deadline' (expected other, batch, idle, fifo or rr)",
        ),
        ("cpu { corelist-io 2 }", "t.conf:1:7: unknown input `corelist-io'"),
        // -- buffers
        (
            "buffers { default data-size 64 }",
            "t.conf:1:29: `data-size' must be between 128 and 16384, got `64'",
        ),
        (
            "buffers { default data-size 16385 }",
            "t.conf:1:29: `data-size' must be between 128 and 16384, got `16385'",
        ),
        ("buffers { default foo 1 }", "t.conf:1:19: unknown input `foo'"),
        ("buffers { default }", "t.conf:1:11: missing value for `default'"),
        ("buffers { default data-size }", "t.conf:1:19: missing value for `data-size'"),
        (
            "buffers { buffers-per-numa 0 }",
            "t.conf:1:28: `buffers-per-numa' must be between 1 and 4294967295, got `0'",
        ),
        (
            "buffers { page-size 3K }",
            "t.conf:1:21: invalid page-size `3K' (expected a power of two of at least 4K, default or default-hugepage)",
        ),
        // -- l2tp
        ("l2tp { lookup-foo }", "t.conf:1:8: unknown input `lookup-foo'"),
        (
            "l2tp { lookup-v6-src lookup-session-id }",
            "t.conf:1:22: `lookup-session-id' conflicts with `lookup-v6-src' (line 1): only one lookup mode",
        ),
        // -- plugins
        (
            "plugins { plugin a.so { enable disable } }",
            "t.conf:1:32: please specify either enable or disable for plugin `a.so'",
        ),
        ("plugins { plugin a.so }", "t.conf:1:18: expected `{' after `a.so'"),
        ("plugins { plugin }", "t.conf:1:11: missing value for `plugin'"),
        (
            "plugins { plugin a.so { } plugin a.so { } }",
            "t.conf:1:34: plugin `a.so' already configured",
        ),
        ("plugins { plugin a.so { on } }", "t.conf:1:25: unknown input `on'"),
        (
            "plugins { plugin default { skip-version-check } }",
            "t.conf:1:28: unknown input `skip-version-check'",
        ),
        ("plugins { path { } }", "t.conf:1:16: unexpected `{' after `path'"),
        // -- dpdk
        (
            "dpdk { dev 0000:00:08.0 { } dev 00:08.0 }",
            "t.conf:1:33: duplicate configuration for PCI address `00:08.0'",
        ),
        (
            "dpdk { dev eth0 }",
            "t.conf:1:12: invalid device address `eth0' (expected a PCI address like 0000:00:08.0)",
        ),
        (
            "dpdk { dev default { name x } }",
            "t.conf:1:22: `name' is not allowed in `dev default'",
        ),
        (
            "dpdk { dev 0000:00:08.0 { num-rx-queues 0 } }",
            "t.conf:1:41: `num-rx-queues' must be between 1 and 65535, got `0'",
        ),
        (
            "dpdk { dev 0000:00:08.0 { tso maybe } }",
            "t.conf:1:31: expected on or off for `tso', got `maybe'",
        ),
        (
            "dpdk { dev 0000:00:08.0 { bogus 1 } }",
            "t.conf:1:27: unknown input `bogus'",
        ),
        (
            "dpdk { iova-mode xx }",
            "t.conf:1:18: invalid iova-mode `xx' (expected pa or va)",
        ),
        ("dpdk { vdev }", "t.conf:1:8: missing value for `vdev'"),
        ("dpdk { no-hugetlb }", "t.conf:1:8: unknown input `no-hugetlb'"),
        // -- small sections
        (
            "ethernet { default-mtu 9001 }",
            "t.conf:1:24: `default-mtu' must be between 64 and 9000, got `9001'",
        ),
        (
            "interface { default-rx-mode fast }",
            "t.conf:1:29: invalid rx mode `fast' (expected polling, interrupt or adaptive)",
        ),
        (
            "l2fib { table-size 12Q }",
            "t.conf:1:20: invalid size `12Q' for `table-size' (expected e.g. 64K, 512M, 1G)",
        ),
        ("ip6 { hash-buckets }", "t.conf:1:7: missing value for `hash-buckets'"),
        ("ip6 { heap-size 1G bogus }", "t.conf:1:20: unknown input `bogus'"),
    ];
    let mut failures = Vec::new();
    for (text, want) in cases {
        let got = err(text);
        if got != *want {
            failures.push(format!("input {text:?}\n  want {want}\n  got  {got}"));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn nesting_limit() {
    let text = "a{".repeat(17);
    let e = parse_tree("t.conf", &text).unwrap_err();
    assert_eq!(
        e.to_string(),
        "t.conf:1:34: `{' nested too deeply (at most 16 levels)"
    );
    // Sixteen levels are fine.
    let ok = format!("{}{}", "a{".repeat(16), "}".repeat(16));
    assert!(parse_tree("t.conf", &ok).is_ok());
}

#[test]
fn unreadable_file() {
    let e = parse_file("/nonexistent/pwire-startup.conf").unwrap_err();
    assert_eq!((e.line, e.col), (0, 0));
    assert!(
        e.to_string()
            .starts_with("/nonexistent/pwire-startup.conf: cannot read: "),
        "{e}"
    );
}

#[test]
fn invalid_utf8_is_located() {
    let path = std::env::temp_dir().join(format!("pwire-config-utf8-{}.conf", std::process::id()));
    std::fs::write(&path, b"unix {\n  \xc3\xa9x\xffec }\n").unwrap();
    let e = parse_file(&path).unwrap_err();
    let _ = std::fs::remove_file(&path);
    assert_eq!(
        e.to_string(),
        format!("{}:2:5: invalid UTF-8", path.display())
    );
}
