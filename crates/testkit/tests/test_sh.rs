//! scripts/test.sh must fail when a test fails. The script runs from a copy beside fake tools
//! that stand in for cargo, rustup and dpkg (and the test tools it would otherwise install), so
//! this checks the script's own status handling in well under a second, nothing compiled.

use pwire_testkit::TempDir;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

/// `cargo test` passes for the workspace, for the package test (run as root only) and, unless
/// `FAKE_DPDK_FAIL` is set, for `--features dpdk`; every other cargo command succeeds silently. rustup has no nightly (fuzz
/// and Miri say they skip); dpkg has every package; the test tools exist.
const FAKE_CARGO: &str = r#"#!/bin/sh
[ "$1" = test ] || exit 0
case " $* " in
  *" --test package "*)
    echo "running 1 test"
    echo "test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out"
    ;;
  *" --features dpdk "*)
    echo "running 2 tests"
    if [ -n "$FAKE_DPDK_FAIL" ]; then
      echo "test dpdk_case ... FAILED"
      echo "test result: FAILED. 1 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out"
      exit 101
    fi
    echo "test result: ok. 2 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out"
    ;;
  *)
    echo "running 3 tests"
    echo "test result: ok. 3 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out"
    ;;
esac
"#;

fn fake(dir: &Path, name: &str, body: &str) {
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Runs a copy of scripts/test.sh with the fakes first on PATH.
fn run_script(dpdk_fails: bool) -> Output {
    let t = TempDir::new("test-sh");
    let (scripts, bin, logs) = (
        t.path().join("scripts"),
        t.path().join("bin"),
        t.path().join("logs"),
    );
    for d in [&scripts, &bin, &logs] {
        std::fs::create_dir_all(d).unwrap();
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/test.sh");
    std::fs::copy(&src, scripts.join("test.sh")).unwrap();
    fake(&bin, "cargo", FAKE_CARGO);
    fake(&bin, "rustup", "#!/bin/sh\nexit 1\n");
    for tool in [
        "dpkg",
        "tshark",
        "ip",
        "ethtool",
        "ping",
        "python3",
        "systemd-analyze",
        "adduser",
        "setpriv",
        "objdump",
        "promtool",
    ] {
        fake(&bin, tool, "#!/bin/sh\nexit 0\n");
    }
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let mut c = Command::new("bash");
    c.arg(scripts.join("test.sh"))
        .env("PATH", path)
        .env("PWIRE_TEST_LOGS", &logs)
        .env_remove("FAKE_DPDK_FAIL");
    if dpdk_fails {
        c.env("FAKE_DPDK_FAIL", "1");
    }
    c.output().expect("bash")
}

/// The package step runs only as root (it installs a .deb): its one fake test counts then.
fn package_tests() -> usize {
    usize::from(pwire_testkit::prereq::euid() == 0)
}

#[test]
fn a_failing_dpdk_test_fails_the_run() {
    let o = run_script(true);
    let out = String::from_utf8_lossy(&o.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        out.contains("test dpdk_case ... FAILED"),
        "the DPDK step ran:\n{out}{err}"
    );
    assert!(
        out.contains(&format!("{} passed, 1 failed", 4 + package_tests())),
        "summary counts both steps:\n{out}{err}"
    );
    assert_eq!(
        o.status.code(),
        Some(101),
        "a failing DPDK test must fail scripts/test.sh with cargo's status:\n{out}{err}"
    );
}

#[test]
fn the_run_passes_when_every_step_passes() {
    // The control: the fakes alone do not make the script fail.
    let o = run_script(false);
    let out = String::from_utf8_lossy(&o.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        out.contains(&format!("{} passed, 0 failed", 5 + package_tests())),
        "{out}{err}"
    );
    assert!(
        out.contains("miri: skipped: no nightly toolchain"),
        "the Miri step says why it skips:\n{out}"
    );
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
}
