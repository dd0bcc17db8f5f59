//! Random input never panics, and every error points inside the input.

use proptest::prelude::*;
use pwire_config::{parse_str, parse_tree};

/// Words that reach deep into the section parsers.
const VOCAB: &[&str] = &[
    "unix",
    "cpu",
    "buffers",
    "dpdk",
    "plugins",
    "l2tp",
    "interface",
    "ethernet",
    "l2fib",
    "ip6",
    "statseg",
    "logging",
    "node",
    "bogus",
    "{",
    "}",
    "{",
    "}",
    "#",
    "\n",
    "nodaemon",
    "exec",
    "cli-listen",
    "gid",
    "coredump-size",
    "poll-sleep-usec",
    "main-core",
    "workers",
    "corelist-workers",
    "coremask-workers",
    "skip-cores",
    "scheduler-policy",
    "fifo",
    "buffers-per-numa",
    "default",
    "data-size",
    "page-size",
    "plugin",
    "enable",
    "disable",
    "skip-version-check",
    "path",
    "dev",
    "vdev",
    "name",
    "num-rx-queues",
    "tso",
    "workers",
    "no-pci",
    "num-mbufs",
    "iova-mode",
    "lookup-v6-src",
    "lookup-session-id",
    "default-rx-mode",
    "polling",
    "default-mtu",
    "table-size",
    "num-buckets",
    "hash-buckets",
    "heap-size",
    "0",
    "1",
    "2-3,18-19",
    "0x1c",
    "16384",
    "2048",
    "64K",
    "1G",
    "99999999999999999999",
    "0000:00:08.0",
    "00:08.0",
    "3-1",
    "on",
    "x.so",
    "-",
    ",",
    "é",
];

fn check(text: &str) {
    // Catching a panic here would only hide it: a panic fails the test.
    let lines = u32::try_from(text.split('\n').count()).unwrap_or(u32::MAX);
    if let Err(e) = parse_str("r.conf", text) {
        assert!(e.line >= 1 && e.line <= lines, "{e} for {text:?}");
        assert!(e.col >= 1, "{e} for {text:?}");
        assert!(e.to_string().starts_with("r.conf:"), "{e}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn any_string(text in any::<String>()) {
        check(&text);
    }

    #[test]
    fn grammar_characters(text in "[a-z0-9{}# \n\t.,:-]{0,200}") {
        check(&text);
    }

    #[test]
    fn token_soup(words in proptest::collection::vec(proptest::sample::select(VOCAB), 0..60)) {
        check(&words.join(" "));
    }

    #[test]
    fn deep_nesting(depth in 0usize..40, word in "[a-z]{1,3}") {
        let text = format!("{}{}", format!("{word} {{ ").repeat(depth), "} ".repeat(depth));
        let r = parse_tree("r.conf", &text);
        prop_assert_eq!(r.is_ok(), depth <= pwire_config::MAX_DEPTH);
    }

    /// A core list written any way parses to the sorted set of its CPUs.
    #[test]
    fn corelist_is_a_set(cpus in proptest::collection::vec(0usize..64, 1..20)) {
        let list = cpus.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(",");
        let c = parse_str("r.conf", &format!("cpu {{ main-core 0 corelist-workers {list} }}"))
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut want = cpus.clone();
        want.sort_unstable();
        want.dedup();
        prop_assert_eq!(c.cpu.workers, pwire_config::Workers::List(want));
    }
}
