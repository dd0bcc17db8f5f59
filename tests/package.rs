//! The Debian package on this machine: `scripts/package.sh` builds it, `dpkg -i` installs it
//! (twice: the second is an upgrade over itself), `systemd-analyze verify` checks the unit, pwire
//! runs from the installed startup.conf as the unit runs it (its ExecStart line, User, Group,
//! capabilities and directories, read from the installed unit; in a network namespace of its
//! own), the installed pwctl finds it on the default socket, and `dpkg --purge` leaves nothing
//! behind: no file, no user, no group.
//!
//! It changes the machine's packages and needs a release build, so a plain `cargo test` does
//! not run it: `scripts/test.sh package` does (as root; CI runs that step). Whatever happens,
//! the guard stops pwire, purges the package and removes what the test made.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use pwire_testkit::prereq::{self, require};

const UNIT: &str = "/lib/systemd/system/pwire.service";
const SOCKET: &str = "/run/pwire/cli.sock";
const NETNS: &str = "pwtest-pkg";

/// Everything the package installs, makes or enables: none may be left after the purge.
const LEFTOVERS: &[&str] = &[
    "/usr/bin/pwire",
    "/usr/bin/pwctl",
    "/etc/pwire",
    "/etc/logrotate.d/pwire",
    UNIT,
    "/usr/share/doc/pwire",
    "/var/log/pwire",
    "/run/pwire",
    "/etc/systemd/system/multi-user.target.wants/pwire.service",
    "/etc/systemd/system/pwire.service",
    "/var/lib/systemd/deb-systemd-helper-enabled/pwire.service.dsh-also",
    "/var/lib/systemd/deb-systemd-helper-enabled/multi-user.target.wants/pwire.service",
    "/var/lib/systemd/deb-systemd-helper-masked/pwire.service",
];

fn run(cmd: &str, args: &[&str]) -> Output {
    Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e}"))
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn ok(cmd: &str, args: &[&str]) -> String {
    let o = run(cmd, args);
    assert!(
        o.status.success(),
        "{cmd} {args:?}: {}\n{}",
        o.status,
        text(&o)
    );
    text(&o)
}

fn getent(db: &str, name: &str) -> Option<String> {
    let o = run("getent", &[db, name]);
    o.status
        .success()
        .then(|| String::from_utf8_lossy(&o.stdout).trim().to_string())
}

/// `dpkg -s pwire` says it is installed (or half-installed, or its conffiles are left).
fn pwire_known_to_dpkg() -> bool {
    run("dpkg", &["-s", "pwire"]).status.success()
}

/// Undoes everything on drop, also when an assertion failed half-way.
struct Guard {
    pwire: Option<Child>,
}

impl Guard {
    fn stop_pwire(&mut self) -> Option<std::process::ExitStatus> {
        let mut c = self.pwire.take()?;
        let pid = i32::try_from(c.id()).expect("pid");
        // SAFETY: kill(2) on our own child; systemd stops the service with SIGTERM too.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(st)) = c.try_wait() {
                return Some(st);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = c.kill();
        let _ = c.wait();
        None
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.stop_pwire();
        let _ = run("dpkg", &["--purge", "pwire"]);
        let _ = std::fs::remove_dir_all("/run/pwire");
        let _ = run("ip", &["netns", "del", NETNS]);
    }
}

/// `[Service]` settings of the installed unit (the last one wins, as in systemd).
fn service_settings(unit: &str) -> Vec<(String, String)> {
    let mut in_service = false;
    let mut out = Vec::new();
    for l in unit.lines().map(str::trim) {
        if l.starts_with('[') {
            in_service = l == "[Service]";
        } else if in_service && !l.starts_with('#') {
            if let Some((k, v)) = l.split_once('=') {
                out.push((k.trim().to_string(), v.trim().to_string()));
            }
        }
    }
    out
}

/// `CAP_NET_RAW CAP_IPC_LOCK` as setpriv's `+net_raw,+ipc_lock`.
fn setpriv_caps(caps: &str) -> String {
    caps.split_whitespace()
        .map(|c| format!("+{}", c.trim_start_matches("CAP_").to_ascii_lowercase()))
        .collect::<Vec<_>>()
        .join(",")
}

fn pwctl(args: &[&str]) -> Output {
    Command::new("/usr/bin/pwctl")
        .args(args)
        .env_clear()
        .output()
        .expect("pwctl")
}

