//! The log: `show logging` after interface and tunnel changes, levels, the ring's bound, the
//! `unix { log }` file, syslog (a real one: libc's syslog into a socket standing in for
//! /dev/log), stderr under `nosyslog`, and secrets kept out of all of them.

use pwire_testkit::{prereq, Harness};
use pwire_tests::{bin, ensure_built, features, start_pwire, Proc};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Cookies used below: none may appear in any log.
const SECRETS: &[&str] = &[
    "1122334455667788",
    "8877665544332211",
    "99zz88",
    "aabbccddeeff0011",
    "1100ffeeddccbbaa",
];

fn harness() -> Harness {
    Harness::with("", &features())
}

/// `show logging` lines as (level, class, message): after the 23-character time stamp, the
/// level takes 10 columns and the class 14, each followed by a space.
fn entries(show: &str) -> Vec<(String, String, String)> {
    show.lines()
        .map(|l| {
            let f = |a: usize, b: usize| l.get(a..b).unwrap_or("").trim().to_string();
            (f(24, 34), f(35, 49), l.get(50..).unwrap_or("").to_string())
        })
        .collect()
}

fn has(show: &str, level: &str, class: &str, msg: &str) -> bool {
    entries(show)
        .iter()
        .any(|(l, c, m)| l == level && c == class && m == msg)
}

#[test]
fn show_logging_records_interface_and_tunnel_changes() {
    let mut h = harness();
    h.cli("create packet-generator interface pg0");
    h.cli("set interface state pg0 up");
    h.cli("set interface state pg0 up"); // no change, no entry
    h.cli("set interface state pg0 down");
    h.cli("create l2tpv3 tunnel client fd00::2 our fd00::1 local-cookie 1122334455667788 remote-cookie 8877665544332211 local-session-id 10 remote-session-id 20");
    h.cli("set l2tpv3 tunnel cookie l2tpv3_tunnel0 local aabbccddeeff0011 remote 1100ffeeddccbbaa");
    h.cli("create l2tpv3 tunnel client fd00::2 our fd00::1 local-session-id 10 del");
    let show = h.cli("show logging");
    // The layout: VPP's time stamp, then level in 10 columns and class in 14.
    for l in show.lines() {
        let b = l.as_bytes();
        assert!(l.len() > 49, "{l}");
        assert!(
            b[4] == b'/' && b[7] == b'/' && b[10] == b' ' && b[13] == b':' && b[19] == b':',
            "time stamp: {l}"
        );
        assert!(l[..4].parse::<u32>().is_ok_and(|y| y >= 2024), "{l}");
    }
    let want = [
        ("interface", "local0 (sw_if_index 0) created"),
        ("interface", "pg0 (sw_if_index 1) created"),
        ("interface", "pg0 admin up"),
        ("interface", "pg0 admin down"),
        ("interface", "l2tpv3_tunnel0 (sw_if_index 2) created"),
        ("l2tp", "l2tpv3_tunnel0 created: client fd00::2 our fd00::1 local-session-id 10 remote-session-id 20 cookie-size 8"),
        ("l2tp", "l2tpv3_tunnel0: cookies changed (the previous local cookie is still accepted)"),
        ("l2tp", "l2tpv3_tunnel0 deleted: client fd00::2 our fd00::1 local-session-id 10"),
        ("interface", "l2tpv3_tunnel0 (sw_if_index 2) deleted"),
    ];
    let got: Vec<(String, String)> = entries(&show)
        .into_iter()
        .map(|(l, c, m)| {
            assert_eq!(l, "notice", "{show}");
            (c, m)
        })
        .collect();
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(c, m)| (c.to_string(), m.to_string()))
        .collect();
    assert_eq!(got, want, "{show}");
    for s in SECRETS {
        assert!(!show.contains(s), "{s} in {show}");
    }
    // `clear logging` empties it (its own "log cleared" is info, not kept at notice).
    h.cli("clear logging");
    assert_eq!(h.cli("show logging"), "");
    h.cli("set logging class log level info");
    h.cli("clear logging");
    assert!(has(&h.cli("show logging"), "info", "log", "log cleared"));
}

