//! The exporter's HTTP listener: one thread, non-blocking sockets under `poll(2)`, a fixed
//! number of connections, deadlines on everything, and the main thread asked for a snapshot
//! through a bounded channel. It serves exactly `GET /metrics` (and `HEAD`), answers
//! `Connection: close` and nothing else of HTTP.
//!
//! Hand-written rather than a server crate: the one small, well-kept candidate (tiny_http)
//! spawns a thread per connection without a bound and has no read deadline, which is what a
//! hostile client exploits; what this needs of HTTP is one request line.
//!
//! Why a hostile client cannot stall anything:
//! - The main thread never talks to a socket: it answers a [`ScrapeRequest`] with numbers and
//!   returns. At most one request is in flight (scrapes arriving meanwhile share its answer),
//!   the channel holds one, and a main thread that does not answer within
//!   [`HttpLimits::main_timeout`] (a long CLI command) gets the scrape a 503, not a queue.
//! - At most [`HttpLimits::max_connections`] connections are open. When all are taken, a new
//!   one closes the oldest connection still sending its request (clients that send nothing
//!   go first); else the oldest one past [`EVICT_GRACE`] (a slow reader); else it is refused
//!   with a 503. A well-behaved scrape, a few milliseconds long, gets its answer.
//! - A request must be complete within [`HttpLimits::request_timeout`] of the connection and
//!   fit in [`HttpLimits::max_request`] bytes (431 past it); the answer must be read within
//!   [`HttpLimits::write_timeout`]. Writes never block: a slow reader only keeps its own slot.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TryRecvError, TrySendError};

use crate::render::{render, ExporterCounters, CONTENT_TYPE};
use crate::snapshot::{Limits, Snapshot};

/// The listener's bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// Connections open at once.
    pub max_connections: usize,
    /// Bytes of request head (request line and headers) accepted.
    pub max_request: usize,
    /// From accepting a connection to its complete request.
    pub request_timeout: Duration,
    /// For the client to read the whole answer.
    pub write_timeout: Duration,
    /// For the main thread to answer a scrape.
    pub main_timeout: Duration,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            max_connections: 8,
            max_request: 8192,
            request_timeout: Duration::from_secs(5),
            write_timeout: Duration::from_secs(10),
            main_timeout: Duration::from_secs(2),
        }
    }
}

/// A connection younger than this is not cut for a newer one unless it is still sending its
/// request: a scrape in progress finishes.
pub const EVICT_GRACE: Duration = Duration::from_secs(1);

/// A scrape the main thread must answer: [`ScrapeRequest::answer`] (or `send` in tests).
#[derive(Debug)]
pub struct ScrapeRequest {
    reply: Sender<Snapshot>,
    wake: Arc<UnixStream>,
    /// What the snapshot lists one by one.
    pub limits: Limits,
}

impl ScrapeRequest {
    /// Takes the snapshot on the dataplane's main thread and hands it to the exporter.
    pub fn answer(self, dp: &mut pwire_vnet::Dataplane) {
        let limits = self.limits;
        let snap = dp.control(|cx| Snapshot::collect(cx, limits));
        self.send(snap);
    }

    /// Hands `snap` to the exporter (a scrape that timed out meanwhile drops it).
    pub fn send(self, snap: Snapshot) {
        let _ = self.reply.send(snap);
        // Non-blocking: a full socket already holds a wake-up.
        let _ = (&*self.wake).write(&[1]);
    }
}

enum State {
    /// Reading the request.
    Reading,
    /// Request complete at `.0`; waiting for a snapshot taken after it.
    Waiting(Instant, bool),
    /// Writing `head` then `body` (unless it is a HEAD request).
    Writing {
        head: Vec<u8>,
        body: Arc<[u8]>,
        pos: usize,
    },
}

struct Conn {
    s: TcpStream,
    buf: Vec<u8>,
    state: State,
    opened: Instant,
    deadline: Instant,
}

impl Conn {
    fn respond(
        &mut self,
        status: &str,
        extra: &str,
        body: Arc<[u8]>,
        send_body: bool,
        lim: &HttpLimits,
    ) {
        let ctype = if status.starts_with("200") {
            CONTENT_TYPE
        } else {
            "text/plain; charset=utf-8"
        };
        let head = format!(
            "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n",
            body.len()
        )
        .into_bytes();
        let body = if send_body { body } else { Arc::from(&[][..]) };
        self.state = State::Writing { head, body, pos: 0 };
        self.deadline = Instant::now() + lim.write_timeout;
    }

    fn error(&mut self, status: &str, extra: &str, lim: &HttpLimits) {
        let body: Arc<[u8]> = Arc::from(format!("{status}\n").into_bytes());
        self.respond(status, extra, body, true, lim);
    }

