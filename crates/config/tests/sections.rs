//! Happy paths for every section, defaults included.

use pwire_config::*;

fn parse(text: &str) -> StartupConfig {
    parse_str("t.conf", text).unwrap_or_else(|e| panic!("{e}"))
}

const EXAMPLE: &str = "\
unix {
  nodaemon
  cli-listen /run/pwire/cli.sock   # the CLI socket
  exec /etc/pwire/setup.cli
  gid pwire
}
cpu { main-core 0 corelist-workers 1 }
buffers { buffers-per-numa 16384 default data-size 2048 }
l2tp { lookup-session-id }
plugins { plugin dpdk_plugin.so { disable } }
";

#[test]
fn shipped_example() {
    let c = parse(EXAMPLE);
    assert!(c.unix.nodaemon);
    assert!(!c.unix.interactive);
    assert_eq!(c.unix.cli_listen.as_deref(), Some("/run/pwire/cli.sock"));
    assert_eq!(c.unix.exec, ["/etc/pwire/setup.cli"]);
    assert_eq!(c.unix.gid, Some(GidSpec::Name("pwire".into())));
    assert_eq!(c.cpu.main_core, Some(0));
    assert_eq!(c.cpu.workers, Workers::List(vec![1]));
    assert_eq!(c.buffers.buffers_per_numa, 16384);
    assert_eq!(c.buffers.data_size, 2048);
    assert_eq!(c.l2tp.lookup, LookupMode::SessionId);
    let p = c.plugins.plugin("dpdk_plugin.so").unwrap();
    assert_eq!(p.enabled, Some(false));
    assert_eq!((p.name.line, p.name.col), (10, 18));
    assert!(!c.plugins.is_enabled("dpdk_plugin.so", true));
    assert!(c.plugins.is_enabled("l2tp_plugin.so", true));
    assert!(c.dpdk.is_none());
    assert!(c.notices().is_empty());
}

#[test]
fn the_repository_startup_conf_parses() {
    // The workspace's own startup.conf is in the repository: missing is a failure, not a skip.
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../startup.conf");
    assert!(
        std::path::Path::new(path).is_file(),
        "{path} is missing (it is part of the repository)"
    );
    parse_file(path).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn defaults_match_vpp() {
    for text in [
        "",
        "  \n# only a comment\n",
        "unix { } cpu { } buffers { } l2tp { }",
    ] {
        let c = parse(text);
        assert_eq!(c.file, "t.conf");
        assert_eq!(c.unix, UnixConfig::default());
        assert!(!c.unix.nodaemon && c.unix.exec.is_empty() && c.unix.cli_listen.is_none());
        assert_eq!(c.cpu.main_core, None);
        assert_eq!(c.cpu.workers, Workers::None);
        assert_eq!(c.cpu.workers.count(), 0);
        assert_eq!(c.cpu.skip_cores, 0);
        assert!(!c.cpu.relative);
        assert_eq!(c.buffers.buffers_per_numa, 16384);
        assert_eq!(c.buffers.data_size, 2048);
        assert_eq!(c.buffers.page_size, None);
        assert_eq!(c.l2tp.lookup, LookupMode::DstAddress);
        assert_eq!(c.interface.default_rx_mode, None);
        assert_eq!(c.ethernet.default_mtu, 9000);
        assert_eq!(c.l2fib.table_size, 128 << 20);
        assert_eq!(c.l2fib.num_buckets, 262_144);
        assert_eq!(c.ip6, Ip6Config::default());
        assert_eq!(c.plugins, PluginsConfig::default());
        assert!(c.dpdk.is_none());
        assert!(c.unused_sections.is_empty());
    }
}

#[test]
fn unix_every_key() {
    let c = parse(
        "unix {
           nodaemon interactive
           cli-listen localhost:5002 cli-prompt pw>
           exec /a.cli startup-config /b.cli exec /c.cli
           log /var/log/pwire.log gid 1000 pidfile /run/pwire.pid
           poll-sleep-usec 100 runtime-dir /run/pw
           nosyslog nocolor nobanner full-coredump cli-no-pager cli-no-banner
           coredump-size unlimited cli-line-mode cli-history-limit 50
           cli-pager-buffer-limit 1000 use-current-dir
         }",
    )
    .unix;
    assert!(c.nodaemon && c.interactive);
    assert_eq!(c.cli_listen.as_deref(), Some("localhost:5002"));
    assert_eq!(c.cli_prompt.as_deref(), Some("pw>"));
    assert_eq!(c.exec, ["/a.cli", "/b.cli", "/c.cli"]);
    assert_eq!(c.log.as_deref(), Some("/var/log/pwire.log"));
    assert_eq!(c.gid, Some(GidSpec::Id(1000)));
    assert_eq!(c.pidfile.as_deref(), Some("/run/pwire.pid"));
    assert_eq!(c.poll_sleep_usec, Some(100));
    assert_eq!(c.runtime_dir.as_deref(), Some("/run/pw"));
    assert!(c.nosyslog);
    let ignored: Vec<(&str, Option<&str>)> = c
        .ignored
        .iter()
        .map(|i| (i.key.as_str(), i.value.as_ref().map(|v| v.as_str())))
        .collect();
    assert_eq!(
        ignored,
        [
            ("nocolor", None),
            ("nobanner", None),
            ("full-coredump", None),
            ("cli-no-pager", None),
            ("cli-no-banner", None),
            ("coredump-size", Some("unlimited")),
            ("cli-line-mode", None),
            ("cli-history-limit", Some("50")),
            ("cli-pager-buffer-limit", Some("1000")),
            ("use-current-dir", None),
        ]
    );
    assert!(c.ignored.iter().all(|i| !i.reason.is_empty()));
}

