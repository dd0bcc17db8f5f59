//! The log (VPP's vlib/log.c): a bounded in-memory ring of time-stamped entries with a class
//! and a level, shown by `show logging`, mirrored to the `unix { log <file> }` file and, from
//! the syslog level up, to syslog (or to stderr under `unix { nosyslog }` or `interactive`, as
//! VPP does).
//!
//! A main-thread facility: state changes (interfaces, tunnels), start-up and CLI errors are
//! logged where the main thread makes them. Nothing on the packet path may call it: it takes a
//! mutex and formats strings. Writes to the file and to syslog are buffered and go out at
//! [`Logger::flush`], which the dataplane calls when a command or a main-thread task is done and
//! the workers run again, so a slow disk never stretches a barrier (a full buffer is written
//! at once: the buffers stay bounded).
//!
//! Secrets never reach the log: callers log no key material (tunnel cookies included), and a
//! failing command is logged through [`scrub_secrets`], which removes the words that follow a
//! secret-bearing keyword.

use crate::registry::{cmd, Registry};
use crate::CliCtx;
use pwire_cli::{Args, CliError};
pub use pwire_config::LogLevel;
use pwire_config::{LoggingConfig, StartupConfig, MAX_LOG_MESSAGE, MAX_LOG_SIZE};
use std::collections::VecDeque;
use std::fmt::{self, Write as _};
use std::fs::File;
use std::io::{BufWriter, Write as _};
use std::sync::{Mutex, MutexGuard};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// The classes pwire logs under. Others register on first use ([`Logger::log`]).
pub mod class {
    /// The log itself (`log cleared`).
    pub const LOG: &str = "log";
    /// The process: start, stop, `unix { exec }` scripts.
    pub const UNIX: &str = "unix";
    /// startup.conf.
    pub const CONFIG: &str = "config";
    /// CLI commands that failed.
    pub const CLI: &str = "cli";
    /// Interface create/delete, admin and link state.
    pub const INTERFACE: &str = "interface";
    /// L2TPv3 tunnels.
    pub const L2TP: &str = "l2tp";
    /// Registered when the logger is made, so `set logging class` knows them from the start.
    pub const BUILTIN: &[&str] = &[LOG, UNIX, CONFIG, CLI, INTERFACE, L2TP];
}

/// VPP's default per-class rate limit, messages per second.
pub const DEFAULT_RATE_LIMIT: u32 = 50;
/// Syslog messages kept for the next flush before they are written at once.
const MAX_PENDING_SYSLOG: usize = 64;
/// Bytes of file lines kept for the next flush before they are written at once.
const FILE_BUFFER: usize = 64 * 1024;
/// What replaces a secret.
pub const REDACTED: &str = "<redacted>";

/// Where messages at the syslog level go: `(level, "class: message")`.
pub type SyslogSink = Box<dyn FnMut(LogLevel, &str) + Send>;

/// One kept entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Wall-clock time, seconds since the Unix epoch.
    pub time: f64,
    pub level: LogLevel,
    pub class: String,
    pub message: String,
}

impl Entry {
    /// The `show logging` line (VPP's layout: time, level in 10 columns, class in 14).
    pub fn line(&self) -> String {
        format!(
            "{} {:<10} {:<14} {}",
            format_time(self.time),
            self.level.name(),
            self.class,
            self.message
        )
    }
}

#[derive(Debug)]
struct Class {
    name: String,
    level: LogLevel,
    syslog_level: LogLevel,
    rate_limit: u32,
    /// Set by startup.conf or `set logging class`: a new default no longer applies.
    level_set: bool,
    syslog_level_set: bool,
    /// Rate limiting (VPP's): start of the current window, messages in it, throttling.
    window_start: f64,
    window_count: u32,
    throttling: bool,
}

struct Inner {
    ring: VecDeque<Entry>,
    size: usize,
    classes: Vec<Class>,
    default_level: LogLevel,
    default_syslog_level: LogLevel,
    unthrottle_time: u32,
    /// startup.conf's `class` entries, applied when their class registers.
    class_config: Vec<pwire_config::LogClassConfig>,
    file: Option<(String, BufWriter<File>)>,
    /// A write to the file failed: said once on stderr, then the file is left alone.
    file_failed: bool,
    syslog: Option<(SyslogTarget, SyslogSink)>,
    pending_syslog: Vec<(LogLevel, String)>,
    epoch: Instant,
}