#[test]
fn levels_filter_what_is_kept() {
    let mut h = harness();
    h.cli("create packet-generator interface pg0");
    h.cli("clear logging");
    h.cli("set logging class interface level warn");
    h.cli("set interface state pg0 up");
    assert_eq!(h.cli("show logging"), "", "notice filtered out at warn");
    h.cli("set logging class interface level notice");
    h.cli("set interface state pg0 down");
    assert!(has(
        &h.cli("show logging"),
        "notice",
        "interface",
        "pg0 admin down"
    ));
    // A new default reaches classes not set on their own (l2tp), not interface.
    h.cli("clear logging");
    h.cli("set logging default-log-level error");
    h.cli("set interface state pg0 up");
    h.cli("create l2tpv3 tunnel client fd00::2 our fd00::1");
    let show = h.cli("show logging");
    assert!(has(&show, "notice", "interface", "pg0 admin up"), "{show}");
    assert!(!show.contains("l2tp "), "{show}");
    let cfg = h.cli("show logging configuration");
    assert!(cfg.contains("  Log Level:         error"), "{cfg}");
    assert!(
        cfg.contains("interface\n  default              notice         warn           50\n"),
        "{cfg}"
    );
    assert!(
        cfg.contains("l2tp\n  default              error          warn           50\n"),
        "{cfg}"
    );
    // Bad input names the offending token.
    assert_eq!(
        h.cli_err("set logging class tunnel level debug"),
        "set logging class: unknown log class `tunnel'"
    );
    assert!(h
        .cli_err("set logging class l2tp level loud")
        .starts_with("set logging class: unknown log level `loud'"));
    assert_eq!(
        h.cli_err("set logging class l2tp level debug colour red"),
        "set logging class: unknown input `colour red'"
    );
    assert!(h
        .cli_err("set logging size 0")
        .starts_with("set logging size: size must be between 1 and 65536"));
}

#[test]
fn ring_keeps_the_newest_entries_within_its_size() {
    let mut h = harness();
    h.cli("create packet-generator interface pg0");
    h.cli("set logging class interface rate-limit 1000");
    h.cli("set logging size 5");
    assert!(h
        .cli("show logging config")
        .starts_with("Buffer Size:         5 entries\n"));
    for i in 0..20 {
        h.cli(&format!(
            "set interface state pg0 {}",
            if i % 2 == 0 { "up" } else { "down" }
        ));
    }
    let e = entries(&h.cli("show logging"));
    assert_eq!(e.len(), 5);
    // The last change (i = 19) was `down`; the newest entries are kept, oldest first.
    let m: Vec<&str> = e.iter().map(|(_, _, m)| m.as_str()).collect();
    assert_eq!(
        m,
        [
            "pg0 admin down",
            "pg0 admin up",
            "pg0 admin down",
            "pg0 admin up",
            "pg0 admin down"
        ]
    );
    // VPP's per-class rate limit: a flood is cut, and says so.
    h.cli("set logging size 100");
    h.cli("set logging class interface rate-limit 3");
    h.cli("clear logging");
    std::thread::sleep(Duration::from_millis(1100)); // a new one-second window
    for i in 0..10 {
        h.cli(&format!(
            "set interface state pg0 {}",
            if i % 2 == 0 { "up" } else { "down" }
        ));
    }
    let m: Vec<String> = entries(&h.cli("show logging"))
        .into_iter()
        .map(|e| e.2)
        .collect();
    assert_eq!(m.len(), 4, "{m:?}");
    assert_eq!(m[3], "--- message(s) throttled ---");
}

/// startup.conf's `logging { }` is applied, and a class it names must exist.
#[test]
fn startup_conf_logging_section() {
    let mut h = Harness::with(
        "logging { size 2 class interface { level warn } }",
        &features(),
    );
    h.cli("create packet-generator interface pg0");
    h.cli("set interface state pg0 up");
    assert_eq!(h.cli("show logging"), "");
    assert!(h
        .cli("show logging configuration")
        .starts_with("Buffer Size:         2 entries"));
    let cfg =
        pwire_config::parse_str("t.conf", "logging { class tunnels { level debug } }").unwrap();
    let e = pwire_vnet::Dataplane::build(cfg, &pwire::registrations(&Default::default()))
        .expect_err("unknown class refused");
    assert!(
        e.starts_with("t.conf:1:17: unknown log class `tunnels' (classes: "),
        "{e}"
    );
}