    /// Writes what the socket takes; `Ok(true)` when everything is written.
    fn pump(&mut self) -> io::Result<bool> {
        let State::Writing { head, body, pos } = &mut self.state else {
            return Ok(false);
        };
        loop {
            let total = head.len() + body.len();
            if *pos >= total {
                return Ok(true);
            }
            let chunk = if *pos < head.len() {
                &head[*pos..]
            } else {
                &body[*pos - head.len()..]
            };
            match self.s.write(chunk) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => *pos += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

/// What a complete request head asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    /// `GET /metrics` (`true`) or `HEAD /metrics` (`false`).
    Metrics(bool),
    /// An answer without metrics: status line text and extra headers.
    Error(&'static str, &'static str),
}

/// Parses a request head; `None` while it is incomplete.
pub(crate) fn parse(buf: &[u8]) -> Option<Route> {
    let end = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .or_else(|| buf.windows(2).position(|w| w == b"\n\n"))?;
    let head = &buf[..end];
    let line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let Ok(line) = std::str::from_utf8(line) else {
        return Some(Route::Error("400 Bad Request", ""));
    };
    let mut w = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (w.next(), w.next(), w.next(), w.next())
    else {
        return Some(Route::Error("400 Bad Request", ""));
    };
    if !version.starts_with("HTTP/1.") {
        return Some(Route::Error("505 HTTP Version Not Supported", ""));
    }
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return Some(Route::Error("400 Bad Request", ""));
    }
    let path = target.split('?').next().unwrap_or_default();
    if path != "/metrics" {
        return Some(Route::Error("404 Not Found", ""));
    }
    match method {
        "GET" => Some(Route::Metrics(true)),
        "HEAD" => Some(Route::Metrics(false)),
        _ => Some(Route::Error(
            "405 Method Not Allowed",
            "Allow: GET, HEAD\r\n",
        )),
    }
}

/// The server thread's state.
pub(crate) struct Server {
    pub listener: TcpListener,
    pub wake_rx: UnixStream,
    pub wake_tx: Arc<UnixStream>,
    pub requests: Sender<ScrapeRequest>,
    pub stop: Arc<AtomicBool>,
    pub limits: HttpLimits,
    pub objects: Limits,
    conns: Vec<Conn>,
    /// The scrape asked of the main thread, and when.
    inflight: Option<(Receiver<Snapshot>, Instant)>,
    counters: ExporterCounters,
    /// After an accept error (out of file descriptors) the listener rests until then, so a
    /// listener that stays readable does not spin the thread.
    accept_rest: Option<Instant>,
}

impl Server {
    pub fn new(
        listener: TcpListener,
        wake_rx: UnixStream,
        wake_tx: Arc<UnixStream>,
        requests: Sender<ScrapeRequest>,
        stop: Arc<AtomicBool>,
        limits: HttpLimits,
        objects: Limits,
    ) -> Server {
        Server {
            listener,
            wake_rx,
            wake_tx,
            requests,
            stop,
            limits,
            objects,
            conns: Vec::new(),
            inflight: None,
            counters: ExporterCounters::default(),
            accept_rest: None,
        }
    }

    pub fn run(mut self) {
        while !self.stop.load(Ordering::Relaxed) {
            self.expire(Instant::now());
            let revents = self.poll();
            self.drain_wake();
            self.collect_answer();
            self.serve_ready(&revents);
            self.accept();
            self.dispatch();
            self.flush();
        }
    }

    fn expire(&mut self, now: Instant) {
        let lim = self.limits;
        if self
            .inflight
            .as_ref()
            .is_some_and(|(_, at)| now >= *at + lim.main_timeout)
        {
            // The answer, if it ever comes, goes nowhere; the next scrape asks again.
            self.inflight = None;
        }
        let c = &mut self.counters;
        self.conns.retain_mut(|k| {
            if now < k.deadline {
                return true;
            }
            match k.state {
                State::Waiting(..) => {
                    c.main_timeouts += 1;
                    k.error("503 Service Unavailable", "Retry-After: 1\r\n", &lim);
                    true
                }
                State::Reading | State::Writing { .. } => {
                    c.timed_out += 1;
                    false
                }
            }
        });
    }