#[test]
fn cpu_variants() {
    let cases: &[(&str, Option<usize>, Workers, usize)] = &[
        ("cpu { workers 2 }", None, Workers::Count { n: 2 }, 0),
        ("cpu { workers 0 }", None, Workers::None, 0),
        (
            "cpu { main-core 1 corelist-workers 2-3,18-19 }",
            Some(1),
            Workers::List(vec![2, 3, 18, 19]),
            0,
        ),
        // VPP keeps the list as a bitmap: sorted, no duplicates.
        (
            "cpu { main-core 0 corelist-workers 5,1,1-2 }",
            Some(0),
            Workers::List(vec![1, 2, 5]),
            0,
        ),
        (
            "cpu { coremask-workers 0x1c main-core 0 }",
            Some(0),
            Workers::List(vec![2, 3, 4]),
            0,
        ),
        (
            "cpu { main-core 0 skip-cores 2 workers 3 }",
            Some(0),
            Workers::Count { n: 3 },
            2,
        ),
        // The same key twice: the last wins, as in VPP.
        (
            "cpu { workers 2 workers 4 }",
            None,
            Workers::Count { n: 4 },
            0,
        ),
        // Repeated sections merge.
        (
            "cpu { main-core 3 }\nunix { }\ncpu { corelist-workers 4-5 }",
            Some(3),
            Workers::List(vec![4, 5]),
            0,
        ),
    ];
    for (text, main, workers, skip) in cases {
        let c = parse(text).cpu;
        assert_eq!(c.main_core, *main, "{text}");
        assert_eq!(&c.workers, workers, "{text}");
        assert_eq!(c.skip_cores, *skip, "{text}");
    }
    let c = parse(
        "cpu { relative use-pthreads thread-prefix pw scheduler-policy fifo \
         scheduler-priority 50 numa-heap-size 64M }",
    )
    .cpu;
    assert!(c.relative && c.use_pthreads);
    assert_eq!(c.thread_prefix.as_deref(), Some("pw"));
    assert_eq!(c.scheduler_policy, Some(SchedPolicy::Fifo));
    assert_eq!(c.scheduler_priority, Some(50));
    assert_eq!(c.numa_heap_size, Some(64 << 20));
    for (word, want) in [
        ("other", SchedPolicy::Other),
        ("batch", SchedPolicy::Batch),
        ("idle", SchedPolicy::Idle),
        ("rr", SchedPolicy::Rr),
    ] {
        let c = parse(&format!("cpu {{ scheduler-policy {word} }}")).cpu;
        assert_eq!(c.scheduler_policy, Some(want));
    }
}