fn sigterm_and_wait(p: &mut Proc) -> std::process::ExitStatus {
    let pid = i32::try_from(p.0.id()).expect("pid");
    // SAFETY: plain kill(2) on our own child.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let t0 = Instant::now();
    loop {
        if let Some(st) = p.0.try_wait().expect("wait") {
            return st;
        }
        assert!(t0.elapsed() < Duration::from_secs(10), "pwire did not stop");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn pwctl(sock: &Path, cmd: &str) -> (bool, String) {
    let o = Command::new(bin("pwctl"))
        .arg("-s")
        .arg(sock)
        .args(cmd.split_whitespace())
        .output()
        .expect("pwctl");
    let mut s = String::from_utf8_lossy(&o.stdout).into_owned();
    s.push_str(&String::from_utf8_lossy(&o.stderr));
    (o.status.success(), s)
}

#[test]
fn log_file_has_state_changes_cli_errors_and_no_secrets() {
    ensure_built();
    let d = pwire_testkit::TempDir::new("log");
    let sock = d.path().join("cli.sock");
    let file = d.path().join("pwire.log");
    let setup = d.path().join("setup.cli");
    std::fs::write(
        &setup,
        "create packet-generator interface pg0\nset interface state pg0 up\n\
         create l2tpv3 tunnel client fd00::2 our fd00::1 local-cookie 1122334455667788 \
         remote-cookie 8877665544332211 local-session-id 1 remote-session-id 2\n",
    )
    .unwrap();
    let conf = d.path().join("s.conf");
    std::fs::write(
        &conf,
        format!(
            "unix {{ nodaemon nosyslog cli-listen {} log {} exec {} }}\n",
            sock.display(),
            file.display(),
            setup.display()
        ),
    )
    .unwrap();
    let mut p = start_pwire(&conf, &sock);
    assert!(pwctl(&sock, "set interface state pg0 down").0);
    let (ok, err) = pwctl(
        &sock,
        "create l2tpv3 tunnel client fd00::2 our fd00::1 local-cookie 99zz88 local-session-id 5",
    );
    assert!(!ok && err.contains("99zz88"), "the operator sees it: {err}");
    assert!(pwctl(
        &sock,
        "set l2tpv3 tunnel cookie l2tpv3_tunnel0 local aabbccddeeff0011 remote 1100ffeeddccbbaa"
    )
    .0);
    let (_, show) = pwctl(&sock, "show logging");
    assert!(
        has(&show, "notice", "interface", "pg0 admin down"),
        "{show}"
    );
    assert!(sigterm_and_wait(&mut p).success());
    let text = std::fs::read_to_string(&file).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].ends_with(&format!("***** Start: PID {} *****", p.0.id())),
        "{text}"
    );
    let find = |pat: &str| {
        lines
            .iter()
            .position(|l| l.contains(pat))
            .unwrap_or_else(|| panic!("`{pat}' not in the log:\n{text}"))
    };
    let order = [
        find(" notice     interface      pg0 (sw_if_index 1) created"),
        find(" notice     interface      pg0 admin up"),
        find(" notice     l2tp           l2tpv3_tunnel0 created: client fd00::2"),
        find(" notice     unix           up: 0 worker(s), CLI on"),
        find(" notice     interface      pg0 admin down"),
        find(" notice     cli            `create l2tpv3 tunnel client fd00::2 our fd00::1 local-cookie <redacted> local-session-id 5': create l2tpv3 tunnel: local-cookie `<redacted>'"),
        find(" notice     l2tp           l2tpv3_tunnel0: cookies changed"),
        find(" notice     unix           stopping"),
    ];
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}\n{text}");
    for s in SECRETS {
        assert!(!text.contains(s), "{s} in the log file:\n{text}");
    }
}

