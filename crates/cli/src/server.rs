//! The unix-socket CLI server (VPP `cli-listen`). Protocol: see the crate documentation.

use core::fmt;
use std::collections::HashMap;
use std::fs;
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};

use crate::CliError;

/// Terminator line after a successful command's output.
pub const OK_TERMINATOR: &str = "\0OK\n";
/// Terminator line after a failed command's output (the error text precedes it).
pub const ERR_TERMINATOR: &str = "\0ERR\n";
/// Longest command line accepted, in bytes, without its newline.
pub const MAX_LINE: usize = 64 * 1024;
/// Most clients connected at once.
pub const MAX_CLIENTS: usize = 256;

/// Server limits; [`Limits::default`] gives [`MAX_CLIENTS`] and [`MAX_LINE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most clients connected at once; one more gets an error reply and is closed.
    pub max_clients: usize,
    /// Longest line in bytes; a longer one gets an error reply and is skipped.
    pub max_line: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_clients: MAX_CLIENTS,
            max_line: MAX_LINE,
        }
    }
}

/// One command line from a client, to be run on the main thread and answered through `reply`.
#[derive(Debug)]
pub struct Request {
    /// The line, valid UTF-8 without control characters, trimmed, never empty.
    pub line: String,
    /// Where the answer goes. Dropping the request unanswered makes the client get an error.
    pub reply: Sender<Reply>,
}

impl Request {
    /// Sends the answer; a client that has gone away is not an error.
    pub fn respond(self, reply: Reply) {
        let _ = self.reply.send(reply);
    }
}

/// The answer to a [`Request`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reply {
    /// Output text; on failure it includes the error message.
    pub output: String,
    /// Selects the `\0OK` or `\0ERR` terminator.
    pub ok: bool,
}

impl Reply {
    /// A successful reply.
    pub fn ok(output: impl Into<String>) -> Self {
        Reply {
            output: output.into(),
            ok: true,
        }
    }

    /// A failed reply whose output is `message` (a newline is added by the server).
    pub fn error(message: impl Into<String>) -> Self {
        Reply {
            output: message.into(),
            ok: false,
        }
    }

    /// The reply for a command's output and result: on failure the error line follows the
    /// output written before it.
    pub fn from_result(mut output: String, result: Result<(), CliError>) -> Self {
        match result {
            Ok(()) => Reply::ok(output),
            Err(e) => {
                use fmt::Write as _;
                let _ = writeln!(output, "{e}");
                Reply::error(output)
            }
        }
    }
}

/// State shared by the acceptor and client threads.
#[derive(Debug)]
struct Shared {
    limits: Limits,
    /// Connected clients, kept so `shutdown` can close them; its size enforces the cap.
    clients: Mutex<HashMap<u64, UnixStream>>,
    next_id: AtomicU64,
    stop: AtomicBool,
}

impl Shared {
    fn clients(&self) -> MutexGuard<'_, HashMap<u64, UnixStream>> {
        // A panicked client thread cannot leave the map inconsistent: keep going.
        self.clients.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The CLI socket server. Commands arrive on [`Server::requests`]; dropping the server stops
/// accepting, closes the clients and removes the socket file.
pub struct Server {
    path: PathBuf,
    requests: Receiver<Request>,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
    /// Dropping it wakes the acceptor's `poll`.
    wake: Option<UnixStream>,
    /// (dev, ino) of the socket file we created, so we never remove someone else's.
    ident: (u64, u64),
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("path", &self.path)
            .field("limits", &self.shared.limits)
            .finish_non_exhaustive()
    }
}

impl Server {
    /// Listens on `path` with the default [`Limits`]. See [`Server::bind_with`].
    pub fn bind(path: impl AsRef<Path>, mode: u32, gid: Option<u32>) -> io::Result<Server> {
        Self::bind_with(path, mode, gid, Limits::default())
    }