#[test]
fn buffers_variants() {
    let cases: &[(&str, u32, u32, Option<PageSize>)] = &[
        ("buffers { buffers-per-numa 1024 }", 1024, 2048, None),
        ("buffers { default data-size 128 }", 16384, 128, None),
        ("buffers { default data-size 16384 }", 16384, 16384, None),
        (
            "buffers { page-size default }",
            16384,
            2048,
            Some(PageSize::Default),
        ),
        (
            "buffers { page-size default-hugepage }",
            16384,
            2048,
            Some(PageSize::DefaultHugepage),
        ),
        (
            "buffers { page-size 2M }",
            16384,
            2048,
            Some(PageSize::Bytes(2 << 20)),
        ),
        (
            "buffers { page-size 4k }",
            16384,
            2048,
            Some(PageSize::Bytes(4096)),
        ),
    ];
    for (text, n, ds, ps) in cases {
        let b = parse(text).buffers;
        assert_eq!(
            (b.buffers_per_numa, b.data_size, b.page_size),
            (*n, *ds, *ps),
            "{text}"
        );
    }
}

#[test]
fn plugins_every_key() {
    let p = parse(
        "plugins {
           path /usr/lib/pwire:/opt/pw
           add-path /a add-path /b
           name-filter l2
           plugin default { disable }
           plugin l2tp_plugin.so { enable }
           plugin af_packet_plugin.so { enable skip-version-check }
           plugin dpdk_plugin.so { disable }
           plugin odd_plugin.so { }
         }",
    )
    .plugins;
    assert_eq!(p.path.as_deref(), Some("/usr/lib/pwire:/opt/pw"));
    assert_eq!(p.add_path, ["/a", "/b"]);
    assert_eq!(p.name_filter.as_deref(), Some("l2"));
    assert!(p.default_disabled);
    let names: Vec<_> = p.plugins.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "l2tp_plugin.so",
            "af_packet_plugin.so",
            "dpdk_plugin.so",
            "odd_plugin.so"
        ]
    );
    assert!(p.plugin("af_packet_plugin.so").unwrap().skip_version_check);
    assert!(!p.plugin("l2tp_plugin.so").unwrap().skip_version_check);
    // Explicit words win; otherwise `plugin default { disable }` turns it off.
    assert!(p.is_enabled("l2tp_plugin.so", true));
    assert!(p.is_enabled("l2tp_plugin.so", false));
    assert!(!p.is_enabled("dpdk_plugin.so", true));
    assert!(!p.is_enabled("odd_plugin.so", true));
    assert!(!p.is_enabled("never_named.so", true));

    let p = parse("plugins { plugin default { disable enable } }").plugins;
    assert!(!p.default_disabled);
    assert!(!p.is_enabled("x.so", false));
    assert!(p.is_enabled("x.so", true));
}