/// What `show logging configuration` says syslog output goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyslogTarget {
    Syslog,
    Stderr,
    /// A sink a test or an embedder installed.
    Custom,
}

/// The log. Reachable as `Vnet::log` (and so from every `CliCtx`); see the module comment.
pub struct Logger {
    inner: Mutex<Inner>,
}

impl fmt::Debug for Logger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let g = self.lock();
        f.debug_struct("Logger")
            .field("entries", &g.ring.len())
            .field("size", &g.size)
            .field("file", &g.file.as_ref().map(|(p, _)| p))
            .finish()
    }
}

impl Default for Logger {
    fn default() -> Self {
        Logger::new(&LoggingConfig::default())
    }
}

impl Logger {
    /// A log kept in memory only (no file, no syslog), with `cfg`'s levels and size.
    pub fn new(cfg: &LoggingConfig) -> Logger {
        let mut inner = Inner {
            ring: VecDeque::new(),
            size: cfg.size.clamp(1, MAX_LOG_SIZE),
            classes: Vec::new(),
            default_level: cfg.default_log_level,
            default_syslog_level: cfg.default_syslog_log_level,
            unthrottle_time: cfg.unthrottle_time,
            class_config: cfg.classes.clone(),
            file: None,
            file_failed: false,
            syslog: None,
            pending_syslog: Vec::new(),
            epoch: Instant::now(),
        };
        for c in class::BUILTIN {
            inner.class_index(c);
        }
        Logger {
            inner: Mutex::new(inner),
        }
    }

    /// The log startup.conf asks for: `logging { }` levels, the `unix { log <file> }` file
    /// (appended to, starting with VPP's `***** Start: PID <pid> *****` line) and syslog
    /// (stderr instead under `unix { nosyslog }` or `interactive`).
    pub fn from_config(cfg: &StartupConfig) -> Result<Logger, String> {
        let l = Logger::new(&cfg.logging);
        if let Some(path) = &cfg.unix.log {
            let f = open_log_file(path).map_err(|e| format!("unix: log {path}: {e}"))?;
            let mut w = BufWriter::with_capacity(FILE_BUFFER, f);
            let _ = writeln!(
                w,
                "{}: ***** Start: PID {} *****",
                format_time(unix_now()),
                std::process::id()
            );
            l.lock().file = Some((path.clone(), w));
        }
        if cfg.unix.nosyslog || cfg.unix.interactive {
            l.set_syslog(SyslogTarget::Stderr, Box::new(stderr_sink));
        } else {
            l.set_syslog(SyslogTarget::Syslog, Box::new(libc_syslog_sink));
        }
        Ok(l)
    }

    /// Sends messages at the syslog level to `sink` from now on (tests install a fake).
    pub fn set_syslog(&self, target: SyslogTarget, sink: SyslogSink) {
        let mut g = self.lock();
        g.flush_syslog();
        g.syslog = Some((target, sink));
    }

    /// Checks that every `logging { class <name> }` of startup.conf names a registered class;
    /// called once every crate has registered. The error names file:line:col.
    pub fn check_config_classes(&self, file: &str) -> Result<(), String> {
        let g = self.lock();
        for c in &g.class_config {
            if !g.classes.iter().any(|k| k.name == c.name.text) {
                let known: Vec<&str> = g.classes.iter().map(|k| k.name.as_str()).collect();
                return Err(pwire_config::ConfigError::at(
                    file,
                    &c.name,
                    format!(
                        "unknown log class `{}' (classes: {})",
                        c.name.text,
                        known.join(", ")
                    ),
                )
                .to_string());
            }
        }
        Ok(())
    }

