//! `unix { }`: process, CLI and logging settings (VPP vlib/unix/main.c).

use super::IgnoredKey;
use crate::error::ConfigError;
use crate::tree::{Section, Token};

/// `gid <name|number>`: group that owns the CLI socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GidSpec {
    /// A numeric gid.
    Id(u32),
    /// A group name, resolved by the binary.
    Name(String),
}

/// The `unix` section. Every field defaults to off/unset, as in VPP.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnixConfig {
    /// `nodaemon`: stay in the foreground.
    pub nodaemon: bool,
    /// `interactive`: run the CLI on stdin/stdout.
    pub interactive: bool,
    /// `cli-listen <path|host:port>`.
    pub cli_listen: Option<String>,
    /// `exec <file>` and `startup-config <file>` (synonyms), in file order.
    pub exec: Vec<String>,
    /// `log <file>`.
    pub log: Option<String>,
    /// `gid <name|number>`.
    pub gid: Option<GidSpec>,
    /// `cli-prompt <s>` (one word: startup.conf has no quoting).
    pub cli_prompt: Option<String>,
    /// `pidfile <file>`.
    pub pidfile: Option<String>,
    /// `poll-sleep-usec <n>`.
    pub poll_sleep_usec: Option<u64>,
    /// `runtime-dir <dir>`; `None` lets the binary pick its default.
    pub runtime_dir: Option<String>,
    /// `nosyslog`: log messages at the syslog level go to stderr instead of syslog (as in
    /// VPP; `interactive` does the same).
    pub nosyslog: bool,
    /// VPP keys accepted without effect, in file order.
    pub ignored: Vec<IgnoredKey>,
}

const NO_COLOUR: &str = "pwire output has no colour";
const NO_BANNER: &str = "pwire prints no banner";
const CORE: &str = "core dumps are left to the system settings (ulimit -c, coredump_filter)";
const NO_PAGER: &str = "the pwire CLI has no pager";
const CLIENT_SIDE: &str = "line editing and history belong to the pwctl client";
const CWD: &str = "pwire does not change its working directory";

impl UnixConfig {
    /// Parses the `unix` section.
    pub fn parse(section: &Section) -> Result<Self, ConfigError> {
        let mut c = Self::default();
        let mut cur = section.cursor();
        while let Some(k) = cur.next_word()? {
            let flag = |reason| IgnoredKey::flag(k, reason);
            match k.as_str() {
                "nodaemon" => c.nodaemon = true,
                "interactive" => c.interactive = true,
                "cli-listen" => c.cli_listen = Some(cur.string(k)?),
                "exec" | "startup-config" => c.exec.push(cur.string(k)?),
                "log" => c.log = Some(cur.string(k)?),
                "gid" => c.gid = Some(gid(&mut cur, k)?),
                "cli-prompt" => c.cli_prompt = Some(cur.string(k)?),
                "pidfile" => c.pidfile = Some(cur.string(k)?),
                "poll-sleep-usec" => c.poll_sleep_usec = Some(cur.u64(k)?),
                "runtime-dir" => c.runtime_dir = Some(cur.string(k)?),
                "nosyslog" => c.nosyslog = true,
                "nocolor" => c.ignored.push(flag(NO_COLOUR)),
                "nobanner" | "cli-no-banner" => c.ignored.push(flag(NO_BANNER)),
                "full-coredump" => c.ignored.push(flag(CORE)),
                "cli-no-pager" => c.ignored.push(flag(NO_PAGER)),
                "cli-line-mode" => c.ignored.push(flag(CLIENT_SIDE)),
                "use-current-dir" => c.ignored.push(flag(CWD)),
                "coredump-size" | "cli-pager-buffer-limit" | "cli-history-limit" => {
                    let value = Some(cur.expect_value(k)?.clone());
                    let reason = match k.as_str() {
                        "coredump-size" => CORE,
                        "cli-pager-buffer-limit" => NO_PAGER,
                        _ => CLIENT_SIDE,
                    };
                    c.ignored.push(IgnoredKey {
                        key: k.clone(),
                        value,
                        reason,
                    });
                }
                _ => return Err(cur.unknown(k)),
            }
        }
        Ok(c)
    }
}

fn gid(cur: &mut crate::Cursor<'_>, k: &Token) -> Result<GidSpec, ConfigError> {
    let v = cur.expect_value(k)?;
    if v.text.bytes().all(|b| b.is_ascii_digit()) {
        v.text
            .parse()
            .map(GidSpec::Id)
            .map_err(|_| cur.error(v, format!("gid `{}' is too large", v.text)))
    } else {
        Ok(GidSpec::Name(v.text.clone()))
    }
}