#[test]
fn exec_and_config_errors_go_to_the_log_file_without_secrets() {
    ensure_built();
    let d = pwire_testkit::TempDir::new("log");
    let file = d.path().join("pwire.log");
    let setup = d.path().join("setup.cli");
    std::fs::write(
        &setup,
        "create l2tpv3 tunnel client fd00::2 our fd00::1 local-cookie 99zz88\n",
    )
    .unwrap();
    let conf = d.path().join("s.conf");
    let write_conf = |extra: &str| {
        std::fs::write(
            &conf,
            format!(
                "unix {{ nodaemon nosyslog cli-listen {}/cli.sock log {} exec {} }}\n{extra}",
                d.path().display(),
                file.display(),
                setup.display()
            ),
        )
        .unwrap();
    };
    let run = || {
        Command::new(bin("pwire"))
            .arg("-c")
            .arg(&conf)
            .env("PWIRE_NO_HUGEPAGES", "1")
            .output()
            .unwrap()
    };
    write_conf("");
    let out = run();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "setup.cli:1: CLI line error: create l2tpv3 tunnel: local-cookie `<redacted>'"
        ),
        "{stderr}"
    );
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.contains(" error      unix           ")
            && text.contains("setup.cli:1: CLI line error: create l2tpv3 tunnel: local-cookie `<redacted>' is not"),
        "{text}"
    );
    // A class startup.conf names that pwire does not have: file:line:col, in the file too.
    write_conf("logging {\n  class tunnels { level debug }\n}\n");
    let out = run();
    assert_eq!(out.status.code(), Some(1));
    let text = std::fs::read_to_string(&file).unwrap();
    let want = format!(
        " error      config         {}:3:9: unknown log class `tunnels'",
        conf.display()
    );
    assert!(text.contains(&want), "{want}\n{text}");
    assert_eq!(text.matches("***** Start: PID").count(), 2, "{text}");
    for s in SECRETS {
        assert!(
            !text.contains(s) && !stderr.contains(s),
            "{s}:\n{text}\n{stderr}"
        );
    }
}