    /// Registers a class (idempotent); a feature with a class of its own calls this from its
    /// `register()` so that `set logging class` and startup.conf know it before it logs.
    pub fn register_class(&self, name: &str) {
        self.lock().class_index(name);
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic elsewhere while holding the lock leaves a consistent ring: keep logging.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Logs `args` under `class` at `level`. Main thread only, never on the packet path.
    pub fn log(&self, class: &str, level: LogLevel, args: fmt::Arguments<'_>) {
        if level == LogLevel::Disabled {
            return;
        }
        let mut g = self.lock();
        let ci = g.class_index(class);
        let (keep, sys) = {
            let c = &g.classes[ci];
            (level.passes(c.level), level.passes(c.syslog_level))
        };
        if !keep && !sys {
            return;
        }
        let now = g.epoch.elapsed().as_secs_f64();
        let unthrottle = f64::from(g.unthrottle_time);
        let c = &mut g.classes[ci];
        let delta = now - c.window_start;
        let mut throttled_now = false;
        if delta > unthrottle || (!c.throttling && delta > 1.0) || c.window_start == 0.0 {
            c.window_start = now.max(f64::MIN_POSITIVE);
            c.window_count = 0;
            c.throttling = false;
        } else {
            c.window_count = c.window_count.saturating_add(1);
            if c.window_count > c.rate_limit {
                return;
            }
            if c.window_count == c.rate_limit {
                c.throttling = true;
                throttled_now = true;
            }
        }
        let message = if throttled_now {
            "--- message(s) throttled ---".to_string()
        } else {
            one_line(args)
        };
        let class = c.name.clone();
        if sys && g.syslog.is_some() {
            g.pending_syslog
                .push((level, format!("{class}: {message}")));
            if g.pending_syslog.len() >= MAX_PENDING_SYSLOG {
                g.flush_syslog();
            }
        }
        if keep {
            let e = Entry {
                time: unix_now(),
                level,
                class,
                message,
            };
            g.write_file(&e.line());
            if g.ring.len() >= g.size {
                g.ring.pop_front();
            }
            g.ring.push_back(e);
        }
    }

    pub fn error(&self, class: &str, args: fmt::Arguments<'_>) {
        self.log(class, LogLevel::Error, args);
    }
    pub fn warn(&self, class: &str, args: fmt::Arguments<'_>) {
        self.log(class, LogLevel::Warn, args);
    }
    pub fn notice(&self, class: &str, args: fmt::Arguments<'_>) {
        self.log(class, LogLevel::Notice, args);
    }
    pub fn info(&self, class: &str, args: fmt::Arguments<'_>) {
        self.log(class, LogLevel::Info, args);
    }
    pub fn debug(&self, class: &str, args: fmt::Arguments<'_>) {
        self.log(class, LogLevel::Debug, args);
    }

    /// Writes what is buffered for the file and for syslog. Call it outside any barrier.
    pub fn flush(&self) {
        let mut g = self.lock();
        g.flush_syslog();
        let failed = match g.file.as_mut() {
            Some((p, w)) => w.flush().err().map(|e| format!("unix: log {p}: {e}")),
            None => None,
        };
        if let Some(e) = failed {
            g.file_failed(&e);
        }
    }

    /// The kept entries, oldest first.
    pub fn entries(&self) -> Vec<Entry> {
        self.lock().ring.iter().cloned().collect()
    }

    /// `show logging`: one line per kept entry, oldest first.
    pub fn show(&self) -> String {
        let g = self.lock();
        let mut out = String::new();
        for e in &g.ring {
            out.push_str(&e.line());
            out.push('\n');
        }
        out
    }

    /// `clear logging`.
    pub fn clear(&self) {
        self.lock().ring.clear();
        self.info(class::LOG, format_args!("log cleared"));
    }

    /// `set logging size <n>`: the oldest entries go when it shrinks.
    pub fn set_size(&self, n: usize) {
        let mut g = self.lock();
        g.size = n.clamp(1, MAX_LOG_SIZE);
        while g.ring.len() > g.size {
            g.ring.pop_front();
        }
    }

    /// `set logging class <class> ...`; `Err` when no such class is registered.
    pub fn set_class(
        &self,
        name: &str,
        level: Option<LogLevel>,
        syslog_level: Option<LogLevel>,
        rate_limit: Option<u32>,
    ) -> Result<(), String> {
        let mut g = self.lock();
        let c = g
            .classes
            .iter_mut()
            .find(|c| c.name == name)
            .ok_or_else(|| format!("unknown log class `{name}'"))?;
        if let Some(l) = level {
            c.level = l;
            c.level_set = true;
        }
        if let Some(l) = syslog_level {
            c.syslog_level = l;
            c.syslog_level_set = true;
        }
        if let Some(r) = rate_limit {
            c.rate_limit = r;
        }
        Ok(())
    }

    /// `set logging default-log-level` / `default-syslog-log-level`: the new default applies
    /// to every class not configured on its own.
    pub fn set_defaults(&self, level: Option<LogLevel>, syslog_level: Option<LogLevel>) {
        let mut g = self.lock();
        if let Some(l) = level {
            g.default_level = l;
        }
        if let Some(l) = syslog_level {
            g.default_syslog_level = l;
        }
        let (dl, ds) = (g.default_level, g.default_syslog_level);
        for c in &mut g.classes {
            if !c.level_set {
                c.level = dl;
            }
            if !c.syslog_level_set {
                c.syslog_level = ds;
            }
        }
    }

    /// `set logging unthrottle-time <s>`.
    pub fn set_unthrottle_time(&self, s: u32) {
        self.lock().unthrottle_time = s;
    }

    /// `show logging configuration`.
    pub fn show_config(&self) -> String {
        let g = self.lock();
        let mut o = String::new();
        let _ = writeln!(o, "{:<20} {} entries", "Buffer Size:", g.size);
        let _ = writeln!(
            o,
            "{:<20} {}",
            "Log File:",
            g.file.as_ref().map_or("none", |(p, _)| p.as_str())
        );
        let target = match g.syslog.as_ref().map(|(t, _)| *t) {
            None => "off",
            Some(SyslogTarget::Syslog) => "syslog (daemon)",
            Some(SyslogTarget::Stderr) => "stderr (nosyslog)",
            Some(SyslogTarget::Custom) => "custom",
        };
        let _ = writeln!(o, "{:<20} {}", "Syslog Output:", target);
        let _ = writeln!(o, "Defaults:");
        let _ = writeln!(o, "{:<20} {}", "  Log Level:", g.default_level);
        let _ = writeln!(
            o,
            "{:<20} {}",
            "  Syslog Log Level:", g.default_syslog_level
        );
        let _ = writeln!(o, "{:<20} {} msgs/sec", "  Rate Limit:", DEFAULT_RATE_LIMIT);
        let _ = writeln!(o, "{:<20} {} s", "  Unthrottle Time:", g.unthrottle_time);
        let _ = writeln!(o);
        let _ = writeln!(
            o,
            "{:<22} {:<14} {:<14} Rate Limit",
            "Class/Subclass", "Level", "Syslog Level"
        );
        for c in &g.classes {
            let _ = writeln!(o, "{}", c.name);
            let _ = writeln!(
                o,
                "  {:<20} {:<14} {:<14} {}",
                "default", c.level, c.syslog_level, c.rate_limit
            );
        }
        o
    }
}

impl Inner {
    fn class_index(&mut self, name: &str) -> usize {
        if let Some(i) = self.classes.iter().position(|c| c.name == name) {
            return i;
        }
        let cfg = self.class_config.iter().find(|c| c.name.text == name);
        let level = cfg.and_then(|c| c.level);
        let syslog_level = cfg.and_then(|c| c.syslog_level);
        self.classes.push(Class {
            name: name.to_string(),
            level: level.unwrap_or(self.default_level),
            syslog_level: syslog_level.unwrap_or(self.default_syslog_level),
            rate_limit: cfg.and_then(|c| c.rate_limit).unwrap_or(DEFAULT_RATE_LIMIT),
            level_set: level.is_some(),
            syslog_level_set: syslog_level.is_some(),
            window_start: 0.0,
            window_count: 0,
            throttling: false,
        });
        self.classes.len() - 1
    }