    /// Creates the parent directory if missing, removes a stale socket file (one nobody
    /// listens on; a live one is `AddrInUse`, a non-socket file is `AlreadyExists`), binds,
    /// sets `mode` (pwire uses 0660) and the group `gid`, then starts accepting.
    pub fn bind_with(
        path: impl AsRef<Path>,
        mode: u32,
        gid: Option<u32>,
        limits: Limits,
    ) -> io::Result<Server> {
        let path = path.as_ref().to_path_buf();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(parent)?;
        }
        remove_stale(&path)?;
        let listener = UnixListener::bind(&path)?;
        // Permissions are set before the acceptor runs, so no client is served before then.
        let setup = || -> io::Result<(u64, u64)> {
            fs::set_permissions(&path, fs::Permissions::from_mode(mode))?;
            if gid.is_some() {
                std::os::unix::fs::chown(&path, None, gid)?;
            }
            listener.set_nonblocking(true)?;
            let m = fs::symlink_metadata(&path)?;
            Ok((m.dev(), m.ino()))
        };
        let ident = match setup() {
            Ok(ident) => ident,
            Err(e) => {
                let _ = fs::remove_file(&path);
                return Err(e);
            }
        };
        let (wake, wake_rx) = UnixStream::pair()?;
        let (req_tx, requests) = crossbeam_channel::unbounded();
        let shared = Arc::new(Shared {
            limits,
            clients: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
            stop: AtomicBool::new(false),
        });
        let sh = Arc::clone(&shared);
        let acceptor = thread::Builder::new()
            .name("pwire-cli-accept".into())
            .spawn(move || accept_loop(&listener, &wake_rx, &sh, &req_tx));
        let acceptor = match acceptor {
            Ok(h) => h,
            Err(e) => {
                let _ = fs::remove_file(&path);
                return Err(e);
            }
        };
        Ok(Server {
            path,
            requests,
            shared,
            acceptor: Some(acceptor),
            wake: Some(wake),
            ident,
        })
    }

    /// The channel of client commands, to be drained on the main thread.
    pub fn requests(&self) -> Receiver<Request> {
        self.requests.clone()
    }

    /// The socket path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Number of connected clients.
    pub fn client_count(&self) -> usize {
        self.shared.clients().len()
    }

    /// Stops accepting, closes connected clients and removes the socket file if it is still
    /// ours. Idempotent. A client thread waiting for its reply ends once the request is
    /// answered or dropped.
    pub fn shutdown(&mut self) {
        let Some(acceptor) = self.acceptor.take() else {
            return;
        };
        self.shared.stop.store(true, Ordering::SeqCst);
        drop(self.wake.take());
        let _ = acceptor.join();
        for stream in self.shared.clients().values() {
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
        if let Ok(m) = fs::symlink_metadata(&self.path) {
            if (m.dev(), m.ino()) == self.ident {
                let _ = fs::remove_file(&self.path);
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn remove_stale(path: &Path) -> io::Result<()> {
    match fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
        Ok(m) if m.file_type().is_socket() => {
            if UnixStream::connect(path).is_ok() {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!("{}: another process is listening", path.display()),
                ));
            }
            fs::remove_file(path)
        }
        Ok(_) => Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{}: exists and is not a socket", path.display()),
        )),
    }
}

/// Waits until the listener or the wake socket is readable; true to stop.
fn wait_readable(listener: &UnixListener, wake: &UnixStream) -> bool {
    let mut fds = [
        libc::pollfd {
            fd: listener.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        },
        libc::pollfd {
            fd: wake.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    // SAFETY: `fds` is a live, writable array of `fds.len()` pollfd structs for the whole call,
    // and both descriptors are owned by objects borrowed for the duration of the call.
    let rc = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) };
    if rc < 0 {
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            // Not expected; back off instead of spinning.
            thread::sleep(Duration::from_millis(10));
        }
        return false;
    }
    fds[1].revents != 0
}

