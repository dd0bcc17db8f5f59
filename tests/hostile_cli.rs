//! Hostile CLI clients against the real `pwire` binary over its unix socket: overlong lines,
//! binary garbage, invalid UTF-8, a client that disconnects mid-command, 100 clients at once,
//! a script run with `exec` that fails inside; pwire stays up and answers each with a one-line
//! error naming what was wrong. The socket has mode 0660 and the group from `unix { gid }`.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use pwire_cli::Client;
use pwire_tests::{ensure_built, start_pwire, Proc, Rng};

const TIMEOUT: Duration = Duration::from_secs(20);

fn connect(path: &Path) -> Client {
    Client::connect(path, Some(TIMEOUT)).unwrap_or_else(|e| panic!("connect: {e}"))
}

/// A command that must fail with a one-line error containing `want`.
fn expect_err(c: &mut Client, line: &[u8], want: &str) {
    c.send_raw(line).unwrap();
    let (out, ok) = c.reply().unwrap();
    assert!(!ok, "{:?} succeeded: {out}", String::from_utf8_lossy(line));
    assert_eq!(out.trim_end().lines().count(), 1, "one line: {out:?}");
    assert!(
        out.contains(want),
        "{:?}: {out:?}",
        String::from_utf8_lossy(line)
    );
}

/// Starts pwire with `unix { cli-listen <dir>/cli.sock gid <gid> }`; waits for the socket.
fn start(dir: &Path, gid: u32) -> (Proc, PathBuf) {
    let sock = dir.join("cli.sock");
    let conf = dir.join("s.conf");
    std::fs::write(
        &conf,
        format!(
            "unix {{ nodaemon cli-listen {} gid {gid} }}\n",
            sock.display()
        ),
    )
    .unwrap();
    let p = start_pwire(&conf, &sock);
    (p, sock)
}

fn alive(p: &mut Proc, sock: &Path) {
    assert!(
        p.0.try_wait().unwrap().is_none(),
        "pwire exited: {:?}",
        p.0.try_wait()
    );
    let (out, ok) = connect(sock).cmd("show version").unwrap();
    assert!(ok && out.contains("pwire"), "{out}");
}

#[test]
fn socket_mode_0660_and_configured_group() {
    ensure_built();
    // SAFETY: getuid/getgid have no preconditions and cannot fail.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    // Root may give the socket any group: use one no account has. Others can only use their own.
    let want = if uid == 0 { 47_113 } else { gid };
    if uid != 0 {
        eprintln!("not root: checking gid {gid} (own group) instead of a foreign one");
    }
    let d = pwire_testkit::TempDir::new("hcli");
    let (mut p, sock) = start(d.path(), want);
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let md = std::fs::metadata(&sock).unwrap();
    assert_eq!(md.permissions().mode() & 0o777, 0o660, "socket mode");
    assert_eq!(md.gid(), want, "socket group");
    alive(&mut p, &sock);
}

#[test]
fn hostile_clients_get_one_line_errors_and_pwire_stays_up() {
    ensure_built();
    // SAFETY: getgid has no preconditions and cannot fail.
    let gid = unsafe { libc::getgid() };
    let d = pwire_testkit::TempDir::new("hcli");
    let (mut p, sock) = start(d.path(), gid);
    let mut c = connect(&sock);
    // Unknown command and argument: the error names the token.
    expect_err(&mut c, b"frobnicate now\n", "`frobnicate now'");
    expect_err(
        &mut c,
        b"set interface state pg9 up\n",
        "unknown interface `pg9'",
    );
    // Overlong line (1 MiB): refused without being run; the connection keeps working.
    let mut long = vec![b'a'; 1 << 20];
    long.push(b'\n');
    expect_err(&mut c, &long, "command line too long");
    assert!(c.cmd("show version").unwrap().1);
    // Binary garbage: invalid UTF-8, control characters, NULs.
    expect_err(&mut c, b"show \xff\xfe version\n", "invalid UTF-8");
    expect_err(
        &mut c,
        b"show \x01\x02\x1b[2J\n",
        "invalid control character",
    );
    expect_err(&mut c, b"show\0version\n", "invalid control character");
    // Seeded random lines: each gets exactly one reply, ok or a one-line error.
    let mut rng = Rng(0xc11_0009);
    let mut errors = 0;
    for _ in 0..300 {
        let n = 1 + rng.below(200) as usize;
        let mut l: Vec<u8> = rng.bytes(n).into_iter().filter(|&b| b != b'\n').collect();
        l.push(b'\n');
        c.send_raw(&l).unwrap();
        let (out, ok) = c.reply().unwrap();
        if !ok {
            errors += 1;
            assert_eq!(out.trim_end().lines().count(), 1, "{out:?}");
        }
    }
    assert!(errors > 250, "random lines are errors ({errors}/300)");
    // A command that fails inside `exec`: file:line and the token.
    let script = d.path().join("bad.cli");
    std::fs::write(
        &script,
        "create packet-generator interface pg0\n\nset interface state pg7 up\n",
    )
    .unwrap();
    let (out, ok) = c.cmd(&format!("exec {}", script.display())).unwrap();
    assert!(!ok, "{out}");
    assert!(
        out.contains(&format!("{}:3", script.display())) && out.contains("`pg7'"),
        "{out}"
    );
    // `exec` of what is not a script file: an endless device, a FIFO with no writer (would
    // block the main thread), a directory. Each is refused by name.
    let fifo = d.path().join("fifo");
    let cpath = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: `cpath` is a valid NUL-terminated path that outlives the call.
    assert_eq!(unsafe { libc::mkfifo(cpath.as_ptr(), 0o600) }, 0);
    for f in [
        "/dev/zero".into(),
        fifo.display().to_string(),
        d.path().display().to_string(),
    ] {
        expect_err(
            &mut c,
            format!("exec {f}\n").as_bytes(),
            &format!("failed to open `{f}': not a regular file"),
        );
    }
    // Clients that disconnect mid-command: half a line, a line without its reply read, a
    // long line cut off.
    for bytes in [
        &b"show inter"[..],
        &b"show interface\n"[..],
        &[b'x'; 200_000][..],
    ] {
        let mut k = connect(&sock);
        k.send_raw(bytes).unwrap();
        drop(k);
    }
    alive(&mut p, &sock);
    // 100 clients at once, each running commands and checking its own answers.
    let t0 = Instant::now();
    std::thread::scope(|s| {
        let hs: Vec<_> = (0..100)
            .map(|i| {
                let sock = sock.clone();
                s.spawn(move || {
                    let mut k = connect(&sock);
                    for _ in 0..5 {
                        let (out, ok) = k.cmd("show version").unwrap();
                        assert!(ok && out.contains("pwire"), "client {i}: {out}");
                        let (out, ok) = k
                            .cmd(&format!("set interface state pg{} up", 100 + i))
                            .unwrap();
                        assert!(!ok && out.contains(&format!("`pg{}'", 100 + i)), "{out}");
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
    });
    eprintln!(
        "hostile cli: 100 clients × 10 commands in {:?}",
        t0.elapsed()
    );
    let mut late = connect(&sock);
    let mut buf = [0u8; 1];
    late.reader()
        .get_mut()
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    // Nothing unsolicited arrives on a fresh connection.
    assert!(late.reader().get_mut().read(&mut buf).is_err());
    alive(&mut p, &sock);
}