#[test]
fn dpdk_every_key() {
    let d = parse(
        "dpdk {
           dev default { num-rx-queues 2 num-rx-desc 1024 tso off }
           dev 0000:00:08.0 { num-rx-queues 4 name eth0 num-tx-queues 3
                              num-tx-desc 512 devargs txq_inline=128 workers 0-1
                              tag up no-rx-interrupts rss-queues 0,2 max-lro-pkt-size 9000 }
           dev 00:09.0
           vdev net_null0 vdev net_af_packet0,iface=veth0
           no-pci no-huge socket-mem 1024,0 num-mbufs 8192
           uio-driver vfio-pci log-level eal,8 huge-dir /mnt/huge file-prefix pw
           iova-mode va no-multi-seg no-tx-checksum-offload
           blacklist 8086:10fb block 0000:00:0a.0
           proc-type primary no-shconf base-virtaddr 0x100000000 no-hpet vmware-tsc-map
           uio-bind-force enable-tcp-udp-checksum decimal-interface-names telemetry enable-lro
           max-simd-bitwidth 256 link-state-poll-interval 5 stats-poll-interval 10
         }",
    )
    .dpdk
    .expect("dpdk section present");
    assert_eq!(d.dev_default.num_rx_queues, Some(2));
    assert_eq!(d.dev_default.num_rx_desc, Some(1024));
    assert_eq!(d.dev_default.tso, Some(false));
    assert_eq!(d.devs.len(), 2);
    let a = &d.devs[0];
    assert_eq!(a.addr, "0000:00:08.0");
    assert_eq!((a.at.line, a.at.col), (3, 16));
    assert_eq!(a.name.as_deref(), Some("eth0"));
    assert_eq!(
        (
            a.num_rx_queues,
            a.num_tx_queues,
            a.num_rx_desc,
            a.num_tx_desc
        ),
        (Some(4), Some(3), None, Some(512))
    );
    assert_eq!(a.devargs.as_deref(), Some("txq_inline=128"));
    assert_eq!(a.workers, Some(vec![0, 1]));
    assert_eq!(a.tag.as_deref(), Some("up"));
    assert!(a.no_rx_interrupts);
    assert_eq!(a.rss_queues, Some(vec![0, 2]));
    assert_eq!(a.max_lro_pkt_size, Some(9000));
    let m = a.with_defaults(&d.dev_default);
    assert_eq!(
        (m.num_rx_queues, m.num_rx_desc, m.tso),
        (Some(4), Some(1024), Some(false))
    );
    let b = &d.devs[1];
    assert_eq!(b.addr, "0000:00:09.0");
    assert_eq!(b.name, None);
    assert_eq!(b.with_defaults(&d.dev_default).num_rx_queues, Some(2));
    assert_eq!(d.vdevs, ["net_null0", "net_af_packet0,iface=veth0"]);
    assert!(d.no_pci && d.no_huge && d.no_multi_seg && d.no_tx_checksum_offload);
    assert_eq!(d.socket_mem.as_deref(), Some("1024,0"));
    assert_eq!(d.num_mbufs, Some(8192));
    assert_eq!(d.uio_driver.as_deref(), Some("vfio-pci"));
    assert_eq!(d.log_level.as_deref(), Some("eal,8"));
    assert_eq!(d.huge_dir.as_deref(), Some("/mnt/huge"));
    assert_eq!(d.file_prefix.as_deref(), Some("pw"));
    assert_eq!(d.iova_mode.as_deref(), Some("va"));
    assert_eq!(d.block, ["8086:10fb", "0000:00:0a.0"]);
    let eal: Vec<(&str, Option<&str>)> = d
        .eal_passthrough
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_deref()))
        .collect();
    assert_eq!(
        eal,
        [
            ("--proc-type", Some("primary")),
            ("--no-shconf", None),
            ("--base-virtaddr", Some("0x100000000")),
            ("--no-hpet", None),
            ("--vmware-tsc-map", None),
        ]
    );
    let ignored: Vec<_> = d.ignored.iter().map(|i| i.key.as_str()).collect();
    assert_eq!(
        ignored,
        [
            // The device options pwire's driver does not act on (in `dev default`), then the
            // section's own.
            "tso",
            "rss-queues",
            "max-lro-pkt-size",
            "uio-bind-force",
            "enable-tcp-udp-checksum",
            "decimal-interface-names",
            "telemetry",
            "enable-lro",
            "max-simd-bitwidth",
            "link-state-poll-interval",
            "stats-poll-interval",
        ]
    );
}

