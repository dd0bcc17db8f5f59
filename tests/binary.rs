//! The binaries: `pwire -c startup.conf` with an exec script, a CLI socket with mode 0660, and
//! `pwctl` one-shot with exit codes; config errors name file:line:col.

use std::process::Command;

use pwire_tests::{bin, ensure_built, start_pwire};

#[test]
fn config_error_names_file_line_col() {
    ensure_built();
    let d = pwire_testkit::TempDir::new("bin");
    let conf = d.path().join("bad.conf");
    std::fs::write(&conf, "unix {\n  nodaemon\n  frobnicate 3\n}\n").unwrap();
    let out = Command::new(bin("pwire"))
        .arg("-c")
        .arg(&conf)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "{}:3:3: unknown input `frobnicate'",
            conf.display()
        )),
        "{err}"
    );
}

#[test]
fn exec_failure_stops_start_with_line_number() {
    ensure_built();
    let d = pwire_testkit::TempDir::new("bin");
    let cli = d.path().join("setup.cli");
    std::fs::write(
        &cli,
        "# comment\ncreate packet-generator interface pg0\nset interface state pg9 up\n",
    )
    .unwrap();
    let conf = d.path().join("s.conf");
    std::fs::write(
        &conf,
        format!(
            "unix {{ nodaemon cli-listen {}/cli.sock exec {} }}\n",
            d.path().display(),
            cli.display()
        ),
    )
    .unwrap();
    let out = Command::new(bin("pwire"))
        .arg("-c")
        .arg(&conf)
        .env("PWIRE_NO_HUGEPAGES", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(":3: CLI line error:") && err.contains("unknown interface `pg9'"),
        "{err}"
    );
}

#[test]
fn pwire_serves_pwctl_over_socket_with_mode_0660() {
    ensure_built();
    let d = pwire_testkit::TempDir::new("bin");
    let sock = d.path().join("cli.sock");
    let cli = d.path().join("setup.cli");
    std::fs::write(
        &cli,
        "create packet-generator interface pg0\nset interface state pg0 up\n",
    )
    .unwrap();
    let conf = d.path().join("s.conf");
    std::fs::write(
        &conf,
        format!(
            "unix {{ nodaemon cli-listen {} exec {} }}\n",
            sock.display(),
            cli.display()
        ),
    )
    .unwrap();
    let _p = start_pwire(&conf, &sock);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&sock)
        .expect("socket created")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o660, "socket mode");
    let ok = Command::new(bin("pwctl"))
        .arg("-s")
        .arg(&sock)
        .args(["sh", "int"])
        .output()
        .unwrap();
    assert!(ok.status.success());
    let s = String::from_utf8_lossy(&ok.stdout);
    assert!(s.contains("pg0") && s.contains("up"), "{s}");
    let bad = Command::new(bin("pwctl"))
        .arg("-s")
        .arg(&sock)
        .args(["set", "interface", "state", "pg5", "up"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown interface `pg5'"));
}

/// `unix { runtime-dir <d> pidfile <f> }`: the CLI socket is `<d>/cli.sock` when `cli-listen`
/// is not given, the pid file holds pwire's pid while it runs and is gone after SIGTERM.
#[test]
fn runtime_dir_and_pidfile() {
    use std::time::{Duration, Instant};
    ensure_built();
    let d = pwire_testkit::TempDir::new("bin");
    let pid = d.path().join("pw.pid");
    let conf = d.path().join("s.conf");
    std::fs::write(
        &conf,
        format!(
            "unix {{ nodaemon runtime-dir {} pidfile {} }}\n",
            d.path().display(),
            pid.display()
        ),
    )
    .unwrap();
    let mut p = start_pwire(&conf, &d.path().join("cli.sock"));
    let t0 = Instant::now();
    while !pid.exists() && t0.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let text = std::fs::read_to_string(&pid).expect("pid file written");
    assert_eq!(text, format!("{}\n", p.0.id()));
    // SAFETY: a signal to the child this test started and still holds.
    unsafe { libc::kill(p.0.id() as libc::pid_t, libc::SIGTERM) };
    let t0 = Instant::now();
    while p.0.try_wait().unwrap().is_none() {
        assert!(t0.elapsed() < Duration::from_secs(10), "pwire did not stop");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!pid.exists(), "pid file removed on stop");
}

/// `unix { interactive cli-prompt <s> }`: stdin is a CLI with that prompt (VPP's `vpp# `,
/// pwire's `pwire# ` without it); end of input stops pwire.
#[test]
fn interactive_cli_prompt() {
    use std::io::Write;
    ensure_built();
    let d = pwire_testkit::TempDir::new("bin");
    let conf = d.path().join("s.conf");
    for (extra, want) in [("", "pwire# "), ("cli-prompt pw>", "pw>")] {
        std::fs::write(
            &conf,
            format!(
                "unix {{ nodaemon interactive cli-listen {}/cli.sock {extra} }}\n",
                d.path().display()
            ),
        )
        .unwrap();
        let mut c = Command::new(bin("pwire"))
            .arg("-c")
            .arg(&conf)
            .env("PWIRE_NO_HUGEPAGES", "1")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        c.stdin
            .take()
            .unwrap()
            .write_all(b"create packet-generator interface pg0\n")
            .unwrap();
        let out = c.wait_with_output().unwrap();
        let s = String::from_utf8_lossy(&out.stdout);
        assert!(
            s.starts_with(want) && s.contains(&format!("pg0\n{want}")),
            "{extra}: {s:?}"
        );
    }
}