fn accept_loop(
    listener: &UnixListener,
    wake: &UnixStream,
    shared: &Arc<Shared>,
    req_tx: &Sender<Request>,
) {
    while !shared.stop.load(Ordering::SeqCst) {
        if wait_readable(listener, wake) {
            return;
        }
        loop {
            match listener.accept() {
                Ok((stream, _)) => admit(stream, shared, req_tx),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    // EMFILE and friends: the pending connection stays queued; retry later.
                    thread::sleep(Duration::from_millis(10));
                    break;
                }
            }
        }
    }
}

/// Takes a new connection: refuses it over the cap, otherwise serves it on its own thread.
fn admit(stream: UnixStream, shared: &Arc<Shared>, req_tx: &Sender<Request>) {
    // Accepted sockets must block: the client thread does plain blocking reads.
    if stream.set_nonblocking(false).is_err() {
        return;
    }
    let mut clients = shared.clients();
    if clients.len() >= shared.limits.max_clients {
        drop(clients);
        let msg = format!(
            "too many CLI clients (at most {})\n{ERR_TERMINATOR}",
            shared.limits.max_clients
        );
        // A fresh socket's buffer is empty so this does not block; the timeout is a guard.
        let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
        let _ = (&stream).write_all(msg.as_bytes());
        let _ = stream.shutdown(std::net::Shutdown::Both);
        return;
    }
    let Ok(registered) = stream.try_clone() else {
        return;
    };
    let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
    clients.insert(id, registered);
    drop(clients);
    let sh = Arc::clone(shared);
    let tx = req_tx.clone();
    let spawned = thread::Builder::new()
        .name("pwire-cli-client".into())
        .spawn(move || {
            serve_client(&stream, &tx, sh.limits.max_line);
            sh.clients().remove(&id);
        });
    if spawned.is_err() {
        shared.clients().remove(&id);
    }
}

/// What the line reader produced.
#[derive(Debug, PartialEq, Eq)]
enum Line {
    /// A line without its `\n`.
    Complete(Vec<u8>),
    /// A line longer than the limit; its bytes up to the next `\n` are being skipped.
    TooLong,
    /// The peer closed; an unterminated last line is dropped, not run.
    Eof,
}

/// Reads `\n`-terminated lines holding at most `max + 4 KiB` bytes in memory.
struct LineReader<R> {
    inner: R,
    buf: Vec<u8>,
    max: usize,
    /// Skipping the rest of an overlong line.
    skipping: bool,
}

impl<R: Read> LineReader<R> {
    fn new(inner: R, max: usize) -> Self {
        LineReader {
            inner,
            buf: Vec::new(),
            max,
            skipping: false,
        }
    }