#[test]
fn dpdk_brief_example_and_empty() {
    let d = parse("dpdk { dev 0000:00:08.0 { num-rx-queues 2 name eth0 } vdev net_null0 no-pci }")
        .dpdk
        .unwrap();
    assert_eq!(d.devs.len(), 1);
    assert_eq!(d.devs[0].name.as_deref(), Some("eth0"));
    assert_eq!(d.devs[0].num_rx_queues, Some(2));
    assert_eq!(d.vdevs, ["net_null0"]);
    assert!(d.no_pci && !d.no_huge);
    // An empty section still says "DPDK wanted".
    assert_eq!(parse("dpdk { }").dpdk, Some(DpdkConfig::default()));
}

#[test]
fn l2tp_modes() {
    for (text, want) in [
        ("l2tp { lookup-v6-src }", LookupMode::SrcAddress),
        ("l2tp { lookup-v6-dst }", LookupMode::DstAddress),
        ("l2tp { lookup-session-id }", LookupMode::SessionId),
        ("l2tp { }", LookupMode::DstAddress),
        (
            "l2tp { lookup-v6-src lookup-v6-src }",
            LookupMode::SrcAddress,
        ),
        (
            "l2tp { lookup-v6-src } l2tp { lookup-v6-src }",
            LookupMode::SrcAddress,
        ),
    ] {
        assert_eq!(parse(text).l2tp.lookup, want, "{text}");
    }
}

#[test]
fn l2tp_control_identity() {
    let c = parse("l2tp { lookup-session-id hostname lcce-a router-id 192.0.2.1 }");
    assert_eq!(c.l2tp.hostname.as_deref(), Some("lcce-a"));
    assert_eq!(c.l2tp.router_id, Some("192.0.2.1".parse().unwrap()));
    assert_eq!(parse("l2tp { }").l2tp.hostname, None);
    let e = parse_str("t.conf", "l2tp { router-id fd00::1 }").expect_err("not an IPv4 address");
    assert!(
        e.to_string()
            .contains("router-id must be an IPv4 address: `fd00::1'"),
        "{e}"
    );
    assert!(e.to_string().contains(":1:"), "names the line: {e}");
}

#[test]
fn small_sections() {
    let c = parse(
        "interface { default-rx-mode adaptive }
         ethernet { default-mtu 1500 }
         l2fib { table-size 64M num-buckets 65536 }
         ip6 { hash-buckets 4096 heap-size 1G default-table-name main }",
    );
    assert_eq!(c.interface.default_rx_mode, Some(RxMode::Adaptive));
    assert_eq!(c.ethernet.default_mtu, 1500);
    assert_eq!((c.l2fib.table_size, c.l2fib.num_buckets), (64 << 20, 65536));
    assert_eq!(c.ip6.hash_buckets, Some(4096));
    assert_eq!(c.ip6.heap_size, Some(1 << 30));
    assert_eq!(c.ip6.default_table_name.as_deref(), Some("main"));
    for (word, want) in [
        ("polling", RxMode::Polling),
        ("interrupt", RxMode::Interrupt),
    ] {
        let c = parse(&format!("interface {{ default-rx-mode {word} }}"));
        assert_eq!(c.interface.default_rx_mode, Some(want));
    }
    assert_eq!(
        parse("ethernet { default-mtu 64 }").ethernet.default_mtu,
        64
    );
}

#[test]
fn unused_vpp_sections_are_kept_raw() {
    let c = parse(
        "statseg { socket-name /run/pw/stats.sock size 32M per-node-counters on }
         api-segment { gid vpp }
         socksvr { default }
         node { default { variant avx2 } }
         api-trace { on } memory { main-heap-size 1G }
         statseg { update-interval 2 }",
    );
    let names: Vec<_> = c.unused_sections.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "statseg",
            "api-segment",
            "socksvr",
            "node",
            "api-trace",
            "memory"
        ]
    );
    let words: Vec<_> = c.unused_sections[0]
        .words()
        .iter()
        .map(|t| t.as_str())
        .collect();
    assert_eq!(
        words,
        [
            "socket-name",
            "/run/pw/stats.sock",
            "size",
            "32M",
            "per-node-counters",
            "on",
            "update-interval",
            "2",
        ]
    );
    let node: Vec<_> = c.unused_sections[3]
        .words()
        .iter()
        .map(|t| t.as_str())
        .collect();
    assert_eq!(node, ["default", "variant", "avx2"]);
}

