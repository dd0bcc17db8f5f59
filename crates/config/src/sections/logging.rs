//! `logging { }`: the in-memory log and syslog levels (VPP vlib/log.c, `log_config`).
//!
//! ```text
//! logging {
//!   size 512                          # entries kept for `show logging`
//!   unthrottle-time 3                 # seconds a throttled class stays quiet
//!   default-log-level notice          # kept in the log (and the `unix { log }` file)
//!   default-syslog-log-level warn     # also sent to syslog
//!   class l2tp { level debug syslog-level error rate-limit 100 }
//! }
//! ```
//!
//! Class names are checked by the binary once every class is registered; this module only
//! reads the words.

use super::IgnoredKey;
use crate::error::ConfigError;
use crate::tree::{Section, Token};
use crate::Cursor;

/// A log level, most severe first (VPP's `vlib_log_level_t` order): an entry is kept when its
/// level is at or above (`<=` here) the configured one, and never when that is `Disabled`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    Emerg,
    Alert,
    Crit,
    Error,
    Warn,
    Notice,
    Info,
    Debug,
    Disabled,
}

impl LogLevel {
    /// Every level, most severe first.
    pub const ALL: [LogLevel; 9] = [
        LogLevel::Emerg,
        LogLevel::Alert,
        LogLevel::Crit,
        LogLevel::Error,
        LogLevel::Warn,
        LogLevel::Notice,
        LogLevel::Info,
        LogLevel::Debug,
        LogLevel::Disabled,
    ];

    /// VPP's name for the level, as `show logging` prints it.
    pub fn name(self) -> &'static str {
        match self {
            LogLevel::Emerg => "emerg",
            LogLevel::Alert => "alert",
            LogLevel::Crit => "crit",
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Notice => "notice",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
            LogLevel::Disabled => "disabled",
        }
    }

    /// The level a word names: VPP's names, plus `err` and `warning` (the spellings of syslog
    /// and of VPP's own documentation, which VPP's parser rejects).
    pub fn from_word(w: &str) -> Option<LogLevel> {
        match w {
            "err" => return Some(LogLevel::Error),
            "warning" => return Some(LogLevel::Warn),
            _ => {}
        }
        LogLevel::ALL.into_iter().find(|l| l.name() == w)
    }

    /// True when a message of level `self` passes a threshold of `configured`.
    pub fn passes(self, configured: LogLevel) -> bool {
        configured != LogLevel::Disabled && self != LogLevel::Disabled && self <= configured
    }
}

impl std::fmt::Display for LogLevel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.name())
    }
}

/// The largest `size` accepted: entries are at most [`MAX_LOG_MESSAGE`] bytes, so the ring
/// stays within a few tens of MiB whatever the configuration says.
pub const MAX_LOG_SIZE: usize = 65_536;
/// Longest message kept, in bytes (longer ones are cut at a character boundary).
pub const MAX_LOG_MESSAGE: usize = 512;

/// `class <name> { ... }`: one class's settings; `None` keeps the default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogClassConfig {
    /// The class name as written (its position is kept for the binary's error).
    pub name: Token,
    pub level: Option<LogLevel>,
    pub syslog_level: Option<LogLevel>,
    pub rate_limit: Option<u32>,
}

/// The `logging` section, with VPP's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggingConfig {
    /// `size <n>`: entries kept (default 512).
    pub size: usize,
    /// `unthrottle-time <s>` (default 3).
    pub unthrottle_time: u32,
    /// `default-log-level <level>` (default notice).
    pub default_log_level: LogLevel,
    /// `default-syslog-log-level <level>` (default warn).
    pub default_syslog_log_level: LogLevel,
    /// `class <name> { ... }`, in file order; names are unique.
    pub classes: Vec<LogClassConfig>,
    /// VPP keys accepted without effect.
    pub ignored: Vec<IgnoredKey>,
}

impl Default for LoggingConfig {
    fn default() -> Self {
        LoggingConfig {
            size: 512,
            unthrottle_time: 3,
            default_log_level: LogLevel::Notice,
            default_syslog_log_level: LogLevel::Warn,
            classes: Vec::new(),
            ignored: Vec::new(),
        }
    }
}

const NO_KMSG: &str = "pwire does not log to /dev/kmsg";
const NO_ELOG: &str = "pwire has no event log";

fn level(cur: &mut Cursor<'_>, key: &Token) -> Result<LogLevel, ConfigError> {
    let v = cur.expect_value(key)?;
    LogLevel::from_word(&v.text).ok_or_else(|| {
        cur.error(
            v,
            format!(
                "unknown log level `{}' (emerg, alert, crit, error, warn, notice, info, debug or disabled)",
                v.text
            ),
        )
    })
}

impl LoggingConfig {
    /// Parses the `logging` section.
    pub fn parse(section: &Section) -> Result<Self, ConfigError> {
        let mut c = Self::default();
        let mut cur = section.cursor();
        while let Some(k) = cur.next_word()? {
            match k.as_str() {
                "size" => {
                    let max = u32::try_from(MAX_LOG_SIZE).unwrap_or(u32::MAX);
                    c.size = cur.u32_in(k, 1, max)? as usize;
                }
                "unthrottle-time" => c.unthrottle_time = cur.u32(k)?,
                "default-log-level" => c.default_log_level = level(&mut cur, k)?,
                "default-syslog-log-level" => c.default_syslog_log_level = level(&mut cur, k)?,
                "default-kmsg-log-level" => {
                    let v = cur.expect_value(k)?.clone();
                    c.ignored.push(IgnoredKey {
                        key: k.clone(),
                        value: Some(v),
                        reason: NO_KMSG,
                    });
                }
                "add-to-elog" => c.ignored.push(IgnoredKey {
                    key: k.clone(),
                    value: None,
                    reason: NO_ELOG,
                }),
                "class" => {
                    let name = cur.expect_value(k)?;
                    let mut body = cur.expect_block(name)?;
                    if c.classes.iter().any(|x| x.name.text == name.text) {
                        return Err(cur.error(
                            name,
                            format!("logging class `{}' already configured", name.text),
                        ));
                    }
                    let mut cc = LogClassConfig {
                        name: name.clone(),
                        level: None,
                        syslog_level: None,
                        rate_limit: None,
                    };
                    while let Some(w) = body.next_word()? {
                        match w.as_str() {
                            "level" => cc.level = Some(level(&mut body, w)?),
                            "syslog-level" => cc.syslog_level = Some(level(&mut body, w)?),
                            "rate-limit" => cc.rate_limit = Some(body.u32(w)?),
                            "kmsg-level" => {
                                let v = body.expect_value(w)?.clone();
                                c.ignored.push(IgnoredKey {
                                    key: w.clone(),
                                    value: Some(v),
                                    reason: NO_KMSG,
                                });
                            }
                            _ => return Err(body.unknown(w)),
                        }
                    }
                    c.classes.push(cc);
                }
                _ => return Err(cur.unknown(k)),
            }
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_order_and_names() {
        assert!(LogLevel::Error.passes(LogLevel::Warn));
        assert!(LogLevel::Warn.passes(LogLevel::Warn));
        assert!(!LogLevel::Notice.passes(LogLevel::Warn));
        assert!(!LogLevel::Emerg.passes(LogLevel::Disabled));
        for l in LogLevel::ALL {
            assert_eq!(LogLevel::from_word(l.name()), Some(l));
        }
        assert_eq!(LogLevel::from_word("warning"), Some(LogLevel::Warn));
        assert_eq!(LogLevel::from_word("err"), Some(LogLevel::Error));
        assert_eq!(LogLevel::from_word("loud"), None);
    }
}