    /// Waits for a socket, a wake-up or the next deadline; returns each connection's revents.
    fn poll(&mut self) -> Vec<i16> {
        let now = Instant::now();
        let listen = self.accept_rest.is_none_or(|t| now >= t);
        if listen {
            self.accept_rest = None;
        }
        let mut fds = Vec::with_capacity(2 + self.conns.len());
        fds.push(libc::pollfd {
            fd: self.wake_rx.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        });
        fds.push(libc::pollfd {
            // A negative fd is ignored by poll: the listener while it rests.
            fd: if listen {
                self.listener.as_raw_fd()
            } else {
                -1
            },
            events: libc::POLLIN,
            revents: 0,
        });
        for k in &self.conns {
            let (fd, events) = match k.state {
                State::Reading => (k.s.as_raw_fd(), libc::POLLIN),
                State::Writing { .. } => (k.s.as_raw_fd(), libc::POLLOUT),
                // Left out: a peer that hung up would make poll return at once, every time,
                // until the answer comes.
                State::Waiting(..) => (-1, 0),
            };
            fds.push(libc::pollfd {
                fd,
                events,
                revents: 0,
            });
        }
        let inflight = self
            .inflight
            .as_ref()
            .map(|(_, at)| *at + self.limits.main_timeout);
        let next = self
            .conns
            .iter()
            .map(|k| k.deadline)
            .chain(inflight)
            .chain(self.accept_rest)
            .min();
        let timeout = next.map_or(-1, |t| {
            let d = t.saturating_duration_since(now);
            // Round up, so a deadline is past when poll returns.
            i32::try_from(d.as_millis() + 1).unwrap_or(i32::MAX)
        });
        // SAFETY: `fds` is an initialised array of `fds.len()` pollfd structs that poll may
        // write `revents` into; every fd in it is open (owned by self) for the whole call.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout) };
        if n < 0 {
            // EINTR: the loop checks the stop flag and polls again.
            return vec![0; self.conns.len()];
        }
        fds[2..].iter().map(|f| f.revents).collect()
    }

    fn drain_wake(&mut self) {
        let mut b = [0u8; 64];
        while matches!((&self.wake_rx).read(&mut b), Ok(n) if n > 0) {}
    }

    /// Takes the main thread's answer: one rendering for every scrape waiting on it.
    fn collect_answer(&mut self) {
        let Some((rx, asked)) = &self.inflight else {
            return;
        };
        let asked = *asked;
        let snap = match rx.try_recv() {
            Ok(s) => Some(s),
            Err(TryRecvError::Empty) => return,
            Err(TryRecvError::Disconnected) => None,
        };
        self.inflight = None;
        let lim = self.limits;
        let served = self
            .conns
            .iter()
            .filter(|k| matches!(k.state, State::Waiting(at, _) if at <= asked))
            .count() as u64;
        let body: Option<Arc<[u8]>> = snap.map(|s| {
            self.counters.scrapes += served;
            Arc::from(render(Arc::new(s), self.counters).into_bytes())
        });
        for k in &mut self.conns {
            let State::Waiting(at, get) = k.state else {
                continue;
            };
            if at > asked {
                continue;
            }
            match &body {
                Some(b) => k.respond("200 OK", "", b.clone(), get, &lim),
                None => k.error("503 Service Unavailable", "Retry-After: 1\r\n", &lim),
            }
        }
    }

    fn serve_ready(&mut self, revents: &[i16]) {
        let lim = self.limits;
        let mut closed = vec![false; self.conns.len()];
        for (i, (k, &ev)) in self.conns.iter_mut().zip(revents).enumerate() {
            if ev == 0 || !matches!(k.state, State::Reading) {
                continue;
            }
            let mut b = [0u8; 4096];
            match k.s.read(&mut b) {
                Ok(0) => closed[i] = true,
                Ok(n) => {
                    k.buf.extend_from_slice(&b[..n]);
                    match parse(&k.buf) {
                        Some(Route::Metrics(get)) => {
                            k.state = State::Waiting(Instant::now(), get);
                            k.deadline = Instant::now() + lim.main_timeout;
                        }
                        Some(Route::Error(status, extra)) => k.error(status, extra, &lim),
                        None if k.buf.len() > lim.max_request => {
                            k.error("431 Request Header Fields Too Large", "", &lim);
                        }
                        None => {}
                    }
                    k.buf.truncate(lim.max_request + 1);
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                    ) => {}
                Err(_) => closed[i] = true,
            }
        }
        let mut i = 0;
        self.conns.retain(|_| {
            i += 1;
            !closed[i - 1]
        });
    }

    fn accept(&mut self) {
        if self.accept_rest.is_some() {
            return;
        }
        loop {
            let s = match self.listener.accept() {
                Ok((s, _)) => s,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    // Out of descriptors or memory: rest rather than spin on a readable listener.
                    self.accept_rest = Some(Instant::now() + Duration::from_millis(100));
                    return;
                }
            };
            if s.set_nonblocking(true).is_err() {
                continue;
            }
            let _ = s.set_nodelay(true);
            let now = Instant::now();
            if self.conns.len() >= self.limits.max_connections && !self.make_room(now) {
                self.counters.rejected += 1;
                // Best effort, never blocking: a fresh socket's buffer takes this.
                let _ = (&s).write(
                    b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
                continue;
            }
            self.conns.push(Conn {
                s,
                buf: Vec::new(),
                state: State::Reading,
                opened: now,
                deadline: now + self.limits.request_timeout,
            });
        }
    }