#[test]
fn notices_name_file_position_and_reason() {
    let c = parse(
        "unix { nocolor }\ndpdk { telemetry }\nlogging { add-to-elog }\nsocksvr { x }\n\
         l2fib { table-size 64M num-buckets 1024 }\n\
         ip6 { heap-size 1G default-table-name main hash-buckets 8 }\n\
         interface { default-rx-mode polling }\nethernet { default-mtu 1500 }\n\
         cpu { numa-heap-size 64M scheduler-policy batch }\n\
         plugins { path /usr/lib/vpp_plugins plugin a.so { enable skip-version-check } }\n\
         buffers { page-size 1G }\n",
    );
    let plugins = "pwire's features are compiled in: there are no plugin files to look for";
    let heap =
        "pwire's IPv6 tables grow as routes and neighbours are added (no heap or buckets to size)";
    assert_eq!(
        c.notices(),
        [
            "t.conf:1:8: `nocolor' ignored: pwire output has no colour".to_string(),
            "t.conf:2:8: `telemetry' ignored: not implemented by pwire's dpdk driver".into(),
            "t.conf:3:11: `add-to-elog' ignored: pwire has no event log".into(),
            "t.conf:5:9: `table-size' ignored: pwire's MAC table is sized by `num-buckets' alone (no bihash arena)".into(),
            format!("t.conf:6:7: `heap-size' ignored: {heap}"),
            "t.conf:6:20: `default-table-name' ignored: pwire has one IPv6 table, VRF 0, which `show ip6 fib' names ipv6-VRF:0".into(),
            format!("t.conf:6:44: `hash-buckets' ignored: {heap}"),
            "t.conf:9:7: `numa-heap-size' ignored: pwire has no per-NUMA heap (its buffers are one region)".into(),
            format!("t.conf:10:11: `path' ignored: {plugins}"),
            format!("t.conf:10:58: `skip-version-check' ignored: {plugins}"),
            "t.conf:11:11: `page-size' ignored: pwire maps buffers on 2 MiB hugepages or 4 KiB pages: taken as default-hugepage".into(),
            "t.conf:4:1: section `socksvr' ignored: a VPP section pwire has no use for".into(),
        ]
    );
}

#[test]
fn repeated_sections_merge_in_file_order() {
    let c = parse("unix { exec /a.cli }\ncpu { workers 1 }\nunix { nodaemon exec /b.cli }");
    assert!(c.unix.nodaemon);
    assert_eq!(c.unix.exec, ["/a.cli", "/b.cli"]);
    assert_eq!(c.cpu.workers, Workers::Count { n: 1 });
    let p = parse("plugins { plugin a.so { enable } } plugins { plugin b.so { disable } }").plugins;
    assert_eq!(p.plugins.len(), 2);
}

#[test]
fn parse_file_reads_a_file() {
    let path = std::env::temp_dir().join(format!("pwire-config-ok-{}.conf", std::process::id()));
    std::fs::write(&path, EXAMPLE).unwrap();
    let c = parse_file(&path);
    let _ = std::fs::remove_file(&path);
    let c = c.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.file, path.display().to_string());
    assert_eq!(c.l2tp.lookup, LookupMode::SessionId);
}

