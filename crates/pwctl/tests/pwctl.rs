//! Runs the built `pwctl` against a small server built on pwire-cli's `Server`.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use pwire_cli::{Reply, Server};

const TIMEOUT: Duration = Duration::from_secs(30);

/// A server in a temp dir whose "main thread" fails `fail ...`, echoes anything else, and
/// records every line it was sent.
struct Fake {
    dir: PathBuf,
    sock: PathBuf,
    seen: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    main: Option<thread::JoinHandle<()>>,
    _server: Server,
}

impl Fake {
    fn start(name: &str) -> Fake {
        let dir = std::env::temp_dir().join(format!("pwctl-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let sock = dir.join("cli.sock");
        let server = Server::bind(&sock, 0o660, None).unwrap();
        let rx = server.requests();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (log, st) = (Arc::clone(&seen), Arc::clone(&stop));
        let main = thread::spawn(move || {
            while !st.load(Ordering::SeqCst) {
                let Ok(req) = rx.recv_timeout(Duration::from_millis(20)) else {
                    continue;
                };
                log.lock().unwrap().push(req.line.clone());
                let reply = match req.line.strip_prefix("fail") {
                    Some(rest) => Reply::error(format!("fail:{rest} went wrong")),
                    None => Reply::ok(format!("you said: {}\nline two", req.line)),
                };
                req.respond(reply);
            }
        });
        Fake {
            dir,
            sock,
            seen,
            stop,
            main: Some(main),
            _server: server,
        }
    }

    fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(m) = self.main.take() {
            let _ = m.join();
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn pwctl() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pwctl"));
    c.env_remove("PWIRE_CLI_SOCKET")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// Waits for the child with a deadline, killing it if it hangs.
fn finish(mut child: Child) -> Output {
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out_t = thread::spawn(move || {
        let mut v = Vec::new();
        let _ = stdout.read_to_end(&mut v);
        v
    });
    let err_t = thread::spawn(move || {
        let mut v = Vec::new();
        let _ = stderr.read_to_end(&mut v);
        v
    });
    let deadline = Instant::now() + TIMEOUT;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("pwctl did not exit within {TIMEOUT:?}");
        }
        thread::sleep(Duration::from_millis(10));
    };
    Output {
        status,
        stdout: out_t.join().unwrap(),
        stderr: err_t.join().unwrap(),
    }
}

fn run(cmd: &mut Command) -> Output {
    finish(cmd.spawn().unwrap())
}

fn run_stdin(cmd: &mut Command, input: &str) -> Output {
    let mut child = cmd.stdin(Stdio::piped()).spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // pwctl may exit before reading (no socket): a broken pipe here is expected then.
    let _ = stdin.write_all(input.as_bytes());
    drop(stdin);
    finish(child)
}

fn text(v: &[u8]) -> String {
    String::from_utf8_lossy(v).into_owned()
}

fn sock_arg(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn one_shot_ok() {
    let f = Fake::start("ok");
    let o = run(pwctl().args(["-s", sock_arg(&f.sock), "show", "interface", "-v"]));
    assert_eq!(o.status.code(), Some(0), "stderr: {}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "you said: show interface -v\nline two\n");
    assert_eq!(text(&o.stderr), "");
    assert_eq!(f.seen(), ["show interface -v"]);
}

#[test]
fn one_shot_error_goes_to_stderr_with_exit_1() {
    let f = Fake::start("err");
    let o = run(pwctl().args(["--socket", sock_arg(&f.sock), "fail", "now"]));
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(text(&o.stdout), "");
    assert_eq!(text(&o.stderr), "fail: now went wrong\n");
}

#[test]
fn socket_from_environment() {
    let f = Fake::start("env");
    let o = run(pwctl()
        .env("PWIRE_CLI_SOCKET", &f.sock)
        .args(["show", "version"]));
    assert_eq!(o.status.code(), Some(0), "stderr: {}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "you said: show version\nline two\n");
}

#[test]
fn piped_interactive_session() {
    let f = Fake::start("piped");
    let input = "show version\n\n# a comment\n  fail here  \nshow  runtime\nquit\nshow never\n";
    let o = run_stdin(pwctl().args(["-s", sock_arg(&f.sock)]), input);
    // A command failed, so the session exits 1; the others still ran.
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        text(&o.stdout),
        "you said: show version\nline two\nyou said: show  runtime\nline two\n"
    );
    assert_eq!(text(&o.stderr), "fail: here went wrong\n");
    assert_eq!(f.seen(), ["show version", "fail here", "show  runtime"]);

    // All good, ended by EOF.
    let o = run_stdin(pwctl().args(["-s", sock_arg(&f.sock)]), "a\nb");
    assert_eq!(o.status.code(), Some(0), "stderr: {}", text(&o.stderr));
    assert_eq!(
        text(&o.stdout),
        "you said: a\nline two\nyou said: b\nline two\n"
    );
}

#[test]
fn missing_socket_exits_2_naming_the_path() {
    let dir = std::env::temp_dir().join(format!("pwctl-{}-missing", std::process::id()));
    let sock = dir.join("nothing-here.sock");
    let o = run(pwctl().args(["-s", sock_arg(&sock), "show", "version"]));
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains(sock_arg(&sock)), "{err}");
    assert!(err.contains("No such file or directory"), "{err}");

    // The same through the environment and in interactive mode.
    let o = run_stdin(pwctl().env("PWIRE_CLI_SOCKET", &sock), "show version\n");
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains(sock_arg(&sock)));
}

#[test]
fn quit_is_local() {
    let f = Fake::start("quit");
    let o = run(pwctl().args(["-s", sock_arg(&f.sock), "quit"]));
    assert_eq!(o.status.code(), Some(0));
    assert!(f.seen().is_empty());
}