    fn write_file(&mut self, line: &str) {
        let failed = match self.file.as_mut() {
            Some((p, w)) if !self.file_failed => writeln!(w, "{line}")
                .err()
                .map(|e| format!("unix: log {p}: {e}")),
            _ => None,
        };
        if let Some(e) = failed {
            self.file_failed(&e);
        }
    }

    fn file_failed(&mut self, e: &str) {
        if !self.file_failed {
            self.file_failed = true;
            eprintln!("pwire: {e} (no more entries are written to it)");
        }
    }

    fn flush_syslog(&mut self) {
        if self.pending_syslog.is_empty() {
            return;
        }
        let pending = std::mem::take(&mut self.pending_syslog);
        if let Some((_, sink)) = self.syslog.as_mut() {
            for (l, m) in &pending {
                sink(*l, m);
            }
        }
    }
}

impl Drop for Logger {
    fn drop(&mut self) {
        self.flush();
    }
}

/// Opens (creating, 0640) the log file for appending. Any file will do (`/dev/stderr` too), but
/// the open is non-blocking so that a FIFO nobody reads is an error (ENXIO) rather than a
/// start-up that hangs; writes then block as usual.
fn open_log_file(path: &str) -> std::io::Result<File> {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::OpenOptionsExt;
    let f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o640)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    let fd = f.as_raw_fd();
    // SAFETY: F_GETFL/F_SETFL on a descriptor `f` owns and keeps open for the call.
    let r = unsafe {
        let fl = libc::fcntl(fd, libc::F_GETFL);
        if fl < 0 {
            fl
        } else {
            libc::fcntl(fd, libc::F_SETFL, fl & !libc::O_NONBLOCK)
        }
    };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(f)
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The message as one line of at most [`MAX_LOG_MESSAGE`] bytes: control characters become
/// spaces, so an entry can neither forge another line in the file nor reach a terminal raw.
fn one_line(args: fmt::Arguments<'_>) -> String {
    let mut s = String::new();
    let _ = s.write_fmt(args);
    if s.len() > MAX_LOG_MESSAGE {
        let mut cut = MAX_LOG_MESSAGE;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
    if s.chars().any(char::is_control) {
        s = s
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
    }
    s
}

/// VPP's log time stamp, local time: `2024/05/01 10:11:12:345`.
pub fn format_time(t: f64) -> String {
    let secs = t.floor();
    let mut ms = ((t - secs) * 1000.0).round() as i64;
    let mut secs = secs as libc::time_t;
    if ms >= 1000 {
        ms -= 1000;
        secs += 1;
    }
    // SAFETY: `tm` is plain data that localtime_r fills; both pointers are valid for the call.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: see above; localtime_r is the reentrant form and keeps no pointer.
    let ok = unsafe { !libc::localtime_r(&secs, &mut tm).is_null() };
    if !ok {
        return format!("@{t:.3}");
    }
    format!(
        "{:04}/{:02}/{:02} {:02}:{:02}:{:02}:{:03}",
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        ms
    )
}

fn syslog_priority(l: LogLevel) -> libc::c_int {
    match l {
        LogLevel::Emerg => libc::LOG_EMERG,
        LogLevel::Alert => libc::LOG_ALERT,
        LogLevel::Crit => libc::LOG_CRIT,
        LogLevel::Error => libc::LOG_ERR,
        LogLevel::Warn => libc::LOG_WARNING,
        LogLevel::Notice => libc::LOG_NOTICE,
        LogLevel::Info => libc::LOG_INFO,
        LogLevel::Debug | LogLevel::Disabled => libc::LOG_DEBUG,
    }
}

/// The libc syslog sink: `openlog("pwire", LOG_PID, LOG_DAEMON)` on first use. No syslog
/// daemon (a container) means the message is dropped by libc; LOG_CONS is not set, so nothing
/// is written to the console instead.
pub fn libc_syslog_sink(level: LogLevel, msg: &str) {
    static OPEN: std::sync::Once = std::sync::Once::new();
    OPEN.call_once(|| {
        // SAFETY: the ident is a 'static C string, as openlog keeps the pointer.
        unsafe { libc::openlog(c"pwire".as_ptr(), libc::LOG_PID, libc::LOG_DAEMON) };
    });
    let Ok(m) = std::ffi::CString::new(msg.replace('\0', " ")) else {
        return;
    };
    // SAFETY: a constant "%s" format with one valid C string argument: the message is never
    // read as a format.
    unsafe { libc::syslog(syslog_priority(level), c"%s".as_ptr(), m.as_ptr()) };
}

/// `unix { nosyslog }`: VPP's stderr form, `class [level ]: message`.
pub fn stderr_sink(level: LogLevel, msg: &str) {
    let (class, m) = msg.split_once(": ").unwrap_or(("", msg));
    eprintln!("{class} [{:<6}]: {m}", level.name());
}

/// Keywords whose next word is a secret (or key material pwire keeps out of logs anyway, such
/// as tunnel cookies). `local`/`remote` are `set l2tpv3 tunnel cookie`'s.
const SECRET_KEYWORDS: &[&str] = &[
    "local-cookie",
    "remote-cookie",
    "local",
    "remote",
    "secret",
    "shared-secret",
    "password",
    "key",
    "auth",
];

/// `text` (an error message, a command) with every word of `source` that follows a
/// [`SECRET_KEYWORDS`] keyword replaced by [`REDACTED`], wherever it stands in `text` as a whole
/// word. `source` is what the operator typed (a command line, a script): a handler's error may
/// quote any of its words.
pub fn scrub_secrets(text: &str, source: &str) -> String {
    let mut secrets: Vec<&str> = Vec::new();
    for line in source.lines() {
        let mut words = line.split_whitespace();
        while let Some(w) = words.next() {
            if SECRET_KEYWORDS.contains(&w) {
                if let Some(v) = words.next() {
                    secrets.push(v);
                }
            }
        }
    }
    let mut out = text.to_string();
    // Longest first, so a secret that contains another is replaced whole.
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    for s in secrets {
        out = replace_word(&out, s);
    }
    out
}

/// Replaces whole-word occurrences of `w` (not inside a longer run of word characters).
fn replace_word(text: &str, w: &str) -> String {
    let is_word = |c: char| c.is_alphanumeric() || matches!(c, '-' | '_' | ':' | '.');
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(p) = rest.find(w) {
        let before = rest[..p].chars().next_back();
        let after = rest[p + w.len()..].chars().next();
        let (head, tail) = rest.split_at(p);
        out.push_str(head);
        if before.is_some_and(is_word) || after.is_some_and(is_word) {
            out.push_str(w);
        } else {
            out.push_str(REDACTED);
        }
        rest = &tail[w.len()..];
    }
    out.push_str(rest);
    out
}

/// The `logging` commands (vlib/log.c's), plus `set logging default-log-level` and
/// `default-syslog-log-level`, startup.conf's keys as commands.
pub(crate) fn register(r: &mut Registry) {
    r.command(cmd("show logging", "show logging", true, |a, cx| {
        a.expect_end()?;
        let s = cx.vnet.log.show();
        if !s.is_empty() {
            a.output(&s);
        }
        Ok(())
    }));
    r.command(cmd(
        "show logging configuration",
        "show logging configuration",
        true,
        |a, cx| {
            a.expect_end()?;
            a.output(&cx.vnet.log.show_config());
            Ok(())
        },
    ));
    r.command(cmd("clear logging", "clear logging", true, |a, cx| {
        a.expect_end()?;
        cx.vnet.log.clear();
        Ok(())
    }));
    r.command(cmd(
        "set logging class",
        "set logging class <class> [rate-limit <int>] [level <level>] [syslog-level <level>]",
        true,
        set_class,
    ));
    r.command(cmd(
        "set logging size",
        "set logging size <int>",
        true,
        |a, cx| {
            let n = a.u32("size")? as usize;
            a.expect_end()?;
            if !(1..=MAX_LOG_SIZE).contains(&n) {
                return Err(CliError::msg(format!(
                    "size must be between 1 and {MAX_LOG_SIZE}: `{n}'"
                )));
            }
            cx.vnet.log.set_size(n);
            Ok(())
        },
    ));
    r.command(cmd(
        "set logging unthrottle-time",
        "set logging unthrottle-time <int>",
        true,
        |a, cx| {
            let n = a.u32("unthrottle-time")?;
            a.expect_end()?;
            cx.vnet.log.set_unthrottle_time(n);
            Ok(())
        },
    ));
    r.command(cmd(
        "set logging default-log-level",
        "set logging default-log-level <level>",
        true,
        |a, cx| {
            let l = level(a)?;
            a.expect_end()?;
            cx.vnet.log.set_defaults(Some(l), None);
            Ok(())
        },
    ));
    r.command(cmd(
        "set logging default-syslog-log-level",
        "set logging default-syslog-log-level <level>",
        true,
        |a, cx| {
            let l = level(a)?;
            a.expect_end()?;
            cx.vnet.log.set_defaults(None, Some(l));
            Ok(())
        },
    ));
}

fn level(a: &mut Args<'_>) -> Result<LogLevel, CliError> {
    let w = a.word("level")?;
    LogLevel::from_word(w).ok_or_else(|| {
        CliError::msg(format!(
            "unknown log level `{w}' (emerg, alert, crit, error, warn, notice, info, debug or disabled)"
        ))
    })
}

fn set_class(a: &mut Args<'_>, cx: &mut CliCtx) -> Result<(), CliError> {
    let name = a.word("class")?;
    let (mut lvl, mut sys, mut rate) = (None, None, None);
    while !a.is_empty() {
        if a.keyword("level") {
            lvl = Some(level(a)?);
        } else if a.keyword("syslog-level") {
            sys = Some(level(a)?);
        } else if a.keyword("rate-limit") {
            rate = Some(a.u32("rate-limit")?);
        } else if a.keyword("kmsg-level") {
            return Err(CliError::msg("kmsg-level: pwire does not log to /dev/kmsg"));
        } else {
            return Err(CliError::unknown_input(a.rest()));
        }
    }
    cx.vnet
        .log
        .set_class(name, lvl, sys, rate)
        .map_err(CliError::msg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::OpenOptionsExt;
    use std::sync::Arc;

    fn capture(l: &Logger) -> Arc<Mutex<Vec<(LogLevel, String)>>> {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        l.set_syslog(
            SyslogTarget::Custom,
            Box::new(move |lv, m| s.lock().unwrap().push((lv, m.to_string()))),
        );
        seen
    }

    #[test]
    fn levels_filter_the_ring_and_syslog_separately() {
        let l = Logger::default();
        let seen = capture(&l);
        l.info(class::INTERFACE, format_args!("not kept: below notice"));
        l.notice(class::INTERFACE, format_args!("kept"));
        l.warn(class::L2TP, format_args!("kept and sent"));
        let e = l.entries();
        assert_eq!(
            e.iter().map(|e| e.message.as_str()).collect::<Vec<_>>(),
            ["kept", "kept and sent"]
        );
        assert!(seen.lock().unwrap().is_empty(), "syslog waits for flush");
        l.flush();
        assert_eq!(
            *seen.lock().unwrap(),
            [(LogLevel::Warn, "l2tp: kept and sent".to_string())]
        );
        l.set_class(
            class::INTERFACE,
            Some(LogLevel::Debug),
            Some(LogLevel::Disabled),
            None,
        )
        .unwrap();
        l.debug(class::INTERFACE, format_args!("now kept"));
        l.error(class::INTERFACE, format_args!("not sent"));
        l.flush();
        assert_eq!(seen.lock().unwrap().len(), 1);
        assert_eq!(l.entries().len(), 4);
        assert!(l.set_class("nope", None, None, None).is_err());
    }

    #[test]
    fn defaults_apply_to_classes_not_set_on_their_own() {
        let l = Logger::default();
        l.set_class(class::L2TP, Some(LogLevel::Error), None, None)
            .unwrap();
        l.set_defaults(Some(LogLevel::Debug), None);
        l.debug(class::INTERFACE, format_args!("a"));
        l.warn(class::L2TP, format_args!("b"));
        l.error(class::L2TP, format_args!("c"));
        let m: Vec<_> = l.entries().into_iter().map(|e| e.message).collect();
        assert_eq!(m, ["a", "c"]);
    }

    #[test]
    fn ring_keeps_the_newest_size_entries() {
        let l = Logger::default();
        l.set_class(class::INTERFACE, None, None, Some(1000))
            .unwrap();
        l.set_size(3);
        for i in 0..10 {
            l.notice(class::INTERFACE, format_args!("m{i}"));
        }
        let m: Vec<_> = l.entries().into_iter().map(|e| e.message).collect();
        assert_eq!(m, ["m7", "m8", "m9"]);
        l.set_size(2);
        assert_eq!(l.entries().len(), 2);
        assert_eq!(l.entries()[0].message, "m8");
    }

    #[test]
    fn rate_limit_throttles_a_flood() {
        let l = Logger::default();
        l.set_class(class::L2TP, None, None, Some(5)).unwrap();
        for i in 0..100 {
            l.notice(class::L2TP, format_args!("m{i}"));
        }
        let m: Vec<_> = l.entries().into_iter().map(|e| e.message).collect();
        assert_eq!(m.len(), 6, "{m:?}");
        assert_eq!(m[5], "--- message(s) throttled ---");
        // Another class is not affected.
        l.notice(class::INTERFACE, format_args!("x"));
        assert_eq!(l.entries().len(), 7);
    }

    #[test]
    fn messages_are_one_bounded_line() {
        let l = Logger::default();
        l.notice(class::CLI, format_args!("a\nforged line\r\x1b[31m"));
        l.notice(class::CLI, format_args!("{}", "é".repeat(1000)));
        let e = l.entries();
        assert_eq!(e[0].message, "a forged line  [31m");
        assert!(e[1].message.len() <= MAX_LOG_MESSAGE && e[1].message.len() > 500);
        assert!(!e[0].line().contains('\n'));
    }

    #[test]
    fn show_line_layout() {
        let e = Entry {
            time: 0.25,
            level: LogLevel::Notice,
            class: "interface".into(),
            message: "pg0 admin up".into(),
        };
        let line = e.line();
        // time (23 chars), level in 10, class in 14.
        assert_eq!(&line[23..], " notice     interface      pg0 admin up");
        assert!(line[..23].ends_with(":250"), "{line}");
        assert_eq!(line.as_bytes()[4], b'/');
    }

    #[test]
    fn secrets_are_scrubbed_as_whole_words() {
        let line =
            "create l2tpv3 tunnel client fd00::2 our fd00::1 local-cookie 1122zz remote-cookie 99";
        let err =
            "create l2tpv3 tunnel: local-cookie `1122zz' is not a 8-byte hex cookie (99, 991)";
        assert_eq!(
            scrub_secrets(err, line),
            "create l2tpv3 tunnel: local-cookie `<redacted>' is not a 8-byte hex cookie (<redacted>, 991)"
        );
        let s = scrub_secrets(
            "set l2tpv3 tunnel cookie: unknown input `local abc remote def'",
            "set l2tpv3 tunnel cookie l2tpv3_tunnel0 local abc remote def",
        );
        assert!(!s.contains("abc") && !s.contains("def"), "{s}");
        assert_eq!(
            scrub_secrets("no secrets here", "show int"),
            "no secrets here"
        );
    }

    #[test]
    fn config_class_settings_and_unknown_names() {
        let cfg = pwire_config::parse_str(
            "t.conf",
            "logging { default-log-level error class l2tp { level info rate-limit 2 } }\n\
             logging { class tunnle { level debug } }",
        )
        .unwrap();
        let l = Logger::new(&cfg.logging);
        l.info(class::L2TP, format_args!("kept"));
        l.warn(class::INTERFACE, format_args!("not kept"));
        assert_eq!(l.entries().len(), 1);
        let e = l.check_config_classes("t.conf").unwrap_err();
        assert!(
            e.starts_with("t.conf:2:17: unknown log class `tunnle' (classes: log, unix"),
            "{e}"
        );
        l.register_class("tunnle");
        l.check_config_classes("t.conf").unwrap();
    }

    #[test]
    fn file_gets_start_line_and_kept_entries_at_flush() {
        let dir = std::env::temp_dir().join(format!("pwire-log-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("pwire.log");
        let _ = std::fs::remove_file(&path);
        let cfg = pwire_config::parse_str(
            "t.conf",
            &format!("unix {{ log {} nosyslog }}", path.display()),
        )
        .unwrap();
        let l = Logger::from_config(&cfg).unwrap();
        l.notice(class::INTERFACE, format_args!("pg0 admin up"));
        l.info(class::INTERFACE, format_args!("not kept"));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "", "buffered");
        l.flush();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<_> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(lines[0].ends_with(&format!(": ***** Start: PID {} *****", std::process::id())));
        assert!(lines[1].ends_with(" notice     interface      pg0 admin up"));
        assert!(l.show_config().contains("stderr (nosyslog)"));
        drop(l);
        // A second start appends.
        let l = Logger::from_config(&cfg).unwrap();
        drop(l);
        let n = std::fs::read_to_string(&path).unwrap().lines().count();
        assert_eq!(n, 3);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn log_file_may_be_a_fifo_with_a_reader_but_not_without() {
        let dir = std::env::temp_dir().join(format!("pwire-log-fifo-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let fifo = dir.join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid C path; mkfifo keeps no pointer.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let e = open_log_file(fifo.to_str().unwrap()).unwrap_err();
        assert_eq!(
            e.raw_os_error(),
            Some(libc::ENXIO),
            "no reader: an error, no hang"
        );
        let reader = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&fifo)
            .unwrap();
        let mut w = open_log_file(fifo.to_str().unwrap()).unwrap();
        writeln!(w, "x").unwrap();
        let mut got = String::new();
        std::io::Read::read_to_string(&mut &reader, &mut got).ok();
        assert_eq!(got, "x\n");
        drop((w, reader));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