#[test]
#[ignore = "installs a .deb on this machine: scripts/test.sh package runs it (as root)"]
fn deb_installs_runs_as_the_unit_and_purges_cleanly() {
    if require(prereq::root()).is_none() {
        return;
    }
    for (t, v) in [
        ("dpkg-deb", "--version"),
        ("systemd-analyze", "--version"),
        ("setpriv", "--version"),
        ("ip", "-V"),
        ("adduser", "--version"),
    ] {
        if require(prereq::tool(t, v)).is_none() {
            return;
        }
    }
    // Never touch an installation or a group that is not this test's.
    assert!(
        !pwire_known_to_dpkg(),
        "a pwire package is installed on this machine; this test would purge it: `dpkg --purge pwire' first"
    );
    assert!(
        getent("group", "pwire").is_none() && getent("passwd", "pwire").is_none(),
        "a user or group `pwire' exists that no pwire package made; this test would delete it"
    );

    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let out_dir = std::env::temp_dir().join(format!("pwire-pkg-{}", std::process::id()));
    let o = Command::new(root.join("scripts/package.sh"))
        .arg("--out")
        .arg(&out_dir)
        .current_dir(root)
        .output()
        .unwrap();
    assert!(o.status.success(), "package.sh: {}", text(&o));
    let deb = PathBuf::from(String::from_utf8_lossy(&o.stdout).lines().last().unwrap());
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(
        deb.file_name().unwrap().to_str().unwrap(),
        format!("pwire_{version}_amd64.deb")
    );
    let mut g = Guard { pwire: None };

    // What is in it, before installing.
    let deb_s = deb.to_str().unwrap();
    let contents = ok("dpkg-deb", &["--contents", deb_s]);
    for p in [
        "./usr/bin/pwire",
        "./usr/bin/pwctl",
        "./etc/pwire/startup.conf",
        "./lib/systemd/system/pwire.service",
    ] {
        assert!(contents.contains(p), "{p} not in the package:\n{contents}");
    }
    let conffiles = ok("dpkg-deb", &["--info", deb_s, "conffiles"]);
    assert_eq!(
        conffiles,
        "/etc/pwire/startup.conf\n/etc/logrotate.d/pwire\n"
    );
    let info = ok("dpkg-deb", &["--field", deb_s, "Depends"]);
    assert!(
        info.contains("libc6 (>= 2.") && info.contains("adduser"),
        "{info}"
    );

    // Installed twice: a fresh install, then an upgrade over itself (prerm upgrade, user and
    // group already there).
    for _ in 0..2 {
        let out = ok("dpkg", &["-i", deb_s]);
        assert!(!out.to_lowercase().contains("warning"), "{out}");
    }
    let status = ok("dpkg", &["-s", "pwire"]);
    assert!(status.contains("Status: install ok installed"), "{status}");
    let listed = ok(
        "dpkg-query",
        &["--show", "--showformat=${Conffiles}", "pwire"],
    );
    assert!(listed.contains("/etc/pwire/startup.conf"), "{listed}");
    let group = getent("group", "pwire").expect("group pwire made by postinst");
    let gid: u32 = group.split(':').nth(2).unwrap().parse().unwrap();
    let user = getent("passwd", "pwire").expect("user pwire made by postinst");
    assert!(user.ends_with(":/nonexistent:/usr/sbin/nologin"), "{user}");
    let uid: u32 = user.split(':').nth(2).unwrap().parse().unwrap();
    assert!(
        Path::new("/etc/systemd/system/multi-user.target.wants/pwire.service").exists(),
        "the unit is enabled (without systemd running, only enabled)"
    );

    // The unit, checked by systemd's own parser (it also checks that ExecStart exists).
    let v = run("systemd-analyze", &["verify", UNIT]);
    assert!(
        v.status.success() && text(&v).trim().is_empty(),
        "systemd-analyze verify: {}",
        text(&v)
    );

    // pwire as the unit runs it. What systemd would do first: the RuntimeDirectory and
    // LogsDirectory, owned by User:Group with their modes.
    let unit = std::fs::read_to_string(UNIT).unwrap();
    let set = service_settings(&unit);
    let get = |k: &str| {
        set.iter()
            .rev()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("no {k}= in the unit"))
    };
    assert_eq!(get("Restart"), "on-failure");
    let (su, sg) = (get("User"), get("Group"));
    assert_eq!((su.as_str(), sg.as_str()), ("pwire", "pwire"));
    let caps = setpriv_caps(&get("AmbientCapabilities"));
    assert_eq!(caps, setpriv_caps(&get("CapabilityBoundingSet")));
    for (dir, mode) in [
        (
            format!("/run/{}", get("RuntimeDirectory")),
            get("RuntimeDirectoryMode"),
        ),
        (
            format!("/var/log/{}", get("LogsDirectory")),
            get("LogsDirectoryMode"),
        ),
    ] {
        ok("install", &["-d", "-o", &su, "-g", &sg, "-m", &mode, &dir]);
    }
    // A network namespace with a veth pair: the unprivileged pwire opens an AF_PACKET
    // interface there, the reason it holds CAP_NET_RAW.
    ok("ip", &["netns", "add", NETNS]);
    ok(
        "ip",
        &[
            "-n", NETNS, "link", "add", "pk0", "type", "veth", "peer", "name", "pk1",
        ],
    );
    ok("ip", &["-n", NETNS, "link", "set", "lo", "up"]);
    ok("ip", &["-n", NETNS, "link", "set", "pk0", "up"]);
    ok("ip", &["-n", NETNS, "link", "set", "pk1", "up"]);
    let exec_start = get("ExecStart");
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", NETNS, "setpriv"])
        .arg(format!("--reuid={su}"))
        .arg(format!("--regid={sg}"))
        .arg("--init-groups")
        .arg(format!("--inh-caps=-all,{caps}"))
        .arg(format!("--ambient-caps=-all,{caps}"))
        .arg(format!("--bounding-set=-all,{caps}"));
    if get("NoNewPrivileges") == "yes" {
        cmd.arg("--no-new-privs");
    }
    cmd.arg("--")
        .args(exec_start.split_whitespace())
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    g.pwire = Some(cmd.spawn().expect("start pwire"));
    let t0 = Instant::now();
    while !Path::new(SOCKET).exists() {
        if let Ok(Some(st)) = g.pwire.as_mut().unwrap().try_wait() {
            let mut err = String::new();
            let c = g.pwire.as_mut().unwrap();
            std::io::Read::read_to_string(&mut c.stderr.take().unwrap(), &mut err).unwrap();
            panic!("pwire exited ({st}) before opening {SOCKET}: {err}");
        }
        assert!(t0.elapsed() < Duration::from_secs(20), "no {SOCKET}");
        std::thread::sleep(Duration::from_millis(20));
    }
    // The socket: the service's user, group pwire, mode 0660.
    let m = std::fs::metadata(SOCKET).unwrap();
    assert_eq!((m.uid(), m.gid(), m.mode() & 0o777), (uid, gid, 0o660));

    // The installed pwctl finds the default socket by itself.
    let v = pwctl(&["show", "version"]);
    assert!(v.status.success(), "{}", text(&v));
    assert!(
        text(&v).starts_with(&format!("pwire v{version} ")),
        "{}",
        text(&v)
    );
    // A member of the group pwire may use it; anyone else may not.
    let as_nobody = |groups: &str| {
        Command::new("setpriv")
            .args(["--reuid=nobody", "--regid=nogroup"])
            .arg(groups)
            .args(["/usr/bin/pwctl", "show", "version"])
            .env_clear()
            .output()
            .unwrap()
    };
    let member = as_nobody(&format!("--groups={gid}"));
    assert!(member.status.success(), "{}", text(&member));
    let other = as_nobody("--clear-groups");
    assert_eq!(other.status.code(), Some(2), "{}", text(&other));
    assert!(
        text(&other).contains("Permission denied"),
        "{}",
        text(&other)
    );

    // Unprivileged but for its capabilities, pwire opens an AF_PACKET host interface.
    for c in [
        "create host-interface name pk0",
        "set interface state host-pk0 up",
    ] {
        let o = pwctl(&c.split(' ').collect::<Vec<_>>());
        assert!(o.status.success(), "{c}: {}", text(&o));
    }
    let show = text(&pwctl(&["show", "logging"]));
    assert!(show.contains("host-pk0 admin up"), "{show}");
    let log = std::fs::read_to_string("/var/log/pwire/pwire.log").unwrap();
    assert!(
        log.contains("***** Start: PID") && log.contains("host-pk0 admin up"),
        "{log}"
    );

    // The shipped config exports metrics on loopback: a scrape (from inside the namespace,
    // whose loopback pwire listens on) sees the interface just made.
    let scrape = ok(
        "ip",
        &[
            "netns",
            "exec",
            NETNS,
            "bash",
            "-c",
            "exec 3<>/dev/tcp/127.0.0.1/9482 && printf 'GET /metrics HTTP/1.0\\r\\n\\r\\n' >&3 && timeout 5 cat <&3",
        ],
    );
    assert!(scrape.starts_with("HTTP/1."), "{scrape}");
    assert!(scrape.contains(" 200 "), "{scrape}");
    assert!(scrape.contains("pwire_build_info"), "{scrape}");
    assert!(
        scrape.contains("pwire_interface_admin_up{interface=\"host-pk0\"} 1"),
        "{scrape}"
    );

    // Stopped as systemd stops it; systemd then removes the RuntimeDirectory.
    let st = g
        .stop_pwire()
        .expect("pwire stopped on SIGTERM within 10 s");
    assert!(st.success(), "{st}");
    std::fs::remove_dir_all("/run/pwire").unwrap();

    let out = ok("dpkg", &["--purge", "pwire"]);
    assert!(!out.to_lowercase().contains("warning"), "{out}");
    assert!(!pwire_known_to_dpkg(), "dpkg still knows pwire");
    let left: Vec<&&str> = LEFTOVERS
        .iter()
        .filter(|p| Path::new(p).symlink_metadata().is_ok())
        .collect();
    assert!(left.is_empty(), "left after the purge: {left:?}");
    assert_eq!(getent("group", "pwire"), None, "group pwire left");
    assert_eq!(getent("passwd", "pwire"), None, "user pwire left");
    let _ = std::fs::remove_dir_all(&out_dir);
}