    fn next_line(&mut self) -> io::Result<Line> {
        let mut chunk = [0u8; 4096];
        loop {
            if let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
                let mut line: Vec<u8> = self.buf.drain(..=i).collect();
                line.pop();
                if self.skipping {
                    self.skipping = false;
                    continue;
                }
                if line.len() > self.max {
                    return Ok(Line::TooLong);
                }
                return Ok(Line::Complete(line));
            }
            if self.skipping {
                self.buf.clear();
            } else if self.buf.len() > self.max {
                // Answer now rather than after the whole line: it may never end.
                self.buf.clear();
                self.skipping = true;
                return Ok(Line::TooLong);
            }
            match self.inner.read(&mut chunk) {
                Ok(0) => return Ok(Line::Eof),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

/// Checks a raw line; `Err` is the reply for a line that must not reach the dataplane.
fn check_line(raw: &[u8]) -> Result<&str, Reply> {
    let line =
        std::str::from_utf8(raw).map_err(|_| Reply::error("invalid UTF-8 in command line"))?;
    let line = line.strip_suffix('\r').unwrap_or(line);
    if line.chars().any(|c| c.is_control() && c != '\t') {
        return Err(Reply::error("invalid control character in command line"));
    }
    Ok(line.trim())
}

fn serve_client(stream: &UnixStream, req_tx: &Sender<Request>, max_line: usize) {
    let mut reader = LineReader::new(stream, max_line);
    let mut writer = stream;
    loop {
        let reply = match reader.next_line() {
            Ok(Line::Eof) | Err(_) => return,
            Ok(Line::TooLong) => Reply::error(format!(
                "command line too long (more than {max_line} bytes)"
            )),
            Ok(Line::Complete(raw)) => match check_line(&raw) {
                Err(reply) => reply,
                Ok("quit" | "exit") => return,
                Ok("") => Reply::ok(""),
                Ok(line) => dispatch(line, req_tx),
            },
        };
        if write_reply(&mut writer, &reply).is_err() {
            return;
        }
    }
}

/// Hands the line to the main thread and waits for its answer.
fn dispatch(line: &str, req_tx: &Sender<Request>) -> Reply {
    let (tx, rx) = crossbeam_channel::bounded(1);
    let req = Request {
        line: line.to_owned(),
        reply: tx,
    };
    if req_tx.send(req).is_err() {
        return Reply::error("pwire is shutting down");
    }
    // No timeout: a long command (a big `show trace`) is legitimate.
    rx.recv()
        .unwrap_or_else(|_| Reply::error("command dropped without a reply"))
}

fn write_reply(w: &mut impl Write, reply: &Reply) -> io::Result<()> {
    let mut text = if reply.output.contains('\0') {
        // A NUL would let output forge a terminator line.
        reply.output.replace('\0', "\\0")
    } else {
        reply.output.clone()
    };
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(if reply.ok {
        OK_TERMINATOR
    } else {
        ERR_TERMINATOR
    });
    w.write_all(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8], max: usize) -> Vec<Line> {
        let mut r = LineReader::new(input, max);
        let mut out = Vec::new();
        for _ in 0..100 {
            let l = r.next_line().unwrap();
            let end = l == Line::Eof;
            out.push(l);
            if end {
                break;
            }
        }
        out
    }

    #[test]
    fn line_reader_limits() {
        use Line::*;
        assert_eq!(
            lines(b"a\nbb\n\nccc", 4),
            [
                Complete(b"a".to_vec()),
                Complete(b"bb".to_vec()),
                Complete(vec![]),
                Eof
            ]
        );
        assert_eq!(
            lines(b"12345\nok\n", 4),
            [TooLong, Complete(b"ok".to_vec()), Eof]
        );
        let mut big = vec![b'x'; 20_000];
        big.extend_from_slice(b"\nok\n");
        assert_eq!(lines(&big, 100), [TooLong, Complete(b"ok".to_vec()), Eof]);
        assert_eq!(lines(&vec![b'x'; 20_000], 100), [TooLong, Eof]);
    }

    #[test]
    fn line_checks() {
        assert_eq!(check_line(b" show int \r"), Ok("show int"));
        assert_eq!(check_line(b"a\tb"), Ok("a\tb"));
        assert!(check_line(b"\xff\xfe").is_err());
        assert!(check_line(b"a\0b").is_err());
        assert!(check_line(b"\x1b[A").is_err());
    }

    #[test]
    fn reply_framing() {
        let mut w = Vec::new();
        write_reply(&mut w, &Reply::ok("")).unwrap();
        write_reply(&mut w, &Reply::ok("a\nb")).unwrap();
        write_reply(&mut w, &Reply::error("bad\0")).unwrap();
        assert_eq!(w, b"\0OK\na\nb\n\0OK\nbad\\0\n\0ERR\n");
        let r = Reply::from_result("out\n".into(), Err(CliError::msg("m").with_path("p")));
        assert_eq!(r, Reply::error("out\np: m\n"));
        assert_eq!(Reply::from_result(String::new(), Ok(())), Reply::ok(""));
    }
}
