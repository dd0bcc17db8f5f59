//! DPDK start-up failures (feature `dpdk`): each ends pwire with exit status 1 and one
//! `pwire: dpdk: ...` line naming the cause, never a panic. Each case is its own pwire
//! process (EAL initialises once per process).

#![cfg(feature = "dpdk")]

use std::process::Command;

fn start_fails(dpdk: &str) -> String {
    let dir = std::env::temp_dir().join(format!("pwire-dpdk-start-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join(format!("s{}.conf", dpdk.len()));
    std::fs::write(
        &conf,
        format!(
            "unix {{ nodaemon cli-listen {}/cli.sock }}\ndpdk {{ {dpdk} }}\n",
            dir.display()
        ),
    )
    .unwrap();
    let o = Command::new("timeout")
        .args(["60", env!("CARGO_BIN_EXE_pwire"), "-c"])
        .arg(&conf)
        .env("PWIRE_NO_HUGEPAGES", "1")
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(1), "exit status for `{dpdk}':\n{err}");
    assert!(!err.contains("panicked"), "{err}");
    let ours: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("pwire: dpdk: "))
        .collect();
    assert_eq!(ours.len(), 1, "one pwire error line for `{dpdk}':\n{err}");
    ours[0].to_string()
}

#[test]
fn eal_and_port_errors_are_one_clear_line() {
    let l = start_fails("no-huge no-pci log-level emerg vdev net_bogus0");
    assert!(
        l.contains("EAL initialisation failed") && l.contains("--vdev=net_bogus0"),
        "{l}"
    );
    let l = start_fails("no-huge no-pci iova-mode pa vdev net_null0");
    assert!(l.contains("needs iova-mode va"), "{l}");
    let l = start_fails(
        "no-huge no-pci log-level emerg dev default { num-rx-queues 17 } vdev net_ring0",
    );
    assert!(
        l.contains("net_ring0: num-rx-queues 17 exceeds the device's 16"),
        "{l}"
    );
}