#[test]
fn logging_every_key() {
    use pwire_config::LogLevel;
    let c = parse(
        "logging {
           size 100 unthrottle-time 5
           default-log-level info default-syslog-log-level disabled
           default-kmsg-log-level debug add-to-elog
           class l2tp { level debug syslog-level err rate-limit 7 kmsg-level error }
           class interface { level warning }
         }",
    )
    .logging;
    assert_eq!(c.size, 100);
    assert_eq!(c.unthrottle_time, 5);
    assert_eq!(c.default_log_level, LogLevel::Info);
    assert_eq!(c.default_syslog_log_level, LogLevel::Disabled);
    assert_eq!(c.classes.len(), 2);
    assert_eq!(c.classes[0].name.as_str(), "l2tp");
    assert_eq!(c.classes[0].level, Some(LogLevel::Debug));
    assert_eq!(c.classes[0].syslog_level, Some(LogLevel::Error));
    assert_eq!(c.classes[0].rate_limit, Some(7));
    assert_eq!(c.classes[1].level, Some(LogLevel::Warn));
    assert_eq!(c.classes[1].syslog_level, None);
    let ignored: Vec<_> = c.ignored.iter().map(|i| i.key.as_str()).collect();
    assert_eq!(
        ignored,
        ["default-kmsg-log-level", "add-to-elog", "kmsg-level"]
    );
    // VPP's defaults when the section is absent.
    let d = parse("").logging;
    assert_eq!((d.size, d.unthrottle_time), (512, 3));
    assert_eq!(d.default_log_level, LogLevel::Notice);
    assert_eq!(d.default_syslog_log_level, LogLevel::Warn);
}

#[test]
fn logging_errors_name_the_token() {
    for (text, want) in [
        (
            "logging { default-log-level loud }",
            "t.conf:1:29: unknown log level `loud'",
        ),
        (
            "logging { size 0 }",
            "t.conf:1:16: `size' must be between 1 and 65536, got `0'",
        ),
        (
            "logging { size 65537 }",
            "t.conf:1:16: `size' must be between 1 and 65536",
        ),
        (
            "logging { class l2tp { level x } }",
            "t.conf:1:30: unknown log level `x'",
        ),
        (
            "logging { class l2tp { colour red } }",
            "t.conf:1:24: unknown input `colour'",
        ),
        (
            "logging { class l2tp }",
            "t.conf:1:17: expected `{' after `l2tp'",
        ),
        (
            "logging { class a { } class a { } }",
            "t.conf:1:29: logging class `a' already configured",
        ),
        ("logging { frob }", "t.conf:1:11: unknown input `frob'"),
    ] {
        let e = pwire_config::parse_str("t.conf", text)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with(want), "{text}: {e}");
    }
}

/// `buffers { page-size }`: the pool asks for 2 MiB hugepages unless told 4K or `default`.
#[test]
fn page_size_picks_the_buffer_pages() {
    for (conf, huge) in [
        ("", true),
        ("buffers { page-size default-hugepage }", true),
        ("buffers { page-size 2M }", true),
        ("buffers { page-size 1G }", true),
        ("buffers { page-size default }", false),
        ("buffers { page-size 4K }", false),
    ] {
        let c = parse(conf);
        assert_eq!(c.buffers.hugepages(), huge, "{conf}");
        assert_eq!(
            c.notices().len(),
            usize::from(conf.contains("1G")),
            "{conf}"
        );
    }
}

/// The DPDK device options pwire's driver does not act on get a start-up notice each.
#[test]
fn dpdk_device_options_without_effect_are_noticed() {
    let c = parse(
        "dpdk { dev default { tso on rss-queues 0-1 }\n dev 0000:02:00.0 { max-lro-pkt-size 9000 num-rx-queues 2 } }",
    );
    let n = c.notices();
    let keys: Vec<&str> = n
        .iter()
        .map(|l| {
            l.split('`')
                .nth(1)
                .unwrap_or("")
                .split('\'')
                .next()
                .unwrap_or("")
        })
        .collect();
    assert_eq!(keys, ["tso", "rss-queues", "max-lro-pkt-size"], "{n:?}");
    assert!(
        n.iter()
            .all(|l| l.ends_with("ignored: not implemented by pwire's dpdk driver")),
        "{n:?}"
    );
    assert!(n[2].starts_with("t.conf:2:21: "), "{n:?}");
}