    /// Closes one connection for a new one: the oldest still sending its request, else the
    /// oldest past [`EVICT_GRACE`]. False when every connection is a young scrape.
    fn make_room(&mut self, now: Instant) -> bool {
        let oldest = |f: &dyn Fn(&Conn) -> bool| {
            self.conns
                .iter()
                .enumerate()
                .filter(|(_, k)| f(k))
                .min_by_key(|(_, k)| k.opened)
                .map(|(i, _)| i)
        };
        let victim = oldest(&|k| matches!(k.state, State::Reading))
            .or_else(|| oldest(&|k| now.duration_since(k.opened) >= EVICT_GRACE));
        match victim {
            Some(i) => {
                self.conns.swap_remove(i);
                self.counters.evicted += 1;
                true
            }
            None => false,
        }
    }

    /// Asks the main thread for a snapshot when a scrape waits for one taken after it.
    fn dispatch(&mut self) {
        if self.inflight.is_some() {
            return;
        }
        if !self
            .conns
            .iter()
            .any(|k| matches!(k.state, State::Waiting(..)))
        {
            return;
        }
        let (tx, rx) = crossbeam_channel::bounded(1);
        let req = ScrapeRequest {
            reply: tx,
            wake: self.wake_tx.clone(),
            limits: self.objects,
        };
        match self.requests.try_send(req) {
            Ok(()) => self.inflight = Some((rx, Instant::now())),
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                // The main thread has not even taken the last request: it is busy.
                let lim = self.limits;
                for k in &mut self.conns {
                    if matches!(k.state, State::Waiting(..)) {
                        self.counters.main_timeouts += 1;
                        k.error("503 Service Unavailable", "Retry-After: 1\r\n", &lim);
                    }
                }
            }
        }
    }

    /// Writes what each socket takes; closes those done or failed.
    fn flush(&mut self) {
        self.conns.retain_mut(|k| match k.pump() {
            Ok(true) => {
                let _ = k.s.shutdown(std::net::Shutdown::Write);
                false
            }
            Ok(false) => true,
            Err(_) => false,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::{parse, Route};

    #[test]
    fn request_heads() {
        let ok = Some(Route::Metrics(true));
        assert_eq!(parse(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"), ok);
        assert_eq!(parse(b"GET /metrics HTTP/1.0\n\n"), ok);
        assert_eq!(parse(b"GET /metrics?name[]=x HTTP/1.1\r\n\r\n"), ok);
        assert_eq!(
            parse(b"HEAD /metrics HTTP/1.1\r\n\r\n"),
            Some(Route::Metrics(false))
        );
        assert_eq!(parse(b"GET /metrics HTTP/1.1\r\nHost: x\r\n"), None);
        assert_eq!(parse(b""), None);
        let err = |s| match parse(s) {
            Some(Route::Error(st, _)) => st,
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(s)),
        };
        assert_eq!(err(b"GET / HTTP/1.1\r\n\r\n"), "404 Not Found");
        assert_eq!(err(b"GET /metricsx HTTP/1.1\r\n\r\n"), "404 Not Found");
        assert_eq!(
            err(b"POST /metrics HTTP/1.1\r\n\r\n"),
            "405 Method Not Allowed"
        );
        assert_eq!(err(b"DELETE /x HTTP/1.1\r\n\r\n"), "404 Not Found");
        assert_eq!(
            err(b"GET /metrics HTTP/2.0\r\n\r\n"),
            "505 HTTP Version Not Supported"
        );
        assert_eq!(
            err(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
            "505 HTTP Version Not Supported"
        );
        assert_eq!(err(b"GET /metrics\r\n\r\n"), "400 Bad Request");
        assert_eq!(err(b"GET  /metrics HTTP/1.1\r\n\r\n"), "400 Bad Request");
        assert_eq!(err(b"get /metrics HTTP/1.1\r\n\r\n"), "400 Bad Request");
        assert_eq!(
            err(b"\xff\xfe /metrics HTTP/1.1\r\n\r\n"),
            "400 Bad Request"
        );
        assert_eq!(err(b"\r\n\r\n"), "400 Bad Request");
    }

    /// Arbitrary bytes never panic the parser (a panic would abort pwire), and a head that
    /// ends always gets an answer.
    #[test]
    fn arbitrary_heads_never_panic() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let alphabet = b"GETHAD /metrics?HTTP/1.0\r\n\xff\x00 ";
        for _ in 0..20_000 {
            let n = (next() % 64) as usize;
            let mut b: Vec<u8> = (0..n)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                .collect();
            let _ = parse(&b);
            b.extend_from_slice(b"\r\n\r\n");
            assert!(parse(&b).is_some(), "{:?}", String::from_utf8_lossy(&b));
        }
    }
}
