//! The real command handlers: a single-threaded pwire (every feature crate, a small buffer pool),
//! each line of the input run as if typed at `pwctl`. A handler must answer with output or a
//! one-line error, never panic. Lines that reach the host (files, AF_PACKET sockets) or wait in
//! real time are skipped: the binary tests cover those.
//!
//! A dataplane does not free everything when dropped (its registrations hold each other), which
//! is harmless for the one per process pwire has but not for millions of fuzz inputs: one
//! dataplane serves [`REBUILD_EVERY`] inputs, so an input may see state left by earlier ones.
//! Reproduce a finding with the whole `fuzz/corpus/dataplane_cli` run or by `cargo fuzz tmin`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::cell::RefCell;

/// Words of commands that touch the host or wait in real time.
const HOST: &[&str] = &[
    "exec",
    "pcap",
    "host-interface",
    "capture",
    "log",
    "af_packet",
    "ping",
    "sleep",
];

/// Inputs served by one dataplane before a fresh one is built.
const REBUILD_EVERY: u32 = 256;

fn build() -> pwire_vnet::Dataplane {
    std::env::set_var("PWIRE_NO_HUGEPAGES", "1");
    let cfg = pwire_config::parse_str(
        "fuzz.conf",
        "buffers { buffers-per-numa 512 }\nl2fib { num-buckets 64 }",
    )
    .expect("config");
    let regs = pwire::registrations(&cfg);
    pwire_vnet::Dataplane::build(cfg, &regs).expect("build")
}

thread_local! {
    static DP: RefCell<Option<(pwire_vnet::Dataplane, u32)>> = const { RefCell::new(None) };
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let lower = text.to_ascii_lowercase();
    if HOST.iter().any(|w| lower.contains(w)) {
        return;
    }
    DP.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.as_ref().is_none_or(|(_, n)| *n >= REBUILD_EVERY) {
            if let Some((mut old, _)) = slot.take() {
                old.shutdown();
            }
            *slot = Some((build(), 0));
        }
        let (dp, n) = slot.as_mut().expect("built");
        *n += 1;
        for line in text.lines().take(32) {
            if let Err(e) = dp.exec(line) {
                assert!(
                    !e.trim_end().contains('\n'),
                    "multi-line error for {line:?}: {e:?}"
                );
            }
            dp.run_once();
        }
    });
});