/// `unix { nosyslog }`: what reaches the syslog level goes to stderr in VPP's form.
#[test]
fn nosyslog_sends_the_syslog_level_to_stderr() {
    ensure_built();
    let d = pwire_testkit::TempDir::new("log");
    let sock = d.path().join("cli.sock");
    let setup = d.path().join("setup.cli");
    std::fs::write(
        &setup,
        "create packet-generator interface pg0\nset interface state pg0 up\n",
    )
    .unwrap();
    let conf = d.path().join("s.conf");
    std::fs::write(
        &conf,
        format!(
            "unix {{ nodaemon nosyslog cli-listen {} exec {} }}\n\
             logging {{ default-syslog-log-level notice class l2tp {{ syslog-level disabled }} }}\n",
            sock.display(),
            setup.display()
        ),
    )
    .unwrap();
    let mut p = Proc(
        Command::new(bin("pwire"))
            .arg("-c")
            .arg(&conf)
            .env("PWIRE_NO_HUGEPAGES", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let t0 = Instant::now();
    while !sock.exists() {
        assert!(t0.elapsed() < Duration::from_secs(20));
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(pwctl(&sock, "create l2tpv3 tunnel client fd00::2 our fd00::1").0);
    assert!(sigterm_and_wait(&mut p).success());
    let mut err = String::new();
    std::io::Read::read_to_string(&mut p.0.stderr.take().unwrap(), &mut err).unwrap();
    assert!(
        err.contains("\ninterface [notice]: pg0 admin up\n"),
        "{err}"
    );
    assert!(err.contains("\nunix [notice]: stopping\n"), "{err}");
    assert!(
        !err.contains("l2tp ["),
        "l2tp is disabled for syslog: {err}"
    );
}

/// The real syslog path: libc's syslog(3) into a datagram socket that stands in for /dev/log,
/// in a mount namespace of pwire's own (a tmpfs on /dev there holds the link to it).
#[test]
fn syslog_receives_warnings_and_errors_without_secrets() {
    if prereq::require(prereq::root()).is_none()
        || prereq::require(prereq::tool("unshare", "--version")).is_none()
    {
        return;
    }
    ensure_built();
    let d = pwire_testkit::TempDir::new("log");
    let dev_log = d.path().join("log.sock");
    let rx = std::os::unix::net::UnixDatagram::bind(&dev_log).unwrap();
    rx.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let setup = d.path().join("setup.cli");
    std::fs::write(
        &setup,
        "create packet-generator interface pg0\nset interface state pg0 up\n\
         create l2tpv3 tunnel client fd00::2 our fd00::1 local-cookie 99zz88\n",
    )
    .unwrap();
    let conf = d.path().join("s.conf");
    std::fs::write(
        &conf,
        format!(
            "unix {{ nodaemon nocolor cli-listen {}/cli.sock exec {} }}\n\
             logging {{ class interface {{ syslog-level notice }} }}\n",
            d.path().display(),
            setup.display()
        ),
    )
    .unwrap();
    let script = format!(
        "mount -t tmpfs pwire-test-dev /dev && ln -s {} /dev/log && exec {} -c {}",
        dev_log.display(),
        bin("pwire").display(),
        conf.display()
    );
    let out = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", &script])
        .env("PWIRE_NO_HUGEPAGES", "1")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut got = Vec::new();
    let mut buf = [0u8; 2048];
    while let Ok(n) = rx.recv(&mut buf) {
        got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    let all = got.join("\n");
    // LOG_DAEMON (3 << 3) | LOG_NOTICE (5) = 29, | LOG_ERR (3) = 27.
    let notice = got
        .iter()
        .find(|m| m.ends_with("interface: pg0 admin up"))
        .unwrap_or_else(|| panic!("no admin-up message:\n{all}"));
    assert!(
        notice.starts_with("<29>") && notice.contains(" pwire["),
        "{notice}"
    );
    let err = got
        .iter()
        .find(|m| m.contains("unix: ") && m.contains("CLI line error"))
        .unwrap_or_else(|| panic!("no exec error:\n{all}"));
    assert!(
        err.starts_with("<27>") && err.contains("local-cookie `<redacted>'"),
        "{err}"
    );
    // Below the syslog level (warn, but for interface): config's notice is not sent.
    assert!(stderr_note(&out.stderr), "the notice was made");
    assert!(!all.contains("config: "), "{all}");
    for s in SECRETS {
        assert!(!all.contains(s), "{s}:\n{all}");
    }
}

fn stderr_note(stderr: &[u8]) -> bool {
    String::from_utf8_lossy(stderr).contains("pwire: note: ")
}

/// Link state changes a driver reports (AF_PACKET: the peer of a veth goes down) are logged.
#[test]
fn link_changes_are_logged() {
    if prereq::require(prereq::root()).is_none()
        || prereq::require(prereq::tool("ip", "-V")).is_none()
    {
        return;
    }
    ensure_built();
    let ns = format!("pwtest-log-{}", std::process::id());
    struct Ns(String);
    impl Drop for Ns {
        fn drop(&mut self) {
            let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
        }
    }
    let ip = |args: &[&str]| {
        let o = Command::new("ip").args(args).output().unwrap();
        assert!(o.status.success(), "ip {args:?}: {o:?}");
    };
    ip(&["netns", "add", &ns]);
    let _ns = Ns(ns.clone());
    ip(&[
        "-n", &ns, "link", "add", "lg0", "type", "veth", "peer", "name", "lg1",
    ]);
    ip(&["-n", &ns, "link", "set", "lg0", "up"]);
    ip(&["-n", &ns, "link", "set", "lg1", "up"]);
    let d = pwire_testkit::TempDir::new("log");
    let sock = d.path().join("cli.sock");
    let setup = d.path().join("setup.cli");
    std::fs::write(
        &setup,
        "create host-interface name lg1\nset interface state host-lg1 up\n",
    )
    .unwrap();
    let conf = d.path().join("s.conf");
    std::fs::write(
        &conf,
        format!(
            "unix {{ nodaemon nosyslog cli-listen {} exec {} }}\n",
            sock.display(),
            setup.display()
        ),
    )
    .unwrap();
    let mut p = Proc(
        Command::new("ip")
            .args(["netns", "exec", &ns])
            .arg(bin("pwire"))
            .arg("-c")
            .arg(&conf)
            .env("PWIRE_NO_HUGEPAGES", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let t0 = Instant::now();
    while !sock.exists() {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "pwire did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let wait_for = |msg: &str| {
        let t0 = Instant::now();
        loop {
            let (_, show) = pwctl(&sock, "show logging");
            if has(&show, "notice", "interface", msg) {
                return;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(10),
                "no `{msg}':\n{show}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    wait_for("host-lg1 admin up");
    ip(&["-n", &ns, "link", "set", "lg0", "down"]);
    wait_for("host-lg1 link down");
    ip(&["-n", &ns, "link", "set", "lg0", "up"]);
    wait_for("host-lg1 link up");
    let _ = sigterm_and_wait(&mut p);
}
