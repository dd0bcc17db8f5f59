//! The CLI server over a real unix socket: permissions, framing, many clients, hostile input.

use std::fs;
use std::io::{ErrorKind, Read};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use pwire_cli::{CliError, Client, Command, Limits, Registry, Reply, Request, Server};

const TIMEOUT: Duration = Duration::from_secs(20);

/// A fresh directory under the system temp dir (short, so socket paths fit in sun_path).
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let p = std::env::temp_dir().join(format!("pwcli-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    fn join(&self, s: &str) -> PathBuf {
        self.0.join(s)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Answers requests on a thread standing in for the dataplane's main thread:
/// `fail ...` fails, `drop` is dropped unanswered, anything else is echoed.
struct Echo {
    stop: Arc<AtomicBool>,
    /// Every line that reached the "main thread".
    seen: Arc<std::sync::Mutex<Vec<String>>>,
    handle: Option<thread::JoinHandle<()>>,
}

impl Echo {
    fn start(server: &Server) -> Self {
        let rx = server.requests();
        let stop = Arc::new(AtomicBool::new(false));
        let st = Arc::clone(&stop);
        let seen: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
        let log = Arc::clone(&seen);
        let handle = thread::spawn(move || {
            while !st.load(Ordering::SeqCst) {
                let Ok(req): Result<Request, _> = rx.recv_timeout(Duration::from_millis(20)) else {
                    continue;
                };
                log.lock().unwrap().push(req.line.clone());
                if req.line.starts_with("fail") {
                    let line = req.line.clone();
                    req.respond(Reply::error(format!("{line}: it failed\n")));
                } else if req.line == "drop" {
                    drop(req);
                } else {
                    let line = req.line.clone();
                    req.respond(Reply::ok(format!("echo: {line}")));
                }
            }
        });
        Echo {
            stop,
            seen,
            handle: Some(handle),
        }
    }
}

impl Drop for Echo {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn connect(path: &Path) -> Client {
    Client::connect(path, Some(TIMEOUT)).unwrap()
}

/// True when the server closed the connection (EOF within the timeout).
fn closed(c: &mut Client) -> bool {
    let mut buf = [0u8; 64];
    match c.reader().read(&mut buf) {
        Ok(0) => true,
        Err(e) => e.kind() == ErrorKind::ConnectionReset,
        Ok(_) => false,
    }
}

fn wait_until(mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + TIMEOUT;
    while !cond() {
        assert!(Instant::now() < deadline, "condition not met in time");
        thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn socket_mode_group_parent_dir_and_cleanup() {
    let dir = TempDir::new("mode");
    let gid = fs::metadata(&dir.0).unwrap().gid();
    let path = dir.join("run/pwire/cli.sock");
    let server = Server::bind(&path, 0o660, Some(gid)).unwrap();
    let m = fs::metadata(&path).unwrap();
    assert_eq!(m.permissions().mode() & 0o777, 0o660);
    assert_eq!(m.gid(), gid);
    assert_eq!(server.path(), path);
    drop(server);
    assert!(!path.exists(), "socket file removed on drop");
}

#[test]
fn stale_live_and_foreign_files() {
    let dir = TempDir::new("stale");
    let path = dir.join("cli.sock");
    // A socket file left behind by a dead process.
    drop(UnixListener::bind(&path).unwrap());
    assert!(path.exists());
    let server = Server::bind(&path, 0o660, None).unwrap();
    let _echo = Echo::start(&server);

    // A live server is not stolen from.
    let err = Server::bind(&path, 0o660, None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AddrInUse);
    assert_eq!(
        connect(&path).cmd("still here").unwrap().0,
        "echo: still here\n"
    );

    // A regular file is not deleted.
    let file = dir.join("not-a-socket");
    fs::write(&file, "data").unwrap();
    let err = Server::bind(&file, 0o660, None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AlreadyExists);
    assert_eq!(fs::read_to_string(&file).unwrap(), "data");

    // Shutdown does not remove a socket file that is no longer ours.
    let mut server = server;
    fs::remove_file(&path).unwrap();
    let other = UnixListener::bind(&path).unwrap();
    server.shutdown();
    assert!(path.exists());
    drop(other);
}

#[test]
fn framing_ok_err_empty_quit() {
    let dir = TempDir::new("framing");
    let path = dir.join("cli.sock");
    let server = Server::bind(&path, 0o660, None).unwrap();
    let _echo = Echo::start(&server);
    let mut c = connect(&path);
    assert_eq!(
        c.cmd("show version").unwrap(),
        ("echo: show version\n".into(), true)
    );
    assert_eq!(
        c.cmd("  spaced   out \r").unwrap(),
        ("echo: spaced   out\n".into(), true)
    );
    assert_eq!(
        c.cmd("fail now").unwrap(),
        ("fail now: it failed\n".into(), false)
    );
    assert_eq!(c.cmd("").unwrap(), (String::new(), true));
    assert_eq!(c.cmd("   ").unwrap(), (String::new(), true));
    assert_eq!(
        c.cmd("drop").unwrap(),
        ("command dropped without a reply\n".into(), false)
    );
    // Pipelined lines are answered in order.
    c.send_raw(b"one\ntwo\n").unwrap();
    assert_eq!(c.reply().unwrap().0, "echo: one\n");
    assert_eq!(c.reply().unwrap().0, "echo: two\n");
    c.send_raw(b"quit\n").unwrap();
    assert!(closed(&mut c));
    let mut c = connect(&path);
    c.send_raw(b" exit \n").unwrap();
    assert!(closed(&mut c));
}

#[test]
fn hundred_clients_at_once() {
    let dir = TempDir::new("many");
    let path = dir.join("cli.sock");
    let server = Server::bind(&path, 0o660, None).unwrap();
    let _echo = Echo::start(&server);
    let clients: Vec<Client> = (0..100).map(|_| connect(&path)).collect();
    wait_until(|| server.client_count() == 100);
    let barrier = Arc::new(std::sync::Barrier::new(100));
    let handles: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(i, mut c)| {
            let b = Arc::clone(&barrier);
            thread::spawn(move || {
                b.wait();
                for j in 0..3 {
                    let line = format!("client {i} cmd {j}");
                    assert_eq!(c.cmd(&line).unwrap(), (format!("echo: {line}\n"), true));
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    wait_until(|| server.client_count() == 0);
}

#[test]
fn hostile_input_keeps_the_server_serving() {
    let dir = TempDir::new("hostile");
    let path = dir.join("cli.sock");
    let server = Server::bind(&path, 0o660, None).unwrap();
    let echo = Echo::start(&server);

    // Half a line, then gone: nothing is run.
    {
        let mut c = connect(&path);
        c.send_raw(b"set interface state pg0").unwrap();
    }
    // Disconnect while the command is in flight.
    {
        let mut c = connect(&path);
        c.send_raw(b"show something\n").unwrap();
    }

    // A 1 MiB line: refused, the rest of it skipped, the connection still usable.
    let mut c = connect(&path);
    let mut big = vec![b'a'; 1 << 20];
    big.push(b'\n');
    c.send_raw(&big).unwrap();
    let (out, ok) = c.reply().unwrap();
    assert!(!ok);
    assert_eq!(out, "command line too long (more than 65536 bytes)\n");
    assert_eq!(
        c.cmd("after big").unwrap(),
        ("echo: after big\n".into(), true)
    );

    // Binary garbage: invalid UTF-8, NULs, a forged terminator, escape sequences.
    c.send_raw(b"\xff\xfe\x00\x01garbage\n").unwrap();
    assert_eq!(
        c.reply().unwrap(),
        ("invalid UTF-8 in command line\n".into(), false)
    );
    c.send_raw(b"\0OK\n").unwrap();
    assert_eq!(
        c.reply().unwrap(),
        ("invalid control character in command line\n".into(), false)
    );
    c.send_raw(b"show \x1b[A\n").unwrap();
    assert!(!c.reply().unwrap().1);
    assert_eq!(
        c.cmd("after garbage").unwrap(),
        ("echo: after garbage\n".into(), true)
    );

    // Random bytes on a fresh connection, then hang up.
    {
        let mut c = connect(&path);
        let mut x: u32 = 0x1234_5678;
        let noise: Vec<u8> = (0..100_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x.to_le_bytes()[0]
            })
            .collect();
        c.send_raw(&noise).unwrap();
    }

    let mut fresh = connect(&path);
    assert_eq!(
        fresh.cmd("still alive").unwrap(),
        ("echo: still alive\n".into(), true)
    );
    let seen = echo.seen.lock().unwrap().clone();
    assert!(
        !seen.iter().any(|l| l.starts_with("set interface")),
        "an unterminated line was run: {seen:?}"
    );
    assert!(seen.iter().all(|l| !l.starts_with("aaaa")));
}

#[test]
fn client_cap() {
    let dir = TempDir::new("cap");
    let path = dir.join("cli.sock");
    let limits = Limits {
        max_clients: 2,
        ..Limits::default()
    };
    let server = Server::bind_with(&path, 0o660, None, limits).unwrap();
    let _echo = Echo::start(&server);
    let mut a = connect(&path);
    let mut b = connect(&path);
    assert!(a.cmd("a").unwrap().1 && b.cmd("b").unwrap().1);
    let mut c = connect(&path);
    assert_eq!(
        c.reply().unwrap(),
        ("too many CLI clients (at most 2)\n".into(), false)
    );
    assert!(closed(&mut c));
    drop(a);
    wait_until(|| server.client_count() == 1);
    let mut d = connect(&path);
    assert_eq!(d.cmd("d").unwrap(), ("echo: d\n".into(), true));
    assert_eq!(b.cmd("b again").unwrap(), ("echo: b again\n".into(), true));
}

#[test]
fn shutdown_closes_clients_and_the_channel() {
    let dir = TempDir::new("shutdown");
    let path = dir.join("cli.sock");
    let server = Server::bind(&path, 0o660, None).unwrap();
    let rx = server.requests();
    let mut c = connect(&path);
    wait_until(|| server.client_count() == 1);
    drop(server);
    assert!(!path.exists());
    assert!(closed(&mut c));
    assert!(UnixStream::connect(&path).is_err());
    // Every sender is gone once the threads have ended.
    let deadline = Instant::now() + TIMEOUT;
    loop {
        match rx.recv_timeout(Duration::from_millis(20)) {
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break,
            _ => assert!(Instant::now() < deadline, "request channel still open"),
        }
    }
}

#[test]
fn registry_behind_the_socket() {
    let dir = TempDir::new("registry");
    let path = dir.join("cli.sock");
    let server = Server::bind(&path, 0o660, None).unwrap();
    let rx = server.requests();
    let stop = Arc::new(AtomicBool::new(false));
    let st = Arc::clone(&stop);
    // The "main thread": owns the context and the registry.
    let main = thread::spawn(move || {
        let mut r: Registry<u32> = Registry::new();
        r.add(Command::new(
            "set counter",
            "set counter <n>",
            false,
            |a, n| {
                *n = a.u32("counter value")?;
                a.expect_end()
            },
        ));
        r.add(Command::new(
            "show counter",
            "show counter",
            true,
            |a, n| {
                a.output(&format!("counter {n}"));
                Ok(())
            },
        ));
        r.add(Command::new("create thing", "", false, |a, _| {
            a.output("partial");
            Err(CliError::msg("our address not specified"))
        }));
        let mut ctx = 0u32;
        while !st.load(Ordering::SeqCst) {
            if let Ok(req) = rx.recv_timeout(Duration::from_millis(20)) {
                r.serve(req, &mut ctx);
            }
        }
    });
    let mut c = connect(&path);
    assert_eq!(c.cmd("set count 7").unwrap(), (String::new(), true));
    assert_eq!(c.cmd("sh co").unwrap(), ("counter 7\n".into(), true));
    assert_eq!(
        c.cmd("set counter x").unwrap(),
        ("set counter: expected counter value `x'\n".into(), false)
    );
    assert_eq!(
        c.cmd("cr th").unwrap(),
        (
            "partial\ncreate thing: our address not specified\n".into(),
            false
        )
    );
    assert_eq!(
        c.cmd("bogus").unwrap(),
        ("unknown input `bogus'\n".into(), false)
    );
    let (help, ok) = c.cmd("show ?").unwrap();
    assert!(ok && help.contains("show counter"), "{help}");
    stop.store(true, Ordering::SeqCst);
    main.join().unwrap();
}
